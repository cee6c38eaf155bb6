/*
 * scrub.c — the privacy scrubber for free-text record values (DESIGN §4,
 * issue 7). In order: the home directory → <HOME>, the working directory →
 * <CWD> (exact substrings, as upstream), then one left-to-right pass that
 * reduces other absolute paths to their file name, URLs to scheme://host,
 * e-mail addresses to <EMAIL> and credentials / token shapes to <REDACTED>.
 *
 * Must never: do I/O, keep global state, read outside in[0..len), or cut
 * the text inside a multibyte character (every cut is at an ASCII byte).
 */
#include <errno.h>
#include <string.h>

#include "buf.h"
#include "scrub.h"

#define SCRUB_KEY_MAX	64	/* longest key name looked at (key=value) */
#define SCRUB_SCHEME_MAX 32	/* longest URL scheme */
#define SCRUB_LOCAL_MAX	64	/* longest e-mail local part */
#define SCRUB_BEARER_MIN 8	/* shortest token after a bare "Bearer " */
#define SCRUB_JWT_HEAD	512	/* longest JWT header segment looked at */
#define SCRUB_JWT_BODY	8192	/* longest JWT payload segment looked at */

static const char R_REDACTED[] = "<REDACTED>";
static const char R_EMAIL[] = "<EMAIL>";

/* Names for status output. */
const char *const scrub_kind_names[SCRUB_NKINDS] = {
	"home", "cwd", "path", "url", "email", "secret"
};

/* Output state of one pass: s[0..last) has been written to out. */
struct sout {
	struct buf	*out;
	const char	*s;
	size_t		 last;
	unsigned	*counts;
	int		 n;	/* replacements */
	int		 err;	/* ENOMEM seen */
};

static int	scrub_rules(const char *, size_t, struct buf *, unsigned *);

/* Replace s[from..to) by rep (of kind k). */
static void
emit(struct sout *o, size_t from, size_t to, const char *rep, size_t rlen,
    enum scrub_kind k)
{
	if (o->err)
		return;
	if (buf_add(o->out, o->s + o->last, from - o->last) == -1 ||
	    buf_add(o->out, rep, rlen) == -1) {
		o->err = 1;
		return;
	}
	o->last = to;
	o->n++;
	if (o->counts != NULL)
		o->counts[k]++;
}

/* Replace s[from..to) by the scrubbed text of s[cs..ce) (a file name). */
static void
emit_name(struct sout *o, size_t from, size_t to, size_t cs, size_t ce)
{
	int	 r;

	if (o->err)
		return;
	if (buf_add(o->out, o->s + o->last, from - o->last) == -1 ||
	    (r = scrub_rules(o->s + cs, ce - cs, o->out, o->counts)) == -1) {
		o->err = 1;
		return;
	}
	o->last = to;
	o->n += 1 + r;
	if (o->counts != NULL)
		o->counts[SCRUB_PATH]++;
}

/* ---- character classes (ASCII only; bytes >= 0x80 are in none) ---- */

static int
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_alnum(unsigned char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9');
}

static int
is_upper_alnum(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Token body characters: [A-Za-z0-9_-]. */
static int
is_tok(unsigned char c)
{
	return is_alnum(c) || c == '_' || c == '-';
}

static int
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	    c == '\v';
}

static unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Case-insensitive compare of p[0..n) with lower-case w. */
static int
ci_eq(const char *p, const char *w, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (lower((unsigned char)p[i]) != (unsigned char)w[i])
			return 0;
	}
	return 1;
}

/* A backslash escape written out as text ("\n" as two bytes) ends at i-1. */
static int
after_text_escape(const char *s, size_t i)
{
	unsigned char	 p = (unsigned char)s[i - 1];

	return i >= 2 && s[i - 2] == '\\' && (p == 'n' || p == 't' ||
	    p == 'r');
}

/* Can a word (token, key, URL, e-mail) start at i? */
static int
word_start(const char *s, size_t i)
{
	unsigned char	 p;

	if (i == 0)
		return 1;
	p = (unsigned char)s[i - 1];
	if (p >= 0x80)
		return 1;
	if (is_alnum(p) || p == '_')
		return after_text_escape(s, i);
	return 1;
}

/* Can an absolute path start at i? */
static int
path_start(const char *s, size_t i)
{
	unsigned char	 p;

	if (i == 0)
		return 1;
	p = (unsigned char)s[i - 1];
	if (p >= 0x80 || is_space(p))
		return 1;
	switch (p) {
	case '"': case '\'': case '`': case '(': case '[': case '{':
	case '=': case ',': case ':': case ';': case '|':
		return 1;
	}
	return after_text_escape(s, i);
}

/* Bytes that end a path component (besides the separators). */
static int
path_stop(unsigned char c)
{
	if (c < 0x20 || c == ' ' || c == 0x7f)
		return 1;
	switch (c) {
	case '"': case '\'': case '`': case '<': case '>': case '|':
	case ':': case ',': case ';': case '(': case ')': case '[': case ']':
	case '{': case '}':
		return 1;
	}
	return 0;
}

static int
is_sep(unsigned char c, int bs)
{
	return c == '/' || (bs && c == '\\');
}

/* Does the word at k end in a separator (so "a b/c" is one component)? */
static int
space_continues(const char *s, size_t n, size_t k, int bs)
{
	if (k >= n || is_sep((unsigned char)s[k], bs))
		return 0;
	while (k < n && !is_sep((unsigned char)s[k], bs) &&
	    !path_stop((unsigned char)s[k]) && s[k] != '\\')
		k++;
	return k < n && is_sep((unsigned char)s[k], bs);
}

/*
 * Scan path components from j (separators '/' and, when bs, '\\').
 * Returns the end; *nc counts components, [*ls, *le) is the last one.
 */
static size_t
path_scan(const char *s, size_t n, size_t j, int bs, unsigned *nc,
    size_t *ls, size_t *le)
{
	size_t	 cs;

	*nc = 0;
	for (;;) {
		while (j < n && is_sep((unsigned char)s[j], bs))
			j++;
		if (j >= n || path_stop((unsigned char)s[j]) ||
		    (!bs && s[j] == '\\'))
			return j;
		cs = j;
		for (;;) {
			while (j < n && !is_sep((unsigned char)s[j], bs) &&
			    !path_stop((unsigned char)s[j]) &&
			    (bs || s[j] != '\\'))
				j++;
			if (j < n && s[j] == ' ' &&
			    space_continues(s, n, j + 1, bs)) {
				j++;
				continue;
			}
			break;
		}
		(*nc)++;
		*ls = cs;
		*le = j;
	}
}

/* Unix absolute path at i ('/'): at least two components → the last. */
static size_t
try_upath(struct sout *o, size_t n, size_t i)
{
	size_t		 j, ls = 0, le = 0;
	unsigned	 nc;

	j = path_scan(o->s, n, i, 0, &nc, &ls, &le);
	if (nc < 2)
		return 0;
	emit_name(o, i, j, ls, le);
	return j;
}

/* Windows drive path at i ("C:\", "C:/"): at least one component. */
static size_t
try_wpath(struct sout *o, size_t n, size_t i)
{
	size_t		 j, ls = 0, le = 0;
	unsigned	 nc;

	j = path_scan(o->s, n, i + 2, 1, &nc, &ls, &le);
	if (nc < 1)
		return 0;
	emit_name(o, i, j, ls, le);
	return j;
}

/* UNC path at i ("\\server\share..."): server and one more component. */
static size_t
try_unc(struct sout *o, size_t n, size_t i)
{
	const char	*s = o->s;
	size_t		 j = i, ls = 0, le = 0;
	unsigned	 nc;

	while (j < n && s[j] == '\\')
		j++;
	if (j - i < 2 || j >= n || !is_alnum((unsigned char)s[j]))
		return 0;
	j = path_scan(s, n, j, 1, &nc, &ls, &le);
	if (nc < 2)
		return 0;
	emit_name(o, i, j, ls, le);
	return j;
}

/* End of the run of chars accepted by ok() from j. */
static size_t
run(const char *s, size_t n, size_t j, int (*ok)(unsigned char))
{
	while (j < n && ok((unsigned char)s[j]))
		j++;
	return j;
}

/*
 * Like run() but looks at no more than max + 1 bytes, so that rules tried
 * at every word start stay linear overall.
 */
static size_t
run_max(const char *s, size_t n, size_t j, int (*ok)(unsigned char),
    size_t max)
{
	if (n - j > max + 1)
		n = j + max + 1;
	return run(s, n, j, ok);
}

static int
is_b62(unsigned char c)
{
	return is_alnum(c);
}

static int
is_tok_us(unsigned char c)
{
	return is_alnum(c) || c == '_';
}

static int
is_tok_dash(unsigned char c)
{
	return is_alnum(c) || c == '-';
}

static int
has_prefix(const char *s, size_t n, size_t i, const char *pfx)
{
	size_t	 l = strlen(pfx);

	return n - i >= l && memcmp(s + i, pfx, l) == 0;
}

/* JWT: eyJ<b64url>.eyJ<b64url>.<b64url>; returns its end or 0. */
static size_t
jwt_end(const char *s, size_t n, size_t i)
{
	size_t	 j;

	j = run_max(s, n, i + 3, is_tok, SCRUB_JWT_HEAD);
	if (j - i < 10 || j - i > SCRUB_JWT_HEAD || j >= n || s[j] != '.' ||
	    !has_prefix(s, n, j + 1, "eyJ"))
		return 0;
	i = j + 1;
	j = run_max(s, n, i + 3, is_tok, SCRUB_JWT_BODY);
	if (j - i < 10 || j - i > SCRUB_JWT_BODY || j >= n || s[j] != '.')
		return 0;
	return run(s, n, j + 1, is_tok);
}

/* Known credential shapes at i; returns the token's end or 0. */
static size_t
token_end(const char *s, size_t n, size_t i)
{
	size_t	 j;

	switch (s[i]) {
	case 's':
		if (has_prefix(s, n, i, "sk-")) {
			j = run(s, n, i + 3, is_tok);
			return j - (i + 3) >= 16 ? j : 0;
		}
		break;
	case 'g':
		if (n - i > 4 && s[i + 1] == 'h' && s[i + 2] != '\0' &&
		    strchr("posur", s[i + 2]) != NULL && s[i + 3] == '_') {
			j = run(s, n, i + 4, is_b62);
			return j - (i + 4) >= 20 ? j : 0;
		}
		if (has_prefix(s, n, i, "github_pat_")) {
			j = run(s, n, i + 11, is_tok_us);
			return j - (i + 11) >= 20 ? j : 0;
		}
		if (has_prefix(s, n, i, "glpat-")) {
			j = run(s, n, i + 6, is_tok);
			return j - (i + 6) >= 20 ? j : 0;
		}
		break;
	case 'x':
		if (n - i > 5 && s[i + 1] == 'o' && s[i + 2] == 'x' &&
		    s[i + 3] != '\0' && strchr("abpr", s[i + 3]) != NULL &&
		    s[i + 4] == '-') {
			j = run(s, n, i + 5, is_tok_dash);
			return j - (i + 5) >= 10 ? j : 0;
		}
		break;
	case 'A':
		if (has_prefix(s, n, i, "AKIA") || has_prefix(s, n, i, "ASIA")) {
			j = run_max(s, n, i + 4, is_upper_alnum, 16);
			if (j - (i + 4) == 16 && (j == n ||
			    !is_tok((unsigned char)s[j])))
				return j;
			return 0;
		}
		if (has_prefix(s, n, i, "AIza")) {
			j = run(s, n, i + 4, is_tok);
			return j - (i + 4) >= 35 ? j : 0;
		}
		break;
	case 'e':
		if (has_prefix(s, n, i, "eyJ"))
			return jwt_end(s, n, i);
		break;
	}
	return 0;
}

static size_t
try_token(struct sout *o, size_t n, size_t i)
{
	size_t	 j;

	if ((j = token_end(o->s, n, i)) == 0)
		return 0;
	emit(o, i, j, R_REDACTED, sizeof R_REDACTED - 1, SCRUB_SECRET);
	return j;
}

static int
is_keych(unsigned char c)
{
	return is_alnum(c) || c == '_' || c == '-' || c == '.';
}

/*
 * Is k[0..n) a credential key? It must equal, or end in, one of the words
 * below, where the word starts after '_', '-', '.' or as a camelCase hump.
 * *auth is set for authorization headers.
 */
static int
secret_key(const char *k, size_t n, int *auth)
{
	static const char *const words[] = { "authorization", "api_key",
	    "apikey", "api-key", "password", "passwd", "token", "secret",
	    "access_key", "secret_key", "private_key", NULL };
	const char *const	*w;
	size_t			 l;
	unsigned char		 p, c;

	for (w = words; *w != NULL; w++) {
		l = strlen(*w);
		if (n < l || !ci_eq(k + n - l, *w, l))
			continue;
		if (n > l) {
			p = (unsigned char)k[n - l - 1];
			c = (unsigned char)k[n - l];
			if (p != '_' && p != '-' && p != '.' &&
			    !(c >= 'A' && c <= 'Z' && p >= 'a' && p <= 'z'))
				continue;
		}
		*auth = **w == 'a' && (*w)[1] == 'u';
		return 1;
	}
	return 0;
}

/* Values that are JSON literals are not credentials. */
static int
literal_value(const char *p, size_t n)
{
	return (n == 4 && (memcmp(p, "null", 4) == 0 ||
	    memcmp(p, "true", 4) == 0)) || (n == 5 && memcmp(p, "false", 5) == 0);
}

/* key=value / key: value / "key":"value" with a credential key at i. */
static size_t
try_keyval(struct sout *o, size_t n, size_t i)
{
	const char	*s = o->s;
	size_t		 j, q, w, vs;
	int		 auth = 0, bsq = 0;
	char		 quote = 0;

	j = run_max(s, n, i, is_keych, SCRUB_KEY_MAX);
	if (j - i > SCRUB_KEY_MAX)
		return 0;
	q = j;
	while (q < n && q - j < 2 && (s[q] == '"' || s[q] == '\'' ||
	    s[q] == '\\'))
		q++;
	while (q < n && (s[q] == ' ' || s[q] == '\t'))
		q++;
	if (q >= n || (s[q] != ':' && s[q] != '='))
		return 0;
	if (!secret_key(s + i, j - i, &auth))
		return 0;
	q++;
	if (q < n && s[q] == '/')	/* scheme://, not a value */
		return 0;
	while (q < n && (s[q] == ' ' || s[q] == '\t'))
		q++;
	if (q + 1 < n && s[q] == '\\' && (s[q + 1] == '"' ||
	    s[q + 1] == '\'')) {
		quote = s[q + 1];
		bsq = 1;
		q += 2;
	} else if (q < n && (s[q] == '"' || s[q] == '\'')) {
		quote = s[q];
		q++;
	}
	if (auth) {
		w = run_max(s, n, q, is_alpha, 6);
		if (w < n && s[w] == ' ' && ((w - q == 6 && ci_eq(s + q,
		    "bearer", 6)) || (w - q == 5 && ci_eq(s + q, "basic", 5)) ||
		    (w - q == 5 && ci_eq(s + q, "token", 5)))) {
			q = w;
			while (q < n && s[q] == ' ')
				q++;
		}
	}
	vs = q;
	if (quote) {
		while (q < n && s[q] != quote && s[q] != '\n') {
			if (s[q] == '\\') {
				if (bsq)
					break;
				q++;
			}
			q++;
		}
		if (q > n)
			q = n;
	} else {
		while (q < n && !is_space((unsigned char)s[q]) &&
		    !strchr("\"'&,;)]}<>\\`", s[q]))
			q++;
		if (literal_value(s + vs, q - vs))
			return 0;
	}
	if (q == vs || (q - vs == sizeof R_REDACTED - 1 &&
	    memcmp(s + vs, R_REDACTED, q - vs) == 0))
		return 0;
	emit(o, vs, q, R_REDACTED, sizeof R_REDACTED - 1, SCRUB_SECRET);
	return q;
}

static int
is_bearer_ch(unsigned char c)
{
	return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
	    c == '+' || c == '/' || c == '=';
}

/* A bare "Bearer <token>". */
static size_t
try_bearer(struct sout *o, size_t n, size_t i)
{
	const char	*s = o->s;
	size_t		 j, q;

	if (n - i < 7 || !ci_eq(s + i, "bearer", 6) || s[i + 6] != ' ')
		return 0;
	q = i + 6;
	while (q < n && s[q] == ' ')
		q++;
	j = run(s, n, q, is_bearer_ch);
	if (j - q < SCRUB_BEARER_MIN)
		return 0;
	emit(o, q, j, R_REDACTED, sizeof R_REDACTED - 1, SCRUB_SECRET);
	return j;
}

static int
is_scheme_ch(unsigned char c)
{
	return is_alnum(c) || c == '+' || c == '-' || c == '.';
}

/* Bytes that end a URL. */
static int
url_stop(unsigned char c)
{
	if (c <= 0x20 || c == 0x7f)
		return 1;
	return strchr("\"'<>\\`{}|^,;)]", c) != NULL;
}

/* scheme://[userinfo@]host[:port][/path][?query][#frag] → scheme://host */
static size_t
try_url(struct sout *o, size_t n, size_t i)
{
	const char	*s = o->s;
	size_t		 j, a, e, end, h, he, k;

	j = run_max(s, n, i, is_scheme_ch, SCRUB_SCHEME_MAX);
	if (j - i > SCRUB_SCHEME_MAX || n - j < 3 || memcmp(s + j, "://",
	    3) != 0)
		return 0;
	a = j + 3;
	e = a;
	if (e < n && s[e] == '[') {	/* IPv6 literal */
		while (e < n && s[e] != ']' && !url_stop((unsigned char)s[e]))
			e++;
		if (e < n && s[e] == ']')
			e++;
	}
	while (e < n && !url_stop((unsigned char)s[e]) && s[e] != '/' &&
	    s[e] != '?' && s[e] != '#')
		e++;
	end = e;
	while (end < n && !url_stop((unsigned char)s[end]))
		end++;
	while (end > a && strchr(".:!?", s[end - 1]))
		end--;
	if (e > end)
		e = end;
	h = a;
	for (k = a; k < e; k++) {
		if (s[k] == '@')
			h = k + 1;
	}
	he = h;
	if (he < e && s[he] == '[') {
		while (he < e && s[he] != ']')
			he++;
		if (he < e)
			he++;
	} else {
		while (he < e && s[he] != ':')
			he++;
	}
	if (h == a && he == end)
		return end;	/* already scheme://host */
	if (o->err)
		return end;
	if (buf_add(o->out, s + o->last, a - o->last) == -1 ||
	    buf_add(o->out, s + h, he - h) == -1) {
		o->err = 1;
		return end;
	}
	o->last = end;
	o->n++;
	if (o->counts != NULL)
		o->counts[SCRUB_URL]++;
	return end;
}

static int
is_local_ch(unsigned char c)
{
	return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' ||
	    c == '-';
}

static int
is_domain_ch(unsigned char c)
{
	return is_alnum(c) || c == '.' || c == '-';
}

/* local@domain.tld → <EMAIL>. */
static size_t
try_email(struct sout *o, size_t n, size_t i)
{
	const char	*s = o->s;
	size_t		 j, d, e, t;

	j = run_max(s, n, i, is_local_ch, SCRUB_LOCAL_MAX);
	if (j - i > SCRUB_LOCAL_MAX || j >= n || s[j] != '@')
		return 0;
	d = j + 1;
	if (d >= n || !is_alnum((unsigned char)s[d]))
		return 0;
	e = run(s, n, d, is_domain_ch);
	while (e > d && (s[e - 1] == '.' || s[e - 1] == '-'))
		e--;
	t = e;
	while (t > d && is_alpha((unsigned char)s[t - 1]))
		t--;
	if (e - t < 2 || t <= d || s[t - 1] != '.')
		return 0;
	emit(o, i, e, R_EMAIL, sizeof R_EMAIL - 1, SCRUB_EMAIL);
	return e;
}

/* Rules for a word starting at i (an ASCII letter or digit). */
static size_t
try_word(struct sout *o, size_t n, size_t i)
{
	const char	*s = o->s;
	size_t		 j;

	if (is_alpha((unsigned char)s[i]) && n - i > 2 && s[i + 1] == ':' &&
	    (s[i + 2] == '\\' || s[i + 2] == '/') && path_start(s, i) &&
	    (j = try_wpath(o, n, i)) != 0)
		return j;
	if ((j = try_token(o, n, i)) != 0)
		return j;
	if ((j = try_keyval(o, n, i)) != 0)
		return j;
	if ((s[i] == 'b' || s[i] == 'B') && (j = try_bearer(o, n, i)) != 0)
		return j;
	if ((j = try_url(o, n, i)) != 0)
		return j;
	return try_email(o, n, i);
}

/* The rule pass over s[0..n), appended to out. Replacements or -1. */
static int
scrub_rules(const char *s, size_t n, struct buf *out, unsigned *counts)
{
	struct sout	 o;
	size_t		 i = 0, j;
	unsigned char	 c;

	o.out = out;
	o.s = s;
	o.last = 0;
	o.counts = counts;
	o.n = 0;
	o.err = 0;
	while (i < n && !o.err) {
		c = (unsigned char)s[i];
		if (is_alnum(c)) {
			if (word_start(s, i) && (j = try_word(&o, n, i)) != 0) {
				i = j;
				continue;
			}
			while (i < n && (is_alnum((unsigned char)s[i]) ||
			    s[i] == '_'))
				i++;
			continue;
		}
		if (c == '/' && path_start(s, i) &&
		    (j = try_upath(&o, n, i)) != 0) {
			i = j;
			continue;
		}
		if (c == '\\') {
			if (path_start(s, i) && (j = try_unc(&o, n, i)) != 0) {
				i = j;
				continue;
			}
			if (i + 1 < n && (s[i + 1] == 'n' || s[i + 1] == 't' ||
			    s[i + 1] == 'r')) {
				i += 2;
				continue;
			}
		}
		i++;
	}
	if (o.err || buf_add(out, s + o.last, n - o.last) == -1) {
		errno = ENOMEM;
		return -1;
	}
	return o.n;
}

/* Replace every pat in s[0..n) by rep into out; the count, or -1. */
static int
replace_all(const char *s, size_t n, const char *pat, size_t pl,
    const char *rep, struct buf *out)
{
	const char	*p, *end = s + n;
	int		 cnt = 0;

	while ((p = memmem(s, (size_t)(end - s), pat, pl)) != NULL) {
		if (buf_add(out, s, (size_t)(p - s)) == -1 ||
		    buf_puts(out, rep) == -1)
			return -1;
		s = p + pl;
		cnt++;
	}
	if (buf_add(out, s, (size_t)(end - s)) == -1)
		return -1;
	return cnt;
}

/* Scrub in[0..len) into out (see scrub.h). */
int
scrub_text(const char *in, size_t len, const struct scrub_ctx *ctx,
    struct buf *out, unsigned counts[SCRUB_NKINDS])
{
	struct buf	 a = { 0 }, b = { 0 };
	const char	*s = in, *pat[2] = { NULL, NULL };
	static const char *const reps[2] = { "<HOME>", "<CWD>" };
	struct buf	*tmp[2] = { &a, &b };
	size_t		 n = len, start = out->len, pl;
	int		 total = 0, r, k;

	if (ctx != NULL) {
		pat[0] = ctx->home;
		pat[1] = ctx->cwd;
	}
	for (k = 0; k < 2; k++) {
		/* "/" alone would turn every slash into a marker */
		if (pat[k] == NULL || (pl = strlen(pat[k])) < 2 ||
		    memmem(s, n, pat[k], pl) == NULL)
			continue;
		if ((r = replace_all(s, n, pat[k], pl, reps[k], tmp[k])) == -1)
			goto nomem;
		total += r;
		if (counts != NULL)
			counts[k == 0 ? SCRUB_HOME : SCRUB_CWD] += (unsigned)r;
		s = tmp[k]->data;
		n = tmp[k]->len;
	}
	if ((r = scrub_rules(s, n, out, counts)) == -1)
		goto nomem;
	buf_free(&a);
	buf_free(&b);
	return total + r;
nomem:
	buf_free(&a);
	buf_free(&b);
	out->len = start;
	if (out->data != NULL)
		out->data[start] = '\0';
	errno = ENOMEM;
	return -1;
}
