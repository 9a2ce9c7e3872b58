// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netns.h"

#define OUTPUT_MAX (64u << 20)

int mcg_netns_identify(const char *path, struct mcg_netns_id *id)
{
	struct stat st;

	if (stat(path, &st))
		return -errno;
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	return 0;
}

bool mcg_netns_is_own(const char *path)
{
	struct mcg_netns_id self = { 0 }, other = { 0 };

	if (mcg_netns_identify("/proc/self/ns/net", &self) || mcg_netns_identify(path, &other))
		return false;
	return self.dev == other.dev && self.ino == other.ino;
}

/*
 * In a child: move into the namespace at path. setns() needs CAP_SYS_ADMIN
 * even for the caller's own namespace, so that case is skipped, which lets an
 * unprivileged user work in the namespace it runs in. Returns 0 or -errno.
 */
static int enter_netns(const char *path)
{
	int fd, err = 0;

	if (!path || mcg_netns_is_own(path))
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET))
		err = -errno;
	close(fd);
	return err;
}

/* Append what fd has to read to *buf; returns bytes read, 0 at end of file, or -errno. */
static ssize_t read_some(int fd, char **buf, size_t *len, size_t *capacity)
{
	ssize_t got;

	if (*capacity - *len < 4096) {
		size_t grown_size = *capacity ? *capacity * 2 : 16384;
		char *grown;

		if (grown_size > OUTPUT_MAX + 4096)
			return -EFBIG;
		grown = realloc(*buf, grown_size);
		if (!grown)
			return -ENOMEM;
		*buf = grown;
		*capacity = grown_size;
	}
	got = read(fd, *buf + *len, *capacity - *len - 1);
	if (got < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : -errno;
	*len += got;
	(*buf)[*len] = '\0';
	return got;
}

int mcg_netns_collect(const char *path, int (*fn)(int out, void *arg), void *arg, char **data,
		      size_t *len)
{
	size_t capacity = 0;
	int pipe_fds[2], status;
	ssize_t got;
	pid_t child;

	*data = NULL;
	*len = 0;
	if (pipe2(pipe_fds, O_CLOEXEC))
		return -errno;
	child = fork();
	if (child < 0) {
		int err = -errno;

		close(pipe_fds[0]);
		close(pipe_fds[1]);
		return err;
	}
	if (child == 0) {
		int err;

		close(pipe_fds[0]);
		err = enter_netns(path);
		if (!err)
			err = fn(pipe_fds[1], arg);
		/* The exit status carries the errno: 1 to 255 fits every errno value. */
		_exit(err < 0 ? (-err & 0xff) : 0);
	}
	close(pipe_fds[1]);
	do {
		got = read_some(pipe_fds[0], data, len, &capacity);
	} while (got > 0);
	close(pipe_fds[0]);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (got < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		free(*data);
		*data = NULL;
		*len = 0;
		if (got < 0)
			return got;
		return WIFEXITED(status) ? -WEXITSTATUS(status) : -EIO;
	}
	if (!*data)
		*data = calloc(1, 1);
	return *data ? 0 : -ENOMEM;
}

static long remaining_ms(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

/* In the child of mcg_netns_exec: never returns. */
static void exec_child(const char *path, char *const argv[], int out, int err_out, int status_fd)
{
	int null_fd, err;

	err = enter_netns(path);
	if (err) {
		err = -err;
		if (write(status_fd, &err, sizeof(err)) < 0)
			_exit(127);
		_exit(127);
	}
	null_fd = open("/dev/null", O_RDONLY);
	if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(out, 1) < 0 || dup2(err_out, 2) < 0)
		_exit(127);
	/* Tools print numbers and messages that mcguard parses: keep them unlocalized. */
	setenv("LC_ALL", "C", 1);
	execvp(argv[0], argv);
	err = errno;
	if (write(status_fd, &err, sizeof(err)) < 0)
		_exit(127);
	_exit(127);
}

/* Read the child's stdout and stderr until both end or the deadline passes. */
static int drain_child(int out, int err_out, const struct timespec *deadline,
		       struct mcg_exec_result *result, char **errors, size_t *errors_len)
{
	size_t out_capacity = 0, err_capacity = 0;
	struct pollfd fds[2] = { { .fd = out, .events = POLLIN }, { .fd = err_out, .events = POLLIN } };

	while (fds[0].fd >= 0 || fds[1].fd >= 0) {
		long wait_ms = remaining_ms(deadline);
		int ready;

		if (wait_ms <= 0)
			return -ETIMEDOUT;
		ready = poll(fds, 2, wait_ms);
		if (ready < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; ready > 0 && i < 2; i++) {
			ssize_t got;

			if (fds[i].fd < 0 || !fds[i].revents)
				continue;
			if (i == 0)
				got = read_some(out, &result->output, &result->len, &out_capacity);
			else
				got = read_some(err_out, errors, errors_len, &err_capacity);
			if (got < 0)
				return got;
			if (got == 0)
				fds[i].fd = -1;
		}
	}
	return 0;
}

int mcg_netns_exec(const char *path, char *const argv[], int timeout_ms,
		   struct mcg_exec_result *result)
{
	int out[2] = { -1, -1 }, err_pipe[2] = { -1, -1 }, status_pipe[2] = { -1, -1 };
	char *errors = NULL;
	size_t errors_len = 0;
	struct timespec deadline;
	int err = 0, exec_errno = 0, status;
	pid_t child;

	memset(result, 0, sizeof(*result));
	if (pipe2(out, O_CLOEXEC) || pipe2(err_pipe, O_CLOEXEC) || pipe2(status_pipe, O_CLOEXEC)) {
		err = -errno;
		goto out;
	}
	child = fork();
	if (child < 0) {
		err = -errno;
		goto out;
	}
	if (child == 0)
		exec_child(path, argv, out[1], err_pipe[1], status_pipe[1]);

	close(out[1]);
	close(err_pipe[1]);
	close(status_pipe[1]);
	out[1] = err_pipe[1] = status_pipe[1] = -1;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}

	err = drain_child(out[0], err_pipe[0], &deadline, result, &errors, &errors_len);
	if (err)
		kill(child, SIGKILL);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (read(status_pipe[0], &exec_errno, sizeof(exec_errno)) == sizeof(exec_errno) && !err)
		err = -exec_errno;
	if (!err)
		result->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (errors) {
		errors[strcspn(errors, "\n")] = '\0';
		snprintf(result->error, sizeof(result->error), "%s", errors);
	}
out:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (err_pipe[i] >= 0)
			close(err_pipe[i]);
		if (status_pipe[i] >= 0)
			close(status_pipe[i]);
	}
	free(errors);
	if (err) {
		free(result->output);
		result->output = NULL;
		result->len = 0;
	} else if (!result->output) {
		result->output = calloc(1, 1);
		if (!result->output)
			err = -ENOMEM;
	}
	return err;
}

bool mcg_tool_exists(const char *name)
{
	const char *path = getenv("PATH");
	char candidate[PATH_MAX];

	if (strchr(name, '/'))
		return access(name, X_OK) == 0;
	if (!path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	while (*path) {
		size_t len = strcspn(path, ":");

		snprintf(candidate, sizeof(candidate), "%.*s/%s", (int)len, path, name);
		if (len && access(candidate, X_OK) == 0)
			return true;
		path += len;
		if (*path == ':')
			path++;
	}
	return false;
}
