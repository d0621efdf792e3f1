#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "iova.h"

static int compare_ranges(const void *a, const void *b)
{
	const struct sn_iova_range *x = a, *y = b;
	return (x->first > y->first) - (x->first < y->first);
}

int sn_iova_init(struct sn_iova_space *space,
		 const struct sn_iova_range *ranges, unsigned n)
{
	memset(space, 0, sizeof(*space));
	for (unsigned i = 0; i < n && space->num_ranges < SN_IOVA_MAX_RANGES; i++) {
		if (ranges[i].last < ranges[i].first)
			return -EINVAL;
		space->ranges[space->num_ranges++] = ranges[i];
	}
	if (space->num_ranges == 0)
		return -EINVAL;
	qsort(space->ranges, space->num_ranges, sizeof(space->ranges[0]),
	      compare_ranges);
	return 0;
}

void sn_iova_fini(struct sn_iova_space *space)
{
	free(space->used);
	memset(space, 0, sizeof(*space));
}

static uint64_t align_up(uint64_t value, uint64_t align, bool *overflow)
{
	uint64_t aligned = (value + align - 1) & ~(align - 1);
	if (aligned < value)
		*overflow = true;
	return aligned;
}

/* Does [start, start + size) fit inside the range without wrapping? */
static bool fits(const struct sn_iova_range *r, uint64_t start, uint64_t size)
{
	return start >= r->first && start <= r->last &&
	       size - 1 <= r->last - start;
}

/* First aligned start >= candidate in range r that avoids every used
 * block; used blocks are sorted, so one forward pass suffices. */
static bool find_in_range(const struct sn_iova_space *space,
			  const struct sn_iova_range *r, uint64_t size,
			  uint64_t align, uint64_t *out, unsigned *slot)
{
	bool overflow = false;
	uint64_t start = align_up(r->first < align ? align : r->first, align,
				  &overflow);

	for (unsigned i = 0; i <= space->num_used; i++) {
		if (overflow || !fits(r, start, size))
			return false;
		if (i == space->num_used ||
		    (space->used[i].start >= start &&
		     space->used[i].start - start >= size)) {
			*out = start;
			*slot = i;
			return true;
		}
		uint64_t block_end = space->used[i].start + space->used[i].size;
		if (block_end > start)
			start = align_up(block_end, align, &overflow);
	}
	return false;
}

static int insert_block(struct sn_iova_space *space, unsigned slot,
			uint64_t start, uint64_t size)
{
	if (space->num_used == space->cap_used) {
		unsigned cap = space->cap_used ? space->cap_used * 2 : 16;
		void *grown = realloc(space->used, cap * sizeof(*space->used));
		if (!grown)
			return -ENOMEM;
		space->used = grown;
		space->cap_used = cap;
	}
	memmove(&space->used[slot + 1], &space->used[slot],
		(space->num_used - slot) * sizeof(*space->used));
	space->used[slot] = (struct sn_iova_block){ start, size };
	space->num_used++;
	return 0;
}

int sn_iova_alloc(struct sn_iova_space *space, uint64_t size, uint64_t align,
		  uint64_t *iova)
{
	if (size == 0 || align == 0 || (align & (align - 1)))
		return -EINVAL;
	for (unsigned r = 0; r < space->num_ranges; r++) {
		uint64_t start;
		unsigned slot;
		if (find_in_range(space, &space->ranges[r], size, align, &start,
				  &slot)) {
			int rc = insert_block(space, slot, start, size);
			if (rc == 0)
				*iova = start;
			return rc;
		}
	}
	return -ENOSPC;
}

int sn_iova_free(struct sn_iova_space *space, uint64_t iova)
{
	for (unsigned i = 0; i < space->num_used; i++) {
		if (space->used[i].start == iova) {
			memmove(&space->used[i], &space->used[i + 1],
				(space->num_used - i - 1) * sizeof(*space->used));
			space->num_used--;
			return 0;
		}
	}
	return -ENOENT;
}
