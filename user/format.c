// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format.h"

#define MCG_NAME_ENTRY(id, name) [id] = name,

static const char *const hook_names[] = { MCG_HOOK_LIST(MCG_NAME_ENTRY) };
static const char *const verdict_names[] = { MCG_VERDICT_LIST(MCG_NAME_ENTRY) };
static const char *const counter_names[] = { MCG_COUNTER_LIST(MCG_NAME_ENTRY) };

const char *mcg_hook_name(unsigned int hook)
{
	return hook < MCG_HOOK_COUNT ? hook_names[hook] : "unknown";
}

const char *mcg_verdict_name(unsigned int verdict)
{
	return verdict < MCG_VERDICT_COUNT ? verdict_names[verdict] : "unknown";
}

const char *mcg_counter_name(unsigned int counter)
{
	return counter < MCG_COUNTER_COUNT ? counter_names[counter] : "unknown";
}

int mcg_hook_from_name(const char *name)
{
	for (int i = 0; i < MCG_HOOK_COUNT; i++)
		if (!strcmp(name, hook_names[i]))
			return i;
	return -1;
}

const char *mcg_protocol_name(unsigned int protocol, char *buf, size_t size)
{
	switch (protocol) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmpv6";
	case IPPROTO_SCTP:
		return "sctp";
	default:
		snprintf(buf, size, "%u", protocol);
		return buf;
	}
}

char *mcg_format_time(unsigned long long wall_ns, char *buf, size_t size)
{
	/*
	 * A stream has many events per second, so each thread keeps the date and
	 * time of the last second it formatted instead of calling gmtime_r() and
	 * strftime() for every event.
	 */
	static __thread unsigned long long cached_second = ~0ull;
	static __thread char date[32];
	static __thread size_t date_len;
	unsigned long long second = wall_ns / 1000000000ull;
	unsigned long micros = (wall_ns % 1000000000ull) / 1000;
	char text[sizeof(date) + 8];
	size_t len;

	if (second != cached_second) {
		time_t seconds = second;
		struct tm tm = { 0 };

		gmtime_r(&seconds, &tm);
		date_len = strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
		cached_second = second;
	}
	memcpy(text, date, date_len);
	len = date_len;
	text[len++] = '.';
	for (int i = 5; i >= 0; i--) {
		text[len + i] = '0' + micros % 10;
		micros /= 10;
	}
	len += 6;
	text[len++] = 'Z';

	if (!size)
		return buf;
	if (len >= size)
		len = size - 1;
	memcpy(buf, text, len);
	buf[len] = '\0';
	return buf;
}

/* Dotted decimal, as inet_ntop() writes it but without its sprintf(); buf has room for 16 bytes. */
static void format_ipv4(const __u8 addr[4], char *buf)
{
	size_t len = 0;

	for (int i = 0; i < 4; i++) {
		unsigned int byte = addr[i];

		if (byte >= 100) {
			buf[len++] = '0' + byte / 100;
			byte %= 100;
			buf[len++] = '0' + byte / 10;
		} else if (byte >= 10) {
			buf[len++] = '0' + byte / 10;
		}
		buf[len++] = '0' + byte % 10;
		buf[len++] = i < 3 ? '.' : '\0';
	}
}

char *mcg_format_addr(unsigned int family, const __u8 addr[16], char *buf, size_t size)
{
	if (family != MCG_FAMILY_IPV6 && size >= INET_ADDRSTRLEN) {
		format_ipv4(addr, buf);
		return buf;
	}
	if (!inet_ntop(family == MCG_FAMILY_IPV6 ? AF_INET6 : AF_INET, addr, buf, size))
		snprintf(buf, size, "?");
	return buf;
}

char *mcg_format_endpoint(unsigned int family, const __u8 addr[16], unsigned int port,
			  char *buf, size_t size)
{
	char address[INET6_ADDRSTRLEN];

	mcg_format_addr(family, addr, address, sizeof(address));
	if (family == MCG_FAMILY_IPV6)
		snprintf(buf, size, "[%s]:%u", address, port);
	else
		snprintf(buf, size, "%s:%u", address, port);
	return buf;
}

static void json_add_string(json_object *obj, const char *key, const char *value)
{
	json_object_object_add(obj, key, value ? json_object_new_string(value) : NULL);
}

json_object *mcg_event_json(const struct mcg_event *event, unsigned long long wall_ns,
			    const char *cgroup, const char *guard_cgroup)
{
	char time[40], address[INET6_ADDRSTRLEN], protocol[8], comm[MCG_COMM_LEN + 1];
	json_object *obj = json_object_new_object();

	if (!obj)
		return NULL;

	/* comm is NUL-padded by the kernel, but a full 16 bytes has no NUL. */
	memcpy(comm, event->comm, MCG_COMM_LEN);
	comm[MCG_COMM_LEN] = '\0';

	json_object_object_add(obj, "schema", json_object_new_int(MCG_JSON_SCHEMA));
	json_add_string(obj, "type", "event");
	json_add_string(obj, "time", mcg_format_time(wall_ns, time, sizeof(time)));
	json_add_string(obj, "hook", mcg_hook_name(event->hook));
	json_add_string(obj, "verdict", mcg_verdict_name(event->verdict));
	json_add_string(obj, "family", event->family == MCG_FAMILY_IPV6 ? "ipv6" : "ipv4");
	json_add_string(obj, "protocol",
			mcg_protocol_name(event->protocol, protocol, sizeof(protocol)));
	json_add_string(obj, "address",
			mcg_format_addr(event->family, event->addr, address, sizeof(address)));
	json_object_object_add(obj, "port", json_object_new_int(event->port));
	if (event->verdict == MCG_VERDICT_REWRITTEN)
		json_add_string(obj, "new_address",
				mcg_format_addr(event->family, event->new_addr, address,
						sizeof(address)));
	json_object_object_add(obj, "pid", json_object_new_int64(event->pid));
	json_add_string(obj, "comm", comm);
	json_object_object_add(obj, "uid", json_object_new_int64(event->uid));
	json_add_string(obj, "cgroup", cgroup);
	json_object_object_add(obj, "cgroup_id", json_object_new_uint64(event->cgroup_id));
	json_add_string(obj, "guard_cgroup", guard_cgroup);
	json_object_object_add(obj, "guard_cgroup_id",
			       json_object_new_uint64(event->guard_cgroup_id));
	return obj;
}

#define STRINGIFY_VALUE(x) STRINGIFY(x)
#define STRINGIFY(x) #x
#define APPEND_LITERAL(out, text) mcg_out_append(out, text, sizeof(text) - 1)

void mcg_out_append_cut(struct mcg_out *out, const char *text, size_t length)
{
	size_t room = out->len + 1 < out->size ? out->size - 1 - out->len : 0;

	if (room)
		memcpy(out->buf + out->len, text, room);
	out->len += length;
}

size_t mcg_out_finish(struct mcg_out *out)
{
	if (out->size)
		out->buf[out->len < out->size ? out->len : out->size - 1] = '\0';
	return out->len;
}

/* Write the decimal digits of value at the end of digits[20] and return where they start. */
static char *decimal(unsigned long long value, char digits[20])
{
	char *start = digits + 20;

	do {
		*--start = '0' + value % 10;
		value /= 10;
	} while (value);
	return start;
}

void mcg_out_append_u64(struct mcg_out *out, unsigned long long value)
{
	char digits[20], *start = decimal(value, digits);

	mcg_out_append(out, start, digits + sizeof(digits) - start);
}

/*
 * Bytes that a JSON string cannot hold as they are (RFC 8259 section 7:
 * '"', '\\' and the control characters 0x00 to 0x1f), and the bytes 0x80
 * and above, which must start a valid UTF-8 sequence.
 */
static const unsigned char json_special[256] = {
	[0x00 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xff] = 1,
};

/* The length of the valid UTF-8 sequence at s (RFC 3629 section 4), or 0. */
static size_t utf8_sequence_length(const unsigned char *s, size_t left)
{
	unsigned char low = 0x80, high = 0xbf;
	size_t continuation;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		continuation = 1;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		continuation = 2;
		if (s[0] == 0xe0)
			low = 0xa0; /* no overlong forms */
		else if (s[0] == 0xed)
			high = 0x9f; /* no UTF-16 surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		continuation = 3;
		if (s[0] == 0xf0)
			low = 0x90; /* no overlong forms */
		else if (s[0] == 0xf4)
			high = 0x8f; /* nothing above U+10FFFF */
	} else {
		return 0;
	}
	if (continuation >= left || s[1] < low || s[1] > high)
		return 0;
	for (size_t i = 2; i <= continuation; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return continuation + 1;
}

/*
 * Escape s[length] for the inside of a JSON string into dst, or only count
 * when dst is NULL. Returns the length of the escaped text, at most
 * 6 * length. Escapes as json-c 0.16 does: \" \\ \b \f \n \r \t, and \u00xx
 * for the other control characters; '/' and 0x7f stay as they are.
 *
 * Bytes 0x80 and above: comm and cgroup names are arbitrary bytes from the
 * kernel, and json-c copies them unchanged. That can make a line that is
 * not UTF-8 and so not valid JSON (RFC 8259 section 8.1), which strict
 * parsers such as Python's reject. Here valid UTF-8 sequences are copied
 * unchanged, as json-c does, and every byte that does not belong to one
 * becomes U+FFFD (written as \ufffd), as a UTF-8 decoder in "replace" mode
 * does. Such a name loses its raw byte, which shows as a replacement
 * character.
 */
static size_t escape_string(char *dst, const unsigned char *s, size_t length)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0, len = 0;

	while (i < length) {
		size_t start = i, sequence;
		char escape[6] = { '\\' };
		size_t escape_len = 2;

		while (i < length && !json_special[s[i]])
			i++;
		if (dst)
			memcpy(dst + len, s + start, i - start);
		len += i - start;
		if (i == length)
			break;

		if (s[i] >= 0x80) {
			sequence = utf8_sequence_length(s + i, length - i);
			if (sequence) {
				if (dst)
					memcpy(dst + len, s + i, sequence);
				len += sequence;
				i += sequence;
				continue;
			}
			memcpy(escape, "\\ufffd", 6);
			escape_len = 6;
		} else {
			switch (s[i]) {
			case '"':
			case '\\':
				escape[1] = s[i];
				break;
			case '\b':
				escape[1] = 'b';
				break;
			case '\f':
				escape[1] = 'f';
				break;
			case '\n':
				escape[1] = 'n';
				break;
			case '\r':
				escape[1] = 'r';
				break;
			case '\t':
				escape[1] = 't';
				break;
			default:
				memcpy(escape, "\\u00", 4);
				escape[4] = hex[s[i] >> 4];
				escape[5] = hex[s[i] & 0xf];
				escape_len = 6;
			}
		}
		if (dst)
			memcpy(dst + len, escape, escape_len);
		len += escape_len;
		i++;
	}
	return len;
}

void mcg_json_append_string(struct mcg_out *out, const char *value, size_t length)
{
	const unsigned char *bytes = (const unsigned char *)value;
	size_t escaped;

	if (!value) {
		APPEND_LITERAL(out, "null");
		return;
	}
	/* Write straight into buf when even the longest escaping fits. Otherwise count first. */
	if (out->len + 2 + 6 * length < out->size) {
		escaped = escape_string(out->buf + out->len + 1, bytes, length);
	} else {
		escaped = escape_string(NULL, bytes, length);
		if (out->len + 2 + escaped < out->size)
			escape_string(out->buf + out->len + 1, bytes, length);
	}
	if (out->len + 2 + escaped < out->size) {
		out->buf[out->len] = '"';
		out->buf[out->len + 1 + escaped] = '"';
	} else {
		/* A string that does not fit is left out whole. Counting it leaves no room after it. */
		mcg_out_finish(out);
	}
	out->len += 2 + escaped;
}

static void append_c_string(struct mcg_out *out, const char *value)
{
	mcg_json_append_string(out, value, value ? strlen(value) : 0);
}

/* For the names of mcguard's own tables and protocol numbers, which need no escaping. */
static void append_name(struct mcg_out *out, const char *name)
{
	mcg_out_append(out, name, strlen(name));
}

size_t mcg_event_json_write(const struct mcg_event *event, unsigned long long wall_ns,
			    const char *cgroup, const char *guard_cgroup, char *buf, size_t size)
{
	struct mcg_out out = { .buf = buf, .size = size };
	char time[40], address[INET6_ADDRSTRLEN], protocol[8];
	bool ipv6 = event->family == MCG_FAMILY_IPV6;

	APPEND_LITERAL(&out, "{\"schema\":" STRINGIFY_VALUE(MCG_JSON_SCHEMA)
			     ",\"type\":\"event\",\"time\":\"");
	append_name(&out, mcg_format_time(wall_ns, time, sizeof(time)));
	APPEND_LITERAL(&out, "\",\"hook\":\"");
	append_name(&out, mcg_hook_name(event->hook));
	APPEND_LITERAL(&out, "\",\"verdict\":\"");
	append_name(&out, mcg_verdict_name(event->verdict));
	if (ipv6)
		APPEND_LITERAL(&out, "\",\"family\":\"ipv6\",\"protocol\":\"");
	else
		APPEND_LITERAL(&out, "\",\"family\":\"ipv4\",\"protocol\":\"");
	append_name(&out, mcg_protocol_name(event->protocol, protocol, sizeof(protocol)));
	APPEND_LITERAL(&out, "\",\"address\":\"");
	append_name(&out, mcg_format_addr(event->family, event->addr, address, sizeof(address)));
	APPEND_LITERAL(&out, "\",\"port\":");
	mcg_out_append_u64(&out, event->port);
	if (event->verdict == MCG_VERDICT_REWRITTEN) {
		APPEND_LITERAL(&out, ",\"new_address\":\"");
		append_name(&out, mcg_format_addr(event->family, event->new_addr, address,
						  sizeof(address)));
		APPEND_LITERAL(&out, "\"");
	}
	APPEND_LITERAL(&out, ",\"pid\":");
	mcg_out_append_u64(&out, event->pid);
	APPEND_LITERAL(&out, ",\"comm\":");
	/* comm is NUL-padded by the kernel, but a full 16 bytes has no NUL. */
	mcg_json_append_string(&out, event->comm, strnlen(event->comm, MCG_COMM_LEN));
	APPEND_LITERAL(&out, ",\"uid\":");
	mcg_out_append_u64(&out, event->uid);
	APPEND_LITERAL(&out, ",\"cgroup\":");
	append_c_string(&out, cgroup);
	APPEND_LITERAL(&out, ",\"cgroup_id\":");
	mcg_out_append_u64(&out, event->cgroup_id);
	APPEND_LITERAL(&out, ",\"guard_cgroup\":");
	append_c_string(&out, guard_cgroup);
	APPEND_LITERAL(&out, ",\"guard_cgroup_id\":");
	mcg_out_append_u64(&out, event->guard_cgroup_id);
	APPEND_LITERAL(&out, "}");
	return mcg_out_finish(&out);
}

size_t mcg_guard_count_json_write(const char *type, const char *time, const char *guard,
				  __u64 guard_id, unsigned int hook, const char *count_key,
				  unsigned long long count, char *buf, size_t size)
{
	struct mcg_out out = { .buf = buf, .size = size };

	APPEND_LITERAL(&out, "{\"schema\":" STRINGIFY_VALUE(MCG_JSON_SCHEMA) ",\"type\":");
	append_c_string(&out, type);
	APPEND_LITERAL(&out, ",\"time\":");
	append_c_string(&out, time);
	APPEND_LITERAL(&out, ",\"guard_cgroup\":");
	append_c_string(&out, guard);
	APPEND_LITERAL(&out, ",\"guard_cgroup_id\":");
	mcg_out_append_u64(&out, guard_id);
	APPEND_LITERAL(&out, ",\"hook\":");
	append_c_string(&out, mcg_hook_name(hook));
	APPEND_LITERAL(&out, ",");
	append_c_string(&out, count_key);
	APPEND_LITERAL(&out, ":");
	mcg_out_append_u64(&out, count);
	APPEND_LITERAL(&out, "}");
	return mcg_out_finish(&out);
}

int mcg_line_reserve(struct mcg_line *line, size_t size)
{
	char *grown;

	if (size <= line->size)
		return 0;
	grown = realloc(line->buf, size);
	if (!grown)
		return -ENOMEM;
	line->buf = grown;
	line->size = size;
	return 0;
}

ssize_t mcg_event_json_line(struct mcg_line *line, const struct mcg_event *event,
			    unsigned long long wall_ns, const char *cgroup,
			    const char *guard_cgroup, mcg_event_describe_fn describe,
			    void *describe_context)
{
	size_t len, at, extra;

	/* A line is a few hundred bytes, and long cgroup paths grow the buffer. */
	if (mcg_line_reserve(line, 1024))
		return -ENOMEM;
	len = mcg_event_json_write(event, wall_ns, cgroup, guard_cgroup, line->buf, line->size);
	if (len >= line->size) {
		if (mcg_line_reserve(line, len + 1))
			return -ENOMEM;
		mcg_event_json_write(event, wall_ns, cgroup, guard_cgroup, line->buf, line->size);
	}
	if (describe) {
		/* The caller's members replace the closing brace, which then follows them. */
		at = len - 1;
		extra = describe(describe_context, event, true, line->buf + at, line->size - at);
		if (at + extra >= line->size) {
			if (mcg_line_reserve(line, at + extra + 1))
				return -ENOMEM;
			describe(describe_context, event, true, line->buf + at, line->size - at);
		}
		len = at + extra;
		if (mcg_line_reserve(line, len + 1))
			return -ENOMEM;
		line->buf[len++] = '}';
	}
	if (mcg_line_reserve(line, len + 2))
		return -ENOMEM;
	line->buf[len++] = '\n';
	line->buf[len] = '\0';
	return len;
}

/* Append text, then spaces up to width, as "%-*s" does. */
static void append_padded(struct mcg_out *out, const char *text, size_t width)
{
	static const char spaces[] = "                                                ";
	size_t length = strlen(text);

	mcg_out_append(out, text, length);
	for (; length < width; length += sizeof(spaces) - 1)
		mcg_out_append(out, spaces, width - length < sizeof(spaces) - 1 ? width - length :
									       sizeof(spaces) - 1);
}

/*
 * The same line as snprintf(buf, size, "%-27s %-9s %-10s %-5s %-46s %6u %-16s %s", ...)
 * with the endpoint cut to INET6_ADDRSTRLEN + 15 bytes, without the cost of
 * parsing a format for every event.
 */
int mcg_event_text(const struct mcg_event *event, unsigned long long wall_ns,
		   const char *cgroup, char *buf, size_t size)
{
	char time[40], endpoint[INET6_ADDRSTRLEN + 16], protocol[8], comm[MCG_COMM_LEN + 1];
	char address[INET6_ADDRSTRLEN], digits[20], *number;
	struct mcg_out out = { .buf = buf, .size = size };
	struct mcg_out endpoint_out = { .buf = endpoint, .size = sizeof(endpoint) };
	bool ipv6 = event->family == MCG_FAMILY_IPV6;
	size_t length;

	memcpy(comm, event->comm, MCG_COMM_LEN);
	comm[MCG_COMM_LEN] = '\0';

	mcg_format_addr(event->family, event->addr, address, sizeof(address));
	if (ipv6)
		mcg_out_append(&endpoint_out, "[", 1);
	mcg_out_append(&endpoint_out, address, strlen(address));
	if (ipv6)
		mcg_out_append(&endpoint_out, "]", 1);
	mcg_out_append(&endpoint_out, ":", 1);
	number = decimal(event->port, digits);
	mcg_out_append(&endpoint_out, number, digits + sizeof(digits) - number);
	if (event->verdict == MCG_VERDICT_REWRITTEN) {
		mcg_format_addr(event->family, event->new_addr, address, sizeof(address));
		mcg_out_append(&endpoint_out, "->", 2);
		mcg_out_append(&endpoint_out, address, strlen(address));
	}
	mcg_out_finish(&endpoint_out);

	append_padded(&out, mcg_format_time(wall_ns, time, sizeof(time)), 27);
	mcg_out_append(&out, " ", 1);
	append_padded(&out, mcg_hook_name(event->hook), 9);
	mcg_out_append(&out, " ", 1);
	append_padded(&out, mcg_verdict_name(event->verdict), 10);
	mcg_out_append(&out, " ", 1);
	append_padded(&out, mcg_protocol_name(event->protocol, protocol, sizeof(protocol)), 5);
	mcg_out_append(&out, " ", 1);
	append_padded(&out, endpoint, 46);
	mcg_out_append(&out, " ", 1);
	number = decimal(event->pid, digits);
	length = digits + sizeof(digits) - number;
	if (length < 6)
		mcg_out_append(&out, "      ", 6 - length);
	mcg_out_append(&out, number, length);
	mcg_out_append(&out, " ", 1);
	append_padded(&out, comm, 16);
	mcg_out_append(&out, " ", 1);
	append_padded(&out, cgroup ? cgroup : "?", 0);
	return mcg_out_finish(&out);
}
