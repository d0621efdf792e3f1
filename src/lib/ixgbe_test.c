/* ixgbe on the host, against a model of the 82599's registers and ring
 * protocol written from its datasheet (QEMU has no ixgbe). The model runs
 * in a thread, like the NIC would: it completes resets, latches enables,
 * checks the start-up order the datasheet asks for, transmits descriptors
 * between TDH and TDT, and loops the frames back into the receive ring. */
#define _GNU_SOURCE
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
#include "ring.h"

#define BAR_SIZE 0x20000
#define R(off) (*(volatile uint32_t *)(m->bar + (off)))
#define CTRL 0x00000
#define EIMC 0x00888
#define RDRXCTL 0x02F00
#define RXCTRL 0x03000
#define HLREG0 0x04240
#define LINKS 0x042A4
#define DMATXCTL 0x04A80
#define FCTRL 0x05080
#define RAL0 0x0A200
#define RAH0 0x0A204
#define EEC 0x10010
#define MPC0 0x03FA0
#define GPRC 0x04074
#define GPTC 0x04080
#define GORCL 0x04088
#define GOTCL 0x04090
#define RDBAL 0x01000
#define RDBAH 0x01004
#define RDLEN 0x01008
#define RDH 0x01010
#define SRRCTL 0x01014
#define RDT 0x01018
#define RXDCTL 0x01028
#define TDBAL 0x06000
#define TDBAH 0x06004
#define TDLEN 0x06008
#define TDH 0x06010
#define TDT 0x06018
#define TXDCTL 0x06028
#define ENABLE (1u << 25)

struct model {
	uint8_t *bar;
	struct sn_ctx *ctx;
	pthread_t thread;
	atomic_bool stop;
	bool reset_hangs;            /* never complete a reset */
	unsigned lie_every;          /* write an impossible length every Nth frame */
	unsigned frames;
	char violation[160];         /* the first datasheet rule broken */
};

static void violate(struct model *m, const char *what)
{
	if (!m->violation[0])
		snprintf(m->violation, sizeof(m->violation), "%s", what);
}

static void *iova_to_va(struct model *m, uint64_t iova, size_t len)
{
	for (struct sn_dma_region *r = m->ctx->regions; r; r = r->next)
		if (iova >= r->iova && iova + len <= r->iova + r->size)
			return r->va + (iova - r->iova);
	violate(m, "DMA to an address outside every mapped region");
	return NULL;
}

/* 4.6.3: a reset clears the registers, reloads the EEPROM (MAC, ARD),
 * finishes DMA initialisation and brings the 10G link up. */
static void model_reset(struct model *m)
{
	memset(m->bar, 0, BAR_SIZE);
	R(RAL0) = 0x5634120a;
	R(RAH0) = 0x9a78 | (1u << 31);
	R(EEC) = 1u << 9;
	R(RDRXCTL) = 1u << 3;
	R(LINKS) = (1u << 30) | (3u << 28);
}

static void model_receive(struct model *m, const uint8_t *frame, uint16_t len)
{
	if (!(R(RXCTRL) & 1) || !(R(RXDCTL) & ENABLE))
		return;
	uint32_t size = R(RDLEN) / 16, head = R(RDH);
	if (size == 0 || head == R(RDT)) {
		R(MPC0)++; /* no descriptor: the frame is missed */
		return;
	}
	uint64_t base = R(RDBAL) | (uint64_t)R(RDBAH) << 32;
	volatile union sn_desc *d = iova_to_va(m, base + head * 16, 16);
	if (!d)
		return;
	uint32_t bsize = (R(SRRCTL) & 0x1f) * 1024;
	if (len > bsize) {
		violate(m, "receive buffer smaller than a full frame");
		return;
	}
	uint8_t *buf = iova_to_va(m, d->read.addr, len);
	if (!buf)
		return;
	memcpy(buf, frame, len);
	m->frames++;
	bool lie = m->lie_every && m->frames % m->lie_every == 0;
	d->rx_wb.info = 0;
	d->rx_wb.length = lie ? 9000 : len;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	d->rx_wb.status = SN_DESC_DD | SN_DESC_EOP;
	R(RDH) = (head + 1) % size;
	R(GPRC)++;
	R(GORCL) += len;
}

static void model_transmit(struct model *m)
{
	if (!(R(DMATXCTL) & 1) || !(R(TXDCTL) & ENABLE))
		return;
	uint32_t size = R(TDLEN) / 16;
	uint64_t base = R(TDBAL) | (uint64_t)R(TDBAH) << 32;
	while (size && R(TDH) != R(TDT)) {
		uint32_t head = R(TDH);
		volatile union sn_desc *d = iova_to_va(m, base + head * 16, 16);
		if (!d)
			return;
		uint64_t cmd = d->read.cmd;
		uint16_t len = (uint16_t)cmd;
		/* 7.2.3.2.4: DTYP data, DEXT, EOP, IFCS, RS; PAYLEN = length. */
		if (((cmd >> 20) & 0xf) != 3 || !(cmd >> 24 & 0x20) || !(cmd >> 24 & 0x01) ||
		    !(cmd >> 24 & 0x02) || (cmd >> 46) != len)
			violate(m, "malformed advanced transmit descriptor");
		const uint8_t *frame = iova_to_va(m, d->read.addr, len);
		if (frame) {
			uint8_t copy[2048];
			memcpy(copy, frame, len < sizeof(copy) ? len : sizeof(copy));
			model_receive(m, copy, len); /* a cable looped back */
		}
		/* Write-back: DD only where RS asks for it. */
		if (cmd & SN_TXD_CMD_RS)
			d->tx_wb.status = SN_DESC_DD;
		R(TDH) = (head + 1) % size;
		R(GPTC)++;
		R(GOTCL) += len;
	}
}

static void *model_run(void *arg)
{
	struct model *m = arg;
	while (!atomic_load(&m->stop)) {
		if ((R(CTRL) & ((1u << 26) | (1u << 3))) && !m->reset_hangs) {
			nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
			model_reset(m);
		}
		if ((R(RXDCTL) & ENABLE) && R(RDT) && !(R(RXCTRL) & 1) && R(FCTRL) == 0)
			violate(m, "receive tail written before the receiver was configured");
		model_transmit(m);
		nanosleep(&(struct timespec){ 0, 20000 }, NULL);
	}
	return NULL;
}

static int setup(void **state)
{
	struct model *m = calloc(1, sizeof(*m));
	m->bar = aligned_alloc(4096, BAR_SIZE);
	memset(m->bar, 0, BAR_SIZE);
	m->ctx = sn_ctx_create(NULL, NULL);
	if (!m->ctx || sn_ctx_emulate_iommu(m->ctx, (1ull << 39) - 1) != 0)
		return -1;
	*state = m;
	return 0;
}

static void start_model(struct model *m)
{
	pthread_create(&m->thread, NULL, model_run, m);
}

static int teardown(void **state)
{
	struct model *m = *state;
	atomic_store(&m->stop, true);
	if (m->thread)
		pthread_join(m->thread, NULL);
	sn_ctx_destroy(m->ctx);
	free(m->bar);
	free(m);
	return 0;
}

static struct sn_dev *open_model(struct model *m, struct sn_error *err)
{
	struct sn_dev_config cfg = { .rx_ring_size = 128, .tx_ring_size = 128 };
	return sn_dev_open_model(m->ctx, &sn_ixgbe_driver, m->bar, BAR_SIZE, 0x10fb, &cfg, err);
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

static void a_reset_that_never_finishes_is_reported(void **state)
{
	struct model *m = *state;
	struct sn_error err = { 0 };
	m->reset_hangs = true;
	start_model(m);
	assert_null(open_model(m, &err));
	assert_non_null(strstr(err.msg, "reset did not complete"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(start_up_follows_the_datasheet, setup, teardown),
		cmocka_unit_test_setup_teardown(loopback_moves_every_frame_intact, setup, teardown),
		cmocka_unit_test_setup_teardown(lying_lengths_cost_a_packet_each, setup, teardown),
		cmocka_unit_test_setup_teardown(a_reset_that_never_finishes_is_reported, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
