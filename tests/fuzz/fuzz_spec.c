// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target for the allow-list SPEC parser. Beyond not crashing, a
 * SPEC that parses must read back the same from its canonical form.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[256], canonical[MCG_SPEC_MAX], error[256];
	struct mcg_rule rule, again;

	if (size >= sizeof(text))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (mcg_spec_parse(text, &rule, error, sizeof(error)))
		return 0;
	mcg_spec_format(&rule, canonical, sizeof(canonical));
	if (mcg_spec_parse(canonical, &again, error, sizeof(error)) ||
	    memcmp(&rule, &again, sizeof(rule)))
		abort();
	return 0;
}
