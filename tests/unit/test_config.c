// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The daemon's configuration parser and its cgroup matching. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"

/* Parse text through a temporary file; returns the parser's result. */
static int parse(const char *text, struct mcg_config *config, char *error, size_t size)
{
	char path[] = "/tmp/mcguard-config-XXXXXX";
	int fd = mkstemp(path), err;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	memset(config, 0, sizeof(*config));
	err = mcg_config_load(path, config, error, size);
	unlink(path);
	return err;
}

static void test_config_full_entry(void **state)
{
	struct mcg_config config;
	char error[512] = "";

	(void)state;
	assert_int_equal(parse("pin_root = \"/sys/fs/bpf/x\";\n"
			       "reconcile_interval = 5;\n"
			       "metrics = \"127.0.0.1:9464\";\n"
			       "guards = ( { unit = \"mailpit.service\"; mode = \"audit\";\n"
			       "  wildcard = \"loopback\"; wildcard6 = \"ipv6\";\n"
			       "  allow_connect = [ \"udp:192.0.2.53:53\" ]; force = true; } );\n",
			       &config, error, sizeof(error)),
			 0);
	assert_string_equal(config.pin_root, "/sys/fs/bpf/x");
	assert_int_equal(config.reconcile_seconds, 5);
	assert_string_equal(config.metrics, "127.0.0.1:9464");
	assert_int_equal(config.rule_count, 1);
	assert_string_equal(config.rules[0].unit, "mailpit.service");
	assert_int_equal(config.rules[0].policy.mode, MCG_MODE_AUDIT);
	assert_int_equal(config.rules[0].policy.wildcard, MCG_WILDCARD_LOOPBACK);
	assert_int_equal(config.rules[0].policy.wildcard6, MCG_WILDCARD6_IPV6);
	assert_int_equal(config.rules[0].policy.connect_count, 1);
	assert_int_equal(config.rules[0].policy.backstop, MCG_BACKSTOP_OFF);
	assert_true(config.rules[0].force);
	assert_int_equal(config.rules[0].line, 4);
	mcg_config_free(&config);
}

static void test_config_defaults_strict(void **state)
{
	struct mcg_config config;
	char error[512] = "";

	(void)state;
	assert_int_equal(parse("guards = ( { match = \"catchers/*\"; } );\n", &config, error,
			       sizeof(error)),
			 0);
	assert_int_equal(config.rules[0].policy.mode, MCG_MODE_ENFORCE);
	assert_int_equal(config.rules[0].policy.wildcard, MCG_WILDCARD_DENY);
	assert_int_equal(config.rules[0].policy.backstop, MCG_BACKSTOP_ON);
	assert_false(config.rules[0].force);
	mcg_config_free(&config);
}

static void test_config_rejects_with_line(void **state)
{
	static const struct {
		const char *text;
		const char *message;
	} cases[] = {
		{ "guards = (\n { match = \"a\";\n  colour = \"red\"; } );\n", ":3: unknown key \"colour\"" },
		{ "guards = ( { match = \"a\"; unit = \"b\"; } );\n", "exactly one of" },
		{ "guards = ( { unit = \"a\"; container = \"b\"; } );\n", "exactly one of" },
		{ "guards = ( { match = \"a\"; backstop = \"yes\"; } );\n", "backstop must be true or false" },
		{ "guards = ( { match = \"a\"; allow_bind = [ \"::/0\" ]; backstop = true; } );\n",
		  "cannot go with allow-lists" },
		{ "pin_root = \"relative\";\n", "must be an absolute path" },
		{ "reconcile_interval = 3601;\n", "1 to 3600" },
		{ "guards = { match = \"a\"; };\n", "guards must be a list" },
		{ "kubernetes = { colour = \"red\"; };\n", "unknown key \"colour\" in kubernetes" },
		{ "kubernetes = { cgroup_driver = \"docker\"; };\n", "invalid cgroup_driver" },
		{ "kubernetes = { api_server = \"http://10.0.0.1\"; };\n", "must be an https:// URL" },
		{ "kubernetes = { service_account_dir = \"sa\"; };\n", "must be an absolute path" },
		{ "kubernetes = { events = 1; };\n", "events must be true or false" },
		{ "kubernetes = { allow_connect = [ \"10.96.0.10/8\" ]; };\n",
		  "invalid allow_connect" },
		{ "kubernetes = ( );\n", "kubernetes must be a group" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mcg_config config;
		char error[512] = "";

		print_message("  %s", cases[i].text);
		assert_int_equal(parse(cases[i].text, &config, error, sizeof(error)), -EINVAL);
		assert_non_null(strstr(error, cases[i].message));
		mcg_config_free(&config);
	}
}

static void test_config_kubernetes_group(void **state)
{
	struct mcg_config config;
	char error[512] = "";

	(void)state;
	memset(&config, 0, sizeof(config));
	mcg_kube_settings_default(&config.kube);
	assert_false(config.kube.enabled);
	assert_string_equal(config.kube.selector, "mcguard.io/guard=loopback");
	assert_string_equal(config.kube.service_account_dir,
			    "/var/run/secrets/kubernetes.io/serviceaccount");
	assert_true(config.kube.post_events);

	assert_int_equal(parse("kubernetes = {\n"
			       "  selector = \"app=mailpit,tier!=prod\";\n"
			       "  node_name = \"node-a\";\n"
			       "  cgroup_root = \"/sys/fs/cgroup/kubelet.slice\";\n"
			       "  cgroup_driver = \"systemd\";\n"
			       "  service_account_dir = \"/run/sa\";\n"
			       "  api_server = \"https://10.0.0.1:6443\";\n"
			       "  events = false;\n"
			       "  wildcard = \"loopback\";\n"
			       "  allow_connect = [ \"udp:10.96.0.10:53\" ];\n"
			       "};\n",
			       &config, error, sizeof(error)),
			 0);
	assert_true(config.kube.enabled);
	assert_string_equal(config.kube.selector, "app=mailpit,tier!=prod");
	assert_string_equal(config.kube.node_name, "node-a");
	assert_string_equal(config.kube.cgroup_root, "/sys/fs/cgroup/kubelet.slice");
	assert_int_equal(config.kube.cgroup_driver, 1);
	assert_string_equal(config.kube.service_account_dir, "/run/sa");
	assert_string_equal(config.kube.api_server, "https://10.0.0.1:6443");
	assert_false(config.kube.post_events);
	assert_int_equal(config.kube.policy.wildcard, MCG_WILDCARD_LOOPBACK);
	assert_int_equal(config.kube.policy.connect_count, 1);
	assert_int_equal(config.kube.policy.backstop, MCG_BACKSTOP_OFF);
	assert_int_equal(config.rule_count, 0);
	mcg_config_free(&config);
}

static void test_rule_matching(void **state)
{
	struct mcg_guard_rule children = { .match = "catchers/*" };
	struct mcg_guard_rule parent = { .match = "catchers" };
	struct mcg_guard_rule unit = { .unit = "mail*.service" };

	(void)state;
	assert_true(mcg_rule_matches(&children, "/catchers/maildev"));
	assert_false(mcg_rule_matches(&children, "/catchers/maildev/inner"));
	assert_false(mcg_rule_matches(&children, "/catchers"));
	assert_true(mcg_rule_matches(&parent, "/catchers"));
	assert_true(mcg_rule_matches(&unit, "/system.slice/mailpit.service"));
	assert_false(mcg_rule_matches(&unit, "/system.slice/sshd.service"));
	assert_false(mcg_rule_matches(&unit, "/"));
	/* Container rules need the engine; the daemon matches them, never this function. */
	struct mcg_guard_rule container = { .container = "*" };
	assert_false(mcg_rule_matches(&container, "/system.slice/docker-ab.scope"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_full_entry),
		cmocka_unit_test(test_config_defaults_strict),
		cmocka_unit_test(test_config_rejects_with_line),
		cmocka_unit_test(test_config_kubernetes_group),
		cmocka_unit_test(test_rule_matching),
	};

	return cmocka_run_group_tests_name("daemon configuration", tests, NULL, NULL);
}
