/* The AF_XDP ring parser (src/lib/xskring.c) against a kernel whose every
 * write comes from the fuzzer: rx descriptors (any address, offset bits
 * and length), completion addresses, and the kernel's indices on all four
 * rings (its fill and tx consumers, its rx and completion producers),
 * honest or not.
 *
 * Input: byte 0 picks the UMEM layout (buffers per page, or packed) and
 * the ring size (4, 8 or 16); the rest is a script: the driver lends a
 * buffer to receive or sends one, takes received frames or completions,
 * asks for room; the kernel takes fill or tx entries as it would,
 * returns frames and completions honestly or with fuzzer-written
 * addresses and lengths, or writes any index.
 *
 * After every operation the harness's ledger (which buffer the driver
 * lent where) must agree with the queue's: its per-buffer state and its
 * counts. Every frame handed out must be of a buffer lent to receive, with
 * offset and length inside the buffer; every completion one of a buffer
 * lent to send; room and counts never above the ring. */
#include "fuzz_common.h"
#include "xskring.h"

#define NBUFS 12u
#define MAX_RING 16u

enum { HOME, FILL, TX };

struct harness {
	struct sn_xsk_queue q;
	uint32_t prod[4], cons[4];           /* fill, rx, tx, comp */
	uint64_t fill[MAX_RING], comp[MAX_RING];
	struct sn_xsk_desc rx[MAX_RING], tx[MAX_RING];
	uint32_t size;
	/* The kernel's own positions, and the buffers it took. */
	uint32_t k_fill, k_rx, k_tx, k_comp;
	uint64_t taken_rx[64], taken_tx[64];
	uint32_t n_taken_rx, n_taken_tx;
	uint8_t ledger[NBUFS];
	uint16_t sent_off[NBUFS];
	uint64_t lies_ok;                    /* device_errors we allow to grow */
};

static void setup_ring(struct sn_xsk_ring *r, uint32_t *prod, uint32_t *cons, void *e,
		       uint32_t size)
{
	*r = (struct sn_xsk_ring){ .prod = prod, .cons = cons, .entries = e, .size = size,
				   .mask = size - 1 };
}

static void check_ledger(const struct harness *h)
{
	uint32_t fill = 0, tx = 0;
	for (uint32_t i = 0; i < NBUFS; i++) {
		FUZZ_CHECK(h->q.state[i] == h->ledger[i], "buffer %u: queue says %u, ledger %u",
			   i, h->q.state[i], h->ledger[i]);
		fill += h->ledger[i] == FILL;
		tx += h->ledger[i] == TX;
	}
	FUZZ_CHECK(h->q.in_fill == fill && h->q.in_tx == tx, "counts %u/%u, ledger %u/%u",
		   h->q.in_fill, h->q.in_tx, fill, tx);
}

static void driver_lend(struct harness *h, struct fuzz_in *in)
{
	uint32_t buf = fuzz_u8(in) % NBUFS;
	uint32_t room = sn_xsk_fill_room(&h->q);
	FUZZ_CHECK(room <= h->size, "fill room %u above the ring", room);
	if (!room || h->ledger[buf] != HOME)
		return;
	sn_xsk_fill_put(&h->q, buf);
	sn_xsk_publish(&h->q.fill);
	h->ledger[buf] = FILL;
}

static void driver_send(struct harness *h, struct fuzz_in *in)
{
	uint32_t buf = fuzz_u8(in) % NBUFS, off = fuzz_u8(in), len = 14u + fuzz_u8(in);
	uint32_t room = sn_xsk_tx_room(&h->q);
	FUZZ_CHECK(room <= h->size, "tx room %u above the ring", room);
	if (!room || h->ledger[buf] != HOME)
		return;
	sn_xsk_tx_put(&h->q, buf, off, len);
	sn_xsk_publish(&h->q.tx);
	h->ledger[buf] = TX;
	h->sent_off[buf] = (uint16_t)off;
}

static void driver_rx(struct harness *h, struct fuzz_in *in)
{
	struct sn_xsk_frame f[MAX_RING];
	uint32_t n = 1 + fuzz_u8(in) % MAX_RING;
	uint32_t got = sn_xsk_rx_take(&h->q, f, n);
	FUZZ_CHECK(got <= n, "%u frames for %u asked", got, n);
	for (uint32_t i = 0; i < got; i++) {
		FUZZ_CHECK(f[i].buf < NBUFS && h->ledger[f[i].buf] == FILL,
			   "frame in buffer %u, which was not lent to receive", f[i].buf);
		FUZZ_CHECK(f[i].len > 0 && f[i].off < h->q.geo.buf_size &&
			   f[i].len <= h->q.geo.buf_size - f[i].off,
			   "frame at %u, %u bytes, past a %u-byte buffer", f[i].off, f[i].len,
			   h->q.geo.buf_size);
		h->ledger[f[i].buf] = HOME;
	}
}

static void driver_comp(struct harness *h, struct fuzz_in *in)
{
	uint32_t bufs[MAX_RING];
	uint32_t n = 1 + fuzz_u8(in) % MAX_RING;
	uint32_t got = sn_xsk_comp_take(&h->q, bufs, n);
	FUZZ_CHECK(got <= n, "%u completions for %u asked", got, n);
	for (uint32_t i = 0; i < got; i++) {
		FUZZ_CHECK(bufs[i] < NBUFS && h->ledger[bufs[i]] == TX,
			   "completion of buffer %u, which was not sent", bufs[i]);
		h->ledger[bufs[i]] = HOME;
	}
}

/* The kernel takes what the driver published, as it would. */
static void kernel_take(struct harness *h, bool fill)
{
	uint32_t *pos = fill ? &h->k_fill : &h->k_tx;
	uint32_t prod = h->prod[fill ? 0 : 2];
	if (prod == *pos)
		return;
	uint64_t addr = fill ? h->fill[*pos & (h->size - 1)] : h->tx[*pos & (h->size - 1)].addr;
	uint64_t *taken = fill ? h->taken_rx : h->taken_tx;
	uint32_t *count = fill ? &h->n_taken_rx : &h->n_taken_tx;
	if (*count < 64)
		taken[(*count)++] = addr;
	(*pos)++;
	h->cons[fill ? 0 : 2] = *pos;
}

/* An address the kernel has (honest), or any. */
static uint64_t kernel_addr(struct harness *h, struct fuzz_in *in, bool rx)
{
	uint64_t *taken = rx ? h->taken_rx : h->taken_tx;
	uint32_t *count = rx ? &h->n_taken_rx : &h->n_taken_tx;
	uint8_t how = fuzz_u8(in);
	if ((how & 1) && *count) {
		uint32_t i = fuzz_u8(in) % *count;
		uint64_t addr = taken[i];
		taken[i] = taken[--(*count)];
		return addr;
	}
	uint64_t lo = fuzz_u32(in), hi = fuzz_u32(in);
	return lo | hi << 32;
}

static void kernel_rx(struct harness *h, struct fuzz_in *in)
{
	uint64_t addr = kernel_addr(h, in, true);
	uint32_t len = fuzz_u8(in) & 1 ? fuzz_u32(in) : 14u + fuzz_u8(in);
	uint64_t shift = fuzz_u8(in) & 1 ? fuzz_u16(in) : 256;
	if ((addr >> SN_XSK_OFFSET_SHIFT) == 0)
		addr |= shift << SN_XSK_OFFSET_SHIFT;
	h->rx[h->k_rx++ & (h->size - 1)] = (struct sn_xsk_desc){ .addr = addr, .len = len };
	h->prod[1] = h->k_rx;
}

static void kernel_complete(struct harness *h, struct fuzz_in *in)
{
	h->comp[h->k_comp++ & (h->size - 1)] = kernel_addr(h, in, false);
	h->prod[3] = h->k_comp;
}

/* Any index the kernel writes: its own position moves with it. */
static void kernel_index(struct harness *h, struct fuzz_in *in)
{
	uint8_t which = fuzz_u8(in) % 4;
	uint32_t v = fuzz_u8(in) & 1 ? fuzz_u32(in) : h->prod[which] + (uint32_t)(fuzz_u8(in) % 40) - 20;
	switch (which) {
	case 0: h->cons[0] = h->k_fill = v; break;
	case 1: h->prod[1] = h->k_rx = v; break;
	case 2: h->cons[2] = h->k_tx = v; break;
	default: h->prod[3] = h->k_comp = v; break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size, 0 };
	struct harness *h = calloc(1, sizeof(*h));
	if (!h)
		return 0;
	uint8_t first = fuzz_u8(&in);
	static const uint32_t sizes[] = { 4, 8, 16, 16 };
	h->size = sizes[first & 3];
	struct sn_xsk_geo geo = { .page_size = 8192, .buf_size = 2176, .nbufs = NBUFS };
	if (first & 4) {
		geo.bufs_per_page = 3;
		geo.umem_size = 4 * 8192;
	} else {
		geo.umem_size = (uint64_t)NBUFS * geo.buf_size + (first & 8 ? 100 : 0);
	}
	FUZZ_CHECK(sn_xsk_geo_check(&geo) == 0, "the harness's layout was refused");
	if (sn_xsk_queue_init(&h->q, &geo) != 0) {
		free(h);
		return 0;
	}
	setup_ring(&h->q.fill, &h->prod[0], &h->cons[0], h->fill, h->size);
	setup_ring(&h->q.rx, &h->prod[1], &h->cons[1], h->rx, h->size);
	setup_ring(&h->q.tx, &h->prod[2], &h->cons[2], h->tx, h->size);
	setup_ring(&h->q.comp, &h->prod[3], &h->cons[3], h->comp, h->size);
	while (!fuzz_done(&in)) {
		switch (fuzz_u8(&in) % 10) {
		case 0: driver_lend(h, &in); break;
		case 1: driver_send(h, &in); break;
		case 2: driver_rx(h, &in); break;
		case 3: driver_comp(h, &in); break;
		case 4: kernel_take(h, true); break;
		case 5: kernel_take(h, false); break;
		case 6: kernel_rx(h, &in); break;
		case 7: kernel_complete(h, &in); break;
		case 8: kernel_index(h, &in); break;
		default:
			/* The health looks read the indices only; a stall
			 * needs frames in flight. */
			(void)sn_xsk_queue_out_of_step(&h->q);
			FUZZ_CHECK(!sn_xsk_tx_stalled(&h->q) || h->q.in_tx > 0,
				   "a stall with nothing in flight");
			break;
		}
		check_ledger(h);
	}
	sn_xsk_queue_free(&h->q);
	free(h);
	return 0;
}
