/* safenic: user-space NIC drivers whose device DMA is fenced by the IOMMU.
 *
 * The public API. A process creates one context (one VFIO container shared
 * by all its devices), one or more packet pools, and opens devices by PCI
 * address. Packets move in bursts, as in DPDK:
 *
 *     struct sn_pkt *pkts[32];
 *     uint16_t n = sn_rx_burst(in, 0, pkts, 32);
 *     uint16_t sent = sn_tx_burst(out, 0, pkts, n);
 *     sn_pkt_free_bulk(pkts + sent, n - sent);
 *
 * Safety model: the device only ever sees descriptor rings and packet data.
 * Every struct in this header lives in ordinary process memory that is never
 * mapped into the IOMMU, so a device writing garbage into DMA memory cannot
 * corrupt a pointer, an index or a length the driver relies on.
 *
 * Threads: one queue per thread. A queue's sn_rx_burst or sn_tx_burst is
 * only ever called by one thread at a time (different queues of one
 * device may run in different threads). sn_pkt_alloc_bulk and
 * sn_pkt_free_bulk may be called from any thread on any pool, and a
 * buffer received on one queue may be sent or freed on another queue, of
 * another device, by another thread (handing it over is the
 * application's own synchronisation, e.g. a locked queue). Each thread
 * keeps a cache of free buffers of each pool, so the common case takes no
 * lock; see sn_mempool_free_count.
 * Control calls of a context (sn_dev_open, sn_dev_close, sn_dev_check,
 * sn_mempool_create, sn_mempool_destroy, sn_ctx_destroy) come from one
 * thread at a time, which may also run bursts. sn_dev_close only when no
 * thread is inside a burst on that device and none will start one.
 * sn_dev_check may reset queues: call it from the thread that runs all
 * the device's bursts, or while they are paused (a queue's own thread
 * checks its queue with sn_dev_check_queue). sn_dev_stats and
 * sn_dev_queue_stats may run while bursts do (figures may be a burst
 * old). After sn_mempool_destroy no thread may allocate from the
 * pool, any may still free its buffers; whichever frees the last one
 * frees the pool. sn_ctx_destroy only when no other thread uses the
 * context.
 *
 * Errors: functions that can fail take a `struct sn_error *` (may be NULL)
 * and return NULL or a negative errno; the message names the problem and
 * the fix. The library never exits and never prints, except warnings passed
 * to the context's log callback.
 */
#ifndef SAFENIC_H
#define SAFENIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SN_ERROR_LEN 320

struct sn_error {
	int code;                  /* negative errno */
	char msg[SN_ERROR_LEN];
};

/* ---- context ---------------------------------------------------------- */

enum sn_log_level { SN_LOG_WARN, SN_LOG_INFO };

typedef void (*sn_log_fn)(void *user, enum sn_log_level level, const char *msg);

/* Where DMA memory comes from. Huge pages let the IOMMU translate 2 MiB
 * (or 1 GiB) with one IOTLB entry; 4 KiB pages thrash its IOTLB. */
enum sn_mem_kind {
	SN_MEM_AUTO = 0,   /* config only: hugetlb, else THP, else 4 KiB */
	SN_MEM_HUGETLB,    /* reserved huge pages (vm.nr_hugepages) */
	SN_MEM_THP,        /* transparent huge pages, 2 MiB; VFIO only */
	SN_MEM_4K,         /* plain 4 KiB pages; VFIO only */
};

struct sn_ctx_config {
	/* Drive devices without the IOMMU: physical addresses, no fence. Only
	 * for machines without an IOMMU; the library warns loudly. */
	bool unsafe_no_iommu;
	/* 0 = automatic: 1 GiB pages where free ones exist and the region is
	 * large, else 2 MiB. Otherwise the page size in bytes to insist on
	 * (2 MiB and 1 GiB: hugetlb pages, or 2 MiB THP with SN_MEM_THP). */
	size_t page_size;
	/* SN_MEM_AUTO (0): hugetlb pages while free ones exist, else
	 * transparent huge pages, else 4 KiB pages with a warning; unsafe
	 * mode takes hugetlb pages only (the device gets physical addresses,
	 * so each page must be physically contiguous and pinned, and its
	 * address is read from /proc/self/pagemap). Another kind: only that
	 * one, or an error. */
	enum sn_mem_kind memory;
	sn_log_fn log;             /* NULL: messages are dropped */
	void *log_user;
};

struct sn_ctx;

struct sn_ctx *sn_ctx_create(const struct sn_ctx_config *cfg,
			     struct sn_error *err);
/* Closes every device still open, then frees all DMA memory. */
void sn_ctx_destroy(struct sn_ctx *ctx);

/* Stops DMA on every device of the context without freeing anything: for
 * a fatal-signal handler, so that a crashing process in unsafe mode leaves
 * no device writing to memory (with VFIO the kernel resets devices when the
 * process dies). Uses only register writes and nanosleep. */
void sn_ctx_emergency_stop(struct sn_ctx *ctx);

struct sn_mem_info {
	size_t page_size;          /* largest page size in use */
	size_t bytes;              /* DMA memory allocated */
	/* IOMMU (or physical) pages it spans: one per huge page, one per
	 * 4 KiB page elsewhere (THP units without a huge page included). */
	unsigned iommu_pages;
	unsigned regions;
	enum sn_mem_kind kind;     /* the slowest kind in use; AUTO: no memory */
	unsigned kinds;            /* bit 1 << kind for every kind in use */
	unsigned thp_units;        /* 2 MiB units of THP regions */
	unsigned thp_small_units;  /* of those, units without a huge page */
	bool small_pages;          /* some memory is in 4 KiB pages */
	bool unsafe;
};
/* "hugetlb", "THP", "4 KiB" ("auto" for SN_MEM_AUTO). */
const char *sn_mem_kind_name(enum sn_mem_kind kind);
void sn_ctx_mem_info(const struct sn_ctx *ctx, struct sn_mem_info *info);

/* ---- packet buffers --------------------------------------------------- */

struct sn_mempool;

/* Packet metadata; never in device-visible memory. */
struct sn_pkt {
	uint8_t *data;             /* first byte of the frame */
	uint64_t iova;             /* device address of data */
	struct sn_mempool *pool;
	/* len and flags side by side: receive and alloc set both with one
	 * store. */
	uint16_t len;              /* frame length, without FCS */
	uint16_t flags;            /* SN_PKT_* set by the driver on receive; 0 after alloc */
	uint16_t headroom;         /* bytes before data inside the buffer */
	uint32_t index;            /* buffer number inside its pool */
	/* The receive hash the device computed (RSS, Toeplitz over the
	 * addresses and ports it chose): valid when flags has SN_PKT_RSS_HASH.
	 * It is the device's word, never checked: a number to spread work
	 * by, not to trust for anything else. */
	uint32_t rss_hash;
};

#define SN_PKT_RSS_HASH (1u << 0)

#define SN_POOL_DEFAULT_BUF_SIZE 2176u  /* 2048 bytes of frame room, as DPDK */
#define SN_POOL_HEADROOM 128u

enum sn_pool_flags {
	/* The device only reads these buffers (a generator's pool): map them
	 * read-only in the IOMMU. Receiving into such a pool fails. */
	SN_POOL_DEVICE_READ_ONLY = 1u << 0,
};

/* buf_size 0 = SN_POOL_DEFAULT_BUF_SIZE; else a multiple of 64 from 192
 * to 65536 (headroom included). Any page size works with any buffer size. */
struct sn_mempool *sn_mempool_create(struct sn_ctx *ctx, uint32_t num_bufs,
				     uint32_t buf_size, unsigned flags,
				     struct sn_error *err);
/* Gives up the caller's handle; the handle must not be used again. The
 * pool itself lives on, mapped for the devices, while any of its buffers
 * is out (in a device's ring, or held by the application, which may still
 * free it) and while a device receives into it; it is freed when the last
 * of those ends, or by sn_ctx_destroy. So pools and devices may be
 * destroyed and closed in any order. Free buffers left in the cache of
 * another thread that is still alive count as out until that thread next
 * frees to the pool (or exits and the pool is looked at again). */
void sn_mempool_destroy(struct sn_mempool *pool);

/* Take up to n buffers; returns how many (fewer when the pool runs dry).
 * Each has len 0 and the default headroom, data and iova, whatever the
 * application changed before freeing it. The bytes inside a buffer are
 * left as they were when it was freed (drivers write only headroom), so a
 * generator may write its frames once and reuse them. */
uint32_t sn_pkt_alloc_bulk(struct sn_mempool *pool, struct sn_pkt **pkts,
			   uint32_t n);
/* Return buffers to their own pools (they may come from several). A
 * buffer already free (a double free) is refused and counted, never
 * handed out twice; see sn_mempool_bad_frees. (Two threads freeing the
 * same buffer at the same instant are not guaranteed to be caught: the
 * owner bit is checked and set without an atomic exchange, to keep the
 * common path free of them.) A buffer must not be freed after its pool
 * was freed (after sn_ctx_destroy, or once destroyed and all its buffers
 * home). */
void sn_pkt_free_bulk(struct sn_pkt **pkts, uint32_t n);
/* Free buffers: in the pool's shared store plus in every thread's cache.
 * Exact when no other thread is using the pool, approximate while one is.
 * A thread may find the store dry while other live threads' caches hold
 * buffers: each cache holds at most an eighth of the pool, and 256, so
 * give a pool used by T threads about T * 256 buffers more than its
 * rings and the application hold at once. Buffers in the caches of
 * threads that have exited are taken back when the store runs dry. */
uint32_t sn_mempool_free_count(const struct sn_mempool *pool);
uint32_t sn_mempool_size(const struct sn_mempool *pool);
/* Room for frame data after the headroom. */
uint32_t sn_mempool_data_room(const struct sn_mempool *pool);
/* Frees refused: double frees and buffers that are not the pool's. */
uint64_t sn_mempool_bad_frees(const struct sn_mempool *pool);

/* ---- devices ---------------------------------------------------------- */

#define SN_MAX_QUEUES 8

/* What receive-side scaling hashes on (sn_dev_config.rss_types): the
 * addresses, or the addresses and the TCP or UDP ports. A device hashes
 * what it can of these (QEMU's e1000e has no UDP hash: UDP frames hash
 * on their addresses alone). */
#define SN_RSS_IPV4 (1u << 0)
#define SN_RSS_IPV4_TCP (1u << 1)
#define SN_RSS_IPV4_UDP (1u << 2)
#define SN_RSS_IPV6 (1u << 3)
#define SN_RSS_IPV6_TCP (1u << 4)
#define SN_RSS_IPV6_UDP (1u << 5)
#define SN_RSS_ALL 0x3fu

/* The MTU a device gets when its config says 0, and the smallest it
 * takes (IPv4's minimum datagram, RFC 791). */
#define SN_MTU_DEFAULT 1500u
#define SN_MTU_MIN 68u

struct sn_dev_config {
	uint16_t rx_queues;        /* 0 = 1 */
	uint16_t tx_queues;        /* 0 = 1 */
	uint16_t rx_ring_size;     /* 0 = driver default */
	uint16_t tx_ring_size;     /* 0 = driver default */
	/* Pool to receive into; NULL = the device makes its own. */
	struct sn_mempool *rx_pool;
	/* Receive only frames addressed to the device's MAC (and broadcast).
	 * Default (false): promiscuous, as DPDK's testpmd runs. */
	bool unicast_filter;
	/* With more than one receive queue the device spreads frames over
	 * them by a hash of their flow (RSS: the well-known 40-byte Toeplitz
	 * key, a redirection table taking the queues in turn), so that a
	 * flow stays on one queue. Which fields count: SN_RSS_* bits, 0 = all. */
	uint32_t rss_types;
	/* Set up one MSI-X vector and eventfd per receive queue, plus one for
	 * other causes (link changes): see sn_rx_intr_fd and sn_dev_event_fd.
	 * (VFIO falls back to MSI for a device without MSI-X, but igb, e1000e,
	 * ixgbe and virtio drive only MSI-X and refuse then. ixgbe's are
	 * tested against a register model only, never on hardware.) Needs
	 * VFIO: an error in unsafe mode. The interrupts start masked; polling
	 * is unchanged. */
	bool rx_interrupts;
	/* Interrupt throttling: at least this many microseconds between two
	 * interrupts of a queue, where the device has it (igb, e1000e; ixgbe
	 * in steps of 2 us up to 1022; not virtio). 0 = the driver's
	 * default, 50 us. The first interrupt after
	 * a quiet spell is not delayed. */
	uint16_t itr_usec;
	/* virtio-net's ring layout: SN_VIRTIO_RINGS_AUTO (0) takes packed
	 * virtqueues when the device offers VIRTIO_F_RING_PACKED (QEMU:
	 * packed=on), split ones otherwise; SPLIT never negotiates packed;
	 * PACKED fails to open a device that does not offer it. A legacy
	 * device is always split. sn_dev_model says which was taken. */
	enum sn_virtio_rings {
		SN_VIRTIO_RINGS_AUTO,
		SN_VIRTIO_RINGS_SPLIT,
		SN_VIRTIO_RINGS_PACKED,
	} virtio_rings;
	/* The MTU, 0 = SN_MTU_DEFAULT (1500): the largest frame received and
	 * sent is mtu + 14 bytes (the Ethernet header; no FCS, and no room
	 * for a VLAN tag). Every driver applies it alike: longer frames
	 * received are dropped and counted in rx_errors (the NIC drops them
	 * itself where it can: igb and ixgbe by their maximum frame length,
	 * e1000e up to 1522 bytes without LPE, counted by the NIC and added
	 * to rx_errors); longer frames handed to sn_tx_burst are refused as
	 * any packet the transmit check refuses (tx_errors), never put on
	 * the wire. virtio: where the device offers VIRTIO_NET_F_MTU, its
	 * MTU is the maximum. sn_dev_open refuses an MTU the device or the
	 * receive pool cannot carry (a frame must fit one buffer: jumbo
	 * frames are not supported yet), never lowers it silently. */
	uint16_t mtu;
};

struct sn_stats {
	uint64_t rx_packets, rx_bytes, rx_drops, rx_errors;
	uint64_t tx_packets, tx_bytes, tx_drops, tx_errors;
	/* Values the device wrote that failed validation (bad length, id out
	 * of range, index jumping): each cost one dropped packet, never an
	 * access outside the ring or the buffer. */
	uint64_t device_errors;
	/* Times a receive queue was found with every posted buffer filled: the
	 * device had nowhere to put frames until the next refill. A real NIC
	 * drops (rx_drops); QEMU's NIC models queue the frames instead, and
	 * virtio-net may then deliver a newer frame before the queued ones
	 * (frames out of order), igb may drop some without counting them. */
	uint64_t rx_starved;
	/* Queues the library found out of step with the device in
	 * sn_dev_check and reset and re-armed (SN_DEV_RECOVERED). */
	uint64_t queue_resets;
	/* The NIC's own counters, where it has them (Intel families). */
	bool has_hw_counters;
	uint64_t hw_rx_packets, hw_rx_bytes, hw_tx_packets, hw_tx_bytes;
};

/* One queue pair's software counters (receive queue q and transmit
 * queue q), as in struct sn_stats. The device's own counters, and the
 * frames it dropped for want of descriptors (in sn_stats.rx_drops), belong
 * to no queue: the queues add up to sn_stats less those. */
struct sn_queue_stats {
	uint64_t rx_packets, rx_bytes, rx_drops, rx_errors, rx_starved;
	uint64_t tx_packets, tx_bytes, tx_drops, tx_errors;
	uint64_t device_errors;
};

struct sn_link {
	bool up;
	uint32_t speed_mbps;       /* 0 when unknown */
};

/* What sn_dev_check found. SN_DEV_OK and SN_DEV_RECOVERED mean the device
 * keeps working; the others mean it cannot go on without the caller
 * (closing and opening it again resets it). */
enum sn_dev_state {
	SN_DEV_OK = 0,
	SN_DEV_NEEDS_RESET,        /* the device reported a fatal error */
	SN_DEV_GONE,               /* removed (registers read all-ones), or the
				    * kernel asked for it back (hot-unplug,
				    * unbind): close it, the removal waits */
	/* Frames were waiting to be sent and the device took none for a
	 * second (link down, or a peer not accepting frames). */
	SN_DEV_TX_STALLED,
	/* A queue was out of step with the device (what the device wrote
	 * disagreed with the driver's own record of the ring) and the
	 * library dealt with it: an Intel queue was reset and re-armed (the
	 * frames in it dropped and counted, see queue_resets), or a virtio
	 * queue's impossible used index was ignored. Traffic goes on. */
	SN_DEV_RECOVERED,
	/* A queue is out of step with the device and only a reset of the
	 * whole device can bring them back together (virtio: the device
	 * wrote a used index past its completions and does not make
	 * progress). Nothing stale was handed out. */
	SN_DEV_OUT_OF_STEP,
};

typedef uint16_t (*sn_burst_fn)(void *queue, struct sn_pkt **pkts, uint16_t n);

/* The fast-path part of a device, kept first and small so that a burst is
 * one indirect call from the application. Treat as opaque. */
struct sn_dev {
	sn_burst_fn rx_burst;
	sn_burst_fn tx_burst;
	void *rxq[SN_MAX_QUEUES];
	void *txq[SN_MAX_QUEUES];
};

struct sn_dev *sn_dev_open(struct sn_ctx *ctx, const char *pci_addr,
			   const struct sn_dev_config *cfg,
			   struct sn_error *err);
/* Stops all device DMA, then frees the rings and gives up the device's own
 * pool (which lives on while another device's ring or the application
 * still holds its buffers, see sn_mempool_destroy). Devices may be closed
 * in any order; closing the last one keeps the context's DMA memory at
 * its IOVAs, so a device opened later in the same context uses it as is. */
void sn_dev_close(struct sn_dev *dev);

/* Receive up to n packets; the caller owns them afterwards. A queue the
 * device was not opened with receives nothing. */
static inline uint16_t sn_rx_burst(struct sn_dev *dev, uint16_t queue,
				   struct sn_pkt **pkts, uint16_t n)
{
	if (queue >= SN_MAX_QUEUES || !dev->rxq[queue])
		return 0;
	return dev->rx_burst(dev->rxq[queue], pkts, n);
}

/* Queue up to n packets for transmission; returns how many were taken.
 * Those are freed by the driver once sent; the rest stay the caller's.
 * A packet is taken only if its pool belongs to the device's context, its
 * iova is its own buffer's at its headroom, and headroom + len fit the
 * buffer; the first that does not ends the burst (counted in tx_errors).
 * A queue the device was not opened with takes nothing.
 * Every call first reclaims what the device has sent, so a call with n = 0
 * returns finished buffers to their pools (to drain before closing). */
static inline uint16_t sn_tx_burst(struct sn_dev *dev, uint16_t queue,
				   struct sn_pkt **pkts, uint16_t n)
{
	if (queue >= SN_MAX_QUEUES || !dev->txq[queue])
		return 0;
	return dev->tx_burst(dev->txq[queue], pkts, n);
}

/* Queues the device was opened with. */
uint16_t sn_dev_rx_queues(const struct sn_dev *dev);
uint16_t sn_dev_tx_queues(const struct sn_dev *dev);

const char *sn_dev_driver_name(const struct sn_dev *dev);
/* The device's model, with what the driver chose at start-up where that
 * matters (virtio-net: modern or legacy, packed or split virtqueues). */
const char *sn_dev_model(const struct sn_dev *dev);
const char *sn_dev_pci_addr(const struct sn_dev *dev);
void sn_dev_mac(const struct sn_dev *dev, uint8_t mac[6]);
int sn_dev_link(struct sn_dev *dev, struct sn_link *link);
/* Software counters of all queues, plus the device's own where it has
 * them. Control path: may read registers. */
void sn_dev_stats(struct sn_dev *dev, struct sn_stats *stats);
/* Counters of receive queue `queue` and transmit queue `queue` (zero for
 * a direction the device has fewer queues in); -EINVAL when the device
 * has neither. Reads only memory: may be called from any thread while
 * others run the bursts (the figures are each a recent value, not one
 * snapshot of all of them). */
int sn_dev_queue_stats(struct sn_dev *dev, uint16_t queue, struct sn_queue_stats *st);
/* Health check for the control loop (call about once a second, from the
 * thread that runs the device's bursts: it may reset a queue). Compares
 * the driver's view of every queue with the device's own head register or
 * used index, and reports the worst it found. On
 * SN_DEV_GONE close the device (sn_dev_close or sn_ctx_destroy): a
 * hot-unplug completes only once the process lets go of it. */
enum sn_dev_state sn_dev_check(struct sn_dev *dev);
/* One line saying what the last sn_dev_check found and on which queue,
 * e.g. "receive queue 0 was out of step with the device (...): reset and
 * re-armed"; "" after SN_DEV_OK. The string belongs to the device: valid
 * until the next sn_dev_check on it or sn_dev_close. */
const char *sn_dev_check_message(const struct sn_dev *dev);
/* sn_dev_check for one thread's share of a device: receive queue `queue`
 * and transmit queue `queue`, plus the signs that concern the whole
 * device (gone, needs a reset). Call it from the thread that runs that
 * queue pair's bursts; several threads may each check their own queue
 * at once. sn_dev_check (all queues) is for single-threaded users. */
enum sn_dev_state sn_dev_check_queue(struct sn_dev *dev, uint16_t queue);
/* What the last sn_dev_check_queue on that queue found ("" after
 * SN_DEV_OK, or for a queue the device does not have); valid until the
 * next sn_dev_check_queue on that queue. */
const char *sn_dev_check_queue_message(const struct sn_dev *dev, uint16_t queue);
const char *sn_dev_state_name(enum sn_dev_state state);
/* Whether the kernel has asked for the device back (hot-unplug, or an
 * unbind from vfio-pci). One non-blocking read, no register access: cheap
 * enough to poll several times a second between sn_dev_check calls, so
 * that a removal is noticed at once; sn_dev_check then says SN_DEV_GONE.
 * Always false in --unsafe mode (no VFIO). */
bool sn_dev_removal_requested(struct sn_dev *dev);

/* ---- interrupts --------------------------------------------------------
 *
 * For a thread that would rather sleep than spin when its queue is idle
 * (sn_dev_config.rx_interrupts). The loop, NAPI-like:
 *
 *     for (;;) {
 *         n = sn_rx_burst(dev, q, pkts, 32);
 *         if (n) { handle(pkts, n); continue; }
 *         if (sn_rx_intr_arm(dev, q))        // false: frames came meanwhile
 *             poll(&(struct pollfd){ sn_rx_intr_fd(dev, q), POLLIN }, 1, -1);
 *         sn_rx_intr_disarm(dev, q);         // poll again without interrupts
 *     }
 *
 * Arm, disarm and the event functions are control path: a register write
 * or two and a non-blocking read, never to be called per packet. They
 * are for the thread that runs the queue (one queue per thread), except
 * the event functions, for any one thread. */

/* The eventfd that becomes readable when receive queue `queue` gets a
 * frame while armed; -1 without rx_interrupts or for a queue not opened.
 * It belongs to the device (closed by sn_dev_close). The caller need not
 * read it: sn_rx_intr_arm drains it (reading it as well is harmless). */
int sn_rx_intr_fd(struct sn_dev *dev, uint16_t queue);
/* Unmasks the queue's interrupt, then looks at the ring once more. True:
 * the ring is empty and the interrupt armed, sleep on the fd. False:
 * frames arrived before the interrupt was armed (they may raise no
 * interrupt): poll the queue instead of sleeping. So no frame is left
 * waiting behind a sleeping thread. Also false without rx_interrupts. */
bool sn_rx_intr_arm(struct sn_dev *dev, uint16_t queue);
/* Masks the queue's interrupt again: call it once awake, so that frames
 * received while polling cost the device no interrupts. */
void sn_rx_intr_disarm(struct sn_dev *dev, uint16_t queue);
/* The eventfd that becomes readable on a link change (and the device's
 * other causes); -1 without rx_interrupts. After it fires, call
 * sn_dev_link: it drains the fd, clears the cause in the device and
 * re-enables it, then reads the link. */
int sn_dev_event_fd(struct sn_dev *dev);

/* ---- PCI discovery ---------------------------------------------------- */

struct sn_pci_info {
	char addr[16];             /* 0000:00:03.0 */
	uint16_t vendor, device;
	uint32_t class_code;
	int iommu_group;           /* -1: none */
	char kernel_driver[32];    /* "" when unbound */
	const char *model;         /* NULL when no driver supports it */
	const char *safenic_driver;
};

/* Normalise "3.0", "00:03.0" or "0000:00:03.0" to the full form. */
int sn_pci_parse_addr(const char *text, char out[16]);
int sn_pci_info(const char *addr, struct sn_pci_info *info,
		struct sn_error *err);
/* Calls fn for each network-class PCI device, in address order. */
int sn_pci_list_net(void (*fn)(const struct sn_pci_info *, void *),
		    void *user, struct sn_error *err);

#ifdef __cplusplus
}
#endif
#endif
