#include "pool_ledger.h"

#include "ctx.h"
#include "fuzz_common.h"

void ledger_init(struct pool_ledger *l, uint32_t size, uint32_t buf_size)
{
	struct sn_error err = { 0 };

	memset(l, 0, sizeof(*l));
	FUZZ_CHECK(size <= LEDGER_MAX, "pool of %u buffers", size);
	l->ctx = sn_ctx_create(NULL, &err);
	FUZZ_CHECK(l->ctx != NULL, "sn_ctx_create: %s", err.msg);
	/* IOVAs unlike the virtual addresses, as behind a real IOMMU. */
	FUZZ_CHECK(sn_ctx_emulate_iommu(l->ctx, (1ull << 39) - 1) == 0, "emulated IOMMU");
	l->pool = sn_mempool_create(l->ctx, size, buf_size, 0, &err);
	FUZZ_CHECK(l->pool != NULL, "sn_mempool_create: %s", err.msg);
	l->size = size;
	l->buf_size = l->pool->buf_size;
	l->room = sn_mempool_data_room(l->pool);
	for (uint32_t i = 1; i < size; i++)
		FUZZ_CHECK(l->pool->home[i].iova >= l->pool->home[i - 1].iova + l->buf_size,
			   "buffers %u and %u not at rising addresses", i - 1, i);
}

/* Buffers lie at rising addresses (checked at ledger_init): a binary
 * search for the last one starting at or below iova. */
int ledger_buffer_at(const struct pool_ledger *l, uint64_t iova, uint32_t *offset)
{
	const struct sn_buf_home *home = l->pool->home;
	uint32_t lo = 0, hi = l->size;

	if (iova < home[0].iova)
		return -1;
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (home[mid].iova <= iova)
			lo = mid;
		else
			hi = mid;
	}
	if (iova - home[lo].iova >= l->buf_size)
		return -1;
	*offset = (uint32_t)(iova - home[lo].iova);
	return (int)lo;
}

void ledger_take(struct pool_ledger *l, struct sn_pkt *pkt, const char *from)
{
	struct sn_mempool *pool = l->pool;
	FUZZ_CHECK(pkt != NULL, "%s gave a NULL packet", from);
	uint32_t i = pkt->index;
	FUZZ_CHECK(pkt->pool == pool && i < l->size && pkt == &pool->pkts[i],
		   "%s gave a packet that is not the pool's", from);
	FUZZ_CHECK(!l->held[i], "%s gave buffer %u, which the harness holds already", from, i);
	FUZZ_CHECK(!pool->in_pool[i], "%s gave buffer %u, which is free (store or a cache)", from, i);
	l->held[i] = true;
	l->held_list[l->num_held++] = pkt;
}

struct sn_pkt *ledger_give(struct pool_ledger *l, uint32_t i)
{
	struct sn_pkt *pkt = l->held_list[i];
	l->held[pkt->index] = false;
	l->held_list[i] = l->held_list[--l->num_held];
	return pkt;
}

void ledger_free(struct pool_ledger *l, uint32_t n)
{
	if (n > l->num_held)
		n = l->num_held;
	while (n-- > 0) {
		struct sn_pkt *pkt = ledger_give(l, 0);
		sn_pkt_free_bulk(&pkt, 1);
	}
}

void ledger_begin(struct pool_ledger *l)
{
	const struct sn_mempool *pool = l->pool;

	memset(l->seen, 0, l->size);
	FUZZ_CHECK(pool->num_free <= l->size, "free count %u > pool size %u",
		   pool->num_free, l->size);
	for (uint32_t k = 0; k < pool->num_free; k++) {
		const struct sn_pkt *pkt = pool->free_stack[k];
		FUZZ_CHECK(pool->in_pool[pkt->index], "buffer %u on the free stack without its owner bit",
			   pkt->index);
		ledger_mark(l, pkt, "free stack");
	}
	/* Free buffers also wait in the threads' caches (the harness's own). */
	for (uint32_t t = 0; t < SN_POOL_THREADS; t++) {
		const struct sn_pool_cache *c = &pool->caches[t];
		for (uint32_t k = 0; k < c->count; k++) {
			FUZZ_CHECK(pool->in_pool[c->stack[k]->index],
				   "buffer %u in a thread's cache without its owner bit",
				   c->stack[k]->index);
			ledger_mark(l, c->stack[k], "a thread's cache");
		}
	}
	for (uint32_t k = 0; k < l->num_held; k++)
		ledger_mark(l, l->held_list[k], "harness");
}

void ledger_mark(struct pool_ledger *l, const struct sn_pkt *pkt, const char *where)
{
	FUZZ_CHECK(pkt != NULL && pkt->pool == l->pool && pkt->index < l->size &&
		   pkt == &l->pool->pkts[pkt->index], "%s holds a packet that is not the pool's", where);
	FUZZ_CHECK(!l->seen[pkt->index], "buffer %u is in two places (one: %s)", pkt->index, where);
	l->seen[pkt->index] = 1;
}

void ledger_end(struct pool_ledger *l)
{
	for (uint32_t i = 0; i < l->size; i++)
		FUZZ_CHECK(l->seen[i], "buffer %u is lost: not in the pool, a ring or the harness", i);
}

void ledger_all_home(struct pool_ledger *l)
{
	ledger_free(l, l->num_held);
	FUZZ_CHECK(sn_mempool_free_count(l->pool) == l->size, "%u of %u buffers home at the end",
		   sn_mempool_free_count(l->pool), l->size);
	FUZZ_CHECK(sn_mempool_bad_frees(l->pool) == 0, "%llu frees refused",
		   (unsigned long long)sn_mempool_bad_frees(l->pool));
}
