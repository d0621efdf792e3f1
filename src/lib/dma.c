#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ctx.h"
#include "dma.h"
#include "error.h"
#include "vfio.h"

static long free_huge_pages(size_t page_size)
{
	char path[96];
	long count = 0;
	snprintf(path, sizeof(path),
		 "/sys/kernel/mm/hugepages/hugepages-%zukB/free_hugepages",
		 page_size >> 10);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%ld", &count) != 1)
		count = 0;
	fclose(f);
	return count;
}

size_t sn_dma_pick_page_size(const struct sn_ctx *ctx, size_t size)
{
	if (ctx->cfg.page_size)
		return ctx->cfg.page_size;
	/* A 1 GiB page only pays off when the region fills most of it. */
	if (size > SN_PAGE_1G / 2 && free_huge_pages(SN_PAGE_1G) > 0)
		return SN_PAGE_1G;
	return SN_PAGE_2M;
}

static void *map_pages(size_t size, size_t page_size)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE;
	if (page_size == SN_PAGE_2M)
		flags |= MAP_HUGETLB | MAP_HUGE_2MB;
	else if (page_size == SN_PAGE_1G)
		flags |= MAP_HUGETLB | MAP_HUGE_1GB;
	void *va = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, -1, 0);
	return va == MAP_FAILED ? NULL : va;
}

/* Physical address of each page, for unsafe mode only. Needs
 * CAP_SYS_ADMIN: without it the kernel reports frame number 0. */
static int lookup_phys(struct sn_dma_region *r, struct sn_error *err)
{
	size_t pages = r->size / r->page_size;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sn_fail(err, errno, "cannot open /proc/self/pagemap: %s",
			       strerror(errno));
	r->phys = calloc(pages, sizeof(*r->phys));
	if (!r->phys) {
		close(fd);
		return sn_fail(err, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < pages; i++) {
		uintptr_t va = (uintptr_t)r->va + i * r->page_size;
		uint64_t entry = 0;
		off_t at = (off_t)(va / SN_PAGE_4K) * 8;
		if (pread(fd, &entry, sizeof(entry), at) != sizeof(entry) ||
		    !(entry & (1ull << 63)) || (entry & ((1ull << 55) - 1)) == 0) {
			close(fd);
			return sn_fail(err, EPERM,
				       "cannot read physical addresses from /proc/self/pagemap: "
				       "unsafe mode needs root (CAP_SYS_ADMIN)");
		}
		r->phys[i] = (entry & ((1ull << 55) - 1)) * SN_PAGE_4K;
	}
	close(fd);
	return 0;
}

static const char *page_name(size_t page_size)
{
	return page_size == SN_PAGE_1G ? "1 GiB" :
	       page_size == SN_PAGE_2M ? "2 MiB" : "4 KiB";
}

static int allocate_memory(struct sn_ctx *ctx, struct sn_dma_region *r,
			   size_t size, struct sn_error *err)
{
	size_t want = sn_dma_pick_page_size(ctx, size);
	size_t rounded = (size + want - 1) & ~(want - 1);

	r->va = map_pages(rounded, want);
	if (!r->va && want == SN_PAGE_1G && !ctx->cfg.page_size) {
		want = SN_PAGE_2M;
		rounded = (size + want - 1) & ~(want - 1);
		r->va = map_pages(rounded, want);
	}
	if (!r->va && want != SN_PAGE_4K && !ctx->cfg.page_size &&
	    !ctx->cfg.unsafe_no_iommu) {
		if (!ctx->warned_small_pages)
			sn_log(ctx, SN_LOG_WARN,
			       "no free %s huge pages: falling back to 4 KiB pages; the "
			       "IOMMU's translation cache (IOTLB) will thrash and throughput "
			       "drops. Reserve huge pages: echo 256 > /proc/sys/vm/nr_hugepages",
			       page_name(want));
		ctx->warned_small_pages = true;
		want = SN_PAGE_4K;
		rounded = (size + want - 1) & ~(want - 1);
		r->va = map_pages(rounded, want);
	}
	if (!r->va) {
		if (want == SN_PAGE_4K)
			return sn_fail(err, ENOMEM, "cannot allocate %zu bytes of DMA memory",
				       size);
		return sn_fail(err, ENOMEM,
			       "cannot allocate %zu bytes of DMA memory in %s huge pages%s: "
			       "reserve some with `echo 256 > /proc/sys/vm/nr_hugepages` "
			       "(2 MiB pages)",
			       size, page_name(want),
			       ctx->cfg.unsafe_no_iommu ? " (unsafe mode needs huge pages)" : "");
	}
	r->size = rounded;
	r->page_size = want;
	/* A fork must not copy DMA memory (copy-on-write would move the
	 * parent's pages away from the addresses the device was given) nor
	 * share it with a child that could write into rings. */
	if (madvise(r->va, r->size, MADV_DONTFORK) != 0) {
		int e = errno;
		munmap(r->va, r->size);
		return sn_fail(err, e, "cannot exclude DMA memory from fork (madvise): %s",
			       strerror(e));
	}
	if (mlock(r->va, r->size) != 0) {
		int e = errno;
		munmap(r->va, r->size);
		return sn_fail(err, e,
			       "cannot lock %zu bytes of DMA memory: %s; raise the memlock "
			       "limit (ulimit -l)", r->size, strerror(e));
	}
	return 0;
}

int sn_dma_alloc(struct sn_ctx *ctx, size_t size, enum sn_dma_access access,
		 struct sn_dma_region **out, struct sn_error *err)
{
	struct sn_dma_region *r = calloc(1, sizeof(*r));
	int rc;

	if (!r)
		return sn_fail(err, ENOMEM, "out of memory");
	r->access = access;
	rc = allocate_memory(ctx, r, size, err);
	if (rc < 0) {
		free(r);
		return rc;
	}
	memset(r->va, 0, r->size);
	pthread_mutex_lock(&ctx->lock);
	if (ctx->cfg.unsafe_no_iommu)
		rc = lookup_phys(r, err);
	else if (ctx->iommu_ready)
		rc = sn_vfio_map_region(ctx, r, err);
	/* else: mapped by sn_vfio_map_pending() once the first device has
	 * set up the IOMMU (VFIO needs a group before it has an IOMMU). */
	if (rc == 0) {
		r->next = ctx->regions;
		ctx->regions = r;
	}
	pthread_mutex_unlock(&ctx->lock);
	if (rc < 0) {
		free(r->phys);
		munmap(r->va, r->size);
		free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void sn_dma_free(struct sn_ctx *ctx, struct sn_dma_region *region)
{
	struct sn_dma_region **link = &ctx->regions;

	pthread_mutex_lock(&ctx->lock);
	while (*link && *link != region)
		link = &(*link)->next;
	if (*link)
		*link = region->next;
	if (region->iova)
		sn_vfio_unmap_region(ctx, region);
	pthread_mutex_unlock(&ctx->lock);
	munmap(region->va, region->size);
	free(region->phys);
	free(region);
}
