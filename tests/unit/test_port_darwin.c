/*
 * test_port_darwin.c — the macOS branches of proto/port.c, run on Linux.
 * port.c is compiled into this test with ATC_STANDIN_DARWIN (the stand-in
 * headers in tests/portable/), and the macOS calls it makes are replaced by
 * fakes below that follow Apple's documented contracts: launch_activate_socket
 * (errno value returned, malloc'ed array the caller frees), getpeereid,
 * renamex_np(RENAME_EXCL), _NSGetExecutablePath (-1 and the size needed
 * when the buffer is short). What is tested is our handling of those
 * contracts; the real calls are not run here (README "macOS and BSD").
 */
#define ATC_STANDIN_DARWIN	1

#include "../../proto/port.c"

#include <sys/wait.h>

#include <sched.h>

#include <setjmp.h>
#include <stdarg.h>

#include <cmocka.h>

/* --- fakes of the macOS calls ------------------------------------------ */

static int	 fake_launch_err;	/* returned by launch_activate_socket */
static int	 fake_launch_n;		/* descriptors it hands out */
static int	 fake_launch_fds[4];
static char	 fake_launch_name[64];
static int	 fake_renamex_flags = -1;
static const char *fake_exe = "/proc/self/exe";

int
launch_activate_socket(const char *name, int **fds, size_t *cnt)
{
	int	i;

	snprintf(fake_launch_name, sizeof fake_launch_name, "%s", name);
	*fds = NULL;
	*cnt = 0;
	if (fake_launch_err != 0)
		return fake_launch_err;
	if ((*fds = malloc(sizeof(int) * (fake_launch_n ? fake_launch_n : 1))) ==
	    NULL)
		return ENOMEM;
	for (i = 0; i < fake_launch_n; i++)
		(*fds)[i] = fake_launch_fds[i];
	*cnt = (size_t)fake_launch_n;
	return 0;
}

int
getpeereid(int fd, uid_t *uid, gid_t *gid)
{
	struct ucred	cred;
	socklen_t	len = sizeof cred;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return -1;
	*uid = cred.uid;
	*gid = cred.gid;
	return 0;
}

int
renamex_np(const char *from, const char *to, unsigned int flags)
{
	fake_renamex_flags = (int)flags;
	if (flags != RENAME_EXCL) {
		errno = EINVAL;
		return -1;
	}
	return renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
}

int
_NSGetExecutablePath(char *buf, uint32_t *bufsize)
{
	char	path[PATH_MAX];
	ssize_t	n;

	if ((n = readlink(fake_exe, path, sizeof path - 1)) == -1) {
		/* a literal path, as dyld may report a relative one */
		snprintf(path, sizeof path, "%s", fake_exe);
		n = (ssize_t)strlen(path);
	}
	path[n] = '\0';
	if ((uint32_t)n + 1 > *bufsize) {
		*bufsize = (uint32_t)n + 1;
		return -1;
	}
	memcpy(buf, path, (size_t)n + 1);
	return 0;
}

/* --- tests --------------------------------------------------------------- */

static int
listener(void)
{
	int	sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return -1;
	close(sv[1]);
	return sv[0];	/* blocking, no FD_CLOEXEC: as launchd hands them */
}

/* Not under launchd: ESRCH comes back as errno, nothing leaks. */
static void
test_launchd_not_managed(void **state)
{
	fake_launch_err = ESRCH;
	errno = 0;
	assert_int_equal(port_launchd_listener("Listeners"), -1);
	assert_int_equal(errno, ESRCH);
	assert_string_equal(fake_launch_name, "Listeners");
	fake_launch_err = ENOENT;	/* no such Sockets key */
	assert_int_equal(port_launchd_listener("Other"), -1);
	assert_int_equal(errno, ENOENT);
	fake_launch_err = 0;
}

/* One descriptor: returned as is (server.c sets the flags). */
static void
test_launchd_one(void **state)
{
	int	fd;

	fake_launch_fds[0] = listener();
	fake_launch_n = 1;
	assert_int_equal(fd = port_launchd_listener("Listeners"),
	    fake_launch_fds[0]);
	assert_int_equal(port_set_flags(fd), 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	close(fd);
}

/* Several (IPv4 + IPv6 style): the first is kept, the others closed. */
static void
test_launchd_several(void **state)
{
	int	i, fd;

	for (i = 0; i < 3; i++)
		fake_launch_fds[i] = listener();
	fake_launch_n = 3;
	assert_int_equal(fd = port_launchd_listener("Listeners"),
	    fake_launch_fds[0]);
	assert_true(fcntl(fake_launch_fds[0], F_GETFD) != -1);
	assert_int_equal(fcntl(fake_launch_fds[1], F_GETFD), -1);
	assert_int_equal(fcntl(fake_launch_fds[2], F_GETFD), -1);
	close(fd);
	/* an empty list is "no socket" */
	fake_launch_n = 0;
	assert_int_equal(port_launchd_listener("Listeners"), -1);
	assert_int_equal(errno, ENOENT);
}

/* The peer uid through getpeereid. */
static void
test_peer_uid(void **state)
{
	int	sv[2];
	uid_t	uid = (uid_t)-1;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(port_peer_uid(sv[0], &uid), 0);
	assert_int_equal(uid, getuid());
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(port_peer_uid(sv[0], &uid), -1);
}

/* macOS: no MSG_NOSIGNAL; SO_NOSIGPIPE is asked on every stream socket. */
static void
test_nosigpipe(void **state)
{
	int	fd;

	assert_int_equal(PORT_MSG_NOSIGNAL, 0);
	assert_int_equal(SO_NOSIGPIPE, 0x1022);
	/* Linux refuses the option: the socket is still made, flags set. */
	assert_true((fd = port_socket(AF_UNIX, SOCK_STREAM, PORT_NONBLOCK)) >=
	    0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	close(fd);
}

/* renamex_np(RENAME_EXCL): never replaces. */
static void
test_rename_excl(void **state)
{
	char	dir[] = "/tmp/atc-darwin.XXXXXX", a[64], b[64];
	int	fd;

	assert_non_null(mkdtemp(dir));
	snprintf(a, sizeof a, "%s/a", dir);
	snprintf(b, sizeof b, "%s/b", dir);
	assert_true((fd = open(a, O_WRONLY | O_CREAT, 0600)) >= 0);
	close(fd);
	assert_true((fd = open(b, O_WRONLY | O_CREAT, 0600)) >= 0);
	close(fd);
	assert_int_equal(port_rename_noreplace(a, b), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(fake_renamex_flags, RENAME_EXCL);
	unlink(b);
	assert_int_equal(port_rename_noreplace(a, b), 0);
	assert_int_equal(access(a, F_OK), -1);
	unlink(b);
	rmdir(dir);
}

/* _NSGetExecutablePath + realpath; a short buffer is ENAMETOOLONG. */
static void
test_self_exe(void **state)
{
	char	self[PATH_MAX], want[PATH_MAX], tiny[8];

	fake_exe = "/proc/self/exe";
	assert_int_equal(port_self_exe(self, sizeof self), 0);
	assert_non_null(realpath("/proc/self/exe", want));
	assert_string_equal(self, want);
	assert_int_equal(port_self_exe(tiny, sizeof tiny), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	/* dyld reports a path with symlinks: realpath resolves it */
	fake_exe = "/tmp/../tmp";
	assert_int_equal(port_self_exe(self, sizeof self), 0);
	assert_string_equal(self, "/tmp");
	fake_exe = "/nonexistent/atc";
	assert_int_equal(port_self_exe(self, sizeof self), -1);
	assert_int_equal(errno, ENOENT);
	fake_exe = "/proc/self/exe";
}

/* The other portable branches this build takes. */
static void
test_branches(void **state)
{
	pid_t	pid;
	int	status;

	assert_int_equal(PORT_SUN_PATH_SIZE, 104);
	if ((pid = fork()) == 0)
		_exit(port_batch_sched() == 0 &&
		    sched_getscheduler(0) == SCHED_OTHER ? 0 : 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_launchd_not_managed),
		cmocka_unit_test(test_launchd_one),
		cmocka_unit_test(test_launchd_several),
		cmocka_unit_test(test_peer_uid),
		cmocka_unit_test(test_nosigpipe),
		cmocka_unit_test(test_rename_excl),
		cmocka_unit_test(test_self_exe),
		cmocka_unit_test(test_branches),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
