/*
 * configure.c — telemetryd.conf and config.toml applied to the running
 * agent: the endpoint rules (https unless loopback or allowed), the
 * uploader's and the OTLP exporter's settings, and the reload that SIGHUP,
 * the reload op and an edit of config.toml all run. A settings file that
 * does not load never half-applies; an endpoint that is refused keeps the
 * previous one. Calls nothing of main.c, server.c, control.c or ingest.c.
 */
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "log.h"

/*
 * An endpoint the agent may upload to: an http(s) URL with a host, and
 * HTTPS unless it is loopback (tests, `make demo`) or telemetryd.conf says
 * [upload] allow_http = true. 0, or -1 and a sentence in cause.
 */
int
configure_endpoint_check(struct agent *a, const char *url, char *cause,
    size_t causelen)
{
	if (config_endpoint_check(url, cause, causelen) == -1)
		return -1;
	if (!a->settings.allow_http && config_endpoint_cleartext(url)) {
		snprintf(cause, causelen, "endpoint \"%.200s\" is plain http://"
		    " to a host other than loopback: records would cross the"
		    " network in clear; use https:// (or set [upload]"
		    " allow_http = true in telemetryd.conf)", url);
		return -1;
	}
	return 0;
}

/* The uploader's configuration from the current state (state: its path). */
void
configure_upload(struct agent *a, struct upload_config *uc, char *state,
    size_t statelen)
{
	char	cause[512];

	snprintf(state, statelen, "%s/upload-state.json", a->paths.telemetry);
	memset(uc, 0, sizeof *uc);
	/* An endpoint the settings no longer allow is never sent to. */
	uc->enabled = a->opt.enabled && configure_endpoint_check(a,
	    a->opt.endpoint, cause, sizeof cause) == 0;
	uc->endpoint = a->opt.endpoint;
	uc->ca_file = a->settings.ca_file;
	uc->timeout_s = a->settings.upload_timeout_s;
	uc->connect_timeout_s = a->settings.upload_connect_timeout_s;
	uc->backoff_scale_pct = a->settings.backoff_scale_pct;
	uc->max_retry_after_s = a->settings.max_retry_after_s;
	uc->state_path = state;
	uc->health_path = a->paths.health;
	uc->user_agent_version = ATC_VERSION;
}

static void
configure_export_hook(void *arg, int now)
{
	export_seen(((struct agent *)arg)->exp, now);
}

static void
configure_export_derived(const char *name, void *arg)
{
	export_derived(((struct agent *)arg)->exp, name);
}

/*
 * The OTLP destination follows [export] otlp_endpoint: started, given new
 * settings, or stopped (its directory stays; it resumes when set again).
 */
void
configure_export(struct agent *a)
{
	struct export_config	ec;
	char			dir[PATHS_MAX + 32], cause[512];

	if (a->settings.otlp_endpoint[0] == '\0') {
		if (a->exp != NULL) {
			upload_set_ready_hook(a->up, NULL, NULL);
			queue_set_write_hook(a->q, NULL, NULL);
			export_free(a->exp);
			a->exp = NULL;
			log_info("export stopped: no [export] otlp_endpoint");
		}
		return;
	}
	memset(&ec, 0, sizeof ec);
	ec.enabled = a->opt.enabled;
	ec.endpoint = a->settings.otlp_endpoint;
	ec.headers = a->settings.otlp_headers;
	ec.ca_file = a->settings.ca_file;
	ec.timeout_s = a->settings.upload_timeout_s;
	ec.connect_timeout_s = a->settings.upload_connect_timeout_s;
	ec.backoff_scale_pct = a->settings.backoff_scale_pct;
	ec.max_retry_after_s = a->settings.max_retry_after_s;
	ec.user_agent_version = ATC_VERSION;
	if (a->exp != NULL) {
		if (export_reconfigure(a->exp, &ec, cause, sizeof cause) == -1)
			log_warnx("export: keeping the old settings: %s", cause);
		export_seen(a->exp, 0);
		return;
	}
	snprintf(dir, sizeof dir, "%s/%s", a->paths.telemetry,
	    EXPORT_DIR_NAME);
	if ((a->exp = export_new(a->base, a->paths.queue, dir, &ec, cause,
	    sizeof cause)) == NULL) {
		log_warnx("export not started: %s", cause);
		return;
	}
	upload_set_ready_hook(a->up, configure_export_hook, a);
	queue_set_write_hook(a->q, configure_export_derived, a);
}

/* Re-read config.toml and telemetryd.conf; a bad settings file keeps the old. */
void
configure_reload(struct agent *a, char *err, size_t errlen)
{
	struct upload_config	uc;
	struct tconfig		cfg;
	struct optout		o;
	struct settings		s;
	char			state[PATHS_MAX + 32], cause[512], warn[512];
	int			was = a->opt.enabled;

	/* From the defaults, so a removed key goes back to its default. */
	settings_defaults(&s);
	if (settings_load(a->paths.settings, &s, cause, sizeof cause) == 0)
		a->settings = s;
	else {
		log_warnx("settings not reloaded, keeping the old ones: %s",
		    cause);
		snprintf(err, errlen, "%s (old settings kept)", cause);
	}
	/* The resolution the CLI and the library share (config.h). */
	(void)config_resolve(a->paths.config, a->cli_no_telemetry, &cfg, &o);
	config_warning(&cfg, warn, sizeof warn);
	if (warn[0] != '\0')
		log_warnx("%s", warn);
	if (configure_endpoint_check(a, o.endpoint, cause, sizeof cause) == -1) {
		log_warnx("%s; keeping %s", cause, a->opt.endpoint);
		snprintf(err, errlen, "%s (endpoint %s kept)", cause,
		    a->opt.endpoint);
		memcpy(o.endpoint, a->opt.endpoint, sizeof o.endpoint);
	}
	a->config = cfg;
	a->opt = o;
	log_set_level(a->settings.log_level);
	queue_set_fsync(a->q, a->settings.fsync);
	configure_upload(a, &uc, state, sizeof state);
	if (a->up != NULL) {
		upload_reconfigure(a->up, &uc);
		configure_export(a);
	}
	if (was != a->opt.enabled)
		log_info("telemetry is now %s%s%s%s",
		    a->opt.enabled ? "enabled" : "disabled",
		    a->opt.enabled ? "" : " (reason: ",
		    a->opt.enabled ? "" : a->opt.reason,
		    a->opt.enabled ? "" : ")");
}
