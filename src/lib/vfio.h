/* VFIO: one container per context, groups shared between the devices of
 * the context, IOMMU mappings of DMA regions at IOVAs from our allocator. */
#ifndef SN_VFIO_H
#define SN_VFIO_H

#include "dma.h"
#include "pci.h"

struct sn_ctx;

/* Opens the device's group (reusing it if another device has it open),
 * attaches it to the container and returns the device fd. */
int sn_vfio_open_device(struct sn_ctx *ctx, struct sn_pci_dev *pci,
			struct sn_error *err);
void sn_vfio_close_device(struct sn_ctx *ctx, struct sn_pci_dev *pci);
/* True once the kernel asked for the device back (hot-unplug, or an
 * unbind from vfio-pci): its removal waits until the process closes the
 * device. A non-blocking read of an eventfd: once a second, not per
 * packet. */
bool sn_vfio_removal_requested(struct sn_pci_dev *pci);
/* Interrupts: vectors 0 .. count-1 of MSI-X, or of MSI when the device
 * has no MSI-X (*msix says which), each signalling its eventfd fds[i].
 * Fails, naming the numbers, when the device has fewer vectors. */
int sn_vfio_irqs_enable(struct sn_pci_dev *pci, unsigned count, const int *fds,
			bool *msix, struct sn_error *err);
/* Turns those vectors off again (the eventfds stay the caller's). */
void sn_vfio_irqs_disable(struct sn_pci_dev *pci, bool msix);
/* Maps a region of a VFIO device fd as an sn_regs window. */
int sn_vfio_map_bar(struct sn_ctx *ctx, struct sn_pci_dev *pci, unsigned index,
		    struct sn_regs *regs, struct sn_error *err);

int sn_vfio_map_region(struct sn_ctx *ctx, struct sn_dma_region *r,
		       struct sn_error *err);
void sn_vfio_unmap_region(struct sn_ctx *ctx, struct sn_dma_region *r);
void sn_vfio_close_container(struct sn_ctx *ctx);

#endif
