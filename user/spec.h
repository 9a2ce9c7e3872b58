/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Allow-list entries as text (SPEC):
 *
 *   [tcp:|udp:]ADDRESS[/PREFIX][:PORT[-PORT]]
 *
 * An IPv6 address followed by a port goes in brackets, as in URLs:
 * "tcp:[2001:db8::/32]:587". Without a protocol the entry covers every
 * protocol; without a port, every port. A missing prefix means one host.
 * An IPv4-mapped IPv6 CIDR (::ffff:a.b.c.d/96 and longer) becomes the IPv4
 * CIDR, because the guard judges mapped addresses as IPv4.
 */
#ifndef MCG_SPEC_H
#define MCG_SPEC_H

#include <stddef.h>
#include "mcguard.h"

/* Maximum length of the text mcg_spec_format writes, with the terminating NUL. */
#define MCG_SPEC_MAX 72

/*
 * Parse text into *rule. Returns 0, or -EINVAL with a reason (without the
 * text itself) in error[error_size].
 */
int mcg_spec_parse(const char *text, struct mcg_rule *rule, char *error, size_t error_size);

/* Write the canonical SPEC of rule into buf; returns buf. */
char *mcg_spec_format(const struct mcg_rule *rule, char *buf, size_t size);

#endif
