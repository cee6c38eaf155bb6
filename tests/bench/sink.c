/*
 * sink.c — a minimal upload collector for `make bench` (libevent evhttp):
 * accepts every POST on 127.0.0.1, inflates a gzip body with zlib, counts
 * its lines and the event ids they carry (sink.h) and answers 200. Counters go to a MAP_SHARED file (sink.h);
 * GET answers them as JSON. It must never listen beyond loopback, keep
 * request bodies, or run longer than SINK_MAX_S.
 *
 *   sink PORT_FILE STATS_FILE
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <zlib.h>

#include "sink.h"

#define SINK_MAX_S	600		/* exit on our own after this long */
#define SINK_CHUNK	(64 * 1024)	/* inflate output grows by 4 of these */

static struct sink_stats	*st;
static unsigned char		*body;		/* the inflated body */
static size_t			 body_cap;

static uint64_t
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * Count the '\n'-terminated lines of p[0..n) and, per line, the event id
 * in its "request" field (sink.h).
 */
static uint64_t
count_lines(const unsigned char *p, size_t n)
{
	static const char	 key[] = "\"request\":";
	const unsigned char	*e = p + n, *nl, *k;
	uint64_t		 c = 0, v;

	for (; p < e && (nl = memchr(p, '\n', (size_t)(e - p))) != NULL;
	    p = nl + 1) {
		c++;
		k = memmem(p, (size_t)(nl - p), key, sizeof key - 1);
		if (k == NULL)
			continue;
		for (k += sizeof key - 1, v = 0; k < nl && *k >= '0' &&
		    *k <= '9' && v < SINK_ID_BASE * 10; k++)
			v = v * 10 + (uint64_t)(*k - '0');
		if (v < SINK_ID_BASE || v - SINK_ID_BASE >= SINK_IDS)
			continue;
		v -= SINK_ID_BASE;
		if (st->ids[v] < 255)
			__atomic_store_n(&st->ids[v], st->ids[v] + 1,
			    __ATOMIC_RELAXED);
		__atomic_add_fetch(&st->id_records, 1, __ATOMIC_RELAXED);
	}
	return c;
}

/* Inflate a gzip body into body[0..*len), growing it. 0 or -1. */
static int
sink_inflate(const unsigned char *in, size_t n, size_t *len)
{
	z_stream	 zs;
	unsigned char	*nb;
	int		 r;

	memset(&zs, 0, sizeof zs);
	*len = 0;
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return -1;
	zs.next_in = (unsigned char *)(uintptr_t)in;
	zs.avail_in = (uInt)n;
	do {
		if (body_cap - *len < SINK_CHUNK) {
			if ((nb = realloc(body, body_cap + SINK_CHUNK * 4)) ==
			    NULL) {
				inflateEnd(&zs);
				return -1;
			}
			body = nb;
			body_cap += SINK_CHUNK * 4;
		}
		zs.next_out = body + *len;
		zs.avail_out = (uInt)(body_cap - *len);
		r = inflate(&zs, Z_NO_FLUSH);
		if (r != Z_OK && r != Z_STREAM_END) {
			inflateEnd(&zs);
			return -1;
		}
		*len = body_cap - zs.avail_out;
	} while (r != Z_STREAM_END && (zs.avail_in > 0 || zs.avail_out == 0));
	inflateEnd(&zs);
	return r == Z_STREAM_END ? 0 : -1;
}

static void
sink_reply_stats(struct evhttp_request *req)
{
	struct evbuffer	*b = evbuffer_new();

	if (b == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evbuffer_add_printf(b, "{\"requests\":%llu,\"records\":%llu,"
	    "\"body_bytes\":%llu,\"raw_bytes\":%llu,\"bad\":%llu}\n",
	    (unsigned long long)st->requests, (unsigned long long)st->records,
	    (unsigned long long)st->body_bytes,
	    (unsigned long long)st->raw_bytes, (unsigned long long)st->bad);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

static void
sink_cb(struct evhttp_request *req, void *arg)
{
	struct evbuffer	*in, *out;
	const char	*enc;
	unsigned char	*p;
	uint64_t	 t0 = now_ns(), lines = 0, bytes = 0;
	size_t		 n, len;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		sink_reply_stats(req);
		return;
	}
	if (__atomic_load_n(&st->first_ns, __ATOMIC_RELAXED) == 0)
		__atomic_store_n(&st->first_ns, t0, __ATOMIC_RELAXED);
	in = evhttp_request_get_input_buffer(req);
	n = evbuffer_get_length(in);
	p = n > 0 ? evbuffer_pullup(in, -1) : NULL;
	enc = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Content-Encoding");
	if (enc != NULL && strcasecmp(enc, "gzip") == 0) {
		if (sink_inflate(p, n, &len) == -1) {
			__atomic_add_fetch(&st->bad, 1, __ATOMIC_RELAXED);
			evhttp_send_error(req, 400, "bad gzip");
			return;
		}
		lines = count_lines(body, len);
		bytes = len;
	} else if (p != NULL) {
		lines = count_lines(p, n);
		bytes = n;
	}
	if ((out = evbuffer_new()) != NULL)
		evbuffer_add(out, "{}", 2);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	evhttp_send_reply(req, 200, "OK", out);
	if (out != NULL)
		evbuffer_free(out);
	__atomic_add_fetch(&st->body_bytes, n, __ATOMIC_RELAXED);
	__atomic_add_fetch(&st->raw_bytes, bytes, __ATOMIC_RELAXED);
	__atomic_add_fetch(&st->requests, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&st->last_ns, now_ns(), __ATOMIC_RELAXED);
	__atomic_add_fetch(&st->records, lines, __ATOMIC_RELEASE);
}

static void
sink_stop_cb(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopexit(arg, NULL);
}

/* Write the port to path atomically (temp + rename). */
static int
sink_write_port(const char *path, int port)
{
	char	tmp[4096];
	FILE	*fp;

	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return -1;
	if ((fp = fopen(tmp, "w")) == NULL)
		return -1;
	fprintf(fp, "%d\n", port);
	if (fclose(fp) != 0)
		return -1;
	return rename(tmp, path);
}

int
main(int argc, char **argv)
{
	struct event_base		*base;
	struct evhttp			*http;
	struct evhttp_bound_socket	*bs;
	struct event			*sigterm, *sigint;
	struct sockaddr_in		 sin;
	socklen_t			 sl = sizeof sin;
	struct timeval			 tv = { SINK_MAX_S, 0 };
	int				 fd;

	if (argc != 3) {
		fprintf(stderr, "usage: sink PORT_FILE STATS_FILE\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	fd = open(argv[2], O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1 || ftruncate(fd, sizeof *st) == -1) {
		perror(argv[2]);
		return 1;
	}
	st = mmap(NULL, sizeof *st, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (st == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	close(fd);
	memset(st, 0, sizeof *st);
	if ((base = event_base_new()) == NULL || (http = evhttp_new(base)) ==
	    NULL) {
		fprintf(stderr, "sink: libevent setup failed\n");
		return 1;
	}
	evhttp_set_gencb(http, sink_cb, NULL);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	if ((bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0)) ==
	    NULL) {
		fprintf(stderr, "sink: cannot bind 127.0.0.1\n");
		return 1;
	}
	fd = evhttp_bound_socket_get_fd(bs);
	if (getsockname(fd, (struct sockaddr *)&sin, &sl) == -1 ||
	    sink_write_port(argv[1], ntohs(sin.sin_port)) == -1) {
		perror("sink: port");
		return 1;
	}
	sigterm = evsignal_new(base, SIGTERM, sink_stop_cb, base);
	sigint = evsignal_new(base, SIGINT, sink_stop_cb, base);
	if (sigterm == NULL || sigint == NULL || event_add(sigterm, NULL) ==
	    -1 || event_add(sigint, NULL) == -1)
		return 1;
	__atomic_store_n(&st->magic, SINK_MAGIC, __ATOMIC_RELEASE);
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	event_free(sigterm);
	event_free(sigint);
	evhttp_free(http);
	event_base_free(base);
	munmap(st, sizeof *st);
	return 0;
}
