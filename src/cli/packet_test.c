/* Unit tests of the test-frame builder and checker (packet.c). The
 * checksums are verified against a straightforward reference written here,
 * independent of the incremental computation under test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "packet.h"

#define OFF_IP_TOTAL_LEN (PKT_OFF_IP + 2)
#define OFF_IP_ID (PKT_OFF_IP + 4)
#define OFF_IP_PROTOCOL (PKT_OFF_IP + 9)
#define OFF_IP_CHECKSUM (PKT_OFF_IP + 10)
#define OFF_UDP_LEN (PKT_OFF_UDP + 4)
#define OFF_UDP_CHECKSUM (PKT_OFF_UDP + 6)

static const struct pkt_flow base_flow = {
	.dst_mac = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
	.src_mac = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 },
	.src_ip = 0x0a000001,
	.dst_ip = 0x0a000002,
	.src_port = 4000,
	.dst_port = 4001,
	.frame_len = 60,
};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* RFC 1071, the slow and obvious way. */
static uint16_t ref_checksum(const uint8_t *data, size_t len, uint32_t sum)
{
	size_t i;

	for (i = 0; i < len; i++)
		sum += (i % 2 == 0) ? (uint32_t)data[i] << 8 : data[i];
	while (sum > 0xffff)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint16_t ref_ip_checksum(const uint8_t *frame)
{
	uint8_t hdr[20];

	memcpy(hdr, frame + PKT_OFF_IP, 20);
	hdr[10] = hdr[11] = 0;
	return ref_checksum(hdr, 20, 0);
}

static uint16_t ref_udp_checksum(const uint8_t *frame)
{
	uint16_t udp_len = be16(frame + OFF_UDP_LEN);
	uint8_t *dgram = malloc(udp_len);
	uint32_t pseudo = 0;
	uint16_t sum;
	int i;

	assert_non_null(dgram);
	for (i = 0; i < 8; i += 2)
		pseudo += be16(frame + PKT_OFF_IP + 12 + i);
	pseudo += 17 + udp_len;
	memcpy(dgram, frame + PKT_OFF_UDP, udp_len);
	dgram[6] = dgram[7] = 0;
	sum = ref_checksum(dgram, udp_len, pseudo);
	free(dgram);
	return sum;
}

/* Recomputes both checksums the reference way, so a test can change one
 * field and see that field's own check fail. */
static void refresh_checksums(uint8_t *frame)
{
	uint16_t ip = ref_ip_checksum(frame), udp;

	frame[OFF_IP_CHECKSUM] = (uint8_t)(ip >> 8);
	frame[OFF_IP_CHECKSUM + 1] = (uint8_t)ip;
	udp = ref_udp_checksum(frame);
	if (udp == 0)
		udp = 0xffff;
	frame[OFF_UDP_CHECKSUM] = (uint8_t)(udp >> 8);
	frame[OFF_UDP_CHECKSUM + 1] = (uint8_t)udp;
}

static void build(uint8_t *frame, uint16_t len, uint64_t seq, uint64_t ts)
{
	struct pkt_template tmpl;
	struct pkt_flow flow = base_flow;

	flow.frame_len = len;
	assert_int_equal(pkt_template_init(&tmpl, &flow), 0);
	pkt_write_template(&tmpl, frame);
	pkt_stamp(&tmpl, frame, seq, ts);
}

static enum pkt_verdict check(const uint8_t *frame, size_t len)
{
	struct pkt_stamp_info info;

	return pkt_check(frame, len, &info);
}

/* ---- building --------------------------------------------------------- */

static void test_frame_layout(void **state)
{
	uint8_t f[PKT_MAX_FRAME];
	size_t k;

	(void)state;
	build(f, 100, 0x010203040506ull, 0x1122334455667788ull);
	assert_memory_equal(f, base_flow.dst_mac, 6);
	assert_memory_equal(f + 6, base_flow.src_mac, 6);
	assert_int_equal(be16(f + 12), 0x0800);
	assert_int_equal(f[14], 0x45);
	assert_int_equal(f[15], 0);                         /* TOS */
	assert_int_equal(be16(f + OFF_IP_TOTAL_LEN), 100 - 14);
	assert_int_equal(be16(f + OFF_IP_ID), 0x0506);
	assert_int_equal(be16(f + PKT_OFF_IP + 6), 0);      /* flags, frag */
	assert_int_equal(f[PKT_OFF_IP + 8], 64);            /* TTL */
	assert_int_equal(f[OFF_IP_PROTOCOL], 17);
	assert_int_equal(be16(f + OFF_IP_CHECKSUM), ref_ip_checksum(f));
	assert_int_equal(be16(f + PKT_OFF_UDP), 4000);
	assert_int_equal(be16(f + PKT_OFF_UDP + 2), 4001);
	assert_int_equal(be16(f + OFF_UDP_LEN), 100 - 34);
	assert_int_equal(be16(f + OFF_UDP_CHECKSUM), ref_udp_checksum(f));
	assert_int_equal(be16(f + PKT_OFF_MAGIC), 0x5AFE);
	/* One flow: bytes 2-9 read as a 64-bit sequence number, as the
	 * frames of earlier versions, which therefore still check. */
	assert_true(be64(f + PKT_OFF_SEQ) == 0x010203040506ull);
	assert_true(be64(f + PKT_OFF_TIMESTAMP) == 0x1122334455667788ull);
	for (k = PKT_STAMP_LEN; k < 100 - PKT_OFF_PAYLOAD; k++)
		assert_int_equal(f[PKT_OFF_PAYLOAD + k], k & 0xff);
}

static void test_template_rejects_bad_sizes(void **state)
{
	struct pkt_template tmpl;
	struct pkt_flow flow = base_flow;

	(void)state;
	flow.frame_len = 59;
	assert_int_not_equal(pkt_template_init(&tmpl, &flow), 0);
	flow.frame_len = PKT_MAX_FRAME + 1;
	assert_int_not_equal(pkt_template_init(&tmpl, &flow), 0);
}

/* Every size, odd ones included (a UDP datagram of odd length sums its
 * last byte padded), and stamps that carry through all the words. */
static void test_every_size_valid_and_checksums_match(void **state)
{
	static const uint64_t seqs[] = { 0, 1, 0xffff, 0x10000,
					 PKT_SEQ_MASK };
	uint8_t f[PKT_MAX_FRAME];
	uint16_t len;
	size_t i;

	(void)state;
	for (len = PKT_MIN_FRAME; len <= PKT_MAX_FRAME; len++) {
		for (i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
			struct pkt_stamp_info info;

			build(f, len, seqs[i], ~seqs[i] ^ len);
			assert_int_equal(be16(f + OFF_IP_CHECKSUM),
					 ref_ip_checksum(f));
			assert_int_equal(be16(f + OFF_UDP_CHECKSUM),
					 ref_udp_checksum(f) ? ref_udp_checksum(f)
							     : 0xffff);
			assert_int_equal(pkt_check(f, len, &info), PKT_VALID);
			assert_true(info.seq == seqs[i]);
			assert_true(info.timestamp_ns == (~seqs[i] ^ len));
		}
	}
}

/* Only the timestamp's low word varies, so at least one of 65536
 * consecutive values makes the computed checksum 0, which must go out as
 * 0xffff. */
static void test_zero_udp_checksum_sent_as_ffff(void **state)
{
	uint8_t f[PKT_MAX_FRAME];
	uint64_t ts;
	int found = 0;

	(void)state;
	for (ts = 0; ts <= 0xffff; ts++) {
		build(f, 60, 7, ts);
		assert_int_not_equal(be16(f + OFF_UDP_CHECKSUM), 0);
		if (ref_udp_checksum(f) == 0) {
			found++;
			assert_int_equal(be16(f + OFF_UDP_CHECKSUM), 0xffff);
			assert_int_equal(check(f, 60), PKT_VALID);
		}
	}
	assert_true(found >= 1);
}

/* ---- checking --------------------------------------------------------- */

static void test_padded_frame_valid(void **state)
{
	uint8_t f[128];

	(void)state;
	memset(f, 0xa5, sizeof(f));
	build(f, 60, 42, 1000);
	assert_int_equal(check(f, 64), PKT_VALID);
	assert_int_equal(check(f, 128), PKT_VALID);
}

static void test_truncated_frame_corrupted(void **state)
{
	uint8_t f[200];

	(void)state;
	build(f, 200, 1, 2);
	assert_int_equal(check(f, 199), PKT_CORRUPTED);
	assert_int_equal(check(f, 60), PKT_CORRUPTED);
	assert_int_equal(check(f, 50), PKT_CORRUPTED);
}

/* Flipping one bit anywhere: MACs are not checked (the receiver does not
 * know them); ethertype, IP protocol and magic are what make a frame
 * ours, so a flip there makes it foreign; every other byte is covered by
 * a checksum or a check. */
static enum pkt_verdict expected_after_flip(size_t off)
{
	if (off < PKT_OFF_ETHERTYPE)
		return PKT_VALID;
	if (off < PKT_OFF_IP || off == OFF_IP_PROTOCOL ||
	    off == PKT_OFF_MAGIC || off == PKT_OFF_MAGIC + 1)
		return PKT_FOREIGN;
	return PKT_CORRUPTED;
}

static void flip_each_byte(uint16_t len, uint8_t mask)
{
	uint8_t f[PKT_MAX_FRAME];
	size_t off;

	build(f, len, 0x123456789ull, 0xabcdefull);
	for (off = 0; off < len; off++) {
		f[off] ^= mask;
		if (check(f, len) != expected_after_flip(off))
			fail_msg("len %u mask %#x: flip at %zu gave %d, "
				 "expected %d", len, mask, off, check(f, len),
				 expected_after_flip(off));
		f[off] ^= mask;
	}
	assert_int_equal(check(f, len), PKT_VALID);
}

static void test_flip_each_byte(void **state)
{
	(void)state;
	flip_each_byte(60, 0x01);
	flip_each_byte(61, 0x01);
	flip_each_byte(200, 0x01);
	flip_each_byte(200, 0x08);  /* version nibble stays 4 */
}

/* A version flip makes the frame not IPv4 at all. */
static void test_version_flip_is_foreign(void **state)
{
	uint8_t f[64];

	(void)state;
	build(f, 60, 3, 4);
	f[PKT_OFF_IP] = 0x65;
	assert_int_equal(check(f, 60), PKT_FOREIGN);
}

static void test_each_check_alone(void **state)
{
	uint8_t good[200], f[200];

	(void)state;
	build(good, 200, 0x10005, 9);

	memcpy(f, good, 200);                  /* id != seq & 0xffff */
	f[OFF_IP_ID + 1] ^= 1;
	refresh_checksums(f);
	assert_int_equal(check(f, 200), PKT_CORRUPTED);

	memcpy(f, good, 200);                  /* pattern */
	f[150] ^= 0x40;
	refresh_checksums(f);
	assert_int_equal(check(f, 200), PKT_CORRUPTED);

	memcpy(f, good, 200);                  /* UDP length */
	f[OFF_UDP_LEN + 1] -= 2;
	refresh_checksums(f);
	assert_int_equal(check(f, 200), PKT_CORRUPTED);

	memcpy(f, good, 200);                  /* IP total length > frame */
	f[OFF_IP_TOTAL_LEN + 1] += 2;
	refresh_checksums(f);
	assert_int_equal(check(f, 200), PKT_CORRUPTED);

	memcpy(f, good, 200);                  /* IHL 6 */
	f[PKT_OFF_IP] = 0x46;
	refresh_checksums(f);
	assert_int_equal(check(f, 200), PKT_CORRUPTED);

	memcpy(f, good, 200);                  /* "no checksum" is not ours */
	f[OFF_UDP_CHECKSUM] = f[OFF_UDP_CHECKSUM + 1] = 0;
	assert_int_equal(check(f, 200), PKT_CORRUPTED);

	memcpy(f, good, 200);                  /* all of it fixed up: valid */
	refresh_checksums(f);
	assert_int_equal(check(f, 200), PKT_VALID);
}

static void test_other_traffic_is_foreign(void **state)
{
	uint8_t f[100];

	(void)state;
	build(f, 100, 1, 1);
	f[OFF_IP_PROTOCOL] = 6;                /* TCP */
	refresh_checksums(f);
	assert_int_equal(check(f, 100), PKT_FOREIGN);

	build(f, 100, 1, 1);
	f[12] = 0x08;                          /* ARP */
	f[13] = 0x06;
	assert_int_equal(check(f, 100), PKT_FOREIGN);

	build(f, 100, 1, 1);
	f[12] = 0x86;                          /* IPv6 */
	f[13] = 0xdd;
	assert_int_equal(check(f, 100), PKT_FOREIGN);

	build(f, 100, 1, 1);
	f[PKT_OFF_MAGIC] = 0x12;               /* UDP, other payload */
	refresh_checksums(f);
	assert_int_equal(check(f, 100), PKT_FOREIGN);

	memset(f, 0, sizeof(f));
	assert_int_equal(check(f, 100), PKT_FOREIGN);
	assert_int_equal(check(f, 0), PKT_FOREIGN);
	build(f, 60, 1, 1);
	assert_int_equal(check(f, 43), PKT_FOREIGN);   /* magic cut off */
}

/* ---- flows ------------------------------------------------------------ */

static void build_flows(struct pkt_template *tmpl, uint16_t len,
			uint32_t flows)
{
	struct pkt_flow flow = base_flow;

	flow.frame_len = len;
	flow.flows = flows;
	assert_int_equal(pkt_template_init(tmpl, &flow), 0);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)be16(p) << 16 | be16(p + 2);
}

/* Frame n of F flows: flow n % F's source address and port, F and n in
 * the payload, checksums as the reference computes them, and the checker
 * gives back F, n and the flow. One buffer is reused for every frame, as
 * gen reuses its buffers, so nothing of the previous flow may remain. */
static void test_flows_frames(void **state)
{
	static const uint32_t flow_counts[] = { 2, 3, 64, 61536 }  /* 4000 + 61535 = 65535 */;
	static const uint16_t lens[] = { 60, 61, 333 };
	uint8_t f[PKT_MAX_FRAME];
	size_t i, j;
	uint64_t n;

	(void)state;
	for (i = 0; i < sizeof(flow_counts) / sizeof(flow_counts[0]); i++) {
		for (j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
			struct pkt_template tmpl;
			uint32_t flows = flow_counts[i];

			build_flows(&tmpl, lens[j], flows);
			pkt_write_template(&tmpl, f);
			for (n = 0; n < 3 * (uint64_t)flows + 7;
			     n += flows > 100 ? 997 : 1) {
				struct pkt_stamp_info info;
				uint32_t flow = (uint32_t)(n % flows);

				pkt_stamp(&tmpl, f, n, n * 3);
				assert_int_equal(be32(f + PKT_OFF_IP + 12),
						 base_flow.src_ip + flow);
				assert_int_equal(be32(f + PKT_OFF_IP + 16),
						 base_flow.dst_ip);
				assert_int_equal(be16(f + PKT_OFF_UDP),
						 base_flow.src_port + flow);
				assert_int_equal(be16(f + PKT_OFF_UDP + 2),
						 base_flow.dst_port);
				assert_int_equal(be16(f + PKT_OFF_FLOWS),
						 flows - 1);
				assert_true((be64(f + PKT_OFF_SEQ) &
					     PKT_SEQ_MASK) == n);
				assert_int_equal(be16(f + OFF_IP_CHECKSUM),
						 ref_ip_checksum(f));
				assert_int_equal(be16(f + OFF_UDP_CHECKSUM),
						 ref_udp_checksum(f) ?
						 ref_udp_checksum(f) : 0xffff);
				assert_int_equal(pkt_check(f, lens[j], &info),
						 PKT_VALID);
				assert_true(info.seq == n);
				assert_int_equal(info.flows, flows);
				assert_int_equal(info.flow, flow);
				assert_true(info.timestamp_ns == n * 3);
			}
		}
	}
}

/* A one-flow frame says one flow; a frame of earlier versions (bytes 2-9
 * a 64-bit number below 2^48) reads as one flow with that number. */
static void test_one_flow_and_old_frames(void **state)
{
	struct pkt_stamp_info info;
	uint8_t f[PKT_MAX_FRAME];

	(void)state;
	build(f, 60, 123456, 1);
	assert_int_equal(pkt_check(f, 60, &info), PKT_VALID);
	assert_int_equal(info.flows, 1);
	assert_int_equal(info.flow, 0);
	assert_true(info.seq == 123456);
	assert_int_equal(be16(f + PKT_OFF_UDP), base_flow.src_port);
	assert_int_equal(be32(f + PKT_OFF_IP + 12), base_flow.src_ip);
}

static void test_flows_limits(void **state)
{
	struct pkt_template tmpl;
	struct pkt_flow flow = base_flow;

	(void)state;
	flow.flows = PKT_MAX_FLOWS + 1;
	assert_int_not_equal(pkt_template_init(&tmpl, &flow), 0);
	/* The source port of the last flow must exist. */
	flow.flows = 16;
	flow.src_port = 65535 - 15;
	assert_int_equal(pkt_template_init(&tmpl, &flow), 0);
	flow.src_port = 65535 - 14;
	assert_int_not_equal(pkt_template_init(&tmpl, &flow), 0);
	/* 0 is one flow. */
	flow.flows = 0;
	flow.src_port = 65535;
	assert_int_equal(pkt_template_init(&tmpl, &flow), 0);
	assert_int_equal(tmpl.flows, 1);
}

/* Over all queues every number below the count is sent exactly once;
 * each queue sends only its own flows (f % queues == queue), and the
 * numbers of each flow in increasing order. */
static void check_cursors(uint32_t flows, uint32_t queues, uint64_t count)
{
	uint8_t *seen = calloc(count, 1);
	uint64_t *last = calloc(flows, sizeof(*last));
	uint64_t seq, total = 0;
	uint32_t q;

	assert_non_null(seen);
	assert_non_null(last);
	for (q = 0; q < queues; q++) {
		struct pkt_flow_cursor c;

		pkt_cursor_init(&c, flows, queues, q);
		while (pkt_cursor_peek(&c, count, &seq)) {
			uint32_t flow = (uint32_t)(seq % flows);

			assert_true(seq < count);
			assert_int_equal(flow % queues, q);
			assert_int_equal(seen[seq], 0);
			assert_true(last[flow] == 0 || seq > last[flow] - 1);
			last[flow] = seq + 1;
			seen[seq] = 1;
			total++;
			pkt_cursor_advance(&c);
		}
	}
	assert_true(total == count);
	free(seen);
	free(last);
}

static void test_flow_cursors(void **state)
{
	struct pkt_flow_cursor c;
	uint64_t seq;
	int i;

	(void)state;
	check_cursors(1, 1, 100);
	check_cursors(64, 4, 20000);
	check_cursors(7, 3, 1000);      /* flows not a multiple of queues */
	check_cursors(5, 5, 3);         /* count below the flow count */
	check_cursors(64, 2, 64 * 3 + 1);
	/* One queue: the numbers count up, as before flows existed. */
	pkt_cursor_init(&c, 4, 1, 0);
	for (i = 0; i < 10; i++) {
		assert_true(pkt_cursor_peek(&c, 0, &seq));
		assert_true(seq == (uint64_t)i);
		pkt_cursor_advance(&c);
	}
	/* Two queues of 5 flows: queue 1 sends flows 1 and 3. */
	pkt_cursor_init(&c, 5, 2, 1);
	assert_int_equal(c.flow_count, 2);
	assert_true(pkt_cursor_peek(&c, 0, &seq) && seq == 1);
	pkt_cursor_advance(&c);
	assert_true(pkt_cursor_peek(&c, 0, &seq) && seq == 3);
	pkt_cursor_advance(&c);
	assert_true(pkt_cursor_peek(&c, 0, &seq) && seq == 6);
	assert_false(pkt_cursor_peek(&c, 6, &seq));
}

static void test_sum_helpers(void **state)
{
	static const uint8_t odd[3] = { 0x12, 0x34, 0x56 };

	(void)state;
	assert_int_equal(pkt_sum_bytes(odd, 3, 0), 0x1234 + 0x5600);
	assert_int_equal(pkt_sum_fold(0x1ffff), 0x0001);
	assert_int_equal(pkt_sum_fold(0x2fffd), 0xffff);
	assert_int_equal(pkt_sum_fold(0x1fffe), 0xffff);
	assert_int_equal(pkt_sum_fold(0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_layout),
		cmocka_unit_test(test_template_rejects_bad_sizes),
		cmocka_unit_test(test_every_size_valid_and_checksums_match),
		cmocka_unit_test(test_zero_udp_checksum_sent_as_ffff),
		cmocka_unit_test(test_padded_frame_valid),
		cmocka_unit_test(test_truncated_frame_corrupted),
		cmocka_unit_test(test_flip_each_byte),
		cmocka_unit_test(test_version_flip_is_foreign),
		cmocka_unit_test(test_each_check_alone),
		cmocka_unit_test(test_other_traffic_is_foreign),
		cmocka_unit_test(test_flows_frames),
		cmocka_unit_test(test_one_flow_and_old_frames),
		cmocka_unit_test(test_flows_limits),
		cmocka_unit_test(test_flow_cursors),
		cmocka_unit_test(test_sum_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
