/* What the Intel families (igb, ixgbe, e1000e) have in common: a BAR 0
 * register file, descriptor rings run by the shared engine (ring.c), and
 * a start-up that differs only in its steps. Each family supplies an
 * sn_intel_family: its descriptor format, register table, and the small
 * operations below; intel.c does the rest. */
#ifndef SN_INTEL_H
#define SN_INTEL_H

#include "device.h"
#include "regs.h"
#include "ring.h"

struct sn_intel_nic;

struct sn_queue_regs {
	uint32_t head, tail;         /* offsets in BAR 0 */
};

/* Receive-side scaling as data: the three families program it alike,
 * at their own offsets and bits. The NIC hashes the fields MRQC names
 * with the key in RSSRK, looks the hash's low 7 bits up in a 128-entry
 * redirection table (RETA, one byte per entry, four per register) and
 * writes the hash back in the descriptor when RXCSUM.PCSD trades the
 * packet checksum field for it. */
struct sn_intel_rss {
	uint32_t mrqc, reta, rssrk, rxcsum;   /* register offsets */
	uint32_t mrqc_enable;                 /* "multiple queues by RSS" */
	/* MRQC hash-field bits for SN_RSS_IPV4 ... SN_RSS_IPV6_UDP, in the
	 * order of their flag bits; 0 where the NIC cannot hash that way. */
	uint32_t fields[6];
	uint8_t reta_shift;                   /* the queue's place in an entry */
};

#define SN_RSS_KEY_LEN 40
#define SN_RSS_RETA_ENTRIES 128
/* The Toeplitz key of Microsoft's RSS specification, which every driver
 * and test suite uses as its default. */
extern const uint8_t sn_rss_default_key[SN_RSS_KEY_LEN];

struct sn_intel_family {
	const char *name;
	const struct sn_ring_format *format;
	const struct sn_reg_info *registers;
	size_t num_registers;
	uint16_t max_queues;
	/* When models of the family differ: the queues (each way) of the
	 * device with that PCI ID, at most SN_MAX_QUEUES. NULL: max_queues. */
	uint16_t (*max_queues_of)(uint16_t device_id);
	const struct sn_intel_rss *rss;  /* NULL: one receive queue only */
	uint16_t default_ring;
	/* Smallest receive data room the NIC can be given: the buffer size
	 * field counts whole KiB and 0 is forbidden (igb, ixgbe), or the
	 * receive control only knows 2048 bytes and up (e1000e). */
	uint32_t min_rx_room;
	/* Bytes of a receive buffer the NIC fills: a fixed size (e1000e's
	 * RCTL.BSIZE), or 0 when it is the data room in whole KiB (SRRCTL).
	 * A frame must fit one (see sn_dev_config.mtu). */
	uint32_t rx_buf_fixed;
	/* Datasheet reset and wait for the NVM; interrupts masked. */
	int (*reset)(struct sn_intel_nic *nic, struct sn_error *err);
	uint32_t ral0;  /* Receive Address Low 0: the MAC the NVM loaded */
	/* Program one queue's ring (base, length, buffer size, head and tail
	 * 0) and enable it; returns its head and tail registers' offsets in
	 * BAR 0. Also how a queue is re-armed after queue_enable(false). */
	int (*setup_rx_queue)(struct sn_intel_nic *nic, unsigned q, uint64_t iova,
			      uint16_t size, uint32_t buf_size, struct sn_queue_regs *regs,
			      struct sn_error *err);
	int (*setup_tx_queue)(struct sn_intel_nic *nic, unsigned q, uint64_t iova,
			      uint16_t size, struct sn_queue_regs *regs, struct sn_error *err);
	/* Stop one queue (returning once the NIC no longer touches its ring
	 * and buffers), or start it again after its setup. */
	void (*queue_enable)(struct sn_intel_nic *nic, bool receive, unsigned q, bool on);
	/* Receive and transmit on, promiscuous as configured, link up. */
	void (*enable)(struct sn_intel_nic *nic, bool promiscuous);
	void (*disable)(struct sn_intel_nic *nic);
	void (*link)(struct sn_intel_nic *nic, struct sn_link *link);
	/* Receive interrupts, MSI-X only; NULL when the family has none.
	 * irq_setup points receive queue q at vector q and the other causes
	 * (link change) at intr->event_vector, throttles the queue vectors
	 * to one interrupt per itr_usec, leaves the queue vectors masked and
	 * the other causes enabled. irq_queue(unmask) clears queue q's stale
	 * cause, unmasks it and flushes the writes (a register read), so that
	 * a frame the ring does not show yet raises the interrupt;
	 * irq_queue(mask) masks it. irq_ack clears the other causes and
	 * enables them again. */
	int (*irq_setup)(struct sn_intel_nic *nic, const struct sn_intr *intr,
			 uint16_t itr_usec, struct sn_error *err);
	void (*irq_queue)(struct sn_intel_nic *nic, unsigned q, bool unmask);
	void (*irq_ack)(struct sn_intel_nic *nic, const struct sn_intr *intr);
	/* Names of the counters in the register table. */
	const char *rx_packets, *tx_packets, *rx_bytes, *tx_bytes, *rx_missed;
	/* Frames longer than the maximum the NIC was given (the MTU),
	 * dropped by the NIC itself: counted in rx_errors. */
	const char *rx_oversize;
	const char *rx_queue_drops;  /* NULL when the family has none */
};

struct sn_intel_nic {
	struct sn_device *dev;
	volatile uint8_t *bar;
	const struct sn_intel_family *family;
	uint16_t rx_queues, tx_queues;
	struct sn_ring rx[SN_MAX_QUEUES];
	struct sn_ring tx[SN_MAX_QUEUES];
	uint64_t *counter_totals;    /* indexed like family->registers */
	uint64_t *counter_reads;     /* one reading, before it is trusted */
	uint64_t more_queue_drops;   /* rx_queue_drops of queues 1 and up */
	bool gone;                   /* registers read all-ones: removed */
};

/* Polls until (read(off) & mask) == want, sleeping 1 ms between reads. */
int sn_intel_wait(struct sn_intel_nic *nic, uint32_t off, uint32_t mask,
		  uint32_t want, unsigned timeout_ms);
void sn_intel_sleep_ms(unsigned ms);
/* What igb and e1000e do alike, through the e1000 registers they share:
 * receive (broadcast, CRC stripped, 2048-byte buffers; promiscuous if
 * asked; frames over 1522 bytes with the FCS only with long_packets,
 * RCTL.LPE) and transmit on, link up; both off; link from STATUS (LU, speed
 * in bits 7:6). */
void sn_intel_e1000_enable(struct sn_intel_nic *nic, bool promiscuous, bool long_packets);
void sn_intel_e1000_disable(struct sn_intel_nic *nic);
void sn_intel_e1000_link(struct sn_intel_nic *nic, struct sn_link *link);
/* igb and ixgbe: a queue's enable bit (25) in RXDCTL or TXDCTL, at ctl;
 * waits up to 10 ms for the NIC to confirm. */
void sn_intel_queue_ctl_enable(struct sn_intel_nic *nic, uint32_t ctl, bool on);

/* Programs RSS over the NIC's receive queues (key, redirection table
 * taking the queues in turn, hash fields of rss_types, 0 = all, and the
 * hash in the write-back) and tells the rings to pass the hash on. */
void sn_intel_setup_rss(struct sn_intel_nic *nic, uint32_t rss_types);

/* Generic driver operations, shared by the families' sn_driver tables. */
int sn_intel_start(struct sn_device *dev, const struct sn_dev_config *cfg,
		   struct sn_error *err);
void sn_intel_stop(struct sn_device *dev);
void sn_intel_release(struct sn_device *dev);
int sn_intel_link(struct sn_device *dev, struct sn_link *link);
void sn_intel_stats(struct sn_device *dev, struct sn_stats *stats);
enum sn_dev_state sn_intel_check(struct sn_device *dev);
void sn_intel_queue_stats(struct sn_device *dev, uint16_t q, struct sn_queue_stats *st);
enum sn_dev_state sn_intel_check_queue(struct sn_device *dev, uint16_t q);
bool sn_intel_rx_intr_arm(struct sn_device *dev, uint16_t q);
void sn_intel_rx_intr_disarm(struct sn_device *dev, uint16_t q);
void sn_intel_event_ack(struct sn_device *dev);

/* Interrupt throttling when the caller leaves it to the driver. */
#define SN_INTEL_DEFAULT_ITR_USEC 50

/* The device-core table of an Intel family: every operation is the
 * shared one; only the name, the ID match and the family differ. */
#define SN_INTEL_DRIVER(var, driver_name, match_fn, family) \
	const struct sn_driver var = {                          \
		.name = driver_name,                            \
		.match = match_fn,                              \
		.start = sn_intel_start,                        \
		.stop = sn_intel_stop,                          \
		.release = sn_intel_release,                    \
		.link = sn_intel_link,                          \
		.stats = sn_intel_stats,                        \
		.check = sn_intel_check,                        \
		.queue_stats = sn_intel_queue_stats,            \
		.check_queue = sn_intel_check_queue,            \
		.rx_intr_arm = sn_intel_rx_intr_arm,            \
		.rx_intr_disarm = sn_intel_rx_intr_disarm,      \
		.event_ack = sn_intel_event_ack,                \
		.data = &(family),                              \
	}

/* The registers igb and e1000e share with the e1000 they descend from,
 * at the same offsets: X(fam, name, offset, mode, description). */
#define SN_E1000_COMMON_GLOBALS(X, fam)                                       \
	X(fam, CTRL, 0x00000, RW, "Device Control")                          \
	X(fam, STATUS, 0x00008, RO, "Device Status")                         \
	X(fam, EECD, 0x00010, RW, "EEPROM/Flash Control")                    \
	X(fam, IMC, 0x000D8, WO, "Interrupt Mask Clear")                     \
	X(fam, RCTL, 0x00100, RW, "Receive Control")                         \
	X(fam, TCTL, 0x00400, RW, "Transmit Control")                        \
	X(fam, RAL0, 0x05400, RW, "Receive Address Low 0")                   \
	X(fam, RAH0, 0x05404, RW, "Receive Address High 0")                  \
	X(fam, CRCERRS, 0x04000, RC, "CRC Error Count")                      \
	X(fam, RXERRC, 0x0400C, RC, "Receive Error Count")                   \
	X(fam, MPC, 0x04010, RC, "Missed Packets Count")                     \
	X(fam, GPRC, 0x04074, RC, "Good Packets Received Count")             \
	X(fam, GPTC, 0x04080, RC, "Good Packets Transmitted Count")          \
	X(fam, GORCL, 0x04088, RC64, "Good Octets Received Count")           \
	X(fam, GOTCL, 0x04090, RC64, "Good Octets Transmitted Count")        \
	X(fam, ROC, 0x040AC, RC, "Receive Oversize Count")                   \
	X(fam, TPR, 0x040D0, RC, "Total Packets Received")                   \
	X(fam, TPT, 0x040D4, RC, "Total Packets Transmitted")

/* ... and their queue registers, queue 0 at 0x2800 / 0x3800, stride 0x100
 * (the low aliases, which QEMU's models implement for both). */
#define SN_E1000_COMMON_QUEUES(X, fam)                                        \
	X(fam, RDBAL, 0x02800, 0x100, RW, "Rx Descriptor Base Low")          \
	X(fam, RDBAH, 0x02804, 0x100, RW, "Rx Descriptor Base High")         \
	X(fam, RDLEN, 0x02808, 0x100, RW, "Rx Descriptor Ring Length")       \
	X(fam, RDH, 0x02810, 0x100, RW, "Rx Descriptor Head")                \
	X(fam, RDT, 0x02818, 0x100, RW, "Rx Descriptor Tail")                \
	X(fam, TDBAL, 0x03800, 0x100, RW, "Tx Descriptor Base Low")          \
	X(fam, TDBAH, 0x03804, 0x100, RW, "Tx Descriptor Base High")         \
	X(fam, TDLEN, 0x03808, 0x100, RW, "Tx Descriptor Ring Length")       \
	X(fam, TDH, 0x03810, 0x100, RW, "Tx Descriptor Head")                \
	X(fam, TDT, 0x03818, 0x100, RW, "Tx Descriptor Tail")                \
	X(fam, TXDCTL, 0x03828, 0x100, RW, "Tx Descriptor Control")

extern const struct sn_intel_family sn_igb_family, sn_e1000e_family, sn_ixgbe_family;
extern const struct sn_driver sn_igb_driver, sn_e1000e_driver, sn_ixgbe_driver;

#endif
