#include <errno.h>
#include <stdlib.h>

#include "iotlb.h"

int iotlb_init(struct iotlb *t, unsigned entries, unsigned ways)
{
	*t = (struct iotlb){ 0 };
	if (ways == 0)
		ways = entries;
	if (entries == 0 || ways == 0 || entries % ways != 0)
		return -EINVAL;
	t->ways = ways;
	t->sets = entries / ways;
	if (t->sets & (t->sets - 1))
		return -EINVAL;
	t->entries = calloc(entries, sizeof(*t->entries));
	return t->entries ? 0 : -ENOMEM;
}

void iotlb_fini(struct iotlb *t)
{
	free(t->entries);
	t->entries = NULL;
}

unsigned iotlb_set_of(const struct iotlb *t, uint64_t iova, unsigned shift)
{
	return (unsigned)((iova >> shift) & (t->sets - 1));
}

bool iotlb_access(struct iotlb *t, uint16_t domain, uint64_t iova, unsigned shift)
{
	uint64_t page = iova >> shift;
	struct iotlb_entry *set = t->entries + (size_t)iotlb_set_of(t, iova, shift) * t->ways;
	struct iotlb_entry *victim = set;

	t->lookups++;
	t->tick++;
	for (unsigned w = 0; w < t->ways; w++) {
		struct iotlb_entry *e = set + w;
		if (e->last_use && e->page == page && e->shift == shift && e->domain == domain) {
			e->last_use = t->tick;
			return true;
		}
		/* An empty entry has last_use 0: it is taken before any other. */
		if (e->last_use < victim->last_use)
			victim = e;
	}
	t->misses++;
	*victim = (struct iotlb_entry){ .page = page, .last_use = t->tick,
					.domain = domain, .shift = (uint8_t)shift };
	return false;
}
