/* Packet pools: the buffers (frame data) live in DMA memory, while their
 * metadata, the free stack and the owner bits live in ordinary memory the
 * device can never reach.
 *
 * Lifetime: a pool's memory stays mapped while any of its buffers is out
 * (in a ring of any device, or held by the application) and while a
 * device receives into it. sn_mempool_destroy only gives up the caller's
 * handle; the pool is freed when the last buffer comes home and the last
 * device using it has closed, so no descriptor ever points at unmapped
 * memory. */
#ifndef SN_MEMPOOL_H
#define SN_MEMPOOL_H

#include <stdbool.h>

#include "dma.h"
#include "safenic/safenic.h"

/* Where a buffer starts, in the CPU's and in the device's view. */
struct sn_buf_home {
	uint8_t *va;
	uint64_t iova;
};

struct sn_mempool {
	struct sn_ctx *ctx;
	struct sn_dma_region *region;
	struct sn_pkt *pkts;           /* metadata, one per buffer */
	struct sn_buf_home *home;      /* by buffer index */
	uint8_t *in_pool;              /* owner bit: 1 while on the free stack */
	struct sn_pkt **free_stack;
	uint32_t num_free;
	uint32_t size;
	uint32_t buf_size;
	uint32_t bufs_per_page;
	unsigned flags;
	unsigned users;                /* devices receiving into the pool */
	bool released;                 /* sn_mempool_destroy was called */
	uint64_t bad_frees;            /* double frees and foreign buffers refused */
	struct sn_mempool *next;       /* the context's list */
};

/* The buffer's own device address at the given headroom: what every
 * descriptor pointing at it must hold. */
static inline uint64_t sn_pkt_home_iova(const struct sn_pkt *pkt, uint32_t headroom)
{
	return pkt->pool->home[pkt->index].iova + headroom;
}

/* May a packet the application hands to transmit go on a descriptor?
 * It must be its pool's own metadata, of a pool of the device's context;
 * its data and device address must be its own buffer's at its headroom,
 * with room before it for `prefix` bytes the driver writes (virtio's
 * header), and headroom + len inside the buffer. So no descriptor points
 * outside the packet's own buffer, and what comes back from a ring is
 * known to be a pool's own packet with consistent offsets. */
static inline bool sn_pkt_tx_ok(const struct sn_pkt *pkt, const struct sn_ctx *ctx,
				uint32_t prefix)
{
	const struct sn_mempool *pool = pkt->pool;
	uint32_t headroom = pkt->headroom, len = pkt->len, index = pkt->index;
	if (pool->ctx != ctx || index >= pool->size || pkt != &pool->pkts[index])
		return false;
	const struct sn_buf_home *home = &pool->home[index];
	return len >= 14 && headroom >= prefix && headroom + len <= pool->buf_size &&
	       pkt->iova == home->iova + headroom && pkt->data == home->va + headroom;
}

/* Frees buffers a ring gives back: ones the driver posted from the pool,
 * or ones sn_pkt_tx_ok accepted. Those are known to be pools' own packets
 * with consistent offsets, so only the owner bit is checked (the caller
 * may have freed a buffer it had handed to transmit) and only a moved
 * headroom is put back. */
void sn_pkt_free_from_ring(struct sn_pkt **pkts, uint32_t n);

/* Takes the top of the free stack (the caller checked num_free > 0). The
 * ring engine's refill uses it to post buffers without an array copy. */
static inline struct sn_pkt *sn_mempool_pop(struct sn_mempool *pool)
{
	struct sn_pkt *pkt = pool->free_stack[--pool->num_free];
	pool->in_pool[pkt->index] = 0;
	return pkt;
}

/* Recomputes every buffer's device address once the IOMMU has mapped the
 * pools made before the first device was opened. */
void sn_mempools_refresh_iova(struct sn_ctx *ctx);
/* A device starts or stops receiving into the pool. */
void sn_mempool_get(struct sn_mempool *pool);
void sn_mempool_put(struct sn_mempool *pool);
/* Frees the pool whatever is still out: for sn_ctx_destroy only. */
void sn_mempool_free_now(struct sn_mempool *pool);

#endif
