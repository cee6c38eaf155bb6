/*
 * timing.c — the clock helpers behind timing.h. Owns no state; every
 * function is a read of a clock or pure arithmetic, so they are safe from
 * any thread and in the library.
 */
#include <time.h>

#include "timing.h"

static uint64_t
timing_read(clockid_t id, uint64_t unit_ns)
{
	struct timespec	ts;

	if (clock_gettime(id, &ts) == -1 || ts.tv_sec < 0)
		return 0;
	return (uint64_t)ts.tv_sec * (1000000000 / unit_ns) +
	    (uint64_t)ts.tv_nsec / unit_ns;
}

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t
timing_mono_ms(void)
{
	return timing_read(CLOCK_MONOTONIC, 1000000);
}

/* Microseconds of CLOCK_MONOTONIC. */
uint64_t
timing_mono_us(void)
{
	return timing_read(CLOCK_MONOTONIC, 1000);
}

/* Milliseconds since the Unix epoch (negative before it). */
int64_t
timing_wall_ms(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ms as a normalised timeval. */
struct timeval
timing_tv(uint64_t ms)
{
	struct timeval	tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	return tv;
}

/* us as a normalised timeval. */
struct timeval
timing_tv_us(uint64_t us)
{
	struct timeval	tv;

	tv.tv_sec = (time_t)(us / 1000000);
	tv.tv_usec = (suseconds_t)(us % 1000000);
	return tv;
}

/* A timeval as whole milliseconds. */
uint64_t
timing_ms(const struct timeval *tv)
{
	if (tv->tv_sec < 0 || tv->tv_usec < 0)
		return 0;
	return (uint64_t)tv->tv_sec * 1000 + (uint64_t)tv->tv_usec / 1000;
}
