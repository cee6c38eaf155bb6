/*
 * test_envelope.c — envelope derivation and rendering (client/envelope.c,
 * client/repo.c): locale, provider_host and repo-host tables, git config
 * parsing, repositories and worktrees on disk, payload checking, and the
 * golden record tests/compat/open_atomcode_full_envelope.json.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "buf.h"
#include "envelope.h"
#include "record.h"
#include "repo.h"
#include "testlib.h"

#define GOLDEN	"tests/compat/open_atomcode_full_envelope.json"

static char	tmpdir[256];

static int
setup(void **state)
{
	(void)state;
	return tl_tmpdir(tmpdir, sizeof(tmpdir), "envtest");
}

static int
teardown(void **state)
{
	(void)state;
	return tl_rm_rf(tmpdir);
}

/* Write data to tmpdir/rel, creating parent directories. */
static void
spew(const char *rel, const char *data)
{
	char	path[1024], *s;
	int	fd;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	for (s = path + strlen(tmpdir) + 1; (s = strchr(s, '/')) != NULL;
	    s++) {
		*s = '\0';
		mkdir(path, 0700);
		*s = '/';
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
}

static void
mkdir_rel(const char *rel)
{
	char	path[1024], *s;

	snprintf(path, sizeof(path), "%s/%s/", tmpdir, rel);
	for (s = path + strlen(tmpdir) + 1; (s = strchr(s, '/')) != NULL;
	    s++) {
		*s = '\0';
		mkdir(path, 0700);
		*s = '/';
	}
}

static void
test_locale(void **state)
{
	static const struct {
		const char	*lang, *lc_all, *want;
	} t[] = {
		{ NULL, NULL, "en-US" },
		{ "C", NULL, "en-US" },
		{ "POSIX", NULL, "en-US" },
		{ NULL, "C", "en-US" },
		{ "zh_CN.UTF-8", NULL, "zh-CN" },
		{ "en_GB.ISO-8859-1", "de_DE.UTF-8", "en-GB" },	/* LANG first */
		{ NULL, "de_DE.UTF-8", "de-DE" },
		{ "", "fr_FR.UTF-8", "fr-FR" },	/* empty counts as unset */
		{ "", "", "en-US" },
		{ "C.UTF-8", NULL, "en-US" },	/* Debian's default is C too */
		{ "C.utf8", NULL, "en-US" },
		{ "POSIX.UTF-8", NULL, "en-US" },
		{ NULL, "C.UTF-8", "en-US" },
		{ "Ca_ES.UTF-8", NULL, "Ca-ES" },
		{ "ja_JP", NULL, "ja-JP" },
		{ "sr_RS@latin", NULL, "sr-RS@latin" },
		{ ".UTF-8", NULL, "en-US" },
		{ "a\"b", NULL, "en-US" },
		{ "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		    NULL, "en-US" },
	};
	char	out[ENV_LOCALE_MAX];
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		env_locale(t[i].lang, t[i].lc_all, out, sizeof(out));
		if (strcmp(out, t[i].want) != 0)
			fail_msg("case %zu: got %s want %s", i, out, t[i].want);
	}
}

static void
test_provider_host(void **state)
{
	static const struct {
		const char	*vendor, *url, *want;	/* want NULL: omitted */
	} t[] = {
		{ "openai", "https://user:pass@api.example.com:8443/v1/foo?bar=baz",
		    "api.example.com" },
		{ NULL, "https://api-ai.gitcode.com/v1", "api-ai.gitcode.com" },
		{ "claude", NULL, "api.anthropic.com" },
		{ "openai", NULL, "api.openai.com" },
		{ "ollama", NULL, "localhost" },
		{ "claude", "not a url", "api.anthropic.com" },
		{ "mystery", NULL, NULL },
		{ "mystery", "not a url", NULL },
		{ "mystery", "http://10.0.0.7:11434/api", "10.0.0.7" },
		{ "ollama", "http://LocalHost:11434", "localhost" },
		{ "x", "http://[::1]:8080/v1", "[::1]" },
		{ "openai", "localhost:11434", "api.openai.com" },
		{ "openai", "file:///etc/passwd", "api.openai.com" },
		{ "openai", "https://", "api.openai.com" },
		{ "openai", "https://bad host/x", "api.openai.com" },
		{ NULL, NULL, NULL },
	};
	char	out[ENV_STR_MAX + 1];
	size_t	i;
	int	r;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		r = env_provider_host(t[i].vendor, t[i].url, out, sizeof(out));
		if (t[i].want == NULL) {
			if (r != 0)
				fail_msg("case %zu: got %s want none", i, out);
		} else if (r != 1 || strcmp(out, t[i].want) != 0)
			fail_msg("case %zu: got %s want %s", i,
			    r ? out : "(none)", t[i].want);
	}
}

static void
test_classify(void **state)
{
	static const struct {
		const char	*url;
		enum repo_host	 want;
	} t[] = {
		{ "git@gitcode.com:foo/bar.git", REPO_GITCODE },
		{ "https://atomgit.com/x/y", REPO_ATOMGIT },
		{ "https://github.com/x/y", REPO_GITHUB },
		{ "ssh://git@gitlab.foo/x", REPO_GITLAB },
		{ "https://other.net/x", REPO_OTHER },
		{ "", REPO_NONE },
		{ "   ", REPO_NONE },
		{ "HTTPS://GitHub.COM/X/Y", REPO_GITHUB },
		{ "git@GITCODE.COM:a/b", REPO_GITCODE },
		/* First match wins, in rule order. */
		{ "https://github.com/gitcode.com/x", REPO_GITCODE },
		{ "https://gitlab.example.org/atomgit.com", REPO_ATOMGIT },
		{ "https://gitlab.com/x", REPO_GITLAB },
		{ "/srv/git/project.git", REPO_OTHER },
	};
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (repo_classify(t[i].url) != t[i].want)
			fail_msg("case %zu (%s): got %s", i, t[i].url,
			    repo_host_name(repo_classify(t[i].url)));
	assert_string_equal(repo_host_name(REPO_NONE), "none");
	assert_string_equal(repo_host_name(REPO_ATOMGIT), "atomgit");
}

static void
test_config_origin(void **state)
{
	static const struct {
		const char	*text, *want;	/* want NULL: no origin */
	} t[] = {
		{ "[core]\n\tbare = false\n[remote \"origin\"]\n"
		    "\turl = git@gitcode.com:foo/bar.git\n"
		    "\tfetch = +refs/heads/*:refs/remotes/origin/*\n",
		    "git@gitcode.com:foo/bar.git" },
		{ "[remote \"upstream\"]\n\turl = https://github.com/a/b\n"
		    "[remote \"origin\"]\n\turl = https://atomgit.com/c/d\n",
		    "https://atomgit.com/c/d" },
		{ "[remote \"upstream\"]\n\turl = https://github.com/a/b\n",
		    NULL },
		{ "[REMOTE \"origin\"]\n\tURL=\"https://x.org/a b\" # note\n",
		    "https://x.org/a b" },
		{ "[remote \"Origin\"]\n\turl = https://x.org/\n", NULL },
		{ "[remote.origin]\n url = https://gitlab.example/x ; c\n",
		    "https://gitlab.example/x" },
		{ "; comment\n# comment\n[remote \"origin\"]\r\n"
		    "\turl = https://github.com/w/x\r\n", "https://github.com/w/x" },
		{ "[remote \"origin\"]\n\tpushurl = https://a/\n"
		    "\turl = https://b/\n\turl = https://c/\n", "https://b/" },
		{ "[remote \"origin\"] url = https://inline/\n",
		    "https://inline/" },
		{ "", NULL },
		{ "[remote \"origin\"\n", NULL },
	};
	char	url[REPO_URL_MAX];
	size_t	i;
	int	r;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		r = repo_config_origin(t[i].text, strlen(t[i].text), url,
		    sizeof(url));
		if (t[i].want == NULL) {
			if (r != 0)
				fail_msg("case %zu: got %s", i, url);
		} else if (r != 1 || strcmp(url, t[i].want) != 0)
			fail_msg("case %zu: got %s want %s", i,
			    r ? url : "(none)", t[i].want);
	}
}

static void
detect(const char *rel, enum repo_host host, int has_git)
{
	char			path[1024];
	struct repo_origin	o;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	repo_detect(path, &o);
	if (o.host != host || o.has_git != has_git)
		fail_msg("%s: got %s/%d want %s/%d", rel,
		    repo_host_name(o.host), o.has_git, repo_host_name(host),
		    has_git);
}

static void
test_repo_dirs(void **state)
{
	char	gitdir[1024];

	(void)state;
	/* A repository with an origin, seen from itself and from below. */
	spew("r1/.git/config", "[core]\n\trepositoryformatversion = 0\n"
	    "[remote \"origin\"]\n\turl = git@gitcode.com:foo/bar.git\n");
	mkdir_rel("r1/src/deep");
	detect("r1", REPO_GITCODE, 1);
	detect("r1/src/deep", REPO_GITCODE, 1);

	/* No origin: none, has_git only where .git itself is. */
	spew("r2/.git/config", "[core]\n\tbare = false\n");
	mkdir_rel("r2/sub");
	detect("r2", REPO_NONE, 1);
	detect("r2/sub", REPO_NONE, 0);

	/* A worktree: .git file → gitdir → commondir → shared config. */
	spew("main/.git/config",
	    "[remote \"origin\"]\n\turl = https://github.com/o/r.git\n");
	spew("main/.git/worktrees/wt/commondir", "../..\n");
	spew("main/.git/worktrees/wt/HEAD", "ref: refs/heads/x\n");
	spew("wt/.git", "gitdir: ../main/.git/worktrees/wt\n");
	mkdir_rel("wt/lib");
	detect("wt", REPO_GITHUB, 1);
	detect("wt/lib", REPO_GITHUB, 1);

	/* An absolute gitdir, no commondir (a submodule-style .git file). */
	snprintf(gitdir, sizeof(gitdir), "gitdir: %s/modules/m\n", tmpdir);
	spew("modules/m/config",
	    "[remote \"origin\"]\n\turl = https://gitlab.corp/m\n");
	spew("sm/.git", gitdir);
	detect("sm", REPO_GITLAB, 1);

	/* A broken .git file: git fails, has_git is still true. */
	spew("broken/.git", "nonsense\n");
	detect("broken", REPO_NONE, 1);

	/* Not in a repository at all. */
	mkdir_rel("plain/x");
	detect("plain/x", REPO_NONE, 0);
	detect("does/not/exist", REPO_NONE, 0);
}

/* The golden inputs of tests/compat/open_atomcode_full_envelope.json. */
static void
golden_envelope(struct envelope *e)
{
	env_init(e);
	assert_int_equal(env_set(&e->account_id, "42"), 0);
	e->turn = 3;
	e->round = 2;
	e->request = 7;
	assert_int_equal(env_set(&e->provider, "openai"), 0);
	assert_int_equal(env_set(&e->provider_host, "api.openai.com"), 0);
	assert_int_equal(env_set(&e->model, "gpt-4o"), 0);
	e->repo_set = 1;
	e->repo.host = REPO_GITCODE;
	e->repo.has_git = 1;
	assert_int_equal(env_set(&e->mode, "tui"), 0);
	assert_int_equal(env_set(&e->surface, "code_review"), 0);
	assert_int_equal(env_set(&e->app_version, "9.9.9"), 0);
	env_test_fixed(e);
	assert_int_equal(env_render(e), 0);
}

static char *
slurp(const char *rel)
{
	const char	*top = getenv("TOP");
	char		 path[1024], *s;
	FILE		*f;
	long		 n;

	snprintf(path, sizeof(path), "%s", rel);
	if (access(path, R_OK) != 0 && top != NULL)
		snprintf(path, sizeof(path), "%s/%s", top, rel);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	s = malloc((size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = '\0';
	fclose(f);
	return s;
}

static void
test_golden(void **state)
{
	static const char	 compact[] = "{\"device_id\":"
	    "\"00000000-0000-0000-0000-000000000000\",\"launch_id\":"
	    "\"00000000-0000-0000-0000-000000000000\",\"account_id\":\"42\","
	    "\"session_id\":\"00000000-0000-0000-0000-000000000000\","
	    "\"turn\":3,\"round\":2,\"request\":7,\"ts\":0,"
	    "\"schema_version\":1,\"app_version\":\"0.0.0\",\"os\":\"macos\","
	    "\"arch\":\"aarch64\",\"locale\":\"en-US\",\"provider\":\"openai\","
	    "\"provider_host\":\"api.openai.com\",\"model\":\"gpt-4o\","
	    "\"repo_origin\":{\"host\":\"gitcode\",\"has_git\":true},"
	    "\"mode\":\"tui\",\"surface\":\"code_review\","
	    "\"event_id\":\"open_atomcode\","
	    "\"dangerously_skip_permissions\":true}";
	static const char	 payload[] =
	    "{ \"dangerously_skip_permissions\" : true }";
	struct envelope		 e;
	struct buf		 members = { NULL, 0, 0 }, rec = { NULL, 0, 0 };
	struct buf		 out = { NULL, 0, 0 };
	struct rec_result	 res;
	json_t			*j;
	char			*want, *got, *pretty;
	size_t			 n;

	(void)state;
	golden_envelope(&e);
	assert_int_equal(env_payload(payload, strlen(payload), &members),
	    ENV_P_OK);
	assert_int_equal(env_record(&e, &rec, 0, "open_atomcode",
	    members.data, members.len), 0);
	/* Exact bytes: declaration order, compact. */
	assert_string_equal(rec.data, compact);

	/* Sorted, 2-space pretty form equals the golden file. */
	j = json_loadb(rec.data, rec.len, 0, NULL);
	assert_non_null(j);
	got = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	assert_non_null(got);
	n = strlen(got);
	pretty = malloc(n + 2);
	assert_non_null(pretty);
	memcpy(pretty, got, n);
	memcpy(pretty + n, "\n", 2);
	want = slurp(GOLDEN);
	assert_string_equal(pretty, want);

	/* The schema takes it as canonical: stored byte for byte. */
	memset(&res, 0, sizeof(res));
	assert_int_equal(rec_validate(rec.data, rec.len, NULL, &out, &res),
	    REC_OK);
	assert_int_equal(res.rewritten, 0);
	assert_int_equal(out.len, rec.len + 1);
	assert_memory_equal(out.data, rec.data, rec.len);

	free(want);
	free(pretty);
	free(got);
	json_decref(j);
	buf_free(&members);
	buf_free(&rec);
	buf_free(&out);
	env_free(&e);
}

static void
test_minimal(void **state)
{
	static const char *const absent[] = {
		"account_id", "\"turn\"", "round", "request", "provider",
		"model", "repo_origin", "mode", "surface", "turn_id",
	};
	struct envelope		 e;
	struct buf		 rec = { NULL, 0, 0 }, out = { NULL, 0, 0 };
	struct rec_result	 res;
	size_t			 i;
	char			 os[64];

	(void)state;
	env_init(&e);
	assert_int_equal(env_render(&e), 0);
	assert_int_equal(env_record(&e, &rec, 1764100000000LL,
	    "telemetry_disabled", NULL, 0), 0);
	for (i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
		if (strstr(rec.data, absent[i]) != NULL)
			fail_msg("%s present in %s", absent[i], rec.data);
	assert_non_null(strstr(rec.data, "\"ts\":1764100000000,"));
	snprintf(os, sizeof(os), "\"os\":\"%s\",\"arch\":\"%s\"", env_os(),
	    env_arch());
	assert_non_null(strstr(rec.data, os));
	assert_true(rec.data[rec.len - 1] == '}');
	memset(&res, 0, sizeof(res));
	assert_int_equal(rec_validate(rec.data, rec.len, NULL, &out, &res),
	    REC_OK);

	/* Re-rendering after a change drops and adds fields. */
	assert_int_equal(env_set(&e.mode, "ide"), 0);
	e.turn = 0;
	assert_int_equal(env_render(&e), 0);
	rec.len = 0;
	assert_int_equal(env_record(&e, &rec, -5, "telemetry_disabled", NULL,
	    0), 0);
	assert_non_null(strstr(rec.data, "\"turn\":0,\"ts\":-5,"));
	assert_non_null(strstr(rec.data, ",\"mode\":\"ide\",\"event_id\""));
	buf_free(&rec);
	buf_free(&out);
	env_free(&e);
}

static void
test_payload(void **state)
{
	static const struct {
		const char		*in;
		enum env_payload	 want;
		const char		*members;
	} t[] = {
		{ "{}", ENV_P_OK, "" },
		{ "  { }  ", ENV_P_OK, "" },
		{ "{\"a\":1}", ENV_P_OK, "\"a\":1" },
		{ "{ \"a\" : [ 1 , 2.5e-3 , { \"b\" : null } ] ,\n\t\"c\":\"x y\" }",
		    ENV_P_OK, "\"a\":[1,2.5e-3,{\"b\":null}],\"c\":\"x y\"" },
		{ "{\"s\":\"q\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\"}", ENV_P_OK,
		    "\"s\":\"q\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\"" },
		{ "{\"u\":\"中文\",\"t\":true,\"f\":false,\"n\":-0}", ENV_P_OK,
		    "\"u\":\"中文\",\"t\":true,\"f\":false,\"n\":-0" },
		{ "", ENV_P_JSON, "" },
		{ "[]", ENV_P_JSON, "" },
		{ "{", ENV_P_JSON, "" },
		{ "{\"a\":}", ENV_P_JSON, "" },
		{ "{\"a\":1,}", ENV_P_JSON, "" },
		{ "{\"a\":1} x", ENV_P_JSON, "" },
		{ "{\"a\":1}{}", ENV_P_JSON, "" },
		{ "{\"a\":01}", ENV_P_JSON, "" },
		{ "{\"a\":1.}", ENV_P_JSON, "" },
		{ "{\"a\":\"\\x\"}", ENV_P_JSON, "" },
		{ "{\"a\":\"\\u12\"}", ENV_P_JSON, "" },
		{ "{\"a\":\"tab\there\"}", ENV_P_JSON, "" },
		{ "{\"a\":tru}", ENV_P_JSON, "" },
		{ "{a:1}", ENV_P_JSON, "" },
		{ "{\"a\":\"\xff\"}", ENV_P_JSON, "" },
		{ "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]"
		    "]]]]]]]]]]]]}", ENV_P_JSON, "" },
		{ "{\"ts\":1}", ENV_P_RESERVED, "" },
		{ "{\"x\":1,\"event_id\":\"panic\"}", ENV_P_RESERVED, "" },
		{ "{\"op\":\"flush\"}", ENV_P_RESERVED, "" },
		{ "{\"nested\":{\"ts\":1}}", ENV_P_OK, "\"nested\":{\"ts\":1}" },
	};
	struct buf	m = { NULL, 0, 0 };
	size_t		i;
	enum env_payload r;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		m.len = 0;
		buf_puts(&m, "");
		r = env_payload(t[i].in, strlen(t[i].in), &m);
		if (r != t[i].want)
			fail_msg("case %zu: got %d want %d", i, r, t[i].want);
		if (m.len != strlen(t[i].members) ||
		    memcmp(m.data, t[i].members, m.len) != 0)
			fail_msg("case %zu: members %.*s want %s", i,
			    (int)m.len, m.data, t[i].members);
	}
	buf_free(&m);
}

static void
test_json_object(void **state)
{
	static const struct {
		const char	*in;
		int		 want;
	} t[] = {
		{ "{}", 1 },
		{ " {\"a\":[1,{\"b\":\"c\"}]}\n", 1 },
		{ "{} {}", 0 },
		{ "[1]", 0 },
		{ "\"x\"", 0 },
		{ "{\"a\"}", 0 },
		{ "", 0 },
	};
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (env_json_object(t[i].in, strlen(t[i].in)) != t[i].want)
			fail_msg("case %zu: %s", i, t[i].in);
}

static void
test_setters(void **state)
{
	char	*f = NULL, big[ENV_STR_MAX + 2];

	(void)state;
	assert_int_equal(env_set(&f, "gpt-4o"), 0);
	assert_string_equal(f, "gpt-4o");
	assert_int_equal(env_set(&f, "\xc3\x28"), -1);	/* invalid UTF-8 */
	assert_string_equal(f, "gpt-4o");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(env_set(&f, big), -1);
	big[ENV_STR_MAX] = '\0';
	assert_int_equal(env_set(&f, big), 0);
	assert_int_equal(env_set(&f, ""), 0);
	assert_null(f);
	assert_int_equal(env_set(&f, NULL), 0);
	assert_null(f);
	assert_true(env_mode_valid("atomcode_desktop"));
	assert_true(env_mode_valid("channel"));
	assert_false(env_mode_valid("air"));
	assert_false(env_mode_valid(""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_locale),
		cmocka_unit_test(test_provider_host),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_config_origin),
		cmocka_unit_test_setup_teardown(test_repo_dirs, setup,
		    teardown),
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_minimal),
		cmocka_unit_test(test_payload),
		cmocka_unit_test(test_json_object),
		cmocka_unit_test(test_setters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
