/*
 * test_syncer.c — unit tests for agent/syncer.c: rolled segments finished
 * on the thread and reported on the loop, failures reported with errno,
 * drain finishing everything, rolls in place once drained. Each case uses
 * its own mkdtemp directory and its own event base.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "buf.h"
#include "queue.h"
#include "syncer.h"
#include "testlib.h"

#define LOOP_LIMIT_S	10	/* a loop that never hears back fails here */

struct ts {
	char			 top[64];
	char			 dir[128];
	struct event_base	*base;
	struct queue		*q;
	struct syncer		*s;
	unsigned		 ok, fail, calls;
	int			 err;
	unsigned		 want;	/* leave the loop at this many ok+fail */
};

static void
done_cb(void *arg, unsigned nok, unsigned nfail, int err, int dir_err)
{
	struct ts	*t = arg;

	t->ok += nok;
	t->fail += nfail;
	t->calls++;
	if (nfail > 0)
		t->err = err;
	assert_int_equal(dir_err, 0);
	if (t->ok + t->fail >= t->want)
		event_base_loopbreak(t->base);
}

static int
setup(void **state)
{
	struct ts	*t;
	char		 cause[256];

	t = calloc(1, sizeof *t);
	assert_non_null(t);
	assert_int_equal(tl_tmpdir(t->top, sizeof t->top, "syncer-test"), 0);
	snprintf(t->dir, sizeof t->dir, "%s/queue", t->top);
	assert_int_equal(mkdir(t->dir, 0700), 0);
	assert_int_equal(queue_open(t->dir, 0, &t->q, cause, sizeof cause), 0);
	assert_non_null(t->base = event_base_new());
	assert_non_null(t->s = syncer_new(t->base, t->q, done_cb, t));
	queue_set_roller(t->q, syncer_roller, t->s);
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct ts	*t = *state;

	queue_set_roller(t->q, NULL, NULL);	/* before the syncer goes */
	syncer_free(t->s);
	queue_close(t->q);
	event_base_free(t->base);
	tl_rm_rf(t->top);
	free(t);
	return 0;
}

static unsigned
count_suffix(const struct ts *t, const char *suffix)
{
	DIR		*d;
	struct dirent	*de;
	unsigned	 c = 0;
	size_t		 l, sl = strlen(suffix);

	assert_non_null(d = opendir(t->dir));
	while ((de = readdir(d)) != NULL) {
		l = strlen(de->d_name);
		if (l > sl && strcmp(de->d_name + l - sl, suffix) == 0)
			c++;
	}
	closedir(d);
	return c;
}

static void
append_n(struct queue *q, unsigned from, unsigned n)
{
	struct buf	b = { NULL, 0, 0 };
	unsigned	i;

	for (i = 0; i < n; i++)
		assert_int_equal(buf_printf(&b, "{\"event_id\":\"open_atomcode\","
		    "\"ts\":%u}\n", from + i), 0);
	assert_int_equal(queue_append(q, b.data, b.len, n), 0);
	buf_free(&b);
}

/* Run the loop until want results arrived (bounded). */
static void
run_until(struct ts *t, unsigned want)
{
	struct timeval	tv = { LOOP_LIMIT_S, 0 };

	t->want = want;
	if (t->ok + t->fail >= want)
		return;
	event_base_loopexit(t->base, &tv);
	event_base_dispatch(t->base);
	if (t->ok + t->fail < want)
		fail_msg("only %u of %u segments reported in %d s",
		    t->ok + t->fail, want, LOOP_LIMIT_S);
}

/* Full segments leave the loop at once and are reported ready later. */
static void
t_finishes_off_loop(void **state)
{
	struct ts	*t = *state;
	uint64_t	 ok, fail;

	append_n(t->q, 0, 1600);	/* 3 full segments, 100 active */
	assert_int_equal(queue_active_events(t->q), 100);
	run_until(t, 3);
	assert_int_equal(t->ok, 3);
	assert_int_equal(t->fail, 0);
	assert_int_equal(count_suffix(t, ".ndjson"), 3);
	assert_int_equal(count_suffix(t, ".partial"), 1);	/* the active */
	assert_int_equal(count_suffix(t, ".owner"), 1);
	assert_int_equal(syncer_pending(t->s), 0);
	syncer_totals(t->s, &ok, &fail);
	assert_int_equal(ok, 3);
	assert_int_equal(fail, 0);
	/* The quiet-interval roll goes the same way. */
	assert_int_equal(queue_roll(t->q), 1);
	run_until(t, 4);
	assert_int_equal(count_suffix(t, ".ndjson"), 4);
	assert_int_equal(count_suffix(t, ".partial"), 0);
}

/* A segment that cannot be finished is reported with its errno. */
static void
t_failure_reported(void **state)
{
	struct ts	*t = *state;
	int		 fd;
	unsigned	 rok, rfail;

	fd = open(t->dir, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(syncer_roller(fd, "20000101-000000-gone.partial",
	    QUEUE_FSYNC_ROLL, QUEUE_ROLL_RECOVERED, t->s), 0);
	run_until(t, 1);
	assert_int_equal(t->fail, 1);
	assert_int_equal(t->err, ENOENT);
	assert_int_equal(t->ok, 0);
	/* A failed promotion of a recovered partial is reported as failed
	 * (the agent then never says "recovered" for it). */
	syncer_recovered(t->s, &rok, &rfail);
	assert_int_equal(rok, 0);
	assert_int_equal(rfail, 1);
}

/* Drain finishes everything handed over, reports it, then rolls in place. */
static void
t_drain(void **state)
{
	struct ts	*t = *state;

	append_n(t->q, 0, 2500);	/* 5 full segments */
	syncer_drain(t->s);
	assert_int_equal(t->ok, 5);
	assert_int_equal(syncer_pending(t->s), 0);
	assert_int_equal(count_suffix(t, ".ndjson"), 5);
	assert_int_equal(count_suffix(t, ".partial"), 0);
	/* A drained syncer takes nothing: the roll happens in place. */
	append_n(t->q, 3000, 500);
	assert_int_equal(count_suffix(t, ".ndjson"), 6);
	assert_int_equal(t->ok, 5);
}

/* A mark is reached once everything handed over before it is finished. */
static void
t_mark(void **state)
{
	struct ts	*t = *state;
	uint64_t	 m0, m;

	m0 = syncer_mark(t->s);
	assert_true(syncer_reached(t->s, m0));	/* nothing handed over */
	append_n(t->q, 0, 1000);	/* 2 full segments */
	m = syncer_mark(t->s);
	assert_int_equal(m, m0 + 2);
	run_until(t, 2);
	assert_true(syncer_reached(t->s, m));
	assert_int_equal(syncer_pending(t->s), 0);
	assert_int_equal(count_suffix(t, ".ndjson"), 2);
	/* A later mark waits for the later segment only. */
	append_n(t->q, 1000, 500);
	assert_true(syncer_reached(t->s, m));
	run_until(t, 3);
	assert_true(syncer_reached(t->s, syncer_mark(t->s)));
}

/* Recovery hands the partials it promotes to the syncer too. */
static void
t_recovery_handoff(void **state)
{
	struct ts		*t = *state;
	struct queue_recovery	 r;
	char			 path[256];
	FILE			*f;
	int			 i;
	unsigned		 rok, rfail;

	/* A managed partial whose writer gave up (no lock held). */
	snprintf(path, sizeof path, "%s/20261202-120000-0b0e3c52-8a38-4c1e-"
	    "9d3a-7d2c25f1a9e4.partial.owner", t->dir);
	assert_non_null(f = fopen(path, "w"));
	fclose(f);
	path[strlen(path) - strlen(".owner")] = '\0';
	assert_non_null(f = fopen(path, "w"));
	for (i = 0; i < 3; i++)
		fprintf(f, "{\"event_id\":\"open_atomcode\",\"ts\":%d}\n", i);
	fclose(f);
	memset(&r, 0, sizeof r);
	assert_int_equal(queue_recover(t->q, 0, &r), 0);
	assert_int_equal(r.promoted, 0);	/* not finished yet: */
	assert_int_equal(r.handed, 1);		/* the syncer reports */
	run_until(t, 1);	/* reported by the syncer, not done in place */
	assert_int_equal(t->ok, 1);
	syncer_recovered(t->s, &rok, &rfail);
	assert_int_equal(rok, 1);
	assert_int_equal(rfail, 0);
	assert_int_equal(count_suffix(t, ".ndjson"), 1);
	assert_int_equal(count_suffix(t, ".partial"), 0);
	assert_int_equal(count_suffix(t, ".owner"), 0);
}

/* An agent that never rolled never started the thread. */
static void
t_no_thread_without_rolls(void **state)
{
	struct ts	*t = *state;
	DIR		*d;
	struct dirent	*de;
	unsigned	 n = 0;

	append_n(t->q, 0, 10);
	assert_non_null(d = opendir("/proc/self/task"));
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	assert_int_equal(n, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(t_no_thread_without_rolls),
		T(t_finishes_off_loop),
		T(t_failure_reported),
		T(t_drain),
		T(t_mark),
		T(t_recovery_handoff),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
