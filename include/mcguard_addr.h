/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Address classification and allow-list matching, shared by the BPF programs
 * and the unit tests so that the tests run the exact logic the kernel runs.
 * Pure static inline code: no kernel, libc or libbpf dependency.
 *
 * All addresses are in network byte order, as struct bpf_sock_addr carries
 * them: an IPv4 address is one __u32, an IPv6 address four.
 */
#ifndef MCGUARD_ADDR_H
#define MCGUARD_ADDR_H

#include "mcguard.h"

#ifndef MCG_INLINE
#define MCG_INLINE static inline __attribute__((always_inline))
#endif

/* Byte swap without libc; the BPF target and the host share their byte order. */
MCG_INLINE __u32 mcg_ntohl(__u32 x)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap32(x);
#else
	return x;
#endif
}

#define mcg_htonl mcg_ntohl

/* 127.0.0.0/8. */
MCG_INLINE int mcg_ip4_is_loopback(__u32 ip)
{
	return (mcg_ntohl(ip) >> 24) == 127;
}

/* 0.0.0.0. */
MCG_INLINE int mcg_ip4_is_any(__u32 ip)
{
	return ip == 0;
}

/* ::ffff:0.0.0.0/96; the IPv4 address is then ip6[3]. */
MCG_INLINE int mcg_ip6_is_v4mapped(const __u32 ip6[4])
{
	return ip6[0] == 0 && ip6[1] == 0 && ip6[2] == mcg_htonl(0x0000ffff);
}

/* ::1. */
MCG_INLINE int mcg_ip6_is_loopback(const __u32 ip6[4])
{
	return ip6[0] == 0 && ip6[1] == 0 && ip6[2] == 0 && ip6[3] == mcg_htonl(1);
}

/* ::. */
MCG_INLINE int mcg_ip6_is_any(const __u32 ip6[4])
{
	return ip6[0] == 0 && ip6[1] == 0 && ip6[2] == 0 && ip6[3] == 0;
}

/*
 * Loopback as a guard counts it: 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104.
 * IPv4-compatible (::127.0.0.1), NAT64, 6to4 and Teredo forms are not
 * loopback: the kernel routes them off the host.
 */
MCG_INLINE int mcg_ip6_is_loopback_any_form(const __u32 ip6[4])
{
	if (mcg_ip6_is_loopback(ip6))
		return 1;
	return mcg_ip6_is_v4mapped(ip6) && mcg_ip4_is_loopback(ip6[3]);
}

/* Wildcards: ::, and ::ffff:0.0.0.0, the IPv4 wildcard on an AF_INET6 socket. */
MCG_INLINE int mcg_ip6_is_wildcard(const __u32 ip6[4])
{
	if (mcg_ip6_is_any(ip6))
		return 1;
	return mcg_ip6_is_v4mapped(ip6) && ip6[3] == 0;
}

/* Protocol number to MCG_PROTO_* bit. */
MCG_INLINE __u8 mcg_proto_bit(__u32 protocol)
{
	if (protocol == 6) /* IPPROTO_TCP */
		return MCG_PROTO_TCP;
	if (protocol == 17) /* IPPROTO_UDP */
		return MCG_PROTO_UDP;
	return MCG_PROTO_OTHER;
}

/* Port and protocol part of a rule match. */
MCG_INLINE int mcg_rule_matches_l4(const struct mcg_rule *rule, __u16 port, __u8 proto_bit)
{
	if (!(rule->protocols & proto_bit))
		return 0;
	return port >= rule->port_min && port <= rule->port_max;
}

/* Does an IPv4 destination match one rule? Entries of another family never match. */
MCG_INLINE int mcg_rule_matches_ip4(const struct mcg_rule *rule, __u32 ip, __u16 port,
				    __u8 proto_bit)
{
	if (rule->family != MCG_FAMILY_IPV4)
		return 0;
	if ((ip & rule->mask[0]) != rule->addr[0])
		return 0;
	return mcg_rule_matches_l4(rule, port, proto_bit);
}

/* Does an IPv6 destination (not IPv4-mapped) match one rule? */
MCG_INLINE int mcg_rule_matches_ip6(const struct mcg_rule *rule, const __u32 ip6[4],
				    __u16 port, __u8 proto_bit)
{
	if (rule->family != MCG_FAMILY_IPV6)
		return 0;
	if ((ip6[0] & rule->mask[0]) != rule->addr[0] || (ip6[1] & rule->mask[1]) != rule->addr[1] ||
	    (ip6[2] & rule->mask[2]) != rule->addr[2] || (ip6[3] & rule->mask[3]) != rule->addr[3])
		return 0;
	return mcg_rule_matches_l4(rule, port, proto_bit);
}

/*
 * Search the first count entries of a list. The loop has a constant bound so
 * the verifier accepts it; entries past count are never read.
 */
MCG_INLINE int mcg_rules_match_ip4(const struct mcg_rule rules[MCG_MAX_RULES], __u8 count,
				   __u32 ip, __u16 port, __u8 proto_bit)
{
	for (int i = 0; i < MCG_MAX_RULES; i++) {
		if (i >= count)
			break;
		if (mcg_rule_matches_ip4(&rules[i], ip, port, proto_bit))
			return 1;
	}
	return 0;
}

MCG_INLINE int mcg_rules_match_ip6(const struct mcg_rule rules[MCG_MAX_RULES], __u8 count,
				   const __u32 ip6[4], __u16 port, __u8 proto_bit)
{
	for (int i = 0; i < MCG_MAX_RULES; i++) {
		if (i >= count)
			break;
		if (mcg_rule_matches_ip6(&rules[i], ip6, port, proto_bit))
			return 1;
	}
	return 0;
}

/*
 * Match an address from an AF_INET6 socket: IPv4-mapped addresses are judged
 * against the IPv4 entries, because the kernel sends them as IPv4.
 */
MCG_INLINE int mcg_rules_match_sock6(const struct mcg_rule rules[MCG_MAX_RULES], __u8 count,
				     const __u32 ip6[4], __u16 port, __u8 proto_bit)
{
	if (mcg_ip6_is_v4mapped(ip6))
		return mcg_rules_match_ip4(rules, count, ip6[3], port, proto_bit);
	return mcg_rules_match_ip6(rules, count, ip6, port, proto_bit);
}

/*
 * Classes of a destination for connect and send. Wildcard destinations are
 * delivered locally by the kernel, so they count as local.
 */
MCG_INLINE int mcg_ip4_dest_is_local(__u32 ip)
{
	return mcg_ip4_is_loopback(ip) || mcg_ip4_is_any(ip);
}

MCG_INLINE int mcg_ip6_dest_is_local(const __u32 ip6[4])
{
	return mcg_ip6_is_loopback_any_form(ip6) || mcg_ip6_is_wildcard(ip6);
}

#endif /* MCGUARD_ADDR_H */
