#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mempool.h"
#include "virtqueue.h"

/* Refill only when this many descriptors are free: one kick per batch. */
#define RX_REFILL_BATCH 32

int sn_virtq_init(struct sn_virtq *vq, const struct sn_ctx *ctx, uint16_t size,
		  void *desc, void *avail, void *used, uint32_t hdr_len, bool receive)
{
	if (size == 0 || (size & (size - 1)))
		return -EINVAL;
	memset(vq, 0, sizeof(*vq));
	vq->ctx = ctx;
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vq->size = size;
	vq->mask = (uint16_t)(size - 1);
	vq->hdr_len = hdr_len;
	vq->receive = receive;
	vq->free_ids = calloc(size, sizeof(*vq->free_ids));
	vq->inflight = calloc(size, sizeof(*vq->inflight));
	if (!vq->free_ids || !vq->inflight) {
		sn_virtq_fini(vq);
		return -ENOMEM;
	}
	for (uint16_t i = 0; i < size; i++)
		vq->free_ids[i] = (uint16_t)(size - 1 - i);
	vq->num_free = size;
	/* We poll; interrupts would only cost the device work. */
	vq->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	for (uint16_t i = 0; i < size; i++)
		vq->used->ring[i].id = SN_VIRTQ_STALE_ID;
	return 0;
}

void sn_virtq_fini(struct sn_virtq *vq)
{
	free(vq->free_ids);
	free(vq->inflight);
	vq->free_ids = NULL;
	vq->inflight = NULL;
}

void sn_virtq_drain(struct sn_virtq *vq)
{
	for (uint16_t id = 0; vq->inflight && id < vq->size; id++) {
		if (vq->inflight[id]) {
			sn_pkt_free_from_ring(&vq->inflight[id], 1);
			vq->inflight[id] = NULL;
			vq->free_ids[vq->num_free++] = id;
		}
	}
}

/* Clears the virtio-net header in front of a frame: no offloads. Two
 * fixed sizes, so the compiler writes it with plain stores. The frame is
 * found from the buffer's own address, not from the application's data
 * pointer. */
static inline void zero_header(const struct sn_pkt *pkt, uint32_t hdr_len)
{
	uint8_t *frame = pkt->pool->home[pkt->index].va + pkt->headroom;
	if (hdr_len == 12)
		memset(frame - 12, 0, 12);
	else
		memset(frame - 10, 0, 10);
}

/* The queue's indices live in locals throughout: stores through the
 * descriptors and packet arrays could otherwise alias them. */
uint16_t sn_virtq_post(struct sn_virtq *vq, struct sn_pkt **pkts, uint16_t n)
{
	struct vring_desc *desc = vq->desc;
	uint16_t *ring = vq->avail->ring, *free_ids = vq->free_ids;
	struct sn_pkt **inflight = vq->inflight;
	const uint32_t hdr = vq->hdr_len, rx_len = hdr + vq->rx_room;
	unsigned num_free = vq->num_free, avail = vq->avail_idx, mask = vq->mask;

	if (n > num_free)
		n = (uint16_t)num_free;
	for (unsigned i = 0; i < n; i++) {
		struct sn_pkt *pkt = pkts[i];
		uint16_t id = free_ids[--num_free];
		desc[id] = (struct vring_desc){ .addr = pkt->iova - hdr, .len = rx_len,
						.flags = VRING_DESC_F_WRITE };
		inflight[id] = pkt;
		ring[avail++ & mask] = id;
	}
	vq->num_free = (uint16_t)num_free;
	vq->avail_idx = (uint16_t)avail;
	return n;
}

/* Transmit: the application's frame must fit its own buffer and leave
 * room for the header; the first that does not ends the burst. */
static uint16_t post_tx(struct sn_virtq *vq, struct sn_pkt **pkts, uint16_t n,
			uint64_t *bytes_out)
{
	struct vring_desc *desc = vq->desc;
	uint16_t *ring = vq->avail->ring, *free_ids = vq->free_ids;
	struct sn_pkt **inflight = vq->inflight;
	const uint32_t hdr = vq->hdr_len;
	unsigned num_free = vq->num_free, avail = vq->avail_idx, mask = vq->mask, i;
	uint64_t bytes = 0;

	if (n > num_free)
		n = (uint16_t)num_free;
	for (i = 0; i < n; i++) {
		struct sn_pkt *pkt = pkts[i];
		uint32_t len = pkt->len;
		if (!sn_pkt_tx_ok(pkt, vq->ctx, hdr)) {
			vq->stats.errors++;
			break;
		}
		uint16_t id = free_ids[--num_free];
		zero_header(pkt, hdr);
		desc[id] = (struct vring_desc){ .addr = pkt->iova - hdr, .len = hdr + len };
		inflight[id] = pkt;
		ring[avail++ & mask] = id;
		bytes += len;
	}
	vq->num_free = (uint16_t)num_free;
	vq->avail_idx = (uint16_t)avail;
	*bytes_out = bytes;
	return (uint16_t)i;
}

void sn_virtq_kick(struct sn_virtq *vq)
{
	/* Release: descriptors and ring entries before the index. */
	__atomic_store_n(&vq->avail->idx, vq->avail_idx, __ATOMIC_RELEASE);
	/* Full barrier: the index store must be visible before we read the
	 * device's NO_NOTIFY flag (virtio 1.1, 2.6.13.6). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	uint16_t flags = __atomic_load_n(&vq->used->flags, __ATOMIC_RELAXED);
	if (!(flags & VRING_USED_F_NO_NOTIFY) && vq->notify_regs)
		sn_regs_write16(vq->notify_regs, vq->notify_off, vq->queue_index);
}


/* A used entry the driver cannot accept costs the packet, never memory
 * safety: drop, count, and give the descriptor back. */
static void harvest_reject(struct sn_virtq *vq, struct sn_pkt *pkt)
{
	vq->stats.device_errors++;
	vq->stats.errors++;
	sn_pkt_free_from_ring(&pkt, 1);
}

/* Counts a lying index once per episode: a burst loop would otherwise
 * count the same lie millions of times. */
static void note_index(struct sn_virtq *vq, bool lie)
{
	if (lie && !vq->lying) {
		vq->lies++;
		vq->stats.device_errors++;
	}
	vq->lying = lie;
}

uint16_t sn_virtq_harvest(struct sn_virtq *vq, struct sn_pkt **pkts, uint16_t n)
{
	/* Acquire: entries are read only after the index that covers them. */
	uint16_t device_idx = __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);
	volatile struct vring_used_elem *used = vq->used->ring;
	struct sn_pkt **inflight = vq->inflight;
	uint16_t *free_ids = vq->free_ids;
	const uint32_t size = vq->size, hdr = vq->hdr_len, room = vq->rx_room;
	const bool receive = vq->receive;
	unsigned next = vq->used_idx, num_free = vq->num_free, mask = vq->mask;
	unsigned pending = (uint16_t)(device_idx - next), got = 0;
	/* The device claims more completions than we gave it. */
	bool lie = pending > size - num_free;

	if (lie)
		pending = size - num_free;
	if (receive && pending && pending == size - num_free)
		vq->stats.starved++; /* every posted buffer used: see rx_starved */
	for (unsigned i = 0; i < pending && got < n; i++) {
		volatile struct vring_used_elem *e = &used[next & mask];
		uint32_t id = e->id, len = e->len; /* read each once */

		/* An entry the index covers but the device never wrote: wait
		 * here, where the device really is, and take nothing stale. */
		if (id == SN_VIRTQ_STALE_ID) {
			lie = true;
			break;
		}
		e->id = SN_VIRTQ_STALE_ID; /* consumed: never taken again */
		next++;
		if (id >= size || !inflight[id]) {
			vq->stats.device_errors++;
			continue;
		}
		struct sn_pkt *pkt = inflight[id];
		inflight[id] = NULL;
		free_ids[num_free++] = (uint16_t)id;
		if (receive) {
			/* A header, an Ethernet header, and no more than we posted
			 * (unsigned wrap folds both bounds into one test). */
			if (len - hdr - 14 > room - 14) {
				harvest_reject(vq, pkt);
				continue;
			}
			pkt->len = (uint16_t)(len - hdr);
		}
		pkts[got++] = pkt;
	}
	if (lie != vq->lying)
		note_index(vq, lie);
	vq->used_idx = (uint16_t)next;
	vq->num_free = (uint16_t)num_free;
	return (uint16_t)got;
}

void sn_virtq_refill(struct sn_virtq *vq)
{
	struct sn_pkt *fresh[256];

	if (vq->num_free < RX_REFILL_BATCH && vq->num_free != vq->size)
		return;
	uint16_t want = vq->num_free > 256 ? 256 : vq->num_free;
	uint16_t got = (uint16_t)sn_pkt_alloc_bulk(vq->rx_pool, fresh, want);
	if (got == 0)
		return; /* pool empty: the app holds the buffers; try later */
	sn_virtq_post(vq, fresh, got);
	sn_virtq_kick(vq);
}

uint16_t sn_virtio_rx_burst(void *queue, struct sn_pkt **pkts, uint16_t n)
{
	struct sn_virtq *vq = queue;
	uint16_t got = sn_virtq_harvest(vq, pkts, n);

	for (uint16_t i = 0; i < got; i++)
		vq->stats.bytes += pkts[i]->len;
	vq->stats.packets += got;
	sn_virtq_refill(vq);
	return got;
}

uint16_t sn_virtio_tx_burst(void *queue, struct sn_pkt **pkts, uint16_t n)
{
	struct sn_virtq *vq = queue;
	struct sn_pkt *done[64];
	uint16_t got;
	uint64_t bytes;

	/* Reclaim what the device has sent, in bounded steps. */
	while ((got = sn_virtq_harvest(vq, done, 64)) > 0)
		sn_pkt_free_from_ring(done, got);
	uint16_t sent = post_tx(vq, pkts, n, &bytes);
	if (sent == 0)
		return 0;
	vq->stats.packets += sent;
	vq->stats.bytes += bytes;
	sn_virtq_kick(vq);
	return sent;
}

enum sn_virtq_health sn_virtq_check(struct sn_virtq *vq, struct sn_virtq_look *look)
{
	uint16_t device_idx = __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);
	uint16_t pending = (uint16_t)(device_idx - vq->used_idx);
	uint16_t in_flight = (uint16_t)(vq->size - vq->num_free);
	bool stale = pending > 0 && pending <= in_flight &&
		     vq->used->ring[vq->used_idx & vq->mask].id == SN_VIRTQ_STALE_ID;
	bool impossible = pending > in_flight || stale;
	/* Only a queue with buffers waiting can be stuck or stalled. */
	bool suspect = impossible && in_flight > 0;
	bool waiting = !vq->receive && in_flight > 0 && pending == 0;
	bool still = device_idx == vq->check_device_idx && vq->used_idx == vq->check_used_idx;
	enum sn_virtq_health verdict = SN_VIRTQ_OK;

	/* The bursts may not have looked since (an idle queue). */
	if (impossible)
		note_index(vq, true);
	if (still && suspect && vq->check_suspect)
		verdict = SN_VIRTQ_OUT_OF_STEP;
	else if (still && waiting && vq->check_waiting)
		verdict = SN_VIRTQ_STALLED;
	else if (vq->lies != vq->lies_told)
		verdict = SN_VIRTQ_LIED;
	vq->lies_told = vq->lies;
	vq->check_device_idx = device_idx;
	vq->check_used_idx = vq->used_idx;
	vq->check_waiting = waiting;
	vq->check_suspect = suspect;
	*look = (struct sn_virtq_look){ device_idx, vq->used_idx, in_flight };
	return verdict;
}
