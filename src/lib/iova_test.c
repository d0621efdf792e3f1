/* IOVA allocator: alignment, reserved holes, narrow (39-bit) IOMMUs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "iova.h"

#define MB (1ull << 20)

/* What an Intel IOMMU reports: everything but the MSI window. */
static const struct sn_iova_range x86_39bit[] = {
	{ 0xfef00000ull, (1ull << 39) - 1 },
	{ 0, 0xfedfffffull },
};

static void aligned_and_never_zero(void **state)
{
	struct sn_iova_space s;
	uint64_t a, b;
	(void)state;
	assert_int_equal(sn_iova_init(&s, x86_39bit, 2), 0);
	assert_int_equal(sn_iova_alloc(&s, 2 * MB, 2 * MB, &a), 0);
	assert_int_equal(sn_iova_alloc(&s, 4096, 4096, &b), 0);
	assert_true(a != 0 && b != 0);
	assert_int_equal(a % (2 * MB), 0);
	assert_int_equal(b % 4096, 0);
	assert_true(b >= a + 2 * MB || b + 4096 <= a);
	sn_iova_fini(&s);
}

static void skips_reserved_hole(void **state)
{
	struct sn_iova_space s;
	uint64_t iova;
	(void)state;
	assert_int_equal(sn_iova_init(&s, x86_39bit, 2), 0);
	/* Fill the low range up to the hole, then one more must land above. */
	uint64_t blocks = 0xfee00000ull / (2 * MB);
	for (uint64_t i = 1; i < blocks; i++)
		assert_int_equal(sn_iova_alloc(&s, 2 * MB, 2 * MB, &iova), 0);
	assert_int_equal(sn_iova_alloc(&s, 2 * MB, 2 * MB, &iova), 0);
	assert_true(iova >= 0xfef00000ull);
	assert_int_equal(iova % (2 * MB), 0);
	sn_iova_fini(&s);
}

static void stays_below_39_bits(void **state)
{
	struct sn_iova_space s;
	uint64_t iova;
	(void)state;
	assert_int_equal(sn_iova_init(&s, x86_39bit, 2), 0);
	/* 256 GiB: too big for the low range, must fit in the 39-bit one. */
	assert_int_equal(sn_iova_alloc(&s, 256ull << 30, 1ull << 30, &iova), 0);
	assert_true(iova + (256ull << 30) - 1 <= (1ull << 39) - 1);
	assert_int_equal(iova % (1ull << 30), 0);
	/* The whole 39-bit space cannot be handed out twice. */
	assert_int_equal(sn_iova_alloc(&s, 1ull << 39, 4096, &iova), -ENOSPC);
	sn_iova_fini(&s);
}

static void free_and_reuse(void **state)
{
	const struct sn_iova_range small = { 0, 16 * MB - 1 };
	struct sn_iova_space s;
	uint64_t a, b, c;
	(void)state;
	assert_int_equal(sn_iova_init(&s, &small, 1), 0);
	assert_int_equal(sn_iova_alloc(&s, 2 * MB, 2 * MB, &a), 0);
	assert_int_equal(sn_iova_alloc(&s, 2 * MB, 2 * MB, &b), 0);
	assert_int_equal(sn_iova_free(&s, a), 0);
	assert_int_equal(sn_iova_free(&s, a), -ENOENT);
	assert_int_equal(sn_iova_alloc(&s, 2 * MB, 2 * MB, &c), 0);
	assert_int_equal(c, a);
	/* 16 MiB minus the first 2 MiB (never 0) holds 7 blocks. */
	uint64_t x;
	int got = 2;
	while (sn_iova_alloc(&s, 2 * MB, 2 * MB, &x) == 0)
		got++;
	assert_int_equal(got, 7);
	sn_iova_fini(&s);
}

static void rejects_bad_arguments(void **state)
{
	const struct sn_iova_range inverted = { 10, 5 };
	const struct sn_iova_range top = { 0, UINT64_MAX };
	struct sn_iova_space s;
	uint64_t iova;
	(void)state;
	assert_int_equal(sn_iova_init(&s, &inverted, 1), -EINVAL);
	assert_int_equal(sn_iova_init(&s, NULL, 0), -EINVAL);
	assert_int_equal(sn_iova_init(&s, &top, 1), 0);
	assert_int_equal(sn_iova_alloc(&s, 4096, 3000, &iova), -EINVAL);
	assert_int_equal(sn_iova_alloc(&s, 0, 4096, &iova), -EINVAL);
	/* Near the top of a full 64-bit range nothing may wrap around. */
	assert_int_equal(sn_iova_alloc(&s, UINT64_MAX - 4096, 4096, &iova), 0);
	assert_int_equal(sn_iova_alloc(&s, 8192, 4096, &iova), -ENOSPC);
	sn_iova_fini(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(aligned_and_never_zero),
		cmocka_unit_test(skips_reserved_hole),
		cmocka_unit_test(stays_below_39_bits),
		cmocka_unit_test(free_and_reuse),
		cmocka_unit_test(rejects_bad_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
