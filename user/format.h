/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Names of hooks, verdicts and counters, and the text and JSON forms of events. */
#ifndef MCG_FORMAT_H
#define MCG_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/types.h>
#include <json-c/json.h>
#include "mcguard.h"

/* Version of every JSON document mcguard prints: events, drops and status. */
#define MCG_JSON_SCHEMA 1

const char *mcg_hook_name(unsigned int hook);
const char *mcg_verdict_name(unsigned int verdict);
const char *mcg_counter_name(unsigned int counter);
/* A hook by name, or -1. */
int mcg_hook_from_name(const char *name);

/* "tcp", "udp", "icmp", ... or the number as text in buf. */
const char *mcg_protocol_name(unsigned int protocol, char *buf, size_t size);

/* RFC 3339 UTC with microseconds: "2026-12-04T20:31:02.123456Z". */
char *mcg_format_time(unsigned long long wall_ns, char *buf, size_t size);

/* An address without port in its usual notation; family is MCG_FAMILY_*. */
char *mcg_format_addr(unsigned int family, const __u8 addr[16], char *buf, size_t size);

/* "192.0.2.1:25" or "[2001:db8::1]:25". */
char *mcg_format_endpoint(unsigned int family, const __u8 addr[16], unsigned int port,
			  char *buf, size_t size);

/*
 * The JSON object of one event. wall_ns is the event time on the realtime
 * clock; cgroup and guard_cgroup are paths below the cgroup2 mount, or NULL
 * when unknown. The caller puts the object.
 */
json_object *mcg_event_json(const struct mcg_event *event, unsigned long long wall_ns,
			    const char *cgroup, const char *guard_cgroup);

/*
 * Output into buf[size] that is cut to fit as snprintf() cuts it: len
 * counts the whole text, and buf keeps a NUL-terminated prefix of it (all of
 * it when it fits), so a length >= size means "retry with a larger buffer".
 * The event writers below use it for JSON and text lines, which cannot
 * afford json-c's objects or a format string per event.
 */
struct mcg_out {
	char *buf;
	size_t size;
	size_t len; /* length of the whole output so far, which may exceed size - 1 */
};

/* The part of mcg_out_append() for a piece that does not fit whole. */
void mcg_out_append_cut(struct mcg_out *out, const char *text, size_t length);

/* Inline so that the pieces of constant length that make up a line are copied without a call. */
static inline void mcg_out_append(struct mcg_out *out, const char *text, size_t length)
{
	if (out->len + length < out->size) {
		memcpy(out->buf + out->len, text, length);
		out->len += length;
		return;
	}
	mcg_out_append_cut(out, text, length);
}

void mcg_out_append_u64(struct mcg_out *out, unsigned long long value);
/* Terminate the output with a NUL and return its length, as snprintf() does. */
size_t mcg_out_finish(struct mcg_out *out);

/*
 * Append a quoted and escaped JSON string of value[length], or null when
 * value is NULL. A string that does not fit is left out whole. The JSON
 * writers print byte for byte what json-c 0.16 prints with
 * JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE for the same
 * members, except for bytes that are not valid UTF-8, which become \ufffd.
 */
void mcg_json_append_string(struct mcg_out *out, const char *value, size_t length);

/*
 * The members that a caller adds to an event's JSON object: a fragment such
 * as ',"kubernetes":{...}' that starts with a comma, written into out, or
 * text for the end of a text line when json is false. Returns the length of
 * the whole fragment, as snprintf() does, or 0 to add nothing.
 */
typedef size_t (*mcg_event_describe_fn)(void *context, const struct mcg_event *event, bool json,
					 char *out, size_t size);

/*
 * The JSON object of one event as text, with the members and order of
 * mcg_event_json(), and without a newline.
 */
size_t mcg_event_json_write(const struct mcg_event *event, unsigned long long wall_ns,
			    const char *cgroup, const char *guard_cgroup, char *buf, size_t size);

/* A growable line buffer for mcg_event_json_line(). */
struct mcg_line {
	char *buf;
	size_t size;
};

/* Grow line->buf to at least size bytes. Returns 0 or -ENOMEM. */
int mcg_line_reserve(struct mcg_line *line, size_t size);

/*
 * One JSON line of an event as 'mcguard events --json' prints it: the
 * object of mcg_event_json_write(), the members that describe adds (when
 * not NULL) and a newline, in line->buf, which grows as needed. Returns
 * the length, or -ENOMEM.
 */
ssize_t mcg_event_json_line(struct mcg_line *line, const struct mcg_event *event,
			    unsigned long long wall_ns, const char *cgroup,
			    const char *guard_cgroup, mcg_event_describe_fn describe,
			    void *describe_context);

/*
 * The JSON object of a per-guard count line: "dropped" lines with member
 * "dropped", "folded" lines with member "repeats". guard is NULL when its
 * path is unknown.
 */
size_t mcg_guard_count_json_write(const char *type, const char *time, const char *guard,
				  __u64 guard_id, unsigned int hook, const char *count_key,
				  unsigned long long count, char *buf, size_t size);

/* Column header and one aligned line of the text form. */
#define MCG_EVENT_TEXT_HEADER                                                  \
	"TIME                        HOOK      VERDICT    PROTO ADDRESS                                        PID COMM             CGROUP"
int mcg_event_text(const struct mcg_event *event, unsigned long long wall_ns,
		   const char *cgroup, char *buf, size_t size);

#endif
