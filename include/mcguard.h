/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The ABI between mcguard's BPF programs and its user-space tool.
 *
 * Both sides compile this header: the BPF side after vmlinux.h, user space
 * after <linux/types.h>. Every struct has fixed-width fields, explicit padding
 * and a size assertion, because a pinned map outlives the binary that created
 * it and a newer binary must read it bit for bit.
 *
 * Data model
 * - A guard is one cgroup v2 directory with mcguard's nine programs attached
 *   through bpf_link: six sock_addr hooks, a sock_ops program that contains
 *   listeners the kernel bound itself, and the backstop pair (sock_create,
 *   setsockopt). Programs attached to a cgroup also run for all of its
 *   descendants, so a guard covers the whole subtree.
 * - Each guard owns one struct mcg_policy in cgroup local storage keyed by the
 *   cgroup id alone, so all programs of one guard share one policy. A
 *   program always reads the policy of the attachment that runs it, so nested
 *   guards each apply their own policy and a call must pass all of them.
 * - Storage is created zeroed when the first program is attached. A zeroed
 *   policy is the strictest one (enforce, wildcard binds denied, no
 *   allow-list entries), so a guard fails closed until user space writes the
 *   real policy. User space replaces the policy with one map update, which
 *   the kernel swaps in as a whole, so a program never reads a torn policy.
 * - Addresses are in network byte order, as the kernel passes them in
 *   struct bpf_sock_addr. An IPv4 address sits in the first 32-bit word.
 *   Ports are in host byte order. Port ranges include both ends.
 */
#ifndef MCGUARD_H
#define MCGUARD_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Version of the layout under the pin root: "<pin-root>/v1/...". */
#define MCG_LAYOUT_VERSION 1
/* Version of struct mcg_event, its first field. */
#define MCG_EVENT_VERSION 1

/* Allow-list entries per list; each guard has a bind list and a connect list. */
#define MCG_MAX_RULES 16
#define MCG_COMM_LEN 16

/*
 * The one list of hooks. Events, JSON output and counters name a hook by the
 * string here; the index is the enum value.
 */
#define MCG_HOOK_LIST(X)                                                       \
	X(MCG_HOOK_BIND4, "bind4")                                             \
	X(MCG_HOOK_BIND6, "bind6")                                             \
	X(MCG_HOOK_CONNECT4, "connect4")                                       \
	X(MCG_HOOK_CONNECT6, "connect6")                                       \
	X(MCG_HOOK_SENDMSG4, "sendmsg4")                                       \
	X(MCG_HOOK_SENDMSG6, "sendmsg6")                                       \
	X(MCG_HOOK_LISTEN, "listen")                                           \
	X(MCG_HOOK_SOCK_CREATE, "sock_create")                                 \
	X(MCG_HOOK_SETSOCKOPT, "setsockopt")

#define MCG_ENUM_ENTRY(id, name) id,
enum mcg_hook { MCG_HOOK_LIST(MCG_ENUM_ENTRY) MCG_HOOK_COUNT };

/*
 * Verdicts of events. A plain allow makes no event; the others do. CONTAINED
 * is a listener the kernel bound to a wildcard address without a bind call,
 * which the guard pinned to the loopback device. ESCAPED comes from user
 * space only: a socket that exists outside the hooks' reach.
 */
#define MCG_VERDICT_LIST(X)                                                    \
	X(MCG_VERDICT_ALLOWED, "allowed")                                      \
	X(MCG_VERDICT_DENIED, "denied")                                        \
	X(MCG_VERDICT_REWRITTEN, "rewritten")                                  \
	X(MCG_VERDICT_AUDITED, "audited")                                      \
	X(MCG_VERDICT_CONTAINED, "contained")                                  \
	X(MCG_VERDICT_ESCAPED, "escaped")

enum mcg_verdict { MCG_VERDICT_LIST(MCG_ENUM_ENTRY) MCG_VERDICT_COUNT };

/* Per-guard, per-hook counters. DROPPED counts events the ring buffer had no room for. */
#define MCG_COUNTER_LIST(X)                                                    \
	X(MCG_COUNTER_DENIED, "denied")                                        \
	X(MCG_COUNTER_REWRITTEN, "rewritten")                                  \
	X(MCG_COUNTER_AUDITED, "audited")                                      \
	X(MCG_COUNTER_CONTAINED, "contained")                                  \
	X(MCG_COUNTER_DROPPED, "dropped")

enum mcg_counter { MCG_COUNTER_LIST(MCG_ENUM_ENTRY) MCG_COUNTER_COUNT };

enum mcg_mode {
	MCG_MODE_ENFORCE = 0, /* deny; the zero value, so unset storage enforces */
	MCG_MODE_AUDIT = 1,   /* allow, and report what enforce would deny */
};

/* Handling of a bind to a wildcard address (0.0.0.0, ::, ::ffff:0.0.0.0). */
enum mcg_wildcard {
	MCG_WILDCARD_DENY = 0,     /* EPERM, the zero value */
	MCG_WILDCARD_LOOPBACK = 1, /* rewritten to a loopback address */
};

/*
 * Target of a rewritten bind to "::". One socket cannot listen on both
 * loopback families, so the policy picks one. A socket with IPV6_V6ONLY set
 * cannot take a mapped address and always goes to ::1.
 */
enum mcg_wildcard6 {
	MCG_WILDCARD6_MAPPED = 0, /* ::ffff:127.0.0.1, reachable at 127.0.0.1 */
	MCG_WILDCARD6_IPV6 = 1,   /* ::1, reachable at ::1 */
};

/*
 * The loopback backstop: every new inet socket of the guarded cgroup is bound
 * to the loopback device, and SO_BINDTODEVICE and SO_BINDTOIFINDEX are
 * denied, so a path the sock_addr hooks miss still cannot leave the host.
 * A socket bound to lo cannot reach a remote host, so a policy that
 * allow-lists remote destinations turns it off.
 */
enum mcg_backstop {
	MCG_BACKSTOP_ON = 0, /* the zero value */
	MCG_BACKSTOP_OFF = 1,
};

/* Address family of a rule; 0 marks an unused entry, which matches nothing. */
#define MCG_FAMILY_IPV4 4
#define MCG_FAMILY_IPV6 6

/* Protocol bits of a rule; a rule with no bit set matches nothing. */
#define MCG_PROTO_TCP 0x1
#define MCG_PROTO_UDP 0x2
#define MCG_PROTO_OTHER 0x4 /* raw, ping, SCTP and the rest */
#define MCG_PROTO_ANY (MCG_PROTO_TCP | MCG_PROTO_UDP | MCG_PROTO_OTHER)

/*
 * One allow-list entry: a CIDR, a port range and a set of protocols.
 * For IPv4, only addr[0] and mask[0] are used. The mask is precomputed from
 * prefix_len so the BPF side needs no shifts. An entry whose family or
 * protocols field is zero matches nothing, so a zeroed entry is inert.
 */
struct mcg_rule {
	__u32 addr[4];  /* network byte order, already masked */
	__u32 mask[4];  /* network byte order */
	__u16 port_min; /* host byte order, inclusive */
	__u16 port_max; /* host byte order, inclusive */
	__u8 family;    /* MCG_FAMILY_IPV4 or MCG_FAMILY_IPV6; 0 = unused */
	__u8 protocols; /* MCG_PROTO_* bits; 0 = matches nothing */
	__u8 prefix_len;
	__u8 pad;
};
_Static_assert(sizeof(struct mcg_rule) == 40, "struct mcg_rule is ABI");

/*
 * A guard's policy, one per guarded cgroup in cgroup local storage.
 * guard_cgroup_id is written by user space so events can name the guard;
 * it is 0 in the moment between the first attach and the policy write.
 */
struct mcg_policy {
	__u64 guard_cgroup_id;
	__u64 generation; /* increments on every policy write */
	__u8 mode;        /* enum mcg_mode */
	__u8 wildcard;    /* enum mcg_wildcard */
	__u8 wildcard6;   /* enum mcg_wildcard6 */
	__u8 bind_count;  /* entries used in bind[] */
	__u8 connect_count; /* entries used in connect[], for connect and send */
	__u8 backstop;    /* enum mcg_backstop */
	__u8 pad[2];
	struct mcg_rule bind[MCG_MAX_RULES];
	struct mcg_rule connect[MCG_MAX_RULES];
};
_Static_assert(sizeof(struct mcg_policy) == 24 + 2 * MCG_MAX_RULES * 40,
	       "struct mcg_policy is ABI");

/* A guard's counters, per CPU in per-CPU cgroup local storage. */
struct mcg_counters {
	__u64 count[MCG_HOOK_COUNT][MCG_COUNTER_COUNT];
};
_Static_assert(sizeof(struct mcg_counters) == 9 * 5 * 8, "struct mcg_counters is ABI");

/*
 * One ring-buffer record per decision that is not a plain allow.
 * family is the socket's family; an IPv4-mapped address on an AF_INET6 socket
 * keeps family 6 and its ::ffff: form in addr. new_addr is set for
 * MCG_VERDICT_REWRITTEN only. For the listen hook, addr and port are the
 * listener's local address and the port the kernel chose; for setsockopt,
 * addr is zero and port is the option name.
 */
struct mcg_event {
	__u16 version;    /* MCG_EVENT_VERSION */
	__u8 hook;        /* enum mcg_hook */
	__u8 verdict;     /* enum mcg_verdict */
	__u8 family;      /* MCG_FAMILY_IPV4 or MCG_FAMILY_IPV6 */
	__u8 protocol;    /* IPPROTO_TCP, IPPROTO_UDP, ... */
	__u16 port;       /* host byte order */
	__u32 pid;        /* thread group id of the caller */
	__u32 uid;
	__u64 time_ns;    /* CLOCK_BOOTTIME */
	__u64 cgroup_id;  /* cgroup of the calling process */
	__u64 guard_cgroup_id; /* cgroup of the guard that decided */
	__u8 addr[16];    /* network byte order; IPv4 in the first 4 bytes */
	__u8 new_addr[16];
	char comm[MCG_COMM_LEN];
};
_Static_assert(sizeof(struct mcg_event) == 88, "struct mcg_event is ABI");

#endif /* MCGUARD_H */
