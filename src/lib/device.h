/* The device core: what every driver family plugs into. A driver is a
 * table of small operations; the core owns opening, closing, and the
 * order in which DMA is stopped and memory released. */
#ifndef SN_DEVICE_H
#define SN_DEVICE_H

#include "ctx.h"
#include "mempool.h"
#include "pci.h"

struct sn_device;

struct sn_driver {
	const char *name;
	/* Returns a model name when the driver handles this device. */
	const char *(*match)(uint16_t vendor, uint16_t device);
	int (*start)(struct sn_device *dev, const struct sn_dev_config *cfg,
		     struct sn_error *err);
	/* Stop all DMA; the core then releases rings and unmaps memory. */
	void (*stop)(struct sn_device *dev);
	void (*release)(struct sn_device *dev);
	int (*link)(struct sn_device *dev, struct sn_link *link);
	void (*stats)(struct sn_device *dev, struct sn_stats *stats);
	enum sn_dev_state (*check)(struct sn_device *dev);
	/* One queue pair's counters (receive and transmit queue q; the core
	 * zeroed st and checked that q is below one of the queue counts).
	 * Called from any thread: reads only what sn_counter_read allows. */
	void (*queue_stats)(struct sn_device *dev, uint16_t q, struct sn_queue_stats *st);
	/* The check of receive and transmit queue q (each where the device
	 * has it), plus the device-wide signs, from the thread running that
	 * pair: notes what it finds in dev->queue_check[q] (sn_dev_note_queue)
	 * and returns the worst. */
	enum sn_dev_state (*check_queue)(struct sn_device *dev, uint16_t q);
	/* Receive interrupts (sn_dev_config.rx_interrupts); NULL where the
	 * driver has none. start programs the vectors of dev->intr. Arm
	 * unmasks queue q's interrupt and returns whether its ring is still
	 * empty; disarm masks it; event_ack clears the other causes in the
	 * device and enables them again (before the link is read). */
	bool (*rx_intr_arm)(struct sn_device *dev, uint16_t q);
	void (*rx_intr_disarm)(struct sn_device *dev, uint16_t q);
	void (*event_ack)(struct sn_device *dev);
	const void *data;            /* the family's own table, if any */
	/* The kernel drives the device and lets go of our memory when the
	 * process dies (AF_XDP): sn_ctx_emergency_stop, in a signal handler,
	 * must not call stop, which is not async-signal-safe there. */
	bool kernel_driven;
};

/* What a check found: the worst state noted, and its message. */
struct sn_check_report {
	enum sn_dev_state state;
	char msg[SN_ERROR_LEN];
};

/* Interrupt vectors and their eventfds: vector q for receive queue q,
 * vector rx_queues for the other causes (link changes). */
struct sn_intr {
	bool on;
	bool msix;                   /* MSI-X, else MSI */
	bool vfio;                   /* registered with VFIO (not a host model) */
	uint16_t itr_usec;           /* throttling asked for; 0 = default */
	uint16_t event_vector;       /* = rx_queues */
	int fd[SN_MAX_QUEUES + 1];   /* by vector; -1 when unused */
};

struct sn_device {
	struct sn_dev fast;          /* first: the public fast-path view */
	struct sn_ctx *ctx;
	const struct sn_driver *driver;
	const char *model;
	struct sn_pci_dev pci;
	uint8_t mac[6];
	uint16_t rx_queues, tx_queues;
	/* sn_dev_config.mtu, 0 made SN_MTU_DEFAULT; checked against the
	 * receive pool before the driver starts, which checks it against the
	 * device. */
	uint16_t mtu;
	struct sn_mempool *rx_pool;
	struct sn_mempool *own_pool; /* made by the core when none was given */
	struct sn_intr intr;
	void *priv;                  /* the driver's state */
	/* What the running sn_dev_check found: the worst state noted, and
	 * its message (sn_dev_check_message). */
	enum sn_dev_state check_state;
	char check_msg[SN_ERROR_LEN];
	/* The same for each queue pair's sn_dev_check_queue, apart so that
	 * threads checking their own queues do not share one. */
	struct sn_check_report queue_check[SN_MAX_QUEUES];
	struct sn_device *next;
};

extern const struct sn_driver sn_virtio_driver;

/* Host tests: start a driver on a register file in ordinary memory (a
 * model of the device) instead of a PCI device. */
struct sn_dev *sn_dev_open_model(struct sn_ctx *ctx, const struct sn_driver *driver,
				 void *bar0, size_t bar0_size, uint16_t device_id,
				 const struct sn_dev_config *cfg, struct sn_error *err);

/* For a driver's check: records what it found on a queue, keeping the
 * message of the most severe state; returns the worse of the two states. */
__attribute__((format(printf, 3, 4)))
enum sn_dev_state sn_dev_note(struct sn_device *dev, enum sn_dev_state state,
			      const char *fmt, ...);

/* The same for sn_dev_check_queue on queue pair q. */
__attribute__((format(printf, 4, 5)))
enum sn_dev_state sn_dev_note_queue(struct sn_device *dev, uint16_t q,
				    enum sn_dev_state state, const char *fmt, ...);

static inline struct sn_device *sn_device_of(struct sn_dev *dev)
{
	return (struct sn_device *)dev;
}

#endif
