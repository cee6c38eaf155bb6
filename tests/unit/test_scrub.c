/*
 * test_scrub.c — the privacy scrubber (proto/scrub.c): a table of cases
 * with exact outputs and per-kind counts, the leak corpus in
 * tests/data/leak_corpus.tsv, and bounds checks on truncated and random
 * input (run under ASan by make asan).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frame.h"
#include "scrub.h"

#define CORPUS_MIN	100	/* fewest cases the corpus may hold */
#define LINE_MAX_LEN	(1 << 20)	/* longest corpus line */

/* Scrub s with (home, cwd); returns the result (caller frees). */
static char *
scrub(const char *home, const char *cwd, const char *s, size_t n, int *ret,
    unsigned counts[SCRUB_NKINDS])
{
	struct scrub_ctx	 ctx = { home, cwd };
	struct buf		 out = { 0 };

	*ret = scrub_text(s, n, &ctx, &out, counts);
	if (out.data == NULL)
		return strdup("");
	return out.data;
}

static void
test_table(void **state)
{
	static const struct {
		const char	*home, *cwd, *in, *out;
		unsigned	 k[SCRUB_NKINDS];	/* counts by kind */
	} cases[] = {
		{ NULL, NULL, "", "", { 0 } },
		{ NULL, NULL, "plain text", "plain text", { 0 } },
		{ "/home/a", NULL, "/home/a/x and /home/a/y",
		    "<HOME>/x and <HOME>/y", { 2, 0, 0, 0, 0, 0 } },
		{ "/home/a", "/home/a/p", "/home/a/p/src/x.rs",
		    "<HOME>/p/src/x.rs", { 1, 0, 0, 0, 0, 0 } },
		{ "/home/a", "/w/p", "/w/p/src/x.rs and /home/a/z",
		    "<CWD>/src/x.rs and <HOME>/z", { 1, 1, 0, 0, 0, 0 } },
		{ "", "", "/opt/a/b.c", "b.c", { 0, 0, 1, 0, 0, 0 } },
		{ "/", NULL, "/opt/a/b.c", "b.c", { 0, 0, 1, 0, 0, 0 } },
		{ NULL, NULL, "/etc", "/etc", { 0 } },
		{ NULL, NULL, "/a/b/c:10:5", "c:10:5", { 0, 0, 1, 0, 0, 0 } },
		{ NULL, NULL, "x /a/b/ y", "x b/ y", { 0, 0, 1, 0, 0, 0 } },
		{ NULL, NULL, "C:\\x", "x", { 0, 0, 1, 0, 0, 0 } },
		{ NULL, NULL, "C:\\", "C:\\", { 0 } },
		{ NULL, NULL, "\\\\srv\\share", "share", { 0, 0, 1, 0, 0, 0 } },
		{ NULL, NULL, "\\\\srv", "\\\\srv", { 0 } },
		{ NULL, NULL, "/a/sk-abcdefghijklmnopqrstuvwx", "<REDACTED>",
		    { 0, 0, 1, 0, 0, 1 } },
		{ NULL, NULL, "/a/bob@example.com", "<EMAIL>",
		    { 0, 0, 1, 0, 1, 0 } },
		{ NULL, NULL, "https://h.example/a", "https://h.example",
		    { 0, 0, 0, 1, 0, 0 } },
		{ NULL, NULL, "https://h.example", "https://h.example", { 0 } },
		{ NULL, NULL, "https://u:p@h.example:1/x?y#z",
		    "https://h.example", { 0, 0, 0, 1, 0, 0 } },
		{ NULL, NULL, "a@b.co", "<EMAIL>", { 0, 0, 0, 0, 1, 0 } },
		{ NULL, NULL, "a@b.c", "a@b.c", { 0 } },
		{ NULL, NULL, "password=x password=<REDACTED>",
		    "password=<REDACTED> password=<REDACTED>",
		    { 0, 0, 0, 0, 0, 1 } },
		{ NULL, NULL, "\"token\":\"<REDACTED>\"",
		    "\"token\":\"<REDACTED>\"", { 0 } },
		{ NULL, NULL, "token=", "token=", { 0 } },
		{ NULL, NULL, "token: true", "token: true", { 0 } },
		{ NULL, NULL, "Bearer abcdefgh", "Bearer <REDACTED>",
		    { 0, 0, 0, 0, 0, 1 } },
		{ NULL, NULL, "Bearer abc", "Bearer abc", { 0 } },
		{ NULL, NULL, "sk-short", "sk-short", { 0 } },
		{ NULL, NULL, "task-abcdefghijklmnopqrstuvwxyz",
		    "task-abcdefghijklmnopqrstuvwxyz", { 0 } },
		{ NULL, NULL, "AKIAIOSFODNN7EXAMPLE1", "AKIAIOSFODNN7EXAMPLE1",
		    { 0 } },
		{ NULL, NULL, "AKIAIOSFODNN7EXAMPLE", "<REDACTED>",
		    { 0, 0, 0, 0, 0, 1 } },
		{ NULL, NULL, "ASIAIOSFODNN7EXAMPLE.", "<REDACTED>.",
		    { 0, 0, 0, 0, 0, 1 } },
		{ NULL, NULL, "xoxp-0123456789", "<REDACTED>",
		    { 0, 0, 0, 0, 0, 1 } },
		{ NULL, NULL, "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.",
		    "<REDACTED>", { 0, 0, 0, 0, 0, 1 } },
		{ NULL, NULL, "eyJhbGciOiJub25lIn0 alone",
		    "eyJhbGciOiJub25lIn0 alone", { 0 } },
		/* a file name is scanned like any word after its path */
		{ NULL, NULL, "cannot open /etc/app/password: hunter2",
		    "cannot open password: <REDACTED>", { 0, 0, 1, 0, 0, 1 } },
		/* a second round finds what the first one exposed */
		{ NULL, NULL, "Bearer C:\\x\\abcdefghij", "Bearer <REDACTED>",
		    { 0, 0, 1, 0, 0, 1 } },
		{ NULL, NULL, "https://a[b/c d", "https://a d",
		    { 0, 0, 0, 1, 0, 0 } },
		{ NULL, NULL, "http://u@[::1]:80/x", "http://[::1]",
		    { 0, 0, 0, 1, 0, 0 } },
		{ "/home/a", "/tmp/w",
		    "at /home/a/x.rs, /tmp/w/y.rs, /usr/z/q.rs, "
		    "https://u:p@x.io/p, e@x.io, api_key=abc",
		    "at <HOME>/x.rs, <CWD>/y.rs, q.rs, https://x.io, <EMAIL>, "
		    "api_key=<REDACTED>", { 1, 1, 1, 1, 1, 1 } },
	};
	unsigned	 counts[SCRUB_NKINDS], sum;
	size_t		 i, k;
	char		*got;
	int		 ret;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memset(counts, 0, sizeof counts);
		got = scrub(cases[i].home, cases[i].cwd, cases[i].in,
		    strlen(cases[i].in), &ret, counts);
		if (strcmp(got, cases[i].out) != 0)
			print_message("case %zu: got [%s] want [%s]\n", i, got,
			    cases[i].out);
		assert_string_equal(got, cases[i].out);
		for (k = 0, sum = 0; k < SCRUB_NKINDS; k++) {
			if (counts[k] != cases[i].k[k])
				print_message("case %zu: %s count %u want %u\n",
				    i, scrub_kind_names[k], counts[k],
				    cases[i].k[k]);
			assert_int_equal(counts[k], cases[i].k[k]);
			sum += counts[k];
		}
		assert_int_equal(ret, (int)sum);
		free(got);
	}
}

/* The result is appended; NULL counts and a NULL context are fine. */
static void
test_append_and_nulls(void **state)
{
	struct buf	 out = { 0 };
	const char	*in = "x /home/a/b/c y";

	assert_int_equal(buf_puts(&out, "prefix:"), 0);
	assert_int_equal(scrub_text(in, strlen(in), NULL, &out, NULL), 1);
	assert_string_equal(out.data, "prefix:x c y");
	assert_int_equal(scrub_text("", 0, NULL, &out, NULL), 0);
	assert_string_equal(out.data, "prefix:x c y");
	buf_free(&out);
	assert_string_equal(scrub_kind_names[SCRUB_HOME], "home");
	assert_string_equal(scrub_kind_names[SCRUB_SECRET], "secret");
}

/* Embedded NUL bytes do not stop the scrubber. */
static void
test_embedded_nul(void **state)
{
	static const char	 in[] = "a\0/x/y/z\0b";
	struct buf		 out = { 0 };

	assert_int_equal(scrub_text(in, sizeof in - 1, NULL, &out, NULL), 1);
	assert_int_equal(out.len, 5);
	assert_memory_equal(out.data, "a\0z\0b", 5);
	buf_free(&out);
}

/* Decode a corpus column in place (\t \n \r \\); -1 on a bad escape. */
static int
unescape(char *s)
{
	char	*d = s;

	for (; *s != '\0'; s++) {
		if (*s != '\\') {
			*d++ = *s;
			continue;
		}
		switch (*++s) {
		case 't': *d++ = '\t'; break;
		case 'n': *d++ = '\n'; break;
		case 'r': *d++ = '\r'; break;
		case '\\': *d++ = '\\'; break;
		default: return -1;
		}
	}
	*d = '\0';
	return 0;
}

static FILE *
open_data(const char *name)
{
	const char	*top = getenv("TOP");
	char		 path[4096];

	snprintf(path, sizeof path, "%s/tests/data/%s", top != NULL &&
	    *top != '\0' ? top : ".", name);
	return fopen(path, "r");
}

/* Every corpus case: exact output, valid UTF-8, counts, idempotence. */
static void
test_corpus(void **state)
{
	FILE		*f;
	char		*line, *col[4], *p, *got, *again;
	unsigned	 counts[SCRUB_NKINDS], sum, k;
	int		 ret, ret2, lineno = 0, ncases = 0, bad = 0, i;

	f = open_data("leak_corpus.tsv");
	assert_non_null(f);
	line = malloc(LINE_MAX_LEN);
	assert_non_null(line);
	while (fgets(line, LINE_MAX_LEN, f) != NULL) {
		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		p = line;
		for (i = 0; i < 4; i++) {
			col[i] = p;
			if ((p = strchr(p, '\t')) != NULL)
				*p++ = '\0';
			else if (i < 3)
				fail_msg("line %d: %d columns", lineno, i + 1);
			assert_int_equal(unescape(col[i]), 0);
		}
		assert_null(p);	/* exactly four columns */
		ncases++;
		memset(counts, 0, sizeof counts);
		got = scrub(col[0], col[1], col[2], strlen(col[2]), &ret,
		    counts);
		if (strcmp(got, col[3]) != 0) {
			print_message("line %d:\n  in   [%s]\n  got  [%s]\n"
			    "  want [%s]\n", lineno, col[2], got, col[3]);
			bad++;
		}
		assert_true(utf8_valid((const unsigned char *)got,
		    strlen(got)));
		for (k = 0, sum = 0; k < SCRUB_NKINDS; k++)
			sum += counts[k];
		assert_int_equal(ret, (int)sum);
		assert_int_equal(ret == 0, strcmp(got, col[2]) == 0);
		/* a second pass finds nothing more */
		again = scrub(col[0], col[1], got, strlen(got), &ret2, NULL);
		if (ret2 != 0 || strcmp(again, got) != 0) {
			print_message("line %d: not idempotent: [%s]\n", lineno,
			    again);
			bad++;
		}
		free(again);
		free(got);
	}
	fclose(f);
	free(line);
	assert_int_equal(bad, 0);
	assert_true(ncases >= CORPUS_MIN);
}

/*
 * Every prefix of some tricky inputs, each in a buffer of exactly its
 * size, so ASan sees any read past the end.
 */
static void
test_prefixes(void **state)
{
	static const char *const inputs[] = {
		"https://u:p@[::1]:80/x?y",
		"C:\\Users\\a b\\c.txt:1:2",
		"\\\\srv\\share\\x",
		"{\\\"api_key\\\":\\\"v\\\"}",
		"Authorization: Bearer abcdefghij",
		"eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.sig",
		"a.b+c@d.example.com",
		"AKIAIOSFODNN7EXAMPLE AIzaSyD-abcdefghijklmnopqrstuvwxyz01234",
		"/Users/Jane Doe/x y/z",
		"x\\n/a/b sk-abcdefghijklmnopqrstu "
		    "ghp_abcdefghijklmnopqrstuvwx",
		"github_pat_abcdefghijklmnopqrstu glpat-abcdefghijklmnopqrstu",
		"xoxb-abcdefghijk token : 'x' passwd=\"y\"",
	};
	struct scrub_ctx	 ctx = { "/Users/Jane", "/x" };
	struct buf		 out = { 0 };
	size_t			 i, n, len;
	char			*b;

	for (i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
		len = strlen(inputs[i]);
		for (n = 0; n <= len; n++) {
			b = malloc(n + 1);
			assert_non_null(b);
			memcpy(b, inputs[i], n);
			out.len = 0;
			assert_true(scrub_text(b, n, &ctx, &out, NULL) >= 0);
			assert_true(utf8_valid((unsigned char *)out.data,
			    out.len));
			free(b);
		}
	}
	buf_free(&out);
}

/* Random bytes and random mixes of trigger fragments never misbehave. */
static void
test_random(void **state)
{
	static const char *const frag[] = { "/", "\\", ":", "@", "=", "\"",
	    "'", " ", "a", "Z", "9", "-", "_", ".", "sk-", "ghp_", "eyJ",
	    "AKIA", "https://", "token", "Bearer ", "C:", "é", "中", "\\n",
	    "<HOME>", "%", "+", "[", "]" };
	struct scrub_ctx	 ctx = { "/h", "/h/c" };
	struct buf		 out = { 0 }, again = { 0 };
	uint32_t		 seed = 12345;
	size_t			 n, i, l;
	char			 b[512];
	int			 iter;

	for (iter = 0; iter < 20000; iter++) {
		n = 0;
		for (i = 0; i < 40; i++) {
			seed = seed * 1103515245 + 12345;
			l = strlen(frag[(seed >> 16) % (sizeof frag /
			    sizeof frag[0])]);
			memcpy(b + n, frag[(seed >> 16) % (sizeof frag /
			    sizeof frag[0])], l);
			n += l;
		}
		out.len = 0;
		assert_true(scrub_text(b, n, &ctx, &out, NULL) >= 0);
		assert_true(utf8_valid((unsigned char *)out.data, out.len));
		/* a second pass finds nothing more */
		again.len = 0;
		if (scrub_text(out.data, out.len, &ctx, &again, NULL) != 0 ||
		    again.len != out.len || memcmp(again.data, out.data,
		    out.len) != 0)
			fail_msg("not idempotent:\n in  [%.*s]\n 1st [%.*s]\n"
			    " 2nd [%.*s]", (int)n, b, (int)out.len, out.data,
			    (int)again.len, again.data);
	}
	for (iter = 0; iter < 2000; iter++) {
		for (i = 0; i < 256; i++) {
			seed = seed * 1103515245 + 12345;
			b[i] = (char)(seed >> 16);
		}
		out.len = 0;
		assert_true(scrub_text(b, 256, &ctx, &out, NULL) >= 0);
	}
	buf_free(&out);
	buf_free(&again);
}

/* Inputs built to defeat a naive scanner still come out right. */
static void
test_pathological(void **state)
{
	static const char *const unit[] = { "a.", "eyJ-", "/ ", "a@",
	    "sk-", "token ", "\\\\", "x:/", "AKIA" };
	struct buf	 in = { 0 }, out = { 0 };
	size_t		 i, k;

	for (k = 0; k < sizeof unit / sizeof unit[0]; k++) {
		in.len = 0;
		for (i = 0; i < 65536 / strlen(unit[k]); i++)
			assert_int_equal(buf_puts(&in, unit[k]), 0);
		out.len = 0;
		assert_true(scrub_text(in.data, in.len, NULL, &out, NULL) >= 0);
		assert_true(out.len <= in.len);
	}
	buf_free(&in);
	buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_append_and_nulls),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_pathological),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
