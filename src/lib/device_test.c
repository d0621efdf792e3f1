/* What a caller can do through the public API, on devices driven by the
 * 82599 model (ixgbe_model.c): close devices and destroy pools in any
 * order, send buffers from the wrong place, ask for queues that do not
 * exist, give a pool too small for the NIC, and read the counters of a
 * device that went away. Under ASan a use after free fails the test; the
 * model fails it when the device is sent to memory that is not mapped. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "ctx.h"
#include "device.h"
#include "ixgbe_model.h"
#include "mempool.h"

struct bench {
	struct sn_ctx *ctx;
	struct model a, b;
};

static int setup(void **state)
{
	struct bench *t = calloc(1, sizeof(*t));
	if (!t)
		return -1;
	t->ctx = sn_ctx_create(NULL, NULL);
	if (!t->ctx || sn_ctx_emulate_iommu(t->ctx, (1ull << 39) - 1) != 0 ||
	    model_init(&t->a, t->ctx) != 0 || model_init(&t->b, t->ctx) != 0) {
		sn_ctx_destroy(t->ctx);
		model_fini(&t->a);
		model_fini(&t->b);
		free(t);
		return -1;
	}
	model_start(&t->a);
	model_start(&t->b);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct bench *t = *state;
	model_stop(&t->a);
	model_stop(&t->b);
	sn_ctx_destroy(t->ctx);
	model_fini(&t->a);
	model_fini(&t->b);
	free(t);
	return 0;
}

static struct sn_dev *open_dev(struct model *m, struct sn_mempool *rx_pool)
{
	struct sn_error err = { 0 };
	struct sn_dev_config cfg = { .rx_ring_size = 64, .tx_ring_size = 64,
				     .rx_pool = rx_pool };
	struct sn_dev *dev = model_open(m, &cfg, &err);
	if (!dev)
		fail_msg("open: %s", err.msg);
	return dev;
}

static void sleep_ms(long ms)
{
	nanosleep(&(struct timespec){ 0, ms * 1000000L }, NULL);
}

static void fill_frames(struct sn_pkt **pkts, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		pkts[i]->len = 60;
		memset(pkts[i]->data, 0xab, 60);
	}
}

/* Frames sent on a come back on a (the model loops them), into a's own
 * pool; up to n of them land in pkts. */
static uint16_t loop_through(struct sn_dev *a, struct sn_mempool *pool,
			     struct sn_pkt **pkts, uint16_t n)
{
	uint32_t got = sn_pkt_alloc_bulk(pool, pkts, n);
	fill_frames(pkts, got);
	uint16_t sent = sn_tx_burst(a, 0, pkts, (uint16_t)got);
	sn_pkt_free_bulk(pkts + sent, got - sent);
	uint16_t received = 0;
	for (int spins = 0; received < sent && spins < 2000; spins++) {
		received = (uint16_t)(received + sn_rx_burst(a, 0, pkts + received,
							      (uint16_t)(n - received)));
		if (received < sent)
			sleep_ms(1);
	}
	return received;
}

/* The README's example: two devices, each receiving into its own pool,
 * forwarding to each other, closed in the order they were opened. */
static void devices_close_in_any_order_while_rings_hold_buffers(void **state)
{
	struct bench *t = *state;
	struct sn_mempool *src = sn_mempool_create(t->ctx, 64, 0, 0, NULL);
	struct sn_dev *a = open_dev(&t->a, NULL);
	struct sn_dev *b = open_dev(&t->b, NULL);
	struct sn_pkt *pkts[16];

	uint16_t got = loop_through(a, src, pkts, 16);
	assert_int_equal(got, 16);
	/* a's own buffers now sit in b's transmit ring, not yet sent: b's NIC
	 * is paused until a has closed. */
	model_stop(&t->b);
	assert_int_equal(sn_tx_burst(b, 0, pkts, got), got);
	sn_dev_close(a);
	/* b's descriptors still point at a's pool: it must still be mapped
	 * when b's NIC reads them, and b must free into a live pool. */
	model_start(&t->b);
	sleep_ms(20);
	struct sn_pkt *more[4];
	uint32_t n = sn_pkt_alloc_bulk(src, more, 4);
	fill_frames(more, n);
	assert_int_equal(sn_tx_burst(b, 0, more, (uint16_t)n), n);
	sleep_ms(20);
	sn_dev_close(b);
	assert_string_equal(t->a.violation, "");
	assert_string_equal(t->b.violation, "");
	assert_int_equal(sn_mempool_free_count(src), 64);
	/* Both own pools are gone now that every buffer came home. */
	unsigned pools = 0;
	for (struct sn_mempool *p = t->ctx->pools; p; p = p->next)
		pools++;
	assert_int_equal(pools, 1);
	sn_mempool_destroy(src);
	assert_null(t->ctx->pools);
}

/* The application destroys the pool a device receives into, and keeps
 * some of its buffers: the device goes on receiving, the buffers stay
 * valid, and the pool goes when both are done with it. */
static void a_destroyed_pool_lives_while_used(void **state)
{
	struct bench *t = *state;
	struct sn_mempool *src = sn_mempool_create(t->ctx, 64, 0, 0, NULL);
	struct sn_mempool *rx = sn_mempool_create(t->ctx, 256, 0, 0, NULL);
	struct sn_dev *a = open_dev(&t->a, rx);
	struct sn_pkt *held[8], *pkts[8];

	assert_int_equal(loop_through(a, src, held, 8), 8);
	sn_mempool_destroy(rx);
	assert_int_equal(loop_through(a, src, pkts, 8), 8);
	sn_pkt_free_bulk(pkts, 8);
	memset(held[0]->data, 0, held[0]->len); /* still the application's */
	sn_dev_close(a);
	assert_non_null(t->ctx->pools->next); /* rx still there: 8 buffers out */
	sn_pkt_free_bulk(held, 8);
	assert_ptr_equal(t->ctx->pools, src);
	assert_null(src->next);
	assert_string_equal(t->a.violation, "");
}

/* A buffer from another context's pool, or one whose address the caller
 * changed, would send the device to memory it has not been given. */
static void transmit_takes_only_its_contexts_own_buffers(void **state)
{
	struct bench *t = *state;
	struct sn_ctx *other = sn_ctx_create(NULL, NULL);
	assert_int_equal(sn_ctx_emulate_iommu(other, (1ull << 39) - 1), 0);
	struct sn_mempool *foreign = sn_mempool_create(other, 8, 0, 0, NULL);
	struct sn_mempool *own = sn_mempool_create(t->ctx, 8, 0, 0, NULL);
	struct sn_dev *a = open_dev(&t->a, NULL);
	struct sn_pkt *p;
	struct sn_stats s;

	assert_int_equal(sn_pkt_alloc_bulk(foreign, &p, 1), 1);
	fill_frames(&p, 1);
	assert_int_equal(sn_tx_burst(a, 0, &p, 1), 0);
	sn_pkt_free_bulk(&p, 1);

	assert_int_equal(sn_pkt_alloc_bulk(own, &p, 1), 1);
	fill_frames(&p, 1);
	p->iova += 4096; /* not where this buffer is */
	assert_int_equal(sn_tx_burst(a, 0, &p, 1), 0);
	p->iova -= 4096;
	p->headroom = 60000; /* headroom + len past the buffer */
	assert_int_equal(sn_tx_burst(a, 0, &p, 1), 0);
	p->headroom = SN_POOL_HEADROOM;
	assert_int_equal(sn_tx_burst(a, 0, &p, 1), 1);

	sn_dev_stats(a, &s);
	assert_int_equal(s.tx_errors, 3);
	assert_int_equal(s.tx_packets, 1);
	sn_dev_close(a);
	sn_ctx_destroy(other);
	assert_string_equal(t->a.violation, "");
}

static void bursts_on_queues_not_opened_do_nothing(void **state)
{
	struct bench *t = *state;
	struct sn_dev *a = open_dev(&t->a, NULL);
	struct sn_pkt *pkts[4];

	assert_int_equal(sn_rx_burst(a, 1, pkts, 4), 0);
	assert_int_equal(sn_rx_burst(a, SN_MAX_QUEUES, pkts, 4), 0);
	assert_int_equal(sn_rx_burst(a, 65535, pkts, 4), 0);
	assert_int_equal(sn_tx_burst(a, 3, pkts, 4), 0);
	assert_int_equal(sn_tx_burst(a, 65535, pkts, 4), 0);
	sn_dev_close(a);
}

/* 82599 SRRCTL.BSIZEPACKET counts KiB and may not be 0 (igb's alike). */
static void a_pool_too_small_for_the_nic_is_refused(void **state)
{
	struct bench *t = *state;
	struct sn_mempool *small = sn_mempool_create(t->ctx, 256, 1024, 0, NULL);
	/* An MTU the pool holds, so that the NIC's own minimum is what fails. */
	struct sn_dev_config cfg = { .rx_ring_size = 64, .rx_pool = small, .mtu = 500 };
	struct sn_error err = { 0 };

	assert_non_null(small);
	assert_null(model_open(&t->a, &cfg, &err));
	assert_int_equal(err.code, -EINVAL);
	assert_non_null(strstr(err.msg, "at least 1024 bytes of data room"));
	assert_string_equal(t->a.violation, "");
}

/* After a surprise removal every register reads all-ones; read-to-clear
 * counters must not add 0xffffffff per read. */
static void a_removed_devices_counters_freeze(void **state)
{
	struct bench *t = *state;
	struct sn_mempool *src = sn_mempool_create(t->ctx, 64, 0, 0, NULL);
	struct sn_dev *a = open_dev(&t->a, NULL);
	struct sn_pkt *pkts[16];
	struct sn_stats before, after;

	uint16_t got = loop_through(a, src, pkts, 16);
	sn_pkt_free_bulk(pkts, got);
	sn_dev_stats(a, &before);
	assert_int_equal(before.hw_tx_packets, 16);
	model_stop(&t->a);
	memset(t->a.bar, 0xff, BAR_SIZE);
	sn_dev_stats(a, &after);
	sn_dev_stats(a, &after);
	assert_int_equal(sn_dev_check(a), SN_DEV_GONE);
	assert_int_equal(after.hw_rx_packets, before.hw_rx_packets);
	assert_int_equal(after.hw_tx_packets, before.hw_tx_packets);
	assert_int_equal(after.hw_rx_bytes, before.hw_rx_bytes);
	assert_int_equal(after.hw_tx_bytes, before.hw_tx_bytes);
	assert_int_equal(after.rx_drops, before.rx_drops);
	sn_dev_close(a);
}

/* A hot-unplug reaches a VFIO user as the kernel's request to release
 * the device, on an eventfd, while the device still answers: the health
 * check must call it gone at once, so that the caller closes it and the
 * removal (which waits for that) can finish. The model has no VFIO; the
 * eventfd stands in for the one sn_vfio_open_device registers. */
static void a_release_request_makes_the_device_gone(void **state)
{
	struct bench *t = *state;
	struct sn_dev *a = open_dev(&t->a, NULL);
	struct sn_device *d = sn_device_of(a);
	uint64_t one = 1;
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	assert_true(efd >= 0);
	d->pci.request_fd = efd;
	assert_int_equal(sn_dev_check(a), SN_DEV_OK);
	assert_false(sn_dev_removal_requested(a));
	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
	/* The cheap poll sees it at once, and the check agrees. */
	assert_true(sn_dev_removal_requested(a));
	assert_true(sn_dev_removal_requested(a));
	assert_int_equal(sn_dev_check(a), SN_DEV_GONE);
	assert_int_equal(sn_dev_check(a), SN_DEV_GONE);   /* it stays gone */
	d->pci.request_fd = -1;
	close(efd);
	sn_dev_close(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(devices_close_in_any_order_while_rings_hold_buffers,
						setup, teardown),
		cmocka_unit_test_setup_teardown(a_destroyed_pool_lives_while_used, setup, teardown),
		cmocka_unit_test_setup_teardown(transmit_takes_only_its_contexts_own_buffers,
						setup, teardown),
		cmocka_unit_test_setup_teardown(bursts_on_queues_not_opened_do_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_pool_too_small_for_the_nic_is_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_removed_devices_counters_freeze, setup, teardown),
		cmocka_unit_test_setup_teardown(a_release_request_makes_the_device_gone, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
