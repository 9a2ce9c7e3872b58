// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Timing, statistics, CPU pinning and configuration switching for mcgbench. */
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

long involuntary_switches(void)
{
	struct rusage usage;

	getrusage(RUSAGE_THREAD, &usage);
	return usage.ru_nivcsw;
}

void die(int errnum, const char *fmt, ...)
{
	va_list ap;

	fputs("mcgbench: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (errnum)
		fprintf(stderr, ": %s", strerror(errnum));
	fputc('\n', stderr);
	exit(1);
}

void note(const char *fmt, ...)
{
	va_list ap;

	fputs("mcgbench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

long parse_long(const char *option, const char *text, long min, long max)
{
	char *end;
	long value;

	errno = 0;
	value = strtol(text, &end, 10);
	if (errno || end == text || *end || value < min || value > max) {
		fprintf(stderr, "mcgbench: invalid %s '%s': expected a whole number from %ld to %ld\n",
			option, text, min, max);
		exit(2);
	}
	return value;
}

void config_parse(struct config *config, char *spec)
{
	char *first = strchr(spec, ':'), *second = first ? strchr(first + 1, ':') : NULL;
	char *third = second ? strchr(second + 1, ':') : NULL;
	char path[4096];

	if (!first || !second) {
		fprintf(stderr, "mcgbench: invalid --config '%s': expected NAME:CGROUP:NETNS[:PEER]\n",
			spec);
		exit(2);
	}
	*first = *second = '\0';
	if (third)
		*third = '\0';
	config->name = spec;
	config->cgroup = first + 1;
	config->netns = second + 1;
	config->peer = third ? third + 1 : NULL;

	snprintf(path, sizeof(path), "%s/cgroup.procs", config->cgroup);
	config->procs_fd = open(path, O_WRONLY | O_CLOEXEC);
	if (config->procs_fd < 0)
		die(errno, "open %s", path);
	config->netns_fd = open(config->netns, O_RDONLY | O_CLOEXEC);
	if (config->netns_fd < 0)
		die(errno, "open network namespace %s", config->netns);
}

void config_enter(const struct config *config)
{
	char pid[32];
	int len = snprintf(pid, sizeof(pid), "%d", getpid());

	if (setns(config->netns_fd, CLONE_NEWNET))
		die(errno, "enter network namespace %s", config->netns);
	if (write(config->procs_fd, pid, len) != len)
		die(errno, "move process %s into %s", pid, config->cgroup);
}

void pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die(errno, "pin to CPU %d", cpu);
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Linear interpolation between the closest ranks of a sorted sample. */
static double quantile(const double *sorted, size_t n, double q)
{
	double rank = q * (double)(n - 1);
	size_t low = (size_t)rank;

	if (low + 1 >= n)
		return sorted[n - 1];
	return sorted[low] + (rank - (double)low) * (sorted[low + 1] - sorted[low]);
}

void summarize(double *values, size_t n, struct summary *out)
{
	memset(out, 0, sizeof(*out));
	out->n = n;
	if (!n)
		return;
	qsort(values, n, sizeof(*values), compare_double);
	out->min = values[0];
	out->p25 = quantile(values, n, 0.25);
	out->median = quantile(values, n, 0.5);
	out->p75 = quantile(values, n, 0.75);
	out->max = values[n - 1];
	/* Distribution-free 95% interval of the median: ranks n/2 -+ 0.98 sqrt(n). */
	out->median_low = values[(size_t)fmax(0.0, floor(n / 2.0 - 0.98 * sqrt((double)n)))];
	out->median_high = values[(size_t)fmin(n - 1.0, ceil(n / 2.0 + 0.98 * sqrt((double)n)))];
}

void end_with_parent(void)
{
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) || getppid() == 1)
		exit(1);
}

void workers_start(struct worker *workers, const struct config *configs, int count, int cpu,
		   void (*serve)(const struct config *config, int requests, int replies))
{
	for (int i = 0; i < count; i++) {
		int to_worker[2], from_worker[2];
		pid_t pid;

		if (pipe2(to_worker, O_CLOEXEC) || pipe2(from_worker, O_CLOEXEC))
			die(errno, "pipe");
		pid = fork();
		if (pid < 0)
			die(errno, "fork");
		if (pid == 0) {
			/* Close the other workers' pipes, so each worker reads end of file when the parent closes its pipe. */
			for (int j = 0; j < i; j++) {
				close(workers[j].requests);
				close(workers[j].replies);
			}
			close(to_worker[1]);
			close(from_worker[0]);
			end_with_parent();
			if (cpu >= 0)
				pin_cpu(cpu);
			serve(&configs[i], to_worker[0], from_worker[1]);
			exit(0);
		}
		close(to_worker[0]);
		close(from_worker[1]);
		workers[i] = (struct worker){ pid, to_worker[1], from_worker[0] };
	}
}

void worker_call(const struct worker *worker, const void *request, size_t request_len,
		 void *reply, size_t reply_len)
{
	if (write(worker->requests, request, request_len) != (ssize_t)request_len)
		die(errno, "send a request to worker %d", (int)worker->pid);
	if (read(worker->replies, reply, reply_len) != (ssize_t)reply_len)
		die(0, "worker %d failed (see its message above)", (int)worker->pid);
}

void workers_stop(struct worker *workers, int count)
{
	for (int i = 0; i < count; i++) {
		int status;

		close(workers[i].requests);
		close(workers[i].replies);
		if (waitpid(workers[i].pid, &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			die(0, "worker %d did not exit cleanly", (int)workers[i].pid);
	}
}
