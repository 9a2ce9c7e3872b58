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

/* TCP states as the kernel numbers them (include/net/tcp_states.h). */
#define MCG_TCP_ESTABLISHED 1
#define MCG_TCP_CLOSE 7 /* also an unconnected UDP socket */
#define MCG_TCP_LISTEN 10

#define MCG_LOOPBACK_IFINDEX 1

/* One socket as sock_diag reports it. */
struct mcg_diag_sock {
	__u32 src[4], dst[4]; /* network byte order */
	__u32 ifindex;        /* the device the socket is bound to; 0 for none */
	__u32 inode;
	__u32 cookie[2];
	__u16 sport, dport;   /* host byte order */
	__u8 family;          /* AF_INET or AF_INET6 */
	__u8 protocol;
	__u8 state;
	__u8 v6only;          /* IPV6_V6ONLY, reported for listening and unconnected IPv6 sockets */
};

/* A socket held by a process below a cgroup, with the first holder found. */
struct mcg_held_socket {
	struct mcg_diag_sock diag;
	unsigned long netns; /* inode of the holder's network namespace */
	int pid;
	int fd;
	__u64 cgroup_id;
	char comm[MCG_COMM_LEN + 1];
};

/* A network namespace that processes of the cgroup live in. */
struct mcg_scanned_netns {
	unsigned long inode;
	int pid;   /* one process in it, to name it: /proc/PID/ns/net */
	int error; /* 0, or the errno that kept its sockets from being listed */
};

/* Everything mcg_scan_cgroup found, and what it could not look at. */
struct mcg_cgroup_sockets {
	struct mcg_held_socket *sockets;
	size_t count;
	struct mcg_scanned_netns *netns;
	size_t netns_count;
	int processes;  /* listed in the cgroup.procs files */
	int unreadable; /* processes whose descriptors or namespace could not be read */
};

/*
 * List the TCP and UDP sockets that processes below cgroup_path hold, in each
 * of their network namespaces, through sock_diag. Reads /proc only for PIDs
 * listed in the subtree's cgroup.procs. Without root it can read only the
 * caller's own processes in the caller's own namespace, and counts the rest in
 * result. Returns 0 or -errno. Free the result with mcg_cgroup_sockets_free.
 */
int mcg_scan_cgroup(const char *cgroup_path, struct mcg_cgroup_sockets *result);
void mcg_cgroup_sockets_free(struct mcg_cgroup_sockets *result);

/*
 * List every TCP and UDP socket of the network namespace at ns_path
 * (/proc/PID/ns/net, /run/netns/NAME) in *socks, which the caller frees.
 * Returns 0 or -errno: -EPERM when the namespace cannot be entered.
 */
int mcg_netns_sockets(const char *ns_path, struct mcg_diag_sock **socks, size_t *count);

/* Is the socket listening (TCP) or bound and unconnected (UDP)? */
bool mcg_sock_is_listener(const struct mcg_diag_sock *sock);

/* Is its local address loopback in any form (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104)? */
bool mcg_sock_local_is_loopback(const struct mcg_diag_sock *sock);

/*
 * Would policy reject this socket if it were created now? A listener held
 * to the loopback device is contained, not escaped. *bound is set for a
 * listener or bound UDP socket, whose local address was judged.
 */
bool mcg_sock_escapes(const struct mcg_diag_sock *sock, const struct mcg_policy *policy,
		      int *bound);

/* Outcome of "scan --destroy" for one escaped socket. */
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
