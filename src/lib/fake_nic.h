/* An in-memory NIC for host benchmarks and tests (test code, never in the
 * library): it plays the device's side of the rings, as fast as it can.
 * Intel families: a register file in ordinary memory whose head and tail
 * registers it follows, completing every receive descriptor the driver
 * posted with a frame and writing DD back where transmit asked for it,
 * on queues that are turned on. A head the driver rewrote meanwhile (a
 * queue reset) is left as the driver wrote it.
 * virtio: split virtqueues (EVENT_IDX negotiated, as with QEMU) whose
 * used ring it fills from the available ring, keeping avail_event as
 * QEMU does and counting the interrupts used_event asks for; or packed
 * ones whose available descriptors it marks used in place, in ring
 * order. Like a real device it keeps its own position (the head register,
 * its own used index): it does not read back what it wrote into shared
 * memory, so a lie written there by someone else misleads the driver,
 * not the model.
 *
 * It moves no frame data: receive completions carry a length only. */
#ifndef SN_FAKE_NIC_H
#define SN_FAKE_NIC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ctx.h"
#include "device.h"
#include "virtqueue.h"
#include "vpacked.h"

#define FAKE_NIC_BAR_SIZE 0x20000
#define FAKE_NIC_FRAME 60
#define FAKE_NIC_MAX_SIDES 4

/* Where a family keeps what the model needs: heads, tails, lengths, the
 * bits that turn a queue on, and the bits that a finished reset must show. */
struct fake_nic_regs {
	uint32_t rdh, rdt, rdlen, tdh, tdt, tdlen;
	uint32_t rx_enable_reg, rx_enable_bit, tx_enable_reg, tx_enable_bit;
	uint32_t nvm_reg, nvm_done, dma_reg, dma_done;
};

/* One side of a device as the NIC plays it. */
struct fake_nic_side {
	volatile uint8_t *bar;
	const struct fake_nic_regs *regs;
	struct sn_virtq *vq;          /* virtio: the queue instead of registers */
	struct sn_vpacked *pq;        /* virtio, packed */
	bool receive;                 /* produce frames (rx) or consume them (tx) */
	uint16_t seen;                /* virtio: avail entries handled */
	uint16_t used;                /* virtio: the device's own used index
				       * (packed: its position in the ring) */
	uint32_t interrupts;          /* virtio: ones it would have raised */
};

struct fake_nic {
	struct fake_nic_side sides[FAKE_NIC_MAX_SIDES];
	unsigned num_sides;
	atomic_bool stop;
	struct sn_ctx *ctx;
	pthread_t thread;
};

/* The driver's view of one device: an Intel sn_dev, or two virtqueues. */
struct fake_nic_endpoint {
	struct sn_dev *dev;           /* Intel */
	struct sn_virtq rxq, txq;     /* virtio, split */
	struct sn_vpacked prxq, ptxq; /* virtio, packed */
	bool packed;
	uint8_t *bar;
};

/* One pass over every side: complete what the driver handed over. */
void fake_nic_step(struct fake_nic *m);
/* Runs fake_nic_step in its own thread until fake_nic_stop. */
void fake_nic_start(struct fake_nic *m);
void fake_nic_stop(struct fake_nic *m);

/* The Intel driver of that name (igb, e1000e, ixgbe). */
const struct sn_driver *fake_nic_intel_driver(const char *name);
/* Opens two Intel endpoints on model register files (rings of ring_size,
 * receiving into rx_pool, or each into its own pool when NULL) while the
 * model finishes their resets; describes each one's receive and transmit
 * sides. Returns 0, or -1 with the library's message in err. */
int fake_nic_open_intel_pair(struct fake_nic *m, const char *driver, uint16_t ring_size,
			     struct sn_mempool *rx_pool,
			     struct fake_nic_endpoint *e[2],
			     struct fake_nic_side rx_side[2], struct fake_nic_side tx_side[2],
			     struct sn_error *err);
/* The same with the whole device configuration given. */
int fake_nic_open_intel_pair_cfg(struct fake_nic *m, const char *driver,
				 const struct sn_dev_config *cfg,
				 struct fake_nic_endpoint *e[2],
				 struct fake_nic_side rx_side[2], struct fake_nic_side tx_side[2],
				 struct sn_error *err);
/* Opens one Intel device (PCI ID device_id) with cfg on a fresh model
 * register file, which it returns in *bar (the caller frees it after
 * closing the device); the model finishes the resets meanwhile. NULL with
 * the library's message in err when the open fails. */
struct sn_dev *fake_nic_open_intel(struct fake_nic *m, const char *driver,
				   uint16_t device_id, const struct sn_dev_config *cfg,
				   uint8_t **bar, struct sn_error *err);
/* Sets up a receive and a transmit virtqueue of ring_size as the modern
 * virtio driver lays them out, with EVENT_IDX: descriptors and available ring in memory
 * the device only reads, the used ring in memory it writes. Receives
 * into pool. Returns 0 or a negative errno. */
int fake_nic_open_virtio(struct fake_nic *m, struct fake_nic_endpoint *e, uint16_t ring_size,
			 struct sn_mempool *pool);
/* The same with packed virtqueues: the descriptor ring in memory both
 * sides write, the driver's event suppression area in memory the device
 * reads, the device's in memory it writes. */
int fake_nic_open_vpacked(struct fake_nic *m, struct fake_nic_endpoint *e, uint16_t ring_size,
			  struct sn_mempool *pool);
/* Gives back what the virtqueues hold and frees their bookkeeping. */
void fake_nic_close_virtio(struct fake_nic_endpoint *e);

#endif
