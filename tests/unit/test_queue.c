/*
 * test_queue.c — unit tests for proto/queue.c: rolling, crash recovery
 * (kill -9, torn tails, data-file crash cases), claims, legacy partials,
 * ageing, caps and the shared dropped counter, safety checks, clear, dump,
 * check and stats. Every case works in its own mkdtemp directory; must
 * never touch anything outside it.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <uuid/uuid.h>

#include "buf.h"
#include "queue.h"
#include "testlib.h"

#define DAY		86400
#define KILL_WAIT_BYTES	(64 * 1024)	/* written before the kill */
#define WAIT_STEPS	500		/* × 10 ms: bounded waits */
#define CLAIM_ROUNDS	5		/* two-claimant races */
#define CLAIM_SEGMENTS	40		/* segments per round */

struct tq {
	char	top[64];	/* mkdtemp */
	char	dir[128];	/* top/queue */
};

static int
setup(void **state)
{
	struct tq	*t;

	t = calloc(1, sizeof *t);
	assert_non_null(t);
	assert_int_equal(tl_tmpdir(t->top, sizeof t->top, "queue-test"), 0);
	snprintf(t->dir, sizeof t->dir, "%s/queue", t->top);
	assert_int_equal(mkdir(t->dir, 0700), 0);
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct tq	*t = *state;

	tl_rm_rf(t->top);
	free(t);
	return 0;
}

static void
path(char *out, size_t len, const struct tq *t, const char *name)
{
	snprintf(out, len, "%s/%s", t->dir, name);
}

static void
put_file(const struct tq *t, const char *name, const void *p, size_t n)
{
	char	pa[PATH_MAX];
	int	fd;

	path(pa, sizeof pa, t, name);
	fd = open(pa, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	close(fd);
}

static void
put_str(const struct tq *t, const char *name, const char *s)
{
	put_file(t, name, s, strlen(s));
}

/* Read a file of the queue dir; -1 if it does not exist. */
static long
get_file(const struct tq *t, const char *name, struct buf *b)
{
	char	pa[PATH_MAX];
	char	tmp[8192];
	ssize_t	r;
	int	fd;

	b->len = 0;
	path(pa, sizeof pa, t, name);
	if ((fd = open(pa, O_RDONLY)) == -1)
		return -1;
	while ((r = read(fd, tmp, sizeof tmp)) > 0)
		assert_int_equal(buf_add(b, tmp, (size_t)r), 0);
	close(fd);
	return (long)b->len;
}

static int
exists(const struct tq *t, const char *name)
{
	char		pa[PATH_MAX];
	struct stat	st;

	path(pa, sizeof pa, t, name);
	return lstat(pa, &st) == 0;
}

static void
set_age(const struct tq *t, const char *name, time_t ago)
{
	char		pa[PATH_MAX];
	struct timespec	ts[2];

	path(pa, sizeof pa, t, name);
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - ago;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, pa, ts, AT_SYMLINK_NOFOLLOW), 0);
}

/* A segment stem dated `ago` seconds in the past, made unique by n. */
static void
stem_ago(char *out, size_t len, time_t ago, unsigned n)
{
	struct tm	tm;
	time_t		t = time(NULL) - ago;
	char		stamp[32];

	gmtime_r(&t, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
	if (snprintf(out, len, "%.15s-%08x-0000-4000-8000-000000000000",
	    stamp, n) >= (int)len)
		fail_msg("stem too long");
}

/* Count regular entries whose name ends with suffix. */
static unsigned
count_suffix(const struct tq *t, const char *suffix)
{
	DIR		*d;
	struct dirent	*de;
	unsigned	 c = 0;
	size_t		 l, sl = strlen(suffix);

	d = opendir(t->dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		l = strlen(de->d_name);
		if (l > sl && strcmp(de->d_name + l - sl, suffix) == 0)
			c++;
	}
	closedir(d);
	return c;
}

/* The first (name-ordered) entry ending with suffix; 0 if none. */
static int
find_suffix(const struct tq *t, const char *suffix, char *out, size_t len)
{
	struct dirent	**list;
	int		  n, i, found = 0;
	size_t		  l, sl = strlen(suffix);

	n = scandir(t->dir, &list, NULL, alphasort);
	assert_true(n >= 0);
	for (i = 0; i < n; i++) {
		l = strlen(list[i]->d_name);
		if (!found && l > sl &&
		    strcmp(list[i]->d_name + l - sl, suffix) == 0) {
			snprintf(out, len, "%s", list[i]->d_name);
			found = 1;
		}
		free(list[i]);
	}
	free(list);
	return found;
}

static int
line_count(const char *p, size_t n)
{
	int	c = 0;
	size_t	i;

	for (i = 0; i < n; i++)
		c += p[i] == '\n';
	return c;
}

/* One record line with ts = i (exactly `size` bytes if size > 0). */
static void
rec(struct buf *b, unsigned i, size_t size)
{
	size_t	start = b->len, pad;

	assert_int_equal(buf_printf(b, "{\"event_id\":\"open_atomcode\","
	    "\"ts\":%u,\"pad\":\"", i), 0);
	pad = size > 0 ? size - (b->len - start) - 3 : 0;
	while (pad-- > 0)
		assert_int_equal(buf_putc(b, 'x'), 0);
	assert_int_equal(buf_puts(b, "\"}\n"), 0);
	if (size > 0)
		assert_int_equal(b->len - start, size);
}

static struct queue *
qopen(const struct tq *t, int flags)
{
	struct queue	*q = NULL;
	char		 cause[256];

	if (queue_open(t->dir, flags, &q, cause, sizeof cause) == -1)
		fail_msg("queue_open: %s", cause);
	return q;
}

static void
append_n(struct queue *q, unsigned from, unsigned n, size_t size)
{
	struct buf	b = { NULL, 0, 0 };
	unsigned	i;

	for (i = 0; i < n; i++)
		rec(&b, from + i, size);
	assert_int_equal(queue_append(q, b.data, b.len, n), 0);
	buf_free(&b);
}

/* A managed partial left by a crashed writer: file + marker, no lock. */
static void
put_managed(const struct tq *t, const char *stem, const void *p, size_t n)
{
	char	name[256];

	snprintf(name, sizeof name, "%s.partial", stem);
	put_file(t, name, p, n);
	snprintf(name, sizeof name, "%s.partial.owner", stem);
	put_file(t, name, "", 0);
}

/* ---------------------------------------------------------------- */

static void
t_roll_at_500(void **state)
{
	struct tq	*t = *state;
	struct queue	*q = qopen(t, 0);
	struct buf	 b = { NULL, 0, 0 };
	char		 name[256];
	unsigned	 i;

	for (i = 0; i < 499; i++)
		append_n(q, i, 1, 0);
	assert_int_equal(count_suffix(t, ".ndjson"), 0);
	assert_int_equal(count_suffix(t, ".partial"), 1);
	assert_int_equal(count_suffix(t, ".partial.owner"), 1);
	assert_int_equal(queue_active_events(q), 499);
	append_n(q, 499, 1, 0);
	assert_int_equal(count_suffix(t, ".ndjson"), 1);
	assert_int_equal(count_suffix(t, ".partial"), 0);
	assert_int_equal(count_suffix(t, ".partial.owner"), 0);
	assert_int_equal(queue_active_events(q), 0);
	assert_true(find_suffix(t, ".ndjson", name, sizeof name));
	assert_true(get_file(t, name, &b) > 0);
	assert_int_equal(line_count(b.data, b.len), 500);
	/* Name: <UTC YYYYMMDD-HHMMSS>-<uuid>.ndjson */
	assert_int_equal(strlen(name), 15 + 1 + 36 + 7);
	assert_int_equal(name[8], '-');
	assert_int_equal(name[15], '-');
	queue_close(q);
	assert_int_equal(count_suffix(t, ".ndjson"), 1);
	buf_free(&b);
}

static void
t_499_no_roll(void **state)
{
	struct tq	*t = *state;
	struct queue	*q = qopen(t, 0);

	assert_int_equal(queue_roll(q), 0);	/* nothing active */
	append_n(q, 0, 499, 0);
	assert_int_equal(count_suffix(t, ".ndjson"), 0);
	assert_int_equal(queue_active_events(q), 499);
	assert_true(queue_active_bytes(q) > 0);
	assert_int_equal(queue_roll(q), 1);
	assert_int_equal(count_suffix(t, ".ndjson"), 1);
	assert_int_equal(queue_roll(q), 0);	/* second roll: nothing */
	assert_int_equal(count_suffix(t, ".ndjson"), 1);
	assert_int_equal(count_suffix(t, ".partial"), 0);
	queue_close(q);
}

static void
t_roll_at_bytes(void **state)
{
	struct tq	*t = *state;
	struct queue	*q = qopen(t, 0);
	char		 name[256];
	struct stat	 st;
	char		 pa[PATH_MAX];
	unsigned	 i;

	/* 256 lines of 2048 bytes = 512 KiB exactly. */
	for (i = 0; i < 255; i++)
		append_n(q, i, 1, 2048);
	assert_int_equal(count_suffix(t, ".ndjson"), 0);
	assert_int_equal(queue_active_bytes(q), 255 * 2048);
	append_n(q, 255, 1, 2048);
	assert_int_equal(count_suffix(t, ".ndjson"), 1);
	assert_true(find_suffix(t, ".ndjson", name, sizeof name));
	path(pa, sizeof pa, t, name);
	assert_int_equal(stat(pa, &st), 0);
	assert_int_equal(st.st_size, QUEUE_ROLL_BYTES);
	queue_close(q);
}

static void
t_batch_split(void **state)
{
	struct tq	*t = *state;
	struct queue	*q = qopen(t, 0);
	struct buf	 b = { NULL, 0, 0 };
	struct dirent	**list;
	int		 n, i, lines[8], nr = 0;

	append_n(q, 0, 1234, 0);
	assert_int_equal(count_suffix(t, ".ndjson"), 2);
	assert_int_equal(queue_active_events(q), 234);
	assert_int_equal(queue_roll(q), 1);
	/* A byte split: 300 × 2048 → 256 + 44. */
	append_n(q, 0, 300, 2048);
	assert_int_equal(queue_active_events(q), 44);
	assert_int_equal(queue_roll(q), 1);
	n = scandir(t->dir, &list, NULL, alphasort);
	for (i = 0; i < n; i++) {
		if (strstr(list[i]->d_name, ".ndjson") != NULL && nr < 8) {
			assert_true(get_file(t, list[i]->d_name, &b) > 0);
			lines[nr++] = line_count(b.data, b.len);
		}
		free(list[i]);
	}
	free(list);
	assert_int_equal(nr, 5);
	/* Names sort by time, same second possible: compare as a multiset. */
	{
		int	c500 = 0, c234 = 0, c256 = 0, c44 = 0;

		for (i = 0; i < nr; i++) {
			c500 += lines[i] == 500;
			c234 += lines[i] == 234;
			c256 += lines[i] == 256;
			c44 += lines[i] == 44;
		}
		assert_int_equal(c500, 2);
		assert_int_equal(c234, 1);
		assert_int_equal(c256, 1);
		assert_int_equal(c44, 1);
	}
	buf_free(&b);
	queue_close(q);
}

static void
t_append_rejects(void **state)
{
	struct tq	*t = *state;
	struct queue	*q = qopen(t, 0);
	const char	*l = "{\"event_id\":\"x\",\"ts\":1}\n";

	errno = 0;
	assert_int_equal(queue_append(q, l, strlen(l) - 1, 1), -1);
	assert_int_equal(errno, EINVAL);	/* no final newline */
	assert_int_equal(queue_append(q, l, strlen(l), 2), -1);
	assert_int_equal(errno, EINVAL);	/* count mismatch */
	assert_int_equal(queue_append(q, l, 0, 0), 0);
	assert_int_equal(count_suffix(t, ".partial"), 0);
	queue_close(q);
	assert_int_equal(count_suffix(t, ".ndjson"), 0);
}

/* Child: append one record at a time until killed. */
static void
kill_child(const char *dir)
{
	struct queue	*q;
	struct buf	 b = { NULL, 0, 0 };
	unsigned	 i;

	if (queue_open(dir, 0, &q, NULL, 0) == -1)
		_exit(2);
	queue_set_fsync(q, QUEUE_FSYNC_NEVER);
	for (i = 0;; i++) {
		b.len = 0;
		rec(&b, i, 3000 + (i % 7) * 1000);
		if (queue_append(q, b.data, b.len, 1) == -1)
			_exit(3);
	}
}

static uint64_t
dir_bytes(const struct tq *t)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	char		 pa[PATH_MAX];
	uint64_t	 n = 0;

	if ((d = opendir(t->dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		path(pa, sizeof pa, t, de->d_name);
		if (lstat(pa, &st) == 0 && S_ISREG(st.st_mode))
			n += (uint64_t)st.st_size;
	}
	closedir(d);
	return n;
}

static void
t_kill9_mid_append(void **state)
{
	struct tq	*t = *state;
	struct queue	*q;
	struct buf	 b = { NULL, 0, 0 };
	struct dirent	**list;
	char		 partial[256], marker[300], *p, *e, *nl;
	pid_t		 pid;
	int		 st, i, n, torn = 0, fd, unmarked = 0;
	unsigned	 seen = 0, nready = 0;
	char		 pa[PATH_MAX];
	const char	*frag = "{\"event_id\":\"open_atomcode\",\"ts\":99";

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		kill_child(t->dir);
	for (i = 0; i < WAIT_STEPS && dir_bytes(t) < KILL_WAIT_BYTES; i++)
		usleep(10000);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	assert_true(i < WAIT_STEPS);

	/*
	 * A kill between creating a partial and creating its marker leaves an
	 * empty unmarked partial: legacy, so recovery must leave it alone.
	 */
	if (find_suffix(t, ".partial", partial, sizeof partial)) {
		snprintf(marker, sizeof marker, "%s.owner", partial);
		if (!exists(t, marker)) {
			assert_int_equal(get_file(t, partial, &b), 0);
			unmarked = 1;
		}
	}
	/* Make the torn tail certain: the kill may have hit between writes. */
	if (!unmarked && find_suffix(t, ".partial", partial, sizeof partial) &&
	    get_file(t, partial, &b) > 0) {
		torn = 1;
		if (b.data[b.len - 1] == '\n') {
			path(pa, sizeof pa, t, partial);
			fd = open(pa, O_WRONLY | O_APPEND);
			assert_true(fd >= 0);
			assert_int_equal(write(fd, frag, strlen(frag)),
			    (ssize_t)strlen(frag));
			close(fd);
		}
	}

	q = qopen(t, 0);
	assert_int_equal(queue_last_recovery(q)->torn_tails,
	    (unsigned)torn);
	assert_int_equal(count_suffix(t, ".partial"), (unsigned)unmarked);
	assert_int_equal(count_suffix(t, ".partial.owner"), 0);
	assert_int_equal(count_suffix(t, ".invalid"), 0);

	/* Every ready line is complete and the ts values are 0..n-1. */
	n = scandir(t->dir, &list, NULL, alphasort);
	assert_true(n > 0);
	for (i = 0; i < n; i++) {
		if (strstr(list[i]->d_name, ".ndjson") != NULL) {
			nready++;
			assert_true(get_file(t, list[i]->d_name, &b) > 0);
			assert_int_equal(b.data[b.len - 1], '\n');
			e = b.data + b.len;
			for (p = b.data; p < e; p = nl + 1) {
				nl = memchr(p, '\n', (size_t)(e - p));
				assert_non_null(nl);
				assert_int_equal(strncmp(p, "{\"event_id\":"
				    "\"open_atomcode\",\"ts\":", 33), 0);
				assert_int_equal(nl[-1], '}');
				seen++;
			}
		}
		free(list[i]);
	}
	free(list);
	assert_true(nready >= 1);
	assert_true(seen >= 10);
	/* Contiguity: segments of one second do not sort in write order, so
	 * compare the sum of the ts values with 0 + 1 + ... + (seen - 1). */
	{
		unsigned long long	sum = 0, want;
		struct queue_claim	c;

		while (queue_claim(q, &c) == 1) {
			b.len = 0;
			assert_int_equal(queue_claim_read(q, &c, &b), 0);
			for (p = b.data, e = b.data + b.len; p < e;
			    p = nl + 1) {
				nl = memchr(p, '\n', (size_t)(e - p));
				sum += strtoul(p + 33, NULL, 10);
			}
			assert_int_equal(queue_complete(q, &c), 0);
		}
		want = (unsigned long long)seen * (seen - 1) / 2;
		assert_int_equal(sum, want);
	}
	queue_close(q);
	buf_free(&b);
}

static void
t_stale_claim(void **state)
{
	struct tq	*t = *state;
	struct queue	*q;
	struct buf	 b = { NULL, 0, 0 };
	const char	*body = "{\"event_id\":\"x\",\"ts\":1}\n";
	char		 stem[64], claim[256], ready[256];

	stem_ago(stem, sizeof stem, 0, 1);
	snprintf(ready, sizeof ready, "%s.ndjson", stem);
	snprintf(claim, sizeof claim, "%s.ndjson.sending-12345-abcdef", stem);
	put_str(t, claim, body);
	set_age(t, claim, 61);
	q = qopen(t, 0);
	assert_int_equal(queue_last_recovery(q)->claims_restored, 1);
	assert_false(exists(t, claim));
	assert_int_equal(get_file(t, ready, &b), (long)strlen(body));
	assert_memory_equal(b.data, body, strlen(body));
	queue_close(q);
	buf_free(&b);
}

static void
t_fresh_claim(void **state)
{
	struct tq	*t = *state;
	struct queue	*q;
	struct queue_stats st;
	struct queue_claim c;
	char		 stem[64], claim[256], ready[256];

	stem_ago(stem, sizeof stem, 0, 1);
	snprintf(claim, sizeof claim, "%s.ndjson.sending-12345-abcdef", stem);
	put_str(t, claim, "{\"event_id\":\"x\",\"ts\":1}\n");
	set_age(t, claim, 30);
	q = qopen(t, 0);
	assert_int_equal(queue_last_recovery(q)->claims_restored, 0);
	assert_true(exists(t, claim));
	assert_int_equal(count_suffix(t, ".ndjson"), 0);
	assert_int_equal(queue_stats(q, &st), 0);
	assert_int_equal(st.claimed_segments, 1);
	assert_int_equal(st.ready_segments, 0);

	/* Claiming an old ready file makes a fresh claim: recovery right
	 * after must leave it alone. */
	stem_ago(stem, sizeof stem, 7200, 2);
	snprintf(ready, sizeof ready, "%s.ndjson", stem);
	put_str(t, ready, "{\"event_id\":\"x\",\"ts\":1}\n");
	set_age(t, ready, 7200);
	assert_int_equal(queue_claim(q, &c), 1);
	assert_string_equal(c.ready, ready);
	assert_int_equal(queue_recover(q, 0, NULL), 0);
	assert_int_equal(queue_last_recovery(q)->claims_restored, 0);
	assert_true(exists(t, c.name));
	queue_close(q);
}

static void
t_claim_lifecycle(void **state)
{
	struct tq		*t = *state;
	struct queue		*a = qopen(t, 0), *b2 = qopen(t, 0);
	struct queue_claim	 c, c2;
	struct buf		 b = { NULL, 0, 0 };
	char			 want[64], other[256], stem[64];
	struct stat		 st;
	char			 pa[PATH_MAX];

	append_n(a, 0, 3, 0);
	assert_int_equal(queue_roll(a), 1);
	assert_int_equal(queue_claim(a, &c), 1);
	assert_int_equal(queue_claim(b2, &c2), 0);	/* first wins */
	snprintf(want, sizeof want, ".ndjson.sending-%ld-", (long)getpid());
	assert_non_null(strstr(c.name, want));
	assert_int_equal(strlen(c.stem) + 7, strlen(c.ready));
	assert_int_equal(strncmp(c.name, c.ready, strlen(c.ready)), 0);
	path(pa, sizeof pa, t, c.name);
	assert_int_equal(stat(pa, &st), 0);
	assert_true(time(NULL) - st.st_mtime < 5);
	assert_int_equal(c.bytes, (uint64_t)st.st_size);
	assert_int_equal(queue_claim_read(a, &c, &b), 0);
	assert_int_equal(b.len, c.bytes);
	assert_int_equal(line_count(b.data, b.len), 3);

	/* Unclaim: ready again, claimable by the other handle. */
	assert_int_equal(queue_unclaim(a, &c), 0);
	assert_true(exists(t, c.ready));
	assert_int_equal(queue_claim(b2, &c2), 1);
	assert_string_equal(c2.ready, c.ready);
	/* Quarantine → <stem>.invalid, never claimed again. */
	assert_int_equal(queue_quarantine(b2, &c2), 0);
	snprintf(other, sizeof other, "%s.invalid", c2.stem);
	assert_true(exists(t, other));
	assert_int_equal(queue_claim(a, &c), 0);

	/* Complete deletes. */
	append_n(a, 0, 1, 0);
	assert_int_equal(queue_roll(a), 1);
	assert_int_equal(queue_claim(a, &c), 1);
	assert_int_equal(queue_complete(a, &c), 0);
	assert_false(exists(t, c.name));
	assert_false(exists(t, c.ready));

	/* unclaim_own restores ours only. */
	append_n(a, 0, 1, 0);
	assert_int_equal(queue_roll(a), 1);
	append_n(a, 0, 1, 0);
	assert_int_equal(queue_roll(a), 1);
	assert_int_equal(queue_claim(a, &c), 1);
	assert_int_equal(queue_claim(b2, &c2), 1);
	stem_ago(stem, sizeof stem, 0, 7);
	snprintf(other, sizeof other, "%s.ndjson.sending-%ld-ffff", stem,
	    (long)getpid() + 1);
	put_str(t, other, "{\"event_id\":\"x\",\"ts\":1}\n");
	assert_int_equal(queue_unclaim_own(a), 2);
	assert_true(exists(t, c.ready));
	assert_true(exists(t, c2.ready));
	assert_true(exists(t, other));
	queue_close(a);
	queue_close(b2);
	buf_free(&b);
}

/* Claim and complete until the queue is empty; report names on fd. */
static int
drain_claims(struct queue *q, int fd)
{
	struct queue_claim	c;
	int			r, n = 0;
	char			line[QUEUE_NAME_MAX + 1];

	while ((r = queue_claim(q, &c)) == 1) {
		if (queue_complete(q, &c) == -1)
			return -1;
		snprintf(line, sizeof line, "%s\n", c.ready);
		if (write(fd, line, strlen(line)) != (ssize_t)strlen(line))
			return -1;
		n++;
	}
	return r == 0 ? n : -1;
}

static void
t_two_claimants_fork(void **state)
{
	struct tq	*t = *state;
	struct queue	*q = qopen(t, 0), *cq;
	struct buf	 names = { NULL, 0, 0 };
	struct queue_stats qs;
	int		 round, go[2], out[2], st, mine, k;
	unsigned	 i;
	char		 x, tmp[4096], *p, *nl, *dup;
	ssize_t		 r;
	pid_t		 pid;

	for (round = 0; round < CLAIM_ROUNDS; round++) {
		for (i = 0; i < CLAIM_SEGMENTS; i++) {
			append_n(q, i, 1, 0);
			assert_int_equal(queue_roll(q), 1);
		}
		assert_int_equal(pipe(go), 0);
		assert_int_equal(pipe(out), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(go[1]);
			close(out[0]);
			if (queue_open(t->dir, QUEUE_O_NORECOVER, &cq, NULL,
			    0) == -1 || read(go[0], &x, 1) != 1)
				_exit(2);
			_exit(drain_claims(cq, out[1]) == -1 ? 3 : 0);
		}
		close(go[0]);
		assert_int_equal(write(go[1], "g", 1), 1);
		close(go[1]);
		mine = drain_claims(q, out[1]);
		close(out[1]);
		assert_true(mine >= 0);
		names.len = 0;
		while ((r = read(out[0], tmp, sizeof tmp)) > 0)
			assert_int_equal(buf_add(&names, tmp, (size_t)r), 0);
		close(out[0]);
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
		/* Every segment claimed exactly once, by one of the two. */
		assert_int_equal(line_count(names.data, names.len),
		    CLAIM_SEGMENTS);
		p = names.data;
		for (k = 0; k < CLAIM_SEGMENTS; k++, p = nl + 1) {
			nl = strchr(p, '\n');
			*nl = '\0';
			dup = strstr(nl + 1, p);
			assert_null(dup);
		}
		assert_int_equal(queue_stats(q, &qs), 0);
		assert_int_equal(qs.ready_segments, 0);
		assert_int_equal(qs.claimed_segments, 0);
	}
	buf_free(&names);
	queue_close(q);
}

struct legacy_case {
	const char	*what;
	time_t		 name_ago, mtime_ago;
	const char	*body;
	const char	*after;	/* extension afterwards, NULL: gone */
};

static const struct legacy_case legacy_cases[] = {
	{ "empty", 2 * DAY, 2 * DAY, "", NULL },
	{ "garbage", 2 * DAY, 2 * DAY, "some data\n", ".invalid" },
	{ "valid", 2 * DAY, 2 * DAY,
	    "{\"event_id\":\"open_atomcode\",\"ts\":1700000000000}\n",
	    ".ndjson" },
	{ "recent", 0, 0, "{\"event_id\":\"x\",\"ts\":1}\n", ".partial" },
	{ "recently touched", 2 * DAY, 3600, "{\"event_id\":\"x\",\"ts\":1}\n",
	    ".partial" },
	{ "recent name", 3600, 2 * DAY, "{\"event_id\":\"x\",\"ts\":1}\n",
	    ".partial" },
};
#define NLEGACY (sizeof legacy_cases / sizeof legacy_cases[0])

static void
t_legacy_partials(void **state)
{
	struct tq		*t = *state;
	struct queue		*q;
	struct queue_recovery	 r;
	struct queue_stats	 st;
	struct buf		 b = { NULL, 0, 0 };
	char			 stem[NLEGACY][64], name[256];
	size_t			 i;

	for (i = 0; i < NLEGACY; i++) {
		stem_ago(stem[i], sizeof stem[i], legacy_cases[i].name_ago,
		    (unsigned)i);
		snprintf(name, sizeof name, "%s.partial", stem[i]);
		put_str(t, name, legacy_cases[i].body);
		set_age(t, name, legacy_cases[i].mtime_ago);
	}
	/* A plain open never touches unmarked partials. */
	q = qopen(t, 0);
	assert_int_equal(count_suffix(t, ".partial"), NLEGACY);
	assert_int_equal(queue_stats(q, &st), 0);
	assert_int_equal(st.partial_segments, NLEGACY);
	assert_int_equal(queue_recover(q, 0, &r), 0);
	assert_int_equal(count_suffix(t, ".partial"), NLEGACY);

	assert_int_equal(queue_recover(q, 1, &r), 0);
	assert_int_equal(r.promoted, 1);
	assert_int_equal(r.legacy_promoted, 1);
	assert_int_equal(r.quarantined, 1);
	assert_int_equal(r.deleted_empty, 1);
	for (i = 0; i < NLEGACY; i++) {
		const struct legacy_case *lc = &legacy_cases[i];
		const char *exts[] = { ".partial", ".ndjson", ".invalid" };
		size_t k;

		for (k = 0; k < 3; k++) {
			if (snprintf(name, sizeof name, "%s%s", stem[i],
			    exts[k]) >= (int)sizeof name)
				fail();
			if (lc->after != NULL &&
			    strcmp(lc->after, exts[k]) == 0) {
				assert_true(get_file(t, name, &b) >= 0);
				assert_int_equal(b.len, strlen(lc->body));
				assert_memory_equal(b.data, lc->body, b.len);
			} else if (exists(t, name))
				fail_msg("%s: unexpected %s", lc->what, name);
		}
	}
	queue_close(q);

	/* QUEUE_O_LEGACY at open does the same. */
	for (i = 0; i < NLEGACY; i++) {
		if (snprintf(name, sizeof name, "%s.partial", stem[i]) >=
		    (int)sizeof name)
			fail();
		if (exists(t, name))
			set_age(t, name, 2 * DAY);
	}
	q = qopen(t, QUEUE_O_LEGACY);
	/* Only the "recently touched" one (now quiet, old name) moves. */
	assert_int_equal(queue_last_recovery(q)->legacy_promoted, 1);
	assert_int_equal(count_suffix(t, ".partial"), 2);
	queue_close(q);
	buf_free(&b);
}

static void
t_managed_partials(void **state)
{
	struct tq	*t = *state;
	struct queue	*q;
	struct buf	 b = { NULL, 0, 0 };
	const char	*body = "{\"event_id\":\"x\",\"ts\":1}\n"
	    "{\"event_id\":\"y\",\"ts\":2}\n";
	char		 s1[64], s2[64], s3[64], name[256], pa[PATH_MAX];
	int		 fd;

	stem_ago(s1, sizeof s1, 0, 1);	/* crashed: promoted at once */
	stem_ago(s2, sizeof s2, 0, 2);	/* live, locked: untouched */
	stem_ago(s3, sizeof s3, 0, 3);	/* live, locked, still 0 bytes */
	put_managed(t, s1, body, strlen(body));
	put_managed(t, s2, body, strlen(body));
	put_managed(t, s3, "", 0);
	snprintf(name, sizeof name, "%s.partial", s2);
	path(pa, sizeof pa, t, name);
	fd = open(pa, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	snprintf(pa, sizeof pa, "%s/%s.partial", t->dir, s3);
	{
		int fd3 = open(pa, O_RDWR);

		assert_true(fd3 >= 0);
		assert_int_equal(flock(fd3, LOCK_EX), 0);
		q = qopen(t, QUEUE_O_LEGACY);
		close(fd3);
	}
	assert_int_equal(queue_last_recovery(q)->promoted, 1);
	assert_int_equal(queue_last_recovery(q)->legacy_promoted, 0);
	snprintf(name, sizeof name, "%s.ndjson", s1);
	assert_int_equal(get_file(t, name, &b), (long)strlen(body));
	assert_memory_equal(b.data, body, b.len);
	snprintf(name, sizeof name, "%s.partial.owner", s1);
	assert_false(exists(t, name));
	snprintf(name, sizeof name, "%s.partial", s2);
	assert_true(exists(t, name));
	snprintf(name, sizeof name, "%s.partial.owner", s2);
	assert_true(exists(t, name));
	snprintf(name, sizeof name, "%s.partial", s3);
	assert_true(exists(t, name));
	close(fd);
	/* Lock released: the next recovery takes it. */
	assert_int_equal(queue_recover(q, 0, NULL), 0);
	assert_int_equal(queue_last_recovery(q)->promoted, 1);
	assert_int_equal(queue_last_recovery(q)->deleted_empty, 1);
	assert_int_equal(count_suffix(t, ".partial"), 0);
	assert_int_equal(count_suffix(t, ".owner"), 0);
	queue_close(q);
	buf_free(&b);
}

struct crash_case {
	const char	*file;
	const char	*outcome;	/* ".ndjson", ".invalid" or NULL */
	unsigned	 torn;
};

static const struct crash_case crash_cases[] = {
	{ "valid", ".ndjson", 0 },
	{ "torn-tail", ".ndjson", 1 },
	{ "bad-last-line", ".ndjson", 1 },
	{ "nul-tail", ".ndjson", 1 },
	{ "unterminated-valid", ".ndjson", 0 },
	{ "blank-lines", ".ndjson", 0 },
	{ "negative-ts", ".ndjson", 0 },
	{ "corrupt-middle", ".invalid", 0 },
	{ "float-ts-middle", ".invalid", 0 },
	{ "big-ts-middle", ".invalid", 0 },
	{ "string-ts-middle", ".invalid", 0 },
	{ "no-event-id-middle", ".invalid", 0 },
	{ "numeric-event-id-middle", ".invalid", 0 },
	{ "array-middle", ".invalid", 0 },
	{ "bad-utf8-middle", ".invalid", 0 },
	{ "only-garbage", ".invalid", 0 },
	{ "only-torn", NULL, 0 },
	{ "blank-only", NULL, 0 },
};
#define NCRASH (sizeof crash_cases / sizeof crash_cases[0])

static int
slurp(const char *pa, struct buf *b)
{
	char	tmp[4096];
	ssize_t	r;
	int	fd;

	b->len = 0;
	if ((fd = open(pa, O_RDONLY)) == -1)
		return -1;
	while ((r = read(fd, tmp, sizeof tmp)) > 0)
		assert_int_equal(buf_add(b, tmp, (size_t)r), 0);
	close(fd);
	return 0;
}

static void
t_crash_cases(void **state)
{
	struct tq		*t = *state;
	struct queue		*q;
	struct buf		 in = { NULL, 0, 0 }, want = { NULL, 0, 0 };
	struct buf		 got = { NULL, 0, 0 };
	char			 data[PATH_MAX / 2], pa[PATH_MAX], stem[64];
	char			 name[256];
	const char		*top = getenv("TOP");
	const struct crash_case	*cc;
	size_t			 i;

	for (i = 0; i < NCRASH; i++) {
		cc = &crash_cases[i];
		snprintf(data, sizeof data, "%s/tests/data/queue",
		    top != NULL && *top != '\0' ? top : ".");
		snprintf(pa, sizeof pa, "%s/%s.partial", data, cc->file);
		if (slurp(pa, &in) == -1)
			fail_msg("cannot read %s (run from the top or set TOP)",
			    pa);
		snprintf(pa, sizeof pa, "%s/%s.expected", data, cc->file);
		if (slurp(pa, &want) == -1)
			assert_int_equal(buf_add(&want, in.data, in.len), 0);
		stem_ago(stem, sizeof stem, 0, (unsigned)i);
		put_managed(t, stem, in.data, in.len);
		q = qopen(t, 0);
		if (cc->outcome == NULL) {
			assert_int_equal(queue_last_recovery(q)->deleted_empty,
			    1);
		} else {
			snprintf(name, sizeof name, "%s%s", stem, cc->outcome);
			if (get_file(t, name, &got) == -1)
				fail_msg("%s: no %s", cc->file, cc->outcome);
			if (strcmp(cc->outcome, ".invalid") == 0) {
				/* Quarantine keeps the bytes as they were. */
				assert_int_equal(got.len, in.len);
				assert_memory_equal(got.data, in.data, in.len);
			} else {
				assert_int_equal(got.len, want.len);
				assert_memory_equal(got.data, want.data,
				    want.len);
			}
		}
		assert_int_equal(queue_last_recovery(q)->torn_tails, cc->torn);
		assert_int_equal(count_suffix(t, ".partial"), 0);
		assert_int_equal(count_suffix(t, ".owner"), 0);
		queue_close(q);
		/* Clean for the next case. */
		q = qopen(t, QUEUE_O_NORECOVER);
		assert_int_equal(queue_clear(q, NULL, NULL), 0);
		queue_close(q);
	}
	buf_free(&in);
	buf_free(&want);
	buf_free(&got);
}

static void
t_old_files(void **state)
{
	struct tq	*t = *state;
	struct queue	*q;
	const char	*body = "{\"event_id\":\"x\",\"ts\":1}\n";
	char		 s1[64], s2[64], s3[64], s4[64], name[256];
	char		 pa[PATH_MAX];
	int		 fd;

	stem_ago(s1, sizeof s1, 91 * DAY, 1);	/* managed, free */
	stem_ago(s2, sizeof s2, 91 * DAY, 2);	/* managed, locked */
	stem_ago(s3, sizeof s3, 91 * DAY, 3);	/* .invalid */
	stem_ago(s4, sizeof s4, 89 * DAY, 4);	/* .invalid, kept */
	put_managed(t, s1, body, strlen(body));
	put_managed(t, s2, body, strlen(body));
	snprintf(name, sizeof name, "%s.invalid", s3);
	put_str(t, name, "junk\n");
	snprintf(name, sizeof name, "%s.invalid", s4);
	put_str(t, name, "junk\n");
	/* Old by mtime too (and the record's ts 1 is 1970). */
	snprintf(name, sizeof name, "%s.partial", s1);
	set_age(t, name, 91 * DAY);
	snprintf(name, sizeof name, "%s.invalid", s3);
	set_age(t, name, 91 * DAY);
	snprintf(name, sizeof name, "%s.partial", s2);
	path(pa, sizeof pa, t, name);
	fd = open(pa, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	q = qopen(t, 0);
	assert_int_equal(queue_last_recovery(q)->deleted_old, 2);
	/* The deleted partial held a valid record: counted as dropped. */
	assert_int_equal(queue_last_recovery(q)->dropped_old, 1);
	assert_int_equal(queue_dropped(q), 1);
	snprintf(name, sizeof name, "%s.partial", s1);
	assert_false(exists(t, name));
	snprintf(name, sizeof name, "%s.partial.owner", s1);
	assert_false(exists(t, name));
	snprintf(name, sizeof name, "%s.partial", s2);
	assert_true(exists(t, name));
	snprintf(name, sizeof name, "%s.partial.owner", s2);
	assert_true(exists(t, name));
	snprintf(name, sizeof name, "%s.invalid", s3);
	assert_false(exists(t, name));
	snprintf(name, sizeof name, "%s.invalid", s4);
	assert_true(exists(t, name));
	assert_int_equal(count_suffix(t, ".ndjson"), 0);
	close(fd);
	queue_close(q);
}

#define MAXFILES 64

/* Names made by put_ready_invalid: invalid[i] older for bigger i,
 * ready[i] younger for bigger i. */
struct made {
	char	invalid[MAXFILES][64];
	char	ready[MAXFILES][64];
};

/* n ready files (2 events each) and m invalid ones. */
static void
put_ready_invalid(const struct tq *t, unsigned n, unsigned m,
    struct made *mk)
{
	char		stem[64];
	unsigned	i;

	assert_true(n <= MAXFILES && m <= MAXFILES);
	for (i = 0; i < m; i++) {
		stem_ago(stem, sizeof stem, 3600 + i, i);
		if (snprintf(mk->invalid[i], sizeof mk->invalid[i],
		    "%s.invalid", stem) >= (int)sizeof mk->invalid[i])
			fail();
		put_str(t, mk->invalid[i], "junk\n");
	}
	for (i = 0; i < n; i++) {
		stem_ago(stem, sizeof stem, 1800 - i, 1000 + i);
		if (snprintf(mk->ready[i], sizeof mk->ready[i], "%s.ndjson",
		    stem) >= (int)sizeof mk->ready[i])
			fail();
		put_str(t, mk->ready[i], "{\"event_id\":\"x\",\"ts\":1}\n\n"
		    "{\"event_id\":\"y\",\"ts\":2}\n");
	}
}

static void
t_caps_50_ready_10_invalid(void **state)
{
	struct tq	*t = *state;
	struct queue	*q;
	struct made	 mk;

	put_ready_invalid(t, 50, 10, &mk);
	q = qopen(t, 0);
	assert_int_equal(count_suffix(t, ".ndjson"), 50);
	assert_int_equal(count_suffix(t, ".invalid"), 0);
	assert_int_equal(queue_last_recovery(q)->evicted, 10);
	assert_int_equal(queue_dropped(q), 0);
	queue_close(q);
}

static void
t_caps_45_ready_10_invalid(void **state)
{
	struct tq	*t = *state;
	struct queue	*q;
	struct made	 mk;
	unsigned	 i;

	put_ready_invalid(t, 45, 10, &mk);
	q = qopen(t, 0);
	assert_int_equal(count_suffix(t, ".ndjson"), 45);
	assert_int_equal(count_suffix(t, ".invalid"), 5);
	/* The oldest invalid files (i = 5..9) went. */
	for (i = 0; i < 10; i++) {
		if (i >= 5)
			assert_false(exists(t, mk.invalid[i]));
		else
			assert_true(exists(t, mk.invalid[i]));
	}
	queue_close(q);
}

/*
 * n ready files of `events` tiny records each (ts = file * 1000 + i),
 * made oldest first as put_ready_invalid does.
 */
static void
put_ready_events(const struct tq *t, unsigned n, unsigned events,
    struct made *mk)
{
	struct buf	b = { NULL, 0, 0 };
	char		stem[64];
	unsigned	i, k;

	assert_true(n <= MAXFILES);
	for (i = 0; i < n; i++) {
		b.len = 0;
		for (k = 0; k < events; k++)
			assert_int_equal(buf_printf(&b, "{\"event_id\":\"x\","
			    "\"ts\":%u}\n", i * 1000 + k), 0);
		stem_ago(stem, sizeof stem, 1800 - i, 1000 + i);
		if (snprintf(mk->ready[i], sizeof mk->ready[i], "%s.ndjson",
		    stem) >= (int)sizeof mk->ready[i])
			fail();
		put_file(t, mk->ready[i], b.data, b.len);
	}
	buf_free(&b);
}

/* Every ts in the ready files, counted: each of want[] exactly once. */
static void
assert_each_once(const struct tq *t, unsigned n, unsigned events)
{
	struct dirent	**list;
	struct buf	  b = { NULL, 0, 0 };
	unsigned	 *seen;
	const char	 *p, *e;
	int		  m, i;
	unsigned long	  ts;
	unsigned	  k, total = 0;

	seen = calloc(n * 1000, sizeof *seen);
	assert_non_null(seen);
	m = scandir(t->dir, &list, NULL, alphasort);
	assert_true(m >= 0);
	for (i = 0; i < m; i++) {
		size_t l = strlen(list[i]->d_name);

		if (l > 7 && strcmp(list[i]->d_name + l - 7, ".ndjson") == 0 &&
		    get_file(t, list[i]->d_name, &b) >= 0) {
			for (p = b.data, e = b.data + b.len; p < e; ) {
				p = strstr(p, "\"ts\":");
				if (p == NULL || p >= e)
					break;
				ts = strtoul(p + 5, NULL, 10);
				assert_true(ts < n * 1000);
				seen[ts]++;
				total++;
				p += 5;
			}
		}
		free(list[i]);
	}
	free(list);
	for (k = 0; k < n; k++)
		for (i = 0; i < (int)events; i++)
			if (seen[k * 1000 + (unsigned)i] != 1)
				fail_msg("event %u stored %u times", k * 1000 +
				    (unsigned)i, seen[k * 1000 + (unsigned)i]);
	assert_int_equal(total, n * events);
	free(seen);
	buf_free(&b);
}

/*
 * Over the file count with small segments (sparse traffic): merged, not
 * evicted; every event kept once; the merged segment keeps the oldest's
 * place (its time stamp).
 */
static void
t_caps_merge_ready(void **state)
{
	struct tq	*t = *state;
	struct queue	*q;
	struct made	 mk;
	char		 first[64];

	put_ready_events(t, 60, 2, &mk);
	q = qopen(t, 0);
	assert_true(count_suffix(t, ".ndjson") <= QUEUE_CAP_FILES - 10);
	assert_int_equal(queue_last_recovery(q)->evicted, 0);
	assert_int_equal(queue_dropped(q), 0);
	assert_int_equal(count_suffix(t, ".partial"), 0);
	assert_int_equal(count_suffix(t, ".owner"), 0);
	assert_int_equal(count_suffix(t, "-0000-4000-8000-000000000000.ndjson"),
	    (unsigned)count_suffix(t, ".ndjson") - 1);
	assert_true(find_suffix(t, ".ndjson", first, sizeof first));
	assert_memory_equal(first, mk.ready[0], 15);	/* oldest stamp first */
	assert_each_once(t, 60, 2);
	queue_close(q);
}

/* Segments too full to merge (251 events each): the oldest are evicted. */
static void
t_caps_evict_ready(void **state)
{
	struct tq	*t = *state;
	struct queue	*q;
	struct made	 mk;
	unsigned	 i;

	put_ready_events(t, 55, 251, &mk);
	q = qopen(t, 0);
	assert_int_equal(count_suffix(t, ".ndjson"), 50);
	assert_int_equal(queue_last_recovery(q)->evicted, 5);
	assert_int_equal(queue_dropped(q), 5 * 251);
	for (i = 0; i < 55; i++) {
		if (i < 5)
			assert_false(exists(t, mk.ready[i]));
		else
			assert_true(exists(t, mk.ready[i]));
	}
	queue_close(q);
}

static void
t_caps_bytes(void **state)
{
	struct tq	*t = *state;
	struct queue	*q = qopen(t, 0);
	struct queue_stats st;

	/* 11 × 512 KiB > 5 MiB: one segment must go at the 11th roll. */
	append_n(q, 0, 11 * 256, 2048);
	assert_int_equal(count_suffix(t, ".ndjson"), 10);
	assert_int_equal(queue_dropped(q), 256);
	assert_int_equal(queue_stats(q, &st), 0);
	assert_int_equal(st.ready_bytes, 10 * QUEUE_ROLL_BYTES);
	queue_close(q);
}

static void
t_dropped_survives(void **state)
{
	struct tq	*t = *state;
	struct queue	*q, *q2;
	struct buf	 b = { NULL, 0, 0 };
	char		 pa[PATH_MAX];
	const char	*one = "{\"event_id\":\"x\",\"ts\":1}\n";
	struct made	 mk;
	struct buf	 lines = { NULL, 0, 0 };
	unsigned	 i;

	put_ready_events(t, 55, 251, &mk);	/* too full to merge */
	q = qopen(t, 0);
	assert_int_equal(queue_dropped(q), 5 * 251);
	queue_close(q);
	q = qopen(t, 0);
	assert_int_equal(queue_dropped(q), 5 * 251);
	/* Another handle adds to the same total (a new full file merges
	 * with nothing: the oldest full one goes). */
	q2 = qopen(t, 0);
	for (i = 0; i < 251; i++)
		assert_int_equal(buf_puts(&lines, one), 0);
	assert_int_equal(queue_write_ready(q2, lines.data, lines.len), 0);
	buf_free(&lines);
	assert_int_equal(queue_dropped(q2), 6 * 251);
	assert_int_equal(queue_dropped(q), 6 * 251);
	queue_close(q2);
	queue_close(q);
	snprintf(pa, sizeof pa, "%s/queue-dropped", t->top);
	assert_int_equal(slurp(pa, &b), 0);
	assert_int_equal(b.len, 5);
	assert_memory_equal(b.data, "1506\n", 5);
	buf_free(&b);
}

static void
t_orphan_markers(void **state)
{
	struct tq	*t = *state;
	struct queue	*q, *w;
	char		 stem[64], name[256], live[256];

	w = qopen(t, 0);
	append_n(w, 0, 1, 0);	/* a live partial with its marker */
	assert_true(find_suffix(t, ".partial.owner", live, sizeof live));
	stem_ago(stem, sizeof stem, 0, 1);
	snprintf(name, sizeof name, "%s.partial.owner", stem);
	put_str(t, name, "");
	q = qopen(t, 0);
	assert_int_equal(queue_last_recovery(q)->deleted_orphans, 1);
	assert_false(exists(t, name));
	assert_true(exists(t, live));
	assert_int_equal(count_suffix(t, ".partial.owner"), 1);
	assert_int_equal(count_suffix(t, ".partial"), 1);
	queue_close(q);
	queue_close(w);
	assert_int_equal(count_suffix(t, ".owner"), 0);
	assert_int_equal(count_suffix(t, ".ndjson"), 1);
}

static void
t_symlink_dir_refused(void **state)
{
	struct tq	*t = *state;
	struct queue	*q = NULL;
	char		 link[PATH_MAX], cause[256];

	snprintf(link, sizeof link, "%s/link", t->top);
	assert_int_equal(symlink(t->dir, link), 0);
	errno = 0;
	assert_int_equal(queue_open(link, QUEUE_O_CREATE, &q, cause,
	    sizeof cause), -1);
	assert_int_equal(errno, ELOOP);
	assert_non_null(strstr(cause, "symbolic link"));
	assert_null(q);
}

static void
t_wrong_owner_refused(void **state)
{
	struct tq	*t = *state;
	struct queue	*q = NULL;
	char		 cause[256];

	if (geteuid() != 0) {
		print_message("skipped: needs root to chown the directory\n");
		skip();
	}
	assert_int_equal(chown(t->dir, 65534, 65534), 0);
	errno = 0;
	assert_int_equal(queue_open(t->dir, 0, &q, cause, sizeof cause), -1);
	assert_int_equal(errno, EPERM);
	assert_non_null(strstr(cause, "owned by uid 65534"));
	assert_null(q);
	assert_int_equal(chown(t->dir, 0, 0), 0);
}

static void
t_create_dirs(void **state)
{
	struct tq	*t = *state;
	struct queue	*q = NULL;
	char		 d[PATH_MAX], cause[256];
	struct stat	 st;

	snprintf(d, sizeof d, "%s/a/b/queue", t->top);
	errno = 0;
	assert_int_equal(queue_open(d, 0, &q, cause, sizeof cause), -1);
	assert_int_equal(errno, ENOENT);
	assert_true(strlen(cause) > 0);
	assert_int_equal(queue_open(d, QUEUE_O_CREATE, &q, cause,
	    sizeof cause), 0);
	assert_string_equal(queue_dir(q), d);
	assert_int_equal(stat(d, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(d, sizeof d, "%s/a", t->top);
	assert_int_equal(stat(d, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	append_n(q, 0, 1, 0);
	queue_close(q);
}

static void
t_foreign_files(void **state)
{
	struct tq		*t = *state;
	struct queue		*q;
	struct queue_claim	 c;
	unsigned		 rm, sk;
	char			 target[PATH_MAX], pa[PATH_MAX];
	char			 stem[64], name[256];
	struct buf		 b = { NULL, 0, 0 };

	snprintf(target, sizeof target, "%s/target", t->top);
	assert_int_equal(slurp(target, &b), -1);
	{
		int fd = open(target, O_WRONLY | O_CREAT, 0600);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, "secret\n", 7), 7);
		close(fd);
	}
	path(pa, sizeof pa, t, "link.ndjson");
	assert_int_equal(symlink(target, pa), 0);
	path(pa, sizeof pa, t, "link.partial");
	assert_int_equal(symlink(target, pa), 0);
	path(pa, sizeof pa, t, "fifo.partial");
	assert_int_equal(mkfifo(pa, 0600), 0);
	path(pa, sizeof pa, t, "dir.ndjson");
	assert_int_equal(mkdir(pa, 0700), 0);
	put_str(t, "notes.txt", "mine\n");
	stem_ago(stem, sizeof stem, 2 * DAY, 1);
	snprintf(name, sizeof name, "%s.partial.owner", stem);
	path(pa, sizeof pa, t, name);
	assert_int_equal(symlink(target, pa), 0);	/* looks orphaned */

	q = qopen(t, QUEUE_O_LEGACY);
	assert_int_equal(queue_claim(q, &c), 0);
	assert_int_equal(queue_clear(q, &rm, &sk), 0);
	assert_int_equal(rm, 0);
	assert_int_equal(sk, 0);
	queue_close(q);
	assert_true(exists(t, "link.ndjson"));
	assert_true(exists(t, "link.partial"));
	assert_true(exists(t, "fifo.partial"));
	assert_true(exists(t, "dir.ndjson"));
	assert_true(exists(t, "notes.txt"));
	assert_true(exists(t, name));
	assert_int_equal(slurp(target, &b), 0);
	assert_int_equal(b.len, 7);
	buf_free(&b);
}

static void
t_clear_live_writer(void **state)
{
	struct tq	*t = *state;
	struct queue	*w = qopen(t, 0), *q;
	unsigned	 rm = 99, sk = 99;
	char		 stem[64], name[256];

	append_n(w, 0, 3, 0);	/* live locked partial */
	put_str(t, "old.ndjson", "{\"event_id\":\"x\",\"ts\":1}\n");
	put_str(t, "bad.invalid", "junk\n");
	q = qopen(t, QUEUE_O_NORECOVER);
	assert_int_equal(queue_clear(q, &rm, &sk), 0);
	assert_int_equal(rm, 2);
	assert_int_equal(sk, 1);
	assert_int_equal(count_suffix(t, ".partial"), 1);
	assert_int_equal(count_suffix(t, ".partial.owner"), 1);
	assert_false(exists(t, "old.ndjson"));
	assert_false(exists(t, "bad.invalid"));
	/* The writer carries on. */
	append_n(w, 3, 1, 0);
	assert_int_equal(queue_roll(w), 1);
	assert_int_equal(count_suffix(t, ".ndjson"), 1);

	/* A free partial is removed with its marker; claims are skipped. */
	stem_ago(stem, sizeof stem, 0, 5);
	put_managed(t, stem, "x\n", 2);
	snprintf(name, sizeof name, "%s.ndjson.sending-1-abc", stem);
	put_str(t, name, "{\"event_id\":\"x\",\"ts\":1}\n");
	assert_int_equal(queue_clear(q, &rm, &sk), 0);
	assert_int_equal(rm, 2);
	assert_int_equal(sk, 1);
	assert_int_equal(count_suffix(t, ".owner"), 0);
	assert_true(exists(t, name));
	queue_close(q);
	queue_close(w);
}

struct bad_seen {
	char		file[256];
	unsigned	line;
	unsigned	n;
	char		files[4][256];
	unsigned	lines[4];
};

static void
bad_cb(const char *file, unsigned line, const char *why, void *arg)
{
	struct bad_seen	*s = arg;

	assert_non_null(why);
	assert_true(strlen(why) > 0);
	if (s->n < 4) {
		snprintf(s->files[s->n], sizeof s->files[s->n], "%s", file);
		s->lines[s->n] = line;
	}
	s->n++;
}

static void
t_check_corrupt_middle(void **state)
{
	struct tq	*t = *state;
	struct bad_seen	 s;
	unsigned	 nf = 0, nb = 0;
	char		 stem[64], a[256], p[256];

	memset(&s, 0, sizeof s);
	stem_ago(stem, sizeof stem, 0, 1);
	snprintf(a, sizeof a, "%s.ndjson", stem);
	put_str(t, a, "{\"event_id\":\"x\",\"ts\":1}\n"
	    "{\"event_id\":\"x\",\"ts\":\n"
	    "{\"event_id\":\"x\",\"ts\":3}\n");
	stem_ago(stem, sizeof stem, 0, 2);
	snprintf(p, sizeof p, "%s.partial", stem);
	put_str(t, p, "{\"event_id\":\"x\",\"ts\":1}\n\n"
	    "{\"event_id\":\"x\",\"ts\":2");
	put_str(t, "good.ndjson", "{\"event_id\":\"x\",\"ts\":1}\n");
	put_str(t, "other.txt", "not checked\n");
	assert_int_equal(queue_check(t->dir, bad_cb, &s, &nf, &nb), 0);
	assert_int_equal(nf, 3);
	assert_int_equal(nb, 2);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.files[0], a);
	assert_int_equal(s.lines[0], 2);
	assert_string_equal(s.files[1], p);
	assert_int_equal(s.lines[1], 3);
	errno = 0;
	assert_int_equal(queue_check("/nonexistent/queue", bad_cb, &s, &nf,
	    &nb), -1);
}

/*
 * A raw NUL byte is never JSON, also where jansson would drop it (right
 * after a number): such a line is bad for check and for recovery.
 */
static void
t_check_nul_byte(void **state)
{
	static const char body[] = "{\"event_id\":\"x\",\"ts\":12\0}\n"
	    "{\"event_id\":\"x\",\"ts\":3}\n";
	struct tq		*t = *state;
	struct bad_seen		 s;
	struct queue		*q;
	const struct queue_recovery *r;
	unsigned		 nf = 0, nb = 0;
	char			 stem[64], a[256], p[PATH_MAX];

	memset(&s, 0, sizeof s);
	stem_ago(stem, sizeof stem, 0, 1);
	snprintf(a, sizeof a, "%s.ndjson", stem);
	put_file(t, a, body, sizeof body - 1);
	assert_int_equal(queue_check(t->dir, bad_cb, &s, &nf, &nb), 0);
	assert_int_equal(nf, 1);
	assert_int_equal(nb, 1);
	assert_int_equal(s.lines[0], 1);

	/* Recovery: the same bytes in a crashed writer's partial. */
	snprintf(p, sizeof p, "%s/%s", t->dir, a);
	assert_int_equal(unlink(p), 0);
	stem_ago(stem, sizeof stem, 0, 2);
	put_managed(t, stem, body, sizeof body - 1);
	q = qopen(t, 0);
	r = queue_last_recovery(q);
	assert_int_equal(r->quarantined, 1);
	assert_int_equal(r->promoted, 0);
	assert_int_equal(count_suffix(t, ".invalid"), 1);
	queue_close(q);
}

static void
t_write_ready(void **state)
{
	struct tq	*t = *state;
	struct queue	*q = qopen(t, 0);
	struct buf	 b = { NULL, 0, 0 };
	const char	*body =
	    "{\"event_id\":\"install_completed\",\"ts\":5}\n";
	char		 name[256];

	append_n(q, 0, 2, 0);	/* an active segment is not disturbed */
	assert_int_equal(queue_write_ready(q, body, strlen(body)), 0);
	assert_int_equal(count_suffix(t, ".ndjson"), 1);
	assert_int_equal(count_suffix(t, ".partial"), 1);
	assert_int_equal(count_suffix(t, ".partial.owner"), 1);
	assert_int_equal(queue_active_events(q), 2);
	assert_true(find_suffix(t, ".ndjson", name, sizeof name));
	assert_int_equal(get_file(t, name, &b), (long)strlen(body));
	assert_memory_equal(b.data, body, b.len);
	errno = 0;
	assert_int_equal(queue_write_ready(q, body, strlen(body) - 1), -1);
	assert_int_equal(errno, EINVAL);
	queue_close(q);
	assert_int_equal(count_suffix(t, ".ndjson"), 2);
	assert_int_equal(count_suffix(t, ".partial"), 0);
	buf_free(&b);
}

struct dump_seen {
	char		got[16][32];
	unsigned	n, stop_after;
};

static int
dump_cb(const char *line, size_t len, void *arg)
{
	struct dump_seen	*d = arg;

	assert_true(memchr(line, '\n', len) == NULL);
	if (d->n < 16)
		snprintf(d->got[d->n], sizeof d->got[d->n], "%.*s",
		    (int)len, line);
	d->n++;
	return d->stop_after != 0 && d->n >= d->stop_after;
}

static void
t_dump(void **state)
{
	struct tq		*t = *state;
	struct queue		*q;
	struct dump_seen	 d;
	const char		*want[] = { "b2", "c1", "c2", "c3", "c4" };
	unsigned		 i;

	put_str(t, "20260101-000000-a.ndjson", "a1\na2\na3\n");
	put_str(t, "20260101-000001-b.ndjson", "b1\n\nb2\n");
	put_str(t, "20260101-000002-c.ndjson", "c1\nc2\nc3\nc4\n");
	put_str(t, "20260101-000003-d.partial", "p1\n");
	put_str(t, "20260101-000004-e.invalid", "i1\n");
	q = qopen(t, QUEUE_O_NORECOVER);
	memset(&d, 0, sizeof d);
	assert_int_equal(queue_dump(q, 5, dump_cb, &d), 0);
	assert_int_equal(d.n, 5);
	for (i = 0; i < 5; i++)
		assert_string_equal(d.got[i], want[i]);
	memset(&d, 0, sizeof d);
	assert_int_equal(queue_dump(q, 100, dump_cb, &d), 0);
	assert_int_equal(d.n, 9);
	assert_string_equal(d.got[0], "a1");
	assert_string_equal(d.got[8], "c4");
	memset(&d, 0, sizeof d);
	assert_int_equal(queue_dump(q, 0, dump_cb, &d), 0);
	assert_int_equal(d.n, 0);
	memset(&d, 0, sizeof d);
	d.stop_after = 2;
	assert_int_equal(queue_dump(q, 100, dump_cb, &d), 0);
	assert_int_equal(d.n, 2);
	queue_close(q);
}

/*
 * dump --last N is the newest N: segments started in the same second sort
 * by a random UUID, so within one name second the records' ts decides
 * (then the file position), and all of that second's segments are read.
 */
static void
t_dump_same_second(void **state)
{
	struct tq		*t = *state;
	struct queue		*q;
	struct dump_seen	 d;
	const char		*want[] = { "{\"ts\":5,\"n\":\"y1\"}",
				    "{\"ts\":6,\"n\":\"x1\"}",
				    "{\"ts\":6,\"n\":\"x2\"}",
				    "{\"ts\":9,\"n\":\"z1\"}" };
	unsigned		 i;

	put_str(t, "20260101-000000-0000.ndjson", "{\"ts\":1,\"n\":\"o1\"}\n");
	/* Same second; the UUID order is the reverse of the time order. */
	put_str(t, "20260101-000005-aaaa.ndjson",
	    "{\"ts\":6,\"n\":\"x1\"}\n{\"ts\":6,\"n\":\"x2\"}\n");
	put_str(t, "20260101-000005-bbbb.ndjson",
	    "{\"ts\":3,\"n\":\"y0\"}\n{\"ts\":5,\"n\":\"y1\"}\n");
	put_str(t, "20260101-000005-cccc.ndjson", "{\"ts\":9,\"n\":\"z1\"}\n");
	q = qopen(t, QUEUE_O_NORECOVER);
	memset(&d, 0, sizeof d);
	assert_int_equal(queue_dump(q, 4, dump_cb, &d), 0);
	assert_int_equal(d.n, 4);
	for (i = 0; i < 4; i++)
		assert_string_equal(d.got[i], want[i]);
	memset(&d, 0, sizeof d);
	assert_int_equal(queue_dump(q, 1, dump_cb, &d), 0);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.got[0], "{\"ts\":9,\"n\":\"z1\"}");
	memset(&d, 0, sizeof d);
	assert_int_equal(queue_dump(q, 100, dump_cb, &d), 0);
	assert_int_equal(d.n, 6);
	assert_string_equal(d.got[0], "{\"ts\":1,\"n\":\"o1\"}");
	assert_string_equal(d.got[1], "{\"ts\":3,\"n\":\"y0\"}");
	queue_close(q);
}

static void
t_stats(void **state)
{
	struct tq		*t = *state;
	struct queue		*q;
	struct queue_stats	 st;

	put_str(t, "20260101-000001-b.ndjson", "{}\n\n{}\n");
	put_str(t, "20260101-000000-a.ndjson", "{}\n{}\n{}\n");
	put_str(t, "20260101-000002-c.invalid", "junk\n");
	put_str(t, "20260101-000003-d.partial", "{}\n{}\n");
	put_str(t, "20260101-000004-e.ndjson.sending-1-x", "{}\n");
	q = qopen(t, QUEUE_O_NORECOVER);
	assert_int_equal(queue_stats(q, &st), 0);
	assert_int_equal(st.ready_segments, 2);
	assert_int_equal(st.ready_events, 5);
	assert_int_equal(st.ready_bytes, 9 + 7);
	assert_int_equal(st.partial_segments, 2);
	assert_int_equal(st.partial_bytes, 5 + 6);
	assert_int_equal(st.invalid_segments, 1);
	assert_int_equal(st.invalid_bytes, 5);
	assert_int_equal(st.claimed_segments, 1);
	assert_string_equal(st.oldest, "20260101-000000-a.ndjson");
	queue_close(q);
}

static void
t_fsync_policies(void **state)
{
	struct tq	*t = *state;
	struct queue	*q = qopen(t, 0);

	queue_set_fsync(q, QUEUE_FSYNC_ALWAYS);
	append_n(q, 0, 3, 0);
	assert_int_equal(queue_sync(q), 0);
	assert_int_equal(queue_roll(q), 1);
	queue_set_fsync(q, QUEUE_FSYNC_NEVER);
	append_n(q, 0, 3, 0);
	assert_int_equal(queue_roll(q), 1);
	assert_int_equal(queue_sync(q), 0);	/* nothing active */
	assert_int_equal(count_suffix(t, ".ndjson"), 2);
	queue_close(q);
}

/* A roller that keeps what it is handed (or refuses, when told to). */
struct held {
	int	fd[4];
	char	name[4][QUEUE_NAME_MAX];
	int	n;
	int	refuse;
};

static int
hold_roller(int fd, const char *name, enum queue_fsync f, unsigned flags,
    void *arg)
{
	struct held	*h = arg;

	assert_int_not_equal(f, QUEUE_FSYNC_NEVER);
	if (h->refuse || h->n == 4)
		return -1;
	h->fd[h->n] = fd;
	snprintf(h->name[h->n], sizeof h->name[0], "%s", name);
	h->n++;
	return 0;
}

/*
 * A roller takes full segments still locked: recovery (another handle)
 * leaves them alone, queue_finish() from another thread makes them ready
 * and unlocks them; a refusing roller gets the in-place roll.
 */
static void
t_roller_handoff(void **state)
{
	struct tq		*t = *state;
	struct queue		*q, *q2;
	struct queue_recovery	 r;
	struct held		 h;
	struct buf		 b = { NULL, 0, 0 };
	char			 ready[QUEUE_NAME_MAX], marker[QUEUE_NAME_MAX + 8];
	char			 pa[PATH_MAX];
	int			 fd;

	memset(&h, 0, sizeof h);
	q = qopen(t, 0);
	queue_set_roller(q, hold_roller, &h);
	append_n(q, 0, 1200, 0);	/* two full segments + 200 active */
	assert_int_equal(h.n, 2);
	assert_int_equal(queue_active_events(q), 200);
	assert_int_equal(count_suffix(t, ".ndjson"), 0);
	assert_int_equal(count_suffix(t, ".partial"), 3);
	/* Still locked by the roller: another handle's recovery skips them. */
	q2 = qopen(t, 0);
	assert_int_equal(queue_recover(q2, 0, &r), 0);
	assert_int_equal(r.promoted, 0);
	assert_int_equal(count_suffix(t, ".partial"), 3);
	path(pa, sizeof pa, t, h.name[0]);
	fd = open(pa, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), -1);
	assert_int_equal(errno, EWOULDBLOCK);
	close(fd);

	/* Finished: ready, marker gone, 500 lines each, lock released. */
	assert_int_equal(queue_finish(q, h.fd[0], h.name[0], QUEUE_FSYNC_ROLL),
	    0);
	assert_int_equal(queue_finish(q, h.fd[1], h.name[1], QUEUE_FSYNC_ROLL),
	    0);
	assert_int_equal(queue_sync_dirfd(q), 0);
	assert_int_equal(count_suffix(t, ".ndjson"), 2);
	snprintf(ready, sizeof ready, "%.*s.ndjson",
	    (int)(strlen(h.name[0]) - strlen(".partial")), h.name[0]);
	assert_true(get_file(t, ready, &b) > 0);
	assert_int_equal(line_count(b.data, b.len), 500);
	snprintf(marker, sizeof marker, "%s.owner", h.name[0]);
	assert_false(exists(t, marker));
	assert_false(exists(t, h.name[0]));
	path(pa, sizeof pa, t, ready);
	fd = open(pa, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);	/* released */
	close(fd);

	/* A name that is gone fails, closes the fd and leaves it to recovery. */
	fd = open(t->dir, O_RDONLY);
	assert_int_equal(queue_finish(q, fd, "20000101-000000-gone.partial",
	    QUEUE_FSYNC_ROLL), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(fcntl(fd, F_GETFD), -1);	/* closed */

	/* Refused: the roll happens in place. */
	h.refuse = 1;
	append_n(q, 2000, 300, 0);
	assert_int_equal(h.n, 2);
	assert_int_equal(count_suffix(t, ".ndjson"), 3);
	/* No roller: in place too; never handed over under fsync = never. */
	queue_set_roller(q, NULL, NULL);
	append_n(q, 2500, 100, 0);
	assert_int_equal(queue_roll(q), 1);
	assert_int_equal(count_suffix(t, ".ndjson"), 4);
	h.refuse = 0;
	queue_set_roller(q, hold_roller, &h);
	queue_set_fsync(q, QUEUE_FSYNC_NEVER);
	append_n(q, 3000, 500, 0);
	assert_int_equal(h.n, 2);
	assert_int_equal(count_suffix(t, ".ndjson"), 5);
	/* Nor under ALWAYS: the ack after this append needs the data synced. */
	queue_set_fsync(q, QUEUE_FSYNC_ALWAYS);
	append_n(q, 4000, 500, 0);
	assert_int_equal(h.n, 2);
	assert_int_equal(count_suffix(t, ".ndjson"), 6);
	assert_int_equal(queue_enforce_caps(q), 0);
	buf_free(&b);
	queue_close(q2);
	queue_close(q);
}

/* The inode of name in the queue dir, 0 if it does not exist. */
static ino_t
inode_of(const struct tq *t, const char *name, nlink_t *nlink)
{
	char		pa[PATH_MAX];
	struct stat	st;

	path(pa, sizeof pa, t, name);
	if (lstat(pa, &st) == -1)
		return 0;
	if (nlink != NULL)
		*nlink = st.st_nlink;
	return st.st_ino;
}

/*
 * A new segment's marker is a hard link to the marker of the segment just
 * handed to the roller (no new inode), when that one still exists; when
 * the roller already removed it, the marker is created as before. Either
 * way finishing the old segment leaves the new marker in place.
 */
static void
t_marker_linked(void **state)
{
	struct tq		*t = *state;
	struct queue		*q, *q2;
	struct queue_recovery	 r;
	struct held		 h;
	char			 m0[QUEUE_NAME_MAX + 8], m1[QUEUE_NAME_MAX + 8];
	char			 m2[QUEUE_NAME_MAX + 8], active[QUEUE_NAME_MAX];
	nlink_t			 nl = 0;
	ino_t			 i0;

	memset(&h, 0, sizeof h);
	q = qopen(t, 0);
	queue_set_roller(q, hold_roller, &h);
	append_n(q, 0, 500, 0);		/* segment 0 handed over */
	assert_int_equal(h.n, 1);
	snprintf(m0, sizeof m0, "%s.owner", h.name[0]);
	i0 = inode_of(t, m0, NULL);
	assert_true(i0 != 0);
	append_n(q, 500, 500, 0);	/* segment 1: marker linked to m0 */
	assert_int_equal(h.n, 2);
	snprintf(m1, sizeof m1, "%s.owner", h.name[1]);
	assert_true(inode_of(t, m1, &nl) == i0);
	assert_int_equal(nl, 2);
	/* The roller finishes segment 0: its marker name goes, m1 stays. */
	assert_int_equal(queue_finish(q, h.fd[0], h.name[0], QUEUE_FSYNC_ROLL),
	    0);
	assert_false(exists(t, m0));
	assert_true(inode_of(t, m1, &nl) == i0);
	assert_int_equal(nl, 1);
	/* Segment 1 finished before the next one opens: a fresh marker. */
	assert_int_equal(queue_finish(q, h.fd[1], h.name[1], QUEUE_FSYNC_ROLL),
	    0);
	assert_false(exists(t, m1));
	append_n(q, 1000, 10, 0);
	assert_true(find_suffix(t, ".partial", active, sizeof active));
	snprintf(m2, sizeof m2, "%s.owner", active);
	assert_true(inode_of(t, m2, &nl) != 0);
	assert_int_equal(nl, 1);
	/* Recovery by another writer leaves the live segment alone. */
	q2 = qopen(t, 0);
	assert_int_equal(queue_recover(q2, 0, &r), 0);
	assert_true(exists(t, m2));
	queue_close(q2);
	queue_set_roller(q, NULL, NULL);	/* close rolls in place */
	queue_close(q);
	assert_false(exists(t, m2));
	assert_int_equal(count_suffix(t, ".partial.owner"), 0);
	assert_int_equal(count_suffix(t, ".ndjson"), 3);
}

/*
 * Files of another user (root only: chown) or writable by everyone are
 * never claimed, counted, evicted, cleared or recovered; a directory
 * others may write to is restricted to 0700 unless opened read-only.
 */
static void
t_untrusted_files(void **state)
{
	struct tq		*t = *state;
	struct queue		*q;
	struct queue_claim	 c;
	struct queue_stats	 st;
	struct stat		 sb;
	char			 pa[PATH_MAX], stem[64], name[256];
	unsigned		 i, rm, sk, want = 1;

	put_str(t, "20250101-000000-a.ndjson", "{\"event_id\":\"x\",\"ts\":1}\n");
	path(pa, sizeof pa, t, "20250101-000000-a.ndjson");
	assert_int_equal(chmod(pa, 0666), 0);
	if (geteuid() == 0) {
		want = 3;
		put_str(t, "20250101-000000-b.ndjson",
		    "{\"event_id\":\"x\",\"ts\":2}\n");
		path(pa, sizeof pa, t, "20250101-000000-b.ndjson");
		assert_int_equal(chown(pa, 65534, 65534), 0);
		/* a foreign managed partial, free: never promoted */
		stem_ago(stem, sizeof stem, 2 * DAY, 9);
		put_managed(t, stem, "{\"event_id\":\"x\",\"ts\":3}\n", 24);
		snprintf(name, sizeof name, "%s.partial", stem);
		path(pa, sizeof pa, t, name);
		assert_int_equal(chown(pa, 65534, 65534), 0);
	} else
		print_message("not root: only the world-writable file\n");
	assert_int_equal(chmod(t->dir, 0777), 0);

	/* A reader leaves the directory mode alone. */
	assert_int_equal(queue_open(t->dir, QUEUE_O_RDONLY, &q, NULL, 0), 0);
	assert_null(queue_warning(q));
	assert_int_equal(stat(t->dir, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0777);
	queue_close(q);

	q = qopen(t, 0);
	assert_non_null(queue_warning(q));
	assert_non_null(strstr(queue_warning(q), "0777"));
	assert_int_equal(stat(t->dir, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	assert_int_equal(queue_last_recovery(q)->promoted, 0);
	assert_int_equal(queue_claim(q, &c), 0);
	assert_int_equal(queue_stats(q, &st), 0);
	assert_int_equal(st.ready_segments, 0);
	assert_int_equal(st.foreign_files, want);
	/* 60 ready files of ours: the caps evict ours, never theirs */
	for (i = 0; i < 60; i++) {
		append_n(q, i, 1, 0);
		assert_int_equal(queue_roll(q), 1);
	}
	assert_true(exists(t, "20250101-000000-a.ndjson"));
	assert_int_equal(queue_clear(q, &rm, &sk), 0);
	assert_true(exists(t, "20250101-000000-a.ndjson"));
	if (geteuid() == 0) {
		assert_true(exists(t, "20250101-000000-b.ndjson"));
		snprintf(name, sizeof name, "%s.partial", stem);
		assert_true(exists(t, name));
	}
	queue_close(q);
}

/*
 * Clock skew: a writer whose clock ran 100 days behind names its segment
 * and stamps its records 100 days ago. Recovery keeps it unless its mtime
 * says old too; records with recent ts keep it whatever the name and
 * mtime say; a claim dated in the future is restored.
 */
static void
t_clock_skew(void **state)
{
	struct tq	*t = *state;
	struct queue	*q;
	struct buf	 b = { NULL, 0, 0 };
	char		 s1[64], s2[64], s3[64], s4[64], name[256], claim[300];
	long long	 ago_ms = ((long long)time(NULL) - 100 * DAY) * 1000;
	unsigned	 i;

	stem_ago(s1, sizeof s1, 100 * DAY, 1);	/* skewed writer, crashed */
	stem_ago(s2, sizeof s2, 100 * DAY, 2);	/* truly old */
	stem_ago(s3, sizeof s3, 100 * DAY, 3);	/* old name, new records */
	stem_ago(s4, sizeof s4, 0, 4);		/* a claim from the future */
	for (i = 0; i < 3; i++)
		assert_int_equal(buf_printf(&b, "{\"event_id\":\"x\","
		    "\"ts\":%lld}\n", ago_ms + i), 0);
	put_managed(t, s1, b.data, b.len);
	put_managed(t, s2, b.data, b.len);
	snprintf(name, sizeof name, "%s.partial", s2);
	set_age(t, name, 100 * DAY);
	b.len = 0;
	assert_int_equal(buf_printf(&b, "{\"event_id\":\"x\",\"ts\":%lld}\n",
	    (long long)time(NULL) * 1000), 0);
	put_managed(t, s3, b.data, b.len);
	snprintf(name, sizeof name, "%s.partial", s3);
	set_age(t, name, 100 * DAY);
	snprintf(claim, sizeof claim, "%s.ndjson.sending-1-0b0e3c52-8a38-4c1e-"
	    "9d3a-7d2c25f1a9e4", s4);
	put_str(t, claim, "{\"event_id\":\"x\",\"ts\":1}\n");
	set_age(t, claim, -3600);	/* mtime an hour ahead */

	q = qopen(t, 0);
	assert_int_equal(queue_last_recovery(q)->promoted, 2);
	assert_int_equal(queue_last_recovery(q)->deleted_old, 1);
	assert_int_equal(queue_last_recovery(q)->dropped_old, 3);
	assert_int_equal(queue_dropped(q), 3);	/* counted, never silent */
	assert_int_equal(queue_last_recovery(q)->claims_restored, 1);
	snprintf(name, sizeof name, "%s.ndjson", s1);
	assert_true(exists(t, name));
	assert_int_equal(get_file(t, name, &b), 3 * (long)strlen(
	    "{\"event_id\":\"x\",\"ts\":0000000000000}\n"));
	snprintf(name, sizeof name, "%s.ndjson", s3);
	assert_true(exists(t, name));
	snprintf(name, sizeof name, "%s.partial", s2);
	assert_false(exists(t, name));
	snprintf(name, sizeof name, "%s.ndjson", s4);
	assert_true(exists(t, name));
	assert_int_equal(count_suffix(t, ".ndjson"), 3);
	queue_close(q);
	buf_free(&b);
}

/*
 * What an event line is (queue_lines_next): blank lines (only white space,
 * "\r" included) are skipped but numbered, a torn last line is returned
 * with eol 0, and everyone counts the same (queue_count_events).
 */
static void
t_event_lines(void **state)
{
	static const char	text[] = "{\"a\":1}\n\n  \t\n\r\n{\"b\":2}\r\n{\"c\"";
	struct queue_lines	it;
	const char		*l;
	size_t			n;

	(void)state;
	queue_lines_init(&it, text, sizeof text - 1);
	assert_int_equal(queue_lines_next(&it, &l, &n), 1);
	assert_int_equal(n, 7);
	assert_memory_equal(l, "{\"a\":1}", 7);
	assert_int_equal(it.lineno, 1);
	assert_int_equal(it.eol, 1);
	assert_int_equal(queue_lines_next(&it, &l, &n), 1);
	assert_int_equal(n, 8);		/* its "\r" is the caller's */
	assert_memory_equal(l, "{\"b\":2}\r", 8);
	assert_int_equal(it.lineno, 5);	/* after three blank lines */
	assert_int_equal(queue_lines_next(&it, &l, &n), 1);
	assert_int_equal(n, 4);
	assert_int_equal(it.lineno, 6);
	assert_int_equal(it.eol, 0);	/* torn: no newline */
	assert_int_equal(queue_lines_next(&it, &l, &n), 0);
	assert_int_equal(queue_lines_next(&it, &l, &n), 0);
	assert_int_equal(queue_count_events(text, sizeof text - 1), 3);
	assert_int_equal(queue_count_events("", 0), 0);
	assert_int_equal(queue_count_events("\n \n\r\n", 5), 0);
	assert_int_equal(queue_count_events("x", 1), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(t_event_lines),
		T(t_roll_at_500),
		T(t_marker_linked),
		T(t_499_no_roll),
		T(t_roll_at_bytes),
		T(t_batch_split),
		T(t_append_rejects),
		T(t_kill9_mid_append),
		T(t_stale_claim),
		T(t_fresh_claim),
		T(t_claim_lifecycle),
		T(t_two_claimants_fork),
		T(t_legacy_partials),
		T(t_managed_partials),
		T(t_crash_cases),
		T(t_old_files),
		T(t_caps_50_ready_10_invalid),
		T(t_caps_45_ready_10_invalid),
		T(t_caps_evict_ready),
		T(t_caps_merge_ready),
		T(t_caps_bytes),
		T(t_dropped_survives),
		T(t_orphan_markers),
		T(t_symlink_dir_refused),
		T(t_wrong_owner_refused),
		T(t_create_dirs),
		T(t_foreign_files),
		T(t_clear_live_writer),
		T(t_check_corrupt_middle),
		T(t_check_nul_byte),
		T(t_write_ready),
		T(t_dump),
		T(t_dump_same_second),
		T(t_stats),
		T(t_fsync_policies),
		T(t_roller_handoff),
		T(t_untrusted_files),
		T(t_clock_skew),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
