/* Packed virtqueues (virtio 1.1+, section 2.8) for a polling driver.
 *
 * One ring of descriptors that both sides write: the driver makes a
 * descriptor available in place, the device overwrites it, in ring order,
 * with a used descriptor (the buffer id and the length it wrote). Which of
 * the two a slot holds is told by its AVAIL and USED flag bits against the
 * lap the ring is on (the wrap counters). One descriptor per buffer: the
 * virtio-net header right before the frame, as the split ring has it.
 *
 * Everything the device writes into the ring is untrusted: the flag bits
 * must be the used pattern of the slot's lap (anything but that or our
 * own available pattern is a lie), the id one the driver has in flight,
 * the length within what was posted. The driver's records (the packet of
 * each id, the free ids) live outside DMA memory. The counters, health
 * verdicts and looks are the split ring's (virtqueue.h). */
#ifndef SN_VPACKED_H
#define SN_VPACKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtqueue.h"

#define VRING_PACKED_DESC_F_AVAIL (1u << 7)
#define VRING_PACKED_DESC_F_USED (1u << 15)
/* Event suppression flags (2.8.10). */
#define VRING_PACKED_EVENT_FLAG_ENABLE 0
#define VRING_PACKED_EVENT_FLAG_DISABLE 1
#define VRING_PACKED_EVENT_FLAG_DESC 2

struct vring_packed_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t id;
	uint16_t flags;
};

/* Event suppression structure: off_wrap is a ring offset (bits 0-14)
 * and the wrap counter it belongs to (bit 15), used in DESC mode only. */
struct vring_packed_event {
	uint16_t off_wrap;
	uint16_t flags;
};

static inline size_t sn_vpacked_ring_bytes(uint16_t size)
{
	return sizeof(struct vring_packed_desc) * size;
}

/* Positions count descriptors made available (avail_pos) and taken back
 * (used_pos) from 0, modulo 2^16; the ring size is a power of two, so a
 * position's slot is pos & mask and its lap's parity is pos & size (the
 * wrap counters start at 1: lap 0 has AVAIL set on available and both
 * bits on used descriptors). */
struct sn_vpacked {
	/* DMA memory */
	struct vring_packed_desc *desc;          /* both sides write */
	struct vring_packed_event *driver_event; /* device reads */
	struct vring_packed_event *device_event; /* device writes */
	/* driver-private */
	uint16_t size, mask;
	uint16_t avail_pos, used_pos;
	struct sn_buf_ids ids;       /* by buffer id */
	uint32_t hdr_len;            /* virtio-net header before each frame */
	uint32_t rx_room;            /* receive: frame bytes a buffer holds */
	/* The longest frame received or sent, MTU + 14 (set at init to the
	 * default MTU's). Longer ones are dropped on receive, refused on
	 * transmit, both counted in errors. Receive still posts the whole
	 * room and takes the smaller of the two, so no value of this lets a
	 * frame past its buffer. */
	uint32_t max_frame;
	bool receive;
	bool event_idx;              /* VIRTIO_RING_F_EVENT_IDX negotiated */
	const struct sn_ctx *ctx;    /* transmit takes only this context's buffers */
	struct sn_mempool *rx_pool;
	const struct sn_regs *notify_regs;
	size_t notify_off;
	uint16_t queue_index;
	/* Flag bits at the next slot that are neither ours nor used. */
	struct sn_virtq_watch watch;
	struct sn_virtq_counters stats;
};

/* The queue transmits only buffers of ctx's pools; size a power of two. */
int sn_vpacked_init(struct sn_vpacked *vq, const struct sn_ctx *ctx, uint16_t size,
		    void *ring, void *driver_event, void *device_event, uint32_t hdr_len,
		    bool receive);
void sn_vpacked_fini(struct sn_vpacked *vq);
/* Free every packet still in flight (after the device has stopped). */
void sn_vpacked_drain(struct sn_vpacked *vq);

/* Make up to n receive buffers available, all at once (the first
 * descriptor's flags written last), without notifying; returns how
 * many. */
uint16_t sn_vpacked_post(struct sn_vpacked *vq, struct sn_pkt **pkts, uint16_t n);
/* Notifies the device of what was published from position old on,
 * unless its event suppression area says not to (ENABLE/DISABLE; DESC's
 * offset only with EVENT_IDX). */
void sn_vpacked_kick(struct sn_vpacked *vq, uint16_t old);
/* Take back up to n completed packets after validating each used
 * descriptor; receive queues set pkt->len. Invalid ones are dropped and
 * counted. */
uint16_t sn_vpacked_harvest(struct sn_vpacked *vq, struct sn_pkt **pkts, uint16_t n);
/* Refill a receive queue from its pool, one batch, one notification. */
void sn_vpacked_refill(struct sn_vpacked *vq);

uint16_t sn_vpacked_rx_burst(void *queue, struct sn_pkt **pkts, uint16_t n);
uint16_t sn_vpacked_tx_burst(void *queue, struct sn_pkt **pkts, uint16_t n);

/* The driver event suppression area: interrupts on (ENABLE) or off
 * (DISABLE, while polling), then a full fence, so that the caller's next
 * look at the ring and the device's next look at the flag meet. */
void sn_vpacked_want_interrupts(struct sn_vpacked *vq, bool on);
/* Whether the next slot holds a used descriptor: a harvest would find
 * something. One read of shared memory. */
bool sn_vpacked_used_pending(const struct sn_vpacked *vq);

/* The control path's cross-check, about once a second, with the split
 * ring's verdicts: STALLED (transmit buffers waiting, none completed at
 * two looks); LIED (since the last look the device wrote flag bits no
 * honest device writes: not of the slot's lap, or a used descriptor past
 * what it was given); OUT_OF_STEP (a lie, a used descriptor after a slot
 * the device skipped, or buffers lost to ids it gave back wrongly, still
 * there at two looks with no progress).
 * look->device_idx is the position up to which the device has used the
 * ring without a gap, look->used_idx the driver's. */
enum sn_virtq_health sn_vpacked_check(struct sn_vpacked *vq, struct sn_virtq_look *look);

/* ---- the control virtqueue, packed ------------------------------------
 *
 * As sn_vctrl (virtqueue.h): one command at a time, a list of three
 * descriptors (class and command byte, data, ack byte) with the same
 * buffer id in each (the spec reads it from the last, early devices from
 * the first); the device answers with one used descriptor in the list's
 * first slot, and the next list starts three slots on. */
struct sn_vpctrl {
	struct vring_packed_desc *desc;          /* both sides write */
	struct vring_packed_event *driver_event; /* device reads */
	uint8_t *data;               /* header + command: device reads */
	volatile uint8_t *ack;       /* device writes */
	uint64_t data_iova, ack_iova;
	uint16_t size, mask;
	uint16_t avail_pos, used_pos;
	bool pending, broken;
	const struct sn_regs *notify_regs;
	size_t notify_off;
	uint16_t queue_index;
};

/* size: a power of two, at least 4. */
int sn_vpctrl_init(struct sn_vpctrl *cq, uint16_t size, void *ring, void *driver_event,
		   uint8_t *data, uint64_t data_iova, uint8_t *ack, uint64_t ack_iova);
/* As sn_vctrl_post. */
int sn_vpctrl_post(struct sn_vpctrl *cq, uint8_t class, uint8_t cmd, const void *data,
		   size_t len);
/* As sn_vctrl_poll; -EPROTO for flag bits of no honest device (at the
 * list's slots or past them), an id not the command's, a length other
 * than the ack byte's, an ack neither OK nor ERR. why->device_idx holds
 * the flags of the list's first slot. */
int sn_vpctrl_poll(struct sn_vpctrl *cq, struct sn_vctrl_why *why);
/* As sn_vctrl_send: post, then wait at most timeout_ms. */
int sn_vpctrl_send(struct sn_vpctrl *cq, uint8_t class, uint8_t cmd, const void *data,
		   size_t len, unsigned timeout_ms, struct sn_vctrl_why *why);

#endif
