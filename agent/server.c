/*
 * server.c — the listening socket and the read side of client connections:
 * accept with the peer-uid check and with backpressure (a bounded number
 * per loop pass, paused at the client limit so the kernel's backlog holds
 * newcomers, room made only by evicting a truly idle client after storing
 * what it sent), taking the descriptor reserve back, non-blocking reads
 * into a bounded buffer, read coalescing, frame splitting and dispatch to
 * control.c or ingest.c, the reap of dead connections (server_reap, run by
 * the after-pass step, never inside a connection's callback). Never
 * interprets records (ingest.c) or control frames (control.c); replies and
 * closing are conn.c's. Calls nothing of main.c.
 */
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "frame.h"
#include "log.h"
#include "port.h"
#include "sock.h"
#include "timing.h"

static void	conn_read_cb(evutil_socket_t, short, void *);
static void	conn_input(struct agent *, struct conn *, const unsigned char *,
		    size_t);

static unsigned char	read_buf[CONN_READ_CHUNK];	/* shared by every read */

/*
 * Truly idle: quiet for AGENT_EVICT_IDLE_MS, nothing unread in the socket,
 * no unfinished frame, no uncommitted event, no reply owed or unsent.
 * Only such a connection may be closed to make room.
 */
static int
conn_truly_idle(struct conn *c, uint64_t now)
{
	int	unread = 0;

	if (c->dead || c->in.len > 0 || c->out.len > 0 ||
	    c->batch_first != 0 || c->flush_wanted || c->ack_held ||
	    c->replies_owed > 0 || c->acked_seq != c->seq ||
	    now < c->last_active_ms + AGENT_EVICT_IDLE_MS)
		return 0;
	if (ioctl(c->fd, FIONREAD, &unread) == -1 || unread > 0)
		return 0;
	return 1;
}

/*
 * Close c to make room, losing nothing: shut its reading side first (the
 * peer's later writes fail with EPIPE, so it knows they were not taken),
 * read and store what it sent before that, acknowledge it, then close and
 * free it now (the point is its descriptor). Not called from c's own
 * callbacks.
 */
static void
server_evict(struct agent *a, struct conn *c)
{
	ssize_t	n;
	int	rounds;

	a->ctr.conns_evicted++;
	(void)shutdown(c->fd, SHUT_RD);
	for (rounds = 0; rounds < CONN_DRAIN_READS && !c->dead; rounds++) {
		n = read(c->fd, read_buf, sizeof read_buf);
		if (n <= 0)
			break;
		conn_input(a, c, read_buf, (size_t)n);
	}
	if (c->batch_first != 0) {
		c->flush_wanted = 1;
		ingest_commit(a);
	}
	conn_close(c);
	if (c->batch_first == 0)
		conn_free(c);
}

/* Evict the truly idle connection quiet the longest. 1 if one went. */
static int
server_evict_idlest(struct agent *a)
{
	struct conn	*c, *old = NULL;
	uint64_t	 now = timing_mono_ms();

	TAILQ_FOREACH(c, &a->conns, entry)
		if ((old == NULL || c->last_active_ms < old->last_active_ms) &&
		    conn_truly_idle(c, now))
			old = c;
	if (old == NULL)
		return 0;
	server_evict(a, old);
	return 1;
}

/* Paused at the limit for ACCEPT_RETRY_MS, or room was made: accept. */
void
server_accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent	*a = arg;

	a->accept_paused = 0;
	if (a->listen_fd != -1)
		event_add(a->accept_ev, NULL);
}

/*
 * Stop accepting: the kernel's listen backlog holds newcomers (their
 * connect() waits or their writes sit in their socket) until a client
 * leaves (server_accept_resume) or, every ACCEPT_RETRY_MS while paused, a
 * client has become truly idle. Never armed while accepting, so an idle
 * agent has no timer.
 */
static void
server_accept_pause(struct agent *a)
{
	struct timeval	tv = timing_tv(ACCEPT_RETRY_MS);

	if (a->listen_fd == -1)
		return;
	event_del(a->accept_ev);
	a->accept_paused = 1;
	evtimer_add(a->accept_pause_ev, &tv);
}

/* A client left: accept again if paused for lack of room. */
static void
server_accept_resume(struct agent *a)
{
	if (!a->accept_paused || a->phase != AGENT_RUNNING)
		return;
	evtimer_del(a->accept_pause_ev);
	server_accept_resume_cb(-1, 0, a);
}

/*
 * Take back the descriptors held in reserve for new segments (copies of
 * /dev/null, released by ingest_fd_release just before the queue opens
 * one, so storage never fails for lack of a descriptor that clients
 * took), evicting truly idle clients if the table is full.
 */
static void
server_fd_reserve(struct agent *a)
{
	unsigned	i;

	for (i = 0; i < AGENT_FD_RESERVE; i++) {
		if (a->reserve_fd[i] > 0)
			continue;
		while ((a->reserve_fd[i] = open("/dev/null",
		    O_RDONLY | O_CLOEXEC)) == -1 &&
		    (errno == EMFILE || errno == ENFILE) &&
		    server_evict_idlest(a))
			;
		if (a->reserve_fd[i] == -1)
			return;		/* tried again at the next pass */
	}
}

/*
 * Accept at most max connections (redis and nginx bound this too): a
 * storm of connects must not starve the reads of the clients already in.
 * At the client limit, a truly idle client makes room; when none is,
 * accepting pauses and the backlog waits. -1 on a hard accept error.
 */
static int
server_accept_some(struct agent *a, unsigned max, int at_exit)
{
	unsigned	limit, n;
	uid_t		uid;
	int		fd;

	limit = conn_limit();
	for (n = 0; n < max; n++) {
		/*
		 * At the limit: the listener was readable when this pass began,
		 * so someone waits: make room for one. Later ones are seen
		 * at the next pass (the listener is level-triggered).
		 */
		if (!at_exit && a->nclients - a->ndying >= limit) {
			if (n > 0)
				return 0;
			if (!server_evict_idlest(a)) {
				server_accept_pause(a);
				return 0;
			}
		}
		fd = port_accept(a->listen_fd, PORT_NONBLOCK);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE) {
				/* Out of descriptors all the same: make room. */
				ingest_fd_release(a);
				if (server_evict_idlest(a))
					continue;
				if (!at_exit)
					server_accept_pause(a);
				return -1;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("accept");
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		}
		uid = (uid_t)-1;
		if (sock_peer_uid(fd, &uid) == -1 ||
		    (uid != getuid() && uid != 0)) {
			a->ctr.peers_rejected++;
			log_warnx("rejected a connection from uid %ld",
			    (long)uid);
			close(fd);
			continue;
		}
		if (conn_new(a, fd, conn_read_cb) == NULL)
			close(fd);
	}
	return 0;
}

/* The listener is readable: accept a bounded number of connections. */
void
server_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct agent	*a = arg;

	(void)server_accept_some(a, AGENT_ACCEPT_PER_PASS, 0);
	a->pass |= PASS_REAP;	/* takes the fd reserve back */
}

/*
 * Bind (or adopt) the listening socket and take the descriptor reserve;
 * accepting starts with the loop (its event is agent_events_new's).
 */
int
server_listen(struct agent *a, char *cause, size_t causelen)
{
	struct stat	st;
	unsigned	i;

	TAILQ_INIT(&a->conns);
	TAILQ_INIT(&a->deferred);
	for (i = 0; i < AGENT_FD_RESERVE; i++)
		a->reserve_fd[i] = -1;
	server_fd_reserve(a);
	if (a->listen_fd == -1) {
		if ((a->listen_fd = sock_listen(a->paths.sock,
		    AGENT_LISTEN_BACKLOG)) == -1) {
			snprintf(cause, causelen, "cannot listen on %s: %s",
			    a->paths.sock, strerror(errno));
			return -1;
		}
		a->self_bound = 1;
		if (stat(a->paths.sock, &st) == 0)
			a->sock_ino = st.st_ino;
	} else if (sock_set_flags(a->listen_fd) == -1) {
		snprintf(cause, causelen, "inherited socket: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Stop accepting; unlink our socket node if it is still ours. */
void
server_stop_accepting(struct agent *a)
{
	struct stat	st;

	if (a->listen_fd == -1)
		return;
	/*
	 * Serve everything that waits in the backlog, past the client limit:
	 * those clients may have sent and closed already, and closing the
	 * listener would drop what they sent.
	 */
	evtimer_del(a->accept_pause_ev);
	ingest_fd_release(a);
	(void)server_accept_some(a, UINT_MAX, 1);
	event_del(a->accept_ev);
	if (a->self_bound && stat(a->paths.sock, &st) == 0 &&
	    st.st_ino == a->sock_ino)
		unlink(a->paths.sock);
	close(a->listen_fd);
	a->listen_fd = -1;
}

/*
 * After-pass step: free every dead connection (no callback of theirs is
 * running now), but keep one whose events are in an uncommitted batch;
 * take the descriptor reserve back; accept again if room was made.
 * Returns how many were freed.
 */
unsigned
server_reap(struct agent *a)
{
	struct conn	*c, *next;
	unsigned	 n = 0;

	for (c = TAILQ_FIRST(&a->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->dead && c->batch_first == 0) {
			conn_free(c);
			n++;
		}
	}
	server_fd_reserve(a);
	if (a->accept_paused &&
	    a->nclients - a->ndying < conn_limit())
		server_accept_resume(a);
	return n;
}

/*
 * Dispatch every complete frame in p[0..len); returns the bytes used. The
 * connection may be closed on the way (c->dead).
 */
static size_t
conn_frames(struct agent *a, struct conn *c, const unsigned char *buf,
    size_t len)
{
	const unsigned char	*p;
	size_t			 plen, used, off = 0;
	enum frame_status	 st;

	while (!c->dead) {
		st = frame_decode(buf + off, len - off, &p, &plen, &used);
		if (st == FRAME_NEED_MORE)
			break;
		if (st == FRAME_ERR_LEN) {
			a->ctr.bad_frames++;
			/* Store and ack what came before, then close. */
			ingest_commit(a);
			conn_error(c, "bad_frame",
			    "frame length must be 1..65536", 0, NULL);
			conn_close(c);
			break;
		}
		off += used;
		if (frame_is_control(p, plen)) {
			a->ctr.control++;
			control_frame(a, c, p, plen);
		} else	/* the validator checks UTF-8 and shape in its one pass */
			ingest_event(a, c, p, plen);
	}
	return off;
}

/* Keep c->in's allocation in the global account; free idle buffers. */
static void
conn_in_account(struct agent *a, struct conn *c, size_t oldcap)
{
	if (c->in.len == 0 && c->in.cap > CONN_IN_KEEP)
		buf_free(&c->in);
	a->in_total = a->in_total - oldcap + c->in.cap;
}

/* Over the global bound: cut the client holding the largest partial frame. */
static void
conn_enforce_total(struct agent *a)
{
	struct conn	*c, *big;
	size_t		 oldcap;

	while (a->in_total > AGENT_IN_TOTAL_MAX) {
		big = NULL;
		TAILQ_FOREACH(c, &a->conns, entry)
			if (!c->dead && (big == NULL || c->in.cap > big->in.cap))
				big = c;
		if (big == NULL || big->in.cap == 0)
			return;
		log_warnx("client %llu holds %zu bytes of unfinished frames:"
		    " closing (global bound)", (unsigned long long)big->id,
		    big->in.len);
		a->ctr.conns_over_mem++;
		oldcap = big->in.cap;
		conn_close(big);
		buf_free(&big->in);
		a->in_total -= oldcap;
	}
}

/*
 * New bytes from the socket: frames are decoded straight from the shared
 * read buffer; only an unfinished frame is copied into c->in.
 */
static void
conn_input(struct agent *a, struct conn *c, const unsigned char *data,
    size_t n)
{
	size_t	used = 0, oldcap = c->in.cap;

	c->last_active_ms = timing_mono_ms();
	if (c->in.len == 0) {
		used = conn_frames(a, c, data, n);
		if (!c->dead && used < n && buf_add(&c->in, data + used,
		    n - used) == -1)
			conn_close(c);
	} else if (buf_add(&c->in, data, n) == -1) {
		conn_close(c);
	} else {
		used = conn_frames(a, c, (unsigned char *)c->in.data,
		    c->in.len);
		buf_consume(&c->in, used);
	}
	if (c->dead) {
		c->in.len = 0;
		conn_in_account(a, c, oldcap);
		return;
	}
	conn_in_account(a, c, oldcap);
	conn_enforce_total(a);
	if (!c->dead)
		conn_arm_timer(c, used > 0);
}

/*
 * Read coalescing. A client sending faster than a record per
 * CONN_COALESCE_US woke the loop for nearly every record: a context
 * switch, an epoll_wait, a read and a segment write each (at 20k records/s
 * 0.5 wake-ups per record, most of the agent's CPU). When a connection was
 * readable CONN_COALESCE_AFTER times in a row, each within that interval
 * of the read before (a short exchange such as a CLI's hello, a few events
 * and a flush never is), it leaves the
 * event loop and is read on one timer, once per interval, all that
 * arrived in one read(2), so its writes wake nobody; a read that finds
 * nothing puts it back in the loop. A frame is then read at most
 * CONN_COALESCE_US late (acks of a busy client are coalesced to 1 ms
 * anyway); a read of CONN_COALESCE_BYTES or more brings the next read
 * forward, so a burst is read as fast as before. Connections are never on
 * the timer while quiet: no idle wake-ups.
 */
static void
conn_defer(struct agent *a, struct conn *c)
{
	struct timeval	tv = timing_tv_us(CONN_COALESCE_US);

	if (c->deferred || c->dead)
		return;
	event_del(c->rev);
	c->deferred = 1;
	TAILQ_INSERT_TAIL(&a->deferred, c, dentry);
	if (!evtimer_pending(a->coalesce_ev, NULL))
		evtimer_add(a->coalesce_ev, &tv);
}

/* Off the timer; back in the event loop unless it is closing. */
static void
conn_undefer(struct agent *a, struct conn *c)
{
	if (!c->deferred)
		return;
	TAILQ_REMOVE(&a->deferred, c, dentry);
	c->deferred = 0;
	if (!c->dead)
		event_add(c->rev, NULL);
}

/* The coalescing timer: one read of every deferred connection. */
void
server_coalesce_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent	*a = arg;
	struct conn	*c, *next;
	struct timeval	 tv = timing_tv_us(CONN_COALESCE_US);
	ssize_t		 n;

	/* conn_close() leaves c listed (dead), conn_free() unlists it, and
	 * no connection is freed inside this callback. */
	for (c = TAILQ_FIRST(&a->deferred); c != NULL; c = next) {
		next = TAILQ_NEXT(c, dentry);
		if (c->dead) {
			conn_undefer(a, c);
			continue;
		}
		n = read(c->fd, read_buf, sizeof read_buf);
		a->ctr.coalesced_reads++;
		if (n > 0) {
			a->ctr.reads++;
			c->last_read_us = timing_mono_us();
			conn_input(a, c, read_buf, (size_t)n);
			if ((size_t)n >= CONN_COALESCE_BYTES)
				tv = timing_tv(0);
		} else if (n == -1 && (errno == EAGAIN || errno == EINTR))
			conn_undefer(a, c);	/* quiet: back to the loop */
		else {
			conn_undefer(a, c);
			conn_close(c);
		}
	}
	if (!TAILQ_EMPTY(&a->deferred))
		evtimer_add(a->coalesce_ev, &tv);
}

/* Readable: one bounded read into the shared buffer, then process frames. */
static void
conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	struct agent	*a = c->agent;
	uint64_t	 now;
	ssize_t		 n;

	if (c->dead)
		return;
	n = read(c->fd, read_buf, sizeof read_buf);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		conn_close(c);
		return;
	}
	if (n <= 0)
		return;
	a->ctr.reads++;
	now = timing_mono_us();
	conn_input(a, c, read_buf, (size_t)n);
	if (now < c->last_read_us + CONN_COALESCE_US) {
		if (++c->quick_reads >= CONN_COALESCE_AFTER)
			conn_defer(a, c);
	} else
		c->quick_reads = 0;
	c->last_read_us = now;
}

/* Shutdown: read what clients already sent (non-blocking) and process it. */
void
server_drain(struct agent *a)
{
	struct conn	*c;
	ssize_t		 n;
	int		 rounds;

	TAILQ_FOREACH(c, &a->conns, entry) {
		for (rounds = 0; rounds < CONN_DRAIN_READS && !c->dead; rounds++) {
			n = read(c->fd, read_buf, sizeof read_buf);
			if (n <= 0)
				break;
			conn_input(a, c, read_buf, (size_t)n);
		}
	}
}

/* Close and free every connection (exit path). */
void
server_close_all(struct agent *a)
{
	struct conn	*c;

	while ((c = TAILQ_FIRST(&a->conns)) != NULL) {
		/* Best effort: push replies (acks) still pending. */
		if (c->out.len > 0)
			(void)send(c->fd, c->out.data, c->out.len,
			    PORT_MSG_NOSIGNAL | MSG_DONTWAIT);
		c->batch_first = 0;
		conn_free(c);
	}
}
