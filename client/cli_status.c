/*
 * cli_status.c — `atomcode-telemetry status [--json]`: gathers the local
 * view (opt-out, config, queue on disk, health.json) and the agent's
 * snapshot into one JSON object, then renders it with one printer for text
 * (upstream lines first, README "CLI") and one for JSON. Never starts an agent.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "fsio.h"
#include "notice.h"

/* "never" | "<n>s ago" | "<n>min ago" | "<n>h ago" (upstream rules). */
static void
cli_ago(int64_t unix_ms, char *out, size_t len)
{
	int64_t	s;

	if (unix_ms <= 0) {
		snprintf(out, len, "never");
		return;
	}
	s = (int64_t)time(NULL) - unix_ms / 1000;
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(out, len, "%llds ago", (long long)s);
	else if (s < 3600)
		snprintf(out, len, "%lldmin ago", (long long)(s / 60));
	else
		snprintf(out, len, "%lldh ago", (long long)(s / 3600));
}

static json_int_t
ji(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* Build the combined status object. Caller decrefs. */
static json_t *
cli_status_gather(const struct paths *p)
{
	struct tconfig		 cfg;
	struct optout		 o;
	struct queue		*q;
	struct queue_stats	 st;
	static const char *const copied[] = { "counters", "upload", "storage",
	    "export", "redactions_by_kind", "dropped_fields" };
	json_t			*s, *jq, *ag, *req, *snap, *health;
	char			 warn[512];
	long			 lockpid;
	size_t			 i;
	int			 running, r, fd;

	/* What this invocation resolves: the library's own view. */
	(void)config_resolve(p->config, cli_no_telemetry, &cfg, &o);
	s = json_pack("{s:s, s:s, s:i}", "telemetry", o.enabled ? "enabled" :
	    "disabled", "endpoint", o.endpoint, "schema", 1);
	if (!o.enabled)
		json_object_set_new(s, "reason", json_string(o.reason));
	json_object_set_new(s, "config", json_pack("{s:s, s:s, s:b}",
	    "enabled", cfg.unreadable ? "unknown" : cfg.enabled == 1 ? "true" :
	    cfg.enabled == 0 ? "false" : "default-true", "path", p->config,
	    "parsed", !cfg.exists || cfg.parsed));
	config_warning(&cfg, warn, sizeof warn);
	if (warn[0] != '\0') {
		json_object_set_new(json_object_get(s, "config"), "warning",
		    json_string(warn));
		json_object_set_new(json_object_get(s, "config"), "error",
		    json_string(cfg.error));
	}

	json_object_set_new(s, "notice", json_pack("{s:b, s:s}", "shown",
	    notice_shown(p), "path", p->notice));

	jq = json_object();
	memset(&st, 0, sizeof st);
	r = cli_queue_open(p, QUEUE_O_RDONLY, &q);
	json_object_set_new(jq, "exists", json_boolean(r != 1));
	if (r == 0) {
		queue_stats(q, &st);
		json_object_set_new(jq, "dropped",
		    json_integer((json_int_t)queue_dropped(q)));
		queue_close(q);
	}
	json_object_set_new(jq, "events", json_integer((json_int_t)st.ready_events));
	json_object_set_new(jq, "segments",
	    json_integer((json_int_t)st.ready_segments));
	json_object_set_new(jq, "bytes", json_integer((json_int_t)st.ready_bytes));
	/* partial_* of queue_stats include the quarantined (.invalid). */
	json_object_set_new(jq, "partial_segments",
	    json_integer((json_int_t)(st.partial_segments - st.invalid_segments)));
	json_object_set_new(jq, "partial_bytes",
	    json_integer((json_int_t)(st.partial_bytes - st.invalid_bytes)));
	json_object_set_new(jq, "invalid_segments",
	    json_integer((json_int_t)st.invalid_segments));
	json_object_set_new(jq, "invalid_bytes",
	    json_integer((json_int_t)st.invalid_bytes));
	json_object_set_new(jq, "oldest", json_string(st.oldest));
	json_object_set_new(jq, "foreign_files",
	    json_integer((json_int_t)st.foreign_files));
	json_object_set_new(s, "queue", jq);

	/* Read-only and non-blocking: a FIFO there is skipped, not waited on. */
	health = NULL;
	if ((fd = fsio_open(AT_FDCWD, p->health, O_RDONLY, 0, FSIO_USER)) !=
	    -1) {
		health = json_loadfd(fd, 0, NULL);
		close(fd);
	}
	if (health != NULL && json_is_object(health))
		json_object_set_new(s, "health", health);
	else
		json_decref(health);

	req = json_pack("{s:s}", "op", "status");
	snap = cli_request(p, req, 2000, &running);
	json_decref(req);
	ag = json_pack("{s:b}", "running", snap != NULL);
	if (snap != NULL) {
		json_object_set(ag, "pid", json_object_get(snap, "pid"));
		json_object_set(ag, "version", json_object_get(snap, "version"));
		json_object_set(ag, "uptime_s", json_object_get(snap, "uptime_s"));
		json_object_set(ag, "clients", json_object_get(snap, "clients"));
		json_object_set(ag, "clients_max", json_object_get(snap,
		    "clients_max"));
		json_object_set(ag, "telemetry", json_object_get(snap, "telemetry"));
		if (json_object_get(snap, "reason") != NULL)
			json_object_set(ag, "reason", json_object_get(snap,
			    "reason"));
		/* The endpoint that matters is the one the agent uses. */
		if (json_is_string(json_object_get(snap, "endpoint"))) {
			json_object_set_new(s, "endpoint_here",
			    json_string(o.endpoint));
			json_object_set(s, "endpoint", json_object_get(snap,
			    "endpoint"));
		}
		json_object_set(ag, "fsync", json_object_get(snap, "fsync"));
		json_object_set(ag, "watcher", json_object_get(snap, "watcher"));
		/* Taken as they are when the agent sends them. */
		for (i = 0; i < sizeof copied / sizeof copied[0]; i++)
			if (json_object_get(snap, copied[i]) != NULL)
				json_object_set(s, copied[i],
				    json_object_get(snap, copied[i]));
		json_object_set(jq, "active_events",
		    json_object_get(json_object_get(snap, "queue"),
		    "active_events"));
		json_decref(snap);
	} else if (running)
		json_object_set_new(ag, "error", json_string("did not answer"));
	if (snap == NULL && (lockpid = cli_agent_lock_pid(p)) > 0) {
		/* Alive (it holds its lifetime lock) but not answering. */
		json_object_set_new(ag, "error", json_string("did not answer"));
		json_object_set_new(ag, "pid", json_integer(lockpid));
		json_object_set_new(ag, "alive", json_true());
	}
	json_object_set_new(s, "agent", ag);
	return s;
}

/*
 * " (HTTP 500)", " (HTTP 500: <error>)", " (<error>)" or nothing: an error
 * that only repeats the status is not printed twice.
 */
void
cli_http_outcome(long long status, const char *err)
{
	char	same[32];

	snprintf(same, sizeof same, "HTTP %lld", status);
	if (err != NULL && (*err == '\0' || strcmp(err, same) == 0))
		err = NULL;
	if (status > 0 && err != NULL)
		printf(" (HTTP %lld: %s)", status, err);
	else if (status > 0)
		printf(" (HTTP %lld)", status);
	else if (err != NULL)
		printf(" (%s)", err);
}

/* Say so when the agent's telemetry state is not this invocation's. */
static void
cli_status_differs(json_t *s, json_t *ag)
{
	const char	*here = json_string_value(json_object_get(s, "telemetry"));
	const char	*there = json_string_value(json_object_get(ag,
			    "telemetry"));
	const char	*why;

	if (here == NULL || there == NULL || strcmp(here, there) == 0)
		return;
	if (strcmp(here, "enabled") == 0) {
		why = json_string_value(json_object_get(ag, "reason"));
		printf("Note:      the agent has telemetry disabled (reason: %s)"
		    ", here it is enabled: restart or reload the agent\n",
		    why != NULL ? why : "?");
	} else {
		why = json_string_value(json_object_get(s, "reason"));
		printf("Note:      the agent has telemetry enabled, here it is"
		    " disabled (reason: %s): this shell sends nothing and"
		    " asks for no upload\n", why != NULL ? why : "?");
	}
}

/* "Redacted:  path 3, secret 1" — placeholders by kind, when any. */
static void
cli_status_redacted(json_t *by)
{
	const char	*k;
	json_t		*v;
	int		 n = 0;

	json_object_foreach(by, k, v) {
		if (json_integer_value(v) <= 0)
			continue;
		printf("%s%s %lld", n++ ? ", " : "Redacted:  ", k,
		    (long long)json_integer_value(v));
	}
	if (n > 0)
		printf("\n");
}

/* "Export:" — the OTLP destination ([export] otlp_endpoint), if any. */
static void
cli_status_export(json_t *ex)
{
	char		 ago[32];
	const char	*str;
	json_int_t	 next;

	if (ex == NULL)
		return;
	cli_ago(ji(ex, "last_unix_ms"), ago, sizeof ago);
	str = json_string_value(json_object_get(ex, "endpoint"));
	printf("Export:    OTLP %s; ", str != NULL ? str : "?");
	str = json_string_value(json_object_get(ex, "state"));
	printf("%s; last: %s", str != NULL ? str : "?", ago);
	cli_http_outcome((long long)ji(ex, "last_status"),
	    json_string_value(json_object_get(ex, "last_error")));
	if ((next = ji(ex, "next_attempt_unix_ms")) > 0) {
		long long in = (long long)(next / 1000 - time(NULL));
		printf("; next attempt in %llds", in < 0 ? 0 : in);
	}
	printf("; sent %lld events, %lld pending, %lld evicted\n",
	    (long long)ji(ex, "events_uploaded"),
	    (long long)ji(ex, "pending_events"),
	    (long long)ji(ex, "evicted_events"));
}

/* The text printer: upstream lines first, values at column 11. */
static void
cli_status_text(json_t *s)
{
	json_t		*c = json_object_get(s, "config");
	json_t		*q = json_object_get(s, "queue");
	json_t		*ag = json_object_get(s, "agent");
	json_t		*h = json_object_get(s, "health");
	json_t		*ctr = json_object_get(s, "counters");
	json_t		*up = json_object_get(s, "upload");
	json_t		*sto = json_object_get(s, "storage");
	char		 ago[32];
	const char	*str;
	json_int_t	 next;

	if (strcmp(json_string_value(json_object_get(s, "telemetry")),
	    "enabled") == 0)
		printf("Telemetry: enabled\n");
	else
		printf("Telemetry: disabled (reason: %s)\n",
		    json_string_value(json_object_get(s, "reason")));
	printf("Config:    enabled = %s (%s)\n",
	    json_string_value(json_object_get(c, "enabled")),
	    json_string_value(json_object_get(c, "path")));
	if ((str = json_string_value(json_object_get(c, "warning"))) != NULL)
		printf("Warning:   %s\n", str);
	if (!json_is_true(json_object_get(q, "exists")))
		printf("Queue:     (empty)\n");
	else
		printf("Queue:     %lld events in %lld segment(s) (%.1f KB)\n",
		    (long long)ji(q, "events"), (long long)ji(q, "segments"),
		    (double)ji(q, "bytes") / 1024.0);
	if (ji(q, "partial_segments") > 0)
		printf("Partial:   %lld segment(s) not ready (%.1f KB)\n",
		    (long long)ji(q, "partial_segments"),
		    (double)ji(q, "partial_bytes") / 1024.0);
	if (ji(q, "foreign_files") > 0)
		printf("Ignored:   %lld file(s) of other users or writable by"
		    " everyone (never read or uploaded)\n",
		    (long long)ji(q, "foreign_files"));
	if (ji(q, "invalid_segments") > 0)
		printf("Invalid:   %lld segment(s) quarantined, never uploaded"
		    " (%.1f KB; `check` says why)\n",
		    (long long)ji(q, "invalid_segments"),
		    (double)ji(q, "invalid_bytes") / 1024.0);
	if (ji(q, "dropped") > 0)
		printf("Evicted:   %lld event(s) deleted unsent: the queue was"
		    " over its budget\n", (long long)ji(q, "dropped"));
	printf("Endpoint:  %s", json_string_value(json_object_get(s,
	    "endpoint")));
	if ((str = json_string_value(json_object_get(s, "endpoint_here"))) !=
	    NULL && strcmp(str, json_string_value(json_object_get(s,
	    "endpoint"))) != 0)
		printf(" (the agent's; this shell resolves %s)", str);
	printf("\n");
	printf("Schema:    v1\n");
	if (h != NULL) {
		cli_ago(ji(h, "last_post_unix_ms"), ago, sizeof ago);
		printf("Sent:      %lld segments / %.1f KB (last: %s)\n",
		    (long long)ji(h, "segments_posted"),
		    (double)ji(h, "bytes_sent") / 1024.0, ago);
		printf("Tracked:   %lld events\n",
		    (long long)ji(h, "events_tracked"));
		if (ji(h, "events_dropped_mpsc") + ji(h, "events_dropped_disk") > 0)
			printf("Dropped:   %lld mpsc, %lld disk\n",
			    (long long)ji(h, "events_dropped_mpsc"),
			    (long long)ji(h, "events_dropped_disk"));
	}
	printf("Notice:    %s\n", json_is_true(json_object_get(json_object_get(s,
	    "notice"), "shown")) ? "first-run notice shown" :
	    "first-run notice not shown yet");
	if (json_is_true(json_object_get(ag, "alive"))) {
		printf("Agent:     not answering (pid %lld holds the agent lock:"
		    " stopped or busy)\n", (long long)ji(ag, "pid"));
		return;
	}
	if (!json_is_true(json_object_get(ag, "running"))) {
		printf("Agent:     not running%s\n",
		    json_object_get(ag, "error") ? " (socket did not answer)" :
		    "");
		return;
	}
	printf("Agent:     running (pid %lld, up %llds, version %s, %lld"
	    " client(s))\n", (long long)ji(ag, "pid"),
	    (long long)ji(ag, "uptime_s"),
	    json_string_value(json_object_get(ag, "version")),
	    (long long)ji(ag, "clients"));
	cli_status_differs(s, ag);
	if (up != NULL) {
		str = json_string_value(json_object_get(up, "state"));
		cli_ago(ji(up, "last_unix_ms"), ago, sizeof ago);
		printf("Uploads:   %s; last: %s", str != NULL ? str : "?", ago);
		if (ji(up, "last_unix_ms") > 0)
			cli_http_outcome(ji(up, "last_status"),
			    json_string_value(json_object_get(up, "last_error")));
		next = ji(up, "next_attempt_unix_ms");
		if (next > 0 && (str == NULL || strcmp(str, "disabled") != 0)) {
			long long in = (long long)(next / 1000 - time(NULL));
			printf("; next attempt in %llds", in < 0 ? 0 : in);
			if ((str = json_string_value(json_object_get(up,
			    "next_reason"))) != NULL && *str)
				printf(" (%s)", str);
		}
		printf("\n");
	}
	if (sto != NULL && ji(sto, "last_error_unix_ms") > 0) {
		cli_ago(ji(sto, "last_error_unix_ms"), ago, sizeof ago);
		printf("Storage:   last failure %s: %s (%lld event(s) refused)"
		    "\n", ago, (str = json_string_value(json_object_get(sto,
		    "last_error"))) != NULL ? str : "?",
		    (long long)ji(sto, "refused_events"));
	}
	cli_status_export(json_object_get(s, "export"));
	if (ctr != NULL)
		printf("Counters:  received %lld, rejected %lld, persisted %lld,"
		    " uploaded %lld, dropped %lld, fields dropped %lld,"
		    " redactions %lld\n",
		    (long long)ji(ctr, "received"), (long long)ji(ctr, "rejected"),
		    (long long)ji(ctr, "persisted"),
		    (long long)ji(ctr, "uploaded_events"),
		    (long long)ji(ctr, "dropped"),
		    (long long)ji(ctr, "fields_dropped"),
		    (long long)ji(ctr, "redactions"));
	cli_status_redacted(json_object_get(s, "redactions_by_kind"));
}

/* `status [--json]`. */
int
cmd_status(const struct paths *p, int argc, char **argv)
{
	json_t	*s;
	char	*out;
	int	 asjson = argc > 1 && strcmp(argv[1], "--json") == 0;

	if (argc > 2 || (argc > 1 && !asjson)) {
		fprintf(stderr, "atomcode-telemetry: status: unknown argument"
		    " %s\n", argv[asjson ? 2 : 1]);
		return 2;
	}
	if ((s = cli_status_gather(p)) == NULL) {
		fprintf(stderr, "atomcode-telemetry: out of memory\n");
		return 1;
	}
	if (asjson) {
		out = json_dumps(s, JSON_COMPACT | JSON_SORT_KEYS);
		if (out != NULL)
			printf("%s\n", out);
		free(out);
	} else
		cli_status_text(s);
	json_decref(s);
	return 0;
}
