// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * daemon: keep every cgroup that the configuration matches guarded. New
 * cgroups are found through inotify on the cgroup tree and guarded as they
 * appear; a full rescan at start, on reload and periodically heals anything
 * a notification missed. Guards are pinned, so enforcement never depends on
 * the daemon being alive.
 */
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "cgroup.h"
#include "cli.h"
#include "config.h"
#include "events.h"
#include "format.h"
#include "guard.h"
#include "log.h"
#include "metrics.h"
#include "policy.h"
#include "scan.h"

#define DRAIN_INTERVAL_MS 10
#define PRUNE_DELAY_NS 1000000000ll
/*
 * cgroupfs reports a removed cgroup to the watch on its parent (IN_DELETE)
 * but sends no IN_IGNORED for the cgroup's own watch, so the daemon removes
 * that watch itself; otherwise every removed cgroup would leak one.
 */
#define INOTIFY_MASK (IN_CREATE | IN_DELETE | IN_ONLYDIR | IN_DELETE_SELF)

/* Upper bounds, in milliseconds, of the histogram of creation-to-guard windows. */
static const double window_bounds_ms[] = { 1, 2, 5, 10, 20, 50, 100, 1000 };
#define WINDOW_BUCKETS (sizeof(window_bounds_ms) / sizeof(window_bounds_ms[0]))

struct watch {
	int wd;
	char *path;
};

struct daemon {
	struct mcg_cli *cli;
	struct mcg_config config;
	struct mcg_state state;
	struct mcg_event_reader *reader;
	struct mcg_metrics *metrics;
	char mount[PATH_MAX];
	int inotify_fd, signal_fd, epoll_fd;
	struct watch *watches;
	size_t watch_count;
	long long next_reconcile_ns;
	long long prune_at_ns; /* 0, or when to drop the guards of removed cgroups */
	/* Figures for the metrics endpoint. */
	unsigned long attach_failures;
	double last_reconcile;
	unsigned long window_counts[WINDOW_BUCKETS + 1];
	double window_sum_ms;
	unsigned long window_total;
};

static long long monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* Build the configuration from the file and the command line; keeps *config untouched on error. */
static int load_config(struct daemon *d, struct mcg_config *config)
{
	const char *path = d->cli->config_path;
	char error[PATH_MAX + 512];

	memset(config, 0, sizeof(*config));
	snprintf(config->pin_root, sizeof(config->pin_root), "%s", d->cli->pin_root);
	config->reconcile_seconds = MCG_DEFAULT_RECONCILE_SECONDS;
	if (!path && !d->cli->match_count)
		path = MCG_DEFAULT_CONFIG;
	if (path && mcg_config_load(path, config, error, sizeof(error))) {
		pr_err("%s", error);
		mcg_config_free(config);
		return -EINVAL;
	}
	for (int i = 0; i < d->cli->match_count; i++) {
		struct mcg_guard_rule rule = { .policy = d->cli->policy, .force = d->cli->force };

		snprintf(rule.match, sizeof(rule.match), "%s", d->cli->matches[i]);
		if (!strcmp(rule.match, "/") || !rule.match[0]) {
			pr_err("--match \"%s\" would guard the cgroup2 root; name the catcher's cgroup",
			       rule.match);
			mcg_config_free(config);
			return -EINVAL;
		}
		mcg_config_add_rule(config, &rule);
	}
	if (d->cli->metrics)
		snprintf(config->metrics, sizeof(config->metrics), "%s", d->cli->metrics);
	if (d->cli->reconcile_seconds)
		config->reconcile_seconds = d->cli->reconcile_seconds;
	if (!config->rule_count)
		pr_warn("the configuration names no guards: nothing will be guarded");
	return 0;
}

static const struct mcg_guard_rule *rule_for(struct daemon *d, const char *rel)
{
	for (size_t i = 0; i < d->config.rule_count; i++)
		if (mcg_rule_matches(&d->config.rules[i], rel))
			return &d->config.rules[i];
	return NULL;
}

/* Policies are equal when everything but the bookkeeping fields is. */
static bool same_policy(const struct mcg_policy *a, const struct mcg_policy *b)
{
	struct mcg_policy x = *a, y = *b;

	x.guard_cgroup_id = y.guard_cgroup_id = 0;
	x.generation = y.generation = 0;
	return !memcmp(&x, &y, sizeof(x));
}

static void record_window(struct daemon *d, double window_ms)
{
	size_t bucket = 0;

	while (bucket < WINDOW_BUCKETS && window_ms > window_bounds_ms[bucket])
		bucket++;
	d->window_counts[bucket]++;
	d->window_sum_ms += window_ms;
	d->window_total++;
}

/*
 * Make sure the cgroup at path is guarded with rule's policy: attach, repair
 * missing hooks or replace a different policy. created_ns is the cgroup's
 * creation time on CLOCK_REALTIME for a cgroup that just appeared, else 0.
 */
static void ensure_guard(struct daemon *d, const char *path, const struct mcg_guard_rule *rule,
			 long long created_ns)
{
	char error[PATH_MAX * 2];
	struct mcg_counters counters;
	struct mcg_policy current;
	bool attached[MCG_HOOK_COUNT], complete = true, existed;
	struct mcg_cgroup cg;
	struct timespec now;
	int err;

	if (mcg_cgroup_resolve(path, &cg, error, sizeof(error)))
		return; /* removed again already */
	if (mcg_cgroup_check_target(&cg, rule->force, error, sizeof(error))) {
		pr_warn("not guarding %s (config line %d): %s", cg.rel, rule->line, error);
		return;
	}
	if (mcg_guard_exists(&d->state, cg.id) &&
	    !mcg_guard_read(&d->state, cg.id, &current, &counters) &&
	    same_policy(&current, &rule->policy)) {
		mcg_guard_query_hooks(&d->state, cg.path, attached);
		for (int i = 0; i < MCG_HOOK_COUNT; i++)
			complete &= attached[i];
		if (complete)
			return;
	}

	if (mcg_state_lock(&d->state))
		return;
	err = mcg_guard_attach(&d->state, &cg, &rule->policy, &existed);
	mcg_state_unlock(&d->state);
	if (err) {
		d->attach_failures++;
		pr_err("guard %s: attach failed: %s", cg.rel, strerror(-err));
		return;
	}

	if (created_ns) {
		double window_ms;

		clock_gettime(CLOCK_REALTIME, &now);
		window_ms = (now.tv_sec * 1000000000ll + now.tv_nsec - created_ns) / 1e6;
		record_window(d, window_ms);
		pr_info("guarding %s, %.2f ms after it appeared", cg.rel, window_ms);
	} else if (!existed) {
		pr_info("guarding %s", cg.rel);
	} else if (!complete) {
		pr_info("repaired the guard of %s", cg.rel);
	} else {
		pr_info("updated the policy of %s", cg.rel);
	}
	mcg_audit("%s cgroup=%s id=%llu (daemon, config line %d)",
		  existed ? "policy-update" : "attach", cg.rel, (unsigned long long)cg.id, rule->line);
	mcg_scan_report(&cg, &rule->policy);
}

static int find_watch(struct daemon *d, int wd)
{
	for (size_t i = 0; i < d->watch_count; i++)
		if (d->watches[i].wd == wd)
			return i;
	return -1;
}

static void add_watch(struct daemon *d, const char *path)
{
	struct watch *grown;
	int wd = inotify_add_watch(d->inotify_fd, path, INOTIFY_MASK);

	if (wd < 0) {
		if (errno != ENOENT)
			pr_warn("watch %s: %s (new cgroups below it are found by the periodic rescan)",
				path, strerror(errno));
		return;
	}
	if (find_watch(d, wd) >= 0)
		return;
	grown = realloc(d->watches, (d->watch_count + 1) * sizeof(*grown));
	if (!grown)
		return;
	d->watches = grown;
	d->watches[d->watch_count].wd = wd;
	d->watches[d->watch_count].path = strdup(path);
	d->watch_count++;
}

static void drop_watch(struct daemon *d, int wd)
{
	int i = find_watch(d, wd);

	if (i < 0)
		return;
	free(d->watches[i].path);
	d->watches[i] = d->watches[--d->watch_count];
}

/* A watched directory was removed: remove its watch from the kernel too. */
static void forget_path(struct daemon *d, const char *path)
{
	for (size_t i = 0; i < d->watch_count; i++) {
		if (strcmp(d->watches[i].path, path))
			continue;
		inotify_rm_watch(d->inotify_fd, d->watches[i].wd);
		drop_watch(d, d->watches[i].wd);
		return;
	}
}

static struct daemon *walk_daemon;
static long long walk_created_ns;

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	const struct mcg_guard_rule *rule;
	const char *rel = path + strlen(walk_daemon->mount);

	(void)st;
	(void)ftw;
	if (type != FTW_D)
		return 0;
	add_watch(walk_daemon, path);
	rule = rule_for(walk_daemon, *rel ? rel : "/");
	if (rule)
		ensure_guard(walk_daemon, path, rule, walk_created_ns);
	return 0;
}

/* Walk the tree below path: watch every directory and guard every match. */
static void scan_tree(struct daemon *d, const char *path, long long created_ns)
{
	walk_daemon = d;
	walk_created_ns = created_ns;
	nftw(path, visit, 32, FTW_PHYS);
}

static void publish_metrics(struct daemon *d);

static void reconcile(struct daemon *d)
{
	if (!mcg_state_lock(&d->state)) {
		mcg_state_prune(&d->state);
		mcg_state_unlock(&d->state);
	}
	scan_tree(d, d->mount, 0);
	d->last_reconcile = time(NULL);
	d->next_reconcile_ns = monotonic_ns() + d->config.reconcile_seconds * 1000000000ll;
	publish_metrics(d);
}

static void handle_inotify(struct daemon *d)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t len = read(d->inotify_fd, buf, sizeof(buf));

	for (char *p = buf; len > 0 && p < buf + len;) {
		struct inotify_event *event = (struct inotify_event *)p;

		p += sizeof(*event) + event->len;
		if (event->mask & IN_Q_OVERFLOW) {
			pr_warn("inotify queue overflowed: rescanning the cgroup tree");
			reconcile(d);
			continue;
		}
		if (event->mask & IN_IGNORED) {
			drop_watch(d, event->wd);
			continue;
		}
		if ((event->mask & IN_DELETE) && (event->mask & IN_ISDIR) && event->len) {
			int i = find_watch(d, event->wd);
			char path[PATH_MAX * 2];

			if (i < 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", d->watches[i].path, event->name);
			forget_path(d, path);
			/* The kernel releases a removed cgroup's links shortly after, not at once. */
			d->prune_at_ns = monotonic_ns() + PRUNE_DELAY_NS;
			continue;
		}
		if ((event->mask & IN_CREATE) && (event->mask & IN_ISDIR) && event->len) {
			int i = find_watch(d, event->wd);
			char path[PATH_MAX * 2];
			struct stat st;

			if (i < 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", d->watches[i].path, event->name);
			/* cgroupfs sets ctime when the directory is made: the start of the window. */
			if (stat(path, &st))
				continue;
			scan_tree(d, path, st.st_ctim.tv_sec * 1000000000ll + st.st_ctim.tv_nsec);
		}
	}
}

static void append(char **text, size_t *size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void append(char **text, size_t *size, const char *fmt, ...)
{
	size_t used = *text ? strlen(*text) : 0;
	va_list ap;
	int need;

	va_start(ap, fmt);
	need = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (need < 0)
		return;
	if (used + need + 1 > *size) {
		size_t grown_size = (used + need + 1) * 2;
		char *grown = realloc(*text, grown_size);

		if (!grown)
			return;
		*text = grown;
		*size = grown_size;
	}
	va_start(ap, fmt);
	vsnprintf(*text + used, *size - used, fmt, ap);
	va_end(ap);
}

/* A Prometheus label value: backslash, quote and newline escaped. */
static void label_value(const char *in, char *out, size_t size)
{
	size_t j = 0;

	for (size_t i = 0; in[i] && j + 3 < size; i++) {
		if (in[i] == '\\' || in[i] == '"' || in[i] == '\n')
			out[j++] = '\\';
		out[j++] = in[i] == '\n' ? 'n' : in[i];
	}
	out[j] = '\0';
}

static void publish_metrics(struct daemon *d)
{
	size_t count = 0, size = 0;
	unsigned long cumulative = 0;
	__u64 *ids = NULL;
	char *text = NULL;

	if (!d->metrics)
		return;
	append(&text, &size,
	       "# HELP mcguard_decisions_total Calls a guard denied, rewrote, audited or contained.\n"
	       "# TYPE mcguard_decisions_total counter\n");
	mcg_guard_list(&d->state, &ids, &count);
	for (size_t i = 0; i < count; i++) {
		struct mcg_counters counters;
		struct mcg_policy policy;
		const char *rel = mcg_cgroup_path_by_id(ids[i]);
		char label[PATH_MAX * 2];

		if (!rel || mcg_guard_read(&d->state, ids[i], &policy, &counters))
			continue;
		label_value(rel, label, sizeof(label));
		for (int h = 0; h < MCG_HOOK_COUNT; h++)
			for (int c = 0; c < MCG_COUNTER_DROPPED; c++)
				append(&text, &size,
				       "mcguard_decisions_total{cgroup=\"%s\",hook=\"%s\",verdict=\"%s\"} %llu\n",
				       label, mcg_hook_name(h), mcg_counter_name(c),
				       (unsigned long long)counters.count[h][c]);
		for (int h = 0; h < MCG_HOOK_COUNT; h++)
			append(&text, &size,
			       "mcguard_events_dropped_total{cgroup=\"%s\",hook=\"%s\"} %llu\n", label,
			       mcg_hook_name(h),
			       (unsigned long long)counters.count[h][MCG_COUNTER_DROPPED]);
	}
	free(ids);
	append(&text, &size,
	       "# HELP mcguard_guards Guards attached under the pin root.\n"
	       "# TYPE mcguard_guards gauge\nmcguard_guards %zu\n"
	       "# HELP mcguard_attach_failures_total Attaches the kernel refused.\n"
	       "# TYPE mcguard_attach_failures_total counter\nmcguard_attach_failures_total %lu\n"
	       "# HELP mcguard_last_reconcile_timestamp_seconds Time of the last full rescan.\n"
	       "# TYPE mcguard_last_reconcile_timestamp_seconds gauge\n"
	       "mcguard_last_reconcile_timestamp_seconds %.0f\n"
	       "# HELP mcguard_guard_window_seconds From a cgroup's creation to its guard.\n"
	       "# TYPE mcguard_guard_window_seconds histogram\n",
	       count, d->attach_failures, d->last_reconcile);
	for (size_t b = 0; b < WINDOW_BUCKETS; b++) {
		cumulative += d->window_counts[b];
		append(&text, &size, "mcguard_guard_window_seconds_bucket{le=\"%g\"} %lu\n",
		       window_bounds_ms[b] / 1000, cumulative);
	}
	append(&text, &size,
	       "mcguard_guard_window_seconds_bucket{le=\"+Inf\"} %lu\n"
	       "mcguard_guard_window_seconds_sum %g\nmcguard_guard_window_seconds_count %lu\n",
	       d->window_total, d->window_sum_ms / 1000, d->window_total);
	if (text)
		mcg_metrics_publish(d->metrics, text);
	free(text);
}

static void reload(struct daemon *d)
{
	struct mcg_config next;
	char notify[64];

	snprintf(notify, sizeof(notify), "RELOADING=1\nMONOTONIC_USEC=%lld", monotonic_ns() / 1000);
	sd_notify(0, notify);
	if (load_config(d, &next)) {
		pr_err("reload failed: keeping the previous configuration");
	} else {
		if (strcmp(next.pin_root, d->config.pin_root))
			pr_warn("pin_root changes take a restart; keeping %s", d->config.pin_root);
		snprintf(next.pin_root, sizeof(next.pin_root), "%s", d->config.pin_root);
		if (strcmp(next.metrics, d->config.metrics))
			pr_warn("metrics address changes take a restart");
		snprintf(next.metrics, sizeof(next.metrics), "%s", d->config.metrics);
		mcg_config_free(&d->config);
		d->config = next;
		pr_info("reloaded the configuration: %zu guard rule%s", d->config.rule_count,
			d->config.rule_count == 1 ? "" : "s");
		reconcile(d);
	}
	sd_notify(0, "READY=1");
}

/* With --detach-on-exit: remove the guards of cgroups the configuration matches. */
static void detach_matching(struct daemon *d)
{
	size_t count = 0;
	__u64 *ids = NULL;

	if (mcg_state_lock(&d->state) || mcg_guard_list(&d->state, &ids, &count))
		return;
	for (size_t i = 0; i < count; i++) {
		const char *rel = mcg_cgroup_path_by_id(ids[i]);

		if (!rel || !rule_for(d, rel))
			continue;
		if (!mcg_guard_detach(&d->state, ids[i])) {
			pr_info("detached the guard of %s (--detach-on-exit)", rel);
			mcg_audit("detach cgroup=%s id=%llu (daemon exit)", rel, (unsigned long long)ids[i]);
		}
	}
	free(ids);
	mcg_state_unlock(&d->state);
}

/* Returns true when the daemon should stop. */
static bool handle_signal(struct daemon *d)
{
	struct signalfd_siginfo info;

	if (read(d->signal_fd, &info, sizeof(info)) != sizeof(info))
		return false;
	if (info.ssi_signo == SIGHUP) {
		pr_info("SIGHUP: reloading %s", d->cli->config_path ? d->cli->config_path
								  : MCG_DEFAULT_CONFIG);
		reload(d);
		return false;
	}
	pr_info("%s: stopping; guards stay in place%s", strsignal(info.ssi_signo),
		d->cli->detach_on_exit ? " unless they match the configuration" : "");
	return true;
}

static int setup_fds(struct daemon *d)
{
	struct epoll_event event = { .events = EPOLLIN };
	sigset_t signals;

	sigemptyset(&signals);
	sigaddset(&signals, SIGHUP);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	sigprocmask(SIG_BLOCK, &signals, NULL);
	d->signal_fd = signalfd(-1, &signals, SFD_CLOEXEC);
	d->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	d->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (d->signal_fd < 0 || d->inotify_fd < 0 || d->epoll_fd < 0) {
		pr_err("set up the event loop: %s", strerror(errno));
		return -errno;
	}
	event.data.fd = d->signal_fd;
	epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, d->signal_fd, &event);
	event.data.fd = d->inotify_fd;
	epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, d->inotify_fd, &event);
	event.data.fd = mcg_event_reader_fd(d->reader);
	epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, event.data.fd, &event);
	return 0;
}

static void run_loop(struct daemon *d)
{
	for (;;) {
		struct epoll_event events[8];
		int n = epoll_wait(d->epoll_fd, events, 8, DRAIN_INTERVAL_MS);

		for (int i = 0; i < n; i++) {
			if (events[i].data.fd == d->signal_fd && handle_signal(d))
				return;
			if (events[i].data.fd == d->inotify_fd)
				handle_inotify(d);
		}
		mcg_event_reader_drain(d->reader);
		if (d->prune_at_ns && monotonic_ns() >= d->prune_at_ns && !mcg_state_lock(&d->state)) {
			d->prune_at_ns = 0;
			mcg_state_prune(&d->state);
			mcg_state_unlock(&d->state);
			publish_metrics(d);
		}
		if (monotonic_ns() >= d->next_reconcile_ns)
			reconcile(d);
	}
}

static void cleanup(struct daemon *d)
{
	mcg_metrics_stop(d->metrics);
	mcg_event_reader_free(d->reader);
	mcg_state_close(&d->state);
	for (size_t i = 0; i < d->watch_count; i++)
		free(d->watches[i].path);
	free(d->watches);
	if (d->inotify_fd >= 0)
		close(d->inotify_fd);
	if (d->signal_fd >= 0)
		close(d->signal_fd);
	if (d->epoll_fd >= 0)
		close(d->epoll_fd);
	mcg_config_free(&d->config);
}

int mcg_cmd_daemon(struct mcg_cli *cli)
{
	struct mcg_event_reader_opts reader_opts = { .json = cli->json, .fold = true };
	struct daemon d = { .cli = cli, .inotify_fd = -1, .signal_fd = -1, .epoll_fd = -1 };
	int code;

	if (cli->argc) {
		pr_err("'mcguard daemon' takes no operands; name cgroups with --match or in the configuration");
		return MCG_EXIT_USAGE;
	}
	if (load_config(&d, &d.config))
		return MCG_EXIT_USAGE;
	code = mcg_require_root(cli);
	if (code)
		return code;
	if (mcg_cgroup_mount(d.mount, sizeof(d.mount))) {
		pr_err("no cgroup2 filesystem is mounted (see /proc/self/mountinfo)");
		return MCG_EXIT_FAILURE;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Under systemd, lines carry priorities: events are notices. */
	mcg_log_journal = mcg_log_fd_is_journal(STDERR_FILENO);
	if (mcg_log_fd_is_journal(STDOUT_FILENO))
		reader_opts.line_prefix = "<5>";

	/* Opening the state adopts existing pins and drops guards of removed cgroups. */
	if (mcg_state_open(&d.state, d.config.pin_root, true))
		return MCG_EXIT_FAILURE;
	mcg_state_unlock(&d.state);
	d.reader = mcg_event_reader_new(&d.state, &reader_opts);
	if (!d.reader || setup_fds(&d)) {
		cleanup(&d);
		return MCG_EXIT_FAILURE;
	}
	if (d.config.metrics[0]) {
		d.metrics = mcg_metrics_start(d.config.metrics);
		if (!d.metrics) {
			cleanup(&d);
			return MCG_EXIT_FAILURE;
		}
	}

	pr_info("started: %zu guard rule%s, pin root %s, rescan every %u s", d.config.rule_count,
		d.config.rule_count == 1 ? "" : "s", d.config.pin_root, d.config.reconcile_seconds);
	reconcile(&d);
	sd_notify(0, "READY=1\nSTATUS=guarding");

	run_loop(&d);

	sd_notify(0, "STOPPING=1");
	if (cli->detach_on_exit)
		detach_matching(&d);
	mcg_event_reader_drain(d.reader);
	cleanup(&d);
	pr_info("stopped");
	return MCG_EXIT_OK;
}
