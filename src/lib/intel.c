#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "counter.h"
#include "error.h"
#include "intel.h"

void sn_intel_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

int sn_intel_wait(struct sn_intel_nic *nic, uint32_t off, uint32_t mask,
		  uint32_t want, unsigned timeout_ms)
{
	for (unsigned waited = 0; waited <= timeout_ms; waited++) {
		uint32_t v = sn_mmio_rd(nic->bar, off);
		if (v == 0xffffffffu && mask != 0xffffffffu)
			return -ENODEV; /* the device is gone */
		if ((v & mask) == want)
			return 0;
		sn_intel_sleep_ms(1);
	}
	return -ETIMEDOUT;
}

/* Accessors for the registers igb and e1000e share (e1000_wr_RCTL, ...). */
SN_E1000_COMMON_GLOBALS(SN_REG_GLOBAL_ACCESSOR, e1000)

#define E1000_CTRL_SLU (1u << 6)
#define E1000_STATUS_LU (1u << 1)
#define E1000_RCTL_EN (1u << 1)
#define E1000_RCTL_UPE (1u << 3)
#define E1000_RCTL_MPE (1u << 4)
#define E1000_RCTL_LPE (1u << 5)
#define E1000_RCTL_BAM (1u << 15)
#define E1000_RCTL_SECRC (1u << 26) /* BSIZE 00 with BSEX 0: 2048-byte buffers */
#define E1000_TCTL_EN (1u << 1)
#define E1000_TCTL_PSP (1u << 3)
#define E1000_TCTL_CT_DEFAULT (0x0fu << 4)
#define E1000_TCTL_COLD_FULL_DUPLEX (0x3fu << 12)

void sn_intel_e1000_enable(struct sn_intel_nic *nic, bool promiscuous, bool long_packets)
{
	volatile uint8_t *bar = nic->bar;
	uint32_t rctl = E1000_RCTL_EN | E1000_RCTL_BAM | E1000_RCTL_SECRC;
	if (promiscuous)
		rctl |= E1000_RCTL_UPE | E1000_RCTL_MPE;
	if (long_packets)
		rctl |= E1000_RCTL_LPE;
	e1000_wr_RCTL(bar, rctl);
	e1000_wr_TCTL(bar, E1000_TCTL_EN | E1000_TCTL_PSP | E1000_TCTL_CT_DEFAULT |
				   E1000_TCTL_COLD_FULL_DUPLEX);
	e1000_wr_CTRL(bar, e1000_rd_CTRL(bar) | E1000_CTRL_SLU);
}

void sn_intel_e1000_disable(struct sn_intel_nic *nic)
{
	volatile uint8_t *bar = nic->bar;
	e1000_wr_RCTL(bar, e1000_rd_RCTL(bar) & ~E1000_RCTL_EN);
	e1000_wr_TCTL(bar, e1000_rd_TCTL(bar) & ~E1000_TCTL_EN);
}

/* Bit 25 of RXDCTL and TXDCTL in igb and ixgbe. Clearing it stops the
 * queue once the NIC is done with what it fetched; the NIC confirms by
 * reading the bit back cleared (82576 and 82599 datasheets, "dynamic
 * enabling and disabling of queues"). */
#define QUEUE_CTL_ENABLE (1u << 25)

void sn_intel_queue_ctl_enable(struct sn_intel_nic *nic, uint32_t ctl, bool on)
{
	uint32_t v = sn_mmio_rd(nic->bar, ctl);
	sn_mmio_wr(nic->bar, ctl, on ? v | QUEUE_CTL_ENABLE : v & ~QUEUE_CTL_ENABLE);
	sn_intel_wait(nic, ctl, QUEUE_CTL_ENABLE, on ? QUEUE_CTL_ENABLE : 0, 10);
}

void sn_intel_e1000_link(struct sn_intel_nic *nic, struct sn_link *link)
{
	static const uint32_t speeds[4] = { 10, 100, 1000, 1000 };
	uint32_t status = e1000_rd_STATUS(nic->bar);
	link->up = status & E1000_STATUS_LU;
	link->speed_mbps = link->up ? speeds[(status >> 6) & 3] : 0;
}

/* RAL0 holds bytes 0-3 of the address, RAH0 bytes 4-5 (same in all three
 * families). */
static void read_mac(struct sn_intel_nic *nic, uint8_t mac[6])
{
	uint32_t lo = sn_mmio_rd(nic->bar, nic->family->ral0);
	uint32_t hi = sn_mmio_rd(nic->bar, nic->family->ral0 + 4);
	for (unsigned i = 0; i < 4; i++)
		mac[i] = (uint8_t)(lo >> (8 * i));
	mac[4] = (uint8_t)hi;
	mac[5] = (uint8_t)(hi >> 8);
}

static const struct sn_intel_family *family_of(const struct sn_device *dev)
{
	return dev->driver->data;
}

static int setup_ring_memory(struct sn_intel_nic *nic, struct sn_ring *ring,
			     uint16_t size, struct sn_error *err)
{
	/* Descriptor rings are written back by the device: read-write. */
	int rc = sn_dma_alloc(nic->dev->ctx, (size_t)size * sizeof(union sn_desc),
			      SN_DMA_DEVICE_RW, &ring->mem, err);
	if (rc < 0)
		return rc;
	struct sn_dma_region *mem = ring->mem;
	rc = sn_ring_init(ring, nic->dev->ctx, nic->family->format, mem->va, size, NULL);
	ring->mem = mem; /* sn_ring_init cleared it */
	if (rc < 0)
		return sn_fail(err, rc, "%s: bad ring size %u (a power of two, 8 to 32768)",
			       nic->dev->pci.addr, size);
	return 0;
}

static uint16_t ring_size(const struct sn_intel_family *f, uint16_t requested)
{
	return requested ? requested : f->default_ring;
}

static int setup_queues(struct sn_intel_nic *nic, const struct sn_dev_config *cfg,
			struct sn_error *err)
{
	const struct sn_intel_family *f = nic->family;
	struct sn_mempool *pool = nic->dev->rx_pool;
	struct sn_queue_regs regs;
	int rc;

	if (sn_mempool_data_room(pool) < f->min_rx_room)
		return sn_fail(err, EINVAL, "%s: %s needs receive buffers with at least %u "
			       "bytes of data room; this pool has %u (create it with buf_size "
			       ">= %u)", nic->dev->pci.addr, f->name, f->min_rx_room,
			       sn_mempool_data_room(pool), f->min_rx_room + SN_POOL_HEADROOM);
	uint32_t nic_buf = f->rx_buf_fixed ? f->rx_buf_fixed : sn_mempool_data_room(pool) & ~1023u;
	if (nic->dev->mtu + 14u > nic_buf)
		return sn_fail(err, EINVAL, "%s: MTU %u needs %u-byte frames; %s fills receive "
			       "buffers of %u bytes here, so the largest MTU is %u (frames spanning "
			       "several buffers, jumbo frames, are not supported yet)",
			       nic->dev->pci.addr, nic->dev->mtu, nic->dev->mtu + 14u, f->name,
			       nic_buf, nic_buf - 14);
	for (unsigned q = 0; q < nic->rx_queues; q++) {
		struct sn_ring *ring = &nic->rx[q];
		uint16_t size = ring_size(f, cfg->rx_ring_size);
		if ((rc = setup_ring_memory(nic, ring, size, err)) < 0 ||
		    (rc = f->setup_rx_queue(nic, q, sn_dma_iova(ring->mem, 0), size,
					    sn_mempool_data_room(pool), &regs, err)) < 0)
			return rc;
		ring->head = (volatile uint32_t *)(nic->bar + regs.head);
		ring->tail = (volatile uint32_t *)(nic->bar + regs.tail);
		ring->pool = pool;
		ring->rx_room = sn_mempool_data_room(pool);
		ring->max_frame = nic->dev->mtu + 14u;
		nic->dev->fast.rxq[q] = ring;
	}
	for (unsigned q = 0; q < nic->tx_queues; q++) {
		struct sn_ring *ring = &nic->tx[q];
		uint16_t size = ring_size(f, cfg->tx_ring_size);
		if ((rc = setup_ring_memory(nic, ring, size, err)) < 0 ||
		    (rc = f->setup_tx_queue(nic, q, sn_dma_iova(ring->mem, 0), size,
					    &regs, err)) < 0)
			return rc;
		ring->head = (volatile uint32_t *)(nic->bar + regs.head);
		ring->tail = (volatile uint32_t *)(nic->bar + regs.tail);
		ring->max_frame = nic->dev->mtu + 14u;
		nic->dev->fast.txq[q] = ring;
	}
	return 0;
}

static int setup_interrupts(struct sn_intel_nic *nic, const struct sn_intr *intr,
			    struct sn_error *err)
{
	const struct sn_intel_family *f = nic->family;
	if (!f->irq_setup)
		return sn_fail(err, ENOTSUP, "%s: the %s driver has no receive interrupts: "
			       "poll instead", nic->dev->pci.addr, f->name);
	if (!intr->msix)
		return sn_fail(err, ENOTSUP, "%s: %s interrupts need MSI-X, which the device "
			       "does not offer: poll instead", nic->dev->pci.addr, f->name);
	uint16_t itr = intr->itr_usec ? intr->itr_usec : SN_INTEL_DEFAULT_ITR_USEC;
	return f->irq_setup(nic, intr, itr, err);
}

const uint8_t sn_rss_default_key[SN_RSS_KEY_LEN] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
	0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
	0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
	0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

/* RXCSUM.PCSD (bit 13, all three families): the write-back's second
 * dword carries the RSS hash instead of the IP id and checksum. */
#define RXCSUM_PCSD (1u << 13)

void sn_intel_setup_rss(struct sn_intel_nic *nic, uint32_t rss_types)
{
	const struct sn_intel_rss *r = nic->family->rss;
	volatile uint8_t *bar = nic->bar;
	uint32_t types = rss_types ? rss_types : SN_RSS_ALL, mrqc = r->mrqc_enable;

	/* Key byte i is byte i % 4 (from the low end) of register i / 4. */
	for (unsigned i = 0; i < SN_RSS_KEY_LEN; i += 4)
		sn_mmio_wr(bar, r->rssrk + i,
			   (uint32_t)sn_rss_default_key[i] | (uint32_t)sn_rss_default_key[i + 1] << 8 |
			   (uint32_t)sn_rss_default_key[i + 2] << 16 |
			   (uint32_t)sn_rss_default_key[i + 3] << 24);
	/* Entry i sends hashes whose low 7 bits are i to queue i mod n: the
	 * queues in turn, so each gets an equal share of the hash space. */
	for (unsigned i = 0; i < SN_RSS_RETA_ENTRIES; i += 4) {
		uint32_t word = 0;
		for (unsigned j = 0; j < 4; j++)
			word |= (uint32_t)(((i + j) % nic->rx_queues) << r->reta_shift) << (8 * j);
		sn_mmio_wr(bar, r->reta + i, word);
	}
	sn_mmio_wr(bar, r->rxcsum, sn_mmio_rd(bar, r->rxcsum) | RXCSUM_PCSD);
	for (unsigned t = 0; t < 6; t++)
		if (types & (1u << t))
			mrqc |= r->fields[t];
	sn_mmio_wr(bar, r->mrqc, mrqc);
	for (unsigned q = 0; q < nic->rx_queues; q++)
		nic->rx[q].rss_type_mask = nic->family->format->rx_rss_type_mask;
}

int sn_intel_start(struct sn_device *dev, const struct sn_dev_config *cfg,
		   struct sn_error *err)
{
	const struct sn_intel_family *f = family_of(dev);
	struct sn_intel_nic *nic = calloc(1, sizeof(*nic));
	int rc;

	if (!nic)
		return sn_fail(err, ENOMEM, "out of memory");
	dev->priv = nic;
	nic->dev = dev;
	nic->family = f;
	nic->bar = dev->pci.bar[0].mmio;
	nic->rx_queues = dev->rx_queues;
	nic->tx_queues = dev->tx_queues;
	if (!nic->bar)
		return sn_fail(err, ENODEV, "%s: BAR 0 is not mapped", dev->pci.addr);
	uint16_t max = f->max_queues_of ? f->max_queues_of(dev->pci.device) : f->max_queues;
	if (cfg->rss_types & ~SN_RSS_ALL)
		return sn_fail(err, EINVAL, "%s: unknown RSS types 0x%x (the SN_RSS_* bits are "
			       "0x%x)", dev->pci.addr, cfg->rss_types, SN_RSS_ALL);
	if (nic->rx_queues > max)
		return sn_fail(err, EINVAL, "%s (%s) has %u receive queues; ask for 1 to %u",
			       dev->pci.addr, f->name, max, max);
	if (nic->tx_queues > max)
		return sn_fail(err, EINVAL, "%s (%s) has %u transmit queues; ask for 1 to %u",
			       dev->pci.addr, f->name, max, max);
	nic->counter_totals = calloc(f->num_registers, sizeof(uint64_t));
	nic->counter_reads = calloc(f->num_registers, sizeof(uint64_t));
	if (!nic->counter_totals || !nic->counter_reads)
		return sn_fail(err, ENOMEM, "out of memory");
	if ((rc = f->reset(nic, err)) < 0)
		return rc;
	sn_pci_set_bus_master(&dev->pci, true);   /* only now: see sn_pci_open */
	/* Counters clear on read: start every total from zero. */
	sn_regs_accumulate(nic->bar, f->registers, f->num_registers, nic->counter_totals);
	memset(nic->counter_totals, 0, f->num_registers * sizeof(uint64_t));
	read_mac(nic, dev->mac);
	if ((rc = setup_queues(nic, cfg, err)) < 0)
		return rc;
	if (dev->intr.on && (rc = setup_interrupts(nic, &dev->intr, err)) < 0)
		return rc;
	if (nic->rx_queues > 1)
		sn_intel_setup_rss(nic, cfg->rss_types);
	f->enable(nic, !cfg->unicast_filter);
	for (unsigned q = 0; q < nic->rx_queues; q++)
		sn_ring_rx_refill(&nic->rx[q]);
	dev->fast.rx_burst = sn_ring_rx_burst;
	dev->fast.tx_burst = sn_ring_tx_burst;
	return 0;
}

void sn_intel_stop(struct sn_device *dev)
{
	struct sn_intel_nic *nic = dev->priv;
	if (nic && nic->bar)
		nic->family->disable(nic);
}

void sn_intel_release(struct sn_device *dev)
{
	struct sn_intel_nic *nic = dev->priv;
	if (!nic)
		return;
	for (unsigned q = 0; q < SN_MAX_QUEUES; q++) {
		struct sn_ring *rings[2] = { &nic->rx[q], &nic->tx[q] };
		for (unsigned i = 0; i < 2; i++) {
			sn_ring_drain(rings[i]);
			sn_ring_fini(rings[i]);
			if (rings[i]->mem)
				sn_dma_free(dev->ctx, rings[i]->mem);
		}
	}
	free(nic->counter_totals);
	free(nic->counter_reads);
	free(nic);
	dev->priv = NULL;
}

int sn_intel_link(struct sn_device *dev, struct sn_link *link)
{
	struct sn_intel_nic *nic = dev->priv;
	nic->family->link(nic, link);
	return 0;
}

/* The ring's counters, read while its own thread may be updating them. */
static void add_ring(uint64_t *packets, uint64_t *bytes, uint64_t *drops, uint64_t *errors,
		     uint64_t *device_errors, uint64_t *resets, const struct sn_ring *ring)
{
	*packets += sn_counter_read(&ring->stats.packets);
	*bytes += sn_counter_read(&ring->stats.bytes);
	*drops += sn_counter_read(&ring->stats.drops);
	*errors += sn_counter_read(&ring->stats.errors);
	*device_errors += sn_counter_read(&ring->stats.device_errors);
	*resets += sn_counter_read(&ring->stats.resets);
}

/* STATUS is at offset 8 in all three families; a removed device (or one
 * whose link to the bus died) reads all-ones everywhere. Threads checking
 * their own queues may look at once: the flag only ever goes to true. */
static bool device_gone(struct sn_intel_nic *nic)
{
	if (__atomic_load_n(&nic->gone, __ATOMIC_RELAXED))
		return true;
	if (sn_mmio_rd(nic->bar, 0x8) != 0xffffffffu)
		return false;
	__atomic_store_n(&nic->gone, true, __ATOMIC_RELAXED);
	return true;
}

/* Adds the read-to-clear counters to the totals. A device that went away
 * reads all-ones, which would add 0xffffffff per counter per call: the
 * reading counts only if STATUS, read after it, says the device is still
 * there, so a removed device's totals freeze at their last good values. */
/* The per-queue drop counter of receive queues 1 and up (the register
 * table's sweep reads queue 0's). */
static uint64_t read_more_queue_drops(struct sn_intel_nic *nic)
{
	const struct sn_intel_family *f = nic->family;
	uint64_t sum = 0;
	for (size_t i = 0; f->rx_queue_drops && i < f->num_registers; i++) {
		const struct sn_reg_info *r = &f->registers[i];
		if (strcmp(r->name, f->rx_queue_drops) != 0)
			continue;
		for (unsigned q = 1; q < nic->rx_queues; q++)
			sum += sn_mmio_rd(nic->bar, r->offset + q * r->stride);
	}
	return sum;
}

static void accumulate_counters(struct sn_intel_nic *nic)
{
	const struct sn_intel_family *f = nic->family;
	if (__atomic_load_n(&nic->gone, __ATOMIC_RELAXED))
		return;
	memset(nic->counter_reads, 0, f->num_registers * sizeof(uint64_t));
	sn_regs_accumulate(nic->bar, f->registers, f->num_registers, nic->counter_reads);
	uint64_t more_drops = read_more_queue_drops(nic);
	if (device_gone(nic))
		return;
	for (size_t i = 0; i < f->num_registers; i++)
		nic->counter_totals[i] += nic->counter_reads[i];
	nic->more_queue_drops += more_drops;
}

void sn_intel_stats(struct sn_device *dev, struct sn_stats *s)
{
	struct sn_intel_nic *nic = dev->priv;
	const struct sn_intel_family *f = nic->family;

	for (unsigned q = 0; q < nic->rx_queues; q++) {
		add_ring(&s->rx_packets, &s->rx_bytes, &s->rx_drops, &s->rx_errors,
			 &s->device_errors, &s->queue_resets, &nic->rx[q]);
		s->rx_starved += sn_counter_read(&nic->rx[q].stats.starved);
	}
	for (unsigned q = 0; q < nic->tx_queues; q++)
		add_ring(&s->tx_packets, &s->tx_bytes, &s->tx_drops, &s->tx_errors,
			 &s->device_errors, &s->queue_resets, &nic->tx[q]);
	/* Frames the NIC dropped for want of descriptors are ours to report. */
	accumulate_counters(nic);
	s->rx_drops += sn_regs_total(f->registers, f->num_registers, nic->counter_totals,
				     f->rx_missed);
	s->rx_drops += nic->more_queue_drops;
	s->rx_errors += sn_regs_total(f->registers, f->num_registers, nic->counter_totals,
				      f->rx_oversize);
	if (f->rx_queue_drops)
		s->rx_drops += sn_regs_total(f->registers, f->num_registers,
					     nic->counter_totals, f->rx_queue_drops);
	s->hw_rx_packets = sn_regs_total(f->registers, f->num_registers,
					 nic->counter_totals, f->rx_packets);
	s->hw_tx_packets = sn_regs_total(f->registers, f->num_registers,
					 nic->counter_totals, f->tx_packets);
	s->hw_rx_bytes = sn_regs_total(f->registers, f->num_registers,
				       nic->counter_totals, f->rx_bytes);
	s->hw_tx_bytes = sn_regs_total(f->registers, f->num_registers,
				       nic->counter_totals, f->tx_bytes);
	s->has_hw_counters = true;
}

void sn_intel_queue_stats(struct sn_device *dev, uint16_t q, struct sn_queue_stats *st)
{
	struct sn_intel_nic *nic = dev->priv;
	uint64_t resets = 0;
	if (q < nic->rx_queues) {
		add_ring(&st->rx_packets, &st->rx_bytes, &st->rx_drops, &st->rx_errors,
			 &st->device_errors, &resets, &nic->rx[q]);
		st->rx_starved = sn_counter_read(&nic->rx[q].stats.starved);
	}
	if (q < nic->tx_queues)
		add_ring(&st->tx_packets, &st->tx_bytes, &st->tx_drops, &st->tx_errors,
			 &st->device_errors, &resets, &nic->tx[q]);
}

/* Re-arms one queue the way start-up armed it: stop it, take every
 * buffer back, program base, length, head and tail again, start it, and
 * post fresh receive buffers. Nothing in the ring survives, so nothing
 * can be owned twice. */
static int rearm_queue(struct sn_intel_nic *nic, bool receive, unsigned q)
{
	const struct sn_intel_family *f = nic->family;
	struct sn_ring *ring = receive ? &nic->rx[q] : &nic->tx[q];
	uint64_t iova = sn_dma_iova(ring->mem, 0);
	struct sn_queue_regs regs;
	int rc;

	f->queue_enable(nic, receive, q, false);
	sn_ring_rearm(ring, receive);
	rc = receive ? f->setup_rx_queue(nic, q, iova, ring->size, ring->rx_room, &regs, NULL)
		     : f->setup_tx_queue(nic, q, iova, ring->size, &regs, NULL);
	if (rc < 0)
		return rc;
	f->queue_enable(nic, receive, q, true);
	if (receive)
		sn_ring_rx_refill(ring);
	return 0;
}

/* Where a check's findings go: the device's report (sn_dev_check), or
 * queue pair `pair`'s own (sn_dev_check_queue, pair >= 0). */
static enum sn_dev_state note_on(struct sn_intel_nic *nic, int pair, enum sn_dev_state state,
				 const char *msg)
{
	if (pair < 0)
		return sn_dev_note(nic->dev, state, "%s", msg);
	return sn_dev_note_queue(nic->dev, (uint16_t)pair, state, "%s", msg);
}

/* The cross-check of one queue against its head register; what it finds
 * is noted where `pair` says. */
static enum sn_dev_state check_queue(struct sn_intel_nic *nic, bool receive, unsigned q,
				     int pair)
{
	struct sn_ring *ring = receive ? &nic->rx[q] : &nic->tx[q];
	const char *dir = receive ? "receive" : "transmit";
	uint32_t head = *ring->head;
	uint16_t clean = ring->next_clean, in_flight = ring->in_flight;
	char msg[SN_ERROR_LEN];

	switch (sn_ring_check(ring, head, receive)) {
	case SN_RING_OK:
		return SN_DEV_OK;
	case SN_RING_STALLED:
		snprintf(msg, sizeof(msg), "transmit queue %u: %u frames waiting and the "
			 "device took none for a second", q, in_flight);
		return note_on(nic, pair, SN_DEV_TX_STALLED, msg);
	case SN_RING_OUT_OF_STEP:
		break;
	}
	if (rearm_queue(nic, receive, q) < 0) {
		snprintf(msg, sizeof(msg), "%s queue %u was out of step with the device (its "
			 "head at %u, the driver at %u with %u in flight) and did not restart",
			 dir, q, head, clean, in_flight);
		return note_on(nic, pair, SN_DEV_NEEDS_RESET, msg);
	}
	snprintf(msg, sizeof(msg), "%s queue %u was out of step with the device (its head "
		 "at %u, the driver at %u with %u in flight): reset and re-armed it, %u "
		 "frames dropped", dir, q, head, clean, in_flight, in_flight);
	return note_on(nic, pair, SN_DEV_RECOVERED, msg);
}

enum sn_dev_state sn_intel_check(struct sn_device *dev)
{
	struct sn_intel_nic *nic = dev->priv;
	if (device_gone(nic))
		return SN_DEV_GONE;
	for (unsigned q = 0; q < nic->rx_queues; q++)
		check_queue(nic, true, q, -1);
	for (unsigned q = 0; q < nic->tx_queues; q++)
		check_queue(nic, false, q, -1);
	return dev->check_state; /* the worst any queue noted */
}

/* Only this pair's rings and registers, and STATUS: nothing another
 * thread's queue uses, so each thread may check its own pair. */
enum sn_dev_state sn_intel_check_queue(struct sn_device *dev, uint16_t q)
{
	struct sn_intel_nic *nic = dev->priv;
	if (device_gone(nic))
		return sn_dev_note_queue(dev, q, SN_DEV_GONE, "%s",
					 sn_dev_state_name(SN_DEV_GONE));
	if (q < nic->rx_queues)
		check_queue(nic, true, q, q);
	if (q < nic->tx_queues)
		check_queue(nic, false, q, q);
	return dev->queue_check[q].state; /* the worst either queue noted */
}

/* ---- receive interrupts -------------------------------------------------- */

bool sn_intel_rx_intr_arm(struct sn_device *dev, uint16_t q)
{
	struct sn_intel_nic *nic = dev->priv;
	/* irq_queue has flushed the unmask to the device: a frame written
	 * before it shows in the ring now, one after it raises the interrupt. */
	nic->family->irq_queue(nic, q, true);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return !sn_ring_rx_ready(&nic->rx[q]);
}

void sn_intel_rx_intr_disarm(struct sn_device *dev, uint16_t q)
{
	struct sn_intel_nic *nic = dev->priv;
	nic->family->irq_queue(nic, q, false);
}

void sn_intel_event_ack(struct sn_device *dev)
{
	struct sn_intel_nic *nic = dev->priv;
	if (!nic->gone)
		nic->family->irq_ack(nic, &dev->intr);
}
