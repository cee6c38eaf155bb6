/*
 * config.c — the user's AtomCode config.toml, as far as telemetry cares:
 * top-level offline_mode, [telemetry] enabled and endpoint; opt-out
 * resolution (README "Opt-out"); the format-preserving `enabled` edit.
 *
 * The file is the user's whole AtomCode configuration. This file must
 * never change a byte of it other than the one value it was asked to set,
 * never rewrite a file it cannot parse, and never print or exit.
 *
 * How the text is read: our own small TOML scanner walks the whole file
 * (comments, strings with escapes, arrays, inline tables, multi-line
 * strings, CRLF), checks its structure and records where our three keys
 * are and their unquoted values. inih is not used here: it splits lines of
 * 200 bytes or more, keeps `# comment` in values, cuts values at ` ;` even
 * inside quotes and cannot read arrays, inline tables or multi-line
 * strings, so it cannot read TOML, and the scanner already finds our keys.
 * (inih reads telemetryd.conf, agent/settings.c, where INI is the format.)
 */
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>


#include "buf.h"
#include "fsio.h"
#include "config.h"
#include "frame.h"
#include "paths.h"
#include "port.h"

#define CONFIG_MAX_SIZE		(1024 * 1024)	/* larger config.toml: EFBIG */
#define CONFIG_MAX_DEPTH	32	/* nesting of arrays / inline tables */
#define KEY_PART_MAX		32	/* longer key parts never match ours */
#define KEY_PARTS_MAX		8	/* deeper keys never match ours */
#define EDIT_ATTEMPTS		3	/* tries if the file keeps changing */

/* What a value turned out to be. */
enum vkind {
	V_OTHER,	/* number, date, array, inline table */
	V_BOOL,
	V_STRING
};

/* A value token; small, since the scanner keeps one per nesting level. */
struct found {
	int		 present;
	enum vkind	 kind;
	int		 b;		/* V_BOOL */
	size_t		 vstart;	/* value token in the file */
	size_t		 vend;
	int		 line;		/* where it starts */
	size_t		 linestart;
};

/* A string value of one of our keys, decoded. */
struct sval {
	char	str[1024];
	int	toolong;	/* did not fit str */
	int	nul;		/* contains U+0000 */
};

enum { F_OFFLINE, F_ENABLED, F_ENDPOINT, F_COUNT };

/* Our keys, dotted from the top level (for messages). */
static const char *const fkeys[F_COUNT] = {
	"offline_mode", "telemetry.enabled", "telemetry.endpoint",
};

/* A dotted key, decoded part by part. */
struct kpath {
	int	n;
	int	odd;		/* a part was too long or too deep */
	char	part[KEY_PARTS_MAX][KEY_PART_MAX];
};

struct scan {
	const char	*s;
	size_t		 len;
	size_t		 pos;
	int		 line;		/* 1-based, of pos */
	size_t		 linestart;	/* offset of the current line */
	char		 err[200];	/* first syntax error */
	int		 bad;

	struct kpath	 table;		/* current [table] */
	int		 table_aot;	/* it is an [[array table]] */
	struct found	 f[F_COUNT];
	struct sval	 sv[F_COUNT];	/* when f[i].kind is V_STRING */

	int		 crlf;		/* the first newline is \r\n */
	int		 tel_header;	/* [telemetry] seen */
	size_t		 tel_header_end;/* offset after its line */
	int		 tel_header_eol;/* that line ended in a newline */
	int		 tel_dotted;	/* top-level telemetry.x = ... seen */
	size_t		 tel_dotted_end;
	int		 tel_dotted_eol;
	int		 tel_inline;	/* top-level telemetry = <value> */
	int		 tel_aot;	/* [[telemetry]] */
	size_t		 stmt_end;	/* end of the last statement's line */
	int		 stmt_eol;
};

static int	scan_value(struct scan *, const struct kpath *, int,
		    struct found *);
static int	config_edit(const char *, int, int, char *, size_t);

static void
scan_error(struct scan *sc, const char *fmt, ...)
{
	char	msg[160];
	va_list	ap;

	if (sc->bad)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(sc->err, sizeof(sc->err),
	    "TOML parse error at line %d, column %zu: %s", sc->line,
	    sc->pos - sc->linestart + 1, msg);
	sc->bad = 1;
}

static int
peek(const struct scan *sc, size_t off)
{
	if (sc->pos + off >= sc->len)
		return -1;
	return (unsigned char)sc->s[sc->pos + off];
}

static int
at_eol(const struct scan *sc)
{
	int	c;

	c = peek(sc, 0);
	return (c == -1 || c == '\n' || (c == '\r' && peek(sc, 1) == '\n'));
}

/* Consume one newline (LF or CRLF); keeps line accounting. */
static void
newline(struct scan *sc)
{
	if (peek(sc, 0) == '\r')
		sc->pos++;
	sc->pos++;
	sc->line++;
	sc->linestart = sc->pos;
}

static void
skip_ws(struct scan *sc)
{
	int	c;

	while ((c = peek(sc, 0)) == ' ' || c == '\t')
		sc->pos++;
}

static void
skip_comment(struct scan *sc)
{
	while (!at_eol(sc))
		sc->pos++;
}

/* Whitespace, newlines and comments (inside arrays). */
static void
skip_ws_nl(struct scan *sc)
{
	for (;;) {
		skip_ws(sc);
		if (peek(sc, 0) == '#')
			skip_comment(sc);
		if (peek(sc, 0) == -1 || !at_eol(sc))
			return;
		newline(sc);
	}
}

/* After a statement: spaces, an optional comment, then a newline or EOF. */
static int
expect_eol(struct scan *sc, const char *what)
{
	skip_ws(sc);
	if (peek(sc, 0) == '#')
		skip_comment(sc);
	if (!at_eol(sc)) {
		scan_error(sc, "expected a newline after %s", what);
		return -1;
	}
	if (peek(sc, 0) == -1) {
		sc->stmt_end = sc->pos;
		sc->stmt_eol = 0;
		return 0;
	}
	newline(sc);
	sc->stmt_end = sc->pos;
	sc->stmt_eol = 1;
	return 0;
}

/* Append one decoded byte to a bounded output. */
static void
put(char *out, size_t outlen, size_t *n, int *toolong, int c)
{
	if (out == NULL)
		return;
	if (*n + 1 >= outlen) {
		*toolong = 1;
		return;
	}
	out[(*n)++] = (char)c;
	out[*n] = '\0';
}

static void
put_utf8(char *out, size_t outlen, size_t *n, int *toolong, unsigned long u)
{
	if (u < 0x80)
		put(out, outlen, n, toolong, (int)u);
	else if (u < 0x800) {
		put(out, outlen, n, toolong, (int)(0xc0 | (u >> 6)));
		put(out, outlen, n, toolong, (int)(0x80 | (u & 0x3f)));
	} else if (u < 0x10000) {
		put(out, outlen, n, toolong, (int)(0xe0 | (u >> 12)));
		put(out, outlen, n, toolong, (int)(0x80 | ((u >> 6) & 0x3f)));
		put(out, outlen, n, toolong, (int)(0x80 | (u & 0x3f)));
	} else {
		put(out, outlen, n, toolong, (int)(0xf0 | (u >> 18)));
		put(out, outlen, n, toolong, (int)(0x80 | ((u >> 12) & 0x3f)));
		put(out, outlen, n, toolong, (int)(0x80 | ((u >> 6) & 0x3f)));
		put(out, outlen, n, toolong, (int)(0x80 | (u & 0x3f)));
	}
}

/* One escape after a backslash in a basic string. */
static int
scan_escape(struct scan *sc, char *out, size_t outlen, size_t *n,
    int *toolong, int *nul)
{
	unsigned long	u;
	int		c, i, digits, h;

	c = peek(sc, 0);
	sc->pos++;
	switch (c) {
	case 'b':	put(out, outlen, n, toolong, '\b'); return 0;
	case 't':	put(out, outlen, n, toolong, '\t'); return 0;
	case 'n':	put(out, outlen, n, toolong, '\n'); return 0;
	case 'f':	put(out, outlen, n, toolong, '\f'); return 0;
	case 'r':	put(out, outlen, n, toolong, '\r'); return 0;
	case '"':	put(out, outlen, n, toolong, '"'); return 0;
	case '\\':	put(out, outlen, n, toolong, '\\'); return 0;
	case 'u':
	case 'U':
		digits = c == 'u' ? 4 : 8;
		u = 0;
		for (i = 0; i < digits; i++) {
			if ((h = frame_hexval(peek(sc, 0))) == -1) {
				scan_error(sc, "invalid unicode escape");
				return -1;
			}
			u = u * 16 + (unsigned long)h;
			sc->pos++;
		}
		if (u > 0x10ffff || (u >= 0xd800 && u <= 0xdfff)) {
			scan_error(sc, "invalid unicode scalar value");
			return -1;
		}
		if (u == 0)
			*nul = 1;
		put_utf8(out, outlen, n, toolong, u);
		return 0;
	default:
		sc->pos--;
		scan_error(sc, "invalid escape sequence in string");
		return -1;
	}
}

static int
is_ctl(int c, int multiline)
{
	if (c == '\t')
		return 0;
	if (multiline && (c == '\n' || c == '\r'))
		return 0;
	return (c >= 0 && c < 0x20) || c == 0x7f;
}

/*
 * A string at pos (basic, literal, or their multi-line forms), decoded into
 * out (may be NULL) with *toolong set when it did not fit.
 */
static int
scan_string(struct scan *sc, char *out, size_t outlen, int *toolong, int *nul)
{
	size_t	n = 0;
	int	q, c, multi, quotes, i;

	if (out != NULL && outlen > 0)
		out[0] = '\0';
	q = peek(sc, 0);
	multi = peek(sc, 1) == q && peek(sc, 2) == q;
	sc->pos += multi ? 3 : 1;
	if (multi && at_eol(sc) && peek(sc, 0) != -1)
		newline(sc);	/* a newline right after """ is trimmed */
	for (;;) {
		c = peek(sc, 0);
		if (c == -1 || (!multi && at_eol(sc))) {
			scan_error(sc, "unterminated string");
			return -1;
		}
		if (c == q) {
			if (!multi) {
				sc->pos++;
				return 0;
			}
			quotes = 0;
			while (peek(sc, (size_t)quotes) == q)
				quotes++;
			if (quotes >= 3) {
				if (quotes > 5) {
					scan_error(sc, "too many quotes in a "
					    "multi-line string");
					return -1;
				}
				for (i = 0; i < quotes - 3; i++)
					put(out, outlen, &n, toolong, q);
				sc->pos += (size_t)quotes;
				return 0;
			}
			for (i = 0; i < quotes; i++)
				put(out, outlen, &n, toolong, q);
			sc->pos += (size_t)quotes;
			continue;
		}
		if (multi && at_eol(sc)) {
			if (peek(sc, 0) == '\r')
				put(out, outlen, &n, toolong, '\r');
			put(out, outlen, &n, toolong, '\n');
			newline(sc);
			continue;
		}
		if (is_ctl(c, multi)) {
			scan_error(sc, "control character in string");
			return -1;
		}
		if (c == '\\' && q == '"') {
			sc->pos++;
			if (multi) {
				/* line-ending backslash: eat whitespace */
				size_t	save = sc->pos;

				skip_ws(sc);
				if (at_eol(sc) && peek(sc, 0) != -1) {
					while (peek(sc, 0) != -1) {
						skip_ws(sc);
						if (!at_eol(sc) ||
						    peek(sc, 0) == -1)
							break;
						newline(sc);
					}
					continue;
				}
				sc->pos = save;
			}
			if (scan_escape(sc, out, outlen, &n, toolong,
			    nul) == -1)
				return -1;
			continue;
		}
		put(out, outlen, &n, toolong, c);
		sc->pos++;
	}
}

static int
bare_key_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* A (dotted) key at pos. */
static int
scan_key(struct scan *sc, struct kpath *kp)
{
	char	 part[KEY_PART_MAX];
	size_t	 n;
	int	 c, toolong, nul;

	memset(kp, 0, sizeof(*kp));
	for (;;) {
		skip_ws(sc);
		c = peek(sc, 0);
		toolong = nul = 0;
		part[0] = '\0';
		if (c == '"' || c == '\'') {
			if (peek(sc, 1) == c && peek(sc, 2) == c) {
				scan_error(sc, "a key cannot be a multi-line "
				    "string");
				return -1;
			}
			if (scan_string(sc, part, sizeof(part), &toolong,
			    &nul) == -1)
				return -1;
		} else if (c != -1 && bare_key_char(c)) {
			n = 0;
			while ((c = peek(sc, 0)) != -1 && bare_key_char(c)) {
				put(part, sizeof(part), &n, &toolong, c);
				sc->pos++;
			}
		} else {
			scan_error(sc, "expected a key");
			return -1;
		}
		if (kp->n < KEY_PARTS_MAX && !toolong)
			memcpy(kp->part[kp->n], part, sizeof(part));
		else
			kp->odd = 1;
		kp->n++;
		skip_ws(sc);
		if (peek(sc, 0) != '.')
			return 0;
		sc->pos++;
	}
}

/* 1 if a + b (b may be NULL) spells exactly the names given. */
static int
kpath_is(const struct kpath *a, const struct kpath *b, const char *n0,
    const char *n1)
{
	const char	*want[2] = { n0, n1 };
	const char	*have;
	int		 i, total, na, nb;

	na = a->n;
	nb = b != NULL ? b->n : 0;
	if (a->odd || (b != NULL && b->odd))
		return 0;
	total = n1 != NULL ? 2 : 1;
	if (na + nb != total)
		return 0;
	for (i = 0; i < total; i++) {
		have = i < na ? a->part[i] : b->part[i - na];
		if (strcmp(have, want[i]) != 0)
			return 0;
	}
	return 1;
}

static void
kpath_join(struct kpath *out, const struct kpath *a, const struct kpath *b)
{
	int	i;

	*out = *a;
	for (i = 0; i < b->n; i++) {
		if (out->n < KEY_PARTS_MAX && i < KEY_PARTS_MAX)
			memcpy(out->part[out->n], b->part[i], KEY_PART_MAX);
		else
			out->odd = 1;
		out->n++;
	}
	out->odd |= b->odd;
}

/* Record a key = value if it is one of ours (full = table + key). */
static int
note_key(struct scan *sc, const struct kpath *tbl, const struct kpath *key,
    const struct found *v)
{
	size_t	pos, linestart;
	int	which = -1, line, r;

	if (kpath_is(tbl, key, "offline_mode", NULL))
		which = F_OFFLINE;
	else if (kpath_is(tbl, key, "telemetry", "enabled"))
		which = F_ENABLED;
	else if (kpath_is(tbl, key, "telemetry", "endpoint"))
		which = F_ENDPOINT;
	else if (kpath_is(tbl, key, "telemetry", NULL))
		sc->tel_inline = 1;
	if (which == -1)
		return 0;
	if (sc->f[which].present) {
		scan_error(sc, "duplicate key %s", fkeys[which]);
		return -1;
	}
	sc->f[which] = *v;
	sc->f[which].present = 1;
	if (v->kind == V_STRING) {
		/* Decode it now (scan_value only checked it), then go back. */
		pos = sc->pos;
		line = sc->line;
		linestart = sc->linestart;
		sc->pos = v->vstart;
		sc->line = v->line;
		sc->linestart = v->linestart;
		r = scan_string(sc, sc->sv[which].str,
		    sizeof(sc->sv[which].str), &sc->sv[which].toolong,
		    &sc->sv[which].nul);
		sc->pos = pos;
		sc->line = line;
		sc->linestart = linestart;
		return r;
	}
	return 0;
}

static int
scalar_char(int c)
{
	return c != -1 && (isalnum(c) || c == '_' || c == '+' || c == '-' ||
	    c == '.' || c == ':');
}

/* A bare value: boolean, number or date-time. */
static int
scan_scalar(struct scan *sc, struct found *v)
{
	size_t	start = sc->pos, n;
	int	c;

	while (scalar_char(peek(sc, 0)))
		sc->pos++;
	n = sc->pos - start;
	/* "1979-05-27 07:32:00": a date, one space, then a time. */
	if (n == 10 && sc->s[start + 4] == '-' && sc->s[start + 7] == '-' &&
	    peek(sc, 0) == ' ' && isdigit(peek(sc, 1))) {
		sc->pos++;
		while (scalar_char(peek(sc, 0)))
			sc->pos++;
		n = sc->pos - start;
	}
	if (n == 0) {
		scan_error(sc, "expected a value");
		return -1;
	}
	c = (unsigned char)sc->s[start];
	v->kind = V_OTHER;
	if (n == 4 && memcmp(sc->s + start, "true", 4) == 0) {
		v->kind = V_BOOL;
		v->b = 1;
	} else if (n == 5 && memcmp(sc->s + start, "false", 5) == 0) {
		v->kind = V_BOOL;
		v->b = 0;
	} else if (!isdigit(c) && c != '+' && c != '-' &&
	    !(n == 3 && (memcmp(sc->s + start, "inf", 3) == 0 ||
	    memcmp(sc->s + start, "nan", 3) == 0))) {
		sc->pos = start;
		scan_error(sc, "invalid value (strings need quotes)");
		return -1;
	}
	return 0;
}

/* A key and its '=' (white space after it skipped). 0 or -1. */
static int
scan_key_eq(struct scan *sc, struct kpath *key)
{
	if (scan_key(sc, key) == -1)
		return -1;
	if (peek(sc, 0) != '=') {
		scan_error(sc, "expected '=' after a key");
		return -1;
	}
	sc->pos++;
	skip_ws(sc);
	return 0;
}

/*
 * After an element of an array or an inline table: 1 when a ',' says
 * another follows, 0 at the closing byte, -1 (an error) otherwise.
 */
static int
scan_next(struct scan *sc, int close, const char *what)
{
	skip_ws_nl(sc);
	if (peek(sc, 0) == ',') {
		sc->pos++;
		return 1;
	}
	if (peek(sc, 0) == close) {
		sc->pos++;
		return 0;
	}
	scan_error(sc, what);
	return -1;
}

static int
scan_array(struct scan *sc, int depth)
{
	static const struct kpath none = { .odd = 1 };	/* never ours */
	struct found	v;
	int		r;

	sc->pos++;
	for (;;) {
		skip_ws_nl(sc);
		if (peek(sc, 0) == ']') {
			sc->pos++;
			return 0;
		}
		if (peek(sc, 0) == -1) {
			scan_error(sc, "unterminated array");
			return -1;
		}
		if (scan_value(sc, &none, depth + 1, &v) == -1)
			return -1;
		if ((r = scan_next(sc, ']', "expected ',' or ']' in array")) !=
		    1)
			return r;
	}
}

/* An inline table; keys inside are prefix + key (TOML 1.1 newlines allowed). */
static int
scan_inline(struct scan *sc, const struct kpath *prefix, int depth)
{
	struct kpath	key, full;
	struct found	v;
	int		r;

	sc->pos++;
	skip_ws_nl(sc);
	if (peek(sc, 0) == '}') {
		sc->pos++;
		return 0;
	}
	for (;;) {
		skip_ws_nl(sc);
		if (scan_key_eq(sc, &key) == -1)
			return -1;
		kpath_join(&full, prefix, &key);
		if (scan_value(sc, &full, depth + 1, &v) == -1)
			return -1;
		if (note_key(sc, &full, NULL, &v) == -1)
			return -1;
		if ((r = scan_next(sc, '}', "expected ',' or '}' in inline"
		    " table")) != 1)
			return r;
	}
}

/*
 * A value at pos. For inline tables, keys inside are taken relative to
 * self (the full path of the key this value belongs to).
 */
static int
scan_value(struct scan *sc, const struct kpath *self, int depth,
    struct found *v)
{
	int	c, toolong = 0, nul = 0;

	memset(v, 0, sizeof(*v));
	if (depth > CONFIG_MAX_DEPTH) {
		scan_error(sc, "values nested too deeply");
		return -1;
	}
	v->vstart = sc->pos;
	v->line = sc->line;
	v->linestart = sc->linestart;
	c = peek(sc, 0);
	if (c == '"' || c == '\'') {
		v->kind = V_STRING;
		if (scan_string(sc, NULL, 0, &toolong, &nul) == -1)
			return -1;
	} else if (c == '[') {
		v->kind = V_OTHER;
		if (scan_array(sc, depth) == -1)
			return -1;
	} else if (c == '{') {
		v->kind = V_OTHER;
		if (scan_inline(sc, self, depth) == -1)
			return -1;
	} else if (scan_scalar(sc, v) == -1)
		return -1;
	v->vend = sc->pos;
	return 0;
}

/* [table] or [[array.table]] */
static int
scan_header(struct scan *sc)
{
	int	aot, tel;

	aot = peek(sc, 1) == '[';
	sc->pos += aot ? 2 : 1;
	if (scan_key(sc, &sc->table) == -1)
		return -1;
	if (peek(sc, 0) != ']' || (aot && peek(sc, 1) != ']')) {
		scan_error(sc, "unterminated table header (missing '%s')",
		    aot ? "]]" : "]");
		return -1;
	}
	sc->pos += aot ? 2 : 1;
	sc->table_aot = aot;
	tel = kpath_is(&sc->table, NULL, "telemetry", NULL);
	if (tel && aot)
		sc->tel_aot = 1;
	else if (tel) {
		if (sc->tel_header || sc->tel_dotted || sc->tel_inline) {
			scan_error(sc, "table telemetry defined more than "
			    "once");
			return -1;
		}
		sc->tel_header = 1;
	}
	if (expect_eol(sc, "a table header") == -1)
		return -1;
	if (tel && !aot) {
		sc->tel_header_end = sc->stmt_end;
		sc->tel_header_eol = sc->stmt_eol;
	}
	return 0;
}

static int
scan_keyval(struct scan *sc)
{
	struct kpath	key, full, tbl;
	struct found	v;
	const struct kpath *t;

	if (scan_key_eq(sc, &key) == -1)
		return -1;
	t = &sc->table;
	if (sc->table_aot) {
		/* keys inside [[x]] are never ours */
		memset(&tbl, 0, sizeof(tbl));
		tbl.odd = 1;
		t = &tbl;
	}
	kpath_join(&full, t, &key);
	if (scan_value(sc, &full, 0, &v) == -1)
		return -1;
	if (note_key(sc, t, &key, &v) == -1)
		return -1;
	if (expect_eol(sc, "a value") == -1)
		return -1;
	/* Top-level dotted telemetry.x keys define the telemetry table. */
	if (!sc->table_aot && t->n == 0 && !key.odd && key.n > 1 &&
	    strcmp(key.part[0], "telemetry") == 0) {
		sc->tel_dotted = 1;
		sc->tel_dotted_end = sc->stmt_end;
		sc->tel_dotted_eol = sc->stmt_eol;
	}
	return 0;
}

/* Walk the whole document; 0, or -1 with sc->err set. */
static int
scan_toml(struct scan *sc, const char *s, size_t len)
{
	const char	*nl;
	int		 c;

	memset(sc, 0, sizeof(*sc));
	sc->s = s;
	sc->len = len;
	sc->line = 1;
	if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		sc->pos = sc->linestart = 3;
	nl = memchr(s, '\n', len);
	sc->crlf = nl != NULL && nl > s && nl[-1] == '\r';

	while (sc->pos < sc->len) {
		skip_ws(sc);
		c = peek(sc, 0);
		if (c == -1)
			break;
		if (c == '#') {
			skip_comment(sc);
			continue;
		}
		if (at_eol(sc)) {
			newline(sc);
			continue;
		}
		if (c == '[') {
			if (scan_header(sc) == -1)
				return -1;
		} else if (scan_keyval(sc) == -1)
			return -1;
	}
	return 0;
}

/* A key absent or of kind k; else why not in c->error and 0. */
static int
kind_ok(struct tconfig *c, const struct found *f, enum vkind k, const char *why)
{
	if (!f->present || f->kind == k)
		return 1;
	snprintf(c->error, sizeof(c->error), "%s", why);
	return 0;
}

/* Apply the values the scanner found, with TOML type checks. */
static int
apply(const struct scan *sc, struct tconfig *c)
{
	const struct found	*f;
	const struct sval	*sv;

	if (!kind_ok(c, &sc->f[F_OFFLINE], V_STRING,
	    "offline_mode: expected a string") ||
	    !kind_ok(c, &sc->f[F_ENABLED], V_BOOL,
	    "telemetry.enabled: expected true or false"))
		return -1;
	if (sc->f[F_OFFLINE].present)
		c->offline = strcmp(sc->sv[F_OFFLINE].str, "on") == 0;
	if (sc->f[F_ENABLED].present)
		c->enabled = sc->f[F_ENABLED].b;
	f = &sc->f[F_ENDPOINT];
	sv = &sc->sv[F_ENDPOINT];
	if (f->present) {
		if (f->kind != V_STRING || sv->toolong || sv->nul) {
			snprintf(c->error, sizeof(c->error),
			    "telemetry.endpoint: expected a string of at most "
			    "%zu bytes", sizeof(c->endpoint) - 1);
			return -1;
		}
		memcpy(c->endpoint, sv->str, strlen(sv->str) + 1);
	}
	return 0;
}

static void
config_defaults(struct tconfig *c)
{
	c->enabled = -1;
	c->offline = 0;
	c->endpoint[0] = '\0';
}

/* Read a whole file (at most CONFIG_MAX_SIZE); caller frees *out. */
static int
slurp(const char *path, char **out, size_t *outlen, struct stat *sb)
{
	struct buf	b = { NULL, 0, 0 };
	int		fd, saved;

	*out = NULL;
	*outlen = 0;
	/*
	 * Never blocks on a FIFO planted at path (atc_open must not hang);
	 * a symlink is followed (dotfile managers link config.toml).
	 */
	if ((fd = fsio_open(AT_FDCWD, path, O_RDONLY, 0, FSIO_FOLLOW |
	    FSIO_USER)) == -1)
		return -1;
	if (fstat(fd, sb) == -1 || fsio_read_fd(fd, CONFIG_MAX_SIZE, &b) == -1 ||
	    (b.data == NULL && buf_reserve(&b, 1) == -1)) {
		saved = errno;
		buf_free(&b);
		close(fd);
		errno = saved;
		return -1;
	}
	close(fd);
	b.data[b.len] = '\0';
	*out = b.data;
	*outlen = b.len;
	return 0;
}

/* Compare the n bytes at p (spaces around trimmed) with a word. */
static int
lenient_is(const char *p, size_t n, const char *word)
{
	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' ||
	    p[n - 1] == '\r'))
		n--;
	return n == strlen(word) && memcmp(p, word, n) == 0;
}

/*
 * A file that does not parse is read as empty (enabled), as upstream does,
 * unless this line scan finds the user's opt-out in it: `enabled = false`
 * under a [telemetry] header, or `telemetry.enabled = false` before any
 * header. A `#` comment after the value is allowed; nothing else is.
 */
static int
lenient_disabled(const char *s, size_t len)
{
	const char	*p = s, *e = s + len, *nl, *eq, *hash, *rb;
	int		 in_tel = 0, top = 1;
	size_t		 n;

	for (; p < e; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(e - p))) == NULL)
			nl = e;
		n = (size_t)(nl - p);
		while (n > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		if (n > 0 && *p == '[') {
			top = 0;
			rb = memchr(p, ']', n);
			in_tel = rb != NULL && p[1] != '[' &&
			    lenient_is(p + 1, (size_t)(rb - p - 1), "telemetry");
			continue;
		}
		if ((eq = memchr(p, '=', n)) == NULL)
			continue;
		if ((hash = memchr(eq, '#', (size_t)(nl - eq))) == NULL)
			hash = nl;
		if (!lenient_is(eq + 1, (size_t)(hash - eq - 1), "false"))
			continue;
		if ((in_tel && lenient_is(p, (size_t)(eq - p), "enabled")) ||
		    (top && lenient_is(p, (size_t)(eq - p),
		    "telemetry.enabled")))
			return 1;
	}
	return 0;
}

/* Parse text into c (file already read). */
static void
config_parse(const char *s, size_t len, struct tconfig *c)
{
	struct scan	*sc;

	c->parsed = 0;
	config_defaults(c);
	if ((sc = malloc(sizeof(*sc))) == NULL) {
		snprintf(c->error, sizeof(c->error), "out of memory");
		return;
	}
	if (scan_toml(sc, s, len) == -1) {
		snprintf(c->error, sizeof(c->error), "%s", sc->err);
		goto out;
	}
	if (apply(sc, c) == -1) {
		config_defaults(c);
		goto out;
	}
	c->parsed = 1;
out:
	free(sc);
	if (!c->parsed && lenient_disabled(s, len)) {
		c->enabled = 0;
		c->lenient_off = 1;
	}
}

/* Read path into c (missing file: defaults, 0). -1 only on a read error. */
int
config_read(const char *path, struct tconfig *c)
{
	struct stat	 sb;
	char		*s;
	size_t		 len;

	memset(c, 0, sizeof(*c));
	config_defaults(c);
	c->parsed = 1;
	if (slurp(path, &s, &len, &sb) == -1) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		c->parsed = 0;
		c->exists = 1;
		c->unreadable = errno;
		snprintf(c->error, sizeof(c->error), "%s", strerror(errno));
		return -1;
	}
	c->exists = 1;
	config_parse(s, len, c);
	free(s);
	return 0;
}

/*
 * The one resolution (see config.h): read path, then resolve. A file that
 * exists but cannot be read may hold the user's opt-out: telemetry is off
 * (reason "config") until it can be read.
 */
int
config_resolve(const char *path, int cli_no_telemetry, struct tconfig *c,
    struct optout *o)
{
	int	r;

	r = config_read(path, c);
	optout_resolve(c, cli_no_telemetry, o);
	if (r == -1 && o->enabled) {
		o->enabled = 0;
		o->reason = "config";
	}
	return r;
}

/*
 * An upload endpoint must be an absolute http:// or https:// URL with a
 * host: "not a url", "ftp://…", "file:///…" would only fail at upload.
 */
int
config_endpoint_check(const char *url, char *cause, size_t causelen)
{
	const char	*p, *host;
	size_t		 i;

	if (strncasecmp(url, "https://", 8) == 0)
		host = url + 8;
	else if (strncasecmp(url, "http://", 7) == 0)
		host = url + 7;
	else {
		snprintf(cause, causelen, "endpoint \"%.200s\" is not an"
		    " http:// or https:// URL", url);
		return -1;
	}
	for (p = url; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			snprintf(cause, causelen, "endpoint \"%.200s\""
			    " contains a space or control character", url);
			return -1;
		}
	i = strcspn(host, "/?#");
	if (i == 0 || host[0] == ':' || host[0] == '@') {
		snprintf(cause, causelen, "endpoint \"%.200s\" has no host",
		    url);
		return -1;
	}
	return 0;
}

/* Plain http:// to a host other than loopback? (config.h) */
int
config_endpoint_cleartext(const char *url)
{
	char		 host[256];
	const char	*a, *e, *at, *p;
	size_t		 n;
	struct in_addr	 v4;
	struct in6_addr	 v6;

	if (strncasecmp(url, "http://", 7) != 0)
		return 0;
	a = url + 7;
	e = a + strcspn(a, "/?#");
	/* userinfo@host:port */
	for (at = NULL, p = a; p < e; p++)
		if (*p == '@')
			at = p;
	if (at != NULL)
		a = at + 1;
	if (a < e && *a == '[') {
		a++;
		if ((p = memchr(a, ']', (size_t)(e - a))) == NULL)
			return 1;
	} else if ((p = memchr(a, ':', (size_t)(e - a))) == NULL)
		p = e;
	n = (size_t)(p - a);
	if (n == 0 || n >= sizeof(host))
		return 1;
	memcpy(host, a, n);
	host[n] = '\0';
	if (n > 1 && host[n - 1] == '.')
		host[--n] = '\0';
	if (strcasecmp(host, "localhost") == 0)
		return 0;
	if (inet_pton(AF_INET, host, &v4) == 1)
		return (ntohl(v4.s_addr) >> 24) != 127;
	if (inet_pton(AF_INET6, host, &v6) == 1)
		return !IN6_IS_ADDR_LOOPBACK(&v6) &&
		    !(IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
	return 1;
}

/* A sentence about c for status, "" when there is nothing to say. */
void
config_warning(const struct tconfig *c, char *out, size_t outlen)
{
	if (outlen == 0)
		return;
	out[0] = '\0';
	if (c->unreadable != 0)
		snprintf(out, outlen, "config.toml cannot be read (%s):"
		    " telemetry stays off until it can", strerror(c->unreadable));
	else if (c->exists && !c->parsed && c->lenient_off)
		snprintf(out, outlen, "config.toml does not parse (%s);"
		    " it says [telemetry] enabled = false, so telemetry is off",
		    c->error);
	else if (c->exists && !c->parsed)
		snprintf(out, outlen, "config.toml does not parse (%s);"
		    " read as empty, as upstream AtomCode does: telemetry is on"
		    " unless something else turns it off", c->error);
}

/* The value of name, trimmed, into v (lower case). 0 if unset or too long. */
static int
env_word(const char *name, char *v, size_t vlen)
{
	const char	*e;
	size_t		 n, i;

	if ((e = getenv(name)) == NULL)
		return 0;
	while (isspace((unsigned char)*e))
		e++;
	n = strlen(e);
	while (n > 0 && isspace((unsigned char)e[n - 1]))
		n--;
	if (n >= vlen)
		n = vlen - 1;
	for (i = 0; i < n; i++)
		v[i] = (char)tolower((unsigned char)e[i]);
	v[n] = '\0';
	return 1;
}

/* 1/true/on, case-insensitive, surrounding whitespace ignored. */
static int
env_offline(int *offline)
{
	static const char *const on[] = { "1", "true", "on" };
	static const char *const off[] = { "0", "false", "off", "auto" };
	char		 v[16];
	size_t		 i;

	if (!env_word("ATOMCODE_OFFLINE", v, sizeof(v)))
		return 0;
	for (i = 0; i < sizeof(on) / sizeof(on[0]); i++) {
		if (strcmp(v, on[i]) == 0) {
			*offline = 1;
			return 1;
		}
	}
	for (i = 0; i < sizeof(off) / sizeof(off[0]); i++) {
		if (strcmp(v, off[i]) == 0) {
			*offline = 0;
			return 1;
		}
	}
	return 0;	/* unrecognised: the config decides */
}

/*
 * ATOMCODE_TELEMETRY=0|false|off|no (any case) turns telemetry off; the
 * reason names the value. NULL when it does not.
 */
static const char *
env_telemetry_off(void)
{
	static const char *const off[][2] = {
		{ "0", "env:ATOMCODE_TELEMETRY=0" },
		{ "false", "env:ATOMCODE_TELEMETRY=false" },
		{ "off", "env:ATOMCODE_TELEMETRY=off" },
		{ "no", "env:ATOMCODE_TELEMETRY=no" },
	};
	char	v[16];
	size_t	i;

	if (!env_word("ATOMCODE_TELEMETRY", v, sizeof(v)))
		return NULL;
	for (i = 0; i < sizeof(off) / sizeof(off[0]); i++)
		if (strcmp(v, off[i][0]) == 0)
			return off[i][1];
	return NULL;
}

/*
 * DO_NOT_TRACK (consoledonottrack.com): any value but empty, 0 or false
 * means "do not track".
 */
static const char *
env_do_not_track(void)
{
	char	v[16];

	if (!env_word("DO_NOT_TRACK", v, sizeof(v)) || v[0] == '\0' ||
	    strcmp(v, "0") == 0 || strcmp(v, "false") == 0)
		return NULL;
	return strcmp(v, "1") == 0 ? "env:DO_NOT_TRACK=1" : "env:DO_NOT_TRACK";
}

/*
 * Resolve the opt-out (README "Opt-out") from the environment, c and the
 * CLI flag.
 * ATOMCODE_OFFLINE, when set to a recognised value (1/true/on or
 * 0/false/off/auto), overrides config offline_mode; "auto" counts as
 * online. Endpoint: ATOMCODE_TELEMETRY_ENDPOINT when set; set but empty
 * means the default (not the config's); longer than the endpoint buffer is
 * ignored rather than truncated.
 */
void
optout_resolve(const struct tconfig *c, int cli_no_telemetry, struct optout *o)
{
	const char	*e;
	int		 offline = 0;

	memset(o, 0, sizeof(*o));
	if (!env_offline(&offline))
		offline = c != NULL && c->offline;
	if (offline)
		o->reason = "offline";
	else if ((o->reason = env_telemetry_off()) != NULL)
		;
	else if ((o->reason = env_do_not_track()) != NULL)
		;
	else if (cli_no_telemetry)
		o->reason = "cli:--no-telemetry";
	else if (c != NULL && c->enabled == 0)
		o->reason = "config";
	o->enabled = o->reason == NULL;

	e = getenv("ATOMCODE_TELEMETRY_ENDPOINT");
	if (e != NULL && strlen(e) >= sizeof(o->endpoint))
		e = NULL;
	if (e != NULL && *e == '\0')
		e = CONFIG_DEFAULT_ENDPOINT;
	if (e == NULL && c != NULL && c->endpoint[0] != '\0')
		e = c->endpoint;
	if (e == NULL)
		e = CONFIG_DEFAULT_ENDPOINT;
	snprintf(o->endpoint, sizeof(o->endpoint), "%s", e);
}

/* new = old[0..at) + ins + old[at+cut..) */
static int
text_splice(struct buf *out, const char *old, size_t len, size_t at, size_t cut,
    const char *ins)
{
	if (buf_add(out, old, at) == -1 || buf_puts(out, ins) == -1 ||
	    buf_add(out, old + at + cut, len - at - cut) == -1)
		return -1;
	return 0;
}

/* Compute the edited text; -1 with cause when we cannot edit safely. */
static int
edit_text(const struct scan *sc, const char *old, size_t len, int enabled,
    struct buf *out, const char *path, char *cause, size_t causelen)
{
	const struct found	*f = &sc->f[F_ENABLED];
	const char		*v = enabled ? "true" : "false";
	const char		*eol = sc->crlf ? "\r\n" : "\n";
	char			 line[64];

	if (f->present)
		return text_splice(out, old, len, f->vstart,
		    f->vend - f->vstart, v);
	if (sc->tel_header) {
		snprintf(line, sizeof(line), "%senabled = %s%s",
		    sc->tel_header_eol ? "" : eol, v, eol);
		return text_splice(out, old, len, sc->tel_header_end, 0, line);
	}
	if (sc->tel_inline || sc->tel_aot) {
		snprintf(cause, causelen, "%s defines telemetry as %s; add "
		    "enabled = %s to it by hand", path, sc->tel_aot ?
		    "an array of tables" : "an inline value", v);
		errno = EINVAL;
		return -1;
	}
	if (sc->tel_dotted) {
		snprintf(line, sizeof(line), "%stelemetry.enabled = %s%s",
		    sc->tel_dotted_eol ? "" : eol, v, eol);
		return text_splice(out, old, len, sc->tel_dotted_end, 0, line);
	}
	if (len == 0)
		snprintf(line, sizeof(line), "[telemetry]%senabled = %s%s",
		    eol, v, eol);
	else
		snprintf(line, sizeof(line), "%s%s[telemetry]%senabled = %s%s",
		    old[len - 1] == '\n' ? "" : eol, eol, eol, v, eol);
	return text_splice(out, old, len, len, 0, line);
}

/* The directory part of path ("." when there is none). */
static void
dir_of(const char *path, char *dir, size_t dirlen)
{
	const char	*slash;
	size_t		 n;

	if ((slash = strrchr(path, '/')) == NULL) {
		snprintf(dir, dirlen, ".");
		return;
	}
	n = (size_t)(slash - path);
	if (n == 0)
		n = 1;		/* "/file" */
	snprintf(dir, dirlen, "%.*s", (int)n, path);
}

/* 1 if the file at path is no longer what we read (or its absence changed). */
static int
changed(const char *path, int existed, const struct stat *before)
{
	struct stat	sb;

	if (stat(path, &sb) == -1)
		return existed;
	if (!existed)
		return 1;
	return sb.st_dev != before->st_dev || sb.st_ino != before->st_ino ||
	    sb.st_size != before->st_size ||
	    PORT_MTIM(&sb).tv_sec != PORT_MTIM(before).tv_sec ||
	    PORT_MTIM(&sb).tv_nsec != PORT_MTIM(before).tv_nsec;
}

/*
 * Remove the temp files that interrupted edits of target left beside it
 * (each is a full copy of the user's config, provider keys included). An
 * edit holds flock(LOCK_EX) on its temp file from creation to rename, so a
 * temp whose lock is free belongs to nobody. Only files named
 * <base>.tmp-XXXXXX, regular and ours, are touched.
 */
static void
clean_stale_temps(const char *target)
{
	char		 dir[PATHS_MAX];
	const char	*base;
	struct dirent	*de;
	DIR		*d;
	int		 dfd;

	base = strrchr(target, '/') != NULL ? strrchr(target, '/') + 1 :
	    target;
	dir_of(target, dir, sizeof(dir));
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return;
	if ((d = fsio_opendir(dfd)) == NULL) {
		close(dfd);
		return;
	}
	while ((de = readdir(d)) != NULL)
		(void)fsio_replace_stale(dfd, de->d_name, base);
	closedir(d);
	close(dfd);
}

/*
 * Write data to a temp file beside target and rename it over target,
 * durably (the user's own file), with the old file's mode and owner (0600
 * for a new file). The temp file stays 0600 and locked (see
 * clean_stale_temps) until it is synced, so an edit killed half-way
 * leaves nothing others can read. Returns 0, 1 when target changed since
 * it was read or the temp was taken away (nothing done: try again), -1.
 */
static int
replace(const char *target, const char *data, size_t len, int existed,
    const struct stat *before)
{
	struct fsio_replace	r;
	mode_t			mode = 0600;

	if (fsio_replace_open(&r, target, 0) == -1)
		return -1;
	if (existed) {
		mode = before->st_mode & 07777;
		if ((before->st_uid != geteuid() ||
		    before->st_gid != getegid()) &&
		    fchown(r.fd, before->st_uid, before->st_gid) == -1) {
			/* not ours to give away: keep our ownership */
		}
	}
	if (fsio_write_all(r.fd, data, len) == -1 ||
	    fsio_replace_sync(&r) == -1)
		goto fail;
	if (changed(target, existed, before)) {
		fsio_replace_abort(&r);
		return 1;
	}
	/* The final mode only now: a copy left by a kill stays private. */
	if (fchmod(r.fd, mode) == -1)
		goto fail;
	if (fsio_replace_commit(&r, FSIO_DURABLE) == -1)
		return errno == ENOENT ? 1 : -1;  /* ENOENT: a cleaner took it */
	return 0;
fail:
	fsio_replace_abort(&r);
	return -1;
}

/*
 * Set [telemetry] enabled = true|false in place: every other byte unchanged,
 * atomic replace, mode preserved; file (and dir) created if missing. A
 * symlinked config is edited through its target (the link stays).
 */
int
config_set_enabled(const char *path, int enabled, char *cause,
    size_t causelen)
{
	return config_edit(path, enabled, 0, cause, causelen);
}

/* Would config_set_enabled() succeed? Nothing is changed (see config.h). */
int
config_can_set_enabled(const char *path, int enabled, char *cause,
    size_t causelen)
{
	return config_edit(path, enabled, 1, cause, causelen);
}

/* Write a temp file beside target and remove it: can an edit be saved? */
static int
probe_writable(const char *target)
{
	struct fsio_replace	r;

	if (fsio_replace_open(&r, target, 0) == -1)
		return -1;
	fsio_replace_abort(&r);
	return 0;
}

static int
config_edit(const char *path, int enabled, int dry, char *cause,
    size_t causelen)
{
	struct stat	 lsb, sb;
	struct scan	*sc = NULL;
	struct buf	 out = { NULL, 0, 0 };
	char		 target[PATHS_MAX], dir[PATHS_MAX], *old = NULL;
	size_t		 len;
	int		 attempt, existed, r, saved;

	if (cause != NULL && causelen > 0)
		cause[0] = '\0';
	if (cause == NULL)
		causelen = 0;

	if (lstat(path, &lsb) == 0 && S_ISLNK(lsb.st_mode)) {
		if (realpath(path, target) == NULL) {
			saved = errno;
			snprintf(cause, causelen, "%s is a symbolic link to "
			    "a file I cannot reach: %s", path,
			    strerror(saved));
			errno = saved;
			return -1;
		}
	} else if (snprintf(target, sizeof(target), "%s", path) >=
	    (int)sizeof(target)) {
		snprintf(cause, causelen, "%s: path too long", path);
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((sc = malloc(sizeof(*sc))) == NULL)
		goto syserr;
	clean_stale_temps(target);

	for (attempt = 0; attempt < EDIT_ATTEMPTS; attempt++) {
		free(old);
		old = NULL;
		buf_free(&out);
		memset(&sb, 0, sizeof(sb));
		existed = 1;
		if (slurp(target, &old, &len, &sb) == -1) {
			if (errno != ENOENT)
				goto syserr;
			existed = 0;
			len = 0;
			dir_of(target, dir, sizeof(dir));
			if (!dry && paths_mkdirs(dir) == -1)
				goto syserr;
		}
		if (scan_toml(sc, existed ? old : "", len) == -1) {
			snprintf(cause, causelen, "%s is not valid TOML, so I "
			    "won't rewrite it and risk losing your other "
			    "settings: %s\nFix the syntax error (or move the "
			    "file aside) and re-run.", path, sc->err);
			errno = EINVAL;
			goto fail;
		}
		if (edit_text(sc, existed ? old : "", len, enabled, &out,
		    path, cause, causelen) == -1)
			goto fail;
		if (existed && out.len == len && memcmp(out.data, old,
		    len) == 0)
			goto done;	/* already set */
		if (dry) {
			/* A missing directory is created by the edit. */
			if (probe_writable(target) == -1 &&
			    (existed || errno != ENOENT))
				goto syserr;
			goto done;
		}
		r = replace(target, out.data, out.len, existed, &sb);
		if (r == -1)
			goto syserr;
		if (r == 0)
			goto done;
	}
	snprintf(cause, causelen, "%s keeps changing while I edit it; "
	    "try again", path);
	errno = EAGAIN;
	goto fail;

done:
	free(sc);
	free(old);
	buf_free(&out);
	return 0;
syserr:
	saved = errno;
	snprintf(cause, causelen, "cannot update %s: %s", path,
	    strerror(saved));
	errno = saved;
fail:
	saved = errno;
	free(sc);
	free(old);
	buf_free(&out);
	errno = saved;
	return -1;
}
