// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Denied calls and their events, measured against a guard of mcguard's:
 *
 *   deny     The cost of a denied call in three states of the ring buffer:
 *            with room (an event), filled beyond the wakeup threshold (an
 *            event whose submit wakes the reader), and full (no event, only
 *            the counter moves). This process reads the ring itself.
 *   flood    Denied calls for a fixed time or count, as fast as possible or
 *            at a fixed rate, from one or more threads. The guard's counters
 *            tell how many events the ring took and how many it dropped.
 *   latency  The time from a denied call to its line on the standard output
 *            of a 'mcguard events' process that this command starts.
 *
 * The denied call is bind() of a UDP socket to 203.0.113.1, a documentation
 * address that is not local, so no packet can result even without the guard.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench.h"
#include "cgroup.h"
#include "mcguard.h"

#define DENIED_ADDRESS "203.0.113.1"
/* bpf/mcguard.bpf.c: a 4 MiB ring; a submit above 1/8 of it wakes the reader. */
#define RING_BYTES (4u << 20)
#define RING_WAKEUP_BYTES (RING_BYTES / 8)
/* Each record is the 88-byte event behind the ring buffer's 8-byte header. */
#define RECORD_BYTES (sizeof(struct mcg_event) + 8)
#define RING_RECORDS (RING_BYTES / RECORD_BYTES)

static int denied_socket(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die(errno, "socket");
	return fd;
}

/* One denied bind; exits unless the guard denied it. */
static void deny_once(int fd)
{
	static struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = 9 << 8 };

	if (!addr.sin_addr.s_addr)
		inet_pton(AF_INET, DENIED_ADDRESS, &addr.sin_addr);
	if (!bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || errno != EPERM)
		die(errno, "bind to %s was not denied with EPERM: is the guard attached?",
		    DENIED_ADDRESS);
}

static int open_pinned(const char *pin_root, const char *name)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/v1/%s", pin_root, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		die(errno, "open %s", path);
	return fd;
}

/* The guard's counters of one hook, summed over CPUs. */
static void read_counters(int map_fd, __u64 cgroup_id, int hook, __u64 out[MCG_COUNTER_COUNT])
{
	int cpus = libbpf_num_possible_cpus();
	struct mcg_counters *per_cpu = calloc(cpus, sizeof(*per_cpu));

	if (!per_cpu)
		die(ENOMEM, "allocate counters");
	if (bpf_map_lookup_elem(map_fd, &cgroup_id, per_cpu))
		die(errno, "read the counters of cgroup %llu", (unsigned long long)cgroup_id);
	memset(out, 0, sizeof(__u64) * MCG_COUNTER_COUNT);
	for (int cpu = 0; cpu < cpus; cpu++)
		for (int c = 0; c < MCG_COUNTER_COUNT; c++)
			out[c] += per_cpu[cpu].count[hook][c];
	free(per_cpu);
}

static __u64 cgroup_id_of(const struct config *config)
{
	__u64 id;
	int err = mcg_cgroup_id(config->cgroup, &id);

	if (err)
		die(-err, "read the cgroup id of %s", config->cgroup);
	return id;
}

static int count_record(void *ctx, void *data, size_t size)
{
	(void)data;
	(void)size;
	(*(long *)ctx)++;
	return 0;
}

/* ---- deny ---- */

enum variant { EVENT, EVENT_WAKEUP, RING_FULL, VARIANT_COUNT };

static const char *const variant_names[VARIANT_COUNT] = { "event", "event+wakeup", "ring-full" };

struct deny_state {
	int fd;
	struct ring_buffer *ring;
	long consumed;
};

static long drain(struct deny_state *state)
{
	state->consumed = 0;
	if (ring_buffer__consume(state->ring) < 0)
		die(errno, "read the event ring buffer");
	return state->consumed;
}

/* Time batch denied calls after filling the ring as the variant needs; returns CPU ns per call. */
static double deny_block(struct deny_state *state, enum variant variant, unsigned int batch)
{
	static const unsigned int prefill[VARIANT_COUNT] = {
		[EVENT] = 0,
		[EVENT_WAKEUP] = RING_WAKEUP_BYTES / RECORD_BYTES + 64,
		[RING_FULL] = RING_RECORDS + 1000,
	};
	uint64_t start;
	long consumed;

	drain(state);
	for (unsigned int i = 0; i < prefill[variant]; i++)
		deny_once(state->fd);
	start = thread_cpu_ns();
	for (unsigned int i = 0; i < batch; i++)
		deny_once(state->fd);
	start = thread_cpu_ns() - start;

	consumed = drain(state);
	if (variant != RING_FULL && consumed != (long)(prefill[variant] + batch))
		die(0, "deny %s: the ring held %ld events, expected %u: did another reader run?",
		    variant_names[variant], consumed, prefill[variant] + batch);
	if (variant == RING_FULL && consumed > (long)RING_RECORDS)
		die(0, "deny ring-full: the ring held %ld events, more than fit", consumed);
	return (double)start / batch;
}

static void deny_usage(void)
{
	fprintf(stderr, "Usage: mcgbench deny --config NAME:CGROUP:NETNS --pin-root DIR [--cycles N]\n"
			"                     [--batch N] [--cpu N]\n"
			"Nothing else may read the pin root's events meanwhile.\n");
	exit(2);
}

int cmd_deny(int argc, char **argv)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' }, { "pin-root", required_argument, NULL, 'r' },
		{ "cycles", required_argument, NULL, 'n' }, { "batch", required_argument, NULL, 'b' },
		{ "cpu", required_argument, NULL, 'p' },    { NULL, 0, NULL, 0 },
	};
	unsigned int batch = 2000;
	int cycles = 60, cpu = -1, opt, have_config = 0;
	double *ns[VARIANT_COUNT];
	const char *pin_root = NULL;
	struct deny_state state;
	struct config config;

	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_parse(&config, optarg);
			have_config = 1;
			break;
		case 'r':
			pin_root = optarg;
			break;
		case 'n':
			cycles = parse_long("--cycles", optarg, 1, 10000);
			break;
		case 'b':
			/* Above this, an "event" block would cross the wakeup threshold itself. */
			batch = parse_long("--batch", optarg, 10, RING_WAKEUP_BYTES / RECORD_BYTES);
			break;
		case 'p':
			cpu = parse_long("--cpu", optarg, 0, 4095);
			break;
		default:
			deny_usage();
		}
	}
	if (!have_config || !pin_root || optind != argc)
		deny_usage();
	if (cpu >= 0)
		pin_cpu(cpu);

	state.ring = ring_buffer__new(open_pinned(pin_root, "mcg_events"), count_record,
				      &state.consumed, NULL);
	if (!state.ring)
		die(errno, "open the event ring buffer");
	config_enter(&config);
	state.fd = denied_socket();
	for (int v = 0; v < VARIANT_COUNT; v++)
		if (!(ns[v] = calloc(cycles, sizeof(double))))
			die(ENOMEM, "allocate results");

	/* Warm up: one second of blocks of every variant. */
	for (uint64_t end = now_ns() + 1000000000ull; now_ns() < end;)
		for (int v = 0; v < VARIANT_COUNT; v++)
			deny_block(&state, v, batch);
	for (int c = 0; c < cycles; c++)
		for (int i = 0; i < VARIANT_COUNT; i++) {
			int v = (c + i) % VARIANT_COUNT;

			ns[v][c] = deny_block(&state, v, batch);
		}

	printf("variant\tcycles\tbatch\tns_per_call\tdiff_ns\tdiff_ci_low\tdiff_ci_high\tdiff_p25\tdiff_p75\n");
	for (int v = 0; v < VARIANT_COUNT; v++) {
		double *diffs = calloc(cycles, sizeof(*diffs)), *values = calloc(cycles, sizeof(*values));
		struct summary abs, diff;

		if (!diffs || !values)
			die(ENOMEM, "allocate the summary");
		for (int c = 0; c < cycles; c++) {
			values[c] = ns[v][c];
			diffs[c] = ns[v][c] - ns[RING_FULL][c];
		}
		summarize(values, cycles, &abs);
		summarize(diffs, cycles, &diff);
		printf("%s\t%d\t%u\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\n", variant_names[v], cycles,
		       batch, abs.median, diff.median, diff.median_low, diff.median_high, diff.p25,
		       diff.p75);
		free(diffs);
		free(values);
	}
	ring_buffer__free(state.ring);
	return 0;
}

/* ---- flood ---- */

struct flood_thread {
	pthread_t thread;
	int cpu;
	double rate; /* calls per second; 0 for as fast as possible */
	uint64_t count_limit;
	uint64_t end_ns;
	uint64_t calls;
};

static void *flood_run(void *arg)
{
	struct flood_thread *t = arg;
	uint64_t start = now_ns();
	int fd = denied_socket();

	if (t->cpu >= 0)
		pin_cpu(t->cpu);
	while (t->calls < t->count_limit) {
		uint64_t now = now_ns();

		if (now >= t->end_ns)
			break;
		/* At a fixed rate, sleep while ahead of the schedule. */
		if (t->rate > 0 && t->calls > (now - start) * t->rate / 1e9) {
			struct timespec pause = { 0, 50000 };

			nanosleep(&pause, NULL);
			continue;
		}
		for (int i = 0; i < 64 && t->calls < t->count_limit; i++, t->calls++)
			deny_once(fd);
	}
	close(fd);
	return NULL;
}

/* Wait up to two seconds for the reader to empty the ring; returns the bytes left. */
static uint64_t wait_for_reader(int map_fd)
{
	long page = sysconf(_SC_PAGESIZE);
	volatile const uint64_t *positions;
	uint64_t left = 0;

	positions = mmap(NULL, 2 * page, PROT_READ, MAP_SHARED, map_fd, 0);
	if (positions == MAP_FAILED)
		die(errno, "map the ring buffer's positions");
	/* The consumer position is on the first page, the producer position on the second. */
	for (int i = 0; i < 200; i++) {
		left = positions[page / 8] - positions[0];
		if (!left)
			break;
		usleep(10000);
	}
	munmap((void *)positions, 2 * page);
	return left;
}

static void flood_usage(void)
{
	fprintf(stderr,
		"Usage: mcgbench flood --config NAME:CGROUP:NETNS --pin-root DIR\n"
		"                      (--seconds N | --count N) [--threads N] [--rate CALLS_PER_S]\n"
		"Threads run on CPUs 1, 0, 1, ... A reader such as 'mcguard events' must run.\n");
	exit(2);
}

int cmd_flood(int argc, char **argv)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },  { "pin-root", required_argument, NULL, 'r' },
		{ "seconds", required_argument, NULL, 's' }, { "count", required_argument, NULL, 'n' },
		{ "threads", required_argument, NULL, 't' }, { "rate", required_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	struct flood_thread threads[16];
	int thread_count = 1, opt, have_config = 0, counters_fd, events_fd, ncpu;
	__u64 before[MCG_COUNTER_COUNT], after[MCG_COUNTER_COUNT], cgroup_id;
	uint64_t seconds = 0, count = 0, calls = 0, start, elapsed, backlog;
	const char *pin_root = NULL;
	struct config config;
	double rate = 0;

	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_parse(&config, optarg);
			have_config = 1;
			break;
		case 'r':
			pin_root = optarg;
			break;
		case 's':
			seconds = parse_long("--seconds", optarg, 1, 120);
			break;
		case 'n':
			count = parse_long("--count", optarg, 1, 100000000);
			break;
		case 't':
			thread_count = parse_long("--threads", optarg, 1, 16);
			break;
		case 'R':
			rate = parse_long("--rate", optarg, 1, 100000000);
			break;
		default:
			flood_usage();
		}
	}
	if (!have_config || !pin_root || (!seconds == !count) || optind != argc)
		flood_usage();

	counters_fd = open_pinned(pin_root, "mcg_counters");
	events_fd = open_pinned(pin_root, "mcg_events");
	cgroup_id = cgroup_id_of(&config);
	config_enter(&config);
	read_counters(counters_fd, cgroup_id, MCG_HOOK_BIND4, before);

	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	start = now_ns();
	for (int i = 0; i < thread_count; i++) {
		threads[i] = (struct flood_thread){
			.cpu = ncpu > 1 ? (i + 1) % ncpu : -1,
			.rate = rate / thread_count,
			.count_limit = count ? count / thread_count + (i < (int)(count % thread_count))
					     : UINT64_MAX,
			.end_ns = seconds ? start + seconds * 1000000000ull : UINT64_MAX,
		};
		if (pthread_create(&threads[i].thread, NULL, flood_run, &threads[i]))
			die(0, "start flood thread %d", i);
	}
	for (int i = 0; i < thread_count; i++) {
		pthread_join(threads[i].thread, NULL);
		calls += threads[i].calls;
	}
	elapsed = now_ns() - start;
	backlog = wait_for_reader(events_fd);
	read_counters(counters_fd, cgroup_id, MCG_HOOK_BIND4, after);

	printf("threads\ttarget_rate\tseconds\tcalls\tcalls_per_s\tdenied\tdropped\tring_backlog_bytes\tdenied_total\tdropped_total\n");
	printf("%d\t%.0f\t%.3f\t%llu\t%.0f\t%llu\t%llu\t%llu\t%llu\t%llu\n", thread_count, rate,
	       elapsed / 1e9, (unsigned long long)calls, calls / (elapsed / 1e9),
	       (unsigned long long)(after[MCG_COUNTER_DENIED] - before[MCG_COUNTER_DENIED]),
	       (unsigned long long)(after[MCG_COUNTER_DROPPED] - before[MCG_COUNTER_DROPPED]),
	       (unsigned long long)backlog, (unsigned long long)after[MCG_COUNTER_DENIED],
	       (unsigned long long)after[MCG_COUNTER_DROPPED]);
	return 0;
}

/* ---- latency ---- */

/* Start the reader with its standard output on a pipe; returns the read end. */
static int start_reader(char **argv, pid_t *pid)
{
	int out[2];

	if (pipe(out))
		die(errno, "pipe");
	*pid = fork();
	if (*pid < 0)
		die(errno, "fork");
	if (*pid == 0) {
		/* The death signal survives execv(), so the reader ends with this process. */
		end_with_parent();
		dup2(out[1], STDOUT_FILENO);
		close(out[0]);
		close(out[1]);
		execv(argv[0], argv);
		die(errno, "run %s", argv[0]);
	}
	close(out[1]);
	return out[0];
}

/* Read until one more line arrived; returns 0, or -1 after timeout_ms without one. */
static int wait_line(int fd, int timeout_ms)
{
	static char buffer[65536];
	uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000ull;

	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		int left = (int)((int64_t)(end - now_ns()) / 1000000);
		ssize_t n;

		if (left < 0 || poll(&pfd, 1, left) <= 0)
			return -1;
		n = read(fd, buffer, sizeof(buffer));
		if (n <= 0)
			die(0, "the events reader exited");
		if (memchr(buffer, '\n', n))
			return 0;
	}
}

/* Discard what the reader wrote so far, waiting ms for stragglers. */
static void discard_lines(int fd, int ms)
{
	char buffer[4096];
	struct pollfd pfd = { fd, POLLIN, 0 };

	while (poll(&pfd, 1, ms) > 0 && read(fd, buffer, sizeof(buffer)) > 0)
		;
}

static void latency_usage(void)
{
	fprintf(stderr, "Usage: mcgbench latency --config NAME:CGROUP:NETNS [--samples N] -- READER [ARGS]\n"
			"READER is the absolute path of a program such as mcguard events --json.\n");
	exit(2);
}

int cmd_latency(int argc, char **argv)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "samples", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	int samples = 100, opt, have_config = 0, out, fd, lost = 0, got = 0, status;
	struct config config;
	struct summary summary;
	double *ms;
	pid_t reader;

	while ((opt = getopt_long(argc, argv, "+", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_parse(&config, optarg);
			have_config = 1;
			break;
		case 'n':
			samples = parse_long("--samples", optarg, 1, 10000);
			break;
		default:
			latency_usage();
		}
	}
	if (!have_config || optind >= argc)
		latency_usage();
	ms = calloc(samples, sizeof(*ms));
	if (!ms)
		die(ENOMEM, "allocate results");

	/* The reader starts before this process joins the guarded cgroup. */
	out = start_reader(argv + optind, &reader);
	config_enter(&config);
	fd = denied_socket();

	/* The first line shows that the reader is up; give it five seconds. */
	for (int i = 0; i < 50; i++) {
		deny_once(fd);
		if (!wait_line(out, 100))
			break;
	}
	discard_lines(out, 200);
	srand(getpid());
	for (int i = 0; i < samples; i++) {
		struct timespec pause = { 0, (5 + rand() % 25) * 1000000L };
		uint64_t start;

		nanosleep(&pause, NULL);
		start = now_ns();
		deny_once(fd);
		if (wait_line(out, 2000)) {
			lost++;
			continue;
		}
		ms[got++] = (now_ns() - start) / 1e6;
	}
	kill(reader, SIGTERM);
	waitpid(reader, &status, 0);

	summarize(ms, got, &summary);
	printf("samples\tlost\tmedian_ms\tp90_ms\tmax_ms\n");
	printf("%d\t%d\t%.2f\t%.2f\t%.2f\n", got, lost, summary.median,
	       got ? ms[(size_t)(0.9 * (got - 1))] : 0.0, summary.max);
	return 0;
}
