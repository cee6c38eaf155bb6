/*
 * paths.c — where telemetry state lives (docs/ARCHITECTURE.md) and the safety checks
 * on the directories that hold it. Owns path computation only: it never
 * creates a file, never follows a symlinked state directory and never
 * widens a permission.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "paths.h"

#define PATHS_DIR_MODE	0700	/* every directory we create or repair */
#define PATHS_DOTDIR	".atomcode"	/* appended to the home directory */
#ifdef __APPLE__
#define PATHS_USERS	"/Users"	/* homes of unknown sudo users */
#else
#define PATHS_USERS	"/home"
#endif

static int
join(char *dst, const char *dir, const char *name)
{
	int	n;

	n = snprintf(dst, PATHS_MAX, "%s/%s", dir, name);
	if (n < 0 || n >= PATHS_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int
copy(char *dst, const char *src)
{
	size_t	len;

	len = strlen(src);
	if (len >= PATHS_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dst, src, len + 1);
	return 0;
}

/* Strip trailing slashes, but never reduce "/" to "". */
static void
strip_slashes(char *s)
{
	size_t	len;

	len = strlen(s);
	while (len > 1 && s[len - 1] == '/')
		s[--len] = '\0';
}

/*
 * The user's home: under sudo (euid 0 with SUDO_USER naming someone other
 * than root) the invoking user's home (passwd, else /home/<user> as
 * upstream), else $HOME, else the passwd entry. Sets *sudo when that home
 * belongs to another user than the one we run as.
 */
static int
find_home(char *home, int *sudo)
{
	const char	*s;
	struct passwd	*pw;
	int		 n;

	*sudo = 0;
	home[0] = '\0';
	s = getenv("SUDO_USER");
	if (geteuid() == 0 && s != NULL && *s != '\0') {
		pw = getpwnam(s);
		if (pw == NULL || pw->pw_uid != 0)
			*sudo = 1;	/* not our home: create nothing */
		if (pw != NULL && pw->pw_uid != 0 && pw->pw_dir != NULL &&
		    *pw->pw_dir != '\0')
			return copy(home, pw->pw_dir);
		if (pw == NULL && strchr(s, '/') == NULL) {
			/* Not in passwd (LDAP down?): upstream's guess. */
			n = snprintf(home, PATHS_MAX, "%s/%s", PATHS_USERS, s);
			if (n < 0 || n >= PATHS_MAX) {
				errno = ENAMETOOLONG;
				return -1;
			}
			return 0;
		}
		/* root itself: fall through to $HOME. */
	}
	s = getenv("HOME");
	if (s != NULL && *s != '\0')
		return copy(home, s);
	pw = getpwuid(getuid());
	if (pw != NULL && pw->pw_dir != NULL && *pw->pw_dir != '\0')
		return copy(home, pw->pw_dir);
	return 0;
}

/* Fill p from the environment. -1 if a path would not fit. */
int
paths_init(struct paths *p)
{
	const char	*env;
	char		 cwd[PATHS_MAX];

	memset(p, 0, sizeof(*p));
	if (find_home(p->home, &p->sudo) == -1)
		return -1;
	strip_slashes(p->home);

	env = getenv("ATOMCODE_HOME");
	if (env != NULL && *env != '\0' && *env != '/') {
		/*
		 * Relative: anchor it to the working directory now, so an
		 * agent (which runs in "/") or a later chdir() keeps the
		 * same state directory.
		 */
		if (getcwd(cwd, sizeof(cwd)) == NULL ||
		    join(p->dir, cwd, env) == -1)
			return -1;
	} else if (env != NULL && *env != '\0') {
		if (copy(p->dir, env) == -1)
			return -1;
	} else if (p->home[0] != '\0') {
		if (join(p->dir, p->home, PATHS_DOTDIR) == -1)
			return -1;
	} else {
		/*
		 * Upstream falls back to ./.atomcode; make it absolute so a
		 * daemon that changes directory keeps the same state.
		 */
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return -1;
		if (join(p->dir, cwd, PATHS_DOTDIR) == -1)
			return -1;
	}
	strip_slashes(p->dir);

	if (join(p->sock, p->dir, "telemetry.sock") == -1 ||
	    join(p->lock, p->dir, "telemetry.lock") == -1 ||
	    join(p->config, p->dir, "config.toml") == -1 ||
	    join(p->settings, p->dir, "telemetryd.conf") == -1 ||
	    join(p->device_id, p->dir, "device_id") == -1 ||
	    join(p->telemetry, p->dir, "telemetry") == -1 ||
	    join(p->queue, p->telemetry, "queue") == -1 ||
	    join(p->health, p->telemetry, "health.json") == -1 ||
	    join(p->log, p->telemetry, "agent.log") == -1 ||
	    join(p->notice, p->dir, ".telemetry_notice_shown") == -1)
		return -1;
	return 0;
}

/* Set errno and cause; fmt takes the directory and then strerror (optional). */
static int
fail(int error, char *cause, size_t causelen, const char *fmt, const char *dir)
{
	if (cause != NULL && causelen > 0)
		snprintf(cause, causelen, fmt, dir, strerror(error));
	errno = error;
	return -1;
}

/* Take group/other bits off a directory we own, without following links. */
static int
tighten(const char *dir, const struct stat *sb)
{
	struct stat	sb2;
	int		fd, r, saved;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		/* Unreadable (mode 0300 and such): fall back to the path. */
		if (errno != EACCES)
			return -1;
		return chmod(dir, PATHS_DIR_MODE);
	}
	if (fstat(fd, &sb2) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	if (sb2.st_dev != sb->st_dev || sb2.st_ino != sb->st_ino) {
		close(fd);
		errno = EAGAIN;	/* replaced under us */
		return -1;
	}
	r = fchmod(fd, PATHS_DIR_MODE);
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

/*
 * Make sure dir exists (mkdir 0700 if create) and is safe: a real directory
 * (not a symlink), owned by us, no group/other access.
 */
int
paths_check_dir(const char *dir, int create, char *cause, size_t causelen)
{
	struct stat	sb;

	if (cause != NULL && causelen > 0)
		cause[0] = '\0';
	if (lstat(dir, &sb) == -1) {
		if (errno != ENOENT || !create)
			return fail(errno, cause, causelen,
			    "cannot use directory %s: %s", dir);
		if (paths_mkdirs(dir) == -1)
			return fail(errno, cause, causelen,
			    "cannot create directory %s: %s", dir);
		if (lstat(dir, &sb) == -1)
			return fail(errno, cause, causelen,
			    "cannot use directory %s: %s", dir);
	}
	if (S_ISLNK(sb.st_mode))
		return fail(ELOOP, cause, causelen,
		    "%s is a symbolic link; refusing to keep telemetry "
		    "state behind it", dir);
	if (!S_ISDIR(sb.st_mode))
		return fail(ENOTDIR, cause, causelen,
		    "%s exists but is not a directory", dir);
	if (sb.st_uid != getuid() && sb.st_uid != geteuid())
		return fail(EPERM, cause, causelen,
		    "%s is owned by another user; refusing to use it", dir);
	if ((sb.st_mode & 077) != 0 && tighten(dir, &sb) == -1)
		return fail(errno, cause, causelen,
		    "cannot restrict %s to mode 0700: %s", dir);
	return 0;
}

/* mkdir -p with mode 0700 for each missing component under an existing base. */
int
paths_mkdirs(const char *dir)
{
	char		 tmp[PATHS_MAX];
	char		*p;
	struct stat	 sb;

	if (copy(tmp, dir) == -1)
		return -1;
	strip_slashes(tmp);
	if (tmp[0] == '\0') {
		errno = ENOENT;
		return -1;
	}
	/* Walk forward: each prefix ending before a slash, then the whole. */
	for (p = tmp + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		if (*p == '/' && p[-1] == '/')
			continue;
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, PATHS_DIR_MODE) == -1 && errno != EEXIST)
				return -1;
			*p = '/';
			continue;
		}
		if (mkdir(tmp, PATHS_DIR_MODE) == -1 && errno != EEXIST)
			return -1;
		break;
	}
	if (stat(tmp, &sb) == -1)
		return -1;
	if (!S_ISDIR(sb.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

/* dir[0..dlen) + "/" + name into out when it fits. */
int
paths_join(char *out, size_t outlen, const char *dir, size_t dlen,
    const char *name)
{
	size_t	nlen = strlen(name);

	if (dlen + 1 + nlen >= outlen)
		return -1;
	memmove(out, dir, dlen);
	out[dlen] = '/';
	memcpy(out + dlen + 1, name, nlen + 1);
	return 0;
}
