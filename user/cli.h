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
	/* daemon --kubernetes; NULL keeps the configuration's value */
	bool kubernetes;
	const char *selector;
	const char *node_name;
	const char *cgroup_root;
	const char *cgroup_driver;
	const char *service_account_dir;
	const char *api_server;
	const char *parent;
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

/* Fail with MCG_EXIT_FAILURE unless running as root; logs why. */
int mcg_require_root(const struct mcg_cli *cli);

#endif
