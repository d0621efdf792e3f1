/* What `safenic respond` answers, as a pure function from a received frame
 * to the reply frame (no library dependency, so every case is unit-tested):
 *
 *   ARP request (RFC 826) for our IPv4 address      -> ARP reply
 *   ICMP echo request (RFC 792) to our IPv4 address -> ICMP echo reply
 *   neighbour solicitation (RFC 4861 4.3) for one
 *     of our IPv6 addresses                         -> neighbour advertisement
 *   ICMPv6 echo request (RFC 4443 4.1) to one of
 *     our IPv6 addresses                            -> ICMPv6 echo reply
 *
 * Our IPv6 addresses are the configured one and the link-local one (every
 * IPv6 host's first address; by default fe80:: with the EUI-64 interface
 * identifier of our MAC, RFC 4291 2.5.1 and appendix A), each answered
 * from itself.
 *
 * Everything else is ignored, and so is any frame that fails a check:
 * lengths beyond the frame, a bad IPv4 header or ICMP/ICMPv6 checksum,
 * IPv6 extension headers, an ND message whose hop limit is not 255.
 * Fragments (IPv4 with MF or an offset, IPv6 with a fragment header) are
 * not reassembled: counted, not answered. A reply longer than max_frame
 * (the MTU's frame) is not sent: counted as too_big. Replies come from
 * our MAC and address, with correct checksums; they are at least 60
 * bytes (padded).
 */
#ifndef SAFENIC_CLI_RESPONDER_H
#define SAFENIC_CLI_RESPONDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RESPOND_MIN_FRAME 60

struct responder_counts {
	uint64_t arp_replies;
	uint64_t icmp_echo_replies;
	uint64_t nd_replies;           /* advertisements sent */
	uint64_t icmp6_echo_replies;
	uint64_t bad_checksum;         /* ours, but failed a checksum */
	uint64_t malformed;            /* ours, but cut short or inconsistent */
	uint64_t fragments;            /* ours, but a fragment (not reassembled) */
	uint64_t too_big;              /* ours, but the reply would pass max_frame */
	uint64_t ignored;              /* other traffic */
};

struct responder {
	uint8_t mac[6];
	bool has_ip;
	uint32_t ip;                   /* host byte order */
	bool has_ip6;
	uint8_t ip6[16];               /* network byte order */
	bool has_ip6_ll;
	uint8_t ip6_ll[16];            /* link-local, network byte order */
	size_t max_frame;              /* longest reply frame; 0 = no limit */
	struct responder_counts counts;
};

/* The frame of a 1500-byte MTU: what respond sends at most by default
 * (--mtu sets max_frame to the MTU + 14). */
#define RESPOND_MAX_FRAME 1514

/* fe80::/64 with the modified EUI-64 interface identifier of mac. */
void responder_link_local(const uint8_t mac[6], uint8_t out[16]);

/* Whether addr is in fe80::/10. */
bool responder_is_link_local(const uint8_t addr[16]);

/* The reply to the len-byte frame, built into out (room bytes; room must
 * be at least len and at least 128). Returns the reply's length, or 0
 * when there is nothing to answer. in and out must not overlap. */
size_t responder_reply(struct responder *r, const uint8_t *frame, size_t len,
		       uint8_t *out, size_t room);

/* Total replies of all kinds. */
uint64_t responder_replies(const struct responder_counts *c);

#endif
