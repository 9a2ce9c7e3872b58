// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "log.h"
#include "netns.h"
#include "parse.h"
#include "target.h"

/* How long an engine CLI or systemctl may run before it counts as unavailable. */
#define TOOL_TIMEOUT_MS 15000
/* Container cgroups are a few levels below the root, so deeper levels are not searched. */
#define SEARCH_DEPTH 8
#define MAX_MATCHES 4

bool mcg_target_by_option(const struct mcg_cli *cli)
{
	return cli->unit || cli->pid || cli->container;
}

static int resolve_path(struct mcg_target *target, const char *path)
{
	char error[PATH_MAX + 128];

	if (mcg_cgroup_resolve(path, &target->cg, error, sizeof(error))) {
		pr_err("%s", error);
		return MCG_EXIT_USAGE;
	}
	return 0;
}

/* Resolve a path relative to the cgroup2 mount, as /proc/PID/cgroup prints it. */
static int resolve_mount_relative(struct mcg_target *target, const char *rel)
{
	char mount_point[PATH_MAX], path[PATH_MAX * 2];

	if (mcg_cgroup_mount(mount_point, sizeof(mount_point))) {
		pr_err("no cgroup2 filesystem is mounted (see /proc/self/mountinfo)");
		return MCG_EXIT_USAGE;
	}
	snprintf(path, sizeof(path), "%s%s", mount_point, rel);
	return resolve_path(target, path);
}

/* The directory that --unit and --container paths are relative to. */
static int lookup_root(const struct mcg_cli *cli, char *root, size_t size)
{
	if (cli->cgroup_root) {
		if (!realpath(cli->cgroup_root, root)) {
			pr_err("invalid --cgroup-root %s: %s", cli->cgroup_root, strerror(errno));
			return MCG_EXIT_USAGE;
		}
		return 0;
	}
	if (mcg_cgroup_mount(root, size)) {
		pr_err("no cgroup2 filesystem is mounted (see /proc/self/mountinfo)");
		return MCG_EXIT_USAGE;
	}
	return 0;
}

static int resolve_unit(const struct mcg_cli *cli, struct mcg_target *target)
{
	char *argv[] = { "systemctl", "show", "-p", "ControlGroup", "--value", "--",
			 (char *)cli->unit, NULL };
	char root[PATH_MAX], path[PATH_MAX * 2];
	struct mcg_exec_result result;
	int code, err;

	code = lookup_root(cli, root, sizeof(root));
	if (code)
		return code;
	err = mcg_netns_exec(NULL, argv, TOOL_TIMEOUT_MS, &result);
	if (err == -ENOENT) {
		pr_err("--unit %s: systemctl not found; give the unit's cgroup as CGROUP instead", cli->unit);
		return MCG_EXIT_USAGE;
	}
	if (err) {
		pr_err("--unit %s: run systemctl: %s", cli->unit, strerror(-err));
		return MCG_EXIT_USAGE;
	}
	result.output[strcspn(result.output, "\n")] = '\0';
	if (result.status) {
		pr_err("--unit %s: 'systemctl show' exited with %d: %s", cli->unit, result.status,
		       result.error[0] ? result.error : "no message");
		free(result.output);
		return MCG_EXIT_USAGE;
	}
	if (result.output[0] != '/') {
		pr_err("unit %s has no cgroup: systemctl shows no ControlGroup, so it is not running or does not exist; start it first",
		       cli->unit);
		free(result.output);
		return MCG_EXIT_USAGE;
	}
	snprintf(path, sizeof(path), "%s%s", root, result.output);
	free(result.output);
	if (strlen(path) >= PATH_MAX) {
		pr_err("--unit %s: cgroup path is longer than %d bytes", cli->unit, PATH_MAX - 1);
		return MCG_EXIT_USAGE;
	}
	return resolve_path(target, path);
}

/* The cgroup v2 path of a process, from the "0::" line of /proc/PID/cgroup. */
static int read_pid_cgroup(int pid, char *buf, size_t size)
{
	char file[64], line[PATH_MAX + 8];
	int err = -ENOENT;
	FILE *f;

	snprintf(file, sizeof(file), "/proc/%d/cgroup", pid);
	f = fopen(file, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		err = snprintf(buf, size, "%s", line + 3) < (int)size ? 0 : -ENAMETOOLONG;
	}
	fclose(f);
	return err;
}

static int resolve_pid(const struct mcg_cli *cli, struct mcg_target *target)
{
	char rel[PATH_MAX];
	unsigned long pid;
	int err;

	if (mcg_parse_ulong(cli->pid, 1, 4194304, &pid)) {
		pr_err("invalid --pid \"%s\": expected a process ID from 1 to 4194304", cli->pid);
		return MCG_EXIT_USAGE;
	}
	err = read_pid_cgroup(pid, rel, sizeof(rel));
	if (err == -ENOENT && access("/proc/self/cgroup", R_OK) == 0) {
		char file[64];

		snprintf(file, sizeof(file), "/proc/%lu", pid);
		if (access(file, F_OK)) {
			pr_err("--pid %lu: no such process", pid);
			return MCG_EXIT_USAGE;
		}
		pr_err("--pid %lu: the process is in no cgroup v2 hierarchy (no \"0::\" line in /proc/%lu/cgroup)",
		       pid, pid);
		return MCG_EXIT_USAGE;
	}
	if (err) {
		pr_err("--pid %lu: read /proc/%lu/cgroup: %s", pid, pid, strerror(-err));
		return MCG_EXIT_USAGE;
	}
	return resolve_mount_relative(target, rel);
}

/*
 * Run `docker container inspect`, then `podman container inspect`. On success
 * target has the container and its engine. Otherwise engine_error contains
 * each engine's error message.
 */
static void inspect_container(const char *name, struct mcg_target *target)
{
	static const char *const engines[] = { "docker", "podman" };
	size_t used = 0;

	target->engine_error[0] = '\0';
	for (size_t i = 0; i < 2; i++) {
		char *argv[] = { (char *)engines[i], "container", "inspect", "--", (char *)name, NULL };
		struct mcg_exec_result result;
		char error[256] = "";
		int err;

		if (!mcg_tool_exists(engines[i]))
			continue;
		err = mcg_netns_exec(NULL, argv, TOOL_TIMEOUT_MS, &result);
		if (err) {
			snprintf(error, sizeof(error), "%s", strerror(-err));
		} else if (result.status) {
			snprintf(error, sizeof(error), "%s", result.error[0] ? result.error : "failed");
		} else {
			struct mcg_container *c = &target->container;

			memset(c, 0, sizeof(*c));
			snprintf(c->engine, sizeof(c->engine), "%s", engines[i]);
			if (!mcg_container_parse_inspect(result.output, c, error, sizeof(error))) {
				target->engine_answered = true;
				free(result.output);
				return;
			}
		}
		free(result.output);
		used += snprintf(target->engine_error + used, sizeof(target->engine_error) - used,
				 "%s%s: %s", used ? "; " : "", engines[i], error);
		if (used >= sizeof(target->engine_error))
			break;
	}
	if (!target->engine_error[0])
		snprintf(target->engine_error, sizeof(target->engine_error),
			 "neither docker nor podman is installed");
}

/* The state of a search for one container ID's cgroup directories. */
static struct {
	const char *id;
	size_t root_depth;
	char matches[MAX_MATCHES][PATH_MAX];
	const char *schemes[MAX_MATCHES];
	int count;
} search;

static int search_visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	char parent_buf[PATH_MAX], id[MCG_CONTAINER_ID_LEN + 1];
	const char *scheme, *parent;

	(void)st;
	if (type != FTW_D)
		return FTW_CONTINUE;
	if (ftw->level > SEARCH_DEPTH)
		return FTW_SKIP_SUBTREE;
	snprintf(parent_buf, sizeof(parent_buf), "%.*s", ftw->base > 0 ? ftw->base - 1 : 0, path);
	parent = strrchr(parent_buf, '/') ? strrchr(parent_buf, '/') + 1 : parent_buf;
	scheme = mcg_container_cgroup_scheme(parent, path + ftw->base, id);
	if (!scheme || strcmp(id, search.id))
		return FTW_CONTINUE;
	if (search.count < MAX_MATCHES) {
		snprintf(search.matches[search.count], PATH_MAX, "%s", path);
		search.schemes[search.count] = scheme;
	}
	search.count++;
	/* A container cgroup's children (podman's "container") are not other containers. */
	return FTW_SKIP_SUBTREE;
}

/* Find the cgroup directories of container id below root; returns how many. */
static int search_container(const char *root, const char *id)
{
	memset(&search, 0, sizeof(search));
	search.id = id;
	if (nftw(root, search_visit, 16, FTW_PHYS | FTW_ACTIONRETVAL) < 0)
		return -errno;
	return search.count;
}

/* Copy the first mounted cgroup v1 hierarchy, where a v1 engine puts containers, or "". */
static void first_v1_mount(char *buf, size_t size)
{
	char line[4096], mount_point[PATH_MAX];
	FILE *f = fopen("/proc/self/mountinfo", "re");

	buf[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - ");

		if (!sep || strncmp(sep + 3, "cgroup ", 7))
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mount_point) == 1) {
			snprintf(buf, size, "%s", mount_point);
			break;
		}
	}
	fclose(f);
}

static bool is_cgroup2_dir(const char *path)
{
	struct statfs sfs;

	return statfs(path, &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC;
}

static int reject_v1_cgroup(const struct mcg_target *target, const char *where)
{
	pr_err("container %s: its cgroup %s is not on cgroup2, so cgroup BPF cannot guard it: the engine uses a cgroup v1 driver on this hybrid host; switch the host to the unified hierarchy (systemd.unified_cgroup_hierarchy=1)",
	       target->value, where);
	return MCG_EXIT_USAGE;
}

/* Find the cgroup of a container whose full ID is known. */
static int find_container_cgroup(const struct mcg_cli *cli, struct mcg_target *target,
				 const char *id)
{
	char root[PATH_MAX], v1_root[PATH_MAX], rel[PATH_MAX];
	int code, found;

	code = lookup_root(cli, root, sizeof(root));
	if (code)
		return code;
	found = search_container(root, id);
	if (found < 0) {
		pr_err("search %s for container %s: %s", root, id, strerror(-found));
		return MCG_EXIT_USAGE;
	}
	if (found > 1) {
		pr_err("container %s: %d cgroups below %s carry its ID (%s, %s); give the right one as CGROUP",
		       target->value, found, root, search.matches[0], search.matches[1]);
		return MCG_EXIT_USAGE;
	}
	if (found == 1) {
		if (!is_cgroup2_dir(search.matches[0]))
			return reject_v1_cgroup(target, search.matches[0]);
		target->scheme = search.schemes[0];
		return resolve_path(target, search.matches[0]);
	}

	/* A v1 hierarchy may have it instead, and mcguard cannot guard that. */
	first_v1_mount(v1_root, sizeof(v1_root));
	if (!cli->cgroup_root && v1_root[0] && search_container(v1_root, id) > 0)
		return reject_v1_cgroup(target, search.matches[0]);

	/* For a custom layout, take the cgroup of the container's first process. */
	if (target->engine_answered && target->container.pid > 0 &&
	    read_pid_cgroup(target->container.pid, rel, sizeof(rel)) == 0) {
		if (!strstr(rel, id))
			return reject_v1_cgroup(target, "(none of its own)");
		return resolve_mount_relative(target, rel);
	}
	pr_err("container %s: no cgroup named after ID %s below %s; is it running?", target->value, id,
	       root);
	return MCG_EXIT_USAGE;
}

static int resolve_container(const struct mcg_cli *cli, struct mcg_target *target)
{
	const char *id;

	inspect_container(cli->container, target);
	if (target->engine_answered) {
		id = target->container.id;
	} else if (mcg_container_id_valid(cli->container)) {
		id = cli->container;
		snprintf(target->container.id, sizeof(target->container.id), "%s", id);
		pr_debug("no engine answered (%s); looking up the cgroup of ID %s by name",
			 target->engine_error, id);
	} else {
		pr_err("container %s: no engine answered (%s); give the full 64-character container ID to find its cgroup without one",
		       cli->container, target->engine_error);
		return MCG_EXIT_USAGE;
	}
	target->is_container = true;
	return find_container_cgroup(cli, target, id);
}

/* Find out whether a cgroup, unit or PID target is a container, and inspect it if so. */
static void detect_container(struct mcg_target *target)
{
	char copy[PATH_MAX], id[MCG_CONTAINER_ID_LEN + 1];
	char *name, *parent;

	snprintf(copy, sizeof(copy), "%s", target->cg.path);
	name = strrchr(copy, '/');
	if (!name)
		return;
	*name++ = '\0';
	parent = strrchr(copy, '/') ? strrchr(copy, '/') + 1 : copy;
	target->scheme = mcg_container_cgroup_scheme(parent, name, id);
	if (!target->scheme)
		return;
	target->is_container = true;
	snprintf(target->container.id, sizeof(target->container.id), "%s", id);
	inspect_container(id, target);
	if (target->engine_answered && strcmp(target->container.id, id)) {
		target->engine_answered = false;
		snprintf(target->engine_error, sizeof(target->engine_error),
			 "the engine returned container %s for ID %s", target->container.id, id);
		snprintf(target->container.id, sizeof(target->container.id), "%s", id);
	}
}

int mcg_target_resolve(const struct mcg_cli *cli, struct mcg_target *target)
{
	int selectors = (cli->argc > 0) + !!cli->unit + !!cli->pid + !!cli->container, code;

	memset(target, 0, sizeof(*target));
	if (cli->argc > 1 || selectors != 1) {
		pr_err("'mcguard %s' takes exactly one of CGROUP, --unit, --pid and --container (got %d); try 'mcguard %s --help'",
		       cli->command, cli->argc > 1 ? cli->argc : selectors, cli->command);
		return MCG_EXIT_USAGE;
	}
	if (cli->cgroup_root && !cli->unit && !cli->container) {
		pr_err("--cgroup-root applies to --unit and --container only");
		return MCG_EXIT_USAGE;
	}
	if (cli->argc) {
		target->selector = "cgroup";
		target->value = cli->argv[0];
		code = resolve_path(target, cli->argv[0]);
	} else if (cli->unit) {
		target->selector = "unit";
		target->value = cli->unit;
		code = resolve_unit(cli, target);
	} else if (cli->pid) {
		target->selector = "pid";
		target->value = cli->pid;
		code = resolve_pid(cli, target);
	} else {
		target->selector = "container";
		target->value = cli->container;
		return resolve_container(cli, target);
	}
	if (!code)
		detect_container(target);
	return code;
}

int mcg_container_name_by_id(const char *id, char *name, size_t size)
{
	struct mcg_target target;

	memset(&target, 0, sizeof(target));
	inspect_container(id, &target);
	if (!target.engine_answered)
		return -ENOENT;
	/* Docker names start with "/", Podman names do not. */
	snprintf(name, size, "%s",
		 target.container.name[0] == '/' ? target.container.name + 1 : target.container.name);
	return 0;
}
