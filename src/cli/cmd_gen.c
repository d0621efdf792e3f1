/* `safenic gen DEV`: sends test frames (packet.h) as fast as asked.
 *
 * Every buffer of the pool gets the whole frame written once, at start:
 * the device only reads them (the pool is mapped read-only in the IOMMU)
 * and they come back unchanged. Per packet only the sequence number, the
 * timestamp, the IP id and the two checksums are written, the checksums
 * incrementally from precomputed sums.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "json.h"
#include "packet.h"
#include "report.h"
#include "session.h"

/* Below this gap to the next packet, spinning on the clock is cheaper
 * and more exact than a sleep system call. */
#define GEN_SLEEP_THRESHOLD_NS UINT64_C(200000)
/* Sleep no longer, to stay on time for the rate line and signals. */
#define GEN_MAX_SLEEP_NS UINT64_C(10000000)
/* Closing a device stops its DMA at once: before that, wait for queued
 * frames to go out for as long as the device makes progress, giving up
 * after this long without any. */
#define GEN_DRAIN_NS NS_PER_SEC
/* How often the main thread looks up while the queues' threads send. */
#define GEN_MAIN_SLEEP_NS (10 * UINT64_C(1000000))

struct gen_options {
	uint64_t count, duration_ns, rate, size, batch, pool, mtu;
	uint64_t src_port, dst_port, flows, queues;
	struct arg_mac src_mac, dst_mac;
	uint32_t src_ip, dst_ip;
	bool unsafe, verbose, json;
	unsigned memory;           /* enum sn_mem_kind, --memory */
};

/* Pacing to a rate: frames the driver accepted since start_ns. */
struct gen_pace {
	uint64_t rate;                   /* 0 = as fast as possible */
	uint64_t sent;
	uint64_t start_ns;
};

/* One transmit queue and the frames of its flows (pkt_flow_cursor). With
 * several queues each has a thread of its own (gen_worker); the main
 * thread then reads generated and sent (relaxed atomics: one writer) and
 * the health its thread found. */
struct gen_queue {
	uint16_t id;
	struct pkt_flow_cursor flows;
	uint64_t generated;              /* frames stamped */
	uint64_t sent;                   /* frames the driver accepted */
	uint64_t last_sent;              /* at the last tick (main thread) */
	struct gen_run *run;
	pthread_t thread;
	struct gen_pace pace;            /* its share of --rate (threads) */
	/* What its once-a-second sn_dev_check_queue found, for the main
	 * thread to report: posted (release) after state and message. */
	enum sn_dev_state state;
	char message[256];
	bool posted;
	bool done;                       /* the thread has finished */
	struct sn_queue_stats base;      /* the library's, at the start */
	uint16_t pending;                /* stamped, not yet accepted */
	struct sn_pkt *pkts[CLI_MAX_BATCH];
};

struct gen_run {
	struct session session;
	struct sn_mempool *pool;
	struct sn_dev *dev;
	const char *addr;
	uint16_t batch;
	uint64_t rate, count;            /* 0 = unlimited */
	uint32_t flows;
	uint16_t queues;
	uint16_t turn;                   /* the queue whose turn it is */
	struct gen_pace pace;            /* one thread: all queues */
	uint64_t start_ns, duration_ns;
	bool stop;                       /* threads: the main thread says stop */
	struct gen_queue q[SN_MAX_QUEUES];
	struct ticker tick;
	struct sn_stats base, last;      /* at start, at the last tick */
	struct pkt_template tmpl;
};

/* ---- setup ------------------------------------------------------------ */

static int gen_build_template(struct gen_run *g, const struct gen_options *o)
{
	struct pkt_flow flow;

	memset(&flow, 0, sizeof(flow));
	memcpy(flow.dst_mac, o->dst_mac.addr, 6);
	if (o->src_mac.given)
		memcpy(flow.src_mac, o->src_mac.addr, 6);
	else
		sn_dev_mac(g->dev, flow.src_mac);
	flow.src_ip = o->src_ip;
	flow.dst_ip = o->dst_ip;
	flow.src_port = (uint16_t)o->src_port;
	flow.dst_port = (uint16_t)o->dst_port;
	flow.frame_len = (uint16_t)o->size;
	flow.flows = (uint32_t)o->flows;
	if (pkt_template_init(&g->tmpl, &flow) < 0) {
		session_error(&g->session, "frame size %u is out of range",
			      flow.frame_len);
		return -1;
	}
	return 0;
}

/* Writes the template into every buffer of the pool, once. */
static int gen_prepare_buffers(struct gen_run *g)
{
	uint32_t size = sn_mempool_size(g->pool), got = 0, n, i;
	struct sn_pkt **all = calloc(size, sizeof(*all));

	if (!all) {
		session_error(&g->session, "out of memory preparing %u buffers; "
			      "use a smaller --pool", size);
		return -1;
	}
	while (got < size &&
	       (n = sn_pkt_alloc_bulk(g->pool, all + got, size - got)) > 0)
		got += n;
	for (i = 0; i < got; i++)
		pkt_write_template(&g->tmpl, all[i]->data);
	sn_pkt_free_bulk(all, got);
	free(all);
	if (got < size) {
		session_error(&g->session, "could take only %u of the pool's %u "
			      "buffers to prepare them", got, size);
		return -1;
	}
	return 0;
}

static int gen_setup(struct gen_run *g, const struct gen_options *o)
{
	/* The API has no transmit-only mode (rx_queues 0 means 1): keep the
	 * receive queue quiet with the unicast filter, and never poll it. */
	struct sn_dev_config cfg = { .rx_queues = 1, .tx_queues = g->queues,
				     .unicast_filter = true, .mtu = (uint16_t)o->mtu };

	/* The device's problems first: they say more than a failed pool. */
	if (session_check_dev(&g->session, g->addr) < 0)
		return -1;
	g->pool = session_create_pool(&g->session, o->pool,
				      SN_POOL_DEVICE_READ_ONLY);
	if (!g->pool)
		return -1;
	if (sn_mempool_data_room(g->pool) < o->size) {
		session_error(&g->session, "--size %u does not fit the pool's "
			      "%u-byte buffers", (unsigned)o->size,
			      sn_mempool_data_room(g->pool));
		return -1;
	}
	g->dev = session_open_dev(&g->session, g->addr, &cfg);
	if (!g->dev || gen_build_template(g, o) < 0 ||
	    gen_prepare_buffers(g) < 0)
		return -1;
	session_report_memory(&g->session);
	return 0;
}

/* ---- datapath --------------------------------------------------------- */

/* Frames the rate allows by now, minus those sent: one frame at the start,
 * then one every 1/rate seconds. Capped at a batch. */
static uint16_t gen_budget(const struct gen_pace *p, uint16_t batch,
			   uint64_t now)
{
	uint64_t due;

	if (!p->rate)
		return batch;
	due = (uint64_t)((double)p->rate * (double)(now - p->start_ns) /
			 (double)NS_PER_SEC) + 1;
	if (due <= p->sent)
		return 0;
	return due - p->sent < batch ? (uint16_t)(due - p->sent) : batch;
}

/* Nothing is due yet: sleep when the next frame is far enough away to be
 * worth a system call (once per batch at most), else spin. */
static void gen_wait(const struct gen_pace *p, uint64_t now)
{
	uint64_t next = p->start_ns + (uint64_t)((double)p->sent *
				(double)NS_PER_SEC / (double)p->rate);
	uint64_t gap = next > now ? next - now : 0;

	if (gap > GEN_SLEEP_THRESHOLD_NS) {
		gap -= GEN_SLEEP_THRESHOLD_NS / 2;
		session_sleep_ns(gap < GEN_MAX_SLEEP_NS ? gap : GEN_MAX_SLEEP_NS);
	}
}

/* Tops the queue's pending frames up to budget with fresh buffers, each
 * stamped with the queue's next number. One timestamp for the batch:
 * they leave together, and it spares a clock read per packet. */
static void gen_fill(struct gen_run *g, struct gen_queue *q, uint16_t budget,
		     uint64_t now)
{
	uint32_t want, got, i;
	uint64_t seq;

	if (q->pending >= budget)
		return;
	want = (uint32_t)(budget - q->pending);
	got = sn_pkt_alloc_bulk(g->pool, q->pkts + q->pending, want);
	for (i = 0; i < got && pkt_cursor_peek(&q->flows, g->count, &seq); i++) {
		struct sn_pkt *pkt = q->pkts[q->pending + i];

		pkt->len = g->tmpl.frame_len;
		pkt_stamp(&g->tmpl, pkt->data, seq, now);
		pkt_cursor_advance(&q->flows);
	}
	/* Buffers beyond --count go straight back. */
	sn_pkt_free_bulk(q->pkts + q->pending + i, got - i);
	q->pending = (uint16_t)(q->pending + i);
	__atomic_store_n(&q->generated, q->generated + i, __ATOMIC_RELAXED);
}

/* Frames the driver did not take keep their sequence numbers and go
 * first next time, so the receiver sees no gap. */
static void gen_keep_unsent(struct gen_queue *q, uint16_t sent)
{
	q->pending = (uint16_t)(q->pending - sent);
	if (sent && q->pending)
		memmove(q->pkts, q->pkts + sent,
			q->pending * sizeof(q->pkts[0]));
}

/* Tops up and sends one batch of queue q; returns how many it took. */
static uint16_t gen_send(struct gen_run *g, struct gen_queue *q,
			 uint16_t budget, uint64_t now)
{
	uint16_t n, sent;

	gen_fill(g, q, budget, now);
	n = q->pending < budget ? q->pending : budget;
	sent = sn_tx_burst(g->dev, q->id, q->pkts, n);
	gen_keep_unsent(q, sent);
	__atomic_store_n(&q->sent, q->sent + sent, __ATOMIC_RELAXED);
	return sent;
}

/* One batch, on the queue whose turn it is (one thread for all queues).
 * Also called with nothing to send when the pool is empty, so the driver
 * can reclaim the buffers it has finished sending. */
static void gen_step(struct gen_run *g, uint64_t now)
{
	struct gen_queue *q = &g->q[g->turn];
	uint16_t budget = gen_budget(&g->pace, g->batch, now);

	if (budget == 0) {
		gen_wait(&g->pace, now);
		return;
	}
	if (++g->turn == g->queues)
		g->turn = 0;
	g->pace.sent += gen_send(g, q, budget, now);
}

static bool gen_queue_finished(const struct gen_run *g,
			       const struct gen_queue *q)
{
	uint64_t seq;

	return g->count && q->pending == 0 &&
	       !pkt_cursor_peek(&q->flows, g->count, &seq);
}

/* Read by the main thread while the queue's own thread writes it. */
static uint64_t gen_queue_sent(const struct gen_queue *q)
{
	return __atomic_load_n(&q->sent, __ATOMIC_RELAXED);
}

static uint64_t gen_total(const struct gen_run *g, size_t field)
{
	uint64_t sum = 0;
	uint16_t i;

	for (i = 0; i < g->queues; i++)
		sum += __atomic_load_n((const uint64_t *)((const char *)&g->q[i] +
							   field),
				       __ATOMIC_RELAXED);
	return sum;
}

static bool gen_finished(const struct gen_run *g)
{
	uint16_t i;

	for (i = 0; i < g->queues; i++)
		if (!gen_queue_finished(g, &g->q[i]))
			return false;
	return true;
}

static void gen_queues_init(struct gen_run *g)
{
	uint16_t i;

	for (i = 0; i < g->queues; i++) {
		g->q[i].id = i;
		pkt_cursor_init(&g->q[i].flows, g->flows, g->queues, i);
	}
}

/* ---- control ---------------------------------------------------------- */

/* Keys must outlive the record: one static name per queue. */
static const char *const gen_q_key[SN_MAX_QUEUES] = {
	"q0_tx_packets", "q1_tx_packets", "q2_tx_packets", "q3_tx_packets",
	"q4_tx_packets", "q5_tx_packets", "q6_tx_packets", "q7_tx_packets",
};

static const char *const gen_q_lib_key[SN_MAX_QUEUES] = {
	"q0_lib_tx_packets", "q1_lib_tx_packets", "q2_lib_tx_packets",
	"q3_lib_tx_packets", "q4_lib_tx_packets", "q5_lib_tx_packets",
	"q6_lib_tx_packets", "q7_lib_tx_packets",
};

/* The tool's per-queue counts, and the library's (sn_dev_queue_stats,
 * which only reads memory). */
static void gen_json_queues(const struct gen_run *g, struct json_record *r)
{
	struct sn_queue_stats st;
	uint16_t i;

	json_u64(r, "queues", g->queues);
	json_u64(r, "flows", g->flows);
	for (i = 0; i < g->queues; i++) {
		json_u64(r, gen_q_key[i], gen_queue_sent(&g->q[i]));
		if (sn_dev_queue_stats(g->dev, i, &st) == 0)
			json_u64(r, gen_q_lib_key[i],
				 st.tx_packets - g->q[i].base.tx_packets);
	}
}

/* With several queues, the frames each took in the last interval. */
static const char *gen_queue_rates(struct gen_run *g, char *out, size_t size)
{
	size_t len = 0;
	uint16_t i;

	out[0] = '\0';
	for (i = 0; i < g->queues && g->queues > 1 && len < size; i++) {
		int n = snprintf(out + len, size - len, "%sq%u %" PRIu64,
				 i ? " " : "frames per queue ", i,
				 gen_queue_sent(&g->q[i]) - g->q[i].last_sent);

		if (n < 0)
			break;
		len += (size_t)n;
		g->q[i].last_sent = gen_queue_sent(&g->q[i]);
	}
	return out[0] ? out : NULL;
}

/* One JSON Lines record: counters since the start; rates over the last
 * interval (or, when final, over the whole run). */
static void gen_json(const struct gen_run *g, const struct sn_stats *cur,
		     const struct sn_stats *from, bool final, double seconds,
		     double elapsed)
{
	struct json_record r;

	json_begin(&r, "gen", g->tick.seconds, final, elapsed);
	json_str(&r, "dev", g->addr);
	json_u64(&r, "tx_packets", cur->tx_packets - g->base.tx_packets);
	json_u64(&r, "tx_bytes", cur->tx_bytes - g->base.tx_bytes);
	json_u64(&r, "tx_drops", cur->tx_drops - g->base.tx_drops);
	json_u64(&r, "tx_errors", cur->tx_errors - g->base.tx_errors);
	json_u64(&r, "device_errors",
		 cur->device_errors - g->base.device_errors);
	json_u64(&r, "queue_resets", cur->queue_resets - g->base.queue_resets);
	json_str(&r, "status", session_health(&g->session, cur, &g->base).status);
	json_u64(&r, "generated",
		 gen_total(g, offsetof(struct gen_queue, generated)));
	gen_json_queues(g, &r);
	if (cur->has_hw_counters) {
		json_u64(&r, "hw_tx_packets",
			 cur->hw_tx_packets - g->base.hw_tx_packets);
		json_u64(&r, "hw_rx_packets",
			 cur->hw_rx_packets - g->base.hw_rx_packets);
	}
	json_rates(&r, "tx_pps", "tx_bps", cur->tx_packets - from->tx_packets,
		   cur->tx_bytes - from->tx_bytes, seconds);
	json_write(stdout, &r);
}

/* With a thread per queue, each checks its own queue once a second
 * (sn_dev_check_queue); here the main thread says what they found. */
static int gen_judge_queues(struct gen_run *g)
{
	int rc = 0;
	uint16_t i;

	for (i = 0; i < g->queues; i++) {
		struct gen_queue *q = &g->q[i];

		if (!__atomic_load_n(&q->posted, __ATOMIC_ACQUIRE))
			continue;
		if (session_judge_health(&g->session, g->dev, q->state,
					 q->message) < 0)
			rc = -1;
		__atomic_store_n(&q->posted, false, __ATOMIC_RELEASE);
	}
	return rc;
}

static int gen_tick(struct gen_run *g, uint64_t now, bool threads)
{
	double interval = ticker_advance(&g->tick, now);
	struct rate_segment seg;
	struct sn_stats cur;
	struct health health;
	char extra[24 * SN_MAX_QUEUES];
	/* First the check, so that this second's line says what it found
	 * (it may re-arm a queue, which the counters then show). */
	int rc = threads ? gen_judge_queues(g)
			 : session_check_health(&g->session, g->dev);

	sn_dev_stats(g->dev, &cur);
	health = session_health(&g->session, &cur, &g->base);
	if (g->session.json) {
		gen_json(g, &cur, &g->last, false, interval,
			 (double)(now - g->start_ns) / (double)NS_PER_SEC);
	} else {
		seg.port = g->addr;
		seg.dir = "tx";
		seg.packets = cur.tx_packets - g->last.tx_packets;
		seg.bytes = cur.tx_bytes - g->last.tx_bytes;
		report_rate_line(stdout, g->tick.seconds, interval, &seg, 1,
				 gen_queue_rates(g, extra, sizeof(extra)),
				 &health);
	}
	g->last = cur;
	return rc;
}

/* Returns 0 when stopped by count, duration or signal; -1 when the
 * device failed its health check. */
/* A rate needs the precise time at every step; flat out, the coarse
 * clock read every few batches will do (see clock_coarse_ns). */
static uint64_t gen_clock(const struct gen_run *g)
{
	return g->pace.rate ? clock_now_ns() : clock_coarse_ns();
}

static int gen_loop(struct gen_run *g, uint64_t duration_ns)
{
	uint64_t now = gen_clock(g), steps;
	uint64_t steps_per_clock_read = g->pace.rate ? 1 : CLI_POLLS_PER_CLOCK_READ;

	g->start_ns = now;
	g->pace.start_ns = now;
	ticker_start(&g->tick, now);
	for (steps = 0; !session_stop_requested() && !gen_finished(g); steps++) {
		if (steps % steps_per_clock_read == 0) {
			now = gen_clock(g);
			if (duration_ns && now - g->start_ns >= duration_ns)
				break;
			if (session_poll_removal(&g->session, now) < 0 ||
			    (ticker_due(&g->tick, now) && gen_tick(g, now, false) < 0))
				return -1;
		}
		gen_step(g, now);
	}
	return 0;
}

/* ---- a thread per queue ---------------------------------------------- */

static bool gen_worker_stop(const struct gen_run *g)
{
	return session_stop_requested() ||
	       __atomic_load_n(&g->stop, __ATOMIC_RELAXED);
}

/* Its own queue's health, once a second, posted for the main thread;
 * false when the queue cannot go on. */
static bool gen_worker_check(struct gen_run *g, struct gen_queue *q)
{
	enum sn_dev_state state = sn_dev_check_queue(g->dev, q->id);

	if (state == SN_DEV_OK ||
	    __atomic_load_n(&q->posted, __ATOMIC_ACQUIRE))
		return true;
	q->state = state;
	snprintf(q->message, sizeof(q->message), "%s",
		 sn_dev_check_queue_message(g->dev, q->id));
	__atomic_store_n(&q->posted, true, __ATOMIC_RELEASE);
	return state == SN_DEV_RECOVERED || state == SN_DEV_TX_STALLED;
}

/* One queue's thread: the loop of gen_loop for that queue alone, paced
 * at its share of the rate. The main thread does the rest. */
static void *gen_worker(void *arg)
{
	struct gen_queue *q = arg;
	struct gen_run *g = q->run;
	uint64_t now = g->start_ns, next_check = now + NS_PER_SEC, steps;
	uint64_t steps_per_clock_read = q->pace.rate ? 1 : CLI_POLLS_PER_CLOCK_READ;
	uint16_t budget;

	for (steps = 0; !gen_worker_stop(g) && !gen_queue_finished(g, q); steps++) {
		if (steps % steps_per_clock_read == 0) {
			now = gen_clock(g);
			if (g->duration_ns && now - g->start_ns >= g->duration_ns)
				break;
			if (now >= next_check) {
				next_check = now + NS_PER_SEC;
				if (!gen_worker_check(g, q))
					break;
			}
		}
		budget = gen_budget(&q->pace, g->batch, now);
		if (budget == 0)
			gen_wait(&q->pace, now);
		else
			q->pace.sent += gen_send(g, q, budget, now);
	}
	__atomic_store_n(&q->done, true, __ATOMIC_RELEASE);
	return NULL;
}

static bool gen_workers_done(const struct gen_run *g)
{
	uint16_t i;

	for (i = 0; i < g->queues; i++)
		if (!__atomic_load_n(&g->q[i].done, __ATOMIC_ACQUIRE))
			return false;
	return true;
}

static void gen_workers_join(struct gen_run *g, uint16_t started)
{
	uint16_t i;

	__atomic_store_n(&g->stop, true, __ATOMIC_RELAXED);
	for (i = 0; i < started; i++)
		pthread_join(g->q[i].thread, NULL);
}

/* Each queue gets the rate in proportion to its flows. */
static int gen_workers_start(struct gen_run *g)
{
	uint16_t i;
	int rc;

	for (i = 0; i < g->queues; i++) {
		struct gen_queue *q = &g->q[i];

		q->run = g;
		q->pace.rate = (uint64_t)((double)g->pace.rate *
					  q->flows.flow_count / g->flows);
		if (g->pace.rate && q->pace.rate == 0)
			q->pace.rate = 1;
		q->pace.start_ns = g->start_ns;
		rc = pthread_create(&q->thread, NULL, gen_worker, q);
		if (rc != 0) {
			gen_workers_join(g, i);
			session_error(&g->session, "cannot start a thread for "
				      "transmit queue %u: %s", i, strerror(rc));
			return -1;
		}
	}
	return 0;
}

/* The main thread while the queues' threads send: the rate line, the
 * health they found, the removal look. A removed device stops the
 * threads before the check that touches every queue. */
static int gen_loop_threads(struct gen_run *g)
{
	uint64_t now = gen_clock(g);
	struct sn_dev *removed;
	int rc = 0;

	g->start_ns = now;
	ticker_start(&g->tick, now);
	if (gen_workers_start(g) < 0)
		return -1;
	while (rc == 0 && !gen_workers_done(g)) {
		session_sleep_ns(GEN_MAIN_SLEEP_NS);
		now = clock_coarse_ns();
		removed = session_removal_due(&g->session, now);
		if (removed) {
			gen_workers_join(g, g->queues);
			return session_check_health(&g->session, removed) < 0 ? -1 : 0;
		}
		if (ticker_due(&g->tick, now))
			rc = gen_tick(g, now, true);
	}
	gen_workers_join(g, g->queues);
	/* What a thread found last, when it stopped on it. */
	if (gen_judge_queues(g) < 0)
		rc = -1;
	return rc;
}

/* Waits until the driver has given back every buffer, i.e. the device
 * has sent every accepted frame: closing the device stops its DMA at
 * once, and the transmit counters cannot tell (a driver may count a frame
 * when it is queued). Sending nothing lets the driver reclaim. Gives up
 * after GEN_DRAIN_NS without progress. */
static void gen_drain(struct gen_run *g)
{
	uint32_t size = sn_mempool_size(g->pool), free_count;
	uint32_t last = sn_mempool_free_count(g->pool);
	uint64_t now, last_progress = clock_now_ns();
	uint16_t i;

	while (last < size) {
		for (i = 0; i < g->queues; i++)
			sn_tx_burst(g->dev, i, g->q[i].pkts, 0);
		free_count = sn_mempool_free_count(g->pool);
		now = clock_now_ns();
		if (free_count != last) {
			last = free_count;
			last_progress = now;
		} else if (now - last_progress >= GEN_DRAIN_NS) {
			session_error(&g->session, "warning: %u frames were still "
				      "queued after %u s without progress; the "
				      "device may not have sent them", size - last,
				      (unsigned)(GEN_DRAIN_NS / NS_PER_SEC));
			return;
		}
		session_sleep_ns(1000000);
	}
}

static void gen_summarize(struct gen_run *g, double seconds)
{
	struct gen_summary sum = { 0 };
	struct sn_stats end;
	uint16_t i;

	sn_dev_stats(g->dev, &end);
	sum.dev = g->addr;
	sum.tx_packets = end.tx_packets - g->base.tx_packets;
	sum.tx_bytes = end.tx_bytes - g->base.tx_bytes;
	sum.tx_drops = end.tx_drops - g->base.tx_drops;
	sum.device_errors = end.device_errors - g->base.device_errors;
	sum.queue_resets = end.queue_resets - g->base.queue_resets;
	sum.status = session_health(&g->session, &end, &g->base).status;
	sum.seconds = seconds;
	sum.hw = session_hw_counts(&end, &g->base);
	sum.queues = g->queues;
	sum.has_queue_stats = true;
	for (i = 0; i < g->queues; i++) {
		struct sn_queue_stats st;

		sum.q_tx_packets[i] = gen_queue_sent(&g->q[i]);
		if (sn_dev_queue_stats(g->dev, i, &st) < 0)
			sum.has_queue_stats = false;
		else
			sum.q_lib_tx_packets[i] = st.tx_packets -
						  g->q[i].base.tx_packets;
	}
	report_gen_summary(g->session.info, &sum);
	if (g->session.json)
		gen_json(g, &end, &g->base, true, seconds, seconds);
}

static int run_generator(struct gen_run *g, const struct gen_options *o)
{
	double seconds;
	uint16_t i;
	int rc;

	g->batch = (uint16_t)o->batch;
	g->pace.rate = o->rate;
	g->count = o->count;
	g->duration_ns = o->duration_ns;
	gen_queues_init(g);
	sn_dev_stats(g->dev, &g->base);
	for (i = 0; i < g->queues; i++)
		sn_dev_queue_stats(g->dev, i, &g->q[i].base);
	g->last = g->base;
	rc = g->queues > 1 ? gen_loop_threads(g) : gen_loop(g, o->duration_ns);
	seconds = (double)(gen_clock(g) - g->start_ns) / (double)NS_PER_SEC;
	for (i = 0; i < g->queues; i++) {
		sn_pkt_free_bulk(g->q[i].pkts, g->q[i].pending);
		g->q[i].pending = 0;
	}
	if (rc == 0)
		gen_drain(g);
	gen_summarize(g, seconds);
	return rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

static int gen_main(const struct gen_options *o, const char *addr)
{
	struct gen_run *g = calloc(1, sizeof(*g));
	int status = CLI_EXIT_FAILURE;

	if (!g) {
		fprintf(stderr, "safenic gen: out of memory\n");
		return status;
	}
	g->addr = addr;
	g->flows = (uint32_t)o->flows;
	g->queues = (uint16_t)o->queues;
	if (session_start(&g->session, "gen", o->unsafe,
			  (enum sn_mem_kind)o->memory, o->verbose, o->json) == 0 &&
	    gen_setup(g, o) == 0)
		status = run_generator(g, o);
	session_end(&g->session);
	free(g);
	return status;
}

/* ---- command line ----------------------------------------------------- */

static void gen_defaults(struct gen_options *o)
{
	memset(o, 0, sizeof(*o));
	o->rate = 0;
	o->size = PKT_MIN_FRAME;
	o->batch = CLI_DEFAULT_BATCH;
	o->mtu = SN_MTU_DEFAULT;
	o->pool = GEN_DEFAULT_POOL;
	o->src_port = 4000;
	o->dst_port = 4001;
	o->flows = 1;
	o->queues = 1;
	memset(o->dst_mac.addr, 0xff, 6);
	o->src_ip = 0x0a000001;   /* 10.0.0.1 */
	o->dst_ip = 0x0a000002;   /* 10.0.0.2 */
}

int cmd_gen(int argc, char **argv)
{
	struct gen_options o;
	const struct arg_option options[] = {
		{ "count", ARG_UINT, &o.count, 0, UINT64_MAX, "N",
		  "frames to send; 0 = unlimited", NULL },
		{ "duration", ARG_DURATION, &o.duration_ns, 0, 0, "SEC",
		  "stop after this long; 0 = unlimited", NULL },
		{ "rate", ARG_UINT, &o.rate, 0, 1000000000, "PPS",
		  "frames per second; 0 = as fast as possible", NULL },
		{ "size", ARG_UINT, &o.size, PKT_MIN_FRAME, PKT_MAX_FRAME,
		  "BYTES", "frame size without FCS, 60..--mtu + 14 (1514 by default)", NULL },
		CLI_OPTION_BATCH(o.batch),
		CLI_OPTION_MTU(o.mtu),
		{ "pool", ARG_UINT, &o.pool, 64, 1u << 20, "N",
		  "transmit buffers, about 2 KiB each", NULL },
		{ "src-mac", ARG_MAC, &o.src_mac, 0, 0, "MAC",
		  "source MAC", "the device's MAC" },
		{ "dst-mac", ARG_MAC, &o.dst_mac, 0, 0, "MAC",
		  "destination MAC; broadcast reaches any peer without "
		  "promiscuous mode", NULL },
		{ "src-ip", ARG_IPV4, &o.src_ip, 0, 0, "IP", "source IPv4", NULL },
		{ "dst-ip", ARG_IPV4, &o.dst_ip, 0, 0, "IP",
		  "destination IPv4", NULL },
		{ "src-port", ARG_UINT, &o.src_port, 1, 65535, "PORT",
		  "UDP source port", NULL },
		{ "dst-port", ARG_UINT, &o.dst_port, 1, 65535, "PORT",
		  "UDP destination port", NULL },
		{ "flows", ARG_UINT, &o.flows, 1, PKT_MAX_FLOWS, "N",
		  "spread the frames over N flows, for a receiver's RSS: "
		  "frame n goes in flow n % N, from --src-ip + n % N and "
		  "--src-port + n % N; recv checks order inside each flow",
		  NULL },
		{ "queues", ARG_UINT, &o.queues, 1, SN_MAX_QUEUES, "N",
		  "transmit queues, a thread each; flow f goes out of queue "
		  "f % N (so a flow's frames leave in order); needs "
		  "--flows >= N", NULL },
		CLI_OPTION_UNSAFE(o.unsafe),
		CLI_OPTION_MEMORY(o.memory),
		CLI_OPTION_JSON(o.json),
		CLI_OPTION_VERBOSE(o.verbose),
	};
	const struct arg_command command = {
		.name = "gen",
		.positional = "DEV",
		.min_positional = 1,
		.max_positional = 1,
		.description =
			"Send UDP test frames from the PCI device DEV, each "
			"with a sequence number and a\ntransmit timestamp "
			"(`safenic recv` checks them). Stops after --count "
			"frames,\n--duration, or on Ctrl-C; prints a rate line "
			"every second and a summary.",
		.options = options,
		.option_count = sizeof(options) / sizeof(options[0]),
	};
	char addr[SESSION_DEV_LEN];
	int status;

	gen_defaults(&o);
	if (!session_parse_one_dev(&command, argc, argv, addr, &status))
		return status;
	if (o.src_port + o.flows - 1 > 65535)
		return args_usage_error(&command, "--src-port + --flows - 1 "
					"is past 65535: the last flow would "
					"have no source port; give a lower "
					"--src-port or fewer --flows");
	if (o.size > o.mtu + 14) {
		char why[160];
		snprintf(why, sizeof(why), "--size %u is longer than --mtu %u allows: frames of "
			 "at most %u bytes (the MTU + 14) are sent; give a smaller --size or a "
			 "larger --mtu", (unsigned)o.size, (unsigned)o.mtu, (unsigned)(o.mtu + 14));
		return args_usage_error(&command, why);
	}
	if (o.flows < o.queues)
		return args_usage_error(&command, "--flows must be at least "
					"--queues: each queue sends its own "
					"flows");
	return gen_main(&o, addr);
}
