/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Diagnostics on stderr with levels; stdout carries events and requested output. */
#ifndef MCG_LOG_H
#define MCG_LOG_H

enum mcg_log_level {
	MCG_LOG_ERROR,
	MCG_LOG_WARN,
	MCG_LOG_INFO,
	MCG_LOG_DEBUG,
};

#include <stdbool.h>

/* Messages above this level are dropped; -v raises it to MCG_LOG_DEBUG. */
extern enum mcg_log_level mcg_log_max;
/* Prefix each line with its sd-daemon priority, for the journal. */
extern bool mcg_log_journal;

/* Is fd the stream systemd connected to the journal (JOURNAL_STREAM)? */
bool mcg_log_fd_is_journal(int fd);

void mcg_log(enum mcg_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Route libbpf's own messages through mcg_log; the verifier log only with -v. */
void mcg_log_setup_libbpf(void);

/* Record an attach, detach or policy change in syslog (the journal on systemd hosts). */
void mcg_audit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define pr_err(...) mcg_log(MCG_LOG_ERROR, __VA_ARGS__)
#define pr_warn(...) mcg_log(MCG_LOG_WARN, __VA_ARGS__)
#define pr_info(...) mcg_log(MCG_LOG_INFO, __VA_ARGS__)
#define pr_debug(...) mcg_log(MCG_LOG_DEBUG, __VA_ARGS__)

#endif
