/* Mempool under several threads: bursts of random sizes from two pools,
 * buffers passed between threads (one allocates, another frees), double
 * frees, and a pool destroyed while other threads still hold buffers.
 * A ledger of owner flags proves that no buffer is handed out twice and
 * none is lost. Meant for ThreadSanitizer too (test.sh builds it so):
 * every buffer's first byte is written by its owner, so two owners at
 * once would also be a reported race. */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "ctx.h"
#include "mempool.h"

#define THREADS 6
#define ROUNDS 4000
#define BIG 4096 /* buffers: caches of 256 */
#define SMALL 7  /* buffers: too few for caches, always the store */
#define QUEUE 1024

/* Buffers on their way from one thread to another. */
struct handoff {
	pthread_mutex_t lock;
	struct sn_pkt *pkts[QUEUE];
	unsigned head, count;
};

struct torture {
	struct sn_mempool *pools[2];
	uint8_t *taken[2];             /* ledger: 1 while someone holds it */
	struct handoff queue;
	uint64_t double_frees;         /* tried on purpose (atomic) */
	unsigned long failures;        /* ledger violations (atomic) */
};

static int pool_no(const struct torture *t, const struct sn_pkt *pkt)
{
	return pkt->pool == t->pools[0] ? 0 : 1;
}

/* A buffer just handed out: nobody else may hold it. */
static void got(struct torture *t, struct sn_pkt *pkt, uint8_t mark)
{
	if (__atomic_exchange_n(&t->taken[pool_no(t, pkt)][pkt->index], 1, __ATOMIC_RELAXED))
		__atomic_fetch_add(&t->failures, 1, __ATOMIC_RELAXED);
	if (pkt->len != 0 || pkt->flags != 0 || pkt->headroom != SN_POOL_HEADROOM)
		__atomic_fetch_add(&t->failures, 1, __ATOMIC_RELAXED);
	pkt->data[0] = mark;
	/* Offsets moved by the holder must not reach the next one. */
	pkt->data += 4;
	pkt->headroom = (uint16_t)(pkt->headroom + 4);
	pkt->len = 60;
	pkt->flags = SN_PKT_RSS_HASH;
}

/* About to free it: the ledger says it is held. */
static void letting_go(struct torture *t, struct sn_pkt *pkt)
{
	if (!__atomic_exchange_n(&t->taken[pool_no(t, pkt)][pkt->index], 0, __ATOMIC_RELAXED))
		__atomic_fetch_add(&t->failures, 1, __ATOMIC_RELAXED);
}

static void release_all(struct torture *t, struct sn_pkt **pkts, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		letting_go(t, pkts[i]);
	sn_pkt_free_bulk(pkts, n);
}

static unsigned pass_on(struct handoff *q, struct sn_pkt **pkts, unsigned n)
{
	pthread_mutex_lock(&q->lock);
	unsigned i;
	for (i = 0; i < n && q->count < QUEUE; i++, q->count++)
		q->pkts[(q->head + q->count) % QUEUE] = pkts[i];
	pthread_mutex_unlock(&q->lock);
	return i;
}

static unsigned pick_up(struct handoff *q, struct sn_pkt **pkts, unsigned n)
{
	pthread_mutex_lock(&q->lock);
	unsigned i;
	for (i = 0; i < n && q->count > 0; i++, q->count--) {
		pkts[i] = q->pkts[q->head];
		q->head = (q->head + 1) % QUEUE;
	}
	pthread_mutex_unlock(&q->lock);
	return i;
}

/* One round: allocate a burst from one pool or both, free part of it at
 * once (mixed pools in one call), pass part on, keep none; free what
 * others passed on. A deliberate double free goes to `own`, a pool only
 * this thread uses (NULL: none): in a shared pool another thread may
 * already have taken the buffer again, and freeing it then is the
 * caller's use after free, which no owner bit can tell from a free. */
static void round_of(struct torture *t, unsigned *seed, uint8_t mark,
		     struct sn_mempool *own)
{
	struct sn_pkt *pkts[160];
	unsigned want = 1 + (unsigned)rand_r(seed) % 128, n;
	n = sn_pkt_alloc_bulk(t->pools[0], pkts, want);
	if (rand_r(seed) % 4 == 0)
		n += sn_pkt_alloc_bulk(t->pools[1], pkts + n, 1 + (unsigned)rand_r(seed) % 4);
	for (unsigned i = 0; i < n; i++)
		got(t, pkts[i], mark);
	/* Shuffle, so that a free call mixes the pools. */
	for (unsigned i = n; i > 1; i--) {
		unsigned j = (unsigned)rand_r(seed) % i;
		struct sn_pkt *x = pkts[i - 1];
		pkts[i - 1] = pkts[j];
		pkts[j] = x;
	}
	unsigned keep = n ? (unsigned)rand_r(seed) % (n + 1) : 0;
	unsigned passed = pass_on(&t->queue, pkts, keep);
	release_all(t, pkts + passed, n - passed);
	if (own && rand_r(seed) % 16 == 0) {
		/* Freed twice while other threads run: the second is refused
		 * and counted, and the buffer is home once. */
		struct sn_pkt *mine;
		if (sn_pkt_alloc_bulk(own, &mine, 1) == 1) {
			sn_pkt_free_bulk(&mine, 1);
			sn_pkt_free_bulk(&mine, 1);
			__atomic_fetch_add(&t->double_frees, 1, __ATOMIC_RELAXED);
		}
	}
	n = pick_up(&t->queue, pkts, 1 + (unsigned)rand_r(seed) % 128);
	release_all(t, pkts, n);
}

struct worker {
	pthread_t thread;
	struct torture *t;
	unsigned seed;
	struct sn_mempool *own;        /* this thread's alone, for double frees */
	/* Phase two: the buffers held across the pool's destruction. */
	struct sn_pkt *held[8];
	unsigned num_held;
	pthread_barrier_t *destroyed;
};

static void *torture_thread(void *arg)
{
	struct worker *w = arg;
	for (int r = 0; r < ROUNDS; r++)
		round_of(w->t, &w->seed, (uint8_t)w->seed, w->own);
	return NULL;
}

static void run_threads(struct worker *w, void *(*fn)(void *))
{
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&w[i].thread, NULL, fn, &w[i]), 0);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(w[i].thread, NULL), 0);
}

static void setup_torture(struct torture *t, struct sn_ctx *ctx)
{
	*t = (struct torture){ 0 };
	pthread_mutex_init(&t->queue.lock, NULL);
	t->pools[0] = sn_mempool_create(ctx, BIG, 0, 0, NULL);
	t->pools[1] = sn_mempool_create(ctx, SMALL, 0, 0, NULL);
	assert_non_null(t->pools[0]);
	assert_non_null(t->pools[1]);
	t->taken[0] = calloc(BIG, 1);
	t->taken[1] = calloc(SMALL, 1);
	assert_non_null(t->taken[0]);
	assert_non_null(t->taken[1]);
}

/* Drains the hand-off queue from the main thread. */
static void drain_queue(struct torture *t)
{
	struct sn_pkt *pkts[64];
	unsigned n;
	while ((n = pick_up(&t->queue, pkts, 64)) > 0)
		release_all(t, pkts, n);
}

static void many_threads_share_two_pools(void **state)
{
	struct sn_ctx *ctx = sn_ctx_create(NULL, NULL);
	struct torture t;
	struct worker w[THREADS];
	(void)state;
	assert_non_null(ctx);
	setup_torture(&t, ctx);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .t = &t, .seed = 1234u + (unsigned)i,
					.own = sn_mempool_create(ctx, 64, 0, 0, NULL) };
		assert_non_null(w[i].own);
	}
	run_threads(w, torture_thread);
	drain_queue(&t);
	assert_int_equal(t.failures, 0);
	/* Every buffer home: in the store or in the (exited) threads'
	 * caches, and no buffer held according to the ledger. */
	assert_int_equal(sn_mempool_free_count(t.pools[0]), BIG);
	assert_int_equal(sn_mempool_free_count(t.pools[1]), SMALL);
	for (unsigned i = 0; i < BIG; i++)
		assert_int_equal(t.taken[0][i], 0);
	assert_true(t.double_frees > 0);
	uint64_t refused = 0;
	for (int i = 0; i < THREADS; i++) {
		refused += sn_mempool_bad_frees(w[i].own);
		assert_int_equal(sn_mempool_free_count(w[i].own), 64);
		sn_mempool_destroy(w[i].own);
	}
	assert_int_equal(refused, t.double_frees);
	assert_int_equal(sn_mempool_bad_frees(t.pools[0]) + sn_mempool_bad_frees(t.pools[1]), 0);
	/* All of them can be had again, each once. */
	struct sn_pkt **all = calloc(BIG, sizeof(*all));
	assert_non_null(all);
	assert_int_equal(sn_pkt_alloc_bulk(t.pools[0], all, BIG), BIG);
	for (unsigned i = 0; i < BIG; i++)
		got(&t, all[i], 1);
	assert_int_equal(t.failures, 0);
	release_all(&t, all, BIG);
	free(all);
	sn_mempool_destroy(t.pools[0]);
	sn_mempool_destroy(t.pools[1]);
	struct sn_mem_info info;
	sn_ctx_mem_info(ctx, &info);
	assert_int_equal(info.regions, 0);
	free(t.taken[0]);
	free(t.taken[1]);
	sn_ctx_destroy(ctx);
}

/* Phase two: each thread runs, keeps a few buffers, waits while the main
 * thread destroys the pools, then frees what it kept. */
static void *hold_across_destroy(void *arg)
{
	struct worker *w = arg;
	for (int r = 0; r < ROUNDS / 4; r++)
		round_of(w->t, &w->seed, (uint8_t)w->seed, NULL);
	w->num_held = sn_pkt_alloc_bulk(w->t->pools[0], w->held, 8);
	for (unsigned i = 0; i < w->num_held; i++)
		got(w->t, w->held[i], 2);
	pthread_barrier_wait(w->destroyed); /* all hold theirs */
	pthread_barrier_wait(w->destroyed); /* the pools are destroyed */
	release_all(w->t, w->held, w->num_held);
	return NULL;
}

static void destroyed_while_threads_hold_buffers(void **state)
{
	struct sn_ctx *ctx = sn_ctx_create(NULL, NULL);
	struct torture t;
	struct worker w[THREADS];
	pthread_barrier_t destroyed;
	(void)state;
	assert_non_null(ctx);
	setup_torture(&t, ctx);
	assert_int_equal(pthread_barrier_init(&destroyed, NULL, THREADS + 1), 0);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .t = &t, .seed = 99u + (unsigned)i,
					.destroyed = &destroyed };
		assert_int_equal(pthread_create(&w[i].thread, NULL, hold_across_destroy, &w[i]),
				 0);
	}
	pthread_barrier_wait(&destroyed);
	/* Nobody allocates any more. */
	drain_queue(&t);
	unsigned out = 0;
	for (int i = 0; i < THREADS; i++)
		out += w[i].num_held;
	assert_true(out > 0);
	sn_mempool_destroy(t.pools[0]);
	sn_mempool_destroy(t.pools[1]);
	struct sn_mem_info info;
	sn_ctx_mem_info(ctx, &info);
	assert_int_equal(info.regions, 1); /* the big pool: buffers out */
	pthread_barrier_wait(&destroyed);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(w[i].thread, NULL), 0);
	assert_int_equal(t.failures, 0);
	/* The last free, by whichever thread, freed the pool: the threads
	 * that held buffers flushed their caches as they freed them. */
	sn_ctx_mem_info(ctx, &info);
	assert_int_equal(info.regions, 0);
	assert_null(ctx->pools);
	pthread_barrier_destroy(&destroyed);
	free(t.taken[0]);
	free(t.taken[1]);
	sn_ctx_destroy(ctx);
}

/* A thread that exits leaves its cache to the next thread that gets its
 * slot; the buffers in it are counted free and handed out again. */
static void *take_and_give_back(void *arg)
{
	struct sn_mempool *pool = arg;
	struct sn_pkt *pkts[40];
	uint32_t n = sn_pkt_alloc_bulk(pool, pkts, 40);
	sn_pkt_free_bulk(pkts, n);
	return (void *)(uintptr_t)n;
}

static void an_exited_threads_cache_stays_usable(void **state)
{
	struct sn_ctx *ctx = sn_ctx_create(NULL, NULL);
	(void)state;
	assert_non_null(ctx);
	struct sn_mempool *pool = sn_mempool_create(ctx, 800, 0, 0, NULL);
	assert_non_null(pool);
	for (int i = 0; i < 100; i++) {
		pthread_t th;
		void *n;
		assert_int_equal(pthread_create(&th, NULL, take_and_give_back, pool), 0);
		assert_int_equal(pthread_join(th, &n), 0);
		assert_int_equal((uintptr_t)n, 40);
		assert_int_equal(sn_mempool_free_count(pool), 800);
	}
	struct sn_pkt *pkts[800];
	assert_int_equal(sn_pkt_alloc_bulk(pool, pkts, 800), 800);
	sn_pkt_free_bulk(pkts, 800);
	/* Destroyed with buffers in exited threads' caches: freed at once. */
	sn_mempool_destroy(pool);
	assert_null(ctx->pools);
	sn_ctx_destroy(ctx);
}

/* More threads at once than there are cache slots: the ones without a
 * slot go through the store, for allocation, freeing and the receive
 * ring's take alike. */
#define CROWD (SN_POOL_THREADS + 6)

struct crowd {
	struct sn_mempool *pool;
	pthread_barrier_t all_in;
	unsigned long failures;
};

static void *crowd_member(void *arg)
{
	struct crowd *c = arg;
	struct sn_pkt *pkts[48];
	uint32_t n = sn_pkt_alloc_bulk(c->pool, pkts, 8), got;
	/* Everyone holds a slot (or found none) at the same time. */
	pthread_barrier_wait(&c->all_in);
	struct sn_pkt **top = sn_mempool_take(c->pool, 40, &got);
	for (uint32_t i = 0; i < got; i++) {
		pkts[n + i] = *--top;
		sn_mempool_mark_out(c->pool->in_pool, pkts[n + i]);
	}
	if (n != 8 || got == 0)
		__atomic_fetch_add(&c->failures, 1, __ATOMIC_RELAXED);
	for (uint32_t i = 0; i < n + got; i++)
		pkts[i]->data[0] = (uint8_t)i; /* one owner, or TSan says so */
	sn_pkt_free_bulk(pkts, n + got);
	return NULL;
}

static void more_threads_than_cache_slots(void **state)
{
	struct sn_ctx *ctx = sn_ctx_create(NULL, NULL);
	struct crowd c = { 0 };
	pthread_t th[CROWD];
	(void)state;
	assert_non_null(ctx);
	/* Room for what every cache may hold on top of what is held. */
	const uint32_t size = SN_POOL_THREADS * SN_POOL_CACHE_MAX + CROWD * 48;
	c.pool = sn_mempool_create(ctx, size, 0, 0, NULL);
	assert_non_null(c.pool);
	assert_int_equal(pthread_barrier_init(&c.all_in, NULL, CROWD), 0);
	for (int i = 0; i < CROWD; i++)
		assert_int_equal(pthread_create(&th[i], NULL, crowd_member, &c), 0);
	for (int i = 0; i < CROWD; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	assert_int_equal(c.failures, 0);
	assert_int_equal(sn_mempool_free_count(c.pool), size);
	assert_int_equal(sn_mempool_bad_frees(c.pool), 0);
	pthread_barrier_destroy(&c.all_in);
	sn_mempool_destroy(c.pool);
	assert_null(ctx->pools);
	sn_ctx_destroy(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(many_threads_share_two_pools),
		cmocka_unit_test(destroyed_while_threads_hold_buffers),
		cmocka_unit_test(an_exited_threads_cache_stays_usable),
		cmocka_unit_test(more_threads_than_cache_slots),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
