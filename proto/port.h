/*
 * port — the one place for calls that differ between Linux, macOS and the
 * BSDs (README "macOS and BSD"). Every other file calls these; scripts/
 * lint.sh fails the build if a Linux-only (or macOS-only) call appears
 * anywhere else, agent/watch.c's directory watchers excepted.
 *
 * Branches: PORT_LINUX (Linux, unless built with ATC_PORTABLE, which
 * switches every Linux branch off so `make check PORTABLE=1` runs the
 * portable ones on Linux), PORT_DARWIN (macOS), PORT_KQUEUE (macOS and
 * the BSDs). ATC_STANDIN_DARWIN selects the macOS branches on Linux
 * against the stand-in headers in tests/portable/ (compile and unit-test
 * only: the calls behind them are fakes there).
 */
#ifndef PROTO_PORT_H
#define PROTO_PORT_H
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <stddef.h>

#if defined(__APPLE__) || defined(ATC_STANDIN_DARWIN)
#define PORT_DARWIN	1
#endif
#if defined(ATC_STANDIN_DARWIN)
#include <atc_standin_darwin.h>	/* tests/portable: what Linux lacks */
#endif
#if defined(__linux__) && !defined(ATC_PORTABLE) && !defined(PORT_DARWIN)
#define PORT_LINUX	1
#endif
#if defined(PORT_DARWIN) || defined(__FreeBSD__) || defined(__OpenBSD__) || \
    defined(__NetBSD__) || defined(__DragonFly__)
#define PORT_KQUEUE	1
#define PORT_GETPEEREID	1
#endif

/*
 * The longest AF_UNIX path that fits sun_path with its NUL: 107 on Linux,
 * 103 on macOS and the BSDs (sun_path is 104 bytes there). ATC_PORTABLE
 * uses the smaller one on Linux too, so the long-path route is tested
 * with paths macOS cannot bind directly.
 */
#if defined(PORT_LINUX)
#define PORT_SUN_PATH_SIZE	sizeof(((struct sockaddr_un *)0)->sun_path)
#else
#define PORT_SUN_PATH_SIZE	(sizeof(((struct sockaddr_un *)0)->sun_path) < \
	104 ? sizeof(((struct sockaddr_un *)0)->sun_path) : 104)
#endif

/*
 * send(2) flag that keeps a write to a closed peer from raising SIGPIPE.
 * macOS has no MSG_NOSIGNAL: port_socket() and port_accept() set
 * SO_NOSIGPIPE on the socket instead.
 */
#if defined(MSG_NOSIGNAL) && !defined(PORT_DARWIN)
#define PORT_MSG_NOSIGNAL	MSG_NOSIGNAL
#else
#define PORT_MSG_NOSIGNAL	0
#endif

/* A struct stat's modification time as a struct timespec. */
#if defined(__APPLE__)
#define PORT_MTIM(st)	((st)->st_mtimespec)
#else
#define PORT_MTIM(st)	((st)->st_mtim)
#endif

/* port_socket() flags */
#define PORT_NONBLOCK	0x01

/* An AF_UNIX address for a path of any length (port_sun_fill). */
struct port_sun {
	struct sockaddr_un	sun;
	int			dirfd;	/* Linux: O_PATH fd of the directory */
	char			tmp[PORT_SUN_PATH_SIZE];	/* elsewhere: private
						   dir holding a symlink */
};

/*
 * socket(2) with close-on-exec, O_NONBLOCK if flags has PORT_NONBLOCK, and
 * SO_NOSIGPIPE where it exists. fd or -1 with errno.
 */
int	port_socket(int domain, int type, int flags);
/*
 * accept(2) a connection: close-on-exec, O_NONBLOCK if flags has
 * PORT_NONBLOCK, SO_NOSIGPIPE where it exists. fd or -1 with errno
 * (EAGAIN, EMFILE... as accept(2)).
 */
int	port_accept(int lfd, int flags);
/* Make fd non-blocking and close-on-exec. 0 or -1 with errno. */
int	port_set_flags(int fd);
/*
 * Fill ps for path. A path that does not fit sun_path (PORT_SUN_PATH_SIZE)
 * is reached through its directory: Linux /proc/self/fd/<O_PATH fd>/name;
 * elsewhere a symlink to the directory in a private mkdtemp directory
 * under $TMPDIR (or /tmp when $TMPDIR is unset or too long). 0 if path fits,
 * 1 if the long route was taken, -1 with errno. Call port_sun_done()
 * after connect/bind in every case.
 */
int	port_sun_fill(struct port_sun *ps, const char *path);
/* Release what port_sun_fill() made (the O_PATH fd, the symlink dir). */
void	port_sun_done(struct port_sun *ps);
/* The uid of the peer of a connected AF_UNIX socket. 0 or -1 with errno. */
int	port_peer_uid(int fd, uid_t *uid);
/*
 * Let the calling process run as background work (Linux SCHED_BATCH: never
 * preempts the task on the CPU when it wakes). 1 done, 0 not available
 * here, -1 with errno.
 */
int	port_batch_sched(void);
/*
 * Flush fd's data to stable storage: fdatasync(2) on Linux, fsync(2)
 * elsewhere (see README "macOS and BSD" on F_FULLFSYNC). 0 or -1.
 */
int	port_datasync(int fd);
/*
 * Rename from to to only if to does not exist (EEXIST otherwise), for
 * filesystems without hard links: Linux renameat2(RENAME_NOREPLACE), macOS
 * renamex_np(RENAME_EXCL). -1 with ENOSYS where there is no such call.
 */
int	port_rename_noreplace(const char *from, const char *to);
/*
 * The absolute path of the running executable into out. 0, or -1 with
 * errno (ENOSYS where the system cannot tell: the caller searches $PATH).
 */
int	port_self_exe(char *out, size_t outlen);
/*
 * Close every descriptor >= lowfd in a child about to exec (async-signal-
 * safe: close_range(2) on Linux, else a close loop up to maxfd).
 */
void	port_closefrom(int lowfd, long maxfd);
/*
 * launchd socket activation (macOS): the first descriptor of the plist's
 * Sockets entry `name` (the others are closed), or -1 with errno (ESRCH:
 * not started by launchd; ENOSYS: not macOS).
 */
int	port_launchd_listener(const char *name);
#endif
