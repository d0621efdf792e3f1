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
 *
 * --queues N: both devices get N queue pairs, RSS spreading the frames
 * they receive over them. Worker thread q forwards A's receive queue q
 * to B's transmit queue q and B's q to A's q, alone on those queues (a
 * queue is only ever driven by one thread), pinned to a core; it checks
 * its own queues' health once a second. The main thread does the rest of
 * the once-a-second work: rates, reports, removal and link events,
 * signals. With one queue pair the main thread forwards itself, as it
 * always did.
 *
 * --mode: poll spins on the receive queues; interrupt sleeps on the
 * queues' interrupts after every round that found nothing; adaptive
 * polls while frames come and sleeps after a quiet spell (see
 * FWD_ADAPTIVE_IDLE_ROUNDS).
 */
#define _GNU_SOURCE   /* pthread_attr_setaffinity_np, CPU_SET */

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "json.h"
#include "report.h"
#include "session.h"

#define FWD_DEFAULT_TX_WAIT_NS (250 * UINT64_C(1000000))
#define FWD_MAX_QUEUES SN_MAX_QUEUES

/* adaptive: the empty rounds (one receive burst on each of the worker's
 * two queues) after which it sleeps. Going to sleep and waking up cost a
 * register write to unmask, a poll() and an interrupt's trip through the
 * kernel: some microseconds on real hardware, far more under an
 * emulator. Polling about as long as that before sleeping keeps a
 * stream with short gaps on the polling path (no wake-up latency added
 * to it), while an idle queue pair sleeps after some microseconds (on a
 * host core an empty round takes tens of nanoseconds; in the TCG guest
 * about a microsecond, so a quarter of a millisecond there). NAPI, for
 * comparison, sleeps after the first poll that does not fill its budget
 * (--mode interrupt here); DPDK's l3fwd-power after a few hundred idle
 * rounds. */
#define FWD_ADAPTIVE_IDLE_ROUNDS 256

/* Longest wait of a thread that does the control work while nothing
 * else wakes it (the lone forwarder asleep, the main thread beside the
 * workers): the removal look is then due at least this often, so that a
 * hot-unplug is still reported within a second, and an idle forwarder
 * wakes about three times a second in all (two looks, one tick). While
 * polling, the lone forwarder looks every SESSION_REMOVAL_POLL_NS. */
#define FWD_CONTROL_WAIT_NS (500 * UINT64_C(1000000))

#define FWD_MESSAGE_LEN 256

enum fwd_mode { FWD_MODE_POLL, FWD_MODE_INTERRUPT, FWD_MODE_ADAPTIVE };

static const char *const fwd_mode_names[] = { "poll", "interrupt", "adaptive" };

struct fwd_options {
	uint64_t duration_ns, batch, pool, ring, tx_wait_ns, queues, mtu;
	const char *cores_text, *mode_text;
	enum fwd_mode mode;
	uint16_t cores[FWD_MAX_QUEUES];
	size_t core_count;         /* 0: the default placement */
	bool unsafe, verbose, json;
	unsigned memory;           /* enum sn_mem_kind, --memory */
};

/* One direction of one queue pair. Only its worker writes it. The
 * counters the main thread reads are atomics with one writer, updated
 * without read-modify-write: relaxed load and store, plain moves on x86. */
struct fwd_dir {
	struct sn_dev *from, *to;
	uint16_t queue;
	struct sn_pkt *held[CLI_MAX_BATCH];  /* received, not yet taken */
	uint16_t held_count;
	uint64_t progress_ns;            /* last time the transmitter took one */
	_Atomic uint64_t packets;        /* taken by the transmitter */
	_Atomic uint64_t drops;          /* given up on after --tx-wait */
};

/* What a worker's health check found on one device's queues since the
 * main thread last looked. */
struct fwd_found {
	enum sn_dev_state state;         /* SN_DEV_OK: nothing to say */
	char message[FWD_MESSAGE_LEN];
};

struct fwd_run;

struct fwd_worker {
	struct fwd_run *run;
	uint16_t queue;
	int core;                        /* -1: not pinned */
	struct fwd_dir dir[2];           /* [0] A->B, [1] B->A */
	int rx_fd[2];                    /* dir[i]'s receive interrupt, -1 */
	uint16_t batch;
	uint64_t tx_wait_ns;
	unsigned idle_limit;             /* empty rounds before sleeping; 0 never */
	unsigned idle_rounds;
	uint64_t now_ns;                 /* read every few rounds, not per burst */
	uint64_t next_check_ns;
	_Atomic uint64_t sleeps;         /* times it slept on its interrupts */
	_Atomic uint64_t wakeups;        /* of those, ended by a frame's */
	_Atomic uint64_t held;           /* frames held at its last clock read */
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;            /* guards found */
	struct fwd_found found[2];       /* [0] device A, [1] B */
};

struct fwd_run {
	struct session session;
	struct sn_mempool *pool;
	const char *addr[2];
	struct sn_dev *dev[2];
	struct fwd_worker worker[FWD_MAX_QUEUES];
	uint16_t queues;
	enum fwd_mode mode;
	bool mode_given;
	uint64_t start_ns;
	struct ticker tick;
	struct sn_stats base[2], last[2];
	struct sn_queue_stats qbase[2][FWD_MAX_QUEUES];
	struct sn_queue_stats qlast[2][FWD_MAX_QUEUES];
	int event_fd[2];                 /* link and other device events, -1 */
	uint64_t next_event_look_ns;
	double start_cpu_s;              /* process CPU time when forwarding began */
	int wake_fd;                     /* eventfd: wakes sleeping workers */
	atomic_bool stop;                /* asks the workers to stop */
};

static inline void counter_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

static inline uint64_t counter_get(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* ---- setup ------------------------------------------------------------ */

static void fwd_dir_init(struct fwd_dir *d, struct sn_dev *from,
			 struct sn_dev *to, uint16_t queue)
{
	d->from = from;
	d->to = to;
	d->queue = queue;
	d->held_count = 0;
	atomic_init(&d->packets, 0);
	atomic_init(&d->drops, 0);
}

/* The core of worker q: --cores in turn, else the cores this process may
 * run on in turn; -1 (not pinned) for a lone forwarder without --cores. */
static int fwd_core(const struct fwd_options *o, uint16_t q, const cpu_set_t *allowed)
{
	int count = CPU_COUNT(allowed), seen = 0, cpu;

	if (o->core_count)
		return o->cores[q % o->core_count];
	if (o->queues == 1 || count == 0)
		return -1;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, allowed) && seen++ == q % count)
			return cpu;
	return -1;
}

static void fwd_worker_init(struct fwd_run *f, const struct fwd_options *o,
			    uint16_t q, const cpu_set_t *allowed)
{
	struct fwd_worker *w = &f->worker[q];
	static const unsigned idle_limit[] = {
		[FWD_MODE_POLL] = 0, [FWD_MODE_INTERRUPT] = 1,
		[FWD_MODE_ADAPTIVE] = FWD_ADAPTIVE_IDLE_ROUNDS,
	};
	int i;

	w->run = f;
	w->queue = q;
	w->core = fwd_core(o, q, allowed);
	fwd_dir_init(&w->dir[0], f->dev[0], f->dev[1], q);
	fwd_dir_init(&w->dir[1], f->dev[1], f->dev[0], q);
	for (i = 0; i < 2; i++)
		w->rx_fd[i] = o->mode == FWD_MODE_POLL ? -1 :
			      sn_rx_intr_fd(f->dev[i], q);
	w->batch = (uint16_t)o->batch;
	w->tx_wait_ns = o->tx_wait_ns;
	w->idle_limit = idle_limit[o->mode];
	atomic_init(&w->sleeps, 0);
	atomic_init(&w->wakeups, 0);
	atomic_init(&w->held, 0);
	pthread_mutex_init(&w->lock, NULL);
}

/* Interrupt and adaptive modes need every receive queue's interrupt. */
static int fwd_check_interrupts(struct fwd_run *f)
{
	uint16_t q;
	int i;

	for (q = 0; q < f->queues; q++)
		for (i = 0; i < 2; i++)
			if (f->worker[q].rx_fd[i] < 0) {
				session_error(&f->session, "%s has no interrupt "
					      "for receive queue %u (driver %s): "
					      "use --mode poll", f->addr[i], q,
					      sn_dev_driver_name(f->dev[i]));
				return -1;
			}
	return 0;
}

static int fwd_setup(struct fwd_run *f, const struct fwd_options *o)
{
	/* Promiscuous (no unicast filter): a forwarder passes everything. */
	struct sn_dev_config cfg = { .rx_queues = (uint16_t)o->queues,
				     .tx_queues = (uint16_t)o->queues,
				     .rx_ring_size = (uint16_t)o->ring,
				     .tx_ring_size = (uint16_t)o->ring,
				     .unicast_filter = false, .mtu = (uint16_t)o->mtu };
	cpu_set_t allowed;
	uint64_t bufs = o->pool ? o->pool : FWD_DEFAULT_POOL * o->queues;
	int i;

	cfg.rx_interrupts = o->mode != FWD_MODE_POLL;
	/* The devices' problems first: they say more than a failed pool. */
	for (i = 0; i < 2; i++)
		if (session_check_dev(&f->session, f->addr[i]) < 0)
			return -1;
	f->pool = session_create_pool(&f->session, bufs, 0);
	if (!f->pool)
		return -1;
	cfg.rx_pool = f->pool;
	for (i = 0; i < 2; i++) {
		f->dev[i] = session_open_dev(&f->session, f->addr[i], &cfg);
		if (!f->dev[i])
			return -1;
		f->event_fd[i] = o->mode == FWD_MODE_POLL ? -1 :
				 sn_dev_event_fd(f->dev[i]);
	}
	CPU_ZERO(&allowed);
	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
		CPU_ZERO(&allowed);
	f->queues = (uint16_t)o->queues;
	f->mode = o->mode;
	f->mode_given = o->mode_text != NULL;
	for (i = 0; i < f->queues; i++)
		fwd_worker_init(f, o, (uint16_t)i, &allowed);
	if (o->mode != FWD_MODE_POLL && fwd_check_interrupts(f) < 0)
		return -1;
	session_report_memory(&f->session);
	return 0;
}

/* ---- datapath --------------------------------------------------------- */

/* Offers the held frames to the transmitter; frees them as drops when it
 * has taken none for tx_wait_ns. */
static void fwd_transmit(struct fwd_dir *d, uint64_t now, uint64_t tx_wait_ns)
{
	uint16_t sent = sn_tx_burst(d->to, d->queue, d->held, d->held_count);

	counter_add(&d->packets, sent);
	d->held_count = (uint16_t)(d->held_count - sent);
	if (sent)
		d->progress_ns = now;
	if (d->held_count == 0)
		return;
	if (now - d->progress_ns >= tx_wait_ns) {
		sn_pkt_free_bulk(d->held + sent, d->held_count);
		counter_add(&d->drops, d->held_count);
		d->held_count = 0;
	} else if (sent) {
		memmove(d->held, d->held + sent,
			d->held_count * sizeof(d->held[0]));
	}
}

/* One burst in one direction: receive only when nothing is held. Returns
 * the frames received. */
static uint16_t fwd_burst(struct fwd_dir *d, uint16_t batch, uint64_t now,
			  uint64_t tx_wait_ns)
{
	uint16_t received = 0;

	if (d->held_count == 0) {
		received = d->held_count = sn_rx_burst(d->from, d->queue,
						       d->held, batch);
		if (d->held_count == 0)
			return 0;
		d->progress_ns = now;
	}
	fwd_transmit(d, now, tx_wait_ns);
	return received;
}

/* A burst each way on the worker's queue pair. */
static uint16_t fwd_round(struct fwd_worker *w)
{
	uint16_t n = fwd_burst(&w->dir[0], w->batch, w->now_ns, w->tx_wait_ns);

	return (uint16_t)(n + fwd_burst(&w->dir[1], w->batch, w->now_ns,
					w->tx_wait_ns));
}

/* Whether the worker should sleep now: interrupt mode after any empty
 * round, adaptive after idle_limit of them in a row. Never while frames
 * are held: the transmitter must be offered them again. */
static bool fwd_should_sleep(struct fwd_worker *w, uint16_t received)
{
	if (received || w->dir[0].held_count || w->dir[1].held_count) {
		w->idle_rounds = 0;
		return false;
	}
	return w->idle_limit && ++w->idle_rounds >= w->idle_limit;
}

static int ms_until(uint64_t now, uint64_t when)
{
	uint64_t ms;

	if (when <= now)
		return 0;
	ms = (when - now + 999999) / 1000000;
	return ms > 60000 ? 60000 : (int)ms;
}

/* Sleeps until a frame comes on either receive queue, one of the extra
 * fds is readable, or timeout_ms passes. Arms both queues' interrupts
 * first: sn_rx_intr_arm looks at the ring once more after unmasking, so a
 * frame that came before is seen there (no sleep: poll it) and one that
 * comes after raises the interrupt; no frame is slept through. Masks
 * them again after. Extra fds are left unread. Returns a bit per extra
 * fd that was readable. */
static unsigned fwd_sleep(struct fwd_worker *w, const int *extra,
			  unsigned extra_count, int timeout_ms)
{
	struct pollfd pfd[4];
	unsigned armed, i, fired = 0;
	bool frames = false;

	for (armed = 0; armed < 2; armed++)
		if (!sn_rx_intr_arm(w->dir[armed].from, w->queue))
			break;
	if (armed == 2) {
		for (i = 0; i < 2; i++)
			pfd[i] = (struct pollfd){ .fd = w->rx_fd[i], .events = POLLIN };
		for (i = 0; i < extra_count && i < 2; i++)
			pfd[2 + i] = (struct pollfd){ .fd = extra[i], .events = POLLIN };
		counter_add(&w->sleeps, 1);
		if (poll(pfd, 2 + i, timeout_ms) > 0) {
			/* sn_rx_intr_arm drains the fds next time. */
			for (i = 0; i < 2; i++)
				if (pfd[i].revents & POLLIN)
					frames = true;
			for (i = 0; i < extra_count && i < 2; i++)
				if (pfd[2 + i].revents & POLLIN)
					fired |= 1u << i;
		}
	}
	while (armed > 0)
		sn_rx_intr_disarm(w->dir[--armed].from, w->queue);
	/* Woken by frames: poll for a while before sleeping again. After a
	 * timeout, sleep again after the next empty round. */
	if (frames) {
		counter_add(&w->wakeups, 1);
		w->idle_rounds = 0;
	}
	return fired;
}

/* A worker thread's health check of its own queue pair, kept for the
 * main thread to report. */
static void fwd_worker_check(struct fwd_worker *w)
{
	int i;

	for (i = 0; i < 2; i++) {
		struct sn_dev *dev = w->run->dev[i];
		enum sn_dev_state state = sn_dev_check_queue(dev, w->queue);
		struct fwd_found *found = &w->found[i];

		if (state == SN_DEV_OK)
			continue;
		pthread_mutex_lock(&w->lock);
		/* A recovery never hides what stopped the run. */
		if (state != SN_DEV_RECOVERED || found->state == SN_DEV_OK) {
			found->state = state;
			snprintf(found->message, sizeof(found->message), "%s",
				 sn_dev_check_queue_message(dev, w->queue));
		}
		pthread_mutex_unlock(&w->lock);
	}
}

static void *fwd_worker_main(void *arg)
{
	struct fwd_worker *w = arg;
	struct fwd_run *f = w->run;
	uint64_t rounds;

	w->now_ns = clock_coarse_ns();
	w->next_check_ns = w->now_ns + NS_PER_SEC;
	for (rounds = 0; !atomic_load_explicit(&f->stop, memory_order_relaxed);
	     rounds++) {
		if (fwd_should_sleep(w, fwd_round(w)))
			fwd_sleep(w, &f->wake_fd, 1,
				  ms_until(w->now_ns, w->next_check_ns));
		else if (rounds % CLI_POLLS_PER_CLOCK_READ != 0)
			continue;
		w->now_ns = clock_coarse_ns();
		atomic_store_explicit(&w->held, (uint64_t)w->dir[0].held_count +
				      w->dir[1].held_count, memory_order_relaxed);
		if (w->now_ns >= w->next_check_ns) {
			w->next_check_ns = w->now_ns + NS_PER_SEC;
			fwd_worker_check(w);
		}
	}
	return NULL;
}

/* ---- workers ---------------------------------------------------------- */

/* Starts a thread per queue pair, pinned. The signals that stop the run
 * are blocked in the workers, so that they reach the main thread and end
 * its wait at once; crash signals stay with the thread that crashed. */
static int fwd_start_workers(struct fwd_run *f)
{
	static const int stopping[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };
	sigset_t block, old;
	uint16_t q;
	int rc = 0;
	size_t i;

	f->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (f->wake_fd < 0) {
		session_error(&f->session, "cannot create an eventfd: %s",
			      strerror(errno));
		return -1;
	}
	sigemptyset(&block);
	for (i = 0; i < sizeof(stopping) / sizeof(stopping[0]); i++)
		sigaddset(&block, stopping[i]);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	for (q = 0; q < f->queues && rc == 0; q++) {
		struct fwd_worker *w = &f->worker[q];
		pthread_attr_t attr;
		cpu_set_t cpus;

		pthread_attr_init(&attr);
		if (w->core >= 0) {
			CPU_ZERO(&cpus);
			CPU_SET((size_t)w->core, &cpus);
			pthread_attr_setaffinity_np(&attr, sizeof(cpus), &cpus);
		}
		rc = pthread_create(&w->thread, &attr, fwd_worker_main, w);
		pthread_attr_destroy(&attr);
		if (rc == 0)
			w->started = true;
		else if (w->core >= 0)
			session_error(&f->session, "cannot start the thread of "
				      "queue pair %u on core %d: %s (is the core "
				      "online and allowed? see --cores)", q,
				      w->core, strerror(rc));
		else
			session_error(&f->session, "cannot start the thread of "
				      "queue pair %u: %s", q, strerror(rc));
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc == 0 ? 0 : -1;
}

static void fwd_stop_workers(struct fwd_run *f)
{
	uint64_t one = 1;
	uint16_t q;

	atomic_store(&f->stop, true);
	/* Never read: it keeps every sleeping worker's poll() returning. */
	if (f->wake_fd >= 0 && write(f->wake_fd, &one, sizeof(one)) < 0)
		session_error(&f->session, "cannot wake the workers: %s",
			      strerror(errno));
	for (q = 0; q < f->queues; q++)
		if (f->worker[q].started) {
			pthread_join(f->worker[q].thread, NULL);
			f->worker[q].started = false;
		}
	if (f->wake_fd >= 0)
		close(f->wake_fd);
	f->wake_fd = -1;
}

/* A lone forwarder with --cores runs on the first core given. */
static int fwd_pin_self(struct fwd_run *f)
{
	int core = f->worker[0].core, rc;
	cpu_set_t cpus;

	if (core < 0)
		return 0;
	CPU_ZERO(&cpus);
	CPU_SET((size_t)core, &cpus);
	rc = pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus);
	if (rc == 0)
		return 0;
	session_error(&f->session, "cannot run on core %d: %s (is the core "
		      "online and allowed? see --cores)", core, strerror(rc));
	return -1;
}

/* ---- control ---------------------------------------------------------- */

static uint64_t fwd_forwarded(struct fwd_run *f, int dir)
{
	uint64_t n = 0;
	uint16_t q;

	for (q = 0; q < f->queues; q++)
		n += counter_get(&f->worker[q].dir[dir].packets);
	return n;
}

static uint64_t fwd_drops(struct fwd_run *f)
{
	uint64_t n = 0;
	uint16_t q;
	int i;

	for (q = 0; q < f->queues; q++)
		for (i = 0; i < 2; i++)
			n += counter_get(&f->worker[q].dir[i].drops);
	return n;
}

static uint64_t fwd_sleeps(struct fwd_run *f, bool wakeups)
{
	uint64_t n = 0;
	uint16_t q;

	for (q = 0; q < f->queues; q++)
		n += counter_get(wakeups ? &f->worker[q].wakeups :
				 &f->worker[q].sleeps);
	return n;
}

/* Frames held: the lone forwarder's own count, else as the workers last
 * published it. */
static uint64_t fwd_held(struct fwd_run *f)
{
	uint64_t n = 0;
	uint16_t q;

	if (f->queues == 1)
		return (uint64_t)f->worker[0].dir[0].held_count +
		       f->worker[0].dir[1].held_count;
	for (q = 0; q < f->queues; q++)
		n += counter_get(&f->worker[q].held);
	return n;
}

static void fwd_queue_stats(struct fwd_run *f,
			    struct sn_queue_stats st[2][FWD_MAX_QUEUES])
{
	uint16_t q;
	int i;

	for (i = 0; i < 2; i++)
		for (q = 0; q < f->queues; q++)
			if (sn_dev_queue_stats(f->dev[i], q, &st[i][q]) < 0)
				memset(&st[i][q], 0, sizeof(st[i][q]));
}

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

/* "rx per queue: a 2.5 kpps 2.4 kpps, b 0 pps 0 pps" for the rate line. */
static void fwd_queue_rates(const struct fwd_run *f,
			    struct sn_queue_stats cur[2][FWD_MAX_QUEUES],
			    double interval, char *out, size_t len)
{
	size_t used;
	uint16_t q;
	int i;

	used = (size_t)snprintf(out, len, "rx per queue:");
	for (i = 0; i < 2 && used < len; i++) {
		used += (size_t)snprintf(out + used, len - used, "%s %s",
					 i ? "," : "", i ? "b" : "a");
		for (q = 0; q < f->queues && used < len; q++) {
			char rate[32];
			uint64_t n = cur[i][q].rx_packets - f->qlast[i][q].rx_packets;

			report_format_rate(interval > 0 ? (double)n / interval : 0,
					   "pps", rate, sizeof(rate));
			used += (size_t)snprintf(out + used, len - used, " %s", rate);
		}
	}
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

#define FWD_QUEUE_KEYS(n)                                                \
	{ "q" #n "_a_to_b", "q" #n "_b_to_a", "a_q" #n "_rx_packets",    \
	  "a_q" #n "_tx_packets", "b_q" #n "_rx_packets",                \
	  "b_q" #n "_tx_packets", "a_q" #n "_rx_pps", "b_q" #n "_rx_pps" }

/* Per queue pair, with more than one: what its worker forwarded and
 * what each device's queue received and sent, since the start, and the
 * receive rates over the interval. */
static void fwd_json_queues(struct json_record *r, struct fwd_run *f,
			    struct sn_queue_stats cur[2][FWD_MAX_QUEUES],
			    struct sn_queue_stats from[2][FWD_MAX_QUEUES],
			    double seconds)
{
	static const char *const keys[FWD_MAX_QUEUES][8] = {
		FWD_QUEUE_KEYS(0), FWD_QUEUE_KEYS(1), FWD_QUEUE_KEYS(2),
		FWD_QUEUE_KEYS(3), FWD_QUEUE_KEYS(4), FWD_QUEUE_KEYS(5),
		FWD_QUEUE_KEYS(6), FWD_QUEUE_KEYS(7),
	};
	uint16_t q;
	int i;

	json_u64(r, "queues", f->queues);
	for (q = 0; q < f->queues; q++) {
		const char *const *k = keys[q];

		json_u64(r, k[0], counter_get(&f->worker[q].dir[0].packets));
		json_u64(r, k[1], counter_get(&f->worker[q].dir[1].packets));
		for (i = 0; i < 2; i++) {
			json_u64(r, k[2 + 2 * i], cur[i][q].rx_packets -
						  f->qbase[i][q].rx_packets);
			json_u64(r, k[3 + 2 * i], cur[i][q].tx_packets -
						  f->qbase[i][q].tx_packets);
		}
		for (i = 0; i < 2; i++)
			json_num(r, k[6 + i], seconds > 0 ?
				 (double)(cur[i][q].rx_packets -
					  from[i][q].rx_packets) / seconds : 0);
	}
}

/* One JSON Lines record: counters since the start; rates over the last
 * interval (or, when final, over the whole run). */
static void fwd_json(struct fwd_run *f, const struct sn_stats cur[2],
		     const struct sn_stats from[2],
		     struct sn_queue_stats qcur[2][FWD_MAX_QUEUES],
		     struct sn_queue_stats qfrom[2][FWD_MAX_QUEUES],
		     bool final, double seconds, double elapsed)
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
	json_u64(&r, "a_to_b", fwd_forwarded(f, 0));
	json_u64(&r, "b_to_a", fwd_forwarded(f, 1));
	json_u64(&r, "drops", fwd_drops(f));
	json_u64(&r, "held", fwd_held(f));
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
	if (f->mode_given) {
		json_str(&r, "mode", fwd_mode_names[f->mode]);
		json_u64(&r, "sleeps", fwd_sleeps(f, false));
		json_u64(&r, "wakeups", fwd_sleeps(f, true));
	}
	if (f->queues > 1)
		fwd_json_queues(&r, f, qcur, qfrom, seconds);
	json_write(stdout, &r);
}

/* Reports what the workers' checks found since the last look; a device
 * none of them found anything on still has its link watched. */
static int fwd_judge_workers(struct fwd_run *f)
{
	uint16_t q;
	int i;

	for (i = 0; i < 2; i++) {
		bool said = false;

		for (q = 0; q < f->queues; q++) {
			struct fwd_worker *w = &f->worker[q];
			struct fwd_found found;

			pthread_mutex_lock(&w->lock);
			found = w->found[i];
			w->found[i].state = SN_DEV_OK;
			pthread_mutex_unlock(&w->lock);
			if (found.state == SN_DEV_OK)
				continue;
			said = true;
			if (session_judge_health(&f->session, f->dev[i],
						 found.state, found.message) < 0)
				return -1;
		}
		if (!said && session_judge_health(&f->session, f->dev[i],
						  SN_DEV_OK, "") < 0)
			return -1;
	}
	return 0;
}

static int fwd_tick(struct fwd_run *f, uint64_t now)
{
	double interval = ticker_advance(&f->tick, now);
	struct sn_queue_stats qcur[2][FWD_MAX_QUEUES];
	struct rate_segment seg[4];
	struct sn_stats cur[2];
	struct health health;
	char queues[256];
	int i, rc = 0;

	/* First the checks, so that this second's line says what they found.
	 * A lone forwarder checks its devices itself; workers check their
	 * own queues and this thread reports it. */
	if (f->queues == 1)
		for (i = 0; i < 2 && rc == 0; i++)
			rc = session_check_health(&f->session, f->dev[i]);
	else
		rc = fwd_judge_workers(f);
	for (i = 0; i < 2; i++) {
		sn_dev_stats(f->dev[i], &cur[i]);
		fwd_port_segments(f, i, &cur[i], &seg[2 * i]);
	}
	if (f->queues > 1)
		fwd_queue_stats(f, qcur);
	health = session_health(&f->session, &cur[0], &f->base[0]);
	session_health_add(&health, &cur[1], &f->base[1]);
	if (f->session.json) {
		fwd_json(f, cur, f->last, qcur, f->qlast, false, interval,
			 (double)(now - f->start_ns) / (double)NS_PER_SEC);
	} else {
		if (f->queues > 1)
			fwd_queue_rates(f, qcur, interval, queues, sizeof(queues));
		report_rate_line(stdout, f->tick.seconds, interval, seg, 4,
				 f->queues > 1 ? queues : NULL, &health);
	}
	for (i = 0; i < 2; i++)
		f->last[i] = cur[i];
	if (f->queues > 1)
		memcpy(f->qlast, qcur, sizeof(qcur));
	return rc;
}

/* Prints the link changes the devices signalled (bit i: device i).
 * Reading the link (sn_dev_link) also drains the event fd. */
static void fwd_link_events(struct fwd_run *f, unsigned fired)
{
	int i;

	for (i = 0; i < 2; i++)
		if (fired & (1u << i))
			session_watch_link(&f->session, f->dev[i]);
}

/* Waits up to timeout_ms for a device event (or a signal); 0 just looks. */
static void fwd_wait_events(struct fwd_run *f, int timeout_ms)
{
	struct pollfd pfd[2];
	unsigned fired = 0;
	int i;

	for (i = 0; i < 2; i++)
		pfd[i] = (struct pollfd){ .fd = f->event_fd[i], .events = POLLIN };
	if (poll(pfd, 2, timeout_ms) <= 0)
		return;
	for (i = 0; i < 2; i++)
		if (pfd[i].revents & POLLIN)
			fired |= 1u << i;
	fwd_link_events(f, fired);
}

/* The lone forwarder's control work, between bursts: the removal look,
 * device events while it polls (while it sleeps they wake it), the
 * once-a-second tick. */
static int fwd_control(struct fwd_run *f, uint64_t now)
{
	if (session_poll_removal(&f->session, now) < 0)
		return -1;
	if ((f->event_fd[0] >= 0 || f->event_fd[1] >= 0) &&
	    now >= f->next_event_look_ns) {
		f->next_event_look_ns = now + SESSION_REMOVAL_POLL_NS;
		fwd_wait_events(f, 0);
	}
	if (ticker_due(&f->tick, now) && fwd_tick(f, now) < 0)
		return -1;
	return 0;
}

/* One queue pair: this thread forwards and does the control work.
 * Returns 0 when stopped by duration or signal; -1 when a device failed
 * its health check. */
static int fwd_loop_single(struct fwd_run *f, uint64_t duration_ns)
{
	struct fwd_worker *w = &f->worker[0];
	uint64_t polls, wake;
	int rc = 0;

	f->start_ns = w->now_ns = clock_coarse_ns();
	ticker_start(&f->tick, w->now_ns);
	for (polls = 0; !session_stop_requested() && rc == 0; polls++) {
		if (fwd_should_sleep(w, fwd_round(w))) {
			wake = w->now_ns + FWD_CONTROL_WAIT_NS;
			if (wake > f->tick.next_ns)
				wake = f->tick.next_ns;
			fwd_link_events(f, fwd_sleep(w, f->event_fd, 2,
						     ms_until(w->now_ns, wake)));
		} else if (polls % CLI_POLLS_PER_CLOCK_READ != 0) {
			continue;
		}
		w->now_ns = clock_coarse_ns();
		if (duration_ns && w->now_ns - f->start_ns >= duration_ns)
			break;
		rc = fwd_control(f, w->now_ns);
	}
	return rc;
}

/* Several queue pairs: the workers forward, this thread waits for device
 * events and does the control work. Returns as fwd_loop_single; sets
 * *removed to a device the kernel wants back, for the caller to check
 * once the workers are stopped (the check touches every queue). */
static int fwd_loop_threads(struct fwd_run *f, uint64_t duration_ns,
			    struct sn_dev **removed)
{
	uint64_t now = f->start_ns, until;

	ticker_start(&f->tick, now);
	while (!session_stop_requested()) {
		until = now + FWD_CONTROL_WAIT_NS;
		if (until > f->tick.next_ns)
			until = f->tick.next_ns;
		if (duration_ns && until > f->start_ns + duration_ns)
			until = f->start_ns + duration_ns;
		fwd_wait_events(f, ms_until(now, until));
		now = clock_coarse_ns();
		if (duration_ns && now - f->start_ns >= duration_ns)
			break;
		*removed = session_removal_due(&f->session, now);
		if (*removed)
			return -1;
		if (ticker_due(&f->tick, now) && fwd_tick(f, now) < 0)
			return -1;
	}
	return 0;
}

/* Frames still held when the run stops never went out: drops too. */
static void fwd_release_held(struct fwd_run *f)
{
	uint16_t q;
	int i;

	for (q = 0; q < f->queues; q++)
		for (i = 0; i < 2; i++) {
			struct fwd_dir *d = &f->worker[q].dir[i];

			sn_pkt_free_bulk(d->held, d->held_count);
			counter_add(&d->drops, d->held_count);
			d->held_count = 0;
		}
}

static double cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void fwd_summarize(struct fwd_run *f, double seconds)
{
	struct fwd_queue_summary per_queue[FWD_MAX_QUEUES];
	struct sn_queue_stats qend[2][FWD_MAX_QUEUES];
	struct fwd_summary sum;
	struct sn_stats end, ends[2];
	uint16_t q;
	int i;

	memset(&sum, 0, sizeof(sum));
	sum.a = f->addr[0];
	sum.b = f->addr[1];
	sum.a_to_b = fwd_forwarded(f, 0);
	sum.b_to_a = fwd_forwarded(f, 1);
	sum.drops = fwd_drops(f);
	for (i = 0; i < 2; i++) {
		sn_dev_stats(f->dev[i], &end);
		ends[i] = end;
		sum.device_errors += end.device_errors -
				     f->base[i].device_errors;
		sum.queue_resets += end.queue_resets - f->base[i].queue_resets;
		*(i == 0 ? &sum.hw_a : &sum.hw_b) = session_hw_counts(&end, &f->base[i]);
		*(i == 0 ? &sum.a_rx_starved : &sum.b_rx_starved) =
			end.rx_starved - f->base[i].rx_starved;
		*(i == 0 ? &sum.a_rx_errors : &sum.b_rx_errors) =
			end.rx_errors - f->base[i].rx_errors;
	}
	sum.status = session_health(&f->session, &ends[0], &f->base[0]).status;
	sum.seconds = seconds;
	if (f->mode_given) {
		sum.mode = fwd_mode_names[f->mode];
		sum.sleeps = fwd_sleeps(f, false);
		sum.wakeups = fwd_sleeps(f, true);
		sum.cpu_seconds = cpu_seconds() - f->start_cpu_s;
	}
	fwd_queue_stats(f, qend);
	if (f->queues > 1) {
		for (q = 0; q < f->queues; q++)
			per_queue[q] = (struct fwd_queue_summary){
				.a_to_b = counter_get(&f->worker[q].dir[0].packets),
				.b_to_a = counter_get(&f->worker[q].dir[1].packets),
				.a_rx_packets = qend[0][q].rx_packets -
						f->qbase[0][q].rx_packets,
				.b_rx_packets = qend[1][q].rx_packets -
						f->qbase[1][q].rx_packets,
			};
		sum.queues = f->queues;
		sum.per_queue = per_queue;
	}
	report_fwd_summary(f->session.info, &sum);
	if (f->session.json)
		fwd_json(f, ends, f->base, qend, f->qbase, true, seconds, seconds);
}

static int run_forwarder(struct fwd_run *f, const struct fwd_options *o)
{
	struct sn_dev *removed = NULL;
	double seconds;
	int rc, i;

	for (i = 0; i < 2; i++) {
		sn_dev_stats(f->dev[i], &f->base[i]);
		f->last[i] = f->base[i];
	}
	fwd_queue_stats(f, f->qbase);
	memcpy(f->qlast, f->qbase, sizeof(f->qlast));
	/* Opening the devices costs more CPU than seconds of forwarding. */
	f->start_cpu_s = cpu_seconds();
	if (f->queues == 1) {
		rc = fwd_pin_self(f);
		if (rc == 0)
			rc = fwd_loop_single(f, o->duration_ns);
	} else {
		f->start_ns = clock_coarse_ns();
		rc = fwd_start_workers(f);
		if (rc == 0)
			rc = fwd_loop_threads(f, o->duration_ns, &removed);
		fwd_stop_workers(f);
		if (removed)
			session_check_health(&f->session, removed);
	}
	seconds = (double)(clock_coarse_ns() - f->start_ns) / (double)NS_PER_SEC;
	fwd_release_held(f);
	fwd_summarize(f, seconds);
	return rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

static int fwd_main(const struct fwd_options *o, const char *a, const char *b)
{
	struct fwd_run *f = calloc(1, sizeof(*f));
	int status = CLI_EXIT_FAILURE;
	uint16_t q;

	if (!f) {
		fprintf(stderr, "safenic fwd: out of memory\n");
		return status;
	}
	f->addr[0] = a;
	f->addr[1] = b;
	f->event_fd[0] = f->event_fd[1] = f->wake_fd = -1;
	if (session_start(&f->session, "fwd", o->unsafe,
			  (enum sn_mem_kind)o->memory, o->verbose, o->json) == 0 &&
	    fwd_setup(f, o) == 0)
		status = run_forwarder(f, o);
	session_end(&f->session);
	for (q = 0; q < f->queues; q++)
		pthread_mutex_destroy(&f->worker[q].lock);
	free(f);
	return status;
}

/* ---- command line ----------------------------------------------------- */

/* --mode and --cores, after the table did the rest. */
static bool fwd_parse_extra(const struct arg_command *command,
			    struct fwd_options *o, int *status)
{
	struct arg_error err;
	char message[ARG_ERROR_LEN + 32];
	size_t m;

	if (o->mode_text) {
		for (m = 0; m < 3; m++)
			if (strcmp(o->mode_text, fwd_mode_names[m]) == 0)
				break;
		if (m == 3) {
			snprintf(message, sizeof(message), "--mode '%.40s': "
				 "expected poll, interrupt or adaptive",
				 o->mode_text);
			*status = args_usage_error(command, message);
			return false;
		}
		o->mode = (enum fwd_mode)m;
	}
	if (o->cores_text &&
	    arg_parse_cpu_list(o->cores_text, o->cores, FWD_MAX_QUEUES,
			       &o->core_count, &err) < 0) {
		snprintf(message, sizeof(message), "--cores: %s", err.msg);
		*status = args_usage_error(command, message);
		return false;
	}
	return true;
}

int cmd_fwd(int argc, char **argv)
{
	struct fwd_options o = { .batch = CLI_DEFAULT_BATCH, .mtu = SN_MTU_DEFAULT, .queues = 1,
				 .tx_wait_ns = FWD_DEFAULT_TX_WAIT_NS };
	const struct arg_option options[] = {
		{ "duration", ARG_DURATION, &o.duration_ns, 0, 0, "SEC",
		  "stop after this long; 0 = until Ctrl-C", NULL },
		CLI_OPTION_BATCH(o.batch),
		CLI_OPTION_MTU(o.mtu),
		{ "tx-wait", ARG_DURATION, &o.tx_wait_ns, 0, 0, "SEC",
		  "keep offering frames the transmitter did not take for this "
		  "long without progress, then drop them; 0 = drop at once",
		  NULL },
		{ "pool", ARG_UINT, &o.pool, 256, 1u << 20, "N",
		  "buffers shared by both devices, about 2 KiB each",
		  "8192 per queue pair" },
		{ "ring", ARG_UINT, &o.ring, 8, 32768, "N",
		  "descriptors in each receive and transmit ring, a power of "
		  "two (virtio: rounded down to one, and to the device's "
		  "queue size)",
		  "the driver's, 512 on Intel NICs" },
		{ "queues", ARG_UINT, &o.queues, 1, FWD_MAX_QUEUES, "N",
		  "queue pairs, each forwarded by its own thread; RSS spreads "
		  "the frames over them", NULL },
		{ "cores", ARG_STRING, &o.cores_text, 0, 0, "LIST",
		  "cores for the queue pairs' threads, in turn (e.g. 0,1 or "
		  "2-5); without it, threads go to the allowed cores in turn "
		  "and a single queue pair is not pinned", "all" },
		{ "mode", ARG_STRING, &o.mode_text, 0, 0, "MODE",
		  "poll: spin on the receive queues; interrupt: sleep on their "
		  "interrupts whenever a poll finds nothing; adaptive: poll "
		  "while frames come, sleep when quiet", "poll" },
		{ "unsafe", ARG_FLAG, &o.unsafe, 0, 0, NULL,
		  "drive the devices without the IOMMU (DMA NOT fenced)", NULL },
		CLI_OPTION_MEMORY(o.memory),
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
			"dropped and counted.\nWith --queues N, thread q "
			"forwards queue q of each device to queue q of the\n"
			"other. Stops after --duration or on Ctrl-C.",
		.options = options,
		.option_count = sizeof(options) / sizeof(options[0]),
	};
	const char *positional[ARGS_MAX_POSITIONAL];
	char a[SESSION_DEV_LEN], b[SESSION_DEV_LEN];
	size_t npos;
	int status;

	if (!args_parse_command(&command, argc, argv, positional, &npos,
				&status) ||
	    !fwd_parse_extra(&command, &o, &status) ||
	    !session_parse_pci_addr(&command, positional[0], a, &status) ||
	    !session_parse_pci_addr(&command, positional[1], b, &status))
		return status;
	if (strcmp(a, b) == 0)
		return args_usage_error(&command, "DEV_A and DEV_B are the same "
					"device; forwarding needs two");
	return fwd_main(&o, a, b);
}
