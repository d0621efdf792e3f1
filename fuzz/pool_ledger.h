/* The harness's own record of who holds each buffer of a pool, checked
 * against the library's state after every operation:
 *
 *   every buffer is in exactly one place: the pool's free stack, a ring
 *   (in flight, as the ring's bookkeeping says), or the harness (handed
 *   out by a burst or an allocation and not yet given back).
 *
 * A buffer handed out twice shows up in two places; a lost one in none.
 * The pool and its context are made once per process (a context maps DMA
 * memory, too slow to repeat per input); each input must give every
 * buffer back, which the last check proves. */
#ifndef SN_FUZZ_POOL_LEDGER_H
#define SN_FUZZ_POOL_LEDGER_H

#include <stdbool.h>
#include <stdint.h>

#include "mempool.h"

#define LEDGER_MAX 256

struct pool_ledger {
	struct sn_ctx *ctx;
	struct sn_mempool *pool;
	uint32_t size, buf_size, room;
	bool held[LEDGER_MAX];         /* by buffer index: the harness has it */
	struct sn_pkt *held_list[LEDGER_MAX];
	uint32_t num_held;
	uint8_t seen[LEDGER_MAX];      /* scratch for the partition check */
};

/* A context with an emulated IOMMU and one pool of `size` buffers;
 * aborts with a message if the machine cannot give the memory. */
void ledger_init(struct pool_ledger *l, uint32_t size, uint32_t buf_size);

/* The buffer holding device address iova: its index, and the offset of
 * iova in it; -1 when iova lies in no buffer. */
int ledger_buffer_at(const struct pool_ledger *l, uint64_t iova, uint32_t *offset);

/* The harness receives pkt (from a burst or an allocation): it must be
 * one of the pool's own packets, not held already and not on the free
 * stack. */
void ledger_take(struct pool_ledger *l, struct sn_pkt *pkt, const char *from);
/* The harness gives away its held packet number i (to a ring or the
 * pool); returns it. */
struct sn_pkt *ledger_give(struct pool_ledger *l, uint32_t i);
/* Frees n held packets (the oldest first) through the public API. */
void ledger_free(struct pool_ledger *l, uint32_t n);

/* The partition check. The caller marks what its rings hold with
 * ledger_mark (between ledger_begin and ledger_end). */
void ledger_begin(struct pool_ledger *l);
void ledger_mark(struct pool_ledger *l, const struct sn_pkt *pkt, const char *where);
void ledger_end(struct pool_ledger *l);

/* End of an input: every buffer back in the pool, none refused. */
void ledger_all_home(struct pool_ledger *l);

#endif
