/*
 * record.c — the record schema (schema_version 1, as upstream) and its
 * single-pass validator: one scan over the JSON text collects the top-level
 * fields, the field tables decide what each must be, free text goes through
 * the scrubber, and the canonical compact record is appended to the output.
 *
 * Must never: build a JSON tree, read outside in[0..len), touch the output
 * buffer on error, emit invalid UTF-8, print, or keep state between calls.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "frame.h"
#include "record.h"
#include "scrub.h"
#include "shape.h"

#define REC_MAX_DEPTH	2048	/* nesting levels, as jansson: bad_json */
#define REC_STR_MAX	256	/* ids, names, versions (bytes): too_long */
#define REC_LOC_MAX	1024	/* panic location: bytes, truncated */
#define REC_BT_MAX	5	/* backtrace_top_5 entries: too_long */
#define REC_BT_LINE_MAX	1024	/* one backtrace line (bytes): cut */
#define REC_HEAD_CHARS	200	/* message_head (scalar values): cut */
#define REC_DATA_MAX	4096	/* error_data: bytes, truncated */
#define REC_IDENT_MAX	64	/* error_kind identifiers ([a-z0-9_]) */
#define REC_KEY_DECODE	384	/* longer escaped keys are unknown */

/* JSON value types as the scanner sees them. */
enum jtype {
	JT_STR,
	JT_INT,		/* a number without fraction or exponent */
	JT_NUM,		/* any other number */
	JT_TRUE,
	JT_FALSE,
	JT_NULL,
	JT_OBJ,
	JT_ARR
};

#define VF_ESC	0x01	/* string value contains backslash escapes */
#define VF_WS	0x02	/* object/array value contains whitespace */
#define VF_KESC	0x04	/* the key contains backslash escapes */
#define VF_NUL	0x08	/* string value contains \u0000 */

#define SF_ESC	0x01	/* scan_string: escapes seen */
#define SF_NUL	0x02	/* scan_string: \u0000 seen */

/*
 * Every field the schema knows (envelope, then payloads), one entry each:
 * its id, its name, then its definition (FD: kind, flags, max, enum; FS:
 * a string with a shape, proto/shape.h). The enum fid, the table fdefs and the key lookup
 * (field_lookup) are all made from this list, so a new field is one line
 * here, plus the events that carry it (evdefs). The order is the ids':
 * the envelope's fields come before F_DSP, the first payload field.
 */
#define REC_FIELDS(X)							\
	X(DEVICE_ID, "device_id", FD(REC_K_UUID, 0, 0, NULL))		\
	X(LAUNCH_ID, "launch_id", FD(REC_K_UUID, 0, 0, NULL))		\
	X(ACCOUNT_ID, "account_id", FS(REC_K_STR, SH_ACCOUNT, REC_STR_MAX))	\
	X(SESSION_ID, "session_id", FD(REC_K_UUID, 0, 0, NULL))		\
	X(TURN, "turn", FD(REC_K_U64, 0, 0, NULL))				\
	X(ROUND, "round", FD(REC_K_U32, 0, 0, NULL))			\
	X(REQUEST, "request", FD(REC_K_U64, 0, 0, NULL))			\
	X(TURN_ID, "turn_id", FS(REC_K_STR, SH_UUIDISH, REC_STR_MAX))	\
	X(TS, "ts", FD(REC_K_I64, 0, 0, NULL))				\
	X(SCHEMA_VERSION, "schema_version", FD(REC_K_SCHEMA, 0, 0, NULL))	\
	X(APP_VERSION, "app_version",					\
	    FS(REC_K_STR, SH_SEMVER, REC_STR_MAX))				\
	X(OS, "os", FD(REC_K_ENUM, 0, 0, os_enum))				\
	X(ARCH, "arch", FD(REC_K_ENUM, 0, 0, arch_enum))			\
	X(LOCALE, "locale", FS(REC_K_STR, SH_LOCALE, REC_STR_MAX))		\
	X(PROVIDER, "provider", FS(REC_K_STR, SH_PROVIDER, REC_STR_MAX))	\
	X(PROVIDER_HOST, "provider_host",				\
	    FS(REC_K_STR, SH_PHOST, REC_STR_MAX))				\
	X(MODEL, "model", FS(REC_K_STR, SH_MODEL, REC_STR_MAX))		\
	X(REPO_ORIGIN, "repo_origin", FD(REC_K_REPO, 0, 0, NULL))		\
	X(MODE, "mode", FD(REC_K_ENUM, 0, 0, mode_enum))			\
	X(SURFACE, "surface", FS(REC_K_STR, SH_SURFACE, REC_STR_MAX))	\
	X(EVENT_ID, "event_id", FD(REC_K_STR, 0, REC_STR_MAX, NULL))	\
	X(DSP, "dangerously_skip_permissions", FD(REC_K_BOOL, 0, 0, NULL))	\
	X(DURATION_MS, "duration_ms", FD(REC_K_U32, 0, 0, NULL))		\
	X(TOOL_CALLS_COUNT, "tool_calls_count", FD(REC_K_U32, 0, 0, NULL))	\
	X(INPUT_TOKENS, "input_tokens", FD(REC_K_U32, 0, 0, NULL))		\
	X(OUTPUT_TOKENS, "output_tokens", FD(REC_K_U32, 0, 0, NULL))	\
	X(CACHED_TOKENS, "cached_tokens", FD(REC_K_U32, 0, 0, NULL))	\
	X(HAD_ERROR, "had_error", FD(REC_K_BOOL, 0, 0, NULL))		\
	X(CONTEXT_WINDOW, "context_window", FD(REC_K_U32, 0, 0, NULL))	\
	X(SYSTEM_TOKENS, "system_tokens", FD(REC_K_U32, 0, 0, NULL))	\
	X(TOOL_DEF_TOKENS, "tool_def_tokens", FD(REC_K_U32, 0, 0, NULL))	\
	X(TOOL_RESULT_TOKENS, "tool_result_tokens",			\
	    FD(REC_K_U32, 0, 0, NULL))					\
	X(MESSAGE_TOKENS, "message_tokens", FD(REC_K_U32, 0, 0, NULL))	\
	X(MESSAGES_COUNT, "messages_count", FD(REC_K_U32, 0, 0, NULL))	\
	X(ERROR_KIND, "error_kind",					\
	    FS(REC_K_IDENT, SH_KIND, REC_IDENT_MAX))			\
	X(ERROR_DATA, "error_data",					\
	    FD(REC_K_STR, FD_SCRUB | FD_TRUNC, REC_DATA_MAX, NULL))		\
	X(NAME, "name", FS(REC_K_STR, SH_TOOL, REC_STR_MAX))		\
	X(SUCCESS, "success", FD(REC_K_BOOL, 0, 0, NULL))			\
	X(TYPE, "type", FS(REC_K_STR, SH_COMMAND, REC_STR_MAX))		\
	X(SERVER_NAME, "server_name", FS(REC_K_STR, SH_MCP, REC_STR_MAX))	\
	X(TRANSPORT, "transport", FD(REC_K_ENUM, 0, 0, transport_enum))	\
	X(INVITE_CODE, "invite_code",					\
	    FS(REC_K_STR, SH_INVITE, REC_STR_MAX))				\
	X(INSTALL_UUID, "install_uuid", FD(REC_K_UUID, 0, 0, NULL))		\
	X(LOCATION, "location",						\
	    FD(REC_K_STR, FD_SCRUB | FD_TRUNC, REC_LOC_MAX, NULL))		\
	X(MESSAGE_HEAD, "message_head",					\
	    FD(REC_K_STR, FD_SCRUB | FD_TRUNC | FD_CHARS, REC_HEAD_CHARS, NULL))	\
	X(THREAD, "thread", FD(REC_K_STR, FD_SCRUB, REC_STR_MAX, NULL))	\
	X(BACKTRACE, "backtrace_top_5",					\
	    FD(REC_K_STRARR, FD_SCRUB | FD_TRUNC, REC_BT_LINE_MAX, NULL))

/* Field ids: F_DEVICE_ID ... F_BACKTRACE (REC_FIELDS), then their count. */
enum fid {
#define REC_FIELD_ID(id, name, def)	F_##id,
	REC_FIELDS(REC_FIELD_ID)
#undef REC_FIELD_ID
	F_N
};
#define B(f)	(UINT64_C(1) << (f))

/* What a field's value must be: enum rec_kind (record.h), REC_K_*. */

#define FD_SCRUB	0x01	/* free text: run the scrubber */
#define FD_TRUNC	0x02	/* over max: truncate instead of too_long */
#define FD_CHARS	0x04	/* max counts scalar values, not bytes */

struct fdef {
	const char		*name;
	unsigned char		 len;
	unsigned char		 kind;
	unsigned char		 flags;
	unsigned char		 shape;	/* enum shape (proto/shape.h) */
	unsigned short		 max;
	const char *const	*enumv;	/* REC_K_ENUM: NULL-terminated */
};
#define FDEF(n, ...)		{ n, sizeof(n) - 1, __VA_ARGS__ }
#define FD(k, f, m, e)		k, f, SH_NONE, m, e
/* A structured string: outside its shape it is never stored as given. */
#define FS(k, sh, m)		k, 0, sh, m, NULL

static const char *const os_enum[] = { "macos", "linux", "windows", "other",
    NULL };
static const char *const arch_enum[] = { "x86_64", "aarch64", "other", NULL };
static const char *const mode_enum[] = { "headless", "tui", "ide", "vscode",
    "jetbrains", "webui", "atomcode_desktop", "channel", NULL };
static const char *const host_enum[] = { "gitcode", "atomgit", "github",
    "gitlab", "other", "none", NULL };
static const char *const transport_enum[] = { "stdio", "sse",
    "streamable_http", NULL };
static const char *const llm_err_enum[] = { "network_error", "auth_error",
    "rate_limited", "server_error", "stream_interrupted", "stream_timeout",
    "context_overflow", "other", NULL };
static const char *const result_enum[] = { "success", "fail", NULL };

/* Default definitions; an event may override one (see evdef.ov). */
static const struct fdef fdefs[F_N] = {
#define REC_FIELD_DEF(id, name, def)	[F_##id] = FDEF(name, def),
	REC_FIELDS(REC_FIELD_DEF)
#undef REC_FIELD_DEF
};

static const struct fdef llm_error_kind = FDEF("error_kind", FD(REC_K_ENUM, 0, 0,
    llm_err_enum));
static const struct fdef plan_type = FDEF("type", FD(REC_K_ENUM, 0, 0,
    result_enum));

#define ENV_ALLOW	(B(F_N) - 1 - PAY_ALL)
#define ENV_REQ		(B(F_DEVICE_ID) | B(F_LAUNCH_ID) | \
    B(F_SESSION_ID) | \
    B(F_TS) | B(F_SCHEMA_VERSION) | B(F_APP_VERSION) | B(F_OS) | \
    B(F_ARCH) | B(F_LOCALE) | B(F_EVENT_ID))
#define PAY_ALL		(B(F_N) - B(F_DSP))
#define ERR_OPT		(B(F_ERROR_KIND) | B(F_ERROR_DATA))
#define LLM_REQ		(B(F_DURATION_MS) | B(F_TOOL_CALLS_COUNT) | \
    B(F_INPUT_TOKENS) | B(F_OUTPUT_TOKENS) | B(F_CACHED_TOKENS) | \
    B(F_HAD_ERROR) | B(F_CONTEXT_WINDOW) | B(F_SYSTEM_TOKENS) | \
    B(F_TOOL_DEF_TOKENS) | B(F_TOOL_RESULT_TOKENS) | B(F_MESSAGE_TOKENS) | \
    B(F_MESSAGES_COUNT))
#define PANIC_REQ	(B(F_LOCATION) | B(F_MESSAGE_HEAD) | B(F_THREAD) | \
    B(F_BACKTRACE))

/* One event: its payload fields (allowed ⊇ required) and an override. */
struct evdef {
	const char		*name;
	size_t			 len;
	uint64_t		 allow;
	uint64_t		 req;
	int			 ov_id;	/* field defined by ov, or -1 */
	const struct fdef	*ov;
};
#define EV(n, a, r, oi, o)	{ n, sizeof(n) - 1, a, r, oi, o }

static const struct evdef evdefs[] = {
	EV("open_atomcode", B(F_DSP), 0, -1, NULL),
	EV("llm_chat", LLM_REQ | ERR_OPT, LLM_REQ, F_ERROR_KIND,
	    &llm_error_kind),
	EV("tool_call", B(F_NAME) | B(F_SUCCESS) | B(F_DURATION_MS) | ERR_OPT,
	    B(F_NAME) | B(F_SUCCESS) | B(F_DURATION_MS), -1, NULL),
	EV("use_command", B(F_TYPE) | B(F_SUCCESS) | ERR_OPT, B(F_TYPE), -1,
	    NULL),
	EV("mcp_connect", B(F_SERVER_NAME) | B(F_TRANSPORT) | B(F_SUCCESS) |
	    B(F_DURATION_MS) | ERR_OPT,
	    B(F_SERVER_NAME) | B(F_TRANSPORT) | B(F_SUCCESS), -1, NULL),
	EV("login_success", B(F_INVITE_CODE) | B(F_INSTALL_UUID), 0, -1, NULL),
	EV("install_completed", B(F_INVITE_CODE) | B(F_INSTALL_UUID),
	    B(F_INVITE_CODE) | B(F_INSTALL_UUID), -1, NULL),
	EV("take_codingplan", B(F_TYPE) | ERR_OPT, B(F_TYPE), F_TYPE,
	    &plan_type),
	EV("panic", PANIC_REQ | ERR_OPT, PANIC_REQ, -1, NULL),
	EV("telemetry_disabled", 0, 0, -1, NULL),
	EV("codingplan_official_build_required", 0, 0, -1, NULL),
};
#define NEVENTS	(sizeof evdefs / sizeof evdefs[0])

static const char *const rec_codes[REC_NERR] = {
#define REC_ERROR_CODE(id, code)	[id] = code,
	REC_ERRORS(REC_ERROR_CODE)
#undef REC_ERROR_CODE
};

/* One top-level member as found by the scan. */
struct rfield {
	const char	*key;	/* raw key bytes, without quotes */
	const char	*val;	/* raw value bytes */
	size_t		 klen;
	size_t		 vlen;
	size_t		 rep_off;	/* replacement JSON in v->rep */
	size_t		 rep_len;	/* 0: no replacement */
	signed char	 id;	/* enum fid, or -1 when unknown */
	unsigned char	 type;	/* enum jtype */
	unsigned char	 flags;	/* VF_* */
	unsigned char	 drop;	/* not part of the output */
};

/* The scan of one record's top level. */
struct rscan {
	struct rfield	 f[REC_MAX_FIELDS];
	unsigned	 nf;	/* stored members */
	unsigned	 ntotal;	/* all members, also past the cap */
	int		 ws;	/* whitespace outside strings */
	int		 kesc;	/* some key has escapes */
	uint64_t	 seen;	/* known fields present */
	const char	*dup;	/* first duplicated key, raw */
	size_t		 duplen;
	/* last event_id and ts, also past the cap (as jansson sees them) */
	const char	*ev, *ts;
	size_t		 evlen, tslen;
	unsigned char	 evtype, evflags, tstype;
	int		 odd;	/* a number jansson cannot load */
};

/* Cursor of the JSON scanner. */
struct scan {
	const unsigned char	*p;
	const unsigned char	*end;
	unsigned		 base;	/* nesting level around the value */
	int			 ws;	/* whitespace skipped */
	int			 odd;	/* a number jansson cannot load */
};

/* Working state of one rec_validate call. */
struct vctx {
	const struct scrub_ctx	*sc;
	struct rec_result	*res;
	struct buf		 dec;	/* decoded string */
	struct buf		 scr;	/* scrubbed string */
	struct buf		 tmp;	/* a cut string, scrubbed again */
	struct buf		 rep;	/* replacement JSON texts */
	int			 rewrite;
};

/* Stable code string for an error. */
const char *
rec_code(enum rec_err e)
{
	if ((unsigned)e >= REC_NERR)
		return "internal";
	return rec_codes[e];
}

/* ---- JSON scanning ---- */

static inline void
skip_ws(struct scan *s)
{
	if (s->p >= s->end || *s->p > ' ')
		return;
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' ||
	    *s->p == '\r' || *s->p == '\t')) {
		s->p++;
		s->ws = 1;
	}
}

/* Four hex digits at p (caller checked 4 bytes are there). */
static int
hex4(const unsigned char *p, unsigned *v)
{
	int	 i, h;

	*v = 0;
	for (i = 0; i < 4; i++) {
		if ((h = frame_hexval(p[i])) < 0)
			return -1;
		*v = (*v << 4) | (unsigned)h;
	}
	return 0;
}

#define ONES	UINT64_C(0x0101010101010101)
#define HIGHS	UINT64_C(0x8080808080808080)

/* Non-zero when some byte of w is zero (exact as a yes/no test). */
static inline uint64_t
has_zero(uint64_t w)
{
	return (w - ONES) & ~w & HIGHS;
}

/*
 * First byte in [p, end) that is '"', '\\' or a control byte, or end.
 * Eight bytes at a time while possible (SWAR), then bytewise.
 */
static inline const unsigned char *
str_plain(const unsigned char *p, const unsigned char *end)
{
	uint64_t	 w, m;

	while (end - p >= 8) {
		memcpy(&w, p, 8);
		m = has_zero(w ^ (ONES * '"')) | has_zero(w ^ (ONES * '\\')) |
		    ((w - ONES * 0x20) & ~w & HIGHS);
		if (m != 0) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			/* the lowest flag is exact (borrows only go up) */
			return p + (__builtin_ctzll(m) >> 3);
#else
			break;
#endif
		}
		p += 8;
	}
	while (p < end && *p != '"' && *p != '\\' && *p >= 0x20)
		p++;
	return p;
}

/*
 * Scan a string at s->p (a '"'). Refuses raw control bytes, bad escapes
 * and lone surrogates. *fl gets SF_ESC when the string has escapes and
 * SF_NUL when one of them is \u0000.
 */
static inline __attribute__((always_inline)) int
scan_string(struct scan *s, int *fl)
{
	const unsigned char	*p = s->p + 1, *end = s->end;
	unsigned		 cp, lo;

	*fl = 0;
	for (;;) {
		p = str_plain(p, end);
		if (p >= end || *p < 0x20)
			return -1;
		if (*p == '"')
			break;
		*fl |= SF_ESC;
		if (end - p < 2)
			return -1;
		switch (p[1]) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n':
		case 'r': case 't':
			p += 2;
			break;
		case 'u':
			if (end - p < 6 || hex4(p + 2, &cp) == -1 ||
			    (cp >= 0xdc00 && cp <= 0xdfff))
				return -1;
			if (cp == 0)
				*fl |= SF_NUL;
			p += 6;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (end - p < 6 || p[0] != '\\' ||
				    p[1] != 'u' || hex4(p + 2, &lo) == -1 ||
				    lo < 0xdc00 || lo > 0xdfff)
					return -1;
				p += 6;
			}
			break;
		default:
			return -1;
		}
	}
	s->p = p + 1;
	return 0;
}

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* Decimal digits of 2^1024 - 2^970: reals from here on overflow a double. */
static const char dbl_limit[] =
    "1797693134862315807937289714053034150799341327100378269361737789"
    "8044496829276475094664901797758720709633028641669288791094655554"
    "7851940402630657488671505820681908902000708383676273854845817711"
    "5317644757302700698555713669596228429148198608349364752927190741"
    "68444365510704342711559699508093042880177904174497792";

/* Digit i of the digits int[0..il) followed by frac[...]. */
#define DIGIT(i)	((i) < il ? ip[i] : fp[(i) - il])

/*
 * Does the real number token p[0..n) (valid grammar) overflow a double
 * when correctly rounded, as strtod (and so jansson) would find?
 */
static int
real_overflows(const unsigned char *p, size_t n)
{
	const unsigned char	*e = p + n, *ip, *fp = p;
	size_t			 il, fl = 0, z, k;
	int64_t			 exp = 0, mag;
	int			 eneg = 0;
	unsigned char		 c;

	if (*p == '-')
		p++;
	for (ip = p; p < e && is_digit(*p); p++)
		;
	il = (size_t)(p - ip);
	if (p < e && *p == '.') {
		for (fp = ++p; p < e && is_digit(*p); p++)
			;
		fl = (size_t)(p - fp);
	}
	if (p < e) {	/* e/E */
		if (*++p == '+' || *p == '-')
			eneg = *p++ == '-';
		for (; p < e; p++) {
			if (exp < INT64_C(1000000000000))
				exp = exp * 10 + (*p - '0');
		}
	}
	for (z = 0; z < il + fl && DIGIT(z) == '0'; z++)
		;
	if (z == il + fl)
		return 0;	/* zero */
	mag = (int64_t)il - 1 - (int64_t)z + (eneg ? -exp : exp);
	if (mag != 308)
		return mag > 308;
	for (k = 0; k < sizeof dbl_limit - 1; k++) {
		c = z + k < il + fl ? DIGIT(z + k) : '0';
		if (c != (unsigned char)dbl_limit[k])
			return c > (unsigned char)dbl_limit[k];
	}
	return 1;	/* the midpoint itself rounds up (ties to even) */
}
#undef DIGIT

/* Does the integer with digits p[0..n) (sign given apart) fit int64? */
static int
int64_fits(const unsigned char *p, size_t n, int neg)
{
	if (n != 19)
		return n < 19;
	return memcmp(p, neg ? "9223372036854775808" : "9223372036854775807",
	    19) <= 0;
}

/*
 * Scan a number (RFC 8259 grammar); *isint when no fraction/exponent.
 * Numbers jansson refuses (integers beyond int64, reals beyond double)
 * set s->odd; the caller decides.
 */
static int
scan_number(struct scan *s, int *isint)
{
	const unsigned char	*p = s->p, *end = s->end, *ip;
	int			 neg = 0, exp = 0;
	size_t			 il;

	*isint = 1;
	if (p < end && *p == '-') {
		neg = 1;
		p++;
	}
	if (p >= end)
		return -1;
	ip = p;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9') {
		while (p < end && is_digit(*p))
			p++;
	} else
		return -1;
	il = (size_t)(p - ip);
	if (p < end && *p == '.') {
		*isint = 0;
		p++;
		if (p >= end || !is_digit(*p))
			return -1;
		while (p < end && is_digit(*p))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		*isint = 0;
		exp = 1;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || !is_digit(*p))
			return -1;
		while (p < end && is_digit(*p))
			p++;
	}
	if (*isint) {
		if (il >= 19 && !int64_fits(ip, il, neg))
			s->odd = 1;
	} else if ((exp || il > 308) &&
	    real_overflows(s->p, (size_t)(p - s->p)))
		s->odd = 1;
	s->p = p;
	return 0;
}

static int
scan_literal(struct scan *s, const char *lit, size_t n)
{
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
		return -1;
	s->p += n;
	return 0;
}

/* A scalar value; its type in *t and VF_ESC in *fl. */
static inline __attribute__((always_inline)) int
scan_scalar(struct scan *s, unsigned char *t, unsigned char *fl)
{
	int	 sf, isint;

	if (s->p >= s->end)
		return -1;
	switch (*s->p) {
	case '"':
		if (scan_string(s, &sf) == -1)
			return -1;
		*t = JT_STR;
		if (sf & SF_ESC)
			*fl |= VF_ESC;
		if (sf & SF_NUL)
			*fl |= VF_NUL;
		return 0;
	case 't':
		*t = JT_TRUE;
		return scan_literal(s, "true", 4);
	case 'f':
		*t = JT_FALSE;
		return scan_literal(s, "false", 5);
	case 'n':
		*t = JT_NULL;
		return scan_literal(s, "null", 4);
	default:
		if (scan_number(s, &isint) == -1)
			return -1;
		*t = isint ? JT_INT : JT_NUM;
		return 0;
	}
}

/* A member key and its colon: "key" ws : ws. No NUL in keys (jansson). */
static int
scan_key(struct scan *s)
{
	int	 sf;

	if (s->p >= s->end || *s->p != '"' || scan_string(s, &sf) == -1 ||
	    (sf & SF_NUL))
		return -1;
	skip_ws(s);
	if (s->p >= s->end || *s->p != ':')
		return -1;
	s->p++;
	skip_ws(s);
	return 0;
}

/*
 * An object or array at s->p, iteratively. Like jansson, no value may sit
 * deeper than REC_MAX_DEPTH levels (the record itself is level 1).
 */
static int
scan_nested(struct scan *s)
{
	unsigned char	 isobj[REC_MAX_DEPTH / 8], t, fl, c, close;
	unsigned	 d = 0;	/* open containers */
	int		 after = 0;

#define OBJ(i)	(isobj[(i) / 8] & (1u << ((i) % 8)))
	for (;;) {
		if (!after) {
			if (s->p >= s->end || s->base + d + 1 > REC_MAX_DEPTH)
				return -1;
			c = *s->p;
			if (c == '{' || c == '[') {
				if (c == '{')
					isobj[d / 8] |= 1u << (d % 8);
				else
					isobj[d / 8] &= ~(1u << (d % 8));
				d++;
				s->p++;
				skip_ws(s);
				close = c == '{' ? '}' : ']';
				if (s->p < s->end && *s->p == close) {
					s->p++;
					d--;
					after = 1;
				} else if (c == '{' && scan_key(s) == -1)
					return -1;
				continue;
			}
			fl = 0;
			if (scan_scalar(s, &t, &fl) == -1)
				return -1;
			after = 1;
		}
		if (d == 0)
			return 0;
		skip_ws(s);
		if (s->p >= s->end)
			return -1;
		c = *s->p++;
		close = OBJ(d - 1) ? '}' : ']';
		if (c == ',') {
			skip_ws(s);
			if (OBJ(d - 1) && scan_key(s) == -1)
				return -1;
			after = 0;
		} else if (c == close)
			d--;
		else
			return -1;
	}
#undef OBJ
}

/* Any value; type in *t, VF_* flags in *fl. */
static inline __attribute__((always_inline)) int
scan_value(struct scan *s, unsigned char *t, unsigned char *fl)
{
	int	 saved;

	if (s->p >= s->end)
		return -1;
	if (*s->p == '{' || *s->p == '[') {
		*t = *s->p == '{' ? JT_OBJ : JT_ARR;
		saved = s->ws;
		s->ws = 0;
		if (scan_nested(s) == -1)
			return -1;
		if (s->ws)
			*fl |= VF_WS;
		s->ws |= saved;
		return 0;
	}
	return scan_scalar(s, t, fl);
}

static void
utf8_put(char **d, unsigned cp)
{
	unsigned char	*q = (unsigned char *)*d;

	if (cp < 0x80)
		*q++ = (unsigned char)cp;
	else if (cp < 0x800) {
		*q++ = (unsigned char)(0xc0 | (cp >> 6));
		*q++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*q++ = (unsigned char)(0xe0 | (cp >> 12));
		*q++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		*q++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else {
		*q++ = (unsigned char)(0xf0 | (cp >> 18));
		*q++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		*q++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		*q++ = (unsigned char)(0x80 | (cp & 0x3f));
	}
	*d = (char *)q;
}

/*
 * Decode the body of a string already checked by scan_string into dst
 * (room for n bytes: decoding never grows). Returns the decoded length.
 */
static size_t
json_unescape(const char *src, size_t n, char *dst)
{
	const unsigned char	*p = (const unsigned char *)src;
	const unsigned char	*end = p + n;
	char			*d = dst;
	unsigned		 cp, lo;

	while (p < end) {
		if (*p != '\\') {
			*d++ = (char)*p++;
			continue;
		}
		switch (p[1]) {
		case 'b': *d++ = '\b'; break;
		case 'f': *d++ = '\f'; break;
		case 'n': *d++ = '\n'; break;
		case 'r': *d++ = '\r'; break;
		case 't': *d++ = '\t'; break;
		case 'u':
			hex4(p + 2, &cp);
			if (cp >= 0xd800 && cp <= 0xdbff) {
				hex4(p + 8, &lo);
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
				p += 6;
			}
			utf8_put(&d, cp);
			p += 6;
			continue;
		default:	/* " \ / */
			*d++ = (char)p[1];
			break;
		}
		p += 2;
	}
	return (size_t)(d - dst);
}

/* ---- field names ---- */

/*
 * Map a decoded key to its field id (-1 if unknown): a switch on its first
 * byte, then the names of the list that start with it. Every case holds a
 * test for each entry of REC_FIELDS, but its name[0] == c0 part is a
 * constant inside "case c0" that the compiler folds, so only the two or
 * three names starting with that byte remain, each compared by length and
 * a memcmp of constant size: the code of a hand-written switch, without
 * one to keep in step with the list. A name starting with anything but a
 * lowercase letter is found by field_lookup_other.
 */
#define LOOKUP_TRY(id, name, def)					\
	if ((name)[0] == c0 && n == sizeof(name) - 1 &&			\
	    memcmp(k, name, sizeof(name) - 1) == 0)			\
		return F_##id;
#define LOOKUP_CASE(c)	case c: REC_FIELDS(LOOKUP_TRY) return -1;

/* The other names (none yet): the whole table. Kept off the hot path. */
static int __attribute__((noinline))
field_lookup_other(const char *k, size_t n)
{
	unsigned	id;

	for (id = 0; id < F_N; id++)
		if (n == fdefs[id].len && memcmp(k, fdefs[id].name, n) == 0)
			return (int)id;
	return -1;
}

static int
field_lookup(const char *k, size_t n)
{
	const char	c0 = k[0];

	if (n < 2)
		return -1;
	switch (c0) {
	LOOKUP_CASE('a') LOOKUP_CASE('b') LOOKUP_CASE('c') LOOKUP_CASE('d')
	LOOKUP_CASE('e') LOOKUP_CASE('f') LOOKUP_CASE('g') LOOKUP_CASE('h')
	LOOKUP_CASE('i') LOOKUP_CASE('j') LOOKUP_CASE('k') LOOKUP_CASE('l')
	LOOKUP_CASE('m') LOOKUP_CASE('n') LOOKUP_CASE('o') LOOKUP_CASE('p')
	LOOKUP_CASE('q') LOOKUP_CASE('r') LOOKUP_CASE('s') LOOKUP_CASE('t')
	LOOKUP_CASE('u') LOOKUP_CASE('v') LOOKUP_CASE('w') LOOKUP_CASE('x')
	LOOKUP_CASE('y') LOOKUP_CASE('z')
	}
	return field_lookup_other(k, n);
}
#undef LOOKUP_CASE
#undef LOOKUP_TRY

/* Field id of a raw key (decoding escapes when present). */
static int
key_lookup(const char *k, size_t n, int esc)
{
	char	 tmp[REC_KEY_DECODE];

	if (!esc)
		return field_lookup(k, n);
	if (n > sizeof tmp)
		return -1;
	return field_lookup(tmp, json_unescape(k, n, tmp));
}

static const struct evdef *
event_lookup(const char *id, size_t n)
{
	size_t	 i;

	for (i = 0; i < NEVENTS; i++) {
		if (n == evdefs[i].len && memcmp(id, evdefs[i].name, n) == 0)
			return &evdefs[i];
	}
	return NULL;
}

/* ---- the top-level scan ---- */

/* Remember member (key, value); detect duplicates (jansson: last wins). */
static void
scan_member(struct rscan *r, const char *key, size_t klen, int kesc,
    const char *val, size_t vlen, unsigned char t, unsigned char fl)
{
	struct rfield	*f;
	unsigned	 i;
	int		 id;

	id = key_lookup(key, klen, kesc);
	if (id >= 0) {
		if (r->seen & B(id)) {
			if (r->dup == NULL) {
				r->dup = key;
				r->duplen = klen;
			}
		}
		r->seen |= B(id);
		if (id == F_EVENT_ID) {		/* the last one wins */
			r->ev = val;
			r->evlen = vlen;
			r->evtype = t;
			r->evflags = fl;
		} else if (id == F_TS) {
			r->ts = val;
			r->tslen = vlen;
			r->tstype = t;
		}
	} else if (r->dup == NULL) {
		for (i = 0; i < r->nf; i++) {
			if (r->f[i].id < 0 && r->f[i].klen == klen &&
			    memcmp(r->f[i].key, key, klen) == 0) {
				r->dup = key;
				r->duplen = klen;
				break;
			}
		}
	}
	if (kesc)
		r->kesc = 1;
	r->ntotal++;
	if (r->nf >= REC_MAX_FIELDS)
		return;
	f = &r->f[r->nf++];
	f->key = key;
	f->klen = klen;
	f->val = val;
	f->vlen = vlen;
	f->rep_off = f->rep_len = 0;
	f->id = (signed char)id;
	f->type = t;
	f->flags = fl | (kesc ? VF_KESC : 0);
	f->drop = 0;
}

/* Scan the whole text: REC_OK, REC_E_JSON or REC_E_NOT_OBJECT. */
static enum rec_err
scan_record(const char *in, size_t len, struct rscan *r)
{
	struct scan		 s;
	const unsigned char	*key, *kend, *val;
	unsigned char		 t, fl, c;
	int			 sf;

	s.p = (const unsigned char *)in;
	s.end = s.p + len;
	s.base = 0;
	s.ws = s.odd = 0;
	r->odd = 0;
	r->nf = r->ntotal = 0;
	r->kesc = 0;
	r->seen = 0;
	r->dup = r->ev = r->ts = NULL;
	r->duplen = r->evlen = r->tslen = 0;
	r->evtype = r->evflags = r->tstype = 0;

	skip_ws(&s);
	if (s.p >= s.end)
		return REC_E_JSON;
	if (*s.p != '{') {
		fl = 0;
		if (scan_value(&s, &t, &fl) == -1)
			return REC_E_JSON;
		skip_ws(&s);
		return s.p == s.end ? REC_E_NOT_OBJECT : REC_E_JSON;
	}
	s.p++;
	s.base = 1;	/* field values sit inside the record */
	skip_ws(&s);
	if (s.p < s.end && *s.p == '}')
		s.p++;
	else {
		for (;;) {
			if (s.p >= s.end || *s.p != '"')
				return REC_E_JSON;
			key = s.p + 1;
			if (scan_string(&s, &sf) == -1 || (sf & SF_NUL))
				return REC_E_JSON;
			kend = s.p - 1;
			skip_ws(&s);
			if (s.p >= s.end || *s.p != ':')
				return REC_E_JSON;
			s.p++;
			skip_ws(&s);
			val = s.p;
			fl = 0;
			if (scan_value(&s, &t, &fl) == -1)
				return REC_E_JSON;
			scan_member(r, (const char *)key,
			    (size_t)(kend - key), sf & SF_ESC,
			    (const char *)val, (size_t)(s.p - val), t, fl);
			skip_ws(&s);
			if (s.p >= s.end)
				return REC_E_JSON;
			c = *s.p++;
			if (c == '}')
				break;
			if (c != ',')
				return REC_E_JSON;
			skip_ws(&s);
		}
	}
	skip_ws(&s);
	if (s.p != s.end)
		return REC_E_JSON;
	r->ws = s.ws;
	r->odd = s.odd;
	return REC_OK;
}

/* ---- helpers ---- */

/* UTF-8 check with a fast path for ASCII (8 bytes at a time). */
static int
text_utf8(const char *s, size_t n)
{
	size_t		 i = 0;
	uint64_t	 w, w2;

	while (i + 16 <= n) {
		memcpy(&w, s + i, 8);
		memcpy(&w2, s + i + 8, 8);
		if ((w | w2) & HIGHS)
			break;
		i += 16;
	}
	while (i + 8 <= n) {
		memcpy(&w, s + i, 8);
		if (w & HIGHS)
			break;
		i += 8;
	}
	while (i < n && (unsigned char)s[i] < 0x80)
		i++;
	return i == n || utf8_valid((const unsigned char *)s + i, n - i);
}

/* Longest prefix of s[0..n) of at most max bytes ending on a character. */
static size_t
cut_bytes(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

/* Length of the prefix of s[0..n) holding at most max scalar values. */
static size_t
cut_chars(const char *s, size_t n, size_t max)
{
	size_t	 i, c = 0;

	for (i = 0; i < n; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80 && c++ == max)
			return i;
	}
	return n;
}

/* Copy a prefix of s[0..n) that fits cap (with NUL), on a character. */
static void
copy_name(char *dst, size_t cap, const char *s, size_t n)
{
	n = cut_bytes(s, n, cap - 1);
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static enum rec_err
fail(struct rec_result *res, enum rec_err e, const char *name, size_t n)
{
	res->err = e;
	if (name != NULL)
		copy_name(res->field, sizeof res->field, name, n);
	return e;
}

static enum rec_err
fail_f(struct rec_result *res, enum rec_err e, const struct fdef *d)
{
	return fail(res, e, d->name, d->len);
}

/* The contents of string value val[0..vlen) (decoded into v->dec if needed). */
static int
str_get(struct vctx *v, const char *val, size_t vlen, int esc,
    const char **p, size_t *n)
{
	if (!esc) {
		*p = val + 1;
		*n = vlen - 2;
		return 0;
	}
	v->dec.len = 0;
	if (buf_reserve(&v->dec, vlen) == -1)
		return -1;
	*n = json_unescape(val + 1, vlen - 2, v->dec.data);
	v->dec.len = *n;
	*p = v->dec.data;
	return 0;
}

/* Unsigned decimal integer in p[0..n) (no sign); -1 on overflow. */
static int
parse_u64(const char *p, size_t n, uint64_t *v)
{
	uint64_t	 x = 0;
	unsigned	 dg;
	size_t		 i;

	if (n < 20) {	/* 19 digits cannot overflow */
		for (i = 0; i < n; i++)
			x = x * 10 + (unsigned)(p[i] - '0');
		*v = x;
		return 0;
	}
	for (i = 0; i < n; i++) {
		dg = (unsigned)(p[i] - '0');
		if (x > (UINT64_MAX - dg) / 10)
			return -1;
		x = x * 10 + dg;
	}
	*v = x;
	return 0;
}

/* Integer kinds: range check of a JT_INT value. */
static enum rec_err
check_int(const char *p, size_t n, int kind)
{
	uint64_t	 x;
	int		 neg = 0;

	if (n > 0 && p[0] == '-') {
		neg = 1;
		p++;
		n--;
	}
	if (parse_u64(p, n, &x) == -1)
		return REC_E_VALUE;
	switch (kind) {
	case REC_K_U32:
		return !neg && x <= UINT32_MAX ? REC_OK : REC_E_VALUE;
	case REC_K_U64:	/* jansson (queue recovery) stops at int64 */
		return !neg && x <= INT64_MAX ? REC_OK : REC_E_VALUE;
	case REC_K_SCHEMA:
		return !neg && x == 1 ? REC_OK : REC_E_VALUE;
	default:	/* REC_K_I64 */
		if (neg)
			return x <= (uint64_t)INT64_MAX + 1 ? REC_OK :
			    REC_E_VALUE;
		return x <= (uint64_t)INT64_MAX ? REC_OK : REC_E_VALUE;
	}
}

/* 8 bytes of lowercase hex digits? (SWAR: '0'-'9' or 'a'-'f') */
static int
hex8_ok(const char *p)
{
	uint64_t	 w, dig, alp;

	memcpy(&w, p, 8);
	if (w & HIGHS)
		return 0;
	/* high bit of each byte set when the byte is in the range */
	dig = (w + ONES * (0x80 - '0')) & ~(w + ONES * (0x80 - '9' - 1));
	alp = (w + ONES * (0x80 - 'a')) & ~(w + ONES * (0x80 - 'f' - 1));
	return ((dig | alp) & HIGHS) == HIGHS;
}

static int
uuid_ok(const char *p, size_t n)
{
	char	 t[8];

	if (n != 36 || p[8] != '-' || p[13] != '-' || p[18] != '-' ||
	    p[23] != '-')
		return 0;
	memcpy(t, p + 9, 4);
	memcpy(t + 4, p + 14, 4);
	if (!hex8_ok(t))
		return 0;
	memcpy(t, p + 19, 4);
	memcpy(t + 4, p + 24, 4);
	return hex8_ok(p) && hex8_ok(t) && hex8_ok(p + 28);
}

static int
enum_ok(const char *const *e, const char *p, size_t n)
{
	for (; *e != NULL; e++) {
		if (strlen(*e) == n && memcmp(*e, p, n) == 0)
			return 1;
	}
	return 0;
}

/*
 * Scrub and bound the free text p[0..n) of a field with definition d.
 * When anything changed, the new JSON string literal is appended to
 * v->rep and *changed is set.
 */
static enum rec_err
text_fix(struct vctx *v, const struct fdef *d, const char *p, size_t n,
    int *changed)
{
	size_t	 m;
	int	 k;

	*changed = 0;
	if (d->flags & FD_SCRUB) {
		v->scr.len = 0;
		if (scrub_text(p, n, v->sc, &v->scr, v->res->redactions) == -1)
			return REC_E_NOMEM;
		if (v->scr.len != n || memcmp(v->scr.data, p, n) != 0) {
			p = v->scr.data;
			n = v->scr.len;
			*changed = 1;
		}
	}
	m = (d->flags & FD_CHARS) ? cut_chars(p, n, d->max) :
	    cut_bytes(p, n, d->max);
	/* cut between tokens, and so that the cut text is a fixed point */
	for (k = 0; m < n && (d->flags & FD_SCRUB) && k < 3; k++) {
		m = scrub_cut(p, n, m);
		v->tmp.len = 0;
		if (scrub_text(p, m, v->sc, &v->tmp, NULL) == -1)
			return REC_E_NOMEM;
		if (v->tmp.len == m && memcmp(v->tmp.data, p, m) == 0)
			break;
		/* the cut changed how its end reads: take that, cut again */
		v->scr.len = 0;
		if (buf_add(&v->scr, v->tmp.data, v->tmp.len) == -1)
			return REC_E_NOMEM;
		p = v->scr.data;
		n = v->scr.len;
		m = (d->flags & FD_CHARS) ? cut_chars(p, n, d->max) :
		    cut_bytes(p, n, d->max);
		*changed = 1;
	}
	if (m < n) {
		n = m;
		*changed = 1;
	}
	if (*changed && buf_json_str(&v->rep, p, n) == -1)
		return REC_E_NOMEM;
	return REC_OK;
}

/*
 * A structured string p[0..n) outside its shape: the replacement (a
 * constant, or the public host in a provider_host URL) is stored instead.
 */
static enum rec_err
shape_check(struct vctx *v, struct rfield *f, const struct fdef *d,
    const char *p, size_t n)
{
	const char	*r;
	size_t		 rn, off = v->rep.len;

	if (!shape_fix((enum shape)d->shape, p, n, &r, &rn))
		return REC_OK;
	if (buf_json_str(&v->rep, r, rn) == -1)
		return REC_E_NOMEM;
	f->rep_off = off;
	f->rep_len = v->rep.len - off;
	v->rewrite = 1;
	v->res->redactions[d->shape == SH_PHOST && r[0] != '<' ?
	    SCRUB_URL : SCRUB_CUSTOM]++;
	return REC_OK;
}

/* A string field of kind REC_K_STR. */
static enum rec_err
check_str(struct vctx *v, struct rfield *f, const struct fdef *d)
{
	const char	*p;
	size_t		 n, off;
	int		 changed;
	enum rec_err	 e;

	if (f->flags & VF_NUL)		/* C strings downstream: refuse */
		return fail_f(v->res, REC_E_VALUE, d);
	if (str_get(v, f->val, f->vlen, f->flags & VF_ESC, &p, &n) == -1)
		return REC_E_NOMEM;
	if (n > d->max && !(d->flags & FD_TRUNC))
		return fail_f(v->res, REC_E_TOO_LONG, d);
	if (d->shape != SH_NONE)
		return shape_check(v, f, d, p, n);
	if (!(d->flags & (FD_SCRUB | FD_TRUNC)))
		return REC_OK;
	off = v->rep.len;
	if ((e = text_fix(v, d, p, n, &changed)) != REC_OK)
		return e;
	if (changed) {
		f->rep_off = off;
		f->rep_len = v->rep.len - off;
		v->rewrite = 1;
	}
	return REC_OK;
}

/* backtrace_top_5: at most REC_BT_MAX strings, each scrubbed and bounded. */
static enum rec_err
check_strarr(struct vctx *v, struct rfield *f, const struct fdef *d)
{
	struct scan	 s;
	const char	*p, *elem;
	size_t		 n, off, count = 0;
	int		 sf, changed, any = 0;
	enum rec_err	 e;

	s.p = (const unsigned char *)f->val + 1;
	s.end = (const unsigned char *)f->val + f->vlen;
	s.base = 2;
	s.ws = s.odd = 0;
	off = v->rep.len;
	if (buf_putc(&v->rep, '[') == -1)
		return REC_E_NOMEM;
	skip_ws(&s);
	while (*s.p != ']') {
		if (*s.p != '"')
			return fail_f(v->res, REC_E_TYPE, d);
		if (++count > REC_BT_MAX)
			return fail_f(v->res, REC_E_TOO_LONG, d);
		elem = (const char *)s.p;
		(void)scan_string(&s, &sf);	/* checked by scan_record */
		if (sf & SF_NUL)
			return fail_f(v->res, REC_E_VALUE, d);
		if (str_get(v, elem, (size_t)((const char *)s.p - elem),
		    sf & SF_ESC, &p, &n) == -1)
			return REC_E_NOMEM;
		if (count > 1 && buf_putc(&v->rep, ',') == -1)
			return REC_E_NOMEM;
		if ((e = text_fix(v, d, p, n, &changed)) != REC_OK)
			return e;
		if (changed)
			any = 1;
		else if (buf_add(&v->rep, elem,
		    (size_t)((const char *)s.p - elem)) == -1)
			return REC_E_NOMEM;
		skip_ws(&s);
		if (*s.p == ',') {
			s.p++;
			skip_ws(&s);
		}
	}
	if (buf_putc(&v->rep, ']') == -1)
		return REC_E_NOMEM;
	if (any || (f->flags & VF_WS)) {
		f->rep_off = off;
		f->rep_len = v->rep.len - off;
		v->rewrite |= any;
	} else
		v->rep.len = off;
	return REC_OK;
}

/* repo_origin: exactly {"host": enum, "has_git": bool}, any order. */
static enum rec_err
check_repo(struct vctx *v, struct rfield *f, const struct fdef *d)
{
	struct scan	 s;
	const char	*k, *val, *p;
	size_t		 kn, n;
	unsigned char	 t = JT_NULL, fl;
	int		 sf, have_host = 0, have_git = 0;

	s.p = (const unsigned char *)f->val + 1;
	s.end = (const unsigned char *)f->val + f->vlen;
	s.base = 2;
	s.ws = s.odd = 0;
	skip_ws(&s);
	while (*s.p != '}') {
		k = (const char *)s.p;
		(void)scan_string(&s, &sf);	/* checked by scan_record */
		kn = (size_t)((const char *)s.p - k);
		if (str_get(v, k, kn, sf & SF_ESC, &p, &n) == -1)
			return REC_E_NOMEM;
		skip_ws(&s);
		s.p++;	/* ':' */
		skip_ws(&s);
		val = (const char *)s.p;
		fl = 0;
		(void)scan_value(&s, &t, &fl);
		if (n == 4 && memcmp(p, "host", 4) == 0) {
			if (have_host++)
				return fail_f(v->res, REC_E_DUPLICATE, d);
			if (t != JT_STR)
				return fail_f(v->res, REC_E_TYPE, d);
			if (str_get(v, val, (size_t)((const char *)s.p - val),
			    fl & VF_ESC, &p, &n) == -1)
				return REC_E_NOMEM;
			if (!enum_ok(host_enum, p, n))
				return fail_f(v->res, REC_E_VALUE, d);
		} else if (n == 7 && memcmp(p, "has_git", 7) == 0) {
			if (have_git++)
				return fail_f(v->res, REC_E_DUPLICATE, d);
			if (t != JT_TRUE && t != JT_FALSE)
				return fail_f(v->res, REC_E_TYPE, d);
		} else
			return fail_f(v->res, REC_E_VALUE, d);
		skip_ws(&s);
		if (*s.p == ',') {
			s.p++;
			skip_ws(&s);
		}
	}
	if (!have_host || !have_git)
		return fail_f(v->res, REC_E_MISSING, d);
	return REC_OK;	/* VF_WS: emit_rebuilt copies it compactly */
}

/* Check one known field against its definition. */
static enum rec_err
check_field(struct vctx *v, struct rfield *f, const struct fdef *d)
{
	const char	*p;
	size_t		 n, i;
	enum rec_err	 e;

	switch (d->kind) {
	case REC_K_STR:
		if (f->type != JT_STR)
			return fail_f(v->res, REC_E_TYPE, d);
		return check_str(v, f, d);
	case REC_K_UUID:
	case REC_K_ENUM:
	case REC_K_IDENT:
		if (f->type != JT_STR)
			return fail_f(v->res, REC_E_TYPE, d);
		if (str_get(v, f->val, f->vlen, f->flags & VF_ESC, &p,
		    &n) == -1)
			return REC_E_NOMEM;
		if (d->kind == REC_K_UUID)
			return uuid_ok(p, n) ? REC_OK :
			    fail_f(v->res, REC_E_VALUE, d);
		if (d->kind == REC_K_ENUM)
			return enum_ok(d->enumv, p, n) ? REC_OK :
			    fail_f(v->res, REC_E_VALUE, d);
		if (n > d->max)
			return fail_f(v->res, REC_E_TOO_LONG, d);
		if (n == 0)
			return fail_f(v->res, REC_E_VALUE, d);
		for (i = 0; i < n; i++) {
			if (!(p[i] >= 'a' && p[i] <= 'z') &&
			    !is_digit((unsigned char)p[i]) && p[i] != '_')
				return fail_f(v->res, REC_E_VALUE, d);
		}
		return shape_check(v, f, d, p, n);
	case REC_K_U32:
	case REC_K_U64:
	case REC_K_I64:
	case REC_K_SCHEMA:
		if (f->type != JT_INT)
			return fail_f(v->res, REC_E_TYPE, d);
		if ((e = check_int(f->val, f->vlen, d->kind)) != REC_OK)
			return fail_f(v->res, e, d);
		return REC_OK;
	case REC_K_BOOL:
		if (f->type != JT_TRUE && f->type != JT_FALSE)
			return fail_f(v->res, REC_E_TYPE, d);
		return REC_OK;
	case REC_K_REPO:
		if (f->type != JT_OBJ)
			return fail_f(v->res, REC_E_TYPE, d);
		return check_repo(v, f, d);
	case REC_K_STRARR:
		if (f->type != JT_ARR)
			return fail_f(v->res, REC_E_TYPE, d);
		return check_strarr(v, f, d);
	}
	return fail_f(v->res, REC_E_NOMEM, d);
}

/* Append p[0..n) (well-formed JSON) without whitespace outside strings. */
static int
copy_compact(struct buf *out, const char *p, size_t n)
{
	size_t	 i, run = 0;
	int	 in_str = 0;

	for (i = 0; i < n; i++) {
		if (in_str) {
			if (p[i] == '\\')
				i++;
			else if (p[i] == '"')
				in_str = 0;
			continue;
		}
		if (p[i] == '"')
			in_str = 1;
		else if (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' ||
		    p[i] == '\t') {
			if (buf_add(out, p + run, i - run) == -1)
				return -1;
			run = i + 1;
		}
	}
	return buf_add(out, p + run, n - run);
}

/* Rebuild the record from the kept fields into out. */
static int
emit_rebuilt(struct vctx *v, struct rscan *r, struct buf *out)
{
	struct rfield	*f;
	unsigned	 i;
	int		 first = 1;

	if (buf_putc(out, '{') == -1)
		return -1;
	for (i = 0; i < r->nf; i++) {
		f = &r->f[i];
		if (f->drop)
			continue;
		if (!first && buf_putc(out, ',') == -1)
			return -1;
		first = 0;
		if (buf_putc(out, '"') == -1 ||
		    buf_add(out, fdefs[f->id].name, fdefs[f->id].len) == -1 ||
		    buf_add(out, "\":", 2) == -1)
			return -1;
		if (f->rep_len > 0) {
			if (buf_add(out, v->rep.data + f->rep_off,
			    f->rep_len) == -1)
				return -1;
		} else if (f->flags & VF_WS) {
			if (copy_compact(out, f->val, f->vlen) == -1)
				return -1;
		} else if (buf_add(out, f->val, f->vlen) == -1)
			return -1;
	}
	return buf_add(out, "}\n", 2);
}

/* Validate every field of a scanned record (event known). */
static enum rec_err
check_record(struct vctx *v, struct rscan *r, const struct evdef *ev)
{
	const struct fdef	*d;
	struct rfield		*f;
	struct rec_result	*res = v->res;
	uint64_t		 allow, miss;
	unsigned		 i;
	enum rec_err		 e;

	allow = ENV_ALLOW | ev->allow;
	miss = (ENV_REQ | ev->req) & ~(r->seen & allow);
	if (miss != 0) {
		for (i = 0; !(miss & B(i)); i++)
			;
		return fail_f(res, REC_E_MISSING, &fdefs[i]);
	}
	for (i = 0; i < r->nf; i++) {
		f = &r->f[i];
		if (f->id < 0 || !(allow & B(f->id))) {
			f->drop = 1;
			if (res->ndropped < REC_MAX_DROPPED) {
				res->dropped[res->ndropped] = f->key;
				res->dropped_len[res->ndropped] = f->klen;
			}
			res->ndropped++;
			v->rewrite = 1;
			continue;
		}
		if (f->id == F_EVENT_ID)
			continue;	/* checked by the caller */
		d = f->id == ev->ov_id ? ev->ov : &fdefs[f->id];
		if ((e = check_field(v, f, d)) != REC_OK)
			return e;
	}
	return REC_OK;
}

/* Validate, scrub and canonicalise one record (see record.h). */
enum rec_err
rec_validate(const char *in, size_t len, const struct scrub_ctx *sc,
    struct buf *out, struct rec_result *res)
{
	struct rec_result	 lres;
	struct rscan		 r;
	struct vctx		 v;
	const struct evdef	*ev;
	const char		*p;
	size_t			 n, start = out->len;
	enum rec_err		 e;

	if (res == NULL)
		res = &lres;
	memset(res, 0, sizeof *res);
	if (len == 0)
		return fail(res, REC_E_JSON, NULL, 0);
	if (!text_utf8(in, len))
		return fail(res, REC_E_UTF8, NULL, 0);
	if ((e = scan_record(in, len, &r)) != REC_OK)
		return fail(res, e, NULL, 0);
	if (r.ntotal > REC_MAX_FIELDS)
		return fail(res, REC_E_TOO_MANY, NULL, 0);
	if (r.dup != NULL)
		return fail(res, REC_E_DUPLICATE, r.dup, r.duplen);

	memset(&v, 0, sizeof v);
	v.sc = sc;
	v.res = res;
	if (r.ev == NULL || r.evtype != JT_STR)
		return fail(res, REC_E_NO_EVENT_ID, NULL, 0);
	if (str_get(&v, r.ev, r.evlen, r.evflags & VF_ESC, &p, &n) == -1) {
		e = fail(res, REC_E_NOMEM, NULL, 0);
		goto done;
	}
	copy_name(res->event_id, sizeof res->event_id, p, n);
	if ((ev = event_lookup(p, n)) == NULL) {
		e = fail(res, REC_E_UNKNOWN_EVENT, "event_id", 8);
		goto done;
	}
	if ((e = check_record(&v, &r, ev)) != REC_OK) {
		if (e == REC_E_NOMEM)
			fail(res, e, NULL, 0);
		goto done;
	}
	if (!v.rewrite && !r.ws && !r.kesc) {
		if (buf_reserve(out, len + 1) == -1) {
			e = fail(res, REC_E_NOMEM, NULL, 0);
			goto done;
		}
		memcpy(out->data + out->len, in, len);
		out->len += len;
		out->data[out->len++] = '\n';
		out->data[out->len] = '\0';
	} else {
		if (buf_reserve(out, len + v.rep.len + 2) == -1 ||
		    emit_rebuilt(&v, &r, out) == -1) {
			out->len = start;
			if (out->data != NULL)
				out->data[start] = '\0';
			e = fail(res, REC_E_NOMEM, NULL, 0);
			goto done;
		}
		res->rewritten = 1;
	}
done:
	if (e != REC_OK)
		memset(res->redactions, 0, sizeof res->redactions);
	buf_free(&v.dec);
	buf_free(&v.scr);
	buf_free(&v.tmp);
	buf_free(&v.rep);
	return e;
}

/* 1 if id is one of the 11 known event ids. */
int
rec_known_event(const char *id, size_t len)
{
	return event_lookup(id, len) != NULL;
}

/*
 * Recovery check of a stored line, agreeing with queue recovery (jansson,
 * JSON_ALLOW_NUL): an object with a string event_id and an integer ts.
 */
int
rec_line_ok(const char *line, size_t len)
{
	struct rscan	 r;

	if (len == 0 || !text_utf8(line, len) ||
	    scan_record(line, len, &r) != REC_OK)
		return 0;
	if (r.ev == NULL || r.evtype != JT_STR)
		return 0;
	if (r.ts == NULL || r.tstype != JT_INT)
		return 0;
	return !r.odd;	/* also covers ts beyond int64 */
}

/* ---- schema access (rec_event_*, rec_envelope_field) ---- */

static void
field_pub(const struct fdef *d, int required, struct rec_field *f)
{
	f->name = d->name;
	f->kind = (enum rec_kind)d->kind;
	f->flags = (d->flags & FD_SCRUB ? REC_FD_SCRUB : 0) |
	    (d->flags & FD_TRUNC ? REC_FD_TRUNC : 0) |
	    (d->flags & FD_CHARS ? REC_FD_CHARS : 0) |
	    (d->shape != SH_NONE ? REC_FD_SHAPE : 0);
	f->max = d->max;
	f->enumv = d->enumv;
	if (d->kind == REC_K_REPO)
		f->enumv = host_enum;
	f->required = required;
}

/* Number of events. */
unsigned
rec_event_count(void)
{
	return NEVENTS;
}

/* Name of event i. */
const char *
rec_event_name(unsigned i)
{
	return i < NEVENTS ? evdefs[i].name : NULL;
}

/* Index of an event id. */
int
rec_event_index(const char *id, size_t len)
{
	const struct evdef	*e = event_lookup(id, len);

	return e == NULL ? -1 : (int)(e - evdefs);
}

/* The definition of field id in event e (its override applied). */
static const struct fdef *
ev_fdef(const struct evdef *e, int id)
{
	return e->ov != NULL && e->ov_id == id ? e->ov : &fdefs[id];
}

/* The k-th payload field of event ev. */
int
rec_event_field(unsigned ev, unsigned k, struct rec_field *f)
{
	const struct evdef	*e;
	int			 id;

	if (ev >= NEVENTS)
		return 0;
	e = &evdefs[ev];
	for (id = 0; id < F_N; id++) {
		if (!(e->allow & B(id)) || k-- > 0)
			continue;
		field_pub(ev_fdef(e, id), (e->req & B(id)) != 0, f);
		return 1;
	}
	return 0;
}

/* Payload field name of event ev. */
int
rec_event_find(unsigned ev, const char *name, size_t len, struct rec_field *f)
{
	int	id;

	if (ev >= NEVENTS || (id = field_lookup(name, len)) < 0 ||
	    !(evdefs[ev].allow & B(id)))
		return 0;
	field_pub(ev_fdef(&evdefs[ev], id), (evdefs[ev].req & B(id)) != 0, f);
	return 1;
}

/* The k-th envelope field. */
int
rec_envelope_field(unsigned k, struct rec_field *f)
{
	int	id;

	for (id = 0; id < F_N; id++) {
		if (!(ENV_ALLOW & B(id)) || k-- > 0)
			continue;
		field_pub(&fdefs[id], (ENV_REQ & B(id)) != 0, f);
		return 1;
	}
	return 0;
}

/* How the man page names a kind. */
const char *
rec_kind_name(enum rec_kind k)
{
	static const char *const names[] = {
		[REC_K_STR] = "string", [REC_K_UUID] = "uuid",
		[REC_K_U32] = "u32", [REC_K_U64] = "u64", [REC_K_I64] = "i64",
		[REC_K_SCHEMA] = "integer 1", [REC_K_BOOL] = "bool",
		[REC_K_ENUM] = "enum", [REC_K_IDENT] = "identifier",
		[REC_K_REPO] = "object", [REC_K_STRARR] = "array of strings",
	};

	return (unsigned)k < sizeof names / sizeof names[0] ? names[k] :
	    "string";
}

_Static_assert(REC_BT_ENTRIES == REC_BT_MAX, "REC_BT_ENTRIES");
