// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libconfig.h>

#include "config.h"
#include "parse.h"
#include "pod.h"
#include "policy.h"

static const char *const top_keys[] = { "pin_root", "metrics", "reconcile_interval", "guards",
					"kubernetes" };
static const char *const kube_keys[] = { "selector",	  "node_name",	   "cgroup_root",
					 "cgroup_driver", "service_account_dir", "api_server",
					 "events",	  "mode",	   "wildcard",
					 "wildcard6",	  "allow_connect", "allow_bind",
					 "backstop" };
static const char *const guard_keys[] = { "match",	   "unit",	 "container",	 "mode",     "wildcard",
					  "wildcard6",	   "allow_connect", "allow_bind", "backstop",
					  "force" };

#define COUNT(array) (sizeof(array) / sizeof(array[0]))

static int config_error(char *error, size_t size, const char *path, int line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int config_error(char *error, size_t size, const char *path, int line, const char *fmt, ...)
{
	int used = snprintf(error, size, "%s:%d: ", path, line);
	va_list ap;

	va_start(ap, fmt);
	if (used >= 0 && (size_t)used < size)
		vsnprintf(error + used, size - used, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Policy setters word their errors for options ("--mode"); a file names keys ("mode"). */
static const char *as_key_words(char *reason)
{
	static const char *const options[][2] = {
		{ "--allow-connect", "allow_connect" }, { "--allow-bind", "allow_bind" },
		{ "--wildcard6", "wildcard6" },		{ "--wildcard", "wildcard" },
		{ "--mode", "mode" },
	};
	char *at;

	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
		at = strstr(reason, options[i][0]);
		if (!at)
			continue;
		memmove(at + strlen(options[i][1]), at + strlen(options[i][0]),
			strlen(at + strlen(options[i][0])) + 1);
		memcpy(at, options[i][1], strlen(options[i][1]));
		break;
	}
	return reason;
}

static bool known_key(const char *name, const char *const *keys, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (!strcmp(name, keys[i]))
			return true;
	return false;
}

/* Reject keys of a group that are not in keys[]. */
static int check_keys(config_setting_t *group, const char *const *keys, size_t count,
		      const char *where, const char *path, char *error, size_t size)
{
	for (int i = 0; i < config_setting_length(group); i++) {
		config_setting_t *member = config_setting_get_elem(group, i);
		const char *name = config_setting_name(member);

		if (name && !known_key(name, keys, count))
			return config_error(error, size, path, config_setting_source_line(member),
					    "unknown key \"%s\" in %s", name, where);
	}
	return 0;
}

/* A string member, or NULL when absent; -EINVAL when present but not a string. */
static int get_string(config_setting_t *group, const char *key, const char **value,
		      const char *path, char *error, size_t size)
{
	config_setting_t *member = config_setting_get_member(group, key);

	*value = NULL;
	if (!member)
		return 0;
	*value = config_setting_get_string(member);
	if (!*value)
		return config_error(error, size, path, config_setting_source_line(member),
				    "\"%s\" must be a string in quotes", key);
	return 0;
}

static int parse_rule_list(config_setting_t *guard, const char *key, int bind,
			   struct mcg_policy *policy, const char *path, char *error, size_t size)
{
	config_setting_t *list = config_setting_get_member(guard, key);
	char reason[256];

	if (!list)
		return 0;
	if (!config_setting_is_array(list) && !config_setting_is_list(list))
		return config_error(error, size, path, config_setting_source_line(list),
				    "\"%s\" must be a list of SPEC strings, as [ \"tcp:192.0.2.1:25\" ]",
				    key);
	for (int i = 0; i < config_setting_length(list); i++) {
		const char *spec = config_setting_get_string_elem(list, i);

		if (!spec)
			return config_error(error, size, path, config_setting_source_line(list),
					    "entry %d of \"%s\" is not a string", i + 1, key);
		if (mcg_policy_add_rule(policy, bind, spec, reason, sizeof(reason)))
			return config_error(error, size, path, config_setting_source_line(list), "%s",
					    as_key_words(reason));
	}
	return 0;
}

/* The policy keys of a group: mode, wildcard, wildcard6, the allow-lists and backstop. */
static int parse_policy(config_setting_t *group, const char *where, struct mcg_policy *policy,
			const char *path, char *error, size_t size)
{
	int (*const setters[])(struct mcg_policy *, const char *, char *, size_t) = {
		mcg_policy_set_mode, mcg_policy_set_wildcard, mcg_policy_set_wildcard6,
	};
	const char *const setter_keys[] = { "mode", "wildcard", "wildcard6" };
	int line = config_setting_source_line(group), backstop, err;
	char reason[256];

	for (size_t i = 0; i < COUNT(setters); i++) {
		const char *value;

		err = get_string(group, setter_keys[i], &value, path, error, size);
		if (err)
			return err;
		if (value && setters[i](policy, value, reason, sizeof(reason)))
			return config_error(error, size, path,
					    config_setting_source_line(
						    config_setting_get_member(group, setter_keys[i])),
					    "%s", as_key_words(reason));
	}
	err = parse_rule_list(group, "allow_connect", 0, policy, path, error, size);
	if (!err)
		err = parse_rule_list(group, "allow_bind", 1, policy, path, error, size);
	if (err)
		return err;

	if (policy->connect_count || policy->bind_count)
		policy->backstop = MCG_BACKSTOP_OFF;
	if (config_setting_lookup_bool(group, "backstop", &backstop) == CONFIG_TRUE) {
		if (backstop && policy->backstop == MCG_BACKSTOP_OFF)
			return config_error(error, size, path, line,
					    "%s: backstop = true cannot go with allow-lists, because a socket held to lo reaches no allow-listed address",
					    where);
		if (!backstop)
			policy->backstop = MCG_BACKSTOP_OFF;
	} else if (config_setting_get_member(group, "backstop")) {
		return config_error(error, size, path, line, "%s: backstop must be true or false",
				    where);
	}
	return 0;
}

/* One guard entry of the "guards" list. */
static int parse_guard(config_setting_t *guard, int index, struct mcg_guard_rule *rule,
		       const char *path, char *error, size_t size)
{
	int line = config_setting_source_line(guard), force, err;
	const char *match, *unit, *container;
	char where[32];

	memset(rule, 0, sizeof(*rule));
	rule->line = line;
	snprintf(where, sizeof(where), "guard %d", index + 1);
	if (!config_setting_is_group(guard))
		return config_error(error, size, path, line, "%s must be a group in braces: { match = \"...\"; }",
				    where);
	err = check_keys(guard, guard_keys, COUNT(guard_keys), where, path, error, size);
	if (err)
		return err;

	err = get_string(guard, "match", &match, path, error, size);
	if (!err)
		err = get_string(guard, "unit", &unit, path, error, size);
	if (!err)
		err = get_string(guard, "container", &container, path, error, size);
	if (err)
		return err;
	if (!!match + !!unit + !!container != 1)
		return config_error(error, size, path, line,
				    "%s needs exactly one of \"match\" (a cgroup path glob), \"unit\" (a unit name glob) and \"container\" (a container name glob)",
				    where);
	snprintf(rule->container, sizeof(rule->container), "%s", container ? container : "");
	if (match && (match[0] == '\0' || !strcmp(match, "/")))
		return config_error(error, size, path, line,
				    "%s: match \"%s\" would guard the cgroup2 root; name the catcher's cgroup",
				    where, match);
	snprintf(rule->match, sizeof(rule->match), "%s", match ? match : "");
	snprintf(rule->unit, sizeof(rule->unit), "%s", unit ? unit : "");

	err = parse_policy(guard, where, &rule->policy, path, error, size);
	if (err)
		return err;
	if (config_setting_lookup_bool(guard, "force", &force) == CONFIG_TRUE)
		rule->force = force;
	else if (config_setting_get_member(guard, "force"))
		return config_error(error, size, path, line, "%s: force must be true or false", where);
	return 0;
}

/* A string key of the kubernetes group into buf[size]; absolute requires a leading "/". */
static int get_kube_string(config_setting_t *group, const char *key, char *buf, size_t size,
			   bool absolute, const char *path, char *error, size_t error_size)
{
	config_setting_t *member = config_setting_get_member(group, key);
	const char *value;
	int err = get_string(group, key, &value, path, error, error_size);

	if (err || !value)
		return err;
	if (!value[0] || strlen(value) >= size)
		return config_error(error, error_size, path, config_setting_source_line(member),
				    "kubernetes: %s must be a non-empty string of at most %zu bytes",
				    key, size - 1);
	if (absolute && value[0] != '/')
		return config_error(error, error_size, path, config_setting_source_line(member),
				    "kubernetes: %s \"%s\" must be an absolute path", key, value);
	snprintf(buf, size, "%s", value);
	return 0;
}

/* The "kubernetes" group: which pods to guard, where their cgroups are, how to reach the API. */
static int parse_kubernetes(config_setting_t *group, struct mcg_kube_settings *kube,
			    const char *path, char *error, size_t size)
{
	config_setting_t *member;
	const char *driver;
	int err, events;

	if (!config_setting_is_group(group))
		return config_error(error, size, path, config_setting_source_line(group),
				    "kubernetes must be a group in braces: kubernetes = { ... };");
	err = check_keys(group, kube_keys, COUNT(kube_keys), "kubernetes", path, error, size);
	if (!err)
		err = get_kube_string(group, "selector", kube->selector, sizeof(kube->selector),
				      false, path, error, size);
	if (!err)
		err = get_kube_string(group, "node_name", kube->node_name, sizeof(kube->node_name),
				      false, path, error, size);
	if (!err)
		err = get_kube_string(group, "cgroup_root", kube->cgroup_root,
				      sizeof(kube->cgroup_root), true, path, error, size);
	if (!err)
		err = get_kube_string(group, "service_account_dir", kube->service_account_dir,
				      sizeof(kube->service_account_dir), true, path, error, size);
	if (!err)
		err = get_kube_string(group, "api_server", kube->api_server,
				      sizeof(kube->api_server), false, path, error, size);
	if (!err)
		err = get_string(group, "cgroup_driver", &driver, path, error, size);
	if (err)
		return err;

	if (kube->api_server[0] && strncmp(kube->api_server, "https://", 8))
		return config_error(error, size, path,
				    config_setting_source_line(config_setting_get_member(group, "api_server")),
				    "kubernetes: api_server \"%s\" must be an https:// URL, because requests carry the service account token",
				    kube->api_server);
	if (driver) {
		kube->cgroup_driver = mcg_cgroup_driver_parse(driver);
		if (kube->cgroup_driver < 0)
			return config_error(error, size, path,
					    config_setting_source_line(
						    config_setting_get_member(group, "cgroup_driver")),
					    "kubernetes: invalid cgroup_driver \"%s\": expected auto, systemd or cgroupfs",
					    driver);
	}
	member = config_setting_get_member(group, "events");
	if (config_setting_lookup_bool(group, "events", &events) == CONFIG_TRUE)
		kube->post_events = events;
	else if (member)
		return config_error(error, size, path, config_setting_source_line(member),
				    "kubernetes: events must be true or false");
	kube->enabled = true;
	return parse_policy(group, "kubernetes", &kube->policy, path, error, size);
}

static int parse_top(config_t *cfg, struct mcg_config *config, const char *path, char *error,
		     size_t size)
{
	config_setting_t *root = config_root_setting(cfg), *guards, *member;
	const char *value;
	int err, interval;

	err = check_keys(root, top_keys, COUNT(top_keys), "the file", path, error, size);
	if (err)
		return err;
	err = get_string(root, "pin_root", &value, path, error, size);
	if (err)
		return err;
	if (value) {
		if (value[0] != '/')
			return config_error(error, size, path,
					    config_setting_source_line(config_setting_get_member(root, "pin_root")),
					    "pin_root \"%s\" must be an absolute path", value);
		snprintf(config->pin_root, sizeof(config->pin_root), "%s", value);
	}
	err = get_string(root, "metrics", &value, path, error, size);
	if (err)
		return err;
	if (value)
		snprintf(config->metrics, sizeof(config->metrics), "%s", value);

	member = config_setting_get_member(root, "reconcile_interval");
	if (member) {
		interval = config_setting_get_int(member);
		if (config_setting_type(member) != CONFIG_TYPE_INT || interval < 1 || interval > 3600)
			return config_error(error, size, path, config_setting_source_line(member),
					    "reconcile_interval must be a whole number of seconds from 1 to 3600");
		config->reconcile_seconds = interval;
	}

	member = config_setting_get_member(root, "kubernetes");
	if (member) {
		err = parse_kubernetes(member, &config->kube, path, error, size);
		if (err)
			return err;
	}

	guards = config_setting_get_member(root, "guards");
	if (!guards)
		return 0;
	if (!config_setting_is_list(guards))
		return config_error(error, size, path, config_setting_source_line(guards),
				    "guards must be a list in parentheses: guards = ( { ... }, { ... } );");
	for (int i = 0; i < config_setting_length(guards); i++) {
		struct mcg_guard_rule rule;

		err = parse_guard(config_setting_get_elem(guards, i), i, &rule, path, error, size);
		if (err)
			return err;
		if (mcg_config_add_rule(config, &rule))
			return -ENOMEM;
	}
	return 0;
}

/* Report a libconfig read or syntax error as "FILE:LINE: reason". */
static int read_error(config_t *cfg, const char *path, char *error, size_t size)
{
	if (config_error_type(cfg) == CONFIG_ERR_FILE_IO)
		snprintf(error, size, "%s: cannot read the file: %s", path, strerror(errno));
	else
		snprintf(error, size, "%s:%d: %s", path, config_error_line(cfg),
			 config_error_text(cfg));
	return -EINVAL;
}

int mcg_config_load(const char *path, struct mcg_config *config, char *error, size_t size)
{
	config_t cfg;
	int err;

	config_init(&cfg);
	if (config_read_file(&cfg, path) != CONFIG_TRUE)
		err = read_error(&cfg, path, error, size);
	else
		err = parse_top(&cfg, config, path, error, size);
	config_destroy(&cfg);
	return err;
}

int mcg_config_parse_text(const char *text, const char *name, struct mcg_config *config,
			  char *error, size_t size)
{
	config_t cfg;
	int err;

	config_init(&cfg);
	if (config_read_string(&cfg, text) != CONFIG_TRUE)
		err = read_error(&cfg, name, error, size);
	else
		err = parse_top(&cfg, config, name, error, size);
	config_destroy(&cfg);
	return err;
}

int mcg_config_add_rule(struct mcg_config *config, const struct mcg_guard_rule *rule)
{
	struct mcg_guard_rule *grown = realloc(config->rules, (config->rule_count + 1) * sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	config->rules = grown;
	config->rules[config->rule_count++] = *rule;
	return 0;
}

void mcg_kube_settings_default(struct mcg_kube_settings *kube)
{
	memset(kube, 0, sizeof(*kube));
	snprintf(kube->selector, sizeof(kube->selector), "%s", MCG_DEFAULT_SELECTOR);
	snprintf(kube->service_account_dir, sizeof(kube->service_account_dir), "%s",
		 MCG_DEFAULT_SERVICE_ACCOUNT_DIR);
	kube->cgroup_driver = MCG_DRIVER_AUTO;
	kube->post_events = true;
}

void mcg_config_free(struct mcg_config *config)
{
	free(config->rules);
	config->rules = NULL;
	config->rule_count = 0;
}

bool mcg_rule_matches(const struct mcg_guard_rule *rule, const char *rel)
{
	const char *path = rel[0] == '/' ? rel + 1 : rel;
	const char *base = strrchr(rel, '/');

	if (!path[0])
		return false; /* never the cgroup2 root */
	if (rule->container[0])
		return false;
	if (rule->match[0]) {
		const char *glob = rule->match[0] == '/' ? rule->match + 1 : rule->match;

		return fnmatch(glob, path, FNM_PATHNAME) == 0;
	}
	return fnmatch(rule->unit, base ? base + 1 : rel, 0) == 0;
}
