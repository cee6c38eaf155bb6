/*
 * port.c — the platform branches behind port.h: Linux calls (accept4,
 * SOCK_CLOEXEC, SO_PEERCRED, SCHED_BATCH, O_PATH + /proc, renameat2,
 * fdatasync, close_range, /proc/self/exe) and their macOS/BSD or plain
 * POSIX equivalents. Lives in the library: never prints, never changes
 * the umask, the working directory or signal dispositions.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "port.h"

#if defined(PORT_LINUX)
#include <sched.h>
#include <sys/syscall.h>
#endif
#if defined(PORT_DARWIN)
#include <launch.h>
#include <mach-o/dyld.h>
#endif

/* O_NONBLOCK + FD_CLOEXEC on fd. */
int
port_set_flags(int fd)
{
	int	fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return -1;
	if ((fl = fcntl(fd, F_GETFD)) == -1 ||
	    fcntl(fd, F_SETFD, fl | FD_CLOEXEC) == -1)
		return -1;
	return 0;
}

#if !defined(PORT_LINUX)
/* Close-on-exec (and O_NONBLOCK if asked) after the fact; closes fd on error. */
static int
port_finish_fd(int fd, int nonblock)
{
	int	fl, saved;

	if ((fl = fcntl(fd, F_GETFD)) == -1 ||
	    fcntl(fd, F_SETFD, fl | FD_CLOEXEC) == -1)
		goto fail;
	if (nonblock && ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1))
		goto fail;
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}
#endif

/* SO_NOSIGPIPE where it exists (macOS, the BSDs): no SIGPIPE on a dead peer. */
static void
port_nosigpipe(int fd)
{
#ifdef SO_NOSIGPIPE
	int	one = 1;

	(void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#else
	(void)fd;
#endif
}

/* socket(2), close-on-exec, optionally non-blocking, no SIGPIPE. */
int
port_socket(int domain, int type, int flags)
{
	int	fd;

#if defined(PORT_LINUX)
	fd = socket(domain, type | SOCK_CLOEXEC |
	    ((flags & PORT_NONBLOCK) ? SOCK_NONBLOCK : 0), 0);
#else
	/* A window before FD_CLOEXEC: another thread's fork+exec may inherit. */
	if ((fd = socket(domain, type, 0)) != -1)
		fd = port_finish_fd(fd, flags & PORT_NONBLOCK);
#endif
	if (fd != -1 && type == SOCK_STREAM)
		port_nosigpipe(fd);
	return fd;
}

/* accept(2): close-on-exec, optionally non-blocking, no SIGPIPE. */
int
port_accept(int lfd, int flags)
{
	int	fd;

#if defined(PORT_LINUX)
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC |
	    ((flags & PORT_NONBLOCK) ? SOCK_NONBLOCK : 0));
#else
	/* Callers are single-threaded around accept: no fork in between. */
	if ((fd = accept(lfd, NULL, NULL)) != -1)
		fd = port_finish_fd(fd, flags & PORT_NONBLOCK);
#endif
	if (fd != -1)
		port_nosigpipe(fd);
	return fd;
}

#if !defined(PORT_LINUX)
/*
 * The long route of port_sun_fill for systems without O_PATH: a symlink
 * to path's directory inside a fresh 0700 directory under $TMPDIR (or
 * /tmp), so that sun_path is "<tmp>/d/<name>". Only we can change that
 * directory; port_sun_done() removes both.
 */
static int
port_sun_symlink(struct port_sun *ps, const char *path, const char *slash)
{
	const char	*base = getenv("TMPDIR");
	char		 dir[PATH_MAX], link[PORT_SUN_PATH_SIZE + 8];
	size_t		 blen, nlen = strlen(slash + 1);
	int		 n, saved;

	if (base == NULL || base[0] != '/' || (blen = strlen(base)) +
	    sizeof "/atc-XXXXXX/d/" + nlen > PORT_SUN_PATH_SIZE) {
		base = "/tmp";	/* unset, relative or too long */
		blen = 4;
	}
	while (blen > 1 && base[blen - 1] == '/')
		blen--;
	if ((size_t)(slash - path) >= sizeof dir) {
		errno = ENAMETOOLONG;
		return -1;
	}
	n = snprintf(ps->tmp, sizeof ps->tmp, "%.*s/atc-XXXXXX", (int)blen,
	    base);
	if (n < 0 || (size_t)n + sizeof "/d/" + nlen > PORT_SUN_PATH_SIZE) {
		ps->tmp[0] = '\0';
		errno = ENAMETOOLONG;
		return -1;
	}
	if (mkdtemp(ps->tmp) == NULL) {
		ps->tmp[0] = '\0';
		return -1;
	}
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	if (dir[0] == '\0')
		memcpy(dir, "/", 2);
	snprintf(link, sizeof link, "%s/d", ps->tmp);
	if (symlink(dir, link) == -1) {
		saved = errno;
		rmdir(ps->tmp);
		ps->tmp[0] = '\0';
		errno = saved;
		return -1;
	}
	n = snprintf(ps->sun.sun_path, PORT_SUN_PATH_SIZE, "%s/%s", link,
	    slash + 1);
	if (n < 0 || (size_t)n >= PORT_SUN_PATH_SIZE) {	/* checked above */
		port_sun_done(ps);
		errno = ENAMETOOLONG;
		return -1;
	}
	return 1;
}
#endif

/* sun for path, by its directory when it does not fit. */
int
port_sun_fill(struct port_sun *ps, const char *path)
{
	const char	*slash;
	size_t		 n = strlen(path);
#if defined(PORT_LINUX)
	char		 dir[PATH_MAX];
	int		 len;
#endif

	memset(ps, 0, sizeof *ps);
	ps->dirfd = -1;
	ps->sun.sun_family = AF_UNIX;
	if (n < PORT_SUN_PATH_SIZE) {
		memcpy(ps->sun.sun_path, path, n + 1);
		return 0;
	}
	if ((slash = strrchr(path, '/')) == NULL || slash[1] == '\0') {
		errno = ENAMETOOLONG;
		return -1;
	}
#if defined(PORT_LINUX)
	if ((size_t)(slash - path) >= sizeof dir) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	if (dir[0] == '\0')
		memcpy(dir, "/", 2);
	if ((ps->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	len = snprintf(ps->sun.sun_path, PORT_SUN_PATH_SIZE,
	    "/proc/self/fd/%d/%s", ps->dirfd, slash + 1);
	if (len < 0 || (size_t)len >= PORT_SUN_PATH_SIZE) {
		close(ps->dirfd);
		ps->dirfd = -1;
		errno = ENAMETOOLONG;
		return -1;
	}
	return 1;
#else
	return port_sun_symlink(ps, path, slash);
#endif
}

/* Undo port_sun_fill; keeps errno. */
void
port_sun_done(struct port_sun *ps)
{
	char	link[PORT_SUN_PATH_SIZE + 8];
	int	saved = errno;

	if (ps->dirfd != -1) {
		close(ps->dirfd);
		ps->dirfd = -1;
	}
	if (ps->tmp[0] != '\0') {
		snprintf(link, sizeof link, "%s/d", ps->tmp);
		(void)unlink(link);
		(void)rmdir(ps->tmp);
		ps->tmp[0] = '\0';
	}
	errno = saved;
}

/* Peer uid: getpeereid (macOS, BSDs), else SO_PEERCRED (Linux). */
int
port_peer_uid(int fd, uid_t *uid)
{
#if defined(PORT_GETPEEREID)
	gid_t	gid;

	return getpeereid(fd, uid, &gid);
#elif defined(SO_PEERCRED)
	/*
	 * Also the ATC_PORTABLE build on Linux: glibc has no getpeereid, so
	 * that branch is compiled against tests/portable and not run here.
	 */
	struct ucred	cred;
	socklen_t	len = sizeof cred;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return -1;
	*uid = cred.uid;
	return 0;
#else
	(void)fd;
	(void)uid;
	errno = ENOSYS;
	return -1;
#endif
}

/* SCHED_BATCH on Linux; nothing elsewhere. */
int
port_batch_sched(void)
{
#if defined(PORT_LINUX) && defined(SCHED_BATCH)
	struct sched_param	sp;

	memset(&sp, 0, sizeof sp);
	return sched_setscheduler(0, SCHED_BATCH, &sp) == -1 ? -1 : 1;
#else
	return 0;
#endif
}

/* fdatasync on Linux, fsync elsewhere. */
int
port_datasync(int fd)
{
#if defined(PORT_LINUX)
	return fdatasync(fd);
#else
	return fsync(fd);
#endif
}

/* rename(2) that never replaces an existing target. */
int
port_rename_noreplace(const char *from, const char *to)
{
#if defined(PORT_LINUX) && defined(RENAME_NOREPLACE)
	return renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
#elif defined(PORT_DARWIN)
	return renamex_np(from, to, RENAME_EXCL);
#else
	(void)from;
	(void)to;
	errno = ENOSYS;
	return -1;
#endif
}

/* Our executable's absolute path. */
int
port_self_exe(char *out, size_t outlen)
{
#if defined(PORT_LINUX)
	ssize_t		n;

	if ((n = readlink("/proc/self/exe", out, outlen - 1)) == -1)
		return -1;
	if ((size_t)n >= outlen - 1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	out[n] = '\0';
	return 0;
#elif defined(PORT_DARWIN)
	char		raw[PATH_MAX];
	uint32_t	size = sizeof raw;
	char		real[PATH_MAX];
	size_t		n;

	if (_NSGetExecutablePath(raw, &size) != 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (realpath(raw, real) == NULL)
		return -1;
	if ((n = strlen(real)) >= outlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(out, real, n + 1);
	return 0;
#else
	(void)out;
	(void)outlen;
	errno = ENOSYS;
	return -1;
#endif
}

/* Close fds >= lowfd (after fork, before exec: async-signal-safe). */
void
port_closefrom(int lowfd, long maxfd)
{
	long	fd;

#if defined(PORT_LINUX) && defined(SYS_close_range)
	if (syscall(SYS_close_range, (unsigned)lowfd, ~0U, 0) == 0)
		return;
#endif
	for (fd = lowfd; fd < maxfd; fd++)
		(void)close((int)fd);
}

/* launchd's socket for the plist's Sockets entry name. */
int
port_launchd_listener(const char *name)
{
#if defined(PORT_DARWIN)
	int	*fds = NULL;
	size_t	 n = 0, i;
	int	 fd, r;

	if ((r = launch_activate_socket(name, &fds, &n)) != 0) {
		free(fds);
		errno = r;	/* ESRCH: not managed by launchd */
		return -1;
	}
	if (n == 0) {
		free(fds);
		errno = ENOENT;
		return -1;
	}
	fd = fds[0];
	for (i = 1; i < n; i++)
		close(fds[i]);
	free(fds);
	return fd;
#else
	(void)name;
	errno = ENOSYS;
	return -1;
#endif
}
