/*
 * queue — the on-disk segment store shared with upstream AtomCode
 * (README "Queue on disk"). One handle per process and directory; used by the agent's
 * ingest and uploader, the shim's fallback writer and the CLI.
 *
 * Files in the directory:
 *   <UTC YYYYMMDD-HHMMSS>-<uuid>.partial        active, flock(LOCK_EX) held
 *   <same>.partial.owner                         empty marker beside it
 *   <stem>.ndjson                                ready
 *   <stem>.ndjson.sending-<pid>-<uuid>           claimed for upload
 *   <stem>.invalid                               quarantined
 * Every record is one compact JSON object followed by '\n'.
 *
 * Not thread-safe: one handle is used by one thread at a time, except
 * queue_finish() and queue_sync_dirfd(), which any thread may call.
 */
#ifndef PROTO_QUEUE_H
#define PROTO_QUEUE_H
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define QUEUE_ROLL_EVENTS	500		/* roll a segment at this many events */
#define QUEUE_ROLL_BYTES	(512 * 1024)	/* … or at this many bytes */
#define QUEUE_CAP_FILES		50		/* ready+invalid files kept */
#define QUEUE_CAP_BYTES		(5 * 1024 * 1024) /* ready+invalid bytes kept */
#define QUEUE_CLAIM_STALE_S	60		/* claims older than this (or dated
						   this far in the future) are
						   restored */
#define QUEUE_MAX_AGE_S		(90 * 86400)	/* partial/invalid older by name,
						   mtime and records: deleted */
#define QUEUE_LEGACY_QUIET_S	86400		/* legacy partial must be this quiet */
#define QUEUE_NAME_MAX		200		/* longest file name we create */
/*
 * A second destination's directory, relative to the queue directory
 * (agent/export.c, EXPORT_DIR_NAME): it hard-links every segment it takes,
 * so a segment with more than one link is shared, and a merge of shared
 * segments leaves it a "<stem>.skip" link to the result.
 */
#define QUEUE_MIRROR_DIR	"../export-otlp/queue"

/* Durability of appends (README "Queue on disk"). */
enum queue_fsync {
	QUEUE_FSYNC_ROLL = 0,	/* fsync when a segment rolls (default) */
	QUEUE_FSYNC_ALWAYS,	/* fdatasync after every append batch */
	QUEUE_FSYNC_NEVER,	/* never fsync; rename only */
};

/* queue_open() flags */
#define QUEUE_O_CREATE		0x01	/* create the directory (0700) if missing */
#define QUEUE_O_LEGACY		0x02	/* recovery also takes quiet legacy partials */
#define QUEUE_O_NORECOVER	0x04	/* skip recovery */
#define QUEUE_O_RDONLY		0x08	/* a reader (dump, status, check): no
					   recovery, no repair, nothing written */

/* What one recovery pass did. */
struct queue_recovery {
	unsigned	claims_restored;	/* stale, or dated in the future */
	unsigned	promoted;	/* partial → .ndjson, finished here */
	unsigned	handed;		/* promotions handed to the roller: it
					   reports whether they succeeded */
	unsigned	legacy_promoted;	/* of which unmarked (legacy) */
	unsigned	quarantined;	/* partial → .invalid */
	unsigned	torn_tails;	/* partials whose torn last line was cut */
	unsigned	deleted_empty;
	unsigned	deleted_old;	/* > 90 days by name, mtime and content */
	uint64_t	dropped_old;	/* events in those, counted as dropped */
	unsigned	deleted_orphans;	/* .owner without partial */
	unsigned	evicted;	/* files evicted by the caps */
};

/* A snapshot of the directory. */
struct queue_stats {
	uint64_t	ready_segments, ready_events, ready_bytes;
	uint64_t	partial_segments, partial_bytes;	/* .partial + .invalid */
	uint64_t	invalid_segments, invalid_bytes;
	uint64_t	claimed_segments;
	uint64_t	foreign_files;	/* of other users or world-writable:
					   never read, uploaded or removed */
	char		oldest[QUEUE_NAME_MAX];	/* oldest ready name, "" if none */
};

/* A claimed segment. */
struct queue_claim {
	char		name[QUEUE_NAME_MAX + 64];	/* current (claimed) name */
	char		ready[QUEUE_NAME_MAX];	/* the .ndjson name it came from */
	char		stem[QUEUE_NAME_MAX];	/* name without extension */
	uint64_t	bytes;
};

/*
 * What an event line is, for everyone who reads segments (recovery,
 * stats, dump, check, the uploader, the view page): a line of the text,
 * without its '\n', that is not blank (only white space, "\r" included).
 * A last line without '\n' is returned too, with eol 0: the caller
 * decides what a torn line means.
 */
struct queue_lines {
	const char	*p, *end;	/* the text not walked yet */
	unsigned	 lineno;	/* 1-based number of the line last
					   returned, blank lines counted */
	int		 eol;		/* … and whether it ended with '\n' */
};

/* Walk text[0..len) (borrowed for the walk). */
void	queue_lines_init(struct queue_lines *it, const char *text, size_t len);
/* The next event line: 1 with *line and *len (into the text), 0 at the end. */
int	queue_lines_next(struct queue_lines *it, const char **line, size_t *len);
/* How many event lines text holds (what the uploader sends, stats count). */
uint64_t queue_count_events(const char *text, size_t len);

struct queue;

/*
 * Open the queue directory dir. Refuses (errno ELOOP/EPERM) a symlinked or
 * foreign-owned directory, with a human sentence in cause. A directory
 * others may write to is restricted to 0700 (see queue_warning()); one
 * that cannot be is refused. Files of other users in it are never read,
 * uploaded or removed. Runs recovery unless QUEUE_O_NORECOVER or
 * QUEUE_O_RDONLY. Returns 0 and *out, or -1 with errno and cause.
 */
int	queue_open(const char *dir, int flags, struct queue **out, char *cause,
	    size_t causelen);
/* What queue_open() repaired, for the caller to log; NULL if nothing. */
const char *queue_warning(struct queue *q);
/*
 * Close the active segment without finishing it: it stays a managed
 * partial (marker beside it) whose lock is now free, which any recovery
 * promotes (the agent's watch notices the close). For a caller out of
 * time: no fsync. The next append starts a new segment.
 */
void	queue_release(struct queue *q);
/* Roll the active segment (if any), then free the handle. */
void	queue_close(struct queue *q);
/* Set the fsync policy (default QUEUE_FSYNC_ROLL). */
void	queue_set_fsync(struct queue *q, enum queue_fsync f);
/* The directory path (borrowed). */
const char *queue_dir(struct queue *q);
/* Run recovery again (legacy: also unmarked partials quiet for a day). */
int	queue_recover(struct queue *q, int legacy, struct queue_recovery *r);
/* What the last recovery did (borrowed). */
const struct queue_recovery *queue_last_recovery(struct queue *q);

/*
 * Append nevents complete '\n'-terminated records (lines[0..len)) to the
 * active segment with write(2), creating it if needed and rolling exactly
 * at QUEUE_ROLL_EVENTS / QUEUE_ROLL_BYTES (a batch is split at line
 * boundaries). On failure (e.g. ENOSPC) the segment is cut back to its last
 * complete line and -1 is returned with errno: the batch was not stored.
 */
int	queue_append(struct queue *q, const char *lines, size_t len,
	    unsigned nevents);
/*
 * queue_append(), telling how much of a batch is stored when it fails
 * part-way: a batch that crosses a roll can have its first part in the
 * rolled segment and fail in the next one (disk full). On -1, *stored is
 * the number of leading records that are on disk (per the fsync policy);
 * the rest are not. stored may be NULL.
 */
int	queue_append_part(struct queue *q, const char *lines, size_t len,
	    unsigned nevents, unsigned *stored);
/* Flush the active segment to stable storage now (fdatasync). */
int	queue_sync(struct queue *q);
/* Finish the active segment: fsync, rename to .ndjson, enforce caps.
 * An empty one is deleted. 1 if a ready segment resulted (or a roller took
 * it to finish), 0 if none, -1 err. */
int	queue_roll(struct queue *q);
/*
 * Undoing an append: queue_mark() notes where the active segment ends,
 * queue_rewind() cuts what was appended since (ftruncate), as long as the
 * segment did not roll meanwhile (-1, EAGAIN: the records stay).
 */
struct queue_mark {
	uint64_t	gen;
	uint64_t	bytes;
	unsigned	events;
	int		active;
};
void	queue_mark(struct queue *q, struct queue_mark *m);
int	queue_rewind(struct queue *q, const struct queue_mark *m);

/*
 * Takeover markers (proto/PROTOCOL.md "Takeover"): when a library gives up
 * waiting for a stalled agent's confirmation and the agent may still store
 * the same frames, exactly one of them keeps the events, decided by which
 * creates <nonce>.takeover in the queue directory first (a symlink whose
 * target is the content, so it appears atomically with it). The agent
 * claims a connection with first = 0 ("agent": every frame of it is its
 * own); a library claims the unconfirmed sequence numbers first..last
 * ("client:F-L"). nonce is the connection's 32 lowercase hex digits.
 */
#define QUEUE_NONCE_LEN	32
struct queue_takeover {
	int		won;	/* we created the marker */
	int		agent;	/* else: the agent holds it */
	uint64_t	first, last;	/* else: the client took first..last */
};
/* Race for the marker. 0 (t says who holds it), -1 error (errno). */
int	queue_takeover(struct queue *q, const char *nonce, uint64_t first,
	    uint64_t last, struct queue_takeover *t);
/* Remove a connection's marker once the connection is gone. */
void	queue_takeover_done(struct queue *q, const char *nonce);
/* Remove every marker (agent start). Returns how many, or -1. */
int	queue_takeover_clean(struct queue *q);
/* queue_roll() without the roller: finished here, before it returns. */
int	queue_roll_in_place(struct queue *q);
/*
 * Hand full segments to a roller instead of finishing them in place (the
 * agent's syncer thread). When a segment rolls under QUEUE_FSYNC_ROLL
 * (ALWAYS syncs before the ack, NEVER has no fsync to move), fn(fd, name,
 * policy, arg) is called with the segment's
 * still-locked fd and its name (borrowed for the call): returning 0 takes
 * ownership of fd, which must then be finished with queue_finish(); -1
 * makes the roll happen in place. fn NULL restores in-place rolls. Caps
 * are then not enforced by the roll: call queue_enforce_caps() afterwards.
 * Recovery hands the partials it promotes to the roller the same way, with
 * QUEUE_ROLL_RECOVERED in flags (so that only a promotion that succeeded
 * is reported as recovered).
 */
#define QUEUE_ROLL_RECOVERED	0x01	/* a partial another writer left */
typedef int (*queue_roller_fn)(int fd, const char *name, enum queue_fsync f,
    unsigned flags, void *arg);
void	queue_set_roller(struct queue *q, queue_roller_fn fn, void *arg);
/*
 * Finish a segment handed to a roller: fsync per f, rename to .ndjson,
 * remove its marker, close fd (releasing the lock). Safe from any thread
 * while the handle is open: it touches only fd and the directory fd. 0, or
 * -1 with errno; fd is closed either way (a failed one is left to recovery).
 */
int	queue_finish(struct queue *q, int fd, const char *name,
	    enum queue_fsync f);
/* fsync the queue directory (any thread). 0 or -1. */
int	queue_sync_dirfd(struct queue *q);
/* Enforce the caps (QUEUE_CAP_*) now. Files evicted, or -1. */
int	queue_enforce_caps(struct queue *q);
/* A descriptor of the active segment (dup, caller closes), -1 if none. */
int	queue_active_dup(struct queue *q);
/* Events and bytes in the active segment (0 if none). */
unsigned queue_active_events(struct queue *q);
uint64_t queue_active_bytes(struct queue *q);
/*
 * Write a complete ready segment from memory (temp partial, fsync, rename):
 * used to split a segment (HTTP 413) and for durable single writes.
 */
int	queue_write_ready(struct queue *q, const char *lines, size_t len);
/*
 * fn(name, arg) is told the name of each segment queue_write_ready() makes
 * ready, right after its rename: those records were already queued (a
 * split), so a second destination that holds the original must skip it
 * (agent/export.c). Any new code that re-packages queued records into a
 * ready segment must go through queue_write_ready() for that reason.
 */
typedef void (*queue_write_hook_fn)(const char *name, void *arg);
void	queue_set_write_hook(struct queue *q, queue_write_hook_fn fn,
	    void *arg);

/* Claim the oldest ready segment: 1 claimed (c filled), 0 none, -1 error. */
int	queue_claim(struct queue *q, struct queue_claim *c);
/* Read a claimed segment's bytes into out (appended). */
int	queue_claim_read(struct queue *q, const struct queue_claim *c,
	    struct buf *out);
/* Delivered: delete the claimed file. */
int	queue_complete(struct queue *q, const struct queue_claim *c);
/* Transient failure: rename the claim back to .ndjson. */
int	queue_unclaim(struct queue *q, const struct queue_claim *c);
/* Permanent rejection: rename the claim to <stem>.invalid. */
int	queue_quarantine(struct queue *q, const struct queue_claim *c);
/* Restore every claim of this pid (shutdown). Returns how many. */
int	queue_unclaim_own(struct queue *q);

/*
 * Batch the directory fsync that makes a roll's rename durable: with
 * on, rolls only mark the directory dirty and the caller calls
 * queue_sync_dir() once per batch (before acknowledging it).
 */
void	queue_defer_dirsync(struct queue *q, int on);
/*
 * Never fsync the directory after a roll: the shim's close then costs one
 * journal commit, not two. The segment's data is synced before the rename,
 * so a crash that loses the rename leaves a managed partial (marker beside
 * it, lock free) that recovery promotes: nothing is lost, it is uploaded
 * after the next agent start instead.
 */
void	queue_no_dirsync(struct queue *q);
/* fsync the directory if a deferred roll renamed something. 0 or -1. */
int	queue_sync_dir(struct queue *q);

/* Events evicted by the caps, cumulative across processes and restarts. */
uint64_t queue_dropped(struct queue *q);
/* Events this handle itself deleted unsent (caps, recovery) since it opened. */
uint64_t queue_dropped_here(struct queue *q);
/* Scan the directory. */
int	queue_stats(struct queue *q, struct queue_stats *st);

/* Delete ready/invalid files and free partials; skip live ones and claims. */
int	queue_clear(struct queue *q, unsigned *removed, unsigned *skipped);
/* Call fn for each of the last `last` records of the ready segments in name
 * order (lines without '\n'). fn returning non-zero stops. */
int	queue_dump(struct queue *q, unsigned last,
	    int (*fn)(const char *line, size_t len, void *arg), void *arg);
/*
 * Verify every segment file offline: bad(file, lineno, why, arg) for each bad
 * line. *nfiles and *nbad get totals. Returns 0, or -1 if dir cannot be read.
 */
int	queue_check(const char *dir,
	    void (*bad)(const char *file, unsigned line, const char *why, void *),
	    void *arg, unsigned *nfiles, unsigned *nbad);
#endif
