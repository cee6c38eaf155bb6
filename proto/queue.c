/*
 * queue.c — the on-disk segment store shared with upstream AtomCode
 * (README "Queue on disk"): writing, rolling, claiming, recovery, caps,
 * the shared dropped counter, stats/clear/dump/check.
 *
 * Upstream processes use the same directory at the same time, so every
 * state change is a rename or unlink of a whole file, a partial is only
 * modified while its flock is held, and nothing here may ever touch a
 * partial whose lock is held, follow a symlink, or remove a file whose name
 * does not match one of our patterns. Library code: never prints or exits.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <uuid/uuid.h>

#include "fsio.h"
#include "port.h"
#include "queue.h"

#define EXT_PARTIAL	".partial"
#define EXT_MARKER	".partial.owner"
#define EXT_READY	".ndjson"
#define EXT_INVALID	".invalid"
#define CLAIM_TAG	".sending-"
#define EXT_TAKEOVER	".takeover"	/* a symlink: <nonce>.takeover */
#define DROPPED_FILE	"../queue-dropped"	/* beside the queue dir */
#define STAMP_LEN	15		/* "YYYYMMDD-HHMMSS" */
#define UUID_STR	37		/* 36 characters + NUL */
#define RECOVER_MAX	(64 * 1024 * 1024) /* bigger partials: quarantined */
#define READ_MAX	(256 * 1024 * 1024) /* largest file read into memory */
#define DROPPED_MAX	32		/* bytes of the dropped counter */
#define CAUSE_PATH	160		/* path bytes quoted in a cause */
#define STEM_MAX	64		/* our stems: 15 + 1 + 36 + NUL */
#define STEM_TIME_LEN	15		/* "YYYYMMDD-HHMMSS" */

enum kind {
	K_OTHER = 0,	/* not ours: never touched */
	K_PARTIAL,	/* X.partial */
	K_MARKER,	/* X.partial.owner */
	K_READY,	/* X.ndjson */
	K_INVALID,	/* X.invalid */
	K_CLAIM,	/* X.ndjson.sending-<pid>-<uuid> */
};

/* A regular file found in the directory. */
struct ent {
	char		*name;
	enum kind	 kind;
	uint64_t	 size;
	time_t		 mtime;
};

struct queue {
	char			*dir;
	int			 dfd;		/* the directory */
	enum queue_fsync	 fsync;
	int			 afd;		/* active segment, -1 */
	char			 aname[QUEUE_NAME_MAX]; /* its name */
	char			 handed[QUEUE_NAME_MAX]; /* last one rolled
							    by the roller */
	unsigned		 aevents;
	uint64_t		 abytes;
	uint64_t		 dropped_mem;	/* if the file fails */
	struct queue_recovery	 last;
	int			 rdonly;	/* QUEUE_O_RDONLY */
	uint64_t		 gen;		/* active segments started */
	char			 warn[CAUSE_PATH + 160]; /* queue_warning() */
	int			 defer_dirsync;	/* caller runs queue_sync_dir() */
	int			 dir_dirty;	/* renames not yet fsynced */
	int			 no_dirsync;	/* rolls never fsync the directory */
	queue_roller_fn		 roller;	/* finishes full segments, or NULL */
	void			*roller_arg;
	queue_write_hook_fn	 write_hook;	/* queue_write_ready() output */
	void			*write_hook_arg;
};

/* What recovery decided for a partial's content. */
enum verdict {
	V_PROMOTE,	/* rename to .ndjson (after cutting/repairing) */
	V_QUARANTINE,	/* rename to .invalid */
	V_DELETE,	/* no record in it */
};

struct analysis {
	enum verdict	 v;
	size_t		 keep;		/* bytes kept */
	int		 torn;		/* last line cut off */
	int		 add_nl;	/* last line valid, no newline */
	unsigned	 valid;		/* valid lines kept */
	int64_t		 max_ts;	/* newest record ts (ms), INT64_MIN */
};

static int
has_suffix(const char *s, const char *suf)
{
	size_t	ls = strlen(s), lf = strlen(suf);

	return ls > lf && memcmp(s + ls - lf, suf, lf) == 0;
}

static enum kind
classify(const char *name)
{
	const char	*p;
	size_t		 l;

	if ((p = strstr(name, CLAIM_TAG)) != NULL) {
		l = (size_t)(p - name);
		if (l > strlen(EXT_READY) && memcmp(p - strlen(EXT_READY),
		    EXT_READY, strlen(EXT_READY)) == 0)
			return K_CLAIM;
		return K_OTHER;
	}
	if (has_suffix(name, EXT_MARKER))
		return K_MARKER;
	if (has_suffix(name, EXT_PARTIAL))
		return K_PARTIAL;
	if (has_suffix(name, EXT_READY))
		return K_READY;
	if (has_suffix(name, EXT_INVALID))
		return K_INVALID;
	return K_OTHER;
}

/* Copy name without its suffix of length sl plus add into out. */
static int
rename_ext(char *out, size_t outlen, const char *name, size_t sl,
    const char *add)
{
	size_t	l = strlen(name);
	int	n;

	if (sl > l)
		sl = l;
	n = snprintf(out, outlen, "%.*s%s", (int)(l - sl), name, add);
	if (n < 0 || (size_t)n >= outlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* The UTC time in the first 15 characters of a segment name. */
static int
name_time(const char *name, time_t *t)
{
	struct tm	tm;
	int		i, v[6], w[6] = { 4, 2, 2, 2, 2, 2 };
	const char	*p = name;

	if (strlen(name) < STAMP_LEN || name[8] != '-')
		return -1;
	for (i = 0; i < 6; i++) {
		int k;

		if (i == 3)
			p++;	/* the '-' */
		v[i] = 0;
		for (k = 0; k < w[i]; k++, p++) {
			if (!isdigit((unsigned char)*p))
				return -1;
			v[i] = v[i] * 10 + (*p - '0');
		}
	}
	if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 ||
	    v[4] > 59 || v[5] > 60)
		return -1;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	tm.tm_hour = v[3];
	tm.tm_min = v[4];
	tm.tm_sec = v[5];
	*t = timegm(&tm);
	return 0;
}

static int
is_blank(const char *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (!isspace((unsigned char)p[i]))
			return 0;
	}
	return 1;
}

/*
 * The recovery check of one stored line (as upstream's): a JSON object with a
 * string event_id and an integer ts that fits int64. NULL if it passes
 * (its ts in *ts when ts is not NULL), else why not. Kept here rather
 * than in record.c on purpose (the queue must not depend on the schema).
 */
static const char *
line_check_ts(const char *p, size_t n, int64_t *ts)
{
	json_t		*j, *v;
	json_error_t	 err;
	const char	*why = NULL;

	/*
	 * A raw NUL byte is never JSON (RFC 8259), but jansson drops one
	 * that follows a number ("12800\0,"): refuse it before asking.
	 */
	if (memchr(p, '\0', n) != NULL)
		return "not valid JSON (a NUL byte)";
	if ((j = json_loadb(p, n, JSON_ALLOW_NUL, &err)) == NULL)
		return "not valid JSON";
	if (!json_is_object(j))
		why = "not a JSON object";
	else if ((v = json_object_get(j, "event_id")) == NULL ||
	    !json_is_string(v))
		why = "no string event_id";
	else if ((v = json_object_get(j, "ts")) == NULL || !json_is_integer(v))
		why = "no integer ts";
	else if (ts != NULL)
		*ts = (int64_t)json_integer_value(v);
	json_decref(j);
	return why;
}

static const char *
line_check(const char *p, size_t n)
{
	return line_check_ts(p, n, NULL);
}

/* Walk text's event lines (see queue.h). */
void
queue_lines_init(struct queue_lines *it, const char *text, size_t len)
{
	it->p = text;
	it->end = text + len;
	it->lineno = 0;
	it->eol = 0;
}

/* The next event line: 1 with *line and *len, 0 at the end. */
int
queue_lines_next(struct queue_lines *it, const char **line, size_t *len)
{
	const char	*nl;

	while (it->p < it->end) {
		if ((nl = memchr(it->p, '\n', (size_t)(it->end - it->p))) ==
		    NULL)
			nl = it->end;
		it->lineno++;
		it->eol = nl < it->end;
		*line = it->p;
		*len = (size_t)(nl - it->p);
		it->p = nl + 1;
		if (!is_blank(*line, *len))
			return 1;
	}
	return 0;
}

/* Event lines in text. */
uint64_t
queue_count_events(const char *text, size_t len)
{
	struct queue_lines	 it;
	const char		*l;
	size_t			 n;
	uint64_t		 c = 0;

	queue_lines_init(&it, text, len);
	while (queue_lines_next(&it, &l, &n))
		c++;
	return c;
}


/*
 * Decide what recovery does with a partial's content (upstream's rules,
 * with torn tails cut rather than quarantined).
 */
static void
analyze(const char *p, size_t n, struct analysis *a)
{
	struct queue_lines	 it;
	const char		*s, *ls = NULL;
	size_t			 l, ll = 0;
	int64_t			 ts = 0;
	int			 lnl = 0;

	memset(a, 0, sizeof *a);
	a->max_ts = INT64_MIN;
	/* Find the last non-blank line. */
	queue_lines_init(&it, p, n);
	while (queue_lines_next(&it, &s, &l)) {
		ls = s;
		ll = l;
		lnl = it.eol;
	}
	if (ls == NULL) {
		a->v = V_DELETE;
		return;
	}
	a->keep = n;
	if (line_check_ts(ls, ll, &ts) == NULL) {
		a->valid++;
		a->add_nl = !lnl;
		a->max_ts = ts;
	} else {
		a->torn = 1;
		a->keep = (size_t)(ls - p);
	}
	/* Every other non-blank line must pass. */
	queue_lines_init(&it, p, (size_t)(ls - p));
	while (queue_lines_next(&it, &s, &l)) {
		if (line_check_ts(s, l, &ts) != NULL) {
			a->v = V_QUARANTINE;
			return;
		}
		a->valid++;
		if (ts > a->max_ts)
			a->max_ts = ts;
	}
	if (a->valid > 0)
		a->v = V_PROMOTE;
	else if (lnl)
		a->v = V_QUARANTINE;	/* one bad line: as upstream */
	else
		a->v = V_DELETE;	/* only a torn fragment */
}

/* fdatasync where it exists (Linux), else fsync (port.c). */
static int
sync_data(int fd)
{
	return port_datasync(fd);
}

/* Read a regular file of the directory (never following symlinks). */
static int
read_at(int dfd, const char *name, struct buf *out)
{
	return fsio_read(dfd, name, FSIO_OWNER, READ_MAX, out);
}

static int
exists_at(int dfd, const char *name)
{
	struct stat	st;

	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* 1 if fd is a regular file still reachable as name. */
static int
same_file(int dfd, int fd, const char *name, struct stat *st)
{
	struct stat	nst;

	if (fstat(fd, st) == -1 || !S_ISREG(st->st_mode))
		return 0;
	if (fstatat(dfd, name, &nst, AT_SYMLINK_NOFOLLOW) == -1)
		return 0;
	return nst.st_dev == st->st_dev && nst.st_ino == st->st_ino;
}

static int
ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ent *)a)->name,
	    ((const struct ent *)b)->name);
}

static void
ents_free(struct ent *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

/*
 * Whether a file found in the directory may be read, uploaded, renamed or
 * removed: a regular file of ours that others cannot write. Anything else
 * (another user's file planted while the directory was writable by
 * others, a world-writable one) is never touched.
 */
static int
trusted(const struct stat *st)
{
	return S_ISREG(st->st_mode) && st->st_uid == geteuid() &&
	    (st->st_mode & S_IWOTH) == 0;
}

/*
 * List the trusted files of the directory in name order. Symlinks, other
 * non-regular entries and files of other users are left out (never
 * followed, never touched); *nforeign (if not NULL) counts regular files
 * left out for their owner or mode.
 */
static int
scan_dir(int dfd, struct ent **out, size_t *nout, size_t *nforeign)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	struct ent	*v = NULL, *nv;
	size_t		 n = 0, cap = 0;
	int		 fd, e;

	if ((fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (de->d_name[0] == '.' && (de->d_name[1] == '\0' ||
		    (de->d_name[1] == '.' && de->d_name[2] == '\0')))
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (!trusted(&st)) {
			if (nforeign != NULL)
				(*nforeign)++;
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if (cap > SIZE_MAX / sizeof *v) {
				errno = ENOMEM;
				goto fail;
			}
			if ((nv = realloc(v, cap * sizeof *v)) == NULL)
				goto fail;
			v = nv;
		}
		if ((v[n].name = strdup(de->d_name)) == NULL)
			goto fail;
		v[n].kind = classify(de->d_name);
		v[n].size = (uint64_t)st.st_size;
		v[n].mtime = st.st_mtime;
		n++;
	}
	if (errno != 0)
		goto fail;
	closedir(d);
	if (n > 0)
		qsort(v, n, sizeof *v, ent_cmp);
	*out = v;
	*nout = n;
	return 0;
fail:
	e = errno;
	closedir(d);
	ents_free(v, n);
	errno = e;
	return -1;
}

static time_t
now_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

/*
 * Make a new unique segment stem "<UTC YYYYMMDD-HHMMSS>-<uuid>", with the
 * time stamp of at (its first STAMP_LEN characters) when not NULL.
 */
static void
new_stem_at(char *out, size_t outlen, const char *at)
{
	struct tm	tm;
	time_t		t = now_s();
	char		stamp[32], u[UUID_STR];
	uuid_t		id;

	gmtime_r(&t, &tm);
	if (at != NULL && strlen(at) >= STAMP_LEN)
		snprintf(stamp, sizeof stamp, "%.*s", STAMP_LEN, at);
	else if (strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm) == 0)
		memcpy(stamp, "19700101-000000", STAMP_LEN + 1);
	uuid_generate_random(id);
	uuid_unparse_lower(id, u);
	snprintf(out, outlen, "%.15s-%.36s", stamp, u);
}

/*
 * Create a new partial with its lock and marker: O_EXCL|O_NOFOLLOW 0600,
 * flock(LOCK_EX) taken before the marker appears (so recovery never sees
 * a managed partial without a lock). Returns the fd, name in name.
 *
 * prev (or NULL) names our previous partial, handed to the roller, whose
 * marker may still exist: the new marker is then a hard link to it (the
 * markers are empty and only their names count), which allocates no
 * inode. On ext4 without a journal, allocating an inode scans past every
 * inode freed in the last minutes (0.8-1.4 ms per file on a machine that
 * deletes many files); a segment then costs one allocation, not two.
 */
static int
partial_create_at(int dfd, char *name, size_t namelen, const char *prev,
    const char *at)
{
	char	stem[STEM_MAX], marker[QUEUE_NAME_MAX];
	char	pmarker[QUEUE_NAME_MAX + 16];
	int	fd, mfd, e;

	new_stem_at(stem, sizeof stem, at);
	snprintf(name, namelen, "%s%s", stem, EXT_PARTIAL);
	snprintf(marker, sizeof marker, "%s%s", stem, EXT_MARKER);
	fd = openat(dfd, name, O_WRONLY | O_APPEND | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) == -1)
		goto fail;
	if (prev != NULL && prev[0] != '\0' && snprintf(pmarker,
	    sizeof pmarker, "%s.owner", prev) < (int)sizeof pmarker &&
	    linkat(dfd, pmarker, dfd, marker, 0) == 0)
		return fd;	/* linked: the roller unlinks the old name */
	mfd = openat(dfd, marker, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (mfd == -1)
		goto fail;
	close(mfd);
	return fd;
fail:
	e = errno;
	unlinkat(dfd, name, 0);
	close(fd);
	errno = e;
	return -1;
}

static int
partial_create(int dfd, char *name, size_t namelen, const char *prev)
{
	return partial_create_at(dfd, name, namelen, prev, NULL);
}

/* Remove the marker of partial name (ENOENT is fine). */
static void
marker_remove(int dfd, const char *partial)
{
	char	marker[QUEUE_NAME_MAX + 16];

	if (snprintf(marker, sizeof marker, "%s.owner", partial) <
	    (int)sizeof marker)
		unlinkat(dfd, marker, 0);
}

/*
 * Finish a partial we hold locked: rename to .ndjson, remove the marker.
 * The caller closes fd afterwards (the rename happens under the lock).
 */
static int
partial_finish(int dfd, const char *name)
{
	char	ready[QUEUE_NAME_MAX];

	if (rename_ext(ready, sizeof ready, name, strlen(EXT_PARTIAL),
	    EXT_READY) == -1)
		return -1;
	if (renameat(dfd, name, dfd, ready) == -1)
		return -1;
	marker_remove(dfd, name);
	return 0;
}

static void
partial_discard(int dfd, const char *name)
{
	unlinkat(dfd, name, 0);
	marker_remove(dfd, name);
}

/* Add n to the shared dropped counter (file beside the queue dir). */
static void
dropped_add(struct queue *q, uint64_t n)
{
	char		 b[DROPPED_MAX];
	ssize_t		 r;
	uint64_t	 v = 0;
	int		 fd, l;
	char		*end;

	q->dropped_mem += n;
	fd = fsio_open(q->dfd, DROPPED_FILE, O_RDWR | O_CREAT, 0600,
	    FSIO_OWNER);
	if (fd == -1)
		return;
	if (flock(fd, LOCK_EX) == -1)
		goto out;
	if ((r = pread(fd, b, sizeof b - 1, 0)) > 0) {
		b[r] = '\0';
		errno = 0;
		v = strtoull(b, &end, 10);
		if (errno != 0 || end == b)
			v = 0;
	}
	v += n;
	l = snprintf(b, sizeof b, "%" PRIu64 "\n", v);
	if (pwrite(fd, b, (size_t)l, 0) == l)
		(void)ftruncate(fd, l);
out:
	close(fd);	/* releases the lock */
}

/* Read the total of events evicted as non-blank lines of a ready file. */
static uint64_t
file_events(int dfd, const char *name)
{
	struct buf	b = { NULL, 0, 0 };
	uint64_t	c = 0;

	if (read_at(dfd, name, &b) == 0)
		c = queue_count_events(b.data, b.len);
	buf_free(&b);
	return c;
}

#define MERGE_TO	(QUEUE_CAP_FILES - 10)	/* merging stops at this count */

static int	fsync_dir(struct queue *);
#define MERGE_MAX	64	/* segments merged into one at most */

/* Rename claim back to ready (a merge that gives up). */
static void
merge_unclaim(struct queue *q, const char *claim, const char *ready)
{
	(void)renameat(q->dfd, claim, q->dfd, ready);
}

/*
 * A merge of segments that a second destination shares (their link count
 * says so: agent/export.c links every segment into QUEUE_MIRROR_DIR) gives
 * it a link to the result, so it never takes those records again: 0, or
 * -1 when the mirror exists but cannot be linked into (then no merge).
 * partial is the merged segment, still a partial.
 */
static int
merge_mirror(struct queue *q, const char *partial)
{
	struct stat	 st;
	char		 to[QUEUE_NAME_MAX + 16];
	size_t		 l = strlen(partial) - strlen(EXT_PARTIAL);
	int		 mdfd, rv;

	mdfd = openat(q->dfd, QUEUE_MIRROR_DIR, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC);
	if (mdfd == -1)
		return errno == ENOENT ? 0 : -1;	/* nobody to tell */
	if (fstat(mdfd, &st) == -1 || st.st_uid != geteuid() ||
	    (size_t)snprintf(to, sizeof to, "%.*s.skip", (int)l, partial) >=
	    sizeof to) {
		close(mdfd);
		return -1;
	}
	rv = linkat(q->dfd, partial, mdfd, to, 0);
	close(mdfd);
	return rv;
}

/*
 * Merge the oldest run of small ready segments (v[*from..], name order)
 * that fits one segment (QUEUE_ROLL_EVENTS, QUEUE_ROLL_BYTES) into one,
 * named with the oldest one's time stamp so it keeps its place in upload
 * and eviction order. Each source is claimed first (the rename is the
 * mutex: one an uploader or another process took is skipped); the merged
 * segment is written as a locked partial and synced, the claimed sources
 * are removed, then it is renamed ready. A crash before the removals leaves
 * the claims (restored after QUEUE_CLAIM_STALE_S) and a managed partial
 * (promoted): records stored twice, never lost; after them, only the
 * partial. Returns the files saved (merged - 1), 0 when no run of two or
 * more is left, -1 on error.
 */
static int
merge_oldest(struct queue *q, const struct ent *v, size_t n, size_t *from)
{
	char		 claim[MERGE_MAX][QUEUE_NAME_MAX + 64];
	const char	*ready[MERGE_MAX];
	char		 name[QUEUE_NAME_MAX], u[UUID_STR];
	struct buf	 b = { NULL, 0, 0 };
	const struct ent *e;
	struct stat	 st;
	uint64_t	 bytes = 0;
	unsigned	 events = 0, k = 0, i, ev;
	size_t		 mark;
	uuid_t		 id;
	int		 fd, rv = 0, fits, shared = 0, run_shared = 0;

	for (; *from < n && k < MERGE_MAX; (*from)++) {
		e = &v[*from];
		if (e->kind != K_READY || e->size + 1 > QUEUE_ROLL_BYTES)
			continue;	/* too big to merge with anything */
		fits = bytes + e->size + 1 <= QUEUE_ROLL_BYTES;
		if (fits) {
			uuid_generate_random(id);
			uuid_unparse_lower(id, u);
			snprintf(claim[k], sizeof claim[k], "%s%s%ld-%s",
			    e->name, CLAIM_TAG, (long)getpid(), u);
			if (renameat(q->dfd, e->name, q->dfd, claim[k]) == -1)
				continue;	/* claimed or gone meanwhile */
			mark = b.len;
			if (read_at(q->dfd, claim[k], &b) == -1) {
				merge_unclaim(q, claim[k], e->name);
				continue;
			}
			ev = (unsigned)queue_count_events(b.data + mark,
			    b.len - mark);
			if (ev > QUEUE_ROLL_EVENTS) {
				/* Full on its own: never merged. */
				b.len = mark;
				merge_unclaim(q, claim[k], e->name);
				continue;
			}
			if (events + ev > QUEUE_ROLL_EVENTS) {
				b.len = mark;
				merge_unclaim(q, claim[k], e->name);
				fits = 0;
			}
			/* Shared and unshared segments never mix in a run. */
			shared = fstatat(q->dfd, claim[k], &st,
			    AT_SYMLINK_NOFOLLOW) == 0 && st.st_nlink > 1;
			if (fits && k == 0)
				run_shared = shared;
			else if (fits && shared != run_shared) {
				b.len = mark;
				merge_unclaim(q, claim[k], e->name);
				fits = 0;
			}
		}
		if (!fits) {
			if (k >= 2)
				break;	/* this one starts the next run */
			/* A run of one cannot grow: start again here. */
			for (i = 0; i < k; i++)
				merge_unclaim(q, claim[i], ready[i]);
			b.len = 0;
			bytes = events = 0;
			if (k > 0) {
				k = 0;
				(*from)--;	/* this entry, in a new run */
			}
			continue;
		}
		if (b.len > mark && b.data[b.len - 1] != '\n' &&
		    buf_putc(&b, '\n') == -1) {
			merge_unclaim(q, claim[k], e->name);
			rv = -1;
			goto giveup;
		}
		ready[k++] = e->name;
		bytes = b.len;
		events += ev;
	}
	if (k < 2)
		goto giveup;
	if ((fd = partial_create_at(q->dfd, name, sizeof name, NULL,
	    ready[0])) == -1) {
		rv = -1;
		goto giveup;
	}
	if (fsio_write_all(fd, b.data, b.len) == -1 ||
	    (q->fsync != QUEUE_FSYNC_NEVER && fsync(fd) == -1) ||
	    (run_shared && merge_mirror(q, name) == -1)) {
		partial_discard(q->dfd, name);
		close(fd);
		rv = -1;
		goto giveup;
	}
	for (i = 0; i < k; i++)
		(void)unlinkat(q->dfd, claim[i], 0);
	if (partial_finish(q->dfd, name) == -1)
		rv = -1;	/* a managed partial: recovery promotes it */
	else
		rv = (int)k - 1;
	close(fd);
	(void)fsync_dir(q);
	buf_free(&b);
	return rv;
giveup:
	for (i = 0; i < k; i++)
		merge_unclaim(q, claim[i], ready[i]);
	buf_free(&b);
	return rv;
}

/*
 * Evict the oldest .invalid file (invalid_only) or else the oldest ready
 * one still listed in v; its events are counted in *dropped. 1 if one was
 * taken off the list, 0 if none is left.
 */
static int
evict_one(struct queue *q, struct ent *v, size_t n, int invalid_only,
    uint64_t *count, uint64_t *bytes, uint64_t *dropped, int *evicted)
{
	struct ent	*e = NULL;
	uint64_t	 ev;
	size_t		 i;

	for (i = 0; i < n && e == NULL; i++)
		if (v[i].kind == K_INVALID)
			e = &v[i];
	for (i = 0; i < n && e == NULL && !invalid_only; i++)
		if (v[i].kind == K_READY)
			e = &v[i];
	if (e == NULL)
		return 0;
	ev = e->kind == K_READY ? file_events(q->dfd, e->name) : 0;
	if (unlinkat(q->dfd, e->name, 0) == 0) {
		(*evicted)++;
		*dropped += ev;
	}
	/* Gone either way (evicted, claimed or evicted by another). */
	e->kind = K_OTHER;
	(*count)--;
	*bytes -= e->size;
	return 1;
}

/*
 * Caps, bytes first: while ready+invalid bytes exceed QUEUE_CAP_BYTES the
 * oldest .invalid, then the oldest ready file is deleted (its events
 * counted as dropped). Then the file count, past QUEUE_CAP_FILES: .invalid
 * files go first (never uploaded anyway), then runs of small ready
 * segments are merged (down to MERGE_TO files), and only what merging
 * cannot save is evicted. Sparse traffic (a day offline, a file per event)
 * is never lost to the file count. Returns files evicted, -1 on error.
 */
static int
enforce_caps(struct queue *q)
{
	struct ent	*v;
	size_t		 n, i, from = 0;
	uint64_t	 count, bytes, dropped = 0;
	int		 evicted = 0, merged, tried = 0;

again:
	if (scan_dir(q->dfd, &v, &n, NULL) == -1)
		return -1;
	count = bytes = 0;
	for (i = 0; i < n; i++) {
		if (v[i].kind == K_READY || v[i].kind == K_INVALID) {
			count++;
			bytes += v[i].size;
		}
	}
	while (bytes > QUEUE_CAP_BYTES && evict_one(q, v, n, 0, &count,
	    &bytes, &dropped, &evicted))
		;
	while (count > QUEUE_CAP_FILES && evict_one(q, v, n, 1, &count,
	    &bytes, &dropped, &evicted))
		;
	if (count > QUEUE_CAP_FILES && !tried) {
		tried = 1;
		while (count > MERGE_TO && from < n &&
		    (merged = merge_oldest(q, v, n, &from)) >= 0)
			count -= (uint64_t)merged;
		if (from > 0) {
			/* The directory changed: count it again. */
			ents_free(v, n);
			goto again;
		}
	}
	while (count > QUEUE_CAP_FILES && evict_one(q, v, n, 0, &count,
	    &bytes, &dropped, &evicted))
		;
	ents_free(v, n);
	if (dropped > 0)
		dropped_add(q, dropped);
	return evicted;
}

/* Caps after a new ready/invalid file (evictions show in queue_dropped). */
static void
caps_after_write(struct queue *q)
{
	(void)enforce_caps(q);
}

static int
fsync_dir(struct queue *q)
{
	if (q->fsync == QUEUE_FSYNC_NEVER || q->no_dirsync)
		return 0;
	if (q->defer_dirsync) {
		q->dir_dirty = 1;
		return 0;
	}
	return fsync(q->dfd);
}

/* Defer the directory fsync of rolls to queue_sync_dir() (one per batch). */
void
queue_defer_dirsync(struct queue *q, int on)
{
	q->defer_dirsync = on;
	if (!on)
		(void)queue_sync_dir(q);
}

/* Rolls never fsync the directory (see queue.h). */
void
queue_no_dirsync(struct queue *q)
{
	q->no_dirsync = 1;
}

/* fsync the directory if a roll renamed something since the last call. */
int
queue_sync_dir(struct queue *q)
{
	if (!q->dir_dirty)
		return 0;
	q->dir_dirty = 0;
	return fsync(q->dfd);
}

/*
 * Hand a locked segment to the roller (see queue.h): 1 if it took fd. Only
 * under ROLL: ALWAYS must have the data synced before the ack that follows
 * an append, and NEVER has nothing slow to hand off.
 */
static int
roller_takes(struct queue *q, int fd, const char *name, unsigned flags)
{
	return q->roller != NULL && q->fsync == QUEUE_FSYNC_ROLL &&
	    q->roller(fd, name, q->fsync, flags, q->roller_arg) == 0;
}

/*
 * Whether a segment is past QUEUE_MAX_AGE_S. A name or a clock can be
 * wrong (a board without an RTC, a restored VM, a writer whose clock ran
 * behind): it is old only when its name, its mtime and its newest record
 * (max_ts in ms; INT64_MIN when it holds none) all say so. Anything dated
 * in the future is not old.
 */
static int
too_old(time_t now, time_t name_t, time_t mtime, int64_t max_ts)
{
	return now - name_t > QUEUE_MAX_AGE_S &&
	    now - mtime > QUEUE_MAX_AGE_S &&
	    (max_ts == INT64_MIN ||
	    max_ts / 1000 < (int64_t)now - QUEUE_MAX_AGE_S);
}

/* A claim nobody is working on: old, or dated in the future (the clock
 * went back since it was claimed; its uploader cannot be trusted). */
static int
claim_stale(time_t now, time_t mtime)
{
	return now - mtime >= QUEUE_CLAIM_STALE_S ||
	    mtime - now >= QUEUE_CLAIM_STALE_S;
}

/* A legacy writer's time stamp says quiet: a day old, or nonsense (a day
 * in the future: only the mtime can tell then). */
static int
quiet_since(time_t now, time_t t)
{
	return now - t >= QUEUE_LEGACY_QUIET_S || t - now >= QUEUE_LEGACY_QUIET_S;
}

/* Recover one partial (torn tails cut). */
static void
recover_partial(struct queue *q, const struct ent *e, int legacy, time_t now,
    struct queue_recovery *r)
{
	char		 marker[QUEUE_NAME_MAX + 16], stem[QUEUE_NAME_MAX];
	char		 to[QUEUE_NAME_MAX + 16];
	struct stat	 st;
	struct buf	 b = { NULL, 0, 0 };
	struct analysis	 a;
	time_t		 t;
	int		 fd, wfd = -1, managed, named;

	memset(&a, 0, sizeof a);
	if (snprintf(marker, sizeof marker, "%s.owner", e->name) >=
	    (int)sizeof marker)
		return;
	if (rename_ext(stem, sizeof stem, e->name, strlen(EXT_PARTIAL),
	    "") == -1)
		return;
	managed = exists_at(q->dfd, marker);
	named = name_time(e->name, &t) == 0;
	if (!managed) {
		/* Legacy: only on request, and only after a day of quiet. */
		if (!legacy || now - e->mtime < QUEUE_LEGACY_QUIET_S ||
		    !named || !quiet_since(now, t))
			return;
	}
	/*
	 * Read-only for the lock test: closing it is no IN_CLOSE_WRITE, so
	 * the agent's watch is not woken by its own look at a live partial.
	 */
	fd = fsio_open(q->dfd, e->name, O_RDONLY, 0, FSIO_OWNER);
	if (fd == -1)
		return;
	if (flock(fd, LOCK_EX | LOCK_NB) == -1)
		goto out;	/* a live writer */
	if (!same_file(q->dfd, fd, e->name, &st))
		goto out;	/* finished/recovered meanwhile */
	if (st.st_size == 0) {
		partial_discard(q->dfd, e->name);
		r->deleted_empty++;
		goto out;
	}
	if (st.st_size > RECOVER_MAX) {
		a.v = V_QUARANTINE;
		a.max_ts = INT64_MIN;
	} else if (fsio_read_fd(fd, READ_MAX, &b) == -1)
		goto out;
	else
		analyze(b.data, b.len, &a);
	if (named && too_old(now, t, st.st_mtime, a.max_ts)) {
		/* Valid records are never dropped silently: counted. */
		partial_discard(q->dfd, e->name);
		r->deleted_old++;
		if (a.v == V_PROMOTE) {
			r->dropped_old += a.valid;
			dropped_add(q, a.valid);
		}
		goto out;
	}
	switch (a.v) {
	case V_DELETE:
		partial_discard(q->dfd, e->name);
		r->deleted_empty++;
		break;
	case V_QUARANTINE:
		(void)snprintf(to, sizeof to, "%s%s", stem, EXT_INVALID);
		if (renameat(q->dfd, e->name, q->dfd, to) == 0) {
			marker_remove(q->dfd, e->name);
			r->quarantined++;
		}
		break;
	case V_PROMOTE:
		if ((a.torn || a.add_nl) && (wfd = fsio_open(q->dfd, e->name,
		    O_WRONLY, 0, FSIO_OWNER)) == -1)
			break;
		if (a.torn && ftruncate(wfd, (off_t)a.keep) == -1)
			break;
		if (a.add_nl && pwrite(wfd, "\n", 1, (off_t)a.keep) != 1)
			break;
		/*
		 * Ready means synced: the writer may have died before. A
		 * roller (the agent's syncer) takes the locked fd and does
		 * the fsync and rename off the caller's thread.
		 */
		if (roller_takes(q, fd, e->name, QUEUE_ROLL_RECOVERED)) {
			fd = -1;
			r->handed++;	/* the roller reports how it went */
		} else if (sync_data(fd) == -1 ||
		    partial_finish(q->dfd, e->name) == -1)
			break;
		else
			r->promoted++;
		if (!managed)
			r->legacy_promoted++;
		if (a.torn)
			r->torn_tails++;
		break;
	}
out:
	buf_free(&b);
	if (wfd != -1)
		close(wfd);
	if (fd != -1)
		close(fd);
}

/* The recovery pass (README "Queue on disk"). */
static int
recover(struct queue *q, int legacy, struct queue_recovery *r)
{
	struct ent	*v;
	size_t		 n, i, l;
	time_t		 now = now_s(), t;
	char		 to[QUEUE_NAME_MAX], partial[QUEUE_NAME_MAX];
	const char	*p;
	struct stat	 st;
	int		 ev;

	memset(r, 0, sizeof *r);
	if (scan_dir(q->dfd, &v, &n, NULL) == -1)
		return -1;
	/* 1. Stale claims back to .ndjson (mtime checked again just before:
	 * the claimant may have refreshed it since the scan). */
	for (i = 0; i < n; i++) {
		if (v[i].kind != K_CLAIM || !claim_stale(now, v[i].mtime))
			continue;
		if (fstatat(q->dfd, v[i].name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(st.st_mode) ||
		    !claim_stale(now_s(), st.st_mtime))
			continue;
		p = strstr(v[i].name, CLAIM_TAG);
		l = (size_t)(p - v[i].name);
		if (l >= sizeof to)
			continue;
		memcpy(to, v[i].name, l);
		to[l] = '\0';
		if (renameat(q->dfd, v[i].name, q->dfd, to) == 0)
			r->claims_restored++;
	}
	/* 2. Partials whose lock is free. */
	for (i = 0; i < n; i++) {
		if (v[i].kind == K_PARTIAL)
			recover_partial(q, &v[i], legacy, now, r);
	}
	/* 3. Old quarantined files (by name and mtime). */
	for (i = 0; i < n; i++) {
		if (v[i].kind != K_INVALID || name_time(v[i].name, &t) == -1 ||
		    !too_old(now, t, v[i].mtime, INT64_MIN))
			continue;
		if (unlinkat(q->dfd, v[i].name, 0) == 0)
			r->deleted_old++;
	}
	/* 4. Caps (invalid first). */
	if ((ev = enforce_caps(q)) > 0)
		r->evicted += (unsigned)ev;
	/* 5. Orphan markers. */
	for (i = 0; i < n; i++) {
		if (v[i].kind != K_MARKER)
			continue;
		l = strlen(v[i].name) - strlen(".owner");
		if (l >= sizeof partial)
			continue;
		memcpy(partial, v[i].name, l);
		partial[l] = '\0';
		if (exists_at(q->dfd, partial))
			continue;
		if (unlinkat(q->dfd, v[i].name, 0) == 0)
			r->deleted_orphans++;
	}
	ents_free(v, n);
	return 0;
}

static void __attribute__((format(printf, 3, 4)))
set_cause(char *cause, size_t causelen, const char *fmt, ...)
{
	va_list	ap;

	if (cause == NULL || causelen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(cause, causelen, fmt, ap);
	va_end(ap);
}

/* mkdir -p with mode 0700 for every missing component. */
static int
mkdirs(const char *dir)
{
	char	*p, *s;
	int	 e;

	if ((p = strdup(dir)) == NULL)
		return -1;
	for (s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) == -1 && errno != EEXIST)
			goto fail;
		*s = '/';
	}
	if (mkdir(p, 0700) == -1 && errno != EEXIST)
		goto fail;
	free(p);
	return 0;
fail:
	e = errno;
	free(p);
	errno = e;
	return -1;
}

/* Open the queue directory (see queue.h). */
int
queue_open(const char *dir, int flags, struct queue **out, char *cause,
    size_t causelen)
{
	struct stat	 st, fst;
	struct queue	*q;
	int		 fd, e;

	if (cause != NULL && causelen > 0)
		cause[0] = '\0';
	if (dir == NULL || *dir == '\0') {
		set_cause(cause, causelen, "no queue directory given");
		errno = EINVAL;
		return -1;
	}
	if ((flags & QUEUE_O_CREATE) && mkdirs(dir) == -1) {
		e = errno;
		set_cause(cause, causelen, "cannot create queue directory "
		    "%.*s: %s", CAUSE_PATH, dir, strerror(e));
		errno = e;
		return -1;
	}
	if (lstat(dir, &st) == -1) {
		e = errno;
		set_cause(cause, causelen, "cannot use queue directory %.*s: "
		    "%s", CAUSE_PATH, dir, strerror(e));
		errno = e;
		return -1;
	}
	if (S_ISLNK(st.st_mode)) {
		set_cause(cause, causelen, "queue directory %.*s is a symbolic "
		    "link; refusing to follow it", CAUSE_PATH, dir);
		errno = ELOOP;
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		set_cause(cause, causelen, "queue directory %.*s is not a "
		    "directory", CAUSE_PATH, dir);
		errno = ENOTDIR;
		return -1;
	}
	if (st.st_uid != geteuid()) {
		set_cause(cause, causelen, "queue directory %.*s is owned by "
		    "uid %lu, not by us (uid %lu); refusing to use it",
		    CAUSE_PATH, dir, (unsigned long)st.st_uid,
		    (unsigned long)geteuid());
		errno = EPERM;
		return -1;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		e = errno;
		set_cause(cause, causelen, "cannot open queue directory %.*s: "
		    "%s", CAUSE_PATH, dir, strerror(e));
		errno = e;
		return -1;
	}
	if (fstat(fd, &fst) == -1 || fst.st_dev != st.st_dev ||
	    fst.st_ino != st.st_ino || fst.st_uid != geteuid()) {
		close(fd);
		set_cause(cause, causelen, "queue directory %.*s changed while "
		    "it was being opened", CAUSE_PATH, dir);
		errno = EAGAIN;
		return -1;
	}
	/*
	 * Others could plant or change segments in a directory they may
	 * write to: take their access away (files of other users already in
	 * it are never touched: see trusted()). A reader only looks.
	 */
	if ((fst.st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
	    !(flags & QUEUE_O_RDONLY) && fchmod(fd, 0700) == -1) {
		e = errno;
		close(fd);
		set_cause(cause, causelen, "queue directory %.*s is writable by "
		    "others (mode %04o) and cannot be restricted: %s",
		    CAUSE_PATH, dir, (unsigned)(fst.st_mode & 07777),
		    strerror(e));
		errno = EPERM;
		return -1;
	}
	if ((q = calloc(1, sizeof *q)) == NULL ||
	    (q->dir = strdup(dir)) == NULL) {
		free(q);
		close(fd);
		set_cause(cause, causelen, "out of memory");
		errno = ENOMEM;
		return -1;
	}
	q->dfd = fd;
	q->afd = -1;
	q->fsync = QUEUE_FSYNC_ROLL;
	q->rdonly = (flags & QUEUE_O_RDONLY) != 0;
	if ((fst.st_mode & (S_IWGRP | S_IWOTH)) != 0 && !q->rdonly)
		snprintf(q->warn, sizeof q->warn, "queue directory %.*s was "
		    "writable by others (mode %04o): restricted to 0700; files "
		    "of other users in it are ignored", CAUSE_PATH, dir,
		    (unsigned)(fst.st_mode & 07777));
	if (!(flags & (QUEUE_O_NORECOVER | QUEUE_O_RDONLY)) &&
	    recover(q, (flags & QUEUE_O_LEGACY) != 0, &q->last) == -1) {
		e = errno;
		set_cause(cause, causelen, "cannot read queue directory %.*s: "
		    "%s", CAUSE_PATH, dir, strerror(e));
		queue_close(q);
		errno = e;
		return -1;
	}
	*out = q;
	return 0;
}

/* What queue_open() repaired; NULL if nothing. */
const char *
queue_warning(struct queue *q)
{
	return q->warn[0] != '\0' ? q->warn : NULL;
}

/* Drop the active segment without finishing it (left for recovery). */
static void
active_abandon(struct queue *q)
{
	if (q->afd != -1)
		close(q->afd);
	q->afd = -1;
	q->aname[0] = '\0';
	q->aevents = 0;
	q->abytes = 0;
}

/* Let go of the active segment unfinished (see queue.h). */
void
queue_release(struct queue *q)
{
	active_abandon(q);
}

/* Roll the active segment, then free the handle. */
void
queue_close(struct queue *q)
{
	if (q == NULL)
		return;
	if (q->afd != -1 && queue_roll(q) == -1)
		active_abandon(q);
	(void)queue_sync_dir(q);
	close(q->dfd);
	free(q->dir);
	free(q);
}

/* Set the fsync policy. */
void
queue_set_fsync(struct queue *q, enum queue_fsync f)
{
	q->fsync = f;
}

/* The directory path (borrowed). */
const char *
queue_dir(struct queue *q)
{
	return q->dir;
}

/* Run recovery again. */
int
queue_recover(struct queue *q, int legacy, struct queue_recovery *r)
{
	int	rv;

	rv = recover(q, legacy, &q->last);
	if (r != NULL)
		*r = q->last;
	return rv;
}

/* What the last recovery did (borrowed). */
const struct queue_recovery *
queue_last_recovery(struct queue *q)
{
	return &q->last;
}

/* Count '\n'-terminated lines; -1 unless the text ends with '\n'. */
static long long
count_lines(const char *p, size_t n)
{
	const char	*e = p + n, *nl;
	long long	 c = 0;

	if (n == 0)
		return 0;
	if (p[n - 1] != '\n')
		return -1;
	while (p < e && (nl = memchr(p, '\n', (size_t)(e - p))) != NULL) {
		c++;
		p = nl + 1;
	}
	return c;
}

/* Append records to the active segment (see queue.h). */
int
queue_append(struct queue *q, const char *lines, size_t len,
    unsigned nevents)
{
	return queue_append_part(q, lines, len, nevents, NULL);
}

/* Append records; on failure *stored says how many went in (queue.h). */
int
queue_append_part(struct queue *q, const char *lines, size_t len,
    unsigned nevents, unsigned *stored)
{
	const char	*p = lines, *e = lines + len, *nl, *c;
	unsigned	 n, done = 0;
	uint64_t	 b;
	int		 err;

	if (stored != NULL)
		*stored = 0;
	if (len > 0 && lines == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (count_lines(lines, len) != (long long)nevents) {
		errno = EINVAL;
		return -1;
	}
	while (p < e) {
		if (q->afd == -1) {
			q->gen++;
			q->afd = partial_create(q->dfd, q->aname,
			    sizeof q->aname, q->handed);
			if (q->afd == -1) {
				if (stored != NULL)
					*stored = done;
				return -1;
			}
			q->aevents = 0;
			q->abytes = 0;
		}
		/* Take lines up to the roll point. */
		n = 0;
		b = q->abytes;
		for (c = p; c < e; c = nl + 1) {
			nl = memchr(c, '\n', (size_t)(e - c));
			n++;
			b += (uint64_t)(nl + 1 - c);
			if (q->aevents + n >= QUEUE_ROLL_EVENTS ||
			    b >= QUEUE_ROLL_BYTES) {
				c = nl + 1;
				break;
			}
		}
		if (fsio_write_all(q->afd, p, (size_t)(c - p)) == -1)
			goto fail;
		if (c == e && q->fsync == QUEUE_FSYNC_ALWAYS &&
		    sync_data(q->afd) == -1)
			goto fail;
		q->aevents += n;
		q->abytes = b;
		done += n;
		p = c;
		if (q->aevents >= QUEUE_ROLL_EVENTS ||
		    q->abytes >= QUEUE_ROLL_BYTES) {
			/* The data is stored; a failed roll leaves the
			 * segment to recovery rather than growing it. */
			if (queue_roll(q) == -1)
				active_abandon(q);
		}
	}
	return 0;
fail:
	err = errno;
	/* Cut back to the last line before this batch chunk. */
	if (ftruncate(q->afd, (off_t)q->abytes) == -1)
		active_abandon(q);
	if (stored != NULL)
		*stored = done;
	errno = err;
	return -1;
}

/* Flush the active segment to stable storage. */
int
queue_sync(struct queue *q)
{
	if (q->afd == -1)
		return 0;
	return sync_data(q->afd);
}

/* Finish the active segment (see queue.h). */
int
queue_roll(struct queue *q)
{
	if (q->afd == -1)
		return 0;
	if (q->aevents == 0) {
		partial_discard(q->dfd, q->aname);
		active_abandon(q);
		return 0;
	}
	if (roller_takes(q, q->afd, q->aname, 0)) {
		/* Locked fd and name are the roller's now. */
		memcpy(q->handed, q->aname, sizeof q->handed);
		q->afd = -1;
		active_abandon(q);
		return 1;
	}
	if (q->fsync != QUEUE_FSYNC_NEVER && fsync(q->afd) == -1)
		return -1;
	if (partial_finish(q->dfd, q->aname) == -1)
		return -1;
	active_abandon(q);	/* closes: releases the lock */
	(void)fsync_dir(q);
	caps_after_write(q);
	return 1;
}

/* Where the active segment ends now (queue_rewind). */
void
queue_mark(struct queue *q, struct queue_mark *m)
{
	m->active = q->afd != -1;
	m->gen = q->gen;
	m->bytes = m->active ? q->abytes : 0;
	m->events = m->active ? q->aevents : 0;
}

/* Cut the records appended since m off again (see queue.h). */
int
queue_rewind(struct queue *q, const struct queue_mark *m)
{
	if (q->afd == -1 || q->gen != m->gen + (m->active ? 0 : 1)) {
		errno = EAGAIN;	/* rolled (or started over) since */
		return -1;
	}
	if (ftruncate(q->afd, (off_t)m->bytes) == -1)
		return -1;
	q->abytes = m->bytes;
	q->aevents = m->events;
	return 0;
}

/* The marker name of a connection nonce; -1 if the nonce is not ours. */
static int
takeover_name(const char *nonce, char *out, size_t outlen)
{
	size_t	i;

	for (i = 0; nonce[i] != '\0'; i++)
		if (!isxdigit((unsigned char)nonce[i]) ||
		    isupper((unsigned char)nonce[i]))
			break;
	if (i != QUEUE_NONCE_LEN || nonce[i] != '\0') {
		errno = EINVAL;
		return -1;
	}
	snprintf(out, outlen, "%s%s", nonce, EXT_TAKEOVER);
	return 0;
}

/* Race for a connection's unconfirmed events (see queue.h). */
int
queue_takeover(struct queue *q, const char *nonce, uint64_t first,
    uint64_t last, struct queue_takeover *t)
{
	char		 name[QUEUE_NONCE_LEN + 16], want[64], got[64];
	struct stat	 st;
	ssize_t		 n;
	unsigned long long f, l;

	memset(t, 0, sizeof *t);
	if (takeover_name(nonce, name, sizeof name) == -1)
		return -1;
	if (first == 0)
		snprintf(want, sizeof want, "agent");
	else
		snprintf(want, sizeof want, "client:%llu-%llu",
		    (unsigned long long)first, (unsigned long long)last);
	/* A symlink: created with its content in one atomic step. */
	if (symlinkat(want, q->dfd, name) == 0) {
		t->won = 1;
		return 0;
	}
	if (errno != EEXIST)
		return -1;
	if (fstatat(q->dfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return -1;
	if (!S_ISLNK(st.st_mode) || st.st_uid != geteuid()) {
		errno = EPERM;	/* not a marker of ours: nobody wins */
		return -1;
	}
	if ((n = readlinkat(q->dfd, name, got, sizeof got - 1)) == -1)
		return -1;
	got[n] = '\0';
	if (strcmp(got, "agent") == 0) {
		t->agent = 1;
		return 0;
	}
	if (sscanf(got, "client:%llu-%llu", &f, &l) == 2 && f > 0 && f <= l) {
		t->first = f;
		t->last = l;
		return 0;
	}
	errno = EINVAL;
	return -1;
}

/* Remove a connection's marker (ENOENT is fine). */
void
queue_takeover_done(struct queue *q, const char *nonce)
{
	char	name[QUEUE_NONCE_LEN + 16];

	if (takeover_name(nonce, name, sizeof name) == 0)
		(void)unlinkat(q->dfd, name, 0);
}

/* Remove every takeover marker (agent start: no connection is left). */
int
queue_takeover_clean(struct queue *q)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	size_t		 l;
	int		 fd, n = 0;

	if ((fd = openat(q->dfd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		l = strlen(de->d_name);
		if (l != QUEUE_NONCE_LEN + strlen(EXT_TAKEOVER) ||
		    strcmp(de->d_name + QUEUE_NONCE_LEN, EXT_TAKEOVER) != 0 ||
		    fstatat(q->dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
		    -1 || !S_ISLNK(st.st_mode) || st.st_uid != geteuid())
			continue;
		if (unlinkat(q->dfd, de->d_name, 0) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* Roll in place, never through the roller. */
int
queue_roll_in_place(struct queue *q)
{
	queue_roller_fn	 fn = q->roller;
	int		 r;

	q->roller = NULL;
	r = queue_roll(q);
	q->roller = fn;
	return r;
}

/* Let fn finish full segments (see queue.h). */
void
queue_set_roller(struct queue *q, queue_roller_fn fn, void *arg)
{
	q->roller = fn;
	q->roller_arg = arg;
}

/* Finish a handed-over segment; any thread (see queue.h). */
int
queue_finish(struct queue *q, int fd, const char *name, enum queue_fsync f)
{
	int	rv = 0, e = 0;

	if ((f != QUEUE_FSYNC_NEVER && fsync(fd) == -1) ||
	    partial_finish(q->dfd, name) == -1) {
		e = errno;
		rv = -1;
	}
	close(fd);	/* releases the lock: on failure recovery takes it */
	errno = e;
	return rv;
}

/* fsync the queue directory; any thread. */
int
queue_sync_dirfd(struct queue *q)
{
	return fsync(q->dfd);
}

/* Enforce the caps now. */
int
queue_enforce_caps(struct queue *q)
{
	return enforce_caps(q);
}

/* A dup of the active segment's descriptor, -1 if none. */
int
queue_active_dup(struct queue *q)
{
	if (q->afd == -1) {
		errno = ENOENT;
		return -1;
	}
	return fcntl(q->afd, F_DUPFD_CLOEXEC, 0);
}

/* Events in the active segment. */
unsigned
queue_active_events(struct queue *q)
{
	return q->afd == -1 ? 0 : q->aevents;
}

/* Bytes in the active segment. */
uint64_t
queue_active_bytes(struct queue *q)
{
	return q->afd == -1 ? 0 : q->abytes;
}

/* Write a complete ready segment from memory. */
int
queue_write_ready(struct queue *q, const char *lines, size_t len)
{
	char	name[QUEUE_NAME_MAX], ready[QUEUE_NAME_MAX];
	int	fd, e;

	if (len == 0 || lines == NULL || count_lines(lines, len) <= 0) {
		errno = EINVAL;
		return -1;
	}
	if ((fd = partial_create(q->dfd, name, sizeof name, NULL)) == -1)
		return -1;
	if (fsio_write_all(fd, lines, len) == -1 ||
	    (q->fsync != QUEUE_FSYNC_NEVER && fsync(fd) == -1) ||
	    partial_finish(q->dfd, name) == -1) {
		e = errno;
		partial_discard(q->dfd, name);
		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	/* Never deferred: the caller deletes the original next (413 split). */
	if (q->fsync != QUEUE_FSYNC_NEVER)
		(void)fsync(q->dfd);
	if (q->write_hook != NULL && rename_ext(ready, sizeof ready, name,
	    strlen(EXT_PARTIAL), EXT_READY) == 0)
		q->write_hook(ready, q->write_hook_arg);
	caps_after_write(q);
	return 0;
}

/* Tell fn the name of every segment queue_write_ready() makes ready. */
void
queue_set_write_hook(struct queue *q, queue_write_hook_fn fn, void *arg)
{
	q->write_hook = fn;
	q->write_hook_arg = arg;
}

/* Claim the oldest ready segment. */
int
queue_claim(struct queue *q, struct queue_claim *c)
{
	struct ent	*v;
	size_t		 n, i;
	struct stat	 st;
	char		 u[UUID_STR];
	uuid_t		 id;
	int		 rv = 0, e;

	if (scan_dir(q->dfd, &v, &n, NULL) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (v[i].kind != K_READY ||
		    strlen(v[i].name) >= sizeof c->ready)
			continue;
		/*
		 * Touch first: rename keeps the old mtime, and a claim that
		 * appeared with it would look stale to a concurrent recovery
		 * until the utimensat below.
		 */
		if (utimensat(q->dfd, v[i].name, NULL,
		    AT_SYMLINK_NOFOLLOW) == -1) {
			if (errno == ENOENT)
				continue;	/* another claimant won */
			rv = -1;
			break;
		}
		uuid_generate_random(id);
		uuid_unparse_lower(id, u);
		snprintf(c->name, sizeof c->name, "%s%s%ld-%s", v[i].name,
		    CLAIM_TAG, (long)getpid(), u);
		if (renameat(q->dfd, v[i].name, q->dfd, c->name) == -1) {
			if (errno == ENOENT)
				continue;	/* another claimant won */
			rv = -1;
			break;
		}
		if (utimensat(q->dfd, c->name, NULL,
		    AT_SYMLINK_NOFOLLOW) == -1 ||
		    fstatat(q->dfd, c->name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
			e = errno;
			renameat(q->dfd, c->name, q->dfd, v[i].name);
			errno = e;
			rv = -1;
			break;
		}
		snprintf(c->ready, sizeof c->ready, "%s", v[i].name);
		rename_ext(c->stem, sizeof c->stem, v[i].name,
		    strlen(EXT_READY), "");
		c->bytes = (uint64_t)st.st_size;
		rv = 1;
		break;
	}
	e = errno;
	ents_free(v, n);
	errno = e;
	return rv;
}

/* Read a claimed segment's bytes into out. */
int
queue_claim_read(struct queue *q, const struct queue_claim *c,
    struct buf *out)
{
	return read_at(q->dfd, c->name, out);
}

/* Delivered: delete the claimed file. */
int
queue_complete(struct queue *q, const struct queue_claim *c)
{
	return unlinkat(q->dfd, c->name, 0);
}

/* Rename a claim back to the name before its last ".sending-". */
static int
unclaim_name(struct queue *q, const char *name)
{
	char		 to[QUEUE_NAME_MAX + 64];
	const char	*p, *last = NULL;
	size_t		 l;

	for (p = name; (p = strstr(p, CLAIM_TAG)) != NULL; p++)
		last = p;
	if (last == NULL || (l = (size_t)(last - name)) >= sizeof to) {
		errno = EINVAL;
		return -1;
	}
	memcpy(to, name, l);
	to[l] = '\0';
	return renameat(q->dfd, name, q->dfd, to);
}

/* Transient failure: rename the claim back to .ndjson. */
int
queue_unclaim(struct queue *q, const struct queue_claim *c)
{
	return unclaim_name(q, c->name);
}

/* Permanent rejection: rename the claim to <stem>.invalid. */
int
queue_quarantine(struct queue *q, const struct queue_claim *c)
{
	char	to[QUEUE_NAME_MAX + 16];

	if (snprintf(to, sizeof to, "%s%s", c->stem, EXT_INVALID) >=
	    (int)sizeof to) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (renameat(q->dfd, c->name, q->dfd, to) == -1)
		return -1;
	caps_after_write(q);
	return 0;
}

/* Restore every claim of this pid. */
int
queue_unclaim_own(struct queue *q)
{
	struct ent	*v;
	size_t		 n, i;
	char		 tag[64];
	int		 c = 0;

	snprintf(tag, sizeof tag, "%s%ld-", CLAIM_TAG, (long)getpid());
	if (scan_dir(q->dfd, &v, &n, NULL) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (v[i].kind == K_CLAIM && strstr(v[i].name, tag) != NULL &&
		    unclaim_name(q, v[i].name) == 0)
			c++;
	}
	ents_free(v, n);
	return c;
}

/* Events evicted by the caps, cumulative across processes and restarts. */
uint64_t
queue_dropped(struct queue *q)
{
	char		 b[DROPPED_MAX], *end;
	ssize_t		 r;
	uint64_t	 v;
	int		 fd;

	fd = fsio_open(q->dfd, DROPPED_FILE, O_RDONLY, 0, FSIO_OWNER);
	if (fd == -1)
		return q->dropped_mem;
	if (flock(fd, LOCK_SH) == -1 ||
	    (r = pread(fd, b, sizeof b - 1, 0)) <= 0) {
		close(fd);
		return q->dropped_mem;
	}
	close(fd);
	b[r] = '\0';
	errno = 0;
	v = strtoull(b, &end, 10);
	if (errno != 0 || end == b)
		return q->dropped_mem;
	return v;
}

/* Events this handle deleted unsent (caps, recovery), since it was opened. */
uint64_t
queue_dropped_here(struct queue *q)
{
	return q->dropped_mem;
}

/* Scan the directory. */
int
queue_stats(struct queue *q, struct queue_stats *st)
{
	struct ent	*v;
	struct buf	 b = { NULL, 0, 0 };
	size_t		 n, i, foreign = 0;

	memset(st, 0, sizeof *st);
	if (scan_dir(q->dfd, &v, &n, &foreign) == -1)
		return -1;
	st->foreign_files = foreign;
	for (i = 0; i < n; i++) {
		switch (v[i].kind) {
		case K_READY:
			b.len = 0;
			if (read_at(q->dfd, v[i].name, &b) == -1)
				break;	/* claimed meanwhile */
			st->ready_segments++;
			st->ready_bytes += b.len;
			st->ready_events += queue_count_events(b.data, b.len);
			if (st->oldest[0] == '\0' &&
			    strlen(v[i].name) < sizeof st->oldest)
				snprintf(st->oldest, sizeof st->oldest, "%s",
				    v[i].name);
			break;
		case K_PARTIAL:
			st->partial_segments++;
			st->partial_bytes += v[i].size;
			break;
		case K_INVALID:
			st->invalid_segments++;
			st->invalid_bytes += v[i].size;
			st->partial_segments++;
			st->partial_bytes += v[i].size;
			break;
		case K_CLAIM:
			st->claimed_segments++;
			break;
		default:
			break;
		}
	}
	buf_free(&b);
	ents_free(v, n);
	return 0;
}

/* Delete ready/invalid files and free partials; skip live ones and claims. */
int
queue_clear(struct queue *q, unsigned *removed, unsigned *skipped)
{
	struct ent	*v;
	struct stat	 st;
	size_t		 n, i;
	unsigned	 rm = 0, sk = 0;
	int		 fd;

	if (scan_dir(q->dfd, &v, &n, NULL) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		switch (v[i].kind) {
		case K_READY:
		case K_INVALID:
			if (unlinkat(q->dfd, v[i].name, 0) == 0)
				rm++;
			break;
		case K_PARTIAL:
			fd = fsio_open(q->dfd, v[i].name, O_RDWR, 0,
			    FSIO_OWNER);
			if (fd == -1) {
				sk++;
				break;
			}
			if (flock(fd, LOCK_EX | LOCK_NB) == -1 ||
			    !same_file(q->dfd, fd, v[i].name, &st)) {
				sk++;
			} else {
				partial_discard(q->dfd, v[i].name);
				rm++;
			}
			close(fd);
			break;
		case K_CLAIM:
			sk++;
			break;
		default:
			break;
		}
	}
	ents_free(v, n);
	if (removed != NULL)
		*removed = rm;
	if (skipped != NULL)
		*skipped = sk;
	return 0;
}

/* Call fn for the last `last` records of the ready segments. */
/* One record of queue_dump: where it is and what orders it. */
struct dump_line {
	const char	*p;
	size_t		 len;
	char		 when[STEM_TIME_LEN + 1];	/* of its segment's name */
	size_t		 pos;		/* order of reading, for ties */
	int64_t		 ts;		/* the record's "ts", 0 if none */
};

/* The record's top-level "ts" (records are flat: the key is unique). */
static int64_t
dump_ts(const char *p, size_t len)
{
	const char	*k, *e = p + len;
	char		 num[24];
	size_t		 n = 0;

	for (k = p; k + 5 <= e; k++) {
		if (memcmp(k, "\"ts\":", 5) != 0)
			continue;
		for (k += 5; k < e && n < sizeof num - 1 &&
		    (isdigit((unsigned char)*k) || (*k == '-' && n == 0)); k++)
			num[n++] = *k;
		num[n] = '\0';
		return n > 0 ? strtoll(num, NULL, 10) : 0;
	}
	return 0;
}

/* Name time (the "YYYYMMDD-HHMMSS" prefix), then ts, then file order. */
static int
dump_cmp(const void *a, const void *b)
{
	const struct dump_line	*x = a, *y = b;
	int			 c;

	if ((c = strcmp(x->when, y->when)) != 0)
		return c;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/*
 * The last `last` records of the ready segments, oldest first. Segments
 * are named after the second they were started, then a random UUID, so
 * several started in the same second are ordered by their records' ts
 * (then by file position), never by the UUID.
 */
int
queue_dump(struct queue *q, unsigned last,
    int (*fn)(const char *line, size_t len, void *arg), void *arg)
{
	struct ent		*v;
	struct buf		*bufs = NULL;
	struct dump_line	*lines = NULL, *nv;
	size_t			 n, i, first, nlines = 0, cap = 0, pos = 0;
	uint64_t		 have = 0;
	struct queue_lines	 it;
	const char		*p;
	size_t			 l;
	int			 rv = 0;

	if (last == 0)
		return 0;
	if (scan_dir(q->dfd, &v, &n, NULL) == -1)
		return -1;
	if (n > 0 && (bufs = calloc(n, sizeof *bufs)) == NULL) {
		ents_free(v, n);
		return -1;
	}
	/*
	 * Newest first until enough lines are held, then every older one
	 * of the same name second (it may hold newer records).
	 */
	first = n;
	for (i = n; i > 0; i--) {
		if (v[i - 1].kind != K_READY)
			continue;
		if (have >= last && (first == n || strncmp(v[i - 1].name,
		    v[first].name, STEM_TIME_LEN) != 0))
			break;
		if (read_at(q->dfd, v[i - 1].name, &bufs[i - 1]) == -1)
			continue;	/* claimed meanwhile */
		have += queue_count_events(bufs[i - 1].data, bufs[i - 1].len);
		first = i - 1;
	}
	for (i = first; i < n; i++) {
		if (bufs[i].data == NULL)
			continue;
		queue_lines_init(&it, bufs[i].data, bufs[i].len);
		while (queue_lines_next(&it, &p, &l)) {
			if (nlines == cap) {
				cap = cap ? cap * 2 : 256;
				if ((nv = realloc(lines, cap *
				    sizeof *lines)) == NULL) {
					rv = -1;
					goto out;
				}
				lines = nv;
			}
			lines[nlines].p = p;
			lines[nlines].len = l;
			snprintf(lines[nlines].when, sizeof lines[nlines].when,
			    "%.*s", STEM_TIME_LEN, v[i].name);
			lines[nlines].pos = pos++;
			lines[nlines].ts = dump_ts(p, l);
			nlines++;
		}
	}
	if (nlines > 1)
		qsort(lines, nlines, sizeof *lines, dump_cmp);
	for (i = nlines > last ? nlines - last : 0; i < nlines; i++)
		if (fn(lines[i].p, lines[i].len, arg) != 0)
			break;
out:
	free(lines);
	for (i = 0; bufs != NULL && i < n; i++)
		buf_free(&bufs[i]);
	free(bufs);
	ents_free(v, n);
	return rv;
}

/* Verify every segment file offline. */
int
queue_check(const char *dir,
    void (*bad)(const char *file, unsigned line, const char *why, void *),
    void *arg, unsigned *nfiles, unsigned *nbad)
{
	struct ent	*v;
	struct buf	 b = { NULL, 0, 0 };
	size_t		 n, i;
	struct queue_lines	 it;
	const char	*p, *why;
	size_t		 l;
	unsigned	 files = 0, nb = 0;
	int		 dfd, ee;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if (scan_dir(dfd, &v, &n, NULL) == -1) {
		ee = errno;
		close(dfd);
		errno = ee;
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (v[i].kind != K_READY && v[i].kind != K_PARTIAL &&
		    v[i].kind != K_INVALID)
			continue;
		b.len = 0;
		if (read_at(dfd, v[i].name, &b) == -1)
			continue;	/* gone meanwhile */
		files++;
		queue_lines_init(&it, b.data, b.len);
		while (queue_lines_next(&it, &p, &l)) {
			why = line_check(p, l);
			if (!it.eol && v[i].kind == K_PARTIAL)
				why = "torn last line (no newline)";
			if (why == NULL)
				continue;
			nb++;
			if (bad != NULL)
				bad(v[i].name, it.lineno, why, arg);
		}
	}
	buf_free(&b);
	ents_free(v, n);
	close(dfd);
	if (nfiles != NULL)
		*nfiles = files;
	if (nbad != NULL)
		*nbad = nb;
	return 0;
}
