/*
 * test_port.c — the portability layer (proto/port.c) as built: the Linux
 * branches under `make check`, the portable (macOS/BSD) ones under
 * `make check PORTABLE=1`. Socket flags, socket paths around sun_path's
 * size (104 on macOS, 108 on Linux), the temp space of the long-path route
 * ($TMPDIR), the peer uid, no-replace renames, the self path, closefrom.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "port.h"
#include "sock.h"
#include "testlib.h"

static char	tmp[64];

static int
setup(void **state)
{
	return tl_tmpdir(tmp, sizeof tmp, "atc-port");
}

static int
teardown(void **state)
{
	unsetenv("TMPDIR");
	return tl_rm_rf(tmp) == 0 ? 0 : -1;
}

static int
is_cloexec(int fd)
{
	return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
}

static int
is_nonblock(int fd)
{
	return (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
}

/* The build's sun_path limit: 104 (macOS/BSD) unless the Linux branch. */
static void
test_sun_size(void **state)
{
	struct sockaddr_un	sun;

#if defined(PORT_LINUX)
	assert_int_equal(PORT_SUN_PATH_SIZE, sizeof sun.sun_path);
#else
	assert_int_equal(PORT_SUN_PATH_SIZE, 104);
	assert_true(PORT_SUN_PATH_SIZE <= sizeof sun.sun_path);
#endif
}

/* port_socket: close-on-exec always, non-blocking only when asked. */
static void
test_socket_flags(void **state)
{
	int	fd;

	assert_true((fd = port_socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	assert_true(is_cloexec(fd));
	assert_false(is_nonblock(fd));
	close(fd);
	assert_true((fd = port_socket(AF_UNIX, SOCK_STREAM, PORT_NONBLOCK)) >=
	    0);
	assert_true(is_cloexec(fd));
	assert_true(is_nonblock(fd));
	close(fd);
	assert_true((fd = port_socket(AF_UNIX, SOCK_DGRAM, 0)) >= 0);
	assert_true(is_cloexec(fd));
	close(fd);
	/* Bad input fails with errno, no descriptor. */
	errno = 0;
	assert_int_equal(port_socket(-1, SOCK_STREAM, 0), -1);
	assert_int_not_equal(errno, 0);
}

/* A path of exactly len bytes under tmp ending in /s (made of dirs). */
static void
path_of_len(char *out, size_t len)
{
	size_t	n;

	n = (size_t)snprintf(out, PATH_MAX, "%s/", tmp);
	while (len - n > 40) {	/* directories of 30 characters */
		memset(out + n, 'd', 29);
		out[n + 29] = '/';
		out[n + 30] = '\0';
		n += 30;
		assert_true(mkdir(out, 0700) == 0 || errno == EEXIST);
	}
	/* the socket name fills the rest: len - n bytes */
	memset(out + n, 's', len - n);
	out[len] = '\0';
	assert_int_equal(strlen(out), len);
}

/*
 * listen + connect + accept on socket paths of every length around the
 * limit: those that fit take the direct route, longer ones the long route
 * (Linux /proc/self/fd, elsewhere a symlink under $TMPDIR), and all work.
 */
static void
test_long_paths(void **state)
{
	static const size_t	lens[] = { 90, 102, 103, 104, 105, 106, 107,
	    108, 109, 120, 200, 400 };
	char			path[PATH_MAX], tdir[PATH_MAX];
	struct port_sun		ps;
	size_t			i;
	int			lfd, cfd, afd, route;
	uid_t			uid;

	snprintf(tdir, sizeof tdir, "%s/tmpdir", tmp);
	assert_int_equal(mkdir(tdir, 0700), 0);
	setenv("TMPDIR", tdir, 1);
	for (i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		path_of_len(path, lens[i]);
		route = port_sun_fill(&ps, path);
		assert_int_equal(route, lens[i] < PORT_SUN_PATH_SIZE ? 0 : 1);
		assert_true(strlen(ps.sun.sun_path) < PORT_SUN_PATH_SIZE);
#if !defined(PORT_LINUX)
		if (route == 1) {
			/* the temp space is under $TMPDIR, and private */
			struct stat	st;

			assert_memory_equal(ps.sun.sun_path, tdir,
			    strlen(tdir));
			assert_int_equal(stat(ps.tmp, &st), 0);
			assert_int_equal(st.st_mode & 0777, 0700);
		}
#endif
		port_sun_done(&ps);
		assert_int_equal(tl_count_entries(tdir), 0);

		lfd = sock_listen(path, 4);
		if (lfd == -1)
			fail_msg("listen on %zu bytes: %s", lens[i],
			    strerror(errno));
		cfd = sock_connect_blocking(path);
		if (cfd == -1)
			fail_msg("connect on %zu bytes: %s", lens[i],
			    strerror(errno));
		assert_true((afd = port_accept(lfd, PORT_NONBLOCK)) >= 0);
		assert_true(is_cloexec(afd));
		assert_true(is_nonblock(afd));
		assert_int_equal(port_peer_uid(afd, &uid), 0);
		assert_int_equal(uid, getuid());
		assert_int_equal(write(cfd, "x", 1), 1);
		close(afd);
		close(cfd);
		close(lfd);
		/* the node is at the real path, mode 0600; nothing left behind */
		{
			struct stat	st;

			assert_int_equal(lstat(path, &st), 0);
			assert_true(S_ISSOCK(st.st_mode));
			assert_int_equal(st.st_mode & 0777, 0600);
		}
		assert_int_equal(unlink(path), 0);
		assert_int_equal(tl_count_entries(tdir), 0);
	}
}

/* The long route's temp space: $TMPDIR when it fits, else /tmp. */
static void
test_long_path_tmpdir(void **state)
{
	char		path[PATH_MAX], longtmp[PATH_MAX];
	struct port_sun	ps;

	path_of_len(path, 150);
	/* relative TMPDIR: not used */
	setenv("TMPDIR", "relative/dir", 1);
	assert_int_equal(port_sun_fill(&ps, path), 1);
#if !defined(PORT_LINUX)
	assert_memory_equal(ps.sun.sun_path, "/tmp/atc-", 9);
#endif
	port_sun_done(&ps);
	/* a TMPDIR too long to leave room for the name: /tmp instead */
	path_of_len(longtmp, 95);
	longtmp[strlen(longtmp) - 10] = '\0';
	assert_true(mkdir(longtmp, 0700) == 0 || errno == EEXIST);
	setenv("TMPDIR", longtmp, 1);
	assert_int_equal(port_sun_fill(&ps, path), 1);
#if !defined(PORT_LINUX)
	assert_memory_equal(ps.sun.sun_path, "/tmp/atc-", 9);
#endif
	port_sun_done(&ps);
	assert_int_equal(tl_count_entries(longtmp), 0);
	/* a name that cannot fit sun_path by any route */
	snprintf(path, sizeof path, "%s/", tmp);
	memset(path + strlen(path), 'n', 120);
	path[strlen(tmp) + 1 + 120] = '\0';
	errno = 0;
	assert_int_equal(port_sun_fill(&ps, path), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	/* no directory part at all */
	memset(path, 'n', 200);
	path[200] = '\0';
	assert_int_equal(port_sun_fill(&ps, path), -1);
	assert_int_equal(errno, ENAMETOOLONG);
}

/* port_rename_noreplace never replaces; ENOSYS where there is no call. */
static void
test_rename_noreplace(void **state)
{
	char	a[PATH_MAX], b[PATH_MAX], buf[8];
	int	fd, r;

	snprintf(a, sizeof a, "%s/a", tmp);
	snprintf(b, sizeof b, "%s/b", tmp);
	assert_true((fd = open(a, O_WRONLY | O_CREAT, 0600)) >= 0);
	assert_int_equal(write(fd, "A", 1), 1);
	close(fd);
	assert_true((fd = open(b, O_WRONLY | O_CREAT, 0600)) >= 0);
	assert_int_equal(write(fd, "B", 1), 1);
	close(fd);
	r = port_rename_noreplace(a, b);
	assert_int_equal(r, -1);
#if defined(PORT_LINUX)
	assert_int_equal(errno, EEXIST);
#else
	assert_int_equal(errno, ENOSYS);	/* glibc has no renamex_np */
#endif
	assert_true((fd = open(b, O_RDONLY)) >= 0);
	assert_int_equal(read(fd, buf, sizeof buf), 1);
	assert_int_equal(buf[0], 'B');
	close(fd);
	unlink(b);
	r = port_rename_noreplace(a, b);
#if defined(PORT_LINUX)
	assert_int_equal(r, 0);
	assert_int_equal(access(b, F_OK), 0);
	assert_int_equal(access(a, F_OK), -1);
#else
	assert_int_equal(r, -1);
	assert_int_equal(access(a, F_OK), 0);
#endif
}

/* port_self_exe: this test binary, where the system can say. */
static void
test_self_exe(void **state)
{
	char	self[PATH_MAX];
	char	tiny[4];

#if defined(PORT_LINUX)
	assert_int_equal(port_self_exe(self, sizeof self), 0);
	assert_true(self[0] == '/');
	assert_non_null(strstr(self, "test_port"));
	assert_int_equal(port_self_exe(tiny, sizeof tiny), -1);
	assert_int_equal(errno, ENAMETOOLONG);
#else
	assert_int_equal(port_self_exe(self, sizeof self), -1);
	assert_int_equal(errno, ENOSYS);	/* spawn.c searches $PATH */
	(void)tiny;
#endif
}

/* port_batch_sched: SCHED_BATCH on Linux only (in a child). */
static void
test_batch_sched(void **state)
{
	pid_t	pid;
	int	status;

	if ((pid = fork()) == 0) {
		int	r = port_batch_sched();
#if defined(PORT_LINUX)
		_exit(r == 1 && sched_getscheduler(0) == SCHED_BATCH ? 0 : 1);
#else
		_exit(r == 0 && sched_getscheduler(0) == SCHED_OTHER ? 0 : 1);
#endif
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* port_closefrom closes lowfd and above, nothing below (in a child). */
static void
test_closefrom(void **state)
{
	pid_t	pid;
	int	status;

	if ((pid = fork()) == 0) {
		int	ok = 1, fd;

		for (fd = 10; fd < 20; fd++)
			if (dup2(0, fd) == -1)
				_exit(2);
		port_closefrom(15, sysconf(_SC_OPEN_MAX));
		for (fd = 10; fd < 15; fd++)
			ok &= fcntl(fd, F_GETFD) != -1;
		for (fd = 15; fd < 20; fd++)
			ok &= fcntl(fd, F_GETFD) == -1 && errno == EBADF;
		_exit(ok ? 0 : 1);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* port_datasync on a file; a bad descriptor fails. */
static void
test_datasync(void **state)
{
	char	p[PATH_MAX];
	int	fd;

	snprintf(p, sizeof p, "%s/d", tmp);
	assert_true((fd = open(p, O_WRONLY | O_CREAT, 0600)) >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	assert_int_equal(port_datasync(fd), 0);
	close(fd);
	assert_int_equal(port_datasync(fd), -1);
	assert_int_equal(errno, EBADF);
}

/* Not macOS: no launchd socket. */
static void
test_launchd_elsewhere(void **state)
{
	errno = 0;
	assert_int_equal(port_launchd_listener("Listeners"), -1);
	assert_int_equal(errno, ENOSYS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sun_size),
		cmocka_unit_test(test_socket_flags),
		cmocka_unit_test_setup_teardown(test_long_paths, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_long_path_tmpdir, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rename_noreplace, setup,
		    teardown),
		cmocka_unit_test(test_self_exe),
		cmocka_unit_test(test_batch_sched),
		cmocka_unit_test(test_closefrom),
		cmocka_unit_test_setup_teardown(test_datasync, setup, teardown),
		cmocka_unit_test(test_launchd_elsewhere),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
