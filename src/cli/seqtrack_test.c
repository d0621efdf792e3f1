/* Unit tests of the receiver's sequence accounting (seqtrack.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "seqtrack.h"

static void note_all(struct seq_tracker *t, const uint64_t *seqs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		seq_tracker_note(t, seqs[i], 1);
}

static void test_in_order_nothing_lost(void **state)
{
	struct seq_tracker t;
	uint64_t seq;

	(void)state;
	assert_int_equal(seq_tracker_init(&t, 1000), 0);
	for (seq = 0; seq < 1000; seq++)
		assert_int_equal(seq_tracker_note(&t, seq, 1), SEQ_NEW);
	assert_int_equal(t.unique, 1000);
	assert_int_equal(t.duplicated, 0);
	assert_int_equal(t.reordered, 0);
	assert_int_equal(seq_tracker_lost(&t, 1000), 0);
	assert_int_equal(seq_tracker_lost(&t, 0), 0);
	seq_tracker_destroy(&t);
}

static void test_gaps_and_tail_lost(void **state)
{
	static const uint64_t seqs[] = { 0, 1, 2, 5, 6, 9 };
	struct seq_tracker t;

	(void)state;
	assert_int_equal(seq_tracker_init(&t, 20), 0);
	note_all(&t, seqs, 6);
	/* Without --expect: 0..9 should be there, 3, 4, 7, 8 are not. */
	assert_int_equal(seq_tracker_lost(&t, 0), 4);
	/* With --expect 20: 10..19 are lost too. */
	assert_int_equal(seq_tracker_lost(&t, 20), 14);
	seq_tracker_destroy(&t);
}

static void test_duplicates_not_reordered(void **state)
{
	static const uint64_t seqs[] = { 0, 1, 1, 2, 0, 2, 3 };
	struct seq_tracker t;

	(void)state;
	assert_int_equal(seq_tracker_init(&t, 10), 0);
	note_all(&t, seqs, 7);
	assert_int_equal(t.unique, 4);
	assert_int_equal(t.duplicated, 3);
	assert_int_equal(t.reordered, 0);
	assert_int_equal(seq_tracker_lost(&t, 4), 0);
	seq_tracker_destroy(&t);
}

static void test_reordered(void **state)
{
	struct seq_tracker t;

	(void)state;
	assert_int_equal(seq_tracker_init(&t, 10), 0);
	assert_int_equal(seq_tracker_note(&t, 0, 1), SEQ_NEW);
	assert_int_equal(seq_tracker_note(&t, 1, 1), SEQ_NEW);
	assert_int_equal(seq_tracker_note(&t, 3, 1), SEQ_NEW);
	assert_int_equal(seq_tracker_note(&t, 2, 1), SEQ_REORDERED);
	assert_int_equal(seq_tracker_note(&t, 2, 1), SEQ_DUPLICATE);
	assert_int_equal(seq_tracker_note(&t, 4, 1), SEQ_NEW);
	assert_int_equal(t.reordered, 1);
	assert_int_equal(t.duplicated, 1);
	assert_int_equal(t.highest, 4);
	assert_int_equal(seq_tracker_lost(&t, 0), 0);
	seq_tracker_destroy(&t);
}

/* The first frame can have any number: it is not reordered. */
static void test_first_frame_high(void **state)
{
	struct seq_tracker t;

	(void)state;
	assert_int_equal(seq_tracker_init(&t, 100), 0);
	assert_int_equal(seq_tracker_note(&t, 50, 1), SEQ_NEW);
	assert_int_equal(seq_tracker_note(&t, 10, 1), SEQ_REORDERED);
	assert_int_equal(seq_tracker_lost(&t, 0), 49);
	seq_tracker_destroy(&t);
}

static void test_beyond_limit(void **state)
{
	struct seq_tracker t;

	(void)state;
	assert_int_equal(seq_tracker_init(&t, 5), 0);
	assert_int_equal(seq_tracker_note(&t, 4, 1), SEQ_NEW);
	assert_int_equal(seq_tracker_note(&t, 5, 1), SEQ_OUT_OF_RANGE);
	assert_int_equal(seq_tracker_note(&t, 1000000, 1), SEQ_OUT_OF_RANGE);
	assert_int_equal(t.out_of_range, 2);
	assert_int_equal(t.unique, 1);
	assert_int_equal(seq_tracker_lost(&t, 5), 4);
	seq_tracker_destroy(&t);
}

/* Numbers far past the first bitmap make it grow; the numbers below stay
 * recorded across the reallocation. */
static void test_growth_keeps_bits(void **state)
{
	struct seq_tracker t;
	uint64_t far = 5000000;

	(void)state;
	assert_int_equal(seq_tracker_init(&t, SEQ_TRACK_DEFAULT_LIMIT), 0);
	assert_int_equal(seq_tracker_note(&t, 3, 1), SEQ_NEW);
	assert_int_equal(seq_tracker_note(&t, far, 1), SEQ_NEW);
	assert_true(t.capacity > far);
	assert_int_equal(seq_tracker_note(&t, 3, 1), SEQ_DUPLICATE);
	assert_int_equal(seq_tracker_note(&t, far - 1, 1), SEQ_REORDERED);
	assert_int_equal(seq_tracker_note(&t, 3 * far, 1), SEQ_NEW);
	assert_int_equal(seq_tracker_note(&t, far, 1), SEQ_DUPLICATE);
	assert_int_equal(seq_tracker_lost(&t, 0), 3 * far + 1 - 4);
	seq_tracker_destroy(&t);
}

static void test_nothing_received(void **state)
{
	struct seq_tracker t;

	(void)state;
	assert_int_equal(seq_tracker_init(&t, 100), 0);
	assert_int_equal(seq_tracker_lost(&t, 0), 0);
	assert_int_equal(seq_tracker_lost(&t, 100), 100);
	seq_tracker_destroy(&t);
}

/* A limit that is not a multiple of 64 does not count the bitmap's
 * rounding as received or lost. */
static void test_odd_limit_word_edge(void **state)
{
	struct seq_tracker t;
	uint64_t seq;

	(void)state;
	assert_int_equal(seq_tracker_init(&t, 70), 0);
	for (seq = 0; seq < 70; seq += 2)
		seq_tracker_note(&t, seq, 1);
	assert_int_equal(seq_tracker_lost(&t, 70), 35);
	assert_int_equal(seq_tracker_lost(&t, 0), 34);  /* highest is 68 */
	seq_tracker_destroy(&t);
}

/* Two receive queues, each taking two of four flows (frame n is in flow
 * n % 4): queue 0's frames all come first, then queue 1's. Every flow is
 * in order, so nothing is reordered, though most of queue 1's frames are
 * below the highest number seen: that is interleaving. */
static void test_flows_overtaking_each_other_not_reordered(void **state)
{
	struct seq_tracker t;
	uint64_t n;

	(void)state;
	assert_int_equal(seq_tracker_init(&t, 400), 0);
	for (n = 0; n < 400; n++)
		if (n % 4 == 0 || n % 4 == 2)
			assert_int_equal(seq_tracker_note(&t, n, 4), SEQ_NEW);
	for (n = 0; n < 400; n++)
		if (n % 4 == 1 || n % 4 == 3)
			assert_int_equal(seq_tracker_note(&t, n, 4), SEQ_NEW);
	assert_int_equal(t.reordered, 0);
	assert_int_equal(t.interleaved, 199);   /* all of queue 1 but 399 */
	assert_int_equal(t.unique, 400);
	assert_int_equal(seq_tracker_lost(&t, 400), 0);
	seq_tracker_destroy(&t);
}

/* Inside one flow order still counts: flow 1 of 4 is 1, 5, 9, ... */
static void test_reordered_inside_a_flow(void **state)
{
	struct seq_tracker t;

	(void)state;
	assert_int_equal(seq_tracker_init(&t, 100), 0);
	assert_int_equal(seq_tracker_note(&t, 1, 4), SEQ_NEW);
	assert_int_equal(seq_tracker_note(&t, 9, 4), SEQ_NEW);
	assert_int_equal(seq_tracker_note(&t, 2, 4), SEQ_NEW);   /* flow 2 */
	assert_int_equal(seq_tracker_note(&t, 5, 4), SEQ_REORDERED);
	assert_int_equal(seq_tracker_note(&t, 5, 4), SEQ_DUPLICATE);
	assert_int_equal(seq_tracker_note(&t, 13, 4), SEQ_NEW);
	assert_int_equal(t.reordered, 1);
	assert_int_equal(t.duplicated, 1);
	assert_int_equal(t.interleaved, 1);     /* 2, below 9 */
	/* 0..13 minus 1, 2, 5, 9, 13 */
	assert_int_equal(seq_tracker_lost(&t, 0), 9);
	seq_tracker_destroy(&t);
}

/* The first frame fixes the flow count: a frame with another count is
 * another generator's, counted apart and not tracked. */
static void test_mixed_flow_counts(void **state)
{
	struct seq_tracker t;

	(void)state;
	assert_int_equal(seq_tracker_init(&t, 100), 0);
	assert_int_equal(seq_tracker_note(&t, 0, 8), SEQ_NEW);
	assert_int_equal(seq_tracker_note(&t, 1, 2), SEQ_MIXED_FLOWS);
	assert_int_equal(seq_tracker_note(&t, 1, 8), SEQ_NEW);
	assert_int_equal(t.mixed_flows, 1);
	assert_int_equal(t.unique, 2);
	assert_int_equal(t.flows, 8);
	seq_tracker_destroy(&t);

	/* A count beyond what a frame can name never becomes the run's. */
	assert_int_equal(seq_tracker_init(&t, 2 * SEQ_TRACK_MAX_FLOWS), 0);
	assert_int_equal(seq_tracker_note(&t, 0, SEQ_TRACK_MAX_FLOWS + 1),
			 SEQ_MIXED_FLOWS);
	assert_int_equal(seq_tracker_note(&t, 0, SEQ_TRACK_MAX_FLOWS), SEQ_NEW);
	assert_int_equal(seq_tracker_note(&t, SEQ_TRACK_MAX_FLOWS - 1,
					  SEQ_TRACK_MAX_FLOWS), SEQ_NEW);
	assert_int_equal(t.interleaved, 0);
	seq_tracker_destroy(&t);
}

/* Two queues' trackers merged count as one tracker that saw every frame:
 * the same numbers, lost and duplicated alike; a number both queues saw
 * is a duplicate. */
static void test_merge(void **state)
{
	struct seq_tracker a, b, all;
	uint64_t n;

	(void)state;
	assert_int_equal(seq_tracker_init(&a, 1u << 22), 0);
	assert_int_equal(seq_tracker_init(&b, 1u << 22), 0);
	assert_int_equal(seq_tracker_init(&all, 1u << 22), 0);
	for (n = 0; n < 3000000; n++) {
		if (n % 7 == 3)
			continue;                      /* lost */
		seq_tracker_note(n % 2 ? &a : &b, n, 4);
		seq_tracker_note(&all, n, 4);
	}
	seq_tracker_note(&a, 12, 4);                   /* seen on both */
	seq_tracker_note(&all, 12, 4);
	seq_tracker_note(&b, 11, 4);                   /* twice on b */
	seq_tracker_note(&all, 11, 4);
	assert_int_equal(seq_tracker_merge(&a, &b), 0);
	assert_true(a.unique == all.unique);
	assert_true(a.duplicated == all.duplicated);
	assert_int_equal(a.duplicated, 2);
	assert_true(a.highest == all.highest);
	assert_int_equal(a.flows, 4);
	assert_true(seq_tracker_lost(&a, 3000000) == seq_tracker_lost(&all, 3000000));
	assert_true(seq_tracker_lost(&a, 0) == seq_tracker_lost(&all, 0));
	seq_tracker_destroy(&a);
	seq_tracker_destroy(&b);
	seq_tracker_destroy(&all);

	/* A tracker that saw nothing merges into one that did, and the
	 * other way round (the bitmap grows to the other's). */
	assert_int_equal(seq_tracker_init(&a, 1u << 22), 0);
	assert_int_equal(seq_tracker_init(&b, 1u << 22), 0);
	seq_tracker_note(&b, 3000000, 1);
	assert_int_equal(seq_tracker_merge(&a, &b), 0);
	assert_true(a.highest == 3000000);
	assert_int_equal(a.unique, 1);
	assert_true(seq_tracker_lost(&a, 0) == 3000000);
	seq_tracker_destroy(&a);
	seq_tracker_destroy(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order_nothing_lost),
		cmocka_unit_test(test_gaps_and_tail_lost),
		cmocka_unit_test(test_duplicates_not_reordered),
		cmocka_unit_test(test_reordered),
		cmocka_unit_test(test_first_frame_high),
		cmocka_unit_test(test_beyond_limit),
		cmocka_unit_test(test_growth_keeps_bits),
		cmocka_unit_test(test_nothing_received),
		cmocka_unit_test(test_odd_limit_word_edge),
		cmocka_unit_test(test_flows_overtaking_each_other_not_reordered),
		cmocka_unit_test(test_reordered_inside_a_flow),
		cmocka_unit_test(test_mixed_flow_counts),
		cmocka_unit_test(test_merge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
