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

/* One guard entry: which cgroups it covers and the policy they get. */
struct mcg_guard_rule {
	char match[PATH_MAX]; /* glob over cgroup paths below the mount, or "" */
	char unit[256];       /* glob over the last path element (a unit name), or "" */
	bool force;           /* accept cgroups with busy children */
	struct mcg_policy policy;
	int line;             /* where the entry starts in the file; 0 from the command line */
};

struct mcg_config {
	char pin_root[PATH_MAX];
	char metrics[128]; /* ADDRESS:PORT of the Prometheus endpoint, or "" */
	unsigned int reconcile_seconds;
	struct mcg_guard_rule *rules;
	size_t rule_count;
};

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

/* Does the rule cover the cgroup at rel ("/a/b", below the mount)? */
bool mcg_rule_matches(const struct mcg_guard_rule *rule, const char *rel);

#endif
