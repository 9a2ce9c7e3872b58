// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "cgroup.h"

int mcg_cgroup_mount(char *buf, size_t size)
{
	char line[4096], mount_point[PATH_MAX];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int err = -ENOENT;

	if (!f)
		return -errno;
	/* Fields: id parent major:minor root mount-point options [optional...] - fstype source ... */
	while (fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - ");

		if (!sep || strncmp(sep + 3, "cgroup2 ", 8))
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mount_point) != 1)
			continue;
		snprintf(buf, size, "%s", mount_point);
		err = 0;
		break;
	}
	fclose(f);
	return err;
}

int mcg_cgroup_id(const char *path, __u64 *id)
{
	union {
		struct file_handle handle;
		char space[sizeof(struct file_handle) + sizeof(__u64)];
	} fh = { .handle.handle_bytes = sizeof(__u64) };
	int mount_id;

	/* cgroupfs encodes the 64-bit cgroup id as the file handle. */
	if (name_to_handle_at(AT_FDCWD, path, &fh.handle, &mount_id, 0) < 0)
		return -errno;
	memcpy(id, fh.handle.f_handle, sizeof(*id));
	return 0;
}

int mcg_cgroup_resolve(const char *arg, struct mcg_cgroup *cg, char *error, size_t size)
{
	char mount_point[PATH_MAX], joined[PATH_MAX * 2], mount_real[PATH_MAX];
	struct statfs sfs;
	struct stat st;
	size_t mount_len;
	int err;

	memset(cg, 0, sizeof(*cg));
	err = mcg_cgroup_mount(mount_point, sizeof(mount_point));
	if (err) {
		snprintf(error, size, "no cgroup2 filesystem is mounted (see /proc/self/mountinfo): mount one with 'mount -t cgroup2 none /sys/fs/cgroup'");
		return err;
	}
	if (!arg[0]) {
		snprintf(error, size, "empty cgroup path");
		return -EINVAL;
	}

	/*
	 * A path that starts with "/" but does not exist is read as relative to the
	 * mount, the form /proc/PID/cgroup and "mcguard status" print.
	 */
	mount_len = strlen(mount_point);
	if (arg[0] == '/' && (access(arg, F_OK) == 0 || !strncmp(arg, mount_point, mount_len)))
		snprintf(joined, sizeof(joined), "%s", arg);
	else
		snprintf(joined, sizeof(joined), "%s/%s", mount_point, arg[0] == '/' ? arg + 1 : arg);
	if (strlen(joined) >= PATH_MAX) {
		snprintf(error, size, "cgroup path is longer than %d bytes", PATH_MAX - 1);
		return -ENAMETOOLONG;
	}

	if (!realpath(joined, cg->path)) {
		err = -errno;
		snprintf(error, size, "cgroup %s: %s", joined, strerror(errno));
		return err;
	}
	if (stat(cg->path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(error, size, "cgroup %s: not a directory", cg->path);
		return -ENOTDIR;
	}
	if (statfs(cg->path, &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC) {
		snprintf(error, size,
			 "%s is not a cgroup v2 directory: give a path below the cgroup2 mount %s",
			 cg->path, mount_point);
		return -EINVAL;
	}

	/* A cgroup2 directory outside the first mount (a second mount) is named by the first. */
	if (!realpath(mount_point, mount_real))
		snprintf(mount_real, sizeof(mount_real), "%s", mount_point);
	mount_len = strlen(mount_real);
	if (strncmp(cg->path, mount_real, mount_len) ||
	    (cg->path[mount_len] != '/' && cg->path[mount_len] != '\0')) {
		snprintf(error, size, "%s is outside the cgroup2 mount %s", cg->path, mount_real);
		return -EINVAL;
	}
	snprintf(cg->rel, sizeof(cg->rel), "%s", cg->path[mount_len] ? cg->path + mount_len : "/");

	err = mcg_cgroup_id(cg->path, &cg->id);
	if (err) {
		snprintf(error, size, "read the cgroup id of %s: %s", cg->path, strerror(-err));
		return err;
	}
	return 0;
}

bool mcg_cgroup_contains_self(const struct mcg_cgroup *cg)
{
	char line[PATH_MAX + 8];
	size_t len = strlen(cg->rel);
	bool inside = false;
	FILE *f = fopen("/proc/self/cgroup", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *path;

		if (strncmp(line, "0::", 3))
			continue;
		path = line + 3;
		path[strcspn(path, "\n")] = '\0';
		if (!strcmp(cg->rel, "/"))
			inside = true;
		else
			inside = !strncmp(path, cg->rel, len) && (path[len] == '\0' || path[len] == '/');
	}
	fclose(f);
	return inside;
}

int mcg_cgroup_is_populated(const char *path)
{
	char file[PATH_MAX + 32], line[64];
	int populated = 0;
	FILE *f;

	snprintf(file, sizeof(file), "%s/cgroup.events", path);
	f = fopen(file, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "populated ", 10))
			populated = atoi(line + 10);
	fclose(f);
	return populated;
}

int mcg_cgroup_find_populated_child(const char *path, char *child, size_t size)
{
	char sub[PATH_MAX + NAME_MAX + 2];
	struct dirent *entry;
	int found = 0;
	DIR *dir = opendir(path);

	if (!dir)
		return -errno;
	while (!found && (entry = readdir(dir))) {
		if (entry->d_type != DT_DIR || entry->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, entry->d_name);
		if (mcg_cgroup_is_populated(sub) > 0) {
			snprintf(child, size, "%s", entry->d_name);
			found = 1;
		}
	}
	closedir(dir);
	return found;
}

/* Id-to-path cache for event output; old entries are overwritten round-robin. */
#define PATH_CACHE_SIZE 64

static struct {
	__u64 id;
	char rel[PATH_MAX];
} path_cache[PATH_CACHE_SIZE];
static unsigned int path_cache_next;

static __u64 walk_wanted_id;
static char walk_found[PATH_MAX];

static int walk_visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	__u64 id = 0;

	(void)ftw;
	if (type != FTW_D || st->st_ino != (ino_t)walk_wanted_id)
		return 0;
	if (mcg_cgroup_id(path, &id) || id != walk_wanted_id)
		return 0;
	snprintf(walk_found, sizeof(walk_found), "%s", path);
	return 1;
}

/*
 * A cached path is stale once its cgroup was removed, or removed and made
 * again with a new id: a long-running daemon must not name a removed cgroup.
 */
static bool cached_path_valid(const char *mount_point, const char *rel, __u64 id)
{
	char path[PATH_MAX * 2];
	struct stat st;

	snprintf(path, sizeof(path), "%s%s", mount_point, strcmp(rel, "/") ? rel : "");
	return !stat(path, &st) && st.st_ino == (ino_t)id;
}

/* Look id up in the cache (checking that it still exists when validate) or the tree. */
static const char *lookup_path(__u64 id, bool validate)
{
	/* Read once: event output calls this for every event. */
	static char mount_point[PATH_MAX];
	const char *rel;
	unsigned int slot;

	if (!id || (!mount_point[0] && mcg_cgroup_mount(mount_point, sizeof(mount_point))))
		return NULL;
	for (unsigned int i = 0; i < PATH_CACHE_SIZE; i++)
		if (path_cache[i].id == id &&
		    (!validate || cached_path_valid(mount_point, path_cache[i].rel, id)))
			return path_cache[i].rel;

	/* On 64-bit kernels a cgroup's inode number is its id, so stat() finds it. */
	walk_wanted_id = id;
	walk_found[0] = '\0';
	if (nftw(mount_point, walk_visit, 16, FTW_PHYS) != 1)
		return NULL;

	rel = walk_found + strlen(mount_point);
	slot = path_cache_next++ % PATH_CACHE_SIZE;
	path_cache[slot].id = id;
	snprintf(path_cache[slot].rel, sizeof(path_cache[slot].rel), "%s", *rel ? rel : "/");
	return path_cache[slot].rel;
}

const char *mcg_cgroup_path_by_id(__u64 id)
{
	return lookup_path(id, true);
}

const char *mcg_cgroup_name_by_id(__u64 id)
{
	return lookup_path(id, false);
}

int mcg_cgroup_check_target(const struct mcg_cgroup *cg, bool force, char *reason, size_t size)
{
	char child[NAME_MAX + 1];

	if (!strcmp(cg->rel, "/")) {
		snprintf(reason, size,
			 "refusing to attach to the cgroup2 root %s: the guard would cut every process on the host off the network; attach to the catcher's own cgroup",
			 cg->path);
		return -EPERM;
	}
	if (force)
		return 0;
	if (mcg_cgroup_contains_self(cg)) {
		snprintf(reason, size,
			 "refusing to attach to %s: it contains mcguard itself, so your shell or service would be guarded too; use 'mcguard run', or pass --force",
			 cg->path);
		return -EPERM;
	}
	if (mcg_cgroup_find_populated_child(cg->path, child, sizeof(child)) > 0) {
		snprintf(reason, size,
			 "refusing to attach to %s: its child cgroup %s has processes that the guard would cut off the network too; attach to the catcher's own cgroup, or pass --force",
			 cg->path, child);
		return -EPERM;
	}
	return 0;
}
