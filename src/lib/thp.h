/* Transparent huge pages: whether the kernel hands them out, and how much
 * of a range of memory really got them.
 *
 * The check reads /proc/self/smaps, which any process may read for
 * itself: AnonHugePages there counts the memory of a mapping (VMA) that
 * sits in PMD-mapped huge pages, i.e. in physically contiguous, aligned
 * 2 MiB pages the IOMMU can map with one entry each. /proc/self/pagemap
 * would give frame numbers only with CAP_SYS_ADMIN, and its THP flag is
 * in /proc/kpageflags (root only), so smaps it is. */
#ifndef SN_THP_H
#define SN_THP_H

#include <stddef.h>
#include <stdint.h>

enum sn_thp_mode {
	SN_THP_UNAVAILABLE,  /* no THP in this kernel, or unreadable */
	SN_THP_NEVER,
	SN_THP_MADVISE,      /* for ranges that ask: MADV_HUGEPAGE */
	SN_THP_ALWAYS,
};

#define SN_THP_ENABLED_PATH "/sys/kernel/mm/transparent_hugepage/enabled"

/* The bracketed word of the `enabled` file: "always [madvise] never". */
enum sn_thp_mode sn_thp_parse_mode(const char *text);
/* Reads the `enabled` file at path (NULL: SN_THP_ENABLED_PATH). */
enum sn_thp_mode sn_thp_mode(const char *path);
const char *sn_thp_mode_name(enum sn_thp_mode mode);

/* From the text of /proc/self/smaps: the bytes of [start, end) in huge
 * pages. A mapping reaching past the range counts only the huge bytes it
 * must have inside (a lower bound). Returns 0, -ENOENT when the mappings
 * do not cover the whole range, or -ENOTSUP when smaps has no
 * AnonHugePages (a kernel without THP). */
int sn_thp_parse_smaps(const char *text, uintptr_t start, uintptr_t end,
		       size_t *huge_bytes);
/* The same, reading this process's smaps; -errno if it cannot. */
int sn_thp_huge_bytes(uintptr_t start, uintptr_t end, size_t *huge_bytes);

#endif
