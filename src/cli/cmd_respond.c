/* `safenic respond DEV --ip ADDR [--ip6 ADDR6]`: a tiny host on the wire.
 * Answers ARP requests and pings for ADDR, neighbour solicitations and
 * ICMPv6 pings for ADDR6 and for its link-local address (responder.h),
 * from the device's MAC, so that
 * ping, arping and ping -6 on a peer get replies from a NIC that safenic
 * drives behind the IOMMU.
 *
 * A reply goes out in the buffer its request came in (same pool, so the
 * transmitter takes it): it is built on the stack from the request, then
 * copied over it. Frames that need no reply are freed at once.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "json.h"
#include "report.h"
#include "responder.h"
#include "session.h"

/* Frames are at most a buffer's data room (2048 bytes by default). */
#define RESPOND_FRAME_ROOM 4096

struct respond_options {
	uint32_t ip;
	struct arg_ipv6 ip6;
	const char *ip6_ll;               /* NULL: from the MAC; "off": none */
	uint8_t ip6_ll_addr[16];
	uint64_t count, duration_ns, batch, mtu;
	bool unsafe, verbose, json;
	unsigned memory;           /* enum sn_mem_kind, --memory */
};

struct respond_run {
	struct session session;
	struct sn_dev *dev;
	const char *addr;
	const struct respond_options *opt;
	struct responder resp;
	uint64_t rx_packets, tx_packets, tx_drops;
	uint64_t start_ns;
	struct ticker tick;
	struct sn_stats base, last;
	uint8_t scratch[RESPOND_FRAME_ROOM];
	struct sn_pkt *spare[1];          /* for a transmit call sending none */
};

/* ---- datapath --------------------------------------------------------- */

/* Turns pkt into its reply in place; false when there is none. */
static bool respond_build(struct respond_run *rr, struct sn_pkt *pkt)
{
	uint32_t room = sn_mempool_data_room(pkt->pool);
	size_t len;

	if (room > sizeof(rr->scratch))
		room = sizeof(rr->scratch);
	len = responder_reply(&rr->resp, pkt->data, pkt->len, rr->scratch,
			      room);
	if (len == 0)
		return false;
	memcpy(pkt->data, rr->scratch, len);
	pkt->len = (uint16_t)len;
	return true;
}

static void respond_poll(struct respond_run *rr)
{
	struct sn_pkt *pkts[CLI_MAX_BATCH], *replies[CLI_MAX_BATCH];
	uint16_t n = sn_rx_burst(rr->dev, 0, pkts, (uint16_t)rr->opt->batch);
	uint16_t i, count = 0, sent;

	if (n == 0)
		return;
	rr->rx_packets += n;
	for (i = 0; i < n; i++) {
		if (respond_build(rr, pkts[i]))
			replies[count++] = pkts[i];
		else
			sn_pkt_free_bulk(&pkts[i], 1);
	}
	sent = count ? sn_tx_burst(rr->dev, 0, replies, count) : 0;
	rr->tx_packets += sent;
	/* A full transmit ring: the peer asks again (ping, ARP retry). */
	rr->tx_drops += (uint64_t)(count - sent);
	sn_pkt_free_bulk(replies + sent, (uint32_t)(count - sent));
}

/* ---- control ---------------------------------------------------------- */

static void respond_json(const struct respond_run *rr,
			 const struct sn_stats *cur, const struct sn_stats *from,
			 bool final, double seconds, double elapsed)
{
	const struct responder_counts *c = &rr->resp.counts;
	struct json_record r;

	json_begin(&r, "respond", rr->tick.seconds, final, elapsed);
	json_str(&r, "dev", rr->addr);
	json_u64(&r, "rx_packets", rr->rx_packets);
	json_u64(&r, "tx_packets", rr->tx_packets);
	json_u64(&r, "arp", c->arp_replies);
	json_u64(&r, "icmp", c->icmp_echo_replies);
	json_u64(&r, "nd", c->nd_replies);
	json_u64(&r, "icmp6", c->icmp6_echo_replies);
	json_u64(&r, "ignored", c->ignored);
	json_u64(&r, "fragments", c->fragments);
	json_u64(&r, "too_big", c->too_big);
	json_u64(&r, "bad_checksum", c->bad_checksum);
	json_u64(&r, "malformed", c->malformed);
	json_u64(&r, "tx_drops", rr->tx_drops);
	json_u64(&r, "rx_drops", cur->rx_drops - rr->base.rx_drops);
	json_u64(&r, "rx_errors", cur->rx_errors - rr->base.rx_errors);
	json_u64(&r, "device_errors",
		 cur->device_errors - rr->base.device_errors);
	json_u64(&r, "queue_resets", cur->queue_resets - rr->base.queue_resets);
	json_str(&r, "status", session_health(&rr->session, cur, &rr->base).status);
	json_rates(&r, "rx_pps", "rx_bps", cur->rx_packets - from->rx_packets,
		   cur->rx_bytes - from->rx_bytes, seconds);
	json_rates(&r, "tx_pps", "tx_bps", cur->tx_packets - from->tx_packets,
		   cur->tx_bytes - from->tx_bytes, seconds);
	json_write(stdout, &r);
}

static int respond_tick(struct respond_run *rr, uint64_t now)
{
	double interval = ticker_advance(&rr->tick, now);
	const struct responder_counts *c = &rr->resp.counts;
	struct rate_segment seg[2];
	struct sn_stats cur;
	struct health health;
	char extra[160];
	/* First the check, so that this second's line says what it found. */
	int rc = session_check_health(&rr->session, rr->dev);

	sn_dev_stats(rr->dev, &cur);
	health = session_health(&rr->session, &cur, &rr->base);
	if (rr->session.json) {
		respond_json(rr, &cur, &rr->last, false, interval,
			     (double)(now - rr->start_ns) / (double)NS_PER_SEC);
	} else {
		seg[0] = (struct rate_segment){
			.port = rr->addr, .dir = "rx",
			.packets = cur.rx_packets - rr->last.rx_packets,
			.bytes = cur.rx_bytes - rr->last.rx_bytes };
		seg[1] = (struct rate_segment){
			.port = rr->addr, .dir = "tx",
			.packets = cur.tx_packets - rr->last.tx_packets,
			.bytes = cur.tx_bytes - rr->last.tx_bytes };
		snprintf(extra, sizeof(extra), "arp %" PRIu64 " icmp %" PRIu64
			 " nd %" PRIu64 " icmp6 %" PRIu64, c->arp_replies,
			 c->icmp_echo_replies, c->nd_replies,
			 c->icmp6_echo_replies);
		report_rate_line(stdout, rr->tick.seconds, interval, seg, 2,
				 extra, &health);
	}
	rr->last = cur;
	return rc;
}

/* 0 when stopped by count, duration or signal; -1 when the device
 * failed. */
static int respond_loop(struct respond_run *rr)
{
	uint64_t polls, now;

	rr->start_ns = clock_now_ns();
	ticker_start(&rr->tick, rr->start_ns);
	for (polls = 0; !session_stop_requested(); polls++) {
		respond_poll(rr);
		if (rr->opt->count &&
		    responder_replies(&rr->resp.counts) >= rr->opt->count)
			break;
		if (polls % CLI_POLLS_PER_CLOCK_READ != 0)
			continue;
		now = clock_now_ns();
		if (session_poll_removal(&rr->session, now) < 0 ||
		    (ticker_due(&rr->tick, now) && respond_tick(rr, now) < 0))
			return -1;
		if (rr->opt->duration_ns &&
		    now - rr->start_ns >= rr->opt->duration_ns)
			break;
	}
	return 0;
}

static void respond_summarize(struct respond_run *rr, double seconds)
{
	const struct responder_counts *c = &rr->resp.counts;
	struct respond_summary sum;
	struct sn_stats end;

	sn_dev_stats(rr->dev, &end);
	memset(&sum, 0, sizeof(sum));
	sum.dev = rr->addr;
	sum.rx_packets = rr->rx_packets;
	sum.tx_packets = rr->tx_packets;
	sum.arp = c->arp_replies;
	sum.icmp = c->icmp_echo_replies;
	sum.nd = c->nd_replies;
	sum.icmp6 = c->icmp6_echo_replies;
	sum.ignored = c->ignored;
	sum.fragments = c->fragments;
	sum.too_big = c->too_big;
	sum.bad_checksum = c->bad_checksum;
	sum.malformed = c->malformed;
	sum.tx_drops = rr->tx_drops;
	sum.device_errors = end.device_errors - rr->base.device_errors;
	sum.rx_errors = end.rx_errors - rr->base.rx_errors;
	sum.queue_resets = end.queue_resets - rr->base.queue_resets;
	sum.status = session_health(&rr->session, &end, &rr->base).status;
	sum.seconds = seconds;
	report_respond_summary(rr->session.info, &sum);
	if (rr->session.json)
		respond_json(rr, &end, &rr->base, true, seconds, seconds);
}

static void respond_announce(const struct respond_run *rr)
{
	char mac[ARG_MAC_TEXT_LEN], ip[ARG_IPV4_TEXT_LEN];
	char ip6[ARG_IPV6_TEXT_LEN];
	FILE *out = rr->session.info;

	arg_format_mac(rr->resp.mac, mac);
	fprintf(out, "respond: answering as %s", mac);
	if (rr->resp.has_ip) {
		arg_format_ipv4(rr->resp.ip, ip);
		fprintf(out, ", ARP and ping for %s", ip);
	}
	if (rr->resp.has_ip6 || rr->resp.has_ip6_ll) {
		fputs(", neighbour discovery and ping -6 for", out);
		if (rr->resp.has_ip6) {
			arg_format_ipv6(rr->resp.ip6, ip6);
			fprintf(out, " %s", ip6);
		}
		if (rr->resp.has_ip6_ll) {
			arg_format_ipv6(rr->resp.ip6_ll, ip6);
			fprintf(out, "%s %s (link-local)", rr->resp.has_ip6 ? " and" : "", ip6);
		}
	}
	fputc('\n', out);
	fflush(out);
}

static int run_responder(struct respond_run *rr)
{
	double seconds;
	int rc;

	sn_dev_stats(rr->dev, &rr->base);
	rr->last = rr->base;
	respond_announce(rr);
	rc = respond_loop(rr);
	seconds = (double)(clock_now_ns() - rr->start_ns) / (double)NS_PER_SEC;
	/* Let the last replies leave before the device is closed. */
	session_sleep_ns(NS_PER_SEC / 100);
	sn_tx_burst(rr->dev, 0, rr->spare, 0);
	respond_summarize(rr, seconds);
	return rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

static int respond_setup(struct respond_run *rr)
{
	/* Promiscuous: solicitations come to a multicast group, and the
	 * unicast filter passes only our MAC and broadcast. */
	struct sn_dev_config cfg = { .rx_queues = 1, .tx_queues = 1,
				     .unicast_filter = false, .mtu = (uint16_t)rr->opt->mtu };

	rr->dev = session_open_dev(&rr->session, rr->addr, &cfg);
	if (!rr->dev)
		return -1;
	sn_dev_mac(rr->dev, rr->resp.mac);
	if (!rr->opt->ip6_ll) {
		rr->resp.has_ip6_ll = true;
		responder_link_local(rr->resp.mac, rr->resp.ip6_ll);
	}
	session_report_memory(&rr->session);
	return 0;
}

static int respond_main(const struct respond_options *o, const char *addr)
{
	struct respond_run *rr = calloc(1, sizeof(*rr));
	int status = CLI_EXIT_FAILURE;

	if (!rr) {
		fprintf(stderr, "safenic respond: out of memory\n");
		return status;
	}
	rr->addr = addr;
	rr->opt = o;
	rr->resp.has_ip = o->ip != 0;
	rr->resp.ip = o->ip;
	rr->resp.has_ip6 = o->ip6.given;
	memcpy(rr->resp.ip6, o->ip6.addr, 16);
	if (o->ip6_ll && strcmp(o->ip6_ll, "off") != 0) {
		rr->resp.has_ip6_ll = true;
		memcpy(rr->resp.ip6_ll, o->ip6_ll_addr, 16);
	}
	rr->resp.max_frame = o->mtu + 14; /* the longest frame the MTU allows */
	if (session_start(&rr->session, "respond", o->unsafe,
			  (enum sn_mem_kind)o->memory, o->verbose, o->json) == 0 &&
	    respond_setup(rr) == 0)
		status = run_responder(rr);
	session_end(&rr->session);
	free(rr);
	return status;
}

/* ---- command line ----------------------------------------------------- */

int cmd_respond(int argc, char **argv)
{
	struct respond_options o = { .batch = CLI_DEFAULT_BATCH, .mtu = SN_MTU_DEFAULT };
	const struct arg_option options[] = {
		{ "ip", ARG_IPV4, &o.ip, 0, 0, "ADDR",
		  "answer ARP requests and ICMP echo requests for this IPv4 "
		  "address", "none" },
		{ "ip6", ARG_IPV6, &o.ip6, 0, 0, "ADDR6",
		  "answer neighbour solicitations and ICMPv6 echo requests for "
		  "this IPv6 address", "none" },
		{ "ip6-ll", ARG_STRING, &o.ip6_ll, 0, 0, "ADDR6|off",
		  "the link-local IPv6 address to answer for as well (fe80::/10), "
		  "or off", "fe80:: + EUI-64 of the MAC" },
		{ "count", ARG_UINT, &o.count, 0, UINT64_MAX, "N",
		  "stop after N replies; 0 = no limit", NULL },
		{ "duration", ARG_DURATION, &o.duration_ns, 0, 0, "SEC",
		  "stop after this long; 0 = until Ctrl-C", NULL },
		CLI_OPTION_BATCH(o.batch),
		CLI_OPTION_MTU(o.mtu),
		CLI_OPTION_JSON(o.json),
		CLI_OPTION_UNSAFE(o.unsafe),
		CLI_OPTION_MEMORY(o.memory),
		CLI_OPTION_VERBOSE(o.verbose),
	};
	const struct arg_command command = {
		.name = "respond",
		.positional = "DEV",
		.min_positional = 1,
		.max_positional = 1,
		.description =
			"Answer ARP and ping (ICMP echo) for --ip, and IPv6 "
			"neighbour solicitations and\nping -6 (ICMPv6 echo) "
			"for --ip6, on the PCI device DEV, from its MAC: a\n"
			"peer's ping, arping and ping -6 then get replies. "
			"Give --ip, --ip6 or both.\nWith either, the "
			"link-local address (--ip6-ll) is answered too, as "
			"every IPv6 host's is.\nFragmented requests (ping -s "
			"1473 or ping -6 -s 1453 over a 1500-byte MTU) are\n"
			"not reassembled: they are counted as fragments and "
			"get no reply. No reply is\nlonger than --mtu + 14 "
			"bytes (1514 by default; counted as too_big).\nStops "
			"after --count replies, --duration, or on Ctrl-C.",
		.options = options,
		.option_count = sizeof(options) / sizeof(options[0]),
	};
	char addr[SESSION_DEV_LEN];
	int status;

	if (!session_parse_one_dev(&command, argc, argv, addr, &status))
		return status;
	if (o.ip == 0 && !o.ip6.given)
		return args_usage_error(&command, "give the address to answer "
					"for: --ip ADDR, --ip6 ADDR6, or both");
	if (o.ip6_ll && strcmp(o.ip6_ll, "off") != 0) {
		struct arg_error err;
		if (arg_parse_ipv6(o.ip6_ll, o.ip6_ll_addr, &err) < 0)
			return args_usage_error(&command, err.msg);
		if (!responder_is_link_local(o.ip6_ll_addr))
			return args_usage_error(&command, "--ip6-ll must be a link-local "
						"address (fe80::/10), or off");
	}
	return respond_main(&o, addr);
}
