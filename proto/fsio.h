/* fsio — small file I/O helpers shared by the proto modules. */
#ifndef PROTO_FSIO_H
#define PROTO_FSIO_H
#include <stddef.h>
#include <sys/types.h>

/* write(2) all n bytes (retrying EINTR and short writes). 0 or -1 with errno. */
int	fsio_write_all(int fd, const char *p, size_t n);

/* fsio_open() options */
#define FSIO_OWNER	0x01	/* must be owned by geteuid() and not writable by
				   everyone (EPERM otherwise) */
#define FSIO_USER	0x02	/* owned by geteuid() or by root; any owner
				   when we are root (sudo reads the user's
				   files) */
#define FSIO_FOLLOW	0x04	/* a symlink in the last component is followed
				   (config.toml kept by a dotfile manager) */
#define FSIO_NONBLOCK	0x08	/* keep O_NONBLOCK on the descriptor */

/*
 * Open a state file so that nothing planted at path can block or fool the
 * caller: openat(dfd, path, flags | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC |
 * O_NOCTTY, mode) (O_NOFOLLOW unless FSIO_FOLLOW), then fstat: a FIFO,
 * socket, device or directory is refused with EINVAL, a file of another
 * user (FSIO_OWNER, FSIO_USER) with EPERM; then O_NONBLOCK is cleared. A
 * FIFO opened for writing fails at once with ENXIO instead of waiting for
 * a reader. dfd may be AT_FDCWD. Never pass O_TRUNC (it would act before
 * the checks). Returns the descriptor, or -1 with errno.
 */
int	fsio_open(int dfd, const char *path, int flags, mode_t mode, int opts);
#endif
