/*
 * repo — repo_origin detection for the envelope (proto/record.c):
 * find the git repository of a directory and classify its "origin" remote
 * URL by host, reading .git/config directly (no git process is spawned).
 * The URL itself never leaves this module.
 */
#ifndef CLIENT_REPO_H
#define CLIENT_REPO_H
#include <stddef.h>

#define REPO_URL_MAX		2048		/* longest origin URL we keep */
#define REPO_CONFIG_MAX		(1024 * 1024)	/* git config read at most */

enum repo_host {
	REPO_NONE = 0,
	REPO_GITCODE,
	REPO_ATOMGIT,
	REPO_GITHUB,
	REPO_GITLAB,
	REPO_OTHER,
};

struct repo_origin {
	enum repo_host	host;
	int		has_git;
};

/* The wire name of a host: "gitcode", …, "none". */
const char	*repo_host_name(enum repo_host h);
/* Classify a remote URL (case-insensitive; "" → REPO_NONE). */
enum repo_host	 repo_classify(const char *url);
/*
 * Find the first url of [remote "origin"] in the git config text
 * text[0..len). Returns 1 and the value in url, or 0 when there is none.
 */
int		 repo_config_origin(const char *text, size_t len, char *url,
		    size_t urllen);
/*
 * The git config file of the repository containing dir (walking up like
 * git does; follows a ".git" file with "gitdir:" and a "commondir").
 * Returns 0 and the path in out, or -1 (ENOENT: not in a repository).
 */
int		 repo_find_config(const char *dir, char *out, size_t outlen);
/* Detect repo_origin for dir as upstream does with `git remote get-url`. */
void		 repo_detect(const char *dir, struct repo_origin *o);
#endif
