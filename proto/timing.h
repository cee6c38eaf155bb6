/*
 * timing — the one clock of the project: monotonic and wall-clock
 * milliseconds (and monotonic microseconds), and conversions between
 * milliseconds and the struct timeval libevent's timers take. Library
 * code: never sleeps, never fails (a clock_gettime error reads as 0).
 */
#ifndef PROTO_TIMING_H
#define PROTO_TIMING_H
#include <sys/time.h>
#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC (intervals, timeouts). */
uint64_t timing_mono_ms(void);
/* Microseconds of CLOCK_MONOTONIC (sub-millisecond intervals). */
uint64_t timing_mono_us(void);
/* Milliseconds since the Unix epoch (what is stored or shown). */
int64_t	timing_wall_ms(void);
/* ms as a timeval: tv_usec always below 1000000. */
struct timeval timing_tv(uint64_t ms);
/* us as a timeval: tv_usec always below 1000000. */
struct timeval timing_tv_us(uint64_t us);
/* A timeval as whole milliseconds (rounded down; negative reads as 0). */
uint64_t timing_ms(const struct timeval *tv);
#endif
