/*
 * upload.c — the HTTPS uploader. Claims the oldest ready segment, POSTs it
 * gzip-compressed through libcurl's multi-socket API on the agent's libevent
 * loop, and maps the answer onto the queue (complete, unclaim, quarantine,
 * split) and onto the retry schedule, which it persists. Owns the curl
 * handles, the retry/pause state file and health.json.
 *
 * It must never block the loop, never call into curl from inside curl's own
 * callbacks (curl's timer is always re-armed through libevent, so a 0 ms
 * timeout runs on the next loop pass), never upload while disabled, never
 * turn TLS verification off, and never log record contents.
 *
 * State machine (one transfer at a time):
 *   IDLE      nothing in flight, no timer: waits for upload_kick
 *   INFLIGHT  one POST running; when it ends: success/400/413 → next segment
 *             at once (drain), failure → BACKOFF, 401/403/429/503 → PAUSED
 *   BACKOFF   generic failure: retry timer armed; kick(now=1) overrides it
 *   PAUSED    the server asked for quiet: timer armed, never overridden
 *   DISABLED  telemetry is off: nothing is uploaded
 * An empty queue always ends in IDLE with no timer armed.
 *
 * state_path holds {"next_attempt_unix_ms","reason","attempt","last_status",
 * "saved_unix_ms"} (reason: "", "backoff", "unauthorized", "retry_after"),
 * rewritten (temp + rename) whenever the schedule changes, so a restarted
 * agent keeps a pause the server asked for. It arms no timer by itself: the
 * first kick does.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>

#include "backoff.h"
#include "buf.h"
#include "curl_dl.h"
#include "curlev.h"
#include "fsio.h"
#include "log.h"
#include "queue.h"
#include "timing.h"
#include "upload.h"

#define UPLOAD_PAUSE_AUTH_MS	(3600 * 1000)	/* 401/403: quiet for an hour */
#define UPLOAD_RETRY_AFTER_MIN_S 1	/* floor for "Retry-After: 0" (no spin) */
#define UPLOAD_DEFAULT_TIMEOUT_S 10	/* whole request */
#define UPLOAD_DEFAULT_CONNECT_S 5	/* connect phase */
#define UPLOAD_DEFAULT_MAX_RA_S	86400	/* cap for Retry-After */
/* A request must end well before other processes treat our claim as stale. */
#define UPLOAD_MAX_TIMEOUT_S	(QUEUE_CLAIM_STALE_S - 10)
#define UPLOAD_MAX_BODY		(4 * 1024 * 1024) /* bigger: split locally */
#define UPLOAD_ERR_MAX		256	/* last_error text */
#define UPLOAD_HDR_MAX		(QUEUE_NAME_MAX + 64) /* one request header */
#define UPLOAD_STATE_MAX	4096	/* the state file is tiny; refuse more */
#define UPLOAD_TIMER_SLACK_MS	20	/* retry timer early by ≤ this: go */
#define UPLOAD_UA_PREFIX	"atomcode-telemetry/"

enum upload_state {
	UPLOAD_IDLE,
	UPLOAD_INFLIGHT,
	UPLOAD_BACKOFF,
	UPLOAD_PAUSED,
	UPLOAD_DISABLED,
};

static const char *const upload_state_names[] = {
	"idle", "inflight", "backoff", "paused", "disabled"
};

/* Why the next attempt waits. Persisted by name. */
enum upload_reason {
	UPLOAD_R_NONE,
	UPLOAD_R_BACKOFF,	/* generic failure: kick(now=1) may override */
	UPLOAD_R_AUTH,		/* 401/403 */
	UPLOAD_R_RETRY_AFTER,	/* 429/503 with Retry-After */
};

static const char *const upload_reason_names[] = {
	"", "backoff", "unauthorized", "retry_after"
};

/* A pending upload_kick callback. */
struct upload_waiter {
	upload_done_cb		 cb;
	void			*arg;
	struct upload_waiter	*next;
};

struct uploader {
	struct event_base	*base;
	struct queue		*q;

	/* Settings (owned copies). */
	int		 enabled;
	char		*endpoint;
	char		*ca_file;	/* NULL = libcurl's default store */
	char		*state_path;	/* NULL = not persisted */
	char		*health_path;	/* NULL = not written */
	char		*user_agent;
	unsigned	 timeout_s, connect_timeout_s;
	unsigned	 scale_pct;
	unsigned	 max_ra_s;

	struct curlev	 http;		/* the POST in flight (curlev.c) */
	struct event	*retry_timer;	/* BACKOFF / PAUSED */
	struct event	*step_ev;	/* deferred scheduling step */
	int		 step_pending;
	int		 step_now;	/* a pending kick had now=1 */

	enum upload_state state;
	int		 aborted;

	/* The transfer in flight. */
	struct queue_claim claim;
	int		 claimed;
	struct buf	 raw;		/* the segment as read */
	unsigned	 nlines;	/* non-blank lines in raw */
	struct curl_slist *hdrs;
	int64_t		 started_ms;

	/* The drain in progress and who waits for its end. */
	unsigned	 drain_sent, drain_rejected;
	struct upload_waiter *waiters;
	struct upload_waiter **waiters_tail;

	/* Schedule (persisted to state_path). */
	int64_t		 next_ms;	/* 0 = none */
	enum upload_reason reason;
	unsigned	 attempt;	/* consecutive failures */
	int64_t		 saved_next_ms;
	enum upload_reason saved_reason;
	unsigned	 saved_attempt;

	/* The last attempt. */
	int64_t		 last_ms;
	long		 last_status;
	char		 last_error[UPLOAD_ERR_MAX];
	int64_t		 last_duration_ms;

	/* Cumulative counters. */
	uint64_t	 segments_posted, events_uploaded, bytes_sent;
	uint64_t	 bytes_compressed, failures, quarantined, split;
	uint64_t	 tracked;
	int64_t		 last_post_ms;
	/*
	 * A 413 came back for a single record: something in the way refuses
	 * even the smallest body (a misconfigured proxy). Until the next
	 * 2xx, a 413 backs off and keeps the segment instead of splitting.
	 */
	int		 no_split;

	uint64_t	 rng;		/* jitter only */

	int		(*roll_cb)(void *);	/* roll the writer's active
						   segment (upload_held) */
	void		*roll_arg;
	upload_ready_hook ready_hook;	/* a second destination (export.c) */
	void		*ready_arg;
};

static void	upload_step(struct uploader *, int);
static void	upload_schedule_step(struct uploader *);

/* splitmix64: jitter needs spread, not secrecy. */
static double
upload_rand01(struct uploader *u)
{
	uint64_t	z;

	z = (u->rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return (double)(z >> 11) / (double)(1ULL << 53);
}

static char *
upload_strdup_or_null(const char *s)
{
	if (s == NULL || *s == '\0')
		return NULL;
	return strdup(s);
}

static int
upload_streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Dump obj compactly to path atomically; steals obj. */
static int
upload_write_json(const char *path, json_t *obj)
{
	char	*s;
	int	 r;

	if (obj == NULL)
		return -1;
	s = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (s == NULL) {
		errno = ENOMEM;
		return -1;
	}
	/*
	 * Rewritten at every change and cheap to lose (the schedule restarts,
	 * health.json is a summary): atomic, not durable. Upstream creates
	 * the parent directory (one level).
	 */
	r = fsio_write_atomic(path, s, strlen(s), FSIO_ATOMIC, FSIO_MKDIR);
	free(s);
	return r;
}

/* RFC 3339 with the local offset, as chrono's to_rfc3339 (upstream). */
static void
upload_iso_time(int64_t ms, char *out, size_t outlen)
{
	time_t		 t = (time_t)(ms / 1000);
	struct tm	 tm;
	char		 base[32], frac[8];
	long		 off;

	if (localtime_r(&t, &tm) == NULL) {
		snprintf(out, outlen, "1970-01-01T00:00:00+00:00");
		return;
	}
	strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
	frac[0] = '\0';
	if (ms % 1000 != 0)
		snprintf(frac, sizeof frac, ".%03d", (int)(ms % 1000));
	off = tm.tm_gmtoff;
	snprintf(out, outlen, "%s%s%c%02ld:%02ld", base, frac,
	    off < 0 ? '-' : '+', labs(off) / 3600, (labs(off) % 3600) / 60);
}

/* Rewrite health.json (upstream's format: its `status` reads it). */
static void
upload_write_health(struct uploader *u)
{
	json_t	*o;
	char	 iso[64];

	if (u->health_path == NULL)
		return;
	o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}",
	    "events_tracked", (json_int_t)u->tracked,
	    "events_dropped_mpsc", (json_int_t)0,
	    "events_dropped_disk", (json_int_t)queue_dropped(u->q),
	    "segments_posted", (json_int_t)u->segments_posted,
	    "bytes_sent", (json_int_t)u->bytes_sent,
	    "last_post_unix_ms", (json_int_t)u->last_post_ms);
	if (o != NULL && u->last_post_ms != 0) {
		upload_iso_time(u->last_post_ms, iso, sizeof iso);
		json_object_set_new(o, "last_post_iso", json_string(iso));
	}
	if (upload_write_json(u->health_path, o) == -1)
		log_warn("cannot write %s", u->health_path);
}

/* Persist the schedule if it changed (or always when force). */
static void
upload_save_state(struct uploader *u, int force)
{
	json_t	*o;

	if (u->state_path == NULL)
		return;
	if (!force && u->next_ms == u->saved_next_ms &&
	    u->reason == u->saved_reason && u->attempt == u->saved_attempt)
		return;
	o = json_pack("{s:I, s:s, s:I, s:I, s:I, s:I}",
	    "next_attempt_unix_ms", (json_int_t)u->next_ms,
	    "reason", upload_reason_names[u->reason],
	    "attempt", (json_int_t)u->attempt,
	    "last_status", (json_int_t)u->last_status,
	    "last_unix_ms", (json_int_t)u->last_ms,
	    "saved_unix_ms", (json_int_t)timing_wall_ms());
	if (upload_write_json(u->state_path, o) == -1) {
		log_warn("cannot write %s", u->state_path);
		return;
	}
	u->saved_next_ms = u->next_ms;
	u->saved_reason = u->reason;
	u->saved_attempt = u->attempt;
}

/* Read the schedule saved by an earlier run; a bad file is ignored. */
static void
upload_load_state(struct uploader *u)
{
	json_t		*o;
	json_error_t	 jerr;
	const char	*r;
	int64_t		 next, now, cap;
	json_int_t	 att;
	unsigned	 i;
	struct stat	 st;
	int		 fd;

	if (u->state_path == NULL)
		return;
	if ((fd = fsio_open(AT_FDCWD, u->state_path, O_RDONLY, 0,
	    FSIO_OWNER)) == -1) {
		if (errno != ENOENT)
			log_warnx("ignoring %s: %s", u->state_path,
			    errno == EINVAL ? "not a regular file" :
			    strerror(errno));
		return;
	}
	if (fstat(fd, &st) == -1 || st.st_size > UPLOAD_STATE_MAX) {
		log_warnx("ignoring %s: not a small regular file", u->state_path);
		close(fd);
		return;
	}
	o = json_loadfd(fd, 0, &jerr);
	close(fd);
	if (o == NULL) {
		log_warnx("ignoring %s: %s", u->state_path, jerr.text);
		return;
	}
	next = json_integer_value(json_object_get(o, "next_attempt_unix_ms"));
	att = json_integer_value(json_object_get(o, "attempt"));
	r = json_string_value(json_object_get(o, "reason"));
	u->reason = UPLOAD_R_NONE;
	for (i = 1; r != NULL && i < sizeof upload_reason_names /
	    sizeof upload_reason_names[0]; i++)
		if (strcmp(r, upload_reason_names[i]) == 0)
			u->reason = (enum upload_reason)i;
	u->attempt = att > 0 && att < 1000 ? (unsigned)att : 0;
	u->last_status = (long)json_integer_value(json_object_get(o,
	    "last_status"));
	/* The status belongs to an attempt: keep its time with it. */
	u->last_ms = json_integer_value(json_object_get(o, "last_unix_ms"));
	if (u->last_ms <= 0 || u->last_ms > timing_wall_ms())
		u->last_ms = 0;
	json_decref(o);

	/* A wrong clock must not silence us for years. */
	now = timing_wall_ms();
	cap = (int64_t)u->max_ra_s * 1000;
	if (cap < UPLOAD_PAUSE_AUTH_MS)
		cap = UPLOAD_PAUSE_AUTH_MS;
	if (next > now + cap)
		next = now + cap;
	if (next > now && u->reason != UPLOAD_R_NONE) {
		u->next_ms = next;
		u->state = u->reason == UPLOAD_R_BACKOFF ? UPLOAD_BACKOFF :
		    UPLOAD_PAUSED;
		log_info("upload: resuming %s until %" PRId64 " (%" PRId64
		    " ms from now)", upload_reason_names[u->reason], next,
		    next - now);
	} else
		u->reason = UPLOAD_R_NONE;
	u->saved_next_ms = u->next_ms;
	u->saved_reason = u->reason;
	u->saved_attempt = u->attempt;
}

/* Call and free every waiter (the list is detached first: a callback may
 * kick again). */
static void
upload_notify(struct uploader *u, const char *result, long status,
    const char *error)
{
	struct upload_waiter	*w, *next;

	w = u->waiters;
	u->waiters = NULL;
	u->waiters_tail = &u->waiters;
	for (; w != NULL; w = next) {
		next = w->next;
		w->cb(w->arg, result, status, error);
		free(w);
	}
}

/* The drain ended with the queue empty. */
static void
upload_drain_done(struct uploader *u)
{
	const char	*result, *err = NULL;

	if (u->drain_rejected > 0) {
		result = "rejected";
		err = u->last_error;
	} else if (u->drain_sent > 0)
		result = "ok";
	else
		result = "empty";
	u->drain_sent = u->drain_rejected = 0;
	upload_notify(u, result, u->last_status, err);
}

#define upload_set_error(u, ...)					\
	(void)snprintf((u)->last_error, sizeof (u)->last_error, __VA_ARGS__)

/* Arm the retry timer for next_ms. */
static void
upload_arm_retry(struct uploader *u)
{
	struct timeval	tv;
	int64_t		ms = u->next_ms - timing_wall_ms();

	tv = timing_tv(ms < 0 ? 0 : (uint64_t)ms);
	evtimer_add(u->retry_timer, &tv);
}

/* Drop the transfer's buffers (keeps their storage for the next one). */
static void
upload_release(struct uploader *u)
{
	curl_slist_free_all(u->hdrs);
	u->hdrs = NULL;
	u->raw.len = 0;
	u->http.gzlen = 0;
	u->nlines = 0;
	u->claimed = 0;
	if (u->raw.cap > UPLOAD_MAX_BODY) {
		/* Do not keep a pathological segment's memory for ever. */
		buf_free(&u->raw);
		curlev_trim(&u->http);
	}
}

/* Give the claim back to the queue (transient failure, abort). */
static void
upload_unclaim(struct uploader *u)
{
	if (u->claimed && queue_unclaim(u->q, &u->claim) == -1)
		log_warn("upload: cannot restore %s (recovery will)",
		    u->claim.name);
	u->claimed = 0;
}

/*
 * Wait: no claim held any more; the next attempt is ms from now, for why
 * (BACKOFF for a failure, a pause when the server asked). The schedule is
 * saved and the waiters are told result.
 */
static void
upload_wait(struct uploader *u, enum upload_reason why, uint64_t ms,
    const char *result, long status)
{
	upload_unclaim(u);
	upload_release(u);
	u->failures++;
	u->reason = why;
	u->next_ms = timing_wall_ms() + (int64_t)ms;
	u->state = why == UPLOAD_R_BACKOFF ? UPLOAD_BACKOFF : UPLOAD_PAUSED;
	upload_save_state(u, 0);
	upload_arm_retry(u);
	u->drain_sent = u->drain_rejected = 0;
	upload_notify(u, result, status, u->last_error);
}

/*
 * A transient failure: back off 2, 8, 30, 120, 300 s with equal jitter,
 * scaled. The first failure of a run is logged, repeats only at debug.
 */
static void
upload_fail(struct uploader *u, long status)
{
	uint64_t	delay;

	if (u->attempt == 0)
		log_warnx("upload failed: %s", u->last_error);
	else
		log_debug("upload failed again (%u): %s", u->attempt + 1,
		    u->last_error);
	delay = backoff_scale(backoff_delay_ms(u->attempt, upload_rand01(u)),
	    u->scale_pct);
	u->attempt++;
	upload_wait(u, UPLOAD_R_BACKOFF, delay, "failed", status);
}

/* The server asked for quiet: unclaim and pause for ms. */
static void
upload_pause(struct uploader *u, enum upload_reason why, uint64_t ms,
    long status)
{
	/* Log the first pause of a run; repeats only at debug. */
	if (u->reason != why)
		log_warnx("upload paused for %" PRIu64 " ms: %s", ms,
		    u->last_error);
	else
		log_debug("upload paused again for %" PRIu64 " ms: %s", ms,
		    u->last_error);
	if (why == UPLOAD_R_AUTH)
		u->attempt = 0;
	else
		u->attempt++;
	upload_wait(u, why, ms, "paused", status);
}

/* Success, 400 or 413 ended this segment: the schedule is clean again. */
static void
upload_clear_schedule(struct uploader *u)
{
	if (u->attempt > 0)
		log_info("upload recovered after %u failure(s)", u->attempt);
	u->attempt = 0;
	u->reason = UPLOAD_R_NONE;
	u->next_ms = 0;
	upload_save_state(u, 0);
}

/* Permanent rejection of the claimed segment: keep it as .invalid. */
static void
upload_quarantine(struct uploader *u)
{
	if (queue_quarantine(u->q, &u->claim) == -1)
		log_warn("upload: cannot quarantine %s", u->claim.name);
	else
		log_warnx("upload: %s quarantined: %s", u->claim.stem,
		    u->last_error);
	u->claimed = 0;
	u->quarantined++;
	u->drain_rejected++;
}

/*
 * Split the claimed segment into two ready segments by lines (413, or too
 * big to send). A single record cannot be split: quarantined (a 413 on one
 * record never gets here: it backs off). Returns 0 when the claim is
 * settled, -1 (errno) when it must be retried.
 */
static int
upload_split(struct uploader *u)
{
	struct queue_lines	 it;
	const char		*p;
	size_t			 l;
	struct buf		 half[2];
	unsigned		 n = 0, first;
	int			 i, saved;

	if (u->nlines <= 1) {
		upload_quarantine(u);
		return 0;
	}
	memset(half, 0, sizeof half);
	first = (u->nlines + 1) / 2;
	queue_lines_init(&it, u->raw.data, u->raw.len);
	while (queue_lines_next(&it, &p, &l)) {
		if (buf_add(&half[n < first ? 0 : 1], p, l) == -1 ||
		    buf_putc(&half[n < first ? 0 : 1], '\n') == -1)
			goto fail;
		n++;
	}
	for (i = 0; i < 2; i++) {
		if (queue_write_ready(u->q, half[i].data, half[i].len) == -1) {
			if (i == 1)
				log_warn("upload: split of %s half done; the "
				    "first half may be sent twice",
				    u->claim.stem);
			goto fail;
		}
	}
	buf_free(&half[0]);
	buf_free(&half[1]);
	if (queue_complete(u->q, &u->claim) == -1)
		log_warn("upload: cannot remove %s after split", u->claim.name);
	u->claimed = 0;
	u->split++;
	log_info("upload: %s split into %u + %u records", u->claim.stem,
	    first, u->nlines - first);
	return 0;
fail:
	saved = errno;
	buf_free(&half[0]);
	buf_free(&half[1]);
	errno = saved;
	return -1;
}

static int
upload_add_header(struct uploader *u, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
upload_add_header(struct uploader *u, const char *fmt, ...)
{
	char			 h[UPLOAD_HDR_MAX];
	struct curl_slist	*l;
	va_list			 ap;
	int			 n;

	va_start(ap, fmt);
	n = vsnprintf(h, sizeof h, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof h) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((l = curl_slist_append(u->hdrs, h)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	u->hdrs = l;
	return 0;
}

/* Build this segment's request headers and start its POST. */
static int
upload_post(struct uploader *u)
{
	struct curlev_post	p;
	char			err[UPLOAD_ERR_MAX];

	if (curlev_load(&u->http, err, sizeof err) == -1) {
		upload_set_error(u, "%s", err);
		return -1;
	}
	if (upload_add_header(u, "Content-Type: application/x-ndjson") ||
	    upload_add_header(u, "Content-Encoding: gzip") ||
	    upload_add_header(u, "x-atomcode-schema: 1") ||
	    upload_add_header(u, "x-atomcode-dropped: %" PRIu64,
	    queue_dropped(u->q)) ||
	    upload_add_header(u, "Idempotency-Key: %s", u->claim.stem) ||
	    upload_add_header(u, "x-atomcode-sent-at: %" PRId64,
	    timing_wall_ms()) ||
	    upload_add_header(u, "Expect:")) {
		upload_set_error(u, "request headers: %s", strerror(errno));
		return -1;
	}
	memset(&p, 0, sizeof p);
	p.url = u->endpoint;
	p.ca_file = u->ca_file;
	p.user_agent = u->user_agent;
	p.hdrs = u->hdrs;
	p.timeout_s = u->timeout_s;
	p.connect_timeout_s = u->connect_timeout_s;
	if (curlev_post(&u->http, &p, err, sizeof err) == -1) {
		upload_set_error(u, "%s", err);
		return -1;
	}
	return 0;
}

/* Claim the oldest ready segment, after a second destination took its
 * copy of what is ready (export.c). */
static int
upload_claim(struct uploader *u)
{
	if (u->ready_hook != NULL)
		u->ready_hook(u->ready_arg, 0);
	return queue_claim(u->q, &u->claim);
}

/*
 * Claim the next segment and start its POST. Ends the drain (IDLE, no
 * timer) when nothing is ready.
 */
static void
upload_start(struct uploader *u)
{
	int		r, rolled = 0;

	u->step_now = 0;
	for (;;) {
		if ((r = upload_claim(u)) == 0 && !rolled &&
		    u->roll_cb != NULL && u->roll_cb(u->roll_arg)) {
			/*
			 * Nothing ready, but the writer held events back
			 * while we could not send: they go now. Ready at
			 * once, or when the syncer has finished them (it
			 * kicks us).
			 */
			rolled = 1;
			if ((r = upload_claim(u)) == 0) {
				u->state = UPLOAD_IDLE;
				return;
			}
		}
		if (r == 0) {
			u->state = UPLOAD_IDLE;
			if (u->attempt != 0 || u->reason != UPLOAD_R_NONE) {
				/* Upstream: an empty queue resets the counter. */
				u->attempt = 0;
				u->reason = UPLOAD_R_NONE;
				u->next_ms = 0;
				upload_save_state(u, 0);
			}
			upload_drain_done(u);
			return;
		}
		if (r == -1) {
			upload_set_error(u, "cannot claim a segment: %s",
			    strerror(errno));
			u->last_status = 0;
			upload_fail(u, 0);
			return;
		}
		u->claimed = 1;
		u->raw.len = 0;
		if (queue_claim_read(u->q, &u->claim, &u->raw) == -1) {
			upload_set_error(u, "cannot read %s: %s", u->claim.name,
			    strerror(errno));
			u->last_status = 0;
			upload_fail(u, 0);
			return;
		}
		u->nlines = (unsigned)queue_count_events(u->raw.data, u->raw.len);
		if (u->nlines == 0) {
			/* Nothing to send: just drop the empty segment. */
			if (queue_complete(u->q, &u->claim) == -1)
				log_warn("upload: cannot remove %s",
				    u->claim.name);
			upload_release(u);
			continue;
		}
		if (u->raw.len > UPLOAD_MAX_BODY) {
			upload_set_error(u, "segment %s is %zu bytes",
			    u->claim.stem, u->raw.len);
			if (upload_split(u) == -1) {
				upload_set_error(u, "cannot split %s: %s",
				    u->claim.stem, strerror(errno));
				upload_fail(u, 0);
				return;
			}
			upload_release(u);
			continue;
		}
		break;
	}
	if (curlev_gzip(&u->http, u->raw.data, u->raw.len) == -1) {
		upload_set_error(u, "gzip: %s", strerror(errno));
		upload_fail(u, 0);
		return;
	}
	if (upload_post(u) == -1) {
		upload_fail(u, 0);
		return;
	}
	u->started_ms = timing_wall_ms();
	u->state = UPLOAD_INFLIGHT;
	log_debug("upload: POST %s (%u records, %zu -> %zu bytes)",
	    u->claim.stem, u->nlines, u->raw.len, u->http.gzlen);
}

/* The transfer ended (easy handle already removed from the multi). */
static void
upload_finish(struct uploader *u, CURLcode res, long code)
{
	int64_t		now = timing_wall_ms(), ra;
	uint64_t	ms;

	u->state = UPLOAD_IDLE;
	u->last_ms = now;
	u->last_duration_ms = now - u->started_ms;
	u->last_status = code;
	curl_slist_free_all(u->hdrs);
	u->hdrs = NULL;

	if (res != CURLE_OK) {
		upload_set_error(u, "%s", curlev_error(&u->http, res));
		upload_fail(u, code);
		return;
	}
	if (code >= 200 && code < 300) {
		if (queue_complete(u->q, &u->claim) == -1)
			log_warn("upload: cannot remove %s after delivery",
			    u->claim.name);
		u->claimed = 0;
		u->segments_posted++;
		u->events_uploaded += u->nlines;
		u->bytes_sent += u->raw.len;
		u->bytes_compressed += u->http.gzlen;
		u->last_post_ms = now;
		u->last_error[0] = '\0';
		u->drain_sent++;
		u->no_split = 0;
		log_debug("upload: %s delivered (HTTP %ld, %" PRId64 " ms)",
		    u->claim.stem, code, u->last_duration_ms);
		upload_release(u);
		upload_clear_schedule(u);
		upload_write_health(u);
		upload_schedule_step(u);
		return;
	}
	switch (code) {
	case 400:
		u->failures++;
		upload_set_error(u, "HTTP 400: segment rejected");
		upload_quarantine(u);
		upload_release(u);
		upload_clear_schedule(u);
		upload_schedule_step(u);
		return;
	case 413:
		if (u->nlines <= 1 || u->no_split) {
			/* No record is over the frame limit: not ours. */
			u->no_split = 1;
			upload_set_error(u, "HTTP 413 for %u record(s): the"
			    " server or a proxy refuses even that; kept,"
			    " retried later", u->nlines);
			upload_fail(u, code);
			return;
		}
		u->failures++;
		upload_set_error(u, "HTTP 413: segment too large (%u records)",
		    u->nlines);
		if (upload_split(u) == -1) {
			upload_set_error(u, "HTTP 413 and cannot split: %s",
			    strerror(errno));
			upload_fail(u, code);
			return;
		}
		upload_release(u);
		upload_clear_schedule(u);
		upload_schedule_step(u);
		return;
	case 401:
	case 403:
		upload_set_error(u, "HTTP %ld: not authorized", code);
		upload_pause(u, UPLOAD_R_AUTH,
		    backoff_scale(UPLOAD_PAUSE_AUTH_MS, u->scale_pct), code);
		return;
	case 429:
	case 503:
		ra = backoff_parse_retry_after(u->http.retry_after,
		    (time_t)(now / 1000));
		if (ra >= 0) {
			if (ra > (int64_t)u->max_ra_s)
				ra = u->max_ra_s;
			if (ra < UPLOAD_RETRY_AFTER_MIN_S)
				ra = UPLOAD_RETRY_AFTER_MIN_S;
			ms = backoff_scale((uint64_t)ra * 1000, u->scale_pct);
			upload_set_error(u, "HTTP %ld: retry after %" PRId64
			    " s", code, ra);
			upload_pause(u, UPLOAD_R_RETRY_AFTER, ms, code);
			return;
		}
		break;
	default:
		break;
	}
	upload_set_error(u, "HTTP %ld", code);
	upload_fail(u, code);
}

/* curlev: the POST ended. */
static void
upload_done(void *arg, CURLcode res, long code)
{
	struct uploader	*u = arg;

	if (u->state == UPLOAD_INFLIGHT)
		upload_finish(u, res, code);
}

/* libevent: the backoff/pause timer expired. */
static void
upload_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct uploader	*u = arg;

	(void)fd;
	(void)what;
	if (u->next_ms != 0 && u->next_ms - timing_wall_ms() <=
	    UPLOAD_TIMER_SLACK_MS)
		u->next_ms = 1;	/* due (monotonic vs wall clock rounding) */
	upload_step(u, 0);
}

/* libevent: a deferred step (kicks, drain). */
static void
upload_step_cb(evutil_socket_t fd, short what, void *arg)
{
	struct uploader	*u = arg;
	int		 now = u->step_now;

	(void)fd;
	(void)what;
	u->step_pending = 0;
	u->step_now = 0;
	upload_step(u, now);
}

/* Run upload_step from the loop, soon. */
static void
upload_schedule_step(struct uploader *u)
{
	if (u->step_pending)
		return;
	u->step_pending = 1;
	event_active(u->step_ev, EV_TIMEOUT, 0);
}

/* Decide what to do now: start, wait for a timer, or report. */
static void
upload_step(struct uploader *u, int now_flag)
{
	int64_t	now;

	if (u->aborted) {
		upload_notify(u, "aborted", 0, NULL);
		return;
	}
	if (u->state == UPLOAD_INFLIGHT)
		return;	/* waiters are answered when the drain ends */
	if (!u->enabled) {
		u->state = UPLOAD_DISABLED;
		upload_notify(u, "disabled", 0, NULL);
		return;
	}
	if (u->next_ms != 0) {
		now = timing_wall_ms();
		if (u->next_ms > now) {
			if (u->reason != UPLOAD_R_BACKOFF || !now_flag) {
				u->state = u->reason == UPLOAD_R_BACKOFF ?
				    UPLOAD_BACKOFF : UPLOAD_PAUSED;
				if (!evtimer_pending(u->retry_timer, NULL))
					upload_arm_retry(u);
				upload_notify(u, u->state == UPLOAD_PAUSED ?
				    "paused" : "backoff", u->last_status,
				    u->last_error[0] != '\0' ? u->last_error :
				    NULL);
				return;
			}
			log_debug("upload: retry now (asked), skipping backoff");
		}
		evtimer_del(u->retry_timer);
		u->next_ms = 0;	/* attempt and reason stay until an outcome */
	}
	upload_start(u);
}

static int
upload_apply_config(struct uploader *u, const struct upload_config *cfg)
{
	char	*ep, *ca, *sp, *hp, *ua;
	size_t	 ualen;

	ep = strdup(cfg->endpoint != NULL ? cfg->endpoint : "");
	ca = upload_strdup_or_null(cfg->ca_file);
	sp = upload_strdup_or_null(cfg->state_path);
	hp = upload_strdup_or_null(cfg->health_path);
	ualen = sizeof UPLOAD_UA_PREFIX + (cfg->user_agent_version != NULL ?
	    strlen(cfg->user_agent_version) : 0);
	if ((ua = malloc(ualen)) != NULL)
		snprintf(ua, ualen, "%s%s", UPLOAD_UA_PREFIX,
		    cfg->user_agent_version != NULL ?
		    cfg->user_agent_version : "");
	if (ep == NULL || ua == NULL ||
	    (cfg->ca_file != NULL && *cfg->ca_file != '\0' && ca == NULL) ||
	    (cfg->state_path != NULL && *cfg->state_path != '\0' &&
	    sp == NULL) ||
	    (cfg->health_path != NULL && *cfg->health_path != '\0' &&
	    hp == NULL)) {
		free(ep);
		free(ca);
		free(sp);
		free(hp);
		free(ua);
		return -1;
	}
	free(u->endpoint);
	free(u->ca_file);
	free(u->state_path);
	free(u->health_path);
	free(u->user_agent);
	u->endpoint = ep;
	u->ca_file = ca;
	u->state_path = sp;
	u->health_path = hp;
	u->user_agent = ua;
	u->enabled = cfg->enabled;
	u->timeout_s = cfg->timeout_s != 0 ? cfg->timeout_s :
	    UPLOAD_DEFAULT_TIMEOUT_S;
	if (u->timeout_s > UPLOAD_MAX_TIMEOUT_S)
		u->timeout_s = UPLOAD_MAX_TIMEOUT_S;
	u->connect_timeout_s = cfg->connect_timeout_s != 0 ?
	    cfg->connect_timeout_s : UPLOAD_DEFAULT_CONNECT_S;
	u->scale_pct = cfg->backoff_scale_pct != 0 ? cfg->backoff_scale_pct :
	    100;
	u->max_ra_s = cfg->max_retry_after_s != 0 ? cfg->max_retry_after_s :
	    UPLOAD_DEFAULT_MAX_RA_S;
	return 0;
}

/* Create the uploader. */
struct uploader *
upload_new(struct event_base *base, struct queue *q,
    const struct upload_config *cfg)
{
	struct uploader	*u;
	struct timespec	 ts;

	if ((u = calloc(1, sizeof *u)) == NULL) {
		log_warn("%s", __func__);
		return NULL;
	}
	u->base = base;
	u->q = q;
	u->waiters_tail = &u->waiters;
	clock_gettime(CLOCK_REALTIME, &ts);
	u->rng = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
	    ((uint64_t)getpid() << 40) ^ (uint64_t)(uintptr_t)u;
	if (upload_apply_config(u, cfg) == -1) {
		log_warn("%s", __func__);
		goto fail;
	}
	u->retry_timer = evtimer_new(base, upload_retry_cb, u);
	u->step_ev = event_new(base, -1, 0, upload_step_cb, u);
	if (curlev_init(&u->http, base, upload_done, u) == -1 ||
	    u->retry_timer == NULL || u->step_ev == NULL) {
		log_warnx("%s: cannot create events", __func__);
		goto fail;
	}
	/* libcurl itself is loaded at the first upload (curlev_post). */
	u->state = u->enabled ? UPLOAD_IDLE : UPLOAD_DISABLED;
	upload_load_state(u);
	if (!u->enabled)
		u->state = UPLOAD_DISABLED;
	return u;
fail:
	upload_free(u);
	return NULL;
}

/* Stop the transfer in flight (if any) and give its segment back. */
static void
upload_cancel_transfer(struct uploader *u)
{
	if (u->state != UPLOAD_INFLIGHT)
		return;
	curlev_cancel(&u->http);
	upload_unclaim(u);
	upload_release(u);
	u->state = UPLOAD_IDLE;
}

/* Apply new settings (SIGHUP / reload). */
void
upload_reconfigure(struct uploader *u, const struct upload_config *cfg)
{
	int	was_enabled = u->enabled, changed_endpoint;

	changed_endpoint = !upload_streq(u->endpoint, cfg->endpoint);
	if (upload_apply_config(u, cfg) == -1) {
		log_warn("%s: keeping the old settings", __func__);
		return;
	}
	if (changed_endpoint && (u->attempt != 0 || u->next_ms != 0)) {
		/* A new server deserves a fresh start. */
		evtimer_del(u->retry_timer);
		u->attempt = 0;
		u->reason = UPLOAD_R_NONE;
		u->next_ms = 0;
		if (u->state == UPLOAD_BACKOFF || u->state == UPLOAD_PAUSED)
			u->state = UPLOAD_IDLE;
		upload_save_state(u, 0);
	}
	if (was_enabled && !u->enabled) {
		upload_cancel_transfer(u);
		evtimer_del(u->retry_timer);
		u->state = UPLOAD_DISABLED;
		u->drain_sent = u->drain_rejected = 0;
		upload_schedule_step(u);	/* answers waiters */
	} else if (!was_enabled && u->enabled) {
		u->state = UPLOAD_IDLE;
		upload_schedule_step(u);
	} else if (changed_endpoint && u->state == UPLOAD_IDLE)
		upload_schedule_step(u);
}

/* Something is ready, or the user asked to upload now. */
void
upload_kick(struct uploader *u, int now, upload_done_cb cb, void *arg)
{
	struct upload_waiter	*w;

	if (u->ready_hook != NULL)
		u->ready_hook(u->ready_arg, now);
	if (cb != NULL) {
		/* One small node per pending request; callers bound them. */
		if ((w = calloc(1, sizeof *w)) == NULL) {
			log_warn("%s", __func__);
			/* Still answer, from the loop: fall through below. */
		} else {
			w->cb = cb;
			w->arg = arg;
			*u->waiters_tail = w;
			u->waiters_tail = &w->next;
		}
	}
	if (u->state == UPLOAD_INFLIGHT && !u->aborted)
		return;	/* the running drain answers; no override needed */
	if (now)
		u->step_now = 1;
	upload_schedule_step(u);
}

/* Uploads cannot proceed now (see upload.h). */
int
upload_held(struct uploader *u)
{
	return !u->enabled || u->attempt > 0 || u->reason != UPLOAD_R_NONE;
}

/* The writer's roll, for retries (see upload.h). */
void
upload_set_roll_cb(struct uploader *u, int (*fn)(void *), void *arg)
{
	u->roll_cb = fn;
	u->roll_arg = arg;
}

/* 1 when nothing is in flight and no timer is armed. */
int
upload_idle(struct uploader *u)
{
	return u->state != UPLOAD_INFLIGHT && !u->step_pending &&
	    !evtimer_pending(u->retry_timer, NULL);
}

static const char *
upload_state_name(struct uploader *u)
{
	if (!u->enabled)
		return "disabled";
	if (u->state == UPLOAD_INFLIGHT)
		return "inflight";
	if (u->next_ms > timing_wall_ms())
		return u->reason == UPLOAD_R_BACKOFF ? "backoff" : "paused";
	return upload_state_names[UPLOAD_IDLE];
}

/* Add "upload" to the status object. */
void
upload_status(struct uploader *u, json_t *obj)
{
	json_t	*o;

	o = json_pack("{s:s, s:I, s:I, s:I, s:s, s:I, s:I, s:I, s:I, s:I, "
	    "s:I, s:I, s:I, s:I, s:I}",
	    "state", upload_state_name(u),
	    "last_unix_ms", (json_int_t)u->last_ms,
	    "last_status", (json_int_t)u->last_status,
	    "next_attempt_unix_ms", (json_int_t)u->next_ms,
	    "next_reason", upload_reason_names[u->next_ms != 0 ? u->reason :
	    UPLOAD_R_NONE],
	    "attempt", (json_int_t)u->attempt,
	    "last_duration_ms", (json_int_t)u->last_duration_ms,
	    "segments_posted", (json_int_t)u->segments_posted,
	    "events_uploaded", (json_int_t)u->events_uploaded,
	    "bytes_sent", (json_int_t)u->bytes_sent,
	    "bytes_compressed", (json_int_t)u->bytes_compressed,
	    "failures", (json_int_t)u->failures,
	    "quarantined", (json_int_t)u->quarantined,
	    "split", (json_int_t)u->split,
	    "last_post_unix_ms", (json_int_t)u->last_post_ms);
	if (o == NULL)
		return;
	json_object_set_new(o, "last_error", u->last_error[0] != '\0' ?
	    json_string(u->last_error) : json_null());
	json_object_set_new(obj, "upload", o);
}

/* Shutdown: abort, restore the claim, persist. */
void
upload_abort(struct uploader *u)
{
	int	was_aborted = u->aborted;

	u->aborted = 1;
	if (u->step_ev != NULL)
		event_del(u->step_ev);
	u->step_pending = 0;
	if (u->retry_timer != NULL)
		evtimer_del(u->retry_timer);
	upload_cancel_transfer(u);
	curlev_abort(&u->http);
	if (!was_aborted) {
		upload_save_state(u, 1);
		upload_write_health(u);
	}
	upload_notify(u, "aborted", 0, NULL);
}

/* Free the uploader (aborting first if needed). */
void
upload_free(struct uploader *u)
{
	if (u == NULL)
		return;
	upload_abort(u);
	curlev_free(&u->http);
	if (u->retry_timer != NULL)
		event_free(u->retry_timer);
	if (u->step_ev != NULL)
		event_free(u->step_ev);
	curl_slist_free_all(u->hdrs);
	buf_free(&u->raw);
	free(u->endpoint);
	free(u->ca_file);
	free(u->state_path);
	free(u->health_path);
	free(u->user_agent);
	free(u);
}

/* Cumulative counters. */
void
upload_counters(struct uploader *u, struct upload_counters *c)
{
	c->segments_posted = u->segments_posted;
	c->events_uploaded = u->events_uploaded;
	c->bytes_sent = u->bytes_sent;
	c->failures = u->failures;
	c->last_post_unix_ms = u->last_post_ms;
}

/* events_tracked for health.json. */
void
upload_set_tracked(struct uploader *u, uint64_t n)
{
	u->tracked = n;
}

/* Call fn(arg, now) at every kick and right before every claim. */
void
upload_set_ready_hook(struct uploader *u, upload_ready_hook fn, void *arg)
{
	u->ready_hook = fn;
	u->ready_arg = arg;
}
