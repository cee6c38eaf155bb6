/*
 * fuzz_record — libFuzzer target for the record validator (proto/record.c)
 * and the privacy scrubber (proto/scrub.c). Each input is used twice:
 *
 *   as a record: rec_validate with home "/home/alice", cwd
 *   "/home/alice/proj". On REC_OK the appended output is valid UTF-8, one
 *   line ending in '\n', a JSON object (jansson) with a string event_id and
 *   an integer ts (so queue recovery will never quarantine it), passes
 *   rec_line_ok, and validating it again gives REC_OK and the same bytes.
 *   On error the output buffer is untouched.
 *
 *   as free text: scrub_text; the replacement count equals the sum of the
 *   per-kind counts, no replacement leaves the text as it was (unless it
 *   held placeholders or ANSI codes, which are normalised), valid UTF-8
 *   stays valid, and scrubbing the output again finds no home directory
 *   and changes nothing (idempotence: the output is a fixed point).
 *
 * Must never write files or keep state between runs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "frame.h"
#include "fuzz_common.h"
#include "record.h"
#include "scrub.h"

#define PFX	"PFX"		/* bytes already in the output buffer */
#define PFXLEN	(sizeof PFX - 1)

static const struct scrub_ctx	ctx = { "/home/alice", "/home/alice/proj" };

static void
check_record(const char *in, size_t len)
{
	struct buf		 out = { NULL, 0, 0 }, again = { NULL, 0, 0 };
	struct rec_result	 res, res2;
	json_t			*j, *v;
	json_error_t		 jerr;
	const char		*rec, *code;
	size_t			 n;
	enum rec_err		 e, e2;

	FUZZ_CHECK(buf_puts(&out, PFX) == 0, "out of memory");
	e = rec_validate(in, len, &ctx, &out, &res);
	FUZZ_CHECK((int)e >= 0 && e < REC_NERR && res.err == e,
	    "result %d, res.err %d", (int)e, (int)res.err);
	code = rec_code(e);
	FUZZ_CHECK(code != NULL && *code != '\0', "no code for %d", (int)e);
	if (e != REC_OK) {
		FUZZ_CHECK(out.len == PFXLEN && memcmp(out.data, PFX,
		    PFXLEN) == 0, "output touched on error %s", code);
		buf_free(&out);
		return;
	}
	FUZZ_CHECK(out.len > PFXLEN + 1 && memcmp(out.data, PFX, PFXLEN) == 0,
	    "output prefix lost or record empty");
	rec = out.data + PFXLEN;
	n = out.len - PFXLEN;
	FUZZ_CHECK(utf8_valid((const unsigned char *)rec, n),
	    "record is not valid UTF-8");
	FUZZ_CHECK(rec[n - 1] == '\n', "record does not end in a newline");
	FUZZ_CHECK(memchr(rec, '\n', n - 1) == NULL,
	    "record holds more than one line");

	/* The flags queue recovery uses (proto/queue.c line_check). */
	j = json_loadb(rec, n - 1, JSON_ALLOW_NUL, &jerr);
	FUZZ_CHECK(j != NULL, "jansson refuses the record: %s (col %d): %.*s",
	    jerr.text, jerr.column, (int)(n - 1), rec);
	FUZZ_CHECK(json_is_object(j), "record is not an object");
	v = json_object_get(j, "event_id");
	FUZZ_CHECK(v != NULL && json_is_string(v), "no string event_id");
	FUZZ_CHECK(rec_known_event(json_string_value(v),
	    json_string_length(v)), "unknown event_id accepted");
	v = json_object_get(j, "ts");
	FUZZ_CHECK(v != NULL && json_is_integer(v), "no integer ts");
	json_decref(j);
	FUZZ_CHECK(rec_line_ok(rec, n - 1), "rec_line_ok refuses the output");

	/* Idempotence: the output is canonical. */
	e2 = rec_validate(rec, n - 1, &ctx, &again, &res2);
	FUZZ_CHECK(e2 == REC_OK, "output refused: %s (field %s): %.*s",
	    rec_code(e2), res2.field, (int)(n - 1), rec);
	FUZZ_CHECK(again.len == n && memcmp(again.data, rec, n) == 0,
	    "not idempotent:\n first: %.*s\nsecond: %.*s", (int)(n - 1), rec,
	    (int)(again.len ? again.len - 1 : 0), again.data);
	FUZZ_CHECK(res2.ndropped == 0, "output has unknown fields");
	buf_free(&again);
	buf_free(&out);
}

static void
check_scrub(const char *in, size_t len)
{
	struct buf	 out = { NULL, 0, 0 }, again = { NULL, 0, 0 };
	unsigned	 c1[SCRUB_NKINDS], c2[SCRUB_NKINDS], sum = 0, k;
	int		 r;

	memset(c1, 0, sizeof c1);
	memset(c2, 0, sizeof c2);
	FUZZ_CHECK(buf_puts(&out, PFX) == 0, "out of memory");
	r = scrub_text(in, len, &ctx, &out, c1);
	FUZZ_CHECK(r >= 0, "scrub_text failed");
	for (k = 0; k < SCRUB_NKINDS; k++)
		sum += c1[k];
	FUZZ_CHECK((unsigned)r == sum, "returned %d, counts sum to %u", r,
	    sum);
	FUZZ_CHECK(out.len >= PFXLEN && memcmp(out.data, PFX, PFXLEN) == 0,
	    "output prefix lost");
	if (r == 0 && memchr(in, '<', len) == NULL &&
	    memchr(in, 0x1b, len) == NULL && memchr(in, '\\', len) == NULL)
		FUZZ_CHECK(out.len - PFXLEN == len &&
		    fuzz_memeq(out.data + PFXLEN, in, len),
		    "no replacement but text changed");
	if (utf8_valid((const unsigned char *)in, len))
		FUZZ_CHECK(utf8_valid((const unsigned char *)out.data + PFXLEN,
		    out.len - PFXLEN), "valid UTF-8 in, invalid out");

	/* The output holds nothing the scrubber would still replace. */
	r = scrub_text(out.data + PFXLEN, out.len - PFXLEN, &ctx, &again, c2);
	FUZZ_CHECK(r >= 0, "scrub_text failed");
	FUZZ_CHECK(c2[SCRUB_HOME] == 0, "home directory left in output: %.*s",
	    (int)(out.len - PFXLEN), out.data + PFXLEN);
	FUZZ_CHECK(again.len == out.len - PFXLEN && fuzz_memeq(again.data,
	    out.data + PFXLEN, again.len), "not idempotent:\n first: %.*s\n"
	    "second: %.*s", (int)(out.len - PFXLEN), out.data + PFXLEN,
	    (int)again.len, again.data);
	buf_free(&again);
	buf_free(&out);
}

/* One input: a record and a free-text value. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_record((const char *)data, size);
	check_scrub((const char *)data, size);
	return 0;
}
