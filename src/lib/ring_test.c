/* The Intel ring engine against a device that lies in its write-backs,
 * for each family's descriptor format: lengths past the buffer, frames
 * spread over descriptors, error bits, descriptors completed out of order.
 * Each lie costs one dropped packet and a counter; every buffer stays
 * accounted for; ASan proves nothing is touched outside ring or buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctx.h"
#include "intel.h"
#include "mempool.h"
#include "ring.h"

#define RING 32
#define POOL 128

struct bench {
	const struct sn_intel_family *family;
	struct sn_ctx *ctx;
	struct sn_mempool *pool;
	union sn_desc *desc;
	uint32_t tail;
	struct sn_ring ring;
};

static int setup(void **state)
{
	struct bench *b = calloc(1, sizeof(*b));
	if (!b)
		return -1;
	b->family = *state;
	b->ctx = sn_ctx_create(NULL, NULL);
	b->pool = sn_mempool_create(b->ctx, POOL, 0, 0, NULL);
	b->desc = aligned_alloc(128, RING * sizeof(union sn_desc));
	if (b->desc)
		memset(b->desc, 0, RING * sizeof(union sn_desc));
	if (!b->pool || !b->desc ||
	    sn_ring_init(&b->ring, b->ctx, b->family->format, b->desc, RING, &b->tail) != 0) {
		sn_ctx_destroy(b->ctx);
		free(b->desc);
		free(b);
		return -1;
	}
	b->ring.pool = b->pool;
	b->ring.rx_room = sn_mempool_data_room(b->pool);
	*state = b;
	return 0;
}

static int teardown(void **state)
{
	struct bench *b = *state;
	sn_ring_drain(&b->ring);
	sn_ring_fini(&b->ring);
	sn_ctx_destroy(b->ctx);
	free(b->desc);
	free(b);
	return 0;
}

/* The device side of a receive: write back slot i. */
static void rx_writeback(struct bench *b, unsigned slot, uint32_t status, uint16_t len)
{
	b->desc[slot].rx_wb.length = len;
	b->desc[slot].rx_wb.status = status;
}

static void all_buffers_accounted(struct bench *b)
{
	assert_int_equal(sn_mempool_free_count(b->pool) + b->ring.in_flight, POOL);
}

static void rx_refill_posts_buffers_and_rings_once(void **state)
{
	struct bench *b = *state;
	struct sn_pkt *pkts[4];
	sn_ring_rx_refill(&b->ring);
	assert_int_equal(b->ring.in_flight, RING - 1);
	assert_int_equal(b->tail, RING - 1);
	assert_int_not_equal(b->desc[0].read.addr, 0);
	assert_int_equal(b->desc[0].read.cmd, 0);
	/* Nothing written back: nothing received, no error. */
	assert_int_equal(sn_ring_rx_burst(&b->ring, pkts, 4), 0);
	assert_int_equal(b->ring.stats.device_errors, 0);
	all_buffers_accounted(b);
}

static void rx_good_frames(void **state)
{
	struct bench *b = *state;
	struct sn_pkt *pkts[4];
	sn_ring_rx_refill(&b->ring);
	uint64_t iova0 = b->desc[0].read.addr;
	rx_writeback(b, 0, SN_DESC_DD | SN_DESC_EOP, 60);
	rx_writeback(b, 1, SN_DESC_DD | SN_DESC_EOP, 1514);
	assert_int_equal(sn_ring_rx_burst(&b->ring, pkts, 4), 2);
	assert_int_equal(pkts[0]->len, 60);
	assert_int_equal(pkts[0]->iova, iova0);
	assert_int_equal(pkts[1]->len, 1514);
	assert_int_equal(b->ring.stats.packets, 2);
	assert_int_equal(b->ring.stats.bytes, 1574);
	sn_pkt_free_bulk(pkts, 2);
	all_buffers_accounted(b);
}

static void rx_hostile_lengths(void **state)
{
	struct bench *b = *state;
	struct sn_pkt *pkts[8];
	uint16_t room = (uint16_t)sn_mempool_data_room(b->pool);
	sn_ring_rx_refill(&b->ring);
	rx_writeback(b, 0, SN_DESC_DD | SN_DESC_EOP, (uint16_t)(room + 1));
	rx_writeback(b, 1, SN_DESC_DD | SN_DESC_EOP, 0xffff);
	rx_writeback(b, 2, SN_DESC_DD | SN_DESC_EOP, 0);
	rx_writeback(b, 3, SN_DESC_DD | SN_DESC_EOP, room); /* exactly full: fine */
	assert_int_equal(sn_ring_rx_burst(&b->ring, pkts, 8), 1);
	assert_int_equal(pkts[0]->len, room);
	assert_int_equal(b->ring.stats.device_errors, 3);
	sn_pkt_free_bulk(pkts, 1);
	all_buffers_accounted(b);
}

static void rx_frame_over_several_descriptors_is_dropped(void **state)
{
	struct bench *b = *state;
	struct sn_pkt *pkts[8];
	sn_ring_rx_refill(&b->ring);
	rx_writeback(b, 0, SN_DESC_DD, 1000);               /* no EOP */
	rx_writeback(b, 1, SN_DESC_DD, 1000);               /* no EOP */
	rx_writeback(b, 2, SN_DESC_DD | SN_DESC_EOP, 500);  /* the end of it */
	rx_writeback(b, 3, SN_DESC_DD | SN_DESC_EOP, 64);   /* a good frame */
	assert_int_equal(sn_ring_rx_burst(&b->ring, pkts, 8), 1);
	assert_int_equal(pkts[0]->len, 64);
	assert_int_equal(b->ring.stats.errors, 3);
	sn_pkt_free_bulk(pkts, 1);
	all_buffers_accounted(b);
}

static void rx_error_bits_drop_the_frame(void **state)
{
	struct bench *b = *state;
	struct sn_pkt *pkts[8];
	uint32_t mask = b->family->format->rx_error_mask;
	uint32_t lowest = mask & -mask;
	sn_ring_rx_refill(&b->ring);
	rx_writeback(b, 0, SN_DESC_DD | SN_DESC_EOP | lowest, 60);
	rx_writeback(b, 1, SN_DESC_DD | SN_DESC_EOP, 60);
	assert_int_equal(sn_ring_rx_burst(&b->ring, pkts, 8), 1);
	assert_int_equal(b->ring.stats.errors, 1);
	assert_int_equal(b->ring.stats.device_errors, 0); /* a wire error, not a lie */
	sn_pkt_free_bulk(pkts, 1);
	all_buffers_accounted(b);
}

static void rx_out_of_order_completion(void **state)
{
	struct bench *b = *state;
	struct sn_pkt *pkts[8];
	sn_ring_rx_refill(&b->ring);
	rx_writeback(b, 1, SN_DESC_DD | SN_DESC_EOP, 60);   /* slot 0 skipped */
	assert_int_equal(sn_ring_rx_burst(&b->ring, pkts, 8), 1);
	assert_int_equal(b->ring.stats.device_errors, 1);
	assert_int_equal(b->ring.next_clean, 2);
	sn_pkt_free_bulk(pkts, 1);
	all_buffers_accounted(b);
}

static void rx_keeps_running_when_the_pool_is_dry(void **state)
{
	struct bench *b = *state;
	struct sn_pkt *held[POOL], *pkts[RING];
	sn_ring_rx_refill(&b->ring);
	uint32_t n = sn_pkt_alloc_bulk(b->pool, held, POOL);
	for (unsigned i = 0; i < RING - 1; i++)
		rx_writeback(b, i, SN_DESC_DD | SN_DESC_EOP, 60);
	assert_int_equal(sn_ring_rx_burst(&b->ring, pkts, RING), RING - 1);
	assert_int_equal(b->ring.in_flight, 0); /* nothing to refill with */
	sn_pkt_free_bulk(held, n);
	sn_pkt_free_bulk(pkts, RING - 1);
	sn_ring_rx_refill(&b->ring);
	assert_int_equal(b->ring.in_flight, RING - 1);
	all_buffers_accounted(b);
}

static uint64_t tx_word(const struct sn_ring_format *fmt, uint64_t len)
{
	return fmt->tx_cmd | len | (fmt->tx_paylen ? len << 46 : 0);
}

static void tx_encodes_and_reclaims(void **state)
{
	struct bench *b = *state;
	const struct sn_ring_format *fmt = b->family->format;
	struct sn_pkt *pkts[8];
	assert_int_equal(sn_pkt_alloc_bulk(b->pool, pkts, 8), 8);
	for (int i = 0; i < 8; i++)
		pkts[i]->len = (uint16_t)(60 + i);
	/* Two bursts, one doorbell each; only a burst's last asks for RS. */
	assert_int_equal(sn_ring_tx_burst(&b->ring, pkts, 5), 5);
	assert_int_equal(b->tail, 5);
	assert_int_equal(sn_ring_tx_burst(&b->ring, pkts + 5, 3), 3);
	assert_int_equal(b->tail, 8);
	assert_int_equal(b->desc[3].read.cmd, tx_word(fmt, 63));
	assert_int_equal(b->desc[3].read.addr, pkts[3]->iova);
	assert_int_equal(b->desc[4].read.cmd, tx_word(fmt, 64) | SN_TXD_CMD_RS);
	assert_int_equal(b->desc[7].read.cmd, tx_word(fmt, 67) | SN_TXD_CMD_RS);
	/* The device sends the first burst: DD on its RS descriptor only. */
	b->desc[4].tx_wb.status = SN_DESC_DD;
	assert_int_equal(sn_ring_tx_burst(&b->ring, pkts, 0), 0);
	assert_int_equal(sn_mempool_free_count(b->pool), POOL - 3);
	assert_int_equal(b->ring.in_flight, 3);
	assert_int_equal(b->ring.stats.device_errors, 0);
	b->desc[7].tx_wb.status = SN_DESC_DD;
	assert_int_equal(sn_ring_tx_burst(&b->ring, pkts, 0), 0);
	assert_int_equal(b->ring.in_flight, 0);
	all_buffers_accounted(b);
}

static void tx_full_ring_and_bad_frames(void **state)
{
	struct bench *b = *state;
	struct sn_pkt *pkts[RING + 8];
	assert_int_equal(sn_pkt_alloc_bulk(b->pool, pkts, RING + 8), RING + 8);
	for (int i = 0; i < RING + 8; i++)
		pkts[i]->len = 60;
	assert_int_equal(sn_ring_tx_burst(&b->ring, pkts, RING + 8), RING - 1);
	assert_int_equal(sn_ring_tx_burst(&b->ring, pkts + RING - 1, 9), 0);
	/* Once space frees, a frame longer than its buffer is refused. */
	b->desc[RING - 2].tx_wb.status = SN_DESC_DD;
	pkts[RING - 1]->len = 60000;
	assert_int_equal(sn_ring_tx_burst(&b->ring, pkts + RING - 1, 1), 0);
	assert_int_equal(b->ring.stats.errors, 1);
	assert_int_equal(b->ring.in_flight, 0);
	/* A burst cut short by a bad frame still ends in RS. */
	pkts[RING + 1]->len = 60000;
	assert_int_equal(sn_ring_tx_burst(&b->ring, pkts + RING, 3), 1);
	assert_int_equal(b->ring.stats.errors, 2);
	assert_true(b->desc[RING - 1].read.cmd & SN_TXD_CMD_RS);
	b->desc[RING - 1].tx_wb.status = SN_DESC_DD;
	assert_int_equal(sn_ring_tx_burst(&b->ring, pkts, 0), 0);
	assert_int_equal(b->ring.in_flight, 0);
	sn_pkt_free_bulk(pkts + RING - 1, 1);
	sn_pkt_free_bulk(pkts + RING + 1, 7);
	all_buffers_accounted(b);
}

static void tx_completion_out_of_order_and_stall(void **state)
{
	struct bench *b = *state;
	struct sn_pkt *pkts[6];
	assert_int_equal(sn_pkt_alloc_bulk(b->pool, pkts, 6), 6);
	for (int i = 0; i < 6; i++)
		pkts[i]->len = 60;
	/* Bursts: 0-1, 2-3, 4-5. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(sn_ring_tx_burst(&b->ring, pkts + 2 * i, 2), 2);
	assert_false(sn_ring_stalled(&b->ring));  /* first look */
	assert_true(sn_ring_stalled(&b->ring));   /* no progress since */
	/* DD without RS, or beyond what we handed over, means nothing. */
	b->desc[0].tx_wb.status = SN_DESC_DD;
	b->desc[9].tx_wb.status = SN_DESC_DD;
	assert_int_equal(sn_ring_tx_burst(&b->ring, pkts, 0), 0);
	assert_int_equal(b->ring.in_flight, 6);
	assert_int_equal(b->ring.stats.device_errors, 0);
	/* The second burst done, the first not: the device skipped it. */
	b->desc[3].tx_wb.status = SN_DESC_DD;
	assert_int_equal(sn_ring_tx_burst(&b->ring, pkts, 0), 0);
	assert_int_equal(b->ring.stats.device_errors, 1);
	assert_int_equal(b->ring.in_flight, 2);
	assert_false(sn_ring_stalled(&b->ring));
	assert_true(sn_ring_stalled(&b->ring));
	all_buffers_accounted(b);
}

#define FOR_FAMILY(test, family) \
	cmocka_unit_test_prestate_setup_teardown(test, setup, teardown, (void *)&family)
#define ALL_TESTS(family)                                                   \
	FOR_FAMILY(rx_refill_posts_buffers_and_rings_once, family),         \
	FOR_FAMILY(rx_good_frames, family),                                 \
	FOR_FAMILY(rx_hostile_lengths, family),                             \
	FOR_FAMILY(rx_frame_over_several_descriptors_is_dropped, family),   \
	FOR_FAMILY(rx_error_bits_drop_the_frame, family),                   \
	FOR_FAMILY(rx_out_of_order_completion, family),                     \
	FOR_FAMILY(rx_keeps_running_when_the_pool_is_dry, family),          \
	FOR_FAMILY(tx_encodes_and_reclaims, family),                        \
	FOR_FAMILY(tx_full_ring_and_bad_frames, family),                    \
	FOR_FAMILY(tx_completion_out_of_order_and_stall, family)

int main(void)
{
	const struct CMUnitTest igb[] = { ALL_TESTS(sn_igb_family) };
	const struct CMUnitTest e1000e[] = { ALL_TESTS(sn_e1000e_family) };
	const struct CMUnitTest ixgbe[] = { ALL_TESTS(sn_ixgbe_family) };
	int failed = cmocka_run_group_tests_name("igb", igb, NULL, NULL);
	failed += cmocka_run_group_tests_name("e1000e", e1000e, NULL, NULL);
	failed += cmocka_run_group_tests_name("ixgbe", ixgbe, NULL, NULL);
	return failed;
}
