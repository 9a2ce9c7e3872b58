/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The daemon's state, shared by daemon.c (configuration, cgroup tree,
 * event loop, metrics) and kubepods.c (the pods of a Kubernetes node).
 */
#ifndef MCG_DAEMON_H
#define MCG_DAEMON_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "cli.h"
#include "config.h"
#include "guard.h"

/* Buckets of the histogram of creation-to-guard windows; daemon.c has their bounds. */
#define MCG_WINDOW_BUCKETS 8

struct watch {
	int wd;
	char *path;
};

struct mcg_pods;

struct daemon {
	struct mcg_cli *cli;
	struct mcg_config config;
	struct mcg_state state;
	struct mcg_event_reader *reader;
	struct mcg_metrics *metrics;
	char mount[PATH_MAX];
	/* Where the walks and inotify watches start: the mount, or the pods' cgroup root. */
	char scan_root[PATH_MAX];
	int inotify_fd, signal_fd, epoll_fd;
	int kube_fd; /* the API client's eventfd, or -1 */
	struct watch *watches;
	size_t watch_count;
	long long next_reconcile_ns;
	long long prune_at_ns; /* 0, or when to drop the guards of removed cgroups */
	struct mcg_pods *pods; /* NULL unless the kubernetes group or --kubernetes is set */
	/* Figures for the metrics endpoint. */
	unsigned long attach_failures;
	double last_reconcile;
	unsigned long window_counts[MCG_WINDOW_BUCKETS + 1];
	double window_sum_ms;
	unsigned long window_total;
};

/*
 * Make sure the cgroup at path is guarded with policy: attach, repair
 * missing hooks or replace a different policy. force is passed to the
 * target check; origin names the requester in logs ("config line 3", "pod
 * default/mailpit"). created_ns is the cgroup's creation time on
 * CLOCK_REALTIME for a cgroup that just appeared, else 0. Returns 0 when
 * the guard is in place, -ENOENT when the cgroup is gone, another -errno
 * when it was refused or the attach failed (both logged).
 */
int mcg_daemon_ensure_guard(struct daemon *d, const char *path, const struct mcg_policy *policy,
			    bool force, const char *origin, long long created_ns);

/* The first guard rule of the configuration that covers rel, or NULL. */
const struct mcg_guard_rule *mcg_daemon_rule_for(struct daemon *d, const char *rel);

/* Append printf output to a growing string for the metrics text. */
void mcg_daemon_append(char **text, size_t *size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A Prometheus label value: backslash, quote and newline escaped. */
void mcg_daemon_label_value(const char *in, char *out, size_t size);

#endif
