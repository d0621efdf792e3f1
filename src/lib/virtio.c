/* virtio-net over PCI: modern (virtio 1.x, "Virtio PCI Card Specification"
 * section 4.1.4, capabilities in config space) and legacy (I/O BAR 0, for
 * guests without an IOMMU). Packed virtqueues (virtio 1.1+, 2.8) when the
 * device offers them, split ones (2.7) otherwise and always on legacy: one
 * receive and one transmit queue per queue pair; with more than one pair (modern only), the control
 * queue sets the pair count, or RSS (virtio 1.2, 5.1.6.5.6-7). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "counter.h"
#include "device.h"
#include "error.h"
#include "virtqueue.h"
#include "vpacked.h"

/* Device status bits (virtio 1.1, 2.1). */
#define STATUS_ACKNOWLEDGE 1
#define STATUS_DRIVER 2
#define STATUS_DRIVER_OK 4
#define STATUS_FEATURES_OK 8
#define STATUS_NEEDS_RESET 0x40

/* Feature bits. */
#define F_NET_MTU 3
#define F_NET_MAC 5
#define F_NET_STATUS 16
#define F_NET_CTRL_VQ 17
#define F_NET_MQ 22
#define F_RING_EVENT_IDX VIRTIO_RING_F_EVENT_IDX
#define F_VERSION_1 32
#define F_ACCESS_PLATFORM 33
#define F_RING_PACKED 34
#define F_NET_HASH_REPORT 57
#define F_NET_RSS 60
#define NET_S_LINK_UP 1

/* Net device configuration (virtio 1.2, 5.1.4): offsets of the fields
 * past mac and status. */
#define NCFG_MAX_PAIRS 8              /* le16, with MQ or RSS */
#define NCFG_MTU 10                   /* le16, with MTU */
#define MTU_SPEC_MIN 68               /* the least a device may report (5.1.4.1) */
#define NCFG_RSS_MAX_KEY 17           /* u8, with RSS or HASH_REPORT */
#define NCFG_RSS_MAX_TABLE 18         /* le16 */
#define NCFG_HASH_TYPES 20            /* le32 */
#define NCFG_RSS_END 24
#define MAX_PAIRS_SPEC 0x8000         /* VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX */

#define RSS_KEY_LEN 40
#define RSS_TABLE_MAX 128             /* entries we program at most */
#define CTRL_RING 16
#define CTRL_TIMEOUT_MS 1000

/* The well-known default Toeplitz key (Microsoft's RSS verification
 * suite, also the Intel NICs' and DPDK's default). */
static const uint8_t rss_key[RSS_KEY_LEN] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
	0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
	0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
	0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

/* Modern common configuration (4.1.4.3). */
#define CC_MSIX_CONFIG 0x10
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

#define DEFAULT_RING 256
#define NO_VECTOR 0xffff
/* Memory slots: virtqueue i of the pairs at i, the control queue last. */
#define CTRL_SLOT (2 * SN_MAX_QUEUES)

struct virtio_net {
	bool modern;
	struct sn_regs common;       /* modern: common config */
	struct sn_regs notify;       /* modern: notification area */
	uint32_t notify_multiplier;
	struct sn_regs devcfg;       /* net device config */
	struct sn_regs legacy;       /* legacy: BAR 0 */
	uint64_t features;
	uint32_t hdr_len;
	uint16_t max_pairs;          /* the device's maximum */
	uint16_t pairs;              /* queue pairs set up (receive i = 2i) */
	bool use_rss;                /* RSS configured, else VQ_PAIRS_SET */
	uint32_t hash_types;         /* virtio hash types RSS uses */
	uint16_t rss_table_len;
	struct sn_virtq rxq[SN_MAX_QUEUES], txq[SN_MAX_QUEUES];
	struct sn_vctrl ctrl;
	/* With VIRTIO_F_RING_PACKED every queue of the device is packed. */
	bool packed;
	struct sn_vpacked prxq[SN_MAX_QUEUES], ptxq[SN_MAX_QUEUES];
	struct sn_vpctrl pctrl;
	/* descriptors + avail (+ command data): device reads */
	struct sn_dma_region *driver_mem[CTRL_SLOT + 1];
	/* used ring (+ ack byte): device writes */
	struct sn_dma_region *device_mem[CTRL_SLOT + 1];
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

static uint16_t cfg_read16(const struct virtio_net *vn, size_t off)
{
	return vn->devcfg.size >= off + 2 ? sn_regs_read16(&vn->devcfg, off) : 0;
}

/* The SN_RSS_* bits are the virtio hash types' first six bits, in the
 * same order (virtio 1.2, 5.1.6.5.6.4: IPv4, TCPv4, UDPv4, IPv6, TCPv6,
 * UDPv6). */
static uint32_t wanted_hash_types(const struct sn_dev_config *cfg)
{
	uint32_t all = SN_RSS_IPV4 | SN_RSS_IPV4_TCP | SN_RSS_IPV4_UDP | SN_RSS_IPV6 |
		       SN_RSS_IPV6_TCP | SN_RSS_IPV6_UDP;
	return cfg->rss_types ? cfg->rss_types & all : all;
}

/* Whether the device's RSS limits (read before FEATURES_OK, as 3.1.1
 * allows) fit what we program: the default 40-byte key, a table with a
 * slot for every receive queue, and one of the hash types asked for. */
static bool rss_usable(struct virtio_net *vn, const struct sn_dev_config *cfg,
		       uint16_t rx_queues)
{
	if (vn->devcfg.size < NCFG_RSS_END)
		return false;
	uint8_t max_key = sn_regs_read8(&vn->devcfg, NCFG_RSS_MAX_KEY);
	uint16_t max_table = sn_regs_read16(&vn->devcfg, NCFG_RSS_MAX_TABLE);
	uint32_t types = sn_regs_read32(&vn->devcfg, NCFG_HASH_TYPES) &
			 wanted_hash_types(cfg);
	uint16_t len = max_table < RSS_TABLE_MAX ? max_table : RSS_TABLE_MAX;
	while (len & (len - 1))
		len &= (uint16_t)(len - 1);
	if (max_key < RSS_KEY_LEN || len < rx_queues || types == 0)
		return false;
	vn->hash_types = types;
	vn->rss_table_len = len;
	return true;
}

/* Multi-queue features, when more than one pair is asked for and the
 * device can take the commands (all need the control queue). */
static uint64_t mq_features(struct virtio_net *vn, const struct sn_dev_config *cfg,
			    uint64_t offered, uint16_t rx_queues, uint16_t pairs)
{
	uint64_t want = 0;
	if (pairs < 2 || !has(offered, F_NET_CTRL_VQ))
		return 0;
	want |= 1ull << F_NET_CTRL_VQ | 1ull << F_NET_MQ;
	if (rx_queues > 1 && has(offered, F_NET_RSS) && rss_usable(vn, cfg, rx_queues)) {
		want |= 1ull << F_NET_RSS;
		/* The hash rides in a 20-byte header; QEMU offers it only with
		 * a backend that carries virtio-net headers (tap). */
		want |= 1ull << F_NET_HASH_REPORT;
	}
	return want;
}

/* The device's queue pairs: max_virtqueue_pairs with MQ or RSS, else
 * one. Asking for more is the caller's mistake, and says the maximum. */
static int pick_pairs(struct sn_device *dev, struct virtio_net *vn, uint16_t pairs,
		      struct sn_error *err)
{
	vn->max_pairs = 1;
	if (has(vn->features, F_NET_MQ) || has(vn->features, F_NET_RSS)) {
		vn->max_pairs = cfg_read16(vn, NCFG_MAX_PAIRS);
		if (vn->max_pairs == 0 || vn->max_pairs > MAX_PAIRS_SPEC)
			return sn_fail(err, EIO, "%s: the device reports %u queue pairs, "
				       "outside 1..%u", dev->pci.addr, vn->max_pairs,
				       MAX_PAIRS_SPEC);
	}
	if (pairs > vn->max_pairs)
		return sn_fail(err, EINVAL, "%s: %u queues asked for; this virtio-net "
			       "device has at most %u (QEMU: mq=on on virtio-net-pci and a "
			       "multi-queue backend such as -netdev tap,queues=N)",
			       dev->pci.addr, pairs, vn->max_pairs);
	/* Without RSS the device receives on every pair it has. */
	if (pairs > 1 && !vn->use_rss && dev->rx_queues < pairs)
		return sn_fail(err, EINVAL, "%s: this virtio-net device has no RSS, so it "
			       "receives on all %u queue pairs: ask for %u receive queues",
			       dev->pci.addr, pairs, pairs);
	vn->pairs = pairs;
	return 0;
}

/* VIRTIO_NET_F_MTU (virtio 1.2, 5.1.4): the device's mtu field is the
 * largest MTU it carries. Read before accepting the feature (the driver
 * may read the configuration to decide, 3.1.1), checked like any value
 * the device gives: below the spec's 68 it is refused. A larger MTU than
 * the device's is the caller's mistake, and names the maximum. The
 * feature is taken only when a receive buffer holds a frame of the
 * device's MTU, which the spec asks of a driver that accepts it; without
 * it the device may deliver longer frames, which the rings drop. */
static int mtu_feature(struct sn_device *dev, struct virtio_net *vn, uint64_t offered,
		       uint64_t *wanted, struct sn_error *err)
{
	if (!has(offered, F_NET_MTU))
		return 0;
	uint16_t max = cfg_read16(vn, NCFG_MTU);
	if (max < MTU_SPEC_MIN)
		return sn_fail(err, EIO, "%s: the device reports an MTU of %u, below the %u "
			       "virtio allows", dev->pci.addr, max, MTU_SPEC_MIN);
	if (dev->mtu > max)
		return sn_fail(err, EINVAL, "%s: MTU %u asked for; this virtio-net device carries "
			       "at most %u (QEMU: host_mtu on virtio-net-pci)", dev->pci.addr,
			       dev->mtu, max);
	if (max + 14u <= sn_mempool_data_room(dev->rx_pool))
		*wanted |= 1ull << F_NET_MTU;
	return 0;
}

static int negotiate(struct sn_device *dev, struct virtio_net *vn,
		     const struct sn_dev_config *cfg, struct sn_error *err)
{
	bool fenced = !dev->ctx->cfg.unsafe_no_iommu;
	uint64_t offered = device_features(vn);
	/* EVENT_IDX: kicks and interrupts only where the other side asks. */
	uint64_t wanted = 1ull << F_NET_MAC | 1ull << F_NET_STATUS | 1ull << F_RING_EVENT_IDX;
	uint16_t pairs = dev->rx_queues > dev->tx_queues ? dev->rx_queues : dev->tx_queues;

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
		wanted |= mq_features(vn, cfg, offered, dev->rx_queues, pairs);
		int rc = mtu_feature(dev, vn, offered, &wanted, err);
		if (rc < 0)
			return rc;
		if (cfg->virtio_rings == SN_VIRTIO_RINGS_PACKED && !has(offered, F_RING_PACKED))
			return sn_fail(err, ENOTSUP, "%s: packed virtqueues asked for, and the "
				       "device does not offer them (QEMU: packed=on on "
				       "virtio-net-pci)", dev->pci.addr);
		/* Packed rings without EVENT_IDX: with both, transmit stalled in
		 * the guest (QEMU, case fwd-chain-aw48: the device stopped taking
		 * descriptors after a few thousand, cause not found), and a
		 * polling driver needs no more than ENABLE and DISABLE. */
		if (cfg->virtio_rings != SN_VIRTIO_RINGS_SPLIT && has(offered, F_RING_PACKED))
			wanted = (wanted | 1ull << F_RING_PACKED) & ~(1ull << F_RING_EVENT_IDX);
	} else if (cfg->virtio_rings == SN_VIRTIO_RINGS_PACKED) {
		return sn_fail(err, ENOTSUP, "%s: packed virtqueues need the modern interface; "
			       "a legacy device has split ones only", dev->pci.addr);
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
	/* virtio 1.x always carries num_buffers: 12 bytes; legacy 10; with
	 * the hash report 20, in both directions (5.1.6). */
	vn->hdr_len = vn->modern ? 12 : 10;
	if (has(vn->features, F_NET_HASH_REPORT))
		vn->hdr_len = SN_VIRTIO_HDR_HASH_LEN;
	vn->use_rss = has(vn->features, F_NET_RSS);
	vn->packed = has(vn->features, F_RING_PACKED);
	dev->model = vn->packed ? "virtio-net (modern, packed virtqueues)" :
		     vn->modern ? "virtio-net (modern, split virtqueues)" :
				  "virtio-net (legacy, split virtqueues)";
	return pick_pairs(dev, vn, pairs, err);
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

/* One ring's memory and what the device was told. */
struct ring_mem {
	uint16_t size;
	uint8_t *drv, *devm;         /* device reads / device writes */
	uint64_t drv_iova, devm_iova;
	size_t desc_bytes;           /* split: descriptors, then the avail ring */
	size_t read_bytes, write_bytes; /* the ring's part of each; extras after */
};

/* The MSI-X vector of virtqueue `index`: receive queue q (virtqueue 2q)
 * gets vector q; transmit and control queues none. */
static uint16_t queue_vector(const struct sn_device *dev, uint16_t index)
{
	if (!dev->intr.on || index % 2 != 0 || index / 2 >= dev->rx_queues)
		return NO_VECTOR;
	return (uint16_t)(index / 2);
}

/* Writes a vector into a common-config field and reads it back: the
 * device answers NO_VECTOR when it cannot use that vector (4.1.5.1.2). */
static int set_vector(struct sn_device *dev, struct virtio_net *vn, size_t field,
		      uint16_t vector, const char *what, struct sn_error *err)
{
	sn_regs_write16(&vn->common, field, vector);
	uint16_t got = sn_regs_read16(&vn->common, field);
	if (got != vector)
		return sn_fail(err, EIO, "%s: the device refused MSI-X vector %u for %s "
			       "(it answered %u)", dev->pci.addr, vector, what, got);
	return 0;
}

/* Modern, split: descriptors and available ring (and extra_read bytes
 * after them) in memory the device may only read; the used ring (and
 * extra_write bytes) in memory it may write. Packed: the driver's event
 * suppression area in the first, the descriptor ring (both sides write
 * it) and the device's area in the second. Everything but the enable. */
static int map_modern_ring(struct sn_device *dev, struct virtio_net *vn, uint16_t index,
			   unsigned slot, uint16_t requested, size_t extra_read,
			   size_t extra_write, struct ring_mem *m, struct sn_error *err)
{
	sn_regs_write16(&vn->common, CC_QUEUE_SELECT, index);
	uint16_t max = sn_regs_read16(&vn->common, CC_QUEUE_SIZE);
	if (max == 0)
		return sn_fail(err, ENODEV, "%s: queue %u does not exist", dev->pci.addr,
			       index);
	m->size = pick_ring_size(requested, max);
	m->desc_bytes = sn_vring_desc_bytes(m->size);
	m->read_bytes = m->desc_bytes + sn_vring_avail_bytes(m->size);
	m->write_bytes = sn_vring_used_bytes(m->size);
	if (vn->packed) {
		m->read_bytes = sizeof(struct vring_packed_event);
		m->write_bytes = sn_vpacked_ring_bytes(m->size) + sizeof(struct vring_packed_event);
	}
	/* Extras (command data, the ack byte) 8-byte aligned. */
	m->read_bytes = (m->read_bytes + 7) & ~(size_t)7;
	m->write_bytes = (m->write_bytes + 7) & ~(size_t)7;
	struct sn_dma_region **drv = &vn->driver_mem[slot], **devm = &vn->device_mem[slot];
	int rc = sn_dma_alloc(dev->ctx, m->read_bytes + extra_read, SN_DMA_DEVICE_READS, drv,
			      err);
	if (rc == 0)
		rc = sn_dma_alloc(dev->ctx, m->write_bytes + extra_write, SN_DMA_DEVICE_RW,
				  devm, err);
	if (rc < 0)
		return rc;
	m->drv = (*drv)->va;
	m->devm = (*devm)->va;
	m->drv_iova = sn_dma_iova(*drv, 0);
	m->devm_iova = sn_dma_iova(*devm, 0);
	sn_regs_write16(&vn->common, CC_QUEUE_SIZE, m->size);
	if ((rc = set_vector(dev, vn, CC_QUEUE_MSIX_VECTOR, queue_vector(dev, index),
			     "a virtqueue", err)) < 0)
		return rc;
	if (vn->packed) {
		write64(&vn->common, CC_QUEUE_DESC, m->devm_iova);
		write64(&vn->common, CC_QUEUE_DRIVER, m->drv_iova);
		write64(&vn->common, CC_QUEUE_DEVICE, m->devm_iova + sn_vpacked_ring_bytes(m->size));
		return 0;
	}
	write64(&vn->common, CC_QUEUE_DESC, m->drv_iova);
	write64(&vn->common, CC_QUEUE_DRIVER, m->drv_iova + m->desc_bytes);
	write64(&vn->common, CC_QUEUE_DEVICE, m->devm_iova);
	return 0;
}

/* The queue's notify address, then the enable (4.1.4.3.2: last). */
static int enable_modern_ring(struct sn_device *dev, struct virtio_net *vn, uint16_t index,
			      size_t *notify_at, struct sn_error *err)
{
	sn_regs_write16(&vn->common, CC_QUEUE_SELECT, index);
	uint16_t notify_off = sn_regs_read16(&vn->common, CC_QUEUE_NOTIFY_OFF);
	size_t at = (size_t)notify_off * vn->notify_multiplier;
	if (at + 2 > vn->notify.size)
		return sn_fail(err, ENODEV, "%s: notify offset outside its window",
			       dev->pci.addr);
	*notify_at = at;
	sn_regs_write16(&vn->common, CC_QUEUE_ENABLE, 1);
	return 0;
}

/* ---- packed rings: set-up -------------------------------------------- */

static int setup_packed_queue(struct sn_device *dev, struct virtio_net *vn, uint16_t index,
			      const struct ring_mem *m, struct sn_error *err)
{
	bool receive = !(index & 1);
	struct sn_vpacked *vq = receive ? &vn->prxq[index / 2] : &vn->ptxq[index / 2];
	int rc = sn_vpacked_init(vq, dev->ctx, m->size, m->devm, m->drv,
				 m->devm + sn_vpacked_ring_bytes(m->size), vn->hdr_len, receive);
	if (rc < 0)
		return sn_fail(err, -rc, "out of memory for queue %u", index);
	vq->event_idx = has(vn->features, F_RING_EVENT_IDX);
	vq->notify_regs = &vn->notify;
	vq->queue_index = index;
	return enable_modern_ring(dev, vn, index, &vq->notify_off, err);
}

static int setup_packed_ctrl(struct sn_device *dev, struct virtio_net *vn, uint16_t index,
			     const struct ring_mem *m, struct sn_error *err)
{
	if (sn_vpctrl_init(&vn->pctrl, m->size, m->devm, m->drv, m->drv + m->read_bytes,
			   m->drv_iova + m->read_bytes, m->devm + m->write_bytes,
			   m->devm_iova + m->write_bytes) < 0)
		return sn_fail(err, ENODEV, "%s: the control queue's size %u is too small",
			       dev->pci.addr, m->size);
	vn->pctrl.notify_regs = &vn->notify;
	vn->pctrl.queue_index = index;
	return enable_modern_ring(dev, vn, index, &vn->pctrl.notify_off, err);
}

static int setup_modern_queue(struct sn_device *dev, struct virtio_net *vn,
			      uint16_t index, uint16_t requested, struct sn_virtq *vq,
			      struct sn_error *err)
{
	struct ring_mem m = { 0 };
	int rc = map_modern_ring(dev, vn, index, index, requested, 0, 0, &m, err);
	if (rc < 0)
		return rc;
	if (vn->packed)
		return setup_packed_queue(dev, vn, index, &m, err);
	rc = sn_virtq_init(vq, dev->ctx, m.size, m.drv, m.drv + m.desc_bytes, m.devm,
			   vn->hdr_len, !(index & 1));
	if (rc < 0)
		return sn_fail(err, rc, "out of memory for queue %u", index);
	vq->notify_regs = &vn->notify;
	vq->queue_index = index;
	return enable_modern_ring(dev, vn, index, &vq->notify_off, err);
}

/* The control queue: after the last pair's queues of the device's
 * maximum (5.1.2), with room for a command and its ack. */
static int setup_ctrl_queue(struct sn_device *dev, struct virtio_net *vn,
			    struct sn_error *err)
{
	uint16_t index = (uint16_t)(2 * vn->max_pairs);
	struct ring_mem m = { 0 };
	int rc = map_modern_ring(dev, vn, index, CTRL_SLOT, CTRL_RING, SN_VCTRL_DATA_ROOM, 8,
				 &m, err);
	if (rc < 0)
		return rc;
	if (vn->packed)
		return setup_packed_ctrl(dev, vn, index, &m, err);
	size_t data_at = m.read_bytes;
	if (sn_vctrl_init(&vn->ctrl, m.size, m.drv, m.drv + m.desc_bytes, m.devm,
			  m.drv + data_at, m.drv_iova + data_at, m.devm + m.write_bytes,
			  m.devm_iova + m.write_bytes) < 0)
		return sn_fail(err, ENODEV, "%s: the control queue's size %u is too small",
			       dev->pci.addr, m.size);
	vn->ctrl.notify_regs = &vn->notify;
	vn->ctrl.queue_index = index;
	if (has(vn->features, F_RING_EVENT_IDX))
		sn_vctrl_use_event_idx(&vn->ctrl);
	return enable_modern_ring(dev, vn, index, &vn->ctrl.notify_off, err);
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
			   (*mem)->va + used_at, vn->hdr_len, !(index & 1));
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
	int rc = vn->modern ? setup_modern_queue(dev, vn, index, requested, vq, err)
			    : setup_legacy_queue(dev, vn, index, vq, err);
	if (rc == 0 && !vn->packed && has(vn->features, F_RING_EVENT_IDX))
		sn_virtq_use_event_idx(vq);
	return rc;
}

/* Every pair's queues, and the control queue when there is more than one
 * pair. Receive queue i is virtqueue 2i, transmit queue i 2i + 1. */
static int setup_queues(struct sn_device *dev, struct virtio_net *vn,
			const struct sn_dev_config *cfg, struct sn_error *err)
{
	for (uint16_t i = 0; i < vn->pairs; i++) {
		int rc = setup_queue(dev, vn, (uint16_t)(2 * i), cfg->rx_ring_size,
				     &vn->rxq[i], err);
		if (rc == 0)
			rc = setup_queue(dev, vn, (uint16_t)(2 * i + 1), cfg->tx_ring_size,
					 &vn->txq[i], err);
		if (rc < 0)
			return rc;
	}
	return vn->pairs > 1 ? setup_ctrl_queue(dev, vn, err) : 0;
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

/* ---- packed rings: running ------------------------------------------- */

/* After DRIVER_OK: fill the receive rings, tell the device of all that
 * was posted, and hand the queues to the fast path. */
static void start_packed(struct sn_device *dev, struct virtio_net *vn)
{
	for (uint16_t q = 0; q < dev->rx_queues; q++) {
		sn_vpacked_refill(&vn->prxq[q]);
		sn_vpacked_kick(&vn->prxq[q], 0);
	}
	dev->fast.rx_burst = sn_vpacked_rx_burst;
	dev->fast.tx_burst = sn_vpacked_tx_burst;
	for (uint16_t q = 0; q < dev->rx_queues; q++)
		dev->fast.rxq[q] = &vn->prxq[q];
	for (uint16_t q = 0; q < dev->tx_queues; q++)
		dev->fast.txq[q] = &vn->ptxq[q];
}

static const struct sn_virtq_counters *rx_counters(const struct virtio_net *vn, uint16_t q)
{
	return vn->packed ? &vn->prxq[q].stats : &vn->rxq[q].stats;
}

static const struct sn_virtq_counters *tx_counters(const struct virtio_net *vn, uint16_t q)
{
	return vn->packed ? &vn->ptxq[q].stats : &vn->txq[q].stats;
}

/* ---- driver operations ----------------------------------------------- */

/* Configuration changes (the link status) on the event vector. */
static int setup_config_vector(struct sn_device *dev, struct virtio_net *vn,
			       struct sn_error *err)
{
	if (!dev->intr.on)
		return 0;
	if (!vn->modern || !dev->intr.msix)
		return sn_fail(err, ENOTSUP, "%s: virtio receive interrupts need the modern "
			       "interface with MSI-X: poll instead", dev->pci.addr);
	return set_vector(dev, vn, CC_MSIX_CONFIG, dev->intr.event_vector,
			  "configuration changes", err);
}

/* Sends one control command and names it in any failure: the device's
 * answer is device data, so a wrong one is reported, not believed. */
static int ctrl_command(struct sn_device *dev, struct virtio_net *vn, uint8_t cmd,
			const char *name, const void *data, size_t len, struct sn_error *err)
{
	struct sn_vctrl_why why;
	int rc = vn->packed ? sn_vpctrl_send(&vn->pctrl, VIRTIO_NET_CTRL_MQ, cmd, data, len,
					     CTRL_TIMEOUT_MS, &why)
			    : sn_vctrl_send(&vn->ctrl, VIRTIO_NET_CTRL_MQ, cmd, data, len,
					    CTRL_TIMEOUT_MS, &why);
	switch (rc) {
	case 0:
		return 0;
	case -ETIMEDOUT:
		return sn_fail(err, ETIMEDOUT, "%s: the device did not answer the control "
			       "command %s within %u ms", dev->pci.addr, name,
			       CTRL_TIMEOUT_MS);
	case -EIO:
		return sn_fail(err, EIO, "%s: the device refused the control command %s "
			       "(VIRTIO_NET_ERR)", dev->pci.addr, name);
	case -EPROTO:
		if (vn->packed)
			return sn_fail(err, EPROTO, "%s: the device's answer to the control "
				       "command %s is impossible (descriptor flags 0x%04x, id %u, "
				       "length %u, ack byte 0x%02x); not believed", dev->pci.addr,
				       name, why.device_idx, why.id, why.len, why.ack);
		return sn_fail(err, EPROTO, "%s: the device's answer to the control command "
			       "%s is impossible (used index %u for one command, entry id %u "
			       "length %u, ack byte 0x%02x); not believed", dev->pci.addr, name,
			       why.device_idx, why.id, why.len, why.ack);
	default:
		return sn_fail(err, -rc, "%s: the control command %s could not be sent",
			       dev->pci.addr, name);
	}
}

/* After DRIVER_OK (the device uses pair 0 until told otherwise): RSS
 * over the receive queues, or just the pair count. */
static int configure_pairs(struct sn_device *dev, struct virtio_net *vn,
			   struct sn_error *err)
{
	if (vn->pairs < 2)
		return 0;
	if (vn->use_rss) {
		uint8_t data[SN_VCTRL_DATA_ROOM];
		size_t len = sn_virtio_rss_encode(data, sizeof(data) - 2, vn->hash_types,
						  vn->rss_table_len, dev->rx_queues, vn->pairs,
						  rss_key, RSS_KEY_LEN);
		return ctrl_command(dev, vn, VIRTIO_NET_CTRL_MQ_RSS_CONFIG,
				    "VIRTIO_NET_CTRL_MQ_RSS_CONFIG", data, len, err);
	}
	uint8_t pairs[2] = { (uint8_t)vn->pairs, (uint8_t)(vn->pairs >> 8) };
	return ctrl_command(dev, vn, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
			    "VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET", pairs, sizeof(pairs), err);
}

/* Buffers may be posted before DRIVER_OK, kicks only after it. */
static void post_rx_buffers(struct sn_device *dev, struct virtio_net *vn)
{
	for (uint16_t q = 0; q < dev->rx_queues; q++) {
		struct sn_pkt *fresh[256];
		uint32_t room = sn_mempool_data_room(dev->rx_pool);
		uint16_t size = vn->packed ? vn->prxq[q].size : vn->rxq[q].size, took;
		uint16_t n = (uint16_t)sn_pkt_alloc_bulk(dev->rx_pool, fresh,
							 size > 256 ? 256 : size);
		if (vn->packed) {
			vn->prxq[q].rx_pool = dev->rx_pool;
			vn->prxq[q].rx_room = room;
			vn->prxq[q].max_frame = dev->mtu + 14u;
			took = sn_vpacked_post(&vn->prxq[q], fresh, n);
		} else {
			vn->rxq[q].rx_pool = dev->rx_pool;
			vn->rxq[q].rx_room = room;
			vn->rxq[q].max_frame = dev->mtu + 14u;
			took = sn_virtq_post(&vn->rxq[q], fresh, n);
		}
		sn_pkt_free_bulk(fresh + took, (uint32_t)(n - took));
	}
}

static int virtio_start(struct sn_device *dev, const struct sn_dev_config *cfg,
			struct sn_error *err)
{
	struct virtio_net *vn = calloc(1, sizeof(*vn));
	int rc;

	if (!vn)
		return sn_fail(err, ENOMEM, "out of memory");
	dev->priv = vn;
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
	if ((rc = negotiate(dev, vn, cfg, err)) < 0 ||
	    (rc = setup_config_vector(dev, vn, err)) < 0 ||
	    (rc = setup_queues(dev, vn, cfg, err)) < 0)
		return rc;
	read_mac(dev, vn);
	for (uint16_t q = 0; q < dev->tx_queues; q++) {
		vn->txq[q].max_frame = dev->mtu + 14u;
		vn->ptxq[q].max_frame = dev->mtu + 14u;
	}
	post_rx_buffers(dev, vn);
	add_status(vn, STATUS_DRIVER_OK);
	for (uint16_t q = 0; q < dev->rx_queues && !vn->packed; q++) {
		sn_virtq_refill(&vn->rxq[q]);
		sn_virtq_kick(&vn->rxq[q]);
	}
	if (vn->packed)
		start_packed(dev, vn);
	if ((rc = configure_pairs(dev, vn, err)) < 0)
		return rc;
	if (vn->packed)
		return 0;
	dev->fast.rx_burst = sn_virtio_rx_burst;
	dev->fast.tx_burst = sn_virtio_tx_burst;
	for (uint16_t q = 0; q < dev->rx_queues; q++)
		dev->fast.rxq[q] = &vn->rxq[q];
	for (uint16_t q = 0; q < dev->tx_queues; q++)
		dev->fast.txq[q] = &vn->txq[q];
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
	for (unsigned q = 0; q < SN_MAX_QUEUES; q++) {
		sn_virtq_drain(&vn->rxq[q]);
		sn_virtq_drain(&vn->txq[q]);
		sn_virtq_fini(&vn->rxq[q]);
		sn_virtq_fini(&vn->txq[q]);
		sn_vpacked_drain(&vn->prxq[q]);
		sn_vpacked_drain(&vn->ptxq[q]);
		sn_vpacked_fini(&vn->prxq[q]);
		sn_vpacked_fini(&vn->ptxq[q]);
	}
	for (unsigned i = 0; i <= CTRL_SLOT; i++) {
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

/* Counters are written by the thread that runs the queue and read here
 * from any thread (counter.h). */
static void add_counters(uint64_t *packets, uint64_t *bytes, uint64_t *drops,
			 uint64_t *errors, uint64_t *device_errors,
			 const struct sn_virtq_counters *c)
{
	*packets += sn_counter_read(&c->packets);
	*bytes += sn_counter_read(&c->bytes);
	*drops += sn_counter_read(&c->drops);
	*errors += sn_counter_read(&c->errors);
	*device_errors += sn_counter_read(&c->device_errors);
}

static void virtio_stats(struct sn_device *dev, struct sn_stats *s)
{
	struct virtio_net *vn = dev->priv;
	for (uint16_t q = 0; q < dev->rx_queues; q++) {
		add_counters(&s->rx_packets, &s->rx_bytes, &s->rx_drops, &s->rx_errors,
			     &s->device_errors, rx_counters(vn, q));
		s->rx_starved += sn_counter_read(&rx_counters(vn, q)->starved);
	}
	for (uint16_t q = 0; q < dev->tx_queues; q++)
		add_counters(&s->tx_packets, &s->tx_bytes, &s->tx_drops, &s->tx_errors,
			     &s->device_errors, tx_counters(vn, q));
}

static void virtio_queue_stats(struct sn_device *dev, uint16_t q, struct sn_queue_stats *st)
{
	struct virtio_net *vn = dev->priv;
	if (q < dev->rx_queues) {
		add_counters(&st->rx_packets, &st->rx_bytes, &st->rx_drops, &st->rx_errors,
			     &st->device_errors, rx_counters(vn, q));
		st->rx_starved = sn_counter_read(&rx_counters(vn, q)->starved);
	}
	if (q < dev->tx_queues)
		add_counters(&st->tx_packets, &st->tx_bytes, &st->tx_drops, &st->tx_errors,
			     &st->device_errors, tx_counters(vn, q));
}

/* Where a check's findings go: the device's report (sn_dev_check), or
 * queue pair `pair`'s own (sn_dev_check_queue, pair >= 0). */
static enum sn_dev_state note_on(struct sn_device *dev, int pair, enum sn_dev_state state,
				 const char *msg)
{
	if (pair < 0)
		return sn_dev_note(dev, state, "%s", msg);
	return sn_dev_note_queue(dev, (uint16_t)pair, state, "%s", msg);
}

/* The cross-check of one virtqueue (virtqueue v) against the driver's
 * own record; what it finds is noted where `pair` says. The verdicts are
 * the same for both layouts; the words differ (an index, descriptors). */
static void check_queue(struct sn_device *dev, struct virtio_net *vn, unsigned v,
			const char *dir, int pair)
{
	struct sn_virtq_look l;
	unsigned q = v / 2;
	char msg[SN_ERROR_LEN];
	enum sn_virtq_health verdict =
		vn->packed ? sn_vpacked_check(v & 1 ? &vn->ptxq[q] : &vn->prxq[q], &l)
			   : sn_virtq_check(v & 1 ? &vn->txq[q] : &vn->rxq[q], &l);

	switch (verdict) {
	case SN_VIRTQ_OK:
		break;
	case SN_VIRTQ_STALLED:
		snprintf(msg, sizeof(msg), "transmit queue %u (virtqueue %u): %u frames waiting "
			 "and the device completed none for a second", q, v, l.in_flight);
		note_on(dev, pair, SN_DEV_TX_STALLED, msg);
		break;
	case SN_VIRTQ_LIED:
		if (vn->packed)
			snprintf(msg, sizeof(msg), "%s queue %u (virtqueue %u, packed): the device "
				 "wrote descriptor flags no honest device writes (not of the ring's "
				 "lap, or used past what it was given; the driver at %u, %u buffers "
				 "in flight); nothing was taken from them", dir, q, v, l.used_idx,
				 l.in_flight);
		else
			snprintf(msg, sizeof(msg), "%s queue %u (virtqueue %u): the device wrote an "
				 "impossible used index %u (the driver at %u, %u buffers in flight); "
				 "entries it never wrote were rejected and counted, nothing stale was "
				 "handed out", dir, q, v, l.device_idx, l.used_idx, l.in_flight);
		note_on(dev, pair, SN_DEV_RECOVERED, msg);
		break;
	case SN_VIRTQ_OUT_OF_STEP:
		if (vn->packed)
			snprintf(msg, sizeof(msg), "%s queue %u (virtqueue %u, packed) is out of "
				 "step: the device's descriptors are impossible, skip a slot or gave "
				 "back ids it was not lent (used without a gap up to %u, the driver "
				 "at %u, %u buffers in flight) and made no progress for a second; "
				 "nothing stale was handed out", dir, q, v, l.device_idx, l.used_idx,
				 l.in_flight);
		else
			snprintf(msg, sizeof(msg), "%s queue %u (virtqueue %u) is out of step: the "
				 "device wrote used index %u over entries it never wrote (the driver "
				 "at %u, %u buffers in flight) and made no progress for a second; "
				 "nothing stale was handed out", dir, q, v, l.device_idx, l.used_idx,
				 l.in_flight);
		note_on(dev, pair, SN_DEV_OUT_OF_STEP, msg);
		break;
	}
}

/* The device-wide signs in the status byte. */
static enum sn_dev_state device_state(const struct virtio_net *vn)
{
	uint8_t status = get_status(vn);
	if (status == 0xff)
		return SN_DEV_GONE;
	if (status & STATUS_NEEDS_RESET)
		return SN_DEV_NEEDS_RESET;
	return SN_DEV_OK;
}

static enum sn_dev_state virtio_check(struct sn_device *dev)
{
	struct virtio_net *vn = dev->priv;
	enum sn_dev_state state = device_state(vn);
	if (state != SN_DEV_OK)
		return state;
	for (uint16_t q = 0; q < dev->rx_queues; q++)
		check_queue(dev, vn, 2u * q, "receive", -1);
	for (uint16_t q = 0; q < dev->tx_queues; q++)
		check_queue(dev, vn, 2u * q + 1, "transmit", -1);
	return dev->check_state; /* the worst any queue noted */
}

/* Only this pair's virtqueues and the status byte: nothing another
 * thread's queue uses, so each thread may check its own pair. */
static enum sn_dev_state virtio_check_queue(struct sn_device *dev, uint16_t q)
{
	struct virtio_net *vn = dev->priv;
	enum sn_dev_state state = device_state(vn);
	if (state != SN_DEV_OK)
		return sn_dev_note_queue(dev, q, state, "%s", sn_dev_state_name(state));
	if (q < dev->rx_queues)
		check_queue(dev, vn, 2u * q, "receive", q);
	if (q < dev->tx_queues)
		check_queue(dev, vn, 2u * q + 1, "transmit", q);
	return dev->queue_check[q].state; /* the worst either queue noted */
}

/* Re-checks the used index after asking for interrupts: a buffer used
 * before the device saw the request raised none. */
static bool virtio_rx_intr_arm(struct sn_device *dev, uint16_t q)
{
	const struct virtio_net *vn = dev->priv;
	if (vn->packed) {
		sn_vpacked_want_interrupts(dev->fast.rxq[q], true);
		return !sn_vpacked_used_pending(dev->fast.rxq[q]);
	}
	struct sn_virtq *vq = dev->fast.rxq[q];
	sn_virtq_want_interrupts(vq, true);
	return !sn_virtq_used_pending(vq);
}

static void virtio_rx_intr_disarm(struct sn_device *dev, uint16_t q)
{
	const struct virtio_net *vn = dev->priv;
	if (vn->packed)
		sn_vpacked_want_interrupts(dev->fast.rxq[q], false);
	else
		sn_virtq_want_interrupts(dev->fast.rxq[q], false);
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
	.queue_stats = virtio_queue_stats,
	.check_queue = virtio_check_queue,
	.rx_intr_arm = virtio_rx_intr_arm,
	.rx_intr_disarm = virtio_rx_intr_disarm,
};
