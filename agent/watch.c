/*
 * watch.c — notices ready segments that other writers (the library's
 * fallback, upstream AtomCode processes) rename into the queue, so the
 * uploader picks them up without polling, and partials a writer closed
 * without finishing (it crashed, or a library's close ran out of time on
 * a stuck agent), which it hands to recovery a second later: inotify on
 * Linux, nothing elsewhere (there, such segments go out at the next kick
 * or start). Also watches $ATOMCODE_HOME for edits of config.toml, so
 * `enabled` and `endpoint` changed by hand apply at once (agent_reload).
 * Never reads or changes queue files itself.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"

#ifdef __linux__
#include <sys/inotify.h>

#define WATCH_BUF	4096	/* inotify events read per callback */
#define WATCH_RECOVER_MS 1000	/* partial closed → recovery after this */

static int		 watch_fd = -1;
static int		 watch_qwd = -1;	/* the queue directory */
static int		 watch_hwd = -1;	/* $ATOMCODE_HOME: config.toml */
static struct event	*watch_ev;
static struct event	*recover_ev;	/* one-shot: coalesces closes */

/* 1 if name is a segment left unfinished (ends with .partial). */
static int
watch_is_partial(const char *name, size_t len)
{
	return len > 8 && memcmp(name + len - 8, ".partial", 8) == 0;
}

/* Partials were closed unfinished: recovery promotes the free ones. */
static void
watch_recover_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent		*a = arg;
	struct queue_recovery	 r;

	memset(&r, 0, sizeof r);
	if (queue_recover(a->q, 0, &r) == -1) {
		log_warn("recovery of closed partials");
		return;
	}
	agent_log_recovery(a, &r, "another writer left unfinished");
}

/* 1 if name is a ready segment (ends with .ndjson). */
static int
watch_is_ready(const char *name, size_t len)
{
	return len > 7 && memcmp(name + len - 7, ".ndjson", 7) == 0;
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
	struct timeval			 tv = { 0, WATCH_RECOVER_MS * 1000 };
	char				 err[512];

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
	if (config) {
		/* Edited by hand: [telemetry] applies now, as after SIGHUP. */
		err[0] = '\0';
		agent_reload(a, err, sizeof err);
		log_info("config.toml changed: reloaded%s%s", err[0] ? ": " :
		    "", err);
	}
	if (ready && a->up != NULL && a->opt.enabled)
		upload_kick(a->up, 0, NULL, NULL);
	if (closed && recover_ev != NULL && !evtimer_pending(recover_ev, NULL))
		evtimer_add(recover_ev, &tv);
}

/* Start watching the queue directory. Failure is logged, not fatal. */
void
watch_start(struct agent *a)
{
	if ((watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1) {
		log_warn("inotify: segments from other writers go out at"
		    " the next upload");
		return;
	}
	recover_ev = evtimer_new(a->base, watch_recover_cb, a);
	/* config.toml: written in place, replaced by rename, or removed. */
	if ((watch_hwd = inotify_add_watch(watch_fd, a->paths.dir,
	    IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
	    IN_ONLYDIR)) == -1)
		log_warn("inotify: edits of config.toml apply at the next"
		    " reload (SIGHUP)");
	if ((watch_qwd = inotify_add_watch(watch_fd, a->paths.queue,
	    IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR | IN_DONT_FOLLOW)) ==
	    -1 ||
	    (watch_ev = event_new(a->base, watch_fd, EV_READ | EV_PERSIST,
	    watch_cb, a)) == NULL || event_add(watch_ev, NULL) == -1) {
		log_warn("inotify: cannot watch %s", a->paths.queue);
		close(watch_fd);
		watch_fd = -1;
	}
}

/* Stop watching. */
void
watch_stop(void)
{
	if (watch_ev != NULL) {
		event_free(watch_ev);
		watch_ev = NULL;
	}
	if (recover_ev != NULL) {
		event_free(recover_ev);
		recover_ev = NULL;
	}
	if (watch_fd != -1) {
		close(watch_fd);
		watch_fd = -1;
	}
}
#else
/* No inotify: segments from other writers go out at the next kick. */
void
watch_start(struct agent *a)
{
	(void)a;
}

/* Nothing to stop. */
void
watch_stop(void)
{
}
#endif
