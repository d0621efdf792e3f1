/* Receive-side scaling on the Intel families, on the host: the hash
 * function against the RSS specification's published values, the
 * registers each family's start-up writes (read back from in-memory
 * register files, fake_nic.c), the queue limits, and flows spread over
 * the queues of the 82599 model (ixgbe_model.c), which hashes and
 * redirects frames the way the datasheet says, from the registers the
 * driver wrote, with the hash reaching the packet. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "ctx.h"
#include "device.h"
#include "fake_nic.h"
#include "intel.h"
#include "ixgbe_model.h"
#include "ring.h"

/* ---- the hash --------------------------------------------------------- */

static void ip4(uint8_t *p, uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	p[0] = a, p[1] = b, p[2] = c, p[3] = d;
}

static void port(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v;
}

/* Input: source address, destination address, source port, destination
 * port, in network order. Values from the verification suite of
 * Microsoft's "Receive-Side Scaling" specification. */
static void toeplitz_matches_the_published_values(void **state)
{
	(void)state;
	static const struct {
		uint8_t src[4], dst[4];
		uint16_t sport, dport;
		uint32_t ip, tcp;
	} v4[] = {
		{ { 66, 9, 149, 187 }, { 161, 142, 100, 80 }, 2794, 1766, 0x323e8fc2, 0x51ccc178 },
		{ { 199, 92, 111, 2 }, { 65, 69, 140, 83 }, 14230, 4739, 0xd718262a, 0xc626b0ea },
		{ { 24, 19, 198, 95 }, { 12, 22, 207, 184 }, 12898, 38024, 0xd2d0a5de, 0x5c2b394a },
		{ { 38, 27, 205, 30 }, { 209, 142, 163, 6 }, 48228, 2217, 0x82989176, 0xafc7327f },
		{ { 153, 39, 163, 191 }, { 202, 188, 127, 2 }, 44251, 1303, 0x5d1809c5, 0x10e828a2 },
	};
	for (size_t i = 0; i < sizeof(v4) / sizeof(v4[0]); i++) {
		uint8_t in[12];
		memcpy(in, v4[i].src, 4);
		memcpy(in + 4, v4[i].dst, 4);
		port(in + 8, v4[i].sport);
		port(in + 10, v4[i].dport);
		assert_int_equal(model_toeplitz(sn_rss_default_key, in, 8), v4[i].ip);
		assert_int_equal(model_toeplitz(sn_rss_default_key, in, 12), v4[i].tcp);
	}
	/* IPv6: 3ffe:2501:200:1fff::7 port 2794 to 3ffe:2501:200:3::1 port 1766. */
	uint8_t in6[36] = { 0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x1f, 0xff, [15] = 0x07,
			    0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x00, 0x03, [31] = 0x01 };
	port(in6 + 32, 2794);
	port(in6 + 34, 1766);
	assert_int_equal(model_toeplitz(sn_rss_default_key, in6, 32), 0x2cc18cd5);
	assert_int_equal(model_toeplitz(sn_rss_default_key, in6, 36), 0x40207d3d);
}

/* ---- registers, on in-memory register files ---------------------------- */

struct family_case {
	const char *driver;
	uint16_t device_id;
	uint16_t queues;                 /* the device's maximum */
	uint32_t mrqc, reta, rssrk, rxcsum;
	uint32_t enable;                 /* MRQC: multiple queues by RSS */
	uint32_t all_fields;             /* MRQC hash fields for rss_types 0 */
	uint32_t ipv4_tcp_fields;        /* for SN_RSS_IPV4 | SN_RSS_IPV4_TCP */
	unsigned reta_shift;
	/* Queue 5's receive length register (0 when the NIC has no queue 5). */
	uint32_t rdlen5, tdlen5;
};

/* Offsets and bits from the datasheets, written out here rather than
 * taken from the drivers' tables, so that a wrong table fails. */
static const struct family_case igb_case = {
	"igb", 0x10c9, 8, 0x5818, 0x5c00, 0x5c80, 0x5000, 0x2,
	0x00ff0000 & ~(1u << 19), (1u << 16) | (1u << 17), 0, 0xc008 + 5 * 0x40, 0xe008 + 5 * 0x40,
};
static const struct family_case e1000e_case = {
	"e1000e", 0x10d3, 2, 0x5818, 0x5c00, 0x5c80, 0x5000, 0x1,
	(1u << 16) | (1u << 17) | (1u << 18) | (1u << 20), (1u << 16) | (1u << 17), 7, 0, 0,
};
static const struct family_case ixgbe_case = {
	"ixgbe", 0x10fb, 8, 0xec80, 0xeb00, 0xeb80, 0x5000, 0x1,
	(1u << 16) | (1u << 17) | (1u << 20) | (1u << 21) | (1u << 22) | (1u << 23),
	(1u << 16) | (1u << 17), 0, 0x1008 + 5 * 0x40, 0x6008 + 5 * 0x40,
};

struct bench {
	const struct family_case *f;
	struct sn_ctx *ctx;
	struct fake_nic nic;
	uint8_t *bar;
	struct sn_dev *dev;
};

static int setup(void **state)
{
	struct bench *b = calloc(1, sizeof(*b));
	if (!b)
		return -1;
	b->f = *state;
	b->ctx = sn_ctx_create(NULL, NULL);
	if (!b->ctx || sn_ctx_emulate_iommu(b->ctx, (1ull << 39) - 1) != 0) {
		sn_ctx_destroy(b->ctx);
		free(b);
		return -1;
	}
	b->nic.ctx = b->ctx;
	*state = b;
	return 0;
}

static int teardown(void **state)
{
	struct bench *b = *state;
	sn_dev_close(b->dev);
	sn_ctx_destroy(b->ctx);
	free(b->bar);
	free(b);
	return 0;
}

static struct sn_dev *open_with(struct bench *b, uint16_t device_id, uint16_t rxq,
				uint16_t txq, uint32_t rss_types, struct sn_error *err)
{
	struct sn_dev_config cfg = { .rx_queues = rxq, .tx_queues = txq, .rx_ring_size = 64,
				     .tx_ring_size = 64, .rss_types = rss_types };
	sn_dev_close(b->dev);
	free(b->bar);
	b->bar = NULL;
	b->dev = fake_nic_open_intel(&b->nic, b->f->driver, device_id, &cfg, &b->bar, err);
	return b->dev;
}

static uint32_t reg(struct bench *b, uint32_t off)
{
	return *(volatile uint32_t *)(b->bar + off);
}

/* Every queue the device has, RSS over all of them: the key byte for
 * byte, a redirection table taking the queues in turn, all hash types the
 * NIC knows, and the hash in the write-back. */
static void rss_is_programmed_over_every_queue(void **state)
{
	struct bench *b = *state;
	const struct family_case *f = b->f;
	struct sn_error err = { 0 };
	uint16_t n = f->queues;

	struct sn_dev *dev = open_with(b, f->device_id, n, n, 0, &err);
	if (!dev) {
		fail_msg("open: %s", err.msg);
		return;
	}
	assert_int_equal(reg(b, f->mrqc), f->enable | f->all_fields);
	assert_true(reg(b, f->rxcsum) & (1u << 13));
	for (unsigned i = 0; i < 40; i++)
		assert_int_equal((uint8_t)(reg(b, f->rssrk + (i & ~3u)) >> (8 * (i & 3))),
				 sn_rss_default_key[i]);
	unsigned share[SN_MAX_QUEUES] = { 0 };
	for (unsigned i = 0; i < 128; i++) {
		uint8_t entry = (uint8_t)(reg(b, f->reta + (i & ~3u)) >> (8 * (i & 3)));
		unsigned q = entry >> f->reta_shift;
		assert_int_equal(entry & ((1u << f->reta_shift) - 1), 0);
		assert_int_equal(q, i % n);
		share[q]++;
	}
	for (unsigned q = 0; q < n; q++) {
		assert_int_equal(share[q], 128 / n);
		assert_int_equal(((struct sn_ring *)dev->rxq[q])->rss_type_mask, 0xf);
	}
	/* The queues beyond the first four of igb, and ixgbe's, at their own
	 * registers. */
	if (f->rdlen5) {
		assert_int_equal(reg(b, f->rdlen5), 64 * 16);
		assert_int_equal(reg(b, f->tdlen5), 64 * 16);
	}
	assert_int_equal(sn_dev_rx_queues(dev), n);
	assert_int_equal(sn_dev_tx_queues(dev), n);
}

static void rss_types_choose_the_hash_fields(void **state)
{
	struct bench *b = *state;
	const struct family_case *f = b->f;
	struct sn_error err = { 0 };

	if (!open_with(b, f->device_id, 2, 1, SN_RSS_IPV4 | SN_RSS_IPV4_TCP, &err)) {
		fail_msg("open: %s", err.msg);
		return;
	}
	assert_int_equal(reg(b, f->mrqc), f->enable | f->ipv4_tcp_fields);
	/* One receive queue: no RSS, and the write-back's dword is no hash. */
	struct sn_dev *dev = open_with(b, f->device_id, 1, 2, 0, &err);
	if (!dev) {
		fail_msg("open: %s", err.msg);
		return;
	}
	assert_int_equal(reg(b, f->mrqc), 0);
	assert_false(reg(b, f->rxcsum) & (1u << 13));
	assert_int_equal(((struct sn_ring *)dev->rxq[0])->rss_type_mask, 0);
	/* A type the library does not know is refused. */
	assert_null(open_with(b, f->device_id, 2, 1, 1u << 6, &err));
	assert_int_equal(err.code, -EINVAL);
	assert_non_null(strstr(err.msg, "unknown RSS types 0x40"));
}

static void more_queues_than_the_device_has_are_refused(void **state)
{
	struct bench *b = *state;
	const struct family_case *f = b->f;
	struct sn_error err = { 0 };
	char want[160];

	if (f->queues < SN_MAX_QUEUES) {
		assert_null(open_with(b, f->device_id, (uint16_t)(f->queues + 1), 1, 0, &err));
		assert_int_equal(err.code, -EINVAL);
		snprintf(want, sizeof(want), "model (%s) has %u receive queues; ask for 1 to %u",
			 f->driver, f->queues, f->queues);
		assert_string_equal(err.msg, want);
		assert_null(open_with(b, f->device_id, 1, (uint16_t)(f->queues + 1), 0, &err));
		assert_non_null(strstr(err.msg, "transmit queues; ask for 1 to"));
	}
	assert_null(open_with(b, f->device_id, SN_MAX_QUEUES + 1, 1, 0, &err));
	assert_int_equal(err.code, -EINVAL);
	assert_non_null(strstr(err.msg, "at most 8 receive queues; ask for 1 to 8"));
}

/* igb's smaller members have fewer queues: the I210 4, the I211 2. */
static void igb_members_have_their_own_queue_counts(void **state)
{
	struct bench *b = *state;
	struct sn_error err = { 0 };
	assert_null(open_with(b, 0x1533, 5, 1, 0, &err));
	assert_string_equal(err.msg, "model (igb) has 4 receive queues; ask for 1 to 4");
	assert_null(open_with(b, 0x1539, 1, 3, 0, &err));
	assert_string_equal(err.msg, "model (igb) has 2 transmit queues; ask for 1 to 2");
	if (!open_with(b, 0x1533, 4, 4, 0, &err)) {
		fail_msg("open: %s", err.msg);
		return;
	}
}

/* Frames the 82576 dropped for want of descriptors, counted per queue
 * (RQDPC): every queue's count reaches sn_stats.rx_drops, not queue 0's
 * alone. The register file does not clear on read: one reading. */
static void igb_drops_of_every_queue_are_counted(void **state)
{
	struct bench *b = *state;
	struct sn_error err = { 0 };
	struct sn_dev *dev = open_with(b, 0x10c9, 4, 1, 0, &err);
	if (!dev) {
		fail_msg("open: %s", err.msg);
		return;
	}
	for (unsigned q = 0; q < 4; q++)
		*(volatile uint32_t *)(b->bar + 0xc030 + q * 0x40) = 10u << q;
	struct sn_stats st;
	sn_dev_stats(dev, &st);
	assert_int_equal(st.rx_drops, 10 + 20 + 40 + 80);
}

/* ---- flows over the 82599 model's queues ------------------------------- */

#define FLOWS 64
#define PER_FLOW 8

/* An Ethernet/IPv4/UDP frame of flow f: 10.0.0.1 -> 10.0.1.f, ports
 * 1000 + f -> 2000, its sequence number in the payload. */
static void udp_frame(uint8_t *p, unsigned f, uint32_t seq)
{
	memset(p, 0, 64);
	memset(p, 0xff, 6);
	p[12] = 0x08;
	p[14] = 0x45;
	p[17] = 50;                   /* total length */
	p[22] = 64;
	p[23] = 17;                   /* UDP */
	ip4(p + 26, 10, 0, 0, 1);
	ip4(p + 30, 10, 0, 1, (uint8_t)f);
	port(p + 34, (uint16_t)(1000 + f));
	port(p + 36, 2000);
	memcpy(p + 42, &seq, 4);
}

static uint32_t udp_hash(unsigned f)
{
	uint8_t in[12];
	ip4(in, 10, 0, 0, 1);
	ip4(in + 4, 10, 0, 1, (uint8_t)f);
	port(in + 8, (uint16_t)(1000 + f));
	port(in + 10, 2000);
	return model_toeplitz(sn_rss_default_key, in, 12);
}

static void sleep_us(long us)
{
	nanosleep(&(struct timespec){ 0, us * 1000L }, NULL);
}

/* 64 UDP flows, sent on one queue and looped back by the model into four:
 * each frame arrives on the queue its hash names through the table, with
 * that hash flagged on the packet; every queue gets a share, each flow's
 * frames in order on one queue, and the queues' counters add up to the
 * device's. */
static void flows_spread_over_the_queues_with_their_hash(void **state)
{
	struct model *m = *state;
	struct sn_error err = { 0 };
	model_start(m);
	struct sn_mempool *pool = sn_mempool_create(m->ctx, 1024, 0, 0, &err);
	if (!pool) {
		fail_msg("pool: %s", err.msg);
		return;
	}
	struct sn_dev_config cfg = { .rx_queues = 4, .tx_queues = 2, .rx_ring_size = 512,
				     .tx_ring_size = 512 };
	struct sn_dev *dev = model_open(m, &cfg, &err);
	if (!dev) {
		fail_msg("open: %s", err.msg);
		return;
	}
	uint32_t next_seq[FLOWS] = { 0 }, on_queue[4] = { 0 }, received = 0, sent = 0;
	const uint32_t total = FLOWS * PER_FLOW;
	for (int spins = 0; received < total && spins < 200000; spins++) {
		struct sn_pkt *pkts[32];
		uint32_t want = total - sent < 32 ? total - sent : 32;
		uint32_t n = sn_pkt_alloc_bulk(pool, pkts, want);
		for (uint32_t i = 0; i < n; i++) {
			uint32_t k = sent + i;
			pkts[i]->len = 64;
			udp_frame(pkts[i]->data, k % FLOWS, k / FLOWS);
		}
		uint16_t took = sn_tx_burst(dev, (uint16_t)(spins & 1), pkts, (uint16_t)n);
		sn_pkt_free_bulk(pkts + took, n - took);
		sent += took;
		for (uint16_t q = 0; q < 4; q++) {
			uint16_t got = sn_rx_burst(dev, q, pkts, 32);
			for (uint16_t i = 0; i < got; i++) {
				const uint8_t *p = pkts[i]->data;
				unsigned f = p[33];
				uint32_t seq;
				memcpy(&seq, p + 42, 4);
				assert_true(f < FLOWS);
				assert_int_equal(pkts[i]->flags, SN_PKT_RSS_HASH);
				assert_int_equal(pkts[i]->rss_hash, udp_hash(f));
				assert_int_equal(q, (udp_hash(f) & 127) % 4);
				assert_int_equal(seq, next_seq[f]);
				next_seq[f]++;
				on_queue[q]++;
			}
			received += got;
			sn_pkt_free_bulk(pkts, got);
		}
		if (!took)
			sleep_us(20);
	}
	assert_int_equal(received, total);
	for (unsigned q = 0; q < 4; q++) {
		assert_true(on_queue[q] > 0);
		assert_int_equal(on_queue[q], m->frames_on[q]);
	}
	struct sn_stats st;
	struct sn_queue_stats sum = { 0 };
	sn_dev_stats(dev, &st);
	for (uint16_t q = 0; q < 4; q++) {
		struct sn_queue_stats qs;
		assert_int_equal(sn_dev_queue_stats(dev, q, &qs), 0);
		assert_int_equal(qs.rx_packets, on_queue[q]);
		sum.rx_packets += qs.rx_packets;
		sum.rx_bytes += qs.rx_bytes;
		sum.tx_packets += qs.tx_packets;
		sum.tx_bytes += qs.tx_bytes;
		sum.device_errors += qs.device_errors;
	}
	assert_int_equal(sum.rx_packets, st.rx_packets);
	assert_int_equal(sum.rx_bytes, st.rx_bytes);
	assert_int_equal(sum.tx_packets, st.tx_packets);
	assert_int_equal(sum.tx_bytes, st.tx_bytes);
	assert_int_equal(sum.device_errors, 0);
	assert_int_equal(st.hw_rx_packets, st.rx_packets);   /* the NIC agrees */
	assert_int_equal(st.tx_packets, total);
	assert_string_equal(m->violation, "");
	sn_dev_close(dev);
}

/* Frames the NIC does not hash (not IP) all land on queue 0, unflagged. */
static void frames_without_a_hash_go_to_queue_0_unflagged(void **state)
{
	struct model *m = *state;
	struct sn_error err = { 0 };
	model_start(m);
	struct sn_mempool *pool = sn_mempool_create(m->ctx, 256, 0, 0, &err);
	struct sn_dev_config cfg = { .rx_queues = 2, .rx_ring_size = 64, .tx_ring_size = 64 };
	struct sn_dev *dev = model_open(m, &cfg, &err);
	if (!dev || !pool) {
		fail_msg("open: %s", err.msg);
		return;
	}
	struct sn_pkt *pkts[16];
	uint32_t n = sn_pkt_alloc_bulk(pool, pkts, 16);
	for (uint32_t i = 0; i < n; i++) {
		pkts[i]->len = 60;
		memset(pkts[i]->data, 0, 60);
		pkts[i]->data[12] = 0x88;  /* an EtherType that is not IP */
		pkts[i]->data[13] = 0xb5;
	}
	assert_int_equal(sn_tx_burst(dev, 0, pkts, (uint16_t)n), n);
	uint32_t got = 0;
	for (int spins = 0; got < n && spins < 20000; spins++) {
		uint16_t k = sn_rx_burst(dev, 0, pkts, 16);
		for (uint16_t i = 0; i < k; i++)
			assert_int_equal(pkts[i]->flags, 0);
		sn_pkt_free_bulk(pkts, k);
		got += k;
		assert_int_equal(sn_rx_burst(dev, 1, pkts, 16), 0);
		if (!k)
			sleep_us(20);
	}
	assert_int_equal(got, n);
	assert_string_equal(m->violation, "");
	sn_dev_close(dev);
}

static int model_setup(void **state)
{
	struct model *m = calloc(1, sizeof(*m));
	struct sn_ctx *ctx = sn_ctx_create(NULL, NULL);
	if (!m || !ctx || sn_ctx_emulate_iommu(ctx, (1ull << 39) - 1) != 0 ||
	    model_init(m, ctx) != 0) {
		sn_ctx_destroy(ctx);
		free(m);
		return -1;
	}
	*state = m;
	return 0;
}

static int model_teardown(void **state)
{
	struct model *m = *state;
	model_stop(m);
	sn_ctx_destroy(m->ctx);
	model_fini(m);
	free(m);
	return 0;
}

#define FOR_FAMILY(test, family) \
	cmocka_unit_test_prestate_setup_teardown(test, setup, teardown, (void *)&family)
#define ALL_FAMILY_TESTS(family)                                        \
	FOR_FAMILY(rss_is_programmed_over_every_queue, family),         \
	FOR_FAMILY(rss_types_choose_the_hash_fields, family),           \
	FOR_FAMILY(more_queues_than_the_device_has_are_refused, family)

int main(void)
{
	const struct CMUnitTest hash[] = {
		cmocka_unit_test(toeplitz_matches_the_published_values),
	};
	const struct CMUnitTest igb[] = {
		ALL_FAMILY_TESTS(igb_case),
		FOR_FAMILY(igb_members_have_their_own_queue_counts, igb_case),
		FOR_FAMILY(igb_drops_of_every_queue_are_counted, igb_case),
	};
	const struct CMUnitTest e1000e[] = { ALL_FAMILY_TESTS(e1000e_case) };
	const struct CMUnitTest ixgbe[] = {
		ALL_FAMILY_TESTS(ixgbe_case),
		cmocka_unit_test_setup_teardown(flows_spread_over_the_queues_with_their_hash,
						model_setup, model_teardown),
		cmocka_unit_test_setup_teardown(frames_without_a_hash_go_to_queue_0_unflagged,
						model_setup, model_teardown),
	};
	int failed = cmocka_run_group_tests_name("toeplitz", hash, NULL, NULL);
	failed += cmocka_run_group_tests_name("igb", igb, NULL, NULL);
	failed += cmocka_run_group_tests_name("e1000e", e1000e, NULL, NULL);
	failed += cmocka_run_group_tests_name("ixgbe", ixgbe, NULL, NULL);
	return failed;
}
