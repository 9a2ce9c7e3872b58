/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Reading the captured inputs in tests/unit/data; include after <cmocka.h>. */
#ifndef MCG_TESTDATA_H
#define MCG_TESTDATA_H

#include <stdio.h>
#include <stdlib.h>

/* Return the contents of the file name in tests/unit/data, NUL-terminated. The caller frees them. */
static char *read_data(const char *name)
{
	char path[512];
	long size;
	char *text;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", MCG_TEST_DATA, name);
	f = fopen(path, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	text = calloc(1, size + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, size, f), size);
	fclose(f);
	return text;
}

#endif
