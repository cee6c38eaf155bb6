/*
 * status.c — the agent's status snapshot, built in exactly one place
 * (PROTOCOL.md §7). The CLI renders it as text or JSON. Never includes
 * event contents.
 */
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "timing.h"

/* The counters of struct agent_counters that status shows, by name. */
static const struct {
	const char	*name;
	size_t		 off;
} status_ctrs[] = {
#define CTR(n)	{ #n, offsetof(struct agent_counters, n) }
	CTR(received), CTR(accepted), CTR(rejected), CTR(fields_dropped),
	CTR(redactions), CTR(persisted), CTR(storage_dropped),
	CTR(write_errors), CTR(peers_rejected), CTR(conns_evicted),
	CTR(conns_cut), CTR(bad_frames), CTR(takeover_claims),
	CTR(taken_over), CTR(takeover_dups), CTR(conns_over_mem),
	CTR(roll_errors), CTR(dirsync_errors), CTR(reads),
	CTR(coalesced_reads),
#undef CTR
};

/* Build the snapshot; caller owns the returned reference. */
json_t *
status_snapshot(struct agent *a)
{
	struct queue_stats	 st;
	json_t			*o, *q, *c, *r;
	unsigned		 k;

	if (queue_stats(a->q, &st) == -1)
		memset(&st, 0, sizeof st);
	o = json_pack("{s:s, s:I, s:I, s:s, s:s, s:b, s:b, s:I}",
	    "version", ATC_VERSION,
	    "pid", (json_int_t)getpid(),
	    "uptime_s", (json_int_t)((timing_mono_ms() - a->started_ms) / 1000),
	    "telemetry", a->opt.enabled ? "enabled" : "disabled",
	    "endpoint", a->opt.endpoint,
	    "socket_activated", a->socket_activated,
	    "auto_spawned", a->auto_spawned,
	    "clients", (json_int_t)(a->nclients - a->ndying));
	if (o == NULL)
		return NULL;
	if (!a->opt.enabled && a->opt.reason != NULL)
		json_object_set_new(o, "reason", json_string(a->opt.reason));
	json_object_set_new(o, "clients_max",
	    json_integer((json_int_t)conn_limit()));
	json_object_set_new(o, "watcher", json_string(watch_method()));
	json_object_set_new(o, "fsync", json_string(
	    a->settings.fsync == QUEUE_FSYNC_ALWAYS ? "always" :
	    a->settings.fsync == QUEUE_FSYNC_NEVER ? "never" : "roll"));
	q = json_pack("{s:I, s:I, s:I, s:s, s:I, s:I, s:I, s:I, s:I}",
	    "segments", (json_int_t)st.ready_segments,
	    "events", (json_int_t)st.ready_events,
	    "bytes", (json_int_t)st.ready_bytes,
	    "oldest", st.oldest,
	    "partial_segments", (json_int_t)st.partial_segments,
	    "partial_bytes", (json_int_t)st.partial_bytes,
	    "invalid_segments", (json_int_t)st.invalid_segments,
	    "claimed_segments", (json_int_t)st.claimed_segments,
	    "active_events", (json_int_t)queue_active_events(a->q));
	json_object_set_new(q, "foreign_files",
	    json_integer((json_int_t)st.foreign_files));
	json_object_set_new(o, "queue", q);
	c = json_object();
	for (k = 0; k < sizeof status_ctrs / sizeof status_ctrs[0]; k++)
		json_object_set_new(c, status_ctrs[k].name, json_integer(
		    (json_int_t)*(const uint64_t *)(const void *)
		    ((const char *)&a->ctr + status_ctrs[k].off)));
	json_object_set_new(c, "dropped", json_integer((json_int_t)
	    (queue_dropped(a->q) + a->ctr.storage_dropped)));
	if (a->up != NULL) {
		struct upload_counters uc;

		upload_counters(a->up, &uc);
		json_object_set_new(c, "uploaded_events",
		    json_integer((json_int_t)uc.events_uploaded));
		json_object_set_new(c, "uploaded_segments",
		    json_integer((json_int_t)uc.segments_posted));
		json_object_set_new(c, "upload_failures",
		    json_integer((json_int_t)uc.failures));
		upload_status(a->up, o);
	}
	if (a->exp != NULL)
		export_status(a->exp, o);
	json_object_set_new(o, "counters", c);
	/* Why storage fails (disk full, read-only, EIO), not only counters. */
	json_object_set_new(o, "storage", json_pack("{s:s?, s:I, s:I, s:I}",
	    "last_error", a->storage_error[0] != '\0' ? a->storage_error :
	    NULL, "last_error_unix_ms", (json_int_t)a->storage_error_ms,
	    "refused_events", (json_int_t)a->ctr.storage_dropped,
	    "write_errors", (json_int_t)a->ctr.write_errors));
	r = json_object();
	for (k = 0; k < SCRUB_NKINDS; k++)
		json_object_set_new(r, scrub_kind_names[k],
		    json_integer((json_int_t)a->ctr.redactions_kind[k]));
	json_object_set_new(o, "redactions_by_kind", r);
	json_object_set_new(o, "dropped_fields", json_deep_copy(a->dropped_fields));
	return o;
}
