/* ARP, ICMP echo, IPv6 neighbour discovery and ICMPv6 echo replies (see
 * responder.h). Frames are plain bytes; every length is checked against
 * the frame before a field is read. */
#include "responder.h"

#include <string.h>

#include "packet.h"

#define ETH_HLEN 14
#define ETHERTYPE_IPV4 0x0800u
#define ETHERTYPE_ARP 0x0806u
#define ETHERTYPE_IPV6 0x86ddu

/* ARP for IPv4 over Ethernet (RFC 826): 28 bytes after the Ethernet header. */
#define ARP_LEN 28
#define ARP_HTYPE_ETHERNET 1u
#define ARP_OP_REQUEST 1u
#define ARP_OP_REPLY 2u

#define IPV4_HLEN 20
#define IPPROTO_ICMP_ 1u
#define ICMP_ECHO_REPLY 0u
#define ICMP_ECHO_REQUEST 8u
#define ICMP_HLEN 8
#define IP_TTL 64u

#define IPV6_HLEN 40
#define IPPROTO_ICMPV6_ 58u
#define ICMP6_ECHO_REQUEST 128u
#define ICMP6_ECHO_REPLY 129u
#define ND_NEIGHBOR_SOLICIT 135u
#define ND_NEIGHBOR_ADVERT 136u
#define ND_HOP_LIMIT 255u
#define ND_MSG_LEN 24                /* type, code, checksum, flags, target */
#define ND_OPT_SOURCE_LLADDR 1u
#define ND_OPT_TARGET_LLADDR 2u
#define ND_FLAG_SOLICITED 0x40u      /* first byte of the flags word */
#define ND_FLAG_OVERRIDE 0x20u
#define IPV6_HOP_LIMIT 64u
#define IPPROTO_FRAGMENT_ 44u

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

uint64_t responder_replies(const struct responder_counts *c)
{
	return c->arp_replies + c->icmp_echo_replies + c->nd_replies +
	       c->icmp6_echo_replies;
}

/* Pads a reply to the Ethernet minimum; returns its final length. */
static size_t pad(uint8_t *out, size_t len)
{
	if (len < RESPOND_MIN_FRAME) {
		memset(out + len, 0, RESPOND_MIN_FRAME - len);
		len = RESPOND_MIN_FRAME;
	}
	return len;
}

static void write_eth(uint8_t *out, const uint8_t dst[6], const uint8_t src[6],
		      uint16_t type)
{
	memcpy(out, dst, 6);
	memcpy(out + 6, src, 6);
	put16(out + 12, type);
}

/* A frame for us: to our MAC, or broadcast or multicast (ARP requests are
 * broadcast, solicitations go to a solicited-node multicast group). The
 * device runs promiscuous, so unicast for others arrives too. */
static bool for_us(const struct responder *r, const uint8_t *frame)
{
	return (frame[0] & 1) || memcmp(frame, r->mac, 6) == 0;
}

/* ---- ARP -------------------------------------------------------------- */

static size_t reply_arp(struct responder *r, const uint8_t *frame, size_t len,
			uint8_t *out)
{
	const uint8_t *arp = frame + ETH_HLEN;
	uint8_t *rep = out + ETH_HLEN;

	if (len < ETH_HLEN + ARP_LEN || get16(arp) != ARP_HTYPE_ETHERNET ||
	    get16(arp + 2) != ETHERTYPE_IPV4 || arp[4] != 6 || arp[5] != 4) {
		r->counts.ignored++;
		return 0;
	}
	/* Target protocol address at 24. */
	if (!r->has_ip || get16(arp + 6) != ARP_OP_REQUEST ||
	    get32(arp + 24) != r->ip) {
		r->counts.ignored++;
		return 0;
	}
	/* To the sender's hardware address (8), from us. */
	write_eth(out, arp + 8, r->mac, ETHERTYPE_ARP);
	memcpy(rep, arp, 6);                   /* htype, ptype, hlen, plen */
	put16(rep + 6, ARP_OP_REPLY);
	memcpy(rep + 8, r->mac, 6);            /* sender: us */
	put32(rep + 14, r->ip);
	memcpy(rep + 18, arp + 8, 10);         /* target: the asker */
	r->counts.arp_replies++;
	return pad(out, ETH_HLEN + ARP_LEN);
}

/* A reply longer than the largest frame we may send is not built. */
static bool too_big(struct responder *r, size_t reply_len)
{
	if (r->max_frame == 0 || reply_len <= r->max_frame)
		return false;
	r->counts.too_big++;
	return true;
}

/* ---- IPv4 and ICMP ---------------------------------------------------- */

static uint16_t checksum(const uint8_t *data, size_t len, uint32_t sum)
{
	return (uint16_t)~pkt_sum_fold(pkt_sum_bytes(data, len, sum));
}

static size_t reply_icmp(struct responder *r, const uint8_t *frame,
			 size_t len, uint8_t *out)
{
	const uint8_t *ip = frame + ETH_HLEN, *icmp;
	size_t ihl, total, icmp_len;
	uint8_t *rip = out + ETH_HLEN, *ricmp = rip + IPV4_HLEN;

	if (len < ETH_HLEN + IPV4_HLEN || ip[0] >> 4 != 4 ||
	    ip[9] != IPPROTO_ICMP_ || !r->has_ip || get32(ip + 16) != r->ip ||
	    memcmp(frame, r->mac, 6) != 0) {
		r->counts.ignored++;
		return 0;
	}
	ihl = (size_t)(ip[0] & 0x0f) * 4;
	total = get16(ip + 2);
	if (ihl < IPV4_HLEN || total < ihl || ETH_HLEN + total > len) {
		r->counts.malformed++;
		return 0;
	}
	if (checksum(ip, ihl, 0) != 0) {
		r->counts.bad_checksum++;
		return 0;
	}
	/* Fragments (MF set or an offset) are not reassembled here; a
	 * later one may carry less than an ICMP header. */
	if (get16(ip + 6) & 0x3fff) {
		r->counts.fragments++;
		return 0;
	}
	if (total < ihl + ICMP_HLEN) {
		r->counts.malformed++;
		return 0;
	}
	icmp = ip + ihl;
	icmp_len = total - ihl;
	if (icmp[0] != ICMP_ECHO_REQUEST || icmp[1] != 0) {
		r->counts.ignored++;
		return 0;
	}
	if (checksum(icmp, icmp_len, 0) != 0) {
		r->counts.bad_checksum++;
		return 0;
	}
	if (too_big(r, ETH_HLEN + IPV4_HLEN + icmp_len))
		return 0;
	write_eth(out, frame + 6, r->mac, ETHERTYPE_IPV4);
	/* A fresh 20-byte header: IP options are not echoed. */
	memset(rip, 0, IPV4_HLEN);
	rip[0] = 0x45;
	rip[1] = ip[1];                        /* keep the TOS */
	put16(rip + 2, (uint16_t)(IPV4_HLEN + icmp_len));
	memcpy(rip + 4, ip + 4, 2);            /* same id */
	rip[8] = IP_TTL;
	rip[9] = IPPROTO_ICMP_;
	put32(rip + 12, r->ip);
	memcpy(rip + 16, ip + 12, 4);          /* to the asker */
	put16(rip + 10, checksum(rip, IPV4_HLEN, 0));
	/* Identifier, sequence number and data come back unchanged. */
	memcpy(ricmp, icmp, icmp_len);
	ricmp[0] = ICMP_ECHO_REPLY;
	put16(ricmp + 2, 0);
	put16(ricmp + 2, checksum(ricmp, icmp_len, 0));
	r->counts.icmp_echo_replies++;
	return pad(out, ETH_HLEN + IPV4_HLEN + icmp_len);
}

/* ---- IPv6: ICMPv6 echo and neighbour discovery ------------------------- */

/* The IPv6 pseudo-header (RFC 8200 8.1) for an ICMPv6 message. */
static uint32_t pseudo6_sum(const uint8_t src[16], const uint8_t dst[16],
			    size_t len)
{
	uint32_t sum = pkt_sum_bytes(src, 16, 0);

	sum = pkt_sum_bytes(dst, 16, sum);
	return sum + (uint32_t)(len >> 16) + (uint32_t)(len & 0xffff) +
	       IPPROTO_ICMPV6_;
}

static void write_ipv6(uint8_t *ip, size_t payload, uint8_t hop_limit,
		       const uint8_t src[16], const uint8_t dst[16])
{
	memset(ip, 0, 4);
	ip[0] = 0x60;                          /* version 6, class 0, flow 0 */
	put16(ip + 4, (uint16_t)payload);
	ip[6] = IPPROTO_ICMPV6_;
	ip[7] = hop_limit;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, dst, 16);
}

void responder_link_local(const uint8_t mac[6], uint8_t out[16])
{
	memset(out, 0, 16);
	out[0] = 0xfe;
	out[1] = 0x80;
	/* The MAC split by ff:fe, its universal/local bit inverted. */
	out[8] = mac[0] ^ 0x02;
	out[9] = mac[1];
	out[10] = mac[2];
	out[11] = 0xff;
	out[12] = 0xfe;
	memcpy(out + 13, mac + 3, 3);
}

bool responder_is_link_local(const uint8_t addr[16])
{
	return addr[0] == 0xfe && (addr[1] & 0xc0) == 0x80;
}

/* Our address equal to a, or NULL. */
static const uint8_t *our_ip6(const struct responder *r, const uint8_t a[16])
{
	if (r->has_ip6 && memcmp(a, r->ip6, 16) == 0)
		return r->ip6;
	if (r->has_ip6_ll && memcmp(a, r->ip6_ll, 16) == 0)
		return r->ip6_ll;
	return NULL;
}

/* ff02::1:ffXX:XXXX of the address (RFC 4291 2.7.1). */
static bool is_solicited_node_of(const uint8_t addr[16], const uint8_t dst[16])
{
	static const uint8_t prefix[13] = { 0xff, 0x02, 0, 0, 0, 0, 0, 0,
					    0, 0, 0, 0x01, 0xff };

	return memcmp(dst, prefix, sizeof(prefix)) == 0 &&
	       memcmp(dst + 13, addr + 13, 3) == 0;
}

static bool is_unspecified(const uint8_t a[16])
{
	static const uint8_t zero[16];

	return memcmp(a, zero, 16) == 0;
}

/* The Source Link-Layer Address option of a solicitation, or NULL. Every
 * option must have a non-zero length and fit (RFC 4861 4.6). Sets *bad
 * when the options are malformed. */
static const uint8_t *find_source_lladdr(const uint8_t *opt, size_t len,
					 bool *bad)
{
	const uint8_t *found = NULL;

	*bad = false;
	while (len > 0) {
		size_t opt_len;

		if (len < 2 || opt[1] == 0 || (size_t)opt[1] * 8 > len) {
			*bad = true;
			return NULL;
		}
		opt_len = (size_t)opt[1] * 8;
		if (opt[0] == ND_OPT_SOURCE_LLADDR && opt_len >= 8 && !found)
			found = opt + 2;
		opt += opt_len;
		len -= opt_len;
	}
	return found;
}

static size_t reply_ns(struct responder *r, const uint8_t *frame,
		       const uint8_t *ip, const uint8_t *msg, size_t msg_len,
		       uint8_t *out)
{
	static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 0x01 };
	static const uint8_t all_nodes_mac[6] = { 0x33, 0x33, 0, 0, 0, 1 };
	const uint8_t *src = ip + 8, *dst = ip + 24, *lladdr, *to_mac, *target;
	uint8_t *rip = out + ETH_HLEN, *na = rip + IPV6_HLEN;
	const size_t na_len = ND_MSG_LEN + 8;
	bool dad, bad;

	if (msg_len < ND_MSG_LEN || msg[1] != 0 || ip[7] != ND_HOP_LIMIT) {
		r->counts.malformed++;
		return 0;
	}
	target = our_ip6(r, msg + 8);
	if (!target || (memcmp(dst, target, 16) != 0 && !is_solicited_node_of(target, dst))) {
		r->counts.ignored++;
		return 0;
	}
	lladdr = find_source_lladdr(msg + ND_MSG_LEN, msg_len - ND_MSG_LEN,
				    &bad);
	if (bad) {
		r->counts.malformed++;
		return 0;
	}
	/* Duplicate address detection (source ::): answer all nodes,
	 * unsolicited (RFC 4861 7.2.4). */
	dad = is_unspecified(src);
	to_mac = dad ? all_nodes_mac : lladdr ? lladdr : frame + 6;
	write_eth(out, to_mac, r->mac, ETHERTYPE_IPV6);
	/* From the address asked for: a link-local one answers from itself. */
	write_ipv6(rip, na_len, ND_HOP_LIMIT, target, dad ? all_nodes : src);
	memset(na, 0, na_len);
	na[0] = ND_NEIGHBOR_ADVERT;
	/* Not a router (R clear): a host's advertisement. */
	na[4] = (uint8_t)(ND_FLAG_OVERRIDE | (dad ? 0 : ND_FLAG_SOLICITED));
	memcpy(na + 8, target, 16);
	na[ND_MSG_LEN] = ND_OPT_TARGET_LLADDR;
	na[ND_MSG_LEN + 1] = 1;                /* one unit of 8 bytes */
	memcpy(na + ND_MSG_LEN + 2, r->mac, 6);
	put16(na + 2, checksum(na, na_len, pseudo6_sum(rip + 8, rip + 24,
						       na_len)));
	r->counts.nd_replies++;
	return pad(out, ETH_HLEN + IPV6_HLEN + na_len);
}

static size_t reply_echo6(struct responder *r, const uint8_t *frame,
			  const uint8_t *ip, const uint8_t *msg,
			  size_t msg_len, uint8_t *out)
{
	uint8_t *rip = out + ETH_HLEN, *rmsg = rip + IPV6_HLEN;
	const uint8_t *to = our_ip6(r, ip + 24);

	if (msg_len < ICMP_HLEN || msg[1] != 0) {
		r->counts.malformed++;
		return 0;
	}
	if (!to || memcmp(frame, r->mac, 6) != 0) {
		r->counts.ignored++;
		return 0;
	}
	if (too_big(r, ETH_HLEN + IPV6_HLEN + msg_len))
		return 0;
	write_eth(out, frame + 6, r->mac, ETHERTYPE_IPV6);
	write_ipv6(rip, msg_len, IPV6_HOP_LIMIT, to, ip + 8);
	memcpy(rmsg, msg, msg_len);
	rmsg[0] = ICMP6_ECHO_REPLY;
	put16(rmsg + 2, 0);
	put16(rmsg + 2, checksum(rmsg, msg_len, pseudo6_sum(rip + 8, rip + 24,
							    msg_len)));
	r->counts.icmp6_echo_replies++;
	return pad(out, ETH_HLEN + IPV6_HLEN + msg_len);
}

static size_t reply_ipv6(struct responder *r, const uint8_t *frame,
			 size_t len, uint8_t *out)
{
	const uint8_t *ip = frame + ETH_HLEN, *msg = ip + IPV6_HLEN;
	size_t payload;

	if ((!r->has_ip6 && !r->has_ip6_ll) || len < ETH_HLEN + IPV6_HLEN || ip[0] >> 4 != 6) {
		r->counts.ignored++;
		return 0;
	}
	/* A fragment of a datagram to us: not reassembled here. */
	if (ip[6] == IPPROTO_FRAGMENT_ && our_ip6(r, ip + 24)) {
		r->counts.fragments++;
		return 0;
	}
	/* Next header ICMPv6 directly: extension headers are not walked. */
	if (ip[6] != IPPROTO_ICMPV6_) {
		r->counts.ignored++;
		return 0;
	}
	payload = get16(ip + 4);
	if (payload < 4 || ETH_HLEN + IPV6_HLEN + payload > len) {
		r->counts.malformed++;
		return 0;
	}
	if (msg[0] != ND_NEIGHBOR_SOLICIT && msg[0] != ICMP6_ECHO_REQUEST) {
		r->counts.ignored++;
		return 0;
	}
	if (checksum(msg, payload, pseudo6_sum(ip + 8, ip + 24, payload)) != 0) {
		r->counts.bad_checksum++;
		return 0;
	}
	if (msg[0] == ND_NEIGHBOR_SOLICIT)
		return reply_ns(r, frame, ip, msg, payload, out);
	return reply_echo6(r, frame, ip, msg, payload, out);
}

size_t responder_reply(struct responder *r, const uint8_t *frame, size_t len,
		       uint8_t *out, size_t room)
{
	/* The longest reply is as long as its request, or the padded
	 * minimum, or a neighbour advertisement (86 bytes). */
	if (len < ETH_HLEN || room < len || room < 128 || !for_us(r, frame)) {
		r->counts.ignored++;
		return 0;
	}
	switch (get16(frame + 12)) {
	case ETHERTYPE_ARP:
		return reply_arp(r, frame, len, out);
	case ETHERTYPE_IPV4:
		return reply_icmp(r, frame, len, out);
	case ETHERTYPE_IPV6:
		return reply_ipv6(r, frame, len, out);
	default:
		r->counts.ignored++;
		return 0;
	}
}
