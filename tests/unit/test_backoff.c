/*
 * test_backoff — the retry table with equal jitter and Retry-After parsing
 * (agent/backoff.c). Table-driven; no clock: "now" is a fixed constant.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "backoff.h"

/* 1994-11-06 08:49:37 UTC, the RFC's example date. */
#define T_RFC	((time_t)784111777)

struct delay_case {
	unsigned	attempt;
	double		rand01;
	uint64_t	want_ms;
};

static const struct delay_case delay_cases[] = {
	{ 0, 0.0, 1000 }, { 0, 1.0, 2000 }, { 0, 0.5, 1500 },
	{ 1, 0.0, 4000 }, { 1, 1.0, 8000 },
	{ 2, 0.0, 15000 }, { 2, 1.0, 30000 },
	{ 3, 0.0, 60000 }, { 3, 1.0, 120000 },
	{ 4, 0.0, 150000 }, { 4, 1.0, 300000 },
	{ 5, 1.0, 300000 }, { 99, 0.0, 150000 }, { 4000000000u, 0.25, 187500 },
	{ 0, -3.0, 1000 }, { 0, 7.0, 2000 },	/* clamped */
};

static void
test_delay_table(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof delay_cases / sizeof delay_cases[0]; i++) {
		const struct delay_case *c = &delay_cases[i];

		assert_int_equal(backoff_delay_ms(c->attempt, c->rand01),
		    c->want_ms);
	}
	assert_int_equal(backoff_base_ms(0), 2000);
	assert_int_equal(backoff_base_ms(1), 8000);
	assert_int_equal(backoff_base_ms(2), 30000);
	assert_int_equal(backoff_base_ms(3), 120000);
	assert_int_equal(backoff_base_ms(4), 300000);
	assert_int_equal(backoff_base_ms(12), 300000);
}

/* Every jittered delay stays inside [d/2, d] and the spread is used. */
static void
test_delay_bounds(void **state)
{
	unsigned	a, k;
	uint64_t	d, v, lo, hi;

	(void)state;
	for (a = 0; a < 8; a++) {
		d = backoff_base_ms(a);
		lo = UINT64_MAX;
		hi = 0;
		for (k = 0; k <= 100; k++) {
			v = backoff_delay_ms(a, k / 100.0);
			assert_true(v >= d / 2 && v <= d);
			if (v < lo)
				lo = v;
			if (v > hi)
				hi = v;
		}
		assert_int_equal(lo, d / 2);
		assert_int_equal(hi, d);
	}
}

static void
test_scale(void **state)
{
	(void)state;
	assert_int_equal(backoff_scale(2000, 100), 2000);
	assert_int_equal(backoff_scale(2000, 1), 20);
	assert_int_equal(backoff_scale(3600000, 1), 36000);
	assert_int_equal(backoff_scale(2000, 0), 0);
	assert_int_equal(backoff_scale(2000, 250), 5000);
	assert_true(backoff_scale(UINT64_MAX / 2, 1000) == UINT64_MAX);
}

struct ra_case {
	const char	*value;
	int64_t		 want;
};

static const struct ra_case ra_cases[] = {
	{ "0", 0 }, { "1", 1 }, { "120", 120 }, { " 5 ", 5 }, { "\t7", 7 },
	{ "86400", 86400 },
	{ "99999999999999999999999", BACKOFF_RETRY_AFTER_MAX },
	{ "", -1 }, { "  ", -1 }, { "abc", -1 }, { "-1", -1 }, { "1.5", -1 },
	{ "5x", -1 }, { "+5", -1 }, { "5 6", -1 },
	/* HTTP-dates relative to T_RFC. */
	{ "Sun, 06 Nov 1994 08:49:37 GMT", 0 },
	{ "Sun, 06 Nov 1994 08:50:37 GMT", 60 },
	{ "Sun, 06 Nov 1994 09:49:37 GMT", 3600 },
	{ "Mon, 07 Nov 1994 08:49:37 GMT", 86400 },
	{ "sun, 06 nov 1994 08:49:47 gmt", 10 },
	{ "Sunday, 06-Nov-94 08:49:39 GMT", 2 },	/* RFC 850 */
	{ "Sun Nov  6 08:49:40 1994", 3 },		/* asctime */
	{ "Sun Nov 6 08:49:40 1994", 3 },
	{ "Sat, 05 Nov 1994 08:49:37 GMT", 0 },		/* past → now */
	{ "Thu, 01 Jan 1970 00:00:00 GMT", 0 },
	{ "Sun, 06 Nov 1994 08:49:37", -1 },		/* no zone */
	{ "Sun, 06 Foo 1994 08:49:37 GMT", -1 },
	{ "Sun, 32 Nov 1994 08:49:37 GMT", -1 },
	{ "Sun, 06 Nov 1994 24:49:37 GMT", -1 },
	{ "Sun, 06 Nov 1994 08:49 GMT", -1 },
	{ "Sun, 06 Nov 1994 08:49:37 GMT junk", -1 },
	{ "Sun,", -1 }, { "Sun", -1 }, { ",", -1 },
};

static void
test_retry_after(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof ra_cases / sizeof ra_cases[0]; i++) {
		int64_t got = backoff_parse_retry_after(ra_cases[i].value,
		    T_RFC);

		if (got != ra_cases[i].want)
			fail_msg("\"%s\": got %lld want %lld", ra_cases[i].value,
			    (long long)got, (long long)ra_cases[i].want);
	}
	assert_int_equal(backoff_parse_retry_after(NULL, T_RFC), -1);
	/* A far-future date is clamped. */
	assert_int_equal(backoff_parse_retry_after(
	    "Fri, 31 Dec 9999 23:59:59 GMT", T_RFC), BACKOFF_RETRY_AFTER_MAX);
	/* A leap day and a year boundary. */
	assert_int_equal(backoff_parse_retry_after(
	    "Thu, 29 Feb 2024 00:00:00 GMT", (time_t)1709078400), 86400);
	assert_int_equal(backoff_parse_retry_after(
	    "Wed, 01 Jan 2025 00:00:05 GMT", (time_t)1735689600), 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delay_table),
		cmocka_unit_test(test_delay_bounds),
		cmocka_unit_test(test_scale),
		cmocka_unit_test(test_retry_after),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
