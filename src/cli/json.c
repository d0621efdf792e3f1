/* JSON Lines records (format in json.h). */
#include "json.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

static struct json_field *json_add(struct json_record *r, const char *key,
				   enum json_kind kind)
{
	struct json_field *f;

	if (r->count >= JSON_MAX_FIELDS) {
		r->dropped++;
		return NULL;
	}
	f = &r->fields[r->count++];
	memset(f, 0, sizeof(*f));
	f->key = key;
	f->kind = kind;
	return f;
}

void json_u64(struct json_record *r, const char *key, uint64_t value)
{
	struct json_field *f = json_add(r, key, JSON_U64);

	if (f)
		f->u64 = value;
}

void json_num(struct json_record *r, const char *key, double value)
{
	struct json_field *f = json_add(r, key, JSON_NUM);

	if (f)
		f->num = value;
}

void json_str(struct json_record *r, const char *key, const char *value)
{
	struct json_field *f = json_add(r, key, JSON_STR);

	if (f)
		f->str = value;
}

void json_bool(struct json_record *r, const char *key, bool value)
{
	struct json_field *f = json_add(r, key, JSON_BOOL);

	if (f)
		f->u64 = value;
}

void json_begin(struct json_record *r, const char *cmd, unsigned tick,
		bool final, double elapsed_s)
{
	r->count = 0;
	r->dropped = 0;
	json_str(r, "cmd", cmd);
	json_u64(r, "t", tick);
	json_bool(r, "final", final);
	json_num(r, "elapsed_s", elapsed_s);
}

void json_rates(struct json_record *r, const char *pps_key,
		const char *bps_key, uint64_t packets, uint64_t bytes,
		double seconds)
{
	json_num(r, pps_key, seconds > 0 ? (double)packets / seconds : 0.0);
	json_num(r, bps_key, seconds > 0 ? (double)bytes * 8.0 / seconds : 0.0);
}

void json_write_string(FILE *out, const char *text)
{
	const unsigned char *p = (const unsigned char *)text;

	fputc('"', out);
	for (; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", out); break;
		case '\\': fputs("\\\\", out); break;
		case '\n': fputs("\\n", out); break;
		case '\r': fputs("\\r", out); break;
		case '\t': fputs("\\t", out); break;
		default:
			/* Other control characters must be escaped; bytes
			 * from 0x80 pass through (UTF-8 text). */
			if (*p < 0x20 || *p == 0x7f)
				fprintf(out, "\\u%04x", *p);
			else
				fputc(*p, out);
		}
	}
	fputc('"', out);
}

static void write_field(FILE *out, const struct json_field *f)
{
	fprintf(out, "\"%s\":", f->key);
	switch (f->kind) {
	case JSON_U64:
		fprintf(out, "%" PRIu64, f->u64);
		break;
	case JSON_NUM:
		/* JSON has no NaN or infinity. */
		if (isfinite(f->num))
			fprintf(out, "%.3f", f->num);
		else
			fputs("null", out);
		break;
	case JSON_STR:
		if (f->str)
			json_write_string(out, f->str);
		else
			fputs("null", out);
		break;
	case JSON_BOOL:
		fputs(f->u64 ? "true" : "false", out);
		break;
	}
}

int json_write(FILE *out, const struct json_record *r)
{
	size_t i;

	fputc('{', out);
	for (i = 0; i < r->count; i++) {
		if (i > 0)
			fputc(',', out);
		write_field(out, &r->fields[i]);
	}
	fputs("}\n", out);
	return fflush(out) == 0 && !ferror(out) ? 0 : -1;
}
