#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "counter.h"
#include "mempool.h"
#include "ring.h"

/* Refill only when this many descriptors are free: one doorbell a batch. */
#define RX_REFILL_BATCH 32

int sn_ring_init(struct sn_ring *ring, const struct sn_ctx *ctx,
		 const struct sn_ring_format *fmt, void *desc, uint16_t size,
		 volatile uint32_t *tail)
{
	if (size < 8 || (size & (size - 1)))
		return -EINVAL;
	memset(ring, 0, sizeof(*ring));
	ring->slots = calloc(size, sizeof(*ring->slots));
	ring->burst_last = calloc(size, sizeof(*ring->burst_last));
	if (!ring->slots || !ring->burst_last) {
		sn_ring_fini(ring);
		return -ENOMEM;
	}
	ring->desc = desc;
	ring->ctx = ctx;
	ring->fmt = fmt;
	ring->size = size;
	ring->mask = (uint16_t)(size - 1);
	ring->tail = tail;
	return 0;
}

void sn_ring_fini(struct sn_ring *ring)
{
	free(ring->slots);
	free(ring->burst_last);
	ring->slots = NULL;
	ring->burst_last = NULL;
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
 * through an array, and no reset of len, which receive sets. */
static __attribute__((noinline)) void post_fresh(struct sn_ring *ring, unsigned room)
{
	struct sn_mempool *pool = ring->pool;
	uint8_t *in_pool = pool->in_pool;
	volatile union sn_desc *desc = ring->desc;
	struct sn_pkt **slots = ring->slots;
	unsigned use = ring->next_use, mask = ring->mask, posted = 0;

	while (posted < room) {
		uint32_t got;
		struct sn_pkt **stack = sn_mempool_take(pool, room - posted, &got);
		unsigned count = got;
		if (count == 0)
			break; /* pool dry: the application holds the buffers */
		for (unsigned i = 0; i < count; i++) {
			/* A free buffer has its own address at the default
			 * headroom. */
			struct sn_pkt *pkt = *--stack;
			sn_mempool_mark_out(in_pool, pkt);
			desc[use].read.addr = pkt->iova;
			desc[use].read.cmd = 0; /* clears DD of the old write-back */
			slots[use] = pkt;
			use = (use + 1) & mask;
		}
		posted += count;
	}
	if (posted == 0)
		return;
	ring->next_use = (uint16_t)use;
	ring->in_flight = (uint16_t)(ring->in_flight + posted);
	ring_doorbell(ring);
}

void sn_ring_rx_refill(struct sn_ring *ring)
{
	unsigned room = free_slots(ring);
	if (room >= RX_REFILL_BATCH || (ring->in_flight == 0 && room > 0))
		post_fresh(ring, room);
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

/* The slow path of a receive write-back that is not a plain good frame:
 * a piece of a multi-descriptor frame, a length the buffer cannot hold,
 * or a frame the NIC marked bad. Drops and counts it. */
static void rx_reject(struct sn_ring *ring, struct sn_pkt *pkt, uint32_t status, uint32_t len)
{
	bool multi = !(status & SN_DESC_EOP) || ring->discarding;

	/* Frames spanning descriptors are not enabled: drop every piece up to
	 * and including the one marked end-of-packet. */
	ring->discarding = !(status & SN_DESC_EOP);
	if (multi || len < 14 || len > ring->rx_room) {
		sn_count(&ring->stats.device_errors, 1);
		sn_count(&ring->stats.errors, 1);
	} else {
		sn_count(&ring->stats.errors, 1); /* a bad frame on the wire, not a lying device */
	}
	sn_pkt_free_from_ring(&pkt, 1);
}

/* Harvests completed descriptors in order. Kept in locals, since stores
 * through pkts[] could otherwise alias the ring's fields. Compiled twice,
 * with and without RSS (rss a constant), so that a ring without RSS pays
 * nothing for it per frame. */
static inline __attribute__((always_inline)) uint16_t
rx_harvest_as(struct sn_ring *ring, struct sn_pkt **pkts, uint16_t n, const bool rss)
{
	volatile union sn_desc *desc = ring->desc;
	struct sn_pkt **slots = ring->slots;
	const uint32_t reject = SN_DESC_EOP | ring->fmt->rx_error_mask;
	const uint32_t room = ring->rx_room - 14; /* frame length - 14 must fit */
	const uint64_t rss_type = ring->rss_type_mask;
	unsigned clean = ring->next_clean, mask = ring->mask;
	unsigned pending = ring->in_flight, taken = 0, got = 0;
	/* At most n descriptors a call, even when some are dropped. */
	unsigned limit = pending < n ? pending : n;
	bool discarding = ring->discarding;
	uint64_t bytes = 0;

	while (taken < limit) {
		uint32_t status = desc[clean].rx_wb.status;
		if (!(status & SN_DESC_DD))
			break;
		/* Acquire: the length only after DD. EOP and the error bits came
		 * with DD, in the same 32-bit read. */
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		uint32_t len = desc[clean].rx_wb.length;
		struct sn_pkt *pkt = slots[clean];
		clean = (clean + 1) & mask;
		taken++;
		/* One test for the common case: end of packet, no error bits, not
		 * inside a dropped frame, 14 <= len <= room (unsigned wrap). */
		if ((status & reject) == SN_DESC_EOP && !discarding && len - 14 <= room) {
			pkt->len = (uint16_t)len;
			/* The hash is the device's word, passed on unchecked: any
			 * value is a valid hash (see sn_pkt.rss_hash). */
			if (rss) {
				uint64_t info_hash = desc[(clean - 1) & mask].rx_wb64.info_hash;
				pkt->rss_hash = (uint32_t)(info_hash >> 32);
				pkt->flags = (info_hash & rss_type) ? SN_PKT_RSS_HASH : 0;
			} else {
				pkt->flags = 0;
			}
			bytes += len;
			pkts[got++] = pkt;
		} else {
			rx_reject(ring, pkt, status, len);
			discarding = ring->discarding;
		}
	}
	ring->next_clean = (uint16_t)clean;
	ring->in_flight = (uint16_t)(pending - taken);
	sn_count(&ring->stats.packets, got);
	sn_count(&ring->stats.bytes, bytes);
	return (uint16_t)got;
}

static uint16_t rx_harvest(struct sn_ring *ring, struct sn_pkt **pkts, uint16_t n)
{
	return ring->rss_type_mask ? rx_harvest_as(ring, pkts, n, true)
				   : rx_harvest_as(ring, pkts, n, false);
}

uint16_t sn_ring_rx_burst(void *queue, struct sn_pkt **pkts, uint16_t n)
{
	struct sn_ring *ring = queue;
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
	sn_ring_rx_refill(ring);
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

/* Transmit asks for a write-back (RS) only on the last descriptor of each
 * burst, so the device writes one status per burst instead of one per
 * frame; it completes descriptors in order, so that one DD vouches for
 * the burst. burst_last (driver memory, never the device's) says where
 * each burst ends. */
static uint16_t burst_length(const struct sn_ring *ring, uint16_t first)
{
	return (uint16_t)(((ring->burst_last[first] - first) & ring->mask) + 1);
}

/* The oldest burst in flight, if the device has finished it: its length.
 * If the device reports the next burst done and this one not, it skipped
 * this one: its buffers come back anyway (sent or not, we cannot tell),
 * so the ring moves on instead of waiting forever. */
static uint16_t tx_done_count(struct sn_ring *ring)
{
	if (ring->in_flight == 0)
		return 0;
	uint16_t first = ring->next_clean, len = burst_length(ring, first);
	uint16_t last = ring->burst_last[first];
	if (desc_done(&ring->desc[last], false))
		return len;
	if (ring->in_flight <= len)
		return 0;
	uint16_t next_last = ring->burst_last[(last + 1) & ring->mask];
	if (!desc_done(&ring->desc[next_last], false))
		return 0;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (!desc_done(&ring->desc[last], false))
		sn_count(&ring->stats.device_errors, 1);
	return len;
}

/* Frees the buffers of sent bursts straight from the slot array. */
static void tx_reclaim(struct sn_ring *ring)
{
	uint16_t done;

	while ((done = tx_done_count(ring)) > 0) {
		uint16_t first = ring->next_clean;
		uint16_t until_wrap = (uint16_t)(ring->size - first);
		if (done <= until_wrap) {
			sn_pkt_free_from_ring(&ring->slots[first], done);
		} else {
			sn_pkt_free_from_ring(&ring->slots[first], until_wrap);
			sn_pkt_free_from_ring(&ring->slots[0], (uint32_t)(done - until_wrap));
		}
		ring->next_clean = (uint16_t)((first + done) & ring->mask);
		ring->in_flight = (uint16_t)(ring->in_flight - done);
	}
}

uint16_t sn_ring_tx_burst(void *queue, struct sn_pkt **pkts, uint16_t n)
{
	struct sn_ring *ring = queue;
	volatile union sn_desc *desc = ring->desc;
	const uint64_t cmd = ring->fmt->tx_cmd;
	/* Advanced descriptors repeat the length as PAYLEN in bits 63:46. */
	const uint64_t paylen_mask = ring->fmt->tx_paylen ? ~0ull : 0;
	struct sn_pkt **slots = ring->slots;
	unsigned first = ring->next_use, use = first, mask = ring->mask, sent = 0;
	uint64_t bytes = 0, word = 0;

	tx_reclaim(ring);
	if (n > free_slots(ring))
		n = free_slots(ring);
	for (; sent < n; sent++) {
		/* Read the packet before writing the descriptor: the stores are
		 * volatile and could otherwise force these loads again. */
		struct sn_pkt *p = pkts[sent];
		uint64_t len = p->len, iova = p->iova;
		if (!sn_pkt_tx_ok(p, ring->ctx, 0)) {
			sn_count(&ring->stats.errors, 1);
			break;
		}
		word = cmd | len | ((len << 46) & paylen_mask);
		desc[use].read.addr = iova;
		desc[use].read.cmd = word;
		slots[use] = p;
		use = (use + 1) & mask;
		bytes += len;
	}
	if (sent == 0)
		return 0;
	/* The burst's last descriptor asks for the write-back. The device has
	 * not seen it yet: it lies past the tail. */
	unsigned last = (use - 1) & mask;
	desc[last].read.cmd = word | SN_TXD_CMD_RS;
	ring->burst_last[first] = (uint16_t)last;
	ring->next_use = (uint16_t)use;
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
		waiting = ring->in_flight > 0 &&
			  !desc_done(&ring->desc[ring->burst_last[clean]], false);
		/* Past the oldest burst's last descriptor without writing it back. */
		behind = waiting && ahead >= burst_length(ring, clean);
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
