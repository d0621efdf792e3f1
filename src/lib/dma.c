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
#include "thp.h"
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

/* The kind the configuration asks for; page_size alone (the older knob)
 * asks for hugetlb pages of that size, or for 4 KiB pages. */
static enum sn_mem_kind wanted_kind(const struct sn_ctx *ctx)
{
	if (ctx->cfg.memory != SN_MEM_AUTO)
		return ctx->cfg.memory;
	if (ctx->cfg.page_size == SN_PAGE_4K)
		return SN_MEM_4K;
	return ctx->cfg.page_size ? SN_MEM_HUGETLB : SN_MEM_AUTO;
}

size_t sn_dma_pick_page_size(const struct sn_ctx *ctx, size_t size)
{
	if (ctx->cfg.page_size)
		return ctx->cfg.page_size;
	if (wanted_kind(ctx) == SN_MEM_4K)
		return SN_PAGE_4K;
	/* A 1 GiB page only pays off when the region fills most of it. */
	if (wanted_kind(ctx) != SN_MEM_THP && size > SN_PAGE_1G / 2 &&
	    free_huge_pages(SN_PAGE_1G) > 0)
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

/* For transparent huge pages: a 2 MiB-aligned range of whole 2 MiB units,
 * so that each unit can be one huge page, between two PROT_NONE guard
 * pages, so that its mapping never merges with a neighbour's and
 * /proc/self/smaps reports this range alone. */
static void *map_thp(size_t size, size_t guard)
{
	size_t span = size + SN_PAGE_2M + guard;
	uint8_t *base = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	uintptr_t first = ((uintptr_t)base + guard + SN_PAGE_2M - 1) & ~(SN_PAGE_2M - 1);
	uint8_t *va = base + (first - (uintptr_t)base);
	size_t head = (size_t)(va - guard - base);
	size_t tail = span - head - (size + 2 * guard);
	if (head)
		munmap(base, head);
	if (tail)
		munmap(va + size + guard, tail);
	if (mprotect(va, size, PROT_READ | PROT_WRITE) != 0) {
		munmap(va - guard, size + 2 * guard);
		return NULL;
	}
	return va;
}

static void unmap_region(struct sn_dma_region *r)
{
	munmap(r->va - r->guard, r->size + 2 * r->guard);
	r->va = NULL;
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

/* A fork must not copy DMA memory (copy-on-write would move the parent's
 * pages away from the addresses the device was given) nor share it with a
 * child that could write into rings. Locking keeps it in memory. */
static int lock_memory(struct sn_dma_region *r, struct sn_error *err)
{
	if (madvise(r->va, r->size, MADV_DONTFORK) != 0) {
		int e = errno;
		unmap_region(r);
		return sn_fail(err, e, "cannot exclude DMA memory from fork (madvise): %s",
			       strerror(e));
	}
	if (mlock(r->va, r->size) != 0) {
		int e = errno;
		unmap_region(r);
		return sn_fail(err, e,
			       "cannot lock %zu bytes of DMA memory: %s; raise the memlock "
			       "limit (ulimit -l)", r->size, strerror(e));
	}
	return 0;
}

/* Reserved huge pages: 1 GiB for a large region where free ones exist,
 * else 2 MiB. Returns 0, or -ENOMEM with *tried the page size that
 * failed last. */
static int alloc_hugetlb(const struct sn_ctx *ctx, struct sn_dma_region *r,
			 size_t size, size_t *tried)
{
	size_t want = sn_dma_pick_page_size(ctx, size);
	r->va = map_pages((size + want - 1) & ~(want - 1), want);
	if (!r->va && want == SN_PAGE_1G && !ctx->cfg.page_size) {
		want = SN_PAGE_2M;
		r->va = map_pages((size + want - 1) & ~(want - 1), want);
	}
	*tried = want;
	if (!r->va)
		return -ENOMEM;
	r->size = (size + want - 1) & ~(want - 1);
	r->page_size = want;
	r->kind = SN_MEM_HUGETLB;
	return 0;
}

#define THP_ADVICE "turn them on: echo madvise > " SN_THP_ENABLED_PATH

/* Transparent huge pages, checked after the fact: the kernel gives a
 * huge page to a 2 MiB unit only when it finds 2 MiB of free, contiguous
 * memory at the first touch. Returns 0 with r filled in, 1 when they are
 * of no use (why says so; nothing stays allocated), or -errno. Insisting
 * (SN_MEM_THP) keeps a range where only some units got one. */
static int alloc_thp(const struct sn_ctx *ctx, struct sn_dma_region *r,
		     size_t size, bool insist, char *why, size_t why_len,
		     struct sn_error *err)
{
	enum sn_thp_mode mode = sn_thp_mode(ctx->thp_enabled_path);
	if (mode == SN_THP_NEVER || mode == SN_THP_UNAVAILABLE) {
		snprintf(why, why_len, "transparent huge pages are %s",
			 mode == SN_THP_NEVER ? "off (never)" : "not available");
		if (insist)
			return sn_fail(err, ENOTSUP, "cannot use transparent huge pages for "
				       "DMA memory: they are %s; %s",
				       sn_thp_mode_name(mode), THP_ADVICE);
		return 1;
	}
	r->kind = SN_MEM_THP;
	r->page_size = SN_PAGE_2M;
	r->size = (size + SN_PAGE_2M - 1) & ~(SN_PAGE_2M - 1);
	r->guard = SN_PAGE_4K;
	r->va = map_thp(r->size, r->guard);
	if (!r->va)
		return sn_fail(err, ENOMEM, "cannot allocate %zu bytes of DMA memory", size);
	if (madvise(r->va, r->size, MADV_HUGEPAGE) != 0) {
		int e = errno;
		unmap_region(r);
		snprintf(why, why_len, "transparent huge pages are refused (madvise: %s)",
			 strerror(e));
		if (insist)
			return sn_fail(err, e, "cannot use transparent huge pages for DMA "
				       "memory: madvise(MADV_HUGEPAGE) failed: %s", strerror(e));
		return 1;
	}
	/* The first touch of a unit is when the kernel picks its page size. */
	for (size_t off = 0; off < r->size; off += SN_PAGE_2M)
		((volatile uint8_t *)r->va)[off] = 0;
	int rc = lock_memory(r, err);
	if (rc < 0)
		return rc;

	size_t units = r->size / SN_PAGE_2M, huge = 0;
	rc = sn_thp_huge_bytes((uintptr_t)r->va, (uintptr_t)(r->va + r->size), &huge);
	r->small_units = rc < 0 ? units : units - huge / SN_PAGE_2M;
	if (r->small_units == 0)
		return 0;
	if (rc < 0)
		snprintf(why, why_len, "whether transparent huge pages were given cannot "
			 "be told (/proc/self/smaps: %s)", strerror(-rc));
	else
		snprintf(why, why_len, "%zu of %zu 2 MiB units got no transparent huge "
			 "page (memory fragmented?)", r->small_units, units);
	if (r->small_units == units && !insist) {
		unmap_region(r);
		return 1;
	}
	sn_log(ctx, SN_LOG_WARN, "DMA memory: %s; those units are in 4 KiB pages and "
	       "the IOMMU's translation cache (IOTLB) will thrash. Reserve huge pages "
	       "(echo 256 > /proc/sys/vm/nr_hugepages) or compact memory (echo 1 > "
	       "/proc/sys/vm/compact_memory), then run again", why);
	return 0;
}

static int allocate_memory(struct sn_ctx *ctx, struct sn_dma_region *r,
			   size_t size, struct sn_error *err)
{
	enum sn_mem_kind kind = wanted_kind(ctx);
	size_t tried = SN_PAGE_2M;
	char why[160] = "";

	if (kind == SN_MEM_AUTO || kind == SN_MEM_HUGETLB) {
		if (alloc_hugetlb(ctx, r, size, &tried) == 0)
			return lock_memory(r, err);
		/* Unsafe mode hands out physical addresses: it needs pages that
		 * are contiguous and stay put, which only hugetlb guarantees. */
		if (kind == SN_MEM_HUGETLB || ctx->cfg.unsafe_no_iommu)
			return sn_fail(err, ENOMEM,
				       "cannot allocate %zu bytes of DMA memory in %s huge "
				       "pages%s: reserve some with `echo 256 > "
				       "/proc/sys/vm/nr_hugepages` (2 MiB pages)",
				       size, page_name(tried),
				       ctx->cfg.unsafe_no_iommu ?
				       " (unsafe mode needs huge pages)" : "");
	}
	if (kind == SN_MEM_AUTO || kind == SN_MEM_THP) {
		int rc = alloc_thp(ctx, r, size, kind == SN_MEM_THP, why, sizeof(why), err);
		if (rc <= 0)
			return rc;
	}
	if (kind == SN_MEM_AUTO && !ctx->warned_small_pages) {
		sn_log(ctx, SN_LOG_WARN,
		       "no free %s huge pages and %s: falling back to 4 KiB pages; the "
		       "IOMMU's translation cache (IOTLB) will thrash and throughput "
		       "drops. Reserve huge pages (echo 256 > /proc/sys/vm/nr_hugepages) "
		       "or turn on transparent huge pages (echo madvise > %s)",
		       page_name(tried), why, SN_THP_ENABLED_PATH);
		ctx->warned_small_pages = true;
	}
	r->kind = SN_MEM_4K;
	r->page_size = SN_PAGE_4K;
	r->small_units = 0;
	r->guard = 0;
	r->size = (size + SN_PAGE_4K - 1) & ~(SN_PAGE_4K - 1);
	r->va = map_pages(r->size, SN_PAGE_4K);
	if (!r->va)
		return sn_fail(err, ENOMEM, "cannot allocate %zu bytes of DMA memory", size);
	return lock_memory(r, err);
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
		unmap_region(r);
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
	unmap_region(region);
	free(region->phys);
	free(region);
}
