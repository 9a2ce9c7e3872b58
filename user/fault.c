// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#ifdef MCG_FAULT_INJECTION
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "fault.h"

static long steps_passed;

static void report_steps(void)
{
	fprintf(stderr, "mcguard: fault injection: %ld steps passed\n", steps_passed);
}

void mcg_fault_point(const char *step)
{
	static long kill_at = -1;

	if (kill_at < 0) {
		const char *value = getenv("MCG_FAULT_STEP");

		kill_at = value ? atol(value) : 0;
		if (getenv("MCG_FAULT_REPORT"))
			atexit(report_steps);
	}
	steps_passed++;
	if (steps_passed == kill_at) {
		fprintf(stderr, "mcguard: fault injection: SIGKILL at step %ld (%s)\n", steps_passed, step);
		raise(SIGKILL);
	}
}
#else
/* The ordinary build has no fault points; this keeps the file from being empty. */
typedef int mcg_fault_injection_disabled;
#endif
