// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Socket calls through io_uring instead of syscalls, for the guard tests.
 * Debian 12's liburing and kernel headers lack the bind and listen
 * operations (kernel 6.11), so this builds submission entries directly.
 *
 * Usage: iouring_probe connect|bind|listen ADDRESS PORT [HOLD_SECONDS]
 * Prints one JSON line: {"op": ..., "res": N, "error": "EPERM" or null,
 * "port": local port}. For listen, ADDRESS "-" skips the bind, so the kernel
 * binds the wildcard address itself; the socket then stays open for
 * HOLD_SECONDS. Exit 0 after any result, 2 on bad usage, 77 when the kernel
 * lacks io_uring or the operation.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define OP_BIND 56   /* IORING_OP_BIND, kernel 6.11 */
#define OP_LISTEN 57 /* IORING_OP_LISTEN, kernel 6.11 */

struct ring {
	int fd;
	struct io_uring_sqe *sqes;
	unsigned *sq_tail, *sq_array, *cq_head, *cq_tail, cq_mask;
	struct io_uring_cqe *cqes;
};

static int ring_setup(struct ring *ring)
{
	struct io_uring_params params = { 0 };
	void *sq, *cq;

	ring->fd = syscall(__NR_io_uring_setup, 4, &params);
	if (ring->fd < 0)
		return -errno;
	sq = mmap(NULL, params.sq_off.array + params.sq_entries * sizeof(unsigned),
		  PROT_READ | PROT_WRITE, MAP_SHARED, ring->fd, IORING_OFF_SQ_RING);
	cq = mmap(NULL, params.cq_off.cqes + params.cq_entries * sizeof(struct io_uring_cqe),
		  PROT_READ | PROT_WRITE, MAP_SHARED, ring->fd, IORING_OFF_CQ_RING);
	ring->sqes = mmap(NULL, params.sq_entries * sizeof(struct io_uring_sqe),
			  PROT_READ | PROT_WRITE, MAP_SHARED, ring->fd, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || ring->sqes == MAP_FAILED)
		return -errno;
	ring->sq_tail = (unsigned *)((char *)sq + params.sq_off.tail);
	ring->sq_array = (unsigned *)((char *)sq + params.sq_off.array);
	ring->cq_head = (unsigned *)((char *)cq + params.cq_off.head);
	ring->cq_tail = (unsigned *)((char *)cq + params.cq_off.tail);
	ring->cq_mask = *(unsigned *)((char *)cq + params.cq_off.ring_mask);
	ring->cqes = (struct io_uring_cqe *)((char *)cq + params.cq_off.cqes);
	return 0;
}

/* Submit one entry and wait for its completion; returns the result field. */
static int ring_run(struct ring *ring, const struct io_uring_sqe *sqe)
{
	unsigned tail = *ring->sq_tail, head;
	int res;

	ring->sqes[0] = *sqe;
	ring->sq_array[tail & 3] = 0;
	__atomic_store_n(ring->sq_tail, tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, ring->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		return -errno;
	head = *ring->cq_head;
	res = ring->cqes[head & ring->cq_mask].res;
	__atomic_store_n(ring->cq_head, head + 1, __ATOMIC_RELEASE);
	return res;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage addr = { 0 };
	struct io_uring_sqe sqe = { 0 };
	socklen_t len = sizeof(struct sockaddr_in);
	struct ring ring;
	int family = AF_INET, fd, res;
	const char *op;

	if (argc < 4)
		return 2;
	op = argv[1];
	if (strchr(argv[2], ':')) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&addr;

		family = AF_INET6;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(atoi(argv[3]));
		inet_pton(AF_INET6, argv[2], &in6->sin6_addr);
		len = sizeof(*in6);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&addr;

		in->sin_family = AF_INET;
		in->sin_port = htons(atoi(argv[3]));
		if (strcmp(argv[2], "-"))
			inet_pton(AF_INET, argv[2], &in->sin_addr);
	}

	if (ring_setup(&ring)) {
		printf("{\"op\": \"%s\", \"res\": null, \"error\": \"no io_uring\"}\n", op);
		return 77;
	}
	fd = socket(family, SOCK_STREAM, 0);
	sqe.fd = fd;
	sqe.addr = (unsigned long)&addr;
	if (!strcmp(op, "connect")) {
		sqe.opcode = IORING_OP_CONNECT;
		sqe.off = len;
	} else if (!strcmp(op, "bind")) {
		sqe.opcode = OP_BIND;
		sqe.addr2 = len;
	} else if (!strcmp(op, "listen")) {
		if (strcmp(argv[2], "-")) {
			struct io_uring_sqe bind_sqe = sqe;

			bind_sqe.opcode = OP_BIND;
			bind_sqe.addr2 = len;
			ring_run(&ring, &bind_sqe);
		}
		sqe.opcode = OP_LISTEN;
		sqe.addr = 0; /* the kernel rejects listen entries with an address */
		sqe.len = 16; /* backlog */
	} else {
		return 2;
	}

	res = ring_run(&ring, &sqe);
	if (res == -EINVAL && strcmp(op, "connect")) {
		printf("{\"op\": \"%s\", \"res\": %d, \"error\": \"operation not supported\"}\n", op,
		       res);
		return 77;
	}
	len = sizeof(addr);
	getsockname(fd, (struct sockaddr *)&addr, &len);
	printf("{\"op\": \"%s\", \"res\": %d, \"error\": %s%s%s, \"port\": %d}\n", op, res,
	       res < 0 ? "\"" : "", res < 0 ? strerrorname_np(-res) : "null", res < 0 ? "\"" : "",
	       ntohs(((struct sockaddr_in *)&addr)->sin_port));
	fflush(stdout);
	if (argc > 4)
		sleep(atoi(argv[4]));
	return 0;
}
