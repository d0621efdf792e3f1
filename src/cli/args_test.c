/* Unit tests of the command-line parsers and option tables (args.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "args.h"

#define SEC ARG_NS_PER_SEC

/* ---- integers --------------------------------------------------------- */

static uint64_t uint_ok(const char *text, uint64_t min, uint64_t max)
{
	struct arg_error err;
	uint64_t value = 12345;

	assert_int_equal(arg_parse_uint(text, min, max, &value, &err), 0);
	return value;
}

static void uint_bad(const char *text, uint64_t min, uint64_t max,
		     const char *message_part)
{
	struct arg_error err = { "" };
	uint64_t value = 777;

	assert_int_not_equal(arg_parse_uint(text, min, max, &value, &err), 0);
	assert_int_equal(value, 777);   /* untouched on failure */
	assert_non_null(strstr(err.msg, message_part));
}

static void test_uint_accepts_plain_and_suffixed(void **state)
{
	(void)state;
	assert_int_equal(uint_ok("0", 0, 10), 0);
	assert_int_equal(uint_ok("42", 0, 100), 42);
	assert_int_equal(uint_ok("10k", 0, UINT64_MAX), 10000);
	assert_int_equal(uint_ok("2M", 0, UINT64_MAX), 2000000);
	assert_int_equal(uint_ok("1G", 0, UINT64_MAX), 1000000000);
	assert_true(uint_ok("18446744073709551615", 0, UINT64_MAX) ==
		    UINT64_MAX);
}

static void test_uint_range_edges(void **state)
{
	(void)state;
	assert_int_equal(uint_ok("1", 1, 256), 1);
	assert_int_equal(uint_ok("256", 1, 256), 256);
	uint_bad("0", 1, 256, "out of range 1..256");
	uint_bad("257", 1, 256, "out of range 1..256");
	uint_bad("59", 60, 1514, "'59'");
	uint_bad("1515", 60, 1514, "'1515'");
}

static void test_uint_rejects_malformed(void **state)
{
	(void)state;
	uint_bad("", 0, 100, "not a number");
	uint_bad("12x", 0, 100, "unexpected 'x'");
	uint_bad("12 ", 0, 100, "not a number");
	uint_bad(" 12", 0, 100, "not a number");
	uint_bad("-1", 0, 100, "not a number");
	uint_bad("+1", 0, 100, "not a number");
	uint_bad("0x10", 0, 100, "not a number");
	uint_bad("1kk", 0, UINT64_MAX, "not a number");
	uint_bad("5K", 0, UINT64_MAX, "not a number");
	uint_bad("18446744073709551616", 0, UINT64_MAX, "too large");
	uint_bad("20000000000G", 0, UINT64_MAX, "too large");
}

/* ---- durations -------------------------------------------------------- */

static uint64_t duration_ok(const char *text)
{
	struct arg_error err;
	uint64_t ns = 999;

	assert_int_equal(arg_parse_duration(text, &ns, &err), 0);
	return ns;
}

static void duration_bad(const char *text)
{
	struct arg_error err = { "" };
	uint64_t ns = 999;

	assert_int_not_equal(arg_parse_duration(text, &ns, &err), 0);
	assert_int_equal(ns, 999);
	assert_non_null(strstr(err.msg, text));
}

static void test_duration_units(void **state)
{
	(void)state;
	assert_true(duration_ok("0") == 0);
	assert_true(duration_ok("10") == 10 * SEC);
	assert_true(duration_ok("10s") == 10 * SEC);
	assert_true(duration_ok("1.5") == 1500000000ull);
	assert_true(duration_ok(".5") == 500000000ull);
	assert_true(duration_ok("250ms") == 250000000ull);
	assert_true(duration_ok("0.001") == 1000000ull);
	assert_true(duration_ok("2m") == 120 * SEC);
	assert_true(duration_ok("1h") == 3600 * SEC);
}

static void test_duration_rejects_malformed(void **state)
{
	(void)state;
	duration_bad("");
	duration_bad("abc");
	duration_bad(".");
	duration_bad("1.2.3");
	duration_bad("5x");
	duration_bad("5 s");
	duration_bad("-1");
	duration_bad("+1");
	duration_bad("1e3");
	duration_bad("inf");
	duration_bad("0x10");
	duration_bad("100000000000");   /* over ten years */
}

/* ---- CPU lists -------------------------------------------------------- */

static void test_cpu_list_good(void **state)
{
	struct arg_error err;
	uint16_t cpus[8];
	size_t n = 0;

	(void)state;
	assert_int_equal(arg_parse_cpu_list("3", cpus, 8, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(cpus[0], 3);
	assert_int_equal(arg_parse_cpu_list("0,4-6,2", cpus, 8, &n, &err), 0);
	assert_int_equal(n, 5);
	assert_int_equal(cpus[0], 0);
	assert_int_equal(cpus[1], 4);
	assert_int_equal(cpus[2], 5);
	assert_int_equal(cpus[3], 6);
	assert_int_equal(cpus[4], 2);
	assert_int_equal(arg_parse_cpu_list("1023", cpus, 8, &n, &err), 0);
	assert_int_equal(cpus[0], 1023);
}

static void cpu_list_bad(const char *text, size_t max)
{
	struct arg_error err = { "" };
	uint16_t cpus[8];
	size_t n = 99;

	assert_int_equal(arg_parse_cpu_list(text, cpus, max, &n, &err), -EINVAL);
	assert_int_equal(n, 99);
	assert_non_null(strstr(err.msg, text));
}

static void test_cpu_list_bad(void **state)
{
	(void)state;
	cpu_list_bad("", 8);
	cpu_list_bad(",", 8);
	cpu_list_bad("1,", 8);
	cpu_list_bad("1,,2", 8);
	cpu_list_bad("3-1", 8);
	cpu_list_bad("1-", 8);
	cpu_list_bad("-1", 8);
	cpu_list_bad("a", 8);
	cpu_list_bad("1 2", 8);
	cpu_list_bad("1024", 8);
	cpu_list_bad("0-8", 8);      /* nine cores, room for eight */
	cpu_list_bad("1,2,3", 2);
}

/* ---- MAC and IPv4 ----------------------------------------------------- */

static void test_mac_good(void **state)
{
	static const uint8_t want[6] = { 0x02, 0xab, 0xCD, 0x00, 0x10, 0xff };
	struct arg_error err;
	uint8_t mac[6];
	char text[ARG_MAC_TEXT_LEN];

	(void)state;
	assert_int_equal(arg_parse_mac("02:ab:CD:00:10:ff", mac, &err), 0);
	assert_memory_equal(mac, want, 6);
	memset(mac, 0, 6);
	assert_int_equal(arg_parse_mac("02-AB-cd-00-10-FF", mac, &err), 0);
	assert_memory_equal(mac, want, 6);
	arg_format_mac(mac, text);
	assert_string_equal(text, "02:ab:cd:00:10:ff");
}

static void mac_bad(const char *text)
{
	uint8_t mac[6] = { 1, 2, 3, 4, 5, 6 }, before[6];
	struct arg_error err = { "" };

	memcpy(before, mac, 6);
	assert_int_not_equal(arg_parse_mac(text, mac, &err), 0);
	assert_memory_equal(mac, before, 6);
	assert_non_null(strstr(err.msg, "not a MAC address"));
}

static void test_mac_malformed(void **state)
{
	(void)state;
	mac_bad("");
	mac_bad("02:00:00:00:00");
	mac_bad("02:00:00:00:00:01:02");
	mac_bad("02:00:00:00:00:0g");
	mac_bad("02:00-00:00:00:01");
	mac_bad("02.00.00.00.00.01");
	mac_bad("2:0:0:0:0:1");
	mac_bad("02:00:00:00:00:01 ");
	mac_bad("020000000001");
}

static uint32_t ipv4_ok(const char *text)
{
	struct arg_error err;
	uint32_t addr = 0;

	assert_int_equal(arg_parse_ipv4(text, &addr, &err), 0);
	return addr;
}

static void ipv4_bad(const char *text)
{
	struct arg_error err = { "" };
	uint32_t addr = 7;

	assert_int_not_equal(arg_parse_ipv4(text, &addr, &err), 0);
	assert_int_equal(addr, 7);
	assert_non_null(strstr(err.msg, "not an IPv4 address"));
}

static void test_ipv4_good(void **state)
{
	char text[ARG_IPV4_TEXT_LEN];

	(void)state;
	assert_int_equal(ipv4_ok("10.0.0.1"), 0x0a000001);
	assert_int_equal(ipv4_ok("0.0.0.0"), 0);
	assert_true(ipv4_ok("255.255.255.255") == 0xffffffffu);
	assert_int_equal(ipv4_ok("192.168.100.7"), 0xc0a86407);
	arg_format_ipv4(0xc0a86407, text);
	assert_string_equal(text, "192.168.100.7");
}

static void test_ipv4_malformed(void **state)
{
	(void)state;
	ipv4_bad("");
	ipv4_bad("256.0.0.1");
	ipv4_bad("1.2.3.1000");
	ipv4_bad("1.2.3");
	ipv4_bad("1.2.3.4.5");
	ipv4_bad("01.2.3.4");
	ipv4_bad("1.2.3.4 ");
	ipv4_bad("1..3.4");
	ipv4_bad("1.2.3.-4");
	ipv4_bad("a.b.c.d");
	ipv4_bad("1.2.3.");
}

/* ---- option tables ---------------------------------------------------- */

struct sample_options {
	uint64_t count, batch, duration_ns;
	struct arg_mac mac;
	uint32_t ip;
	bool unsafe;
};

struct sample {
	struct sample_options o;
	struct arg_option options[6];
	struct arg_command cmd;
	const char *pos[ARGS_MAX_POSITIONAL];
	size_t npos;
	struct arg_error err;
};

static void sample_init(struct sample *s)
{
	const struct arg_option options[6] = {
		{ "count", ARG_UINT, &s->o.count, 0, UINT64_MAX, "N",
		  "frames", NULL },
		{ "batch", ARG_UINT, &s->o.batch, 1, 256, "N", "burst", NULL },
		{ "duration", ARG_DURATION, &s->o.duration_ns, 0, 0, "SEC",
		  "time", NULL },
		{ "src-mac", ARG_MAC, &s->o.mac, 0, 0, "MAC", "source",
		  "the device's MAC" },
		{ "src-ip", ARG_IPV4, &s->o.ip, 0, 0, "IP", "source IP", NULL },
		{ "unsafe", ARG_FLAG, &s->o.unsafe, 0, 0, NULL, "no IOMMU",
		  NULL },
	};

	memset(s, 0, sizeof(*s));
	s->o.batch = 32;
	s->o.ip = 0x0a000001;
	memcpy(s->options, options, sizeof(options));
	s->cmd = (struct arg_command){
		.name = "gen", .positional = "DEV", .min_positional = 1,
		.max_positional = 1, .description = "Test command.",
		.options = s->options, .option_count = 6,
	};
}

/* Parses a NULL-terminated argument list. */
static int sample_parse(struct sample *s, const char **args)
{
	char *argv[16];
	int argc = 0;

	while (args[argc]) {
		argv[argc] = (char *)args[argc];
		argc++;
	}
	return args_parse(&s->cmd, argc, argv, s->pos, &s->npos, &s->err);
}

static void test_parse_options_and_positional(void **state)
{
	const char *args[] = { "gen", "--count", "5", "0000:00:03.0",
			       "--batch=64", "--unsafe", "--duration", "2.5",
			       "--src-mac", "02:00:00:00:00:09",
			       "--src-ip=10.1.2.3", NULL };
	struct sample s;

	(void)state;
	sample_init(&s);
	assert_int_equal(sample_parse(&s, args), ARGS_RUN);
	assert_int_equal(s.o.count, 5);
	assert_int_equal(s.o.batch, 64);
	assert_true(s.o.duration_ns == 2500000000ull);
	assert_true(s.o.unsafe);
	assert_true(s.o.mac.given);
	assert_int_equal(s.o.mac.addr[5], 9);
	assert_int_equal(s.o.ip, 0x0a010203);
	assert_int_equal(s.npos, 1);
	assert_string_equal(s.pos[0], "0000:00:03.0");
}

static void test_parse_defaults_kept(void **state)
{
	const char *args[] = { "gen", "3.0", NULL };
	struct sample s;

	(void)state;
	sample_init(&s);
	assert_int_equal(sample_parse(&s, args), ARGS_RUN);
	assert_int_equal(s.o.batch, 32);
	assert_false(s.o.unsafe);
	assert_false(s.o.mac.given);
}

static void expect_parse_error(const char **args, const char *message_part)
{
	struct sample s;

	sample_init(&s);
	assert_true(sample_parse(&s, args) < 0);
	if (!strstr(s.err.msg, message_part))
		fail_msg("message '%s' lacks '%s'", s.err.msg, message_part);
}

static void test_parse_errors_name_the_option(void **state)
{
	const char *unknown[] = { "gen", "x", "--bogus", "1", NULL };
	const char *unknown_eq[] = { "gen", "x", "--bogus=1", NULL };
	const char *single[] = { "gen", "x", "-c", "1", NULL };
	const char *range[] = { "gen", "x", "--batch", "300", NULL };
	const char *garbage[] = { "gen", "x", "--count=12x", NULL };
	const char *missing[] = { "gen", "x", "--count", NULL };
	const char *flag_value[] = { "gen", "x", "--unsafe=yes", NULL };
	const char *bad_mac[] = { "gen", "x", "--src-mac", "02:00", NULL };
	const char *bad_ip[] = { "gen", "x", "--src-ip", "1.2.3.256", NULL };
	const char *bad_time[] = { "gen", "x", "--duration", "3x", NULL };

	(void)state;
	expect_parse_error(unknown, "--bogus");
	expect_parse_error(unknown_eq, "'--bogus'");
	expect_parse_error(single, "'-c'");
	expect_parse_error(range, "--batch");
	expect_parse_error(garbage, "--count");
	expect_parse_error(missing, "--count needs a value");
	expect_parse_error(flag_value, "--unsafe takes no value");
	expect_parse_error(bad_mac, "--src-mac");
	expect_parse_error(bad_ip, "--src-ip");
	expect_parse_error(bad_time, "--duration");
}

static void test_parse_positional_count(void **state)
{
	const char *none[] = { "gen", "--unsafe", NULL };
	const char *two[] = { "gen", "a", "b", NULL };

	(void)state;
	expect_parse_error(none, "missing argument: expected DEV");
	expect_parse_error(two, "unexpected argument 'b'");
}

static void test_parse_help_and_double_dash(void **state)
{
	const char *help_late[] = { "gen", "--bogus", "-h", NULL };
	const char *help_after_dd[] = { "gen", "--", "--help", NULL };
	const char *dash_positional[] = { "gen", "--", "-weird", NULL };
	struct sample s;

	(void)state;
	sample_init(&s);
	assert_int_equal(sample_parse(&s, help_late), ARGS_HELP);
	sample_init(&s);
	assert_int_equal(sample_parse(&s, help_after_dd), ARGS_RUN);
	assert_string_equal(s.pos[0], "--help");
	sample_init(&s);
	assert_int_equal(sample_parse(&s, dash_positional), ARGS_RUN);
	assert_string_equal(s.pos[0], "-weird");
}

static void test_help_lists_options_with_defaults(void **state)
{
	char text[4096];
	struct sample s;
	FILE *f = tmpfile();
	size_t n;

	(void)state;
	assert_non_null(f);
	sample_init(&s);
	args_print_help(f, &s.cmd);
	rewind(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	assert_non_null(strstr(text, "Usage: safenic gen DEV [options]"));
	assert_non_null(strstr(text, "--batch N"));
	assert_non_null(strstr(text, "(default: 32)"));
	assert_non_null(strstr(text, "(default: the device's MAC)"));
	assert_non_null(strstr(text, "(default: 10.0.0.1)"));
	assert_non_null(strstr(text, "--duration SEC"));
	assert_non_null(strstr(text, "--unsafe"));
	assert_non_null(strstr(text, "--help"));
}


/* ---- IPv6, strings and one-letter aliases ----------------------------- */

static void test_ipv6(void **state)
{
	uint8_t addr[16], want[16] = { 0xfd, 0x5a, 0, 0xfe, [15] = 1 };
	char text[ARG_IPV6_TEXT_LEN];
	struct arg_error err = { "" };

	(void)state;
	assert_int_equal(arg_parse_ipv6("fd5a:fe::1", addr, &err), 0);
	assert_memory_equal(addr, want, 16);
	arg_format_ipv6(addr, text);
	assert_string_equal(text, "fd5a:fe::1");
	assert_int_equal(arg_parse_ipv6("::", addr, &err), 0);
	assert_true(arg_parse_ipv6("fd5a::1/64", addr, &err) < 0);
	assert_non_null(strstr(err.msg, "'fd5a::1/64'"));
	assert_true(arg_parse_ipv6("10.0.0.1", addr, &err) < 0);
	assert_true(arg_parse_ipv6("fe80::1%eth0", addr, &err) < 0);
	assert_true(arg_parse_ipv6("1:2:3:4:5:6:7:8:9", addr, &err) < 0);
	assert_true(arg_parse_ipv6("", addr, &err) < 0);
}

struct dump_like {
	const char *file;
	struct arg_ipv6 ip6;
	bool nano;
	struct arg_option options[3];
	struct arg_alias aliases[1];
	struct arg_command cmd;
	const char *pos[ARGS_MAX_POSITIONAL];
	size_t npos;
	struct arg_error err;
};

static void dump_like_init(struct dump_like *d)
{
	const struct arg_option options[] = {
		{ "write", ARG_STRING, &d->file, 0, 0, "FILE", "output", "none" },
		{ "ip6", ARG_IPV6, &d->ip6, 0, 0, "ADDR6", "address", "none" },
		{ "nano", ARG_FLAG, &d->nano, 0, 0, NULL, "ns", NULL },
	};

	memset(d, 0, sizeof(*d));
	memcpy(d->options, options, sizeof(options));
	d->aliases[0] = (struct arg_alias){ 'w', "write" };
	d->cmd = (struct arg_command){
		.name = "dump", .positional = "DEV", .min_positional = 1,
		.max_positional = 1, .description = "Test.",
		.options = d->options, .option_count = 3,
		.aliases = d->aliases, .alias_count = 1,
	};
}

static int dump_like_parse(struct dump_like *d, const char **args)
{
	char *argv[16];
	int argc = 0;

	while (args[argc]) {
		argv[argc] = (char *)args[argc];
		argc++;
	}
	return args_parse(&d->cmd, argc, argv, d->pos, &d->npos, &d->err);
}

static void test_alias_and_string(void **state)
{
	const char *short_form[] = { "dump", "3.0", "-w", "/tmp/a.pcap", NULL };
	const char *long_form[] = { "dump", "--write=/tmp/b.pcap", "3.0",
				    "--ip6", "fd00::2", NULL };
	const char *no_value[] = { "dump", "3.0", "-w", NULL };
	const char *empty[] = { "dump", "3.0", "--write=", NULL };
	const char *unknown[] = { "dump", "3.0", "-x", "1", NULL };
	const char *bad_ip6[] = { "dump", "3.0", "--ip6", "fd00::/8", NULL };
	struct dump_like d;

	(void)state;
	dump_like_init(&d);
	assert_int_equal(dump_like_parse(&d, short_form), ARGS_RUN);
	assert_string_equal(d.file, "/tmp/a.pcap");
	assert_false(d.ip6.given);
	dump_like_init(&d);
	assert_int_equal(dump_like_parse(&d, long_form), ARGS_RUN);
	assert_string_equal(d.file, "/tmp/b.pcap");
	assert_true(d.ip6.given);
	assert_int_equal(d.ip6.addr[15], 2);
	dump_like_init(&d);
	assert_true(dump_like_parse(&d, no_value) < 0);
	assert_non_null(strstr(d.err.msg, "--write needs a value (FILE)"));
	dump_like_init(&d);
	assert_true(dump_like_parse(&d, empty) < 0);
	assert_non_null(strstr(d.err.msg, "--write"));
	dump_like_init(&d);
	assert_true(dump_like_parse(&d, unknown) < 0);
	assert_non_null(strstr(d.err.msg, "'-x'"));
	dump_like_init(&d);
	assert_true(dump_like_parse(&d, bad_ip6) < 0);
	assert_non_null(strstr(d.err.msg, "--ip6"));
}

static void test_help_shows_alias(void **state)
{
	struct dump_like d;
	char text[2048];
	FILE *f = tmpfile();
	size_t n;

	(void)state;
	assert_non_null(f);
	dump_like_init(&d);
	args_print_help(f, &d.cmd);
	rewind(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	assert_non_null(strstr(text, "  -w, --write FILE"));
	assert_non_null(strstr(text, "output (default: none)"));
	assert_non_null(strstr(text, "--ip6 ADDR6"));
}

/* ---- choices (--memory) ----------------------------------------------- */

static void test_choice(void **state)
{
	unsigned memory = 0;
	const struct arg_option options[] = {
		{ "memory", ARG_CHOICE, &memory, 0, 0, "auto|hugetlb|thp|4k",
		  "memory kind", NULL },
	};
	const struct arg_command cmd = {
		.name = "gen", .positional = "", .description = "Test.",
		.options = options, .option_count = 1,
	};
	char *thp[] = { "gen", "--memory", "thp", NULL };
	char *last[] = { "gen", "--memory=4k", NULL };
	char *bad[] = { "gen", "--memory", "huge", NULL };
	char *prefix[] = { "gen", "--memory", "hug", NULL };
	const char *pos[ARGS_MAX_POSITIONAL];
	size_t npos;
	struct arg_error err;
	char text[2048];
	FILE *f = tmpfile();
	size_t n;

	(void)state;
	assert_non_null(f);
	args_print_help(f, &cmd);
	rewind(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	assert_non_null(strstr(text, "--memory auto|hugetlb|thp|4k"));
	assert_non_null(strstr(text, "(default: auto)"));
	assert_int_equal(args_parse(&cmd, 3, thp, pos, &npos, &err), ARGS_RUN);
	assert_int_equal(memory, 2);
	assert_int_equal(args_parse(&cmd, 2, last, pos, &npos, &err), ARGS_RUN);
	assert_int_equal(memory, 3);
	assert_true(args_parse(&cmd, 3, bad, pos, &npos, &err) < 0);
	assert_non_null(strstr(err.msg, "'huge': expected one of auto|hugetlb|thp|4k"));
	assert_true(args_parse(&cmd, 3, prefix, pos, &npos, &err) < 0);
	assert_int_equal(memory, 3);
	assert_true(arg_parse_choice("", "a|b", &memory, &err) < 0);
	assert_int_equal(arg_parse_choice("b", "a|b", &memory, &err), 0);
	assert_int_equal(memory, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uint_accepts_plain_and_suffixed),
		cmocka_unit_test(test_uint_range_edges),
		cmocka_unit_test(test_uint_rejects_malformed),
		cmocka_unit_test(test_duration_units),
		cmocka_unit_test(test_duration_rejects_malformed),
		cmocka_unit_test(test_cpu_list_good),
		cmocka_unit_test(test_cpu_list_bad),
		cmocka_unit_test(test_mac_good),
		cmocka_unit_test(test_mac_malformed),
		cmocka_unit_test(test_ipv4_good),
		cmocka_unit_test(test_ipv4_malformed),
		cmocka_unit_test(test_parse_options_and_positional),
		cmocka_unit_test(test_parse_defaults_kept),
		cmocka_unit_test(test_parse_errors_name_the_option),
		cmocka_unit_test(test_parse_positional_count),
		cmocka_unit_test(test_parse_help_and_double_dash),
		cmocka_unit_test(test_help_lists_options_with_defaults),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_alias_and_string),
		cmocka_unit_test(test_help_shows_alias),
		cmocka_unit_test(test_choice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
