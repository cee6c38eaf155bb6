/*
 * test_upload — the uploader (agent/upload.c) against tests/collector.py on
 * loopback: delivery with exact bytes and headers, connection reuse, the
 * 413 split, HTTPS with a throwaway CA (openssl CLI), proxies from the
 * environment; and the reply cases of tests/data/upload/NAME.case (2xx,
 * 400, 401/403, 429/503 Retry-After, 5xx backoff, the persisted schedule,
 * disabled, transport errors and timeouts, abort, blank segments), run by
 * run_case. Every test has a private temp dir and its own collector,
 * killed by PID in the teardown. Waits are bounded; assertions are on
 * recorded values (next_attempt_unix_ms), never on measured speed.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>

#include "buf.h"
#include "queue.h"
#include "upload.h"
#include "testlib.h"

#define T_VERSION	"9.8.7-test"	/* User-Agent suffix */
#define T_WAIT_MS	8000		/* bound for any single wait */
#define T_START_MS	10000		/* bound for a helper to start */
#define T_PATH		1024

struct env {
	char		 dir[256];
	char		 qdir[T_PATH];
	char		 state[T_PATH];
	char		 health[T_PATH];
	char		 clog[T_PATH];	/* collector log */
	char		 plog[T_PATH];	/* proxy log */
	char		 endpoint[256];
	char		 ctl_ca[T_PATH];	/* CA for control over HTTPS */
	char		 scheme[8];
	struct queue	*q;
	struct event_base *base;
	int		 base_events;	/* events added before the uploader */
	pid_t		 coll_pid, proxy_pid;
	int		 port, pport;
	struct upload_config cfg;
	struct uploader	*u;
	size_t		 want_requests;	/* for pred_requests */
	/* Reply cases (run_case). */
	char		 case_path[T_PATH];
	int		 seg_base;	/* seq of the next record written */
	char		 first[QUEUE_NAME_MAX];	/* the first segment's name */
	int64_t		 next;		/* the last "next" checked */
	/* Last callback. */
	int		 done;
	int64_t		 cb_ms;		/* when it ran */
	char		 result[32];
	long		 status;
	char		 error[512];
};

/* ---- helpers: processes, files ---------------------------------------- */

static const char *
top_dir(void)
{
	const char	*t = getenv("TOP");

	return t != NULL && *t != '\0' ? t : ".";
}

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int ms)
{
	struct timespec	ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Read a whole file into a NUL-terminated malloc'd string (NULL if none). */
static char *
slurp(const char *path, size_t *lenp)
{
	FILE	*f;
	char	*s = NULL;
	long	 n;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (s = malloc((size_t)n + 1)) != NULL) {
		if (fread(s, 1, (size_t)n, f) != (size_t)n) {
			free(s);
			s = NULL;
		} else {
			s[n] = '\0';
			if (lenp != NULL)
				*lenp = (size_t)n;
		}
	}
	fclose(f);
	return s;
}

/* Start python3 script with args; wait for its port file. */
static pid_t
spawn_py(struct env *e, const char *script, const char *portfile,
    const char *log, const char *cert, const char *key, int *port)
{
	char		 path[T_PATH], *s;
	const char	*argv[12];
	int		 i = 0, waited;
	pid_t		 pid;

	snprintf(path, sizeof path, "%s/tests/%s", top_dir(), script);
	argv[i++] = "python3";
	argv[i++] = path;
	argv[i++] = "--port-file";
	argv[i++] = portfile;
	argv[i++] = "--log";
	argv[i++] = log;
	if (cert != NULL) {
		argv[i++] = "--tls-cert";
		argv[i++] = cert;
		argv[i++] = "--tls-key";
		argv[i++] = key;
	}
	argv[i] = NULL;
	unlink(portfile);
	if ((pid = fork()) == -1)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		int	fd = open("/dev/null", O_RDWR);

		if (fd != -1) {
			dup2(fd, 0);
			dup2(fd, 1);
			close(fd);
		}
		execvp("python3", (char *const *)argv);
		_exit(127);
	}
	(void)e;
	for (waited = 0; waited < T_START_MS; waited += 10) {
		if ((s = slurp(portfile, NULL)) != NULL) {
			*port = (int)strtol(s, NULL, 10);
			free(s);
			if (*port > 0)
				return pid;
		}
		if (waitpid(pid, NULL, WNOHANG) == pid)
			fail_msg("%s exited early", script);
		sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fail_msg("%s did not start", script);
	return -1;
}

static void
stop_pid(pid_t *pid)
{
	int	i;

	if (*pid <= 0)
		return;
	kill(*pid, SIGTERM);
	for (i = 0; i < 200; i++) {
		if (waitpid(*pid, NULL, WNOHANG) == *pid) {
			*pid = 0;
			return;
		}
		sleep_ms(10);
	}
	kill(*pid, SIGKILL);
	waitpid(*pid, NULL, 0);
	*pid = 0;
}

static void
start_collector(struct env *e, const char *cert, const char *key)
{
	char	pf[T_PATH];

	snprintf(pf, sizeof pf, "%s/collector.port", e->dir);
	e->coll_pid = spawn_py(e, "collector.py", pf, e->clog, cert, key,
	    &e->port);
	snprintf(e->scheme, sizeof e->scheme, "%s", cert != NULL ? "https" :
	    "http");
	snprintf(e->endpoint, sizeof e->endpoint,
	    "%s://127.0.0.1:%d/v1/events", e->scheme, e->port);
}

static size_t
discard_cb(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* POST a control command to the collector (blocking, direct, no proxy). */
static void
ctl(struct env *e, const char *json)
{
	CURL	*c;
	char	 url[T_PATH];
	long	 code = 0;
	CURLcode rc;

	snprintf(url, sizeof url, "%s://127.0.0.1:%d/_control", e->scheme,
	    e->port);
	assert_non_null(c = curl_easy_init());
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_cb);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
	if (e->ctl_ca[0] != '\0')
		curl_easy_setopt(c, CURLOPT_CAINFO, e->ctl_ca);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK || code != 200)
		fail_msg("control %s: %s (%ld)", json, curl_easy_strerror(rc),
		    code);
}

/* The collector's log as a JSON array (caller decrefs). */
static json_t *
clog_load(struct env *e)
{
	json_t	*arr = json_array(), *o;
	char	*s, *line, *nl;

	if ((s = slurp(e->clog, NULL)) == NULL)
		return arr;
	for (line = s; *line != '\0'; line = nl + 1) {
		if ((nl = strchr(line, '\n')) == NULL)
			break;
		*nl = '\0';
		if ((o = json_loads(line, 0, NULL)) == NULL)
			fail_msg("bad collector log line: %s", line);
		json_array_append_new(arr, o);
	}
	free(s);
	return arr;
}

static size_t
clog_count(struct env *e)
{
	json_t	*a = clog_load(e);
	size_t	 n = json_array_size(a);

	json_decref(a);
	return n;
}

static int
has_suffix(const char *s, const char *suf)
{
	size_t	ls = strlen(s), lf = strlen(suf);

	return ls >= lf && strcmp(s + ls - lf, suf) == 0;
}

/* Count queue files whose name ends with (or, for ".sending-", contains)
 * what. The first match's name goes to first (optional). */
static int
count_files(struct env *e, const char *what, char *first, size_t firstlen)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0, contains = strcmp(what, ".sending-") == 0;

	assert_non_null(d = opendir(e->qdir));
	while ((de = readdir(d)) != NULL) {
		if (contains ? strstr(de->d_name, what) != NULL :
		    has_suffix(de->d_name, what)) {
			if (n == 0 && first != NULL)
				snprintf(first, firstlen, "%s", de->d_name);
			n++;
		}
	}
	closedir(d);
	return n;
}

/* Build n records (seq from base) into b. */
static void
make_records(struct buf *b, int base, int n)
{
	int	i;

	for (i = 0; i < n; i++)
		assert_int_equal(buf_printf(b, "{\"event_id\":\"tool_call\","
		    "\"ts\":%lld,\"seq\":%d,\"name\":\"read_file\","
		    "\"success\":true}\n", 1700000000000LL + base + i,
		    base + i), 0);
}

/* Write one ready segment of n records; its bytes go to out (optional). */
static void
write_segment(struct env *e, int base, int n, struct buf *out)
{
	struct buf	b = { 0 };

	make_records(&b, base, n);
	assert_int_equal(queue_write_ready(e->q, b.data, b.len), 0);
	if (out != NULL)
		assert_int_equal(buf_add(out, b.data, b.len), 0);
	buf_free(&b);
}

/* ---- helpers: the loop ----------------------------------------------- */

static void
done_cb(void *arg, const char *result, long status, const char *error)
{
	struct env	*e = arg;

	e->done++;
	e->cb_ms = now_ms();
	snprintf(e->result, sizeof e->result, "%s", result);
	e->status = status;
	snprintf(e->error, sizeof e->error, "%s", error != NULL ? error : "");
}

typedef int (*pred_fn)(struct env *);

struct tick {
	struct env	*e;
	pred_fn		 pred;
	int64_t		 deadline;
	int		 ok;
};

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tick	*t = arg;

	(void)fd;
	(void)what;
	if (t->pred(t->e)) {
		t->ok = 1;
		event_base_loopbreak(t->e->base);
	} else if (now_ms() > t->deadline)
		event_base_loopbreak(t->e->base);
}

/* Run the loop until pred holds (1) or ms pass (0). */
static int
run_until(struct env *e, pred_fn pred, int ms)
{
	struct tick	 t = { e, pred, now_ms() + ms, 0 };
	struct event	*ev;
	struct timeval	 tv = { 0, 5000 };

	if (pred(e))
		return 1;
	ev = event_new(e->base, -1, EV_PERSIST, tick_cb, &t);
	assert_non_null(ev);
	event_add(ev, &tv);
	event_base_dispatch(e->base);
	event_free(ev);
	return t.ok;
}

static int
pred_done(struct env *e)
{
	return e->done > 0;
}

static int
pred_false(struct env *e)
{
	(void)e;
	return 0;
}

static int
pred_queue_empty_idle(struct env *e)
{
	return count_files(e, ".ndjson", NULL, 0) == 0 &&
	    count_files(e, ".sending-", NULL, 0) == 0 && upload_idle(e->u);
}

static int
pred_requests(struct env *e)
{
	return clog_count(e) >= e->want_requests;
}

/* Kick and wait for the callback; returns the result. */
static const char *
kick_wait(struct env *e, int now)
{
	e->done = 0;
	e->result[0] = '\0';
	upload_kick(e->u, now, done_cb, e);
	assert_int_equal(e->done, 0);	/* never called from inside kick */
	if (!run_until(e, pred_done, T_WAIT_MS))
		fail_msg("no upload callback within %d ms", T_WAIT_MS);
	assert_int_equal(e->done, 1);
	return e->result;
}

/* The "upload" object of upload_status (caller decrefs). */
static json_t *
ustatus(struct env *e)
{
	json_t	*o = json_object(), *up;

	upload_status(e->u, o);
	up = json_object_get(o, "upload");
	assert_non_null(up);
	json_incref(up);
	json_decref(o);
	return up;
}

static json_int_t
uint_of(json_t *o, const char *k)
{
	json_t	*v = json_object_get(o, k);

	if (!json_is_integer(v))
		fail_msg("%s is not an integer", k);
	return json_integer_value(v);
}

static const char *
str_of(json_t *o, const char *k)
{
	const char	*s = json_string_value(json_object_get(o, k));

	if (s == NULL)
		fail_msg("%s is not a string", k);
	return s;
}

static void
new_uploader(struct env *e)
{
	e->cfg.endpoint = e->endpoint;
	assert_non_null(e->u = upload_new(e->base, e->q, &e->cfg));
}

/* ---- setup / teardown ------------------------------------------------ */

static int
setup(void **state)
{
	struct env	*e;
	char		 cause[256];

	e = calloc(1, sizeof *e);
	assert_non_null(e);
	assert_int_equal(tl_tmpdir(e->dir, sizeof e->dir, "upl-test"), 0);
	snprintf(e->qdir, sizeof e->qdir, "%s/queue", e->dir);
	snprintf(e->state, sizeof e->state, "%s/upload-state.json", e->dir);
	snprintf(e->health, sizeof e->health, "%s/health.json", e->dir);
	snprintf(e->clog, sizeof e->clog, "%s/collector.log", e->dir);
	snprintf(e->plog, sizeof e->plog, "%s/proxy.log", e->dir);
	if (queue_open(e->qdir, QUEUE_O_CREATE, &e->q, cause,
	    sizeof cause) == -1)
		fail_msg("queue_open: %s", cause);
	assert_non_null(e->base = event_base_new());
	e->base_events = event_base_get_num_events(e->base,
	    EVENT_BASE_COUNT_ADDED);
	e->cfg.enabled = 1;
	e->cfg.timeout_s = 5;
	e->cfg.connect_timeout_s = 2;
	e->cfg.backoff_scale_pct = 100;
	e->cfg.max_retry_after_s = 86400;
	e->cfg.state_path = e->state;
	e->cfg.health_path = e->health;
	e->cfg.user_agent_version = T_VERSION;
	unsetenv("http_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("https_proxy");
	unsetenv("ALL_PROXY");
	unsetenv("all_proxy");
	unsetenv("NO_PROXY");
	unsetenv("no_proxy");
	unsetenv("ATOMCODE_PROXY_MODE");
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	struct env	*e = *state;

	upload_free(e->u);
	stop_pid(&e->coll_pid);
	stop_pid(&e->proxy_pid);
	queue_close(e->q);
	event_base_free(e->base);
	tl_rm_rf(e->dir);
	free(e);
	return 0;
}

/* ---- tests ----------------------------------------------------------- */

/* 2xx: exact bytes, every header, drain, connection reuse, health, idle. */
static void
test_ok_delivery(void **state)
{
	struct env	*e = *state;
	struct buf	 s1 = { 0 }, s2 = { 0 };
	char		 name[QUEUE_NAME_MAX], stem1[QUEUE_NAME_MAX], dropped[32];
	json_t		*log, *r0, *r1, *h, *hl, *st;
	int64_t		 t0, t1, sent;
	struct upload_counters c;

	start_collector(e, NULL, NULL);
	new_uploader(e);
	assert_string_equal(kick_wait(e, 0), "empty");

	write_segment(e, 0, 3, &s1);
	assert_int_equal(count_files(e, ".ndjson", name, sizeof name), 1);
	snprintf(stem1, sizeof stem1, "%.*s", (int)(strlen(name) - 7), name);
	sleep_ms(1100);		/* segment names carry the second */
	write_segment(e, 3, 2, &s2);
	snprintf(dropped, sizeof dropped, "%llu",
	    (unsigned long long)queue_dropped(e->q));

	t0 = now_ms();
	assert_string_equal(kick_wait(e, 1), "ok");
	t1 = now_ms();
	assert_int_equal(e->status, 200);

	log = clog_load(e);
	assert_int_equal(json_array_size(log), 2);
	r0 = json_array_get(log, 0);
	r1 = json_array_get(log, 1);
	assert_string_equal(str_of(r0, "method"), "POST");
	assert_string_equal(str_of(r0, "path"), "/v1/events");
	assert_string_equal(str_of(r0, "raw"), s1.data);	/* exact bytes */
	assert_string_equal(str_of(r1, "raw"), s2.data);
	assert_int_equal(json_array_size(json_object_get(r0, "records")), 3);
	h = json_object_get(r0, "headers");
	assert_string_equal(str_of(h, "content-type"), "application/x-ndjson");
	assert_string_equal(str_of(h, "content-encoding"), "gzip");
	assert_string_equal(str_of(h, "x-atomcode-schema"), "1");
	assert_string_equal(str_of(h, "x-atomcode-dropped"), dropped);
	assert_string_equal(str_of(h, "user-agent"),
	    "atomcode-telemetry/" T_VERSION);
	assert_string_equal(str_of(h, "idempotency-key"), stem1);
	sent = strtoll(str_of(h, "x-atomcode-sent-at"), NULL, 10);
	assert_true(sent >= t0 && sent <= t1);
	assert_null(json_object_get(h, "expect"));
	assert_null(json_object_get(h, "authorization"));
	/* The body is gzip: smaller than the NDJSON here. */
	assert_true(uint_of(r0, "body_bytes") < (json_int_t)s1.len);
	hl = json_object_get(r1, "headers");
	assert_string_not_equal(str_of(hl, "idempotency-key"), stem1);
	/* One connection for both (keep-alive reuse). */
	assert_int_equal(uint_of(r0, "client_port"),
	    uint_of(r1, "client_port"));
	json_decref(log);

	assert_int_equal(count_files(e, ".ndjson", NULL, 0), 0);
	assert_int_equal(count_files(e, ".sending-", NULL, 0), 0);
	assert_int_equal(count_files(e, ".invalid", NULL, 0), 0);

	upload_counters(e->u, &c);
	assert_int_equal(c.segments_posted, 2);
	assert_int_equal(c.events_uploaded, 5);
	assert_int_equal(c.bytes_sent, s1.len + s2.len);
	assert_int_equal(c.failures, 0);
	assert_true(c.last_post_unix_ms >= t0 && c.last_post_unix_ms <= t1);

	/* health.json, upstream shape. */
	upload_set_tracked(e->u, 42);
	st = json_load_file(e->health, 0, NULL);
	assert_non_null(st);
	assert_int_equal(uint_of(st, "segments_posted"), 2);
	assert_int_equal(uint_of(st, "bytes_sent"), (json_int_t)(s1.len +
	    s2.len));
	assert_int_equal(uint_of(st, "last_post_unix_ms"),
	    c.last_post_unix_ms);
	assert_int_equal(uint_of(st, "events_dropped_mpsc"), 0);
	assert_int_equal(uint_of(st, "events_dropped_disk"), 0);
	assert_int_equal(uint_of(st, "events_tracked"), 0);
	assert_non_null(strstr(str_of(st, "last_post_iso"), "T"));
	json_decref(st);

	/* Idle means idle: nothing of ours is armed. */
	assert_true(upload_idle(e->u));
	assert_int_equal(event_base_get_num_events(e->base,
	    EVENT_BASE_COUNT_ADDED), e->base_events);
	st = ustatus(e);
	assert_string_equal(str_of(st, "state"), "idle");
	assert_int_equal(uint_of(st, "attempt"), 0);
	assert_int_equal(uint_of(st, "last_status"), 200);
	assert_true(json_is_null(json_object_get(st, "last_error")));
	json_decref(st);

	/* upload_abort writes health.json with the tracked count. */
	upload_abort(e->u);
	st = json_load_file(e->health, 0, NULL);
	assert_non_null(st);
	assert_int_equal(uint_of(st, "events_tracked"), 42);
	json_decref(st);
	assert_string_equal(kick_wait(e, 1), "aborted");
	buf_free(&s1);
	buf_free(&s2);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* 413: split in halves, each delivered once; a lone record kept. */
static void
test_413_split(void **state)
{
	struct env	*e = *state;
	struct buf	 orig = { 0 }, got = { 0 };
	json_t		*log, *r;
	size_t		 i, n413 = 0, n200 = 0, nl = 0;
	char		*lines[16], *p, *nlp;
	json_t		*st;

	start_collector(e, NULL, NULL);
	ctl(e, "{\"max_records\":3}");
	new_uploader(e);
	write_segment(e, 0, 5, &orig);
	assert_string_equal(kick_wait(e, 1), "ok");
	assert_int_equal(count_files(e, ".ndjson", NULL, 0), 0);
	assert_int_equal(count_files(e, ".invalid", NULL, 0), 0);
	log = clog_load(e);
	assert_int_equal(json_array_size(log), 3);
	for (i = 0; i < json_array_size(log); i++) {
		r = json_array_get(log, i);
		if (uint_of(r, "status") == 413) {
			n413++;
			assert_string_equal(str_of(r, "raw"), orig.data);
		} else if (uint_of(r, "status") == 200) {
			n200++;
			assert_int_equal(buf_puts(&got, str_of(r, "raw")), 0);
		}
	}
	assert_int_equal(n413, 1);
	assert_int_equal(n200, 2);
	json_decref(log);
	/* The two halves hold every record exactly once (order of halves
	 * is the queue's name order). */
	assert_int_equal(got.len, orig.len);
	assert_int_equal(buf_putc(&got, '\0'), 0);
	for (p = got.data; *p != '\0' && nl < 16; p = nlp + 1) {
		if ((nlp = strchr(p, '\n')) == NULL)
			break;
		*nlp = '\0';
		lines[nl++] = p;
	}
	assert_int_equal(nl, 5);
	qsort(lines, nl, sizeof lines[0], cmp_str);
	for (i = 0; i < nl; i++) {
		char	want[256];

		snprintf(want, sizeof want, "\"seq\":%zu,", i);
		assert_non_null(strstr(lines[i], want));
	}
	st = ustatus(e);
	assert_int_equal(uint_of(st, "split"), 1);
	assert_int_equal(uint_of(st, "events_uploaded"), 5);
	json_decref(st);

	/*
	 * A 413 for one record: no record is over our frame limit, so
	 * something in the way refuses even that (a proxy). Backed off and
	 * kept, never quarantined; a segment of several waiting behind it
	 * is not split into pieces either, and both go once 2xx returns.
	 */
	ctl(e, "{\"max_records\":0}");
	write_segment(e, 10, 1, NULL);
	assert_string_equal(kick_wait(e, 1), "failed");
	assert_int_equal(e->status, 413);
	assert_int_equal(count_files(e, ".invalid", NULL, 0), 0);
	assert_int_equal(count_files(e, ".ndjson", NULL, 0), 1);
	write_segment(e, 20, 4, NULL);
	assert_string_equal(kick_wait(e, 1), "failed");
	assert_int_equal(e->status, 413);
	assert_int_equal(count_files(e, ".invalid", NULL, 0), 0);
	assert_int_equal(count_files(e, ".ndjson", NULL, 0), 2);
	st = ustatus(e);
	assert_int_equal(uint_of(st, "split"), 1);	/* only the first */
	json_decref(st);
	ctl(e, "{\"max_records\":null}");
	assert_string_equal(kick_wait(e, 1), "ok");
	assert_int_equal(count_files(e, ".ndjson", NULL, 0), 0);
	st = ustatus(e);
	assert_int_equal(uint_of(st, "events_uploaded"), 10);
	json_decref(st);
	buf_free(&orig);
	buf_free(&got);
}

/* A throwaway CA: wrong CA fails, right CA works; HTTPS_PROXY → CONNECT. */
static void
test_https(void **state)
{
	struct env	*e = *state;
	char		 cmd[4 * T_PATH], ca1[T_PATH], ca2[T_PATH], crt[T_PATH];
	char		 key[T_PATH], pf[T_PATH], *plog;
	json_t		*log;

	snprintf(ca1, sizeof ca1, "%s/ca1.pem", e->dir);
	snprintf(ca2, sizeof ca2, "%s/ca2.pem", e->dir);
	snprintf(crt, sizeof crt, "%s/srv.pem", e->dir);
	snprintf(key, sizeof key, "%s/srv.key", e->dir);
	snprintf(cmd, sizeof cmd, "(cd '%s' && "
	    "K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes' && "
	    "openssl req -x509 $K -keyout ca1.key -out ca1.pem -days 2 "
	    "-subj /CN=upl-test-ca-1 && "
	    "openssl req -x509 $K -keyout ca2.key -out ca2.pem -days 2 "
	    "-subj /CN=upl-test-ca-2 && "
	    "openssl req $K -keyout srv.key -out srv.csr -subj /CN=127.0.0.1 && "
	    "printf 'subjectAltName=IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n"
	    "extendedKeyUsage=serverAuth\\nsubjectKeyIdentifier=hash\\n"
	    "authorityKeyIdentifier=keyid\\n' > ext.cnf && "
	    "openssl x509 -req -in srv.csr -CA ca1.pem -CAkey ca1.key "
	    "-CAcreateserial -out srv.pem -days 2 -extfile ext.cnf",
	    e->dir);
	snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd),
	    ") >/dev/null 2>&1");
	if (system(cmd) != 0)
		fail_msg("openssl failed");
	start_collector(e, crt, key);
	snprintf(e->ctl_ca, sizeof e->ctl_ca, "%s", ca1);

	/* Wrong CA: TLS verification fails; the segment stays. */
	e->cfg.ca_file = ca2;
	new_uploader(e);
	write_segment(e, 0, 2, NULL);
	assert_string_equal(kick_wait(e, 1), "failed");
	assert_int_equal(e->status, 0);
	assert_true(strstr(e->error, "certificate") != NULL ||
	    strstr(e->error, "SSL") != NULL);
	assert_int_equal(count_files(e, ".ndjson", NULL, 0), 1);
	assert_int_equal(clog_count(e), 0);

	/* Right CA (reconfigure, then now=1 overrides the backoff). */
	e->cfg.ca_file = ca1;
	upload_reconfigure(e->u, &e->cfg);
	assert_string_equal(kick_wait(e, 1), "ok");
	assert_int_equal(count_files(e, ".ndjson", NULL, 0), 0);
	log = clog_load(e);
	assert_int_equal(json_array_size(log), 1);
	assert_int_equal(json_array_size(json_object_get(json_array_get(log,
	    0), "records")), 2);
	json_decref(log);

	/* Through a CONNECT proxy from HTTPS_PROXY. */
	snprintf(pf, sizeof pf, "%s/proxy.port", e->dir);
	e->proxy_pid = spawn_py(e, "proxy.py", pf, e->plog, NULL, NULL,
	    &e->pport);
	snprintf(cmd, sizeof cmd, "http://127.0.0.1:%d", e->pport);
	setenv("HTTPS_PROXY", cmd, 1);
	write_segment(e, 2, 1, NULL);
	assert_string_equal(kick_wait(e, 1), "ok");
	unsetenv("HTTPS_PROXY");
	plog = slurp(e->plog, NULL);
	assert_non_null(plog);
	snprintf(cmd, sizeof cmd, "CONNECT 127.0.0.1:%d HTTP/1.1\n", e->port);
	assert_string_equal(plog, cmd);
	free(plog);
	assert_int_equal(clog_count(e), 2);
}

/* http_proxy routes plain HTTP; ATOMCODE_PROXY_MODE=no_proxy bypasses. */
static void
test_proxy_env(void **state)
{
	struct env	*e = *state;
	char		 pf[T_PATH], want[T_PATH], *plog;

	start_collector(e, NULL, NULL);
	snprintf(pf, sizeof pf, "%s/proxy.port", e->dir);
	e->proxy_pid = spawn_py(e, "proxy.py", pf, e->plog, NULL, NULL,
	    &e->pport);
	snprintf(want, sizeof want, "http://127.0.0.1:%d", e->pport);
	setenv("http_proxy", want, 1);
	new_uploader(e);
	write_segment(e, 0, 2, NULL);
	assert_string_equal(kick_wait(e, 1), "ok");
	assert_int_equal(clog_count(e), 1);
	plog = slurp(e->plog, NULL);
	assert_non_null(plog);
	snprintf(want, sizeof want, "POST %s HTTP/1.1\n", e->endpoint);
	assert_string_equal(plog, want);
	free(plog);

	setenv("ATOMCODE_PROXY_MODE", "no_proxy", 1);
	write_segment(e, 2, 2, NULL);
	assert_string_equal(kick_wait(e, 1), "ok");
	assert_int_equal(clog_count(e), 2);
	plog = slurp(e->plog, NULL);
	assert_string_equal(plog, want);	/* unchanged */
	free(plog);
	unsetenv("ATOMCODE_PROXY_MODE");
	unsetenv("http_proxy");
}

/* ---- reply cases as data: tests/data/upload/NAME.case ----------------- */

/*
 * A case file is a script of steps, one a line, in the order they run
 * (the verbs are listed in tests/data/upload/README.md): what the
 * collector answers, what the uploader is given and asked, and what must
 * hold afterwards. Each case runs in its own setup/teardown like the
 * tests above; an unknown verb or key fails the case.
 */

/* A decimal number (a whole word), or fail. */
static long long
case_num(const char *what, const char *s)
{
	char		*end;
	long long	 n;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0')
		fail_msg("%s: \"%s\" is not a number", what, s);
	return n;
}

/* KEY of o is VALUE: a number, "null", "@next" (the last "next"), or text. */
static void
case_expect(struct env *e, const char *what, json_t *o, const char *k,
    const char *v)
{
	json_t		*j = json_object_get(o, k);
	char		*end;
	long long	 n;

	if (strcmp(v, "null") == 0) {
		if (!json_is_null(j))
			fail_msg("%s: %s is not null", what, k);
		return;
	}
	n = strtoll(v, &end, 10);
	if (strcmp(v, "@next") == 0)
		n = e->next;
	else if (*v == '\0' || *end != '\0') {
		if (strcmp(str_of(o, k), v) != 0)
			fail_msg("%s: %s is \"%s\", want \"%s\"", what, k,
			    str_of(o, k), v);
		return;
	}
	if (uint_of(o, k) != n)
		fail_msg("%s: %s is %lld, want %lld", what, k,
		    (long long)uint_of(o, k), n);
}

/* Every KEY=VALUE word of args holds in o. */
static void
case_expect_all(struct env *e, const char *what, json_t *o, char *args)
{
	char	*kv, *v;

	while ((kv = strsep(&args, " \t")) != NULL) {
		if (*kv == '\0')
			continue;
		if ((v = strchr(kv, '=')) == NULL)
			fail_msg("%s: \"%s\" is not KEY=VALUE", what, kv);
		*v++ = '\0';
		case_expect(e, what, o, kv, v);
	}
}

/* The queue's files, counters and state file as JSON (caller decrefs). */
static json_t *
case_files(struct env *e)
{
	return json_pack("{s:i, s:i, s:i}",
	    "ndjson", count_files(e, ".ndjson", NULL, 0),
	    "invalid", count_files(e, ".invalid", NULL, 0),
	    "sending", count_files(e, ".sending-", NULL, 0));
}

static json_t *
case_counters(struct env *e)
{
	struct upload_counters	c;

	upload_counters(e->u, &c);
	return json_pack("{s:I, s:I, s:I, s:I}",
	    "segments_posted", (json_int_t)c.segments_posted,
	    "events_uploaded", (json_int_t)c.events_uploaded,
	    "bytes_sent", (json_int_t)c.bytes_sent,
	    "failures", (json_int_t)c.failures);
}

/* "config KEY=N ...": the upload_config of the next start/reconfigure. */
static void
case_config(struct env *e, char *args)
{
	char		*kv, *v;
	long long	 n;

	while ((kv = strsep(&args, " \t")) != NULL) {
		if (*kv == '\0')
			continue;
		if ((v = strchr(kv, '=')) == NULL)
			fail_msg("config: \"%s\" is not KEY=N", kv);
		*v++ = '\0';
		n = case_num("config", v);
		if (strcmp(kv, "backoff_scale_pct") == 0)
			e->cfg.backoff_scale_pct = (unsigned)n;
		else if (strcmp(kv, "max_retry_after_s") == 0)
			e->cfg.max_retry_after_s = (unsigned)n;
		else if (strcmp(kv, "timeout_s") == 0)
			e->cfg.timeout_s = (unsigned)n;
		else if (strcmp(kv, "enabled") == 0)
			e->cfg.enabled = (int)n;
		else
			fail_msg("config: unknown key \"%s\"", kv);
	}
}

/* "kick now|later RESULT [STATUS]". */
static void
case_kick(struct env *e, char *args)
{
	char	*when, *result, *status;

	when = strsep(&args, " \t");
	result = strsep(&args, " \t");
	status = strsep(&args, " \t");
	if (when == NULL || result == NULL || (strcmp(when, "now") != 0 &&
	    strcmp(when, "later") != 0))
		fail_msg("kick: want \"now|later RESULT [STATUS]\"");
	assert_string_equal(kick_wait(e, strcmp(when, "now") == 0), result);
	if (status != NULL && *status != '\0')
		assert_int_equal(e->status, case_num("kick", status));
}

/* "next LO..HI": next_attempt_unix_ms minus the last callback's time. */
static void
case_next(struct env *e, char *args)
{
	json_t		*st;
	char		*dots;
	long long	 lo, hi, d;

	if ((dots = strstr(args, "..")) == NULL)
		fail_msg("next: want LO..HI, not \"%s\"", args);
	*dots = '\0';
	lo = case_num("next", args);
	hi = case_num("next", dots + 2);
	st = ustatus(e);
	e->next = uint_of(st, "next_attempt_unix_ms");
	json_decref(st);
	d = e->next - e->cb_ms;
	if (d < lo || d > hi)
		fail_msg("next attempt %lld ms after the callback, want "
		    "%lld..%lld", d, lo, hi);
}

/* "write TEXT": a ready segment of TEXT as given (\n is a newline). */
static void
case_write(struct env *e, const char *args)
{
	struct buf	b = { 0 };
	const char	*p;

	for (p = args; *p != '\0'; p++) {
		if (p[0] == '\\' && p[1] == 'n') {
			assert_int_equal(buf_putc(&b, '\n'), 0);
			p++;
		} else
			assert_int_equal(buf_putc(&b, *p), 0);
	}
	assert_int_equal(queue_write_ready(e->q, b.len > 0 ? b.data : "",
	    b.len), 0);
	buf_free(&b);
}

/* "error [A|B]": the last callback's error contains A or B (or is set). */
static void
case_error(struct env *e, char *args)
{
	char	*alt;

	if (*args == '\0' && e->error[0] != '\0')
		return;		/* "error" alone: there is one */
	while ((alt = strsep(&args, "|")) != NULL)
		if (*alt != '\0' && strstr(e->error, alt) != NULL)
			return;
	fail_msg("error \"%s\" is not the one expected", e->error);
}

/* "endpoint dead|collector": nobody listening, or the collector again. */
static void
case_endpoint(struct env *e, const char *args)
{
	if (strcmp(args, "dead") == 0)
		snprintf(e->endpoint, sizeof e->endpoint,
		    "http://127.0.0.1:9/v1/events");
	else if (strcmp(args, "collector") == 0)
		snprintf(e->endpoint, sizeof e->endpoint,
		    "%s://127.0.0.1:%d/v1/events", e->scheme, e->port);
	else
		fail_msg("endpoint: dead or collector, not \"%s\"", args);
	e->cfg.endpoint = e->endpoint;
}

/* "abort-within MS": upload_abort returns within MS and answers. */
static void
case_abort(struct env *e, const char *args)
{
	int64_t	t0 = now_ms();

	upload_abort(e->u);
	if (now_ms() - t0 >= case_num("abort-within", args))
		fail_msg("upload_abort took %lld ms",
		    (long long)(now_ms() - t0));
	assert_int_equal(e->done, 1);
	assert_string_equal(e->result, "aborted");
}

/* One step of a case. */
static void
case_step(struct env *e, const char *verb, char *args)
{
	json_t	*o;

	if (strcmp(verb, "reply") == 0)
		ctl(e, args);
	else if (strcmp(verb, "config") == 0)
		case_config(e, args);
	else if (strcmp(verb, "start") == 0)
		new_uploader(e);
	else if (strcmp(verb, "stop") == 0) {
		upload_free(e->u);
		e->u = NULL;
	} else if (strcmp(verb, "reconfigure") == 0)
		upload_reconfigure(e->u, &e->cfg);
	else if (strcmp(verb, "forget") == 0)
		unlink(e->state);
	else if (strcmp(verb, "segment") == 0) {
		write_segment(e, e->seg_base, (int)case_num(verb, args), NULL);
		e->seg_base += (int)case_num(verb, args);
		if (e->first[0] == '\0')
			(void)count_files(e, ".ndjson", e->first,
			    sizeof e->first);
	} else if (strcmp(verb, "sleep") == 0)
		sleep_ms((int)case_num(verb, args));
	else if (strcmp(verb, "kick") == 0)
		case_kick(e, args);
	else if (strcmp(verb, "drain") == 0)
		assert_true(run_until(e, pred_queue_empty_idle, T_WAIT_MS));
	else if (strcmp(verb, "quiet") == 0)
		(void)run_until(e, pred_false, (int)case_num(verb, args));
	else if (strcmp(verb, "requests") == 0)
		assert_int_equal(clog_count(e), case_num(verb, args));
	else if (strcmp(verb, "idle") == 0)
		assert_int_equal(upload_idle(e->u), strcmp(args, "yes") == 0);
	else if (strcmp(verb, "unarmed") == 0)
		assert_int_equal(event_base_get_num_events(e->base,
		    EVENT_BASE_COUNT_ADDED), e->base_events);
	else if (strcmp(verb, "error") == 0)
		case_error(e, args);
	else if (strcmp(verb, "write") == 0)
		case_write(e, args);
	else if (strcmp(verb, "endpoint") == 0)
		case_endpoint(e, args);
	else if (strcmp(verb, "kick-start") == 0) {
		/* A kick whose outcome is awaited later (wait-done). */
		e->done = 0;
		e->want_requests = clog_count(e) + 1;
		upload_kick(e->u, strcmp(args, "now") == 0, done_cb, e);
	} else if (strcmp(verb, "wait-request") == 0)
		assert_true(run_until(e, pred_requests, T_WAIT_MS));
	else if (strcmp(verb, "pending") == 0)
		assert_int_equal(e->done, 0);
	else if (strcmp(verb, "wait-done") == 0) {
		assert_true(run_until(e, pred_done, T_WAIT_MS));
		assert_string_equal(e->result, args);
	} else if (strcmp(verb, "abort-within") == 0)
		case_abort(e, args);
	else if (strcmp(verb, "statefile-exists") == 0)
		assert_int_equal(access(e->state, F_OK), 0);
	else if (strcmp(verb, "records") == 0) {
		o = clog_load(e);
		assert_true(json_array_size(o) > 0);
		assert_int_equal(json_array_size(json_object_get(
		    json_array_get(o, json_array_size(o) - 1), "records")),
		    case_num(verb, args));
		json_decref(o);
	} else if (strcmp(verb, "next") == 0)
		case_next(e, args);
	else if (strcmp(verb, "invalid-is-first") == 0) {
		char	inv[QUEUE_NAME_MAX];

		assert_int_equal(count_files(e, ".invalid", inv, sizeof inv), 1);
		assert_memory_equal(e->first, inv, strlen(e->first) - 7);
	} else if (strcmp(verb, "status") == 0 || strcmp(verb, "files") == 0 ||
	    strcmp(verb, "counters") == 0 || strcmp(verb, "statefile") == 0) {
		if (strcmp(verb, "status") == 0)
			o = ustatus(e);
		else if (strcmp(verb, "files") == 0)
			o = case_files(e);
		else if (strcmp(verb, "counters") == 0)
			o = case_counters(e);
		else if ((o = json_load_file(e->state, 0, NULL)) == NULL)
			fail_msg("statefile: cannot read %s", e->state);
		case_expect_all(e, verb, o, args);
		json_decref(o);
	} else
		fail_msg("unknown step \"%s\"", verb);
}

/* Run the case file named by the test's initial state. */
static void
run_case(void **state)
{
	struct env	*e = *state;
	char		*text, *line, *rest, *verb;
	unsigned	 lineno = 0;

	if ((text = slurp(e->case_path, NULL)) == NULL)
		fail_msg("cannot read %s", e->case_path);
	start_collector(e, NULL, NULL);
	rest = text;
	while ((line = strsep(&rest, "\n")) != NULL) {
		lineno++;
		line += strspn(line, " \t");
		if (*line == '\0' || *line == '#')
			continue;
		verb = strsep(&line, " \t");
		print_message("%s:%u: %s %s\n", e->case_path, lineno, verb,
		    line != NULL ? line : "");
		case_step(e, verb, line != NULL ? line : "");
	}
	free(text);
}

/* setup for a case: the usual env, with the case file's path kept. */
static int
setup_case(void **state)
{
	const char	*path = *state;

	if (setup(state) != 0)
		return -1;
	snprintf(((struct env *)*state)->case_path, T_PATH, "%s", path);
	return 0;
}

static int
case_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int
case_filter(const struct dirent *d)
{
	return has_suffix(d->d_name, ".case");
}

/*
 * Append a test per tests/data/upload/NAME.case to tests[*n]. Names and
 * paths are kept for the whole run (main frees them after it).
 */
static void
add_cases(struct CMUnitTest *tests, size_t *n, size_t max)
{
	struct dirent	**ents;
	char		  dir[T_PATH], *path;
	int		  i, k;

	snprintf(dir, sizeof dir, "%s/tests/data/upload", top_dir());
	if ((k = scandir(dir, &ents, case_filter, case_cmp)) < 1) {
		fprintf(stderr, "no reply cases in %s\n", dir);
		exit(1);
	}
	for (i = 0; i < k; i++) {
		if (*n < max && asprintf(&path, "%s/%s", dir,
		    ents[i]->d_name) != -1) {
			tests[*n].name = path + strlen(dir) + 1;
			tests[*n].test_func = run_case;
			tests[*n].setup_func = setup_case;
			tests[*n].teardown_func = teardown;
			tests[*n].initial_state = path;
			(*n)++;
		}
		free(ents[i]);
	}
	free(ents);
}

int
main(void)
{
	struct CMUnitTest	tests[64] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_ok_delivery),
		T(test_413_split),
		T(test_https),
		T(test_proxy_env),
#undef T
	};
	size_t			n = 4;
	int			r;

	add_cases(tests, &n, sizeof tests / sizeof tests[0]);
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = _cmocka_run_group_tests("test_upload", tests, n, NULL, NULL);
	curl_global_cleanup();
	while (n > 4)	/* the reply cases' paths (LeakSanitizer) */
		free((void *)tests[--n].initial_state);
	return r;
}
