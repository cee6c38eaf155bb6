/*
 * curlev — one HTTP POST at a time through libcurl's multi-socket API on
 * the agent's libevent loop: the uploader (upload.c) and the OTLP exporter
 * (export.c) each own one. It keeps one easy handle (connections, TLS
 * sessions and DNS answers survive between POSTs), one event per socket
 * curl watches and curl's timer, and reports the end of a transfer through
 * a callback, called from the loop, never from inside libcurl. It also
 * holds what every POST of ours has: the gzip body (libdeflate, level 1,
 * like upstream's flate2 fast()), the final response's Retry-After and
 * curl's error text.
 *
 * libcurl is loaded at the first POST (curl_dl.c): an agent with nothing
 * to send never maps it. Every POST has TLS verification on, no redirects,
 * http and https only, no signals, and honours ATOMCODE_PROXY_MODE=no_proxy.
 */
#ifndef AGENT_CURLEV_H
#define AGENT_CURLEV_H

#include <sys/queue.h>

#include <stddef.h>

#include <curl/curl.h>
#include <event2/event.h>

/* The transfer ended: curl's result and the HTTP status (0 if none). */
typedef void	(*curlev_done_cb)(void *, CURLcode, long);

struct curlev_sock;
struct libdeflate_compressor;

#define CURLEV_RA_MAX	128	/* longest Retry-After value kept */

struct curlev {
	struct event_base	*base;
	CURLM			*multi;		/* NULL until the first POST */
	CURL			*easy;
	struct event		*timer;		/* CURLMOPT_TIMERFUNCTION */
	LIST_HEAD(, curlev_sock) socks;
	int			 busy;		/* a transfer is in the multi */
	curlev_done_cb		 done;
	void			*arg;

	/* The body (curlev_gzip), kept between POSTs. */
	struct libdeflate_compressor *gzc;
	unsigned char		*gz;
	size_t			 gzlen, gzcap;

	/* The last response. */
	char			 retry_after[CURLEV_RA_MAX]; /* "" if none */
	char			 errbuf[CURL_ERROR_SIZE];
};

/* One POST of the gzip body: pointers stay valid until it ends. */
struct curlev_post {
	const char		*url;
	const char		*ca_file;	/* NULL: libcurl's default store */
	const char		*user_agent;
	struct curl_slist	*hdrs;
	unsigned		 timeout_s;	/* whole request */
	unsigned		 connect_timeout_s; /* 0 or > timeout: timeout */
	curl_write_callback	 write_cb;	/* the response body; NULL: drop */
	void			*write_arg;
};

int	curlev_init(struct curlev *, struct event_base *, curlev_done_cb,
	    void *);
int	curlev_load(struct curlev *, char *, size_t);
int	curlev_gzip(struct curlev *, const void *, size_t);
void	curlev_trim(struct curlev *);
const char *curlev_error(struct curlev *, CURLcode);
int	curlev_post(struct curlev *, const struct curlev_post *, char *,
	    size_t);
void	curlev_cancel(struct curlev *);
void	curlev_abort(struct curlev *);
void	curlev_free(struct curlev *);

#endif
