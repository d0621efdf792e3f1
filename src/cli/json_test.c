/* Unit tests of the JSON Lines records (json.c). With --sample it prints a
 * few records instead, for the CTest that parses them with Python's json
 * module (cli_json_parse). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <math.h>

#include "json.h"

#define CAPTURE(buf, call)                                               \
	do {                                                             \
		FILE *out_ = tmpfile();                                  \
		size_t n_;                                               \
		assert_non_null(out_);                                   \
		call;                                                    \
		rewind(out_);                                            \
		n_ = fread((buf), 1, sizeof(buf) - 1, out_);             \
		(buf)[n_] = '\0';                                        \
		fclose(out_);                                            \
	} while (0)

static void sample_tick(struct json_record *r, bool final)
{
	json_begin(r, "gen", final ? 3 : 2, final, final ? 3.25 : 2.0);
	json_str(r, "dev", "0000:00:03.0");
	json_u64(r, "tx_packets", 12345);
	json_u64(r, "tx_drops", 0);
	json_rates(r, "tx_pps", "tx_bps", 1000, 64000, final ? 3.25 : 1.0);
}

static void test_record_layout(void **state)
{
	struct json_record r;
	char text[1024];

	(void)state;
	sample_tick(&r, false);
	CAPTURE(text, assert_int_equal(json_write(out_, &r), 0));
	assert_string_equal(text, "{\"cmd\":\"gen\",\"t\":2,\"final\":false,"
			    "\"elapsed_s\":2.000,\"dev\":\"0000:00:03.0\","
			    "\"tx_packets\":12345,\"tx_drops\":0,"
			    "\"tx_pps\":1000.000,\"tx_bps\":512000.000}\n");
	sample_tick(&r, true);
	CAPTURE(text, json_write(out_, &r));
	assert_non_null(strstr(text, "\"final\":true"));
	assert_non_null(strstr(text, "\"tx_pps\":307.692"));
}

static void test_escaping(void **state)
{
	struct json_record r;
	char text[512];

	(void)state;
	json_begin(&r, "dump", 0, false, 0);
	json_str(&r, "file", "a\"b\\c\nd\te\x01" "f/ü");
	json_str(&r, "none", NULL);
	CAPTURE(text, json_write(out_, &r));
	assert_non_null(strstr(text, "\"file\":\"a\\\"b\\\\c\\nd\\te\\u0001f/ü\""));
	assert_non_null(strstr(text, "\"none\":null"));
}

static void test_numbers(void **state)
{
	struct json_record r;
	char text[512];

	(void)state;
	json_begin(&r, "recv", 1, false, 1.0);
	json_num(&r, "nan", NAN);
	json_num(&r, "inf", INFINITY);
	json_u64(&r, "big", UINT64_MAX);
	json_bool(&r, "yes", true);
	json_rates(&r, "p", "b", 5, 5, 0);
	CAPTURE(text, json_write(out_, &r));
	assert_non_null(strstr(text, "\"nan\":null,\"inf\":null,"
			       "\"big\":18446744073709551615,\"yes\":true,"
			       "\"p\":0.000,\"b\":0.000}"));
}

static void test_too_many_fields(void **state)
{
	struct json_record r;
	size_t i;

	(void)state;
	json_begin(&r, "fwd", 1, false, 1.0);
	for (i = 0; i < JSON_MAX_FIELDS + 5; i++)
		json_u64(&r, "x", i);
	assert_int_equal(r.count, JSON_MAX_FIELDS);
	assert_int_equal(r.dropped, 9);   /* 4 common keys + 69 - 64 */
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_layout),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_too_many_fields),
	};

	if (argc > 1 && strcmp(argv[1], "--sample") == 0) {
		struct json_record r;

		sample_tick(&r, false);
		json_write(stdout, &r);
		json_begin(&r, "dump", 1, false, 1.0);
		json_str(&r, "file", "odd \"name\"\t\\x.pcap");
		json_num(&r, "nan", NAN);
		json_write(stdout, &r);
		sample_tick(&r, true);
		json_write(stdout, &r);
		return 0;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
