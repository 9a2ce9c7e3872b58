// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ops: the per-operation cost of three socket calls on loopback, in several
 * configurations (cgroup and network namespace) measured in the same run.
 *
 *   bindN  socket(SOCK_STREAM) + bind(127.0.0.1 or ::1, port 0) + close
 *   tcpN   connect + accept + close of both ends, to a listener on loopback
 *   udpN   sendto() of 64 bytes on an unconnected UDP socket to loopback
 *
 * One worker process per configuration stays in its cgroup and namespace.
 * A cycle requests one block from every worker, starting with a different worker
 * each cycle. A block creates its sockets, runs a tenth of its operations
 * untimed, then times the rest by wall clock and by the thread's CPU time.
 * The summary is, per configuration, the median over cycles of the ns per
 * operation and of the difference to the first configuration (the baseline)
 * in the same cycle, with a 95% confidence interval of that median.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

enum op_kind { KIND_BIND, KIND_TCP, KIND_UDP };

struct op_spec {
	const char *name;
	int family;
	enum op_kind kind;
	unsigned int batch; /* timed operations per block, about 2 ms here */
};

static const struct op_spec op_specs[] = {
	{ "bind4", AF_INET, KIND_BIND, 300 }, { "bind6", AF_INET6, KIND_BIND, 300 },
	{ "tcp4", AF_INET, KIND_TCP, 60 },    { "tcp6", AF_INET6, KIND_TCP, 60 },
	{ "udp4", AF_INET, KIND_UDP, 768 },   { "udp6", AF_INET6, KIND_UDP, 768 },
};

#define UDP_PAYLOAD 64
/* Datagrams sent between two drains of the receiver; they fit its buffer. */
#define UDP_BURST 256
#define UDP_RCVBUF (8 << 20)

/* Wall-clock and CPU time of the timed part of a block. */
struct timing {
	uint64_t wall_ns;
	uint64_t cpu_ns;
};

struct stopwatch {
	uint64_t wall_start;
	uint64_t cpu_start;
};

static void stopwatch_start(struct stopwatch *watch)
{
	watch->wall_start = now_ns();
	watch->cpu_start = thread_cpu_ns();
}

static void stopwatch_add(const struct stopwatch *watch, struct timing *timing)
{
	timing->cpu_ns += thread_cpu_ns() - watch->cpu_start;
	timing->wall_ns += now_ns() - watch->wall_start;
}

static socklen_t loopback_addr(int family, struct sockaddr_storage *ss, unsigned short port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin->sin_port = htons(port);
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_addr = in6addr_loopback;
	sin6->sin6_port = htons(port);
	return sizeof(*sin6);
}

/* A socket bound to loopback with a port the kernel picks, and its address. */
static int bound_socket(int family, int type, struct sockaddr_storage *ss, socklen_t *len)
{
	int fd = socket(family, type | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die(errno, "socket");
	*len = loopback_addr(family, ss, 0);
	if (bind(fd, (struct sockaddr *)ss, *len))
		die(errno, "bind a loopback socket");
	if (getsockname(fd, (struct sockaddr *)ss, len))
		die(errno, "getsockname");
	return fd;
}

static void run_bind(int family, unsigned int count, struct timing *timing)
{
	struct sockaddr_storage ss;
	socklen_t len = loopback_addr(family, &ss, 0);
	struct stopwatch watch;

	stopwatch_start(&watch);
	for (unsigned int i = 0; i < count; i++) {
		int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			die(errno, "bind op: socket");
		if (bind(fd, (struct sockaddr *)&ss, len))
			die(errno, "bind op: bind to loopback");
		close(fd);
	}
	stopwatch_add(&watch, timing);
}

static void run_tcp(int family, unsigned int count, struct timing *timing)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int listener = bound_socket(family, SOCK_STREAM, &ss, &len);
	struct stopwatch watch;

	if (listen(listener, 128))
		die(errno, "tcp op: listen");
	stopwatch_start(&watch);
	for (unsigned int i = 0; i < count; i++) {
		int client = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), server;

		if (client < 0)
			die(errno, "tcp op: socket");
		/* On loopback the handshake completes inside connect(). */
		if (connect(client, (struct sockaddr *)&ss, len))
			die(errno, "tcp op: connect to loopback");
		server = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
		if (server < 0)
			die(errno, "tcp op: accept");
		close(client);
		close(server);
	}
	stopwatch_add(&watch, timing);
	close(listener);
}

/* Read every queued datagram; returns how many there were. */
static unsigned int drain(int fd)
{
	static char buffers[64][UDP_PAYLOAD];
	struct mmsghdr msgs[64];
	struct iovec iov[64];
	unsigned int total = 0;
	int got;

	for (int i = 0; i < 64; i++) {
		iov[i] = (struct iovec){ buffers[i], UDP_PAYLOAD };
		msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
	}
	while ((got = recvmmsg(fd, msgs, 64, MSG_DONTWAIT, NULL)) > 0)
		total += got;
	return total;
}

static void run_udp(int family, unsigned int count, struct timing *timing)
{
	static const char payload[UDP_PAYLOAD];
	struct sockaddr_storage ss;
	socklen_t len;
	int receiver = bound_socket(family, SOCK_DGRAM, &ss, &len), size = UDP_RCVBUF;
	int sender = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	unsigned int received = 0;

	if (sender < 0)
		die(errno, "udp op: socket");
	if (setsockopt(receiver, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		die(errno, "udp op: SO_RCVBUFFORCE");
	for (unsigned int done = 0; done < count;) {
		unsigned int burst = count - done < UDP_BURST ? count - done : UDP_BURST;
		struct stopwatch watch;

		stopwatch_start(&watch);
		for (unsigned int i = 0; i < burst; i++)
			if (sendto(sender, payload, sizeof(payload), 0, (struct sockaddr *)&ss, len) !=
			    (ssize_t)sizeof(payload))
				die(errno, "udp op: sendto loopback");
		stopwatch_add(&watch, timing);
		received += drain(receiver);
		done += burst;
	}
	if (received != count)
		note("udp op: %u of %u datagrams arrived", received, count);
	close(sender);
	close(receiver);
}

static void run_op(const struct op_spec *op, unsigned int count, struct timing *timing)
{
	switch (op->kind) {
	case KIND_BIND:
		run_bind(op->family, count, timing);
		break;
	case KIND_TCP:
		run_tcp(op->family, count, timing);
		break;
	default:
		run_udp(op->family, count, timing);
	}
}

/* The block the parent requests from a worker, and the worker's reply. */
struct request {
	int op_index;
	unsigned int count;
	unsigned int warm_count;
};

struct reply {
	struct timing timing;
	long preemptions; /* involuntary context switches during the block */
};

/*
 * A worker lives in one configuration for the whole run, so switching
 * configurations costs a pipe round trip. Moving one process between cgroups
 * instead added about 10 ms per switch on the 2-CPU VM this was written on.
 */
static void serve(const struct config *config, int requests, int replies)
{
	struct request request;

	config_enter(config);
	while (read(requests, &request, sizeof(request)) == sizeof(request)) {
		const struct op_spec *op = &op_specs[request.op_index];
		struct reply reply = { 0 };
		struct timing warm = { 0 };
		long switches = involuntary_switches();

		run_op(op, request.warm_count, &warm);
		run_op(op, request.count, &reply.timing);
		reply.preemptions = involuntary_switches() - switches;
		if (write(replies, &reply, sizeof(reply)) != sizeof(reply))
			die(errno, "worker %s: reply", config->name);
	}
	exit(0);
}

/* Print the summary rows of one op and metric; ns is a cycles x configurations matrix. */
static void print_metric(const char *op, const char *metric, const struct config *configs,
			 int config_count, const double *ns, const long *preempted, int cycles,
			 unsigned int batch)
{
	double *values = calloc(cycles, sizeof(*values));
	double *diffs = calloc(cycles, sizeof(*diffs));
	double *ratios = calloc(cycles, sizeof(*ratios));

	if (!values || !diffs || !ratios)
		die(ENOMEM, "allocate the summary");
	for (int k = 0; k < config_count; k++) {
		struct summary abs, diff, ratio;

		for (int c = 0; c < cycles; c++) {
			values[c] = ns[c * config_count + k];
			diffs[c] = values[c] - ns[c * config_count];
			ratios[c] = values[c] / ns[c * config_count];
		}
		summarize(values, cycles, &abs);
		summarize(diffs, cycles, &diff);
		summarize(ratios, cycles, &ratio);
		printf("%s\t%s\t%s\t%d\t%u\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.4f\t%ld\n", op,
		       configs[k].name, metric, cycles, batch, abs.median, diff.median,
		       diff.median_low, diff.median_high, diff.p25, diff.p75, ratio.median,
		       preempted[k]);
	}
	fflush(stdout);
	free(values);
	free(diffs);
	free(ratios);
}

static void usage(void)
{
	fprintf(stderr,
		"Usage: mcgbench ops --op OP[,OP...] --config NAME:CGROUP:NETNS... [--cycles N]\n"
		"                    [--batch N] [--cpu N] [--warmup-ms N] [--raw FILE]\n"
		"OP is bind4, bind6, tcp4, tcp6, udp4 or udp6. The first --config is the\n"
		"baseline. --batch overrides the timed operations per block.\n");
	exit(2);
}

/* Run baseline blocks for warmup_ms, so the CPU leaves its idle clock first. */
static void warm_up_worker(const struct worker *worker, int op_index, unsigned int batch,
			   unsigned int warmup_ms)
{
	struct request request = { op_index, batch, 0 };
	uint64_t end = now_ns() + (uint64_t)warmup_ms * 1000000ull;
	struct reply reply;

	while (now_ns() < end)
		worker_call(worker, &request, sizeof(request), &reply, sizeof(reply));
}

int cmd_ops(int argc, char **argv)
{
	static const struct option options[] = {
		{ "op", required_argument, NULL, 'o' },	    { "config", required_argument, NULL, 'c' },
		{ "cycles", required_argument, NULL, 'n' }, { "batch", required_argument, NULL, 'b' },
		{ "cpu", required_argument, NULL, 'p' },    { "warmup-ms", required_argument, NULL, 'w' },
		{ "raw", required_argument, NULL, 'r' },    { NULL, 0, NULL, 0 },
	};
	struct config configs[MAX_CONFIGS];
	struct worker workers[MAX_CONFIGS];
	int config_count = 0, cycles = 300, cpu = -1, warmup_ms = 1500, opt;
	unsigned int batch_override = 0;
	char *op_list = NULL;
	FILE *raw = NULL;

	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'o':
			op_list = optarg;
			break;
		case 'c':
			if (config_count == MAX_CONFIGS)
				die(0, "at most %d configurations", MAX_CONFIGS);
			config_parse(&configs[config_count++], optarg);
			break;
		case 'n':
			cycles = parse_long("--cycles", optarg, 1, 100000);
			break;
		case 'b':
			batch_override = parse_long("--batch", optarg, 10, 10000000);
			break;
		case 'p':
			cpu = parse_long("--cpu", optarg, 0, 4095);
			break;
		case 'w':
			warmup_ms = parse_long("--warmup-ms", optarg, 0, 600000);
			break;
		case 'r':
			raw = fopen(optarg, "a");
			if (!raw)
				die(errno, "open %s", optarg);
			break;
		default:
			usage();
		}
	}
	if (!op_list || !config_count || optind != argc)
		usage();
	if (cpu >= 0)
		pin_cpu(cpu);
	workers_start(workers, configs, config_count, cpu, serve);

	printf("op\tconfig\tmetric\tcycles\tbatch\tns_per_op\tdiff_ns\tdiff_ci_low\tdiff_ci_high\tdiff_p25\tdiff_p75\tratio\tpreempted\n");
	for (char *name = strtok(op_list, ","); name; name = strtok(NULL, ",")) {
		size_t cells = (size_t)cycles * config_count;
		double *wall = calloc(cells, sizeof(*wall)), *cpu_time = calloc(cells, sizeof(*cpu_time));
		long preempted[MAX_CONFIGS] = { 0 };
		struct request request;
		int op_index = -1;

		for (size_t i = 0; i < sizeof(op_specs) / sizeof(op_specs[0]); i++)
			if (!strcmp(name, op_specs[i].name))
				op_index = i;
		if (op_index < 0)
			die(0, "unknown op '%s'", name);
		if (!wall || !cpu_time)
			die(ENOMEM, "allocate results");
		request.op_index = op_index;
		request.count = batch_override ? batch_override : op_specs[op_index].batch;
		request.warm_count = request.count / 10 + 1;

		warm_up_worker(&workers[0], op_index, request.count, warmup_ms);
		for (int c = 0; c < cycles; c++) {
			for (int i = 0; i < config_count; i++) {
				int k = (c + i) % config_count;
				size_t cell = (size_t)c * config_count + k;
				struct reply reply;

				worker_call(&workers[k], &request, sizeof(request), &reply,
					    sizeof(reply));
				preempted[k] += reply.preemptions > 0;
				wall[cell] = (double)reply.timing.wall_ns / request.count;
				cpu_time[cell] = (double)reply.timing.cpu_ns / request.count;
				if (raw)
					fprintf(raw, "%s\t%d\t%s\t%.1f\t%.1f\t%ld\n", name, c,
						configs[k].name, cpu_time[cell], wall[cell],
						reply.preemptions);
			}
		}
		print_metric(name, "cpu", configs, config_count, cpu_time, preempted, cycles,
			     request.count);
		print_metric(name, "wall", configs, config_count, wall, preempted, cycles,
			     request.count);
		free(wall);
		free(cpu_time);
	}
	workers_stop(workers, config_count);
	if (raw)
		fclose(raw);
	return 0;
}
