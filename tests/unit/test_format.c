// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Event formatting: JSON fields, text lines, names and policy words. */
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

/* Check every field of sample_event() as formatted with the cgroups "/mcguard/run-1" and "/mcguard". */
static void check_sample_fields(json_object *obj)
{
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
}

static void test_event_json_fields(void **state)
{
	struct mcg_event event = sample_event();
	json_object *obj = mcg_event_json(&event, SAMPLE_WALL_NS, "/mcguard/run-1", "/mcguard");

	(void)state;
	assert_non_null(obj);
	check_sample_fields(obj);
	json_object_put(obj);
}

/* sample_event() as a denied IPv4 connect to 203.0.113.5. */
static struct mcg_event denied_ipv4_event(void)
{
	struct mcg_event event = sample_event();

	event.hook = MCG_HOOK_CONNECT4;
	event.verdict = MCG_VERDICT_DENIED;
	event.family = MCG_FAMILY_IPV4;
	memset(event.addr, 0, sizeof(event.addr));
	inet_pton(AF_INET, "203.0.113.5", event.addr);
	return event;
}

static void test_event_json_denied_ipv4(void **state)
{
	struct mcg_event event = denied_ipv4_event();
	json_object *obj, *value;

	(void)state;
	event.protocol = 132; /* SCTP */
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

/* The json-c rendering that 'mcguard events --json' printed before the direct writer. */
static char *json_c_text(json_object *obj)
{
	char *text = strdup(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
								       JSON_C_TO_STRING_NOSLASHESCAPE));

	json_object_put(obj);
	return text;
}

static json_object *parse_line(const char *text)
{
	json_object *obj = json_tokener_parse(text);

	assert_non_null(obj);
	assert_true(json_object_is_type(obj, json_type_object));
	return obj;
}

static json_object *write_and_parse(const struct mcg_event *event, const char *cgroup,
				    const char *guard_cgroup)
{
	char buf[4096];
	size_t len = mcg_event_json_write(event, SAMPLE_WALL_NS, cgroup, guard_cgroup, buf,
					  sizeof(buf));

	assert_true(len < sizeof(buf));
	assert_int_equal(strlen(buf), len);
	return parse_line(buf);
}

static void test_writer_fields(void **state)
{
	struct mcg_event event = sample_event();
	json_object *obj = write_and_parse(&event, "/mcguard/run-1", "/mcguard");

	(void)state;
	assert_int_equal(json_object_object_length(obj), 17);
	check_sample_fields(obj);
	json_object_put(obj);
}

static void test_writer_denied_ipv4_null_cgroups(void **state)
{
	struct mcg_event event = denied_ipv4_event();
	json_object *obj, *value;

	(void)state;
	event.protocol = 250;
	event.pid = 4294967295u;
	event.uid = 4294967294u;
	event.cgroup_id = 18446744073709551615ull;
	obj = write_and_parse(&event, NULL, NULL);
	assert_string_equal(get_string(obj, "address"), "203.0.113.5");
	assert_string_equal(get_string(obj, "family"), "ipv4");
	assert_string_equal(get_string(obj, "protocol"), "250");
	assert_false(json_object_object_get_ex(obj, "new_address", &value));
	assert_int_equal(get_int(obj, "pid"), 4294967295ll);
	assert_int_equal(get_int(obj, "uid"), 4294967294ll);
	assert_true(json_object_object_get_ex(obj, "cgroup_id", &value));
	assert_true(json_object_get_uint64(value) == 18446744073709551615ull);
	/* An unknown cgroup is JSON null, not a missing key. */
	assert_true(json_object_object_get_ex(obj, "cgroup", &value));
	assert_null(value);
	assert_true(json_object_object_get_ex(obj, "guard_cgroup", &value));
	assert_null(value);
	json_object_put(obj);
}

static void test_writer_rewritten_ipv4(void **state)
{
	struct mcg_event event = sample_event();
	json_object *obj;

	(void)state;
	event.hook = MCG_HOOK_BIND4;
	event.family = MCG_FAMILY_IPV4;
	memset(event.addr, 0, sizeof(event.addr));
	memset(event.new_addr, 0, sizeof(event.new_addr));
	inet_pton(AF_INET, "0.0.0.0", event.addr);
	inet_pton(AF_INET, "127.0.0.1", event.new_addr);
	obj = write_and_parse(&event, "/a", "/");
	assert_string_equal(get_string(obj, "verdict"), "rewritten");
	assert_string_equal(get_string(obj, "address"), "0.0.0.0");
	assert_string_equal(get_string(obj, "new_address"), "127.0.0.1");
	json_object_put(obj);
}

static void test_writer_escapes_ascii(void **state)
{
	static const char path[] = "/a \"quoted\" \\dir/tab\there/nl\nbell\acr\rdel\x7f/\x1f";
	struct mcg_event event = sample_event();
	char buf[1024];
	json_object *obj;

	(void)state;
	memcpy(event.comm, "q\"b\\c\x01\x1f\b\f\n\r\t/", 14);
	event.comm[14] = '\0';
	obj = write_and_parse(&event, path, path);
	assert_string_equal(get_string(obj, "comm"), "q\"b\\c\x01\x1f\b\f\n\r\t/");
	assert_string_equal(get_string(obj, "cgroup"), path);
	assert_string_equal(get_string(obj, "guard_cgroup"), path);
	json_object_put(obj);

	mcg_event_json_write(&event, SAMPLE_WALL_NS, path, NULL, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\"comm\":\"q\\\"b\\\\c\\u0001\\u001f\\b\\f\\n\\r\\t/\""));
	assert_non_null(strstr(buf, "\\\"quoted\\\" \\\\dir/tab\\there"));
	/* No raw control byte reaches the line. */
	for (const char *c = buf; *c; c++)
		assert_true((unsigned char)*c >= 0x20);
}

static void test_writer_high_bytes(void **state)
{
	/* Valid UTF-8 of 2, 3 and 4 bytes, then invalid bytes and a cut sequence. */
	static const char path[] = "/caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x93\xa7/\xff\xc0\xaf/\xed\xa0\x80/\xe2\x82";
	static const char path_parsed[] = "/caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x93\xa7/"
					  "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd/"
					  "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd/"
					  "\xef\xbf\xbd\xef\xbf\xbd";
	struct mcg_event event = sample_event();
	char buf[1024];
	json_object *obj;

	(void)state;
	memcpy(event.comm, "\x80\xfe\xc3\xa9-caf\xc3\xa9-\xf4\x90\x80\x80", 16);
	obj = write_and_parse(&event, path, NULL);
	assert_string_equal(get_string(obj, "comm"), "\xef\xbf\xbd\xef\xbf\xbd\xc3\xa9-caf\xc3\xa9-"
						    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	assert_string_equal(get_string(obj, "cgroup"), path_parsed);
	json_object_put(obj);

	mcg_event_json_write(&event, SAMPLE_WALL_NS, path, NULL, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\"comm\":\"\\ufffd\\ufffd\xc3\xa9-caf\xc3\xa9-\\ufffd"));
	assert_non_null(strstr(buf, "/\xf0\x9f\x93\xa7/\\ufffd\\ufffd\\ufffd/"));
	/* The line is valid UTF-8, which json-c checks when asked to. */
	{
		json_tokener *tokener = json_tokener_new();

		json_tokener_set_flags(tokener, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
		obj = json_tokener_parse_ex(tokener, buf, strlen(buf));
		assert_non_null(obj);
		assert_int_equal(json_tokener_get_error(tokener), json_tokener_success);
		json_object_put(obj);
		json_tokener_free(tokener);
	}
}

static void test_writer_small_buffer(void **state)
{
	struct mcg_event event = sample_event();
	char full[1024], small[64 + 8];
	size_t len, cut;

	(void)state;
	len = mcg_event_json_write(&event, SAMPLE_WALL_NS, "/mcguard/run-1", "/mcguard", full,
				   sizeof(full));
	for (size_t size = 0; size <= 64; size++) {
		memset(small, 'X', sizeof(small));
		cut = mcg_event_json_write(&event, SAMPLE_WALL_NS, "/mcguard/run-1", "/mcguard",
					   small, size);
		assert_int_equal(cut, len);
		/* Nothing past size is touched, and what is stored is a terminated prefix. */
		for (size_t i = size; i < sizeof(small); i++)
			assert_int_equal(small[i], 'X');
		if (size) {
			assert_true(strlen(small) < size);
			assert_memory_equal(small, full, strlen(small));
		}
	}
}

/* Deterministic xorshift64, so a failing case can be replayed. */
static unsigned long long next_random(unsigned long long *seed)
{
	*seed ^= *seed << 13;
	*seed ^= *seed >> 7;
	*seed ^= *seed << 17;
	return *seed;
}

/* Random valid UTF-8 text with every kind of escape, as json-c copies valid text unchanged. */
static void random_text(unsigned long long *seed, char *text, size_t max)
{
	static const char *const pieces[] = {
		"a", "Z", "/", "-", " ", "\"", "\\", "\x01", "\x1f", "\b", "\f", "\n", "\r",
		"\t", "\x7f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x93\xa7", "0", "~",
	};
	size_t len = 0, count = next_random(seed) % (max / 4);

	for (size_t i = 0; i < count; i++) {
		const char *piece = pieces[next_random(seed) % (sizeof(pieces) / sizeof(pieces[0]))];

		memcpy(text + len, piece, strlen(piece));
		len += strlen(piece);
	}
	text[len] = '\0';
}

static void random_event(unsigned long long *seed, struct mcg_event *event, char *comm_text)
{
	static const __u8 protocols[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6,
					  IPPROTO_SCTP, 0, 41, 255 };

	memset(event, 0, sizeof(*event));
	event->version = MCG_EVENT_VERSION;
	event->hook = next_random(seed) % (MCG_HOOK_COUNT + 2);
	event->verdict = next_random(seed) % (MCG_VERDICT_COUNT + 2);
	event->family = next_random(seed) % 3 ? MCG_FAMILY_IPV4 : MCG_FAMILY_IPV6;
	event->protocol = protocols[next_random(seed) % sizeof(protocols)];
	event->port = next_random(seed);
	event->pid = next_random(seed) >> (next_random(seed) % 64);
	event->uid = next_random(seed) >> (next_random(seed) % 64);
	event->cgroup_id = next_random(seed) >> (next_random(seed) % 64);
	event->guard_cgroup_id = next_random(seed) >> (next_random(seed) % 64);
	for (size_t i = 0; i < sizeof(event->addr); i++) {
		event->addr[i] = next_random(seed) % 4 ? 0 : next_random(seed);
		event->new_addr[i] = next_random(seed) % 4 ? 0 : next_random(seed);
	}
	/* comm has room for 16 bytes, so cut the text at a character boundary. */
	random_text(seed, comm_text, 64);
	while (strlen(comm_text) > MCG_COMM_LEN) {
		size_t len = strlen(comm_text) - 1;

		while (len && ((unsigned char)comm_text[len] & 0xc0) == 0x80)
			len--;
		comm_text[len] = '\0';
	}
	memcpy(event->comm, comm_text, strnlen(comm_text, MCG_COMM_LEN));
}

static void test_writer_matches_json_c(void **state)
{
	unsigned long long seed = 0x9e3779b97f4a7c15ull;
	char cgroup[512], guard[512], comm_text[80], buf[8192];

	(void)state;
	for (int i = 0; i < 20000; i++) {
		unsigned long long wall_ns = next_random(&seed) >> (next_random(&seed) % 8);
		struct mcg_event event;
		const char *cg, *guard_cg;
		char *expected;

		random_event(&seed, &event, comm_text);
		random_text(&seed, cgroup, sizeof(cgroup));
		random_text(&seed, guard, sizeof(guard));
		cg = next_random(&seed) % 5 ? cgroup : NULL;
		guard_cg = next_random(&seed) % 5 ? guard : NULL;
		expected = json_c_text(mcg_event_json(&event, wall_ns, cg, guard_cg));
		mcg_event_json_write(&event, wall_ns, cg, guard_cg, buf, sizeof(buf));
		if (strcmp(buf, expected))
			fail_msg("case %d differs from json-c:\n  json-c: %s\n  writer: %s", i,
				 expected, buf);
		free(expected);
	}
}

/* The text line as mcg_event_text() formatted it with snprintf() before. */
static int reference_text(const struct mcg_event *event, unsigned long long wall_ns,
			  const char *cgroup, char *buf, size_t size)
{
	char time[40], endpoint[INET6_ADDRSTRLEN + 16], protocol[8], comm[MCG_COMM_LEN + 1];
	char target[INET6_ADDRSTRLEN + 4] = "";

	memcpy(comm, event->comm, MCG_COMM_LEN);
	comm[MCG_COMM_LEN] = '\0';
	mcg_format_endpoint(event->family, event->addr, event->port, endpoint, sizeof(endpoint));
	if (event->verdict == MCG_VERDICT_REWRITTEN) {
		char address[INET6_ADDRSTRLEN];

		snprintf(target, sizeof(target), "->%s",
			 mcg_format_addr(event->family, event->new_addr, address, sizeof(address)));
		strncat(endpoint, target, sizeof(endpoint) - strlen(endpoint) - 1);
	}
	return snprintf(buf, size, "%-27s %-9s %-10s %-5s %-46s %6u %-16s %s",
			mcg_format_time(wall_ns, time, sizeof(time)), mcg_hook_name(event->hook),
			mcg_verdict_name(event->verdict),
			mcg_protocol_name(event->protocol, protocol, sizeof(protocol)), endpoint,
			event->pid, comm, cgroup ? cgroup : "?");
}

static void test_event_text_matches_snprintf(void **state)
{
	static const size_t sizes[] = { 512, 0, 1, 27, 100, 180 };
	unsigned long long seed = 0x2545f4914f6cdd1dull;
	char cgroup[700], comm_text[80], expected[1024], line[1024];

	(void)state;
	for (int i = 0; i < 20000; i++) {
		size_t size = sizes[i % (sizeof(sizes) / sizeof(sizes[0]))];
		unsigned long long wall_ns = next_random(&seed);
		struct mcg_event event;
		const char *cg;
		int expected_len, len;

		random_event(&seed, &event, comm_text);
		random_text(&seed, cgroup, sizeof(cgroup));
		cg = next_random(&seed) % 5 ? cgroup : NULL;
		memset(expected, 'X', sizeof(expected));
		memset(line, 'X', sizeof(line));
		expected_len = reference_text(&event, wall_ns, cg, expected, size);
		len = mcg_event_text(&event, wall_ns, cg, line, size);
		assert_int_equal(len, expected_len);
		if (memcmp(line, expected, sizeof(line)))
			fail_msg("case %d (size %zu) differs from snprintf:\n  snprintf: %.*s\n  text:     %.*s",
				 i, size, (int)size, expected, (int)size, line);
	}
}

static size_t describe_pod(void *context, const struct mcg_event *event, bool json, char *out,
			   size_t size)
{
	const char *name = context;
	struct mcg_out members = { .buf = out, .size = size };

	(void)event;
	if (!json)
		return snprintf(out, size, " pod=%s", name);
	mcg_out_append(&members, ",\"kubernetes\":{\"pod\":", 21);
	mcg_json_append_string(&members, name, strlen(name));
	mcg_out_append(&members, ",\"container\":null}", 18);
	return mcg_out_finish(&members);
}

static void test_event_line_describe(void **state)
{
	struct mcg_event event = sample_event();
	struct mcg_line line = { 0 };
	json_object *obj, *kubernetes, *value;
	char long_name[3000];
	ssize_t len;

	(void)state;
	len = mcg_event_json_line(&line, &event, SAMPLE_WALL_NS, "/a", "/b", NULL, NULL);
	assert_true(len > 0);
	assert_int_equal(line.buf[len - 1], '\n');
	assert_int_equal(line.buf[len], '\0');
	assert_int_equal(strchr(line.buf, '\n') - line.buf, len - 1);

	len = mcg_event_json_line(&line, &event, SAMPLE_WALL_NS, "/a", "/b", describe_pod,
				  "web-\"1\"");
	assert_int_equal(line.buf[len - 1], '\n');
	obj = parse_line(line.buf);
	assert_int_equal(json_object_object_length(obj), 18);
	assert_string_equal(get_string(obj, "guard_cgroup"), "/b");
	assert_true(json_object_object_get_ex(obj, "kubernetes", &kubernetes));
	assert_string_equal(get_string(kubernetes, "pod"), "web-\"1\"");
	assert_true(json_object_object_get_ex(kubernetes, "container", &value));
	assert_null(value);
	json_object_put(obj);

	/* Members longer than the first buffer make it grow. */
	memset(long_name, 'p', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	len = mcg_event_json_line(&line, &event, SAMPLE_WALL_NS, "/a", "/b", describe_pod,
				  long_name);
	assert_true(len > 3000);
	obj = parse_line(line.buf);
	assert_true(json_object_object_get_ex(obj, "kubernetes", &kubernetes));
	assert_string_equal(get_string(kubernetes, "pod"), long_name);
	json_object_put(obj);
	free(line.buf);
}

static void test_event_line_long_paths(void **state)
{
	struct mcg_event event = sample_event();
	struct mcg_line line = { 0 };
	char path[4096];
	json_object *obj;
	ssize_t len;

	(void)state;
	/* A path of PATH_MAX - 1 bytes, all escaped, takes six times its length in the line. */
	memset(path, '\x01', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	len = mcg_event_json_line(&line, &event, SAMPLE_WALL_NS, path, path, NULL, NULL);
	assert_true(len > 2 * 6 * 4000);
	obj = parse_line(line.buf);
	assert_string_equal(get_string(obj, "cgroup"), path);
	assert_string_equal(get_string(obj, "guard_cgroup"), path);
	json_object_put(obj);
	free(line.buf);
}

static void test_guard_count_lines(void **state)
{
	static const char *const guards[] = { "/mcguard/run-1", "/we\"ird\\\x01", NULL };
	char buf[512];

	(void)state;
	for (size_t i = 0; i < sizeof(guards) / sizeof(guards[0]); i++) {
		json_object *obj = json_object_new_object();
		char *expected;

		/* The json-c object that the "dropped" line was built from. */
		json_object_object_add(obj, "schema", json_object_new_int(MCG_JSON_SCHEMA));
		json_object_object_add(obj, "type", json_object_new_string("dropped"));
		json_object_object_add(obj, "time",
				       json_object_new_string("2026-12-04T20:31:02.123456Z"));
		json_object_object_add(obj, "guard_cgroup",
				       guards[i] ? json_object_new_string(guards[i]) : NULL);
		json_object_object_add(obj, "guard_cgroup_id", json_object_new_uint64(76));
		json_object_object_add(obj, "hook",
				       json_object_new_string(mcg_hook_name(MCG_HOOK_SENDMSG6)));
		json_object_object_add(obj, "dropped",
				       json_object_new_uint64(18446744073709551615ull));
		expected = json_c_text(obj);
		mcg_guard_count_json_write("dropped", "2026-12-04T20:31:02.123456Z", guards[i], 76,
					   MCG_HOOK_SENDMSG6, "dropped", 18446744073709551615ull,
					   buf, sizeof(buf));
		assert_string_equal(buf, expected);
		free(expected);
	}
	mcg_guard_count_json_write("folded", "2026-12-04T20:31:02.123456Z", NULL, 5, MCG_HOOK_COUNT,
				   "repeats", 3, buf, sizeof(buf));
	assert_string_equal(buf, "{\"schema\":1,\"type\":\"folded\",\"time\":\"2026-12-04T20:31:02.123456Z\","
				 "\"guard_cgroup\":null,\"guard_cgroup_id\":5,\"hook\":\"unknown\",\"repeats\":3}");
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
		cmocka_unit_test(test_writer_fields),
		cmocka_unit_test(test_writer_denied_ipv4_null_cgroups),
		cmocka_unit_test(test_writer_rewritten_ipv4),
		cmocka_unit_test(test_writer_escapes_ascii),
		cmocka_unit_test(test_writer_high_bytes),
		cmocka_unit_test(test_writer_small_buffer),
		cmocka_unit_test(test_writer_matches_json_c),
		cmocka_unit_test(test_event_text_matches_snprintf),
		cmocka_unit_test(test_event_line_describe),
		cmocka_unit_test(test_event_line_long_paths),
		cmocka_unit_test(test_guard_count_lines),
		cmocka_unit_test(test_format_time_cached),
		cmocka_unit_test(test_format_addr_ipv4),
		cmocka_unit_test(test_names_cover_enums),
		cmocka_unit_test(test_policy_words),
		cmocka_unit_test(test_policy_rule_limit),
	};

	return cmocka_run_group_tests_name("event and policy formatting", tests, NULL, NULL);
}
