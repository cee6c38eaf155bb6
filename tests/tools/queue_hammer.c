/*
 * queue_hammer — multi-process stress test of proto/queue.c.
 *
 *   queue_hammer SECONDS [DIR]
 *
 * Forks 2 writer and 2 claimant processes that hammer one queue directory
 * (DIR/queue, default a fresh mkdtemp directory) for SECONDS. Writers append
 * records with unique (writer, seq) ids in random batches, roll, write ready
 * segments directly, reopen their handle (recovery runs next to live
 * writers) and fork "crashing" children that append and _exit without
 * rolling. Claimants start late (so the caps evict while they claim), then
 * claim, read, check every line, log the ids they saw and complete
 * (sometimes unclaim instead), and run recovery and stats in between. At
 * the end the parent recovers, drains the rest and verifies that every
 * written record was seen exactly once or counted as dropped by the caps
 * (missing == dropped, exactly), that nothing is left behind and no file is
 * corrupt. Prints one summary line; exits 1 on any loss, duplication or
 * corruption. Test tool: never touches anything outside its directory.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "queue.h"

#define NWRITERS	2
#define NCLAIMANTS	2
#define MAX_SECONDS	3600	/* longest run accepted */
#define MAX_BATCH	40	/* records per append */
#define BIG_PAD		20000	/* large records: byte rolls */
#define LATE_START	0.3	/* claimants sleep this part of the run */
#define PREFIX		"{\"event_id\":\"hammer\",\"ts\":"

static char	top[PATH_MAX / 2];
static char	qdir[PATH_MAX / 2 + 16];
static uint64_t	rng;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned
pick(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static void
seed(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	rng = ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_nsec ^ 0x9e3779b9;
	if (rng == 0)
		rng = 1;
}

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	fprintf(stderr, "queue_hammer[%ld]: %s: %s\n", (long)getpid(), what,
	    strerror(errno));
	_exit(1);
}

static struct queue *
open_q(void)
{
	struct queue	*q;
	char		 cause[256];

	if (queue_open(qdir, QUEUE_O_CREATE, &q, cause, sizeof cause) == -1) {
		fprintf(stderr, "queue_hammer: %s\n", cause);
		_exit(1);
	}
	return q;
}

/* Records [from, from + n) of writer w. */
static void
make_batch(struct buf *b, unsigned w, uint64_t from, unsigned n)
{
	unsigned	i, pad;

	b->len = 0;
	for (i = 0; i < n; i++) {
		pad = pick(10) == 0 ? BIG_PAD / 10 + pick(BIG_PAD) :
		    pick(200);
		if (buf_printf(b, PREFIX "%" PRIu64 ",\"w\":%u,\"seq\":%"
		    PRIu64 ",\"pad\":\"", from + i, w, from + i) == -1)
			die("buf");
		while (pad-- > 0)
			buf_putc(b, 'p');
		if (buf_puts(b, "\"}\n") == -1)
			die("buf");
	}
}

static void
put_text(const char *name, const char *text)
{
	char	pa[PATH_MAX];
	FILE	*f;

	snprintf(pa, sizeof pa, "%s/%s", top, name);
	if ((f = fopen(pa, "w")) == NULL)
		die(pa);
	fputs(text, f);
	if (fclose(f) != 0)
		die(pa);
}

static void
writer(unsigned w, double end)
{
	struct queue	*q = open_q();
	struct buf	 b = { NULL, 0, 0 };
	uint64_t	 seq = 0;
	unsigned	 n, r, crashes = 0, reopens = 0, direct = 0;
	pid_t		 pid;
	int		 st;
	char		 text[256], name[32];

	queue_set_fsync(q, w == 0 ? QUEUE_FSYNC_ROLL : QUEUE_FSYNC_NEVER);
	while (now() < end) {
		r = pick(100);
		if (r < 75) {
			n = 1 + pick(MAX_BATCH);
			make_batch(&b, w, seq, n);
			if (queue_append(q, b.data, b.len, n) == -1)
				die("queue_append");
			seq += n;
		} else if (r < 85) {
			if (queue_roll(q) == -1)
				die("queue_roll");
		} else if (r < 90) {
			n = 1 + pick(5);
			make_batch(&b, w, seq, n);
			if (queue_write_ready(q, b.data, b.len) == -1)
				die("queue_write_ready");
			seq += n;
			direct++;
		} else if (r < 95) {
			queue_close(q);
			q = open_q();
			queue_set_fsync(q, w == 0 ? QUEUE_FSYNC_ROLL :
			    QUEUE_FSYNC_NEVER);
			reopens++;
		} else {
			/* A writer that dies without rolling. */
			n = 1 + pick(20);
			make_batch(&b, w, seq, n);
			if ((pid = fork()) == -1)
				die("fork");
			if (pid == 0) {
				struct queue *cq = open_q();

				_exit(queue_append(cq, b.data, b.len, n) == 0 ?
				    0 : 1);
			}
			if (waitpid(pid, &st, 0) != pid)
				die("waitpid");
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				errno = EIO;
				die("crashing child failed to append");
			}
			seq += n;
			crashes++;
		}
		usleep(pick(1500));
	}
	queue_close(q);
	buf_free(&b);
	snprintf(text, sizeof text, "%" PRIu64 " %u %u %u\n", seq, crashes,
	    reopens, direct);
	snprintf(name, sizeof name, "w%u.count", w);
	put_text(name, text);
	_exit(0);
}

/*
 * Check every line of a segment and append "w seq" lines to out. Returns
 * the number of records, -1 on a malformed line.
 */
static long
parse_segment(const char *p, size_t n, struct buf *out)
{
	const char	*e = p + n, *nl, *s;
	char		*end;
	unsigned long	 w;
	unsigned long long seq;
	long		 c = 0;

	if (n == 0 || p[n - 1] != '\n')
		return -1;
	for (; p < e; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(e - p));
		if ((size_t)(nl - p) < strlen(PREFIX) + 2 ||
		    memcmp(p, PREFIX, strlen(PREFIX)) != 0 || nl[-1] != '}' ||
		    nl[-2] != '"')
			return -1;
		if ((s = strstr(p, ",\"w\":")) == NULL || s > nl)
			return -1;
		errno = 0;
		w = strtoul(s + 5, &end, 10);
		if (errno != 0 || strncmp(end, ",\"seq\":", 7) != 0)
			return -1;
		seq = strtoull(end + 7, &end, 10);
		if (errno != 0 || *end != ',')
			return -1;
		if (buf_printf(out, "%lu %llu\n", w, seq) == -1)
			return -1;
		c++;
	}
	return c;
}

static void
claimant(unsigned id, double start, double end)
{
	struct queue		*q = open_q();
	struct queue_claim	 c;
	struct queue_stats	 st;
	struct buf		 b = { NULL, 0, 0 }, ids = { NULL, 0, 0 };
	char			 pa[PATH_MAX], text[256];
	unsigned		 claims = 0, unclaims = 0, r;
	int			 fd, got;

	snprintf(pa, sizeof pa, "%s/c%u.seen", top, id);
	fd = open(pa, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1)
		die(pa);
	/* Start late so the backlog overflows the caps and evictions race
	 * with claims (the dropped count must still be exact). */
	while (now() < start)
		usleep(10000);
	while (now() < end) {
		r = pick(100);
		if (r < 2) {
			if (queue_recover(q, pick(2), NULL) == -1)
				die("queue_recover");
			continue;
		}
		if (r < 4) {
			if (queue_stats(q, &st) == -1)
				die("queue_stats");
			continue;
		}
		if ((got = queue_claim(q, &c)) == -1)
			die("queue_claim");
		if (got == 0) {
			usleep(500 + pick(1000));
			continue;
		}
		claims++;
		b.len = 0;
		if (queue_claim_read(q, &c, &b) == -1)
			die("queue_claim_read");
		if (r < 14) {
			if (queue_unclaim(q, &c) == -1)
				die("queue_unclaim");
			unclaims++;
			continue;
		}
		ids.len = 0;
		if (parse_segment(b.data, b.len, &ids) == -1) {
			fprintf(stderr, "queue_hammer: corrupt segment %s\n",
			    c.name);
			_exit(2);
		}
		if (write(fd, ids.data, ids.len) != (ssize_t)ids.len)
			die("write seen");
		if (queue_complete(q, &c) == -1)
			die("queue_complete (claim stolen?)");
	}
	if (queue_unclaim_own(q) != 0) {
		errno = EEXIST;
		die("claims left behind");
	}
	queue_close(q);
	close(fd);
	buf_free(&b);
	buf_free(&ids);
	snprintf(text, sizeof text, "%u %u\n", claims, unclaims);
	snprintf(pa, sizeof pa, "c%u.stats", id);
	put_text(pa, text);
	_exit(0);
}

static int
read_text(const char *name, char *out, size_t len)
{
	char	pa[PATH_MAX];
	FILE	*f;
	size_t	n;

	snprintf(pa, sizeof pa, "%s/%s", top, name);
	if ((f = fopen(pa, "r")) == NULL)
		return -1;
	n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	fclose(f);
	return 0;
}

struct tally {
	uint64_t	 total[NWRITERS];
	uint8_t		*seen[NWRITERS];
	uint64_t	 nseen, dups, unknown;
};

static void
tally_ids(struct tally *t, const char *p, size_t n)
{
	const char		*e = p + n, *nl;
	char			*end;
	unsigned long		 w;
	unsigned long long	 seq;

	for (; p < e; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(e - p))) == NULL)
			nl = e;
		if (nl == p)
			continue;
		w = strtoul(p, &end, 10);
		seq = strtoull(end, NULL, 10);
		t->nseen++;
		if (w >= NWRITERS || seq >= t->total[w]) {
			t->unknown++;
			continue;
		}
		if (t->seen[w][seq] != 0)
			t->dups++;
		else
			t->seen[w][seq] = 1;
	}
}

static int
rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static void
bad_line(const char *file, unsigned line, const char *why, void *arg)
{
	(void)arg;
	fprintf(stderr, "queue_hammer: %s:%u: %s\n", file, line, why);
}

int
main(int argc, char **argv)
{
	struct queue		*q;
	struct queue_claim	 c;
	struct queue_stats	 st;
	struct tally		 t;
	struct buf		 b = { NULL, 0, 0 }, ids = { NULL, 0, 0 };
	pid_t			 pids[NWRITERS + NCLAIMANTS];
	char			 text[256], name[64], *end;
	double			 stop;
	long			 secs;
	unsigned		 i, nfiles = 0, nbad = 0, crashes = 0;
	unsigned		 reopens = 0, direct = 0, claims = 0;
	unsigned		 unclaims = 0, a1, a2, a3;
	uint64_t		 written = 0, missing = 0, dropped, drained = 0;
	int			 status, failed = 0, made = 0, owners = 0;
	DIR			*d;
	struct dirent		*de;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: queue_hammer SECONDS [DIR]\n");
		return 2;
	}
	errno = 0;
	secs = strtol(argv[1], &end, 10);
	if (errno != 0 || *end != '\0' || secs < 1 || secs > MAX_SECONDS) {
		fprintf(stderr, "queue_hammer: bad SECONDS: %s\n", argv[1]);
		return 2;
	}
	if (argc == 3)
		snprintf(top, sizeof top, "%s", argv[2]);
	else {
		snprintf(top, sizeof top, "/tmp/queue-hammer.XXXXXX");
		if (mkdtemp(top) == NULL) {
			perror("mkdtemp");
			return 1;
		}
		made = 1;
	}
	snprintf(qdir, sizeof qdir, "%s/queue", top);
	memset(&t, 0, sizeof t);

	stop = now() + (double)secs;
	for (i = 0; i < NWRITERS + NCLAIMANTS; i++) {
		if ((pids[i] = fork()) == -1) {
			perror("fork");
			return 1;
		}
		if (pids[i] == 0) {
			seed();
			if (i < NWRITERS)
				writer(i, stop);
			claimant(i - NWRITERS, stop - secs * (1 - LATE_START),
			    stop);
		}
	}
	for (i = 0; i < NWRITERS + NCLAIMANTS; i++) {
		if (waitpid(pids[i], &status, 0) != pids[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "queue_hammer: %s %u failed (status "
			    "%d)\n", i < NWRITERS ? "writer" : "claimant", i,
			    status);
			failed = 1;
		}
	}

	/* Recover and drain what is left. */
	q = open_q();
	while (queue_claim(q, &c) == 1) {
		b.len = 0;
		if (queue_claim_read(q, &c, &b) == -1 ||
		    parse_segment(b.data, b.len, &ids) == -1) {
			fprintf(stderr, "queue_hammer: corrupt segment %s\n",
			    c.name);
			failed = 1;
		}
		queue_complete(q, &c);
		drained++;
	}
	if (queue_stats(q, &st) == -1) {
		perror("queue_stats");
		return 1;
	}
	if (st.ready_segments || st.partial_segments || st.claimed_segments) {
		fprintf(stderr, "queue_hammer: left behind: %" PRIu64
		    " ready, %" PRIu64 " partial/invalid (%" PRIu64
		    " invalid), %" PRIu64 " claimed\n", st.ready_segments,
		    st.partial_segments, st.invalid_segments,
		    st.claimed_segments);
		failed = 1;
	}
	if ((d = opendir(qdir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strstr(de->d_name, ".owner") != NULL)
				owners++;
		}
		closedir(d);
	}
	if (owners > 0) {
		fprintf(stderr, "queue_hammer: %d marker(s) left\n", owners);
		failed = 1;
	}
	if (queue_check(qdir, bad_line, NULL, &nfiles, &nbad) == -1 ||
	    nbad > 0)
		failed = 1;
	dropped = queue_dropped(q);
	queue_close(q);

	/* Tally. */
	for (i = 0; i < NWRITERS; i++) {
		snprintf(name, sizeof name, "w%u.count", i);
		if (read_text(name, text, sizeof text) == -1 ||
		    sscanf(text, "%" SCNu64 " %u %u %u", &t.total[i], &a1, &a2,
		    &a3) != 4) {
			fprintf(stderr, "queue_hammer: no %s\n", name);
			return 1;
		}
		crashes += a1;
		reopens += a2;
		direct += a3;
		written += t.total[i];
		if ((t.seen[i] = calloc(t.total[i] + 1, 1)) == NULL) {
			perror("calloc");
			return 1;
		}
	}
	for (i = 0; i < NCLAIMANTS; i++) {
		char	pa[PATH_MAX];
		FILE	*f;
		char	chunk[65536];
		size_t	n;

		snprintf(name, sizeof name, "c%u.stats", i);
		if (read_text(name, text, sizeof text) == 0 &&
		    sscanf(text, "%u %u", &a1, &a2) == 2) {
			claims += a1;
			unclaims += a2;
		}
		snprintf(pa, sizeof pa, "%s/c%u.seen", top, i);
		if ((f = fopen(pa, "r")) == NULL) {
			perror(pa);
			return 1;
		}
		b.len = 0;
		while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
			buf_add(&b, chunk, n);
		fclose(f);
		tally_ids(&t, b.data == NULL ? "" : b.data, b.len);
	}
	tally_ids(&t, ids.data == NULL ? "" : ids.data, ids.len);
	missing = written - (t.nseen - t.dups - t.unknown);
	if (t.dups > 0 || t.unknown > 0 || missing != dropped)
		failed = 1;

	printf("queue_hammer: %ld s, %d writers, %d claimants: written %"
	    PRIu64 " (%u crashed writers, %u reopens, %u direct segments), "
	    "claims %u (%u unclaimed), drained %" PRIu64 " segments, seen %"
	    PRIu64 ", duplicates %" PRIu64 ", unknown %" PRIu64 ", missing %"
	    PRIu64 ", dropped by caps %" PRIu64 ", bad lines %u: %s\n", secs,
	    NWRITERS, NCLAIMANTS, written, crashes, reopens, direct, claims,
	    unclaims, drained, t.nseen, t.dups, t.unknown, missing, dropped,
	    nbad, failed ? "FAILED" : "OK");
	for (i = 0; i < NWRITERS; i++)
		free(t.seen[i]);
	buf_free(&b);
	buf_free(&ids);
	if (made && !failed)
		nftw(top, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	else if (failed)
		fprintf(stderr, "queue_hammer: directory kept: %s\n", top);
	return failed ? 1 : 0;
}
