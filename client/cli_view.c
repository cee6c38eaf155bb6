/*
 * cli_view.c — `atomcode-telemetry view`: one self-contained HTML page of
 * what this machine collected: the consent state and the rule that decides
 * it, events per day and per kind (inline SVG), the last records with the
 * values the privacy firewall reduced marked, queued / sent / dropped /
 * quarantined with the reasons, and upload health. Written to a file (its
 * path printed, --open hands it to xdg-open/open) or served on 127.0.0.1
 * behind a random token until Ctrl-C (--serve).
 *
 * Must never: change the queue (no recovery, claim, rename, delete or lock:
 * it only opens files O_RDONLY), start an agent, load anything from the
 * network, or put a byte that came from a file, the environment or the
 * agent into the page other than through h_esc()/h_mark() — the page also
 * carries a Content-Security-Policy that forbids every script.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <ini.h>
#include <jansson.h>

#include "buf.h"
#include "cli.h"
#include "config.h"
#include "fsio.h"
#include "frame.h"
#include "port.h"

extern char **environ;

#define VIEW_LAST_DEFAULT	100	/* rows in the records table */
#define VIEW_LAST_MAX		10000	/* --last ceiling */
#define VIEW_FILE_MAX		(16 * 1024 * 1024) /* one segment read at most */
#define VIEW_READ_MAX		(64 * 1024 * 1024) /* all segments of one page */
#define VIEW_JSON_MAX		(1024 * 1024)	/* health.json, upload state */
#define VIEW_DAYS_MAX		31	/* bars in the per-day chart */
#define VIEW_KINDS_MAX		20	/* bars in the per-kind chart */
#define VIEW_LABEL_CHARS	20	/* chart label, then "…" */
#define VIEW_RAW_MAX		600	/* bytes of an unreadable line shown */
#define VIEW_QUARANTINE_MAX	200	/* quarantined files listed */
#define VIEW_REQ_MAX		8192	/* --serve: request head */
#define VIEW_IO_MS		5000	/* --serve: per-connection bound */
#define VIEW_TOKEN_BYTES	16	/* --serve: 128-bit token */
#define VIEW_OPEN_WAIT_MS	3000	/* wait this long for xdg-open's verdict */
/* The OTLP export's directory under telemetry/ (agent/export.h). */
#define VIEW_EXPORT_DIR		"export-otlp"

/* Where a record sits in the queue. */
enum view_state {
	VS_READY,	/* <stem>.ndjson: will be uploaded */
	VS_SENDING,	/* claimed by an uploader right now */
	VS_ACTIVE,	/* a writer's open segment */
	VS_INVALID,	/* quarantined: never uploaded */
	VS_N
};

static const char *const view_state_names[VS_N] = {
	"ready", "being sent", "being written", "quarantined"
};

/* The envelope (proto/record.c): everything else is the event's payload. */
static const char *const view_envelope[] = {
	"device_id", "launch_id", "account_id", "session_id", "turn", "round",
	"request", "turn_id", "ts", "schema_version", "app_version", "os",
	"arch", "locale", "provider", "provider_host", "model", "repo_origin",
	"mode", "surface", "event_id", NULL
};

/* One of the last N queued records (ring). */
struct view_rec {
	char		*line;	/* the stored bytes, owned */
	size_t		 len;
	enum view_state	 st;
};

/* A quarantined file. */
struct view_inv {
	char		*name;
	uint64_t	 bytes;
	unsigned	 events;
	char		 why[128];
};

struct view {
	const struct paths *p;
	unsigned	 last;
	time_t		 now;

	/* The queue, read without changing it. */
	int		 qexists;
	char		 qerr[512];
	uint64_t	 files[VS_N], events[VS_N], bytes[VS_N];
	uint64_t	 dropped_caps;	/* queue-dropped: evicted by the caps */
	uint64_t	 read_total;
	unsigned	 unreadable;	/* queued lines that are not records */
	unsigned	 skipped_files;	/* over the read bounds */
	unsigned	 reduced;	/* queued records with a placeholder */
	uint64_t	 today;
	json_t		*days;		/* "YYYY-MM-DD" → queued events */
	json_t		*kinds;		/* event_id → queued events */
	json_t		*fw;		/* placeholder → occurrences */
	int64_t		 day_lo, day_hi;	/* day numbers with data */
	int		 dated;		/* day_lo/day_hi are set */
	int64_t		 today_num;	/* today's day number, -1 unknown */
	struct view_rec	*ring;
	unsigned	 nring, head;	/* head: the oldest slot once full */
	uint64_t	 seen;		/* queued lines, for row numbers */
	struct view_inv	*inv;
	size_t		 ninv;

	/* Everything else. */
	struct tconfig	 cfg;
	struct optout	 opt;
	json_t		*health;	/* health.json or NULL */
	json_t		*ustate;	/* upload-state.json or NULL */
	json_t		*agent;		/* the agent's status snapshot or NULL */
	char		 xendpoint[1024];	/* [export] otlp_endpoint, "" */
	json_t		*xstate;	/* export-otlp/state.json or NULL */
	uint64_t	 xevents, xfiles, xinvalid;	/* export-otlp/queue */
	int		 agent_running;	/* answered, or at least listening */
};

/*
 * The page under construction. Markup goes in with h_lit() (literals in
 * this file only) and h_fmt() (numbers only); every other byte goes through
 * h_esc() or h_mark().
 */
struct html {
	struct buf	b;
	int		err;
};

static void
h_lit(struct html *h, const char *s)
{
	if (buf_puts(&h->b, s) == -1)
		h->err = 1;
}

/* printf for numbers and literals of this file; never for values. */
#define h_fmt(h, ...)	do {						\
	if (buf_printf(&(h)->b, __VA_ARGS__) == -1)			\
		(h)->err = 1;						\
} while (0)

/* Length of a valid, displayable UTF-8 sequence at s[0..n), or 0. */
static size_t
view_utf8(const unsigned char *s, size_t n)
{
	unsigned	c;
	size_t		l;

	if (s[0] < 0x80)
		return (s[0] < 0x20 && s[0] != '\t' && s[0] != '\n') ||
		    s[0] == 0x7f ? 0 : 1;
	if ((l = utf8_decode(s, n, &c)) == 0)
		return 0;
	/* C1 controls and bidi overrides would only mislead the reader. */
	if ((c >= 0x80 && c <= 0x9f) || (c >= 0x202a && c <= 0x202e) ||
	    (c >= 0x2066 && c <= 0x2069))
		return 0;
	return l;
}

/*
 * Escape s[0..n) for HTML text and double- or single-quoted attributes:
 * & < > " ' become references; control bytes, invalid UTF-8, C1 controls
 * and bidi overrides become U+FFFD.
 */
static void
h_esc(struct html *h, const char *s, size_t n)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 i = 0, l;
	const char		*rep;

	while (i < n && !h->err) {
		rep = NULL;
		switch (u[i]) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&#39;";
			break;
		}
		if (rep != NULL) {
			h_lit(h, rep);
			i++;
			continue;
		}
		if ((l = view_utf8(u + i, n - i)) == 0) {
			h_lit(h, "\xef\xbf\xbd");
			i++;
			continue;
		}
		if (buf_add(&h->b, s + i, l) == -1)
			h->err = 1;
		i += l;
	}
}

static void
h_escs(struct html *h, const char *s)
{
	if (s != NULL)
		h_esc(h, s, strlen(s));
}

/* A placeholder character: [A-Za-z:._-]. */
static int
view_phc(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == ':' ||
	    c == '.' || c == '_' || c == '-';
}

/* Length of a firewall placeholder <[A-Za-z:._-]+> at s[i], or 0. */
static size_t
view_placeholder(const char *s, size_t n, size_t i)
{
	size_t	j;

	if (s[i] != '<')
		return 0;
	for (j = i + 1; j < n && view_phc(s[j]); j++)
		;
	if (j == i + 1 || j >= n || s[j] != '>')
		return 0;
	return j - i + 1;
}

/* Escape like h_esc, wrapping each placeholder in <mark class="fw">. */
static void
h_mark(struct html *h, const char *s, size_t n)
{
	size_t	i, from = 0, l;

	for (i = 0; i < n; i++) {
		if ((l = view_placeholder(s, n, i)) == 0)
			continue;
		h_esc(h, s + from, i - from);
		h_lit(h, "<mark class=\"fw\" title=\"put there by the privacy "
		    "firewall in place of the original text\">");
		h_esc(h, s + i, l);
		h_lit(h, "</mark>");
		i += l - 1;
		from = i + 1;
	}
	h_esc(h, s + from, n - from);
}

/* An unsigned count with thousands separators. */
static void
h_u64(struct html *h, uint64_t v)
{
	char	d[32], out[48];
	int	n, i, o = 0;

	n = snprintf(d, sizeof d, "%" PRIu64, v);
	for (i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = d[i];
	}
	out[o] = '\0';
	h_lit(h, out);
}

static void
h_bytes(struct html *h, uint64_t v)
{
	if (v < 1024)
		h_fmt(h, "%" PRIu64 " B", v);
	else if (v < 1024 * 1024)
		h_fmt(h, "%.1f KiB", (double)v / 1024.0);
	else
		h_fmt(h, "%.1f MiB", (double)v / (1024.0 * 1024.0));
}

/* Local time of a Unix ms value (strftime output is escaped: TZ names). */
static void
h_time(struct html *h, int64_t ms)
{
	time_t		t = (time_t)(ms / 1000);
	struct tm	tm;
	char		s[96];

	if (ms <= 0 || localtime_r(&t, &tm) == NULL ||
	    strftime(s, sizeof s, "%Y-%m-%d %H:%M:%S %Z", &tm) == 0) {
		h_lit(h, "never");
		return;
	}
	h_escs(h, s);
}

/* " (5 min ago)" / " (in 30 s)". */
static void
h_ago(struct html *h, time_t now, int64_t ms)
{
	int64_t		 d;
	const char	*pre = " (", *post = " ago)";

	if (ms <= 0)
		return;
	d = (int64_t)now - ms / 1000;
	if (d < 0) {
		d = -d;
		pre = " (in ";
		post = ")";
	}
	if (d < 120)
		h_fmt(h, "%s%" PRId64 " s%s", pre, d, post);
	else if (d < 7200)
		h_fmt(h, "%s%" PRId64 " min%s", pre, d / 60, post);
	else if (d < 172800)
		h_fmt(h, "%s%" PRId64 " h%s", pre, d / 3600, post);
	else
		h_fmt(h, "%s%" PRId64 " days%s", pre, d / 86400, post);
}

/* ---- gathering (read-only) -------------------------------------------- */

/* Read a small regular file without following symlinks. Caller frees. */
static char *
view_slurp_at(int dfd, const char *name, size_t max, size_t *lenp, int *big)
{
	struct stat	 st;
	char		*s = NULL;
	size_t		 len = 0;
	ssize_t		 r;
	int		 fd;

	*big = 0;
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1)
		return NULL;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & S_IWOTH) != 0) {
		close(fd);
		return NULL;
	}
	if ((uint64_t)st.st_size > max) {
		*big = 1;
		close(fd);
		return NULL;
	}
	if ((s = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	while (len < (size_t)st.st_size) {
		r = read(fd, s + len, (size_t)st.st_size - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	s[len] = '\0';
	*lenp = len;
	return s;
}

/* A small JSON object file (health.json, upload-state.json) or NULL. */
static json_t *
view_load_json(const char *path)
{
	json_t	*o;
	char	*s;
	size_t	 len;
	int	 big;

	if ((s = view_slurp_at(AT_FDCWD, path, VIEW_JSON_MAX, &len, &big)) ==
	    NULL)
		return NULL;
	o = json_loadb(s, len, 0, NULL);
	free(s);
	if (o != NULL && !json_is_object(o)) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

static void
view_count(json_t *o, const char *key, uint64_t by)
{
	json_int_t	n = json_integer_value(json_object_get(o, key));

	json_object_set_new(o, key, json_integer(n + (json_int_t)by));
}

/* The local calendar day of ms as "YYYY-MM-DD" and a day number. */
static int
view_day(int64_t ms, char *out, size_t len, int64_t *num)
{
	time_t		t = (time_t)(ms / 1000);
	struct tm	tm;

	if (ms <= 0 || localtime_r(&t, &tm) == NULL)
		return -1;
	strftime(out, len, "%Y-%m-%d", &tm);
	tm.tm_hour = 12;
	tm.tm_min = tm.tm_sec = 0;
	*num = (int64_t)timegm(&tm) / 86400;
	return 0;
}

/* Count every placeholder in the strings of v into counts (if not NULL). */
static unsigned
view_scan_placeholders(json_t *v, json_t *counts)
{
	const char	*s, *k;
	json_t		*e;
	size_t		 n, i, l;
	unsigned	 found = 0;
	char		 name[128];

	if (json_is_string(v)) {
		s = json_string_value(v);
		n = json_string_length(v);
		for (i = 0; i < n; i++) {
			if ((l = view_placeholder(s, n, i)) == 0)
				continue;
			found++;
			if (counts != NULL && l < sizeof name) {
				memcpy(name, s + i, l);
				name[l] = '\0';
				view_count(counts, name, 1);
			}
			i += l - 1;
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, e)
			found += view_scan_placeholders(e, counts);
	} else if (json_is_object(v)) {
		json_object_foreach(v, k, e)
			found += view_scan_placeholders(e, counts);
	}
	return found;
}

/* Keep line as one of the last N queued records. */
static void
view_keep(struct view *v, const char *line, size_t len, enum view_state st)
{
	struct view_rec	*r;
	char		*copy;

	if (v->last == 0)
		return;
	if ((copy = malloc(len + 1)) == NULL)
		return;
	memcpy(copy, line, len);
	copy[len] = '\0';
	if (v->nring < v->last)
		r = &v->ring[v->nring++];
	else {
		r = &v->ring[v->head];
		v->head = (v->head + 1) % v->last;
		free(r->line);
	}
	r->line = copy;
	r->len = len;
	r->st = st;
}

/* One line of a segment. */
static void
view_line(struct view *v, const char *line, size_t len, enum view_state st)
{
	json_t		*r;
	json_int_t	 ts;
	const char	*ev;
	char		 day[16];
	int64_t		 num;

	v->events[st]++;
	if (st == VS_INVALID)
		return;
	v->seen++;
	view_keep(v, line, len, st);
	r = json_loadb(line, len, 0, NULL);
	if (!json_is_object(r) || (ev = json_string_value(json_object_get(r,
	    "event_id"))) == NULL) {
		v->unreadable++;
		json_decref(r);
		return;
	}
	view_count(v->kinds, ev, 1);
	ts = json_integer_value(json_object_get(r, "ts"));
	if (view_day((int64_t)ts, day, sizeof day, &num) == 0) {
		view_count(v->days, day, 1);
		if (!v->dated || num < v->day_lo)
			v->day_lo = num;
		if (!v->dated || num > v->day_hi)
			v->day_hi = num;
		v->dated = 1;
		if (num == v->today_num)
			v->today++;
	} else
		view_count(v->days, "unknown", 1);
	if (view_scan_placeholders(r, v->fw) > 0)
		v->reduced++;
	json_decref(r);
}

/* Why a quarantined file was set aside, judged from its content. */
static void
view_why(struct view_inv *q, const char *s, size_t len)
{
	const char	*p = s, *e = s + len, *nl;
	json_t		*r;
	unsigned	 line = 0;
	int		 ok;

	for (; p < e; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(e - p))) == NULL)
			nl = e;
		line++;
		if (nl == p)
			continue;
		r = json_loadb(p, (size_t)(nl - p), 0, NULL);
		ok = json_is_object(r) &&
		    json_is_string(json_object_get(r, "event_id")) &&
		    json_is_integer(json_object_get(r, "ts"));
		json_decref(r);
		if (!ok) {
			snprintf(q->why, sizeof q->why, "line %u is not a "
			    "record: set aside by recovery", line);
			return;
		}
	}
	snprintf(q->why, sizeof q->why, "every line is a record: the server "
	    "refused it (HTTP 400), or one record was too large to send");
}

/* Segment kind from its name, or -1 for other files (.owner, temp). */
static int
view_classify(const char *name)
{
	size_t		 l = strlen(name);
	const char	*c;

	if ((c = strstr(name, ".ndjson.sending-")) != NULL && c != name)
		return VS_SENDING;
#define ENDS(x) (l > sizeof(x) - 1 && strcmp(name + l - (sizeof(x) - 1), x) == 0)
	if (ENDS(".ndjson"))
		return VS_READY;
	if (ENDS(".partial"))
		return VS_ACTIVE;
	if (ENDS(".invalid"))
		return VS_INVALID;
#undef ENDS
	return -1;
}

static int
view_namecmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read every segment of the queue in name (= time) order. */
static void
view_scan_queue(struct view *v)
{
	struct queue	*q;
	struct stat	 st;
	DIR		*d;
	struct dirent	*de;
	struct view_inv	*qi;
	uint64_t	 before;
	char		**names = NULL, **nn, *s, *p, *e, *nl, cause[512];
	size_t		 n = 0, cap = 0, i, len;
	int		 dfd, k, big;

	if (lstat(v->p->queue, &st) == -1 && errno == ENOENT)
		return;
	v->qexists = 1;
	/* Same safety checks as everyone else, without recovery. */
	if (queue_open(v->p->queue, QUEUE_O_RDONLY, &q, cause,
	    sizeof cause) == -1) {
		snprintf(v->qerr, sizeof v->qerr, "%s", cause);
		return;
	}
	v->dropped_caps = queue_dropped(q);
	queue_close(q);
	dfd = open(v->p->queue, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (dfd == -1 || (d = fsio_opendir(dfd)) == NULL) {
		snprintf(v->qerr, sizeof v->qerr, "cannot read the queue: %s",
		    strerror(errno));
		if (dfd != -1)
			close(dfd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (view_classify(de->d_name) < 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nn = realloc(names, cap * sizeof *names)) == NULL)
				break;
			names = nn;
		}
		if ((names[n] = strdup(de->d_name)) == NULL)
			break;
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof *names, view_namecmp);
	for (i = 0; i < n; i++) {
		k = view_classify(names[i]);
		s = NULL;
		if (v->read_total < VIEW_READ_MAX)
			s = view_slurp_at(dfd, names[i], VIEW_FILE_MAX, &len,
			    &big);
		else
			big = 1;
		if (s == NULL) {
			/* Gone (uploaded meanwhile), not ours, or too big. */
			v->skipped_files += big;
			free(names[i]);
			continue;
		}
		v->read_total += len;
		v->files[k]++;
		v->bytes[k] += len;
		before = v->events[VS_INVALID];
		qi = NULL;
		if (k == VS_INVALID && v->ninv < VIEW_QUARANTINE_MAX) {

			if ((qi = realloc(v->inv, (v->ninv + 1) *
			    sizeof *qi)) != NULL) {
				v->inv = qi;
				qi = &v->inv[v->ninv++];
				memset(qi, 0, sizeof *qi);
				qi->name = names[i];
				names[i] = NULL;
				qi->bytes = len;
				view_why(qi, s, len);
			}
		}
		for (p = s, e = s + len; p < e; p = nl + 1) {
			if ((nl = memchr(p, '\n', (size_t)(e - p))) == NULL)
				nl = e;
			if (nl > p && !(nl - p == 1 && *p == '\r'))
				view_line(v, p, (size_t)(nl - p),
				    (enum view_state)k);
		}
		if (qi != NULL)
			qi->events = (unsigned)(v->events[VS_INVALID] - before);
		free(s);
		free(names[i]);
	}
	free(names);
	close(dfd);
}

/* inih: [export] otlp_endpoint of telemetryd.conf (quotes dropped). */
static int
view_ini_cb(void *arg, const char *section, const char *name,
    const char *value)
{
	struct view	*v = arg;
	size_t		 l = strlen(value);

	if (strcmp(section, "export") != 0 || strcmp(name, "otlp_endpoint") !=
	    0)
		return 1;
	if (l >= 2 && value[0] == '"' && value[l - 1] == '"') {
		value++;
		l -= 2;
	}
	if (l < sizeof v->xendpoint) {
		memcpy(v->xendpoint, value, l);
		v->xendpoint[l] = '\0';
	}
	return 1;
}

/* The OTLP export: its setting, state file and waiting segments. */
static void
view_scan_export(struct view *v)
{
	char		 path[PATHS_MAX + 64], *s;
	DIR		*d;
	struct dirent	*de;
	size_t		 len, i;
	int		 dfd, big, k;
	FILE		*fp;

	if ((fp = fopen(v->p->settings, "re")) != NULL) {
		(void)ini_parse_file(fp, view_ini_cb, v);
		fclose(fp);
	}
	snprintf(path, sizeof path, "%s/%s/state.json", v->p->telemetry,
	    VIEW_EXPORT_DIR);
	v->xstate = view_load_json(path);
	snprintf(path, sizeof path, "%s/%s/queue", v->p->telemetry,
	    VIEW_EXPORT_DIR);
	if ((dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return;
	if ((d = fsio_opendir(dfd)) == NULL) {
		close(dfd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if ((k = view_classify(de->d_name)) == VS_INVALID) {
			v->xinvalid++;
			continue;
		}
		if (k != VS_READY && k != VS_SENDING)
			continue;
		if ((s = view_slurp_at(dfd, de->d_name, VIEW_FILE_MAX, &len,
		    &big)) == NULL)
			continue;
		v->xfiles++;
		for (i = 0; i < len; i++)
			v->xevents += s[i] == '\n' && i > 0 && s[i - 1] != '\n';
		v->xevents += len > 0 && s[len - 1] != '\n';
		free(s);
	}
	closedir(d);
	close(dfd);
}

/* Everything the page shows, read without changing anything. */
static int
view_gather(struct view *v)
{
	json_t	*req;
	char	 path[PATHS_MAX + 32];

	v->now = time(NULL);
	if (view_day((int64_t)v->now * 1000, path, sizeof path,
	    &v->today_num) == -1)
		v->today_num = -1;
	v->days = json_object();
	v->kinds = json_object();
	v->fw = json_object();
	if (v->days == NULL || v->kinds == NULL || v->fw == NULL)
		return -1;
	if (v->last > 0 && (v->ring = calloc(v->last, sizeof *v->ring)) ==
	    NULL)
		return -1;
	config_read(v->p->config, &v->cfg);
	optout_resolve(&v->cfg, 0, &v->opt);	/* as status: no flag */
	view_scan_queue(v);
	v->health = view_load_json(v->p->health);
	snprintf(path, sizeof path, "%s/upload-state.json", v->p->telemetry);
	v->ustate = view_load_json(path);
	view_scan_export(v);
	req = json_pack("{s:s}", "op", "status");
	v->agent = cli_request(v->p, req, 2000, &v->agent_running);
	json_decref(req);
	if (v->agent != NULL && !json_is_object(v->agent)) {
		json_decref(v->agent);
		v->agent = NULL;
	}
	return 0;
}

static void
view_free(struct view *v)
{
	unsigned	i;
	size_t		j;

	for (i = 0; i < v->nring; i++)
		free(v->ring[i].line);
	free(v->ring);
	for (j = 0; j < v->ninv; j++)
		free(v->inv[j].name);
	free(v->inv);
	json_decref(v->days);
	json_decref(v->kinds);
	json_decref(v->fw);
	json_decref(v->health);
	json_decref(v->ustate);
	json_decref(v->xstate);
	json_decref(v->agent);
}

/* ---- rendering ---------------------------------------------------------- */

static const char view_css[] =
    ":root{--fg:#1d2330;--mut:#5b6475;--bg:#f4f5f8;--card:#fff;"
    "--line:#dde1e7;--acc:#3b6fd8;--ok:#1b7f4b;--bad:#b3261e;--fw:#ffe9a8}"
    "*{box-sizing:border-box}"
    "body{margin:0;font:14px/1.45 system-ui,-apple-system,'Segoe UI',"
    "Roboto,'DejaVu Sans',sans-serif;color:var(--fg);background:var(--bg)}"
    "header,main,footer{max-width:1180px;margin:0 auto;padding:14px 24px 0}"
    "h1{font-size:22px;margin:6px 0 2px}h2{font-size:17px;margin:0 0 10px}"
    "section{background:var(--card);border:1px solid var(--line);"
    "border-radius:10px;padding:14px 18px;margin:0 0 14px}"
    ".muted{color:var(--mut)}p{margin:6px 0}"
    ".state{display:inline-block;padding:1px 10px;border-radius:999px;"
    "font-weight:600}.on{background:#e2f3e9;color:var(--ok)}"
    ".off{background:#fbe6e4;color:var(--bad)}"
    ".cards{display:grid;grid-template-columns:repeat(4,1fr);gap:12px}"
    ".card{border:1px solid var(--line);border-radius:8px;padding:10px 14px}"
    ".card .big{font-size:26px;font-weight:650}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{text-align:left;vertical-align:top;padding:5px 8px;"
    "border-bottom:1px solid var(--line)}"
    "th{font-weight:600;color:var(--mut);font-size:12px}"
    "td{overflow-wrap:anywhere}#records-table{table-layout:fixed}"
    "#records-table th:nth-child(1){width:52px}"
    "#records-table th:nth-child(2){width:190px}"
    "#records-table th:nth-child(3){width:130px}"
    "#records-table th:nth-child(4){width:84px}"
    "#records-table th:nth-child(6){width:190px}"
    "#destinations th:nth-child(1){width:28%}td.ustate{white-space:nowrap}"
    "tr.decides td{background:#eaf1ff;font-weight:600}"
    "td.fields,td.raw{font-family:ui-monospace,'DejaVu Sans Mono',monospace;"
    "font-size:12px;word-break:break-all}"
    ".kv{display:inline-block;margin:0 12px 2px 0}.k{color:var(--mut)}"
    "mark.fw{background:var(--fw);color:#5c4300;border-radius:3px;"
    "padding:0 2px}"
    "tr.reduced td.num{box-shadow:inset 4px 0 0 #e0a800}"
    "td.num,td.when{white-space:nowrap}"
    "details summary{cursor:pointer;color:var(--mut)}"
    "svg{display:block;max-width:100%;height:auto}"
    "svg text{font:12px system-ui,'DejaVu Sans',sans-serif;fill:#1d2330}"
    "svg .bar rect{fill:#3b6fd8}svg .axis{stroke:#b8bfca}"
    "code{font-family:ui-monospace,'DejaVu Sans Mono',monospace;"
    "background:#eef0f4;padding:1px 4px;border-radius:4px;"
    "word-break:break-all}"
    ".charts{display:grid;grid-template-columns:1fr 1fr;gap:16px}"
    "footer{padding-bottom:24px}";

/* A pair for sorting the per-kind chart. */
struct view_kv {
	const char	*k;
	uint64_t	 n;
};

static int
view_kvcmp(const void *a, const void *b)
{
	const struct view_kv	*x = a, *y = b;

	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return strcmp(x->k, y->k);
}

/* Escape at most max characters of s, then "…" (full text in a title). */
static void
h_label(struct html *h, const char *s, size_t max)
{
	size_t	i, chars = 0, n = strlen(s);

	for (i = 0; i < n; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80 && chars++ == max)
			break;
	}
	h_esc(h, s, i);
	if (i < n)
		h_lit(h, "\xe2\x80\xa6");
}

static json_int_t
view_ji(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static const char *
view_js(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* Consent: the state, the rule that decides it, all rules, the switch. */
static void
view_consent(struct html *h, struct view *v)
{
	const char	*r = v->opt.reason, *e, *agent_state;
	const char	*rules[7] = {
		"<code>ATOMCODE_OFFLINE</code> = 1 | true | on in the environment",
		"<code>offline_mode = \"on\"</code> in config.toml",
		"<code>ATOMCODE_TELEMETRY=0</code> (or false, off, no) in the"
		" environment",
		"<code>DO_NOT_TRACK=1</code> (or any value but empty, 0, false)"
		" in the environment",
		"<code>--no-telemetry</code> on an atomcode command line",
		"<code>[telemetry] enabled</code> in config.toml",
		"default",
	};
	int		 decides = -1, i;
	char		 off[16];
	size_t		 n;

	if (r == NULL)
		decides = v->cfg.enabled == 1 ? 5 : 6;
	else if (strcmp(r, "offline") == 0) {
		decides = 1;
		if ((e = getenv("ATOMCODE_OFFLINE")) != NULL) {
			while (isspace((unsigned char)*e))
				e++;
			n = strcspn(e, " \t\r\n");
			if (n < sizeof off) {
				memcpy(off, e, n);
				off[n] = '\0';
				if (strcasecmp(off, "1") == 0 ||
				    strcasecmp(off, "true") == 0 ||
				    strcasecmp(off, "on") == 0)
					decides = 0;
			}
		}
	} else if (strncmp(r, "env:ATOMCODE_TELEMETRY", 22) == 0)
		decides = 2;
	else if (strncmp(r, "env:DO_NOT_TRACK", 16) == 0)
		decides = 3;
	else if (strncmp(r, "cli:", 4) == 0)
		decides = 4;
	else if (strcmp(r, "config") == 0)
		decides = 5;

	h_lit(h, "<section id=\"consent\"><h2>Consent</h2><p>Telemetry is ");
	h_lit(h, v->opt.enabled ? "<span id=\"consent-state\" class=\"state "
	    "on\">enabled</span>" : "<span id=\"consent-state\" class=\"state "
	    "off\">disabled</span>");
	h_lit(h, " &mdash; decided by <b id=\"consent-rule\">");
	if (decides >= 0)
		h_lit(h, rules[decides]);
	else
		h_escs(h, r);
	h_lit(h, "</b>.</p><p class=\"muted\">");
	if (v->opt.enabled) {
		h_lit(h, "Events are queued on this machine and uploaded to "
		    "<code>");
		h_escs(h, v->opt.endpoint);
		h_lit(h, "</code>.");
	} else
		h_lit(h, "Nothing is recorded or uploaded; events already "
		    "queued stay on disk until you clear them.");
	h_lit(h, "</p><table id=\"rules\"><thead><tr><th>#</th><th>Rule "
	    "(the first that matches decides)</th><th>Now</th></tr></thead>"
	    "<tbody>");
	for (i = 0; i < 7; i++) {
		h_lit(h, i == decides ? "<tr class=\"decides\">" : "<tr>");
		h_fmt(h, "<td>%d</td><td>%s</td><td>", i + 1, rules[i]);
		switch (i) {
		case 0:
		case 2:
		case 3:
			e = getenv(i == 0 ? "ATOMCODE_OFFLINE" : i == 2 ?
			    "ATOMCODE_TELEMETRY" : "DO_NOT_TRACK");
			if (e == NULL)
				h_lit(h, "<span class=\"muted\">unset</span>");
			else {
				h_lit(h, "<code>");
				h_escs(h, e);
				h_lit(h, "</code>");
			}
			break;
		case 1:
			h_lit(h, v->cfg.offline ? "on" :
			    "<span class=\"muted\">not on</span>");
			break;
		case 4:
			h_lit(h, "<span class=\"muted\">per command</span>");
			break;
		case 5:
			h_lit(h, v->cfg.enabled == 1 ? "<code>true</code>" :
			    v->cfg.enabled == 0 ? "<code>false</code>" :
			    "<span class=\"muted\">absent</span>");
			if (v->cfg.exists && !v->cfg.parsed)
				h_lit(h, " (the file does not parse: read as "
				    "empty)");
			h_lit(h, " <span class=\"muted\">in <code>");
			h_escs(h, v->p->config);
			h_lit(h, "</code></span>");
			break;
		default:
			h_lit(h, "enabled");
			break;
		}
		h_lit(h, "</td></tr>");
	}
	h_lit(h, "</tbody></table>");
	if (v->agent != NULL && (agent_state = view_js(v->agent,
	    "telemetry")) != NULL && strcmp(agent_state, v->opt.enabled ?
	    "enabled" : "disabled") != 0) {
		h_lit(h, "<p id=\"consent-agent\">The running agent has its own "
		    "environment and sees telemetry <b>");
		h_escs(h, agent_state);
		h_lit(h, "</b>");
		if (view_js(v->agent, "reason") != NULL) {
			h_lit(h, " (reason: ");
			h_escs(h, view_js(v->agent, "reason"));
			h_lit(h, ")");
		}
		h_lit(h, "; it decides what is uploaded.</p>");
	}
	h_lit(h, "<p>Switch: <code>atomcode telemetry disable</code> turns it "
	    "off (<code>[telemetry] enabled = false</code>), <code>atomcode "
	    "telemetry enable</code> back on; <code>atomcode telemetry "
	    "clear</code> deletes what is queued.</p></section>");
}

static uint64_t
view_queued(const struct view *v)
{
	return v->events[VS_READY] + v->events[VS_SENDING] +
	    v->events[VS_ACTIVE];
}

/* Dropped events the page can count, and whether agent counters are in. */
static uint64_t
view_dropped(const struct view *v)
{
	json_t	*c = json_object_get(v->agent, "counters");

	return v->dropped_caps + (uint64_t)view_ji(c, "storage_dropped") +
	    (uint64_t)view_ji(c, "rejected");
}

static void
view_summary(struct html *h, struct view *v)
{
	json_t		*c = json_object_get(v->agent, "counters");
	json_int_t	 last;

	h_lit(h, "<section id=\"summary\"><h2>At a glance</h2>"
	    "<div class=\"cards\"><div class=\"card\"><div class=\"muted\">"
	    "Queued events</div><div class=\"big\" id=\"n-queued\">");
	h_u64(h, view_queued(v));
	h_lit(h, "</div><div class=\"muted\">");
	h_u64(h, v->events[VS_READY]);
	h_lit(h, " ready, ");
	h_u64(h, v->events[VS_SENDING]);
	h_lit(h, " being sent, ");
	h_u64(h, v->events[VS_ACTIVE]);
	h_lit(h, " being written; <span id=\"n-today\">");
	h_u64(h, v->today);
	h_lit(h, "</span> from today</div></div>");

	h_lit(h, "<div class=\"card\"><div class=\"muted\">Segments sent"
	    "</div><div class=\"big\" id=\"n-sent\">");
	h_u64(h, (uint64_t)view_ji(v->health, "segments_posted"));
	h_lit(h, "</div><div class=\"muted\">");
	h_bytes(h, (uint64_t)view_ji(v->health, "bytes_sent"));
	h_lit(h, " in all; last ");
	last = view_ji(v->health, "last_post_unix_ms");
	h_time(h, (int64_t)last);
	if (c != NULL) {
		h_lit(h, "; ");
		h_u64(h, (uint64_t)view_ji(c, "uploaded_events"));
		h_lit(h, " events since the agent started");
	}
	h_lit(h, "</div></div>");

	h_lit(h, "<div class=\"card\"><div class=\"muted\">Dropped events"
	    "</div><div class=\"big\" id=\"n-dropped\">");
	h_u64(h, view_dropped(v));
	h_lit(h, "</div><div class=\"muted\">lost to the queue limits, a "
	    "full disk or the record check; reasons below</div></div>");

	h_lit(h, "<div class=\"card\"><div class=\"muted\">Quarantined "
	    "events</div><div class=\"big\" id=\"n-quarantined\">");
	h_u64(h, v->events[VS_INVALID]);
	h_lit(h, "</div><div class=\"muted\">in ");
	h_u64(h, v->files[VS_INVALID]);
	h_lit(h, " file(s) that are never uploaded</div></div></div>");
	if (v->qerr[0] != '\0') {
		h_lit(h, "<p id=\"queue-error\"><b>The queue cannot be read:"
		    "</b> ");
		h_escs(h, v->qerr);
		h_lit(h, "</p>");
	} else if (!v->qexists)
		h_lit(h, "<p class=\"muted\">There is no queue directory yet: "
		    "nothing was ever recorded here.</p>");
	if (v->skipped_files > 0)
		h_fmt(h, "<p>%u segment file(s) were too large to read for "
		    "this page.</p>", v->skipped_files);
	h_lit(h, "</section>");
}

/* Events per day: vertical bars, the last VIEW_DAYS_MAX days with data. */
static void
view_chart_days(struct html *h, struct view *v)
{
	int64_t		 lo = v->day_lo, hi = v->day_hi, d;
	time_t		 t;
	struct tm	 tm;
	char		 day[16];
	uint64_t	 n, max = 1, older = 0, in = 0;
	const char	*k;
	json_t		*e;
	unsigned	 nd, i, step;
	double		 slot, bw, x, bh;

	if (!v->dated) {
		h_lit(h, "<p class=\"muted\" id=\"chart-days\">No dated events "
		    "are queued.</p>");
		return;
	}
	if (hi - lo + 1 > VIEW_DAYS_MAX)
		lo = hi - VIEW_DAYS_MAX + 1;
	nd = (unsigned)(hi - lo + 1);
	for (d = lo; d <= hi; d++) {
		t = (time_t)(d * 86400 + 43200);
		gmtime_r(&t, &tm);
		strftime(day, sizeof day, "%Y-%m-%d", &tm);
		n = (uint64_t)view_ji(v->days, day);
		in += n;
		if (n > max)
			max = n;
	}
	json_object_foreach(v->days, k, e) {
		if (strcmp(k, "unknown") != 0)
			older += (uint64_t)json_integer_value(e);
	}
	older -= in;
	slot = 500.0 / nd;
	bw = slot * 0.72;
	step = nd <= 16 ? 1 : (nd + 11) / 12;
	h_lit(h, "<svg id=\"chart-days\" viewBox=\"0 0 540 215\" width=\"540\" "
	    "height=\"215\" role=\"img\" aria-label=\"Queued events per day\">"
	    "<line class=\"axis\" x1=\"30\" y1=\"190\" x2=\"535\" y2=\"190\"/>");
	for (d = lo, i = 0; d <= hi; d++, i++) {
		t = (time_t)(d * 86400 + 43200);
		gmtime_r(&t, &tm);
		strftime(day, sizeof day, "%Y-%m-%d", &tm);
		n = (uint64_t)view_ji(v->days, day);
		x = 32 + i * slot + (slot - bw) / 2;
		bh = n == 0 ? 0 : 2 + 160.0 * (double)n / (double)max;
		h_lit(h, "<g class=\"bar\"><title>");
		h_escs(h, day);
		h_fmt(h, ": %" PRIu64 " events</title>", n);
		h_fmt(h, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
		    "height=\"%.1f\" rx=\"2\"/>", x, 190 - bh, bw, bh);
		if (n > 0)
			h_fmt(h, "<text x=\"%.1f\" y=\"%.1f\" "
			    "text-anchor=\"middle\">%" PRIu64 "</text>",
			    x + bw / 2, 185 - bh, n);
		h_lit(h, "</g>");
		if (i % step == 0) {
			h_fmt(h, "<text x=\"%.1f\" y=\"206\" "
			    "text-anchor=\"middle\">", x + bw / 2);
			h_escs(h, day + 5);
			h_lit(h, "</text>");
		}
	}
	h_lit(h, "</svg>");
	if (older > 0) {
		h_lit(h, "<p class=\"muted\">Plus ");
		h_u64(h, older);
		h_lit(h, " events from earlier days.</p>");
	}
	if ((n = (uint64_t)view_ji(v->days, "unknown")) > 0) {
		h_lit(h, "<p class=\"muted\">");
		h_u64(h, n);
		h_lit(h, " events have no usable time stamp.</p>");
	}
}

/* Events per kind: horizontal bars, most frequent first. */
static void
view_chart_kinds(struct html *h, struct view *v)
{
	struct view_kv	*kv;
	const char	*k;
	json_t		*e;
	size_t		 n = json_object_size(v->kinds), i = 0, rows;
	uint64_t	 rest = 0, nrest = 0;
	double		 w, y;

	if (n == 0) {
		h_lit(h, "<p class=\"muted\" id=\"chart-kinds\">No events are "
		    "queued.</p>");
		return;
	}
	if ((kv = calloc(n, sizeof *kv)) == NULL) {
		h->err = 1;
		return;
	}
	json_object_foreach(v->kinds, k, e) {
		kv[i].k = k;
		kv[i++].n = (uint64_t)json_integer_value(e);
	}
	qsort(kv, n, sizeof *kv, view_kvcmp);
	rows = n > VIEW_KINDS_MAX ? VIEW_KINDS_MAX : n;
	for (i = rows; i < n; i++) {
		rest += kv[i].n;
		nrest++;
	}
	h_fmt(h, "<svg id=\"chart-kinds\" viewBox=\"0 0 540 %zu\" width=\"540\""
	    " height=\"%zu\" role=\"img\" aria-label=\"Queued events per kind"
	    "\">", rows * 24 + 8, rows * 24 + 8);
	for (i = 0; i < rows; i++) {
		y = 4 + (double)i * 24;
		w = 2 + 300.0 * (double)kv[i].n / (double)kv[0].n;
		h_lit(h, "<g class=\"bar\"><title>");
		h_escs(h, kv[i].k);
		h_fmt(h, ": %" PRIu64 " events</title>", kv[i].n);
		h_fmt(h, "<text x=\"166\" y=\"%.1f\" text-anchor=\"end\">",
		    y + 15);
		h_label(h, kv[i].k, VIEW_LABEL_CHARS);
		h_fmt(h, "</text><rect x=\"174\" y=\"%.1f\" width=\"%.1f\" "
		    "height=\"18\" rx=\"2\"/><text x=\"%.1f\" y=\"%.1f\">%"
		    PRIu64 "</text></g>", y + 2, w, 180 + w, y + 15, kv[i].n);
	}
	h_lit(h, "</svg>");
	if (nrest > 0) {
		h_lit(h, "<p class=\"muted\">Plus ");
		h_u64(h, rest);
		h_lit(h, " events of ");
		h_u64(h, nrest);
		h_lit(h, " other kinds.</p>");
	}
	free(kv);
}

static int
view_is_envelope(const char *k)
{
	int	i;

	for (i = 0; view_envelope[i] != NULL; i++)
		if (strcmp(view_envelope[i], k) == 0)
			return 1;
	return 0;
}

/* One field value: strings as they are, others as compact JSON. */
static void
view_value(struct html *h, json_t *val)
{
	char	*s;

	if (json_is_string(val)) {
		h_mark(h, json_string_value(val), json_string_length(val));
		return;
	}
	if ((s = json_dumps(val, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL) {
		h->err = 1;
		return;
	}
	h_mark(h, s, strlen(s));
	free(s);
}

/* The fields of a record, payload (envelope: 0) or envelope (1). */
static void
view_fields(struct html *h, json_t *o, int envelope)
{
	const char	*k;
	json_t		*val;

	json_object_foreach(o, k, val) {
		if (view_is_envelope(k) != envelope ||
		    strcmp(k, "event_id") == 0)
			continue;
		h_lit(h, "<span class=\"kv\"><span class=\"k\">");
		h_escs(h, k);
		h_lit(h, "</span> ");
		view_value(h, val);
		h_lit(h, "</span> ");
	}
}

/* Append the distinct placeholders in the strings of val to seen. */
static void
view_collect(json_t *val, struct buf *seen)
{
	const char	*s, *k;
	json_t		*e;
	size_t		 n, i, l, j;
	int		 dup;

	if (json_is_string(val)) {
		s = json_string_value(val);
		n = json_string_length(val);
		for (i = 0; i < n; i++) {
			if ((l = view_placeholder(s, n, i)) == 0)
				continue;
			dup = 0;
			for (j = 0; j + l <= seen->len; j++) {
				if (memcmp(seen->data + j, s + i, l) == 0 &&
				    (j + l == seen->len ||
				    seen->data[j + l] == '\n')) {
					dup = 1;
					break;
				}
			}
			if (!dup) {
				buf_add(seen, s + i, l);
				buf_putc(seen, '\n');
			}
			i += l - 1;
		}
	} else if (json_is_array(val)) {
		json_array_foreach(val, i, e)
			view_collect(e, seen);
	} else if (json_is_object(val)) {
		json_object_foreach(val, k, e)
			view_collect(e, seen);
	}
}

/* One table row for a record; no is its position in the queue. */
static void
view_row(struct html *h, const struct view_rec *r, uint64_t no)
{
	json_t		*o, *val;
	const char	*k, *ev, *p, *nl;
	struct buf	 seen = { NULL, 0, 0 };
	json_int_t	 ts;
	int		 reduced, env = 0;

	o = json_loadb(r->line, r->len, 0, NULL);
	if (!json_is_object(o) || (ev = view_js(o, "event_id")) == NULL) {
		json_decref(o);
		h_fmt(h, "<tr class=\"rec bad\"><td class=\"num\">%" PRIu64
		    "</td><td colspan=\"5\" class=\"raw\">not a record: ", no);
		h_esc(h, r->line, r->len > VIEW_RAW_MAX ? VIEW_RAW_MAX :
		    r->len);
		h_lit(h, "</td></tr>");
		return;
	}
	reduced = view_scan_placeholders(o, NULL) > 0;
	h_lit(h, reduced ? "<tr class=\"rec reduced\">" : "<tr class=\"rec\">");
	h_fmt(h, "<td class=\"num\">%" PRIu64 "</td><td class=\"when\">", no);
	ts = view_ji(o, "ts");
	if (ts > 0)
		h_time(h, (int64_t)ts);
	else
		h_lit(h, "&mdash;");
	h_lit(h, "</td><td class=\"ev\">");
	h_mark(h, ev, strlen(ev));
	h_fmt(h, "</td><td class=\"st\">%s</td><td class=\"fields\">",
	    view_state_names[r->st]);
	view_fields(h, o, 0);
	json_object_foreach(o, k, val)
		env += view_is_envelope(k) && strcmp(k, "event_id") != 0;
	h_fmt(h, "<details><summary>envelope (%d fields)</summary>", env);
	view_fields(h, o, 1);
	h_lit(h, "</details></td><td class=\"fwcol\">");
	if (!reduced)
		h_lit(h, "<span class=\"muted\">&mdash;</span>");
	json_object_foreach(o, k, val) {
		seen.len = 0;
		view_collect(val, &seen);
		if (seen.len == 0)
			continue;
		h_lit(h, "<div class=\"red\"><span class=\"k\">");
		h_escs(h, k);
		h_lit(h, "</span>: ");
		for (p = seen.data; p < seen.data + seen.len; p = nl + 1) {
			nl = memchr(p, '\n', seen.len - (size_t)(p -
			    seen.data));
			h_mark(h, p, (size_t)(nl - p));
			h_lit(h, " ");
		}
		h_lit(h, "</div>");
	}
	buf_free(&seen);
	h_lit(h, "</td></tr>");
	json_decref(o);
}

static void
view_records(struct html *h, struct view *v)
{
	struct view_kv	*kv;
	const char	*k;
	json_t		*e;
	size_t		 n, i = 0;
	unsigned	 j, idx;

	h_lit(h, "<section id=\"records\"><h2>The last ");
	h_u64(h, v->nring);
	h_lit(h, " queued records</h2><p class=\"muted\">Exactly the stored "
	    "bytes that will be uploaded, newest first. A value in "
	    "<mark class=\"fw\">&lt;MARK&gt;</mark> was put there by the "
	    "privacy firewall in place of what it removed (a path, a "
	    "secret, &hellip;); <span id=\"n-reduced\">");
	h_u64(h, v->reduced);
	h_lit(h, "</span> of the ");
	h_u64(h, view_queued(v));
	h_lit(h, " queued records carry one.");
	if ((n = json_object_size(v->fw)) > 0 &&
	    (kv = calloc(n, sizeof *kv)) != NULL) {
		json_object_foreach(v->fw, k, e) {
			kv[i].k = k;
			kv[i++].n = (uint64_t)json_integer_value(e);
		}
		qsort(kv, n, sizeof *kv, view_kvcmp);
		h_lit(h, " Seen:");
		for (i = 0; i < n; i++) {
			h_lit(h, " ");
			h_mark(h, kv[i].k, strlen(kv[i].k));
			h_fmt(h, "&nbsp;&times;%" PRIu64, kv[i].n);
		}
		free(kv);
	}
	h_lit(h, "</p>");
	if (v->nring == 0) {
		h_lit(h, "<p class=\"muted\">No records are queued.</p>"
		    "</section>");
		return;
	}
	h_lit(h, "<table id=\"records-table\"><thead><tr><th>#</th><th>Time"
	    "</th><th>Event</th><th>State</th><th>Fields</th><th>Reduced by "
	    "the firewall</th></tr></thead><tbody>");
	for (j = v->nring; j > 0; j--) {
		idx = v->nring < v->last ? j - 1 : (v->head + j - 1) % v->last;
		view_row(h, &v->ring[idx], v->seen - v->nring + j);
	}
	h_lit(h, "</tbody></table></section>");
}

static void
view_reason_row(struct html *h, const char *id, const char *why, json_t *o,
    const char *key, const char *scope)
{
	h_fmt(h, "<tr id=\"%s\"><td>%s</td><td class=\"n\">", id, why);
	if (o == NULL)
		h_lit(h, "<span class=\"muted\">unknown: the agent is not "
		    "running</span>");
	else
		h_u64(h, (uint64_t)view_ji(o, key));
	h_fmt(h, "</td><td class=\"muted\">%s</td></tr>", scope);
}

/* A "name ×n" list of a JSON object of counts. */
static void
view_counts(struct html *h, json_t *o)
{
	const char	*k;
	json_t		*e;
	int		 any = 0;

	json_object_foreach(o, k, e) {
		if (json_integer_value(e) <= 0)
			continue;
		h_lit(h, any++ ? ", <code>" : " <code>");
		h_escs(h, k);
		h_lit(h, "</code>&nbsp;&times;");
		h_u64(h, (uint64_t)json_integer_value(e));
	}
}

static void
view_drops(struct html *h, struct view *v)
{
	json_t	*c = json_object_get(v->agent, "counters");
	json_t	*df = json_object_get(v->agent, "dropped_fields");
	json_t	*rk = json_object_get(v->agent, "redactions_by_kind");
	size_t	 i;

	h_lit(h, "<section id=\"dropped\"><h2>Dropped, reduced and "
	    "quarantined</h2><table id=\"drop-reasons\"><thead><tr><th>Reason"
	    "</th><th>Events</th><th>Counted</th></tr></thead><tbody>");
	h_lit(h, "<tr id=\"drop-caps\"><td>evicted, oldest first, when the "
	    "queue went over 50 files or 5 MiB</td><td class=\"n\">");
	h_u64(h, v->dropped_caps);
	h_lit(h, "</td><td class=\"muted\">ever, on this machine</td></tr>");
	view_reason_row(h, "drop-storage", "could not be stored (disk full "
	    "or failing)", c, "storage_dropped", "since the agent started");
	view_reason_row(h, "drop-rejected", "refused by the record check "
	    "(unknown event, wrong type, missing field, bad UTF-8)", c,
	    "rejected", "since the agent started");
	h_lit(h, "<tr id=\"drop-unreadable\"><td>queued lines that are not "
	    "records (uploaded as they are; the server decides)</td>"
	    "<td class=\"n\">");
	h_u64(h, v->unreadable);
	h_lit(h, "</td><td class=\"muted\">in the queue now</td></tr>");
	h_lit(h, "</tbody></table><p>Fields removed by the firewall: ");
	if (c == NULL)
		h_lit(h, "<span class=\"muted\">unknown: the agent is not "
		    "running</span>");
	else {
		h_u64(h, (uint64_t)view_ji(c, "fields_dropped"));
		view_counts(h, df);
	}
	h_lit(h, ". Values rewritten: ");
	if (c == NULL)
		h_lit(h, "<span class=\"muted\">unknown</span>");
	else {
		h_u64(h, (uint64_t)view_ji(c, "redactions"));
		view_counts(h, rk);
	}
	h_lit(h, " <span class=\"muted\">(since the agent started; nothing "
	    "of what was removed is kept)</span>.</p>");

	h_lit(h, "<h2>Quarantined files</h2>");
	if (v->ninv == 0)
		h_lit(h, "<p class=\"muted\" id=\"quarantine-none\">None.</p>");
	else {
		h_lit(h, "<table id=\"quarantine\"><thead><tr><th>File</th><th>"
		    "Events</th><th>Size</th><th>Why</th></tr></thead><tbody>");
		for (i = 0; i < v->ninv; i++) {
			h_lit(h, "<tr><td><code>");
			h_escs(h, v->inv[i].name);
			h_lit(h, "</code></td><td>");
			h_u64(h, v->inv[i].events);
			h_lit(h, "</td><td>");
			h_bytes(h, v->inv[i].bytes);
			h_lit(h, "</td><td>");
			h_escs(h, v->inv[i].why);
			h_lit(h, "</td></tr>");
		}
		h_lit(h, "</tbody></table>");
	}
	h_lit(h, "</section>");
}

/*
 * One upload destination. up: the agent's view of it (NULL when the agent
 * is not running); saved: its persisted schedule (may be NULL).
 */
static void
view_destination(struct html *h, struct view *v, const char *id,
    const char *what, const char *endpoint, json_t *up, json_t *saved,
    int64_t last_ok)
{
	const char	*s;
	int64_t		 next;
	json_int_t	 att, st;

	h_fmt(h, "<tr id=\"%s\"><td>%s<br><code>", id, what);
	h_escs(h, endpoint);
	h_lit(h, "</code></td><td class=\"ustate\">");
	if (up != NULL)
		h_escs(h, view_js(up, "state"));
	else if (v->agent_running)
		h_lit(h, "unknown (the agent did not answer)");
	else
		h_lit(h, "agent not running");
	h_lit(h, "</td><td>");
	h_time(h, last_ok);
	h_ago(h, v->now, last_ok);
	h_lit(h, "</td><td>");
	if (up != NULL && view_ji(up, "last_unix_ms") > 0) {
		h_time(h, (int64_t)view_ji(up, "last_unix_ms"));
		if ((st = view_ji(up, "last_status")) > 0)
			h_fmt(h, ", HTTP %lld", (long long)st);
		if ((s = view_js(up, "last_error")) != NULL) {
			h_lit(h, ": ");
			h_escs(h, s);
		}
	} else if (saved != NULL && (st = view_ji(saved, "last_status")) > 0)
		h_fmt(h, "HTTP %lld", (long long)st);
	else
		h_lit(h, "<span class=\"muted\">&mdash;</span>");
	h_lit(h, "</td><td>");
	att = view_ji(up != NULL ? up : saved, "attempt");
	s = view_js(up != NULL ? up : saved, up != NULL ? "next_reason" :
	    "reason");
	if (att > 0 || (s != NULL && *s != '\0')) {
		h_fmt(h, "%lld failed attempt(s)", (long long)att);
		if (s != NULL && *s != '\0') {
			h_lit(h, ", ");
			h_escs(h, s);
		}
	} else
		h_lit(h, "none");
	h_lit(h, "</td><td>");
	next = (int64_t)view_ji(up != NULL ? up : saved,
	    "next_attempt_unix_ms");
	if (next > 0) {
		h_time(h, next);
		h_ago(h, v->now, next);
	} else
		h_lit(h, "when something is ready");
	h_lit(h, "</td></tr>");
}

static void
view_upload(struct html *h, struct view *v)
{
	json_t		*up = json_object_get(v->agent, "upload");
	int64_t		 ok;

	ok = (int64_t)view_ji(up != NULL ? up : v->health,
	    "last_post_unix_ms");
	if (ok <= 0)
		ok = (int64_t)view_ji(v->health, "last_post_unix_ms");
	h_lit(h, "<section id=\"upload\"><h2>Upload health</h2><table "
	    "id=\"destinations\"><thead><tr><th>Destination</th><th>State</th>"
	    "<th>Last success</th><th>Last attempt</th><th>Backoff</th>"
	    "<th>Next attempt</th></tr></thead><tbody>");
	view_destination(h, v, "dest-vendor", "AtomCode (vendor)",
	    v->agent != NULL && view_js(v->agent, "endpoint") != NULL ?
	    view_js(v->agent, "endpoint") : v->opt.endpoint, up, v->ustate, ok);
	up = json_object_get(v->agent, "export");
	if (up != NULL || v->xendpoint[0] != '\0') {
		ok = (int64_t)view_ji(up != NULL ? up : v->xstate,
		    "last_post_unix_ms");
		view_destination(h, v, "dest-otlp", "OpenTelemetry (OTLP "
		    "export)", up != NULL && view_js(up, "endpoint") != NULL ?
		    view_js(up, "endpoint") : v->xendpoint, up, v->xstate, ok);
	}
	h_lit(h, "</tbody></table>");
	if (up != NULL || v->xendpoint[0] != '\0' || v->xfiles > 0) {
		h_lit(h, "<p id=\"otlp-pending\">OTLP export: ");
		h_u64(h, v->xevents);
		h_lit(h, " event(s) in ");
		h_u64(h, v->xfiles);
		h_lit(h, " segment(s) wait for the receiver; ");
		h_u64(h, v->xinvalid);
		h_lit(h, " segment(s) it refused (HTTP 400) are kept; ");
		h_u64(h, (uint64_t)view_ji(up != NULL ? up : v->xstate,
		    "evicted_events"));
		h_lit(h, " event(s) evicted by its own limits.</p>");
	}
	h_lit(h, "</section>");
}

static void
view_agent(struct html *h, struct view *v)
{
	json_t	*q = json_object_get(v->agent, "queue");

	h_lit(h, "<section id=\"agent\"><h2>Agent</h2><p id=\"agent-state\">");
	if (v->agent == NULL) {
		h_lit(h, v->agent_running ? "The agent's socket did not answer."
		    : "The agent is not running: this page shows what is on "
		    "disk. Events are still queued by the library and uploaded "
		    "when an agent runs.");
		h_lit(h, "</p></section>");
		return;
	}
	h_fmt(h, "Running: pid %lld, up %lld s, %lld client(s), fsync ",
	    (long long)view_ji(v->agent, "pid"),
	    (long long)view_ji(v->agent, "uptime_s"),
	    (long long)view_ji(v->agent, "clients"));
	h_escs(h, view_js(v->agent, "fsync"));
	h_lit(h, ", version ");
	h_escs(h, view_js(v->agent, "version"));
	h_lit(h, "; ");
	h_u64(h, (uint64_t)view_ji(q, "active_events"));
	h_lit(h, " event(s) in its open segment.</p></section>");
}

/* The whole page into h. */
static void
view_render(struct html *h, struct view *v)
{
	struct tm	tm;
	char		when[96];

	h_lit(h, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
	    "charset=\"utf-8\"><meta http-equiv=\"Content-Security-Policy\" "
	    "content=\"default-src 'none'; style-src 'unsafe-inline'; "
	    "img-src data:; base-uri 'none'; form-action 'none'\"><meta "
	    "name=\"referrer\" content=\"no-referrer\"><meta name=\"viewport\" "
	    "content=\"width=device-width, initial-scale=1\"><title>AtomCode "
	    "telemetry on this machine</title><style>");
	h_lit(h, view_css);
	h_lit(h, "</style></head><body><header><h1>AtomCode telemetry on this "
	    "machine</h1><p class=\"muted\">Generated ");
	if (localtime_r(&v->now, &tm) != NULL &&
	    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %Z", &tm) > 0)
		h_escs(h, when);
	h_lit(h, " by <code>atomcode-telemetry view</code> " ATC_VERSION
	    " from <code>");
	h_escs(h, v->p->dir);
	h_lit(h, "</code>. This page was made on your machine; it loads "
	    "nothing from the network and runs no script.</p></header><main>");
	view_consent(h, v);
	view_summary(h, v);
	h_lit(h, "<section id=\"charts\"><h2>What is queued</h2><div "
	    "class=\"charts\"><div><p class=\"muted\">Events per day</p>");
	view_chart_days(h, v);
	h_lit(h, "</div><div><p class=\"muted\">Events per kind</p>");
	view_chart_kinds(h, v);
	h_lit(h, "</div></div></section>");
	view_records(h, v);
	view_drops(h, v);
	view_upload(h, v);
	view_agent(h, v);
	h_lit(h, "</main><footer class=\"muted\">Sent events are deleted "
	    "from the queue, so this page shows what waits to be uploaded "
	    "and the counters of what was sent. <code>atomcode telemetry dump"
	    "</code> prints the same records as text.</footer></body></html>"
	    "\n");
}

/* Gather and render one page. 0 and the page in out (caller frees). */
static int
view_build(const struct paths *p, unsigned last, struct buf *out)
{
	struct view	v;
	struct html	h;

	memset(&v, 0, sizeof v);
	memset(&h, 0, sizeof h);
	v.p = p;
	v.last = last;
	if (view_gather(&v) == 0)
		view_render(&h, &v);
	else
		h.err = 1;
	view_free(&v);
	if (h.err) {
		buf_free(&h.b);
		errno = ENOMEM;
		return -1;
	}
	*out = h.b;
	return 0;
}

/* ---- output: a file, an opener, a loopback server ---------------------- */

/*
 * Write data to path atomically, mode 0600, never through a symlink (a
 * rename replaces a link at path; it is not followed). A page is cheap to
 * write again: atomic, not durable.
 */
static int
view_write(const char *path, const char *data, size_t len)
{
	return fsio_write_atomic(path, data, len, FSIO_ATOMIC, 0);
}

/*
 * Where the page goes by default: $ATOMCODE_HOME/telemetry/view.html when
 * that directory is ours, else a fresh private directory under $TMPDIR.
 */
static int
view_default_path(const struct paths *p, char *out, size_t len)
{
	char		 cause[256], dir[PATHS_MAX];
	const char	*tmp;

	if (!p->sudo && paths_check_dir(p->telemetry, 0, cause,
	    sizeof cause) == 0) {
		if ((size_t)snprintf(out, len, "%s/view.html", p->telemetry) <
		    len)
			return 0;
	}
	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	if ((size_t)snprintf(dir, sizeof dir, "%s/atomcode-view.XXXXXX", tmp) >=
	    sizeof dir || mkdtemp(dir) == NULL)
		return -1;
	if ((size_t)snprintf(out, len, "%s/view.html", dir) >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/*
 * Hand target to xdg-open (open on macOS). Waits up to VIEW_OPEN_WAIT_MS
 * for its verdict; one still running then is left to finish on its own.
 */
static int
view_open(const char *target)
{
#ifdef __APPLE__
	char		*argv[] = { "open", (char *)target, NULL };
#else
	char		*argv[] = { "xdg-open", (char *)target, NULL };
#endif
	pid_t		 pid;
	int		 e, status, waited;

	if ((e = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ)) != 0) {
		fprintf(stderr, "atomcode-telemetry: cannot run %s: %s; open "
		    "%s yourself\n", argv[0], strerror(e), target);
		return -1;
	}
	for (waited = 0; waited < VIEW_OPEN_WAIT_MS; waited += 50) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
				return 0;
			fprintf(stderr, "atomcode-telemetry: %s failed; open %s"
			    " yourself\n", argv[0], target);
			return -1;
		}
		usleep(50 * 1000);
	}
	return 0;
}

static volatile sig_atomic_t view_stop;

static void
view_on_signal(int sig)
{
	view_stop = 1;
}

/* Send everything within the connection's bound. */
static int
view_send(int fd, const char *p, size_t len)
{
	struct pollfd	pfd = { fd, POLLOUT, 0 };
	ssize_t		n;

	while (len > 0) {
		if (poll(&pfd, 1, VIEW_IO_MS) <= 0)
			return -1;
		if ((n = send(fd, p, len, PORT_MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
view_reply(int fd, int code, const char *reason, const char *body,
    size_t len, int head)
{
	char	hdr[768];
	int	n;

	n = snprintf(hdr, sizeof hdr, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
	    "Referrer-Policy: no-referrer\r\nX-Frame-Options: DENY\r\n"
	    "Content-Security-Policy: default-src 'none'; style-src "
	    "'unsafe-inline'; img-src data:; base-uri 'none'; form-action "
	    "'none'; frame-ancestors 'none'\r\nConnection: close\r\n\r\n",
	    code, reason, code == 200 ? "text/html; charset=utf-8" :
	    "text/plain; charset=utf-8", len);
	if (n < 0 || (size_t)n >= sizeof hdr)
		return;
	if (view_send(fd, hdr, (size_t)n) == 0 && !head)
		(void)view_send(fd, body, len);
}

/* Compare in time independent of where they differ. */
static int
view_token_eq(const char *a, size_t alen, const char *b)
{
	size_t		 i, blen = strlen(b);
	unsigned char	 d = 0;

	if (alen != blen)
		return 0;
	for (i = 0; i < alen; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

/* The Host header is ours (a DNS-rebinding page sends its own name). */
static int
view_host_ok(const char *head, unsigned port)
{
	const char	*h, *e;
	char		 want[2][32];
	size_t		 n;

	for (h = strchr(head, '\n'); h != NULL; h = strchr(h, '\n')) {
		h++;
		if (strncasecmp(h, "host:", 5) != 0)
			continue;
		h += 5;
		while (*h == ' ' || *h == '\t')
			h++;
		e = h + strcspn(h, "\r\n");
		while (e > h && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		n = (size_t)(e - h);
		snprintf(want[0], sizeof want[0], "127.0.0.1:%u", port);
		snprintf(want[1], sizeof want[1], "localhost:%u", port);
		return (n == strlen(want[0]) && memcmp(h, want[0], n) == 0) ||
		    (n == strlen(want[1]) && memcmp(h, want[1], n) == 0);
	}
	return 0;
}

/* One connection: a request head, one answer, close. */
static void
view_handle(int fd, const struct paths *p, unsigned last, const char *token,
    unsigned port)
{
	static const char forbidden[] = "Forbidden: open the address that "
	    "atomcode-telemetry view --serve printed.\n";
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	char		 req[VIEW_REQ_MAX + 1], *sp, *path;
	size_t		 len = 0, plen;
	ssize_t		 n;
	struct buf	 page;
	int		 head;

	while (len < VIEW_REQ_MAX) {
		if (poll(&pfd, 1, VIEW_IO_MS) <= 0)
			return;
		if ((n = recv(fd, req + len, VIEW_REQ_MAX - len, 0)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			return;
		}
		len += (size_t)n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL ||
		    strstr(req, "\n\n") != NULL)
			break;
	}
	req[len] = '\0';
	head = strncmp(req, "HEAD ", 5) == 0;
	if (strncmp(req, "GET ", 4) != 0 && !head) {
		view_reply(fd, 405, "Method Not Allowed", "GET only\n", 9, 0);
		return;
	}
	path = req + (head ? 5 : 4);
	if ((sp = strchr(path, ' ')) == NULL) {
		view_reply(fd, 400, "Bad Request", "bad request\n", 12, 0);
		return;
	}
	plen = strcspn(path, "? ");
	if (plen > 1 && path[plen - 1] == '/')
		plen--;
	if (plen < 1 || path[0] != '/' ||
	    !view_token_eq(path + 1, plen - 1, token) ||
	    !view_host_ok(sp, port)) {
		view_reply(fd, 403, "Forbidden", forbidden,
		    sizeof forbidden - 1, head);
		return;
	}
	if (view_build(p, last, &page) == -1) {
		view_reply(fd, 500, "Internal Server Error", "out of memory\n",
		    14, head);
		return;
	}
	view_reply(fd, 200, "OK", page.data, page.len, head);
	buf_free(&page);
}

/* A 128-bit random token as hex. */
static int
view_token(char *out, size_t len)
{
	unsigned char	r[VIEW_TOKEN_BYTES];
	size_t		i, got = 0;
	ssize_t		n;
	int		fd;

	if (len < 2 * sizeof r + 1 ||
	    (fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while (got < sizeof r) {
		if ((n = read(fd, r + got, sizeof r - got)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		got += (size_t)n;
	}
	close(fd);
	for (i = 0; i < sizeof r; i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
	return 0;
}

/* --serve: 127.0.0.1, a random port, a random token, until a signal. */
static int
view_serve(const struct paths *p, unsigned last, int open_it)
{
	struct sockaddr_in	 sin;
	struct sigaction	 sa, old_int, old_term;
	socklen_t		 slen = sizeof sin;
	struct pollfd		 pfd;
	char			 token[2 * VIEW_TOKEN_BYTES + 1], url[128];
	unsigned		 port;
	int			 fd, c, r;

	if (view_token(token, sizeof token) == -1) {
		fprintf(stderr, "atomcode-telemetry: view: no randomness: %s\n",
		    strerror(errno));
		return 1;
	}
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = 0;
	if ((fd = port_socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof sin) == -1 ||
	    listen(fd, 16) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &slen) == -1) {
		fprintf(stderr, "atomcode-telemetry: view: cannot listen on "
		    "127.0.0.1: %s\n", strerror(errno));
		if (fd != -1)
			close(fd);
		return 1;
	}
	port = ntohs(sin.sin_port);
	snprintf(url, sizeof url, "http://127.0.0.1:%u/%s", port, token);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = view_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	printf("%s\n", url);
	fprintf(stderr, "Serving the telemetry page on 127.0.0.1 only; "
	    "Ctrl-C stops.\n");
	fflush(stdout);
	if (open_it)
		(void)view_open(url);
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (!view_stop) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;	/* an opener left running */
		r = poll(&pfd, 1, 1000);
		if (r <= 0)
			continue;
		if ((c = port_accept(fd, 0)) == -1)
			continue;
		view_handle(c, p, last, token, port);
		close(c);
	}
	close(fd);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	fprintf(stderr, "Stopped.\n");
	return 0;
}

/* `view [--last N] [--output FILE] [--open] [--serve]`. */
int
cmd_view(const struct paths *p, int argc, char **argv)
{
	const char	*output = NULL;
	char		 path[PATHS_MAX + 32], *end;
	struct buf	 page;
	long		 last = VIEW_LAST_DEFAULT;
	int		 i, open_it = 0, serve = 0, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--open") == 0)
			open_it = 1;
		else if (strcmp(argv[i], "--serve") == 0)
			serve = 1;
		else if ((strcmp(argv[i], "--output") == 0 ||
		    strcmp(argv[i], "-o") == 0) && i + 1 < argc)
			output = argv[++i];
		else if (strcmp(argv[i], "--last") == 0 && i + 1 < argc) {
			errno = 0;
			last = strtol(argv[++i], &end, 10);
			if (errno != 0 || *end != '\0' || end == argv[i] ||
			    last < 0 || last > VIEW_LAST_MAX) {
				fprintf(stderr, "atomcode-telemetry: view: "
				    "--last takes a number from 0 to %d\n",
				    VIEW_LAST_MAX);
				return 2;
			}
		} else {
			fprintf(stderr, "atomcode-telemetry: view: unknown "
			    "argument %s\n", argv[i]);
			return 2;
		}
	}
	if (serve && output != NULL) {
		fprintf(stderr, "atomcode-telemetry: view: --serve writes no "
		    "file; drop --output\n");
		return 2;
	}
	if (serve)
		return view_serve(p, (unsigned)last, open_it);
	if (output != NULL) {
		if ((size_t)snprintf(path, sizeof path, "%s", output) >=
		    sizeof path) {
			fprintf(stderr, "atomcode-telemetry: view: path too "
			    "long\n");
			return 2;
		}
	} else if (view_default_path(p, path, sizeof path) == -1) {
		fprintf(stderr, "atomcode-telemetry: view: no place to write "
		    "the page: %s\n", strerror(errno));
		return 1;
	}
	if (view_build(p, (unsigned)last, &page) == -1) {
		fprintf(stderr, "atomcode-telemetry: view: out of memory\n");
		return 1;
	}
	rc = view_write(path, page.data, page.len);
	buf_free(&page);
	if (rc == -1) {
		fprintf(stderr, "atomcode-telemetry: view: cannot write %s: "
		    "%s\n", path, strerror(errno));
		return 1;
	}
	printf("%s\n", path);
	fflush(stdout);
	if (open_it && view_open(path) == -1)
		return 1;
	return 0;
}
