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

#define SCRUB_KEY_MAX	64	/* longest key name (key=value) */
#define SCRUB_SCHEME_MAX 32	/* longest URL scheme */
#define SCRUB_LOCAL_MAX	64	/* longest e-mail local part */
#define SCRUB_BEARER_MIN 8	/* shortest token after a bare "Bearer " */
#define SCRUB_JWT_HEAD	512	/* longest JWT header segment */
#define SCRUB_JWT_BODY	8192	/* longest JWT payload segment */
#define SCRUB_ROUNDS	4	/* extra passes while a pass changes text */

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
	size_t		 fresh;	/* a token may start here (after a path) */
	int		 n;	/* replacements */
	int		 err;	/* ENOMEM seen */
};

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

/* ---- character classes: one table lookup per byte ---- */

#define CL_ALPHA	0x0001u	/* [A-Za-z] */
#define CL_DIGIT	0x0002u	/* [0-9] */
#define CL_UPPER	0x0004u	/* [A-Z] */
#define CL_US		0x0008u	/* '_' */
#define CL_DASH		0x0010u	/* '-' */
#define CL_DOT		0x0020u	/* '.' */
#define CL_LOCAL	0x0040u	/* also in e-mail local parts: % + */
#define CL_SCHEME	0x0080u	/* also in URL schemes: + */
#define CL_BEARER	0x0100u	/* also in bearer tokens: ~ + / = */
#define CL_PSTOP	0x0200u	/* ends a path component */
#define CL_USTOP	0x0400u	/* ends a URL */
#define CL_SPACE	0x0800u	/* white space */
#define CL_ALNUM	(CL_ALPHA | CL_DIGIT)

#define IN(c, a, b)	((c) >= (a) && (c) <= (b))
#define CLS(c) (unsigned short)(					\
    (IN(c, 'a', 'z') || IN(c, 'A', 'Z') ? CL_ALPHA : 0) |		\
    (IN(c, '0', '9') ? CL_DIGIT : 0) |					\
    (IN(c, 'A', 'Z') ? CL_UPPER : 0) |					\
    ((c) == '_' ? CL_US : 0) | ((c) == '-' ? CL_DASH : 0) |		\
    ((c) == '.' ? CL_DOT : 0) |						\
    ((c) == '%' || (c) == '+' ? CL_LOCAL : 0) |				\
    ((c) == '+' ? CL_SCHEME : 0) |					\
    ((c) == '~' || (c) == '+' || (c) == '/' || (c) == '=' ? CL_BEARER : 0) | \
    ((c) <= 0x20 || (c) == 0x7f || (c) == '"' || (c) == '\'' ||	\
    (c) == '`' || (c) == '<' || (c) == '>' || (c) == '|' || (c) == ':' || \
    (c) == ',' || (c) == ';' || (c) == '(' || (c) == ')' || (c) == '[' || \
    (c) == ']' || (c) == '{' || (c) == '}' ? CL_PSTOP : 0) |		\
    ((c) <= 0x20 || (c) == 0x7f || (c) == '"' || (c) == '\'' ||	\
    (c) == '<' || (c) == '>' || (c) == '\\' || (c) == '`' || (c) == '{' || \
    (c) == '}' || (c) == '|' || (c) == '^' || (c) == ',' || (c) == ';' || \
    (c) == ')' || (c) == ']' ? CL_USTOP : 0) |				\
    ((c) == ' ' || IN(c, 0x09, 0x0d) ? CL_SPACE : 0))
#define R4(n)	CLS(n), CLS(n + 1), CLS(n + 2), CLS(n + 3)
#define R16(n)	R4(n), R4(n + 4), R4(n + 8), R4(n + 12)
#define R64(n)	R16(n), R16(n + 16), R16(n + 32), R16(n + 48)

/* Classes of the 128 ASCII bytes; bytes >= 0x80 are in none. */
static const unsigned short cls[256] = { R64(0), R64(64) };

/* Rule-specific character sets. */
#define S_WORD		(CL_ALNUM | CL_US)	/* skipped as one word */
#define S_TOK		(S_WORD | CL_DASH)	/* [A-Za-z0-9_-] */
#define S_KEY		(S_TOK | CL_DOT)		/* key names */
#define S_LOCAL		(S_KEY | CL_LOCAL)	/* e-mail local part */
#define S_SCHEME	(CL_ALNUM | CL_DASH | CL_DOT | CL_SCHEME)
#define S_DOMAIN	(CL_ALNUM | CL_DASH | CL_DOT)
#define S_BEARER	(S_TOK | CL_DOT | CL_BEARER)
#define S_HOST		(S_DOMAIN | CL_US)		/* URL host names */

static int
has(unsigned char c, unsigned m)
{
	return (cls[c] & m) != 0;
}

static int
is_alpha(unsigned char c)
{
	return has(c, CL_ALPHA);
}

static int
is_alnum(unsigned char c)
{
	return has(c, CL_ALNUM);
}

static int
is_space(unsigned char c)
{
	return has(c, CL_SPACE);
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
	if (has(p, S_WORD))
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
	if (p >= 0x80 || p <= 0x20)
		return 1;
	switch (p) {
	case '"': case '\'': case '`': case '(': case '[': case '{':
	case '=': case ',': case ':': case ';': case '|':
		return 1;
	}
	return after_text_escape(s, i);
}

/* Does byte c end a path component (bs: backslash is a separator)? */
static int
path_stop(unsigned char c, int bs)
{
	return has(c, CL_PSTOP) || (!bs && c == '\\');
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
	    !path_stop((unsigned char)s[k], 0))
		k++;
	return k < n && is_sep((unsigned char)s[k], bs);
}

/*
 * Scan path components from j (separators '/' and, when bs, '\\').
 * Returns the number of components; *ls is where the last one starts.
 * The scan starts at a separator (UNC: at the server name). Trailing
 * separators are not part of the path. A component may contain single
 * spaces when the next word goes on with a separator ("/Users/J Doe/x").
 */
static unsigned
path_scan(const char *s, size_t n, size_t j, int bs, size_t *ls)
{
	size_t		 k;
	unsigned	 nc = 0;

	for (;;) {
		/* trailing separators stay outside (keeps \" intact) */
		for (k = j; k < n && is_sep((unsigned char)s[k], bs); k++)
			;
		if ((k == j && nc > 0) || k >= n ||
		    path_stop((unsigned char)s[k], bs))
			return nc;
		*ls = j = k;
		for (;;) {
			while (j < n && !is_sep((unsigned char)s[j], bs) &&
			    !path_stop((unsigned char)s[j], bs))
				j++;
			if (j < n && s[j] == ' ' &&
			    space_continues(s, n, j + 1, bs)) {
				j++;
				continue;
			}
			break;
		}
		nc++;
	}
}

/*
 * A path s[i..) whose file name starts at ls: drop the directories and go
 * on scanning at the file name as if it started the token, exactly as a
 * second pass over the output would ("/etc/password: x" → "password:
 * <REDACTED>").
 */
static size_t
path_done(struct sout *o, size_t i, size_t ls)
{
	emit(o, i, ls, "", 0, SCRUB_PATH);
	o->fresh = ls;
	return ls;
}

/* Unix absolute path at i ('/'): at least two components → the last. */
static size_t
try_upath(struct sout *o, size_t n, size_t i)
{
	size_t	 ls = 0;

	if (path_scan(o->s, n, i, 0, &ls) < 2)
		return 0;
	return path_done(o, i, ls);
}

/* Windows drive path at i ("C:\", "C:/"): at least one component. */
static size_t
try_wpath(struct sout *o, size_t n, size_t i)
{
	size_t	 ls = 0;

	if (path_scan(o->s, n, i + 2, 1, &ls) < 1)
		return 0;
	return path_done(o, i, ls);
}

/* UNC path at i ("\\server\share..."): server and one more component. */
static size_t
try_unc(struct sout *o, size_t n, size_t i)
{
	const char	*s = o->s;
	size_t		 j = i, ls = 0;

	while (j < n && s[j] == '\\')
		j++;
	if (j - i < 2 || j >= n || !is_alnum((unsigned char)s[j]) ||
	    path_scan(s, n, j, 1, &ls) < 2)
		return 0;
	return path_done(o, i, ls);
}

/* End of the run of bytes in class set m from j. */
static size_t
run(const char *s, size_t n, size_t j, unsigned m)
{
	while (j < n && has((unsigned char)s[j], m))
		j++;
	return j;
}

/*
 * Like run() but looks at no more than max + 1 bytes, so that rules tried
 * at every word start stay linear overall.
 */
static size_t
run_max(const char *s, size_t n, size_t j, unsigned m, size_t max)
{
	if (n - j > max + 1)
		n = j + max + 1;
	return run(s, n, j, m);
}

static int
has_prefix(const char *s, size_t n, size_t i, const char *pfx, size_t l)
{
	return n - i >= l && memcmp(s + i, pfx, l) == 0;
}
#define PFX(s, n, i, lit)	has_prefix(s, n, i, lit, sizeof(lit) - 1)

/* JWT: eyJ<b64url>.eyJ<b64url>.<b64url>; returns its end or 0. */
static size_t
jwt_end(const char *s, size_t n, size_t i)
{
	size_t	 j;

	j = run_max(s, n, i + 3, S_TOK, SCRUB_JWT_HEAD);
	if (j - i < 10 || j - i > SCRUB_JWT_HEAD || j >= n || s[j] != '.' ||
	    !PFX(s, n, j + 1, "eyJ"))
		return 0;
	i = j + 1;
	j = run_max(s, n, i + 3, S_TOK, SCRUB_JWT_BODY);
	if (j - i < 10 || j - i > SCRUB_JWT_BODY || j >= n || s[j] != '.')
		return 0;
	return run(s, n, j + 1, S_TOK);
}

/* Body of at least min bytes of class m after a prefix of pl bytes. */
static size_t
body(const char *s, size_t n, size_t i, size_t pl, unsigned m, size_t min)
{
	size_t	 j;

	j = run(s, n, i + pl, m);
	return j - (i + pl) >= min ? j : 0;
}

/* Known credential shapes at i; returns the token's end or 0. */
static size_t
token_end(const char *s, size_t n, size_t i)
{
	size_t	 j;

	switch (s[i]) {
	case 's':
		if (PFX(s, n, i, "sk-"))
			return body(s, n, i, 3, S_TOK, 16);
		break;
	case 'g':
		if (n - i > 4 && s[i + 1] == 'h' && (s[i + 2] == 'p' ||
		    s[i + 2] == 'o' || s[i + 2] == 's' || s[i + 2] == 'u' ||
		    s[i + 2] == 'r') && s[i + 3] == '_')
			return body(s, n, i, 4, CL_ALNUM, 20);
		if (PFX(s, n, i, "github_pat_"))
			return body(s, n, i, 11, CL_ALNUM | CL_US, 20);
		if (PFX(s, n, i, "glpat-"))
			return body(s, n, i, 6, S_TOK, 20);
		break;
	case 'x':
		if (n - i > 5 && s[i + 1] == 'o' && s[i + 2] == 'x' &&
		    (s[i + 3] == 'a' || s[i + 3] == 'b' || s[i + 3] == 'p' ||
		    s[i + 3] == 'r') && s[i + 4] == '-')
			return body(s, n, i, 5, CL_ALNUM | CL_DASH, 10);
		break;
	case 'A':
		if (PFX(s, n, i, "AKIA") || PFX(s, n, i, "ASIA")) {
			j = run_max(s, n, i + 4, CL_UPPER | CL_DIGIT, 16);
			if (j - (i + 4) == 16 && (j == n ||
			    !has((unsigned char)s[j], S_TOK)))
				return j;
			return 0;
		}
		if (PFX(s, n, i, "AIza"))
			return body(s, n, i, 4, S_TOK, 35);
		break;
	case 'e':
		if (PFX(s, n, i, "eyJ"))
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

/*
 * Is k[0..n) a credential key? It must equal, or end in, one of the words
 * below, where the word starts after '_', '-', '.' or as a camelCase hump.
 * *auth is set for authorization headers.
 */
static int
secret_key(const char *k, size_t n, int *auth)
{
	static const struct {
		const char	*w;
		size_t		 l;
	} words[] = {
#define W(x)	{ x, sizeof(x) - 1 }
		W("authorization"), W("api_key"), W("apikey"), W("api-key"),
		W("password"), W("passwd"), W("token"), W("secret"),
		W("access_key"), W("secret_key"), W("private_key"),
#undef W
	};
	size_t		 i, l;
	unsigned char	 p, c;

	if (n < 5)
		return 0;
	c = lower((unsigned char)k[n - 1]);	/* the words end in n y d t */
	if (c != 'n' && c != 'y' && c != 'd' && c != 't')
		return 0;
	for (i = 0; i < sizeof words / sizeof words[0]; i++) {
		l = words[i].l;
		if (n < l || !ci_eq(k + n - l, words[i].w, l))
			continue;
		if (n > l) {
			p = (unsigned char)k[n - l - 1];
			c = (unsigned char)k[n - l];
			if (p != '_' && p != '-' && p != '.' &&
			    !(c >= 'A' && c <= 'Z' && p >= 'a' && p <= 'z'))
				continue;
		}
		*auth = i == 0;
		return 1;
	}
	return 0;
}

/* Values that are JSON literals are not credentials. */
static int
literal_value(const char *p, size_t n)
{
	return (n == 4 && (memcmp(p, "null", 4) == 0 ||
	    memcmp(p, "true", 4) == 0)) ||
	    (n == 5 && memcmp(p, "false", 5) == 0);
}

/* Bytes that end an unquoted credential value. */
static int
value_stop(unsigned char c)
{
	return is_space(c) || c == '"' || c == '\'' || c == '&' || c == ',' ||
	    c == ';' || c == ')' || c == ']' || c == '}' || c == '<' ||
	    c == '>' || c == '\\' || c == '`';
}

/*
 * key=value / key: value / "key":"value" with a credential key s[i..j)
 * (bytes of S_KEY).
 */
static size_t
try_keyval(struct sout *o, size_t n, size_t i, size_t j)
{
	const char	*s = o->s;
	size_t		 q, w, vs;
	int		 auth = 0, bsq = 0;
	char		 quote = 0;

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
	if (auth) {	/* keep the scheme: "Bearer <REDACTED>" */
		w = run_max(s, n, q, CL_ALPHA, 6);
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
		while (q < n && !value_stop((unsigned char)s[q]))
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
	j = run(s, n, q, S_BEARER);
	if (j - q < SCRUB_BEARER_MIN)
		return 0;
	emit(o, q, j, R_REDACTED, sizeof R_REDACTED - 1, SCRUB_SECRET);
	return j;
}

/* Bytes inside an IPv6 literal ([fe80::1%25eth0]). */
static int
is_ip6(unsigned char c)
{
	return is_alnum(c) || c == ':' || c == '.' || c == '%';
}

/*
 * scheme://[userinfo@]host[:port][/path][?query][#frag] → scheme://host.
 * The scheme is s[i..j). An URL already in that form is passed over.
 */
static size_t
try_url(struct sout *o, size_t n, size_t i, size_t j)
{
	const char	*s = o->s;
	size_t		 a, e, end, h, he, k;

	if (!is_alpha((unsigned char)s[i]) || j - i > SCRUB_SCHEME_MAX ||
	    run(s, j, i, S_SCHEME) != j)
		return 0;
	a = j + 3;
	for (e = a; e < n; ) {
		if (s[e] == '[') {	/* IPv6 literal: its ']' is no stop */
			for (k = e + 1; k < n && is_ip6((unsigned char)s[k]);
			    k++)
				;
			e = k < n && s[k] == ']' ? k + 1 : e + 1;
			continue;
		}
		if (has((unsigned char)s[e], CL_USTOP) || s[e] == '/' ||
		    s[e] == '?' || s[e] == '#')
			break;
		e++;
	}
	end = e;
	while (end < n && !has((unsigned char)s[end], CL_USTOP))
		end++;
	while (end > a && (s[end - 1] == '.' || s[end - 1] == ':' ||
	    s[end - 1] == '!' || s[end - 1] == '?'))
		end--;
	if (e > end)
		e = end;
	h = a;
	for (k = a; k < e; k++) {
		if (s[k] == '@')
			h = k + 1;
	}
	he = h;		/* the host: [IPv6] or a run of host bytes */
	if (h < e && s[h] == '[') {
		for (k = h + 1; k < e && is_ip6((unsigned char)s[k]); k++)
			;
		if (k < e && s[k] == ']')
			he = k + 1;
	}
	if (he == h)
		he = run(s, e, h, S_HOST);
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

/* local@domain.tld → <EMAIL>; the local part is s[i..j), s[j] == '@'. */
static size_t
try_email(struct sout *o, size_t n, size_t i, size_t j)
{
	const char	*s = o->s;
	size_t		 d, e, t;

	d = j + 1;
	if (d >= n || !is_alnum((unsigned char)s[d]))
		return 0;
	e = run(s, n, d, S_DOMAIN);
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

/*
 * Rules for a word starting at i (an ASCII letter or digit). Returns where
 * to go on after a replacement, or 0; *skip is where the next word can
 * start when nothing matched.
 */
static size_t
try_word(struct sout *o, size_t n, size_t i, size_t *skip)
{
	const char	*s = o->s;
	unsigned char	 c = (unsigned char)s[i], t;
	unsigned	 acc = 0, k;
	size_t		 j, lim;

	*skip = i + 1;
	if (n - i > 2 && s[i + 1] == ':' && (s[i + 2] == '\\' ||
	    s[i + 2] == '/') && is_alpha(c) && (i == o->fresh ||
	    path_start(s, i)) && (j = try_wpath(o, n, i)) != 0)
		return j;
	if ((c == 's' || c == 'g' || c == 'x' || c == 'A' || c == 'e') &&
	    (j = try_token(o, n, i)) != 0)
		return j;
	if ((c == 'b' || c == 'B') && (j = try_bearer(o, n, i)) != 0)
		return j;
	/* one scan of the word decides which of the other rules can apply */
	lim = n - i > SCRUB_LOCAL_MAX + 1 ? i + SCRUB_LOCAL_MAX + 1 : n;
	for (j = i; j < lim && ((k = cls[(unsigned char)s[j]]) & S_LOCAL);
	    j++)
		acc |= k;
	if (!(acc & ~S_WORD & S_LOCAL))
		*skip = j;	/* a plain word: nothing can start inside */
	if (j >= n || j - i > SCRUB_LOCAL_MAX)
		return 0;
	t = (unsigned char)s[j];
	if (t == '@')
		return try_email(o, n, i, j);
	if (t == ':' && n - j >= 3 && s[j + 1] == '/' && s[j + 2] == '/')
		return try_url(o, n, i, j);
	if (acc & CL_LOCAL)
		return 0;	/* '%' or '+': not a key name */
	if (t == ' ' || t == '\t') {	/* "key : value"? */
		for (lim = j; lim < n && (s[lim] == ' ' || s[lim] == '\t');
		    lim++)
			;
		if (lim >= n || (s[lim] != ':' && s[lim] != '='))
			return 0;
		return try_keyval(o, n, i, j);
	}
	if (t == ':' || t == '=' || t == '"' || t == '\'' || t == '\\')
		return try_keyval(o, n, i, j);
	return 0;
}

/* The rule pass over s[0..n), appended to out. Replacements or -1. */
static int
scrub_rules(const char *s, size_t n, struct buf *out, unsigned *counts)
{
	struct sout	 o;
	size_t		 i = 0, j, skip;
	unsigned char	 c;

	o.out = out;
	o.s = s;
	o.last = 0;
	o.counts = counts;
	o.fresh = (size_t)-1;
	o.n = 0;
	o.err = 0;
	while (i < n && !o.err) {
		c = (unsigned char)s[i];
		if (has(c, CL_ALNUM)) {
			if (i == o.fresh || word_start(s, i)) {
				if ((j = try_word(&o, n, i, &skip)) != 0) {
					i = j;
					continue;
				}
				i = skip;
			}
			i = run(s, n, i, S_WORD);
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

/* First occurrence of pat[0..pl) (pl >= 1) in s[0..n), or NULL. */
static const char *
find(const char *s, size_t n, const char *pat, size_t pl)
{
	const char	*p;

	while (n >= pl) {
		if ((p = memchr(s, pat[0], n - pl + 1)) == NULL)
			return NULL;
		if (memcmp(p + 1, pat + 1, pl - 1) == 0)
			return p;
		n -= (size_t)(p + 1 - s);
		s = p + 1;
	}
	return NULL;
}

/* Replace every pat in s[0..n) by rep into out; the count, or -1. */
static int
replace_all(const char *s, size_t n, const char *pat, size_t pl,
    const char *rep, struct buf *out)
{
	const char	*p, *end = s + n;
	int		 cnt = 0;

	while ((p = find(s, (size_t)(end - s), pat, pl)) != NULL) {
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

/* The marker patterns of a context: home then cwd; NULL when unused. */
static void
ctx_patterns(const struct scrub_ctx *ctx, const char *pat[2], size_t pl[2])
{
	int	 k;

	pat[0] = ctx != NULL ? ctx->home : NULL;
	pat[1] = ctx != NULL ? ctx->cwd : NULL;
	for (k = 0; k < 2; k++) {
		/* "/" alone would turn every slash into a marker */
		if (pat[k] != NULL && (pl[k] = strlen(pat[k])) < 2)
			pat[k] = NULL;
	}
}

/* One pass: home, then cwd, then the rules; appended to out. */
static int
scrub_once(const char *in, size_t len, const char *pat[2],
    const size_t pl[2], struct buf *out, unsigned *counts)
{
	static const char *const reps[2] = { "<HOME>", "<CWD>" };
	struct buf	 a = { 0 }, b = { 0 };
	struct buf	*tmp[2] = { &a, &b };
	const char	*s = in;
	size_t		 n = len;
	int		 total = 0, r = 0, k;

	for (k = 0; k < 2; k++) {
		if (pat[k] == NULL || pl[k] > n ||
		    find(s, n, pat[k], pl[k]) == NULL)
			continue;
		if ((r = replace_all(s, n, pat[k], pl[k], reps[k],
		    tmp[k])) == -1)
			break;
		total += r;
		if (counts != NULL)
			counts[k == 0 ? SCRUB_HOME : SCRUB_CWD] += (unsigned)r;
		s = tmp[k]->data;
		n = tmp[k]->len;
	}
	if (r != -1)
		r = scrub_rules(s, n, out, counts);
	buf_free(&a);
	buf_free(&b);
	return r == -1 ? -1 : total + r;
}

/*
 * Scrub in[0..len) into out (see scrub.h). One pass can expose new
 * matches (dropping a path's directories puts its file name next to a
 * "Bearer ", a URL's host next to "//"), so while a pass replaces
 * anything the result is scrubbed again, at most SCRUB_ROUNDS times: the
 * output is a fixed point, and scrubbing it again changes nothing.
 */
int
scrub_text(const char *in, size_t len, const struct scrub_ctx *ctx,
    struct buf *out, unsigned counts[SCRUB_NKINDS])
{
	struct buf	 again = { 0 };
	const char	*pat[2];
	size_t		 pl[2] = { 0, 0 }, start = out->len;
	int		 total, r, round;

	if (len == 0)	/* nothing to append, but out is a valid string */
		return buf_add(out, "", 0) == -1 ? -1 : 0;
	ctx_patterns(ctx, pat, pl);
	if ((total = scrub_once(in, len, pat, pl, out, counts)) == -1)
		goto nomem;
	for (r = total, round = 0; r > 0 && round < SCRUB_ROUNDS; round++) {
		again.len = 0;
		if (buf_add(&again, out->data + start, out->len - start) == -1)
			goto nomem;
		out->len = start;
		if ((r = scrub_once(again.data, again.len, pat, pl, out,
		    counts)) == -1)
			goto nomem;
		total += r;
	}
	buf_free(&again);
	return total;
nomem:
	buf_free(&again);
	out->len = start;
	if (out->data != NULL)
		out->data[start] = '\0';
	errno = ENOMEM;
	return -1;
}
