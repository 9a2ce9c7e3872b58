// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The packet-filter way to keep a cgroup on loopback, for comparison with
 * mcguard: a cgroup_skb egress program that judges every packet the cgroup's
 * sockets send, in the manner of systemd's IPAddressAllow=/IPAddressDeny=.
 * It looks the destination up in an allow trie, then in a deny trie. The
 * benchmark attaches it only to a cgroup of its own.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define SKB_DROP 0
#define SKB_PASS 1

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct key4 {
	__u32 prefix_len;
	__u32 addr;
};

struct key6 {
	__u32 prefix_len;
	__u32 addr[4];
};

#define TRIE(name, key_type)                                                   \
	struct {                                                               \
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);                           \
		__type(key, key_type);                                         \
		__type(value, __u8);                                           \
		__uint(max_entries, 64);                                       \
		__uint(map_flags, BPF_F_NO_PREALLOC);                          \
	} name SEC(".maps")

TRIE(allow4, struct key4);
TRIE(deny4, struct key4);
TRIE(allow6, struct key6);
TRIE(deny6, struct key6);

/* The packet data of a cgroup_skb program starts at the network header. */
SEC("cgroup_skb/egress")
int bench_skb_egress(struct __sk_buff *skb)
{
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct key4 key = { .prefix_len = 32 };

		if (bpf_skb_load_bytes(skb, offsetof(struct iphdr, daddr), &key.addr, 4))
			return SKB_PASS;
		if (bpf_map_lookup_elem(&allow4, &key))
			return SKB_PASS;
		return bpf_map_lookup_elem(&deny4, &key) ? SKB_DROP : SKB_PASS;
	}
	if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct key6 key = { .prefix_len = 128 };

		if (bpf_skb_load_bytes(skb, offsetof(struct ipv6hdr, daddr), key.addr, 16))
			return SKB_PASS;
		if (bpf_map_lookup_elem(&allow6, &key))
			return SKB_PASS;
		return bpf_map_lookup_elem(&deny6, &key) ? SKB_DROP : SKB_PASS;
	}
	return SKB_PASS;
}
