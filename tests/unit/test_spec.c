// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The allow-list SPEC parser and its canonical form. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "parse.h"
#include "spec.h"

struct spec_case {
	const char *input;
	const char *canonical; /* NULL: the input must be rejected */
};

static const struct spec_case cases[] = {
	{ "192.0.2.1", "192.0.2.1" },
	{ "192.0.2.0/24", "192.0.2.0/24" },
	{ "tcp:198.51.100.7:25", "tcp:198.51.100.7:25" },
	{ "udp:203.0.113.0/24:1000-2000", "udp:203.0.113.0/24:1000-2000" },
	{ "192.0.2.1/32:0-65535", "192.0.2.1" },
	{ "2001:db8::/32", "[2001:db8::/32]" },
	{ "2001:db8::5", "[2001:db8::5]" },
	{ "tcp:2001:db8::5:587", "tcp:[2001:db8::5:587]" }, /* an address, not a port */
	{ "tcp:[2001:db8::5]:587", "tcp:[2001:db8::5]:587" },
	{ "[2001:db8::/48]:80-90", "[2001:db8::/48]:80-90" },
	{ "[2001:db8::1]", "[2001:db8::1]" },
	{ "::ffff:192.0.2.0/120", "192.0.2.0/24" },
	{ "::ffff:192.0.2.9", "192.0.2.9" },
	{ "0.0.0.0/0", "0.0.0.0/0" },
	{ "::/0", "[::/0]" },
	{ "0.0.0.0", "0.0.0.0" },
	{ "", NULL },
	{ "tcp:", NULL },
	{ "sctp:192.0.2.1", NULL },
	{ "192.0.2.1/33", NULL },
	{ "192.0.2.1/24", NULL }, /* host bits set */
	{ "192.0.2.0/-1", NULL },
	{ "192.0.2.0/ 8", NULL },
	{ "192.0.2.256", NULL },
	{ "192.0.2.1:", NULL },
	{ "192.0.2.1:65536", NULL },
	{ "192.0.2.1:80-70", NULL },
	{ "192.0.2.1:80-", NULL },
	{ "192.0.2.1:-80", NULL },
	{ "192.0.2.1:+80", NULL },
	{ "192.0.2.1:http", NULL },
	{ "2001:db8::1/129", NULL },
	{ "[2001:db8::1", NULL },
	{ "tcp:[2001:db8::]/32:587", NULL }, /* prefix outside the brackets */
	{ "::ffff:192.0.2.1/120", NULL },    /* host bits set */
	{ "[2001:db8::1]80", NULL },
	{ "[192.0.2.1]:80:90", NULL },
	{ "::ffff:192.0.2.0/64", NULL }, /* mapped and other IPv6 mixed */
	{ "example.org", NULL },
	{ "192.0.2.1 ", NULL },
};

static void test_spec_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mcg_rule rule;
		char error[160] = "", text[MCG_SPEC_MAX];
		int err = mcg_spec_parse(cases[i].input, &rule, error, sizeof(error));

		print_message("  \"%s\" -> %s\n", cases[i].input, err ? error : "ok");
		if (!cases[i].canonical) {
			assert_int_equal(err, -EINVAL);
			assert_true(error[0] != '\0');
			assert_int_equal(rule.family, 0); /* a rejected entry stays inert */
			continue;
		}
		assert_int_equal(err, 0);
		assert_string_equal(mcg_spec_format(&rule, text, sizeof(text)), cases[i].canonical);
	}
}

static void test_spec_fields(void **state)
{
	struct mcg_rule rule;
	char error[160];

	(void)state;
	assert_int_equal(mcg_spec_parse("udp:198.51.100.0/24:53", &rule, error, sizeof(error)), 0);
	assert_int_equal(rule.family, MCG_FAMILY_IPV4);
	assert_int_equal(rule.protocols, MCG_PROTO_UDP);
	assert_int_equal(rule.prefix_len, 24);
	assert_int_equal(rule.port_min, 53);
	assert_int_equal(rule.port_max, 53);
	assert_int_equal(rule.addr[0], htonl(0xc6336400));
	assert_int_equal(rule.mask[0], htonl(0xffffff00));
	assert_int_equal(rule.mask[1], 0);

	assert_int_equal(mcg_spec_parse("2001:db8::/33", &rule, error, sizeof(error)), 0);
	assert_int_equal(rule.family, MCG_FAMILY_IPV6);
	assert_int_equal(rule.protocols, MCG_PROTO_ANY);
	assert_int_equal(rule.mask[0], 0xffffffff);
	assert_int_equal(rule.mask[1], htonl(0x80000000));
	assert_int_equal(rule.mask[2], 0);
	assert_int_equal(rule.port_min, 0);
	assert_int_equal(rule.port_max, 65535);
}

static void test_parse_ulong(void **state)
{
	unsigned long value;

	(void)state;
	assert_int_equal(mcg_parse_ulong("42", 0, 100, &value), 0);
	assert_int_equal(value, 42);
	assert_int_equal(mcg_parse_ulong("101", 0, 100, &value), -ERANGE);
	assert_int_equal(mcg_parse_ulong("99999999999999999999999", 0, 100, &value), -ERANGE);
	assert_int_equal(mcg_parse_ulong("", 0, 100, &value), -EINVAL);
	assert_int_equal(mcg_parse_ulong("-1", 0, 100, &value), -EINVAL);
	assert_int_equal(mcg_parse_ulong(" 1", 0, 100, &value), -EINVAL);
	assert_int_equal(mcg_parse_ulong("1x", 0, 100, &value), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_table),
		cmocka_unit_test(test_spec_fields),
		cmocka_unit_test(test_parse_ulong),
	};

	return cmocka_run_group_tests_name("allow-list SPEC", tests, NULL, NULL);
}
