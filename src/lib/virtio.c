/* virtio-net over PCI: modern (virtio 1.x, "Virtio PCI Card Specification"
 * section 4.1.4, capabilities in config space) and legacy (I/O BAR 0, for
 * guests without an IOMMU). One receive and one transmit split virtqueue. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "device.h"
#include "error.h"
#include "virtqueue.h"

/* Device status bits (virtio 1.1, 2.1). */
#define STATUS_ACKNOWLEDGE 1
#define STATUS_DRIVER 2
#define STATUS_DRIVER_OK 4
#define STATUS_FEATURES_OK 8
#define STATUS_NEEDS_RESET 0x40

/* Feature bits. */
#define F_NET_MAC 5
#define F_NET_STATUS 16
#define F_VERSION_1 32
#define F_ACCESS_PLATFORM 33
#define NET_S_LINK_UP 1

/* Modern common configuration (4.1.4.3). */
#define CC_DEVICE_FEATURE_SELECT 0x00
#define CC_DEVICE_FEATURE 0x04
#define CC_DRIVER_FEATURE_SELECT 0x08
#define CC_DRIVER_FEATURE 0x0c
#define CC_NUM_QUEUES 0x12
#define CC_DEVICE_STATUS 0x14
#define CC_QUEUE_SELECT 0x16
#define CC_QUEUE_SIZE 0x18
#define CC_QUEUE_MSIX_VECTOR 0x1a
#define CC_QUEUE_ENABLE 0x1c
#define CC_QUEUE_NOTIFY_OFF 0x1e
#define CC_QUEUE_DESC 0x20
#define CC_QUEUE_DRIVER 0x28
#define CC_QUEUE_DEVICE 0x30

/* Vendor capability types (4.1.4). */
#define PCI_CAP_VENDOR 0x09
#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_DEVICE 4

/* Legacy I/O BAR layout (4.1.4.8), without MSI-X. */
#define LEG_DEVICE_FEATURES 0x00
#define LEG_DRIVER_FEATURES 0x04
#define LEG_QUEUE_PFN 0x08
#define LEG_QUEUE_SIZE 0x0c
#define LEG_QUEUE_SELECT 0x0e
#define LEG_QUEUE_NOTIFY 0x10
#define LEG_DEVICE_STATUS 0x12
#define LEG_DEVICE_CONFIG 0x14

#define RX_QUEUE 0
#define TX_QUEUE 1
#define DEFAULT_RING 256
#define NO_VECTOR 0xffff

struct virtio_net {
	bool modern;
	struct sn_regs common;       /* modern: common config */
	struct sn_regs notify;       /* modern: notification area */
	uint32_t notify_multiplier;
	struct sn_regs devcfg;       /* net device config */
	struct sn_regs legacy;       /* legacy: BAR 0 */
	uint64_t features;
	uint32_t hdr_len;
	struct sn_virtq rxq, txq;
	struct sn_dma_region *driver_mem[2]; /* descriptors + avail: device reads */
	struct sn_dma_region *device_mem[2]; /* used ring: device writes */
};

static const char *virtio_match(uint16_t vendor, uint16_t device)
{
	if (vendor != 0x1af4)
		return NULL;
	if (device == 0x1041)
		return "virtio-net (modern)";
	if (device == 0x1000)
		return "virtio-net (legacy/transitional)";
	return NULL;
}

/* ---- status and features, on either interface --------------------- */

static uint8_t get_status(const struct virtio_net *vn)
{
	return vn->modern ? sn_regs_read8(&vn->common, CC_DEVICE_STATUS)
			  : sn_regs_read8(&vn->legacy, LEG_DEVICE_STATUS);
}

static void set_status(const struct virtio_net *vn, uint8_t status)
{
	if (vn->modern)
		sn_regs_write8(&vn->common, CC_DEVICE_STATUS, status);
	else
		sn_regs_write8(&vn->legacy, LEG_DEVICE_STATUS, status);
}

static void add_status(const struct virtio_net *vn, uint8_t bits)
{
	set_status(vn, (uint8_t)(get_status(vn) | bits));
}

/* Writing 0 resets; the device confirms by reading back 0 (4.1.4.3.2). */
static int reset_device(const struct virtio_net *vn)
{
	set_status(vn, 0);
	for (int i = 0; i < 1000; i++) {
		if (get_status(vn) == 0)
			return 0;
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
	return -ETIMEDOUT;
}

static uint64_t device_features(const struct virtio_net *vn)
{
	if (!vn->modern)
		return sn_regs_read32(&vn->legacy, LEG_DEVICE_FEATURES);
	sn_regs_write32(&vn->common, CC_DEVICE_FEATURE_SELECT, 0);
	uint64_t lo = sn_regs_read32(&vn->common, CC_DEVICE_FEATURE);
	sn_regs_write32(&vn->common, CC_DEVICE_FEATURE_SELECT, 1);
	uint64_t hi = sn_regs_read32(&vn->common, CC_DEVICE_FEATURE);
	return lo | hi << 32;
}

static void write_features(const struct virtio_net *vn, uint64_t features)
{
	if (!vn->modern) {
		sn_regs_write32(&vn->legacy, LEG_DRIVER_FEATURES, (uint32_t)features);
		return;
	}
	sn_regs_write32(&vn->common, CC_DRIVER_FEATURE_SELECT, 0);
	sn_regs_write32(&vn->common, CC_DRIVER_FEATURE, (uint32_t)features);
	sn_regs_write32(&vn->common, CC_DRIVER_FEATURE_SELECT, 1);
	sn_regs_write32(&vn->common, CC_DRIVER_FEATURE, (uint32_t)(features >> 32));
}

static bool has(uint64_t features, unsigned bit)
{
	return (features >> bit) & 1;
}

static int negotiate(struct sn_device *dev, struct virtio_net *vn, struct sn_error *err)
{
	bool fenced = !dev->ctx->cfg.unsafe_no_iommu;
	uint64_t offered = device_features(vn);
	uint64_t wanted = 1ull << F_NET_MAC | 1ull << F_NET_STATUS;

	if (vn->modern) {
		if (!has(offered, F_VERSION_1))
			return sn_fail(err, ENOTSUP, "%s: modern virtio device without "
				       "VERSION_1", dev->pci.addr);
		wanted |= 1ull << F_VERSION_1;
		if (fenced && !has(offered, F_ACCESS_PLATFORM))
			return sn_fail(err, ENOTSUP,
				       "%s: the device does not offer ACCESS_PLATFORM, so its DMA "
				       "would bypass the IOMMU; give QEMU's virtio-net-pci "
				       "iommu_platform=on,disable-legacy=on", dev->pci.addr);
		if (fenced)
			wanted |= 1ull << F_ACCESS_PLATFORM;
	} else if (fenced) {
		return sn_fail(err, ENOTSUP,
			       "%s: a legacy virtio device does not go through the IOMMU; use "
			       "a modern device (QEMU: disable-legacy=on,iommu_platform=on) or, "
			       "on a machine without IOMMU, --unsafe", dev->pci.addr);
	}
	vn->features = offered & wanted;
	write_features(vn, vn->features);
	if (vn->modern) {
		add_status(vn, STATUS_FEATURES_OK);
		if (!(get_status(vn) & STATUS_FEATURES_OK))
			return sn_fail(err, EIO, "%s: the device refused our features",
				       dev->pci.addr);
	}
	/* virtio 1.x always carries num_buffers: 12 bytes; legacy 10. */
	vn->hdr_len = vn->modern ? 12 : 10;
	return 0;
}

/* ---- finding the modern interface ----------------------------------- */

static int map_modern(struct sn_device *dev, struct virtio_net *vn, struct sn_error *err)
{
	struct sn_pci_dev *pci = &dev->pci;
	bool found_common = false, found_notify = false, found_device = false;

	for (uint8_t cap = sn_pci_find_cap(pci, PCI_CAP_VENDOR, 0); cap;
	     cap = sn_pci_find_cap(pci, PCI_CAP_VENDOR, cap)) {
		uint8_t type = sn_regs_read8(&pci->config, cap + 3u);
		uint8_t bar = sn_regs_read8(&pci->config, cap + 4u);
		uint32_t off = sn_regs_read32(&pci->config, cap + 8u);
		uint32_t len = sn_regs_read32(&pci->config, cap + 12u);
		if (bar >= SN_PCI_BARS || pci->bar[bar].size < (uint64_t)off + len)
			continue; /* a capability pointing outside its BAR */
		struct sn_regs w = sn_regs_window(&pci->bar[bar], off, len);
		if (type == CAP_COMMON && !found_common && len >= 0x38) {
			vn->common = w;
			found_common = true;
		} else if (type == CAP_NOTIFY && !found_notify) {
			vn->notify = w;
			vn->notify_multiplier = sn_regs_read32(&pci->config, cap + 16u);
			found_notify = true;
		} else if (type == CAP_DEVICE && !found_device && len >= 8) {
			vn->devcfg = w;
			found_device = true;
		}
	}
	if (!found_common || !found_notify || !found_device)
		return sn_fail(err, ENODEV, "%s: virtio capabilities missing from config "
			       "space", pci->addr);
	return 0;
}

/* ---- queues ----------------------------------------------------------- */

static uint16_t pick_ring_size(uint16_t requested, uint16_t device_max)
{
	uint16_t size = requested ? requested : DEFAULT_RING;
	if (size > device_max)
		size = device_max;
	while (size & (size - 1))
		size &= (uint16_t)(size - 1); /* round down to a power of two */
	return size;
}

static void write64(const struct sn_regs *r, size_t off, uint64_t v)
{
	sn_regs_write32(r, off, (uint32_t)v);
	sn_regs_write32(r, off + 4, (uint32_t)(v >> 32));
}

/* Modern: descriptors and available ring in memory the device may only
 * read; the used ring in memory it may write. */
static int setup_modern_queue(struct sn_device *dev, struct virtio_net *vn,
			      uint16_t index, uint16_t requested, struct sn_virtq *vq,
			      struct sn_error *err)
{
	sn_regs_write16(&vn->common, CC_QUEUE_SELECT, index);
	uint16_t max = sn_regs_read16(&vn->common, CC_QUEUE_SIZE);
	if (max == 0)
		return sn_fail(err, ENODEV, "%s: queue %u does not exist", dev->pci.addr,
			       index);
	uint16_t size = pick_ring_size(requested, max);
	size_t desc_bytes = sn_vring_desc_bytes(size);
	struct sn_dma_region **drv = &vn->driver_mem[index], **devm = &vn->device_mem[index];
	int rc = sn_dma_alloc(dev->ctx, desc_bytes + sn_vring_avail_bytes(size),
			      SN_DMA_DEVICE_READS, drv, err);
	if (rc == 0)
		rc = sn_dma_alloc(dev->ctx, sn_vring_used_bytes(size), SN_DMA_DEVICE_RW,
				  devm, err);
	if (rc < 0)
		return rc;
	rc = sn_virtq_init(vq, dev->ctx, size, (*drv)->va, (*drv)->va + desc_bytes, (*devm)->va,
			   vn->hdr_len, index == RX_QUEUE);
	if (rc < 0)
		return sn_fail(err, rc, "out of memory for queue %u", index);
	sn_regs_write16(&vn->common, CC_QUEUE_SIZE, size);
	sn_regs_write16(&vn->common, CC_QUEUE_MSIX_VECTOR, NO_VECTOR);
	write64(&vn->common, CC_QUEUE_DESC, sn_dma_iova(*drv, 0));
	write64(&vn->common, CC_QUEUE_DRIVER, sn_dma_iova(*drv, desc_bytes));
	write64(&vn->common, CC_QUEUE_DEVICE, sn_dma_iova(*devm, 0));
	uint16_t notify_off = sn_regs_read16(&vn->common, CC_QUEUE_NOTIFY_OFF);
	size_t at = (size_t)notify_off * vn->notify_multiplier;
	if (at + 2 > vn->notify.size)
		return sn_fail(err, ENODEV, "%s: notify offset outside its window",
			       dev->pci.addr);
	vq->notify_regs = &vn->notify;
	vq->notify_off = at;
	vq->queue_index = index;
	sn_regs_write16(&vn->common, CC_QUEUE_ENABLE, 1);
	return 0;
}

/* Legacy: one physically contiguous block, used ring on the next 4 KiB
 * boundary, announced by page frame number (4.1.5.1.3 legacy layout). */
static int setup_legacy_queue(struct sn_device *dev, struct virtio_net *vn,
			      uint16_t index, struct sn_virtq *vq, struct sn_error *err)
{
	sn_regs_write16(&vn->legacy, LEG_QUEUE_SELECT, index);
	uint16_t size = sn_regs_read16(&vn->legacy, LEG_QUEUE_SIZE);
	if (size == 0 || (size & (size - 1)))
		return sn_fail(err, ENODEV, "%s: queue %u has unusable size %u",
			       dev->pci.addr, index, size);
	size_t desc_bytes = sn_vring_desc_bytes(size);
	size_t used_at = (desc_bytes + sn_vring_avail_bytes(size) + 4095) & ~(size_t)4095;
	struct sn_dma_region **mem = &vn->device_mem[index];
	int rc = sn_dma_alloc(dev->ctx, used_at + sn_vring_used_bytes(size),
			      SN_DMA_DEVICE_RW, mem, err);
	if (rc < 0)
		return rc;
	if ((*mem)->phys && used_at + sn_vring_used_bytes(size) > (*mem)->page_size)
		return sn_fail(err, EINVAL, "ring does not fit one page");
	rc = sn_virtq_init(vq, dev->ctx, size, (*mem)->va, (*mem)->va + desc_bytes,
			   (*mem)->va + used_at, vn->hdr_len, index == RX_QUEUE);
	if (rc < 0)
		return sn_fail(err, rc, "out of memory for queue %u", index);
	sn_regs_write32(&vn->legacy, LEG_QUEUE_PFN, (uint32_t)(sn_dma_iova(*mem, 0) >> 12));
	vq->notify_regs = &vn->legacy;
	vq->notify_off = LEG_QUEUE_NOTIFY;
	vq->queue_index = index;
	return 0;
}

static int setup_queue(struct sn_device *dev, struct virtio_net *vn, uint16_t index,
		       uint16_t requested, struct sn_virtq *vq, struct sn_error *err)
{
	return vn->modern ? setup_modern_queue(dev, vn, index, requested, vq, err)
			  : setup_legacy_queue(dev, vn, index, vq, err);
}

static void read_mac(struct sn_device *dev, struct virtio_net *vn)
{
	const struct sn_regs *cfg = vn->modern ? &vn->devcfg : &vn->legacy;
	size_t base = vn->modern ? 0 : LEG_DEVICE_CONFIG;
	if (!has(vn->features, F_NET_MAC))
		return; /* keep the zero address */
	for (unsigned i = 0; i < 6; i++)
		dev->mac[i] = sn_regs_read8(cfg, base + i);
}

/* ---- driver operations ----------------------------------------------- */

static int virtio_start(struct sn_device *dev, const struct sn_dev_config *cfg,
			struct sn_error *err)
{
	struct virtio_net *vn = calloc(1, sizeof(*vn));
	int rc;

	if (!vn)
		return sn_fail(err, ENOMEM, "out of memory");
	dev->priv = vn;
	if (dev->rx_queues > 1 || dev->tx_queues > 1)
		return sn_fail(err, ENOTSUP, "%s: virtio-net supports one queue pair here",
			       dev->pci.addr);
	vn->modern = dev->pci.device == 0x1041 ||
		     (!dev->ctx->cfg.unsafe_no_iommu && sn_pci_find_cap(&dev->pci, PCI_CAP_VENDOR, 0));
	if (vn->modern) {
		if ((rc = map_modern(dev, vn, err)) < 0)
			return rc;
	} else {
		if (!dev->pci.bar[0].size)
			return sn_fail(err, ENODEV, "%s: legacy virtio without BAR 0",
				       dev->pci.addr);
		vn->legacy = dev->pci.bar[0];
	}
	if (reset_device(vn) < 0)
		return sn_fail(err, ETIMEDOUT, "%s: the device did not finish its reset",
			       dev->pci.addr);
	sn_pci_set_bus_master(&dev->pci, true);   /* only now: see sn_pci_open */
	add_status(vn, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
	if ((rc = negotiate(dev, vn, err)) < 0 ||
	    (rc = setup_queue(dev, vn, RX_QUEUE, cfg->rx_ring_size, &vn->rxq, err)) < 0 ||
	    (rc = setup_queue(dev, vn, TX_QUEUE, cfg->tx_ring_size, &vn->txq, err)) < 0)
		return rc;
	read_mac(dev, vn);
	vn->rxq.rx_pool = dev->rx_pool;
	vn->rxq.rx_room = sn_mempool_data_room(dev->rx_pool);
	/* Buffers may be posted before DRIVER_OK, kicks only after it. */
	struct sn_pkt *fresh[256];
	uint16_t n = (uint16_t)sn_pkt_alloc_bulk(dev->rx_pool, fresh,
						 vn->rxq.size > 256 ? 256 : vn->rxq.size);
	sn_virtq_post(&vn->rxq, fresh, n);
	add_status(vn, STATUS_DRIVER_OK);
	sn_virtq_refill(&vn->rxq);
	sn_virtq_kick(&vn->rxq);
	dev->fast.rx_burst = sn_virtio_rx_burst;
	dev->fast.tx_burst = sn_virtio_tx_burst;
	dev->fast.rxq[0] = &vn->rxq;
	dev->fast.txq[0] = &vn->txq;
	return 0;
}

static void virtio_stop(struct sn_device *dev)
{
	struct virtio_net *vn = dev->priv;
	if (vn && (vn->modern ? vn->common.size : vn->legacy.size))
		reset_device(vn); /* a reset device does no DMA */
}

static void virtio_release(struct sn_device *dev)
{
	struct virtio_net *vn = dev->priv;
	if (!vn)
		return;
	sn_virtq_drain(&vn->rxq);
	sn_virtq_drain(&vn->txq);
	sn_virtq_fini(&vn->rxq);
	sn_virtq_fini(&vn->txq);
	for (unsigned i = 0; i < 2; i++) {
		if (vn->driver_mem[i])
			sn_dma_free(dev->ctx, vn->driver_mem[i]);
		if (vn->device_mem[i])
			sn_dma_free(dev->ctx, vn->device_mem[i]);
	}
	free(vn);
	dev->priv = NULL;
}

static int virtio_link(struct sn_device *dev, struct sn_link *link)
{
	struct virtio_net *vn = dev->priv;
	link->speed_mbps = 0;
	link->up = true; /* without the STATUS feature the link is always up */
	if (has(vn->features, F_NET_STATUS)) {
		uint16_t status = vn->modern ? sn_regs_read16(&vn->devcfg, 6)
					     : sn_regs_read16(&vn->legacy, LEG_DEVICE_CONFIG + 6);
		link->up = status & NET_S_LINK_UP;
	}
	return 0;
}

static void add_counters(uint64_t *packets, uint64_t *bytes, uint64_t *drops,
			 uint64_t *errors, uint64_t *device_errors,
			 const struct sn_virtq_counters *c)
{
	*packets += c->packets;
	*bytes += c->bytes;
	*drops += c->drops;
	*errors += c->errors;
	*device_errors += c->device_errors;
}

static void virtio_stats(struct sn_device *dev, struct sn_stats *s)
{
	struct virtio_net *vn = dev->priv;
	add_counters(&s->rx_packets, &s->rx_bytes, &s->rx_drops, &s->rx_errors,
		     &s->device_errors, &vn->rxq.stats);
	s->rx_starved += vn->rxq.stats.starved;
	add_counters(&s->tx_packets, &s->tx_bytes, &s->tx_drops, &s->tx_errors,
		     &s->device_errors, &vn->txq.stats);
}

/* The cross-check of one virtqueue's used index against the driver's
 * own record; what it finds is noted on the device (sn_dev_note). */
static void check_queue(struct sn_device *dev, struct sn_virtq *vq, const char *dir)
{
	struct sn_virtq_look l;
	unsigned q = vq->queue_index;

	switch (sn_virtq_check(vq, &l)) {
	case SN_VIRTQ_OK:
		break;
	case SN_VIRTQ_STALLED:
		sn_dev_note(dev, SN_DEV_TX_STALLED, "transmit queue 0 (virtqueue %u): %u frames "
			    "waiting and the device completed none for a second", q, l.in_flight);
		break;
	case SN_VIRTQ_LIED:
		sn_dev_note(dev, SN_DEV_RECOVERED, "%s queue 0 (virtqueue %u): the device wrote "
			    "an impossible used index %u (the driver at %u, %u buffers in flight); "
			    "entries it never wrote were rejected and counted, nothing stale was "
			    "handed out", dir, q, l.device_idx, l.used_idx, l.in_flight);
		break;
	case SN_VIRTQ_OUT_OF_STEP:
		sn_dev_note(dev, SN_DEV_OUT_OF_STEP, "%s queue 0 (virtqueue %u) is out of step: "
			    "the device wrote used index %u over entries it never wrote (the driver "
			    "at %u, %u buffers in flight) and made no progress for a second; "
			    "nothing stale was handed out", dir, q, l.device_idx, l.used_idx,
			    l.in_flight);
		break;
	}
}

static enum sn_dev_state virtio_check(struct sn_device *dev)
{
	struct virtio_net *vn = dev->priv;
	uint8_t status = get_status(vn);
	if (status == 0xff)
		return SN_DEV_GONE;
	if (status & STATUS_NEEDS_RESET)
		return SN_DEV_NEEDS_RESET;
	check_queue(dev, &vn->rxq, "receive");
	check_queue(dev, &vn->txq, "transmit");
	return dev->check_state; /* the worst either queue noted */
}

const struct sn_driver sn_virtio_driver = {
	.name = "virtio-net",
	.match = virtio_match,
	.start = virtio_start,
	.stop = virtio_stop,
	.release = virtio_release,
	.link = virtio_link,
	.stats = virtio_stats,
	.check = virtio_check,
};
