/*
 * agent.h — the agent's process-wide state, shared by the files of agent/.
 * One instance of struct agent lives in main.c for the whole process; every
 * other file is handed it (a function's argument, a connection's c->agent,
 * an event's argument) and never reaches for a global.
 *
 * The core files call each other in one direction only (docs/
 * ARCHITECTURE.md, "One loop pass"): main.c → server.c → control.c →
 * ingest.c → conn.c. What a lower file needs done by a higher one it asks
 * for through struct agent (a->pass, a->phase), and main.c's after-pass
 * step does it.
 */
#ifndef AGENT_AGENT_H
#define AGENT_AGENT_H

#include <sys/queue.h>
#include <sys/types.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>

#include "buf.h"
#include "config.h"
#include "export.h"
#include "paths.h"
#include "queue.h"
#include "record.h"
#include "settings.h"
#include "syncer.h"
#include "upload.h"

#define AGENT_MAX_CLIENTS	1024		/* past this, newcomers wait in the backlog */
#define AGENT_LISTEN_BACKLOG	4096		/* connections the kernel holds for us */
#define AGENT_ACCEPT_PER_PASS	32		/* accepts per loop pass: reads go on */
#define AGENT_EVICT_IDLE_MS	250		/* quiet this long (and nothing pending):
						   may be closed to make room */
#define ACCEPT_RETRY_MS		50		/* paused at the limit: look again */
#define AGENT_FD_HEADROOM	32		/* descriptors clients never take */
#define AGENT_FD_RESERVE	4		/* held, released for a new segment */
#define CONN_READ_CHUNK		(128 * 1024)	/* one read(2) into the shared buffer */
#define CONN_IN_KEEP		4096		/* idle input buffers above this are freed */
#define AGENT_IN_TOTAL_MAX	(8 * 1024 * 1024) /* partial frames held, all clients */
#define CONN_OUT_MAX		(256 * 1024)	/* unsent replies before cut-off */
#define BATCH_COMMIT_BYTES	(1024 * 1024)	/* commit a batch early past this */
#define DROPPED_NAMES_MAX	64		/* distinct dropped field names kept */
#define ROLL_MAX_AGE_S		30		/* roll a trickled segment at this age */
#define UPLOAD_PARKED_MAX	16		/* upload requests waiting for the syncer */
#define DISK_WARN_INTERVAL_S	60		/* a repeated disk error: one log line per */
#define CONN_DRAIN_READS	1024		/* reads of one client at eviction or
						   shutdown (× CONN_READ_CHUNK) */
#define ROLL_SLACK_US		500		/* quiet this close to the interval
						   rolls now: no sub-ms timer (µs) */
#define BATCH_ENTS_MIN		256		/* first allocation of a->bents */
#define AGENT_NSIGNALS		3		/* SIGTERM, SIGINT, SIGHUP */
/*
 * Unasked acks of one connection are at least this far apart; one held back
 * is sent when the interval ends. Each ack is a socket buffer the client
 * must dequeue: one per event at 50k events/s tripled the client's p99
 * emit latency (docs/PERFORMANCE.md). Bounds the written-but-unacked
 * window (the duplicate window if the agent dies) to this long.
 */
#define ACK_COALESCE_MS		1
/*
 * Read coalescing (server.c): a connection readable again within this
 * many microseconds of its last read is read on a timer once per interval
 * instead of at every record, until a read finds it empty; a read of at
 * least CONN_COALESCE_BYTES brings the next one forward (throughput).
 */
#define CONN_COALESCE_US	1000
#define CONN_COALESCE_BYTES	(16 * 1024)
#define CONN_COALESCE_AFTER	8	/* quick reads in a row before: a short
					   exchange (hello, a few events,
					   flush) is never delayed */

/* Counters shown by status (cumulative since start). */
struct agent_counters {
	uint64_t	received;	/* event frames */
	uint64_t	accepted;	/* validated and queued for write */
	uint64_t	rejected;	/* refused by schema/disabled */
	uint64_t	fields_dropped;	/* unknown fields removed */
	uint64_t	redactions;	/* scrubber replacements */
	uint64_t	redactions_kind[SCRUB_NKINDS];
	uint64_t	persisted;	/* written to a segment */
	uint64_t	storage_dropped;	/* lost to write errors */
	uint64_t	write_errors;	/* failed append batches */
	uint64_t	roll_errors;	/* segments the syncer could not finish */
	uint64_t	dirsync_errors;	/* directory fsyncs after renames that failed */
	uint64_t	peers_rejected;	/* wrong uid */
	uint64_t	conns_evicted;	/* idle clients closed for a newcomer */
	uint64_t	conns_cut;	/* stalled or over their bounds */
	uint64_t	bad_frames;	/* framing errors */
	uint64_t	conns_over_mem;	/* cut: partial frames over the global bound */
	uint64_t	control;	/* control frames */
	uint64_t	takeover_claims;	/* connections we raced for and won */
	uint64_t	taken_over;	/* events a library took over: skipped */
	uint64_t	takeover_dups;	/* written before we lost the race and
					   could not be cut off again */
	uint64_t	reads;		/* read(2)s of clients that returned data */
	uint64_t	coalesced_reads; /* read(2)s by the coalescing timer */
};

/*
 * The agent's life. Each phase only moves forward; code that must not run
 * while stopping compares against AGENT_RUNNING.
 */
enum agent_phase {
	AGENT_RUNNING = 0,	/* accepting, reading, uploading */
	AGENT_STOP_ASKED,	/* shutdown asked (a client): done at the end
				   of this loop pass (agent_after_pass) */
	AGENT_DRAINING,		/* stopped accepting; reading what clients
				   already sent */
	AGENT_CLOSING,		/* drained: new events are refused ("busy"),
				   the batch is committed, segments rolled */
	AGENT_STOPPED,		/* the loop ends after this pass */
};

/*
 * Work owed to the after-pass step (agent_after_pass, main.c), which does
 * it in this order once the callbacks of a loop pass have all run.
 */
#define PASS_COMMIT	0x01	/* events arrived: commit the batch, ack */
#define PASS_REAP	0x02	/* a connection closed, or the descriptor
				   reserve was used: free, take it back */
#define PASS_IDLE	0x04	/* a client left or a segment rolled: idle
				   exit and the directory watcher look */
#define PASS_PARKED	0x08	/* the syncer reported: parked uploads */

/* Who sent the i-th record of the batch (a->bents[i]), and where it is. */
struct batch_ent {
	struct conn	*c;	/* kept alive while its batch is uncommitted */
	uint64_t	 seq;
	size_t		 off;	/* its line starts at a->batch.data + off */
};

/*
 * Takeover (proto/PROTOCOL.md "Takeover"): a library that gave up waiting
 * takes over its unconfirmed frames unless the agent claimed them first.
 * The agent races for the marker only when a frame of the batch is at
 * risk: its record is TAKEOVER_RISK_MS old (the library takes over only
 * frames older than ATC_TAKEOVER_MIN_MS = 50 ms), or dated in the future.
 */
#define TAKEOVER_RISK_MS	25
#define TAKEOVER_FUTURE_MS	1000
enum takeover {
	TKO_NONE = 0,	/* no race yet (the fast path) */
	TKO_AGENT,	/* we hold the marker: every frame is ours */
	TKO_CLIENT,	/* the library took tko_first..tko_last */
};

struct conn {
	TAILQ_ENTRY(conn) entry;
	struct agent	*agent;		/* the one agent (borrowed) */
	uint64_t	 id;
	int		 fd;
	struct event	*rev, *wev, *tev;	/* read, write, stall timer */
	struct buf	 in, out;
	uint64_t	 seq;		/* event frames received */
	uint64_t	 batch_first;	/* first seq in the uncommitted batch, 0 none */
	uint64_t	 batch_last;
	uint64_t	 fail_first;	/* first seq a failed write refused */
	char		 nonce[QUEUE_NONCE_LEN + 1];	/* hello's, "" none */
	enum takeover	 tko;
	uint64_t	 tko_first, tko_last;	/* TKO_CLIENT: not ours */
	int64_t		 batch_ts;	/* ts (ms) of its first batch record */
	int		 flush_wanted;	/* ack after the next commit */
	uint64_t	 acked_seq;	/* last seq acknowledged */
	uint64_t	 unasked_ack_ms;	/* monotonic ms of the last unasked ack */
	int		 ack_held;	/* an unasked ack waits for ack_ev */
	int		 dead;		/* closing: freed by server_reap */
	int		 wgone;		/* peer stopped reading: read until EOF */
	uint64_t	 last_active_ms;	/* monotonic ms of accept/last read */
	uint64_t	 last_read_us;	/* monotonic µs of the last read with data */
	unsigned	 quick_reads;	/* in a row, each within CONN_COALESCE_US */
	int		 deferred;	/* on agent.deferred: read by the timer */
	TAILQ_ENTRY(conn) dentry;	/* agent.deferred */
	unsigned	 replies_owed;	/* upload results this client waits for */
	char		*cwd, *home;	/* scrub context from hello (owned) */
	struct scrub_ctx scrub;
};
TAILQ_HEAD(conns, conn);
TAILQ_HEAD(dconns, conn);	/* linked by dentry */

struct agent {
	struct event_base	*base;
	struct paths		 paths;
	struct settings		 settings;
	struct tconfig		 config;
	struct optout		 opt;
	struct queue		*q;
	struct syncer		*syncer;	/* finishes rolls off the loop */
	struct uploader		*up;
	struct exporter		*exp;		/* [export] otlp_endpoint, or NULL */
	int			 lock_fd;
	int			 listen_fd;
	struct event		*accept_ev;
	ino_t			 sock_ino;	/* our socket node (self-bound) */
	int			 self_bound;
	int			 socket_activated;
	int			 auto_spawned;	/* idle exit applies */
	int			 cli_no_telemetry;	/* --no-telemetry */
	enum agent_phase	 phase;
	unsigned		 pass;		/* PASS_*: owed after this pass */
	uint64_t		 started_ms;	/* monotonic, for uptime */
	struct conns		 conns;
	unsigned		 nclients;	/* connections, dying ones included */
	unsigned		 ndying;	/* closed, not yet freed */
	int			 accept_paused;	/* at the client limit */
	int			 reserve_fd[AGENT_FD_RESERVE];
	uint64_t		 next_conn_id;
	struct buf		 batch;		/* records of this loop pass */
	struct batch_ent	*bents;		/* whose each of them is, in: */
	struct buf		 bents_buf;
	unsigned		 bents_cap;
	size_t			 in_total;	/* bytes allocated for partial frames */
	unsigned		 batch_events;
	struct dconns		 deferred;	/* read by coalesce_ev */
	/*
	 * Every event of the agent itself, all made by agent_events_new()
	 * (main.c) before the loop starts and freed together after it.
	 */
	struct event		*coalesce_ev;	/* reads deferred conns */
	struct event		*roll_ev;	/* quiet-interval roll */
	struct event		*ack_ev;	/* held-back unasked acks */
	struct event		*idle_ev;	/* idle exit */
	struct event		*recheck_ev;	/* one more recovery after start */
	struct event		*accept_pause_ev; /* accept paused: look again */
	struct event		*sig_ev[AGENT_NSIGNALS];
	uint64_t		 last_write_us;	/* monotonic µs of the last commit */
	uint64_t		 segment_started_us; /* … of the active segment's first */
	uint64_t		 synced_bytes;	/* active bytes already synced
						   while uploads are held */
	int			 holding;	/* the active segment is held
						   back (ingest_hold) */
	struct {
		uint64_t	conn_id;
		uint64_t	mark;	/* syncer_mark() when asked */
		int		wait;
	}			 parked[UPLOAD_PARKED_MAX];	/* upload ops */
	unsigned		 nparked;
	struct agent_counters	 ctr;
	json_t			*dropped_fields;	/* name → count */
	time_t			 last_disk_warn;
	char			 storage_error[160];	/* the last disk error */
	int64_t			 storage_error_ms;	/* when (unix ms), 0 none */
};

/* server.c: the listening socket and the read side of connections. */
int	server_listen(struct agent *a, char *cause, size_t causelen);
void	server_stop_accepting(struct agent *a);
void	server_drain(struct agent *a);
unsigned server_reap(struct agent *a);
void	server_close_all(struct agent *a);
void	server_accept_cb(evutil_socket_t, short, void *);
void	server_accept_resume_cb(evutil_socket_t, short, void *);
void	server_coalesce_cb(evutil_socket_t, short, void *);

/* control.c: control frames. */
void	control_frame(struct agent *a, struct conn *c, const unsigned char *p,
	    size_t n);
void	control_run_parked(struct agent *a);

/* ingest.c: validation, batching, commits, rolling. */
void	ingest_event(struct agent *a, struct conn *c, const unsigned char *p,
	    size_t n);
void	ingest_commit(struct agent *a);
void	ingest_schedule_commit(struct agent *a);
void	ingest_roll(struct agent *a);
void	ingest_arm_roll(struct agent *a);
void	ingest_storage_error(struct agent *a, const char *what, int err);
int	ingest_roll_held(void *arg);
void	ingest_fd_release(struct agent *a);
void	ingest_recovered(struct agent *a, const struct queue_recovery *r,
	    const char *who);
void	ingest_roll_cb(evutil_socket_t, short, void *);
void	ingest_ack_cb(evutil_socket_t, short, void *);

/* conn.c: one connection, its replies and its end. */
struct conn *conn_new(struct agent *a, int fd, event_callback_fn read_cb);
void	conn_free(struct conn *c);
void	conn_send(struct conn *c, const char *json, size_t len);
void	conn_send_json(struct conn *c, json_t *obj);
void	conn_close(struct conn *c);
struct conn *conn_find(struct agent *a, uint64_t id);
void	conn_error(struct conn *c, const char *code, const char *message,
	    uint64_t seq, const char *field);
void	conn_ack(struct conn *c);
void	conn_error_range(struct conn *c, const char *code, const char *message,
	    uint64_t first, uint64_t last);
void	conn_arm_timer(struct conn *c, int progress);
unsigned conn_limit(void);

/* configure.c: settings and config.toml applied to the running agent. */
int	configure_endpoint_check(struct agent *a, const char *url, char *cause,
	    size_t causelen);
void	configure_upload(struct agent *a, struct upload_config *uc,
	    char *state, size_t statelen);
void	configure_export(struct agent *a);
void	configure_reload(struct agent *a, char *err, size_t errlen);

/* status.c: the one status snapshot. Caller owns the reference. */
json_t	*status_snapshot(struct agent *a);

/* watch.c: notice ready segments renamed in by other writers. */
void	watch_start(struct agent *a);
void	watch_poke(struct agent *a);
const char *watch_method(void);
void	watch_stop(void);
#endif
