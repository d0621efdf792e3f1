/* AF_XDP rings against a kernel that lies: received addresses outside the
 * UMEM, in a page's tail, of buffers never lent or lent to send, given
 * back twice, offsets and lengths past the buffer; completions at another
 * address than was sent; producer indices more than a ring ahead and
 * consumer indices past ours. Each lie must cost a dropped entry and a
 * counter, and hand out nothing (run under ASan to prove no access
 * outside the tables either). The "kernel" here is the test writing the
 * shared rings as the kernel would. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "xskring.h"

#define RING 8
#define PAGE 8192u
#define BUF 2176u
#define NBUFS 10u   /* 3 a page: 4 pages */
#define KHEAD 256u  /* the kernel's headroom before a received frame */

struct bench {
	struct sn_xsk_queue q;
	uint32_t prod[4], cons[4];   /* fill, rx, tx, comp */
	uint64_t fill[RING], comp[RING];
	struct sn_xsk_desc rx[RING], tx[RING];
	uint32_t kfill, krx, ktx, kcomp;   /* the kernel's own positions */
};

static const struct sn_xsk_geo geo = {
	.umem_size = 4 * PAGE, .page_size = PAGE, .buf_size = BUF, .bufs_per_page = 3,
	.nbufs = NBUFS,
};

static void ring(struct sn_xsk_ring *r, uint32_t *prod, uint32_t *cons, void *entries)
{
	*r = (struct sn_xsk_ring){ .prod = prod, .cons = cons, .entries = entries,
				   .size = RING, .mask = RING - 1 };
}

static int setup(void **state)
{
	struct bench *b = calloc(1, sizeof(*b));
	if (!b || sn_xsk_queue_init(&b->q, &geo) != 0) {
		free(b);
		return -1;
	}
	ring(&b->q.fill, &b->prod[0], &b->cons[0], b->fill);
	ring(&b->q.rx, &b->prod[1], &b->cons[1], b->rx);
	ring(&b->q.tx, &b->prod[2], &b->cons[2], b->tx);
	ring(&b->q.comp, &b->prod[3], &b->cons[3], b->comp);
	*state = b;
	return 0;
}

static int teardown(void **state)
{
	struct bench *b = *state;
	sn_xsk_queue_free(&b->q);
	free(b);
	return 0;
}

/* The kernel takes the next fill entry: the address lent. */
static uint64_t kernel_take_fill(struct bench *b)
{
	assert_true(b->prod[0] != b->kfill);
	uint64_t addr = b->fill[b->kfill++ & (RING - 1)];
	b->cons[0] = b->kfill;
	return addr;
}

/* The kernel gives a frame back on the rx ring, as it encodes it in
 * unaligned-chunk mode: the address lent plus the offset in bits 48-63. */
static void kernel_rx(struct bench *b, uint64_t addr, uint32_t len)
{
	b->rx[b->krx++ & (RING - 1)] = (struct sn_xsk_desc){ .addr = addr, .len = len };
	b->prod[1] = b->krx;
}

static uint64_t with_offset(uint64_t addr, uint64_t off)
{
	return addr | off << SN_XSK_OFFSET_SHIFT;
}

static void lend(struct bench *b, uint32_t buf)
{
	assert_true(sn_xsk_fill_room(&b->q) > 0);
	sn_xsk_fill_put(&b->q, buf);
	sn_xsk_publish(&b->q.fill);
}

static void test_geometry(void **state)
{
	(void)state;
	uint32_t buf, within;
	assert_int_equal(sn_xsk_geo_check(&geo), 0);
	for (uint32_t i = 0; i < NBUFS; i++) {
		uint64_t off = sn_xsk_buf_offset(&geo, i);
		assert_true(sn_xsk_buf_of(&geo, off + 100, &buf, &within));
		assert_int_equal(buf, i);
		assert_int_equal(within, 100);
	}
	/* A page's tail (after 3 buffers), past the last buffer, past the UMEM. */
	assert_false(sn_xsk_buf_of(&geo, 3 * BUF + 5, &buf, &within));
	assert_false(sn_xsk_buf_of(&geo, 3 * PAGE + BUF, &buf, &within));
	assert_false(sn_xsk_buf_of(&geo, 4 * PAGE, &buf, &within));
	assert_false(sn_xsk_buf_of(&geo, UINT64_MAX, &buf, &within));
	/* A geometry whose buffers do not fit its UMEM is refused. */
	struct sn_xsk_geo bad = geo;
	bad.umem_size = 3 * PAGE;
	assert_int_equal(sn_xsk_geo_check(&bad), -EINVAL);
	bad = geo;
	bad.bufs_per_page = 4;
	assert_int_equal(sn_xsk_geo_check(&bad), -EINVAL);
}

static void test_rx_honest(void **state)
{
	struct bench *b = *state;
	struct sn_xsk_frame f[RING];
	for (uint32_t i = 0; i < 4; i++)
		lend(b, i * 2);
	assert_int_equal(b->q.in_fill, 4);
	for (uint32_t i = 0; i < 4; i++)
		kernel_rx(b, with_offset(kernel_take_fill(b), KHEAD), 60 + i);
	assert_int_equal(sn_xsk_rx_take(&b->q, f, RING), 4);
	for (uint32_t i = 0; i < 4; i++) {
		assert_int_equal(f[i].buf, i * 2);
		assert_int_equal(f[i].off, KHEAD);
		assert_int_equal(f[i].len, 60 + i);
	}
	assert_int_equal(b->q.in_fill, 0);
	assert_int_equal(b->q.device_errors, 0);
	assert_int_equal(b->cons[1], 4);    /* the entries were consumed */
	/* An address that carries its offset itself (aligned-mode style)
	 * lands in the same buffer. */
	lend(b, 5);
	kernel_rx(b, kernel_take_fill(b) + KHEAD, 1514);
	assert_int_equal(sn_xsk_rx_take(&b->q, f, RING), 1);
	assert_int_equal(f[0].buf, 5);
	assert_int_equal(f[0].off, KHEAD);
	assert_int_equal(f[0].len, 1514);
}

/* Each lie, with a good frame after it that must still come through. */
static void test_rx_lies(void **state)
{
	struct bench *b = *state;
	struct sn_xsk_frame f[RING];
	const uint64_t b1 = sn_xsk_buf_offset(&geo, 1);
	const struct { uint64_t addr; uint32_t len; } lies[] = {
		{ with_offset(4 * PAGE, KHEAD), 60 },         /* past the UMEM */
		{ with_offset(3 * BUF + 8, 0), 60 },          /* a page's tail */
		{ with_offset(sn_xsk_buf_offset(&geo, 7), KHEAD), 60 },  /* never lent */
		{ with_offset(b1, KHEAD), BUF - KHEAD + 1 },  /* length past the buffer */
		{ with_offset(b1, BUF), 1 },                  /* offset past the buffer */
		{ with_offset(b1, 0xffff), 60 },              /* offset far past it */
		{ with_offset(b1, KHEAD), 0 },                /* an empty frame */
		{ with_offset(b1, KHEAD), UINT32_MAX },       /* a huge length */
	};
	lend(b, 1);
	for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		uint64_t before = b->q.device_errors;
		kernel_rx(b, lies[i].addr, lies[i].len);
		assert_int_equal(sn_xsk_rx_take(&b->q, f, RING), 0);
		assert_int_equal(b->q.device_errors, before + 1);
		assert_int_equal(b->q.in_fill, 1);       /* buffer 1 still lent */
	}
	/* The truth still comes through; given back twice, it is a lie. */
	uint64_t lent = kernel_take_fill(b);
	kernel_rx(b, with_offset(lent, KHEAD), 60);
	kernel_rx(b, with_offset(lent, KHEAD), 60);
	assert_int_equal(sn_xsk_rx_take(&b->q, f, RING), 1);
	assert_int_equal(f[0].buf, 1);
	assert_int_equal(b->q.device_errors, sizeof(lies) / sizeof(lies[0]) + 1);
	/* A buffer lent to send is not a received frame. */
	sn_xsk_tx_put(&b->q, 4, 128, 60);
	kernel_rx(b, with_offset(sn_xsk_buf_offset(&geo, 4), KHEAD), 60);
	assert_int_equal(sn_xsk_rx_take(&b->q, f, RING), 0);
	assert_int_equal(b->q.in_tx, 1);
}

/* A producer more than a ring ahead: nothing read, counted, out of step
 * until the index is possible again. */
static void test_rx_producer_jump(void **state)
{
	struct bench *b = *state;
	struct sn_xsk_frame f[RING];
	lend(b, 0);
	b->prod[1] = RING + 1;
	assert_int_equal(sn_xsk_rx_take(&b->q, f, RING), 0);
	assert_int_equal(b->q.device_errors, 1);
	assert_true(sn_xsk_queue_out_of_step(&b->q));
	assert_int_equal(b->cons[1], 0);             /* nothing consumed */
	b->prod[1] = UINT32_MAX;                      /* "behind" us: as far off */
	assert_int_equal(sn_xsk_rx_take(&b->q, f, RING), 0);
	assert_int_equal(b->q.device_errors, 2);
	b->prod[1] = 0;
	assert_false(sn_xsk_queue_out_of_step(&b->q));
	kernel_rx(b, with_offset(kernel_take_fill(b), KHEAD), 60);
	assert_int_equal(sn_xsk_rx_take(&b->q, f, RING), 1);
}

/* The fill and tx consumers must stay within a ring behind our producer. */
static void test_consumer_lies(void **state)
{
	struct bench *b = *state;
	assert_int_equal(sn_xsk_fill_room(&b->q), RING);
	lend(b, 0);
	assert_int_equal(sn_xsk_fill_room(&b->q), RING - 1);
	b->cons[0] = 2;                               /* past our producer (1) */
	assert_int_equal(sn_xsk_fill_room(&b->q), 0);
	assert_int_equal(b->q.device_errors, 1);
	assert_true(sn_xsk_queue_out_of_step(&b->q));
	b->cons[0] = 1;
	assert_int_equal(sn_xsk_fill_room(&b->q), RING);
	b->cons[2] = 5;                               /* tx: ours is 0 */
	assert_int_equal(sn_xsk_tx_room(&b->q), 0);
	assert_int_equal(b->q.device_errors, 2);
	b->cons[2] = 0;
	assert_int_equal(sn_xsk_tx_room(&b->q), RING);
}

static void kernel_complete(struct bench *b, uint64_t addr)
{
	b->comp[b->kcomp++ & (RING - 1)] = addr;
	b->prod[3] = b->kcomp;
}

static void test_completions(void **state)
{
	struct bench *b = *state;
	uint32_t bufs[RING];
	const uint64_t b2 = sn_xsk_buf_offset(&geo, 2), b3 = sn_xsk_buf_offset(&geo, 3);
	sn_xsk_tx_put(&b->q, 2, 128, 60);
	sn_xsk_tx_put(&b->q, 3, 300, 1000);
	sn_xsk_publish(&b->q.tx);
	assert_int_equal(b->prod[2], 2);
	assert_int_equal(b->tx[0].addr, b2 + 128);
	assert_int_equal(b->tx[1].addr, b3 + 300);
	assert_int_equal(b->tx[1].len, 1000);
	/* Lies: another offset of a buffer in flight, a buffer not in
	 * flight, outside the UMEM, a page's tail. */
	const uint64_t lies[] = { b2, b2 + 129, sn_xsk_buf_offset(&geo, 5) + 128,
				  4 * PAGE + 128, 3 * BUF + 128 };
	for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		kernel_complete(b, lies[i]);
		assert_int_equal(sn_xsk_comp_take(&b->q, bufs, RING), 0);
	}
	assert_int_equal(b->q.device_errors, sizeof(lies) / sizeof(lies[0]));
	assert_int_equal(b->q.in_tx, 2);
	/* Out of order is fine; twice is a lie. */
	kernel_complete(b, b3 + 300);
	kernel_complete(b, b2 + 128);
	kernel_complete(b, b2 + 128);
	assert_int_equal(sn_xsk_comp_take(&b->q, bufs, RING), 2);
	assert_int_equal(bufs[0], 3);
	assert_int_equal(bufs[1], 2);
	assert_int_equal(b->q.in_tx, 0);
	assert_int_equal(b->q.device_errors, sizeof(lies) / sizeof(lies[0]) + 1);
	/* A completion producer a ring and more ahead. */
	b->prod[3] = b->q.comp.head + RING + 1;
	assert_int_equal(sn_xsk_comp_take(&b->q, bufs, RING), 0);
	assert_true(sn_xsk_queue_out_of_step(&b->q));
	/* A buffer lent to receive is not a completion. */
	b->prod[3] = b->q.comp.head;
	b->kcomp = b->q.comp.head;
	lend(b, 6);
	kernel_complete(b, sn_xsk_buf_offset(&geo, 6));
	assert_int_equal(sn_xsk_comp_take(&b->q, bufs, RING), 0);
	assert_int_equal(b->q.in_fill, 1);
}

/* A kernel that takes nothing, then one that takes but never
 * completes, is a stall on the second look in a row; progress, or
 * nothing in flight, is not. */
static void test_tx_stall(void **state)
{
	struct bench *b = *state;
	uint32_t bufs[RING];
	assert_false(sn_xsk_tx_stalled(&b->q));            /* nothing in flight */
	sn_xsk_tx_put(&b->q, 1, 0, 60);
	sn_xsk_publish(&b->q.tx);
	assert_false(sn_xsk_tx_stalled(&b->q));            /* first look */
	assert_true(sn_xsk_tx_stalled(&b->q));             /* nothing moved */
	b->cons[2] = 1;                                    /* the kernel takes it */
	assert_false(sn_xsk_tx_stalled(&b->q));
	assert_true(sn_xsk_tx_stalled(&b->q));             /* never completed */
	kernel_complete(b, sn_xsk_buf_offset(&geo, 1));
	assert_false(sn_xsk_tx_stalled(&b->q));            /* completed */
	assert_int_equal(sn_xsk_comp_take(&b->q, bufs, RING), 1);
	assert_false(sn_xsk_tx_stalled(&b->q));            /* idle again */
	assert_false(sn_xsk_tx_stalled(&b->q));
	assert_int_equal(b->q.device_errors, 0);
}

/* Taking at most n leaves the rest for the next call. */
static void test_rx_partial(void **state)
{
	struct bench *b = *state;
	struct sn_xsk_frame f[RING];
	for (uint32_t i = 0; i < 5; i++)
		lend(b, i);
	for (uint32_t i = 0; i < 5; i++)
		kernel_rx(b, with_offset(kernel_take_fill(b), KHEAD), 60);
	assert_int_equal(sn_xsk_rx_take(&b->q, f, 2), 2);
	assert_int_equal(b->cons[1], 2);
	assert_int_equal(sn_xsk_rx_take(&b->q, f, RING), 3);
	assert_int_equal(f[2].buf, 4);
	assert_int_equal(b->q.device_errors, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_geometry),
		cmocka_unit_test_setup_teardown(test_rx_honest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_lies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_producer_jump, setup, teardown),
		cmocka_unit_test_setup_teardown(test_consumer_lies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_completions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_partial, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_stall, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
