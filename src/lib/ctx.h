/* The context: one per process (or per independent user), owning the VFIO
 * container, the IOVA space and every DMA region, so that a buffer
 * received on one device can be sent on another without a copy. */
#ifndef SN_CTX_H
#define SN_CTX_H

#include <pthread.h>

#include "dma.h"
#include "iova.h"
#include "safenic/safenic.h"

struct sn_vfio_group {
	int number;
	int fd;
	unsigned users;
	struct sn_vfio_group *next;
};

struct sn_device;
struct sn_xsk_umem;

struct sn_ctx {
	struct sn_ctx_config cfg;
	/* Guards the lists of regions and pools, the IOVA space and the
	 * IOMMU mappings: a thread's free of a released pool's last buffer
	 * frees the pool while the control thread may open a device.
	 * Recursive: freeing a pool frees its region. */
	pthread_mutex_t lock;
	int container_fd;              /* -1 until the first VFIO device */
	bool iommu_ready;              /* VFIO_SET_IOMMU done */
	uint64_t iommu_page_sizes;     /* bitmap from the IOMMU */
	struct sn_iova_space iova;
	struct sn_vfio_group *groups;
	struct sn_dma_region *regions;
	struct sn_mempool *pools;
	struct sn_device *devices;
	struct sn_xsk_umem *xsk_umems;   /* AF_XDP: pools registered as UMEMs */
	bool warned_small_pages;
	/* Host tests: another file in place of the THP `enabled` file. */
	const char *thp_enabled_path;
};

/* Host tests: hand out IOVAs up to last_iova as if an IOMMU existed, with
 * no VFIO container behind them. */
int sn_ctx_emulate_iommu(struct sn_ctx *ctx, uint64_t last_iova);

#endif
