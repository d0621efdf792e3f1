/* Replays the DMA translations of a run (benchmarks/iotlb-model.sh
 * extracts them from QEMU's VT-d trace) through the IOTLB model of
 * iotlb.c, for each IOTLB size and associativity asked, and prints IOTLB
 * misses per forwarded frame as CSV.
 *
 *   safenic-iotlb-sim --page 4k|2m --frames N [options] TRACE
 *     TRACE          one translation a line: REQUESTER DOMAIN IOVA (hex)
 *     --page SIZE    the page every IOVA of the run lies in: the run's
 *                    memory layout (the trace does not say)
 *     --frames N     frames forwarded during the trace
 *     --entries LIST IOTLB sizes (default 32,64,128,256,512,1024)
 *     --ways LIST    ways per set, 0 = fully associative (default 4,8,0)
 *     --label TEXT   first column of every row (default -)
 *     --header       print the CSV header first
 * One IOTLB for all devices of the trace, entries tagged by domain.
 * Columns: label,page,entries,ways,translations,pages,frames,misses,
 * misses_per_frame (pages: distinct pages the trace touches).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotlb.h"

#define MAX_LIST 16

struct access {
	uint64_t iova;
	uint16_t domain;
};

struct trace {
	struct access *a;
	size_t n, cap;
};

static int usage(void)
{
	fprintf(stderr, "usage: safenic-iotlb-sim --page 4k|2m --frames N [--entries LIST] "
			"[--ways LIST] [--label TEXT] [--header] TRACE\n");
	return 2;
}

static int parse_list(const char *text, unsigned *out, size_t *n)
{
	char *end;
	*n = 0;
	do {
		unsigned long v = strtoul(text, &end, 10);
		if (end == text || v > 1u << 20 || *n == MAX_LIST)
			return -1;
		out[(*n)++] = (unsigned)v;
		text = end + (*end == ',');
	} while (*end == ',');
	return *end ? -1 : 0;
}

static int read_trace(FILE *f, struct trace *t)
{
	unsigned requester, domain;
	uint64_t iova;
	int got;

	while ((got = fscanf(f, "%x %x %" SCNx64, &requester, &domain, &iova)) == 3) {
		if (t->n == t->cap) {
			size_t cap = t->cap ? 2 * t->cap : 1u << 16;
			struct access *a = realloc(t->a, cap * sizeof(*a));
			if (!a)
				return -ENOMEM;
			t->a = a;
			t->cap = cap;
		}
		t->a[t->n++] = (struct access){ .iova = iova, .domain = (uint16_t)domain };
	}
	return got == EOF && !ferror(f) ? 0 : -EINVAL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* Distinct (domain, page) pairs: the footprint an IOTLB would need to
 * hold to miss only once per page. */
static size_t distinct_pages(const struct trace *t, unsigned shift)
{
	uint64_t *keys = malloc((t->n ? t->n : 1) * sizeof(*keys));
	size_t n = 0;
	if (!keys)
		return 0;
	for (size_t i = 0; i < t->n; i++)
		keys[i] = (uint64_t)t->a[i].domain << 48 | t->a[i].iova >> shift;
	qsort(keys, t->n, sizeof(*keys), cmp_u64);
	for (size_t i = 0; i < t->n; i++)
		n += i == 0 || keys[i] != keys[i - 1];
	free(keys);
	return n;
}

int main(int argc, char **argv)
{
	unsigned entries[MAX_LIST], ways[MAX_LIST], shift = 0;
	size_t n_entries = 0, n_ways = 0;
	const char *label = "-", *path = NULL;
	unsigned long long frames = 0;
	struct trace t = { 0 };
	int header = 0;
	FILE *f;

	parse_list("32,64,128,256,512,1024", entries, &n_entries);
	parse_list("4,8,0", ways, &n_ways);
	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(opt, "--header")) {
			header = 1;
			continue;
		}
		if (opt[0] != '-') {
			path = opt;
			continue;
		}
		if (!val)
			return usage();
		i++;
		if (!strcmp(opt, "--page"))
			shift = !strcmp(val, "4k") ? IOTLB_SHIFT_4K : !strcmp(val, "2m") ? IOTLB_SHIFT_2M : 0;
		else if (!strcmp(opt, "--frames"))
			frames = strtoull(val, NULL, 10);
		else if (!strcmp(opt, "--entries") ? parse_list(val, entries, &n_entries) < 0
			 : !strcmp(opt, "--ways") ? parse_list(val, ways, &n_ways) < 0
			 : strcmp(opt, "--label") ? 1 : (label = val, 0))
			return usage();
	}
	if (!shift || !frames || !path) {
		fprintf(stderr, "safenic-iotlb-sim: --page 4k|2m, --frames N (more than 0) and a "
				"trace file are needed\n");
		return usage();
	}
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "safenic-iotlb-sim: cannot open %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (read_trace(f, &t) < 0) {
		fprintf(stderr, "safenic-iotlb-sim: %s: translation %zu is not 'REQUESTER DOMAIN "
				"IOVA' in hex (or out of memory)\n", path, t.n + 1);
		fclose(f);
		free(t.a);
		return 1;
	}
	fclose(f);

	size_t pages = distinct_pages(&t, shift);
	if (header)
		printf("label,page,entries,ways,translations,pages,frames,misses,misses_per_frame\n");
	for (size_t e = 0; e < n_entries; e++)
		for (size_t w = 0; w < n_ways; w++) {
			struct iotlb tlb;
			if (iotlb_init(&tlb, entries[e], ways[w]) < 0) {
				fprintf(stderr, "safenic-iotlb-sim: %u entries in %u-way sets: the "
						"entries must be the ways times a power of two\n",
					entries[e], ways[w]);
				free(t.a);
				return 1;
			}
			for (size_t i = 0; i < t.n; i++)
				iotlb_access(&tlb, t.a[i].domain, t.a[i].iova, shift);
			char way_text[16] = "full";
			if (ways[w])
				snprintf(way_text, sizeof(way_text), "%u", ways[w]);
			printf("%s,%s,%u,%s,%zu,%zu,%llu,%" PRIu64 ",%.4f\n", label,
			       shift == IOTLB_SHIFT_4K ? "4k" : "2m", entries[e], way_text,
			       t.n, pages, frames, tlb.misses,
			       (double)tlb.misses / (double)frames);
			iotlb_fini(&tlb);
		}
	free(t.a);
	return 0;
}
