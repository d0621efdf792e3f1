/* Receive interrupts on the host: what the drivers program into igb's,
 * e1000e's and ixgbe's registers (register files in memory, fake_nic.c),
 * and the arm / re-check / disarm logic against rings that have frames
 * waiting or not. No interrupt fires here (there is no VFIO): the eventfds are
 * written by the test where a device would signal them. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <cmocka.h>

#include "ctx.h"
#include "device.h"
#include "fake_nic.h"
#include "intel.h"
#include "mempool.h"
#include "virtqueue.h"

#define RING 64
#define REG(bar, off) (*(volatile uint32_t *)((bar) + (off)))

struct bench {
	struct sn_ctx *ctx;
	struct fake_nic nic;
	struct fake_nic_endpoint end[2];
	struct fake_nic_side rx_side[2], tx_side[2];
};

static int setup(void **state)
{
	struct bench *t = calloc(1, sizeof(*t));
	if (!t)
		return -1;
	t->ctx = sn_ctx_create(NULL, NULL);
	if (!t->ctx || sn_ctx_emulate_iommu(t->ctx, (1ull << 39) - 1) != 0) {
		sn_ctx_destroy(t->ctx);
		free(t);
		return -1;
	}
	t->nic.ctx = t->ctx;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct bench *t = *state;
	sn_ctx_destroy(t->ctx);
	for (int i = 0; i < 2; i++)
		free(t->end[i].bar);
	free(t);
	return 0;
}

/* Opens a pair of the named Intel family; returns the first device, or
 * NULL with the library's error in err. */
static struct sn_dev *open_pair(struct bench *t, const char *driver, bool interrupts,
				uint16_t itr_usec, struct sn_error *err)
{
	struct sn_dev_config cfg = { .rx_ring_size = RING, .tx_ring_size = RING,
				     .rx_interrupts = interrupts, .itr_usec = itr_usec };
	struct fake_nic_endpoint *pair[2] = { &t->end[0], &t->end[1] };
	if (fake_nic_open_intel_pair_cfg(&t->nic, driver, &cfg, pair, t->rx_side, t->tx_side,
					 err) != 0)
		return NULL;
	return t->end[0].dev;
}

/* A device's write into an eventfd. */
static void signal_fd(int fd)
{
	uint64_t one = 1;
	assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
}

static bool fd_readable(int fd)
{
	uint64_t count;
	ssize_t n = read(fd, &count, sizeof(count));
	if (n < 0)
		assert_int_equal(errno, EAGAIN);
	return n == (ssize_t)sizeof(count);
}

/* The device receives into every posted buffer, once. */
static void deliver_frames(struct bench *t)
{
	t->nic.sides[0] = t->rx_side[0];
	t->nic.num_sides = 1;
	fake_nic_step(&t->nic);
}

static uint16_t drain_rx(struct sn_dev *dev)
{
	struct sn_pkt *pkts[RING];
	uint16_t n = sn_rx_burst(dev, 0, pkts, RING), total = n;
	while (n) {
		sn_pkt_free_bulk(pkts, n);
		n = sn_rx_burst(dev, 0, pkts, RING);
		total = (uint16_t)(total + n);
	}
	return total;
}

/* Every queue gets its own eventfd, the other causes one more; none
 * without rx_interrupts or for a queue not opened. */
static void check_fds(struct sn_dev *dev)
{
	int q0 = sn_rx_intr_fd(dev, 0), ev = sn_dev_event_fd(dev);
	assert_true(q0 >= 0);
	assert_true(ev >= 0);
	assert_int_not_equal(q0, ev);
	assert_int_equal(sn_rx_intr_fd(dev, 1), -1);
	assert_int_equal(sn_rx_intr_fd(dev, SN_MAX_QUEUES), -1);
	assert_false(fd_readable(q0));
}

/* The re-check that prevents a lost wake-up: armed only on an empty
 * ring; with frames waiting arm says so and the caller polls. */
static void check_arm_recheck(struct bench *t, struct sn_dev *dev)
{
	int fd = sn_rx_intr_fd(dev, 0);
	signal_fd(fd);                      /* a wake-up already spent by polling */
	assert_true(sn_rx_intr_arm(dev, 0));
	assert_false(fd_readable(fd));      /* arm drained it */
	sn_rx_intr_disarm(dev, 0);
	deliver_frames(t);                  /* frames arrive while disarmed */
	assert_false(sn_rx_intr_arm(dev, 0));
	sn_rx_intr_disarm(dev, 0);
	assert_true(drain_rx(dev) > 0);
	assert_true(sn_rx_intr_arm(dev, 0));
	sn_rx_intr_disarm(dev, 0);
}

static void igb_registers(void **state)
{
	struct bench *t = *state;
	struct sn_error err = { 0 };
	struct sn_dev *dev = open_pair(t, "igb", true, 100, &err);
	if (!dev) {
		fail_msg("open: %s", err.msg);
		return;
	}
	volatile uint8_t *bar = t->end[0].bar;

	/* GPIE: NSICR, MSI-X mode, EIAME, PBA support. */
	assert_int_equal(REG(bar, 0x1514), 0xc0000011u);
	assert_int_equal(REG(bar, 0x1700) & 0xff, 0x80);         /* rx queue 0 -> vector 0 */
	assert_int_equal(REG(bar, 0x1740), (0x80u | 1) << 8);  /* other causes -> vector 1 */
	assert_int_equal(REG(bar, 0x1680), 100u << 2);          /* EITR0: 100 us */
	assert_int_equal(REG(bar, 0x152C), 0x3u);               /* EIAC: both vectors */
	assert_int_equal(REG(bar, 0x00D0), 1u << 2);            /* IMS: link change */
	assert_int_equal(REG(bar, 0x1524), 1u << 1);            /* EIMS: other vector only */
	check_fds(dev);

	assert_true(sn_rx_intr_arm(dev, 0));
	assert_int_equal(REG(bar, 0x1580), 1u);                 /* stale cause cleared */
	assert_int_equal(REG(bar, 0x1524), 1u);                 /* queue vector unmasked */
	sn_rx_intr_disarm(dev, 0);
	assert_int_equal(REG(bar, 0x1528), 1u);                 /* EIMC: masked again */
	check_arm_recheck(t, dev);

	/* A link change: sn_dev_link drains the event fd and enables the
	 * other vector again. */
	REG(bar, 0x1524) = 0;
	signal_fd(sn_dev_event_fd(dev));
	struct sn_link link;
	assert_int_equal(sn_dev_link(dev, &link), 0);
	assert_false(fd_readable(sn_dev_event_fd(dev)));
	assert_int_equal(REG(bar, 0x1524), 1u << 1);
}

static void e1000e_registers(void **state)
{
	struct bench *t = *state;
	struct sn_error err = { 0 };
	struct sn_dev *dev = open_pair(t, "e1000e", true, 0, &err);
	if (!dev) {
		fail_msg("open: %s", err.msg);
		return;
	}
	volatile uint8_t *bar = t->end[0].bar;
	const uint32_t rxq0 = 1u << 20, other = 1u << 24, lsc = 1u << 2;

	/* IVAR: rx queue 0 -> vector 0, other causes -> vector 1, both valid. */
	assert_int_equal(REG(bar, 0x00E4), (0x8u | 1) << 16 | 0x8u);
	assert_int_equal(REG(bar, 0x00DC), rxq0 | other);       /* EIAC */
	assert_int_equal(REG(bar, 0x00E0), rxq0);               /* IAM */
	assert_int_equal(REG(bar, 0x0018) & 0x89000000u, 0x81000000u); /* PBA_CLR, EIAME, not IAME */
	assert_int_equal(REG(bar, 0x00E8), 50u * 1000 / 256);   /* EITR0: the 50 us default */
	assert_int_equal(REG(bar, 0x00C4), 50u * 1000 / 256);   /* ITR */
	assert_int_equal(REG(bar, 0x00D0), lsc | other);        /* IMS */
	check_fds(dev);

	assert_true(sn_rx_intr_arm(dev, 0));
	assert_int_equal(REG(bar, 0x00C0), rxq0);               /* ICR: stale cause cleared */
	assert_int_equal(REG(bar, 0x00D0), rxq0);               /* IMS: unmasked */
	sn_rx_intr_disarm(dev, 0);
	assert_int_equal(REG(bar, 0x00D8), rxq0);               /* IMC: masked */
	check_arm_recheck(t, dev);

	signal_fd(sn_dev_event_fd(dev));
	struct sn_link link;
	assert_int_equal(sn_dev_link(dev, &link), 0);
	assert_false(fd_readable(sn_dev_event_fd(dev)));
	assert_int_equal(REG(bar, 0x00C0), other | lsc);        /* causes cleared */
	assert_int_equal(REG(bar, 0x00D0), lsc | other);        /* and enabled again */
}

/* Without rx_interrupts nothing changes: no fds, arm says poll. */
static void polling_device(void **state)
{
	struct bench *t = *state;
	struct sn_error err = { 0 };
	struct sn_dev *dev = open_pair(t, "igb", false, 0, &err);
	if (!dev) {
		fail_msg("open: %s", err.msg);
		return;
	}
	assert_int_equal(sn_rx_intr_fd(dev, 0), -1);
	assert_int_equal(sn_dev_event_fd(dev), -1);
	assert_false(sn_rx_intr_arm(dev, 0));
	sn_rx_intr_disarm(dev, 0);
	assert_int_equal(REG(t->end[0].bar, 0x1514), 0);         /* GPIE untouched */
}

/* ixgbe (82599): GPIE MSI-X mode, IVAR pairs, EITR in 2 us units, the
 * other causes through IVAR_MISC; arm and disarm through EIMS/EIMC. */
static void ixgbe_registers(void **state)
{
	struct bench *t = *state;
	struct sn_error err = { 0 };
	struct sn_dev *dev = open_pair(t, "ixgbe", true, 100, &err);
	if (!dev) {
		fail_msg("open: %s", err.msg);
		return;
	}
	volatile uint8_t *bar = t->end[0].bar;
	const uint32_t other = 1u << 31, lsc = 1u << 20;

	/* GPIE: MSI-X mode, OCD, EIAME, PBA support. */
	assert_int_equal(REG(bar, 0x00898), 0xc0000030u);
	assert_int_equal(REG(bar, 0x00900), 0x80u);              /* rx 0 -> vector 0, no tx */
	assert_int_equal(REG(bar, 0x00A00), 0x80u | 1);          /* other causes -> vector 1 */
	assert_int_equal(REG(bar, 0x00820), 50u << 3 | 1u << 31); /* EITR0: 100 us = 50 x 2 us */
	assert_int_equal(REG(bar, 0x00810), 1u);                 /* EIAC: the queue vector only */
	assert_int_equal(REG(bar, 0x00890), 1u);                 /* EIAM */
	assert_int_equal(REG(bar, 0x00AD0), 1u);                 /* EIAM_EX(0) */
	assert_int_equal(REG(bar, 0x00880), other | lsc);        /* EIMS: not the queue */
	check_fds(dev);

	assert_true(sn_rx_intr_arm(dev, 0));
	assert_int_equal(REG(bar, 0x00800), 1u);                 /* stale cause cleared */
	assert_int_equal(REG(bar, 0x00880), 1u);                 /* queue vector unmasked */
	sn_rx_intr_disarm(dev, 0);
	assert_int_equal(REG(bar, 0x00888), 1u);                 /* EIMC: masked again */
	check_arm_recheck(t, dev);

	/* A link change: sn_dev_link drains the event fd, clears the other
	 * causes (no auto-clear for them) and unmasks them again. */
	REG(bar, 0x00880) = 0;
	signal_fd(sn_dev_event_fd(dev));
	struct sn_link link;
	assert_int_equal(sn_dev_link(dev, &link), 0);
	assert_false(fd_readable(sn_dev_event_fd(dev)));
	assert_int_equal(REG(bar, 0x00800), other | lsc);
	assert_int_equal(REG(bar, 0x00880), other | lsc);
}

/* Several queues: two to an IVAR register, rx entries in bytes 0 and 2;
 * the other causes on the vector after the last queue; a throttle past
 * the 9-bit interval saturates. */
static void ixgbe_several_queues(void **state)
{
	struct bench *t = *state;
	struct sn_error err = { 0 };
	struct sn_dev_config cfg = { .rx_queues = 5, .tx_queues = 5, .rx_ring_size = RING,
				     .tx_ring_size = RING, .rx_interrupts = true,
				     .itr_usec = 5000 };
	struct fake_nic_endpoint *pair[2] = { &t->end[0], &t->end[1] };
	if (fake_nic_open_intel_pair_cfg(&t->nic, "ixgbe", &cfg, pair, t->rx_side, t->tx_side,
					 &err) != 0) {
		fail_msg("open: %s", err.msg);
		return;
	}
	struct sn_dev *dev = t->end[0].dev;
	volatile uint8_t *bar = t->end[0].bar;
	assert_int_equal(REG(bar, 0x00900), (0x80u | 1) << 16 | 0x80u);
	assert_int_equal(REG(bar, 0x00904), (0x80u | 3) << 16 | (0x80u | 2));
	assert_int_equal(REG(bar, 0x00908), 0x80u | 4);          /* queue 5 absent */
	assert_int_equal(REG(bar, 0x00A00), 0x80u | 5);
	assert_int_equal(REG(bar, 0x00810), 0x1fu);
	for (unsigned q = 0; q < 5; q++) {
		assert_int_equal(REG(bar, 0x00820 + 4 * q), 0xff8u | 1u << 31);
		assert_true(sn_rx_intr_fd(dev, (uint16_t)q) >= 0);
		assert_true(sn_rx_intr_arm(dev, (uint16_t)q));
		assert_int_equal(REG(bar, 0x00880), 1u << q);
		sn_rx_intr_disarm(dev, (uint16_t)q);
		assert_int_equal(REG(bar, 0x00888), 1u << q);
	}
	assert_int_equal(sn_rx_intr_fd(dev, 5), -1);
}

/* Unsafe mode has no VFIO to deliver interrupts: refused at once. */
static void unsafe_refuses(void **state)
{
	(void)state;
	struct sn_error err = { 0 };
	struct sn_ctx *ctx = sn_ctx_create(&(struct sn_ctx_config){ .unsafe_no_iommu = true },
					   &err);
	if (!ctx)
		skip();
	uint8_t *bar = aligned_alloc(4096, FAKE_NIC_BAR_SIZE);
	assert_non_null(bar);
	memset(bar, 0, FAKE_NIC_BAR_SIZE);
	struct sn_dev_config cfg = { .rx_interrupts = true };
	assert_null(sn_dev_open_model(ctx, &sn_igb_driver, bar, FAKE_NIC_BAR_SIZE, 0x10c9,
				      &cfg, &err));
	assert_int_equal(err.code, -EINVAL);
	assert_non_null(strstr(err.msg, "unsafe mode"));
	sn_ctx_destroy(ctx);
	free(bar);
}

/* Four receive queues: vectors 0-3, the other causes on vector 4. */
static void igb_four_queues(void **state)
{
	struct bench *t = *state;
	struct sn_error err = { 0 };
	struct sn_dev_config cfg = { .rx_queues = 4, .tx_queues = 4, .rx_ring_size = RING,
				     .tx_ring_size = RING, .rx_interrupts = true };
	struct fake_nic_endpoint *pair[2] = { &t->end[0], &t->end[1] };
	if (fake_nic_open_intel_pair_cfg(&t->nic, "igb", &cfg, pair, t->rx_side, t->tx_side,
					 &err) != 0) {
		fail_msg("open: %s", err.msg);
		return;
	}
	struct sn_dev *dev = t->end[0].dev;
	volatile uint8_t *bar = t->end[0].bar;
	for (unsigned q = 0; q < 4; q++) {
		assert_int_equal(REG(bar, 0x1700 + 4 * q), 0x80u | q);
		assert_int_equal(REG(bar, 0x1680 + 4 * q), 50u << 2);
		assert_true(sn_rx_intr_fd(dev, (uint16_t)q) >= 0);
		assert_true(sn_rx_intr_arm(dev, (uint16_t)q));
		assert_int_equal(REG(bar, 0x1524), 1u << q);
	}
	assert_int_equal(sn_rx_intr_fd(dev, 4), -1);
	assert_int_equal(REG(bar, 0x1740), (0x80u | 4) << 8);
	assert_int_equal(REG(bar, 0x152C), 0x1fu);
}

/* e1000e with both queues: 4-bit IVAR entries for queues 0 and 1, the
 * other causes on vector 2, and each queue its own IMS bit. */
static void e1000e_two_queues(void **state)
{
	struct bench *t = *state;
	struct sn_error err = { 0 };
	struct sn_dev_config cfg = { .rx_queues = 2, .tx_queues = 2, .rx_ring_size = RING,
				     .tx_ring_size = RING, .rx_interrupts = true };
	struct fake_nic_endpoint *pair[2] = { &t->end[0], &t->end[1] };
	if (fake_nic_open_intel_pair_cfg(&t->nic, "e1000e", &cfg, pair, t->rx_side, t->tx_side,
					 &err) != 0) {
		fail_msg("open: %s", err.msg);
		return;
	}
	struct sn_dev *dev = t->end[0].dev;
	volatile uint8_t *bar = t->end[0].bar;
	assert_int_equal(REG(bar, 0x00E4), (0x8u | 2) << 16 | (0x8u | 1) << 4 | 0x8u);
	assert_int_equal(REG(bar, 0x00DC), 3u << 20 | 1u << 24);   /* EIAC */
	for (unsigned q = 0; q < 2; q++) {
		assert_true(sn_rx_intr_arm(dev, (uint16_t)q));
		assert_int_equal(REG(bar, 0x00D0), 1u << (20 + q));
		sn_rx_intr_disarm(dev, (uint16_t)q);
		assert_int_equal(REG(bar, 0x00D8), 1u << (20 + q));
	}
	assert_int_equal(sn_rx_intr_fd(dev, 2), -1);
}

/* virtio with EVENT_IDX (as the model negotiates it): arming writes our
 * used index into used_event, so the next used entry interrupts, and the
 * re-check looks at the used index; disarmed, the device's completions
 * ask for none. Without EVENT_IDX the NO_INTERRUPT flag does the same. */
static void virtq_flag_and_pending(void **state)
{
	struct bench *t = *state;
	struct sn_mempool *pool = sn_mempool_create(t->ctx, 256, 0, 0, NULL);
	assert_non_null(pool);
	struct fake_nic_endpoint *e = &t->end[0];
	assert_int_equal(fake_nic_open_virtio(&t->nic, e, RING, pool), 0);
	struct fake_nic_side *side = &t->nic.sides[0];
	*side = (struct fake_nic_side){ .vq = &e->rxq, .receive = true };
	t->nic.num_sides = 1;
	struct sn_pkt *pkts[RING];
	volatile uint16_t *used_event = &e->rxq.avail->ring[RING];

	for (int with_event_idx = 1; with_event_idx >= 0; with_event_idx--) {
		if (!with_event_idx) { /* as if the device had not offered it */
			e->rxq.event_idx = false;
			e->rxq.avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
		}
		assert_int_equal(e->rxq.avail->flags,
				 with_event_idx ? 0 : VRING_AVAIL_F_NO_INTERRUPT);
		/* Polling: completions raise nothing. */
		sn_virtq_refill(&e->rxq);
		uint32_t before = side->interrupts;
		fake_nic_step(&t->nic);
		assert_int_equal(side->interrupts, before);
		uint16_t n = sn_virtq_harvest(&e->rxq, pkts, RING);
		assert_true(n > 0);
		sn_pkt_free_bulk(pkts, n);
		/* Armed: the next completion interrupts, once. */
		sn_virtq_refill(&e->rxq);
		sn_virtq_want_interrupts(&e->rxq, true);
		if (with_event_idx)
			assert_int_equal(*used_event, e->rxq.used_idx);
		else
			assert_int_equal(e->rxq.avail->flags, 0);
		assert_false(sn_virtq_used_pending(&e->rxq));
		fake_nic_step(&t->nic);
		assert_int_equal(side->interrupts, before + 1);
		assert_true(sn_virtq_used_pending(&e->rxq));
		n = sn_virtq_harvest(&e->rxq, pkts, RING);
		assert_true(n > 0);
		sn_pkt_free_bulk(pkts, n);
		assert_false(sn_virtq_used_pending(&e->rxq));
		sn_virtq_want_interrupts(&e->rxq, false);
		if (with_event_idx)
			assert_int_equal(*used_event, (uint16_t)(e->rxq.used_idx + 0x8000));
		else
			assert_int_equal(e->rxq.avail->flags, VRING_AVAIL_F_NO_INTERRUPT);
		sn_virtq_refill(&e->rxq);
		fake_nic_step(&t->nic);
		assert_int_equal(side->interrupts, before + 1);
		n = sn_virtq_harvest(&e->rxq, pkts, RING);
		sn_pkt_free_bulk(pkts, n);
	}
	fake_nic_close_virtio(e);
	sn_mempool_destroy(pool);
}

/* Packed: arming writes ENABLE into the driver's event suppression
 * area, and the re-check looks at the next slot's flags. */
static void vpacked_flag_and_pending(void **state)
{
	struct bench *t = *state;
	struct sn_mempool *pool = sn_mempool_create(t->ctx, 256, 0, 0, NULL);
	assert_non_null(pool);
	struct fake_nic_endpoint *e = &t->end[0];
	assert_int_equal(fake_nic_open_vpacked(&t->nic, e, RING, pool), 0);
	struct sn_vpacked *vq = &e->prxq;
	assert_int_equal(vq->driver_event->flags, VRING_PACKED_EVENT_FLAG_DISABLE); /* polling */
	sn_vpacked_refill(vq);
	sn_vpacked_want_interrupts(vq, true);
	assert_int_equal(vq->driver_event->flags, VRING_PACKED_EVENT_FLAG_ENABLE);
	assert_false(sn_vpacked_used_pending(vq));
	t->nic.sides[0] = (struct fake_nic_side){ .pq = vq, .receive = true };
	t->nic.num_sides = 1;
	fake_nic_step(&t->nic);
	assert_true(sn_vpacked_used_pending(vq));
	struct sn_pkt *pkts[RING];
	uint16_t n = sn_vpacked_harvest(vq, pkts, RING);
	assert_true(n > 0);
	sn_pkt_free_bulk(pkts, n);
	assert_false(sn_vpacked_used_pending(vq));
	sn_vpacked_want_interrupts(vq, false);
	assert_int_equal(vq->driver_event->flags, VRING_PACKED_EVENT_FLAG_DISABLE);
	fake_nic_close_virtio(e);
	sn_mempool_destroy(pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(igb_registers, setup, teardown),
		cmocka_unit_test_setup_teardown(e1000e_registers, setup, teardown),
		cmocka_unit_test_setup_teardown(polling_device, setup, teardown),
		cmocka_unit_test_setup_teardown(ixgbe_registers, setup, teardown),
		cmocka_unit_test_setup_teardown(ixgbe_several_queues, setup, teardown),
		cmocka_unit_test_setup_teardown(virtq_flag_and_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(vpacked_flag_and_pending, setup, teardown),
		cmocka_unit_test(unsafe_refuses),
		cmocka_unit_test_setup_teardown(igb_four_queues, setup, teardown),
		cmocka_unit_test_setup_teardown(e1000e_two_queues, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
