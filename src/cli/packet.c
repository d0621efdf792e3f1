/* Building and checking the safenic test frame (layout in packet.h). */
#include "packet.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define ETHERTYPE_IPV4 0x0800u
#define IP_VERSION_IHL 0x45u      /* version 4, 5 words of header */
#define IP_TTL 64u
#define IP_PROTO_UDP 17u
#define IP_HEADER_LEN 20u
#define UDP_HEADER_LEN 8u

/* Offsets inside the IPv4 header (RFC 791, section 3.1). */
#define IP_OFF_TOTAL_LEN 2
#define IP_OFF_ID 4
#define IP_OFF_TTL 8
#define IP_OFF_PROTOCOL 9
#define IP_OFF_CHECKSUM 10
#define IP_OFF_SRC 12
#define IP_OFF_DST 16

/* Offsets inside the UDP header (RFC 768). */
#define UDP_OFF_SRC_PORT 0
#define UDP_OFF_DST_PORT 2
#define UDP_OFF_LEN 4
#define UDP_OFF_CHECKSUM 6

/* ---- byte order ------------------------------------------------------- */

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, (uint16_t)(v >> 16));
	put_be16(p + 2, (uint16_t)v);
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* ---- checksums -------------------------------------------------------- */

uint32_t pkt_sum_bytes(const uint8_t *data, size_t len, uint32_t sum)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)data[i] << 8 | data[i + 1];
	/* An odd last byte is summed as if followed by a zero byte. */
	if (len & 1)
		sum += (uint32_t)data[len - 1] << 8;
	return sum;
}

uint16_t pkt_sum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The four 16-bit words of a big-endian u64, added to sum. */
static uint32_t sum_u64(uint64_t v, uint32_t sum)
{
	return sum + (uint32_t)(v >> 48) + (uint32_t)(v >> 32 & 0xffff) +
	       (uint32_t)(v >> 16 & 0xffff) + (uint32_t)(v & 0xffff);
}

static uint32_t sum_u32(uint32_t v, uint32_t sum)
{
	return sum + (v >> 16) + (v & 0xffff);
}

/* The UDP pseudo-header: source and destination address, protocol, UDP
 * length (RFC 768). ip points at the IPv4 header holding the addresses. */
static uint32_t pseudo_header_sum(const uint8_t *ip, uint16_t udp_len)
{
	return pkt_sum_bytes(ip + IP_OFF_SRC, 8, 0) + IP_PROTO_UDP + udp_len;
}

/* ---- building --------------------------------------------------------- */

static void write_ethernet(uint8_t *frame, const struct pkt_flow *flow)
{
	memcpy(frame, flow->dst_mac, 6);
	memcpy(frame + 6, flow->src_mac, 6);
	put_be16(frame + PKT_OFF_ETHERTYPE, ETHERTYPE_IPV4);
}

/* Id and checksum stay 0 here: they change per packet. */
static void write_ipv4(uint8_t *ip, const struct pkt_flow *flow,
		       uint16_t total_len)
{
	memset(ip, 0, IP_HEADER_LEN);
	ip[0] = IP_VERSION_IHL;
	put_be16(ip + IP_OFF_TOTAL_LEN, total_len);
	ip[IP_OFF_TTL] = IP_TTL;
	ip[IP_OFF_PROTOCOL] = IP_PROTO_UDP;
	put_be32(ip + IP_OFF_SRC, flow->src_ip);
	put_be32(ip + IP_OFF_DST, flow->dst_ip);
}

static void write_udp(uint8_t *udp, const struct pkt_flow *flow,
		      uint16_t udp_len)
{
	put_be16(udp + UDP_OFF_SRC_PORT, flow->src_port);
	put_be16(udp + UDP_OFF_DST_PORT, flow->dst_port);
	put_be16(udp + UDP_OFF_LEN, udp_len);
	put_be16(udp + UDP_OFF_CHECKSUM, 0);
}

/* Magic, then zeroed sequence number and timestamp, then the pattern. */
static void write_payload(uint8_t *payload, size_t len)
{
	size_t k;

	put_be16(payload, PKT_MAGIC);
	memset(payload + 2, 0, PKT_STAMP_LEN - 2);
	for (k = PKT_STAMP_LEN; k < len; k++)
		payload[k] = (uint8_t)(k & 0xff);
}

int pkt_template_init(struct pkt_template *tmpl, const struct pkt_flow *flow)
{
	uint8_t *ip = tmpl->frame + PKT_OFF_IP, *udp = tmpl->frame + PKT_OFF_UDP;
	uint16_t ip_len, udp_len;

	uint32_t flows = flow->flows ? flow->flows : 1;

	if (flow->frame_len < PKT_MIN_FRAME || flow->frame_len > PKT_MAX_FRAME ||
	    flows > PKT_MAX_FLOWS || flow->src_port + (flows - 1) > 0xffff)
		return -EINVAL;
	memset(tmpl, 0, sizeof(*tmpl));
	tmpl->frame_len = flow->frame_len;
	tmpl->src_ip = flow->src_ip;
	tmpl->src_port = flow->src_port;
	tmpl->flows = flows;
	ip_len = (uint16_t)(flow->frame_len - PKT_OFF_IP);
	udp_len = (uint16_t)(ip_len - IP_HEADER_LEN);
	write_ethernet(tmpl->frame, flow);
	write_ipv4(ip, flow, ip_len);
	write_udp(udp, flow, udp_len);
	write_payload(tmpl->frame + PKT_OFF_PAYLOAD, udp_len - UDP_HEADER_LEN);
	/* The sums leave out what pkt_stamp writes: the source address and
	 * port change with the flow. The frame keeps flow 0's. */
	put_be32(ip + IP_OFF_SRC, 0);
	put_be16(udp + UDP_OFF_SRC_PORT, 0);
	tmpl->ip_sum = pkt_sum_fold(pkt_sum_bytes(ip, IP_HEADER_LEN, 0));
	tmpl->udp_sum = pkt_sum_fold(pkt_sum_bytes(udp, udp_len,
					pseudo_header_sum(ip, udp_len)));
	put_be32(ip + IP_OFF_SRC, flow->src_ip);
	put_be16(udp + UDP_OFF_SRC_PORT, flow->src_port);
	return 0;
}

void pkt_write_template(const struct pkt_template *tmpl, uint8_t *frame)
{
	memcpy(frame, tmpl->frame, tmpl->frame_len);
}

void pkt_stamp(const struct pkt_template *tmpl, uint8_t *frame, uint64_t seq,
	       uint64_t timestamp_ns)
{
	uint32_t flow = tmpl->flows > 1 ? (uint32_t)(seq % tmpl->flows) : 0;
	uint32_t src_ip = tmpl->src_ip + flow;
	uint16_t src_port = (uint16_t)(tmpl->src_port + flow);
	uint64_t word = (uint64_t)(tmpl->flows - 1) << PKT_SEQ_BITS |
			(seq & PKT_SEQ_MASK);
	uint16_t id = (uint16_t)(seq & 0xffff);
	uint16_t udp_check;

	/* With one flow the template already holds these; a buffer reused
	 * by another flow does not. */
	if (tmpl->flows > 1) {
		put_be32(frame + PKT_OFF_IP + IP_OFF_SRC, src_ip);
		put_be16(frame + PKT_OFF_UDP + UDP_OFF_SRC_PORT, src_port);
	}
	put_be16(frame + PKT_OFF_IP + IP_OFF_ID, id);
	put_be16(frame + PKT_OFF_IP + IP_OFF_CHECKSUM,
		 (uint16_t)~pkt_sum_fold(sum_u32(src_ip,
					(uint32_t)tmpl->ip_sum + id)));
	put_be64(frame + PKT_OFF_SEQ, word);
	put_be64(frame + PKT_OFF_TIMESTAMP, timestamp_ns);
	/* The only words of the datagram and pseudo-header that differ from
	 * the template's sum are the source address and port, the flows and
	 * sequence word and the timestamp (all at even offsets, so they add
	 * as whole words). */
	udp_check = (uint16_t)~pkt_sum_fold(sum_u64(timestamp_ns,
				sum_u64(word, sum_u32(src_ip,
					(uint32_t)tmpl->udp_sum + src_port))));
	/* Over IPv4 a UDP checksum of 0 means "not computed" (RFC 768). */
	if (udp_check == 0)
		udp_check = 0xffff;
	put_be16(frame + PKT_OFF_UDP + UDP_OFF_CHECKSUM, udp_check);
}

/* ---- flows over transmit queues -------------------------------------- */

void pkt_cursor_init(struct pkt_flow_cursor *c, uint32_t flows,
		     uint32_t queues, uint32_t queue)
{
	memset(c, 0, sizeof(*c));
	c->flows = flows;
	c->queues = queues;
	c->first_flow = queue;
	/* Flows queue, queue + queues, ... below flows. */
	c->flow_count = (flows - queue + queues - 1) / queues;
}

bool pkt_cursor_peek(const struct pkt_flow_cursor *c, uint64_t count,
		     uint64_t *seq)
{
	*seq = c->round * c->flows + c->first_flow +
	       (uint64_t)c->cursor * c->queues;
	return c->flow_count > 0 && (!count || *seq < count);
}

void pkt_cursor_advance(struct pkt_flow_cursor *c)
{
	if (++c->cursor >= c->flow_count) {
		c->cursor = 0;
		c->round++;
	}
}

/* ---- checking --------------------------------------------------------- */

/* What makes a frame ours: IPv4, UDP, and the magic where it belongs.
 * Everything else about it is checked afterwards and makes it corrupted. */
static bool is_generator_frame(const uint8_t *frame, size_t len)
{
	return len >= PKT_OFF_MAGIC + 2 &&
	       get_be16(frame + PKT_OFF_ETHERTYPE) == ETHERTYPE_IPV4 &&
	       frame[PKT_OFF_IP] >> 4 == 4 &&
	       frame[PKT_OFF_IP + IP_OFF_PROTOCOL] == IP_PROTO_UDP &&
	       get_be16(frame + PKT_OFF_MAGIC) == PKT_MAGIC;
}

static bool ipv4_header_ok(const uint8_t *frame, size_t len, uint64_t seq)
{
	const uint8_t *ip = frame + PKT_OFF_IP;
	uint16_t total = get_be16(ip + IP_OFF_TOTAL_LEN);

	return ip[0] == IP_VERSION_IHL &&
	       total >= IP_HEADER_LEN + UDP_HEADER_LEN + PKT_STAMP_LEN &&
	       PKT_OFF_IP + (size_t)total <= len &&
	       get_be16(ip + IP_OFF_ID) == (seq & 0xffff) &&
	       pkt_sum_fold(pkt_sum_bytes(ip, IP_HEADER_LEN, 0)) == 0xffff;
}

/* Call after ipv4_header_ok: the IPv4 total length fits the frame. */
static bool udp_datagram_ok(const uint8_t *frame)
{
	const uint8_t *ip = frame + PKT_OFF_IP, *udp = frame + PKT_OFF_UDP;
	uint16_t udp_len = (uint16_t)(get_be16(ip + IP_OFF_TOTAL_LEN) -
				      IP_HEADER_LEN);
	uint32_t sum;

	if (get_be16(udp + UDP_OFF_LEN) != udp_len ||
	    get_be16(udp + UDP_OFF_CHECKSUM) == 0)
		return false;
	sum = pkt_sum_bytes(udp, udp_len, pseudo_header_sum(ip, udp_len));
	return pkt_sum_fold(sum) == 0xffff;
}

static bool pattern_ok(const uint8_t *payload, size_t len)
{
	size_t k;

	for (k = PKT_STAMP_LEN; k < len; k++)
		if (payload[k] != (uint8_t)(k & 0xff))
			return false;
	return true;
}

static bool frame_intact(const uint8_t *frame, size_t len, uint64_t seq)
{
	size_t payload_len;

	if (!ipv4_header_ok(frame, len, seq) || !udp_datagram_ok(frame))
		return false;
	payload_len = get_be16(frame + PKT_OFF_UDP + UDP_OFF_LEN) -
		      UDP_HEADER_LEN;
	return pattern_ok(frame + PKT_OFF_PAYLOAD, payload_len);
}

enum pkt_verdict pkt_check(const uint8_t *frame, size_t len,
			   struct pkt_stamp_info *info)
{
	if (!is_generator_frame(frame, len))
		return PKT_FOREIGN;
	if (len < PKT_MIN_FRAME) {
		/* Ours but cut short: the stamp itself is incomplete. */
		info->seq = 0;
		info->timestamp_ns = 0;
		info->flows = 1;
		info->flow = 0;
		return PKT_CORRUPTED;
	}
	info->seq = get_be64(frame + PKT_OFF_SEQ) & PKT_SEQ_MASK;
	info->flows = (uint32_t)get_be16(frame + PKT_OFF_FLOWS) + 1;
	info->flow = (uint32_t)(info->seq % info->flows);
	info->timestamp_ns = get_be64(frame + PKT_OFF_TIMESTAMP);
	return frame_intact(frame, len, info->seq) ? PKT_VALID : PKT_CORRUPTED;
}
