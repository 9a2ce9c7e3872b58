// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Event formatting: JSON fields, text lines, names and policy words. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "format.h"
#include "policy.h"

/* 2026-12-04T20:31:02.123456Z */
#define SAMPLE_WALL_NS 1796416262123456789ull

static struct mcg_event sample_event(void)
{
	struct mcg_event event = {
		.version = MCG_EVENT_VERSION,
		.hook = MCG_HOOK_BIND6,
		.verdict = MCG_VERDICT_REWRITTEN,
		.family = MCG_FAMILY_IPV6,
		.protocol = IPPROTO_TCP,
		.port = 1025,
		.pid = 4242,
		.uid = 1000,
		.cgroup_id = 77,
		.guard_cgroup_id = 76,
	};

	inet_pton(AF_INET6, "::", event.addr);
	inet_pton(AF_INET6, "::ffff:127.0.0.1", event.new_addr);
	memcpy(event.comm, "node-with-a-long", MCG_COMM_LEN); /* 16 bytes, no NUL */
	return event;
}

static const char *get_string(json_object *obj, const char *key)
{
	json_object *value;

	assert_true(json_object_object_get_ex(obj, key, &value));
	return json_object_get_string(value);
}

static int64_t get_int(json_object *obj, const char *key)
{
	json_object *value;

	assert_true(json_object_object_get_ex(obj, key, &value));
	return json_object_get_int64(value);
}

static void test_event_json_fields(void **state)
{
	struct mcg_event event = sample_event();
	json_object *obj = mcg_event_json(&event, SAMPLE_WALL_NS, "/mcguard/run-1", "/mcguard");

	(void)state;
	assert_non_null(obj);
	assert_int_equal(get_int(obj, "schema"), MCG_JSON_SCHEMA);
	assert_string_equal(get_string(obj, "type"), "event");
	assert_string_equal(get_string(obj, "time"), "2026-12-04T20:31:02.123456Z");
	assert_string_equal(get_string(obj, "hook"), "bind6");
	assert_string_equal(get_string(obj, "verdict"), "rewritten");
	assert_string_equal(get_string(obj, "family"), "ipv6");
	assert_string_equal(get_string(obj, "protocol"), "tcp");
	assert_string_equal(get_string(obj, "address"), "::");
	assert_string_equal(get_string(obj, "new_address"), "::ffff:127.0.0.1");
	assert_int_equal(get_int(obj, "port"), 1025);
	assert_int_equal(get_int(obj, "pid"), 4242);
	assert_int_equal(get_int(obj, "uid"), 1000);
	assert_string_equal(get_string(obj, "comm"), "node-with-a-long");
	assert_string_equal(get_string(obj, "cgroup"), "/mcguard/run-1");
	assert_int_equal(get_int(obj, "cgroup_id"), 77);
	assert_string_equal(get_string(obj, "guard_cgroup"), "/mcguard");
	assert_int_equal(get_int(obj, "guard_cgroup_id"), 76);
	json_object_put(obj);
}

static void test_event_json_denied_ipv4(void **state)
{
	struct mcg_event event = sample_event();
	json_object *obj, *value;

	(void)state;
	event.hook = MCG_HOOK_CONNECT4;
	event.verdict = MCG_VERDICT_DENIED;
	event.family = MCG_FAMILY_IPV4;
	event.protocol = 132; /* SCTP */
	memset(event.addr, 0, sizeof(event.addr));
	inet_pton(AF_INET, "203.0.113.5", event.addr);
	obj = mcg_event_json(&event, SAMPLE_WALL_NS, NULL, NULL);
	assert_string_equal(get_string(obj, "address"), "203.0.113.5");
	assert_string_equal(get_string(obj, "family"), "ipv4");
	assert_string_equal(get_string(obj, "protocol"), "sctp");
	assert_false(json_object_object_get_ex(obj, "new_address", &value));
	/* An unknown cgroup is JSON null, not a missing key. */
	assert_true(json_object_object_get_ex(obj, "cgroup", &value));
	assert_null(value);
	json_object_put(obj);
}

static void test_event_text_line(void **state)
{
	struct mcg_event event = sample_event();
	char line[512];

	(void)state;
	mcg_event_text(&event, SAMPLE_WALL_NS, "/mcguard/run-1", line, sizeof(line));
	assert_non_null(strstr(line, "2026-12-04T20:31:02.123456Z"));
	assert_non_null(strstr(line, "bind6"));
	assert_non_null(strstr(line, "rewritten"));
	assert_non_null(strstr(line, "[::]:1025->::ffff:127.0.0.1"));
	assert_non_null(strstr(line, " 4242 "));
	assert_non_null(strstr(line, "node-with-a-long"));
	assert_non_null(strstr(line, "/mcguard/run-1"));
	/* Columns line up with the header. */
	assert_int_equal(strstr(line, "bind6") - line, strstr(MCG_EVENT_TEXT_HEADER, "HOOK") -
							   MCG_EVENT_TEXT_HEADER);
}

static void test_format_time_cached(void **state)
{
	char time[40], small[12];

	(void)state;
	assert_string_equal(mcg_format_time(SAMPLE_WALL_NS, time, sizeof(time)),
			    "2026-12-04T20:31:02.123456Z");
	/* The same second from the cache, then the next second and back. */
	assert_string_equal(mcg_format_time(SAMPLE_WALL_NS + 876543000ull, time, sizeof(time)),
			    "2026-12-04T20:31:02.999999Z");
	assert_string_equal(mcg_format_time(SAMPLE_WALL_NS + 876544000ull, time, sizeof(time)),
			    "2026-12-04T20:31:03.000000Z");
	assert_string_equal(mcg_format_time(SAMPLE_WALL_NS - 123456789ull, time, sizeof(time)),
			    "2026-12-04T20:31:02.000000Z");
	assert_string_equal(mcg_format_time(0, time, sizeof(time)), "1970-01-01T00:00:00.000000Z");
	assert_string_equal(mcg_format_time(SAMPLE_WALL_NS, small, sizeof(small)), "2026-12-04T");
}

static void test_format_addr_ipv4(void **state)
{
	static const char *const addresses[] = { "0.0.0.0", "255.255.255.255", "10.0.100.9",
						 "192.0.2.1", "127.0.0.1", "1.20.199.90" };
	__u8 addr[16] = { 0 };
	char text[INET6_ADDRSTRLEN];

	(void)state;
	for (size_t i = 0; i < sizeof(addresses) / sizeof(addresses[0]); i++) {
		assert_int_equal(inet_pton(AF_INET, addresses[i], addr), 1);
		assert_string_equal(mcg_format_addr(MCG_FAMILY_IPV4, addr, text, sizeof(text)),
				    addresses[i]);
	}
	inet_pton(AF_INET6, "2001:db8::25", addr);
	assert_string_equal(mcg_format_addr(MCG_FAMILY_IPV6, addr, text, sizeof(text)),
			    "2001:db8::25");
}

static void test_names_cover_enums(void **state)
{
	char buf[8];

	(void)state;
	assert_string_equal(mcg_hook_name(MCG_HOOK_SENDMSG6), "sendmsg6");
	assert_string_equal(mcg_hook_name(MCG_HOOK_COUNT), "unknown");
	assert_int_equal(mcg_hook_from_name("connect4"), MCG_HOOK_CONNECT4);
	assert_int_equal(mcg_hook_from_name("connect5"), -1);
	assert_string_equal(mcg_verdict_name(MCG_VERDICT_AUDITED), "audited");
	assert_string_equal(mcg_verdict_name(MCG_VERDICT_CONTAINED), "contained");
	assert_string_equal(mcg_verdict_name(MCG_VERDICT_ESCAPED), "escaped");
	assert_string_equal(mcg_hook_name(MCG_HOOK_LISTEN), "listen");
	assert_string_equal(mcg_counter_name(MCG_COUNTER_DROPPED), "dropped");
	assert_string_equal(mcg_protocol_name(250, buf, sizeof(buf)), "250");
}

static void test_policy_words(void **state)
{
	struct mcg_policy policy = { 0 };
	char error[256], summary[512];

	(void)state;
	assert_int_equal(mcg_policy_set_mode(&policy, "audit", error, sizeof(error)), 0);
	assert_int_equal(policy.mode, MCG_MODE_AUDIT);
	assert_int_equal(mcg_policy_set_mode(&policy, "permissive", error, sizeof(error)), -EINVAL);
	assert_non_null(strstr(error, "permissive"));
	assert_int_equal(mcg_policy_set_wildcard(&policy, "loopback", error, sizeof(error)), 0);
	assert_int_equal(mcg_policy_set_wildcard6(&policy, "ipv6", error, sizeof(error)), 0);
	assert_int_equal(mcg_policy_add_rule(&policy, 0, "tcp:192.0.2.0/24:25", error,
					     sizeof(error)), 0);
	assert_int_equal(mcg_policy_add_rule(&policy, 1, "bogus", error, sizeof(error)), -EINVAL);
	assert_non_null(strstr(error, "--allow-bind \"bogus\""));
	assert_int_equal(policy.connect_count, 1);
	assert_int_equal(policy.bind_count, 0);
	mcg_policy_summary(&policy, summary, sizeof(summary));
	assert_string_equal(summary,
			    "mode=audit wildcard=loopback wildcard6=ipv6 backstop=on allow-connect=tcp:192.0.2.0/24:25");
}

static void test_policy_rule_limit(void **state)
{
	struct mcg_policy policy = { 0 };
	char error[256];

	(void)state;
	for (int i = 0; i < MCG_MAX_RULES; i++)
		assert_int_equal(mcg_policy_add_rule(&policy, 0, "192.0.2.1", error, sizeof(error)),
				 0);
	assert_int_equal(mcg_policy_add_rule(&policy, 0, "192.0.2.1", error, sizeof(error)),
			 -EINVAL);
	assert_non_null(strstr(error, "at most 16"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_json_fields),
		cmocka_unit_test(test_event_json_denied_ipv4),
		cmocka_unit_test(test_event_text_line),
		cmocka_unit_test(test_format_time_cached),
		cmocka_unit_test(test_format_addr_ipv4),
		cmocka_unit_test(test_names_cover_enums),
		cmocka_unit_test(test_policy_words),
		cmocka_unit_test(test_policy_rule_limit),
	};

	return cmocka_run_group_tests_name("event and policy formatting", tests, NULL, NULL);
}
