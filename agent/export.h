/*
 * export — the second destination: every record queued for the vendor also
 * goes, as an OTLP log record, to an OpenTelemetry Collector (or any
 * OTLP/HTTP receiver) named by [export] otlp_endpoint in telemetryd.conf.
 *
 * Each ready segment of the vendor queue is hard-linked into
 * telemetry/export-otlp/queue/ as soon as the agent sees it (whenever the
 * vendor uploader is kicked, and right before each vendor claim), so each
 * destination claims, sends and removes its own link: neither can block or
 * lose the other's events. The export side never deletes a link whose file
 * the vendor side still holds: it renames it to a tombstone (<stem>.sent,
 * .evicted, .skip), so the link count of the vendor's file says "already
 * taken"; tombstones whose vendor file is gone (link count 1) are removed.
 * Own claim state, backoff, Retry-After, counters and state file
 * (telemetry/export-otlp/state.json); the caps (50 files, 5 MiB) apply to
 * this directory on its own.
 */
#ifndef AGENT_EXPORT_H
#define AGENT_EXPORT_H

#include <stddef.h>

#include <event2/event.h>
#include <jansson.h>

/* Under $ATOMCODE_HOME/telemetry; proto/queue.h QUEUE_MIRROR_DIR names it too. */
#define EXPORT_DIR_NAME	"export-otlp"

struct export_config {
	int		 enabled;	/* telemetry enabled: 0 → never send */
	const char	*endpoint;	/* OTLP/HTTP logs URL (copied) */
	const char	*headers;	/* "k=v,k2=v2" (OTEL_EXPORTER_OTLP_HEADERS) */
	const char	*ca_file;	/* "" = system store */
	unsigned	 timeout_s, connect_timeout_s;
	unsigned	 backoff_scale_pct, max_retry_after_s;
	const char	*user_agent_version;
};

struct exporter;

/*
 * Start exporting: vendor_queue is the queue directory to mirror, dir the
 * export directory (created 0700). NULL with a sentence in cause.
 */
struct exporter *export_new(struct event_base *base, const char *vendor_queue,
	    const char *dir, const struct export_config *cfg, char *cause,
	    size_t causelen);
/* Apply new settings (reload). -1 (cause) keeps the old ones. */
int	export_reconfigure(struct exporter *x, const struct export_config *cfg,
	    char *cause, size_t causelen);
/*
 * Take a link to every vendor segment not taken yet, collect tombstones,
 * apply the caps, and send (now=1 skips a backoff timer, never a pause).
 * Called from the vendor uploader's hook, on the loop.
 */
void	export_seen(struct exporter *x, int now);
/*
 * The vendor queue made segment name ready from records it already held
 * (a 413 split): mark it taken, so its records are not exported twice.
 */
void	export_derived(struct exporter *x, const char *name);
/* 1 when nothing is in flight and no timer is armed. */
int	export_idle(struct exporter *x);
/* Add "export" (state, counters, pending) to the status object. */
void	export_status(struct exporter *x, json_t *obj);
/* Shutdown: abort the transfer, give its claim back, persist the state. */
void	export_abort(struct exporter *x);
void	export_free(struct exporter *x);

/*
 * Check an endpoint: http(s) only, plain http only to a loopback host
 * unless allow_http. 0, or -1 with a sentence in err.
 */
int	export_check_endpoint(const char *url, int allow_http, char *err,
	    size_t errlen);
/*
 * Check a header list "name=value,name2=value2" (values percent-decoded,
 * names HTTP tokens, no control characters). 0, or -1 with err.
 */
int	export_check_headers(const char *spec, char *err, size_t errlen);
/*
 * Parse it into "Name: value" lines, each ended by '\n' (a value cannot
 * hold one), appended to out (NULL: check only). 0, or -1 with err.
 */
struct buf;
int	export_headers_parse(const char *spec, struct buf *out, char *err,
	    size_t errlen);
#endif
