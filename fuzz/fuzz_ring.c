/* The Intel ring engine (src/lib/ring.c) against a device whose every
 * write-back comes from the fuzzer, for each family's descriptor format
 * (igb and ixgbe: advanced; e1000e: extended), one receive and one
 * transmit ring sharing a pool, as a forwarder has them.
 *
 * Input: byte 0 picks the family and the ring size (8, 16 or 32); the rest
 * is a script of operations: the device writes a receive or transmit
 * write-back (status with DD, EOP and error bits, length, and garbage in
 * the other fields) into any descriptor, or completes honestly from its
 * head; the application bursts (an idle transmit burst reads the
 * transmit head register, honest or from the input), frees, allocates,
 * moves a buffer's headroom or refills; the control path checks each
 * ring against a head register value and re-arms a ring found out of
 * step.
 *
 * The fake device reads what the driver posts at each doorbell, as a NIC
 * fetches descriptors, and checks it: a receive descriptor holds a
 * buffer's own address at the default headroom with the data room inside
 * the buffer; a transmit descriptor's address and length lie inside one
 * buffer. After every operation:
 *   - every buffer is in exactly one place (pool, a ring, the harness);
 *   - a received packet is one whose descriptor the device wrote back
 *     done, end of packet, without error bits, with that very length,
 *     between 14 bytes and the data room, at its buffer's own address;
 *   - the counters match: packets and bytes received and sent are what
 *     the harness got and handed over; a transmit error is counted exactly
 *     when a burst stopped at a bad packet; every receive descriptor the
 *     driver took back is a packet, an error, or a device error; a re-arm
 *     after the health check (sn_ring_check, fed the device's head
 *     register from the input) counts one reset and, on transmit, its
 *     buffers as drops.
 * At the end the rings are drained (the device has stopped) and every
 * buffer is home. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "intel.h"
#include "pool_ledger.h"
#include "ring.h"

#define POOL 64
#define MAX_RING 32
#define MAX_BURST 40

/* The device's view of one ring. */
struct fake_nic_ring {
	struct sn_ring ring;
	union sn_desc *desc;
	uint32_t tail;               /* the doorbell register */
	uint32_t fetched;            /* where the device has read up to */
	uint32_t head;               /* next descriptor an honest device completes */
	uint32_t head_reg;           /* transmit: the head register an idle burst reads */
	int slot_buf[MAX_RING];      /* buffer posted at each slot, -1 none */
	bool rs[MAX_RING];           /* transmit: the driver asked for a write-back */
	uint64_t posted;             /* descriptors fetched in all */
};

/* What the device wrote back for each buffer's current posting. */
struct writeback {
	bool valid;
	uint32_t status;
	uint16_t len;
};

static struct pool_ledger ledger;
static union sn_desc *desc_mem[2];
static int slot_of[POOL];                    /* buffer -> slot where posted */
static struct writeback wb[POOL];

static struct {
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes, tx_errors;
	uint64_t rx_rearmed;         /* receive buffers a re-arm gave back */
	uint64_t tx_drops;           /* transmit buffers a re-arm gave back */
	uint64_t resets[2];          /* by ring: transmit, receive */
} expect;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	ledger_init(&ledger, POOL, 0);
	for (int i = 0; i < 2; i++) {
		desc_mem[i] = aligned_alloc(128, MAX_RING * sizeof(union sn_desc));
		FUZZ_CHECK(desc_mem[i] != NULL, "out of memory");
	}
	return 0;
}

/* The device fetches what the driver posted since its last look. */
static void device_fetch(struct fake_nic_ring *f, bool receive)
{
	const struct sn_ring_format *fmt = f->ring.fmt;
	uint32_t mask = f->ring.mask;

	FUZZ_CHECK(f->tail <= mask, "tail %u written past the ring", f->tail);
	while (f->fetched != f->tail) {
		uint32_t s = f->fetched, offset;
		uint64_t addr = f->desc[s].read.addr, cmd = f->desc[s].read.cmd;
		int b = ledger_buffer_at(&ledger, addr, &offset);
		FUZZ_CHECK(b >= 0, "descriptor %u points at %#llx, in no buffer", s,
			   (unsigned long long)addr);
		if (receive) {
			FUZZ_CHECK(offset == SN_POOL_HEADROOM && cmd == 0,
				   "receive descriptor %u: offset %u, cmd %#llx", s, offset,
				   (unsigned long long)cmd);
			FUZZ_CHECK(offset + f->ring.rx_room <= ledger.buf_size,
				   "receive room past the buffer");
		} else {
			uint64_t len = cmd & 0xffff;
			uint64_t rest = cmd & ~(0xffffull | SN_TXD_CMD_RS);
			uint64_t want = fmt->tx_cmd | (fmt->tx_paylen ? len << 46 : 0);
			FUZZ_CHECK(len >= 14 && offset + len <= ledger.buf_size,
				   "transmit descriptor %u: %llu bytes at offset %u", s,
				   (unsigned long long)len, offset);
			FUZZ_CHECK(rest == want, "transmit descriptor %u: cmd %#llx", s,
				   (unsigned long long)cmd);
			f->rs[s] = cmd & SN_TXD_CMD_RS;
		}
		f->slot_buf[s] = b;
		slot_of[b] = (int)s;
		wb[b].valid = false;
		f->fetched = (s + 1) & mask;
		f->posted++;
	}
}

static bool posted_here(const struct fake_nic_ring *f, uint32_t s)
{
	int b = f->slot_buf[s];
	return b >= 0 && slot_of[b] == (int)s;
}

static void rx_writeback(struct fake_nic_ring *f, uint32_t s, uint32_t status, uint16_t len,
			 uint32_t info)
{
	f->desc[s].rx_wb.info = info;  /* overwrites the address, as a NIC does */
	f->desc[s].rx_wb.length = len;
	f->desc[s].rx_wb.status = status;
	if (posted_here(f, s))
		wb[f->slot_buf[s]] = (struct writeback){ true, status, len };
}

/* The buffers each ring holds, by its own bookkeeping. */
static void check_partition(struct fake_nic_ring *rx, struct fake_nic_ring *tx)
{
	ledger_begin(&ledger);
	for (int r = 0; r < 2; r++) {
		const struct sn_ring *ring = r ? &tx->ring : &rx->ring;
		FUZZ_CHECK(ring->in_flight < ring->size, "in flight %u", ring->in_flight);
		FUZZ_CHECK(((ring->next_clean + ring->in_flight) & ring->mask) == ring->next_use,
			   "ring window: clean %u + %u in flight != use %u", ring->next_clean,
			   ring->in_flight, ring->next_use);
		for (uint32_t i = 0; i < ring->in_flight; i++)
			ledger_mark(&ledger, ring->slots[(ring->next_clean + i) & ring->mask],
				    r ? "transmit ring" : "receive ring");
	}
	ledger_end(&ledger);
}

static void check_counters(const struct fake_nic_ring *rx, const struct fake_nic_ring *tx)
{
	const struct sn_ring_counters *r = &rx->ring.stats, *t = &tx->ring.stats;
	uint64_t taken_back = rx->posted - rx->ring.in_flight - expect.rx_rearmed;

	FUZZ_CHECK(r->packets == expect.rx_packets && r->bytes == expect.rx_bytes,
		   "receive counters %llu/%llu, harness got %llu/%llu",
		   (unsigned long long)r->packets, (unsigned long long)r->bytes,
		   (unsigned long long)expect.rx_packets, (unsigned long long)expect.rx_bytes);
	FUZZ_CHECK(r->packets + r->errors <= taken_back &&
			   taken_back <= r->packets + r->errors + r->device_errors,
		   "receive: %llu descriptors back, %llu packets, %llu errors, %llu device errors",
		   (unsigned long long)taken_back, (unsigned long long)r->packets,
		   (unsigned long long)r->errors, (unsigned long long)r->device_errors);
	FUZZ_CHECK(t->packets == expect.tx_packets && t->bytes == expect.tx_bytes &&
			   t->errors == expect.tx_errors && t->drops == expect.tx_drops,
		   "transmit counters %llu/%llu/%llu errors, expected %llu/%llu/%llu",
		   (unsigned long long)t->packets, (unsigned long long)t->bytes,
		   (unsigned long long)t->errors, (unsigned long long)expect.tx_packets,
		   (unsigned long long)expect.tx_bytes, (unsigned long long)expect.tx_errors);
}

/* The rings' MTU limit this run (MTU + 14): the default MTU's, or as
 * large as the buffers. */
static uint32_t max_frame;

static void rx_burst(struct fake_nic_ring *rx, uint16_t n)
{
	struct sn_pkt *pkts[MAX_BURST];
	uint32_t reject = SN_DESC_EOP | rx->ring.fmt->rx_error_mask;
	uint16_t got = sn_ring_rx_burst(&rx->ring, pkts, n);

	FUZZ_CHECK(got <= n, "burst of %u returned %u", n, got);
	for (uint16_t i = 0; i < got; i++) {
		struct sn_pkt *p = pkts[i];
		ledger_take(&ledger, p, "receive burst");
		const struct sn_buf_home *home = &ledger.pool->home[p->index];
		const struct writeback *w = &wb[p->index];
		FUZZ_CHECK(w->valid && (w->status & SN_DESC_DD) && (w->status & reject) == SN_DESC_EOP,
			   "buffer %u received without a good write-back (status %#x)", p->index,
			   w->status);
		FUZZ_CHECK(p->len == w->len && p->len >= 14 && p->len <= ledger.room &&
				   p->len <= max_frame,
			   "buffer %u: length %u, device wrote %u, room %u", p->index, p->len, w->len,
			   ledger.room);
		FUZZ_CHECK(p->headroom == SN_POOL_HEADROOM && p->data == home->va + SN_POOL_HEADROOM &&
				   p->iova == home->iova + SN_POOL_HEADROOM,
			   "buffer %u received at another address", p->index);
		expect.rx_packets++;
		expect.rx_bytes += p->len;
	}
	device_fetch(rx, true);
}

static bool tx_acceptable(const struct sn_pkt *p)
{
	const struct sn_buf_home *home = &ledger.pool->home[p->index];
	return p->len >= 14 && p->len <= max_frame && p->headroom + p->len <= ledger.buf_size &&
	       p->iova == home->iova + p->headroom && p->data == home->va + p->headroom;
}

/* Hands k of the harness's packets to transmit (allocating when it holds
 * too few), with lengths from the input, valid or not. */
static void tx_burst(struct fake_nic_ring *tx, struct fuzz_in *in, uint16_t k)
{
	struct sn_pkt *pkts[MAX_BURST];
	if (ledger.num_held < k) {
		uint32_t want = k - ledger.num_held;
		uint32_t got = sn_pkt_alloc_bulk(ledger.pool, pkts, want);
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
	uint16_t sent = sn_ring_tx_burst(&tx->ring, pkts, k);
	FUZZ_CHECK(sent <= k, "burst of %u sent %u", k, sent);
	for (uint16_t i = 0; i < sent; i++) {
		FUZZ_CHECK(tx_acceptable(pkts[i]), "buffer %u sent with length %u, headroom %u",
			   pkts[i]->index, pkts[i]->len, pkts[i]->headroom);
		expect.tx_packets++;
		expect.tx_bytes += pkts[i]->len;
	}
	/* A burst ends early at a full ring, or else at a bad packet, which
	 * is counted. */
	if (sent < k && tx->ring.in_flight != tx->ring.size - 1) {
		FUZZ_CHECK(!tx_acceptable(pkts[sent]), "burst stopped at good buffer %u",
			   pkts[sent]->index);
		expect.tx_errors++;
	}
	/* The sent ones are the ring's now: the first `sent` of held_list,
	 * taken from the back so the indices stay put. */
	for (uint16_t i = sent; i > 0; i--)
		ledger_give(&ledger, (uint32_t)(i - 1));
	device_fetch(tx, false);
}

/* An application moving a held buffer's data offset (a prepended header),
 * consistently or not: transmit must refuse the inconsistent ones and
 * the pool must put the offsets back when it comes home. */
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

static void honest_rx(struct fake_nic_ring *rx, struct fuzz_in *in)
{
	uint8_t k = fuzz_u8(in) % 8;
	for (uint8_t i = 0; i < k && rx->head != rx->fetched; i++) {
		uint16_t len = (uint16_t)(60 + fuzz_u8(in) * 8);
		rx_writeback(rx, rx->head, SN_DESC_DD | SN_DESC_EOP, len, 0);
		rx->head = (rx->head + 1) & rx->ring.mask;
	}
}

static void honest_tx(struct fake_nic_ring *tx, struct fuzz_in *in)
{
	uint8_t k = fuzz_u8(in) % 16;
	for (uint8_t i = 0; i < k && tx->head != tx->fetched; i++) {
		if (tx->rs[tx->head])
			tx->desc[tx->head].tx_wb.status = SN_DESC_DD;
		tx->head = (tx->head + 1) & tx->ring.mask;
	}
}

/* What the driver's once-a-second health check does with the device's
 * head register (from the input, or the honest device's): a ring found
 * out of step or stalled is re-armed, its buffers back in the pool
 * (transmit: counted as drops), and the device starts again at 0. */
static void control_check(struct fake_nic_ring *f, bool receive, uint32_t head)
{
	if (sn_ring_check(&f->ring, head, receive) == SN_RING_OK)
		return;
	if (receive)
		expect.rx_rearmed += f->ring.in_flight;
	else
		expect.tx_drops += f->ring.in_flight;
	expect.resets[receive]++;
	sn_ring_rearm(&f->ring, receive);
	f->tail = 0;
	f->fetched = 0;
	f->head = 0;
	for (int i = 0; i < MAX_RING; i++) {
		f->slot_buf[i] = -1;
		f->rs[i] = false;
	}
	if (receive) {
		sn_ring_rx_refill(&f->ring);
		device_fetch(f, true);
	}
	FUZZ_CHECK(f->ring.stats.resets == expect.resets[receive], "%llu resets counted, %llu made",
		   (unsigned long long)f->ring.stats.resets,
		   (unsigned long long)expect.resets[receive]);
}

static void ring_setup(struct fake_nic_ring *f, const struct sn_intel_family *fam,
		       union sn_desc *desc, uint16_t size)
{
	memset(f, 0, sizeof(*f));
	memset(desc, 0, MAX_RING * sizeof(*desc));
	f->desc = desc;
	for (int i = 0; i < MAX_RING; i++)
		f->slot_buf[i] = -1;
	FUZZ_CHECK(sn_ring_init(&f->ring, ledger.ctx, fam->format, desc, size, &f->tail) == 0,
		   "sn_ring_init");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct sn_intel_family *const families[] = {
		&sn_igb_family, &sn_e1000e_family, &sn_ixgbe_family,
	};
	struct fuzz_in in = { data, size, 0 };
	struct fake_nic_ring rx, tx;
	uint8_t first = fuzz_u8(&in);
	const struct sn_intel_family *fam = families[first % 3];
	uint16_t ring_size = (uint16_t)(8u << (first / 3 % 3));

	memset(&expect, 0, sizeof(expect));
	for (int i = 0; i < POOL; i++) {
		slot_of[i] = -1;
		wb[i].valid = false;
	}
	ring_setup(&rx, fam, desc_mem[0], ring_size);
	ring_setup(&tx, fam, desc_mem[1], ring_size);
	rx.ring.pool = ledger.pool;
	rx.ring.rx_room = ledger.room;
	max_frame = (first / 9) % 2 ? ledger.room : SN_MTU_DEFAULT + 14;
	rx.ring.max_frame = max_frame;
	tx.ring.max_frame = max_frame;
	tx.ring.head = &tx.head_reg;

	sn_ring_rx_refill(&rx.ring);
	device_fetch(&rx, true);
	while (!fuzz_done(&in)) {
		uint8_t op = fuzz_u8(&in);
		uint32_t s = fuzz_u8(&in) & rx.ring.mask;
		switch (op % 13) {
		case 0: { /* a lying receive write-back, anywhere */
			uint32_t status = fuzz_u32(&in);
			uint16_t len = fuzz_u16(&in);
			rx_writeback(&rx, s, status, len, fuzz_u32(&in));
			break;
		}
		case 1: { /* a plausible one: done, EOP or not, maybe error bits */
			uint8_t how = fuzz_u8(&in);
			uint32_t errors = (how & 2) ? fam->format->rx_error_mask & fuzz_u32(&in) : 0;
			rx_writeback(&rx, s, SN_DESC_DD | ((how & 1) ? 0 : SN_DESC_EOP) | errors,
				     fuzz_u16(&in), 0);
			break;
		}
		case 2: /* a transmit write-back: done, or any status */
			tx.desc[s].tx_wb.status = (fuzz_u8(&in) & 1) ? fuzz_u32(&in) : SN_DESC_DD;
			break;
		case 3:
			honest_rx(&rx, &in);
			break;
		case 4:
			honest_tx(&tx, &in);
			break;
		case 5:
			rx_burst(&rx, (uint16_t)(1 + s % MAX_BURST));
			break;
		case 6:
			tx_burst(&tx, &in, (uint16_t)(s % MAX_BURST));
			break;
		case 7:
			ledger_free(&ledger, s % 16);
			break;
		case 8: {
			struct sn_pkt *pkts[16];
			uint32_t got = sn_pkt_alloc_bulk(ledger.pool, pkts, s % 16);
			for (uint32_t i = 0; i < got; i++) {
				struct sn_pkt *p = pkts[i];
				const struct sn_buf_home *home = &ledger.pool->home[p->index];
				ledger_take(&ledger, p, "allocation");
				FUZZ_CHECK(p->len == 0 && p->headroom == SN_POOL_HEADROOM &&
						   p->data == home->va + SN_POOL_HEADROOM &&
						   p->iova == home->iova + SN_POOL_HEADROOM,
					   "allocated buffer %u not reset", p->index);
			}
			break;
		}
		case 9:
			move_headroom(&in);
			break;
		case 10:
			sn_ring_rx_refill(&rx.ring);
			device_fetch(&rx, true);
			break;
		case 11: /* the control path's look at the head registers */
			control_check(&rx, true, (s & 1) ? fuzz_u32(&in) : rx.head);
			control_check(&tx, false, (s & 2) ? fuzz_u32(&in) : tx.head);
			break;
		case 12: /* an idle transmit call, which may read the head register */
			tx.head_reg = (s & 1) ? fuzz_u32(&in) : tx.head;
			tx_burst(&tx, &in, 0);
			break;
		}
		check_partition(&rx, &tx);
		check_counters(&rx, &tx);
	}
	sn_ring_drain(&rx.ring);
	sn_ring_drain(&tx.ring);
	check_partition(&rx, &tx);
	sn_ring_fini(&rx.ring);
	sn_ring_fini(&tx.ring);
	ledger_all_home(&ledger);
	return 0;
}
