/* The split virtqueue (src/lib/virtqueue.c), receive and transmit, against
 * a device whose every write comes from the fuzzer: used ring entries (id
 * and length), the used index, the used flags, avail_event (EVENT_IDX),
 * and the virtio-net header and frame bytes it writes into receive
 * buffers.
 *
 * Input: byte 0 picks receive or transmit, the header length (12, modern;
 * 10, legacy; 20, modern with the hash report) and the queue size (8, 16
 * or 32), and bit 6 EVENT_IDX; the rest is a script: the
 * device completes the next buffer it fetched (honestly, or with a lying
 * id or length), writes any used entry, moves the used index anywhere or
 * publishes its own; the application bursts, frees, allocates, moves a
 * buffer's headroom; the control path runs the health check.
 *
 * The fake device reads each available entry the driver publishes and
 * checks it: an id in range, and a descriptor whose address and length lie
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
#include "virtqueue.h"

#define VQ struct sn_virtq
#define VQ_RX_BURST sn_virtio_rx_burst
#define VQ_TX_BURST sn_virtio_tx_burst
#include "vq_harness.h"

static void device_fetch(struct fake_virtio *d)
{
	struct sn_virtq *vq = &d->vq;
	uint16_t published = __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE);

	FUZZ_CHECK((uint16_t)(published - d->avail_seen) <= vq->size,
		   "driver published %u entries past the device's %u", published, d->avail_seen);
	while (d->avail_seen != published) {
		uint16_t id = vq->avail->ring[d->avail_seen & vq->mask];
		FUZZ_CHECK(id < vq->size, "available entry %u: id %u", d->avail_seen, id);
		const struct vring_desc *desc = &vq->desc[id];
		uint32_t offset;
		int b = ledger_buffer_at(&ledger, desc->addr, &offset);
		FUZZ_CHECK(b >= 0, "descriptor %u points at %#llx, in no buffer", id,
			   (unsigned long long)desc->addr);
		FUZZ_CHECK((uint64_t)offset + desc->len <= ledger.buf_size,
			   "descriptor %u: %u bytes at offset %u, past the buffer", id, desc->len,
			   offset);
		if (d->receive)
			FUZZ_CHECK(desc->flags == VRING_DESC_F_WRITE &&
					   offset + d->hdr == SN_POOL_HEADROOM &&
					   desc->len == d->hdr + ledger.room,
				   "receive descriptor %u: flags %#x, offset %u, length %u", id,
				   desc->flags, offset, desc->len);
		else
			FUZZ_CHECK(desc->flags == 0 && desc->len >= d->hdr + 14,
				   "transmit descriptor %u: flags %#x, length %u", id, desc->flags,
				   desc->len);
		if (d->fifo_len < MAX_QUEUE)
			d->fifo[(d->fifo_head + d->fifo_len++) % MAX_QUEUE] = id;
		d->avail_seen++;
		d->fetched++;
	}
}

/* The device completes the oldest buffer it fetched. A receive writes a
 * header and frame bytes from the input into the buffer, within the
 * descriptor, and reports a length from the input. */
static void device_complete(struct fake_virtio *d, struct fuzz_in *in, uint8_t how)
{
	struct sn_virtq *vq = &d->vq;
	uint32_t len = 0;

	if (d->fifo_len == 0)
		return;
	uint16_t id = d->fifo[d->fifo_head];
	d->fifo_head = (uint16_t)((d->fifo_head + 1) % MAX_QUEUE);
	d->fifo_len--;
	if (d->receive) {
		const struct vring_desc *desc = &vq->desc[id];
		uint32_t offset;
		int b = ledger_buffer_at(&ledger, desc->addr, &offset);
		if (b >= 0) {
			uint8_t bytes[64];
			size_t n = fuzz_bytes(in, bytes, fuzz_u8(in) % sizeof(bytes));
			if (n > desc->len)
				n = desc->len;
			memcpy(ledger.pool->home[b].va + offset, bytes, n);
		}
		uint16_t frame = fuzz_u16(in);
		/* Mostly a plausible length; odd `how`: whatever the input says. */
		len = (how & 1) ? (uint32_t)frame | (uint32_t)fuzz_u16(in) << 16
				: d->hdr + 14 + frame % (ledger.room - 13);
	}
	if (how & 2)
		id = (uint16_t)(id ^ (fuzz_u8(in) & 0x3f)); /* a lying id */
	vq->used->ring[d->used_next & vq->mask] = (struct vring_used_elem){ id, len };
	d->used_next++;
	if (!(how & 4))
		__atomic_store_n(&vq->used->idx, d->used_next, __ATOMIC_RELEASE);
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
	void *desc = calloc(1, sn_vring_desc_bytes(qsize));
	void *avail = calloc(1, sn_vring_avail_bytes(qsize));
	void *used = calloc(1, sn_vring_used_bytes(qsize));
	FUZZ_CHECK(desc && avail && used, "out of memory");
	FUZZ_CHECK(sn_virtq_init(&d.vq, ledger.ctx, qsize, desc, avail, used, d.hdr, d.receive) == 0,
		   "sn_virtq_init");
	if (first & 0x40)
		sn_virtq_use_event_idx(&d.vq);
	/* The MTU limit: the default MTU's, or as large as the buffers. */
	if (first & 0x20)
		d.vq.max_frame = ledger.room;
	if (d.receive) {
		d.vq.rx_pool = ledger.pool;
		d.vq.rx_room = ledger.room;
		sn_virtq_refill(&d.vq);
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
		case 2: /* any used entry, any id and length */
			d.vq.used->ring[arg & d.vq.mask] =
				(struct vring_used_elem){ fuzz_u32(&in), fuzz_u32(&in) };
			break;
		case 3: /* the used index: published, anywhere, or near */
			d.vq.used->idx = (arg & 3) == 0 ? d.used_next
					 : (arg & 3) == 1 ? fuzz_u16(&in)
							  : (uint16_t)(d.vq.used->idx + (arg >> 2) - 32);
			break;
		case 4: /* what the device asks of our kicks: flag or avail_event */
			d.vq.used->flags = arg & 1 ? VRING_USED_F_NO_NOTIFY : 0;
			if (arg & 2)
				*(uint16_t *)&d.vq.used->ring[qsize] = fuzz_u16(&in);
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
			enum sn_virtq_health h = sn_virtq_check(&d.vq, &look);
			FUZZ_CHECK(h <= SN_VIRTQ_OUT_OF_STEP, "health %d", (int)h);
			FUZZ_CHECK(look.used_idx == d.vq.used_idx &&
					   look.in_flight == d.vq.size - d.vq.ids.num_free,
				   "the check saw index %u and %u in flight; the queue has %u and %u",
				   look.used_idx, look.in_flight, d.vq.used_idx,
				   d.vq.size - d.vq.ids.num_free);
			break;
		}
		}
		check_queue(&d, true);
	}
	sn_virtq_drain(&d.vq);
	check_queue(&d, false);
	sn_virtq_fini(&d.vq);
	free(desc);
	free(avail);
	free(used);
	ledger_all_home(&ledger);
	return 0;
}
