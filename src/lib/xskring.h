/* AF_XDP rings as the kernel shares them with a socket, read as device
 * data.
 *
 * An AF_XDP socket shares four rings with the kernel (Documentation/
 * networking/af_xdp.rst): fill (the driver lends UMEM buffers to receive
 * into), rx (the kernel gives them back with a frame: address and
 * length), tx (the driver lends frames to send) and completion (the
 * kernel gives their addresses back once sent). Each ring has a producer
 * and a consumer index in shared memory, counting entries from 0 modulo
 * 2^32, and a power-of-two number of slots.
 *
 * The kernel is another party writing into this memory, like a device:
 * every index and entry it writes is checked before use. A producer that
 * runs more than a ring ahead of our consumer (or a consumer past our
 * producer), an address outside the UMEM or not at a buffer this queue
 * lent, an offset or a length past the buffer, a completion for a frame
 * not in flight or at another address than was sent: each is dropped and
 * counted in device_errors, and no such value ever becomes a pointer.
 * Which buffer this queue lent where is kept here, outside the UMEM.
 *
 * UMEM addresses are offsets into one safenic pool's DMA region; a
 * buffer's offset follows the pool's layout (struct sn_xsk_geo), so an
 * address maps back to a buffer number by arithmetic and one check.
 * The UMEM is registered in unaligned-chunk mode (pool buffers are not a
 * power of two in size, nor all at multiples of one): the kernel then
 * returns a received frame's address as the buffer's own address in
 * bits 0-47 plus the frame's offset inside it in bits 48-63. */
#ifndef SN_XSKRING_H
#define SN_XSKRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Offsets above this bit in a received address (unaligned mode). */
#define SN_XSK_OFFSET_SHIFT 48
#define SN_XSK_ADDR_MASK ((UINT64_C(1) << SN_XSK_OFFSET_SHIFT) - 1)

/* One shared ring descriptor of rx and tx (struct xdp_desc). */
struct sn_xsk_desc {
	uint64_t addr;
	uint32_t len;
	uint32_t options;
};

/* Where the pool's buffers lie in the UMEM: with bufs_per_page 0 packed
 * one after the other; else bufs_per_page of them at the start of each
 * page of page_size (mempool.c's layout). */
struct sn_xsk_geo {
	uint64_t umem_size;
	uint64_t page_size;
	uint32_t buf_size;
	uint32_t bufs_per_page;
	uint32_t nbufs;
};

/* A ring as the driver sees it. prod and cons point into shared memory;
 * head is our own index (the producer of fill and tx, the consumer of rx
 * and completion), never read back from the shared side. */
struct sn_xsk_ring {
	uint32_t *prod;
	uint32_t *cons;
	void *entries;               /* uint64_t (fill, comp) or sn_xsk_desc */
	uint32_t *flags;             /* XDP_RING_NEED_WAKEUP; may be NULL */
	uint32_t size, mask;
	uint32_t head;
};

enum sn_xsk_buf_state {
	SN_XSK_HOME = 0,             /* not lent by this queue */
	SN_XSK_IN_FILL,              /* on the fill ring, or receiving */
	SN_XSK_IN_TX,                /* on the tx ring, or being sent */
};

/* A received frame after its checks: buffer number, where the frame
 * starts inside the buffer, its length. */
struct sn_xsk_frame {
	uint32_t buf;
	uint32_t off;
	uint32_t len;
};

struct sn_xsk_queue {
	struct sn_xsk_ring fill, rx, tx, comp;
	struct sn_xsk_geo geo;
	uint8_t *state;              /* by buffer: enum sn_xsk_buf_state */
	uint16_t *tx_off;            /* by buffer: offset sent from, while IN_TX */
	uint32_t in_fill, in_tx;     /* buffers in each state */
	uint64_t device_errors;      /* owning thread writes (sn_count) */
	/* sn_xsk_tx_stalled's last look: the kernel's tx consumer and
	 * completion producer, and whether frames were in flight. */
	uint32_t look_tx_cons, look_comp_prod;
	bool look_waiting;
};

/* Checks that the geometry is one the parser can trust: every buffer
 * inside the UMEM, sizes that cannot overflow. 0 or -EINVAL. */
int sn_xsk_geo_check(const struct sn_xsk_geo *geo);
/* Offset of buffer i in the UMEM. */
uint64_t sn_xsk_buf_offset(const struct sn_xsk_geo *geo, uint32_t i);
/* The buffer that holds UMEM offset off, and where off lies inside it;
 * false when off is in no buffer (past the UMEM, in a page's tail). */
bool sn_xsk_buf_of(const struct sn_xsk_geo *geo, uint64_t off, uint32_t *buf,
		   uint32_t *within);

/* The queue's tables for geo.nbufs buffers (allocated here; freed by
 * sn_xsk_queue_free). Rings are set by the caller. 0 or -ENOMEM. */
int sn_xsk_queue_init(struct sn_xsk_queue *q, const struct sn_xsk_geo *geo);
void sn_xsk_queue_free(struct sn_xsk_queue *q);

/* Free slots on the fill ring, from the kernel's consumer index; 0 (and
 * a device error) when that index is impossible. */
uint32_t sn_xsk_fill_room(struct sn_xsk_queue *q);
/* Lends buffer buf (not lent by this queue) to receive into; publish
 * with sn_xsk_publish(&q->fill) after a batch. */
void sn_xsk_fill_put(struct sn_xsk_queue *q, uint32_t buf);

/* Up to n received frames, each checked (see the top); entries that fail
 * are consumed, dropped and counted. Returns how many are in out. */
uint32_t sn_xsk_rx_take(struct sn_xsk_queue *q, struct sn_xsk_frame *out, uint32_t n);

/* Free slots on the tx ring, as sn_xsk_fill_room. */
uint32_t sn_xsk_tx_room(struct sn_xsk_queue *q);
/* Lends buffer buf to send len bytes from offset off inside it (the
 * caller checked off + len against the buffer). */
void sn_xsk_tx_put(struct sn_xsk_queue *q, uint32_t buf, uint32_t off, uint32_t len);

/* Up to n buffers whose sending the kernel completed, each checked;
 * returns how many are in bufs. */
uint32_t sn_xsk_comp_take(struct sn_xsk_queue *q, uint32_t *bufs, uint32_t n);

/* Makes what was put on a producer ring (fill, tx) visible to the kernel. */
static inline void sn_xsk_publish(struct sn_xsk_ring *r)
{
	__atomic_store_n(r->prod, r->head, __ATOMIC_RELEASE);
}

/* Whether the kernel asks to be woken (a syscall) to look at the ring. */
static inline bool sn_xsk_needs_wakeup(const struct sn_xsk_ring *r)
{
	return r->flags && (__atomic_load_n(r->flags, __ATOMIC_RELAXED) & 1u);
}

/* For the health check, about once a second: frames in flight and
 * neither the kernel's tx consumer nor its completion producer moved
 * since the last look, which also had frames in flight: the kernel sends
 * nothing (a silent stall, to be reported). Each index is read once; any
 * value only decides the verdict. */
bool sn_xsk_tx_stalled(struct sn_xsk_queue *q);

/* For the health check: whether a shared index is impossible now (a
 * producer more than a ring ahead of our consumer, a consumer past our
 * producer). Does not count. */
bool sn_xsk_queue_out_of_step(const struct sn_xsk_queue *q);

#endif
