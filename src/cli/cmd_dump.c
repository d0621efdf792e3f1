/* `safenic dump DEV -w FILE`: captures received frames to a pcap file
 * (pcap.h), like tcpdump -w.
 *
 * The file is created and its header written before the device is opened
 * (after the signal handlers are in place), so an unwritable path fails at
 * once. From then on the file is a valid
 * capture at every stop: records are buffered and written whole, the
 * buffer is flushed once a second and at the end, and a failed write (disk
 * full) cuts the file back to the last complete record and stops the
 * capture with exit status 1.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "json.h"
#include "pcap.h"
#include "report.h"
#include "session.h"

struct dump_options {
	const char *file;
	uint64_t count, duration_ns, snaplen, batch, mtu;
	bool nano, unsafe, verbose, json;
	unsigned memory;           /* enum sn_mem_kind, --memory */
};

enum dump_stop {
	DUMP_RUNNING = 0,
	DUMP_SIGNAL,
	DUMP_COUNT,
	DUMP_DURATION,
	DUMP_WRITE_FAILED,
	DUMP_DEVICE_FAILED,
};

struct dump_run {
	struct session session;
	struct sn_dev *dev;
	const char *addr;
	const struct dump_options *opt;
	struct pcap_writer pcap;
	uint64_t captured, bytes;        /* frames handed to the writer */
	uint64_t start_ns;
	struct ticker tick;
	struct sn_stats base, last;
	uint64_t last_captured, last_bytes;
};

/* ---- datapath --------------------------------------------------------- */

static uint16_t dump_burst_size(const struct dump_run *d)
{
	uint64_t left;

	if (!d->opt->count)
		return (uint16_t)d->opt->batch;
	left = d->opt->count - d->captured;
	return left < d->opt->batch ? (uint16_t)left : (uint16_t)d->opt->batch;
}

/* One burst: every frame becomes a record, all stamped with one reading
 * of the wall clock (they arrived together). */
static enum dump_stop dump_poll(struct dump_run *d, struct sn_pkt **pkts)
{
	uint16_t n = sn_rx_burst(d->dev, 0, pkts, dump_burst_size(d)), i;
	enum dump_stop stop = DUMP_RUNNING;
	struct timespec ts;

	if (n == 0)
		return DUMP_RUNNING;
	clock_gettime(CLOCK_REALTIME, &ts);
	for (i = 0; i < n && stop == DUMP_RUNNING; i++) {
		if (pcap_add(&d->pcap, pkts[i]->data, pkts[i]->len, &ts) < 0) {
			stop = DUMP_WRITE_FAILED;
			break;
		}
		d->captured++;
		d->bytes += pkts[i]->len;
	}
	sn_pkt_free_bulk(pkts, n);
	return stop;
}

/* ---- control ---------------------------------------------------------- */

/* One JSON Lines record: counters since the start; rates of the captured
 * frames over the last interval (or, when final, over the whole run). */
static void dump_json(const struct dump_run *d, const struct sn_stats *cur,
		      bool final, uint64_t frames, uint64_t bytes,
		      double seconds, double elapsed)
{
	struct json_record r;

	json_begin(&r, "dump", d->tick.seconds, final, elapsed);
	json_str(&r, "dev", d->addr);
	json_str(&r, "file", d->opt->file);
	json_u64(&r, "captured", d->captured);
	json_u64(&r, "captured_bytes", d->bytes);
	json_u64(&r, "frames", d->pcap.records);
	json_u64(&r, "bytes", d->pcap.bytes);
	json_u64(&r, "file_bytes", d->pcap.file_bytes);
	json_u64(&r, "truncated", d->pcap.truncated);
	json_u64(&r, "rx_packets", cur->rx_packets - d->base.rx_packets);
	json_u64(&r, "rx_bytes", cur->rx_bytes - d->base.rx_bytes);
	json_u64(&r, "rx_drops", cur->rx_drops - d->base.rx_drops);
	json_u64(&r, "rx_errors", cur->rx_errors - d->base.rx_errors);
	json_u64(&r, "device_errors",
		 cur->device_errors - d->base.device_errors);
	json_u64(&r, "queue_resets", cur->queue_resets - d->base.queue_resets);
	json_str(&r, "status", session_health(&d->session, cur, &d->base).status);
	json_rates(&r, "pps", "bps", frames, bytes, seconds);
	json_write(stdout, &r);
}

static enum dump_stop dump_tick(struct dump_run *d, uint64_t now)
{
	double interval = ticker_advance(&d->tick, now);
	uint64_t frames = d->captured - d->last_captured;
	uint64_t bytes = d->bytes - d->last_bytes;
	struct rate_segment seg;
	struct sn_stats cur;
	struct health health;
	char extra[96];
	int rc;

	/* Once a second the file catches up, so a reader (or a crash)
	 * sees at most a second of frames missing. */
	if (pcap_flush(&d->pcap) < 0)
		return DUMP_WRITE_FAILED;
	/* First the check, so that this second's line says what it found. */
	rc = session_check_health(&d->session, d->dev);
	sn_dev_stats(d->dev, &cur);
	health = session_health(&d->session, &cur, &d->base);
	if (d->session.json) {
		dump_json(d, &cur, false, frames, bytes, interval,
			  (double)(now - d->start_ns) / (double)NS_PER_SEC);
	} else {
		seg = (struct rate_segment){ .port = d->addr, .dir = "rx",
					     .packets = frames, .bytes = bytes };
		snprintf(extra, sizeof(extra), "written %" PRIu64 " frames",
			 d->pcap.records);
		report_rate_line(stdout, d->tick.seconds, interval, &seg, 1,
				 extra, &health);
	}
	d->last = cur;
	d->last_captured = d->captured;
	d->last_bytes = d->bytes;
	return rc < 0 ? DUMP_DEVICE_FAILED : DUMP_RUNNING;
}

static enum dump_stop dump_clock(struct dump_run *d, uint64_t now)
{
	if (session_poll_removal(&d->session, now) < 0)
		return DUMP_DEVICE_FAILED;
	if (ticker_due(&d->tick, now)) {
		enum dump_stop stop = dump_tick(d, now);

		if (stop != DUMP_RUNNING)
			return stop;
	}
	if (d->opt->duration_ns && now - d->start_ns >= d->opt->duration_ns)
		return DUMP_DURATION;
	return DUMP_RUNNING;
}

static enum dump_stop dump_loop(struct dump_run *d)
{
	struct sn_pkt *pkts[CLI_MAX_BATCH];
	enum dump_stop stop = DUMP_RUNNING;
	uint64_t polls;

	d->start_ns = clock_now_ns();
	ticker_start(&d->tick, d->start_ns);
	for (polls = 0; stop == DUMP_RUNNING; polls++) {
		stop = dump_poll(d, pkts);
		if (stop != DUMP_RUNNING)
			break;
		if (d->opt->count && d->captured >= d->opt->count)
			stop = DUMP_COUNT;
		else if (session_stop_requested())
			stop = DUMP_SIGNAL;
		else if (polls % CLI_POLLS_PER_CLOCK_READ == 0)
			stop = dump_clock(d, clock_now_ns());
	}
	return stop;
}

/* ---- results ---------------------------------------------------------- */

static const char *dump_stop_name(enum dump_stop stop)
{
	switch (stop) {
	case DUMP_SIGNAL: return "signal";
	case DUMP_COUNT: return "count";
	case DUMP_DURATION: return "duration";
	case DUMP_WRITE_FAILED: return "write-error";
	case DUMP_DEVICE_FAILED: return "device-failed";
	case DUMP_RUNNING: break;
	}
	return "unknown";
}

static void dump_report_write_error(const struct dump_run *d)
{
	session_error(&d->session, "stopping: cannot write to %s: %s; %s (the "
		      "file keeps the %" PRIu64 " frames written before: a "
		      "complete, valid pcap file)", d->opt->file,
		      strerror(-d->pcap.error), pcap_error_advice(d->pcap.error),
		      d->pcap.records);
}

static int run_dump(struct dump_run *d)
{
	struct dump_summary sum;
	enum dump_stop stop;
	struct sn_stats end;
	double seconds;

	sn_dev_stats(d->dev, &d->base);
	d->last = d->base;
	stop = dump_loop(d);
	seconds = (double)(clock_now_ns() - d->start_ns) / (double)NS_PER_SEC;
	/* The last records go out now; a failure here is a write error
	 * like any other. */
	if (pcap_close(&d->pcap) < 0 && stop != DUMP_DEVICE_FAILED)
		stop = DUMP_WRITE_FAILED;
	if (stop == DUMP_WRITE_FAILED)
		dump_report_write_error(d);
	sn_dev_stats(d->dev, &end);
	memset(&sum, 0, sizeof(sum));
	sum.dev = d->addr;
	sum.file = d->opt->file;
	sum.frames = d->pcap.records;
	sum.captured = d->captured;
	sum.bytes = d->pcap.bytes;
	sum.file_bytes = d->pcap.file_bytes;
	sum.truncated = d->pcap.truncated;
	sum.rx_drops = end.rx_drops - d->base.rx_drops;
	sum.rx_errors = end.rx_errors - d->base.rx_errors;
	sum.device_errors = end.device_errors - d->base.device_errors;
	sum.queue_resets = end.queue_resets - d->base.queue_resets;
	sum.status = session_health(&d->session, &end, &d->base).status;
	sum.seconds = seconds;
	sum.stopped = dump_stop_name(stop);
	report_dump_summary(d->session.info, &sum);
	if (d->session.json)
		dump_json(d, &end, true, d->captured, d->bytes, seconds, seconds);
	return stop == DUMP_WRITE_FAILED || stop == DUMP_DEVICE_FAILED
		       ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}

static int dump_setup(struct dump_run *d)
{
	/* Promiscuous: a capture wants every frame on the wire. */
	struct sn_dev_config cfg = { .rx_queues = 1, .tx_queues = 1,
				     .unicast_filter = false, .mtu = (uint16_t)d->opt->mtu };

	d->dev = session_open_dev(&d->session, d->addr, &cfg);
	if (!d->dev)
		return -1;
	session_report_memory(&d->session);
	return 0;
}

/* Creates the file before the device is opened, so a bad path costs
 * nothing. */
static int dump_open_file(struct dump_run *d)
{
	char msg[PCAP_MESSAGE_LEN];

	if (pcap_open(&d->pcap, d->opt->file, (uint32_t)d->opt->snaplen,
		      d->opt->nano, 0, msg) < 0) {
		fprintf(stderr, "safenic dump: cannot write %s: %s\n",
			d->opt->file, msg);
		return -1;
	}
	return 0;
}

static int dump_main(const struct dump_options *o, const char *addr)
{
	struct dump_run *d = calloc(1, sizeof(*d));
	int status = CLI_EXIT_FAILURE;

	if (!d) {
		fprintf(stderr, "safenic dump: out of memory\n");
		return status;
	}
	d->addr = addr;
	d->opt = o;
	/* A file size limit must give EFBIG, not kill the process. */
	signal(SIGXFSZ, SIG_IGN);
	d->pcap.fd = -1;
	/* The session first, for its signal handlers: from the moment the
	 * file exists, Ctrl-C must leave it complete. It opens no device. */
	if (session_start(&d->session, "dump", o->unsafe,
			  (enum sn_mem_kind)o->memory, o->verbose, o->json) == 0 && dump_open_file(d) == 0) {
		if (dump_setup(d) == 0) {
			status = run_dump(d);
		} else {
			/* Nothing captured: do not leave an empty capture
			 * that looks like a result. */
			pcap_close(&d->pcap);
			unlink(o->file);
		}
	}
	session_end(&d->session);
	pcap_close(&d->pcap);
	free(d);
	return status;
}

/* ---- command line ----------------------------------------------------- */

int cmd_dump(int argc, char **argv)
{
	struct dump_options o = { .snaplen = PCAP_MAX_SNAPLEN,
				  .batch = CLI_DEFAULT_BATCH, .mtu = SN_MTU_DEFAULT };
	const struct arg_option options[] = {
		{ "write", ARG_STRING, &o.file, 0, 0, "FILE",
		  "the pcap file to write (created or overwritten); required",
		  "none" },
		{ "count", ARG_UINT, &o.count, 0, UINT64_MAX, "N",
		  "stop after N frames; 0 = no limit", NULL },
		{ "duration", ARG_DURATION, &o.duration_ns, 0, 0, "SEC",
		  "stop after this long; 0 = until Ctrl-C", NULL },
		{ "snaplen", ARG_UINT, &o.snaplen, 1, PCAP_MAX_SNAPLEN, "N",
		  "keep at most N bytes of each frame, 1..65535", NULL },
		{ "nano", ARG_FLAG, &o.nano, 0, 0, NULL,
		  "nanosecond timestamps (default: microseconds, which every "
		  "reader takes)", NULL },
		CLI_OPTION_BATCH(o.batch),
		CLI_OPTION_MTU(o.mtu),
		CLI_OPTION_JSON(o.json),
		CLI_OPTION_UNSAFE(o.unsafe),
		CLI_OPTION_MEMORY(o.memory),
		CLI_OPTION_VERBOSE(o.verbose),
	};
	const struct arg_alias aliases[] = { { 'w', "write" } };
	const struct arg_command command = {
		.name = "dump",
		.positional = "DEV",
		.min_positional = 1,
		.max_positional = 1,
		.description =
			"Capture the frames received on the PCI device DEV "
			"(promiscuous) to a pcap file\n(classic libpcap "
			"format, Ethernet) that tcpdump, tshark and Wireshark "
			"read. Stops\nafter --count frames, --duration, or on "
			"Ctrl-C or SIGTERM, leaving a complete file.\nA write "
			"error (disk full) stops it with status 1; the file "
			"then holds every\nframe written before.",
		.options = options,
		.option_count = sizeof(options) / sizeof(options[0]),
		.aliases = aliases,
		.alias_count = sizeof(aliases) / sizeof(aliases[0]),
	};
	char addr[SESSION_DEV_LEN];
	int status;

	if (!session_parse_one_dev(&command, argc, argv, addr, &status))
		return status;
	if (!o.file)
		return args_usage_error(&command, "missing -w FILE: where to "
					"write the capture");
	return dump_main(&o, addr);
}
