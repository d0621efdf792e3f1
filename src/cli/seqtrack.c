/* Sequence-number accounting with a growing bitmap (see seqtrack.h). */
#include "seqtrack.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define INITIAL_CAPACITY (1ull << 20)   /* 128 KiB of bitmap */
/* Far above any run; keeps the rounding below from overflowing. */
#define MAX_LIMIT (1ull << 48)

static uint64_t round_up_64(uint64_t n)
{
	return (n + 63) & ~63ull;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

int seq_tracker_init(struct seq_tracker *t, uint64_t limit)
{
	memset(t, 0, sizeof(*t));
	t->limit = min_u64(limit, MAX_LIMIT);
	t->capacity = round_up_64(min_u64(t->limit, INITIAL_CAPACITY));
	if (t->capacity == 0)
		t->capacity = 64;
	t->words = calloc(t->capacity / 64, sizeof(*t->words));
	/* For every possible flow at once (512 KiB, mostly never touched),
	 * so that noting a frame never allocates this. */
	t->flow_next = calloc(SEQ_TRACK_MAX_FLOWS, sizeof(*t->flow_next));
	if (!t->words || !t->flow_next) {
		seq_tracker_destroy(t);
		return -ENOMEM;
	}
	return 0;
}

void seq_tracker_destroy(struct seq_tracker *t)
{
	free(t->words);
	free(t->flow_next);
	t->words = NULL;
	t->flow_next = NULL;
	t->capacity = 0;
}

/* Make the bitmap cover seq (< limit): at least double it, so that a
 * steadily rising sequence reallocates only logarithmically often. */
static int seq_tracker_grow(struct seq_tracker *t, uint64_t seq)
{
	uint64_t wanted = round_up_64(seq + 1), capacity = t->capacity * 2;
	uint64_t *words;

	if (capacity < wanted)
		capacity = wanted;
	capacity = min_u64(capacity, round_up_64(t->limit));
	words = realloc(t->words, capacity / 8);
	if (!words)
		return -ENOMEM;
	memset(words + t->capacity / 64, 0, (capacity - t->capacity) / 8);
	t->words = words;
	t->capacity = capacity;
	return 0;
}

/* The first frame fixes the run's flow count; a frame with another one
 * comes from another generator and its number means something else. */
static bool seq_tracker_flows_ok(struct seq_tracker *t, uint32_t flows)
{
	if (t->flows == 0 && flows <= SEQ_TRACK_MAX_FLOWS)
		t->flows = flows;
	return flows == t->flows;
}

/* Order inside the frame's flow; across flows only noted. */
static enum seq_result seq_tracker_order(struct seq_tracker *t, uint64_t seq)
{
	uint64_t *next = &t->flow_next[seq % t->flows];
	bool first = t->unique++ == 0;

	if (*next > seq) {
		t->reordered++;
		return SEQ_REORDERED;
	}
	*next = seq + 1;
	if (first || seq > t->highest)
		t->highest = seq;
	else
		t->interleaved++;
	return SEQ_NEW;
}

enum seq_result seq_tracker_note(struct seq_tracker *t, uint64_t seq,
				 uint32_t flows)
{
	uint64_t bit = 1ull << (seq % 64);
	uint64_t *word;

	if (!seq_tracker_flows_ok(t, flows ? flows : 1)) {
		t->mixed_flows++;
		return SEQ_MIXED_FLOWS;
	}
	if (seq >= t->limit ||
	    (seq >= t->capacity && seq_tracker_grow(t, seq) < 0)) {
		t->out_of_range++;
		return SEQ_OUT_OF_RANGE;
	}
	word = &t->words[seq / 64];
	if (*word & bit) {
		t->duplicated++;
		return SEQ_DUPLICATE;
	}
	*word |= bit;
	return seq_tracker_order(t, seq);
}

int seq_tracker_merge(struct seq_tracker *dst, const struct seq_tracker *src)
{
	uint64_t i, words = src->capacity / 64, overlap = 0;

	if (src->capacity > dst->capacity &&
	    seq_tracker_grow(dst, src->capacity - 1) < 0)
		return -ENOMEM;
	for (i = 0; i < words; i++) {
		overlap += (uint64_t)__builtin_popcountll(dst->words[i] &
							  src->words[i]);
		dst->words[i] |= src->words[i];
	}
	if (src->unique && (!dst->unique || src->highest > dst->highest))
		dst->highest = src->highest;
	if (!dst->flows)
		dst->flows = src->flows;
	dst->unique += src->unique - overlap;
	dst->duplicated += src->duplicated + overlap;
	dst->reordered += src->reordered;
	dst->interleaved += src->interleaved;
	dst->out_of_range += src->out_of_range;
	dst->mixed_flows += src->mixed_flows;
	return 0;
}

static uint64_t count_set_bits(const uint64_t *words, uint64_t nbits)
{
	uint64_t full = nbits / 64, rest = nbits % 64, count = 0, i;

	for (i = 0; i < full; i++)
		count += (uint64_t)__builtin_popcountll(words[i]);
	if (rest)
		count += (uint64_t)__builtin_popcountll(words[full] &
							((1ull << rest) - 1));
	return count;
}

uint64_t seq_tracker_lost(const struct seq_tracker *t, uint64_t expected)
{
	uint64_t covered;

	if (expected == 0)
		expected = t->unique ? t->highest + 1 : 0;
	/* Bits past the bitmap were never set: all of them are lost. */
	covered = min_u64(expected, t->capacity);
	return expected - count_set_bits(t->words, covered);
}
