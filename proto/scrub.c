/*
 * scrub.c — the privacy firewall for free-text record values: an allowlist
 * tokenizer that fails closed. The text is cut into tokens: a word is a run
 * of letters, digits, '_' and non-ASCII letters; a compound is words joined
 * by - . / : @ \ % ~ + ("orion-ledger", "build-17.corp", "a@b.c"). A token
 * is kept only when it is safe by construction:
 *   - a word or a whole compound of the built-in vocabulary (proto/vocab.h:
 *     common lowercase English words, errno names, HTTP reason phrases, the
 *     words of common tool and runtime errors, public hosts);
 *   - a small number (at most 6 digits, not part of a longer digit group),
 *     a version, a number with a unit, a compiler error code;
 *   - a path in a public code namespace whose parts are all vocabulary
 *     words (core::panicking::panic_fmt, java.lang.NullPointerException);
 *   - punctuation and white space.
 * Every other token becomes a typed placeholder (<PATH>, <URL:host> or
 * <URL>, <EMAIL>, <IP>, <SECRET>, <ID>, <WORD>, <NUM>, <HOME>, <CWD>). The
 * targeted rules (paths, URLs, e-mail addresses, IPs, credentials, PEM
 * blocks, long digit groups) only choose a better placeholder or a longer
 * span; none of them decides that something is kept. Whatever follows a
 * credential key (password=, "token": "...", --password X, -p X,
 * <password>, Authorization:, 密码：) is never kept, vocabulary or not.
 *
 * Before the scan, ANSI escape sequences are removed and the home and
 * working directories are replaced (the longer first, so a cwd under home
 * gives <CWD>); what follows them on the path becomes <PATH>.
 *
 * The output is a fixed point: decisions that depend on context look at
 * the output already written where they can, and a pass that changed
 * anything is run again on its own output until nothing changes.
 *
 * Must never: do I/O, allocate per token, keep global state, read outside
 * in[0..len), or copy an invalid UTF-8 byte.
 */
#include <errno.h>
#include <string.h>

#include "buf.h"
#include "frame.h"
#include "scrub.h"
#include "vocab.h"

#define TOK_MAX		63	/* longest token looked up (VOCAB_MAXLEN) */
#define NUM_KEEP	6	/* longest number kept, in digits */
#define QUOTE_SCAN	4096	/* a quoted path ends within this many bytes */
#define NAME_SCAN	64	/* display name before an e-mail: bytes */
#define KEY_SEGS	8	/* segments of a key name looked at */
#define CUT_SCAN	512	/* a cut looks this far back for a space */
#define SCRUB_ROUNDS	4	/* passes after the first, to a fixed point */
/*
 * Where the home and working directories were, before the main pass: two
 * bytes valid UTF-8 never holds. The pass writes (and counts) <HOME> and
 * <CWD> for them, unless they end up inside a credential's value.
 */
#define MARK_HOME	"\xff\x01"
#define MARK_CWD	"\xff\x02"

const char *const scrub_kind_names[SCRUB_NKINDS] = {
	"home", "cwd", "path", "url", "email", "ip", "secret", "id", "word",
	"num", "custom"
};

const char *const scrub_placeholders[SCRUB_NKINDS] = {
	"<HOME>", "<CWD>", "<PATH>", "<URL>", "<EMAIL>", "<IP>", "<SECRET>",
	"<ID>", "<WORD>", "<NUM>", "<custom>"
};

/* ---- character classes: one table lookup per ASCII byte ---- */

#define C_WORD	0x001u	/* [A-Za-z0-9_] */
#define C_UPPER	0x002u
#define C_LOWER	0x004u
#define C_DIGIT	0x008u
#define C_JOIN	0x010u	/* - . / : @ \ % ~ + */
#define C_SPACE	0x020u	/* white space */
#define C_HEX	0x040u	/* [0-9a-fA-F] */
#define C_USTOP	0x080u	/* ends a URL */
#define C_PSTOP	0x100u	/* ends a path */
#define C_VSTOP	0x200u	/* ends an unquoted credential value */
#define C_CTRL	0x400u	/* other control bytes */

#define IN(c, a, b)	((c) >= (a) && (c) <= (b))
#define CLS(c) (unsigned short)(					\
    (IN(c, 'a', 'z') || IN(c, 'A', 'Z') || IN(c, '0', '9') ||		\
    (c) == '_' ? C_WORD : 0) |						\
    (IN(c, 'A', 'Z') ? C_UPPER : 0) | (IN(c, 'a', 'z') ? C_LOWER : 0) |	\
    (IN(c, '0', '9') ? C_DIGIT : 0) |					\
    ((c) == '-' || (c) == '.' || (c) == '/' || (c) == ':' || (c) == '@' || \
    (c) == '\\' || (c) == '%' || (c) == '~' || (c) == '+' ? C_JOIN : 0) | \
    ((c) == ' ' || IN(c, 0x09, 0x0d) ? C_SPACE : 0) |			\
    (IN(c, '0', '9') || IN(c, 'a', 'f') || IN(c, 'A', 'F') ? C_HEX : 0) | \
    ((c) <= 0x20 || (c) == 0x7f || (c) == '"' || (c) == '\'' ||	\
    (c) == '<' || (c) == '>' || (c) == '\\' || (c) == '`' || (c) == '{' || \
    (c) == '}' || (c) == '|' || (c) == '^' || (c) == ',' || (c) == ';' || \
    (c) == ')' || (c) == ']' ? C_USTOP : 0) |				\
    ((c) <= 0x20 || (c) == 0x7f || (c) == '"' || (c) == '\'' ||	\
    (c) == '`' || (c) == '<' || (c) == '>' || (c) == '|' || (c) == ',' || \
    (c) == ';' || (c) == ':' || (c) == '[' || (c) == ']' || (c) == '{' || \
    (c) == '}' || (c) == '*' || (c) == '?' || (c) == '=' ? C_PSTOP : 0) | \
    ((c) <= 0x20 || (c) == 0x7f || (c) == '"' || (c) == '\'' ||	\
    (c) == '&' || (c) == ',' || (c) == ';' || (c) == ')' || (c) == ']' || \
    (c) == '}' || (c) == '<' || (c) == '>' || (c) == '\\' || (c) == '`' || \
    (c) == '|' ? C_VSTOP : 0) |						\
    ((c) < 0x20 && !IN(c, 0x09, 0x0d) ? C_CTRL : 0))
#define R4(n)	CLS(n), CLS(n + 1), CLS(n + 2), CLS(n + 3)
#define R16(n)	R4(n), R4(n + 4), R4(n + 8), R4(n + 12)
#define R64(n)	R16(n), R16(n + 16), R16(n + 32), R16(n + 48)

/* Classes of the 128 ASCII bytes; bytes >= 0x80 are in none. */
static const unsigned short cls[256] = { R64(0), R64(64) };

static int
has(unsigned char c, unsigned m)
{
	return (cls[c] & m) != 0;
}

static unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Case-insensitive: does s[i..) start with lowercase w? */
static int
ci_pfx(const char *s, size_t n, size_t i, const char *w)
{
	size_t	 k;

	for (k = 0; w[k] != '\0'; k++) {
		if (i + k >= n || lower((unsigned char)s[i + k]) !=
		    (unsigned char)w[k])
			return 0;
	}
	return 1;
}

/* Does s[i..) start with the bytes of w? */
static int
pfx(const char *s, size_t n, size_t i, const char *w)
{
	size_t	 l = strlen(w);

	return n - i >= l && memcmp(s + i, w, l) == 0;
}

/* ---- UTF-8 ---- */

/* Is code point cp punctuation, a symbol or a space (not part of words)? */
static int
u_punct(unsigned cp)
{
	/* zero-width and format characters join: "horse\u200bbattery" */
	if ((cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2060 &&
	    cp <= 0x2064) || cp == 0xfeff || cp == 0xad)
		return 0;
	return (cp >= 0xa0 && cp <= 0xbf) || cp == 0xd7 || cp == 0xf7 ||
	    (cp >= 0x2000 && cp <= 0x206f) || (cp >= 0x2190 && cp <= 0x23ff) ||
	    (cp >= 0x2500 && cp <= 0x27bf) || (cp >= 0x2900 && cp <= 0x2bff) ||
	    (cp >= 0x3000 && cp <= 0x303f) || (cp >= 0xfe30 && cp <= 0xfe6f) ||
	    (cp >= 0xff01 && cp <= 0xff0f) || (cp >= 0xff1a && cp <= 0xff20) ||
	    (cp >= 0xff3b && cp <= 0xff40) || (cp >= 0xff5b && cp <= 0xff65) ||
	    cp == 0xfe0f || cp == 0xfeff || (cp >= 0x1f000 && cp <= 0x1faff);
}

/*
 * Bytes of the word character at s[j] (j < n, s[j] >= 0x80): the length of
 * a valid sequence that is not punctuation, 1 for an invalid byte (a word
 * byte: it is never copied), 0 for punctuation.
 */
static size_t
u_word(const char *s, size_t n, size_t j)
{
	unsigned	 cp;
	size_t		 l;

	if ((l = utf8_decode((const unsigned char *)s + j, n - j, &cp)) == 0)
		return 1;
	return u_punct(cp) ? 0 : l;
}

/* Does a word character start at j? */
static int
word_at(const char *s, size_t n, size_t j)
{
	unsigned char	 c;

	if (j >= n)
		return 0;
	c = (unsigned char)s[j];
	return c < 0x80 ? has(c, C_WORD) : u_word(s, n, j) != 0;
}

/* ---- output ---- */

struct sc {
	const char	*s;
	size_t		 n;
	struct buf	*out;
	size_t		 ostart;	/* where this text's output starts */
	size_t		 ps, pe;	/* input bytes kept, not yet written */
	int		 err;
	int		 flag;		/* dashes before the current token */
	int		 has_at;	/* the text holds an '@' */
};

/* Write the input bytes not yet written (the pending span). */
static void
flush(struct sc *x)
{
	if (x->pe > x->ps && !x->err && buf_add(x->out, x->s + x->ps,
	    x->pe - x->ps) == -1)
		x->err = 1;
	x->ps = x->pe = 0;
}

/* Write p[0..n) (not from the input). */
static void
put(struct sc *x, const char *p, size_t n)
{
	flush(x);
	if (!x->err && buf_add(x->out, p, n) == -1)
		x->err = 1;
}

/*
 * Keep the input bytes s[a..a+n): most of the output is runs of them, so
 * they are written in one piece when something else comes.
 */
static void
span(struct sc *x, size_t a, size_t n)
{
	if (x->pe > x->ps && x->pe == a) {
		x->pe += n;
		return;
	}
	flush(x);
	x->ps = a;
	x->pe = a + n;
}

static void
rep(struct sc *x, enum scrub_kind k)
{
	static const unsigned char len[SCRUB_NKINDS] = { 6, 5, 6, 5, 7, 4, 8,
	    4, 6, 5, 8 };

	put(x, scrub_placeholders[k], len[k]);
}

/*
 * Does a sentence start here? Decided on the output already written (so a
 * second pass decides the same): after the start, a line break (also
 * written as \n), . ! ? : { [ — quotes in between do not count.
 */
static int
sentence_start(struct sc *x)
{
	const char	*o;
	size_t		 k;
	unsigned char	 c;

	flush(x);
	o = x->out->data;
	k = x->out->len;

	while (k > x->ostart) {
		c = (unsigned char)o[k - 1];
		if (c == ' ' || c == '\t' || c == '"' || c == '\'' ||
		    c == '`') {
			k--;
			continue;
		}
		if (c == '\n' || c == '\r')
			return 1;
		if ((c == 'n' || c == 'r') && k - 1 > x->ostart &&
		    o[k - 2] == '\\')
			return 1;
		if (c == '\\') {
			k--;
			continue;
		}
		return c == '.' || c == '!' || c == '?' || c == ':' ||
		    c == '{' || c == '[';
	}
	return 1;
}

/* ---- placeholders already in the text ---- */

/* Kind of the placeholder at p[0..n) and its length; -1 if none. */
int
scrub_placeholder_at(const char *p, size_t n, size_t *len)
{
	size_t	 k, l;
	int	 i;

	if (n < 3 || p[0] != '<')
		return -1;
	for (i = 0; i < SCRUB_NKINDS; i++) {
		l = strlen(scrub_placeholders[i]);
		if (n >= l && memcmp(p, scrub_placeholders[i], l) == 0) {
			*len = l;
			return i;
		}
	}
	if (n > 6 && memcmp(p, "<URL:", 5) == 0) {
		for (k = 5; k < n && k < 5 + VOCAB_MAXLEN && (has(
		    (unsigned char)p[k], C_LOWER | C_DIGIT) || p[k] == '.' ||
		    p[k] == '-'); k++)
			;
		if (k > 5 && k < n && p[k] == '>') {
			*len = k + 1;
			return SCRUB_URL;
		}
	}
	if (n > 9 && memcmp(p, "<custom:", 8) == 0) {
		for (k = 8; k < n && k < 8 + 16 && (has((unsigned char)p[k],
		    C_DIGIT) || (p[k] >= 'a' && p[k] <= 'f')); k++)
			;
		if (k >= 8 + 8 && k < n && p[k] == '>') {
			*len = k + 1;
			return SCRUB_CUSTOM;
		}
	}
	return -1;
}

/* ---- vocabulary ---- */

/*
 * Lowercase s[a..e) into lc and look it up: flags or -1 (also for tokens
 * that are too long or not ASCII).
 */
static int
lookup(const char *s, size_t a, size_t e)
{
	char		 lc[TOK_MAX];
	uint32_t	 h = VOCAB_SEED;
	size_t		 k;
	unsigned char	 c;

	if (e - a > TOK_MAX || e == a)
		return -1;
	for (k = a; k < e; k++) {
		c = (unsigned char)s[k];
		if (c >= 0x80)
			return -1;
		c = lower(c);
		lc[k - a] = (char)c;
		h = vocab_hash_step(h, c);
	}
	return vocab_lookup_lc(lc, e - a, h);
}

/* Is s[a..e) Capitalized (an upper-case letter, then lower-case ones)? */
static int
capitalized(const char *s, size_t a, size_t e)
{
	size_t	 k;

	if (e - a < 2 || !has((unsigned char)s[a], C_UPPER))
		return 0;
	for (k = a + 1; k < e; k++) {
		if (!has((unsigned char)s[k], C_LOWER))
			return 0;
	}
	return 1;
}

/* ---- token scan ---- */

#define J_DASH	0x001u
#define J_DOT	0x002u
#define J_SLASH	0x004u
#define J_COLON	0x008u
#define J_AT	0x010u
#define J_BSL	0x020u
#define J_PCT	0x040u
#define J_TILDE	0x080u
#define J_PLUS	0x100u
#define J_APOS	0x200u

static unsigned
jbit(unsigned char c)
{
	switch (c) {
	case '-': return J_DASH;
	case '.': return J_DOT;
	case '/': return J_SLASH;
	case ':': return J_COLON;
	case '@': return J_AT;
	case '\\': return J_BSL;
	case '%': return J_PCT;
	case '~': return J_TILDE;
	default: return J_PLUS;
	}
}

/* A token: s[a..e), the joiners that joined it, what its bytes are. */
struct tok {
	size_t		 a, e;
	unsigned	 jm;
	unsigned	 nseg;
	unsigned	 ndig;	/* ASCII digits */
	unsigned	 nalpha;	/* ASCII letters */
	int		 ascii;	/* no byte >= 0x80 */
	int		 url;	/* a scheme followed by "://" at e */
	int		 core;	/* ":42:9" already cut off: no colon rules */
};

/* A backslash escape written out as text: \n \t \r \" \' \\ \/. */
static int
text_escape(const char *s, size_t n, size_t j)
{
	unsigned char	 c;

	if (s[j] != '\\' || j + 1 >= n)
		return 0;
	c = (unsigned char)s[j + 1];
	return c == 'n' || c == 't' || c == 'r' || c == '"' || c == '\'' ||
	    c == '\\' || c == '/';
}

/* Is s[a..e) a URL scheme ([A-Za-z][A-Za-z0-9+.-]*)? */
static int
scheme_ok(const char *s, size_t a, size_t e)
{
	size_t	 k;

	if (e - a > 32 || !has((unsigned char)s[a], C_UPPER | C_LOWER))
		return 0;
	for (k = a; k < e; k++) {
		if (!has((unsigned char)s[k], C_UPPER | C_LOWER | C_DIGIT) &&
		    s[k] != '+' && s[k] != '.' && s[k] != '-')
			return 0;
	}
	return 1;
}

/* Counts of the token s[a..e): joiners, segments, digits, letters. */
static void
tok_stats(const char *s, size_t a, size_t e, struct tok *t)
{
	size_t		 k;
	unsigned char	 c;
	int		 injoin = 0;

	memset(t, 0, sizeof *t);
	t->a = a;
	t->e = e;
	t->ascii = 1;
	t->nseg = 1;
	for (k = a; k < e; k++) {
		c = (unsigned char)s[k];
		if (c >= 0x80) {
			t->ascii = 0;
			injoin = 0;
			continue;
		}
		if (has(c, C_JOIN) || c == '\'') {
			t->jm |= c == '\'' ? J_APOS : jbit(c);
			t->nseg += !injoin;
			injoin = 1;
			continue;
		}
		injoin = 0;
		t->ndig += has(c, C_DIGIT);
		t->nalpha += has(c, C_UPPER | C_LOWER);
	}
}

/*
 * Scan the token starting at the word character s[i] into t. In Windows
 * mode (win) a backslash always joins; otherwise \n, \t, \" ... end it.
 */
static void
scan_tok(const struct sc *x, size_t i, int win, struct tok *t)
{
	const char	*s = x->s;
	size_t		 n = x->n, j = i, k, l;
	unsigned	 jm, cl;
	unsigned char	 c;

	memset(t, 0, sizeof *t);
	t->a = i;
	t->ascii = 1;
	t->nseg = 1;
	for (;;) {
		while (j < n) {
			c = (unsigned char)s[j];
			if (c < 0x80) {
				cl = cls[c];
				if (!(cl & C_WORD))
					break;
				t->ndig += (cl & C_DIGIT) != 0;
				t->nalpha += (cl & (C_UPPER | C_LOWER)) != 0;
				j++;
			} else {
				if ((l = u_word(s, n, j)) == 0)
					break;
				t->ascii = 0;
				j += l;
			}
		}
		if (j >= n)
			break;
		c = (unsigned char)s[j];
		if (c == '\'' && j + 1 < n && j > i &&
		    has((unsigned char)s[j - 1], C_UPPER | C_LOWER)) {
			/* don't, it's, Bob's: the suffix ends the token */
			for (k = j + 1; k < n && k - j <= 3 &&
			    has((unsigned char)s[k], C_LOWER | C_UPPER); k++)
				;
			if (k - j >= 2 && k - j <= 3 && !word_at(s, n, k)) {
				t->jm |= J_APOS;
				t->nseg++;
				t->nalpha += (unsigned)(k - j - 1);
				j = k;
			}
			break;
		}
		if (!has(c, C_JOIN) || (!win && text_escape(s, n, j)))
			break;
		if (c == ':' && n - j >= 3 && s[j + 1] == '/' &&
		    s[j + 2] == '/' && scheme_ok(s, i, j)) {
			t->url = 1;
			break;
		}
		jm = 0;
		for (k = j; k < n && has((unsigned char)s[k], C_JOIN) &&
		    (win || !text_escape(s, n, k)); k++)
			jm |= jbit((unsigned char)s[k]);
		if (!word_at(s, n, k))
			break;
		t->jm |= jm;
		t->nseg++;
		j = k;
	}
	t->e = j;
}

/* ---- paths ---- */

static int
is_sep(unsigned char c, int win)
{
	return c == '/' || (win && c == '\\');
}

/* After a space at k: does the next word go on with a separator? */
static int
space_continues(const struct sc *x, size_t k, int win)
{
	const char	*s = x->s;
	size_t		 n = x->n;
	unsigned char	 c;

	if (k >= n || !word_at(s, n, k) || (k + 1 < n && s[k + 1] == ':' &&
	    has((unsigned char)s[k], C_UPPER | C_LOWER)))
		return 0;	/* a new path starts: ~/x, ./x, C:\x */
	for (; k < n; k++) {
		c = (unsigned char)s[k];
		if (is_sep(c, win))
			return 1;
		if (c == '(' || c == ')')
			continue;
		if (c < 0x80 && (has(c, C_PSTOP) || c == '\\'))
			return 0;
	}
	return 0;
}

/* Does s[a..e) read like prose (": ", ", ", "; ") rather than a path? */
static int
prose(const char *s, size_t a, size_t e)
{
	size_t	 k;

	for (k = a; k + 1 < e; k++) {
		if ((s[k] == ':' || s[k] == ',' || s[k] == ';') &&
		    s[k + 1] == ' ')
			return 1;
	}
	return 0;
}

/*
 * End of a path whose body starts at j; the path itself starts at start
 * (its prefix: "/", "~/", "C:\", "<HOME>/"). A path right after a quote
 * runs to the closing quote on its line; otherwise it stops at white space
 * (unless the next word goes on with a separator: "/Users/J Doe/x"), at a
 * stop byte, at an unbalanced ')' and, outside Windows paths, at a text
 * escape. Trailing separators and . ! ? are not part of it.
 */
static size_t
path_end(const struct sc *x, size_t start, size_t j, int win)
{
	const char	*s = x->s;
	size_t		 n = x->n, k, lim, l;
	unsigned	 depth = 0, cp;
	unsigned char	 q = start > 0 ? (unsigned char)s[start - 1] : 0, c;
	int		 bsq = 0;

	if (q == '"' || q == '\'' || q == '`') {
		bsq = start >= 2 && s[start - 2] == '\\';
		lim = n - j > QUOTE_SCAN ? j + QUOTE_SCAN : n;
		for (k = j; k < lim && s[k] != '\n'; k++) {
			if ((unsigned char)s[k] != q)
				continue;
			if (bsq && s[k - 1] != '\\')
				continue;
			if (bsq)
				k--;
			if (k > j && !prose(s, j, k))
				return k;
			break;
		}
	}
	for (k = j; k < n; ) {
		c = (unsigned char)s[k];
		if (c == ' ' && space_continues(x, k + 1, win)) {
			k++;
			continue;
		}
		if (c == '(') {
			depth++;
			k++;
			continue;
		}
		if (c == ')') {
			if (depth == 0)
				break;
			depth--;
			k++;
			continue;
		}
		if (c >= 0x80) {
			l = utf8_decode((const unsigned char *)s + k, n - k, &cp);
			if (l > 0 && u_punct(cp))
				break;
			k += l > 0 ? l : 1;
			continue;
		}
		if (has(c, C_PSTOP) || (!win && text_escape(s, n, k)))
			break;
		k++;
	}
	while (k > j && (s[k - 1] == '.' || s[k - 1] == '!' ||
	    s[k - 1] == '?' || s[k - 1] == '/' || s[k - 1] == '\\' ||
	    s[k - 1] == '('))
		k--;
	return k;
}

/* Is there a path body (not a placeholder, not a stop) at j? */
static int
path_body_at(const struct sc *x, size_t j, int win)
{
	unsigned char	 c;

	if (j >= x->n)
		return 0;
	c = (unsigned char)x->s[j];
	if (c == '<' || is_sep(c, 1))
		return 0;
	if (c >= 0x80)
		return word_at(x->s, x->n, j);
	return !has(c, C_PSTOP) && !(!win && text_escape(x->s, x->n, j));
}

/*
 * A root (<HOME>, <CWD>) written; j is right after its text. A path that
 * goes on becomes "/<PATH>". Returns where to go on.
 */
static size_t
path_after_root(struct sc *x, size_t start, size_t j)
{
	size_t	 e;
	int	 win;

	if (j + 1 >= x->n || !is_sep((unsigned char)x->s[j], 1))
		return j;
	win = x->s[j] == '\\';
	if (!path_body_at(x, j + 1, win))
		return j;
	e = path_end(x, start, j + 1, win);
	if (e <= j + 1)
		return j;
	put(x, "/", 1);
	rep(x, SCRUB_PATH);
	return e;
}

/* A whole path s[start..) with its body at j: <PATH>. */
static size_t
path_whole(struct sc *x, size_t start, size_t j, int win)
{
	size_t	 e = path_end(x, start, j, win);

	if (e < j)
		e = j;
	rep(x, SCRUB_PATH);
	return e;
}

/* Home prefixes written as variables: $HOME ${HOME} %USERPROFILE% ... */
static size_t
home_var(const char *s, size_t n, size_t i)
{
	static const char *const vars[] = {
		"${home}", "$home", "$env:userprofile", "$userprofile",
		"%userprofile%", "%homedrive%%homepath%", "%homepath%",
		"%appdata%", "%localappdata%",
	};
	size_t	 k, l;

	for (k = 0; k < sizeof vars / sizeof vars[0]; k++) {
		if (!ci_pfx(s, n, i, vars[k]))
			continue;
		l = strlen(vars[k]);
		if (!word_at(s, n, i + l))
			return l;
	}
	return 0;
}

/*
 * Paths that start with punctuation at i: / ~ . \ $ %. Returns where to
 * go on, or 0 when this is not a path (the byte is then punctuation).
 */
static size_t
path_punct(struct sc *x, size_t i)
{
	const char	*s = x->s;
	size_t		 n = x->n, l;
	struct tok	 t;
	unsigned char	 c = (unsigned char)s[i];

	switch (c) {
	case '/':
		if (!word_at(s, n, i + 1) && !(i + 1 < n && s[i + 1] == '.' &&
		    word_at(s, n, i + 2)))
			return 0;
		if (word_at(s, n, i + 1)) {
			scan_tok(x, i + 1, 0, &t);
			/* "/word": the slash is punctuation, the word a token */
			if (!t.url && !(t.jm & (J_SLASH | J_BSL)) &&
			    (t.e >= n || s[t.e] != '/'))
				return 0;
		}
		return path_whole(x, i, i + 1, 0);
	case '~':
		if (i + 1 < n && is_sep((unsigned char)s[i + 1], 1)) {
			rep(x, SCRUB_HOME);
			return path_after_root(x, i, i + 1);
		}
		if (word_at(s, n, i + 1))	/* ~user */
			return path_whole(x, i, i + 1, 0);
		return 0;
	case '.':
		l = i + 1 < n && s[i + 1] == '.' ? 2 : 1;
		if (i + l < n && is_sep((unsigned char)s[i + l], 1) &&
		    path_body_at(x, i + l + 1, s[i + l] == '\\'))
			return path_whole(x, i, i + l + 1, s[i + l] == '\\');
		if (l == 1 && word_at(s, n, i + 1)) {
			scan_tok(x, i + 1, 0, &t);
			if (!t.url && (t.jm & (J_SLASH | J_BSL)))
				return path_whole(x, i, i + 1, 0);
		}
		return 0;
	case '\\':
		if (i + 2 < n && s[i + 1] == '\\' && word_at(s, n, i + 2))
			return path_whole(x, i, i + 2, 1);	/* UNC */
		if (word_at(s, n, i + 1) && !text_escape(s, n, i)) {
			scan_tok(x, i + 1, 1, &t);
			if (t.jm & J_BSL)
				return path_whole(x, i, i + 1, 1);
		}
		return 0;
	case '$':
	case '%':
		if ((l = home_var(s, n, i)) == 0)
			return 0;
		rep(x, SCRUB_HOME);
		return path_after_root(x, i, i + l);
	}
	return 0;
}

/* ---- URLs, e-mail, IP ---- */

/* Bytes inside an IPv6 literal ([fe80::1%25eth0]). */
static int
is_ip6(unsigned char c)
{
	return has(c, C_HEX) || c == ':' || c == '.' || c == '%' ||
	    has(c, C_LOWER);
}

/* <URL:host> when s[h..he) is a public host, else <URL>. */
static void
rep_url(struct sc *x, size_t h, size_t he)
{
	int	 fl;
	size_t	 k;
	char	 lc[VOCAB_MAXLEN];

	fl = he > h && x->s[h] != '[' ? lookup(x->s, h, he) : -1;
	if (fl < 0 || !(fl & VOCAB_HOST)) {
		rep(x, SCRUB_URL);
		return;
	}
	lc[0] = '\0';
	for (k = h; k < he && k - h < VOCAB_MAXLEN; k++)
		lc[k - h] = (char)lower((unsigned char)x->s[k]);
	put(x, "<URL:", 5);
	put(x, lc, k - h);
	put(x, ">", 1);
}

/*
 * scheme://[userinfo@]host[:port][/path][?query][#frag] at i (the scheme
 * ends at j): <URL:host> for a public host, else <URL>. "file://" and a
 * bare "scheme://" stay as written (what follows is a path).
 */
static size_t
url(struct sc *x, size_t i, size_t j)
{
	const char	*s = x->s;
	size_t		 n = x->n, a = j + 3, e, end, h, he, k;

	for (e = a; e < n; ) {
		if (s[e] == '[') {
			for (k = e + 1; k < n && is_ip6((unsigned char)s[k]);
			    k++)
				;
			e = k < n && s[k] == ']' ? k + 1 : e + 1;
			continue;
		}
		if (has((unsigned char)s[e], C_USTOP) || s[e] == '/' ||
		    s[e] == '?' || s[e] == '#')
			break;
		e++;
	}
	if (e == a || (j - i == 4 && ci_pfx(s, n, i, "file"))) {
		/* no host: a known scheme stays, the rest is scanned */
		if (lookup(s, i, j) >= 0)
			span(x, i, a - i);
		else
			rep(x, SCRUB_URL);
		return a;
	}
	end = e;
	while (end < n && !has((unsigned char)s[end], C_USTOP))
		end++;
	while (end > e && (s[end - 1] == '.' || s[end - 1] == ':' ||
	    s[end - 1] == '!' || s[end - 1] == '?'))
		end--;
	h = a;
	for (k = a; k < e; k++) {
		if (s[k] == '@')
			h = k + 1;
	}
	for (he = h; he < e && s[he] != ':'; he++)
		;
	rep_url(x, h, he);
	return end > e ? end : e;
}

/* Is s[a..e) an e-mail address (local@domain.tld, also %40 for @)? */
static int
email_like(const char *s, size_t a, size_t e)
{
	size_t	 k, at = 0, t;

	for (k = a; k < e; k++) {
		if (s[k] == '@')
			at = k + 1;
		else if (s[k] == '%' && e - k > 3 && s[k + 1] == '4' &&
		    s[k + 2] == '0')
			at = k + 3;
	}
	if (at == 0 || at == a + 1 || at >= e)
		return 0;
	for (t = e; t > at && has((unsigned char)s[t - 1], C_UPPER | C_LOWER);
	    t--)
		;
	return e - t >= 2 && t > at + 1 && s[t - 1] == '.';
}

/* One decimal group of at most 3 digits, value <= 255: its end or 0. */
static size_t
ip4_group(const char *s, size_t k, size_t e)
{
	size_t		 j = k;
	unsigned	 v = 0;

	while (j < e && j - k < 4 && has((unsigned char)s[j], C_DIGIT))
		v = v * 10 + (unsigned)(s[j++] - '0');
	return j > k && j - k <= 3 && v <= 255 ? j : 0;
}

/* Is s[a..e) an IPv4 address (a.b.c.d, optionally /len)? */
static int
ip4_like(const char *s, size_t a, size_t e)
{
	size_t	 k = a;
	int	 g;

	for (g = 0; g < 4; g++) {
		if ((k = ip4_group(s, k, e)) == 0)
			return 0;
		if (g < 3) {
			if (k >= e || s[k] != '.')
				return 0;
			k++;
		}
	}
	if (k < e && s[k] == '/') {
		for (k++; k < e && has((unsigned char)s[k], C_DIGIT); k++)
			;
	}
	return k == e;
}

/* Is s[a..e) an IPv6 address (hex groups, "::", %zone)? */
static int
ip6_like(const char *s, size_t a, size_t e)
{
	size_t		 k, gl = 0;
	unsigned	 colons = 0, letters = 0;
	int		 dbl = 0;

	for (k = a; k < e; k++) {
		if (s[k] == '%')
			break;
		if (s[k] == ':') {
			colons++;
			if (k + 1 < e && s[k + 1] == ':')
				dbl = 1;
			gl = 0;
			continue;
		}
		if (s[k] == '.' || !has((unsigned char)s[k], C_HEX))
			return 0;
		if (!has((unsigned char)s[k], C_DIGIT))
			letters++;
		if (++gl > 4)
			return 0;
	}
	return colons >= 2 && (dbl || letters > 0 || colons >= 5);
}

/* ---- numbers ---- */

/* Is s[a..e) only digits and the joiners - . / ? Digits counted in *nd. */
static int
numeric(const char *s, size_t a, size_t e, unsigned *nd)
{
	size_t	 k;

	*nd = 0;
	for (k = a; k < e; k++) {
		if (has((unsigned char)s[k], C_DIGIT))
			(*nd)++;
		else if (s[k] != '-' && s[k] != '.' && s[k] != '/')
			return 0;
	}
	return 1;
}

/*
 * Digit groups that together form a long number: "4111 1111 1111 1111",
 * "(555) 123-4567", "123-45-6789", "1,234,567". The numeric token t is the
 * first group; groups go on over one space, a comma or parentheses. With
 * seven digits or more in all, the whole run is <NUM> (returns its end);
 * else 0.
 */
static size_t
num_cluster(struct sc *x, const struct tok *t)
{
	const char	*s = x->s;
	size_t		 n = x->n, end = t->e, k, g;
	unsigned	 nd, total;

	if (!numeric(s, t->a, t->e, &total) || ip4_like(s, t->a, t->e))
		return 0;
	for (;;) {
		k = end;
		if (k < n && (s[k] == ')' || s[k] == ','))
			k++;
		if (k < n && s[k] == ' ' && s[end] != ',')
			k++;
		if (k < n && s[k] == '(' && k > end)
			k++;
		if (k == end || k >= n || !has((unsigned char)s[k], C_DIGIT))
			break;
		for (g = k; g < n && (has((unsigned char)s[g], C_DIGIT) ||
		    ((s[g] == '-' || s[g] == '.' || s[g] == '/') &&
		    g + 1 < n && has((unsigned char)s[g + 1], C_DIGIT))); g++)
			;
		if (word_at(s, n, g) || ip4_like(s, k, g))
			break;
		(void)numeric(s, k, g, &nd);
		total += nd;
		end = g;
	}
	if (total <= NUM_KEEP)
		return 0;
	rep(x, SCRUB_NUM);
	return end;
}

/* Units a small number may carry (30000ms, 5MB, 2nd). */
static int
unit_ok(const char *s, size_t a, size_t e)
{
	static const char *const units[] = {
		"ms", "s", "m", "h", "d", "w", "y", "us", "ns", "min", "mins",
		"sec", "secs", "hr", "hrs", "b", "k", "kb", "mb", "gb", "tb",
		"kib", "mib", "gib", "tib", "x", "px", "pt", "em", "rem", "fps",
		"hz", "khz", "mhz", "ghz", "st", "nd", "rd", "th", "g", "t",
		"v", "bit", "bits", "byte", "bytes", "kbps", "mbps", "gbps",
		"ki", "mi", "gi", "c", "f", "l", "p", "i",
	};
	size_t	 k, l = e - a;

	for (k = 0; k < sizeof units / sizeof units[0]; k++) {
		if (strlen(units[k]) == l && ci_pfx(s, e, a, units[k]))
			return 1;
	}
	return 0;
}

/* Compiler and tool error codes: E0425 TS2304 CS0246 LNK2019 ORA-00942. */
static int
errcode(const char *s, size_t a, size_t e)
{
	static const char *const pre[] = {
		"E", "W", "F", "C", "N", "TS", "CS", "SC", "LNK", "MSB", "NU",
		"CA", "IDE", "BC", "NETSDK", "ORA-", "PLS-", "TNS-", "ERR",
		"PLW", "PLE", "PLR", "UP", "SIM", "RUF", "DL", "JS", "CVE-",
	};
	size_t	 k, l, d;

	if (!has((unsigned char)s[a], C_UPPER))
		return 0;
	for (k = 0; k < sizeof pre / sizeof pre[0]; k++) {
		if (pre[k][0] != s[a])
			continue;
		l = strlen(pre[k]);
		if (e - a <= l || memcmp(s + a, pre[k], l) != 0)
			continue;
		for (d = a + l; d < e && (has((unsigned char)s[d], C_DIGIT) ||
		    (pre[k][0] == 'C' && pre[k][1] == 'V' && s[d] == '-'));
		    d++)
			;
		if (d == e && e - (a + l) >= 3 && e - (a + l) <= 9)
			return 1;
	}
	return 0;
}

/* A single word that is a number of some kind: KEEP (-1) or a kind. */
#define KEEP	(-1)
#define NOTNUM	(-2)
static int
number_word(const char *s, size_t a, size_t e, unsigned ndig)
{
	size_t	 k;

	if (ndig == 0)
		return NOTNUM;
	if (ndig == e - a)
		return ndig <= NUM_KEEP ? KEEP : SCRUB_NUM;
	if (e - a > 2 && s[a] == '0' && (s[a + 1] == 'x' || s[a + 1] == 'X')) {
		for (k = a + 2; k < e && has((unsigned char)s[k], C_HEX); k++)
			;
		if (k == e)
			return e - a <= 6 ? KEEP : SCRUB_NUM;
		return NOTNUM;
	}
	if (has((unsigned char)s[a], C_DIGIT)) {	/* number and unit */
		for (k = a; k < e && has((unsigned char)s[k], C_DIGIT); k++)
			;
		if (k - a <= NUM_KEEP && unit_ok(s, k, e))
			return KEEP;
		return NOTNUM;
	}
	if ((s[a] == 'v' || s[a] == 'V') && ndig == e - a - 1)
		return ndig <= NUM_KEEP ? KEEP : SCRUB_NUM;
	if (errcode(s, a, e))
		return KEEP;
	return NOTNUM;
}

/* Pre-release words of a version (1.2.3-beta.1). */
static int
prerelease(const char *s, size_t a, size_t e)
{
	static const char *const w[] = {
		"alpha", "beta", "rc", "dev", "pre", "preview", "nightly",
		"snapshot", "final", "release", "stable", "lts", "canary",
		"next", "post", "insiders", "a", "b", "r", "p", "ga", "m",
	};
	size_t	 k, l;

	while (e > a && has((unsigned char)s[e - 1], C_DIGIT))
		e--;
	if (e == a)
		return 1;
	for (k = 0; k < sizeof w / sizeof w[0]; k++) {
		l = strlen(w[k]);
		if (l == e - a && ci_pfx(s, e, a, w[k]))
			return 1;
	}
	return 0;
}

/*
 * A version: [vV]digits(.digits)+ then -/+ pre-release words or digits,
 * with no more digits than a small number (longer ones are <NUM>, as a
 * digit group would be).
 */
static int
version_like(const char *s, size_t a, size_t e)
{
	size_t		 k = a, g, nd = 0;
	unsigned	 groups = 0;

	for (g = a; g < e; g++)
		nd += has((unsigned char)s[g], C_DIGIT);
	if (nd > NUM_KEEP)
		return 0;

	if (s[k] == 'v' || s[k] == 'V')
		k++;
	for (;;) {
		for (g = k; k < e && has((unsigned char)s[k], C_DIGIT); k++)
			;
		if (k == g || k - g > 8)
			return 0;
		groups++;
		if (k < e && s[k] == '.' && k + 1 < e &&
		    has((unsigned char)s[k + 1], C_DIGIT)) {
			k++;
			continue;
		}
		break;
	}
	if (groups < 2)
		return 0;
	while (k < e) {
		if (s[k] != '-' && s[k] != '+' && s[k] != '.')
			return 0;
		for (g = ++k; k < e && has((unsigned char)s[k],
		    C_UPPER | C_LOWER | C_DIGIT); k++)
			;
		if (k == g || !prerelease(s, g, k))
			return 0;
	}
	return 1;
}

/* ---- secrets ---- */

/* Prefixes of credential tokens (for the placeholder's kind only). */
static int
secret_prefix(const char *s, size_t a, size_t e)
{
	static const char *const pre[] = {
		"sk-", "sk_live_", "sk_test_", "rk_live_", "rk_test_",
		"pk_live_", "whsec_", "hf_", "npm_", "pypi-", "SG.", "ghp_",
		"gho_", "ghs_", "ghu_", "ghr_", "github_pat_", "glpat-",
		"gldt-", "glrt-", "glsoat-", "glptt-", "glcbt-", "xoxb-",
		"xoxp-", "xoxa-", "xoxr-", "xoxe-", "xapp-", "GOCSPX-", "ya29.",
		"dop_v1_", "doo_v1_", "dor_v1_", "hvs.", "hvb.", "ATATT",
		"AKIA", "ASIA", "AIza", "eyJ", "AGE-SECRET-KEY-", "shpat_",
		"shpss_", "sq0atp-", "sq0csp-", "xkeysib-", "key-", "SK",
		"AC", "EAA", "dapi", "lin_api_", "pat-", "ntn_", "secret_",
		"figd_", "sl.", "rubygems_", "tfp_", "op_", "ops_",
	};
	size_t	 k, l;

	if (e - a < 10)
		return 0;
	for (k = 0; k < sizeof pre / sizeof pre[0]; k++) {
		if (pre[k][0] != s[a] || pre[k][1] != s[a + 1])
			continue;
		l = strlen(pre[k]);
		if (e - a >= l + 8 && memcmp(s + a, pre[k], l) == 0)
			return 1;
	}
	return 0;
}

/* Does s[a..e) look like a key or token (for the placeholder's kind)? */
static int
secret_like(const char *s, size_t a, size_t e)
{
	size_t		 k;
	unsigned	 up = 0, lo = 0, dg = 0, ot = 0;

	if (secret_prefix(s, a, e))
		return 1;
	if (e - a < 16)
		return 0;
	for (k = a; k < e; k++) {
		unsigned char c = (unsigned char)s[k];

		if (has(c, C_UPPER))
			up++;
		else if (has(c, C_LOWER))
			lo++;
		else if (has(c, C_DIGIT))
			dg++;
		else
			ot++;
	}
	if (dg > 0 && up == 0 && lo > 0 && ot == 0 && e - a <= 40)
		return 0;	/* lowercase hex or words: an identifier */
	return (up > 0) + (lo > 0) + (dg > 0) >= 3 ||
	    ((up > 0) + (lo > 0) + (dg > 0) >= 2 && e - a >= 32);
}

/* ---- code namespaces ---- */

/*
 * Is every piece of s[a..e) a vocabulary word or a number? Pieces are
 * split at '_' and at camelCase humps (MaxRetryError: max, retry, error).
 */
static int
all_words(const char *s, size_t a, size_t e)
{
	size_t		 k, p;
	unsigned char	 c;

	for (p = k = a; k <= e; k++) {
		c = k < e ? (unsigned char)s[k] : '_';
		if (c == '_' || (k > p && has(c, C_UPPER) &&
		    has((unsigned char)s[k - 1], C_LOWER | C_DIGIT)) ||
		    (k > p && has(c, C_UPPER) && k + 1 < e &&
		    has((unsigned char)s[k + 1], C_LOWER) &&
		    has((unsigned char)s[k - 1], C_UPPER)) ||
		    (k > p && has(c, C_DIGIT) != has((unsigned char)s[k - 1],
		    C_DIGIT))) {
			if (k > p && !has((unsigned char)s[p], C_DIGIT) &&
			    lookup(s, p, k) < 0)
				return 0;
			if (k > p && has((unsigned char)s[p], C_DIGIT) &&
			    k - p > NUM_KEEP)
				return 0;
			p = c == '_' ? k + 1 : k;
		}
	}
	return 1;
}

/*
 * A path in a public code namespace: a root with VOCAB_NS (one segment, or
 * two joined by '.' or ':') followed by segments joined by "::", '.', '/'
 * or ':', each made of vocabulary words.
 */
static int
namespace_path(const char *s, size_t a, size_t e)
{
	size_t	 k, r1 = 0, r2 = 0, p;
	int	 fl;

	for (k = a; k < e && has((unsigned char)s[k], C_WORD); k++)
		;
	if (k >= e)
		return 0;
	r1 = k;
	if ((fl = lookup(s, a, r1)) < 0 || !(fl & VOCAB_NS)) {
		if (s[k] != '.' && s[k] != ':')
			return 0;
		for (k++; k < e && has((unsigned char)s[k], C_WORD); k++)
			;
		r2 = k;
		if (k >= e || (fl = lookup(s, a, r2)) < 0 ||
		    !(fl & VOCAB_NS))
			return 0;
	}
	k = r2 ? r2 : r1;
	while (k < e) {
		if (s[k] == ':' && k + 1 < e && s[k + 1] == ':')
			k += 2;
		else if (s[k] == '.' || s[k] == '/' || s[k] == ':')
			k++;
		else
			return 0;
		for (p = k; k < e && has((unsigned char)s[k], C_WORD); k++)
			;
		if (k == p || !all_words(s, p, k))
			return 0;
	}
	return 1;
}

/* ---- credentials and identities ---- */

/*
 * KEY_ID: a name follows (quoted, or after = or a bare :); KEY_USER also
 * after ": " (user: bob), where other nouns start prose (project: Could).
 */
enum keykind { KEY_NONE, KEY_CRED, KEY_LINE, KEY_AUTH, KEY_ID, KEY_USER };

static int
w_in(const char *w, size_t l, const char *const *list, size_t nl)
{
	size_t	 k;

	if (l == 0)
		return 0;
	for (k = 0; k < nl; k++) {
		if (list[k][0] == w[0] && strlen(list[k]) == l &&
		    memcmp(list[k], w, l) == 0)
			return 1;
	}
	return 0;
}
#define W_IN(w, l, list)	w_in(w, l, list, sizeof list / sizeof list[0])

static int
ends_with(const char *w, size_t l, const char *suf)
{
	size_t	 sl = strlen(suf);

	return l >= sl && memcmp(w + l - sl, suf, sl) == 0;
}

/* Credential key words in other scripts (UTF-8), matched as suffixes. */
static const char *const cred_utf8[] = {
	"\xe5\xaf\x86\xe7\xa0\x81",		/* 密码 */
	"\xe5\xaf\x86\xe7\xa2\xbc",		/* 密碼 */
	"\xe5\x8f\xa3\xe4\xbb\xa4",		/* 口令 */
	"\xe5\xaf\x86\xe9\x92\xa5",		/* 密钥 */
	"\xe7\xa7\x98\xe9\x92\xa5",		/* 秘钥 */
	"\xe5\xaf\x86\xe9\x91\xb0",		/* 密鑰 */
	"\xe4\xbb\xa4\xe7\x89\x8c",		/* 令牌 */
	"\xe3\x83\x91\xe3\x82\xb9\xe3\x83\xaf\xe3\x83\xbc\xe3\x83\x89",
						/* パスワード */
	"\xe6\x9a\x97\xe8\xa8\xbc\xe7\x95\xaa\xe5\x8f\xb7", /* 暗証番号 */
	"\xe6\x9a\x97\xe5\x8f\xb7",		/* 暗号 */
	"\xeb\xb9\x84\xeb\xb0\x80\xeb\xb2\x88\xed\x98\xb8", /* 비밀번호 */
	"\xec\x95\x94\xed\x98\xb8",		/* 암호 */
	"\xd0\xbf\xd0\xb0\xd1\x80\xd0\xbe\xd0\xbb\xd1\x8c", /* пароль */
	"\xd0\x9f\xd0\xb0\xd1\x80\xd0\xbe\xd0\xbb\xd1\x8c", /* Пароль */
	"contrase\xc3\xb1" "a",			/* contraseña */
	"Contrase\xc3\xb1" "a",
	"\xc5\x9f" "ifre",			/* şifre */
	"has\xc5\x82" "o",			/* hasło */
	"l\xc3\xb6" "senord",			/* lösenord */
	"jelsz\xc3\xb3",			/* jelszó */
	"\xce\xba\xcf\x89\xce\xb4\xce\xb9\xce\xba\xcf\x8c\xcf\x82",
						/* κωδικός */
	"\xd7\xa1\xd7\x99\xd7\xa1\xd7\x9e\xd7\x94",	/* סיסמה */
	"\xd9\x83\xd9\x84\xd9\x85\xd8\xa9 \xd8\xa7\xd9\x84\xd9\x85\xd8\xb1"
	    "\xd9\x88\xd8\xb1",			/* كلمة المرور */
	"\xd8\xb1\xd9\x85\xd8\xb2",		/* رمز */
	"\xe0\xa4\xaa\xe0\xa4\xbe\xe0\xa4\xb8\xe0\xa4\xb5\xe0\xa4\xb0\xe0"
	    "\xa5\x8d\xe0\xa4\xa1",		/* पासवर्ड */
	"m\xe1\xba\xad" "t kh\xe1\xba\xa9" "u",	/* mật khẩu */
	"\xe0\xb8\xa3\xe0\xb8\xab\xe0\xb8\xb1\xe0\xb8\xaa\xe0\xb8\x9c\xe0"
	    "\xb9\x88\xe0\xb8\xb2\xe0\xb8\x99",	/* รหัสผ่าน */
};

/* Identity key words in other scripts (UTF-8), matched as suffixes. */
static const char *const id_utf8[] = {
	"\xe7\x94\xa8\xe6\x88\xb7\xe5\x90\x8d",	/* 用户名 */
	"\xe5\xb8\x90\xe5\x8f\xb7",		/* 帐号 */
	"\xe8\xb4\xa6\xe5\x8f\xb7",		/* 账号 */
	"\xe7\x94\xa8\xe6\x88\xb7",		/* 用户 */
	"\xe3\x83\xa6\xe3\x83\xbc\xe3\x82\xb6\xe3\x83\xbc\xe5\x90\x8d",
						/* ユーザー名 */
	"\xec\x82\xac\xec\x9a\xa9\xec\x9e\x90",	/* 사용자 */
	"\xd0\xbb\xd0\xbe\xd0\xb3\xd0\xb8\xd0\xbd", /* логин */
};

/*
 * What kind of key is s[a..e)? The name is cut into segments at - _ . and
 * camelCase humps (SecretAccessKey: secret, access, key).
 */
static enum keykind
key_kind(const char *s, size_t a, size_t e, int ascii)
{
	static const char *const strong[] = {
		"password", "passwd", "secret", "passphrase", "apikey",
		"privatekey", "credentials", "credential", "pwd", "passcode",
	};
	static const char *const ends[] = {
		"password", "passwd", "secret", "token", "passphrase",
		"passcode", "pwd", "passwort", "kennwort", "wachtwoord",
	};
	static const char *const last[] = {
		"key", "pass", "auth", "pin", "sig", "signature", "apikey",
		"otp", "sessionid", "jwt", "pat", "credential", "credentials",
		"secrets", "contrasena", "clave", "senha", "haslo", "heslo",
		"sifre", "salasana", "losenord", "adgangskode", "passord",
		"parola", "jelszo", "geslo", "lozinka", "parool", "passe",
		"mdp", "motdepasse", "sas", "hmac", "bearer", "keys",
		"accesskey", "secretkey", "cle",
	};
	static const char *const line[] = { "cookie", "cookies" };
	static const char *const auth[] = { "authorization", "authorisation" };
	static const char *const users[] = {
		"user", "username", "userid", "uid", "login", "owner",
		"account", "principal", "cn", "usuario", "utilisateur",
		"benutzer", "nutzer", "accountname", "login_name", "author",
		"committer", "email",
	};
	static const char *const ident[] = {
		"role", "db", "database",
		"dbname", "host", "hostname", "branch", "ref", "repo",
		"repository", "project", "bucket", "org", "organization",
		"tenant", "namespace", "cluster", "container", "pod",
		"deployment", "workspace", "team", "realm", "domain", "relation",
		"table", "column", "schema", "constraint", "sequence",
	};
	char		 lc[TOK_MAX];
	size_t		 sa[KEY_SEGS], sl[KEY_SEGS], k, p, ns = 0, l, i;
	unsigned char	 c;

	if (!ascii) {
		for (k = 0; k < sizeof cred_utf8 / sizeof cred_utf8[0]; k++) {
			l = strlen(cred_utf8[k]);
			if (e - a >= l && memcmp(s + e - l, cred_utf8[k], l) == 0)
				return KEY_CRED;
		}
		for (k = 0; k < sizeof id_utf8 / sizeof id_utf8[0]; k++) {
			l = strlen(id_utf8[k]);
			if (e - a >= l && memcmp(s + e - l, id_utf8[k], l) == 0)
				return KEY_USER;
		}
		return KEY_NONE;
	}
	if (e - a > TOK_MAX || e - a < 2)
		return KEY_NONE;
	for (p = k = a; k <= e; k++) {
		c = k < e ? (unsigned char)s[k] : '-';
		if (k < e)
			lc[k - a] = (char)lower(c);
		if (c == '-' || c == '_' || c == '.' || (k > p &&
		    has(c, C_UPPER) && has((unsigned char)s[k - 1], C_LOWER))) {
			if (k > p) {
				if (ns == KEY_SEGS) {
					memmove(sa, sa + 1, sizeof sa -
					    sizeof sa[0]);
					memmove(sl, sl + 1, sizeof sl -
					    sizeof sl[0]);
					ns--;
				}
				sa[ns] = p - a;
				sl[ns++] = k - p;
			}
			p = has(c, C_UPPER) ? k : k + 1;
		}
	}
	if (ns == 0)
		return KEY_NONE;
	l = sl[ns - 1];
	if (W_IN(lc, e - a, auth) ||
	    (ns >= 2 && W_IN(lc + sa[ns - 1], l, auth)))
		return KEY_AUTH;
	if (W_IN(lc + sa[ns - 1], l, line))
		return KEY_LINE;
	for (k = 0; k < sizeof ends / sizeof ends[0]; k++) {
		if (ends_with(lc + sa[ns - 1], l, ends[k]))
			return KEY_CRED;
	}
	if (W_IN(lc + sa[ns - 1], l, last))
		return KEY_CRED;
	for (i = 0; i < ns; i++) {
		if (W_IN(lc + sa[i], sl[i], strong))
			return KEY_CRED;
		if (i + 1 < ns && sl[i] + sl[i + 1] < 16) {
			char	 two[16];

			memcpy(two, lc + sa[i], sl[i]);
			memcpy(two + sl[i], lc + sa[i + 1], sl[i + 1]);
			if (W_IN(two, sl[i] + sl[i + 1], strong))
				return KEY_CRED;
		}
	}
	if (W_IN(lc + sa[ns - 1], l, users) ||
	    (ns == 1 && (ends_with(lc, l, "user") ||
	    ends_with(lc, l, "username"))))
		return KEY_USER;
	if (W_IN(lc + sa[ns - 1], l, ident))
		return KEY_ID;
	return KEY_NONE;
}

/* Does the value s[a..e) need no placeholder (null, true, <SECRET>)? */
static int
value_exempt(const char *s, size_t a, size_t e)
{
	size_t	 l;

	if (e == a)
		return 1;
	if ((e - a == 4 && (memcmp(s + a, "null", 4) == 0 ||
	    memcmp(s + a, "true", 4) == 0)) ||
	    (e - a == 5 && memcmp(s + a, "false", 5) == 0))
		return 1;
	return scrub_placeholder_at(s + a, e - a, &l) >= 0 && l == e - a;
}

/* End of a line from j (a line break, also written as \n or \r). */
static size_t
line_end(const char *s, size_t n, size_t j)
{
	for (; j < n; j++) {
		if (s[j] == '\n' || s[j] == '\r')
			break;
		if (s[j] == '\\' && j + 1 < n && (s[j + 1] == 'n' ||
		    s[j + 1] == 'r'))
			break;
		if ((s[j] == '"' || s[j] == '\'') && (j + 1 == n ||
		    s[j + 1] == ',' || s[j + 1] == '}' || s[j + 1] == ']' ||
		    s[j + 1] == ' ' || s[j + 1] == ')' || s[j + 1] == ';'))
			break;	/* the end of a quoted string */
	}
	return j;
}

/*
 * End of an unquoted value from j. A placeholder inside it is part of it
 * (as the value reads once reduced); one at its start is all of it.
 */
static size_t
value_end(const char *s, size_t n, size_t j)
{
	unsigned char	 c;
	size_t		 l, vs = j;
	unsigned	 cp;

	while (j < n) {
		c = (unsigned char)s[j];
		if (c >= 0x80) {
			l = utf8_decode((const unsigned char *)s + j, n - j, &cp);
			if (l > 0 && (cp == 0x3000 || cp == 0xff0c ||
			    cp == 0x3001 || cp == 0xff1b || cp == 0x3002))
				break;
			j += l > 0 ? l : 1;
			continue;
		}
		if (c == '<' && scrub_placeholder_at(s + j, n - j, &l) >= 0) {
			j += l;	/* as it will read once reduced */
			if (j - l == vs)
				break;	/* a reduced value: just that */
			continue;
		}
		if (has(c, C_VSTOP))
			break;
		j++;
	}
	return j;
}

/*
 * A quoted value opens at j ("x", 'x', `x`, \"x\" or \\\"x\\\"): its
 * content starts at *cs and ends at *ce, the closing quote ends at the
 * return value. 0 if no quote opens at j.
 */
static size_t
quoted(const char *s, size_t n, size_t j, size_t *cs, size_t *ce)
{
	size_t	 k = j, ql, m, b;
	char	 q;

	while (k < n && s[k] == '\\' && k - j < 3)
		k++;
	if (k >= n || (s[k] != '"' && s[k] != '\'' && s[k] != '`'))
		return 0;
	q = s[k];
	ql = k + 1 - j;		/* the opening sequence */
	*cs = k + 1;
	for (m = *cs; m < n; m++) {
		if (s[m] != q)
			continue;
		if (ql == 1) {	/* a bare quote: skip escaped ones */
			for (b = m; b > *cs && s[b - 1] == '\\'; b--)
				;
			if ((m - b) % 2 == 1)
				continue;
			*ce = m;
			return m + 1;
		}
		if (m + 1 >= ql && m + 1 - ql >= *cs &&
		    memcmp(s + m + 1 - ql, s + j, ql) == 0) {
			*ce = m + 1 - ql;
			return m + 1;
		}
	}
	*ce = n;
	return n;
}

/* Does s[a..e) hold white space? */
static int
has_space(const char *s, size_t a, size_t e)
{
	for (; a < e; a++) {
		if (has((unsigned char)s[a], C_SPACE))
			return 1;
	}
	return 0;
}

/* Is s[a..e) a path or a placeholder rather than a name? */
static int
not_name(const char *s, size_t a, size_t e)
{
	for (; a < e; a++) {
		if (s[a] == '/' || s[a] == '\\' || s[a] == '<' ||
		    (unsigned char)s[a] == 0xff)
			return 1;
	}
	return 0;
}

/* Write the value s[vs..ve) (not exempt) as placeholder k. */
static void
value_rep(struct sc *x, size_t vs, size_t ve, enum scrub_kind k)
{
	if (k == SCRUB_ID && email_like(x->s, vs, ve))
		rep(x, SCRUB_EMAIL);
	else
		rep(x, k);
}

/* Authorization schemes kept before the credential. */
static size_t
auth_scheme(const char *s, size_t n, size_t j)
{
	static const char *const sch[] = {
		"bearer", "basic", "token", "digest", "negotiate", "ntlm",
		"aws4-hmac-sha256", "hmac", "apikey", "sso-key", "dpop",
	};
	size_t	 k, l;

	for (k = 0; k < sizeof sch / sizeof sch[0]; k++) {
		l = strlen(sch[k]);
		if (ci_pfx(s, n, j, sch[k]) && (j + l == n ||
		    s[j + l] == ' ' || s[j + l] == '\n' || s[j + l] == '\r'))
			return l;
	}
	return 0;
}

/*
 * After the key s[a..e) (already written): a separator and a value? The
 * value is written as a placeholder and the position after it returned;
 * 0 when no value follows. flag: the dashes before the key (--password X).
 */
static size_t
key_value(struct sc *x, size_t a, size_t e, enum keykind kk, int flag)
{
	const char	*s = x->s;
	size_t		 n = x->n, q = e, vs, ve, cs, ce, l;
	enum scrub_kind	 pk;
	int		 colon = 0, xml = 0, space = 0, user = kk == KEY_USER;
	unsigned char	 c;
	struct tok	 t;
	int		 fl;

	if (user)
		kk = KEY_ID;
	pk = kk == KEY_ID ? SCRUB_ID : SCRUB_SECRET;

	/* the closing quotes of a quoted key: "password": \"token\": */
	while (!(flag == 1 && q == e) && q < n && q - e < 3 && (s[q] == '"' ||
	    s[q] == '\'' || s[q] == '\\' || s[q] == '`'))
		q++;
	while (q < n && (s[q] == ' ' || s[q] == '\t'))
		q++;
	if (q < n && s[q] == '=' && !(q + 1 < n && s[q + 1] == '=')) {
		q += q + 1 < n && s[q + 1] == '>' ? 2 : 1;
	} else if (q < n && s[q] == ':' && !(q + 1 < n && s[q + 1] == ':')) {
		q++;
		colon = 1;
	} else if (pfx(s, n, q, "\xef\xbc\x9a")) {	/* ： */
		q += 3;
		colon = 1;
	} else if (pfx(s, n, q, "\xef\xbc\x9d")) {	/* ＝ */
		q += 3;
	} else if (q == e && q < n && s[q] == '>' && a > 0 &&
	    s[a - 1] == '<') {
		q++;
		xml = 1;
	} else if (q == e + 1 && s[e] == ' ' && (flag || kk == KEY_ID)) {
		space = 1;	/* --password X, user "bob" */
	} else if (q == e && flag == 1 && q < n && (s[q] == '\'' ||
	    s[q] == '"')) {
		space = 1;	/* -p'secret' */
	} else
		return 0;
	vs = q;
	while (vs < n && (s[vs] == ' ' || s[vs] == '\t'))
		vs++;
	if (vs >= n || s[vs] == '\n' || s[vs] == '\r')
		return 0;
	if (pfx(s, n, vs, "\xe3\x80\x80"))	/* ideographic space */
		vs += 3;
	if ((l = quoted(s, n, vs, &cs, &ce)) != 0) {
		if (space && kk == KEY_ID && !flag && (ce == n ||
		    has_space(s, cs, ce) || not_name(s, cs, ce)))
			return 0;	/* user "bob": one closed word */
		span(x, e, cs - e);
		if (value_exempt(s, cs, ce) || (kk == KEY_ID &&
		    (fl = lookup(s, cs, ce)) >= 0 && (fl & VOCAB_HOST)))
			return cs;	/* read on as any text */
		value_rep(x, cs, ce, pk);
		span(x, ce, l - ce);
		return l;
	}
	if (space && kk == KEY_ID && !flag)
		return 0;	/* user does not exist */
	if (space && (s[vs] == '-' || s[vs] == '<'))
		return 0;	/* another flag, a placeholder */
	if (flag && space) {	/* ssh -p 22: a port, not a secret */
		for (l = vs; l < n && has((unsigned char)s[l], C_DIGIT); l++)
			;
		if (l > vs && l - vs <= NUM_KEEP && (l == n ||
		    has((unsigned char)s[l], C_VSTOP)))
			return 0;
	}
	if (kk == KEY_ID && !flag) {
		/*
		 * One token, a name: not a path or a placeholder, not another
		 * key ("db: passwd: x"), not a public host; after ": " only
		 * for users (project: Could not ...). Decided on that token
		 * alone, so the reduced text decides the same.
		 */
		c = (unsigned char)s[vs];
		if (c == 0xff || !word_at(s, n, vs) || (colon && vs > q &&
		    !user))
			return 0;
		scan_tok(x, vs, 0, &t);
		if (t.url || (t.jm & (J_SLASH | J_BSL)) || (t.e < n &&
		    (s[t.e] == ':' || s[t.e] == '=')))
			return 0;
		if ((fl = lookup(s, vs, t.e)) >= 0 && (fl & VOCAB_HOST))
			return 0;
		span(x, e, vs - e);
		if (value_exempt(s, vs, t.e))
			return vs;
		value_rep(x, vs, t.e, pk);
		return t.e;
	}
	span(x, e, vs - e);
	if (kk == KEY_AUTH && (l = auth_scheme(s, n, vs)) != 0) {
		span(x, vs, l);	/* the scheme stays: "Bearer <SECRET>" */
		vs += l;
		while (vs < n && s[vs] == ' ') {
			span(x, vs, 1);
			vs++;
		}
	}
	if (xml) {
		for (ve = vs; ve < n && s[ve] != '<'; ve++)
			;
	} else if (kk == KEY_AUTH || kk == KEY_LINE ||
	    (kk == KEY_CRED && colon && vs > q))
		ve = line_end(s, n, vs);
	else
		ve = value_end(s, n, vs);
	if (ve == vs)
		return vs;
	if (value_exempt(s, vs, ve))
		return vs;	/* null, true, <HOME>: read on as any text */
	value_rep(x, vs, ve, pk);
	return ve;
}

/*
 * A .pgpass line (host:port:db:user:password): is the token at a..e its
 * password field? The line is exactly five fields, each '*' or a run of
 * letters, digits, . _ - (the port: digits or '*'), so a field that was
 * reduced to a placeholder never makes one.
 */
static int
pgpass_field(const struct sc *x, size_t a, size_t e)
{
	const char	*s = x->s;
	size_t		 k, f;
	unsigned	 colons = 0;
	unsigned char	 c;

	if (a == 0 || s[a - 1] != ':' || (e < x->n && !has((unsigned char)s[e],
	    C_SPACE) && !text_escape(s, x->n, e)))
		return 0;
	for (k = f = a - 1; k > 0; k--) {
		c = (unsigned char)s[k - 1];
		if (has(c, C_SPACE) || (k >= 2 && text_escape(s, x->n, k - 2)))
			break;
		if (c == ':') {
			if (k == f || ++colons > 3)
				return 0;	/* an empty field, too many */
			f = k - 1;
			continue;
		}
		if (c != '*' && c != '.' && c != '_' && c != '-' &&
		    !has(c, C_UPPER | C_LOWER | C_DIGIT))
			return 0;
	}
	if (colons != 3 || k == f)
		return 0;
	/* the port field follows the first colon */
	while (k < x->n && s[k] != ':')
		k++;
	for (f = ++k; k < x->n && s[k] != ':'; k++) {
		if (!has((unsigned char)s[k], C_DIGIT) && s[k] != '*')
			return 0;
	}
	return k > f;
}

/* Single-letter flags whose value is a credential (-p X, -a X, -u X). */
static int
flag_letter(const char *s, size_t a, size_t e)
{
	return e - a == 1 && (s[a] == 'p' || s[a] == 'a' || s[a] == 'u');
}

/*
 * A display name before an e-mail address: only letters, spaces, dots,
 * quotes and hyphens up to "<" or "(" and an '@' before the closing bracket.
 */
static int
before_email(const struct sc *x, size_t e)
{
	const char	*s = x->s;
	size_t		 n = x->n, k, lim;
	char		 close;
	int		 at;

	lim = n - e > NAME_SCAN ? e + NAME_SCAN : n;
	for (k = e; k < lim && (has((unsigned char)s[k], C_UPPER | C_LOWER) ||
	    s[k] == ' ' || s[k] == '.' || s[k] == '"' || s[k] == '\'' ||
	    s[k] == '-'); k++)
		;
	if (k >= lim || (s[k] != '<' && s[k] != '('))
		return 0;
	close = s[k] == '<' ? '>' : ')';
	at = 0;
	for (lim = n - k > 128 ? k + 128 : n, k++; k < lim && s[k] != close;
	    k++) {
		/* only address bytes: a placeholder or a space ends it */
		if (!has((unsigned char)s[k], C_WORD) && s[k] != '.' &&
		    s[k] != '-' && s[k] != '+' && s[k] != '%' && s[k] != '@')
			return 0;
		at |= s[k] == '@' || (s[k] == '%' && pfx(s, n, k, "%40"));
	}
	return at && k < lim;
}

/*
 * After a capitalised name word at the start of a sentence: does another
 * capitalised word follow that is a name or no word at all (Bill Smith)?
 */
static int
name_follows(const struct sc *x, size_t e)
{
	const char	*s = x->s;
	size_t		 n = x->n, k;
	int		 fl;

	if (e + 2 >= n || s[e] != ' ' || !has((unsigned char)s[e + 1],
	    C_UPPER))
		return 0;
	for (k = e + 2; k < n && has((unsigned char)s[k], C_LOWER); k++)
		;
	if (k == e + 2 || (k < n && has((unsigned char)s[k], C_WORD | C_JOIN)))
		return 0;
	fl = lookup(s, e + 1, k);
	return fl < 0 || (fl & VOCAB_NAME);
}

/* ---- tokens ---- */

#define SCP	(-3)	/* classify: user@host:path (a git remote) */

/*
 * Where ":42:9" (line and column, or a port: at most two groups of at most
 * NUM_KEEP digits) starts at the end of s[a..e), or e.
 */
static size_t
colon_digits(const char *s, size_t a, size_t e)
{
	size_t	 k;
	int	 g;

	for (g = 0; g < 2 && e > a; g++) {
		for (k = e; k > a && has((unsigned char)s[k - 1], C_DIGIT); k--)
			;
		if (k == e || e - k > NUM_KEEP || k <= a + 1 ||
		    s[k - 1] != ':' || !has((unsigned char)s[k - 2], C_WORD))
			break;
		e = k - 1;
	}
	return e;
}

/*
 * Decide on the token t: KEEP or a placeholder kind (or SCP); *end is
 * where it ends (a path may run further, ":42:9" is left out).
 */
static int
classify(struct sc *x, const struct tok *t, size_t *end)
{
	const char	*s = x->s;
	size_t		 a = t->a, e = t->e, k;
	unsigned	 nd;
	int		 fl, r;
	struct tok	 u;

	*end = e;
	if (t->ascii && (fl = lookup(s, a, e)) >= 0) {
		if (t->nseg == 1 && capitalized(s, a, e) &&
		    (((fl & VOCAB_NAME) && (!sentence_start(x) ||
		    name_follows(x, e))) || (x->has_at && before_email(x, e))))
			return SCRUB_WORD;
		if (t->nseg == 1 && x->has_at && t->nalpha == e - a &&
		    before_email(x, e))
			return SCRUB_WORD;
		return KEEP;
	}
	if (t->nseg == 1) {
		if (!t->ascii)
			return SCRUB_WORD;
		if ((r = number_word(s, a, e, t->ndig)) != NOTNUM)
			return r;
		if (secret_like(s, a, e))
			return SCRUB_SECRET;
		return t->ndig > 0 || memchr(s + a, '_', e - a) != NULL ?
		    SCRUB_ID : SCRUB_WORD;
	}
	if (t->jm & J_APOS) {	/* Bob's: decided by Bob */
		for (k = e; k > a && s[k - 1] != '\''; k--)
			;
		if (t->nseg == 2 && e - k == 1 && (s[k] == 's' ||
		    s[k] == 'S')) {
			tok_stats(s, a, k - 1, &u);
			if (classify(x, &u, end) == KEEP) {
				*end = e;
				return KEEP;
			}
			*end = e;
		}
		return SCRUB_WORD;
	}
	if ((t->jm & (J_AT | J_COLON)) == (J_AT | J_COLON) &&
	    (k = (size_t)((const char *)memchr(s + a, '@', e - a) - s)) >
	    a && memchr(s + k, ':', e - k) != NULL &&
	    memchr(s + a, ':', k - a) == NULL)
		return SCP;	/* git@host:org/repo */
	if ((t->jm & (J_AT | J_PCT)) && email_like(s, a, e))
		return SCRUB_EMAIL;
	if ((t->jm & J_COLON) && !t->core) {
		if (ip6_like(s, a, e))
			return SCRUB_IP;
		if ((k = colon_digits(s, a, e)) < e) {
			/* once: the rest of a colon chain is one token */
			tok_stats(s, a, k, &u);
			u.core = 1;
			return classify(x, &u, end);
		}
	}
	if (ip4_like(s, a, e))
		return SCRUB_IP;
	if (version_like(s, a, e))
		return KEEP;
	if (numeric(s, a, e, &nd))
		return nd <= NUM_KEEP ? KEEP : SCRUB_NUM;
	if (t->ascii && namespace_path(s, a, e))
		return KEEP;
	if (t->jm & (J_SLASH | J_BSL)) {
		if (secret_like(s, a, e) && !(t->jm & J_DOT))
			return SCRUB_SECRET;
		*end = path_end(x, a, e, (t->jm & J_BSL) != 0);
		if (*end < e)
			*end = e;
		return SCRUB_PATH;
	}
	if (secret_like(s, a, e))
		return SCRUB_SECRET;
	if (t->ndig > NUM_KEEP && t->nalpha <= 2)
		return SCRUB_NUM;	/* 2024-01-02T03:04:05Z */
	return SCRUB_ID;
}

/* Could a key's separator or value follow at e? (cheap test first) */
static int
key_next(const struct sc *x, size_t e, int flag)
{
	unsigned char	 c = (unsigned char)x->s[e];

	switch (c) {
	case '=': case ':': case '>': case '"': case '\'': case '\\':
	case '`': case 0xef:
		return 1;
	case ' ':
	case '\t':
		if (flag || (e + 1 < x->n && (x->s[e + 1] == '"' ||
		    x->s[e + 1] == '\'' || x->s[e + 1] == '`' ||
		    x->s[e + 1] == '\\')))
			return 1;
		while (e < x->n && (x->s[e] == ' ' || x->s[e] == '\t'))
			e++;	/* key = value, key : value */
		return e < x->n && (x->s[e] == '=' || x->s[e] == ':' ||
		    (unsigned char)x->s[e] == 0xef);
	}
	return 0;
}

/* The token that starts at the word character s[i]. */
static size_t
token(struct sc *x, size_t i, int flag)
{
	const char	*s = x->s;
	size_t		 n = x->n, end, j, h;
	struct tok	 t;
	enum keykind	 kk;
	int		 r;

	/* a Windows drive path: C:\x, C:/x */
	if (i + 2 < n && has((unsigned char)s[i], C_UPPER | C_LOWER) &&
	    s[i + 1] == ':' && (s[i + 2] == '\\' || s[i + 2] == '/') &&
	    (i == 0 || !has((unsigned char)s[i - 1], C_WORD)))
		return path_whole(x, i, i + 3, 1);
	scan_tok(x, i, 0, &t);
	if (t.url)
		return url(x, i, t.e);
	if (t.ndig > 0 && has((unsigned char)s[i], C_DIGIT) &&
	    (j = num_cluster(x, &t)) != 0)
		return j;
	r = classify(x, &t, &end);
	if (r == KEEP && pgpass_field(x, t.a, end))
		r = SCRUB_SECRET;
	if (r == KEEP)
		span(x, t.a, end - t.a);
	else if (r == SCP) {	/* the host between '@' and ':' */
		h = (size_t)((const char *)memchr(s + t.a, '@', t.e - t.a) -
		    s) + 1;
		for (j = h; j < t.e && s[j] != ':'; j++)
			;
		rep_url(x, h, j);
	} else
		rep(x, (enum scrub_kind)r);
	if (end > t.e || end >= n || !key_next(x, end, flag))
		return end;
	/* a credential or identity key: what follows is never kept */
	if (flag == 1 && flag_letter(s, t.a, end))
		kk = KEY_CRED;
	else
		kk = key_kind(s, t.a, end, t.ascii);
	if (kk != KEY_NONE && (j = key_value(x, t.a, end, kk, flag)) != 0)
		return j;
	return end;
}

/* ---- the pass ---- */

/* PEM block at i ("-----BEGIN ..."): to its END line, or to the end. */
static size_t
pem(struct sc *x, size_t i)
{
	const char	*s = x->s;
	size_t		 n = x->n, k;

	if (!pfx(s, n, i, "-----BEGIN"))
		return 0;
	for (k = i + 10; k + 8 <= n; k++) {
		if (s[k] == '-' && pfx(s, n, k, "-----END")) {
			for (k += 8; k < n && s[k] != '-' && s[k] != '\n'; k++)
				;
			while (k < n && s[k] == '-')
				k++;
			rep(x, SCRUB_SECRET);
			return k;
		}
	}
	rep(x, SCRUB_SECRET);
	return n;
}

/* The main pass over x->s, appended to x->out. */
static void
scrub_pass(struct sc *x)
{
	const char	*s = x->s;
	size_t		 n = x->n, i = 0, j, l;
	unsigned char	 c, p;
	unsigned	 cp;
	int		 k, flag = 0, pend;

	while (i < n && !x->err) {
		c = (unsigned char)s[i];
		pend = flag;
		flag = 0;
		if (c == 0xff && i + 1 < n && (s[i + 1] == 1 || s[i + 1] == 2)) {
			rep(x, s[i + 1] == 1 ? SCRUB_HOME : SCRUB_CWD);
			i = path_after_root(x, i, i + 2);
			continue;
		}
		if (c >= 0x80) {
			l = utf8_decode((const unsigned char *)s + i, n - i, &cp);
			if (l > 0 && u_punct(cp)) {
				span(x, i, l);
				i += l;
				continue;
			}
			i = token(x, i, pend);
			continue;
		}
		if (has(c, C_WORD)) {
			i = token(x, i, pend);
			continue;
		}
		if (has(c, C_SPACE)) {
			for (j = i; j < n && has((unsigned char)s[j], C_SPACE);
			    j++)
				;
			span(x, i, j - i);
			i = j;
			continue;
		}
		switch (c) {
		case '<':
			if ((k = scrub_placeholder_at(s + i, n - i, &l)) < 0)
				break;
			if (k == SCRUB_URL && l > 5) {
				int fl = lookup(s, i + 5, i + l - 1);

				if (fl < 0 || !(fl & VOCAB_HOST)) {
					put(x, "<URL>", 5);	/* no new one */
					i += l;
					continue;
				}
			}
			span(x, i, l);
			i = k == SCRUB_HOME || k == SCRUB_CWD ?
			    path_after_root(x, i, i + l) : i + l;
			continue;
		case '-':
			if ((j = pem(x, i)) != 0) {
				i = j;
				continue;
			}
			p = i > 0 ? (unsigned char)s[i - 1] : ' ';
			if (has(p, C_SPACE) || p == '"' || p == '\'' ||
			    p == '(' || p == '[' || p == ',') {
				j = i + 1 < n && s[i + 1] == '-' ? i + 2 : i + 1;
				if (j < n && has((unsigned char)s[j], C_WORD)) {
					span(x, i, j - i);
					flag = (int)(j - i);
					i = j;
					continue;
				}
			}
			break;
		case '/': case '~': case '.': case '\\': case '$': case '%':
			if ((j = path_punct(x, i)) != 0) {
				i = j;
				continue;
			}
			if (c == '\\' && text_escape(s, n, i)) {
				span(x, i, 2);
				i += 2;
				continue;
			}
			break;
		}
		span(x, i, 1);
		i++;
	}
	flush(x);
}

/* ---- before the pass: ANSI escapes, home and working directory ---- */

/*
 * Length of the ANSI escape sequence at s[i] (an ESC byte). Escapes
 * written out as text (\u001b[31m) are left to the tokenizer: removing
 * them could join text into a new one, and a second pass would differ.
 */
static size_t
ansi_len(const char *s, size_t n, size_t i)
{
	size_t	 k = i + 1;

	if (k >= n)
		return k - i;
	if (s[k] == '[') {	/* CSI: params, intermediates, final */
		for (k++; k < n && s[k] >= 0x30 && s[k] <= 0x3f; k++)
			;
		for (; k < n && s[k] >= 0x20 && s[k] <= 0x2f; k++)
			;
		if (k < n && s[k] >= 0x40 && s[k] <= 0x7e)
			k++;
		return k - i;
	}
	if (s[k] == ']') {	/* OSC: to BEL or ESC \ */
		for (k++; k < n && s[k] != 0x07 && s[k] != 0x1b &&
		    s[k] != '\n'; k++)
			;
		if (k < n && s[k] == 0x07)
			k++;
		else if (k + 1 < n && s[k] == 0x1b && s[k + 1] == '\\')
			k += 2;
		return k - i;
	}
	if ((unsigned char)s[k] >= 0x40 && (unsigned char)s[k] <= 0x5f)
		k++;
	return k - i;
}

/*
 * Would removing an escape between out (so far) and next join two things
 * into one: two words, or the parts of a placeholder ("<URL:x" and ">")?
 */
static int
joins(const struct buf *out, unsigned char next)
{
	size_t		 k;
	unsigned char	 c;

	if (out->len == 0)
		return 0;
	c = (unsigned char)out->data[out->len - 1];
	if ((c >= 0x80 || has(c, C_WORD)) && (next >= 0x80 ||
	    has(next, C_WORD)))
		return 1;
	for (k = out->len; k > 0 && out->len - k < 8 + VOCAB_MAXLEN; k--) {
		c = (unsigned char)out->data[k - 1];
		if (c == '<')
			return 1;	/* inside what may be a placeholder */
		if (c == '>' || has(c, C_SPACE))
			return 0;
	}
	return 0;
}

/*
 * Copy s[0..n) to out without ANSI escapes; where one sat between two
 * bytes that could join, a space keeps them apart. 1 if anything was
 * removed.
 */
static int
strip_ansi(const char *s, size_t n, struct buf *out)
{
	size_t	 i, last = 0, l;
	int	 any = 0;

	for (i = 0; i < n; ) {
		if (s[i] != 0x1b) {
			i++;
			continue;
		}
		l = ansi_len(s, n, i);
		if (buf_add(out, s + last, i - last) == -1)
			return -1;
		if (i + l < n && joins(out, (unsigned char)s[i + l]) &&
		    buf_putc(out, ' ') == -1)
			return -1;
		i += l;
		last = i;
		any = 1;
	}
	if (any && buf_add(out, s + last, n - last) == -1)
		return -1;
	return any;
}

/* Does a path name go on at byte c (so a match there is a prefix)? */
static int
name_goes_on(unsigned char c)
{
	return c >= 0x80 || has(c, C_WORD) || c == '.' || c == '-';
}

/* Length of a usable home/cwd pattern (absolute, trailing '/' cut). */
static size_t
pat_len(const char *p)
{
	size_t	 l;

	if (p == NULL || (p[0] != '/' && p[0] != '\\' && !(p[0] != '\0' &&
	    p[1] == ':')))
		return 0;
	l = strlen(p);
	while (l > 1 && (p[l - 1] == '/' || p[l - 1] == '\\'))
		l--;
	return l < 2 ? 0 : l;
}

/*
 * Replace the directory pat[0..pl) by rep wherever it is a whole prefix of
 * a path (not "/home/al" inside "/home/alice"). Appends to out; the count.
 */
static int
replace_dir(const char *s, size_t n, const char *pat, size_t pl,
    const char *rep, struct buf *out)
{
	const char	*p, *end = s + n, *from = s;
	int		 cnt = 0;

	while ((size_t)(end - s) >= pl &&
	    (p = memmem(s, (size_t)(end - s), pat, pl)) != NULL) {
		s = p + 1;
		if (p + pl < end && name_goes_on((unsigned char)p[pl]))
			continue;
		if (buf_add(out, from, (size_t)(p - from)) == -1 ||
		    buf_puts(out, rep) == -1)
			return -1;
		from = s = p + pl;
		cnt++;
	}
	if (cnt > 0 && buf_add(out, from, (size_t)(end - from)) == -1)
		return -1;
	return cnt;
}

/* Is the character at p[k] (k < n) a separator (not in a token)? */
static int
sep_at(const char *p, size_t n, size_t k)
{
	unsigned char	 c = (unsigned char)p[k];
	unsigned	 cp;

	if (c < 0x80)
		return !has(c, C_WORD | C_JOIN);
	return utf8_decode((const unsigned char *)p + k, n - k, &cp) > 0 &&
	    u_punct(cp);
}

/* Does a placeholder run across position k of p[0..n)? */
static int
in_placeholder(const char *p, size_t n, size_t k)
{
	size_t	 j, l;

	for (j = k; j > 0 && k - j < 80; j--) {
		if (p[j - 1] == '>')
			return 0;
		if (p[j - 1] == '<')
			return scrub_placeholder_at(p + j - 1, n - (j - 1),
			    &l) >= 0 && j - 1 + l > k;
	}
	return 0;
}

/*
 * A prefix of p[0..n) of at most max bytes, cut between tokens: right
 * after white space, else right after punctuation that closes something;
 * never inside a word, a compound, a placeholder or a key and its value.
 */
size_t
scrub_cut(const char *p, size_t n, size_t max)
{
	size_t		 k, b;
	unsigned char	 c;

	if (n <= max)
		return n;
	/*
	 * Right after white space first: the last token then sees what it
	 * saw in the whole text (a rule that looks ahead decides the same).
	 */
	for (k = max; k > 0 && max - k < CUT_SCAN; k--) {
		if (has((unsigned char)p[k - 1], C_SPACE) &&
		    !in_placeholder(p, n, k))
			return k;
	}
	/* else next to punctuation: after , ; ) ] } > 。, before 。 */
	for (k = max; k > 0; k--) {
		if (((unsigned char)p[k] & 0xc0) == 0x80)
			continue;	/* not a character boundary */
		for (b = k - 1; b > 0 && ((unsigned char)p[b] & 0xc0) == 0x80;
		    b--)
			;
		c = (unsigned char)p[b];
		if ((c >= 0x80 ? sep_at(p, n, b) : c == ',' || c == ';' ||
		    c == ')' || c == ']' || c == '}' || c == '>' ||
		    ((unsigned char)p[k] >= 0x80 && sep_at(p, n, k))) &&
		    !in_placeholder(p, n, k))
			return k;
	}
	return 0;
}

/* One pass over in[0..len), appended to out. 0, or -1 on ENOMEM. */
static int
scrub_once(const char *in, size_t len, const struct scrub_ctx *ctx,
    struct buf *out)
{
	struct buf	 t1 = { 0 }, t2 = { 0 }, t3 = { 0 };
	struct sc	 x;
	const char	*pat[2] = { NULL, NULL }, *s = in;
	size_t		 pl[2] = { 0, 0 }, n = len;
	int		 r = 0, k, first, kinds[2];

	memset(&x, 0, sizeof x);
	if (memchr(s, 0x1b, n) != NULL && (r = strip_ansi(s, n, &t1)) != 0) {
		if (r == -1)
			goto done;
		s = t1.data;
		n = t1.len;
	}
	if (ctx != NULL) {
		pl[0] = pat_len(ctx->home);
		pl[1] = pat_len(ctx->cwd);
		pat[0] = pl[0] ? ctx->home : NULL;
		pat[1] = pl[1] ? ctx->cwd : NULL;
	}
	/* the longer directory first: a cwd under home gives <CWD> */
	first = pl[1] > pl[0] ? 1 : 0;
	kinds[0] = first;
	kinds[1] = !first;
	for (k = 0; k < 2; k++) {
		int		 w = kinds[k];
		struct buf	*tb = k == 0 ? &t2 : &t3;

		if (pat[w] == NULL || pl[w] > n ||
		    memmem(s, n, pat[w], pl[w]) == NULL)
			continue;
		if ((r = replace_dir(s, n, pat[w], pl[w], w == 0 ? MARK_HOME :
		    MARK_CWD, tb)) == -1)
			goto done;
		if (r > 0) {
			s = tb->data;
			n = tb->len;
		}
	}
	x.s = s;
	x.n = n;
	x.out = out;
	x.ostart = out->len;
	x.has_at = memchr(s, '@', n) != NULL || memmem(s, n, "%40", 3) != NULL;
	scrub_pass(&x);
	r = x.err ? -1 : 0;
done:
	buf_free(&t1);
	buf_free(&t2);
	buf_free(&t3);
	return r;
}

/*
 * Can the reduced text s[0..n) be taken as a fixed point without another
 * pass? Yes when every placeholder in it stands apart: after white space
 * or an opening bracket or quote (or <HOME>/<CWD> and '/'), before white
 * space, a closing bracket or quote, , ; . ! ? or ":<digit>". The rules
 * that look at neighbours can only decide otherwise on a second pass when
 * a placeholder touches a token, a key's separator or another placeholder.
 */
static int
settled(const char *s, size_t n)
{
	const char	*p, *end = s + n;
	size_t		 l, i;
	unsigned char	 b, a;
	int		 k;

	for (p = s; (p = memchr(p, '<', (size_t)(end - p))) != NULL; p += l) {
		if ((k = scrub_placeholder_at(p, (size_t)(end - p), &l)) < 0) {
			l = 1;
			continue;
		}
		i = (size_t)(p - s);
		b = i > 0 ? (unsigned char)s[i - 1] : ' ';
		a = i + l < n ? (unsigned char)s[i + l] : ' ';
		if (!(has(b, C_SPACE) || b == '(' || b == '[' || b == '{' ||
		    b == '"' || b == '\'' || b == '`' || (b == '/' && i >= 6 &&
		    (memcmp(p - 6, "<HOME>", 6) == 0 || (i >= 5 &&
		    memcmp(p - 5, "<CWD>", 5) == 0)))))
			return 0;
		if (!(has(a, C_SPACE) || a == ')' || a == ']' || a == '}' ||
		    a == '"' || a == '\'' || a == '`' || a == ',' || a == ';' ||
		    a == '.' || a == '!' || a == '?' || ((k == SCRUB_HOME ||
		    k == SCRUB_CWD) && a == '/' && i + l + 1 < n &&
		    s[i + l + 1] == '<') || (a == ':' && i + l + 1 < n &&
		    has((unsigned char)s[i + l + 1], C_DIGIT))))
			return 0;
	}
	return 1;
}

/* Placeholders of each kind in s[0..n), added to c. */
static void
placeholders(const char *s, size_t n, unsigned c[SCRUB_NKINDS])
{
	const char	*p, *end = s + n;
	size_t		 l;
	int		 k;

	while ((p = memchr(s, '<', (size_t)(end - s))) != NULL) {
		if ((k = scrub_placeholder_at(p, (size_t)(end - p), &l)) >= 0) {
			c[k]++;
			s = p + l;
		} else
			s = p + 1;
	}
}

/*
 * Reduce in[0..len) into out (see scrub.h). A pass whose output differs
 * from its input is run again on its output until nothing changes (the
 * rules look at neighbours, which a first pass may have reduced), at most
 * SCRUB_ROUNDS times; the counts are the placeholders of each kind the
 * result holds beyond those already in the input.
 */
int
scrub_text(const char *in, size_t len, const struct scrub_ctx *ctx,
    struct buf *out, unsigned counts[SCRUB_NKINDS])
{
	struct buf	 again = { 0 };
	unsigned	 ci[SCRUB_NKINDS], co[SCRUB_NKINDS];
	size_t		 start = out->len, n;
	int		 round, k, total = 0;

	if (buf_add(out, "", 0) == -1 || scrub_once(in, len, ctx, out) == -1)
		goto nomem;
	n = out->len - start;
	if ((n != len || memcmp(out->data + start, in, len) != 0) &&
	    !settled(out->data + start, n)) {
		for (round = 0; round < SCRUB_ROUNDS; round++) {
			again.len = 0;
			if (buf_add(&again, "", 0) == -1 ||
			    scrub_once(out->data + start, n, ctx, &again) == -1)
				goto nomem;
			if (again.len == n && memcmp(again.data, out->data +
			    start, n) == 0)
				break;
			out->len = start;
			if (buf_add(out, again.data, again.len) == -1)
				goto nomem;
			n = again.len;
		}
	}
	memset(ci, 0, sizeof ci);
	memset(co, 0, sizeof co);
	placeholders(in, len, ci);
	placeholders(out->data + start, n, co);
	for (k = 0; k < SCRUB_NKINDS; k++) {
		if (co[k] > ci[k]) {
			total += (int)(co[k] - ci[k]);
			if (counts != NULL)
				counts[k] += co[k] - ci[k];
		}
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
