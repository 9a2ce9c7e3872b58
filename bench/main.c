// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* mcgbench: dispatch to the subcommands that bench/run.sh drives. */
#include <stdio.h>
#include <string.h>

#include "bench.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "ops", cmd_ops, "per-operation cost of bind, TCP connect and UDP send per configuration" },
	{ "bulk", cmd_bulk, "TCP bulk transfer to a peer per configuration" },
	{ "deny", cmd_deny, "cost of a denied call with and without an event" },
	{ "flood", cmd_flood, "denied calls as fast as possible or at a fixed rate" },
	{ "latency", cmd_latency, "time from a denied call to its line from 'mcguard events'" },
	{ "format", cmd_format, "JSON and text formatting rate of mcguard's event formatter" },
	{ "skb-attach", cmd_skb_attach, "attach the cgroup_skb egress filter and pin its link" },
};

#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	fprintf(out, "Usage: mcgbench COMMAND [OPTIONS]\n\nCommands:\n");
	for (size_t i = 0; i < COMMAND_COUNT; i++)
		fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nbench/run.sh sets up the cgroups and namespaces and runs them all.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < COMMAND_COUNT; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "mcgbench: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
