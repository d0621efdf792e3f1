#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

void sn_intel_e1000_link(struct sn_intel_nic *nic, struct sn_link *link)
{
	static const uint32_t speeds[4] = { 10, 100, 1000, 1000 };
	uint32_t status = sn_mmio_rd(nic->bar, 0x8);
	link->up = status & (1u << 1);
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
	rc = sn_ring_init(ring, nic->family->format, mem->va, size, NULL);
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
	uint32_t tail;
	int rc;

	for (unsigned q = 0; q < nic->rx_queues; q++) {
		struct sn_ring *ring = &nic->rx[q];
		uint16_t size = ring_size(f, cfg->rx_ring_size);
		if ((rc = setup_ring_memory(nic, ring, size, err)) < 0 ||
		    (rc = f->setup_rx_queue(nic, q, sn_dma_iova(ring->mem, 0), size,
					    sn_mempool_data_room(pool), &tail, err)) < 0)
			return rc;
		ring->tail = (volatile uint32_t *)(nic->bar + tail);
		ring->pool = pool;
		ring->rx_room = sn_mempool_data_room(pool);
		nic->dev->fast.rxq[q] = ring;
	}
	for (unsigned q = 0; q < nic->tx_queues; q++) {
		struct sn_ring *ring = &nic->tx[q];
		uint16_t size = ring_size(f, cfg->tx_ring_size);
		if ((rc = setup_ring_memory(nic, ring, size, err)) < 0 ||
		    (rc = f->setup_tx_queue(nic, q, sn_dma_iova(ring->mem, 0), size,
					    &tail, err)) < 0)
			return rc;
		ring->tail = (volatile uint32_t *)(nic->bar + tail);
		nic->dev->fast.txq[q] = ring;
	}
	return 0;
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
	if (nic->rx_queues > f->max_queues || nic->tx_queues > f->max_queues)
		return sn_fail(err, ENOTSUP, "%s: %s supports at most %u queues",
			       dev->pci.addr, f->name, f->max_queues);
	nic->counter_totals = calloc(f->num_registers, sizeof(uint64_t));
	if (!nic->counter_totals)
		return sn_fail(err, ENOMEM, "out of memory");
	if ((rc = f->reset(nic, err)) < 0)
		return rc;
	/* Counters clear on read: start every total from zero. */
	sn_regs_accumulate(nic->bar, f->registers, f->num_registers, nic->counter_totals);
	memset(nic->counter_totals, 0, f->num_registers * sizeof(uint64_t));
	read_mac(nic, dev->mac);
	if ((rc = setup_queues(nic, cfg, err)) < 0)
		return rc;
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
	free(nic);
	dev->priv = NULL;
}

int sn_intel_link(struct sn_device *dev, struct sn_link *link)
{
	struct sn_intel_nic *nic = dev->priv;
	nic->family->link(nic, link);
	return 0;
}

static void add_ring(uint64_t *packets, uint64_t *bytes, uint64_t *drops, uint64_t *errors,
		     uint64_t *device_errors, const struct sn_ring *ring)
{
	*packets += ring->stats.packets;
	*bytes += ring->stats.bytes;
	*drops += ring->stats.drops;
	*errors += ring->stats.errors;
	*device_errors += ring->stats.device_errors;
}

void sn_intel_stats(struct sn_device *dev, struct sn_stats *s)
{
	struct sn_intel_nic *nic = dev->priv;
	const struct sn_intel_family *f = nic->family;

	for (unsigned q = 0; q < nic->rx_queues; q++)
		add_ring(&s->rx_packets, &s->rx_bytes, &s->rx_drops, &s->rx_errors,
			 &s->device_errors, &nic->rx[q]);
	for (unsigned q = 0; q < nic->tx_queues; q++)
		add_ring(&s->tx_packets, &s->tx_bytes, &s->tx_drops, &s->tx_errors,
			 &s->device_errors, &nic->tx[q]);
	/* Frames the NIC dropped for want of descriptors are ours to report. */
	sn_regs_accumulate(nic->bar, f->registers, f->num_registers, nic->counter_totals);
	s->rx_drops += sn_regs_total(f->registers, f->num_registers, nic->counter_totals,
				     f->rx_missed);
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

enum sn_dev_state sn_intel_check(struct sn_device *dev)
{
	struct sn_intel_nic *nic = dev->priv;
	/* STATUS is at offset 8 in all three families. */
	if (sn_mmio_rd(nic->bar, 0x8) == 0xffffffffu)
		return SN_DEV_GONE;
	for (unsigned q = 0; q < nic->tx_queues; q++)
		if (sn_ring_stalled(&nic->tx[q]))
			return SN_DEV_TX_STALLED;
	return SN_DEV_OK;
}
