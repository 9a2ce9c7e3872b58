// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Address classification and rule matching: the same header the BPF programs compile. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "mcguard_addr.h"
#include "spec.h"

/* What the guard does with one address, per the loopback table of the README. */
struct addr_case {
	const char *address;
	int bind_allowed;   /* allowed without policy: loopback */
	int bind_wildcard;  /* denied, or rewritten with --wildcard loopback */
	int dest_local;     /* connect and send allowed without policy */
};

static const struct addr_case cases[] = {
	{ "127.0.0.1", 1, 0, 1 },
	{ "127.0.1.1", 1, 0, 1 },
	{ "127.0.0.53", 1, 0, 1 },
	{ "127.255.255.254", 1, 0, 1 },
	{ "::1", 1, 0, 1 },
	{ "::ffff:127.0.0.1", 1, 0, 1 },
	{ "::ffff:127.255.0.9", 1, 0, 1 },
	{ "0.0.0.0", 0, 1, 1 },
	{ "::", 0, 1, 1 },
	{ "::ffff:0.0.0.0", 0, 1, 1 },
	{ "192.0.2.1", 0, 0, 0 },     /* an address of the host's own interface */
	{ "2001:db8::1", 0, 0, 0 },
	{ "128.0.0.1", 0, 0, 0 },
	{ "126.255.255.255", 0, 0, 0 },
	{ "::2", 0, 0, 0 },
	{ "fe80::1", 0, 0, 0 },
	{ "224.0.0.1", 0, 0, 0 },
	{ "ff02::1", 0, 0, 0 },
	{ "255.255.255.255", 0, 0, 0 },
	{ "::127.0.0.1", 0, 0, 0 },         /* IPv4-compatible */
	{ "64:ff9b::7f00:1", 0, 0, 0 },     /* NAT64 of 127.0.0.1 */
	{ "2002:7f00:1::", 0, 0, 0 },       /* 6to4 of 127.0.0.1 */
	{ "2001:0:4136:e378:8000:63bf:80ff:fffe", 0, 0, 0 }, /* Teredo with 127.0.0.1 */
	{ "::ffff:192.0.2.1", 0, 0, 0 },
	{ "::ffff:128.0.0.1", 0, 0, 0 },
};

static void classify(const char *text, int *bind_allowed, int *bind_wildcard, int *dest_local)
{
	__u32 ip6[4] = { 0 };

	if (inet_pton(AF_INET, text, &ip6[0]) == 1) {
		*bind_allowed = mcg_ip4_is_loopback(ip6[0]);
		*bind_wildcard = mcg_ip4_is_any(ip6[0]);
		*dest_local = mcg_ip4_dest_is_local(ip6[0]);
		return;
	}
	assert_int_equal(inet_pton(AF_INET6, text, ip6), 1);
	*bind_allowed = mcg_ip6_is_loopback_any_form(ip6);
	*bind_wildcard = mcg_ip6_is_wildcard(ip6);
	*dest_local = mcg_ip6_dest_is_local(ip6);
}

static void test_loopback_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int bind_allowed, bind_wildcard, dest_local;

		classify(cases[i].address, &bind_allowed, &bind_wildcard, &dest_local);
		print_message("  %s\n", cases[i].address);
		assert_int_equal(bind_allowed, cases[i].bind_allowed);
		assert_int_equal(bind_wildcard, cases[i].bind_wildcard);
		assert_int_equal(dest_local, cases[i].dest_local);
	}
}

static struct mcg_rule rule_from(const char *spec)
{
	struct mcg_rule rule;
	char error[128];

	assert_int_equal(mcg_spec_parse(spec, &rule, error, sizeof(error)), 0);
	return rule;
}

/* Match text on an AF_INET6-style path (mapped judged as IPv4) or AF_INET. */
static int matches(const struct mcg_rule *rules, int count, const char *text, __u16 port,
		   __u8 proto)
{
	__u32 ip6[4] = { 0 };

	if (inet_pton(AF_INET, text, &ip6[0]) == 1)
		return mcg_rules_match_ip4(rules, count, ip6[0], port, proto);
	assert_int_equal(inet_pton(AF_INET6, text, ip6), 1);
	return mcg_rules_match_sock6(rules, count, ip6, port, proto);
}

static void test_rule_cidr_port_proto(void **state)
{
	struct mcg_rule rules[MCG_MAX_RULES] = { rule_from("tcp:192.0.2.0/24:25") };

	(void)state;
	assert_true(matches(rules, 1, "192.0.2.77", 25, MCG_PROTO_TCP));
	assert_true(matches(rules, 1, "::ffff:192.0.2.77", 25, MCG_PROTO_TCP));
	assert_false(matches(rules, 1, "192.0.2.77", 26, MCG_PROTO_TCP));
	assert_false(matches(rules, 1, "192.0.2.77", 25, MCG_PROTO_UDP));
	assert_false(matches(rules, 1, "192.0.3.1", 25, MCG_PROTO_TCP));
	assert_false(matches(rules, 1, "2001:db8::1", 25, MCG_PROTO_TCP));
}

static void test_rule_ipv6_range(void **state)
{
	struct mcg_rule rules[MCG_MAX_RULES] = { rule_from("[2001:db8:1::/48]:1000-2000") };

	(void)state;
	assert_true(matches(rules, 1, "2001:db8:1::7", 1000, MCG_PROTO_TCP));
	assert_true(matches(rules, 1, "2001:db8:1:ffff::7", 2000, MCG_PROTO_UDP));
	assert_true(matches(rules, 1, "2001:db8:1::7", 1500, MCG_PROTO_OTHER));
	assert_false(matches(rules, 1, "2001:db8:1::7", 999, MCG_PROTO_TCP));
	assert_false(matches(rules, 1, "2001:db8:1::7", 2001, MCG_PROTO_TCP));
	assert_false(matches(rules, 1, "2001:db8:2::7", 1500, MCG_PROTO_TCP));
}

static void test_rule_zeroed_never_matches(void **state)
{
	struct mcg_rule rules[MCG_MAX_RULES] = { 0 };

	(void)state;
	/* A zeroed entry has family 0 and no protocol bits, even when counted. */
	assert_false(matches(rules, MCG_MAX_RULES, "0.0.0.0", 0, MCG_PROTO_TCP));
	assert_false(matches(rules, MCG_MAX_RULES, "::", 0, MCG_PROTO_UDP));
	assert_false(matches(rules, MCG_MAX_RULES, "192.0.2.1", 0, MCG_PROTO_OTHER));
}

static void test_rule_count_limits_search(void **state)
{
	struct mcg_rule rules[MCG_MAX_RULES] = { rule_from("198.51.100.0/24"),
						 rule_from("203.0.113.0/24") };

	(void)state;
	assert_true(matches(rules, 2, "203.0.113.9", 80, MCG_PROTO_TCP));
	assert_false(matches(rules, 1, "203.0.113.9", 80, MCG_PROTO_TCP));
	assert_false(matches(rules, 0, "198.51.100.9", 80, MCG_PROTO_TCP));
}

static void test_rule_everything_prefix(void **state)
{
	struct mcg_rule rules[MCG_MAX_RULES] = { rule_from("0.0.0.0/0"), rule_from("::/0") };

	(void)state;
	assert_true(matches(rules, 2, "203.0.113.9", 1, MCG_PROTO_TCP));
	assert_true(matches(rules, 2, "2001:db8::9", 1, MCG_PROTO_UDP));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loopback_table),
		cmocka_unit_test(test_rule_cidr_port_proto),
		cmocka_unit_test(test_rule_ipv6_range),
		cmocka_unit_test(test_rule_zeroed_never_matches),
		cmocka_unit_test(test_rule_count_limits_search),
		cmocka_unit_test(test_rule_everything_prefix),
	};

	return cmocka_run_group_tests_name("address classification", tests, NULL, NULL);
}
