#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>

#include "ctx.h"
#include "error.h"
#include "mempool.h"

/* On huge pages a buffer never straddles a page, as unsafe mode needs (its
 * pages are not physically contiguous): each page holds page / buf_size
 * buffers. On 4 KiB pages (VFIO only, whose IOVA range is contiguous)
 * buffers are packed plainly and may cross pages. */
static uint32_t bufs_per_page(size_t page_size, uint32_t buf_size)
{
	return page_size > SN_PAGE_4K ? (uint32_t)(page_size / buf_size) : 0;
}

static size_t layout_bytes(uint32_t num_bufs, uint32_t buf_size, size_t page_size)
{
	uint32_t per_page = bufs_per_page(page_size, buf_size);
	if (per_page == 0)
		return (size_t)num_bufs * buf_size;
	return (size_t)((num_bufs + per_page - 1) / per_page) * page_size;
}

static size_t buffer_offset(const struct sn_mempool *pool, uint32_t index)
{
	if (pool->bufs_per_page == 0)
		return (size_t)index * pool->buf_size;
	return (size_t)(index / pool->bufs_per_page) * pool->region->page_size +
	       (size_t)(index % pool->bufs_per_page) * pool->buf_size;
}

/* Metadata back to an empty frame after the default headroom. */
static void reset_pkt(struct sn_pkt *pkt)
{
	const struct sn_buf_home *home = &pkt->pool->home[pkt->index];
	pkt->headroom = SN_POOL_HEADROOM;
	pkt->data = home->va + SN_POOL_HEADROOM;
	pkt->iova = home->iova + SN_POOL_HEADROOM;
	pkt->len = 0;
	pkt->flags = 0;
}

static void compute_homes(struct sn_mempool *pool)
{
	for (uint32_t i = 0; i < pool->size; i++) {
		size_t off = buffer_offset(pool, i);
		pool->home[i].va = pool->region->va + off;
		pool->home[i].iova = sn_dma_iova(pool->region, off);
	}
}

void sn_mempools_refresh_iova(struct sn_ctx *ctx)
{
	/* No device has run yet, so no descriptor holds an old address; a
	 * buffer the application holds keeps its headroom. */
	for (struct sn_mempool *p = ctx->pools; p; p = p->next) {
		compute_homes(p);
		for (uint32_t i = 0; i < p->size; i++)
			p->pkts[i].iova = p->home[i].iova + p->pkts[i].headroom;
	}
}

static int check_sizes(uint32_t num_bufs, uint32_t buf_size, struct sn_error *err)
{
	if (num_bufs == 0 || num_bufs > (1u << 24))
		return sn_fail(err, EINVAL, "a pool needs 1 to 16777216 buffers, not %u",
			       num_bufs);
	if (buf_size < SN_POOL_HEADROOM + 64 || buf_size > 65536 || buf_size % 64)
		return sn_fail(err, EINVAL, "buffer size %u must be a multiple of 64 "
			       "between %u and 65536", buf_size, SN_POOL_HEADROOM + 64);
	return 0;
}

static void free_pool_memory(struct sn_mempool *pool)
{
	if (pool->region)
		sn_dma_free(pool->ctx, pool->region);
	free(pool->pkts);
	free(pool->home);
	free(pool->in_pool);
	free(pool->free_stack);
	free(pool);
}

void sn_mempool_free_now(struct sn_mempool *pool)
{
	struct sn_mempool **link = &pool->ctx->pools;
	while (*link && *link != pool)
		link = &(*link)->next;
	if (*link)
		*link = pool->next;
	free_pool_memory(pool);
}

/* The last reference gone: no buffer out, no device receiving into it. */
static void free_if_unused(struct sn_mempool *pool)
{
	if (pool->released && pool->users == 0 && pool->num_free == pool->size)
		sn_mempool_free_now(pool);
}

/* Frees every released pool whose buffers have all come home. */
static void sweep_released(struct sn_ctx *ctx)
{
	struct sn_mempool *p = ctx->pools;
	while (p) {
		struct sn_mempool *next = p->next;
		free_if_unused(p);
		p = next;
	}
}

/* Bytes to ask for: enough for the layout of whichever page size the
 * allocation ends up with (1 GiB falls back to 2 MiB, 2 MiB to 4 KiB). */
static size_t region_bytes(const struct sn_ctx *ctx, uint32_t num_bufs, uint32_t buf_size)
{
	size_t page = sn_dma_pick_page_size(ctx, (size_t)num_bufs * buf_size);
	size_t bytes = layout_bytes(num_bufs, buf_size, page);
	size_t smaller = layout_bytes(num_bufs, buf_size, SN_PAGE_2M);
	if (page > SN_PAGE_2M && smaller > bytes)
		bytes = smaller;
	return bytes;
}

struct sn_mempool *sn_mempool_create(struct sn_ctx *ctx, uint32_t num_bufs,
				     uint32_t buf_size, unsigned flags,
				     struct sn_error *err)
{
	if (buf_size == 0)
		buf_size = SN_POOL_DEFAULT_BUF_SIZE;
	if (check_sizes(num_bufs, buf_size, err) < 0)
		return NULL;
	sweep_released(ctx);
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
	pool->home = calloc(num_bufs, sizeof(*pool->home));
	pool->in_pool = calloc(num_bufs, sizeof(*pool->in_pool));
	pool->free_stack = calloc(num_bufs, sizeof(*pool->free_stack));
	if (!pool->pkts || !pool->home || !pool->in_pool || !pool->free_stack) {
		sn_fail(err, ENOMEM, "out of memory for %u buffer headers", num_bufs);
		free_pool_memory(pool);
		return NULL;
	}
	enum sn_dma_access access = (flags & SN_POOL_DEVICE_READ_ONLY)
					    ? SN_DMA_DEVICE_READS : SN_DMA_DEVICE_RW;
	if (sn_dma_alloc(ctx, region_bytes(ctx, num_bufs, buf_size), access,
			 &pool->region, err) < 0) {
		free_pool_memory(pool);
		return NULL;
	}
	pool->bufs_per_page = bufs_per_page(pool->region->page_size, buf_size);
	if (layout_bytes(num_bufs, buf_size, pool->region->page_size) > pool->region->size) {
		sn_fail(err, EINVAL, "internal: %u buffers of %u bytes do not fit %zu bytes",
			num_bufs, buf_size, pool->region->size);
		free_pool_memory(pool);
		return NULL;
	}
	compute_homes(pool);
	for (uint32_t i = 0; i < num_bufs; i++) {
		pool->pkts[i].pool = pool;
		pool->pkts[i].index = i;
		reset_pkt(&pool->pkts[i]);
		pool->in_pool[i] = 1;
		pool->free_stack[i] = &pool->pkts[num_bufs - 1 - i];
	}
	pool->num_free = num_bufs;
	pool->next = ctx->pools;
	ctx->pools = pool;
	return pool;
}

void sn_mempool_destroy(struct sn_mempool *pool)
{
	if (!pool || pool->released)
		return;
	pool->released = true;
	sweep_released(pool->ctx);
}

void sn_mempool_get(struct sn_mempool *pool)
{
	pool->users++;
}

void sn_mempool_put(struct sn_mempool *pool)
{
	if (pool->users > 0)
		pool->users--;
	sweep_released(pool->ctx);
}

uint32_t sn_pkt_alloc_bulk(struct sn_mempool *pool, struct sn_pkt **pkts, uint32_t n)
{
	if (n > pool->num_free)
		n = pool->num_free;
	/* Frees restored the default headroom; only the length and the
	 * receive flags are left over. */
	for (uint32_t i = 0; i < n; i++) {
		struct sn_pkt *pkt = sn_mempool_pop(pool);
		pkt->len = 0;
		pkt->flags = 0;
		pkts[i] = pkt;
	}
	return n;
}



/* Back to the default headroom, at the buffer's own addresses. */
static void restore_offsets(struct sn_pkt *pkt, const struct sn_buf_home *home)
{
	pkt->headroom = SN_POOL_HEADROOM;
	pkt->data = home->va + SN_POOL_HEADROOM;
	pkt->iova = home->iova + SN_POOL_HEADROOM;
}

/* A free that brings a released pool's last buffer home frees the pool at
 * once when it is the call's last packet's (the common case: one pool a
 * call); other released pools are swept at create, destroy and device
 * close. Only after the loop: a later entry may still name the pool. */
static void sweep_after_free(struct sn_pkt **pkts, uint32_t n)
{
	if (n > 0 && pkts[n - 1]->pool->released)
		free_if_unused(pkts[n - 1]->pool);
}

void sn_pkt_free_bulk(struct sn_pkt **pkts, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		struct sn_pkt *pkt = pkts[i];
		struct sn_mempool *pool = pkt->pool;
		uint32_t index = pkt->index;
		/* A buffer already home (a double free) or not the pool's own
		 * would give one buffer two owners: refuse and count it. */
		if (index >= pool->size || pkt != &pool->pkts[index] || pool->in_pool[index]) {
			pool->bad_frees++;
			continue;
		}
		/* Whatever the application did to the offsets, the buffer goes
		 * back with its own addresses and the default headroom. */
		restore_offsets(pkt, &pool->home[index]);
		pool->in_pool[index] = 1;
		pool->free_stack[pool->num_free++] = pkt;
	}
	sweep_after_free(pkts, n);
}

void sn_pkt_free_from_ring(struct sn_pkt **pkts, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		struct sn_pkt *pkt = pkts[i];
		struct sn_mempool *pool = pkt->pool;
		uint32_t index = pkt->index;
		if (pool->in_pool[index]) {
			pool->bad_frees++;
			continue;
		}
		if (pkt->headroom != SN_POOL_HEADROOM)
			restore_offsets(pkt, &pool->home[index]);
		pool->in_pool[index] = 1;
		pool->free_stack[pool->num_free++] = pkt;
	}
	sweep_after_free(pkts, n);
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

uint64_t sn_mempool_bad_frees(const struct sn_mempool *pool)
{
	return pool->bad_frees;
}
