/* DMA memory: page-aligned, locked regions that the device may reach.
 *
 * With VFIO each region is mapped into the IOMMU at an IOVA aligned to its
 * page size; in unsafe mode the device uses physical addresses read from
 * /proc/self/pagemap. Nothing the driver trusts is ever stored here. */
#ifndef SN_DMA_H
#define SN_DMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "safenic/safenic.h"

#define SN_PAGE_4K (4096ul)
#define SN_PAGE_2M (2ul << 20)
#define SN_PAGE_1G (1ul << 30)

enum sn_dma_access {
	SN_DMA_DEVICE_READS = 1,     /* the device may read */
	SN_DMA_DEVICE_WRITES = 2,    /* the device may write */
	SN_DMA_DEVICE_RW = 3,
};

struct sn_dma_region {
	uint8_t *va;
	size_t size;                 /* multiple of page_size */
	size_t page_size;            /* THP: 2 MiB, the unit of IOVA alignment */
	enum sn_mem_kind kind;       /* hugetlb, THP or 4 KiB */
	size_t small_units;          /* THP: 2 MiB units not in a huge page */
	size_t guard;                /* THP: PROT_NONE bytes on either side */
	enum sn_dma_access access;
	uint64_t iova;               /* VFIO: device address of va; 0 = none yet */
	bool mapped;                 /* VFIO: the IOMMU maps iova to va now */
	uint64_t *phys;              /* unsafe: physical address per page */
	struct sn_dma_region *next;
};

struct sn_ctx;

int sn_dma_alloc(struct sn_ctx *ctx, size_t size, enum sn_dma_access access,
		 struct sn_dma_region **out, struct sn_error *err);
void sn_dma_free(struct sn_ctx *ctx, struct sn_dma_region *region);

/* Device address of the byte at `offset`. A range that must be contiguous
 * for the device may not cross a page boundary in unsafe mode. */
static inline uint64_t sn_dma_iova(const struct sn_dma_region *r, size_t offset)
{
	if (r->phys)
		return r->phys[offset / r->page_size] + offset % r->page_size;
	return r->iova + offset;
}

/* IOMMU pages the region spans: one per huge page, one per 4 KiB page
 * elsewhere (a THP unit without a huge page is 512 small pages). */
static inline size_t sn_dma_iommu_pages(const struct sn_dma_region *r)
{
	size_t pages = r->size / r->page_size;
	if (r->kind == SN_MEM_THP)
		pages += r->small_units * (SN_PAGE_2M / SN_PAGE_4K - 1);
	return pages;
}

/* Page size the next allocation of `size` bytes would try first. */
size_t sn_dma_pick_page_size(const struct sn_ctx *ctx, size_t size);

#endif
