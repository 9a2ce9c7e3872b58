// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "parse.h"
#include "spec.h"

static int spec_error(char *error, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int spec_error(char *error, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(error, size, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Fill mask from a prefix length over 1 (IPv4) or 4 (IPv6) words. */
static void prefix_to_mask(unsigned int prefix, unsigned int words, __u32 mask[4])
{
	for (unsigned int i = 0; i < 4; i++) {
		unsigned int bits = prefix > 32 * i ? prefix - 32 * i : 0;

		if (i >= words || bits == 0)
			mask[i] = 0;
		else if (bits >= 32)
			mask[i] = 0xffffffff;
		else
			mask[i] = htonl(0xffffffffu << (32 - bits));
	}
}

static int parse_ports(const char *text, struct mcg_rule *rule, char *error, size_t size)
{
	char low[8], *dash;
	unsigned long min, max;
	size_t len;

	dash = strchr(text, '-');
	len = dash ? (size_t)(dash - text) : strlen(text);
	if (len == 0 || len >= sizeof(low))
		return spec_error(error, size, "invalid port \"%s\": expected PORT or PORT-PORT", text);
	memcpy(low, text, len);
	low[len] = '\0';

	if (mcg_parse_ulong(low, 0, 65535, &min))
		return spec_error(error, size, "invalid port \"%s\": expected 0 to 65535", low);
	max = min;
	if (dash && mcg_parse_ulong(dash + 1, 0, 65535, &max))
		return spec_error(error, size, "invalid port \"%s\": expected 0 to 65535", dash + 1);
	if (max < min)
		return spec_error(error, size, "invalid port range %lu-%lu: the first port is larger",
				  min, max);

	rule->port_min = min;
	rule->port_max = max;
	return 0;
}

/* Parse "ADDRESS[/PREFIX]" of the family that inet_pton accepts. */
static int parse_cidr(const char *text, struct mcg_rule *rule, char *error, size_t size)
{
	char address[INET6_ADDRSTRLEN + 1], *slash;
	unsigned long prefix, written_prefix;
	unsigned int max_prefix;
	__u32 ip6[4] = { 0 };
	size_t len;

	slash = strchr(text, '/');
	len = slash ? (size_t)(slash - text) : strlen(text);
	if (len == 0 || len >= sizeof(address))
		return spec_error(error, size, "missing or invalid address \"%.*s\"", (int)len, text);
	memcpy(address, text, len);
	address[len] = '\0';

	if (inet_pton(AF_INET, address, &ip6[0]) == 1) {
		rule->family = MCG_FAMILY_IPV4;
		max_prefix = 32;
	} else if (inet_pton(AF_INET6, address, ip6) == 1) {
		rule->family = MCG_FAMILY_IPV6;
		max_prefix = 128;
	} else {
		return spec_error(error, size, "invalid address \"%s\": expected IPv4 or IPv6", address);
	}

	prefix = max_prefix;
	if (slash && mcg_parse_ulong(slash + 1, 0, max_prefix, &prefix))
		return spec_error(error, size, "invalid prefix length \"%s\": expected 0 to %u",
				  slash + 1, max_prefix);

	/* ::ffff:a.b.c.d/N is the IPv4 CIDR a.b.c.d/(N-96). */
	written_prefix = prefix;
	if (rule->family == MCG_FAMILY_IPV6 && ip6[0] == 0 && ip6[1] == 0 &&
	    ip6[2] == htonl(0xffff)) {
		if (prefix < 96)
			return spec_error(error, size,
					  "prefix /%lu mixes IPv4-mapped and other IPv6 addresses: use /96 or longer, or an IPv4 CIDR",
					  prefix);
		rule->family = MCG_FAMILY_IPV4;
		ip6[0] = ip6[3];
		ip6[3] = 0;
		ip6[2] = 0;
		prefix -= 96;
	}

	prefix_to_mask(prefix, rule->family == MCG_FAMILY_IPV4 ? 1 : 4, rule->mask);
	for (int i = 0; i < 4; i++) {
		if ((ip6[i] & rule->mask[i]) != ip6[i])
			return spec_error(error, size,
					  "address %s has bits set outside the /%lu prefix: write the network address",
					  address, written_prefix);
		rule->addr[i] = ip6[i];
	}
	rule->prefix_len = prefix;
	return 0;
}

int mcg_spec_parse(const char *text, struct mcg_rule *rule, char *error, size_t size)
{
	char cidr[INET6_ADDRSTRLEN + 8];
	const char *rest = text, *ports = NULL, *colon;
	size_t len;
	int err;

	memset(rule, 0, sizeof(*rule));
	if (!text || !*text)
		return spec_error(error, size, "empty allow-list entry");

	rule->protocols = MCG_PROTO_ANY;
	if (!strncmp(rest, "tcp:", 4)) {
		rule->protocols = MCG_PROTO_TCP;
		rest += 4;
	} else if (!strncmp(rest, "udp:", 4)) {
		rule->protocols = MCG_PROTO_UDP;
		rest += 4;
	}

	if (rest[0] == '[') {
		const char *close = strchr(rest, ']');

		if (!close)
			return spec_error(error, size, "missing \"]\" after the IPv6 address");
		if (close[1] == '/')
			return spec_error(error, size,
					  "the prefix goes inside the brackets: [ADDRESS/PREFIX]:PORT");
		if (close[1] != '\0' && close[1] != ':')
			return spec_error(error, size, "expected \":PORT\" after \"]\"");
		if (close[1] == ':')
			ports = close + 2;
		rest++;
		len = close - rest;
	} else {
		colon = strchr(rest, ':');
		/* One colon separates an IPv4 address from its port; more make an IPv6 address. */
		if (colon && !strchr(colon + 1, ':')) {
			ports = colon + 1;
			len = colon - rest;
		} else {
			len = strlen(rest);
		}
	}
	if (len >= sizeof(cidr))
		return spec_error(error, size, "address is too long");
	memcpy(cidr, rest, len);
	cidr[len] = '\0';

	err = parse_cidr(cidr, rule, error, size);
	if (err)
		goto fail;

	rule->port_min = 0;
	rule->port_max = 65535;
	if (ports) {
		err = parse_ports(ports, rule, error, size);
		if (err)
			goto fail;
	}
	return 0;

fail:
	memset(rule, 0, sizeof(*rule));
	return err;
}

char *mcg_spec_format(const struct mcg_rule *rule, char *buf, size_t size)
{
	char address[INET6_ADDRSTRLEN], prefix[8] = "", ports[16] = "";
	const char *proto = "";
	int v6 = rule->family == MCG_FAMILY_IPV6;

	if (rule->family != MCG_FAMILY_IPV4 && !v6) {
		snprintf(buf, size, "(unused)");
		return buf;
	}
	inet_ntop(v6 ? AF_INET6 : AF_INET, rule->addr, address, sizeof(address));

	if (rule->protocols == MCG_PROTO_TCP)
		proto = "tcp:";
	else if (rule->protocols == MCG_PROTO_UDP)
		proto = "udp:";
	if (rule->prefix_len != (v6 ? 128 : 32))
		snprintf(prefix, sizeof(prefix), "/%u", rule->prefix_len);
	if (rule->port_min == rule->port_max)
		snprintf(ports, sizeof(ports), ":%u", rule->port_min);
	else if (rule->port_min != 0 || rule->port_max != 65535)
		snprintf(ports, sizeof(ports), ":%u-%u", rule->port_min, rule->port_max);

	/*
	 * IPv6 is always shown in brackets, so "2001:db8::5:587" typed without
	 * them reads back as the address it is, not as a port.
	 */
	if (v6)
		snprintf(buf, size, "%s[%s%s]%s", proto, address, prefix, ports);
	else
		snprintf(buf, size, "%s%s%s%s", proto, address, prefix, ports);
	return buf;
}
