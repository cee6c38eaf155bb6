/*
 * fuzz_queue_line — libFuzzer target for stored queue lines: rec_line_ok
 * (proto/record.c) and queue recovery (proto/queue.c). The input becomes
 * the content of a managed partial segment (with its .partial.owner marker,
 * lock free) in a scratch queue directory; queue_open runs recovery, then
 * queue_check and queue_stats look at the result, and the directory is
 * emptied for the next input (one directory per process, reused).
 *
 * The outcome is compared with the recovery rules applied with jansson (the oracle
 * below): every non-blank line a JSON object with a string event_id and an
 * integer ts → promoted (a bad or torn last line is cut, a missing final
 * newline added); a bad line before the last → quarantined unchanged;
 * nothing left → deleted. No .partial or marker may survive.
 *
 * When the input is one line, rec_line_ok must agree with that jansson
 * check (record.h: it checks a stored line "the way recovery does").
 * Must never touch files outside its scratch directory.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "fuzz_common.h"
#include "queue.h"
#include "record.h"

#define SEG_UUID	"5f0c6a3e-1d2b-4c3a-9e8f-7a6b5c4d3e2f"
#define STEM_LEN	(15 + 1 + 36)	/* YYYYMMDD-HHMMSS-uuid */

enum verdict { V_PROMOTE, V_QUARANTINE, V_DELETE };

static char	qdir[FUZZ_PATH_MAX], stem[STEM_LEN + 1];
static char	partial[FUZZ_PATH_MAX], marker[FUZZ_PATH_MAX];
static char	ready[FUZZ_PATH_MAX], invalid[FUZZ_PATH_MAX];

/* The scratch queue directory and this process's segment names. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char		 name[FUZZ_PATH_MAX];
	struct tm	 tm;
	time_t		 now = time(NULL);

	(void)argc;
	(void)argv;
	fuzz_path(qdir, sizeof qdir, fuzz_scratch_dir("queue"), "queue");
	FUZZ_CHECK(mkdir(qdir, 0700) == 0, "mkdir %s: %s", qdir,
	    strerror(errno));
	/* A fresh name: recovery deletes partials older than 90 days. */
	gmtime_r(&now, &tm);
	FUZZ_CHECK(strftime(stem, sizeof stem, "%Y%m%d-%H%M%S-", &tm) == 16,
	    "strftime");
	memcpy(stem + 16, SEG_UUID, sizeof SEG_UUID);
	snprintf(name, sizeof name, "%s.partial", stem);
	fuzz_path(partial, sizeof partial, qdir, name);
	snprintf(name, sizeof name, "%s.partial.owner", stem);
	fuzz_path(marker, sizeof marker, qdir, name);
	snprintf(name, sizeof name, "%s.ndjson", stem);
	fuzz_path(ready, sizeof ready, qdir, name);
	snprintf(name, sizeof name, "%s.invalid", stem);
	fuzz_path(invalid, sizeof invalid, qdir, name);
	return 0;
}

/*
 * Recovery's rule: a JSON object with a string event_id and an integer ts.
 * A raw NUL byte is never valid JSON (RFC 8259: control characters only
 * escaped, inside strings), but jansson drops one that follows a number
 * ("12800\0,": its lexer's unget reads the NUL as "buffer empty"), so the
 * oracle rules it out before asking jansson.
 */
static int
spec_line_ok(const char *p, size_t n)
{
	json_t		*j, *v;
	json_error_t	 err;
	int		 ok;

	if (memchr(p, '\0', n) != NULL)
		return 0;
	if ((j = json_loadb(p, n, JSON_ALLOW_NUL, &err)) == NULL)
		return 0;
	ok = json_is_object(j) &&
	    (v = json_object_get(j, "event_id")) != NULL && json_is_string(v) &&
	    (v = json_object_get(j, "ts")) != NULL && json_is_integer(v);
	json_decref(j);
	return ok;
}

static int
blank(const char *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (!isspace((unsigned char)p[i]))
			return 0;
	}
	return 1;
}

/*
 * What recovery must do with content p[0..n); for V_PROMOTE *keep bytes
 * stay and *add_nl says whether a newline is appended.
 */
static enum verdict
oracle(const char *p, size_t n, size_t *keep, int *add_nl)
{
	const char	*e = p + n, *s, *nl, *ls = NULL;
	size_t		 ll = 0;
	unsigned	 valid = 0;
	int		 lnl = 0;

	*keep = n;
	*add_nl = 0;
	for (s = p; s < e; s = nl + 1) {
		if ((nl = memchr(s, '\n', (size_t)(e - s))) == NULL)
			nl = e;
		if (!blank(s, (size_t)(nl - s))) {
			ls = s;
			ll = (size_t)(nl - s);
			lnl = nl < e;
		}
	}
	if (ls == NULL)
		return V_DELETE;
	if (spec_line_ok(ls, ll)) {
		valid++;
		*add_nl = !lnl;
	} else
		*keep = (size_t)(ls - p);	/* torn or bad tail: cut */
	for (s = p; s < ls; s = nl + 1) {
		nl = memchr(s, '\n', (size_t)(ls - s));
		if (blank(s, (size_t)(nl - s)))
			continue;
		if (!spec_line_ok(s, (size_t)(nl - s)))
			return V_QUARANTINE;
		valid++;
	}
	if (valid > 0)
		return V_PROMOTE;
	return lnl ? V_QUARANTINE : V_DELETE;
}

static uint64_t
count_lines(const char *p, size_t n)
{
	const char	*e = p + n, *nl;
	uint64_t	 c = 0;

	for (; p < e; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(e - p))) == NULL)
			nl = e;
		if (!blank(p, (size_t)(nl - p)))
			c++;
	}
	return c;
}

/* Files left in the queue directory; removes them all. */
static unsigned
empty_dir(void)
{
	char		 path[FUZZ_PATH_MAX];
	DIR		*d;
	struct dirent	*de;
	unsigned	 n = 0;

	d = opendir(qdir);
	FUZZ_CHECK(d != NULL, "opendir %s: %s", qdir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		fuzz_path(path, sizeof path, qdir, de->d_name);
		FUZZ_CHECK(unlink(path) == 0, "unlink %s: %s", path,
		    strerror(errno));
		n++;
	}
	closedir(d);
	return n;
}

static void
bad_line(const char *file, unsigned line, const char *why, void *arg)
{
	(void)file;
	(void)line;
	(void)why;
	(void)arg;
}

/* One input: the content of a partial segment. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char			*in = (const char *)data;
	const struct queue_recovery	*r;
	struct queue_stats		 st;
	struct queue			*q;
	struct stat			 sb;
	enum verdict			 v;
	char				 cause[512], *got;
	size_t				 keep, glen, llen;
	unsigned			 nfiles, nbad, left;
	int				 ok, spec, add_nl;

	ok = rec_line_ok(in, size);
	FUZZ_CHECK(ok == 0 || ok == 1, "rec_line_ok returned %d", ok);
	/* One line (its newline, if any, is the last byte). */
	llen = size > 0 && in[size - 1] == '\n' ? size - 1 : size;
	if (memchr(in, '\n', llen) == NULL) {
		ok = rec_line_ok(in, llen);
		spec = spec_line_ok(in, llen);
		FUZZ_CHECK(ok == spec, "rec_line_ok %d, recovery (jansson) %d: "
		    "%.*s", ok, spec, (int)llen, in);
	}

	fuzz_write_file(partial, data, size);
	fuzz_write_file(marker, "", 0);
	FUZZ_CHECK(queue_open(qdir, 0, &q, cause, sizeof cause) == 0,
	    "queue_open: %s", cause);
	r = queue_last_recovery(q);
	FUZZ_CHECK(lstat(partial, &sb) == -1 && lstat(marker, &sb) == -1,
	    "a free managed partial or its marker survived recovery");

	v = oracle(in, size, &keep, &add_nl);
	FUZZ_CHECK(queue_check(qdir, bad_line, NULL, &nfiles, &nbad) == 0,
	    "queue_check: %s", strerror(errno));
	FUZZ_CHECK(queue_stats(q, &st) == 0, "queue_stats: %s",
	    strerror(errno));
	switch (v) {
	case V_PROMOTE:
		FUZZ_CHECK(r->promoted == 1 && r->quarantined == 0 &&
		    r->deleted_empty == 0, "expected promoted: promoted %u "
		    "quarantined %u deleted %u", r->promoted, r->quarantined,
		    r->deleted_empty);
		FUZZ_CHECK(r->torn_tails == (keep < size), "torn_tails %u",
		    r->torn_tails);
		got = fuzz_read_file(ready, &glen);
		FUZZ_CHECK(got != NULL, "no ready segment");
		FUZZ_CHECK(glen == keep + (size_t)add_nl &&
		    fuzz_memeq(got, in, keep) && (!add_nl || got[keep] == '\n'),
		    "ready segment is %zu bytes, expected %zu of the input%s",
		    glen, keep, add_nl ? " + newline" : "");
		FUZZ_CHECK(nfiles == 1 && nbad == 0, "queue_check on the "
		    "promoted segment: %u files, %u bad lines", nfiles, nbad);
		FUZZ_CHECK(st.ready_segments == 1 && st.ready_bytes == glen &&
		    st.ready_events == count_lines(got, glen) &&
		    st.invalid_segments == 0 && st.partial_segments == 0,
		    "stats: ready %" PRIu64 "/%" PRIu64 " ev, %" PRIu64
		    " bytes, invalid %" PRIu64 ", partial %" PRIu64,
		    st.ready_segments, st.ready_events, st.ready_bytes,
		    st.invalid_segments, st.partial_segments);
		free(got);
		break;
	case V_QUARANTINE:
		FUZZ_CHECK(r->quarantined == 1 && r->promoted == 0,
		    "expected quarantined: promoted %u quarantined %u "
		    "deleted %u", r->promoted, r->quarantined,
		    r->deleted_empty);
		got = fuzz_read_file(invalid, &glen);
		FUZZ_CHECK(got != NULL && glen == size && fuzz_memeq(got, in,
		    size), "quarantined content changed");
		FUZZ_CHECK(nfiles == 1 && nbad >= 1, "queue_check on the "
		    "invalid segment: %u files, %u bad lines", nfiles, nbad);
		FUZZ_CHECK(st.ready_segments == 0 && st.invalid_segments == 1 &&
		    st.invalid_bytes == size, "stats of a quarantined segment");
		free(got);
		break;
	case V_DELETE:
		FUZZ_CHECK(r->deleted_empty == 1 && r->promoted == 0 &&
		    r->quarantined == 0, "expected deleted: promoted %u "
		    "quarantined %u deleted %u", r->promoted, r->quarantined,
		    r->deleted_empty);
		FUZZ_CHECK(nfiles == 0 && st.ready_segments == 0 &&
		    st.partial_segments == 0, "files left after delete");
		break;
	}
	FUZZ_CHECK(r->evicted == 0 && r->deleted_old == 0, "evicted %u, "
	    "deleted_old %u", r->evicted, r->deleted_old);
	queue_close(q);
	left = empty_dir();
	FUZZ_CHECK(left == (v == V_DELETE ? 0u : 1u), "%u files left", left);
	return 0;
}
