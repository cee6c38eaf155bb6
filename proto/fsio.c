/*
 * fsio.c — file I/O helpers shared by the proto modules, the agent and the
 * library: write-all, and the one way every state file is opened
 * (fsio_open: never blocks on a planted FIFO, never follows a planted link,
 * never reads a file of another user). Never buffers: every byte goes
 * straight to write(2).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
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
