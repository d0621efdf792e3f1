/* A model of a hardware IOTLB, for replaying the DMA addresses a NIC
 * used (iotlb_sim.c): set-associative, least-recently-used replacement,
 * entries tagged by IOMMU domain, each entry covering one page of the
 * size the access names (4 KiB or 2 MiB). No prefetch, no page-walk
 * cache: a miss is one page walk, whatever it would cost. */
#ifndef SAFENIC_IOTLB_H
#define SAFENIC_IOTLB_H

#include <stdbool.h>
#include <stdint.h>

#define IOTLB_SHIFT_4K 12u
#define IOTLB_SHIFT_2M 21u

struct iotlb_entry {
	uint64_t page;       /* IOVA >> page shift */
	uint64_t last_use;   /* tick of the last hit or fill; 0 = empty */
	uint16_t domain;
	uint8_t shift;
};

struct iotlb {
	struct iotlb_entry *entries; /* sets * ways, set by set */
	unsigned sets, ways;
	uint64_t tick;
	uint64_t lookups, misses;
};

/* ENTRIES in all, WAYS per set (0: fully associative, one set). The
 * number of sets must come out a power of two (the set is the low bits
 * of the page number). 0, or -EINVAL / -ENOMEM. */
int iotlb_init(struct iotlb *t, unsigned entries, unsigned ways);
void iotlb_fini(struct iotlb *t);

/* The set a page of SHIFT holding IOVA falls into. */
unsigned iotlb_set_of(const struct iotlb *t, uint64_t iova, unsigned shift);

/* One translation of IOVA by DOMAIN, in a page of 1 << SHIFT bytes. True
 * on a hit; on a miss the least recently used entry of the set is
 * replaced (an empty one first). */
bool iotlb_access(struct iotlb *t, uint16_t domain, uint64_t iova, unsigned shift);

#endif
