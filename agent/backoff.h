/*
 * backoff — pure functions for the uploader's retry schedule: the delay
 * after a generic failure (2, 8, 30, 120, 300 s with equal jitter) and the
 * parsing of an HTTP Retry-After header. No clock, no I/O, no state.
 */
#ifndef AGENT_BACKOFF_H
#define AGENT_BACKOFF_H

#include <stdint.h>
#include <time.h>

#define BACKOFF_STEPS		5	/* entries in the delay table */
#define BACKOFF_MAX_MS		300000	/* the last (and largest) step */
#define BACKOFF_RETRY_AFTER_MAX	(10LL * 365 * 86400) /* parse clamp, s */

/*
 * Delay in ms before retry number attempt (0 = first failure) with equal
 * jitter: uniform in [d/2, d] where d is the table entry; rand01 is a
 * uniform number in [0, 1] (values outside are clamped).
 */
uint64_t backoff_delay_ms(unsigned attempt, double rand01);
/* The table entry d for attempt, without jitter, in ms. */
uint64_t backoff_base_ms(unsigned attempt);
/*
 * Parse a Retry-After header value (RFC 9110 §10.2.3): delta-seconds or an
 * HTTP-date (IMF-fixdate, obsolete RFC 850 and asctime forms). Returns the
 * number of seconds to wait from now (0 for a date in the past, clamped to
 * BACKOFF_RETRY_AFTER_MAX), or -1 if value is NULL or unusable.
 */
int64_t	backoff_parse_retry_after(const char *value, time_t now);
/* Scale ms by pct percent (100 = unchanged), saturating. */
uint64_t backoff_scale(uint64_t ms, unsigned pct);
#endif
