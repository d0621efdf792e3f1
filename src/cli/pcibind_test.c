/* Unit tests of the sysfs, procfs and passwd reading behind bind, unbind
 * and the device checks (pcibind.c), on a fake tree in a temporary folder:
 * a virtio NIC bound to virtio-pci with interface eth0 (up, routes), a
 * second function in its IOMMU group bound to igb, a process holding the
 * group, and a passwd file. */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pcibind.h"

static char base[256];

static void path_of(char *out, size_t len, const char *rel)
{
	snprintf(out, len, "%s%s", base, rel);
}

/* mkdir -p of base/rel */
static void make_dirs(const char *rel)
{
	char path[512], *p;

	path_of(path, sizeof(path), rel);
	for (p = path + strlen(base) + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	mkdir(path, 0755);
}

static void write_file(const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	path_of(path, sizeof(path), rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void make_link(const char *target, const char *rel)
{
	char path[512];

	path_of(path, sizeof(path), rel);
	assert_int_equal(symlink(target, path), 0);
}

#define DEV "/sys/bus/pci/devices/0000:00:03.0"
#define DEV2 "/sys/bus/pci/devices/0000:00:03.1"

static int setup_tree(void **state)
{
	const char *tmp = getenv("TMPDIR");
	char line[256];
	uint8_t net[4] = { 10, 0, 0, 0 }, mask[4] = { 255, 255, 255, 0 };
	uint32_t net_word, mask_word;

	(void)state;
	snprintf(base, sizeof(base), "%s/safenic-pcibind-XXXXXX",
		 tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(base));
	make_dirs(DEV "/virtio0/net/eth0");
	make_dirs(DEV2);
	make_dirs("/sys/bus/pci/drivers/virtio-pci");
	make_dirs("/sys/bus/pci/drivers/igb");
	make_dirs("/sys/kernel/iommu_groups/7/devices");
	make_dirs("/sys/class/net/eth0");
	make_dirs("/proc/net");
	make_dirs("/proc/4242/fd");
	make_dirs("/proc/self");
	make_dirs("/etc");
	write_file(DEV "/vendor", "0x1af4\n");
	write_file(DEV "/driver_override", "(null)\n");
	write_file(DEV2 "/vendor", "0x8086\n");
	make_link("../../../bus/pci/drivers/virtio-pci", DEV "/driver");
	make_link("../../../bus/pci/drivers/igb", DEV2 "/driver");
	make_link("../../../kernel/iommu_groups/7", DEV "/iommu_group");
	make_link("../../../kernel/iommu_groups/7", DEV2 "/iommu_group");
	make_dirs("/sys/kernel/iommu_groups/7/devices/0000:00:03.0");
	make_dirs("/sys/kernel/iommu_groups/7/devices/0000:00:03.1");
	write_file("/sys/class/net/eth0/flags", "0x1003\n");
	/* /proc/net/route prints the raw 32-bit words in host order. */
	memcpy(&net_word, net, 4);
	memcpy(&mask_word, mask, 4);
	snprintf(line, sizeof(line), "Iface\tDestination\tGateway \tFlags\t"
		 "RefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
		 "eth0\t%08X\t00000000\t0001\t0\t0\t0\t%08X\t0\t0\t0\n"
		 "eth1\t%08X\t00000000\t0001\t0\t0\t0\t%08X\t0\t0\t0\n",
		 net_word, mask_word, net_word, mask_word);
	write_file("/proc/net/route", line);
	write_file("/proc/net/ipv6_route",
		   "fe800000000000000000000000000000 40 "
		   "00000000000000000000000000000000 00 "
		   "00000000000000000000000000000000 00000100 00000001 "
		   "00000000 00000001     eth0\n"
		   "00000000000000000000000000000001 80 "
		   "00000000000000000000000000000000 00 "
		   "00000000000000000000000000000000 00000000 00000001 "
		   "00000000 00200200       lo\n");
	make_link("/dev/vfio/7", "/proc/4242/fd/5");
	make_link("/dev/null", "/proc/4242/fd/0");
	write_file("/proc/4242/comm", "safenic\n");
	write_file("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"
		   "sn:x:1000:1001:safenic user:/home/sn:/bin/sh\n"
		   "broken line\n");
	write_file("/sys/bus/pci/drivers_probe", "");
	return 0;
}

static int remove_tree(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	return system(cmd) == 0 ? 0 : -1;
}

static struct sysroot root(void)
{
	struct sysroot r = { base, base, base, base };

	return r;
}

static void test_device_and_driver(void **state)
{
	struct sysroot r = root();
	char name[PB_NAME_LEN];

	(void)state;
	assert_true(pb_device_exists(&r, "0000:00:03.0"));
	assert_false(pb_device_exists(&r, "0000:00:09.0"));
	pb_driver(&r, "0000:00:03.0", name);
	assert_string_equal(name, "virtio-pci");
	pb_driver(&r, "0000:00:09.0", name);
	assert_string_equal(name, "");
	pb_driver_override(&r, "0000:00:03.0", name);
	assert_string_equal(name, "");
	assert_int_equal(pb_iommu_group(&r, "0000:00:03.0"), 7);
	assert_int_equal(pb_iommu_group(&r, "0000:00:09.0"), -1);
}

static void test_group_blockers(void **state)
{
	struct sysroot r = root();
	char text[256];

	(void)state;
	assert_int_equal(pb_group_blockers(&r, "0000:00:03.0", text,
					   sizeof(text)), 1);
	assert_string_equal(text, " 0000:00:03.1 (igb)");
}

static void test_interfaces_and_state(void **state)
{
	struct sysroot r = root();
	char names[PB_MAX_IFACES][PB_NAME_LEN], routes[256];

	(void)state;
	assert_int_equal(pb_interfaces(&r, "0000:00:03.0", names,
				       PB_MAX_IFACES), 1);
	assert_string_equal(names[0], "eth0");
	assert_int_equal(pb_interfaces(&r, "0000:00:03.1", names,
				       PB_MAX_IFACES), 0);
	assert_true(pb_iface_up(&r, "eth0"));
	assert_false(pb_iface_up(&r, "eth9"));
	assert_int_equal(pb_iface_routes(&r, "eth0", routes, sizeof(routes)), 2);
	assert_string_equal(routes, " 10.0.0.0/24 fe80::/64");
	assert_int_equal(pb_iface_routes(&r, "eth9", routes, sizeof(routes)), 0);
	assert_string_equal(routes, "");
	/* A short buffer ends the list with "...". */
	assert_int_equal(pb_iface_routes(&r, "eth0", routes, 20), 2);
	assert_string_equal(routes, " 10.0.0.0/24 ...");
}

static void test_group_users(void **state)
{
	struct sysroot r = root();
	char text[256];

	(void)state;
	assert_int_equal(pb_group_users(&r, 7, text, sizeof(text)), 1);
	assert_string_equal(text, " pid 4242 (safenic)");
	assert_int_equal(pb_group_users(&r, 8, text, sizeof(text)), 0);
}

static void test_sysfs_write(void **state)
{
	struct sysroot r = root();
	char path[512], text[64] = "";
	FILE *f;

	(void)state;
	assert_int_equal(pb_sysfs_write(&r, "/sys/bus/pci/drivers_probe",
					"0000:00:03.0"), 0);
	path_of(path, sizeof(path), "/sys/bus/pci/drivers_probe");
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(text, sizeof(text), f));
	fclose(f);
	assert_string_equal(text, "0000:00:03.0");
	assert_int_equal(pb_sysfs_write(&r, "/sys/no/such/file", "x"), -ENOENT);
}

static void test_lookup_user(void **state)
{
	struct sysroot r = root();
	uid_t uid = 0;
	gid_t gid = 0;

	(void)state;
	assert_int_equal(pb_lookup_user(&r, "sn", &uid, &gid), 0);
	assert_int_equal(uid, 1000);
	assert_int_equal(gid, 1001);
	assert_int_equal(pb_lookup_user(&r, "root", &uid, &gid), 0);
	assert_int_equal(uid, 0);
	assert_int_equal(pb_lookup_user(&r, "4242", &uid, &gid), 0);
	assert_int_equal(uid, 4242);
	assert_true(gid == (gid_t)-1);
	assert_int_equal(pb_lookup_user(&r, "nobody-here", &uid, &gid), -ENOENT);
	assert_int_equal(pb_lookup_user(&r, "broken line", &uid, &gid), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_device_and_driver),
		cmocka_unit_test(test_group_blockers),
		cmocka_unit_test(test_interfaces_and_state),
		cmocka_unit_test(test_group_users),
		cmocka_unit_test(test_sysfs_write),
		cmocka_unit_test(test_lookup_user),
	};

	return cmocka_run_group_tests(tests, setup_tree, remove_tree);
}
