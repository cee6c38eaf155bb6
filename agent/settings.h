/*
 * settings — the agent's own settings, $ATOMCODE_HOME/telemetryd.conf (INI,
 * read with inih). Separate from the user's config.toml (opt-out, endpoint).
 */
#ifndef AGENT_SETTINGS_H
#define AGENT_SETTINGS_H

#include <stddef.h>
#include <stdio.h>

#include "queue.h"

struct settings {
	enum queue_fsync fsync;		/* [queue] fsync = always|roll|never */
	unsigned	roll_interval_ms;	/* [queue] roll_interval_ms: quiet → roll */
	unsigned	idle_exit_s;	/* [agent] idle_exit_s (auto-spawned only; 0 = never) */
	unsigned	stall_timeout_s;	/* [agent] stall_timeout_s: cut stalled clients */
	unsigned	upload_timeout_s;	/* [upload] timeout_s */
	unsigned	upload_connect_timeout_s;	/* [upload] connect_timeout_s */
	unsigned	backoff_scale_pct;	/* [upload] backoff_scale_pct (tests shorten) */
	unsigned	max_retry_after_s;	/* [upload] max_retry_after_s (cap, 24 h) */
	char		ca_file[1024];	/* [upload] ca_file, "" = system store */
	int		allow_http;	/* [upload] allow_http: plain http:// to a
					   host other than loopback */
	int		log_level;	/* [agent] log_level = error|warn|info|debug */
	char		otlp_endpoint[1024];	/* [export] otlp_endpoint, "" = none */
	char		otlp_headers[2048];	/* [export] otlp_headers: k=v,k2=v2 */
	int		otlp_allow_http;	/* [export] otlp_allow_http: http:// beyond loopback */
};

/* Defaults. */
void	settings_defaults(struct settings *s);
/*
 * Read path over the defaults. A missing file is fine (0). On a bad file
 * returns -1 with a sentence in cause (file:line: what) and leaves *s as it
 * was.
 */
int	settings_load(const char *path, struct settings *s, char *cause,
	    size_t causelen);
/* Print the effective settings as an INI file (atomcode-telemetryd -n). */
void	settings_print(const struct settings *s, FILE *fp);
#endif
