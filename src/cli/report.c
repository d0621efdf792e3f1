/* Rate lines and summaries (formats described in report.h). */
#include "report.h"

#include <inttypes.h>

#define KIB UINT64_C(1024)
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)

void report_format_rate(double value, const char *unit, char *out, size_t len)
{
	static const char prefixes[] = { 'k', 'M', 'G' };
	int i = -1;

	/* Step up where the rounded figure would read 1000. */
	while (i < 2 && value >= (i < 0 ? 999.5 : 999.95)) {
		value /= 1000.0;
		i++;
	}
	if (i < 0)
		snprintf(out, len, "%.0f %s", value, unit);
	else
		snprintf(out, len, "%.1f %c%s", value, prefixes[i], unit);
}

void report_format_size(uint64_t bytes, char *out, size_t len)
{
	if (bytes >= GIB && bytes % GIB == 0)
		snprintf(out, len, "%" PRIu64 " GiB", bytes / GIB);
	else if (bytes >= MIB && bytes % MIB == 0)
		snprintf(out, len, "%" PRIu64 " MiB", bytes / MIB);
	else if (bytes >= KIB && bytes % KIB == 0)
		snprintf(out, len, "%" PRIu64 " KiB", bytes / KIB);
	else if (bytes >= MIB)
		snprintf(out, len, "%.1f MiB", (double)bytes / MIB);
	else
		snprintf(out, len, "%" PRIu64 " bytes", bytes);
}

static double per_second(uint64_t count, double seconds)
{
	return seconds > 0 ? (double)count / seconds : 0.0;
}

static void print_segment(FILE *out, const struct rate_segment *seg,
			  double interval_s)
{
	char pps[32], bps[32];

	report_format_rate(per_second(seg->packets, interval_s), "pps", pps,
			   sizeof(pps));
	report_format_rate(per_second(seg->bytes * 8, interval_s), "bit/s", bps,
			   sizeof(bps));
	fprintf(out, "%s %s %s %s", seg->port, seg->dir, pps, bps);
}

void report_rate_line(FILE *out, unsigned second, double interval_s,
		      const struct rate_segment *segs, size_t count,
		      const char *extra, const struct health *health)
{
	size_t i;

	fprintf(out, "[%3us] ", second);
	for (i = 0; i < count; i++) {
		if (i > 0)
			fputs(" | ", out);
		print_segment(out, &segs[i], interval_s);
	}
	if (extra)
		fprintf(out, " | %s", extra);
	if (health)
		fprintf(out, " | health %s, device errors %" PRIu64 ", queue resets %"
			PRIu64, health->status ? health->status : "ok",
			health->device_errors, health->queue_resets);
	fputc('\n', out);
	fflush(out);
}

static const char *status_word(const char *status)
{
	return status ? status : "ok";
}

/* " queue_resets=N status=WORD": SUMMARY keys every command prints. */
static void print_health_keys(FILE *out, uint64_t queue_resets, const char *status)
{
	fprintf(out, " queue_resets=%" PRIu64 " status=%s", queue_resets, status_word(status));
}

/* " PREFIXhw_rx_packets=N PREFIXhw_tx_packets=N", or nothing. */
static void print_hw(FILE *out, const char *prefix, const struct hw_counts *hw)
{
	if (hw->present)
		fprintf(out, " %shw_rx_packets=%" PRIu64 " %shw_tx_packets=%" PRIu64,
			prefix, hw->rx_packets, prefix, hw->tx_packets);
}

static unsigned queue_count(unsigned queues)
{
	if (queues == 0)
		return 1;
	return queues < REPORT_MAX_QUEUES ? queues : REPORT_MAX_QUEUES;
}

static void print_gen_queue_keys(FILE *out, const struct gen_summary *s)
{
	unsigned q, n = queue_count(s->queues);

	fprintf(out, " queues=%u", n);
	for (q = 0; q < n; q++)
		fprintf(out, " q%u_tx_packets=%" PRIu64, q,
			n == 1 && !s->queues ? s->tx_packets : s->q_tx_packets[q]);
	for (q = 0; q < n && s->has_queue_stats; q++)
		fprintf(out, " q%u_lib_tx_packets=%" PRIu64, q,
			s->q_lib_tx_packets[q]);
}

static void print_recv_queues(FILE *out, const struct recv_summary *s)
{
	unsigned q, n = queue_count(s->queues);

	if (n < 2)
		return;
	fprintf(out, "  per receive queue:");
	for (q = 0; q < n; q++)
		fprintf(out, "%s q%u %" PRIu64 " frames (%" PRIu64 " flows)",
			q ? "," : "", q, s->q[q].packets, s->q[q].flows);
	fputc('\n', out);
	if (s->flows_split)
		fprintf(out, "  %" PRIu64 " flows came on more than one queue "
			"(RSS should keep a flow on one)\n", s->flows_split);
	if (s->rss_misplaced)
		fprintf(out, "  %" PRIu64 " frames came on another queue than "
			"their RSS hash selects\n", s->rss_misplaced);
}

static void print_recv_queue_keys(FILE *out, const struct recv_summary *s)
{
	unsigned q, n = queue_count(s->queues);

	fprintf(out, " queues=%u", n);
	for (q = 0; q < n; q++)
		fprintf(out, " q%u_packets=%" PRIu64 " q%u_flows=%" PRIu64, q,
			n == 1 && !s->queues ? s->rx_packets : s->q[q].packets,
			q, s->q[q].flows);
	for (q = 0; q < n && s->has_queue_stats; q++)
		fprintf(out, " q%u_lib_packets=%" PRIu64, q, s->q[q].lib_packets);
	fprintf(out, " flows_split=%" PRIu64 " rss_hashed=%" PRIu64
		" rss_misplaced=%" PRIu64, s->flows_split, s->rss_hashed,
		s->rss_misplaced);
}

void report_gen_summary(FILE *out, const struct gen_summary *s)
{
	double pps = per_second(s->tx_packets, s->seconds);
	char rate[32], bits[32];

	report_format_rate(pps, "pps", rate, sizeof(rate));
	report_format_rate(per_second(s->tx_bytes * 8, s->seconds), "bit/s",
			   bits, sizeof(bits));
	fprintf(out, "gen %s: sent %" PRIu64 " packets (%" PRIu64 " bytes) in "
		"%.3f s: %s, %s; %" PRIu64 " tx drops, %" PRIu64
		" device errors, %" PRIu64 " queue resets; health %s\n", s->dev,
		s->tx_packets, s->tx_bytes, s->seconds, rate, bits, s->tx_drops,
		s->device_errors, s->queue_resets, status_word(s->status));
	fprintf(out, "SUMMARY gen dev=%s tx_packets=%" PRIu64 " tx_bytes=%"
		PRIu64 " tx_drops=%" PRIu64 " seconds=%.3f pps=%.1f"
		" device_errors=%" PRIu64, s->dev, s->tx_packets,
		s->tx_bytes, s->tx_drops, s->seconds, pps, s->device_errors);
	print_health_keys(out, s->queue_resets, s->status);
	print_gen_queue_keys(out, s);
	print_hw(out, "", &s->hw);
	fputc('\n', out);
	fflush(out);
}

/* The SUMMARY keys of --mode and of more than one queue pair. */
static void print_fwd_extra(FILE *out, const struct fwd_summary *s)
{
	unsigned q;

	if (s->mode)
		fprintf(out, " mode=%s sleeps=%" PRIu64 " wakeups=%" PRIu64
			" cpu_seconds=%.3f", s->mode, s->sleeps, s->wakeups,
			s->cpu_seconds);
	if (s->queues <= 1 || !s->per_queue)
		return;
	fprintf(out, " queues=%u", s->queues);
	for (q = 0; q < s->queues; q++) {
		const struct fwd_queue_summary *p = &s->per_queue[q];

		fprintf(out, " q%u_a_to_b=%" PRIu64 " q%u_b_to_a=%" PRIu64
			" a_q%u_rx_packets=%" PRIu64 " b_q%u_rx_packets=%" PRIu64,
			q, p->a_to_b, q, p->b_to_a, q, p->a_rx_packets, q,
			p->b_rx_packets);
	}
}

/* "fwd: queue pair 0: 10 a->b, 2 b->a; queue pair 1: ..." */
static void print_fwd_queues(FILE *out, const struct fwd_summary *s)
{
	unsigned q;

	if (s->queues <= 1 || !s->per_queue)
		return;
	fputs("fwd:", out);
	for (q = 0; q < s->queues; q++)
		fprintf(out, "%s queue pair %u: %" PRIu64 " a->b, %" PRIu64
			" b->a", q ? ";" : "", q, s->per_queue[q].a_to_b,
			s->per_queue[q].b_to_a);
	fputc('\n', out);
}

void report_fwd_summary(FILE *out, const struct fwd_summary *s)
{
	double pps = per_second(s->a_to_b + s->b_to_a, s->seconds);
	char rate[32];

	report_format_rate(pps, "pps", rate, sizeof(rate));
	fprintf(out, "fwd: %s -> %s %" PRIu64 " packets, %s -> %s %" PRIu64
		" packets, %" PRIu64 " dropped, in %.3f s (%s); %" PRIu64
		" device errors, %" PRIu64 " queue resets; health %s\n", s->a, s->b,
		s->a_to_b, s->b, s->a, s->b_to_a, s->drops, s->seconds, rate,
		s->device_errors, s->queue_resets, status_word(s->status));
	print_fwd_queues(out, s);
	fprintf(out, "SUMMARY fwd a=%s b=%s a_to_b=%" PRIu64 " b_to_a=%" PRIu64
		" drops=%" PRIu64 " seconds=%.3f pps=%.1f device_errors=%"
		PRIu64, s->a, s->b, s->a_to_b, s->b_to_a, s->drops,
		s->seconds, pps, s->device_errors);
	fprintf(out, " a_rx_starved=%" PRIu64 " b_rx_starved=%" PRIu64,
		s->a_rx_starved, s->b_rx_starved);
	fprintf(out, " a_rx_errors=%" PRIu64 " b_rx_errors=%" PRIu64, s->a_rx_errors,
		s->b_rx_errors);
	print_health_keys(out, s->queue_resets, s->status);
	print_hw(out, "a_", &s->hw_a);
	print_hw(out, "b_", &s->hw_b);
	print_fwd_extra(out, s);
	fputc('\n', out);
	fflush(out);
}

void report_recv_summary(FILE *out, const struct recv_summary *s)
{
	double pps = per_second(s->rx_packets, s->seconds);
	char rate[32];

	report_format_rate(pps, "pps", rate, sizeof(rate));
	fprintf(out, "recv %s: received %" PRIu64 " frames (%" PRIu64
		" bytes) in %.3f s (%s)\n", s->dev, s->rx_packets, s->rx_bytes,
		s->seconds, rate);
	if (s->checked)
		fprintf(out, "  valid %" PRIu64 ", lost %" PRIu64 ", duplicated %"
			PRIu64 ", reordered %" PRIu64 ", corrupted %" PRIu64
			", foreign %" PRIu64 ", beyond --expect %" PRIu64
			"; %" PRIu64 " dropped by the device, %" PRIu64
			" device errors\n", s->valid, s->lost, s->duplicated,
			s->reordered, s->corrupted, s->foreign, s->out_of_range,
			s->rx_drops, s->device_errors);
	if (s->rx_errors)
		fprintf(out, "  %" PRIu64 " frames dropped as bad or longer than the "
			"MTU allows (receive errors)\n", s->rx_errors);
	if (s->checked && s->flows > 1)
		fprintf(out, "  %" PRIu32 " flows, order judged inside each: %"
			PRIu64 " frames overtaken by another flow's (no fault)\n",
			s->flows, s->interleaved);
	if (s->mixed_flows)
		fprintf(out, "  %" PRIu64 " frames of another generator (another "
			"flow count) not tracked\n", s->mixed_flows);
	print_recv_queues(out, s);
	if (!s->checked)
		fprintf(out, "  contents not checked (--count-only); %" PRIu64
			" dropped by the device, %" PRIu64 " device errors\n",
			s->rx_drops, s->device_errors);
	fprintf(out, "  %" PRIu64 " queue resets; health %s\n", s->queue_resets,
		status_word(s->status));
	if (s->rx_starved)
		fprintf(out, "  the receive ring ran dry %" PRIu64 " times: the device "
			"had no buffer for a while (frames it queued meanwhile may "
			"arrive out of order)\n", s->rx_starved);
	fprintf(out, "SUMMARY recv dev=%s checked=%s rx_packets=%" PRIu64 " valid=%" PRIu64
		" lost=%" PRIu64 " duplicated=%" PRIu64 " reordered=%" PRIu64
		" corrupted=%" PRIu64 " foreign=%" PRIu64 " seconds=%.3f"
		" pps=%.1f device_errors=%" PRIu64 " rx_drops=%" PRIu64
		" out_of_range=%" PRIu64, s->dev, s->checked ? "yes" : "no",
		s->rx_packets, s->valid,
		s->lost, s->duplicated, s->reordered, s->corrupted, s->foreign,
		s->seconds, pps, s->device_errors, s->rx_drops,
		s->out_of_range);
	fprintf(out, " rx_starved=%" PRIu64 " rx_errors=%" PRIu64, s->rx_starved,
		s->rx_errors);
	fprintf(out, " flows=%" PRIu32 " interleaved=%" PRIu64 " mixed_flows=%"
		PRIu64, s->flows ? s->flows : 1, s->interleaved, s->mixed_flows);
	print_health_keys(out, s->queue_resets, s->status);
	print_recv_queue_keys(out, s);
	print_hw(out, "", &s->hw);
	fputc('\n', out);
	fflush(out);
}

void report_dump_summary(FILE *out, const struct dump_summary *s)
{
	char size[32];

	report_format_size(s->file_bytes, size, sizeof(size));
	fprintf(out, "dump %s: wrote %" PRIu64 " frames (%" PRIu64 " bytes of "
		"frames, %" PRIu64 " cut to the snap length) to %s (%s) in "
		"%.3f s; stopped: %s\n", s->dev, s->frames, s->bytes,
		s->truncated, s->file, size, s->seconds, s->stopped);
	if (s->captured != s->frames)
		fprintf(out, "  %" PRIu64 " frames received could not be "
			"written\n", s->captured - s->frames);
	fprintf(out, "SUMMARY dump dev=%s frames=%" PRIu64 " captured=%" PRIu64
		" bytes=%" PRIu64 " file_bytes=%" PRIu64 " truncated=%" PRIu64
		" rx_drops=%" PRIu64 " device_errors=%" PRIu64 " seconds=%.3f"
		" stopped=%s file=%s", s->dev, s->frames, s->captured,
		s->bytes, s->file_bytes, s->truncated, s->rx_drops,
		s->device_errors, s->seconds, s->stopped, s->file);
	fprintf(out, " rx_errors=%" PRIu64, s->rx_errors);
	print_health_keys(out, s->queue_resets, s->status);
	fputc('\n', out);
	fflush(out);
}

void report_respond_summary(FILE *out, const struct respond_summary *s)
{
	fprintf(out, "respond %s: answered %" PRIu64 " ARP, %" PRIu64
		" ICMP echo, %" PRIu64 " neighbour solicitations, %" PRIu64
		" ICMPv6 echo in %.3f s; %" PRIu64 " frames received, %" PRIu64
		" ignored, %" PRIu64 " fragments (not reassembled), %" PRIu64
		" too big to answer, %" PRIu64 " bad checksums, %" PRIu64 " malformed, %"
		PRIu64 " replies dropped\n", s->dev, s->arp, s->icmp, s->nd,
		s->icmp6, s->seconds, s->rx_packets, s->ignored, s->fragments, s->too_big,
		s->bad_checksum, s->malformed, s->tx_drops);
	fprintf(out, "SUMMARY respond dev=%s rx_packets=%" PRIu64 " tx_packets=%"
		PRIu64 " arp=%" PRIu64 " icmp=%" PRIu64 " nd=%" PRIu64
		" icmp6=%" PRIu64 " ignored=%" PRIu64 " fragments=%" PRIu64 " too_big=%" PRIu64
		" bad_checksum=%" PRIu64
		" malformed=%" PRIu64 " tx_drops=%" PRIu64 " device_errors=%"
		PRIu64 " seconds=%.3f", s->dev, s->rx_packets, s->tx_packets,
		s->arp, s->icmp, s->nd, s->icmp6, s->ignored, s->fragments, s->too_big,
		s->bad_checksum, s->malformed, s->tx_drops, s->device_errors, s->seconds);
	fprintf(out, " rx_errors=%" PRIu64, s->rx_errors);
	print_health_keys(out, s->queue_resets, s->status);
	fputc('\n', out);
	fflush(out);
}
