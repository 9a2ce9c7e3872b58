// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target for the event decoder: any 88 bytes from the ring buffer,
 * whatever their hook, verdict, family or comm, must format as text and JSON.
 * Bytes after the event are a cgroup path. The direct JSON writer's line
 * must parse as JSON and be valid UTF-8, and equal json-c's rendering
 * whenever that is valid UTF-8 too (json-c copies invalid bytes, the writer
 * replaces them).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "format.h"

/*
 * UTF-8 as RFC 3629 defines it, decoded here independently of the writer's
 * check: no overlong forms, no surrogates, nothing above U+10FFFF. json-c's
 * JSON_TOKENER_VALIDATE_UTF8 accepts some overlong forms (0xc1 0x97).
 */
static bool valid_utf8(const unsigned char *s)
{
	static const unsigned int min_code_point[4] = { 0, 0x80, 0x800, 0x10000 };

	while (*s) {
		unsigned int code_point, continuation;

		if (*s < 0x80) {
			s++;
			continue;
		}
		if ((*s & 0xe0) == 0xc0) {
			code_point = *s & 0x1f;
			continuation = 1;
		} else if ((*s & 0xf0) == 0xe0) {
			code_point = *s & 0x0f;
			continuation = 2;
		} else if ((*s & 0xf8) == 0xf0) {
			code_point = *s & 0x07;
			continuation = 3;
		} else {
			return false;
		}
		for (unsigned int i = 1; i <= continuation; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			code_point = code_point << 6 | (s[i] & 0x3f);
		}
		if (code_point < min_code_point[continuation] || code_point > 0x10ffff ||
		    (code_point >= 0xd800 && code_point <= 0xdfff))
			return false;
		s += continuation + 1;
	}
	return true;
}

/* Parse text as strict JSON that must be valid UTF-8. Returns NULL when it is not. */
static json_object *parse_strict(const char *text)
{
	json_tokener *tokener = json_tokener_new();
	json_object *obj;

	if (!tokener)
		abort();
	json_tokener_set_flags(tokener, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tokener, text, strlen(text));
	if (obj && json_tokener_get_error(tokener) != json_tokener_success) {
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tokener);
	return obj;
}

static void check_writer(const struct mcg_event *event, const char *path, const char *json_c)
{
	struct mcg_line line = { 0 };
	json_object *written;
	ssize_t len;

	len = mcg_event_json_line(&line, event, event->time_ns, path, "/fuzz", NULL, NULL);
	if (len <= 0 || line.buf[len - 1] != '\n' || memchr(line.buf, '\n', len - 1))
		abort();
	line.buf[len - 1] = '\0';
	written = parse_strict(line.buf);
	if (!written || !valid_utf8((const unsigned char *)line.buf))
		abort();
	if (valid_utf8((const unsigned char *)json_c) && strcmp(line.buf, json_c))
		abort();
	json_object_put(written);
	free(line.buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mcg_event event;
	json_object *obj;
	char line[512], *path;

	if (size < sizeof(event))
		return 0;
	memcpy(&event, data, sizeof(event));
	path = strndup((const char *)data + sizeof(event), size - sizeof(event));
	if (!path)
		return 0;
	mcg_event_text(&event, event.time_ns, path, line, sizeof(line));
	obj = mcg_event_json(&event, event.time_ns, path, "/fuzz");
	if (obj) {
		check_writer(&event, path,
			     json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
								JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(obj);
	}
	free(path);
	return 0;
}
