// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* attach, detach and status. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>

#include "cgroup.h"
#include "cli.h"
#include "format.h"
#include "guard.h"
#include "log.h"
#include "policy.h"
#include "scan.h"
#include "spec.h"
#include "target.h"

/* Resolve CGROUP for attach; exit code MCG_EXIT_USAGE with a message on bad input. */
static int resolve_operand(struct mcg_cli *cli, struct mcg_cgroup *cg)
{
	char error[PATH_MAX + 128];

	if (cli->argc != 1) {
		pr_err("'mcguard %s' takes exactly one CGROUP (got %d); try 'mcguard %s --help'",
		       cli->command, cli->argc, cli->command);
		return MCG_EXIT_USAGE;
	}
	if (mcg_cgroup_resolve(cli->argv[0], cg, error, sizeof(error))) {
		pr_err("%s", error);
		return MCG_EXIT_USAGE;
	}
	return 0;
}

/* Refuse cgroups where a guard would cut off more than the catcher. */
static int check_attach_target(const struct mcg_cli *cli, const struct mcg_cgroup *cg)
{
	char reason[PATH_MAX * 2];

	if (mcg_cgroup_check_target(cg, cli->force, reason, sizeof(reason))) {
		pr_err("%s", reason);
		return MCG_EXIT_USAGE;
	}
	return 0;
}

int mcg_cmd_attach(struct mcg_cli *cli)
{
	struct mcg_counters counters;
	struct mcg_policy policy;
	struct mcg_state state;
	struct mcg_cgroup cg;
	char summary[2048];
	const char *action;
	bool existed, created;
	int code, err;

	if (mcg_target_by_option(cli) || cli->cgroup_root) {
		struct mcg_target target;

		code = mcg_target_resolve(cli, &target);
		cg = target.cg;
	} else {
		code = resolve_operand(cli, &cg);
	}
	if (code)
		return code;
	code = check_attach_target(cli, &cg);
	if (code)
		return code;
	code = mcg_require_root(cli);
	if (code)
		return code;

	created = !mcg_state_exists(cli->pin_root);
	if (mcg_state_open(&state, cli->pin_root, true))
		return MCG_EXIT_FAILURE;
	/* Without policy options, attaching again only repairs and keeps the policy. */
	err = mcg_guard_attach(&state, &cg, cli->policy_given ? &cli->policy : NULL, &existed);
	if (!err)
		err = mcg_guard_read(&state, cg.id, &policy, &counters);
	if (!err && mcg_guard_has_other_mcguard(&state, cg.path))
		pr_warn("%s is also guarded from another pin root: both policies apply, so the stricter one wins; see 'bpftool cgroup show %s'",
			cg.rel, cg.path);
	if (err) {
		if (created)
			mcg_state_remove_if_unused(&state);
		mcg_state_close(&state);
		return MCG_EXIT_FAILURE;
	}
	mcg_state_close(&state);

	mcg_policy_summary(&policy, summary, sizeof(summary));
	if (!existed)
		action = "attach";
	else if (cli->policy_given)
		action = "policy-update";
	else
		action = "repair";
	mcg_audit("%s cgroup=%s id=%llu %s", action, cg.rel, (unsigned long long)cg.id, summary);
	if (!existed)
		pr_info("guarding %s (%s)", cg.rel, summary);
	else if (cli->policy_given)
		pr_info("updated the guard of %s (%s)", cg.rel, summary);
	else
		pr_info("checked the guard of %s and kept its policy (%s); give policy options to change it",
			cg.rel, summary);
	if (policy.backstop == MCG_BACKSTOP_OFF)
		pr_info("the loopback backstop is off: %s",
			policy.connect_count || policy.bind_count
				? "allow-listed addresses outside loopback are unreachable from a socket held to lo"
				: "--no-backstop");
	mcg_scan_report(&cg, &policy);
	return MCG_EXIT_OK;
}

static int detach_all(struct mcg_cli *cli, struct mcg_state *state)
{
	size_t count = 0;
	__u64 *ids = NULL;
	int code = MCG_EXIT_OK;

	if (mcg_guard_list(state, &ids, &count))
		return MCG_EXIT_FAILURE;
	for (size_t i = 0; i < count; i++) {
		const char *rel = mcg_cgroup_path_by_id(ids[i]);

		if (mcg_guard_detach(state, ids[i])) {
			code = MCG_EXIT_FAILURE;
			continue;
		}
		mcg_audit("detach cgroup=%s id=%llu", rel ? rel : "(removed)",
			  (unsigned long long)ids[i]);
	}
	free(ids);
	mcg_state_remove_if_unused(state);
	pr_info("detached %zu guard%s under %s", count, count == 1 ? "" : "s", cli->pin_root);
	return code;
}

int mcg_cmd_detach(struct mcg_cli *cli)
{
	struct mcg_state state;
	struct mcg_cgroup cg;
	int code, err;

	if (cli->all && cli->argc) {
		pr_err("'mcguard detach' takes either CGROUP or --all, not both");
		return MCG_EXIT_USAGE;
	}
	if (!cli->all) {
		code = resolve_operand(cli, &cg);
		if (code)
			return code;
	}
	code = mcg_require_root(cli);
	if (code)
		return code;

	err = mcg_state_open(&state, cli->pin_root, false);
	if (err == -ENOENT) {
		if (cli->all) {
			pr_info("no guards under %s", cli->pin_root);
			return MCG_EXIT_OK;
		}
		pr_err("%s has no guard: nothing is pinned under %s", cg.rel, cli->pin_root);
		return MCG_EXIT_FAILURE;
	}
	if (err && cli->all) {
		pr_warn("removing the pins under %s without opening them", cli->pin_root);
		if (mcg_state_remove_all(cli->pin_root)) {
			pr_err("remove %s: %s", cli->pin_root, strerror(errno));
			return MCG_EXIT_FAILURE;
		}
		mcg_audit("detach --all pin-root=%s (damaged state)", cli->pin_root);
		return MCG_EXIT_OK;
	}
	if (err)
		return MCG_EXIT_FAILURE;

	if (cli->all) {
		code = detach_all(cli, &state);
		mcg_state_close(&state);
		return code;
	}

	err = mcg_guard_detach(&state, cg.id);
	mcg_state_close(&state);
	if (err == -ENOENT) {
		pr_err("%s has no guard under %s; 'mcguard status' lists the guards", cg.rel,
		       cli->pin_root);
		return MCG_EXIT_FAILURE;
	}
	if (err)
		return MCG_EXIT_FAILURE;
	mcg_audit("detach cgroup=%s id=%llu", cg.rel, (unsigned long long)cg.id);
	pr_info("detached the guard of %s", cg.rel);
	return MCG_EXIT_OK;
}

/* Everything status shows of one guard. */
struct guard_view {
	__u64 id;
	const char *rel; /* NULL when the cgroup is gone */
	bool readable;   /* policy and counters were read */
	struct mcg_policy policy;
	struct mcg_counters counters;
	bool attached[MCG_HOOK_COUNT];
	int attached_count;
	struct mcg_escape *escapes;
	int escape_count;
};

static void read_guard(struct mcg_state *state, const char *mount_point, __u64 id,
		       struct guard_view *view)
{
	char path[PATH_MAX * 2];

	memset(view, 0, sizeof(*view));
	view->id = id;
	view->rel = mcg_cgroup_path_by_id(id);
	view->readable = mcg_guard_read(state, id, &view->policy, &view->counters) == 0;
	if (!view->rel)
		return;
	snprintf(path, sizeof(path), "%s%s", mount_point, view->rel);
	mcg_guard_query_hooks(state, path, view->attached);
	for (int i = 0; i < MCG_HOOK_COUNT; i++)
		view->attached_count += view->attached[i];
	if (view->readable) {
		view->escape_count = mcg_scan_guard(path, id, &view->policy, &view->escapes);
		if (view->escape_count < 0)
			view->escape_count = 0;
	}
}

static json_object *guard_json(const struct guard_view *view)
{
	json_object *obj = json_object_new_object(), *hooks, *counters, *escaped;

	json_object_object_add(obj, "cgroup", view->rel ? json_object_new_string(view->rel) : NULL);
	json_object_object_add(obj, "cgroup_id", json_object_new_uint64(view->id));
	if (view->readable)
		mcg_policy_to_json(&view->policy, obj);
	hooks = json_object_new_object();
	counters = json_object_new_object();
	for (int h = 0; h < MCG_HOOK_COUNT; h++) {
		json_object *hook_counters = json_object_new_object();

		json_object_object_add(hooks, mcg_hook_name(h),
				       json_object_new_string(view->attached[h] ? "attached"
										: "missing"));
		for (int c = 0; c < MCG_COUNTER_COUNT; c++)
			json_object_object_add(hook_counters, mcg_counter_name(c),
					       json_object_new_uint64(view->counters.count[h][c]));
		json_object_object_add(counters, mcg_hook_name(h), hook_counters);
	}
	json_object_object_add(obj, "hooks", hooks);
	json_object_object_add(obj, "counters", counters);
	escaped = json_object_new_array();
	for (int i = 0; i < view->escape_count; i++)
		json_object_array_add(escaped, mcg_escape_json(&view->escapes[i]));
	json_object_object_add(obj, "escaped", escaped);
	return obj;
}

static void print_guard_text(const struct guard_view *view)
{
	unsigned long long totals[MCG_COUNTER_COUNT] = { 0 };
	char spec[MCG_SPEC_MAX];

	for (int h = 0; h < MCG_HOOK_COUNT; h++)
		for (int c = 0; c < MCG_COUNTER_COUNT; c++)
			totals[c] += view->counters.count[h][c];

	printf("%-32s %8llu %-8s %-9s %d/%d %8llu %9llu %8llu %8llu\n",
	       view->rel ? view->rel : "(cgroup removed)", (unsigned long long)view->id,
	       view->readable ? mcg_mode_name(view->policy.mode) : "?",
	       view->readable ? mcg_wildcard_name(view->policy.wildcard) : "?",
	       view->attached_count, MCG_HOOK_COUNT, totals[MCG_COUNTER_DENIED],
	       totals[MCG_COUNTER_REWRITTEN], totals[MCG_COUNTER_AUDITED],
	       totals[MCG_COUNTER_DROPPED]);
	for (int h = 0; h < MCG_HOOK_COUNT; h++)
		if (view->rel && !view->attached[h])
			printf("  missing: %s is not attached; 'mcguard attach' repairs it\n",
			       mcg_hook_name(h));
	for (unsigned int i = 0; view->readable && i < view->policy.connect_count; i++)
		printf("  allow-connect: %s\n",
		       mcg_spec_format(&view->policy.connect[i], spec, sizeof(spec)));
	for (unsigned int i = 0; view->readable && i < view->policy.bind_count; i++)
		printf("  allow-bind: %s\n", mcg_spec_format(&view->policy.bind[i], spec, sizeof(spec)));
	if (view->escape_count) {
		printf("  escaped: %d socket%s created before the guard:\n", view->escape_count,
		       view->escape_count == 1 ? "" : "s");
		mcg_escapes_print(stdout, view->escapes, view->escape_count, false);
	}
	if (view->readable && view->policy.wildcard == MCG_WILDCARD_LOOPBACK)
		printf("  wildcard binds to :: go to %s\n",
		       view->policy.wildcard6 == MCG_WILDCARD6_IPV6 ? "::1" : "::ffff:127.0.0.1");
}

/*
 * The common start of status and scan: at most one CGROUP operand, root, and
 * the cgroup2 mount. Returns 0, or the exit code to stop with.
 */
static int prepare_guard_listing(struct mcg_cli *cli, struct mcg_cgroup *cg, char *mount_point,
				 size_t size)
{
	char error[PATH_MAX + 128];
	int code;

	if (cli->argc > 1) {
		pr_err("'mcguard %s' takes at most one CGROUP", cli->command);
		return MCG_EXIT_USAGE;
	}
	if (cli->argc == 1 && mcg_cgroup_resolve(cli->argv[0], cg, error, sizeof(error))) {
		pr_err("%s", error);
		return MCG_EXIT_USAGE;
	}
	code = mcg_require_root(cli);
	if (code)
		return code;
	if (mcg_cgroup_mount(mount_point, size)) {
		pr_err("no cgroup2 filesystem is mounted");
		return MCG_EXIT_FAILURE;
	}
	return 0;
}

int mcg_cmd_status(struct mcg_cli *cli)
{
	char mount_point[PATH_MAX];
	struct mcg_state state;
	struct mcg_cgroup cg;
	json_object *root = NULL, *array = NULL;
	size_t count = 0;
	__u64 *ids = NULL;
	int code, err;

	code = prepare_guard_listing(cli, &cg, mount_point, sizeof(mount_point));
	if (code)
		return code;

	err = mcg_state_open(&state, cli->pin_root, false);
	if (err && err != -ENOENT)
		return MCG_EXIT_FAILURE;
	if (!err && mcg_guard_list(&state, &ids, &count)) {
		mcg_state_close(&state);
		return MCG_EXIT_FAILURE;
	}

	if (cli->json) {
		root = json_object_new_object();
		array = json_object_new_array();
		json_object_object_add(root, "schema", json_object_new_int(MCG_JSON_SCHEMA));
		json_object_object_add(root, "guards", array);
	} else if (count) {
		printf("%-32s %8s %-8s %-9s %-5s %8s %9s %8s %8s\n", "CGROUP", "ID", "MODE",
		       "WILDCARD", "HOOKS", "DENIED", "REWRITTEN", "AUDITED", "DROPPED");
	}

	code = MCG_EXIT_OK;
	for (size_t i = 0; i < count; i++) {
		struct guard_view view;

		if (cli->argc == 1 && ids[i] != cg.id)
			continue;
		read_guard(&state, mount_point, ids[i], &view);
		if (cli->json)
			json_object_array_add(array, guard_json(&view));
		else
			print_guard_text(&view);
		free(view.escapes);
	}
	if (cli->argc == 1 && (err || !mcg_guard_exists(&state, cg.id))) {
		pr_err("%s has no guard under %s", cg.rel, cli->pin_root);
		code = MCG_EXIT_FAILURE;
	} else if (!cli->json && !count) {
		printf("no guards under %s\n", cli->pin_root);
	}
	if (root) {
		printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(root);
	}
	free(ids);
	if (!err)
		mcg_state_close(&state);
	return code;
}

int mcg_cmd_scan(struct mcg_cli *cli)
{
	char mount_point[PATH_MAX], path[PATH_MAX * 2];
	struct mcg_state state;
	struct mcg_cgroup cg;
	size_t count = 0;
	__u64 *ids = NULL;
	int code, err, total = 0, total_closed = 0;

	code = prepare_guard_listing(cli, &cg, mount_point, sizeof(mount_point));
	if (code)
		return code;
	err = mcg_state_open(&state, cli->pin_root, false);
	if (err == -ENOENT) {
		pr_info("no guards under %s", cli->pin_root);
		return MCG_EXIT_OK;
	}
	if (err || mcg_guard_list(&state, &ids, &count)) {
		if (!err)
			mcg_state_close(&state);
		return MCG_EXIT_FAILURE;
	}
	mcg_state_unlock(&state);

	for (size_t i = 0; i < count; i++) {
		struct mcg_escape *escapes;
		struct mcg_counters counters;
		struct mcg_policy policy;
		const char *rel;
		int found;

		if (cli->argc == 1 && ids[i] != cg.id)
			continue;
		rel = mcg_cgroup_path_by_id(ids[i]);
		if (!rel || mcg_guard_read(&state, ids[i], &policy, &counters))
			continue;
		snprintf(path, sizeof(path), "%s%s", mount_point, rel);
		found = mcg_scan_guard(path, ids[i], &policy, &escapes);
		if (found < 0) {
			pr_err("scan %s: %s", path, strerror(-found));
			code = MCG_EXIT_FAILURE;
			continue;
		}
		mcg_escapes_print(stdout, escapes, cli->destroy ? 0 : found, cli->json);
		if (cli->destroy && found > 0) {
			int closed = mcg_scan_destroy(path, escapes, found);

			if (closed < 0) {
				pr_err("close the escaped sockets of %s: %s", rel, strerror(-closed));
				code = MCG_EXIT_FAILURE;
				closed = 0;
			}
			mcg_audit("destroy cgroup=%s id=%llu closed=%d of %d escaped sockets", rel,
				  (unsigned long long)ids[i], closed, found);
			mcg_escapes_print(stdout, escapes, found, cli->json);
			total_closed += closed;
			found -= closed;
		}
		total += found;
		free(escapes);
	}
	if (cli->argc == 1 && !mcg_guard_exists(&state, cg.id)) {
		pr_err("%s has no guard under %s", cg.rel, cli->pin_root);
		code = MCG_EXIT_FAILURE;
	}
	free(ids);
	mcg_state_close(&state);
	if (!code && total)
		code = MCG_EXIT_FAILURE;
	if (cli->destroy && !cli->json)
		pr_info("closed %d escaped socket%s", total_closed, total_closed == 1 ? "" : "s");
	if (!cli->json)
		pr_info("%d socket%s escaped the guards%s", total, total == 1 ? "" : "s",
			total ? ": restart the processes that hold them" : "");
	return code;
}
