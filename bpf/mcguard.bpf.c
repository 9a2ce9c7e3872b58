// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * mcguard's cgroup programs: keep binds on loopback, keep connects and
 * datagrams off remote hosts, contain listeners the kernel bound itself, and
 * hold every socket to the loopback device as a backstop. The data model is
 * in mcguard.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#include "mcguard.h"
#include "mcguard_addr.h"

/* Return values of a cgroup sock_addr program. */
#define SOCK_DENY 0  /* the syscall fails with EPERM */
#define SOCK_ALLOW 1

/* Return values of cgroup sock, sock_ops and sockopt programs. */
#define PROG_REJECT 0
#define PROG_PROCEED 1

#define AF_INET 2
#define AF_INET6 10
#define SOL_SOCKET 1
#define SO_BINDTODEVICE 25
#define SO_BINDTOIFINDEX 62
/* The loopback device has this index in every network namespace. */
#define LOOPBACK_IFINDEX 1
#define SOCKOPT_MAX_INSPECTED 4096 /* PAGE_SIZE on x86_64 and arm64 with 4K pages */

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* One policy per guarded cgroup; the __u64 key shares it across all six hooks. */
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_STORAGE);
	__type(key, __u64);
	__type(value, struct mcg_policy);
} mcg_policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE);
	__type(key, __u64);
	__type(value, struct mcg_counters);
} mcg_counters SEC(".maps");

#define MCG_RING_SIZE (4 << 20)
/*
 * Waking the reader on every event costs microseconds per denied call and
 * caps a flood, so events are submitted without a wakeup. The reader drains
 * on a short timer, and a ring filled beyond this wakes it at once.
 */
#define MCG_RING_WAKEUP_BYTES (MCG_RING_SIZE / 8)

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, MCG_RING_SIZE);
} mcg_events SEC(".maps");

/* Addresses of one call: IPv4 in ip6[0] for family 4. */
struct mcg_call {
	__u32 ip6[4];
	__u32 new_ip6[4];
	__u16 port;
	__u8 hook;
	__u8 family;
	__u8 protocol;
};

static __always_inline void mcg_count(__u8 hook, __u8 counter)
{
	struct mcg_counters *counters = bpf_get_local_storage(&mcg_counters, 0);

	/* The bound check is for the verifier; callers pass constants. */
	if (hook < MCG_HOOK_COUNT && counter < MCG_COUNTER_COUNT)
		counters->count[hook][counter]++;
}

static __always_inline __u8 mcg_verdict_counter(__u8 verdict)
{
	switch (verdict) {
	case MCG_VERDICT_REWRITTEN:
		return MCG_COUNTER_REWRITTEN;
	case MCG_VERDICT_AUDITED:
		return MCG_COUNTER_AUDITED;
	case MCG_VERDICT_CONTAINED:
		return MCG_COUNTER_CONTAINED;
	default:
		return MCG_COUNTER_DENIED;
	}
}

/*
 * Submit an event without waking the reader, except for the one event that
 * takes the ring's fill past the threshold: waking on every event above it
 * would cost each denied call about 6 us while the reader is behind
 * (bench/, BENCHMARKS.md). The reader's drain timer picks up the rest.
 */
static __always_inline void mcg_submit(struct mcg_event *event)
{
	__u64 avail = bpf_ringbuf_query(&mcg_events, BPF_RB_AVAIL_DATA);
	/* A ring record is the event plus an 8-byte header, rounded to 8 bytes. */
	__u64 record = sizeof(*event) + 8;

	bpf_ringbuf_submit(event, avail > MCG_RING_WAKEUP_BYTES &&
					  avail <= MCG_RING_WAKEUP_BYTES + record
				  ? BPF_RB_FORCE_WAKEUP
				  : BPF_RB_NO_WAKEUP);
}

/* Count a decision and send its event; a full ring buffer only costs the event. */
static __always_inline void mcg_report(const struct mcg_policy *policy, const struct mcg_call *call,
				       __u8 verdict)
{
	struct mcg_event *event;

	mcg_count(call->hook, mcg_verdict_counter(verdict));

	event = bpf_ringbuf_reserve(&mcg_events, sizeof(*event), 0);
	if (!event) {
		mcg_count(call->hook, MCG_COUNTER_DROPPED);
		return;
	}

	event->version = MCG_EVENT_VERSION;
	event->hook = call->hook;
	event->verdict = verdict;
	event->family = call->family;
	event->protocol = call->protocol;
	event->port = call->port;
	event->pid = bpf_get_current_pid_tgid() >> 32;
	event->uid = (__u32)bpf_get_current_uid_gid();
	event->time_ns = bpf_ktime_get_boot_ns();
	event->cgroup_id = bpf_get_current_cgroup_id();
	event->guard_cgroup_id = policy->guard_cgroup_id;
	__builtin_memcpy(event->addr, call->ip6, sizeof(event->addr));
	__builtin_memcpy(event->new_addr, call->new_ip6, sizeof(event->new_addr));
	bpf_get_current_comm(event->comm, sizeof(event->comm));
	mcg_submit(event);
}

/* A call that no loopback rule and no allow-list entry let through. */
static __always_inline int mcg_deny_or_audit(const struct mcg_policy *policy, const struct mcg_call *call)
{
	if (policy->mode == MCG_MODE_AUDIT) {
		mcg_report(policy, call, MCG_VERDICT_AUDITED);
		return SOCK_ALLOW;
	}
	mcg_report(policy, call, MCG_VERDICT_DENIED);
	return SOCK_DENY;
}

static __always_inline void mcg_load_ip6(struct bpf_sock_addr *ctx, struct mcg_call *call)
{
	/* The context allows only 4-byte loads of user_ip6, one word at a time. */
	call->ip6[0] = ctx->user_ip6[0];
	call->ip6[1] = ctx->user_ip6[1];
	call->ip6[2] = ctx->user_ip6[2];
	call->ip6[3] = ctx->user_ip6[3];
}

static __always_inline void mcg_store_ip6(struct bpf_sock_addr *ctx, const __u32 ip6[4])
{
	ctx->user_ip6[0] = ip6[0];
	ctx->user_ip6[1] = ip6[1];
	ctx->user_ip6[2] = ip6[2];
	ctx->user_ip6[3] = ip6[3];
}

/*
 * IPV6_V6ONLY of the socket being bound. bpf_getsockopt() does not serve this
 * option in bind hooks, so read the flag from the socket through BTF.
 */
static __always_inline int mcg_sock_is_v6only(struct bpf_sock_addr *ctx)
{
	struct bpf_sock *sk = ctx->sk;
	struct tcp6_sock *tcp6;
	struct udp6_sock *udp6;

	if (!sk)
		return 0;
	tcp6 = bpf_skc_to_tcp6_sock(sk);
	if (tcp6)
		return BPF_CORE_READ_BITFIELD(&tcp6->tcp.inet_conn.icsk_inet.sk.__sk_common,
					      skc_ipv6only);
	udp6 = bpf_skc_to_udp6_sock(sk);
	if (udp6)
		return BPF_CORE_READ_BITFIELD(&udp6->udp.inet.sk.__sk_common, skc_ipv6only);
	return 0;
}

SEC("cgroup/bind4")
int mcg_bind4(struct bpf_sock_addr *ctx)
{
	struct mcg_call call = { .hook = MCG_HOOK_BIND4, .family = MCG_FAMILY_IPV4 };
	struct mcg_policy *policy;

	call.ip6[0] = ctx->user_ip4;
	if (mcg_ip4_is_loopback(call.ip6[0]))
		return SOCK_ALLOW;

	call.port = bpf_ntohs(ctx->user_port);
	call.protocol = ctx->protocol;
	policy = bpf_get_local_storage(&mcg_policy, 0);
	if (mcg_rules_match_ip4(policy->bind, policy->bind_count, call.ip6[0], call.port,
				mcg_proto_bit(ctx->protocol)))
		return SOCK_ALLOW;

	if (mcg_ip4_is_any(call.ip6[0]) && policy->wildcard == MCG_WILDCARD_LOOPBACK &&
	    policy->mode == MCG_MODE_ENFORCE) {
		call.new_ip6[0] = bpf_htonl(0x7f000001);
		ctx->user_ip4 = call.new_ip6[0];
		mcg_report(policy, &call, MCG_VERDICT_REWRITTEN);
		return SOCK_ALLOW;
	}
	return mcg_deny_or_audit(policy, &call);
}

SEC("cgroup/bind6")
int mcg_bind6(struct bpf_sock_addr *ctx)
{
	struct mcg_call call = { .hook = MCG_HOOK_BIND6, .family = MCG_FAMILY_IPV6 };
	struct mcg_policy *policy;

	mcg_load_ip6(ctx, &call);
	if (mcg_ip6_is_loopback_any_form(call.ip6))
		return SOCK_ALLOW;

	call.port = bpf_ntohs(ctx->user_port);
	call.protocol = ctx->protocol;
	policy = bpf_get_local_storage(&mcg_policy, 0);
	if (mcg_rules_match_sock6(policy->bind, policy->bind_count, call.ip6, call.port,
				  mcg_proto_bit(ctx->protocol)))
		return SOCK_ALLOW;

	if (mcg_ip6_is_wildcard(call.ip6) && policy->wildcard == MCG_WILDCARD_LOOPBACK &&
	    policy->mode == MCG_MODE_ENFORCE) {
		/* "::ffff:0.0.0.0" is the IPv4 wildcard, so it gets IPv4 loopback. */
		int mapped = mcg_ip6_is_v4mapped(call.ip6) ||
			     (policy->wildcard6 == MCG_WILDCARD6_MAPPED && !mcg_sock_is_v6only(ctx));

		if (mapped) {
			call.new_ip6[2] = bpf_htonl(0x0000ffff);
			call.new_ip6[3] = bpf_htonl(0x7f000001);
		} else {
			call.new_ip6[3] = bpf_htonl(1);
		}
		mcg_store_ip6(ctx, call.new_ip6);
		mcg_report(policy, &call, MCG_VERDICT_REWRITTEN);
		return SOCK_ALLOW;
	}
	return mcg_deny_or_audit(policy, &call);
}

/* connect4 and sendmsg4: local destinations pass without a policy lookup. */
static __always_inline int mcg_judge_dest4(struct bpf_sock_addr *ctx, __u8 hook)
{
	struct mcg_call call = { .hook = hook, .family = MCG_FAMILY_IPV4 };
	struct mcg_policy *policy;

	call.ip6[0] = ctx->user_ip4;
	if (mcg_ip4_dest_is_local(call.ip6[0]))
		return SOCK_ALLOW;

	call.port = bpf_ntohs(ctx->user_port);
	call.protocol = ctx->protocol;
	policy = bpf_get_local_storage(&mcg_policy, 0);
	if (mcg_rules_match_ip4(policy->connect, policy->connect_count, call.ip6[0], call.port,
				mcg_proto_bit(ctx->protocol)))
		return SOCK_ALLOW;
	return mcg_deny_or_audit(policy, &call);
}

/* connect6 and sendmsg6: IPv4-mapped destinations are judged as IPv4. */
static __always_inline int mcg_judge_dest6(struct bpf_sock_addr *ctx, __u8 hook)
{
	struct mcg_call call = { .hook = hook, .family = MCG_FAMILY_IPV6 };
	struct mcg_policy *policy;

	mcg_load_ip6(ctx, &call);
	if (mcg_ip6_dest_is_local(call.ip6))
		return SOCK_ALLOW;

	call.port = bpf_ntohs(ctx->user_port);
	call.protocol = ctx->protocol;
	policy = bpf_get_local_storage(&mcg_policy, 0);
	if (mcg_rules_match_sock6(policy->connect, policy->connect_count, call.ip6, call.port,
				  mcg_proto_bit(ctx->protocol)))
		return SOCK_ALLOW;
	return mcg_deny_or_audit(policy, &call);
}

SEC("cgroup/connect4")
int mcg_connect4(struct bpf_sock_addr *ctx)
{
	return mcg_judge_dest4(ctx, MCG_HOOK_CONNECT4);
}

SEC("cgroup/connect6")
int mcg_connect6(struct bpf_sock_addr *ctx)
{
	return mcg_judge_dest6(ctx, MCG_HOOK_CONNECT6);
}

SEC("cgroup/sendmsg4")
int mcg_sendmsg4(struct bpf_sock_addr *ctx)
{
	return mcg_judge_dest4(ctx, MCG_HOOK_SENDMSG4);
}

SEC("cgroup/sendmsg6")
int mcg_sendmsg6(struct bpf_sock_addr *ctx)
{
	return mcg_judge_dest6(ctx, MCG_HOOK_SENDMSG6);
}

/* Is the listener's local address a wildcard, in either family? */
static __always_inline int mcg_listener_is_wildcard(struct bpf_sock_ops *skops, struct mcg_call *call)
{
	if (skops->family == AF_INET) {
		call->family = MCG_FAMILY_IPV4;
		call->ip6[0] = skops->local_ip4;
		return mcg_ip4_is_any(call->ip6[0]);
	}
	if (skops->family != AF_INET6)
		return 0;
	call->family = MCG_FAMILY_IPV6;
	call->ip6[0] = skops->local_ip6[0];
	call->ip6[1] = skops->local_ip6[1];
	call->ip6[2] = skops->local_ip6[2];
	call->ip6[3] = skops->local_ip6[3];
	return mcg_ip6_is_wildcard(call->ip6);
}

/*
 * A TCP socket that calls listen() without bind() gets a wildcard address
 * and an ephemeral port from the kernel, and no bind hook runs. Pin such a
 * listener to the loopback device so no other interface reaches it.
 */
SEC("sockops")
int mcg_listen(struct bpf_sock_ops *skops)
{
	struct mcg_call call = { .hook = MCG_HOOK_LISTEN, .protocol = 6 /* IPPROTO_TCP */ };
	struct mcg_policy *policy;
	char device[] = "lo";

	if (skops->op != BPF_SOCK_OPS_TCP_LISTEN_CB || !mcg_listener_is_wildcard(skops, &call))
		return PROG_PROCEED;

	call.port = skops->local_port;
	policy = bpf_get_local_storage(&mcg_policy, 0);
	if (call.family == MCG_FAMILY_IPV4 ?
		    mcg_rules_match_ip4(policy->bind, policy->bind_count, call.ip6[0], call.port,
					MCG_PROTO_TCP) :
		    mcg_rules_match_sock6(policy->bind, policy->bind_count, call.ip6, call.port,
					  MCG_PROTO_TCP))
		return PROG_PROCEED;

	if (policy->mode == MCG_MODE_AUDIT) {
		mcg_report(policy, &call, MCG_VERDICT_AUDITED);
		return PROG_PROCEED;
	}
	/* With the backstop on, the socket is on lo already; this makes sure either way. */
	bpf_setsockopt(skops, SOL_SOCKET, SO_BINDTODEVICE, device, sizeof(device));
	mcg_report(policy, &call, MCG_VERDICT_CONTAINED);
	return PROG_PROCEED;
}

/* The backstop: bind every new inet socket to the loopback device. */
SEC("cgroup/sock_create")
int mcg_sock_create(struct bpf_sock *sk)
{
	struct mcg_policy *policy = bpf_get_local_storage(&mcg_policy, 0);

	if (policy->backstop == MCG_BACKSTOP_ON && policy->mode == MCG_MODE_ENFORCE)
		sk->bound_dev_if = LOOPBACK_IFINDEX;
	return PROG_PROCEED;
}

/* The backstop's other half: a guarded process may not move a socket off lo. */
SEC("cgroup/setsockopt")
int mcg_setsockopt(struct bpf_sockopt *ctx)
{
	struct mcg_call call = { .hook = MCG_HOOK_SETSOCKOPT };
	struct mcg_policy *policy;
	struct bpf_sock *sk;

	/* The program reads no option value; above this size the kernel keeps the caller's. */
	if (ctx->optlen > SOCKOPT_MAX_INSPECTED)
		ctx->optlen = 0;

	if (ctx->level != SOL_SOCKET ||
	    (ctx->optname != SO_BINDTODEVICE && ctx->optname != SO_BINDTOIFINDEX))
		return PROG_PROCEED;
	policy = bpf_get_local_storage(&mcg_policy, 0);
	if (policy->backstop != MCG_BACKSTOP_ON)
		return PROG_PROCEED;

	sk = ctx->sk;
	if (sk) {
		call.family = sk->family == AF_INET6 ? MCG_FAMILY_IPV6 : MCG_FAMILY_IPV4;
		call.protocol = sk->protocol;
	}
	call.port = ctx->optname;
	return mcg_deny_or_audit(policy, &call) == SOCK_ALLOW ? PROG_PROCEED : PROG_REJECT;
}
