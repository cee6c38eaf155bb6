/*
 * event — the typed event builder of the public API (atc_event_*) and the
 * refusal details of atc_last_error(): both read the schema tables of
 * proto/record.c through rec_event_field(), so a field's name, type, enum
 * and limit have one source.
 */
#ifndef CLIENT_EVENT_H
#define CLIENT_EVENT_H
#include <stddef.h>

#include "atomcode/telemetry.h"
#include "buf.h"
#include "record.h"

/* The builder's event id ("" before the first successful reset). */
const char	*event_id(const struct atc_event *ev);
/*
 * Append the builder's payload members (compact, no braces) to out. Checks
 * that every required field is set: ATC_OK, else ATC_E_SCHEMA with *err
 * filled ("missing_field"), or ATC_E_NOMEM.
 */
enum atc_err	 event_members(const struct atc_event *ev, struct buf *out,
		    struct atc_error_info *err);
/*
 * Fill *err (all of it: the library's own copy) for a refusal: code and
 * field as the protocol names them, event_id when known (may be NULL), and
 * the rule of that field from the schema (or rule, when not NULL).
 */
void		 event_refusal(struct atc_error_info *err, enum atc_err e,
		    const char *code, const char *event_id, const char *field,
		    const char *rule);
/* What a field must be, as one sentence ("one of: a, b", …). */
void		 event_rule(const struct rec_field *f, char *buf, size_t n);
/* Copy the library's *from into a caller's *to of to->size bytes. */
void		 event_copy_error(struct atc_error_info *to,
		    const struct atc_error_info *from);
#endif
