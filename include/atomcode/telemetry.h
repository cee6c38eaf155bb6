/*
 * libatomcode-telemetry — the client shim linked by AtomCode processes.
 *
 * It sends usage events to atomcode-telemetryd over a Unix socket and, when
 * no agent answers, writes them to the shared on-disk queue itself. It never
 * blocks the caller for longer than the bounds documented below, never exits,
 * aborts, prints or installs signal handlers, and starts no threads. Every
 * function is safe to call from any thread (one mutex per handle).
 *
 * Ownership: strings passed in are copied; nothing returned must be freed
 * except the handle itself, by atc_close().
 */
#ifndef ATOMCODE_TELEMETRY_H
#define ATOMCODE_TELEMETRY_H

#include <stddef.h>
#include <stdint.h>

#include "telemetry-events.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * 2: struct atc_options starts with a size field, atc_last_error(), the
 * typed event builder (atc_event_*), scopes and atc_track_durable().
 */
#define ATC_API_VERSION 2

/* Errors. Stable values; atc_strerror() gives a human sentence. */
enum atc_err {
	ATC_OK = 0,
	ATC_E_INVAL = 1,	/* bad argument (NULL handle, empty event id) */
	ATC_E_NOMEM = 2,	/* out of memory */
	ATC_E_DISABLED = 3,	/* telemetry is disabled: nothing was done */
	ATC_E_JSON = 4,		/* payload or record is not one JSON object */
	ATC_E_SCHEMA = 5,	/* refused by the schema: atc_last_error() says why */
	ATC_E_IO = 6,		/* neither the agent nor the fallback took it */
	/* 7 and 8 were ATC_E_TIMEOUT and ATC_E_NOAGENT, never returned. */
};

/* Flags for atc_options.flags. */
#define ATC_F_NO_SPAWN		0x01	/* never auto-spawn the agent */
#define ATC_F_NO_REPO_ORIGIN	0x02	/* do not look at .git for repo_origin */
#define ATC_F_NO_AGENT		0x04	/* never use the socket: fallback only */

/*
 * Options for atc_open(). Start from ATC_OPTIONS_INIT (or zero it and set
 * size = sizeof(struct atc_options)), then set what you know. The library
 * reads only the first `size` bytes, so a program built against an older
 * header keeps working with a newer library: fields it does not know take
 * their defaults. size 0 is read as the API 2 layout (ATC_OPTIONS_SIZE_2).
 */
struct atc_options {
	size_t		 size;		/* sizeof(struct atc_options) */
	const char	*app_version;	/* e.g. "4.22.3"; NULL → "0.0.0" */
	const char	*mode;		/* headless|tui|ide|vscode|…; NULL = omit */
	int		 no_telemetry;	/* this invocation had --no-telemetry */
	const char	*provider;	/* vendor type, e.g. "openai" */
	const char	*provider_base_url;	/* → provider_host (host only) */
	const char	*model;
	const char	*account_id;	/* only when logged in */
	const char	*session_id;	/* uuid; NULL → launch_id */
	const char	*surface;
	const char	*cwd;		/* NULL → getcwd(); used for repo_origin */
	unsigned	 close_timeout_ms;	/* bound for atc_close(); 0 → 100 ms */
	unsigned	 flags;		/* ATC_F_* */
	/* API 2.1: */
	unsigned	 durable_timeout_ms;	/* atc_track_durable(); 0 → 500 ms */
};
#define ATC_OPTIONS_INIT	{ .size = sizeof(struct atc_options) }
/* The size of the API 2 layout (up to flags), the smallest accepted. */
#define ATC_OPTIONS_SIZE_2	(offsetof(struct atc_options, flags) + \
    sizeof(unsigned))

struct atc;

/* Counters of what happened to emitted events (per handle). */
struct atc_stats {
	uint64_t emitted;	/* accepted by atc_emit*() */
	uint64_t sent;		/* written to the agent socket */
	uint64_t buffered;	/* currently in the in-process buffer */
	uint64_t acked;		/* confirmed on disk by the agent */
	uint64_t fallback;	/* written to a fallback segment by this process */
	uint64_t rejected;	/* refused by the schema or by the agent */
	uint64_t lost;		/* could not be stored anywhere (disk error),
				   or deleted unsent by the queue budget
				   (50 files / 5 MiB) when this process's
				   fallback writes went over it */
	uint64_t reconnects;	/* successful reconnects to the agent */
	uint64_t spawns;	/* agents this handle started */
};

/*
 * Open a handle. Resolves opt-out (env, config, opt->no_telemetry); when
 * disabled the handle is inert: no file and no socket is touched and every
 * emit returns ATC_E_DISABLED. *out is set in both cases; free with
 * atc_close(). Returns ATC_OK or ATC_E_NOMEM/ATC_E_INVAL.
 */
enum atc_err atc_open(const struct atc_options *opt, struct atc **out);

/* Whether the handle sends anything; *reason (borrowed) gets the opt-out reason. */
int atc_enabled(struct atc *h, const char **reason);

/* Envelope setters; NULL clears. Values are copied. */
enum atc_err atc_set_mode(struct atc *h, const char *mode);
enum atc_err atc_set_provider(struct atc *h, const char *provider,
    const char *base_url, const char *model);
enum atc_err atc_set_account(struct atc *h, const char *account_id);
enum atc_err atc_set_session(struct atc *h, const char *session_id);
enum atc_err atc_set_surface(struct atc *h, const char *surface);
/* Turn counters; a negative value means "absent" (omitted from records). */
enum atc_err atc_set_counters(struct atc *h, int64_t turn, int64_t round,
    int64_t request);

/*
 * Emit one event: event_id (ATC_EV_*, atomcode/telemetry-events.h) plus the
 * payload fields as a JSON object text (NULL or "{}" for none). The
 * envelope is added by the library. Never blocks. The typed builder below
 * (atc_event_*, atc_track) does the same without writing JSON.
 */
enum atc_err atc_emit(struct atc *h, const char *event_id, const char *payload);

/* Emit a complete record (one JSON object, envelope included) unchanged. */
enum atc_err atc_emit_raw(struct atc *h, const char *record, size_t len);

/*
 * Ask the agent to confirm everything sent so far, waiting at most
 * timeout_ms; whatever is unconfirmed then goes to a fallback segment.
 * ATC_OK: all confirmed or safely in fallback.
 */
enum atc_err atc_flush(struct atc *h, unsigned timeout_ms);

/* Flush with the close bound, then free the handle. NULL is a no-op. */
enum atc_err atc_close(struct atc *h);

/*
 * Copy the handle's counters into the first size bytes of *st (a struct
 * from an older header is smaller: later counters are not written).
 * atc_get_stats(h, st) passes sizeof(*st); the function of that name
 * (API 2.0, no size) stays for programs built before.
 */
void atc_get_stats_size(struct atc *h, struct atc_stats *st, size_t size);
void (atc_get_stats)(struct atc *h, struct atc_stats *st);
#define atc_get_stats(h, st)	atc_get_stats_size((h), (st), sizeof(*(st)))

/* A buffer of this size always holds the first-run notice. */
#define ATC_NOTICE_MAX 512

/*
 * The first-run notice upstream AtomCode shows once per user. When
 * telemetry is enabled for h and <atomcode_dir>/.telemetry_notice_shown
 * does not exist, creates that empty marker (of any number of concurrent
 * callers, in any processes, exactly one gets the text) and copies the
 * notice into buf: the exact bytes upstream writes to stderr (two lines and
 * a blank line), to be written as they are, e.g. fputs(buf, stderr).
 * Otherwise buf is set to "". The library never prints it.
 * Returns ATC_OK (buf may be ""); ATC_E_DISABLED when telemetry is off for
 * h (nothing is created; buf is ""); ATC_E_INVAL for a NULL h or buf or
 * len < ATC_NOTICE_MAX; ATC_E_IO when the marker could not be created: buf
 * holds the notice anyway (show it: the user must be told), and it will be
 * offered again next time. Under sudo the marker is never created (the
 * library creates no file in the user's directory): the notice is offered
 * until a normal run shows it.
 */
enum atc_err atc_first_run_notice(struct atc *h, char *buf, size_t len);

/* A static human description of an error code. */
const char *atc_strerror(enum atc_err e);

/*
 * Why the last refused event was refused. A refusal is known at once when
 * the library itself refuses (unknown event, bad payload, a typed field
 * that breaks its rule, a record the fallback validator rejects) and, for
 * events the agent refuses, once its error frame is read: atc_flush()
 * first to see those. Set size = sizeof(struct atc_error_info); the
 * library fills only the first `size` bytes.
 */
struct atc_error_info {
	size_t		size;		/* sizeof(struct atc_error_info) */
	enum atc_err	err;		/* ATC_E_SCHEMA, ATC_E_JSON, …; ATC_OK: none */
	char		code[32];	/* refusal code of proto/PROTOCOL.md §5:
					   "unknown_event", "bad_type", … */
	char		field[64];	/* the field concerned, "" if none */
	char		event_id[48];	/* the event's id when known */
	char		rule[256];	/* what the field must be, from the schema */
	uint64_t	refused;	/* events refused by this handle so far */
};

/*
 * Copy the last refusal into *out. Returns 1 when an event was refused
 * since atc_open(), else 0 (and out->err = ATC_OK).
 */
int atc_last_error(struct atc *h, struct atc_error_info *out);

/*
 * Typed events. A builder fills the payload of one event with the field
 * names and JSON types of the schema (atomcode/telemetry-events.h lists
 * every event and field), so no caller writes JSON. Each setter checks the
 * field against the event's schema and refuses what the agent would refuse
 * (ATC_E_SCHEMA, details in atc_last_error_event()); a string longer than a
 * field that truncates is kept and cut by the validator. Setting a field
 * again replaces it. The builder is independent of any handle; reuse it
 * with atc_event_reset().
 */
struct atc_event;

/* A builder for event_id; *out is NULL on error. Free with atc_event_free(). */
enum atc_err atc_event_new(const char *event_id, struct atc_event **out);
/* Start over with another (or the same) event id. */
enum atc_err atc_event_reset(struct atc_event *ev, const char *event_id);
void atc_event_free(struct atc_event *ev);
/* String, uuid, enum and identifier fields (value copied). */
enum atc_err atc_event_str(struct atc_event *ev, const char *field,
    const char *value);
/* Unsigned integer fields (u32 fields refuse values above UINT32_MAX). */
enum atc_err atc_event_uint(struct atc_event *ev, const char *field,
    uint64_t value);
/* Boolean fields. */
enum atc_err atc_event_bool(struct atc_event *ev, const char *field,
    int value);
/* Array-of-strings fields (backtrace_top_5): n values, copied. */
enum atc_err atc_event_strv(struct atc_event *ev, const char *field,
    const char *const *values, size_t n);
/* Why the builder's last setter or check failed (same shape as above). */
int atc_last_error_event(const struct atc_event *ev,
    struct atc_error_info *out);

/*
 * A scope: envelope values for the events of one request or task, over
 * the handle's own (set with atc_set_*). NULL or "" strings and negative
 * counters mean "the handle's value". Start from ATC_SCOPE_INIT.
 */
struct atc_scope {
	size_t		 size;		/* sizeof(struct atc_scope) */
	const char	*mode;
	const char	*session_id;	/* uuid */
	const char	*provider;
	const char	*provider_host;	/* a host name, sent as is */
	const char	*model;
	const char	*surface;
	const char	*repo_host;	/* gitcode|atomgit|github|gitlab|other|none */
	int		 repo_has_git;	/* with repo_host */
	int64_t		 turn;		/* < 0: the handle's */
	int64_t		 round;
	int64_t		 request;
};
#define ATC_SCOPE_INIT	{ .size = sizeof(struct atc_scope), .turn = -1, \
    .round = -1, .request = -1 }

/*
 * Emit the event built in ev with the envelope added, under scope (NULL:
 * none). Checks that every required field is set first (ATC_E_SCHEMA,
 * "missing_field"). Never blocks, like atc_emit(). ev is not consumed.
 */
enum atc_err atc_track(struct atc *h, const struct atc_event *ev,
    const struct atc_scope *scope);

/*
 * Emit and make the event durable before returning, as upstream's
 * track_durable: the agent confirms it on disk, or, when it does not within
 * durable_timeout_ms, the event (and everything still unconfirmed) is
 * written to a fallback segment that is synced and made ready. Blocks up to
 * that bound plus one fsync. ATC_OK: the event is on disk.
 */
enum atc_err atc_track_durable(struct atc *h, const struct atc_event *ev,
    const struct atc_scope *scope);

#ifdef __cplusplus
}
#endif
#endif /* ATOMCODE_TELEMETRY_H */
