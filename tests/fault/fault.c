/*
 * fault.c — an LD_PRELOAD library for tests (tests/integration, tests/chaos):
 * injects slow or failing disk I/O and a shifted wall clock into one
 * process, chosen by environment variables read at each call:
 *
 *   FAULT_MATCH=s         only files whose path contains s (default: every
 *                         regular file) get the disk faults below
 *   FAULT_ONLY_IF=path    the disk faults apply only while path exists
 *   FAULT_FSYNC_MS=n      fsync/fdatasync sleep n ms first
 *   FAULT_WRITE_MS=n      write(2) to a regular file sleeps n ms first
 *   FAULT_FSYNC_EIO=1     fsync/fdatasync fail with EIO (after the sleep)
 *   FAULT_NEWSEG_ENOSPC=n a write into an empty *.partial fails with ENOSPC
 *                         once n segments were started (the disk fills up
 *                         right after a roll)
 *   FAULT_CLOCK_OFFSET_S=n  CLOCK_REALTIME, time() and gettimeofday() are
 *                         n seconds off (negative: behind); file times
 *                         (the kernel's) are not
 *
 * Test tool only: never built into the agent or the library.
 */
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long
env_long(const char *name)
{
	const char	*v = getenv(name);

	return v != NULL ? strtol(v, NULL, 10) : 0;
}

/* The path of fd if it is a regular file matching FAULT_MATCH; else 0. */
static int
fault_file(int fd, char *path, size_t len, struct stat *st)
{
	const char	*m = getenv("FAULT_MATCH"), *only;
	char		 link[64];
	ssize_t		 n;
	struct stat	 ost;

	if ((only = getenv("FAULT_ONLY_IF")) != NULL && *only != '\0' &&
	    stat(only, &ost) == -1)
		return 0;
	if (fstat(fd, st) == -1 || !S_ISREG(st->st_mode))
		return 0;
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	if ((n = readlink(link, path, len - 1)) <= 0)
		return 0;
	path[n] = '\0';
	return m == NULL || *m == '\0' || strstr(path, m) != NULL;
}

static void
sleep_ms(long ms)
{
	struct timespec	ts;

	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int
sync_fault(int fd)
{
	char		path[4096];
	struct stat	st;
	int		e = errno;

	if (!fault_file(fd, path, sizeof path, &st)) {
		errno = e;
		return 0;
	}
	sleep_ms(env_long("FAULT_FSYNC_MS"));
	if (env_long("FAULT_FSYNC_EIO") != 0) {
		errno = EIO;
		return -1;
	}
	errno = e;
	return 0;
}

int
fsync(int fd)
{
	static int	(*real)(int);

	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	if (sync_fault(fd) == -1)
		return -1;
	return real(fd);
}

int
fdatasync(int fd)
{
	static int	(*real)(int);

	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	if (sync_fault(fd) == -1)
		return -1;
	return real(fd);
}

/* Distinct partials written so far (FAULT_NEWSEG_ENOSPC). */
static pthread_mutex_t	seg_mtx = PTHREAD_MUTEX_INITIALIZER;
static ino_t		seg_seen[4096];
static unsigned		seg_n;

static int
newseg_full(const char *path, const struct stat *st)
{
	long		limit = env_long("FAULT_NEWSEG_ENOSPC");
	size_t		l = strlen(path);
	unsigned	i;
	int		full = 0;

	if (limit <= 0 || l < 8 || strcmp(path + l - 8, ".partial") != 0)
		return 0;
	pthread_mutex_lock(&seg_mtx);
	for (i = 0; i < seg_n && seg_seen[i] != st->st_ino; i++)
		;
	if (i == seg_n) {
		if (st->st_size == 0 && seg_n >= (unsigned)limit)
			full = 1;
		else if (seg_n < sizeof seg_seen / sizeof seg_seen[0])
			seg_seen[seg_n++] = st->st_ino;
	}
	pthread_mutex_unlock(&seg_mtx);
	return full;
}

ssize_t
write(int fd, const void *buf, size_t n)
{
	static ssize_t	(*real)(int, const void *, size_t);
	char		path[4096];
	struct stat	st;
	int		e = errno;

	if (real == NULL)
		real = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT,
		    "write");
	if (fd > 2 && fault_file(fd, path, sizeof path, &st)) {
		sleep_ms(env_long("FAULT_WRITE_MS"));
		if (newseg_full(path, &st)) {
			errno = ENOSPC;
			return -1;
		}
	}
	errno = e;
	return real(fd, buf, n);
}

int
clock_gettime(clockid_t c, struct timespec *ts)
{
	static int	(*real)(clockid_t, struct timespec *);
	int		r;

	if (real == NULL)
		real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT,
		    "clock_gettime");
	r = real(c, ts);
	if (r == 0 && (c == CLOCK_REALTIME || c == CLOCK_REALTIME_COARSE))
		ts->tv_sec += env_long("FAULT_CLOCK_OFFSET_S");
	return r;
}

time_t
time(time_t *t)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (t != NULL)
		*t = ts.tv_sec;
	return ts.tv_sec;
}

int
gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
	struct timespec	ts;

	(void)tz;
	clock_gettime(CLOCK_REALTIME, &ts);
	tv->tv_sec = ts.tv_sec;
	tv->tv_usec = ts.tv_nsec / 1000;
	return 0;
}
