/* Error reporting inside the library: fill the caller's sn_error and
 * return the negative errno, so every failure path is one line. */
#ifndef SN_ERROR_H
#define SN_ERROR_H

#include "safenic/safenic.h"

__attribute__((format(printf, 3, 4)))
int sn_fail(struct sn_error *err, int code, const char *fmt, ...);

/* Send a warning or note to the context's log callback. */
struct sn_ctx;
__attribute__((format(printf, 3, 4)))
void sn_log(const struct sn_ctx *ctx, enum sn_log_level level,
	    const char *fmt, ...);

#endif
