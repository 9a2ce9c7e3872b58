// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "policy.h"
#include "spec.h"

static const char *const mode_names[] = { "enforce", "audit" };
static const char *const wildcard_names[] = { "deny", "loopback" };
static const char *const wildcard6_names[] = { "mapped", "ipv6" };

#define NAME_OR_UNKNOWN(names, i) ((i) < sizeof(names) / sizeof(names[0]) ? names[i] : "unknown")

const char *mcg_mode_name(unsigned int mode)
{
	return NAME_OR_UNKNOWN(mode_names, mode);
}

const char *mcg_wildcard_name(unsigned int wildcard)
{
	return NAME_OR_UNKNOWN(wildcard_names, wildcard);
}

const char *mcg_wildcard6_name(unsigned int wildcard6)
{
	return NAME_OR_UNKNOWN(wildcard6_names, wildcard6);
}

/* Find text in names; on a miss, write "invalid OPTION "text": expected a, b". */
static int pick_name(const char *const *names, size_t count, const char *option,
		     const char *text, char *error, size_t size)
{
	for (size_t i = 0; i < count; i++)
		if (!strcmp(text, names[i]))
			return i;
	snprintf(error, size, "invalid %s \"%s\": expected %s or %s", option, text, names[0],
		 names[1]);
	return -EINVAL;
}

int mcg_policy_set_mode(struct mcg_policy *policy, const char *text, char *error, size_t size)
{
	int value = pick_name(mode_names, 2, "--mode", text, error, size);

	if (value < 0)
		return value;
	policy->mode = value;
	return 0;
}

int mcg_policy_set_wildcard(struct mcg_policy *policy, const char *text, char *error, size_t size)
{
	int value = pick_name(wildcard_names, 2, "--wildcard", text, error, size);

	if (value < 0)
		return value;
	policy->wildcard = value;
	return 0;
}

int mcg_policy_set_wildcard6(struct mcg_policy *policy, const char *text, char *error,
			     size_t size)
{
	int value = pick_name(wildcard6_names, 2, "--wildcard6", text, error, size);

	if (value < 0)
		return value;
	policy->wildcard6 = value;
	return 0;
}

int mcg_policy_add_rule(struct mcg_policy *policy, int bind, const char *spec, char *error,
			size_t size)
{
	const char *option = bind ? "--allow-bind" : "--allow-connect";
	__u8 *count = bind ? &policy->bind_count : &policy->connect_count;
	struct mcg_rule *rules = bind ? policy->bind : policy->connect;
	char reason[160];

	if (*count >= MCG_MAX_RULES) {
		snprintf(error, size, "too many %s entries: at most %d", option, MCG_MAX_RULES);
		return -EINVAL;
	}
	if (mcg_spec_parse(spec, &rules[*count], reason, sizeof(reason))) {
		snprintf(error, size, "invalid %s \"%s\": %s", option, spec, reason);
		return -EINVAL;
	}
	(*count)++;
	return 0;
}

static void append_rules(const struct mcg_rule *rules, unsigned int count, const char *name,
			 char *buf, size_t size)
{
	char spec[MCG_SPEC_MAX];

	for (unsigned int i = 0; i < count && i < MCG_MAX_RULES; i++) {
		size_t used = strlen(buf);

		snprintf(buf + used, size - used, " %s=%s", name,
			 mcg_spec_format(&rules[i], spec, sizeof(spec)));
	}
}

char *mcg_policy_summary(const struct mcg_policy *policy, char *buf, size_t size)
{
	snprintf(buf, size, "mode=%s wildcard=%s wildcard6=%s backstop=%s",
		 mcg_mode_name(policy->mode), mcg_wildcard_name(policy->wildcard),
		 mcg_wildcard6_name(policy->wildcard6),
		 policy->backstop == MCG_BACKSTOP_ON ? "on" : "off");
	append_rules(policy->connect, policy->connect_count, "allow-connect", buf, size);
	append_rules(policy->bind, policy->bind_count, "allow-bind", buf, size);
	return buf;
}

static json_object *rules_json(const struct mcg_rule *rules, unsigned int count)
{
	json_object *array = json_object_new_array();
	char spec[MCG_SPEC_MAX];

	for (unsigned int i = 0; i < count && i < MCG_MAX_RULES; i++)
		json_object_array_add(array, json_object_new_string(mcg_spec_format(
						     &rules[i], spec, sizeof(spec))));
	return array;
}

void mcg_policy_to_json(const struct mcg_policy *policy, json_object *obj)
{
	json_object_object_add(obj, "mode", json_object_new_string(mcg_mode_name(policy->mode)));
	json_object_object_add(obj, "wildcard",
			       json_object_new_string(mcg_wildcard_name(policy->wildcard)));
	json_object_object_add(obj, "wildcard6",
			       json_object_new_string(mcg_wildcard6_name(policy->wildcard6)));
	json_object_object_add(obj, "backstop",
			       json_object_new_boolean(policy->backstop == MCG_BACKSTOP_ON));
	json_object_object_add(obj, "allow_connect",
			       rules_json(policy->connect, policy->connect_count));
	json_object_object_add(obj, "allow_bind", rules_json(policy->bind, policy->bind_count));
	json_object_object_add(obj, "generation", json_object_new_uint64(policy->generation));
}
