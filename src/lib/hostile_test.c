/* A hostile device: while the real datapath forwards frames both ways
 * between two in-memory NICs (fake_nic.c), a second thread writes random
 * bytes, at random offsets and as fast as it can, into every byte the
 * device may write: the Intel descriptor rings (their write-backs overlay
 * whole descriptors), virtio's used rings, and the packet buffers. A real
 * NIC races the driver the same way, so this test races by design (ctest
 * label "device-races": not for ThreadSanitizer).
 *
 * What must always hold, checked while the scribbler runs and after:
 *   - no access outside a ring or a buffer (the ASan+UBSan build runs
 *     this test too), and no hang: every phase ends by the clock;
 *   - every frame handed to the application is a pool's own buffer, not
 *     already held, not on the free stack, with 14 <= len and
 *     headroom + len within its buffer;
 *   - every buffer has exactly one owner at all times (free stack, a
 *     ring, or the application), and the rings never free one twice
 *     (the pool's bad_frees stays 0); after closing, all are home;
 *   - the damage is counted (device_errors > 0), and the frames the
 *     application got equal the receive counters.
 * After the scribbler stops, the honest device runs on for a while and
 * the health check looks three times: each direction must move frames
 * again (Intel: after the check reset and re-armed a queue out of step
 * with RDH/TDH), or the check must report why it cannot (virtio: a used
 * index out of step, which only a device reset mends). A direction stuck
 * in silence is printed as a FINDING with its queue's state and fails.
 * Last, the device stops: with frames to send, the health check must say
 * so within two looks (the CLI looks once a second).
 * SAFENIC_HOSTILE_SECONDS sets how long the scribbler runs per driver
 * (default 2); SAFENIC_HOSTILE_SEED its random seed (default: the time,
 * printed so a run can be repeated as far as thread timing allows). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "fake_nic.h"
#include "intel.h"
#include "mempool.h"
#include "ring.h"

#define RING 256
#define POOL 2048
#define BATCH 32
#define MAX_TARGETS 8

/* ---- the scribbler ------------------------------------------------------ */

struct target {
	uint8_t *va;
	size_t size;
	const char *what;
};

struct scribbler {
	struct target targets[MAX_TARGETS];
	unsigned num_targets;
	uint64_t seed;
	atomic_bool stop;
	_Atomic uint64_t writes;
	pthread_t thread;
};

static uint64_t next_random(uint64_t *state)
{
	/* xorshift64*: plenty for noise, and repeatable from a seed. */
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* One to eight random bytes at a random offset of a random target, byte
 * by byte: partial writes leave plausible values (an id with only its
 * low byte changed), which reach deeper than pure noise. Targets are
 * picked evenly, so the small rings are hit as often as the pool. */
static void *scribble(void *arg)
{
	struct scribbler *s = arg;
	uint64_t state = s->seed | 1, count = 0;

	while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
		uint64_t r = next_random(&state);
		const struct target *t = &s->targets[r % s->num_targets];
		uint64_t value = next_random(&state);
		size_t len = 1 + (r >> 8) % 8;
		size_t at = (size_t)(r >> 16) % t->size;
		for (size_t i = 0; i < len && at + i < t->size; i++)
			__atomic_store_n(&t->va[at + i], (uint8_t)(value >> (8 * i)),
					 __ATOMIC_RELAXED);
		count++;
	}
	atomic_store(&s->writes, count);
	return NULL;
}

/* Only memory the library lets the device write may be a target. */
static void add_target(struct scribbler *s, struct sn_ctx *ctx, void *va, size_t size,
		       const char *what)
{
	bool device_writes = false;
	for (struct sn_dma_region *r = ctx->regions; r; r = r->next)
		if ((uint8_t *)va >= r->va && (uint8_t *)va + size <= r->va + r->size)
			device_writes = (r->access & SN_DMA_DEVICE_WRITES) != 0;
	assert_true(device_writes);
	assert_true(s->num_targets < MAX_TARGETS);
	s->targets[s->num_targets++] = (struct target){ va, size, what };
}

/* ---- one run: two NICs, forwarding both ways ---------------------------- */

struct queue {
	struct sn_ring *ring;         /* Intel */
	struct sn_virtq *vq;          /* virtio */
};

struct run {
	const char *driver;
	bool virtio;
	struct sn_ctx *ctx;
	struct sn_mempool *pool;
	struct fake_nic nic;
	struct fake_nic_endpoint end[2];
	struct queue rxq[2], txq[2];
	struct scribbler scribbler;
	uint8_t held[POOL];           /* the application's buffers */
	uint64_t received[2];         /* frames the application got, per port */
	uint64_t forwarded[2];        /* frames received on port i and sent on */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint16_t rx_burst(struct run *r, int port, struct sn_pkt **pkts, uint16_t n)
{
	if (r->virtio)
		return sn_virtio_rx_burst(&r->end[port].rxq, pkts, n);
	return sn_rx_burst(r->end[port].dev, 0, pkts, n);
}

static uint16_t tx_burst(struct run *r, int port, struct sn_pkt **pkts, uint16_t n)
{
	if (r->virtio)
		return sn_virtio_tx_burst(&r->end[port].txq, pkts, n);
	return sn_tx_burst(r->end[port].dev, 0, pkts, n);
}

/* A frame the driver hands over must be a pool's own buffer that nobody
 * else owns, with its length inside the buffer. */
static void check_received(struct run *r, struct sn_pkt **pkts, uint16_t n)
{
	struct sn_mempool *pool = r->pool;
	for (uint16_t i = 0; i < n; i++) {
		struct sn_pkt *p = pkts[i];
		assert_ptr_equal(p->pool, pool);
		assert_true(p->index < pool->size);
		assert_ptr_equal(p, &pool->pkts[p->index]);
		assert_int_equal(r->held[p->index], 0);       /* not handed out twice */
		assert_int_equal(pool->in_pool[p->index], 0); /* not on the free stack */
		assert_true(p->len >= 14);
		assert_true(p->headroom + p->len <= pool->buf_size);
		assert_ptr_equal(p->data, pool->home[p->index].va + p->headroom);
		assert_true(p->iova == pool->home[p->index].iova + p->headroom);
		r->held[p->index] = 1;
	}
}

static void release(struct run *r, struct sn_pkt **pkts, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++)
		r->held[pkts[i]->index] = 0;
}

static void census(struct run *r);

/* One burst each way: receive on both ports, take a census while the
 * application holds what came in (a buffer handed out while a ring still
 * holds it would have two owners), then send each on the other port. */
static void forward_once(struct run *r)
{
	struct sn_pkt *pkts[2][BATCH];
	uint16_t n[2];
	for (int port = 0; port < 2; port++) {
		n[port] = rx_burst(r, port, pkts[port], BATCH);
		check_received(r, pkts[port], n[port]);
		r->received[port] += n[port];
	}
	census(r);
	for (int port = 0; port < 2; port++) {
		release(r, pkts[port], n[port]);
		uint16_t sent = tx_burst(r, 1 - port, pkts[port], n[port]);
		r->forwarded[port] += sent;
		sn_pkt_free_bulk(pkts[port] + sent, (uint32_t)(n[port] - sent));
	}
}

/* Adds one to owners[] for every buffer a queue holds. */
static void count_queue(const struct queue *q, uint8_t *owners)
{
	if (q->ring) {
		const struct sn_ring *ring = q->ring;
		assert_true(ring->in_flight < ring->size);
		for (uint16_t i = 0; i < ring->in_flight; i++)
			owners[ring->slots[(ring->next_clean + i) & ring->mask]->index]++;
	} else {
		const struct sn_virtq *vq = q->vq;
		unsigned held = 0;
		for (uint16_t id = 0; id < vq->size; id++)
			if (vq->ids.inflight[id]) {
				owners[vq->ids.inflight[id]->index]++;
				held++;
			}
		assert_int_equal(held + vq->ids.num_free, vq->size);
	}
}

/* Every buffer has exactly one owner: the free stack, one ring, or the
 * application. */
static void census(struct run *r)
{
	uint8_t owners[POOL];
	for (uint32_t i = 0; i < POOL; i++)
		owners[i] = (uint8_t)(r->pool->in_pool[i] + r->held[i]);
	for (int port = 0; port < 2; port++) {
		count_queue(&r->rxq[port], owners);
		count_queue(&r->txq[port], owners);
	}
	for (uint32_t i = 0; i < POOL; i++)
		if (owners[i] != 1)
			fail_msg("%s: buffer %u has %u owners", r->driver, i, owners[i]);
	assert_int_equal(sn_mempool_bad_frees(r->pool), 0);
}

/* Forwards until the deadline. */
static void forward_for(struct run *r, uint64_t ns)
{
	uint64_t end = now_ns() + ns;
	while (now_ns() < end)
		forward_once(r);
	census(r);
}

static uint64_t device_errors(struct run *r)
{
	uint64_t sum = 0;
	for (int port = 0; port < 2; port++) {
		if (r->virtio) {
			sum += r->end[port].rxq.stats.device_errors + r->end[port].txq.stats.device_errors;
		} else {
			struct sn_stats st;
			sn_dev_stats(r->end[port].dev, &st);
			sum += st.device_errors;
		}
	}
	return sum;
}

static uint64_t rx_counted(struct run *r, int port)
{
	if (r->virtio)
		return r->end[port].rxq.stats.packets;
	struct sn_stats st;
	sn_dev_stats(r->end[port].dev, &st);
	return st.rx_packets;
}

static void open_run(struct run *r)
{
	struct sn_error err;
	r->ctx = sn_ctx_create(NULL, NULL);
	assert_non_null(r->ctx);
	assert_int_equal(sn_ctx_emulate_iommu(r->ctx, (1ull << 39) - 1), 0);
	r->pool = sn_mempool_create(r->ctx, POOL, 0, 0, &err);
	assert_non_null(r->pool);
	r->nic.ctx = r->ctx;
	struct fake_nic_side rx_side[2], tx_side[2];
	if (r->virtio) {
		for (int port = 0; port < 2; port++) {
			struct fake_nic_endpoint *e = &r->end[port];
			assert_int_equal(fake_nic_open_virtio(&r->nic, e, RING, r->pool), 0);
			rx_side[port] = (struct fake_nic_side){ .vq = &e->rxq, .receive = true };
			tx_side[port] = (struct fake_nic_side){ .vq = &e->txq };
			r->rxq[port].vq = &e->rxq;
			r->txq[port].vq = &e->txq;
			sn_virtq_refill(&e->rxq);
		}
	} else {
		struct fake_nic_endpoint *pair[2] = { &r->end[0], &r->end[1] };
		if (fake_nic_open_intel_pair(&r->nic, r->driver, RING, r->pool, pair, rx_side, tx_side,
					     &err) < 0)
			fail_msg("%s: %s", r->driver, err.msg);
		for (int port = 0; port < 2; port++) {
			struct sn_intel_nic *nic = sn_device_of(r->end[port].dev)->priv;
			r->rxq[port].ring = &nic->rx[0];
			r->txq[port].ring = &nic->tx[0];
		}
	}
	for (int port = 0; port < 2; port++) {
		r->nic.sides[2 * port] = rx_side[port];
		r->nic.sides[2 * port + 1] = tx_side[port];
	}
	r->nic.num_sides = 4;
}

/* Everything the device may write: rings (their used part) and buffers. */
static void aim_scribbler(struct run *r)
{
	struct scribbler *s = &r->scribbler;
	for (int port = 0; port < 2; port++) {
		if (r->virtio) {
			add_target(s, r->ctx, r->end[port].rxq.used, sn_vring_used_bytes(RING),
				   "receive used ring");
			add_target(s, r->ctx, r->end[port].txq.used, sn_vring_used_bytes(RING),
				   "transmit used ring");
		} else {
			add_target(s, r->ctx, (void *)r->rxq[port].ring->desc,
				   RING * sizeof(union sn_desc), "receive descriptors");
			add_target(s, r->ctx, (void *)r->txq[port].ring->desc,
				   RING * sizeof(union sn_desc), "transmit descriptors");
		}
	}
	add_target(s, r->ctx, r->pool->region->va, r->pool->region->size, "packet buffers");
	const char *seed = getenv("SAFENIC_HOSTILE_SEED");
	s->seed = seed ? strtoull(seed, NULL, 0) : now_ns();
}

static double env_seconds(void)
{
	const char *text = getenv("SAFENIC_HOSTILE_SECONDS");
	double s = text ? strtod(text, NULL) : 2.0;
	return s > 0 ? s : 2.0;
}

enum verdict { HEALTHY, RECOVERED, REPORTED };

/* One look of the health check at a port: the device's for Intel, each
 * virtqueue's own cross-check for virtio (a lie it stepped over counts
 * as recovered; a stall or an index out of step as reported). */
static enum verdict look_at(struct run *r, int port, char *what, size_t len)
{
	if (!r->virtio) {
		enum sn_dev_state st = sn_dev_check(r->end[port].dev);
		snprintf(what, len, "%s: %s", sn_dev_state_name(st),
			 sn_dev_check_message(r->end[port].dev));
		return st == SN_DEV_OK ? HEALTHY : st == SN_DEV_RECOVERED ? RECOVERED : REPORTED;
	}
	static const char *const names[] = { "ok", "stalled", "lied", "out of step" };
	struct sn_virtq *qs[2] = { &r->end[port].rxq, &r->end[port].txq };
	enum verdict worst = HEALTHY;
	what[0] = 0;
	for (int i = 0; i < 2; i++) {
		struct sn_virtq_look look;
		enum sn_virtq_health h = sn_virtq_check(qs[i], &look);
		enum verdict v = h == SN_VIRTQ_OK ? HEALTHY : h == SN_VIRTQ_LIED ? RECOVERED
										: REPORTED;
		size_t at = strlen(what);
		snprintf(what + at, len - at, "%s%s %s (device %u, driver %u, %u in flight)",
			 at ? "; " : "", i ? "transmit" : "receive", names[h], look.device_idx,
			 look.used_idx, look.in_flight);
		if (v > worst)
			worst = v;
	}
	return worst;
}

/* After the lies stop, the honest device runs on and the health check
 * looks every half second (the CLI: every second), three times: each
 * direction must move frames again (after a reset and re-arm, where the
 * check did one) or the check must say why it cannot. Returns the
 * directions where neither happened: stuck in silence. */
static unsigned observe_recovery(struct run *r)
{
	enum verdict worst[2] = { HEALTHY, HEALTHY };
	uint64_t flowing_after[2] = { 0, 0 };
	unsigned findings = 0;
	char what[256];

	forward_for(r, 300 * 1000000ull); /* let in-flight lies wash out */
	for (int look = 0; look < 3; look++) {
		uint64_t before[2] = { r->received[0], r->received[1] };
		forward_for(r, 500 * 1000000ull);
		for (int port = 0; port < 2; port++) {
			/* Frames in the last window count only after the first look:
			 * a recovery needs two looks in a row to be sure. */
			if (look > 0)
				flowing_after[port] += r->received[port] - before[port];
			/* The model pauses while the driver looks: a queue reset turns
			 * the queue off first, and a NIC has stopped when the bit reads
			 * back off; the model's register file cannot show that, and
			 * a pass begun before the reset would write a stale head. */
			fake_nic_stop(&r->nic);
			enum verdict v = look_at(r, port, what, sizeof(what));
			fake_nic_start(&r->nic);
			if (v != HEALTHY)
				print_message("%s port %d, look %d: %s\n", r->driver, port, look, what);
			if (v > worst[port])
				worst[port] = v;
		}
	}
	static const char *const verdicts[] = { "ok", "recovered", "reported" };
	for (int port = 0; port < 2; port++) {
		print_message("%s port %d after the lies: %llu frames in the last second, "
			      "health %s\n", r->driver, port,
			      (unsigned long long)flowing_after[port], verdicts[worst[port]]);
		if (flowing_after[port] > 0 || worst[port] == REPORTED)
			continue;
		findings++;
		const struct queue *q = &r->rxq[port];
		if (q->ring) {
			const struct fake_nic_side *side = &r->nic.sides[2 * port];
			uint32_t rdh = *(volatile uint32_t *)(side->bar + side->regs->rdh);
			uint32_t rdt = *(volatile uint32_t *)(side->bar + side->regs->rdt);
			print_message("FINDING %s port %d: receive silent after the lies, health %s; "
				      "driver next_clean %u next_use %u in_flight %u, device RDH %u "
				      "RDT %u\n", r->driver, port, verdicts[worst[port]],
				      q->ring->next_clean, q->ring->next_use, q->ring->in_flight,
				      rdh, rdt);
		} else {
			print_message("FINDING %s port %d: receive silent after the lies, health %s; "
				      "used_idx %u, device used idx %u, free %u of %u\n", r->driver,
				      port, verdicts[worst[port]], q->vq->used_idx, q->vq->used->idx,
				      q->vq->ids.num_free, q->vq->size);
		}
	}
	return findings;
}

/* The device stops: with frames waiting to go, the health check must
 * report it by its second look (one second apart in the CLI). */
static void device_stops(struct run *r)
{
	char what[256];
	fake_nic_stop(&r->nic);
	for (int port = 0; port < 2; port++) {
		struct sn_pkt *pkts[BATCH];
		uint32_t n = sn_pkt_alloc_bulk(r->pool, pkts, BATCH);
		for (uint32_t i = 0; i < n; i++)
			pkts[i]->len = FAKE_NIC_FRAME;
		uint16_t sent = tx_burst(r, port, pkts, (uint16_t)n);
		sn_pkt_free_bulk(pkts + sent, n - sent);
		enum verdict v = look_at(r, port, what, sizeof(what));
		tx_burst(r, port, pkts, 0);
		if (v != REPORTED)
			v = look_at(r, port, what, sizeof(what));
		if (v != REPORTED)
			fail_msg("%s port %d: the device stopped with frames to send and two health "
				 "checks did not say so (%s)", r->driver, port, what);
	}
}

static void close_run(struct run *r)
{
	for (int port = 0; port < 2; port++) {
		if (r->virtio)
			fake_nic_close_virtio(&r->end[port]);
		else
			sn_dev_close(r->end[port].dev);
	}
	/* Nothing held, every ring drained: every buffer is home. */
	assert_int_equal(sn_mempool_free_count(r->pool), POOL);
	assert_int_equal(sn_mempool_bad_frees(r->pool), 0);
	sn_ctx_destroy(r->ctx);
	for (int port = 0; port < 2; port++)
		free(r->end[port].bar);
}

static void hostile_device(void **state)
{
	struct run *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	r->driver = *state;
	r->virtio = strcmp(r->driver, "virtio") == 0;
	open_run(r);

	/* An honest device first: frames flow both ways, nothing is wrong. */
	fake_nic_start(&r->nic);
	forward_for(r, 200 * 1000000ull);
	assert_true(r->forwarded[0] > 0 && r->forwarded[1] > 0);
	assert_int_equal(device_errors(r), 0);

	aim_scribbler(r);
	struct scribbler *s = &r->scribbler;
	pthread_create(&s->thread, NULL, scribble, s);
	forward_for(r, (uint64_t)(env_seconds() * 1e9));
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	uint64_t damage = device_errors(r);
	print_message("%s: seed 0x%llx, %llu random writes, %llu + %llu frames received, "
		      "device_errors %llu\n", r->driver, (unsigned long long)s->seed,
		      (unsigned long long)atomic_load(&s->writes),
		      (unsigned long long)r->received[0], (unsigned long long)r->received[1],
		      (unsigned long long)damage);
	assert_true(atomic_load(&s->writes) > 0);
	assert_true(damage > 0);

	unsigned findings = observe_recovery(r);
	for (int port = 0; port < 2; port++)
		assert_int_equal(rx_counted(r, port), r->received[port]);
	device_stops(r);
	close_run(r);
	free(r);
	if (findings)
		fail_msg("%u direction(s) stuck after the lies without a report", findings);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate(hostile_device, (void *)"igb"),
		cmocka_unit_test_prestate(hostile_device, (void *)"e1000e"),
		cmocka_unit_test_prestate(hostile_device, (void *)"ixgbe"),
		cmocka_unit_test_prestate(hostile_device, (void *)"virtio"),
	};
	return cmocka_run_group_tests_name("hostile device", tests, NULL, NULL);
}
