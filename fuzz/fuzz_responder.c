/* The responder's frame parser (src/cli/responder.c) on any frame a peer
 * can send.
 *
 * Input: byte 0 says whether the responder has an IPv4 and an IPv6
 * address and how much room the reply buffer has; the rest is the frame,
 * copied into an allocation of exactly its length (and the reply buffer is
 * exactly `room` bytes), so ASan sees any read or write past either.
 * The responder is 02:00:00:00:00:01, 192.0.2.1, 2001:db8::1, as in the
 * seeds, and always answers its link-local fe80::ff:fe00:1; replies are
 * limited to the 1514-byte frame.
 *
 * Checked, for every frame:
 *   - exactly one counter moves by one; a replies counter moves exactly
 *     when a reply is returned;
 *   - a reply is at least 60 bytes, fits the room, comes from our MAC to
 *     the asker, and is well formed, with checksums this harness computes
 *     itself: an ARP reply from our IPv4 address to the asker's; an IPv4
 *     header and ICMP echo reply from our address; an IPv6 header and an
 *     ICMPv6 echo reply or neighbour advertisement from one of our
 *     addresses (an advertisement's target is its source), its payload
 *     length inside the reply; no reply longer than the limit. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "responder.h"

static const uint8_t our_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t our_ip6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x01 };
static const uint8_t our_ll[16] = { 0xfe, 0x80, [11] = 0xff, 0xfe, 0, 0, 0x01 };
#define OUR_IP 0xc0000201u

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The Internet checksum (RFC 1071) of data plus a starting sum: 0 when
 * the data carries a correct checksum. */
static uint16_t inet_sum(const uint8_t *p, size_t len, uint64_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += rd16(p + i);
	if (len & 1)
		sum += (uint64_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint64_t pseudo6(const uint8_t *ip, size_t len)
{
	uint64_t sum = 0;
	for (int i = 8; i < 40; i += 2)
		sum += rd16(ip + i);
	return sum + len + 58;
}

static uint64_t total(const struct responder_counts *c)
{
	return responder_replies(c) + c->bad_checksum + c->malformed + c->ignored + c->fragments +
	       c->too_big;
}

static void check_reply(const struct responder *r, const uint8_t *frame, const uint8_t *out,
			size_t n)
{
	uint16_t type = rd16(out + 12);

	FUZZ_CHECK(memcmp(out + 6, our_mac, 6) == 0, "reply not from our MAC");
	FUZZ_CHECK(rd16(frame + 12) == type, "reply ethertype %#x to a frame of %#x", type,
		   rd16(frame + 12));
	if (type == 0x0806) {
		const uint8_t *a = out + 14;
		FUZZ_CHECK(r->has_ip && rd16(a + 6) == 2 && memcmp(a + 8, our_mac, 6) == 0 &&
				   ((uint32_t)rd16(a + 14) << 16 | rd16(a + 16)) == OUR_IP &&
				   memcmp(a + 18, frame + 22, 10) == 0 && memcmp(out, frame + 22, 6) == 0,
			   "ARP reply malformed");
	} else if (type == 0x0800) {
		const uint8_t *ip = out + 14;
		size_t len = rd16(ip + 2);
		FUZZ_CHECK(r->has_ip && ip[0] == 0x45 && ip[9] == 1 && len >= 28 && 14 + len <= n,
			   "IPv4 reply header malformed (length %zu of %zu)", len, n);
		FUZZ_CHECK(inet_sum(ip, 20, 0) == 0, "IPv4 reply header checksum");
		FUZZ_CHECK(((uint32_t)rd16(ip + 12) << 16 | rd16(ip + 14)) == OUR_IP &&
				   memcmp(ip + 16, frame + 26, 4) == 0 && memcmp(out, frame + 6, 6) == 0,
			   "IPv4 reply addresses");
		FUZZ_CHECK(ip[20] == 0 && inet_sum(ip + 20, len - 20, 0) == 0,
			   "ICMP echo reply type %u or checksum", ip[20]);
	} else {
		const uint8_t *ip = out + 14;
		size_t len = rd16(ip + 4);
		bool from_ours = (r->has_ip6 && memcmp(ip + 8, our_ip6, 16) == 0) ||
				 memcmp(ip + 8, our_ll, 16) == 0;
		FUZZ_CHECK(type == 0x86dd && ip[0] >> 4 == 6 && ip[6] == 58 && len >= 8 &&
				   54 + len <= n && from_ours,
			   "IPv6 reply header malformed (payload %zu of %zu)", len, n);
		FUZZ_CHECK(ip[40] == 129 || ip[40] == 136, "ICMPv6 reply type %u", ip[40]);
		FUZZ_CHECK(inet_sum(ip + 40, len, pseudo6(ip, len)) == 0, "ICMPv6 reply checksum");
		if (ip[40] == 136)
			FUZZ_CHECK(ip[7] == 255 && len == 32 && memcmp(ip + 48, ip + 8, 16) == 0 &&
					   memcmp(ip + 66, our_mac, 6) == 0,
				   "neighbour advertisement malformed");
		else
			FUZZ_CHECK(memcmp(ip + 24, frame + 22, 16) == 0 && memcmp(out, frame + 6, 6) == 0,
				   "ICMPv6 echo reply addresses");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct responder r = { .ip = OUR_IP };

	if (size < 1)
		return 0;
	memcpy(r.mac, our_mac, 6);
	memcpy(r.ip6, our_ip6, 16);
	responder_link_local(our_mac, r.ip6_ll);
	FUZZ_CHECK(memcmp(r.ip6_ll, our_ll, 16) == 0, "link-local address");
	r.has_ip6_ll = true;
	r.max_frame = RESPOND_MAX_FRAME;
	r.has_ip = !(data[0] & 1);
	r.has_ip6 = !(data[0] & 2);
	size_t len = size - 1;
	/* Usually enough room; sometimes less than the responder asks for. */
	size_t room = (data[0] & 4) ? (size_t)(data[0] >> 3) * 8 : (len > 128 ? len : 128);
	uint8_t *frame = malloc(len ? len : 1);
	uint8_t *out = malloc(room ? room : 1);
	FUZZ_CHECK(frame && out, "out of memory");
	if (len)
		memcpy(frame, data + 1, len);

	struct responder_counts before = r.counts;
	size_t n = responder_reply(&r, frame, len, out, room);
	FUZZ_CHECK(total(&r.counts) == total(&before) + 1, "%llu counters moved for one frame",
		   (unsigned long long)(total(&r.counts) - total(&before)));
	FUZZ_CHECK((responder_replies(&r.counts) > responder_replies(&before)) == (n > 0),
		   "reply of %zu bytes, replies counted %llu", n,
		   (unsigned long long)responder_replies(&r.counts));
	if (n > 0) {
		FUZZ_CHECK(n >= RESPOND_MIN_FRAME && n <= room && room >= len && n <= r.max_frame,
			   "reply of %zu bytes, room %zu, frame %zu", n, room, len);
		check_reply(&r, frame, out, n);
	}
	free(frame);
	free(out);
	return 0;
}
