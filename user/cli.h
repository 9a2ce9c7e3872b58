/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Parsed command line shared by the subcommands. */
#ifndef MCG_CLI_H
#define MCG_CLI_H

#include <stdbool.h>
#include "mcguard.h"

/* Exit codes; "run" also exits with the command's own status. */
#define MCG_EXIT_OK 0
#define MCG_EXIT_FAILURE 1 /* runtime: not root, kernel refused, no guard there */
#define MCG_EXIT_USAGE 2   /* bad input: options, SPECs, paths */
#define MCG_EXIT_RUN_FAILED 125 /* run: mcguard itself failed, CMD did not start */
/* verify: 0 clean, 1 exposed (MCG_EXIT_FAILURE), 2 bad input, 3 a check could not run. */
#define MCG_EXIT_INCOMPLETE 3

#define MCG_MAX_VERIFY_PORTS 64
#define MCG_MAX_HOST_NETNS 8

struct mcg_cli {
	const char *command;
	const char *pin_root;
	bool json;
	bool force;
	bool all;
	bool keep;
	bool destroy;
	/* daemon */
	const char *config_path;
	const char **matches;
	int match_count;
	const char *metrics;
	bool detach_on_exit;
	unsigned int reconcile_seconds;
	bool strict;      /* verify: warnings fail too */
	bool allow_audit; /* verify: a guard in audit mode passes */
	/* daemon --kubernetes; NULL keeps the configuration's value */
	bool kubernetes;
	const char *selector;
	const char *node_name;
	const char *cgroup_driver;
	const char *service_account_dir;
	const char *api_server;
	const char *parent;
	/* Other ways to name the target cgroup than the CGROUP operand. */
	const char *unit;
	const char *container;
	const char *pid;
	const char *cgroup_root; /* where unit and container cgroups are looked up */
	unsigned short ports[MCG_MAX_VERIFY_PORTS]; /* verify --port */
	unsigned int port_count;
	const char *host_netns[MCG_MAX_HOST_NETNS]; /* verify --host-netns */
	unsigned int host_netns_count;
	bool policy_given; /* any policy option was given */
	struct mcg_policy policy;
	int argc; /* operands after the options */
	char **argv;
};

int mcg_cmd_attach(struct mcg_cli *cli);
int mcg_cmd_detach(struct mcg_cli *cli);
int mcg_cmd_status(struct mcg_cli *cli);
int mcg_cmd_events(struct mcg_cli *cli);
int mcg_cmd_run(struct mcg_cli *cli);
int mcg_cmd_scan(struct mcg_cli *cli);
int mcg_cmd_daemon(struct mcg_cli *cli);
int mcg_cmd_verify(struct mcg_cli *cli);

/* Fail with MCG_EXIT_FAILURE unless running as root; logs why. */
int mcg_require_root(const struct mcg_cli *cli);

#endif
