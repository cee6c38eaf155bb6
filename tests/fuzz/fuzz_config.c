/*
 * fuzz_config — libFuzzer target for the config.toml reader and the
 * in-place `enabled` edit (proto/config.c). The input is written to a file
 * in a private scratch directory (one path per process, reused) and read
 * with config_read. When it parsed, a copy is edited with
 * config_set_enabled and must:
 *   - change nothing but the enabled value (or insert only an
 *     "enabled = ..." line / "[telemetry]" table), or refuse with a cause
 *     and leave the file as it was;
 *   - re-read as parsed, with the new enabled value and the same endpoint
 *     and offline_mode;
 *   - leave the bytes alone when asked for the value already set;
 *   - flip back to the other value.
 * Must never touch files outside its scratch directory.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz_common.h"

/* Characters an edit may insert / the old value it may replace. */
#define EDIT_INSERT_CHARS	"[telemetry].enabled = truefalse\r\n"
#define EDIT_REMOVE_CHARS	"truefals"
#define EDIT_REMOVE_MAX		5	/* strlen("false") */

static char	in_path[FUZZ_PATH_MAX], copy_path[FUZZ_PATH_MAX];

/* Scratch paths, created once per process. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char	*dir = fuzz_scratch_dir("config");

	(void)argc;
	(void)argv;
	fuzz_path(in_path, sizeof in_path, dir, "config.toml");
	fuzz_path(copy_path, sizeof copy_path, dir, "copy.toml");
	return 0;
}

static int
only_chars(const char *p, size_t n, const char *set)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\0' || strchr(set, p[i]) == NULL)
			return 0;
	}
	return 1;
}

/*
 * new must be old with one small splice: a common prefix and suffix,
 * between them at most a replaced true/false and an inserted line.
 */
static void
check_splice(const char *old, size_t olen, const char *new, size_t nlen)
{
	size_t	pre = 0, suf = 0, min = olen < nlen ? olen : nlen;

	while (pre < min && old[pre] == new[pre])
		pre++;
	while (suf < min - pre && old[olen - 1 - suf] == new[nlen - 1 - suf])
		suf++;
	FUZZ_CHECK(olen - pre - suf <= EDIT_REMOVE_MAX && only_chars(old + pre,
	    olen - pre - suf, EDIT_REMOVE_CHARS), "edit removed \"%.*s\" at "
	    "byte %zu", (int)(olen - pre - suf), old + pre, pre);
	FUZZ_CHECK(only_chars(new + pre, nlen - pre - suf, EDIT_INSERT_CHARS),
	    "edit inserted \"%.*s\" at byte %zu", (int)(nlen - pre - suf),
	    new + pre, pre);
}

static void
check_edit(const uint8_t *data, size_t size, const struct tconfig *c)
{
	struct tconfig	 c2;
	char		 cause[1024], *new, *new2;
	size_t		 nlen, nlen2;
	int		 want = c->enabled != 1, r;

	fuzz_write_file(copy_path, data, size);
	r = config_set_enabled(copy_path, want, cause, sizeof cause);
	new = fuzz_read_file(copy_path, &nlen);
	FUZZ_CHECK(new != NULL, "the edit removed the file");
	if (r == -1) {
		FUZZ_CHECK(cause[0] != '\0', "refused without a cause");
		FUZZ_CHECK(nlen == size && fuzz_memeq(new, data, size),
		    "refused (%s) but changed the file", cause);
		free(new);
		return;
	}
	check_splice((const char *)data, size, new, nlen);
	FUZZ_CHECK(config_read(copy_path, &c2) == 0, "re-read failed");
	FUZZ_CHECK(c2.parsed, "edited file does not parse: %s\n%.*s", c2.error,
	    (int)nlen, new);
	FUZZ_CHECK(c2.enabled == want, "enabled reads %d, set %d\n%.*s",
	    c2.enabled, want, (int)nlen, new);
	FUZZ_CHECK(strcmp(c2.endpoint, c->endpoint) == 0, "endpoint changed: "
	    "\"%s\" → \"%s\"", c->endpoint, c2.endpoint);
	FUZZ_CHECK(c2.offline == c->offline, "offline_mode changed");

	/* Setting it again changes nothing. */
	r = config_set_enabled(copy_path, want, cause, sizeof cause);
	FUZZ_CHECK(r == 0, "second edit refused: %s", cause);
	new2 = fuzz_read_file(copy_path, &nlen2);
	FUZZ_CHECK(new2 != NULL && nlen2 == nlen && fuzz_memeq(new, new2,
	    nlen), "setting the value already set changed the file");
	free(new2);

	/* And back. */
	r = config_set_enabled(copy_path, !want, cause, sizeof cause);
	FUZZ_CHECK(r == 0, "flipping back refused: %s", cause);
	new2 = fuzz_read_file(copy_path, &nlen2);
	FUZZ_CHECK(new2 != NULL, "the edit removed the file");
	check_splice(new, nlen, new2, nlen2);
	FUZZ_CHECK(config_read(copy_path, &c2) == 0 && c2.parsed &&
	    c2.enabled == !want, "flipped back: parsed %d enabled %d (%s)",
	    c2.parsed, c2.enabled, c2.error);
	free(new2);
	free(new);
}

/* One input: the bytes of a config.toml. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tconfig	c;

	fuzz_write_file(in_path, data, size);
	FUZZ_CHECK(config_read(in_path, &c) == 0, "config_read: %s", c.error);
	FUZZ_CHECK(c.exists == 1, "existing file not seen");
	FUZZ_CHECK(memchr(c.endpoint, '\0', sizeof c.endpoint) != NULL &&
	    memchr(c.error, '\0', sizeof c.error) != NULL, "unterminated");
	FUZZ_CHECK(c.enabled >= -1 && c.enabled <= 1, "enabled %d", c.enabled);
	FUZZ_CHECK(c.offline == 0 || c.offline == 1, "offline %d", c.offline);
	if (!c.parsed) {
		FUZZ_CHECK(c.error[0] != '\0', "parse failure, no message");
		/*
		 * A broken file reads as empty, except for the user's opt-out
		 * that the lenient line scan finds (README "Opt-out").
		 */
		FUZZ_CHECK(c.offline == 0 && c.endpoint[0] == '\0',
		    "a broken file must read as empty");
		FUZZ_CHECK(c.lenient_off ? c.enabled == 0 : c.enabled == -1,
		    "broken file: enabled %d, lenient_off %d", c.enabled,
		    c.lenient_off);
		return 0;
	}
	check_edit(data, size, &c);
	return 0;
}
