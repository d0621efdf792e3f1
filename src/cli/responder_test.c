/* Unit tests of the responder (responder.c): each kind of request gets
 * the right reply, with checksums verified by an independent sum here;
 * everything else, and every truncation of a valid request, gets none. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "responder.h"

static const uint8_t OUR_MAC[6] = { 0x02, 0x5a, 0xfe, 0, 0, 1 };
static const uint8_t PEER_MAC[6] = { 0x02, 0, 0, 0, 0, 2 };
static const uint32_t OUR_IP = 0x0a000001;    /* 10.0.0.1 */
static const uint8_t PEER_IP[4] = { 10, 0, 0, 2 };
/* fd5a:fe::1 and fd5a:fe::2 */
static const uint8_t OUR_IP6[16] = { 0xfd, 0x5a, 0, 0xfe, [15] = 1 };
static const uint8_t PEER_IP6[16] = { 0xfd, 0x5a, 0, 0xfe, [15] = 2 };
static const uint8_t UNSPECIFIED[16];

/* ---- an independent Internet checksum --------------------------------- */

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	size_t i;

	for (i = 0; i < len; i++)
		sum += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum > 0xffff)
		sum = (sum >> 16) + (sum & 0xffff);
	return (uint16_t)sum;
}

static uint16_t csum(const uint8_t *p, size_t len, uint32_t start)
{
	return (uint16_t)~fold(sum16(p, len, start));
}

static uint32_t pseudo6(const uint8_t *src, const uint8_t *dst, size_t len)
{
	return sum16(src, 16, 0) + sum16(dst, 16, 0) + (uint32_t)len + 58;
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static unsigned get16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* ---- request builders ------------------------------------------------- */

static void eth(uint8_t *f, const uint8_t *dst, const uint8_t *src,
		unsigned type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	put16(f + 12, type);
}

static size_t arp_request(uint8_t *f, uint32_t target)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t *a = f + 14;

	memset(f, 0, 60);
	eth(f, bcast, PEER_MAC, 0x0806);
	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 1);
	memcpy(a + 8, PEER_MAC, 6);
	memcpy(a + 14, PEER_IP, 4);
	a[24] = (uint8_t)(target >> 24);
	a[25] = (uint8_t)(target >> 16);
	a[26] = (uint8_t)(target >> 8);
	a[27] = (uint8_t)target;
	return 60;
}

/* Ping with icmp_len bytes of ICMP message (header and data); returns
 * the frame's length. */
static size_t icmp_request_sized(uint8_t *f, size_t icmp_len)
{
	uint8_t *ip = f + 14, *icmp = ip + 20;
	size_t i;

	memset(f, 0, 34 + icmp_len);
	eth(f, OUR_MAC, PEER_MAC, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, (unsigned)(20 + icmp_len));
	put16(ip + 4, 0x1234);
	put16(ip + 6, 0x4000);                  /* DF */
	ip[8] = 64;
	ip[9] = 1;
	memcpy(ip + 12, PEER_IP, 4);
	ip[16] = 10;
	ip[19] = 1;
	put16(ip + 10, csum(ip, 20, 0));
	icmp[0] = 8;
	put16(icmp + 4, 0x77);                  /* identifier */
	put16(icmp + 6, 3);                     /* sequence */
	for (i = 8; i < icmp_len; i++)
		icmp[i] = (uint8_t)i;
	put16(icmp + 2, csum(icmp, icmp_len, 0));
	return 34 + icmp_len;
}

/* Ping with 56 bytes of data, as iputils sends; len 98. */
static size_t icmp_request(uint8_t *f)
{
	return icmp_request_sized(f, 64);
}

static void ipv6(uint8_t *ip, size_t payload, unsigned hops,
		 const uint8_t *src, const uint8_t *dst)
{
	memset(ip, 0, 40);
	ip[0] = 0x60;
	put16(ip + 4, (unsigned)payload);
	ip[6] = 58;
	ip[7] = (uint8_t)hops;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, dst, 16);
}

/* A solicitation for target from src to our solicited-node group, with a
 * source link-layer option unless src is ::. */
static size_t ns_request(uint8_t *f, const uint8_t *src, const uint8_t *target,
			 unsigned hops)
{
	uint8_t group[16] = { 0xff, 0x02, [11] = 1, [12] = 0xff };
	uint8_t group_mac[6] = { 0x33, 0x33, 0xff };
	uint8_t *ip = f + 14, *ns = ip + 40;
	bool dad = memcmp(src, UNSPECIFIED, 16) == 0;
	size_t len = dad ? 24 : 32;

	memcpy(group + 13, target + 13, 3);
	memcpy(group_mac + 3, target + 13, 3);
	memset(f, 0, 14 + 40 + len);
	eth(f, group_mac, PEER_MAC, 0x86dd);
	ipv6(ip, len, hops, src, group);
	ns[0] = 135;
	memcpy(ns + 8, target, 16);
	if (!dad) {
		ns[24] = 1;
		ns[25] = 1;
		memcpy(ns + 26, PEER_MAC, 6);
	}
	put16(ns + 2, csum(ns, len, pseudo6(src, group, len)));
	return 14 + 40 + len;
}

static size_t echo6_request_to(uint8_t *f, const uint8_t *dst)
{
	uint8_t *ip = f + 14, *m = ip + 40;
	size_t i, len = 64;

	memset(f, 0, 14 + 40 + len);
	eth(f, OUR_MAC, PEER_MAC, 0x86dd);
	ipv6(ip, len, 64, PEER_IP6, dst);
	m[0] = 128;
	put16(m + 4, 0x99);
	put16(m + 6, 1);
	for (i = 8; i < len; i++)
		m[i] = (uint8_t)(i * 3);
	put16(m + 2, csum(m, len, pseudo6(PEER_IP6, dst, len)));
	return 14 + 40 + len;
}

static size_t echo6_request(uint8_t *f)
{
	return echo6_request_to(f, OUR_IP6);
}

static void init_responder(struct responder *r)
{
	memset(r, 0, sizeof(*r));
	memcpy(r->mac, OUR_MAC, 6);
	r->has_ip = true;
	r->ip = OUR_IP;
	r->has_ip6 = true;
	memcpy(r->ip6, OUR_IP6, 16);
}

/* ---- tests ------------------------------------------------------------ */

static void test_arp_request_for_us(void **state)
{
	uint8_t req[128], rep[256];
	struct responder r;
	size_t n;

	(void)state;
	init_responder(&r);
	n = responder_reply(&r, req, arp_request(req, OUR_IP), rep, sizeof(rep));
	assert_int_equal(n, 60);
	assert_memory_equal(rep, PEER_MAC, 6);
	assert_memory_equal(rep + 6, OUR_MAC, 6);
	assert_int_equal(get16(rep + 12), 0x0806);
	assert_int_equal(get16(rep + 14 + 6), 2);          /* reply */
	assert_memory_equal(rep + 14 + 8, OUR_MAC, 6);     /* sender */
	assert_int_equal(rep[14 + 14], 10);
	assert_int_equal(rep[14 + 17], 1);
	assert_memory_equal(rep + 14 + 18, PEER_MAC, 6);   /* target */
	assert_memory_equal(rep + 14 + 24, PEER_IP, 4);
	assert_int_equal(r.counts.arp_replies, 1);
}

static void test_arp_for_others_ignored(void **state)
{
	uint8_t req[128], rep[256];
	struct responder r;

	(void)state;
	init_responder(&r);
	assert_int_equal(responder_reply(&r, req, arp_request(req, 0x0a000009),
					 rep, sizeof(rep)), 0);
	/* A reply (op 2) is not answered. */
	arp_request(req, OUR_IP);
	req[14 + 7] = 2;
	assert_int_equal(responder_reply(&r, req, 60, rep, sizeof(rep)), 0);
	/* Without --ip nothing is answered. */
	r.has_ip = false;
	assert_int_equal(responder_reply(&r, req, arp_request(req, OUR_IP), rep,
					 sizeof(rep)), 0);
	assert_int_equal(r.counts.arp_replies, 0);
	assert_int_equal(r.counts.ignored, 3);
}

static void test_icmp_echo_reply(void **state)
{
	uint8_t req[128], rep[256];
	struct responder r;
	size_t n, len;

	(void)state;
	init_responder(&r);
	len = icmp_request(req);
	n = responder_reply(&r, req, len, rep, sizeof(rep));
	assert_int_equal(n, 98);
	assert_memory_equal(rep, PEER_MAC, 6);
	assert_memory_equal(rep + 6, OUR_MAC, 6);
	assert_int_equal(get16(rep + 12), 0x0800);
	assert_int_equal(csum(rep + 14, 20, 0), 0);        /* IP checksum */
	assert_int_equal(get16(rep + 14 + 2), 84);
	assert_memory_equal(rep + 14 + 12, req + 14 + 16, 4);
	assert_memory_equal(rep + 14 + 16, PEER_IP, 4);
	assert_int_equal(rep[14 + 9], 1);
	assert_int_equal(rep[34], 0);                      /* echo reply */
	assert_int_equal(csum(rep + 34, 64, 0), 0);        /* ICMP checksum */
	assert_memory_equal(rep + 34 + 4, req + 34 + 4, 60);
	assert_int_equal(r.counts.icmp_echo_replies, 1);
}

static void test_icmp_checks(void **state)
{
	uint8_t req[128], rep[256];
	struct responder r;
	size_t len;

	(void)state;
	init_responder(&r);
	len = icmp_request(req);
	req[34 + 20] ^= 1;                                 /* bad ICMP sum */
	assert_int_equal(responder_reply(&r, req, len, rep, sizeof(rep)), 0);
	assert_int_equal(r.counts.bad_checksum, 1);
	len = icmp_request(req);
	req[14 + 8] = 1;                                   /* bad IP sum */
	assert_int_equal(responder_reply(&r, req, len, rep, sizeof(rep)), 0);
	assert_int_equal(r.counts.bad_checksum, 2);
	len = icmp_request(req);
	req[0] = 0x04;                                     /* other MAC */
	assert_int_equal(responder_reply(&r, req, len, rep, sizeof(rep)), 0);
	len = icmp_request(req);
	put16(req + 14 + 6, 0x2000);                       /* fragment */
	put16(req + 14 + 10, 0);
	put16(req + 14 + 10, csum(req + 14, 20, 0));
	assert_int_equal(responder_reply(&r, req, len, rep, sizeof(rep)), 0);
	assert_int_equal(r.counts.fragments, 1);
	len = icmp_request(req);
	put16(req + 14 + 2, 200);                          /* beyond frame */
	put16(req + 14 + 10, 0);
	put16(req + 14 + 10, csum(req + 14, 20, 0));
	assert_int_equal(responder_reply(&r, req, len, rep, sizeof(rep)), 0);
	assert_int_equal(r.counts.malformed, 1);
	assert_int_equal(r.counts.icmp_echo_replies, 0);
}

static void test_neighbour_solicitation(void **state)
{
	uint8_t req[128], rep[256];
	struct responder r;
	const uint8_t *ip = rep + 14, *na = rep + 54;
	size_t n;

	(void)state;
	init_responder(&r);
	n = responder_reply(&r, req, ns_request(req, PEER_IP6, OUR_IP6, 255),
			    rep, sizeof(rep));
	assert_int_equal(n, 86);
	assert_memory_equal(rep, PEER_MAC, 6);             /* from the option */
	assert_memory_equal(rep + 6, OUR_MAC, 6);
	assert_int_equal(get16(rep + 12), 0x86dd);
	assert_int_equal(get16(ip + 4), 32);
	assert_int_equal(ip[6], 58);
	assert_int_equal(ip[7], 255);
	assert_memory_equal(ip + 8, OUR_IP6, 16);
	assert_memory_equal(ip + 24, PEER_IP6, 16);
	assert_int_equal(na[0], 136);
	assert_int_equal(na[4], 0x60);                     /* S and O */
	assert_memory_equal(na + 8, OUR_IP6, 16);
	assert_int_equal(na[24], 2);                       /* target lladdr */
	assert_int_equal(na[25], 1);
	assert_memory_equal(na + 26, OUR_MAC, 6);
	assert_int_equal(csum(na, 32, pseudo6(ip + 8, ip + 24, 32)), 0);
	assert_int_equal(r.counts.nd_replies, 1);
}

static void test_duplicate_address_detection(void **state)
{
	static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 1 };
	static const uint8_t all_nodes_mac[6] = { 0x33, 0x33, 0, 0, 0, 1 };
	uint8_t req[128], rep[256];
	struct responder r;
	size_t n;

	(void)state;
	init_responder(&r);
	n = responder_reply(&r, req, ns_request(req, UNSPECIFIED, OUR_IP6, 255),
			    rep, sizeof(rep));
	assert_int_equal(n, 86);
	assert_memory_equal(rep, all_nodes_mac, 6);
	assert_memory_equal(rep + 14 + 24, all_nodes, 16);
	assert_int_equal(rep[54 + 4], 0x20);               /* O only */
	assert_int_equal(csum(rep + 54, 32, pseudo6(rep + 22, rep + 38, 32)), 0);
}

static void test_solicitation_checks(void **state)
{
	static const uint8_t other[16] = { 0xfd, 0x5a, 0, 0xfe, [15] = 9 };
	uint8_t req[128], rep[256];
	struct responder r;
	size_t len;

	(void)state;
	init_responder(&r);
	/* Routers and hosts drop ND with a hop limit below 255. */
	len = ns_request(req, PEER_IP6, OUR_IP6, 64);
	assert_int_equal(responder_reply(&r, req, len, rep, sizeof(rep)), 0);
	assert_int_equal(r.counts.malformed, 1);
	len = ns_request(req, PEER_IP6, other, 255);
	assert_int_equal(responder_reply(&r, req, len, rep, sizeof(rep)), 0);
	len = ns_request(req, PEER_IP6, OUR_IP6, 255);
	req[len - 1] ^= 0x10;
	assert_int_equal(responder_reply(&r, req, len, rep, sizeof(rep)), 0);
	assert_int_equal(r.counts.bad_checksum, 1);
	/* An option of length 0 would loop forever if trusted. */
	len = ns_request(req, PEER_IP6, OUR_IP6, 255);
	req[14 + 40 + 25] = 0;
	put16(req + 14 + 40 + 2, 0);
	put16(req + 14 + 40 + 2, csum(req + 54, 32, pseudo6(PEER_IP6,
				      req + 14 + 24, 32)));
	assert_int_equal(responder_reply(&r, req, len, rep, sizeof(rep)), 0);
	assert_int_equal(r.counts.malformed, 2);
	assert_int_equal(r.counts.nd_replies, 0);
}

static void test_icmp6_echo_reply(void **state)
{
	uint8_t req[256], rep[256];
	struct responder r;
	size_t n, len;

	(void)state;
	init_responder(&r);
	len = echo6_request(req);
	n = responder_reply(&r, req, len, rep, sizeof(rep));
	assert_int_equal(n, len);
	assert_memory_equal(rep, PEER_MAC, 6);
	assert_int_equal(rep[14 + 7], 64);
	assert_memory_equal(rep + 14 + 8, OUR_IP6, 16);
	assert_memory_equal(rep + 14 + 24, PEER_IP6, 16);
	assert_int_equal(rep[54], 129);
	assert_memory_equal(rep + 54 + 4, req + 54 + 4, 60);
	assert_int_equal(csum(rep + 54, 64, pseudo6(OUR_IP6, PEER_IP6, 64)), 0);
	r.has_ip6 = false;
	assert_int_equal(responder_reply(&r, req, len, rep, sizeof(rep)), 0);
	assert_int_equal(r.counts.icmp6_echo_replies, 1);
	assert_int_equal(responder_replies(&r.counts), 1);
}

/* fe80:: + the MAC with ff:fe in the middle and the U/L bit flipped. */
static void test_link_local_address(void **state)
{
	static const uint8_t want[16] = { 0xfe, 0x80, [9] = 0x5a, 0xfe, 0xff, 0xfe, 0, 0, 1 };
	static const uint8_t site[16] = { 0xfe, 0xc0, [15] = 1 };
	static const uint8_t top[16] = { 0xfe, 0xbf, [15] = 1 };
	uint8_t ll[16];

	(void)state;
	responder_link_local(OUR_MAC, ll);
	assert_memory_equal(ll, want, 16);
	assert_true(responder_is_link_local(ll));
	assert_true(responder_is_link_local(top));
	assert_false(responder_is_link_local(site));
	assert_false(responder_is_link_local(OUR_IP6));
}

/* The link-local address is answered from itself, with or without a
 * configured IPv6 address. */
static void test_link_local_answered(void **state)
{
	uint8_t req[256], rep[256], ll[16];
	struct responder r;
	size_t n, len;

	(void)state;
	init_responder(&r);
	responder_link_local(OUR_MAC, ll);
	r.has_ip6_ll = true;
	memcpy(r.ip6_ll, ll, 16);
	for (int with_ip6 = 1; with_ip6 >= 0; with_ip6--) {
		r.has_ip6 = with_ip6;
		n = responder_reply(&r, req, ns_request(req, PEER_IP6, ll, 255), rep,
				    sizeof(rep));
		assert_int_equal(n, 86);
		assert_memory_equal(rep + 14 + 8, ll, 16);       /* from the link-local */
		assert_memory_equal(rep + 54 + 8, ll, 16);       /* its target */
		assert_int_equal(csum(rep + 54, 32, pseudo6(rep + 22, rep + 38, 32)), 0);
		len = echo6_request_to(req, ll);
		n = responder_reply(&r, req, len, rep, sizeof(rep));
		assert_int_equal(n, len);
		assert_memory_equal(rep + 14 + 8, ll, 16);
		assert_memory_equal(rep + 14 + 24, PEER_IP6, 16);
		assert_int_equal(csum(rep + 54, 64, pseudo6(ll, PEER_IP6, 64)), 0);
	}
	/* A solicitation for the link-local address sent to another
	 * solicited-node group is not ours to answer. */
	r.has_ip6 = true;
	len = ns_request(req, PEER_IP6, ll, 255);
	req[14 + 24 + 13] = 0x12;                          /* dst: another group */
	put16(req + 54 + 2, 0);
	put16(req + 54 + 2, csum(req + 54, 32, pseudo6(PEER_IP6, req + 14 + 24, 32)));
	assert_int_equal(responder_reply(&r, req, len, rep, sizeof(rep)), 0);
	/* Off: not answered. */
	r.has_ip6_ll = false;
	len = echo6_request_to(req, ll);
	assert_int_equal(responder_reply(&r, req, len, rep, sizeof(rep)), 0);
	assert_int_equal(r.counts.nd_replies, 2);
	assert_int_equal(r.counts.icmp6_echo_replies, 2);
}

/* Fragments are counted, not answered: IPv4 with MF or an offset, IPv6
 * with a fragment header, to one of our addresses. */
static void test_fragments_counted(void **state)
{
	uint8_t req[256], rep[256];
	struct responder r;
	size_t len;

	(void)state;
	init_responder(&r);
	len = icmp_request(req);
	put16(req + 14 + 6, 0x00b9);                       /* offset 1480 */
	put16(req + 14 + 10, 0);
	put16(req + 14 + 10, csum(req + 14, 20, 0));
	assert_int_equal(responder_reply(&r, req, len, rep, sizeof(rep)), 0);
	/* The last fragment of a ping just over the MTU: one byte of it. */
	len = icmp_request(req);
	put16(req + 14 + 2, 21);
	put16(req + 14 + 6, 0x00b9);
	put16(req + 14 + 10, 0);
	put16(req + 14 + 10, csum(req + 14, 20, 0));
	assert_int_equal(responder_reply(&r, req, len, rep, sizeof(rep)), 0);
	assert_int_equal(r.counts.malformed, 0);
	len = echo6_request(req);
	req[14 + 6] = 44;                                  /* fragment header */
	assert_int_equal(responder_reply(&r, req, len, rep, sizeof(rep)), 0);
	assert_int_equal(r.counts.fragments, 3);
	assert_int_equal(responder_replies(&r.counts), 0);
}

/* No reply over max_frame: a 1514-byte request is answered, a 1515-byte
 * one is counted too big. */
static void test_replies_fit_the_mtu(void **state)
{
	static uint8_t req[2048], rep[2048];
	struct responder r;
	size_t len;

	(void)state;
	init_responder(&r);
	r.max_frame = RESPOND_MAX_FRAME;
	len = icmp_request_sized(req, 1480);
	assert_int_equal(len, 1514);
	assert_int_equal(responder_reply(&r, req, len, rep, sizeof(rep)), 1514);
	len = icmp_request_sized(req, 1481);
	assert_int_equal(responder_reply(&r, req, len, rep, sizeof(rep)), 0);
	assert_int_equal(r.counts.too_big, 1);
	r.max_frame = 0;                                   /* no limit */
	assert_int_equal(responder_reply(&r, req, len, rep, sizeof(rep)), 1515);
}

/* Every cut of every valid request: no reply, no read past the end (the
 * sanitizer build checks the latter). */
static void test_truncated_requests(void **state)
{
	uint8_t full[256], cut[256], rep[256];
	size_t (*build[3])(uint8_t *) = { icmp_request, echo6_request, NULL };
	struct responder r;
	size_t len, k, i;

	(void)state;
	init_responder(&r);
	for (i = 0; i < 4; i++) {
		if (i < 2)
			len = build[i](full);
		else if (i == 2)
			len = ns_request(full, PEER_IP6, OUR_IP6, 255);
		else
			len = arp_request(full, OUR_IP);
		for (k = 0; k < len; k++) {
			/* A buffer exactly k long, so ASan sees overreads. */
			uint8_t *exact = cut + sizeof(cut) - k;

			memcpy(exact, full, k);
			if (i == 3 && k >= 42)
				continue;   /* ARP is complete at 42 bytes */
			assert_int_equal(responder_reply(&r, exact, k, rep,
							 sizeof(rep)), 0);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arp_request_for_us),
		cmocka_unit_test(test_arp_for_others_ignored),
		cmocka_unit_test(test_icmp_echo_reply),
		cmocka_unit_test(test_icmp_checks),
		cmocka_unit_test(test_neighbour_solicitation),
		cmocka_unit_test(test_duplicate_address_detection),
		cmocka_unit_test(test_solicitation_checks),
		cmocka_unit_test(test_icmp6_echo_reply),
		cmocka_unit_test(test_truncated_requests),
		cmocka_unit_test(test_link_local_address),
		cmocka_unit_test(test_link_local_answered),
		cmocka_unit_test(test_fragments_counted),
		cmocka_unit_test(test_replies_fit_the_mtu),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
