/* ixgbe on the host, against the model of the 82599 in ixgbe_model.c
 * (QEMU has no ixgbe). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "ctx.h"
#include "device.h"
#include "intel.h"
#include "ixgbe_model.h"
#include "ring.h"

static int setup(void **state)
{
	struct model *m = calloc(1, sizeof(*m));
	struct sn_ctx *ctx = sn_ctx_create(NULL, NULL);
	if (!m || !ctx || sn_ctx_emulate_iommu(ctx, (1ull << 39) - 1) != 0 ||
	    model_init(m, ctx) != 0) {
		sn_ctx_destroy(ctx);
		free(m);
		return -1;
	}
	*state = m;
	return 0;
}

static void start_model(struct model *m)
{
	model_start(m);
}

static int teardown(void **state)
{
	struct model *m = *state;
	model_stop(m);
	sn_ctx_destroy(m->ctx);
	model_fini(m);
	free(m);
	return 0;
}

static struct sn_dev *open_model(struct model *m, struct sn_error *err)
{
	struct sn_dev_config cfg = { .rx_ring_size = 128, .tx_ring_size = 128 };
	return model_open(m, &cfg, err);
}

static void start_up_follows_the_datasheet(void **state)
{
	struct model *m = *state;
	struct sn_error err = { 0 };
	start_model(m);
	struct sn_dev *dev = open_model(m, &err);
	assert_non_null(dev);
	assert_string_equal(m->violation, "");
	uint8_t mac[6];
	sn_dev_mac(dev, mac);
	assert_memory_equal(mac, ((uint8_t[]){ 0x0a, 0x12, 0x34, 0x56, 0x78, 0x9a }), 6);
	struct sn_link link;
	sn_dev_link(dev, &link);
	assert_true(link.up);
	assert_int_equal(link.speed_mbps, 10000);
	assert_int_equal(R(EIMC), 0x7fffffff);             /* interrupts masked */
	assert_int_equal(R(FCTRL) & 0x700, 0x700);         /* BAM, MPE, UPE */
	assert_int_equal(R(HLREG0) & 0x403, 0x403);        /* CRC strip, CRC insert, pad */
	assert_true(R(RDRXCTL) & 2);                       /* CRC strip, matching HLREG0 */
	assert_int_equal(R(SRRCTL) & 0x1f, 2);             /* 2 KiB buffers */
	assert_int_equal((R(SRRCTL) >> 25) & 7, 1);        /* advanced, one buffer */
	assert_int_equal(R(RDLEN), 128 * 16);
	assert_int_equal(R(TDLEN), 128 * 16);
	assert_int_equal(R(RDT), 127);                     /* all but one posted */
	assert_true(R(RXCTRL) & 1);
	assert_true(R(TXDCTL) & ENABLE);
	assert_true(R(DMATXCTL) & 1);
	sn_dev_close(dev);
	/* Closing stops receive and transmit DMA. */
	assert_false(R(RXCTRL) & 1);
	assert_false(R(TXDCTL) & ENABLE);
	assert_false(R(DMATXCTL) & 1);
}

static void make_frame(uint8_t *p, uint16_t len, uint32_t seq)
{
	memset(p, 0, len);
	memset(p, 0xff, 6);
	memcpy(p + 12, "\x08\x00", 2);
	memcpy(p + 14, &seq, 4);
	for (uint16_t i = 18; i < len; i++)
		p[i] = (uint8_t)(seq + i);
}

static void loopback_moves_every_frame_intact(void **state)
{
	struct model *m = *state;
	struct sn_error err = { 0 };
	start_model(m);
	struct sn_dev *dev = open_model(m, &err);
	assert_non_null(dev);
	struct sn_mempool *pool = sn_mempool_create(m->ctx, 256, 0, 0, &err);
	assert_non_null(pool);
	const uint32_t total = 3000;
	uint32_t sent = 0, received = 0;
	for (int spins = 0; received < total && spins < 2000000; spins++) {
		struct sn_pkt *pkts[32];
		uint32_t want = total - sent < 32 ? total - sent : 32;
		if (sent - received >= 64)
			want = 0; /* pace: the looped-back receive ring must not overflow */
		uint32_t n = sn_pkt_alloc_bulk(pool, pkts, want);
		for (uint32_t i = 0; i < n; i++) {
			pkts[i]->len = (uint16_t)(60 + (sent + i) % 1455);
			make_frame(pkts[i]->data, pkts[i]->len, sent + i);
		}
		uint16_t took = sn_tx_burst(dev, 0, pkts, (uint16_t)n);
		sn_pkt_free_bulk(pkts + took, n - took);
		sent += took;
		uint16_t got = sn_rx_burst(dev, 0, pkts, 32);
		for (uint16_t i = 0; i < got; i++) {
			uint8_t expect[1514];
			make_frame(expect, pkts[i]->len, received);
			assert_int_equal(pkts[i]->len, 60 + received % 1455);
			assert_memory_equal(pkts[i]->data, expect, pkts[i]->len);
			received++;
		}
		sn_pkt_free_bulk(pkts, got);
	}
	assert_int_equal(received, total);
	assert_string_equal(m->violation, "");
	struct sn_stats s;
	sn_dev_stats(dev, &s);
	assert_int_equal(s.tx_packets, total);
	assert_int_equal(s.rx_packets, total);
	assert_int_equal(s.device_errors, 0);
	/* The NIC's own counters agree with ours. */
	assert_true(s.has_hw_counters);
	assert_int_equal(s.hw_tx_packets, total);
	assert_int_equal(s.hw_rx_packets, total);
	assert_int_equal(s.hw_rx_bytes, s.rx_bytes);
	assert_int_equal(s.hw_tx_bytes, s.tx_bytes);
	sn_dev_close(dev);
}

static uint32_t s_dropped(struct sn_dev *dev)
{
	struct sn_stats s;
	sn_dev_stats(dev, &s);
	return (uint32_t)s.device_errors;
}

static void lying_lengths_cost_a_packet_each(void **state)
{
	struct model *m = *state;
	struct sn_error err = { 0 };
	m->lie_every = 10;
	start_model(m);
	struct sn_dev *dev = open_model(m, &err);
	assert_non_null(dev);
	struct sn_mempool *pool = sn_mempool_create(m->ctx, 256, 0, 0, &err);
	uint32_t sent = 0, received = 0;
	for (int spins = 0; received + s_dropped(dev) < 1000 && spins < 1000000; spins++) {
		struct sn_pkt *pkts[32];
		uint32_t room = sent < 1000 && sent - received - s_dropped(dev) < 64 ? 32 : 0;
		if (room > 1000 - sent)
			room = 1000 - sent;
		uint32_t n = sn_pkt_alloc_bulk(pool, pkts, room);
		for (uint32_t i = 0; i < n; i++) {
			pkts[i]->len = 60;
			make_frame(pkts[i]->data, 60, sent + i);
		}
		uint16_t took = sn_tx_burst(dev, 0, pkts, (uint16_t)n);
		sn_pkt_free_bulk(pkts + took, n - took);
		sent += took;
		uint16_t got = sn_rx_burst(dev, 0, pkts, 32);
		received += got;
		sn_pkt_free_bulk(pkts, got);
	}
	struct sn_stats s;
	sn_dev_stats(dev, &s);
	assert_int_equal(received, 900);
	assert_int_equal(s.device_errors, 100);
	sn_dev_close(dev);
}

/* Sends n frames through the loopback, 16 at a time, and waits a while
 * after each batch for them to come back; returns how many did. */
static uint32_t pump(struct sn_dev *dev, struct sn_mempool *pool, uint32_t n)
{
	uint32_t received = 0;
	for (uint32_t sent = 0; sent < n;) {
		struct sn_pkt *pkts[16];
		uint32_t want = n - sent < 16 ? n - sent : 16;
		uint32_t got_now = 0, m = sn_pkt_alloc_bulk(pool, pkts, want);
		for (uint32_t i = 0; i < m; i++) {
			pkts[i]->len = 60;
			make_frame(pkts[i]->data, 60, sent + i);
		}
		uint16_t took = sn_tx_burst(dev, 0, pkts, (uint16_t)m);
		sn_pkt_free_bulk(pkts + took, m - took);
		sent += want;
		for (int spins = 0; got_now < took && spins < 20000; spins++) {
			uint16_t got = sn_rx_burst(dev, 0, pkts, 16);
			got_now += got;
			sn_pkt_free_bulk(pkts, got);
			if (!got)
				nanosleep(&(struct timespec){ 0, 10000 }, NULL);
		}
		received += got_now;
	}
	return received;
}

static void sleep_ms(long ms)
{
	nanosleep(&(struct timespec){ 0, ms * 1000000L }, NULL);
}

/* A fake "done" write-back on the descriptor at the NIC's head puts the
 * driver one descriptor ahead; the next full refill writes RDT == RDH and
 * the NIC sees an empty ring for good. The once-a-second check must find
 * the receive ring out of step with RDH, reset and re-arm the queue, and
 * traffic must flow again with every buffer accounted for. */
static void a_fake_done_at_the_head_is_found_and_the_queue_rearmed(void **state)
{
	struct model *m = *state;
	struct sn_error err = { 0 };
	start_model(m);
	struct sn_mempool *rx_pool = sn_mempool_create(m->ctx, 512, 0, 0, &err);
	struct sn_mempool *pool = sn_mempool_create(m->ctx, 256, 0, 0, &err);
	assert_non_null(rx_pool);
	assert_non_null(pool);
	struct sn_dev_config cfg = { .rx_ring_size = 128, .tx_ring_size = 128,
				     .rx_pool = rx_pool };
	struct sn_dev *dev = model_open(m, &cfg, &err);
	assert_non_null(dev);
	struct sn_ring *rx = dev->rxq[0];
	assert_int_equal(pump(dev, pool, 300), 300);
	assert_int_equal(sn_dev_check(dev), SN_DEV_OK);

	/* One frame short of the refill batch, so that taking the fake frame
	 * refills the ring up to the NIC's head. */
	for (int i = 0; i < 200 && rx->in_flight != 127 - 31; i++)
		assert_int_equal(pump(dev, pool, 1), 1);
	assert_int_equal(rx->in_flight, 127 - 31);
	atomic_store(&m->fake_done_at_head, true);
	while (atomic_load(&m->fake_done_at_head))
		sleep_ms(1);
	struct sn_pkt *fake[4];
	assert_int_equal(sn_rx_burst(dev, 0, fake, 4), 1);
	sn_pkt_free_bulk(fake, 1);
	assert_int_equal(R(RDT), R(RDH));           /* the NIC sees an empty ring */
	assert_int_equal(pump(dev, pool, 64), 0);   /* stuck: nothing comes back */

	assert_int_equal(sn_dev_check(dev), SN_DEV_OK); /* first look */
	assert_string_equal(sn_dev_check_message(dev), "");
	assert_int_equal(sn_dev_check(dev), SN_DEV_RECOVERED);
	const char *msg = sn_dev_check_message(dev);
	assert_non_null(strstr(msg, "receive queue 0 was out of step with the device"));
	assert_non_null(strstr(msg, "reset and re-armed"));
	struct sn_stats st;
	sn_dev_stats(dev, &st);
	assert_int_equal(st.queue_resets, 1);
	assert_int_equal(R(RDT), 127);               /* re-posted from 0 */
	assert_int_equal(pump(dev, pool, 64), 64);   /* flowing again */
	assert_int_equal(sn_dev_check(dev), SN_DEV_OK);
	assert_string_equal(sn_dev_check_message(dev), "");
	assert_string_equal(m->violation, "");
	/* Every receive buffer is in the ring or home, none owned twice. */
	assert_int_equal(sn_mempool_free_count(rx_pool) + rx->in_flight, 512);
	assert_int_equal(sn_mempool_bad_frees(rx_pool), 0);
	sn_dev_close(dev);
	assert_int_equal(sn_mempool_free_count(rx_pool), 512);
}

/* The same lie found by the check of one queue pair, as a worker thread
 * runs it: the other pair's check sees nothing, the device-wide report is
 * not touched, and the pair's counters add up to the device's. */
static void a_queue_check_finds_its_own_queue_only(void **state)
{
	struct model *m = *state;
	struct sn_error err = { 0 };
	start_model(m);
	struct sn_mempool *rx_pool = sn_mempool_create(m->ctx, 512, 0, 0, &err);
	struct sn_mempool *pool = sn_mempool_create(m->ctx, 256, 0, 0, &err);
	assert_non_null(rx_pool);
	assert_non_null(pool);
	struct sn_dev_config cfg = { .rx_ring_size = 128, .tx_ring_size = 128,
				     .rx_pool = rx_pool, .tx_queues = 2 };
	struct sn_dev *dev = model_open(m, &cfg, &err);
	assert_non_null(dev);
	assert_int_equal(sn_dev_rx_queues(dev), 1);
	assert_int_equal(sn_dev_tx_queues(dev), 2);
	struct sn_ring *rx = dev->rxq[0];
	assert_int_equal(pump(dev, pool, 300), 300);
	for (int i = 0; i < 200 && rx->in_flight != 127 - 31; i++)
		assert_int_equal(pump(dev, pool, 1), 1);
	atomic_store(&m->fake_done_at_head, true);
	while (atomic_load(&m->fake_done_at_head))
		sleep_ms(1);
	struct sn_pkt *fake[4];
	assert_int_equal(sn_rx_burst(dev, 0, fake, 4), 1);
	sn_pkt_free_bulk(fake, 1);
	assert_int_equal(R(RDT), R(RDH));           /* stuck, as in the test above */

	for (int look = 0; look < 3; look++) {
		assert_int_equal(sn_dev_check_queue(dev, 1), SN_DEV_OK);
		assert_string_equal(sn_dev_check_queue_message(dev, 1), "");
	}
	assert_int_equal(sn_dev_check_queue(dev, 0), SN_DEV_OK); /* first look */
	assert_int_equal(sn_dev_check_queue(dev, 0), SN_DEV_RECOVERED);
	assert_non_null(strstr(sn_dev_check_queue_message(dev, 0),
			       "receive queue 0 was out of step with the device"));
	assert_string_equal(sn_dev_check_message(dev), "");
	assert_int_equal(pump(dev, pool, 64), 64);   /* flowing again */
	assert_int_equal(sn_dev_check_queue(dev, 0), SN_DEV_OK);
	assert_string_equal(sn_dev_check_queue_message(dev, 0), "");
	/* A queue the device does not have: nothing to check or count. */
	assert_int_equal(sn_dev_check_queue(dev, 2), SN_DEV_OK);
	assert_string_equal(sn_dev_check_queue_message(dev, 2), "");
	struct sn_queue_stats q[3];
	assert_int_equal(sn_dev_queue_stats(dev, 2, &q[2]), -EINVAL);
	assert_int_equal(sn_dev_queue_stats(dev, 0, &q[0]), 0);
	assert_int_equal(sn_dev_queue_stats(dev, 1, &q[1]), 0);
	struct sn_stats st;
	sn_dev_stats(dev, &st);
	assert_int_equal(q[0].rx_packets + q[1].rx_packets, st.rx_packets);
	assert_int_equal(q[0].rx_bytes + q[1].rx_bytes, st.rx_bytes);
	assert_int_equal(q[0].tx_packets + q[1].tx_packets, st.tx_packets);
	assert_int_equal(q[0].tx_bytes + q[1].tx_bytes, st.tx_bytes);
	assert_int_equal(q[0].rx_errors + q[1].rx_errors, st.rx_errors);
	assert_int_equal(q[0].device_errors + q[1].device_errors, st.device_errors);
	assert_int_equal(q[0].rx_starved + q[1].rx_starved, st.rx_starved);
	assert_int_equal(q[1].rx_packets, 0);         /* no receive queue 1 */
	assert_true(q[0].rx_packets >= 300 + 64);
	assert_string_equal(m->violation, "");
	sn_dev_close(dev);
}

/* The 82599 has more queues than safenic uses: the library's own limit,
 * named with the device. */
static void too_many_queues_are_refused_naming_the_limit(void **state)
{
	struct model *m = *state;
	struct sn_error err = { 0 };
	start_model(m);
	struct sn_dev_config cfg = { .rx_queues = SN_MAX_QUEUES + 1 };
	assert_null(model_open(m, &cfg, &err));
	assert_int_equal(err.code, -EINVAL);
	assert_string_equal(err.msg, "model (ixgbe) can be given at most 8 receive queues; "
			    "ask for 1 to 8");
	cfg = (struct sn_dev_config){ .tx_queues = 200 };
	assert_null(model_open(m, &cfg, &err));
	assert_int_equal(err.code, -EINVAL);
	assert_non_null(strstr(err.msg, "at most 8 transmit queues"));
	assert_string_equal(m->violation, "");
}

static void a_reset_that_never_finishes_is_reported(void **state)
{
	struct model *m = *state;
	struct sn_error err = { 0 };
	m->reset_hangs = true;
	start_model(m);
	assert_null(open_model(m, &err));
	assert_non_null(strstr(err.msg, "reset did not complete"));
}

/* Waits up to a second for a register of the model to read want. */
static bool reg_becomes(struct model *m, uint32_t off, uint32_t mask, uint32_t want)
{
	for (int i = 0; i < 1000; i++) {
		if ((R(off) & mask) == want)
			return true;
		sleep_ms(1);
	}
	return false;
}

/* Sends one frame, which the model loops back into receive queue 0, and
 * waits until the model has written it into the ring. */
static void loop_one_frame(struct model *m, struct sn_dev *dev, struct sn_mempool *pool)
{
	uint32_t head = RQ(RDH, 0);
	struct sn_pkt *p;
	assert_int_equal(sn_pkt_alloc_bulk(pool, &p, 1), 1);
	p->len = 60;
	make_frame(p->data, 60, 1);
	assert_int_equal(sn_tx_burst(dev, 0, &p, 1), 1);
	assert_true(reg_becomes(m, RDH, ~0u, (head + 1) % 128));
}

static uint16_t drain(struct sn_dev *dev)
{
	struct sn_pkt *pkts[16];
	uint16_t n = sn_rx_burst(dev, 0, pkts, 16);
	sn_pkt_free_bulk(pkts, n);
	return n;
}

/* Receive interrupts against the model: a frame that arrives while the
 * queue is masked raises nothing and makes arm say "poll"; armed on an
 * empty ring, the next frame sends one message and the vector masks
 * itself, so a second frame sends none; sn_dev_link unmasks the other
 * causes again. */
static void an_armed_queue_gets_one_interrupt(void **state)
{
	struct model *m = *state;
	struct sn_error err = { 0 };
	start_model(m);
	struct sn_mempool *pool = sn_mempool_create(m->ctx, 64, 0, 0, &err);
	assert_non_null(pool);
	struct sn_dev_config cfg = { .rx_ring_size = 128, .tx_ring_size = 128,
				     .rx_interrupts = true };
	struct sn_dev *dev = model_open(m, &cfg, &err);
	if (!dev) {
		fail_msg("open: %s", err.msg);
		return;
	}
	assert_string_equal(m->violation, "");
	assert_true(sn_rx_intr_fd(dev, 0) >= 0);

	loop_one_frame(m, dev, pool);              /* masked: no message */
	assert_int_equal(atomic_load(&m->interrupts[0]), 0);
	assert_false(sn_rx_intr_arm(dev, 0));      /* a frame waits: poll */
	sn_rx_intr_disarm(dev, 0);
	assert_true(reg_becomes(m, EIMC, ~0u, 0));
	assert_int_equal(drain(dev), 1);

	assert_true(sn_rx_intr_arm(dev, 0));       /* empty: sleep */
	assert_int_equal(R(EIMS) & 1u, 1u);
	loop_one_frame(m, dev, pool);
	assert_int_equal(atomic_load(&m->interrupts[0]), 1);
	assert_int_equal(R(EIMS) & 1u, 0);         /* auto-masked */
	loop_one_frame(m, dev, pool);
	assert_int_equal(atomic_load(&m->interrupts[0]), 1);
	sn_rx_intr_disarm(dev, 0);
	assert_int_equal(drain(dev), 2);

	R(EIMS) = 0;
	struct sn_link link;
	assert_int_equal(sn_dev_link(dev, &link), 0);
	assert_true(link.up);
	assert_int_equal(R(EIMS), 1u << 31 | 1u << 20);
	assert_string_equal(m->violation, "");
	sn_dev_close(dev);
	sn_mempool_destroy(pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(start_up_follows_the_datasheet, setup, teardown),
		cmocka_unit_test_setup_teardown(an_armed_queue_gets_one_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(loopback_moves_every_frame_intact, setup, teardown),
		cmocka_unit_test_setup_teardown(lying_lengths_cost_a_packet_each, setup, teardown),
		cmocka_unit_test_setup_teardown(a_reset_that_never_finishes_is_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(a_fake_done_at_the_head_is_found_and_the_queue_rearmed,
						setup, teardown),
		cmocka_unit_test_setup_teardown(a_queue_check_finds_its_own_queue_only, setup,
						teardown),
		cmocka_unit_test_setup_teardown(too_many_queues_are_refused_naming_the_limit, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
