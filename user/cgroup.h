/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Finding, checking and naming cgroup v2 directories. */
#ifndef MCG_CGROUP_H
#define MCG_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

struct mcg_cgroup {
	char path[PATH_MAX]; /* absolute, symlinks resolved */
	char rel[PATH_MAX];  /* below the cgroup2 mount, with a leading "/"; "/" for the root */
	__u64 id;
};

/* The cgroup2 mount point from /proc/self/mountinfo; -ENOENT if none. */
int mcg_cgroup_mount(char *buf, size_t size);

/*
 * Resolve CGROUP (absolute, or relative to the cgroup2 mount) and check that
 * it is a cgroup v2 directory. Returns 0 or -errno; on failure a message for
 * the user is in error[size].
 */
int mcg_cgroup_resolve(const char *arg, struct mcg_cgroup *cg, char *error, size_t size);

/* The cgroup id, as bpf_get_current_cgroup_id() reports it. */
int mcg_cgroup_id(const char *path, __u64 *id);

/* Does the calling process live in cg or below it? */
bool mcg_cgroup_contains_self(const struct mcg_cgroup *cg);

/*
 * Find a child cgroup of path that has processes somewhere below it.
 * Returns 1 and its name in child[size], 0 if none, -errno on failure.
 */
int mcg_cgroup_find_populated_child(const char *path, char *child, size_t size);

/*
 * Refuse a cgroup where a guard would cut off more than the catcher: the
 * cgroup2 root always, and unless force, a cgroup that contains the caller
 * or has a child cgroup with processes. Returns 0 or -EPERM with a message.
 */
int mcg_cgroup_check_target(const struct mcg_cgroup *cg, bool force, char *reason, size_t size);

/* Does the cgroup at path, or one below it, contain a process? */
int mcg_cgroup_is_populated(const char *path);

/*
 * The path below the cgroup2 mount of the cgroup with this id, from a small
 * cache or a walk of the tree. Returns NULL when no such cgroup exists.
 */
const char *mcg_cgroup_path_by_id(__u64 id);

/*
 * The same for naming a cgroup in output: a cgroup that was removed after
 * its path was cached keeps that path, so an event of a process that just
 * exited with its cgroup still names where it ran.
 */
const char *mcg_cgroup_name_by_id(__u64 id);

#endif
