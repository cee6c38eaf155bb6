/*
 * main.c — atomcode-telemetryd lifecycle: arguments, the single-instance
 * lifetime lock, the listening socket (self-bound, systemd LISTEN_FDS or
 * launchd), detaching, signals, reload, idle exit and the ordered shutdown.
 * Owns struct agent. Never parses records or frames itself.
 */
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "curl_dl.h"
#include "fsio.h"
#include "log.h"
#include "port.h"
#include "sock.h"
#include "timing.h"

#define LOCK_WAIT_MS	2000	/* wait for a predecessor that is mid-exit */
#define LOCK_POLL_MS	20	/* … trying the lock this often */
#define LOCK_FD_MAX	1024	/* an inherited lock fd at or above: not ours */
#define LOG_ROTATE_BYTES (1024 * 1024)	/* agent.log rotated at start past this */

static struct agent	agent_storage;
struct agent		*agent = &agent_storage;

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: atomcode-telemetryd [-n] [--detach] [--no-telemetry]"
	    " [-V] [-h]\n"
	    "  -n              check telemetryd.conf and config.toml and print"
	    " the effective\n"
	    "                  settings, telemetry state and endpoint\n"
	    "  --detach        run in the background (auto-spawn mode: exits"
	    " when idle)\n"
	    "  --no-telemetry  start with telemetry disabled\n"
	    "  -V, --version   print the version\n"
	    "  -h, --help      this text\n"
	    "State lives in $ATOMCODE_HOME (default ~/.atomcode).\n");
}

/*
 * An endpoint the agent may upload to: an http(s) URL with a host, and
 * HTTPS unless it is loopback (tests, `make demo`) or telemetryd.conf says
 * [upload] allow_http = true. 0, or -1 and a sentence in cause.
 */
static int
agent_endpoint_check(struct agent *a, const char *url, char *cause,
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

/* Build the uploader configuration from the current state. */
static void
agent_upload_config(struct agent *a, struct upload_config *uc, char *state,
    size_t statelen)
{
	char	cause[512];

	snprintf(state, statelen, "%s/upload-state.json", a->paths.telemetry);
	memset(uc, 0, sizeof *uc);
	/* An endpoint the settings no longer allow is never sent to. */
	uc->enabled = a->opt.enabled && agent_endpoint_check(a,
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

static int	cli_no_telemetry;

static void
agent_export_hook(void *arg, int now)
{
	export_seen(((struct agent *)arg)->exp, now);
}

static void
agent_export_derived(const char *name, void *arg)
{
	export_derived(((struct agent *)arg)->exp, name);
}

/*
 * The OTLP destination follows [export] otlp_endpoint: started, given new
 * settings, or stopped (its directory stays; it resumes when set again).
 */
static void
agent_export_apply(struct agent *a)
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
	upload_set_ready_hook(a->up, agent_export_hook, a);
	queue_set_write_hook(a->q, agent_export_derived, a);
}

/* Re-read config.toml and telemetryd.conf; a bad settings file keeps the old. */
void
agent_reload(struct agent *a, char *err, size_t errlen)
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
	(void)config_resolve(a->paths.config, cli_no_telemetry, &cfg, &o);
	config_warning(&cfg, warn, sizeof warn);
	if (warn[0] != '\0')
		log_warnx("%s", warn);
	if (agent_endpoint_check(a, o.endpoint, cause, sizeof cause) == -1) {
		log_warnx("%s; keeping %s", cause, a->opt.endpoint);
		snprintf(err, errlen, "%s (endpoint %s kept)", cause,
		    a->opt.endpoint);
		memcpy(o.endpoint, a->opt.endpoint, sizeof o.endpoint);
	}
	a->config = cfg;
	a->opt = o;
	log_set_level(a->settings.log_level);
	queue_set_fsync(a->q, a->settings.fsync);
	agent_upload_config(a, &uc, state, sizeof state);
	if (a->up != NULL) {
		upload_reconfigure(a->up, &uc);
		agent_export_apply(a);
	}
	if (was != a->opt.enabled)
		log_info("telemetry is now %s%s%s%s",
		    a->opt.enabled ? "enabled" : "disabled",
		    a->opt.enabled ? "" : " (reason: ",
		    a->opt.enabled ? "" : a->opt.reason,
		    a->opt.enabled ? "" : ")");
}

static void
agent_rearm_idle(struct agent *a)
{
	struct timeval	tv = timing_tv((uint64_t)a->settings.idle_exit_s * 1000);

	evtimer_add(a->idle_ev, &tv);
}

/* Exit once nothing is connected, queued or in flight (auto-spawned only). */
static void
agent_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent		*a = arg;
	struct queue_stats	 st;

	if (a->nclients > 0)
		return;		/* re-armed when the last client leaves */
	if (queue_active_events(a->q) > 0 || syncer_pending(a->syncer) > 0 ||
	    !upload_idle(a->up) || !export_idle(a->exp)) {
		agent_rearm_idle(a);	/* work left: look again later */
		return;
	}
	if (queue_stats(a->q, &st) == 0 && st.ready_segments > 0) {
		/* Left by other writers: send them, then look again. */
		if (a->opt.enabled)
			upload_kick(a->up, 0, NULL, NULL);
		agent_rearm_idle(a);
		return;
	}
	log_info("idle for %u s: exiting", a->settings.idle_exit_s);
	agent_shutdown(a);
}

/* Arm the one-shot idle-exit timer when the agent became idle. */
void
agent_check_idle(struct agent *a)
{
	struct timeval	tv;

	watch_poke(a);	/* a client left or a segment rolled */
	if (!a->auto_spawned || a->socket_activated || a->stopping ||
	    a->settings.idle_exit_s == 0 || a->idle_ev == NULL)
		return;
	if (a->nclients > 0)
		return;
	if (evtimer_pending(a->idle_ev, NULL))
		return;
	tv = timing_tv((uint64_t)a->settings.idle_exit_s * 1000);
	evtimer_add(a->idle_ev, &tv);
}

/*
 * Ordered shutdown: stop accepting, read what clients already sent, commit,
 * roll (fsync + rename), abort the upload and restore its claim, leave the
 * loop. All local work: well under 500 ms.
 */
void
agent_shutdown(struct agent *a)
{
	struct conn	*c;

	if (a->stopping)
		return;
	a->stopping = 1;
	server_stop_accepting(a);
	server_drain(a);
	a->stopping = 2;
	/* Every client gets a final ack for what is now on disk. */
	TAILQ_FOREACH(c, &a->conns, entry)
		c->flush_wanted = 1;
	ingest_commit(a);
	if (a->settings.fsync != QUEUE_FSYNC_NEVER)
		queue_sync(a->q);
	ingest_roll(a);
	/* Finish what the syncer holds; later rolls happen in place. */
	syncer_drain(a->syncer);
	queue_set_roller(a->q, NULL, NULL);
	if (a->up != NULL)
		upload_abort(a->up);
	if (a->exp != NULL)
		export_abort(a->exp);
	queue_unclaim_own(a->q);
	event_base_loopbreak(a->base);
}

#define RECHECK_MS	2000	/* second recovery pass after start */

/*
 * Say what a recovery pass did. Only promotions finished here are
 * "recovered"; those handed to the syncer are reported when it is done
 * (agent_synced), and a failed one never is.
 */
void
agent_log_recovery(struct agent *a, const struct queue_recovery *r,
    const char *who)
{
	if (r->promoted > 0 || r->quarantined > 0)
		log_info("recovered %u segment(s) %s (%u quarantined)",
		    r->promoted, who, r->quarantined);
	if (r->handed > 0)
		log_debug("promoting %u segment(s) %s", r->handed, who);
	if (r->claims_restored > 0)
		log_info("restored %u stale upload claim(s)",
		    r->claims_restored);
	if (r->deleted_old > 0)
		log_warnx("deleted %u segment(s) older than %u days by name, "
		    "mtime and records (%llu event(s), counted as dropped)",
		    r->deleted_old, QUEUE_MAX_AGE_S / 86400,
		    (unsigned long long)r->dropped_old);
	if (r->promoted > 0 && a->up != NULL && a->opt.enabled)
		upload_kick(a->up, 0, NULL, NULL);
}

/* The syncer finished rolled segments: caps, then the uploader. */
static void
agent_synced(void *arg, unsigned nok, unsigned nfail, int err, int dir_err)
{
	struct agent	*a = arg;
	time_t		 now;
	unsigned	 rok, rfail;

	now = time(NULL);
	syncer_recovered(a->syncer, &rok, &rfail);
	if (rok > 0)
		log_info("recovered %u segment(s) another writer left "
		    "unfinished", rok);
	if (rfail > 0)
		log_warnx("could not promote %u segment(s) another writer left"
		    " unfinished; the next recovery tries again", rfail);
	if (dir_err != 0) {
		a->ctr.dirsync_errors++;
		ingest_storage_error(a, "cannot fsync the queue directory",
		    dir_err);
	}
	if (nfail > 0) {
		a->ctr.roll_errors += nfail;
		ingest_storage_error(a, "cannot finish a rolled segment", err);
	}
	/* Disk errors repeat: one line a minute (shared with ingest). */
	if ((dir_err != 0 || nfail > 0) && now - a->last_disk_warn >=
	    DISK_WARN_INTERVAL_S) {
		a->last_disk_warn = now;
		errno = nfail > 0 ? err : dir_err;
		if (nfail > 0)
			log_warn("cannot finish %u rolled segment(s); recovery "
			    "will promote them", nfail);
		else
			log_warn("cannot fsync the queue directory");
	}
	(void)queue_enforce_caps(a->q);
	if ((nok > 0 || nfail > 0) && a->up != NULL && !a->stopping)
		upload_kick(a->up, 0, NULL, NULL);	/* a retry may wait */
	if (a->nparked > 0 && a->up != NULL)
		control_run_parked(a);
}

/*
 * A predecessor killed with SIGKILL releases its lifetime lock before the
 * lock on its active segment (descriptors close in order), so the
 * recovery at our start can find that segment still locked and skip it.
 * Look once more shortly after start; promote what is free now.
 */
static void
agent_recheck_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent		*a = arg;
	struct queue_recovery	 r;

	memset(&r, 0, sizeof r);
	if (queue_recover(a->q, 0, &r) == 0)
		agent_log_recovery(a, &r, "left by a previous writer");
}

static void
agent_shutdown_cb(evutil_socket_t fd, short what, void *arg)
{
	agent_shutdown(arg);
}

/*
 * Shut down from the loop, not from inside a connection's callback (the
 * drain reads every connection again, that one included).
 */
void
agent_request_shutdown(struct agent *a)
{
	if (a->shutdown_ev != NULL)
		event_active(a->shutdown_ev, 0, 0);
	else
		agent_shutdown(a);
}

static void
agent_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct agent	*a = arg;
	char		 err[512];

	if (sig == SIGHUP) {
		err[0] = '\0';
		agent_reload(a, err, sizeof err);
		log_info("reloaded settings%s%s", err[0] ? ": " : "", err);
		return;
	}
	log_info("signal %d: shutting down", (int)sig);
	agent_shutdown(a);
}

static void
agent_commit_cb(evutil_socket_t fd, short what, void *arg)
{
	ingest_commit(arg);
}

/*
 * Take the lifetime lock. An inherited, already-locked fd (ATOMCODE_LOCK_FD,
 * the spawner's hand-off) is adopted. Returns 0, 1 if another agent holds
 * it (caller exits 0), -1 on error.
 */
static int
agent_lock(struct agent *a, char *cause, size_t causelen)
{
	const char	*env;
	char		*end;
	long		 fd;
	int		 waited = 0, flags;

	if ((env = getenv("ATOMCODE_LOCK_FD")) != NULL) {
		errno = 0;
		fd = strtol(env, &end, 10);
		unsetenv("ATOMCODE_LOCK_FD");
		if (errno == 0 && *end == '\0' && fd > 2 && fd < LOCK_FD_MAX &&
		    flock((int)fd, LOCK_EX | LOCK_NB) == 0) {
			a->lock_fd = (int)fd;
			if ((flags = fcntl(a->lock_fd, F_GETFD)) != -1)
				fcntl(a->lock_fd, F_SETFD, flags | FD_CLOEXEC);
			return 0;
		}
	}
	a->lock_fd = fsio_open(AT_FDCWD, a->paths.lock, O_RDWR | O_CREAT, 0600,
	    FSIO_OWNER);
	if (a->lock_fd == -1) {
		snprintf(cause, causelen, "cannot open %s: %s", a->paths.lock,
		    strerror(errno));
		return -1;
	}
	while (flock(a->lock_fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			snprintf(cause, causelen, "cannot lock %s: %s",
			    a->paths.lock, strerror(errno));
			return -1;
		}
		/* A live agent answers: nothing to do. */
		if ((fd = sock_connect(a->paths.sock)) != -1) {
			close((int)fd);
			return 1;
		}
		if (waited >= LOCK_WAIT_MS)
			return 1;
		usleep(LOCK_POLL_MS * 1000);
		waited += LOCK_POLL_MS;
	}
	return 0;
}

/* Write pid and host into the lock file (diagnostics only, never read). */
static void
agent_lock_note(struct agent *a)
{
	char	host[256], line[300];
	int	n;

	if (gethostname(host, sizeof host) == -1)
		host[0] = '\0';
	host[sizeof host - 1] = '\0';
	n = snprintf(line, sizeof line, "%ld\n%s\n", (long)getpid(), host);
	if (n > 0 && ftruncate(a->lock_fd, 0) == 0)
		(void)pwrite(a->lock_fd, line, (size_t)n, 0);
}

/* systemd socket activation without libsystemd: LISTEN_PID/LISTEN_FDS. */
static int
agent_listen_fds(void)
{
	const char	*pid, *fds;
	char		*end;
	long		 n;

	pid = getenv("LISTEN_PID");
	fds = getenv("LISTEN_FDS");
	if (pid == NULL || fds == NULL)
		return -1;
	errno = 0;
	n = strtol(pid, &end, 10);
	if (errno != 0 || *end != '\0' || n != (long)getpid())
		return -1;
	n = strtol(fds, &end, 10);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (errno != 0 || *end != '\0' || n < 1)
		return -1;
	return 3;	/* SD_LISTEN_FDS_START; extra fds are ignored */
}

/* Room for AGENT_MAX_CLIENTS connections plus our own files. */
static void
agent_raise_nofile(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < AGENT_MAX_CLIENTS + 64) {
		rl.rlim_cur = rl.rlim_max < AGENT_MAX_CLIENTS + 64 ?
		    rl.rlim_max : AGENT_MAX_CLIENTS + 64;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Tell systemd we are ready (Type=notify) without libsystemd. */
static void
agent_sd_notify(const char *msg)
{
	const char		*path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un	 sun;
	size_t			 n;
	int			 fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    (n = strlen(path)) >= sizeof sun.sun_path)
		return;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, n);
	if (sun.sun_path[0] == '@')
		sun.sun_path[0] = '\0';
	if ((fd = port_socket(AF_UNIX, SOCK_DGRAM, 0)) == -1)
		return;
	(void)sendto(fd, msg, strlen(msg), PORT_MSG_NOSIGNAL, (struct sockaddr *)&sun,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n));
	close(fd);
}

/* Redirect stdio to the log file (detached mode), rotating a large one. */
static void
agent_log_to_file(struct agent *a)
{
	struct stat	st;
	char		old[PATHS_MAX + 8];
	int		fd;

	if (stat(a->paths.log, &st) == 0 && st.st_size > LOG_ROTATE_BYTES) {
		snprintf(old, sizeof old, "%s.old", a->paths.log);
		rename(a->paths.log, old);
	}
	/* A FIFO planted there fails at once (ENXIO) instead of blocking. */
	fd = fsio_open(AT_FDCWD, a->paths.log, O_WRONLY | O_CREAT | O_APPEND,
	    0600, FSIO_OWNER);
	if (fd == -1)
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd != -1) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	if ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1) {
		dup2(fd, STDIN_FILENO);
		if (fd > STDIN_FILENO)
			close(fd);
	}
}

/*
 * Telemetry is background work: SCHED_BATCH keeps the normal CPU share but
 * never preempts the task running on a CPU when the agent wakes up, so the
 * process that just sent an event keeps its core (the emitter's p99 on 2
 * cores: docs/PERFORMANCE.md). The syncer thread inherits it. Linux only
 * (port_batch_sched): macOS and the BSDs have no such class.
 */
static void
agent_background_sched(void)
{
	if (port_batch_sched() == -1)
		log_debug("batch scheduling: %s", strerror(errno));
}

/* Classic double fork into a new session (--detach). */
static void
agent_daemonize(void)
{
	pid_t	pid;

	if ((pid = fork()) == -1) {
		perror("fork");
		exit(1);
	}
	if (pid > 0)
		_exit(0);
	setsid();
	if ((pid = fork()) == -1)
		_exit(1);
	if (pid > 0)
		_exit(0);
	if (chdir("/") == -1)
		_exit(1);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "detach", no_argument, NULL, 'd' },
		{ "detach-child", no_argument, NULL, 'D' },
		{ "no-telemetry", no_argument, NULL, 'T' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct agent		*a = agent;
	struct upload_config	 uc;
	char			 cause[PATHS_MAX + 512], state[PATHS_MAX + 32];
	int			 ch, check_only = 0, detach = 0, r;
	int			 sigs[] = { SIGTERM, SIGINT, SIGHUP };
	unsigned		 i;

	while ((ch = getopt_long(argc, argv, "nhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			check_only = 1;
			break;
		case 'd':
			detach = 1;
			break;
		case 'D':
			detach = 2;
			break;
		case 'T':
			cli_no_telemetry = 1;
			break;
		case 'f':
			break;	/* the default; accepted for unit files */
		case 'V':
			printf("atomcode-telemetryd %s\n", ATC_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	umask(077);
	agent_raise_nofile();
	agent_background_sched();
	signal(SIGPIPE, SIG_IGN);
	a->lock_fd = a->listen_fd = -1;
	if (paths_init(&a->paths) == -1) {
		fprintf(stderr, "atomcode-telemetryd: state path too long\n");
		return 1;
	}
	settings_defaults(&a->settings);
	if (settings_load(a->paths.settings, &a->settings, cause,
	    sizeof cause) == -1) {
		fprintf(stderr, "atomcode-telemetryd: %s\n", cause);
		return 1;
	}
	if (config_resolve(a->paths.config, cli_no_telemetry, &a->config,
	    &a->opt) == -1)
		/* It may hold the user's opt-out: when in doubt, send nothing. */
		fprintf(stderr, "atomcode-telemetryd: cannot read %s: %s;"
		    " telemetry stays off until it can be read\n",
		    a->paths.config, a->config.error);
	else if (a->config.exists && !a->config.parsed) {
		config_warning(&a->config, cause, sizeof cause);
		fprintf(stderr, "atomcode-telemetryd: %s\n", cause);
	}
	if (agent_endpoint_check(a, a->opt.endpoint, cause, sizeof cause) ==
	    -1) {
		fprintf(stderr, "atomcode-telemetryd: %s\n", cause);
		return 1;
	}
	if (check_only) {
		printf("# %s\n", a->paths.settings);
		settings_print(&a->settings, stdout);
		printf("# %s\n# telemetry: %s%s%s%s\n# endpoint: %s\n",
		    a->paths.config, a->opt.enabled ? "enabled" : "disabled",
		    a->opt.enabled ? "" : " (reason: ", a->opt.enabled ? "" :
		    a->opt.reason, a->opt.enabled ? "" : ")", a->opt.endpoint);
		return 0;
	}
	log_set_level(a->settings.log_level);
	if (a->paths.sudo) {
		fprintf(stderr, "atomcode-telemetryd: refusing to run under sudo"
		    " in another user's state directory (%s)\n", a->paths.dir);
		return 1;
	}
	if (paths_check_dir(a->paths.dir, 1, cause, sizeof cause) == -1 ||
	    paths_check_dir(a->paths.telemetry, 1, cause, sizeof cause) == -1) {
		fprintf(stderr, "atomcode-telemetryd: %s\n", cause);
		return 1;
	}

	a->listen_fd = agent_listen_fds();
	if (a->listen_fd == -1)	/* launchd (macOS); ENOSYS elsewhere */
		a->listen_fd = port_launchd_listener("Listeners");
	a->socket_activated = a->listen_fd != -1;
	if (detach == 1)
		agent_daemonize();
	if (detach) {
		a->auto_spawned = 1;
		agent_log_to_file(a);
	}

	if ((r = agent_lock(a, cause, sizeof cause)) != 0) {
		if (r == 1) {
			fprintf(stderr, "atomcode-telemetryd: already running"
			    " for %s\n", a->paths.dir);
			return 0;
		}
		fprintf(stderr, "atomcode-telemetryd: %s\n", cause);
		return 1;
	}
	/* We hold the lock, so no agent is alive: a leftover node is stale. */
	if (!a->socket_activated) {
		int fd;

		if ((fd = sock_connect(a->paths.sock)) != -1) {
			/* Served by someone else (a socket unit): not ours. */
			close(fd);
			fprintf(stderr, "atomcode-telemetryd: %s is served by"
			    " another process; exiting\n", a->paths.sock);
			return 0;
		}
		if (unlink(a->paths.sock) == -1 && errno != ENOENT) {
			fprintf(stderr, "atomcode-telemetryd: cannot remove"
			    " stale %s: %s\n", a->paths.sock, strerror(errno));
			return 1;
		}
	}
	agent_lock_note(a);

	if (queue_open(a->paths.queue, QUEUE_O_CREATE, &a->q, cause,
	    sizeof cause) == -1) {
		fprintf(stderr, "atomcode-telemetryd: %s\n", cause);
		return 1;
	}
	if (queue_warning(a->q) != NULL)
		log_warnx("%s", queue_warning(a->q));
	/* Takeover markers of a previous agent's connections: all over. */
	(void)queue_takeover_clean(a->q);
	agent_log_recovery(a, queue_last_recovery(a->q),
	    "left by a previous writer");
	queue_set_fsync(a->q, a->settings.fsync);
	queue_defer_dirsync(a->q, 1);	/* one directory fsync per batch */

	if ((a->base = event_base_new()) == NULL) {
		fprintf(stderr, "atomcode-telemetryd: event_base_new failed\n");
		return 1;
	}
	if ((a->syncer = syncer_new(a->base, a->q, agent_synced, a)) != NULL)
		queue_set_roller(a->q, syncer_roller, a->syncer);
	else
		log_warn("cannot start the syncer; segments roll on the loop");
	a->started_ms = timing_mono_ms();
	a->dropped_fields = json_object();
	a->commit_ev = event_new(a->base, -1, 0, agent_commit_cb, a);
	a->idle_ev = evtimer_new(a->base, agent_idle_cb, a);
	a->shutdown_ev = event_new(a->base, -1, 0, agent_shutdown_cb, a);
	if (a->commit_ev == NULL || a->idle_ev == NULL || a->shutdown_ev == NULL ||
	    a->dropped_fields == NULL)
		fatalx("out of memory at start");
	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		a->sig_ev[i] = evsignal_new(a->base, sigs[i], agent_signal_cb, a);
		if (a->sig_ev[i] == NULL || event_add(a->sig_ev[i], NULL) == -1)
			fatalx("cannot install signal handler %d", sigs[i]);
	}
	if (server_start(a, cause, sizeof cause) == -1) {
		fprintf(stderr, "atomcode-telemetryd: %s\n", cause);
		return 1;
	}
	agent_upload_config(a, &uc, state, sizeof state);
	if ((a->up = upload_new(a->base, a->q, &uc)) == NULL) {
		fprintf(stderr, "atomcode-telemetryd: cannot start the uploader\n");
		return 1;
	}
	upload_set_roll_cb(a->up, ingest_roll_held, a);
	agent_export_apply(a);

	if (a->opt.enabled)
		printf("Telemetry: enabled\n");
	else
		printf("Telemetry: disabled (reason: %s)\n", a->opt.reason);
	fflush(stdout);
	log_info("listening on %s (pid %ld%s)", a->paths.sock, (long)getpid(),
	    a->socket_activated ? ", socket-activated" :
	    a->auto_spawned ? ", auto-spawned" : "");

	watch_start(a);
	{
		struct timeval		tv = timing_tv(RECHECK_MS);
		struct queue_stats	st;

		/* Only when recovery left a (then locked) partial behind. */
		if (queue_stats(a->q, &st) == 0 &&
		    st.partial_segments > st.invalid_segments &&
		    (a->recheck_ev = evtimer_new(a->base, agent_recheck_cb,
		    a)) != NULL)
			evtimer_add(a->recheck_ev, &tv);
	}
	agent_sd_notify("READY=1");
	/* Whatever recovery found ready goes out now. */
	upload_kick(a->up, 0, NULL, NULL);
	agent_check_idle(a);
	event_base_dispatch(a->base);

	/* Loop left by agent_shutdown(). */
	if (!a->stopping)
		agent_shutdown(a);
	watch_stop();
	server_close_all(a);
	if (a->exp != NULL) {
		queue_set_write_hook(a->q, NULL, NULL);
		export_free(a->exp);
		a->exp = NULL;
	}
	upload_free(a->up);
	a->up = NULL;
	queue_set_roller(a->q, NULL, NULL);
	syncer_free(a->syncer);
	queue_close(a->q);
	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		event_free(a->sig_ev[i]);
	event_free(a->commit_ev);
	event_free(a->idle_ev);
	event_free(a->shutdown_ev);
	if (a->recheck_ev != NULL)
		event_free(a->recheck_ev);
	if (a->accept_pause_ev != NULL)
		event_free(a->accept_pause_ev);
	if (a->roll_ev != NULL)
		event_free(a->roll_ev);
	if (a->reap_ev != NULL)
		event_free(a->reap_ev);
	if (a->coalesce_ev != NULL)
		event_free(a->coalesce_ev);
	if (a->ack_ev != NULL)
		event_free(a->ack_ev);
	event_base_free(a->base);
	json_decref(a->dropped_fields);
	buf_free(&a->batch);
	free(a->bents);
	curl_dl_unload();
	log_info("stopped");
	close(a->lock_fd);	/* releases the lifetime lock last */
	return 0;
}
