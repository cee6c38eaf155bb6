/*
 * ingest.c — event frames: validate and scrub (proto/record.c), collect the
 * records of one loop pass into one batch, and commit the batch to the
 * active segment with a single write(2) (queue_append) when the after-pass
 * step asks (or early, past BATCH_COMMIT_BYTES); then send the acks that
 * waited for it. Also the agent's side of the queue: rolls after a quiet
 * interval so uploads are prompt, holds the segment while uploads cannot
 * proceed, the descriptor reserve handed to a new segment, and what a
 * recovery pass found. Never logs event contents; calls nothing of
 * server.c, control.c or main.c (replies go through conn.c).
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"
#include "timing.h"

/* ACK_COALESCE_MS passed: send the unasked acks held back since. */
void
ingest_ack_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent	*a = arg;
	struct conn	*c;
	uint64_t	 now = timing_mono_ms();

	TAILQ_FOREACH(c, &a->conns, entry) {
		if (!c->ack_held || c->dead)
			continue;
		c->ack_held = 0;
		/* Events of an uncommitted batch are acked by its commit. */
		if (c->batch_first != 0 || c->acked_seq == c->seq ||
		    c->out.len > 0)
			continue;
		c->unasked_ack_ms = now;
		conn_ack(c);
	}
}

/* Arm the held-ack timer (one for all connections). 0, or -1 if it cannot. */
static int
ingest_arm_ack(struct agent *a)
{
	struct timeval	tv = timing_tv(ACK_COALESCE_MS);

	if (evtimer_pending(a->ack_ev, NULL))
		return 0;
	return evtimer_add(a->ack_ev, &tv);
}

/* Count a dropped field name (names only, never values). */
static void
ingest_count_dropped(struct agent *a, const struct rec_result *r)
{
	char		 name[64];
	json_t		*v;
	unsigned	 i;
	size_t		 n;

	a->ctr.fields_dropped += r->ndropped;
	for (i = 0; i < r->ndropped && i < REC_MAX_DROPPED; i++) {
		n = r->dropped_len[i] < sizeof name - 1 ? r->dropped_len[i] :
		    sizeof name - 1;
		memcpy(name, r->dropped[i], n);
		name[n] = '\0';
		if ((v = json_object_get(a->dropped_fields, name)) != NULL)
			json_integer_set(v, json_integer_value(v) + 1);
		else if (json_object_size(a->dropped_fields) <
		    DROPPED_NAMES_MAX)
			json_object_set_new(a->dropped_fields, name,
			    json_integer(1));
		else {
			v = json_object_get(a->dropped_fields, "(other)");
			json_object_set_new(a->dropped_fields, "(other)",
			    json_integer(v ? json_integer_value(v) + 1 : 1));
		}
	}
}

/*
 * Room for more batch entries (a->bents lives in a->bents_buf, grown by
 * buf_reserve: doubling, overflow-checked). 0, or -1 out of memory.
 */
static int
ingest_grow_bents(struct agent *a)
{
	struct buf	*b = &a->bents_buf;

	b->len = (size_t)a->bents_cap * sizeof *a->bents;
	if (buf_reserve(b, (a->bents_cap > 0 ? a->bents_cap :
	    BATCH_ENTS_MIN) * sizeof *a->bents) == -1)
		return -1;
	a->bents = (struct batch_ent *)(void *)b->data;
	a->bents_cap = (unsigned)((b->cap - 1) / sizeof *a->bents);
	return 0;
}

/* Remember a disk error for status (the text, when). */
void
ingest_storage_error(struct agent *a, const char *what, int err)
{
	snprintf(a->storage_error, sizeof a->storage_error, "%s: %s", what,
	    strerror(err));
	a->storage_error_ms = timing_wall_ms();
}

/*
 * The ts of a validated (compact, canonical) record line: the top-level
 * "ts" key. A string value cannot hide `"ts":` (its quotes are escaped),
 * and no nested object of the schema has a ts. INT64_MIN if not found.
 */
static int64_t
line_ts(const char *p, size_t n)
{
	const char	*e = p + n, *k;
	int64_t		 v = 0;
	int		 neg = 0;

	for (k = p; (k = memmem(k, (size_t)(e - k), "\"ts\":", 5)) != NULL;
	    k += 5) {
		if (k == p || (k[-1] != '{' && k[-1] != ','))
			continue;
		k += 5;
		if (k < e && *k == '-') {
			neg = 1;
			k++;
		}
		if (k >= e || *k < '0' || *k > '9')
			return INT64_MIN;
		for (; k < e && *k >= '0' && *k <= '9' &&
		    v < INT64_MAX / 10 - 9; k++)
			v = v * 10 + (*k - '0');
		return neg ? -v : v;
	}
	return INT64_MIN;
}

/*
 * A connection whose frames in this batch a library may have taken over
 * (or may take over before our ack reaches it): its oldest record is
 * TAKEOVER_RISK_MS old, or dated in the future, or undated.
 */
static int
takeover_risky(const struct conn *c, int64_t now)
{
	return c->batch_first != 0 && c->nonce[0] != '\0' &&
	    c->tko == TKO_NONE && (c->batch_ts == INT64_MIN ||
	    now - c->batch_ts >= TAKEOVER_RISK_MS ||
	    c->batch_ts > now + TAKEOVER_FUTURE_MS);
}

/*
 * Race the library for the frames of c (PROTOCOL.md "Takeover"). 1 when
 * it took some over (c->tko_first..tko_last: not ours to store), else 0:
 * we won (every frame of c is ours from now on), or the race could not be
 * run (no marker: we store them, as an agent without takeover would).
 */
static int
ingest_claim(struct agent *a, struct conn *c)
{
	struct queue_takeover	t;

	if (queue_takeover(a->q, c->nonce, 0, 0, &t) == -1) {
		log_debug("takeover marker for client %llu: %s",
		    (unsigned long long)c->id, strerror(errno));
		c->tko = TKO_AGENT;	/* no race possible: store them */
		return 0;
	}
	if (t.won || t.agent) {
		if (t.won)
			a->ctr.takeover_claims++;
		c->tko = TKO_AGENT;
		return 0;
	}
	c->tko = TKO_CLIENT;
	c->tko_first = t.first;
	c->tko_last = t.last;
	return 1;
}

/*
 * Drop from the batch the records of connections whose library took them
 * over. Returns how many were dropped.
 */
static unsigned
ingest_filter_batch(struct agent *a)
{
	struct batch_ent	*b;
	size_t			 w = 0, end, len;
	unsigned		 i, k = 0, dropped = 0;

	for (i = 0; i < a->batch_events; i++) {
		b = &a->bents[i];
		end = i + 1 < a->batch_events ? a->bents[i + 1].off :
		    a->batch.len;
		len = end - b->off;
		if (b->c->tko == TKO_CLIENT && b->seq >= b->c->tko_first &&
		    b->seq <= b->c->tko_last) {
			dropped++;
			continue;
		}
		if (w != b->off)
			memmove(a->batch.data + w, a->batch.data + b->off, len);
		a->bents[k] = *b;
		a->bents[k].off = w;
		k++;
		w += len;
	}
	a->batch.len = w;
	a->batch_events = k;
	a->ctr.taken_over += dropped;
	return dropped;
}

/* Records of the batch a library took over. */
static unsigned
ingest_count_taken(struct agent *a)
{
	const struct batch_ent	*b;
	unsigned		 i, n = 0;

	for (i = 0; i < a->batch_events; i++) {
		b = &a->bents[i];
		n += b->c->tko == TKO_CLIENT && b->seq >= b->c->tko_first &&
		    b->seq <= b->c->tko_last;
	}
	return n;
}

static void	ingest_fail_batch(struct agent *, int, unsigned);

/* The batch was cut off again: write it without what was taken over. */
static void
ingest_rewrite(struct agent *a)
{
	int	err;

	(void)ingest_filter_batch(a);
	if (a->batch_events == 0 || queue_append(a->q, a->batch.data,
	    a->batch.len, a->batch_events) == 0)
		return;
	err = errno;
	a->ctr.write_errors++;
	a->ctr.storage_dropped += a->batch_events;
	ingest_storage_error(a, "cannot write to the queue", err);
	ingest_fail_batch(a, err, 0);
	a->batch_events = 0;
}

/* Race for every connection at risk in the batch; 1 if any lost. */
static int
ingest_claim_risky(struct agent *a)
{
	struct conn	*c;
	int64_t		 now = timing_wall_ms();
	int		 lost = 0;

	TAILQ_FOREACH(c, &a->conns, entry)
		if (takeover_risky(c, now))
			lost |= ingest_claim(a, c);
	return lost;
}

/* One event frame from connection c. */
void
ingest_event(struct agent *a, struct conn *c, const unsigned char *p, size_t n)
{
	struct rec_result	 r;
	enum rec_err		 e;
	char			 msg[160];
	unsigned		 k;
	size_t			 off;

	c->seq++;
	a->ctr.received++;
	if (!a->opt.enabled) {
		a->ctr.rejected++;
		snprintf(msg, sizeof msg, "telemetry is disabled (reason: %s)",
		    a->opt.reason ? a->opt.reason : "unknown");
		conn_error(c, "disabled", msg, c->seq, NULL);
		return;
	}
	if (a->phase >= AGENT_CLOSING) {
		a->ctr.rejected++;
		conn_error(c, "busy", "the agent is shutting down", c->seq,
		    NULL);
		return;
	}
	if (c->tko == TKO_CLIENT && c->seq >= c->tko_first &&
	    c->seq <= c->tko_last) {
		/* The library wrote it to its fallback segment: handled. */
		a->ctr.taken_over++;
		ingest_schedule_commit(a);	/* acks it */
		return;
	}
	if (a->batch_events == a->bents_cap && ingest_grow_bents(a) == -1) {
		a->ctr.rejected++;
		conn_error(c, "busy", "the agent is out of memory", c->seq,
		    NULL);
		return;
	}
	off = a->batch.len;
	e = rec_validate((const char *)p, n, &c->scrub, &a->batch, &r);
	if (e != REC_OK) {
		a->ctr.rejected++;
		if (r.field[0] != '\0')
			snprintf(msg, sizeof msg, "record rejected: %s (field %s)",
			    rec_code(e), r.field);
		else
			snprintf(msg, sizeof msg, "record rejected: %s",
			    rec_code(e));
		conn_error(c, rec_code(e), msg, c->seq, r.field);
		return;
	}
	a->ctr.accepted++;
	if (r.ndropped > 0)
		ingest_count_dropped(a, &r);
	for (k = 0; k < SCRUB_NKINDS; k++) {
		a->ctr.redactions_kind[k] += r.redactions[k];
		a->ctr.redactions += r.redactions[k];
	}
	a->bents[a->batch_events].c = c;
	a->bents[a->batch_events].seq = c->seq;
	a->bents[a->batch_events].off = off;
	a->batch_events++;
	/* Its oldest record in the batch dates the takeover risk. */
	if (c->batch_first == 0 && c->nonce[0] != '\0' && c->tko == TKO_NONE)
		c->batch_ts = line_ts(a->batch.data + off, a->batch.len - off);
	if (c->batch_first == 0)
		c->batch_first = c->seq;
	c->batch_last = c->seq;
	if (a->batch.len >= BATCH_COMMIT_BYTES)
		ingest_commit(a);
	else
		ingest_schedule_commit(a);
}

/*
 * Make the commit run at the end of this loop pass: the after-pass step
 * (main.c) runs once every descriptor that was ready in the pass has been
 * read, so the pass's records go out in one write.
 */
void
ingest_schedule_commit(struct agent *a)
{
	a->pass |= PASS_COMMIT;
}

/*
 * A write stored only the first `stored` records of the batch: tell each
 * connection exactly which of its events were not stored (from its first
 * refused one to its last in the batch; the stored ones are acked).
 */
static void
ingest_fail_batch(struct agent *a, int err, unsigned stored)
{
	struct conn	*c;
	char		 msg[200];
	unsigned	 i;

	for (i = stored; i < a->batch_events; i++)
		if (a->bents[i].c->fail_first == 0)
			a->bents[i].c->fail_first = a->bents[i].seq;
	TAILQ_FOREACH(c, &a->conns, entry) {
		if (c->fail_first == 0)
			continue;
		snprintf(msg, sizeof msg, "events %llu..%llu could not be stored:"
		    " %s", (unsigned long long)c->fail_first,
		    (unsigned long long)c->batch_last, strerror(err));
		conn_error_range(c, "storage", msg, c->fail_first,
		    c->batch_last);
		c->fail_first = 0;
	}
}

/* Write the batch with one write(2), then send the waiting acks. */
void
ingest_commit(struct agent *a)
{
	struct conn	*c;
	unsigned	 before, stored;
	time_t		 now;
	uint64_t	 now_ms;
	int		 rolled = 0, err;
	struct queue_mark m;

	/*
	 * Frames a library may have taken over (they waited in our socket
	 * while we were stopped): race for them before writing.
	 */
	if (a->batch_events > 0 && ingest_claim_risky(a))
		(void)ingest_filter_batch(a);
	if (a->batch_events > 0) {
		queue_mark(a->q, &m);
		before = queue_active_events(a->q);
		if (before == 0)
			a->segment_started_us = timing_mono_us();
		/*
		 * A new segment will be opened: hand it the reserved
		 * descriptors, so clients holding every other one cannot make
		 * storage fail (server_reap takes them back).
		 */
		if (before == 0 || before + a->batch_events >=
		    QUEUE_ROLL_EVENTS || queue_active_bytes(a->q) +
		    a->batch.len >= QUEUE_ROLL_BYTES)
			ingest_fd_release(a);
		if (queue_append_part(a->q, a->batch.data, a->batch.len,
		    a->batch_events, &stored) == -1) {
			err = errno;
			a->ctr.write_errors++;
			a->ctr.storage_dropped += a->batch_events - stored;
			a->ctr.persisted += stored;
			ingest_storage_error(a, "cannot write to the queue", err);
			now = time(NULL);
			if (now - a->last_disk_warn >= DISK_WARN_INTERVAL_S) {
				errno = err;
				log_warn("cannot write %u event(s) to the queue",
				    a->batch_events - stored);
				a->last_disk_warn = now;
			}
			ingest_fail_batch(a, err, stored);
			if (stored > 0) {
				if (a->up != NULL)
					upload_set_tracked(a->up,
					    a->ctr.persisted);
				rolled = 1;	/* a roll came first */
			}
		} else {
			/*
			 * The write itself took long enough (a slow disk) for
			 * a library to give up on our ack: race now, and cut
			 * what it took over off again.
			 */
			if (ingest_claim_risky(a)) {
				if (queue_rewind(a->q, &m) == -1)
					/* Rolled meanwhile: stored twice. */
					a->ctr.takeover_dups +=
					    ingest_count_taken(a);
				else
					ingest_rewrite(a);
			}
			a->ctr.persisted += a->batch_events;
			if (a->up != NULL)
				upload_set_tracked(a->up, a->ctr.persisted);
			rolled = queue_active_events(a->q) !=
			    before + a->batch_events;
			a->last_write_us = timing_mono_us();
			if (queue_active_events(a->q) == 0)
				a->segment_started_us = a->last_write_us;
		}
		a->batch.len = 0;
		a->batch_events = 0;
		/* Rolls in this batch renamed files: make that durable once. */
		if (queue_sync_dir(a->q) == -1) {
			ingest_storage_error(a, "cannot fsync the queue "
			    "directory", errno);
			log_warn("cannot sync the queue directory");
		}
	}
	/*
	 * Every event frame received so far is now handled: ack it, asked or
	 * not, so a client (or an agent killed right after) leaves the
	 * smallest window of written-but-unconfirmed events. An unasked ack
	 * is only queued when nothing else waits to be sent, so a client
	 * that does not read is never flooded; conn_write_cb sends the
	 * latest one once it drains.
	 */
	now_ms = 0;
	TAILQ_FOREACH(c, &a->conns, entry) {
		c->batch_first = c->batch_last = 0;
		if (c->dead || (!c->flush_wanted &&
		    (c->acked_seq == c->seq || c->out.len > 0)))
			continue;
		if (c->flush_wanted) {
			c->flush_wanted = 0;
			c->ack_held = 0;
			conn_ack(c);
			continue;
		}
		if (now_ms == 0)
			now_ms = timing_mono_ms();
		if (now_ms < c->unasked_ack_ms + ACK_COALESCE_MS &&
		    ingest_arm_ack(a) == 0) {
			c->ack_held = 1;
			continue;
		}
		c->unasked_ack_ms = now_ms;
		c->ack_held = 0;
		conn_ack(c);
	}
	if (rolled && a->up != NULL)
		upload_kick(a->up, 0, NULL, NULL);
	if (queue_active_events(a->q) > 0)
		ingest_arm_roll(a);
	a->pass |= PASS_REAP;	/* dead connections of this batch may go */
}

/* Roll the active segment now and let the uploader know. */
void
ingest_roll(struct agent *a)
{
	int	r;

	if (a->batch_events > 0)
		ingest_commit(a);
	if ((r = queue_roll(a->q)) == -1)
		log_warn("cannot roll the active segment");
	a->synced_bytes = 0;
	a->holding = 0;
	(void)queue_sync_dir(a->q);
	if (r == 1 && a->up != NULL)
		upload_kick(a->up, 0, NULL, NULL);
	evtimer_del(a->roll_ev);
}

/* The uploader's retry found nothing ready: roll what was held back. */
int
ingest_roll_held(void *arg)
{
	struct agent	*a = arg;

	if (!a->holding)
		return 0;
	a->holding = 0;
	if (queue_active_events(a->q) == 0 && a->batch_events == 0)
		return 0;
	ingest_roll(a);
	return 1;
}

/*
 * Uploads cannot proceed (offline, server down, disabled): instead of
 * rolling, keep the active segment so sparse events share files (the
 * 50-file cap must not turn a day offline into loss), and make what it
 * holds durable off the loop (the syncer's fdatasync), as a roll would
 * have. The next commit arms the timer again; the uploader's next attempt
 * that finds nothing ready rolls it (ingest_roll_held).
 */
static void
ingest_hold(struct agent *a)
{
	int	fd;

	a->holding = 1;
	if (a->synced_bytes != queue_active_bytes(a->q) &&
	    a->settings.fsync == QUEUE_FSYNC_ROLL && a->syncer != NULL &&
	    (fd = queue_active_dup(a->q)) != -1) {
		if (syncer_sync(a->syncer, fd) == 0)
			a->synced_bytes = queue_active_bytes(a->q);
		else
			close(fd);
	}
}

/* Quiet-interval timer: roll when nothing was written for a while. */
void
ingest_roll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent	*a = arg;
	uint64_t	 now, quiet, age, want;
	struct timeval	 tv;

	if (queue_active_events(a->q) == 0)
		return;
	now = timing_mono_us();
	quiet = now - a->last_write_us;
	age = now - a->segment_started_us;
	want = (uint64_t)a->settings.roll_interval_ms * 1000;
	if (quiet + ROLL_SLACK_US >= want || age >= ROLL_MAX_AGE_S * 1000000ULL) {
		if (a->up != NULL && upload_held(a->up) &&
		    a->phase == AGENT_RUNNING) {
			ingest_hold(a);
			return;
		}
		ingest_roll(a);
		a->pass |= PASS_IDLE;
		return;
	}
	tv = timing_tv_us(want - quiet);
	evtimer_add(a->roll_ev, &tv);
}

/* Arm the quiet-interval roll timer if it is not armed. */
void
ingest_arm_roll(struct agent *a)
{
	struct timeval	tv;

	if (evtimer_pending(a->roll_ev, NULL))
		return;
	tv = timing_tv(a->settings.roll_interval_ms);
	evtimer_add(a->roll_ev, &tv);
}

/*
 * Descriptors held in reserve for new segments (a->reserve_fd, taken by
 * server.c): released just before the queue opens one, so clients holding
 * every other descriptor cannot make storage fail. server_reap takes them
 * back.
 */
void
ingest_fd_release(struct agent *a)
{
	unsigned	i;

	for (i = 0; i < AGENT_FD_RESERVE; i++)
		if (a->reserve_fd[i] > 0) {
			close(a->reserve_fd[i]);
			a->reserve_fd[i] = -1;
		}
}

/*
 * Say what a recovery pass did, and send what it made ready. Only
 * promotions finished there are "recovered"; those handed to the syncer
 * are reported when it is done (agent_synced), and a failed one never is.
 */
void
ingest_recovered(struct agent *a, const struct queue_recovery *r,
    const char *who)
{
	if (r->promoted > 0 || r->quarantined > 0)
		log_info("recovered %u segment(s) %s (%u quarantined)",
		    r->promoted, who, r->quarantined);
	if (r->handed > 0)
		log_debug("promoting %u segment(s) %s", r->handed, who);
	if (r->claims_restored > 0)
		log_info("restored %u stale upload claim(s)",
		    r->claims_restored);
	if (r->deleted_old > 0)
		log_warnx("deleted %u segment(s) older than %u days by name, "
		    "mtime and records (%llu event(s), counted as dropped)",
		    r->deleted_old, QUEUE_MAX_AGE_S / 86400,
		    (unsigned long long)r->dropped_old);
	if (r->promoted > 0 && a->up != NULL && a->opt.enabled)
		upload_kick(a->up, 0, NULL, NULL);
}
