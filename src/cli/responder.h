/* What `safenic respond` answers, as a pure function from a received frame
 * to the reply frame (no library dependency, so every case is unit-tested):
 *
 *   ARP request (RFC 826) for our IPv4 address      -> ARP reply
 *   ICMP echo request (RFC 792) to our IPv4 address -> ICMP echo reply
 *   neighbour solicitation (RFC 4861 4.3) for our
 *     IPv6 address                                  -> neighbour advertisement
 *   ICMPv6 echo request (RFC 4443 4.1) to our IPv6  -> ICMPv6 echo reply
 *
 * Everything else is ignored, and so is any frame that fails a check:
 * lengths beyond the frame, a bad IPv4 header or ICMP/ICMPv6 checksum, an
 * IPv4 fragment, IPv6 extension headers, an ND message whose hop limit is
 * not 255. Replies come from our MAC and address, with correct checksums;
 * they are at least 60 bytes (padded).
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
	uint64_t ignored;              /* other traffic */
};

struct responder {
	uint8_t mac[6];
	bool has_ip;
	uint32_t ip;                   /* host byte order */
	bool has_ip6;
	uint8_t ip6[16];               /* network byte order */
	struct responder_counts counts;
};

/* The reply to the len-byte frame, built into out (room bytes; room must
 * be at least len and at least 128). Returns the reply's length, or 0
 * when there is nothing to answer. in and out must not overlap. */
size_t responder_reply(struct responder *r, const uint8_t *frame, size_t len,
		       uint8_t *out, size_t room);

/* Total replies of all kinds. */
uint64_t responder_replies(const struct responder_counts *c);

#endif
