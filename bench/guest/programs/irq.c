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
 * With QUEUES > 1, RX_DEV opens that many receive queues with RSS, one
 * receiver thread each, and the frames are UDP over IPv4 in 64 flows
 * (source ports) so that RSS spreads them: every queue must receive a
 * share and be woken at least once, and the frames must all arrive.
 *
 * Prints "IRQ: ..." lines, then "IRQ-RESULT <rx> driver=... key=value..."
 * and exits 0 when every check passed, 1 otherwise.
 * Usage: safenic-irq RX_DEV TX_DEV NETDEV [CYCLES [QUEUES]] */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "safenic/safenic.h"

#define FRAME_LEN 60
#define MAGIC 0x53495251u  /* "SIRQ" */
#define PAYLOAD 42         /* Ethernet 14 + IPv4 20 + UDP 8 */
#define FLOWS 64
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

/* Sequence numbers seen, by any queue's thread (each frame comes once,
 * on one queue, so each byte has one writer). */
static uint8_t seen[MAX_SEQ];

/* What a receiver thread owns, and what it publishes for main. */
struct receiver {
	struct sn_dev *dev;
	uint16_t queue;
	int stop_fd;
	pthread_t thread;
	atomic_uint_fast64_t frames, foreign, duplicates, wakeups, rechecks, sleeps;
	atomic_uint_fast64_t asleep_since;  /* ms; 0 = awake */
};

static void count_frames(struct receiver *r, struct sn_pkt **pkts, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++) {
		const uint8_t *d = pkts[i]->data;
		uint32_t magic, seq;
		if (pkts[i]->len < PAYLOAD + 8 || d[12] != 0x08 || d[13] != 0x00 || d[23] != 17) {
			r->foreign++;
			continue;
		}
		memcpy(&magic, d + PAYLOAD, 4);
		memcpy(&seq, d + PAYLOAD + 4, 4);
		if (magic != MAGIC || seq >= MAX_SEQ) {
			r->foreign++;
		} else if (seen[seq]) {
			r->duplicates++;
		} else {
			seen[seq] = 1;
			r->frames++;
		}
	}
	sn_pkt_free_bulk(pkts, n);
}

/* The loop of safenic.h: poll; when empty, arm and sleep; disarm awake. */
static void *receive(void *arg)
{
	struct receiver *r = arg;
	struct pollfd fds[2] = { { sn_rx_intr_fd(r->dev, r->queue), POLLIN, 0 },
				 { r->stop_fd, POLLIN, 0 } };
	struct sn_pkt *pkts[BURST];

	for (;;) {
		uint16_t n = sn_rx_burst(r->dev, r->queue, pkts, BURST);
		if (n) {
			count_frames(r, pkts, n);
			continue;
		}
		if (sn_rx_intr_arm(r->dev, r->queue)) {
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
		sn_rx_intr_disarm(r->dev, r->queue);
	}
	sn_rx_intr_disarm(r->dev, r->queue);
	return NULL;
}

/* UDP over IPv4, 10.0.1.F:(4000 + F) -> 10.0.0.2:5000 for flow
 * F = seq % FLOWS (addresses vary too: e1000e's RSS does not hash UDP
 * ports), with the magic and the sequence number as payload. */
static void fill_frame(struct sn_pkt *p, const uint8_t dst[6], const uint8_t src[6],
		       uint32_t seq)
{
	uint8_t *d = p->data, *ip = d + 14, *udp = ip + 20;
	uint32_t magic = MAGIC, sum = 0;
	uint16_t sport = (uint16_t)(4000 + seq % FLOWS);
	memset(d, 0, FRAME_LEN);
	memcpy(d, dst, 6);
	memcpy(d + 6, src, 6);
	d[12] = 0x08;                                  /* IPv4 */
	ip[0] = 0x45;
	ip[3] = FRAME_LEN - 14;                        /* total length */
	ip[8] = 64;                                    /* TTL */
	ip[9] = 17;                                    /* UDP */
	memcpy(ip + 12, (uint8_t[]){ 10, 0, 1, (uint8_t)(seq % FLOWS), 10, 0, 0, 2 }, 8);
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = ~((sum & 0xffff) + (sum >> 16)) & 0xffff;
	ip[10] = (uint8_t)(sum >> 8);
	ip[11] = (uint8_t)sum;
	udp[0] = (uint8_t)(sport >> 8);
	udp[1] = (uint8_t)sport;
	udp[2] = 5000 >> 8;
	udp[3] = 5000 & 0xff;
	udp[5] = FRAME_LEN - 34;                       /* UDP length; checksum 0: none */
	memcpy(d + PAYLOAD, &magic, 4);
	memcpy(d + PAYLOAD + 4, &seq, 4);
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

/* Totals over the receivers. */
static uint64_t sum(const struct receiver *r, unsigned n, size_t field)
{
	uint64_t total = 0;
	for (unsigned q = 0; q < n; q++)
		total += *(const atomic_uint_fast64_t *)((const char *)&r[q] + field);
	return total;
}
#define SUM(field) sum(r, queues, offsetof(struct receiver, field))

/* Whether every receiver has slept at least ms by now. */
static bool all_asleep(const struct receiver *r, unsigned n, uint64_t ms)
{
	for (unsigned q = 0; q < n; q++) {
		uint64_t since = r[q].asleep_since;
		if (!since || now_ms() - since < ms)
			return false;
	}
	return true;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: safenic-irq RX_DEV TX_DEV NETDEV [CYCLES [QUEUES]]\n");
		return 2;
	}
	const char *netdev = argv[3];
	unsigned cycles = argc > 4 ? (unsigned)atoi(argv[4]) : 5;
	unsigned queues = argc > 5 ? (unsigned)atoi(argv[5]) : 1;
	if (queues < 1 || queues > SN_MAX_QUEUES)
		queues = 1;
	struct sn_error err = { 0 };
	struct sn_ctx *ctx = sn_ctx_create(NULL, &err);
	struct sn_mempool *pool = ctx ? sn_mempool_create(ctx, 1024, 0, 0, &err) : NULL;
	struct sn_dev_config rx_cfg = { .rx_queues = (uint16_t)queues, .rx_ring_size = 256,
					.rx_interrupts = true };
	struct sn_dev *tx = pool ? sn_dev_open(ctx, argv[2], NULL, &err) : NULL;
	struct sn_dev *rx = tx ? sn_dev_open(ctx, argv[1], &rx_cfg, &err) : NULL;
	if (!rx) {
		say("FAILED: setup: %s", err.msg);
		printf("IRQ-RESULT %s queues=%u setup=failed result=fail\n", argv[1], queues);
		return 1;
	}
	uint8_t dst[6], src[6];
	sn_dev_mac(rx, dst);
	sn_dev_mac(tx, src);
	say("%s (%s) receives on %u queue(s) with interrupts, %s (%s) sends", argv[1],
	    sn_dev_driver_name(rx), queues, argv[2], sn_dev_driver_name(tx));
	check(wait_link(rx, true, 5000) && wait_link(tx, true, 5000), "both links up");

	static struct receiver r[SN_MAX_QUEUES];
	int stop_fd = eventfd(0, EFD_CLOEXEC);
	for (unsigned q = 0; q < queues; q++) {
		r[q].dev = rx;
		r[q].queue = (uint16_t)q;
		r[q].stop_fd = stop_fd;
		if (stop_fd < 0 || pthread_create(&r[q].thread, NULL, receive, &r[q]) != 0) {
			say("FAILED: cannot start the receiver threads");
			return 1;
		}
	}

	/* 1. Wake-ups: each burst lands on sleeping receivers. */
	uint32_t sent = 0;
	unsigned woken_bursts = 0;
	uint64_t woken_before[SN_MAX_QUEUES];
	for (unsigned q = 0; q < queues; q++)
		woken_before[q] = r[q].wakeups;
	for (unsigned c = 0; c < cycles; c++) {
		uint64_t w0 = SUM(wakeups);
		for (uint64_t end = now_ms() + 5000; now_ms() < end; sleep_ms(10))
			if (all_asleep(r, queues, ASLEEP_MS))
				break;
		bool asleep = all_asleep(r, queues, 0);
		sent += send_frames(tx, pool, dst, src, sent, BURST_FRAMES);
		uint64_t end = now_ms() + 5000;
		while (SUM(frames) < sent && now_ms() < end)
			sleep_ms(5);
		bool woken = SUM(wakeups) > w0;
		woken_bursts += asleep && woken;
		say("cycle %u: receivers asleep %s, woken %s, %llu of %u frames", c + 1,
		    asleep ? "yes" : "no", woken ? "yes" : "no",
		    (unsigned long long)SUM(frames), sent);
	}
	uint64_t received = SUM(frames);
	check(sent == cycles * BURST_FRAMES, "sent %u frames", sent);
	check(received == sent && SUM(duplicates) == 0,
	      "received every frame: %llu of %u, %llu twice",
	      (unsigned long long)received, sent, (unsigned long long)SUM(duplicates));
	check(woken_bursts == cycles, "%u of %u bursts woke sleeping receivers",
	      woken_bursts, cycles);
	char per_queue[160] = "";
	size_t used = 0;
	unsigned queues_woken = 0, queues_fed = 0;
	for (unsigned q = 0; q < queues; q++) {
		uint64_t f = r[q].frames, w = r[q].wakeups - woken_before[q];
		queues_fed += f > 0;
		queues_woken += w > 0;
		int n = snprintf(per_queue + used, sizeof(per_queue) - used, "%sq%u:%llu/%llu",
				 q ? "," : "", q, (unsigned long long)f, (unsigned long long)w);
		if (n > 0 && (size_t)n < sizeof(per_queue) - used)
			used += (size_t)n;
	}
	check(queues_fed == queues && queues_woken == queues,
	      "frames/wake-ups per queue %s: %u of %u queues got frames, %u were woken",
	      per_queue, queues_fed, queues, queues_woken);

	/* 2. Idle: the receivers sleep and cost no CPU. */
	uint64_t wake_before = SUM(wakeups);
	double cpu0 = 0, cpu = 0;
	for (unsigned q = 0; q < queues; q++)
		cpu0 += thread_cpu_ms(r[q].thread);
	uint64_t t0 = now_ms();
	sleep_ms(IDLE_MS);
	for (unsigned q = 0; q < queues; q++)
		cpu += thread_cpu_ms(r[q].thread);
	cpu -= cpu0;
	uint64_t idle_ms = now_ms() - t0;
	double pct = 100.0 * cpu / (double)idle_ms;
	check(cpu0 >= 0 && pct < 2.0, "idle receivers used %.2f ms of CPU in %llu ms (%.3f %%), "
	      "%llu wake-ups", cpu, (unsigned long long)idle_ms, pct,
	      (unsigned long long)(SUM(wakeups) - wake_before));

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
	(void)!write(stop_fd, &one, sizeof(one));
	for (unsigned q = 0; q < queues; q++)
		pthread_join(r[q].thread, NULL);
	struct sn_stats st;
	sn_dev_stats(rx, &st);
	printf("IRQ-RESULT %s driver=%s queues=%u sent=%u received=%llu duplicates=%llu "
	       "foreign=%llu sleeps=%llu wakeups=%llu rechecks=%llu woken_bursts=%u/%u "
	       "per_queue=%s idle_cpu_pct=%.3f link_down_event=%d link_up_event=%d "
	       "rx_packets=%llu result=%s\n",
	       argv[1], sn_dev_driver_name(rx), queues, sent, (unsigned long long)received,
	       (unsigned long long)SUM(duplicates), (unsigned long long)SUM(foreign),
	       (unsigned long long)SUM(sleeps), (unsigned long long)SUM(wakeups),
	       (unsigned long long)SUM(rechecks), woken_bursts, cycles, per_queue, pct,
	       down_fired && down, up_fired && up, (unsigned long long)st.rx_packets,
	       failed ? "fail" : "pass");
	fflush(stdout);
	sn_ctx_destroy(ctx);
	close(stop_fd);
	return failed ? 1 : 0;
}
