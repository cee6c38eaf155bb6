/*
 * sock.c — AF_UNIX addressing and peer credentials. Never prints; never
 * changes the process umask or working directory (it lives in libraries).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sock.h"

/*
 * Fill sun for path. A path that does not fit is reached through an O_PATH
 * descriptor of its directory (*dirfd, to be closed by the caller).
 */
static int
sock_addr(const char *path, struct sockaddr_un *sun, int *dirfd)
{
	const char	*slash;
	char		 dir[4096];
	size_t		 n = strlen(path);
	int		 len;

	*dirfd = -1;
	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	if (n < sizeof sun->sun_path) {
		memcpy(sun->sun_path, path, n + 1);
		return 0;
	}
#ifdef O_PATH
	if ((slash = strrchr(path, '/')) == NULL || (size_t)(slash - path) >=
	    sizeof dir) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	if (dir[0] == '\0')
		memcpy(dir, "/", 2);
	if ((*dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	len = snprintf(sun->sun_path, sizeof sun->sun_path, "/proc/self/fd/%d/%s",
	    *dirfd, slash + 1);
	if (len < 0 || (size_t)len >= sizeof sun->sun_path) {
		close(*dirfd);
		*dirfd = -1;
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
#else
	(void)slash; (void)dir; (void)len;
	errno = ENAMETOOLONG;
	return -1;
#endif
}

static int
sock_connect_flags(const char *path, int nonblock)
{
	struct sockaddr_un	sun;
	int			fd, dirfd, saved;

	if (sock_addr(path, &sun, &dirfd) == -1)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
	    (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd == -1) {
		saved = errno;
		if (dirfd != -1)
			close(dirfd);
		errno = saved;
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		saved = errno;
		close(fd);
		if (dirfd != -1)
			close(dirfd);
		errno = saved;
		return -1;
	}
	if (dirfd != -1)
		close(dirfd);
	return fd;
}

/* Non-blocking connect. */
int
sock_connect(const char *path)
{
	return sock_connect_flags(path, 1);
}

/* Blocking connect. */
int
sock_connect_blocking(const char *path)
{
	return sock_connect_flags(path, 0);
}

/* Bind + listen with a 0600 node. */
int
sock_listen(const char *path, int backlog)
{
	struct sockaddr_un	sun;
	int			fd, dirfd, saved;

	if (sock_addr(path, &sun, &dirfd) == -1)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		goto fail;
	/* Linux takes the node's mode from the socket inode (ecosystem §4.3). */
	if (fchmod(fd, 0600) == -1)
		goto fail;
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) == -1)
		goto fail;
	if (chmod(path, 0600) == -1 && errno != ENAMETOOLONG)
		goto fail;
	if (listen(fd, backlog) == -1)
		goto fail;
	if (dirfd != -1)
		close(dirfd);
	return fd;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	if (dirfd != -1)
		close(dirfd);
	errno = saved;
	return -1;
}

/* Peer uid via SO_PEERCRED or getpeereid. */
int
sock_peer_uid(int fd, uid_t *uid)
{
#ifdef SO_PEERCRED
	struct ucred	cred;
	socklen_t	len = sizeof cred;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return -1;
	*uid = cred.uid;
	return 0;
#else
	gid_t	gid;

	return getpeereid(fd, uid, &gid);
#endif
}

/* O_NONBLOCK + FD_CLOEXEC. */
int
sock_set_flags(int fd)
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
