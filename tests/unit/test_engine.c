// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Container inspect output and cgroup naming schemes. The inspect documents in
 * tests/unit/data follow the fields that Docker's Engine API and Podman
 * document for `container inspect`; no engine ran to record them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "engine.h"
#include "testdata.h"

#define ID "3f4e1c9a7b2d8e6f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071"

static void test_container_id_valid(void **state)
{
	(void)state;
	assert_true(mcg_container_id_valid(ID));
	assert_false(mcg_container_id_valid(""));
	assert_false(mcg_container_id_valid("3f4e1c9a7b2d"));
	assert_false(mcg_container_id_valid(ID "0"));
	assert_false(mcg_container_id_valid(
		"3F4E1C9A7B2D8E6F0A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F6071"));
	assert_false(mcg_container_id_valid(
		"3f4e1c9a7b2d8e6f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f607g"));
}

static void test_docker_inspect_ports(void **state)
{
	struct mcg_container c = { .engine = "docker" };
	char *json = read_data("docker-inspect.json"), error[256] = "";

	(void)state;
	assert_int_equal(mcg_container_parse_inspect(json, &c, error, sizeof(error)), 0);
	free(json);
	assert_string_equal(c.id, ID);
	assert_string_equal(c.name, "mailpit");
	assert_string_equal(c.engine, "docker");
	assert_int_equal(c.pid, 4242);
	assert_false(c.host_network);
	/* NetworkSettings.Ports wins over HostConfig.PortBindings; null entries are not published. */
	assert_int_equal(c.port_count, 4);
	for (unsigned int i = 0; i < c.port_count; i++) {
		const struct mcg_published_port *port = &c.ports[i];

		if (port->container_port == 1025) {
			assert_int_equal(port->protocol, IPPROTO_TCP);
			assert_int_equal(port->host_port, 1025);
			assert_false(mcg_published_on_loopback(port));
			assert_true(!strcmp(port->host_ip, "0.0.0.0") || !strcmp(port->host_ip, "::"));
		} else if (port->container_port == 8025) {
			assert_string_equal(port->host_ip, "127.0.0.1");
			assert_int_equal(port->host_port, 18025);
			assert_true(mcg_published_on_loopback(port));
		} else {
			assert_int_equal(port->container_port, 5353);
			assert_int_equal(port->protocol, IPPROTO_UDP);
			assert_false(mcg_published_on_loopback(port));
		}
	}
}

static void test_podman_inspect_stopped(void **state)
{
	struct mcg_container c = { .engine = "podman" };
	char *json = read_data("podman-inspect-stopped.json"), error[256] = "";

	(void)state;
	assert_int_equal(mcg_container_parse_inspect(json, &c, error, sizeof(error)), 0);
	free(json);
	assert_string_equal(c.name, "mailpit");
	assert_int_equal(c.pid, 0);
	assert_true(c.host_network);
	/* Not running: the configured bindings from HostConfig. An empty HostIp is every address. */
	assert_int_equal(c.port_count, 1);
	assert_string_equal(c.ports[0].host_ip, "");
	assert_false(mcg_published_on_loopback(&c.ports[0]));
}

static void test_inspect_invalid(void **state)
{
	static const char *const inputs[] = {
		"",
		"{}",
		"[]",
		"[{\"Id\": \"" ID "\"}, {\"Id\": \"" ID "\"}]",
		"[{\"Name\": \"/mailpit\"}]",
		"[{\"Id\": \"3f4e1c9a7b2d\"}]",
		"[1]",
	};
	struct mcg_container c;
	char error[256];

	(void)state;
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		memset(&c, 0, sizeof(c));
		error[0] = '\0';
		assert_int_equal(mcg_container_parse_inspect(inputs[i], &c, error, sizeof(error)), -EINVAL);
		assert_true(error[0] != '\0');
	}
}

static void test_cgroup_schemes(void **state)
{
	static const struct {
		const char *parent, *name, *scheme;
	} cases[] = {
		{ "system.slice", "docker-" ID ".scope", "Docker, systemd cgroup driver" },
		{ "docker", ID, "Docker, cgroupfs cgroup driver" },
		{ "machine.slice", "libpod-" ID ".scope", "Podman, systemd cgroup driver" },
		{ "libpod_parent", "libpod-" ID, "Podman, cgroupfs cgroup driver" },
		{ "user.slice", "libpod-payload-" ID, "Podman, --cgroups=split" },
		{ "catchers", ID, "cgroupfs cgroup driver, custom parent" },
		{ "machine.slice", "libpod-conmon-" ID ".scope", NULL },
		{ "system.slice", "docker-" ID, NULL },
		{ "system.slice", "docker-3f4e1c9a7b2d.scope", NULL },
		{ "system.slice", "mailpit.service", NULL },
		{ "docker", ID "0", NULL },
	};
	char id[MCG_CONTAINER_ID_LEN + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *scheme = mcg_container_cgroup_scheme(cases[i].parent, cases[i].name, id);

		if (!cases[i].scheme) {
			assert_null(scheme);
			continue;
		}
		assert_non_null(scheme);
		assert_string_equal(scheme, cases[i].scheme);
		assert_string_equal(id, ID);
	}
}

static void test_published_loopback_forms(void **state)
{
	struct mcg_published_port port = { 0 };

	(void)state;
	snprintf(port.host_ip, sizeof(port.host_ip), "127.0.0.53");
	assert_true(mcg_published_on_loopback(&port));
	snprintf(port.host_ip, sizeof(port.host_ip), "::1");
	assert_true(mcg_published_on_loopback(&port));
	snprintf(port.host_ip, sizeof(port.host_ip), "::");
	assert_false(mcg_published_on_loopback(&port));
	snprintf(port.host_ip, sizeof(port.host_ip), "localhost");
	assert_false(mcg_published_on_loopback(&port));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_container_id_valid),
		cmocka_unit_test(test_docker_inspect_ports),
		cmocka_unit_test(test_podman_inspect_stopped),
		cmocka_unit_test(test_inspect_invalid),
		cmocka_unit_test(test_cgroup_schemes),
		cmocka_unit_test(test_published_loopback_forms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
