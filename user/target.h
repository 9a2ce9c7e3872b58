/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The cgroup a command works on, named by a CGROUP operand, a systemd unit
 * (--unit), a process (--pid) or a Docker or Podman container (--container).
 */
#ifndef MCG_TARGET_H
#define MCG_TARGET_H

#include <stdbool.h>

#include "cgroup.h"
#include "cli.h"
#include "engine.h"

struct mcg_target {
	struct mcg_cgroup cg;
	const char *selector;     /* "cgroup", "unit", "pid" or "container" */
	const char *value;        /* the operand or option value as given */
	bool is_container;        /* the cgroup follows a container naming scheme */
	const char *scheme;       /* that scheme, as mcg_container_cgroup_scheme names it */
	bool engine_answered;     /* an engine returned the container, which is in container */
	char engine_error[512];   /* the engines' error messages when none returned the container */
	struct mcg_container container;
};

/*
 * Resolve the target of cli: exactly one of the CGROUP operand, --unit, --pid
 * and --container. --unit runs `systemctl show -p ControlGroup`. --container
 * runs `docker container inspect`, then `podman container inspect`. When
 * neither returns the container, a full container ID is still accepted, and
 * its cgroup is found by name below --cgroup-root (default: the cgroup2
 * mount). Logs its own errors and returns 0 or MCG_EXIT_USAGE.
 */
int mcg_target_resolve(const struct mcg_cli *cli, struct mcg_target *target);

/* Does cli name its target by an option rather than by the operand? */
bool mcg_target_by_option(const struct mcg_cli *cli);

/*
 * The name of the container with this full ID, from `docker` or `podman
 * container inspect`, without Docker's leading "/". Returns 0, or -ENOENT
 * when no engine finds the ID.
 */
int mcg_container_name_by_id(const char *id, char *name, size_t size);

#endif
