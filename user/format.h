/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Names of hooks, verdicts and counters, and the text and JSON forms of events. */
#ifndef MCG_FORMAT_H
#define MCG_FORMAT_H

#include <stddef.h>
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

/* Column header and one aligned line of the text form. */
#define MCG_EVENT_TEXT_HEADER                                                  \
	"TIME                        HOOK      VERDICT    PROTO ADDRESS                                        PID COMM             CGROUP"
int mcg_event_text(const struct mcg_event *event, unsigned long long wall_ns,
		   const char *cgroup, char *buf, size_t size);

#endif
