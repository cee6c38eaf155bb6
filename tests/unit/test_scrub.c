/*
 * test_scrub.c — the privacy firewall for free text (proto/scrub.c): a
 * table of cases over every class the allowlist must handle (exact
 * outputs), the counts of each placeholder kind, the leak corpus in
 * tests/data/leak_corpus.tsv, idempotence, cuts between tokens, and bounds
 * checks on truncated and random input (run under ASan by make asan).
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
#include "vocab.h"

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

/* Placeholders of each kind in s[0..n). */
static void
count_placeholders(const char *s, size_t n, unsigned c[SCRUB_NKINDS])
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

/*
 * The counts a scrub reported are the placeholders it wrote: for every
 * kind, those in the output minus those already in the input.
 */
static void
check_counts(const char *in, size_t n, const char *out, int ret,
    const unsigned counts[SCRUB_NKINDS], const char *what)
{
	unsigned	 ci[SCRUB_NKINDS], co[SCRUB_NKINDS], sum = 0;
	int		 k;

	count_placeholders(in, n, ci);
	count_placeholders(out, strlen(out), co);
	for (k = 0; k < SCRUB_NKINDS; k++) {
		if (counts[k] != co[k] - ci[k] && co[k] >= ci[k])
			fail_msg("%s: %s counted %u, written %u", what,
			    scrub_kind_names[k], counts[k], co[k] - ci[k]);
		sum += counts[k];
	}
	assert_int_equal(ret, (int)sum);
}

/*
 * Each class of private text the firewall must stop, with the exact
 * result: unknown words and compounds, credential shapes, credential keys
 * (any language, full-width separators, flags, XML, .pgpass, PEM, JSON
 * escapes), text right after ANSI codes, %22, -I, -L, @ and :_authToken=,
 * paths of every form, cwd under home, git remotes, URLs, IPs, long digit
 * groups, names, identities, namespaces, numbers, placeholders already in
 * the text, contractions.
 */
static void
test_table(void **state)
{
	static const struct {
		const char	*home, *cwd, *in, *out;
	} cases[] = {
		/* a zero-width character joins, it does not split a word */
		{ NULL, NULL, "horse\xe2\x80\x8b" "battery and \xc2\xad" "ok",
		    "<WORD> and <WORD>" },
		{ NULL, NULL,
		    "",
		    "" },
		{ NULL, NULL,
		    "plain text",
		    "plain text" },
		{ NULL, NULL,
		    "Failed to connect: Connection refused (os error 111)",
		    "Failed to connect: Connection refused (os error 111)" },
		{ NULL, NULL,
		    "Error: Os { code: 2, kind: NotFound, message: \"No s"
		    "uch file or directory\" }",
		    "Error: Os { code: 2, kind: NotFound, message: \"No s"
		    "uch file or directory\" }" },
		{ NULL, NULL,
		    "orion-ledger acme_prod build-17.corp",
		    "<ID> <ID> <ID>" },
		{ NULL, NULL,
		    "Please refactor the ledger of Zanzibar",
		    "Please <WORD> the ledger of <WORD>" },
		{ NULL, NULL,
		    "sk_live_51H8abcdEFGHijkl rk_live_abcdef123456 whsec_"
		    "abcdefghijkl12345",
		    "<SECRET> <SECRET> <SECRET>" },
		{ NULL, NULL,
		    "hf_abcdefghijklmnopqrstuvwxyz npm_abcdefghijklmnopqr"
		    "stuvwxyz0123 pypi-AgEIcHlwaS5vcmcCJGFiYw",
		    "<SECRET> <SECRET> <SECRET>" },
		{ NULL, NULL,
		    "AccountKey=abc+def/ghi== sig=2021-01-01abc Cookie: s"
		    "ession=abc; theme=dark",
		    "<WORD>=<SECRET> <WORD>=<SECRET> Cookie: <SECRET>" },
		{ NULL, NULL,
		    "PGPASSWORD=opensesame MYSQL_PWD=letmein DB_PASS=swor"
		    "dfish SECRET_KEY_BASE=cafe",
		    "<WORD>=<SECRET> <ID>=<SECRET> <ID>=<SECRET> <ID>=<SE"
		    "CRET>" },
		{ NULL, NULL,
		    "passphrase: correct horse battery staple",
		    "<WORD>: <SECRET>" },
		{ NULL, NULL,
		    "\xe5\xaf\x86" "\xe7\xa0\x81" "\xef\xbc\x9a" "hunter2 "
		    "\xe3\x83\x91" "\xe3\x82\xb9" "\xe3\x83\xaf" "\xe3\x83\xbc"
		    "\xe3\x83\x89" "\xef\xbc\x9d" "tiger contrase" "\xc3\xb1"
		    "a: caballo",
		    "<WORD>" "\xef\xbc\x9a" "<SECRET> <WORD>" "\xef\xbc\x9d"
		    "<SECRET> <WORD>: <SECRET>" },
		{ NULL, NULL,
		    "--password horse --token=wolf -p'correct horse' sshp"
		    "ass -p battery ssh -p 22 host",
		    "--password <SECRET> --token=<SECRET> -p'<SECRET>' ss"
		    "hpass -p <SECRET> ssh -p 22 host" },
		{ NULL, NULL,
		    "redis-cli -a opensesame ping; curl -u bob:hunter2 ht"
		    "tp://x.invalid/",
		    "redis-cli -a <SECRET> ping; curl -u <SECRET> <URL>" },
		{ NULL, NULL,
		    "scott/tiger@//db.internal:1521/orcl",
		    "<URL>" },
		{ NULL, NULL,
		    "<password>horse</password> <Password>tiger</Password" ">",
		    "<password><SECRET></password> <Password><SECRET></Pa"
		    "ssword>" },
		{ NULL, NULL,
		    "*:*:*:*:battery",
		    "*:*:*:*:<SECRET>" },
		{ NULL, NULL,
		    "{\"private_key\":\"-----BEGIN PRIVATE KEY-----\\nMII"
		    "EvQ\\n-----END PRIVATE KEY-----\\n\",\"type\":\"x\"}",
		    "{\"<ID>\":\"<SECRET>\",\"type\":\"x\"}" },
		{ NULL, NULL,
		    "{\\\"password\\\":\\\"staple\\\\nhorse\\\"}",
		    "{\\\"password\\\":\\\"<SECRET>\\\"}" },
		{ NULL, NULL,
		    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk"
		    "\n-----END OPENSSH PRIVATE KEY-----",
		    "<SECRET>" },
		{ NULL, NULL,
		    "%22password%22%3A%22qzkxv%22 -Iqzkxv -Lqzkxv @qzkxv "
		    ":_authToken=qzkxv",
		    "%<SECRET> -<WORD> -<WORD> @<WORD> :<ID>=<SECRET>" },
		{ NULL, NULL,
		    "\033[31mpassword\033[0m=horse \033[1mqzkxv\033[0m",
		    "password=<SECRET> <WORD>" },
		{ "/home/alice", "/home/alice/proj",
		    "~/proj/x.rs ~bob/n.txt $HOME/x ${HOME}/y %USERPROFIL"
		    "E%\\z ../../orion ./packages/orion crates/orion/src/"
		    "lib.rs",
		    "<HOME>/<PATH> <PATH> <HOME>/<PATH> <HOME>/<PATH> <HO"
		    "ME>/<PATH> <PATH> <PATH>" },
		{ "/home/alice", "/home/alice/proj",
		    "/home/alice/proj/src/main.rs:42:9 and /home/alice/.c"
		    "argo/x.rs",
		    "<CWD>/<PATH>:42:9 and <HOME>/<PATH>" },
		{ "/home/alice", "/srv/w",
		    "/srv/w/a.rs /home/alice/b.rs /home/alicex/c.rs",
		    "<CWD>/<PATH> <HOME>/<PATH> <PATH>" },
		{ NULL, NULL,
		    "\"C:\\Program Files\\Acme Corp\\app.exe\" failed; C:"
		    "\\Users\\John Smith\\x.txt",
		    "\"<PATH>\" failed; <PATH>" },
		{ NULL, NULL,
		    "git@github.com:org/repo.git and git@gitlab.internal:"
		    "team/svc.git",
		    "<URL:github.com> and <URL>" },
		{ NULL, NULL,
		    "https://user:pw@github.com/org/private-repo?token=x "
		    "https://ci.corp.example/job/1",
		    "<URL:github.com> <URL>" },
		{ NULL, NULL,
		    "10.1.2.3 192.168.0.10:8080 fe80::1%eth0 2001:db8::8a"
		    "2e:370:7334 127.0.0.1",
		    "<IP> <IP>:8080 <IP> <IP> 127.0.0.1" },
		{ NULL, NULL,
		    "4111 1111 1111 1111 / 123-45-6789 / +1 (555) 123-456"
		    "7 / 1,234,567 / port 8080",
		    "<NUM> / <NUM> / +<NUM> / <NUM> / port 8080" },
		{ NULL, NULL,
		    "Bill Smith wrote the bill. Mark the bug. Author: Wil"
		    "l <will@example.com>",
		    "<WORD> <WORD> wrote the bill. Mark the bug. Author: "
		    "<ID> <<EMAIL>>" },
		{ NULL, NULL,
		    "user \"bob\" role 'payroll' database \"orders\" user"
		    "=bill",
		    "user \"<ID>\" role '<ID>' database \"<ID>\" user=<ID" ">" },
		{ NULL, NULL,
		    "core::panicking::panic_fmt java.lang.NullPointerExce"
		    "ption std::orion::ledger",
		    "core::panicking::panic_fmt java.lang.NullPointerExce"
		    "ption <ID>" },
		{ NULL, NULL,
		    "v1.2.3 3.11 20s 30000ms E0425 0x1f 0x7ffd5a3c 131072"
		    " bytes, 1048576",
		    "v1.2.3 3.11 20s 30000ms E0425 0x1f <NUM> 131072 byte"
		    "s, <NUM>" },
		{ NULL, NULL,
		    "<HOME>/<PATH>:10:5 <URL:github.com> <URL:evil.exampl"
		    "e> <SECRET> <custom>",
		    "<HOME>/<PATH>:10:5 <URL:github.com> <URL> <SECRET> <"
		    "custom>" },
		{ NULL, NULL,
		    "don't isn't it's Bob's qzkxv's",
		    "don't isn't it's <WORD> <WORD>" },
	};
	unsigned	 counts[SCRUB_NKINDS];
	size_t		 i;
	char		*got, *again;
	int		 ret, ret2;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memset(counts, 0, sizeof counts);
		got = scrub(cases[i].home, cases[i].cwd, cases[i].in,
		    strlen(cases[i].in), &ret, counts);
		if (strcmp(got, cases[i].out) != 0)
			fail_msg("case %zu:\n in   [%s]\n got  [%s]\n want [%s]",
			    i, cases[i].in, got, cases[i].out);
		check_counts(cases[i].in, strlen(cases[i].in), got, ret, counts,
		    cases[i].in);
		again = scrub(cases[i].home, cases[i].cwd, got, strlen(got),
		    &ret2, NULL);
		assert_string_equal(again, got);
		assert_int_equal(ret2, 0);
		free(again);
		free(got);
	}
}

/* Counts by kind for a few inputs, kind by kind. */
static void
test_counts(void **state)
{
	unsigned	 c[SCRUB_NKINDS];
	char		*got;
	int		 ret;

	static const char	 in[] = "at /home/a/x.rs, /w/y.rs, /usr/z/q.rs, "
	    "https://u:p@x.io/p, e@x.io, api_key=abc 10.0.0.1 orion_x "
	    "Zanzibar 4111111111111111";

	memset(c, 0, sizeof c);
	got = scrub("/home/a", "/w", in, sizeof in - 1, &ret, c);
	assert_string_equal(got, "at <HOME>/<PATH>, <CWD>/<PATH>, <PATH>, "
	    "<URL>, <EMAIL>, api_key=<SECRET> <IP> <ID> <WORD> <NUM>");
	assert_int_equal(c[SCRUB_HOME], 1);
	assert_int_equal(c[SCRUB_CWD], 1);
	assert_int_equal(c[SCRUB_PATH], 3);
	assert_int_equal(c[SCRUB_URL], 1);
	assert_int_equal(c[SCRUB_EMAIL], 1);
	assert_int_equal(c[SCRUB_SECRET], 1);
	assert_int_equal(c[SCRUB_ID], 1);
	assert_int_equal(c[SCRUB_IP], 1);
	assert_int_equal(c[SCRUB_WORD], 1);
	assert_int_equal(c[SCRUB_NUM], 1);
	assert_int_equal(c[SCRUB_CUSTOM], 0);
	assert_int_equal(ret, 12);
	free(got);
}

/* The result is appended; NULL counts and a NULL context are fine. */
static void
test_append_and_nulls(void **state)
{
	struct buf	 out = { 0 };
	const char	*in = "x /home/a/b/c y";

	assert_int_equal(buf_puts(&out, "prefix:"), 0);
	assert_int_equal(scrub_text(in, strlen(in), NULL, &out, NULL), 1);
	assert_string_equal(out.data, "prefix:x <PATH> y");
	assert_int_equal(scrub_text("", 0, NULL, &out, NULL), 0);
	assert_string_equal(out.data, "prefix:x <PATH> y");
	buf_free(&out);
	assert_string_equal(scrub_kind_names[SCRUB_HOME], "home");
	assert_string_equal(scrub_kind_names[SCRUB_SECRET], "secret");
	assert_string_equal(scrub_kind_names[SCRUB_CUSTOM], "custom");
	assert_string_equal(scrub_placeholders[SCRUB_WORD], "<WORD>");
}

/* Embedded NUL bytes and invalid UTF-8 do not stop it; never copied. */
static void
test_embedded_nul(void **state)
{
	static const char	 in[] = "a\0/x/y/z\0b \xff\xfe ok \xc3 \xe2\x82";
	struct buf		 out = { 0 };
	static const char	 want[] = "a\0<PATH>\0b <WORD> ok <WORD> <WORD>";

	assert_int_equal(scrub_text(in, sizeof in - 1, NULL, &out, NULL), 4);
	assert_int_equal(out.len, sizeof want - 1);
	assert_memory_equal(out.data, want, sizeof want - 1);
	buf_free(&out);
}

/* The vocabulary: words, compounds and hosts in; names flagged. */
static void
test_vocab(void **state)
{
	assert_true(vocab_entries > 60000);
	assert_true(vocab_lookup("connection", 10) >= 0);
	assert_true(vocab_lookup("Connection", 10) >= 0);
	assert_true(vocab_lookup("ECONNREFUSED", 12) >= 0);
	assert_true(vocab_lookup("FileNotFoundError", 17) >= 0);
	assert_true(vocab_lookup("x86_64", 6) >= 0);
	assert_true(vocab_lookup("don't", 5) >= 0);
	assert_int_equal(vocab_lookup("orion", 5), -1);
	assert_int_equal(vocab_lookup("alice", 5), -1);
	assert_int_equal(vocab_lookup("", 0), -1);
	assert_true(vocab_lookup("bill", 4) & VOCAB_NAME);
	assert_false(vocab_lookup("java", 4) & VOCAB_NAME);
	assert_true(vocab_lookup("api.openai.com", 14) & VOCAB_HOST);
	assert_int_equal(vocab_lookup("acme.openai.com", 15), -1);
	assert_true(vocab_lookup("std", 3) & VOCAB_NS);
}

/*
 * Cuts land right after white space when there is some, else right after
 * punctuation that closes something; never inside a token, a placeholder
 * or a \" escape.
 */
static void
test_cut(void **state)
{
	static const char	 t[] = "ab <WORD> cd";
	static const char	 u[] = "cd\xc2\xb7" "ef<WORD>x\\\"y";
	size_t			 k;

	assert_int_equal(scrub_cut(t, sizeof t - 1, 20), sizeof t - 1);
	assert_int_equal(scrub_cut(t, sizeof t - 1, 1), 0);	/* a|b */
	assert_int_equal(scrub_cut(t, sizeof t - 1, 2), 0);	/* no space */
	assert_int_equal(scrub_cut(t, sizeof t - 1, 5), 3);	/* "ab " */
	assert_int_equal(scrub_cut(t, sizeof t - 1, 9), 3);
	assert_int_equal(scrub_cut(t, sizeof t - 1, 11), 10);
	assert_int_equal(scrub_cut(u, sizeof u - 1, 1), 0);	/* c|d */
	assert_int_equal(scrub_cut(u, sizeof u - 1, 3), 2);	/* cd|· */
	assert_int_equal(scrub_cut(u, sizeof u - 1, 4), 4);	/* cd·| */
	assert_int_equal(scrub_cut(u, sizeof u - 1, 9), 4);	/* not <WO */
	assert_int_equal(scrub_cut(u, sizeof u - 1, 13), 12);	/* <WORD>| */
	assert_int_equal(scrub_cut(u, sizeof u - 1, 15), 12);	/* not \|" */
	for (k = 0; k < sizeof u; k++)
		assert_true(scrub_cut(u, sizeof u - 1, k) <= k);
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
	unsigned	 counts[SCRUB_NKINDS];
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
		check_counts(col[2], strlen(col[2]), got, ret, counts, col[2]);
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
		assert_true(out.len <= 6 * in.len);
	}
	buf_free(&in);
	buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_append_and_nulls),
		cmocka_unit_test(test_vocab),
		cmocka_unit_test(test_cut),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_pathological),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
