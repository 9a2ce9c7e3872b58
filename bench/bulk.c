// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bulk: traffic from each configuration to a receiver in a peer network
 * namespace over a veth pair, to show what each guard or filter costs per
 * packet. mcguard judges connect() once and runs no program for the packets
 * of a connected socket, while the packet filters run for every packet.
 *
 *   tcp  write --mib MiB in 128 KiB writes, shut down, wait for the
 *        receiver's close; veth's segmentation offload makes most packets
 *        about 64 KiB
 *   udp  send --datagrams datagrams of --size bytes on a connected socket;
 *        each datagram is one packet
 *
 * A receiver process in --peer-netns discards what arrives on one TCP and
 * one UDP port of the same number. One worker per configuration sends to the
 * configuration's PEER address. Workers and receiver use different CPUs.
 * The cost is the sending thread's CPU time, which includes the veth receive
 * path that runs in its softirq context.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <linux/if_link.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define CHUNK (128 << 10)
#define RECEIVER_MAX_SECONDS 600
#define RECEIVER_RCVBUF (8 << 20)

struct request {
	int udp;
	uint64_t bytes;	   /* tcp */
	uint32_t datagrams; /* udp */
	uint32_t size;	   /* udp payload bytes */
	unsigned short port;
};

struct reply {
	uint64_t wall_ns;
	uint64_t cpu_ns;
	uint64_t packets; /* sent by all devices of the namespace but lo */
};

/* Packets sent by the namespace's devices other than lo, from rtnetlink statistics. */
static uint64_t tx_packets(void)
{
	struct ifaddrs *list, *ifa;
	uint64_t total = 0;

	if (getifaddrs(&list))
		die(errno, "getifaddrs");
	for (ifa = list; ifa; ifa = ifa->ifa_next) {
		if (!ifa->ifa_addr || ifa->ifa_addr->sa_family != AF_PACKET || !ifa->ifa_data ||
		    !strcmp(ifa->ifa_name, "lo"))
			continue;
		total += ((struct rtnl_link_stats *)ifa->ifa_data)->tx_packets;
	}
	freeifaddrs(list);
	return total;
}

static int connect_peer(const struct config *config, int type, unsigned short port)
{
	struct sockaddr_in peer = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die(errno, "bulk: socket");
	if (inet_pton(AF_INET, config->peer, &peer.sin_addr) != 1)
		die(0, "bulk: invalid peer address '%s' of configuration %s", config->peer,
		    config->name);
	if (connect(fd, (struct sockaddr *)&peer, sizeof(peer)))
		die(errno, "bulk %s: connect to %s", config->name, config->peer);
	return fd;
}

static void send_tcp(int fd, const struct config *config, uint64_t bytes)
{
	static char buffer[CHUNK];
	char byte;

	for (uint64_t sent = 0; sent < bytes;) {
		ssize_t n = write(fd, buffer, bytes - sent < CHUNK ? bytes - sent : CHUNK);

		if (n <= 0)
			die(errno, "bulk %s: write", config->name);
		sent += n;
	}
	shutdown(fd, SHUT_WR);
	/* The receiver closes after reading everything, so this returns 0 at the end. */
	if (read(fd, &byte, 1) != 0)
		die(errno, "bulk %s: wait for the receiver", config->name);
}

static void send_udp(int fd, const struct config *config, uint32_t datagrams, uint32_t size)
{
	static char buffer[65536];

	for (uint32_t i = 0; i < datagrams; i++)
		/* A full send queue on veth returns ENOBUFS; the datagram is lost, not sent. */
		if (send(fd, buffer, size, 0) < 0 && errno != ENOBUFS)
			die(errno, "bulk %s: send", config->name);
}

static void send_block(const struct config *config, const struct request *request,
		       struct reply *reply)
{
	int fd = connect_peer(config, request->udp ? SOCK_DGRAM : SOCK_STREAM, request->port);
	uint64_t wall, cpu, packets;

	packets = tx_packets();
	wall = now_ns();
	cpu = thread_cpu_ns();
	if (request->udp)
		send_udp(fd, config, request->datagrams, request->size);
	else
		send_tcp(fd, config, request->bytes);
	reply->cpu_ns = thread_cpu_ns() - cpu;
	reply->wall_ns = now_ns() - wall;
	reply->packets = tx_packets() - packets;
	close(fd);
}

static void serve(const struct config *config, int requests, int replies)
{
	struct request request;

	config_enter(config);
	while (read(requests, &request, sizeof(request)) == sizeof(request)) {
		struct reply reply;

		send_block(config, &request, &reply);
		if (write(replies, &reply, sizeof(reply)) != sizeof(reply))
			die(errno, "worker %s: reply", config->name);
	}
	exit(0);
}

/* The receiver: read each TCP connection to its end, and discard datagrams. */
static void run_receiver(int listener, int datagram_fd)
{
	static char buffer[CHUNK];
	uint64_t end = now_ns() + RECEIVER_MAX_SECONDS * 1000000000ull;

	while (now_ns() < end) {
		struct pollfd fds[2] = { { listener, POLLIN, 0 }, { datagram_fd, POLLIN, 0 } };
		int fd;

		if (poll(fds, 2, 1000) <= 0)
			continue;
		while (recv(datagram_fd, buffer, sizeof(buffer), MSG_DONTWAIT) > 0)
			;
		if (!(fds[0].revents & POLLIN))
			continue;
		fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		while (read(fd, buffer, sizeof(buffer)) > 0)
			;
		close(fd);
	}
	exit(0);
}

/* Open the receiver's sockets on the wildcard address of the peer namespace. */
static void open_receiver(int *listener, int *datagram_fd, unsigned short *port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t len = sizeof(addr);
	int size = RECEIVER_RCVBUF;

	*listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*listener < 0 || bind(*listener, (struct sockaddr *)&addr, sizeof(addr)) ||
	    listen(*listener, 16) || getsockname(*listener, (struct sockaddr *)&addr, &len))
		die(errno, "receiver: listen");
	*datagram_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (*datagram_fd < 0 || bind(*datagram_fd, (struct sockaddr *)&addr, sizeof(addr)))
		die(errno, "receiver: bind UDP port %u", ntohs(addr.sin_port));
	setsockopt(*datagram_fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	*port = ntohs(addr.sin_port);
}

/* Start the receiver in the peer namespace; returns its pid and its port. */
static pid_t start_receiver(const char *netns, int cpu, unsigned short *port)
{
	int ready[2], listener, datagram_fd;
	pid_t pid;

	if (pipe(ready))
		die(errno, "pipe");
	pid = fork();
	if (pid < 0)
		die(errno, "fork");
	if (pid == 0) {
		int fd = open(netns, O_RDONLY | O_CLOEXEC);

		end_with_parent();
		if (fd < 0 || setns(fd, CLONE_NEWNET))
			die(errno, "receiver: enter %s", netns);
		if (cpu >= 0)
			pin_cpu(cpu);
		open_receiver(&listener, &datagram_fd, port);
		if (write(ready[1], port, sizeof(*port)) != sizeof(*port))
			die(errno, "receiver: report the port");
		run_receiver(listener, datagram_fd);
	}
	if (read(ready[0], port, sizeof(*port)) != sizeof(*port))
		die(0, "the receiver did not start");
	close(ready[0]);
	close(ready[1]);
	return pid;
}

/* Summary rows; bytes is what one block sent, for the throughput column. */
static void print_rows(const char *proto, const struct config *configs, int count,
		       const struct reply *replies, int cycles, double bytes)
{
	double *cpu = calloc(cycles, sizeof(*cpu)), *diffs = calloc(cycles, sizeof(*diffs));
	double *packets = calloc(cycles, sizeof(*packets)), *ratios = calloc(cycles, sizeof(*ratios));
	double *gbit = calloc(cycles, sizeof(*gbit));

	if (!cpu || !diffs || !packets || !ratios || !gbit)
		die(ENOMEM, "allocate the summary");
	for (int k = 0; k < count; k++) {
		struct summary per_packet, diff, pkt, ratio, rate;

		for (int c = 0; c < cycles; c++) {
			const struct reply *r = &replies[c * count + k], *base = &replies[c * count];
			double base_per_packet = (double)base->cpu_ns / base->packets;

			cpu[c] = (double)r->cpu_ns / r->packets;
			diffs[c] = cpu[c] - base_per_packet;
			ratios[c] = cpu[c] / base_per_packet;
			packets[c] = r->packets;
			gbit[c] = bytes * 8.0 / r->wall_ns;
		}
		summarize(cpu, cycles, &per_packet);
		summarize(diffs, cycles, &diff);
		summarize(packets, cycles, &pkt);
		summarize(ratios, cycles, &ratio);
		summarize(gbit, cycles, &rate);
		printf("%s\t%s\t%d\t%.0f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.4f\t%.2f\n", proto,
		       configs[k].name, cycles, pkt.median, per_packet.median, diff.median,
		       diff.median_low, diff.median_high, diff.p25, diff.p75, ratio.median,
		       rate.median);
	}
	fflush(stdout);
	free(gbit);
	free(cpu);
	free(diffs);
	free(packets);
	free(ratios);
}

static void usage(void)
{
	fprintf(stderr,
		"Usage: mcgbench bulk --peer-netns NETNS --config NAME:CGROUP:NETNS:PEER...\n"
		"                     [--proto tcp|udp] [--mib N] [--datagrams N] [--size BYTES]\n"
		"                     [--cycles N] [--cpu N] [--receiver-cpu N]\n");
	exit(2);
}

int cmd_bulk(int argc, char **argv)
{
	static const struct option options[] = {
		{ "peer-netns", required_argument, NULL, 'n' },
		{ "config", required_argument, NULL, 'c' },
		{ "proto", required_argument, NULL, 't' },
		{ "mib", required_argument, NULL, 'm' },
		{ "datagrams", required_argument, NULL, 'd' },
		{ "size", required_argument, NULL, 's' },
		{ "cycles", required_argument, NULL, 'y' },
		{ "cpu", required_argument, NULL, 'p' },
		{ "receiver-cpu", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct request request = { .bytes = 64ull << 20, .datagrams = 20000, .size = 1400 };
	int count = 0, cycles = 30, cpu = 1, receiver_cpu = 0, opt, status;
	struct config configs[MAX_CONFIGS];
	struct worker workers[MAX_CONFIGS];
	const char *peer_netns = NULL;
	struct reply *replies;
	pid_t receiver;

	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'n':
			peer_netns = optarg;
			break;
		case 'c':
			if (count == MAX_CONFIGS)
				die(0, "at most %d configurations", MAX_CONFIGS);
			config_parse(&configs[count], optarg);
			if (!configs[count].peer)
				die(0, "configuration %s has no PEER address", configs[count].name);
			count++;
			break;
		case 't':
			if (strcmp(optarg, "tcp") && strcmp(optarg, "udp"))
				usage();
			request.udp = !strcmp(optarg, "udp");
			break;
		case 'm':
			request.bytes = (uint64_t)parse_long("--mib", optarg, 1, 4096) << 20;
			break;
		case 'd':
			request.datagrams = parse_long("--datagrams", optarg, 1, 100000000);
			break;
		case 's':
			request.size = parse_long("--size", optarg, 1, 65000);
			break;
		case 'y':
			cycles = parse_long("--cycles", optarg, 1, 10000);
			break;
		case 'p':
			cpu = parse_long("--cpu", optarg, 0, 4095);
			break;
		case 'r':
			receiver_cpu = parse_long("--receiver-cpu", optarg, 0, 4095);
			break;
		default:
			usage();
		}
	}
	if (!peer_netns || !count || optind != argc)
		usage();
	replies = calloc((size_t)cycles * count, sizeof(*replies));
	if (!replies)
		die(ENOMEM, "allocate results");

	receiver = start_receiver(peer_netns, receiver_cpu, &request.port);
	pin_cpu(cpu);
	workers_start(workers, configs, count, cpu, serve);
	/* One untimed round warms every path and checks that each peer is reachable. */
	for (int k = 0; k < count; k++)
		worker_call(&workers[k], &request, sizeof(request), &replies[k], sizeof(*replies));
	for (int c = 0; c < cycles; c++)
		for (int i = 0; i < count; i++) {
			int k = (c + i) % count;

			worker_call(&workers[k], &request, sizeof(request), &replies[c * count + k],
				    sizeof(*replies));
		}
	workers_stop(workers, count);
	kill(receiver, SIGTERM);
	waitpid(receiver, &status, 0);

	printf("proto\tconfig\tcycles\tpackets\tcpu_ns_per_packet\tdiff_ns\tdiff_ci_low\tdiff_ci_high\tdiff_p25\tdiff_p75\tratio\tgbit_s\n");
	print_rows(request.udp ? "udp" : "tcp", configs, count, replies, cycles,
		   request.udp ? (double)request.datagrams * request.size : (double)request.bytes);
	free(replies);
	return 0;
}
