/*
 * fuzz_scrub — libFuzzer target for the firewall's tokenizer
 * (proto/scrub.c). The first input byte picks a context (a credential key,
 * a path, a URL host, a user name, a git remote, an ANSI code, a JSON
 * string, ...), the second where in the rest of the input to plant it, and
 * the context holds a canary: a token no rule may keep. Properties:
 *
 *   - the canary never appears in the output (the firewall fails closed
 *     whatever surrounds it, invalid UTF-8 included);
 *   - the output is valid UTF-8, also for invalid input;
 *   - the output is a fixed point: reducing it again changes nothing;
 *   - the count of each kind is the number of placeholders of that kind
 *     written (exactly, when the input holds none already);
 *   - a cut by scrub_cut at any length is a fixed point too.
 *
 * Must never write files or keep state between runs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "frame.h"
#include "fuzz_common.h"
#include "scrub.h"

#define CANARY	"Zq7VxKc9"

static const struct scrub_ctx	ctx = { "/home/alice", "/home/alice/proj" };

/* Contexts for the canary ("%s"). */
static const char *const ctxs[] = {
	"%s", "password=%s", "\"token\": \"%s\"", "user \"%s\"",
	"/home/alice/%s/x", "~/%s", "https://%s.corp/x",
	"https://u:%s@github.com/", "%s@example.com", "-p %s",
	"--password %s", "<password>%s</password>", "ghp_%s", "~%s/x",
	"C:\\Users\\%s\\x", "git@github.com:%s/repo.git", "%%22%s%%22",
	"\033[31m%s\033[0m", "Bob %s <b@x.io>", "std::%s::x", "v1.2.3-%s",
	"\xe5\xaf\x86\xe7\xa0\x81\xef\xbc\x9a%s", "*:*:*:*:%s",
	"-----BEGIN KEY-----\n%s", "{\\\"k\\\":\\\"%s\\\"}", "key=%s&x=1",
	"DOMAIN\\%s", "%s.internal:5432", "<URL:%s>", "<custom:%s>",
	"Authorization: Bearer %s", "don't %s's", "/proj/%s", "%s:42:9",
	"-I%s", "-L%s", "@%s", ":_authToken=%s", "%s\xff", "\xc3%s",
	"1234 %s 5678", "java.lang.%s", "%s-ledger", "%s_prod",
};

static void
count(const char *s, size_t n, unsigned c[SCRUB_NKINDS])
{
	size_t	 i, l;
	int	 k;

	memset(c, 0, sizeof c[0] * SCRUB_NKINDS);
	for (i = 0; i < n; i++) {
		if (s[i] == '<' && (k = scrub_placeholder_at(s + i, n - i,
		    &l)) >= 0) {
			c[k]++;
			i += l - 1;
		}
	}
}

/* Is needle in h[0..n) (case-insensitively)? */
static int
contains(const char *h, size_t n, const char *needle)
{
	size_t	 l = strlen(needle), i, k;

	for (i = 0; i + l <= n; i++) {
		for (k = 0; k < l; k++) {
			unsigned char a = (unsigned char)h[i + k];
			unsigned char b = (unsigned char)needle[k];

			if (a >= 'A' && a <= 'Z')
				a += 'a' - 'A';
			if (b >= 'A' && b <= 'Z')
				b += 'a' - 'A';
			if (a != b)
				break;
		}
		if (k == l)
			return 1;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf	 in = { NULL, 0, 0 }, out = { NULL, 0, 0 };
	struct buf	 again = { NULL, 0, 0 };
	unsigned	 c[SCRUB_NKINDS], ci[SCRUB_NKINDS], co[SCRUB_NKINDS];
	unsigned	 sum = 0, k;
	const char	*t, *p;
	size_t		 pos, n, cut;
	int		 r;

	if (size < 2)
		return 0;
	t = ctxs[data[0] % (sizeof ctxs / sizeof ctxs[0])];
	n = size - 2;
	pos = n * data[1] / 256;
	FUZZ_CHECK(buf_add(&in, data + 2, pos) == 0, "out of memory");
	for (p = t; *p != '\0'; p++) {	/* the context, %s = canary */
		if (p[0] == '%' && p[1] == 's') {
			FUZZ_CHECK(buf_puts(&in, CANARY) == 0, "out of memory");
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			FUZZ_CHECK(buf_putc(&in, '%') == 0, "out of memory");
			p++;
		} else
			FUZZ_CHECK(buf_putc(&in, *p) == 0, "out of memory");
	}
	FUZZ_CHECK(buf_add(&in, data + 2 + pos, n - pos) == 0,
	    "out of memory");

	memset(c, 0, sizeof c);
	r = scrub_text(in.data, in.len, &ctx, &out, c);
	FUZZ_CHECK(r >= 0, "scrub_text failed");
	FUZZ_CHECK(!contains(out.data, out.len, CANARY),
	    "canary kept:\n  in: %.*s\n out: %.*s", (int)in.len, in.data,
	    (int)out.len, out.data);
	FUZZ_CHECK(utf8_valid((const unsigned char *)out.data, out.len),
	    "invalid UTF-8 out: %.*s", (int)out.len, out.data);

	/* placeholders already in the text stay, unless a value they sit
	 * in (after a credential key) becomes one placeholder */
	count(in.data, in.len, ci);
	count(out.data, out.len, co);
	for (k = 0; k < SCRUB_NKINDS; k++) {
		FUZZ_CHECK(c[k] + ci[k] >= co[k], "%s: counted %u, in %u, out"
		    " %u:\n  in: %.*s\n out: %.*s", scrub_kind_names[k], c[k],
		    ci[k], co[k], (int)in.len, in.data, (int)out.len,
		    out.data);
		if (memchr(in.data, '<', in.len) == NULL)
			FUZZ_CHECK(c[k] == co[k], "%s: counted %u, written %u:"
			    "\n  in: %.*s\n out: %.*s", scrub_kind_names[k],
			    c[k], co[k], (int)in.len, in.data, (int)out.len,
			    out.data);
		sum += c[k];
	}
	FUZZ_CHECK((unsigned)r == sum, "returned %d, counts sum to %u", r,
	    sum);

	r = scrub_text(out.data, out.len, &ctx, &again, NULL);
	FUZZ_CHECK(r == 0 && again.len == out.len && fuzz_memeq(again.data,
	    out.data, out.len), "not idempotent:\n  in: %.*s\n 1st: %.*s\n"
	    " 2nd: %.*s", (int)in.len, in.data, (int)out.len, out.data,
	    (int)again.len, again.data);

	/* a cut between tokens is a fixed point as well */
	cut = scrub_cut(out.data, out.len, out.len * data[1] / 256);
	FUZZ_CHECK(cut <= out.len, "cut past the end");
	again.len = 0;
	r = scrub_text(out.data, cut, &ctx, &again, NULL);
	FUZZ_CHECK(r == 0 && again.len == cut && fuzz_memeq(again.data,
	    out.data, cut), "cut not a fixed point:\n out: %.*s\n cut: %.*s\n"
	    " 2nd: %.*s", (int)out.len, out.data, (int)cut, out.data,
	    (int)again.len, again.data);

	buf_free(&in);
	buf_free(&out);
	buf_free(&again);
	return 0;
}
