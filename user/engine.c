// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <json-c/json.h>

#include "engine.h"
#include "parse.h"

bool mcg_container_id_valid(const char *text)
{
	if (strlen(text) != MCG_CONTAINER_ID_LEN)
		return false;
	for (const char *c = text; *c; c++)
		if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
			return false;
	return true;
}

static json_object *get_path(json_object *obj, const char *first, const char *second)
{
	json_object *value;

	if (!obj || !json_object_object_get_ex(obj, first, &value))
		return NULL;
	if (second && !json_object_object_get_ex(value, second, &value))
		return NULL;
	return value;
}

/* Add the bindings of one "PORT/PROTO": [{"HostIp": ..., "HostPort": ...}] entry. */
static void add_bindings(struct mcg_container *c, const char *key, json_object *bindings)
{
	unsigned long container_port, host_port;
	char number[8];
	const char *slash = strchr(key, '/');
	__u8 protocol = IPPROTO_TCP;

	if (!json_object_is_type(bindings, json_type_array))
		return; /* null means exposed in the image but not published */
	snprintf(number, sizeof(number), "%.*s", slash ? (int)(slash - key) : 7, key);
	if (mcg_parse_ulong(number, 1, 65535, &container_port))
		return;
	if (slash && !strcmp(slash + 1, "udp"))
		protocol = IPPROTO_UDP;
	else if (slash && !strcmp(slash + 1, "sctp"))
		protocol = IPPROTO_SCTP;

	for (size_t i = 0; i < json_object_array_length(bindings); i++) {
		json_object *binding = json_object_array_get_idx(bindings, i);
		json_object *ip = get_path(binding, "HostIp", NULL);
		json_object *port = get_path(binding, "HostPort", NULL);
		struct mcg_published_port *entry;

		if (c->port_count >= MCG_MAX_PUBLISHED)
			return;
		/* An empty HostPort lets the engine pick one; 0 stands for "unknown" here. */
		if (!port || mcg_parse_ulong(json_object_get_string(port), 0, 65535, &host_port))
			host_port = 0;
		entry = &c->ports[c->port_count++];
		entry->container_port = container_port;
		entry->host_port = host_port;
		entry->protocol = protocol;
		snprintf(entry->host_ip, sizeof(entry->host_ip), "%s", ip ? json_object_get_string(ip) : "");
	}
}

static void add_port_map(struct mcg_container *c, json_object *map)
{
	if (!map || !json_object_is_type(map, json_type_object))
		return;
	json_object_object_foreach(map, key, bindings)
		add_bindings(c, key, bindings);
}

int mcg_container_parse_inspect(const char *json, struct mcg_container *c, char *error,
				size_t size)
{
	json_object *root = json_tokener_parse(json), *obj, *value;
	const char *name;

	if (!root || !json_object_is_type(root, json_type_array) ||
	    json_object_array_length(root) != 1 ||
	    !json_object_is_type(json_object_array_get_idx(root, 0), json_type_object)) {
		snprintf(error, size, "inspect output is not a JSON array with one container");
		json_object_put(root);
		return -EINVAL;
	}
	obj = json_object_array_get_idx(root, 0);
	value = get_path(obj, "Id", NULL);
	if (!value || !mcg_container_id_valid(json_object_get_string(value))) {
		snprintf(error, size, "inspect output has no valid \"Id\" (64 hexadecimal digits)");
		json_object_put(root);
		return -EINVAL;
	}
	snprintf(c->id, sizeof(c->id), "%s", json_object_get_string(value));

	/* Docker prints "/name", Podman "name". */
	value = get_path(obj, "Name", NULL);
	name = value ? json_object_get_string(value) : "";
	snprintf(c->name, sizeof(c->name), "%s", name[0] == '/' ? name + 1 : name);
	value = get_path(obj, "State", "Pid");
	c->pid = value ? json_object_get_int(value) : 0;
	value = get_path(obj, "HostConfig", "NetworkMode");
	c->host_network = value && !strcmp(json_object_get_string(value), "host");

	c->port_count = 0;
	add_port_map(c, get_path(obj, "NetworkSettings", "Ports"));
	if (!c->port_count)
		add_port_map(c, get_path(obj, "HostConfig", "PortBindings"));
	json_object_put(root);
	return 0;
}

/* Does name equal prefix + a full ID + suffix? Copies the ID when it does. */
static bool match_pattern(const char *name, const char *prefix, const char *suffix, char *id)
{
	size_t prefix_len = strlen(prefix), suffix_len = strlen(suffix);
	char candidate[MCG_CONTAINER_ID_LEN + 1];

	if (strlen(name) != prefix_len + MCG_CONTAINER_ID_LEN + suffix_len ||
	    strncmp(name, prefix, prefix_len) || strcmp(name + prefix_len + MCG_CONTAINER_ID_LEN, suffix))
		return false;
	snprintf(candidate, sizeof(candidate), "%.*s", MCG_CONTAINER_ID_LEN, name + prefix_len);
	if (!mcg_container_id_valid(candidate))
		return false;
	memcpy(id, candidate, sizeof(candidate));
	return true;
}

const char *mcg_container_cgroup_scheme(const char *parent, const char *name,
					char id[MCG_CONTAINER_ID_LEN + 1])
{
	if (match_pattern(name, "docker-", ".scope", id))
		return "Docker, systemd cgroup driver";
	if (match_pattern(name, "libpod-", ".scope", id))
		return "Podman, systemd cgroup driver";
	if (match_pattern(name, "libpod-payload-", "", id))
		return "Podman, --cgroups=split";
	if (match_pattern(name, "libpod-", "", id))
		return "Podman, cgroupfs cgroup driver";
	if (match_pattern(name, "", "", id))
		return parent && !strcmp(parent, "docker") ? "Docker, cgroupfs cgroup driver"
							   : "cgroupfs cgroup driver, custom parent";
	return NULL;
}

bool mcg_published_on_loopback(const struct mcg_published_port *port)
{
	struct in6_addr addr6;
	struct in_addr addr4;

	if (inet_pton(AF_INET, port->host_ip, &addr4) == 1)
		return (ntohl(addr4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, port->host_ip, &addr6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&addr6);
	return false;
}
