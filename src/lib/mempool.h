/* Packet pools: the buffers (frame data) live in DMA memory, while their
 * metadata, the free stacks and the owner bits live in ordinary memory the
 * device can never reach.
 *
 * Threads: each thread that uses a pool gets a cache of free buffers in
 * front of the pool's shared store. Allocating and freeing from the own
 * cache takes no lock and no atomic read-modify-write; a cache that runs
 * dry or full moves a batch from or to the store under the pool's mutex.
 * A thread has a slot number (thread_slot in mempool.c), the index of its
 * cache in every pool; a slot freed at thread exit goes to the next new
 * thread with its caches' contents, which are free buffers like any.
 *
 * Lifetime: a pool's memory stays mapped while any of its buffers is out
 * (in a ring of any device, or held by the application) and while a
 * device receives into it. sn_mempool_destroy only gives up the caller's
 * handle; the pool is freed when the last buffer is back in the store and
 * the last device using it has closed, so no descriptor ever points at
 * unmapped memory. Once released, frees bypass the caches; a buffer left
 * in a live thread's cache comes home when that thread next touches the
 * pool (or at sn_ctx_destroy), one in an exited thread's cache at once. */
#ifndef SN_MEMPOOL_H
#define SN_MEMPOOL_H

#include <pthread.h>
#include <stdbool.h>

#include "dma.h"
#include "safenic/safenic.h"

/* Threads with a cache of their own at once; more go to the store. */
#define SN_POOL_THREADS 64
/* Largest cache; a small pool gets size / 8 so caches hoard little. */
#define SN_POOL_CACHE_MAX 256

/* Where a buffer starts, in the CPU's and in the device's view; where it
 * ends (device view); and its metadata. Written only at creation (and by
 * sn_mempools_refresh_iova), so transmit checks a packet against it with
 * one line of loads. */
struct sn_buf_home {
	uint8_t *va;
	uint64_t iova;
	uint64_t iova_end;             /* iova + buf_size */
	struct sn_pkt *pkt;
};

/* One thread's free buffers. Only the owner touches the stack; count is
 * read by others (sn_mempool_free_count), so it is a relaxed atomic. */
struct sn_pool_cache {
	uint32_t count;
	struct sn_pkt **stack;         /* cache_cap entries */
} __attribute__((aligned(64)));

struct sn_mempool {
	/* Read by every thread, written only at creation. */
	struct sn_ctx *ctx;
	struct sn_dma_region *region;
	struct sn_pkt *pkts;           /* metadata, one per buffer */
	struct sn_buf_home *home;      /* by buffer index */
	uint8_t *in_pool;              /* owner bit: 1 while free (store or a
					* cache); relaxed atomic loads/stores */
	struct sn_pool_cache *caches;  /* SN_POOL_THREADS, by thread slot */
	uint32_t size;
	uint32_t buf_size;
	uint32_t bufs_per_page;
	uint32_t cache_cap;            /* 0: no caches, all through the store */
	uint32_t cache_batch;          /* moved at once to or from the store */
	unsigned flags;
	bool cached;                   /* caches in use: cache_cap > 0 and not
					* released (relaxed atomic) */
	bool released;                 /* sn_mempool_destroy was called
					* (relaxed atomic: read unlocked) */
	uint64_t bad_frees;            /* double frees and foreign buffers
					* refused (relaxed atomic) */

	/* The shared store, under lock. */
	pthread_mutex_t lock;
	struct sn_pkt **free_stack;
	uint32_t num_free;             /* written under lock, read relaxed */
	unsigned users;                /* devices receiving into the pool */
	bool dying;                    /* a thread is about to free it */
	struct sn_mempool *next;       /* the context's list (ctx->lock) */
};

/* The buffer's own device address at the given headroom: what every
 * descriptor pointing at it must hold. */
static inline uint64_t sn_pkt_home_iova(const struct sn_pkt *pkt, uint32_t headroom)
{
	return pkt->pool->home[pkt->index].iova + headroom;
}

/* A pool's fields the transmit check reads, copied into a loop's locals
 * once per pool (stores into descriptors and slot arrays would otherwise
 * make the compiler reload them for every packet). */
struct sn_tx_view {
	const struct sn_mempool *pool;
	const struct sn_buf_home *home;
	uint32_t size;
};

/* The pool half of sn_pkt_tx_ok: the pool belongs to the device's
 * context. Fills the view only then. */
static inline bool sn_tx_view_take(struct sn_tx_view *v, const struct sn_mempool *pool,
				   const struct sn_ctx *ctx)
{
	if (pool->ctx != ctx)
		return false;
	*v = (struct sn_tx_view){ pool, pool->home, pool->size };
	return true;
}

/* The packet half of sn_pkt_tx_ok, for a packet of the view's pool;
 * *iova gets the address its descriptor must hold. max_frame (at least
 * 14) is the longest frame the device may send: its MTU + 14. */
static inline bool sn_pkt_tx_ok_in(const struct sn_tx_view *v, const struct sn_pkt *pkt,
				   uint32_t prefix, uint32_t max_frame, uint64_t *iova)
{
	uint32_t headroom = pkt->headroom, len = pkt->len, index = pkt->index;
	if (index >= v->size)
		return false;
	const struct sn_buf_home *home = &v->home[index];
	uint64_t at = home->iova + headroom;
	*iova = at;
	/* at + len <= iova_end: headroom + len <= the buffer's size. The
	 * unsigned wrap folds 14 <= len <= max_frame into one test. */
	return home->pkt == pkt && len - 14 <= max_frame - 14 && headroom >= prefix &&
	       at + len <= home->iova_end &&
	       pkt->iova == at && pkt->data == home->va + headroom;
}

/* May a packet the application hands to transmit go on a descriptor?
 * It must be its pool's own metadata, of a pool of the device's context;
 * its data and device address must be its own buffer's at its headroom,
 * with room before it for `prefix` bytes the driver writes (virtio's
 * header), and headroom + len inside the buffer; len from 14 to max_frame
 * (the MTU + 14). So no descriptor points outside the packet's own
 * buffer, no frame goes out longer than the MTU allows, and what comes
 * back from a ring is known to be a pool's own packet with consistent
 * offsets. */
static inline bool sn_pkt_tx_ok(const struct sn_pkt *pkt, const struct sn_ctx *ctx,
				uint32_t prefix, uint32_t max_frame)
{
	struct sn_tx_view v;
	uint64_t iova;
	return sn_tx_view_take(&v, pkt->pool, ctx) &&
	       sn_pkt_tx_ok_in(&v, pkt, prefix, max_frame, &iova);
}

/* Frees buffers a ring gives back: ones the driver posted from the pool,
 * or ones sn_pkt_tx_ok accepted. Those are known to be pools' own packets
 * with consistent offsets, so only the owner bit is checked (the caller
 * may have freed a buffer it had handed to transmit) and only a moved
 * headroom is put back. */
void sn_pkt_free_from_ring(struct sn_pkt **pkts, uint32_t n);

/* Takes up to n free buffers for a receive ring: returns a pointer
 * just past them and their number in *got (0: the pool is dry). They
 * are at ptr[-1], ptr[-2] ... ptr[-got], still marked free: the caller
 * clears each one's owner bit (sn_mempool_mark_out) as it posts it, and
 * must use them before its thread's next call on any pool. Their len is
 * stale (receive sets it). */
struct sn_pkt **sn_mempool_take(struct sn_mempool *pool, uint32_t n, uint32_t *got);

/* The buffer leaves the pool; in_pool is the pool's owner bits, which
 * the caller keeps in a local across a loop. */
static inline void sn_mempool_mark_out(uint8_t *in_pool, const struct sn_pkt *pkt)
{
	__atomic_store_n(&in_pool[pkt->index], 0, __ATOMIC_RELAXED);
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
