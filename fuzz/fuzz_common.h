/* What every harness shares: reading the fuzzer's bytes as a script of
 * operations, a check that aborts (so libFuzzer reports a crash with the
 * input that broke it), and the ownership ledger of a pool's buffers.
 *
 * Test code only: nothing here is linked into the library or the tool. */
#ifndef SN_FUZZ_COMMON_H
#define SN_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An invariant broke: say which, then abort. */
#define FUZZ_CHECK(cond, ...)                                                  \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: invariant broken: %s: ",       \
				__FILE__, __LINE__, #cond);                    \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			abort();                                               \
		}                                                              \
	} while (0)

/* The input, consumed front to back; past its end every read is 0, so a
 * script always ends (callers stop at fuzz_done). */
struct fuzz_in {
	const uint8_t *p;
	size_t len, at;
};

static inline int fuzz_done(const struct fuzz_in *in)
{
	return in->at >= in->len;
}

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	return in->at < in->len ? in->p[in->at++] : 0;
}

static inline uint16_t fuzz_u16(struct fuzz_in *in)
{
	uint16_t lo = fuzz_u8(in);
	return (uint16_t)(lo | fuzz_u8(in) << 8);
}

static inline uint32_t fuzz_u32(struct fuzz_in *in)
{
	uint32_t lo = fuzz_u16(in);
	return lo | (uint32_t)fuzz_u16(in) << 16;
}

/* Up to n bytes of the input (fewer at its end); returns how many. */
static inline size_t fuzz_bytes(struct fuzz_in *in, uint8_t *out, size_t n)
{
	size_t left = in->len - (in->at < in->len ? in->at : in->len);
	if (n > left)
		n = left;
	if (n > 0)
		memcpy(out, in->p + in->at, n);
	in->at += n;
	return n;
}

#endif
