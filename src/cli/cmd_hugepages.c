/* `safenic hugepages [--reserve N] [--size 2M|1G]`: shows the huge pages
 * the kernel holds (total, free, reserved, surplus) and what each safenic
 * command allocates with its default options (hugepages.h), and reserves
 * pages: the step README's "Using safenic on a real machine" does with
 * echo N > /proc/sys/vm/nr_hugepages. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "hugepages.h"
#include "report.h"
#include "safenic/safenic.h"

#define RESERVE_NONE UINT64_MAX
#define RESERVE_MAX UINT64_C(10000000)

static const char *const commands_shown[] = { "gen", "fwd", "recv", "dump",
					      "respond" };
#define COMMANDS_SHOWN (sizeof(commands_shown) / sizeof(commands_shown[0]))

static void print_count_row(uint64_t page_size, const struct hp_count *c)
{
	char name[16], total[32], free_text[32];

	report_format_size(page_size, name, sizeof(name));
	if (!c->present) {
		printf("  %-6s  not supported by this kernel or CPU\n", name);
		return;
	}
	report_format_size(c->total * page_size, total, sizeof(total));
	report_format_size(c->free * page_size, free_text, sizeof(free_text));
	if (c->total == 0) {
		printf("  %-6s %7d %7d %9" PRIu64 " %8" PRIu64 "  none\n", name,
		       0, 0, c->reserved, c->surplus);
		return;
	}
	printf("  %-6s %7" PRIu64 " %7" PRIu64 " %9" PRIu64 " %8" PRIu64
	       "  %s, %s free\n", name, c->total, c->free, c->reserved,
	       c->surplus, total, c->free ? free_text : "none");
}

/* "26 MiB (13 pages)" */
static void format_footprint(uint64_t bytes, char *out, size_t len)
{
	char size[32];

	report_format_size(bytes, size, sizeof(size));
	snprintf(out, len, "%s (%" PRIu64 " pages)", size, bytes / HP_PAGE_2M);
}

static void print_footprints(void)
{
	char virtio[64], intel[64];
	size_t i;

	printf("\nDMA memory of one run with default options, in 2 MiB pages "
	       "(1 GiB pages only\nfor a region above 512 MiB):\n");
	printf("  %-8s  %-20s  %s\n", "COMMAND", "virtio-net",
	       "Intel (igb, e1000e, ixgbe)");
	for (i = 0; i < COMMANDS_SHOWN; i++) {
		format_footprint(hp_command_bytes(commands_shown[i], HP_VIRTIO,
						  HP_PAGE_2M),
				 virtio, sizeof(virtio));
		format_footprint(hp_command_bytes(commands_shown[i], HP_INTEL,
						  HP_PAGE_2M),
				 intel, sizeof(intel));
		printf("  %-8s  %-20s  %s\n", commands_shown[i], virtio, intel);
	}
	printf("Pools of %u-byte buffers: gen %u plus the device's own %u; "
	       "fwd %u shared\nby both devices; recv, dump and respond the "
	       "device's own %u. Every ring\n(or virtqueue part) takes a "
	       "page of its own.\n", SN_POOL_DEFAULT_BUF_SIZE,
	       GEN_DEFAULT_POOL, HP_LIB_DEVICE_POOL_BUFS, FWD_DEFAULT_POOL,
	       HP_LIB_DEVICE_POOL_BUFS);
}

/* Whether the free 2 MiB pages hold the largest default run. */
static void print_verdict(const struct hp_count *c2m)
{
	uint64_t need = hp_command_bytes("fwd", HP_VIRTIO, HP_PAGE_2M) /
			HP_PAGE_2M;

	/* need is at least one page (fwd's pool), but scan-build cannot see
	 * into hugepages.c and took need == 0 == free as a path. */
	if (!c2m->present || need == 0)
		return;
	if (c2m->free >= need)
		printf("\n%" PRIu64 " free 2 MiB pages: enough for %" PRIu64
		       " fwd runs (the largest) at once.\n", c2m->free,
		       c2m->free / need);
	else
		printf("\nOnly %" PRIu64 " free 2 MiB pages; fwd needs %" PRIu64
		       ". Reserve more (as root): safenic hugepages --reserve %"
		       PRIu64 "\nWithout them safenic takes transparent huge "
		       "pages where the kernel gives them, else 4 KiB pages,\n"
		       "and warns (the IOMMU's IOTLB thrashes).\n", c2m->free,
		       need, c2m->total + need - c2m->free);
}

static void show(void)
{
	struct hp_count c2m, c1g;

	hp_read(&SYSROOT_REAL, HP_PAGE_2M, &c2m);
	hp_read(&SYSROOT_REAL, HP_PAGE_1G, &c1g);
	printf("Huge pages:\n  %-6s %7s %7s %9s %8s  %s\n", "SIZE", "TOTAL",
	       "FREE", "RESERVED", "SURPLUS", "MEMORY");
	print_count_row(HP_PAGE_2M, &c2m);
	print_count_row(HP_PAGE_1G, &c1g);
	print_footprints();
	print_verdict(&c2m);
	fflush(stdout);
}

static int reserve(uint64_t pages, uint64_t page_size, const char *size_text,
		   const char *size_param)
{
	struct hp_count c;
	int rc;

	if (hp_read(&SYSROOT_REAL, page_size, &c) < 0) {
		fprintf(stderr, "safenic hugepages: this kernel or CPU has no %s "
			"pages (no /sys/kernel/mm/hugepages/hugepages-%" PRIu64
			"kB; on x86 1 GiB pages need the CPU flag pdpe1gb): use "
			"--size 2M\n", size_text, page_size >> 10);
		return CLI_EXIT_FAILURE;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "safenic hugepages: reserving huge pages needs "
			"root: run it with sudo\n");
		return CLI_EXIT_FAILURE;
	}
	rc = hp_set_total(&SYSROOT_REAL, page_size, pages);
	hp_read(&SYSROOT_REAL, page_size, &c);
	if (rc < 0 && c.total != pages) {
		fprintf(stderr, "safenic hugepages: cannot set the number of %s "
			"pages: %s\n", size_text, strerror(-rc));
		return CLI_EXIT_FAILURE;
	}
	if (c.total < pages) {
		fprintf(stderr, "safenic hugepages: asked for %" PRIu64 " %s "
			"pages, the kernel reserved only %" PRIu64 ": memory "
			"is too small or too fragmented; ask for fewer, retry "
			"after 'sync; echo 3 > /proc/sys/vm/drop_caches', or "
			"reserve them at boot ('hugepagesz=%s hugepages=%"
			PRIu64 "' on the kernel command line)\n", pages,
			size_text, c.total, size_param, pages);
		return CLI_EXIT_FAILURE;
	}
	printf("%s pages: %" PRIu64 " reserved (%" PRIu64 " free); this lasts "
	       "until reboot (for good: vm.nr_hugepages in /etc/sysctl.conf, "
	       "or hugepages= on the kernel command line)\n\n", size_text,
	       c.total, c.free);
	return CLI_EXIT_OK;
}

int cmd_hugepages(int argc, char **argv)
{
	uint64_t pages = RESERVE_NONE, page_size;
	const char *size = "2M";
	const struct arg_option options[] = {
		{ "reserve", ARG_UINT, &pages, 0, RESERVE_MAX, "N",
		  "set the number of huge pages of --size to N (as root); 0 "
		  "gives them all back", "show only" },
		{ "size", ARG_STRING, &size, 0, 0, "2M|1G",
		  "page size for --reserve", NULL },
	};
	const struct arg_command command = {
		.name = "hugepages",
		.positional = "",
		.description =
			"Show the huge pages of this machine (2 MiB and 1 GiB: "
			"total, free, reserved\nfor mappings, surplus) and "
			"how much DMA memory each safenic command allocates\n"
			"with its default options. With --reserve, first set "
			"the number of pages.",
		.options = options,
		.option_count = sizeof(options) / sizeof(options[0]),
	};
	const char *positional[ARGS_MAX_POSITIONAL];
	size_t npos;
	int status;

	if (!args_parse_command(&command, argc, argv, positional, &npos,
				&status))
		return status;
	if (strcmp(size, "2M") == 0 || strcmp(size, "2m") == 0) {
		page_size = HP_PAGE_2M;
		size = "2M";
	} else if (strcmp(size, "1G") == 0 || strcmp(size, "1g") == 0) {
		page_size = HP_PAGE_1G;
		size = "1G";
	} else {
		return args_usage_error(&command, "option --size: use 2M or 1G");
	}
	if (pages != RESERVE_NONE) {
		status = reserve(pages, page_size,
				 page_size == HP_PAGE_2M ? "2 MiB" : "1 GiB", size);
		if (status != CLI_EXIT_OK)
			return status;
	}
	show();
	return CLI_EXIT_OK;
}
