/* What the split and packed virtqueue harnesses (fuzz_virtq.c,
 * fuzz_vpacked.c) share: the pool ledger, the device's bookkeeping, the
 * invariants checked after every operation, and the application's side
 * (bursts, headroom moves). Each includes it after defining VQ (its
 * queue type) and VQ_RX_BURST / VQ_TX_BURST (its burst functions), and
 * defines device_fetch; both
 * queue types name their driver records alike (inflight, free_ids,
 * num_free, size, stats). Test code only. */
#ifndef SN_FUZZ_VQ_HARNESS_H
#define SN_FUZZ_VQ_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "pool_ledger.h"

#define POOL 64
#define MAX_QUEUE 32
#define MAX_BURST 40

static struct pool_ledger ledger;

/* The device's side of the queue. */
struct fake_virtio {
	VQ vq;
	bool receive;
	uint32_t hdr;
	uint16_t avail_seen;         /* next available entry (split) or slot
				      * position (packed) the device reads */
	uint16_t used_next;          /* its own used index, or next position */
	uint16_t fifo[MAX_QUEUE];    /* ids fetched and not yet completed */
	uint16_t fifo_head, fifo_len;
	uint64_t fetched;            /* available entries read in all */
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes, tx_errors;
};

/* Each harness's device reads what the driver made available. */
static void device_fetch(struct fake_virtio *d);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	ledger_init(&ledger, POOL, 0);
	return 0;
}

/* counters: false after a drain, which frees without counting. */
static void check_queue(struct fake_virtio *d, bool counters)
{
	const VQ *vq = &d->vq;
	uint32_t flying = 0;

	ledger_begin(&ledger);
	for (uint32_t id = 0; id < vq->size; id++) {
		if (vq->ids.inflight[id]) {
			ledger_mark(&ledger, vq->ids.inflight[id], "queue");
			flying++;
		}
	}
	ledger_end(&ledger);
	FUZZ_CHECK(vq->ids.num_free + flying == vq->size, "%u free ids + %u in flight != %u",
		   vq->ids.num_free, flying, vq->size);
	for (uint32_t k = 0; k < vq->ids.num_free; k++)
		FUZZ_CHECK(vq->ids.free[k] < vq->size && !vq->ids.inflight[vq->ids.free[k]],
			   "free id %u is in flight", vq->ids.free[k]);

	const struct sn_virtq_counters *c = &vq->stats;
	if (!counters)
		return;
	if (d->receive) {
		uint64_t taken_back = d->fetched - flying;
		FUZZ_CHECK(c->packets == d->rx_packets && c->bytes == d->rx_bytes,
			   "receive counters %llu/%llu, harness got %llu/%llu",
			   (unsigned long long)c->packets, (unsigned long long)c->bytes,
			   (unsigned long long)d->rx_packets, (unsigned long long)d->rx_bytes);
		/* Every receive error is the device's fault, except frames longer
		 * than the MTU allows that still fit the buffer: frames on the
		 * wire, counted in errors alone. */
		FUZZ_CHECK(taken_back == c->packets + c->errors &&
				   (c->errors <= c->device_errors || vq->max_frame < ledger.room),
			   "receive: %llu buffers back, %llu packets, %llu errors, %llu device errors",
			   (unsigned long long)taken_back, (unsigned long long)c->packets,
			   (unsigned long long)c->errors, (unsigned long long)c->device_errors);
	} else {
		FUZZ_CHECK(c->packets == d->tx_packets && c->bytes == d->tx_bytes &&
				   c->errors == d->tx_errors,
			   "transmit counters %llu/%llu/%llu errors, expected %llu/%llu/%llu",
			   (unsigned long long)c->packets, (unsigned long long)c->bytes,
			   (unsigned long long)c->errors, (unsigned long long)d->tx_packets,
			   (unsigned long long)d->tx_bytes, (unsigned long long)d->tx_errors);
	}
}

/* The header the device wrote in front of a received frame, read back. */
static void check_hash(const struct fake_virtio *d, const struct sn_pkt *p,
		       const struct sn_buf_home *home)
{
	if (d->hdr != SN_VIRTIO_HDR_HASH_LEN) {
		FUZZ_CHECK(p->flags == 0, "buffer %u: flags 0x%x without a hash report",
			   p->index, p->flags);
		return;
	}
	const uint8_t *h = home->va + SN_POOL_HEADROOM - SN_VIRTIO_HDR_HASH_LEN;
	uint32_t value = (uint32_t)h[12] | (uint32_t)h[13] << 8 | (uint32_t)h[14] << 16 |
			 (uint32_t)h[15] << 24;
	unsigned report = (unsigned)(h[16] | h[17] << 8);
	FUZZ_CHECK(report <= SN_VIRTIO_HASH_REPORT_MAX, "buffer %u: report type %u accepted",
		   p->index, report);
	FUZZ_CHECK(!!(p->flags & SN_PKT_RSS_HASH) == (report != 0) &&
			   (report == 0 || p->rss_hash == value),
		   "buffer %u: flags 0x%x hash 0x%x, the header says type %u hash 0x%x",
		   p->index, p->flags, p->rss_hash, report, value);
}

static void rx_burst(struct fake_virtio *d, uint16_t n)
{
	struct sn_pkt *pkts[MAX_BURST];
	uint16_t got = VQ_RX_BURST(&d->vq, pkts, n);

	FUZZ_CHECK(got <= n, "burst of %u returned %u", n, got);
	for (uint16_t i = 0; i < got; i++) {
		struct sn_pkt *p = pkts[i];
		ledger_take(&ledger, p, "receive burst");
		const struct sn_buf_home *home = &ledger.pool->home[p->index];
		FUZZ_CHECK(p->len >= 14 && p->len <= ledger.room && p->len <= d->vq.max_frame,
			   "buffer %u: length %u, room %u, MTU limit %u", p->index, p->len, ledger.room,
			   d->vq.max_frame);
		FUZZ_CHECK(p->headroom == SN_POOL_HEADROOM && p->data == home->va + SN_POOL_HEADROOM &&
				   p->iova == home->iova + SN_POOL_HEADROOM,
			   "buffer %u received at another address", p->index);
		check_hash(d, p, home);
		d->rx_packets++;
		d->rx_bytes += p->len;
	}
	device_fetch(d);
}

static bool tx_acceptable(const struct fake_virtio *d, const struct sn_pkt *p)
{
	const struct sn_buf_home *home = &ledger.pool->home[p->index];
	return p->len >= 14 && p->len <= d->vq.max_frame && p->headroom >= d->hdr &&
	       p->headroom + p->len <= ledger.buf_size &&
	       p->iova == home->iova + p->headroom && p->data == home->va + p->headroom;
}

static void tx_burst(struct fake_virtio *d, struct fuzz_in *in, uint16_t k)
{
	struct sn_pkt *pkts[MAX_BURST];

	if (ledger.num_held < k) {
		uint32_t got = sn_pkt_alloc_bulk(ledger.pool, pkts, k - ledger.num_held);
		for (uint32_t i = 0; i < got; i++)
			ledger_take(&ledger, pkts[i], "allocation");
	}
	if (k > ledger.num_held)
		k = (uint16_t)ledger.num_held;
	for (uint16_t i = 0; i < k; i++) {
		uint8_t how = fuzz_u8(in);
		uint16_t len = fuzz_u16(in);
		pkts[i] = ledger.held_list[i];
		pkts[i]->len = (how & 1) ? len : (uint16_t)(14 + len % (ledger.room - 13));
	}
	uint16_t sent = VQ_TX_BURST(&d->vq, pkts, k);
	FUZZ_CHECK(sent <= k, "burst of %u sent %u", k, sent);
	for (uint16_t i = 0; i < sent; i++) {
		FUZZ_CHECK(tx_acceptable(d, pkts[i]), "buffer %u sent with length %u, headroom %u",
			   pkts[i]->index, pkts[i]->len, pkts[i]->headroom);
		d->tx_packets++;
		d->tx_bytes += pkts[i]->len;
	}
	/* Early end: no free id left, or else a bad packet, which is counted. */
	if (sent < k && d->vq.ids.num_free > 0) {
		FUZZ_CHECK(!tx_acceptable(d, pkts[sent]), "burst stopped at good buffer %u",
			   pkts[sent]->index);
		d->tx_errors++;
	}
	for (uint16_t i = sent; i > 0; i--)
		ledger_give(&ledger, (uint32_t)(i - 1));
	device_fetch(d);
}

static void move_headroom(struct fuzz_in *in)
{
	if (ledger.num_held == 0)
		return;
	struct sn_pkt *p = ledger.held_list[fuzz_u8(in) % ledger.num_held];
	uint8_t how = fuzz_u8(in);
	uint16_t headroom = (uint16_t)(fuzz_u8(in) * 4u);
	int64_t delta = (int64_t)headroom - p->headroom;
	p->headroom = headroom;
	p->data += delta;
	p->iova += (uint64_t)delta + ((how & 1) ? 64 : 0); /* odd: a lie */
}

#endif
