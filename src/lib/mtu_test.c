/* The MTU as each Intel family programs it into the NIC (register files
 * in memory, fake_nic.c), and what sn_dev_open refuses: an MTU below 68,
 * or one whose frames do not fit the receive buffers, named with the
 * largest that would. The rings' own checks are in ring_test.c,
 * virtqueue_test.c and vpacked_test.c. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctx.h"
#include "device.h"
#include "fake_nic.h"
#include "ring.h"

#define RCTL 0x00100
#define RCTL_LPE (1u << 5)
#define IGB_RLPML 0x05004
#define IXGBE_HLREG0 0x04240
#define IXGBE_HLREG0_JUMBOEN (1u << 2)
#define IXGBE_MHADD 0x04268

struct family_case {
	const char *driver;
	uint16_t device_id;
};

static const struct family_case igb = { "igb", 0x10c9 };
static const struct family_case e1000e = { "e1000e", 0x10d3 };
static const struct family_case ixgbe = { "ixgbe", 0x10fb };

struct bench {
	const struct family_case *f;
	struct sn_ctx *ctx;
	struct fake_nic nic;
	uint8_t *bar;
	struct sn_dev *dev;
};

static int setup(void **state)
{
	struct bench *b = calloc(1, sizeof(*b));
	if (!b)
		return -1;
	b->f = *state;
	b->ctx = sn_ctx_create(NULL, NULL);
	if (!b->ctx || sn_ctx_emulate_iommu(b->ctx, (1ull << 39) - 1) != 0) {
		sn_ctx_destroy(b->ctx);
		free(b);
		return -1;
	}
	b->nic.ctx = b->ctx;
	*state = b;
	return 0;
}

static int teardown(void **state)
{
	struct bench *b = *state;
	sn_dev_close(b->dev);
	sn_ctx_destroy(b->ctx);
	free(b->bar);
	free(b);
	return 0;
}

static struct sn_dev *open_mtu(struct bench *b, uint16_t mtu, struct sn_mempool *pool,
			       struct sn_error *err)
{
	struct sn_dev_config cfg = { .rx_ring_size = 64, .tx_ring_size = 64, .mtu = mtu,
				     .rx_pool = pool };
	sn_dev_close(b->dev);
	free(b->bar);
	b->bar = NULL;
	b->dev = fake_nic_open_intel(&b->nic, b->f->driver, b->f->device_id, &cfg, &b->bar, err);
	return b->dev;
}

static uint32_t reg(struct bench *b, uint32_t off)
{
	if (!b->bar) {
		fail_msg("no register file: the device is not open");
		return 0;
	}
	return *(volatile uint32_t *)(b->bar + off);
}

/* What the NIC is told for an MTU: igb drops frames past RLPML (FCS
 * counted) with LPE on; ixgbe past MHADD.MFS (at least 1518) with
 * JUMBOEN; e1000e has only LPE, on for an MTU over 1500. And the rings
 * take the same limit in software, both ways. */
static void check_mtu(struct bench *b, uint16_t mtu)
{
	struct sn_error err = { 0 };
	struct sn_dev *dev = open_mtu(b, mtu, NULL, &err);
	if (!dev) {
		fail_msg("open with MTU %u: %s", mtu, err.msg);
		return;
	}
	uint32_t frame = mtu ? mtu + 14u : 1514u, with_fcs = frame + 4;
	if (strcmp(b->f->driver, "igb") == 0) {
		assert_int_equal(reg(b, IGB_RLPML), with_fcs);
		assert_true(reg(b, RCTL) & RCTL_LPE);
	} else if (strcmp(b->f->driver, "e1000e") == 0) {
		assert_int_equal(!!(reg(b, RCTL) & RCTL_LPE), frame > 1514);
	} else {
		assert_int_equal(reg(b, IXGBE_MHADD) >> 16, with_fcs < 1518 ? 1518 : with_fcs);
		assert_true(reg(b, IXGBE_HLREG0) & IXGBE_HLREG0_JUMBOEN);
	}
	assert_int_equal(((struct sn_ring *)dev->rxq[0])->max_frame, frame);
	assert_int_equal(((struct sn_ring *)dev->txq[0])->max_frame, frame);
}

static void the_mtu_is_programmed_into_the_nic(void **state)
{
	struct bench *b = *state;
	check_mtu(b, 0);    /* the default, 1500 */
	check_mtu(b, 1500);
	check_mtu(b, 1501); /* past the standard frame */
	check_mtu(b, 576);  /* below it: ixgbe keeps 1518, the ring drops the rest */
	check_mtu(b, 2034); /* the most a 2048-byte buffer holds */
}

static void an_mtu_the_buffers_cannot_hold_is_refused(void **state)
{
	struct bench *b = *state;
	struct sn_error err = { 0 };
	assert_null(open_mtu(b, 2035, NULL, &err));
	assert_int_equal(err.code, -EINVAL);
	assert_non_null(strstr(err.msg, "MTU 2035"));
	assert_non_null(strstr(err.msg, "largest MTU with this pool is 2034"));
	assert_non_null(strstr(err.msg, "jumbo frames"));

	assert_null(open_mtu(b, 67, NULL, &err));
	assert_int_equal(err.code, -EINVAL);
	assert_non_null(strstr(err.msg, "MTU 67"));

	/* A pool with 2880 bytes of room: igb and ixgbe fill 2 KiB of it
	 * (SRRCTL counts whole KiB), e1000e 2048 bytes (RCTL.BSIZE), so the
	 * NIC's buffer, not the pool, names the limit. */
	struct sn_mempool *big = sn_mempool_create(b->ctx, 256, 2880 + 128, 0, NULL);
	assert_non_null(big);
	assert_null(open_mtu(b, 2800, big, &err));
	assert_int_equal(err.code, -EINVAL);
	assert_non_null(strstr(err.msg, "largest MTU is 2034"));
	sn_mempool_destroy(big);
}

#define FOR_FAMILY(test, fam)                                                \
	{ #test, test, setup, teardown, (void *)&(fam) }

#define ALL_TESTS(fam)                                                        \
	FOR_FAMILY(the_mtu_is_programmed_into_the_nic, fam),                 \
	FOR_FAMILY(an_mtu_the_buffers_cannot_hold_is_refused, fam)

int main(void)
{
	const struct CMUnitTest igb_tests[] = { ALL_TESTS(igb) };
	const struct CMUnitTest e1000e_tests[] = { ALL_TESTS(e1000e) };
	const struct CMUnitTest ixgbe_tests[] = { ALL_TESTS(ixgbe) };
	int failed = cmocka_run_group_tests_name("igb", igb_tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("e1000e", e1000e_tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("ixgbe", ixgbe_tests, NULL, NULL);
	return failed;
}
