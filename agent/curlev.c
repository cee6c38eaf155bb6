/*
 * curlev.c — libcurl's multi-socket API on the agent's libevent loop, one
 * POST at a time (see curlev.h). Only libevent calls are made from curl's
 * callbacks (and curl_multi_assign); a 0 ms curl timeout also goes through
 * libevent, so libcurl is never re-entered from inside itself.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <libdeflate.h>

#include "curl_dl.h"
#include "curlev.h"
#include "timing.h"

struct curlev_sock {
	LIST_ENTRY(curlev_sock)	 entry;
	curl_socket_t		 fd;
	struct event		*ev;
};

#define CURLEV_GZIP_LEVEL	1	/* fast, like upstream (flate2 fast()) */

static void	curlev_timer_event_cb(evutil_socket_t, short, void *);

/* Hand every finished transfer to the owner (after removing it). */
static void
curlev_check_info(struct curlev *ce)
{
	CURLMsg		*msg;
	CURLcode	 res;
	long		 code;
	int		 left;

	while ((msg = curl_multi_info_read(ce->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		/* Read everything before remove_handle invalidates msg. */
		res = msg->data.result;
		code = 0;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE,
		    &code);
		curl_multi_remove_handle(ce->multi, msg->easy_handle);
		if (ce->busy) {
			ce->busy = 0;
			ce->done(ce->arg, res, code);
		}
	}
}

/* libevent: a socket curl watches is ready. */
static void
curlev_sock_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct curlev	*ce = arg;
	int		 action = 0, running;

	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	curl_multi_socket_action(ce->multi, fd, action, &running);
	curlev_check_info(ce);
}

/* libevent: curl's timeout expired. */
static void
curlev_timer_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct curlev	*ce = arg;
	int		 running;

	curl_multi_socket_action(ce->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	curlev_check_info(ce);
}

/* CURLMOPT_SOCKETFUNCTION: create, update or free one event per socket. */
static int
curlev_sock_cb(CURL *e, curl_socket_t s, int what, void *userp,
    void *socketp)
{
	struct curlev		*ce = userp;
	struct curlev_sock	*cs = socketp;
	short			 kind;

	if (what == CURL_POLL_REMOVE) {
		if (cs != NULL) {
			LIST_REMOVE(cs, entry);
			event_free(cs->ev);
			free(cs);
			curl_multi_assign(ce->multi, s, NULL);
		}
		return 0;
	}
	kind = EV_PERSIST;
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (cs == NULL) {
		if ((cs = calloc(1, sizeof *cs)) == NULL)
			return -1;
		cs->fd = s;
		cs->ev = event_new(ce->base, s, kind, curlev_sock_event_cb, ce);
		if (cs->ev == NULL) {
			free(cs);
			return -1;
		}
		LIST_INSERT_HEAD(&ce->socks, cs, entry);
		curl_multi_assign(ce->multi, s, cs);
	} else {
		event_del(cs->ev);
		event_assign(cs->ev, ce->base, s, kind, curlev_sock_event_cb,
		    ce);
	}
	return event_add(cs->ev, NULL) == -1 ? -1 : 0;
}

/* CURLMOPT_TIMERFUNCTION: -1 deletes the timer, anything else re-arms it. */
static int
curlev_timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	struct curlev	*ce = userp;
	struct timeval	 tv;

	if (timeout_ms < 0) {
		evtimer_del(ce->timer);
		return 0;
	}
	tv = timing_tv((uint64_t)timeout_ms);
	return evtimer_add(ce->timer, &tv) == -1 ? -1 : 0;
}

/* Set up ce; libcurl itself is loaded by the first curlev_post. */
int
curlev_init(struct curlev *ce, struct event_base *base, curlev_done_cb done,
    void *arg)
{
	memset(ce, 0, sizeof *ce);
	ce->base = base;
	ce->done = done;
	ce->arg = arg;
	LIST_INIT(&ce->socks);
	if ((ce->timer = evtimer_new(base, curlev_timer_event_cb, ce)) == NULL)
		return -1;
	return 0;
}

/*
 * Load libcurl and make the handles, once: before anything else that calls
 * libcurl (curl_slist_append for the request headers goes through curl_dl).
 */
int
curlev_load(struct curlev *ce, char *err, size_t errlen)
{
	if (ce->multi != NULL)
		return 0;
	if (curl_dl_load(err, errlen) == -1)
		return -1;
	if ((ce->multi = curl_multi_init()) == NULL ||
	    (ce->easy = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "cannot initialise libcurl");
		return -1;
	}
	curl_multi_setopt(ce->multi, CURLMOPT_SOCKETFUNCTION, curlev_sock_cb);
	curl_multi_setopt(ce->multi, CURLMOPT_SOCKETDATA, ce);
	curl_multi_setopt(ce->multi, CURLMOPT_TIMERFUNCTION, curlev_timer_cb);
	curl_multi_setopt(ce->multi, CURLMOPT_TIMERDATA, ce);
	return 0;
}

/*
 * gzip data into ce->gz. libdeflate: 42% fewer instructions than zlib at
 * level 1 for a 500-record segment, a smaller body, 70 KiB less state.
 * 0, or -1 with errno.
 */
int
curlev_gzip(struct curlev *ce, const void *data, size_t len)
{
	size_t		 bound;
	unsigned char	*p;

	if (ce->gzc == NULL && (ce->gzc =
	    libdeflate_alloc_compressor(CURLEV_GZIP_LEVEL)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	bound = libdeflate_gzip_compress_bound(ce->gzc, len);
	if (bound > ce->gzcap) {
		if ((p = realloc(ce->gz, bound)) == NULL)
			return -1;
		ce->gz = p;
		ce->gzcap = bound;
	}
	ce->gzlen = libdeflate_gzip_compress(ce->gzc, data, len, ce->gz,
	    ce->gzcap);
	if (ce->gzlen == 0) {
		errno = EIO;
		return -1;
	}
	return 0;
}

/* Free the body buffer (after a pathological segment). */
void
curlev_trim(struct curlev *ce)
{
	free(ce->gz);
	ce->gz = NULL;
	ce->gzlen = ce->gzcap = 0;
}

/* Why the transfer failed: curl's own text, else the code's. */
const char *
curlev_error(struct curlev *ce, CURLcode res)
{
	return ce->errbuf[0] != '\0' ? ce->errbuf : curl_easy_strerror(res);
}

static size_t
curlev_discard_cb(char *p, size_t size, size_t n, void *arg)
{
	return size * n;
}

/* Keep Retry-After of the final response (a proxy's CONNECT answer and
 * 1xx responses come first; each status line starts afresh). */
static size_t
curlev_header_cb(char *p, size_t size, size_t n, void *arg)
{
	struct curlev	*ce = arg;
	size_t		 len = size * n, vlen;
	const char	*v, *end;

	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0)
		ce->retry_after[0] = '\0';
	else if (len > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
		v = p + 12;
		end = p + len;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == '\r' || end[-1] == '\n' ||
		    end[-1] == ' ' || end[-1] == '\t'))
			end--;
		vlen = (size_t)(end - v);
		if (vlen >= sizeof ce->retry_after)
			vlen = 0;	/* absurd: treat as absent */
		memcpy(ce->retry_after, v, vlen);
		ce->retry_after[vlen] = '\0';
	}
	return len;
}

/* Start one POST. 0, or -1 with the reason in err (nothing started). */
int
curlev_post(struct curlev *ce, const struct curlev_post *p, char *err,
    size_t errlen)
{
	CURL		*e;
	CURLcode	 rc = CURLE_OK;
	CURLMcode	 mc;
	unsigned	 ct = p->connect_timeout_s;
	const char	*pm;

	if (ce->busy) {
		snprintf(err, errlen, "a transfer is already running");
		return -1;
	}
	if (curlev_load(ce, err, errlen) == -1)
		return -1;
	if (ct == 0 || ct > p->timeout_s)
		ct = p->timeout_s;
	ce->retry_after[0] = '\0';
	ce->errbuf[0] = '\0';
	e = ce->easy;
	curl_easy_reset(e);	/* keeps connections, TLS sessions, DNS */
#define SET(o, v) do { if (rc == CURLE_OK) rc = curl_easy_setopt(e, o, v); } while (0)
	SET(CURLOPT_URL, p->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
	SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_POST, 1L);
	SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)ce->gzlen);
	SET(CURLOPT_POSTFIELDS, (const char *)ce->gz);
	SET(CURLOPT_HTTPHEADER, p->hdrs);
	SET(CURLOPT_USERAGENT, p->user_agent);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_TIMEOUT_MS, (long)p->timeout_s * 1000);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)ct * 1000);
	SET(CURLOPT_WRITEFUNCTION, p->write_cb != NULL ? p->write_cb :
	    curlev_discard_cb);
	SET(CURLOPT_WRITEDATA, p->write_arg);
	SET(CURLOPT_HEADERFUNCTION, curlev_header_cb);
	SET(CURLOPT_HEADERDATA, ce);
	SET(CURLOPT_ERRORBUFFER, ce->errbuf);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (p->ca_file != NULL)
		SET(CURLOPT_CAINFO, p->ca_file);
	pm = getenv("ATOMCODE_PROXY_MODE");
	if (pm != NULL && strcmp(pm, "no_proxy") == 0)
		SET(CURLOPT_NOPROXY, "*");
#if LIBCURL_VERSION_NUM >= 0x075700
	/* Never wait for a resolver thread on abort (shutdown budget). */
	SET(CURLOPT_QUICK_EXIT, 1L);
#endif
#undef SET
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "curl setup: %s", curl_easy_strerror(rc));
		return -1;
	}
	if ((mc = curl_multi_add_handle(ce->multi, e)) != CURLM_OK) {
		snprintf(err, errlen, "curl: %s", curl_multi_strerror(mc));
		return -1;
	}
	ce->busy = 1;
	return 0;
}

/* Stop the transfer in flight, if any; its callback is not called. */
void
curlev_cancel(struct curlev *ce)
{
	if (!ce->busy)
		return;
	curl_multi_remove_handle(ce->multi, ce->easy);
	ce->busy = 0;
}

/* Shutdown: cancel and disarm curl's timer. */
void
curlev_abort(struct curlev *ce)
{
	curlev_cancel(ce);
	if (ce->timer != NULL)
		evtimer_del(ce->timer);
}

/* Free everything (the struct itself is the owner's). */
void
curlev_free(struct curlev *ce)
{
	struct curlev_sock	*cs;

	curlev_abort(ce);
	if (ce->easy != NULL)
		curl_easy_cleanup(ce->easy);
	if (ce->multi != NULL)
		curl_multi_cleanup(ce->multi);
	while ((cs = LIST_FIRST(&ce->socks)) != NULL) {
		LIST_REMOVE(cs, entry);
		event_free(cs->ev);
		free(cs);
	}
	if (ce->timer != NULL)
		event_free(ce->timer);
	if (ce->gzc != NULL)
		libdeflate_free_compressor(ce->gzc);
	free(ce->gz);
	memset(ce, 0, sizeof *ce);
}
