/*
 * test_identity.c — UUID generation/validation and the device_id file:
 * create once then stable, tolerant reads, corrupt files left alone, and
 * fifty processes racing to create it.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
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

#include "identity.h"
#include "testlib.h"

#define RACERS	50	/* processes creating device_id at once */

static char	tmpdir[256];

static int
setup(void **state)
{
	(void)state;
	return tl_tmpdir(tmpdir, sizeof(tmpdir), "idtest");
}

static int
teardown(void **state)
{
	(void)state;
	return tl_rm_rf(tmpdir);
}

static void
spew(const char *path, const char *data)
{
	int	fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd != -1);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
}

static size_t
slurp(const char *path, char *buf, size_t len)
{
	ssize_t	n;
	int	fd;

	fd = open(path, O_RDONLY);
	assert_true(fd != -1);
	n = read(fd, buf, len - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
	return (size_t)n;
}

static void
test_uuid(void **state)
{
	char	a[UUID_STR_LEN], b[UUID_STR_LEN];
	int	i;

	(void)state;
	identity_uuid(a);
	identity_uuid(b);
	assert_int_equal(strlen(a), 36);
	assert_true(identity_uuid_valid(a, strlen(a)));
	assert_string_not_equal(a, b);
	assert_int_equal(a[14], '4');			/* version 4 */
	assert_non_null(strchr("89ab", a[19]));		/* RFC 4122 variant */
	for (i = 0; i < 36; i++)
		assert_true(a[i] == '-' || (a[i] >= '0' && a[i] <= '9') ||
		    (a[i] >= 'a' && a[i] <= 'f'));
}

static void
test_uuid_valid(void **state)
{
	static const struct {
		const char	*s;
		int		 valid;
	} cases[] = {
		{ "0b1e2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e", 1 },
		{ "0B1E2C3D-4F5A-4B6C-8D7E-9F0A1B2C3D4E", 1 },
		{ UUID_NIL, 1 },
		{ "0b1e2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4", 0 },
		{ "0b1e2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e0", 0 },
		{ "0b1e2c3d4f5a-4b6c-8d7e-9f0a1b2c3d4e-", 0 },
		{ "0b1e2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4g", 0 },
		{ "0b1e2c3d04f5a-4b6c-8d7e-9f0a1b2c3d4e", 0 },
		{ "not-a-uuid", 0 },
		{ "", 0 },
	};
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(identity_uuid_valid(cases[i].s,
		    strlen(cases[i].s)), cases[i].valid);
}

static void
test_missing_no_create(void **state)
{
	char		path[512], id[UUID_STR_LEN];
	struct stat	sb;

	(void)state;
	snprintf(path, sizeof(path), "%s/device_id", tmpdir);
	memset(id, 'x', sizeof(id));
	assert_int_equal(identity_device_id(path, 0, id), 0);
	assert_string_equal(id, UUID_NIL);
	assert_int_equal(stat(path, &sb), -1);
	assert_int_equal(tl_count_entries(tmpdir), 0);
}

static void
test_create_then_stable(void **state)
{
	char		path[512], id[UUID_STR_LEN], again[UUID_STR_LEN];
	char		buf[128];
	struct stat	sb;

	(void)state;
	snprintf(path, sizeof(path), "%s/sub/.atomcode/device_id", tmpdir);
	assert_int_equal(identity_device_id(path, 1, id), 0);
	assert_true(identity_uuid_valid(id, strlen(id)));
	assert_string_not_equal(id, UUID_NIL);
	/* on disk: exactly the id, no newline, 0600 */
	assert_int_equal(slurp(path, buf, sizeof(buf)), 36);
	assert_string_equal(buf, id);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);

	assert_int_equal(identity_device_id(path, 1, again), 0);
	assert_string_equal(again, id);
	assert_int_equal(identity_device_id(path, 0, again), 0);
	assert_string_equal(again, id);
	/* no temp file left beside it */
	snprintf(path, sizeof(path), "%s/sub/.atomcode", tmpdir);
	assert_int_equal(tl_count_entries(path), 1);
}

static void
test_tolerant_reads(void **state)
{
	static const struct {
		const char	*content;
		const char	*want;
	} cases[] = {
		{ "0b1e2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e\n\n",
		    "0b1e2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e" },
		{ "  \t0B1E2C3D-4F5A-4B6C-8D7E-9F0A1B2C3D4E \r\n",
		    "0b1e2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e" },
		{ "{0b1e2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e}",
		    "0b1e2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e" },
		{ "urn:uuid:0b1e2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
		    "0b1e2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e" },
		{ "0b1e2c3d4f5a4b6c8d7e9f0a1b2c3d4e",
		    "0b1e2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e" },
		/* unparseable: nil, and the file stays as it is */
		{ "not-a-uuid", UUID_NIL },
		{ "0b1e2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e x", UUID_NIL },
		{ "0b1e2c3d-4f5a-4b6c-8d7e-9f0a1b2c3dzz", UUID_NIL },
		{ "{0b1e2c3d4f5a4b6c8d7e9f0a1b2c3d4e}", UUID_NIL },
		{ "\n\n", UUID_NIL },
		{ "", UUID_NIL },
	};
	char		path[512], id[UUID_STR_LEN], buf[128];
	struct stat	before, after;
	size_t		i;

	(void)state;
	snprintf(path, sizeof(path), "%s/device_id", tmpdir);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("  case %zu\n", i);
		spew(path, cases[i].content);
		assert_int_equal(stat(path, &before), 0);
		assert_int_equal(identity_device_id(path, 1, id), 0);
		assert_string_equal(id, cases[i].want);
		slurp(path, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].content);	/* untouched */
		assert_int_equal(stat(path, &after), 0);
		assert_int_equal(before.st_ino, after.st_ino);
		assert_int_equal(tl_count_entries(tmpdir), 1);
	}
}

static void
test_read_error(void **state)
{
	char	path[512], id[UUID_STR_LEN];

	(void)state;
	/* a directory where the file should be: I/O error, nil */
	snprintf(path, sizeof(path), "%s/device_id", tmpdir);
	assert_int_equal(mkdir(path, 0700), 0);
	memset(id, 'x', sizeof(id));
	assert_int_equal(identity_device_id(path, 1, id), -1);
	assert_string_equal(id, UUID_NIL);

	/* cannot create (parent is a file): error, nil */
	snprintf(path, sizeof(path), "%s/file", tmpdir);
	spew(path, "x");
	snprintf(path, sizeof(path), "%s/file/device_id", tmpdir);
	memset(id, 'x', sizeof(id));
	assert_int_equal(identity_device_id(path, 1, id), -1);
	assert_string_equal(id, UUID_NIL);
}

static void
test_race(void **state)
{
	char	path[512], buf[128], ids[RACERS][UUID_STR_LEN];
	int	go[2], res[2], i, status, got = 0;
	pid_t	pids[RACERS];
	ssize_t	n;
	char	c, line[UUID_STR_LEN];

	(void)state;
	snprintf(path, sizeof(path), "%s/fresh/device_id", tmpdir);
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(res), 0);
	for (i = 0; i < RACERS; i++) {
		pids[i] = fork();
		assert_true(pids[i] != -1);
		if (pids[i] == 0) {
			char	id[UUID_STR_LEN];

			close(go[1]);
			close(res[0]);
			/* wait for the start signal (EOF on go) */
			while (read(go[0], &c, 1) == -1 && errno == EINTR)
				;
			if (identity_device_id(path, 1, id) == -1)
				memcpy(id, "ERROR-", 7);
			memcpy(line, id, UUID_STR_LEN);
			line[UUID_STR_LEN - 1] = '\n';
			/* < PIPE_BUF: atomic */
			_exit(write(res[1], line, UUID_STR_LEN) ==
			    UUID_STR_LEN ? 0 : 1);
		}
	}
	close(go[0]);
	close(res[1]);
	close(go[1]);		/* everybody go */
	while (got < RACERS) {
		n = read(res[0], line, UUID_STR_LEN);
		if (n == -1 && errno == EINTR)
			continue;
		assert_int_equal(n, UUID_STR_LEN);
		line[UUID_STR_LEN - 1] = '\0';
		memcpy(ids[got++], line, UUID_STR_LEN);
	}
	close(res[0]);
	for (i = 0; i < RACERS; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_true(identity_uuid_valid(ids[0], strlen(ids[0])));
	assert_string_not_equal(ids[0], UUID_NIL);
	for (i = 1; i < RACERS; i++)
		assert_string_equal(ids[i], ids[0]);
	assert_int_equal(slurp(path, buf, sizeof(buf)), 36);
	assert_string_equal(buf, ids[0]);
	snprintf(path, sizeof(path), "%s/fresh", tmpdir);
	assert_int_equal(tl_count_entries(path), 1);	/* no temp files */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uuid),
		cmocka_unit_test(test_uuid_valid),
		cmocka_unit_test_setup_teardown(test_missing_no_create,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_then_stable,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_tolerant_reads,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_error,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_race, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
