// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * format: how many events per second one core formats the way
 * 'mcguard events' does. mcguard cannot replay a recorded event stream, so
 * this links the product's user/format.c and user/cgroup.c and runs the
 * sequence of its event callback (user/events.c, handle_event and
 * print_event) on synthetic events:
 *
 *   json-as-shipped   the clock check every 64 records, mcg_event_json_line()
 *                     with both cgroup paths from mcg_cgroup_name_by_id(),
 *                     and fwrite() to a stream fully buffered in 64 KiB
 *   json-no-output    the same without fwrite()
 *   json-c-buffered   the json-c baseline: mcg_event_json(),
 *                     json_object_to_json_string_ext(), printf() to the
 *                     buffered stream, json_object_put()
 *   json-c-line-buffered  the same to a line-buffered stream, as
 *                     'mcguard events' did before the direct writer
 *   text-as-shipped   mcg_event_text() and fputs() to the buffered stream
 *
 * Modes run in turns of --events events; the rate is the median over turns.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>

#include "bench.h"
#include "cgroup.h"
#include "format.h"

enum mode {
	JSON_AS_SHIPPED,
	JSON_NO_OUTPUT,
	JSON_C_BUFFERED,
	JSON_C_LINE_BUFFERED,
	TEXT_AS_SHIPPED,
	MODE_COUNT
};

static const char *const mode_names[MODE_COUNT] = {
	"json-as-shipped", "json-no-output", "json-c-buffered", "json-c-line-buffered",
	"text-as-shipped",
};

/* The flush check of user/events.c: FLUSH_CHECK_RECORDS and FLUSH_INTERVAL_NS. */
#define FLUSH_CHECK_RECORDS 64
#define FLUSH_INTERVAL_NS 10000000ll

static long long monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* Events like a flood's: denied binds and connects from one cgroup, varied fields. */
static void make_events(struct mcg_event *events, size_t count, __u64 cgroup_id)
{
	static const __u8 hooks[] = { MCG_HOOK_BIND4, MCG_HOOK_BIND6, MCG_HOOK_CONNECT4,
				      MCG_HOOK_SENDMSG4 };

	for (size_t i = 0; i < count; i++) {
		struct mcg_event *e = &events[i];

		memset(e, 0, sizeof(*e));
		e->version = MCG_EVENT_VERSION;
		e->hook = hooks[i % 4];
		e->verdict = MCG_VERDICT_DENIED;
		e->family = e->hook == MCG_HOOK_BIND6 ? MCG_FAMILY_IPV6 : MCG_FAMILY_IPV4;
		e->protocol = i % 3 ? IPPROTO_TCP : IPPROTO_UDP;
		e->port = 1024 + i % 60000;
		e->pid = 1000 + i % 30000;
		e->time_ns = 1000000000ull * 3600 + i * 700;
		e->cgroup_id = e->guard_cgroup_id = cgroup_id;
		if (e->family == MCG_FAMILY_IPV6)
			inet_pton(AF_INET6, "2001:db8::1", e->addr);
		else
			inet_pton(AF_INET, i % 2 ? "203.0.113.7" : "198.51.100.25", e->addr);
		snprintf(e->comm, sizeof(e->comm), "catcher-%zu", i % 7);
	}
}

/* The direct writer's path, as user/events.c runs it for each record. */
static void write_direct(const struct mcg_event *e, unsigned long long wall_ns, FILE *out,
			 bool output, struct mcg_line *line, unsigned int *unchecked,
			 long long *flushed_ns)
{
	ssize_t len;

	if (++*unchecked >= FLUSH_CHECK_RECORDS) {
		*unchecked = 0;
		if (monotonic_ns() - *flushed_ns >= FLUSH_INTERVAL_NS) {
			fflush(out);
			*flushed_ns = monotonic_ns();
		}
	}
	len = mcg_event_json_line(line, e, wall_ns, mcg_cgroup_name_by_id(e->cgroup_id),
				  mcg_cgroup_name_by_id(e->guard_cgroup_id), NULL, NULL);
	if (len < 0)
		die(ENOMEM, "mcg_event_json_line");
	if (output)
		fwrite(line->buf, 1, len, out);
}

/* The json-c baseline. */
static void write_json_c(const struct mcg_event *e, unsigned long long wall_ns, FILE *out)
{
	json_object *obj = mcg_event_json(e, wall_ns, mcg_cgroup_name_by_id(e->cgroup_id),
					  mcg_cgroup_name_by_id(e->guard_cgroup_id));

	if (!obj)
		die(ENOMEM, "mcg_event_json");
	fprintf(out, "%s\n", json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
								    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(obj);
}

/* Format every event in the given mode and return the CPU time it took, in ns. */
static uint64_t format_all(enum mode mode, const struct mcg_event *events, size_t count,
			   FILE *out, long long boot_to_wall_ns, struct mcg_line *line)
{
	uint64_t start = thread_cpu_ns();
	long long flushed_ns = monotonic_ns();
	unsigned int unchecked = 0;
	char text[512];

	for (size_t i = 0; i < count; i++) {
		const struct mcg_event *e = &events[i];
		unsigned long long wall_ns = e->time_ns + boot_to_wall_ns;

		switch (mode) {
		case JSON_AS_SHIPPED:
		case JSON_NO_OUTPUT:
			write_direct(e, wall_ns, out, mode == JSON_AS_SHIPPED, line, &unchecked,
				     &flushed_ns);
			break;
		case JSON_C_BUFFERED:
		case JSON_C_LINE_BUFFERED:
			write_json_c(e, wall_ns, out);
			break;
		case TEXT_AS_SHIPPED:
			mcg_event_text(e, wall_ns, mcg_cgroup_name_by_id(e->cgroup_id), text,
				       sizeof(text));
			fputs(text, out);
			putc('\n', out);
			break;
		default:
			break;
		}
	}
	fflush(out);
	return thread_cpu_ns() - start;
}

static void usage(void)
{
	fprintf(stderr, "Usage: mcgbench format --cgroup DIR [--events N] [--turns N] [--cpu N]\n"
			"                       [--output FILE]\n"
			"DIR is a cgroup v2 directory whose id the synthetic events carry.\n");
	exit(2);
}

int cmd_format(int argc, char **argv)
{
	static const struct option options[] = {
		{ "cgroup", required_argument, NULL, 'g' }, { "events", required_argument, NULL, 'n' },
		{ "turns", required_argument, NULL, 't' },  { "cpu", required_argument, NULL, 'p' },
		{ "output", required_argument, NULL, 'o' }, { NULL, 0, NULL, 0 },
	};
	const char *cgroup = NULL, *output = "/dev/null";
	size_t count = 200000;
	int turns = 7, cpu = -1, opt, err;
	double *rates[MODE_COUNT];
	FILE *streams[MODE_COUNT];
	struct mcg_line line = { 0 };
	struct mcg_event *events;
	__u64 cgroup_id;

	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'g':
			cgroup = optarg;
			break;
		case 'n':
			count = parse_long("--events", optarg, 1000, 100000000);
			break;
		case 't':
			turns = parse_long("--turns", optarg, 1, 1000);
			break;
		case 'p':
			cpu = parse_long("--cpu", optarg, 0, 4095);
			break;
		case 'o':
			output = optarg;
			break;
		default:
			usage();
		}
	}
	if (!cgroup || optind != argc)
		usage();
	err = mcg_cgroup_id(cgroup, &cgroup_id);
	if (err)
		die(-err, "read the cgroup id of %s", cgroup);
	if (!mcg_cgroup_path_by_id(cgroup_id))
		die(0, "cgroup id %llu of %s not found below the cgroup2 mount",
		    (unsigned long long)cgroup_id, cgroup);
	if (cpu >= 0)
		pin_cpu(cpu);

	events = calloc(count, sizeof(*events));
	if (!events)
		die(ENOMEM, "allocate %zu events", count);
	make_events(events, count, cgroup_id);
	for (int m = 0; m < MODE_COUNT; m++) {
		streams[m] = fopen(output, "w");
		if (!streams[m])
			die(errno, "open %s", output);
		/* 'mcguard events' makes its standard output fully buffered in 64 KiB. */
		setvbuf(streams[m], NULL, m == JSON_C_LINE_BUFFERED ? _IOLBF : _IOFBF, 1 << 16);
		rates[m] = calloc(turns, sizeof(double));
		if (!rates[m])
			die(ENOMEM, "allocate results");
	}

	/* The first pass warms the allocator, the path cache and the CPU. */
	for (int m = 0; m < MODE_COUNT; m++)
		format_all(m, events, count, streams[m], 0, &line);
	for (int t = 0; t < turns; t++)
		for (int i = 0; i < MODE_COUNT; i++) {
			int m = (t + i) % MODE_COUNT;

			rates[m][t] = count / (format_all(m, events, count, streams[m], 0, &line) /
					       1e9);
		}

	printf("mode\tturns\tevents\tevents_per_s\tmin\tmax\tns_per_event\n");
	for (int m = 0; m < MODE_COUNT; m++) {
		struct summary s;

		summarize(rates[m], turns, &s);
		printf("%s\t%d\t%zu\t%.0f\t%.0f\t%.0f\t%.0f\n", mode_names[m], turns, count, s.median,
		       s.min, s.max, 1e9 / s.median);
		fclose(streams[m]);
	}
	free(line.buf);
	free(events);
	return 0;
}
