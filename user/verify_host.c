// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The host side of verify: port publishers listening in the host namespace,
 * DNAT rules toward the catcher, and IPv4-only filter rules where IPv6 is on.
 *
 * The host side is the network namespace where a container engine publishes
 * the catcher's ports. By default it is mcguard's own, which is the host's
 * when mcguard runs on the host. --host-netns names others instead, such as
 * the rootlesskit namespace of a rootless engine or a test's namespace.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "format.h"
#include "holders.h"
#include "log.h"
#include "mcguard_addr.h"
#include "verify.h"

/* How long nft or iptables-save may run before it counts as failed. */
#define RULES_TIMEOUT_MS 30000
#define MAX_CANDIDATES 4096

/* Processes whose listeners forward to another namespace or host (names as in /proc/PID/comm). */
static const char *const publishers[] = {
	"docker-proxy", "rootlesskit", "rootlessport", "slirp4netns", "pasta", "pasta.avx2",
	"passt",        "passt.avx2",  "kubectl",      "conmon",      "socat",
};

/* Namespaces */

/* Write the interface addresses of the current namespace to out as struct verify_address. */
static int list_addresses(int out, void *unused)
{
	struct ifaddrs *list;

	(void)unused;
	if (getifaddrs(&list))
		return -errno;
	for (struct ifaddrs *ifa = list; ifa; ifa = ifa->ifa_next) {
		struct verify_address entry = { 0 };

		if (!ifa->ifa_addr)
			continue;
		entry.family = ifa->ifa_addr->sa_family;
		if (entry.family == AF_INET)
			memcpy(entry.addr, &((struct sockaddr_in *)ifa->ifa_addr)->sin_addr, 4);
		else if (entry.family == AF_INET6)
			memcpy(entry.addr, &((struct sockaddr_in6 *)ifa->ifa_addr)->sin6_addr, 16);
		else
			continue;
		if (write(out, &entry, sizeof(entry)) != sizeof(entry)) {
			freeifaddrs(list);
			return -EPIPE;
		}
	}
	freeifaddrs(list);
	return 0;
}

/* Copy the file named by arg to out. A missing file gives empty output. */
static int copy_file(int out, void *arg)
{
	char buf[4096];
	ssize_t len;
	FILE *f = fopen(arg, "re");

	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while ((len = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (write(out, buf, len) != len) {
			fclose(f);
			return -EPIPE;
		}
	}
	fclose(f);
	return 0;
}

static struct verify_netns *add_netns(struct verify_ctx *ctx, const char *path, bool host)
{
	struct verify_netns *ns;
	struct mcg_netns_id id;
	bool identified = mcg_netns_identify(path, &id) == 0;

	for (size_t i = 0; identified && i < ctx->netns_count; i++) {
		ns = &ctx->netns[i];
		if (ns->identified && ns->id.dev == id.dev && ns->id.ino == id.ino) {
			ns->is_host |= host;
			ns->is_catcher |= !host;
			return ns;
		}
	}
	if (ctx->netns_count >= VERIFY_MAX_NETNS)
		return NULL;
	ns = &ctx->netns[ctx->netns_count++];
	memset(ns, 0, sizeof(*ns));
	snprintf(ns->path, sizeof(ns->path), "%s", path);
	ns->identified = identified;
	ns->id = id;
	ns->is_host = host;
	ns->is_catcher = !host;
	return ns;
}

void verify_setup_netns(struct verify_ctx *ctx)
{
	const struct mcg_cli *cli = ctx->cli;

	if (!cli->host_netns_count)
		add_netns(ctx, "/proc/self/ns/net", true);
	for (unsigned int i = 0; i < cli->host_netns_count; i++)
		add_netns(ctx, cli->host_netns[i], true);
	for (size_t i = 0; i < ctx->sockets.netns_count; i++) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/ns/net", ctx->sockets.netns[i].pid);
		add_netns(ctx, path, false);
	}

	for (size_t i = 0; i < ctx->netns_count; i++) {
		struct verify_netns *ns = &ctx->netns[i];
		char *data;
		size_t len;

		if (!strcmp(ns->path, "/proc/self/ns/net"))
			snprintf(ns->label, sizeof(ns->label), "mcguard's own network namespace");
		else
			snprintf(ns->label, sizeof(ns->label), "%s", ns->path);
		if (!ns->is_catcher)
			continue;
		ns->addrs_error = -mcg_netns_collect(ns->path, list_addresses, NULL, &data, &len);
		if (!ns->addrs_error) {
			ns->addrs = (struct verify_address *)data;
			ns->addr_count = len / sizeof(*ns->addrs);
		}
	}
}

void verify_free_netns(struct verify_ctx *ctx)
{
	for (size_t i = 0; i < ctx->netns_count; i++) {
		free(ctx->netns[i].addrs);
		mcg_nf_rules_free(&ctx->netns[i].rules);
	}
	ctx->netns_count = 0;
}

static bool address_is_loopback(const struct verify_address *a)
{
	if (a->family == AF_INET)
		return a->addr[0] == 127;
	return mcg_ip6_is_loopback_any_form((const __u32 *)a->addr);
}

/*
 * Is addr an address of the catcher, seen from the host namespace host? A
 * catcher in its own namespace owns its interface addresses but not its
 * loopback addresses, because the host has those too. A catcher that runs in
 * host owns all of host's addresses.
 */
static bool is_catcher_address(const struct verify_ctx *ctx, const struct verify_netns *host,
			       const struct verify_address *addr)
{
	for (size_t i = 0; i < ctx->netns_count; i++) {
		const struct verify_netns *ns = &ctx->netns[i];

		if (!ns->is_catcher || (ns != host && address_is_loopback(addr)))
			continue;
		for (size_t a = 0; a < ns->addr_count; a++)
			if (ns->addrs[a].family == addr->family &&
			    !memcmp(ns->addrs[a].addr, addr->addr, addr->family == AF_INET ? 4 : 16))
				return true;
	}
	return false;
}

static size_t catcher_address_count(const struct verify_ctx *ctx)
{
	size_t count = 0;

	for (size_t i = 0; i < ctx->netns_count; i++)
		count += ctx->netns[i].is_catcher ? ctx->netns[i].addr_count : 0;
	return count;
}

static bool is_catcher_port(const struct verify_ctx *ctx, __u16 port)
{
	for (size_t i = 0; i < ctx->port_count; i++)
		if (ctx->ports[i] == port)
			return true;
	return false;
}

static bool is_catcher_socket(const struct verify_ctx *ctx, __u32 inode)
{
	for (size_t i = 0; i < ctx->sockets.count; i++)
		if (ctx->sockets.sockets[i].diag.inode == inode)
			return true;
	return false;
}

/* Publishers */

struct candidate {
	struct mcg_diag_sock sock;
	struct verify_netns *ns;
};

static bool is_publisher(const char *comm)
{
	for (size_t i = 0; i < sizeof(publishers) / sizeof(publishers[0]); i++)
		if (!strcmp(comm, publishers[i]))
			return true;
	return false;
}

/* Read the -container-ip address of a docker-proxy command line. Returns false if there is none. */
static bool docker_proxy_target(int pid, struct verify_address *target)
{
	char path[64], cmdline[4096];
	const char *value = NULL;
	size_t len;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	len = fread(cmdline, 1, sizeof(cmdline) - 1, f);
	fclose(f);
	cmdline[len] = '\0';
	/* Go's flag package takes -flag value, --flag value and -flag=value. */
	for (size_t at = 0; at < len; at += strlen(cmdline + at) + 1) {
		const char *arg = cmdline + at + (cmdline[at] == '-' && cmdline[at + 1] == '-');

		if (!strcmp(arg, "-container-ip") && at + strlen(cmdline + at) + 1 < len) {
			value = cmdline + at + strlen(cmdline + at) + 1;
			break;
		}
		if (!strncmp(arg, "-container-ip=", 14)) {
			value = arg + 14;
			break;
		}
	}
	if (!value)
		return false;
	target->family = strchr(value, ':') ? AF_INET6 : AF_INET;
	return inet_pton(target->family, value, target->addr) == 1;
}

/* List the host namespaces' listeners that are not loopback and not the catcher's. */
static int collect_candidates(struct verify_ctx *ctx, struct candidate **out, size_t *count)
{
	*out = NULL;
	*count = 0;
	for (size_t i = 0; i < ctx->netns_count; i++) {
		struct verify_netns *ns = &ctx->netns[i];
		struct mcg_diag_sock *socks;
		size_t sock_count;
		int err;

		if (!ns->is_host)
			continue;
		err = mcg_netns_sockets(ns->path, &socks, &sock_count);
		if (err) {
			mcg_check_could_not_run(&ctx->checks[CHECK_PUBLISHERS],
						"list the sockets of %s: %s", ns->label, strerror(-err));
			free(*out);
			*out = NULL;
			return err;
		}
		for (size_t s = 0; s < sock_count; s++) {
			struct candidate *grown;

			if (!mcg_sock_is_listener(&socks[s]) || mcg_sock_local_is_loopback(&socks[s]) ||
			    socks[s].ifindex == MCG_LOOPBACK_IFINDEX || is_catcher_socket(ctx, socks[s].inode) ||
			    *count >= MAX_CANDIDATES)
				continue;
			grown = realloc(*out, (*count + 1) * sizeof(*grown));
			if (!grown) {
				free(socks);
				free(*out);
				*out = NULL;
				return -ENOMEM;
			}
			*out = grown;
			grown[(*count)++] = (struct candidate){ socks[s], ns };
		}
		free(socks);
	}
	return 0;
}

static void read_comm(int pid, char *comm, size_t size)
{
	char path[64];
	FILE *f;

	snprintf(comm, size, "?");
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(comm, size, f))
		comm[strcspn(comm, "\n")] = '\0';
	fclose(f);
}

/* Judge one host-side listener and the process that holds it (pid 0 when none was found). */
static void judge_candidate(struct verify_ctx *ctx, const struct candidate *c, int pid)
{
	struct mcg_check *check = &ctx->checks[CHECK_PUBLISHERS];
	unsigned int family = c->sock.family == AF_INET6 ? MCG_FAMILY_IPV6 : MCG_FAMILY_IPV4;
	char local[INET6_ADDRSTRLEN + 16], comm[32] = "", target_text[INET6_ADDRSTRLEN] = "";
	char protocol[8];
	const char *proto = mcg_protocol_name(c->sock.protocol, protocol, sizeof(protocol));
	struct verify_address target;
	bool on_port = is_catcher_port(ctx, c->sock.sport), forwards = false, publisher;
	json_object *fields;

	if (pid)
		read_comm(pid, comm, sizeof(comm));
	publisher = pid && is_publisher(comm);
	if (publisher && !strcmp(comm, "docker-proxy") && docker_proxy_target(pid, &target)) {
		forwards = is_catcher_address(ctx, c->ns, &target);
		inet_ntop(target.family, target.addr, target_text, sizeof(target_text));
	}
	if (!on_port && !forwards)
		return;

	mcg_format_endpoint(family, (const __u8 *)c->sock.src, c->sock.sport, local, sizeof(local));
	fields = json_object_new_object();
	json_object_object_add(fields, "protocol", json_object_new_string(proto));
	json_object_object_add(fields, "address", json_object_new_string(local));
	json_object_object_add(fields, "port", json_object_new_int(c->sock.sport));
	json_object_object_add(fields, "netns", json_object_new_string(c->ns->path));
	json_object_object_add(fields, "pid", pid ? json_object_new_int(pid) : NULL);
	json_object_object_add(fields, "comm", pid ? json_object_new_string(comm) : NULL);
	if (target_text[0])
		json_object_object_add(fields, "forwards_to", json_object_new_string(target_text));

	if (publisher)
		mcg_check_add(check, MCG_CHECK_FAIL, "publisher", false, fields,
			      "%s %s in %s: %s (pid %d) publishes the catcher's port to other hosts%s%s",
			      proto, local, c->ns->label, comm, pid, forwards ? " and forwards to " : "",
			      forwards ? target_text : "");
	else if (pid)
		mcg_check_add(check, MCG_CHECK_WARN, "listener", false, fields,
			      "%s %s in %s: %s (pid %d) listens on a catcher port; if it forwards to the catcher, the catcher is exposed",
			      proto, local, c->ns->label, comm, pid);
	else
		mcg_check_add(check, MCG_CHECK_WARN, "listener", false, fields,
			      "%s %s in %s: listens on a catcher port, held by no process mcguard found",
			      proto, local, c->ns->label);
}

void verify_check_publishers(struct verify_ctx *ctx)
{
	struct mcg_check *check = &ctx->checks[CHECK_PUBLISHERS];
	struct mcg_holder_record *holders = NULL;
	struct candidate *candidates;
	size_t count;
	__u64 *inodes;
	char ports[256];
	int found = 0;

	if (!ctx->root) {
		mcg_check_set(check, MCG_CHECK_SKIP,
			      "naming the processes behind the host's listeners needs root");
		return;
	}
	if (collect_candidates(ctx, &candidates, &count))
		return;
	inodes = calloc(count ? count : 1, sizeof(*inodes));
	for (size_t i = 0; inodes && i < count; i++)
		inodes[i] = candidates[i].sock.inode;
	if (count)
		found = inodes ? mcg_find_holders(inodes, count, &holders) : -ENOMEM;
	free(inodes);
	if (found < 0) {
		mcg_check_could_not_run(check, "find the processes that hold the host's listeners: %s",
					strerror(-found));
		free(candidates);
		return;
	}
	for (size_t i = 0; i < count; i++) {
		int pid = 0;

		for (int h = 0; h < found && !pid; h++)
			if (holders[h].inode == candidates[i].sock.inode)
				pid = holders[h].tgid;
		judge_candidate(ctx, &candidates[i], pid);
	}
	free(holders);
	free(candidates);

	verify_ports_text(ctx, ports, sizeof(ports));
	if (mcg_check_count(check, MCG_CHECK_FAIL))
		mcg_check_set(check, MCG_CHECK_FAIL,
			      "a port publisher makes the catcher reachable from other hosts; remove the port mapping or publish on 127.0.0.1 only");
	else if (mcg_check_count(check, MCG_CHECK_WARN))
		mcg_check_set(check, MCG_CHECK_WARN,
			      "other processes listen on the catcher's ports (%s) on the host side", ports);
	else
		mcg_check_set(check, MCG_CHECK_PASS,
			      "no port publisher listens on the catcher's ports (%s) or forwards to it on the host side",
			      ports);
}

/* Netfilter rules */

static void add_problem(struct verify_netns *ns, const char *fmt, const char *tool, const char *detail)
{
	size_t used = strlen(ns->rules_problem);

	snprintf(ns->rules_problem + used, sizeof(ns->rules_problem) - used, "%s", used ? "; " : "");
	used = strlen(ns->rules_problem);
	snprintf(ns->rules_problem + used, sizeof(ns->rules_problem) - used, fmt, tool, detail);
}

/* Run one rule tool in ns. Returns its output, or NULL after recording a problem. */
static char *run_rules_tool(struct verify_netns *ns, char *const argv[])
{
	struct mcg_exec_result result;
	int err = mcg_netns_exec(ns->path, argv, RULES_TIMEOUT_MS, &result);

	if (err) {
		add_problem(ns, "%s: %s", argv[0], strerror(-err));
		return NULL;
	}
	if (result.status) {
		add_problem(ns, "%s: %s", argv[0], result.error[0] ? result.error : "failed");
		free(result.output);
		return NULL;
	}
	return result.output;
}

/* Does ns have tables that only the legacy iptables tools can show? */
static bool has_legacy_tables(struct verify_netns *ns)
{
	static const char *const files[] = { "/proc/net/ip_tables_names", "/proc/net/ip6_tables_names" };
	bool found = false;

	for (size_t i = 0; i < 2; i++) {
		char *data;
		size_t len;

		if (mcg_netns_collect(ns->path, copy_file, (void *)files[i], &data, &len) == 0) {
			found |= len > 0;
			free(data);
		}
	}
	return found;
}

static void read_iptables(struct verify_netns *ns, const char *tool, int family)
{
	char *argv[] = { (char *)tool, NULL };
	char *output = run_rules_tool(ns, argv);

	if (!output)
		return;
	/*
	 * iptables-save is an alternative for either backend, and its header
	 * names the backend. A table mixed with native nft rules that it cannot
	 * show is reported as "Table `nat' is incompatible", and its rules are
	 * left out.
	 */
	if (strstr(tool, "-nft-") || strstr(output, "(nf_tables)")) {
		ns->nft_save_ran = true;
		ns->nft_save_incomplete |= strstr(output, "' is incompatible") != NULL;
	}
	if (mcg_nf_parse_iptables_save(output, family, tool, &ns->rules))
		add_problem(ns, "%s: %s", tool, strerror(ENOMEM));
	free(output);
}

/*
 * Read the rules of ns once: nft's JSON for native nftables rules, and
 * iptables-save for iptables rules of both backends. Whatever could not be
 * read is in rules_problem.
 */
static void read_rules(struct verify_netns *ns)
{
	static const struct {
		const char *tool;
		int family;
	} savers[] = {
		{ "iptables-nft-save", AF_INET },    { "ip6tables-nft-save", AF_INET6 },
		{ "iptables-legacy-save", AF_INET }, { "ip6tables-legacy-save", AF_INET6 },
	};
	char *nft_argv[] = { "nft", "-j", "list", "ruleset", NULL };
	bool split_tools = false, legacy_tools = false;
	char error[256];

	if (ns->rules_read)
		return;
	ns->rules_read = true;
	if (mcg_tool_exists("nft")) {
		char *output = run_rules_tool(ns, nft_argv);

		if (output && mcg_nf_parse_nft_json(output, "nft", &ns->rules, error, sizeof(error)))
			add_problem(ns, "%s%s", error, "");
		free(output);
	} else if (access("/sys/module/nf_tables", F_OK) == 0) {
		add_problem(ns, "%s%s", "nftables is in the kernel but nft is not installed, so its rules cannot be read", "");
	}

	for (size_t i = 0; i < sizeof(savers) / sizeof(savers[0]); i++) {
		if (!mcg_tool_exists(savers[i].tool))
			continue;
		split_tools = true;
		legacy_tools |= strstr(savers[i].tool, "legacy") != NULL;
		read_iptables(ns, savers[i].tool, savers[i].family);
	}
	if (!split_tools) {
		if (mcg_tool_exists("iptables-save"))
			read_iptables(ns, "iptables-save", AF_INET);
		if (mcg_tool_exists("ip6tables-save"))
			read_iptables(ns, "ip6tables-save", AF_INET6);
	}
	if (!legacy_tools && has_legacy_tables(ns))
		add_problem(ns, "%s%s", "legacy iptables tables exist but iptables-legacy-save is not installed", "");
	/* Otherwise the placeholders stay, as DNATs whose destination is unknown. */
	if (ns->nft_save_ran && !ns->nft_save_incomplete)
		mcg_nf_drop_xt(&ns->rules);
}

/* Can the rule's DNAT deliver to one of the catcher's ports? With no port known, any DNAT counts. */
static bool dnat_reaches_catcher_port(const struct verify_ctx *ctx, const struct mcg_nf_rule *rule)
{
	if (!ctx->port_count)
		return true;
	for (size_t i = 0; i < ctx->port_count; i++)
		if (mcg_nf_dnat_reaches_port(rule, ctx->ports[i]))
			return true;
	return false;
}

/* Judge the DNAT rules of one host namespace. */
static void judge_dnat_rules(struct verify_ctx *ctx, struct verify_netns *host)
{
	struct mcg_check *check = &ctx->checks[CHECK_NAT];

	for (size_t r = 0; r < host->rules.count; r++) {
		const struct mcg_nf_rule *rule = &host->rules.items[r];

		if (!rule->has_dnat)
			continue;
		if (rule->dnat_unknown) {
			mcg_check_add(check, MCG_CHECK_WARN, "dnat", false,
				      json_object_new_object(),
				      "%s (in %s): a DNAT whose destination mcguard cannot decode",
				      rule->text, host->label);
			continue;
		}
		for (size_t i = 0; i < ctx->netns_count; i++) {
			const struct verify_netns *ns = &ctx->netns[i];
			bool hit = false;

			for (size_t a = 0; ns->is_catcher && a < ns->addr_count && !hit; a++) {
				const struct verify_address *addr = &ns->addrs[a];
				char text[INET6_ADDRSTRLEN];
				json_object *fields;

				if (!is_catcher_address(ctx, host, addr) ||
				    !mcg_nf_dnat_reaches(rule, addr->family, addr->addr) ||
				    !dnat_reaches_catcher_port(ctx, rule))
					continue;
				hit = true;
				inet_ntop(addr->family, addr->addr, text, sizeof(text));
				fields = json_object_new_object();
				json_object_object_add(fields, "rule", json_object_new_string(rule->text));
				json_object_object_add(fields, "netns", json_object_new_string(host->path));
				json_object_object_add(fields, "catcher_address", json_object_new_string(text));
				mcg_check_add(check, MCG_CHECK_FAIL, "dnat", false, fields,
					      "%s (in %s): forwards to the catcher at %s", rule->text,
					      host->label, text);
			}
			if (hit)
				break;
		}
	}
}

void verify_check_nat(struct verify_ctx *ctx)
{
	struct mcg_check *check = &ctx->checks[CHECK_NAT];
	char ports[256];

	if (!ctx->root) {
		mcg_check_set(check, MCG_CHECK_SKIP, "reading the nat table needs root");
		return;
	}
	if (!catcher_address_count(ctx)) {
		mcg_check_set(check, MCG_CHECK_SKIP,
			      "the catcher's addresses are unknown, because no process of the cgroup could be inspected");
		return;
	}
	for (size_t i = 0; i < ctx->netns_count; i++) {
		struct verify_netns *host = &ctx->netns[i];

		if (!host->is_host)
			continue;
		read_rules(host);
		judge_dnat_rules(ctx, host);
		if (host->rules_problem[0] && !mcg_check_count(check, MCG_CHECK_FAIL)) {
			mcg_check_could_not_run(check, "read the nat rules of %s: %s", host->label,
						host->rules_problem);
			return;
		}
	}
	verify_ports_text(ctx, ports, sizeof(ports));
	if (mcg_check_count(check, MCG_CHECK_FAIL))
		mcg_check_set(check, MCG_CHECK_FAIL,
			      "DNAT rules forward traffic from other hosts to the catcher; remove the port mapping that made them");
	else if (mcg_check_count(check, MCG_CHECK_WARN))
		mcg_check_set(check, MCG_CHECK_WARN, "DNAT rules with destinations mcguard cannot decode");
	else
		mcg_check_set(check, MCG_CHECK_PASS, "no DNAT rule toward the catcher's addresses on ports %s",
			      ports);
}

/* IPv6 */

/* Is IPv6 on in ns? Returns 1 or 0, or -errno when that cannot be read. */
static int ipv6_enabled(struct verify_netns *ns)
{
	char *data;
	size_t len;
	int err, enabled;

	err = mcg_netns_collect(ns->path, copy_file, "/proc/sys/net/ipv6/conf/all/disable_ipv6", &data,
				&len);
	if (err)
		return err;
	/* An empty output means no such file, so the kernel has no IPv6. */
	enabled = len > 0 && data[0] == '0';
	free(data);
	return enabled;
}

/* Find the first filter rule of ns with an explicit match on port for a family, or NULL. */
static const struct mcg_nf_rule *filter_rule_for(const struct verify_netns *ns, __u16 port,
						  unsigned int family)
{
	for (size_t r = 0; r < ns->rules.count; r++) {
		const struct mcg_nf_rule *rule = &ns->rules.items[r];

		if (rule->kind == MCG_NF_FILTER && rule->dport_count && (rule->families & family) &&
		    mcg_nf_rule_matches_port(rule, port))
			return rule;
	}
	return NULL;
}

/* Warn about each catcher port that only IPv4 filter rules match in ns. */
static void judge_ipv6(struct verify_ctx *ctx, struct verify_netns *ns)
{
	for (size_t p = 0; p < ctx->port_count; p++) {
		const struct mcg_nf_rule *v4 = filter_rule_for(ns, ctx->ports[p], MCG_NF_IPV4);
		json_object *fields;

		if (!v4 || filter_rule_for(ns, ctx->ports[p], MCG_NF_IPV6))
			continue;
		fields = json_object_new_object();
		json_object_object_add(fields, "port", json_object_new_int(ctx->ports[p]));
		json_object_object_add(fields, "netns", json_object_new_string(ns->path));
		json_object_object_add(fields, "rule", json_object_new_string(v4->text));
		mcg_check_add(ctx->checks + CHECK_IPV6, MCG_CHECK_WARN, "ipv4-only", false, fields,
			      "port %u in %s: only IPv4 filter rules match it (%s), and IPv6 is enabled there, so IPv6 traffic to the port is not filtered",
			      ctx->ports[p], ns->label, v4->text);
	}
}

void verify_check_ipv6(struct verify_ctx *ctx)
{
	struct mcg_check *check = &ctx->checks[CHECK_IPV6];
	int enabled_count = 0;
	char ports[256];

	if (!ctx->root) {
		mcg_check_set(check, MCG_CHECK_SKIP, "reading filter rules needs root");
		return;
	}
	if (!ctx->port_count) {
		mcg_check_set(check, MCG_CHECK_SKIP, "no catcher port is known: give them with --port");
		return;
	}
	for (size_t i = 0; i < ctx->netns_count; i++) {
		struct verify_netns *ns = &ctx->netns[i];
		int enabled = ipv6_enabled(ns);

		if (enabled < 0) {
			mcg_check_could_not_run(check, "read the IPv6 setting of %s: %s", ns->label,
						strerror(-enabled));
			return;
		}
		if (!enabled)
			continue;
		enabled_count++;
		read_rules(ns);
		if (ns->rules_problem[0]) {
			mcg_check_could_not_run(check, "read the filter rules of %s: %s", ns->label,
						ns->rules_problem);
			return;
		}
		judge_ipv6(ctx, ns);
	}
	verify_ports_text(ctx, ports, sizeof(ports));
	if (mcg_check_count(check, MCG_CHECK_WARN))
		mcg_check_set(check, MCG_CHECK_WARN,
			      "IPv6 is enabled but only IPv4 filter rules cover the catcher's ports; add the same rules for IPv6 (an inet table in nftables, or ip6tables)");
	else if (!enabled_count)
		mcg_check_set(check, MCG_CHECK_PASS, "IPv6 is disabled in the namespaces checked");
	else
		mcg_check_set(check, MCG_CHECK_PASS,
			      "no filter rule covers ports %s for IPv4 only", ports);
}
