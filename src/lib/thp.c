#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "thp.h"

enum sn_thp_mode sn_thp_parse_mode(const char *text)
{
	static const struct { const char *word; enum sn_thp_mode mode; } words[] = {
		{ "[always]", SN_THP_ALWAYS },
		{ "[madvise]", SN_THP_MADVISE },
		{ "[never]", SN_THP_NEVER },
	};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(text, words[i].word))
			return words[i].mode;
	return SN_THP_UNAVAILABLE;
}

enum sn_thp_mode sn_thp_mode(const char *path)
{
	char text[128];
	FILE *f = fopen(path ? path : SN_THP_ENABLED_PATH, "r");
	if (!f)
		return SN_THP_UNAVAILABLE;
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	return sn_thp_parse_mode(text);
}

const char *sn_thp_mode_name(enum sn_thp_mode mode)
{
	switch (mode) {
	case SN_THP_NEVER: return "never";
	case SN_THP_MADVISE: return "madvise";
	case SN_THP_ALWAYS: return "always";
	case SN_THP_UNAVAILABLE: break;
	}
	return "not available";
}

struct vma {
	uintptr_t start, end;
	size_t huge;           /* AnonHugePages in bytes */
	bool open;
};

/* Adds what a finished mapping says about [start, end). */
static void account(const struct vma *v, uintptr_t start, uintptr_t end,
		    size_t *covered, size_t *huge)
{
	if (!v->open || v->end <= start || v->start >= end)
		return;
	uintptr_t from = v->start > start ? v->start : start;
	uintptr_t to = v->end < end ? v->end : end;
	size_t inside = to - from, outside = (v->end - v->start) - inside;
	*covered += inside;
	/* Huge bytes outside the range could be at most `outside`. */
	if (v->huge > outside)
		*huge += v->huge - outside < inside ? v->huge - outside : inside;
}

int sn_thp_parse_smaps(const char *text, uintptr_t start, uintptr_t end,
		       size_t *huge_bytes)
{
	struct vma v = { 0 };
	size_t covered = 0, huge = 0;
	bool seen_field = false;

	for (const char *line = text; line && *line;) {
		const char *next = strchr(line, '\n');
		uint64_t a, b, kb;
		int used = 0;
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %n", &a, &b, &used) == 2 &&
		    used > 0 && b > a) {
			account(&v, start, end, &covered, &huge);
			v = (struct vma){ .start = (uintptr_t)a, .end = (uintptr_t)b,
					  .open = true };
		} else if (sscanf(line, "AnonHugePages: %" SCNu64 " kB", &kb) == 1) {
			v.huge = (size_t)kb << 10;
			seen_field = true;
		}
		line = next ? next + 1 : NULL;
	}
	account(&v, start, end, &covered, &huge);
	*huge_bytes = huge;
	if (covered != end - start)
		return -ENOENT;
	return seen_field ? 0 : -ENOTSUP;
}

/* The whole file: smaps has no size, and reads return one mapping's worth
 * at a time. */
static char *read_all(const char *path, int *rc)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (!buf || fd < 0) {
		*rc = fd < 0 ? -errno : -ENOMEM;
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	for (;;) {
		if (cap - len < 4096) {
			char *bigger = realloc(buf, cap * 2);
			if (!bigger) {
				*rc = -ENOMEM;
				break;
			}
			buf = bigger;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*rc = -errno;
			break;
		}
		if (n == 0) {
			close(fd);
			buf[len] = '\0';
			return buf;
		}
		len += (size_t)n;
	}
	close(fd);
	free(buf);
	return NULL;
}

int sn_thp_huge_bytes(uintptr_t start, uintptr_t end, size_t *huge_bytes)
{
	int rc = -EIO;
	char *text = read_all("/proc/self/smaps", &rc);
	*huge_bytes = 0;
	if (!text)
		return rc;
	rc = sn_thp_parse_smaps(text, start, end, huge_bytes);
	free(text);
	return rc;
}
