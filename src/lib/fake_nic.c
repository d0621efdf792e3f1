#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fake_nic.h"
#include "intel.h"
#include "mempool.h"
#include "ring.h"

/* Queue enables: RXDCTL/TXDCTL bit 25 (igb, ixgbe), RCTL.EN and TCTL.EN
 * bit 1 (e1000e, whose driver turns queues on and off there). */
#define QUEUE_ENABLE (1u << 25)
static const struct fake_nic_regs igb_regs = { 0xC010, 0xC018, 0xC008, 0xE010, 0xE018, 0xE008,
					       0xC028, QUEUE_ENABLE, 0xE028, QUEUE_ENABLE,
					       0x10, 1u << 9, 0, 0 };
static const struct fake_nic_regs e1000e_regs = { 0x2810, 0x2818, 0x2808, 0x3810, 0x3818,
						  0x3808, 0x100, 1u << 1, 0x400, 1u << 1,
						  0x10, 1u << 9, 0, 0 };
static const struct fake_nic_regs ixgbe_regs = { 0x1010, 0x1018, 0x1008, 0x6010, 0x6018, 0x6008,
						 0x1028, QUEUE_ENABLE, 0x6028, QUEUE_ENABLE,
						 0x10010, 1u << 9, 0x2F00, 1u << 3 };

#define REG(bar, off) (*(volatile uint32_t *)((bar) + (off)))

static volatile union sn_desc *ring_at(struct fake_nic *m, uint64_t iova)
{
	for (struct sn_dma_region *r = m->ctx->regions; r; r = r->next)
		if (iova >= r->iova && iova < r->iova + r->size)
			return (volatile union sn_desc *)(r->va + (iova - r->iova));
	return NULL;
}

/* Receive: complete every descriptor the driver posted. Transmit: mark
 * every descriptor handed over as sent (DD where RS asks for it). */
static void play_intel(struct fake_nic *m, struct fake_nic_side *s)
{
	volatile uint8_t *bar = s->bar;
	const struct fake_nic_regs *r = s->regs;
	uint32_t head_off = s->receive ? r->rdh : r->tdh;
	uint32_t tail_off = s->receive ? r->rdt : r->tdt;
	uint32_t size = REG(bar, s->receive ? r->rdlen : r->tdlen) / 16;
	uint32_t base_off = head_off - 0x10; /* RDBAL/TDBAL sit 0x10 below the head */
	uint64_t base = REG(bar, base_off) | (uint64_t)REG(bar, base_off + 4) << 32;
	volatile union sn_desc *ring = size ? ring_at(m, base) : NULL;
	uint32_t enable = s->receive ? REG(bar, r->rx_enable_reg) & r->rx_enable_bit
				     : REG(bar, r->tx_enable_reg) & r->tx_enable_bit;
	if (!ring || !enable)
		return;
	uint32_t start = REG(bar, head_off), head = start, tail = REG(bar, tail_off);
	if (head >= size || tail >= size)
		return; /* as a NIC would: a tail past the ring stops the queue */
	while (head != tail) {
		if (s->receive) {
			ring[head].rx_wb.length = FAKE_NIC_FRAME;
			ring[head].rx_wb.status = SN_DESC_DD | SN_DESC_EOP;
		} else if (ring[head].read.cmd & SN_TXD_CMD_RS) {
			ring[head].tx_wb.status = SN_DESC_DD; /* as the NIC: only where asked */
		}
		head = (head + 1) % size;
	}
	/* Only if the driver did not reset the queue meanwhile: a real NIC
	 * has stopped by the time its driver rewrites the head. */
	__atomic_compare_exchange_n((uint32_t *)(bar + head_off), &start, head, false,
				    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

/* The used index is the device's own, never read back from the ring.
 * With EVENT_IDX it does what QEMU does: after taking entries it asks to
 * be kicked for the next one (avail_event = its position), and after
 * publishing used entries it would interrupt when used_event falls among
 * them (counted, as it has no interrupt to raise); without, it would
 * interrupt unless NO_INTERRUPT is set. */
static void play_virtio(struct fake_nic_side *s)
{
	struct sn_virtq *vq = s->vq;
	uint16_t avail = __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE);
	uint16_t used = s->used, old = used;
	while (s->seen != avail) {
		uint16_t id = vq->avail->ring[s->seen++ & vq->mask];
		vq->used->ring[used & vq->mask] = (struct vring_used_elem){
			id, s->receive ? vq->hdr_len + FAKE_NIC_FRAME : 0 };
		used++;
	}
	s->used = used;
	if (vq->event_idx)
		__atomic_store_n((uint16_t *)&vq->used->ring[vq->size], s->seen, __ATOMIC_RELAXED);
	__atomic_store_n(&vq->used->idx, used, __ATOMIC_RELEASE);
	if (used == old)
		return;
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* the index before the driver's wish */
	if (vq->event_idx ? sn_vring_need_event(vq->avail->ring[vq->size], used, old)
			  : !(vq->avail->flags & VRING_AVAIL_F_NO_INTERRUPT))
		s->interrupts++;
}

/* Every descriptor the driver made available, in ring order, marked used
 * in place: the device's position and wrap counter are its own. */
static void play_packed(struct fake_nic_side *s)
{
	struct sn_vpacked *vq = s->pq;
	uint16_t pos = s->used;
	for (;;) {
		struct vring_packed_desc *d = &vq->desc[pos & vq->mask];
		uint16_t flags = __atomic_load_n(&d->flags, __ATOMIC_ACQUIRE);
		bool wrap = !(pos & vq->size);
		bool avail = flags & VRING_PACKED_DESC_F_AVAIL, used = flags & VRING_PACKED_DESC_F_USED;
		if (avail != wrap || used == wrap)
			break;
		d->len = s->receive ? vq->hdr_len + FAKE_NIC_FRAME : 0;
		__atomic_store_n(&d->flags, (uint16_t)(wrap ? VRING_PACKED_DESC_F_AVAIL |
							      VRING_PACKED_DESC_F_USED : 0),
				 __ATOMIC_RELEASE);
		pos++;
	}
	s->used = pos;
}

/* Finish resets at once, with NVM and DMA initialisation done. */
static void play_reset(struct fake_nic_side *s)
{
	volatile uint8_t *bar = s->bar;
	if (REG(bar, 0) & ((1u << 26) | (1u << 3))) {
		/* Everything but CTRL first, CTRL (the reset bit the driver
		 * waits on) last: a driver that saw the bit clear while the
		 * rest was still being zeroed had its first writes wiped
		 * (intr_test failed so under load). */
		memset((void *)(bar + 4), 0, FAKE_NIC_BAR_SIZE - 4);
		REG(bar, s->regs->nvm_reg) = s->regs->nvm_done;
		if (s->regs->dma_reg)
			REG(bar, s->regs->dma_reg) = s->regs->dma_done;
		__atomic_thread_fence(__ATOMIC_RELEASE);
		REG(bar, 0) = 0;
	}
}

void fake_nic_step(struct fake_nic *m)
{
	for (unsigned i = 0; i < m->num_sides; i++) {
		struct fake_nic_side *s = &m->sides[i];
		if (s->vq) {
			play_virtio(s);
			continue;
		}
		if (s->pq) {
			play_packed(s);
			continue;
		}
		play_reset(s);
		play_intel(m, s);
	}
}

static void *run(void *arg)
{
	struct fake_nic *m = arg;
	while (!atomic_load_explicit(&m->stop, memory_order_relaxed))
		fake_nic_step(m);
	return NULL;
}

void fake_nic_start(struct fake_nic *m)
{
	atomic_store(&m->stop, false);
	pthread_create(&m->thread, NULL, run, m);
}

void fake_nic_stop(struct fake_nic *m)
{
	atomic_store(&m->stop, true);
	pthread_join(m->thread, NULL);
}

const struct sn_driver *fake_nic_intel_driver(const char *name)
{
	return strcmp(name, "igb") == 0 ? &sn_igb_driver :
	       strcmp(name, "e1000e") == 0 ? &sn_e1000e_driver : &sn_ixgbe_driver;
}

int fake_nic_open_intel_pair(struct fake_nic *m, const char *driver, uint16_t ring_size,
			     struct sn_mempool *rx_pool,
			     struct fake_nic_endpoint *e[2],
			     struct fake_nic_side rx_side[2], struct fake_nic_side tx_side[2],
			     struct sn_error *err)
{
	struct sn_dev_config cfg = { .rx_ring_size = ring_size, .tx_ring_size = ring_size,
				     .rx_pool = rx_pool };
	return fake_nic_open_intel_pair_cfg(m, driver, &cfg, e, rx_side, tx_side, err);
}

int fake_nic_open_intel_pair_cfg(struct fake_nic *m, const char *driver,
				 const struct sn_dev_config *cfg,
				 struct fake_nic_endpoint *e[2],
				 struct fake_nic_side rx_side[2], struct fake_nic_side tx_side[2],
				 struct sn_error *err)
{
	const struct sn_driver *drv = fake_nic_intel_driver(driver);
	const struct fake_nic_regs *regs = drv == &sn_ixgbe_driver ? &ixgbe_regs :
					   drv == &sn_e1000e_driver ? &e1000e_regs : &igb_regs;
	int rc = 0;

	for (int i = 0; i < 2; i++) {
		e[i]->bar = aligned_alloc(4096, FAKE_NIC_BAR_SIZE);
		if (!e[i]->bar)
			return sn_fail(err, ENOMEM, "out of memory for a register file");
		memset(e[i]->bar, 0, FAKE_NIC_BAR_SIZE);
		m->sides[i] = (struct fake_nic_side){ .bar = e[i]->bar, .regs = regs };
		rx_side[i] = (struct fake_nic_side){ .bar = e[i]->bar, .regs = regs, .receive = true };
		tx_side[i] = (struct fake_nic_side){ .bar = e[i]->bar, .regs = regs, .receive = false };
	}
	m->num_sides = 2;
	fake_nic_start(m);
	for (int i = 0; i < 2 && rc == 0; i++) {
		e[i]->dev = sn_dev_open_model(m->ctx, drv, e[i]->bar, FAKE_NIC_BAR_SIZE, 0x10fb,
					      cfg, err);
		if (!e[i]->dev)
			rc = -1;
	}
	fake_nic_stop(m);
	return rc;
}

struct sn_dev *fake_nic_open_intel(struct fake_nic *m, const char *driver,
				   uint16_t device_id, const struct sn_dev_config *cfg,
				   uint8_t **bar, struct sn_error *err)
{
	const struct sn_driver *drv = fake_nic_intel_driver(driver);
	const struct fake_nic_regs *regs = drv == &sn_ixgbe_driver ? &ixgbe_regs :
					   drv == &sn_e1000e_driver ? &e1000e_regs : &igb_regs;
	*bar = aligned_alloc(4096, FAKE_NIC_BAR_SIZE);
	if (!*bar) {
		sn_fail(err, ENOMEM, "out of memory for a register file");
		return NULL;
	}
	memset(*bar, 0, FAKE_NIC_BAR_SIZE);
	m->sides[0] = (struct fake_nic_side){ .bar = *bar, .regs = regs };
	m->num_sides = 1;
	fake_nic_start(m);
	struct sn_dev *dev = sn_dev_open_model(m->ctx, drv, *bar, FAKE_NIC_BAR_SIZE, device_id,
					       cfg, err);
	fake_nic_stop(m);
	m->num_sides = 0;
	return dev;
}

int fake_nic_open_virtio(struct fake_nic *m, struct fake_nic_endpoint *e, uint16_t ring_size,
			 struct sn_mempool *pool)
{
	struct sn_virtq *qs[2] = { &e->rxq, &e->txq };
	for (int i = 0; i < 2; i++) {
		struct sn_dma_region *drv, *dev;
		size_t desc = sn_vring_desc_bytes(ring_size);
		int rc = sn_dma_alloc(m->ctx, desc + sn_vring_avail_bytes(ring_size),
				      SN_DMA_DEVICE_READS, &drv, NULL);
		if (rc == 0)
			rc = sn_dma_alloc(m->ctx, sn_vring_used_bytes(ring_size), SN_DMA_DEVICE_RW,
					  &dev, NULL);
		if (rc == 0)
			rc = sn_virtq_init(qs[i], m->ctx, ring_size, drv->va, drv->va + desc,
					   dev->va, 12, i == 0);
		if (rc < 0)
			return rc;
		sn_virtq_use_event_idx(qs[i]); /* as QEMU offers it */
	}
	e->rxq.rx_pool = pool;
	e->rxq.rx_room = sn_mempool_data_room(pool);
	return 0;
}

int fake_nic_open_vpacked(struct fake_nic *m, struct fake_nic_endpoint *e, uint16_t ring_size,
			  struct sn_mempool *pool)
{
	struct sn_vpacked *qs[2] = { &e->prxq, &e->ptxq };
	for (int i = 0; i < 2; i++) {
		struct sn_dma_region *ring, *drv, *dev;
		int rc = sn_dma_alloc(m->ctx, sn_vpacked_ring_bytes(ring_size), SN_DMA_DEVICE_RW,
				      &ring, NULL);
		if (rc == 0)
			rc = sn_dma_alloc(m->ctx, sizeof(struct vring_packed_event),
					  SN_DMA_DEVICE_READS, &drv, NULL);
		if (rc == 0)
			rc = sn_dma_alloc(m->ctx, sizeof(struct vring_packed_event), SN_DMA_DEVICE_RW,
					  &dev, NULL);
		if (rc == 0)
			rc = sn_vpacked_init(qs[i], m->ctx, ring_size, ring->va, drv->va, dev->va, 12,
					     i == 0);
		if (rc < 0)
			return rc;
	}
	e->packed = true;
	e->prxq.rx_pool = pool;
	e->prxq.rx_room = sn_mempool_data_room(pool);
	return 0;
}

void fake_nic_close_virtio(struct fake_nic_endpoint *e)
{
	if (e->packed) {
		struct sn_vpacked *ps[2] = { &e->prxq, &e->ptxq };
		for (int i = 0; i < 2; i++) {
			sn_vpacked_drain(ps[i]);
			sn_vpacked_fini(ps[i]);
		}
		return;
	}
	struct sn_virtq *qs[2] = { &e->rxq, &e->txq };
	for (int i = 0; i < 2; i++) {
		sn_virtq_drain(qs[i]);
		sn_virtq_fini(qs[i]);
	}
}
