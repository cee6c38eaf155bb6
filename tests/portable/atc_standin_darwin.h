/*
 * Stand-in for what macOS declares and glibc does not, so that the macOS
 * branches of proto/port.c and agent/watch.c compile on Linux
 * (`make standin`, run by `make check`; -DATC_STANDIN_DARWIN=1 selects
 * them). Declarations only, with the signatures and constants of the macOS
 * SDK headers named in each comment; nothing here is linked or run.
 */
#ifndef ATC_STANDIN_DARWIN_H
#define ATC_STANDIN_DARWIN_H
#include <sys/types.h>

/* <unistd.h>: int getpeereid(int, uid_t *, gid_t *); */
int	getpeereid(int, uid_t *, gid_t *);

/* <stdio.h> (macOS 10.12+): renamex_np(2) and its flag. */
#define RENAME_EXCL	0x00000004
int	renamex_np(const char *, const char *, unsigned int);

/* <sys/socket.h>: socket option; macOS has no MSG_NOSIGNAL. */
#ifndef SO_NOSIGPIPE
#define SO_NOSIGPIPE	0x1022
#endif

/* <sys/fcntl.h>: open for event notification only. */
#ifndef O_EVTONLY
#define O_EVTONLY	0x00008000
#endif
#endif
