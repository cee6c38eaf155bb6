/*
 * otlp.c — turns a queue segment into an OTLP logs request, JSON encoding
 * (see otlp.h for the mapping). Builds the request with jansson, so every
 * string is escaped by the same code that escapes the rest of the agent's
 * JSON. Must never: do I/O, keep state between calls, drop a line (a line
 * that is not a record is sent as an unparsed record), or emit an enum as a
 * name or a 64-bit integer as a JSON number (the OTLP JSON rules).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "otlp.h"

#define OTLP_SERVICE	"atomcode"
#define OTLP_SCOPE	"atomcode-telemetryd"
#define OTLP_NS_PER_MS	INT64_C(1000000)
#define OTLP_TS_MAX	(INT64_MAX / OTLP_NS_PER_MS)	/* ms that fit in ns */

/* SeverityNumber values (logs.proto). */
#define OTLP_SEV_INFO	9
#define OTLP_SEV_WARN	13
#define OTLP_SEV_ERROR	17
#define OTLP_SEV_FATAL	21

/* One resourceLogs entry: records sharing version, os and arch. */
struct otlp_res {
	char		*version, *os, *arch;	/* NULL: absent */
	json_t		*records;		/* logRecords array */
};

/* OpenTelemetry os.type for the record's os (semantic conventions). */
const char *
otlp_os_type(const char *os)
{
	if (os != NULL && strcmp(os, "macos") == 0)
		return "darwin";
	return os;
}

/* OpenTelemetry host.arch for the record's arch. */
const char *
otlp_host_arch(const char *arch)
{
	if (arch != NULL && strcmp(arch, "x86_64") == 0)
		return "amd64";
	if (arch != NULL && strcmp(arch, "aarch64") == 0)
		return "arm64";
	return arch;
}

static json_t *otlp_any(json_t *v);

/* {"key": k, "value": AnyValue}; steals value. */
static json_t *
otlp_kv(const char *k, json_t *value)
{
	if (value == NULL)
		return NULL;
	return json_pack("{s:s, s:o}", "key", k, "value", value);
}

static json_t *
otlp_str(const char *s)
{
	return json_pack("{s:s}", "stringValue", s);
}

/* A JSON value as an AnyValue. New reference or NULL (ENOMEM). */
static json_t *
otlp_any(json_t *v)
{
	json_t		*vals, *e, *kv;
	const char	*k;
	size_t		 i;
	char		 num[32];

	switch (json_typeof(v)) {
	case JSON_STRING:
		return json_pack("{s:s%}", "stringValue", json_string_value(v),
		    json_string_length(v));
	case JSON_INTEGER:
		/* int64 is a decimal string in OTLP JSON. */
		snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		return json_pack("{s:s}", "intValue", num);
	case JSON_REAL:
		return json_pack("{s:f}", "doubleValue", json_real_value(v));
	case JSON_TRUE:
	case JSON_FALSE:
		return json_pack("{s:b}", "boolValue", json_is_true(v));
	case JSON_ARRAY:
		if ((vals = json_array()) == NULL)
			return NULL;
		json_array_foreach(v, i, e) {
			if (json_array_append_new(vals, otlp_any(e)) == -1) {
				json_decref(vals);
				return NULL;
			}
		}
		return json_pack("{s:{s:o}}", "arrayValue", "values", vals);
	case JSON_OBJECT:
		if ((vals = json_array()) == NULL)
			return NULL;
		json_object_foreach(v, k, e) {
			kv = otlp_kv(k, otlp_any(e));
			if (json_array_append_new(vals, kv) == -1) {
				json_decref(vals);
				return NULL;
			}
		}
		return json_pack("{s:{s:o}}", "kvlistValue", "values", vals);
	default:
		return json_object();	/* null: an empty AnyValue */
	}
}

static int
otlp_streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* The group for (version, os, arch), created on first use. */
static struct otlp_res *
otlp_group(struct otlp_res **res, size_t *n, const char *version,
    const char *os, const char *arch)
{
	struct otlp_res	*r;
	size_t		 i;

	for (i = 0; i < *n; i++) {
		r = &(*res)[i];
		if (otlp_streq(r->version, version) && otlp_streq(r->os, os) &&
		    otlp_streq(r->arch, arch))
			return r;
	}
	if ((r = realloc(*res, (*n + 1) * sizeof *r)) == NULL)
		return NULL;
	*res = r;
	r = &r[*n];
	memset(r, 0, sizeof *r);
	if ((r->records = json_array()) == NULL ||
	    (version != NULL && (r->version = strdup(version)) == NULL) ||
	    (os != NULL && (r->os = strdup(os)) == NULL) ||
	    (arch != NULL && (r->arch = strdup(arch)) == NULL)) {
		json_decref(r->records);
		free(r->version);
		free(r->os);
		return NULL;
	}
	(*n)++;
	return r;
}

/* Severity from the record: panics are fatal, error_kind an error. */
static int
otlp_severity(json_t *rec, const char *event, const char **text)
{
	if (strcmp(event, "panic") == 0) {
		*text = "FATAL";
		return OTLP_SEV_FATAL;
	}
	if (json_object_get(rec, "error_kind") != NULL) {
		*text = "ERROR";
		return OTLP_SEV_ERROR;
	}
	*text = "INFO";
	return OTLP_SEV_INFO;
}

/* Set "timeUnixNano"-style key from ms (omitted when unknown). */
static int
otlp_set_time(json_t *o, const char *key, int64_t ms)
{
	char	ns[32];

	if (ms <= 0 || ms > OTLP_TS_MAX)
		return 0;	/* 0 means unknown: leave it out */
	snprintf(ns, sizeof ns, "%" PRId64, ms * OTLP_NS_PER_MS);
	return json_object_set_new(o, key, json_string(ns));
}

/* A line that is not a record: its bytes as the body (invalid UTF-8 as
 * U+FFFD, so the request stays valid JSON). */
static json_t *
otlp_unparsed(const char *line, size_t len, int64_t observed_ms)
{
	json_t		*lr;
	char		*s, *o;
	size_t		 i = 0;
	unsigned char	 c;

	if ((s = malloc(len * 3 + 1)) == NULL)
		return NULL;
	o = s;
	while (i < len) {
		c = (unsigned char)line[i];
		if (c != 0 && c < 0x80) {
			*o++ = (char)c;
			i++;
			continue;
		}
		/* Let jansson judge a multi-byte sequence by trying it. */
		{
			size_t	l = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 :
			    c >= 0xc0 ? 2 : 1;
			json_t	*t = NULL;

			if (c != 0 && l > 1 && i + l <= len)
				t = json_stringn(line + i, l);
			if (t != NULL) {
				memcpy(o, line + i, l);
				o += l;
				i += l;
				json_decref(t);
			} else {
				memcpy(o, "\xef\xbf\xbd", 3);
				o += 3;
				i++;
			}
		}
	}
	*o = '\0';
	lr = json_pack("{s:i, s:s, s:{s:s}, s:[{s:s, s:{s:b}}]}",
	    "severityNumber", OTLP_SEV_WARN, "severityText", "WARN",
	    "body", "stringValue", s,
	    "attributes", "key", "atomcode.unparsed", "value", "boolValue", 1);
	free(s);
	if (lr != NULL && otlp_set_time(lr, "observedTimeUnixNano",
	    observed_ms) == -1) {
		json_decref(lr);
		return NULL;
	}
	return lr;
}

/* One record as a LogRecord. */
static json_t *
otlp_record(json_t *rec, int64_t observed_ms)
{
	json_t		*lr, *attrs, *v;
	const char	*ev, *k, *sevtext;
	json_int_t	 ts;
	int		 sev;

	ev = json_string_value(json_object_get(rec, "event_id"));
	if (ev == NULL)
		ev = "";
	sev = otlp_severity(rec, ev, &sevtext);
	if ((attrs = json_array()) == NULL)
		return NULL;
	if (json_array_append_new(attrs, otlp_kv("event.name",
	    otlp_str(ev))) == -1)
		goto fail;
	json_object_foreach(rec, k, v) {
		if (strcmp(k, "event_id") == 0 || strcmp(k, "ts") == 0 ||
		    strcmp(k, "app_version") == 0 || strcmp(k, "os") == 0 ||
		    strcmp(k, "arch") == 0)
			continue;
		if (json_array_append_new(attrs, otlp_kv(k, otlp_any(v))) == -1)
			goto fail;
	}
	lr = json_pack("{s:i, s:s, s:{s:s}, s:o, s:s}",
	    "severityNumber", sev, "severityText", sevtext,
	    "body", "stringValue", ev, "attributes", attrs, "eventName", ev);
	if (lr == NULL)
		return NULL;	/* attrs stolen even on failure */
	ts = json_integer_value(json_object_get(rec, "ts"));
	if (otlp_set_time(lr, "timeUnixNano", (int64_t)ts) == -1 ||
	    otlp_set_time(lr, "observedTimeUnixNano", observed_ms) == -1) {
		json_decref(lr);
		return NULL;
	}
	return lr;
fail:
	json_decref(attrs);
	return NULL;
}

/* The resource of a group. */
static json_t *
otlp_resource(const struct otlp_res *r)
{
	json_t	*attrs;
	int	 bad = 0;

	if ((attrs = json_array()) == NULL)
		return NULL;
	bad |= json_array_append_new(attrs, otlp_kv("service.name",
	    otlp_str(OTLP_SERVICE)));
	if (r->version != NULL)
		bad |= json_array_append_new(attrs, otlp_kv("service.version",
		    otlp_str(r->version)));
	if (r->os != NULL)
		bad |= json_array_append_new(attrs, otlp_kv("os.type",
		    otlp_str(otlp_os_type(r->os))));
	if (r->arch != NULL)
		bad |= json_array_append_new(attrs, otlp_kv("host.arch",
		    otlp_str(otlp_host_arch(r->arch))));
	if (bad) {
		json_decref(attrs);
		return NULL;
	}
	return json_pack("{s:o}", "attributes", attrs);
}

/* Encode a segment (see otlp.h). */
int
otlp_encode(const char *ndjson, size_t len, int64_t observed_ms,
    const char *version, struct buf *out, struct otlp_counts *c)
{
	struct otlp_res	*res = NULL, *g;
	const char	*p = ndjson, *end = ndjson + len, *nl;
	json_t		*rec, *lr, *rl = NULL, *req = NULL, *o;
	size_t		 nres = 0, i;
	char		*s = NULL;
	int		 rv = -1, err = ENOMEM;

	memset(c, 0, sizeof *c);
	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (nl == p || (nl - p == 1 && *p == '\r'))
			continue;
		rec = json_loadb(p, (size_t)(nl - p), 0, NULL);
		if (json_is_object(rec)) {
			g = otlp_group(&res, &nres,
			    json_string_value(json_object_get(rec,
			    "app_version")),
			    json_string_value(json_object_get(rec, "os")),
			    json_string_value(json_object_get(rec, "arch")));
			lr = g != NULL ? otlp_record(rec, observed_ms) : NULL;
		} else {
			g = otlp_group(&res, &nres, NULL, NULL, NULL);
			lr = g != NULL ? otlp_unparsed(p, (size_t)(nl - p),
			    observed_ms) : NULL;
			c->unparsed++;
		}
		json_decref(rec);
		if (lr == NULL || json_array_append_new(g->records, lr) == -1)
			goto done;
		c->records++;
	}
	if (c->records == 0) {
		err = EINVAL;
		goto done;
	}
	if ((rl = json_array()) == NULL)
		goto done;
	for (i = 0; i < nres; i++) {
		if (json_array_size(res[i].records) == 0)
			continue;
		o = json_pack("{s:o, s:[{s:{s:s, s:s}, s:O}]}",
		    "resource", otlp_resource(&res[i]),
		    "scopeLogs", "scope", "name", OTLP_SCOPE, "version",
		    version != NULL ? version : "", "logRecords",
		    res[i].records);
		if (json_array_append_new(rl, o) == -1)
			goto done;
		c->resources++;
	}
	if ((req = json_pack("{s:O}", "resourceLogs", rl)) == NULL ||
	    (s = json_dumps(req, JSON_COMPACT)) == NULL ||
	    buf_puts(out, s) == -1)
		goto done;
	rv = 0;
done:
	free(s);
	json_decref(req);
	json_decref(rl);
	for (i = 0; i < nres; i++) {
		json_decref(res[i].records);
		free(res[i].version);
		free(res[i].os);
		free(res[i].arch);
	}
	free(res);
	if (rv == -1)
		errno = err;
	return rv;
}
