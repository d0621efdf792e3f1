#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "counter.h"
#include "mempool.h"
#include "virtqueue.h"

/* Refill only when this many descriptors are free: one kick per batch. */
#define RX_REFILL_BATCH 32

/* With EVENT_IDX a polling queue keeps used_event half the 16-bit index
 * space away from its used index, and moves it again after a quarter:
 * the device's used index stays within a ring of ours (QEMU's rings hold
 * at most 1024), so the entry used_event names is one it never writes
 * and no interrupt is asked for; a ring of 16384 or more could see a
 * needless one. NO_INTERRUPT cannot say this: with EVENT_IDX the device
 * ignores the flags (virtio 1.x, 2.7.7.2). */
#define EVENT_FAR 0x8000u
#define EVENT_MOVE 0x4000u

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
	vq->max_frame = SN_MTU_DEFAULT + 14;
	if (sn_buf_ids_init(&vq->ids, size) < 0)
		return -ENOMEM;
	/* We poll; interrupts would only cost the device work. */
	vq->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	for (uint16_t i = 0; i < size; i++)
		vq->used->ring[i].id = SN_VIRTQ_STALE_ID;
	return 0;
}

void sn_virtq_use_event_idx(struct sn_virtq *vq)
{
	vq->event_idx = true;
	vq->event_poll = !vq->intr_on;
	vq->used_event = &vq->avail->ring[vq->size];
	vq->avail_event = (const volatile uint16_t *)&vq->used->ring[vq->size];
	vq->event_base = vq->used_idx;
	*vq->used_event = (uint16_t)(vq->used_idx + EVENT_FAR);
	vq->avail->flags = 0; /* 2.7.7.1: the driver MUST with EVENT_IDX */
}

void sn_virtq_fini(struct sn_virtq *vq)
{
	sn_buf_ids_fini(&vq->ids);
}

void sn_virtq_drain(struct sn_virtq *vq)
{
	sn_buf_ids_drain(&vq->ids, vq->size);
}

/* A descriptor without NEXT in two stores: the address, then length,
 * flags and a zero next together (the struct has no padding). */
static inline void put_desc(struct vring_desc *d, uint64_t addr, uint32_t len, uint16_t flags)
{
	uint64_t rest = len | (uint64_t)flags << 32;
	d->addr = addr;
	memcpy(&d->len, &rest, sizeof(rest));
}

/* The queue's indices live in locals throughout: stores through the
 * descriptors and packet arrays could otherwise alias them. */
uint16_t sn_virtq_post(struct sn_virtq *vq, struct sn_pkt **pkts, uint16_t n)
{
	struct vring_desc *desc = vq->desc;
	uint16_t *ring = vq->avail->ring, *free_ids = vq->ids.free;
	struct sn_pkt **inflight = vq->ids.inflight;
	const uint32_t hdr = vq->hdr_len, rx_len = hdr + vq->rx_room;
	unsigned num_free = vq->ids.num_free, avail = vq->avail_idx, mask = vq->mask;

	if (n > num_free)
		n = (uint16_t)num_free;
	for (unsigned i = 0; i < n; i++) {
		struct sn_pkt *pkt = pkts[i];
		uint16_t id = free_ids[--num_free];
		put_desc(&desc[id], pkt->iova - hdr, rx_len, VRING_DESC_F_WRITE);
		inflight[id] = pkt;
		ring[avail++ & mask] = id;
	}
	vq->ids.num_free = (uint16_t)num_free;
	vq->avail_idx = (uint16_t)avail;
	return n;
}

/* Transmit: the application's frame must fit its own buffer and leave
 * room for the header; the first that does not ends the burst. hdr is a
 * constant at each call, so the header is cleared with plain stores. */
static inline __attribute__((always_inline)) uint16_t
post_tx_hdr(struct sn_virtq *vq, struct sn_pkt **pkts, uint16_t n, uint64_t *bytes_out,
	    const uint32_t hdr)
{
	struct vring_desc *desc = vq->desc;
	uint16_t *ring = vq->avail->ring, *free_ids = vq->ids.free;
	struct sn_pkt **inflight = vq->ids.inflight;
	const struct sn_ctx *ctx = vq->ctx;
	const uint32_t max_frame = vq->max_frame;
	unsigned num_free = vq->ids.num_free, avail = vq->avail_idx, mask = vq->mask, i;
	uint64_t bytes = 0;

	if (n > num_free)
		n = (uint16_t)num_free;
	for (i = 0; i < n; i++) {
		struct sn_pkt *pkt = pkts[i];
		uint32_t len = pkt->len;
		if (!sn_pkt_tx_ok(pkt, ctx, hdr, max_frame)) {
			sn_count(&vq->stats.errors, 1);
			break;
		}
		uint16_t id = free_ids[--num_free];
		sn_virtio_zero_header(pkt, hdr);
		put_desc(&desc[id], pkt->iova - hdr, hdr + len, 0);
		inflight[id] = pkt;
		ring[avail++ & mask] = id;
		bytes += len;
	}
	vq->ids.num_free = (uint16_t)num_free;
	vq->avail_idx = (uint16_t)avail;
	*bytes_out = bytes;
	return (uint16_t)i;
}

static uint16_t post_tx(struct sn_virtq *vq, struct sn_pkt **pkts, uint16_t n,
			uint64_t *bytes_out)
{
	switch (vq->hdr_len) {
	case 12: /* modern */
		return post_tx_hdr(vq, pkts, n, bytes_out, 12);
	case SN_VIRTIO_HDR_HASH_LEN:
		return post_tx_hdr(vq, pkts, n, bytes_out, SN_VIRTIO_HDR_HASH_LEN);
	default: /* legacy */
		return post_tx_hdr(vq, pkts, n, bytes_out, 10);
	}
}

void sn_virtq_kick(struct sn_virtq *vq)
{
	uint16_t new_idx = vq->avail_idx, old_idx = vq->kicked_idx;
	bool notify;

	/* Release: descriptors and ring entries before the index. */
	__atomic_store_n(&vq->avail->idx, new_idx, __ATOMIC_RELEASE);
	/* Full barrier: the index store must be visible before we read the
	 * device's avail_event or NO_NOTIFY flag (virtio 1.1, 2.6.13.6). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vq->kicked_idx = new_idx;
	if (vq->event_idx) {
		/* Read once. The device's value only decides whether we
		 * notify: a lie costs a needless or a missing kick (a
		 * stalled queue the health check reports), never memory. */
		uint16_t event = __atomic_load_n(vq->avail_event, __ATOMIC_RELAXED);
		notify = sn_vring_need_event(event, new_idx, old_idx);
	} else {
		notify = !(__atomic_load_n(&vq->used->flags, __ATOMIC_RELAXED) &
			   VRING_USED_F_NO_NOTIFY);
	}
	if (notify && vq->notify_regs)
		sn_regs_write16(vq->notify_regs, vq->notify_off, vq->queue_index);
}

void sn_virtq_want_interrupts(struct sn_virtq *vq, bool on)
{
	vq->intr_on = on;
	vq->event_poll = vq->event_idx && !on;
	if (vq->event_idx) {
		/* Armed: the entry at our used index, the next one the device
		 * writes, interrupts. Disarmed: far away, as at start. */
		vq->event_base = vq->used_idx;
		__atomic_store_n(vq->used_event, (uint16_t)(vq->used_idx + (on ? 0 : EVENT_FAR)),
				 __ATOMIC_RELAXED);
	} else {
		__atomic_store_n(&vq->avail->flags, on ? 0 : VRING_AVAIL_F_NO_INTERRUPT,
				 __ATOMIC_RELAXED);
	}
	/* The request must be visible before the caller looks at the used
	 * index again (virtio 1.1, 2.7.10): the device reads it after writing
	 * that index, so one of the two sides sees the other. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

bool sn_virtq_used_pending(const struct sn_virtq *vq)
{
	return __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE) != vq->used_idx;
}

static void note_index(struct sn_virtq *vq, bool lie)
{
	sn_virtq_note_lie(&vq->watch, &vq->stats.device_errors, lie);
}

/* A used entry the driver cannot accept costs the packet, never memory
 * safety: an id not in flight is skipped, a frame with a bad length or
 * hash report dropped and its buffer given back. Out of line: the loops
 * keep their registers. */
static __attribute__((noinline, cold)) void reject_id(struct sn_virtq *vq)
{
	sn_count(&vq->stats.device_errors, 1);
}

/* A frame longer than the MTU allows but inside the buffer is a frame on
 * the wire, not a lying device: counted in errors only. */
static __attribute__((noinline, cold)) void reject_frame(struct sn_virtq *vq, struct sn_pkt *pkt,
							  uint32_t len, bool device_fault)
{
	if (device_fault || len < 14 || len > vq->rx_room)
		sn_count(&vq->stats.device_errors, 1);
	sn_count(&vq->stats.errors, 1);
	sn_pkt_free_from_ring(&pkt, 1);
}

/* Polling with EVENT_IDX: keep used_event out of the device's reach. */
static inline void keep_used_event_away(struct sn_virtq *vq, uint16_t next)
{
	if (vq->event_poll && (uint16_t)(next - vq->event_base) >= EVENT_MOVE) {
		vq->event_base = next;
		__atomic_store_n(vq->used_event, (uint16_t)(next + EVENT_FAR), __ATOMIC_RELAXED);
	}
}

/* What a harvest loop does with an entry; a constant at each call, so the
 * compiler makes one loop for each. */
enum harvest_mode { HARVEST_TX, HARVEST_RX, HARVEST_RX_HASH };

/* Takes back up to n used entries (fewer packets if some are rejected).
 * Receive returns the frames' bytes in *bytes. */
static inline __attribute__((always_inline)) uint16_t
harvest(struct sn_virtq *vq, struct sn_pkt **pkts, uint16_t n, const enum harvest_mode mode,
	uint64_t *bytes)
{
	const bool receive = mode != HARVEST_TX, hashed = mode == HARVEST_RX_HASH;
	/* Acquire: entries are read only after the index that covers them. */
	uint16_t device_idx = __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);
	volatile struct vring_used_elem *used = vq->used->ring;
	struct sn_pkt **inflight = vq->ids.inflight;
	uint16_t *free_ids = vq->ids.free;
	/* The longest frame taken: the MTU's, within the posted room. */
	const uint32_t size = vq->size,
		       room = vq->max_frame < vq->rx_room ? vq->max_frame : vq->rx_room;
	const uint32_t hdr = hashed ? SN_VIRTIO_HDR_HASH_LEN : vq->hdr_len;
	unsigned next = vq->used_idx, num_free = vq->ids.num_free, mask = vq->mask;
	unsigned in_flight = size - num_free, pending = (uint16_t)(device_idx - next);
	unsigned got = 0;
	uint64_t sum = 0;
	/* The device claims more completions than we gave it. */
	bool lie = pending > in_flight;

	if (lie)
		pending = in_flight;
	if (receive && pending && pending == in_flight)
		sn_count(&vq->stats.starved, 1); /* every posted buffer used: see rx_starved */
	if (pending > n)
		pending = n;
	for (const unsigned end = next + pending; next != end;) {
		volatile struct vring_used_elem *e = &used[next & mask];
		uint32_t id = e->id, len = receive ? e->len : 0; /* read each once */

		/* An entry the index covers but the device never wrote: wait
		 * here, where the device really is, and take nothing stale. */
		if (__builtin_expect(id == SN_VIRTQ_STALE_ID, 0)) {
			lie = true;
			break;
		}
		e->id = SN_VIRTQ_STALE_ID; /* consumed: never taken again */
		next++;
		struct sn_pkt *pkt = id <= mask ? inflight[id] : NULL;
		if (__builtin_expect(!pkt, 0)) {
			reject_id(vq);
			continue;
		}
		inflight[id] = NULL;
		free_ids[num_free++] = (uint16_t)id;
		if (receive) {
			/* A header, an Ethernet header, and no more than the MTU
			 * allows within what we posted (unsigned wrap folds both
			 * bounds into one test). */
			if (__builtin_expect(len - hdr - 14 > room - 14, 0)) {
				reject_frame(vq, pkt, len - hdr, len < hdr);
				continue;
			}
			if (hashed && !sn_virtio_take_hash(pkt)) {
				reject_frame(vq, pkt, len - hdr, true);
				continue;
			}
			pkt->len = (uint16_t)(len - hdr);
			if (!hashed)
				pkt->flags = 0;
			sum += len - hdr;
		}
		pkts[got++] = pkt;
	}
	if (lie != vq->watch.lying)
		note_index(vq, lie);
	keep_used_event_away(vq, (uint16_t)next);
	vq->used_idx = (uint16_t)next;
	vq->ids.num_free = (uint16_t)num_free;
	if (receive)
		*bytes = sum;
	return (uint16_t)got;
}

uint16_t sn_virtq_harvest(struct sn_virtq *vq, struct sn_pkt **pkts, uint16_t n)
{
	uint64_t bytes;
	if (!vq->receive)
		return harvest(vq, pkts, n, HARVEST_TX, &bytes);
	if (vq->hdr_len == SN_VIRTIO_HDR_HASH_LEN)
		return harvest(vq, pkts, n, HARVEST_RX_HASH, &bytes);
	return harvest(vq, pkts, n, HARVEST_RX, &bytes);
}

/* Straight from the thread's pool cache into the descriptors, as the
 * Intel rings do: no copy through an array. A free buffer has its own
 * address at the default headroom. */
static __attribute__((noinline)) void refill(struct sn_virtq *vq)
{
	struct sn_mempool *pool = vq->rx_pool;
	uint8_t *in_pool = pool->in_pool;
	struct vring_desc *desc = vq->desc;
	uint16_t *ring = vq->avail->ring, *free_ids = vq->ids.free;
	struct sn_pkt **inflight = vq->ids.inflight;
	const uint32_t hdr = vq->hdr_len, rx_len = hdr + vq->rx_room;
	unsigned num_free = vq->ids.num_free, avail = vq->avail_idx, mask = vq->mask;

	while (num_free > 0) {
		uint32_t got;
		struct sn_pkt **stack = sn_mempool_take(pool, num_free, &got);
		if (got == 0)
			break; /* pool empty: the app holds the buffers; try later */
		for (struct sn_pkt **last = stack - got; stack != last;) {
			struct sn_pkt *pkt = *--stack;
			uint16_t id = free_ids[--num_free];
			sn_mempool_mark_out(in_pool, pkt);
			put_desc(&desc[id], pkt->iova - hdr, rx_len, VRING_DESC_F_WRITE);
			inflight[id] = pkt;
			ring[avail++ & mask] = id;
		}
	}
	if (num_free == vq->ids.num_free)
		return;
	vq->ids.num_free = (uint16_t)num_free;
	vq->avail_idx = (uint16_t)avail;
	sn_virtq_kick(vq);
}

/* Whether the device's used index is at or past pos (modulo 2^16; the
 * device cannot be more than a ring ahead of what was posted, and any
 * value only decides a counter). */
static bool used_reached(const struct sn_virtq *vq, uint16_t pos)
{
	uint16_t device_idx = __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);
	return (uint16_t)(device_idx - pos) <= vq->size;
}

/* Only when a batch is free (or all: a queue that ran dry). */
static inline bool refill_due(const struct sn_virtq *vq)
{
	return vq->ids.num_free >= RX_REFILL_BATCH || vq->ids.num_free == vq->size;
}

void sn_virtq_refill(struct sn_virtq *vq)
{
	if (refill_due(vq))
		refill(vq);
}

uint16_t sn_virtio_rx_burst(void *queue, struct sn_pkt **pkts, uint16_t n)
{
	struct sn_virtq *vq = queue;
	uint64_t bytes, starved = sn_counter_read(&vq->stats.starved);
	uint16_t got = vq->hdr_len == SN_VIRTIO_HDR_HASH_LEN
			       ? harvest(vq, pkts, n, HARVEST_RX_HASH, &bytes)
			       : harvest(vq, pkts, n, HARVEST_RX, &bytes);

	if (got) {
		sn_count(&vq->stats.bytes, bytes);
		sn_count(&vq->stats.packets, got);
	}
	if (refill_due(vq)) {
		const uint16_t old_avail = vq->avail_idx;
		const bool none_out = vq->ids.num_free == vq->size;
		refill(vq);
		/* The harvest looks for a dry ring only at a burst's start; a
		 * ring the device emptied while the burst ran, or that the
		 * pool left empty, shows here: the device's index had reached
		 * every buffer posted before this refill. Once a burst. */
		if (vq->avail_idx != old_avail && sn_counter_read(&vq->stats.starved) == starved &&
		    (none_out || used_reached(vq, old_avail)))
			sn_count(&vq->stats.starved, 1);
	}
	return got;
}

uint16_t sn_virtio_tx_burst(void *queue, struct sn_pkt **pkts, uint16_t n)
{
	struct sn_virtq *vq = queue;
	struct sn_pkt *done[64];
	uint16_t got;
	uint64_t bytes;

	/* Reclaim what the device has sent, in bounded steps; a step that
	 * found fewer than it could take was the last (or met a rejected
	 * entry: the rest waits for the next burst). */
	do {
		got = harvest(vq, done, 64, HARVEST_TX, &bytes);
		if (got)
			sn_pkt_free_from_ring(done, got);
	} while (got == 64);
	uint16_t sent = post_tx(vq, pkts, n, &bytes);
	if (sent == 0)
		return 0;
	sn_count(&vq->stats.packets, sent);
	sn_count(&vq->stats.bytes, bytes);
	sn_virtq_kick(vq);
	return sent;
}

enum sn_virtq_health sn_virtq_check(struct sn_virtq *vq, struct sn_virtq_look *look)
{
	uint16_t device_idx = __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);
	uint16_t pending = (uint16_t)(device_idx - vq->used_idx);
	uint16_t in_flight = (uint16_t)(vq->size - vq->ids.num_free);
	bool stale = pending > 0 && pending <= in_flight &&
		     vq->used->ring[vq->used_idx & vq->mask].id == SN_VIRTQ_STALE_ID;
	bool impossible = pending > in_flight || stale;
	/* Only a queue with buffers waiting can be stuck or stalled. */
	bool suspect = impossible && in_flight > 0;
	bool waiting = !vq->receive && in_flight > 0 && pending == 0;

	/* The bursts may not have looked since (an idle queue). */
	if (impossible)
		note_index(vq, true);
	*look = (struct sn_virtq_look){ device_idx, vq->used_idx, in_flight };
	return sn_virtq_judge(&vq->watch, look, suspect, waiting);
}

enum sn_virtq_health sn_virtq_judge(struct sn_virtq_watch *w, const struct sn_virtq_look *now,
				    bool suspect, bool waiting)
{
	bool still = now->device_idx == w->device_idx && now->used_idx == w->used_idx;
	enum sn_virtq_health verdict = SN_VIRTQ_OK;

	if (still && suspect && w->suspect)
		verdict = SN_VIRTQ_OUT_OF_STEP;
	else if (still && waiting && w->waiting)
		verdict = SN_VIRTQ_STALLED;
	else if (w->lies != w->lies_told)
		verdict = SN_VIRTQ_LIED;
	w->lies_told = w->lies;
	w->device_idx = now->device_idx;
	w->used_idx = now->used_idx;
	w->waiting = waiting;
	w->suspect = suspect;
	return verdict;
}

/* ---- the control virtqueue ------------------------------------------- */

/* The one chain's descriptors: header, data, ack. */
#define CTRL_HEAD 0

int sn_vctrl_init(struct sn_vctrl *cq, uint16_t size, void *desc, void *avail,
		  void *used, uint8_t *data, uint64_t data_iova, uint8_t *ack,
		  uint64_t ack_iova)
{
	if (size < 4 || (size & (size - 1)))
		return -EINVAL;
	memset(cq, 0, sizeof(*cq));
	cq->desc = desc;
	cq->avail = avail;
	cq->used = used;
	cq->data = data;
	cq->data_iova = data_iova;
	cq->ack = ack;
	cq->ack_iova = ack_iova;
	cq->size = size;
	cq->mask = (uint16_t)(size - 1);
	cq->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	for (uint16_t i = 0; i < size; i++)
		cq->used->ring[i].id = SN_VIRTQ_STALE_ID;
	return 0;
}

void sn_vctrl_use_event_idx(struct sn_vctrl *cq)
{
	cq->event_idx = true;
	cq->avail->flags = 0; /* 2.7.7.1 */
}

int sn_vctrl_post(struct sn_vctrl *cq, uint8_t class, uint8_t cmd, const void *data,
		  size_t len)
{
	if (cq->broken)
		return -EPROTO;
	if (cq->pending)
		return -EBUSY;
	if (len == 0 || len > SN_VCTRL_DATA_ROOM - 2)
		return -EMSGSIZE;
	cq->data[0] = class;
	cq->data[1] = cmd;
	memcpy(cq->data + 2, data, len);
	/* Neither OK nor ERR: an answer the device never wrote is visible. */
	*cq->ack = 0xff;
	cq->desc[0] = (struct vring_desc){ cq->data_iova, 2, VRING_DESC_F_NEXT, 1 };
	cq->desc[1] = (struct vring_desc){ cq->data_iova + 2, (uint32_t)len,
					   VRING_DESC_F_NEXT, 2 };
	cq->desc[2] = (struct vring_desc){ cq->ack_iova, 1, VRING_DESC_F_WRITE, 0 };
	cq->avail->ring[cq->avail_idx & cq->mask] = CTRL_HEAD;
	cq->avail_idx++;
	cq->pending = true;
	if (cq->event_idx) /* no interrupt wanted: we poll for the answer */
		cq->avail->ring[cq->size] = (uint16_t)(cq->used_idx + EVENT_FAR);
	/* Release: the chain and its data before the index. */
	__atomic_store_n(&cq->avail->idx, cq->avail_idx, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	/* The control queue is always kicked: its NO_NOTIFY flag is the
	 * device's, and a command must not wait on a lie about it. */
	if (cq->notify_regs)
		sn_regs_write16(cq->notify_regs, cq->notify_off, cq->queue_index);
	return 0;
}

int sn_vctrl_poll(struct sn_vctrl *cq, struct sn_vctrl_why *why)
{
	uint16_t device_idx = __atomic_load_n(&cq->used->idx, __ATOMIC_ACQUIRE);
	uint16_t done = (uint16_t)(device_idx - cq->used_idx);

	*why = (struct sn_vctrl_why){ .device_idx = device_idx };
	if (cq->broken)
		return -EPROTO;
	if (!cq->pending)
		return -EINVAL;
	if (done == 0)
		return -EAGAIN;
	volatile struct vring_used_elem *e = &cq->used->ring[cq->used_idx & cq->mask];
	why->id = e->id;
	why->len = e->len;
	why->ack = *cq->ack;
	e->id = SN_VIRTQ_STALE_ID;
	cq->used_idx++;
	cq->pending = false;
	/* One command out: one completion, of its chain, of one byte. */
	if (done != 1 || why->id != CTRL_HEAD || why->len != 1 ||
	    (why->ack != VIRTIO_NET_OK && why->ack != VIRTIO_NET_ERR)) {
		cq->broken = true;
		return -EPROTO;
	}
	return why->ack == VIRTIO_NET_OK ? 0 : -EIO;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int sn_vctrl_wait(int (*poll)(void *queue, struct sn_vctrl_why *why), void *queue,
		  unsigned timeout_ms, struct sn_vctrl_why *why)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;
	/* QEMU answers within the notify write; a real device may take a
	 * while: look often at first, then every millisecond. */
	for (unsigned spins = 0;; spins++) {
		int rc = poll(queue, why);
		if (rc != -EAGAIN)
			return rc;
		if (now_ns() >= deadline)
			return -ETIMEDOUT;
		if (spins >= 100)
			nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
}

static int poll_split(void *queue, struct sn_vctrl_why *why)
{
	return sn_vctrl_poll(queue, why);
}

int sn_vctrl_send(struct sn_vctrl *cq, uint8_t class, uint8_t cmd, const void *data,
		  size_t len, unsigned timeout_ms, struct sn_vctrl_why *why)
{
	int rc = sn_vctrl_post(cq, class, cmd, data, len);
	if (rc < 0) {
		*why = (struct sn_vctrl_why){ 0 };
		return rc;
	}
	return sn_vctrl_wait(poll_split, cq, timeout_ms, why);
}

static uint8_t *put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	return p + 2;
}

size_t sn_virtio_rss_encode(uint8_t *out, size_t room, uint32_t hash_types,
			    uint16_t table_len, uint16_t rx_queues, uint16_t pairs,
			    const uint8_t *key, uint8_t key_len)
{
	size_t need = 4 + 2 + 2 + 2u * table_len + 2 + 1 + key_len;
	if (need > room || table_len == 0 || (table_len & (table_len - 1)) ||
	    rx_queues == 0)
		return 0;
	uint8_t *p = out;
	for (unsigned i = 0; i < 4; i++)
		*p++ = (uint8_t)(hash_types >> (8 * i));
	p = put16(p, (uint16_t)(table_len - 1));   /* indirection_table_mask */
	p = put16(p, 0);                           /* unclassified_queue */
	for (uint16_t i = 0; i < table_len; i++)
		p = put16(p, (uint16_t)(i % rx_queues));
	p = put16(p, pairs);                       /* max_tx_vq */
	*p++ = key_len;
	memcpy(p, key, key_len);
	return need;
}
