#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mempool.h"
#include "ring.h"

/* Refill only when this many descriptors are free: one doorbell a batch. */
#define RX_REFILL_BATCH 32
#define MAX_BATCH 64

int sn_ring_init(struct sn_ring *ring, const struct sn_ring_format *fmt,
		 void *desc, uint16_t size, volatile uint32_t *tail)
{
	if (size < 8 || (size & (size - 1)))
		return -EINVAL;
	memset(ring, 0, sizeof(*ring));
	ring->slots = calloc(size, sizeof(*ring->slots));
	if (!ring->slots)
		return -ENOMEM;
	ring->desc = desc;
	ring->fmt = fmt;
	ring->size = size;
	ring->mask = (uint16_t)(size - 1);
	ring->tail = tail;
	return 0;
}

void sn_ring_fini(struct sn_ring *ring)
{
	free(ring->slots);
	ring->slots = NULL;
}

void sn_ring_drain(struct sn_ring *ring)
{
	for (uint16_t i = 0; ring->slots && i < ring->size; i++) {
		if (ring->slots[i]) {
			sn_pkt_free_bulk(&ring->slots[i], 1);
			ring->slots[i] = NULL;
		}
	}
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

void sn_ring_rx_refill(struct sn_ring *ring)
{
	struct sn_pkt *fresh[MAX_BATCH];
	bool posted = false;

	while (free_slots(ring) >= RX_REFILL_BATCH ||
	       (ring->in_flight == 0 && free_slots(ring) > 0)) {
		uint16_t want = free_slots(ring) < MAX_BATCH ? free_slots(ring) : MAX_BATCH;
		uint16_t got = (uint16_t)sn_pkt_alloc_bulk(ring->pool, fresh, want);
		for (uint16_t i = 0; i < got; i++) {
			uint16_t slot = ring->next_use;
			ring->desc[slot].read.addr = fresh[i]->iova;
			ring->desc[slot].read.cmd = 0; /* clears DD of the old write-back */
			ring->slots[slot] = fresh[i];
			ring->next_use = (uint16_t)((slot + 1) & ring->mask);
		}
		ring->in_flight = (uint16_t)(ring->in_flight + got);
		posted |= got > 0;
		if (got < want)
			break; /* pool dry: the application holds the buffers */
	}
	if (posted)
		ring_doorbell(ring);
}

/* Takes the buffer out of a completed descriptor and advances. */
static struct sn_pkt *take_slot(struct sn_ring *ring)
{
	uint16_t slot = ring->next_clean;
	struct sn_pkt *pkt = ring->slots[slot];
	ring->slots[slot] = NULL;
	ring->next_clean = (uint16_t)((slot + 1) & ring->mask);
	ring->in_flight--;
	return pkt;
}

static bool desc_done(volatile const union sn_desc *d, bool receive)
{
	uint32_t status = receive ? d->rx_wb.status : d->tx_wb.status;
	return status & SN_DESC_DD;
}

/* The device must complete descriptors in order. A later one done while
 * the current one is not means the device skipped it: drop that buffer,
 * so the ring moves on instead of waiting forever. */
static bool skipped_by_device(struct sn_ring *ring, bool receive)
{
	if (ring->in_flight < 2)
		return false;
	uint16_t next = (uint16_t)((ring->next_clean + 1) & ring->mask);
	if (!desc_done(&ring->desc[next], receive))
		return false;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (desc_done(&ring->desc[ring->next_clean], receive))
		return false; /* it completed meanwhile: in order after all */
	ring->stats.device_errors++;
	struct sn_pkt *pkt = take_slot(ring);
	sn_pkt_free_bulk(&pkt, 1);
	return true;
}

/* Validates one receive write-back; returns the packet, or NULL when it
 * was dropped (and counted). */
static struct sn_pkt *rx_accept(struct sn_ring *ring, uint32_t status, uint32_t len)
{
	struct sn_pkt *pkt = take_slot(ring);
	bool multi = !(status & SN_DESC_EOP) || ring->discarding;

	/* Frames spanning descriptors are not enabled: drop every piece up to
	 * and including the one marked end-of-packet. */
	ring->discarding = !(status & SN_DESC_EOP);
	if (multi || len < 14 || len > ring->rx_room) {
		ring->stats.device_errors++;
		ring->stats.errors++;
	} else if (status & ring->fmt->rx_error_mask) {
		ring->stats.errors++; /* a bad frame on the wire, not a lying device */
	} else {
		pkt->len = (uint16_t)len;
		return pkt;
	}
	sn_pkt_free_bulk(&pkt, 1);
	return NULL;
}

uint16_t sn_ring_rx_burst(void *queue, struct sn_pkt **pkts, uint16_t n)
{
	struct sn_ring *ring = queue;
	uint16_t got = 0;
	uint64_t bytes = 0;

	while (got < n && ring->in_flight > 0) {
		volatile union sn_desc *d = &ring->desc[ring->next_clean];
		uint32_t status = d->rx_wb.status;
		if (!(status & SN_DESC_DD)) {
			if (skipped_by_device(ring, true))
				continue;
			break;
		}
		/* Acquire: the rest of the write-back only after DD. */
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		status = d->rx_wb.status;
		uint32_t len = d->rx_wb.length;
		struct sn_pkt *pkt = rx_accept(ring, status, len);
		if (pkt) {
			bytes += pkt->len;
			pkts[got++] = pkt;
		}
	}
	ring->stats.packets += got;
	ring->stats.bytes += bytes;
	sn_ring_rx_refill(ring);
	return got;
}

/* Frees the buffers of completed transmit descriptors, in batches. */
static void tx_reclaim(struct sn_ring *ring)
{
	struct sn_pkt *done[MAX_BATCH];
	uint16_t count = 0;

	while (ring->in_flight > 0) {
		if (!desc_done(&ring->desc[ring->next_clean], false)) {
			if (skipped_by_device(ring, false))
				continue;
			break;
		}
		done[count++] = take_slot(ring);
		if (count == MAX_BATCH) {
			sn_pkt_free_bulk(done, count);
			count = 0;
		}
	}
	sn_pkt_free_bulk(done, count);
}

static bool tx_frame_valid(const struct sn_pkt *p)
{
	return p->len >= 14 && p->len <= p->pool->buf_size - p->headroom;
}

uint16_t sn_ring_tx_burst(void *queue, struct sn_pkt **pkts, uint16_t n)
{
	struct sn_ring *ring = queue;
	const struct sn_ring_format *fmt = ring->fmt;
	uint64_t bytes = 0;
	uint16_t sent = 0;

	tx_reclaim(ring);
	if (n > free_slots(ring))
		n = free_slots(ring);
	for (; sent < n; sent++) {
		struct sn_pkt *p = pkts[sent];
		if (!tx_frame_valid(p)) {
			ring->stats.errors++;
			break;
		}
		uint16_t slot = ring->next_use;
		uint64_t cmd = fmt->tx_cmd | p->len;
		if (fmt->tx_paylen)
			cmd |= (uint64_t)p->len << 46;
		ring->desc[slot].read.addr = p->iova;
		ring->desc[slot].read.cmd = cmd;
		ring->slots[slot] = p;
		ring->next_use = (uint16_t)((slot + 1) & ring->mask);
		bytes += p->len;
	}
	if (sent == 0)
		return 0;
	ring->in_flight = (uint16_t)(ring->in_flight + sent);
	ring->stats.packets += sent;
	ring->stats.bytes += bytes;
	ring_doorbell(ring);
	return sent;
}

bool sn_ring_stalled(struct sn_ring *ring)
{
	bool waiting = ring->in_flight > 0 &&
		       !desc_done(&ring->desc[ring->next_clean], false);
	bool stalled = waiting && ring->stall_waiting &&
		       ring->next_clean == ring->stall_clean;
	ring->stall_waiting = waiting;
	ring->stall_clean = ring->next_clean;
	return stalled;
}
