/* Cost per packet of the drivers' own datapaths, on the host: each
 * driver's receive, transmit and forward loop runs against an in-memory
 * device, a thread that plays the NIC's side of the rings as fast as it
 * can. The driver thread's cycles come from the TSC; its instructions
 * from callgrind (see host-cost.sh), since this machine has no usable
 * hardware counters.
 *
 *   safenic-host-cost DRIVER MODE BATCH PACKETS [--inline-device]
 *     DRIVER: virtio | igb | e1000e | ixgbe      MODE: rx | tx | fwd
 *     --inline-device: the device plays between bursts in the driver's
 *     thread, outside callgrind's count and outside the cycles reported,
 *     so both are the driver's own; without it the device runs in its
 *     own thread and the cycles include waiting for it
 * Prints: driver mode batch packets cycles_per_packet
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <valgrind/callgrind.h>
#include <x86intrin.h>

#include "ctx.h"
#include "device.h"
#include "intel.h"
#include "mempool.h"
#include "ring.h"
#include "virtqueue.h"

#define BAR_SIZE 0x20000
#define RING 512
#define FRAME 60

/* Where a family keeps what the model needs: heads, tails, lengths, and
 * the bits that a finished reset must show. */
struct family_regs {
	uint32_t rdh, rdt, rdlen, tdh, tdt, tdlen;
	uint32_t nvm_reg, nvm_done, dma_reg, dma_done;
};

static const struct family_regs igb_regs = { 0x2810, 0x2818, 0x2808, 0x3810, 0x3818, 0x3808,
					     0x10, 1u << 9, 0, 0 };
static const struct family_regs ixgbe_regs = { 0x1010, 0x1018, 0x1008, 0x6010, 0x6018, 0x6008,
					       0x10010, 1u << 9, 0x2F00, 1u << 3 };

/* One side of a device as the NIC plays it. */
struct nic_side {
	volatile uint8_t *bar;
	const struct family_regs *regs;
	struct sn_virtq *vq;          /* virtio: the queue instead of registers */
	bool receive;                 /* produce frames (rx) or consume them (tx) */
	uint16_t seen;                /* virtio: avail entries handled */
};

struct model {
	struct nic_side sides[2];
	unsigned num_sides;
	atomic_bool stop;
	struct sn_ctx *ctx;
};

#define REG(bar, off) (*(volatile uint32_t *)((bar) + (off)))

static volatile union sn_desc *ring_at(struct model *m, uint64_t iova)
{
	for (struct sn_dma_region *r = m->ctx->regions; r; r = r->next)
		if (iova >= r->iova && iova < r->iova + r->size)
			return (volatile union sn_desc *)(r->va + (iova - r->iova));
	return NULL;
}

/* Receive: complete every descriptor the driver posted. Transmit: mark
 * every descriptor handed over as sent (DD where RS asks for it). */
static void play_intel(struct model *m, struct nic_side *s)
{
	volatile uint8_t *bar = s->bar;
	const struct family_regs *r = s->regs;
	uint32_t head_off = s->receive ? r->rdh : r->tdh;
	uint32_t tail_off = s->receive ? r->rdt : r->tdt;
	uint32_t size = REG(bar, s->receive ? r->rdlen : r->tdlen) / 16;
	uint32_t base_off = head_off - 0x10; /* RDBAL/TDBAL sit 0x10 below the head */
	uint64_t base = REG(bar, base_off) | (uint64_t)REG(bar, base_off + 4) << 32;
	volatile union sn_desc *ring = size ? ring_at(m, base) : NULL;
	if (!ring)
		return;
	uint32_t head = REG(bar, head_off), tail = REG(bar, tail_off);
	while (head != tail) {
		if (s->receive) {
			ring[head].rx_wb.length = FRAME;
			ring[head].rx_wb.status = SN_DESC_DD | SN_DESC_EOP;
		} else if (ring[head].read.cmd & SN_TXD_CMD_RS) {
			ring[head].tx_wb.status = SN_DESC_DD; /* as the NIC: only where asked */
		}
		head = (head + 1) % size;
	}
	REG(bar, head_off) = head;
}

static void play_virtio(struct nic_side *s)
{
	struct sn_virtq *vq = s->vq;
	uint16_t avail = __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE);
	uint16_t used = vq->used->idx;
	while (s->seen != avail) {
		uint16_t id = vq->avail->ring[s->seen++ & vq->mask];
		vq->used->ring[used & vq->mask] =
			(struct vring_used_elem){ id, s->receive ? vq->hdr_len + FRAME : 0 };
		used++;
	}
	__atomic_store_n(&vq->used->idx, used, __ATOMIC_RELEASE);
}

/* Finish resets at once, with NVM and DMA initialisation done. */
static void play_reset(struct nic_side *s)
{
	volatile uint8_t *bar = s->bar;
	if (REG(bar, 0) & ((1u << 26) | (1u << 3))) {
		memset((void *)bar, 0, BAR_SIZE);
		REG(bar, s->regs->nvm_reg) = s->regs->nvm_done;
		if (s->regs->dma_reg)
			REG(bar, s->regs->dma_reg) = s->regs->dma_done;
	}
}

static void model_step(struct model *m)
{
	for (unsigned i = 0; i < m->num_sides; i++) {
		struct nic_side *s = &m->sides[i];
		if (s->vq) {
			play_virtio(s);
			continue;
		}
		play_reset(s);
		play_intel(m, s);
	}
}

static void *model_run(void *arg)
{
	struct model *m = arg;
	while (!atomic_load_explicit(&m->stop, memory_order_relaxed))
		model_step(m);
	return NULL;
}

/* Counting instructions (under callgrind, which runs one thread at a
 * time): the device plays in the driver's thread between bursts, outside
 * the count, so empty polls do not pollute it. */
static struct model *inline_model;
static uint64_t device_cycles; /* spent in the device's turns, not ours */

static inline void device_turn(void)
{
	if (inline_model) {
		uint64_t start = __rdtsc();
		CALLGRIND_TOGGLE_COLLECT;
		model_step(inline_model);
		CALLGRIND_TOGGLE_COLLECT;
		device_cycles += __rdtsc() - start;
	}
}

/* ---- the driver's side ------------------------------------------------- */

struct endpoint {
	struct sn_dev *dev;           /* Intel */
	struct sn_virtq rxq, txq;     /* virtio */
	uint8_t *bar;
};

typedef uint16_t (*burst_fn)(struct endpoint *e, struct sn_pkt **pkts, uint16_t n);

static uint16_t intel_rx(struct endpoint *e, struct sn_pkt **p, uint16_t n)
{
	return sn_rx_burst(e->dev, 0, p, n);
}
static uint16_t intel_tx(struct endpoint *e, struct sn_pkt **p, uint16_t n)
{
	return sn_tx_burst(e->dev, 0, p, n);
}
static uint16_t virtio_rx(struct endpoint *e, struct sn_pkt **p, uint16_t n)
{
	return sn_virtio_rx_burst(&e->rxq, p, n);
}
static uint16_t virtio_tx(struct endpoint *e, struct sn_pkt **p, uint16_t n)
{
	return sn_virtio_tx_burst(&e->txq, p, n);
}

struct run {
	burst_fn rx, tx;
	struct endpoint *in, *out;
	struct sn_mempool *tx_pool;
	uint16_t batch;
	uint64_t packets;
};

/* The measured loops; host-cost.sh counts instructions inside these only
 * (callgrind --toggle-collect). noinline keeps them visible. */
__attribute__((noinline)) uint64_t measured_rx(struct run *r)
{
	struct sn_pkt *pkts[256];
	uint64_t done = 0;
	while (done < r->packets) {
		device_turn();
		uint16_t n = r->rx(r->in, pkts, r->batch);
		sn_pkt_free_bulk(pkts, n);
		done += n;
	}
	return done;
}

__attribute__((noinline)) uint64_t measured_tx(struct run *r)
{
	struct sn_pkt *pkts[256];
	uint64_t done = 0;
	while (done < r->packets) {
		device_turn();
		uint16_t n = (uint16_t)sn_pkt_alloc_bulk(r->tx_pool, pkts, r->batch);
		for (uint16_t i = 0; i < n; i++)
			pkts[i]->len = FRAME;
		uint16_t sent = r->tx(r->out, pkts, n);
		sn_pkt_free_bulk(pkts + sent, n - sent);
		done += sent;
	}
	return done;
}

__attribute__((noinline)) uint64_t measured_fwd(struct run *r)
{
	struct sn_pkt *pkts[256];
	uint64_t done = 0;
	while (done < r->packets) {
		device_turn();
		uint16_t n = r->rx(r->in, pkts, r->batch);
		uint16_t sent = r->tx(r->out, pkts, n);
		sn_pkt_free_bulk(pkts + sent, n - sent);
		done += n;
	}
	return done;
}

/* ---- set-up ------------------------------------------------------------- */

static const struct sn_driver *intel_driver(const char *name)
{
	return strcmp(name, "igb") == 0 ? &sn_igb_driver :
	       strcmp(name, "e1000e") == 0 ? &sn_e1000e_driver : &sn_ixgbe_driver;
}

/* Opens both Intel endpoints while a model thread finishes their resets;
 * leaves the model stopped and the receive/transmit sides described. */
static void open_intel_pair(struct model *m, const char *driver, struct endpoint *e[2],
			    struct nic_side rx_side[2], struct nic_side tx_side[2])
{
	const struct sn_driver *drv = intel_driver(driver);
	const struct family_regs *regs = drv == &sn_ixgbe_driver ? &ixgbe_regs : &igb_regs;
	struct sn_dev_config cfg = { .rx_ring_size = RING, .tx_ring_size = RING };
	struct sn_error err;
	pthread_t thread;

	for (int i = 0; i < 2; i++) {
		e[i]->bar = aligned_alloc(4096, BAR_SIZE);
		memset(e[i]->bar, 0, BAR_SIZE);
		m->sides[i] = (struct nic_side){ .bar = e[i]->bar, .regs = regs };
		rx_side[i] = (struct nic_side){ .bar = e[i]->bar, .regs = regs, .receive = true };
		tx_side[i] = (struct nic_side){ .bar = e[i]->bar, .regs = regs, .receive = false };
	}
	m->num_sides = 2;
	pthread_create(&thread, NULL, model_run, m);
	for (int i = 0; i < 2; i++) {
		e[i]->dev = sn_dev_open_model(m->ctx, drv, e[i]->bar, BAR_SIZE, 0x10fb, &cfg, &err);
		if (!e[i]->dev) {
			fprintf(stderr, "safenic-host-cost: %s\n", err.msg);
			exit(1);
		}
	}
	atomic_store(&m->stop, true);
	pthread_join(thread, NULL);
	atomic_store(&m->stop, false);
}

static void open_virtio(struct model *m, struct endpoint *e, struct sn_mempool *pool)
{
	struct sn_virtq *qs[2] = { &e->rxq, &e->txq };
	for (int i = 0; i < 2; i++) {
		struct sn_dma_region *mem;
		size_t desc = sn_vring_desc_bytes(RING), avail = sn_vring_avail_bytes(RING);
		size_t used = (desc + avail + 4095) & ~(size_t)4095; /* the legacy layout */
		if (sn_dma_alloc(m->ctx, used + sn_vring_used_bytes(RING),
				 SN_DMA_DEVICE_RW, &mem, NULL) < 0 ||
		    sn_virtq_init(qs[i], m->ctx, RING, mem->va, mem->va + desc, mem->va + used,
				  12, i == 0) < 0) {
			fprintf(stderr, "safenic-host-cost: cannot set up a virtqueue\n");
			exit(1);
		}
	}
	e->rxq.rx_pool = pool;
	e->rxq.rx_room = sn_mempool_data_room(pool);
}

int main(int argc, char **argv)
{
	bool inline_device = argc == 6 && strcmp(argv[5], "--inline-device") == 0;
	if (argc != 5 && !inline_device) {
		fprintf(stderr, "usage: safenic-host-cost virtio|igb|e1000e|ixgbe rx|tx|fwd BATCH "
			"PACKETS [--inline-device]\n");
		return 2;
	}
	const char *driver = argv[1], *mode = argv[2];
	struct run r = { .batch = (uint16_t)atoi(argv[3]), .packets = strtoull(argv[4], NULL, 10) };
	if (r.batch < 1 || r.batch > 256 || !r.packets) {
		fprintf(stderr, "safenic-host-cost: BATCH must be 1..256 and PACKETS > 0\n");
		return 2;
	}
	struct model m = { .ctx = sn_ctx_create(NULL, NULL) };
	sn_ctx_emulate_iommu(m.ctx, (1ull << 39) - 1);
	struct sn_mempool *pool = sn_mempool_create(m.ctx, 4096, 0, 0, NULL);
	r.tx_pool = pool;
	struct endpoint a = { 0 }, b = { 0 };
	struct nic_side a_rx, a_tx, b_tx;
	pthread_t thread;
	bool virtio = strcmp(driver, "virtio") == 0;

	if (virtio) {
		open_virtio(&m, &a, pool);
		open_virtio(&m, &b, pool);
		a_rx = (struct nic_side){ .vq = &a.rxq, .receive = true };
		b_tx = (struct nic_side){ .vq = &b.txq, .receive = false };
		a_tx = (struct nic_side){ .vq = &a.txq, .receive = false };
		r.rx = virtio_rx;
		r.tx = virtio_tx;
		sn_virtq_refill(&a.rxq);
	} else {
		struct endpoint *pair[2] = { &a, &b };
		struct nic_side rx_sides[2], tx_sides[2];
		open_intel_pair(&m, driver, pair, rx_sides, tx_sides);
		a_rx = rx_sides[0];
		a_tx = tx_sides[0];
		b_tx = tx_sides[1];
		r.rx = intel_rx;
		r.tx = intel_tx;
	}
	uint64_t (*loop)(struct run *);
	if (strcmp(mode, "rx") == 0) {
		m.sides[0] = a_rx;
		m.num_sides = 1;
		r.in = &a;
		loop = measured_rx;
	} else if (strcmp(mode, "tx") == 0) {
		m.sides[0] = a_tx;
		m.num_sides = 1;
		r.out = &a;
		loop = measured_tx;
	} else if (strcmp(mode, "fwd") == 0) {
		m.sides[0] = a_rx;
		m.sides[1] = b_tx;
		m.num_sides = 2;
		r.in = &a;
		r.out = &b;
		loop = measured_fwd;
	} else {
		fprintf(stderr, "safenic-host-cost: MODE must be rx, tx or fwd\n");
		return 2;
	}
	if (inline_device)
		inline_model = &m;
	else
		pthread_create(&thread, NULL, model_run, &m);
	uint64_t start = __rdtsc();
	uint64_t done = loop(&r);
	uint64_t cycles = __rdtsc() - start - device_cycles;
	if (!inline_device) {
		atomic_store(&m.stop, true);
		pthread_join(thread, NULL);
	}
	printf("%s %s %u %llu %.1f\n", driver, mode, r.batch, (unsigned long long)done,
	       (double)cycles / (double)done);
	if (virtio) {
		struct sn_virtq *qs[4] = { &a.rxq, &a.txq, &b.rxq, &b.txq };
		for (int i = 0; i < 4; i++) {
			sn_virtq_drain(qs[i]);
			sn_virtq_fini(qs[i]);
		}
	}
	sn_ctx_destroy(m.ctx); /* devices, pools and DMA memory */
	free(a.bar);
	free(b.bar);
	return 0;
}
