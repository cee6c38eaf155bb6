/*
 * watch.c — notices ready segments that other writers (the library's
 * fallback, upstream AtomCode processes) rename into the queue, so the
 * uploader picks them up without polling, and partials a writer closed
 * without finishing (it crashed, or a library's close ran out of time on
 * a stuck agent), which it hands to recovery. Never reads or changes
 * queue files itself (recovery does), never logs per event.
 *
 * Three ways, chosen at build time (README "macOS and BSD"):
 *   inotify  Linux: IN_MOVED_TO of a .ndjson kicks the uploader, an
 *            IN_CLOSE_WRITE of a .partial runs recovery a second later.
 *   kqueue   macOS and the BSDs: EVFILT_VNODE NOTE_WRITE on the directory
 *            (an entry was added, renamed or removed) runs a look.
 *   poll     anywhere else, and the ATC_PORTABLE build: a look after each
 *            client disconnect or roll (watch_poke).
 * A look scans the directory: ready segments kick the uploader, partials
 * run recovery (which skips the live, locked ones).
 *
 * Also watches $ATOMCODE_HOME for edits of config.toml, so `enabled` and
 * `endpoint` changed by hand apply at once (agent_reload): inotify on the
 * directory; kqueue on the directory and the file; poll compares the
 * file's identity, size and mtime at each look. While partials remain
 * (a writer is still at work; nothing tells kqueue or poll when it closes)
 * it looks again after WATCH_POLL_MIN_MS, doubling to WATCH_POLL_MAX_MS;
 * once no partial is left it stops: an idle agent has no timer of ours
 * armed (0 wake-ups).
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"
#include "port.h"
#include "timing.h"

#if defined(PORT_LINUX)
#define WATCH_INOTIFY	1
#include <sys/inotify.h>
#elif defined(PORT_KQUEUE)
#define WATCH_KQUEUE	1
#include <sys/event.h>
#endif

#define WATCH_BUF		4096	/* inotify events read per callback */
#define WATCH_RECOVER_MS	1000	/* partial closed → recovery after this */
#define WATCH_POLL_MIN_MS	1000	/* first look again while pending */
#define WATCH_POLL_MAX_MS	60000	/* slowest look while a writer is live */

static int		 watch_fd = -1;	/* inotify or kqueue descriptor */
static int		 watch_qwd = -1;	/* inotify: the queue directory */
static int		 watch_hwd = -1;	/* inotify: $ATOMCODE_HOME */
static int		 watch_dirfd = -1;	/* kqueue: the queue directory */
static int		 watch_homefd = -1;	/* kqueue: $ATOMCODE_HOME */
static int		 watch_cfgfd = -1;	/* kqueue: config.toml itself */
static struct event	*watch_ev;	/* watch_fd readable */
static struct event	*recover_ev;	/* inotify: one-shot, coalesces closes */
static struct event	*poll_ev;	/* the next look while pending */
static unsigned		 poll_ms = WATCH_POLL_MIN_MS;
static struct timespec	 seen_mtime;	/* the directory at the last look */
static int		 seen_valid;
static const char	*watch_kind = "none";
static struct stat	 seen_cfg;	/* config.toml at the last look */
static int		 seen_cfg_ok;	/* ... and whether it existed */

/* 1 if name is a segment left unfinished (ends with .partial). */
static int
watch_is_partial(const char *name, size_t len)
{
	return len > 8 && memcmp(name + len - 8, ".partial", 8) == 0;
}

/* 1 if name is a ready segment (ends with .ndjson). */
static int
watch_is_ready(const char *name, size_t len)
{
	return len > 7 && memcmp(name + len - 7, ".ndjson", 7) == 0;
}

/* Recovery of partials whose writer let go; kicks the uploader if it took any. */
static void
watch_recover(struct agent *a)
{
	struct queue_recovery	r;

	memset(&r, 0, sizeof r);
	if (queue_recover(a->q, 0, &r) == -1) {
		log_warn("recovery of closed partials");
		return;
	}
	ingest_recovered(a, &r, "another writer left unfinished");
}

/* config.toml was edited by hand: [telemetry] applies now, as after SIGHUP. */
static void
watch_config_changed(struct agent *a)
{
	char	err[512];

	err[0] = '\0';
	configure_reload(a, err, sizeof err);
	log_info("config.toml changed: reloaded%s%s", err[0] ? ": " : "", err);
}

/*
 * kqueue, poll: 1 if config.toml is not the file seen at the last call
 * (created, removed, replaced, or written: inode, size or mtime differ).
 */
static int
watch_config_moved(struct agent *a)
{
	struct stat	st;
	int		ok, moved;

	ok = stat(a->paths.config, &st) == 0;
	moved = ok != seen_cfg_ok || (ok && (st.st_ino != seen_cfg.st_ino ||
	    st.st_dev != seen_cfg.st_dev || st.st_size != seen_cfg.st_size ||
	    PORT_MTIM(&st).tv_sec != PORT_MTIM(&seen_cfg).tv_sec ||
	    PORT_MTIM(&st).tv_nsec != PORT_MTIM(&seen_cfg).tv_nsec));
	seen_cfg_ok = ok;
	if (ok)
		seen_cfg = st;
	return moved;
}

/* The directory's modification time; 0 or -1. */
static int
watch_dir_mtime(struct agent *a, struct timespec *ts)
{
	struct stat	st;

	if (stat(a->paths.queue, &st) == -1)
		return -1;
	*ts = PORT_MTIM(&st);
	return 0;
}

/* Count ready segments and partials in the queue directory. */
static void
watch_count(struct agent *a, unsigned *ready, unsigned *partial)
{
	DIR		*d;
	struct dirent	*de;
	size_t		 n;

	*ready = *partial = 0;
	if ((d = opendir(a->paths.queue)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (watch_is_ready(de->d_name, n))
			(*ready)++;
		else if (watch_is_partial(de->d_name, n))
			(*partial)++;
	}
	closedir(d);
}

/*
 * One look at the directory (kqueue event, poke, or the pending timer):
 * kick for ready segments, recover partials, and look again later while
 * something is pending.
 */
static void
watch_look(struct agent *a)
{
	struct timespec	ts;
	struct timeval	tv;
	unsigned	ready, partial;
	int		changed;

	if (a->phase != AGENT_RUNNING)
		return;
	if (strcmp(watch_kind, "inotify") != 0 && watch_config_moved(a))
		watch_config_changed(a);
	changed = watch_dir_mtime(a, &ts) == 0 && (!seen_valid ||
	    ts.tv_sec != seen_mtime.tv_sec || ts.tv_nsec != seen_mtime.tv_nsec);
	watch_count(a, &ready, &partial);
	if (changed && ready > 0 && a->up != NULL && a->opt.enabled)
		upload_kick(a->up, 0, NULL, NULL);
	if (partial > 0) {
		watch_recover(a);
		watch_count(a, &ready, &partial);
	}
	/* Our own renames are not news: remember the directory as left. */
	seen_valid = watch_dir_mtime(a, &seen_mtime) == 0;
	if (partial == 0) {
		poll_ms = WATCH_POLL_MIN_MS;	/* nothing pending: stop */
		return;
	}
	/* A writer is at work: look again, less often the longer it takes. */
	if (poll_ev != NULL && !evtimer_pending(poll_ev, NULL)) {
		tv = timing_tv(poll_ms);
		evtimer_add(poll_ev, &tv);
	}
	if ((poll_ms *= 2) > WATCH_POLL_MAX_MS)
		poll_ms = WATCH_POLL_MAX_MS;
}

static void
watch_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	watch_look(arg);
}

/* Something may have changed the queue: look at the end of this pass. */
static void
watch_soon(struct agent *a)
{
	struct timeval	tv = timing_tv(0);

	if (poll_ev != NULL)
		evtimer_add(poll_ev, &tv);	/* re-arms a pending one */
}

#if defined(WATCH_INOTIFY)
/* Partials were closed unfinished: recovery promotes the free ones. */
static void
watch_recover_cb(evutil_socket_t fd, short what, void *arg)
{
	watch_recover(arg);
}

static void
watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent			*a = arg;
	char				 buf[WATCH_BUF]
					    __attribute__((aligned(8)));
	const struct inotify_event	*ev;
	ssize_t				 n;
	char				*p;
	int				 ready = 0, closed = 0, config = 0;
	struct timeval			 tv = timing_tv(WATCH_RECOVER_MS);

	while ((n = read(fd, buf, sizeof buf)) > 0) {
		for (p = buf; p < buf + n; p += sizeof *ev + ev->len) {
			ev = (const struct inotify_event *)(void *)p;
			if (ev->mask & IN_Q_OVERFLOW)
				ready = config = 1;
			else if (ev->wd == watch_hwd) {
				if (ev->len > 0 && strcmp(ev->name,
				    "config.toml") == 0)
					config = 1;
			} else if (ev->wd != watch_qwd)
				continue;
			else if (ev->len > 0 && (ev->mask & IN_MOVED_TO) &&
			    watch_is_ready(ev->name, strnlen(ev->name, ev->len)))
				ready = 1;
			else if (ev->len > 0 && (ev->mask & IN_CLOSE_WRITE) &&
			    watch_is_partial(ev->name, strnlen(ev->name,
			    ev->len)))
				closed = 1;
		}
	}
	if (config)
		watch_config_changed(a);
	if (ready && a->up != NULL && a->opt.enabled)
		upload_kick(a->up, 0, NULL, NULL);
	if (closed && recover_ev != NULL && !evtimer_pending(recover_ev, NULL))
		evtimer_add(recover_ev, &tv);
}

/* inotify on the queue directory; -1 if it cannot be had. */
static int
watch_start_kernel(struct agent *a)
{
	if ((watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		return -1;
	recover_ev = evtimer_new(a->base, watch_recover_cb, a);
	/* config.toml: written in place, replaced by rename, or removed. */
	if ((watch_hwd = inotify_add_watch(watch_fd, a->paths.dir,
	    IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
	    IN_ONLYDIR)) == -1)
		log_warn("inotify: edits of config.toml apply at the next"
		    " reload (SIGHUP)");
	if (recover_ev == NULL || (watch_qwd = inotify_add_watch(watch_fd,
	    a->paths.queue, IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR |
	    IN_DONT_FOLLOW)) == -1 ||
	    (watch_ev = event_new(a->base, watch_fd, EV_READ | EV_PERSIST,
	    watch_cb, a)) == NULL || event_add(watch_ev, NULL) == -1)
		return -1;
	watch_kind = "inotify";
	return 0;
}
#elif defined(WATCH_KQUEUE)
/* Open for event notification only (macOS: does not block an unmount). */
static int
watch_open_evt(const char *path, int dir)
{
#ifdef O_EVTONLY
	int	flags = O_EVTONLY | O_CLOEXEC;
#else
	int	flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK;
#endif

	return open(path, flags | (dir ? O_DIRECTORY : O_NOFOLLOW));
}

/* Add an EVFILT_VNODE watch of fd to the kqueue. 0 or -1. */
static int
watch_kq_add(int fd, unsigned fflags)
{
	struct kevent	ch;

	EV_SET(&ch, fd, EVFILT_VNODE, EV_ADD | EV_ENABLE | EV_CLEAR, fflags, 0,
	    NULL);
	return kevent(watch_fd, &ch, 1, NULL, 0, NULL);
}

/*
 * Watch config.toml itself (an in-place write changes no directory), again
 * after each replacement: the old descriptor watches a file that is gone.
 * Best effort: the home directory's watch still sees replacements.
 */
static void
watch_kq_config(struct agent *a)
{
	if (watch_cfgfd != -1)
		close(watch_cfgfd);	/* closing removes its kevent */
	if ((watch_cfgfd = watch_open_evt(a->paths.config, 0)) != -1 &&
	    watch_kq_add(watch_cfgfd, NOTE_WRITE | NOTE_EXTEND | NOTE_ATTRIB |
	    NOTE_DELETE | NOTE_RENAME) == -1) {
		close(watch_cfgfd);
		watch_cfgfd = -1;
	}
}

static void
watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent		*a = arg;
	struct kevent		 ev[8];
	const struct timespec	 zero = { 0, 0 };
	int			 n, i, config = 0;

	while ((n = kevent(fd, NULL, 0, ev, 8, &zero)) > 0)
		for (i = 0; i < n; i++)
			if ((int)ev[i].ident != watch_dirfd)
				config = 1;	/* home or config.toml */
	if (config)
		watch_kq_config(a);	/* follow a replaced file */
	watch_soon(a);	/* the look compares config.toml and scans */
}

/* kqueue EVFILT_VNODE on the queue and home directories; -1 if not had. */
static int
watch_start_kernel(struct agent *a)
{
	if ((watch_dirfd = watch_open_evt(a->paths.queue, 1)) == -1 ||
	    (watch_fd = kqueue()) == -1)
		return -1;
	(void)fcntl(watch_fd, F_SETFD, FD_CLOEXEC);
	if (watch_kq_add(watch_dirfd, NOTE_WRITE | NOTE_DELETE |
	    NOTE_RENAME) == -1 ||
	    (watch_ev = event_new(a->base, watch_fd, EV_READ | EV_PERSIST,
	    watch_cb, a)) == NULL || event_add(watch_ev, NULL) == -1)
		return -1;
	if ((watch_homefd = watch_open_evt(a->paths.dir, 1)) == -1 ||
	    watch_kq_add(watch_homefd, NOTE_WRITE) == -1)
		log_warn("kqueue: edits of config.toml apply at the next"
		    " reload (SIGHUP)");
	watch_kq_config(a);
	watch_kind = "kqueue";
	return 0;
}
#else
/* No kernel notification here: pokes and the pending timer only. */
static int
watch_start_kernel(struct agent *a)
{
	(void)a;
	errno = ENOSYS;
	return -1;
}
#endif

/* Close what watch_start_kernel() opened. */
static void
watch_stop_kernel(void)
{
	int		*fds[] = { &watch_fd, &watch_dirfd, &watch_homefd,
	    &watch_cfgfd };
	unsigned	 i;

	if (watch_ev != NULL) {
		event_free(watch_ev);
		watch_ev = NULL;
	}
	if (recover_ev != NULL) {
		event_free(recover_ev);
		recover_ev = NULL;
	}
	for (i = 0; i < sizeof fds / sizeof fds[0]; i++)
		if (*fds[i] != -1) {
			close(*fds[i]);
			*fds[i] = -1;
		}
	watch_qwd = watch_hwd = -1;
}

/* Start watching the queue directory. Failure is logged, not fatal. */
void
watch_start(struct agent *a)
{
	if ((poll_ev = evtimer_new(a->base, watch_poll_cb, a)) == NULL)
		log_warn("watch: no timer");
	seen_cfg_ok = stat(a->paths.config, &seen_cfg) == 0;
	if (watch_start_kernel(a) == -1) {
		if (errno != ENOSYS)
			log_warn("watch %s: looking after client disconnects"
			    " only", a->paths.queue);
		watch_stop_kernel();
		watch_kind = "poll";
	}
	/* kqueue, poll: partials left at start mean a writer may be at work. */
	if (strcmp(watch_kind, "inotify") != 0)
		watch_soon(a);
}

/*
 * A client went away or a segment rolled (agent_check_idle): the poll way
 * looks at the directory and config.toml now; the kernel ways need no help.
 */
void
watch_poke(struct agent *a)
{
	if (watch_fd == -1)
		watch_soon(a);
}

/* How the queue is watched: "inotify", "kqueue", "poll" (status). */
const char *
watch_method(void)
{
	return watch_kind;
}

/* Stop watching. */
void
watch_stop(void)
{
	watch_stop_kernel();
	if (poll_ev != NULL) {
		event_free(poll_ev);
		poll_ev = NULL;
	}
	poll_ms = WATCH_POLL_MIN_MS;
	seen_valid = 0;
	watch_kind = "none";
}
