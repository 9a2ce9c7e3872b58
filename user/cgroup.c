// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
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

/*
 * Id-to-path cache, filled by walks of the whole cgroup2 tree. On 64-bit
 * kernels a cgroup's id is its inode number, and kernfs reports it as d_ino,
 * so a walk names every cgroup with one getdents per directory and no stat.
 * A daemon or `status` looks up hundreds of guards in a row, and the event
 * reader looks up every event's cgroup. One walk serves them all.
 *
 * Cgroup ids are never reused, so an id that a complete walk did not find
 * stays missing: the entry is marked removed and the id is not walked for
 * again. A removed entry keeps its path for naming until the walk after next
 * drops it. That bounds the table on hosts with cgroup churn, and a path
 * that a caller still uses stays valid across one more lookup.
 */
struct path_entry {
	__u64 id;		 /* 0 marks a free slot */
	char *rel;		 /* below the mount, "/" for the root; NULL when never seen */
	unsigned int generation; /* the walk that last saw the cgroup, or marked it removed */
	bool removed;		 /* a complete walk did not find it */
};

static struct {
	struct path_entry *slots;
	size_t capacity; /* a power of two */
	size_t used;
	unsigned int generation;
	/* Paths replaced after a rename, freed at the walk after next like removed entries. */
	struct retired_path {
		char *rel;
		unsigned int generation;
	} *retired;
	size_t retired_count;
} path_cache;

static size_t path_slot(__u64 id, size_t capacity)
{
	/* Fibonacci hashing: ids of one subtree are close together. */
	return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 32) & (capacity - 1);
}

static struct path_entry *path_find(__u64 id)
{
	size_t mask = path_cache.capacity - 1;

	if (!path_cache.capacity)
		return NULL;
	for (size_t i = path_slot(id, path_cache.capacity);; i = (i + 1) & mask) {
		if (path_cache.slots[i].id == id)
			return &path_cache.slots[i];
		if (!path_cache.slots[i].id)
			return NULL;
	}
}

/*
 * Move the entries into a table of the given capacity. With drop_removed,
 * leave out the cgroups that were found removed before the last walk.
 */
static int path_rehash(size_t capacity, bool drop_removed)
{
	struct path_entry *old = path_cache.slots, *slots = calloc(capacity, sizeof(*slots));
	size_t old_capacity = path_cache.capacity;

	if (!slots)
		return -ENOMEM;
	path_cache.slots = slots;
	path_cache.capacity = capacity;
	path_cache.used = 0;
	for (size_t i = 0; i < old_capacity; i++) {
		struct path_entry *entry = &old[i];
		size_t j;

		if (!entry->id)
			continue;
		if (drop_removed && entry->removed && entry->generation != path_cache.generation) {
			free(entry->rel);
			continue;
		}
		for (j = path_slot(entry->id, capacity); slots[j].id; j = (j + 1) & (capacity - 1))
			;
		slots[j] = *entry;
		path_cache.used++;
	}
	free(old);
	return 0;
}

/* The entry of id, added (with no path) when missing; NULL only without memory. */
static struct path_entry *path_get(__u64 id)
{
	struct path_entry *entry = path_find(id);
	size_t i;

	if (entry)
		return entry;
	/* Keep the table at most half full so probes stay short. */
	if ((path_cache.used + 1) * 2 > path_cache.capacity &&
	    path_rehash(path_cache.capacity ? path_cache.capacity * 2 : 256, false))
		return NULL;
	for (i = path_slot(id, path_cache.capacity); path_cache.slots[i].id;
	     i = (i + 1) & (path_cache.capacity - 1))
		;
	path_cache.slots[i] = (struct path_entry){ .id = id };
	path_cache.used++;
	return &path_cache.slots[i];
}

static void path_seen(__u64 id, const char *rel)
{
	struct path_entry *entry = path_get(id);

	if (!entry)
		return;
	if (!entry->rel || strcmp(entry->rel, rel)) {
		char *copy = strdup(rel);

		if (!copy)
			return;
		if (entry->rel) {
			struct retired_path *retired = realloc(path_cache.retired,
							       (path_cache.retired_count + 1) * sizeof(*retired));

			if (!retired) {
				free(copy);
				return;
			}
			path_cache.retired = retired;
			retired[path_cache.retired_count++] =
				(struct retired_path){ entry->rel, path_cache.generation };
		}
		entry->rel = copy;
	}
	entry->generation = path_cache.generation;
	entry->removed = false;
}

/*
 * Record dir_fd's subdirectories, and theirs, with rel (of length len, in a
 * PATH_MAX buffer) as the path of dir_fd. Takes ownership of dir_fd.
 * Returns -1 when a directory could not be read.
 */
static int walk_dir(int dir_fd, char *rel, size_t len)
{
	DIR *dir = fdopendir(dir_fd);
	struct dirent *entry;
	int err = 0;

	if (!dir) {
		close(dir_fd);
		return -1;
	}
	while ((entry = readdir(dir))) {
		size_t name_len = strlen(entry->d_name);
		int child;

		if (entry->d_type != DT_DIR || !strcmp(entry->d_name, ".") ||
		    !strcmp(entry->d_name, ".."))
			continue;
		if (len + 1 + name_len >= PATH_MAX) {
			err = -1;
			continue;
		}
		rel[len] = '/';
		memcpy(rel + len + 1, entry->d_name, name_len + 1);
		path_seen(entry->d_ino, rel);
		child = openat(dirfd(dir), entry->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		/* A cgroup removed since readdir() listed it is no error. */
		if (child >= 0 ? walk_dir(child, rel, len + 1 + name_len) : errno != ENOENT)
			err = -1;
		rel[len] = '\0';
	}
	closedir(dir);
	return err;
}

/* Free the paths retired before the last walk. */
static void free_retired_paths(void)
{
	size_t remaining = 0;

	for (size_t i = 0; i < path_cache.retired_count; i++) {
		if (path_cache.retired[i].generation != path_cache.generation)
			free(path_cache.retired[i].rel);
		else
			path_cache.retired[remaining++] = path_cache.retired[i];
	}
	path_cache.retired_count = remaining;
}

/* Name every cgroup below mount_point; returns -1 when the walk was incomplete. */
static int walk_tree(const char *mount_point)
{
	static char rel[PATH_MAX];
	struct stat st;
	int fd = open(mount_point, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st)) {
		close(fd);
		return -1;
	}
	if (path_cache.capacity && path_rehash(path_cache.capacity, true)) {
		close(fd);
		return -1;
	}
	free_retired_paths();
	path_cache.generation++;
	path_seen(st.st_ino, "/");
	rel[0] = '\0';
	if (walk_dir(fd, rel, 0))
		return -1;

	/* What this complete walk did not see was removed. */
	for (size_t i = 0; i < path_cache.capacity; i++) {
		struct path_entry *entry = &path_cache.slots[i];

		if (entry->id && !entry->removed && entry->generation != path_cache.generation) {
			entry->removed = true;
			entry->generation = path_cache.generation;
		}
	}
	return 0;
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

/*
 * Look id up in the cache or, on a miss, walk the tree. With validate, a
 * cached path is checked to still belong to id, and a removed cgroup has
 * none. Without it, a removed cgroup keeps the path it was cached with.
 */
static const char *lookup_path(__u64 id, bool validate)
{
	/* Read once: event output calls this for every event. */
	static char mount_point[PATH_MAX];
	struct path_entry *entry;
	bool complete;

	if (!id || (!mount_point[0] && mcg_cgroup_mount(mount_point, sizeof(mount_point))))
		return NULL;
	entry = path_find(id);
	if (entry && entry->removed)
		return validate ? NULL : entry->rel;
	if (entry && entry->rel &&
	    (!validate || cached_path_valid(mount_point, entry->rel, id)))
		return entry->rel;

	complete = !walk_tree(mount_point);
	entry = complete ? path_get(id) : path_find(id);
	if (!entry)
		return NULL;
	if (!entry->rel && complete) {
		/* Not in a complete walk: the cgroup was removed, or the id was never one. */
		entry->removed = true;
		entry->generation = path_cache.generation;
	}
	if (validate && (entry->removed || entry->generation != path_cache.generation))
		return NULL;
	return entry->rel;
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
