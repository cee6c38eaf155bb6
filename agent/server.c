/*
 * server.c — the listening socket and client connections: accept with the
 * peer-uid check, non-blocking reads into a bounded buffer, frame splitting,
 * bounded reply buffers, stall timeouts; accept with backpressure (a bounded
 * number per loop pass, paused at the client limit so the kernel's backlog
 * holds newcomers, room made only by evicting a truly idle client after
 * storing what it sent) and the descriptor reserve for new segments.
 * Connections are freed on a deferred path, or at once when evicted, never
 * inside their own callback. Never interprets records (ingest.c) or control
 * frames (control.c).
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
static void	conn_write_cb(evutil_socket_t, short, void *);
static void	conn_timer_cb(evutil_socket_t, short, void *);
static void	conn_arm_timer(struct conn *, int);
static void	server_reap_cb(evutil_socket_t, short, void *);
static void	conn_write_gone(struct conn *);
static void	conn_input(struct agent *, struct conn *, const unsigned char *,
		    size_t);
static void	conn_free(struct agent *, struct conn *);
static void	server_coalesce_cb(evutil_socket_t, short, void *);

static unsigned char	read_buf[CONN_READ_CHUNK];	/* shared by every read */

/*
 * How many clients may be connected now: AGENT_MAX_CLIENTS, and never so
 * many that the descriptors left for storage, the syncer and uploads fall
 * below the reserve plus AGENT_FD_HEADROOM (a quarter of the limit when it
 * is tiny). Read at every accept pass: the limit can change under a
 * running agent.
 */
unsigned
server_client_limit(void)
{
	struct rlimit	rl;
	rlim_t		room;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur == RLIM_INFINITY)
		return AGENT_MAX_CLIENTS;
	room = AGENT_FD_RESERVE + (rl.rlim_cur >= 4 * AGENT_FD_HEADROOM ?
	    AGENT_FD_HEADROOM : rl.rlim_cur / 4);
	if (rl.rlim_cur <= room + 1)
		return 1;
	if (rl.rlim_cur - room < AGENT_MAX_CLIENTS)
		return (unsigned)(rl.rlim_cur - room);
	return AGENT_MAX_CLIENTS;
}

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
		conn_free(a, c);
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

static void
server_accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent	*a = arg;

	a->accept_paused = 0;
	if (a->accept_ev != NULL)
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

	if (a->accept_ev == NULL)
		return;
	event_del(a->accept_ev);
	a->accept_paused = 1;
	if (a->accept_pause_ev == NULL)
		a->accept_pause_ev = evtimer_new(a->base,
		    server_accept_resume_cb, a);
	if (a->accept_pause_ev != NULL)
		evtimer_add(a->accept_pause_ev, &tv);
}

/* A client left: accept again if paused for lack of room. */
static void
server_accept_resume(struct agent *a)
{
	if (!a->accept_paused || a->stopping)
		return;
	if (a->accept_pause_ev != NULL)
		evtimer_del(a->accept_pause_ev);
	server_accept_resume_cb(-1, 0, a);
}

/*
 * Descriptors held in reserve (copies of /dev/null): released just before
 * the queue opens a new segment, so storage never fails for lack of a
 * descriptor that clients took; taken back on the deferred path, evicting
 * truly idle clients if the table is full.
 */
void
server_fd_release(struct agent *a)
{
	unsigned	i;

	for (i = 0; i < AGENT_FD_RESERVE; i++)
		if (a->reserve_fd[i] > 0) {
			close(a->reserve_fd[i]);
			a->reserve_fd[i] = -1;
		}
}

/* Take the reserve back (see server_fd_release). */
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

/* A connection for fd (accepted and checked). NULL if out of memory. */
static struct conn *
conn_new(struct agent *a, int fd)
{
	struct conn	*c;

	if ((c = calloc(1, sizeof *c)) == NULL)
		return NULL;
	c->id = ++a->next_conn_id;
	c->last_active_ms = timing_mono_ms();
	c->fd = fd;
	c->rev = event_new(a->base, fd, EV_READ | EV_PERSIST, conn_read_cb, c);
	c->wev = event_new(a->base, fd, EV_WRITE | EV_PERSIST, conn_write_cb,
	    c);
	c->tev = evtimer_new(a->base, conn_timer_cb, c);
	if (c->rev == NULL || c->wev == NULL || c->tev == NULL ||
	    event_add(c->rev, NULL) == -1) {
		if (c->rev) event_free(c->rev);
		if (c->wev) event_free(c->wev);
		if (c->tev) event_free(c->tev);
		free(c);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&a->conns, c, entry);
	a->nclients++;
	if (a->idle_ev != NULL)
		event_del(a->idle_ev);
	return c;
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

	limit = server_client_limit();
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
				server_fd_release(a);
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
		if (conn_new(a, fd) == NULL)
			close(fd);
	}
	return 0;
}

/* The listener is readable: accept a bounded number of connections. */
static void
server_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct agent	*a = arg;

	(void)server_accept_some(a, AGENT_ACCEPT_PER_PASS, 0);
	event_active(a->reap_ev, 0, 0);	/* takes the fd reserve back */
}

/* Bind (or adopt) the listening socket and start accepting. */
int
server_start(struct agent *a, char *cause, size_t causelen)
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
	a->accept_ev = event_new(a->base, a->listen_fd, EV_READ | EV_PERSIST,
	    server_accept_cb, a);
	a->reap_ev = event_new(a->base, -1, 0, server_reap_cb, a);
	a->coalesce_ev = evtimer_new(a->base, server_coalesce_cb, a);
	if (a->accept_ev == NULL || a->reap_ev == NULL ||
	    a->coalesce_ev == NULL) {
		snprintf(cause, causelen, "event_new failed");
		return -1;
	}
	event_add(a->accept_ev, NULL);
	return 0;
}

/* Stop accepting; unlink our socket node if it is still ours. */
void
server_stop_accepting(struct agent *a)
{
	struct stat	st;

	if (a->accept_ev != NULL) {
		/*
		 * Serve everything that waits in the backlog, past the client
		 * limit: those clients may have sent and closed already, and
		 * closing the listener would drop what they sent.
		 */
		if (a->accept_pause_ev != NULL)
			evtimer_del(a->accept_pause_ev);
		server_fd_release(a);
		(void)server_accept_some(a, UINT_MAX, 1);
		event_free(a->accept_ev);
		a->accept_ev = NULL;
	}
	if (a->self_bound && stat(a->paths.sock, &st) == 0 &&
	    st.st_ino == a->sock_ino)
		unlink(a->paths.sock);
	if (a->listen_fd != -1) {
		close(a->listen_fd);
		a->listen_fd = -1;
	}
}

/* Queue bytes for a connection; cut it off past CONN_OUT_MAX. */
void
conn_send(struct conn *c, const char *json, size_t len)
{
	ssize_t	n;

	if (c->dead || c->wgone)
		return;
	if (c->out.len + len + FRAME_HDR > CONN_OUT_MAX) {
		log_warnx("client %llu does not read its replies: closing",
		    (unsigned long long)c->id);
		agent->ctr.conns_cut++;
		conn_close(c);
		return;
	}
	if (frame_encode(&c->out, json, len) == -1) {
		conn_close(c);
		return;
	}
	n = send(c->fd, c->out.data, c->out.len, PORT_MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n > 0)
		buf_consume(&c->out, (size_t)n);
	else if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR) {
		conn_write_gone(c);
		return;
	}
	if (c->out.len > 0) {
		event_add(c->wev, NULL);
		conn_arm_timer(c, 0);
	}
}

/*
 * The peer stopped reading (EPIPE: it sent its events and closed). Stop
 * writing but keep reading: what it sent before closing is still in the
 * socket and must be stored. read() returning 0 ends the connection.
 */
static void
conn_write_gone(struct conn *c)
{
	c->wgone = 1;
	c->out.len = 0;
	event_del(c->wev);
}

/* Serialise obj (compact) and send it; takes the reference. */
void
conn_send_json(struct conn *c, json_t *obj)
{
	char	*s;

	s = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (s != NULL) {
		conn_send(c, s, strlen(s));
		free(s);
	}
}

/* Send an error frame. */
void
conn_error(struct conn *c, const char *code, const char *message,
    uint64_t seq, const char *field)
{
	json_t	*o;

	o = json_pack("{s:s, s:s, s:s}", "op", "error", "code", code,
	    "message", message);
	if (o == NULL)
		return;
	if (seq > 0)
		json_object_set_new(o, "seq", json_integer((json_int_t)seq));
	if (field != NULL && *field != '\0')
		json_object_set_new(o, "field", json_string(field));
	conn_send_json(c, o);
}

/* Acknowledge every event frame received so far (PROTOCOL.md §5). */
void
conn_ack(struct conn *c)
{
	char	msg[64];
	int	n;

	n = snprintf(msg, sizeof msg, "{\"op\":\"ack\",\"seq\":%llu}",
	    (unsigned long long)c->seq);
	c->acked_seq = c->seq;
	conn_send(c, msg, (size_t)n);
}

/* An error about the events first..last (storage, busy). */
void
conn_error_range(struct conn *c, const char *code, const char *message,
    uint64_t first, uint64_t last)
{
	json_t	*o;

	o = json_pack("{s:s, s:s, s:s, s:I, s:I}", "op", "error", "code", code,
	    "message", message, "seq_first", (json_int_t)first, "seq",
	    (json_int_t)last);
	if (o != NULL)
		conn_send_json(c, o);
}

/* Mark a connection dead; it is freed on the deferred reap path. */
void
conn_close(struct conn *c)
{
	if (c->dead)
		return;
	c->dead = 1;
	event_del(c->rev);
	event_del(c->wev);
	event_del(c->tev);
	shutdown(c->fd, SHUT_RDWR);
	agent->ndying++;
	event_active(agent->reap_ev, 0, 0);
}

static void
conn_free(struct agent *a, struct conn *c)
{
	if (c->deferred)
		TAILQ_REMOVE(&a->deferred, c, dentry);
	TAILQ_REMOVE(&a->conns, c, entry);
	a->nclients--;
	if (c->dead)
		a->ndying--;
	a->in_total -= c->in.cap;
	event_free(c->rev);
	event_free(c->wev);
	event_free(c->tev);
	close(c->fd);
	buf_free(&c->in);
	buf_free(&c->out);
	free(c->cwd);
	free(c->home);
	/* Its frames are all handled: the takeover race is over. */
	if (c->nonce[0] != '\0')
		queue_takeover_done(a->q, c->nonce);
	free(c);
}

/* Free every dead connection (deferred path). */
static void
server_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent	*a = arg;
	struct conn	*c, *next;

	for (c = TAILQ_FIRST(&a->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		/* Keep a dead conn while its batch is uncommitted. */
		if (c->dead && c->batch_first == 0)
			conn_free(a, c);
	}
	server_fd_reserve(a);
	if (a->accept_paused &&
	    a->nclients - a->ndying < server_client_limit())
		server_accept_resume(a);
	agent_check_idle(a);
}

/* Find a live connection by id. */
struct conn *
conn_find(struct agent *a, uint64_t id)
{
	struct conn	*c;

	TAILQ_FOREACH(c, &a->conns, entry)
		if (c->id == id && !c->dead)
			return c;
	return NULL;
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
static void
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
	agent->ctr.reads++;
	now = timing_mono_us();
	conn_input(agent, c, read_buf, (size_t)n);
	if (now < c->last_read_us + CONN_COALESCE_US) {
		if (++c->quick_reads >= CONN_COALESCE_AFTER)
			conn_defer(agent, c);
	} else
		c->quick_reads = 0;
	c->last_read_us = now;
}

/* Writable: push pending replies. */
static void
conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	ssize_t		 n;

	if (c->dead)
		return;
	n = send(c->fd, c->out.data, c->out.len, PORT_MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n > 0)
		buf_consume(&c->out, (size_t)n);
	else if (n == -1 && errno != EAGAIN && errno != EINTR) {
		conn_write_gone(c);
		return;
	}
	if (c->out.len == 0) {
		event_del(c->wev);
		/* Acks held back while the client was not reading. */
		if (c->batch_first == 0 && c->acked_seq < c->seq)
			conn_ack(c);
	}
	conn_arm_timer(c, n > 0);
}

/*
 * Arm the stall timer while a partial frame or unsent replies exist. It is
 * restarted only on progress (a whole frame consumed, replies read), so a
 * client trickling bytes of one frame is cut off, a busy one never is.
 */
static void
conn_arm_timer(struct conn *c, int progress)
{
	struct timeval	tv = timing_tv((uint64_t)agent->settings.stall_timeout_s *
	    1000);

	if (c->in.len > 0 || c->out.len > 0) {
		if (progress || !evtimer_pending(c->tev, NULL))
			evtimer_add(c->tev, &tv);
	} else
		evtimer_del(c->tev);
}

/* Stalled for stall_timeout_s (telemetryd.conf): cut the client off. */
static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;

	if (c->in.len == 0 && c->out.len == 0)
		return;
	log_warnx("client %llu stalled for %u s: closing",
	    (unsigned long long)c->id, agent->settings.stall_timeout_s);
	agent->ctr.conns_cut++;
	conn_close(c);
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
		conn_free(a, c);
	}
}
