/* Split virtqueues (virtio 1.x spec, section 2.7) for a polling driver.
 *
 * The descriptor table and available ring are written only by us; the
 * used ring is written by the device and is untrusted: every id and length
 * read from it is checked against the driver's own record of what is in
 * flight, which lives outside DMA memory. */
#ifndef SN_VIRTQUEUE_H
#define SN_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pci.h"
#include "safenic/safenic.h"

#define VRING_DESC_F_WRITE 2
#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_USED_F_NO_NOTIFY 1

/* The driver writes this id into every used-ring entry it has consumed,
 * and into all of them at start: no descriptor has it, so an entry the
 * device's index covers but the device never wrote is recognisable. */
#define SN_VIRTQ_STALE_ID 0xffffffffu

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
};

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vring_used {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem ring[];
};

static inline size_t sn_vring_desc_bytes(uint16_t size)
{
	return sizeof(struct vring_desc) * size;
}
static inline size_t sn_vring_avail_bytes(uint16_t size)
{
	return sizeof(struct vring_avail) + sizeof(uint16_t) * (size + 1u);
}
static inline size_t sn_vring_used_bytes(uint16_t size)
{
	return sizeof(struct vring_used) + sizeof(struct vring_used_elem) * size +
	       sizeof(uint16_t);
}

struct sn_virtq_counters {
	uint64_t packets, bytes, drops, errors, device_errors;
	uint64_t starved;       /* receive: every posted buffer was used */
};

struct sn_virtq {
	/* DMA memory */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	/* driver-private */
	uint16_t size, mask;
	uint16_t avail_idx;          /* next available slot we fill */
	uint16_t used_idx;           /* next used slot we consume */
	uint16_t num_free;
	uint16_t *free_ids;
	struct sn_pkt **inflight;    /* by descriptor id; NULL = not ours */
	uint32_t hdr_len;            /* virtio-net header before each frame */
	uint32_t rx_room;            /* receive: frame bytes a buffer holds */
	bool receive;
	const struct sn_ctx *ctx;    /* transmit takes only this context's buffers */
	struct sn_mempool *rx_pool;
	const struct sn_regs *notify_regs;
	size_t notify_off;
	uint16_t queue_index;
	/* A used index past what the device wrote: each episode is counted
	 * once (a device error) and reported once by sn_virtq_check. */
	bool lying;                  /* the last look found the index impossible */
	uint32_t lies, lies_told;
	/* The health check's last look. */
	uint16_t check_device_idx, check_used_idx;
	bool check_waiting, check_suspect;
	struct sn_virtq_counters stats;
};

/* The queue transmits only buffers of ctx's pools. */
int sn_virtq_init(struct sn_virtq *vq, const struct sn_ctx *ctx, uint16_t size,
		  void *desc, void *avail, void *used, uint32_t hdr_len, bool receive);
void sn_virtq_fini(struct sn_virtq *vq);
/* Free every packet still in flight (after the device has stopped). */
void sn_virtq_drain(struct sn_virtq *vq);

/* Make up to n receive buffers available to the device; returns how many. */
uint16_t sn_virtq_post(struct sn_virtq *vq, struct sn_pkt **pkts, uint16_t n);
/* Publish posted descriptors and notify the device unless it opted out. */
void sn_virtq_kick(struct sn_virtq *vq);
/* Take back up to n completed packets after validating each used entry;
 * receive queues set pkt->len. Invalid entries are dropped and counted. */
uint16_t sn_virtq_harvest(struct sn_virtq *vq, struct sn_pkt **pkts, uint16_t n);

enum sn_virtq_health {
	SN_VIRTQ_OK,
	SN_VIRTQ_STALLED,      /* transmit: buffers waiting, none completed */
	/* Since the last look the device wrote a used index past its
	 * completions (more than it holds, or over entries it never wrote);
	 * the driver took nothing stale and waits where the device really
	 * is, so the queue is in step again once the device goes on. */
	SN_VIRTQ_LIED,
	/* ... and the index stayed there at two looks, with buffers in
	 * flight and no progress: only a device reset mends that. */
	SN_VIRTQ_OUT_OF_STEP,
};

/* What the check saw: the device's used index, ours, and how many
 * buffers the device holds. */
struct sn_virtq_look {
	uint16_t device_idx, used_idx, in_flight;
};

/* The control path's cross-check, about once a second. */
enum sn_virtq_health sn_virtq_check(struct sn_virtq *vq, struct sn_virtq_look *look);

uint16_t sn_virtio_rx_burst(void *queue, struct sn_pkt **pkts, uint16_t n);
uint16_t sn_virtio_tx_burst(void *queue, struct sn_pkt **pkts, uint16_t n);
/* Refill a receive queue from its pool and kick once. */
void sn_virtq_refill(struct sn_virtq *vq);

#endif
