// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* run: start a command in a fresh guarded cgroup and clean up after it. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "cli.h"
#include "guard.h"
#include "log.h"
#include "policy.h"

#define DEFAULT_PARENT "mcguard"

static volatile pid_t child_pid;

/*
 * Pass a signal on to CMD. A terminal's SIGINT or SIGQUIT (si_code SI_KERNEL)
 * already reached CMD through the foreground process group.
 */
static void forward_signal(int sig, siginfo_t *info, void *context)
{
	(void)context;
	if (child_pid > 0 && info->si_code != SI_KERNEL)
		kill(child_pid, sig);
}

static const int forwarded_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
#define FORWARDED_COUNT (sizeof(forwarded_signals) / sizeof(forwarded_signals[0]))

static void forwarded_set(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < FORWARDED_COUNT; i++)
		sigaddset(set, forwarded_signals[i]);
}

static void install_forwarding(void)
{
	struct sigaction sa = { .sa_sigaction = forward_signal, .sa_flags = SA_SIGINFO | SA_RESTART };

	for (size_t i = 0; i < FORWARDED_COUNT; i++)
		sigaction(forwarded_signals[i], &sa, NULL);
}

/* In the child: CMD starts with default handlers and an unblocked mask. */
static void reset_forwarding(void)
{
	sigset_t set;

	for (size_t i = 0; i < FORWARDED_COUNT; i++)
		signal(forwarded_signals[i], SIG_DFL);
	forwarded_set(&set);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
}

/* Resolve --parent, or create the default parent below the cgroup2 mount. */
static int resolve_parent(struct mcg_cli *cli, struct mcg_cgroup *parent)
{
	char mount_point[PATH_MAX], path[PATH_MAX + 16], error[PATH_MAX + 128];
	const char *arg = cli->parent;

	if (!arg) {
		if (mcg_cgroup_mount(mount_point, sizeof(mount_point))) {
			pr_err("no cgroup2 filesystem is mounted (see /proc/self/mountinfo)");
			return MCG_EXIT_RUN_FAILED;
		}
		snprintf(path, sizeof(path), "%s/%s", mount_point, DEFAULT_PARENT);
		if (mkdir(path, 0755) && errno != EEXIST) {
			pr_err("create cgroup %s: %s", path, strerror(errno));
			return MCG_EXIT_RUN_FAILED;
		}
		arg = path;
	}
	if (mcg_cgroup_resolve(arg, parent, error, sizeof(error))) {
		pr_err("invalid --parent: %s", error);
		return MCG_EXIT_RUN_FAILED;
	}
	return 0;
}

/*
 * Create PARENT/run-PID and guard it. On failure the cgroup and any pins it
 * made are removed; only the default parent, once made, stays.
 */
static int create_guarded_cgroup(struct mcg_cli *cli, struct mcg_cgroup *cg, bool *created_state)
{
	char path[PATH_MAX + 32], error[PATH_MAX + 128];
	struct mcg_cgroup parent;
	struct mcg_state state;
	bool existed;
	int code;

	code = resolve_parent(cli, &parent);
	if (code)
		return code;
	snprintf(path, sizeof(path), "%s/run-%d", parent.path, getpid());
	if (mkdir(path, 0755)) {
		pr_err("create cgroup %s: %s", path, strerror(errno));
		return MCG_EXIT_RUN_FAILED;
	}
	if (mcg_cgroup_resolve(path, cg, error, sizeof(error))) {
		pr_err("%s", error);
		rmdir(path);
		return MCG_EXIT_RUN_FAILED;
	}

	*created_state = !mcg_state_exists(cli->pin_root);
	if (mcg_state_open(&state, cli->pin_root, true)) {
		rmdir(path);
		return MCG_EXIT_RUN_FAILED;
	}
	if (mcg_guard_attach(&state, cg, &cli->policy, &existed)) {
		if (*created_state)
			mcg_state_remove_if_unused(&state);
		mcg_state_close(&state);
		rmdir(path);
		return MCG_EXIT_RUN_FAILED;
	}
	mcg_state_close(&state);
	return 0;
}

/* Remove the guard and the cgroup once CMD and everything it started are gone. */
static void remove_guarded_cgroup(struct mcg_cli *cli, const struct mcg_cgroup *cg,
				  bool created_state)
{
	struct mcg_state state;

	if (mcg_state_open(&state, cli->pin_root, false) == 0) {
		mcg_guard_detach(&state, cg->id);
		if (created_state)
			mcg_state_remove_if_unused(&state);
		mcg_state_close(&state);
	}
	mcg_audit("detach cgroup=%s id=%llu (run finished)", cg->rel, (unsigned long long)cg->id);
	if (rmdir(cg->path))
		pr_warn("remove cgroup %s: %s", cg->path, strerror(errno));
}

/*
 * Fork CMD. The child joins the cgroup before exec, so CMD's first syscall is
 * already guarded; an exec failure comes back through a close-on-exec pipe.
 */
static pid_t start_command(const struct mcg_cgroup *cg, char **argv, int *exec_errno)
{
	char procs[PATH_MAX + 16];
	int pipe_fds[2], err = 0;
	sigset_t set, old_set;
	pid_t pid;

	*exec_errno = 0;
	if (pipe2(pipe_fds, O_CLOEXEC))
		return -1;
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg->path);

	/*
	 * Signals stay blocked from before fork() until child_pid is set, so
	 * none arrives while there is no process to forward it to.
	 */
	forwarded_set(&set);
	sigprocmask(SIG_BLOCK, &set, &old_set);
	pid = fork();
	if (pid < 0) {
		sigprocmask(SIG_SETMASK, &old_set, NULL);
		close(pipe_fds[0]);
		close(pipe_fds[1]);
		return -1;
	}
	if (pid == 0) {
		int fd;

		reset_forwarding();
		fd = open(procs, O_WRONLY | O_CLOEXEC);

		close(pipe_fds[0]);
		if (fd < 0 || write(fd, "0", 1) != 1) {
			err = errno;
			if (write(pipe_fds[1], &err, sizeof(err)) < 0)
				_exit(MCG_EXIT_RUN_FAILED);
			_exit(MCG_EXIT_RUN_FAILED);
		}
		close(fd);
		execvp(argv[0], argv);
		err = errno;
		if (write(pipe_fds[1], &err, sizeof(err)) < 0)
			_exit(127);
		_exit(err == ENOENT ? 127 : 126);
	}

	child_pid = pid;
	sigprocmask(SIG_SETMASK, &old_set, NULL);
	close(pipe_fds[1]);
	if (read(pipe_fds[0], &err, sizeof(err)) == sizeof(err))
		*exec_errno = err;
	close(pipe_fds[0]);
	return pid;
}

static int wait_command(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return MCG_EXIT_RUN_FAILED;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

int mcg_cmd_run(struct mcg_cli *cli)
{
	struct mcg_cgroup cg;
	char summary[2048];
	bool created_state = false;
	int code, exec_errno;
	pid_t pid;

	if (cli->argc < 1) {
		pr_err("'mcguard run' needs a command: mcguard run [OPTIONS] -- CMD [ARGS...]");
		return MCG_EXIT_RUN_FAILED;
	}
	if (mcg_require_root(cli))
		return MCG_EXIT_RUN_FAILED;

	code = create_guarded_cgroup(cli, &cg, &created_state);
	if (code)
		return code;
	mcg_policy_summary(&cli->policy, summary, sizeof(summary));
	mcg_audit("attach cgroup=%s id=%llu %s (run %s)", cg.rel, (unsigned long long)cg.id,
		  summary, cli->argv[0]);
	pr_info("guarding %s (%s)", cg.rel, summary);

	install_forwarding();
	pid = start_command(&cg, cli->argv, &exec_errno);
	if (pid < 0) {
		pr_err("start %s: %s", cli->argv[0], strerror(errno));
		remove_guarded_cgroup(cli, &cg, created_state);
		return MCG_EXIT_RUN_FAILED;
	}
	code = wait_command(pid);
	child_pid = 0;
	if (exec_errno)
		pr_err("run %s: %s", cli->argv[0], strerror(exec_errno));

	if (mcg_cgroup_is_populated(cg.path) > 0) {
		pr_info("%s exited, but processes it started remain in %s: the guard stays; remove it with 'mcguard detach --pin-root %s %s' once they exit",
			cli->argv[0], cg.rel, cli->pin_root, cg.rel);
	} else if (cli->keep) {
		pr_info("kept the guard and cgroup %s (--keep)", cg.rel);
	} else {
		remove_guarded_cgroup(cli, &cg, created_state);
	}
	return code;
}
