/* Mempool: batch allocation, running dry, buffers inside their pages,
 * double frees, lifetime, and DMA memory across fork. */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
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

/* A double free must be refused and counted: accepted, it would put one
 * buffer on the free stack twice, and two owners would get it. */
static void a_double_free_is_refused(void **state)
{
	struct sn_mempool *pool = sn_mempool_create(*state, 100, 0, 0, NULL);
	struct sn_pkt *pkts[100];
	assert_non_null(pool);
	assert_int_equal(sn_pkt_alloc_bulk(pool, pkts, 10), 10);
	sn_pkt_free_bulk(pkts, 10);
	sn_pkt_free_bulk(pkts + 3, 1);
	assert_int_equal(sn_mempool_free_count(pool), 100);
	assert_int_equal(sn_mempool_bad_frees(pool), 1);
	assert_int_equal(sn_pkt_alloc_bulk(pool, pkts, 100), 100);
	for (int i = 0; i < 100; i++)
		for (int j = i + 1; j < 100; j++)
			assert_ptr_not_equal(pkts[i], pkts[j]);
	sn_pkt_free_bulk(pkts, 100);
	sn_mempool_destroy(pool);
}

/* The header promises the default headroom: what the application did to
 * a buffer's offsets must not reach the device through the next owner. */
static void alloc_gives_the_default_offsets_back(void **state)
{
	struct sn_mempool *pool = sn_mempool_create(*state, 1, 0, 0, NULL);
	struct sn_pkt *p;
	assert_int_equal(sn_pkt_alloc_bulk(pool, &p, 1), 1);
	uint8_t *data = p->data;
	uint64_t iova = p->iova;
	p->data += 32;
	p->iova += 32;
	p->headroom = (uint16_t)(p->headroom + 32);
	p->len = 100;
	sn_pkt_free_bulk(&p, 1);
	assert_int_equal(sn_pkt_alloc_bulk(pool, &p, 1), 1);
	assert_ptr_equal(p->data, data);
	assert_int_equal(p->iova, iova);
	assert_int_equal(p->headroom, SN_POOL_HEADROOM);
	assert_int_equal(p->len, 0);
	sn_pkt_free_bulk(&p, 1);
	sn_mempool_destroy(pool);
}

/* 4 KiB pages with buffers larger than a page: every buffer must lie
 * inside the region, with its device address inside the mapping. */
static void small_pages_hold_large_buffers(void **state)
{
	(void)state;
	struct sn_ctx *ctx = sn_ctx_create(&(struct sn_ctx_config){ .page_size = 4096 }, NULL);
	assert_non_null(ctx);
	assert_int_equal(sn_ctx_emulate_iommu(ctx, (1ull << 39) - 1), 0);
	const uint32_t sizes[] = { 4160, 8192, 9216, 65536 };
	for (unsigned s = 0; s < 4; s++) {
		struct sn_mempool *pool = sn_mempool_create(ctx, 37, sizes[s], 0, NULL);
		struct sn_pkt *pkts[37];
		assert_non_null(pool);
		assert_int_equal(sn_pkt_alloc_bulk(pool, pkts, 37), 37);
		const struct sn_dma_region *r = pool->region;
		for (int i = 0; i < 37; i++) {
			size_t end = (size_t)(pkts[i]->data - r->va) + sn_mempool_data_room(pool);
			assert_true(end <= r->size);
			assert_true(pkts[i]->iova + sn_mempool_data_room(pool) <= r->iova + r->size);
			pkts[i]->data[sn_mempool_data_room(pool) - 1] = 1;
		}
		sn_pkt_free_bulk(pkts, 37);
		sn_mempool_destroy(pool);
	}
	sn_ctx_destroy(ctx);
}

/* A destroyed pool whose buffers are still out stays usable until the
 * last one comes home, then goes. */
static void a_pool_outlives_its_handle_while_buffers_are_out(void **state)
{
	struct sn_ctx *ctx = *state;
	struct sn_mempool *pool = sn_mempool_create(ctx, 8, 0, 0, NULL);
	struct sn_pkt *pkts[8];
	assert_int_equal(sn_pkt_alloc_bulk(pool, pkts, 3), 3);
	sn_mempool_destroy(pool);
	assert_ptr_equal(ctx->pools, pool);
	pkts[2]->data[0] = 7; /* still the holder's */
	sn_pkt_free_bulk(pkts, 2);
	assert_ptr_equal(ctx->pools, pool);
	sn_pkt_free_bulk(pkts + 2, 1);
	assert_null(ctx->pools);
}

/* A child process must not inherit DMA memory: copy-on-write would move
 * the parent's pages away from the addresses its devices were given. */
static void dma_memory_is_not_inherited_by_fork(void **state)
{
	struct sn_mempool *pool = sn_mempool_create(*state, 8, 0, 0, NULL);
	unsigned char vec[1];
	assert_non_null(pool);
	void *va = pool->region->va;
	assert_int_equal(mincore(va, 4096, vec), 0);
	pid_t child = fork();
	if (child == 0)
		_exit(mincore(va, 4096, vec) == -1 && errno == ENOMEM ? 0 : 1);
	int status = 0;
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
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
		cmocka_unit_test_setup_teardown(a_double_free_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(alloc_gives_the_default_offsets_back, setup,
						teardown),
		cmocka_unit_test(small_pages_hold_large_buffers),
		cmocka_unit_test_setup_teardown(a_pool_outlives_its_handle_while_buffers_are_out,
						setup, teardown),
		cmocka_unit_test_setup_teardown(dma_memory_is_not_inherited_by_fork, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
