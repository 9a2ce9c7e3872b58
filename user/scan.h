/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Sockets that escaped a guard: sockets of processes in a guarded cgroup that
 * the current policy would not allow but that no hook judged, because they
 * existed before the guard was attached, before their process joined the
 * cgroup, or came in over SCM_RIGHTS.
 */
#ifndef MCG_SCAN_H
#define MCG_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <json-c/json.h>

#include "guard.h"

struct mcg_escape {
	struct mcg_event event; /* verdict MCG_VERDICT_ESCAPED; time_ns is CLOCK_REALTIME */
	unsigned int state;     /* TCP state number; UDP uses TCP_ESTABLISHED and TCP_CLOSE */
	unsigned int inode;
	int fd;                 /* in event.pid */
};

/*
 * Find escaped sockets below the guarded cgroup guard_path, judged by policy.
 * Enters the network namespace of each process to ask sock_diag, and reads
 * /proc only for PIDs listed in the subtree's cgroup.procs. Returns the
 * number found (an array the caller frees in *escapes) or -errno.
 */
int mcg_scan_guard(const char *guard_path, __u64 guard_id, const struct mcg_policy *policy,
		   struct mcg_escape **escapes);

/* "LISTEN", "ESTABLISHED", ... for a TCP state number. */
const char *mcg_tcp_state_name(unsigned int state);

/* The JSON event of an escape, with its state and fd. */
json_object *mcg_escape_json(const struct mcg_escape *escape);

/* Print escapes as JSON lines or aligned text lines to out. */
void mcg_escapes_print(FILE *out, const struct mcg_escape *escapes, int count, bool json);

#endif
