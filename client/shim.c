/*
 * shim.c — the public API of libatomcode-telemetry (include/atomcode/
 * telemetry.h): opt-out, the envelope, the agent connection with its
 * unconfirmed-event ring, auto-spawn and the fallback segment writer.
 *
 * It must never block the caller outside atc_flush()/atc_close() (and those
 * only up to their bound), print, exit, abort, start threads, install
 * signal handlers or raise SIGPIPE (every send uses PORT_MSG_NOSIGNAL). A
 * disabled handle touches no file and no socket; under sudo no file is
 * created in the user's directory.
 *
 * Delivery. Every event stays in an in-process ring until the agent
 * confirms it with a cumulative {"op":"ack","seq":N}, which releases
 * everything up to N. The agent acks on its own after every write (at most
 * one unasked ack per millisecond per client); the shim reads those replies
 * once ATC_READ_AFTER events are unconfirmed, at most every ATC_READ_MS,
 * and asks with {"op":"flush"} only when the ring is half full or the
 * oldest unconfirmed event is ATC_ACK_MS old. Sending and reading nothing
 * else keeps an emit to one sendmsg(2) nearly always. When the agent is gone,
 * stalls, or does not confirm within the flush/close bound, every event
 * still in the ring is validated (rec_validate) and appended to a fallback
 * segment, which is rolled to a ready .ndjson. When the ring is full the
 * new event goes straight to the fallback segment: it was never sent, so
 * it cannot be stored twice.
 *
 * Duplicate window. An event that the agent received and wrote to disk, but
 * whose ack did not reach us (the agent died or stalled after writing, or
 * the close bound expired first), is also written to the fallback segment
 * or resent after a reconnect, and is then stored twice. Delivery is
 * at-least-once, as upstream's; a lost event is never traded for this.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "atomcode/telemetry.h"
#include "buf.h"
#include "config.h"
#include "envelope.h"
#include "event.h"
#include "frame.h"
#include "identity.h"
#include "notice.h"
#include "paths.h"
#include "port.h"
#include "queue.h"
#include "record.h"
#include "repo.h"
#include "sock.h"
#include "spawn.h"
#include "timing.h"

#ifndef ATC_VERSION
#define ATC_VERSION "0.0.0"
#endif

#define ATC_RING_EVENTS		1024	/* events kept until confirmed */
#define ATC_RING_BYTES		(1024 * 1024)	/* and their frame bytes */
#define ATC_READ_AFTER		64	/* read replies once this many are unconfirmed */
#define ATC_READ_MS		4	/* … at most once per this many ms (a
					   recv per ms was 2% of emits at
					   50k/s: their p99) */
#define ATC_ACK_MS		1000	/* or when one waited this long */
#define ATC_FB_ROLL_MS		60000	/* atc_flush rolls a fallback this old */
#define ATC_SPILL_RESERVE_MS	20	/* of a flush bound, kept for the spill */
#define ATC_STALL_MS		5000	/* unconfirmed this long with a full
					   ring: the agent is stuck, spill */
#define ATC_RECONNECT_MS	1000	/* at most one connect attempt per */
#define ATC_SPAWN_MS		10000	/* at most one spawn per handle per */
#define ATC_SPAWN_MAX		3	/* spawns per handle, ever */
#define ATC_CLOSE_MS		100	/* default atc_close() bound */
#define ATC_DURABLE_MS		500	/* default atc_track_durable() bound */
#define ATC_IOV_MAX		64	/* frames per sendmsg() */
#define ATC_RECV_CHUNK		4096	/* bytes read per recv() */
#define ATC_IN_MAX		(FRAME_HDR + FRAME_MAX)	/* reply bytes held */
#define ATC_SLOT_KEEP		4096	/* bigger slot buffers are freed */
#define ATC_QUEUE_RETRY_MS	1000	/* retry a failed fallback open after */
#define ATC_FB_DEFER		4	/* full fallback segments finished at
					   flush/close, not in emit (fsync) */

/* macOS: PORT_MSG_NOSIGNAL is 0, sock_connect set SO_NOSIGPIPE instead. */
#define ATC_SEND_FLAGS	(PORT_MSG_NOSIGNAL | MSG_DONTWAIT)

/* One event in the ring: its frame (4-byte header + record). */
struct atc_ev {
	struct buf	frame;
	uint64_t	seq;	/* connection sequence number once sent */
	uint64_t	t_ms;	/* monotonic time it entered the ring */
};

struct atc {
	pthread_mutex_t	 mtx;
	int		 enabled;
	const char	*reason;	/* static */
	unsigned	 flags;
	int		 asked_replace;	/* sent {"op":"shutdown"} to an older agent */
	uint64_t	 fb_since_ms;	/* when the open fallback segment began */
	unsigned	 close_ms;
	unsigned	 durable_ms;
	int		 sudo;		/* create no file */
	pid_t		 pid;		/* the process that owns fd and q */
	unsigned	 fork_gen;	/* atc_fork_gen when pid was checked */
	struct paths	 paths;
	char		 cwd[PATHS_MAX];
	struct scrub_ctx sc;		/* home/cwd scrubbing for fallback */
	struct envelope	 env;
	int		 need_render;

	/* Agent connection. */
	int		 fd;		/* -1: not connected */
	int		 tried;		/* a connect was attempted */
	int		 connect_failed;	/* the last attempt failed */
	int		 connected_once;
	uint64_t	 next_connect_ms;
	uint64_t	 last_spawn_ms;
	unsigned	 nspawn;
	uint64_t	 conn_seq;	/* event frames fully written */
	uint64_t	 flush_seq;	/* conn_seq covered by the last flush */
	uint64_t	 ack_seq;	/* highest ack received */
	int		 fb_roll_due;	/* an agent answered: roll at next flush */
	uint64_t	 read_ms;	/* when emit last read replies */
	struct buf	 ctl;		/* control frames to write */
	struct buf	 in;		/* reply bytes read */

	/* Ring: [0, ninflight) sent and unconfirmed, [ninflight, count) not
	 * yet (fully) written; woff bytes of the first of those are written. */
	struct atc_ev	*ring;
	unsigned	 head;
	unsigned	 count;
	unsigned	 ninflight;
	size_t		 ring_bytes;
	size_t		 woff;

	struct buf	 members;	/* payload members of one emit */
	struct buf	 rec;		/* one rendered record */
	struct buf	 fb;		/* fallback batch (validated lines) */
	unsigned	 fb_n;
	struct queue	*q;		/* fallback segment store, lazily */
	uint64_t	 q_retry_ms;
	/* Full fallback segments, still locked: fsync + rename at flush. */
	struct {
		int	fd;
		char	name[QUEUE_NAME_MAX];
	}		 deferred[ATC_FB_DEFER];
	unsigned	 ndeferred;

	struct atc_stats st;
	struct atc_error_info lasterr;	/* the last refused event */
	char		 nonce[QUEUE_NONCE_LEN + 1];	/* this connection's,
						   for the takeover marker */
	char		 agent_storage[160];	/* the agent's last storage
						   error message, "" none */
	int		 stuck_spilled;	/* a flush gave up on a stuck agent
					   and nothing was confirmed since:
					   close must not wait for an fsync */
};

/*
 * Keep why an event was refused (atc_last_error); count it in rejected
 * unless it was not JSON at all (a caller's error, as before API 2).
 */
static void
refused(struct atc *h, enum atc_err e, const char *code, const char *ev,
    const char *field, const char *rule)
{
	if (e != ATC_E_JSON)
		h->st.rejected++;
	event_refusal(&h->lasterr, e, code, ev, field, rule);
}

/*
 * Events neither the agent nor the fallback segment could keep (sync 0),
 * or a fallback segment that could not be synced (sync 1): say why in
 * atc_last_error (code "storage"), with the agent's reason when it refused
 * them too, and where.
 */
static void
storage_lost(struct atc *h, int sync, int err)
{
	char	rule[PATHS_MAX + 512];

	if (sync)
		snprintf(rule, sizeof(rule), "the fallback segment in %s could "
		    "not be synced to disk: %s", h->paths.queue, strerror(err));
	else if (h->agent_storage[0] != '\0')
		snprintf(rule, sizeof(rule), "the agent could not store it (%s)"
		    " and the fallback queue %s could not be written: %s",
		    h->agent_storage, h->paths.queue, strerror(err));
	else
		snprintf(rule, sizeof(rule), "no agent took it and the fallback"
		    " queue %s could not be written: %s", h->paths.queue,
		    strerror(err));
	event_refusal(&h->lasterr, ATC_E_IO, "storage", NULL, NULL, rule);
}

/* The event_id of a record text, for a refusal (rare path: jansson). */
static void
record_event_id(const char *rec, size_t len, char *out, size_t outlen)
{
	json_t		*o;
	const char	*id;

	out[0] = '\0';
	if ((o = json_loadb(rec, len, 0, NULL)) == NULL)
		return;
	if ((id = json_string_value(json_object_get(o, "event_id"))) != NULL)
		snprintf(out, outlen, "%s", id);
	json_decref(o);
}

static struct atc_ev *
ring_at(struct atc *h, unsigned i)
{
	return &h->ring[(h->head + i) % ATC_RING_EVENTS];
}

static int
ring_full(struct atc *h, size_t more)
{
	return h->count >= ATC_RING_EVENTS ||
	    h->ring_bytes + more > ATC_RING_BYTES;
}

/* Release a slot's bytes (keeping small buffers for reuse). */
static void
slot_clear(struct atc *h, struct atc_ev *ev)
{
	h->ring_bytes -= ev->frame.len;
	if (ev->frame.cap > ATC_SLOT_KEEP)
		buf_free(&ev->frame);
	ev->frame.len = 0;
	ev->seq = 0;
}

/* Append a record to the ring as a frame. 0, or -1 (ENOMEM/EMSGSIZE). */
static int
ring_push(struct atc *h, const char *rec, size_t len, uint64_t now)
{
	struct atc_ev	*ev = ring_at(h, h->count);

	ev->frame.len = 0;
	if (frame_encode(&ev->frame, rec, len) == -1) {
		if (errno != ENOMEM)
			errno = EMSGSIZE;
		return -1;
	}
	ev->seq = 0;
	ev->t_ms = now;
	h->ring_bytes += ev->frame.len;
	h->count++;
	return 0;
}

/* Drop the oldest event. */
static void
ring_pop(struct atc *h)
{
	slot_clear(h, ring_at(h, 0));
	h->head = (h->head + 1) % ATC_RING_EVENTS;
	h->count--;
	if (h->ninflight > 0)
		h->ninflight--;
}

/* Remove the sent event at index i < ninflight, keeping the order. */
static void
ring_remove(struct atc *h, unsigned i)
{
	struct atc_ev	tmp;

	tmp = *ring_at(h, i);
	for (; i > 0; i--)
		*ring_at(h, i) = *ring_at(h, i - 1);
	*ring_at(h, 0) = tmp;
	ring_pop(h);
}

/*
 * The fallback store's roller: a segment that fills up inside an emit is
 * kept (locked, written, not yet synced) and finished at the next flush or
 * close, which may block; an emit never waits for fsync. A process that
 * dies first leaves managed partials, which recovery promotes.
 */
static int
fb_defer(int fd, const char *name, enum queue_fsync f, unsigned flags,
    void *arg)
{
	struct atc	*h = arg;
	size_t		 len = strlen(name);

	(void)f;
	if (h->ndeferred == ATC_FB_DEFER ||
	    len >= sizeof(h->deferred[0].name))
		return -1;	/* roll in place */
	h->deferred[h->ndeferred].fd = fd;
	memcpy(h->deferred[h->ndeferred].name, name, len + 1);
	h->ndeferred++;
	return 0;
}

/*
 * Finish the deferred segments: fsync, rename, unlock; then the caps. 0,
 * or -1 when one could not be synced or renamed (it is left to recovery,
 * but its data may not be on disk: the caller reports ATC_E_IO).
 */
static int
fb_finish_deferred(struct atc *h)
{
	unsigned	i;
	int		r = 0;

	if (h->ndeferred == 0)
		return 0;
	for (i = 0; i < h->ndeferred; i++) {
		if (queue_finish(h->q, h->deferred[i].fd,
		    h->deferred[i].name, QUEUE_FSYNC_ROLL) == -1) {
			storage_lost(h, 1, errno);
			r = -1;
		}
	}
	h->ndeferred = 0;
	(void)queue_enforce_caps(h->q);
	return r;
}

/*
 * Out of time at close (a stuck agent used the bound): leave the fallback
 * segments unfinished. Closing them frees their locks; each is a managed
 * partial that recovery promotes (the agent notices the close, any other
 * opener recovers it), so nothing is lost and close never waits for an
 * fsync on a disk that may be as stuck as the agent.
 */
static void
fb_release(struct atc *h)
{
	if (h->q == NULL)
		return;
	while (h->ndeferred > 0)
		close(h->deferred[--h->ndeferred].fd);
	queue_release(h->q);
}

/* Open the fallback store if we may create files. 0 or -1. */
static int
fb_open(struct atc *h)
{
	char		cause[256];
	uint64_t	now;

	if (h->q != NULL)
		return 0;
	if (h->sudo) {
		errno = EPERM;
		return -1;
	}
	now = timing_mono_ms();
	if (h->q_retry_ms != 0 && now < h->q_retry_ms)
		return -1;
	/*
	 * No recovery here: the agent recovers at start, and a client must
	 * stay cheap and touch only its own segment.
	 */
	if (paths_check_dir(h->paths.dir, 1, cause, sizeof(cause)) == -1 ||
	    paths_mkdirs(h->paths.queue) == -1 ||
	    queue_open(h->paths.queue, QUEUE_O_CREATE | QUEUE_O_NORECOVER,
	    &h->q, cause, sizeof(cause)) == -1) {
		h->q = NULL;
		h->q_retry_ms = now + ATC_QUEUE_RETRY_MS;
		return -1;
	}
	queue_no_dirsync(h->q);	/* one journal commit per close */
	queue_set_roller(h->q, fb_defer, h);
	return 0;
}

/* Validate one record into the fallback batch (never unscrubbed to disk). */
static void
fb_add(struct atc *h, const char *rec, size_t len)
{
	struct rec_result	res;

	memset(&res, 0, sizeof(res));
	if (rec_validate(rec, len, &h->sc, &h->fb, &res) == REC_OK)
		h->fb_n++;
	else
		refused(h, ATC_E_SCHEMA, rec_code(res.err), res.event_id,
		    res.field, NULL);
}

/* Append the batch to the fallback segment. 0, or -1 if it was lost. */
static int
fb_commit(struct atc *h)
{
	unsigned	n = h->fb_n;
	int		r = 0;

	if (n == 0)
		return 0;
	if (fb_open(h) == -1)
		r = -1;
	else if (queue_active_events(h->q) == 0)
		h->fb_since_ms = timing_mono_ms();
	if (r == -1 ||
	    queue_append(h->q, h->fb.data, h->fb.len, n) == -1) {
		storage_lost(h, 0, errno);
		h->st.lost += n;
		r = -1;
	} else
		h->st.fallback += n;
	h->fb.len = 0;
	h->fb_n = 0;
	return r;
}

/* Forget the connection; unconfirmed events become unsent again. */
static void
conn_close(struct atc *h)
{
	unsigned	i;

	if (h->fd != -1)
		close(h->fd);
	h->fd = -1;
	for (i = 0; i < h->count; i++)
		ring_at(h, i)->seq = 0;
	h->ninflight = 0;
	h->woff = 0;
	h->ctl.len = 0;
	h->in.len = 0;
	h->conn_seq = h->flush_seq = h->ack_seq = 0;
}

static int	pump_in(struct atc *);

/* Write every event in the ring to the fallback segment and empty it. */
static void
spill_all(struct atc *h)
{
	struct atc_ev	*ev;

	if (h->fd != -1)
		conn_close(h);	/* a half-written frame ends the stream */
	while (h->count > 0) {
		ev = ring_at(h, 0);
		fb_add(h, ev->frame.data + FRAME_HDR,
		    ev->frame.len - FRAME_HDR);
		ring_pop(h);
	}
	fb_commit(h);
}

/*
 * The agent is connected but did not confirm in time (stopped, or its
 * disk is slow), and may still store what it was sent: race it for those
 * events (PROTOCOL.md §10 "Takeover"). They are appended to the fallback
 * segment first, then the marker <nonce>.takeover is created; if the agent
 * created it first, it keeps every frame of this connection: the copies
 * are cut off again and the events count as confirmed. Nothing is ever
 * lost to the race: when the fallback write fails no marker is made (the
 * agent stores them), and when the marker cannot be made (no space, no
 * rights) the copies stay. Events never sent go to the fallback as usual.
 */
static void
spill_stuck(struct atc *h)
{
	struct queue_mark	m;
	struct queue_takeover	t;
	struct atc_ev		*ev;
	uint64_t		 first, last, fb;
	unsigned		 n, i, valid;
	int			 marked = 0, lost;

	(void)pump_in(h);	/* acks that came at the last moment */
	if (h->fd == -1 || h->ninflight == 0 || h->nonce[0] == '\0') {
		spill_all(h);
		return;
	}
	n = h->ninflight;
	first = ring_at(h, 0)->seq;
	last = h->conn_seq;
	if (fb_open(h) == 0) {
		queue_mark(h->q, &m);
		marked = 1;
	}
	for (i = 0; i < n; i++) {
		ev = ring_at(h, i);
		fb_add(h, ev->frame.data + FRAME_HDR, ev->frame.len - FRAME_HDR);
	}
	valid = h->fb_n;
	fb = h->st.fallback;
	lost = fb_commit(h) == -1;
	if (!lost && marked && valid > 0 &&
	    queue_takeover(h->q, h->nonce, first, last, &t) == 0 && t.agent &&
	    queue_rewind(h->q, &m) == 0) {
		/* The agent claimed them first: its copies count. */
		h->st.fallback = fb;
		h->st.acked += valid;
	}
	for (i = 0; i < n; i++)
		ring_pop(h);
	spill_all(h);	/* closes the connection; the never-sent ones */
}

/*
 * Make the fallback segments visible to the agent (fsync + rename). 0, or
 * -1 when one could not be synced (ATC_E_IO for the caller).
 */
static int
fb_roll(struct atc *h)
{
	int	r = 0;

	h->fb_roll_due = 0;
	if (h->q == NULL)
		return 0;
	/* The active one joins the deferred (or rolls in place if full). */
	if (queue_active_events(h->q) > 0 && queue_roll(h->q) == -1) {
		storage_lost(h, 1, errno);
		r = -1;
	}
	if (fb_finish_deferred(h) == -1)
		r = -1;
	return r;
}

/* Bumped in every child after fork(): handles then re-check their pid. */
static atomic_uint	atc_fork_gen;
static pthread_once_t	atc_once = PTHREAD_ONCE_INIT;

static void
atc_after_fork_child(void)
{
	atomic_fetch_add(&atc_fork_gen, 1);
}

static void
atc_init_once(void)
{
	(void)pthread_atfork(NULL, NULL, atc_after_fork_child);
}

/* Queue a control frame carrying the text in b. */
static int
ctl_frame(struct atc *h, const struct buf *b)
{
	return frame_encode(&h->ctl, b->data, b->len);
}

/* Queue {"op":"flush"}; the ack will cover everything written before it. */
static void
request_ack(struct atc *h)
{
	static const char	flush[] = "{\"op\":\"flush\"}";

	if (frame_encode(&h->ctl, flush, sizeof(flush) - 1) == -1)
		return;
	h->flush_seq = h->conn_seq + (h->woff > 0 ? 1 : 0);
}

/* A fresh random nonce for the connection: 32 lowercase hex digits. */
static void
conn_nonce(struct atc *h)
{
	char		u[UUID_STR_LEN];
	unsigned	i, k = 0;

	identity_uuid(u);
	for (i = 0; u[i] != '\0' && k < QUEUE_NONCE_LEN; i++)
		if (u[i] != '-')
			h->nonce[k++] = u[i];
	h->nonce[k] = '\0';
}

/* The hello frame of PROTOCOL.md §4. */
static int
send_hello(struct atc *h)
{
	struct buf	b = { NULL, 0, 0 };
	int		r;

	r = buf_printf(&b, "{\"op\":\"hello\",\"proto\":%d,\"client\":"
	    "\"atomcode-telemetry/%s\",\"pid\":%ld", PROTO_VERSION, ATC_VERSION,
	    (long)getpid());
	if (r == 0 && h->cwd[0] != '\0' && utf8_valid((const unsigned char *)
	    h->cwd, strlen(h->cwd)))
		r = buf_puts(&b, ",\"cwd\":") == -1 ||
		    buf_json_str(&b, h->cwd, strlen(h->cwd)) == -1 ? -1 : 0;
	if (r == 0 && h->paths.home[0] != '\0' && utf8_valid(
	    (const unsigned char *)h->paths.home, strlen(h->paths.home)))
		r = buf_puts(&b, ",\"home\":") == -1 ||
		    buf_json_str(&b, h->paths.home, strlen(h->paths.home)) ==
		    -1 ? -1 : 0;
	/* Names this connection in a takeover marker (PROTOCOL.md §10). */
	if (r == 0 && h->nonce[0] != '\0')
		r = buf_printf(&b, ",\"nonce\":\"%s\"", h->nonce);
	if (r == 0)
		r = buf_putc(&b, '}');
	if (r == 0)
		r = ctl_frame(h, &b);
	buf_free(&b);
	return r;
}

/* Whether the peer is our agent: same uid (or, under sudo, the user's). */
static int
peer_ok(struct atc *h, int fd)
{
	struct stat	sb;
	uid_t		uid;

	if (sock_peer_uid(fd, &uid) == -1)
		return 0;
	if (uid == geteuid() || uid == getuid())
		return 1;
	return h->sudo && stat(h->paths.dir, &sb) == 0 && sb.st_uid == uid;
}

/* Connect (rate-limited), auto-spawning when allowed. 0 or -1. */
static int
conn_open(struct atc *h, uint64_t now)
{
	enum spawn_result	r;
	int			fd, e;

	if (h->fd != -1)
		return 0;
	if (h->flags & ATC_F_NO_AGENT)
		return -1;
	if (h->tried && now < h->next_connect_ms)
		return -1;
	h->tried = 1;
	h->next_connect_ms = now + ATC_RECONNECT_MS;
	h->connect_failed = 1;

	fd = sock_connect(h->paths.sock);
	e = errno;
	if (fd == -1 && (e == ENOENT || e == ECONNREFUSED || e == EAGAIN) &&
	    !(h->flags & ATC_F_NO_SPAWN) && !h->sudo &&
	    h->nspawn < ATC_SPAWN_MAX && (h->last_spawn_ms == 0 ||
	    now >= h->last_spawn_ms + ATC_SPAWN_MS) &&
	    paths_check_dir(h->paths.dir, 1, NULL, 0) == 0) {
		r = spawn_agent(h->paths.lock, h->paths.sock, &fd);
		if (r == SPAWN_STARTED) {
			h->nspawn++;
			h->last_spawn_ms = now;
			h->st.spawns++;
		}
	}
	if (fd == -1)
		return -1;
	if (!peer_ok(h, fd)) {
		close(fd);
		return -1;
	}
	conn_close(h);
	h->fd = fd;
	h->connect_failed = 0;
	if (h->connected_once)
		h->st.reconnects++;
	h->connected_once = 1;
	conn_nonce(h);
	if (send_hello(h) == -1) {
		conn_close(h);
		return -1;
	}
	/*
	 * What we wrote while no agent answered can be uploaded: rolled at the
	 * next flush or close (this may be inside an emit: no fsync here).
	 */
	if (h->q != NULL && (queue_active_events(h->q) > 0 || h->ndeferred > 0))
		h->fb_roll_due = 1;
	return 0;
}

/* n bytes of unsent frames were written: those complete are now in flight. */
static void
advance(struct atc *h, size_t n, uint64_t now)
{
	struct atc_ev	*ev;
	size_t		 rem;

	while (n > 0 && h->ninflight < h->count) {
		ev = ring_at(h, h->ninflight);
		rem = ev->frame.len - h->woff;
		if (n < rem) {
			h->woff += n;
			return;
		}
		n -= rem;
		h->woff = 0;
		ev->seq = ++h->conn_seq;
		h->ninflight++;
		h->st.sent++;
	}
}

/* Write control frames and unsent events. 0 (done or would block), -1 lost. */
static int
pump_out(struct atc *h, uint64_t now)
{
	struct iovec	 iov[ATC_IOV_MAX];
	struct msghdr	 msg;
	struct atc_ev	*ev;
	ssize_t		 n;
	size_t		 rem;
	unsigned	 i, k;

	while (h->fd != -1) {
		if (h->ctl.len > 0 && h->woff == 0) {
			n = send(h->fd, h->ctl.data, h->ctl.len,
			    ATC_SEND_FLAGS);
			if (n >= 0) {
				buf_consume(&h->ctl, (size_t)n);
				continue;
			}
		} else if (h->ninflight < h->count) {
			for (i = h->ninflight, k = 0; i < h->count &&
			    k < ATC_IOV_MAX; i++, k++) {
				ev = ring_at(h, i);
				rem = k == 0 ? h->woff : 0;
				iov[k].iov_base = ev->frame.data + rem;
				iov[k].iov_len = ev->frame.len - rem;
			}
			memset(&msg, 0, sizeof(msg));
			msg.msg_iov = iov;
			msg.msg_iovlen = k;
			n = sendmsg(h->fd, &msg, ATC_SEND_FLAGS);
			if (n >= 0) {
				advance(h, (size_t)n, now);
				continue;
			}
		} else
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
			return 0;
		/* EPIPE, ECONNRESET, …: first take the acks already received. */
		(void)pump_in(h);
		conn_close(h);
		return -1;
	}
	return -1;
}

/* Compare dotted numeric versions: <0, 0, >0 (missing parts count as 0). */
static int
version_cmp(const char *a, const char *b)
{
	unsigned long	x, y;
	char		*ea, *eb;

	while (*a != '\0' || *b != '\0') {
		x = strtoul(a, &ea, 10);
		y = strtoul(b, &eb, 10);
		if (x != y)
			return x < y ? -1 : 1;
		a = *ea == '.' ? ea + 1 : ea + strlen(ea);
		b = *eb == '.' ? eb + 1 : eb + strlen(eb);
		if (ea == a && eb == b)
			break;
	}
	return 0;
}

/*
 * An agent older than this library is asked to step down (PROTOCOL.md §9):
 * it persists everything and exits; the next connect starts ours. Only a
 * handle that may spawn does this, once.
 */
static void
maybe_replace_agent(struct atc *h, json_t *hello)
{
	static const char	 bye[] = "{\"op\":\"shutdown\"}";
	const char		*v;

	v = json_string_value(json_object_get(hello, "agent"));
	if (v == NULL || h->asked_replace || (h->flags & ATC_F_NO_SPAWN) ||
	    h->sudo || getenv("ATOMCODE_TELEMETRY_NO_REPLACE") != NULL)
		return;
	if (version_cmp(v, ATC_VERSION) >= 0)
		return;
	h->asked_replace = 1;
	(void)frame_encode(&h->ctl, bye, sizeof(bye) - 1);
}

/* Release every in-flight event up to the cumulative ack seq. */
static void
handle_ack(struct atc *h, uint64_t seq)
{
	h->stuck_spilled = 0;	/* the agent answers again */
	if (seq > h->ack_seq)
		h->ack_seq = seq;
	while (h->ninflight > 0 && ring_at(h, 0)->seq <= h->ack_seq) {
		ring_pop(h);
		h->st.acked++;
	}
}

/*
 * The agent acks after every write, so acks are most replies: read the
 * exact form {"op":"ack","seq":N} without building a tree. 1 if it was.
 */
static int
fast_ack(struct atc *h, const unsigned char *p, size_t n)
{
	static const char	pre[] = "{\"op\":\"ack\",\"seq\":";
	uint64_t		seq = 0;
	size_t			i = sizeof(pre) - 1;

	if (n <= i + 1 || memcmp(p, pre, i) != 0 || p[n - 1] != '}')
		return 0;
	for (; i < n - 1; i++) {
		if (p[i] < '0' || p[i] > '9' || seq > UINT64_MAX / 10 - 9)
			return 0;
		seq = seq * 10 + (uint64_t)(p[i] - '0');
	}
	if (seq > 0)
		handle_ack(h, seq);
	return 1;
}

/* React to one reply frame from the agent. */
static void
handle_reply(struct atc *h, const unsigned char *p, size_t n)
{
	json_t		*o;
	const char	*op, *code, *field, *msg;
	json_int_t	 seq, first;
	struct atc_ev	*ev;
	unsigned	 i;
	char		 id[48];

	if (fast_ack(h, p, n))
		return;
	if ((o = json_loadb((const char *)p, n, 0, NULL)) == NULL)
		return;
	op = json_string_value(json_object_get(o, "op"));
	seq = json_integer_value(json_object_get(o, "seq"));
	if (op != NULL && strcmp(op, "hello") == 0) {
		maybe_replace_agent(h, o);
	} else if (op != NULL && strcmp(op, "ack") == 0 && seq > 0) {
		handle_ack(h, (uint64_t)seq);
	} else if (op != NULL && strcmp(op, "error") == 0 && seq > 0) {
		/* One event (seq) or a range (seq_first..seq). */
		first = json_integer_value(json_object_get(o, "seq_first"));
		if (first <= 0 || first > seq)
			first = seq;
		code = json_string_value(json_object_get(o, "code"));
		field = json_string_value(json_object_get(o, "field"));
		msg = json_string_value(json_object_get(o, "message"));
		for (i = 0; i < h->ninflight; ) {
			ev = ring_at(h, i);
			if (ev->seq < (uint64_t)first || ev->seq > (uint64_t)seq) {
				i++;
				continue;
			}
			if (code != NULL && (strcmp(code, "busy") == 0 ||
			    strcmp(code, "storage") == 0)) {
				/* Not stored by the agent: keep it. */
				if (strcmp(code, "storage") == 0 && msg != NULL)
					snprintf(h->agent_storage,
					    sizeof(h->agent_storage), "%s",
					    msg);
				fb_add(h, ev->frame.data + FRAME_HDR,
				    ev->frame.len - FRAME_HDR);
			} else {
				record_event_id(ev->frame.data + FRAME_HDR,
				    ev->frame.len - FRAME_HDR, id, sizeof(id));
				refused(h, ATC_E_SCHEMA, code != NULL ? code :
				    "internal", id, field, NULL);
				if (h->lasterr.rule[0] == '\0' && msg != NULL)
					snprintf(h->lasterr.rule,
					    sizeof(h->lasterr.rule), "%s", msg);
			}
			ring_remove(h, i);
		}
		fb_commit(h);
	}
	json_decref(o);
}

/* Read and handle replies. 0 (would block), -1 connection lost. */
static int
pump_in(struct atc *h)
{
	const unsigned char	*payload;
	size_t			 plen, used, off;
	ssize_t			 n;

	while (h->fd != -1) {
		if (buf_reserve(&h->in, ATC_RECV_CHUNK) == -1)
			return 0;
		n = recv(h->fd, h->in.data + h->in.len, ATC_RECV_CHUNK,
		    MSG_DONTWAIT);
		if (n == 0) {
			conn_close(h);
			return -1;
		}
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			conn_close(h);
			return -1;
		}
		h->in.len += (size_t)n;
		off = 0;
		for (;;) {
			switch (frame_decode((unsigned char *)h->in.data + off,
			    h->in.len - off, &payload, &plen, &used)) {
			case FRAME_OK:
				handle_reply(h, payload, plen);
				off += used;
				continue;
			case FRAME_NEED_MORE:
				break;
			default:
				conn_close(h);
				return -1;
			}
			break;
		}
		if (h->fd == -1)
			return -1;
		buf_consume(&h->in, off);
		if (h->in.len > ATC_IN_MAX) {
			conn_close(h);
			return -1;
		}
	}
	return -1;
}

/*
 * Ask for an ack when none is outstanding and the ring is half full or its
 * oldest sent event waited ATC_ACK_MS (the agent's own acks were lost or
 * held back because we did not read).
 */
static void
maybe_request_ack(struct atc *h, uint64_t now)
{
	if (h->conn_seq <= h->flush_seq || h->flush_seq > h->ack_seq)
		return;
	if (h->count >= ATC_RING_EVENTS / 2 ||
	    h->ring_bytes >= ATC_RING_BYTES / 2 ||
	    (h->ninflight > 0 && now >= ring_at(h, 0)->t_ms + ATC_ACK_MS))
		request_ack(h);
}

/* The process forked: the connection and the segment are the parent's. */
static void
fork_check(struct atc *h)
{
	pid_t	pid;

	/* getpid() is a system call: only ask after a fork happened. */
	if (h->fork_gen == atomic_load(&atc_fork_gen))
		return;
	h->fork_gen = atomic_load(&atc_fork_gen);
	pid = getpid();
	if (pid == h->pid)
		return;
	h->pid = pid;
	conn_close(h);
	/* Closing or rolling it would rename the parent's live segment. */
	h->q = NULL;
	while (h->ndeferred > 0)	/* our copies; the parent finishes them */
		close(h->deferred[--h->ndeferred].fd);
	while (h->count > 0)
		ring_pop(h);
	h->tried = h->connected_once = 0;
}

/* Store one rendered record: agent, ring, or fallback. */
static enum atc_err
submit(struct atc *h, const char *rec, size_t len)
{
	uint64_t	now = timing_mono_ms();
	uint64_t	lost = h->st.lost, rejected = h->st.rejected;

	fork_check(h);
	h->st.emitted++;
	if (h->fd == -1 && conn_open(h, now) == -1 && (h->connect_failed ||
	    (h->flags & ATC_F_NO_AGENT))) {
		/* No agent: everything goes to the fallback segment now. */
		if (h->count > 0)
			spill_all(h);
		goto fallback;
	}
	if (ring_full(h, len + FRAME_HDR)) {
		/*
		 * Push what is pending first (a flush request or a half-sent
		 * frame): without it no ack can come back and the ring stays
		 * full.
		 */
		if (h->fd != -1) {
			maybe_request_ack(h, now);
			pump_out(h, now);
		}
		if (h->fd != -1)
			pump_in(h);
		if (ring_full(h, len + FRAME_HDR) && h->count > 0 &&
		    now >= ring_at(h, 0)->t_ms + ATC_STALL_MS)
			spill_stuck(h);	/* stuck agent: give up on it */
		if (ring_full(h, len + FRAME_HDR))
			goto fallback;
	}
	if (ring_push(h, rec, len, now) == -1)
		goto fallback;
	if (h->fd != -1) {
		pump_out(h, now);
		/* Replies matter only once enough events wait for them. */
		if (h->ninflight >= ATC_READ_AFTER &&
		    (now >= h->read_ms + ATC_READ_MS ||
		    h->count >= ATC_RING_EVENTS / 2)) {
			h->read_ms = now;
			pump_in(h);
		}
		if (h->fd != -1) {
			maybe_request_ack(h, now);
			if (h->ctl.len > 0)
				pump_out(h, now);
		}
	}
	return ATC_OK;
fallback:
	fb_add(h, rec, len);
	fb_commit(h);
	if (h->st.lost > lost)
		return ATC_E_IO;
	if (h->st.rejected > rejected)
		return ATC_E_SCHEMA;
	return ATC_OK;
}

/* Flush under the lock: wait for acks up to timeout_ms, then fallback. */
static enum atc_err
do_flush(struct atc *h, unsigned timeout_ms, int final)
{
	struct pollfd	pfd;
	uint64_t	now, deadline, reserve, lost = h->st.lost;
	int		r, stuck, sync_err = 0;

	fork_check(h);
	now = timing_mono_ms();
	/*
	 * Keep part of the bound for what follows a timeout: validating,
	 * writing and syncing the unconfirmed events to the fallback.
	 */
	reserve = timeout_ms / 5 < ATC_SPILL_RESERVE_MS ? timeout_ms / 5 :
	    ATC_SPILL_RESERVE_MS;
	deadline = now + timeout_ms - reserve;
	/*
	 * Events wait in the ring, or in a fallback segment an agent cannot
	 * see while we hold it (one we auto-spawned, say): look for one.
	 */
	if (h->fd == -1 && (h->count > 0 || (h->q != NULL &&
	    (queue_active_events(h->q) > 0 || h->ndeferred > 0))))
		conn_open(h, now);
	while (h->fd != -1 && h->count > 0) {
		if (pump_out(h, now) == -1)
			break;
		if (h->ninflight == h->count && h->woff == 0 &&
		    h->flush_seq < h->conn_seq) {
			request_ack(h);
			if (pump_out(h, now) == -1)
				break;
		}
		now = timing_mono_ms();
		if (now >= deadline)
			break;
		pfd.fd = h->fd;
		pfd.events = POLLIN;
		if (h->ctl.len > 0 || h->ninflight < h->count)
			pfd.events |= POLLOUT;
		pfd.revents = 0;
		r = poll(&pfd, 1, (int)(deadline - now));
		if (r == -1 && errno != EINTR)
			break;
		if (pump_in(h) == -1)
			break;
		now = timing_mono_ms();
	}
	/* Connected, yet not confirmed in time: the agent is stuck. */
	stuck = h->fd != -1 && h->count > 0;
	if (stuck) {
		h->stuck_spilled = 1;	/* until the agent confirms again */
		spill_stuck(h);	/* race it for what it may still store */
	} else if (h->count > 0)
		spill_all(h);	/* store what was not confirmed */
	/* Control frames queued by replies (a step-down request): best effort. */
	if (h->fd != -1 && h->ctl.len > 0)
		(void)pump_out(h, timing_mono_ms());
	/*
	 * The fallback segment is durable once written; roll it (make it
	 * uploadable) at close, or when it is old. Rolling at every flush
	 * would make a file per flush and run into the 50-file cap.
	 */
	if (final && h->stuck_spilled)
		fb_release(h);	/* a stuck agent spent a bound: no fsync now */
	else if (final || h->fb_roll_due ||
	    timing_mono_ms() >= h->fb_since_ms + ATC_FB_ROLL_MS)
		sync_err = fb_roll(h) == -1;
	else if (h->q != NULL)	/* full ones: no reason to wait */
		sync_err = fb_finish_deferred(h) == -1;
	/* Lost, or written but not synced (EIO from fsync): not ATC_OK. */
	return h->st.lost > lost || sync_err ? ATC_E_IO : ATC_OK;
}

/* The envelope changed: render it again (or at the next emit). */
static enum atc_err
rerender(struct atc *h)
{
	h->need_render = 1;
	if (env_render(&h->env) == -1)
		return ATC_E_NOMEM;
	h->need_render = 0;
	return ATC_OK;
}

/* Apply an envelope string setter and re-render. */
static enum atc_err
set_field(struct atc *h, char **field, const char *value)
{
	if (env_set(field, value) == -1)
		return errno == ENOMEM ? ATC_E_NOMEM : ATC_E_INVAL;
	return rerender(h);
}

static enum atc_err
set_mode(struct atc *h, const char *mode)
{
	if (mode != NULL && *mode != '\0' && !env_mode_valid(mode))
		return ATC_E_INVAL;
	return set_field(h, &h->env.mode, mode);
}

static enum atc_err
set_provider(struct atc *h, const char *provider, const char *base_url,
    const char *model)
{
	char		host[ENV_STR_MAX + 1];
	enum atc_err	e;

	if (!env_provider_host(provider, base_url, host, sizeof(host)))
		host[0] = '\0';
	if ((e = set_field(h, &h->env.provider, provider)) != ATC_OK ||
	    (e = set_field(h, &h->env.provider_host, host)) != ATC_OK)
		return e;
	return set_field(h, &h->env.model, model);
}

static enum atc_err
set_session(struct atc *h, const char *sid)
{
	size_t	i;

	if (sid == NULL || *sid == '\0')
		sid = h->env.launch_id;
	else if (!identity_uuid_valid(sid, strlen(sid)))
		return ATC_E_INVAL;
	for (i = 0; i < UUID_STR_LEN - 1; i++)
		h->env.session_id[i] = (char)(sid[i] >= 'A' && sid[i] <= 'F' ?
		    sid[i] - 'A' + 'a' : sid[i]);
	h->env.session_id[UUID_STR_LEN - 1] = '\0';
	return rerender(h);
}

/* Fill the enabled handle from the options; ATC_OK or an error. */
static enum atc_err
open_enabled(struct atc *h, const struct atc_options *opt)
{
	const char	*lc;
	enum atc_err	 e;

	h->fd = -1;
	h->sc.home = h->paths.home[0] != '\0' ? h->paths.home : NULL;
	h->sc.cwd = h->cwd[0] != '\0' ? h->cwd : NULL;
	if ((h->ring = calloc(ATC_RING_EVENTS, sizeof(*h->ring))) == NULL)
		return ATC_E_NOMEM;

	/* Under sudo only read an existing device_id; never create one. */
	identity_device_id(h->paths.device_id, !h->sudo, h->env.device_id);
	identity_uuid(h->env.launch_id);
	lc = getenv("LANG");
	env_locale(lc, getenv("LC_ALL"), h->env.locale, sizeof(h->env.locale));
	if (!(opt->flags & ATC_F_NO_REPO_ORIGIN) && h->cwd[0] != '\0') {
		repo_detect(h->cwd, &h->env.repo);
		h->env.repo_set = 1;
	}
	if ((e = set_field(h, &h->env.app_version, opt->app_version)) !=
	    ATC_OK || (e = set_mode(h, opt->mode)) != ATC_OK ||
	    (e = set_provider(h, opt->provider, opt->provider_base_url,
	    opt->model)) != ATC_OK ||
	    (e = set_field(h, &h->env.account_id, opt->account_id)) != ATC_OK ||
	    (e = set_field(h, &h->env.surface, opt->surface)) != ATC_OK ||
	    (e = set_session(h, opt->session_id)) != ATC_OK)
		return e;
	if (env_test_hooks.fixed)
		env_test_fixed(&h->env);
	if (env_render(&h->env) == -1)
		return ATC_E_NOMEM;
	return ATC_OK;
}

/* Free everything the handle owns (the handle itself too). */
static void
handle_free(struct atc *h)
{
	unsigned	i;

	conn_close(h);
	if (h->q != NULL) {
		fb_finish_deferred(h);
		queue_set_roller(h->q, NULL, NULL);
		queue_close(h->q);
	}
	if (h->ring != NULL) {
		for (i = 0; i < ATC_RING_EVENTS; i++)
			buf_free(&h->ring[i].frame);
		free(h->ring);
	}
	buf_free(&h->ctl);
	buf_free(&h->in);
	buf_free(&h->members);
	buf_free(&h->rec);
	buf_free(&h->fb);
	env_free(&h->env);
	pthread_mutex_destroy(&h->mtx);
	free(h);
}

/*
 * The caller's options as this library knows them: the first opt->size
 * bytes (0: the API 2 layout), the rest zero. ATC_E_INVAL for a size
 * smaller than the API 2 layout.
 */
static enum atc_err
options_copy(const struct atc_options *opt, struct atc_options *o)
{
	size_t	n;

	memset(o, 0, sizeof(*o));
	o->size = sizeof(*o);
	if (opt == NULL)
		return ATC_OK;
	n = opt->size == 0 ? ATC_OPTIONS_SIZE_2 : opt->size;
	if (n < ATC_OPTIONS_SIZE_2)
		return ATC_E_INVAL;
	if (n > sizeof(*o))
		n = sizeof(*o);	/* a newer caller: fields we do not know */
	memcpy((char *)o + sizeof(o->size), (const char *)opt +
	    sizeof(opt->size), n - sizeof(o->size));
	o->size = sizeof(*o);
	return ATC_OK;
}

/* Open a handle: opt-out, identity, envelope. */
enum atc_err
atc_open(const struct atc_options *optp, struct atc **out)
{
	struct atc_options		 optv, *opt = &optv;
	struct atc			*h;
	struct tconfig			 c;
	struct optout			 o;
	enum atc_err			 e;

	if (out == NULL)
		return ATC_E_INVAL;
	*out = NULL;
	if ((e = options_copy(optp, &optv)) != ATC_OK)
		return e;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return ATC_E_NOMEM;
	if (pthread_mutex_init(&h->mtx, NULL) != 0) {
		free(h);
		return ATC_E_NOMEM;
	}
	h->fd = -1;
	(void)pthread_once(&atc_once, atc_init_once);
	h->pid = getpid();
	h->fork_gen = atomic_load(&atc_fork_gen);
	h->flags = opt->flags;
	h->close_ms = opt->close_timeout_ms ? opt->close_timeout_ms :
	    ATC_CLOSE_MS;
	h->durable_ms = opt->durable_timeout_ms ? opt->durable_timeout_ms :
	    ATC_DURABLE_MS;
	h->lasterr.size = sizeof(h->lasterr);
	env_init(&h->env);

	if (paths_init(&h->paths) == -1) {
		/* Nowhere to keep state: an inert handle, as upstream does. */
		h->reason = "error";
		*out = h;
		return ATC_OK;
	}
	/* The resolution the CLI and the agent share (config.h). */
	(void)config_resolve(h->paths.config, opt->no_telemetry, &c, &o);
	h->reason = o.reason;
	if (!o.enabled) {
		*out = h;
		return ATC_OK;
	}
	h->enabled = 1;
	h->sudo = h->paths.sudo || env_test_hooks.sudo;
	if (opt->cwd != NULL && *opt->cwd != '\0') {
		/* Absolute, so that <CWD> scrubbing matches real paths. */
		if (realpath(opt->cwd, h->cwd) == NULL) {
			if (strlen(opt->cwd) >= sizeof(h->cwd)) {
				handle_free(h);
				return ATC_E_INVAL;
			}
			memcpy(h->cwd, opt->cwd, strlen(opt->cwd) + 1);
		}
	} else if (getcwd(h->cwd, sizeof(h->cwd)) == NULL)
		h->cwd[0] = '\0';
	if ((e = open_enabled(h, opt)) != ATC_OK) {
		handle_free(h);
		return e;
	}
	*out = h;
	return ATC_OK;
}

/* Whether the handle sends anything, and why not. */
int
atc_enabled(struct atc *h, const char **reason)
{
	if (reason != NULL)
		*reason = h != NULL && h->reason != NULL ? h->reason : "";
	return h != NULL && h->enabled;
}

_Static_assert(sizeof(NOTICE_TEXT) <= ATC_NOTICE_MAX, "notice too long");

/* The first-run notice: hand the text over once per user (never print). */
enum atc_err
atc_first_run_notice(struct atc *h, char *buf, size_t len)
{
	enum notice_take	t;

	if (h == NULL || buf == NULL || len < ATC_NOTICE_MAX)
		return ATC_E_INVAL;
	buf[0] = '\0';
	pthread_mutex_lock(&h->mtx);
	if (!h->enabled) {
		pthread_mutex_unlock(&h->mtx);
		return ATC_E_DISABLED;
	}
	t = notice_take(&h->paths, h->sudo);
	pthread_mutex_unlock(&h->mtx);
	if (t != NOTICE_NONE)
		memcpy(buf, NOTICE_TEXT, sizeof(NOTICE_TEXT));
	return t == NOTICE_SHOW_UNMARKED && !h->sudo ? ATC_E_IO : ATC_OK;
}

/* Common wrapper of the setters: lock, skip inert handles. */
#define ATC_SETTER(h, call) do {					\
	enum atc_err	e_;						\
	if ((h) == NULL)						\
		return ATC_E_INVAL;					\
	pthread_mutex_lock(&(h)->mtx);					\
	e_ = (h)->enabled ? (call) : ATC_OK;				\
	pthread_mutex_unlock(&(h)->mtx);				\
	return e_;							\
} while (0)

/* Set the session mode. */
enum atc_err
atc_set_mode(struct atc *h, const char *mode)
{
	ATC_SETTER(h, set_mode(h, mode));
}

/* Set provider vendor, base URL (→ provider_host) and model. */
enum atc_err
atc_set_provider(struct atc *h, const char *provider, const char *base_url,
    const char *model)
{
	ATC_SETTER(h, set_provider(h, provider, base_url, model));
}

/* Set the logged-in account id. */
enum atc_err
atc_set_account(struct atc *h, const char *account_id)
{
	ATC_SETTER(h, set_field(h, &h->env.account_id, account_id));
}

/* Set the session id (NULL: the launch id). */
enum atc_err
atc_set_session(struct atc *h, const char *session_id)
{
	ATC_SETTER(h, set_session(h, session_id));
}

/* Set the surface. */
enum atc_err
atc_set_surface(struct atc *h, const char *surface)
{
	ATC_SETTER(h, set_field(h, &h->env.surface, surface));
}

static enum atc_err
set_counters(struct atc *h, int64_t turn, int64_t round, int64_t request)
{
	if (round > (int64_t)UINT32_MAX)
		return ATC_E_INVAL;
	h->env.turn = turn < 0 ? -1 : turn;
	h->env.round = round < 0 ? -1 : round;
	h->env.request = request < 0 ? -1 : request;
	return rerender(h);
}

/* Set the turn counters (negative: absent). */
enum atc_err
atc_set_counters(struct atc *h, int64_t turn, int64_t round, int64_t request)
{
	ATC_SETTER(h, set_counters(h, turn, round, request));
}

/* The first payload key that names an envelope field (rare path). */
static void
reserved_key(const char *payload, char *out, size_t outlen)
{
	struct rec_field	 f;
	json_t			*o;
	const char		*k;
	json_t			*v;
	unsigned		 i;

	out[0] = '\0';
	if ((o = json_loads(payload, 0, NULL)) == NULL)
		return;
	json_object_foreach(o, k, v) {
		(void)v;
		for (i = 0; rec_envelope_field(i, &f); i++)
			if (strcmp(f.name, k) == 0)
				break;
		if (rec_envelope_field(i, &f) || strcmp(k, "op") == 0) {
			snprintf(out, outlen, "%s", k);
			break;
		}
	}
	json_decref(o);
}

/* Is s a string the envelope may carry (bounded UTF-8)? */
static int
scope_str_ok(const char *s)
{
	size_t	n = strlen(s);

	return n <= ENV_STR_MAX && utf8_valid((const unsigned char *)s, n);
}

/*
 * Render the envelope under a scope into e (a shallow copy of the handle's:
 * strings borrowed from the scope, only head and tail are e's own).
 */
static enum atc_err
scope_render(struct atc *h, const struct atc_scope *sp, struct envelope *e)
{
	struct atc_scope	 sv = ATC_SCOPE_INIT;
	const char		*strs[4];
	char			**dst[4];
	size_t			 n, i;
	enum repo_host		 rh;

	/* The caller's scope as we know it (its first size bytes). */
	n = sp->size < sizeof(sv) ? sp->size : sizeof(sv);
	if (n < sizeof(sv.size))
		return ATC_E_INVAL;
	memcpy((char *)&sv + sizeof(sv.size), (const char *)sp +
	    sizeof(sp->size), n - sizeof(sv.size));
	*e = h->env;
	memset(&e->head, 0, sizeof(e->head));
	memset(&e->tail, 0, sizeof(e->tail));
	if (sv.mode != NULL && *sv.mode != '\0') {
		if (!env_mode_valid(sv.mode))
			return ATC_E_INVAL;
		e->mode = (char *)(uintptr_t)sv.mode;
	}
	if (sv.session_id != NULL && *sv.session_id != '\0') {
		if (!identity_uuid_valid(sv.session_id,
		    strlen(sv.session_id)))
			return ATC_E_INVAL;
		for (i = 0; i < UUID_STR_LEN - 1; i++)
			e->session_id[i] = (char)(sv.session_id[i] >= 'A' &&
			    sv.session_id[i] <= 'F' ? sv.session_id[i] - 'A' +
			    'a' : sv.session_id[i]);
	}
	strs[0] = sv.provider;
	dst[0] = &e->provider;
	strs[1] = sv.provider_host;
	dst[1] = &e->provider_host;
	strs[2] = sv.model;
	dst[2] = &e->model;
	strs[3] = sv.surface;
	dst[3] = &e->surface;
	for (i = 0; i < 4; i++) {
		if (strs[i] == NULL || *strs[i] == '\0')
			continue;
		if (!scope_str_ok(strs[i]))
			return ATC_E_INVAL;
		*dst[i] = (char *)(uintptr_t)strs[i];
	}
	if (sv.repo_host != NULL && *sv.repo_host != '\0') {
		for (rh = REPO_NONE; rh <= REPO_OTHER; rh++)
			if (strcmp(repo_host_name(rh), sv.repo_host) == 0)
				break;
		if (rh > REPO_OTHER)
			return ATC_E_INVAL;
		e->repo.host = rh;
		e->repo.has_git = sv.repo_has_git != 0;
		e->repo_set = 1;
	}
	if (sv.round > (int64_t)UINT32_MAX)
		return ATC_E_INVAL;
	if (sv.turn >= 0)
		e->turn = sv.turn;
	if (sv.round >= 0)
		e->round = sv.round;
	if (sv.request >= 0)
		e->request = sv.request;
	if (env_render(e) == -1) {
		buf_free(&e->head);
		buf_free(&e->tail);
		return ATC_E_NOMEM;
	}
	return ATC_OK;
}

/* Build the record of h->members under scope (NULL: none) and submit it. */
static enum atc_err
emit_members(struct atc *h, const char *event_id,
    const struct atc_scope *scope)
{
	struct envelope	 scoped, *env = &h->env;
	enum atc_err	 e;
	int		 r;

	if (h->need_render && env_render(&h->env) == -1)
		return ATC_E_NOMEM;
	h->need_render = 0;
	if (scope != NULL) {
		if ((e = scope_render(h, scope, &scoped)) != ATC_OK)
			return e;
		env = &scoped;
	}
	h->rec.len = 0;
	r = env_record(env, &h->rec, env_test_hooks.fixed ? 0 : timing_wall_ms(),
	    event_id, h->members.data, h->members.len);
	if (env == &scoped) {
		buf_free(&scoped.head);
		buf_free(&scoped.tail);
	}
	if (r == -1)
		return ATC_E_NOMEM;
	if (h->rec.len > FRAME_MAX) {
		refused(h, ATC_E_INVAL, "too_long", event_id, NULL,
		    "a record is at most 65536 bytes");
		return ATC_E_INVAL;
	}
	return submit(h, h->rec.data, h->rec.len);
}

/* Lock, check and build the members of a typed event. */
static enum atc_err
track_begin(struct atc *h, const struct atc_event *ev)
{
	enum atc_err	e;

	if (!h->enabled)
		return ATC_E_DISABLED;
	h->members.len = 0;
	if ((e = event_members(ev, &h->members, &h->lasterr)) != ATC_OK) {
		if (e == ATC_E_SCHEMA)
			h->st.rejected++;
		return e;
	}
	return ATC_OK;
}

/* Emit a typed event. */
enum atc_err
atc_track(struct atc *h, const struct atc_event *ev,
    const struct atc_scope *scope)
{
	enum atc_err	e;

	if (h == NULL || ev == NULL)
		return ATC_E_INVAL;
	pthread_mutex_lock(&h->mtx);
	if ((e = track_begin(h, ev)) == ATC_OK)
		e = emit_members(h, event_id(ev), scope);
	pthread_mutex_unlock(&h->mtx);
	return e;
}

/*
 * Emit a typed event and wait until it is on disk: confirmed by the agent,
 * else written to a fallback segment that is synced and made ready.
 */
enum atc_err
atc_track_durable(struct atc *h, const struct atc_event *ev,
    const struct atc_scope *scope)
{
	uint64_t	lost, rejected;
	enum atc_err	e;

	if (h == NULL || ev == NULL)
		return ATC_E_INVAL;
	pthread_mutex_lock(&h->mtx);
	lost = h->st.lost;
	rejected = h->st.rejected;
	if ((e = track_begin(h, ev)) == ATC_OK)
		e = emit_members(h, event_id(ev), scope);
	if (e == ATC_OK) {
		(void)do_flush(h, h->durable_ms, 0);
		/* What went to the fallback: synced, ready. */
		if (fb_roll(h) == -1 || h->st.lost > lost)
			e = ATC_E_IO;
		else if (h->st.rejected > rejected)
			e = ATC_E_SCHEMA;	/* the agent refused it */
	}
	pthread_mutex_unlock(&h->mtx);
	return e;
}

/* The last refusal. */
int
atc_last_error(struct atc *h, struct atc_error_info *out)
{
	int	r = 0;

	if (out == NULL || out->size < sizeof(out->size) + sizeof(out->err))
		return 0;
	out->err = ATC_OK;
	if (h == NULL)
		return 0;
	pthread_mutex_lock(&h->mtx);
	if (h->lasterr.err != ATC_OK) {
		event_copy_error(out, &h->lasterr);
		r = 1;
	}
	pthread_mutex_unlock(&h->mtx);
	return r;
}

/* Emit one event with the envelope added. */
enum atc_err
atc_emit(struct atc *h, const char *event_id, const char *payload)
{
	enum env_payload	p;
	enum atc_err		e;
	char			key[64];

	if (h == NULL || event_id == NULL || *event_id == '\0')
		return ATC_E_INVAL;
	pthread_mutex_lock(&h->mtx);
	if (!h->enabled) {
		e = ATC_E_DISABLED;
		goto out;
	}
	if (!rec_known_event(event_id, strlen(event_id))) {
		refused(h, ATC_E_SCHEMA, "unknown_event", event_id,
		    "event_id", NULL);
		e = ATC_E_SCHEMA;
		goto out;
	}
	h->members.len = 0;
	if (payload != NULL &&
	    (p = env_payload(payload, strlen(payload), &h->members)) !=
	    ENV_P_OK) {
		if (p == ENV_P_RESERVED) {
			reserved_key(payload, key, sizeof(key));
			refused(h, ATC_E_SCHEMA, "duplicate_field", event_id,
			    key, "an envelope field: set by the library "
			    "(atc_set_*), not in the payload");
		} else
			refused(h, ATC_E_JSON, "bad_json", event_id, NULL,
			    "the payload must be one JSON object in UTF-8");
		e = p == ENV_P_RESERVED ? ATC_E_SCHEMA : ATC_E_JSON;
		goto out;
	}
	e = emit_members(h, event_id, NULL);
out:
	pthread_mutex_unlock(&h->mtx);
	return e;
}

/* Emit a complete record unchanged. */
enum atc_err
atc_emit_raw(struct atc *h, const char *record, size_t len)
{
	enum atc_err	e;

	if (h == NULL || record == NULL || len == 0 || len > FRAME_MAX)
		return ATC_E_INVAL;
	pthread_mutex_lock(&h->mtx);
	if (!h->enabled)
		e = ATC_E_DISABLED;
	else if (!env_json_object(record, len)) {
		refused(h, ATC_E_JSON, "bad_json", NULL, NULL,
		    "a record is one JSON object in UTF-8");
		e = ATC_E_JSON;
	} else if (frame_is_control((const unsigned char *)record, len)) {
		/* a record never has "op" */
		refused(h, ATC_E_SCHEMA, "control_frame", NULL, "op",
		    "a record must not begin with {\"op\": (a control frame)");
		e = ATC_E_SCHEMA;
	} else
		e = submit(h, record, len);
	pthread_mutex_unlock(&h->mtx);
	return e;
}

/* Wait for the agent to confirm everything; fallback for the rest. */
enum atc_err
atc_flush(struct atc *h, unsigned timeout_ms)
{
	enum atc_err	e = ATC_OK;

	if (h == NULL)
		return ATC_E_INVAL;
	pthread_mutex_lock(&h->mtx);
	if (h->enabled)
		e = do_flush(h, timeout_ms, 0);
	pthread_mutex_unlock(&h->mtx);
	return e;
}

/* Flush with the close bound and free the handle. */
enum atc_err
atc_close(struct atc *h)
{
	enum atc_err	e = ATC_OK;

	if (h == NULL)
		return ATC_OK;
	pthread_mutex_lock(&h->mtx);
	if (h->enabled)
		e = do_flush(h, h->close_ms, 1);
	pthread_mutex_unlock(&h->mtx);
	handle_free(h);
	return e;
}

/* Copy the counters into the caller's first size bytes. */
void
atc_get_stats_size(struct atc *h, struct atc_stats *st, size_t size)
{
	struct atc_stats	c;

	if (st == NULL)
		return;
	memset(&c, 0, sizeof(c));
	if (h != NULL) {
		pthread_mutex_lock(&h->mtx);
		c = h->st;
		c.buffered = h->count;
		/* Deleted unsent by the budget to make room for our writes. */
		if (h->q != NULL)
			c.lost += queue_dropped_here(h->q);
		pthread_mutex_unlock(&h->mtx);
	}
	memcpy(st, &c, size < sizeof(c) ? size : sizeof(c));
}

/* Copy the counters (the API 2.0 layout, for programs built before). */
void
(atc_get_stats)(struct atc *h, struct atc_stats *st)
{
	atc_get_stats_size(h, st, sizeof(*st));
}

/* A static sentence for each error code. */
const char *
atc_strerror(enum atc_err e)
{
	switch (e) {
	case ATC_OK:
		return "success";
	case ATC_E_INVAL:
		return "invalid argument";
	case ATC_E_NOMEM:
		return "out of memory";
	case ATC_E_DISABLED:
		return "telemetry is disabled";
	case ATC_E_JSON:
		return "payload or record is not one JSON object";
	case ATC_E_SCHEMA:
		return "record rejected by the telemetry schema";
	case ATC_E_IO:
		return "event could not be stored: neither the agent nor the "
		    "fallback segment could write it (atc_last_error says why)";
	}
	return "unknown error";
}
