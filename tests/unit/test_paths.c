/*
 * test_paths.c — atomcode_dir resolution (ATOMCODE_HOME, HOME, passwd,
 * sudo) and the directory safety checks.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "paths.h"
#include "testlib.h"

#define NOBODY_UID	65534	/* a uid that is not ours */

static char	tmpdir[256];
static char	*saved_env[3];
static const char *const env_names[3] = { "HOME", "ATOMCODE_HOME",
    "SUDO_USER" };

static int
setup(void **state)
{
	const char	*v;
	int		 i;

	(void)state;
	if (tl_tmpdir(tmpdir, sizeof(tmpdir), "pathstest") == -1)
		return -1;
	for (i = 0; i < 3; i++) {
		v = getenv(env_names[i]);
		saved_env[i] = v != NULL ? strdup(v) : NULL;
		unsetenv(env_names[i]);
	}
	return 0;
}

static int
teardown(void **state)
{
	int	i;

	(void)state;
	for (i = 0; i < 3; i++) {
		if (saved_env[i] != NULL)
			setenv(env_names[i], saved_env[i], 1);
		else
			unsetenv(env_names[i]);
		free(saved_env[i]);
		saved_env[i] = NULL;
	}
	return tl_rm_rf(tmpdir);
}

static void
expect_layout(const struct paths *p, const char *dir)
{
	char	want[PATHS_MAX];

	assert_string_equal(p->dir, dir);
#define CHECK(field, rel) do {						\
	snprintf(want, sizeof(want), "%s/%s", dir, rel);		\
	assert_string_equal(p->field, want);				\
} while (0)
	CHECK(sock, "telemetry.sock");
	CHECK(lock, "telemetry.lock");
	CHECK(config, "config.toml");
	CHECK(settings, "telemetryd.conf");
	CHECK(device_id, "device_id");
	CHECK(telemetry, "telemetry");
	CHECK(queue, "telemetry/queue");
	CHECK(health, "telemetry/health.json");
	CHECK(log, "telemetry/agent.log");
#undef CHECK
}

static void
test_atomcode_home(void **state)
{
	struct paths	p;

	(void)state;
	setenv("HOME", "/home/someone", 1);
	setenv("ATOMCODE_HOME", "/srv/atc", 1);
	assert_int_equal(paths_init(&p), 0);
	expect_layout(&p, "/srv/atc");		/* as is: no .atomcode */
	assert_string_equal(p.home, "/home/someone");
	assert_int_equal(p.sudo, 0);

	setenv("ATOMCODE_HOME", "/srv/atc//", 1);
	assert_int_equal(paths_init(&p), 0);
	expect_layout(&p, "/srv/atc");

	setenv("ATOMCODE_HOME", "", 1);		/* empty: ignored */
	assert_int_equal(paths_init(&p), 0);
	expect_layout(&p, "/home/someone/.atomcode");
}

static void
test_home_fallbacks(void **state)
{
	struct paths	 p;
	struct passwd	*pw;
	char		 want[PATHS_MAX];

	(void)state;
	setenv("HOME", "/h/", 1);
	assert_int_equal(paths_init(&p), 0);
	expect_layout(&p, "/h/.atomcode");
	assert_string_equal(p.home, "/h");

	unsetenv("HOME");
	pw = getpwuid(getuid());
	assert_non_null(pw);
	assert_int_equal(paths_init(&p), 0);
	snprintf(want, sizeof(want), "%s/.atomcode", pw->pw_dir);
	expect_layout(&p, want);
	assert_string_equal(p.home, pw->pw_dir);
}

static void
test_too_long(void **state)
{
	struct paths	 p;
	char		*big;

	(void)state;
	big = malloc(PATHS_MAX);
	assert_non_null(big);
	memset(big, 'a', PATHS_MAX - 10);
	big[0] = '/';
	big[PATHS_MAX - 10] = '\0';
	setenv("ATOMCODE_HOME", big, 1);
	errno = 0;
	assert_int_equal(paths_init(&p), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	free(big);
}

static void
test_sudo(void **state)
{
	struct paths	 p;
	struct passwd	*pw;
	char		 want[PATHS_MAX];
	pid_t		 pid;
	int		 status;

	(void)state;
	setenv("HOME", "/root-home", 1);
	if (geteuid() == 0) {
		pw = getpwuid(NOBODY_UID);
		if (pw == NULL)
			skip();
		setenv("SUDO_USER", pw->pw_name, 1);
		assert_int_equal(paths_init(&p), 0);
		assert_int_equal(p.sudo, 1);
		assert_string_equal(p.home, pw->pw_dir);
		snprintf(want, sizeof(want), "%s/.atomcode", pw->pw_dir);
		expect_layout(&p, want);

		/* ATOMCODE_HOME still wins for the dir; still sudo */
		setenv("ATOMCODE_HOME", "/srv/atc", 1);
		assert_int_equal(paths_init(&p), 0);
		assert_int_equal(p.sudo, 1);
		expect_layout(&p, "/srv/atc");
		unsetenv("ATOMCODE_HOME");

		/* sudo to root from root: nothing special */
		setenv("SUDO_USER", "root", 1);
		assert_int_equal(paths_init(&p), 0);
		assert_int_equal(p.sudo, 0);
		expect_layout(&p, "/root-home/.atomcode");

		/* unknown user: upstream's /home/<user> guess */
		setenv("SUDO_USER", "no-such-user-xyzzy", 1);
		assert_int_equal(paths_init(&p), 0);
		assert_int_equal(p.sudo, 1);
		expect_layout(&p, "/home/no-such-user-xyzzy/.atomcode");
	}

	/* not root: SUDO_USER is ignored (checked in a child as nobody) */
	setenv("SUDO_USER", "root", 1);
	if (geteuid() != 0) {
		assert_int_equal(paths_init(&p), 0);
		assert_int_equal(p.sudo, 0);
		expect_layout(&p, "/root-home/.atomcode");
		return;
	}
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		if (setgid(NOBODY_UID) == -1 || setuid(NOBODY_UID) == -1)
			_exit(2);
		if (paths_init(&p) == -1)
			_exit(3);
		_exit(p.sudo == 0 &&
		    strcmp(p.dir, "/root-home/.atomcode") == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
test_check_dir(void **state)
{
	char		dir[PATHS_MAX], link[PATHS_MAX], file[PATHS_MAX];
	char		cause[256];
	struct stat	sb;
	int		fd;

	(void)state;
	umask(022);
	snprintf(dir, sizeof(dir), "%s/a/b", tmpdir);

	/* missing, no create */
	errno = 0;
	assert_int_equal(paths_check_dir(dir, 0, cause, sizeof(cause)), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(cause, dir));
	assert_int_equal(lstat(dir, &sb), -1);

	/* missing, create: every level 0700 */
	assert_int_equal(paths_check_dir(dir, 1, cause, sizeof(cause)), 0);
	assert_string_equal(cause, "");
	assert_int_equal(lstat(dir, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0700);
	snprintf(file, sizeof(file), "%s/a", tmpdir);
	assert_int_equal(stat(file, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);

	/* again: fine (EEXIST) */
	assert_int_equal(paths_check_dir(dir, 1, cause, sizeof(cause)), 0);

	/* ours with group/other bits: tightened */
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(paths_check_dir(dir, 0, cause, sizeof(cause)), 0);
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);

	/* a symlink to a real dir: refused, target left alone */
	assert_int_equal(chmod(dir, 0755), 0);
	snprintf(link, sizeof(link), "%s/link", tmpdir);
	assert_int_equal(symlink(dir, link), 0);
	errno = 0;
	assert_int_equal(paths_check_dir(link, 1, cause, sizeof(cause)), -1);
	assert_int_equal(errno, ELOOP);
	assert_non_null(strstr(cause, "symbolic link"));
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0755);

	/* a regular file */
	snprintf(file, sizeof(file), "%s/file", tmpdir);
	fd = open(file, O_CREAT | O_WRONLY, 0600);
	assert_true(fd != -1);
	close(fd);
	errno = 0;
	assert_int_equal(paths_check_dir(file, 1, cause, sizeof(cause)), -1);
	assert_int_equal(errno, ENOTDIR);
	assert_non_null(strstr(cause, "not a directory"));

	/* NULL cause is allowed */
	assert_int_equal(paths_check_dir(file, 0, NULL, 0), -1);
	assert_int_equal(errno, ENOTDIR);
}

static void
test_check_dir_foreign(void **state)
{
	char		dir[PATHS_MAX], cause[256];
	struct stat	sb;

	(void)state;
	if (geteuid() != 0)
		skip();		/* needs chown */
	snprintf(dir, sizeof(dir), "%s/foreign", tmpdir);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(chown(dir, NOBODY_UID, NOBODY_UID), 0);
	errno = 0;
	assert_int_equal(paths_check_dir(dir, 1, cause, sizeof(cause)), -1);
	assert_int_equal(errno, EPERM);
	assert_non_null(strstr(cause, "owned by another user"));
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0755);	/* not touched */
}

static void
test_mkdirs(void **state)
{
	char		dir[PATHS_MAX], file[PATHS_MAX];
	struct stat	sb;
	int		fd;

	(void)state;
	umask(022);
	snprintf(dir, sizeof(dir), "%s/x//y/z/", tmpdir);
	assert_int_equal(paths_mkdirs(dir), 0);
	snprintf(dir, sizeof(dir), "%s/x/y/z", tmpdir);
	assert_int_equal(stat(dir, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0700);
	snprintf(dir, sizeof(dir), "%s/x/y", tmpdir);
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	assert_int_equal(paths_mkdirs(dir), 0);		/* exists: fine */

	/* a file in the way */
	snprintf(file, sizeof(file), "%s/x/f", tmpdir);
	fd = open(file, O_CREAT | O_WRONLY, 0600);
	assert_true(fd != -1);
	close(fd);
	errno = 0;
	assert_int_equal(paths_mkdirs(file), -1);
	assert_int_equal(errno, ENOTDIR);
	snprintf(dir, sizeof(dir), "%s/x/f/sub", tmpdir);
	assert_int_equal(paths_mkdirs(dir), -1);
	assert_int_equal(errno, ENOTDIR);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_atomcode_home,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_home_fallbacks,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_long,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_sudo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_dir,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_dir_foreign,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_mkdirs, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
