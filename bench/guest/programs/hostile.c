/* safenic-hostile: plays a lying NIC against a running safenic process.
 * It finds the process's DMA memory (the huge-page mappings in
 * /proc/PID/smaps), tells the regions apart by safenic's layouts, and
 * then writes random bytes with process_vm_writev into what the device
 * may write, at a high rate, while real emulated NICs move traffic:
 *
 *   intel   receive descriptors: bytes 8-15 (status, errors, length,
 *           VLAN of the write-back); transmit descriptors: bytes 12-15
 *           (the write-back status);
 *   virtio  used rings: all of them (flags, index, ids, lengths);
 *           packed rings (safenic's default where the device offers
 *           them): the buffer id of every descriptor (bytes 12-13) and
 *           the device's event suppression area after the ring;
 *   both    packet buffers: anywhere in the pool.
 *
 * Buffer addresses and transmit commands, which the NIC reads, are left
 * alone, and so are virtio's descriptor tables and available rings (the
 * device only reads them), and a packed ring's addresses, lengths and
 * flags (the device reads them when the driver makes a descriptor
 * available: a flag written there would send its DMA to a stale or zero
 * address the driver never gave): so every DMA the NIC does still goes
 * where the driver pointed it, and an IOMMU fault would be the driver's
 * fault.
 *
 * The regions are told apart best right after the process has started,
 * before traffic (run it then): a receive ring is full of buffer
 * addresses, a transmit ring has safenic's command bits or is zero; a
 * virtio driver area has its available ring's flags (1, no interrupts) at
 * 16 * queue size, which a used ring never has there; a pool is larger
 * than one 2 MiB page.
 *
 * Usage: safenic-hostile PID intel|virtio [--delay S] [--seconds S]
 *                        [--rate WRITES_PER_S] [--seed N]
 * Prints "HOSTILE: ..." lines, the last one
 *   "HOSTILE-RESULT: writes=N rounds=N seconds=S" (exit 0), or
 *   "HOSTILE-RESULT: fail <why>" (exit 1). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#define HUGE_2M (2ul << 20)
#define MAX_REGIONS 64
#define MAX_TARGETS 32
#define PIECES 32          /* random writes per system call */

struct region {
	uintptr_t start;
	size_t size;
};

/* A place to scribble: count elements of stride bytes from start, and in
 * each only the bytes [first, first + width). A plain byte range is one
 * element as wide as itself. */
struct target {
	uintptr_t start;
	size_t count, stride, first, width;
	const char *what;
};

static struct target targets[MAX_TARGETS];
static unsigned num_targets;

static int fail(const char *why, const char *detail)
{
	printf("HOSTILE-RESULT: fail %s%s\n", why, detail);
	return 1;
}

static uint64_t next_random(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The process's huge-page mappings: safenic's DMA memory. */
static unsigned find_regions(pid_t pid, struct region *out)
{
	char path[64], line[512];
	unsigned n = 0;
	uintptr_t start = 0, end = 0;
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b, kb;
		if (sscanf(line, "%lx-%lx ", &a, &b) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			start = a;
			end = b;
		} else if (sscanf(line, "KernelPageSize: %lu kB", &kb) == 1 && kb >= 2048 &&
			   n < MAX_REGIONS) {
			out[n++] = (struct region){ start, end - start };
		}
	}
	fclose(f);
	return n;
}

static bool read_remote(pid_t pid, uintptr_t at, void *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)at, len };
	return process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)len;
}

static void add_target(struct target t)
{
	if (num_targets < MAX_TARGETS)
		targets[num_targets++] = t;
	printf("HOSTILE: target %s at 0x%lx, %zu x %zu bytes (bytes %zu-%zu of each)\n", t.what,
	       (unsigned long)t.start, t.count, t.stride, t.first, t.first + t.width - 1);
}

/* virtio: the first power of two N where the u16 at 16 * N is 1 (the
 * available ring's flags after the descriptor table); 0 for a used ring. */
static unsigned virtio_driver_area_size(const uint8_t *page)
{
	for (size_t n = 8; n <= 32768 && 16 * n + 2 <= HUGE_2M; n *= 2) {
		uint16_t flags;
		memcpy(&flags, page + 16 * n, sizeof(flags));
		if (flags == 1)
			return (unsigned)n;
	}
	return 0;
}

/* Intel: the size of a receive ring, or 0 for a transmit ring. Every
 * transmit descriptor safenic wrote has end-of-packet and insert-FCS set
 * (bits 0 and 1 of byte 11, the command); a receive ring holds buffer
 * addresses from the start, with byte 11 zero (no write-back, or one
 * without errors), and its size is the power of two above the last one.
 * A transmit ring not used yet is all zero. */
static unsigned intel_rx_ring_size(const uint8_t *page)
{
	size_t last = 0, posted = 0;
	for (size_t i = 0; i < 32768 && 16 * (i + 1) <= HUGE_2M; i++) {
		const uint8_t *d = page + 16 * i;
		uint64_t addr;
		memcpy(&addr, d, 8);
		if ((d[11] & 3) == 3)
			return 0;
		if (addr) {
			last = i;
			posted++;
		}
	}
	if (posted < 8)
		return 0;
	unsigned n = 8;
	while (n <= last)
		n *= 2;
	return n;
}

/* virtio, packed: a receive ring right after start holds descriptors
 * made available in lap 0 (flags AVAIL | WRITE, 0x0082, at byte 14) from
 * its start; its size is the power of two at or above their count. 0 for
 * anything else. */
static unsigned packed_rx_ring_size(const uint8_t *page)
{
	size_t i = 0;
	for (; i < 32768 && 16 * (i + 1) <= HUGE_2M; i++) {
		uint16_t flags;
		memcpy(&flags, page + 16 * i + 14, sizeof(flags));
		if (flags != 0x0082)
			break;
	}
	if (i < 8)
		return 0;
	unsigned n = 8;
	while (n < i)
		n *= 2;
	return n;
}

/* A packed ring's device-writable bytes that steer no DMA. */
static void add_packed_ring(uintptr_t start, unsigned size, const char *what)
{
	add_target((struct target){ start, size, 16, 12, 2, what });
	add_target((struct target){ start + 16 * (uintptr_t)size, 1, 4, 0, 4,
				    "device event suppression area" });
}

/* Packed virtqueues: receive rings by their lap-0 descriptors, driver
 * event areas (flags DISABLE, 1, at byte 2: the device only reads them)
 * left alone, the rest transmit rings. Returns the rings found. */
static unsigned classify_packed(pid_t pid, const struct region *regions, unsigned n,
				uint8_t *page, unsigned *ring)
{
	uintptr_t other[MAX_REGIONS];
	unsigned rings = 0, num_other = 0;
	for (unsigned i = 0; i < n; i++) {
		if (regions[i].size > HUGE_2M || !read_remote(pid, regions[i].start, page, 4096))
			continue;
		unsigned size = packed_rx_ring_size(page);
		uint16_t event_flags;
		memcpy(&event_flags, page + 2, sizeof(event_flags));
		if (size) {
			*ring = size;
			rings++;
			add_packed_ring(regions[i].start, size, "packed receive ring (ids)");
		} else if (event_flags != 1) {
			other[num_other++] = regions[i].start;
		}
	}
	for (unsigned i = 0; rings && i < num_other; i++)
		add_packed_ring(other[i], *ring, "packed transmit ring (ids)");
	if (rings)
		printf("HOSTILE: packed virtqueues: %u receive ring(s), %u transmit ring(s); "
		       "queue size %u\n", rings, num_other, *ring);
	return rings;
}

static int classify(pid_t pid, bool virtio)
{
	static struct region regions[MAX_REGIONS];
	static uint8_t page[HUGE_2M];
	unsigned n = find_regions(pid, regions), ring = 0, rings = 0, pools = 0;
	uintptr_t unknown[MAX_REGIONS];
	unsigned num_unknown = 0;

	if (n == 0)
		return fail("no huge-page mappings in the process's smaps: is it a safenic "
			    "command, with huge pages?", "");
	for (unsigned i = 0; i < n; i++) {
		if (regions[i].size > HUGE_2M) {
			add_target((struct target){ regions[i].start, 1, regions[i].size, 0,
						    regions[i].size, "packet buffers" });
			pools++;
			continue;
		}
		if (!read_remote(pid, regions[i].start, page, HUGE_2M))
			return fail("cannot read the process's memory: ", strerror(errno));
		unsigned size = virtio ? virtio_driver_area_size(page) : intel_rx_ring_size(page);
		if (size) {
			ring = size;
			rings++;
			if (!virtio)
				add_target((struct target){ regions[i].start, size, 16, 8, 8,
							    "receive descriptors" });
			continue; /* virtio: the device only reads a driver area */
		}
		unknown[num_unknown++] = regions[i].start;
	}
	if (virtio && !rings && pools) {
		rings = classify_packed(pid, regions, n, page, &ring);
		if (rings)
			return 0;
	}
	if (!rings || !pools)
		return fail("no rings or no pool found: attach right after the process "
			    "started, before traffic", "");
	/* The rest: virtio used rings, or Intel transmit rings (unused yet). */
	for (unsigned i = 0; i < num_unknown; i++) {
		size_t used_bytes = 4 + 8 * (size_t)ring + 2;
		if (virtio)
			add_target((struct target){ unknown[i], 1, used_bytes, 0, used_bytes,
						    "used ring" });
		else
			add_target((struct target){ unknown[i], ring, 16, 12, 4,
						    "transmit descriptors" });
	}
	printf("HOSTILE: %u huge-page regions: %u pool(s), %u %s, %u %s; queue size %u\n", n,
	       pools, rings, virtio ? "driver areas (left alone)" : "receive rings", num_unknown,
	       virtio ? "used rings" : "transmit rings", ring);
	return 0;
}

/* True when the process is gone or its huge-page mappings are not the
 * ones aimed at any more. */
static bool process_left(pid_t pid)
{
	static struct region now[MAX_REGIONS];
	unsigned n = find_regions(pid, now);
	for (unsigned t = 0; t < num_targets; t++) {
		bool found = false;
		for (unsigned i = 0; i < n; i++)
			found |= targets[t].start >= now[i].start &&
				 targets[t].start < now[i].start + now[i].size;
		if (!found)
			return true;
	}
	return false;
}

/* One system call: PIECES random pieces of 1 to 8 bytes, each in a
 * random target (picked evenly, so the small rings are hit as often as
 * the pool), at a random element, inside the bytes it may write. */
static long scribble_once(pid_t pid, uint64_t *seed)
{
	static uint8_t noise[PIECES * 8];
	struct iovec local = { noise, 0 }, remote[PIECES];
	for (unsigned i = 0; i < PIECES; i++) {
		uint64_t r = next_random(seed);
		const struct target *t = &targets[r % num_targets];
		size_t len = 1 + (r >> 8) % 8;
		if (len > t->width)
			len = t->width;
		uint64_t where = next_random(seed);
		size_t element = (size_t)(where % t->count);
		size_t offset = (size_t)((where >> 20) % (t->width - len + 1));
		uintptr_t at = t->start + element * t->stride + t->first + offset;
		uint64_t value = next_random(seed);
		memcpy(noise + local.iov_len, &value, len);
		remote[i] = (struct iovec){ (void *)at, len };
		local.iov_len += len;
	}
	ssize_t done = process_vm_writev(pid, &local, 1, remote, PIECES, 0);
	return done < 0 ? -1 : PIECES;
}

int main(int argc, char **argv)
{
	double delay = 1, seconds = 5, rate = 50000;
	uint64_t seed = (uint64_t)time(NULL);
	if (argc < 3 || (strcmp(argv[2], "intel") && strcmp(argv[2], "virtio"))) {
		fprintf(stderr, "usage: safenic-hostile PID intel|virtio [--delay S] [--seconds S] "
			"[--rate WRITES_PER_S] [--seed N]\n");
		return 2;
	}
	pid_t pid = (pid_t)atoi(argv[1]);
	bool virtio = strcmp(argv[2], "virtio") == 0;
	for (int i = 3; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--delay"))
			delay = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--seconds"))
			seconds = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--rate"))
			rate = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--seed"))
			seed = strtoull(argv[i + 1], NULL, 0);
		else {
			fprintf(stderr, "safenic-hostile: unknown option '%s'\n", argv[i]);
			return 2;
		}
	}
	if (classify(pid, virtio) != 0)
		return 1;
	printf("HOSTILE: seed 0x%llx; writing in %.1f s for %.1f s, %.0f writes/s\n",
	       (unsigned long long)seed, delay, seconds, rate);
	fflush(stdout);
	struct timespec pause = { (time_t)delay, (long)((delay - (long)delay) * 1e9) };
	nanosleep(&pause, NULL);

	double start = now_s(), end = start + seconds;
	uint64_t writes = 0, rounds = 0;
	seed |= 1;
	for (double t = start; t < end; t = now_s()) {
		if (scribble_once(pid, &seed) < 0) {
			int e = errno;
			/* The process stopped (by itself: it may have seen the lies)
			 * and gave its memory back: nothing left to lie to. */
			if (e == ESRCH || process_left(pid)) {
				printf("HOSTILE: process %d ended or unmapped its DMA memory "
				       "after %llu writes\n", (int)pid, (unsigned long long)writes);
				break;
			}
			return fail("process_vm_writev: ", strerror(e));
		}
		writes += PIECES;
		rounds++;
		/* Pace to the rate: sleep off any lead over the schedule. */
		double ahead = (double)writes / rate - (now_s() - start);
		if (ahead > 0.001) {
			struct timespec ts = { 0, (long)(ahead * 1e9) };
			nanosleep(&ts, NULL);
		}
	}
	printf("HOSTILE-RESULT: writes=%llu rounds=%llu seconds=%.1f\n",
	       (unsigned long long)writes, (unsigned long long)rounds, now_s() - start);
	return 0;
}
