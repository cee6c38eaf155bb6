/*
 * fsio — file I/O helpers shared by the proto modules, the agent, the
 * library and the CLI: one way to open a state file, to read a whole file
 * and to replace a file atomically with a stated durability.
 */
#ifndef PROTO_FSIO_H
#define PROTO_FSIO_H
#include <stddef.h>
#include <sys/types.h>

#include <dirent.h>

#include "buf.h"

#define FSIO_PATH_MAX	4096		/* paths these helpers build */
#define FSIO_READ_CHUNK	4096		/* read(2) size of an unsized file */
#define FSIO_TMP_TAG	".tmp-"		/* temp name: <target>.tmp-XXXXXX */
#define FSIO_TMP_RAND	6		/* … with six random characters */

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

/*
 * A DIR for the directory dfd refers to, on a descriptor of its own
 * (dfd stays the caller's, open, its offset untouched), rewound. NULL
 * with errno. Free with closedir().
 */
DIR	*fsio_opendir(int dfd);
/*
 * Read all of fd (from its offset to EOF) and append it to out, followed
 * by a NUL that out->len does not count. More than max bytes: EFBIG (a
 * regular file is refused by its size before anything is read). 0, or -1
 * with errno and out as it was.
 */
int	fsio_read_fd(int fd, size_t max, struct buf *out);
/*
 * fsio_open(dfd, path, O_RDONLY, 0, opts) then fsio_read_fd(): the one way
 * a whole state file is read. 0, or -1 with errno.
 */
int	fsio_read(int dfd, const char *path, int opts, size_t max,
	    struct buf *out);

/*
 * Durability of an atomic replace (fsio_replace_*, fsio_write_atomic).
 * Both are atomic: a reader sees the whole old file or the whole new one,
 * never a mix, and a crashed writer leaves at most a temp file beside it.
 */
enum fsio_durability {
	/*
	 * rename only: a process crash is harmless; after a power loss or an
	 * OS crash the old file (or, on a filesystem that does not order
	 * rename after data, an empty new one) may be what survives. For
	 * files rewritten often whose loss costs little (health.json, the
	 * upload schedule, the view page).
	 */
	FSIO_ATOMIC = 0,
	/*
	 * fsync the data before the rename and the directory after it: once
	 * the call returns the new file survives a power loss. For the
	 * user's own files (config.toml).
	 */
	FSIO_DURABLE,
};

#define FSIO_MKDIR	0x10	/* fsio_replace_open: create the parent
				   directory (one level, 0700) if missing */

/* A replacement being written beside its target (fsio_replace_open). */
struct fsio_replace {
	int	fd;		/* the temp file: 0600, flock(LOCK_EX) held */
	int	synced;		/* fsio_replace_sync() done */
	char	tmp[FSIO_PATH_MAX];	/* "<target>.tmp-XXXXXX" */
	char	target[FSIO_PATH_MAX];
};

/*
 * Start replacing target: create a temp file beside it, named
 * "<target>.tmp-" and six random characters, mode 0600, locked
 * (flock(LOCK_EX)) until commit or abort, so that a cleaner can tell a
 * live temp from one a killed writer left (fsio_replace_stale). opts:
 * FSIO_MKDIR. 0, or -1 with errno.
 */
int	fsio_replace_open(struct fsio_replace *r, const char *target, int opts);
/*
 * fsync the temp file now, while it is still private: for a caller that
 * checks or changes something (the final mode) between the sync and the
 * rename. 0, or -1 with errno (nothing undone: call fsio_replace_abort).
 */
int	fsio_replace_sync(struct fsio_replace *r);
/*
 * Finish: fsync per d (unless fsio_replace_sync did), rename the temp
 * over the target, close, fsync the directory per d. 0, or -1 with errno
 * (the temp is removed; ENOENT: it was taken away before the rename).
 */
int	fsio_replace_commit(struct fsio_replace *r, enum fsio_durability d);
/* Give up: remove the temp file and close it. Keeps errno. */
void	fsio_replace_abort(struct fsio_replace *r);
/*
 * Is name (in dfd) a temp file fsio_replace_open made for a target named
 * base, left by a writer that is gone (its lock is free)? Such a file is
 * removed; 1 if it was, 0 if not.
 */
int	fsio_replace_stale(int dfd, const char *name, const char *base);
/* Replace path with data[0..len) (open, write, commit). 0 or -1. */
int	fsio_write_atomic(const char *path, const void *data, size_t len,
	    enum fsio_durability d, int opts);
#endif
