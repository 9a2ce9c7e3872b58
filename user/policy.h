/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A guard's policy from command-line words, and back to words. */
#ifndef MCG_POLICY_H
#define MCG_POLICY_H

#include <stddef.h>
#include <json-c/json.h>
#include "mcguard.h"

const char *mcg_mode_name(unsigned int mode);
const char *mcg_wildcard_name(unsigned int wildcard);
const char *mcg_wildcard6_name(unsigned int wildcard6);

/* Each returns 0, or -EINVAL with a message for the user in error[size]. */
int mcg_policy_set_mode(struct mcg_policy *policy, const char *text, char *error, size_t size);
int mcg_policy_set_wildcard(struct mcg_policy *policy, const char *text, char *error, size_t size);
int mcg_policy_set_wildcard6(struct mcg_policy *policy, const char *text, char *error,
			     size_t size);
/* Append a SPEC to the bind list (bind != 0) or the connect list. */
int mcg_policy_add_rule(struct mcg_policy *policy, int bind, const char *spec, char *error,
			size_t size);

/* One line for logs: "mode=enforce wildcard=deny ...". */
char *mcg_policy_summary(const struct mcg_policy *policy, char *buf, size_t size);

/* Add mode, wildcard, wildcard6, allow_connect, allow_bind and generation to obj. */
void mcg_policy_to_json(const struct mcg_policy *policy, json_object *obj);

#endif
