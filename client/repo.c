/*
 * repo.c — repo_origin detection: find a directory's git repository and
 * classify its origin URL. Reads only .git, gitdir/commondir files and the
 * repository's config. It must never spawn git, write anything, or let the
 * URL escape (callers get a host class and a flag).
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsio.h"
#include "paths.h"
#include "repo.h"

#define REPO_PATH_MAX	4096	/* longest path we build */
#define REPO_SMALL_MAX	4096	/* .git / commondir files are one short line */

/* Host names in enum order. */
static const char *const repo_names[] = {
	"none", "gitcode", "atomgit", "github", "gitlab", "other",
};

/* The wire name of a host class. */
const char *
repo_host_name(enum repo_host h)
{
	if ((unsigned)h >= sizeof(repo_names) / sizeof(repo_names[0]))
		return "other";
	return repo_names[h];
}

/* Case-insensitive substring test. */
static int
contains(const char *s, const char *needle)
{
	size_t	n = strlen(needle), i;

	for (; *s != '\0'; s++) {
		for (i = 0; i < n; i++) {
			if (s[i] == '\0' ||
			    tolower((unsigned char)s[i]) != needle[i])
				break;
		}
		if (i == n)
			return 1;
	}
	return 0;
}

/* Classify a remote URL by its first matching host rule, as upstream does. */
enum repo_host
repo_classify(const char *url)
{
	const char	*p;

	for (p = url; *p != '\0' && isspace((unsigned char)*p); p++)
		;
	if (*p == '\0')
		return REPO_NONE;
	if (contains(p, "gitcode.com"))
		return REPO_GITCODE;
	if (contains(p, "atomgit.com"))
		return REPO_ATOMGIT;
	if (contains(p, "github.com"))
		return REPO_GITHUB;
	if (contains(p, "gitlab."))
		return REPO_GITLAB;
	return REPO_OTHER;
}

/* Parse a section header at p (after '['): 1 if it is remote "origin". */
static int
section_is_origin(const char *p, const char *end, const char **after)
{
	const char	*name, *q;
	size_t		 n;
	char		 sub[64];
	size_t		 sn = 0;
	int		 is_remote;

	name = p;
	while (p < end && *p != ']' && *p != '"' &&
	    !isspace((unsigned char)*p))
		p++;
	n = (size_t)(p - name);
	/* Deprecated form: [remote.origin] (case-insensitive). */
	if (n == 13 && strncasecmp(name, "remote.origin", 13) == 0) {
		q = p;
		while (q < end && *q != ']')
			q++;
		*after = q < end ? q + 1 : end;
		return 1;
	}
	is_remote = n == 6 && strncasecmp(name, "remote", 6) == 0;
	while (p < end && isspace((unsigned char)*p))
		p++;
	if (p < end && *p == '"') {
		for (p++; p < end && *p != '"'; p++) {
			if (*p == '\\' && p + 1 < end)
				p++;
			if (sn < sizeof(sub) - 1)
				sub[sn++] = *p;
			else
				is_remote = 0;
		}
		if (p < end)
			p++;
	}
	sub[sn] = '\0';
	while (p < end && *p != ']')
		p++;
	*after = p < end ? p + 1 : end;
	return is_remote && strcmp(sub, "origin") == 0;
}

/*
 * Parse a git config value (after '=') into out: quotes removed, escapes
 * resolved, an unquoted '#' or ';' starts a comment, surrounding blanks
 * trimmed. Returns the length.
 */
static size_t
parse_value(const char *p, const char *end, char *out, size_t outlen)
{
	size_t	n = 0, keep = 0;
	int	quoted = 0;
	char	c;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	for (; p < end; p++) {
		c = *p;
		if (c == '"') {
			quoted = !quoted;
			keep = n;
			continue;
		}
		if (!quoted && (c == '#' || c == ';'))
			break;
		if (c == '\\' && p + 1 < end) {
			p++;
			switch (*p) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'b': c = '\b'; break;
			default: c = *p; break;
			}
			if (n < outlen - 1)
				out[n++] = c;
			keep = n;
			continue;
		}
		if (n < outlen - 1)
			out[n++] = c;
		if (quoted || (c != ' ' && c != '\t' && c != '\r'))
			keep = n;
	}
	out[keep] = '\0';
	return keep;
}

/* Find the first url of [remote "origin"] in a git config text. */
int
repo_config_origin(const char *text, size_t len, char *url, size_t urllen)
{
	const char	*p = text, *end = text + len, *eol, *k;
	int		 in_origin = 0;
	size_t		 kn;

	if (urllen == 0)
		return 0;
	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		while (p < eol && isspace((unsigned char)*p))
			p++;
		if (p < eol && *p == '[') {
			in_origin = section_is_origin(p + 1, eol, &p);
			while (p < eol && isspace((unsigned char)*p))
				p++;
		}
		if (in_origin && p < eol && isalpha((unsigned char)*p)) {
			k = p;
			while (p < eol && (isalnum((unsigned char)*p) ||
			    *p == '-'))
				p++;
			kn = (size_t)(p - k);
			while (p < eol && (*p == ' ' || *p == '\t'))
				p++;
			if (kn == 3 && strncasecmp(k, "url", 3) == 0 &&
			    p < eol && *p == '=') {
				parse_value(p + 1, eol, url, urllen);
				return 1;
			}
		}
		p = eol + 1;
	}
	url[0] = '\0';
	return 0;
}

/* Read a small file into buf (NUL-terminated). Returns its length or -1. */
static ssize_t
read_small(const char *path, char *buf, size_t size)
{
	ssize_t	n;
	size_t	got = 0;
	int	fd, saved;

	/* A FIFO in a repository must not hang atc_open. */
	if ((fd = fsio_open(AT_FDCWD, path, O_RDONLY, 0, FSIO_FOLLOW)) == -1)
		return -1;
	while (got < size - 1) {
		n = read(fd, buf + got, size - 1 - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	return (ssize_t)got;
}

/* Trim surrounding whitespace in place. */
static char *
trim(char *s)
{
	char	*e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* out = rel if absolute, else base/rel. -1 if it does not fit. */
static int
resolve(char *out, size_t outlen, const char *base, const char *rel)
{
	size_t	rn = strlen(rel);

	if (rel[0] == '/') {
		if (rn >= outlen)
			return -1;
		memcpy(out, rel, rn + 1);
		return 0;
	}
	return paths_join(out, outlen, base, strlen(base), rel);
}

/*
 * Given the repository's git dir, the config path: <commondir>/config when
 * a commondir file names the shared repository (worktrees), else
 * <gitdir>/config.
 */
static int
config_of_gitdir(const char *gitdir, char *out, size_t outlen)
{
	char	 path[REPO_PATH_MAX], line[REPO_SMALL_MAX];
	char	 common[REPO_PATH_MAX];
	char	*v;

	if (resolve(path, sizeof(path), gitdir, "commondir") == 0 &&
	    read_small(path, line, sizeof(line)) > 0 &&
	    *(v = trim(line)) != '\0') {
		if (resolve(common, sizeof(common), gitdir, v) == -1)
			return -1;
		return resolve(out, outlen, common, "config");
	}
	return resolve(out, outlen, gitdir, "config");
}

/* Whether dir/.git exists (any type). */
static int
has_dotgit(const char *dir)
{
	char		path[REPO_PATH_MAX];
	struct stat	sb;

	if (resolve(path, sizeof(path), dir, ".git") == -1)
		return 0;
	return stat(path, &sb) == 0;
}

/* The git config of the repository containing dir (walks up). */
int
repo_find_config(const char *dir, char *out, size_t outlen)
{
	char		 cur[REPO_PATH_MAX], path[REPO_PATH_MAX];
	char		 line[REPO_SMALL_MAX], gitdir[REPO_PATH_MAX];
	char		*slash, *v;
	struct stat	 sb;
	size_t		 n;

	n = strlen(dir);
	if (n == 0 || n >= sizeof(cur)) {
		errno = ENOENT;
		return -1;
	}
	if (realpath(dir, cur) == NULL)
		memcpy(cur, dir, n + 1);
	for (;;) {
		if (resolve(path, sizeof(path), strcmp(cur, "/") == 0 ? "" :
		    cur, ".git") == 0 && stat(path, &sb) == 0) {
			if (S_ISDIR(sb.st_mode))
				return config_of_gitdir(path, out, outlen);
			if (S_ISREG(sb.st_mode) &&
			    read_small(path, line, sizeof(line)) > 0) {
				v = trim(line);
				if (strncmp(v, "gitdir:", 7) == 0) {
					v = trim(v + 7);
					if (*v != '\0' && resolve(gitdir,
					    sizeof(gitdir), cur, v) == 0)
						return config_of_gitdir(gitdir,
						    out, outlen);
				}
			}
			/* A broken .git: git would stop here too. */
			errno = ENOENT;
			return -1;
		}
		if ((slash = strrchr(cur, '/')) == NULL ||
		    strcmp(cur, "/") == 0)
			break;
		if (slash == cur)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	errno = ENOENT;
	return -1;
}

/* Detect repo_origin for dir (without spawning git). */
void
repo_detect(const char *dir, struct repo_origin *o)
{
	char	 cfg[REPO_PATH_MAX], url[REPO_URL_MAX];
	char	*text;
	ssize_t	 n;

	o->host = REPO_NONE;
	o->has_git = 0;
	if (dir == NULL || *dir == '\0')
		return;
	if (repo_find_config(dir, cfg, sizeof(cfg)) == 0 &&
	    (text = malloc(REPO_CONFIG_MAX)) != NULL) {
		n = read_small(cfg, text, REPO_CONFIG_MAX);
		if (n > 0 && repo_config_origin(text, (size_t)n, url,
		    sizeof(url)) == 1) {
			free(text);
			/* `git remote get-url origin` succeeded. */
			o->host = repo_classify(url);
			o->has_git = 1;
			return;
		}
		free(text);
	}
	/* No origin: has_git is whether dir/.git itself exists. */
	o->has_git = has_dotgit(dir);
}
