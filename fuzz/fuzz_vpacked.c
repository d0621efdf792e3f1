/* The packed virtqueue (src/lib/vpacked.c), receive and transmit, against
 * a device whose every write comes from the fuzzer: used descriptors (id,
 * length and flags, anywhere in the ring, of any lap pattern), its event
 * suppression area, and the virtio-net header and frame bytes it writes
 * into receive buffers.
 *
 * Input: byte 0 picks receive or transmit, the header length (12, modern;
 * 10, legacy; 20, modern with the hash report) and the queue size (8, 16
 * or 32); the rest is a script: the
 * device marks its next slot used for the oldest buffer it fetched
 * (honestly, or with a lying id, length or flag bits, or one slot on,
 * skipping), writes any descriptor slot it has already fetched, sets its
 * event flags; the application bursts, frees, allocates, moves a buffer's
 * headroom; the control path runs the health check.
 *
 * The fake device reads each descriptor the driver makes available, in
 * ring order with its own wrap counter, and checks it: an id in range,
 * and an address and length that lie
 * inside one buffer (receive: the header right before the buffer's
 * default headroom, the whole data room after it). After every operation:
 *   - every buffer is in exactly one place (pool, queue, harness), and
 *     the queue's free ids and in-flight table agree;
 *   - a received packet is between 14 bytes and the data room, at its
 *     buffer's own address; with the hash report, its flags and rss_hash
 *     say what the header says, and only a report type the spec defines
 *     was accepted;
 *   - the counters match: packets and bytes are what the harness got or
 *     handed over; every receive buffer the queue took back is a packet
 *     or an error; a transmit error is counted exactly when a burst
 *     stopped at a bad packet.
 * At the end the queue is drained and every buffer is home. */
#include "vpacked.h"

#define VQ struct sn_vpacked
#define VQ_RX_BURST sn_vpacked_rx_burst
#define VQ_TX_BURST sn_vpacked_tx_burst
#include "vq_harness.h"

/* The lap bits an honest device writes at position pos, and the ones
 * the driver writes to make it available. */
static uint16_t used_bits(const struct sn_vpacked *vq, uint16_t pos)
{
	return (pos & vq->size) ? 0 : VRING_PACKED_DESC_F_AVAIL | VRING_PACKED_DESC_F_USED;
}

static uint16_t avail_bits(const struct sn_vpacked *vq, uint16_t pos)
{
	return (pos & vq->size) ? VRING_PACKED_DESC_F_USED : VRING_PACKED_DESC_F_AVAIL;
}

/* Every descriptor made available since the last fetch, as a device
 * reads them: in ring order, while the flags say available for the lap. */
static void device_fetch(struct fake_virtio *d)
{
	struct sn_vpacked *vq = &d->vq;

	FUZZ_CHECK((uint16_t)(vq->avail_pos - d->avail_seen) <= vq->size,
		   "driver made %u slots available past the device's %u", vq->avail_pos,
		   d->avail_seen);
	/* Bounded by what the driver published: a slot the device itself
	 * scribbled on is not the driver's word. */
	while (d->avail_seen != vq->avail_pos && d->fifo_len < MAX_QUEUE) {
		const struct vring_packed_desc *desc = &vq->desc[d->avail_seen & vq->mask];
		uint16_t flags = __atomic_load_n(&desc->flags, __ATOMIC_ACQUIRE);
		uint16_t bits = flags & (VRING_PACKED_DESC_F_AVAIL | VRING_PACKED_DESC_F_USED);
		if (bits != avail_bits(vq, d->avail_seen))
			break;
		uint16_t id = desc->id;
		FUZZ_CHECK(id < vq->size, "available slot %u: id %u", d->avail_seen, id);
		uint32_t offset;
		int b = ledger_buffer_at(&ledger, desc->addr, &offset);
		FUZZ_CHECK(b >= 0, "descriptor %u points at %#llx, in no buffer", id,
			   (unsigned long long)desc->addr);
		FUZZ_CHECK((uint64_t)offset + desc->len <= ledger.buf_size,
			   "descriptor %u: %u bytes at offset %u, past the buffer", id, desc->len,
			   offset);
		uint16_t other = flags & (uint16_t)~bits;
		if (d->receive)
			FUZZ_CHECK(other == VRING_DESC_F_WRITE && offset + d->hdr == SN_POOL_HEADROOM &&
					   desc->len == d->hdr + ledger.room,
				   "receive descriptor %u: flags %#x, offset %u, length %u", id, flags,
				   offset, desc->len);
		else
			FUZZ_CHECK(other == 0 && desc->len >= d->hdr + 14,
				   "transmit descriptor %u: flags %#x, length %u", id, flags, desc->len);
		d->fifo[(d->fifo_head + d->fifo_len++) % MAX_QUEUE] = id;
		d->avail_seen++;
		d->fetched++;
	}
	FUZZ_CHECK(d->avail_seen == vq->avail_pos || d->fifo_len == MAX_QUEUE,
		   "slot %u is not available, yet the driver is at %u", d->avail_seen,
		   vq->avail_pos);
}

/* The device marks its next slot used for the oldest buffer it fetched.
 * A receive writes a header and frame bytes from the input into the
 * buffer, within the descriptor, and reports a length from the input.
 * `how` picks the lies: a length, an id, flag bits, a skipped slot. */
static void device_complete(struct fake_virtio *d, struct fuzz_in *in, uint8_t how)
{
	struct sn_vpacked *vq = &d->vq;
	uint32_t len = 0;

	if (d->fifo_len == 0)
		return;
	uint16_t id = d->fifo[d->fifo_head];
	d->fifo_head = (uint16_t)((d->fifo_head + 1) % MAX_QUEUE);
	d->fifo_len--;
	if (d->receive) {
		struct sn_pkt *pkt = vq->ids.inflight[id];
		if (pkt) {
			const struct sn_buf_home *home = &ledger.pool->home[pkt->index];
			uint8_t bytes[64];
			size_t n = fuzz_bytes(in, bytes, fuzz_u8(in) % sizeof(bytes));
			if (n > d->hdr + ledger.room)
				n = d->hdr + ledger.room;
			memcpy(home->va + SN_POOL_HEADROOM - d->hdr, bytes, n);
		}
		uint16_t frame = fuzz_u16(in);
		/* Mostly a plausible length; odd `how`: whatever the input says. */
		len = (how & 1) ? (uint32_t)frame | (uint32_t)fuzz_u16(in) << 16
				: d->hdr + 14 + frame % (ledger.room - 13);
	}
	if (how & 2)
		id = (uint16_t)(id ^ (fuzz_u8(in) & 0x3f)); /* a lying id */
	if (how & 8)
		d->used_next++; /* skips a slot */
	uint16_t pos = d->used_next++;
	uint8_t pick = fuzz_u8(in);
	uint16_t bits = (how & 4) ? (uint16_t)(((pick & 1) ? VRING_PACKED_DESC_F_AVAIL : 0) |
					       ((pick & 2) ? VRING_PACKED_DESC_F_USED : 0))
				  : used_bits(vq, pos);
	struct vring_packed_desc *slot = &vq->desc[pos & vq->mask];
	slot->id = id;
	slot->len = len;
	__atomic_store_n(&slot->flags, bits, __ATOMIC_RELEASE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size, 0 };
	struct fake_virtio d;
	uint8_t first = fuzz_u8(&in);
	uint16_t qsize = (uint16_t)(8u << (first / 4 % 3));

	memset(&d, 0, sizeof(d));
	d.receive = first & 1;
	d.hdr = (first & 2) ? 10 : (first & 0x80) ? SN_VIRTIO_HDR_HASH_LEN : 12;
	/* Exactly the sizes the spec gives, so ASan sees any access past them. */
	void *ring = calloc(1, sn_vpacked_ring_bytes(qsize));
	struct vring_packed_event *drv = calloc(1, sizeof(*drv)), *dev = calloc(1, sizeof(*dev));
	FUZZ_CHECK(ring && drv && dev, "out of memory");
	FUZZ_CHECK(sn_vpacked_init(&d.vq, ledger.ctx, qsize, ring, drv, dev, d.hdr, d.receive) == 0,
		   "sn_vpacked_init");
	d.vq.event_idx = first & 0x40;
	/* The MTU limit: the default MTU's, or as large as the buffers. */
	if (first & 0x20)
		d.vq.max_frame = ledger.room;
	if (d.receive) {
		d.vq.rx_pool = ledger.pool;
		d.vq.rx_room = ledger.room;
		sn_vpacked_refill(&d.vq);
		device_fetch(&d);
	}

	while (!fuzz_done(&in)) {
		uint8_t op = fuzz_u8(&in);
		uint8_t arg = fuzz_u8(&in);
		switch (op % 10) {
		case 0:
		case 1:
			device_complete(&d, &in, arg);
			break;
		case 2: { /* any slot: any id, length and flags (every slot the
			   * driver published has been fetched by now) */
			struct vring_packed_desc *s = &d.vq.desc[arg & d.vq.mask];
			s->id = fuzz_u16(&in);
			s->len = fuzz_u32(&in);
			s->flags = fuzz_u16(&in);
			break;
		}
		case 3: /* the device's event suppression area */
			dev->flags = arg & 3;
			dev->off_wrap = fuzz_u16(&in);
			break;
		case 4:
			sn_vpacked_want_interrupts(&d.vq, arg & 1);
			FUZZ_CHECK(sn_vpacked_used_pending(&d.vq) ==
					   (d.vq.used_pos != d.vq.avail_pos &&
					    (d.vq.desc[d.vq.used_pos & d.vq.mask].flags & 0x8080) ==
						    used_bits(&d.vq, d.vq.used_pos)),
				   "used_pending disagrees with the next slot");
			break;
		case 5:
			if (d.receive)
				rx_burst(&d, (uint16_t)(1 + arg % MAX_BURST));
			else
				tx_burst(&d, &in, (uint16_t)(arg % MAX_BURST));
			break;
		case 6:
			ledger_free(&ledger, arg % 16);
			break;
		case 7: {
			struct sn_pkt *pkts[16];
			uint32_t got = sn_pkt_alloc_bulk(ledger.pool, pkts, arg % 16);
			for (uint32_t i = 0; i < got; i++)
				ledger_take(&ledger, pkts[i], "allocation");
			break;
		}
		case 8:
			move_headroom(&in);
			break;
		case 9: { /* the control path's health check */
			struct sn_virtq_look look;
			enum sn_virtq_health h = sn_vpacked_check(&d.vq, &look);
			FUZZ_CHECK(h <= SN_VIRTQ_OUT_OF_STEP, "health %d", (int)h);
			FUZZ_CHECK(look.used_idx == d.vq.used_pos &&
					   look.in_flight == d.vq.size - d.vq.ids.num_free &&
					   (uint16_t)(look.device_idx - look.used_idx) <=
						   (uint16_t)(d.vq.avail_pos - d.vq.used_pos),
				   "the check saw position %u (device %u) and %u in flight; the queue "
				   "has %u and %u", look.used_idx, look.device_idx, look.in_flight,
				   d.vq.used_pos, d.vq.size - d.vq.ids.num_free);
			break;
		}
		}
		check_queue(&d, true);
	}
	sn_vpacked_drain(&d.vq);
	check_queue(&d, false);
	sn_vpacked_fini(&d.vq);
	free(ring);
	free(drv);
	free(dev);
	ledger_all_home(&ledger);
	return 0;
}
