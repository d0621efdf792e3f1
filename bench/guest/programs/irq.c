/* safenic-irq: receive interrupts on an emulated NIC behind the guest's
 * IOMMU, through the public API only. RX_DEV receives with rx_interrupts;
 * TX_DEV, cabled to it, sends. A receiver thread runs the NAPI-like loop
 * of safenic.h: poll the ring; when empty, arm and sleep in poll() on the
 * queue's eventfd (and a stop eventfd, nothing else: no timeout), disarm
 * once awake.
 *
 *   1. Wake-ups: CYCLES times, the sender waits until the receiver has
 *      been asleep for a while, then sends a burst of BURST_FRAMES frames.
 *      Every frame must arrive (each carries a sequence number; none
 *      lost, none twice), and the receiver must have been woken.
 *   2. Idle: nothing is sent for IDLE_MS; the receiver thread's CPU time
 *      over that spell (its thread CPU clock) must stay under 2 %.
 *   3. Link change: the program asks the host to pull RX_DEV's cable
 *      ("HOST-MONITOR <tag>: set_link NETDEV off", done by
 *      bench/host-monitor.py), and the event fd must fire within
 *      LINK_WAIT_MS with sn_dev_link then saying down; then the cable goes
 *      back and the event fd must fire again with the link up.
 *
 * Prints "IRQ: ..." lines, then "IRQ-RESULT <rx> driver=... key=value..."
 * and exits 0 when every check passed, 1 otherwise.
 * Usage: safenic-irq RX_DEV TX_DEV NETDEV [CYCLES] */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "safenic/safenic.h"

#define FRAME_LEN 60
#define ETHERTYPE 0x88b5u  /* IEEE local experimental */
#define MAGIC 0x53495251u  /* "SIRQ" */
#define BURST 32
#define BURST_FRAMES 200
#define ASLEEP_MS 400      /* quiet time before each burst */
#define IDLE_MS 3000
#define LINK_WAIT_MS 10000
#define MAX_SEQ 65536

static bool failed;

static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("IRQ: ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
}

static void check(bool ok, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("IRQ: %s: ", ok ? "ok" : "FAILED");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
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

/* What the receiver thread owns, and what it publishes for main. */
struct receiver {
	struct sn_dev *dev;
	int stop_fd;
	pthread_t thread;
	atomic_uint_fast64_t frames, foreign, duplicates, wakeups, rechecks, sleeps;
	atomic_uint_fast64_t asleep_since;  /* ms; 0 = awake */
	uint8_t seen[MAX_SEQ];
};

static void count_frames(struct receiver *r, struct sn_pkt **pkts, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++) {
		const uint8_t *d = pkts[i]->data;
		uint32_t magic, seq;
		if (pkts[i]->len < 22 || d[12] != (ETHERTYPE >> 8) || d[13] != (ETHERTYPE & 0xff)) {
			r->foreign++;
			continue;
		}
		memcpy(&magic, d + 14, 4);
		memcpy(&seq, d + 18, 4);
		if (magic != MAGIC || seq >= MAX_SEQ) {
			r->foreign++;
		} else if (r->seen[seq]) {
			r->duplicates++;
		} else {
			r->seen[seq] = 1;
			r->frames++;
		}
	}
	sn_pkt_free_bulk(pkts, n);
}

/* The loop of safenic.h: poll; when empty, arm and sleep; disarm awake. */
static void *receive(void *arg)
{
	struct receiver *r = arg;
	struct pollfd fds[2] = { { sn_rx_intr_fd(r->dev, 0), POLLIN, 0 },
				 { r->stop_fd, POLLIN, 0 } };
	struct sn_pkt *pkts[BURST];

	for (;;) {
		uint16_t n = sn_rx_burst(r->dev, 0, pkts, BURST);
		if (n) {
			count_frames(r, pkts, n);
			continue;
		}
		if (sn_rx_intr_arm(r->dev, 0)) {
			r->sleeps++;
			r->asleep_since = now_ms();
			int rc = poll(fds, 2, -1);
			r->asleep_since = 0;
			if (rc > 0 && (fds[1].revents & POLLIN))
				break;
			if (rc > 0 && (fds[0].revents & POLLIN))
				r->wakeups++;
		} else {
			r->rechecks++;
		}
		sn_rx_intr_disarm(r->dev, 0);
	}
	sn_rx_intr_disarm(r->dev, 0);
	return NULL;
}

static void fill_frame(struct sn_pkt *p, const uint8_t dst[6], const uint8_t src[6],
		       uint32_t seq)
{
	uint8_t *d = p->data;
	uint32_t magic = MAGIC;
	memset(d, 0, FRAME_LEN);
	memcpy(d, dst, 6);
	memcpy(d + 6, src, 6);
	d[12] = ETHERTYPE >> 8;
	d[13] = ETHERTYPE & 0xff;
	memcpy(d + 14, &magic, 4);
	memcpy(d + 18, &seq, 4);
	p->len = FRAME_LEN;
}

/* Sends frames first .. first + count - 1; returns how many went out. */
static uint32_t send_frames(struct sn_dev *tx, struct sn_mempool *pool, const uint8_t dst[6],
			    const uint8_t src[6], uint32_t first, uint32_t count)
{
	struct sn_pkt *pkts[BURST];
	uint32_t sent = 0;
	uint64_t deadline = now_ms() + 5000;

	while (sent < count && now_ms() < deadline) {
		uint32_t want = count - sent < BURST ? count - sent : BURST;
		uint32_t got = sn_pkt_alloc_bulk(pool, pkts, want);
		for (uint32_t i = 0; i < got; i++)
			fill_frame(pkts[i], dst, src, first + sent + i);
		uint16_t n = sn_tx_burst(tx, 0, pkts, (uint16_t)got);
		sn_pkt_free_bulk(pkts + n, got - n);
		sent += n;
		if (n < got)
			sleep_ms(1);
	}
	for (int i = 0; i < 100; i++) /* let the ring hand its buffers back */
		sn_tx_burst(tx, 0, NULL, 0);
	return sent;
}

static bool wait_link(struct sn_dev *dev, bool up, unsigned ms)
{
	struct sn_link link;
	for (uint64_t end = now_ms() + ms;; sleep_ms(50)) {
		if (sn_dev_link(dev, &link) == 0 && link.up == up)
			return true;
		if (now_ms() > end)
			return false;
	}
}

/* Waits for the event fd to fire, then reads the link (which re-arms the
 * event) until it says `up`, or the time runs out. */
static bool wait_event(struct sn_dev *dev, bool up, bool *fired)
{
	struct pollfd p = { sn_dev_event_fd(dev), POLLIN, 0 };
	uint64_t end = now_ms() + LINK_WAIT_MS;
	struct sn_link link = { 0 };
	*fired = false;
	while (now_ms() < end) {
		int rc = poll(&p, 1, (int)(end - now_ms()));
		if (rc <= 0)
			break;
		*fired = true;
		if (sn_dev_link(dev, &link) == 0 && link.up == up)
			return true;
	}
	return false;
}

static double thread_cpu_ms(pthread_t t)
{
	clockid_t cid;
	struct timespec ts;
	if (pthread_getcpuclockid(t, &cid) != 0 || clock_gettime(cid, &ts) != 0)
		return -1;
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: safenic-irq RX_DEV TX_DEV NETDEV [CYCLES]\n");
		return 2;
	}
	const char *netdev = argv[3];
	unsigned cycles = argc > 4 ? (unsigned)atoi(argv[4]) : 5;
	struct sn_error err = { 0 };
	struct sn_ctx *ctx = sn_ctx_create(NULL, &err);
	struct sn_mempool *pool = ctx ? sn_mempool_create(ctx, 1024, 0, 0, &err) : NULL;
	struct sn_dev_config rx_cfg = { .rx_interrupts = true };
	struct sn_dev *tx = pool ? sn_dev_open(ctx, argv[2], NULL, &err) : NULL;
	struct sn_dev *rx = tx ? sn_dev_open(ctx, argv[1], &rx_cfg, &err) : NULL;
	if (!rx) {
		say("FAILED: setup: %s", err.msg);
		printf("IRQ-RESULT %s setup=failed\n", argv[1]);
		return 1;
	}
	uint8_t dst[6], src[6];
	sn_dev_mac(rx, dst);
	sn_dev_mac(tx, src);
	say("%s (%s) receives with interrupts, %s (%s) sends", argv[1],
	    sn_dev_driver_name(rx), argv[2], sn_dev_driver_name(tx));
	check(wait_link(rx, true, 5000) && wait_link(tx, true, 5000), "both links up");

	static struct receiver r;
	r.dev = rx;
	r.stop_fd = eventfd(0, EFD_CLOEXEC);
	if (r.stop_fd < 0 || pthread_create(&r.thread, NULL, receive, &r) != 0) {
		say("FAILED: cannot start the receiver thread");
		return 1;
	}

	/* 1. Wake-ups: each burst lands on a sleeping receiver. */
	uint32_t sent = 0;
	unsigned woken_bursts = 0;
	for (unsigned c = 0; c < cycles; c++) {
		uint64_t w0 = r.wakeups;
		for (uint64_t end = now_ms() + 5000; now_ms() < end; sleep_ms(10)) {
			uint64_t since = r.asleep_since;
			if (since && now_ms() - since >= ASLEEP_MS)
				break;
		}
		bool asleep = r.asleep_since != 0;
		sent += send_frames(tx, pool, dst, src, sent, BURST_FRAMES);
		uint64_t end = now_ms() + 5000;
		while (r.frames < sent && now_ms() < end)
			sleep_ms(5);
		bool woken = r.wakeups > w0;
		woken_bursts += asleep && woken;
		say("cycle %u: receiver asleep %s, woken %s, %llu of %u frames", c + 1,
		    asleep ? "yes" : "no", woken ? "yes" : "no",
		    (unsigned long long)r.frames, sent);
	}
	uint64_t received = r.frames;
	check(sent == cycles * BURST_FRAMES, "sent %u frames", sent);
	check(received == sent && r.duplicates == 0,
	      "received every frame: %llu of %u, %llu twice",
	      (unsigned long long)received, sent, (unsigned long long)r.duplicates);
	check(woken_bursts == cycles, "%u of %u bursts woke a sleeping receiver",
	      woken_bursts, cycles);

	/* 2. Idle: the receiver sleeps and costs no CPU. */
	uint64_t wake_before = r.wakeups;
	double cpu0 = thread_cpu_ms(r.thread);
	uint64_t t0 = now_ms();
	sleep_ms(IDLE_MS);
	double cpu = thread_cpu_ms(r.thread) - cpu0;
	uint64_t idle_ms = now_ms() - t0;
	double pct = 100.0 * cpu / (double)idle_ms;
	check(cpu0 >= 0 && pct < 2.0, "idle receiver used %.2f ms of CPU in %llu ms (%.3f %%), "
	      "%llu wake-ups", cpu, (unsigned long long)idle_ms, pct,
	      (unsigned long long)(r.wakeups - wake_before));

	/* 3. Link change through the event fd. */
	struct sn_link link;
	sn_dev_link(rx, &link);  /* spend events from start-up */
	bool down_fired, up_fired;
	printf("HOST-MONITOR irq-%s-down: set_link %s off\n", netdev, netdev);
	fflush(stdout);
	bool down = wait_event(rx, false, &down_fired);
	check(down_fired && down, "link down: event fd %s, link %s", down_fired ? "fired" : "silent",
	      down ? "down" : "still up");
	printf("HOST-MONITOR irq-%s-up: set_link %s on\n", netdev, netdev);
	fflush(stdout);
	bool up = wait_event(rx, true, &up_fired);
	check(up_fired && up, "link up again: event fd %s, link %s", up_fired ? "fired" : "silent",
	      up ? "up" : "still down");

	uint64_t one = 1;
	(void)!write(r.stop_fd, &one, sizeof(one));
	pthread_join(r.thread, NULL);
	struct sn_stats st;
	sn_dev_stats(rx, &st);
	printf("IRQ-RESULT %s driver=%s sent=%u received=%llu duplicates=%llu foreign=%llu "
	       "sleeps=%llu wakeups=%llu rechecks=%llu woken_bursts=%u/%u idle_cpu_pct=%.3f "
	       "link_down_event=%d link_up_event=%d rx_packets=%llu result=%s\n",
	       argv[1], sn_dev_driver_name(rx), sent, (unsigned long long)received,
	       (unsigned long long)r.duplicates, (unsigned long long)r.foreign,
	       (unsigned long long)r.sleeps, (unsigned long long)r.wakeups,
	       (unsigned long long)r.rechecks, woken_bursts, cycles, pct,
	       down_fired && down, up_fired && up, (unsigned long long)st.rx_packets,
	       failed ? "fail" : "pass");
	fflush(stdout);
	sn_ctx_destroy(ctx);
	close(r.stop_fd);
	return failed ? 1 : 0;
}
