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
#include <string.h>

#include "bufids.h"
#include "counter.h"
#include "mempool.h"
#include "pci.h"
#include "safenic/safenic.h"

#define VRING_DESC_F_NEXT 1
#define VRING_DESC_F_WRITE 2
#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_USED_F_NO_NOTIFY 1
#define VIRTIO_RING_F_EVENT_IDX 29

/* virtio 1.x, 2.7.10: with EVENT_IDX, the side that moved its index from
 * old to new tells the other one if the other asked to hear of entry
 * `event`, i.e. if event lies in [old, new) modulo 2^16. */
static inline bool sn_vring_need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

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

/* Lies of the device and the health check's last look, for either ring
 * layout: each episode of a lie is counted once (a device error) and
 * reported once by the check. */
struct sn_virtq_watch {
	bool lying;                  /* the last look found a lie */
	uint32_t lies, lies_told;
	uint16_t device_idx, used_idx;
	bool waiting, suspect;
};

/* Counts a lie once per episode: a burst loop would otherwise count the
 * same lie millions of times. */
static inline void sn_virtq_note_lie(struct sn_virtq_watch *w, uint64_t *device_errors,
				     bool lie)
{
	if (lie && !w->lying) {
		w->lies++;
		sn_count(device_errors, 1);
	}
	w->lying = lie;
}

struct sn_virtq {
	/* DMA memory */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	/* driver-private */
	uint16_t size, mask;
	uint16_t avail_idx;          /* next available slot we fill */
	uint16_t used_idx;           /* next used slot we consume */
	struct sn_buf_ids ids;       /* by descriptor id */
	uint32_t hdr_len;            /* virtio-net header before each frame */
	uint32_t rx_room;            /* receive: frame bytes a buffer holds */
	/* The longest frame received or sent, MTU + 14 (set at init to the
	 * default MTU's). Longer ones are dropped on receive, refused on
	 * transmit, both counted in errors. Receive still posts the whole
	 * room and takes the smaller of the two, so no value of this lets a
	 * frame past its buffer. */
	uint32_t max_frame;
	bool receive;
	const struct sn_ctx *ctx;    /* transmit takes only this context's buffers */
	struct sn_mempool *rx_pool;
	const struct sn_regs *notify_regs;
	size_t notify_off;
	uint16_t queue_index;
	/* EVENT_IDX (virtio 1.x, 2.7.7 and 2.7.10), when negotiated: the
	 * device's avail_event after the used ring decides our kicks, our
	 * used_event after the available ring its interrupts. */
	bool event_idx;
	bool intr_on;                /* used_event asks for the next entry */
	bool event_poll;             /* event_idx && !intr_on: harvests move used_event */
	uint16_t kicked_idx;         /* available index at the last kick */
	uint16_t event_base;         /* used index when used_event was last moved away */
	volatile uint16_t *used_event;        /* we write */
	const volatile uint16_t *avail_event; /* the device writes: untrusted */
	/* A used index past what the device wrote. */
	struct sn_virtq_watch watch;
	struct sn_virtq_counters stats;
};

/* The queue transmits only buffers of ctx's pools. */
int sn_virtq_init(struct sn_virtq *vq, const struct sn_ctx *ctx, uint16_t size,
		  void *desc, void *avail, void *used, uint32_t hdr_len, bool receive);
void sn_virtq_fini(struct sn_virtq *vq);
/* Free every packet still in flight (after the device has stopped). */
void sn_virtq_drain(struct sn_virtq *vq);

/* EVENT_IDX was negotiated: the device ignores the avail flags (which go
 * to 0, as 2.7.7 requires) and interrupts by used_event, which starts far
 * from anything the device can reach; kicks follow avail_event. */
void sn_virtq_use_event_idx(struct sn_virtq *vq);

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
/* Either layout's verdict on what its check saw (now): suspect, the queue
 * shows a lie with buffers in flight; waiting, transmit buffers wait and
 * none completed. Out of step or stalled only when the same is seen at
 * two looks with no progress. */
enum sn_virtq_health sn_virtq_judge(struct sn_virtq_watch *w, const struct sn_virtq_look *now,
				    bool suspect, bool waiting);

/* ---- the control virtqueue (virtio 1.2, 5.1.6.5) ---------------------
 *
 * One command at a time, as a chain of three descriptors: the class and
 * command byte, the command's data (both read by the device) and one ack
 * byte the device writes. Everything the device writes back (its used
 * index, the used entry, the ack byte) is checked before it is believed,
 * and the wait for it is bounded. */

#define VIRTIO_NET_OK 0
#define VIRTIO_NET_ERR 1
#define VIRTIO_NET_CTRL_MQ 4
#define VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET 0
#define VIRTIO_NET_CTRL_MQ_RSS_CONFIG 1
#define VIRTIO_NET_CTRL_MQ_HASH_CONFIG 2

/* Room for the largest command we send: an RSS configuration with a
 * 128-entry indirection table and a 40-byte key is 309 bytes. */
#define SN_VCTRL_DATA_ROOM 512u

struct sn_vctrl {
	struct vring_desc *desc;     /* device reads */
	struct vring_avail *avail;   /* device reads */
	struct vring_used *used;     /* device writes */
	uint8_t *data;               /* header + command: device reads */
	volatile uint8_t *ack;       /* device writes */
	uint64_t data_iova, ack_iova;
	uint16_t size, mask;
	uint16_t avail_idx, used_idx;
	bool pending;                /* a command is with the device */
	bool broken;                 /* the device lied: no more commands */
	bool event_idx;              /* used_event instead of the avail flags */
	const struct sn_regs *notify_regs;
	size_t notify_off;
	uint16_t queue_index;
};

/* What sn_vctrl_poll found wrong, for the caller's message. */
struct sn_vctrl_why {
	uint16_t device_idx;         /* the device's used index */
	uint32_t id, len;            /* its used entry */
	uint8_t ack;
};

/* size: the queue size (a power of two, at least 4). */
int sn_vctrl_init(struct sn_vctrl *cq, uint16_t size, void *desc, void *avail,
		  void *used, uint8_t *data, uint64_t data_iova, uint8_t *ack,
		  uint64_t ack_iova);
/* EVENT_IDX was negotiated: flags 0, used_event kept far from the
 * answer. Kicks stay unconditional (see sn_vctrl_post). */
void sn_vctrl_use_event_idx(struct sn_vctrl *cq);
/* Publishes one command and notifies the device. -EBUSY while one is
 * pending, -EMSGSIZE past SN_VCTRL_DATA_ROOM, -EPROTO once broken. */
int sn_vctrl_post(struct sn_vctrl *cq, uint8_t class, uint8_t cmd, const void *data,
		  size_t len);
/* One look at the device's answer: -EAGAIN not yet; 0 the device said OK;
 * -EIO it said ERR; -EPROTO it wrote something impossible (a used index
 * past the one command, an entry that is not the command's, a length
 * other than the ack byte's, an ack that is neither OK nor ERR): *why
 * says what, and the queue takes no more commands. */
int sn_vctrl_poll(struct sn_vctrl *cq, struct sn_vctrl_why *why);
/* Post and wait at most timeout_ms for the answer: as sn_vctrl_poll, or
 * -ETIMEDOUT (the queue then stays busy: the device still holds the
 * command's buffers until it is reset). */
int sn_vctrl_send(struct sn_vctrl *cq, uint8_t class, uint8_t cmd, const void *data,
		  size_t len, unsigned timeout_ms, struct sn_vctrl_why *why);
/* The bounded wait of either layout's control queue: poll(queue, why)
 * until it says anything but -EAGAIN, or -ETIMEDOUT after timeout_ms. */
int sn_vctrl_wait(int (*poll)(void *queue, struct sn_vctrl_why *why), void *queue,
		  unsigned timeout_ms, struct sn_vctrl_why *why);

/* The RSS command's data (virtio 1.2, 5.1.6.5.7.1, struct
 * virtio_net_rss_config): hash types, a table of table_len entries
 * (a power of two) spreading round-robin over rx_queues receive queues,
 * unclassified frames to queue 0, max_tx_vq = pairs, and the key. Returns
 * its length, or 0 when it does not fit room. */
size_t sn_virtio_rss_encode(uint8_t *out, size_t room, uint32_t hash_types,
			    uint16_t table_len, uint16_t rx_queues, uint16_t pairs,
			    const uint8_t *key, uint8_t key_len);

/* The hash report in a received virtio_net_hdr_v1_hash (20 bytes). */
#define SN_VIRTIO_HDR_HASH_LEN 20u
#define SN_VIRTIO_HASH_REPORT_MAX 9u   /* VIRTIO_NET_HASH_REPORT_UDPv6_EX */

/* Receive interrupts: ask the device to interrupt when it uses a buffer,
 * or not. With EVENT_IDX, used_event = our used index (the next entry
 * interrupts) or far away; without, the VRING_AVAIL_F_NO_INTERRUPT flag.
 * The device may still interrupt when asked not to, never the other way
 * round. */
void sn_virtq_want_interrupts(struct sn_virtq *vq, bool on);
/* Whether the device's used index is past ours: a harvest would find
 * something. One read of shared memory. */
bool sn_virtq_used_pending(const struct sn_virtq *vq);

/* Shared by the split and packed rings. */
/* Clears the virtio-net header in front of a frame: no offloads. Three
 * fixed sizes, so the compiler writes it with plain stores. The frame is
 * found from the buffer's own address, not from the application's data
 * pointer. */
static inline void sn_virtio_zero_header(const struct sn_pkt *pkt, uint32_t hdr_len)
{
	uint8_t *frame = pkt->pool->home[pkt->index].va + pkt->headroom;
	if (hdr_len == 12)
		memset(frame - 12, 0, 12);
	else if (hdr_len == SN_VIRTIO_HDR_HASH_LEN)
		memset(frame - SN_VIRTIO_HDR_HASH_LEN, 0, SN_VIRTIO_HDR_HASH_LEN);
	else
		memset(frame - 10, 0, 10);
}

/* The hash report of a received frame (virtio_net_hdr_v1_hash: le32
 * hash_value at 12, le16 hash_report at 16), read once each from memory
 * the device writes. A report type past the last one the spec defines is
 * a lie: false. */
static inline bool sn_virtio_take_hash(struct sn_pkt *pkt)
{
	const volatile uint8_t *h = pkt->pool->home[pkt->index].va + pkt->headroom -
				    SN_VIRTIO_HDR_HASH_LEN;
	uint32_t value = (uint32_t)h[12] | (uint32_t)h[13] << 8 | (uint32_t)h[14] << 16 |
			 (uint32_t)h[15] << 24;
	uint16_t report = (uint16_t)(h[16] | h[17] << 8);

	if (report > SN_VIRTIO_HASH_REPORT_MAX)
		return false;
	pkt->rss_hash = report ? value : 0;
	pkt->flags = report ? SN_PKT_RSS_HASH : 0;
	return true;
}

uint16_t sn_virtio_rx_burst(void *queue, struct sn_pkt **pkts, uint16_t n);
uint16_t sn_virtio_tx_burst(void *queue, struct sn_pkt **pkts, uint16_t n);
/* Refill a receive queue from its pool and kick once. */
void sn_virtq_refill(struct sn_virtq *vq);

#endif
