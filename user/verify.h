/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* State shared by the checks of "mcguard verify". */
#ifndef MCG_VERIFY_H
#define MCG_VERIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"
#include "mcguard.h"
#include "netfilter.h"
#include "netns.h"
#include "report.h"
#include "scan.h"
#include "target.h"

enum verify_check {
	CHECK_GUARD,      /* the guard is in effect per the kernel */
	CHECK_SOCKETS,    /* listeners of the catcher's processes, in their namespaces */
	CHECK_ENGINE,     /* the engine's published ports */
	CHECK_PUBLISHERS, /* port publishers listening on the host side */
	CHECK_NAT,        /* DNAT rules toward the catcher */
	CHECK_IPV6,       /* IPv4-only filter rules on a host with IPv6 */
	CHECK_COUNT,
};

#define VERIFY_MAX_GUARDS 16
#define VERIFY_MAX_NETNS 40
#define VERIFY_MAX_PORTS 1024

struct verify_address {
	int family; /* AF_INET or AF_INET6 */
	__u8 addr[16];
};

/* A network namespace that a check looks at: the host side, the catcher's, or both. */
struct verify_netns {
	char path[PATH_MAX];
	char label[PATH_MAX + 32];   /* for reports */
	struct mcg_netns_id id;
	bool identified;
	bool is_host;                /* given by --host-netns, or mcguard's own by default */
	bool is_catcher;             /* processes of the cgroup live in it */
	struct verify_address *addrs; /* its interface addresses */
	size_t addr_count;
	int addrs_error;             /* errno from reading them, or 0 */
	bool rules_read;
	struct mcg_nf_rules rules;
	char rules_problem[512];     /* why its netfilter rules could not be read in full */
	bool nft_save_ran;           /* iptables-nft-save or ip6tables-nft-save ran */
	bool nft_save_incomplete;    /* and it left out a table it could not show */
};

struct verify_ctx {
	const struct mcg_cli *cli;
	struct mcg_target target;
	bool root;
	struct mcg_check checks[CHECK_COUNT];
	/* The guards on the cgroup and its parents, innermost first. */
	struct mcg_policy policies[VERIFY_MAX_GUARDS];
	int guard_count;
	struct mcg_cgroup_sockets sockets;
	bool sockets_listed;
	__u16 ports[VERIFY_MAX_PORTS]; /* the catcher's ports, sorted */
	size_t port_count;
	struct verify_netns netns[VERIFY_MAX_NETNS];
	size_t netns_count;
};

/* Add a port of the catcher; duplicates are ignored. */
void verify_add_port(struct verify_ctx *ctx, __u16 port);

/* "1025, 1080" into buf, or "none". */
char *verify_ports_text(const struct verify_ctx *ctx, char *buf, size_t size);

/* The host-side checks and the IPv6 check, in verify_host.c. */
void verify_setup_netns(struct verify_ctx *ctx);
void verify_check_publishers(struct verify_ctx *ctx);
void verify_check_nat(struct verify_ctx *ctx);
void verify_check_ipv6(struct verify_ctx *ctx);
void verify_free_netns(struct verify_ctx *ctx);

#endif
