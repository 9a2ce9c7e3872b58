/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Fault injection for the crash tests, compiled only into the test build
 * (.output/mcguard-faults, -DMCG_FAULT_INJECTION). Each call marks one step
 * of an attach or a policy update. With MCG_FAULT_STEP=N in the environment
 * the process kills itself with SIGKILL at step N; with MCG_FAULT_REPORT set
 * it prints the number of steps it passed when it exits.
 */
#ifndef MCG_FAULT_H
#define MCG_FAULT_H

#ifdef MCG_FAULT_INJECTION
void mcg_fault_point(const char *step);
#else
static inline void mcg_fault_point(const char *step)
{
	(void)step;
}
#endif

#endif
