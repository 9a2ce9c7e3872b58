/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Work inside another network namespace from a forked child, so that mcguard
 * itself never leaves its own: sock_diag, getifaddrs and tools such as nft
 * see only the namespace of the calling task. A namespace is named by a file:
 * /proc/PID/ns/net, /run/netns/NAME or a bind mount of either.
 */
#ifndef MCG_NETNS_H
#define MCG_NETNS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The identity of a namespace file: device and inode of the nsfs inode. */
struct mcg_netns_id {
	dev_t dev;
	ino_t ino;
};

/* Read the identity of the namespace at path; returns 0 or -errno. */
int mcg_netns_identify(const char *path, struct mcg_netns_id *id);

/* Is path the namespace that mcguard itself runs in? False when unreadable. */
bool mcg_netns_is_own(const char *path);

/*
 * Call fn(out, arg) in a child process inside the namespace at path (NULL:
 * the current one) and collect what it writes to out in *data (NUL-terminated,
 * the caller frees it). fn returns 0 or a negative errno, which this function
 * returns. Entering a namespace other than the caller's needs CAP_SYS_ADMIN:
 * without it the result is -EPERM.
 */
int mcg_netns_collect(const char *path, int (*fn)(int out, void *arg), void *arg, char **data,
		      size_t *len);

/* The outcome of a tool that mcg_netns_exec ran. */
struct mcg_exec_result {
	char *output;       /* stdout, NUL-terminated; the caller frees it */
	size_t len;
	int status;         /* exit status, or 128 + signal number */
	char error[256];    /* the first line of stderr, for messages */
};

/*
 * Run argv (argv[0] found through PATH) with stdin from /dev/null, inside the
 * namespace at path (NULL: the current one), for at most timeout_ms: then the
 * child is killed. Returns 0 when the tool ran to its end, whatever its exit
 * status; -ENOENT when argv[0] is not found, -ETIMEDOUT, -EFBIG when stdout
 * exceeds 64 MiB, -EPERM when the namespace cannot be entered, or another
 * -errno.
 */
int mcg_netns_exec(const char *path, char *const argv[], int timeout_ms,
		   struct mcg_exec_result *result);

/* Is a program of this name on PATH (or, with a slash, at that path) executable? */
bool mcg_tool_exists(const char *name);

#endif
