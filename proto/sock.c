/*
 * sock.c — AF_UNIX addressing and peer credentials. Never prints; never
 * changes the process umask or working directory (it lives in libraries).
 * Platform differences live in port.c.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "port.h"
#include "sock.h"

static int
sock_connect_flags(const char *path, int nonblock)
{
	struct port_sun	ps;
	int		fd, saved;

	if (port_sun_fill(&ps, path) == -1)
		return -1;
	fd = port_socket(AF_UNIX, SOCK_STREAM, nonblock ? PORT_NONBLOCK : 0);
	if (fd == -1) {
		port_sun_done(&ps);
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&ps.sun, sizeof ps.sun) == -1) {
		saved = errno;
		close(fd);
		port_sun_done(&ps);
		errno = saved;
		return -1;
	}
	port_sun_done(&ps);
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
	struct port_sun	ps;
	int		fd, saved;

	if (port_sun_fill(&ps, path) == -1)
		return -1;
	fd = port_socket(AF_UNIX, SOCK_STREAM, PORT_NONBLOCK);
	if (fd == -1)
		goto fail;
	/*
	 * Linux takes the node's mode from the socket inode; macOS and the
	 * BSDs refuse fchmod on a socket (EINVAL): chmod below covers them.
	 */
	if (fchmod(fd, 0600) == -1 && errno != EINVAL)
		goto fail;
	if (bind(fd, (struct sockaddr *)&ps.sun, sizeof ps.sun) == -1)
		goto fail;
	if (chmod(path, 0600) == -1 && errno != ENAMETOOLONG)
		goto fail;
	if (listen(fd, backlog) == -1)
		goto fail;
	port_sun_done(&ps);
	return fd;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	port_sun_done(&ps);
	errno = saved;
	return -1;
}

/* Peer uid (SO_PEERCRED or getpeereid, port.c). */
int
sock_peer_uid(int fd, uid_t *uid)
{
	return port_peer_uid(fd, uid);
}

/* O_NONBLOCK + FD_CLOEXEC. */
int
sock_set_flags(int fd)
{
	return port_set_flags(fd);
}
