// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * skb-attach: load the cgroup_skb egress filter, fill its tries and attach it
 * to one cgroup through a bpf_link pinned at --pin. Removing the pin detaches
 * the filter; so does removing the cgroup.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench.h"
#include "skb_filter.skel.h"

struct key6 {
	__u32 prefix_len;
	__u8 addr[16];
};

/* Add "ADDRESS/PREFIX" to the IPv4 or IPv6 trie of its family. */
static void add_cidr(int trie4, int trie6, const char *text)
{
	char address[64];
	const char *slash = strchr(text, '/');
	struct key6 key = { 0 };
	__u8 value = 1;
	int family, fd;
	long prefix;

	if (!slash || (size_t)(slash - text) >= sizeof(address))
		die(0, "invalid CIDR '%s': expected ADDRESS/PREFIX", text);
	memcpy(address, text, slash - text);
	address[slash - text] = '\0';
	family = strchr(address, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(family, address, key.addr) != 1)
		die(0, "invalid address in '%s'", text);
	prefix = parse_long("prefix length", slash + 1, 0, family == AF_INET ? 32 : 128);
	key.prefix_len = prefix;
	fd = family == AF_INET ? trie4 : trie6;
	/* The IPv4 key is the same layout cut after four address bytes. */
	if (bpf_map_update_elem(fd, &key, &value, BPF_ANY))
		die(errno, "add %s to the filter", text);
}

int cmd_skb_attach(int argc, char **argv)
{
	static const struct option options[] = {
		{ "cgroup", required_argument, NULL, 'c' }, { "pin", required_argument, NULL, 'p' },
		{ "allow", required_argument, NULL, 'a' },  { "deny", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cgroup = NULL, *pin = NULL, *allow[32], *deny[32];
	int allow_count = 0, deny_count = 0, cgroup_fd, opt;
	struct skb_filter_bpf *skel;
	struct bpf_link *link;

	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			cgroup = optarg;
			break;
		case 'p':
			pin = optarg;
			break;
		case 'a':
			if (allow_count < 32)
				allow[allow_count++] = optarg;
			break;
		case 'd':
			if (deny_count < 32)
				deny[deny_count++] = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (!cgroup || !pin || optind != argc)
		goto usage;

	skel = skb_filter_bpf__open_and_load();
	if (!skel)
		die(errno, "load the cgroup_skb filter");
	for (int i = 0; i < allow_count; i++)
		add_cidr(bpf_map__fd(skel->maps.allow4), bpf_map__fd(skel->maps.allow6), allow[i]);
	for (int i = 0; i < deny_count; i++)
		add_cidr(bpf_map__fd(skel->maps.deny4), bpf_map__fd(skel->maps.deny6), deny[i]);

	cgroup_fd = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgroup_fd < 0)
		die(errno, "open cgroup %s", cgroup);
	link = bpf_program__attach_cgroup(skel->progs.bench_skb_egress, cgroup_fd);
	if (!link)
		die(errno, "attach the cgroup_skb filter to %s", cgroup);
	if (bpf_link__pin(link, pin))
		die(errno, "pin the filter's link at %s", pin);
	bpf_link__destroy(link);
	close(cgroup_fd);
	skb_filter_bpf__destroy(skel);
	return 0;

usage:
	fprintf(stderr, "Usage: mcgbench skb-attach --cgroup DIR --pin BPFFS_PATH [--allow CIDR]... [--deny CIDR]...\n");
	return 2;
}
