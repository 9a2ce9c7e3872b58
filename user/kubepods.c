// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * kubepods: the daemon's Kubernetes mode. Every selected pod gets a guard on
 * its pod-level cgroup, which kubelet creates before any container of the
 * pod starts, so a guard attached when the directory appears covers every
 * container, including those started later.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "cgroup.h"
#include "curlsym.h"
#include "format.h"
#include "kube.h"
#include "kubepods.h"
#include "log.h"
#include "pod.h"
#include "policy.h"

/* The guard state of a selected pod. Each change is reported once. */
enum pod_state {
	POD_WAITING,   /* no pod-level cgroup yet: kubelet has not started the pod */
	POD_GUARDED,
	POD_CGROUP_V1, /* its cgroup exists in a cgroup v1 hierarchy only */
	POD_NO_CGROUP, /* running, but no cgroup of either driver below the cgroup root */
	POD_REFUSED,   /* mcguard's own pod */
	POD_FAILED,    /* the attach failed */
	POD_STATE_COUNT,
};

static const char *const state_names[POD_STATE_COUNT] = {
	"waiting", "guarded", "cgroup_v1", "no_cgroup", "refused", "failed",
};

/* Room for the candidate paths of one pod: 3 QoS classes times 2 drivers. */
#define MAX_CANDIDATES 6

struct pod_entry {
	struct mcg_pod pod;
	struct mcg_policy policy;
	char policy_error[256];          /* why the annotations were rejected, or "" */
	char reported_policy_error[256]; /* the last one reported, so each is reported once */
	char cgroup[PATH_MAX];           /* the guarded pod cgroup, absolute, or "" */
	__u64 cgroup_id;
	enum pod_state state;
	bool state_reported;
	bool listed; /* named by the list in progress */
};

struct mcg_pods {
	struct mcg_kube_settings settings;
	char api_url[512];
	char cgroup_root[PATH_MAX]; /* absolute, symlinks resolved */
	char root_rel[PATH_MAX];    /* cgroup_root below the cgroup2 mount: "" or "/a/b" */
	char self_uid[40];          /* $POD_UID: mcguard's own pod is never guarded */
	struct mcg_kube_client *client;
	bool curl_initialized;
	struct pod_entry *entries;
	size_t count;
	struct daemon *d;
};

/* Resolve the cgroup root and check that it is a cgroup v2 directory below the mount. */
static int resolve_cgroup_root(struct mcg_pods *pods, const char *mount)
{
	const char *root = pods->settings.cgroup_root[0] ? pods->settings.cgroup_root : mount;
	char mount_real[PATH_MAX];
	struct statfs sfs;
	size_t len;

	if (!realpath(root, pods->cgroup_root)) {
		pr_err("kubernetes: cgroup root %s: %s", root, strerror(errno));
		return -errno;
	}
	if (statfs(pods->cgroup_root, &sfs) || sfs.f_type != CGROUP2_SUPER_MAGIC) {
		pr_err("kubernetes: cgroup root %s is not a cgroup v2 directory: give kubelet's cgroup root below the cgroup2 mount %s",
		       pods->cgroup_root, mount);
		return -EINVAL;
	}
	if (!realpath(mount, mount_real))
		snprintf(mount_real, sizeof(mount_real), "%s", mount);
	len = strlen(mount_real);
	if (strncmp(pods->cgroup_root, mount_real, len) ||
	    (pods->cgroup_root[len] && pods->cgroup_root[len] != '/')) {
		pr_err("kubernetes: cgroup root %s is outside the cgroup2 mount %s", pods->cgroup_root,
		       mount_real);
		return -EINVAL;
	}
	snprintf(pods->root_rel, sizeof(pods->root_rel), "%s", pods->cgroup_root + len);
	return 0;
}

int mcg_pods_setup(struct daemon *d)
{
	struct mcg_pods *pods = calloc(1, sizeof(*pods));
	const char *node = getenv("NODE_NAME"), *self = getenv("POD_UID");
	char error[512];

	if (!pods)
		return MCG_EXIT_FAILURE;
	pods->d = d;
	pods->settings = d->config.kube;
	if (!pods->settings.node_name[0] && node)
		snprintf(pods->settings.node_name, sizeof(pods->settings.node_name), "%s", node);
	if (!pods->settings.node_name[0]) {
		pr_err("kubernetes: no node name: set NODE_NAME (from the downward API, spec.nodeName), --node-name or node_name");
		goto usage;
	}
	snprintf(d->config.kube.node_name, sizeof(d->config.kube.node_name), "%s",
		 pods->settings.node_name);
	if (self)
		snprintf(pods->self_uid, sizeof(pods->self_uid), "%s", self);
	if (mcg_kube_api_url(&pods->settings, pods->api_url, sizeof(pods->api_url), error,
			     sizeof(error))) {
		pr_err("kubernetes: %s", error);
		goto usage;
	}
	if (resolve_cgroup_root(pods, d->mount))
		goto usage;
	/* Without rules of its own the daemon only needs to watch the pods' tree. */
	if (!d->config.rule_count)
		snprintf(d->scan_root, sizeof(d->scan_root), "%s", pods->cgroup_root);
	d->pods = pods;
	return 0;

usage:
	free(pods);
	return MCG_EXIT_USAGE;
}

int mcg_pods_start(struct daemon *d)
{
	struct mcg_pods *pods = d->pods;
	CURLcode err;

	if (mcg_curl_load())
		return -1;
	err = sym_curl_global_init(CURL_GLOBAL_DEFAULT);
	if (err) {
		pr_err("kubernetes: initialize libcurl: %s", sym_curl_easy_strerror(err));
		return -1;
	}
	pods->curl_initialized = true;
	pods->client = mcg_kube_client_start(&pods->settings, pods->api_url);
	if (!pods->client)
		return -1;
	pr_info("kubernetes: guarding pods on node %s that match %s, below %s (cgroup driver %s), API server %s",
		pods->settings.node_name, pods->settings.selector, pods->cgroup_root,
		mcg_cgroup_driver_name(pods->settings.cgroup_driver), pods->api_url);
	return mcg_kube_client_fd(pods->client);
}

static struct pod_entry *find_entry(struct mcg_pods *pods, const char *uid)
{
	for (size_t i = 0; i < pods->count; i++)
		if (!strcmp(pods->entries[i].pod.uid, uid))
			return &pods->entries[i];
	return NULL;
}

static struct pod_entry *add_entry(struct mcg_pods *pods, const struct mcg_pod *pod)
{
	struct pod_entry *grown = realloc(pods->entries, (pods->count + 1) * sizeof(*grown));

	if (!grown) {
		pr_err("kubernetes: out of memory for pod %s/%s", pod->namespace, pod->name);
		return NULL;
	}
	pods->entries = grown;
	memset(&grown[pods->count], 0, sizeof(*grown));
	grown[pods->count].pod = *pod;
	return &grown[pods->count++];
}

static void remove_entry(struct mcg_pods *pods, struct pod_entry *entry)
{
	*entry = pods->entries[--pods->count];
}

/* A log line, and an Event on the pod when events are on. */
static void report(struct mcg_pods *pods, const struct pod_entry *entry, bool warning,
		   const char *reason, const char *message)
{
	if (warning)
		pr_warn("pod %s/%s: %s", entry->pod.namespace, entry->pod.name, message);
	else
		pr_info("pod %s/%s: %s", entry->pod.namespace, entry->pod.name, message);
	mcg_kube_client_post_event(pods->client, &entry->pod, warning, reason, message);
}

/* Compute the pod's policy, and report each distinct annotation error once. */
static void compute_policy(struct mcg_pods *pods, struct pod_entry *entry)
{
	char summary[2048], message[2400];

	entry->policy_error[0] = '\0';
	mcg_pod_policy(&entry->pod, &pods->d->config.kube.policy, &entry->policy,
		       entry->policy_error, sizeof(entry->policy_error));
	if (!strcmp(entry->policy_error, entry->reported_policy_error))
		return;
	snprintf(entry->reported_policy_error, sizeof(entry->reported_policy_error), "%s",
		 entry->policy_error);
	if (!entry->policy_error[0])
		return;
	snprintf(message, sizeof(message),
		 "invalid annotation: %s; the pod gets the strict default policy (%s) until the annotations are fixed",
		 entry->policy_error, mcg_policy_summary(&entry->policy, summary, sizeof(summary)));
	report(pods, entry, true, "InvalidGuardAnnotation", message);
}

static void set_state(struct mcg_pods *pods, struct pod_entry *entry, enum pod_state state)
{
	(void)pods;
	if (entry->state != state)
		entry->state_reported = false;
	entry->state = state;
}

static void origin_of(const struct pod_entry *entry, char *origin, size_t size)
{
	snprintf(origin, size, "pod %s/%s", entry->pod.namespace, entry->pod.name);
}

/* Is path (symlinks resolved) below the cgroup root? */
static bool below_root(struct mcg_pods *pods, const char *path, char *real, size_t size)
{
	size_t len = strlen(pods->cgroup_root);

	if (size < PATH_MAX || !realpath(path, real))
		return false;
	return !strncmp(real, pods->cgroup_root, len) && real[len] == '/';
}

/* Guard the pod at its cgroup path, and report the first guard and any failure. */
static void guard_at(struct mcg_pods *pods, struct pod_entry *entry, const char *path,
		     long long created_ns)
{
	char origin[400], real[PATH_MAX], summary[2048], message[PATH_MAX + 2400];
	bool first = entry->state != POD_GUARDED || strcmp(entry->cgroup, path);
	int err;

	if (!strcmp(entry->pod.uid, pods->self_uid)) {
		set_state(pods, entry, POD_REFUSED);
		if (!entry->state_reported)
			report(pods, entry, true, "NotGuarded",
			       "not guarded: this is mcguard's own pod, which needs the network to reach the API server");
		entry->state_reported = true;
		return;
	}
	if (!below_root(pods, path, real, sizeof(real)))
		return;

	origin_of(entry, origin, sizeof(origin));
	err = mcg_daemon_ensure_guard(pods->d, real, &entry->policy, true, origin, created_ns);
	if (err == -ENOENT)
		return;
	if (err) {
		set_state(pods, entry, POD_FAILED);
		snprintf(message, sizeof(message), "not guarded: attaching to %s failed: %s", real,
			 strerror(-err));
		if (!entry->state_reported)
			report(pods, entry, true, "GuardFailed", message);
		entry->state_reported = true;
		return;
	}

	set_state(pods, entry, POD_GUARDED);
	snprintf(entry->cgroup, sizeof(entry->cgroup), "%s", real);
	mcg_cgroup_id(real, &entry->cgroup_id);
	if (first || !entry->state_reported) {
		snprintf(message, sizeof(message), "guarded: cgroup %s, %s",
			 real + strlen(pods->d->mount),
			 mcg_policy_summary(&entry->policy, summary, sizeof(summary)));
		report(pods, entry, false, "Guarded", message);
	}
	entry->state_reported = true;
}

static size_t candidates(struct mcg_pods *pods, const struct pod_entry *entry,
			 char paths[MAX_CANDIDATES][256])
{
	return mcg_pod_cgroup_paths(&entry->pod, pods->settings.cgroup_driver, paths,
				    MAX_CANDIDATES);
}

/*
 * kubelet makes its cgroups in every mounted hierarchy. A pod directory
 * found in a cgroup v1 hierarchy but not in cgroup v2 cannot be guarded.
 */
static bool find_in_cgroup_v1(struct mcg_pods *pods, const char *rel, char *found, size_t size)
{
	char line[4096], mount_point[PATH_MAX], path[PATH_MAX * 3];
	FILE *mountinfo = fopen("/proc/self/mountinfo", "re");
	bool hit = false;
	struct stat st;

	if (!mountinfo)
		return false;
	while (!hit && fgets(line, sizeof(line), mountinfo)) {
		char *separator = strstr(line, " - ");

		if (!separator || strncmp(separator + 3, "cgroup ", 7))
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mount_point) != 1)
			continue;
		snprintf(path, sizeof(path), "%s%s/%s", mount_point, pods->root_rel, rel);
		if (!stat(path, &st) && S_ISDIR(st.st_mode)) {
			snprintf(found, size, "%s", path);
			hit = true;
		}
	}
	fclose(mountinfo);
	return hit;
}

/* A running pod without a cgroup v2 directory: report why it is not guarded. */
static void report_missing(struct mcg_pods *pods, struct pod_entry *entry,
			   char paths[MAX_CANDIDATES][256], size_t n)
{
	char found[PATH_MAX * 3], message[PATH_MAX * 4];

	for (size_t i = 0; i < n; i++) {
		if (!find_in_cgroup_v1(pods, paths[i], found, sizeof(found)))
			continue;
		set_state(pods, entry, POD_CGROUP_V1);
		snprintf(message, sizeof(message),
			 "not guarded: its cgroup %s is in a cgroup v1 hierarchy only, and cgroup BPF needs cgroup v2; run kubelet and the container runtime on cgroup v2 (systemd.unified_cgroup_hierarchy=1)",
			 found);
		goto report;
	}
	set_state(pods, entry, POD_NO_CGROUP);
	snprintf(message, sizeof(message),
		 "not guarded yet: the pod is %s but none of its cgroups exists below %s (%s, ...); check the cgroup root and driver of mcguard against kubelet's",
		 entry->pod.phase, pods->cgroup_root, paths[0]);
report:
	if (!entry->state_reported)
		report(pods, entry, true, "NotGuarded", message);
	entry->state_reported = true;
}

/* Guard the pod if one of its cgroups exists. Otherwise wait, or report a running pod. */
static void guard_pod(struct mcg_pods *pods, struct pod_entry *entry)
{
	char paths[MAX_CANDIDATES][256], path[PATH_MAX * 2];
	size_t n = candidates(pods, entry, paths);
	struct stat st;

	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", pods->cgroup_root, paths[i]);
		if (!stat(path, &st) && S_ISDIR(st.st_mode)) {
			guard_at(pods, entry, path, 0);
			return;
		}
	}
	if (entry->state == POD_GUARDED)
		entry->cgroup[0] = '\0';
	if (!strcmp(entry->pod.phase, "Running") && n)
		report_missing(pods, entry, paths, n);
	else
		set_state(pods, entry, POD_WAITING);
}

/* Remove the guard of a pod's cgroup, unless a rule of the configuration covers it too. */
static void detach_cgroup(struct mcg_pods *pods, const char *rel, __u64 id, const char *why)
{
	struct daemon *d = pods->d;

	if (mcg_daemon_rule_for(d, rel)) {
		pr_info("%s; keeping the guard of %s, which a rule of the configuration covers", why,
			rel);
		return;
	}
	if (mcg_state_lock(&d->state))
		return;
	if (!mcg_guard_detach(&d->state, id)) {
		pr_info("%s: removed the guard of %s", why, rel);
		mcg_audit("detach cgroup=%s id=%llu (daemon, %s)", rel, (unsigned long long)id, why);
	}
	mcg_state_unlock(&d->state);
}

/*
 * kubelet removed the pod's cgroup: the kernel detaches its programs on its
 * own, after a while, but the pins stay until removed.
 */
static void remove_pins(struct mcg_pods *pods, const struct pod_entry *entry, const char *why)
{
	struct daemon *d = pods->d;

	if (mcg_state_lock(&d->state))
		return;
	if (!mcg_guard_detach(&d->state, entry->cgroup_id)) {
		pr_info("%s; its cgroup %s is gone, so mcguard removed the pins of its guard", why,
			entry->cgroup + strlen(d->mount));
		mcg_audit("detach cgroup=%s id=%llu (daemon, %s, cgroup removed)",
			  entry->cgroup + strlen(d->mount), (unsigned long long)entry->cgroup_id, why);
	}
	mcg_state_unlock(&d->state);
}

/* The pod was deleted or no longer matches the selector. */
static void forget_pod(struct mcg_pods *pods, struct pod_entry *entry, bool listed_away)
{
	char why[1024];
	__u64 id = 0;

	if (entry->pod.deleting)
		snprintf(why, sizeof(why), "pod %s/%s was deleted", entry->pod.namespace,
			 entry->pod.name);
	else
		snprintf(why, sizeof(why), "pod %s/%s %s %s", entry->pod.namespace, entry->pod.name,
			 listed_away ? "is no longer listed for" : "no longer matches",
			 pods->settings.selector);

	if (!entry->cgroup_id || !mcg_guard_exists(&pods->d->state, entry->cgroup_id)) {
		pr_info("%s; it has no guard to remove", why);
	} else if (entry->cgroup[0] && !mcg_cgroup_id(entry->cgroup, &id) &&
		   id == entry->cgroup_id) {
		detach_cgroup(pods, entry->cgroup + strlen(pods->d->mount), id, why);
		if (!entry->pod.deleting)
			mcg_kube_client_post_event(pods->client, &entry->pod, false, "Unguarded",
						   "no longer selected: mcguard removed the guard");
	} else {
		remove_pins(pods, entry, why);
	}
	remove_entry(pods, entry);
}

static void upsert(struct mcg_pods *pods, const struct mcg_pod *pod)
{
	struct pod_entry *entry = find_entry(pods, pod->uid);

	if (strcmp(pod->node, pods->settings.node_name)) {
		pr_warn("kubernetes: ignoring pod %s/%s of node \"%s\": the API server sent a pod of another node",
			pod->namespace, pod->name, pod->node);
		return;
	}
	if (!entry)
		entry = add_entry(pods, pod);
	if (!entry)
		return;
	entry->pod = *pod;
	entry->listed = true;
	compute_policy(pods, entry);
	guard_pod(pods, entry);
}

/*
 * After a list: a guard on a pod cgroup below the cgroup root whose pod is
 * not selected belongs to a pod whose label was removed while no daemon
 * ran. The daemon owns the guards of pod cgroups, so it removes those.
 */
static void sweep_unselected(struct mcg_pods *pods)
{
	struct daemon *d = pods->d;
	size_t count = 0, root_len = strlen(pods->root_rel);
	__u64 *ids = NULL;
	char uid[40], why[128];

	if (mcg_guard_list(&d->state, &ids, &count))
		return;
	for (size_t i = 0; i < count; i++) {
		const char *rel = mcg_cgroup_path_by_id(ids[i]);

		if (!rel || strncmp(rel, pods->root_rel, root_len) || rel[root_len] != '/' ||
		    !mcg_pod_uid_from_cgroup(rel + root_len + 1, uid, sizeof(uid)))
			continue;
		bool selected = false;

		for (size_t j = 0; j < pods->count && !selected; j++)
			selected = !strcmp(pods->entries[j].pod.cgroup_uid, uid);
		if (selected)
			continue;
		snprintf(why, sizeof(why), "pod UID %s is not selected", uid);
		detach_cgroup(pods, rel, ids[i], why);
	}
	free(ids);
}

static void end_list(struct mcg_pods *pods)
{
	for (size_t i = pods->count; i-- > 0;)
		if (!pods->entries[i].listed)
			forget_pod(pods, &pods->entries[i], true);
	sweep_unselected(pods);
}

void mcg_pods_apply_updates(struct daemon *d)
{
	struct mcg_pods *pods = d->pods;
	struct mcg_kube_update *updates = NULL;
	size_t n = mcg_kube_client_take(pods->client, &updates);

	for (size_t i = 0; i < n; i++) {
		struct pod_entry *entry;

		switch (updates[i].type) {
		case MCG_KUBE_LIST_BEGIN:
			for (size_t j = 0; j < pods->count; j++)
				pods->entries[j].listed = false;
			break;
		case MCG_KUBE_UPSERT:
			upsert(pods, &updates[i].pod);
			break;
		case MCG_KUBE_DELETE:
			entry = find_entry(pods, updates[i].pod.uid);
			if (entry) {
				entry->pod = updates[i].pod;
				forget_pod(pods, entry, false);
			}
			break;
		case MCG_KUBE_LIST_END:
			end_list(pods);
			break;
		}
	}
	free(updates);
}

void mcg_pods_visit(struct daemon *d, const char *path, long long created_ns)
{
	struct mcg_pods *pods = d->pods;
	size_t root_len = strlen(pods->cgroup_root);
	char uid[40], paths[MAX_CANDIDATES][256];
	const char *rel;

	if (strncmp(path, pods->cgroup_root, root_len) || path[root_len] != '/')
		return;
	rel = path + root_len + 1;
	if (!mcg_pod_uid_from_cgroup(rel, uid, sizeof(uid)))
		return;
	for (size_t i = 0; i < pods->count; i++) {
		struct pod_entry *entry = &pods->entries[i];
		size_t n;

		if (strcmp(entry->pod.cgroup_uid, uid))
			continue;
		n = candidates(pods, entry, paths);
		for (size_t j = 0; j < n; j++)
			if (!strcmp(paths[j], rel))
				guard_at(pods, entry, path, created_ns);
	}
}

void mcg_pods_reconcile(struct daemon *d)
{
	struct mcg_pods *pods = d->pods;

	for (size_t i = 0; i < pods->count; i++)
		if (pods->entries[i].state != POD_GUARDED)
			guard_pod(pods, &pods->entries[i]);
}

void mcg_pods_reload(struct daemon *d)
{
	struct mcg_pods *pods = d->pods;

	pods->settings.policy = d->config.kube.policy;
	pods->settings.post_events = d->config.kube.post_events;
	for (size_t i = 0; i < pods->count; i++)
		compute_policy(pods, &pods->entries[i]);
}

void mcg_pods_detach_all(struct daemon *d)
{
	struct mcg_pods *pods = d->pods;

	for (size_t i = 0; i < pods->count; i++) {
		struct pod_entry *entry = &pods->entries[i];
		char why[400];
		__u64 id = 0;

		if (entry->state != POD_GUARDED || mcg_cgroup_id(entry->cgroup, &id) ||
		    id != entry->cgroup_id)
			continue;
		snprintf(why, sizeof(why), "pod %s/%s (--detach-on-exit)", entry->pod.namespace,
			 entry->pod.name);
		detach_cgroup(pods, entry->cgroup + strlen(d->mount), id, why);
	}
}

void mcg_pods_metrics(struct daemon *d, char **text, size_t *size)
{
	struct mcg_pods *pods = d->pods;
	unsigned long states[POD_STATE_COUNT] = { 0 }, invalid = 0;
	struct mcg_kube_stats stats;

	for (size_t i = 0; i < pods->count; i++) {
		states[pods->entries[i].state]++;
		invalid += pods->entries[i].policy_error[0] != '\0';
	}
	mcg_daemon_append(text, size,
			  "# HELP mcguard_kubernetes_pods Selected pods of this node by guard state.\n"
			  "# TYPE mcguard_kubernetes_pods gauge\n");
	for (int s = 0; s < POD_STATE_COUNT; s++)
		mcg_daemon_append(text, size, "mcguard_kubernetes_pods{state=\"%s\"} %lu\n",
				  state_names[s], states[s]);
	mcg_daemon_append(text, size,
			  "# HELP mcguard_kubernetes_pods_invalid_annotations Selected pods on the strict default policy because of an invalid annotation.\n"
			  "# TYPE mcguard_kubernetes_pods_invalid_annotations gauge\n"
			  "mcguard_kubernetes_pods_invalid_annotations %lu\n"
			  "# HELP mcguard_kubernetes_pod_guard_info The cgroup of each guarded pod.\n"
			  "# TYPE mcguard_kubernetes_pod_guard_info gauge\n",
			  invalid);
	for (size_t i = 0; i < pods->count; i++) {
		const struct pod_entry *entry = &pods->entries[i];
		char namespace[160], name[520], cgroup[PATH_MAX * 2];

		if (entry->state != POD_GUARDED)
			continue;
		mcg_daemon_label_value(entry->pod.namespace, namespace, sizeof(namespace));
		mcg_daemon_label_value(entry->pod.name, name, sizeof(name));
		mcg_daemon_label_value(entry->cgroup + strlen(d->mount), cgroup, sizeof(cgroup));
		mcg_daemon_append(text, size,
				  "mcguard_kubernetes_pod_guard_info{namespace=\"%s\",pod=\"%s\",cgroup=\"%s\"} 1\n",
				  namespace, name, cgroup);
	}

	mcg_kube_client_stats(pods->client, &stats);
	mcg_daemon_append(text, size,
			  "# HELP mcguard_kubernetes_lists_total Complete lists of the selected pods.\n"
			  "# TYPE mcguard_kubernetes_lists_total counter\nmcguard_kubernetes_lists_total %lu\n"
			  "# HELP mcguard_kubernetes_relists_total Lists started because a resourceVersion was too old (410 Gone).\n"
			  "# TYPE mcguard_kubernetes_relists_total counter\nmcguard_kubernetes_relists_total %lu\n"
			  "# HELP mcguard_kubernetes_watches_total Watch requests started.\n"
			  "# TYPE mcguard_kubernetes_watches_total counter\nmcguard_kubernetes_watches_total %lu\n"
			  "# HELP mcguard_kubernetes_request_errors_total List and watch requests that failed.\n"
			  "# TYPE mcguard_kubernetes_request_errors_total counter\nmcguard_kubernetes_request_errors_total %lu\n"
			  "# HELP mcguard_kubernetes_events_posted_total Kubernetes Events posted about pods.\n"
			  "# TYPE mcguard_kubernetes_events_posted_total counter\nmcguard_kubernetes_events_posted_total %lu\n"
			  "# HELP mcguard_kubernetes_events_failed_total Kubernetes Events that could not be posted.\n"
			  "# TYPE mcguard_kubernetes_events_failed_total counter\nmcguard_kubernetes_events_failed_total %lu\n",
			  stats.lists, stats.relists_gone, stats.watches, stats.request_errors,
			  stats.events_posted, stats.events_failed);
}

/* The pod's container whose cgroup is the event's, found through the cgroup's name. */
static const char *container_of(const struct pod_entry *entry, __u64 cgroup_id)
{
	const char *rel = cgroup_id ? mcg_cgroup_path_by_id(cgroup_id) : NULL;
	const char *base = rel ? strrchr(rel, '/') : NULL;
	char id[72];

	if (!base || !mcg_container_id_from_cgroup(base + 1, id, sizeof(id)))
		return NULL;
	return mcg_pod_container_name(&entry->pod, id);
}

/* Append a key, given with its punctuation, and a string value or null. */
static void append_member(struct mcg_out *out, const char *key, const char *value)
{
	mcg_out_append(out, key, strlen(key));
	mcg_json_append_string(out, value, value ? strlen(value) : 0);
}

size_t mcg_pods_describe_event(void *context, const struct mcg_event *event, bool json,
			       char *out, size_t size)
{
	struct mcg_pods *pods = context;
	const struct pod_entry *entry = NULL;
	struct mcg_out members = { .buf = out, .size = size };
	const char *container;
	int len;

	for (size_t i = 0; i < pods->count && !entry; i++)
		if (pods->entries[i].state == POD_GUARDED &&
		    pods->entries[i].cgroup_id == event->guard_cgroup_id)
			entry = &pods->entries[i];
	if (!entry) {
		if (size)
			out[0] = '\0';
		return 0;
	}
	container = container_of(entry, event->cgroup_id);
	if (!json) {
		len = snprintf(out, size, " pod=%s/%s%s%s node=%s", entry->pod.namespace,
			       entry->pod.name, container ? " container=" : "",
			       container ? container : "", pods->settings.node_name);
		return len > 0 ? (size_t)len : 0;
	}
	append_member(&members, ",\"kubernetes\":{\"namespace\":", entry->pod.namespace);
	append_member(&members, ",\"pod\":", entry->pod.name);
	append_member(&members, ",\"container\":", container);
	append_member(&members, ",\"node\":", pods->settings.node_name);
	mcg_out_append(&members, "}", 1);
	return mcg_out_finish(&members);
}

void mcg_pods_stop(struct daemon *d)
{
	if (!d->pods)
		return;
	mcg_kube_client_stop(d->pods->client);
	if (d->pods->curl_initialized)
		sym_curl_global_cleanup();
	free(d->pods->entries);
	free(d->pods);
	d->pods = NULL;
}
