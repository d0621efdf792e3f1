/* The pcap file writer (format and guarantees in pcap.h). */
#define _POSIX_C_SOURCE 200809L

#include "pcap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Host byte order on purpose: the magic tells readers which one it is. */
static void put_u32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void put_u16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v));
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void file_header(uint8_t h[PCAP_FILE_HEADER_LEN], uint32_t snaplen,
			bool nano)
{
	put_u32(h, nano ? PCAP_MAGIC_NSEC : PCAP_MAGIC_USEC);
	put_u16(h + 4, PCAP_VERSION_MAJOR);
	put_u16(h + 6, PCAP_VERSION_MINOR);
	put_u32(h + 8, 0);                 /* thiszone: timestamps are UTC */
	put_u32(h + 12, 0);                /* sigfigs */
	put_u32(h + 16, snaplen);
	put_u32(h + 20, PCAP_LINKTYPE_ETHERNET);
}

/* write() until all of len is out; returns how much was written, with
 * errno set when that is less than len. */
static size_t write_all(int fd, const uint8_t *p, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, p + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			break;
		}
		done += (size_t)n;
	}
	return done;
}

const char *pcap_error_advice(int negative_errno)
{
	switch (-negative_errno) {
	case ENOSPC:
		return "the disk is full: free some space, or write the "
		       "capture to another file system with -w";
	case EDQUOT:
		return "the disk quota is used up: free some space, or write "
		       "the capture elsewhere with -w";
	case EFBIG:
		return "the file size limit was reached (ulimit -f): raise "
		       "it, or capture fewer frames (--count, --snaplen)";
	case EACCES:
	case EPERM:
		return "no permission to write there: choose a writable path "
		       "with -w";
	case EROFS:
		return "the file system is read-only: choose a writable path "
		       "with -w";
	case ENOENT:
	case ENOTDIR:
		return "the directory does not exist: create it, or choose "
		       "another path with -w";
	case EISDIR:
		return "that is a directory: give a file name with -w";
	case EIO:
		return "the storage reported an I/O error: check the disk "
		       "(dmesg) and write elsewhere with -w";
	default:
		return "choose another path with -w";
	}
}

static int fail(char *msg, int e, const char *what)
{
	if (msg)
		snprintf(msg, PCAP_MESSAGE_LEN, "%s: %s; %s", what, strerror(e),
			 pcap_error_advice(-e));
	return -e;
}

int pcap_open(struct pcap_writer *w, const char *path, uint32_t snaplen,
	      bool nano, size_t buffer_size, char msg[PCAP_MESSAGE_LEN])
{
	uint8_t header[PCAP_FILE_HEADER_LEN];
	struct stat st;
	int e;

	memset(w, 0, sizeof(*w));
	w->fd = -1;
	if (snaplen == 0 || snaplen > PCAP_MAX_SNAPLEN) {
		snprintf(msg, PCAP_MESSAGE_LEN, "snaplen %u is out of range "
			 "1..%u", snaplen, PCAP_MAX_SNAPLEN);
		return -EINVAL;
	}
	if (buffer_size == 0)
		buffer_size = PCAP_DEFAULT_BUFFER;
	if (buffer_size < PCAP_RECORD_HEADER_LEN + (size_t)snaplen)
		buffer_size = PCAP_RECORD_HEADER_LEN + (size_t)snaplen;
	w->buf = malloc(buffer_size);
	if (!w->buf)
		return fail(msg, ENOMEM, "cannot allocate the write buffer");
	w->size = buffer_size;
	w->snaplen = snaplen;
	w->nano = nano;
	w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		e = errno;
		free(w->buf);
		w->buf = NULL;
		return fail(msg, e, "cannot create the file");
	}
	file_header(header, snaplen, nano);
	if (write_all(w->fd, header, sizeof(header)) == sizeof(header)) {
		w->file_bytes = sizeof(header);
		return 0;
	}
	e = errno;
	/* Leave no half-made capture behind (but never unlink a device
	 * node such as /dev/full). */
	if (fstat(w->fd, &st) == 0 && S_ISREG(st.st_mode))
		unlink(path);
	close(w->fd);
	w->fd = -1;
	free(w->buf);
	w->buf = NULL;
	return fail(msg, e, "cannot write the file header");
}

/* Whole records at the start of buf within len bytes: their byte length;
 * their number in *count and their frames' original lengths in *bytes. */
static size_t whole_records(const uint8_t *buf, size_t len, uint64_t *count,
			    uint64_t *bytes)
{
	size_t at = 0;

	*count = 0;
	*bytes = 0;
	while (at + PCAP_RECORD_HEADER_LEN <= len) {
		size_t rec = PCAP_RECORD_HEADER_LEN + get_u32(buf + at + 8);

		if (at + rec > len)
			break;
		*bytes += get_u32(buf + at + 12);
		at += rec;
		(*count)++;
	}
	return at;
}

/* A write stopped part way: keep the complete records that reached the
 * file, cut off the rest. */
static void cut_back(struct pcap_writer *w, size_t written)
{
	uint64_t count, bytes;
	size_t keep = whole_records(w->buf, written, &count, &bytes);
	off_t end = (off_t)(w->file_bytes + keep);

	if (ftruncate(w->fd, end) == 0)
		lseek(w->fd, end, SEEK_SET);
	w->file_bytes += keep;
	w->records += count;
	w->bytes += bytes;
}

int pcap_flush(struct pcap_writer *w)
{
	size_t written;

	if (w->error)
		return w->error;
	if (w->used == 0)
		return 0;
	written = write_all(w->fd, w->buf, w->used);
	if (written == w->used) {
		w->file_bytes += w->used;
		w->records += w->buffered_records;
		w->bytes += w->buffered_bytes;
	} else {
		w->error = -errno;
		cut_back(w, written);
	}
	w->used = 0;
	w->buffered_records = 0;
	w->buffered_bytes = 0;
	return w->error;
}

int pcap_add(struct pcap_writer *w, const uint8_t *frame, uint32_t len,
	     const struct timespec *ts)
{
	uint32_t caplen = pcap_captured_len(w, len);
	uint32_t frac = w->nano ? (uint32_t)ts->tv_nsec
				: (uint32_t)(ts->tv_nsec / 1000);
	uint8_t *rec;

	if (w->error)
		return w->error;
	if (w->used + PCAP_RECORD_HEADER_LEN + caplen > w->size &&
	    pcap_flush(w) < 0)
		return w->error;
	rec = w->buf + w->used;
	/* The classic format has 32-bit seconds: good until 2106, read as
	 * unsigned by libpcap and Wireshark. */
	put_u32(rec, (uint32_t)ts->tv_sec);
	put_u32(rec + 4, frac);
	put_u32(rec + 8, caplen);
	put_u32(rec + 12, len);
	memcpy(rec + PCAP_RECORD_HEADER_LEN, frame, caplen);
	w->used += PCAP_RECORD_HEADER_LEN + caplen;
	w->buffered_records++;
	w->buffered_bytes += len;
	if (caplen < len)
		w->truncated++;
	return 0;
}

int pcap_close(struct pcap_writer *w)
{
	int rc = 0;

	if (w->fd >= 0) {
		rc = pcap_flush(w);
		if (close(w->fd) != 0 && rc == 0) {
			/* NFS and the like report write errors at close. */
			rc = -errno;
			w->error = rc;
		}
		w->fd = -1;
	}
	free(w->buf);
	w->buf = NULL;
	return rc;
}
