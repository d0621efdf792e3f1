/* What `safenic bind`, `safenic unbind` and the pre-open checks of every
 * device command read and write: PCI devices in sysfs, their network
 * interfaces and routes, the processes holding a VFIO group, and users.
 *
 * Every path is taken relative to a struct sysroot, so that the unit
 * tests run on a fake tree in a temporary folder; the real one is
 * SYSROOT_REAL ("" prefixes). Interface addresses come from getifaddrs()
 * in the command itself, since they have no file to fake.
 */
#ifndef SAFENIC_CLI_PCIBIND_H
#define SAFENIC_CLI_PCIBIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sysroot {
	const char *sys;    /* prefix of /sys */
	const char *proc;   /* prefix of /proc */
	const char *dev;    /* prefix of /dev */
	const char *etc;    /* prefix of /etc */
};

extern const struct sysroot SYSROOT_REAL;

#define PB_NAME_LEN 64
#define PB_MAX_IFACES 8

bool pb_device_exists(const struct sysroot *root, const char *addr);
/* The kernel driver's name, "" when none. */
void pb_driver(const struct sysroot *root, const char *addr,
	       char out[PB_NAME_LEN]);
/* The driver_override text, "" when none. */
void pb_driver_override(const struct sysroot *root, const char *addr,
			char out[PB_NAME_LEN]);
/* -1 when the device has no IOMMU group (the IOMMU is off). */
int pb_iommu_group(const struct sysroot *root, const char *addr);
/* Other devices of addr's IOMMU group bound to a driver other than
 * vfio-pci, as " 0000:00:03.1 (igb)" items in out; returns their number. */
int pb_group_blockers(const struct sysroot *root, const char *addr,
		      char *out, size_t len);

/* The kernel's network interfaces of a device: DEV/net/IF (Intel and
 * most NICs) and DEV/virtioN/net/IF (virtio). Returns how many (at most
 * max). */
int pb_interfaces(const struct sysroot *root, const char *addr,
		  char names[][PB_NAME_LEN], int max);
/* IFF_UP from /sys/class/net/IF/flags. */
bool pb_iface_up(const struct sysroot *root, const char *ifname);
/* Routes through ifname from /proc/net/route and /proc/net/ipv6_route,
 * as "10.0.0.0/24 fe80::/64" in out (cut short with "..." when long);
 * returns their number. */
int pb_iface_routes(const struct sysroot *root, const char *ifname,
		    char *out, size_t len);

/* Processes with /dev/vfio/GROUP open, as "pid 42 (safenic)" items in out;
 * returns their number (processes of other users may be invisible to a
 * non-root caller). */
int pb_group_users(const struct sysroot *root, int group, char *out,
		   size_t len);

/* Writes text to a sysfs file under root->sys (path starts with "/").
 * Returns 0 or a negative errno. */
int pb_sysfs_write(const struct sysroot *root, const char *path,
		   const char *text);

/* A user from /etc/passwd by name (uid and primary group), or a plain
 * number taken as a uid (for users that live in a directory service; gid
 * is then (gid_t)-1, "unchanged" for chown). Returns 0, or -ENOENT. */
int pb_lookup_user(const struct sysroot *root, const char *name, uid_t *uid,
		   gid_t *gid);

#endif
