/* `safenic fwd DEV_A DEV_B`: forwards frames both ways, without copying.
 *
 * Both devices receive into one pool created here, and they share the
 * context's VFIO container, so a buffer received on A is a valid transmit
 * buffer on B: forwarding hands the same buffer from one ring to the
 * other.
 *
 * When the transmitter does not take a whole burst (its ring is full, the
 * next hop is slow), the rest is held and offered again, and the direction
 * receives nothing new meanwhile: the backlog waits in the receive ring
 * and, when that fills, pushes back on the sender, instead of being lost
 * here. Frames held for --tx-wait without any progress are freed and
 * counted as drops (--tx-wait 0: drop at once, as l2fwd does).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "json.h"
#include "report.h"
#include "session.h"

#define FWD_DEFAULT_TX_WAIT_NS (250 * UINT64_C(1000000))

struct fwd_options {
	uint64_t duration_ns, batch, pool, tx_wait_ns;
	bool unsafe, verbose, json;
};

struct fwd_dir {
	struct sn_dev *from, *to;
	struct sn_pkt *held[CLI_MAX_BATCH];  /* received, not yet taken */
	uint16_t held_count;
	uint64_t progress_ns;            /* last time the transmitter took one */
	uint64_t packets;                /* taken by the transmitter */
	uint64_t drops;                  /* given up on after --tx-wait */
};

struct fwd_run {
	struct session session;
	struct sn_mempool *pool;
	const char *addr[2];
	struct sn_dev *dev[2];
	struct fwd_dir dir[2];           /* [0] A->B, [1] B->A */
	uint16_t batch;
	uint64_t tx_wait_ns;
	uint64_t start_ns;
	uint64_t now_ns;                 /* read every few polls, not per burst */
	struct ticker tick;
	struct sn_stats base[2], last[2];
};

/* ---- setup ------------------------------------------------------------ */

static int fwd_setup(struct fwd_run *f, const struct fwd_options *o)
{
	/* Promiscuous (no unicast filter): a forwarder passes everything. */
	struct sn_dev_config cfg = { .rx_queues = 1, .tx_queues = 1,
				     .unicast_filter = false };
	int i;

	/* The devices' problems first: they say more than a failed pool. */
	for (i = 0; i < 2; i++)
		if (session_check_dev(&f->session, f->addr[i]) < 0)
			return -1;
	f->pool = session_create_pool(&f->session, o->pool, 0);
	if (!f->pool)
		return -1;
	cfg.rx_pool = f->pool;
	for (i = 0; i < 2; i++) {
		f->dev[i] = session_open_dev(&f->session, f->addr[i], &cfg);
		if (!f->dev[i])
			return -1;
	}
	f->dir[0] = (struct fwd_dir){ .from = f->dev[0], .to = f->dev[1] };
	f->dir[1] = (struct fwd_dir){ .from = f->dev[1], .to = f->dev[0] };
	session_report_memory(&f->session);
	return 0;
}

/* ---- datapath --------------------------------------------------------- */

/* Offers the held frames to the transmitter; frees them as drops when it
 * has taken none for tx_wait_ns. */
static void fwd_transmit(struct fwd_dir *d, uint64_t now, uint64_t tx_wait_ns)
{
	uint16_t sent = sn_tx_burst(d->to, 0, d->held, d->held_count);

	d->packets += sent;
	d->held_count = (uint16_t)(d->held_count - sent);
	if (sent)
		d->progress_ns = now;
	if (d->held_count == 0)
		return;
	if (now - d->progress_ns >= tx_wait_ns) {
		sn_pkt_free_bulk(d->held + sent, d->held_count);
		d->drops += d->held_count;
		d->held_count = 0;
	} else if (sent) {
		memmove(d->held, d->held + sent,
			d->held_count * sizeof(d->held[0]));
	}
}

/* One burst in one direction: receive only when nothing is held. */
static void fwd_burst(struct fwd_dir *d, uint16_t batch, uint64_t now,
		      uint64_t tx_wait_ns)
{
	if (d->held_count == 0) {
		d->held_count = sn_rx_burst(d->from, 0, d->held, batch);
		if (d->held_count == 0)
			return;
		d->progress_ns = now;
	}
	fwd_transmit(d, now, tx_wait_ns);
}

/* ---- control ---------------------------------------------------------- */

static void fwd_port_segments(struct fwd_run *f, int i,
			      const struct sn_stats *cur,
			      struct rate_segment seg[2])
{
	seg[0] = (struct rate_segment){
		.port = f->addr[i], .dir = "rx",
		.packets = cur->rx_packets - f->last[i].rx_packets,
		.bytes = cur->rx_bytes - f->last[i].rx_bytes,
	};
	seg[1] = (struct rate_segment){
		.port = f->addr[i], .dir = "tx",
		.packets = cur->tx_packets - f->last[i].tx_packets,
		.bytes = cur->tx_bytes - f->last[i].tx_bytes,
	};
}

/* Per port: a_rx_packets, a_rx_bytes, ... since the start. */
static void fwd_json_port(struct json_record *r, int i,
			  const struct sn_stats *cur, const struct sn_stats *base)
{
	static const char *const keys[2][10] = {
		{ "a_rx_packets", "a_rx_bytes", "a_tx_packets", "a_tx_bytes",
		  "a_rx_drops", "a_tx_drops", "a_device_errors",
		  "a_hw_rx_packets", "a_hw_tx_packets", "a_rx_errors" },
		{ "b_rx_packets", "b_rx_bytes", "b_tx_packets", "b_tx_bytes",
		  "b_rx_drops", "b_tx_drops", "b_device_errors",
		  "b_hw_rx_packets", "b_hw_tx_packets", "b_rx_errors" },
	};
	const char *const *k = keys[i];

	json_u64(r, k[0], cur->rx_packets - base->rx_packets);
	json_u64(r, k[1], cur->rx_bytes - base->rx_bytes);
	json_u64(r, k[2], cur->tx_packets - base->tx_packets);
	json_u64(r, k[3], cur->tx_bytes - base->tx_bytes);
	json_u64(r, k[4], cur->rx_drops - base->rx_drops);
	json_u64(r, k[5], cur->tx_drops - base->tx_drops);
	json_u64(r, k[6], cur->device_errors - base->device_errors);
	json_u64(r, k[9], cur->rx_errors - base->rx_errors);
	json_u64(r, i == 0 ? "a_queue_resets" : "b_queue_resets",
		 cur->queue_resets - base->queue_resets);
	if (cur->has_hw_counters) {
		json_u64(r, k[7], cur->hw_rx_packets - base->hw_rx_packets);
		json_u64(r, k[8], cur->hw_tx_packets - base->hw_tx_packets);
	}
}

/* One JSON Lines record: counters since the start; rates over the last
 * interval (or, when final, over the whole run). */
static void fwd_json(const struct fwd_run *f, const struct sn_stats cur[2],
		     const struct sn_stats from[2], bool final, double seconds,
		     double elapsed)
{
	static const char *const rate_keys[2][4] = {
		{ "a_rx_pps", "a_rx_bps", "a_tx_pps", "a_tx_bps" },
		{ "b_rx_pps", "b_rx_bps", "b_tx_pps", "b_tx_bps" },
	};
	struct json_record r;
	int i;

	json_begin(&r, "fwd", f->tick.seconds, final, elapsed);
	json_str(&r, "a", f->addr[0]);
	json_str(&r, "b", f->addr[1]);
	json_u64(&r, "a_to_b", f->dir[0].packets);
	json_u64(&r, "b_to_a", f->dir[1].packets);
	json_u64(&r, "drops", f->dir[0].drops + f->dir[1].drops);
	json_u64(&r, "held", (uint64_t)f->dir[0].held_count +
			     f->dir[1].held_count);
	for (i = 0; i < 2; i++)
		fwd_json_port(&r, i, &cur[i], &f->base[i]);
	json_str(&r, "status", session_health(&f->session, &cur[0], &f->base[0]).status);
	for (i = 0; i < 2; i++) {
		json_rates(&r, rate_keys[i][0], rate_keys[i][1],
			   cur[i].rx_packets - from[i].rx_packets,
			   cur[i].rx_bytes - from[i].rx_bytes, seconds);
		json_rates(&r, rate_keys[i][2], rate_keys[i][3],
			   cur[i].tx_packets - from[i].tx_packets,
			   cur[i].tx_bytes - from[i].tx_bytes, seconds);
	}
	json_write(stdout, &r);
}

static int fwd_tick(struct fwd_run *f, uint64_t now)
{
	double interval = ticker_advance(&f->tick, now);
	struct rate_segment seg[4];
	struct sn_stats cur[2];
	struct health health;
	int i, rc = 0;

	/* First the checks, so that this second's line says what they found. */
	for (i = 0; i < 2 && rc == 0; i++)
		rc = session_check_health(&f->session, f->dev[i]);
	for (i = 0; i < 2; i++) {
		sn_dev_stats(f->dev[i], &cur[i]);
		fwd_port_segments(f, i, &cur[i], &seg[2 * i]);
	}
	health = session_health(&f->session, &cur[0], &f->base[0]);
	session_health_add(&health, &cur[1], &f->base[1]);
	if (f->session.json)
		fwd_json(f, cur, f->last, false, interval,
			 (double)(now - f->start_ns) / (double)NS_PER_SEC);
	else
		report_rate_line(stdout, f->tick.seconds, interval, seg, 4,
				 NULL, &health);
	for (i = 0; i < 2; i++)
		f->last[i] = cur[i];
	return rc;
}

/* Returns 0 when stopped by duration or signal; -1 when a device failed
 * its health check. */
static int fwd_loop(struct fwd_run *f, uint64_t duration_ns)
{
	uint64_t polls;

	f->start_ns = f->now_ns = clock_coarse_ns();
	ticker_start(&f->tick, f->now_ns);
	for (polls = 0; !session_stop_requested(); polls++) {
		fwd_burst(&f->dir[0], f->batch, f->now_ns, f->tx_wait_ns);
		fwd_burst(&f->dir[1], f->batch, f->now_ns, f->tx_wait_ns);
		if (polls % CLI_POLLS_PER_CLOCK_READ != 0)
			continue;
		f->now_ns = clock_coarse_ns();
		if (duration_ns && f->now_ns - f->start_ns >= duration_ns)
			break;
		if (session_poll_removal(&f->session, f->now_ns) < 0 ||
		    (ticker_due(&f->tick, f->now_ns) && fwd_tick(f, f->now_ns) < 0))
			return -1;
	}
	return 0;
}

/* Frames still held when the run stops never went out: drops too. */
static void fwd_release_held(struct fwd_run *f)
{
	int i;

	for (i = 0; i < 2; i++) {
		sn_pkt_free_bulk(f->dir[i].held, f->dir[i].held_count);
		f->dir[i].drops += f->dir[i].held_count;
		f->dir[i].held_count = 0;
	}
}

static void fwd_summarize(struct fwd_run *f, double seconds)
{
	struct fwd_summary sum;
	struct sn_stats end, ends[2];
	int i;

	memset(&sum, 0, sizeof(sum));
	sum.a = f->addr[0];
	sum.b = f->addr[1];
	sum.a_to_b = f->dir[0].packets;
	sum.b_to_a = f->dir[1].packets;
	sum.drops = f->dir[0].drops + f->dir[1].drops;
	for (i = 0; i < 2; i++) {
		sn_dev_stats(f->dev[i], &end);
		ends[i] = end;
		sum.device_errors += end.device_errors -
				     f->base[i].device_errors;
		sum.queue_resets += end.queue_resets - f->base[i].queue_resets;
		*(i == 0 ? &sum.hw_a : &sum.hw_b) = session_hw_counts(&end, &f->base[i]);
		*(i == 0 ? &sum.a_rx_starved : &sum.b_rx_starved) =
			end.rx_starved - f->base[i].rx_starved;
	}
	sum.status = session_health(&f->session, &ends[0], &f->base[0]).status;
	sum.seconds = seconds;
	report_fwd_summary(f->session.info, &sum);
	if (f->session.json)
		fwd_json(f, ends, f->base, true, seconds, seconds);
}

static int run_forwarder(struct fwd_run *f, const struct fwd_options *o)
{
	double seconds;
	int rc, i;

	f->batch = (uint16_t)o->batch;
	f->tx_wait_ns = o->tx_wait_ns;
	for (i = 0; i < 2; i++) {
		sn_dev_stats(f->dev[i], &f->base[i]);
		f->last[i] = f->base[i];
	}
	rc = fwd_loop(f, o->duration_ns);
	seconds = (double)(clock_coarse_ns() - f->start_ns) / (double)NS_PER_SEC;
	fwd_release_held(f);
	fwd_summarize(f, seconds);
	return rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

static int fwd_main(const struct fwd_options *o, const char *a, const char *b)
{
	struct fwd_run *f = calloc(1, sizeof(*f));
	int status = CLI_EXIT_FAILURE;

	if (!f) {
		fprintf(stderr, "safenic fwd: out of memory\n");
		return status;
	}
	f->addr[0] = a;
	f->addr[1] = b;
	if (session_start(&f->session, "fwd", o->unsafe, o->verbose,
			  o->json) == 0 &&
	    fwd_setup(f, o) == 0)
		status = run_forwarder(f, o);
	session_end(&f->session);
	free(f);
	return status;
}

/* ---- command line ----------------------------------------------------- */

int cmd_fwd(int argc, char **argv)
{
	struct fwd_options o = { .batch = CLI_DEFAULT_BATCH,
				 .pool = FWD_DEFAULT_POOL,
				 .tx_wait_ns = FWD_DEFAULT_TX_WAIT_NS };
	const struct arg_option options[] = {
		{ "duration", ARG_DURATION, &o.duration_ns, 0, 0, "SEC",
		  "stop after this long; 0 = until Ctrl-C", NULL },
		CLI_OPTION_BATCH(o.batch),
		{ "tx-wait", ARG_DURATION, &o.tx_wait_ns, 0, 0, "SEC",
		  "keep offering frames the transmitter did not take for this "
		  "long without progress, then drop them; 0 = drop at once",
		  NULL },
		{ "pool", ARG_UINT, &o.pool, 256, 1u << 20, "N",
		  "buffers shared by both devices, about 2 KiB each", NULL },
		{ "unsafe", ARG_FLAG, &o.unsafe, 0, 0, NULL,
		  "drive the devices without the IOMMU (DMA NOT fenced)", NULL },
		CLI_OPTION_JSON(o.json),
		CLI_OPTION_VERBOSE(o.verbose),
	};
	const struct arg_command command = {
		.name = "fwd",
		.positional = "DEV_A DEV_B",
		.min_positional = 2,
		.max_positional = 2,
		.description =
			"Forward every frame received on DEV_A out of DEV_B "
			"and back, without copying\n(one buffer pool shared "
			"by both devices). Frames the transmitter cannot take\n"
			"are held and offered again (see --tx-wait), then "
			"dropped and counted.\nStops after --duration or on "
			"Ctrl-C.",
		.options = options,
		.option_count = sizeof(options) / sizeof(options[0]),
	};
	const char *positional[ARGS_MAX_POSITIONAL];
	char a[16], b[16];
	size_t npos;
	int status;

	if (!args_parse_command(&command, argc, argv, positional, &npos,
				&status) ||
	    !session_parse_pci_addr(&command, positional[0], a, &status) ||
	    !session_parse_pci_addr(&command, positional[1], b, &status))
		return status;
	if (strcmp(a, b) == 0)
		return args_usage_error(&command, "DEV_A and DEV_B are the same "
					"device; forwarding needs two");
	return fwd_main(&o, a, b);
}
