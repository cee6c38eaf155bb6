/*
 * envelope.c — derives the envelope values (locale, os/arch, provider_host)
 * and renders records: the constant envelope once, then per record ts,
 * event_id and the caller's payload members, checked and compacted in one
 * pass. Pure string work: it must never do I/O, read the environment (the
 * caller passes LANG/LC_ALL) or build a JSON tree on the per-event path.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "envelope.h"
#include "frame.h"

struct env_hooks env_test_hooks;

/* Keys a payload may not carry: the envelope's, event_id, and "op". */
static const char *const env_reserved[] = {
	"device_id", "launch_id", "account_id", "session_id", "turn",
	"round", "request", "turn_id", "ts", "schema_version", "app_version",
	"os", "arch", "locale", "provider", "provider_host", "model",
	"repo_origin", "mode", "surface", "event_id", "op",
};

/* The mode values of the schema (proto/record.c). */
static const char *const env_modes[] = {
	"headless", "tui", "ide", "vscode", "jetbrains", "webui",
	"atomcode_desktop", "channel",
};

/* Vendors' default hosts, as upstream. */
static const struct {
	const char	*vendor;
	const char	*host;
} env_vendor_hosts[] = {
	{ "claude", "api.anthropic.com" },
	{ "openai", "api.openai.com" },
	{ "ollama", "localhost" },
};

/* The operating system, decided at compile time. */
const char *
env_os(void)
{
#if defined(__APPLE__)
	return "macos";
#elif defined(__linux__)
	return "linux";
#elif defined(_WIN32)
	return "windows";
#else
	return "other";
#endif
}

/* The CPU architecture, decided at compile time. */
const char *
env_arch(void)
{
#if defined(__x86_64__) || defined(_M_X64)
	return "x86_64";
#elif defined(__aarch64__) || defined(_M_ARM64)
	return "aarch64";
#else
	return "other";
#endif
}

/* Defaults for a fresh envelope. */
void
env_init(struct envelope *e)
{
	memset(e, 0, sizeof(*e));
	memcpy(e->device_id, UUID_NIL, sizeof(UUID_NIL));
	memcpy(e->launch_id, UUID_NIL, sizeof(UUID_NIL));
	memcpy(e->session_id, UUID_NIL, sizeof(UUID_NIL));
	e->os = env_os();
	e->arch = env_arch();
	memcpy(e->locale, ENV_DEFAULT_LOCALE, sizeof(ENV_DEFAULT_LOCALE));
	e->turn = e->round = e->request = -1;
}

/* Free the owned strings and rendered pieces. */
void
env_free(struct envelope *e)
{
	free(e->account_id);
	free(e->app_version);
	free(e->provider);
	free(e->provider_host);
	free(e->model);
	free(e->mode);
	free(e->surface);
	buf_free(&e->head);
	buf_free(&e->tail);
	memset(e, 0, sizeof(*e));
}

/* Golden inputs (tests/compat): nil ids, 0.0.0, macos/aarch64, en-US. */
void
env_test_fixed(struct envelope *e)
{
	memcpy(e->device_id, UUID_NIL, sizeof(UUID_NIL));
	memcpy(e->launch_id, UUID_NIL, sizeof(UUID_NIL));
	memcpy(e->session_id, UUID_NIL, sizeof(UUID_NIL));
	free(e->app_version);
	e->app_version = NULL;
	e->os = "macos";
	e->arch = "aarch64";
	memcpy(e->locale, ENV_DEFAULT_LOCALE, sizeof(ENV_DEFAULT_LOCALE));
}

/* Replace an owned string with a checked copy; NULL or "" clears. */
int
env_set(char **field, const char *value)
{
	size_t	 n;
	char	*copy = NULL;

	if (value != NULL && *value != '\0') {
		n = strlen(value);
		if (n > ENV_STR_MAX ||
		    !utf8_valid((const unsigned char *)value, n)) {
			errno = EINVAL;
			return -1;
		}
		if ((copy = malloc(n + 1)) == NULL)
			return -1;
		memcpy(copy, value, n + 1);
	}
	free(*field);
	*field = copy;
	return 0;
}

/* Append a decimal unsigned integer. */
static int
put_u64(struct buf *b, uint64_t v)
{
	char	tmp[24];
	size_t	i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return buf_add(b, tmp + i, sizeof(tmp) - i);
}

/* Append a decimal signed integer. */
static int
put_i64(struct buf *b, int64_t v)
{
	if (v < 0) {
		if (buf_putc(b, '-') == -1)
			return -1;
		return put_u64(b, (uint64_t)0 - (uint64_t)v);
	}
	return put_u64(b, (uint64_t)v);
}

/* Append ,"key":"value" (value JSON-escaped). */
static int
put_str(struct buf *b, const char *key, const char *value)
{
	if (buf_puts(b, ",\"") == -1 || buf_puts(b, key) == -1 ||
	    buf_puts(b, "\":") == -1)
		return -1;
	return buf_json_str(b, value, strlen(value));
}

/* Append ,"key":N when v is present. */
static int
put_counter(struct buf *b, const char *key, int64_t v)
{
	if (v < 0)
		return 0;
	if (buf_puts(b, ",\"") == -1 || buf_puts(b, key) == -1 ||
	    buf_puts(b, "\":") == -1)
		return -1;
	return put_u64(b, (uint64_t)v);
}

/* Render the envelope's constant pieces (declaration order, as upstream). */
int
env_render(struct envelope *e)
{
	struct buf	*h = &e->head, *t = &e->tail;

	h->len = t->len = 0;
	if (buf_puts(h, "{\"device_id\":\"") == -1 ||
	    buf_puts(h, e->device_id) == -1 ||
	    buf_puts(h, "\",\"launch_id\":\"") == -1 ||
	    buf_puts(h, e->launch_id) == -1 || buf_putc(h, '"') == -1)
		return -1;
	if (e->account_id != NULL && put_str(h, "account_id",
	    e->account_id) == -1)
		return -1;
	if (put_str(h, "session_id", e->session_id) == -1 ||
	    put_counter(h, "turn", e->turn) == -1 ||
	    put_counter(h, "round", e->round) == -1 ||
	    put_counter(h, "request", e->request) == -1 ||
	    buf_puts(h, ",\"ts\":") == -1)
		return -1;

	if (buf_puts(t, ",\"schema_version\":1") == -1 ||
	    put_str(t, "app_version", e->app_version != NULL ?
	    e->app_version : ENV_DEFAULT_APP_VERSION) == -1 ||
	    put_str(t, "os", e->os) == -1 ||
	    put_str(t, "arch", e->arch) == -1 ||
	    put_str(t, "locale", e->locale) == -1)
		return -1;
	if (e->provider != NULL && put_str(t, "provider", e->provider) == -1)
		return -1;
	if (e->provider_host != NULL && put_str(t, "provider_host",
	    e->provider_host) == -1)
		return -1;
	if (e->model != NULL && put_str(t, "model", e->model) == -1)
		return -1;
	if (e->repo_set &&
	    (buf_puts(t, ",\"repo_origin\":{\"host\":\"") == -1 ||
	    buf_puts(t, repo_host_name(e->repo.host)) == -1 ||
	    buf_puts(t, "\",\"has_git\":") == -1 ||
	    buf_puts(t, e->repo.has_git ? "true}" : "false}") == -1))
		return -1;
	if (e->mode != NULL && put_str(t, "mode", e->mode) == -1)
		return -1;
	if (e->surface != NULL && put_str(t, "surface", e->surface) == -1)
		return -1;
	return buf_puts(t, ",\"event_id\":\"");
}

/* Append one complete record. */
int
env_record(const struct envelope *e, struct buf *out, int64_t ts,
    const char *event_id, const char *members, size_t mlen)
{
	size_t	start = out->len;

	if (buf_reserve(out, e->head.len + e->tail.len + mlen + 64) == -1)
		return -1;
	if (buf_add(out, e->head.data, e->head.len) == -1 ||
	    put_i64(out, ts) == -1 ||
	    buf_add(out, e->tail.data, e->tail.len) == -1 ||
	    buf_puts(out, event_id) == -1 || buf_putc(out, '"') == -1 ||
	    (mlen > 0 && (buf_putc(out, ',') == -1 ||
	    buf_add(out, members, mlen) == -1)) ||
	    buf_putc(out, '}') == -1) {
		out->len = start;
		return -1;
	}
	return 0;
}

/*
 * locale: LANG first, then LC_ALL; C, POSIX (with any .codeset, so
 * C.UTF-8 too), empty or unset → en-US. Upstream sends "C" for C.UTF-8.
 */
void
env_locale(const char *lang, const char *lc_all, char *out, size_t outlen)
{
	const char	*raw;
	size_t		 n, i;

	/* An empty variable counts as unset (upstream would send ""). */
	raw = lang != NULL && *lang != '\0' ? lang : lc_all;
	if (raw == NULL || *raw == '\0' || strcmp(raw, "C") == 0 ||
	    strcmp(raw, "POSIX") == 0)
		goto dflt;
	n = strcspn(raw, ".");
	/* C.UTF-8 (Debian's default) is still C, not a language. */
	if ((n == 1 && raw[0] == 'C') || (n == 5 && strncmp(raw, "POSIX",
	    5) == 0))
		goto dflt;
	if (n == 0 || n >= outlen || n >= ENV_LOCALE_MAX ||
	    !utf8_valid((const unsigned char *)raw, n))
		goto dflt;
	for (i = 0; i < n; i++) {
		/* Control bytes and quotes have no business in a locale. */
		if ((unsigned char)raw[i] < 0x20 || raw[i] == '"' ||
		    raw[i] == '\\')
			goto dflt;
		out[i] = raw[i] == '_' ? '-' : raw[i];
	}
	out[n] = '\0';
	return;
dflt:
	if (outlen > 0) {
		n = strlen(ENV_DEFAULT_LOCALE);
		if (n >= outlen)
			n = outlen - 1;
		memcpy(out, ENV_DEFAULT_LOCALE, n);
		out[n] = '\0';
	}
}

/* Host of "scheme://[userinfo@]host[:port][/…]", lower-cased. */
int
env_url_host(const char *url, char *out, size_t outlen)
{
	const char	*p = url, *auth, *end, *at, *h, *he;
	size_t		 n, i;

	if (url == NULL || outlen == 0 || !isalpha((unsigned char)*p))
		return 0;
	while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' ||
	    *p == '.')
		p++;
	if (strncmp(p, "://", 3) != 0)
		return 0;
	auth = p + 3;
	end = auth + strcspn(auth, "/?#");
	at = NULL;
	for (p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	h = at != NULL ? at + 1 : auth;
	if (h < end && *h == '[') {
		he = memchr(h, ']', (size_t)(end - h));
		if (he == NULL)
			return 0;
		he++;
		for (p = h + 1; p < he - 1; p++)
			if (!isxdigit((unsigned char)*p) && *p != ':' &&
			    *p != '.')
				return 0;
	} else {
		for (he = h; he < end && *he != ':'; he++)
			if (!isalnum((unsigned char)*he) && *he != '-' &&
			    *he != '.' && *he != '_')
				return 0;
	}
	n = (size_t)(he - h);
	if (n == 0 || n >= outlen || n > ENV_STR_MAX)
		return 0;
	for (i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)h[i]);
	out[n] = '\0';
	return 1;
}

/* provider_host: the base URL's host, else the vendor's default host. */
int
env_provider_host(const char *vendor, const char *base_url, char *out,
    size_t outlen)
{
	size_t	i, n;

	if (base_url != NULL && env_url_host(base_url, out, outlen))
		return 1;
	if (vendor == NULL)
		return 0;
	for (i = 0; i < sizeof(env_vendor_hosts) / sizeof(env_vendor_hosts[0]);
	    i++) {
		if (strcmp(vendor, env_vendor_hosts[i].vendor) != 0)
			continue;
		n = strlen(env_vendor_hosts[i].host);
		if (n >= outlen)
			return 0;
		memcpy(out, env_vendor_hosts[i].host, n + 1);
		return 1;
	}
	return 0;
}

/* The i-th valid mode value, NULL past the last (for messages). */
const char *
env_mode_name(size_t i)
{
	return i < sizeof(env_modes) / sizeof(env_modes[0]) ? env_modes[i] :
	    NULL;
}

/* Whether mode is a known mode value. */
int
env_mode_valid(const char *mode)
{
	size_t	i;

	for (i = 0; i < sizeof(env_modes) / sizeof(env_modes[0]); i++)
		if (strcmp(mode, env_modes[i]) == 0)
			return 1;
	return 0;
}

/*
 * A one-pass JSON checker that copies the text without insignificant
 * whitespace (RFC 8259 grammar; UTF-8 is checked by the caller).
 */
struct jscan {
	const char	*p;
	const char	*e;
	struct buf	*out;	/* NULL: check only */
	int		 depth;
};

static int	js_value(struct jscan *);

static void
js_ws(struct jscan *j)
{
	while (j->p < j->e && (*j->p == ' ' || *j->p == '\t' ||
	    *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int
js_copy(struct jscan *j, const char *s, size_t n)
{
	if (j->out == NULL)
		return 0;
	return buf_add(j->out, s, n);
}

/* A string at j->p; s and n get the contents without quotes. */
static int
js_string(struct jscan *j, const char **s, size_t *n)
{
	const char	*start = j->p;
	int		 k;

	if (j->p >= j->e || *j->p != '"')
		return -1;
	for (j->p++; j->p < j->e; j->p++) {
		if (*j->p == '"') {
			j->p++;
			if (s != NULL) {
				*s = start + 1;
				*n = (size_t)(j->p - start - 2);
			}
			return js_copy(j, start, (size_t)(j->p - start));
		}
		if ((unsigned char)*j->p < 0x20)
			return -1;
		if (*j->p != '\\')
			continue;
		if (++j->p >= j->e)
			return -1;
		switch (*j->p) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n':
		case 'r': case 't':
			break;
		case 'u':
			for (k = 0; k < 4; k++)
				if (++j->p >= j->e ||
				    !isxdigit((unsigned char)*j->p))
					return -1;
			break;
		default:
			return -1;
		}
	}
	return -1;
}

static int
js_digits(struct jscan *j)
{
	const char	*s = j->p;

	while (j->p < j->e && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return j->p > s ? 0 : -1;
}

static int
js_number(struct jscan *j)
{
	const char	*start = j->p;

	if (*j->p == '-')
		j->p++;
	if (j->p < j->e && *j->p == '0')
		j->p++;
	else if (js_digits(j) == -1)
		return -1;
	if (j->p < j->e && *j->p == '.') {
		j->p++;
		if (js_digits(j) == -1)
			return -1;
	}
	if (j->p < j->e && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->e && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (js_digits(j) == -1)
			return -1;
	}
	return js_copy(j, start, (size_t)(j->p - start));
}

static int
js_literal(struct jscan *j, const char *lit)
{
	size_t	n = strlen(lit);

	if ((size_t)(j->e - j->p) < n || memcmp(j->p, lit, n) != 0)
		return -1;
	j->p += n;
	return js_copy(j, lit, n);
}

/* Object or array body after the opening bracket. */
static int
js_container(struct jscan *j, char close)
{
	if (++j->depth > ENV_JSON_DEPTH)
		return -1;
	if (js_copy(j, j->p, 1) == -1)
		return -1;
	j->p++;
	js_ws(j);
	if (j->p < j->e && *j->p == close)
		goto done;
	for (;;) {
		js_ws(j);
		if (close == '}') {
			if (js_string(j, NULL, NULL) == -1)
				return -1;
			js_ws(j);
			if (j->p >= j->e || *j->p != ':' ||
			    js_copy(j, ":", 1) == -1)
				return -1;
			j->p++;
		}
		if (js_value(j) == -1)
			return -1;
		js_ws(j);
		if (j->p < j->e && *j->p == ',') {
			if (js_copy(j, ",", 1) == -1)
				return -1;
			j->p++;
			continue;
		}
		if (j->p < j->e && *j->p == close)
			break;
		return -1;
	}
done:
	j->p++;
	j->depth--;
	return js_copy(j, &close, 1);
}

static int
js_value(struct jscan *j)
{
	js_ws(j);
	if (j->p >= j->e)
		return -1;
	switch (*j->p) {
	case '{':
		return js_container(j, '}');
	case '[':
		return js_container(j, ']');
	case '"':
		return js_string(j, NULL, NULL);
	case 't':
		return js_literal(j, "true");
	case 'f':
		return js_literal(j, "false");
	case 'n':
		return js_literal(j, "null");
	default:
		if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9'))
			return js_number(j);
		return -1;
	}
}

static int
reserved(const char *k, size_t n)
{
	size_t	i;

	for (i = 0; i < sizeof(env_reserved) / sizeof(env_reserved[0]); i++)
		if (strlen(env_reserved[i]) == n &&
		    memcmp(env_reserved[i], k, n) == 0)
			return 1;
	return 0;
}

/* Check a payload object and append its members, compact, without braces. */
enum env_payload
env_payload(const char *p, size_t n, struct buf *members)
{
	struct jscan		 j;
	size_t			 start = members->len, kn;
	const char		*k;
	enum env_payload	 r = ENV_P_JSON;

	if (!utf8_valid((const unsigned char *)p, n))
		return ENV_P_JSON;
	j.p = p;
	j.e = p + n;
	j.out = members;
	j.depth = 1;
	js_ws(&j);
	if (j.p >= j.e || *j.p != '{')
		goto fail;
	j.p++;
	js_ws(&j);
	if (j.p < j.e && *j.p == '}') {
		j.p++;
		goto end;
	}
	for (;;) {
		js_ws(&j);
		if (js_string(&j, &k, &kn) == -1)
			goto fail;
		if (reserved(k, kn)) {
			r = ENV_P_RESERVED;
			goto fail;
		}
		js_ws(&j);
		if (j.p >= j.e || *j.p != ':' || js_copy(&j, ":", 1) == -1)
			goto fail;
		j.p++;
		if (js_value(&j) == -1)
			goto fail;
		js_ws(&j);
		if (j.p < j.e && *j.p == ',') {
			if (js_copy(&j, ",", 1) == -1)
				goto fail;
			j.p++;
			continue;
		}
		if (j.p < j.e && *j.p == '}') {
			j.p++;
			break;
		}
		goto fail;
	}
end:
	js_ws(&j);
	if (j.p == j.e)
		return ENV_P_OK;
fail:
	members->len = start;
	if (members->data != NULL)
		members->data[start] = '\0';
	return r;
}

/* Whether p[0..n) is exactly one JSON object. */
int
env_json_object(const char *p, size_t n)
{
	struct jscan	j;

	if (!utf8_valid((const unsigned char *)p, n))
		return 0;
	j.p = p;
	j.e = p + n;
	j.out = NULL;
	j.depth = 0;
	js_ws(&j);
	if (j.p >= j.e || *j.p != '{' || js_value(&j) == -1)
		return 0;
	js_ws(&j);
	return j.p == j.e;
}
