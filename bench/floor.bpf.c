// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The kernel's share of the guard's cost, for bench/run.sh: programs that do
 * nothing but what the kernel charges for. Compared with the guard's own
 * programs in the same run, they separate the cost of running any program
 * at a hook, and of a socket held to a device, from the cost of mcguard's
 * code. The benchmark attaches them only to cgroups of its own.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define PROG_PROCEED 1
#define LOOPBACK_IFINDEX 1

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* A sock_create program that leaves the socket as it is. */
SEC("cgroup/sock_create")
int floor_create_noop(struct bpf_sock *sk)
{
	return PROG_PROCEED;
}

/* A sock_create program that binds the socket to lo, with no policy lookup. */
SEC("cgroup/sock_create")
int floor_create_lo(struct bpf_sock *sk)
{
	sk->bound_dev_if = LOOPBACK_IFINDEX;
	return PROG_PROCEED;
}

/* A sock_ops program that returns at once, for every callback. */
SEC("sockops")
int floor_sock_ops_noop(struct bpf_sock_ops *skops)
{
	return PROG_PROCEED;
}
