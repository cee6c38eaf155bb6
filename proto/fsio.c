/*
 * fsio.c — file I/O helpers shared by the proto modules, the agent, the
 * library and the CLI: write-all; the one way every state file is opened
 * (fsio_open: never blocks on a planted FIFO, never follows a planted
 * link, never reads a file of another user); reading a whole file; and the
 * atomic replace (temp file beside the target, rename), whose durability
 * each caller states. Never buffers: every byte goes straight to write(2).
 * Never prints (library code).
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsio.h"

/* Write all n bytes; a zero-length write counts as EIO (no spin). */
int
fsio_write_all(int fd, const char *p, size_t n)
{
	ssize_t	w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Open a regular state file without blocking (see fsio.h). */
int
fsio_open(int dfd, const char *path, int flags, mode_t mode, int opts)
{
	struct stat	st;
	int		fd, fl, e;

	flags |= O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
	if (!(opts & FSIO_FOLLOW))
		flags |= O_NOFOLLOW;
	if ((fd = openat(dfd, path, flags, mode)) == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		goto fail;
	}
	if (((opts & FSIO_OWNER) && (st.st_uid != geteuid() ||
	    (st.st_mode & S_IWOTH) != 0)) ||
	    ((opts & FSIO_USER) && geteuid() != 0 && st.st_uid != geteuid() &&
	    st.st_uid != 0)) {
		errno = EPERM;
		goto fail;
	}
	if (!(opts & FSIO_NONBLOCK) && (fl = fcntl(fd, F_GETFL)) != -1)
		(void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* Append all of fd to out, NUL-terminated (see fsio.h). */
int
fsio_read_fd(int fd, size_t max, struct buf *out)
{
	struct stat	st;
	size_t		start = out->len;
	ssize_t		r;

	if (fstat(fd, &st) == -1)
		return -1;
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max) {
		errno = EFBIG;
		return -1;
	}
	if (buf_reserve(out, S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 :
	    FSIO_READ_CHUNK) == -1)
		return -1;
	for (;;) {
		if (out->len - start > max) {
			errno = EFBIG;
			goto fail;
		}
		if (out->cap - out->len < 2 &&
		    buf_reserve(out, FSIO_READ_CHUNK) == -1)
			goto fail;
		r = read(fd, out->data + out->len, out->cap - out->len - 1);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (r == 0)
			break;
		out->len += (size_t)r;
	}
	if (out->len - start > max) {
		errno = EFBIG;
		goto fail;
	}
	out->data[out->len] = '\0';
	return 0;
fail:
	out->len = start;
	return -1;
}

/* Read a whole state file into out (see fsio.h). */
int
fsio_read(int dfd, const char *path, int opts, size_t max, struct buf *out)
{
	int	fd, r, e;

	if ((fd = fsio_open(dfd, path, O_RDONLY, 0, opts)) == -1)
		return -1;
	r = fsio_read_fd(fd, max, out);
	e = errno;
	close(fd);
	errno = e;
	return r;
}

/* The directory part of path into dir ("." when there is none). */
static void
fsio_dir_of(const char *path, char *dir, size_t dirlen)
{
	const char	*slash = strrchr(path, '/');

	if (slash == NULL)
		snprintf(dir, dirlen, ".");
	else
		snprintf(dir, dirlen, "%.*s", slash == path ? 1 :
		    (int)(slash - path), path);
}

/* Start replacing target: a locked 0600 temp beside it (see fsio.h). */
int
fsio_replace_open(struct fsio_replace *r, const char *target, int opts)
{
	char	dir[FSIO_PATH_MAX];
	int	n, e;

	r->fd = -1;
	r->synced = 0;
	n = snprintf(r->target, sizeof r->target, "%s", target);
	if (n < 0 || (size_t)n >= sizeof r->target || (size_t)snprintf(r->tmp,
	    sizeof r->tmp, "%s" FSIO_TMP_TAG "XXXXXX", target) >=
	    sizeof r->tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((r->fd = mkostemp(r->tmp, O_CLOEXEC)) == -1 && errno == ENOENT &&
	    (opts & FSIO_MKDIR)) {
		fsio_dir_of(target, dir, sizeof dir);
		(void)mkdir(dir, 0700);
		snprintf(r->tmp, sizeof r->tmp, "%s" FSIO_TMP_TAG "XXXXXX",
		    target);
		r->fd = mkostemp(r->tmp, O_CLOEXEC);
	}
	if (r->fd == -1)
		return -1;
	if (flock(r->fd, LOCK_EX | LOCK_NB) == -1 || fchmod(r->fd, 0600) == -1) {
		e = errno;
		fsio_replace_abort(r);
		errno = e;
		return -1;
	}
	return 0;
}

/* Remove the temp file and close it (errno kept). */
void
fsio_replace_abort(struct fsio_replace *r)
{
	int	e = errno;

	if (r->fd != -1) {
		(void)unlink(r->tmp);
		close(r->fd);
		r->fd = -1;
	}
	errno = e;
}

/* fsync the temp file now (see fsio.h). */
int
fsio_replace_sync(struct fsio_replace *r)
{
	if (fsync(r->fd) == -1)
		return -1;
	r->synced = 1;
	return 0;
}

/* fsync per d, rename over the target, fsync the directory per d. */
int
fsio_replace_commit(struct fsio_replace *r, enum fsio_durability d)
{
	char	dir[FSIO_PATH_MAX];
	int	fd, e;

	if (d == FSIO_DURABLE && !r->synced && fsio_replace_sync(r) == -1) {
		fsio_replace_abort(r);
		return -1;
	}
	if (rename(r->tmp, r->target) == -1) {
		e = errno;
		if (e != ENOENT)
			(void)unlink(r->tmp);
		close(r->fd);
		r->fd = -1;
		errno = e;
		return -1;
	}
	fd = r->fd;
	r->fd = -1;
	if (close(fd) == -1)
		return -1;
	if (d == FSIO_DURABLE) {
		fsio_dir_of(r->target, dir, sizeof dir);
		if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
			(void)fsync(fd);  /* best effort: the rename happened */
			close(fd);
		}
	}
	return 0;
}

/* A temp of fsio_replace_open for base that nobody holds: removed. */
int
fsio_replace_stale(int dfd, const char *name, const char *base)
{
	struct stat	st, nst;
	size_t		bl = strlen(base), tl = strlen(FSIO_TMP_TAG), nl, i;
	int		fd, gone = 0;

	nl = strlen(name);
	if (nl != bl + tl + FSIO_TMP_RAND || memcmp(name, base, bl) != 0 ||
	    memcmp(name + bl, FSIO_TMP_TAG, tl) != 0)
		return 0;
	for (i = nl - FSIO_TMP_RAND; i < nl; i++)
		if (!isalnum((unsigned char)name[i]))
			return 0;
	if ((fd = fsio_open(dfd, name, O_RDONLY, 0, FSIO_OWNER)) == -1)
		return 0;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &st) == 0 &&
	    fstatat(dfd, name, &nst, AT_SYMLINK_NOFOLLOW) == 0 &&
	    st.st_dev == nst.st_dev && st.st_ino == nst.st_ino)
		gone = unlinkat(dfd, name, 0) == 0;
	close(fd);
	return gone;
}

/* Replace path with data (see fsio.h). */
int
fsio_write_atomic(const char *path, const void *data, size_t len,
    enum fsio_durability d, int opts)
{
	struct fsio_replace	r;

	if (fsio_replace_open(&r, path, opts) == -1)
		return -1;
	if (fsio_write_all(r.fd, (const char *)data, len) == -1) {
		fsio_replace_abort(&r);
		return -1;
	}
	return fsio_replace_commit(&r, d);
}

/* A DIR on a duplicate of dfd (see fsio.h). */
DIR *
fsio_opendir(int dfd)
{
	DIR	*d;
	int	 fd, e;

	if ((fd = dup(dfd)) == -1)
		return NULL;
	if ((d = fdopendir(fd)) == NULL) {
		e = errno;
		close(fd);
		errno = e;
		return NULL;
	}
	rewinddir(d);
	return d;
}
