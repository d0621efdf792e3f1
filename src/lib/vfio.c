#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ctx.h"
#include "device.h"
#include "error.h"
#include "vfio.h"

static int open_container(struct sn_ctx *ctx, struct sn_error *err)
{
	if (ctx->container_fd >= 0)
		return 0;
	int fd = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return sn_fail(err, errno,
			       "cannot open /dev/vfio/vfio: %s; load the vfio-pci module "
			       "(modprobe vfio-pci) and boot with the IOMMU on "
			       "(intel_iommu=on or amd_iommu=on)", strerror(errno));
	if (ioctl(fd, VFIO_GET_API_VERSION) != VFIO_API_VERSION ||
	    ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) != 1) {
		close(fd);
		return sn_fail(err, ENOTSUP,
			       "this kernel's VFIO lacks the type1v2 IOMMU backend safenic needs");
	}
	ctx->container_fd = fd;
	return 0;
}

/* For a non-viable group (every device in it must be bound to vfio-pci,
 * or to no driver, before any of them can be used): lists the devices
 * held by another driver, as " ADDR (DRIVER)" each. open_group reports
 * the failure itself, so that the analyzers see each of its failure
 * returns as an sn_fail(). */
static void list_still_bound(int group, char *list, size_t len)
{
	char path[80];
	snprintf(path, sizeof(path), "/sys/kernel/iommu_groups/%d/devices", group);
	DIR *dir = opendir(path);
	size_t used = 0;

	list[0] = '\0';
	if (dir) {
		struct dirent *e;
		while ((e = readdir(dir)) != NULL) {
			char drv[32];
			if (e->d_name[0] == '.')
				continue;
			sn_pci_kernel_driver(e->d_name, drv, sizeof(drv));
			if (strcmp(drv, "vfio-pci") == 0 || drv[0] == '\0')
				continue;
			int n = snprintf(list + used, len - used, " %s (%s)",
					 e->d_name, drv);
			if (n > 0 && (size_t)n < len - used)
				used += (size_t)n;
		}
		closedir(dir);
	}
}

static struct sn_vfio_group *find_group(struct sn_ctx *ctx, int number)
{
	for (struct sn_vfio_group *g = ctx->groups; g; g = g->next)
		if (g->number == number)
			return g;
	return NULL;
}

/* Reads the usable IOVA ranges from the type1 info capability chain. */
static int read_iova_ranges(struct sn_ctx *ctx, struct sn_error *err)
{
	struct vfio_iommu_type1_info probe = { .argsz = sizeof(probe) };
	struct sn_iova_range ranges[SN_IOVA_MAX_RANGES];
	unsigned n = 0;

	if (ioctl(ctx->container_fd, VFIO_IOMMU_GET_INFO, &probe) != 0)
		return sn_fail(err, errno, "VFIO_IOMMU_GET_INFO failed: %s",
			       strerror(errno));
	ctx->iommu_page_sizes = probe.iova_pgsizes;
	struct vfio_iommu_type1_info *info = calloc(1, probe.argsz);
	if (!info)
		return sn_fail(err, ENOMEM, "out of memory");
	info->argsz = probe.argsz;
	if (ioctl(ctx->container_fd, VFIO_IOMMU_GET_INFO, info) == 0 &&
	    (info->flags & VFIO_IOMMU_INFO_CAPS) && info->cap_offset) {
		uint32_t off = info->cap_offset;
		while (off && off + sizeof(struct vfio_info_cap_header) <= probe.argsz) {
			struct vfio_info_cap_header *h = (void *)((char *)info + off);
			if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
				struct vfio_iommu_type1_info_cap_iova_range *cap = (void *)h;
				for (uint32_t i = 0; i < cap->nr_iovas && n < SN_IOVA_MAX_RANGES; i++)
					ranges[n++] = (struct sn_iova_range){
						cap->iova_ranges[i].start, cap->iova_ranges[i].end };
			}
			off = h->next;
		}
	}
	free(info);
	if (n == 0) /* old kernel without the capability: the x86 safe low 4 GiB */
		ranges[n++] = (struct sn_iova_range){ 0, 0xfedfffffull };
	int rc = sn_iova_init(&ctx->iova, ranges, n);
	if (rc < 0)
		return sn_fail(err, rc, "the IOMMU reported no usable IOVA range");
	return 0;
}

/* Maps the regions allocated while the container had no IOMMU: before
 * the first device, or after the last one closed (then at the IOVAs they
 * had, which every buffer's metadata still holds). */
static int map_pending(struct sn_ctx *ctx, struct sn_error *err)
{
	bool new_iova = false;
	int rc = 0;
	pthread_mutex_lock(&ctx->lock);
	for (struct sn_dma_region *r = ctx->regions; r && rc == 0; r = r->next) {
		if (r->mapped)
			continue;
		new_iova |= r->iova == 0;
		rc = sn_vfio_map_region(ctx, r, err);
	}
	if (rc == 0 && new_iova)
		sn_mempools_refresh_iova(ctx);
	pthread_mutex_unlock(&ctx->lock);
	return rc;
}

int sn_ctx_emulate_iommu(struct sn_ctx *ctx, uint64_t last_iova)
{
	const struct sn_iova_range range = { 0, last_iova };
	int rc = sn_iova_init(&ctx->iova, &range, 1);
	if (rc == 0) {
		ctx->iommu_ready = true;
		rc = map_pending(ctx, NULL);
	}
	return rc;
}

static int setup_iommu(struct sn_ctx *ctx, struct sn_error *err)
{
	if (ioctl(ctx->container_fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) != 0)
		return sn_fail(err, errno, "VFIO_SET_IOMMU failed: %s", strerror(errno));
	/* Set up again after the last device closed: the IOVA space and the
	 * addresses handed out are kept, so nothing that holds one changes. */
	int rc = ctx->iova.num_ranges ? 0 : read_iova_ranges(ctx, err);
	if (rc < 0)
		return rc;
	ctx->iommu_ready = true;
	return map_pending(ctx, err);
}

static int open_group(struct sn_ctx *ctx, int number, struct sn_vfio_group **out,
		      struct sn_error *err)
{
	char path[32];
	struct vfio_group_status status = { .argsz = sizeof(status) };
	struct sn_vfio_group *g = find_group(ctx, number);

	if (g) {
		g->users++;
		*out = g;
		return 0;
	}
	snprintf(path, sizeof(path), "/dev/vfio/%d", number);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == EACCES || e == EPERM)
			return sn_fail(err, e, "no permission to open %s: run as root or give "
				       "the device to your user (chown USER %s)", path, path);
		if (e == EBUSY)
			return sn_fail(err, e, "%s is in use by another process", path);
		return sn_fail(err, e, "cannot open %s: %s", path, strerror(e));
	}
	if (ioctl(fd, VFIO_GROUP_GET_STATUS, &status) != 0 ||
	    !(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		char list[200];
		close(fd);
		list_still_bound(number, list, sizeof(list));
		return sn_fail(err, EBUSY,
			       "IOMMU group %d is not viable: every device in it must be bound to "
			       "vfio-pci or to no driver; still bound:%s", number,
			       list[0] ? list : " (unknown)");
	}
	if (ioctl(fd, VFIO_GROUP_SET_CONTAINER, &ctx->container_fd) != 0) {
		int e = errno;
		close(fd);
		return sn_fail(err, e, "cannot attach IOMMU group %d to the container: %s",
			       number, strerror(e));
	}
	g = calloc(1, sizeof(*g));
	if (!g) {
		close(fd);
		return sn_fail(err, ENOMEM, "out of memory");
	}
	*g = (struct sn_vfio_group){ .number = number, .fd = fd, .users = 1,
				     .next = ctx->groups };
	ctx->groups = g;
	*out = g;
	return 0;
}

/* The container's last group left: the kernel tore down its IOMMU and
 * every mapping with it. The next device sets the IOMMU up again and maps
 * the regions back at the same IOVAs (map_pending). */
static void container_lost(struct sn_ctx *ctx)
{
	pthread_mutex_lock(&ctx->lock);
	ctx->iommu_ready = false;
	for (struct sn_dma_region *r = ctx->regions; r; r = r->next)
		r->mapped = false;
	pthread_mutex_unlock(&ctx->lock);
}

static void put_group(struct sn_ctx *ctx, int number)
{
	struct sn_vfio_group **link = &ctx->groups;
	while (*link && (*link)->number != number)
		link = &(*link)->next;
	struct sn_vfio_group *g = *link;
	if (!g || --g->users > 0)
		return;
	*link = g->next;
	if (ioctl(g->fd, VFIO_GROUP_UNSET_CONTAINER) != 0)
		sn_log(ctx, SN_LOG_WARN, "IOMMU group %d: VFIO_GROUP_UNSET_CONTAINER failed: "
		       "%s", number, strerror(errno));
	close(g->fd);
	free(g);
	if (!ctx->groups)
		container_lost(ctx);
}

/* Registers an eventfd for the device request interrupt (the kernel's
 * "please release this device": hot-unplug, unbind). Without it the
 * kernel's removal blocks until the process exits on its own, and a
 * device_del never completes. Best effort: a kernel without it still
 * works, and sn_dev_check still sees a removed device's all-ones reads. */
static void watch_release_request(struct sn_ctx *ctx, struct sn_pci_dev *pci)
{
	struct vfio_irq_info irq = { .argsz = sizeof(irq), .index = VFIO_PCI_REQ_IRQ_INDEX };
	_Alignas(struct vfio_irq_set) uint8_t buf[sizeof(struct vfio_irq_set) + sizeof(int32_t)];
	struct vfio_irq_set *set = (struct vfio_irq_set *)buf;

	if (ioctl(pci->device_fd, VFIO_DEVICE_GET_IRQ_INFO, &irq) != 0 || irq.count < 1) {
		sn_log(ctx, SN_LOG_INFO, "%s: VFIO offers no release request; a hot-unplug "
		       "waits until this process ends", pci->addr);
		return;
	}
	int32_t efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (efd < 0) {
		sn_log(ctx, SN_LOG_WARN, "%s: eventfd failed (%s); a hot-unplug waits until "
		       "this process ends", pci->addr, strerror(errno));
		return;
	}
	*set = (struct vfio_irq_set){
		.argsz = sizeof(buf),
		.flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
		.index = VFIO_PCI_REQ_IRQ_INDEX, .start = 0, .count = 1,
	};
	memcpy(set->data, &efd, sizeof(efd));
	if (ioctl(pci->device_fd, VFIO_DEVICE_SET_IRQS, set) != 0) {
		sn_log(ctx, SN_LOG_WARN, "%s: cannot listen for the kernel's release request "
		       "(%s); a hot-unplug waits until this process ends", pci->addr,
		       strerror(errno));
		close(efd);
		return;
	}
	pci->request_fd = efd;
}

bool sn_vfio_removal_requested(struct sn_pci_dev *pci)
{
	uint64_t count;

	if (!pci->removal_requested && pci->request_fd >= 0 &&
	    read(pci->request_fd, &count, sizeof(count)) == (ssize_t)sizeof(count) && count > 0)
		pci->removal_requested = true;
	return pci->removal_requested;
}

int sn_vfio_open_device(struct sn_ctx *ctx, struct sn_pci_dev *pci,
			struct sn_error *err)
{
	struct sn_vfio_group *group = NULL;
	int rc = open_container(ctx, err);
	if (rc < 0)
		return rc;
	rc = open_group(ctx, pci->group, &group, err);
	if (rc < 0)
		return rc;
	if (!ctx->iommu_ready && (rc = setup_iommu(ctx, err)) < 0) {
		put_group(ctx, pci->group);
		return rc;
	}
	int fd = ioctl(group->fd, VFIO_GROUP_GET_DEVICE_FD, pci->addr);
	if (fd < 0) {
		int e = errno;
		put_group(ctx, pci->group);
		return sn_fail(err, e, "cannot get VFIO device %s: %s%s", pci->addr,
			       strerror(e), e == EBUSY ? " (is another process using it?)" : "");
	}
	pci->device_fd = fd;
	struct vfio_device_info info = { .argsz = sizeof(info) };
	/* Start from a known state; the driver's own reset follows anyway. */
	pci->can_reset = ioctl(fd, VFIO_DEVICE_GET_INFO, &info) == 0 &&
			 (info.flags & VFIO_DEVICE_FLAGS_RESET);
	if (pci->can_reset && ioctl(fd, VFIO_DEVICE_RESET) != 0)
		sn_log(ctx, SN_LOG_WARN, "%s: VFIO_DEVICE_RESET failed (%s); relying on the "
		       "driver's own reset", pci->addr, strerror(errno));
	watch_release_request(ctx, pci);
	return sn_vfio_map_bar(ctx, pci, VFIO_PCI_CONFIG_REGION_INDEX, &pci->config, err);
}

void sn_vfio_close_device(struct sn_ctx *ctx, struct sn_pci_dev *pci)
{
	if (pci->device_fd < 0)
		return;
	/* The reset stops any DMA the driver failed to stop; the kernel
	 * resets the device again when the last fd closes. Not for a device
	 * the kernel is taking away: it is being removed, and refuses; nor
	 * for one VFIO has no reset for (no FLR, PM or bus reset: QEMU's
	 * e1000e and virtio models), where it fails with EINVAL. */
	if (!pci->removal_requested && pci->can_reset &&
	    ioctl(pci->device_fd, VFIO_DEVICE_RESET) != 0 && errno != ENOTTY)
		sn_log(ctx, SN_LOG_WARN, "%s: VFIO_DEVICE_RESET at close failed (%s); bus "
		       "mastering is off and the kernel resets it on release",
		       pci->addr, strerror(errno));
	close(pci->device_fd);   /* also unregisters the release request */
	pci->device_fd = -1;
	if (pci->request_fd >= 0)
		close(pci->request_fd);
	pci->request_fd = -1;
	put_group(ctx, pci->group);
}

/* How many vectors VFIO offers on an interrupt index; 0 for none. */
static uint32_t irq_count(struct sn_pci_dev *pci, uint32_t index)
{
	struct vfio_irq_info irq = { .argsz = sizeof(irq), .index = index };
	if (ioctl(pci->device_fd, VFIO_DEVICE_GET_IRQ_INFO, &irq) != 0 ||
	    !(irq.flags & VFIO_IRQ_INFO_EVENTFD))
		return 0;
	return irq.count;
}

int sn_vfio_irqs_enable(struct sn_pci_dev *pci, unsigned count, const int *fds,
			bool *msix, struct sn_error *err)
{
	uint32_t index = VFIO_PCI_MSIX_IRQ_INDEX;
	uint32_t offered = irq_count(pci, index);
	if (offered == 0) {
		index = VFIO_PCI_MSI_IRQ_INDEX;
		offered = irq_count(pci, index);
	}
	if (offered == 0)
		return sn_fail(err, ENOTSUP, "%s has neither MSI-X nor MSI: no receive "
			       "interrupts (poll instead)", pci->addr);
	if (offered < count || count > SN_MAX_QUEUES + 1)
		return sn_fail(err, ENOTSUP, "%s has %u %s vectors; %u are needed (one per "
			       "receive queue and one for link changes): use fewer queues",
			       pci->addr, offered, index == VFIO_PCI_MSIX_IRQ_INDEX ? "MSI-X" :
			       "MSI", count);
	_Alignas(struct vfio_irq_set) uint8_t buf[sizeof(struct vfio_irq_set) +
						  sizeof(int32_t) * (SN_MAX_QUEUES + 1)];
	struct vfio_irq_set *set = (struct vfio_irq_set *)buf;
	*set = (struct vfio_irq_set){
		.argsz = (uint32_t)(sizeof(*set) + sizeof(int32_t) * count),
		.flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
		.index = index, .start = 0, .count = count,
	};
	for (unsigned i = 0; i < count; i++) {
		int32_t fd = fds[i];
		memcpy(set->data + i * sizeof(fd), &fd, sizeof(fd));
	}
	if (ioctl(pci->device_fd, VFIO_DEVICE_SET_IRQS, set) != 0)
		return sn_fail(err, errno, "%s: VFIO could not set up %u %s vectors: %s",
			       pci->addr, count, index == VFIO_PCI_MSIX_IRQ_INDEX ? "MSI-X" :
			       "MSI", strerror(errno));
	*msix = index == VFIO_PCI_MSIX_IRQ_INDEX;
	return 0;
}

void sn_vfio_irqs_disable(struct sn_pci_dev *pci, bool msix)
{
	struct vfio_irq_set set = {
		.argsz = sizeof(set),
		.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
		.index = msix ? VFIO_PCI_MSIX_IRQ_INDEX : VFIO_PCI_MSI_IRQ_INDEX,
	};
	if (pci->device_fd >= 0)
		(void)ioctl(pci->device_fd, VFIO_DEVICE_SET_IRQS, &set);
}

int sn_vfio_map_bar(struct sn_ctx *ctx, struct sn_pci_dev *pci, unsigned index,
		    struct sn_regs *regs, struct sn_error *err)
{
	struct vfio_region_info info = { .argsz = sizeof(info), .index = index };

	*regs = (struct sn_regs){ .fd = -1 };
	if (ioctl(pci->device_fd, VFIO_DEVICE_GET_REGION_INFO, &info) != 0)
		return sn_fail(err, errno, "%s: cannot read VFIO region %u: %s",
			       pci->addr, index, strerror(errno));
	if (info.size == 0)
		return 0;
	regs->size = info.size;
	if (info.flags & VFIO_REGION_INFO_FLAG_MMAP) {
		void *p = mmap(NULL, info.size, PROT_READ | PROT_WRITE, MAP_SHARED,
			       pci->device_fd, (off_t)info.offset);
		if (p != MAP_FAILED) {
			regs->mmio = p;
			return 0;
		}
		sn_log(ctx, SN_LOG_WARN, "%s: BAR %u cannot be mapped (%s); using "
		       "slower read/write access", pci->addr, index, strerror(errno));
	}
	regs->fd = pci->device_fd;
	regs->base = (off_t)info.offset;
	return 0;
}

static uint32_t iommu_flags(enum sn_dma_access access)
{
	uint32_t flags = 0;
	if (access & SN_DMA_DEVICE_READS)
		flags |= VFIO_DMA_MAP_FLAG_READ;
	if (access & SN_DMA_DEVICE_WRITES)
		flags |= VFIO_DMA_MAP_FLAG_WRITE;
	return flags;
}

int sn_vfio_map_region(struct sn_ctx *ctx, struct sn_dma_region *r,
		       struct sn_error *err)
{
	uint64_t iova = r->iova;
	bool fresh = iova == 0;
	if (fresh) {
		int rc = sn_iova_alloc(&ctx->iova, r->size, r->page_size, &iova);
		if (rc < 0)
			return sn_fail(err, rc, "no IOVA space left for %zu bytes", r->size);
	}
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = iommu_flags(r->access),
		.vaddr = (uintptr_t)r->va,
		.iova = iova,
		.size = r->size,
	};
	/* No container: an emulated IOMMU for host tests (sn_ctx_emulate_iommu). */
	if (ctx->container_fd >= 0 && ioctl(ctx->container_fd, VFIO_IOMMU_MAP_DMA, &map) != 0) {
		int e = errno;
		if (fresh)
			sn_iova_free(&ctx->iova, iova);
		return sn_fail(err, e, "cannot map %zu bytes of DMA memory into the IOMMU: "
			       "%s%s", r->size, strerror(e),
			       e == ENOMEM ? "; raise the memlock limit (ulimit -l)" : "");
	}
	r->iova = iova;
	r->mapped = true;
	return 0;
}

void sn_vfio_unmap_region(struct sn_ctx *ctx, struct sn_dma_region *r)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap), .iova = r->iova, .size = r->size,
	};
	/* An IOVA whose mapping may still exist must never be handed out
	 * again: a new region there would be reachable through the old
	 * mapping. Keep it reserved for the context's life. */
	if (r->mapped && ctx->container_fd >= 0 &&
	    ioctl(ctx->container_fd, VFIO_IOMMU_UNMAP_DMA, &unmap) != 0) {
		sn_log(ctx, SN_LOG_WARN, "cannot unmap %zu bytes at IOVA 0x%llx from the "
		       "IOMMU (%s); the address range stays reserved", r->size,
		       (unsigned long long)r->iova, strerror(errno));
	} else {
		sn_iova_free(&ctx->iova, r->iova);
	}
	r->iova = 0;
	r->mapped = false;
}

void sn_vfio_close_container(struct sn_ctx *ctx)
{
	if (ctx->container_fd >= 0)
		close(ctx->container_fd);
	ctx->container_fd = -1;
	ctx->iommu_ready = false;
	sn_iova_fini(&ctx->iova);
}
