/* The control path shared by gen, fwd and recv: the library context and
 * its log, opening devices with a report of what was opened, health
 * checks, signals, the clock, and the once-a-second ticker.
 *
 * Files including this header must define _POSIX_C_SOURCE (>= 199309L)
 * before any include, for clock_gettime.
 */
#ifndef SAFENIC_CLI_SESSION_H
#define SAFENIC_CLI_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "report.h"
#include "safenic/safenic.h"

#define NS_PER_SEC UINT64_C(1000000000)

/* One per command run. Must not move after session_start: the library's
 * log callback points at it. */
#define SESSION_MAX_GROUPS 8
#define SESSION_MAX_DEVS 8

/* The link state of an open device as last reported to the user. */
struct session_link {
	struct sn_dev *dev;
	bool known;                /* the last read succeeded */
	bool up;
};

struct session {
	const char *cmd;           /* "gen": prefixes every message */
	struct sn_ctx *ctx;
	bool verbose;              /* also print the library's notes */
	bool unsafe;
	/* --json: stdout carries only JSON Lines; the device lines, the
	 * human summary and the SUMMARY line go to stderr (info). */
	bool json;
	FILE *info;
	int groups[SESSION_MAX_GROUPS];  /* IOMMU groups this run opened */
	unsigned group_count;
	struct session_link links[SESSION_MAX_DEVS];
	unsigned link_count;
	/* The worst the health checks said in this run: SN_DEV_RECOVERED
	 * once a device was out of step and mended, or what stopped it. */
	enum sn_dev_state health;
	uint64_t removal_poll_ns;  /* next session_poll_removal look */
};

/* Creates the context (one VFIO container for every device of the run)
 * with DMA memory of the kind asked for (--memory), and installs the
 * signal handlers. Prints the --unsafe warning. Returns
 * 0, or -1 after printing the error. */
int session_start(struct session *s, const char *cmd, bool unsafe,
		  enum sn_mem_kind memory, bool verbose, bool json);
/* Every SESSION_REMOVAL_POLL_NS of NOW (the command's loop clock), asks
 * whether the kernel wants one of the run's devices back, so that a
 * hot-unplug is reported well within a second rather than at the next
 * once-a-second health check. Returns -1 after reporting it (as
 * session_check_health does), else 0. */
#define SESSION_REMOVAL_POLL_NS (100 * UINT64_C(1000000))
int session_poll_removal(struct session *s, uint64_t now);
/* The look of session_poll_removal without the health check: the device
 * the kernel wants back, or NULL (also between looks). For a caller whose
 * queues other threads still run: it stops them, then calls
 * session_check_health. */
struct sn_dev *session_removal_due(struct session *s, uint64_t now);
/* Closes every device and frees all DMA memory. */
void session_end(struct session *s);

__attribute__((format(printf, 2, 3)))
void session_error(const struct session *s, const char *fmt, ...);

struct sn_mempool *session_create_pool(struct session *s, uint64_t bufs,
				       unsigned flags);
/* Checks what the library would otherwise report less directly, before
 * touching the device: that it exists, that the IOMMU is on, that it is
 * bound to vfio-pci, and that no other process holds it (naming the
 * process) and that we may open it. 0, or -1 after printing one line
 * naming the problem and the fix. Skipped with --unsafe. */
int session_check_dev(struct session *s, const char *addr);
/* Opens a device (after session_check_dev), waits briefly for its link,
 * and prints its driver, MAC and link state. NULL after printing the
 * error. */
struct sn_dev *session_open_dev(struct session *s, const char *addr,
				const struct sn_dev_config *cfg);
/* "DMA memory: 2 MiB pages, ..." plus a warning when 4 KiB pages were
 * used. Call after every pool and device exists. */
void session_report_memory(const struct session *s);
/* sn_dev_check, once a second: 0, or -1 after printing what went wrong
 * and what to do. Also reads the link and prints "<BDF>: link down" or
 * "<BDF>: link up[, N Mbit/s]" when it changed since the last look; a
 * transmit stall while the link is down is that, not a fault. A queue
 * the library re-armed is a warning naming it, and the run goes on.
 * Keeps the worst state in s->health. */
int session_check_health(struct session *s, struct sn_dev *dev);
/* session_check_health for a state found elsewhere: by sn_dev_check_queue
 * in the thread running a queue pair, with its MESSAGE (copied there). */
int session_judge_health(struct session *s, struct sn_dev *dev,
			 enum sn_dev_state state, const char *message);
/* Reads the link and prints "<BDF>: link down ..." or "<BDF>: link up[, N
 * Mbit/s]" when it changed since the last look (a cable pulled, a switch
 * port or the peer restarted); the run goes on either way. Returns true
 * while the link is known to be down. For a device's link-change event
 * too, so that the change is printed at once. */
bool session_watch_link(struct session *s, struct sn_dev *dev);
/* The run's health so far for rate lines and summaries: device errors
 * and queue resets between two snapshots, and a word for s->health. */
struct health session_health(const struct session *s, const struct sn_stats *end,
			     const struct sn_stats *base);
/* Adds another device's errors and resets to a health (fwd's two ports). */
void session_health_add(struct health *h, const struct sn_stats *end,
			const struct sn_stats *base);

/* A device argument: a PCI address (normalised) or an AF_XDP spec
 * xdp:IFNAME[:QUEUE] (as given). */
#define SESSION_DEV_LEN 32
static inline bool session_is_xdp(const char *dev)
{
	return strncmp(dev, "xdp:", 4) == 0;
}

/* Normalises a device argument (see SESSION_DEV_LEN); on failure reports
 * a usage error, sets *status and returns false. */
bool session_parse_pci_addr(const struct arg_command *cmd, const char *text,
			    char out[SESSION_DEV_LEN], int *status);

/* The front door of a command whose one positional argument is a device
 * (a PCI address or an AF_XDP spec): parses the command line
 * (args_parse_command) and the device. Returns true when the command
 * should run; otherwise *status is the exit status to return. */
bool session_parse_one_dev(const struct arg_command *cmd, int argc,
			   char **argv, char addr[SESSION_DEV_LEN], int *status);
/* The same for a command that takes a PCI address only (bind, unbind). */
bool session_parse_one_pci(const struct arg_command *cmd, int argc,
			   char **argv, char addr[16], int *status);

/* SIGINT, SIGTERM (and SIGPIPE, when whoever reads our output went away)
 * ask the datapath loops to stop at their next batch. */
bool session_stop_requested(void);

static inline uint64_t clock_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* The receive and forward loops, and a generator sending flat out, time
 * themselves (durations, idle timeouts, once-a-second ticks, the summary)
 * with the kernel's coarse clock: the vDSO returns the last tick's time
 * without reading the clock hardware. That read can be a system call, or
 * in a QEMU guest an emulated HPET access under the emulator's global
 * lock, which the emulated NICs need too. Resolution: one kernel tick
 * (1 to 10 ms). A run takes all its times from one of the two clocks. */
static inline uint64_t clock_coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

void session_sleep_ns(uint64_t ns);

/* Times the once-a-second work (rate line, health check) from outside
 * the datapath. */
struct ticker {
	uint64_t last_ns, next_ns;
	unsigned seconds;          /* ticks so far: the [  3s] label */
};

static inline void ticker_start(struct ticker *t, uint64_t now)
{
	t->last_ns = now;
	t->next_ns = now + NS_PER_SEC;
	t->seconds = 0;
}

static inline bool ticker_due(const struct ticker *t, uint64_t now)
{
	return now >= t->next_ns;
}

/* Starts the next interval; returns the length of the one that ended, in
 * seconds, which the rates are computed over. */
static inline double ticker_advance(struct ticker *t, uint64_t now)
{
	double interval = (double)(now - t->last_ns) / (double)NS_PER_SEC;

	t->last_ns = now;
	t->seconds++;
	t->next_ns += NS_PER_SEC;
	if (t->next_ns <= now)     /* fell behind: do not fire in a burst */
		t->next_ns = now + NS_PER_SEC;
	return interval;
}

/* The device's own counters between two snapshots. */
struct hw_counts session_hw_counts(const struct sn_stats *end,
				   const struct sn_stats *base);

#endif
