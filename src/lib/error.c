#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>

#include "ctx.h"
#include "error.h"

int sn_fail_report(struct sn_error *err, int code, const char *fmt, ...)
{
	if (code > 0)
		code = -code;
	else if (code == 0)
		code = -EIO;
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
		err->code = code;
	}
	return code;
}

void sn_log(const struct sn_ctx *ctx, enum sn_log_level level,
	    const char *fmt, ...)
{
	char msg[SN_ERROR_LEN];
	va_list ap;

	if (!ctx || !ctx->cfg.log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctx->cfg.log(ctx->cfg.log_user, level, msg);
}
