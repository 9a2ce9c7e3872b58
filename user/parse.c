// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

#include "parse.h"

int mcg_parse_ulong(const char *text, unsigned long min, unsigned long max, unsigned long *out)
{
	unsigned long value;
	char *end;

	/* strtoul accepts leading blanks and a minus sign; a number here has neither. */
	if (!text || !isdigit((unsigned char)text[0]))
		return -EINVAL;

	errno = 0;
	value = strtoul(text, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || value < min || value > max)
		return -ERANGE;

	*out = value;
	return 0;
}
