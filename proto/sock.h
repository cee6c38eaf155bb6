/*
 * sock — AF_UNIX helpers shared by agent and shim: connect/listen on paths
 * of any length (a path that does not fit sun_path is reached through its
 * directory: port_sun_fill) and peer credentials.
 */
#ifndef PROTO_SOCK_H
#define PROTO_SOCK_H
#include <sys/types.h>

/* Connect to path: a non-blocking, close-on-exec stream socket, or -1 errno. */
int	sock_connect(const char *path);
/* Blocking variant (CLI): fd or -1 errno. */
int	sock_connect_blocking(const char *path);
/* Bind and listen on path (node mode 0600); -1 errno. The path must not exist. */
int	sock_listen(const char *path, int backlog);
/* The uid of the peer of a connected socket. 0 or -1 errno. */
int	sock_peer_uid(int fd, uid_t *uid);
/* Make fd non-blocking and close-on-exec. 0 or -1. */
int	sock_set_flags(int fd);
#endif
