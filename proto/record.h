/*
 * record — the record schema (schema_version 1, as upstream) and its
 * single-pass validator. Shared by agent (ingest) and shim (fallback).
 *
 * The validator scans the JSON text once without building a tree, checks
 * every field name, type, enum and length against the table for the
 * record's event_id, scrubs free-text strings, and appends the canonical
 * compact record + '\n' to an output buffer. When the input is already
 * canonical (compact, no unknown fields, nothing scrubbed) the output is the
 * input bytes unchanged.
 */
#ifndef PROTO_RECORD_H
#define PROTO_RECORD_H
#include <stddef.h>

#include "buf.h"
#include "scrub.h"

#define REC_MAX_FIELDS	64	/* more top-level fields → REC_E_TOO_MANY */
#define REC_MAX_DROPPED	8	/* dropped field names reported per record */

/*
 * The validator's verdicts and their stable codes (the protocol's error
 * frames, PROTOCOL.md §5): one list, from which enum rec_err and
 * rec_code() are both made.
 */
#define REC_ERRORS(X)							\
	X(REC_OK, "ok")							\
	X(REC_E_JSON, "bad_json")	/* not well-formed JSON */	\
	X(REC_E_UTF8, "bad_utf8")	/* invalid UTF-8 */		\
	X(REC_E_NOT_OBJECT, "not_object") /* top level not an object */ \
	X(REC_E_NO_EVENT_ID, "missing_event_id")			\
	X(REC_E_UNKNOWN_EVENT, "unknown_event")				\
	X(REC_E_MISSING, "missing_field") /* a required field absent */ \
	X(REC_E_TYPE, "bad_type")	/* wrong JSON type */		\
	X(REC_E_VALUE, "bad_value")	/* enum/uuid/range violation */	\
	X(REC_E_TOO_LONG, "too_long")	/* string/array over its bound */ \
	X(REC_E_DUPLICATE, "duplicate_field")				\
	X(REC_E_TOO_MANY, "too_many_fields")				\
	X(REC_E_NOMEM, "internal")

enum rec_err {
#define REC_ERROR_ID(id, code)	id,
	REC_ERRORS(REC_ERROR_ID)
#undef REC_ERROR_ID
	REC_NERR
};

/* Stable code string for an error (as used in protocol error frames). */
const char *rec_code(enum rec_err e);

/* Outcome details of one validation. Name pointers borrow from the input. */
struct rec_result {
	enum rec_err	 err;
	char		 field[64];	/* offending field (errors), "" if none */
	char		 event_id[48];	/* the record's event_id when known */
	unsigned	 ndropped;	/* unknown fields dropped */
	const char	*dropped[REC_MAX_DROPPED];	/* their names (borrowed) */
	size_t		 dropped_len[REC_MAX_DROPPED];
	unsigned	 redactions[SCRUB_NKINDS];
	int		 rewritten;	/* output differs from input */
};

/*
 * Validate the record in in[0..len). On REC_OK the canonical record and a
 * trailing '\n' were appended to out; on error out is left as it was and res
 * says why. sc may be NULL (no home/cwd scrubbing; other rules still apply).
 */
enum rec_err rec_validate(const char *in, size_t len, const struct scrub_ctx *sc,
	    struct buf *out, struct rec_result *res);

/* 1 if id is one of the 11 known event ids. */
int	rec_known_event(const char *id, size_t len);

/*
 * Check a stored queue line the way recovery does (proto/queue.c): a JSON object
 * with a string event_id and an integer ts that fits int64. 1 if it passes.
 */
int	rec_line_ok(const char *line, size_t len);
/*
 * Read-only access to the schema tables (the single source: the typed
 * builder in client/event.c, the generated header and man page, and the
 * validator all read them). Kinds and flags mirror the table's.
 */
enum rec_kind {
	REC_K_STR,	/* string, at most max bytes (or characters) */
	REC_K_UUID,	/* lowercase hyphenated UUID string */
	REC_K_U32,
	REC_K_U64,
	REC_K_I64,
	REC_K_SCHEMA,	/* the integer 1 */
	REC_K_BOOL,
	REC_K_ENUM,	/* a string from enumv */
	REC_K_IDENT,	/* [a-z0-9_]{1,max} */
	REC_K_REPO,	/* {"host": enum, "has_git": bool} */
	REC_K_STRARR	/* array of at most REC_BT_ENTRIES strings */
};
#define REC_FD_SCRUB	0x01	/* free text: scrubbed */
#define REC_FD_TRUNC	0x02	/* over max: truncated (else too_long) */
#define REC_FD_CHARS	0x04	/* max counts characters, not bytes */
#define REC_FD_SHAPE	0x08	/* outside its known values: "<custom>" */
#define REC_BT_ENTRIES	5	/* entries of a REC_K_STRARR */

struct rec_field {
	const char		*name;
	enum rec_kind		 kind;
	unsigned		 flags;		/* REC_FD_* */
	unsigned		 max;		/* see kind and flags; 0: none */
	const char *const	*enumv;		/* REC_K_ENUM: NULL-terminated */
	int			 required;
};

/* Number of events; their index runs 0..n-1 in table order. */
unsigned	rec_event_count(void);
/* Name of event i, or NULL past the end. */
const char	*rec_event_name(unsigned i);
/* Index of event id[0..len), or -1. */
int		rec_event_index(const char *id, size_t len);
/*
 * The k-th payload field of event ev (wire order) into *f: 1, or 0 past the
 * end. Per-event overrides (an enum in place of an identifier) are applied.
 */
int		rec_event_field(unsigned ev, unsigned k, struct rec_field *f);
/* Payload field name[0..len) of event ev into *f: 1, or 0 if not its. */
int		rec_event_find(unsigned ev, const char *name, size_t len,
		    struct rec_field *f);
/* The k-th envelope field (event_id included) into *f: 1, or 0 past the end. */
int		rec_envelope_field(unsigned k, struct rec_field *f);
/* Name of a kind as the man page writes it ("u32", "uuid", ...). */
const char	*rec_kind_name(enum rec_kind k);
#endif
