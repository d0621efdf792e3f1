#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "counter.h"
#include "mempool.h"
#include "ring.h"

/* Refill only when this many descriptors are free: one doorbell a batch. */
#define RX_REFILL_BATCH 32
/* Transmit asks for a status write-back (RS) once per block of this many
 * descriptors (a quarter of a smaller ring), as DPDK's tx_rs_thresh. */
#define TX_RS_BLOCK 32

int sn_ring_init(struct sn_ring *ring, const struct sn_ctx *ctx,
		 const struct sn_ring_format *fmt, void *desc, uint16_t size,
		 volatile uint32_t *tail)
{
	if (size < 8 || (size & (size - 1)))
		return -EINVAL;
	memset(ring, 0, sizeof(*ring));
	ring->slots = calloc(size, sizeof(*ring->slots));
	if (!ring->slots) {
		sn_ring_fini(ring);
		return -ENOMEM;
	}
	ring->desc = desc;
	ring->ctx = ctx;
	ring->fmt = fmt;
	ring->size = size;
	ring->mask = (uint16_t)(size - 1);
	ring->rs_mask = (uint16_t)((size / 4 < TX_RS_BLOCK ? size / 4 : TX_RS_BLOCK) - 1);
	ring->tail = tail;
	ring->max_frame = SN_MTU_DEFAULT + 14;
	return 0;
}

void sn_ring_fini(struct sn_ring *ring)
{
	free(ring->slots);
	ring->slots = NULL;
}

void sn_ring_drain(struct sn_ring *ring)
{
	/* The buffers in flight are the window [next_clean, next_use). */
	for (uint16_t i = 0; ring->slots && i < ring->in_flight; i++)
		sn_pkt_free_from_ring(&ring->slots[(ring->next_clean + i) & ring->mask], 1);
	ring->in_flight = 0;
	ring->next_clean = ring->next_use;
}

/* Release: descriptors must be visible before the device sees the tail. */
static void ring_doorbell(struct sn_ring *ring)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
	*ring->tail = ring->next_use;
}

/* One descriptor stays empty so that head == tail always means "empty". */
static uint16_t free_slots(const struct sn_ring *ring)
{
	return (uint16_t)(ring->size - 1 - ring->in_flight);
}

/* Straight from the thread's pool cache into the descriptors: no copy
 * through an array, and no reset of len, which receive sets. Runs of
 * descriptors up to the ring's end take plain indices, no wrap per
 * buffer. */
static __attribute__((noinline)) void post_fresh(struct sn_ring *ring, unsigned room)
{
	struct sn_mempool *pool = ring->pool;
	uint8_t *in_pool = pool->in_pool;
	volatile union sn_desc *desc = ring->desc;
	struct sn_pkt **slots = ring->slots;
	unsigned use = ring->next_use, size = ring->size, posted = 0;

	while (posted < room) {
		uint32_t got;
		struct sn_pkt **stack = sn_mempool_take(pool, room - posted, &got);
		if (got == 0)
			break; /* pool dry: the application holds the buffers */
		posted += got;
		while (got > 0) {
			unsigned end = size - use < got ? size : use + got;
			volatile union sn_desc *d = desc + use, *d_end = desc + end;
			struct sn_pkt **slot = slots + use;
#pragma GCC unroll 4
			for (; d < d_end; d++, slot++) {
				/* A free buffer has its own address at the
				 * default headroom. */
				struct sn_pkt *pkt = *--stack;
				sn_mempool_mark_out(in_pool, pkt);
				d->read.addr = pkt->iova;
				d->read.cmd = 0; /* clears DD of the old write-back */
				*slot = pkt;
			}
			got -= end - use;
			use = end & (size - 1);
		}
	}
	if (posted == 0)
		return;
	ring->next_use = (uint16_t)use;
	ring->in_flight = (uint16_t)(ring->in_flight + posted);
	ring_doorbell(ring);
}

/* Inline in the receive burst: most bursts post nothing. */
static inline void rx_refill(struct sn_ring *ring)
{
	unsigned room = free_slots(ring);
	if (room >= RX_REFILL_BATCH || (ring->in_flight == 0 && room > 0))
		post_fresh(ring, room);
}

void sn_ring_rx_refill(struct sn_ring *ring)
{
	rx_refill(ring);
}

/* Takes the buffer out of a completed descriptor and advances. Slots
 * outside the in-flight window are stale, never read, so not cleared. */
static struct sn_pkt *take_slot(struct sn_ring *ring)
{
	uint16_t slot = ring->next_clean;
	ring->next_clean = (uint16_t)((slot + 1) & ring->mask);
	ring->in_flight--;
	return ring->slots[slot];
}

static bool desc_done(volatile const union sn_desc *d, bool receive)
{
	uint32_t status = receive ? d->rx_wb.status : d->tx_wb.status;
	return status & SN_DESC_DD;
}

/* The device must complete receive descriptors in order. A later one done
 * while the current one is not means the device skipped it: drop that
 * buffer, so the ring moves on instead of waiting forever. */
static bool rx_skipped_by_device(struct sn_ring *ring)
{
	if (ring->in_flight < 2)
		return false;
	uint16_t next = (uint16_t)((ring->next_clean + 1) & ring->mask);
	if (!desc_done(&ring->desc[next], true))
		return false;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (desc_done(&ring->desc[ring->next_clean], true))
		return false; /* it completed meanwhile: in order after all */
	sn_count(&ring->stats.device_errors, 1);
	struct sn_pkt *pkt = take_slot(ring);
	sn_pkt_free_from_ring(&pkt, 1);
	return true;
}

/* len and flags sit side by side (safenic.h): one store for both. */
_Static_assert(offsetof(struct sn_pkt, flags) == offsetof(struct sn_pkt, len) + 2 &&
		       sizeof(((struct sn_pkt *)0)->len) == 2 &&
		       sizeof(((struct sn_pkt *)0)->flags) == 2,
	       "sn_pkt: len and flags must be adjacent");

static inline void set_len_flags(struct sn_pkt *pkt, uint32_t len, uint32_t flags)
{
	uint16_t both[2] = { (uint16_t)len, (uint16_t)flags };
	memcpy((char *)pkt + offsetof(struct sn_pkt, len), both, sizeof(both));
}

/* The slow path of a receive write-back that is not a plain good frame:
 * a piece of a multi-descriptor frame, a length the buffer cannot hold,
 * a frame longer than the MTU allows, or a frame the NIC marked bad. Drops and counts it; returns whether
 * the pieces that follow belong to a dropped frame. Out of line, so the
 * harvest loop keeps its registers. */
static __attribute__((noinline, cold)) bool
rx_reject(struct sn_ring *ring, struct sn_pkt *pkt, uint32_t status, uint32_t len, bool discarding)
{
	bool multi = !(status & SN_DESC_EOP) || discarding;

	if (multi || len < 14 || len > ring->rx_room) {
		sn_count(&ring->stats.device_errors, 1);
		sn_count(&ring->stats.errors, 1);
	} else {
		/* A bad or over-long frame on the wire, not a lying device. */
		sn_count(&ring->stats.errors, 1);
	}
	sn_pkt_free_from_ring(&pkt, 1);
	/* Frames spanning descriptors are not enabled: drop every piece up to
	 * and including the one marked end-of-packet. */
	return !(status & SN_DESC_EOP);
}

/* Harvests completed descriptors in order. Kept in locals, since stores
 * through pkts[] could otherwise alias the ring's fields. Compiled twice,
 * with and without RSS (rss a constant), so that a ring without RSS pays
 * nothing for it per frame. Runs up to the ring's end take plain indices. */
static inline __attribute__((always_inline)) uint16_t
rx_harvest_as(struct sn_ring *ring, struct sn_pkt **pkts, uint16_t n, const bool rss)
{
	volatile union sn_desc *desc = ring->desc;
	struct sn_pkt **slots = ring->slots;
	const uint32_t reject = SN_DESC_EOP | ring->fmt->rx_error_mask;
	/* Frame length - 14 must fit the MTU and the buffer: the smaller of
	 * the two, once a burst. */
	const uint32_t max = ring->max_frame < ring->rx_room ? ring->max_frame : ring->rx_room;
	const uint32_t room = max - 14;
	const uint64_t rss_type = ring->rss_type_mask;
	unsigned clean = ring->next_clean, size = ring->size;
	unsigned pending = ring->in_flight, taken = 0;
	struct sn_pkt **out = pkts;
	/* At most n descriptors a call, even when some are dropped. */
	unsigned limit = pending < n ? pending : n;
	bool discarding = ring->discarding;
	/* What status & reject must be for a good frame: end of packet, no
	 * error bit; while discarding, a value it never has (reject lacks DD). */
	uint32_t good = discarding ? ~0u : SN_DESC_EOP;
	uint64_t bytes = 0;

	while (taken < limit) {
		unsigned end = size - clean < limit - taken ? size : clean + (limit - taken);
		volatile union sn_desc *d = desc + clean, *d_end = desc + end;
		struct sn_pkt **slot = slots + clean;
#pragma GCC unroll 4
		for (; d < d_end; d++, slot++) {
			uint32_t status = d->rx_wb.status;
			if (!(status & SN_DESC_DD))
				break;
			/* Acquire: the length only after DD. EOP and the error
			 * bits came with DD, in the same 32-bit read. */
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			uint32_t len = d->rx_wb.length;
			struct sn_pkt *pkt = *slot;
			/* One test for the common case: a good frame, not inside
			 * a dropped one, 14 <= len <= max (unsigned wrap). */
			if ((status & reject) == good && len - 14 <= room) {
				/* The hash is the device's word, passed on
				 * unchecked: any value is a valid hash (see
				 * sn_pkt.rss_hash). */
				uint32_t flags = 0;
				if (rss) {
					uint64_t info_hash = d->rx_wb64.info_hash;
					pkt->rss_hash = (uint32_t)(info_hash >> 32);
					flags = (info_hash & rss_type) ? SN_PKT_RSS_HASH : 0;
				}
				set_len_flags(pkt, len, flags);
				bytes += len;
				*out++ = pkt;
			} else {
				discarding = rx_reject(ring, pkt, status, len, discarding);
				good = discarding ? ~0u : SN_DESC_EOP;
			}
		}
		unsigned i = (unsigned)(d - desc);
		taken += i - clean;
		clean = i & (size - 1);
		if (i < end)
			break; /* a descriptor not done */
	}
	unsigned got = (unsigned)(out - pkts);
	ring->discarding = discarding;
	ring->next_clean = (uint16_t)clean;
	ring->in_flight = (uint16_t)(pending - taken);
	sn_count(&ring->stats.packets, got);
	sn_count(&ring->stats.bytes, bytes);
	return (uint16_t)got;
}

/* Each variant out of line, so its loop has the registers to itself. */
static __attribute__((noinline)) uint16_t rx_harvest_rss(struct sn_ring *ring,
							  struct sn_pkt **pkts, uint16_t n)
{
	return rx_harvest_as(ring, pkts, n, true);
}

static __attribute__((noinline)) uint16_t rx_harvest_plain(struct sn_ring *ring,
							    struct sn_pkt **pkts, uint16_t n)
{
	return rx_harvest_as(ring, pkts, n, false);
}

static inline uint16_t rx_harvest(struct sn_ring *ring, struct sn_pkt **pkts, uint16_t n)
{
	return ring->rss_type_mask ? rx_harvest_rss(ring, pkts, n) : rx_harvest_plain(ring, pkts, n);
}

uint16_t sn_ring_rx_burst(void *queue, struct sn_pkt **pkts, uint16_t n)
{
	struct sn_ring *ring = queue;
	const uint64_t starved = sn_counter_read(&ring->stats.starved);
	/* The last buffer posted is done: the device has none left (one
	 * descriptor read a burst, not a frame; see sn_stats.rx_starved). */
	if (ring->in_flight &&
	    desc_done(&ring->desc[(ring->next_use - 1) & ring->mask], true))
		sn_count(&ring->stats.starved, 1);
	uint16_t got = rx_harvest(ring, pkts, n);

	/* Stopped early at a descriptor not done: is the device past it? */
	while (got < n && ring->in_flight > 0 && !desc_done(&ring->desc[ring->next_clean], true) &&
	       rx_skipped_by_device(ring))
		got = (uint16_t)(got + rx_harvest(ring, pkts + got, (uint16_t)(n - got)));

	/* A ring the device emptied while this burst ran, or that the pool
	 * left empty, shows after the refill: the last buffer posted before
	 * it is done (the refill never writes that slot). Once a burst. */
	const uint16_t last_old = (uint16_t)((ring->next_use - 1) & ring->mask);
	const bool none_out = ring->in_flight == 0;
	const uint16_t in_flight_old = ring->in_flight;
	rx_refill(ring);
	if (ring->in_flight != in_flight_old && sn_counter_read(&ring->stats.starved) == starved &&
	    (none_out || desc_done(&ring->desc[last_old], true)))
		sn_count(&ring->stats.starved, 1);
	return got;
}

bool sn_ring_rx_ready(const struct sn_ring *ring)
{
	if (ring->in_flight == 0)
		return false;
	/* The next descriptor, or the one after it should the device have
	 * skipped the next (a burst then drops it and moves on). */
	uint16_t next = ring->next_clean, after = (uint16_t)((next + 1) & ring->mask);
	return desc_done(&ring->desc[next], true) ||
	       (ring->in_flight > 1 && desc_done(&ring->desc[after], true));
}

/* Transmit asks for a write-back (RS) only on the last descriptor of
 * each block of rs_mask + 1 descriptors (blocks aligned to the ring, so
 * none wraps), as DPDK does with tx_rs_thresh: the device writes one
 * status per block instead of one per frame or per burst. It completes
 * descriptors in order, so that one DD vouches for the block, whose
 * buffers then come back together. Descriptors after the last RS of the
 * ring come back once later frames complete their block, or at drain. */
static unsigned block_length(const struct sn_ring *ring, unsigned first)
{
	return (first | ring->rs_mask) - first + 1;
}

/* Frees the buffers of every finished block, oldest first. If the device
 * reports the next block done and the oldest not, it skipped that one:
 * its buffers come back anyway (sent or not, we cannot tell), so the ring
 * moves on instead of waiting forever. */
static void tx_reclaim(struct sn_ring *ring)
{
	volatile union sn_desc *desc = ring->desc;
	unsigned clean = ring->next_clean, in_flight = ring->in_flight, mask = ring->mask;
	unsigned rs_mask = ring->rs_mask;

	for (;;) {
		unsigned len = block_length(ring, clean), rs = clean | rs_mask;
		if (in_flight < len)
			break; /* its RS descriptor not handed over yet */
		if (!desc_done(&desc[rs], false)) {
			unsigned next_rs = ((rs + 1) & mask) | rs_mask;
			if (in_flight < len + rs_mask + 1 || !desc_done(&desc[next_rs], false))
				break;
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (!desc_done(&desc[rs], false))
				sn_count(&ring->stats.device_errors, 1);
		}
		sn_pkt_free_from_ring(&ring->slots[clean], len);
		clean = (clean + len) & mask;
		in_flight -= len;
	}
	ring->next_clean = (uint16_t)clean;
	ring->in_flight = (uint16_t)in_flight;
}

/* Puts pkts[0..run) on the descriptors d[0..run) (no wrap), up to the
 * first the transmit check refuses; returns how many, adds their bytes.
 * Compiled twice, with and without PAYLEN (paylen a constant), as
 * rx_harvest_as is for RSS, each out of line so the loop has the
 * registers to itself. */
static inline __attribute__((always_inline)) unsigned
tx_fill_as(volatile union sn_desc *d, struct sn_pkt **slots, struct sn_pkt **pkts,
	   unsigned run, const struct sn_ctx *ctx, uint32_t max_frame, uint64_t cmd,
	   uint64_t *bytes, const bool paylen)
{
	uint64_t sum = 0;
	struct sn_pkt **p_end = pkts + run, **from = pkts;
	for (; from < p_end; from++, d++, slots++) {
		struct sn_pkt *p = *from;
		struct sn_tx_view view;
		uint64_t iova;
		if (!sn_tx_view_take(&view, p->pool, ctx) || !sn_pkt_tx_ok_in(&view, p, 0, max_frame, &iova))
			break;
		/* Advanced descriptors repeat the length as PAYLEN in bits
		 * 63:46: len * (2^46 + 1) puts it in both places at once. */
		uint64_t len = p->len;
		d->read.addr = iova;
		d->read.cmd = cmd | len * ((paylen ? 1ull << 46 : 0) + 1);
		*slots = p;
		sum += len;
	}
	*bytes += sum;
	return (unsigned)(from - pkts);
}

static __attribute__((noinline)) unsigned
tx_fill_adv(volatile union sn_desc *d, struct sn_pkt **slots, struct sn_pkt **pkts,
	    unsigned run, const struct sn_ctx *ctx, uint32_t max_frame, uint64_t cmd,
	    uint64_t *bytes)
{
	return tx_fill_as(d, slots, pkts, run, ctx, max_frame, cmd, bytes, true);
}

static __attribute__((noinline)) unsigned
tx_fill_legacy(volatile union sn_desc *d, struct sn_pkt **slots, struct sn_pkt **pkts,
	       unsigned run, const struct sn_ctx *ctx, uint32_t max_frame, uint64_t cmd,
	       uint64_t *bytes)
{
	return tx_fill_as(d, slots, pkts, run, ctx, max_frame, cmd, bytes, false);
}

/* Puts pkts on descriptors from next_use on, at most n, in at most two
 * runs (up to the ring's end, then from its start); returns how many
 * went. */
static unsigned tx_fill(struct sn_ring *ring, struct sn_pkt **pkts, unsigned n, uint64_t *bytes)
{
	unsigned (*fill)(volatile union sn_desc *, struct sn_pkt **, struct sn_pkt **, unsigned,
			 const struct sn_ctx *, uint32_t, uint64_t, uint64_t *) =
		ring->fmt->tx_paylen ? tx_fill_adv : tx_fill_legacy;
	unsigned use = ring->next_use, to_end = ring->size - use;
	uint64_t cmd = ring->fmt->tx_cmd;
	uint32_t max = ring->max_frame;

	*bytes = 0;
	if (n <= to_end)
		return fill(ring->desc + use, ring->slots + use, pkts, n, ring->ctx, max, cmd, bytes);
	unsigned sent = fill(ring->desc + use, ring->slots + use, pkts, to_end, ring->ctx, max,
			     cmd, bytes);
	if (sent < to_end)
		return sent;
	return sent +
	       fill(ring->desc, ring->slots, pkts + sent, n - sent, ring->ctx, max, cmd, bytes);
}

/* A call with nothing to send, when all that is left in flight is a tail
 * short of its block's RS descriptor: that tail never gets a write-back,
 * so ask the device's head register how far it has sent (one register
 * read, only on such idle calls), so that an idle queue gives every
 * buffer back (safenic gen waits for them before it closes). A head
 * outside the window is not believed; sn_ring_check reports it. */
static __attribute__((noinline)) void tx_reclaim_tail(struct sn_ring *ring)
{
	uint32_t head = *ring->head;
	unsigned clean = ring->next_clean, done = (head - clean) & ring->mask;
	if (head >= ring->size || done > ring->in_flight)
		return;
	unsigned until_wrap = ring->size - clean;
	if (done <= until_wrap) {
		sn_pkt_free_from_ring(&ring->slots[clean], done);
	} else {
		sn_pkt_free_from_ring(&ring->slots[clean], until_wrap);
		sn_pkt_free_from_ring(&ring->slots[0], done - until_wrap);
	}
	ring->next_clean = (uint16_t)((clean + done) & ring->mask);
	ring->in_flight = (uint16_t)(ring->in_flight - done);
}

uint16_t sn_ring_tx_burst(void *queue, struct sn_pkt **pkts, uint16_t n)
{
	struct sn_ring *ring = queue;
	uint64_t bytes;

	tx_reclaim(ring);
	if (n == 0) {
		if (ring->in_flight > 0 && ring->head &&
		    ring->in_flight < block_length(ring, ring->next_clean))
			tx_reclaim_tail(ring);
		return 0;
	}
	if (n > free_slots(ring))
		n = free_slots(ring);
	unsigned sent = tx_fill(ring, pkts, n, &bytes);
	if (sent < n)
		sn_count(&ring->stats.errors, 1);
	if (sent == 0)
		return 0;
	/* RS on each block's last descriptor in this burst. The device has
	 * not seen them yet: they lie past the tail. */
	unsigned first = ring->next_use;
	for (unsigned d = block_length(ring, first) - 1; d < sent; d += ring->rs_mask + 1u) {
		volatile union sn_desc *last = &ring->desc[(first + d) & ring->mask];
		last->read.cmd = last->read.cmd | SN_TXD_CMD_RS;
	}
	ring->next_use = (uint16_t)((first + sent) & ring->mask);
	ring->in_flight = (uint16_t)(ring->in_flight + sent);
	sn_count(&ring->stats.packets, sent);
	sn_count(&ring->stats.bytes, bytes);
	ring_doorbell(ring);
	return (uint16_t)sent;
}

enum sn_ring_health sn_ring_check(struct sn_ring *ring, uint32_t head, bool receive)
{
	uint16_t clean = ring->next_clean;
	bool valid = head < ring->size;
	uint16_t ahead = valid ? (uint16_t)((head - clean) & ring->mask) : 0;
	bool waiting = false, behind;

	if (receive) {
		/* An empty wire is no stall; a head past a descriptor that is
		 * not done is. */
		behind = ahead > 0 && !desc_done(&ring->desc[clean], true);
	} else {
		/* Frames the device has not sent: its head short of ours. The
		 * frames after the ring's last RS never get a write-back, so
		 * the head, not DD, says whether the device is still at work. */
		waiting = valid && ahead < ring->in_flight;
		/* Past the oldest block's RS descriptor without writing it back. */
		unsigned len = block_length(ring, clean);
		behind = ahead >= len && ring->in_flight >= len &&
			 !desc_done(&ring->desc[clean | ring->rs_mask], false);
	}
	bool suspect = !valid || ahead > ring->in_flight || behind;
	bool still = ring->check_clean == clean && ring->check_head == head;
	enum sn_ring_health verdict = SN_RING_OK;
	if (still && suspect && ring->check_suspect)
		verdict = SN_RING_OUT_OF_STEP;
	else if (still && waiting && ring->check_waiting)
		verdict = SN_RING_STALLED;
	ring->check_clean = clean;
	ring->check_head = head;
	ring->check_waiting = waiting;
	ring->check_suspect = suspect;
	return verdict;
}

void sn_ring_rearm(struct sn_ring *ring, bool receive)
{
	uint16_t returned = ring->in_flight;

	/* Only the window is ours to free: a buffer a lying write-back made
	 * us hand out lies outside it and is the application's now. */
	sn_ring_drain(ring);
	if (!receive)
		sn_count(&ring->stats.drops, returned);
	for (uint16_t i = 0; i < ring->size; i++) {
		ring->desc[i].read.addr = 0;
		ring->desc[i].read.cmd = 0;
	}
	ring->next_use = 0;
	ring->next_clean = 0;
	ring->discarding = false;
	ring->check_clean = 0;
	ring->check_head = 0;
	ring->check_waiting = false;
	ring->check_suspect = false;
	sn_count(&ring->stats.resets, 1);
}
