/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The report of "mcguard verify": one result per check (PASS, WARN, FAIL or
 * SKIP, with the reason) and the findings behind it, printed as aligned text
 * or as one JSON object, and the exit status they add up to.
 */
#ifndef MCG_REPORT_H
#define MCG_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <json-c/json.h>

enum mcg_check_status {
	MCG_CHECK_PASS,
	MCG_CHECK_WARN,
	MCG_CHECK_FAIL,
	MCG_CHECK_SKIP,
};

struct mcg_check {
	const char *name;
	int status;         /* enum mcg_check_status */
	bool could_not_run; /* a SKIP because the check failed as it ran, not for lack of privilege */
	char reason[1024];
	json_object *findings; /* array of objects with "status", "kind" and "text" */
};

void mcg_check_init(struct mcg_check *check, const char *name);
void mcg_check_free(struct mcg_check *check);

/* Set the check's status and reason, replacing earlier ones. */
void mcg_check_set(struct mcg_check *check, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Mark the check SKIP because it could not run, which makes the exit status 3. */
void mcg_check_could_not_run(struct mcg_check *check, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Add a finding with its own status and a one-word kind. fields (may be NULL)
 * carries extra JSON members and is taken over. Findings with quiet set
 * appear in JSON only.
 */
void mcg_check_add(struct mcg_check *check, int status, const char *kind, bool quiet,
		   json_object *fields, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* How many findings of this status the check has. */
int mcg_check_count(const struct mcg_check *check, int status);

const char *mcg_check_status_name(int status);

/*
 * The exit status: 1 when a check failed, else 3 when one could not run,
 * else 1 for warnings with strict, else 0.
 */
int mcg_checks_exit_code(const struct mcg_check *checks, size_t count, bool strict);

/* Print the checks as text lines under header. */
void mcg_checks_print_text(FILE *out, const char *header, const struct mcg_check *checks,
			   size_t count, int exit_code);

/* Put the checks into obj as "checks", with "result" and "exit". */
void mcg_checks_to_json(json_object *obj, const struct mcg_check *checks, size_t count,
			int exit_code);

#endif
