#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "afxdp.h"
#include "device.h"
#include "error.h"
#include "intel.h"
#include "vfio.h"

static const struct sn_driver *const drivers[] = {
	&sn_virtio_driver,
	&sn_igb_driver,
	&sn_e1000e_driver,
	&sn_ixgbe_driver,
};

#define NUM_DRIVERS (sizeof(drivers) / sizeof(drivers[0]))

static const struct sn_driver *find_driver(uint16_t vendor, uint16_t device,
					   const char **model)
{
	for (size_t i = 0; i < NUM_DRIVERS; i++) {
		const char *m = drivers[i]->match(vendor, device);
		if (m) {
			*model = m;
			return drivers[i];
		}
	}
	return NULL;
}

/* Enough buffers for a full receive ring, a full transmit ring of the
 * device they are forwarded to, and the application's batches. */
static uint32_t default_pool_size(const struct sn_dev_config *cfg)
{
	uint32_t rx = cfg->rx_ring_size ? cfg->rx_ring_size : 1024;
	uint32_t n = 2 * rx + 1024;
	return n < 2048 ? 2048 : n;
}

static void unlink_device(struct sn_device *dev)
{
	struct sn_device **link = &dev->ctx->devices;
	while (*link && *link != dev)
		link = &(*link)->next;
	if (*link)
		*link = dev->next;
}

/* One eventfd per receive queue and one for the other causes, wired to
 * the device's MSI-X (or MSI) vectors through VFIO; the driver's start
 * then points its queues at them. A host model gets the eventfds only. */
static int setup_intr(struct sn_device *dev, const struct sn_dev_config *cfg,
		      struct sn_error *err)
{
	struct sn_intr *in = &dev->intr;
	unsigned count = dev->rx_queues + 1u;

	if (!cfg->rx_interrupts)
		return 0;
	if (dev->ctx->cfg.unsafe_no_iommu)
		return sn_fail(err, EINVAL, "%s: receive interrupts need VFIO, and unsafe "
			       "mode has none: poll instead", dev->pci.addr);
	if (!dev->driver->rx_intr_arm)
		return sn_fail(err, ENOTSUP, "%s: the %s driver has no receive interrupts: "
			       "poll instead", dev->pci.addr, dev->driver->name);
	for (unsigned v = 0; v < count; v++) {
		in->fd[v] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (in->fd[v] < 0)
			return sn_fail(err, errno, "%s: eventfd failed: %s", dev->pci.addr,
				       strerror(errno));
	}
	in->event_vector = dev->rx_queues;
	in->itr_usec = cfg->itr_usec;
	in->msix = true;
	if (!dev->pci.model_bar) {
		int rc = sn_vfio_irqs_enable(&dev->pci, count, in->fd, &in->msix, err);
		if (rc < 0)
			return rc;
		in->vfio = true;
	}
	in->on = true;
	return 0;
}

/* After the device was stopped: VFIO lets go of the eventfds, then they close. */
static void release_intr(struct sn_device *dev)
{
	struct sn_intr *in = &dev->intr;
	if (in->vfio)
		sn_vfio_irqs_disable(&dev->pci, in->msix);
	in->vfio = in->on = false;
	for (unsigned v = 0; v <= SN_MAX_QUEUES; v++) {
		if (in->fd[v] >= 0)
			close(in->fd[v]);
		in->fd[v] = -1;
	}
}

/* Empties an eventfd (non-blocking): the wake-ups it held are spent. */
static void drain_eventfd(int fd)
{
	uint64_t count;
	if (fd >= 0)
		(void)!read(fd, &count, sizeof(count));
}

static int start_device(struct sn_device *dev, const struct sn_dev_config *cfg,
			struct sn_error *err)
{
	/* The driver names its device's own maximum; this is the library's,
	 * the size of the queue arrays. */
	if (dev->rx_queues > SN_MAX_QUEUES)
		return sn_fail(err, EINVAL, "%s (%s) can be given at most %d receive queues; "
			       "ask for 1 to %d", dev->pci.addr, dev->driver->name,
			       SN_MAX_QUEUES, SN_MAX_QUEUES);
	if (dev->tx_queues > SN_MAX_QUEUES)
		return sn_fail(err, EINVAL, "%s (%s) can be given at most %d transmit queues; "
			       "ask for 1 to %d", dev->pci.addr, dev->driver->name,
			       SN_MAX_QUEUES, SN_MAX_QUEUES);
	if (cfg->rx_pool && (cfg->rx_pool->flags & SN_POOL_DEVICE_READ_ONLY))
		return sn_fail(err, EINVAL, "the receive pool is read-only for the device");
	if (cfg->rx_pool && cfg->rx_pool->ctx != dev->ctx)
		return sn_fail(err, EINVAL, "the receive pool belongs to another context");
	if (cfg->rx_pool && cfg->rx_pool->released)
		return sn_fail(err, EINVAL, "the receive pool was already destroyed");
	dev->mtu = cfg->mtu ? cfg->mtu : SN_MTU_DEFAULT;
	if (dev->mtu < SN_MTU_MIN)
		return sn_fail(err, EINVAL, "%s: MTU %u is below the smallest IPv4 allows (%u); "
			       "ask for %u to %u", dev->pci.addr, dev->mtu, SN_MTU_MIN, SN_MTU_MIN,
			       SN_MTU_DEFAULT);
	/* Interrupts first: a configuration that cannot have them fails
	 * before any memory is taken. */
	int rc = setup_intr(dev, cfg, err);
	if (rc < 0)
		return rc;
	dev->rx_pool = cfg->rx_pool;
	if (!dev->rx_pool) {
		dev->own_pool = sn_mempool_create(dev->ctx, default_pool_size(cfg), 0, 0, err);
		if (!dev->own_pool)
			return err ? err->code : -ENOMEM;
		dev->rx_pool = dev->own_pool;
	}
	/* The pool outlives the device's receive ring: see sn_dev_close. */
	sn_mempool_get(dev->rx_pool);
	/* A frame must fit one receive buffer: refused, never clamped. */
	uint32_t room = sn_mempool_data_room(dev->rx_pool);
	if (dev->mtu + 14u > room)
		return sn_fail(err, EINVAL, "%s: MTU %u needs %u-byte frames, more than the receive "
			       "pool's data room of %u bytes: the largest MTU with this pool is %u "
			       "(frames spanning several buffers, jumbo frames, are not supported "
			       "yet)", dev->pci.addr, dev->mtu, dev->mtu + 14u, room, room - 14);
	return dev->driver->start(dev, cfg, err);
}

/* A device with its queue counts (checked once the driver is known). */
static struct sn_device *new_device(struct sn_ctx *ctx, const struct sn_dev_config *cfg,
				    struct sn_error *err)
{
	uint16_t rxq = cfg->rx_queues ? cfg->rx_queues : 1;
	uint16_t txq = cfg->tx_queues ? cfg->tx_queues : 1;
	struct sn_device *dev = calloc(1, sizeof(*dev));
	if (!dev) {
		sn_fail(err, ENOMEM, "out of memory");
		return NULL;
	}
	dev->ctx = ctx;
	dev->rx_queues = rxq;
	dev->tx_queues = txq;
	for (unsigned v = 0; v <= SN_MAX_QUEUES; v++)
		dev->intr.fd[v] = -1;
	return dev;
}

/* Links the device into its context and starts it; closes it on failure. */
static struct sn_dev *attach_and_start(struct sn_device *dev, const struct sn_dev_config *cfg,
				       struct sn_error *err)
{
	dev->next = dev->ctx->devices;
	dev->ctx->devices = dev;
	if (start_device(dev, cfg, err) < 0) {
		sn_dev_close(&dev->fast);
		return NULL;
	}
	return &dev->fast;
}

/* A device reached without PCI (a register model, an AF_XDP socket):
 * nothing of the PCI side to close. */
static void no_pci(struct sn_device *dev, const char *name)
{
	dev->pci.device_fd = -1;
	dev->pci.request_fd = -1;
	dev->pci.group = -1;
	for (unsigned i = 0; i <= SN_PCI_BARS; i++)
		dev->pci.sysfs_fds[i] = -1;
	snprintf(dev->pci.addr, sizeof(dev->pci.addr), "%s", name);
}

/* xdp:IFNAME[:QUEUE]: a kernel interface's queue through AF_XDP. */
static struct sn_dev *open_afxdp(struct sn_ctx *ctx, const char *spec,
				 const struct sn_dev_config *cfg, struct sn_error *err)
{
	char ifname[IF_NAMESIZE];
	uint32_t queue;
	if (sn_afxdp_parse_spec(spec, ifname, &queue) < 0) {
		sn_fail(err, EINVAL, "'%s' is not an AF_XDP device: the form is xdp:IFNAME or "
			"xdp:IFNAME:QUEUE (e.g. xdp:eth1 or xdp:eth1:0)", spec);
		return NULL;
	}
#ifdef SAFENIC_AFXDP
	struct sn_device *dev = new_device(ctx, cfg, err);
	if (!dev)
		return NULL;
	no_pci(dev, spec);
	dev->driver = &sn_afxdp_driver;
	dev->model = "AF_XDP";
	return attach_and_start(dev, cfg, err);
#else
	(void)ctx;
	(void)cfg;
	sn_fail(err, ENOTSUP, "%s: this safenic was built without AF_XDP: install "
		"libxdp-dev libbpf-dev and rebuild", spec);
	return NULL;
#endif
}

struct sn_dev *sn_dev_open(struct sn_ctx *ctx, const char *pci_addr,
			   const struct sn_dev_config *cfg_in, struct sn_error *err)
{
	struct sn_dev_config cfg = cfg_in ? *cfg_in : (struct sn_dev_config){ 0 };
	if (strncmp(pci_addr, SN_AFXDP_PREFIX, strlen(SN_AFXDP_PREFIX)) == 0)
		return open_afxdp(ctx, pci_addr, &cfg, err);
	struct sn_device *dev = new_device(ctx, &cfg, err);
	if (!dev)
		return NULL;
	if (sn_pci_open(ctx, pci_addr, &dev->pci, err) < 0) {
		free(dev);
		return NULL;
	}
	dev->driver = find_driver(dev->pci.vendor, dev->pci.device, &dev->model);
	if (!dev->driver) {
		sn_fail(err, ENOTSUP, "%s (%04x:%04x) is not a device safenic supports; see "
			"`safenic devices`", dev->pci.addr, dev->pci.vendor, dev->pci.device);
		sn_pci_close(ctx, &dev->pci);
		free(dev);
		return NULL;
	}
	return attach_and_start(dev, &cfg, err);
}

struct sn_dev *sn_dev_open_model(struct sn_ctx *ctx, const struct sn_driver *driver,
				 void *bar0, size_t bar0_size, uint16_t device_id,
				 const struct sn_dev_config *cfg_in, struct sn_error *err)
{
	struct sn_dev_config cfg = cfg_in ? *cfg_in : (struct sn_dev_config){ 0 };
	struct sn_device *dev = new_device(ctx, &cfg, err);
	if (!dev)
		return NULL;
	dev->driver = driver;
	dev->model = "model";
	no_pci(dev, "model");
	dev->pci.vendor = 0x8086;
	dev->pci.device = device_id;
	dev->pci.bar[0] = (struct sn_regs){ .mmio = bar0, .size = bar0_size, .fd = -1 };
	dev->pci.model_bar = true;
	return attach_and_start(dev, &cfg, err);
}

void sn_dev_close(struct sn_dev *handle)
{
	if (!handle)
		return;
	struct sn_device *dev = sn_device_of(handle);
	/* Order matters: stop DMA, cut bus mastering and reset (in
	 * sn_pci_close), and only then free the memory the device used. */
	if (dev->priv)
		dev->driver->stop(dev);
	release_intr(dev);
	sn_pci_close(dev->ctx, &dev->pci);
	dev->driver->release(dev);
	/* The rings gave their buffers back. A pool whose buffers are still
	 * in another device's ring, or with the application, stays mapped
	 * until they come home (sn_mempool_destroy). */
	if (dev->own_pool)
		sn_mempool_destroy(dev->own_pool);
	if (dev->rx_pool)
		sn_mempool_put(dev->rx_pool);
	unlink_device(dev);
	free(dev);
}

uint16_t sn_dev_rx_queues(const struct sn_dev *dev)
{
	return ((const struct sn_device *)dev)->rx_queues;
}

uint16_t sn_dev_tx_queues(const struct sn_dev *dev)
{
	return ((const struct sn_device *)dev)->tx_queues;
}

const char *sn_dev_driver_name(const struct sn_dev *dev)
{
	return ((const struct sn_device *)dev)->driver->name;
}

const char *sn_dev_model(const struct sn_dev *dev)
{
	return ((const struct sn_device *)dev)->model;
}

const char *sn_dev_pci_addr(const struct sn_dev *dev)
{
	return ((const struct sn_device *)dev)->pci.addr;
}

void sn_dev_mac(const struct sn_dev *dev, uint8_t mac[6])
{
	memcpy(mac, ((const struct sn_device *)dev)->mac, 6);
}

int sn_dev_link(struct sn_dev *handle, struct sn_link *link)
{
	struct sn_device *dev = sn_device_of(handle);
	/* Re-enable the other causes before reading the link, so that a
	 * change after the read raises a new event. */
	if (dev->intr.on) {
		drain_eventfd(dev->intr.fd[dev->intr.event_vector]);
		if (dev->driver->event_ack)
			dev->driver->event_ack(dev);
	}
	return dev->driver->link(dev, link);
}

int sn_rx_intr_fd(struct sn_dev *handle, uint16_t queue)
{
	struct sn_device *dev = sn_device_of(handle);
	return dev->intr.on && queue < dev->rx_queues ? dev->intr.fd[queue] : -1;
}

bool sn_rx_intr_arm(struct sn_dev *handle, uint16_t queue)
{
	struct sn_device *dev = sn_device_of(handle);
	if (!dev->intr.on || queue >= dev->rx_queues)
		return false;
	/* Wake-ups from before this point are spent: the caller polled the
	 * ring since. Drained before unmasking, so none that follows is lost. */
	drain_eventfd(dev->intr.fd[queue]);
	return dev->driver->rx_intr_arm(dev, queue);
}

void sn_rx_intr_disarm(struct sn_dev *handle, uint16_t queue)
{
	struct sn_device *dev = sn_device_of(handle);
	if (dev->intr.on && queue < dev->rx_queues)
		dev->driver->rx_intr_disarm(dev, queue);
}

int sn_dev_event_fd(struct sn_dev *handle)
{
	struct sn_device *dev = sn_device_of(handle);
	return dev->intr.on ? dev->intr.fd[dev->intr.event_vector] : -1;
}

void sn_dev_stats(struct sn_dev *dev, struct sn_stats *stats)
{
	memset(stats, 0, sizeof(*stats));
	sn_device_of(dev)->driver->stats(sn_device_of(dev), stats);
}

/* A queue pair number the device has in at least one direction. */
static bool has_queue(const struct sn_device *dev, uint16_t q)
{
	return q < SN_MAX_QUEUES && (q < dev->rx_queues || q < dev->tx_queues);
}

int sn_dev_queue_stats(struct sn_dev *handle, uint16_t q, struct sn_queue_stats *st)
{
	struct sn_device *dev = sn_device_of(handle);
	memset(st, 0, sizeof(*st));
	if (!has_queue(dev, q))
		return -EINVAL;
	if (!dev->driver->queue_stats)
		return -ENOTSUP;
	dev->driver->queue_stats(dev, q, st);
	return 0;
}

/* How bad a state is: a note of a worse one replaces a milder one's. */
static int severity(enum sn_dev_state state)
{
	switch (state) {
	case SN_DEV_OK: return 0;
	case SN_DEV_RECOVERED: return 1;
	case SN_DEV_TX_STALLED: return 2;
	case SN_DEV_OUT_OF_STEP: return 3;
	case SN_DEV_NEEDS_RESET: return 4;
	case SN_DEV_GONE: return 5;
	}
	return 5;
}

static enum sn_dev_state note(enum sn_dev_state *worst, char *msg, size_t size,
			      enum sn_dev_state state, const char *fmt, va_list ap)
{
	if (severity(state) <= severity(*worst) && msg[0])
		return *worst;
	vsnprintf(msg, size, fmt, ap);
	*worst = state;
	return state;
}

enum sn_dev_state sn_dev_note(struct sn_device *dev, enum sn_dev_state state,
			      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	state = note(&dev->check_state, dev->check_msg, sizeof(dev->check_msg), state, fmt, ap);
	va_end(ap);
	return state;
}

enum sn_dev_state sn_dev_note_queue(struct sn_device *dev, uint16_t q,
				    enum sn_dev_state state, const char *fmt, ...)
{
	struct sn_check_report *r = &dev->queue_check[q];
	va_list ap;
	va_start(ap, fmt);
	state = note(&r->state, r->msg, sizeof(r->msg), state, fmt, ap);
	va_end(ap);
	return state;
}

enum sn_dev_state sn_dev_check(struct sn_dev *handle)
{
	struct sn_device *dev = sn_device_of(handle);
	dev->check_state = SN_DEV_OK;
	dev->check_msg[0] = '\0';
	/* The kernel wants the device back (hot-unplug, unbind): as good as
	 * gone, and its removal waits until the caller closes it. */
	if (sn_vfio_removal_requested(&dev->pci))
		return sn_dev_note(dev, SN_DEV_GONE, "the device is gone: the kernel "
				   "asked for it back (hot-unplug, or an unbind from "
				   "vfio-pci)");
	enum sn_dev_state state = dev->driver->check(dev);
	if (severity(dev->check_state) > severity(state))
		state = dev->check_state;
	if (state != SN_DEV_OK && (dev->check_state != state || !dev->check_msg[0]))
		sn_dev_note(dev, state, "%s", sn_dev_state_name(state));
	if (state == SN_DEV_OK)
		dev->check_msg[0] = '\0';
	return state;
}

enum sn_dev_state sn_dev_check_queue(struct sn_dev *handle, uint16_t q)
{
	struct sn_device *dev = sn_device_of(handle);
	if (!has_queue(dev, q))
		return SN_DEV_OK; /* nothing of this device to check */
	struct sn_check_report *r = &dev->queue_check[q];
	r->state = SN_DEV_OK;
	r->msg[0] = '\0';
	if (sn_vfio_removal_requested(&dev->pci))
		return sn_dev_note_queue(dev, q, SN_DEV_GONE, "the device is gone: the kernel "
					 "asked for it back (hot-unplug, or an unbind from "
					 "vfio-pci)");
	enum sn_dev_state state;
	if (dev->driver->check_queue) {
		state = dev->driver->check_queue(dev, q);
	} else if (dev->rx_queues == 1 && dev->tx_queues == 1) {
		/* A driver without per-queue checks: with one pair, the
		 * device's check is the queue's. */
		state = sn_dev_check(handle);
		snprintf(r->msg, sizeof(r->msg), "%s", dev->check_msg);
	} else {
		return SN_DEV_OK; /* the driver cannot check one queue alone */
	}
	if (severity(r->state) > severity(state))
		state = r->state;
	if (state != SN_DEV_OK && !r->msg[0])
		snprintf(r->msg, sizeof(r->msg), "%s", sn_dev_state_name(state));
	r->state = state;
	if (state == SN_DEV_OK)
		r->msg[0] = '\0';
	return state;
}

const char *sn_dev_check_queue_message(const struct sn_dev *handle, uint16_t q)
{
	const struct sn_device *dev = (const struct sn_device *)handle;
	return has_queue(dev, q) ? dev->queue_check[q].msg : "";
}

bool sn_dev_removal_requested(struct sn_dev *handle)
{
	return sn_vfio_removal_requested(&sn_device_of(handle)->pci);
}

const char *sn_dev_check_message(const struct sn_dev *dev)
{
	return ((const struct sn_device *)dev)->check_msg;
}

const char *sn_dev_state_name(enum sn_dev_state state)
{
	switch (state) {
	case SN_DEV_OK: return "ok";
	case SN_DEV_NEEDS_RESET: return "the device reported an error and needs a reset";
	case SN_DEV_GONE: return "the device is gone (removed, or the kernel asked for it back)";
	case SN_DEV_TX_STALLED: return "transmit made no progress for a second";
	case SN_DEV_RECOVERED: return "a queue was out of step with the device and was recovered";
	case SN_DEV_OUT_OF_STEP: return "a queue is out of step with the device";
	}
	return "unknown";
}

/* ---- discovery --------------------------------------------------------- */

int sn_pci_info(const char *addr, struct sn_pci_info *info, struct sn_error *err)
{
	memset(info, 0, sizeof(*info));
	if (sn_pci_parse_addr(addr, info->addr) < 0)
		return sn_fail(err, EINVAL, "'%s' is not a PCI address (form 0000:00:03.0)",
			       addr);
	if (sn_pci_read_ids(info->addr, &info->vendor, &info->device, &info->class_code) < 0)
		return sn_fail(err, ENODEV, "no PCI device %s", info->addr);
	info->iommu_group = sn_pci_iommu_group(info->addr);
	sn_pci_kernel_driver(info->addr, info->kernel_driver, sizeof(info->kernel_driver));
	const struct sn_driver *drv = find_driver(info->vendor, info->device, &info->model);
	info->safenic_driver = drv ? drv->name : NULL;
	return 0;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int sn_pci_list_net(void (*fn)(const struct sn_pci_info *, void *), void *user,
		    struct sn_error *err)
{
	DIR *dir = opendir("/sys/bus/pci/devices");
	char *names[512];
	size_t n = 0;

	if (!dir)
		return sn_fail(err, errno, "cannot list /sys/bus/pci/devices: %s",
			       strerror(errno));
	struct dirent *e;
	while ((e = readdir(dir)) != NULL && n < 512)
		if (e->d_name[0] != '.')
			names[n++] = strdup(e->d_name);
	closedir(dir);
	qsort(names, n, sizeof(names[0]), compare_names);
	for (size_t i = 0; i < n; i++) {
		struct sn_pci_info info;
		if (names[i] && sn_pci_info(names[i], &info, NULL) == 0 &&
		    (info.class_code >> 16) == 0x02)
			fn(&info, user);
		free(names[i]);
	}
	return 0;
}

/* ---- AF_XDP device specs ---------------------------------------------- */

int sn_afxdp_parse_spec(const char *spec, char ifname[IF_NAMESIZE], uint32_t *queue)
{
	if (strncmp(spec, SN_AFXDP_PREFIX, strlen(SN_AFXDP_PREFIX)) != 0)
		return -EINVAL;
	const char *name = spec + strlen(SN_AFXDP_PREFIX);
	const char *colon = strchr(name, ':');
	size_t len = colon ? (size_t)(colon - name) : strlen(name);
	if (len == 0 || len >= IF_NAMESIZE)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (name[i] == '/' || name[i] <= ' ')
			return -EINVAL;
	memcpy(ifname, name, len);
	ifname[len] = '\0';
	*queue = 0;
	if (colon) {
		const char *q = colon + 1;
		unsigned long v = 0;
		if (!*q || strlen(q) > 5)
			return -EINVAL;
		for (; *q; q++) {
			if (*q < '0' || *q > '9')
				return -EINVAL;
			v = v * 10 + (unsigned long)(*q - '0');
		}
		if (v > 65535)
			return -EINVAL;
		*queue = (uint32_t)v;
	}
	return 0;
}

