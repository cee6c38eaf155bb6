/*
 * paths — where state lives (docs/ARCHITECTURE.md) and safe directory checks.
 * atomcode_dir = $ATOMCODE_HOME if set and non-empty, else ~/.atomcode
 * (sudo-aware: the home of $SUDO_USER when euid is 0).
 */
#ifndef PROTO_PATHS_H
#define PROTO_PATHS_H
#include <stddef.h>
#include <sys/types.h>

#define PATHS_MAX	4096

struct paths {
	char	dir[PATHS_MAX];		/* atomcode_dir */
	char	home[PATHS_MAX];	/* the user's home ("" if unknown) */
	char	sock[PATHS_MAX];	/* dir/telemetry.sock */
	char	lock[PATHS_MAX];	/* dir/telemetry.lock (agent lifetime lock) */
	char	config[PATHS_MAX];	/* dir/config.toml */
	char	settings[PATHS_MAX];	/* dir/telemetryd.conf */
	char	device_id[PATHS_MAX];	/* dir/device_id */
	char	telemetry[PATHS_MAX];	/* dir/telemetry */
	char	queue[PATHS_MAX];	/* dir/telemetry/queue */
	char	health[PATHS_MAX];	/* dir/telemetry/health.json */
	char	log[PATHS_MAX];		/* dir/telemetry/agent.log */
	char	notice[PATHS_MAX];	/* dir/.telemetry_notice_shown (upstream) */
	int	sudo;			/* euid 0 with SUDO_USER: create nothing */
};

/* Fill p from the environment. -1 if a path would not fit. */
int	paths_init(struct paths *p);

/*
 * Make sure dir exists (mkdir 0700 if create) and is safe: a real directory
 * (not a symlink), owned by us, no group/other write. Returns 0, or -1 with
 * errno and a sentence in cause.
 */
int	paths_check_dir(const char *dir, int create, char *cause, size_t causelen);
/*
 * out = the first dlen bytes of dir, "/", name (dir and out may overlap).
 * 0, or -1 when it does not fit in outlen.
 */
int	paths_join(char *out, size_t outlen, const char *dir, size_t dlen,
	    const char *name);
/* mkdir -p with mode 0700 for each missing component under an existing base. */
int	paths_mkdirs(const char *dir);
#endif
