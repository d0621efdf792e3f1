/* Error reporting inside the library: fill the caller's sn_error and
 * return the negative errno, so every failure path is one line. */
#ifndef SN_ERROR_H
#define SN_ERROR_H

#include <errno.h>

#include "safenic/safenic.h"

/* Fills *err (err may be NULL) and returns -code; a code of 0 (errno of a
 * call that failed without setting it) becomes -EIO, so that a failure
 * never reads as success. */
__attribute__((format(printf, 3, 4)))
int sn_fail_report(struct sn_error *err, int code, const char *fmt, ...);

static inline int sn_failed(int rc)
{
	return rc < 0 ? rc : -EIO;
}

/* A macro around an inline so that callers, and the static analyzers with
 * them, see that the result is negative: neither analyzer follows a
 * variadic call or one into another file, and both then took "rc >= 0"
 * after an sn_fail() as a possible path (with its outputs unset). */
#define sn_fail(err, code, ...) sn_failed(sn_fail_report((err), (code), __VA_ARGS__))

/* Send a warning or note to the context's log callback. */
struct sn_ctx;
__attribute__((format(printf, 3, 4)))
void sn_log(const struct sn_ctx *ctx, enum sn_log_level level,
	    const char *fmt, ...);

#endif
