/*
 * fuzz_common.h — helpers shared by the libFuzzer targets in tests/fuzz/:
 * a property check that aborts (libFuzzer then saves the input), a private
 * scratch directory removed at exit, and small file helpers.
 * Test code only: never linked into the agent, the library or the CLI.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_PATH_MAX	1024	/* scratch paths are short: mkdtemp names */
#define FUZZ_NFTW_FDS	16	/* descriptors nftw may keep open */

/* libFuzzer entry points (declared: the build uses -Wmissing-prototypes). */
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int	LLVMFuzzerInitialize(int *argc, char ***argv);

/* A property that must hold: print what and where, then abort. */
#define FUZZ_CHECK(cond, ...) do {					\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: property failed: %s: ",		\
		    __FILE__, __LINE__, #cond);				\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		abort();						\
	}								\
} while (0)

static char	fuzz_scratch[FUZZ_PATH_MAX];

static inline int
fuzz_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path) == -1 && errno != ENOENT ? -1 : 0;
}

/* Remove the whole scratch tree (atexit). */
static inline void
fuzz_scratch_cleanup(void)
{
	if (fuzz_scratch[0] != '\0')
		(void)nftw(fuzz_scratch, fuzz_rm_cb, FUZZ_NFTW_FDS,
		    FTW_DEPTH | FTW_PHYS);
	fuzz_scratch[0] = '\0';
}

/*
 * Create a private 0700 directory for this process, preferring
 * $ATC_FUZZ_TMP (run.sh points it at a tmpfs), then /dev/shm (fsync and
 * rename are cheap there), then $TMPDIR, then /tmp. Removed at exit.
 */
static inline const char *
fuzz_scratch_dir(const char *name)
{
	const char	*base = getenv("ATC_FUZZ_TMP");
	int		 n;

	if (fuzz_scratch[0] != '\0')
		return fuzz_scratch;
	if (base == NULL || *base == '\0' || access(base, W_OK) == -1)
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : NULL;
	if (base == NULL && ((base = getenv("TMPDIR")) == NULL ||
	    *base == '\0'))
		base = "/tmp";
	n = snprintf(fuzz_scratch, sizeof fuzz_scratch,
	    "%s/atc-fuzz-%s-XXXXXX", base, name);
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof fuzz_scratch, "path too long");
	FUZZ_CHECK(mkdtemp(fuzz_scratch) != NULL, "mkdtemp %s: %s",
	    fuzz_scratch, strerror(errno));
	atexit(fuzz_scratch_cleanup);
	return fuzz_scratch;
}

/* 1 if a[0..n) equals b[0..n); either may be NULL when n is 0. */
static inline int
fuzz_memeq(const void *a, const void *b, size_t n)
{
	return n == 0 || memcmp(a, b, n) == 0;
}

/* dir/name into out (aborts if it does not fit). */
static inline void
fuzz_path(char *out, size_t outlen, const char *dir, const char *name)
{
	int	n = snprintf(out, outlen, "%s/%s", dir, name);

	FUZZ_CHECK(n > 0 && (size_t)n < outlen, "path too long: %s", name);
}

/* Replace path's content with data[0..len) (aborts on I/O errors). */
static inline void
fuzz_write_file(const char *path, const void *data, size_t len)
{
	const char	*p = data;
	ssize_t		 w;
	int		 fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FUZZ_CHECK(fd != -1, "open %s: %s", path, strerror(errno));
	while (len > 0) {
		w = write(fd, p, len);
		if (w == -1 && errno == EINTR)
			continue;
		FUZZ_CHECK(w > 0, "write %s: %s", path, strerror(errno));
		p += w;
		len -= (size_t)w;
	}
	FUZZ_CHECK(close(fd) == 0, "close %s: %s", path, strerror(errno));
}

/* Read a whole file into a malloc'd buffer (NUL-terminated); NULL if absent. */
static inline char *
fuzz_read_file(const char *path, size_t *lenp)
{
	char	*p = NULL, *np;
	size_t	 len = 0, cap = 0;
	ssize_t	 r;
	int	 fd;

	*lenp = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		FUZZ_CHECK(errno == ENOENT, "open %s: %s", path,
		    strerror(errno));
		return NULL;
	}
	for (;;) {
		if (len + 1 >= cap) {
			cap = cap ? cap * 2 : 4096;
			np = realloc(p, cap);
			FUZZ_CHECK(np != NULL, "out of memory");
			p = np;
		}
		r = read(fd, p + len, cap - len - 1);
		if (r == -1 && errno == EINTR)
			continue;
		FUZZ_CHECK(r >= 0, "read %s: %s", path, strerror(errno));
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	p[len] = '\0';
	*lenp = len;
	return p;
}
#endif
