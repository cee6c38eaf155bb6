/*
 * main.c — atomcode-telemetryd lifecycle: arguments, the single-instance
 * lifetime lock, the listening socket (self-bound, systemd LISTEN_FDS or
 * launchd), detaching, every event of the agent (made in one place),
 * signals, the loop with its after-pass step, idle exit and the ordered
 * shutdown. Owns struct agent; the top of the agent's call graph: nothing
 * else calls into this file. Never parses records or frames itself.
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

static struct agent	agent_storage;	/* the one agent of the process */

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

/* How the agent was started (--detach, --detach-child, neither). */
enum detach_mode {
	DETACH_NONE = 0,	/* in the foreground of whoever started it */
	DETACH_FORK,		/* --detach: double fork into a new session */
	DETACH_CHILD,		/* --detach-child: already detached by the
				   spawner; log to a file, exit when idle */
};

static void	agent_shutdown(struct agent *);

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

	if (a->nclients > 0 || a->phase != AGENT_RUNNING)
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
	a->phase = AGENT_STOP_ASKED;
}

/*
 * A client left or a segment rolled: the directory watcher looks (its
 * poll mode has no other cue), and the one-shot idle-exit timer is armed
 * if the agent became idle.
 */
static void
agent_check_idle(struct agent *a)
{
	struct timeval	tv;

	watch_poke(a);
	if (!a->auto_spawned || a->socket_activated ||
	    a->phase != AGENT_RUNNING || a->settings.idle_exit_s == 0)
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
 * loop. All local work: well under 500 ms. Run by the after-pass step
 * only, so never inside a connection's callback (the drain reads every
 * connection again).
 */
static void
agent_shutdown(struct agent *a)
{
	struct conn	*c;

	if (a->phase >= AGENT_DRAINING)
		return;
	a->phase = AGENT_DRAINING;
	server_stop_accepting(a);
	server_drain(a);
	a->phase = AGENT_CLOSING;
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
	upload_abort(a->up);
	if (a->exp != NULL)
		export_abort(a->exp);
	queue_unclaim_own(a->q);
	a->phase = AGENT_STOPPED;
}

#define RECHECK_MS	2000	/* second recovery pass after start */

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
	if ((nok > 0 || nfail > 0) && a->up != NULL &&
	    a->phase == AGENT_RUNNING)
		upload_kick(a->up, 0, NULL, NULL);	/* a retry may wait */
	if (a->nparked > 0)
		a->pass |= PASS_PARKED;
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
		ingest_recovered(a, &r, "left by a previous writer");
}

static void
agent_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct agent	*a = arg;
	char		 err[512];

	if (sig == SIGHUP) {
		err[0] = '\0';
		configure_reload(a, err, sizeof err);
		log_info("reloaded settings%s%s", err[0] ? ": " : "", err);
		return;
	}
	log_info("signal %d: shutting down", (int)sig);
	if (a->phase == AGENT_RUNNING)
		a->phase = AGENT_STOP_ASKED;
}

/*
 * Every event of the agent itself, made here before the loop starts (the
 * listening socket is bound by then) and freed by agent_events_free after
 * it: no event is made later on demand, so none is ever NULL. The
 * connections' own events are conn.c's, the uploader's, exporter's,
 * syncer's and watcher's their own.
 */
static void
agent_events_new(struct agent *a)
{
	static const int	sigs[AGENT_NSIGNALS] = { SIGTERM, SIGINT,
	    SIGHUP };
	unsigned		i;

	a->accept_ev = event_new(a->base, a->listen_fd, EV_READ | EV_PERSIST,
	    server_accept_cb, a);
	a->accept_pause_ev = evtimer_new(a->base, server_accept_resume_cb, a);
	a->coalesce_ev = evtimer_new(a->base, server_coalesce_cb, a);
	a->roll_ev = evtimer_new(a->base, ingest_roll_cb, a);
	a->ack_ev = evtimer_new(a->base, ingest_ack_cb, a);
	a->idle_ev = evtimer_new(a->base, agent_idle_cb, a);
	a->recheck_ev = evtimer_new(a->base, agent_recheck_cb, a);
	if (a->accept_ev == NULL || a->accept_pause_ev == NULL ||
	    a->coalesce_ev == NULL || a->roll_ev == NULL || a->ack_ev == NULL ||
	    a->idle_ev == NULL || a->recheck_ev == NULL)
		fatalx("out of memory at start");
	for (i = 0; i < AGENT_NSIGNALS; i++)
		if ((a->sig_ev[i] = evsignal_new(a->base, sigs[i],
		    agent_signal_cb, a)) == NULL ||
		    event_add(a->sig_ev[i], NULL) == -1)
			fatalx("cannot install signal handler %d", sigs[i]);
	if (event_add(a->accept_ev, NULL) == -1)
		fatalx("cannot watch the listening socket");
}

/* Free what agent_events_new made. */
static void
agent_events_free(struct agent *a)
{
	unsigned	i;

	for (i = 0; i < AGENT_NSIGNALS; i++)
		event_free(a->sig_ev[i]);
	event_free(a->accept_ev);
	event_free(a->accept_pause_ev);
	event_free(a->coalesce_ev);
	event_free(a->roll_ev);
	event_free(a->ack_ev);
	event_free(a->idle_ev);
	event_free(a->recheck_ev);
}

/*
 * The after-pass step: what one loop pass's callbacks asked for (a->pass,
 * a->phase), done once all of them have run, in this order:
 *   1. commit the batch: every record read in the pass in one write(2);
 *   2. send the acks that waited for it (ingest_commit does 1 and 2);
 *   3. reap dead connections (no callback of theirs is running now);
 *   4. idle: the directory watcher's look and the idle-exit timer;
 *   5. start the parked uploads whose segments the syncer finished;
 * then, if asked, the ordered shutdown. The order is the point: acks
 * follow the write they confirm, a connection is freed only after its
 * events were committed and acked, an idle check counts no dying client.
 */
static void
agent_after_pass(struct agent *a)
{
	unsigned	pass = a->pass;

	a->pass = 0;
	if (pass & PASS_COMMIT)
		ingest_commit(a);
	if ((pass & PASS_REAP) || (a->pass & PASS_REAP)) {
		a->pass &= ~PASS_REAP;
		if (server_reap(a) > 0)
			pass |= PASS_IDLE;
	}
	if (pass & PASS_IDLE)
		agent_check_idle(a);
	if (pass & PASS_PARKED)
		control_run_parked(a);
	if (a->phase == AGENT_STOP_ASKED)
		agent_shutdown(a);
}

/*
 * The loop, in the shape of tmux's proc_loop and redis's beforeSleep: one
 * pass of libevent (wait for something, run every callback that became
 * ready), then the after-pass step, until the agent has stopped. Nothing
 * here arms a timer: an idle agent sleeps in the first call.
 */
static void
agent_loop(struct agent *a)
{
	while (a->phase != AGENT_STOPPED) {
		if (event_base_loop(a->base, EVLOOP_ONCE) == -1) {
			log_warnx("event loop failed");
			a->phase = AGENT_STOP_ASKED;
		}
		agent_after_pass(a);
	}
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
	struct agent		*a = &agent_storage;
	struct upload_config	 uc;
	struct queue_stats	 st;
	struct timeval		 tv;
	char			 cause[PATHS_MAX + 512], state[PATHS_MAX + 32];
	enum detach_mode	 detach = DETACH_NONE;
	int			 ch, check_only = 0, r;

	while ((ch = getopt_long(argc, argv, "nhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			check_only = 1;
			break;
		case 'd':
			detach = DETACH_FORK;
			break;
		case 'D':
			detach = DETACH_CHILD;
			break;
		case 'T':
			a->cli_no_telemetry = 1;
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
	if (config_resolve(a->paths.config, a->cli_no_telemetry, &a->config,
	    &a->opt) == -1)
		/* It may hold the user's opt-out: when in doubt, send nothing. */
		fprintf(stderr, "atomcode-telemetryd: cannot read %s: %s;"
		    " telemetry stays off until it can be read\n",
		    a->paths.config, a->config.error);
	else if (a->config.exists && !a->config.parsed) {
		config_warning(&a->config, cause, sizeof cause);
		fprintf(stderr, "atomcode-telemetryd: %s\n", cause);
	}
	if (configure_endpoint_check(a, a->opt.endpoint, cause, sizeof cause) ==
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
	if (detach == DETACH_FORK)
		agent_daemonize();
	if (detach != DETACH_NONE) {
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
	ingest_recovered(a, queue_last_recovery(a->q),
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
	if ((a->dropped_fields = json_object()) == NULL)
		fatalx("out of memory at start");
	TAILQ_INIT(&a->conns);
	TAILQ_INIT(&a->deferred);
	if (server_listen(a, cause, sizeof cause) == -1) {
		fprintf(stderr, "atomcode-telemetryd: %s\n", cause);
		return 1;
	}
	agent_events_new(a);
	configure_upload(a, &uc, state, sizeof state);
	if ((a->up = upload_new(a->base, a->q, &uc)) == NULL) {
		fprintf(stderr, "atomcode-telemetryd: cannot start the uploader\n");
		return 1;
	}
	upload_set_roll_cb(a->up, ingest_roll_held, a);
	configure_export(a);

	if (a->opt.enabled)
		printf("Telemetry: enabled\n");
	else
		printf("Telemetry: disabled (reason: %s)\n", a->opt.reason);
	fflush(stdout);
	log_info("listening on %s (pid %ld%s)", a->paths.sock, (long)getpid(),
	    a->socket_activated ? ", socket-activated" :
	    a->auto_spawned ? ", auto-spawned" : "");

	watch_start(a);
	/* Only when recovery left a (then locked) partial behind. */
	tv = timing_tv(RECHECK_MS);
	if (queue_stats(a->q, &st) == 0 &&
	    st.partial_segments > st.invalid_segments)
		evtimer_add(a->recheck_ev, &tv);
	agent_sd_notify("READY=1");
	/* Whatever recovery found ready goes out now. */
	upload_kick(a->up, 0, NULL, NULL);
	agent_check_idle(a);
	agent_loop(a);

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
	agent_events_free(a);
	event_base_free(a->base);
	json_decref(a->dropped_fields);
	buf_free(&a->batch);
	buf_free(&a->bents_buf);
	curl_dl_unload();
	log_info("stopped");
	close(a->lock_fd);	/* releases the lifetime lock last */
	return 0;
}
