/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Netfilter rules as verify needs them: DNAT targets of the nat table and
 * the destination ports that filter rules match, parsed from the output of
 * `nft -j list ruleset` and of iptables-save. Pure parsing, no I/O.
 *
 * iptables-nft rules can show up in nft's JSON with their DNAT target as an
 * opaque "xt" expression. Such a rule is kept as a DNAT with an unknown
 * destination and xt set. iptables-nft-save shows its destination, so
 * mcg_nf_drop_xt removes the placeholders once that output was read.
 */
#ifndef MCG_NETFILTER_H
#define MCG_NETFILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#define MCG_NF_MAX_PORT_RANGES 16

/* Address families a rule applies to. */
#define MCG_NF_IPV4 0x1
#define MCG_NF_IPV6 0x2

enum mcg_nf_kind {
	MCG_NF_OTHER = 0,
	MCG_NF_NAT,    /* the nat table, or an nft chain of type nat */
	MCG_NF_FILTER, /* the filter table, or an nft chain of type filter */
};

/* A port range, host byte order, both ends included. */
struct mcg_port_range {
	__u16 min, max;
};

struct mcg_nf_rule {
	unsigned int families; /* MCG_NF_IPV4 and MCG_NF_IPV6 bits */
	int kind;              /* enum mcg_nf_kind */
	/* Destination ports the rule matches. With dport_count 0 it matches every port. */
	struct mcg_port_range dports[MCG_NF_MAX_PORT_RANGES];
	unsigned int dport_count;
	bool has_dnat;
	bool dnat_unknown;     /* a DNAT whose destination could not be decoded, such as a map lookup */
	bool xt;               /* nft listed the DNAT as an iptables "xt" target; iptables-nft-save decodes it */
	int dnat_family;       /* AF_INET or AF_INET6 */
	__u8 dnat_min[16];     /* address range in network byte order, min == max for one address */
	__u8 dnat_max[16];
	struct mcg_port_range dnat_ports; /* {0, 0}: DNAT keeps the destination port */
	char text[320];        /* where the rule is and what it does, for reports */
};

struct mcg_nf_rules {
	struct mcg_nf_rule *items;
	size_t count;
};

/*
 * Append the rules of `nft -j list ruleset` output. source names the tool in
 * each rule's text. Returns 0, or -EINVAL with a message in error[size].
 */
int mcg_nf_parse_nft_json(const char *json, const char *source, struct mcg_nf_rules *rules,
			  char *error, size_t size);

/*
 * Append the rules of iptables-save (family AF_INET) or ip6tables-save
 * (AF_INET6) output. Returns 0 or -ENOMEM.
 */
int mcg_nf_parse_iptables_save(const char *text, int family, const char *source,
			       struct mcg_nf_rules *rules);

void mcg_nf_rules_free(struct mcg_nf_rules *rules);

/* Remove the "xt" DNAT placeholders, after iptables-nft-save listed those rules. */
void mcg_nf_drop_xt(struct mcg_nf_rules *rules);

/* Does the rule match packets to port? A rule with no port match matches every port. */
bool mcg_nf_rule_matches_port(const struct mcg_nf_rule *rule, __u16 port);

/*
 * Does the rule's DNAT send packets to address addr (family AF_INET or
 * AF_INET6, network byte order)? False for a rule without a decoded DNAT.
 */
bool mcg_nf_dnat_reaches(const struct mcg_nf_rule *rule, int family, const void *addr);

/*
 * Can the rule's DNAT deliver to port? With a port in the DNAT, that port
 * range counts; without, the destination port stays, so the rule's own port
 * match counts.
 */
bool mcg_nf_dnat_reaches_port(const struct mcg_nf_rule *rule, __u16 port);

#endif
