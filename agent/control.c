/*
 * control.c — control frames (PROTOCOL.md §4): hello, flush, status,
 * upload, roll, reload, shutdown, and the upload requests parked until the
 * syncer has finished what they need. Parses with jansson (control frames
 * are rare); never touches records (ingest.c) and calls nothing of
 * server.c or main.c: a shutdown is asked through a->phase and done by the
 * after-pass step.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "frame.h"
#include "log.h"

/* An upload requested with wait=true, answered when the attempt ends. */
struct upload_wait {
	struct agent	*a;
	uint64_t	 conn_id;
};

static void
control_upload_done(void *arg, const char *result, long http_status,
    const char *error)
{
	struct upload_wait	*w = arg;
	struct conn		*c;
	json_t			*o;

	if ((c = conn_find(w->a, w->conn_id)) != NULL) {
		if (c->replies_owed > 0)
			c->replies_owed--;
		o = json_pack("{s:s, s:s}", "op", "upload", "result", result);
		if (o != NULL) {
			if (http_status > 0)
				json_object_set_new(o, "status",
				    json_integer(http_status));
			if (error != NULL && *error != '\0')
				json_object_set_new(o, "error",
				    json_string(error));
			conn_send_json(c, o);
		}
	}
	free(w);
}

/* Start the upload attempt a client asked for (segments all ready). */
static void
control_upload_start(struct agent *a, struct conn *c, int wait)
{
	struct upload_wait	*w;

	if (!a->opt.enabled) {
		conn_send_json(c, json_pack("{s:s, s:s}", "op", "upload",
		    "result", "disabled"));
	} else if (wait && (w = calloc(1, sizeof *w)) != NULL) {
		w->a = a;
		w->conn_id = c->id;
		c->replies_owed++;
		upload_kick(a->up, 1, control_upload_done, w);
	} else {
		upload_kick(a->up, 1, NULL, NULL);
		conn_send_json(c, json_pack("{s:s, s:s}", "op", "upload",
		    "result", "started"));
	}
}

/*
 * After-pass step, once the syncer reported: start the parked uploads
 * whose segments are all finished now (their clients may be gone; at
 * shutdown they are told).
 */
void
control_run_parked(struct agent *a)
{
	struct conn	*c;
	unsigned	 i, k = 0;

	for (i = 0; i < a->nparked; i++) {
		if (!syncer_reached(a->syncer, a->parked[i].mark)) {
			a->parked[k++] = a->parked[i];	/* keep, in order */
			continue;
		}
		if ((c = conn_find(a, a->parked[i].conn_id)) == NULL)
			continue;
		if (c->replies_owed > 0)
			c->replies_owed--;
		if (a->phase != AGENT_RUNNING)
			conn_send_json(c, json_pack("{s:s, s:s}", "op",
			    "upload", "result", "aborted"));
		else
			control_upload_start(a, c, a->parked[i].wait);
	}
	a->nparked = k;
}

static void
control_hello(struct agent *a, struct conn *c, json_t *msg)
{
	json_t		*o, *v;
	const char	*s;

	v = json_object_get(msg, "proto");
	if (!json_is_integer(v) || json_integer_value(v) != PROTO_VERSION) {
		ingest_commit(a);	/* ack what came before, then close */
		conn_error(c, "proto_version",
		    "unsupported protocol version (this agent speaks 1)", 0,
		    "proto");
		conn_close(c);
		return;
	}
	/* Any non-empty string: only ever used as a text to replace. */
	if ((s = json_string_value(json_object_get(msg, "cwd"))) != NULL &&
	    *s != '\0') {
		free(c->cwd);
		c->cwd = strdup(s);
		c->scrub.cwd = c->cwd;
	}
	if ((s = json_string_value(json_object_get(msg, "home"))) != NULL &&
	    *s != '\0') {
		free(c->home);
		c->home = strdup(s);
		c->scrub.home = c->home;
	}
	/* The connection's takeover nonce (a file name: checked strictly). */
	if ((s = json_string_value(json_object_get(msg, "nonce"))) != NULL &&
	    strlen(s) == QUEUE_NONCE_LEN && strspn(s, "0123456789abcdef") ==
	    QUEUE_NONCE_LEN && c->nonce[0] == '\0' && c->seq == 0)
		memcpy(c->nonce, s, QUEUE_NONCE_LEN + 1);
	o = json_pack("{s:s, s:i, s:s, s:I, s:s}", "op", "hello", "proto",
	    PROTO_VERSION, "agent", ATC_VERSION, "pid", (json_int_t)getpid(),
	    "telemetry", a->opt.enabled ? "enabled" : "disabled");
	if (o == NULL)
		return;
	if (!a->opt.enabled && a->opt.reason != NULL)
		json_object_set_new(o, "reason", json_string(a->opt.reason));
	conn_send_json(c, o);
}

/* Dispatch one control frame. */
void
control_frame(struct agent *a, struct conn *c, const unsigned char *p, size_t n)
{
	json_error_t		 jerr;
	json_t			*msg, *o;
	const char		*op;
	char			 err[256];
	struct queue_recovery	 rec;
	int			 wait;

	if (!utf8_valid(p, n)) {
		conn_error(c, "bad_utf8", "control frame is not valid UTF-8", 0,
		    NULL);
		return;
	}
	if ((msg = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES,
	    &jerr)) == NULL || !json_is_object(msg)) {
		json_decref(msg);
		if (json_error_code(&jerr) == json_error_duplicate_key)
			conn_error(c, "duplicate_field",
			    "control frame repeats a key", 0, NULL);
		else
			conn_error(c, "bad_json",
			    "control frame is not a JSON object", 0, NULL);
		return;
	}
	op = json_string_value(json_object_get(msg, "op"));
	if (op == NULL) {
		conn_error(c, "unknown_op", "\"op\" must be a string", 0, "op");
	} else if (strcmp(op, "hello") == 0) {
		control_hello(a, c, msg);
	} else if (strcmp(op, "flush") == 0) {
		/* Acked once everything before it is committed. */
		c->flush_wanted = 1;
		ingest_commit(a);	/* now: later replies must follow the ack */
	} else if (strcmp(op, "status") == 0) {
		o = status_snapshot(a);
		if (o != NULL) {
			/* The asker is not one of the clients it asks about. */
			json_object_set_new(o, "clients", json_integer(
			    (json_int_t)(a->nclients - a->ndying - 1)));
			json_object_set_new(o, "op", json_string("status"));
			conn_send_json(c, o);
		}
	} else if (strcmp(op, "upload") == 0) {
		/*
		 * Everything written so far is ready before the attempt: what
		 * a library left unfinished (a close that gave up on us) and
		 * what we held back; while the syncer still finishes segments
		 * the request waits for its report (agent_synced), never on
		 * the loop.
		 */
		if (queue_recover(a->q, 0, &rec) == 0)
			ingest_recovered(a, &rec, "left unfinished");
		ingest_roll(a);
		wait = json_is_true(json_object_get(msg, "wait"));
		if (syncer_pending(a->syncer) == 0)
			control_upload_start(a, c, wait);
		else if (a->nparked < UPLOAD_PARKED_MAX) {
			a->parked[a->nparked].conn_id = c->id;
			a->parked[a->nparked].mark = syncer_mark(a->syncer);
			a->parked[a->nparked].wait = wait;
			a->nparked++;
			c->replies_owed++;
		} else
			conn_error(c, "busy", "too many upload requests are"
			    " waiting for segments to be finished", 0, NULL);
	} else if (strcmp(op, "roll") == 0) {
		/*
		 * Make the active segment ready now, in place (rare: `clear`
		 * asks first, so that events held back while uploads could
		 * not proceed are cleared too).
		 */
		if (a->batch_events > 0)
			ingest_commit(a);
		o = json_pack("{s:s, s:b}", "op", "roll", "ok",
		    queue_roll_in_place(a->q) != -1);
		a->synced_bytes = 0;
		a->holding = 0;
		if (o != NULL)
			conn_send_json(c, o);
	} else if (strcmp(op, "reload") == 0) {
		err[0] = '\0';
		configure_reload(a, err, sizeof err);
		o = json_pack("{s:s, s:b}", "op", "reload", "ok", err[0] == '\0');
		if (o != NULL && err[0] != '\0')
			json_object_set_new(o, "error", json_string(err));
		if (o != NULL)
			conn_send_json(c, o);
	} else if (strcmp(op, "shutdown") == 0) {
		log_info("shutdown requested by a client");
		conn_send_json(c, json_pack("{s:s, s:b}", "op", "shutdown",
		    "ok", 1));
		/* Not inside this connection's read: after this pass. */
		if (a->phase == AGENT_RUNNING)
			a->phase = AGENT_STOP_ASKED;
	} else {
		snprintf(err, sizeof err, "unknown op \"%.64s\"", op);
		conn_error(c, "unknown_op", err, 0, "op");
	}
	json_decref(msg);
}
