/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kubernetes pods as the daemon needs them: the fields of a Pod object that
 * name its cgroup and its containers, the per-pod policy from annotations,
 * and the pod-level cgroup paths that kubelet creates for both cgroup
 * drivers. Pure functions over json-c objects and strings, so the unit tests
 * cover them without an API server.
 */
#ifndef MCG_POD_H
#define MCG_POD_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>

#include "mcguard.h"

/* Prefix of the annotations that override a pod's policy. */
#define MCG_POD_ANNOTATION_PREFIX "mcguard.io/"
#define MCG_POD_MAX_CONTAINERS 32
#define MCG_POD_MAX_ANNOTATIONS 8
#define MCG_POD_ANNOTATION_VALUE_MAX 1024

/* The cgroup layouts of kubelet that the daemon looks for. */
enum mcg_cgroup_driver {
	MCG_DRIVER_AUTO = 0, /* both: whichever directory exists */
	MCG_DRIVER_SYSTEMD,
	MCG_DRIVER_CGROUPFS,
};

struct mcg_pod_container {
	char id[72];   /* the runtime's container ID, without the "containerd://" scheme */
	char name[64];
};

struct mcg_pod_annotation {
	char key[64]; /* without MCG_POD_ANNOTATION_PREFIX */
	char value[MCG_POD_ANNOTATION_VALUE_MAX];
};

struct mcg_pod {
	char uid[40];        /* metadata.uid */
	char cgroup_uid[40]; /* the UID in cgroup names: uid, or the config hash of a static pod */
	char namespace[64];
	char name[254];
	char node[254];      /* spec.nodeName */
	char qos[16];        /* "guaranteed", "burstable", "besteffort", or "" when unknown */
	char phase[16];      /* status.phase */
	char resource_version[64];
	bool deleting;       /* metadata.deletionTimestamp is set */
	struct mcg_pod_container containers[MCG_POD_MAX_CONTAINERS];
	size_t container_count;
	struct mcg_pod_annotation annotations[MCG_POD_MAX_ANNOTATIONS];
	size_t annotation_count;
	/* Why the annotations could not be read (too many, too long), or "". */
	char annotation_error[160];
};

/*
 * Fill *pod from a Pod object of the API. Returns 0, or -EINVAL with a
 * reason in error[size] when a field that names the cgroup is missing or
 * malformed: a UID that is not a lowercase UUID (or, for a static pod, a
 * 32-digit hex config hash) could name a path outside the pod tree.
 */
int mcg_pod_from_json(json_object *object, struct mcg_pod *pod, char *error, size_t size);

/*
 * The policy of a pod: base with the fields its mcguard.io/ annotations set
 * replaced. On an invalid or unknown annotation, *policy is the strict
 * default (enforce, deny, mapped, backstop, no allow-lists) and the return
 * value is -EINVAL with the reason in error[size].
 */
int mcg_pod_policy(const struct mcg_pod *pod, const struct mcg_policy *base,
		   struct mcg_policy *policy, char *error, size_t size);

/*
 * The pod-level cgroup paths kubelet uses for this pod, relative to its
 * cgroup root, for the driver (both for MCG_DRIVER_AUTO) and the pod's QoS
 * class (all three when unknown). Returns how many were written to paths.
 */
size_t mcg_pod_cgroup_paths(const struct mcg_pod *pod, enum mcg_cgroup_driver driver,
			    char paths[][256], size_t max);

/*
 * If rel (a path relative to kubelet's cgroup root, without a leading "/")
 * is a pod-level cgroup of either driver, write the pod UID it names, in
 * the dashed form, to uid[size] and return true.
 */
bool mcg_pod_uid_from_cgroup(const char *rel, char *uid, size_t size);

/*
 * The container ID in a container cgroup's directory name: "<64 hex>" for
 * cgroupfs, "cri-containerd-<id>.scope", "crio-<id>.scope" or
 * "docker-<id>.scope" for systemd. Returns false for any other name.
 */
bool mcg_container_id_from_cgroup(const char *name, char *id, size_t size);

/* The name of the pod's container with this ID, or NULL. */
const char *mcg_pod_container_name(const struct mcg_pod *pod, const char *id);

/* Parse "auto", "systemd" or "cgroupfs" into a driver, or return -EINVAL. */
int mcg_cgroup_driver_parse(const char *text);
const char *mcg_cgroup_driver_name(enum mcg_cgroup_driver driver);

#endif
