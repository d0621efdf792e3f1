/* Command-line parsing: value parsers, option tables, --help text. */
#define _POSIX_C_SOURCE 200809L   /* inet_pton, inet_ntop */

#include "args.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

__attribute__((format(printf, 2, 3)))
static int arg_fail(struct arg_error *err, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Locale-independent: isdigit() may accept more than '0'..'9'. */
static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int hex_value(char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* ---- integers --------------------------------------------------------- */

/* 0 for a character that is not a known suffix; 1 for the end of text. */
static uint64_t uint_suffix_scale(const char *suffix)
{
	if (suffix[0] == '\0')
		return 1;
	if (suffix[1] != '\0')
		return 0;
	switch (suffix[0]) {
	case 'k': return 1000ull;
	case 'M': return 1000000ull;
	case 'G': return 1000000000ull;
	default: return 0;
	}
}

int arg_parse_uint(const char *text, uint64_t min, uint64_t max,
		   uint64_t *out, struct arg_error *err)
{
	const char *p = text;
	uint64_t value = 0, scale;

	if (!is_digit(*p))
		return arg_fail(err, "'%s' is not a number", text);
	for (; is_digit(*p); p++) {
		unsigned digit = (unsigned)(*p - '0');

		if (value > (UINT64_MAX - digit) / 10)
			return arg_fail(err, "'%s' is too large", text);
		value = value * 10 + digit;
	}
	scale = uint_suffix_scale(p);
	if (scale == 0)
		return arg_fail(err, "'%s' is not a number (unexpected '%s'; "
				"allowed suffixes: k, M, G)", text, p);
	if (value > UINT64_MAX / scale)
		return arg_fail(err, "'%s' is too large", text);
	value *= scale;
	if (value < min || value > max)
		return arg_fail(err, "'%s' is out of range %" PRIu64 "..%" PRIu64,
				text, min, max);
	*out = value;
	return 0;
}

/* ---- durations -------------------------------------------------------- */

static uint64_t duration_unit_ns(const char *unit)
{
	if (strcmp(unit, "") == 0 || strcmp(unit, "s") == 0)
		return ARG_NS_PER_SEC;
	if (strcmp(unit, "ms") == 0)
		return ARG_NS_PER_SEC / 1000;
	if (strcmp(unit, "m") == 0)
		return 60 * ARG_NS_PER_SEC;
	if (strcmp(unit, "h") == 0)
		return 3600 * ARG_NS_PER_SEC;
	return 0;
}

/* Length of the "123" or "1.5" at the start of text, or 0 when it is not
 * digits with at most one point and at least one digit. */
static size_t decimal_number_length(const char *text)
{
	size_t len = 0, digits = 0, points = 0;

	for (; is_digit(text[len]) || text[len] == '.'; len++) {
		if (text[len] == '.')
			points++;
		else
			digits++;
	}
	return (digits > 0 && points <= 1) ? len : 0;
}

int arg_parse_duration(const char *text, uint64_t *ns_out,
		       struct arg_error *err)
{
	char number[32];
	size_t len = decimal_number_length(text);
	uint64_t unit_ns;
	double ns;

	if (len == 0 || len >= sizeof(number))
		return arg_fail(err, "'%s' is not a duration (examples: 10, "
				"1.5, 250ms, 2m, 1h)", text);
	unit_ns = duration_unit_ns(text + len);
	if (unit_ns == 0)
		return arg_fail(err, "'%s' has an unknown unit '%s' (use ms, s, "
				"m or h)", text, text + len);
	/* The syntax is checked above, so strtod sees only digits and one
	 * point: no signs, exponents, hex or "inf" slip through. */
	memcpy(number, text, len);
	number[len] = '\0';
	ns = strtod(number, NULL) * (double)unit_ns;
	if (ns > (double)ARG_DURATION_MAX_NS)
		return arg_fail(err, "'%s' is too long (at most ten years)", text);
	*ns_out = (uint64_t)(ns + 0.5);
	return 0;
}

/* ---- MAC and IPv4 addresses ------------------------------------------- */

int arg_parse_mac(const char *text, uint8_t mac[6], struct arg_error *err)
{
	uint8_t bytes[6];
	char sep;
	size_t i;

	if (strlen(text) != 17)
		goto malformed;
	sep = text[2];
	if (sep != ':' && sep != '-')
		goto malformed;
	for (i = 0; i < 6; i++) {
		int hi = hex_value(text[3 * i]), lo = hex_value(text[3 * i + 1]);

		if (hi < 0 || lo < 0)
			goto malformed;
		if (i < 5 && text[3 * i + 2] != sep)
			goto malformed;
		bytes[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(mac, bytes, sizeof(bytes));
	return 0;
malformed:
	return arg_fail(err, "'%s' is not a MAC address (expected six hex "
			"pairs like 02:00:00:00:00:01)", text);
}

/* One decimal octet at *p, advancing *p past it; -1 when malformed. */
static int parse_octet(const char **p)
{
	const char *s = *p;
	int value = 0;
	size_t digits = 0;

	while (is_digit(s[digits]) && digits < 4)
		value = value * 10 + (s[digits++] - '0');
	if (digits == 0 || digits > 3 || value > 255)
		return -1;
	if (digits > 1 && s[0] == '0')
		return -1;
	*p = s + digits;
	return value;
}

int arg_parse_ipv4(const char *text, uint32_t *addr_out,
		   struct arg_error *err)
{
	const char *p = text;
	uint32_t addr = 0;
	int part;

	for (part = 0; part < 4; part++) {
		int octet;

		if (part > 0 && *p++ != '.')
			goto malformed;
		octet = parse_octet(&p);
		if (octet < 0)
			goto malformed;
		addr = addr << 8 | (uint32_t)octet;
	}
	if (*p != '\0')
		goto malformed;
	*addr_out = addr;
	return 0;
malformed:
	return arg_fail(err, "'%s' is not an IPv4 address (expected a dotted "
			"quad like 10.0.0.1)", text);
}

int arg_parse_ipv6(const char *text, uint8_t addr[16], struct arg_error *err)
{
	uint8_t bytes[16];

	/* inet_pton also takes an embedded dotted quad (::ffff:10.0.0.1), but
	 * no scope ("%eth0"), prefix length or brackets. */
	if (strlen(text) >= ARG_IPV6_TEXT_LEN ||
	    inet_pton(AF_INET6, text, bytes) != 1)
		return arg_fail(err, "'%s' is not an IPv6 address (expected a form "
				"like fd00::1 or 2001:db8:0:1::5, without /prefix "
				"or %%scope)", text);
	memcpy(addr, bytes, sizeof(bytes));
	return 0;
}

/* ---- CPU lists -------------------------------------------------------- */

/* One CPU number at *p (decimal, below ARG_MAX_CPU), advancing *p. */
static int parse_cpu(const char **p, unsigned *cpu)
{
	const char *s = *p;
	unsigned value = 0;

	if (!is_digit(*s))
		return -1;
	for (; is_digit(*s); s++) {
		value = value * 10 + (unsigned)(*s - '0');
		if (value >= ARG_MAX_CPU)
			return -1;
	}
	*p = s;
	*cpu = value;
	return 0;
}

int arg_parse_cpu_list(const char *text, uint16_t *cpus, size_t max,
		       size_t *count, struct arg_error *err)
{
	const char *p = text;
	size_t n = 0;

	for (;;) {
		unsigned first, last;

		if (parse_cpu(&p, &first) < 0)
			goto malformed;
		last = first;
		if (*p == '-') {
			p++;
			if (parse_cpu(&p, &last) < 0 || last < first)
				goto malformed;
		}
		for (; first <= last; first++) {
			if (n == max)
				return arg_fail(err, "'%s' names more than %zu "
						"cores", text, max);
			cpus[n++] = (uint16_t)first;
		}
		if (*p == '\0')
			break;
		if (*p++ != ',')
			goto malformed;
	}
	*count = n;
	return 0;
malformed:
	return arg_fail(err, "'%s' is not a list of cores (examples: 1, 0,2, "
			"2-5; numbers below %d)", text, ARG_MAX_CPU);
}

void arg_format_mac(const uint8_t mac[6], char out[ARG_MAC_TEXT_LEN])
{
	snprintf(out, ARG_MAC_TEXT_LEN, "%02x:%02x:%02x:%02x:%02x:%02x",
		 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

void arg_format_ipv4(uint32_t addr, char out[ARG_IPV4_TEXT_LEN])
{
	snprintf(out, ARG_IPV4_TEXT_LEN, "%u.%u.%u.%u",
		 (unsigned)(addr >> 24), (unsigned)(addr >> 16 & 0xff),
		 (unsigned)(addr >> 8 & 0xff), (unsigned)(addr & 0xff));
}

void arg_format_ipv6(const uint8_t addr[16], char out[ARG_IPV6_TEXT_LEN])
{
	if (!inet_ntop(AF_INET6, addr, out, ARG_IPV6_TEXT_LEN))
		snprintf(out, ARG_IPV6_TEXT_LEN, "?");
}

/* ---- option tables ---------------------------------------------------- */

static const struct arg_option *find_option(const struct arg_command *cmd,
					    const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < cmd->option_count; i++) {
		const struct arg_option *opt = &cmd->options[i];

		if (strlen(opt->name) == len && strncmp(opt->name, name, len) == 0)
			return opt;
	}
	return NULL;
}

int arg_parse_choice(const char *text, const char *choices, unsigned *out,
		     struct arg_error *err)
{
	const char *word = choices;
	size_t len = strlen(text);

	if (!word)
		return arg_fail(err, "internal error: option lists no choices");
	for (unsigned i = 0; *word; i++) {
		size_t word_len = strcspn(word, "|");

		if (len && word_len == len && strncmp(word, text, len) == 0) {
			*out = i;
			return 0;
		}
		word += word_len;
		word += *word == '|';
	}
	return arg_fail(err, "'%.40s': expected one of %s", text, choices);
}

/* The word at index among choices' words, into out. */
static void format_choice(const char *choices, unsigned index, char *out,
			  size_t len)
{
	const char *word = choices ? choices : "";

	while (index-- && *word) {
		word += strcspn(word, "|");
		word += *word == '|';
	}
	snprintf(out, len, "%.*s", (int)strcspn(word, "|"), word);
}

static int parse_value(const struct arg_option *opt, const char *value,
		       struct arg_error *err)
{
	switch (opt->kind) {
	case ARG_UINT:
		return arg_parse_uint(value, opt->min, opt->max, opt->target, err);
	case ARG_DURATION:
		return arg_parse_duration(value, opt->target, err);
	case ARG_MAC: {
		struct arg_mac *mac = opt->target;
		int rc = arg_parse_mac(value, mac->addr, err);

		mac->given = rc == 0;
		return rc;
	}
	case ARG_IPV4:
		return arg_parse_ipv4(value, opt->target, err);
	case ARG_IPV6: {
		struct arg_ipv6 *ip6 = opt->target;
		int rc = arg_parse_ipv6(value, ip6->addr, err);

		ip6->given = rc == 0;
		return rc;
	}
	case ARG_STRING:
		if (value[0] == '\0')
			return arg_fail(err, "the value is empty");
		*(const char **)opt->target = value;
		return 0;
	case ARG_CHOICE:
		return arg_parse_choice(value, opt->metavar, opt->target, err);
	case ARG_FLAG:
		break;
	}
	return arg_fail(err, "internal error: option has no value kind");
}

/* Parses argv[*index] (an option) and, when it takes one, its value, which
 * is either after '=' or the next argument. */
/* The long option a one-letter "-x" stands for, or NULL. */
static const struct arg_option *find_alias(const struct arg_command *cmd,
					   const char *arg)
{
	size_t i;

	if (arg[1] == '\0' || arg[2] != '\0')
		return NULL;
	for (i = 0; i < cmd->alias_count; i++)
		if (cmd->aliases[i].letter == arg[1])
			return find_option(cmd, cmd->aliases[i].name,
					   strlen(cmd->aliases[i].name));
	return NULL;
}

static int parse_option(const struct arg_command *cmd, int argc, char **argv,
			int *index, struct arg_error *err)
{
	const char *arg = argv[*index], *name = arg + 2, *eq = NULL, *value;
	const struct arg_option *opt;
	struct arg_error inner;
	size_t name_len;

	if (arg[1] != '-') {
		opt = find_alias(cmd, arg);
		if (!opt)
			return arg_fail(err, "unknown option '%s'", arg);
	} else {
		eq = strchr(name, '=');
		name_len = eq ? (size_t)(eq - name) : strlen(name);
		opt = find_option(cmd, name, name_len);
		if (!opt)
			return arg_fail(err, "unknown option '--%.*s'",
					(int)name_len, name);
	}
	if (opt->kind == ARG_FLAG) {
		if (eq)
			return arg_fail(err, "option --%s takes no value", opt->name);
		*(bool *)opt->target = true;
		return 0;
	}
	if (eq)
		value = eq + 1;
	else if (*index + 1 < argc)
		value = argv[++*index];
	else
		return arg_fail(err, "option --%s needs a value (%s)", opt->name,
				opt->metavar);
	if (parse_value(opt, value, &inner) < 0)
		return arg_fail(err, "option --%s: %s", opt->name, inner.msg);
	return 0;
}

static bool is_help(const char *arg)
{
	return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/* --help wins wherever it is, so that it works on any command line. */
static bool wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (is_help(argv[i]))
			return true;
	return false;
}

static int check_positional_count(const struct arg_command *cmd, size_t count,
				  struct arg_error *err)
{
	if (count < cmd->min_positional)
		return arg_fail(err, "missing argument: expected %s",
				cmd->positional);
	return 0;
}

int args_parse(const struct arg_command *cmd, int argc, char **argv,
	       const char *positional[ARGS_MAX_POSITIONAL],
	       size_t *positional_count, struct arg_error *err)
{
	bool options_done = false;
	int i;

	*positional_count = 0;
	if (wants_help(argc, argv))
		return ARGS_HELP;
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (!options_done && strcmp(arg, "--") == 0) {
			options_done = true;
		} else if (!options_done && arg[0] == '-' && arg[1] != '\0') {
			int rc = parse_option(cmd, argc, argv, &i, err);

			if (rc < 0)
				return rc;
		} else if (*positional_count >= cmd->max_positional ||
			   *positional_count >= ARGS_MAX_POSITIONAL) {
			return arg_fail(err, "unexpected argument '%s'", arg);
		} else {
			positional[(*positional_count)++] = arg;
		}
	}
	return check_positional_count(cmd, *positional_count, err);
}

/* ---- help ------------------------------------------------------------- */

static void format_duration(uint64_t ns, char *out, size_t len)
{
	if (ns == 0)
		snprintf(out, len, "0");
	else if (ns % ARG_NS_PER_SEC == 0)
		snprintf(out, len, "%" PRIu64 "s", ns / ARG_NS_PER_SEC);
	else if (ns % 1000000 == 0)
		snprintf(out, len, "%" PRIu64 "ms", ns / 1000000);
	else
		snprintf(out, len, "%.9fs", (double)ns / ARG_NS_PER_SEC);
}

/* The default shown in --help: the option's explicit text, or the value
 * its target holds before parsing. Empty for flags (they default off). */
static void format_default(const struct arg_option *opt, char *out, size_t len)
{
	out[0] = '\0';
	if (opt->default_text) {
		snprintf(out, len, "%s", opt->default_text);
		return;
	}
	switch (opt->kind) {
	case ARG_UINT:
		snprintf(out, len, "%" PRIu64, *(const uint64_t *)opt->target);
		break;
	case ARG_DURATION:
		format_duration(*(const uint64_t *)opt->target, out, len);
		break;
	case ARG_MAC:
		if (len >= ARG_MAC_TEXT_LEN)
			arg_format_mac(((const struct arg_mac *)opt->target)->addr, out);
		break;
	case ARG_IPV4:
		if (len >= ARG_IPV4_TEXT_LEN)
			arg_format_ipv4(*(const uint32_t *)opt->target, out);
		break;
	case ARG_IPV6:
		if (len >= ARG_IPV6_TEXT_LEN)
			arg_format_ipv6(((const struct arg_ipv6 *)opt->target)->addr,
					out);
		break;
	case ARG_STRING:
		if (*(const char *const *)opt->target)
			snprintf(out, len, "%s", *(const char *const *)opt->target);
		break;
	case ARG_CHOICE:
		format_choice(opt->metavar, *(const unsigned *)opt->target, out, len);
		break;
	case ARG_FLAG:
		break;
	}
}

#define HELP_INDENT 25   /* "  " + 22 columns + " " */
#define HELP_WIDTH 79

/* Prints text word-wrapped, continuing lines at HELP_INDENT; column is
 * where the cursor already is. */
static void print_wrapped(FILE *out, const char *text, size_t column)
{
	while (*text) {
		size_t word = strcspn(text, " ");

		if (column > HELP_INDENT && column + 1 + word > HELP_WIDTH) {
			fprintf(out, "\n%*s", HELP_INDENT, "");
			column = HELP_INDENT;
		} else if (column > HELP_INDENT) {
			fputc(' ', out);
			column++;
		}
		fwrite(text, 1, word, out);
		column += word;
		text += word;
		text += strspn(text, " ");
	}
	fputc('\n', out);
}

/* "-w, " when the option has a one-letter alias, else "". */
static void format_alias(const struct arg_command *cmd,
			 const struct arg_option *opt, char out[8])
{
	size_t i;

	out[0] = '\0';
	for (i = 0; i < cmd->alias_count; i++)
		if (strcmp(cmd->aliases[i].name, opt->name) == 0)
			snprintf(out, 8, "-%c, ", cmd->aliases[i].letter);
}

static void print_option_help(FILE *out, const struct arg_command *cmd,
			      const struct arg_option *opt)
{
	char left[56], alias[8], def[64], text[512];

	format_alias(cmd, opt, alias);
	snprintf(left, sizeof(left), "%s--%s%s%s", alias, opt->name,
		 opt->metavar ? " " : "", opt->metavar ? opt->metavar : "");
	format_default(opt, def, sizeof(def));
	if (def[0])
		snprintf(text, sizeof(text), "%s (default: %s)", opt->help, def);
	else
		snprintf(text, sizeof(text), "%s", opt->help);
	if (strlen(left) > HELP_INDENT - 3)
		fprintf(out, "  %s\n%*s", left, HELP_INDENT, "");
	else
		fprintf(out, "  %-*s ", HELP_INDENT - 3, left);
	print_wrapped(out, text, HELP_INDENT);
}

void args_print_help(FILE *out, const struct arg_command *cmd)
{
	size_t i;

	fprintf(out, "Usage: safenic %s%s%s [options]\n\n%s\n\nOptions:\n",
		cmd->name, cmd->positional[0] ? " " : "", cmd->positional,
		cmd->description);
	for (i = 0; i < cmd->option_count; i++)
		print_option_help(out, cmd, &cmd->options[i]);
	fprintf(out, "  %-*s %s\n", HELP_INDENT - 3, "-h, --help",
		"show this help and exit");
}

int args_usage_error(const struct arg_command *cmd, const char *message)
{
	fprintf(stderr, "safenic %s: %s\nTry 'safenic %s --help'.\n",
		cmd->name, message, cmd->name);
	return CLI_EXIT_USAGE;
}

bool args_parse_command(const struct arg_command *cmd, int argc, char **argv,
			const char *positional[ARGS_MAX_POSITIONAL],
			size_t *positional_count, int *status)
{
	struct arg_error err;
	int rc = args_parse(cmd, argc, argv, positional, positional_count, &err);

	if (rc == ARGS_RUN)
		return true;
	if (rc == ARGS_HELP) {
		args_print_help(stdout, cmd);
		*status = CLI_EXIT_OK;
	} else {
		*status = args_usage_error(cmd, err.msg);
	}
	return false;
}
