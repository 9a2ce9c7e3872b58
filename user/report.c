// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "report.h"

static const char *const status_names[] = { "PASS", "WARN", "FAIL", "SKIP" };
static const char *const status_json_names[] = { "pass", "warn", "fail", "skip" };

const char *mcg_check_status_name(int status)
{
	return status >= 0 && status <= MCG_CHECK_SKIP ? status_names[status] : "?";
}

void mcg_check_init(struct mcg_check *check, const char *name)
{
	memset(check, 0, sizeof(*check));
	check->name = name;
	check->status = MCG_CHECK_SKIP;
	snprintf(check->reason, sizeof(check->reason), "not run");
	check->findings = json_object_new_array();
}

void mcg_check_free(struct mcg_check *check)
{
	json_object_put(check->findings);
	check->findings = NULL;
}

void mcg_check_set(struct mcg_check *check, int status, const char *fmt, ...)
{
	va_list ap;

	check->status = status;
	check->could_not_run = false;
	va_start(ap, fmt);
	vsnprintf(check->reason, sizeof(check->reason), fmt, ap);
	va_end(ap);
}

void mcg_check_could_not_run(struct mcg_check *check, const char *fmt, ...)
{
	va_list ap;

	check->status = MCG_CHECK_SKIP;
	check->could_not_run = true;
	va_start(ap, fmt);
	vsnprintf(check->reason, sizeof(check->reason), fmt, ap);
	va_end(ap);
}

void mcg_check_add(struct mcg_check *check, int status, const char *kind, bool quiet,
		   json_object *fields, const char *fmt, ...)
{
	json_object *finding = fields ? fields : json_object_new_object();
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	json_object_object_add(finding, "status", json_object_new_string(status_json_names[status]));
	json_object_object_add(finding, "kind", json_object_new_string(kind));
	json_object_object_add(finding, "text", json_object_new_string(text));
	/* A private member, removed before the JSON is printed. */
	if (quiet)
		json_object_object_add(finding, "_quiet", json_object_new_boolean(1));
	json_object_array_add(check->findings, finding);
}

int mcg_check_count(const struct mcg_check *check, int status)
{
	const char *expected = status_json_names[status];
	int count = 0;

	for (size_t i = 0; i < json_object_array_length(check->findings); i++) {
		json_object *value;

		if (json_object_object_get_ex(json_object_array_get_idx(check->findings, i), "status",
					      &value) &&
		    !strcmp(json_object_get_string(value), expected))
			count++;
	}
	return count;
}

int mcg_checks_exit_code(const struct mcg_check *checks, size_t count, bool strict)
{
	bool failed = false, incomplete = false, warned = false;

	for (size_t i = 0; i < count; i++) {
		failed |= checks[i].status == MCG_CHECK_FAIL;
		incomplete |= checks[i].could_not_run;
		warned |= checks[i].status == MCG_CHECK_WARN;
	}
	if (failed)
		return MCG_EXIT_FAILURE;
	if (incomplete)
		return MCG_EXIT_INCOMPLETE;
	return warned && strict ? MCG_EXIT_FAILURE : MCG_EXIT_OK;
}

/* Return one word for the outcome. With --strict, "warnings" comes with exit status 1. */
static const char *result_name(const struct mcg_check *checks, size_t count)
{
	bool failed = false, incomplete = false, warned = false;

	for (size_t i = 0; i < count; i++) {
		failed |= checks[i].status == MCG_CHECK_FAIL;
		incomplete |= checks[i].could_not_run;
		warned |= checks[i].status == MCG_CHECK_WARN;
	}
	if (failed)
		return "exposed";
	if (incomplete)
		return "incomplete";
	return warned ? "warnings" : "clean";
}

void mcg_checks_print_text(FILE *out, const char *header, const struct mcg_check *checks,
			   size_t count, int exit_code)
{
	int totals[4] = { 0 };

	fprintf(out, "%s\n", header);
	for (size_t i = 0; i < count; i++) {
		const struct mcg_check *check = &checks[i];

		totals[check->status]++;
		fprintf(out, "%-4s  %-10s %s\n", mcg_check_status_name(check->status), check->name,
			check->reason);
		for (size_t f = 0; f < json_object_array_length(check->findings); f++) {
			json_object *finding = json_object_array_get_idx(check->findings, f), *kind, *text;

			if (json_object_object_get_ex(finding, "_quiet", NULL))
				continue;
			json_object_object_get_ex(finding, "kind", &kind);
			json_object_object_get_ex(finding, "text", &text);
			fprintf(out, "      %-10s %s\n", json_object_get_string(kind),
				json_object_get_string(text));
		}
	}
	fprintf(out, "result: %s (exit %d): %d passed, %d failed, %d warnings, %d skipped\n",
		result_name(checks, count), exit_code, totals[MCG_CHECK_PASS], totals[MCG_CHECK_FAIL], totals[MCG_CHECK_WARN],
		totals[MCG_CHECK_SKIP]);
}

void mcg_checks_to_json(json_object *obj, const struct mcg_check *checks, size_t count,
			int exit_code)
{
	json_object *array = json_object_new_array();

	for (size_t i = 0; i < count; i++) {
		json_object *check = json_object_new_object();
		json_object *findings = json_object_get(checks[i].findings);

		for (size_t f = 0; f < json_object_array_length(findings); f++)
			json_object_object_del(json_object_array_get_idx(findings, f), "_quiet");
		json_object_object_add(check, "check", json_object_new_string(checks[i].name));
		json_object_object_add(check, "status",
				       json_object_new_string(status_json_names[checks[i].status]));
		json_object_object_add(check, "reason", json_object_new_string(checks[i].reason));
		json_object_object_add(check, "could_not_run",
				       json_object_new_boolean(checks[i].could_not_run));
		json_object_object_add(check, "findings", findings);
		json_object_array_add(array, check);
	}
	json_object_object_add(obj, "checks", array);
	json_object_object_add(obj, "result",
			       json_object_new_string(result_name(checks, count)));
	json_object_object_add(obj, "exit", json_object_new_int(exit_code));
}
