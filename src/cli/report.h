/* What the tool prints while it runs and when it stops: the per-second
 * rate line, the human summary, and the machine-readable SUMMARY line that
 * test scripts parse (its keys are an interface: add, never rename).
 * No library dependency, so the formats are unit-tested.
 */
#ifndef SAFENIC_CLI_REPORT_H
#define SAFENIC_CLI_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* "12.3 kpps", "6.3 Mbit/s": value scaled to k, M or G plus unit. */
void report_format_rate(double value, const char *unit, char *out, size_t len);
/* "4 KiB", "2 MiB", "1 GiB", or "1.5 MiB" when not a whole number. */
void report_format_size(uint64_t bytes, char *out, size_t len);

/* One port and direction over the last interval. Bit rates count the
 * frame bytes without FCS, preamble or inter-frame gap. */
struct rate_segment {
	const char *port;          /* PCI address */
	const char *dir;           /* "tx" or "rx" */
	uint64_t packets, bytes;   /* counter deltas over the interval */
};

/* The devices' health so far: the damage they did, and what the health
 * check said. */
struct health {
	uint64_t device_errors;    /* values a device wrote that failed checks */
	uint64_t queue_resets;     /* queues re-armed after being out of step */
	const char *status;        /* "ok", "recovered", "gone", ... (NULL: ok) */
};

/* "[  3s] 0000:00:03.0 tx 12.3 kpps 6.3 Mbit/s | ..." then, when extra
 * is not NULL, " | extra", then, when health is not NULL,
 * " | health ok, device errors 0, queue resets 0". Flushed, since stdout
 * is often a pipe or a serial console. */
void report_rate_line(FILE *out, unsigned second, double interval_s,
		      const struct rate_segment *segs, size_t count,
		      const char *extra, const struct health *health);

/* The NIC's own counters over the run, where it has them (Intel NICs):
 * printed as extra SUMMARY keys so tests can hold them against ours. */
struct hw_counts {
	bool present;
	uint64_t rx_packets, tx_packets;
};

/* Per-queue figures: SN_MAX_QUEUES (the library's limit) at most. */
#define REPORT_MAX_QUEUES 8

struct gen_summary {
	const char *dev;
	uint64_t tx_packets, tx_bytes, tx_drops, device_errors;
	double seconds;
	struct hw_counts hw;
	uint64_t queue_resets;
	const char *status;        /* the health: NULL = "ok" */
	/* Transmit queues used (0 is taken as 1), the frames each took
	 * (the tool's count), and the library's count of each queue
	 * (sn_dev_queue_stats) when has_queue_stats. */
	unsigned queues;
	uint64_t q_tx_packets[REPORT_MAX_QUEUES];
	bool has_queue_stats;
	uint64_t q_lib_tx_packets[REPORT_MAX_QUEUES];
};

/* One queue pair of a multi-queue fwd: what its worker forwarded, and
 * what the devices' queues received (sn_dev_queue_stats). */
struct fwd_queue_summary {
	uint64_t a_to_b, b_to_a;
	uint64_t a_rx_packets, b_rx_packets;
};

struct fwd_summary {
	const char *a, *b;
	uint64_t a_to_b, b_to_a, drops, device_errors;
	uint64_t a_rx_starved, b_rx_starved; /* receive rings ran dry */
	double seconds;
	struct hw_counts hw_a, hw_b;
	uint64_t queue_resets;
	const char *status;        /* the health: NULL = "ok" */
	/* --mode given: "poll", "interrupt" or "adaptive", printed with the
	 * times the forwarding threads slept, how many of those sleeps a
	 * frame's interrupt ended, and the CPU time (user + system, all
	 * threads) from the start of forwarding. NULL: none of these keys. */
	const char *mode;
	uint64_t sleeps, wakeups;
	double cpu_seconds;
	/* More than one queue pair: per-queue keys from per_queue[0..queues). */
	unsigned queues;
	const struct fwd_queue_summary *per_queue;
	/* Frames received bad or longer than --mtu allows (sn_stats.rx_errors). */
	uint64_t a_rx_errors, b_rx_errors;
};

struct recv_summary {
	const char *dev;
	bool checked;              /* false with --count-only: only counted */
	uint64_t rx_packets, rx_bytes;
	uint64_t valid, lost, duplicated, reordered, corrupted, foreign;
	uint64_t out_of_range;     /* valid, but beyond --expect */
	/* The generator's flow count (1 before any frame), frames in order
	 * in their flow but overtaken by another flow's (no fault), and
	 * frames with another flow count (another generator's). */
	uint32_t flows;
	uint64_t interleaved, mixed_flows;
	/* Receive queues polled (0 is taken as 1); per queue the frames
	 * that came on it and how many flows had frames on it; flows whose
	 * frames came on more than one queue (RSS keeps a flow on one). */
	unsigned queues;
	struct recv_queue_summary {
		uint64_t packets, flows;
		uint64_t lib_packets;  /* the library's (sn_dev_queue_stats) */
	} q[REPORT_MAX_QUEUES];
	bool has_queue_stats;      /* lib_packets filled */
	uint64_t flows_split;
	/* Frames that carried the device's RSS hash, and those of them on
	 * another queue than their hash selects (power-of-two queue counts
	 * only; see cmd_recv.c). */
	uint64_t rss_hashed, rss_misplaced;
	uint64_t rx_drops;         /* counted by the device or driver */
	uint64_t rx_errors;        /* bad, or longer than --mtu allows */
	uint64_t device_errors;
	uint64_t rx_starved;       /* the receive ring ran dry (sn_stats) */
	double seconds;
	struct hw_counts hw;
	uint64_t queue_resets;
	const char *status;        /* the health: NULL = "ok" */
};

struct dump_summary {
	const char *dev, *file;
	uint64_t frames;           /* records in the file */
	uint64_t captured;         /* frames received (> frames after a
				      write error) */
	uint64_t bytes;            /* original frame bytes of the records */
	uint64_t file_bytes;
	uint64_t truncated;        /* frames cut to --snaplen */
	uint64_t rx_drops, device_errors;
	uint64_t rx_errors;        /* bad, or longer than --mtu allows */
	double seconds;
	const char *stopped;       /* "count", "duration", "signal", ... */
	uint64_t queue_resets;
	const char *status;        /* the health: NULL = "ok" */
};

struct respond_summary {
	const char *dev;
	uint64_t rx_packets, tx_packets;
	uint64_t arp, icmp, nd, icmp6;          /* replies of each kind */
	uint64_t ignored, bad_checksum, malformed;
	uint64_t fragments;        /* requests in fragments: not reassembled */
	uint64_t too_big;          /* replies over the MTU's frame: not sent */
	uint64_t tx_drops;         /* replies the transmitter did not take */
	uint64_t rx_errors;        /* frames bad, or longer than --mtu allows */
	uint64_t device_errors;
	double seconds;
	uint64_t queue_resets;
	const char *status;        /* the health: NULL = "ok" */
};

void report_gen_summary(FILE *out, const struct gen_summary *s);
void report_dump_summary(FILE *out, const struct dump_summary *s);
void report_respond_summary(FILE *out, const struct respond_summary *s);
void report_fwd_summary(FILE *out, const struct fwd_summary *s);
void report_recv_summary(FILE *out, const struct recv_summary *s);

#endif
