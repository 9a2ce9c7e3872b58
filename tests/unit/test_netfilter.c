// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Netfilter rules from `nft -j list ruleset` and iptables-save. The inputs in
 * tests/unit/data are real output of nft 1.0.6 and iptables 1.8.9, captured
 * in a throwaway network namespace.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "netfilter.h"
#include "testdata.h"

static bool reaches(const struct mcg_nf_rule *rule, const char *address)
{
	unsigned char addr[16];
	int family = strchr(address, ':') ? AF_INET6 : AF_INET;

	assert_int_equal(inet_pton(family, address, addr), 1);
	return mcg_nf_dnat_reaches(rule, family, addr);
}

/* The rule whose text contains needle; fails the test when there is none. */
static const struct mcg_nf_rule *find_rule(const struct mcg_nf_rules *rules, const char *needle)
{
	for (size_t i = 0; i < rules->count; i++)
		if (strstr(rules->items[i].text, needle))
			return &rules->items[i];
	fail_msg("no rule with \"%s\"", needle);
	return NULL;
}

static void load_nft(struct mcg_nf_rules *rules)
{
	char *json = read_data("nft-ruleset.json"), error[256] = "";

	memset(rules, 0, sizeof(*rules));
	assert_int_equal(mcg_nf_parse_nft_json(json, "nft", rules, error, sizeof(error)), 0);
	free(json);
}

static void test_nft_single_dnat(void **state)
{
	struct mcg_nf_rules rules;
	const struct mcg_nf_rule *rule;

	(void)state;
	load_nft(&rules);
	assert_int_equal(rules.count, 12);
	rule = find_rule(&rules, "chain prerouting handle 3:");
	assert_int_equal(rule->families, MCG_NF_IPV4);
	assert_int_equal(rule->kind, MCG_NF_NAT);
	assert_true(rule->has_dnat);
	assert_false(rule->dnat_unknown);
	assert_true(reaches(rule, "192.0.2.1"));
	assert_false(reaches(rule, "192.0.2.2"));
	assert_false(reaches(rule, "::ffff:192.0.2.1"));
	assert_true(mcg_nf_rule_matches_port(rule, 1025));
	assert_false(mcg_nf_rule_matches_port(rule, 1026));
	assert_true(mcg_nf_dnat_reaches_port(rule, 1025));
	assert_false(mcg_nf_dnat_reaches_port(rule, 8025));
	assert_string_equal(rule->text,
			    "nft: table ip nat chain prerouting handle 3: dport 1025 dnat to 192.0.2.1 port 1025");
	mcg_nf_rules_free(&rules);
}

static void test_nft_port_set_keeps_port(void **state)
{
	struct mcg_nf_rules rules;
	const struct mcg_nf_rule *rule;

	(void)state;
	load_nft(&rules);
	rule = find_rule(&rules, "handle 5:");
	assert_int_equal(rule->dport_count, 2);
	/* Without a port in the DNAT, the matched destination port goes through. */
	assert_true(mcg_nf_dnat_reaches_port(rule, 8025));
	assert_true(mcg_nf_dnat_reaches_port(rule, 9000));
	assert_true(mcg_nf_dnat_reaches_port(rule, 9010));
	assert_false(mcg_nf_dnat_reaches_port(rule, 9011));
	assert_false(mcg_nf_dnat_reaches_port(rule, 1025));
	mcg_nf_rules_free(&rules);
}

static void test_nft_address_range_and_prefix(void **state)
{
	struct mcg_nf_rules rules;
	const struct mcg_nf_rule *range, *prefix;

	(void)state;
	load_nft(&rules);
	range = find_rule(&rules, "handle 6:");
	assert_false(reaches(range, "192.0.2.7"));
	assert_true(reaches(range, "192.0.2.8"));
	assert_true(reaches(range, "192.0.2.10"));
	assert_false(reaches(range, "192.0.2.11"));
	assert_true(mcg_nf_dnat_reaches_port(range, 54));
	assert_false(mcg_nf_dnat_reaches_port(range, 1053));

	prefix = find_rule(&rules, "handle 7:");
	assert_true(reaches(prefix, "192.0.2.0"));
	assert_true(reaches(prefix, "192.0.2.3"));
	assert_false(reaches(prefix, "192.0.2.4"));
	mcg_nf_rules_free(&rules);
}

static void test_nft_map_and_xt_unknown(void **state)
{
	struct mcg_nf_rules rules;
	const struct mcg_nf_rule *map, *xt;

	(void)state;
	load_nft(&rules);
	map = find_rule(&rules, "handle 9:");
	assert_true(map->has_dnat);
	assert_true(map->dnat_unknown);
	assert_false(map->xt);
	assert_false(reaches(map, "192.0.2.1"));

	xt = find_rule(&rules, "handle 13:");
	assert_true(xt->xt);
	assert_true(xt->dnat_unknown);
	assert_true(mcg_nf_rule_matches_port(xt, 4025));
	mcg_nf_drop_xt(&rules);
	assert_int_equal(rules.count, 11);
	for (size_t i = 0; i < rules.count; i++)
		assert_false(rules.items[i].xt);
	mcg_nf_rules_free(&rules);
}

static void test_nft_regular_chain_and_negation(void **state)
{
	struct mcg_nf_rules rules;
	const struct mcg_nf_rule *rule, *jump;

	(void)state;
	load_nft(&rules);
	rule = find_rule(&rules, "chain custom handle 11:");
	assert_int_equal(rule->kind, MCG_NF_NAT);
	/* "!= 22" matches every other port. */
	assert_int_equal(rule->dport_count, 0);
	assert_true(mcg_nf_dnat_reaches_port(rule, 1025));
	assert_true(reaches(rule, "198.51.100.7"));

	jump = find_rule(&rules, "handle 10:");
	assert_false(jump->has_dnat);
	mcg_nf_rules_free(&rules);
}

static void test_nft_inet_filter_families(void **state)
{
	struct mcg_nf_rules rules;
	const struct mcg_nf_rule *both, *nfproto, *saddr, *v6;

	(void)state;
	load_nft(&rules);
	both = find_rule(&rules, "table inet filter chain input handle 2:");
	assert_int_equal(both->kind, MCG_NF_FILTER);
	assert_int_equal(both->families, MCG_NF_IPV4 | MCG_NF_IPV6);
	assert_false(both->has_dnat);
	nfproto = find_rule(&rules, "table inet filter chain input handle 3:");
	assert_int_equal(nfproto->families, MCG_NF_IPV4);
	assert_true(mcg_nf_rule_matches_port(nfproto, 8025));
	saddr = find_rule(&rules, "table inet filter chain input handle 4:");
	assert_int_equal(saddr->families, MCG_NF_IPV4);

	v6 = find_rule(&rules, "table ip6 nat6");
	assert_int_equal(v6->families, MCG_NF_IPV6);
	assert_true(reaches(v6, "2001:db8::1"));
	assert_false(reaches(v6, "192.0.2.1"));
	mcg_nf_rules_free(&rules);
}

static void test_nft_invalid_json(void **state)
{
	static const char *const inputs[] = { "", "not json", "[]", "{\"nftables\": 1}" };
	struct mcg_nf_rules rules = { 0 };
	char error[256];

	(void)state;
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		error[0] = '\0';
		assert_int_equal(mcg_nf_parse_nft_json(inputs[i], "nft", &rules, error, sizeof(error)),
				 -EINVAL);
		assert_non_null(strstr(error, "not an nftables JSON document"));
		assert_int_equal(rules.count, 0);
	}
}

static void load_iptables(struct mcg_nf_rules *rules)
{
	char *v4 = read_data("iptables-save.txt"), *v6 = read_data("ip6tables-save.txt");

	memset(rules, 0, sizeof(*rules));
	assert_int_equal(mcg_nf_parse_iptables_save(v4, AF_INET, "iptables-legacy-save", rules), 0);
	assert_int_equal(mcg_nf_parse_iptables_save(v6, AF_INET6, "ip6tables-legacy-save", rules), 0);
	free(v4);
	free(v6);
}

static void test_iptables_docker_dnat(void **state)
{
	struct mcg_nf_rules rules;
	const struct mcg_nf_rule *rule;

	(void)state;
	load_iptables(&rules);
	assert_int_equal(rules.count, 11);
	rule = find_rule(&rules, "--to-destination 172.17.0.2:1025");
	assert_int_equal(rule->kind, MCG_NF_NAT);
	assert_int_equal(rule->families, MCG_NF_IPV4);
	assert_true(reaches(rule, "172.17.0.2"));
	assert_true(mcg_nf_dnat_reaches_port(rule, 1025));
	assert_false(mcg_nf_dnat_reaches_port(rule, 1026));
	assert_string_equal(rule->text,
			    "iptables-legacy-save: -t nat -A DOCKER ! -i docker0 -p tcp -m tcp --dport 1025 -j DNAT --to-destination 172.17.0.2:1025");

	rule = find_rule(&rules, "-j MASQUERADE");
	assert_false(rule->has_dnat);
	mcg_nf_rules_free(&rules);
}

static void test_iptables_ranges_and_lists(void **state)
{
	struct mcg_nf_rules rules;
	const struct mcg_nf_rule *range, *multiport, *negated;

	(void)state;
	load_iptables(&rules);
	range = find_rule(&rules, "--dport 1053:1054");
	assert_true(mcg_nf_rule_matches_port(range, 1054));
	assert_false(mcg_nf_rule_matches_port(range, 1055));
	assert_true(reaches(range, "192.0.2.9"));
	assert_false(reaches(range, "192.0.2.11"));
	assert_true(mcg_nf_dnat_reaches_port(range, 53));

	/* The quoted comment with escaped quotes stays one word. */
	multiport = find_rule(&rules, "--dports 8025,9000:9010");
	assert_int_equal(multiport->dport_count, 2);
	assert_true(mcg_nf_dnat_reaches_port(multiport, 9005));
	assert_false(mcg_nf_dnat_reaches_port(multiport, 8026));
	assert_true(reaches(multiport, "192.0.2.1"));

	negated = find_rule(&rules, "! --dport 22");
	assert_int_equal(negated->dport_count, 0);
	assert_true(mcg_nf_dnat_reaches_port(negated, 1025));
	mcg_nf_rules_free(&rules);
}

static void test_iptables_filter_and_ipv6(void **state)
{
	struct mcg_nf_rules rules;
	const struct mcg_nf_rule *rule;

	(void)state;
	load_iptables(&rules);
	rule = find_rule(&rules, "iptables-legacy-save: -t filter -A INPUT -p tcp -m multiport");
	assert_int_equal(rule->kind, MCG_NF_FILTER);
	assert_true(mcg_nf_rule_matches_port(rule, 8026));

	rule = find_rule(&rules, "[2001:db8::1]:1025");
	assert_int_equal(rule->families, MCG_NF_IPV6);
	assert_true(reaches(rule, "2001:db8::1"));
	assert_true(mcg_nf_dnat_reaches_port(rule, 1025));
	assert_false(mcg_nf_dnat_reaches_port(rule, 1026));

	rule = find_rule(&rules, "--to-destination 2001:db8::2");
	assert_false(rule->dnat_unknown);
	assert_true(reaches(rule, "2001:db8::2"));
	assert_true(mcg_nf_dnat_reaches_port(rule, 1026));
	mcg_nf_rules_free(&rules);
}

static void test_iptables_bad_destinations(void **state)
{
	static const char *const lines[] = {
		"*nat\n-A P -p tcp --dport 1 -j DNAT --to-destination example.org\n",
		"*nat\n-A P -p tcp --dport 1 -j DNAT --to-destination 192.0.2.1:99999\n",
		"*nat\n-A P -p tcp --dport 1 -j DNAT --to-destination [2001:db8::1\n",
		"*nat\n-A P -p tcp --dport 1 -j DNAT\n",
	};
	struct mcg_nf_rules rules = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		assert_int_equal(mcg_nf_parse_iptables_save(lines[i], AF_INET, "t", &rules), 0);
		assert_int_equal(rules.count, i + 1);
		assert_true(rules.items[i].has_dnat);
		assert_true(rules.items[i].dnat_unknown);
	}
	mcg_nf_rules_free(&rules);
}

static void test_iptables_rules_outside_tables_ignored(void **state)
{
	struct mcg_nf_rules rules = { 0 };

	(void)state;
	assert_int_equal(mcg_nf_parse_iptables_save("-A INPUT --dport 1 -j DROP\n# -A X\n", AF_INET,
						    "t", &rules), 0);
	assert_int_equal(rules.count, 0);
	/* Too many port ranges for one rule: it matches every port instead. */
	assert_int_equal(mcg_nf_parse_iptables_save(
		"*filter\n-A I -p tcp -m multiport --dports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17 -j DROP\n",
		AF_INET, "t", &rules), 0);
	assert_int_equal(rules.count, 1);
	assert_int_equal(rules.items[0].dport_count, 0);
	mcg_nf_rules_free(&rules);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nft_single_dnat),
		cmocka_unit_test(test_nft_port_set_keeps_port),
		cmocka_unit_test(test_nft_address_range_and_prefix),
		cmocka_unit_test(test_nft_map_and_xt_unknown),
		cmocka_unit_test(test_nft_regular_chain_and_negation),
		cmocka_unit_test(test_nft_inet_filter_families),
		cmocka_unit_test(test_nft_invalid_json),
		cmocka_unit_test(test_iptables_docker_dnat),
		cmocka_unit_test(test_iptables_ranges_and_lists),
		cmocka_unit_test(test_iptables_filter_and_ipv6),
		cmocka_unit_test(test_iptables_bad_destinations),
		cmocka_unit_test(test_iptables_rules_outside_tables_ignored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
