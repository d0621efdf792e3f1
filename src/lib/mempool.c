#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "error.h"
#include "mempool.h"

/* Values other threads read without the lock (counts, owner bits, the
 * released flag): relaxed atomic loads and stores, plain moves on x86. */
#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

/* ---- thread slots ------------------------------------------------------
 * A thread's slot is its cache's index in every pool of every context:
 * process-wide by nature, hence the only globals of the library. The
 * table is touched when a thread first uses a pool and when it exits. */
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static bool slot_taken[SN_POOL_THREADS];
static pthread_once_t slot_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t slot_key;
static bool slot_key_ok;

/* -1: none yet; NO_SLOT: none to be had, the thread uses the store.
 * initial-exec: one load relative to the thread pointer instead of a call
 * to __tls_get_addr; fine for a library that is linked, not dlopen'ed. */
#define NO_SLOT (-2)
static _Thread_local int thread_slot __attribute__((tls_model("initial-exec"))) = -1;

/* Thread exit: the slot (and with it the thread's caches, whose buffers
 * are free) goes to the next thread that needs one. */
static void release_slot(void *value)
{
	int slot = (int)((uintptr_t)value - 1);
	pthread_mutex_lock(&slots_lock);
	slot_taken[slot] = false;
	pthread_mutex_unlock(&slots_lock);
	thread_slot = -1;
}

static void make_slot_key(void)
{
	slot_key_ok = pthread_key_create(&slot_key, release_slot) == 0;
}

static int assign_slot(void)
{
	int slot = NO_SLOT;
	pthread_once(&slot_key_once, make_slot_key);
	if (slot_key_ok) {
		pthread_mutex_lock(&slots_lock);
		for (int i = 0; i < SN_POOL_THREADS && slot < 0; i++)
			if (!slot_taken[i])
				slot = i;
		if (slot >= 0)
			slot_taken[slot] = true;
		pthread_mutex_unlock(&slots_lock);
	}
	if (slot >= 0 && pthread_setspecific(slot_key, (void *)(uintptr_t)(slot + 1)) != 0) {
		release_slot((void *)(uintptr_t)(slot + 1));
		slot = NO_SLOT;
	}
	thread_slot = slot;
	return slot;
}

static inline int my_slot(void)
{
	int slot = thread_slot;
	return slot != -1 ? slot : assign_slot();
}

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
		pool->home[i].iova_end = pool->home[i].iova + pool->buf_size;
		pool->home[i].pkt = &pool->pkts[i];
	}
}

void sn_mempools_refresh_iova(struct sn_ctx *ctx)
{
	/* No device has run yet, so no descriptor holds an old address; a
	 * buffer the application holds keeps its headroom. */
	pthread_mutex_lock(&ctx->lock);
	for (struct sn_mempool *p = ctx->pools; p; p = p->next) {
		compute_homes(p);
		for (uint32_t i = 0; i < p->size; i++)
			p->pkts[i].iova = p->home[i].iova + p->pkts[i].headroom;
	}
	pthread_mutex_unlock(&ctx->lock);
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
	if (pool->caches)
		free(pool->caches[0].stack);
	free(pool->caches);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}

void sn_mempool_free_now(struct sn_mempool *pool)
{
	struct sn_ctx *ctx = pool->ctx;
	pthread_mutex_lock(&ctx->lock);
	struct sn_mempool **link = &ctx->pools;
	while (*link && *link != pool)
		link = &(*link)->next;
	if (*link)
		*link = pool->next;
	free_pool_memory(pool);
	pthread_mutex_unlock(&ctx->lock);
}

/* ---- the shared store (pool->lock held) -------------------------------- */

static void adopt_orphans(struct sn_mempool *pool);

/* A store running dry first takes in what exited threads left in their
 * caches, so that no buffer is out of reach while a thread needs it. */
static uint32_t store_get(struct sn_mempool *pool, struct sn_pkt **dst, uint32_t n)
{
	if (n > pool->num_free)
		adopt_orphans(pool);
	uint32_t have = pool->num_free;
	if (n > have)
		n = have;
	memcpy(dst, pool->free_stack + have - n, n * sizeof(*dst));
	STORE(&pool->num_free, have - n);
	return n;
}

static void store_put(struct sn_mempool *pool, struct sn_pkt *const *src, uint32_t n)
{
	memcpy(pool->free_stack + pool->num_free, src, n * sizeof(*src));
	STORE(&pool->num_free, pool->num_free + n);
}

static void cache_to_store(struct sn_mempool *pool, struct sn_pool_cache *c)
{
	if (c->count == 0)
		return;
	store_put(pool, c->stack, c->count);
	STORE(&c->count, 0);
}

/* Brings home what exited threads left in their caches: nobody can take
 * their slot while slots_lock is held, and their writes to the cache
 * happened before they gave the slot back under that lock. */
static void adopt_orphans(struct sn_mempool *pool)
{
	pthread_mutex_lock(&slots_lock);
	for (int i = 0; i < SN_POOL_THREADS; i++)
		if (!slot_taken[i] && pool->caches[i].count)
			cache_to_store(pool, &pool->caches[i]);
	pthread_mutex_unlock(&slots_lock);
}

/* The last reference gone: released, no device receiving into it, every
 * buffer in the store. Then no thread can still be inside a call on it
 * (one would hold a buffer, or be a device's ring), so the caller may
 * free it once the lock is dropped; dying keeps it to one caller. */
static bool ready_to_free(struct sn_mempool *pool)
{
	if (!pool->released || pool->users > 0 || pool->dying)
		return false;
	if (pool->num_free < pool->size)
		adopt_orphans(pool);
	if (pool->num_free < pool->size)
		return false;
	pool->dying = true;
	return true;
}

/* Frees every released pool whose buffers have all come home. */
static void sweep_released(struct sn_ctx *ctx)
{
	pthread_mutex_lock(&ctx->lock);
	struct sn_mempool *p = ctx->pools;
	while (p) {
		struct sn_mempool *next = p->next;
		if (LOAD(&p->released)) {
			pthread_mutex_lock(&p->lock);
			bool go = ready_to_free(p);
			pthread_mutex_unlock(&p->lock);
			if (go)
				sn_mempool_free_now(p);
		}
		p = next;
	}
	pthread_mutex_unlock(&ctx->lock);
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

/* Each thread's cache holds at most size / 8 buffers, so that buffers
 * stuck in other threads' caches leave most of a small pool usable. */
static int make_caches(struct sn_mempool *pool)
{
	uint32_t cap = pool->size / 8;
	if (cap > SN_POOL_CACHE_MAX)
		cap = SN_POOL_CACHE_MAX;
	pool->cache_cap = cap;
	pool->cache_batch = (cap + 1) / 2;
	pool->cached = cap > 0;
	pool->caches = calloc(SN_POOL_THREADS, sizeof(*pool->caches));
	if (!pool->caches)
		return -ENOMEM;
	if (cap == 0)
		return 0;
	struct sn_pkt **stacks = calloc((size_t)SN_POOL_THREADS * cap, sizeof(*stacks));
	if (!stacks)
		return -ENOMEM;
	for (int i = 0; i < SN_POOL_THREADS; i++)
		pool->caches[i].stack = stacks + (size_t)i * cap;
	return 0;
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
	pthread_mutex_init(&pool->lock, NULL);
	pool->ctx = ctx;
	pool->size = num_bufs;
	pool->buf_size = buf_size;
	pool->flags = flags;
	pool->pkts = calloc(num_bufs, sizeof(*pool->pkts));
	pool->home = calloc(num_bufs, sizeof(*pool->home));
	pool->in_pool = calloc(num_bufs, sizeof(*pool->in_pool));
	pool->free_stack = calloc(num_bufs, sizeof(*pool->free_stack));
	if (!pool->pkts || !pool->home || !pool->in_pool || !pool->free_stack ||
	    make_caches(pool) < 0) {
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
	pthread_mutex_lock(&ctx->lock);
	pool->next = ctx->pools;
	ctx->pools = pool;
	pthread_mutex_unlock(&ctx->lock);
	return pool;
}

void sn_mempool_destroy(struct sn_mempool *pool)
{
	if (!pool || LOAD(&pool->released))
		return;
	int slot = my_slot();
	pthread_mutex_lock(&pool->lock);
	STORE(&pool->released, true);
	STORE(&pool->cached, false);
	/* From now on frees bypass the caches; this thread's own goes home
	 * now, other threads' when they next touch the pool. */
	if (slot >= 0)
		cache_to_store(pool, &pool->caches[slot]);
	pthread_mutex_unlock(&pool->lock);
	sweep_released(pool->ctx);
}

void sn_mempool_get(struct sn_mempool *pool)
{
	pthread_mutex_lock(&pool->lock);
	pool->users++;
	pthread_mutex_unlock(&pool->lock);
}

void sn_mempool_put(struct sn_mempool *pool)
{
	pthread_mutex_lock(&pool->lock);
	if (pool->users > 0)
		pool->users--;
	pthread_mutex_unlock(&pool->lock);
	sweep_released(pool->ctx);
}

/* ---- allocation ---------------------------------------------------------- */

/* The calling thread's cache of the pool, or NULL when it goes through
 * the store: no slot to be had, a pool too small for caches, or a
 * released pool (then the thread's cache goes home first). The fast
 * paths below check the common case inline (a slot, a pool with caches)
 * and come here for the rest, e.g. a thread's first call. */
static __attribute__((noinline)) struct sn_pool_cache *my_cache(struct sn_mempool *pool)
{
	int slot = my_slot();
	if (slot < 0 || pool->cache_cap == 0)
		return NULL;
	struct sn_pool_cache *c = &pool->caches[slot];
	if (!LOAD(&pool->released))
		return c;
	if (c->count) {
		pthread_mutex_lock(&pool->lock);
		cache_to_store(pool, c);
		pthread_mutex_unlock(&pool->lock);
	}
	return NULL;
}

/* An empty cache takes what is wanted and a batch more from the store
 * (at most its capacity); returns the new count. */
static uint32_t refill(struct sn_mempool *pool, struct sn_pool_cache *c, uint32_t want)
{
	uint32_t cap = pool->cache_cap;
	uint32_t fill = want >= cap - pool->cache_batch ? cap : want + pool->cache_batch;
	pthread_mutex_lock(&pool->lock);
	uint32_t got = store_get(pool, c->stack, fill);
	pthread_mutex_unlock(&pool->lock);
	return got;
}

static uint32_t alloc_from_store(struct sn_mempool *pool, struct sn_pkt **pkts, uint32_t n)
{
	pthread_mutex_lock(&pool->lock);
	n = store_get(pool, pkts, n);
	pthread_mutex_unlock(&pool->lock);
	for (uint32_t i = 0; i < n; i++) {
		STORE(&pool->in_pool[pkts[i]->index], 0);
		pkts[i]->len = 0;
		pkts[i]->flags = 0;
	}
	return n;
}

/* Pops n buffers the cache holds into pkts. */
static inline __attribute__((always_inline)) void
pop_cached(struct sn_mempool *pool, struct sn_pool_cache *c, struct sn_pkt **pkts, uint32_t n)
{
	uint8_t *in_pool = pool->in_pool;
	struct sn_pkt **top = c->stack + c->count;
	/* Frees restored the default headroom; only the length and the
	 * receive flags are left over. */
	for (uint32_t i = 0; i < n; i++) {
		struct sn_pkt *pkt = *--top;
		STORE(&in_pool[pkt->index], 0);
		pkt->len = 0;
		pkt->flags = 0;
		pkts[i] = pkt;
	}
	STORE(&c->count, (uint32_t)(top - c->stack));
}

/* sn_pkt_alloc_bulk's other cases: no cache, or too few in it. */
static __attribute__((noinline)) uint32_t alloc_slow(struct sn_mempool *pool,
						     struct sn_pkt **pkts, uint32_t n)
{
	struct sn_pool_cache *c = my_cache(pool);
	if (!c)
		return alloc_from_store(pool, pkts, n);
	uint32_t got = 0;
	while (got < n) {
		uint32_t count = c->count;
		if (count == 0 && (count = refill(pool, c, n - got)) == 0)
			break;
		STORE(&c->count, count);
		uint32_t k = count < n - got ? count : n - got;
		pop_cached(pool, c, pkts + got, k);
		got += k;
	}
	return got;
}

uint32_t sn_pkt_alloc_bulk(struct sn_mempool *pool, struct sn_pkt **pkts, uint32_t n)
{
	unsigned slot = (unsigned)thread_slot;
	if (__builtin_expect(slot >= SN_POOL_THREADS || !LOAD(&pool->cached), 0))
		return alloc_slow(pool, pkts, n);
	struct sn_pool_cache *c = &pool->caches[slot];
	if (__builtin_expect(c->count < n, 0))
		return alloc_slow(pool, pkts, n);
	pop_cached(pool, c, pkts, n);
	return n;
}

/* sn_mempool_take's other cases: no cache of the pool (threads without
 * one take a few at a time through a small array of their own), or an
 * empty one. */
static __attribute__((noinline)) struct sn_pkt **take_slow(struct sn_mempool *pool,
							   uint32_t n, uint32_t *got)
{
	static _Thread_local struct sn_pkt *spare[32]
		__attribute__((tls_model("initial-exec")));
	struct sn_pool_cache *c = my_cache(pool);
	if (!c) {
		pthread_mutex_lock(&pool->lock);
		*got = store_get(pool, spare, n < 32 ? n : 32);
		pthread_mutex_unlock(&pool->lock);
		return spare + *got;
	}
	uint32_t count = c->count;
	if (count == 0)
		count = refill(pool, c, n);
	uint32_t k = count < n ? count : n;
	STORE(&c->count, count - k);
	*got = k;
	return c->stack + count;
}

struct sn_pkt **sn_mempool_take(struct sn_mempool *pool, uint32_t n, uint32_t *got)
{
	unsigned slot = (unsigned)thread_slot;
	if (__builtin_expect(slot >= SN_POOL_THREADS || !LOAD(&pool->cached), 0))
		return take_slow(pool, n, got);
	struct sn_pool_cache *c = &pool->caches[slot];
	uint32_t count = c->count;
	if (__builtin_expect(count == 0, 0))
		return take_slow(pool, n, got);
	uint32_t k = count < n ? count : n;
	STORE(&c->count, count - k);
	*got = k;
	return c->stack + count;
}

/* ---- freeing ------------------------------------------------------------- */

/* Back to the default headroom, at the buffer's own addresses. */
static void restore_offsets(struct sn_pkt *pkt, const struct sn_buf_home *home)
{
	pkt->headroom = SN_POOL_HEADROOM;
	pkt->data = home->va + SN_POOL_HEADROOM;
	pkt->iova = home->iova + SN_POOL_HEADROOM;
}

/* The pool's fields a free loop uses, in locals: a store to an owner bit
 * (a byte, which may alias anything) would otherwise reload them. */
struct free_view {
	struct sn_mempool *pool;
	struct sn_pkt *pkts;
	const struct sn_buf_home *home;
	uint8_t *in_pool;
	uint32_t size;
};

static inline struct free_view view_of(struct sn_mempool *pool)
{
	return (struct free_view){ pool, pool->pkts, pool->home, pool->in_pool, pool->size };
}

/* Whether the buffer may come home, and if so marks it home. A buffer
 * already home (a double free) or not the pool's own would give one
 * buffer two owners: refused and counted. Buffers from a ring are known
 * to be pools' own (see sn_pkt_free_from_ring), so only the owner bit is
 * checked for them. Check and mark are separate relaxed accesses, not an
 * exchange: two threads freeing the same buffer at the same instant may
 * both get through (documented in safenic.h). */
static inline __attribute__((always_inline)) bool
take_home(const struct free_view *v, struct sn_pkt *pkt, bool from_ring)
{
	uint32_t index = pkt->index;
	if ((!from_ring && (index >= v->size || pkt != &v->pkts[index])) ||
	    LOAD(&v->in_pool[index])) {
		__atomic_fetch_add(&v->pool->bad_frees, 1, __ATOMIC_RELAXED);
		return false;
	}
	/* Whatever the application did to the offsets, the buffer goes back
	 * with its own addresses and the default headroom. */
	if (!from_ring || pkt->headroom != SN_POOL_HEADROOM)
		restore_offsets(pkt, &v->home[index]);
	STORE(&v->in_pool[index], 1);
	return true;
}

/* Frees the leading packets of pkts that belong to pool into the
 * thread's cache, which has room for n; returns how many it looked at. */
static inline __attribute__((always_inline)) uint32_t
free_to_cache(struct sn_mempool *pool, struct sn_pool_cache *c, struct sn_pkt **pkts,
	      uint32_t n, bool from_ring)
{
	const struct free_view v = view_of(pool);
	struct sn_pkt **top = c->stack + c->count, **p = pkts, **end = pkts + n;
#pragma GCC unroll 4
	for (; p < end; p++) {
		struct sn_pkt *pkt = *p;
		if (pkt->pool != pool)
			break;
		/* From a ring, the common case in two tests: not home yet (no
		 * double free), default headroom (nothing to restore). */
		if (from_ring && __builtin_expect(!LOAD(&v.in_pool[pkt->index]), 1) &&
		    __builtin_expect(pkt->headroom == SN_POOL_HEADROOM, 1))
			STORE(&v.in_pool[pkt->index], 1);
		else if (!take_home(&v, pkt, from_ring))
			continue;
		*top++ = pkt;
	}
	STORE(&c->count, (uint32_t)(top - c->stack));
	return (uint32_t)(p - pkts);
}

/* The same straight into the store: threads without a cache, and
 * released pools, whose last free frees them. */
static uint32_t free_to_store(struct sn_mempool *pool, struct sn_pkt **pkts, uint32_t n,
			      bool from_ring)
{
	const struct free_view v = view_of(pool);
	uint32_t i;
	pthread_mutex_lock(&pool->lock);
	for (i = 0; i < n && pkts[i]->pool == pool; i++)
		if (take_home(&v, pkts[i], from_ring))
			store_put(pool, &pkts[i], 1);
	bool go = LOAD(&pool->released) && ready_to_free(pool);
	pthread_mutex_unlock(&pool->lock);
	if (go)
		sn_mempool_free_now(pool);
	return i;
}

/* free_run's other cases: no cache (see my_cache), or one without
 * room for the whole run, which moves its top batch to the store as often
 * as it fills. */
static __attribute__((noinline)) uint32_t free_run_slow(struct sn_pkt **pkts, uint32_t n,
							 bool from_ring)
{
	struct sn_mempool *pool = pkts[0]->pool;
	struct sn_pool_cache *c = my_cache(pool);
	if (!c)
		return free_to_store(pool, pkts, n, from_ring);
	uint32_t done = 0, want, step;
	do {
		uint32_t count = c->count;
		if (count == pool->cache_cap) {
			count -= pool->cache_batch;
			pthread_mutex_lock(&pool->lock);
			store_put(pool, c->stack + count, pool->cache_batch);
			pthread_mutex_unlock(&pool->lock);
			STORE(&c->count, count);
		}
		uint32_t room = pool->cache_cap - count;
		want = n - done < room ? n - done : room;
		step = from_ring ? free_to_cache(pool, c, pkts + done, want, true)
				 : free_to_cache(pool, c, pkts + done, want, false);
		done += step;
	} while (done < n && step == want);
	return done;
}

/* Frees a run of packets of one pool; returns its length. The common
 * case, a thread's own cache with room for them all, is inline. */
static inline __attribute__((always_inline)) uint32_t
free_run(struct sn_pkt **pkts, uint32_t n, bool from_ring)
{
	struct sn_mempool *pool = pkts[0]->pool;
	unsigned slot = (unsigned)thread_slot;
	if (__builtin_expect(slot < SN_POOL_THREADS && LOAD(&pool->cached), 1)) {
		struct sn_pool_cache *c = &pool->caches[slot];
		if (__builtin_expect(n <= pool->cache_cap - c->count, 1))
			return free_to_cache(pool, c, pkts, n, from_ring);
	}
	return free_run_slow(pkts, n, from_ring);
}

/* Packets after the first run: from other pools. */
static __attribute__((noinline)) void free_rest(struct sn_pkt **pkts, uint32_t n,
						bool from_ring)
{
	for (uint32_t i = 0; i < n;)
		i += from_ring ? free_run(pkts + i, n - i, true)
			       : free_run(pkts + i, n - i, false);
}

/* The common case is one pool a call: one run, inlined. */
static inline __attribute__((always_inline)) void
free_pkts(struct sn_pkt **pkts, uint32_t n, bool from_ring)
{
	if (n == 0)
		return;
	uint32_t done = free_run(pkts, n, from_ring);
	if (__builtin_expect(done < n, 0))
		free_rest(pkts + done, n - done, from_ring);
}

void sn_pkt_free_bulk(struct sn_pkt **pkts, uint32_t n)
{
	free_pkts(pkts, n, false);
}

void sn_pkt_free_from_ring(struct sn_pkt **pkts, uint32_t n)
{
	free_pkts(pkts, n, true);
}

/* ---- figures ------------------------------------------------------------- */

uint32_t sn_mempool_free_count(const struct sn_mempool *pool)
{
	uint32_t n = LOAD(&pool->num_free);
	for (int i = 0; i < SN_POOL_THREADS; i++)
		n += LOAD(&pool->caches[i].count);
	return n;
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
	return LOAD(&pool->bad_frees);
}
