/* The safenic tool's argument parser (src/cli/args.c) on any command line.
 *
 * Input: the arguments, separated by NUL bytes (argv[0] is the command
 * name). Each argument lives in its own allocation of exactly its size,
 * so ASan sees a read past its end. The command's table has one option of
 * every kind, with an alias, and takes one or two positional arguments.
 *
 * Checked:
 *   - args_parse returns "run", "help" or -EINVAL; a refusal carries a
 *     message (terminated, within its array);
 *   - on "run": between one and two positional arguments, each one of
 *     argv's strings; every option's value within its limits (integers in
 *     [min, max], durations at most ten years), and a string option points
 *     at an argument;
 *   - every argument, parsed alone by each value parser, either fails with
 *     a message or gives a value that prints back to text that parses to
 *     the same value (integers, MAC, IPv4, IPv6). */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "fuzz_common.h"

#define MAX_ARGS 16
#define MAX_ARG_LEN 80

static void check_message(int rc, const struct arg_error *err, const char *what)
{
	FUZZ_CHECK(rc == 0 || rc == -EINVAL, "%s returned %d", what, rc);
	if (rc < 0)
		FUZZ_CHECK(memchr(err->msg, '\0', sizeof(err->msg)) && err->msg[0] != '\0',
			   "%s refused without a message", what);
}

/* Each value parser alone, and the round trip through its printer. */
static void check_value_parsers(const char *text)
{
	struct arg_error err;
	uint64_t u, again;
	char printed[ARG_IPV6_TEXT_LEN + 24];
	int rc;

	err.msg[0] = '\0';
	rc = arg_parse_uint(text, 0, UINT64_MAX, &u, &err);
	check_message(rc, &err, "arg_parse_uint");
	if (rc == 0) {
		snprintf(printed, sizeof(printed), "%" PRIu64, u);
		FUZZ_CHECK(arg_parse_uint(printed, u, u, &again, &err) == 0 && again == u,
			   "'%s' read as %" PRIu64 ", which does not read back", text, u);
	}

	err.msg[0] = '\0';
	rc = arg_parse_duration(text, &u, &err);
	check_message(rc, &err, "arg_parse_duration");
	if (rc == 0)
		FUZZ_CHECK(u <= ARG_DURATION_MAX_NS, "'%s' read as %" PRIu64 " ns", text, u);

	uint8_t mac[6], mac2[6];
	err.msg[0] = '\0';
	rc = arg_parse_mac(text, mac, &err);
	check_message(rc, &err, "arg_parse_mac");
	if (rc == 0) {
		arg_format_mac(mac, printed);
		FUZZ_CHECK(arg_parse_mac(printed, mac2, &err) == 0 && memcmp(mac, mac2, 6) == 0,
			   "MAC '%s' printed as '%s' does not read back", text, printed);
	}

	uint32_t ip, ip2;
	err.msg[0] = '\0';
	rc = arg_parse_ipv4(text, &ip, &err);
	check_message(rc, &err, "arg_parse_ipv4");
	if (rc == 0) {
		arg_format_ipv4(ip, printed);
		FUZZ_CHECK(arg_parse_ipv4(printed, &ip2, &err) == 0 && ip == ip2 &&
				   strcmp(printed, text) == 0,
			   "IPv4 '%s' printed as '%s'", text, printed);
	}

	uint8_t ip6[16], ip6b[16];
	err.msg[0] = '\0';
	rc = arg_parse_ipv6(text, ip6, &err);
	check_message(rc, &err, "arg_parse_ipv6");
	if (rc == 0) {
		arg_format_ipv6(ip6, printed);
		FUZZ_CHECK(arg_parse_ipv6(printed, ip6b, &err) == 0 && memcmp(ip6, ip6b, 16) == 0,
			   "IPv6 '%s' printed as '%s' does not read back", text, printed);
	}
}

static bool is_an_argument(const char *p, char **argv, int argc)
{
	for (int i = 0; i < argc; i++) {
		size_t len = strlen(argv[i]);
		if (p >= argv[i] && p <= argv[i] + len)
			return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[MAX_ARGS + 1];
	int argc = 0;
	size_t at = 0;

	argv[argc++] = strdup("fuzz");
	while (at < size && argc < MAX_ARGS) {
		const uint8_t *end = memchr(data + at, '\0', size - at);
		size_t len = end ? (size_t)(end - (data + at)) : size - at;
		if (len > MAX_ARG_LEN)
			len = MAX_ARG_LEN;
		char *arg = malloc(len + 1);
		FUZZ_CHECK(arg != NULL, "out of memory");
		memcpy(arg, data + at, len);
		arg[len] = '\0';
		argv[argc++] = arg;
		at += len + (end && data + at + len == end ? 1 : 0);
	}
	argv[argc] = NULL;

	bool flag = false;
	uint64_t count = 7, duration = 3 * ARG_NS_PER_SEC;
	struct arg_mac mac = { { 2, 0, 0, 0, 0, 1 }, false };
	uint32_t ip = 0xc0000201;
	struct arg_ipv6 ip6 = { { 0 }, false };
	const char *write = "default";
	const struct arg_option options[] = {
		{ "flag", ARG_FLAG, &flag, 0, 0, NULL, "a flag", NULL },
		{ "count", ARG_UINT, &count, 1, 1000000, "N", "a count", NULL },
		{ "duration", ARG_DURATION, &duration, 0, 0, "TIME", "a duration", NULL },
		{ "mac", ARG_MAC, &mac, 0, 0, "MAC", "a MAC", "the device's" },
		{ "ip", ARG_IPV4, &ip, 0, 0, "IPV4", "an IPv4 address", NULL },
		{ "ip6", ARG_IPV6, &ip6, 0, 0, "IPV6", "an IPv6 address", "none" },
		{ "write", ARG_STRING, &write, 0, 0, "FILE", "a path", NULL },
	};
	const struct arg_alias aliases[] = { { 'w', "write" }, { 'c', "count" } };
	const struct arg_command cmd = {
		.name = "fuzz", .positional = "DEV [DEV_B]",
		.min_positional = 1, .max_positional = 2,
		.description = "the harness's command",
		.options = options, .option_count = sizeof(options) / sizeof(options[0]),
		.aliases = aliases, .alias_count = sizeof(aliases) / sizeof(aliases[0]),
	};
	const char *positional[ARGS_MAX_POSITIONAL];
	size_t npos = 99;
	struct arg_error err;

	err.msg[0] = '\0';
	int rc = args_parse(&cmd, argc, argv, positional, &npos, &err);
	FUZZ_CHECK(rc == ARGS_RUN || rc == ARGS_HELP || rc == -EINVAL, "args_parse returned %d", rc);
	check_message(rc < 0 ? rc : 0, &err, "args_parse");
	FUZZ_CHECK(npos <= 2, "%zu positional arguments", npos);
	if (rc == ARGS_RUN) {
		FUZZ_CHECK(npos >= 1, "ran with no positional argument");
		for (size_t i = 0; i < npos; i++)
			FUZZ_CHECK(is_an_argument(positional[i], argv, argc),
				   "positional %zu is not an argument", i);
		FUZZ_CHECK(count >= 1 && count <= 1000000, "count %" PRIu64, count);
		FUZZ_CHECK(duration <= ARG_DURATION_MAX_NS, "duration %" PRIu64, duration);
		FUZZ_CHECK(strcmp(write, "default") == 0 ||
				   (write[0] != '\0' && is_an_argument(write, argv, argc)),
			   "--write points outside the arguments");
	}
	for (int i = 1; i < argc; i++)
		check_value_parsers(argv[i]);
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	return 0;
}
