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

struct sn_ctx *sn_ctx_create(const struct sn_ctx_config *cfg, struct sn_error *err)
{
	struct sn_ctx *ctx = calloc(1, sizeof(*ctx));
	if (!ctx) {
		sn_fail(err, ENOMEM, "out of memory");
		return NULL;
	}
	if (cfg)
		ctx->cfg = *cfg;
	size_t ps = ctx->cfg.page_size;
	if (ps && ps != SN_PAGE_4K && ps != SN_PAGE_2M && ps != SN_PAGE_1G) {
		free(ctx);
		sn_fail(err, EINVAL, "page size %zu: use 4096, 2097152 or 1073741824", ps);
		return NULL;
	}
	if (ctx->cfg.unsafe_no_iommu && ps == SN_PAGE_4K) {
		free(ctx);
		sn_fail(err, EINVAL, "unsafe mode needs huge pages, not 4 KiB pages");
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
		info->iommu_pages += (unsigned)(r->size / r->page_size);
		if (r->page_size > info->page_size)
			info->page_size = r->page_size;
		if (r->page_size == SN_PAGE_4K)
			info->small_pages = true;
	}
	pthread_mutex_unlock(lock);
}
