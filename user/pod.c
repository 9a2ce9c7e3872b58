// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pod.h"
#include "policy.h"

/* kubelet names a static pod's cgroup after this annotation of its mirror pod. */
#define MIRROR_ANNOTATION "kubernetes.io/config.mirror"

static const char *const qos_classes[][2] = {
	{ "Guaranteed", "guaranteed" },
	{ "Burstable", "burstable" },
	{ "BestEffort", "besteffort" },
};

static bool is_lower_hex(const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isdigit((unsigned char)text[i]) && !(text[i] >= 'a' && text[i] <= 'f'))
			return false;
	return true;
}

/* A lowercase UUID (8-4-4-4-12) or a 32-digit hex config hash: nothing that can name a path. */
static bool valid_uid(const char *uid)
{
	size_t len = strlen(uid);

	if (len == 32)
		return is_lower_hex(uid, 32);
	if (len != 36)
		return false;
	for (size_t i = 0; i < len; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? uid[i] != '-' : !is_lower_hex(uid + i, 1))
			return false;
	}
	return true;
}

/* The string at a path of object keys, or NULL. */
static const char *get_string(json_object *object, const char *first, const char *second)
{
	json_object *value;

	if (!json_object_object_get_ex(object, first, &value))
		return NULL;
	if (second && !json_object_object_get_ex(value, second, &value))
		return NULL;
	return json_object_is_type(value, json_type_string) ? json_object_get_string(value) : NULL;
}

static void copy(char *to, size_t size, const char *from)
{
	snprintf(to, size, "%s", from ? from : "");
}

/* Append the containers of one status list ("containerStatuses", ...). */
static void read_containers(json_object *status, const char *list, struct mcg_pod *pod)
{
	json_object *array;

	if (!json_object_object_get_ex(status, list, &array) ||
	    !json_object_is_type(array, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(array); i++) {
		json_object *item = json_object_array_get_idx(array, i);
		const char *name = get_string(item, "name", NULL);
		const char *id = get_string(item, "containerID", NULL);
		const char *scheme_end = id ? strstr(id, "://") : NULL;
		struct mcg_pod_container *container;

		if (!name || !id || !id[0] || pod->container_count >= MCG_POD_MAX_CONTAINERS)
			continue;
		container = &pod->containers[pod->container_count++];
		copy(container->name, sizeof(container->name), name);
		copy(container->id, sizeof(container->id), scheme_end ? scheme_end + 3 : id);
	}
}

/* Copy the mcguard.io/ annotations into pod. What does not fit goes to annotation_error. */
static void read_annotations(json_object *metadata, struct mcg_pod *pod)
{
	const size_t prefix_len = strlen(MCG_POD_ANNOTATION_PREFIX);
	json_object *annotations;

	if (!json_object_object_get_ex(metadata, "annotations", &annotations) ||
	    !json_object_is_type(annotations, json_type_object))
		return;
	json_object_object_foreach(annotations, key, value)
	{
		const char *text = json_object_get_string(value);
		struct mcg_pod_annotation *annotation;

		if (strncmp(key, MCG_POD_ANNOTATION_PREFIX, prefix_len))
			continue;
		if (pod->annotation_count >= MCG_POD_MAX_ANNOTATIONS) {
			snprintf(pod->annotation_error, sizeof(pod->annotation_error),
				 "more than %d %s annotations", MCG_POD_MAX_ANNOTATIONS,
				 MCG_POD_ANNOTATION_PREFIX);
			return;
		}
		if (strlen(key + prefix_len) >= sizeof(annotation->key) ||
		    strlen(text) >= MCG_POD_ANNOTATION_VALUE_MAX) {
			snprintf(pod->annotation_error, sizeof(pod->annotation_error),
				 "annotation %.80s is longer than %d bytes", key,
				 MCG_POD_ANNOTATION_VALUE_MAX - 1);
			return;
		}
		annotation = &pod->annotations[pod->annotation_count++];
		copy(annotation->key, sizeof(annotation->key), key + prefix_len);
		copy(annotation->value, sizeof(annotation->value), text);
	}
}

static void read_qos(json_object *object, struct mcg_pod *pod)
{
	const char *qos = get_string(object, "status", "qosClass");

	for (size_t i = 0; qos && i < sizeof(qos_classes) / sizeof(qos_classes[0]); i++)
		if (!strcmp(qos, qos_classes[i][0]))
			copy(pod->qos, sizeof(pod->qos), qos_classes[i][1]);
}

int mcg_pod_from_json(json_object *object, struct mcg_pod *pod, char *error, size_t size)
{
	json_object *metadata, *status, *value;
	const char *uid, *mirror;

	memset(pod, 0, sizeof(*pod));
	if (!json_object_object_get_ex(object, "metadata", &metadata)) {
		snprintf(error, size, "the pod object has no metadata");
		return -EINVAL;
	}
	copy(pod->namespace, sizeof(pod->namespace), get_string(metadata, "namespace", NULL));
	copy(pod->name, sizeof(pod->name), get_string(metadata, "name", NULL));
	copy(pod->resource_version, sizeof(pod->resource_version),
	     get_string(metadata, "resourceVersion", NULL));
	uid = get_string(metadata, "uid", NULL);
	if (!uid || !valid_uid(uid)) {
		snprintf(error, size, "pod %s/%s has an invalid metadata.uid \"%.40s\"", pod->namespace,
			 pod->name, uid ? uid : "");
		return -EINVAL;
	}
	copy(pod->uid, sizeof(pod->uid), uid);

	mirror = get_string(metadata, "annotations", MIRROR_ANNOTATION);
	if (mirror && !valid_uid(mirror)) {
		snprintf(error, size, "static pod %s/%s has an invalid %s annotation \"%.40s\"",
			 pod->namespace, pod->name, MIRROR_ANNOTATION, mirror);
		return -EINVAL;
	}
	copy(pod->cgroup_uid, sizeof(pod->cgroup_uid), mirror ? mirror : uid);
	pod->deleting = json_object_object_get_ex(metadata, "deletionTimestamp", &value) &&
			!json_object_is_type(value, json_type_null);
	read_annotations(metadata, pod);

	copy(pod->node, sizeof(pod->node), get_string(object, "spec", "nodeName"));
	copy(pod->phase, sizeof(pod->phase), get_string(object, "status", "phase"));
	read_qos(object, pod);
	if (json_object_object_get_ex(object, "status", &status)) {
		read_containers(status, "initContainerStatuses", pod);
		read_containers(status, "containerStatuses", pod);
		read_containers(status, "ephemeralContainerStatuses", pod);
	}
	return 0;
}

/* Rewrite an option name in a policy setter's message ("--mode") to the annotation's. */
static void reword_option(const char *reason, char *out, size_t size)
{
	const char *at = strstr(reason, "--");

	if (!at) {
		snprintf(out, size, "%s", reason);
		return;
	}
	snprintf(out, size, "%.*s%s%s", (int)(at - reason), reason, MCG_POD_ANNOTATION_PREFIX,
		 at + 2);
}

/* Replace a policy's allow-list with the SPECs of value, separated by commas or blanks. */
static int set_allow_list(struct mcg_policy *policy, int bind, const char *value, char *reason,
			  size_t size)
{
	char specs[MCG_POD_ANNOTATION_VALUE_MAX], *saveptr = NULL;

	if (bind)
		policy->bind_count = 0;
	else
		policy->connect_count = 0;
	snprintf(specs, sizeof(specs), "%s", value);
	for (char *spec = strtok_r(specs, ", \t\n", &saveptr); spec;
	     spec = strtok_r(NULL, ", \t\n", &saveptr))
		if (mcg_policy_add_rule(policy, bind, spec, reason, size))
			return -EINVAL;
	return 0;
}

/* Apply one policy setter and reword its option name ("--mode") to the annotation's. */
static int apply_setter(int (*setter)(struct mcg_policy *, const char *, char *, size_t),
			struct mcg_policy *policy, const char *value, char *error, size_t size)
{
	char reason[256];

	if (!setter(policy, value, reason, sizeof(reason)))
		return 0;
	reword_option(reason, error, size);
	return -EINVAL;
}

static int set_connect_list(struct mcg_policy *policy, const char *value, char *reason,
			    size_t size)
{
	return set_allow_list(policy, 0, value, reason, size);
}

static int set_bind_list(struct mcg_policy *policy, const char *value, char *reason, size_t size)
{
	return set_allow_list(policy, 1, value, reason, size);
}

/*
 * Apply one annotation to policy. "backstop" only sets *backstop to 0 or 1,
 * because its meaning depends on the allow-lists of all annotations.
 */
static int apply_annotation(struct mcg_policy *policy, const struct mcg_pod_annotation *annotation,
			    int *backstop, char *error, size_t size)
{
	static const struct {
		const char *key;
		int (*setter)(struct mcg_policy *, const char *, char *, size_t);
	} setters[] = {
		{ "mode", mcg_policy_set_mode },
		{ "wildcard", mcg_policy_set_wildcard },
		{ "wildcard6", mcg_policy_set_wildcard6 },
		{ "allow-connect", set_connect_list },
		{ "allow-bind", set_bind_list },
	};
	const char *key = annotation->key, *value = annotation->value;

	for (size_t i = 0; i < sizeof(setters) / sizeof(setters[0]); i++)
		if (!strcmp(key, setters[i].key))
			return apply_setter(setters[i].setter, policy, value, error, size);
	if (!strcmp(key, "backstop")) {
		if (strcmp(value, "true") && strcmp(value, "false")) {
			snprintf(error, size, "invalid %sbackstop \"%.100s\": expected true or false",
				 MCG_POD_ANNOTATION_PREFIX, value);
			return -EINVAL;
		}
		*backstop = !strcmp(value, "true");
		return 0;
	}
	snprintf(error, size,
		 "unknown annotation %s%s: expected mode, wildcard, wildcard6, allow-connect, allow-bind or backstop",
		 MCG_POD_ANNOTATION_PREFIX, key);
	return -EINVAL;
}

int mcg_pod_policy(const struct mcg_pod *pod, const struct mcg_policy *base,
		   struct mcg_policy *policy, char *error, size_t size)
{
	int backstop = -1;

	*policy = *base;
	if (pod->annotation_error[0]) {
		snprintf(error, size, "%s", pod->annotation_error);
		goto strict;
	}
	for (size_t i = 0; i < pod->annotation_count; i++)
		if (apply_annotation(policy, &pod->annotations[i], &backstop, error, size))
			goto strict;

	if (policy->connect_count || policy->bind_count) {
		if (backstop == 1) {
			snprintf(error, size,
				 "%sbackstop \"true\" cannot go with allow-lists, because a socket held to lo reaches no allow-listed address",
				 MCG_POD_ANNOTATION_PREFIX);
			goto strict;
		}
		policy->backstop = MCG_BACKSTOP_OFF;
	} else if (backstop >= 0) {
		policy->backstop = backstop ? MCG_BACKSTOP_ON : MCG_BACKSTOP_OFF;
	}
	return 0;

strict:
	memset(policy, 0, sizeof(*policy));
	return -EINVAL;
}

static void systemd_uid(const char *uid, char *out, size_t size)
{
	size_t i;

	for (i = 0; uid[i] && i + 1 < size; i++)
		out[i] = uid[i] == '-' ? '_' : uid[i];
	out[i] = '\0';
}

size_t mcg_pod_cgroup_paths(const struct mcg_pod *pod, enum mcg_cgroup_driver driver,
			    char paths[][256], size_t max)
{
	char escaped[sizeof(pod->cgroup_uid)];
	size_t count = 0;

	systemd_uid(pod->cgroup_uid, escaped, sizeof(escaped));
	for (size_t i = 0; i < sizeof(qos_classes) / sizeof(qos_classes[0]); i++) {
		const char *qos = qos_classes[i][1];
		bool guaranteed = !strcmp(qos, "guaranteed");

		if (pod->qos[0] && strcmp(pod->qos, qos))
			continue;
		if (driver != MCG_DRIVER_CGROUPFS && count < max) {
			if (guaranteed)
				snprintf(paths[count++], 256, "kubepods.slice/kubepods-pod%s.slice",
					 escaped);
			else
				snprintf(paths[count++], 256,
					 "kubepods.slice/kubepods-%s.slice/kubepods-%s-pod%s.slice", qos,
					 qos, escaped);
		}
		if (driver != MCG_DRIVER_SYSTEMD && count < max) {
			if (guaranteed)
				snprintf(paths[count++], 256, "kubepods/pod%s", pod->cgroup_uid);
			else
				snprintf(paths[count++], 256, "kubepods/%s/pod%s", qos, pod->cgroup_uid);
		}
	}
	return count;
}

/* Split rel at "/" into at most max components. Returns the count, or max + 1 when longer. */
static size_t split_path(char *rel, char **parts, size_t max)
{
	size_t count = 0;
	char *saveptr = NULL;

	for (char *part = strtok_r(rel, "/", &saveptr); part; part = strtok_r(NULL, "/", &saveptr)) {
		if (count == max)
			return max + 1;
		parts[count++] = part;
	}
	return count;
}

static bool is_burstable_or_besteffort(const char *qos)
{
	return !strcmp(qos, "burstable") || !strcmp(qos, "besteffort");
}

/* The UID in "kubepods-pod<u>.slice" or "kubepods-<qos>-pod<u>.slice", with "_" back to "-". */
static bool systemd_pod_uid(const char *name, const char *qos, char *uid, size_t size)
{
	char prefix[64];
	size_t prefix_len, len = strlen(name), i;

	snprintf(prefix, sizeof(prefix), "kubepods-%s%spod", qos ? qos : "", qos ? "-" : "");
	prefix_len = strlen(prefix);
	if (strncmp(name, prefix, prefix_len) || len < prefix_len + 6 ||
	    strcmp(name + len - 6, ".slice") || len - prefix_len - 6 >= size)
		return false;
	for (i = 0; i < len - prefix_len - 6; i++)
		uid[i] = name[prefix_len + i] == '_' ? '-' : name[prefix_len + i];
	uid[i] = '\0';
	return valid_uid(uid);
}

bool mcg_pod_uid_from_cgroup(const char *rel, char *uid, size_t size)
{
	char copy_of_rel[512], qos_slice[64], *parts[4];
	size_t count;

	if (strlen(rel) >= sizeof(copy_of_rel))
		return false;
	snprintf(copy_of_rel, sizeof(copy_of_rel), "%s", rel);
	count = split_path(copy_of_rel, parts, 3);
	if (count < 2 || count > 3)
		return false;

	if (!strcmp(parts[0], "kubepods.slice")) {
		if (count == 2)
			return systemd_pod_uid(parts[1], NULL, uid, size);
		for (size_t i = 1; i < sizeof(qos_classes) / sizeof(qos_classes[0]); i++) {
			snprintf(qos_slice, sizeof(qos_slice), "kubepods-%s.slice", qos_classes[i][1]);
			if (!strcmp(parts[1], qos_slice))
				return systemd_pod_uid(parts[2], qos_classes[i][1], uid, size);
		}
		return false;
	}
	if (strcmp(parts[0], "kubepods") || (count == 3 && !is_burstable_or_besteffort(parts[1])))
		return false;
	if (strncmp(parts[count - 1], "pod", 3) || strlen(parts[count - 1] + 3) >= size)
		return false;
	snprintf(uid, size, "%s", parts[count - 1] + 3);
	return valid_uid(uid);
}

bool mcg_container_id_from_cgroup(const char *name, char *id, size_t size)
{
	static const char *const prefixes[] = { "cri-containerd-", "crio-", "docker-" };
	size_t len = strlen(name);

	if (len == 64 && is_lower_hex(name, 64)) {
		snprintf(id, size, "%s", name);
		return true;
	}
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t prefix_len = strlen(prefixes[i]);

		if (len == prefix_len + 64 + 6 && !strncmp(name, prefixes[i], prefix_len) &&
		    !strcmp(name + len - 6, ".scope") && is_lower_hex(name + prefix_len, 64)) {
			snprintf(id, size, "%.64s", name + prefix_len);
			return true;
		}
	}
	return false;
}

const char *mcg_pod_container_name(const struct mcg_pod *pod, const char *id)
{
	for (size_t i = 0; i < pod->container_count; i++)
		if (!strcmp(pod->containers[i].id, id))
			return pod->containers[i].name;
	return NULL;
}

static const char *const driver_names[] = { "auto", "systemd", "cgroupfs" };

int mcg_cgroup_driver_parse(const char *text)
{
	for (size_t i = 0; i < sizeof(driver_names) / sizeof(driver_names[0]); i++)
		if (!strcmp(text, driver_names[i]))
			return i;
	return -EINVAL;
}

const char *mcg_cgroup_driver_name(enum mcg_cgroup_driver driver)
{
	return (size_t)driver < sizeof(driver_names) / sizeof(driver_names[0]) ? driver_names[driver]
									       : "unknown";
}
