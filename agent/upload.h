/*
 * upload — the HTTPS uploader: libcurl multi-socket driven by the agent's
 * libevent loop (no threads, nothing blocking). One segment per POST.
 * States: IDLE (nothing to send) → INFLIGHT → IDLE, or → BACKOFF/PAUSED
 * (timer armed) → INFLIGHT. Nothing is armed while the queue is empty.
 */
#ifndef AGENT_UPLOAD_H
#define AGENT_UPLOAD_H

#include <stdint.h>

#include <event2/event.h>
#include <jansson.h>

#include "queue.h"

struct upload_config {
	int		 enabled;	/* telemetry enabled: 0 → never upload */
	const char	*endpoint;	/* POST URL (copied) */
	const char	*ca_file;	/* "" or NULL = system store (copied) */
	unsigned	 timeout_s;	/* whole request, default 10 */
	unsigned	 connect_timeout_s;
	unsigned	 backoff_scale_pct;	/* 100 = real backoff; tests use less */
	unsigned	 max_retry_after_s;	/* cap for Retry-After (86400) */
	const char	*state_path;	/* persisted pause/backoff state (copied) */
	const char	*health_path;	/* upstream health.json (copied) */
	const char	*user_agent_version;	/* "0.1.0" */
};
/* Environment: ATOMCODE_PROXY_MODE=no_proxy disables every proxy; otherwise
 * libcurl's http_proxy/HTTPS_PROXY/ALL_PROXY/NO_PROXY apply. */

/*
 * Outcome callback for upload_kick (flush --wait). Called exactly once per
 * kick that passed a cb, always from the event loop (never from inside
 * upload_kick), with result one of:
 *   "ok"       the queue was drained, every segment delivered
 *   "empty"    nothing was ready to send
 *   "rejected" drained, but the server refused some segment (400/413 of a
 *              single record): quarantined as .invalid
 *   "failed"   a transient failure; a retry is scheduled (http_status 0 for
 *              a transport error, error says what)
 *   "paused"   the server asked for quiet (401/403, 429/503 Retry-After)
 *   "backoff"  now=0 and a retry timer is pending: nothing attempted
 *   "disabled" telemetry is disabled
 *   "aborted"  upload_abort/upload_free ran first
 * error is borrowed for the call only; http_status is the last HTTP status
 * seen in the attempt (0 if none). The callback may kick again but must not
 * free the uploader.
 */
typedef void (*upload_done_cb)(void *arg, const char *result, long http_status,
    const char *error);

struct uploader;

/* Create the uploader on base over queue q. NULL on error (logged). */
struct uploader *upload_new(struct event_base *base, struct queue *q,
	    const struct upload_config *cfg);
/* Apply new settings (SIGHUP / reload). */
void	upload_reconfigure(struct uploader *u, const struct upload_config *cfg);
/*
 * Something is ready (a segment rolled) or the user asked to upload now.
 * now=1 ignores a backoff timer (not a server-requested pause). cb, if not
 * NULL, is called once when this attempt (or the whole drain) ends.
 */
void	upload_kick(struct uploader *u, int now, upload_done_cb cb, void *arg);
/* 1 when nothing is in flight and no timer is armed. */
int	upload_idle(struct uploader *u);
/*
 * 1 while uploads cannot proceed: disabled, or the last attempt failed or
 * was paused (offline, server down, Retry-After) and none succeeded since.
 * The agent then keeps appending to its active segment instead of rolling
 * it after a quiet interval (sparse events offline stay in few files).
 */
int	upload_held(struct uploader *u);
/*
 * fn is called when an attempt finds nothing ready: if the writer held
 * events back while uploads were held, it rolls them and returns 1 (ready
 * now, or after the syncer, which kicks); else 0.
 */
void	upload_set_roll_cb(struct uploader *u, int (*fn)(void *), void *arg);
/* Add "upload" state and counters to the status object obj. */
void	upload_status(struct uploader *u, json_t *obj);
/*
 * Shutdown: abort any transfer, restore its claim, persist state and
 * health.json, answer pending callbacks "aborted". Later kicks are refused.
 */
void	upload_abort(struct uploader *u);
/* Free (after upload_abort). */
void	upload_free(struct uploader *u);
/* Set the events_tracked value written to health.json (upstream field). */
void	upload_set_tracked(struct uploader *u, uint64_t n);
/* Cumulative counters for status/health. */
struct upload_counters {
	uint64_t	segments_posted, events_uploaded, bytes_sent, failures;
	int64_t		last_post_unix_ms;
};
void	upload_counters(struct uploader *u, struct upload_counters *c);
/*
 * A second destination (export.c) takes its copy of every ready segment:
 * fn(arg, now) runs at every upload_kick and right before every claim, on
 * the loop. NULL removes it.
 */
typedef void (*upload_ready_hook)(void *arg, int now);
void	upload_set_ready_hook(struct uploader *u, upload_ready_hook fn,
	    void *arg);
#endif
