// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "format.h"

#define MCG_NAME_ENTRY(id, name) [id] = name,

static const char *const hook_names[] = { MCG_HOOK_LIST(MCG_NAME_ENTRY) };
static const char *const verdict_names[] = { MCG_VERDICT_LIST(MCG_NAME_ENTRY) };
static const char *const counter_names[] = { MCG_COUNTER_LIST(MCG_NAME_ENTRY) };

const char *mcg_hook_name(unsigned int hook)
{
	return hook < MCG_HOOK_COUNT ? hook_names[hook] : "unknown";
}

const char *mcg_verdict_name(unsigned int verdict)
{
	return verdict < MCG_VERDICT_COUNT ? verdict_names[verdict] : "unknown";
}

const char *mcg_counter_name(unsigned int counter)
{
	return counter < MCG_COUNTER_COUNT ? counter_names[counter] : "unknown";
}

int mcg_hook_from_name(const char *name)
{
	for (int i = 0; i < MCG_HOOK_COUNT; i++)
		if (!strcmp(name, hook_names[i]))
			return i;
	return -1;
}

const char *mcg_protocol_name(unsigned int protocol, char *buf, size_t size)
{
	switch (protocol) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmpv6";
	case IPPROTO_SCTP:
		return "sctp";
	default:
		snprintf(buf, size, "%u", protocol);
		return buf;
	}
}

char *mcg_format_time(unsigned long long wall_ns, char *buf, size_t size)
{
	/*
	 * gmtime_r() and strftime() cost more than the rest of an event line.
	 * A stream has many events per second, so each thread keeps the date
	 * and time of the last second it formatted.
	 */
	static __thread unsigned long long cached_second = ~0ull;
	static __thread char date[32];
	static __thread size_t date_len;
	unsigned long long second = wall_ns / 1000000000ull;
	unsigned long micros = (wall_ns % 1000000000ull) / 1000;
	char text[sizeof(date) + 8];
	size_t len;

	if (second != cached_second) {
		time_t seconds = second;
		struct tm tm = { 0 };

		gmtime_r(&seconds, &tm);
		date_len = strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
		cached_second = second;
	}
	memcpy(text, date, date_len);
	len = date_len;
	text[len++] = '.';
	for (int i = 5; i >= 0; i--) {
		text[len + i] = '0' + micros % 10;
		micros /= 10;
	}
	len += 6;
	text[len++] = 'Z';

	if (!size)
		return buf;
	if (len >= size)
		len = size - 1;
	memcpy(buf, text, len);
	buf[len] = '\0';
	return buf;
}

/* Dotted decimal, as inet_ntop() writes it but without its sprintf(); buf has room for 16 bytes. */
static void format_ipv4(const __u8 addr[4], char *buf)
{
	size_t len = 0;

	for (int i = 0; i < 4; i++) {
		unsigned int byte = addr[i];

		if (byte >= 100) {
			buf[len++] = '0' + byte / 100;
			byte %= 100;
			buf[len++] = '0' + byte / 10;
		} else if (byte >= 10) {
			buf[len++] = '0' + byte / 10;
		}
		buf[len++] = '0' + byte % 10;
		buf[len++] = i < 3 ? '.' : '\0';
	}
}

char *mcg_format_addr(unsigned int family, const __u8 addr[16], char *buf, size_t size)
{
	if (family != MCG_FAMILY_IPV6 && size >= INET_ADDRSTRLEN) {
		format_ipv4(addr, buf);
		return buf;
	}
	if (!inet_ntop(family == MCG_FAMILY_IPV6 ? AF_INET6 : AF_INET, addr, buf, size))
		snprintf(buf, size, "?");
	return buf;
}

char *mcg_format_endpoint(unsigned int family, const __u8 addr[16], unsigned int port,
			  char *buf, size_t size)
{
	char address[INET6_ADDRSTRLEN];

	mcg_format_addr(family, addr, address, sizeof(address));
	if (family == MCG_FAMILY_IPV6)
		snprintf(buf, size, "[%s]:%u", address, port);
	else
		snprintf(buf, size, "%s:%u", address, port);
	return buf;
}

static void json_add_string(json_object *obj, const char *key, const char *value)
{
	json_object_object_add(obj, key, value ? json_object_new_string(value) : NULL);
}

json_object *mcg_event_json(const struct mcg_event *event, unsigned long long wall_ns,
			    const char *cgroup, const char *guard_cgroup)
{
	char time[40], address[INET6_ADDRSTRLEN], protocol[8], comm[MCG_COMM_LEN + 1];
	json_object *obj = json_object_new_object();

	if (!obj)
		return NULL;

	/* comm is NUL-padded by the kernel, but a full 16 bytes has no NUL. */
	memcpy(comm, event->comm, MCG_COMM_LEN);
	comm[MCG_COMM_LEN] = '\0';

	json_object_object_add(obj, "schema", json_object_new_int(MCG_JSON_SCHEMA));
	json_add_string(obj, "type", "event");
	json_add_string(obj, "time", mcg_format_time(wall_ns, time, sizeof(time)));
	json_add_string(obj, "hook", mcg_hook_name(event->hook));
	json_add_string(obj, "verdict", mcg_verdict_name(event->verdict));
	json_add_string(obj, "family", event->family == MCG_FAMILY_IPV6 ? "ipv6" : "ipv4");
	json_add_string(obj, "protocol",
			mcg_protocol_name(event->protocol, protocol, sizeof(protocol)));
	json_add_string(obj, "address",
			mcg_format_addr(event->family, event->addr, address, sizeof(address)));
	json_object_object_add(obj, "port", json_object_new_int(event->port));
	if (event->verdict == MCG_VERDICT_REWRITTEN)
		json_add_string(obj, "new_address",
				mcg_format_addr(event->family, event->new_addr, address,
						sizeof(address)));
	json_object_object_add(obj, "pid", json_object_new_int64(event->pid));
	json_add_string(obj, "comm", comm);
	json_object_object_add(obj, "uid", json_object_new_int64(event->uid));
	json_add_string(obj, "cgroup", cgroup);
	json_object_object_add(obj, "cgroup_id", json_object_new_uint64(event->cgroup_id));
	json_add_string(obj, "guard_cgroup", guard_cgroup);
	json_object_object_add(obj, "guard_cgroup_id",
			       json_object_new_uint64(event->guard_cgroup_id));
	return obj;
}

int mcg_event_text(const struct mcg_event *event, unsigned long long wall_ns,
		   const char *cgroup, char *buf, size_t size)
{
	char time[40], endpoint[INET6_ADDRSTRLEN + 16], protocol[8], comm[MCG_COMM_LEN + 1];
	char target[INET6_ADDRSTRLEN + 4] = "";

	memcpy(comm, event->comm, MCG_COMM_LEN);
	comm[MCG_COMM_LEN] = '\0';
	mcg_format_endpoint(event->family, event->addr, event->port, endpoint, sizeof(endpoint));
	if (event->verdict == MCG_VERDICT_REWRITTEN) {
		char address[INET6_ADDRSTRLEN];

		snprintf(target, sizeof(target), "->%s",
			 mcg_format_addr(event->family, event->new_addr, address, sizeof(address)));
		strncat(endpoint, target, sizeof(endpoint) - strlen(endpoint) - 1);
	}

	return snprintf(buf, size, "%-27s %-9s %-10s %-5s %-46s %6u %-16s %s",
			mcg_format_time(wall_ns, time, sizeof(time)), mcg_hook_name(event->hook),
			mcg_verdict_name(event->verdict),
			mcg_protocol_name(event->protocol, protocol, sizeof(protocol)), endpoint,
			event->pid, comm, cgroup ? cgroup : "?");
}
