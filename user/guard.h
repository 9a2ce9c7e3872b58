/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Guards and their pins. One program set and its maps are loaded once and
 * shared by every guard; each guard is a directory of pinned links:
 *
 *   PIN_ROOT/v1/mcg_bind4 ... mcg_sendmsg6   programs
 *   PIN_ROOT/v1/mcg_policy, mcg_counters, mcg_events   maps
 *   PIN_ROOT/v1/guards/CGROUP_ID/bind4 ... sendmsg6   links
 *
 * "v1" is the layout version; a binary refuses a layout it does not know.
 */
#ifndef MCG_GUARD_H
#define MCG_GUARD_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "cgroup.h"
#include "mcguard.h"

#define MCG_DEFAULT_PIN_ROOT "/sys/fs/bpf/mcguard"

struct mcg_state {
	char pin_root[PATH_MAX];
	char dir[PATH_MAX]; /* pin_root/v1 */
	int lock_fd;
	int prog_fds[MCG_HOOK_COUNT];
	__u32 prog_ids[MCG_HOOK_COUNT];
	int policy_fd;
	int counters_fd;
	int events_fd;
};

/*
 * Open the pinned state under pin_root and lock it against other mcguard
 * commands. With create, load and pin the programs when there are none yet;
 * without, return -ENOENT when nothing is pinned. Logs its own errors.
 */
int mcg_state_open(struct mcg_state *state, const char *pin_root, bool create);
void mcg_state_close(struct mcg_state *state);
/* Are programs pinned under pin_root? */
bool mcg_state_exists(const char *pin_root);
/* Let other mcguard commands run while this one keeps its descriptors. */
void mcg_state_unlock(struct mcg_state *state);
/* Take the lock again after mcg_state_unlock(). Returns 0 or -errno. */
int mcg_state_lock(struct mcg_state *state);
/* Remove the guards of cgroups that no longer exist; needs the lock. */
void mcg_state_prune(struct mcg_state *state);

/*
 * Attach the guard to cg with policy, or replace the policy of the guard that
 * is already there and re-attach any hook that went missing. A NULL policy
 * keeps an existing guard's policy and gives a new guard the default one.
 * *existed tells which one happened. All or nothing: on failure no new link
 * stays attached.
 */
int mcg_guard_attach(struct mcg_state *state, const struct mcg_cgroup *cg,
		     const struct mcg_policy *policy, bool *existed);

/* Detach and unpin the guard of the cgroup with this id; -ENOENT if there is none. */
int mcg_guard_detach(struct mcg_state *state, __u64 cgroup_id);

/* Remove the shared programs and maps when no guard is left. */
void mcg_state_remove_if_unused(struct mcg_state *state);

/*
 * Detach every link pinned under pin_root and remove all pins, without
 * loading anything: the way out of state that cannot be opened, such as a
 * layout damaged by hand. Returns 0 or -errno.
 */
int mcg_state_remove_all(const char *pin_root);

/* Ids of all guards, sorted; the caller frees *ids. */
int mcg_guard_list(struct mcg_state *state, __u64 **ids, size_t *count);

bool mcg_guard_exists(struct mcg_state *state, __u64 cgroup_id);

/* The guard's policy and its counters summed over all CPUs. */
int mcg_guard_read(struct mcg_state *state, __u64 cgroup_id, struct mcg_policy *policy,
		   struct mcg_counters *counters);

/*
 * Ask the kernel which of mcguard's programs are attached to the cgroup at
 * path; attached[hook] is set for each one found.
 */
int mcg_guard_query_hooks(struct mcg_state *state, const char *path,
			  bool attached[MCG_HOOK_COUNT]);

/*
 * Is a guard of another pin root (another mcguard program set) attached to
 * the cgroup at path too? Then both policies apply and the stricter wins.
 */
bool mcg_guard_has_other_mcguard(struct mcg_state *state, const char *path);

/*
 * Ask the kernel which of mcguard's programs run for the cgroup at path,
 * attached there or inherited from a parent: effective[hook] is set for each.
 */
int mcg_guard_query_effective(struct mcg_state *state, const char *path,
			      bool effective[MCG_HOOK_COUNT]);

#endif
