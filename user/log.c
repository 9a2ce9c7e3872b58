// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <bpf/libbpf.h>

#include "log.h"

enum mcg_log_level mcg_log_max = MCG_LOG_INFO;
bool mcg_log_journal;

static void mcg_vlog(enum mcg_log_level level, const char *fmt, va_list ap)
{
	static const char *const prefix[] = {
		[MCG_LOG_ERROR] = "error: ",
		[MCG_LOG_WARN] = "warning: ",
		[MCG_LOG_INFO] = "",
		[MCG_LOG_DEBUG] = "debug: ",
	};

	/* sd-daemon(3) priority prefixes: err, warning, info, debug. */
	static const char *const journal_priority[] = {
		[MCG_LOG_ERROR] = "<3>",
		[MCG_LOG_WARN] = "<4>",
		[MCG_LOG_INFO] = "<6>",
		[MCG_LOG_DEBUG] = "<7>",
	};

	if (level > mcg_log_max)
		return;
	if (mcg_log_journal)
		fputs(journal_priority[level], stderr);
	fprintf(stderr, "mcguard: %s", prefix[level]);
	vfprintf(stderr, fmt, ap);
	if (fmt[0] && fmt[strlen(fmt) - 1] != '\n')
		fputc('\n', stderr);
}

void mcg_log(enum mcg_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mcg_vlog(level, fmt, ap);
	va_end(ap);
}

/* libbpf warns about things mcguard handles itself, so its output is debug-only. */
static int mcg_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (mcg_log_max < MCG_LOG_DEBUG)
		return 0;
	if (level == LIBBPF_DEBUG)
		return 0;
	fputs("mcguard: libbpf: ", stderr);
	return vfprintf(stderr, fmt, ap);
}

void mcg_log_setup_libbpf(void)
{
	libbpf_set_print(mcg_libbpf_print);
}

void mcg_audit(const char *fmt, ...)
{
	char message[1024];
	struct passwd *pw = getpwuid(getuid());
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);

	openlog("mcguard", LOG_PID, LOG_AUTHPRIV);
	syslog(LOG_NOTICE, "user=%s uid=%u %s", pw ? pw->pw_name : "?", getuid(), message);
	closelog();
	pr_debug("audit: %s", message);
}

bool mcg_log_fd_is_journal(int fd)
{
	const char *stream = getenv("JOURNAL_STREAM");
	unsigned long long device, inode;
	struct stat st;

	/* systemd sets JOURNAL_STREAM=DEVICE:INODE of the stream it connected. */
	if (!stream || sscanf(stream, "%llu:%llu", &device, &inode) != 2 || fstat(fd, &st))
		return false;
	return st.st_dev == device && st.st_ino == inode;
}
