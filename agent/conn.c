/*
 * conn.c — one client connection: its creation and its freeing, its reply
 * buffer (frames queued, sent as the socket takes them, bounded by
 * CONN_OUT_MAX), the stall timer, closing (marked dead here, freed by the
 * after-pass step, never inside one of its own callbacks), lookup by id,
 * and how many connections the descriptor limit allows. Below every other
 * agent file that talks to clients: it never reads from the socket
 * (server.c does), never interprets a frame, and calls nothing of
 * ingest.c, control.c, server.c or main.c.
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "frame.h"
#include "log.h"
#include "port.h"
#include "timing.h"

static void	conn_write_cb(evutil_socket_t, short, void *);
static void	conn_timer_cb(evutil_socket_t, short, void *);
static void	conn_write_gone(struct conn *);

/*
 * How many clients may be connected now: AGENT_MAX_CLIENTS, and never so
 * many that the descriptors left for storage, the syncer and uploads fall
 * below the reserve plus AGENT_FD_HEADROOM (a quarter of the limit when it
 * is tiny). Read at every accept pass: the limit can change under a
 * running agent.
 */
unsigned
conn_limit(void)
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

/* Free the events conn_new made (those it could make). */
static void
conn_free_events(struct conn *c)
{
	struct event	*evs[3] = { c->rev, c->wev, c->tev };
	unsigned	 i;

	for (i = 0; i < 3; i++)
		if (evs[i] != NULL)
			event_free(evs[i]);
}

/*
 * A connection for fd (accepted and checked), read by read_cb (server.c).
 * Takes fd. NULL if out of memory (fd is then the caller's to close).
 */
struct conn *
conn_new(struct agent *a, int fd, event_callback_fn read_cb)
{
	struct conn	*c;

	if ((c = calloc(1, sizeof *c)) == NULL)
		return NULL;
	c->agent = a;
	c->id = ++a->next_conn_id;
	c->last_active_ms = timing_mono_ms();
	c->fd = fd;
	c->rev = event_new(a->base, fd, EV_READ | EV_PERSIST, read_cb, c);
	c->wev = event_new(a->base, fd, EV_WRITE | EV_PERSIST, conn_write_cb,
	    c);
	c->tev = evtimer_new(a->base, conn_timer_cb, c);
	if (c->rev == NULL || c->wev == NULL || c->tev == NULL ||
	    event_add(c->rev, NULL) == -1) {
		conn_free_events(c);
		free(c);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&a->conns, c, entry);
	a->nclients++;
	event_del(a->idle_ev);		/* not idle while a client is in */
	return c;
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
		c->agent->ctr.conns_cut++;
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

/* Mark a connection dead; the after-pass step frees it (server_reap). */
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
	c->agent->ndying++;
	c->agent->pass |= PASS_REAP;
}

/* Free c and give its descriptor back (after-pass step or exit only). */
void
conn_free(struct conn *c)
{
	struct agent	*a = c->agent;

	if (c->deferred)
		TAILQ_REMOVE(&a->deferred, c, dentry);
	TAILQ_REMOVE(&a->conns, c, entry);
	a->nclients--;
	if (c->dead)
		a->ndying--;
	a->in_total -= c->in.cap;
	conn_free_events(c);
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
void
conn_arm_timer(struct conn *c, int progress)
{
	struct timeval	tv;

	tv = timing_tv((uint64_t)c->agent->settings.stall_timeout_s * 1000);
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
	    (unsigned long long)c->id, c->agent->settings.stall_timeout_s);
	c->agent->ctr.conns_cut++;
	conn_close(c);
}
