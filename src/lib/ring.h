/* The descriptor-ring engine shared by the Intel families (igb, ixgbe,
 * e1000e), after FreeBSD's iflib: the engine owns index arithmetic,
 * batching, write-back validation, refill, doorbells and counters; a
 * family contributes only its descriptor format, as data.
 *
 * All three families use 16-byte descriptors whose write-back puts the
 * status/error dword at byte 8 (DD = bit 0, EOP = bit 1) and the receive
 * length at byte 12 (advanced write-back of 82576 and 82599, extended
 * write-back of 82574);
 * transmit write-back puts DD at bit 0 of byte 12. They differ in how a
 * transmit descriptor is encoded and in which receive error bits exist. */
#ifndef SN_RING_H
#define SN_RING_H

#include <stdbool.h>
#include <stdint.h>

#include "dma.h"

struct sn_ctx;
#include "safenic/safenic.h"

union sn_desc {
	struct {
		uint64_t addr;
		uint64_t cmd;      /* transmit: length, command, type */
	} read;
	struct {
		uint32_t info;     /* RSS type in bits 3:0 (all three families) */
		uint32_t hash;     /* the RSS hash, when the NIC computes one */
		uint32_t status;   /* DD, EOP, errors in the top bits */
		uint16_t length;
		uint16_t vlan;
	} rx_wb;
	struct {
		uint64_t info_hash; /* info | hash << 32: both in one read */
		uint64_t status_length;
	} rx_wb64;
	struct {
		uint64_t reserved;
		uint32_t cmd_len;  /* what we wrote: length, command */
		uint32_t status;   /* DD in bit 0 (bit 32 of the second quadword) */
	} tx_wb;
};

#define SN_DESC_DD (1u << 0)
#define SN_DESC_EOP (1u << 1)
/* Report Status, bit 3 of the transmit command byte in both the legacy
 * and the advanced format: the device writes DD back only where it is set. */
#define SN_TXD_CMD_RS (0x08ull << 24)

struct sn_ring_format {
	const char *name;
	/* Constant bits of a transmit descriptor's second quadword: type,
	 * end of packet, insert FCS. The engine adds report status (RS) to the
	 * last descriptor of each block of 32 (see ring.c). The length goes in bits 15:0, and
	 * also in bits 63:46 (PAYLEN) for advanced descriptors. */
	uint64_t tx_cmd;
	bool tx_paylen;
	uint32_t rx_error_mask;  /* status bits that mark a bad frame */
	/* Bits of the write-back's first dword that hold the RSS type: not 0
	 * when the NIC hashed the frame, the hash then in the second dword. */
	uint32_t rx_rss_type_mask;
};

/* Written only by the thread that runs the ring, read by any: updated
 * with sn_count, read with sn_counter_read (counter.h). */
struct sn_ring_counters {
	uint64_t packets, bytes, drops, errors, device_errors;
	uint64_t starved;       /* receive: every posted buffer was filled */
	uint64_t resets;        /* times the queue was reset and re-armed */
};

struct sn_ring {
	volatile union sn_desc *desc;   /* DMA memory */
	struct sn_pkt **slots;          /* buffer per descriptor; not DMA memory */
	const struct sn_ring_format *fmt;
	volatile uint32_t *tail;        /* doorbell register */
	volatile uint32_t *head;        /* the device's head; read only by the check */
	uint16_t size, mask;
	uint16_t rs_mask;               /* transmit: RS block length - 1 */
	uint16_t next_use;              /* next descriptor we hand over */
	uint16_t next_clean;            /* next descriptor we expect back */
	uint16_t in_flight;
	bool discarding;                /* dropping the rest of a multi-descriptor frame */
	const struct sn_ctx *ctx;       /* transmit takes only this context's buffers */
	struct sn_mempool *pool;        /* receive rings */
	uint32_t rx_room;               /* receive: frame bytes a posted buffer holds */
	/* The longest frame received or sent: the MTU + 14 (no FCS, no VLAN
	 * tag). Longer ones are dropped on receive and refused on transmit,
	 * both counted in errors. Receive takes the smaller of this and
	 * rx_room, so a wrong value can never let a frame past its buffer. */
	uint32_t max_frame;
	/* fmt->rx_rss_type_mask once the NIC is told to hash (RSS), else 0:
	 * without RSS the second dword carries other things. */
	uint32_t rss_type_mask;
	/* The health check's last look: our position, the device's head, and
	 * whether we were waiting for the device or out of step with it. */
	uint16_t check_clean;
	uint32_t check_head;
	bool check_waiting, check_suspect;
	struct sn_dma_region *mem;
	struct sn_ring_counters stats;
};

/* desc must hold size descriptors; size a power of two, 8 to 32768. The
 * ring transmits only buffers of ctx's pools. */
int sn_ring_init(struct sn_ring *ring, const struct sn_ctx *ctx,
		 const struct sn_ring_format *fmt, void *desc, uint16_t size,
		 volatile uint32_t *tail);
void sn_ring_fini(struct sn_ring *ring);
/* Return every buffer still in the ring (after the device has stopped). */
void sn_ring_drain(struct sn_ring *ring);

/* Receive: fill every free descriptor from the pool; one tail write. */
void sn_ring_rx_refill(struct sn_ring *ring);
uint16_t sn_ring_rx_burst(void *ring, struct sn_pkt **pkts, uint16_t n);
/* Transmit asks for a write-back once per block of 32 descriptors (a
 * quarter of a smaller ring) and frees a block's buffers when its last
 * descriptor is done. A call with n == 0 when only a tail short of a
 * block is in flight reads the device's head register once to take that
 * tail back too, so an idle queue returns every buffer; no other call
 * reads a register. */
uint16_t sn_ring_tx_burst(void *ring, struct sn_pkt **pkts, uint16_t n);
/* Whether a receive burst would find a frame: one look at the next
 * descriptors, no register access (for the interrupt re-check). */
bool sn_ring_rx_ready(const struct sn_ring *ring);
enum sn_ring_health {
	SN_RING_OK,
	SN_RING_STALLED,       /* transmit: frames waiting, the device not moving */
	SN_RING_OUT_OF_STEP,   /* the device's head and our window disagree */
};

/* The control path's cross-check (call about once a second), given the
 * device's head register. The device owns the window [next_clean,
 * next_use) and its head lies inside it or at its end; the descriptors
 * from next_clean up to the head are done. A head outside the window, or
 * a head past a descriptor that should have come back done (receive: the
 * next one; transmit: the oldest block's RS descriptor) and did not,
 * means driver and device disagree about the ring (a lying write-back put
 * the driver ahead, or the device skipped a write-back):
 * SN_RING_OUT_OF_STEP, once seen at two looks in a row with neither side
 * moving, since a write-back may trail the head register for a moment.
 * SN_RING_STALLED likewise when a transmit ring had frames the device had
 * not sent (its head short of next_use) and the device did not move at
 * all. A transmit tail short of a block gets no write-back; a head at
 * next_use says the device sent it, so it is no stall. */
enum sn_ring_health sn_ring_check(struct sn_ring *ring, uint32_t head, bool receive);
/* After the device stopped the queue: every buffer in flight goes back
 * to its pool (transmit: counted as drops), the descriptors are zeroed
 * and both indices start at 0, as after sn_ring_init; counts a reset. The
 * caller programs the queue again (head and tail 0) and, for receive,
 * refills. */
void sn_ring_rearm(struct sn_ring *ring, bool receive);

#endif
