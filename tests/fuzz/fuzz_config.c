// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libFuzzer target for the daemon's configuration parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mcg_config config = { 0 };
	char error[PATH_MAX + 512];
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	mcg_config_parse_text(text, "fuzz.conf", &config, error, sizeof(error));
	for (size_t i = 0; i < config.rule_count; i++)
		mcg_rule_matches(&config.rules[i], "/catchers/maildev");
	mcg_config_free(&config);
	free(text);
	return 0;
}
