/*
 * spawn.c — starts the agent when no one answers on the socket, at most one
 * per lock holder. The decision is taken under
 * telemetry.lock, and the locked descriptor is handed to the agent through
 * exec (fd 3, ATOMCODE_LOCK_FD=3): the lock is never free between "nobody
 * is running" and "the agent runs". It must never wait for the agent, unlock
 * the lock (LOCK_UN would unlock the agent's copy too), unlink the lock
 * file, or call anything but async-signal-safe functions after fork().
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsio.h"
#include "paths.h"
#include "port.h"
#include "sock.h"
#include "spawn.h"

#define SPAWN_PATH_MAX		4096	/* longest program path we build */
#define SPAWN_MAX_CLOSE		65536	/* close loop bound, no close_range */
#define SPAWN_LOCK_ENV		"ATOMCODE_LOCK_FD=3"

extern char **environ;

/* Variables the agent must not inherit from us. */
static const char *const spawn_drop_env[] = {
	"ATOMCODE_LOCK_FD=", "LISTEN_FDS=", "LISTEN_PID=", "LISTEN_FDNAMES=",
};

static int
executable(const char *path)
{
	struct stat	sb;

	return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    access(path, X_OK) == 0;
}

/* Find name in the absolute directories of $PATH. */
static int
path_search(const char *name, char *out, size_t outlen)
{
	const char	*p, *colon;

	for (p = getenv("PATH"); p != NULL && *p != '\0'; p = colon + 1) {
		if ((colon = strchr(p, ':')) == NULL)
			colon = p + strlen(p);
		/* Empty and relative entries would make us depend on cwd. */
		if (*p == '/' && paths_join(out, outlen, p, (size_t)(colon - p),
		    name) == 0 && executable(out))
			return 0;
		if (*colon == '\0')
			break;
	}
	errno = ENOENT;
	return -1;
}

/* Resolve the agent program to execute. */
int
spawn_program(char *out, size_t outlen)
{
	const char	*env;
	char		 self[SPAWN_PATH_MAX], *slash;
	size_t		 len;

	env = getenv("ATOMCODE_TELEMETRYD");
	if (env != NULL && *env != '\0' && strchr(env, '/') != NULL) {
		/* The agent runs in "/": make a relative path absolute. */
		if (realpath(env, self) == NULL || (len = strlen(self)) >=
		    outlen || !executable(self)) {
			errno = ENOENT;
			return -1;
		}
		memcpy(out, self, len + 1);
		return 0;
	}
	if (env != NULL && *env != '\0')
		return path_search(env, out, outlen);
	if (port_self_exe(self, sizeof(self)) == 0) {
		if ((slash = strrchr(self, '/')) != NULL &&
		    paths_join(out, outlen, self, (size_t)(slash - self),
		    SPAWN_PROGRAM) == 0 && executable(out))
			return 0;
	}
	return path_search(SPAWN_PROGRAM, out, outlen);
}

/*
 * Our environment minus inherited activation variables, plus the lock fd;
 * a relative ATOMCODE_HOME is replaced by home (absolute: the agent runs
 * in "/").
 */
static char **
spawn_env(const char *home)
{
	char	**envp, **e;
	size_t	  n = 0, i, k, d;
	int	  drop;

	for (e = environ; e != NULL && *e != NULL; e++)
		n++;
	if ((envp = calloc(n + 2, sizeof(*envp))) == NULL)
		return NULL;
	for (i = 0, k = 0; i < n; i++) {
		drop = 0;
		for (d = 0; d < sizeof(spawn_drop_env) /
		    sizeof(spawn_drop_env[0]); d++)
			if (strncmp(environ[i], spawn_drop_env[d],
			    strlen(spawn_drop_env[d])) == 0)
				drop = 1;
		if (home != NULL && strncmp(environ[i], "ATOMCODE_HOME=", 14) ==
		    0 && environ[i][14] != '/' && environ[i][14] != '\0')
			envp[k++] = (char *)home;
		else if (!drop)
			envp[k++] = environ[i];
	}
	envp[k++] = (char *)SPAWN_LOCK_ENV;
	envp[k] = NULL;
	return envp;
}

/* "ATOMCODE_HOME=<directory of lockpath>" (caller frees), NULL on error. */
static char *
spawn_home(const char *lockpath)
{
	const char	*slash = strrchr(lockpath, '/');
	char		*s;
	size_t		 n;

	if (slash == NULL || lockpath[0] != '/')
		return NULL;
	n = (size_t)(slash - lockpath);
	if ((s = malloc(14 + n + 1)) == NULL)
		return NULL;
	memcpy(s, "ATOMCODE_HOME=", 14);
	memcpy(s + 14, lockpath, n);
	s[14 + n] = '\0';
	return s;
}

/* The grandchild: detach from everything we hold and exec the agent. */
static void __attribute__((noreturn))
spawn_exec(int lk, char *const argv[], char *const envp[], long maxfd)
{
	struct sigaction	sa;
	sigset_t		none;
	int			sig, nul, fd;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL);	/* EINVAL: fine */

	/* The held lock becomes fd 3 without close-on-exec. */
	if (lk != SPAWN_LOCK_FD) {
		if (dup2(lk, SPAWN_LOCK_FD) == -1)
			_exit(127);
	} else if (fcntl(lk, F_SETFD, 0) == -1)
		_exit(127);

	nul = open("/dev/null", O_RDWR);
	for (fd = 0; fd <= 2; fd++) {
		if (nul == -1)
			close(fd);
		else if (nul != fd)
			dup2(nul, fd);
	}
	if (chdir("/") == -1)
		_exit(127);
	port_closefrom(SPAWN_LOCK_FD + 1, maxfd);
	execve(argv[0], argv, envp);
	_exit(127);
}

/* Take the lock; retry the connect; else start the agent detached. */
enum spawn_result
spawn_agent(const char *lockpath, const char *sockpath, int *fdp)
{
	char		  prog[SPAWN_PATH_MAX];
	char		 *argv[3], *home;
	char		**envp;
	long		  maxfd;
	pid_t		  pid, w;
	int		  lk, fd, saved, status;

	*fdp = -1;
	lk = fsio_open(AT_FDCWD, lockpath, O_RDWR | O_CREAT, 0600, FSIO_OWNER);
	if (lk == -1)
		return SPAWN_FAILED;
	if (flock(lk, LOCK_EX | LOCK_NB) == -1) {
		saved = errno;
		close(lk);
		errno = saved;
		return saved == EWOULDBLOCK ? SPAWN_BUSY : SPAWN_FAILED;
	}
	/*
	 * Another process may have started an agent and let it go between
	 * our failed connect and our flock (tmux does the same retry).
	 */
	if ((fd = sock_connect(sockpath)) != -1) {
		close(lk);
		*fdp = fd;
		return SPAWN_CONNECTED;
	}
	home = spawn_home(lockpath);
	if (spawn_program(prog, sizeof(prog)) == -1 ||
	    (envp = spawn_env(home)) == NULL) {
		saved = errno;
		free(home);
		close(lk);
		errno = saved;
		return SPAWN_FAILED;
	}
	argv[0] = prog;
	argv[1] = (char *)"--detach-child";
	argv[2] = NULL;
	maxfd = sysconf(_SC_OPEN_MAX);
	if (maxfd < 0 || maxfd > SPAWN_MAX_CLOSE)
		maxfd = SPAWN_MAX_CLOSE;

	pid = fork();
	if (pid == -1) {
		saved = errno;
		free(envp);
		free(home);
		close(lk);
		errno = saved;
		return SPAWN_FAILED;
	}
	if (pid == 0) {
		/* Middle child: new session, then leave an orphan behind. */
		setsid();
		pid = fork();
		if (pid != 0)
			_exit(pid == -1 ? 1 : 0);
		spawn_exec(lk, argv, envp, maxfd);
	}
	do {
		w = waitpid(pid, &status, 0);
	} while (w == -1 && errno == EINTR);
	free(envp);
	free(home);
	/* No LOCK_UN: the agent now holds the lock through its fd 3. */
	close(lk);
	if (w == pid && WIFEXITED(status) && WEXITSTATUS(status) != 0) {
		errno = EAGAIN;
		return SPAWN_FAILED;
	}
	return SPAWN_STARTED;
}
