/*
 * fuzz_http — libFuzzer target for what the uploader parses from HTTP
 * responses: backoff_parse_retry_after (agent/backoff.c) on arbitrary
 * header values, plus the retry arithmetic fed from the same bytes.
 *
 * The header callback of agent/upload.c (status-line reset and the
 * "Retry-After:" split/trim) is static, so it cannot be reached from here;
 * the value it hands to backoff_parse_retry_after is fuzzed directly.
 *
 * Properties: the result is -1 or within [0, BACKOFF_RETRY_AFTER_MAX];
 * whether a value parses does not depend on the clock; the wait never grows
 * as "now" moves forward, and is constant for delta-seconds; a parsed wait
 * survives formatting it back (delta-seconds, IMF-fixdate) and parsing
 * again. Must never write files or keep state between runs.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backoff.h"
#include "fuzz_common.h"

#define VALUE_MAX	1024	/* longer than any value the uploader keeps */
#define MAX_HTTP_DATE	253402300799LL	/* 9999-12-31 23:59:59 UTC */

/* Clock values in increasing order (1994 is RFC 9110's example date). */
static const time_t	nows[] = {
	-86400, 0, 784111777, 1700000000, 4102444800, 253402300799
};
#define NNOWS	(sizeof nows / sizeof nows[0])

static void
check_roundtrip(int64_t r, time_t now, int delta)
{
	char		buf[64];
	struct tm	tm;
	time_t		when;
	int64_t		r2;

	if (r <= 0 || r >= BACKOFF_RETRY_AFTER_MAX)
		return;		/* clamped: the exact value is gone */
	if (delta)
		snprintf(buf, sizeof buf, "%" PRId64, r);
	else {
		when = now + (time_t)r;
		if (when > MAX_HTTP_DATE)
			return;		/* "23:59:60" of 9999: year 10000 */
		FUZZ_CHECK(gmtime_r(&when, &tm) != NULL, "gmtime");
		FUZZ_CHECK(strftime(buf, sizeof buf,
		    "%a, %d %b %Y %H:%M:%S GMT", &tm) > 0, "strftime");
	}
	r2 = backoff_parse_retry_after(buf, now);
	FUZZ_CHECK(r2 == r, "\"%s\" at %lld parses as %" PRId64 ", expected %"
	    PRId64, buf, (long long)now, r2, r);
}

static void
check_retry_after(const char *v)
{
	int64_t		r[NNOWS];
	const char	*p = v;
	size_t		i;
	int		delta;

	while (*p == ' ' || *p == '\t')
		p++;
	delta = isdigit((unsigned char)*p);
	for (i = 0; i < NNOWS; i++) {
		r[i] = backoff_parse_retry_after(v, nows[i]);
		FUZZ_CHECK(r[i] == -1 || (r[i] >= 0 &&
		    r[i] <= BACKOFF_RETRY_AFTER_MAX), "\"%s\" → %" PRId64, v,
		    r[i]);
		FUZZ_CHECK((r[i] == -1) == (r[0] == -1), "\"%s\" parses at "
		    "one time and not at another", v);
		if (i > 0 && r[i] != -1) {
			FUZZ_CHECK(r[i] <= r[i - 1], "\"%s\": wait grows from %"
			    PRId64 " to %" PRId64 " as time passes", v,
			    r[i - 1], r[i]);
			if (delta)
				FUZZ_CHECK(r[i] == r[0], "delta-seconds \"%s\" "
				    "depends on the clock", v);
		}
		if (r[i] != -1)
			check_roundtrip(r[i], nows[i], delta);
	}
}

static void
check_arith(const uint8_t *data, size_t size)
{
	uint64_t	ms, base, d, want, prod;
	double		x;
	unsigned	attempt, pct;

	if (size < 20)
		return;
	memcpy(&attempt, data, sizeof attempt);
	memcpy(&x, data + 4, sizeof x);
	memcpy(&ms, data + 12, sizeof ms);
	pct = attempt % 2001;

	base = backoff_base_ms(attempt);
	FUZZ_CHECK(base > 0 && base <= BACKOFF_MAX_MS, "base %" PRIu64, base);
	d = backoff_delay_ms(attempt, x);
	FUZZ_CHECK(d >= base / 2 && d <= base, "delay %" PRIu64 " outside "
	    "[%" PRIu64 ", %" PRIu64 "] for rand %g", d, base / 2, base, x);

	if (pct == 100)
		want = ms;
	else if (__builtin_mul_overflow(ms, (uint64_t)pct, &prod))
		want = UINT64_MAX;
	else
		want = prod / 100;
	FUZZ_CHECK(backoff_scale(ms, pct) == want, "scale %" PRIu64 " by %u",
	    ms, pct);
}

/* One input: a Retry-After header value (cut at the first NUL). */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	v[VALUE_MAX + 1];
	size_t	n = size < VALUE_MAX ? size : VALUE_MAX;

	memcpy(v, data, n);
	v[n] = '\0';
	check_retry_after(v);
	FUZZ_CHECK(backoff_parse_retry_after(NULL, 0) == -1, "NULL parsed");
	check_arith(data, size);
	return 0;
}
