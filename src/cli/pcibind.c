/* sysfs, procfs and passwd reading for bind, unbind and the device checks
 * (see pcibind.h). */
#define _POSIX_C_SOURCE 200809L

#include "pcibind.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const struct sysroot SYSROOT_REAL = { "", "", "", "" };

#define PATH_LEN 512

/* snprintf that says whether everything fit: a cut path or name would
 * name the wrong file. */
__attribute__((format(printf, 3, 4)))
static bool fmt(char *out, size_t len, const char *format, ...)
{
	va_list ap;
	int n;

	va_start(ap, format);
	n = vsnprintf(out, len, format, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < len;
}

/* Appends " item" to out, or " ..." once when it no longer fits. */
static void append_item(char *out, size_t len, const char *item)
{
	size_t used = strlen(out);

	if (used >= len - 1 || strstr(out, " ..."))
		return;
	if (used + 1 + strlen(item) + 5 > len) {
		if (used + 5 <= len)
			memcpy(out + used, " ...", 5);
		return;
	}
	(void)fmt(out + used, len - used, " %s", item);
}

static bool read_line(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "r");
	bool ok;

	if (!f)
		return false;
	ok = fgets(out, (int)len, f) != NULL;
	fclose(f);
	if (ok)
		out[strcspn(out, "\n")] = '\0';
	return ok;
}

/* The last component of what the symlink at path points to, or "". */
static void link_name(const char *path, char out[PB_NAME_LEN])
{
	char target[PATH_LEN];
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	const char *slash;

	out[0] = '\0';
	if (n <= 0)
		return;
	target[n] = '\0';
	slash = strrchr(target, '/');
	(void)fmt(out, PB_NAME_LEN, "%s", slash ? slash + 1 : target);
}

bool pb_device_exists(const struct sysroot *root, const char *addr)
{
	char path[PATH_LEN];

	(void)fmt(path, sizeof(path), "%s/sys/bus/pci/devices/%s/vendor",
		 root->sys, addr);
	return access(path, F_OK) == 0;
}

void pb_driver(const struct sysroot *root, const char *addr,
	       char out[PB_NAME_LEN])
{
	char path[PATH_LEN];

	(void)fmt(path, sizeof(path), "%s/sys/bus/pci/devices/%s/driver",
		 root->sys, addr);
	link_name(path, out);
}

void pb_driver_override(const struct sysroot *root, const char *addr,
			char out[PB_NAME_LEN])
{
	char path[PATH_LEN];

	(void)fmt(path, sizeof(path), "%s/sys/bus/pci/devices/%s/driver_override",
		 root->sys, addr);
	if (!read_line(path, out, PB_NAME_LEN) || strcmp(out, "(null)") == 0)
		out[0] = '\0';
}

int pb_iommu_group(const struct sysroot *root, const char *addr)
{
	char path[PATH_LEN], name[PB_NAME_LEN], *end;
	long group;

	(void)fmt(path, sizeof(path), "%s/sys/bus/pci/devices/%s/iommu_group",
		 root->sys, addr);
	link_name(path, name);
	if (!name[0])
		return -1;
	group = strtol(name, &end, 10);
	return *end == '\0' && group >= 0 && group < 1000000 ? (int)group : -1;
}

int pb_group_blockers(const struct sysroot *root, const char *addr,
		      char *out, size_t len)
{
	char path[PATH_LEN], driver[PB_NAME_LEN], item[PB_NAME_LEN * 2];
	int group = pb_iommu_group(root, addr), count = 0;
	struct dirent *e;
	DIR *dir;

	out[0] = '\0';
	if (group < 0)
		return 0;
	(void)fmt(path, sizeof(path), "%s/sys/kernel/iommu_groups/%d/devices",
		 root->sys, group);
	dir = opendir(path);
	if (!dir)
		return 0;
	while ((e = readdir(dir)) != NULL) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, addr) == 0)
			continue;
		pb_driver(root, e->d_name, driver);
		if (!driver[0] || strcmp(driver, "vfio-pci") == 0)
			continue;
		(void)fmt(item, sizeof(item), "%s (%s)", e->d_name, driver);
		append_item(out, len, item);
		count++;
	}
	closedir(dir);
	return count;
}

/* Adds the entries of dir (interface names) to names. */
static int add_ifaces(const char *dir_path, char names[][PB_NAME_LEN],
		      int count, int max)
{
	DIR *dir = opendir(dir_path);
	struct dirent *e;

	if (!dir)
		return count;
	while ((e = readdir(dir)) != NULL && count < max) {
		if (e->d_name[0] == '.')
			continue;
		(void)fmt(names[count++], PB_NAME_LEN, "%s", e->d_name);
	}
	closedir(dir);
	return count;
}

int pb_interfaces(const struct sysroot *root, const char *addr,
		  char names[][PB_NAME_LEN], int max)
{
	char base[PATH_LEN], path[PATH_LEN * 2];
	struct dirent *e;
	int count;
	DIR *dir;

	(void)fmt(base, sizeof(base), "%s/sys/bus/pci/devices/%s", root->sys,
		 addr);
	(void)fmt(path, sizeof(path), "%s/net", base);
	count = add_ifaces(path, names, 0, max);
	dir = opendir(base);
	if (!dir)
		return count;
	while ((e = readdir(dir)) != NULL) {
		if (strncmp(e->d_name, "virtio", 6) != 0)
			continue;
		(void)fmt(path, sizeof(path), "%s/%s/net", base, e->d_name);
		count = add_ifaces(path, names, count, max);
	}
	closedir(dir);
	return count;
}

bool pb_iface_up(const struct sysroot *root, const char *ifname)
{
	char path[PATH_LEN], text[32];

	(void)fmt(path, sizeof(path), "%s/sys/class/net/%s/flags", root->sys,
		 ifname);
	return read_line(path, text, sizeof(text)) &&
	       (strtoul(text, NULL, 16) & 0x1);   /* IFF_UP */
}

static unsigned prefix_len_of_mask(uint32_t mask)
{
	unsigned bits = 0;

	for (; mask; mask &= mask - 1)
		bits++;
	return bits;
}

/* /proc/net/route: "Iface Destination Gateway Flags RefCnt Use Metric
 * Mask ...", addresses as the hex of the raw (network order) 32-bit word
 * in this machine's byte order. */
static int ipv4_routes(const struct sysroot *root, const char *ifname,
		       char *out, size_t len)
{
	char path[PATH_LEN], line[512], iface[PB_NAME_LEN];
	char text[INET_ADDRSTRLEN], item[INET_ADDRSTRLEN + 8];
	unsigned dest, gateway, flags, refcnt, use, metric, mask;
	int count = 0;
	FILE *f;

	(void)fmt(path, sizeof(path), "%s/proc/net/route", root->proc);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		uint32_t raw;

		if (sscanf(line, "%63s %x %x %x %u %u %u %x", iface, &dest,
			   &gateway, &flags, &refcnt, &use, &metric, &mask) != 8 ||
		    strcmp(iface, ifname) != 0)
			continue;
		raw = dest;
		inet_ntop(AF_INET, &raw, text, sizeof(text));
		(void)fmt(item, sizeof(item), "%s/%u", text,
			 prefix_len_of_mask(mask));
		append_item(out, len, item);
		count++;
	}
	fclose(f);
	return count;
}

static bool parse_hex16(const char *hex, uint8_t out[16])
{
	unsigned i, byte;

	if (strlen(hex) != 32)
		return false;
	for (i = 0; i < 16; i++) {
		if (sscanf(hex + 2 * i, "%2x", &byte) != 1)
			return false;
		out[i] = (uint8_t)byte;
	}
	return true;
}

/* /proc/net/ipv6_route: destination, its prefix length, source, its
 * length, next hop, metric, refcnt, use, flags, device; all hex. */
static int ipv6_routes(const struct sysroot *root, const char *ifname,
		       char *out, size_t len)
{
	char path[PATH_LEN], line[512], dest[40], iface[PB_NAME_LEN];
	char text[INET6_ADDRSTRLEN], item[INET6_ADDRSTRLEN + 8];
	unsigned plen;
	uint8_t addr[16];
	int count = 0;
	FILE *f;

	(void)fmt(path, sizeof(path), "%s/proc/net/ipv6_route", root->proc);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%32s %x %*s %*s %*s %*s %*s %*s %*s %63s",
			   dest, &plen, iface) != 3 ||
		    strcmp(iface, ifname) != 0 || !parse_hex16(dest, addr))
			continue;
		inet_ntop(AF_INET6, addr, text, sizeof(text));
		(void)fmt(item, sizeof(item), "%s/%u", text, plen);
		append_item(out, len, item);
		count++;
	}
	fclose(f);
	return count;
}

int pb_iface_routes(const struct sysroot *root, const char *ifname,
		    char *out, size_t len)
{
	out[0] = '\0';
	return ipv4_routes(root, ifname, out, len) +
	       ipv6_routes(root, ifname, out, len);
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Does /proc/PID have the file `want` open? */
static bool process_has_open(const char *pid_dir, const char *want)
{
	char path[PATH_LEN], target[PATH_LEN];
	struct dirent *e;
	bool found = false;
	DIR *dir;

	(void)fmt(path, sizeof(path), "%s/fd", pid_dir);
	dir = opendir(path);
	if (!dir)
		return false;
	while (!found && (e = readdir(dir)) != NULL) {
		char link[PATH_LEN * 2];
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		(void)fmt(link, sizeof(link), "%s/%s", path, e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		found = strcmp(target, want) == 0;
	}
	closedir(dir);
	return found;
}

int pb_group_users(const struct sysroot *root, int group, char *out,
		   size_t len)
{
	char proc[PATH_LEN], want[64], pid_dir[PATH_LEN * 2], comm[PATH_LEN * 2];
	char name[PB_NAME_LEN], item[PB_NAME_LEN + 32];
	struct dirent *e;
	int count = 0;
	DIR *dir;

	out[0] = '\0';
	/* Links in /proc/PID/fd name the real /dev, whatever root->dev is. */
	(void)fmt(want, sizeof(want), "/dev/vfio/%d", group);
	(void)fmt(proc, sizeof(proc), "%s/proc", root->proc);
	dir = opendir(proc);
	if (!dir)
		return 0;
	while ((e = readdir(dir)) != NULL) {
		if (!all_digits(e->d_name))
			continue;
		(void)fmt(pid_dir, sizeof(pid_dir), "%s/%s", proc, e->d_name);
		if (!process_has_open(pid_dir, want))
			continue;
		(void)fmt(comm, sizeof(comm), "%s/comm", pid_dir);
		if (!read_line(comm, name, sizeof(name)))
			(void)fmt(name, sizeof(name), "?");
		(void)fmt(item, sizeof(item), "pid %s (%s)", e->d_name, name);
		append_item(out, len, item);
		count++;
	}
	closedir(dir);
	return count;
}

int pb_sysfs_write(const struct sysroot *root, const char *path,
		   const char *text)
{
	char full[PATH_LEN];
	size_t len = strlen(text);
	ssize_t n;
	int fd, e = 0;

	(void)fmt(full, sizeof(full), "%s%s", root->sys, path);
	fd = open(full, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, text, len);
	if (n < 0)
		e = -errno;
	else if ((size_t)n != len)
		e = -EIO;
	if (close(fd) != 0 && e == 0)
		e = -errno;
	return e;
}

int pb_lookup_user(const struct sysroot *root, const char *name, uid_t *uid,
		   gid_t *gid)
{
	char path[PATH_LEN], line[1024];
	FILE *f;

	(void)fmt(path, sizeof(path), "%s/etc/passwd", root->etc);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		/* name:password:uid:gid:gecos:home:shell */
		char *fields[4], *p = line;
		int i;

		for (i = 0; i < 4; i++) {
			fields[i] = p;
			p = strchr(p, ':');
			if (!p)
				break;
			*p++ = '\0';
		}
		if (i < 4 || strcmp(fields[0], name) != 0 ||
		    !all_digits(fields[2]) || !all_digits(fields[3]))
			continue;
		*uid = (uid_t)strtoul(fields[2], NULL, 10);
		*gid = (gid_t)strtoul(fields[3], NULL, 10);
		fclose(f);
		return 0;
	}
	if (f)
		fclose(f);
	if (all_digits(name) && strlen(name) < 10) {
		*uid = (uid_t)strtoul(name, NULL, 10);
		*gid = (gid_t)-1;   /* chown(2): leave the group as it is */
		return 0;
	}
	return -ENOENT;
}
