/*
 * test_config.c — config.toml reading (the pitfalls an INI reader has with TOML, the golden file),
 * opt-out precedence with the exact reason strings, endpoint precedence,
 * and the format-preserving enable/disable edit.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "testlib.h"

#define GOLDEN	"tests/compat/config.example.toml"
#define DATA	"tests/data/config/"

static char	tmpdir[256];

/*
 * fsync(2) as config.c sees it: the mode of every temp file (".tmp-" in
 * its name) at the moment its data is synced, i.e. while it holds a full
 * copy of the user's config.
 */
static int	tmp_synced;
static mode_t	tmp_mode_max;

int	fsync(int);

int
fsync(int fd)
{
	char		link[64], name[PATH_MAX];
	struct stat	st;
	ssize_t		n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, name, sizeof(name) - 1)) > 0) {
		name[n] = '\0';
		if (strstr(name, ".tmp-") != NULL && fstat(fd, &st) == 0) {
			tmp_synced++;
			tmp_mode_max |= st.st_mode & 07777;
		}
	}
	return (int)syscall(SYS_fsync, fd);
}

static const char *
top(void)
{
	const char	*t = getenv("TOP");

	return t != NULL && *t != '\0' ? t : ".";
}

static void
src_path(char *out, size_t len, const char *rel)
{
	snprintf(out, len, "%s/%s", top(), rel);
}

static char *
slurp(const char *path, size_t *lenp)
{
	FILE	*f;
	char	*p;
	long	 n;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	p = malloc((size_t)n + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	p[n] = '\0';
	fclose(f);
	if (lenp != NULL)
		*lenp = (size_t)n;
	return p;
}

static void
spew(const char *path, const char *data, size_t len, mode_t mode)
{
	int	fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd != -1);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static int
setup(void **state)
{
	(void)state;
	if (tl_tmpdir(tmpdir, sizeof(tmpdir), "cfgtest") == -1)
		return -1;
	tl_clear_env();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return tl_rm_rf(tmpdir);
}

/* ---- reading ---------------------------------------------------------- */

static const struct read_case {
	const char	*file;
	int		 parsed;
	int		 enabled;
	int		 offline;
	const char	*endpoint;	/* NULL: check the prefix in .prefix */
	const char	*prefix;
	const char	*error;		/* substring of c.error, or NULL */
} read_cases[] = {
	{ GOLDEN, 1, -1, 0, "", NULL, NULL },
	{ DATA "basic.toml", 1, 0, 0, "https://e.example/v1", NULL, NULL },
	/* `# comment` after a value, `#` inside a quoted value */
	{ DATA "inline_comment.toml", 1, 0, 0, "https://x.example/a#frag",
	    NULL, NULL },
	/* ` ;` inside quotes must not cut the value */
	{ DATA "semicolon.toml", 1, -1, 0, "https://x.example/a ;b", NULL,
	    NULL },
	/* 210-byte comment, a 212-byte line ending in enabled=false", a
	 * 294-byte endpoint line in [telemetry] */
	{ DATA "long_lines.toml", 1, -1, 0, NULL,
	    "https://long.example/pppppppppp", NULL },
	{ DATA "crlf.toml", 1, 0, 0, "https://crlf.example/v1", NULL, NULL },
	{ DATA "literal.toml", 1, -1, 1, "https://lit.example/a\\b ;#c", NULL,
	    NULL },
	{ DATA "escapes.toml", 1, -1, 0, "https://esc.example/\xc3\xa9\\\"q\t",
	    NULL, NULL },
	/* [telemetry] / enabled = false inside """ and ''' bodies */
	{ DATA "multiline.toml", 1, 1, 0, "", NULL, NULL },
	/* arrays over lines, inline tables, [[aot]], [telemetry.retry] */
	{ DATA "arrays.toml", 1, -1, 0, "", NULL, NULL },
	{ DATA "dotted.toml", 1, 0, 0, "https://dot.example/v1", NULL, NULL },
	{ DATA "inline_table.toml", 1, 0, 0, "https://inl.example/v1", NULL,
	    NULL },
	{ DATA "quoted_keys.toml", 1, 0, 0, "https://q.example", NULL, NULL },
	{ DATA "offline.toml", 1, 1, 1, "", NULL, NULL },
	{ DATA "offline_in_table.toml", 1, -1, 0, "", NULL, NULL },
	{ DATA "offline_auto.toml", 1, -1, 0, "", NULL, NULL },
	{ DATA "empty.toml", 1, -1, 0, "", NULL, NULL },
	{ DATA "bom.toml", 1, 0, 0, "", NULL, NULL },
	{ DATA "no_newline.toml", 1, 0, 0, "https://nonl.example", NULL, NULL },
	{ DATA "enabled_true.toml", 1, 1, 0, "https://keep.example/v1", NULL,
	    NULL },
	{ DATA "no_enabled.toml", 1, -1, 0, "https://keep.example/v1", NULL,
	    NULL },
	/*
	 * Broken files read as empty (enabled) with an error, unless a line
	 * scan finds `enabled = false` under [telemetry]: then 0.
	 */
	{ DATA "broken_string.toml", 0, 0, 0, "", NULL,
	    "line 3, column 21: unterminated string" },
	{ DATA "broken_header.toml", 0, -1, 0, "", NULL,
	    "line 2, column 11: unterminated table header" },
	{ DATA "broken_elsewhere.toml", 0, 0, 0, "", NULL,
	    "line 4, column 5: expected '='" },
	{ DATA "dup_key.toml", 0, 0, 0, "", NULL,
	    "duplicate key telemetry.enabled" },
	{ DATA "dup_table.toml", 0, 0, 0, "", NULL,
	    "table telemetry defined more than once" },
	{ DATA "bad_type.toml", 0, -1, 0, "", NULL,
	    "telemetry.enabled: expected true or false" },
	{ DATA "bare_value.toml", 0, -1, 0, "", NULL, "invalid value" },
	{ DATA "trailing_garbage.toml", 0, -1, 0, "", NULL,
	    "expected a newline after a value" },
};

static void
test_read_cases(void **state)
{
	const struct read_case	*rc;
	struct tconfig		 c;
	char			 path[PATH_MAX];
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(read_cases) / sizeof(read_cases[0]); i++) {
		rc = &read_cases[i];
		src_path(path, sizeof(path), rc->file);
		print_message("  %s\n", rc->file);
		assert_int_equal(config_read(path, &c), 0);
		assert_int_equal(c.exists, 1);
		assert_int_equal(c.parsed, rc->parsed);
		assert_int_equal(c.enabled, rc->enabled);
		assert_int_equal(c.offline, rc->offline);
		if (rc->endpoint != NULL)
			assert_string_equal(c.endpoint, rc->endpoint);
		else
			assert_memory_equal(c.endpoint, rc->prefix,
			    strlen(rc->prefix));
		if (rc->error != NULL)
			assert_non_null(strstr(c.error, rc->error));
		else
			assert_string_equal(c.error, "");
	}
}

static void
test_read_long_endpoint(void **state)
{
	struct tconfig	c;
	char		path[PATH_MAX];
	size_t		i;

	(void)state;
	src_path(path, sizeof(path), DATA "long_lines.toml");
	assert_int_equal(config_read(path, &c), 0);
	assert_int_equal(strlen(c.endpoint), 281);
	for (i = strlen("https://long.example/"); i < 281; i++)
		assert_int_equal(c.endpoint[i], 'p');
}

static void
test_read_missing_and_errors(void **state)
{
	struct tconfig	c;
	char		path[PATH_MAX];
	char		big[2048];

	(void)state;
	snprintf(path, sizeof(path), "%s/nope/config.toml", tmpdir);
	assert_int_equal(config_read(path, &c), 0);
	assert_int_equal(c.exists, 0);
	assert_int_equal(c.parsed, 1);
	assert_int_equal(c.enabled, -1);
	assert_string_equal(c.endpoint, "");

	/* a directory where the file should be: read error */
	assert_int_equal(config_read(tmpdir, &c), -1);

	/* an endpoint longer than the buffer is an error, not truncated */
	snprintf(path, sizeof(path), "%s/long.toml", tmpdir);
	memset(big, 'a', sizeof(big));
	memcpy(big, "[telemetry]\nendpoint = \"", 24);
	memcpy(big + sizeof(big) - 2, "\"\n", 2);
	spew(path, big, sizeof(big), 0600);
	assert_int_equal(config_read(path, &c), 0);
	assert_int_equal(c.parsed, 0);
	assert_string_equal(c.endpoint, "");
	assert_non_null(strstr(c.error, "endpoint"));

	/* nesting: 20 levels are fine, 1000 are refused without recursing */
	memset(big, 0, sizeof(big));
	memcpy(big, "a = ", 4);
	memset(big + 4, '[', 20);
	memset(big + 24, ']', 20);
	memcpy(big + 44, "\n[telemetry]\nenabled = false\n", 29);
	spew(path, big, strlen(big), 0600);
	assert_int_equal(config_read(path, &c), 0);
	assert_int_equal(c.parsed, 1);
	assert_int_equal(c.enabled, 0);
	memset(big + 4, '[', 1000);
	memset(big + 1004, ']', 1000);
	memcpy(big + 1004, "\n", 1);
	spew(path, big, 1005, 0600);
	assert_int_equal(config_read(path, &c), 0);
	assert_int_equal(c.parsed, 0);
	assert_non_null(strstr(c.error, "nested too deeply"));

	/* offline_mode must be a string */
	spew(path, "offline_mode = true\n", 20, 0600);
	assert_int_equal(config_read(path, &c), 0);
	assert_int_equal(c.parsed, 0);
	assert_int_equal(c.offline, 0);
}

/* ---- opt-out ---------------------------------------------------------- */

static void
setenv_or_unset(const char *name, const char *value)
{
	if (value != NULL)
		assert_int_equal(setenv(name, value, 1), 0);
	else
		assert_int_equal(unsetenv(name), 0);
}

static const struct optout_case {
	const char	*offline_env;
	const char	*telemetry_env;
	const char	*dnt_env;
	int		 cli;
	int		 cfg_enabled;
	int		 cfg_offline;
	const char	*reason;	/* NULL: enabled */
} optout_cases[] = {
	{ NULL, NULL, NULL, 0, -1, 0, NULL },
	{ NULL, NULL, NULL, 0, 1, 0, NULL },
	{ NULL, "0", NULL, 0, 1, 0, "env:ATOMCODE_TELEMETRY=0" },
	{ NULL, "false", NULL, 0, -1, 0, "env:ATOMCODE_TELEMETRY=false" },
	{ NULL, "off", NULL, 0, -1, 0, "env:ATOMCODE_TELEMETRY=off" },
	{ NULL, "No", NULL, 0, -1, 0, "env:ATOMCODE_TELEMETRY=no" },
	{ NULL, " 0", NULL, 0, -1, 0, "env:ATOMCODE_TELEMETRY=0" },
	{ NULL, "FALSE", NULL, 0, -1, 0, "env:ATOMCODE_TELEMETRY=false" },
	{ NULL, "on", NULL, 0, -1, 0, NULL },
	{ NULL, "nope", NULL, 0, -1, 0, NULL },
	{ NULL, "", NULL, 0, -1, 0, NULL },
	{ NULL, "1", NULL, 0, 0, 0, "config" },	/* nothing force-enables */
	{ NULL, NULL, "1", 1, -1, 0, "env:DO_NOT_TRACK=1" },
	/* consoledonottrack.com: anything but empty, 0 or false */
	{ NULL, NULL, "true", 0, -1, 0, "env:DO_NOT_TRACK" },
	{ NULL, NULL, "yes", 0, -1, 0, "env:DO_NOT_TRACK" },
	{ NULL, NULL, "2", 0, -1, 0, "env:DO_NOT_TRACK" },
	{ NULL, NULL, "0", 0, -1, 0, NULL },
	{ NULL, NULL, "false", 0, -1, 0, NULL },
	{ NULL, NULL, "False ", 0, -1, 0, NULL },
	{ NULL, NULL, "", 0, -1, 0, NULL },
	{ NULL, "0", "1", 1, 0, 0, "env:ATOMCODE_TELEMETRY=0" },
	{ NULL, NULL, NULL, 1, 1, 0, "cli:--no-telemetry" },
	{ NULL, NULL, NULL, 1, 0, 0, "cli:--no-telemetry" },
	{ NULL, NULL, NULL, 0, 0, 0, "config" },
	{ "1", NULL, NULL, 0, 1, 0, "offline" },
	{ " TRUE ", NULL, NULL, 0, -1, 0, "offline" },
	{ "On", "0", "1", 1, 0, 0, "offline" },
	{ NULL, "0", NULL, 0, -1, 1, "offline" },
	{ "0", NULL, NULL, 0, -1, 1, NULL },		/* env beats config */
	{ "off", NULL, NULL, 0, 0, 1, "config" },
	{ "auto", NULL, NULL, 0, -1, 0, NULL },		/* auto is online */
	{ "banana", NULL, NULL, 0, -1, 1, "offline" },	/* config decides */
	{ "banana", NULL, NULL, 0, -1, 0, NULL },
	{ "", NULL, NULL, 0, -1, 0, NULL },
};

static void
test_optout_precedence(void **state)
{
	const struct optout_case	*oc;
	struct tconfig			 c;
	struct optout			 o;
	size_t				 i;

	(void)state;
	for (i = 0; i < sizeof(optout_cases) / sizeof(optout_cases[0]); i++) {
		oc = &optout_cases[i];
		print_message("  case %zu\n", i);
		setenv_or_unset("ATOMCODE_OFFLINE", oc->offline_env);
		setenv_or_unset("ATOMCODE_TELEMETRY", oc->telemetry_env);
		setenv_or_unset("DO_NOT_TRACK", oc->dnt_env);
		memset(&c, 0, sizeof(c));
		c.exists = c.parsed = 1;
		c.enabled = oc->cfg_enabled;
		c.offline = oc->cfg_offline;
		optout_resolve(&c, oc->cli, &o);
		if (oc->reason == NULL) {
			assert_int_equal(o.enabled, 1);
			assert_null(o.reason);
		} else {
			assert_int_equal(o.enabled, 0);
			assert_non_null(o.reason);
			assert_string_equal(o.reason, oc->reason);
		}
	}
	/* no config at all */
	setenv_or_unset("ATOMCODE_OFFLINE", NULL);
	setenv_or_unset("ATOMCODE_TELEMETRY", NULL);
	setenv_or_unset("DO_NOT_TRACK", NULL);
	optout_resolve(NULL, 0, &o);
	assert_int_equal(o.enabled, 1);
	assert_string_equal(o.endpoint, CONFIG_DEFAULT_ENDPOINT);
}

static void
test_optout_from_files(void **state)
{
	struct tconfig	c;
	struct optout	o;
	char		path[PATH_MAX];

	(void)state;
	src_path(path, sizeof(path), DATA "basic.toml");
	assert_int_equal(config_read(path, &c), 0);
	optout_resolve(&c, 0, &o);
	assert_int_equal(o.enabled, 0);
	assert_string_equal(o.reason, "config");
	assert_string_equal(o.endpoint, "https://e.example/v1");

	src_path(path, sizeof(path), DATA "offline.toml");
	assert_int_equal(config_read(path, &c), 0);
	optout_resolve(&c, 0, &o);
	assert_string_equal(o.reason, "offline");

	/* a broken file reads as empty: enabled ... */
	src_path(path, sizeof(path), DATA "broken_header.toml");
	assert_int_equal(config_read(path, &c), 0);
	optout_resolve(&c, 0, &o);
	assert_int_equal(o.enabled, 1);
	assert_string_equal(o.endpoint, CONFIG_DEFAULT_ENDPOINT);
	/* ... unless it plainly says enabled = false under [telemetry] */
	src_path(path, sizeof(path), DATA "broken_string.toml");
	assert_int_equal(config_read(path, &c), 0);
	optout_resolve(&c, 0, &o);
	assert_int_equal(o.enabled, 0);
	assert_string_equal(o.reason, "config");
	assert_string_equal(o.endpoint, CONFIG_DEFAULT_ENDPOINT);
}

static void
test_endpoint_precedence(void **state)
{
	static const struct {
		const char	*env;
		const char	*cfg;
		const char	*want;
	} cases[] = {
		{ NULL, "", CONFIG_DEFAULT_ENDPOINT },
		{ NULL, "https://cfg.example/v1", "https://cfg.example/v1" },
		{ "http://127.0.0.1:9/v1", "https://cfg.example/v1",
		    "http://127.0.0.1:9/v1" },
		{ "http://127.0.0.1:9/v1", "", "http://127.0.0.1:9/v1" },
		/* set but empty: the default, not the config's */
		{ "", "https://cfg.example/v1", CONFIG_DEFAULT_ENDPOINT },
	};
	struct tconfig	c;
	struct optout	o;
	char		longenv[1100];
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		setenv_or_unset("ATOMCODE_TELEMETRY_ENDPOINT", cases[i].env);
		memset(&c, 0, sizeof(c));
		c.enabled = -1;
		snprintf(c.endpoint, sizeof(c.endpoint), "%s", cases[i].cfg);
		optout_resolve(&c, 0, &o);
		assert_string_equal(o.endpoint, cases[i].want);
	}
	/* too long to hold: ignored, never truncated */
	memset(longenv, 'x', sizeof(longenv) - 1);
	longenv[sizeof(longenv) - 1] = '\0';
	setenv_or_unset("ATOMCODE_TELEMETRY_ENDPOINT", longenv);
	snprintf(c.endpoint, sizeof(c.endpoint), "https://cfg.example/v1");
	optout_resolve(&c, 0, &o);
	assert_string_equal(o.endpoint, "https://cfg.example/v1");
	/* endpoint resolves even when disabled */
	setenv_or_unset("ATOMCODE_TELEMETRY_ENDPOINT", "http://x/");
	setenv_or_unset("DO_NOT_TRACK", "1");
	optout_resolve(&c, 0, &o);
	assert_int_equal(o.enabled, 0);
	assert_string_equal(o.endpoint, "http://x/");
	setenv_or_unset("DO_NOT_TRACK", NULL);
	setenv_or_unset("ATOMCODE_TELEMETRY_ENDPOINT", NULL);
}

/* ---- editing ---------------------------------------------------------- */

/* Copy a data file into tmpdir/config.toml; returns its path. */
static const char *
stage(const char *rel, mode_t mode)
{
	static char	 dst[PATH_MAX];
	char		 src[PATH_MAX], *data;
	size_t		 len;

	src_path(src, sizeof(src), rel);
	data = slurp(src, &len);
	assert_non_null(data);
	snprintf(dst, sizeof(dst), "%s/config.toml", tmpdir);
	unlink(dst);
	spew(dst, data, len, mode);
	free(data);
	return dst;
}

/* Edit the staged copy of rel and compare with the expected bytes. */
static void
edit_expect(const char *rel, int enabled, const char *want, size_t wantlen)
{
	const char	*path;
	char		 cause[512], *got;
	size_t		 len;
	struct tconfig	 c;

	print_message("  %s -> %d\n", rel, enabled);
	path = stage(rel, 0600);
	assert_int_equal(config_set_enabled(path, enabled, cause,
	    sizeof(cause)), 0);
	got = slurp(path, &len);
	assert_non_null(got);
	assert_int_equal(len, wantlen);
	assert_memory_equal(got, want, wantlen);
	free(got);
	assert_int_equal(config_read(path, &c), 0);
	assert_int_equal(c.parsed, 1);
	assert_int_equal(c.enabled, enabled);
	assert_int_equal(tl_count_entries(tmpdir), 1);	/* no temp left */
}

/* want = original with the first `from` replaced by `to`. */
static void
edit_replace(const char *rel, int enabled, const char *from, const char *to)
{
	char	 src[PATH_MAX], *old, *want, *at;
	size_t	 len, flen, tlen;

	src_path(src, sizeof(src), rel);
	old = slurp(src, &len);
	assert_non_null(old);
	at = strstr(old, from);
	assert_non_null(at);
	flen = strlen(from);
	tlen = strlen(to);
	want = malloc(len - flen + tlen + 1);
	assert_non_null(want);
	memcpy(want, old, (size_t)(at - old));
	memcpy(want + (at - old), to, tlen);
	memcpy(want + (at - old) + tlen, at + flen,
	    len - (size_t)(at - old) - flen);
	edit_expect(rel, enabled, want, len - flen + tlen);
	free(old);
	free(want);
}

/* want = original + tail */
static void
edit_append(const char *rel, int enabled, const char *tail)
{
	char	 src[PATH_MAX], *old, *want;
	size_t	 len, tlen;

	src_path(src, sizeof(src), rel);
	old = slurp(src, &len);
	assert_non_null(old);
	tlen = strlen(tail);
	want = malloc(len + tlen + 1);
	assert_non_null(want);
	memcpy(want, old, len);
	memcpy(want + len, tail, tlen);
	edit_expect(rel, enabled, want, len + tlen);
	free(old);
	free(want);
}

static void
test_edit_golden(void **state)
{
	const char	*path, *block;
	char		 src[PATH_MAX], cause[512], *old, *got;
	size_t		 len, glen;
	struct tconfig	 c;

	(void)state;
	/* appended block only; nothing else differs */
	edit_append(GOLDEN, 0, "\n[telemetry]\nenabled = false\n");

	/* then enabling flips only the value token */
	src_path(src, sizeof(src), GOLDEN);
	old = slurp(src, &len);
	assert_non_null(old);
	path = stage(GOLDEN, 0644);
	assert_int_equal(config_set_enabled(path, 0, cause, sizeof(cause)), 0);
	assert_int_equal(config_set_enabled(path, 1, cause, sizeof(cause)), 0);
	got = slurp(path, &glen);
	block = "\n[telemetry]\nenabled = true\n";
	assert_int_equal(glen, len + strlen(block));
	assert_memory_equal(got, old, len);	/* block removed: same */
	assert_string_equal(got + len, block);
	assert_int_equal(config_read(path, &c), 0);
	assert_int_equal(c.parsed, 1);
	assert_int_equal(c.enabled, 1);
	assert_int_equal(c.offline, 0);
	free(old);
	free(got);
}

static void
test_edit_cases(void **state)
{
	(void)state;
	/* existing enabled: only the value token, comments kept */
	edit_replace(DATA "enabled_true.toml", 0, "enabled = true   # was on",
	    "enabled = false   # was on");
	edit_replace(DATA "enabled_true.toml", 1, "", "");	/* no change */
	edit_replace(DATA "inline_comment.toml", 1,
	    "enabled = false # turn it off", "enabled = true # turn it off");
	/* table without the key: first line after the header */
	edit_replace(DATA "no_enabled.toml", 1, "[telemetry] # our table\n",
	    "[telemetry] # our table\nenabled = true\n");
	/* CRLF kept */
	edit_replace(DATA "crlf.toml", 1, "enabled = false\r\n",
	    "enabled = true\r\n");
	/* no trailing newline: none added */
	edit_replace(DATA "no_newline.toml", 1, "enabled = false",
	    "enabled = true");
	/* dotted and inline forms edited where they are */
	edit_replace(DATA "dotted.toml", 1, "telemetry.enabled = false",
	    "telemetry.enabled = true");
	edit_replace(DATA "inline_table.toml", 1, "{ enabled = false,",
	    "{ enabled = true,");
	/* the fake [telemetry] in a multi-line string is not touched */
	edit_replace(DATA "multiline.toml", 0, "[telemetry]\nenabled = true",
	    "[telemetry]\nenabled = false");
	/* [telemetry.retry] / [[profiles]] are not ours: append */
	edit_append(DATA "arrays.toml", 1, "\n[telemetry]\nenabled = true\n");
	edit_append(DATA "empty.toml", 0, "[telemetry]\nenabled = false\n");
}

static void
test_edit_generated(void **state)
{
	static const struct {
		const char	*in;
		int		 enabled;
		const char	*out;
	} cases[] = {
		{ "a = 1", 1, "a = 1\n\n[telemetry]\nenabled = true\n" },
		{ "a = 1\r\nb = 2\r\n", 0,
		    "a = 1\r\nb = 2\r\n\r\n[telemetry]\r\n"
		    "enabled = false\r\n" },
		{ "a = 1\r\nb = 2", 0,
		    "a = 1\r\nb = 2\r\n\r\n[telemetry]\r\n"
		    "enabled = false\r\n" },
		{ "[telemetry]", 0, "[telemetry]\nenabled = false\n" },
		{ "[telemetry]\r\nendpoint = \"x\"\r\n", 1,
		    "[telemetry]\r\nenabled = true\r\nendpoint = \"x\"\r\n" },
		{ "telemetry.endpoint = \"x\"\nother = 1\n", 0,
		    "telemetry.endpoint = \"x\"\ntelemetry.enabled = false\n"
		    "other = 1\n" },
		{ "[telemetry]\nenabled = \"no\" # typo\n", 0,
		    "[telemetry]\nenabled = false # typo\n" },
		{ "[telemetry]\nendpoint = \"https://keep\"\nenabled=true\n"
		    "[x]\ny = 1\n", 0,
		    "[telemetry]\nendpoint = \"https://keep\"\nenabled=false\n"
		    "[x]\ny = 1\n" },
	};
	char		 path[PATH_MAX], cause[512], *got;
	size_t		 i, len;

	(void)state;
	snprintf(path, sizeof(path), "%s/config.toml", tmpdir);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("  case %zu\n", i);
		spew(path, cases[i].in, strlen(cases[i].in), 0600);
		assert_int_equal(config_set_enabled(path, cases[i].enabled,
		    cause, sizeof(cause)), 0);
		got = slurp(path, &len);
		assert_non_null(got);
		assert_string_equal(got, cases[i].out);
		free(got);
	}
}

static void
test_edit_refuses_invalid(void **state)
{
	static const char *const bad[] = {
		DATA "broken_string.toml",
		DATA "broken_header.toml",
		DATA "broken_elsewhere.toml",
		DATA "dup_key.toml",
	};
	const char	*path;
	char		 src[PATH_MAX], cause[512], want[512], *old, *got;
	size_t		 i, len, glen;
	struct stat	 before, after;
	struct tconfig	 c;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("  %s\n", bad[i]);
		src_path(src, sizeof(src), bad[i]);
		old = slurp(src, &len);
		assert_non_null(old);
		path = stage(bad[i], 0600);
		assert_int_equal(stat(path, &before), 0);
		assert_int_equal(config_read(path, &c), 0);
		snprintf(want, sizeof(want), "%s is not valid TOML, so I won't "
		    "rewrite it and risk losing your other settings: %s\n"
		    "Fix the syntax error (or move the file aside) and re-run.",
		    path, c.error);
		assert_int_equal(config_set_enabled(path, 0, cause,
		    sizeof(cause)), -1);
		assert_string_equal(cause, want);
		got = slurp(path, &glen);
		assert_int_equal(glen, len);
		assert_memory_equal(got, old, len);
		assert_int_equal(stat(path, &after), 0);
		assert_int_equal(before.st_ino, after.st_ino);
		assert_int_equal(tl_count_entries(tmpdir), 1);
		free(old);
		free(got);
	}

	/* telemetry as an inline value without enabled: refuse, untouched */
	path = stage(DATA "empty.toml", 0600);
	spew(path, "telemetry = { endpoint = \"x\" }\n",
	    strlen("telemetry = { endpoint = \"x\" }\n"), 0600);
	assert_int_equal(config_set_enabled(path, 0, cause, sizeof(cause)), -1);
	assert_non_null(strstr(cause, "by hand"));
	got = slurp(path, NULL);
	assert_string_equal(got, "telemetry = { endpoint = \"x\" }\n");
	free(got);
}

static void
test_edit_mode_symlink_missing(void **state)
{
	const char	*path;
	char		 cause[512], dir[512], file[PATH_MAX], *got;
	char		 link[PATH_MAX], target[PATH_MAX];
	struct stat	 sb, sb2;
	mode_t		 old;

	(void)state;
	/* mode 0640 kept */
	path = stage(DATA "basic.toml", 0640);
	assert_int_equal(config_set_enabled(path, 1, cause, sizeof(cause)), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0640);

	/* unchanged value: not rewritten at all (same inode) */
	assert_int_equal(config_set_enabled(path, 1, cause, sizeof(cause)), 0);
	assert_int_equal(stat(path, &sb2), 0);
	assert_int_equal(sb.st_ino, sb2.st_ino);

	/* missing file and dir: created (0700 dir, 0600 file) */
	old = umask(022);
	snprintf(dir, sizeof(dir), "%s/new/.atomcode", tmpdir);
	snprintf(file, sizeof(file), "%s/config.toml", dir);
	assert_int_equal(config_set_enabled(file, 0, cause, sizeof(cause)), 0);
	umask(old);
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	assert_int_equal(stat(file, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	got = slurp(file, NULL);
	assert_string_equal(got, "[telemetry]\nenabled = false\n");
	free(got);

	/* symlink: target edited, link kept */
	snprintf(target, sizeof(target), "%s/real.toml", tmpdir);
	snprintf(link, sizeof(link), "%s/link.toml", tmpdir);
	spew(target, "[telemetry]\nenabled = true\n",
	    strlen("[telemetry]\nenabled = true\n"), 0600);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(config_set_enabled(link, 0, cause, sizeof(cause)), 0);
	assert_int_equal(lstat(link, &sb), 0);
	assert_true(S_ISLNK(sb.st_mode));
	got = slurp(target, NULL);
	assert_string_equal(got, "[telemetry]\nenabled = false\n");
	free(got);

	/* dangling symlink: refused */
	unlink(target);
	assert_int_equal(config_set_enabled(link, 1, cause, sizeof(cause)), -1);
	assert_non_null(strstr(cause, "symbolic link"));
	assert_int_equal(lstat(link, &sb), 0);
	assert_true(S_ISLNK(sb.st_mode));
}

/* An interrupted edit leaves nothing readable behind; stale copies go. */
static void
test_edit_temp_private_and_cleaned(void **state)
{
	const char	*path;
	char		 cause[512], stale[PATH_MAX], live[PATH_MAX];
	char		 odd[PATH_MAX], other[PATH_MAX];
	struct stat	 sb;
	int		 lfd;

	(void)state;
	/* The temp copy is 0600 while it is written, even for a 0644 file. */
	path = stage(DATA "basic.toml", 0644);
	tmp_synced = 0;
	tmp_mode_max = 0;
	assert_int_equal(config_set_enabled(path, 1, cause, sizeof(cause)), 0);
	assert_true(tmp_synced > 0);
	assert_int_equal(tmp_mode_max, 0600);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0644);	/* final mode kept */

	/* Copies a killed edit left: removed at the next edit. */
	snprintf(stale, sizeof(stale), "%s.tmp-Ab12Cd", path);
	spew(stale, "api_key = \"sk-secret\"\n", 21, 0644);
	/* One whose edit is still running (its lock held): kept. */
	snprintf(live, sizeof(live), "%s.tmp-Zz9Yx8", path);
	spew(live, "x = 1\n", 6, 0600);
	lfd = open(live, O_RDONLY);
	assert_true(lfd != -1);
	assert_int_equal(flock(lfd, LOCK_EX), 0);
	/* Names that are not ours: kept. */
	snprintf(odd, sizeof(odd), "%s.tmp-abc", path);
	spew(odd, "x\n", 2, 0600);
	snprintf(other, sizeof(other), "%s/other.toml.tmp-Ab12Cd", tmpdir);
	spew(other, "x\n", 2, 0600);

	assert_int_equal(config_set_enabled(path, 0, cause, sizeof(cause)), 0);
	assert_int_equal(lstat(stale, &sb), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(lstat(live, &sb), 0);
	assert_int_equal(lstat(odd, &sb), 0);
	assert_int_equal(lstat(other, &sb), 0);
	close(lfd);
	/* Its lock is free now: the next edit takes it away too. */
	assert_int_equal(config_set_enabled(path, 1, cause, sizeof(cause)), 0);
	assert_int_equal(lstat(live, &sb), -1);
	/* A FIFO with a temp name is never opened (no hang), never removed. */
	assert_int_equal(mkfifo(stale, 0600), 0);
	alarm(5);
	assert_int_equal(config_set_enabled(path, 0, cause, sizeof(cause)), 0);
	alarm(0);
	assert_int_equal(lstat(stale, &sb), 0);
	assert_true(S_ISFIFO(sb.st_mode));
}

/* A FIFO (or socket, directory) planted at config.toml never blocks. */
static void
test_read_fifo(void **state)
{
	char		path[PATH_MAX], target[PATH_MAX];
	struct tconfig	c;

	(void)state;
	snprintf(path, sizeof(path), "%s/config.toml", tmpdir);
	assert_int_equal(mkfifo(path, 0600), 0);
	alarm(5);	/* a blocking open fails the test instead of hanging */
	assert_int_equal(config_read(path, &c), -1);
	assert_int_equal(c.parsed, 0);
	alarm(0);
	/* ... nor behind a symlink, which is otherwise followed */
	unlink(path);
	snprintf(target, sizeof(target), "%s/fifo", tmpdir);
	assert_int_equal(mkfifo(target, 0600), 0);
	assert_int_equal(symlink(target, path), 0);
	alarm(5);
	assert_int_equal(config_read(path, &c), -1);
	alarm(0);
}

/* config_resolve: the one resolution of CLI, library and agent. */
static void
test_resolve(void **state)
{
	static const struct {
		const char	*text;
		int		 enabled, lenient;
	} cases[] = {
		/* does not parse, no opt-out found: on, as upstream */
		{ "[telemetry\nenabled = false\n", 1, 0 },
		{ "x = \"unterminated\n[telemetry]\nenabled = true\n", 1, 0 },
		/* does not parse, but the opt-out is there: off */
		{ "x = \"unterminated\n[telemetry]\nenabled = false\n", 0, 1 },
		{ "x = [1,\n[telemetry]\n  enabled=false # bye\r\n", 0, 1 },
		{ "telemetry.enabled = false\nbroken = \n", 0, 1 },
		/* under another table it is someone else's key */
		{ "[other]\nenabled = false\nbroken = \n", 1, 0 },
		{ "[[telemetry]]\nenabled = false\nbroken = \n", 1, 0 },
		{ "[telemetry]\nenabled = falsey\nbroken = \n", 1, 0 },
		/* parses: the normal path */
		{ "[telemetry]\nenabled = false\n", 0, 0 },
	};
	struct tconfig	c;
	struct optout	o;
	char		path[PATH_MAX], warn[512];
	size_t		i;

	(void)state;
	setenv_or_unset("ATOMCODE_OFFLINE", NULL);
	setenv_or_unset("ATOMCODE_TELEMETRY", NULL);
	setenv_or_unset("DO_NOT_TRACK", NULL);
	snprintf(path, sizeof(path), "%s/config.toml", tmpdir);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("  case %zu\n", i);
		spew(path, cases[i].text, strlen(cases[i].text), 0600);
		assert_int_equal(config_resolve(path, 0, &c, &o), 0);
		assert_int_equal(o.enabled, cases[i].enabled);
		assert_int_equal(c.lenient_off, cases[i].lenient);
		if (!cases[i].enabled)
			assert_string_equal(o.reason, "config");
		config_warning(&c, warn, sizeof(warn));
		/* status warns whenever the file does not parse */
		assert_int_equal(warn[0] != '\0', !c.parsed);
	}
	/* unreadable (a directory): off until it can be read, and said */
	unlink(path);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(config_resolve(path, 0, &c, &o), -1);
	assert_int_equal(o.enabled, 0);
	assert_string_equal(o.reason, "config");
	assert_int_equal(c.unreadable, EISDIR);
	config_warning(&c, warn, sizeof(warn));
	assert_non_null(strstr(warn, "cannot be read"));
	/* an env opt-out still names itself first */
	setenv_or_unset("DO_NOT_TRACK", "1");
	assert_int_equal(config_resolve(path, 0, &c, &o), -1);
	assert_string_equal(o.reason, "env:DO_NOT_TRACK=1");
	setenv_or_unset("DO_NOT_TRACK", NULL);
	rmdir(path);
	/* missing: on, nothing to say */
	assert_int_equal(config_resolve(path, 0, &c, &o), 0);
	assert_int_equal(o.enabled, 1);
	config_warning(&c, warn, sizeof(warn));
	assert_string_equal(warn, "");
}

static void
test_endpoint_check(void **state)
{
	static const struct {
		const char	*url;
		int		 ok;
	} cases[] = {
		{ "https://acs.atomgit.com/api/v1/events", 1 },
		{ "http://127.0.0.1:9/v1/events", 1 },
		{ "HTTPS://Example.com", 1 },
		{ "http://[::1]:8080/x", 1 },
		{ "not a url", 0 },
		{ "ftp://example.com/x", 0 },
		{ "file:///etc/passwd", 0 },
		{ "https://", 0 },
		{ "https:///path", 0 },
		{ "http://:80/", 0 },
		{ "https://exa mple.com/", 0 },
		{ "https://example.com/\n", 0 },
		{ "", 0 },
		{ "example.com/v1", 0 },
	};
	char	cause[256];
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cause[0] = '\0';
		if ((config_endpoint_check(cases[i].url, cause,
		    sizeof(cause)) == 0) != cases[i].ok)
			fail_msg("case %zu (%s): %s", i, cases[i].url, cause);
		if (!cases[i].ok)
			assert_true(cause[0] != '\0');
	}
}

/* config_can_set_enabled: the edit's checks, nothing written. */
static void
test_can_set_enabled(void **state)
{
	char		path[PATH_MAX], cause[1024], back[PATH_MAX];
	const char	*ok = "# mine\n[telemetry]\nenabled = true\n";
	struct stat	st, st2;
	int		fd;
	ssize_t		n;

	(void)state;
	snprintf(path, sizeof(path), "%s/config.toml", tmpdir);
	spew(path, ok, strlen(ok), 0640);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(config_can_set_enabled(path, 0, cause,
	    sizeof(cause)), 0);
	assert_int_equal(stat(path, &st2), 0);
	assert_true(st.st_ino == st2.st_ino && st.st_mtim.tv_nsec ==
	    st2.st_mtim.tv_nsec);
	fd = open(path, O_RDONLY);
	n = read(fd, back, sizeof(back));
	close(fd);
	assert_int_equal(n, (ssize_t)strlen(ok));
	assert_memory_equal(back, ok, strlen(ok));
	assert_int_equal(tl_count_entries(tmpdir), 1);	/* no temp left */

	/* does not parse: refused with the edit's own message */
	spew(path, "[providers\nx =\n", 16, 0600);
	assert_int_equal(config_can_set_enabled(path, 0, cause,
	    sizeof(cause)), -1);
	assert_non_null(strstr(cause, "is not valid TOML"));
	/* a directory: refused */
	unlink(path);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(config_can_set_enabled(path, 0, cause,
	    sizeof(cause)), -1);
	assert_non_null(strstr(cause, "cannot update"));
	rmdir(path);
	/* missing file, missing directory: the edit would create them */
	snprintf(path, sizeof(path), "%s/sub/config.toml", tmpdir);
	assert_int_equal(config_can_set_enabled(path, 0, cause,
	    sizeof(cause)), 0);
	snprintf(back, sizeof(back), "%s/sub", tmpdir);
	assert_int_equal(access(back, F_OK), -1);	/* not created */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_cases),
		cmocka_unit_test(test_read_long_endpoint),
		cmocka_unit_test_setup_teardown(test_read_missing_and_errors,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_optout_precedence,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_optout_from_files,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_endpoint_precedence,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_edit_golden,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_edit_cases,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_edit_generated,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_edit_refuses_invalid,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_edit_mode_symlink_missing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_edit_temp_private_and_cleaned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_fifo, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_resolve, setup, teardown),
		cmocka_unit_test(test_endpoint_check),
		cmocka_unit_test_setup_teardown(test_can_set_enabled, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
