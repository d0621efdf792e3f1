#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctx.h"
#include "device.h"
#include "error.h"
#include "pci.h"
#include "vfio.h"

#define SYSFS_PCI "/sys/bus/pci/devices"
#define PCI_COMMAND 0x04
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4
#define PCI_STATUS 0x06
#define PCI_STATUS_CAP_LIST 0x10
#define PCI_CAPABILITY_LIST 0x34

/* ---- register windows ------------------------------------------------ */

/* Plain volatile accesses: the compiler must not merge or reorder device
 * accesses; x86 keeps them in program order with respect to each other. */
#define DEFINE_REGS_ACCESS(bits)                                                   \
	uint##bits##_t sn_regs_read##bits(const struct sn_regs *r, size_t off)     \
	{                                                                          \
		uint##bits##_t v = (uint##bits##_t)~0u;                            \
		if (r->mmio)                                                       \
			return *(volatile uint##bits##_t *)(r->mmio + off);        \
		if (pread(r->fd, &v, sizeof(v), r->base + (off_t)off) != sizeof(v)) \
			v = (uint##bits##_t)~0u;                                   \
		return v;                                                          \
	}                                                                          \
	void sn_regs_write##bits(const struct sn_regs *r, size_t off,              \
				 uint##bits##_t v)                                 \
	{                                                                          \
		if (r->mmio) {                                                     \
			*(volatile uint##bits##_t *)(r->mmio + off) = v;           \
			return;                                                    \
		}                                                                  \
		if (pwrite(r->fd, &v, sizeof(v), r->base + (off_t)off) != sizeof(v)) \
			return; /* a vanished device: reads will show all-ones */  \
	}

DEFINE_REGS_ACCESS(8)
DEFINE_REGS_ACCESS(16)
DEFINE_REGS_ACCESS(32)

/* ---- sysfs ----------------------------------------------------------- */

static int read_hex_file(const char *addr, const char *name, uint32_t *value)
{
	char path[128];
	unsigned long v;
	snprintf(path, sizeof(path), SYSFS_PCI "/%s/%s", addr, name);
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	int ok = fscanf(f, "%lx", &v) == 1;
	fclose(f);
	if (!ok)
		return -EIO;
	*value = (uint32_t)v;
	return 0;
}

int sn_pci_read_ids(const char *addr, uint16_t *vendor, uint16_t *device,
		    uint32_t *class_code)
{
	uint32_t v = 0, d = 0, c = 0;
	int rc = read_hex_file(addr, "vendor", &v);
	if (rc == 0)
		rc = read_hex_file(addr, "device", &d);
	if (rc == 0)
		rc = read_hex_file(addr, "class", &c);
	if (rc < 0)
		return rc;
	*vendor = (uint16_t)v;
	*device = (uint16_t)d;
	*class_code = c;
	return 0;
}

static int link_basename(const char *addr, const char *name, char *out, size_t len)
{
	char path[128], target[256];
	/* Empty on failure, whatever errno says (the analyzers cannot know it
	 * is never 0 here, and callers read out either way). */
	if (len)
		out[0] = '\0';
	snprintf(path, sizeof(path), SYSFS_PCI "/%s/%s", addr, name);
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	snprintf(out, len, "%s", basename(target));
	return 0;
}

int sn_pci_kernel_driver(const char *addr, char *out, size_t len)
{
	int rc = link_basename(addr, "driver", out, len);
	return rc == -ENOENT ? 0 : rc;
}

int sn_pci_iommu_group(const char *addr)
{
	char name[32];
	if (link_basename(addr, "iommu_group", name, sizeof(name)) < 0)
		return -1;
	return atoi(name);
}

static bool is_hex(char c, bool allow_upper)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (allow_upper && c >= 'A' && c <= 'F');
}

int sn_pci_parse_addr(const char *text, char out[16])
{
	unsigned domain = 0, bus = 0, slot, func;
	char tail;
	size_t len = text ? strlen(text) : 0;

	if (len == 0 || len > 12)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (!is_hex(text[i], true) && text[i] != ':' && text[i] != '.')
			return -EINVAL;
	if (sscanf(text, "%x:%x:%x.%x%c", &domain, &bus, &slot, &func, &tail) == 4 ||
	    (domain = 0, sscanf(text, "%x:%x.%x%c", &bus, &slot, &func, &tail) == 3) ||
	    (bus = 0, sscanf(text, "%x.%x%c", &slot, &func, &tail) == 2)) {
		if (domain > 0xffff || bus > 0xff || slot > 0x1f || func > 7)
			return -EINVAL;
		snprintf(out, 16, "%04x:%02x:%02x.%x", domain, bus, slot, func);
		return 0;
	}
	return -EINVAL;
}

/* ---- capabilities and bus mastering ----------------------------------- */

uint8_t sn_pci_find_cap(struct sn_pci_dev *pci, uint8_t id, uint8_t after)
{
	uint8_t pos;
	if (!(sn_regs_read16(&pci->config, PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return 0;
	pos = after ? sn_regs_read8(&pci->config, after + 1u)
		    : sn_regs_read8(&pci->config, PCI_CAPABILITY_LIST);
	/* A bounded walk: a malformed list must not loop forever. */
	for (int hops = 0; pos >= 0x40 && hops < 48; hops++) {
		pos &= 0xfc;
		if (sn_regs_read8(&pci->config, pos) == id)
			return pos;
		pos = sn_regs_read8(&pci->config, pos + 1u);
	}
	return 0;
}

static void set_command(struct sn_pci_dev *pci, uint16_t set, uint16_t clear)
{
	if (!pci->vfio && pci->sysfs_fds[SN_PCI_BARS] < 0)
		return; /* no config space open (a failed open, or a model) */
	uint16_t cmd = sn_regs_read16(&pci->config, PCI_COMMAND);
	cmd = (uint16_t)((cmd | set) & ~clear);
	sn_regs_write16(&pci->config, PCI_COMMAND, cmd);
}

void sn_pci_set_bus_master(struct sn_pci_dev *pci, bool on)
{
	if (on)
		set_command(pci, PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY, 0);
	else
		set_command(pci, 0, PCI_COMMAND_MASTER);
}

/* ---- opening ---------------------------------------------------------- */

static int check_bound_to_vfio(const char *addr, int group, struct sn_error *err)
{
	char driver[32];
	sn_pci_kernel_driver(addr, driver, sizeof(driver));
	if (group < 0)
		return sn_fail(err, ENODEV,
			       "%s has no IOMMU group: the IOMMU is off. Boot with intel_iommu=on "
			       "(or amd_iommu=on) and enable VT-d/AMD-Vi in the firmware; or, "
			       "knowing that DMA is then unfenced, use --unsafe", addr);
	if (strcmp(driver, "vfio-pci") != 0)
		return sn_fail(err, ENODEV,
			       "%s is bound to %s, not vfio-pci: hand it over with "
			       "`echo vfio-pci > " SYSFS_PCI "/%s/driver_override; "
			       "echo %s > /sys/bus/pci/drivers/%s/unbind; "
			       "echo %s > /sys/bus/pci/drivers_probe`",
			       addr, driver[0] ? driver : "no driver", addr, addr,
			       driver[0] ? driver : "DRIVER", addr);
	return 0;
}

static int open_vfio(struct sn_ctx *ctx, struct sn_pci_dev *pci, struct sn_error *err)
{
	int rc = check_bound_to_vfio(pci->addr, pci->group, err);
	if (rc < 0)
		return rc;
	rc = sn_vfio_open_device(ctx, pci, err);
	if (rc < 0)
		return rc;
	pci->vfio = true;
	for (unsigned i = 0; i < SN_PCI_BARS && rc == 0; i++)
		rc = sn_vfio_map_bar(ctx, pci, i, &pci->bar[i], err);
	return rc;
}

/* Unsafe mode: BARs through sysfs resource files, which only root may use;
 * no kernel driver may hold the device. */
static int open_sysfs(struct sn_pci_dev *pci, struct sn_error *err)
{
	char driver[32], path[128];
	sn_pci_kernel_driver(pci->addr, driver, sizeof(driver));
	if (driver[0] && strcmp(driver, "uio_pci_generic") != 0)
		return sn_fail(err, EBUSY,
			       "%s is bound to the kernel driver %s: unbind it first "
			       "(echo %s > /sys/bus/pci/drivers/%s/unbind)",
			       pci->addr, driver, pci->addr, driver);
	snprintf(path, sizeof(path), SYSFS_PCI "/%s/config", pci->addr);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return sn_fail(err, errno, "cannot open %s: %s (unsafe mode needs root)",
			       path, strerror(errno));
	pci->sysfs_fds[SN_PCI_BARS] = fd;
	pci->config = (struct sn_regs){ .fd = fd };
	for (unsigned i = 0; i < SN_PCI_BARS; i++) {
		snprintf(path, sizeof(path), SYSFS_PCI "/%s/resource%u", pci->addr, i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		pci->bar[i] = (struct sn_regs){ .fd = -1 };
		if (fd < 0)
			continue; /* no such BAR */
		pci->sysfs_fds[i] = fd;
		/* sysfs gives the BAR's size as the file size; lseek to the end
		 * of a resource file returns 0, so ask fstat. */
		struct stat st;
		pci->bar[i].size = fstat(fd, &st) == 0 && st.st_size > 0 ? (size_t)st.st_size : 0;
		void *p = mmap(NULL, pci->bar[i].size, PROT_READ | PROT_WRITE,
			       MAP_SHARED, fd, 0);
		if (p != MAP_FAILED)
			pci->bar[i].mmio = p;
		else
			pci->bar[i].fd = fd; /* I/O-port BAR: pread/pwrite */
	}
	return 0;
}

int sn_pci_open(struct sn_ctx *ctx, const char *addr, struct sn_pci_dev *pci,
		struct sn_error *err)
{
	uint32_t class_code;
	int rc;

	memset(pci, 0, sizeof(*pci));
	pci->device_fd = -1;
	pci->request_fd = -1;
	for (unsigned i = 0; i <= SN_PCI_BARS; i++)
		pci->sysfs_fds[i] = -1;
	if (sn_pci_parse_addr(addr, pci->addr) < 0)
		return sn_fail(err, EINVAL,
			       "'%s' is not a PCI address; expected the form 0000:00:03.0 "
			       "(see `safenic devices`)", addr);
	rc = sn_pci_read_ids(pci->addr, &pci->vendor, &pci->device, &class_code);
	if (rc < 0)
		return sn_fail(err, ENODEV, "no PCI device %s: see `safenic devices` or "
			       "lspci -D for the devices of this machine", pci->addr);
	pci->group = sn_pci_iommu_group(pci->addr);
	rc = ctx->cfg.unsafe_no_iommu ? open_sysfs(pci, err) : open_vfio(ctx, pci, err);
	if (rc < 0) {
		sn_pci_close(ctx, pci);
		return rc;
	}
	/* Registers yes, DMA not yet. A device left running by a process
	 * that died (kill -9) may still hold ring addresses of that
	 * process's IOMMU mappings, which are gone; when VFIO cannot reset
	 * it, it would fetch descriptors there the moment it may master the
	 * bus, and the IOMMU would log faults. The driver turns bus mastering
	 * on after its own reset. */
	set_command(pci, PCI_COMMAND_MEMORY, PCI_COMMAND_MASTER);
	return 0;
}

void sn_pci_close(struct sn_ctx *ctx, struct sn_pci_dev *pci)
{
	sn_pci_set_bus_master(pci, false);
	for (unsigned i = 0; i < SN_PCI_BARS; i++) {
		if (pci->bar[i].mmio && !pci->model_bar)
			munmap((void *)pci->bar[i].mmio, pci->bar[i].size);
		pci->bar[i] = (struct sn_regs){ .fd = -1 };
	}
	if (pci->device_fd >= 0)
		sn_vfio_close_device(ctx, pci);
	for (unsigned i = 0; i <= SN_PCI_BARS; i++)
		if (pci->sysfs_fds[i] >= 0)
			close(pci->sysfs_fds[i]);
	pci->vfio = false;
}
