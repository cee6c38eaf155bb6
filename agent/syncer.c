/*
 * syncer.c — the one thread besides the event loop. It finishes rolled
 * segments (fsync, rename to .ndjson, marker removal, close, which
 * releases the segment's lock) so that the loop never waits for the disk:
 * at 200k events/s a 500-event segment rolls every 2.5 ms and its fsync
 * took 0.2–1.5 ms on the loop (docs/PERFORMANCE.md).
 *
 * The thread touches only the descriptors it is handed, the queue
 * directory (queue_finish, queue_sync_dirfd) and this file's job list
 * under its mutex. It never logs, never calls libevent, jansson or the
 * rest of the agent: it reports back through a pipe, and everything else
 * (caps, upload kicks, counters, log lines) happens on the loop. It starts
 * at the first roll, so an agent that never rolled stays single-threaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"
#include "port.h"
#include "syncer.h"

struct sync_job {
	int			fd;
	enum queue_fsync	policy;
	unsigned		flags;	/* QUEUE_ROLL_RECOVERED */
	char			name[QUEUE_NAME_MAX];
};

struct syncer {
	struct event_base	*base;
	struct queue		*q;
	syncer_done_fn		 done;
	void			*arg;
	struct event		*ev;		/* notify pipe readable */
	int			 pfd[2];	/* thread → loop */
	pthread_t		 thread;
	int			 running;	/* thread started */

	pthread_mutex_t		 mtx;		/* guards everything below */
	pthread_cond_t		 cond;		/* work or stop for the thread */
	struct sync_job		 jobs[SYNCER_MAX_PENDING];
	unsigned		 head, count;	/* ring of pending jobs */
	unsigned		 outstanding;	/* handed over, not finished + synced */
	uint64_t		 handed;	/* ever handed over */
	uint64_t		 settled;	/* ever finished + directory synced */
	int			 stop;
	unsigned		 nok, nfail;	/* finished since the last report */
	unsigned		 rec_ok, rec_fail;	/* of which recovered */
	int			 err;		/* errno of the last failure */
	int			 dir_err;	/* errno of a failed directory fsync */
	uint64_t		 total_ok, total_fail;
};

static void *
syncer_main(void *arg)
{
	struct syncer	*s = arg;
	struct sync_job	 j;
	unsigned	 burst = 0;	/* finished, directory not synced yet */
	int		 r, e;
	char		 one = 1;

	pthread_mutex_lock(&s->mtx);
	for (;;) {
		if (s->count == 0 && burst > 0) {
			/* One directory fsync per burst of renames. */
			pthread_mutex_unlock(&s->mtx);
			r = queue_sync_dirfd(s->q);
			e = errno;
			pthread_mutex_lock(&s->mtx);
			if (r == -1)
				s->dir_err = e;	/* renames done, not durable */
			s->outstanding -= burst;
			s->settled += burst;
			burst = 0;
			(void)write(s->pfd[1], &one, 1);
			continue;
		}
		if (s->count == 0) {
			if (s->stop)
				break;
			pthread_cond_wait(&s->cond, &s->mtx);
			continue;
		}
		j = s->jobs[s->head];
		s->head = (s->head + 1) % SYNCER_MAX_PENDING;
		s->count--;
		pthread_mutex_unlock(&s->mtx);

		if (j.name[0] == '\0') {
			/* syncer_sync(): data only, no rename, no report. */
			(void)port_datasync(j.fd);
			close(j.fd);
			pthread_mutex_lock(&s->mtx);
			continue;
		}
		r = queue_finish(s->q, j.fd, j.name, j.policy);
		e = errno;

		pthread_mutex_lock(&s->mtx);
		burst++;
		if (r == 0) {
			s->nok++;
			s->total_ok++;
			if (j.flags & QUEUE_ROLL_RECOVERED)
				s->rec_ok++;
		} else {
			s->nfail++;
			s->total_fail++;
			s->err = e;
			if (j.flags & QUEUE_ROLL_RECOVERED)
				s->rec_fail++;
		}
	}
	pthread_mutex_unlock(&s->mtx);
	return NULL;
}

/* Notify pipe readable: report what the thread finished. */
static void
syncer_notify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct syncer	*s = arg;
	char		 b[256];
	unsigned	 nok, nfail;
	int		 err, dir_err;

	while (read(fd, b, sizeof b) > 0)
		;
	pthread_mutex_lock(&s->mtx);
	nok = s->nok;
	nfail = s->nfail;
	err = s->err;
	dir_err = s->dir_err;
	s->nok = s->nfail = 0;
	s->dir_err = 0;
	pthread_mutex_unlock(&s->mtx);
	if (nok > 0 || nfail > 0 || dir_err != 0)
		s->done(s->arg, nok, nfail, err, dir_err);
}

/* A syncer for queue q; done runs on the loop after finished segments. */
struct syncer *
syncer_new(struct event_base *base, struct queue *q, syncer_done_fn done,
    void *arg)
{
	struct syncer	*s;
	int		 i;

	if ((s = calloc(1, sizeof *s)) == NULL)
		return NULL;
	s->base = base;
	s->q = q;
	s->done = done;
	s->arg = arg;
	if (pipe(s->pfd) == -1) {
		free(s);
		return NULL;
	}
	for (i = 0; i < 2; i++) {
		fcntl(s->pfd[i], F_SETFD, FD_CLOEXEC);
		fcntl(s->pfd[i], F_SETFL, O_NONBLOCK);
	}
	pthread_mutex_init(&s->mtx, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->ev = event_new(base, s->pfd[0], EV_READ | EV_PERSIST,
	    syncer_notify_cb, s);
	if (s->ev == NULL || event_add(s->ev, NULL) == -1) {
		syncer_free(s);
		return NULL;
	}
	return s;
}

/*
 * Queue a job for the thread, starting it at the first job: the slot with
 * the lock held (the caller fills it in and calls syncer_pushed), or NULL
 * when the list is full, the syncer stops or the thread cannot start.
 */
static struct sync_job *
syncer_push(struct syncer *s)
{
	sigset_t	all, old;
	int		r;

	pthread_mutex_lock(&s->mtx);
	if (s->stop || s->count == SYNCER_MAX_PENDING)
		goto full;
	if (!s->running) {
		/* Signals stay with the loop (libevent's signal pipe). */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		r = pthread_create(&s->thread, NULL, syncer_main, s);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (r != 0)
			goto full;
		s->running = 1;
	}
	return &s->jobs[(s->head + s->count) % SYNCER_MAX_PENDING];
full:
	pthread_mutex_unlock(&s->mtx);
	return NULL;
}

/* The job syncer_push returned is filled in: hand it over, unlock. */
static void
syncer_pushed(struct syncer *s)
{
	s->count++;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->mtx);
}

/*
 * Take a rolled segment (queue_roller_fn): 0 if queued for the thread, -1
 * if the job list is full or the thread cannot start — the roll then
 * happens in place, which is the backpressure.
 */
int
syncer_roller(int fd, const char *name, enum queue_fsync f, unsigned flags,
    void *arg)
{
	struct syncer	*s = arg;
	struct sync_job	*j;

	if (strlen(name) >= sizeof j->name || (j = syncer_push(s)) == NULL)
		return -1;
	j->fd = fd;
	j->policy = f;
	j->flags = flags;
	memcpy(j->name, name, strlen(name) + 1);
	s->outstanding++;
	s->handed++;
	syncer_pushed(s);
	return 0;
}

/* Recovered partials finished since the last call (see syncer.h). */
void
syncer_recovered(struct syncer *s, unsigned *ok, unsigned *fail)
{
	*ok = *fail = 0;
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mtx);
	*ok = s->rec_ok;
	*fail = s->rec_fail;
	s->rec_ok = s->rec_fail = 0;
	pthread_mutex_unlock(&s->mtx);
}

/* fdatasync a descriptor on the thread, then close it (see syncer.h). */
int
syncer_sync(struct syncer *s, int fd)
{
	struct sync_job	*j;

	if ((j = syncer_push(s)) == NULL)
		return -1;
	j->fd = fd;
	j->policy = QUEUE_FSYNC_ROLL;
	j->flags = 0;
	j->name[0] = '\0';
	syncer_pushed(s);
	return 0;
}

/* A counter of s at off (an unsigned or a uint64_t), read under the lock. */
static uint64_t
syncer_read(struct syncer *s, size_t off, size_t size)
{
	const char	*p;
	uint64_t	 v;

	if (s == NULL)
		return 0;
	p = (const char *)s + off;
	pthread_mutex_lock(&s->mtx);
	v = size == sizeof(uint64_t) ? *(const uint64_t *)(const void *)p :
	    *(const unsigned *)(const void *)p;
	pthread_mutex_unlock(&s->mtx);
	return v;
}

/* Segments handed over and not finished yet. */
unsigned
syncer_pending(struct syncer *s)
{
	return (unsigned)syncer_read(s, offsetof(struct syncer, outstanding),
	    sizeof(unsigned));
}

/* A mark: syncer_reached() tells when everything handed over by now is done. */
uint64_t
syncer_mark(struct syncer *s)
{
	return syncer_read(s, offsetof(struct syncer, handed), sizeof(uint64_t));
}

/* 1 once every segment handed over before mark was taken is finished. */
int
syncer_reached(struct syncer *s, uint64_t mark)
{
	int	r;

	if (s == NULL)
		return 1;
	pthread_mutex_lock(&s->mtx);
	r = s->settled >= mark || !s->running;
	pthread_mutex_unlock(&s->mtx);
	return r;
}

/* Segments finished (ok, failed) since start. */
void
syncer_totals(struct syncer *s, uint64_t *ok, uint64_t *fail)
{
	*ok = *fail = 0;
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mtx);
	*ok = s->total_ok;
	*fail = s->total_fail;
	pthread_mutex_unlock(&s->mtx);
}

/*
 * Finish every pending segment, stop the thread and report on the loop's
 * behalf (done runs here). Rolls after this happen in place.
 */
void
syncer_drain(struct syncer *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mtx);
	s->stop = 1;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->mtx);
	if (s->running) {
		pthread_join(s->thread, NULL);
		s->running = 0;
	}
	syncer_notify_cb(s->pfd[0], EV_READ, s);
}

/* Drain and free. */
void
syncer_free(struct syncer *s)
{
	if (s == NULL)
		return;
	syncer_drain(s);
	if (s->ev != NULL)
		event_free(s->ev);
	close(s->pfd[0]);
	close(s->pfd[1]);
	pthread_mutex_destroy(&s->mtx);
	pthread_cond_destroy(&s->cond);
	free(s);
}
