/*
 * log.c — the agent's log sink: one line per message on stderr with a
 * timestamp and level. Never logs event contents (callers must not pass them
 * above debug).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

static enum log_level	log_level = LOG_LVL_INFO;
static const char *const log_names[] = { "error", "warn", "info", "debug" };

/* Set the threshold. */
void
log_set_level(enum log_level l)
{
	log_level = l;
}

/* Parse a level name. */
int
log_level_parse(const char *s)
{
	int	i;

	for (i = 0; i < 4; i++)
		if (strcmp(s, log_names[i]) == 0)
			return i;
	return -1;
}

static void
log_vemit(enum log_level l, int with_errno, const char *fmt, va_list ap)
{
	char		msg[1024], ts[32];
	int		saved = errno;
	struct timespec	now;
	struct tm	tm;

	if (l > log_level)
		return;
	vsnprintf(msg, sizeof msg, fmt, ap);
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (with_errno)
		fprintf(stderr, "%s atomcode-telemetryd[%s]: %s: %s\n", ts,
		    log_names[l], msg, strerror(saved));
	else
		fprintf(stderr, "%s atomcode-telemetryd[%s]: %s\n", ts,
		    log_names[l], msg);
	errno = saved;
}

/* One line at level l, strerror(errno) appended with LOG_ERRNO. */
void
log_emit(int l, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vemit((enum log_level)(l & ~LOG_ERRNO), (l & LOG_ERRNO) != 0, fmt,
	    ap);
	va_end(ap);
}

/* Broken invariant: log and exit. */
void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vemit(LOG_LVL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
