/* PCI devices: identification through sysfs, and register access through
 * either VFIO regions (the default) or the sysfs resource files (unsafe
 * mode, for machines without an IOMMU). */
#ifndef SN_PCI_H
#define SN_PCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "safenic/safenic.h"

/* A register window: a mapped BAR, or a file accessed with pread/pwrite
 * (I/O-port BARs, config space, BARs that cannot be mapped). */
struct sn_regs {
	volatile uint8_t *mmio;
	int fd;
	off_t base;
	size_t size;
};

#define SN_PCI_BARS 6

struct sn_pci_dev {
	char addr[32];               /* PCI address, or an AF_XDP spec */
	uint16_t vendor, device;
	struct sn_regs bar[SN_PCI_BARS];
	struct sn_regs config;
	int device_fd;               /* VFIO device fd, or -1 */
	int request_fd;              /* VFIO: eventfd of the kernel's request
				      * to release the device, or -1 */
	bool removal_requested;      /* ... which came */
	bool can_reset;              /* VFIO offers a device reset */
	int group;                   /* VFIO group number, or -1 */
	int sysfs_fds[SN_PCI_BARS + 1];
	bool vfio;
	bool model_bar;              /* host tests: BAR 0 is not ours to unmap */
};

struct sn_ctx;

/* Opens the device with its registers reachable and bus mastering OFF:
 * the driver turns it on once it has reset the device (see sn_pci_open). */
int sn_pci_open(struct sn_ctx *ctx, const char *addr, struct sn_pci_dev *pci,
		struct sn_error *err);
/* Clears bus mastering (no further DMA), resets through VFIO where the
 * device supports it, and releases everything. */
void sn_pci_close(struct sn_ctx *ctx, struct sn_pci_dev *pci);
/* On: memory space and bus mastering (the device may DMA). Off: bus
 * mastering only; the registers stay reachable. */
void sn_pci_set_bus_master(struct sn_pci_dev *pci, bool on);

/* Offset of the first capability with the given id after `after`
 * (0 = from the start); 0 when there is none. */
uint8_t sn_pci_find_cap(struct sn_pci_dev *pci, uint8_t id, uint8_t after);

uint8_t sn_regs_read8(const struct sn_regs *r, size_t off);
uint16_t sn_regs_read16(const struct sn_regs *r, size_t off);
uint32_t sn_regs_read32(const struct sn_regs *r, size_t off);
void sn_regs_write8(const struct sn_regs *r, size_t off, uint8_t v);
void sn_regs_write16(const struct sn_regs *r, size_t off, uint16_t v);
void sn_regs_write32(const struct sn_regs *r, size_t off, uint32_t v);

/* Used by `devices` and by sn_dev_open to pick a driver. */
int sn_pci_read_ids(const char *addr, uint16_t *vendor, uint16_t *device,
		    uint32_t *class_code);
int sn_pci_kernel_driver(const char *addr, char *out, size_t len);
int sn_pci_iommu_group(const char *addr);



/* A sub-window [off, off + len) of a register window. */
static inline struct sn_regs sn_regs_window(const struct sn_regs *r, size_t off,
					    size_t len)
{
	struct sn_regs w = *r;
	if (w.mmio)
		w.mmio += off;
	else
		w.base += (off_t)off;
	w.size = len;
	return w;
}
#endif
