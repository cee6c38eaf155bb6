/*
 * event.c — the typed event builder (atc_event_*) and the refusal details
 * behind atc_last_error(). Every check reads the schema tables of
 * proto/record.c (rec_event_field and friends): a field's name, JSON type,
 * enum and limit are never restated here, so the builder refuses exactly
 * what the validator would (test_event.c checks that both agree).
 *
 * Must never: print, keep global state, or accept a value the validator
 * would refuse (a value it would truncate is accepted and left whole: the
 * scrubber must see all of it before anything is cut).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomcode/telemetry.h"
#include "buf.h"
#include "event.h"
#include "frame.h"
#include "record.h"

struct atc_event {
	int			 ev;	/* event index; -1 before a reset */
	unsigned		 nf;	/* payload fields of that event */
	unsigned		 cap;	/* entries in val */
	struct buf		*val;	/* per field: JSON value; len 0 unset */
	struct atc_error_info	 err;	/* the last refusal */
};

/* Append s with ", " between entries, cut (with "…") when n runs out. */
static void
cat(char *buf, size_t n, const char *s)
{
	size_t	len = strlen(buf);

	if (len + 1 >= n)
		return;
	snprintf(buf + len, n - len, "%s", s);
}

/* What a field must be, as one sentence. */
void
event_rule(const struct rec_field *f, char *buf, size_t n)
{
	char		tmp[96];
	unsigned	i;

	if (n == 0)
		return;
	buf[0] = '\0';
	switch (f->kind) {
	case REC_K_STR:
		snprintf(buf, n, "a string, %s %u %s", (f->flags & REC_FD_TRUNC) ?
		    "cut to" : "at most", f->max, (f->flags & REC_FD_CHARS) ?
		    "characters" : "bytes");
		break;
	case REC_K_UUID:
		snprintf(buf, n, "a lowercase hyphenated UUID");
		break;
	case REC_K_U32:
		snprintf(buf, n, "an integer from 0 to %u", UINT32_MAX);
		break;
	case REC_K_U64:
		snprintf(buf, n, "an integer from 0 to %lld",
		    (long long)INT64_MAX);
		break;
	case REC_K_I64:
		snprintf(buf, n, "a signed 64-bit integer");
		break;
	case REC_K_SCHEMA:
		snprintf(buf, n, "the integer 1");
		break;
	case REC_K_BOOL:
		snprintf(buf, n, "true or false");
		break;
	case REC_K_ENUM:
	case REC_K_REPO:
		snprintf(buf, n, "%s", f->kind == REC_K_REPO ?
		    "{\"host\": one of: " : "one of: ");
		for (i = 0; f->enumv != NULL && f->enumv[i] != NULL; i++) {
			if (i > 0)
				cat(buf, n, ", ");
			cat(buf, n, f->enumv[i]);
		}
		if (f->kind == REC_K_REPO)
			cat(buf, n, ", \"has_git\": true or false}");
		break;
	case REC_K_IDENT:
		snprintf(buf, n, "an identifier of 1 to %u characters a-z 0-9 _",
		    f->max);
		break;
	case REC_K_STRARR:
		snprintf(tmp, sizeof(tmp), "an array of at most %u strings, each "
		    "cut to %u bytes", REC_BT_ENTRIES, f->max);
		snprintf(buf, n, "%s", tmp);
		break;
	}
	if (f->flags & REC_FD_SCRUB)
		cat(buf, n, "; scrubbed");
	if (f->flags & REC_FD_SHAPE)
		cat(buf, n, f->kind == REC_K_IDENT ? "; an unknown kind is"
		    " stored as \"other\"" : "; outside its known values"
		    " stored as \"<custom>\"");
}

/* Find field name among the envelope's fields. 1 or 0. */
static int
envelope_find(const char *name, struct rec_field *f)
{
	unsigned	k;

	for (k = 0; rec_envelope_field(k, f); k++)
		if (strcmp(f->name, name) == 0)
			return 1;
	return 0;
}

/* Copy s into a fixed array (cut, always terminated). */
static void
set_text(char *dst, size_t n, const char *s)
{
	snprintf(dst, n, "%s", s != NULL ? s : "");
}

/* Fill *err for a refusal; the rule comes from the schema when known. */
void
event_refusal(struct atc_error_info *err, enum atc_err e, const char *code,
    const char *event_id, const char *field, const char *rule)
{
	struct rec_field	f;
	unsigned		i, k;
	int			ev = -1;

	err->size = sizeof(*err);
	err->err = e;
	set_text(err->code, sizeof(err->code), code);
	set_text(err->field, sizeof(err->field), field);
	set_text(err->event_id, sizeof(err->event_id), event_id);
	err->rule[0] = '\0';
	err->refused++;
	if (rule != NULL) {
		set_text(err->rule, sizeof(err->rule), rule);
		return;
	}
	if (event_id != NULL)
		ev = rec_event_index(event_id, strlen(event_id));
	if (code != NULL && strcmp(code, "unknown_event") == 0) {
		cat(err->rule, sizeof(err->rule), "one of: ");
		for (i = 0; i < rec_event_count(); i++) {
			if (i > 0)
				cat(err->rule, sizeof(err->rule), ", ");
			cat(err->rule, sizeof(err->rule), rec_event_name(i));
		}
		return;
	}
	if (code != NULL && strcmp(code, "unknown_field") == 0 && ev >= 0) {
		snprintf(err->rule, sizeof(err->rule), "%s has %s",
		    rec_event_name((unsigned)ev), rec_event_field((unsigned)ev,
		    0, &f) ? "the fields: " : "no payload fields");
		for (k = 0; rec_event_field((unsigned)ev, k, &f); k++) {
			if (k > 0)
				cat(err->rule, sizeof(err->rule), ", ");
			cat(err->rule, sizeof(err->rule), f.name);
		}
		return;
	}
	if (field == NULL || *field == '\0')
		return;
	if ((ev >= 0 && rec_event_find((unsigned)ev, field, strlen(field),
	    &f)) || envelope_find(field, &f)) {
		if (code != NULL && strcmp(code, "missing_field") == 0)
			snprintf(err->rule, sizeof(err->rule), "required%s%s: ",
			    ev >= 0 ? " by " : "", ev >= 0 ?
			    rec_event_name((unsigned)ev) : "");
		k = (unsigned)strlen(err->rule);
		event_rule(&f, err->rule + k, sizeof(err->rule) - k);
	}
}

/* Copy the library's refusal into the caller's struct of to->size bytes. */
void
event_copy_error(struct atc_error_info *to, const struct atc_error_info *from)
{
	size_t	n = to->size;

	if (n < sizeof(to->size))
		return;
	if (n > sizeof(*from))
		n = sizeof(*from);
	memcpy((char *)to + sizeof(to->size), (const char *)from +
	    sizeof(from->size), n - sizeof(to->size));
}

/* A builder for event_id. */
enum atc_err
atc_event_new(const char *event_id, struct atc_event **out)
{
	struct atc_event	*ev;
	enum atc_err		 e;

	if (out == NULL)
		return ATC_E_INVAL;
	*out = NULL;
	if ((ev = calloc(1, sizeof(*ev))) == NULL)
		return ATC_E_NOMEM;
	ev->ev = -1;
	if ((e = atc_event_reset(ev, event_id)) != ATC_OK) {
		atc_event_free(ev);
		return e;
	}
	*out = ev;
	return ATC_OK;
}

/* Start over with event_id. */
enum atc_err
atc_event_reset(struct atc_event *ev, const char *event_id)
{
	struct rec_field	 f;
	struct buf		*v;
	unsigned		 i, nf;
	int			 idx;

	if (ev == NULL || event_id == NULL)
		return ATC_E_INVAL;
	for (i = 0; i < ev->cap; i++)
		ev->val[i].len = 0;
	if ((idx = rec_event_index(event_id, strlen(event_id))) < 0) {
		ev->ev = -1;
		ev->nf = 0;
		event_refusal(&ev->err, ATC_E_SCHEMA, "unknown_event",
		    NULL, "event_id", NULL);
		return ATC_E_SCHEMA;
	}
	for (nf = 0; rec_event_field((unsigned)idx, nf, &f); nf++)
		;
	if (nf > ev->cap) {
		if ((v = realloc(ev->val, nf * sizeof(*v))) == NULL)
			return ATC_E_NOMEM;
		memset(v + ev->cap, 0, (nf - ev->cap) * sizeof(*v));
		ev->val = v;
		ev->cap = nf;
	}
	ev->ev = idx;
	ev->nf = nf;
	return ATC_OK;
}

/* Free a builder. */
void
atc_event_free(struct atc_event *ev)
{
	unsigned	i;

	if (ev == NULL)
		return;
	for (i = 0; i < ev->cap; i++)
		buf_free(&ev->val[i]);
	free(ev->val);
	free(ev);
}

/* The builder's event id. */
const char *
event_id(const struct atc_event *ev)
{
	return ev->ev >= 0 ? rec_event_name((unsigned)ev->ev) : "";
}

/*
 * Look up field in ev's event: its index k and definition, else refuse
 * (unknown_field, or bad_type when the kind is not one of want's).
 */
static enum atc_err
lookup(struct atc_event *ev, const char *field, unsigned want,
    unsigned *k, struct rec_field *f)
{
	if (ev == NULL || field == NULL)
		return ATC_E_INVAL;
	if (ev->ev < 0) {
		event_refusal(&ev->err, ATC_E_SCHEMA, "unknown_event", NULL,
		    "event_id", NULL);
		return ATC_E_SCHEMA;
	}
	for (*k = 0; rec_event_field((unsigned)ev->ev, *k, f); (*k)++) {
		if (strcmp(f->name, field) != 0)
			continue;
		if (!(want & (1u << f->kind))) {
			event_refusal(&ev->err, ATC_E_SCHEMA, "bad_type",
			    event_id(ev), field, NULL);
			return ATC_E_SCHEMA;
		}
		return ATC_OK;
	}
	event_refusal(&ev->err, ATC_E_SCHEMA, "unknown_field", event_id(ev),
	    field, NULL);
	return ATC_E_SCHEMA;
}

static enum atc_err
refuse(struct atc_event *ev, const char *code, const struct rec_field *f)
{
	event_refusal(&ev->err, ATC_E_SCHEMA, code, event_id(ev), f->name,
	    NULL);
	return ATC_E_SCHEMA;
}

/* A value that is not UTF-8: the whole record would be refused. */
static enum atc_err
bad_utf8(struct atc_event *ev, const char *field)
{
	event_refusal(&ev->err, ATC_E_SCHEMA, "bad_utf8", ev->ev >= 0 ?
	    event_id(ev) : NULL, field, "UTF-8 text");
	return ATC_E_SCHEMA;
}

/* Check one string value against its field. ATC_OK or a refusal. */
static enum atc_err
check_str(struct atc_event *ev, const struct rec_field *f, const char *s,
    size_t n)
{
	size_t	i;

	switch (f->kind) {
	case REC_K_UUID:
		if (n != 36)
			return refuse(ev, "bad_value", f);
		for (i = 0; i < n; i++) {
			if (i == 8 || i == 13 || i == 18 || i == 23) {
				if (s[i] != '-')
					return refuse(ev, "bad_value", f);
			} else if (!((s[i] >= '0' && s[i] <= '9') ||
			    (s[i] >= 'a' && s[i] <= 'f')))
				return refuse(ev, "bad_value", f);
		}
		return ATC_OK;
	case REC_K_ENUM:
		for (i = 0; f->enumv[i] != NULL; i++)
			if (strlen(f->enumv[i]) == n &&
			    memcmp(f->enumv[i], s, n) == 0)
				return ATC_OK;
		return refuse(ev, "bad_value", f);
	case REC_K_IDENT:
		if (n > f->max)
			return refuse(ev, "too_long", f);
		if (n == 0)
			return refuse(ev, "bad_value", f);
		for (i = 0; i < n; i++)
			if (!(s[i] >= 'a' && s[i] <= 'z') &&
			    !(s[i] >= '0' && s[i] <= '9') && s[i] != '_')
				return refuse(ev, "bad_value", f);
		return ATC_OK;
	default:	/* REC_K_STR, array entries */
		if (n > f->max && !(f->flags & REC_FD_TRUNC))
			return refuse(ev, "too_long", f);
		return ATC_OK;
	}
}

/* Field k's value buffer, emptied for a new value. */
static struct buf *
empty(struct buf *b)
{
	b->len = 0;
	return b;
}

/* The buf_* call that wrote b returned r: ATC_OK, or b emptied again. */
static enum atc_err
stored(struct buf *b, int r)
{
	if (r == -1) {
		b->len = 0;
		return ATC_E_NOMEM;
	}
	return ATC_OK;
}

/* Set a string, uuid, enum or identifier field. */
enum atc_err
atc_event_str(struct atc_event *ev, const char *field, const char *value)
{
	struct rec_field	 f;
	char			 lower[37];
	unsigned		 k;
	size_t			 i, n;
	enum atc_err		 e;

	if (ev == NULL || field == NULL || value == NULL)
		return ATC_E_INVAL;
	n = strlen(value);
	if (!utf8_valid((const unsigned char *)value, n))
		return bad_utf8(ev, field);	/* first, as the validator */
	if ((e = lookup(ev, field, 1u << REC_K_STR | 1u << REC_K_UUID |
	    1u << REC_K_ENUM | 1u << REC_K_IDENT, &k, &f)) != ATC_OK)
		return e;
	if (f.kind == REC_K_UUID && n == 36) {	/* accept upper case */
		for (i = 0; i < n; i++)
			lower[i] = (char)(value[i] >= 'A' && value[i] <= 'F' ?
			    value[i] - 'A' + 'a' : value[i]);
		lower[n] = '\0';
		value = lower;
	}
	if ((e = check_str(ev, &f, value, n)) != ATC_OK)
		return e;
	return stored(&ev->val[k], buf_json_str(empty(&ev->val[k]), value, n));
}

/* Set an unsigned integer field. */
enum atc_err
atc_event_uint(struct atc_event *ev, const char *field, uint64_t value)
{
	struct rec_field	 f;
	unsigned		 k;
	enum atc_err		 e;

	if ((e = lookup(ev, field, 1u << REC_K_U32 | 1u << REC_K_U64, &k,
	    &f)) != ATC_OK)
		return e;
	if ((f.kind == REC_K_U32 && value > UINT32_MAX) ||
	    value > (uint64_t)INT64_MAX)
		return refuse(ev, "bad_value", &f);
	return stored(&ev->val[k], buf_printf(empty(&ev->val[k]), "%llu",
	    (unsigned long long)value));
}

/* Set a boolean field. */
enum atc_err
atc_event_bool(struct atc_event *ev, const char *field, int value)
{
	struct rec_field	 f;
	unsigned		 k;
	enum atc_err		 e;

	if ((e = lookup(ev, field, 1u << REC_K_BOOL, &k, &f)) != ATC_OK)
		return e;
	return stored(&ev->val[k], buf_puts(empty(&ev->val[k]), value ?
	    "true" : "false"));
}

/* Set an array-of-strings field. */
enum atc_err
atc_event_strv(struct atc_event *ev, const char *field,
    const char *const *values, size_t n)
{
	struct rec_field	 f;
	struct buf		*b;
	unsigned		 k;
	size_t			 i;
	enum atc_err		 e;

	if (ev == NULL || field == NULL || (n > 0 && values == NULL))
		return ATC_E_INVAL;
	for (i = 0; i < n; i++) {
		if (values[i] == NULL)
			return ATC_E_INVAL;
		if (!utf8_valid((const unsigned char *)values[i],
		    strlen(values[i])))
			return bad_utf8(ev, field);
	}
	if ((e = lookup(ev, field, 1u << REC_K_STRARR, &k, &f)) != ATC_OK)
		return e;
	if (n > REC_BT_ENTRIES)
		return refuse(ev, "too_long", &f);
	for (i = 0; i < n; i++) {
		if ((e = check_str(ev, &f, values[i], strlen(values[i]))) !=
		    ATC_OK)
			return e;
	}
	b = &ev->val[k];
	b->len = 0;
	if (buf_putc(b, '[') == -1)
		goto nomem;
	for (i = 0; i < n; i++)
		if ((i > 0 && buf_putc(b, ',') == -1) ||
		    buf_json_str(b, values[i], strlen(values[i])) == -1)
			goto nomem;
	if (buf_putc(b, ']') == -1)
		goto nomem;
	return ATC_OK;
nomem:
	b->len = 0;
	return ATC_E_NOMEM;
}

/* The builder's last refusal. */
int
atc_last_error_event(const struct atc_event *ev, struct atc_error_info *out)
{
	if (out == NULL)
		return 0;
	if (ev == NULL || ev->err.err == ATC_OK) {
		if (out->size >= sizeof(out->size) + sizeof(out->err))
			out->err = ATC_OK;
		return 0;
	}
	event_copy_error(out, &ev->err);
	return 1;
}

/* The payload members, after checking the required fields. */
enum atc_err
event_members(const struct atc_event *ev, struct buf *out,
    struct atc_error_info *err)
{
	struct rec_field	f;
	unsigned		k;
	int			first = 1;

	if (ev->ev < 0) {
		event_refusal(err, ATC_E_SCHEMA, "unknown_event", NULL,
		    "event_id", NULL);
		return ATC_E_SCHEMA;
	}
	for (k = 0; k < ev->nf; k++) {
		if (!rec_event_field((unsigned)ev->ev, k, &f))
			break;
		if (ev->val[k].len == 0) {
			if (!f.required)
				continue;
			event_refusal(err, ATC_E_SCHEMA, "missing_field",
			    event_id(ev), f.name, NULL);
			return ATC_E_SCHEMA;
		}
		if ((!first && buf_putc(out, ',') == -1) ||
		    buf_putc(out, '"') == -1 || buf_puts(out, f.name) == -1 ||
		    buf_puts(out, "\":") == -1 ||
		    buf_add(out, ev->val[k].data, ev->val[k].len) == -1)
			return ATC_E_NOMEM;
		first = 0;
	}
	return ATC_OK;
}
