#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mempool.h"
#include "virtqueue.h"

/* Refill only when this many descriptors are free: one kick per batch. */
#define RX_REFILL_BATCH 32

int sn_virtq_init(struct sn_virtq *vq, uint16_t size, void *desc, void *avail,
		  void *used, uint32_t hdr_len, bool receive)
{
	if (size == 0 || (size & (size - 1)))
		return -EINVAL;
	memset(vq, 0, sizeof(*vq));
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
			sn_pkt_free_bulk(&vq->inflight[id], 1);
			vq->inflight[id] = NULL;
			vq->free_ids[vq->num_free++] = id;
		}
	}
}

uint16_t sn_virtq_post(struct sn_virtq *vq, struct sn_pkt **pkts, uint16_t n)
{
	if (n > vq->num_free)
		n = vq->num_free;
	for (uint16_t i = 0; i < n; i++) {
		struct sn_pkt *pkt = pkts[i];
		uint16_t id = vq->free_ids[--vq->num_free];
		struct vring_desc *d = &vq->desc[id];

		d->addr = pkt->iova - vq->hdr_len;
		if (vq->receive) {
			d->len = vq->hdr_len + vq->rx_room;
			d->flags = VRING_DESC_F_WRITE;
		} else {
			/* No offloads: an all-zero header. */
			memset(pkt->data - vq->hdr_len, 0, vq->hdr_len);
			d->len = vq->hdr_len + pkt->len;
			d->flags = 0;
		}
		vq->inflight[id] = pkt;
		vq->avail->ring[vq->avail_idx++ & vq->mask] = id;
	}
	return n;
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

/* A receive length must hold a header and an Ethernet header, and fit
 * the buffer we posted. */
static bool rx_len_valid(const struct sn_virtq *vq, uint32_t len)
{
	return len >= vq->hdr_len + 14 && len <= vq->hdr_len + vq->rx_room;
}

uint16_t sn_virtq_harvest(struct sn_virtq *vq, struct sn_pkt **pkts, uint16_t n)
{
	/* Acquire: entries are read only after the index that covers them. */
	uint16_t device_idx = __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);
	uint16_t pending = (uint16_t)(device_idx - vq->used_idx);
	uint16_t in_flight = (uint16_t)(vq->size - vq->num_free);
	uint16_t got = 0;

	if (pending > in_flight) {
		/* The device claims more completions than we gave it. */
		vq->stats.device_errors++;
		pending = in_flight;
	}
	for (uint16_t i = 0; i < pending && got < n; i++) {
		const volatile struct vring_used_elem *e =
			&vq->used->ring[vq->used_idx++ & vq->mask];
		uint32_t id = e->id, len = e->len; /* read each once */

		if (id >= vq->size || !vq->inflight[id]) {
			vq->stats.device_errors++;
			continue;
		}
		struct sn_pkt *pkt = vq->inflight[id];
		vq->inflight[id] = NULL;
		vq->free_ids[vq->num_free++] = (uint16_t)id;
		if (vq->receive && !rx_len_valid(vq, len)) {
			vq->stats.device_errors++;
			vq->stats.errors++;
			sn_pkt_free_bulk(&pkt, 1);
			continue;
		}
		if (vq->receive)
			pkt->len = (uint16_t)(len - vq->hdr_len);
		pkts[got++] = pkt;
	}
	return got;
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

	/* Reclaim what the device has sent, in bounded steps. */
	while ((got = sn_virtq_harvest(vq, done, 64)) > 0)
		sn_pkt_free_bulk(done, got);
	uint16_t accepted = 0;
	for (; accepted < n; accepted++) {
		struct sn_pkt *p = pkts[accepted];
		/* The app's frame must fit its buffer and leave header room. */
		if (p->headroom < vq->hdr_len || p->len < 14 ||
		    p->len > p->pool->buf_size - p->headroom)
			break;
	}
	uint16_t sent = sn_virtq_post(vq, pkts, accepted);
	if (sent == 0) {
		if (accepted < n)
			vq->stats.errors++;
		return 0;
	}
	for (uint16_t i = 0; i < sent; i++)
		vq->stats.bytes += pkts[i]->len;
	vq->stats.packets += sent;
	sn_virtq_kick(vq);
	return sent;
}
