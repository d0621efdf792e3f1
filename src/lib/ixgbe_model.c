#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "device.h"
#include "intel.h"
#include "ixgbe_model.h"
#include "ring.h"

static void violate(struct model *m, const char *what)
{
	if (!m->violation[0])
		snprintf(m->violation, sizeof(m->violation), "%s", what);
}

static void *iova_to_va(struct model *m, uint64_t iova, size_t len)
{
	for (struct sn_dma_region *r = m->ctx->regions; r; r = r->next)
		if (r->mapped && iova >= r->iova && iova + len <= r->iova + r->size)
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

uint32_t model_toeplitz(const uint8_t key[40], const uint8_t *in, unsigned len)
{
	uint32_t hash = 0;
	uint32_t window = (uint32_t)key[0] << 24 | (uint32_t)key[1] << 16 |
			  (uint32_t)key[2] << 8 | key[3];
	for (unsigned i = 0; i < len; i++)
		for (int bit = 7; bit >= 0; bit--) {
			if (in[i] >> bit & 1)
				hash ^= window;
			window = window << 1 | (key[i + 4] >> bit & 1);
		}
	return hash;
}

/* RSS types of the advanced receive write-back (82599 7.1.2.8.1). */
enum { RSS_NONE, RSS_TCP4, RSS_IP4, RSS_TCP6, RSS_IP6 = 5, RSS_UDP4 = 7, RSS_UDP6 };

uint32_t model_rss(struct model *m, const uint8_t *p, uint16_t len, uint32_t *hash)
{
	uint32_t mrqc = R(MRQC), type = RSS_NONE;
	uint8_t key[40], in[36];
	unsigned addr_len = 0, l4 = 0;
	uint8_t proto = 0;
	*hash = 0;
	if ((mrqc & 0xf) != 1 || len < 14)
		return RSS_NONE;
	for (unsigned i = 0; i < 40; i++)
		key[i] = (uint8_t)(R(RSSRK + (i & ~3u)) >> (8 * (i & 3)));
	uint16_t ethertype = (uint16_t)(p[12] << 8 | p[13]);
	if (ethertype == 0x0800 && len >= 34) {
		unsigned ihl = (p[14] & 0xf) * 4u;
		bool fragment = (p[20] & 0x3f) || p[21];
		proto = fragment ? 0 : p[23];
		memcpy(in, p + 26, 8);
		addr_len = 8;
		l4 = 14 + ihl;
		type = (mrqc & (1u << 17)) ? RSS_IP4 : RSS_NONE;
		if (proto == 6 && (mrqc & (1u << 16)))
			type = RSS_TCP4;
		if (proto == 17 && (mrqc & (1u << 22)))
			type = RSS_UDP4;
	} else if (ethertype == 0x86dd && len >= 54) {
		proto = p[20];
		memcpy(in, p + 22, 32);
		addr_len = 32;
		l4 = 54;
		type = (mrqc & (1u << 20)) ? RSS_IP6 : RSS_NONE;
		if (proto == 6 && (mrqc & (1u << 21)))
			type = RSS_TCP6;
		if (proto == 17 && (mrqc & (1u << 23)))
			type = RSS_UDP6;
	}
	if (type == RSS_NONE)
		return RSS_NONE;
	unsigned in_len = addr_len;
	if (type == RSS_TCP4 || type == RSS_UDP4 || type == RSS_TCP6 || type == RSS_UDP6) {
		if (l4 + 4 > len)
			return RSS_NONE;
		memcpy(in + addr_len, p + l4, 4); /* source and destination port */
		in_len += 4;
	}
	*hash = model_toeplitz(key, in, in_len);
	return type;
}

/* A register file in memory cannot see a write to EIMC: once MSI-X is
 * set up the model applies it to EIMS on its next round (tests wait for
 * EIMC to read 0); before, EIMC keeps what reset wrote, for the tests. */
static void model_apply_eimc(struct model *m)
{
	uint32_t clear = R(EIMC);
	if (clear && (R(GPIE) & (1u << 4))) {
		R(EIMS) &= ~clear;
		R(EIMC) = 0;
	}
}

static void model_interrupt(struct model *m, unsigned q)
{
	uint32_t entry = R(IVAR + 4 * (q / 2)) >> ((q & 1) * 16) & 0xff;
	if (!(R(GPIE) & (1u << 4)) || !(entry & 0x80))
		return;
	unsigned vector = entry & 0x7f;
	if (vector > MODEL_QUEUES) {
		violate(m, "IVAR names a vector past the queues and the other causes");
		return;
	}
	uint32_t bit = 1u << vector;
	R(EICR) |= bit;
	if (!(R(EIMS) & bit))
		return;
	atomic_fetch_add(&m->interrupts[vector], 1);
	if ((R(GPIE) & (1u << 30)) && (R(EIAM_EX0) & bit))
		R(EIMS) &= ~bit;
	if (R(EIAC) & bit)
		R(EICR) &= ~bit;
}

static void model_receive(struct model *m, const uint8_t *frame, uint16_t len)
{
	uint32_t hash = 0, type = RSS_NONE, q = 0;
	if (R(RXCSUM) & PCSD) {
		type = model_rss(m, frame, len, &hash);
		if (type != RSS_NONE)
			q = (R(RETA + ((hash & 127) & ~3u)) >> (8 * (hash & 3))) & 0xf;
	} else {
		hash = 0xbeef; /* without PCSD: the IP id and checksum, not a hash */
	}
	if (q >= MODEL_QUEUES) {
		violate(m, "redirection table names a queue past those set up");
		return;
	}
	if (!(R(RXCTRL) & 1) || !(RQ(RXDCTL, q) & ENABLE))
		return;
	uint32_t size = RQ(RDLEN, q) / 16, head = RQ(RDH, q);
	if (size == 0 || head == RQ(RDT, q)) {
		R(MPC0)++; /* no descriptor: the frame is missed */
		return;
	}
	uint64_t base = RQ(RDBAL, q) | (uint64_t)RQ(RDBAH, q) << 32;
	volatile union sn_desc *d = iova_to_va(m, base + head * 16, 16);
	if (!d)
		return;
	uint32_t bsize = (RQ(SRRCTL, q) & 0x1f) * 1024;
	if (len > bsize) {
		violate(m, "receive buffer smaller than a full frame");
		return;
	}
	uint8_t *buf = iova_to_va(m, d->read.addr, len);
	if (!buf)
		return;
	memcpy(buf, frame, len);
	m->frames++;
	m->frames_on[q]++;
	bool lie = m->lie_every && m->frames % m->lie_every == 0;
	d->rx_wb.info = type;
	d->rx_wb.hash = hash;
	d->rx_wb.length = lie ? 9000 : len;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	d->rx_wb.status = SN_DESC_DD | SN_DESC_EOP;
	model_interrupt(m, q);       /* before the head moves: tests wait on it */
	RQ(RDH, q) = (head + 1) % size;
	R(GPRC)++;
	R(GORCL) += len;
}

static void model_transmit(struct model *m, unsigned q)
{
	if (!(R(DMATXCTL) & 1) || !(RQ(TXDCTL, q) & ENABLE))
		return;
	uint32_t size = RQ(TDLEN, q) / 16;
	uint64_t base = RQ(TDBAL, q) | (uint64_t)RQ(TDBAH, q) << 32;
	while (size && RQ(TDH, q) != RQ(TDT, q)) {
		uint32_t head = RQ(TDH, q);
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
		RQ(TDH, q) = (head + 1) % size;
		R(GPTC)++;
		R(GOTCL) += len;
	}
}

/* The lie: status and length only, so the buffer address the driver
 * wrote in the descriptor's first quadword stays where it was. */
static void model_fake_done(struct model *m)
{
	uint32_t size = R(RDLEN) / 16;
	uint64_t base = R(RDBAL) | (uint64_t)R(RDBAH) << 32;
	volatile union sn_desc *d = size ? iova_to_va(m, base + R(RDH) * 16, 16) : NULL;
	if (d) {
		d->rx_wb.length = 60;
		__atomic_thread_fence(__ATOMIC_RELEASE);
		d->rx_wb.status = SN_DESC_DD | SN_DESC_EOP;
	}
	atomic_store(&m->fake_done_at_head, false);
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
		if (atomic_load(&m->fake_done_at_head))
			model_fake_done(m);
		model_apply_eimc(m);
		for (unsigned q = 0; q < MODEL_QUEUES; q++)
			model_transmit(m, q);
		nanosleep(&(struct timespec){ 0, 20000 }, NULL);
	}
	return NULL;
}

int model_init(struct model *m, struct sn_ctx *ctx)
{
	memset(m, 0, sizeof(*m));
	m->ctx = ctx;
	m->bar = aligned_alloc(4096, BAR_SIZE);
	if (!m->bar)
		return -1;
	memset(m->bar, 0, BAR_SIZE);
	return 0;
}

void model_start(struct model *m)
{
	atomic_store(&m->stop, false);
	pthread_create(&m->thread, NULL, model_run, m);
	m->running = true;
}

void model_stop(struct model *m)
{
	if (!m->running)
		return;
	atomic_store(&m->stop, true);
	pthread_join(m->thread, NULL);
	m->running = false;
}

void model_fini(struct model *m)
{
	model_stop(m);
	free(m->bar);
	m->bar = NULL;
}

struct sn_dev *model_open(struct model *m, const struct sn_dev_config *cfg,
			  struct sn_error *err)
{
	return sn_dev_open_model(m->ctx, &sn_ixgbe_driver, m->bar, BAR_SIZE, 0x10fb, cfg, err);
}
