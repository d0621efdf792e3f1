/* Huge pages: what the kernel has reserved (sysfs), and how much DMA
 * memory each safenic command allocates with its default options, so that
 * `safenic hugepages` can tell whether a run will fit.
 *
 * The sizes follow the library's allocation rules: every DMA region is
 * rounded up to whole pages; a pool packs page_size / buf_size buffers per
 * page (mempool.c); each descriptor ring or virtqueue part is a region of
 * its own (intel.c, virtio.c); a device opened without a receive pool
 * makes its own (device.c, default_pool_size). The library does not
 * export those defaults, so they are mirrored here (HP_LIB_* below).
 */
#ifndef SAFENIC_CLI_HUGEPAGES_H
#define SAFENIC_CLI_HUGEPAGES_H

#include <stdbool.h>
#include <stdint.h>

#include "pcibind.h"

#define HP_PAGE_2M (UINT64_C(2) << 20)
#define HP_PAGE_1G (UINT64_C(1) << 30)

/* Library defaults (src/lib), see the header comment. */
#define HP_LIB_DEVICE_POOL_BUFS 3072   /* device.c: max(2048, 2 * 1024 + 1024) */
#define HP_LIB_VIRTIO_RING 256         /* virtio.c: DEFAULT_RING */
#define HP_LIB_INTEL_RING 512          /* igb.c, e1000e.c, ixgbe.c */
#define HP_LIB_INTEL_DESC_BYTES 16     /* ring.h: union sn_desc */

struct hp_count {
	bool present;              /* the kernel supports this page size */
	uint64_t total, free, reserved, surplus;
};

/* Reads ROOT/sys/kernel/mm/hugepages/hugepages-<kB>kB/. Returns 0, or
 * -ENOENT when this page size is not supported. */
int hp_read(const struct sysroot *root, uint64_t page_size,
	    struct hp_count *count);
/* Writes nr_hugepages for page_size. 0 or a negative errno. */
int hp_set_total(const struct sysroot *root, uint64_t page_size,
		 uint64_t pages);

enum hp_family {
	HP_VIRTIO,                 /* virtio-net, modern: 2 regions a queue */
	HP_INTEL,                  /* igb, e1000e, ixgbe: 1 region a ring */
};

/* Bytes of a pool of bufs buffers of buf_size bytes in page_size pages. */
uint64_t hp_pool_bytes(uint64_t bufs, uint64_t buf_size, uint64_t page_size);
/* Bytes of one device's rings: one receive and one transmit queue. */
uint64_t hp_ring_bytes(enum hp_family family, uint64_t page_size);
/* DMA memory of one run of cmd ("gen", "recv", "fwd", "dump", "respond")
 * with default options; 0 for an unknown command. */
uint64_t hp_command_bytes(const char *cmd, enum hp_family family,
			  uint64_t page_size);

#endif
