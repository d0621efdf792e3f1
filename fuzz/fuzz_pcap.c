/* The pcap writer (src/cli/pcap.c) on whatever `safenic dump` can hand it:
 * frames of any length a device reports (0 to 65535 bytes), any snaplen,
 * buffer size and timestamps, and a disk that fills at any byte.
 *
 * Input: a header (flags: nanosecond timestamps; snaplen; buffer size; the
 * file size limit at which the "disk" fills, 0 for none), then frames:
 * seconds, nanoseconds, length, and as many of the frame's bytes as the
 * input has (the rest are a pattern). Each frame lives in an allocation
 * of exactly its length, so ASan sees a read past it.
 *
 * The "disk" is a file in a private directory (on /dev/shm when there is
 * one) and the full disk is RLIMIT_FSIZE, as the unit tests do it, from
 * pcap_open to pcap_close (the harness itself writes no file meanwhile);
 * the limit is lifted before the file is checked. After pcap_close the file
 * is read back and must be a valid capture of a prefix of the frames:
 *   - the file header: magic for the timestamp unit, version 2.4,
 *     snaplen, Ethernet;
 *   - whole records only, each with the frame's timestamp, original length,
 *     captured length min(length, snaplen), and the frame's first bytes;
 *   - every frame when no write failed; otherwise the error is the full
 *     disk's, and the records on disk are what the writer counted;
 *   - a refused open leaves no file behind. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "pcap.h"

#define MAX_FRAMES 16

struct frame {
	uint8_t *bytes;
	uint32_t len;
	struct timespec ts;
};

static char dir[200], path[256];
static uint8_t *file_buf;
static size_t file_cap;

/* libFuzzer ends with exit() when no input failed: leave nothing in
 * /dev/shm. (After a failure the directory stays, with the capture.) */
static void remove_dir(void)
{
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof(dir), "%s/safenic-fuzz-pcap-XXXXXX", base);
	FUZZ_CHECK(mkdtemp(dir) != NULL, "cannot make a directory in %s", base);
	snprintf(path, sizeof(path), "%s/capture.pcap", dir);
	atexit(remove_dir);
	return 0;
}

static void set_file_limit(rlim_t bytes)
{
	struct rlimit lim;
	FUZZ_CHECK(getrlimit(RLIMIT_FSIZE, &lim) == 0, "getrlimit");
	/* Never above the hard limit, which a shell may have set. */
	lim.rlim_cur = bytes < lim.rlim_max ? bytes : lim.rlim_max;
	FUZZ_CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0, "setrlimit");
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static size_t read_file(void)
{
	int fd = open(path, O_RDONLY);
	FUZZ_CHECK(fd >= 0, "the capture is gone");
	size_t len = 0;
	for (;;) {
		if (len == file_cap) {
			file_cap = file_cap ? file_cap * 2 : 1 << 16;
			file_buf = realloc(file_buf, file_cap);
			FUZZ_CHECK(file_buf != NULL, "out of memory");
		}
		ssize_t n = read(fd, file_buf + len, file_cap - len);
		FUZZ_CHECK(n >= 0, "read");
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	return len;
}

static void check_file(const struct pcap_writer *w, int rc, const struct frame *frames,
		       uint32_t added, uint32_t snaplen, bool nano)
{
	size_t len = read_file(), at = 24;
	uint32_t i = 0;
	uint64_t bytes = 0;

	FUZZ_CHECK(len >= 24, "file of %zu bytes has no header", len);
	FUZZ_CHECK(rd32(file_buf) == (nano ? PCAP_MAGIC_NSEC : PCAP_MAGIC_USEC) &&
			   file_buf[4] == 2 && file_buf[6] == 4 && rd32(file_buf + 16) == snaplen &&
			   rd32(file_buf + 20) == PCAP_LINKTYPE_ETHERNET,
		   "file header");
	for (; at < len; i++) {
		FUZZ_CHECK(i < added, "more records than frames");
		FUZZ_CHECK(at + 16 <= len, "a cut record header at byte %zu", at);
		const struct frame *f = &frames[i];
		uint32_t caplen = rd32(file_buf + at + 8), orig = rd32(file_buf + at + 12);
		uint32_t frac = nano ? (uint32_t)f->ts.tv_nsec : (uint32_t)(f->ts.tv_nsec / 1000);
		FUZZ_CHECK(rd32(file_buf + at) == (uint32_t)f->ts.tv_sec && rd32(file_buf + at + 4) == frac,
			   "record %u: timestamp", i);
		FUZZ_CHECK(orig == f->len && caplen == (f->len < snaplen ? f->len : snaplen),
			   "record %u: lengths %u/%u for a frame of %u, snaplen %u", i, caplen, orig,
			   f->len, snaplen);
		FUZZ_CHECK(at + 16 + caplen <= len, "record %u cut short", i);
		FUZZ_CHECK(memcmp(file_buf + at + 16, f->bytes, caplen) == 0, "record %u: bytes", i);
		at += 16 + caplen;
		bytes += orig;
	}
	FUZZ_CHECK(i == w->records && bytes == w->bytes && len == w->file_bytes,
		   "%u records, %zu bytes on disk; writer counted %llu, %llu", i, len,
		   (unsigned long long)w->records, (unsigned long long)w->file_bytes);
	if (rc == 0)
		FUZZ_CHECK(i == added, "%u of %u frames written, no error", i, added);
	else
		FUZZ_CHECK(rc == -EFBIG, "error %d, not the full disk's", rc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size, 0 };
	struct frame frames[MAX_FRAMES];
	struct pcap_writer w;
	char msg[PCAP_MESSAGE_LEN];
	uint8_t flags = fuzz_u8(&in);
	bool nano = flags & 1;
	uint32_t snaplen = (flags & 2) ? fuzz_u16(&in) : (flags & 4) ? 65536u : PCAP_MAX_SNAPLEN;
	size_t buffer = (size_t)fuzz_u16(&in) * ((flags & 8) ? 16 : 1);
	rlim_t limit = (flags & 16) ? (rlim_t)fuzz_u16(&in) * 4 : RLIM_INFINITY;
	uint32_t added = 0;

	/* A full disk must be an error return, not a signal (libFuzzer
	 * installs its own SIGXFSZ handler after LLVMFuzzerInitialize). */
	signal(SIGXFSZ, SIG_IGN);
	unlink(path);
	msg[0] = '\0';
	set_file_limit(limit);
	int rc = pcap_open(&w, path, snaplen, nano, buffer, msg);
	if (rc < 0) {
		set_file_limit(RLIM_INFINITY);
		FUZZ_CHECK(msg[0] != '\0' && memchr(msg, '\0', sizeof(msg)), "refused without a message");
		FUZZ_CHECK(access(path, F_OK) != 0, "a refused open left a file");
		FUZZ_CHECK(snaplen == 0 || snaplen > PCAP_MAX_SNAPLEN || limit < 24,
			   "open refused: %s", msg);
		return 0;
	}
	FUZZ_CHECK(snaplen >= 1 && snaplen <= PCAP_MAX_SNAPLEN, "snaplen %u accepted", snaplen);

	/* At most MAX_FRAMES frames and 256 KiB an input: enough to fill the
	 * buffer many times over, small enough to run fast. */
	uint64_t total = 0;
	while (!fuzz_done(&in) && added < MAX_FRAMES && total < (256u << 10)) {
		struct frame *f = &frames[added];
		f->ts.tv_sec = (time_t)fuzz_u32(&in);
		f->ts.tv_nsec = (long)(fuzz_u32(&in) % 1000000000u);
		uint16_t len = fuzz_u16(&in);
		/* Mostly frame-sized; one in 16 anything up to 64 KiB. */
		f->len = (len & 0xf000) == 0xf000 ? len : len % 1600;
		f->bytes = malloc(f->len ? f->len : 1);
		FUZZ_CHECK(f->bytes != NULL, "out of memory");
		size_t have = fuzz_bytes(&in, f->bytes, f->len < 64 ? f->len : 64);
		memset(f->bytes + have, (int)added, f->len - have);
		added++;
		total += f->len;
		int r = pcap_add(&w, f->bytes, f->len, &f->ts);
		FUZZ_CHECK(r == 0 || r == w.error, "pcap_add returned %d, error %d", r, w.error);
		FUZZ_CHECK(w.used <= w.size, "buffer overrun: %zu of %zu", w.used, w.size);
	}
	rc = pcap_close(&w);
	set_file_limit(RLIM_INFINITY);
	check_file(&w, rc, frames, added, snaplen, nano);
	for (uint32_t i = 0; i < added; i++)
		free(frames[i].bytes);
	return 0;
}
