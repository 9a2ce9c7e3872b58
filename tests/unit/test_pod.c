// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Pods for the daemon's Kubernetes mode: fields, policy annotations and cgroup names. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "pod.h"

#define UID "0b7e3c9a-5d21-4f6e-8a3b-2c1d4e5f6a7b"
#define UID_SYSTEMD "0b7e3c9a_5d21_4f6e_8a3b_2c1d4e5f6a7b"
#define HASH "6e0c8a3b2f1d4e5a9b8c7d6e5f4a3b2c"
#define CONTAINER "4f1e2d3c4b5a69788796a5b4c3d2e1f04f1e2d3c4b5a69788796a5b4c3d2e1f0"

static const char *const pod_text =
	"{\"metadata\": {\"name\": \"mailpit\", \"namespace\": \"dev\", \"uid\": \"" UID "\","
	" \"resourceVersion\": \"4711\","
	" \"annotations\": {\"mcguard.io/mode\": \"audit\", \"other.io/x\": \"y\"}},"
	" \"spec\": {\"nodeName\": \"node-a\"},"
	" \"status\": {\"phase\": \"Running\", \"qosClass\": \"BestEffort\","
	"  \"initContainerStatuses\": [{\"name\": \"init\", \"containerID\": \"cri-o://" CONTAINER
	"\"}],"
	"  \"containerStatuses\": [{\"name\": \"mailpit\", \"containerID\": \"containerd://abc\"},"
	"   {\"name\": \"waiting\"}]}}";

/* Parse text as a Pod object; returns mcg_pod_from_json's result. */
static int parse_pod(const char *text, struct mcg_pod *pod, char *error, size_t size)
{
	json_object *object = json_tokener_parse(text);
	int err;

	assert_non_null(object);
	err = mcg_pod_from_json(object, pod, error, size);
	json_object_put(object);
	return err;
}

/* A pod whose only fields are the given mcguard.io/ annotations, key then value. */
static void annotated(struct mcg_pod *pod, int count, ...)
{
	va_list ap;

	memset(pod, 0, sizeof(*pod));
	va_start(ap, count);
	for (int i = 0; i < count; i++) {
		snprintf(pod->annotations[i].key, sizeof(pod->annotations[i].key), "%s",
			 va_arg(ap, const char *));
		snprintf(pod->annotations[i].value, sizeof(pod->annotations[i].value), "%s",
			 va_arg(ap, const char *));
	}
	va_end(ap);
	pod->annotation_count = count;
}

static void test_pod_fields(void **state)
{
	struct mcg_pod pod;
	char error[256] = "";

	(void)state;
	assert_int_equal(parse_pod(pod_text, &pod, error, sizeof(error)), 0);
	assert_string_equal(pod.uid, UID);
	assert_string_equal(pod.cgroup_uid, UID);
	assert_string_equal(pod.namespace, "dev");
	assert_string_equal(pod.name, "mailpit");
	assert_string_equal(pod.node, "node-a");
	assert_string_equal(pod.qos, "besteffort");
	assert_string_equal(pod.phase, "Running");
	assert_string_equal(pod.resource_version, "4711");
	assert_false(pod.deleting);
	assert_int_equal(pod.annotation_count, 1);
	assert_string_equal(pod.annotations[0].key, "mode");
	assert_string_equal(pod.annotations[0].value, "audit");
	assert_int_equal(pod.container_count, 2);
	assert_string_equal(pod.containers[0].name, "init");
	assert_string_equal(pod.containers[0].id, CONTAINER);
	assert_string_equal(pod.containers[1].id, "abc");
	assert_string_equal(mcg_pod_container_name(&pod, CONTAINER), "init");
	assert_null(mcg_pod_container_name(&pod, "missing"));
}

static void test_pod_static_and_deleting(void **state)
{
	struct mcg_pod pod;
	char error[256] = "";

	(void)state;
	assert_int_equal(parse_pod("{\"metadata\": {\"name\": \"etcd\", \"namespace\": \"kube-system\","
				   " \"uid\": \"" UID "\", \"deletionTimestamp\": \"2026-12-04T20:00:00Z\","
				   " \"annotations\": {\"kubernetes.io/config.mirror\": \"" HASH "\"}}}",
				   &pod, error, sizeof(error)),
			 0);
	assert_string_equal(pod.cgroup_uid, HASH);
	assert_true(pod.deleting);
	assert_string_equal(pod.qos, "");
}

static void test_pod_rejects_bad_uid(void **state)
{
	static const char *const uids[] = {
		"../../escape", "0B7E3C9A-5D21-4F6E-8A3B-2C1D4E5F6A7B", "0b7e3c9a5d214f6e8a3b2c1d4e5f6a7b00",
		"0b7e3c9a-5d21-4f6e-8a3b-2c1d4e5f6a7", "0b7e3c9a-5d21-4f6e-8a3b/2c1d4e5f6a7b", "",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(uids) / sizeof(uids[0]); i++) {
		char text[256], error[256] = "";
		struct mcg_pod pod;

		snprintf(text, sizeof(text), "{\"metadata\": {\"name\": \"p\", \"uid\": \"%s\"}}",
			 uids[i]);
		print_message("  %s\n", uids[i]);
		assert_int_equal(parse_pod(text, &pod, error, sizeof(error)), -EINVAL);
		assert_non_null(strstr(error, "invalid metadata.uid"));
	}
	assert_int_equal(parse_pod("{\"metadata\": {\"uid\": \"" UID "\", \"annotations\":"
				   " {\"kubernetes.io/config.mirror\": \"../x\"}}}",
				   &(struct mcg_pod){ 0 }, (char[256]){ 0 }, 256),
			 -EINVAL);
}

static void test_pod_too_many_annotations(void **state)
{
	char text[2048] = "{\"metadata\": {\"uid\": \"" UID "\", \"annotations\": {";
	struct mcg_pod pod;
	char error[256] = "";

	(void)state;
	for (int i = 0; i <= MCG_POD_MAX_ANNOTATIONS; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
			 "%s\"mcguard.io/k%d\": \"v\"", i ? ", " : "", i);
	strcat(text, "}}}");
	assert_int_equal(parse_pod(text, &pod, error, sizeof(error)), 0);
	assert_non_null(strstr(pod.annotation_error, "more than 8 mcguard.io/ annotations"));
}

static void test_policy_overrides(void **state)
{
	struct mcg_policy base = { .wildcard = MCG_WILDCARD_LOOPBACK }, policy;
	struct mcg_pod pod;
	char error[256] = "";

	(void)state;
	annotated(&pod, 3, "mode", "audit", "wildcard6", "ipv6", "allow-connect",
		  "udp:10.96.0.10:53, tcp:10.96.0.10:53\ttcp:192.0.2.25:25");
	assert_int_equal(mcg_pod_policy(&pod, &base, &policy, error, sizeof(error)), 0);
	assert_int_equal(policy.mode, MCG_MODE_AUDIT);
	assert_int_equal(policy.wildcard, MCG_WILDCARD_LOOPBACK);
	assert_int_equal(policy.wildcard6, MCG_WILDCARD6_IPV6);
	assert_int_equal(policy.connect_count, 3);
	assert_int_equal(policy.backstop, MCG_BACKSTOP_OFF);

	annotated(&pod, 1, "backstop", "false");
	assert_int_equal(mcg_pod_policy(&pod, &base, &policy, error, sizeof(error)), 0);
	assert_int_equal(policy.backstop, MCG_BACKSTOP_OFF);
}

static void test_policy_annotation_replaces_list(void **state)
{
	struct mcg_policy base = { 0 }, policy;
	struct mcg_pod pod;
	char error[256] = "";

	(void)state;
	annotated(&pod, 1, "allow-bind", "192.0.2.7");
	assert_int_equal(mcg_pod_policy(&pod, &base, &base, error, sizeof(error)), 0);
	assert_int_equal(base.bind_count, 1);
	annotated(&pod, 1, "allow-bind", "");
	assert_int_equal(mcg_pod_policy(&pod, &base, &policy, error, sizeof(error)), 0);
	assert_int_equal(policy.bind_count, 0);
}

static void test_policy_invalid_is_strict(void **state)
{
	static const struct {
		const char *key, *value, *message;
	} cases[] = {
		{ "mode", "strict", "invalid mcguard.io/mode \"strict\": expected enforce or audit" },
		{ "wildcard", "loopbak", "invalid mcguard.io/wildcard \"loopbak\"" },
		{ "wildcard6", "v6", "invalid mcguard.io/wildcard6 \"v6\"" },
		{ "allow-connect", "192.0.2.1/24", "invalid mcguard.io/allow-connect \"192.0.2.1/24\"" },
		{ "allow-bind", "tcp:[2001:db8::1", "invalid mcguard.io/allow-bind" },
		{ "backstop", "yes", "invalid mcguard.io/backstop \"yes\"" },
		{ "guard", "loopback", "unknown annotation mcguard.io/guard" },
	};
	struct mcg_policy base = { .mode = MCG_MODE_AUDIT, .wildcard = MCG_WILDCARD_LOOPBACK,
				   .backstop = MCG_BACKSTOP_OFF }, policy;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mcg_policy strict = { 0 };
		struct mcg_pod pod;
		char error[256] = "";

		annotated(&pod, 1, cases[i].key, cases[i].value);
		print_message("  %s: %s\n", cases[i].key, cases[i].value);
		assert_int_equal(mcg_pod_policy(&pod, &base, &policy, error, sizeof(error)), -EINVAL);
		assert_non_null(strstr(error, cases[i].message));
		assert_memory_equal(&policy, &strict, sizeof(policy));
	}
}

static void test_policy_backstop_with_list(void **state)
{
	struct mcg_policy base = { 0 }, policy;
	struct mcg_pod pod;
	char error[256] = "";

	(void)state;
	annotated(&pod, 2, "backstop", "true", "allow-connect", "udp:10.96.0.10:53");
	assert_int_equal(mcg_pod_policy(&pod, &base, &policy, error, sizeof(error)), -EINVAL);
	assert_non_null(strstr(error, "cannot go with allow-lists"));

	annotated(&pod, 0);
	snprintf(pod.annotation_error, sizeof(pod.annotation_error), "too many");
	assert_int_equal(mcg_pod_policy(&pod, &base, &policy, error, sizeof(error)), -EINVAL);
	assert_string_equal(error, "too many");
}

static void test_cgroup_paths(void **state)
{
	static const struct {
		const char *qos;
		int driver;
		const char *paths[2];
	} cases[] = {
		{ "burstable", MCG_DRIVER_AUTO,
		  { "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_SYSTEMD ".slice",
		    "kubepods/burstable/pod" UID } },
		{ "besteffort", MCG_DRIVER_SYSTEMD,
		  { "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_SYSTEMD
		    ".slice" } },
		{ "guaranteed", MCG_DRIVER_AUTO,
		  { "kubepods.slice/kubepods-pod" UID_SYSTEMD ".slice", "kubepods/pod" UID } },
		{ "guaranteed", MCG_DRIVER_CGROUPFS, { "kubepods/pod" UID } },
	};
	char paths[6][256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mcg_pod pod = { .cgroup_uid = UID };
		size_t expected = cases[i].paths[1] ? 2 : 1;

		snprintf(pod.qos, sizeof(pod.qos), "%s", cases[i].qos);
		assert_int_equal(mcg_pod_cgroup_paths(&pod, cases[i].driver, paths, 6), expected);
		for (size_t j = 0; j < expected; j++)
			assert_string_equal(paths[j], cases[i].paths[j]);
	}
	/* An unknown QoS class: every layout of both drivers. */
	assert_int_equal(mcg_pod_cgroup_paths(&(struct mcg_pod){ .cgroup_uid = UID },
					      MCG_DRIVER_AUTO, paths, 6),
			 6);
}

static void test_uid_from_cgroup(void **state)
{
	static const char *const valid[] = {
		"kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_SYSTEMD ".slice",
		"kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_SYSTEMD ".slice",
		"kubepods.slice/kubepods-pod" UID_SYSTEMD ".slice",
		"kubepods/burstable/pod" UID,
		"kubepods/pod" UID,
	};
	static const char *const invalid[] = {
		"kubepods.slice",
		"kubepods.slice/kubepods-burstable.slice",
		"kubepods.slice/kubepods-burstable.slice/kubepods-besteffort-pod" UID_SYSTEMD ".slice",
		"kubepods.slice/kubepods-pod" UID_SYSTEMD ".slice/cri-containerd-x.scope",
		"kubepods/guaranteed/pod" UID,
		"kubepods/burstable/pod../../x",
		"kubepods/pod" UID "/" CONTAINER,
		"other/pod" UID,
		"kubepods/podNOTAUID",
	};
	char uid[40];

	(void)state;
	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		print_message("  valid %s\n", valid[i]);
		assert_true(mcg_pod_uid_from_cgroup(valid[i], uid, sizeof(uid)));
		assert_string_equal(uid, UID);
	}
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		print_message("  invalid %s\n", invalid[i]);
		assert_false(mcg_pod_uid_from_cgroup(invalid[i], uid, sizeof(uid)));
	}
	assert_true(mcg_pod_uid_from_cgroup("kubepods/pod" HASH, uid, sizeof(uid)));
	assert_string_equal(uid, HASH);
}

static void test_container_id_from_cgroup(void **state)
{
	static const char *const valid[] = {
		CONTAINER, "cri-containerd-" CONTAINER ".scope", "crio-" CONTAINER ".scope",
		"docker-" CONTAINER ".scope",
	};
	static const char *const invalid[] = {
		"crio-conmon-" CONTAINER ".scope", "cri-containerd-" CONTAINER, "abc",
		"cri-containerd-4F1E2D3C4B5A69788796A5B4C3D2E1F04F1E2D3C4B5A69788796A5B4C3D2E1F0.scope",
	};
	char id[72];

	(void)state;
	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		assert_true(mcg_container_id_from_cgroup(valid[i], id, sizeof(id)));
		assert_string_equal(id, CONTAINER);
	}
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
		assert_false(mcg_container_id_from_cgroup(invalid[i], id, sizeof(id)));
}

static void test_cgroup_driver_names(void **state)
{
	(void)state;
	assert_int_equal(mcg_cgroup_driver_parse("auto"), MCG_DRIVER_AUTO);
	assert_int_equal(mcg_cgroup_driver_parse("systemd"), MCG_DRIVER_SYSTEMD);
	assert_int_equal(mcg_cgroup_driver_parse("cgroupfs"), MCG_DRIVER_CGROUPFS);
	assert_int_equal(mcg_cgroup_driver_parse("docker"), -EINVAL);
	assert_string_equal(mcg_cgroup_driver_name(MCG_DRIVER_CGROUPFS), "cgroupfs");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pod_fields),
		cmocka_unit_test(test_pod_static_and_deleting),
		cmocka_unit_test(test_pod_rejects_bad_uid),
		cmocka_unit_test(test_pod_too_many_annotations),
		cmocka_unit_test(test_policy_overrides),
		cmocka_unit_test(test_policy_annotation_replaces_list),
		cmocka_unit_test(test_policy_invalid_is_strict),
		cmocka_unit_test(test_policy_backstop_with_list),
		cmocka_unit_test(test_cgroup_paths),
		cmocka_unit_test(test_uid_from_cgroup),
		cmocka_unit_test(test_container_id_from_cgroup),
		cmocka_unit_test(test_cgroup_driver_names),
	};

	return cmocka_run_group_tests_name("kubernetes pods", tests, NULL, NULL);
}
