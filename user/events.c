// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* events: stream the guards' ring buffer as text or JSON lines. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "cgroup.h"
#include "cli.h"
#include "events.h"
#include "format.h"
#include "log.h"

/*
 * The programs submit events without waking the reader, so it drains the
 * ring on this timer; events show within about this delay.
 */
#define POLL_TIMEOUT_MS 10
/*
 * Standard output is fully buffered and flushed after each drain. A flood
 * can keep ring_buffer__consume() from returning (libbpf goes on while
 * records keep coming), so the event callback also flushes when the last
 * flush is this old, checking the clock every FLUSH_CHECK_RECORDS records.
 * A line then waits in the buffer at most about this long, plus the time
 * of that many records.
 */
#define FLUSH_INTERVAL_NS 10000000ll
#define FLUSH_CHECK_RECORDS 64
#define DROP_CHECK_INTERVAL_NS 1000000000ll
#define FOLD_WINDOW_NS 1000000000ll

/* Per-guard reader state: the drop totals already reported and the last event. */
struct guard_seen {
	__u64 guard_id;
	__u64 dropped[MCG_HOOK_COUNT];
	struct mcg_event last;     /* with time_ns and pid cleared, for comparison */
	long long last_printed_ns; /* CLOCK_MONOTONIC of the last printed event */
	unsigned long folded;      /* repeats of last not printed */
};

struct mcg_event_reader {
	struct mcg_event_reader_opts opts;
	struct mcg_state *state;
	struct ring_buffer *rb;
	int lock_fd;
	long long boot_to_wall_ns;
	long long next_drop_check;
	struct guard_seen *seen;
	size_t seen_count;
	bool warned_version;
	bool warned_memory;
	struct mcg_line line;          /* the JSON line being written */
	unsigned int records_unchecked; /* records since the last clock check */
	long long flushed_ns;          /* CLOCK_MONOTONIC of the last flush */
};

static long long clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static struct guard_seen *find_seen(struct mcg_event_reader *reader, __u64 guard_id)
{
	struct guard_seen *grown;

	for (size_t i = 0; i < reader->seen_count; i++)
		if (reader->seen[i].guard_id == guard_id)
			return &reader->seen[i];
	grown = realloc(reader->seen, (reader->seen_count + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	reader->seen = grown;
	memset(&reader->seen[reader->seen_count], 0, sizeof(*grown));
	reader->seen[reader->seen_count].guard_id = guard_id;
	return &reader->seen[reader->seen_count++];
}

static void flush_output(struct mcg_event_reader *reader)
{
	fflush(stdout);
	reader->flushed_ns = clock_ns(CLOCK_MONOTONIC);
}

static void write_line(const struct mcg_event_reader *reader, const char *line, size_t len)
{
	if (reader->opts.line_prefix)
		fputs(reader->opts.line_prefix, stdout);
	fwrite(line, 1, len, stdout);
}

static void warn_memory(struct mcg_event_reader *reader)
{
	if (!reader->warned_memory)
		pr_warn("out of memory for an event line: skipping it, and further lines that do not fit");
	reader->warned_memory = true;
}

static void print_event(struct mcg_event_reader *reader, const struct mcg_event *event)
{
	unsigned long long wall_ns = event->time_ns + reader->boot_to_wall_ns;
	char line[512], suffix[640] = "";
	ssize_t len;

	if (reader->opts.json) {
		len = mcg_event_json_line(&reader->line, event, wall_ns,
					  mcg_cgroup_name_by_id(event->cgroup_id),
					  mcg_cgroup_name_by_id(event->guard_cgroup_id),
					  reader->opts.describe, reader->opts.describe_context);
		if (len < 0)
			warn_memory(reader);
		else
			write_line(reader, reader->line.buf, len);
		return;
	}
	mcg_event_text(event, wall_ns, mcg_cgroup_name_by_id(event->cgroup_id), line,
		       sizeof(line));
	if (reader->opts.describe)
		reader->opts.describe(reader->opts.describe_context, event, false, suffix,
				      sizeof(suffix));
	if (reader->opts.line_prefix)
		fputs(reader->opts.line_prefix, stdout);
	fputs(line, stdout);
	fputs(suffix, stdout);
	putc('\n', stdout);
}

/* Print a "dropped" or "folded" JSON line, with count as its member count_key. */
static void print_guard_count(struct mcg_event_reader *reader, const char *type, const char *time,
			      __u64 guard_id, int hook, const char *count_key,
			      unsigned long long count)
{
	const char *guard = mcg_cgroup_name_by_id(guard_id);
	size_t len;

	len = mcg_guard_count_json_write(type, time, guard, guard_id, hook, count_key, count,
					 reader->line.buf, reader->line.size);
	if (len + 1 >= reader->line.size) {
		if (mcg_line_reserve(&reader->line, len + 2)) {
			warn_memory(reader);
			return;
		}
		mcg_guard_count_json_write(type, time, guard, guard_id, hook, count_key, count,
					   reader->line.buf, reader->line.size);
	}
	reader->line.buf[len++] = '\n';
	write_line(reader, reader->line.buf, len);
}

/* Report how many repeats of a guard's last event were folded, and reset the count. */
static void flush_folded(struct mcg_event_reader *reader, struct guard_seen *seen)
{
	char time[40];

	/* Called for every guard once a second: name the guard only when there is a line to print. */
	if (!seen->folded)
		return;
	mcg_format_time(clock_ns(CLOCK_REALTIME), time, sizeof(time));
	if (reader->opts.json) {
		print_guard_count(reader, "folded", time, seen->guard_id, seen->last.hook, "repeats",
				  seen->folded);
	} else {
		printf("%-27s %-9s %-10s the event above repeated %lu more times\n", time,
		       mcg_hook_name(seen->last.hook), "folded", seen->folded);
	}
	seen->folded = 0;
}

/* With folding on: true when event repeats its guard's last one within the window. */
static bool fold_event(struct mcg_event_reader *reader, const struct mcg_event *event)
{
	struct guard_seen *seen = find_seen(reader, event->guard_cgroup_id);
	struct mcg_event key = *event;
	long long now = clock_ns(CLOCK_MONOTONIC);

	if (!seen)
		return false;
	key.time_ns = 0;
	key.pid = 0;
	if (!memcmp(&key, &seen->last, sizeof(key)) && now - seen->last_printed_ns < FOLD_WINDOW_NS) {
		seen->folded++;
		return true;
	}
	flush_folded(reader, seen);
	seen->last = key;
	seen->last_printed_ns = now;
	return false;
}

static int handle_event(void *data, void *raw, size_t size)
{
	struct mcg_event_reader *reader = data;
	const struct mcg_event *event = raw;

	/*
	 * Filtered and folded records count too, because they can keep a drain going as well.
	 * NOTE: no test keeps a drain going long enough to reach this flush.
	 */
	if (++reader->records_unchecked >= FLUSH_CHECK_RECORDS) {
		reader->records_unchecked = 0;
		if (clock_ns(CLOCK_MONOTONIC) - reader->flushed_ns >= FLUSH_INTERVAL_NS)
			flush_output(reader);
	}

	/* Returning 0 skips a record; a negative value would stop polling. */
	if (size < sizeof(*event) || event->version != MCG_EVENT_VERSION) {
		if (!reader->warned_version)
			pr_warn("skipping events of an unknown format (version %u, %zu bytes)",
				size >= 2 ? event->version : 0, size);
		reader->warned_version = true;
		return 0;
	}
	if (reader->opts.filter_id && event->guard_cgroup_id != reader->opts.filter_id &&
	    event->cgroup_id != reader->opts.filter_id)
		return 0;
	if (reader->opts.fold && fold_event(reader, event))
		return 0;
	print_event(reader, event);
	return 0;
}

static void print_drop(struct mcg_event_reader *reader, __u64 guard_id, int hook, __u64 dropped)
{
	char time[40];

	mcg_format_time(clock_ns(CLOCK_REALTIME), time, sizeof(time));
	if (reader->opts.json) {
		print_guard_count(reader, "dropped", time, guard_id, hook, "dropped", dropped);
	} else {
		printf("%-27s %-9s %-10s %llu events lost so far (ring buffer full); counters stay exact\n",
		       time, mcg_hook_name(hook), "dropped", (unsigned long long)dropped);
	}
}

/* Report every guard whose dropped counter grew, and flush folded repeats that went quiet. */
static void check_guards(struct mcg_event_reader *reader)
{
	size_t count = 0;
	__u64 *ids = NULL;

	for (size_t i = 0; i < reader->seen_count; i++)
		if (clock_ns(CLOCK_MONOTONIC) - reader->seen[i].last_printed_ns >= FOLD_WINDOW_NS)
			flush_folded(reader, &reader->seen[i]);

	if (mcg_guard_list(reader->state, &ids, &count))
		return;
	for (size_t i = 0; i < count; i++) {
		struct mcg_counters counters;
		struct mcg_policy policy;
		struct guard_seen *seen;

		if (reader->opts.filter_id && ids[i] != reader->opts.filter_id)
			continue;
		if (mcg_guard_read(reader->state, ids[i], &policy, &counters))
			continue;
		seen = find_seen(reader, ids[i]);
		if (!seen)
			break;
		for (int h = 0; h < MCG_HOOK_COUNT; h++) {
			__u64 dropped = counters.count[h][MCG_COUNTER_DROPPED];

			if (dropped > seen->dropped[h])
				print_drop(reader, ids[i], h, dropped);
			seen->dropped[h] = dropped;
		}
	}
	free(ids);
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
			pr_err("another 'mcguard events' or 'mcguard daemon' is reading the events of %s; a BPF ring buffer has a single reader, so stop that one first",
			       state->pin_root);
		else
			pr_err("lock %s: %s", state->dir, strerror(errno));
		close(fd);
		errno = EBUSY;
		return -1;
	}
	return fd;
}

struct mcg_event_reader *mcg_event_reader_new(struct mcg_state *state,
					      const struct mcg_event_reader_opts *opts)
{
	struct mcg_event_reader *reader = calloc(1, sizeof(*reader));
	int err;

	if (!reader)
		return NULL;
	reader->opts = *opts;
	reader->state = state;
	reader->boot_to_wall_ns = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME);
	reader->lock_fd = claim_reader(state);
	if (reader->lock_fd < 0) {
		free(reader);
		return NULL;
	}
	reader->rb = ring_buffer__new(state->events_fd, handle_event, reader, NULL);
	if (!reader->rb) {
		err = -errno;
		pr_err("open the event ring buffer: %s", strerror(-err));
		close(reader->lock_fd);
		free(reader);
		errno = -err;
		return NULL;
	}
	return reader;
}

int mcg_event_reader_fd(struct mcg_event_reader *reader)
{
	return ring_buffer__epoll_fd(reader->rb);
}

int mcg_event_reader_drain(struct mcg_event_reader *reader)
{
	int err = ring_buffer__consume(reader->rb);

	if (err >= 0 && clock_ns(CLOCK_MONOTONIC) >= reader->next_drop_check) {
		check_guards(reader);
		reader->next_drop_check = clock_ns(CLOCK_MONOTONIC) + DROP_CHECK_INTERVAL_NS;
	}
	flush_output(reader);
	if (err < 0) {
		pr_err("read the event ring buffer: %s", strerror(-err));
		return err;
	}
	return 0;
}

void mcg_event_reader_free(struct mcg_event_reader *reader)
{
	if (!reader)
		return;
	for (size_t i = 0; i < reader->seen_count; i++)
		flush_folded(reader, &reader->seen[i]);
	fflush(stdout);
	ring_buffer__free(reader->rb);
	if (reader->lock_fd >= 0)
		close(reader->lock_fd);
	free(reader->seen);
	free(reader->line.buf);
	free(reader);
}

static volatile sig_atomic_t stop_requested;

static void request_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Wait up to the drain interval for a wakeup, then drain, until a signal stops it. */
static int stream(struct mcg_event_reader *reader, bool json)
{
	struct pollfd pfd = { .fd = mcg_event_reader_fd(reader), .events = POLLIN };
	int err = 0;

	if (!json)
		printf("%s\n", MCG_EVENT_TEXT_HEADER);
	while (!stop_requested && !err) {
		poll(&pfd, 1, POLL_TIMEOUT_MS);
		err = mcg_event_reader_drain(reader);
	}
	/* Deliver what is already in the ring before exiting. */
	if (!err)
		err = mcg_event_reader_drain(reader);
	return err;
}

int mcg_cmd_events(struct mcg_cli *cli)
{
	struct mcg_event_reader_opts opts = { .json = cli->json };
	struct sigaction sa = { .sa_handler = request_stop };
	char error[PATH_MAX + 128];
	struct mcg_event_reader *reader;
	struct mcg_state state;
	struct mcg_cgroup cg;
	int code, err;

	if (cli->argc > 1) {
		pr_err("'mcguard events' takes at most one CGROUP");
		return MCG_EXIT_USAGE;
	}
	if (cli->argc == 1) {
		if (mcg_cgroup_resolve(cli->argv[0], &cg, error, sizeof(error))) {
			pr_err("%s", error);
			return MCG_EXIT_USAGE;
		}
		opts.filter_id = cg.id;
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
	if (opts.filter_id && !mcg_guard_exists(&state, opts.filter_id))
		pr_warn("%s has no guard under %s yet: its events show once one is attached",
			cg.rel, cli->pin_root);
	mcg_state_unlock(&state);

	reader = mcg_event_reader_new(&state, &opts);
	if (!reader) {
		mcg_state_close(&state);
		return MCG_EXIT_FAILURE;
	}

	/* No SA_RESTART: a signal must interrupt the poll. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* The reader flushes after each drain and during long ones, so no line waits long. */
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);

	err = stream(reader, cli->json);
	mcg_event_reader_free(reader);
	mcg_state_close(&state);
	return err ? MCG_EXIT_FAILURE : MCG_EXIT_OK;
}
