/* The IOTLB model of iotlb.c: which entry LRU evicts, which set a page
 * lands in, a 2 MiB entry covering its 512 4 KiB pages, and a working
 * set that fits against one that thrashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "iotlb.h"

#define KIB4 (1ull << IOTLB_SHIFT_4K)
#define MIB2 (1ull << IOTLB_SHIFT_2M)

static void geometry_must_give_power_of_two_sets(void **state)
{
	struct iotlb t;
	(void)state;
	assert_int_equal(iotlb_init(&t, 64, 4), 0);
	assert_int_equal(t.sets, 16);
	iotlb_fini(&t);
	assert_int_equal(iotlb_init(&t, 64, 0), 0);
	assert_int_equal(t.sets, 1);
	assert_int_equal(t.ways, 64);
	iotlb_fini(&t);
	assert_int_not_equal(iotlb_init(&t, 96, 4), 0);  /* 24 sets */
	assert_int_not_equal(iotlb_init(&t, 64, 3), 0);  /* not a divisor */
	assert_int_not_equal(iotlb_init(&t, 0, 4), 0);
}

/* The set is the page number's low bits: pages `sets` apart collide. */
static void set_is_low_bits_of_page_number(void **state)
{
	struct iotlb t;
	(void)state;
	assert_int_equal(iotlb_init(&t, 32, 4), 0);   /* 8 sets */
	assert_int_equal(iotlb_set_of(&t, 0x0, IOTLB_SHIFT_4K), 0);
	assert_int_equal(iotlb_set_of(&t, 3 * KIB4 + 0x123, IOTLB_SHIFT_4K), 3);
	assert_int_equal(iotlb_set_of(&t, 11 * KIB4, IOTLB_SHIFT_4K), 3);
	assert_int_equal(iotlb_set_of(&t, 5 * MIB2 + 7 * KIB4, IOTLB_SHIFT_2M), 5);
	/* Five pages of one set in a 4-way IOTLB: the fifth evicts the first,
	 * while pages of other sets stay. */
	iotlb_access(&t, 1, 1 * KIB4, IOTLB_SHIFT_4K);
	for (uint64_t i = 0; i < 5; i++)
		assert_false(iotlb_access(&t, 1, (i * 8) * KIB4, IOTLB_SHIFT_4K));
	assert_true(iotlb_access(&t, 1, 1 * KIB4, IOTLB_SHIFT_4K));
	assert_false(iotlb_access(&t, 1, 0, IOTLB_SHIFT_4K));
	iotlb_fini(&t);
}

/* A hit makes an entry the most recent: the least recently used one goes. */
static void lru_evicts_least_recently_used(void **state)
{
	struct iotlb t;
	(void)state;
	assert_int_equal(iotlb_init(&t, 4, 0), 0);
	for (uint64_t p = 0; p < 4; p++)
		assert_false(iotlb_access(&t, 1, p * KIB4, IOTLB_SHIFT_4K));
	assert_true(iotlb_access(&t, 1, 0, IOTLB_SHIFT_4K));          /* order: 1 2 3 0 */
	assert_false(iotlb_access(&t, 1, 4 * KIB4, IOTLB_SHIFT_4K));  /* evicts 1 */
	assert_true(iotlb_access(&t, 1, 0, IOTLB_SHIFT_4K));
	assert_true(iotlb_access(&t, 1, 2 * KIB4, IOTLB_SHIFT_4K));
	assert_true(iotlb_access(&t, 1, 3 * KIB4, IOTLB_SHIFT_4K));
	assert_true(iotlb_access(&t, 1, 4 * KIB4, IOTLB_SHIFT_4K));
	assert_false(iotlb_access(&t, 1, 1 * KIB4, IOTLB_SHIFT_4K));  /* was evicted */
	assert_int_equal(t.lookups, 11);
	assert_int_equal(t.misses, 6);
	iotlb_fini(&t);
}

/* Entries are per domain: the same IOVA in two domains takes two. */
static void domains_do_not_share_entries(void **state)
{
	struct iotlb t;
	(void)state;
	assert_int_equal(iotlb_init(&t, 8, 0), 0);
	assert_false(iotlb_access(&t, 1, 0x5000, IOTLB_SHIFT_4K));
	assert_false(iotlb_access(&t, 2, 0x5000, IOTLB_SHIFT_4K));
	assert_true(iotlb_access(&t, 1, 0x5fff, IOTLB_SHIFT_4K));
	assert_true(iotlb_access(&t, 2, 0x5000, IOTLB_SHIFT_4K));
	iotlb_fini(&t);
}

/* One 2 MiB entry answers for all 512 4 KiB pages inside it; in 4 KiB
 * entries the same addresses miss once per page. */
static void huge_entry_covers_512_small_pages(void **state)
{
	struct iotlb big, small;
	(void)state;
	assert_int_equal(iotlb_init(&big, 32, 4), 0);
	assert_int_equal(iotlb_init(&small, 1024, 0), 0);
	for (int round = 0; round < 2; round++)
		for (uint64_t p = 0; p < 512; p++) {
			uint64_t iova = 7 * MIB2 + p * KIB4 + 64;
			iotlb_access(&big, 3, iova, IOTLB_SHIFT_2M);
			iotlb_access(&small, 3, iova, IOTLB_SHIFT_4K);
		}
	assert_int_equal(big.misses, 1);
	assert_int_equal(small.misses, 512);
	/* Past the 2 MiB page: a new entry. */
	assert_false(iotlb_access(&big, 3, 8 * MIB2, IOTLB_SHIFT_2M));
	iotlb_fini(&big);
	iotlb_fini(&small);
}

/* Cycling through N pages: with N entries only the first round misses;
 * with one entry fewer, LRU misses on every access (each page is evicted
 * just before it comes round again). */
static void fitting_set_hits_thrashing_set_misses(void **state)
{
	struct iotlb fit, thrash;
	(void)state;
	assert_int_equal(iotlb_init(&fit, 64, 0), 0);
	assert_int_equal(iotlb_init(&thrash, 64, 0), 0);
	for (int round = 0; round < 10; round++) {
		for (uint64_t p = 0; p < 64; p++)
			iotlb_access(&fit, 1, p * KIB4, IOTLB_SHIFT_4K);
		for (uint64_t p = 0; p < 65; p++)
			iotlb_access(&thrash, 1, p * KIB4, IOTLB_SHIFT_4K);
	}
	assert_int_equal(fit.misses, 64);
	assert_int_equal(thrash.misses, thrash.lookups);
	iotlb_fini(&fit);
	iotlb_fini(&thrash);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(geometry_must_give_power_of_two_sets),
		cmocka_unit_test(set_is_low_bits_of_page_number),
		cmocka_unit_test(lru_evicts_least_recently_used),
		cmocka_unit_test(domains_do_not_share_entries),
		cmocka_unit_test(huge_entry_covers_512_small_pages),
		cmocka_unit_test(fitting_set_hits_thrashing_set_misses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
