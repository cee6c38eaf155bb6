/*
 * test_fsio.c — proto/fsio.c: reading a whole file (bounds, planted FIFOs
 * and links, non-regular files, other owners' rules), and the atomic
 * replace with its two durabilities (fsync counted by interposing it),
 * the parent created on demand, a stale temp told from a live one, an
 * abort that leaves nothing behind.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "fsio.h"
#include "testlib.h"

static char	tmpdir[256];
static int	nfsync;		/* fsync(2) calls seen */

int	fsync(int);

/* Count fsyncs (durability is what the caller asked for, no more). */
int
fsync(int fd)
{
	nfsync++;
	return (int)syscall(SYS_fsync, fd);
}

static int
setup(void **state)
{
	(void)state;
	nfsync = 0;
	return tl_tmpdir(tmpdir, sizeof tmpdir, "fsiotest");
}

static int
teardown(void **state)
{
	(void)state;
	return tl_rm_rf(tmpdir);
}

static void
path_of(char *out, size_t len, const char *rel)
{
	snprintf(out, len, "%s/%s", tmpdir, rel);
}

static void
spew(const char *rel, const char *data, size_t len)
{
	char	p[512];
	int	fd;

	path_of(p, sizeof p, rel);
	assert_true((fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0);
	assert_int_equal(fsio_write_all(fd, data, len), 0);
	close(fd);
}

static void
test_read_whole(void **state)
{
	struct buf	b = { NULL, 0, 0 };
	char		p[512], big[10000];

	(void)state;
	memset(big, 'x', sizeof big);
	spew("big", big, sizeof big);
	path_of(p, sizeof p, "big");
	assert_int_equal(fsio_read(AT_FDCWD, p, FSIO_OWNER, sizeof big, &b), 0);
	assert_int_equal(b.len, sizeof big);
	assert_memory_equal(b.data, big, sizeof big);
	assert_int_equal(b.data[b.len], '\0');	/* terminated, not counted */
	/* Appends to what is there. */
	assert_int_equal(fsio_read(AT_FDCWD, p, FSIO_OWNER, sizeof big, &b), 0);
	assert_int_equal(b.len, 2 * sizeof big);
	/* One byte over the bound: EFBIG, the buffer as it was. */
	assert_int_equal(fsio_read(AT_FDCWD, p, FSIO_OWNER, sizeof big - 1, &b),
	    -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(b.len, 2 * sizeof big);
	buf_free(&b);
	/* Empty. */
	spew("empty", "", 0);
	path_of(p, sizeof p, "empty");
	assert_int_equal(fsio_read(AT_FDCWD, p, FSIO_OWNER, 10, &b), 0);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void
test_read_refuses(void **state)
{
	struct buf	b = { NULL, 0, 0 };
	char		p[512], t[512];

	(void)state;
	/* A FIFO: refused at once, never waited on. */
	path_of(p, sizeof p, "fifo");
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(fsio_read(AT_FDCWD, p, 0, 100, &b), -1);
	assert_int_equal(errno, EINVAL);
	/* A directory. */
	assert_int_equal(fsio_read(AT_FDCWD, tmpdir, 0, 100, &b), -1);
	assert_int_equal(errno, EISDIR);
	/* A symlink: not followed unless FSIO_FOLLOW. */
	spew("real", "abc", 3);
	path_of(t, sizeof t, "real");
	path_of(p, sizeof p, "link");
	assert_int_equal(symlink(t, p), 0);
	assert_int_equal(fsio_read(AT_FDCWD, p, 0, 100, &b), -1);
	assert_int_equal(errno, ELOOP);
	assert_int_equal(fsio_read(AT_FDCWD, p, FSIO_FOLLOW, 100, &b), 0);
	assert_string_equal(b.data, "abc");
	/* World-writable: not ours to trust under FSIO_OWNER. */
	assert_int_equal(chmod(t, 0666), 0);
	b.len = 0;
	assert_int_equal(fsio_read(AT_FDCWD, t, FSIO_OWNER, 100, &b), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(fsio_read(AT_FDCWD, t, 0, 100, &b), 0);
	buf_free(&b);
}

static void
test_read_fd_unsized(void **state)
{
	struct buf	b = { NULL, 0, 0 };
	int		pfd[2];
	char		chunk[3000];

	(void)state;
	/* A pipe has no size: the bound is checked as it reads. */
	memset(chunk, 'y', sizeof chunk);
	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(fsio_write_all(pfd[1], chunk, sizeof chunk), 0);
	close(pfd[1]);
	assert_int_equal(fsio_read_fd(pfd[0], sizeof chunk, &b), 0);
	assert_int_equal(b.len, sizeof chunk);
	close(pfd[0]);
	b.len = 0;
	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(fsio_write_all(pfd[1], chunk, sizeof chunk), 0);
	close(pfd[1]);
	assert_int_equal(fsio_read_fd(pfd[0], sizeof chunk - 1, &b), -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(b.len, 0);
	close(pfd[0]);
	buf_free(&b);
}

static void
test_write_atomic(void **state)
{
	struct buf	b = { NULL, 0, 0 };
	struct stat	st;
	char		p[512];

	(void)state;
	path_of(p, sizeof p, "state.json");
	assert_int_equal(fsio_write_atomic(p, "{}", 2, FSIO_ATOMIC, 0), 0);
	assert_int_equal(nfsync, 0);		/* atomic only: no fsync */
	assert_int_equal(fsio_read(AT_FDCWD, p, FSIO_OWNER, 100, &b), 0);
	assert_string_equal(b.data, "{}");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* Replaced whole; the temp is gone. */
	assert_int_equal(fsio_write_atomic(p, "{\"a\":1}", 7, FSIO_DURABLE, 0),
	    0);
	assert_int_equal(nfsync, 2);		/* the data, the directory */
	b.len = 0;
	assert_int_equal(fsio_read(AT_FDCWD, p, FSIO_OWNER, 100, &b), 0);
	assert_string_equal(b.data, "{\"a\":1}");
	assert_int_equal(tl_count_entries(tmpdir), 1);
	buf_free(&b);
}

static void
test_write_mkdir(void **state)
{
	char	p[512];

	(void)state;
	path_of(p, sizeof p, "sub/health.json");
	assert_int_equal(fsio_write_atomic(p, "x", 1, FSIO_ATOMIC, 0), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(fsio_write_atomic(p, "x", 1, FSIO_ATOMIC, FSIO_MKDIR),
	    0);
	assert_int_equal(access(p, F_OK), 0);
}

static void
test_replace_stale(void **state)
{
	struct fsio_replace	 r;
	char			 p[512], q[512];
	int			 dfd, fd;

	(void)state;
	path_of(p, sizeof p, "config.toml");
	spew("config.toml", "a", 1);
	/* A live edit holds its temp locked: never taken for stale. */
	assert_int_equal(fsio_replace_open(&r, p, 0), 0);
	assert_true(strncmp(r.tmp, p, strlen(p)) == 0);
	assert_non_null(strstr(r.tmp, FSIO_TMP_TAG));
	assert_true((dfd = open(tmpdir, O_RDONLY | O_DIRECTORY)) >= 0);
	assert_int_equal(fsio_replace_stale(dfd, strrchr(r.tmp, '/') + 1,
	    "config.toml"), 0);
	assert_int_equal(access(r.tmp, F_OK), 0);
	/* Abort: nothing left beside the target. */
	fsio_replace_abort(&r);
	assert_int_equal(tl_count_entries(tmpdir), 1);
	/* A temp whose writer is gone (lock free) is removed ... */
	spew("config.toml.tmp-Ab12Cd", "secret", 6);
	assert_int_equal(fsio_replace_stale(dfd, "config.toml.tmp-Ab12Cd",
	    "config.toml"), 1);
	/* ... but not another file's, nor a name of another shape. */
	spew("other.toml.tmp-Ab12Cd", "x", 1);
	spew("config.toml.tmp-abc", "x", 1);
	assert_int_equal(fsio_replace_stale(dfd, "other.toml.tmp-Ab12Cd",
	    "config.toml"), 0);
	assert_int_equal(fsio_replace_stale(dfd, "config.toml.tmp-abc",
	    "config.toml"), 0);
	/* A locked one (someone's live edit) stays. */
	spew("config.toml.tmp-Zz9Yx8", "x", 1);
	path_of(q, sizeof q, "config.toml.tmp-Zz9Yx8");
	assert_true((fd = open(q, O_RDONLY)) >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	assert_int_equal(fsio_replace_stale(dfd, "config.toml.tmp-Zz9Yx8",
	    "config.toml"), 0);
	close(fd);
	close(dfd);
	assert_int_equal(tl_count_entries(tmpdir), 4);
}

static void
test_replace_sync_first(void **state)
{
	struct fsio_replace	r;
	char			p[512];

	(void)state;
	/* Synced while private, then the mode, then the rename: no 2nd sync. */
	path_of(p, sizeof p, "conf");
	assert_int_equal(fsio_replace_open(&r, p, 0), 0);
	assert_int_equal(fsio_write_all(r.fd, "z", 1), 0);
	assert_int_equal(fsio_replace_sync(&r), 0);
	assert_int_equal(nfsync, 1);
	assert_int_equal(fchmod(r.fd, 0644), 0);
	assert_int_equal(fsio_replace_commit(&r, FSIO_DURABLE), 0);
	assert_int_equal(nfsync, 2);		/* the directory only */
	assert_int_equal(tl_count_entries(tmpdir), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_read_whole),
		T(test_read_refuses),
		T(test_read_fd_unsized),
		T(test_write_atomic),
		T(test_write_mkdir),
		T(test_replace_stale),
		T(test_replace_sync_first),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
