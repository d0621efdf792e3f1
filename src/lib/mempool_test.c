/* Mempool: batch allocation, running dry, buffers inside their pages. */
#include <errno.h>
#include <setjmp.h>
#include <string.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ctx.h"
#include "mempool.h"

static int setup(void **state)
{
	*state = sn_ctx_create(NULL, NULL);
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	sn_ctx_destroy(*state);
	return 0;
}

static void empty_pool_yields_fewer(void **state)
{
	struct sn_mempool *pool = sn_mempool_create(*state, 100, 0, 0, NULL);
	struct sn_pkt *pkts[128];
	assert_non_null(pool);
	assert_int_equal(sn_pkt_alloc_bulk(pool, pkts, 64), 64);
	assert_int_equal(sn_pkt_alloc_bulk(pool, pkts + 64, 64), 36);
	assert_int_equal(sn_pkt_alloc_bulk(pool, pkts + 100, 8), 0);
	assert_int_equal(sn_mempool_free_count(pool), 0);
	sn_pkt_free_bulk(pkts, 100);
	assert_int_equal(sn_mempool_free_count(pool), 100);
	/* A double free must not overrun the free stack. */
	sn_pkt_free_bulk(pkts, 10);
	assert_int_equal(sn_mempool_free_count(pool), 100);
	sn_mempool_destroy(pool);
}

static void buffers_are_distinct_and_in_place(void **state)
{
	struct sn_mempool *pool = sn_mempool_create(*state, 3000, 0, 0, NULL);
	struct sn_pkt *pkts[3000];
	assert_non_null(pool);
	assert_int_equal(sn_pkt_alloc_bulk(pool, pkts, 3000), 3000);
	const struct sn_dma_region *r = pool->region;
	for (int i = 0; i < 3000; i++) {
		struct sn_pkt *p = pkts[i];
		size_t off = (size_t)(p->data - r->va);
		assert_int_equal(p->headroom, SN_POOL_HEADROOM);
		assert_int_equal(p->len, 0);
		assert_ptr_equal(p->pool, pool);
		assert_true(off + sn_mempool_data_room(pool) <= r->size);
		/* On huge pages, headroom and data stay inside one page (unsafe
		 * mode relies on it); 4 KiB pages use VFIO's contiguous IOVAs. */
		if (r->page_size > 4096)
			assert_int_equal((off - SN_POOL_HEADROOM) / r->page_size,
					 (off + sn_mempool_data_room(pool) - 1) / r->page_size);
		assert_int_equal(p->iova, sn_dma_iova(r, off));
		p->data[0] = (uint8_t)i; /* every buffer is writable memory */
	}
	for (int i = 1; i < 3000; i++)
		assert_ptr_not_equal(pkts[i]->data, pkts[i - 1]->data);
	sn_pkt_free_bulk(pkts, 3000);
	sn_mempool_destroy(pool);
}

static void rejects_bad_sizes(void **state)
{
	struct sn_error err;
	assert_null(sn_mempool_create(*state, 0, 0, 0, &err));
	assert_int_equal(err.code, -EINVAL);
	assert_null(sn_mempool_create(*state, 10, 100, 0, &err));
	assert_non_null(strstr(err.msg, "buffer size"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(empty_pool_yields_fewer, setup, teardown),
		cmocka_unit_test_setup_teardown(buffers_are_distinct_and_in_place, setup, teardown),
		cmocka_unit_test_setup_teardown(rejects_bad_sizes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
