// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * daemon: keep every cgroup that the configuration matches guarded. New
 * cgroups are found through inotify on the cgroup tree and guarded as they
 * appear; a full rescan at start, on reload and periodically heals anything
 * a notification missed. Guards are pinned, so enforcement never depends on
 * the daemon being alive.
 */
#include <errno.h>
#include <fnmatch.h>
#include <ftw.h>
#include <malloc.h>
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

#include "cgroup.h"
#include "engine.h"
#include "target.h"
#include "cli.h"
#include "config.h"
#include "daemon.h"
#include "events.h"
#include "format.h"
#include "guard.h"
#include "kubepods.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "pod.h"
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

static const double window_bounds_ms[MCG_WINDOW_BUCKETS] = { 1, 2, 5, 10, 20, 50, 100, 1000 };
#define WINDOW_BUCKETS MCG_WINDOW_BUCKETS

static long long monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* Copy a command-line value over a setting. Returns false when it does not fit. */
static bool override(char *setting, size_t size, const char *value)
{
	if (!value)
		return true;
	if (strlen(value) >= size)
		return false;
	snprintf(setting, size, "%s", value);
	return true;
}

/* Apply the Kubernetes options of the command line to the settings of the file. */
static int override_kube(const struct mcg_cli *cli, struct mcg_kube_settings *kube)
{
	const char *given = cli->selector		 ? "--selector"
			    : cli->node_name		 ? "--node-name"
			    : cli->cgroup_root		 ? "--cgroup-root"
			    : cli->cgroup_driver	 ? "--cgroup-driver"
			    : cli->service_account_dir ? "--service-account-dir"
			    : cli->api_server		 ? "--api-server"
							 : NULL;

	if (cli->kubernetes)
		kube->enabled = true;
	if (given && !kube->enabled) {
		pr_err("%s needs --kubernetes or a kubernetes group in the configuration", given);
		return -EINVAL;
	}
	if (!override(kube->selector, sizeof(kube->selector), cli->selector) ||
	    !override(kube->node_name, sizeof(kube->node_name), cli->node_name) ||
	    !override(kube->cgroup_root, sizeof(kube->cgroup_root), cli->cgroup_root) ||
	    !override(kube->service_account_dir, sizeof(kube->service_account_dir),
		      cli->service_account_dir) ||
	    !override(kube->api_server, sizeof(kube->api_server), cli->api_server)) {
		pr_err("a Kubernetes option value is too long");
		return -EINVAL;
	}
	if (cli->cgroup_driver)
		kube->cgroup_driver = mcg_cgroup_driver_parse(cli->cgroup_driver);
	if (cli->policy_given)
		kube->policy = cli->policy;
	return 0;
}

/* Build the configuration from the file and the command line; keeps *config untouched on error. */
static int load_config(struct daemon *d, struct mcg_config *config)
{
	const char *path = d->cli->config_path;
	char error[PATH_MAX + 512];

	memset(config, 0, sizeof(*config));
	snprintf(config->pin_root, sizeof(config->pin_root), "%s", d->cli->pin_root);
	config->reconcile_seconds = MCG_DEFAULT_RECONCILE_SECONDS;
	mcg_kube_settings_default(&config->kube);
	if (!path && !d->cli->match_count && !d->cli->kubernetes)
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
	if (override_kube(d->cli, &config->kube)) {
		mcg_config_free(config);
		return -EINVAL;
	}
	if (!config->rule_count && !config->kube.enabled)
		pr_warn("the configuration names no guards: nothing will be guarded");
	return 0;
}

/* Container names by ID, as the engine printed them; "" for an ID that no engine found. */
#define CONTAINER_CACHE_SIZE 64
static struct {
	char id[MCG_CONTAINER_ID_LEN + 1];
	char name[256];
} container_cache[CONTAINER_CACHE_SIZE];
static unsigned int container_cache_next;

/*
 * The container name of a cgroup named by an engine's scheme
 * (docker-ID.scope, libpod-ID, ...), or NULL. The engine is run once per ID.
 */
static const char *container_name_of(const char *rel)
{
	char copy[PATH_MAX], id[MCG_CONTAINER_ID_LEN + 1];
	char *name, *parent;
	unsigned int slot;

	snprintf(copy, sizeof(copy), "%s", rel);
	name = strrchr(copy, '/');
	if (!name)
		return NULL;
	*name++ = '\0';
	parent = strrchr(copy, '/') ? strrchr(copy, '/') + 1 : copy;
	if (!mcg_container_cgroup_scheme(parent, name, id))
		return NULL;
	for (unsigned int i = 0; i < CONTAINER_CACHE_SIZE; i++)
		if (!strcmp(container_cache[i].id, id))
			return container_cache[i].name[0] ? container_cache[i].name : NULL;

	slot = container_cache_next++ % CONTAINER_CACHE_SIZE;
	snprintf(container_cache[slot].id, sizeof(container_cache[slot].id), "%s", id);
	if (mcg_container_name_by_id(id, container_cache[slot].name,
				     sizeof(container_cache[slot].name))) {
		container_cache[slot].name[0] = '\0';
		pr_warn("container %.12s in %s: no engine found it, so container rules do not match it",
			id, rel);
		return NULL;
	}
	return container_cache[slot].name;
}

const struct mcg_guard_rule *mcg_daemon_rule_for(struct daemon *d, const char *rel)
{
	for (size_t i = 0; i < d->config.rule_count; i++) {
		const struct mcg_guard_rule *rule = &d->config.rules[i];
		const char *container;

		if (rule->container[0]) {
			container = container_name_of(rel);
			if (container && !fnmatch(rule->container, container, 0))
				return rule;
			continue;
		}
		if (mcg_rule_matches(rule, rel))
			return rule;
	}
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

int mcg_daemon_ensure_guard(struct daemon *d, const char *path, const struct mcg_policy *policy,
			    bool force, const char *origin, long long created_ns)
{
	char error[PATH_MAX * 2];
	struct mcg_counters counters;
	struct mcg_policy current;
	bool attached[MCG_HOOK_COUNT], complete = true, existed;
	struct mcg_cgroup cg;
	struct timespec now;
	int err;

	if (mcg_cgroup_resolve(path, &cg, error, sizeof(error)))
		return -ENOENT; /* removed again already */
	err = mcg_cgroup_check_target(&cg, force, error, sizeof(error));
	if (err) {
		pr_warn("not guarding %s (%s): %s", cg.rel, origin, error);
		return err;
	}
	if (mcg_guard_exists(&d->state, cg.id) &&
	    !mcg_guard_read(&d->state, cg.id, &current, &counters) &&
	    same_policy(&current, policy)) {
		mcg_guard_query_hooks(&d->state, cg.path, attached);
		for (int i = 0; i < MCG_HOOK_COUNT; i++)
			complete &= attached[i];
		if (complete)
			return 0;
	}

	err = mcg_state_lock(&d->state);
	if (err)
		return err;
	err = mcg_guard_attach(&d->state, &cg, policy, &existed);
	mcg_state_unlock(&d->state);
	if (err) {
		d->attach_failures++;
		pr_err("guard %s (%s): attach failed: %s", cg.rel, origin, strerror(-err));
		return err;
	}

	if (created_ns) {
		double window_ms;

		clock_gettime(CLOCK_REALTIME, &now);
		window_ms = (now.tv_sec * 1000000000ll + now.tv_nsec - created_ns) / 1e6;
		record_window(d, window_ms);
		pr_info("guarding %s, %.2f ms after it appeared (%s)", cg.rel, window_ms, origin);
	} else if (!existed) {
		pr_info("guarding %s (%s)", cg.rel, origin);
	} else if (!complete) {
		pr_info("repaired the guard of %s (%s)", cg.rel, origin);
	} else {
		pr_info("updated the policy of %s (%s)", cg.rel, origin);
	}
	mcg_audit("%s cgroup=%s id=%llu (daemon, %s)", existed ? "policy-update" : "attach", cg.rel,
		  (unsigned long long)cg.id, origin);
	mcg_scan_report(&cg, policy);
	return 0;
}

/* Guard a cgroup that a rule of the configuration covers. */
static void ensure_rule_guard(struct daemon *d, const char *path, const struct mcg_guard_rule *rule,
			      long long created_ns)
{
	char origin[32];

	snprintf(origin, sizeof(origin), rule->line ? "config line %d" : "--match", rule->line);
	mcg_daemon_ensure_guard(d, path, &rule->policy, rule->force, origin, created_ns);
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
	rule = mcg_daemon_rule_for(walk_daemon, *rel ? rel : "/");
	if (rule)
		ensure_rule_guard(walk_daemon, path, rule, walk_created_ns);
	else if (walk_daemon->pods)
		mcg_pods_visit(walk_daemon, path, walk_created_ns);
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
	scan_tree(d, d->scan_root, 0);
	if (d->pods)
		mcg_pods_reconcile(d);
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

void mcg_daemon_append(char **text, size_t *size, const char *fmt, ...)
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

void mcg_daemon_label_value(const char *in, char *out, size_t size)
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
	mcg_daemon_append(&text, &size,
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
		mcg_daemon_label_value(rel, label, sizeof(label));
		for (int h = 0; h < MCG_HOOK_COUNT; h++)
			for (int c = 0; c < MCG_COUNTER_DROPPED; c++)
				mcg_daemon_append(&text, &size,
				       "mcguard_decisions_total{cgroup=\"%s\",hook=\"%s\",verdict=\"%s\"} %llu\n",
				       label, mcg_hook_name(h), mcg_counter_name(c),
				       (unsigned long long)counters.count[h][c]);
		for (int h = 0; h < MCG_HOOK_COUNT; h++)
			mcg_daemon_append(&text, &size,
			       "mcguard_events_dropped_total{cgroup=\"%s\",hook=\"%s\"} %llu\n", label,
			       mcg_hook_name(h),
			       (unsigned long long)counters.count[h][MCG_COUNTER_DROPPED]);
	}
	free(ids);
	mcg_daemon_append(&text, &size,
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
		mcg_daemon_append(&text, &size, "mcguard_guard_window_seconds_bucket{le=\"%g\"} %lu\n",
		       window_bounds_ms[b] / 1000, cumulative);
	}
	mcg_daemon_append(&text, &size,
	       "mcguard_guard_window_seconds_bucket{le=\"+Inf\"} %lu\n"
	       "mcguard_guard_window_seconds_sum %g\nmcguard_guard_window_seconds_count %lu\n",
	       d->window_total, d->window_sum_ms / 1000, d->window_total);
	if (d->pods)
		mcg_pods_metrics(d, &text, &size);
	if (text)
		mcg_metrics_publish(d->metrics, text);
	free(text);
}

/*
 * The API client and the pod cgroups are set up once: a reload takes the
 * pods' base policy and the events switch, and keeps the rest.
 */
static void keep_kube_connection(struct mcg_kube_settings *next,
				 const struct mcg_kube_settings *running)
{
	struct mcg_kube_settings kept = *running;

	kept.policy = next->policy;
	kept.post_events = next->post_events;
	if (next->enabled != running->enabled || strcmp(next->selector, running->selector) ||
	    strcmp(next->cgroup_root, running->cgroup_root) ||
	    next->cgroup_driver != running->cgroup_driver ||
	    strcmp(next->service_account_dir, running->service_account_dir) ||
	    strcmp(next->api_server, running->api_server) ||
	    (next->node_name[0] && strcmp(next->node_name, running->node_name)))
		pr_warn("changes to the kubernetes group other than the policy and events take a restart");
	*next = kept;
}

static void reload(struct daemon *d)
{
	struct mcg_config next;
	char notify[64];

	snprintf(notify, sizeof(notify), "RELOADING=1\nMONOTONIC_USEC=%lld", monotonic_ns() / 1000);
	mcg_notify(notify);
	if (load_config(d, &next)) {
		pr_err("reload failed: keeping the previous configuration");
	} else {
		if (strcmp(next.pin_root, d->config.pin_root))
			pr_warn("pin_root changes take a restart; keeping %s", d->config.pin_root);
		snprintf(next.pin_root, sizeof(next.pin_root), "%s", d->config.pin_root);
		if (strcmp(next.metrics, d->config.metrics))
			pr_warn("metrics address changes take a restart");
		snprintf(next.metrics, sizeof(next.metrics), "%s", d->config.metrics);
		keep_kube_connection(&next.kube, &d->config.kube);
		mcg_config_free(&d->config);
		d->config = next;
		if (d->pods)
			mcg_pods_reload(d);
		/* Logged after the rescan, so the line means the new rules are applied. */
		reconcile(d);
		pr_info("reloaded the configuration: %zu guard rule%s", d->config.rule_count,
			d->config.rule_count == 1 ? "" : "s");
	}
	mcg_notify("READY=1");
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

		if (!rel || !mcg_daemon_rule_for(d, rel))
			continue;
		if (!mcg_guard_detach(&d->state, ids[i])) {
			pr_info("detached the guard of %s (--detach-on-exit)", rel);
			mcg_audit("detach cgroup=%s id=%llu (daemon exit)", rel, (unsigned long long)ids[i]);
		}
	}
	free(ids);
	mcg_state_unlock(&d->state);
	if (d->pods)
		mcg_pods_detach_all(d);
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

/* Start the Kubernetes API client and add its eventfd to the loop. */
static int start_pods(struct daemon *d)
{
	struct epoll_event event = { .events = EPOLLIN };

	d->kube_fd = mcg_pods_start(d);
	if (d->kube_fd < 0)
		return -1;
	event.data.fd = d->kube_fd;
	epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, d->kube_fd, &event);
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
			if (d->pods && events[i].data.fd == d->kube_fd)
				mcg_pods_apply_updates(d);
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
	mcg_pods_stop(d);
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
	struct daemon d = {
		.cli = cli, .inotify_fd = -1, .signal_fd = -1, .epoll_fd = -1, .kube_fd = -1,
	};
	int code;

	if (cli->argc) {
		pr_err("'mcguard daemon' takes no operands; name cgroups with --match or in the configuration");
		return MCG_EXIT_USAGE;
	}
	if (load_config(&d, &d.config))
		return MCG_EXIT_USAGE;
#ifdef __GLIBC__
	/*
	 * The metrics text grows by about 4 KiB per guard and is rebuilt and
	 * copied on every rescan and scrape. Once such a buffer is freed, glibc
	 * raises its mmap threshold above it and later ones stay on the heap
	 * (measured: up to 3.8 MiB more resident with 200 guards). A fixed
	 * threshold (glibc's default, 128 KiB) returns each to the kernel on free.
	 */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
	code = mcg_require_root(cli);
	if (code)
		return code;
	if (mcg_cgroup_mount(d.mount, sizeof(d.mount))) {
		if (d.config.kube.enabled)
			pr_err("no cgroup2 filesystem is mounted (see /proc/self/mountinfo): this node runs pods in cgroup v1 only, and mcguard can guard none of them; boot it with cgroup v2 (systemd.unified_cgroup_hierarchy=1)");
		else
			pr_err("no cgroup2 filesystem is mounted (see /proc/self/mountinfo)");
		return MCG_EXIT_FAILURE;
	}
	snprintf(d.scan_root, sizeof(d.scan_root), "%s", d.mount);
	if (d.config.kube.enabled) {
		code = mcg_pods_setup(&d);
		if (code)
			return code;
		reader_opts.describe = mcg_pods_describe_event;
		reader_opts.describe_context = d.pods;
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
	if (!d.reader || setup_fds(&d) || (d.pods && start_pods(&d))) {
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

	/* "started" follows the first scan: from then on inotify reports every new cgroup. */
	reconcile(&d);
#ifdef __GLIBC__
	/*
	 * Loading the programs and the first scan free most of what they
	 * allocated. By itself glibc returns only a large free top of the heap,
	 * and malloc_trim also releases the whole free pages inside it.
	 */
	malloc_trim(0);
#endif
	pr_info("started: %zu guard rule%s%s, pin root %s, rescan every %u s", d.config.rule_count,
		d.config.rule_count == 1 ? "" : "s",
		d.pods ? " and the selected pods of this node" : "", d.config.pin_root,
		d.config.reconcile_seconds);
	mcg_notify("READY=1\nSTATUS=guarding");

	run_loop(&d);

	mcg_notify("STOPPING=1");
	if (cli->detach_on_exit)
		detach_matching(&d);
	mcg_event_reader_drain(d.reader);
	cleanup(&d);
	pr_info("stopped");
	return MCG_EXIT_OK;
}
