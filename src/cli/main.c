/* safenic: the command-line tool. Dispatches to a command (commands.h). */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "commands.h"

#ifndef SAFENIC_VERSION
#define SAFENIC_VERSION "unknown"
#endif

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "devices", cmd_devices,
	  "list network PCI devices and whether safenic drives them" },
	{ "gen", cmd_gen, "send test frames (sequence numbers, timestamps)" },
	{ "fwd", cmd_fwd, "forward frames between two devices, both ways" },
	{ "recv", cmd_recv, "receive test frames and check every one" },
	{ "dump", cmd_dump, "capture received frames to a pcap file" },
	{ "respond", cmd_respond,
	  "answer ARP, ping, neighbour solicitation and ping -6" },
	{ "bind", cmd_bind, "hand a device to vfio-pci (optionally to a user)" },
	{ "unbind", cmd_unbind, "give a device back to its kernel driver" },
	{ "hugepages", cmd_hugepages,
	  "show (and reserve) huge pages and what the commands use" },
};

#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

static void print_usage(FILE *out)
{
	size_t i;

	fprintf(out, "Usage: safenic COMMAND [options]\n\n"
		"User-space NIC drivers whose device DMA is fenced by the "
		"IOMMU (Linux VFIO).\n\nCommands:\n");
	for (i = 0; i < COMMAND_COUNT; i++)
		fprintf(out, "  %-10s %s\n", commands[i].name,
			commands[i].summary);
	fprintf(out, "\nOptions:\n"
		"  -h, --help     show this help and exit\n"
		"  --version      print the version and exit\n\n"
		"'safenic COMMAND --help' lists the options of a command.\n");
}

static const struct command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < COMMAND_COUNT; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* "safenic help gen" is "safenic gen --help". */
static int help_for(const char *name)
{
	const struct command *cmd = find_command(name);
	char *argv[] = { (char *)name, (char *)"--help", NULL };

	if (!cmd) {
		fprintf(stderr, "safenic: unknown command '%s'\n", name);
		return CLI_EXIT_USAGE;
	}
	return cmd->run(2, argv);
}

int main(int argc, char **argv)
{
	const struct command *cmd;
	const char *name = argc > 1 ? argv[1] : NULL;

	if (!name) {
		print_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 ||
	    (strcmp(name, "help") == 0 && argc == 2)) {
		print_usage(stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(name, "help") == 0)
		return help_for(argv[2]);
	if (strcmp(name, "--version") == 0) {
		printf("safenic %s\n", SAFENIC_VERSION);
		return CLI_EXIT_OK;
	}
	cmd = find_command(name);
	if (!cmd) {
		fprintf(stderr, "safenic: unknown command '%s'\nTry 'safenic "
			"--help'.\n", name);
		return CLI_EXIT_USAGE;
	}
	return cmd->run(argc - 1, argv + 1);
}
