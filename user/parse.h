/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Checked parsing of numbers from the command line. */
#ifndef MCG_PARSE_H
#define MCG_PARSE_H

/*
 * Parse a whole decimal string into [min, max]. Returns 0, or -EINVAL for
 * trailing characters or an empty string, -ERANGE outside the range.
 */
int mcg_parse_ulong(const char *text, unsigned long min, unsigned long max, unsigned long *out);

#endif
