/*
 * backoff.c — the uploader's retry arithmetic: delay table with equal jitter
 * and Retry-After parsing. Owns no state and never reads the clock, sleeps,
 * allocates or logs: every input is an argument, so it is unit-tested.
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "backoff.h"

/* Delays after consecutive generic failures, ms (docs/ARCHITECTURE.md). */
static const uint64_t backoff_table_ms[BACKOFF_STEPS] = {
	2000, 8000, 30000, 120000, BACKOFF_MAX_MS
};

/* The table entry for attempt, without jitter. */
uint64_t
backoff_base_ms(unsigned attempt)
{
	if (attempt >= BACKOFF_STEPS)
		attempt = BACKOFF_STEPS - 1;
	return backoff_table_ms[attempt];
}

/* Equal jitter: uniform in [d/2, d]. */
uint64_t
backoff_delay_ms(unsigned attempt, double rand01)
{
	uint64_t	d = backoff_base_ms(attempt), half = d / 2;

	if (!(rand01 >= 0.0))	/* also catches NaN */
		rand01 = 0.0;
	if (rand01 > 1.0)
		rand01 = 1.0;
	return half + (uint64_t)((double)(d - half) * rand01 + 0.5);
}

/* Scale ms by pct percent, saturating at UINT64_MAX. */
uint64_t
backoff_scale(uint64_t ms, unsigned pct)
{
	if (pct == 100)
		return ms;
	if (pct != 0 && ms > UINT64_MAX / pct)
		return UINT64_MAX;
	return ms * pct / 100;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
backoff_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t		era;
	unsigned	yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* Read 1..max digits at *pp into *v. 0 or -1. */
static int
backoff_num(const char **pp, unsigned min, unsigned max, int *v)
{
	const char	*p = *pp;
	unsigned	 n = 0;

	*v = 0;
	while (n < max && isdigit((unsigned char)*p)) {
		*v = *v * 10 + (*p - '0');
		p++;
		n++;
	}
	if (n < min || isdigit((unsigned char)*p))
		return -1;
	*pp = p;
	return 0;
}

/* Three-letter month name at *pp: 1..12, or -1. */
static int
backoff_month(const char **pp)
{
	static const char	months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int			i;

	for (i = 0; i < 12; i++) {
		if (strncasecmp(*pp, months + i * 3, 3) == 0) {
			*pp += 3;
			return i + 1;
		}
	}
	return -1;
}

/* "HH:MM:SS" at *pp into seconds of the day, or -1. */
static int
backoff_clock(const char **pp, int *secs)
{
	int	h, m, s;

	if (backoff_num(pp, 2, 2, &h) == -1 || *(*pp)++ != ':' ||
	    backoff_num(pp, 2, 2, &m) == -1 || *(*pp)++ != ':' ||
	    backoff_num(pp, 2, 2, &s) == -1)
		return -1;
	if (h > 23 || m > 59 || s > 60)
		return -1;
	*secs = h * 3600 + m * 60 + s;
	return 0;
}

static const char *
backoff_skip_spaces(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Parse an HTTP-date into Unix seconds; -1 on error. */
static int
backoff_http_date(const char *p, int64_t *out)
{
	int	day, mon, year, secs;

	/* Day name (any letters), then ',' for IMF/RFC 850. */
	if (!isalpha((unsigned char)*p))
		return -1;
	while (isalpha((unsigned char)*p))
		p++;
	if (*p == ',') {
		/* IMF-fixdate "06 Nov 1994" or RFC 850 "06-Nov-94". */
		p = backoff_skip_spaces(p + 1);
		if (backoff_num(&p, 1, 2, &day) == -1)
			return -1;
		if (*p != ' ' && *p != '-')
			return -1;
		p++;
		if ((mon = backoff_month(&p)) == -1)
			return -1;
		if (*p != ' ' && *p != '-')
			return -1;
		p++;
		if (backoff_num(&p, 2, 4, &year) == -1)
			return -1;
		if (year < 100)
			year += year < 70 ? 2000 : 1900;
		p = backoff_skip_spaces(p);
		if (backoff_clock(&p, &secs) == -1)
			return -1;
		p = backoff_skip_spaces(p);
		if (strncasecmp(p, "GMT", 3) != 0 && strncasecmp(p, "UTC", 3) != 0)
			return -1;
		p += 3;
	} else {
		/* asctime: "Sun Nov  6 08:49:37 1994". */
		p = backoff_skip_spaces(p);
		if ((mon = backoff_month(&p)) == -1)
			return -1;
		p = backoff_skip_spaces(p);
		if (backoff_num(&p, 1, 2, &day) == -1)
			return -1;
		p = backoff_skip_spaces(p);
		if (backoff_clock(&p, &secs) == -1)
			return -1;
		p = backoff_skip_spaces(p);
		if (backoff_num(&p, 4, 4, &year) == -1)
			return -1;
	}
	if (*backoff_skip_spaces(p) != '\0')
		return -1;
	if (day < 1 || day > 31 || year < 1970)
		return -1;
	*out = backoff_days_from_civil(year, (unsigned)mon, (unsigned)day) *
	    86400 + secs;
	return 0;
}

/* Retry-After → seconds from now, or -1. */
int64_t
backoff_parse_retry_after(const char *value, time_t now)
{
	const char	*p;
	int64_t		 v = 0, when;

	if (value == NULL)
		return -1;
	p = backoff_skip_spaces(value);
	if (isdigit((unsigned char)*p)) {
		while (isdigit((unsigned char)*p)) {
			if (v < BACKOFF_RETRY_AFTER_MAX)
				v = v * 10 + (*p - '0');
			p++;
		}
		if (*backoff_skip_spaces(p) != '\0')
			return -1;
		return v > BACKOFF_RETRY_AFTER_MAX ? BACKOFF_RETRY_AFTER_MAX : v;
	}
	if (backoff_http_date(p, &when) == -1)
		return -1;
	if (when <= (int64_t)now)
		return 0;
	v = when - (int64_t)now;
	return v > BACKOFF_RETRY_AFTER_MAX ? BACKOFF_RETRY_AFTER_MAX : v;
}
