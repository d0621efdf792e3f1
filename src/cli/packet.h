/* The safenic test frame: built by `safenic gen`, checked by `safenic recv`
 * and by the host-side python peer, so its layout is fixed here exactly.
 *
 *   Ethernet II   dst MAC, src MAC, ethertype 0x0800
 *   IPv4          20 bytes: version 4, IHL 5, TOS 0, total length,
 *                 id = seq & 0xffff, flags/fragment 0, TTL 64, protocol 17,
 *                 header checksum, src IP, dst IP
 *   UDP           src port, dst port, length, checksum over the IPv4
 *                 pseudo-header and the datagram (a computed 0 is sent as
 *                 0xffff, so 0 never appears)
 *   payload       0-1 magic 0x5AFE, 2-3 flows - 1, 4-9 sequence number
 *                 (48 bits), 10-17 transmit time in ns (CLOCK_MONOTONIC),
 *                 all big-endian; then each byte at payload offset
 *                 k >= 18 equals k & 0xff.
 *
 * Flows: a generator spreading its frames over F flows (so that a NIC's
 * RSS hash spreads them over its receive queues) sends frame number n in
 * flow n % F, whose source IPv4 address and UDP source port are the
 * first flow's plus n % F; n / F is then the frame's number inside its
 * flow. The frame carries F and n, so a receiver needs no option to tell
 * the flows apart and judges order inside each flow only. A one-flow
 * frame (F = 1) is the frame of earlier versions, whose bytes 2-9 were a
 * 64-bit sequence number: the same bytes as long as it stays below 2^48.
 *
 * Frame lengths exclude the FCS; the shortest frame is 60 bytes (18 bytes
 * of payload). Plain functions over byte buffers, no library dependency.
 */
#ifndef SAFENIC_CLI_PACKET_H
#define SAFENIC_CLI_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PKT_MIN_FRAME 60
/* The most a default pool buffer holds (2048 bytes of room): --mtu 2034. */
#define PKT_MAX_FRAME 2048
#define PKT_MAGIC 0x5AFEu

/* Byte offsets inside a frame (IPv4 without options). */
#define PKT_OFF_ETHERTYPE 12
#define PKT_OFF_IP 14
#define PKT_OFF_UDP 34
#define PKT_OFF_PAYLOAD 42
#define PKT_OFF_MAGIC 42
#define PKT_OFF_FLOWS 44    /* flows - 1, 16 bits */
#define PKT_OFF_SEQ 44      /* 64-bit word: flows - 1, then the 48-bit seq */
#define PKT_OFF_TIMESTAMP 52
#define PKT_STAMP_LEN 18   /* magic, flows, sequence number, timestamp */
#define PKT_SEQ_BITS 48
#define PKT_SEQ_MASK ((UINT64_C(1) << PKT_SEQ_BITS) - 1)
#define PKT_MAX_FLOWS 65536u

struct pkt_flow {
	uint8_t dst_mac[6];
	uint8_t src_mac[6];
	uint32_t src_ip, dst_ip;   /* host byte order; src_ip of flow 0 */
	uint16_t src_port, dst_port;   /* src_port of flow 0 */
	uint16_t frame_len;        /* PKT_MIN_FRAME..PKT_MAX_FRAME */
	/* 0 or 1: one flow; else up to PKT_MAX_FLOWS, with src_port +
	 * flows - 1 <= 65535 (the source address may wrap). */
	uint32_t flows;
};

/* A frame with everything but the per-packet fields written, plus the
 * ones-complement sums of its constant parts, so that stamping a packet
 * adds a few words instead of summing the whole datagram again. */
struct pkt_template {
	uint8_t frame[PKT_MAX_FRAME];
	uint16_t frame_len;
	uint16_t ip_sum;           /* IPv4 header with id, checksum and
				      source address 0 */
	uint16_t udp_sum;          /* pseudo-header and datagram with source
				      address and port, flows, seq, timestamp
				      and checksum 0 */
	uint32_t src_ip;           /* of flow 0 */
	uint16_t src_port;
	uint32_t flows;            /* >= 1 */
};

/* Returns 0, or -EINVAL when flow->frame_len or flow->flows is out of
 * range. */
int pkt_template_init(struct pkt_template *tmpl, const struct pkt_flow *flow);

/* Writes the whole constant frame; done once per buffer, since buffers
 * come back from the transmitter unchanged. */
void pkt_write_template(const struct pkt_template *tmpl, uint8_t *frame);

/* Writes the per-packet fields (sequence number, timestamp, IP id and both
 * checksums, and with several flows the source address and port of flow
 * seq % flows) into a frame that holds the template. seq is taken modulo
 * 2^48. */
void pkt_stamp(const struct pkt_template *tmpl, uint8_t *frame, uint64_t seq,
	       uint64_t timestamp_ns);

enum pkt_verdict {
	PKT_VALID,
	PKT_CORRUPTED,   /* a generator frame that fails a check */
	PKT_FOREIGN,     /* not IPv4/UDP with the magic: other traffic */
};

struct pkt_stamp_info {
	uint64_t seq;              /* 48 bits: the frame's number n */
	uint64_t timestamp_ns;
	uint32_t flows;            /* F >= 1 */
	uint32_t flow;             /* n % F */
};

/* Classifies a received frame of len bytes (frames may be padded beyond
 * the IPv4 total length). Fills info for valid and corrupted frames. */
enum pkt_verdict pkt_check(const uint8_t *frame, size_t len,
			   struct pkt_stamp_info *info);

/* Which frame numbers a sender's transmit queue sends: flow f goes out of
 * queue f % queues, so that the frames of a flow leave in order, and the
 * queue sends its flows in turn, round after round (frame round * flows
 * + f). With one queue the numbers simply count up; over all queues every
 * number is sent once. */
struct pkt_flow_cursor {
	uint32_t flows, queues;
	uint32_t first_flow;       /* the queue's number */
	uint32_t flow_count;       /* flows it sends */
	uint32_t cursor;           /* its next flow: first + cursor * queues */
	uint64_t round;
};

/* flows >= queues >= 1, queue < queues. */
void pkt_cursor_init(struct pkt_flow_cursor *c, uint32_t flows,
		     uint32_t queues, uint32_t queue);
/* The queue's next frame number; false once it is >= count (count 0:
 * never). */
bool pkt_cursor_peek(const struct pkt_flow_cursor *c, uint64_t count,
		     uint64_t *seq);
void pkt_cursor_advance(struct pkt_flow_cursor *c);

/* RFC 1071 ones-complement sum of len bytes added to sum, not folded. */
uint32_t pkt_sum_bytes(const uint8_t *data, size_t len, uint32_t sum);
/* Folds a sum to 16 bits (end-around carry). */
uint16_t pkt_sum_fold(uint32_t sum);

#endif
