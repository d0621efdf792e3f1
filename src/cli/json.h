/* JSON Lines for --json: one object per line, flat, built as a list of
 * fields and written in one go (so a line is never interleaved with other
 * output, and is flushed at once, since stdout is often a pipe).
 *
 * Every record starts with the same four keys:
 *   "cmd"        the command ("gen", "fwd", "recv", "dump", "respond")
 *   "t"          the tick: 1, 2, ... once a second; the final record
 *                carries the number of ticks so far
 *   "final"      false once a second, true for the last record of a run
 *   "elapsed_s"  seconds since the command started its datapath
 * then the command's counters (integers, since the start of the run) and
 * rates (numbers: per second over the last interval; in the final record,
 * over the whole run). Keys are an interface: add, never rename.
 *
 * No library dependency, so the format is unit-tested.
 */
#ifndef SAFENIC_CLI_JSON_H
#define SAFENIC_CLI_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_FIELDS 128

enum json_kind { JSON_U64, JSON_NUM, JSON_STR, JSON_BOOL };

struct json_field {
	const char *key;           /* not escaped: plain ASCII identifiers */
	enum json_kind kind;
	uint64_t u64;
	double num;                /* written with 3 decimals; NaN/inf: null */
	const char *str;           /* escaped when written; NULL: null */
};

struct json_record {
	struct json_field fields[JSON_MAX_FIELDS];
	size_t count;
	size_t dropped;            /* fields beyond JSON_MAX_FIELDS (a bug) */
};

/* Starts a record with the four common keys. */
void json_begin(struct json_record *r, const char *cmd, unsigned tick,
		bool final, double elapsed_s);
void json_u64(struct json_record *r, const char *key, uint64_t value);
void json_num(struct json_record *r, const char *key, double value);
void json_str(struct json_record *r, const char *key, const char *value);
void json_bool(struct json_record *r, const char *key, bool value);

/* A packet rate and a bit rate (frame bytes without FCS, times 8) from
 * counts over seconds, under the two keys given; 0 when seconds is 0. */
void json_rates(struct json_record *r, const char *pps_key,
		const char *bps_key, uint64_t packets, uint64_t bytes,
		double seconds);

/* Writes the record as one line and flushes. Returns 0, or -1 when the
 * stream reported an error (a closed pipe). */
int json_write(FILE *out, const struct json_record *r);

/* Writes text as a JSON string literal (with the quotes). */
void json_write_string(FILE *out, const char *text);

#endif
