/* safenic-lifetime: the library's lifetime rules on emulated NICs behind
 * the guest's IOMMU, through the public API only. Two ports A and B cabled
 * back to back:
 *
 *   1. A and B each receive into a pool of their own. Frames sent on B
 *      arrive at A, in A's pool, and go out on B again, several rounds: B's
 *      transmit ring then holds A's buffers. A is closed first (the order
 *      it was opened), while B's NIC may still read them; then B.
 *   2. Every device is closed now, so the VFIO container has lost its
 *      IOMMU and every mapping. Both are opened again in the same context
 *      and frames from the pool made in round 1 must cross the cable both
 *      ways, intact.
 *
 * Prints "LIFETIME: ..." lines and "LIFETIME-RESULT: pass" (exit 0) or
 * "LIFETIME-RESULT: fail" (exit 1). The guest scenario also checks that
 * the IOMMU reported no fault. Usage: safenic-lifetime PCI_A PCI_B */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "safenic/safenic.h"

#define FRAME_LEN 60
#define ETHERTYPE 0x88b5u  /* IEEE local experimental */
#define BURST 32

static bool failed;

static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("LIFETIME: ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
}

static void check(bool ok, const char *what)
{
	say("%s: %s", ok ? "ok" : "FAILED", what);
	if (!ok)
		failed = true;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	nanosleep(&(struct timespec){ ms / 1000, (ms % 1000) * 1000000L }, NULL);
}

static struct sn_dev *open_port(struct sn_ctx *ctx, const char *addr)
{
	struct sn_error err = { 0 };
	struct sn_dev_config cfg = { .rx_ring_size = 256, .tx_ring_size = 256 };
	struct sn_dev *dev = sn_dev_open(ctx, addr, &cfg, &err);
	if (!dev) {
		say("FAILED: open %s: %s", addr, err.msg);
		failed = true;
		return NULL;
	}
	struct sn_link link = { 0 };
	uint64_t deadline = now_ms() + 5000;
	while (sn_dev_link(dev, &link) == 0 && !link.up && now_ms() < deadline)
		sleep_ms(10);
	say("opened %s (%s), link %s", addr, sn_dev_driver_name(dev), link.up ? "up" : "down");
	return dev;
}

static void write_frame(struct sn_pkt *p, uint32_t seq)
{
	memset(p->data, 0xff, 6);
	memcpy(p->data + 6, "\x02\x5a\xfe\x00\x00\x99", 6);
	p->data[12] = ETHERTYPE >> 8;
	p->data[13] = ETHERTYPE & 0xff;
	memcpy(p->data + 14, &seq, 4);
	for (unsigned i = 18; i < FRAME_LEN; i++)
		p->data[i] = (uint8_t)(seq * 7 + i);
	p->len = FRAME_LEN;
}

static bool frame_ok(const struct sn_pkt *p, uint32_t *seq)
{
	if (p->len < FRAME_LEN || p->data[12] != (ETHERTYPE >> 8) ||
	    p->data[13] != (ETHERTYPE & 0xff))
		return false;
	memcpy(seq, p->data + 14, 4);
	for (unsigned i = 18; i < FRAME_LEN; i++)
		if (p->data[i] != (uint8_t)(*seq * 7 + i))
			return false;
	return true;
}

/* Sends count frames from pool on dev, seq first..first+count-1. */
static uint32_t send_frames(struct sn_dev *dev, struct sn_mempool *pool, uint32_t first,
			    uint32_t count)
{
	uint32_t sent = 0;
	uint64_t deadline = now_ms() + 3000;
	while (sent < count && now_ms() < deadline) {
		struct sn_pkt *pkts[BURST];
		uint32_t want = count - sent < BURST ? count - sent : BURST;
		uint32_t got = sn_pkt_alloc_bulk(pool, pkts, want);
		for (uint32_t i = 0; i < got; i++)
			write_frame(pkts[i], first + sent + i);
		uint16_t took = sn_tx_burst(dev, 0, pkts, (uint16_t)got);
		sn_pkt_free_bulk(pkts + took, got - took);
		sent += took;
	}
	return sent;
}

/* Receives until count frames came or a second passed without any; the
 * frames are checked, then handed to out (sent on it) or freed. */
static uint32_t receive_frames(struct sn_dev *in, struct sn_dev *out, uint32_t count,
			       uint32_t *bad)
{
	uint32_t got = 0;
	uint64_t quiet_until = now_ms() + 2000;
	while (got < count && now_ms() < quiet_until) {
		struct sn_pkt *pkts[BURST];
		uint16_t n = sn_rx_burst(in, 0, pkts, BURST);
		for (uint16_t i = 0; i < n; i++) {
			uint32_t seq;
			if (!frame_ok(pkts[i], &seq))
				(*bad)++;
		}
		uint16_t sent = out ? sn_tx_burst(out, 0, pkts, n) : 0;
		sn_pkt_free_bulk(pkts + sent, (uint32_t)(n - sent));
		if (n)
			quiet_until = now_ms() + 1000;
		got += n;
		if (out)
			sn_tx_burst(out, 0, NULL, 0); /* reclaim */
	}
	return got;
}

static void round_one(struct sn_ctx *ctx, struct sn_mempool *pool, const char *pa,
		      const char *pb)
{
	struct sn_dev *a = open_port(ctx, pa);
	struct sn_dev *b = open_port(ctx, pb);
	if (!a || !b) {
		sn_dev_close(b);
		sn_dev_close(a);
		return;
	}
	uint32_t bad = 0, sent = send_frames(b, pool, 0, 128), moved = sent;
	/* A's buffers go out on B and come back to A, three times. */
	for (int r = 0; r < 3; r++)
		moved = receive_frames(a, b, moved, &bad);
	check(sent == 128, "round 1: 128 frames sent on B");
	check(moved == sent, "round 1: every frame crossed the cable three more times");
	check(bad == 0, "round 1: every frame intact");
	/* The last round is in flight in B's ring, in A's buffers: close A now,
	 * as the README's example does, then B. */
	sn_dev_close(a);
	sleep_ms(100);
	sn_dev_close(b);
	check(sn_mempool_free_count(pool) == sn_mempool_size(pool),
	      "round 1: every buffer of the sending pool came home");
	check(sn_mempool_bad_frees(pool) == 0, "round 1: no buffer freed twice");
}

static void round_two(struct sn_ctx *ctx, struct sn_mempool *pool, const char *pa,
		      const char *pb)
{
	/* The container lost its IOMMU when B closed: these opens set it up
	 * again, and pool's buffers must be where their iova says. */
	struct sn_dev *a = open_port(ctx, pa);
	struct sn_dev *b = open_port(ctx, pb);
	check(a && b, "round 2: both ports open again in the same context");
	if (a && b) {
		uint32_t bad = 0;
		uint32_t sent = send_frames(a, pool, 1000, 100);
		uint32_t got = receive_frames(b, NULL, sent, &bad);
		check(sent == 100 && got == sent, "round 2: 100 frames A -> B");
		sent = send_frames(b, pool, 2000, 100);
		got = receive_frames(a, NULL, sent, &bad);
		check(sent == 100 && got == sent, "round 2: 100 frames B -> A");
		check(bad == 0, "round 2: every frame intact");
	}
	sn_dev_close(b);
	sn_dev_close(a);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: safenic-lifetime PCI_A PCI_B (cabled back to back)\n");
		return 2;
	}
	struct sn_error err = { 0 };
	struct sn_ctx *ctx = sn_ctx_create(NULL, &err);
	if (!ctx) {
		fprintf(stderr, "safenic-lifetime: %s\n", err.msg);
		return 1;
	}
	struct sn_mempool *pool = sn_mempool_create(ctx, 512, 0, 0, &err);
	if (!pool) {
		fprintf(stderr, "safenic-lifetime: %s\n", err.msg);
		sn_ctx_destroy(ctx);
		return 1;
	}
	round_one(ctx, pool, argv[1], argv[2]);
	round_two(ctx, pool, argv[1], argv[2]);
	sn_mempool_destroy(pool);
	sn_ctx_destroy(ctx);
	say("%s", failed ? "some checks failed" : "all checks passed");
	printf("LIFETIME-RESULT: %s\n", failed ? "fail" : "pass");
	return failed ? 1 : 0;
}
