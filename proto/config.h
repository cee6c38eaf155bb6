/*
 * config — the user's AtomCode config.toml (only what telemetry needs) and
 * opt-out resolution (README "Opt-out"). The file is the user's whole config: we
 * read only our keys and edit in place without touching any other byte.
 */
#ifndef PROTO_CONFIG_H
#define PROTO_CONFIG_H
#include <stddef.h>

#define CONFIG_DEFAULT_ENDPOINT "https://acs.atomgit.com/api/v1/events"

struct tconfig {
	int	exists;		/* the file was there */
	int	parsed;		/* it parsed (a broken file reads as empty) */
	int	enabled;	/* [telemetry] enabled: -1 absent, 0, 1 */
	int	offline;	/* top-level offline_mode = "on" */
	char	endpoint[1024];	/* [telemetry] endpoint, "" if absent */
	char	error[256];	/* parse or read error, "" if none */
	int	unreadable;	/* errno: it exists but cannot be read */
	int	lenient_off;	/* did not parse, but says enabled = false */
};

/* Read path into c (missing file: defaults, 0). -1 only on a read error. */
int	config_read(const char *path, struct tconfig *c);

struct optout {
	int		 enabled;
	const char	*reason;	/* static: "offline", "env:…", "config"… */
	char		 endpoint[1024];
};

/* Resolve the opt-out (README "Opt-out") from the environment, c, the flag. */
void	optout_resolve(const struct tconfig *c, int cli_no_telemetry,
	    struct optout *o);

/*
 * The one resolution the CLI, the library and the agent share: read path
 * into c and resolve into o. A config.toml that exists but cannot be read
 * (permissions, a directory) turns telemetry off (reason "config") until
 * it can be read; one that does not parse reads as empty (on, as upstream)
 * unless a line scan finds `enabled = false` under [telemetry]. Returns
 * config_read()'s result.
 */
int	config_resolve(const char *path, int cli_no_telemetry,
	    struct tconfig *c, struct optout *o);
/* An absolute http(s) URL with a host? 0, or -1 and a sentence in cause. */
int	config_endpoint_check(const char *url, char *cause, size_t causelen);
/*
 * Whether url is plain http:// to a host that is not loopback (127.0.0.0/8,
 * ::1, localhost): records would cross the network in clear. 1 or 0.
 */
int	config_endpoint_cleartext(const char *url);
/* A sentence for status about an unreadable or unparseable c ("" if none). */
void	config_warning(const struct tconfig *c, char *out, size_t outlen);

/*
 * Set [telemetry] enabled = true|false in place: every other byte unchanged,
 * atomic replace, mode preserved; file (and dir) created if missing.
 * Refuses a file that does not parse: -1 and the upstream message in cause.
 */
int	config_set_enabled(const char *path, int enabled, char *cause,
	    size_t causelen);
/*
 * Would config_set_enabled() succeed? The same checks (readable, parses,
 * editable), and a temp file is created and removed beside it to prove the
 * edit can be saved; the file itself is not touched. 0, or -1 and cause.
 */
int	config_can_set_enabled(const char *path, int enabled, char *cause,
	    size_t causelen);
#endif
