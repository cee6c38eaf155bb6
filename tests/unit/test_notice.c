/*
 * test_notice.c — the first-run notice (atc_first_run_notice): the exact
 * bytes upstream prints, once per user, never for an opted-out user, the
 * marker created race-free by exactly one of fifty processes, and a marker
 * that cannot be created still shows the notice.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
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

#include "atomcode/telemetry.h"
#include "testlib.h"

#define RACERS	50	/* processes asking for the notice at once */

/* Upstream's text (two lines ending in a newline), printed by eprintln!. */
static const char upstream[] =
    "\xe2\x84\xb9 AtomCode collects anonymous usage telemetry to improve the"
    " product.\n"
    "  Opt out: `atomcode telemetry disable`  |  Details:"
    " https://atomgit.com/atomgit_atomcode/atomcode/blob/main/docs/"
    "telemetry.md\n"
    "\n";

static char	tmpdir[256];
static char	home[300];
static char	marker[400];

static int
setup(void **state)
{
	(void)state;
	if (tl_tmpdir(tmpdir, sizeof(tmpdir), "noticetest") == -1)
		return -1;
	/* The home does not exist yet: a first run creates it. */
	snprintf(home, sizeof(home), "%s/home", tmpdir);
	snprintf(marker, sizeof(marker), "%s/.telemetry_notice_shown", home);
	setenv("ATOMCODE_HOME", home, 1);
	setenv("ATOMCODE_TELEMETRYD", "/bin/false", 1);
	tl_clear_env();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	tl_clear_env();
	return tl_rm_rf(tmpdir);
}

static int
exists(const char *path)
{
	struct stat	sb;

	return lstat(path, &sb) == 0;
}

/* Open a handle that never touches the socket. */
static struct atc *
open_handle(int no_telemetry)
{
	struct atc_options	 o;
	struct atc		*h = NULL;

	memset(&o, 0, sizeof(o));
	o.flags = ATC_F_NO_AGENT | ATC_F_NO_SPAWN | ATC_F_NO_REPO_ORIGIN;
	o.no_telemetry = no_telemetry;
	assert_int_equal(atc_open(&o, &h), ATC_OK);
	assert_non_null(h);
	return h;
}

static void
t_once_exact_text(void **state)
{
	struct atc	*h;
	char		 buf[ATC_NOTICE_MAX];
	struct stat	 sb;

	(void)state;
	h = open_handle(0);
	assert_int_equal(atc_first_run_notice(h, buf, sizeof(buf)), ATC_OK);
	assert_string_equal(buf, upstream);
	assert_int_equal(lstat(marker, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	assert_int_equal(sb.st_size, 0);
	/* Asked again in the same process, and by a new handle: nothing. */
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(atc_first_run_notice(h, buf, sizeof(buf)), ATC_OK);
	assert_string_equal(buf, "");
	atc_close(h);
	h = open_handle(0);
	assert_int_equal(atc_first_run_notice(h, buf, sizeof(buf)), ATC_OK);
	assert_string_equal(buf, "");
	atc_close(h);
}

static void
t_marker_from_upstream(void **state)
{
	struct atc	*h;
	char		 buf[ATC_NOTICE_MAX];
	int		 fd;

	(void)state;
	/* A marker upstream created (any mode) means: already told. */
	assert_int_equal(mkdir(home, 0700), 0);
	fd = open(marker, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd != -1);
	close(fd);
	h = open_handle(0);
	assert_int_equal(atc_first_run_notice(h, buf, sizeof(buf)), ATC_OK);
	assert_string_equal(buf, "");
	atc_close(h);
}

static void
check_opted_out(const char *env, const char *val, int no_telemetry,
    const char *config)
{
	struct atc	*h;
	char		 buf[ATC_NOTICE_MAX], path[400];
	FILE		*fp;

	if (config != NULL) {
		assert_int_equal(mkdir(home, 0700), 0);
		snprintf(path, sizeof(path), "%s/config.toml", home);
		assert_non_null(fp = fopen(path, "w"));
		fputs(config, fp);
		fclose(fp);
	}
	if (env != NULL)
		setenv(env, val, 1);
	h = open_handle(no_telemetry);
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(atc_first_run_notice(h, buf, sizeof(buf)),
	    ATC_E_DISABLED);
	assert_string_equal(buf, "");
	atc_close(h);
	if (env != NULL)
		unsetenv(env);
	assert_false(exists(marker));
	if (config == NULL)
		assert_false(exists(home));	/* not even the directory */
}

static void
t_optout_env_offline(void **state)
{
	(void)state;
	check_opted_out("ATOMCODE_OFFLINE", "1", 0, NULL);
}

static void
t_optout_env_telemetry(void **state)
{
	(void)state;
	check_opted_out("ATOMCODE_TELEMETRY", "0", 0, NULL);
}

static void
t_optout_env_dnt(void **state)
{
	(void)state;
	check_opted_out("DO_NOT_TRACK", "1", 0, NULL);
}

static void
t_optout_flag(void **state)
{
	(void)state;
	check_opted_out(NULL, NULL, 1, NULL);
}

static void
t_optout_config(void **state)
{
	(void)state;
	check_opted_out(NULL, NULL, 0, "[telemetry]\nenabled = false\n");
}

static void
t_optout_config_offline(void **state)
{
	(void)state;
	check_opted_out(NULL, NULL, 0, "offline_mode = \"on\"\n");
}

static void
t_bad_args(void **state)
{
	struct atc	*h;
	char		 buf[ATC_NOTICE_MAX];

	(void)state;
	h = open_handle(0);
	assert_int_equal(atc_first_run_notice(NULL, buf, sizeof(buf)),
	    ATC_E_INVAL);
	assert_int_equal(atc_first_run_notice(h, NULL, sizeof(buf)),
	    ATC_E_INVAL);
	assert_int_equal(atc_first_run_notice(h, buf, 16), ATC_E_INVAL);
	assert_false(exists(marker));	/* a refused call marks nothing */
	atc_close(h);
}

static void
t_marker_cannot_be_created(void **state)
{
	struct atc	*h;
	char		 buf[ATC_NOTICE_MAX], real[400];

	(void)state;
	/* The marker's name is taken by a directory we cannot replace. */
	assert_int_equal(mkdir(home, 0700), 0);
	assert_int_equal(mkdir(marker, 0700), 0);
	h = open_handle(0);
	assert_int_equal(atc_first_run_notice(h, buf, sizeof(buf)), ATC_OK);
	assert_string_equal(buf, "");	/* it exists: upstream's rule */
	atc_close(h);
	assert_int_equal(rmdir(marker), 0);
	/* The state directory is refused (a symlink): tell the user anyway. */
	snprintf(real, sizeof(real), "%s/real", tmpdir);
	assert_int_equal(rename(home, real), 0);
	assert_int_equal(symlink(real, home), 0);
	h = open_handle(0);
	assert_int_equal(atc_first_run_notice(h, buf, sizeof(buf)), ATC_E_IO);
	assert_string_equal(buf, upstream);
	atc_close(h);
	snprintf(real, sizeof(real), "%s/real/.telemetry_notice_shown", tmpdir);
	assert_false(exists(real));
}

static void
t_fifty_racers(void **state)
{
	pid_t	pids[RACERS];
	int	go[2], i, st, shown = 0, silent = 0;
	char	c;

	(void)state;
	assert_int_equal(pipe(go), 0);
	for (i = 0; i < RACERS; i++) {
		pids[i] = fork();
		assert_true(pids[i] != -1);
		if (pids[i] == 0) {
			struct atc_options	 o;
			struct atc		*h;
			char			 buf[ATC_NOTICE_MAX];
			int			 rc = 2;

			close(go[1]);
			(void)read(go[0], &c, 1);	/* start together */
			memset(&o, 0, sizeof(o));
			o.flags = ATC_F_NO_AGENT | ATC_F_NO_SPAWN |
			    ATC_F_NO_REPO_ORIGIN;
			if (atc_open(&o, &h) == ATC_OK &&
			    atc_first_run_notice(h, buf, sizeof(buf)) == ATC_OK)
				rc = strcmp(buf, upstream) == 0 ? 1 :
				    buf[0] == '\0' ? 0 : 3;
			_exit(rc);
		}
	}
	close(go[0]);
	close(go[1]);	/* EOF releases every racer at once */
	for (i = 0; i < RACERS; i++) {
		assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
		assert_true(WIFEXITED(st));
		if (WEXITSTATUS(st) == 1)
			shown++;
		else if (WEXITSTATUS(st) == 0)
			silent++;
	}
	assert_int_equal(shown, 1);
	assert_int_equal(silent, RACERS - 1);
	assert_true(exists(marker));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(t_once_exact_text, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_marker_from_upstream, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_optout_env_offline, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_optout_env_telemetry, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_optout_env_dnt, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_optout_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(t_optout_config, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_optout_config_offline, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_bad_args, setup, teardown),
		cmocka_unit_test_setup_teardown(t_marker_cannot_be_created,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(t_fifty_racers, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
