/*
 * test_timing.c — proto/timing.c: ms and µs as a timeval never carry a
 * tv_usec of a second or more (libevent's timers want it below 1000000),
 * the round trip back to ms, and the clocks' direction.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "timing.h"

static void
test_tv_from_ms(void **state)
{
	static const struct {
		uint64_t	ms;
		long		sec, usec;
	} t[] = {
		{ 0, 0, 0 }, { 1, 0, 1000 }, { 999, 0, 999000 },
		{ 1000, 1, 0 },		/* not { 0, 1000000 } */
		{ 1001, 1, 1000 }, { 2000, 2, 0 }, { 60000, 60, 0 },
		{ 86400000, 86400, 0 },
	};
	struct timeval	tv;
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		tv = timing_tv(t[i].ms);
		assert_int_equal(tv.tv_sec, t[i].sec);
		assert_int_equal(tv.tv_usec, t[i].usec);
		assert_int_equal(timing_ms(&tv), t[i].ms);
	}
}

static void
test_tv_from_us(void **state)
{
	struct timeval	tv;

	(void)state;
	tv = timing_tv_us(999999);
	assert_int_equal(tv.tv_sec, 0);
	assert_int_equal(tv.tv_usec, 999999);
	tv = timing_tv_us(1000000);
	assert_int_equal(tv.tv_sec, 1);
	assert_int_equal(tv.tv_usec, 0);
	tv = timing_tv_us(2500000);
	assert_int_equal(tv.tv_sec, 2);
	assert_int_equal(tv.tv_usec, 500000);
	assert_int_equal(timing_ms(&tv), 2500);
	tv.tv_sec = -1;
	assert_int_equal(timing_ms(&tv), 0);
}

static void
test_clocks(void **state)
{
	struct timespec	ts = { 0, 20 * 1000 * 1000 };
	uint64_t	m0, u0;
	int64_t		w0;

	(void)state;
	m0 = timing_mono_ms();
	u0 = timing_mono_us();
	w0 = timing_wall_ms();
	nanosleep(&ts, NULL);
	assert_true(timing_mono_ms() >= m0 + 20);
	assert_true(timing_mono_us() >= u0 + 20000);
	assert_true(timing_wall_ms() > 1600000000000LL);	/* after 2020 */
	assert_true(timing_wall_ms() >= w0);
	/* The two monotonic readings are one clock. */
	assert_true(timing_mono_us() / 1000 >= timing_mono_ms() - 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tv_from_ms),
		cmocka_unit_test(test_tv_from_us),
		cmocka_unit_test(test_clocks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
