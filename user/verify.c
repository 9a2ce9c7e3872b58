// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * verify: the operator's exposure checks as one command with an exit status
 * for CI. The guard and the catcher's own sockets are checked here; the host
 * side (publishers, nat rules, IPv6 filter rules) in verify_host.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/magic.h>
#include <netinet/in.h>
#include <json-c/json.h>

#include "cgroup.h"
#include "format.h"
#include "guard.h"
#include "log.h"
#include "mcguard_addr.h"
#include "policy.h"
#include "verify.h"

void verify_add_port(struct verify_ctx *ctx, __u16 port)
{
	size_t at = 0;

	if (!port)
		return;
	while (at < ctx->port_count && ctx->ports[at] < port)
		at++;
	if ((at < ctx->port_count && ctx->ports[at] == port) || ctx->port_count >= VERIFY_MAX_PORTS)
		return;
	memmove(&ctx->ports[at + 1], &ctx->ports[at], (ctx->port_count - at) * sizeof(ctx->ports[0]));
	ctx->ports[at] = port;
	ctx->port_count++;
}

char *verify_ports_text(const struct verify_ctx *ctx, char *buf, size_t size)
{
	size_t used = 0;

	snprintf(buf, size, "none");
	for (size_t i = 0; i < ctx->port_count && used + 8 < size; i++)
		used += snprintf(buf + used, size - used, "%s%u", i ? ", " : "", ctx->ports[i]);
	return buf;
}

/* The guard */

/* Write the hooks not set in present[] to buf ("bind4, connect6"); returns how many. */
static int missing_hooks(const bool present[MCG_HOOK_COUNT], char *buf, size_t size)
{
	size_t used = 0;
	int missing = 0;

	buf[0] = '\0';
	for (int h = 0; h < MCG_HOOK_COUNT; h++) {
		if (present[h])
			continue;
		missing++;
		if (used < size)
			used += snprintf(buf + used, size - used, "%s%s", used ? ", " : "", mcg_hook_name(h));
	}
	return missing;
}

/* Record the guard on one cgroup of the chain; returns true when it is in enforce mode. */
static bool add_guard_finding(struct verify_ctx *ctx, struct mcg_state *state, const char *path,
			      const char *rel, __u64 id)
{
	struct mcg_check *check = &ctx->checks[CHECK_GUARD];
	bool attached[MCG_HOOK_COUNT];
	struct mcg_counters counters;
	struct mcg_policy policy;
	char missing[256], summary[2048];
	json_object *fields;
	int absent;

	if (mcg_guard_read(state, id, &policy, &counters)) {
		mcg_check_add(check, MCG_CHECK_WARN, "guard", false, NULL,
			      "%s: the guard's policy cannot be read", rel);
		return false;
	}
	if (ctx->guard_count < VERIFY_MAX_GUARDS)
		ctx->policies[ctx->guard_count++] = policy;
	mcg_guard_query_hooks(state, path, attached);
	absent = missing_hooks(attached, missing, sizeof(missing));
	mcg_policy_summary(&policy, summary, sizeof(summary));

	fields = json_object_new_object();
	json_object_object_add(fields, "cgroup", json_object_new_string(rel));
	json_object_object_add(fields, "cgroup_id", json_object_new_uint64(id));
	mcg_policy_to_json(&policy, fields);
	json_object_object_add(fields, "hooks_attached", json_object_new_int(MCG_HOOK_COUNT - absent));
	mcg_check_add(check, absent ? MCG_CHECK_WARN : MCG_CHECK_PASS, "guard", false, fields,
		      "%s: %s; %d of %d hooks attached%s%s", rel, summary, MCG_HOOK_COUNT - absent,
		      MCG_HOOK_COUNT, absent ? ", missing: " : "", absent ? missing : "");
	return policy.mode == MCG_MODE_ENFORCE;
}

/* Walk from the target up to the cgroup2 mount; returns the number of guards found. */
static int find_guards(struct verify_ctx *ctx, struct mcg_state *state, bool *enforced)
{
	char mount_point[PATH_MAX], path[PATH_MAX];
	size_t mount_len;
	int found = 0;

	if (mcg_cgroup_mount(mount_point, sizeof(mount_point)))
		return 0;
	mount_len = strlen(mount_point);
	snprintf(path, sizeof(path), "%s", ctx->target.cg.path);
	while (strlen(path) > mount_len) {
		__u64 id;
		char *slash;

		if (!mcg_cgroup_id(path, &id) && mcg_guard_exists(state, id)) {
			found++;
			*enforced |= add_guard_finding(ctx, state, path, path + mount_len, id);
		}
		slash = strrchr(path, '/');
		if (!slash)
			break;
		*slash = '\0';
	}
	return found;
}

static void check_guard(struct verify_ctx *ctx)
{
	struct mcg_check *check = &ctx->checks[CHECK_GUARD];
	const char *pin_root = ctx->cli->pin_root, *rel = ctx->target.cg.rel;
	bool effective[MCG_HOOK_COUNT], enforced = false;
	struct mcg_state state;
	char missing[256];
	int err, found, absent;

	if (!ctx->root) {
		mcg_check_set(check, MCG_CHECK_SKIP,
			      "reading the pinned guard and the programs the kernel runs needs root");
		return;
	}
	err = mcg_state_open(&state, pin_root, false);
	if (err == -ENOENT) {
		mcg_check_set(check, MCG_CHECK_FAIL,
			      "no guard: nothing is pinned under %s; guard the catcher with 'mcguard attach'",
			      pin_root);
		return;
	}
	if (err) {
		mcg_check_could_not_run(check, "open the pins under %s: %s", pin_root, strerror(-err));
		return;
	}
	mcg_state_unlock(&state);

	found = find_guards(ctx, &state, &enforced);
	err = mcg_guard_query_effective(&state, ctx->target.cg.path, effective);
	mcg_state_close(&state);
	if (!found) {
		mcg_check_set(check, MCG_CHECK_FAIL,
			      "no guard on %s or a parent cgroup under %s; guard it with 'mcguard attach'",
			      rel, pin_root);
		return;
	}
	if (err) {
		mcg_check_could_not_run(check, "query the programs attached to %s: %s", rel,
					strerror(-err));
		return;
	}
	absent = missing_hooks(effective, missing, sizeof(missing));
	if (absent)
		mcg_check_set(check, MCG_CHECK_FAIL,
			      "%d of %d hooks do not run for %s per the kernel (%s); 'mcguard attach' repairs them",
			      absent, MCG_HOOK_COUNT, rel, missing);
	else if (!enforced && !ctx->cli->allow_audit)
		mcg_check_set(check, MCG_CHECK_FAIL,
			      "the guard is in audit mode: it reports calls but denies none; attach with --mode enforce, or pass --allow-audit");
	else if (!enforced)
		mcg_check_set(check, MCG_CHECK_PASS,
			      "all %d hooks run for %s per the kernel; audit mode, accepted by --allow-audit",
			      MCG_HOOK_COUNT, rel);
	else
		mcg_check_set(check, MCG_CHECK_PASS, "all %d hooks run for %s per the kernel, in enforce mode",
			      MCG_HOOK_COUNT, rel);
}

/* The catcher's sockets */

/* Name the families a listener accepts. A "::" socket without IPV6_V6ONLY takes IPv4 too. */
static const char *listener_families(const struct mcg_diag_sock *sock)
{
	if (sock->family == AF_INET || mcg_ip6_is_v4mapped(sock->src))
		return "IPv4";
	if (mcg_ip6_is_any(sock->src) && !sock->v6only)
		return "IPv4 and IPv6";
	return "IPv6";
}

static void format_local(const struct mcg_diag_sock *sock, char *buf, size_t size)
{
	unsigned int family = sock->family == AF_INET6 ? MCG_FAMILY_IPV6 : MCG_FAMILY_IPV4;

	mcg_format_endpoint(family, (const __u8 *)sock->src, sock->sport, buf, size);
}

static json_object *socket_fields(const struct verify_ctx *ctx, const struct mcg_held_socket *held,
				  bool listener)
{
	const struct mcg_diag_sock *sock = &held->diag;
	unsigned int family = sock->family == AF_INET6 ? MCG_FAMILY_IPV6 : MCG_FAMILY_IPV4;
	json_object *fields = json_object_new_object();
	char address[INET6_ADDRSTRLEN], protocol[8];
	const __u32 *addr = listener ? sock->src : sock->dst;

	(void)ctx;
	json_object_object_add(fields, "protocol", json_object_new_string(
		mcg_protocol_name(sock->protocol, protocol, sizeof(protocol))));
	json_object_object_add(fields, "address", json_object_new_string(
		mcg_format_addr(family, (const __u8 *)addr, address, sizeof(address))));
	json_object_object_add(fields, "port",
			       json_object_new_int(listener ? sock->sport : sock->dport));
	if (listener)
		json_object_object_add(fields, "families",
				       json_object_new_string(listener_families(sock)));
	json_object_object_add(fields, "pid", json_object_new_int(held->pid));
	json_object_object_add(fields, "comm", json_object_new_string(held->comm));
	json_object_object_add(fields, "fd", json_object_new_int(held->fd));
	json_object_object_add(fields, "netns", json_object_new_uint64(held->netns));
	return fields;
}

/* Does the socket escape any guard of the chain, so no hook judged it? */
static bool escapes_a_guard(const struct verify_ctx *ctx, const struct mcg_diag_sock *sock)
{
	for (int i = 0; i < ctx->guard_count; i++) {
		int bound;

		if (mcg_sock_escapes(sock, &ctx->policies[i], &bound))
			return true;
	}
	return false;
}

/* Judge one listening or bound socket; returns the status of its finding. */
static int judge_listener(struct verify_ctx *ctx, const struct mcg_held_socket *held)
{
	struct mcg_check *check = &ctx->checks[CHECK_SOCKETS];
	const struct mcg_diag_sock *sock = &held->diag;
	char local[INET6_ADDRSTRLEN + 16], protocol[8];
	const char *proto = mcg_protocol_name(sock->protocol, protocol, sizeof(protocol));
	json_object *fields = socket_fields(ctx, held, true);

	format_local(sock, local, sizeof(local));
	if (mcg_sock_local_is_loopback(sock)) {
		mcg_check_add(check, MCG_CHECK_PASS, "loopback", true, fields,
			      "%s %s pid %d %s: on loopback", proto, local, held->pid, held->comm);
		return MCG_CHECK_PASS;
	}
	if (sock->ifindex == MCG_LOOPBACK_IFINDEX) {
		mcg_check_add(check, MCG_CHECK_PASS, "contained", false, fields,
			      "%s %s (%s) pid %d %s: held to the loopback device, unreachable from other hosts",
			      proto, local, listener_families(sock), held->pid, held->comm);
		return MCG_CHECK_PASS;
	}
	if (ctx->guard_count && escapes_a_guard(ctx, sock)) {
		json_object_object_add(fields, "escaped", json_object_new_boolean(1));
		mcg_check_add(check, MCG_CHECK_FAIL, "escaped", false, fields,
			      "%s %s (%s) pid %d %s: escaped the guard, because it existed before the guard or before its process joined the cgroup; restart the process, or close it with 'mcguard scan --destroy'",
			      proto, local, listener_families(sock), held->pid, held->comm);
	} else {
		mcg_check_add(check, MCG_CHECK_FAIL, "exposed", false, fields,
			      "%s %s (%s) pid %d %s: listens on an address other hosts can reach%s",
			      proto, local, listener_families(sock), held->pid, held->comm,
			      ctx->guard_count ? " (allowed by the guard's --allow-bind list)" : "");
	}
	return MCG_CHECK_FAIL;
}

/* Report a connection to a remote host that no guard judged; returns true if it is one. */
static bool judge_connection(struct verify_ctx *ctx, const struct mcg_held_socket *held)
{
	const struct mcg_diag_sock *sock = &held->diag;
	unsigned int family = sock->family == AF_INET6 ? MCG_FAMILY_IPV6 : MCG_FAMILY_IPV4;
	char remote[INET6_ADDRSTRLEN + 16], protocol[8];

	if (!ctx->guard_count || !escapes_a_guard(ctx, sock))
		return false;
	mcg_format_endpoint(family, (const __u8 *)sock->dst, sock->dport, remote, sizeof(remote));
	mcg_check_add(&ctx->checks[CHECK_SOCKETS], MCG_CHECK_FAIL, "escaped", false,
		      socket_fields(ctx, held, false),
		      "%s connection to %s pid %d %s: escaped the guard; restart the process, or close it with 'mcguard scan --destroy'",
		      mcg_protocol_name(sock->protocol, protocol, sizeof(protocol)), remote, held->pid,
		      held->comm);
	return true;
}

/* Count the namespaces whose sockets could not be listed, with the first error. */
static int namespace_errors(const struct verify_ctx *ctx, int *first_error, int *first_pid)
{
	int errors = 0;

	for (size_t i = 0; i < ctx->sockets.netns_count; i++) {
		if (!ctx->sockets.netns[i].error)
			continue;
		if (!errors++) {
			*first_error = ctx->sockets.netns[i].error;
			*first_pid = ctx->sockets.netns[i].pid;
		}
	}
	return errors;
}

/* Set the result of the sockets check from its findings and what it could not read. */
static void conclude_sockets(struct verify_ctx *ctx, int exposed, int contained, int loopback)
{
	struct mcg_check *check = &ctx->checks[CHECK_SOCKETS];
	const struct mcg_cgroup_sockets *all = &ctx->sockets;
	int first_error = 0, first_pid = 0;
	int ns_errors = namespace_errors(ctx, &first_error, &first_pid);

	if (exposed) {
		mcg_check_set(check, MCG_CHECK_FAIL,
			      "%d socket%s reachable from other hosts or outside the guard (%d contained, %d on loopback)",
			      exposed, exposed == 1 ? " is" : "s are", contained, loopback);
	} else if (!ctx->root && (all->unreadable || ns_errors)) {
		mcg_check_set(check, MCG_CHECK_SKIP,
			      "%d of %d processes belong to other users or live in %d network namespace%s other than mcguard's; listing their sockets needs root",
			      all->unreadable, all->processes, ns_errors, ns_errors == 1 ? "" : "s");
	} else if (ns_errors) {
		mcg_check_could_not_run(check, "list the sockets in the network namespace of pid %d: %s",
					first_pid, strerror(first_error));
	} else if (all->unreadable) {
		mcg_check_could_not_run(check, "read the descriptors of %d of %d processes",
					all->unreadable, all->processes);
	} else {
		mcg_check_set(check, MCG_CHECK_PASS,
			      "no listener reachable from other hosts: %d on loopback, %d contained, %d process%s in %zu network namespace%s",
			      loopback, contained, all->processes, all->processes == 1 ? "" : "es",
			      all->netns_count, all->netns_count == 1 ? "" : "s");
	}
}

static void check_sockets(struct verify_ctx *ctx)
{
	struct mcg_check *check = &ctx->checks[CHECK_SOCKETS];
	int exposed = 0, contained = 0, loopback = 0, err;

	err = mcg_scan_cgroup(ctx->target.cg.path, &ctx->sockets);
	if (err) {
		mcg_check_could_not_run(check, "list the processes of %s: %s", ctx->target.cg.rel,
					strerror(-err));
		return;
	}
	ctx->sockets_listed = true;
	if (!ctx->sockets.processes) {
		mcg_check_set(check, MCG_CHECK_WARN,
			      "no process in %s: nothing to check; is the catcher running?",
			      ctx->target.cg.rel);
		return;
	}
	for (size_t i = 0; i < ctx->sockets.count; i++) {
		const struct mcg_held_socket *held = &ctx->sockets.sockets[i];

		if (!mcg_sock_is_listener(&held->diag)) {
			exposed += judge_connection(ctx, held);
			continue;
		}
		verify_add_port(ctx, held->diag.sport);
		switch (judge_listener(ctx, held)) {
		case MCG_CHECK_FAIL:
			exposed++;
			break;
		default:
			if (mcg_sock_local_is_loopback(&held->diag))
				loopback++;
			else
				contained++;
		}
	}
	conclude_sockets(ctx, exposed, contained, loopback);
}

/* The engine's published ports */

static void check_engine(struct verify_ctx *ctx)
{
	struct mcg_check *check = &ctx->checks[CHECK_ENGINE];
	const struct mcg_container *c = &ctx->target.container;
	int open_ports = 0;

	if (!ctx->target.is_container) {
		mcg_check_set(check, MCG_CHECK_SKIP, "not the cgroup of a Docker or Podman container");
		return;
	}
	if (!ctx->target.engine_answered) {
		mcg_check_set(check, MCG_CHECK_SKIP,
			      "container %.12s: no engine answered (%s); the publishers and nat checks still look for published ports",
			      c->id, ctx->target.engine_error);
		return;
	}
	for (unsigned int i = 0; i < c->port_count; i++) {
		const struct mcg_published_port *port = &c->ports[i];
		bool loopback = mcg_published_on_loopback(port);
		json_object *fields = json_object_new_object();
		char protocol[8];
		const char *proto = mcg_protocol_name(port->protocol, protocol, sizeof(protocol));

		verify_add_port(ctx, port->container_port);
		verify_add_port(ctx, port->host_port);
		json_object_object_add(fields, "protocol", json_object_new_string(proto));
		json_object_object_add(fields, "container_port", json_object_new_int(port->container_port));
		json_object_object_add(fields, "host_ip", json_object_new_string(port->host_ip));
		json_object_object_add(fields, "host_port", json_object_new_int(port->host_port));
		open_ports += !loopback;
		mcg_check_add(check, loopback ? MCG_CHECK_PASS : MCG_CHECK_FAIL, "published", false, fields,
			      "%u/%s published on %s port %u%s", port->container_port, proto,
			      port->host_ip[0] ? port->host_ip : "every address", port->host_port,
			      loopback ? ": loopback only" : ": reachable from other hosts");
	}
	if (open_ports)
		mcg_check_set(check, MCG_CHECK_FAIL,
			      "%s publishes %d port%s of container %s on addresses other hosts can reach; remove the port mappings (ports: in Compose, -p in docker run)",
			      c->engine, open_ports, open_ports == 1 ? "" : "s", c->name[0] ? c->name : c->id);
	else
		mcg_check_set(check, MCG_CHECK_PASS, "%s publishes %s of container %s%s", c->engine,
			      c->port_count ? "ports on loopback only" : "no ports",
			      c->name[0] ? c->name : c->id,
			      c->host_network ? " (it uses the host's network namespace)" : "");
}

/* The command */

/* Check the --host-netns files before any work; returns 0 or MCG_EXIT_USAGE. */
static int check_host_netns_options(const struct mcg_cli *cli)
{
	for (unsigned int i = 0; i < cli->host_netns_count; i++) {
		struct statfs sfs;

		if (statfs(cli->host_netns[i], &sfs) || sfs.f_type != NSFS_MAGIC) {
			pr_err("invalid --host-netns %s: not a namespace file such as /run/netns/NAME or /proc/PID/ns/net",
			       cli->host_netns[i]);
			return MCG_EXIT_USAGE;
		}
	}
	return 0;
}

static void describe_target(const struct verify_ctx *ctx, char *buf, size_t size)
{
	const struct mcg_target *target = &ctx->target;
	char ports[256];
	int used;

	used = snprintf(buf, size, "mcguard verify: cgroup %s (id %llu)", target->cg.rel,
			(unsigned long long)target->cg.id);
	if (strcmp(target->selector, "cgroup") && used > 0 && (size_t)used < size)
		used += snprintf(buf + used, size - used, " from --%s %s", target->selector,
				 target->value);
	if (target->is_container && used > 0 && (size_t)used < size)
		used += snprintf(buf + used, size - used, "; container %.12s%s%s%s (%s)",
				 target->container.id, target->container.name[0] ? " \"" : "",
				 target->container.name, target->container.name[0] ? "\"" : "",
				 target->scheme ? target->scheme : "named by its engine");
	if (used > 0 && (size_t)used < size)
		snprintf(buf + used, size - used, "; ports %s", verify_ports_text(ctx, ports, sizeof(ports)));
}

static void print_json(const struct verify_ctx *ctx, int code)
{
	json_object *root = json_object_new_object(), *target = json_object_new_object();
	json_object *ports = json_object_new_array(), *namespaces = json_object_new_array();

	json_object_object_add(root, "schema", json_object_new_int(MCG_JSON_SCHEMA));
	json_object_object_add(root, "type", json_object_new_string("verify"));
	json_object_object_add(target, "cgroup", json_object_new_string(ctx->target.cg.rel));
	json_object_object_add(target, "cgroup_id", json_object_new_uint64(ctx->target.cg.id));
	json_object_object_add(target, "selector", json_object_new_string(ctx->target.selector));
	json_object_object_add(target, "given", json_object_new_string(ctx->target.value));
	if (ctx->target.is_container) {
		json_object *container = json_object_new_object();

		json_object_object_add(container, "id", json_object_new_string(ctx->target.container.id));
		json_object_object_add(container, "name", json_object_new_string(ctx->target.container.name));
		json_object_object_add(container, "engine",
				       ctx->target.engine_answered
					       ? json_object_new_string(ctx->target.container.engine)
					       : NULL);
		json_object_object_add(container, "cgroup_scheme",
				       ctx->target.scheme ? json_object_new_string(ctx->target.scheme) : NULL);
		json_object_object_add(target, "container", container);
	}
	json_object_object_add(root, "target", target);
	for (size_t i = 0; i < ctx->port_count; i++)
		json_object_array_add(ports, json_object_new_int(ctx->ports[i]));
	json_object_object_add(root, "ports", ports);
	for (size_t i = 0; i < ctx->netns_count; i++) {
		json_object *ns = json_object_new_object();

		json_object_object_add(ns, "path", json_object_new_string(ctx->netns[i].path));
		json_object_object_add(ns, "host", json_object_new_boolean(ctx->netns[i].is_host));
		json_object_object_add(ns, "catcher", json_object_new_boolean(ctx->netns[i].is_catcher));
		json_object_array_add(namespaces, ns);
	}
	json_object_object_add(root, "namespaces", namespaces);
	mcg_checks_to_json(root, ctx->checks, CHECK_COUNT, code);
	printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
							    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
}

int mcg_cmd_verify(struct mcg_cli *cli)
{
	static const char *const names[CHECK_COUNT] = {
		[CHECK_GUARD] = "guard", [CHECK_SOCKETS] = "sockets", [CHECK_ENGINE] = "engine",
		[CHECK_PUBLISHERS] = "publishers", [CHECK_NAT] = "nat", [CHECK_IPV6] = "ipv6",
	};
	struct verify_ctx *ctx;
	char header[PATH_MAX * 2];
	int code;

	ctx = calloc(1, sizeof(*ctx));
	if (!ctx) {
		pr_err("verify: %s", strerror(ENOMEM));
		return MCG_EXIT_INCOMPLETE;
	}
	ctx->cli = cli;
	code = mcg_target_resolve(cli, &ctx->target);
	if (!code && !strcmp(ctx->target.cg.rel, "/")) {
		pr_err("%s is the cgroup2 root, not a catcher's cgroup; name the catcher's own cgroup",
		       ctx->target.cg.path);
		code = MCG_EXIT_USAGE;
	}
	if (!code)
		code = check_host_netns_options(cli);
	if (code) {
		free(ctx);
		return code;
	}

	ctx->root = geteuid() == 0;
	for (int i = 0; i < CHECK_COUNT; i++)
		mcg_check_init(&ctx->checks[i], names[i]);
	for (unsigned int i = 0; i < cli->port_count; i++)
		verify_add_port(ctx, cli->ports[i]);

	check_guard(ctx);
	check_sockets(ctx);
	check_engine(ctx);
	verify_setup_netns(ctx);
	verify_check_publishers(ctx);
	verify_check_nat(ctx);
	verify_check_ipv6(ctx);

	code = mcg_checks_exit_code(ctx->checks, CHECK_COUNT, cli->strict);
	if (cli->json) {
		print_json(ctx, code);
	} else {
		describe_target(ctx, header, sizeof(header));
		mcg_checks_print_text(stdout, header, ctx->checks, CHECK_COUNT, code);
	}

	for (int i = 0; i < CHECK_COUNT; i++)
		mcg_check_free(&ctx->checks[i]);
	mcg_cgroup_sockets_free(&ctx->sockets);
	verify_free_netns(ctx);
	free(ctx);
	return code;
}
