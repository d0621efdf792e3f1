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
		model_transmit(m);
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
