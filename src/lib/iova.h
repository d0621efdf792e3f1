/* IOVA allocator: hands out device addresses inside the ranges the IOMMU
 * reports as usable, each aligned to the page size of the memory behind
 * it, so that a 2 MiB page is exactly one IOMMU translation.
 *
 * IOVAs are deliberately not the process's virtual addresses: those can
 * exceed a 39-bit IOMMU and would leak the address-space layout. */
#ifndef SN_IOVA_H
#define SN_IOVA_H

#include <stddef.h>
#include <stdint.h>

struct sn_iova_range {
	uint64_t first, last;      /* inclusive */
};

struct sn_iova_block {
	uint64_t start, size;
};

#define SN_IOVA_MAX_RANGES 16

struct sn_iova_space {
	struct sn_iova_range ranges[SN_IOVA_MAX_RANGES];
	unsigned num_ranges;
	struct sn_iova_block *used; /* sorted by start, non-overlapping */
	unsigned num_used, cap_used;
};

/* Ranges may come unsorted; at most SN_IOVA_MAX_RANGES are kept. */
int sn_iova_init(struct sn_iova_space *space,
		 const struct sn_iova_range *ranges, unsigned n);
void sn_iova_fini(struct sn_iova_space *space);
/* align must be a power of two; the lowest IOVA handed out is `align`
 * (never 0, so a zeroed descriptor never points at valid memory). */
int sn_iova_alloc(struct sn_iova_space *space, uint64_t size, uint64_t align,
		  uint64_t *iova);
int sn_iova_free(struct sn_iova_space *space, uint64_t iova);

#endif
