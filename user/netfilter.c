// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <json-c/json.h>

#include "netfilter.h"
#include "parse.h"

static struct mcg_nf_rule *rules_append(struct mcg_nf_rules *rules)
{
	struct mcg_nf_rule *grown = realloc(rules->items, (rules->count + 1) * sizeof(*grown));

	if (!grown)
		return NULL;
	rules->items = grown;
	memset(&grown[rules->count], 0, sizeof(grown[0]));
	return &grown[rules->count++];
}

void mcg_nf_rules_free(struct mcg_nf_rules *rules)
{
	free(rules->items);
	memset(rules, 0, sizeof(*rules));
}

void mcg_nf_drop_xt(struct mcg_nf_rules *rules)
{
	size_t kept = 0;

	for (size_t i = 0; i < rules->count; i++)
		if (!rules->items[i].xt)
			rules->items[kept++] = rules->items[i];
	rules->count = kept;
}

/* Add a port range. A rule with more ranges than fit matches every port, so it fails safe. */
static void add_port_range(struct mcg_nf_rule *rule, unsigned long min, unsigned long max,
			   bool *any_port)
{
	if (min > 65535 || max > 65535 || min > max || rule->dport_count >= MCG_NF_MAX_PORT_RANGES) {
		*any_port = true;
		return;
	}
	rule->dports[rule->dport_count++] = (struct mcg_port_range){ min, max };
}

bool mcg_nf_rule_matches_port(const struct mcg_nf_rule *rule, __u16 port)
{
	if (!rule->dport_count)
		return true;
	for (unsigned int i = 0; i < rule->dport_count; i++)
		if (port >= rule->dports[i].min && port <= rule->dports[i].max)
			return true;
	return false;
}

bool mcg_nf_dnat_reaches(const struct mcg_nf_rule *rule, int family, const void *addr)
{
	size_t len = family == AF_INET6 ? 16 : 4;

	if (!rule->has_dnat || rule->dnat_unknown || rule->dnat_family != family)
		return false;
	/* Big-endian byte strings compare in numeric order. */
	return memcmp(addr, rule->dnat_min, len) >= 0 && memcmp(addr, rule->dnat_max, len) <= 0;
}

bool mcg_nf_dnat_reaches_port(const struct mcg_nf_rule *rule, __u16 port)
{
	if (rule->dnat_ports.min || rule->dnat_ports.max)
		return port >= rule->dnat_ports.min && port <= rule->dnat_ports.max;
	return mcg_nf_rule_matches_port(rule, port);
}

/* Set the DNAT address range from two textual addresses. Returns false if either is invalid. */
static bool set_dnat_range(struct mcg_nf_rule *rule, const char *min, const char *max)
{
	int family = strchr(min, ':') ? AF_INET6 : AF_INET;

	if (inet_pton(family, min, rule->dnat_min) != 1 || inet_pton(family, max, rule->dnat_max) != 1)
		return false;
	rule->dnat_family = family;
	return true;
}

/* Set the DNAT range to a prefix: addr/len. */
static bool set_dnat_prefix(struct mcg_nf_rule *rule, const char *addr, int len)
{
	int family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	int bits = family == AF_INET6 ? 128 : 32;

	if (len < 0 || len > bits || !set_dnat_range(rule, addr, addr))
		return false;
	for (int bit = len; bit < bits; bit++) {
		rule->dnat_min[bit / 8] &= ~(0x80 >> (bit % 8));
		rule->dnat_max[bit / 8] |= 0x80 >> (bit % 8);
	}
	return true;
}

/* The text of a rule's place and statement, with what the rule does appended. */
static void describe(struct mcg_nf_rule *rule, const char *source, const char *where)
{
	char target[INET6_ADDRSTRLEN * 2 + 32] = "", ports[128] = "";
	size_t used = 0;

	for (unsigned int i = 0; i < rule->dport_count && used < sizeof(ports) - 16; i++) {
		const struct mcg_port_range *range = &rule->dports[i];

		if (range->min == range->max)
			used += snprintf(ports + used, sizeof(ports) - used, "%s%u", i ? "," : "",
					 range->min);
		else
			used += snprintf(ports + used, sizeof(ports) - used, "%s%u-%u", i ? "," : "",
					 range->min, range->max);
	}
	if (rule->xt) {
		snprintf(target, sizeof(target), " iptables-nft DNAT (see iptables-nft-save)");
	} else if (rule->has_dnat && rule->dnat_unknown) {
		snprintf(target, sizeof(target), " dnat to (not decoded)");
	} else if (rule->has_dnat) {
		char min[INET6_ADDRSTRLEN], max[INET6_ADDRSTRLEN], port[24] = "";
		size_t len = rule->dnat_family == AF_INET6 ? 16 : 4;

		inet_ntop(rule->dnat_family, rule->dnat_min, min, sizeof(min));
		inet_ntop(rule->dnat_family, rule->dnat_max, max, sizeof(max));
		if (rule->dnat_ports.min == rule->dnat_ports.max && rule->dnat_ports.min)
			snprintf(port, sizeof(port), " port %u", rule->dnat_ports.min);
		else if (rule->dnat_ports.min || rule->dnat_ports.max)
			snprintf(port, sizeof(port), " ports %u-%u", rule->dnat_ports.min,
				 rule->dnat_ports.max);
		if (memcmp(rule->dnat_min, rule->dnat_max, len))
			snprintf(target, sizeof(target), " dnat to %s-%s%s", min, max, port);
		else
			snprintf(target, sizeof(target), " dnat to %s%s", min, port);
	}
	snprintf(rule->text, sizeof(rule->text), "%s: %s: dport %s%s", source, where,
		 rule->dport_count ? ports : "any", target);
}

/* nft JSON */

/* The type of each base chain, to classify the rules of a table. */
struct nft_chain {
	const char *family, *table, *name, *type;
};

static const char *object_string(json_object *obj, const char *key)
{
	json_object *value;

	if (!json_object_object_get_ex(obj, key, &value) || !json_object_is_type(value, json_type_string))
		return NULL;
	return json_object_get_string(value);
}

static unsigned int nft_families(const char *family)
{
	if (!family)
		return 0;
	if (!strcmp(family, "ip"))
		return MCG_NF_IPV4;
	if (!strcmp(family, "ip6"))
		return MCG_NF_IPV6;
	if (!strcmp(family, "inet"))
		return MCG_NF_IPV4 | MCG_NF_IPV6;
	return 0;
}

/*
 * Return the kind of a rule's chain. A base chain has its own type. A regular
 * chain, which only jumps reach, gets the type of the table's base chains.
 */
static int nft_kind(const struct nft_chain *chains, size_t count, const char *family,
		    const char *table, const char *chain)
{
	const char *type = NULL;

	for (size_t i = 0; i < count; i++) {
		if (strcmp(chains[i].family, family) || strcmp(chains[i].table, table))
			continue;
		if (!strcmp(chains[i].name, chain)) {
			type = chains[i].type;
			break;
		}
		if (!type)
			type = chains[i].type;
	}
	if (!type)
		return MCG_NF_OTHER;
	if (!strcmp(type, "nat"))
		return MCG_NF_NAT;
	if (!strcmp(type, "filter"))
		return MCG_NF_FILTER;
	return MCG_NF_OTHER;
}

/* Read a port value of a match: a number, a range or a set of both. */
static void nft_add_ports(struct mcg_nf_rule *rule, json_object *value, bool *any_port)
{
	json_object *inner;

	if (json_object_is_type(value, json_type_int)) {
		long port = json_object_get_int64(value);

		add_port_range(rule, port, port, any_port);
	} else if (json_object_is_type(value, json_type_object) &&
		   json_object_object_get_ex(value, "range", &inner) &&
		   json_object_is_type(inner, json_type_array) && json_object_array_length(inner) == 2 &&
		   json_object_is_type(json_object_array_get_idx(inner, 0), json_type_int) &&
		   json_object_is_type(json_object_array_get_idx(inner, 1), json_type_int)) {
		add_port_range(rule, json_object_get_int64(json_object_array_get_idx(inner, 0)),
			       json_object_get_int64(json_object_array_get_idx(inner, 1)), any_port);
	} else if (json_object_is_type(value, json_type_object) &&
		   json_object_object_get_ex(value, "set", &inner) &&
		   json_object_is_type(inner, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(inner); i++)
			nft_add_ports(rule, json_object_array_get_idx(inner, i), any_port);
	} else {
		/* A named set, a service name or an expression can match any port. */
		*any_port = true;
	}
}

/* Apply one "match" expression: destination ports, or a restriction to one family. */
static void nft_apply_match(struct mcg_nf_rule *rule, json_object *match, bool *any_port)
{
	json_object *left, *right, *payload, *meta;
	const char *op = object_string(match, "op");

	if (!json_object_object_get_ex(match, "left", &left) ||
	    !json_object_object_get_ex(match, "right", &right))
		return;
	if (json_object_object_get_ex(left, "payload", &payload)) {
		const char *field = object_string(payload, "field");
		const char *protocol = object_string(payload, "protocol");

		if (field && !strcmp(field, "dport")) {
			if (op && !strcmp(op, "!="))
				*any_port = true;
			else
				nft_add_ports(rule, right, any_port);
		} else if (protocol && !strcmp(protocol, "ip")) {
			rule->families &= MCG_NF_IPV4;
		} else if (protocol && !strcmp(protocol, "ip6")) {
			rule->families &= MCG_NF_IPV6;
		}
	} else if (json_object_object_get_ex(left, "meta", &meta)) {
		const char *key = object_string(meta, "key");
		const char *value = json_object_get_string(right);

		if (!key || strcmp(key, "nfproto") || !value || (op && !strcmp(op, "!=")))
			return;
		if (!strcmp(value, "ipv4"))
			rule->families &= MCG_NF_IPV4;
		else if (!strcmp(value, "ipv6"))
			rule->families &= MCG_NF_IPV6;
	}
}

/* Apply a "dnat" statement: {"addr": ..., "port": ...}. */
static void nft_apply_dnat(struct mcg_nf_rule *rule, json_object *dnat)
{
	json_object *addr, *port, *inner;

	rule->has_dnat = true;
	rule->dnat_unknown = true;
	if (!json_object_object_get_ex(dnat, "addr", &addr))
		return;
	if (json_object_is_type(addr, json_type_string)) {
		if (!set_dnat_range(rule, json_object_get_string(addr), json_object_get_string(addr)))
			return;
	} else if (json_object_object_get_ex(addr, "range", &inner) &&
		   json_object_array_length(inner) == 2) {
		if (!set_dnat_range(rule, json_object_get_string(json_object_array_get_idx(inner, 0)),
				    json_object_get_string(json_object_array_get_idx(inner, 1))))
			return;
	} else if (json_object_object_get_ex(addr, "prefix", &inner)) {
		const char *base = object_string(inner, "addr");
		json_object *len;

		if (!base || !json_object_object_get_ex(inner, "len", &len) ||
		    !set_dnat_prefix(rule, base, json_object_get_int(len)))
			return;
	} else {
		return;
	}
	rule->dnat_unknown = false;
	if (!json_object_object_get_ex(dnat, "port", &port))
		return;
	if (json_object_is_type(port, json_type_int)) {
		rule->dnat_ports.min = rule->dnat_ports.max = json_object_get_int(port);
	} else if (json_object_object_get_ex(port, "range", &inner) &&
		   json_object_array_length(inner) == 2) {
		rule->dnat_ports.min = json_object_get_int(json_object_array_get_idx(inner, 0));
		rule->dnat_ports.max = json_object_get_int(json_object_array_get_idx(inner, 1));
	} else {
		rule->dnat_unknown = true;
	}
}

static int nft_add_rule(struct mcg_nf_rules *rules, json_object *rule_obj, const char *source,
			const struct nft_chain *chains, size_t chain_count)
{
	const char *family = object_string(rule_obj, "family");
	const char *table = object_string(rule_obj, "table");
	const char *chain = object_string(rule_obj, "chain");
	json_object *exprs, *handle;
	struct mcg_nf_rule *rule;
	bool any_port = false;
	char where[256];

	if (!nft_families(family) || !table || !chain ||
	    !json_object_object_get_ex(rule_obj, "expr", &exprs) ||
	    !json_object_is_type(exprs, json_type_array))
		return 0;
	rule = rules_append(rules);
	if (!rule)
		return -ENOMEM;
	rule->families = nft_families(family);
	rule->kind = nft_kind(chains, chain_count, family, table, chain);
	for (size_t i = 0; i < json_object_array_length(exprs); i++) {
		json_object *expr = json_object_array_get_idx(exprs, i), *inner;

		if (json_object_object_get_ex(expr, "match", &inner)) {
			nft_apply_match(rule, inner, &any_port);
		} else if (json_object_object_get_ex(expr, "dnat", &inner)) {
			nft_apply_dnat(rule, inner);
		} else if (json_object_object_get_ex(expr, "xt", &inner)) {
			const char *name = object_string(inner, "name");

			if (name && !strcmp(name, "DNAT"))
				rule->has_dnat = rule->dnat_unknown = rule->xt = true;
		}
	}
	if (any_port)
		rule->dport_count = 0;
	if (rule->has_dnat)
		rule->kind = MCG_NF_NAT;
	snprintf(where, sizeof(where), "table %s %s chain %s handle %d", family, table, chain,
		 json_object_object_get_ex(rule_obj, "handle", &handle) ? json_object_get_int(handle)
									 : -1);
	describe(rule, source, where);
	return 0;
}

int mcg_nf_parse_nft_json(const char *json, const char *source, struct mcg_nf_rules *rules,
			  char *error, size_t size)
{
	struct nft_chain *chains = NULL;
	size_t chain_count = 0, count;
	json_object *root, *list;
	int err = 0;

	root = json_tokener_parse(json);
	if (!root || !json_object_object_get_ex(root, "nftables", &list) ||
	    !json_object_is_type(list, json_type_array)) {
		snprintf(error, size, "%s: output is not an nftables JSON document", source);
		json_object_put(root);
		return -EINVAL;
	}
	count = json_object_array_length(list);

	/* Chains first: a rule's kind comes from its chain's type. */
	for (size_t i = 0; i < count; i++) {
		json_object *chain;
		struct nft_chain entry, *grown;

		if (!json_object_object_get_ex(json_object_array_get_idx(list, i), "chain", &chain))
			continue;
		entry = (struct nft_chain){ object_string(chain, "family"), object_string(chain, "table"),
					    object_string(chain, "name"), object_string(chain, "type") };
		if (!entry.family || !entry.table || !entry.name || !entry.type)
			continue;
		grown = realloc(chains, (chain_count + 1) * sizeof(*grown));

		if (!grown) {
			err = -ENOMEM;
			goto out;
		}
		chains = grown;
		chains[chain_count++] = entry;
	}
	for (size_t i = 0; i < count && !err; i++) {
		json_object *rule;

		if (json_object_object_get_ex(json_object_array_get_idx(list, i), "rule", &rule))
			err = nft_add_rule(rules, rule, source, chains, chain_count);
	}
	if (err)
		snprintf(error, size, "%s: %s", source, strerror(-err));
out:
	free(chains);
	json_object_put(root);
	return err;
}

/* iptables-save */

#define MAX_TOKENS 128

/*
 * Split an iptables-save line into words in place. iptables-save quotes a
 * word with spaces ("a comment") and escapes quotes inside it with a backslash.
 */
static int split_words(char *line, char **words, int max)
{
	int count = 0;
	char *read = line;

	while (*read && count < max) {
		char *write;

		while (*read == ' ' || *read == '\t')
			read++;
		if (!*read)
			break;
		words[count++] = write = read;
		if (*read == '"') {
			words[count - 1] = write = ++read;
			while (*read && *read != '"') {
				if (*read == '\\' && read[1])
					read++;
				*write++ = *read++;
			}
			if (*read)
				read++;
		} else {
			while (*read && *read != ' ' && *read != '\t')
				*write++ = *read++;
			if (*read)
				read++;
		}
		*write = '\0';
	}
	return count;
}

/* Parse "25", "25:30" (iptables' range form) or "25-30". Returns false when invalid. */
static bool parse_port_range(const char *text, unsigned long *min, unsigned long *max)
{
	char first[16];
	size_t len = strcspn(text, ":-");

	if (len >= sizeof(first))
		return false;
	memcpy(first, text, len);
	first[len] = '\0';
	if (mcg_parse_ulong(first, 0, 65535, min))
		return false;
	if (!text[len]) {
		*max = *min;
		return true;
	}
	return !mcg_parse_ulong(text + len + 1, *min, 65535, max);
}

/* Add the ports after --dport or --dports: "25", "25:30" or a comma-separated list of either. */
static void iptables_add_ports(struct mcg_nf_rule *rule, const char *value, bool *any_port)
{
	char copy[256], *save = NULL;

	snprintf(copy, sizeof(copy), "%s", value);
	for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		unsigned long min, max;

		if (parse_port_range(item, &min, &max))
			add_port_range(rule, min, max, any_port);
		else
			*any_port = true;
	}
}

/*
 * Parse a --to-destination value: ADDR, ADDR:PORT, ADDR:PORT-PORT,
 * ADDR-ADDR[:PORTS], [ADDR6]:PORT, [ADDR6]-[ADDR6]:PORTS, or ADDR6 without
 * brackets and then without a port.
 */
static bool parse_to_destination(struct mcg_nf_rule *rule, const char *value)
{
	char min[64], max[64] = "", ports[32] = "";
	unsigned long port_min, port_max;
	const char *rest;

	if (value[0] == '[') {
		const char *end = strchr(value, ']');

		if (!end || end - value - 1 >= (long)sizeof(min))
			return false;
		snprintf(min, sizeof(min), "%.*s", (int)(end - value - 1), value + 1);
		rest = end + 1;
		if (rest[0] == '-' && rest[1] == '[') {
			end = strchr(rest + 2, ']');
			if (!end || end - rest - 2 >= (long)sizeof(max))
				return false;
			snprintf(max, sizeof(max), "%.*s", (int)(end - rest - 2), rest + 2);
			rest = end + 1;
		}
		if (rest[0] == ':')
			snprintf(ports, sizeof(ports), "%s", rest + 1);
		else if (rest[0])
			return false;
	} else if (strchr(value, ':') && strchr(value, ':') != strrchr(value, ':')) {
		snprintf(min, sizeof(min), "%s", value); /* IPv6 without brackets has no port. */
	} else {
		size_t len = strcspn(value, ":");

		snprintf(min, sizeof(min), "%.*s", (int)len, value);
		if (value[len])
			snprintf(ports, sizeof(ports), "%s", value + len + 1);
		if (strchr(min, '-')) {
			snprintf(max, sizeof(max), "%s", strchr(min, '-') + 1);
			*strchr(min, '-') = '\0';
		}
	}
	if (!set_dnat_range(rule, min, max[0] ? max : min))
		return false;
	if (ports[0]) {
		if (!parse_port_range(ports, &port_min, &port_max))
			return false;
		rule->dnat_ports = (struct mcg_port_range){ port_min, port_max };
	}
	return true;
}

static int iptables_add_line(struct mcg_nf_rules *rules, char *line, const char *table,
			     int family, const char *source)
{
	char original[sizeof(((struct mcg_nf_rule *)0)->text)], *words[MAX_TOKENS];
	const char *target = NULL, *to_destination = NULL;
	struct mcg_nf_rule *rule;
	bool negate = false, any_port = false;
	int count, used;

	snprintf(original, sizeof(original), "%.*s", (int)sizeof(original) - 1, line);
	count = split_words(line, words, MAX_TOKENS);
	rule = rules_append(rules);
	if (!rule)
		return -ENOMEM;
	rule->families = family == AF_INET6 ? MCG_NF_IPV6 : MCG_NF_IPV4;
	rule->kind = !strcmp(table, "nat") ? MCG_NF_NAT
		     : !strcmp(table, "filter") ? MCG_NF_FILTER : MCG_NF_OTHER;

	for (int i = 0; i < count; i++) {
		const char *word = words[i], *value = i + 1 < count ? words[i + 1] : NULL;

		if (!strcmp(word, "!")) {
			negate = true;
			continue;
		}
		if (value && (!strcmp(word, "--dport") || !strcmp(word, "--destination-port") ||
			      !strcmp(word, "--dports") || !strcmp(word, "--destination-ports"))) {
			if (negate)
				any_port = true;
			else
				iptables_add_ports(rule, value, &any_port);
			i++;
		} else if (value && (!strcmp(word, "-j") || !strcmp(word, "--jump"))) {
			target = value;
			i++;
		} else if (value && !strcmp(word, "--to-destination") && !to_destination) {
			to_destination = value;
			i++;
		}
		negate = false;
	}
	if (any_port)
		rule->dport_count = 0;
	if (target && !strcmp(target, "DNAT")) {
		rule->has_dnat = true;
		rule->dnat_unknown = !to_destination || !parse_to_destination(rule, to_destination);
	}
	/* A long rule is cut to fit, because the text only has to let people find the rule. */
	used = snprintf(rule->text, sizeof(rule->text), "%s: -t %s ", source, table);
	if (used > 0 && (size_t)used < sizeof(rule->text))
		snprintf(rule->text + used, sizeof(rule->text) - used, "%.*s",
			 (int)(sizeof(rule->text) - used - 1), original);
	return 0;
}

int mcg_nf_parse_iptables_save(const char *text, int family, const char *source,
			       struct mcg_nf_rules *rules)
{
	char table[32] = "", line[4096];

	while (*text) {
		size_t len = strcspn(text, "\n");
		int err;

		snprintf(line, sizeof(line), "%.*s", (int)(len < sizeof(line) ? len : sizeof(line) - 1),
			 text);
		text += len + (text[len] == '\n');
		if (line[0] == '*') {
			snprintf(table, sizeof(table), "%.*s", (int)sizeof(table) - 1, line + 1);
		} else if (!strncmp(line, "-A ", 3) && table[0]) {
			err = iptables_add_line(rules, line, table, family, source);
			if (err)
				return err;
		}
	}
	return 0;
}
