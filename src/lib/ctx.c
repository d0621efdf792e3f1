#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctx.h"
#include "device.h"
#include "error.h"
#include "mempool.h"
#include "vfio.h"

static int check_memory_config(const struct sn_ctx_config *cfg, struct sn_error *err)
{
	size_t ps = cfg->page_size;
	enum sn_mem_kind kind = cfg->memory;
	if (ps && ps != SN_PAGE_4K && ps != SN_PAGE_2M && ps != SN_PAGE_1G)
		return sn_fail(err, EINVAL, "page size %zu: use 4096, 2097152 or 1073741824",
			       ps);
	if (kind != SN_MEM_AUTO && kind != SN_MEM_HUGETLB && kind != SN_MEM_THP &&
	    kind != SN_MEM_4K)
		return sn_fail(err, EINVAL, "memory kind %d: use SN_MEM_AUTO, "
			       "SN_MEM_HUGETLB, SN_MEM_THP or SN_MEM_4K", (int)kind);
	if ((kind == SN_MEM_HUGETLB && ps == SN_PAGE_4K) ||
	    (kind == SN_MEM_THP && ps && ps != SN_PAGE_2M) ||
	    (kind == SN_MEM_4K && ps && ps != SN_PAGE_4K))
		return sn_fail(err, EINVAL, "page size %zu does not go with %s memory",
			       ps, sn_mem_kind_name(kind));
	/* The device gets physical addresses: each page must be physically
	 * contiguous and stay put, which only hugetlb pages guarantee. */
	if (cfg->unsafe_no_iommu &&
	    (ps == SN_PAGE_4K || kind == SN_MEM_THP || kind == SN_MEM_4K))
		return sn_fail(err, EINVAL, "unsafe mode needs hugetlb pages, not %s",
			       kind == SN_MEM_THP ? "transparent huge pages" : "4 KiB pages");
	return 0;
}

const char *sn_mem_kind_name(enum sn_mem_kind kind)
{
	switch (kind) {
	case SN_MEM_AUTO: return "auto";
	case SN_MEM_HUGETLB: return "hugetlb";
	case SN_MEM_THP: return "THP";
	case SN_MEM_4K: return "4 KiB";
	}
	return "unknown";
}

struct sn_ctx *sn_ctx_create(const struct sn_ctx_config *cfg, struct sn_error *err)
{
	struct sn_ctx *ctx = calloc(1, sizeof(*ctx));
	if (!ctx) {
		sn_fail(err, ENOMEM, "out of memory");
		return NULL;
	}
	if (cfg)
		ctx->cfg = *cfg;
	if (check_memory_config(&ctx->cfg, err) < 0) {
		free(ctx);
		return NULL;
	}
	ctx->container_fd = -1;
	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&ctx->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	if (ctx->cfg.unsafe_no_iommu)
		sn_log(ctx, SN_LOG_WARN,
		       "UNSAFE MODE: no IOMMU. Devices get physical addresses and can DMA "
		       "to ANY memory of this machine; a driver bug or a broken device "
		       "can corrupt the kernel. Use only where no IOMMU exists.");
	return ctx;
}

void sn_ctx_destroy(struct sn_ctx *ctx)
{
	if (!ctx)
		return;
	/* Devices first: their DMA must stop before memory goes away. */
	while (ctx->devices)
		sn_dev_close(&ctx->devices->fast);
	/* Now no device holds a buffer: what is still out is the caller's,
	 * and the context's end is the end of every pool. */
	while (ctx->pools)
		sn_mempool_free_now(ctx->pools);
	while (ctx->regions)
		sn_dma_free(ctx, ctx->regions);
	while (ctx->groups) {
		ctx->groups->users = 1;
		struct sn_vfio_group *g = ctx->groups;
		ctx->groups = g->next;
		close(g->fd);
		free(g);
	}
	sn_vfio_close_container(ctx);
	pthread_mutex_destroy(&ctx->lock);
	free(ctx);
}

void sn_ctx_emergency_stop(struct sn_ctx *ctx)
{
	for (struct sn_device *dev = ctx ? ctx->devices : NULL; dev; dev = dev->next) {
		if (dev->driver->kernel_driven)
			continue;
		if (dev->priv)
			dev->driver->stop(dev);
		sn_pci_set_bus_master(&dev->pci, false);
	}
}

void sn_ctx_mem_info(const struct sn_ctx *ctx, struct sn_mem_info *info)
{
	memset(info, 0, sizeof(*info));
	info->unsafe = ctx->cfg.unsafe_no_iommu;
	/* Another thread's free may be freeing a released pool's region. */
	pthread_mutex_t *lock = (pthread_mutex_t *)&ctx->lock;
	pthread_mutex_lock(lock);
	for (const struct sn_dma_region *r = ctx->regions; r; r = r->next) {
		info->regions++;
		info->bytes += r->size;
		info->iommu_pages += (unsigned)sn_dma_iommu_pages(r);
		if (r->page_size > info->page_size)
			info->page_size = r->page_size;
		info->kinds |= 1u << r->kind;
		/* The enum runs from the fastest kind to the slowest. */
		if (r->kind > info->kind)
			info->kind = r->kind;
		if (r->kind == SN_MEM_THP) {
			info->thp_units += (unsigned)(r->size / SN_PAGE_2M);
			info->thp_small_units += (unsigned)r->small_units;
		}
		if (r->page_size == SN_PAGE_4K || r->small_units)
			info->small_pages = true;
	}
	pthread_mutex_unlock(lock);
}
