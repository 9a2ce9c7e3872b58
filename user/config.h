/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The daemon's configuration file, in libconfig syntax (see
 * deploy/mcguard.conf for every key with comments).
 */
#ifndef MCG_CONFIG_H
#define MCG_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "mcguard.h"

#define MCG_DEFAULT_CONFIG "/etc/mcguard/mcguard.conf"
#define MCG_DEFAULT_RECONCILE_SECONDS 30
#define MCG_DEFAULT_SELECTOR "mcguard.io/guard=loopback"
#define MCG_DEFAULT_SERVICE_ACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* One guard entry: which cgroups it covers and the policy they get. */
struct mcg_guard_rule {
	char match[PATH_MAX]; /* glob over cgroup paths below the mount, or "" */
	char unit[256];       /* glob over the last path element (a unit name), or "" */
	char container[256];  /* glob over Docker or Podman container names, or "" */
	bool force;           /* accept cgroups with busy children */
	struct mcg_policy policy;
	int line;             /* where the entry starts in the file; 0 from the command line */
};

/* Guarding the pods of one Kubernetes node: the "kubernetes" group of the file. */
struct mcg_kube_settings {
	bool enabled;
	char selector[512];            /* label selector of the pods to guard */
	char node_name[254];           /* "" until resolved from $NODE_NAME */
	char cgroup_root[PATH_MAX];    /* kubelet's cgroup root; "" for the cgroup2 mount */
	int cgroup_driver;             /* enum mcg_cgroup_driver */
	char service_account_dir[PATH_MAX]; /* token, ca.crt */
	char api_server[512];          /* base URL; "" for $KUBERNETES_SERVICE_HOST:PORT */
	bool post_events;              /* report to the pods as Kubernetes Events */
	struct mcg_policy policy;      /* of selected pods, before their annotations */
};

struct mcg_config {
	char pin_root[PATH_MAX];
	char metrics[128]; /* ADDRESS:PORT of the Prometheus endpoint, or "" */
	unsigned int reconcile_seconds;
	struct mcg_guard_rule *rules;
	size_t rule_count;
	struct mcg_kube_settings kube;
};

/* Defaults of the "kubernetes" group; enabled stays false. */
void mcg_kube_settings_default(struct mcg_kube_settings *kube);

/*
 * Read path into config. Unknown keys and invalid values are rejected:
 * returns -EINVAL with "FILE:LINE: reason" in error[size]. Keys the file does
 * not set keep the values config already has.
 */
int mcg_config_load(const char *path, struct mcg_config *config, char *error, size_t size);

/* The same for text already in memory; name takes the place of the file in messages. */
int mcg_config_parse_text(const char *text, const char *name, struct mcg_config *config,
			  char *error, size_t size);

/* Append a rule; returns 0 or -ENOMEM. */
int mcg_config_add_rule(struct mcg_config *config, const struct mcg_guard_rule *rule);

void mcg_config_free(struct mcg_config *config);

/*
 * Does the rule cover the cgroup at rel ("/a/b", below the mount)? Always
 * false for a container rule, whose name needs the engine: the daemon
 * matches those itself.
 */
bool mcg_rule_matches(const struct mcg_guard_rule *rule, const char *rel);

#endif
