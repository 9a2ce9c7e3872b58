// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fault.h"
#include "format.h"
#include "guard.h"
#include "log.h"
#include "mcguard.skel.h"

#define LAYOUT_DIR "v1"
#define GUARDS_DIR "guards"
#define STAGING_SUFFIX "-staging"
/* bpffs rejects names with a dot, so suffixes use a dash. */

static const enum bpf_attach_type hook_attach_type[MCG_HOOK_COUNT] = {
	[MCG_HOOK_BIND4] = BPF_CGROUP_INET4_BIND,
	[MCG_HOOK_BIND6] = BPF_CGROUP_INET6_BIND,
	[MCG_HOOK_CONNECT4] = BPF_CGROUP_INET4_CONNECT,
	[MCG_HOOK_CONNECT6] = BPF_CGROUP_INET6_CONNECT,
	[MCG_HOOK_SENDMSG4] = BPF_CGROUP_UDP4_SENDMSG,
	[MCG_HOOK_SENDMSG6] = BPF_CGROUP_UDP6_SENDMSG,
	[MCG_HOOK_LISTEN] = BPF_CGROUP_SOCK_OPS,
	[MCG_HOOK_SOCK_CREATE] = BPF_CGROUP_INET_SOCK_CREATE,
	[MCG_HOOK_SETSOCKOPT] = BPF_CGROUP_SETSOCKOPT,
};

static const char *const map_names[] = { "mcg_policy", "mcg_counters", "mcg_events" };

/* The zero policy is the strictest one: enforce, wildcards denied, no allow-list. */
static const struct mcg_policy default_policy;

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Make sure dir is on a bpf filesystem; mount bpffs at /sys/fs/bpf when it is missing there. */
static int ensure_bpffs(const char *dir)
{
	bool created = false;
	struct statfs sfs;

	if (statfs("/sys/fs/bpf", &sfs) == 0 && sfs.f_type != BPF_FS_MAGIC &&
	    !strncmp(dir, "/sys/fs/bpf/", 12)) {
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
			pr_err("mount bpffs at /sys/fs/bpf: %s", strerror(errno));
			return -errno;
		}
		pr_info("mounted bpffs at /sys/fs/bpf");
	}
	if (mkdir(dir, 0700)) {
		if (errno != EEXIST) {
			int err = -errno;

			pr_err("create pin root %s: %s%s", dir, strerror(-err),
			       strchr(dir, '.') && err == -EPERM ? " (bpffs rejects names with a dot)" : "");
			return err;
		}
	} else {
		created = true;
	}
	if (statfs(dir, &sfs) || sfs.f_type != BPF_FS_MAGIC) {
		pr_err("pin root %s is not on a bpf filesystem: mount one with 'mount -t bpf bpf /sys/fs/bpf' or choose --pin-root below it",
		       dir);
		if (created)
			rmdir(dir);
		return -EINVAL;
	}
	return 0;
}

/* Refuse pin layouts of other mcguard versions instead of mixing with them. */
static int check_layouts(const char *pin_root)
{
	struct dirent *entry;
	DIR *dir = opendir(pin_root);
	int err = 0;

	if (!dir)
		return -errno;
	while ((entry = readdir(dir))) {
		if (entry->d_name[0] != 'v' || !strcmp(entry->d_name, LAYOUT_DIR))
			continue;
		if (strstr(entry->d_name, STAGING_SUFFIX))
			continue;
		pr_err("pin root %s contains layout %s from another mcguard version (this one uses %s): detach with that version, or remove %s/%s",
		       pin_root, entry->d_name, LAYOUT_DIR, pin_root, entry->d_name);
		err = -EPROTO;
		break;
	}
	closedir(dir);
	return err;
}

static int remove_tree(const char *path)
{
	char sub[PATH_MAX + NAME_MAX + 2];
	struct dirent *entry;
	DIR *dir = opendir(path);

	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	while ((entry = readdir(dir))) {
		if (!strcmp(entry->d_name, ".") || !strcmp(entry->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, entry->d_name);
		if (entry->d_type == DT_DIR)
			remove_tree(sub);
		else
			unlink(sub);
	}
	closedir(dir);
	return rmdir(path) ? -errno : 0;
}

/* Load the programs and pin them with their maps in a staging directory, then rename it into place. */
static int load_and_pin(struct mcg_state *state)
{
	char staging[PATH_MAX + 32], path[PATH_MAX + 64];
	struct bpf_program *progs[MCG_HOOK_COUNT];
	struct bpf_map *maps[3];
	struct mcguard_bpf *skel;
	int err;

	skel = mcguard_bpf__open();
	if (!skel) {
		err = -errno;
		pr_err("open the BPF object: %s", strerror(-err));
		return err;
	}
	err = mcguard_bpf__load(skel);
	if (err) {
		pr_err("load the BPF programs: %s (the kernel needs CONFIG_CGROUP_BPF, BTF and BPF ring buffers; run with -v for the verifier log)",
		       strerror(-err));
		goto out;
	}

	progs[MCG_HOOK_BIND4] = skel->progs.mcg_bind4;
	progs[MCG_HOOK_BIND6] = skel->progs.mcg_bind6;
	progs[MCG_HOOK_CONNECT4] = skel->progs.mcg_connect4;
	progs[MCG_HOOK_CONNECT6] = skel->progs.mcg_connect6;
	progs[MCG_HOOK_SENDMSG4] = skel->progs.mcg_sendmsg4;
	progs[MCG_HOOK_SENDMSG6] = skel->progs.mcg_sendmsg6;
	progs[MCG_HOOK_LISTEN] = skel->progs.mcg_listen;
	progs[MCG_HOOK_SOCK_CREATE] = skel->progs.mcg_sock_create;
	progs[MCG_HOOK_SETSOCKOPT] = skel->progs.mcg_setsockopt;
	maps[0] = skel->maps.mcg_policy;
	maps[1] = skel->maps.mcg_counters;
	maps[2] = skel->maps.mcg_events;

	snprintf(staging, sizeof(staging), "%s%s-%d", state->dir, STAGING_SUFFIX, getpid());
	remove_tree(staging);
	if (mkdir(staging, 0700)) {
		err = -errno;
		pr_err("create %s: %s", staging, strerror(-err));
		goto out;
	}
	for (int i = 0; i < MCG_HOOK_COUNT; i++) {
		snprintf(path, sizeof(path), "%s/%s", staging, bpf_program__name(progs[i]));
		err = bpf_program__pin(progs[i], path);
		if (err)
			goto pin_failed;
		mcg_fault_point("pin program");
	}
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", staging, map_names[i]);
		err = bpf_map__pin(maps[i], path);
		if (err)
			goto pin_failed;
		mcg_fault_point("pin map");
	}
	snprintf(path, sizeof(path), "%s/%s", staging, GUARDS_DIR);
	if (mkdir(path, 0700)) {
		err = -errno;
		goto pin_failed;
	}
	mcg_fault_point("before renaming the program staging directory");
	if (rename(staging, state->dir)) {
		err = -errno;
		goto pin_failed;
	}
	mcg_fault_point("after renaming the program staging directory");
	pr_debug("loaded and pinned the programs under %s", state->dir);
	goto out;

pin_failed:
	pr_err("pin %s: %s", path, strerror(-err));
	remove_tree(staging);
out:
	mcguard_bpf__destroy(skel);
	return err;
}

static int open_pinned(struct mcg_state *state)
{
	static const char *const prog_names[MCG_HOOK_COUNT] = {
		"mcg_bind4",	"mcg_bind6",  "mcg_connect4",	 "mcg_connect6",
		"mcg_sendmsg4", "mcg_sendmsg6", "mcg_listen", "mcg_sock_create",
		"mcg_setsockopt",
	};
	int *map_fds[] = { &state->policy_fd, &state->counters_fd, &state->events_fd };
	char path[PATH_MAX + 64];

	for (int i = 0; i < MCG_HOOK_COUNT; i++) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		snprintf(path, sizeof(path), "%s/%s", state->dir, prog_names[i]);
		state->prog_fds[i] = bpf_obj_get(path);
		if (state->prog_fds[i] < 0)
			goto fail;
		if (bpf_obj_get_info_by_fd(state->prog_fds[i], &info, &len))
			goto fail;
		state->prog_ids[i] = info.id;
	}
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", state->dir, map_names[i]);
		*map_fds[i] = bpf_obj_get(path);
		if (*map_fds[i] < 0)
			goto fail;
	}
	return 0;

fail:
	pr_err("open pinned %s: %s (pins from another mcguard build? 'mcguard detach --all --pin-root %s' removes them)",
	       path, strerror(errno), state->pin_root);
	/* Damaged, not absent: callers tell this apart from a pin root with no state. */
	return -EUCLEAN;
}

/* Detach and remove guard directories that an interrupted attach left behind. */
static void remove_staging_guards(struct mcg_state *state)
{
	char guards[PATH_MAX + 16], sub[PATH_MAX + NAME_MAX + 32];
	struct dirent *entry;
	DIR *dir;

	snprintf(guards, sizeof(guards), "%s/%s", state->dir, GUARDS_DIR);
	dir = opendir(guards);
	if (!dir)
		return;
	while ((entry = readdir(dir))) {
		if (!strstr(entry->d_name, STAGING_SUFFIX))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", guards, entry->d_name);
		for (int i = 0; i < MCG_HOOK_COUNT; i++) {
			char link_path[PATH_MAX + NAME_MAX + 48];
			int fd;

			snprintf(link_path, sizeof(link_path), "%s/%s", sub, mcg_hook_name(i));
			fd = bpf_obj_get(link_path);
			if (fd >= 0) {
				bpf_link_detach(fd);
				close(fd);
			}
		}
		remove_tree(sub);
		pr_warn("removed %s, left by an interrupted attach", sub);
	}
	closedir(dir);
}

/*
 * Is the guard's cgroup gone? The kernel detaches a guard's links when its
 * cgroup is removed, so every pinned link reports no cgroup, and the id is
 * nowhere in the cgroup tree.
 */
static bool guard_is_stale(struct mcg_state *state, __u64 cgroup_id)
{
	char pin[PATH_MAX + 96];

	for (int i = 0; i < MCG_HOOK_COUNT; i++) {
		struct bpf_link_info info = {};
		__u32 len = sizeof(info);
		int fd;

		snprintf(pin, sizeof(pin), "%s/%s/%llu/%s", state->dir, GUARDS_DIR,
			 (unsigned long long)cgroup_id, mcg_hook_name(i));
		fd = bpf_obj_get(pin);
		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.cgroup.cgroup_id) {
			close(fd);
			return false;
		}
		close(fd);
	}
	return mcg_cgroup_path_by_id(cgroup_id) == NULL;
}

/* Remove the pins of guards whose cgroup was removed; they guard nothing. */
static void remove_stale_guards(struct mcg_state *state)
{
	size_t count = 0;
	__u64 *ids = NULL;

	if (mcg_guard_list(state, &ids, &count))
		return;
	for (size_t i = 0; i < count; i++) {
		if (!guard_is_stale(state, ids[i]))
			continue;
		mcg_guard_detach(state, ids[i]);
		pr_info("removed the guard of cgroup id %llu: the cgroup no longer exists",
			(unsigned long long)ids[i]);
	}
	free(ids);
}

int mcg_state_open(struct mcg_state *state, const char *pin_root, bool create)
{
	struct stat st;
	int err;

	memset(state, 0, sizeof(*state));
	state->lock_fd = state->policy_fd = state->counters_fd = state->events_fd = -1;
	for (int i = 0; i < MCG_HOOK_COUNT; i++)
		state->prog_fds[i] = -1;
	snprintf(state->pin_root, sizeof(state->pin_root), "%s", pin_root);
	snprintf(state->dir, sizeof(state->dir), "%s/%s", pin_root, LAYOUT_DIR);

	if (create) {
		err = ensure_bpffs(pin_root);
		if (err)
			return err;
	}
	state->lock_fd = open(pin_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (state->lock_fd < 0) {
		if (errno == ENOENT && !create)
			return -ENOENT;
		err = -errno;
		pr_err("open pin root %s: %s", pin_root, strerror(-err));
		return err;
	}
	/* Serialize mcguard commands on this pin root; the kernel drops the lock on exit. */
	if (flock(state->lock_fd, LOCK_EX)) {
		err = -errno;
		pr_err("lock pin root %s: %s", pin_root, strerror(-err));
		goto fail;
	}
	err = check_layouts(pin_root);
	if (err)
		goto fail;

	if (stat(state->dir, &st)) {
		if (!create) {
			err = -ENOENT;
			goto fail;
		}
		err = load_and_pin(state);
		if (err)
			goto fail;
	}
	err = open_pinned(state);
	if (err)
		goto fail;
	remove_staging_guards(state);
	remove_stale_guards(state);
	return 0;

fail:
	mcg_state_close(state);
	return err;
}

void mcg_state_close(struct mcg_state *state)
{
	for (int i = 0; i < MCG_HOOK_COUNT; i++)
		close_fd(&state->prog_fds[i]);
	close_fd(&state->policy_fd);
	close_fd(&state->counters_fd);
	close_fd(&state->events_fd);
	close_fd(&state->lock_fd);
}

bool mcg_state_exists(const char *pin_root)
{
	char dir[PATH_MAX + 8];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/%s", pin_root, LAYOUT_DIR);
	return stat(dir, &st) == 0;
}

void mcg_state_unlock(struct mcg_state *state)
{
	close_fd(&state->lock_fd);
}

int mcg_state_lock(struct mcg_state *state)
{
	if (state->lock_fd >= 0)
		return 0;
	state->lock_fd = open(state->pin_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (state->lock_fd < 0 || flock(state->lock_fd, LOCK_EX)) {
		int err = -errno;

		pr_err("lock pin root %s: %s", state->pin_root, strerror(-err));
		close_fd(&state->lock_fd);
		return err;
	}
	return 0;
}

void mcg_state_prune(struct mcg_state *state)
{
	remove_stale_guards(state);
}

static void guard_dir(const struct mcg_state *state, __u64 cgroup_id, const char *suffix,
		      char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s/%llu%s", state->dir, GUARDS_DIR, (unsigned long long)cgroup_id,
		 suffix);
}

bool mcg_guard_exists(struct mcg_state *state, __u64 cgroup_id)
{
	char dir[PATH_MAX + 64];
	struct stat st;

	guard_dir(state, cgroup_id, "", dir, sizeof(dir));
	return stat(dir, &st) == 0;
}

/* Look for mcguard's programs in the cgroup's own or, with query_flags, effective lists. */
static int query_hooks(struct mcg_state *state, const char *path, __u32 query_flags,
		       bool attached[MCG_HOOK_COUNT])
{
	int cgroup_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (cgroup_fd < 0)
		return -errno;
	for (int i = 0; i < MCG_HOOK_COUNT; i++) {
		__u32 ids[64], count = 64, flags = 0;

		attached[i] = false;
		if (bpf_prog_query(cgroup_fd, hook_attach_type[i], query_flags, &flags, ids, &count))
			continue;
		for (__u32 j = 0; j < count && j < 64; j++)
			if (ids[j] == state->prog_ids[i])
				attached[i] = true;
	}
	close(cgroup_fd);
	return 0;
}

int mcg_guard_query_hooks(struct mcg_state *state, const char *path,
			  bool attached[MCG_HOOK_COUNT])
{
	return query_hooks(state, path, 0, attached);
}

int mcg_guard_query_effective(struct mcg_state *state, const char *path,
			      bool effective[MCG_HOOK_COUNT])
{
	return query_hooks(state, path, BPF_F_QUERY_EFFECTIVE, effective);
}

/*
 * After the kernel refused an attach with EPERM, name the program that blocks
 * it: one attached without BPF_F_ALLOW_MULTI to the cgroup or an ancestor.
 * This only queries; it never changes another tool's programs.
 */
static void report_exclusive_programs(const struct mcg_cgroup *cg, int hook)
{
	char mount_point[PATH_MAX], path[PATH_MAX];
	size_t mount_len;

	if (mcg_cgroup_mount(mount_point, sizeof(mount_point)))
		return;
	mount_len = strlen(mount_point);
	snprintf(path, sizeof(path), "%s", cg->path);
	for (;;) {
		__u32 ids[64], count = 64, flags = 0;
		int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		char *slash;

		if (fd >= 0 && !bpf_prog_query(fd, hook_attach_type[hook], 0, &flags, ids, &count) &&
		    count > 0 && !(flags & BPF_F_ALLOW_MULTI)) {
			struct bpf_prog_info info = {};
			__u32 len = sizeof(info);
			int prog_fd = bpf_prog_get_fd_by_id(ids[0]);

			if (prog_fd >= 0 && !bpf_obj_get_info_by_fd(prog_fd, &info, &len))
				pr_err("%s of %s has program \"%s\" (id %u) attached without BPF_F_ALLOW_MULTI, so the kernel accepts no other program there or below; detach it, or have its owner attach it with BPF_F_ALLOW_MULTI",
				       mcg_hook_name(hook), path, info.name, ids[0]);
			if (prog_fd >= 0)
				close(prog_fd);
		}
		if (fd >= 0)
			close(fd);
		if (strlen(path) <= mount_len)
			break;
		slash = strrchr(path, '/');
		if (!slash)
			break;
		*slash = '\0';
	}
}

bool mcg_guard_has_other_mcguard(struct mcg_state *state, const char *path)
{
	__u32 ids[64], count = 64, flags = 0;
	bool found = false;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (!bpf_prog_query(fd, BPF_CGROUP_INET4_BIND, 0, &flags, ids, &count)) {
		for (__u32 i = 0; i < count && i < 64 && !found; i++) {
			struct bpf_prog_info info = {};
			__u32 len = sizeof(info);
			int prog_fd;

			if (ids[i] == state->prog_ids[MCG_HOOK_BIND4])
				continue;
			prog_fd = bpf_prog_get_fd_by_id(ids[i]);
			if (prog_fd < 0)
				continue;
			if (!bpf_obj_get_info_by_fd(prog_fd, &info, &len) &&
			    !strcmp(info.name, "mcg_bind4"))
				found = true;
			close(prog_fd);
		}
	}
	close(fd);
	return found;
}

/* Attach one hook of a guard and pin the link at dir/HOOK, replacing an old pin. */
static int attach_hook(struct mcg_state *state, int cgroup_fd, const struct mcg_cgroup *cg,
		       int hook, const char *dir)
{
	char pin[PATH_MAX + 64];
	int link_fd, err;

	link_fd = bpf_link_create(state->prog_fds[hook], cgroup_fd, hook_attach_type[hook], NULL);
	if (link_fd < 0) {
		err = -errno;
		pr_err("attach %s to %s: %s", mcg_hook_name(hook), cg->path, strerror(-err));
		if (err == -EPERM)
			report_exclusive_programs(cg, hook);
		return err;
	}
	mcg_fault_point("link attached, not pinned");
	snprintf(pin, sizeof(pin), "%s/%s", dir, mcg_hook_name(hook));
	unlink(pin);
	if (bpf_obj_pin(link_fd, pin)) {
		err = -errno;
		pr_err("pin %s: %s", pin, strerror(-err));
		bpf_link_detach(link_fd);
		close(link_fd);
		return err;
	}
	close(link_fd);
	mcg_fault_point("link pinned");
	return 0;
}

static void detach_dir(const char *dir)
{
	char pin[PATH_MAX + 64];

	for (int i = 0; i < MCG_HOOK_COUNT; i++) {
		int fd;

		snprintf(pin, sizeof(pin), "%s/%s", dir, mcg_hook_name(i));
		fd = bpf_obj_get(pin);
		if (fd >= 0) {
			/* Detach explicitly: another process may still hold the link open. */
			bpf_link_detach(fd);
			close(fd);
		}
		unlink(pin);
	}
	rmdir(dir);
}

static int write_policy(struct mcg_state *state, const struct mcg_cgroup *cg,
			const struct mcg_policy *policy, bool fresh)
{
	struct mcg_policy old = {}, next = *policy;

	if (!fresh)
		bpf_map_lookup_elem(state->policy_fd, &cg->id, &old);
	next.guard_cgroup_id = cg->id;
	next.generation = old.generation + 1;
	mcg_fault_point("before the policy write");
	/* The kernel swaps the whole value in one step, so programs see old or new. */
	if (bpf_map_update_elem(state->policy_fd, &cg->id, &next, BPF_ANY)) {
		int err = -errno;

		pr_err("write the policy of %s: %s", cg->path, strerror(-err));
		return err;
	}
	return 0;
}

static int reset_counters(struct mcg_state *state, const struct mcg_cgroup *cg)
{
	int cpus = libbpf_num_possible_cpus();
	struct mcg_counters *zeroes;
	int err = 0;

	if (cpus <= 0)
		return cpus;
	zeroes = calloc(cpus, sizeof(*zeroes));
	if (!zeroes)
		return -ENOMEM;
	if (bpf_map_update_elem(state->counters_fd, &cg->id, zeroes, BPF_ANY)) {
		err = -errno;
		pr_err("reset the counters of %s: %s", cg->path, strerror(-err));
	}
	free(zeroes);
	return err;
}

/* Re-attach missing hooks of an existing guard, then swap its policy unless policy is NULL. */
static int update_guard(struct mcg_state *state, const struct mcg_cgroup *cg,
			const struct mcg_policy *policy, int cgroup_fd)
{
	bool attached[MCG_HOOK_COUNT];
	char dir[PATH_MAX + 64];
	int err;

	guard_dir(state, cg->id, "", dir, sizeof(dir));
	err = mcg_guard_query_hooks(state, cg->path, attached);
	if (err)
		return err;
	for (int i = 0; i < MCG_HOOK_COUNT; i++) {
		if (attached[i])
			continue;
		pr_warn("%s of %s was missing: attaching it again", mcg_hook_name(i), cg->path);
		err = attach_hook(state, cgroup_fd, cg, i, dir);
		if (err)
			return err;
	}
	return policy ? write_policy(state, cg, policy, false) : 0;
}

/* Attach all hooks under a staging directory and rename it into place only when all succeeded. */
static int create_guard(struct mcg_state *state, const struct mcg_cgroup *cg,
			const struct mcg_policy *policy, int cgroup_fd)
{
	char staging[PATH_MAX + 64], dir[PATH_MAX + 64];
	int err;

	guard_dir(state, cg->id, STAGING_SUFFIX, staging, sizeof(staging));
	guard_dir(state, cg->id, "", dir, sizeof(dir));
	if (mkdir(staging, 0700)) {
		err = -errno;
		pr_err("create %s: %s", staging, strerror(-err));
		return err;
	}
	for (int i = 0; i < MCG_HOOK_COUNT; i++) {
		err = attach_hook(state, cgroup_fd, cg, i, staging);
		if (err)
			goto fail;
	}
	/*
	 * Storage exists from the first attach and enforces loopback only until
	 * the policy is written. It can outlive an earlier guard of the same
	 * cgroup, so the counters start again from zero.
	 */
	err = reset_counters(state, cg);
	if (!err)
		err = write_policy(state, cg, policy ? policy : &default_policy, true);
	if (err)
		goto fail;
	mcg_fault_point("before renaming the guard staging directory");
	if (rename(staging, dir)) {
		err = -errno;
		pr_err("rename %s to %s: %s", staging, dir, strerror(-err));
		goto fail;
	}
	mcg_fault_point("after renaming the guard staging directory");
	return 0;

fail:
	detach_dir(staging);
	return err;
}

int mcg_guard_attach(struct mcg_state *state, const struct mcg_cgroup *cg,
		     const struct mcg_policy *policy, bool *existed)
{
	int cgroup_fd, err;

	cgroup_fd = open(cg->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgroup_fd < 0) {
		err = -errno;
		pr_err("open cgroup %s: %s", cg->path, strerror(-err));
		return err;
	}
	*existed = mcg_guard_exists(state, cg->id);
	if (*existed)
		err = update_guard(state, cg, policy, cgroup_fd);
	else
		err = create_guard(state, cg, policy, cgroup_fd);
	close(cgroup_fd);
	return err;
}

int mcg_guard_detach(struct mcg_state *state, __u64 cgroup_id)
{
	char dir[PATH_MAX + 64];

	if (!mcg_guard_exists(state, cgroup_id))
		return -ENOENT;
	guard_dir(state, cgroup_id, "", dir, sizeof(dir));
	detach_dir(dir);
	if (mcg_guard_exists(state, cgroup_id)) {
		pr_err("remove %s: %s", dir, strerror(errno));
		return -EBUSY;
	}
	return 0;
}

void mcg_state_remove_if_unused(struct mcg_state *state)
{
	size_t count = 0;
	__u64 *ids = NULL;
	int reader_fd;

	if (mcg_guard_list(state, &ids, &count) || count) {
		free(ids);
		return;
	}
	free(ids);

	/* A running "mcguard events" holds this lock; its ring buffer must stay the pinned one. */
	reader_fd = open(state->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (reader_fd >= 0 && flock(reader_fd, LOCK_EX | LOCK_NB)) {
		pr_debug("keeping the programs under %s: an events stream is reading them", state->dir);
		close(reader_fd);
		return;
	}
	if (reader_fd >= 0)
		close(reader_fd);
	remove_tree(state->dir);
	/* The pin root goes too when nothing else is in it; rmdir fails harmlessly otherwise. */
	rmdir(state->pin_root);
}

static int compare_ids(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

int mcg_guard_list(struct mcg_state *state, __u64 **ids, size_t *count)
{
	char guards[PATH_MAX + 16];
	struct dirent *entry;
	size_t capacity = 0;
	DIR *dir;

	*ids = NULL;
	*count = 0;
	snprintf(guards, sizeof(guards), "%s/%s", state->dir, GUARDS_DIR);
	dir = opendir(guards);
	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	while ((entry = readdir(dir))) {
		char *end;
		unsigned long long id = strtoull(entry->d_name, &end, 10);

		if (entry->d_name[0] < '0' || entry->d_name[0] > '9' || *end)
			continue;
		if (*count == capacity) {
			__u64 *grown;

			capacity = capacity ? capacity * 2 : 16;
			grown = realloc(*ids, capacity * sizeof(**ids));
			if (!grown) {
				closedir(dir);
				return -ENOMEM;
			}
			*ids = grown;
		}
		(*ids)[(*count)++] = id;
	}
	closedir(dir);
	if (*count > 1)
		qsort(*ids, *count, sizeof(**ids), compare_ids);
	return 0;
}

int mcg_guard_read(struct mcg_state *state, __u64 cgroup_id, struct mcg_policy *policy,
		   struct mcg_counters *counters)
{
	int cpus = libbpf_num_possible_cpus();
	struct mcg_counters *per_cpu;

	memset(counters, 0, sizeof(*counters));
	if (bpf_map_lookup_elem(state->policy_fd, &cgroup_id, policy))
		return -errno;
	if (cpus <= 0)
		return cpus;
	per_cpu = calloc(cpus, sizeof(*per_cpu));
	if (!per_cpu)
		return -ENOMEM;
	if (bpf_map_lookup_elem(state->counters_fd, &cgroup_id, per_cpu)) {
		int err = -errno;

		free(per_cpu);
		return err;
	}
	for (int cpu = 0; cpu < cpus; cpu++)
		for (int h = 0; h < MCG_HOOK_COUNT; h++)
			for (int c = 0; c < MCG_COUNTER_COUNT; c++)
				counters->count[h][c] += per_cpu[cpu].count[h][c];
	free(per_cpu);
	return 0;
}

int mcg_state_remove_all(const char *pin_root)
{
	char dir[PATH_MAX + 8], guards[PATH_MAX + 16], sub[PATH_MAX + NAME_MAX + 32];
	struct dirent *entry;
	DIR *list;
	int lock_fd, err;

	lock_fd = open(pin_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock_fd < 0)
		return errno == ENOENT ? 0 : -errno;
	flock(lock_fd, LOCK_EX);
	snprintf(dir, sizeof(dir), "%s/%s", pin_root, LAYOUT_DIR);
	snprintf(guards, sizeof(guards), "%s/%s", dir, GUARDS_DIR);
	list = opendir(guards);
	while (list && (entry = readdir(list))) {
		if (entry->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", guards, entry->d_name);
		detach_dir(sub);
	}
	if (list)
		closedir(list);
	err = remove_tree(dir);
	close(lock_fd);
	rmdir(pin_root);
	return err;
}
