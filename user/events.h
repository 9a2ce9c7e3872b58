/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The reader of the guards' event ring buffer, shared by "events" and "daemon". */
#ifndef MCG_EVENTS_H
#define MCG_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>
#include <linux/types.h>

#include "format.h"
#include "guard.h"

struct mcg_event_reader;

struct mcg_event_reader_opts {
	bool json;
	__u64 filter_id; /* only this guard or cgroup; 0 for all */
	bool fold;       /* fold repeats of one event per guard within a second */
	const char *line_prefix; /* before every line, as a journal priority "<5>"; NULL for none */
	/*
	 * Optional: add the caller's details about an event's guard, as members
	 * of its JSON object, or as text for the end of its line.
	 */
	mcg_event_describe_fn describe;
	void *describe_context;
};

/*
 * Open the ring buffer of state as its single reader. Fails when another
 * reader has it open. Logs its own errors; returns NULL with errno set.
 */
struct mcg_event_reader *mcg_event_reader_new(struct mcg_state *state,
					      const struct mcg_event_reader_opts *opts);

/* A descriptor that becomes readable when the kernel wakes the reader. */
int mcg_event_reader_fd(struct mcg_event_reader *reader);

/*
 * Print every event in the ring, report dropped-event counters that grew
 * (at most once a second) and flush folded repeats. Returns 0 or -errno.
 */
int mcg_event_reader_drain(struct mcg_event_reader *reader);

void mcg_event_reader_free(struct mcg_event_reader *reader);

#endif
