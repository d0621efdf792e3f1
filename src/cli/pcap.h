/* A pcap file writer for `safenic dump`: the classic libpcap format
 * (https://www.tcpdump.org/manpages/pcap-savefile.5.html), LINKTYPE_ETHERNET,
 * in the byte order of this machine (readers tell it from the magic).
 *
 *   file header, 24 bytes: magic 0xa1b2c3d4 (microsecond timestamps) or
 *     0xa1b23c4d (nanosecond), version 2.4, thiszone 0, sigfigs 0,
 *     snaplen, network 1 (Ethernet)
 *   per frame, 16 bytes: seconds, micro- or nanoseconds, captured length
 *     (at most snaplen), original length; then the captured bytes
 *
 * The file is valid at every moment that matters: the header is written
 * at open, records are buffered and written only as whole records, and
 * when a write fails part way (disk full, file size limit) the file is cut
 * back to the last complete record. A stop (Ctrl-C) flushes the buffer.
 *
 * Plain POSIX file I/O, no library dependency, so it is unit-tested
 * (including a full disk, through RLIMIT_FSIZE).
 */
#ifndef SAFENIC_CLI_PCAP_H
#define SAFENIC_CLI_PCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define PCAP_MAGIC_USEC 0xa1b2c3d4u
#define PCAP_MAGIC_NSEC 0xa1b23c4du
#define PCAP_VERSION_MAJOR 2
#define PCAP_VERSION_MINOR 4
#define PCAP_LINKTYPE_ETHERNET 1
#define PCAP_FILE_HEADER_LEN 24
#define PCAP_RECORD_HEADER_LEN 16
#define PCAP_MAX_SNAPLEN 65535u
#define PCAP_DEFAULT_BUFFER (256u * 1024)

#define PCAP_MESSAGE_LEN 400

struct pcap_writer {
	int fd;
	bool nano;
	uint32_t snaplen;
	uint8_t *buf;
	size_t used, size;            /* bytes buffered, buffer size */
	uint64_t buffered_records, buffered_bytes;
	uint64_t file_bytes;          /* complete records + header on disk */
	uint64_t records;             /* records on disk */
	uint64_t bytes;               /* their frames' original lengths */
	uint64_t truncated;           /* frames cut to snaplen (on disk or
					 buffered) */
	int error;                    /* first write error (negative errno) */
};

/* Creates (or truncates) path and writes the file header. buffer_size is
 * at least one largest record (16 + snaplen bytes); 0 picks the default.
 * Returns 0, or a negative errno with a one-line message naming the
 * problem and the fix (the path is left out: the caller names it). A file
 * that was created but could not take its header is removed again. */
int pcap_open(struct pcap_writer *w, const char *path, uint32_t snaplen,
	      bool nano, size_t buffer_size, char msg[PCAP_MESSAGE_LEN]);

/* Queues one frame of len bytes, received at ts (CLOCK_REALTIME). Writes
 * the buffer out first when the record would not fit. Returns 0, or the
 * writer's error (negative errno) once a write has failed; after a
 * failure nothing more is written. */
int pcap_add(struct pcap_writer *w, const uint8_t *frame, uint32_t len,
	     const struct timespec *ts);

/* Writes every buffered record. On failure the file is cut back to the
 * last complete record and the error is returned (and kept). */
int pcap_flush(struct pcap_writer *w);

/* Flushes and closes. Returns 0 or the first error. */
int pcap_close(struct pcap_writer *w);

/* "the disk is full: free space or write the capture elsewhere" for the
 * errors a capture file meets; a generic text for the rest. */
const char *pcap_error_advice(int negative_errno);

/* Byte lengths of a frame's record: header plus captured bytes. */
static inline uint32_t pcap_captured_len(const struct pcap_writer *w,
					 uint32_t len)
{
	return len < w->snaplen ? len : w->snaplen;
}

#endif
