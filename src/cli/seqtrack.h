/* Sequence-number accounting for a receiver: which numbers arrived, how
 * many twice, how many out of order, and (at the end) how many never.
 *
 * Order is judged inside each flow (packet.h: frame n of F flows is in
 * flow n % F): a frame is reordered when a later frame of its own flow
 * came first. Frames of different flows may overtake each other (they
 * take different receive queues); that is counted apart, as interleaved,
 * and is no fault. With one flow the two are the same thing.
 *
 * A bitmap holds one bit per sequence number. It starts small and doubles
 * when a higher number arrives, up to a limit: the expected count when the
 * user gave one, else SEQ_TRACK_DEFAULT_LIMIT. Doubling keeps reallocation
 * to a few dozen times over a run, never per packet in the steady state.
 */
#ifndef SAFENIC_CLI_SEQTRACK_H
#define SAFENIC_CLI_SEQTRACK_H

#include <stdbool.h>
#include <stdint.h>

/* 2^32 sequence numbers: at most 512 MiB of bitmap, reached only after
 * five minutes at 14.88 Mpps (10 Gbit/s line rate of 64-byte frames). */
#define SEQ_TRACK_DEFAULT_LIMIT (UINT64_C(1) << 32)
/* As many as a frame can name (packet.h, PKT_MAX_FLOWS). */
#define SEQ_TRACK_MAX_FLOWS 65536u

struct seq_tracker {
	uint64_t *words;
	uint64_t capacity;         /* sequence numbers the bitmap covers now */
	uint64_t limit;            /* never tracks numbers >= limit */
	uint64_t unique;           /* distinct numbers seen below limit */
	uint64_t duplicated;
	uint64_t reordered;        /* new, but below the highest of its flow */
	uint64_t interleaved;      /* new, in order in its flow, but below
				      the highest of all (another flow's) */
	uint64_t out_of_range;     /* >= limit, or the bitmap could not grow */
	uint64_t mixed_flows;      /* frames whose flow count differs from
				      the first frame's: not tracked */
	uint64_t highest;          /* meaningful when unique > 0 */
	uint32_t flows;            /* the first frame's flow count; 0: none yet */
	uint64_t *flow_next;       /* per flow, 1 + its highest number seen
				      (0: none) */
};

enum seq_result {
	SEQ_NEW,
	SEQ_REORDERED,
	SEQ_DUPLICATE,
	SEQ_OUT_OF_RANGE,
	SEQ_MIXED_FLOWS,
};

/* limit: one past the highest number to track (> 0). 0 or -ENOMEM. */
int seq_tracker_init(struct seq_tracker *t, uint64_t limit);
void seq_tracker_destroy(struct seq_tracker *t);

/* seq: the frame's number; flows: its flow count (>= 1, 0 is taken as
 * 1). The first frame fixes the flow count of the run. */
enum seq_result seq_tracker_note(struct seq_tracker *t, uint64_t seq,
				 uint32_t flows);

/* Adds src's frames to dst (two receive queues' trackers, say): a number
 * both saw is a duplicate; order stays as each judged it. src keeps its
 * memory. 0, or -ENOMEM when dst's bitmap could not grow (nothing
 * changed then). */
int seq_tracker_merge(struct seq_tracker *dst, const struct seq_tracker *src);

/* Numbers in [0, expected) that never arrived; expected 0 means "up to
 * the highest seen" (nothing is lost before the first frame). */
uint64_t seq_tracker_lost(const struct seq_tracker *t, uint64_t expected);

#endif
