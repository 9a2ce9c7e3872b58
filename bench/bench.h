/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * mcgbench: the C side of mcguard's benchmarks. bench/run.sh creates the
 * cgroups, network namespaces, guards and filters, then runs one mcgbench
 * subcommand per measurement. Every subcommand prints TSV on stdout: a
 * header line, then one row per result. Diagnostics go to stderr.
 */
#ifndef MCGBENCH_H
#define MCGBENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_CONFIGS 8

/*
 * One configuration to measure: a cgroup v2 directory and a network
 * namespace (a file such as /run/netns/NAME). The process joins both before
 * it creates the sockets of a block, because the kernel takes a socket's
 * cgroup and namespace from its creator.
 */
struct config {
	const char *name;
	const char *cgroup;
	const char *netns;
	const char *peer; /* IPv4 address of the bulk transfer's receiver, or NULL */
	int procs_fd; /* cgroup.procs of the cgroup, open for writing */
	int netns_fd;
};

/* Order statistics of a sample. */
struct summary {
	size_t n;
	double min, p25, median, p75, max;
	double median_low, median_high; /* 95% confidence interval of the median */
};

/* Monotonic time in nanoseconds. */
uint64_t now_ns(void);
/*
 * CPU time of the calling thread in nanoseconds. On this kernel
 * (CONFIG_IRQ_TIME_ACCOUNTING off) it includes the softirq work that runs in
 * the thread's context, such as loopback delivery, and excludes the time
 * other tasks ran.
 */
uint64_t thread_cpu_ns(void);
/* Involuntary context switches of the calling thread so far. */
long involuntary_switches(void);

/* Print "mcgbench: MESSAGE" and errno's text when errnum is not 0, then exit 1. */
void die(int errnum, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parse a decimal number in [min, max] or exit with a usage message naming option. */
long parse_long(const char *option, const char *text, long min, long max);

/* Parse "NAME:CGROUP:NETNS[:PEER]" into config and open its files. */
void config_parse(struct config *config, char *spec);
/* Move this process into the config's network namespace and cgroup; call it before starting threads. */
void config_enter(const struct config *config);

/* In a forked child: get SIGTERM when the parent exits, so no child outlives a failed run. */
void end_with_parent(void);

/* A child process that stays in one configuration and serves requests over pipes. */
struct worker {
	int pid;
	int requests; /* write end */
	int replies;  /* read end */
};

/*
 * Fork one worker per configuration. Each pins itself to cpu (unless it is
 * negative), joins its configuration and runs serve(), which reads fixed-size
 * requests until end of file and writes one fixed-size reply to each.
 */
void workers_start(struct worker *workers, const struct config *configs, int count, int cpu,
		   void (*serve)(const struct config *config, int requests, int replies));
/* Send a request and wait for its reply. Exits when the worker has died. */
void worker_call(const struct worker *worker, const void *request, size_t request_len,
		 void *reply, size_t reply_len);
/* Close the pipes and reap the workers. Exits unless every worker exited with status 0. */
void workers_stop(struct worker *workers, int count);

/* Bind the calling thread to one CPU. */
void pin_cpu(int cpu);

/* Sort values in place and fill summary. */
void summarize(double *values, size_t n, struct summary *out);

int cmd_ops(int argc, char **argv);
int cmd_bulk(int argc, char **argv);
int cmd_deny(int argc, char **argv);
int cmd_flood(int argc, char **argv);
int cmd_latency(int argc, char **argv);
int cmd_format(int argc, char **argv);
int cmd_skb_attach(int argc, char **argv);

#endif
