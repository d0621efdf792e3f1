/* Command-line parsing for the safenic tool.
 *
 * Each command declares its options once, as a table of struct arg_option;
 * the same table drives parsing and the --help text, so the two cannot
 * drift apart, and every default shown in --help is the value the command
 * really starts from.
 *
 * The value parsers return 0 or -EINVAL and fill a message that quotes the
 * bad text; they never print or exit, so they are unit-tested directly.
 */
#ifndef SAFENIC_CLI_ARGS_H
#define SAFENIC_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses shared by every command. */
enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILURE = 1,   /* runtime error, or a receiver's check failed */
	CLI_EXIT_USAGE = 2,     /* bad command line */
};

#define ARG_ERROR_LEN 200

struct arg_error {
	char msg[ARG_ERROR_LEN];
};

/* Durations are kept in nanoseconds; the longest accepted is ten years,
 * far from overflowing when added to a CLOCK_MONOTONIC reading. */
#define ARG_NS_PER_SEC UINT64_C(1000000000)
#define ARG_DURATION_MAX_NS (UINT64_C(10) * 365 * 24 * 3600 * ARG_NS_PER_SEC)

/* Decimal integer, optionally followed by k, M or G (x1000, x1e6, x1e9),
 * within [min, max]. No sign, no spaces, no trailing characters. */
int arg_parse_uint(const char *text, uint64_t min, uint64_t max,
		   uint64_t *out, struct arg_error *err);
/* Seconds with an optional fraction and unit: "10", "1.5", "250ms", "2m",
 * "1h"; "s" is the default unit. */
int arg_parse_duration(const char *text, uint64_t *ns_out,
		       struct arg_error *err);
/* Six pairs of hex digits separated by ':' (or all by '-'). */
int arg_parse_mac(const char *text, uint8_t mac[6], struct arg_error *err);
/* Dotted quad; the result is in host byte order. Leading zeros are refused
 * because some tools read them as octal. */
int arg_parse_ipv4(const char *text, uint32_t *addr_out,
		   struct arg_error *err);

/* IPv6 in any form inet_pton(3) accepts (RFC 4291 text, "::" allowed);
 * the result is in network byte order. */
int arg_parse_ipv6(const char *text, uint8_t addr[16], struct arg_error *err);

/* CPU (core) numbers as the kernel numbers them: "3", "0,2", "1-3",
 * "0,4-5", in the order given (repeats kept: the caller decides), each
 * below ARG_MAX_CPU, at most max of them. */
#define ARG_MAX_CPU 1024
/* The index of text among the '|'-separated words of choices. */
int arg_parse_choice(const char *text, const char *choices, unsigned *out,
		     struct arg_error *err);

int arg_parse_cpu_list(const char *text, uint16_t *cpus, size_t max,
		       size_t *count, struct arg_error *err);

#define ARG_MAC_TEXT_LEN 18
#define ARG_IPV4_TEXT_LEN 16
#define ARG_IPV6_TEXT_LEN 46
void arg_format_mac(const uint8_t mac[6], char out[ARG_MAC_TEXT_LEN]);
void arg_format_ipv4(uint32_t addr, char out[ARG_IPV4_TEXT_LEN]);
void arg_format_ipv6(const uint8_t addr[16], char out[ARG_IPV6_TEXT_LEN]);

/* ---- option tables ---------------------------------------------------- */

enum arg_kind {
	ARG_FLAG,      /* target: bool */
	ARG_UINT,      /* target: uint64_t, within [min, max] */
	ARG_DURATION,  /* target: uint64_t nanoseconds */
	ARG_MAC,       /* target: struct arg_mac */
	ARG_IPV4,      /* target: uint32_t, host byte order */
	ARG_IPV6,      /* target: struct arg_ipv6 */
	ARG_STRING,    /* target: const char *, pointing into argv */
	ARG_CHOICE,    /* target: unsigned, the index of the word given among
			* the metavar's words ("auto|thp|4k") */
};

/* A MAC option whose default is decided later (e.g. the device's own). */
struct arg_mac {
	uint8_t addr[6];
	bool given;
};

/* An IPv6 option, which has no natural "unset" value. */
struct arg_ipv6 {
	uint8_t addr[16];
	bool given;
};

struct arg_option {
	const char *name;          /* long name without the leading "--" */
	enum arg_kind kind;
	void *target;              /* holds the default before parsing */
	uint64_t min, max;         /* ARG_UINT only */
	const char *metavar;       /* "N", "PPS"...; NULL for flags */
	const char *help;
	const char *default_text;  /* NULL: show the target's initial value */
};

/* A one-letter spelling of a long option: -w FILE for --write FILE. */
struct arg_alias {
	char letter;
	const char *name;          /* the long option's name */
};

struct arg_command {
	const char *name;          /* "gen" */
	const char *positional;    /* "DEV", "DEV_A DEV_B", or "" */
	size_t min_positional, max_positional;
	const char *description;   /* a paragraph, printed under Usage */
	const struct arg_option *options;
	size_t option_count;
	const struct arg_alias *aliases;   /* may be NULL */
	size_t alias_count;
};

#define ARGS_MAX_POSITIONAL 4

enum args_result {
	ARGS_RUN = 0,              /* parsed; run the command */
	ARGS_HELP = 1,             /* --help was given */
};

/* argv[0] is the command name. Fills the option targets and up to
 * ARGS_MAX_POSITIONAL positional arguments. Returns an args_result, or
 * -EINVAL with a message naming the offending option or argument. */
int args_parse(const struct arg_command *cmd, int argc, char **argv,
	       const char *positional[ARGS_MAX_POSITIONAL],
	       size_t *positional_count, struct arg_error *err);

void args_print_help(FILE *out, const struct arg_command *cmd);

/* Prints "safenic CMD: MESSAGE" and a pointer to --help on stderr;
 * returns CLI_EXIT_USAGE for the caller to return. */
int args_usage_error(const struct arg_command *cmd, const char *message);

/* The front door of a command: parse, and on --help or a usage error print
 * what is needed. Returns true when the command should run; otherwise
 * *status is the exit status to return. */
bool args_parse_command(const struct arg_command *cmd, int argc, char **argv,
			const char *positional[ARGS_MAX_POSITIONAL],
			size_t *positional_count, int *status);

#endif
