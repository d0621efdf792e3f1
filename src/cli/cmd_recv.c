/* `safenic recv DEV`: counts and checks the test frames of `safenic gen`
 * (format in packet.h): valid, corrupted or foreign, and by sequence
 * number lost, duplicated or reordered. With --expect N it is a test:
 * exit 0 only if all N arrived, intact and once each. With --count-only
 * it counts frames and bytes without reading them, as a rate measurement
 * (DPDK testpmd's rxonly does the same).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "json.h"
#include "packet.h"
#include "report.h"
#include "seqtrack.h"
#include "session.h"

struct recv_options {
	uint64_t expect, count, batch;   /* expect, count: 0 = none */
	uint64_t mtu;
	uint64_t queues;
	uint64_t duration_ns, idle_ns, timeout_ns;
	bool unsafe, verbose, json, count_only;
	unsigned memory;           /* enum sn_mem_kind, --memory */
};

enum recv_stop {
	RECV_RUNNING = 0,
	RECV_INTERRUPTED,
	RECV_ALL_EXPECTED,
	RECV_COUNT_REACHED,
	RECV_IDLE,
	RECV_DURATION,
	RECV_TIMEOUT,
	RECV_DEVICE_FAILED,
};

struct recv_counts {
	uint64_t rx_packets, rx_bytes, valid, corrupted, foreign;
};

/* What came on one receive queue. */
struct recv_queue {
	uint64_t rx_packets, rx_bytes;
	uint64_t last_packets;           /* rx_packets at the last tick */
	uint64_t flows;                  /* flows with a frame on it */
	uint64_t rss_hashed;             /* frames with the device's hash */
	struct sn_queue_stats base;      /* the library's, at the start */
};

struct recv_run {
	struct session session;
	struct sn_dev *dev;
	const char *addr;
	const struct recv_options *opt;
	struct recv_counts counts;
	uint16_t queues;
	struct recv_queue q[SN_MAX_QUEUES];
	/* Per flow, 1 + the queue its first frame came on (0: none yet):
	 * RSS keeps a flow on one queue, so a flow seen on two is counted. */
	uint8_t *flow_queue;
	uint64_t flows_split;
	/* Hashed frames on another queue than the redirection table the
	 * library programs (entry i -> queue i % queues) gives their hash:
	 * judged when the queue count is a power of two, which makes that
	 * queue hash % queues for any table of a power-of-two size. */
	uint64_t rss_misplaced;
	struct seq_tracker seqs;
	bool rx_since_clock;             /* frames since the last clock read */
	uint64_t start_ns, last_rx_ns;   /* last_rx_ns 0: nothing yet */
	struct ticker tick;
	struct sn_stats base, last;
	struct recv_worker *workers;     /* a thread per queue; NULL: one loop */
	bool stop_workers, workers_joined;
};

/* What a queue's thread has counted so far, for the main thread's rate
 * lines and stop conditions: relaxed atomics, one writer. */
struct recv_pub {
	uint64_t rx_packets, rx_bytes, valid, corrupted, foreign;
	uint64_t unique, highest, duplicated, reordered, interleaved;
	uint64_t out_of_range, mixed_flows, flows, rss_hashed, rss_misplaced;
	uint64_t seq_flows;
};

/* A thread per receive queue (--queues N > 1, no --count): each polls its
 * queue into a view of its own (a struct recv_run with its own counts,
 * tracker and flow map, so recv_poll runs unchanged), publishes what it
 * counted, and checks its queue once a second. The main thread merges the
 * views when they have stopped. */
struct recv_worker {
	struct recv_run *main, *view;
	uint16_t queue;
	pthread_t thread;
	struct recv_pub pub;
	enum sn_dev_state state;         /* posted (release) after state and */
	char message[256];               /* message, for the main thread */
	bool posted;
	bool done;
};

static int recv_judge_workers(struct recv_run *r);

/* ---- datapath --------------------------------------------------------- */

/* Which queues a flow's frames came on. Only frames the tracker took:
 * their flow number is below the run's flow count. */
static void recv_note_flow_queue(struct recv_run *r, uint32_t flow,
				 uint16_t queue)
{
	uint8_t *seen = &r->flow_queue[flow];

	if (*seen == 0) {
		*seen = (uint8_t)(queue + 1);
		r->q[queue].flows++;
	} else if (*seen != queue + 1 && *seen != UINT8_MAX) {
		/* Counted once per flow, however many queues it visits. */
		*seen = UINT8_MAX;
		r->flows_split++;
	}
}

/* Where the device's RSS hash says the frame belongs. */
static void recv_note_hash(struct recv_run *r, const struct sn_pkt *pkt,
			   uint16_t queue)
{
	if (!(pkt->flags & SN_PKT_RSS_HASH))
		return;
	r->q[queue].rss_hashed++;
	if ((r->queues & (r->queues - 1)) == 0 &&
	    pkt->rss_hash % r->queues != queue)
		r->rss_misplaced++;
}

static void recv_classify(struct recv_run *r, const struct sn_pkt *pkt,
			  uint16_t queue)
{
	struct pkt_stamp_info info;

	recv_note_hash(r, pkt, queue);
	r->counts.rx_packets++;
	r->counts.rx_bytes += pkt->len;
	switch (pkt_check(pkt->data, pkt->len, &info)) {
	case PKT_VALID:
		r->counts.valid++;
		if (seq_tracker_note(&r->seqs, info.seq, info.flows) !=
		    SEQ_MIXED_FLOWS)
			recv_note_flow_queue(r, info.flow, queue);
		break;
	case PKT_CORRUPTED:
		r->counts.corrupted++;
		break;
	case PKT_FOREIGN:
		r->counts.foreign++;
		break;
	}
}

/* At most a batch, and never past --count, so the count is exact. */
static uint16_t recv_burst_size(const struct recv_run *r)
{
	uint64_t left;

	if (!r->opt->count)
		return (uint16_t)r->opt->batch;
	left = r->opt->count - r->counts.rx_packets;
	return left < r->opt->batch ? (uint16_t)left : (uint16_t)r->opt->batch;
}

static void recv_poll(struct recv_run *r, uint16_t queue, struct sn_pkt **pkts)
{
	struct recv_queue *q = &r->q[queue];
	uint64_t packets = r->counts.rx_packets, bytes = r->counts.rx_bytes;
	uint16_t n = sn_rx_burst(r->dev, queue, pkts, recv_burst_size(r)), i;

	if (n == 0)
		return;
	if (r->opt->count_only) {
		/* The buffers' metadata only: the frames stay unread. */
		r->counts.rx_packets += n;
		for (i = 0; i < n; i++)
			r->counts.rx_bytes += pkts[i]->len;
	} else {
		for (i = 0; i < n; i++)
			recv_classify(r, pkts[i], queue);
	}
	q->rx_packets += r->counts.rx_packets - packets;
	q->rx_bytes += r->counts.rx_bytes - bytes;
	sn_pkt_free_bulk(pkts, n);
	r->rx_since_clock = true;
}

static enum recv_stop recv_count_stop(const struct recv_run *r)
{
	if (r->opt->count && r->counts.rx_packets >= r->opt->count)
		return RECV_COUNT_REACHED;
	if (r->opt->expect && r->seqs.unique >= r->opt->expect)
		return RECV_ALL_EXPECTED;
	if (session_stop_requested())
		return RECV_INTERRUPTED;
	return RECV_RUNNING;
}

/* ---- control ---------------------------------------------------------- */

/* Sequence numbers still missing, in O(1) for the per-second records:
 * every number counted unique lies below the tracker's limit (the
 * expected count, with --expect) or at most the highest seen, so the
 * missing ones are the rest. seq_tracker_lost counts bits and is exact
 * for the summary. */
static uint64_t recv_missing_now(const struct recv_run *r)
{
	uint64_t upto = r->opt->expect ? r->opt->expect
		      : r->seqs.unique ? r->seqs.highest + 1 : 0;

	return upto > r->seqs.unique ? upto - r->seqs.unique : 0;
}

static uint64_t recv_rss_hashed(const struct recv_run *r)
{
	uint64_t sum = 0;
	uint16_t q;

	for (q = 0; q < r->queues; q++)
		sum += r->q[q].rss_hashed;
	return sum;
}

/* Keys must outlive the record: one static name per queue. */
static const char *const recv_q_packets_key[SN_MAX_QUEUES] = {
	"q0_packets", "q1_packets", "q2_packets", "q3_packets",
	"q4_packets", "q5_packets", "q6_packets", "q7_packets",
};
static const char *const recv_q_flows_key[SN_MAX_QUEUES] = {
	"q0_flows", "q1_flows", "q2_flows", "q3_flows",
	"q4_flows", "q5_flows", "q6_flows", "q7_flows",
};

static const char *const recv_q_lib_key[SN_MAX_QUEUES] = {
	"q0_lib_packets", "q1_lib_packets", "q2_lib_packets", "q3_lib_packets",
	"q4_lib_packets", "q5_lib_packets", "q6_lib_packets", "q7_lib_packets",
};

/* The tool's per-queue counts, and the library's (sn_dev_queue_stats,
 * which only reads memory). */
static void recv_json_queues(const struct recv_run *r, struct json_record *j)
{
	struct sn_queue_stats st;
	uint16_t q;

	json_u64(j, "queues", r->queues);
	for (q = 0; q < r->queues; q++) {
		json_u64(j, recv_q_packets_key[q], r->q[q].rx_packets);
		json_u64(j, recv_q_flows_key[q], r->q[q].flows);
		if (sn_dev_queue_stats(r->dev, q, &st) == 0)
			json_u64(j, recv_q_lib_key[q],
				 st.rx_packets - r->q[q].base.rx_packets);
	}
	json_u64(j, "flows_split", r->flows_split);
	json_u64(j, "rss_hashed", recv_rss_hashed(r));
	json_u64(j, "rss_misplaced", r->rss_misplaced);
}

/* One JSON Lines record: counters since the start; rates over the last
 * interval (or, when final, over the whole run). */
static void recv_json(const struct recv_run *r, const struct sn_stats *cur,
		      const struct sn_stats *from, bool final, double seconds,
		      double elapsed)
{
	struct json_record j;

	json_begin(&j, "recv", r->tick.seconds, final, elapsed);
	json_str(&j, "dev", r->addr);
	json_bool(&j, "checked", !r->opt->count_only);
	json_u64(&j, "rx_packets", r->counts.rx_packets);
	json_u64(&j, "rx_bytes", r->counts.rx_bytes);
	json_u64(&j, "valid", r->counts.valid);
	json_u64(&j, "corrupted", r->counts.corrupted);
	json_u64(&j, "foreign", r->counts.foreign);
	json_u64(&j, "lost", final ? seq_tracker_lost(&r->seqs, r->opt->expect)
				   : recv_missing_now(r));
	json_u64(&j, "duplicated", r->seqs.duplicated);
	json_u64(&j, "reordered", r->seqs.reordered);
	json_u64(&j, "out_of_range", r->seqs.out_of_range);
	json_u64(&j, "flows", r->seqs.flows ? r->seqs.flows : 1);
	json_u64(&j, "interleaved", r->seqs.interleaved);
	json_u64(&j, "mixed_flows", r->seqs.mixed_flows);
	recv_json_queues(r, &j);
	json_u64(&j, "rx_drops", cur->rx_drops - r->base.rx_drops);
	json_u64(&j, "rx_errors", cur->rx_errors - r->base.rx_errors);
	json_u64(&j, "device_errors",
		 cur->device_errors - r->base.device_errors);
	json_u64(&j, "queue_resets", cur->queue_resets - r->base.queue_resets);
	json_str(&j, "status", session_health(&r->session, cur, &r->base).status);
	if (cur->has_hw_counters)
		json_u64(&j, "hw_rx_packets",
			 cur->hw_rx_packets - r->base.hw_rx_packets);
	json_rates(&j, "rx_pps", "rx_bps", cur->rx_packets - from->rx_packets,
		   cur->rx_bytes - from->rx_bytes, seconds);
	json_write(stdout, &j);
}

/* With several queues, the frames each took in the last interval:
 * " | q0 250 q1 262 ...", appended to the rate line's extra text. */
static void recv_queue_rates(struct recv_run *r, char *extra, size_t size)
{
	size_t len = strlen(extra);
	uint16_t q;

	for (q = 0; q < r->queues && r->queues > 1 && len < size; q++) {
		int n = snprintf(extra + len, size - len, "%s q%u %" PRIu64,
				 q ? "" : " | frames per queue", q,
				 r->q[q].rx_packets - r->q[q].last_packets);

		if (n < 0)
			break;
		len += (size_t)n;
		r->q[q].last_packets = r->q[q].rx_packets;
	}
}

static int recv_tick(struct recv_run *r, uint64_t now)
{
	double interval = ticker_advance(&r->tick, now);
	struct rate_segment seg;
	struct sn_stats cur;
	struct health health;
	char extra[160 + 24 * SN_MAX_QUEUES];
	/* First the check, so that this second's line says what it found
	 * (the queues' threads check their own). */
	int rc = r->workers ? recv_judge_workers(r)
			    : session_check_health(&r->session, r->dev);

	sn_dev_stats(r->dev, &cur);
	health = session_health(&r->session, &cur, &r->base);
	if (r->session.json) {
		recv_json(r, &cur, &r->last, false, interval,
			  (double)(now - r->start_ns) / (double)NS_PER_SEC);
		r->last = cur;
		return rc;
	}
	extra[0] = '\0';
	seg.port = r->addr;
	seg.dir = "rx";
	seg.packets = cur.rx_packets - r->last.rx_packets;
	seg.bytes = cur.rx_bytes - r->last.rx_bytes;
	if (r->opt->count_only)
		snprintf(extra, sizeof(extra), "contents not checked");
	else
		snprintf(extra, sizeof(extra), "valid %" PRIu64 " corrupted %"
			 PRIu64 " foreign %" PRIu64, r->counts.valid,
			 r->counts.corrupted, r->counts.foreign);
	recv_queue_rates(r, extra, sizeof(extra));
	report_rate_line(stdout, r->tick.seconds, interval, &seg, 1, extra, &health);
	r->last = cur;
	return rc;
}

/* The idle timeout runs from the last frame only: before the first one,
 * waiting is bounded by --duration or --timeout alone. */
static bool recv_idle(const struct recv_run *r, uint64_t now)
{
	return r->opt->idle_ns && r->last_rx_ns &&
	       now - r->last_rx_ns >= r->opt->idle_ns;
}

static enum recv_stop recv_clock_stop(struct recv_run *r, uint64_t now)
{
	uint64_t elapsed = now - r->start_ns;

	if (r->rx_since_clock) {
		r->last_rx_ns = now;
		r->rx_since_clock = false;
	}
	if (session_poll_removal(&r->session, now) < 0 ||
	    (ticker_due(&r->tick, now) && recv_tick(r, now) < 0))
		return RECV_DEVICE_FAILED;
	if (r->opt->duration_ns && elapsed >= r->opt->duration_ns)
		return RECV_DURATION;
	if (r->opt->timeout_ns && elapsed >= r->opt->timeout_ns)
		return RECV_TIMEOUT;
	if (recv_idle(r, now))
		return RECV_IDLE;
	return RECV_RUNNING;
}

static enum recv_stop recv_loop(struct recv_run *r)
{
	struct sn_pkt *pkts[CLI_MAX_BATCH];
	enum recv_stop stop = RECV_RUNNING;
	uint64_t polls;
	/* The options allow 1 to SN_MAX_QUEUES; a zero here would divide by it. */
	uint16_t queues = r->queues > 0 ? r->queues : 1;

	r->start_ns = clock_coarse_ns();
	ticker_start(&r->tick, r->start_ns);
	/* One thread polls every queue in turn: each queue's bursts stay on
	 * one thread, and the receive pool is used by one thread only. */
	for (polls = 0; stop == RECV_RUNNING; polls++) {
		recv_poll(r, (uint16_t)(polls % queues), pkts);
		stop = recv_count_stop(r);
		if (stop == RECV_RUNNING && polls % CLI_POLLS_PER_CLOCK_READ == 0)
			stop = recv_clock_stop(r, clock_coarse_ns());
	}
	return stop;
}

/* ---- a thread per queue ---------------------------------------------- */

#define RECV_MAIN_SLEEP_NS (5 * UINT64_C(1000000))

static void pub_store(uint64_t *field, uint64_t value)
{
	__atomic_store_n(field, value, __ATOMIC_RELAXED);
}

static uint64_t pub_load(const uint64_t *field)
{
	return __atomic_load_n(field, __ATOMIC_RELAXED);
}

static void recv_publish(struct recv_worker *w)
{
	const struct recv_run *v = w->view;
	const struct recv_queue *q = &v->q[w->queue];

	pub_store(&w->pub.rx_packets, v->counts.rx_packets);
	pub_store(&w->pub.rx_bytes, v->counts.rx_bytes);
	pub_store(&w->pub.valid, v->counts.valid);
	pub_store(&w->pub.corrupted, v->counts.corrupted);
	pub_store(&w->pub.foreign, v->counts.foreign);
	pub_store(&w->pub.unique, v->seqs.unique);
	pub_store(&w->pub.highest, v->seqs.highest);
	pub_store(&w->pub.duplicated, v->seqs.duplicated);
	pub_store(&w->pub.reordered, v->seqs.reordered);
	pub_store(&w->pub.interleaved, v->seqs.interleaved);
	pub_store(&w->pub.out_of_range, v->seqs.out_of_range);
	pub_store(&w->pub.mixed_flows, v->seqs.mixed_flows);
	pub_store(&w->pub.seq_flows, v->seqs.flows);
	pub_store(&w->pub.flows, q->flows);
	pub_store(&w->pub.rss_hashed, q->rss_hashed);
	pub_store(&w->pub.rss_misplaced, v->rss_misplaced);
}

/* Its own queue's health, posted for the main thread; false when the
 * queue cannot go on. */
static bool recv_worker_check(struct recv_worker *w)
{
	struct sn_dev *dev = w->main->dev;
	enum sn_dev_state state = sn_dev_check_queue(dev, w->queue);

	if (state == SN_DEV_OK || __atomic_load_n(&w->posted, __ATOMIC_ACQUIRE))
		return true;
	w->state = state;
	snprintf(w->message, sizeof(w->message), "%s",
		 sn_dev_check_queue_message(dev, w->queue));
	__atomic_store_n(&w->posted, true, __ATOMIC_RELEASE);
	return state == SN_DEV_RECOVERED || state == SN_DEV_TX_STALLED;
}

static void *recv_worker_run(void *arg)
{
	struct recv_worker *w = arg;
	struct sn_pkt *pkts[CLI_MAX_BATCH];
	uint64_t polls, next_check = clock_coarse_ns() + NS_PER_SEC, now;

	for (polls = 0; !session_stop_requested() &&
	     !__atomic_load_n(&w->main->stop_workers, __ATOMIC_RELAXED); polls++) {
		recv_poll(w->view, w->queue, pkts);
		if (w->view->rx_since_clock) {
			w->view->rx_since_clock = false;
			recv_publish(w);
		}
		if (polls % CLI_POLLS_PER_CLOCK_READ == 0) {
			now = clock_coarse_ns();
			if (now >= next_check) {
				next_check = now + NS_PER_SEC;
				if (!recv_worker_check(w))
					break;
			}
		}
	}
	__atomic_store_n(&w->done, true, __ATOMIC_RELEASE);
	return NULL;
}

static void recv_view_free(struct recv_run *v)
{
	if (!v)
		return;
	seq_tracker_destroy(&v->seqs);
	free(v->flow_queue);
	free(v);
}

/* A copy of the run with counts, tracker and flow map of its own. */
static struct recv_run *recv_view_new(const struct recv_run *r)
{
	struct recv_run *v = malloc(sizeof(*v));
	uint64_t limit = r->opt->expect ? r->opt->expect : SEQ_TRACK_DEFAULT_LIMIT;

	if (!v)
		return NULL;
	*v = *r;
	memset(&v->counts, 0, sizeof(v->counts));
	memset(&v->seqs, 0, sizeof(v->seqs));
	v->flows_split = 0;
	v->rss_misplaced = 0;
	v->rx_since_clock = false;
	v->workers = NULL;
	v->flow_queue = calloc(SEQ_TRACK_MAX_FLOWS, sizeof(*v->flow_queue));
	if (!v->flow_queue || seq_tracker_init(&v->seqs, limit) < 0) {
		recv_view_free(v);
		return NULL;
	}
	return v;
}

static void recv_workers_stop(struct recv_run *r, uint16_t started)
{
	uint16_t i;

	if (r->workers_joined)
		return;
	__atomic_store_n(&r->stop_workers, true, __ATOMIC_RELAXED);
	for (i = 0; i < started; i++)
		pthread_join(r->workers[i].thread, NULL);
	r->workers_joined = true;
}

static void recv_workers_free(struct recv_run *r)
{
	uint16_t i;

	if (!r->workers)
		return;
	for (i = 0; i < r->queues; i++)
		recv_view_free(r->workers[i].view);
	free(r->workers);
	r->workers = NULL;
}

static int recv_workers_start(struct recv_run *r)
{
	uint16_t i;
	int rc;

	r->workers = calloc(r->queues, sizeof(*r->workers));
	if (!r->workers)
		return -ENOMEM;
	for (i = 0; i < r->queues; i++) {
		r->workers[i].main = r;
		r->workers[i].queue = i;
		r->workers[i].view = recv_view_new(r);
		if (!r->workers[i].view)
			return -ENOMEM;
	}
	for (i = 0; i < r->queues; i++) {
		rc = pthread_create(&r->workers[i].thread, NULL, recv_worker_run,
				    &r->workers[i]);
		if (rc != 0) {
			recv_workers_stop(r, i);
			return -rc;
		}
	}
	return 0;
}

/* The workers' published counts as the run's, for the rate lines and
 * the stop conditions (their trackers are merged only at the end). */
static void recv_gather(struct recv_run *r)
{
	struct recv_counts c = { 0 };
	uint64_t misplaced = 0;
	uint16_t i;

	r->seqs.unique = r->seqs.duplicated = r->seqs.reordered = 0;
	r->seqs.interleaved = r->seqs.out_of_range = r->seqs.mixed_flows = 0;
	for (i = 0; i < r->queues; i++) {
		const struct recv_pub *p = &r->workers[i].pub;
		uint64_t unique = pub_load(&p->unique);

		c.rx_packets += pub_load(&p->rx_packets);
		c.rx_bytes += pub_load(&p->rx_bytes);
		c.valid += pub_load(&p->valid);
		c.corrupted += pub_load(&p->corrupted);
		c.foreign += pub_load(&p->foreign);
		if (unique && (!r->seqs.unique || pub_load(&p->highest) > r->seqs.highest))
			r->seqs.highest = pub_load(&p->highest);
		if (!r->seqs.flows)
			r->seqs.flows = (uint32_t)pub_load(&p->seq_flows);
		r->seqs.unique += unique;
		r->seqs.duplicated += pub_load(&p->duplicated);
		r->seqs.reordered += pub_load(&p->reordered);
		r->seqs.interleaved += pub_load(&p->interleaved);
		r->seqs.out_of_range += pub_load(&p->out_of_range);
		r->seqs.mixed_flows += pub_load(&p->mixed_flows);
		r->q[i].rx_packets = pub_load(&p->rx_packets);
		r->q[i].rx_bytes = pub_load(&p->rx_bytes);
		r->q[i].flows = pub_load(&p->flows);
		r->q[i].rss_hashed = pub_load(&p->rss_hashed);
		misplaced += pub_load(&p->rss_misplaced);
	}
	r->counts = c;
	r->rss_misplaced = misplaced;
}

/* Once the threads have stopped: their exact counts, trackers merged (a
 * number two queues saw is a duplicate), and the flows seen on more than
 * one queue. */
static int recv_merge_workers(struct recv_run *r)
{
	uint32_t flow;
	uint16_t i;

	recv_gather(r);
	seq_tracker_destroy(&r->seqs);
	r->seqs = r->workers[0].view->seqs;
	memset(&r->workers[0].view->seqs, 0, sizeof(r->seqs));
	for (i = 1; i < r->queues; i++)
		if (seq_tracker_merge(&r->seqs, &r->workers[i].view->seqs) < 0)
			return -ENOMEM;
	for (flow = 0; flow < SEQ_TRACK_MAX_FLOWS; flow++) {
		unsigned on = 0;

		for (i = 0; i < r->queues; i++)
			on += r->workers[i].view->flow_queue[flow] != 0;
		r->flows_split += on > 1;
	}
	return 0;
}

static int recv_judge_workers(struct recv_run *r)
{
	int rc = 0;
	uint16_t i;

	for (i = 0; i < r->queues; i++) {
		struct recv_worker *w = &r->workers[i];

		if (!__atomic_load_n(&w->posted, __ATOMIC_ACQUIRE))
			continue;
		if (session_judge_health(&r->session, r->dev, w->state,
					 w->message) < 0)
			rc = -1;
		__atomic_store_n(&w->posted, false, __ATOMIC_RELEASE);
	}
	return rc;
}

static bool recv_workers_done(const struct recv_run *r)
{
	uint16_t i;

	for (i = 0; i < r->queues; i++)
		if (__atomic_load_n(&r->workers[i].done, __ATOMIC_ACQUIRE))
			return true;
	return false;
}

/* The main thread while the queues' threads receive: stop conditions,
 * rate lines, the health they found, the removal look (which stops the
 * threads before the check that touches every queue). */
static enum recv_stop recv_loop_threads(struct recv_run *r)
{
	enum recv_stop stop = RECV_RUNNING;
	uint64_t now, last_packets = 0, elapsed;
	struct sn_dev *removed;
	int rc;

	r->start_ns = clock_coarse_ns();
	ticker_start(&r->tick, r->start_ns);
	rc = recv_workers_start(r);
	if (rc < 0) {
		session_error(&r->session, "cannot start the receive threads: %s",
			      strerror(-rc));
		return RECV_DEVICE_FAILED;
	}
	while (stop == RECV_RUNNING) {
		session_sleep_ns(RECV_MAIN_SLEEP_NS);
		now = clock_coarse_ns();
		elapsed = now - r->start_ns;
		recv_gather(r);
		if (r->counts.rx_packets != last_packets) {
			last_packets = r->counts.rx_packets;
			r->last_rx_ns = now;
		}
		removed = session_removal_due(&r->session, now);
		if (removed) {
			recv_workers_stop(r, r->queues);
			session_check_health(&r->session, removed);
			stop = RECV_DEVICE_FAILED;
		} else if ((stop = recv_count_stop(r)) != RECV_RUNNING) {
		} else if ((ticker_due(&r->tick, now) && recv_tick(r, now) < 0) ||
			   recv_workers_done(r)) {
			stop = RECV_DEVICE_FAILED;
		} else if (r->opt->duration_ns && elapsed >= r->opt->duration_ns) {
			stop = RECV_DURATION;
		} else if (r->opt->timeout_ns && elapsed >= r->opt->timeout_ns) {
			stop = RECV_TIMEOUT;
		} else if (recv_idle(r, now)) {
			stop = RECV_IDLE;
		}
	}
	recv_workers_stop(r, r->queues);
	if (recv_judge_workers(r) < 0)
		stop = RECV_DEVICE_FAILED;
	if (recv_merge_workers(r) < 0)
		session_error(&r->session, "warning: out of memory merging the "
			      "queues' sequence bitmaps; lost and duplicated "
			      "count only the first queues");
	return stop;
}

/* ---- results ---------------------------------------------------------- */

static const char *recv_stop_reason(enum recv_stop stop)
{
	switch (stop) {
	case RECV_INTERRUPTED: return "interrupted";
	case RECV_ALL_EXPECTED: return "all expected frames arrived";
	case RECV_COUNT_REACHED: return "--count frames arrived";
	case RECV_IDLE: return "idle: no frame within --idle-timeout";
	case RECV_DURATION: return "--duration over";
	case RECV_TIMEOUT: return "--timeout over";
	case RECV_DEVICE_FAILED: return "device failed";
	case RECV_RUNNING: break;
	}
	return "unknown";
}

static void recv_fill_summary(struct recv_run *r, double seconds,
			      struct recv_summary *sum)
{
	struct sn_stats end;
	uint16_t q;

	sn_dev_stats(r->dev, &end);
	memset(sum, 0, sizeof(*sum));
	sum->dev = r->addr;
	sum->checked = !r->opt->count_only;
	sum->rx_packets = r->counts.rx_packets;
	sum->rx_bytes = r->counts.rx_bytes;
	sum->valid = r->counts.valid;
	sum->lost = seq_tracker_lost(&r->seqs, r->opt->expect);
	sum->duplicated = r->seqs.duplicated;
	sum->reordered = r->seqs.reordered;
	sum->corrupted = r->counts.corrupted;
	sum->foreign = r->counts.foreign;
	sum->out_of_range = r->seqs.out_of_range;
	sum->flows = r->seqs.flows;
	sum->interleaved = r->seqs.interleaved;
	sum->mixed_flows = r->seqs.mixed_flows;
	sum->queues = r->queues;
	for (q = 0; q < r->queues; q++) {
		sum->q[q].packets = r->q[q].rx_packets;
		sum->q[q].flows = r->q[q].flows;
	}
	sum->flows_split = r->flows_split;
	sum->rss_hashed = recv_rss_hashed(r);
	sum->rss_misplaced = r->rss_misplaced;
	sum->has_queue_stats = true;
	for (q = 0; q < r->queues; q++) {
		struct sn_queue_stats st;

		if (sn_dev_queue_stats(r->dev, q, &st) < 0) {
			sum->has_queue_stats = false;
			break;
		}
		sum->q[q].lib_packets = st.rx_packets - r->q[q].base.rx_packets;
	}
	sum->rx_drops = end.rx_drops - r->base.rx_drops;
	sum->rx_errors = end.rx_errors - r->base.rx_errors;
	sum->device_errors = end.device_errors - r->base.device_errors;
	sum->rx_starved = end.rx_starved - r->base.rx_starved;
	sum->queue_resets = end.queue_resets - r->base.queue_resets;
	sum->status = session_health(&r->session, &end, &r->base).status;
	sum->seconds = seconds;
	sum->hw = session_hw_counts(&end, &r->base);
}

/* With --expect the run is a test; without, a measurement. */
static int recv_verdict(const struct recv_run *r, const struct recv_summary *s)
{
	bool pass = s->lost == 0 && s->duplicated == 0 && s->corrupted == 0;
	FILE *out = r->session.info;

	if (!r->opt->expect)
		return CLI_EXIT_OK;
	fprintf(out, "result: %s (expected %" PRIu64 ": %" PRIu64 " lost, %"
		PRIu64 " duplicated, %" PRIu64 " corrupted)\n",
		pass ? "PASS" : "FAIL", r->opt->expect, s->lost, s->duplicated,
		s->corrupted);
	fflush(out);
	return pass ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

static int run_receiver(struct recv_run *r)
{
	struct recv_summary sum;
	enum recv_stop stop;
	double seconds;
	uint16_t q;

	sn_dev_stats(r->dev, &r->base);
	r->last = r->base;
	for (q = 0; q < r->queues; q++)
		sn_dev_queue_stats(r->dev, q, &r->q[q].base);
	/* --count is exact only when one thread counts. */
	stop = r->queues > 1 && !r->opt->count ? recv_loop_threads(r)
					       : recv_loop(r);
	seconds = (double)(clock_coarse_ns() - r->start_ns) / (double)NS_PER_SEC;
	fprintf(r->session.info, "recv: stopped: %s\n", recv_stop_reason(stop));
	recv_fill_summary(r, seconds, &sum);
	report_recv_summary(r->session.info, &sum);
	if (r->session.json) {
		struct sn_stats end;

		sn_dev_stats(r->dev, &end);
		recv_json(r, &end, &r->base, true, seconds, seconds);
	}
	if (stop == RECV_DEVICE_FAILED)
		return CLI_EXIT_FAILURE;
	return recv_verdict(r, &sum);
}

static int recv_setup(struct recv_run *r)
{
	/* The device fills its own pool. Promiscuous, so that frames to
	 * any MAC are counted (as foreign when they are not ours).
	 * Transmit is unused, but the API has no receive-only mode. */
	struct sn_dev_config cfg = { .rx_queues = r->queues, .tx_queues = 1,
				     .unicast_filter = false, .mtu = (uint16_t)r->opt->mtu };
	uint64_t limit = r->opt->expect ? r->opt->expect
					: SEQ_TRACK_DEFAULT_LIMIT;

	r->flow_queue = calloc(SEQ_TRACK_MAX_FLOWS, sizeof(*r->flow_queue));
	if (!r->flow_queue || seq_tracker_init(&r->seqs, limit) < 0) {
		session_error(&r->session, "out of memory for the sequence "
			      "bitmap");
		return -1;
	}
	r->dev = session_open_dev(&r->session, r->addr, &cfg);
	if (!r->dev)
		return -1;
	session_report_memory(&r->session);
	return 0;
}

static int recv_main(const struct recv_options *o, const char *addr)
{
	struct recv_run *r = calloc(1, sizeof(*r));
	int status = CLI_EXIT_FAILURE;

	if (!r) {
		fprintf(stderr, "safenic recv: out of memory\n");
		return status;
	}
	r->addr = addr;
	r->opt = o;
	r->queues = (uint16_t)o->queues;
	if (session_start(&r->session, "recv", o->unsafe,
			  (enum sn_mem_kind)o->memory, o->verbose, o->json) == 0 &&
	    recv_setup(r) == 0)
		status = run_receiver(r);
	session_end(&r->session);
	recv_workers_free(r);
	seq_tracker_destroy(&r->seqs);
	free(r->flow_queue);
	free(r);
	return status;
}

/* ---- command line ----------------------------------------------------- */

int cmd_recv(int argc, char **argv)
{
	struct recv_options o = { .batch = CLI_DEFAULT_BATCH, .mtu = SN_MTU_DEFAULT, .queues = 1,
				  .idle_ns = 3 * NS_PER_SEC };
	const struct arg_option options[] = {
		{ "expect", ARG_UINT, &o.expect, 0, SEQ_TRACK_DEFAULT_LIMIT,
		  "N", "frames the generator sends (sequence numbers 0..N-1); "
		  "stop when all arrived; exit 1 if "
		  "any is lost, duplicated or corrupted; 0 = not a test",
		  NULL },
		{ "count", ARG_UINT, &o.count, 0, UINT64_MAX, "N",
		  "stop after N frames of any kind; 0 = no limit", NULL },
		{ "duration", ARG_DURATION, &o.duration_ns, 0, 0, "SEC",
		  "stop after this long; 0 = no limit", NULL },
		{ "idle-timeout", ARG_DURATION, &o.idle_ns, 0, 0, "SEC",
		  "stop when no frame came for this long, counted from the "
		  "last frame; 0 = never", NULL },
		{ "timeout", ARG_DURATION, &o.timeout_ns, 0, 0, "SEC",
		  "give up after this long in total, frames or not; 0 = never",
		  NULL },
		CLI_OPTION_BATCH(o.batch),
		CLI_OPTION_MTU(o.mtu),
		{ "queues", ARG_UINT, &o.queues, 1, SN_MAX_QUEUES, "N",
		  "receive queues, with RSS spreading flows over them when "
		  "N > 1; each is counted apart, by a thread of its own "
		  "(one thread for all with --count)", NULL },
		{ "count-only", ARG_FLAG, &o.count_only, 0, 0, NULL,
		  "count frames and bytes without reading or checking them "
		  "(a rate measurement, like testpmd's rxonly)", NULL },
		CLI_OPTION_UNSAFE(o.unsafe),
		CLI_OPTION_MEMORY(o.memory),
		CLI_OPTION_JSON(o.json),
		CLI_OPTION_VERBOSE(o.verbose),
	};
	const struct arg_command command = {
		.name = "recv",
		.positional = "DEV",
		.min_positional = 1,
		.max_positional = 1,
		.description =
			"Receive on the PCI device DEV and check every frame "
			"against the format of\n`safenic gen`: counts valid, "
			"lost, duplicated, reordered, corrupted and foreign\n"
			"(non-generator) frames. With gen --flows, order is "
			"judged inside each flow.\nPrints a rate line every "
			"second and a summary.",
		.options = options,
		.option_count = sizeof(options) / sizeof(options[0]),
	};
	char addr[SESSION_DEV_LEN];
	int status;

	if (!session_parse_one_dev(&command, argc, argv, addr, &status))
		return status;
	if (o.count_only && o.expect)
		return args_usage_error(&command, "--count-only does not read "
					"the frames, so it cannot check --expect; "
					"give one of the two");
	return recv_main(&o, addr);
}
