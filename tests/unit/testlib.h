/*
 * testlib.h — fixtures shared by the unit tests (tests/unit/test_*.c). Each
 * test is one program, so this is header-only: static inline functions,
 * none of which needs to be used.
 *
 * The fixture every case that touches files uses: a private directory
 * under /tmp (tl_tmpdir), removed whole afterwards (tl_rm_rf), and an
 * environment cleared of the opt-out and endpoint variables
 * (tl_clear_env), so that a developer's own settings never reach a test.
 * Include after <cmocka.h> (the helpers assert).
 */
#ifndef TESTS_UNIT_TESTLIB_H
#define TESTS_UNIT_TESTLIB_H

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The variables that decide whether telemetry is on, and where it goes. */
static const char *const tl_env_names[] = {
	"ATOMCODE_OFFLINE", "ATOMCODE_TELEMETRY", "DO_NOT_TRACK",
	"ATOMCODE_TELEMETRY_ENDPOINT",
};

static inline int
tl_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* Remove dir and everything below it, never following a link. 0 or -1. */
static inline int
tl_rm_rf(const char *dir)
{
	return nftw(dir, tl_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Create /tmp/<tag>.XXXXXX (mode 0700) into dir[0..len). 0 or -1. */
static inline int
tl_tmpdir(char *dir, size_t len, const char *tag)
{
	if ((size_t)snprintf(dir, len, "/tmp/%s.XXXXXX", tag) >= len)
		return -1;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

/* Unset the opt-out and endpoint variables (tl_env_names). */
static inline void
tl_clear_env(void)
{
	size_t	i;

	for (i = 0; i < sizeof tl_env_names / sizeof tl_env_names[0]; i++)
		unsetenv(tl_env_names[i]);
}

/* Entries of dir other than . and .. (-1 if it cannot be read). */
static inline int
tl_count_entries(const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* Monotonic milliseconds. */
static inline uint64_t
tl_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
#endif
