/* Unit tests of the pcap writer (pcap.c): the bytes of the file format,
 * snap lengths, buffering, and what a failing write leaves behind (a full
 * disk is simulated with RLIMIT_FSIZE, which makes write() stop short and
 * then fail with EFBIG, as ENOSPC does on a full file system). */
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
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pcap.h"

struct file_image {
	uint8_t *data;
	size_t len;
};

static struct file_image read_whole(const char *path)
{
	struct file_image img = { NULL, 0 };
	FILE *f = fopen(path, "rb");
	long len;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	assert_true(len >= 0);
	rewind(f);
	img.data = malloc((size_t)len + 1);
	assert_non_null(img.data);
	img.len = fread(img.data, 1, (size_t)len, f);
	assert_int_equal(img.len, (size_t)len);
	fclose(f);
	return img;
}

static uint32_t u32_at(const struct file_image *img, size_t at)
{
	uint32_t v;

	assert_true(at + 4 <= img->len);
	memcpy(&v, img->data + at, 4);
	return v;
}

static uint16_t u16_at(const struct file_image *img, size_t at)
{
	uint16_t v;

	assert_true(at + 2 <= img->len);
	memcpy(&v, img->data + at, 2);
	return v;
}

/* Walks the records as a reader would; the file must end exactly after
 * the last one. Returns the number of records. */
static size_t check_records(const struct file_image *img, uint32_t snaplen)
{
	size_t at = PCAP_FILE_HEADER_LEN, count = 0;

	while (at < img->len) {
		uint32_t caplen, len;

		assert_true(at + PCAP_RECORD_HEADER_LEN <= img->len);
		caplen = u32_at(img, at + 8);
		len = u32_at(img, at + 12);
		assert_true(caplen <= snaplen);
		assert_true(caplen <= len);
		assert_true(at + PCAP_RECORD_HEADER_LEN + caplen <= img->len);
		at += PCAP_RECORD_HEADER_LEN + caplen;
		count++;
	}
	assert_int_equal(at, img->len);
	return count;
}

static char *temp_path(const char *name)
{
	static char path[256];
	const char *dir = getenv("TMPDIR");

	snprintf(path, sizeof(path), "%s/safenic-pcap-%ld-%s", dir ? dir : "/tmp",
		 (long)getpid(), name);
	return path;
}

static void fill_frame(uint8_t *frame, size_t len, uint8_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		frame[i] = (uint8_t)(seed + i);
}

static void test_header_microseconds(void **state)
{
	char msg[PCAP_MESSAGE_LEN], *path = temp_path("hdr.pcap");
	struct pcap_writer w;
	struct file_image img;

	(void)state;
	assert_int_equal(pcap_open(&w, path, 65535, false, 0, msg), 0);
	assert_int_equal(pcap_close(&w), 0);
	img = read_whole(path);
	assert_int_equal(img.len, 24);
	assert_int_equal(u32_at(&img, 0), 0xa1b2c3d4u);
	assert_int_equal(u16_at(&img, 4), 2);
	assert_int_equal(u16_at(&img, 6), 4);
	assert_int_equal(u32_at(&img, 8), 0);
	assert_int_equal(u32_at(&img, 12), 0);
	assert_int_equal(u32_at(&img, 16), 65535);
	assert_int_equal(u32_at(&img, 20), 1);   /* LINKTYPE_ETHERNET */
	free(img.data);
	unlink(path);
}

static void test_records_and_timestamps(void **state)
{
	char msg[PCAP_MESSAGE_LEN], *path = temp_path("rec.pcap");
	struct timespec ts = { 1700000000, 123456789 };
	uint8_t frame[1514];
	struct pcap_writer w;
	struct file_image img;
	bool nano;

	(void)state;
	for (nano = false; ; nano = true) {
		assert_int_equal(pcap_open(&w, path, 65535, nano, 0, msg), 0);
		fill_frame(frame, sizeof(frame), 7);
		assert_int_equal(pcap_add(&w, frame, 60, &ts), 0);
		assert_int_equal(pcap_add(&w, frame, 1514, &ts), 0);
		assert_int_equal(pcap_close(&w), 0);
		assert_int_equal(w.records, 2);
		img = read_whole(path);
		assert_int_equal(u32_at(&img, 0),
				 nano ? 0xa1b23c4du : 0xa1b2c3d4u);
		assert_int_equal(img.len, 24 + 16 + 60 + 16 + 1514);
		assert_int_equal(w.file_bytes, img.len);
		assert_int_equal(u32_at(&img, 24), 1700000000u);
		assert_int_equal(u32_at(&img, 28), nano ? 123456789u : 123456u);
		assert_int_equal(u32_at(&img, 32), 60);
		assert_int_equal(u32_at(&img, 36), 60);
		assert_memory_equal(img.data + 40, frame, 60);
		assert_int_equal(u32_at(&img, 100 + 8), 1514);
		assert_memory_equal(img.data + 116, frame, 1514);
		assert_int_equal(check_records(&img, 65535), 2);
		free(img.data);
		if (nano)
			break;
	}
	unlink(path);
}

static void test_snaplen_cuts_frames(void **state)
{
	char msg[PCAP_MESSAGE_LEN], *path = temp_path("snap.pcap");
	struct timespec ts = { 1, 0 };
	uint8_t frame[1000];
	struct pcap_writer w;
	struct file_image img;

	(void)state;
	fill_frame(frame, sizeof(frame), 1);
	assert_int_equal(pcap_open(&w, path, 100, false, 0, msg), 0);
	assert_int_equal(pcap_add(&w, frame, 1000, &ts), 0);
	assert_int_equal(pcap_add(&w, frame, 64, &ts), 0);
	assert_int_equal(pcap_close(&w), 0);
	assert_int_equal(w.truncated, 1);
	img = read_whole(path);
	assert_int_equal(u32_at(&img, 16), 100);
	assert_int_equal(u32_at(&img, 24 + 8), 100);     /* captured */
	assert_int_equal(u32_at(&img, 24 + 12), 1000);   /* original */
	assert_memory_equal(img.data + 40, frame, 100);
	assert_int_equal(check_records(&img, 100), 2);
	free(img.data);
	unlink(path);
}

/* A buffer smaller than the frames written: records still come out
 * whole and in order. */
static void test_small_buffer_flushes(void **state)
{
	char msg[PCAP_MESSAGE_LEN], *path = temp_path("small.pcap");
	struct timespec ts = { 5, 5000 };
	uint8_t frame[300];
	struct pcap_writer w;
	struct file_image img;
	unsigned i;

	(void)state;
	assert_int_equal(pcap_open(&w, path, 300, false, 400, msg), 0);
	for (i = 0; i < 50; i++) {
		fill_frame(frame, sizeof(frame), (uint8_t)i);
		assert_int_equal(pcap_add(&w, frame, 60 + i * 5, &ts), 0);
	}
	assert_int_equal(pcap_close(&w), 0);
	img = read_whole(path);
	assert_int_equal(check_records(&img, 300), 50);
	assert_int_equal(w.records, 50);
	assert_int_equal(w.bytes, 50 * 60 + 5 * (49 * 50 / 2));
	free(img.data);
	unlink(path);
}

/* The file system fills up part way through a flush: the file is cut
 * back to the last complete record and stays valid. */
static void test_full_disk_keeps_whole_records(void **state)
{
	char msg[PCAP_MESSAGE_LEN], *path = temp_path("full.pcap");
	struct timespec ts = { 9, 9 };
	struct rlimit old, small;
	uint8_t frame[200];
	struct pcap_writer w;
	struct file_image img;
	unsigned i;
	int rc;

	(void)state;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(pcap_open(&w, path, 65535, false, 0, msg), 0);
	/* Room for the header and 2.5 records of 16 + 200 bytes. */
	small = old;
	small.rlim_cur = 24 + 216 * 2 + 108;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	fill_frame(frame, sizeof(frame), 3);
	for (i = 0; i < 10; i++)
		assert_int_equal(pcap_add(&w, frame, 200, &ts), 0);
	rc = pcap_flush(&w);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(rc, -EFBIG);
	assert_int_equal(w.records, 2);
	assert_int_equal(w.bytes, 400);
	assert_int_equal(w.file_bytes, 24 + 216 * 2);
	/* Later calls report the same error and write nothing. */
	assert_int_equal(pcap_add(&w, frame, 200, &ts), -EFBIG);
	assert_int_equal(pcap_close(&w), -EFBIG);
	img = read_whole(path);
	assert_int_equal(img.len, 24 + 216 * 2);
	assert_int_equal(check_records(&img, 65535), 2);
	free(img.data);
	unlink(path);
	assert_non_null(strstr(pcap_error_advice(-EFBIG), "ulimit -f"));
}

/* Not even the header fits: the open fails and leaves no file. */
static void test_header_does_not_fit(void **state)
{
	char msg[PCAP_MESSAGE_LEN], *path = temp_path("nohdr.pcap");
	struct rlimit old, small;
	struct pcap_writer w;
	int rc;

	(void)state;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small = old;
	small.rlim_cur = 10;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	rc = pcap_open(&w, path, 65535, false, 0, msg);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(rc, -EFBIG);
	assert_int_not_equal(access(path, F_OK), 0);
	assert_non_null(strstr(msg, "header"));
}

static void test_unwritable_paths(void **state)
{
	char msg[PCAP_MESSAGE_LEN];
	struct pcap_writer w;

	(void)state;
	assert_int_equal(pcap_open(&w, "/nonexistent-dir/x.pcap", 65535, false,
				   0, msg), -ENOENT);
	assert_non_null(strstr(msg, "does not exist"));
	if (access("/dev/full", W_OK) == 0) {
		assert_int_equal(pcap_open(&w, "/dev/full", 65535, false, 0, msg),
				 -ENOSPC);
		assert_non_null(strstr(msg, "disk is full"));
		assert_int_equal(access("/dev/full", F_OK), 0);   /* kept */
	}
	assert_int_equal(pcap_open(&w, "/tmp", 65535, false, 0, msg), -EISDIR);
	assert_non_null(strstr(msg, "directory"));
	assert_int_equal(pcap_open(&w, "/tmp/x", 0, false, 0, msg), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_microseconds),
		cmocka_unit_test(test_records_and_timestamps),
		cmocka_unit_test(test_snaplen_cuts_frames),
		cmocka_unit_test(test_small_buffer_flushes),
		cmocka_unit_test(test_full_disk_keeps_whole_records),
		cmocka_unit_test(test_header_does_not_fit),
		cmocka_unit_test(test_unwritable_paths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
