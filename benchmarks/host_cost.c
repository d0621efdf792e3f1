/* Cost per packet of the drivers' own datapaths, on the host: each
 * driver's receive, transmit and forward loop runs against an in-memory
 * device, a thread that plays the NIC's side of the rings as fast as it
 * can. The driver thread's cycles come from the TSC; its instructions
 * from callgrind (see host-cost.sh), since this machine has no usable
 * hardware counters.
 *
 *   safenic-host-cost DRIVER MODE BATCH PACKETS [--inline-device]
 *     DRIVER: virtio | virtio-split | igb | e1000e | ixgbe
 *     MODE: rx | tx | fwd
 *     virtio: packed virtqueues, what the driver negotiates when the
 *     device offers them (QEMU: packed=on); virtio-split: split ones
 *     --inline-device: the device plays between bursts in the driver's
 *     thread, outside callgrind's count and outside the cycles reported,
 *     so both are the driver's own; without it the device runs in its
 *     own thread and the cycles include waiting for it
 * Prints: driver mode batch packets cycles_per_packet
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <valgrind/callgrind.h>
#include <x86intrin.h>

#include "ctx.h"
#include "device.h"
#include "fake_nic.h"
#include "mempool.h"

#define RING 512
#define FRAME FAKE_NIC_FRAME

/* Counting instructions (under callgrind, which runs one thread at a
 * time): the device plays in the driver's thread between bursts, outside
 * the count, so empty polls do not pollute it. */
static struct fake_nic *inline_model;
static uint64_t device_cycles; /* spent in the device's turns, not ours */

static inline void device_turn(void)
{
	if (inline_model) {
		uint64_t start = __rdtsc();
		CALLGRIND_TOGGLE_COLLECT;
		fake_nic_step(inline_model);
		CALLGRIND_TOGGLE_COLLECT;
		device_cycles += __rdtsc() - start;
	}
}

/* ---- the driver's side ------------------------------------------------- */

typedef uint16_t (*burst_fn)(struct fake_nic_endpoint *e, struct sn_pkt **pkts, uint16_t n);

static uint16_t intel_rx(struct fake_nic_endpoint *e, struct sn_pkt **p, uint16_t n)
{
	return sn_rx_burst(e->dev, 0, p, n);
}
static uint16_t intel_tx(struct fake_nic_endpoint *e, struct sn_pkt **p, uint16_t n)
{
	return sn_tx_burst(e->dev, 0, p, n);
}
static uint16_t packed_rx(struct fake_nic_endpoint *e, struct sn_pkt **p, uint16_t n)
{
	return sn_vpacked_rx_burst(&e->prxq, p, n);
}
static uint16_t packed_tx(struct fake_nic_endpoint *e, struct sn_pkt **p, uint16_t n)
{
	return sn_vpacked_tx_burst(&e->ptxq, p, n);
}
static uint16_t virtio_rx(struct fake_nic_endpoint *e, struct sn_pkt **p, uint16_t n)
{
	return sn_virtio_rx_burst(&e->rxq, p, n);
}
static uint16_t virtio_tx(struct fake_nic_endpoint *e, struct sn_pkt **p, uint16_t n)
{
	return sn_virtio_tx_burst(&e->txq, p, n);
}

struct run {
	burst_fn rx, tx;
	struct fake_nic_endpoint *in, *out;
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

int main(int argc, char **argv)
{
	bool inline_device = argc == 6 && strcmp(argv[5], "--inline-device") == 0;
	if (argc != 5 && !inline_device) {
		fprintf(stderr, "usage: safenic-host-cost virtio|virtio-split|igb|e1000e|ixgbe rx|tx|fwd BATCH "
			"PACKETS [--inline-device]\n");
		return 2;
	}
	const char *driver = argv[1], *mode = argv[2];
	struct run r = { .batch = (uint16_t)atoi(argv[3]), .packets = strtoull(argv[4], NULL, 10) };
	if (r.batch < 1 || r.batch > 256 || !r.packets) {
		fprintf(stderr, "safenic-host-cost: BATCH must be 1..256 and PACKETS > 0\n");
		return 2;
	}
	struct fake_nic m = { .ctx = sn_ctx_create(NULL, NULL) };
	sn_ctx_emulate_iommu(m.ctx, (1ull << 39) - 1);
	struct sn_mempool *pool = sn_mempool_create(m.ctx, 4096, 0, 0, NULL);
	r.tx_pool = pool;
	struct fake_nic_endpoint a = { 0 }, b = { 0 };
	struct fake_nic_side a_rx, a_tx, b_tx;
	struct sn_error err;
	bool packed = strcmp(driver, "virtio") == 0;
	bool virtio = packed || strcmp(driver, "virtio-split") == 0;

	if (packed) {
		if (fake_nic_open_vpacked(&m, &a, RING, pool) < 0 ||
		    fake_nic_open_vpacked(&m, &b, RING, pool) < 0) {
			fprintf(stderr, "safenic-host-cost: cannot set up a virtqueue\n");
			return 1;
		}
		a_rx = (struct fake_nic_side){ .pq = &a.prxq, .receive = true };
		b_tx = (struct fake_nic_side){ .pq = &b.ptxq, .receive = false };
		a_tx = (struct fake_nic_side){ .pq = &a.ptxq, .receive = false };
		r.rx = packed_rx;
		r.tx = packed_tx;
		sn_vpacked_refill(&a.prxq);
	} else if (virtio) {
		if (fake_nic_open_virtio(&m, &a, RING, pool) < 0 ||
		    fake_nic_open_virtio(&m, &b, RING, pool) < 0) {
			fprintf(stderr, "safenic-host-cost: cannot set up a virtqueue\n");
			return 1;
		}
		a_rx = (struct fake_nic_side){ .vq = &a.rxq, .receive = true };
		b_tx = (struct fake_nic_side){ .vq = &b.txq, .receive = false };
		a_tx = (struct fake_nic_side){ .vq = &a.txq, .receive = false };
		r.rx = virtio_rx;
		r.tx = virtio_tx;
		sn_virtq_refill(&a.rxq);
	} else {
		struct fake_nic_endpoint *pair[2] = { &a, &b };
		struct fake_nic_side rx_sides[2], tx_sides[2];
		if (fake_nic_open_intel_pair(&m, driver, RING, NULL, pair, rx_sides, tx_sides, &err) < 0) {
			fprintf(stderr, "safenic-host-cost: %s\n", err.msg);
			return 1;
		}
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
		fake_nic_start(&m);
	uint64_t start = __rdtsc();
	uint64_t done = loop(&r);
	uint64_t cycles = __rdtsc() - start - device_cycles;
	if (!inline_device)
		fake_nic_stop(&m);
	printf("%s %s %u %llu %.1f\n", driver, mode, r.batch, (unsigned long long)done,
	       (double)cycles / (double)done);
	if (virtio) {
		fake_nic_close_virtio(&a);
		fake_nic_close_virtio(&b);
	}
	sn_ctx_destroy(m.ctx); /* devices, pools and DMA memory */
	free(a.bar);
	free(b.bar);
	return 0;
}
