/* Packet pools: the buffers (frame data) live in DMA memory, while their
 * metadata and the free stack live in ordinary memory the device can
 * never reach. */
#ifndef SN_MEMPOOL_H
#define SN_MEMPOOL_H

#include "dma.h"
#include "safenic/safenic.h"

struct sn_mempool {
	struct sn_ctx *ctx;
	struct sn_dma_region *region;
	struct sn_pkt *pkts;           /* metadata, one per buffer */
	struct sn_pkt **free_stack;
	uint32_t num_free;
	uint32_t size;
	uint32_t buf_size;
	uint32_t bufs_per_page;
	unsigned flags;
	struct sn_mempool *next;       /* the context's list */
};

/* Resets a buffer's metadata to an empty frame after the headroom. */
void sn_pkt_reset(struct sn_pkt *pkt);
void sn_mempools_refresh_iova(struct sn_ctx *ctx);

#endif
