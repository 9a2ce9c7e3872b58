// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target for the event decoder: any 88 bytes from the ring buffer,
 * whatever their hook, verdict, family or comm, must format as text and JSON.
 */
#include <stdint.h>
#include <string.h>

#include "format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mcg_event event;
	json_object *obj;
	char line[512];

	if (size < sizeof(event))
		return 0;
	memcpy(&event, data, sizeof(event));
	mcg_event_text(&event, event.time_ns, "/fuzz", line, sizeof(line));
	obj = mcg_event_json(&event, event.time_ns, NULL, "/fuzz");
	if (obj) {
		json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
		json_object_put(obj);
	}
	return 0;
}
