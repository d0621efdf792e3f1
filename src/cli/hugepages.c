/* Huge page counts and the default DMA footprint (see hugepages.h). */
#define _POSIX_C_SOURCE 200809L

#include "hugepages.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "safenic/safenic.h"

static int read_u64(const char *dir, const char *name, uint64_t *out)
{
	char path[600];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	ok = fscanf(f, "%" SCNu64, out) == 1;
	fclose(f);
	return ok ? 0 : -EINVAL;
}

static void page_dir(const struct sysroot *root, uint64_t page_size,
		     char *out, size_t len)
{
	snprintf(out, len, "%s/sys/kernel/mm/hugepages/hugepages-%" PRIu64 "kB",
		 root->sys, page_size >> 10);
}

int hp_read(const struct sysroot *root, uint64_t page_size,
	    struct hp_count *count)
{
	char dir[512];

	memset(count, 0, sizeof(*count));
	page_dir(root, page_size, dir, sizeof(dir));
	if (read_u64(dir, "nr_hugepages", &count->total) < 0)
		return -ENOENT;
	/* The others exist whenever nr_hugepages does. */
	read_u64(dir, "free_hugepages", &count->free);
	read_u64(dir, "resv_hugepages", &count->reserved);
	read_u64(dir, "surplus_hugepages", &count->surplus);
	count->present = true;
	return 0;
}

int hp_set_total(const struct sysroot *root, uint64_t page_size,
		 uint64_t pages)
{
	char dir[512], path[600], text[32];
	FILE *f;
	int e = 0;

	page_dir(root, page_size, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/nr_hugepages", dir);
	snprintf(text, sizeof(text), "%" PRIu64 "\n", pages);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	if (fputs(text, f) == EOF)
		e = -errno;
	if (fclose(f) != 0 && e == 0)
		e = -errno;
	return e;
}

static uint64_t round_up(uint64_t bytes, uint64_t page_size)
{
	return (bytes + page_size - 1) / page_size * page_size;
}

uint64_t hp_pool_bytes(uint64_t bufs, uint64_t buf_size, uint64_t page_size)
{
	uint64_t per_page = page_size >= buf_size ? page_size / buf_size : 1;

	return (bufs + per_page - 1) / per_page * page_size;
}

/* virtio 1.x split virtqueue (virtio spec 2.7): descriptors and the
 * available ring in one region the device reads, the used ring in one it
 * writes. */
static uint64_t virtqueue_bytes(uint64_t n, uint64_t page_size)
{
	uint64_t desc = 16 * n, avail = 4 + 2 * (n + 1), used = 4 + 8 * n + 2;

	return round_up(desc + avail, page_size) + round_up(used, page_size);
}

uint64_t hp_ring_bytes(enum hp_family family, uint64_t page_size)
{
	if (family == HP_VIRTIO)
		return 2 * virtqueue_bytes(HP_LIB_VIRTIO_RING, page_size);
	return 2 * round_up((uint64_t)HP_LIB_INTEL_RING *
			    HP_LIB_INTEL_DESC_BYTES, page_size);
}

uint64_t hp_command_bytes(const char *cmd, enum hp_family family,
			  uint64_t page_size)
{
	uint64_t rings = hp_ring_bytes(family, page_size);
	uint64_t own_pool = hp_pool_bytes(HP_LIB_DEVICE_POOL_BUFS,
					  SN_POOL_DEFAULT_BUF_SIZE, page_size);

	if (strcmp(cmd, "gen") == 0)
		return hp_pool_bytes(GEN_DEFAULT_POOL, SN_POOL_DEFAULT_BUF_SIZE,
				     page_size) + own_pool + rings;
	if (strcmp(cmd, "fwd") == 0)
		/* One pool shared by both devices: no pools of their own. */
		return hp_pool_bytes(FWD_DEFAULT_POOL, SN_POOL_DEFAULT_BUF_SIZE,
				     page_size) + 2 * rings;
	if (strcmp(cmd, "recv") == 0 || strcmp(cmd, "dump") == 0 ||
	    strcmp(cmd, "respond") == 0)
		return own_pool + rings;
	return 0;
}
