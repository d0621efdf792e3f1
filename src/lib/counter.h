/* Counters one thread writes and others read. A queue's counters are
 * updated only by the thread that runs its bursts, and read by a control
 * thread (sn_dev_stats, sn_dev_queue_stats). Relaxed atomic loads and
 * stores make that a race-free exchange under the C11 memory model while
 * compiling to plain moves on x86 and arm64: there is a single writer, so
 * load + add + store needs no read-modify-write instruction (no lock
 * prefix), and a reader sees some recent value, never a torn one. */
#ifndef SN_COUNTER_H
#define SN_COUNTER_H

#include <stdint.h>

/* The owning thread adds n. */
static inline void sn_count(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

/* Any thread reads. */
static inline uint64_t sn_counter_read(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

#endif
