// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* events: stream the guards' ring buffer as text or JSON lines. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "cgroup.h"
#include "cli.h"
#include "format.h"
#include "guard.h"
#include "log.h"

/*
 * The programs submit events without waking the reader, so it drains the
 * ring on this timer; events show within about this delay.
 */
#define POLL_TIMEOUT_MS 10
#define DROP_CHECK_INTERVAL_NS 1000000000ll

static volatile sig_atomic_t stop_requested;

static void request_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Dropped-event totals already reported, per guard and hook. */
struct drop_seen {
	__u64 guard_id;
	__u64 dropped[MCG_HOOK_COUNT];
};

struct events_ctx {
	bool json;
	__u64 filter_id; /* 0: all guards */
	long long boot_to_wall_ns;
	struct drop_seen *seen;
	size_t seen_count;
	bool warned_version;
};

static long long clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static int handle_event(void *data, void *raw, size_t size)
{
	struct events_ctx *ctx = data;
	const struct mcg_event *event = raw;
	unsigned long long wall_ns;
	char line[512];

	/* Returning 0 skips a record; a negative value would stop polling. */
	if (size < sizeof(*event) || event->version != MCG_EVENT_VERSION) {
		if (!ctx->warned_version)
			pr_warn("skipping events of an unknown format (version %u, %zu bytes)",
				size >= 2 ? event->version : 0, size);
		ctx->warned_version = true;
		return 0;
	}
	if (ctx->filter_id && event->guard_cgroup_id != ctx->filter_id &&
	    event->cgroup_id != ctx->filter_id)
		return 0;

	wall_ns = event->time_ns + ctx->boot_to_wall_ns;
	if (ctx->json) {
		json_object *obj = mcg_event_json(event, wall_ns,
						  mcg_cgroup_path_by_id(event->cgroup_id),
						  mcg_cgroup_path_by_id(event->guard_cgroup_id));

		if (!obj)
			return 0;
		printf("%s\n", json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(obj);
	} else {
		mcg_event_text(event, wall_ns, mcg_cgroup_path_by_id(event->cgroup_id), line,
			       sizeof(line));
		printf("%s\n", line);
	}
	return 0;
}

static struct drop_seen *find_seen(struct events_ctx *ctx, __u64 guard_id)
{
	struct drop_seen *grown;

	for (size_t i = 0; i < ctx->seen_count; i++)
		if (ctx->seen[i].guard_id == guard_id)
			return &ctx->seen[i];
	grown = realloc(ctx->seen, (ctx->seen_count + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	ctx->seen = grown;
	memset(&ctx->seen[ctx->seen_count], 0, sizeof(*grown));
	ctx->seen[ctx->seen_count].guard_id = guard_id;
	return &ctx->seen[ctx->seen_count++];
}

static void print_drop(struct events_ctx *ctx, __u64 guard_id, int hook, __u64 dropped)
{
	const char *guard = mcg_cgroup_path_by_id(guard_id);
	char time[40];

	mcg_format_time(clock_ns(CLOCK_REALTIME), time, sizeof(time));
	if (ctx->json) {
		json_object *obj = json_object_new_object();

		json_object_object_add(obj, "schema", json_object_new_int(MCG_JSON_SCHEMA));
		json_object_object_add(obj, "type", json_object_new_string("dropped"));
		json_object_object_add(obj, "time", json_object_new_string(time));
		json_object_object_add(obj, "guard_cgroup",
				       guard ? json_object_new_string(guard) : NULL);
		json_object_object_add(obj, "guard_cgroup_id", json_object_new_uint64(guard_id));
		json_object_object_add(obj, "hook", json_object_new_string(mcg_hook_name(hook)));
		json_object_object_add(obj, "dropped", json_object_new_uint64(dropped));
		printf("%s\n", json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(obj);
	} else {
		printf("%-27s %-9s %-10s %llu events lost so far (ring buffer full); counters stay exact\n",
		       time, mcg_hook_name(hook), "dropped", (unsigned long long)dropped);
	}
}

/* Report every guard whose dropped counter grew since the last check. */
static void check_drops(struct mcg_state *state, struct events_ctx *ctx)
{
	size_t count = 0;
	__u64 *ids = NULL;

	if (mcg_guard_list(state, &ids, &count))
		return;
	for (size_t i = 0; i < count; i++) {
		struct mcg_counters counters;
		struct mcg_policy policy;
		struct drop_seen *seen;

		if (ctx->filter_id && ids[i] != ctx->filter_id)
			continue;
		if (mcg_guard_read(state, ids[i], &policy, &counters))
			continue;
		seen = find_seen(ctx, ids[i]);
		if (!seen)
			break;
		for (int h = 0; h < MCG_HOOK_COUNT; h++) {
			__u64 dropped = counters.count[h][MCG_COUNTER_DROPPED];

			if (dropped > seen->dropped[h])
				print_drop(ctx, ids[i], h, dropped);
			seen->dropped[h] = dropped;
		}
	}
	free(ids);
}

static int stream(struct mcg_state *state, struct events_ctx *ctx)
{
	long long next_drop_check = 0;
	struct ring_buffer *rb;
	int err = 0;

	rb = ring_buffer__new(state->events_fd, handle_event, ctx, NULL);
	if (!rb) {
		err = -errno;
		pr_err("open the event ring buffer: %s", strerror(-err));
		return err;
	}
	if (!ctx->json)
		printf("%s\n", MCG_EVENT_TEXT_HEADER);

	while (!stop_requested) {
		err = ring_buffer__poll(rb, POLL_TIMEOUT_MS);
		if (err == -EINTR) {
			err = 0;
			continue;
		}
		/* A poll that timed out consumed nothing; drain what arrived without a wakeup. */
		if (err >= 0)
			err = ring_buffer__consume(rb);
		if (err < 0) {
			pr_err("read the event ring buffer: %s", strerror(-err));
			break;
		}
		err = 0;
		if (clock_ns(CLOCK_MONOTONIC) >= next_drop_check) {
			check_drops(state, ctx);
			next_drop_check = clock_ns(CLOCK_MONOTONIC) + DROP_CHECK_INTERVAL_NS;
		}
	}
	/* Deliver what is already in the ring before exiting. */
	ring_buffer__consume(rb);
	check_drops(state, ctx);
	ring_buffer__free(rb);
	return err;
}

/*
 * A ring buffer has one consumer position, so two readers would each see
 * part of the stream. A lock on the layout directory keeps it to one.
 */
static int claim_reader(struct mcg_state *state)
{
	int fd = open(state->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		pr_err("open %s: %s", state->dir, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		if (errno == EWOULDBLOCK)
			pr_err("another 'mcguard events' is reading the events of %s; a BPF ring buffer has a single reader, so stop that one first",
			       state->pin_root);
		else
			pr_err("lock %s: %s", state->dir, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int mcg_cmd_events(struct mcg_cli *cli)
{
	struct events_ctx ctx = { .json = cli->json };
	struct sigaction sa = { .sa_handler = request_stop };
	char error[PATH_MAX + 128];
	struct mcg_state state;
	struct mcg_cgroup cg;
	int code, err, reader_fd;

	if (cli->argc > 1) {
		pr_err("'mcguard events' takes at most one CGROUP");
		return MCG_EXIT_USAGE;
	}
	if (cli->argc == 1) {
		if (mcg_cgroup_resolve(cli->argv[0], &cg, error, sizeof(error))) {
			pr_err("%s", error);
			return MCG_EXIT_USAGE;
		}
		ctx.filter_id = cg.id;
	}
	code = mcg_require_root(cli);
	if (code)
		return code;

	/* A mistyped --pin-root would otherwise start an empty stream that never shows anything. */
	if (strcmp(cli->pin_root, MCG_DEFAULT_PIN_ROOT) && access(cli->pin_root, F_OK)) {
		pr_err("pin root %s does not exist: check --pin-root, or attach a guard there first",
		       cli->pin_root);
		return MCG_EXIT_FAILURE;
	}
	/* Load the programs if needed, so events of guards attached later arrive too. */
	if (mcg_state_open(&state, cli->pin_root, true))
		return MCG_EXIT_FAILURE;
	if (ctx.filter_id && !mcg_guard_exists(&state, ctx.filter_id))
		pr_warn("%s has no guard under %s yet: its events show once one is attached",
			cg.rel, cli->pin_root);
	mcg_state_unlock(&state);
	reader_fd = claim_reader(&state);
	if (reader_fd < 0) {
		mcg_state_close(&state);
		return MCG_EXIT_FAILURE;
	}

	/* No SA_RESTART: a signal must interrupt the poll. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	ctx.boot_to_wall_ns = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME);

	err = stream(&state, &ctx);
	free(ctx.seen);
	close(reader_fd);
	mcg_state_close(&state);
	return err ? MCG_EXIT_FAILURE : MCG_EXIT_OK;
}
