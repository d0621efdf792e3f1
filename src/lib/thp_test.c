/* DMA memory kinds: the smaps and `enabled` parsers on canned text, and
 * the allocation order hugetlb -> THP -> 4 KiB on this host, whatever its
 * THP setting (never, madvise or always) and its free huge pages. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "ctx.h"
#include "dma.h"
#include "thp.h"

#define MB (1ul << 20)

static void parses_enabled_file(void **state)
{
	(void)state;
	assert_int_equal(sn_thp_parse_mode("always [madvise] never\n"), SN_THP_MADVISE);
	assert_int_equal(sn_thp_parse_mode("[always] madvise never\n"), SN_THP_ALWAYS);
	assert_int_equal(sn_thp_parse_mode("always madvise [never]\n"), SN_THP_NEVER);
	assert_int_equal(sn_thp_parse_mode(""), SN_THP_UNAVAILABLE);
	assert_int_equal(sn_thp_mode("/nonexistent/enabled"), SN_THP_UNAVAILABLE);
}

/* Three mappings as smaps prints them (fields trimmed), the middle one
 * 8 MiB with 6 MiB in huge pages. */
static const char smaps[] =
	"7f0000000000-7f0000001000 ---p 00000000 00:00 0 \n"
	"Size:                  4 kB\n"
	"AnonHugePages:         0 kB\n"
	"VmFlags: mr mw me\n"
	"7f0000200000-7f0000a00000 rw-p 00000000 00:00 0 \n"
	"Size:               8192 kB\n"
	"Rss:                8192 kB\n"
	"Anonymous:          8192 kB\n"
	"AnonHugePages:      6144 kB\n"
	"FilePmdMapped:         0 kB\n"
	"THPeligible:           1\n"
	"VmFlags: rd wr mr mw me lo ac dc hg\n"
	"7f0000a00000-7f0000a01000 ---p 00000000 00:00 0 \n"
	"Size:                  4 kB\n"
	"AnonHugePages:         0 kB\n";

static void parses_smaps(void **state)
{
	size_t huge = 1;
	(void)state;
	/* The whole mapping. */
	assert_int_equal(sn_thp_parse_smaps(smaps, 0x7f0000200000, 0x7f0000a00000, &huge), 0);
	assert_int_equal(huge, 6 * MB);
	/* Half of it: 4 MiB outside could hold 4 of the 6 huge MiB, so at
	 * least 2 are inside. */
	assert_int_equal(sn_thp_parse_smaps(smaps, 0x7f0000200000, 0x7f0000600000, &huge), 0);
	assert_int_equal(huge, 2 * MB);
	/* Across the guard page that follows. */
	assert_int_equal(sn_thp_parse_smaps(smaps, 0x7f0000800000, 0x7f0000a01000, &huge), 0);
	assert_int_equal(huge, 0);
	/* A hole between the first two mappings. */
	assert_int_equal(sn_thp_parse_smaps(smaps, 0x7f0000000000, 0x7f0000400000, &huge),
			 -ENOENT);
	/* A kernel without THP prints no AnonHugePages. */
	assert_int_equal(sn_thp_parse_smaps("7f0000200000-7f0000400000 rw-p 0 00:00 0\n"
					    "Size: 2048 kB\n", 0x7f0000200000,
					    0x7f0000400000, &huge), -ENOTSUP);
	assert_int_equal(sn_thp_parse_smaps("", 0x1000, 0x2000, &huge), -ENOENT);
}

static char warnings[2048];

static void keep_warning(void *user, enum sn_log_level level, const char *msg)
{
	(void)user;
	if (level == SN_LOG_WARN)
		snprintf(warnings + strlen(warnings), sizeof(warnings) - strlen(warnings),
			 "%s\n", msg);
}

static struct sn_ctx *make_ctx(enum sn_mem_kind kind, const char *thp_path)
{
	struct sn_ctx_config cfg = { .memory = kind, .log = keep_warning };
	struct sn_ctx *ctx = sn_ctx_create(&cfg, NULL);
	assert_non_null(ctx);
	assert_int_equal(sn_ctx_emulate_iommu(ctx, (1ull << 39) - 1), 0);
	ctx->thp_enabled_path = thp_path;
	warnings[0] = '\0';
	return ctx;
}

static long free_2m_pages(void)
{
	long n = 0;
	FILE *f = fopen("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "r");
	if (f) {
		if (fscanf(f, "%ld", &n) != 1)
			n = 0;
		fclose(f);
	}
	return n;
}

static bool thp_usable(void)
{
	enum sn_thp_mode m = sn_thp_mode(NULL);
	return m == SN_THP_MADVISE || m == SN_THP_ALWAYS;
}

/* Does one mapping of /proc/self/maps run exactly from va to va + size? */
static bool own_mapping(const uint8_t *va, size_t size)
{
	char line[512];
	bool found = false;
	FILE *f = fopen("/proc/self/maps", "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b;
		if (sscanf(line, "%lx-%lx", &a, &b) == 2 && a == (uintptr_t)va &&
		    b == (uintptr_t)va + size)
			found = true;
	}
	fclose(f);
	return found;
}

static void thp_region_is_aligned_and_reported(void **state)
{
	(void)state;
	if (!thp_usable()) {
		/* THP off here: insisting on it must fail with the fix. */
		struct sn_ctx *ctx = make_ctx(SN_MEM_THP, NULL);
		struct sn_dma_region *r = NULL;
		struct sn_error err;
		assert_true(sn_dma_alloc(ctx, 3 * MB, SN_DMA_DEVICE_RW, &r, &err) < 0);
		assert_non_null(strstr(err.msg, "transparent_hugepage/enabled"));
		sn_ctx_destroy(ctx);
		return;
	}
	struct sn_ctx *ctx = make_ctx(SN_MEM_THP, NULL);
	struct sn_dma_region *a, *b;
	assert_int_equal(sn_dma_alloc(ctx, 3 * MB, SN_DMA_DEVICE_RW, &a, NULL), 0);
	assert_int_equal(sn_dma_alloc(ctx, 2 * MB, SN_DMA_DEVICE_RW, &b, NULL), 0);
	assert_int_equal(a->kind, SN_MEM_THP);
	assert_int_equal(a->size, 4 * MB);
	assert_int_equal(a->page_size, 2 * MB);
	assert_int_equal((uintptr_t)a->va % (2 * MB), 0);
	assert_int_equal(a->iova % (2 * MB), 0);
	assert_int_equal(b->iova % (2 * MB), 0);
	/* Guard pages keep each region its own mapping, so smaps speaks of
	 * it alone, and the count agrees with a fresh look. */
	assert_true(own_mapping(a->va, a->size));
	assert_true(own_mapping(b->va, b->size));
	size_t huge;
	assert_int_equal(sn_thp_huge_bytes((uintptr_t)a->va, (uintptr_t)a->va + a->size,
					   &huge), 0);
	assert_int_equal(a->small_units, 2 - huge / (2 * MB));
	print_message("THP on this host: %zu of 2 units huge\n", huge / (2 * MB));

	struct sn_mem_info info;
	sn_ctx_mem_info(ctx, &info);
	assert_int_equal(info.kind, SN_MEM_THP);
	assert_int_equal(info.kinds, 1u << SN_MEM_THP);
	assert_int_equal(info.thp_units, 3);
	assert_int_equal(info.thp_small_units, a->small_units + b->small_units);
	assert_int_equal(info.iommu_pages, 3 + info.thp_small_units * 511);
	assert_int_equal(info.small_pages, info.thp_small_units > 0);
	/* A unit without a huge page is named in a warning. */
	if (info.thp_small_units)
		assert_non_null(strstr(warnings, "2 MiB units got no transparent huge page"));
	sn_ctx_destroy(ctx);
}

/* A file that says THP is off, in place of the kernel's. */
static const char *never_file(char *path, size_t len)
{
	snprintf(path, len, "/tmp/safenic-thp-test-%d", (int)getpid());
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("always madvise [never]\n", f);
	fclose(f);
	return path;
}

static void thp_never_is_refused_or_skipped(void **state)
{
	char path[64];
	struct sn_dma_region *r = NULL;
	struct sn_error err;
	(void)state;
	never_file(path, sizeof(path));

	struct sn_ctx *ctx = make_ctx(SN_MEM_THP, path);
	assert_int_equal(sn_dma_alloc(ctx, 1 * MB, SN_DMA_DEVICE_RW, &r, &err), -ENOTSUP);
	assert_non_null(strstr(err.msg, "echo madvise > /sys/kernel/mm/transparent_hugepage"));
	sn_ctx_destroy(ctx);

	/* Automatic: without free hugetlb pages, straight to 4 KiB, warned
	 * with both ways out. */
	ctx = make_ctx(SN_MEM_AUTO, path);
	assert_int_equal(sn_dma_alloc(ctx, 1 * MB, SN_DMA_DEVICE_RW, &r, &err), 0);
	if (free_2m_pages() == 0) {
		assert_int_equal(r->kind, SN_MEM_4K);
		assert_int_equal(r->page_size, 4096);
		assert_non_null(strstr(warnings, "off (never)"));
		assert_non_null(strstr(warnings, "nr_hugepages"));
		assert_non_null(strstr(warnings, "echo madvise"));
		struct sn_mem_info info;
		sn_ctx_mem_info(ctx, &info);
		assert_int_equal(info.kind, SN_MEM_4K);
		assert_int_equal(info.iommu_pages, 256);
		assert_true(info.small_pages);
	} else {
		assert_int_equal(r->kind, SN_MEM_HUGETLB);
	}
	sn_ctx_destroy(ctx);
	unlink(path);
}

static void automatic_order(void **state)
{
	struct sn_dma_region *r = NULL;
	(void)state;
	struct sn_ctx *ctx = make_ctx(SN_MEM_AUTO, NULL);
	assert_int_equal(sn_dma_alloc(ctx, 1 * MB, SN_DMA_DEVICE_RW, &r, NULL), 0);
	if (free_2m_pages() > 0) {
		assert_int_equal(r->kind, SN_MEM_HUGETLB);
	} else if (!thp_usable()) {
		assert_int_equal(r->kind, SN_MEM_4K);
	} else if (r->kind == SN_MEM_THP) {
		/* At least one unit huge, else it would have gone 4 KiB. */
		assert_int_equal(r->small_units, 0);
		assert_int_equal(r->page_size, 2 * MB);
	} else {
		assert_int_equal(r->kind, SN_MEM_4K);
		assert_non_null(strstr(warnings, "got no transparent huge page"));
	}
	sn_ctx_destroy(ctx);

	/* Asked for 4 KiB: no warning, no huge page. */
	ctx = make_ctx(SN_MEM_4K, NULL);
	assert_int_equal(sn_dma_alloc(ctx, 1 * MB, SN_DMA_DEVICE_RW, &r, NULL), 0);
	assert_int_equal(r->kind, SN_MEM_4K);
	assert_int_equal(sn_dma_pick_page_size(ctx, 1 * MB), 4096);
	assert_string_equal(warnings, "");
	sn_ctx_destroy(ctx);

	/* Asked for hugetlb: no fallback. */
	ctx = make_ctx(SN_MEM_HUGETLB, NULL);
	struct sn_error err;
	int rc = sn_dma_alloc(ctx, 1 * MB, SN_DMA_DEVICE_RW, &r, &err);
	if (rc < 0) {
		assert_int_equal(free_2m_pages(), 0);
		assert_non_null(strstr(err.msg, "nr_hugepages"));
	} else {
		assert_int_equal(r->kind, SN_MEM_HUGETLB);
	}
	sn_ctx_destroy(ctx);
}

static void bad_configs_are_refused(void **state)
{
	struct sn_error err;
	(void)state;
	const struct sn_ctx_config bad[] = {
		{ .unsafe_no_iommu = true, .memory = SN_MEM_THP },
		{ .unsafe_no_iommu = true, .memory = SN_MEM_4K },
		{ .memory = SN_MEM_THP, .page_size = 4096 },
		{ .memory = SN_MEM_4K, .page_size = 2 * MB },
		{ .memory = SN_MEM_HUGETLB, .page_size = 4096 },
		{ .memory = (enum sn_mem_kind)9 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_null(sn_ctx_create(&bad[i], &err));
		assert_int_equal(err.code, -EINVAL);
	}
	assert_non_null(strstr(err.msg, "SN_MEM_THP"));
	assert_string_equal(sn_mem_kind_name(SN_MEM_THP), "THP");
	assert_string_equal(sn_mem_kind_name(SN_MEM_HUGETLB), "hugetlb");
	assert_string_equal(sn_mem_kind_name(SN_MEM_4K), "4 KiB");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_enabled_file),
		cmocka_unit_test(parses_smaps),
		cmocka_unit_test(thp_region_is_aligned_and_reported),
		cmocka_unit_test(thp_never_is_refused_or_skipped),
		cmocka_unit_test(automatic_order),
		cmocka_unit_test(bad_configs_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
