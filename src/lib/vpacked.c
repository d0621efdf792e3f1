#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "counter.h"
#include "mempool.h"
#include "vpacked.h"

/* Refill only when this many ids are free: one notification per batch. */
#define RX_REFILL_BATCH 32
#define LAP_BITS (VRING_PACKED_DESC_F_AVAIL | VRING_PACKED_DESC_F_USED)

/* What the driver writes to make position pos available (2.8.1: AVAIL
 * equal to its wrap counter, USED the opposite), and what the device
 * writes to mark it used (both equal to the wrap counter). Available and
 * used patterns never coincide, on any lap. */
static inline uint16_t avail_bits(uint16_t pos, uint16_t size)
{
	return (pos & size) ? VRING_PACKED_DESC_F_USED : VRING_PACKED_DESC_F_AVAIL;
}

static inline uint16_t used_bits(uint16_t pos, uint16_t size)
{
	return (pos & size) ? 0 : LAP_BITS;
}

/* The lap bits of a slot, read once; acquire: the id and length after. */
static inline uint16_t lap_bits_at(const struct vring_packed_desc *desc, uint16_t pos,
				   uint16_t mask)
{
	return __atomic_load_n(&desc[pos & mask].flags, __ATOMIC_ACQUIRE) & LAP_BITS;
}

int sn_vpacked_init(struct sn_vpacked *vq, const struct sn_ctx *ctx, uint16_t size,
		    void *ring, void *driver_event, void *device_event, uint32_t hdr_len,
		    bool receive)
{
	if (size == 0 || (size & (size - 1)) || size > 32768)
		return -EINVAL;
	memset(vq, 0, sizeof(*vq));
	vq->ctx = ctx;
	vq->desc = ring;
	vq->driver_event = driver_event;
	vq->device_event = device_event;
	vq->size = size;
	vq->mask = (uint16_t)(size - 1);
	vq->hdr_len = hdr_len;
	vq->receive = receive;
	vq->max_frame = SN_MTU_DEFAULT + 14;
	if (sn_buf_ids_init(&vq->ids, size) < 0)
		return -ENOMEM;
	/* No slot may look used before the device writes it (lap 0's used
	 * pattern has both bits set; zero is neither pattern of lap 0). */
	memset(ring, 0, sn_vpacked_ring_bytes(size));
	/* We poll; interrupts would only cost the device work. */
	vq->driver_event->flags = VRING_PACKED_EVENT_FLAG_DISABLE;
	return 0;
}

void sn_vpacked_fini(struct sn_vpacked *vq)
{
	sn_buf_ids_fini(&vq->ids);
}

void sn_vpacked_drain(struct sn_vpacked *vq)
{
	sn_buf_ids_drain(&vq->ids, vq->size);
}

/* Descriptors we may still make available: one per free id, and no more
 * slots than the device has given back (a lying id gives back a slot and
 * no id, so ids are the tighter bound; both are checked). */
static inline unsigned room(const struct sn_vpacked *vq)
{
	unsigned slots = vq->size - (uint16_t)(vq->avail_pos - vq->used_pos);
	return vq->ids.num_free < slots ? vq->ids.num_free : slots;
}

/* The batch becomes visible at once: its first descriptor's flags are
 * written last, after a release fence (2.8.21.3.1). */
static inline void publish(struct sn_vpacked *vq, uint16_t first, uint16_t flags)
{
	__atomic_store_n(&vq->desc[first & vq->mask].flags, flags, __ATOMIC_RELEASE);
}

/* Whether the device, in DESC mode, asked to hear of position off_wrap
 * which the descriptors from old to new made available (2.8.10: offset
 * in bits 0-14, the wrap counter in bit 15). Any value only decides
 * whether we notify. */
static bool event_crossed(const struct sn_vpacked *vq, uint16_t off_wrap, uint16_t old,
			  uint16_t new)
{
	uint16_t event = off_wrap & 0x7fff;
	bool wrap = off_wrap >> 15, new_wrap = !(new & vq->size);
	uint16_t new_idx = new & vq->mask, old_idx = (uint16_t)(new_idx - (uint16_t)(new - old));

	if (wrap != new_wrap)
		event = (uint16_t)(event - vq->size);
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

void sn_vpacked_kick(struct sn_vpacked *vq, uint16_t old)
{
	uint16_t new = vq->avail_pos;
	/* Full barrier: the flags we published before the device's
	 * suppression area is read (2.8.22). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	uint16_t flags = __atomic_load_n(&vq->device_event->flags, __ATOMIC_RELAXED);
	bool notify = flags != VRING_PACKED_EVENT_FLAG_DISABLE;
	/* DESC mode means something only with EVENT_IDX; otherwise a device
	 * asking for it gets every notification. */
	if (flags == VRING_PACKED_EVENT_FLAG_DESC && vq->event_idx)
		notify = event_crossed(vq, __atomic_load_n(&vq->device_event->off_wrap,
							   __ATOMIC_RELAXED), old, new);
	if (notify && vq->notify_regs)
		sn_regs_write16(vq->notify_regs, vq->notify_off, vq->queue_index);
}

/* Address, length and id of a batch's first descriptor, whose flags
 * publish() writes last. */
static inline void put(struct vring_packed_desc *d, uint64_t addr, uint32_t len, uint16_t id)
{
	d->addr = addr;
	d->len = len;
	d->id = id;
}

/* Any other descriptor in two stores: the address, then length, id and
 * flags together (the struct has no padding). */
static inline void put_all(struct vring_packed_desc *d, uint64_t addr, uint32_t len,
			   uint16_t id, uint16_t flags)
{
	uint64_t rest = len | (uint64_t)id << 32 | (uint64_t)flags << 48;
	d->addr = addr;
	memcpy(&d->len, &rest, sizeof(rest));
}

static inline unsigned min_u(unsigned a, unsigned b)
{
	return a < b ? a : b;
}

/* Receive buffers (from_pool: straight out of the pool's cache, still to
 * be marked out) into the n next slots, n within room(). The loops run
 * up to the ring's end and then from its start, so the flags change only
 * between them. */
static inline __attribute__((always_inline)) void
post_rx(struct sn_vpacked *vq, struct sn_pkt **pkts, unsigned n, const bool from_pool)
{
	struct vring_packed_desc *desc = vq->desc;
	uint16_t *free_ids = vq->ids.free;
	struct sn_pkt **inflight = vq->ids.inflight;
	uint8_t *in_pool = from_pool ? vq->rx_pool->in_pool : NULL;
	const uint32_t hdr = vq->hdr_len, len = hdr + vq->rx_room;
	const unsigned size = vq->size, first = vq->avail_pos & vq->mask;
	const uint16_t first_flags = avail_bits(vq->avail_pos, vq->size) | VRING_DESC_F_WRITE;
	uint16_t flags = first_flags;
	unsigned num_free = vq->ids.num_free, slot = first, i = 0;

	while (i < n) {
		/* Up to the ring's end, then from its start with the next lap. */
		struct vring_packed_desc *d = &desc[slot];
		unsigned end = i + min_u(n - i, size - slot);
		for (; i < end; i++, d++) {
			struct sn_pkt *pkt = pkts[i];
			uint16_t id = free_ids[--num_free];
			if (from_pool)
				sn_mempool_mark_out(in_pool, pkt);
			if (i)
				put_all(d, pkt->iova - hdr, len, id, flags);
			else
				put(d, pkt->iova - hdr, len, id);
			inflight[id] = pkt;
		}
		slot = 0;
		flags ^= LAP_BITS;
	}
	publish(vq, (uint16_t)first, first_flags);
	vq->avail_pos = (uint16_t)(vq->avail_pos + n);
	vq->ids.num_free = (uint16_t)num_free;
}

uint16_t sn_vpacked_post(struct sn_vpacked *vq, struct sn_pkt **pkts, uint16_t n)
{
	n = (uint16_t)min_u(n, room(vq));
	if (n)
		post_rx(vq, pkts, n, false);
	return n;
}

/* A batch's worth of room, or an empty ring. */
static inline bool refill_due(const struct sn_vpacked *vq)
{
	return room(vq) >= RX_REFILL_BATCH || vq->ids.num_free == vq->size;
}

/* Straight from the thread's pool cache into the descriptors, as the
 * Intel rings refill: no copy through an array. */
void sn_vpacked_refill(struct sn_vpacked *vq)
{
	const uint16_t old = vq->avail_pos;
	unsigned want = room(vq), posted = 0;

	if (!refill_due(vq))
		return;
	while (posted < want) {
		uint32_t got;
		/* The buffers are at stack[-got] .. stack[-1]. */
		struct sn_pkt **stack = sn_mempool_take(vq->rx_pool, want - posted, &got);
		if (got == 0)
			break; /* pool dry: the application holds the buffers */
		post_rx(vq, stack - got, got, true);
		posted += got;
	}
	if (posted)
		sn_vpacked_kick(vq, old);
}

/* Transmit: the application's frame must fit its own buffer and leave
 * room for the header; the first that does not ends the burst. */
static inline __attribute__((always_inline)) uint16_t
post_tx_hdr(struct sn_vpacked *vq, struct sn_pkt **pkts, uint16_t n, uint64_t *bytes_out,
	    const uint32_t hdr)
{
	struct vring_packed_desc *desc = vq->desc;
	uint16_t *free_ids = vq->ids.free;
	struct sn_pkt **inflight = vq->ids.inflight;
	const unsigned size = vq->size, first = vq->avail_pos & vq->mask;
	const uint16_t first_flags = avail_bits(vq->avail_pos, vq->size);
	uint16_t flags = first_flags;
	unsigned num_free = vq->ids.num_free, slot = first, i = 0;
	const uint32_t max_frame = vq->max_frame;
	uint64_t bytes = 0;

	n = (uint16_t)min_u(n, room(vq));
	while (i < n) {
		struct vring_packed_desc *d = &desc[slot];
		unsigned end = i + min_u(n - i, size - slot);
		for (; i < end; i++, d++) {
			struct sn_pkt *pkt = pkts[i];
			uint32_t len = pkt->len;
			if (!sn_pkt_tx_ok(pkt, vq->ctx, hdr, max_frame)) {
				sn_count(&vq->stats.errors, 1);
				goto out;
			}
			uint16_t id = free_ids[--num_free];
			sn_virtio_zero_header(pkt, hdr);
			if (i)
				put_all(d, pkt->iova - hdr, hdr + len, id, flags);
			else
				put(d, pkt->iova - hdr, hdr + len, id);
			inflight[id] = pkt;
			bytes += len;
		}
		slot = 0;
		flags ^= LAP_BITS;
	}
out:
	if (i) {
		publish(vq, (uint16_t)first, first_flags);
		vq->avail_pos = (uint16_t)(vq->avail_pos + i);
		vq->ids.num_free = (uint16_t)num_free;
	}
	*bytes_out = bytes;
	return (uint16_t)i;
}

/* hdr a constant in each: the header is cleared with plain stores. */
static uint16_t post_tx(struct sn_vpacked *vq, struct sn_pkt **pkts, uint16_t n,
			uint64_t *bytes_out)
{
	switch (vq->hdr_len) {
	case 12:
		return post_tx_hdr(vq, pkts, n, bytes_out, 12);
	case SN_VIRTIO_HDR_HASH_LEN:
		return post_tx_hdr(vq, pkts, n, bytes_out, SN_VIRTIO_HDR_HASH_LEN);
	default:
		return post_tx_hdr(vq, pkts, n, bytes_out, 10);
	}
}

/* A used descriptor the driver cannot accept costs the packet, never
 * memory safety: an id not in flight is skipped, a frame with a bad
 * length or hash report dropped and its buffer given back. Out of line:
 * the loops keep their registers. */
static __attribute__((noinline, cold)) void reject_id(struct sn_vpacked *vq)
{
	sn_count(&vq->stats.device_errors, 1);
}

/* A frame longer than the MTU allows but inside the buffer is a frame on
 * the wire, not a lying device: counted in errors only. */
static __attribute__((noinline, cold)) void reject_frame(struct sn_vpacked *vq,
							  struct sn_pkt *pkt, uint32_t len,
							  bool device_fault)
{
	if (device_fault || len < 14 || len > vq->rx_room)
		sn_count(&vq->stats.device_errors, 1);
	sn_count(&vq->stats.errors, 1);
	sn_pkt_free_from_ring(&pkt, 1);
}

static void note_lie(struct sn_vpacked *vq, bool lie)
{
	sn_virtq_note_lie(&vq->watch, &vq->stats.device_errors, lie);
}

/* What a harvest loop does with a used descriptor; a constant at each
 * call, so the compiler makes one loop for each. */
enum harvest_mode { HARVEST_TX, HARVEST_RX, HARVEST_RX_HASH };

/* The used descriptors from the next slot on, validated; at most n slots
 * looked at. */
static inline __attribute__((always_inline)) uint16_t
harvest(struct sn_vpacked *vq, struct sn_pkt **pkts, uint16_t n, const enum harvest_mode mode,
	uint64_t *bytes_out)
{
	const struct vring_packed_desc *desc = vq->desc;
	struct sn_pkt **inflight = vq->ids.inflight;
	uint16_t *free_ids = vq->ids.free;
	/* The longest frame taken: the MTU's, within the posted room. */
	const unsigned size = vq->size, hdr = vq->hdr_len,
		       room_bytes = vq->max_frame < vq->rx_room ? vq->max_frame : vq->rx_room;
	const bool receive = mode != HARVEST_TX, hash = mode == HARVEST_RX_HASH;
	const uint16_t pos = vq->used_pos, end = vq->avail_pos;
	/* Only slots we made available: past them the device has been
	 * given nothing, whatever it writes there. */
	unsigned out = (uint16_t)(end - pos), limit = out < n ? out : n;
	unsigned slot = pos & vq->mask, num_free = vq->ids.num_free, got = 0, seen;
	uint16_t want = used_bits(pos, (uint16_t)size);
	uint64_t bytes = 0;
	bool lie = false;

	/* Every posted buffer used (the device writes used descriptors in
	 * ring order, so the last outstanding slot says it): see rx_starved. */
	if (receive && out && lap_bits_at(desc, (uint16_t)(end - 1), vq->mask) ==
				      used_bits((uint16_t)(end - 1), (uint16_t)size))
		sn_count(&vq->stats.starved, 1);
	for (seen = 0; seen < limit; slot = 0, want ^= LAP_BITS) {
		/* Up to the ring's end, then from its start with the next lap. */
		const struct vring_packed_desc *start = &desc[slot], *d = start, *stop;
		stop = start + min_u(limit - seen, size - slot);
		for (; d != stop; d++) {
			uint16_t bits = __atomic_load_n(&d->flags, __ATOMIC_ACQUIRE) & LAP_BITS;
			if (bits != want) {
				/* Still ours (this lap's available pattern): the device
				 * is not there yet. Anything else is no pattern an honest
				 * device writes: wait here all the same. */
				lie = bits != (want ? VRING_PACKED_DESC_F_AVAIL
						    : VRING_PACKED_DESC_F_USED);
				seen += (unsigned)(d - start);
				goto out;
			}
			uint32_t id = d->id, len = d->len; /* read each once */
			struct sn_pkt *pkt;
			if (id >= size || !(pkt = inflight[id])) {
				reject_id(vq); /* not in flight: a lie */
				continue;
			}
			inflight[id] = NULL;
			free_ids[num_free++] = (uint16_t)id;
			if (receive) {
				/* A header, an Ethernet header, and no more than the
				 * MTU allows within what we posted (unsigned wrap folds
				 * both bounds into one test). */
				if (len - hdr - 14 > room_bytes - 14) {
					reject_frame(vq, pkt, len - hdr, len < hdr);
					continue;
				}
				if (hash && !sn_virtio_take_hash(pkt)) {
					reject_frame(vq, pkt, len - hdr, true);
					continue;
				}
				pkt->len = (uint16_t)(len - hdr);
				if (!hash)
					pkt->flags = 0;
				bytes += len - hdr;
			}
			pkts[got++] = pkt;
		}
		seen += (unsigned)(stop - start);
	}
out:
	if (lie != vq->watch.lying)
		note_lie(vq, lie);
	vq->used_pos = (uint16_t)(pos + seen);
	vq->ids.num_free = (uint16_t)num_free;
	*bytes_out = bytes;
	return (uint16_t)got;
}

uint16_t sn_vpacked_harvest(struct sn_vpacked *vq, struct sn_pkt **pkts, uint16_t n)
{
	uint64_t bytes;
	if (!vq->receive)
		return harvest(vq, pkts, n, HARVEST_TX, &bytes);
	return vq->hdr_len == SN_VIRTIO_HDR_HASH_LEN ? harvest(vq, pkts, n, HARVEST_RX_HASH, &bytes)
						     : harvest(vq, pkts, n, HARVEST_RX, &bytes);
}

/* Whether the device had used every buffer it held by the time a
 * refill's buffers were published: the harvest's look at the start of a
 * burst misses a ring that ran dry while the burst ran, or that the
 * pool left empty (QEMU then queues frames and may deliver a newer one
 * first; see rx_starved). Called after the refill with the last slot
 * outstanding before it, or none_out when nothing was. The refill never
 * reaches that slot. */
static bool ran_dry_before_refill(const struct sn_vpacked *vq, bool none_out, uint16_t last)
{
	return none_out || lap_bits_at(vq->desc, last, vq->mask) == used_bits(last, vq->size);
}

uint16_t sn_vpacked_rx_burst(void *queue, struct sn_pkt **pkts, uint16_t n)
{
	struct sn_vpacked *vq = queue;
	uint64_t bytes, starved = sn_counter_read(&vq->stats.starved);
	uint16_t got = vq->hdr_len == SN_VIRTIO_HDR_HASH_LEN
			       ? harvest(vq, pkts, n, HARVEST_RX_HASH, &bytes)
			       : harvest(vq, pkts, n, HARVEST_RX, &bytes);

	sn_count(&vq->stats.bytes, bytes);
	sn_count(&vq->stats.packets, got);
	if (refill_due(vq)) {
		const uint16_t old = vq->avail_pos;
		bool none_out = old == vq->used_pos;
		sn_vpacked_refill(vq);
		/* Once an episode (when buffers arrive), once a burst (the
		 * harvest may have counted it). */
		if (vq->avail_pos != old && sn_counter_read(&vq->stats.starved) == starved &&
		    ran_dry_before_refill(vq, none_out, (uint16_t)(old - 1)))
			sn_count(&vq->stats.starved, 1);
	}
	return got;
}

uint16_t sn_vpacked_tx_burst(void *queue, struct sn_pkt **pkts, uint16_t n)
{
	struct sn_vpacked *vq = queue;
	struct sn_pkt *done[64];
	uint16_t got, old = vq->avail_pos;
	uint64_t bytes;

	/* Reclaim what the device has sent, in bounded steps; a short step
	 * means the device is not further. */
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
	sn_vpacked_kick(vq, old);
	return sent;
}

void sn_vpacked_want_interrupts(struct sn_vpacked *vq, bool on)
{
	__atomic_store_n(&vq->driver_event->flags,
			 on ? VRING_PACKED_EVENT_FLAG_ENABLE : VRING_PACKED_EVENT_FLAG_DISABLE,
			 __ATOMIC_RELAXED);
	/* The flag visible before the caller looks at the ring again: the
	 * device reads it after marking a descriptor used, so one of the two
	 * sides sees the other. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

bool sn_vpacked_used_pending(const struct sn_vpacked *vq)
{
	return vq->used_pos != vq->avail_pos &&
	       lap_bits_at(vq->desc, vq->used_pos, vq->mask) == used_bits(vq->used_pos, vq->size);
}

/* The window's state for the check: how far the device has used it
 * without a gap; whether any slot shows bits no honest device writes
 * (`lie`), or a used descriptor after one still available, which an
 * honest device shows only for a moment while it writes a batch
 * (`skipped`). */
struct window {
	uint16_t ready;
	bool lie, skipped;
};

static struct window look_at_window(const struct sn_vpacked *vq)
{
	const uint16_t size = vq->size, mask = vq->mask, start = vq->used_pos;
	const uint16_t out = (uint16_t)(vq->avail_pos - start);
	struct window w = { 0 };
	bool gap = false;

	for (uint16_t i = 0; i < out; i++) {
		uint16_t pos = (uint16_t)(start + i), bits = lap_bits_at(vq->desc, pos, mask);
		if (bits == used_bits(pos, size)) {
			w.skipped |= gap;
			w.ready = (uint16_t)(w.ready + !gap);
		} else if (bits == avail_bits(pos, size)) {
			gap = true;
		} else {
			w.lie = true;
			gap = true;
		}
	}
	/* Past the window the slot holds the previous lap's used pattern;
	 * this lap's is a completion of something never given. */
	if (out < size &&
	    lap_bits_at(vq->desc, vq->avail_pos, mask) == used_bits(vq->avail_pos, size))
		w.lie = true;
	return w;
}

enum sn_virtq_health sn_vpacked_check(struct sn_vpacked *vq, struct sn_virtq_look *look)
{
	struct window w = look_at_window(vq);
	uint16_t in_flight = (uint16_t)(vq->size - vq->ids.num_free);
	uint16_t device_pos = (uint16_t)(vq->used_pos + w.ready);
	/* Ids in flight past the slots the device still holds: it gave
	 * slots back with other ids (counted then), and those buffers are
	 * lost to the queue until a reset. */
	bool lost = in_flight > (uint16_t)(vq->avail_pos - vq->used_pos);
	bool suspect = (w.lie || w.skipped || lost) && in_flight > 0;
	bool waiting = !vq->receive && in_flight > 0 && w.ready == 0;

	/* The bursts may not have looked since (an idle queue). */
	if (w.lie)
		note_lie(vq, true);
	*look = (struct sn_virtq_look){ device_pos, vq->used_pos, in_flight };
	return sn_virtq_judge(&vq->watch, look, suspect, waiting);
}

/* ---- the control virtqueue, packed ------------------------------------ */

/* The one command's buffer id, in each of its three descriptors. */
#define CTRL_ID 0
#define CTRL_SLOTS 3

int sn_vpctrl_init(struct sn_vpctrl *cq, uint16_t size, void *ring, void *driver_event,
		   uint8_t *data, uint64_t data_iova, uint8_t *ack, uint64_t ack_iova)
{
	if (size < 4 || (size & (size - 1)) || size > 32768)
		return -EINVAL;
	memset(cq, 0, sizeof(*cq));
	cq->desc = ring;
	cq->driver_event = driver_event;
	cq->data = data;
	cq->data_iova = data_iova;
	cq->ack = ack;
	cq->ack_iova = ack_iova;
	cq->size = size;
	cq->mask = (uint16_t)(size - 1);
	memset(ring, 0, sn_vpacked_ring_bytes(size));
	cq->driver_event->flags = VRING_PACKED_EVENT_FLAG_DISABLE;
	return 0;
}

int sn_vpctrl_post(struct sn_vpctrl *cq, uint8_t class, uint8_t cmd, const void *data,
		   size_t len)
{
	uint16_t pos = cq->avail_pos, size = cq->size;
	struct vring_packed_desc *desc = cq->desc;

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
	uint16_t p1 = (uint16_t)(pos + 1), p2 = (uint16_t)(pos + 2);
	desc[p1 & cq->mask] = (struct vring_packed_desc){
		cq->data_iova + 2, (uint32_t)len, CTRL_ID,
		(uint16_t)(VRING_DESC_F_NEXT | avail_bits(p1, size)) };
	desc[p2 & cq->mask] = (struct vring_packed_desc){
		cq->ack_iova, 1, CTRL_ID, (uint16_t)(VRING_DESC_F_WRITE | avail_bits(p2, size)) };
	struct vring_packed_desc *d = &desc[pos & cq->mask];
	d->addr = cq->data_iova;
	d->len = 2;
	d->id = CTRL_ID;
	/* Release: the list and its data before the first flags. */
	__atomic_store_n(&d->flags, (uint16_t)(VRING_DESC_F_NEXT | avail_bits(pos, size)),
			 __ATOMIC_RELEASE);
	cq->avail_pos = (uint16_t)(pos + CTRL_SLOTS);
	cq->pending = true;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	/* Always notified: a command must not wait on the device's word
	 * that it does not want to hear. */
	if (cq->notify_regs)
		sn_regs_write16(cq->notify_regs, cq->notify_off, cq->queue_index);
	return 0;
}

int sn_vpctrl_poll(struct sn_vpctrl *cq, struct sn_vctrl_why *why)
{
	const struct vring_packed_desc *desc = cq->desc;
	uint16_t pos = cq->used_pos, size = cq->size, mask = cq->mask;
	uint16_t raw = __atomic_load_n(&desc[pos & mask].flags, __ATOMIC_ACQUIRE);
	uint16_t bits = raw & LAP_BITS;

	*why = (struct sn_vctrl_why){ .device_idx = raw };
	if (cq->broken)
		return -EPROTO;
	if (!cq->pending)
		return -EINVAL;
	/* The list's other slots stay ours (the device writes one used
	 * descriptor, in the first), and the slot past it holds the previous
	 * lap's pattern (nothing else was given). */
	bool others_ok = lap_bits_at(desc, (uint16_t)(pos + 1), mask) ==
				 avail_bits((uint16_t)(pos + 1), size) &&
			 lap_bits_at(desc, (uint16_t)(pos + 2), mask) ==
				 avail_bits((uint16_t)(pos + 2), size) &&
			 lap_bits_at(desc, cq->avail_pos, mask) != used_bits(cq->avail_pos, size);
	if (bits == avail_bits(pos, size) && others_ok)
		return -EAGAIN;
	const volatile struct vring_packed_desc *d = &desc[pos & mask];
	why->id = d->id;
	why->len = d->len;
	why->ack = *cq->ack;
	cq->used_pos = (uint16_t)(pos + CTRL_SLOTS);
	cq->pending = false;
	/* One command out: one used descriptor, of its list, of one byte. */
	if (bits != used_bits(pos, size) || !others_ok || why->id != CTRL_ID || why->len != 1 ||
	    (why->ack != VIRTIO_NET_OK && why->ack != VIRTIO_NET_ERR)) {
		cq->broken = true;
		return -EPROTO;
	}
	return why->ack == VIRTIO_NET_OK ? 0 : -EIO;
}

static int poll_packed(void *queue, struct sn_vctrl_why *why)
{
	return sn_vpctrl_poll(queue, why);
}

int sn_vpctrl_send(struct sn_vpctrl *cq, uint8_t class, uint8_t cmd, const void *data,
		   size_t len, unsigned timeout_ms, struct sn_vctrl_why *why)
{
	int rc = sn_vpctrl_post(cq, class, cmd, data, len);
	if (rc < 0) {
		*why = (struct sn_vctrl_why){ 0 };
		return rc;
	}
	return sn_vctrl_wait(poll_packed, cq, timeout_ms, why);
}
