/*
 * envelope — the record envelope (proto/record.c) for the shim:
 * derivation of locale, os/arch, provider_host, and the rendering of a
 * record as one compact JSON object in declaration order (envelope fields,
 * then event_id, then the payload fields).
 *
 * The constant part of the envelope is rendered once (env_render) into two
 * pieces around "ts"; each record then costs two copies, one integer and the
 * payload members (no JSON tree per event: docs/ARCHITECTURE.md).
 */
#ifndef CLIENT_ENVELOPE_H
#define CLIENT_ENVELOPE_H
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "identity.h"
#include "repo.h"

#define ENV_STR_MAX	256	/* longest envelope string (model, …) */
#define ENV_LOCALE_MAX	64	/* longer locale values read as "en-US" */
#define ENV_JSON_DEPTH	32	/* deepest payload nesting accepted */
#define ENV_DEFAULT_LOCALE	"en-US"
#define ENV_DEFAULT_APP_VERSION	"0.0.0"

struct envelope {
	char		 device_id[UUID_STR_LEN];
	char		 launch_id[UUID_STR_LEN];
	char		 session_id[UUID_STR_LEN];
	char		*account_id;	/* owned; NULL: omitted */
	char		*app_version;	/* owned; NULL renders "0.0.0" */
	const char	*os;		/* static */
	const char	*arch;		/* static */
	char		 locale[ENV_LOCALE_MAX];
	char		*provider;	/* owned, NULL: omitted (also below) */
	char		*provider_host;
	char		*model;
	char		*mode;
	char		*surface;
	int64_t		 turn;		/* < 0: omitted */
	int64_t		 round;
	int64_t		 request;
	int		 repo_set;	/* repo_origin is present */
	struct repo_origin repo;
	struct buf	 head;	/* '{' … up to and including "ts": */
	struct buf	 tail;	/* ,"schema_version"… up to ,"event_id":" */
};

/* Defaults: nil uuids, compile-time os/arch, en-US, counters absent. */
void	env_init(struct envelope *e);
/* Free what the envelope owns; it may be env_init()ed again. */
void	env_free(struct envelope *e);
/*
 * Replace an owned string field with a copy of value (NULL clears). -1 with
 * EINVAL if value is longer than ENV_STR_MAX or not UTF-8, ENOMEM.
 */
int	env_set(char **field, const char *value);
/* Re-render the constant pieces after any field changed. 0 or -1 (ENOMEM). */
int	env_render(struct envelope *e);
/*
 * Append one record to out: the envelope with ts, then "event_id" (a known
 * id: no escaping is done), then the payload members (compact JSON object
 * members without braces, mlen may be 0). 0 or -1 (ENOMEM).
 */
int	env_record(const struct envelope *e, struct buf *out, int64_t ts,
	    const char *event_id, const char *members, size_t mlen);

/* Compile-time values: "macos|linux|windows|other", "x86_64|aarch64|other". */
const char *env_os(void);
const char *env_arch(void);
/* locale from LANG, then LC_ALL, as upstream; either may be NULL. */
void	env_locale(const char *lang, const char *lc_all, char *out,
	    size_t outlen);
/* The host of "scheme://[user@]host[:port]/…", lower-cased. 1 or 0. */
int	env_url_host(const char *url, char *out, size_t outlen);
/* provider_host: the URL's host, else the vendor's default. 1 or 0. */
int	env_provider_host(const char *vendor, const char *base_url, char *out,
	    size_t outlen);
/* 1 if mode is one of the schema's mode values (proto/record.c). */
int	env_mode_valid(const char *mode);
/* The i-th valid mode value, NULL past the last (for messages). */
const char *env_mode_name(size_t i);

/* Results of env_payload(). */
enum env_payload {
	ENV_P_OK = 0,
	ENV_P_JSON,		/* not exactly one well-formed JSON object */
	ENV_P_RESERVED,		/* a key names an envelope field or event_id */
};
/*
 * Check a caller's payload (one JSON object, UTF-8) and append its members
 * in compact form, without the braces, to members.
 */
enum env_payload env_payload(const char *p, size_t n, struct buf *members);
/* 1 if p[0..n) is exactly one well-formed JSON object (blanks around ok). */
int	env_json_object(const char *p, size_t n);

/*
 * Test hooks (internal; never set by production code). fixed: atc_open()
 * uses the golden values of env_test_fixed() and ts 0; sudo: behave as
 * under sudo (create no file).
 */
struct env_hooks {
	int	fixed;
	int	sudo;
};
extern struct env_hooks env_test_hooks;
/* The golden inputs: nil uuids, app 0.0.0, os macos, arch aarch64, en-US. */
void	env_test_fixed(struct envelope *e);
#endif
