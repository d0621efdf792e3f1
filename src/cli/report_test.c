/* Unit tests of the output formats (report.c): the SUMMARY lines are
 * parsed by test scripts, so their keys are checked here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "report.h"

/* Runs fn into a temporary file and returns what it wrote. */
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

static const char *summary_line(const char *text, const char *prefix)
{
	const char *line = strstr(text, prefix);

	assert_non_null(line);
	assert_true(line == text || line[-1] == '\n');
	return line;
}

static void test_format_rate(void **state)
{
	char s[32];

	(void)state;
	report_format_rate(0, "pps", s, sizeof(s));
	assert_string_equal(s, "0 pps");
	report_format_rate(999, "pps", s, sizeof(s));
	assert_string_equal(s, "999 pps");
	report_format_rate(12345, "pps", s, sizeof(s));
	assert_string_equal(s, "12.3 kpps");
	report_format_rate(6.3e6, "bit/s", s, sizeof(s));
	assert_string_equal(s, "6.3 Mbit/s");
	report_format_rate(14.88e6, "pps", s, sizeof(s));
	assert_string_equal(s, "14.9 Mpps");
	report_format_rate(999999.9, "pps", s, sizeof(s));
	assert_string_equal(s, "1.0 Mpps");
	report_format_rate(999.7, "pps", s, sizeof(s));
	assert_string_equal(s, "1.0 kpps");
	report_format_rate(40e9, "bit/s", s, sizeof(s));
	assert_string_equal(s, "40.0 Gbit/s");
}

static void test_format_size(void **state)
{
	char s[32];

	(void)state;
	report_format_size(4096, s, sizeof(s));
	assert_string_equal(s, "4 KiB");
	report_format_size(2u << 20, s, sizeof(s));
	assert_string_equal(s, "2 MiB");
	report_format_size(6u << 20, s, sizeof(s));
	assert_string_equal(s, "6 MiB");
	report_format_size(1u << 30, s, sizeof(s));
	assert_string_equal(s, "1 GiB");
	report_format_size(3u << 19, s, sizeof(s));
	assert_string_equal(s, "1536 KiB");
	report_format_size(100, s, sizeof(s));
	assert_string_equal(s, "100 bytes");
}

static void test_rate_line(void **state)
{
	const struct rate_segment segs[2] = {
		{ "0000:00:03.0", "tx", 12300, 12300 * 64 },
		{ "0000:00:04.0", "rx", 0, 0 },
	};
	char text[256];

	(void)state;
	CAPTURE(text, report_rate_line(out_, 3, 1.0, segs, 2, NULL, NULL));
	assert_string_equal(text, "[  3s] 0000:00:03.0 tx 12.3 kpps 6.3 Mbit/s"
			    " | 0000:00:04.0 rx 0 pps 0 bit/s\n");
	CAPTURE(text, report_rate_line(out_, 12, 2.0, segs, 1, "valid 5", NULL));
	assert_string_equal(text, "[ 12s] 0000:00:03.0 tx 6.2 kpps 3.1 Mbit/s"
			    " | valid 5\n");
	/* Every second says how the device is doing, not only the summary. */
	const struct health h = { 7, 1, "recovered" };
	CAPTURE(text, report_rate_line(out_, 4, 1.0, segs, 1, NULL, &h));
	assert_string_equal(text, "[  4s] 0000:00:03.0 tx 12.3 kpps 6.3 Mbit/s"
			    " | health recovered, device errors 7, queue resets 1\n");
}

static void test_gen_summary(void **state)
{
	const struct gen_summary s = { "0000:00:03.0", 1000, 60000, 2, 1,
				       2.0, { false, 0, 0 }, 0, NULL, 0, { 0 }, false, { 0 } };
	char text[1024];

	(void)state;
	CAPTURE(text, report_gen_summary(out_, &s));
	assert_string_equal(summary_line(text, "SUMMARY gen "),
			    "SUMMARY gen dev=0000:00:03.0 tx_packets=1000 "
			    "tx_bytes=60000 tx_drops=2 seconds=2.000 "
			    "pps=500.0 device_errors=1 queue_resets=0 status=ok "
			    "queues=1 q0_tx_packets=1000\n");
}

static void test_gen_summary_queues(void **state)
{
	struct gen_summary s = { "0000:00:03.0", 1000, 60000, 0, 0,
				 2.0, { false, 0, 0 }, 0, NULL, 3,
				 { 300, 400, 300 }, false, { 0 } };
	char text[1024];

	(void)state;
	CAPTURE(text, report_gen_summary(out_, &s));
	assert_non_null(strstr(summary_line(text, "SUMMARY gen "),
			       " queues=3 q0_tx_packets=300 q1_tx_packets=400 "
			       "q2_tx_packets=300\n"));
	assert_null(strstr(text, "_lib_"));
	/* The library's own per-queue counts, where it gave them. */
	s.has_queue_stats = true;
	s.q_lib_tx_packets[0] = 300;
	s.q_lib_tx_packets[1] = 399;
	s.q_lib_tx_packets[2] = 300;
	CAPTURE(text, report_gen_summary(out_, &s));
	assert_non_null(strstr(summary_line(text, "SUMMARY gen "),
			       " q2_tx_packets=300 q0_lib_tx_packets=300 "
			       "q1_lib_tx_packets=399 q2_lib_tx_packets=300\n"));
	/* Never past the table, whatever the count says. */
	s.queues = 100;
	CAPTURE(text, report_gen_summary(out_, &s));
	assert_non_null(strstr(text, " queues=8 "));
	assert_null(strstr(text, "q8_"));
}

/* A run stopped by the health check says why in its summary, even when
 * the driver itself counted no device error (issue 9: "0 device errors"
 * after a device that needed a reset). */
static void test_gen_summary_says_why_it_stopped(void **state)
{
	struct gen_summary s = { "0000:00:03.0", 1000, 60000, 0, 0,
				 2.0, { false, 0, 0 }, 2, "needs-reset", 0, { 0 }, false, { 0 } };
	char text[1024];

	(void)state;
	CAPTURE(text, report_gen_summary(out_, &s));
	assert_non_null(strstr(text, "0 device errors, 2 queue resets; health needs-reset\n"));
	assert_non_null(strstr(summary_line(text, "SUMMARY gen "),
			       " device_errors=0 queue_resets=2 status=needs-reset "));
}

static void test_fwd_summary(void **state)
{
	const struct fwd_summary s = { "0000:00:03.0", "0000:00:04.0", 300,
				       100, 7, 0, 0, 5, 4.0, { true, 400, 100 },
				       { true, 100, 300 }, 0, NULL, NULL, 0, 0, 0.0,
				       0, NULL, 2, 0 };
	char text[1024];

	(void)state;
	CAPTURE(text, report_fwd_summary(out_, &s));
	assert_string_equal(summary_line(text, "SUMMARY fwd "),
			    "SUMMARY fwd a=0000:00:03.0 b=0000:00:04.0 "
			    "a_to_b=300 b_to_a=100 drops=7 seconds=4.000 "
			    "pps=100.0 device_errors=0 a_rx_starved=0 "
			    "b_rx_starved=5 a_rx_errors=2 b_rx_errors=0 queue_resets=0 "
			    "status=ok a_hw_rx_packets=400 "
			    "a_hw_tx_packets=100 b_hw_rx_packets=100 "
			    "b_hw_tx_packets=300\n");
}

static void test_fwd_summary_queues_and_mode(void **state)
{
	const struct fwd_queue_summary q[2] = { { 10, 1, 11, 2 },
						{ 20, 0, 21, 0 } };
	struct fwd_summary s = { "0000:00:03.0", "0000:00:04.0", 30, 1, 0, 0,
				 0, 0, 1.0, { false, 0, 0 }, { false, 0, 0 },
				 0, NULL, "adaptive", 7, 5, 0.25, 2, q, 0, 0 };
	char text[1024];

	(void)state;
	CAPTURE(text, report_fwd_summary(out_, &s));
	assert_non_null(strstr(text, "fwd: queue pair 0: 10 a->b, 1 b->a; "
			       "queue pair 1: 20 a->b, 0 b->a\n"));
	assert_non_null(strstr(summary_line(text, "SUMMARY fwd "),
			       " status=ok mode=adaptive sleeps=7 wakeups=5 "
			       "cpu_seconds=0.250 queues=2 q0_a_to_b=10 "
			       "q0_b_to_a=1 a_q0_rx_packets=11 b_q0_rx_packets=2 "
			       "q1_a_to_b=20 q1_b_to_a=0 a_q1_rx_packets=21 "
			       "b_q1_rx_packets=0\n"));
	/* One queue pair, no --mode: none of these keys. */
	s.mode = NULL;
	s.queues = 1;
	CAPTURE(text, report_fwd_summary(out_, &s));
	assert_null(strstr(text, "queue pair"));
	assert_null(strstr(text, "mode="));
	assert_null(strstr(text, "queues="));
}

static void test_recv_summary(void **state)
{
	struct recv_summary s;
	char text[2048];

	(void)state;
	memset(&s, 0, sizeof(s));
	s.dev = "0000:00:05.0";
	s.checked = true;
	s.rx_packets = 110;
	s.valid = 100;
	s.lost = 3;
	s.duplicated = 1;
	s.reordered = 2;
	s.corrupted = 4;
	s.foreign = 6;
	s.seconds = 0.5;
	s.rx_starved = 9;
	s.rx_errors = 5;
	CAPTURE(text, report_recv_summary(out_, &s));
	assert_non_null(strstr(text, "the receive ring ran dry 9 times"));
	assert_non_null(strstr(text, "5 frames dropped as bad or longer than the MTU allows"));
	assert_string_equal(summary_line(text, "SUMMARY recv "),
			    "SUMMARY recv dev=0000:00:05.0 checked=yes rx_packets=110 "
			    "valid=100 lost=3 duplicated=1 reordered=2 "
			    "corrupted=4 foreign=6 seconds=0.500 pps=220.0 "
			    "device_errors=0 rx_drops=0 out_of_range=0 rx_starved=9 "
			    "rx_errors=5 flows=1 interleaved=0 mixed_flows=0 "
			    "queue_resets=0 status=ok queues=1 "
			    "q0_packets=110 q0_flows=0 flows_split=0 rss_hashed=0 "
			    "rss_misplaced=0\n");
	assert_null(strstr(text, "flows, order judged"));
	/* Several flows: said in words, and the keys carry them. */
	s.flows = 64;
	s.interleaved = 40;
	s.mixed_flows = 2;
	CAPTURE(text, report_recv_summary(out_, &s));
	assert_non_null(strstr(text, "64 flows, order judged inside each: 40 "
			       "frames overtaken"));
	assert_non_null(strstr(text, "2 frames of another generator"));
	assert_non_null(strstr(summary_line(text, "SUMMARY recv "),
			       " flows=64 interleaved=40 mixed_flows=2 "));
	assert_null(strstr(text, "per receive queue"));
	/* Several queues: each one's frames and flows. */
	s.queues = 2;
	s.q[0].packets = 60;
	s.q[0].flows = 30;
	s.q[1].packets = 50;
	s.q[1].flows = 34;
	s.flows_split = 1;
	s.rss_hashed = 110;
	s.rss_misplaced = 3;
	CAPTURE(text, report_recv_summary(out_, &s));
	assert_non_null(strstr(text, "3 frames came on another queue than their "
			       "RSS hash selects"));
	assert_non_null(strstr(summary_line(text, "SUMMARY recv "),
			       " rss_hashed=110 rss_misplaced=3"));
	assert_non_null(strstr(text, "per receive queue: q0 60 frames (30 flows), "
			       "q1 50 frames (34 flows)\n"));
	assert_non_null(strstr(text, "1 flows came on more than one queue"));
	assert_non_null(strstr(summary_line(text, "SUMMARY recv "),
			       " queues=2 q0_packets=60 q0_flows=30 q1_packets=50 "
			       "q1_flows=34 flows_split=1"));
	assert_null(strstr(text, "_lib_"));
	s.has_queue_stats = true;
	s.q[0].lib_packets = 60;
	s.q[1].lib_packets = 51;
	CAPTURE(text, report_recv_summary(out_, &s));
	assert_non_null(strstr(summary_line(text, "SUMMARY recv "),
			       " q1_flows=34 q0_lib_packets=60 q1_lib_packets=51 "
			       "flows_split=1"));
	/* --count-only: says so, and prints no verdict on the contents. */
	s.checked = false;
	CAPTURE(text, report_recv_summary(out_, &s));
	assert_non_null(strstr(text, "contents not checked (--count-only)"));
	assert_null(strstr(text, "valid 100"));
	assert_non_null(strstr(summary_line(text, "SUMMARY recv "), " checked=no "));
}

static void test_zero_seconds_no_division(void **state)
{
	const struct gen_summary s = { "x", 5, 300, 0, 0, 0.0, { false, 0, 0 }, 0,
				       NULL, 0, { 0 }, false, { 0 } };
	char text[1024];

	(void)state;
	CAPTURE(text, report_gen_summary(out_, &s));
	assert_non_null(strstr(text, " pps=0.0 "));
}


static void test_dump_summary(void **state)
{
	struct dump_summary s;
	char text[2048];

	(void)state;
	memset(&s, 0, sizeof(s));
	s.dev = "0000:00:06.0";
	s.file = "/tmp/c.pcap";
	s.frames = 998;
	s.captured = 1000;
	s.bytes = 59880;
	s.file_bytes = 24 + 998 * 76;
	s.seconds = 2.0;
	s.stopped = "write-error";
	CAPTURE(text, report_dump_summary(out_, &s));
	assert_non_null(strstr(text, "2 frames received could not be written"));
	assert_string_equal(summary_line(text, "SUMMARY dump "),
			    "SUMMARY dump dev=0000:00:06.0 frames=998 "
			    "captured=1000 bytes=59880 file_bytes=75872 "
			    "truncated=0 rx_drops=0 device_errors=0 "
			    "seconds=2.000 stopped=write-error "
			    "file=/tmp/c.pcap rx_errors=0 queue_resets=0 status=ok\n");
}

static void test_respond_summary(void **state)
{
	struct respond_summary s;
	char text[2048];

	(void)state;
	memset(&s, 0, sizeof(s));
	s.dev = "0000:00:03.0";
	s.rx_packets = 20;
	s.tx_packets = 14;
	s.arp = 3;
	s.icmp = 5;
	s.nd = 1;
	s.icmp6 = 5;
	s.ignored = 6;
	s.fragments = 2;
	s.seconds = 9.5;
	CAPTURE(text, report_respond_summary(out_, &s));
	assert_string_equal(summary_line(text, "SUMMARY respond "),
			    "SUMMARY respond dev=0000:00:03.0 rx_packets=20 "
			    "tx_packets=14 arp=3 icmp=5 nd=1 icmp6=5 "
			    "ignored=6 fragments=2 too_big=0 bad_checksum=0 malformed=0 "
			    "tx_drops=0 device_errors=0 seconds=9.500 "
			    "rx_errors=0 queue_resets=0 status=ok\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_rate),
		cmocka_unit_test(test_format_size),
		cmocka_unit_test(test_rate_line),
		cmocka_unit_test(test_gen_summary),
		cmocka_unit_test(test_gen_summary_says_why_it_stopped),
		cmocka_unit_test(test_fwd_summary),
		cmocka_unit_test(test_fwd_summary_queues_and_mode),
		cmocka_unit_test(test_recv_summary),
		cmocka_unit_test(test_gen_summary_queues),
		cmocka_unit_test(test_zero_seconds_no_division),
		cmocka_unit_test(test_dump_summary),
		cmocka_unit_test(test_respond_summary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
