/* safenic-mqcheck: multi-queue receive with RSS, through the public API.
 * Port TX (one queue) sends FLOWS UDP/IPv4 flows of COUNT frames each,
 * interleaved, to port RX opened with QUEUES receive queues; one thread
 * polls every receive queue. Checked:
 *   - asking RX for more queues than the device has fails with EINVAL and
 *     a message naming the maximum (printed);
 *   - every queue gets a share of the flows, and a flow stays on one queue;
 *   - frames of a flow arrive in order, none lost, none twice;
 *   - the per-queue counts add up to the device's rx_packets, and each
 *     is the library's own count of that queue (sn_dev_queue_stats),
 *     and every queue's own check (sn_dev_check_queue) finds it well;
 *   - when the device reports hashes: every frame carries one, and it is
 *     the Toeplitz hash of the flow under the default key (so the key the
 *     driver programmed is the one the device uses), and the queue is the
 *     one the driver's table gives for it.
 * Prints "MQCHECK: ..." lines and "MQCHECK-RESULT: pass" (exit 0) or
 * "MQCHECK-RESULT: fail" (exit 1).
 * Usage: safenic-mqcheck PCI_TX PCI_RX QUEUES FLOWS COUNT [udp|tcp] [MAX]
 * tcp sends TCP/IPv4 flows instead (QEMU's e1000e hashes no UDP ports);
 * MAX is the receiving device's queue maximum (default QUEUES), the
 * refused request asks for one more. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "safenic/safenic.h"

#define FRAME_LEN 64
#define BURST 32
#define MAX_FLOWS 1024
#define IDLE_MS 3000
#define TABLE_LEN 128   /* the driver's indirection table with QEMU */

static bool failed;
static uint8_t proto = 17;                     /* UDP, or TCP (6) */
#define L4_LEN (proto == 6 ? 20u : 8u)         /* header before flow and seq */

static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("MQCHECK: ");
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

/* The default Toeplitz key, as the driver programs it. */
static const uint8_t key[40] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
	0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
	0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
	0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

/* For every set input bit, XOR in the 32 key bits starting there. */
static uint32_t toeplitz(const uint8_t *in, size_t len)
{
	uint32_t hash = 0, window = (uint32_t)key[0] << 24 | (uint32_t)key[1] << 16 |
				    (uint32_t)key[2] << 8 | key[3];
	for (size_t i = 0; i < len; i++) {
		for (int b = 7; b >= 0; b--) {
			if (in[i] >> b & 1)
				hash ^= window;
			uint8_t next = i + 4 < sizeof(key) ? key[i + 4] : 0;
			window = window << 1 | (uint32_t)(next >> b & 1);
		}
	}
	return hash;
}

static const uint8_t src_ip[4] = { 10, 9, 0, 1 }, dst_ip[4] = { 10, 9, 0, 2 };
#define DST_PORT 4789

static uint16_t src_port(unsigned flow) { return (uint16_t)(10000 + flow * 7); }

static uint32_t flow_hash(unsigned flow)
{
	uint8_t in[12];
	memcpy(in, src_ip, 4);
	memcpy(in + 4, dst_ip, 4);
	in[8] = (uint8_t)(src_port(flow) >> 8);
	in[9] = (uint8_t)src_port(flow);
	in[10] = DST_PORT >> 8;
	in[11] = DST_PORT & 0xff;
	return toeplitz(in, sizeof(in));
}

static void build_frame(uint8_t *f, const uint8_t dst_mac[6], const uint8_t src_mac[6],
			unsigned flow, uint32_t seq)
{
	memset(f, 0, FRAME_LEN);
	memcpy(f, dst_mac, 6);
	memcpy(f + 6, src_mac, 6);
	f[12] = 0x08;                              /* IPv4 */
	uint8_t *ip = f + 14;
	ip[0] = 0x45;
	ip[3] = FRAME_LEN - 14;
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, src_ip, 4);
	memcpy(ip + 16, dst_ip, 4);
	uint32_t sum = 0;
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	ip[10] = (uint8_t)(~sum >> 8);
	ip[11] = (uint8_t)~sum;
	uint8_t *udp = ip + 20;
	udp[0] = (uint8_t)(src_port(flow) >> 8);
	udp[1] = (uint8_t)src_port(flow);
	udp[2] = DST_PORT >> 8;
	udp[3] = DST_PORT & 0xff;
	if (proto == 6)
		udp[12] = 0x50;                    /* TCP: data offset 5, no flags */
	else
		udp[5] = FRAME_LEN - 34;           /* UDP length; checksum 0: none */
	memcpy(udp + L4_LEN, &flow, sizeof(flow));
	memcpy(udp + L4_LEN + 4, &seq, sizeof(seq));
}

struct flow_seen {
	int queue;                                 /* -1: none yet */
	uint32_t next_seq;
};

struct tally {
	uint64_t per_queue[SN_MAX_QUEUES], foreign_per_queue[SN_MAX_QUEUES];
	uint64_t received, foreign, moved, reordered, hashed, wrong_hash, wrong_queue;
	struct flow_seen flows[MAX_FLOWS];
};

static void take(struct tally *t, uint16_t q, const struct sn_pkt *p, unsigned nflows,
		 uint16_t queues)
{
	const uint8_t *f = p->data;
	unsigned flow;
	uint32_t seq;
	if (p->len < FRAME_LEN || f[12] != 0x08 || f[13] != 0 || f[23] != proto ||
	    f[36] != DST_PORT >> 8 || f[37] != (DST_PORT & 0xff)) {
		t->foreign++;
		t->foreign_per_queue[q]++;
		return;
	}
	memcpy(&flow, f + 34 + L4_LEN, sizeof(flow));
	memcpy(&seq, f + 38 + L4_LEN, sizeof(seq));
	if (flow >= nflows) {
		t->foreign++;
		t->foreign_per_queue[q]++;
		return;
	}
	struct flow_seen *s = &t->flows[flow];
	t->per_queue[q]++;
	t->received++;
	if (s->queue < 0)
		s->queue = q;
	else if (s->queue != q)
		t->moved++;
	if (seq != s->next_seq)
		t->reordered++;
	s->next_seq = seq + 1;
	if (p->flags & SN_PKT_RSS_HASH) {
		t->hashed++;
		uint32_t want = flow_hash(flow);
		if (p->rss_hash != want)
			t->wrong_hash++;
		else if ((want & (TABLE_LEN - 1)) % queues != q)
			t->wrong_queue++;
	}
}

static struct sn_dev *open_dev(struct sn_ctx *ctx, const char *addr, uint16_t rxq,
			       uint16_t txq, struct sn_error *err)
{
	struct sn_dev_config cfg = { .rx_queues = rxq, .tx_queues = txq,
				     .rx_ring_size = 256, .tx_ring_size = 256 };
	return sn_dev_open(ctx, addr, &cfg, err);
}

/* Until the link is up (Intel NICs negotiate for a while after opening):
 * frames sent before would wait in QEMU and reach the receiver in one
 * heap, and QEMU's igb drops what a full queue cannot take. */
static bool wait_link(struct sn_dev *dev)
{
	struct sn_link link = { 0 };
	uint64_t deadline = now_ms() + 10000;
	while (sn_dev_link(dev, &link) == 0 && !link.up && now_ms() < deadline)
		nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
	return link.up;
}

static void drain(struct sn_dev *rx, uint16_t queues, struct tally *t, unsigned nflows,
		  uint64_t *last_rx)
{
	struct sn_pkt *pkts[BURST];
	for (uint16_t q = 0; q < queues; q++) {
		uint16_t n = sn_rx_burst(rx, q, pkts, BURST);
		for (uint16_t i = 0; i < n; i++)
			take(t, q, pkts[i], nflows, queues);
		sn_pkt_free_bulk(pkts, n);
		if (n)
			*last_rx = now_ms();
	}
}

int main(int argc, char **argv)
{
	if (argc < 6 || argc > 8) {
		fprintf(stderr, "usage: safenic-mqcheck PCI_TX PCI_RX QUEUES FLOWS COUNT "
			"[udp|tcp] [MAX]\n");
		return 2;
	}
	uint16_t queues = (uint16_t)atoi(argv[3]);
	if (argc > 6 && strcmp(argv[6], "tcp") == 0)
		proto = 6;
	uint16_t max = argc > 7 ? (uint16_t)atoi(argv[7]) : queues;
	unsigned nflows = (unsigned)atoi(argv[4]), count = (unsigned)atoi(argv[5]);
	if (queues < 1 || queues >= SN_MAX_QUEUES || nflows < 1 || nflows > MAX_FLOWS) {
		fprintf(stderr, "safenic-mqcheck: QUEUES 1..%d, FLOWS 1..%d\n", SN_MAX_QUEUES - 1,
			MAX_FLOWS);
		return 2;
	}
	struct sn_error err = { 0 };
	struct sn_ctx *ctx = sn_ctx_create(NULL, &err);
	struct tally *t = calloc(1, sizeof(*t));
	if (!ctx || !t) {
		say("FAILED: context: %s", err.msg);
		return 1;
	}
	for (unsigned f = 0; f < nflows; f++)
		t->flows[f].queue = -1;

	/* More queues than the device has: refused, naming its maximum. */
	struct sn_dev *too_many = open_dev(ctx, argv[2], (uint16_t)(max + 1), 1, &err);
	say("asking for %u queues: %s", max + 1, too_many ? "opened" : err.msg);
	check(!too_many && err.code == -EINVAL &&
	      (strstr(err.msg, "at most") || strstr(err.msg, "ask for 1 to")),
	      "more queues than the device has: EINVAL naming the maximum");
	sn_dev_close(too_many);

	struct sn_dev *tx = open_dev(ctx, argv[1], 1, 1, &err);
	if (!tx) {
		say("FAILED: open %s: %s", argv[1], err.msg);
		return 1;
	}
	struct sn_dev *rx = open_dev(ctx, argv[2], queues, 1, &err);
	if (!rx) {
		say("FAILED: open %s with %u receive queues: %s", argv[2], queues, err.msg);
		return 1;
	}
	say("opened %s (send) and %s with %u receive queues", argv[1], argv[2], queues);
	check(wait_link(tx) && wait_link(rx), "both links up");
	uint8_t src_mac[6], dst_mac[6];
	sn_dev_mac(tx, src_mac);
	sn_dev_mac(rx, dst_mac);
	struct sn_mempool *pool = sn_mempool_create(ctx, 1024, 0, 0, &err);
	if (!pool) {
		say("FAILED: pool: %s", err.msg);
		return 1;
	}

	uint64_t total = (uint64_t)nflows * count, sent = 0, last_rx = now_ms();
	while (sent < total) {
		struct sn_pkt *pkts[BURST];
		uint32_t n = sn_pkt_alloc_bulk(pool, pkts,
					       total - sent < BURST ? (uint32_t)(total - sent) : BURST);
		for (uint32_t i = 0; i < n; i++) {
			uint64_t k = sent + i;
			build_frame(pkts[i]->data, dst_mac, src_mac, (unsigned)(k % nflows),
				    (uint32_t)(k / nflows));
			pkts[i]->len = FRAME_LEN;
		}
		uint16_t took = sn_tx_burst(tx, 0, pkts, (uint16_t)n);
		sn_pkt_free_bulk(pkts + took, n - took);
		sent += took;
		/* Paced by the receiver: the tap queues hold about a thousand. */
		drain(rx, queues, t, nflows, &last_rx);
		nanosleep(&(struct timespec){ 0, 200000 }, NULL);
	}
	while (t->received < total && now_ms() - last_rx < IDLE_MS)
		drain(rx, queues, t, nflows, &last_rx);

	struct sn_stats st;
	sn_dev_stats(rx, &st);
	unsigned flows_per_queue[SN_MAX_QUEUES] = { 0 };
	for (unsigned f = 0; f < nflows; f++)
		if (t->flows[f].queue >= 0)
			flows_per_queue[t->flows[f].queue]++;
	uint64_t sum = 0;
	bool every_queue = true, lib_counts = true, queues_well = true;
	for (uint16_t q = 0; q < queues; q++) {
		struct sn_queue_stats qs;
		int qrc = sn_dev_queue_stats(rx, q, &qs);
		enum sn_dev_state qstate = sn_dev_check_queue(rx, q);
		say("queue %u: %llu frames, %u flows; library: rx_packets=%llu (rc %d), "
		    "check %s", q, (unsigned long long)t->per_queue[q], flows_per_queue[q],
		    (unsigned long long)qs.rx_packets, qrc, sn_dev_state_name(qstate));
		sum += t->per_queue[q];
		every_queue &= t->per_queue[q] > 0;
		lib_counts &= qrc == 0 &&
			      qs.rx_packets == t->per_queue[q] + t->foreign_per_queue[q];
		queues_well &= qstate == SN_DEV_OK;
	}
	struct sn_queue_stats none;
	check(sn_dev_rx_queues(rx) == queues && sn_dev_tx_queues(rx) == 1,
	      "sn_dev_rx_queues and sn_dev_tx_queues say what was opened");
	check(sn_dev_queue_stats(rx, queues, &none) == -EINVAL,
	      "sn_dev_queue_stats refuses a queue not opened");
	say("sent=%llu received=%llu foreign=%llu moved=%llu reordered=%llu hashed=%llu "
	    "wrong_hash=%llu wrong_queue=%llu device_rx_packets=%llu device_errors=%llu",
	    (unsigned long long)sent, (unsigned long long)t->received,
	    (unsigned long long)t->foreign, (unsigned long long)t->moved,
	    (unsigned long long)t->reordered, (unsigned long long)t->hashed,
	    (unsigned long long)t->wrong_hash, (unsigned long long)t->wrong_queue,
	    (unsigned long long)st.rx_packets, (unsigned long long)st.device_errors);
	check(sent == total, "every frame sent");
	check(t->received == total, "every frame received, none twice");
	check(every_queue, "every receive queue got a share of the flows");
	check(t->moved == 0, "each flow stayed on one queue");
	check(t->reordered == 0, "no flow reordered");
	check(sum + t->foreign == st.rx_packets, "per-queue counts add up to rx_packets");
	check(lib_counts, "each queue's count is the library's (sn_dev_queue_stats)");
	check(queues_well, "every queue's own check finds it well (sn_dev_check_queue)");
	check(st.device_errors == 0, "no device errors");
	if (t->hashed) {
		check(t->hashed == t->received, "every frame carries its RSS hash");
		check(t->wrong_hash == 0, "the hash is the flow's Toeplitz hash, default key");
		check(t->wrong_queue == 0, "each frame on the queue the table gives its hash");
	} else {
		say("the device reported no hashes (no VIRTIO_NET_F_HASH_REPORT)");
	}
	sn_dev_close(rx);
	sn_dev_close(tx);
	sn_mempool_destroy(pool);
	sn_ctx_destroy(ctx);
	free(t);
	printf("MQCHECK-RESULT: %s\n", failed ? "fail" : "pass");
	return failed ? 1 : 0;
}
