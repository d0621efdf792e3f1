/* Packed virtqueues against an in-memory device that lies: ids out of
 * range, not in flight or returned twice, lengths past the buffer or
 * short of a header, flag bits of the wrong lap or flipped, used
 * descriptors past what was given or after a slot skipped. Each lie must
 * cost a dropped packet and a counter, never an access outside the ring
 * or a buffer (run under ASan to prove the latter), and the health check
 * must name it as the split ring's does. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "ctx.h"
#include "mempool.h"
#include "vpacked.h"

#define RING 16
#define HDR 12
#define POOL 64
#define AVAIL VRING_PACKED_DESC_F_AVAIL
#define USED VRING_PACKED_DESC_F_USED

struct bench {
	struct sn_ctx *ctx;
	struct sn_mempool *pool;
	struct sn_vpacked vq;
	struct vring_packed_desc *ring;
	struct vring_packed_event drv_event, dev_event;
	uint16_t notify[4];          /* stands in for the notify register */
	struct sn_regs notify_regs;
	uint16_t dev_pos;            /* the device's own position */
};

static int setup_queue(void **state, bool receive)
{
	struct bench *b = calloc(1, sizeof(*b));
	if (!b)
		return -1;
	b->ctx = sn_ctx_create(NULL, NULL);
	b->pool = sn_mempool_create(b->ctx, POOL, 0, 0, NULL);
	b->ring = calloc(1, sn_vpacked_ring_bytes(RING));
	if (!b->pool || !b->ring ||
	    sn_vpacked_init(&b->vq, b->ctx, RING, b->ring, &b->drv_event, &b->dev_event, HDR,
			    receive) != 0) {
		sn_ctx_destroy(b->ctx);
		free(b->ring);
		free(b);
		return -1;
	}
	b->vq.rx_pool = b->pool;
	b->vq.rx_room = sn_mempool_data_room(b->pool);
	b->notify_regs = (struct sn_regs){ .mmio = (volatile uint8_t *)b->notify, .fd = -1 };
	b->vq.notify_regs = &b->notify_regs;
	b->vq.notify_off = 2;
	b->vq.queue_index = 7;
	*state = b;
	return 0;
}

static int setup_rx(void **state) { return setup_queue(state, true); }
static int setup_tx(void **state) { return setup_queue(state, false); }

static int teardown(void **state)
{
	struct bench *b = *state;
	sn_vpacked_drain(&b->vq);
	sn_vpacked_fini(&b->vq);
	sn_ctx_destroy(b->ctx);
	free(b->ring);
	free(b);
	return 0;
}

/* The lap bits an honest device writes at position pos. */
static uint16_t used_pattern(uint16_t pos)
{
	return (pos & RING) ? 0 : AVAIL | USED;
}

static uint16_t avail_pattern(uint16_t pos)
{
	return (pos & RING) ? USED : AVAIL;
}

/* The device marks its next slot used with this id and length. */
static void device_use(struct bench *b, uint32_t id, uint32_t len)
{
	struct vring_packed_desc *d = &b->ring[b->dev_pos % RING];
	d->id = (uint16_t)id;
	d->len = len;
	__atomic_store_n(&d->flags, used_pattern(b->dev_pos), __ATOMIC_RELEASE);
	b->dev_pos++;
}

/* The id the driver put in the device's next slot. */
static uint16_t next_id(struct bench *b)
{
	return b->ring[b->dev_pos % RING].id;
}

/* Uses the next slot honestly: its own id, a 60-byte frame. */
static void device_use_next(struct bench *b)
{
	device_use(b, next_id(b), b->vq.receive ? HDR + 60 : 0);
}

static uint32_t accounted(const struct bench *b)
{
	return sn_mempool_free_count(b->pool) + (RING - b->vq.ids.num_free);
}

static void rx_posts_whole_ring_as_one_batch(void **state)
{
	struct bench *b = *state;
	sn_vpacked_refill(&b->vq);
	assert_int_equal(b->vq.avail_pos, RING);
	assert_int_equal(b->vq.ids.num_free, 0);
	assert_int_equal(b->notify[1], 7); /* the device's area says ENABLE */
	uint16_t seen = 0;
	for (uint16_t i = 0; i < RING; i++) {
		assert_int_equal(b->ring[i].flags, AVAIL | VRING_DESC_F_WRITE);
		assert_int_equal(b->ring[i].len, HDR + sn_mempool_data_room(b->pool));
		assert_true(b->ring[i].id < RING);
		assert_false(seen & (1u << b->ring[i].id)); /* every id once */
		seen |= (uint16_t)(1u << b->ring[i].id);
		assert_ptr_equal(b->ring[i].addr + HDR, b->vq.ids.inflight[b->ring[i].id]->iova);
	}
	assert_int_equal(b->drv_event.flags, VRING_PACKED_EVENT_FLAG_DISABLE); /* polling */
	assert_int_equal(sn_mempool_free_count(b->pool), POOL - RING);
}

/* The first descriptor of a batch is written last: until then the device
 * sees none of it. */
static void first_flags_publish_the_batch(void **state)
{
	struct bench *b = *state;
	struct sn_pkt *pkts[4];
	assert_int_equal(sn_pkt_alloc_bulk(b->pool, pkts, 4), 4);
	assert_int_equal(sn_vpacked_post(&b->vq, pkts, 4), 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(b->ring[i].flags, AVAIL | VRING_DESC_F_WRITE);
	assert_int_equal(b->ring[4].flags, 0);
	assert_int_equal(b->notify[1], 0); /* post alone does not notify */
}

static void rx_good_frames_over_many_laps(void **state)
{
	struct bench *b = *state;
	struct sn_pkt *pkts[RING];
	sn_vpacked_refill(&b->vq);
	/* Ten laps: the wrap counters flip on both sides. */
	for (unsigned round = 0; round < 10 * RING / 4; round++) {
		for (int i = 0; i < 4; i++)
			device_use_next(b);
		uint16_t got = sn_vpacked_rx_burst(&b->vq, pkts, RING);
		assert_int_equal(got, 4);
		for (int i = 0; i < 4; i++)
			assert_int_equal(pkts[i]->len, 60);
		sn_pkt_free_bulk(pkts, got);
	}
	assert_int_equal(b->vq.stats.packets, 10 * RING);
	assert_int_equal(b->vq.stats.device_errors, 0);
	assert_int_equal(accounted(b), POOL);
}

static void rx_counts_a_ring_run_dry(void **state)
{
	struct bench *b = *state;
	struct sn_pkt *pkts[RING];
	sn_vpacked_refill(&b->vq);
	device_use_next(b);
	assert_int_equal(sn_vpacked_rx_burst(&b->vq, pkts, RING), 1);
	assert_int_equal(b->vq.stats.starved, 0);
	sn_pkt_free_bulk(pkts, 1);
	for (uint16_t i = 1; i < RING; i++)
		device_use_next(b);
	assert_int_equal(sn_vpacked_rx_burst(&b->vq, pkts, RING), RING - 1);
	assert_int_equal(b->vq.stats.starved, 1);
	sn_pkt_free_bulk(pkts, RING - 1);
}

/* The harvest's look at the start of a burst sees a ring that is dry
 * then; one that was left empty (the pool had nothing to post) and is
 * refilled in a burst is dry too, and counted at the refill. */
static void rx_counts_a_ring_left_empty(void **state)
{
	struct bench *b = *state;
	struct sn_pkt *held[POOL], *pkts[RING];
	assert_int_equal(sn_pkt_alloc_bulk(b->pool, held, POOL), POOL);
	sn_vpacked_refill(&b->vq);                  /* the pool is dry: nothing posted */
	assert_int_equal(sn_vpacked_rx_burst(&b->vq, pkts, RING), 0);
	assert_int_equal(b->vq.stats.starved, 0);   /* still empty: counted when it ends */
	sn_pkt_free_bulk(held, POOL);
	assert_int_equal(sn_vpacked_rx_burst(&b->vq, pkts, RING), 0);
	assert_int_equal(b->vq.stats.starved, 1);   /* buffers again: one episode */
	assert_int_equal(sn_vpacked_rx_burst(&b->vq, pkts, RING), 0);
	assert_int_equal(b->vq.stats.starved, 1);   /* buffers posted, none used */
	assert_int_equal(accounted(b), POOL);
}

static void rx_hostile_lengths_are_dropped(void **state)
{
	struct bench *b = *state;
	struct sn_pkt *pkts[RING];
	uint32_t room = sn_mempool_data_room(b->pool);
	b->vq.max_frame = room; /* an MTU as large as the buffers: their bounds alone */
	sn_vpacked_refill(&b->vq);
	device_use(b, next_id(b), HDR + room + 1);  /* past the buffer */
	device_use(b, next_id(b), 0xffffffffu);     /* absurd */
	device_use(b, next_id(b), HDR - 1);         /* shorter than the header */
	device_use(b, next_id(b), HDR + 13);        /* shorter than an Ethernet header */
	device_use(b, next_id(b), HDR + room);      /* exactly full: fine */
	assert_int_equal(sn_vpacked_rx_burst(&b->vq, pkts, RING), 1);
	assert_int_equal(pkts[0]->len, room);
	assert_int_equal(b->vq.stats.device_errors, 4);
	assert_int_equal(b->vq.stats.errors, 4);
	sn_pkt_free_bulk(pkts, 1);
	assert_int_equal(accounted(b), POOL);
}

/* The MTU is the limit, not the buffer: the device is still given the
 * whole buffer, a frame of MTU + 14 bytes is taken, one byte more is
 * dropped and counted as a frame on the wire (errors, not device_errors). */
static void rx_frame_longer_than_the_mtu_is_dropped(void **state)
{
	struct bench *b = *state;
	struct sn_pkt *pkts[RING];
	assert_int_equal(b->vq.max_frame, 1514); /* the default MTU's */
	sn_vpacked_refill(&b->vq);
	assert_int_equal(b->ring[0].len, HDR + sn_mempool_data_room(b->pool));
	device_use(b, next_id(b), HDR + 1514);
	device_use(b, next_id(b), HDR + 1515);
	device_use(b, next_id(b), HDR + 60);
	assert_int_equal(sn_vpacked_rx_burst(&b->vq, pkts, RING), 2);
	assert_int_equal(pkts[0]->len, 1514);
	assert_int_equal(pkts[1]->len, 60);
	assert_int_equal(b->vq.stats.errors, 1);
	assert_int_equal(b->vq.stats.device_errors, 0);
	sn_pkt_free_bulk(pkts, 2);
	b->vq.max_frame = 576 + 14;
	device_use(b, next_id(b), HDR + 576 + 14);
	device_use(b, next_id(b), HDR + 576 + 15);
	assert_int_equal(sn_vpacked_rx_burst(&b->vq, pkts, RING), 1);
	assert_int_equal(pkts[0]->len, 576 + 14);
	assert_int_equal(b->vq.stats.errors, 2);
	assert_int_equal(b->vq.stats.device_errors, 0);
	sn_pkt_free_bulk(pkts, 1);
	assert_int_equal(accounted(b), POOL);
}

static void rx_hostile_ids_are_ignored(void **state)
{
	struct bench *b = *state;
	struct sn_pkt *pkts[RING];
	sn_vpacked_refill(&b->vq);
	uint16_t first = next_id(b);
	device_use(b, 9999, HDR + 60);     /* out of range (16 bits: 9999) */
	device_use(b, first, HDR + 60);    /* good */
	device_use(b, first, HDR + 60);    /* the same id again: not in flight */
	device_use(b, RING, HDR + 60);     /* just past the last id */
	assert_int_equal(sn_vpacked_rx_burst(&b->vq, pkts, RING), 1);
	assert_int_equal(b->vq.stats.device_errors, 3);
	sn_pkt_free_bulk(pkts, 1);
	assert_int_equal(accounted(b), POOL);
	/* A lying id gives back a slot and no id: posting stays within ids. */
	sn_vpacked_refill(&b->vq);
	assert_true(b->vq.ids.num_free <= RING);
	assert_int_equal(accounted(b), POOL);
	/* Three buffers are lost to the lies: with no progress the check
	 * says only a reset mends the queue. */
	struct sn_virtq_look look;
	assert_int_equal(sn_vpacked_check(&b->vq, &look), SN_VIRTQ_OK);
	assert_int_equal(sn_vpacked_check(&b->vq, &look), SN_VIRTQ_OUT_OF_STEP);
}

/* Flag bits no honest device writes at the next slot: the previous lap's
 * used pattern (wrap bits wrong), or AVAIL and USED flipped. Nothing is
 * taken, the episode is counted once, the check says LIED, then
 * OUT_OF_STEP while it stays. */
static void wrong_lap_bits(void **state, uint16_t bits)
{
	struct bench *b = *state;
	struct sn_pkt *pkts[RING];
	struct sn_virtq_look look;
	sn_vpacked_refill(&b->vq);
	device_use_next(b);
	b->ring[1].flags = bits;
	for (int i = 0; i < 3; i++)
		assert_int_equal(sn_vpacked_rx_burst(&b->vq, pkts, RING), i == 0 ? 1 : 0);
	sn_pkt_free_bulk(pkts, 1);
	assert_int_equal(b->vq.used_pos, 1);
	assert_int_equal(b->vq.stats.device_errors, 1);
	assert_int_equal(sn_vpacked_check(&b->vq, &look), SN_VIRTQ_LIED);
	assert_int_equal(look.used_idx, 1);
	assert_int_equal(look.device_idx, 1);
	assert_int_equal(sn_vpacked_check(&b->vq, &look), SN_VIRTQ_OUT_OF_STEP);
	/* The device mends the slot: the queue goes on, the verdict clears. */
	device_use_next(b);
	assert_int_equal(sn_vpacked_rx_burst(&b->vq, pkts, RING), 1);
	sn_pkt_free_bulk(pkts, 1);
	assert_int_equal(sn_vpacked_check(&b->vq, &look), SN_VIRTQ_OK);
	assert_int_equal(accounted(b), POOL);
}

static void rx_previous_lap_bits_are_a_lie(void **state)
{
	wrong_lap_bits(state, 0); /* lap 0's used pattern is both bits set */
}

static void rx_flipped_bits_are_a_lie(void **state)
{
	wrong_lap_bits(state, USED | VRING_DESC_F_WRITE);
}

/* A used descriptor past everything given: a completion of nothing. */
static void rx_used_past_the_window_is_a_lie(void **state)
{
	struct bench *b = *state;
	struct sn_pkt *pkts[4];
	struct sn_virtq_look look;
	assert_int_equal(sn_pkt_alloc_bulk(b->pool, pkts, 2), 2);
	assert_int_equal(sn_vpacked_post(&b->vq, pkts, 2), 2);
	b->ring[2] = (struct vring_packed_desc){ 0, HDR + 60, 0, AVAIL | USED };
	assert_int_equal(sn_vpacked_rx_burst(&b->vq, pkts, 4), 0);
	assert_int_equal(sn_vpacked_check(&b->vq, &look), SN_VIRTQ_LIED);
	assert_int_equal(b->vq.stats.device_errors, 1);
	assert_int_equal(look.in_flight, 2);
}

/* A device that skips a slot: the driver waits at it, takes nothing
 * past it, and the check calls the queue out of step once the picture
 * stays (an honest device shows it only while it writes a batch). */
static void rx_skipped_slot_is_out_of_step(void **state)
{
	struct bench *b = *state;
	struct sn_pkt *pkts[RING];
	struct sn_virtq_look look;
	sn_vpacked_refill(&b->vq);
	b->dev_pos = 1;
	device_use_next(b);
	assert_int_equal(sn_vpacked_rx_burst(&b->vq, pkts, RING), 0);
	assert_int_equal(b->vq.used_pos, 0);
	assert_int_equal(sn_vpacked_check(&b->vq, &look), SN_VIRTQ_OK);
	assert_int_equal(look.device_idx, 0);
	assert_int_equal(sn_vpacked_check(&b->vq, &look), SN_VIRTQ_OUT_OF_STEP);
	assert_int_equal(b->vq.stats.device_errors, 0);
}

static void tx_sends_and_reclaims_over_many_laps(void **state)
{
	struct bench *b = *state;
	struct sn_pkt *pkts[8];
	for (unsigned round = 0; round < 10 * RING / 8; round++) {
		assert_int_equal(sn_pkt_alloc_bulk(b->pool, pkts, 8), 8);
		for (int i = 0; i < 8; i++)
			pkts[i]->len = 60;
		assert_int_equal(sn_vpacked_tx_burst(&b->vq, pkts, 8), 8);
		for (int i = 0; i < 8; i++) {
			uint16_t pos = (uint16_t)(round * 8 + i);
			const struct vring_packed_desc *d = &b->ring[pos % RING];
			assert_int_equal(d->flags, avail_pattern(pos));
			assert_int_equal(d->len, HDR + 60);
			/* Transmit lengths the device writes are ignored. */
			device_use(b, d->id, 0xdeadbeefu);
		}
	}
	assert_int_equal(sn_vpacked_tx_burst(&b->vq, pkts, 0), 0); /* reclaims */
	assert_int_equal(b->vq.ids.num_free, RING);
	assert_int_equal(b->vq.stats.packets, 10 * RING);
	assert_int_equal(b->vq.stats.device_errors, 0);
	assert_int_equal(sn_mempool_free_count(b->pool), POOL);
}

static void tx_bad_ids_are_counted_and_buffers_kept(void **state)
{
	struct bench *b = *state;
	struct sn_pkt *pkts[2];
	assert_int_equal(sn_pkt_alloc_bulk(b->pool, pkts, 2), 2);
	pkts[0]->len = pkts[1]->len = 60;
	assert_int_equal(sn_vpacked_tx_burst(&b->vq, pkts, 2), 2);
	uint16_t id0 = next_id(b);
	device_use(b, id0, 0);
	device_use(b, id0, 0);         /* twice */
	assert_int_equal(sn_vpacked_tx_burst(&b->vq, pkts, 0), 0);
	assert_int_equal(b->vq.stats.device_errors, 1);
	/* The second buffer stays in flight: nothing freed twice. */
	assert_int_equal(b->vq.ids.num_free, RING - 1);
	assert_int_equal(sn_mempool_free_count(b->pool), POOL - 1);
}

static void tx_rejects_oversized_frame(void **state)
{
	struct bench *b = *state;
	struct sn_pkt *pkt;
	assert_int_equal(sn_pkt_alloc_bulk(b->pool, &pkt, 1), 1);
	pkt->len = 60000;
	assert_int_equal(sn_vpacked_tx_burst(&b->vq, &pkt, 1), 0);
	assert_int_equal(b->vq.stats.errors, 1);
	sn_pkt_free_bulk(&pkt, 1);
}

/* A frame longer than MTU + 14 is refused as any the check refuses: no
 * descriptor, the burst ends, counted in errors, the packet the caller's. */
static void tx_rejects_a_frame_longer_than_the_mtu(void **state)
{
	struct bench *b = *state;
	struct sn_pkt *pkts[3];
	assert_int_equal(sn_pkt_alloc_bulk(b->pool, pkts, 3), 3);
	pkts[0]->len = 1514;
	pkts[1]->len = 1515;
	pkts[2]->len = 60;
	assert_int_equal(sn_vpacked_tx_burst(&b->vq, pkts, 3), 1);
	assert_int_equal(b->ring[0].len, HDR + 1514);
	assert_int_equal(b->vq.ids.num_free, RING - 1);
	assert_int_equal(b->vq.stats.errors, 1);
	b->vq.max_frame = 1501 + 14;
	assert_int_equal(sn_vpacked_tx_burst(&b->vq, pkts + 1, 2), 2);
	assert_int_equal(b->ring[1].len, HDR + 1515);
	assert_int_equal(b->vq.stats.errors, 1);
}

static void tx_frames_waiting_and_no_progress_is_a_stall(void **state)
{
	struct bench *b = *state;
	struct sn_pkt *pkt;
	struct sn_virtq_look look;
	assert_int_equal(sn_vpacked_check(&b->vq, &look), SN_VIRTQ_OK);
	assert_int_equal(sn_vpacked_check(&b->vq, &look), SN_VIRTQ_OK); /* idle: fine */
	assert_int_equal(sn_pkt_alloc_bulk(b->pool, &pkt, 1), 1);
	pkt->len = 60;
	assert_int_equal(sn_vpacked_tx_burst(&b->vq, &pkt, 1), 1);
	assert_int_equal(sn_vpacked_check(&b->vq, &look), SN_VIRTQ_OK);
	assert_int_equal(sn_vpacked_check(&b->vq, &look), SN_VIRTQ_STALLED);
	assert_int_equal(look.in_flight, 1);
	device_use_next(b);
	assert_int_equal(sn_vpacked_check(&b->vq, &look), SN_VIRTQ_OK);
}

/* The device's event suppression area decides the notification: ENABLE
 * and DISABLE always; DESC's offset only with EVENT_IDX (without it a
 * device asking for DESC is notified every time). */
static void notifications_follow_the_device_area(void **state)
{
	struct bench *b = *state;
	struct sn_pkt *pkts[4];
	b->dev_event.flags = VRING_PACKED_EVENT_FLAG_DISABLE;
	assert_int_equal(sn_pkt_alloc_bulk(b->pool, pkts, 4), 4);
	for (int i = 0; i < 4; i++)
		pkts[i]->len = 60;
	assert_int_equal(sn_vpacked_tx_burst(&b->vq, pkts, 1), 1);
	assert_int_equal(b->notify[1], 0);
	b->dev_event.flags = VRING_PACKED_EVENT_FLAG_ENABLE;
	assert_int_equal(sn_vpacked_tx_burst(&b->vq, pkts + 1, 1), 1);
	assert_int_equal(b->notify[1], 7);
	b->notify[1] = 0;
	/* DESC: notify when position 3 (lap 0: wrap bit 1) is published. */
	b->dev_event = (struct vring_packed_event){ 1u << 15 | 3, VRING_PACKED_EVENT_FLAG_DESC };
	assert_int_equal(sn_vpacked_tx_burst(&b->vq, pkts + 2, 1), 1); /* position 2 */
	assert_int_equal(b->notify[1], 7); /* no EVENT_IDX: every time */
	b->notify[1] = 0;
	b->vq.event_idx = true;
	assert_int_equal(sn_vpacked_tx_burst(&b->vq, pkts + 3, 1), 1); /* position 3 */
	assert_int_equal(b->notify[1], 7);
	b->notify[1] = 0;
	struct sn_pkt *more;
	assert_int_equal(sn_pkt_alloc_bulk(b->pool, &more, 1), 1);
	more->len = 60;
	assert_int_equal(sn_vpacked_tx_burst(&b->vq, &more, 1), 1); /* position 4: past it */
	assert_int_equal(b->notify[1], 0);
	/* The same offset on the other lap is a lap away: not now either. */
	b->dev_event.off_wrap = 5; /* wrap bit 0: lap 1's position 5 */
	assert_int_equal(sn_pkt_alloc_bulk(b->pool, &more, 1), 1);
	more->len = 60;
	assert_int_equal(sn_vpacked_tx_burst(&b->vq, &more, 1), 1); /* position 5, lap 0 */
	assert_int_equal(b->notify[1], 0);
}

/* Interrupts: the driver area says ENABLE while armed, and the re-check
 * looks at the next slot. */
static void interrupts_flag_and_pending(void **state)
{
	struct bench *b = *state;
	struct sn_pkt *pkts[RING];
	sn_vpacked_refill(&b->vq);
	sn_vpacked_want_interrupts(&b->vq, true);
	assert_int_equal(b->drv_event.flags, VRING_PACKED_EVENT_FLAG_ENABLE);
	assert_false(sn_vpacked_used_pending(&b->vq));
	device_use_next(b);
	assert_true(sn_vpacked_used_pending(&b->vq));
	assert_int_equal(sn_vpacked_harvest(&b->vq, pkts, RING), 1);
	sn_pkt_free_bulk(pkts, 1);
	assert_false(sn_vpacked_used_pending(&b->vq));
	sn_vpacked_want_interrupts(&b->vq, false);
	assert_int_equal(b->drv_event.flags, VRING_PACKED_EVENT_FLAG_DISABLE);
}

/* ---- the control queue ------------------------------------------------ */

#define CQ_RING 8
#define DATA_IOVA 0x10000u
#define ACK_IOVA 0x20000u

struct ctrl_bench {
	struct sn_vpctrl cq;
	struct vring_packed_desc ring[CQ_RING];
	struct vring_packed_event drv_event;
	uint8_t data[SN_VCTRL_DATA_ROOM];
	uint8_t ack;
	uint16_t notify[8];
	struct sn_regs notify_regs;
};

static int setup_ctrl(void **state)
{
	struct ctrl_bench *c = calloc(1, sizeof(*c));
	if (!c)
		return -1;
	if (sn_vpctrl_init(&c->cq, CQ_RING, c->ring, &c->drv_event, c->data, DATA_IOVA,
			   &c->ack, ACK_IOVA) != 0) {
		free(c);
		return -1;
	}
	c->notify_regs = (struct sn_regs){ .mmio = (volatile uint8_t *)c->notify, .fd = -1 };
	c->cq.notify_regs = &c->notify_regs;
	c->cq.notify_off = 4;
	c->cq.queue_index = 8;
	*state = c;
	return 0;
}

static int teardown_ctrl(void **state)
{
	free(*state);
	return 0;
}

static const uint8_t two_pairs[2] = { 2, 0 };

/* The device's answer in slot pos: id, length, ack byte, then flags. */
static void ctrl_answer(struct ctrl_bench *c, uint16_t pos, uint16_t id, uint32_t len,
			uint8_t ack, uint16_t bits)
{
	struct vring_packed_desc *d = &c->ring[pos % CQ_RING];
	d->id = id;
	d->len = len;
	c->ack = ack;
	__atomic_store_n(&d->flags, bits, __ATOMIC_RELEASE);
}

static uint16_t ctrl_used(uint16_t pos)
{
	return (pos & CQ_RING) ? 0 : AVAIL | USED;
}

static void ctrl_commands_are_three_descriptor_lists(void **state)
{
	struct ctrl_bench *c = *state;
	struct sn_vctrl_why why;
	/* Enough commands to go round the ring several times, lists split
	 * across its end included. */
	for (uint16_t k = 0; k < 3 * CQ_RING; k++) {
		uint16_t pos = (uint16_t)(3 * k);
		assert_int_equal(sn_vpctrl_post(&c->cq, VIRTIO_NET_CTRL_MQ,
						VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, two_pairs, 2), 0);
		assert_int_equal(c->data[0], VIRTIO_NET_CTRL_MQ);
		assert_memory_equal(c->data + 2, two_pairs, 2);
		const struct vring_packed_desc *d0 = &c->ring[pos % CQ_RING],
					       *d1 = &c->ring[(pos + 1) % CQ_RING],
					       *d2 = &c->ring[(pos + 2) % CQ_RING];
		assert_int_equal(d0->addr, DATA_IOVA);
		assert_int_equal(d0->len, 2);
		assert_int_equal(d0->flags, VRING_DESC_F_NEXT | ((pos & CQ_RING) ? USED : AVAIL));
		assert_int_equal(d1->addr, DATA_IOVA + 2);
		assert_int_equal(d1->len, 2);
		assert_int_equal(d1->flags & VRING_DESC_F_NEXT, VRING_DESC_F_NEXT);
		assert_int_equal(d2->addr, ACK_IOVA);
		assert_int_equal(d2->len, 1);
		assert_int_equal(d2->flags & (VRING_DESC_F_WRITE | VRING_DESC_F_NEXT),
				 VRING_DESC_F_WRITE);
		assert_int_equal(d0->id, d2->id);
		assert_int_equal(c->notify[2], 8);
		assert_int_equal(sn_vpctrl_poll(&c->cq, &why), -EAGAIN);
		assert_int_equal(sn_vpctrl_post(&c->cq, 0, 0, two_pairs, 2), -EBUSY);
		ctrl_answer(c, pos, d2->id, 1, k % 2 ? VIRTIO_NET_ERR : VIRTIO_NET_OK,
			    ctrl_used(pos));
		assert_int_equal(sn_vpctrl_poll(&c->cq, &why), k % 2 ? -EIO : 0);
	}
}

static void ctrl_impossible(void **state, int how)
{
	struct ctrl_bench *c = *state;
	struct sn_vctrl_why why;
	assert_int_equal(sn_vpctrl_post(&c->cq, VIRTIO_NET_CTRL_MQ,
					VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, two_pairs, 2), 0);
	uint16_t id = c->ring[2].id, bits = ctrl_used(0);
	uint32_t len = 1;
	uint8_t ack = VIRTIO_NET_OK;
	switch (how) {
	case 0: id = 5; break;                 /* not the command's id */
	case 1: len = 2; break;                /* more than the ack byte */
	case 2: ack = 7; break;                /* neither OK nor ERR */
	case 3: bits = USED; break;            /* flipped bits */
	case 4:                                /* used in the list's second slot */
		ctrl_answer(c, 1, id, len, ack, bits);
		assert_int_equal(sn_vpctrl_poll(&c->cq, &why), -EPROTO);
		assert_int_equal(sn_vpctrl_post(&c->cq, 0, 0, two_pairs, 2), -EPROTO);
		return;
	case 5:                                /* a second completion past it */
		ctrl_answer(c, 3, id, len, ack, bits);
		break;
	}
	ctrl_answer(c, 0, id, len, ack, bits);
	assert_int_equal(sn_vpctrl_poll(&c->cq, &why), -EPROTO);
	assert_int_equal(why.device_idx & (AVAIL | USED), bits);
	/* No more commands once it lied. */
	assert_int_equal(sn_vpctrl_post(&c->cq, 0, 0, two_pairs, 2), -EPROTO);
}

static void ctrl_impossible_answers_are_not_believed(void **state)
{
	for (int how = 0; how < 6; how++) {
		struct ctrl_bench *c = *state;
		memset(c->ring, 0, sizeof(c->ring));
		assert_int_equal(sn_vpctrl_init(&c->cq, CQ_RING, c->ring, &c->drv_event, c->data,
						DATA_IOVA, &c->ack, ACK_IOVA), 0);
		c->cq.notify_regs = &c->notify_regs;
		ctrl_impossible(state, how);
	}
}

static void ctrl_device_that_never_acks_times_out(void **state)
{
	struct ctrl_bench *c = *state;
	struct sn_vctrl_why why;
	assert_int_equal(sn_vpctrl_send(&c->cq, VIRTIO_NET_CTRL_MQ,
					VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, two_pairs, 2, 20, &why),
			 -ETIMEDOUT);
	assert_int_equal(sn_vpctrl_post(&c->cq, 0, 0, two_pairs, 2), -EBUSY);
}

static void ctrl_rejects_oversized_commands(void **state)
{
	struct ctrl_bench *c = *state;
	static uint8_t big[SN_VCTRL_DATA_ROOM];
	assert_int_equal(sn_vpctrl_post(&c->cq, 0, 0, big, sizeof(big)), -EMSGSIZE);
	assert_int_equal(sn_vpctrl_post(&c->cq, 0, 0, big, 0), -EMSGSIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(rx_posts_whole_ring_as_one_batch, setup_rx, teardown),
		cmocka_unit_test_setup_teardown(first_flags_publish_the_batch, setup_rx, teardown),
		cmocka_unit_test_setup_teardown(rx_good_frames_over_many_laps, setup_rx, teardown),
		cmocka_unit_test_setup_teardown(rx_counts_a_ring_run_dry, setup_rx, teardown),
		cmocka_unit_test_setup_teardown(rx_counts_a_ring_left_empty, setup_rx, teardown),
		cmocka_unit_test_setup_teardown(rx_hostile_lengths_are_dropped, setup_rx, teardown),
		cmocka_unit_test_setup_teardown(rx_hostile_ids_are_ignored, setup_rx, teardown),
		cmocka_unit_test_setup_teardown(rx_previous_lap_bits_are_a_lie, setup_rx, teardown),
		cmocka_unit_test_setup_teardown(rx_flipped_bits_are_a_lie, setup_rx, teardown),
		cmocka_unit_test_setup_teardown(rx_used_past_the_window_is_a_lie, setup_rx, teardown),
		cmocka_unit_test_setup_teardown(rx_skipped_slot_is_out_of_step, setup_rx, teardown),
		cmocka_unit_test_setup_teardown(tx_sends_and_reclaims_over_many_laps, setup_tx, teardown),
		cmocka_unit_test_setup_teardown(tx_bad_ids_are_counted_and_buffers_kept, setup_tx,
						teardown),
		cmocka_unit_test_setup_teardown(tx_rejects_oversized_frame, setup_tx, teardown),
		cmocka_unit_test_setup_teardown(tx_rejects_a_frame_longer_than_the_mtu, setup_tx,
						teardown),
		cmocka_unit_test_setup_teardown(rx_frame_longer_than_the_mtu_is_dropped, setup_rx,
						teardown),
		cmocka_unit_test_setup_teardown(tx_frames_waiting_and_no_progress_is_a_stall, setup_tx,
						teardown),
		cmocka_unit_test_setup_teardown(notifications_follow_the_device_area, setup_tx,
						teardown),
		cmocka_unit_test_setup_teardown(interrupts_flag_and_pending, setup_rx, teardown),
		cmocka_unit_test_setup_teardown(ctrl_commands_are_three_descriptor_lists, setup_ctrl,
						teardown_ctrl),
		cmocka_unit_test_setup_teardown(ctrl_impossible_answers_are_not_believed, setup_ctrl,
						teardown_ctrl),
		cmocka_unit_test_setup_teardown(ctrl_device_that_never_acks_times_out, setup_ctrl,
						teardown_ctrl),
		cmocka_unit_test_setup_teardown(ctrl_rejects_oversized_commands, setup_ctrl,
						teardown_ctrl),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
