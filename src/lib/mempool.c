#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>

#include "ctx.h"
#include "error.h"
#include "mempool.h"

static size_t buffer_offset(const struct sn_mempool *pool, uint32_t index)
{
	if (pool->bufs_per_page == 0)
		return (size_t)index * pool->buf_size;
	return (size_t)(index / pool->bufs_per_page) * pool->region->page_size +
	       (size_t)(index % pool->bufs_per_page) * pool->buf_size;
}

void sn_pkt_reset(struct sn_pkt *pkt)
{
	struct sn_mempool *pool = pkt->pool;
	size_t off = buffer_offset(pool, pkt->index);
	pkt->headroom = SN_POOL_HEADROOM;
	pkt->data = pool->region->va + off + SN_POOL_HEADROOM;
	pkt->iova = sn_dma_iova(pool->region, off) + SN_POOL_HEADROOM;
	pkt->len = 0;
}

static void reset_all(struct sn_mempool *pool)
{
	for (uint32_t i = 0; i < pool->size; i++)
		sn_pkt_reset(&pool->pkts[i]);
}

void sn_mempools_refresh_iova(struct sn_ctx *ctx)
{
	/* Only buffers that sit in the pool can be refreshed; this runs when
	 * the IOMMU is set up, before any buffer has left its pool. */
	for (struct sn_mempool *p = ctx->pools; p; p = p->next)
		reset_all(p);
}

static int check_sizes(const struct sn_ctx *ctx, uint32_t num_bufs, uint32_t buf_size,
		       struct sn_error *err)
{
	if (num_bufs == 0 || num_bufs > (1u << 24))
		return sn_fail(err, EINVAL, "a pool needs 1 to 16777216 buffers, not %u",
			       num_bufs);
	if (buf_size < SN_POOL_HEADROOM + 64 || buf_size > 65536 || buf_size % 64)
		return sn_fail(err, EINVAL, "buffer size %u must be a multiple of 64 "
			       "between %u and 65536", buf_size, SN_POOL_HEADROOM + 64);
	(void)ctx;
	return 0;
}

struct sn_mempool *sn_mempool_create(struct sn_ctx *ctx, uint32_t num_bufs,
				     uint32_t buf_size, unsigned flags,
				     struct sn_error *err)
{
	if (buf_size == 0)
		buf_size = SN_POOL_DEFAULT_BUF_SIZE;
	if (check_sizes(ctx, num_bufs, buf_size, err) < 0)
		return NULL;
	struct sn_mempool *pool = calloc(1, sizeof(*pool));
	if (!pool) {
		sn_fail(err, ENOMEM, "out of memory");
		return NULL;
	}
	pool->ctx = ctx;
	pool->size = num_bufs;
	pool->buf_size = buf_size;
	pool->flags = flags;
	pool->pkts = calloc(num_bufs, sizeof(*pool->pkts));
	pool->free_stack = calloc(num_bufs, sizeof(*pool->free_stack));
	if (!pool->pkts || !pool->free_stack) {
		sn_fail(err, ENOMEM, "out of memory for %u buffer headers", num_bufs);
		goto fail;
	}
	size_t page = sn_dma_pick_page_size(ctx, (size_t)num_bufs * buf_size);
	uint32_t per_page = page >= buf_size ? (uint32_t)(page / buf_size) : 1;
	size_t bytes = (size_t)((num_bufs + per_page - 1) / per_page) * page;
	enum sn_dma_access access = (flags & SN_POOL_DEVICE_READ_ONLY)
					    ? SN_DMA_DEVICE_READS : SN_DMA_DEVICE_RW;
	if (sn_dma_alloc(ctx, bytes, access, &pool->region, err) < 0)
		goto fail;
	/* Huge pages: buffers never straddle a page, as unsafe mode needs
	 * (its pages are not physically contiguous). A fallback to 4 KiB
	 * pages happens only with VFIO, whose IOVA range is contiguous: pack
	 * the buffers plainly, which the region's size always holds. */
	pool->bufs_per_page = pool->region->page_size > SN_PAGE_4K
				      ? (uint32_t)(pool->region->page_size / buf_size)
				      : 0;
	for (uint32_t i = 0; i < num_bufs; i++) {
		pool->pkts[i].pool = pool;
		pool->pkts[i].index = i;
		sn_pkt_reset(&pool->pkts[i]);
		pool->free_stack[i] = &pool->pkts[num_bufs - 1 - i];
	}
	pool->num_free = num_bufs;
	pool->next = ctx->pools;
	ctx->pools = pool;
	return pool;
fail:
	if (pool->region)
		sn_dma_free(ctx, pool->region);
	free(pool->pkts);
	free(pool->free_stack);
	free(pool);
	return NULL;
}

void sn_mempool_destroy(struct sn_mempool *pool)
{
	if (!pool)
		return;
	struct sn_mempool **link = &pool->ctx->pools;
	while (*link && *link != pool)
		link = &(*link)->next;
	if (*link)
		*link = pool->next;
	sn_dma_free(pool->ctx, pool->region);
	free(pool->pkts);
	free(pool->free_stack);
	free(pool);
}

uint32_t sn_pkt_alloc_bulk(struct sn_mempool *pool, struct sn_pkt **pkts, uint32_t n)
{
	if (n > pool->num_free)
		n = pool->num_free;
	for (uint32_t i = 0; i < n; i++) {
		struct sn_pkt *pkt = pool->free_stack[--pool->num_free];
		pkt->len = 0;
		pkts[i] = pkt;
	}
	return n;
}

void sn_pkt_free_bulk(struct sn_pkt **pkts, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		struct sn_mempool *pool = pkts[i]->pool;
		/* A double free would overrun the stack; refuse it instead. */
		if (pool->num_free < pool->size)
			pool->free_stack[pool->num_free++] = pkts[i];
	}
}

uint32_t sn_mempool_free_count(const struct sn_mempool *pool)
{
	return pool->num_free;
}

uint32_t sn_mempool_size(const struct sn_mempool *pool)
{
	return pool->size;
}

uint32_t sn_mempool_data_room(const struct sn_mempool *pool)
{
	return pool->buf_size - SN_POOL_HEADROOM;
}
