// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* mcguard: keep a mail catcher's sockets on loopback, enforced by cgroup BPF. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "guard.h"
#include "log.h"
#include "parse.h"
#include "pod.h"
#include "policy.h"

/* Command bits: the commands that accept an option. */
#define FOR_ATTACH 0x01
#define FOR_DETACH 0x02
#define FOR_STATUS 0x04
#define FOR_EVENTS 0x08
#define FOR_RUN 0x10
#define FOR_SCAN 0x20
#define FOR_DAEMON 0x40
#define FOR_VERIFY 0x80
#define FOR_ALL 0xff
#define FOR_POLICY (FOR_ATTACH | FOR_RUN | FOR_DAEMON)

enum option_id {
	OPT_HELP = 'h',
	OPT_VERBOSE = 'v',
	OPT_PIN_ROOT = 256,
	OPT_MODE,
	OPT_WILDCARD,
	OPT_WILDCARD6,
	OPT_ALLOW_CONNECT,
	OPT_ALLOW_BIND,
	OPT_FORCE,
	OPT_ALL,
	OPT_JSON,
	OPT_PARENT,
	OPT_KEEP,
	OPT_VERSION,
	OPT_NO_BACKSTOP,
	OPT_DESTROY,
	OPT_CONFIG,
	OPT_MATCH,
	OPT_METRICS,
	OPT_DETACH_ON_EXIT,
	OPT_RECONCILE,
	OPT_STRICT,
	OPT_ALLOW_AUDIT,
	OPT_PORT,
	OPT_UNIT,
	OPT_PID,
	OPT_CONTAINER,
	OPT_CGROUP_ROOT,
	OPT_HOST_NETNS,
	OPT_KUBERNETES,
	OPT_SELECTOR,
	OPT_NODE_NAME,
	OPT_CGROUP_DRIVER,
	OPT_SERVICE_ACCOUNT_DIR,
	OPT_API_SERVER,
};

/* The one table of options: parsing and help come from it. */
static const struct option_spec {
	const char *name;
	int id;
	const char *argument;
	unsigned int commands;
	const char *help;
} option_specs[] = {
	{ "mode", OPT_MODE, "enforce|audit", FOR_POLICY,
	  "enforce denies (default); audit allows and reports what enforce would deny" },
	{ "wildcard", OPT_WILDCARD, "deny|loopback", FOR_POLICY,
	  "a bind to 0.0.0.0, :: or ::ffff:0.0.0.0 is denied (default) or rewritten to loopback" },
	{ "wildcard6", OPT_WILDCARD6, "mapped|ipv6", FOR_POLICY,
	  "with --wildcard loopback, :: becomes ::ffff:127.0.0.1 (default) or ::1" },
	{ "allow-connect", OPT_ALLOW_CONNECT, "SPEC", FOR_POLICY,
	  "also allow connects and datagrams to SPEC (repeatable, up to 16)" },
	{ "allow-bind", OPT_ALLOW_BIND, "SPEC", FOR_POLICY,
	  "also allow binds to SPEC (repeatable, up to 16)" },
	{ "no-backstop", OPT_NO_BACKSTOP, NULL, FOR_POLICY,
	  "do not hold sockets to the loopback device (implied by --allow-connect and --allow-bind)" },
	{ "force", OPT_FORCE, NULL, FOR_ATTACH | FOR_DAEMON,
	  "attach to a cgroup that contains mcguard itself or has busy child cgroups" },
	{ "all", OPT_ALL, NULL, FOR_DETACH, "detach every guard and remove all pins" },
	{ "config", OPT_CONFIG, "FILE", FOR_DAEMON,
	  "read guards from FILE (default " MCG_DEFAULT_CONFIG ", unless --match is given)" },
	{ "match", OPT_MATCH, "GLOB", FOR_DAEMON,
	  "guard every cgroup whose path below the cgroup2 mount matches GLOB, with the policy options (repeatable)" },
	{ "metrics", OPT_METRICS, "ADDR:PORT", FOR_DAEMON,
	  "serve Prometheus metrics at http://ADDR:PORT/metrics, as 127.0.0.1:9464" },
	{ "reconcile", OPT_RECONCILE, "SECONDS", FOR_DAEMON,
	  "rescan the cgroup tree this often (default 30)" },
	{ "detach-on-exit", OPT_DETACH_ON_EXIT, NULL, FOR_DAEMON,
	  "detach the daemon's guards when it stops (by default they stay)" },
	{ "kubernetes", OPT_KUBERNETES, NULL, FOR_DAEMON,
	  "guard the pods of this node that match --selector, listed and watched through the Kubernetes API; the policy options set their base policy" },
	{ "selector", OPT_SELECTOR, "SELECTOR", FOR_DAEMON,
	  "label selector of the pods to guard (default " MCG_DEFAULT_SELECTOR ")" },
	{ "node-name", OPT_NODE_NAME, "NAME", FOR_DAEMON,
	  "the node whose pods to guard (default $NODE_NAME)" },
	{ "cgroup-driver", OPT_CGROUP_DRIVER, "DRIVER", FOR_DAEMON,
	  "kubelet's cgroup driver: auto (default, looks for both layouts), systemd or cgroupfs" },
	{ "service-account-dir", OPT_SERVICE_ACCOUNT_DIR, "DIR", FOR_DAEMON,
	  "directory of the token and ca.crt (default " MCG_DEFAULT_SERVICE_ACCOUNT_DIR ")" },
	{ "api-server", OPT_API_SERVER, "URL", FOR_DAEMON,
	  "https:// URL of the API server (default from $KUBERNETES_SERVICE_HOST and $KUBERNETES_SERVICE_PORT)" },
	{ "json", OPT_JSON, NULL, FOR_STATUS | FOR_EVENTS | FOR_SCAN | FOR_DAEMON | FOR_VERIFY,
	  "print JSON: one object per event or socket; status prints one document" },
	{ "destroy", OPT_DESTROY, NULL, FOR_SCAN,
	  "close each escaped socket that only guarded processes hold (SOCK_DESTROY)" },
	{ "parent", OPT_PARENT, "CGROUP", FOR_RUN,
	  "create the cgroup of CMD below CGROUP (default: mcguard below the cgroup2 mount)" },
	{ "keep", OPT_KEEP, NULL, FOR_RUN, "keep the cgroup and its guard after CMD exits" },
	{ "unit", OPT_UNIT, "NAME", FOR_ATTACH | FOR_VERIFY,
	  "the cgroup of systemd unit NAME (its ControlGroup property, from systemctl show)" },
	{ "container", OPT_CONTAINER, "NAME|ID", FOR_ATTACH | FOR_VERIFY,
	  "the cgroup of a Docker or Podman container, named through the engine's CLI, or by its full ID without one" },
	{ "pid", OPT_PID, "PID", FOR_VERIFY, "the cgroup of process PID" },
	{ "cgroup-root", OPT_CGROUP_ROOT, "DIR", FOR_ATTACH | FOR_VERIFY | FOR_DAEMON,
	  "look up --unit and --container cgroups, and kubelet's kubepods, below DIR (default: the cgroup2 mount)" },
	{ "strict", OPT_STRICT, NULL, FOR_VERIFY, "exit 1 on warnings too" },
	{ "allow-audit", OPT_ALLOW_AUDIT, NULL, FOR_VERIFY, "accept a guard in audit mode" },
	{ "port", OPT_PORT, "N", FOR_VERIFY,
	  "count port N (1-65535) as one of the catcher's ports, for the host-side and IPv6 checks (repeatable, up to 64)" },
	{ "host-netns", OPT_HOST_NETNS, "FILE", FOR_VERIFY,
	  "the network namespace where the catcher's ports are published, such as /run/netns/NAME (repeatable, up to 8; default: mcguard's own)" },
	{ "pin-root", OPT_PIN_ROOT, "DIR", FOR_ALL,
	  "bpffs directory of mcguard's pins (default " MCG_DEFAULT_PIN_ROOT ")" },
	{ "verbose", OPT_VERBOSE, NULL, FOR_ALL, "debug output, with libbpf's verifier log" },
	{ "help", OPT_HELP, NULL, FOR_ALL, "show this help" },
};

#define OPTION_COUNT (sizeof(option_specs) / sizeof(option_specs[0]))

static const struct command {
	const char *name;
	unsigned int bit;
	int (*handler)(struct mcg_cli *cli);
	const char *usage;
	const char *summary;
	const char *examples;
} commands[] = {
	{ "attach", FOR_ATTACH, mcg_cmd_attach,
	  "attach [OPTIONS] CGROUP|--unit NAME|--container NAME|ID",
	  "Guard CGROUP and its descendants: binds stay on loopback, connects and datagrams\n"
	  "stay off remote hosts. The guard is pinned and outlives this command; attaching\n"
	  "again replaces the policy in one step.",
	  "  mcguard attach system.slice/mailpit.service\n"
	  "  mcguard attach --wildcard loopback --allow-connect udp:192.0.2.53:53 mailhog\n"
	  "  mcguard attach --wildcard loopback --unit mailpit.service\n" },
	{ "detach", FOR_DETACH, mcg_cmd_detach, "detach [OPTIONS] CGROUP | --all",
	  "Remove mcguard's programs and pins from CGROUP. Other programs stay.",
	  "  mcguard detach system.slice/mailpit.service\n  mcguard detach --all\n" },
	{ "status", FOR_STATUS, mcg_cmd_status, "status [OPTIONS] [CGROUP]",
	  "List guards with their policy, counters and the hooks the kernel really has.",
	  "  mcguard status\n  mcguard status --json mailpit\n" },
	{ "events", FOR_EVENTS, mcg_cmd_events, "events [OPTIONS] [CGROUP]",
	  "Stream denied, rewritten and audited calls until interrupted. Only one events\n"
	  "stream can read a pin root at a time.",
	  "  mcguard events\n  mcguard events --json | jq .\n" },
	{ "scan", FOR_SCAN, mcg_cmd_scan, "scan [OPTIONS] [CGROUP]",
	  "List sockets of guarded processes that escaped the guard: created before it was\n"
	  "attached or before their process joined the cgroup, or passed in from outside.\n"
	  "The kernel hooks never judge them. Exits 0 when none are found (or, with\n"
	  "--destroy, all were closed), 1 otherwise.",
	  "  mcguard scan\n  mcguard scan --json system.slice/mailpit.service\n"
	  "  mcguard scan --destroy mailhog\n" },
	{ "daemon", FOR_DAEMON, mcg_cmd_daemon, "daemon [OPTIONS]",
	  "Keep every cgroup that the configuration matches guarded: attach as cgroups\n"
	  "appear (inotify on the cgroup tree), rescan periodically, adopt and repair\n"
	  "existing guards, stream events. Guards stay in place when it stops. SIGHUP\n"
	  "reloads the configuration; a bad one keeps the old. With --kubernetes (or a\n"
	  "kubernetes group in the file) it also guards the pod cgroups of the pods on\n"
	  "this node that match a label selector, as a DaemonSet.",
	  "  mcguard daemon\n"
	  "  mcguard daemon --match 'catchers/*' --wildcard loopback --metrics 127.0.0.1:9464\n"
	  "  mcguard daemon --kubernetes --wildcard loopback --metrics 0.0.0.0:9464\n" },
	{ "verify", FOR_VERIFY, mcg_cmd_verify,
	  "verify [OPTIONS] CGROUP|--unit NAME|--pid PID|--container NAME|ID",
	  "Check that a catcher is not exposed: the guard is in effect per the kernel; no\n"
	  "listener or bound UDP socket of its processes is reachable from other hosts, in\n"
	  "their own network namespaces; no port publisher (docker-proxy, rootlesskit,\n"
	  "kubectl port-forward, ...) listens on its ports on the host side; the engine\n"
	  "publishes none of its ports; no DNAT rule forwards to it; and no port has IPv4\n"
	  "filter rules only on a host with IPv6. Prints PASS, FAIL, WARN or SKIP per check.\n"
	  "Exits 0 when clean (warnings fail only with --strict), 1 when exposed, 2 on bad\n"
	  "input, 3 when a check could not run. Without root, the checks that need it are\n"
	  "skipped and do not change the exit status.",
	  "  mcguard verify system.slice/mailpit.service\n"
	  "  mcguard verify --unit mailpit.service --strict\n"
	  "  mcguard verify --json --container mailpit | jq '.checks[] | select(.status != \"pass\")'\n" },
	{ "run", FOR_RUN, mcg_cmd_run, "run [OPTIONS] -- CMD [ARGS...]",
	  "Start CMD in a new guarded cgroup, so its sockets are guarded from the first\n"
	  "syscall. Exits with CMD's status, or 125 when mcguard fails (CMD does not start).",
	  "  mcguard run -- maildev\n"
	  "  mcguard run --wildcard loopback -- python3 -m aiosmtpd -n -l 0.0.0.0:8025\n" },
};

#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

static void print_usage(FILE *out)
{
	fprintf(out,
		"Usage: mcguard [--pin-root DIR] [-v] COMMAND [OPTIONS] [ARGS]\n"
		"\n"
		"Keep a development mail catcher on loopback with cgroup BPF programs.\n"
		"\n"
		"Commands:\n");
	for (size_t i = 0; i < COMMAND_COUNT; i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].usage);
	fprintf(out,
		"\n"
		"CGROUP is a cgroup v2 directory, absolute or relative to the cgroup2 mount.\n"
		"SPEC is [tcp:|udp:]ADDRESS[/PREFIX][:PORT[-PORT]]; an IPv6 address with a\n"
		"port goes in brackets with its prefix: tcp:[2001:db8::/32]:587.\n"
		"\n"
		"Exit status: 0 success, 1 failure, 2 invalid usage; run: CMD's status or 125;\n"
		"verify: 0 clean, 1 exposed, 3 a check could not run.\n"
		"Run 'mcguard COMMAND --help' for a command's options. See mcguard(8).\n");
}

/* Print text wrapped to 80 columns, continuation lines indented to column 33. */
static void print_wrapped(const char *text, size_t column)
{
	const size_t width = 80, indent = 33;

	while (*text) {
		size_t room = width > column ? width - column : 20;
		size_t len = strlen(text), cut = len;

		if (len > room) {
			cut = room;
			while (cut > 0 && text[cut] != ' ')
				cut--;
			if (cut == 0)
				cut = room;
		}
		printf("%.*s\n", (int)cut, text);
		text += cut;
		while (*text == ' ')
			text++;
		if (*text)
			printf("%*s", (int)indent, "");
		column = indent;
	}
}

static void print_command_help(const struct command *cmd)
{
	printf("Usage: mcguard %s\n\n%s\n\nOptions:\n", cmd->usage, cmd->summary);
	for (size_t i = 0; i < OPTION_COUNT; i++) {
		const struct option_spec *opt = &option_specs[i];
		char left[48];

		if (!(opt->commands & cmd->bit))
			continue;
		if (opt->id < 256)
			snprintf(left, sizeof(left), "-%c, --%s", opt->id, opt->name);
		else
			snprintf(left, sizeof(left), "--%s%s%s", opt->name, opt->argument ? " " : "",
				 opt->argument ? opt->argument : "");
		printf("  %-30s ", left);
		print_wrapped(opt->help, 33);
	}
	printf("\nExamples:\n%s", cmd->examples);
}

/* The command whose options are being parsed, for the help hint of usage errors. */
static const char *usage_command;

static int usage_error(const char *fmt, const char *arg)
{
	fputs("mcguard: error: ", stderr);
	fprintf(stderr, fmt, arg);
	if (usage_command)
		fprintf(stderr, "\nTry 'mcguard %s --help'.\n", usage_command);
	else
		fputs("\nTry 'mcguard --help'.\n", stderr);
	return MCG_EXIT_USAGE;
}

/* Explain an option that getopt_long rejected: unknown, misplaced or missing its value. */
static int option_error(const struct command *cmd, int id, const char *text)
{
	char name[64];
	size_t len;

	if (id == ':')
		return usage_error("option %s needs a value", text);
	if (strncmp(text, "--", 2))
		return usage_error("invalid option %s", text);
	len = strcspn(text + 2, "=");
	snprintf(name, sizeof(name), "%.*s", (int)(len < 63 ? len : 63), text + 2);
	for (size_t i = 0; i < OPTION_COUNT; i++) {
		if (strcmp(option_specs[i].name, name))
			continue;
		if (!(option_specs[i].commands & cmd->bit)) {
			char message[128];

			snprintf(message, sizeof(message), "option --%s does not apply to 'mcguard %s'",
				 name, cmd->name);
			return usage_error("%s", message);
		}
		return usage_error("option %s takes no value", text);
	}
	return usage_error("invalid option %s", text);
}

static int add_port(struct mcg_cli *cli, const char *arg)
{
	unsigned long port;

	if (mcg_parse_ulong(arg, 1, 65535, &port))
		return usage_error("invalid --port \"%s\": expected a number from 1 to 65535", arg);
	if (cli->port_count >= MCG_MAX_VERIFY_PORTS)
		return usage_error("too many --port: at most %s", "64");
	cli->ports[cli->port_count++] = port;
	return 0;
}

/* Apply one parsed option to cli; returns 0, or an exit code to stop with. */
static int apply_option(struct mcg_cli *cli, const struct command *cmd, int id, const char *arg)
{
	char error[256] = "";
	int err = 0;

	switch (id) {
	case OPT_HELP:
		print_command_help(cmd);
		exit(MCG_EXIT_OK);
	case OPT_VERBOSE:
		mcg_log_max = MCG_LOG_DEBUG;
		break;
	case OPT_PIN_ROOT:
		if (arg[0] != '/')
			return usage_error("invalid --pin-root \"%s\": expected an absolute path", arg);
		cli->pin_root = arg;
		break;
	case OPT_MODE:
		err = mcg_policy_set_mode(&cli->policy, arg, error, sizeof(error));
		break;
	case OPT_WILDCARD:
		err = mcg_policy_set_wildcard(&cli->policy, arg, error, sizeof(error));
		break;
	case OPT_WILDCARD6:
		err = mcg_policy_set_wildcard6(&cli->policy, arg, error, sizeof(error));
		break;
	case OPT_ALLOW_CONNECT:
	case OPT_ALLOW_BIND:
		err = mcg_policy_add_rule(&cli->policy, id == OPT_ALLOW_BIND, arg, error,
					  sizeof(error));
		break;
	case OPT_NO_BACKSTOP:
		cli->policy.backstop = MCG_BACKSTOP_OFF;
		break;
	case OPT_FORCE:
		cli->force = true;
		break;
	case OPT_ALL:
		cli->all = true;
		break;
	case OPT_JSON:
		cli->json = true;
		break;
	case OPT_PARENT:
		cli->parent = arg;
		break;
	case OPT_KEEP:
		cli->keep = true;
		break;
	case OPT_DESTROY:
		cli->destroy = true;
		break;
	case OPT_CONFIG:
		cli->config_path = arg;
		break;
	case OPT_MATCH: {
		const char **grown = realloc(cli->matches, (cli->match_count + 1) * sizeof(*grown));

		if (!grown)
			return MCG_EXIT_FAILURE;
		cli->matches = grown;
		cli->matches[cli->match_count++] = arg;
		break;
	}
	case OPT_METRICS:
		cli->metrics = arg;
		break;
	case OPT_DETACH_ON_EXIT:
		cli->detach_on_exit = true;
		break;
	case OPT_KUBERNETES:
		cli->kubernetes = true;
		break;
	case OPT_SELECTOR:
		if (!arg[0])
			return usage_error("%s", "invalid --selector \"\": expected a label selector such as app=mailpit");
		cli->selector = arg;
		break;
	case OPT_NODE_NAME:
		cli->node_name = arg;
		break;
	case OPT_CGROUP_ROOT:
		if (arg[0] != '/')
			return usage_error("invalid --cgroup-root \"%s\": expected an absolute path", arg);
		cli->cgroup_root = arg;
		break;
	case OPT_CGROUP_DRIVER:
		if (mcg_cgroup_driver_parse(arg) < 0)
			return usage_error("invalid --cgroup-driver \"%s\": expected auto, systemd or cgroupfs",
					   arg);
		cli->cgroup_driver = arg;
		break;
	case OPT_SERVICE_ACCOUNT_DIR:
		if (arg[0] != '/')
			return usage_error("invalid --service-account-dir \"%s\": expected an absolute path",
					   arg);
		cli->service_account_dir = arg;
		break;
	case OPT_API_SERVER:
		if (strncmp(arg, "https://", 8))
			return usage_error("invalid --api-server \"%s\": expected an https:// URL, because requests carry the service account token",
					   arg);
		cli->api_server = arg;
		break;
	case OPT_RECONCILE: {
		unsigned long seconds;

		if (mcg_parse_ulong(arg, 1, 3600, &seconds))
			return usage_error("invalid --reconcile \"%s\": expected 1 to 3600 seconds", arg);
		cli->reconcile_seconds = seconds;
		break;
	}
	case OPT_STRICT:
		cli->strict = true;
		break;
	case OPT_ALLOW_AUDIT:
		cli->allow_audit = true;
		break;
	case OPT_PORT:
		return add_port(cli, arg);
	case OPT_UNIT:
		cli->unit = arg;
		break;
	case OPT_PID:
		cli->pid = arg;
		break;
	case OPT_CONTAINER:
		cli->container = arg;
		break;
	case OPT_HOST_NETNS:
		if (cli->host_netns_count >= MCG_MAX_HOST_NETNS)
			return usage_error("too many --host-netns: at most %s", "8");
		cli->host_netns[cli->host_netns_count++] = arg;
		break;
	default:
		return usage_error("%s", "invalid option");
	}
	if (err)
		return usage_error("%s", error);
	if ((id >= OPT_MODE && id <= OPT_ALLOW_BIND) || id == OPT_NO_BACKSTOP)
		cli->policy_given = true;
	return 0;
}

/* Parse the options of one command from the table; operands stay in cli->argc/argv. */
static int parse_command_options(struct mcg_cli *cli, const struct command *cmd, int argc,
				 char **argv)
{
	struct option long_options[OPTION_COUNT + 1];
	size_t n = 0;
	int id;

	for (size_t i = 0; i < OPTION_COUNT; i++) {
		if (!(option_specs[i].commands & cmd->bit))
			continue;
		long_options[n++] = (struct option){ option_specs[i].name,
						     option_specs[i].argument ? required_argument
									      : no_argument,
						     NULL, option_specs[i].id };
	}
	long_options[n] = (struct option){ 0 };

	/*
	 * Options may follow operands, as in other GNU tools, except for run:
	 * there "+" stops at the first operand, so CMD keeps its own options.
	 */
	optind = 1;
	opterr = 0;
	/* A leading ":" makes getopt_long report a missing value as ':'. */
	usage_command = cmd->name;
	while ((id = getopt_long(argc, argv, cmd->bit == FOR_RUN ? "+:hv" : ":hv", long_options,
				 NULL)) != -1) {
		int code;

		if (id == '?' || id == ':')
			return option_error(cmd, id, argv[optind - 1]);
		code = apply_option(cli, cmd, id, optarg);
		if (code)
			return code;
	}
	cli->argc = argc - optind;
	cli->argv = argv + optind;
	return 0;
}

int mcg_require_root(const struct mcg_cli *cli)
{
	if (geteuid() == 0)
		return 0;
	pr_err("'mcguard %s' must run as root: it needs CAP_BPF and CAP_NET_ADMIN and the pins under bpffs",
	       cli->command);
	return MCG_EXIT_FAILURE;
}

int main(int argc, char **argv)
{
	struct mcg_cli cli = { .pin_root = MCG_DEFAULT_PIN_ROOT };
	const struct command *cmd = NULL;
	int first = 1, code;

	mcg_log_setup_libbpf();

	/* Options before the command: -v, --pin-root, --help, --version. */
	for (; first < argc && argv[first][0] == '-'; first++) {
		const char *arg = argv[first];

		if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			print_usage(stdout);
			return MCG_EXIT_OK;
		} else if (!strcmp(arg, "--version")) {
			printf("mcguard %s\n", MCG_VERSION);
			return MCG_EXIT_OK;
		} else if (!strcmp(arg, "-v") || !strcmp(arg, "--verbose")) {
			mcg_log_max = MCG_LOG_DEBUG;
		} else if (!strcmp(arg, "--pin-root") || !strncmp(arg, "--pin-root=", 11)) {
			const char *value = arg[10] == '=' ? arg + 11 : argv[first + 1];

			if (!value)
				return usage_error("option %s needs a value", arg);
			if (value[0] != '/')
				return usage_error("invalid --pin-root \"%s\": expected an absolute path",
						   value);
			cli.pin_root = value;
			if (arg[10] != '=')
				first++;
		} else {
			return usage_error("invalid option before the command: %s", arg);
		}
	}
	if (first >= argc) {
		print_usage(stderr);
		return MCG_EXIT_USAGE;
	}
	if (!strcmp(argv[first], "help")) {
		print_usage(stdout);
		return MCG_EXIT_OK;
	}
	for (size_t i = 0; i < COMMAND_COUNT; i++)
		if (!strcmp(argv[first], commands[i].name))
			cmd = &commands[i];
	if (!cmd)
		return usage_error("unknown command \"%s\"", argv[first]);

	cli.command = cmd->name;
	code = parse_command_options(&cli, cmd, argc - first, argv + first);
	/* Like env(1) and timeout(1), run keeps 125 for its own errors, CMD's codes for CMD. */
	if (code == MCG_EXIT_USAGE && cmd->bit == FOR_RUN)
		return MCG_EXIT_RUN_FAILED;
	if (code)
		return code;
	/* A socket held to lo cannot reach an allow-listed address outside loopback. */
	if (cli.policy.connect_count || cli.policy.bind_count)
		cli.policy.backstop = MCG_BACKSTOP_OFF;
	code = cmd->handler(&cli);
	free(cli.matches);
	return code;
}
