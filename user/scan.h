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

#include "cgroup.h"
#include "guard.h"

/* One socket as sock_diag reports it. */
struct mcg_diag_sock {
	__u32 src[4], dst[4]; /* network byte order */
	__u32 ifindex;
	__u32 inode;
	__u32 cookie[2];
	__u16 sport, dport;   /* host byte order */
	__u8 family;          /* AF_INET or AF_INET6 */
	__u8 protocol;
	__u8 state;
	__u8 pad;
};

/* What "scan --destroy" did with an escaped socket. */
enum mcg_destroy_result {
	MCG_DESTROY_NOT_TRIED = 0,
	MCG_DESTROY_CLOSED,
	MCG_DESTROY_SHARED, /* also held by a process outside the guarded cgroups */
	MCG_DESTROY_FAILED,
};

struct mcg_escape {
	struct mcg_event event; /* verdict MCG_VERDICT_ESCAPED; time_ns is CLOCK_REALTIME */
	struct mcg_diag_sock diag;
	unsigned int state;     /* TCP state number; UDP uses TCP_ESTABLISHED and TCP_CLOSE */
	unsigned int inode;
	int fd;                 /* in event.pid */
	int destroy;            /* enum mcg_destroy_result */
	int destroy_detail;     /* the outside pid for SHARED, an errno for FAILED */
	bool in_batch;          /* scratch: in the namespace being handled now */
};

/*
 * Find escaped sockets below the guarded cgroup guard_path, judged by policy.
 * Enters the network namespace of each process to ask sock_diag, and reads
 * /proc only for PIDs listed in the subtree's cgroup.procs. Returns the
 * number found (an array the caller frees in *escapes) or -errno.
 */
int mcg_scan_guard(const char *guard_path, __u64 guard_id, const struct mcg_policy *policy,
		   struct mcg_escape **escapes);

/*
 * Close escaped sockets with sock_diag's SOCK_DESTROY, each in its own network
 * namespace, but only a socket whose every holder is a process below
 * guard_path: a BPF iterator lists the holders without reading /proc of
 * other processes. Sets each escape's destroy field; returns the number
 * closed or -errno.
 */
int mcg_scan_destroy(const char *guard_path, struct mcg_escape *escapes, int count);

/* Scan the guard of cg and warn on stderr about each escaped socket. */
void mcg_scan_report(const struct mcg_cgroup *cg, const struct mcg_policy *policy);

/* "LISTEN", "ESTABLISHED", ... for a TCP state number. */
const char *mcg_tcp_state_name(unsigned int state);

/* The JSON event of an escape, with its state and fd. */
json_object *mcg_escape_json(const struct mcg_escape *escape);

/* Print escapes as JSON lines or aligned text lines to out. */
void mcg_escapes_print(FILE *out, const struct mcg_escape *escapes, int count, bool json);

#endif
