/* Unit tests of the huge page counts and the default DMA footprints
 * (hugepages.c). The footprints are worked out by hand here from the
 * library's rules, so a change of a default shows up as a failure. */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sys/stat.h>
#include <unistd.h>

#include "hugepages.h"
#include "safenic/safenic.h"

#define MIB (UINT64_C(1) << 20)

static void test_pool_bytes(void **state)
{
	(void)state;
	/* 2 MiB / 2176 bytes = 963 buffers a page. */
	assert_true(hp_pool_bytes(963, 2176, HP_PAGE_2M) == 2 * MIB);
	assert_true(hp_pool_bytes(964, 2176, HP_PAGE_2M) == 4 * MIB);
	assert_true(hp_pool_bytes(4096, 2176, HP_PAGE_2M) == 10 * MIB);
	assert_true(hp_pool_bytes(8192, 2176, HP_PAGE_2M) == 18 * MIB);
	assert_true(hp_pool_bytes(3072, 2176, HP_PAGE_2M) == 8 * MIB);
	/* 4 KiB pages hold one buffer each. */
	assert_true(hp_pool_bytes(10, 2176, 4096) == 40960);
	assert_true(hp_pool_bytes(1, 2176, HP_PAGE_1G) == HP_PAGE_1G);
}

static void test_ring_bytes(void **state)
{
	(void)state;
	/* virtio: two queues of two regions; Intel: two rings. */
	assert_true(hp_ring_bytes(HP_VIRTIO, HP_PAGE_2M) == 8 * MIB);
	assert_true(hp_ring_bytes(HP_INTEL, HP_PAGE_2M) == 4 * MIB);
	/* 256 entries: 4096 + 518 bytes, then 2054: 2 + 1 pages a queue. */
	assert_true(hp_ring_bytes(HP_VIRTIO, 4096) == 2 * 3 * 4096);
	assert_true(hp_ring_bytes(HP_INTEL, 4096) == 2 * 2 * 4096);
}

static void test_command_bytes(void **state)
{
	(void)state;
	assert_int_equal(SN_POOL_DEFAULT_BUF_SIZE, 2176);
	assert_true(hp_command_bytes("gen", HP_VIRTIO, HP_PAGE_2M) == 26 * MIB);
	assert_true(hp_command_bytes("gen", HP_INTEL, HP_PAGE_2M) == 22 * MIB);
	assert_true(hp_command_bytes("fwd", HP_VIRTIO, HP_PAGE_2M) == 34 * MIB);
	assert_true(hp_command_bytes("fwd", HP_INTEL, HP_PAGE_2M) == 26 * MIB);
	assert_true(hp_command_bytes("recv", HP_VIRTIO, HP_PAGE_2M) == 16 * MIB);
	assert_true(hp_command_bytes("dump", HP_INTEL, HP_PAGE_2M) == 12 * MIB);
	assert_true(hp_command_bytes("respond", HP_VIRTIO, HP_PAGE_2M) ==
		    16 * MIB);
	assert_true(hp_command_bytes("devices", HP_VIRTIO, HP_PAGE_2M) == 0);
}

static char base[256];

static void write_count(const char *kb, const char *name, const char *value)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/sys/kernel/mm/hugepages/hugepages-%skB/%s",
		 base, kb, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(value, f);
	fclose(f);
}

static void test_read_and_set_counts(void **state)
{
	const char *tmp = getenv("TMPDIR");
	struct sysroot root;
	struct hp_count c;
	char cmd[600], dir[512];

	(void)state;
	snprintf(base, sizeof(base), "%s/safenic-hp-XXXXXX", tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(base));
	snprintf(dir, sizeof(dir), "mkdir -p '%s/sys/kernel/mm/hugepages/"
		 "hugepages-2048kB'", base);
	assert_int_equal(system(dir), 0);
	write_count("2048", "nr_hugepages", "256\n");
	write_count("2048", "free_hugepages", "200\n");
	write_count("2048", "resv_hugepages", "3\n");
	write_count("2048", "surplus_hugepages", "0\n");
	root = (struct sysroot){ base, base, base, base };
	assert_int_equal(hp_read(&root, HP_PAGE_2M, &c), 0);
	assert_true(c.present);
	assert_int_equal(c.total, 256);
	assert_int_equal(c.free, 200);
	assert_int_equal(c.reserved, 3);
	assert_int_equal(c.surplus, 0);
	assert_true(hp_read(&root, HP_PAGE_1G, &c) < 0);
	assert_false(c.present);
	assert_int_equal(hp_set_total(&root, HP_PAGE_2M, 512), 0);
	assert_int_equal(hp_read(&root, HP_PAGE_2M, &c), 0);
	assert_int_equal(c.total, 512);
	assert_true(hp_set_total(&root, HP_PAGE_1G, 1) < 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_bytes),
		cmocka_unit_test(test_ring_bytes),
		cmocka_unit_test(test_command_bytes),
		cmocka_unit_test(test_read_and_set_counts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
