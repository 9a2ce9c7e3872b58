// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <pwd.h>
#include <bpf/libbpf.h>

#include "log.h"

enum mcg_log_level mcg_log_max = MCG_LOG_INFO;

static void mcg_vlog(enum mcg_log_level level, const char *fmt, va_list ap)
{
	static const char *const prefix[] = {
		[MCG_LOG_ERROR] = "error: ",
		[MCG_LOG_WARN] = "warning: ",
		[MCG_LOG_INFO] = "",
		[MCG_LOG_DEBUG] = "debug: ",
	};

	if (level > mcg_log_max)
		return;
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
