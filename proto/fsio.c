/*
 * fsio.c — file I/O helpers shared by queue.c, config.c and identity.c.
 * Never buffers: every byte goes straight to write(2).
 */
#include <errno.h>
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
