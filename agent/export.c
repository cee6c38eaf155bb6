/*
 * export.c — the OTLP destination (see export.h for the design): takes its
 * own hard link of every vendor segment, converts each segment to one OTLP
 * logs request (otlp.c), gzips it and POSTs it through libcurl's multi
 * interface on the agent's loop, with its own claim, backoff, Retry-After,
 * pause, counters and persisted schedule.
 *
 * Must never: block the loop, delete a link whose file the vendor queue
 * still holds (that would make the next look link it again: sent twice),
 * touch a file of the vendor queue other than by linking it, send while
 * telemetry is disabled, turn TLS verification off, or log record contents.
 *
 * States (one transfer at a time): IDLE → INFLIGHT → IDLE (next segment at
 * once), or BACKOFF (transport error, 5xx, 408; kick(now=1) may override)
 * or PAUSED (401/403/404 and other refusals of the request itself: 1 h;
 * 429/502/503/504 with Retry-After: as asked; never overridden). 400 keeps
 * the segment as <stem>.invalid; 413 splits it in two.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>


#include <ctype.h>
#include <dirent.h>
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
#include <uuid/uuid.h>

#include "backoff.h"
#include "buf.h"
#include "curl_dl.h"
#include "curlev.h"
#include "export.h"
#include "fsio.h"
#include "log.h"
#include "otlp.h"
#include "paths.h"
#include "queue.h"

#define EX_PAUSE_MS		(3600 * 1000)	/* refused request: quiet 1 h */
#define EX_RETRY_AFTER_MIN_S	1	/* floor for "Retry-After: 0" */
#define EX_MAX_BODY		(4 * 1024 * 1024) /* raw segment; bigger: split */
#define EX_RESP_MAX		(64 * 1024)	/* response body kept (partialSuccess) */
#define EX_ERR_MAX		256
#define EX_TIMER_SLACK_MS	20
#define EX_STATE_MAX		4096
#define EX_DEFAULT_TIMEOUT_S	10
#define EX_DEFAULT_CONNECT_S	5
#define EX_DEFAULT_MAX_RA_S	86400
#define EX_MAX_TIMEOUT_S	50	/* as the vendor: below the claim staleness */
#define EX_CLAIM_TAG		".ndjson.sending-"
#define EX_READY		".ndjson"

enum ex_state { EX_IDLE, EX_INFLIGHT, EX_BACKOFF, EX_PAUSED, EX_DISABLED };
static const char *const ex_state_names[] = {
	"idle", "inflight", "backoff", "paused", "disabled"
};

/* Why the next attempt waits (persisted by name). */
enum ex_reason { EX_R_NONE, EX_R_BACKOFF, EX_R_REFUSED, EX_R_RETRY_AFTER };
static const char *const ex_reason_names[] = {
	"", "backoff", "refused", "retry_after"
};

/* Tombstones: the export side is done with the file the vendor may hold. */
#define EX_T_SENT	".sent"		/* delivered */
#define EX_T_EVICTED	".evicted"	/* over the caps */
#define EX_T_SKIP	".skip"		/* derived by the vendor (split) */

struct exporter {
	struct event_base *base;
	char		*vendor_dir, *dir, *qdir, *state_path;
	int		 vdfd, edfd;	/* vendor queue, export queue */
	struct queue	*q;		/* the export queue (claims only) */

	/* Settings (owned copies). */
	int		 enabled;
	char		*endpoint, *ca_file, *user_agent;
	struct buf	 cfg_hdrs;	/* configured "Name: value\n" lines */
	unsigned	 timeout_s, connect_timeout_s, scale_pct, max_ra_s;

	struct curlev	 http;		/* the POST in flight (curlev.c) */
	struct event	*retry_timer, *step_ev;
	int		 step_pending, step_now;

	enum ex_state	 state;
	int		 aborted;

	/* The transfer in flight. */
	struct queue_claim claim;
	int		 claimed;
	struct buf	 raw, body, resp;
	unsigned	 nrecords;
	struct curl_slist *hdrs;
	int64_t		 started_ms;

	/* Schedule (persisted). */
	int64_t		 next_ms;
	enum ex_reason	 reason;
	unsigned	 attempt;

	/* The last attempt. */
	int64_t		 last_ms, last_duration_ms, last_post_ms;
	long		 last_status;
	char		 last_error[EX_ERR_MAX];

	/* Counters (evicted is persisted: it is a loss). */
	uint64_t	 segments_posted, events_uploaded, bytes_sent;
	uint64_t	 bytes_compressed, failures, quarantined, split;
	uint64_t	 rejected_records, linked, skipped, evicted;

	uint64_t	 rng;
};

static void	ex_step(struct exporter *, int);
static void	ex_schedule_step(struct exporter *);

static int64_t
ex_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double
ex_rand01(struct exporter *x)
{
	uint64_t	z;

	z = (x->rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return (double)(z >> 11) / (double)(1ULL << 53);
}

/* The text status and the log give for the last failure. */
#define ex_set_error(x, ...)						\
	(void)snprintf((x)->last_error, sizeof (x)->last_error, __VA_ARGS__)

/* ---- the export directory ------------------------------------------------- */

/* stem of a segment name: up to ".ndjson" (ready or claimed), or -1. */
static int
ex_stem(const char *name, char *stem, size_t len)
{
	const char	*p = strstr(name, EX_READY);
	size_t		 l;

	if (p == NULL || p == name)
		return -1;
	if (p[strlen(EX_READY)] != '\0' &&
	    strncmp(p, EX_CLAIM_TAG, strlen(EX_CLAIM_TAG)) != 0)
		return -1;
	if ((l = (size_t)(p - name)) >= len)
		return -1;
	memcpy(stem, name, l);
	stem[l] = '\0';
	return 0;
}

static int
ex_has_suffix(const char *s, const char *suf)
{
	size_t	l = strlen(s), m = strlen(suf);

	return l > m && strcmp(s + l - m, suf) == 0;
}

static int
ex_is_tombstone(const char *name)
{
	return ex_has_suffix(name, EX_T_SENT) ||
	    ex_has_suffix(name, EX_T_EVICTED) || ex_has_suffix(name, EX_T_SKIP);
}

/* Rename export file name to <stem><ext>; a link the vendor no longer
 * holds is simply removed. */
static int
ex_retire(struct exporter *x, const char *name, const char *stem,
    const char *ext)
{
	struct stat	st;
	char		to[QUEUE_NAME_MAX + 16];

	if (fstatat(x->edfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    st.st_nlink <= 1)
		return unlinkat(x->edfd, name, 0);
	if ((size_t)snprintf(to, sizeof to, "%s%s", stem, ext) >= sizeof to) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return renameat(x->edfd, name, x->edfd, to);
}

/* Lines (records) in a file of the export directory. */
static unsigned
ex_count_lines_at(int dfd, const char *name)
{
	char		 b[65536];
	unsigned	 n = 0;
	ssize_t		 r, i;
	int		 fd, last = '\n';

	if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1)
		return 0;
	while ((r = read(fd, b, sizeof b)) > 0) {
		for (i = 0; i < r; i++) {
			if (b[i] == '\n' && last != '\n')
				n++;
			last = b[i];
		}
	}
	close(fd);
	return n + (last != '\n');
}

/* One entry of the export directory, for the caps. */
struct ex_ent {
	char		 name[QUEUE_NAME_MAX + 64];
	int		 invalid;
	uint64_t	 bytes;
};

static int
ex_entcmp(const void *a, const void *b)
{
	const struct ex_ent	*x = a, *y = b;

	if (x->invalid != y->invalid)
		return x->invalid ? -1 : 1;	/* .invalid first */
	return strcmp(x->name, y->name);	/* then oldest */
}

/*
 * Walk the export directory: collect tombstones the vendor is done with,
 * and keep ready + invalid within QUEUE_CAP_FILES / QUEUE_CAP_BYTES by
 * retiring the oldest (invalid first) as .evicted, counted.
 */
static void
ex_tidy(struct exporter *x)
{
	struct ex_ent	*v = NULL, *nv;
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	size_t		 n = 0, cap = 0, i;
	uint64_t	 bytes = 0;
	char		 stem[QUEUE_NAME_MAX];
	int		 inv;

	if ((d = fsio_opendir(x->edfd)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    fstatat(x->edfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1
		    || !S_ISREG(st.st_mode))
			continue;
		if (ex_is_tombstone(de->d_name)) {
			if (st.st_nlink <= 1)
				(void)unlinkat(x->edfd, de->d_name, 0);
			continue;
		}
		inv = ex_has_suffix(de->d_name, ".invalid");
		if (!inv && !ex_has_suffix(de->d_name, EX_READY))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nv = realloc(v, cap * sizeof *v)) == NULL)
				break;
			v = nv;
		}
		snprintf(v[n].name, sizeof v[n].name, "%s", de->d_name);
		v[n].invalid = inv;
		v[n].bytes = (uint64_t)st.st_size;
		bytes += v[n].bytes;
		n++;
	}
	closedir(d);
	if (n > QUEUE_CAP_FILES || bytes > QUEUE_CAP_BYTES) {
		qsort(v, n, sizeof *v, ex_entcmp);
		for (i = 0; i < n && (n - i > QUEUE_CAP_FILES ||
		    bytes > QUEUE_CAP_BYTES); i++) {
			unsigned ev = ex_count_lines_at(x->edfd, v[i].name);
			size_t	 l = strlen(v[i].name);

			l -= v[i].invalid ? strlen(".invalid") :
			    strlen(EX_READY);
			if (l >= sizeof stem)
				continue;
			memcpy(stem, v[i].name, l);
			stem[l] = '\0';
			if (ex_retire(x, v[i].name, stem, EX_T_EVICTED) == 0) {
				x->evicted += ev;
				log_warnx("export: %s evicted (%u events) to stay "
				    "within %d files / %d bytes", stem, ev,
				    QUEUE_CAP_FILES, QUEUE_CAP_BYTES);
			}
			bytes -= v[i].bytes;
		}
	}
	free(v);
}

/* Link every vendor segment that no destination file shares yet. */
static void
ex_link_new(struct exporter *x)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	char		 stem[QUEUE_NAME_MAX], to[QUEUE_NAME_MAX + 16];

	if ((d = fsio_opendir(x->vdfd)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		/*
		 * Ready segments only: a claim is another process's (an
		 * upstream uploader, or a merge, whose result is new or was
		 * given a .skip link: proto/queue.c merge_mirror()).
		 */
		if (!ex_has_suffix(de->d_name, EX_READY) ||
		    ex_stem(de->d_name, stem, sizeof stem) == -1 ||
		    fstatat(x->vdfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1
		    || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
		    (st.st_mode & S_IWOTH) != 0 || st.st_nlink != 1)
			continue;
		snprintf(to, sizeof to, "%s%s", stem, EX_READY);
		if (linkat(x->vdfd, de->d_name, x->edfd, to, 0) == 0)
			x->linked++;
		else if (errno != ENOENT)
			log_warn("export: cannot link %s", de->d_name);
	}
	closedir(d);
}

/* Give back claims a previous run left, drop half-written splits. */
static void
ex_restore(struct exporter *x)
{
	struct dirent	*de;
	DIR		*d;
	char		 stem[QUEUE_NAME_MAX], to[QUEUE_NAME_MAX + 16];

	if ((d = fsio_opendir(x->edfd)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strstr(de->d_name, EX_CLAIM_TAG) != NULL &&
		    ex_stem(de->d_name, stem, sizeof stem) == 0) {
			snprintf(to, sizeof to, "%s%s", stem, EX_READY);
			if (renameat(x->edfd, de->d_name, x->edfd, to) == -1)
				log_warn("export: cannot restore %s",
				    de->d_name);
		} else if (ex_has_suffix(de->d_name, ".tmp"))
			(void)unlinkat(x->edfd, de->d_name, 0);
	}
	closedir(d);
}

/* The vendor made name from records it held: mark it taken (export.h). */
void
export_derived(struct exporter *x, const char *name)
{
	char	stem[QUEUE_NAME_MAX], to[QUEUE_NAME_MAX + 16];

	if (x == NULL || ex_stem(name, stem, sizeof stem) == -1)
		return;
	snprintf(to, sizeof to, "%s%s", stem, EX_T_SKIP);
	if (linkat(x->vdfd, name, x->edfd, to, 0) == 0)
		x->skipped++;
	else
		log_warn("export: cannot mark %s as derived", name);
}

/* ---- persisted schedule ---------------------------------------------------- */

static void
ex_save_state(struct exporter *x)
{
	json_t	*o;
	char	*s, tmp[PATHS_MAX + 32];
	size_t	 len, off = 0;
	ssize_t	 n;
	int	 fd;

	o = json_pack("{s:I, s:I, s:s, s:I, s:I, s:I, s:I}",
	    "last_post_unix_ms", (json_int_t)x->last_post_ms,
	    "next_attempt_unix_ms", (json_int_t)x->next_ms,
	    "reason", ex_reason_names[x->reason],
	    "attempt", (json_int_t)x->attempt,
	    "last_status", (json_int_t)x->last_status,
	    "evicted_events", (json_int_t)x->evicted,
	    "saved_unix_ms", (json_int_t)ex_now_ms());
	if (o == NULL || (s = json_dumps(o, JSON_COMPACT)) == NULL) {
		json_decref(o);
		return;
	}
	json_decref(o);
	len = strlen(s);
	snprintf(tmp, sizeof tmp, "%s.tmp-%ld", x->state_path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	while (fd != -1 && off < len) {
		if ((n = write(fd, s + off, len - off)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			break;
		}
		off += (size_t)n;
	}
	if (fd == -1 || off != len || close(fd) == -1 ||
	    rename(tmp, x->state_path) == -1) {
		log_warn("export: cannot write %s", x->state_path);
		if (fd != -1 && off != len)
			close(fd);
		unlink(tmp);
	}
	free(s);
}

static void
ex_load_state(struct exporter *x)
{
	struct stat	 st;
	json_t		*o;
	const char	*r;
	int64_t		 next, now, cap;
	unsigned	 i;
	json_int_t	 att;

	if (stat(x->state_path, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > EX_STATE_MAX ||
	    (o = json_load_file(x->state_path, 0, NULL)) == NULL)
		return;
	next = json_integer_value(json_object_get(o, "next_attempt_unix_ms"));
	att = json_integer_value(json_object_get(o, "attempt"));
	r = json_string_value(json_object_get(o, "reason"));
	x->evicted = (uint64_t)json_integer_value(json_object_get(o,
	    "evicted_events"));
	x->last_post_ms = json_integer_value(json_object_get(o,
	    "last_post_unix_ms"));
	x->last_status = (long)json_integer_value(json_object_get(o,
	    "last_status"));
	x->reason = EX_R_NONE;
	for (i = 1; r != NULL && i < sizeof ex_reason_names /
	    sizeof ex_reason_names[0]; i++)
		if (strcmp(r, ex_reason_names[i]) == 0)
			x->reason = (enum ex_reason)i;
	json_decref(o);
	x->attempt = att > 0 && att < 1000 ? (unsigned)att : 0;
	now = ex_now_ms();
	cap = (int64_t)x->max_ra_s * 1000;
	if (cap < EX_PAUSE_MS)
		cap = EX_PAUSE_MS;
	if (next > now + cap)
		next = now + cap;	/* a wrong clock must not silence us */
	if (next > now && x->reason != EX_R_NONE) {
		x->next_ms = next;
		x->state = x->reason == EX_R_BACKOFF ? EX_BACKOFF : EX_PAUSED;
	} else
		x->reason = EX_R_NONE;
}

/* ---- one transfer ------------------------------------------------------------ */

static void
ex_arm_retry(struct exporter *x)
{
	struct timeval	tv;
	int64_t		ms = x->next_ms - ex_now_ms();

	if (ms < 0)
		ms = 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(x->retry_timer, &tv);
}

static void
ex_release(struct exporter *x)
{
	curl_slist_free_all(x->hdrs);
	x->hdrs = NULL;
	x->raw.len = x->body.len = x->resp.len = 0;
	x->http.gzlen = 0;
	x->nrecords = 0;
	x->claimed = 0;
	if (x->body.cap > 4 * EX_MAX_BODY) {
		buf_free(&x->raw);
		buf_free(&x->body);
		curlev_trim(&x->http);
	}
}

static void
ex_unclaim(struct exporter *x)
{
	if (x->claimed && queue_unclaim(x->q, &x->claim) == -1)
		log_warn("export: cannot restore %s (next start will)",
		    x->claim.name);
	x->claimed = 0;
}

/* Wait ms before the next attempt, for why (no claim held any more). */
static void
ex_wait(struct exporter *x, enum ex_reason why, uint64_t ms)
{
	x->reason = why;
	x->next_ms = ex_now_ms() + (int64_t)ms;
	x->state = why == EX_R_BACKOFF ? EX_BACKOFF : EX_PAUSED;
	ex_save_state(x);
	ex_arm_retry(x);
}

/* Transport error, 5xx, 408: back off 2, 8, 30, 120, 300 s (jittered). */
static void
ex_fail(struct exporter *x)
{
	uint64_t	delay;

	ex_unclaim(x);
	ex_release(x);
	x->failures++;
	if (x->attempt == 0)
		log_warnx("export failed: %s", x->last_error);
	delay = backoff_scale(backoff_delay_ms(x->attempt, ex_rand01(x)),
	    x->scale_pct);
	x->attempt++;
	ex_wait(x, EX_R_BACKOFF, delay);
}

/* The receiver asked for quiet, or refused the request itself. */
static void
ex_pause(struct exporter *x, enum ex_reason why, uint64_t ms)
{
	ex_unclaim(x);
	ex_release(x);
	x->failures++;
	if (x->reason != why)
		log_warnx("export paused for %" PRIu64 " ms: %s", ms,
		    x->last_error);
	x->attempt = why == EX_R_REFUSED ? 0 : x->attempt + 1;
	ex_wait(x, why, ms);
}

static void
ex_clear_schedule(struct exporter *x)
{
	if (x->attempt > 0)
		log_info("export recovered after %u failure(s)", x->attempt);
	if (x->attempt != 0 || x->reason != EX_R_NONE || x->next_ms != 0) {
		x->attempt = 0;
		x->reason = EX_R_NONE;
		x->next_ms = 0;
		ex_save_state(x);
	}
}

/*
 * Write lines[0..len) as a new ready segment of the export directory named
 * after stem's time (so it keeps its place in the order). 0 or -1.
 */
static int
ex_write_ready(struct exporter *x, const char *stem, const char *lines,
    size_t len)
{
	char	 name[QUEUE_NAME_MAX], tmp[QUEUE_NAME_MAX + 8], u[40];
	uuid_t	 id;
	int	 fd, e;

	uuid_generate_random(id);
	uuid_unparse_lower(id, u);
	if ((size_t)snprintf(name, sizeof name, "%.15s-%s%s", stem, u,
	    EX_READY) >= sizeof name ||
	    (size_t)snprintf(tmp, sizeof tmp, "%s.tmp", name) >= sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = openat(x->edfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1)
		return -1;
	if (fsio_write_all(fd, lines, len) == -1)
		goto fail;
	if (fsync(fd) == -1 || close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (renameat(x->edfd, tmp, x->edfd, name) == -1)
		goto fail;
	return 0;
fail:
	e = errno;
	if (fd != -1)
		close(fd);
	unlinkat(x->edfd, tmp, 0);
	errno = e;
	return -1;
}

/* Split the claim into two segments by lines (413, or too big). A single
 * record is kept as .invalid. 0 settled, -1 retry later. */
static int
ex_split(struct exporter *x)
{
	const char	*p = x->raw.data, *end = x->raw.data + x->raw.len, *nl;
	const char	*cut = NULL;
	unsigned	 n = 0, first;

	if (x->nrecords <= 1) {
		if (ex_retire(x, x->claim.name, x->claim.stem, ".invalid") == -1)
			log_warn("export: cannot quarantine %s", x->claim.name);
		x->claimed = 0;
		x->quarantined++;
		return 0;
	}
	first = (x->nrecords + 1) / 2;
	for (; p < end && cut == NULL; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (nl > p && !(nl - p == 1 && *p == '\r') && ++n == first)
			cut = nl + 1 <= end ? nl + 1 : end;
	}
	if (cut == NULL || cut > end)
		cut = end;
	if (ex_write_ready(x, x->claim.stem, x->raw.data,
	    (size_t)(cut - x->raw.data)) == -1)
		return -1;
	if (cut < end && ex_write_ready(x, x->claim.stem, cut,
	    (size_t)(end - cut)) == -1) {
		log_warn("export: split of %s half done; the first half may be "
		    "sent twice", x->claim.stem);
		return -1;
	}
	if (ex_retire(x, x->claim.name, x->claim.stem, EX_T_SENT) == -1)
		log_warn("export: cannot retire %s after the split",
		    x->claim.name);
	x->claimed = 0;
	x->split++;
	return 0;
}

static size_t
ex_write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct exporter	*x = arg;
	size_t		 len = size * n;

	if (x->resp.len + len <= EX_RESP_MAX)
		(void)buf_add(&x->resp, p, len);
	return len;
}

/* Build the request headers and start the POST. */
static int
ex_post(struct exporter *x)
{
	struct curl_slist	*l;
	struct curlev_post	 p;
	char			*h, *nl, err[256];

	x->hdrs = NULL;
	if (curlev_load(&x->http, err, sizeof err) == -1) {
		ex_set_error(x, "%s", err);
		return -1;
	}
	for (h = x->cfg_hdrs.data; h != NULL && h < x->cfg_hdrs.data +
	    x->cfg_hdrs.len; h = nl + 1) {
		nl = memchr(h, '\n', x->cfg_hdrs.len - (size_t)(h -
		    x->cfg_hdrs.data));
		*nl = '\0';
		l = curl_slist_append(x->hdrs, h);
		*nl = '\n';
		if (l == NULL)
			goto nomem;
		x->hdrs = l;
	}
	if ((l = curl_slist_append(x->hdrs, "Content-Type: application/json"))
	    == NULL)
		goto nomem;
	x->hdrs = l;
	if ((l = curl_slist_append(x->hdrs, "Content-Encoding: gzip")) == NULL)
		goto nomem;
	x->hdrs = l;
	if ((l = curl_slist_append(x->hdrs, "Expect:")) == NULL)
		goto nomem;
	x->hdrs = l;
	memset(&p, 0, sizeof p);
	p.url = x->endpoint;
	p.ca_file = x->ca_file;
	p.user_agent = x->user_agent;
	p.hdrs = x->hdrs;
	p.timeout_s = x->timeout_s;
	p.connect_timeout_s = x->connect_timeout_s;
	p.write_cb = ex_write_cb;
	p.write_arg = x;
	if (curlev_post(&x->http, &p, err, sizeof err) == -1) {
		ex_set_error(x, "%s", err);
		return -1;
	}
	return 0;
nomem:
	ex_set_error(x, "request headers: out of memory");
	return -1;
}

static unsigned
ex_count_lines(const char *p, size_t len)
{
	const char	*end = p + len, *nl;
	unsigned	 n = 0;

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (nl > p && !(nl - p == 1 && *p == '\r'))
			n++;
	}
	return n;
}

/* Claim the next segment and start its POST; IDLE when nothing is ready. */
static void
ex_start(struct exporter *x)
{
	struct otlp_counts	oc;
	int			r;

	x->step_now = 0;
	for (;;) {
		if ((r = queue_claim(x->q, &x->claim)) == 0) {
			x->state = EX_IDLE;
			ex_clear_schedule(x);
			ex_tidy(x);
			return;
		}
		if (r == -1) {
			ex_set_error(x, "cannot claim a segment: %s",
			    strerror(errno));
			x->last_status = 0;
			ex_fail(x);
			return;
		}
		x->claimed = 1;
		x->raw.len = 0;
		if (queue_claim_read(x->q, &x->claim, &x->raw) == -1) {
			ex_set_error(x, "cannot read %s: %s", x->claim.name,
			    strerror(errno));
			ex_fail(x);
			return;
		}
		x->nrecords = ex_count_lines(x->raw.data, x->raw.len);
		if (x->nrecords == 0) {
			(void)ex_retire(x, x->claim.name, x->claim.stem,
			    EX_T_SENT);
			ex_release(x);
			continue;
		}
		if (x->raw.len > EX_MAX_BODY) {
			if (ex_split(x) == -1) {
				ex_set_error(x, "cannot split %s: %s",
				    x->claim.stem, strerror(errno));
				ex_fail(x);
				return;
			}
			ex_release(x);
			continue;
		}
		break;
	}
	x->body.len = 0;
	if (otlp_encode(x->raw.data, x->raw.len, ex_now_ms(), ATC_VERSION,
	    &x->body, &oc) == -1 || curlev_gzip(&x->http, x->body.data, x->body.len) == -1) {
		ex_set_error(x, "cannot encode %s: %s", x->claim.stem,
		    strerror(errno));
		ex_fail(x);
		return;
	}
	x->resp.len = 0;
	if (ex_post(x) == -1) {
		ex_fail(x);
		return;
	}
	x->started_ms = ex_now_ms();
	x->state = EX_INFLIGHT;
	log_debug("export: POST %s (%u records, %zu -> %zu bytes)",
	    x->claim.stem, oc.records, x->body.len, x->http.gzlen);
}

/* Records the receiver said it rejected (partialSuccess), if any. */
static uint64_t
ex_rejected(struct exporter *x)
{
	json_t		*o, *ps;
	json_int_t	 n = 0;
	const char	*s;

	if (x->resp.len == 0 ||
	    (o = json_loadb(x->resp.data, x->resp.len, 0, NULL)) == NULL)
		return 0;
	if ((ps = json_object_get(o, "partialSuccess")) != NULL) {
		if ((s = json_string_value(json_object_get(ps,
		    "rejectedLogRecords"))) != NULL)
			n = strtoll(s, NULL, 10);
		else
			n = json_integer_value(json_object_get(ps,
			    "rejectedLogRecords"));
	}
	json_decref(o);
	return n > 0 ? (uint64_t)n : 0;
}

static void
ex_finish(struct exporter *x, CURLcode res, long code)
{
	int64_t		now = ex_now_ms(), ra;
	uint64_t	rej;

	x->state = EX_IDLE;
	x->last_ms = now;
	x->last_duration_ms = now - x->started_ms;
	x->last_status = code;
	curl_slist_free_all(x->hdrs);
	x->hdrs = NULL;
	if (res != CURLE_OK) {
		ex_set_error(x, "%s", curlev_error(&x->http, res));
		ex_fail(x);
		return;
	}
	if (code >= 200 && code < 300) {
		if (ex_retire(x, x->claim.name, x->claim.stem, EX_T_SENT) == -1)
			log_warn("export: cannot retire %s after delivery",
			    x->claim.name);
		x->claimed = 0;
		x->segments_posted++;
		x->events_uploaded += x->nrecords;
		x->bytes_sent += x->raw.len;
		x->bytes_compressed += x->http.gzlen;
		x->last_post_ms = now;
		x->last_error[0] = '\0';
		if ((rej = ex_rejected(x)) > 0) {
			/* The spec: a partial success is not retried. */
			x->rejected_records += rej;
			log_warnx("export: the receiver rejected %" PRIu64
			    " of %u records of %s", rej, x->nrecords,
			    x->claim.stem);
		}
		ex_release(x);
		ex_clear_schedule(x);
		ex_schedule_step(x);
		return;
	}
	switch (code) {
	case 400:
		x->failures++;
		ex_set_error(x, "HTTP 400: the receiver refused the data");
		if (ex_retire(x, x->claim.name, x->claim.stem, ".invalid") == -1)
			log_warn("export: cannot quarantine %s", x->claim.name);
		else
			log_warnx("export: %s kept as .invalid: %s",
			    x->claim.stem, x->last_error);
		x->claimed = 0;
		x->quarantined++;
		ex_release(x);
		ex_clear_schedule(x);
		ex_schedule_step(x);
		return;
	case 413:
		x->failures++;
		ex_set_error(x, "HTTP 413: too large (%u records)", x->nrecords);
		if (ex_split(x) == -1) {
			ex_set_error(x, "HTTP 413 and cannot split: %s",
			    strerror(errno));
			ex_fail(x);
			return;
		}
		ex_release(x);
		ex_clear_schedule(x);
		ex_schedule_step(x);
		return;
	case 429:
	case 502:
	case 503:
	case 504:
		ra = backoff_parse_retry_after(x->http.retry_after,
		    (time_t)(now / 1000));
		if (ra >= 0) {
			if (ra > (int64_t)x->max_ra_s)
				ra = x->max_ra_s;
			if (ra < EX_RETRY_AFTER_MIN_S)
				ra = EX_RETRY_AFTER_MIN_S;
			ex_set_error(x, "HTTP %ld: retry after %" PRId64 " s",
			    code, ra);
			ex_pause(x, EX_R_RETRY_AFTER, backoff_scale(
			    (uint64_t)ra * 1000, x->scale_pct));
			return;
		}
		break;
	case 408:
		break;
	default:
		if (code >= 400 && code < 500) {
			/* Endpoint, path or credentials wrong: wait for a fix. */
			ex_set_error(x, "HTTP %ld: the receiver refused the "
			    "request", code);
			ex_pause(x, EX_R_REFUSED, backoff_scale(EX_PAUSE_MS,
			    x->scale_pct));
			return;
		}
		break;
	}
	ex_set_error(x, "HTTP %ld", code);
	ex_fail(x);
}

/* curlev: the POST ended. */
static void
ex_done(void *arg, CURLcode res, long code)
{
	struct exporter	*x = arg;

	if (x->state == EX_INFLIGHT)
		ex_finish(x, res, code);
}

static void
ex_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exporter	*x = arg;

	if (x->next_ms != 0 && x->next_ms - ex_now_ms() <= EX_TIMER_SLACK_MS)
		x->next_ms = 1;
	ex_step(x, 0);
}

static void
ex_step_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exporter	*x = arg;
	int		 now = x->step_now;

	x->step_pending = 0;
	x->step_now = 0;
	ex_step(x, now);
}

static void
ex_schedule_step(struct exporter *x)
{
	if (x->step_pending)
		return;
	x->step_pending = 1;
	event_active(x->step_ev, EV_TIMEOUT, 0);
}

static void
ex_step(struct exporter *x, int now_flag)
{
	int64_t	now;

	if (x->aborted || x->state == EX_INFLIGHT)
		return;
	if (!x->enabled) {
		x->state = EX_DISABLED;
		return;
	}
	if (x->next_ms != 0) {
		now = ex_now_ms();
		if (x->next_ms > now) {
			if (x->reason != EX_R_BACKOFF || !now_flag) {
				x->state = x->reason == EX_R_BACKOFF ?
				    EX_BACKOFF : EX_PAUSED;
				if (!evtimer_pending(x->retry_timer, NULL))
					ex_arm_retry(x);
				return;
			}
		}
		evtimer_del(x->retry_timer);
		x->next_ms = 0;
	}
	ex_start(x);
}

/* ---- the public side ------------------------------------------------------------ */

static int
ex_apply(struct exporter *x, const struct export_config *cfg, char *cause,
    size_t causelen)
{
	struct buf	 h = { NULL, 0, 0 };
	char		*ep, *ca = NULL, *ua;
	size_t		 ualen;

	if (cfg->headers != NULL && export_headers_parse(cfg->headers, &h,
	    cause, causelen) == -1) {
		buf_free(&h);
		return -1;
	}
	ualen = sizeof "atomcode-telemetry/" + (cfg->user_agent_version !=
	    NULL ? strlen(cfg->user_agent_version) : 0);
	ep = strdup(cfg->endpoint != NULL ? cfg->endpoint : "");
	if (cfg->ca_file != NULL && *cfg->ca_file != '\0')
		ca = strdup(cfg->ca_file);
	if ((ua = malloc(ualen)) != NULL)
		snprintf(ua, ualen, "atomcode-telemetry/%s",
		    cfg->user_agent_version != NULL ?
		    cfg->user_agent_version : "");
	if (ep == NULL || ua == NULL || (cfg->ca_file != NULL &&
	    *cfg->ca_file != '\0' && ca == NULL)) {
		free(ep);
		free(ca);
		free(ua);
		buf_free(&h);
		snprintf(cause, causelen, "out of memory");
		return -1;
	}
	free(x->endpoint);
	free(x->ca_file);
	free(x->user_agent);
	buf_free(&x->cfg_hdrs);
	x->endpoint = ep;
	x->ca_file = ca;
	x->user_agent = ua;
	x->cfg_hdrs = h;
	x->enabled = cfg->enabled;
	x->timeout_s = cfg->timeout_s ? cfg->timeout_s : EX_DEFAULT_TIMEOUT_S;
	if (x->timeout_s > EX_MAX_TIMEOUT_S)
		x->timeout_s = EX_MAX_TIMEOUT_S;
	x->connect_timeout_s = cfg->connect_timeout_s ?
	    cfg->connect_timeout_s : EX_DEFAULT_CONNECT_S;
	x->scale_pct = cfg->backoff_scale_pct ? cfg->backoff_scale_pct : 100;
	x->max_ra_s = cfg->max_retry_after_s ? cfg->max_retry_after_s :
	    EX_DEFAULT_MAX_RA_S;
	return 0;
}

static char *
ex_path(const char *a, const char *b)
{
	size_t	 l = strlen(a) + strlen(b) + 2;
	char	*p;

	if ((p = malloc(l)) != NULL)
		snprintf(p, l, "%s/%s", a, b);
	return p;
}

/* Start exporting (see export.h). */
struct exporter *
export_new(struct event_base *base, const char *vendor_queue, const char *dir,
    const struct export_config *cfg, char *cause, size_t causelen)
{
	struct exporter	*x;
	struct timespec	 ts;

	if ((x = calloc(1, sizeof *x)) == NULL) {
		snprintf(cause, causelen, "out of memory");
		return NULL;
	}
	x->vdfd = x->edfd = -1;
	x->base = base;
	clock_gettime(CLOCK_REALTIME, &ts);
	x->rng = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
	    ((uint64_t)getpid() << 40) ^ (uint64_t)(uintptr_t)x;
	if ((x->vendor_dir = strdup(vendor_queue)) == NULL ||
	    (x->dir = strdup(dir)) == NULL ||
	    (x->qdir = ex_path(dir, "queue")) == NULL ||
	    (x->state_path = ex_path(dir, "state.json")) == NULL) {
		snprintf(cause, causelen, "out of memory");
		goto fail;
	}
	if (ex_apply(x, cfg, cause, causelen) == -1)
		goto fail;
	if (paths_check_dir(x->dir, 1, cause, causelen) == -1)
		goto fail;
	if (queue_open(x->qdir, QUEUE_O_CREATE | QUEUE_O_NORECOVER, &x->q,
	    cause, causelen) == -1)
		goto fail;
	if ((x->edfd = open(x->qdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 || (x->vdfd = open(x->vendor_dir, O_RDONLY |
	    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		snprintf(cause, causelen, "cannot open %s: %s", x->edfd == -1 ?
		    x->qdir : x->vendor_dir, strerror(errno));
		goto fail;
	}
	x->retry_timer = evtimer_new(base, ex_retry_cb, x);
	x->step_ev = event_new(base, -1, 0, ex_step_cb, x);
	if (curlev_init(&x->http, base, ex_done, x) == -1 ||
	    x->retry_timer == NULL || x->step_ev == NULL) {
		snprintf(cause, causelen, "cannot create events");
		goto fail;
	}
	x->state = x->enabled ? EX_IDLE : EX_DISABLED;
	ex_load_state(x);
	ex_restore(x);
	log_info("exporting to %s (OTLP/HTTP, JSON, gzip)", x->endpoint);
	return x;
fail:
	export_free(x);
	return NULL;
}

/* Apply new settings (see export.h). */
int
export_reconfigure(struct exporter *x, const struct export_config *cfg,
    char *cause, size_t causelen)
{
	int	was = x->enabled, moved;

	moved = x->endpoint == NULL || cfg->endpoint == NULL ||
	    strcmp(x->endpoint, cfg->endpoint) != 0;
	if (ex_apply(x, cfg, cause, causelen) == -1)
		return -1;
	if (moved && (x->attempt != 0 || x->next_ms != 0)) {
		/* A new receiver deserves a fresh start. */
		evtimer_del(x->retry_timer);
		x->attempt = 0;
		x->reason = EX_R_NONE;
		x->next_ms = 0;
		if (x->state == EX_BACKOFF || x->state == EX_PAUSED)
			x->state = EX_IDLE;
		ex_save_state(x);
	}
	if (was && !x->enabled && x->state == EX_INFLIGHT) {
		curlev_cancel(&x->http);
		ex_unclaim(x);
		ex_release(x);
	}
	if (!x->enabled) {
		evtimer_del(x->retry_timer);
		x->state = EX_DISABLED;
	} else if (!was || x->state == EX_DISABLED) {
		x->state = EX_IDLE;
		ex_schedule_step(x);
	} else if (moved)
		ex_schedule_step(x);
	return 0;
}

/* Link what is new, tidy, send (see export.h). */
void
export_seen(struct exporter *x, int now)
{
	if (x == NULL || x->aborted)
		return;
	ex_link_new(x);
	ex_tidy(x);
	if (x->state == EX_INFLIGHT)
		return;
	if (now)
		x->step_now = 1;
	ex_schedule_step(x);
}

int
export_idle(struct exporter *x)
{
	return x == NULL || (x->state != EX_INFLIGHT && !x->step_pending &&
	    !evtimer_pending(x->retry_timer, NULL));
}

static const char *
ex_state_name(struct exporter *x)
{
	if (!x->enabled)
		return "disabled";
	if (x->state == EX_INFLIGHT)
		return "inflight";
	if (x->next_ms > ex_now_ms())
		return x->reason == EX_R_BACKOFF ? "backoff" : "paused";
	return ex_state_names[EX_IDLE];
}

/* Add "export" to the status object. */
void
export_status(struct exporter *x, json_t *obj)
{
	struct queue_stats	st;
	json_t			*o;

	if (queue_stats(x->q, &st) == -1)
		memset(&st, 0, sizeof st);
	o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:I, s:I, s:I, "
	    "s:I, s:I, s:I, s:I, s:I, s:I}",
	    "protocol", "otlp/http+json",
	    "endpoint", x->endpoint,
	    "state", ex_state_name(x),
	    "last_unix_ms", (json_int_t)x->last_ms,
	    "last_status", (json_int_t)x->last_status,
	    "next_attempt_unix_ms", (json_int_t)x->next_ms,
	    "next_reason", ex_reason_names[x->next_ms != 0 ? x->reason :
	    EX_R_NONE],
	    "attempt", (json_int_t)x->attempt,
	    "last_post_unix_ms", (json_int_t)x->last_post_ms,
	    "segments_posted", (json_int_t)x->segments_posted,
	    "events_uploaded", (json_int_t)x->events_uploaded,
	    "bytes_sent", (json_int_t)x->bytes_sent,
	    "bytes_compressed", (json_int_t)x->bytes_compressed,
	    "failures", (json_int_t)x->failures,
	    "quarantined", (json_int_t)x->quarantined,
	    "evicted_events", (json_int_t)x->evicted);
	if (o == NULL)
		return;
	json_object_set_new(o, "split", json_integer((json_int_t)x->split));
	json_object_set_new(o, "rejected_records",
	    json_integer((json_int_t)x->rejected_records));
	json_object_set_new(o, "linked", json_integer((json_int_t)x->linked));
	json_object_set_new(o, "skipped_derived",
	    json_integer((json_int_t)x->skipped));
	json_object_set_new(o, "pending_segments",
	    json_integer((json_int_t)(st.ready_segments + st.claimed_segments)));
	json_object_set_new(o, "pending_events",
	    json_integer((json_int_t)st.ready_events));
	json_object_set_new(o, "invalid_segments",
	    json_integer((json_int_t)st.invalid_segments));
	json_object_set_new(o, "last_error", x->last_error[0] != '\0' ?
	    json_string(x->last_error) : json_null());
	json_object_set_new(obj, "export", o);
}

/* Shutdown (see export.h). */
void
export_abort(struct exporter *x)
{
	int	was = x->aborted;

	x->aborted = 1;
	if (x->step_ev != NULL)
		event_del(x->step_ev);
	x->step_pending = 0;
	if (x->retry_timer != NULL)
		evtimer_del(x->retry_timer);
	if (x->state == EX_INFLIGHT)
		x->state = EX_IDLE;
	curlev_abort(&x->http);
	ex_unclaim(x);
	ex_release(x);
	if (!was && x->q != NULL)
		ex_save_state(x);
}

void
export_free(struct exporter *x)
{
	if (x == NULL)
		return;
	export_abort(x);
	curlev_free(&x->http);
	if (x->retry_timer != NULL)
		event_free(x->retry_timer);
	if (x->step_ev != NULL)
		event_free(x->step_ev);
	buf_free(&x->cfg_hdrs);
	buf_free(&x->raw);
	buf_free(&x->body);
	buf_free(&x->resp);
	if (x->q != NULL)
		queue_close(x->q);
	if (x->edfd != -1)
		close(x->edfd);
	if (x->vdfd != -1)
		close(x->vdfd);
	free(x->vendor_dir);
	free(x->dir);
	free(x->qdir);
	free(x->state_path);
	free(x->endpoint);
	free(x->ca_file);
	free(x->user_agent);
	free(x);
}
