/*
 * syncer.h — finishes rolled segments on a thread of its own (syncer.c).
 */
#ifndef AGENT_SYNCER_H
#define AGENT_SYNCER_H
#include <stdint.h>

#include <event2/event.h>

#include "queue.h"

/*
 * Segments handed over and not finished yet, at most. Past it a roll
 * happens in place on the loop (backpressure). Holds no event bytes: only
 * descriptors of files already written (≤ 512 KiB each in the page cache).
 */
#define SYNCER_MAX_PENDING	16

struct syncer;

/*
 * Runs on the loop: nok segments became ready, nfail could not be finished
 * (err: errno; left as partials for recovery), dir_err is the errno of a
 * failed directory fsync after renames (0: none).
 */
typedef void (*syncer_done_fn)(void *arg, unsigned nok, unsigned nfail,
    int err, int dir_err);

/* A syncer for q; NULL on failure (rolls then stay in place). */
struct syncer *syncer_new(struct event_base *base, struct queue *q,
	    syncer_done_fn done, void *arg);
/* The queue_roller_fn to pass to queue_set_roller() with the syncer. */
int	syncer_roller(int fd, const char *name, enum queue_fsync f,
	    unsigned flags, void *arg);
/*
 * Recovered partials (QUEUE_ROLL_RECOVERED) the thread finished since the
 * last call: promoted, failed. Resets both.
 */
void	syncer_recovered(struct syncer *s, unsigned *ok, unsigned *fail);
/*
 * fdatasync fd on the thread, then close it (a dup of the active segment:
 * events held while uploads cannot proceed). Takes fd on 0; -1 (full or
 * stopped): the caller keeps it.
 */
int	syncer_sync(struct syncer *s, int fd);
/* Handed over and not finished yet. */
unsigned syncer_pending(struct syncer *s);
/* A mark of everything handed over so far, for syncer_reached(). */
uint64_t syncer_mark(struct syncer *s);
/* 1 once everything handed over before the mark is finished and synced. */
int	syncer_reached(struct syncer *s, uint64_t mark);
/* Finished since start: ready, failed. */
void	syncer_totals(struct syncer *s, uint64_t *ok, uint64_t *fail);
/* Finish everything pending, stop the thread, report (done runs). */
void	syncer_drain(struct syncer *s);
/* Drain and free (NULL is fine). */
void	syncer_free(struct syncer *s);
#endif
