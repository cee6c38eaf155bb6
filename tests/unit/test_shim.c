/*
 * test_shim.c — the client shim (client/shim.c, client/spawn.c) against a
 * fake agent: a forked child listening on $ATOMCODE_HOME/telemetry.sock
 * that logs every frame and acks, never acks, rejects or dies on demand.
 * Covers acks, the close bound, fallback segments, agent death, reconnect,
 * opt-out, sudo, the bounded ring, argument errors and auto-spawn (one
 * agent for fifty racing processes; the spawned "agent" is this binary).
 */
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
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
#include <jansson.h>

#include "atomcode/telemetry.h"
#include "envelope.h"
#include "frame.h"
#include "record.h"
#include "sock.h"
#include "queue.h"
#include "spawn.h"
#include "testlib.h"

#define GOLDEN		"tests/compat/open_atomcode_full_envelope.json"
#define RACERS		50	/* processes racing to spawn the agent */
#define AGENT_LIFE_S	10	/* a fake agent exits by itself after this */
#define SPAWNED_LIFE_MS	3000	/* the spawned fake agent holds the lock */
#define THREADS		4	/* threads sharing one handle */
#define PER_THREAD	500	/* events each of them emits */

enum fake_mode {
	FA_ACK,		/* ack every flush */
	FA_NOACK,	/* read everything, never answer */
	FA_DIE,		/* exit after reading `n` events, no answer */
	FA_REJECT,	/* error for seq 1 (and `n` if set), ack flushes */
	FA_BUSY,	/* error "busy" for seq 1, ack flushes */
	FA_STALL,	/* accept, then never read */
	FA_STORAGE,	/* error "storage" for every event (a read-only disk) */
	FA_CLAIM,	/* claim the takeover marker at the first event, never
			   ack (an agent whose disk is slow) */
};

static char	home[256];	/* $ATOMCODE_HOME of the current test */

/*
 * fsync(2) and fdatasync(2) as the library sees them: fail with EIO while
 * fail_sync is set (a disk that lost the data), else the real call.
 */
static int	fail_sync;

int	fsync(int);
int	fdatasync(int);

int
fsync(int fd)
{
	if (fail_sync) {
		errno = EIO;
		return -1;
	}
	return (int)syscall(SYS_fsync, fd);
}

int
fdatasync(int fd)
{
	if (fail_sync) {
		errno = EIO;
		return -1;
	}
	return (int)syscall(SYS_fdatasync, fd);
}
static char	logpath[300];	/* what the fake agent received */
static char	sockpath[300];

static int
setup(void **state)
{
	(void)state;
	if (tl_tmpdir(home, sizeof(home), "shimtest") == -1)
		return -1;
	snprintf(logpath, sizeof(logpath), "%s.log", home);
	snprintf(sockpath, sizeof(sockpath), "%s/telemetry.sock", home);
	unlink(logpath);
	setenv("ATOMCODE_HOME", home, 1);
	setenv("ATOMCODE_TELEMETRYD", "/bin/false", 1);
	tl_clear_env();
	unsetenv("ATC_TEST_FAKE_AGENT");
	memset(&env_test_hooks, 0, sizeof(env_test_hooks));
	fail_sync = 0;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	memset(&env_test_hooks, 0, sizeof(env_test_hooks));
	unlink(logpath);
	return tl_rm_rf(home);
}

static int
read_full(int fd, void *p, size_t n)
{
	ssize_t	r;
	size_t	got = 0;

	while (got < n) {
		r = read(fd, (char *)p + got, n - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static void
send_frame(int fd, const char *json)
{
	struct buf	b = { NULL, 0, 0 };

	frame_encode(&b, json, strlen(json));
	if (write(fd, b.data, b.len) != (ssize_t)b.len)
		_exit(3);
	buf_free(&b);
}

/* The fake agent's connection loop (child process; no cmocka here). */
static void
fake_serve(int c, enum fake_mode mode, int n, int logfd)
{
	unsigned char	 hdr[4];
	char		*p, reply[512], nonce[40] = "";
	uint32_t	 len;
	int		 nev = 0;

	for (;;) {
		if (read_full(c, hdr, 4) == -1)
			return;
		len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
		    (uint32_t)hdr[2] << 8 | hdr[3];
		if (len == 0 || len > FRAME_MAX ||
		    (p = malloc(len + 2)) == NULL)
			_exit(4);
		if (read_full(c, p, len) == -1)
			_exit(5);
		p[len] = '\n';
		p[len + 1] = '\0';
		if (frame_is_control((unsigned char *)p, len)) {
			char *nq = strstr(p, "\"nonce\":\"");

			if (nq != NULL && mode == FA_CLAIM)
				snprintf(nonce, sizeof(nonce), "%.32s", nq + 9);
			if (write(logfd, "C ", 2) != 2 ||
			    write(logfd, p, len + 1) != (ssize_t)len + 1)
				_exit(6);
			if (strstr(p, "\"op\":\"flush\"") != NULL &&
			    mode != FA_NOACK) {
				snprintf(reply, sizeof(reply),
				    "{\"op\":\"ack\",\"seq\":%d}", nev);
				send_frame(c, reply);
			}
		} else {
			nev++;
			if (mode == FA_CLAIM && nev == 1) {
				snprintf(reply, sizeof(reply), "%s/telemetry/"
				    "queue/%s.takeover", home, nonce);
				if (symlink("agent", reply) == -1)
					_exit(7);
			}
			if (write(logfd, "E ", 2) != 2 ||
			    write(logfd, p, len + 1) != (ssize_t)len + 1)
				_exit(6);
			if (mode == FA_STORAGE) {
				snprintf(reply, sizeof(reply), "{\"op\":"
				    "\"error\",\"code\":\"storage\",\"seq\":%d,"
				    "\"seq_first\":%d,\"message\":\"events "
				    "could not be stored: Read-only file "
				    "system\"}", nev, nev);
				send_frame(c, reply);
			}
			if ((mode == FA_REJECT && (nev == 1 || nev == n)) ||
			    (mode == FA_BUSY && nev == 1)) {
				snprintf(reply, sizeof(reply), "{\"op\":"
				    "\"error\",\"code\":\"%s\",\"seq\":%d,"
				    "\"message\":\"test\"}", mode == FA_BUSY ?
				    "busy" : "unknown_event", nev);
				send_frame(c, reply);
			}
			if (mode == FA_DIE && nev == n)
				_exit(0);
		}
		free(p);
	}
}

/* Start a fake agent on sockpath; it serves connections one at a time. */
static pid_t
fake_start(enum fake_mode mode, int n)
{
	pid_t	pid;
	int	lfd, c, logfd;

	unlink(sockpath);
	lfd = sock_listen(sockpath, 64);
	assert_true(lfd >= 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		signal(SIGPIPE, SIG_IGN);	/* the client may be gone */
		alarm(AGENT_LIFE_S);
		logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (logfd == -1)
			_exit(2);
		for (;;) {
			struct pollfd pfd = { lfd, POLLIN, 0 };

			if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
				_exit(2);
			if ((c = accept(lfd, NULL, NULL)) == -1)
				continue;
			if (write(logfd, "A\n", 2) != 2)
				_exit(6);
			if (mode == FA_STALL)
				for (;;)
					pause();
			/* Serve blocking. */
			fcntl(c, F_SETFL, fcntl(c, F_GETFL) & ~O_NONBLOCK);
			fake_serve(c, mode, n, logfd);
			close(c);
		}
	}
	close(lfd);
	return pid;
}

static void
fake_stop(pid_t pid)
{
	int	status;

	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

/* Lines of the agent log starting with prefix ("E ", "C ", "A"). */
static int
log_count(const char *prefix)
{
	FILE	*f;
	char	*line = NULL;
	size_t	 cap = 0;
	int	 n = 0;

	if ((f = fopen(logpath, "r")) == NULL)
		return 0;
	while (getline(&line, &cap, f) != -1)
		if (strncmp(line, prefix, strlen(prefix)) == 0)
			n++;
	free(line);
	fclose(f);
	return n;
}

/* The k-th (0-based) log line with prefix, without prefix and newline. */
static char *
log_line(const char *prefix, int k)
{
	FILE	*f;
	char	*line = NULL, *r = NULL;
	size_t	 cap = 0;

	if ((f = fopen(logpath, "r")) == NULL)
		return NULL;
	while (getline(&line, &cap, f) != -1) {
		if (strncmp(line, prefix, strlen(prefix)) != 0 || k-- != 0)
			continue;
		line[strcspn(line, "\n")] = '\0';
		r = strdup(line + strlen(prefix));
		break;
	}
	free(line);
	fclose(f);
	return r;
}

/* Count files in dir whose names end with suffix ("" counts all). */
static int
count_files(const char *dir, const char *suffix)
{
	DIR		*d;
	struct dirent	*de;
	size_t		 n, sl = strlen(suffix);
	int		 count = 0;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		n = strlen(de->d_name);
		if (n >= sl && strcmp(de->d_name + n - sl, suffix) == 0)
			count++;
	}
	closedir(d);
	return count;
}

/* Records in ready fallback segments; each must pass recovery's check. */
static int
fallback_records(int (*each)(const char *, size_t, void *), void *arg)
{
	char		 qdir[512], path[1024];
	DIR		*d;
	struct dirent	*de;
	FILE		*f;
	char		*line = NULL;
	size_t		 cap = 0, n;
	ssize_t		 len;
	int		 count = 0;

	snprintf(qdir, sizeof(qdir), "%s/telemetry/queue", home);
	if ((d = opendir(qdir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (n < 7 || strcmp(de->d_name + n - 7, ".ndjson") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", qdir, de->d_name);
		assert_non_null(f = fopen(path, "r"));
		while ((len = getline(&line, &cap, f)) > 0) {
			assert_true(line[len - 1] == '\n');
			assert_true(rec_line_ok(line, (size_t)len - 1));
			if (each != NULL)
				each(line, (size_t)len - 1, arg);
			count++;
		}
		fclose(f);
	}
	closedir(d);
	free(line);
	return count;
}

/*
 * Run recovery over the queue, as the agent (or any opener) would: a close
 * that timed out on a stuck agent leaves its segments as managed partials.
 */
static void
recover_queue(void)
{
	struct queue	*q;
	char		 qdir[512], cause[256];

	snprintf(qdir, sizeof(qdir), "%s/telemetry/queue", home);
	assert_int_equal(queue_open(qdir, 0, &q, cause, sizeof(cause)), 0);
	queue_close(q);
}

/*
 * Check h's counters against a list of "NAME OP N" terms separated by
 * spaces, OP one of = <= >=, NAME a field of struct atc_stats or two
 * joined by '+': expect_stats(h, "acked+fallback=3000 lost=0").
 */
static void
expect_stats(struct atc *h, const char *want)
{
	static const struct {
		const char	*name;
		size_t		 off;
	} f[] = {
#define F(n)	{ #n, offsetof(struct atc_stats, n) }
		F(emitted), F(sent), F(buffered), F(acked), F(fallback),
		F(rejected), F(lost), F(reconnects), F(spawns),
#undef F
	};
	struct atc_stats	 st;
	const char		*p = want, *term;
	char			*e;
	uint64_t		 have, n;
	size_t			 i, len, oplen;
	int			 ok = 0;

	atc_get_stats(h, &st);
	while (*p != '\0') {
		term = p;
		have = 0;
		for (;;) {	/* NAME[+NAME...] */
			len = strcspn(p, "+=<>");
			for (i = 0; i < sizeof f / sizeof f[0]; i++)
				if (strlen(f[i].name) == len &&
				    strncmp(p, f[i].name, len) == 0)
					break;
			if (i == sizeof f / sizeof f[0])
				fail_msg("expect_stats: no counter at \"%s\"", p);
			have += *(const uint64_t *)(const void *)
			    ((const char *)&st + f[i].off);
			p += len;
			if (*p != '+')
				break;
			p++;
		}
		oplen = strspn(p, "=<>");
		n = strtoull(p + oplen, &e, 10);
		if (oplen == 1 && *p == '=')
			ok = have == n;
		else if (oplen == 2 && strncmp(p, "<=", 2) == 0)
			ok = have <= n;
		else if (oplen == 2 && strncmp(p, ">=", 2) == 0)
			ok = have >= n;
		else
			fail_msg("expect_stats: no operator at \"%s\"", p);
		if (!ok)
			fail_msg("counters: %.*s, but it is %llu",
			    (int)strcspn(term, " "), term,
			    (unsigned long long)have);
		p = e + strspn(e, " ");
	}
}

static struct atc *
open_handle(unsigned flags, unsigned close_ms)
{
	struct atc_options	 o;
	struct atc		*h = NULL;

	memset(&o, 0, sizeof(o));
	o.app_version = "4.22.3";
	o.mode = "tui";
	o.flags = flags | ATC_F_NO_REPO_ORIGIN;
	o.close_timeout_ms = close_ms;
	assert_int_equal(atc_open(&o, &h), ATC_OK);
	assert_non_null(h);
	assert_true(atc_enabled(h, NULL));
	return h;
}

static void
emit_n(struct atc *h, int n)
{
	char	p[64];
	int	i;

	for (i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "{\"name\":\"read\",\"success\":true,"
		    "\"duration_ms\":%d}", i);
		assert_int_equal(atc_emit(h, "tool_call", p), ATC_OK);
	}
}

static void
test_acked(void **state)
{
	struct atc		*h;
	pid_t			 agent;
	char			*hello, *ev, qdir[512], devid[64] = "";
	json_t			*j;
	FILE			*f;

	(void)state;
	agent = fake_start(FA_ACK, 0);
	h = open_handle(ATC_F_NO_SPAWN, 1000);
	assert_int_equal(atc_emit(h, "open_atomcode", NULL), ATC_OK);
	emit_n(h, 2);
	assert_int_equal(atc_flush(h, 2000), ATC_OK);
	expect_stats(h, "emitted=3 sent=3 acked=3 buffered=0 fallback=0 "
	    "lost=0 spawns=0");
	assert_int_equal(atc_close(h), ATC_OK);
	fake_stop(agent);

	/* Hello first, then the three records. */
	assert_int_equal(log_count("A"), 1);
	assert_int_equal(log_count("E "), 3);
	hello = log_line("C ", 0);
	assert_non_null(hello);
	assert_non_null(j = json_loads(hello, 0, NULL));
	assert_string_equal(json_string_value(json_object_get(j, "op")),
	    "hello");
	assert_int_equal(json_integer_value(json_object_get(j, "proto")), 1);
	assert_int_equal(json_integer_value(json_object_get(j, "pid")),
	    getpid());
	assert_true(strncmp(json_string_value(json_object_get(j, "client")),
	    "atomcode-telemetry/", 19) == 0);
	assert_non_null(json_string_value(json_object_get(j, "cwd")));
	json_decref(j);
	free(hello);

	/* device_id was created and is the one in the records. */
	snprintf(qdir, sizeof(qdir), "%s/device_id", home);
	assert_non_null(f = fopen(qdir, "r"));
	assert_non_null(fgets(devid, sizeof(devid), f));
	fclose(f);
	ev = log_line("E ", 1);
	assert_non_null(ev);
	assert_non_null(j = json_loads(ev, 0, NULL));
	assert_string_equal(json_string_value(json_object_get(j, "device_id")),
	    devid);
	assert_string_equal(json_string_value(json_object_get(j, "event_id")),
	    "tool_call");
	assert_string_equal(json_string_value(json_object_get(j, "mode")),
	    "tui");
	assert_string_equal(json_string_value(json_object_get(j,
	    "app_version")), "4.22.3");
	assert_string_equal(json_string_value(json_object_get(j,
	    "session_id")), json_string_value(json_object_get(j, "launch_id")));
	assert_true(json_integer_value(json_object_get(j, "ts")) >
	    1700000000000LL);
	assert_null(json_object_get(j, "repo_origin"));
	json_decref(j);
	free(ev);

	/* Nothing fell back. */
	snprintf(qdir, sizeof(qdir), "%s/telemetry/queue", home);
	assert_int_equal(count_files(qdir, ""), 0);
}

static void
test_golden_e2e(void **state)
{
	struct atc_options	 o;
	struct atc		*h;
	pid_t			 agent;
	char			 repo[512], path[600], *ev, *got, *want;
	json_t			*j;
	FILE			*f;
	long			 n;
	int			 fd;

	(void)state;
	/* A repository whose origin is on gitcode. */
	snprintf(repo, sizeof(repo), "%s/repo", home);
	assert_int_equal(mkdir(repo, 0700), 0);
	snprintf(path, sizeof(path), "%s/.git", repo);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/.git/config", repo);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	dprintf(fd, "[remote \"origin\"]\n\turl = git@gitcode.com:a/b.git\n");
	close(fd);

	agent = fake_start(FA_ACK, 0);
	env_test_hooks.fixed = 1;
	memset(&o, 0, sizeof(o));
	o.mode = "tui";
	o.provider = "openai";
	o.model = "gpt-4o";
	o.account_id = "42";
	o.surface = "code_review";
	o.cwd = repo;
	o.flags = ATC_F_NO_SPAWN;
	assert_int_equal(atc_open(&o, &h), ATC_OK);
	assert_int_equal(atc_set_counters(h, 3, 2, 7), ATC_OK);
	assert_int_equal(atc_emit(h, "open_atomcode",
	    "{\"dangerously_skip_permissions\": true}"), ATC_OK);
	assert_int_equal(atc_close(h), ATC_OK);
	fake_stop(agent);

	ev = log_line("E ", 0);
	assert_non_null(ev);
	assert_non_null(j = json_loads(ev, 0, NULL));
	got = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	snprintf(path, sizeof(path), "%s", GOLDEN);
	if (access(path, R_OK) != 0 && getenv("TOP") != NULL)
		snprintf(path, sizeof(path), "%s/%s", getenv("TOP"), GOLDEN);
	assert_non_null(f = fopen(path, "r"));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	want = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(want, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	assert_int_equal(strlen(got) + 1, strlen(want));
	assert_memory_equal(got, want, strlen(got));
	free(want);
	free(got);
	json_decref(j);
	free(ev);
}

static void
test_noack_close_bound(void **state)
{
	struct atc	*h;
	struct queue	*q;
	pid_t		 agent;
	uint64_t	 t0, dt;
	char		 qdir[512], cause[256];

	(void)state;
	agent = fake_start(FA_NOACK, 0);
	h = open_handle(ATC_F_NO_SPAWN, 100);
	emit_n(h, 5);
	t0 = tl_now_ms();
	assert_int_equal(atc_close(h), ATC_OK);
	dt = tl_now_ms() - t0;
	/* The bound is 100 ms; allow for slow sanitizer builds. */
	assert_true(dt < 2000);
	fake_stop(agent);
	assert_int_equal(log_count("E "), 5);	/* the agent had them… */
	/*
	 * …but did not confirm them: they are in a managed partial, its lock
	 * free, not fsynced inside the spent bound; recovery promotes it.
	 */
	snprintf(qdir, sizeof(qdir), "%s/telemetry/queue", home);
	assert_int_equal(fallback_records(NULL, NULL), 0);
	assert_int_equal(count_files(qdir, ".partial"), 1);
	assert_int_equal(count_files(qdir, ".partial.owner"), 1);
	assert_int_equal(queue_open(qdir, 0, &q, cause, sizeof(cause)), 0);
	assert_int_equal(queue_last_recovery(q)->promoted, 1);
	queue_close(q);
	assert_int_equal(fallback_records(NULL, NULL), 5);
}

static void
test_agent_dies(void **state)
{
	struct atc		*h;
	pid_t			 agent;
	int			 status;
	char			 qdir[512];

	(void)state;
	agent = fake_start(FA_DIE, 3);
	h = open_handle(ATC_F_NO_SPAWN, 100);
	emit_n(h, 3);
	assert_int_equal(waitpid(agent, &status, 0), agent);
	/* Emitted after the death: the send fails or the connect does. */
	emit_n(h, 1);
	expect_stats(h, "lost=0");
	assert_int_equal(atc_close(h), ATC_OK);
	assert_int_equal(fallback_records(NULL, NULL), 4);
	snprintf(qdir, sizeof(qdir), "%s/telemetry/queue", home);
	assert_int_equal(count_files(qdir, ".partial"), 0);
}

static void
test_rejected(void **state)
{
	struct atc		*h;
	struct atc_error_info	 ei = { .size = sizeof(ei) };
	pid_t			 agent;

	(void)state;
	agent = fake_start(FA_REJECT, 0);
	h = open_handle(ATC_F_NO_SPAWN, 100);
	assert_int_equal(atc_last_error(h, &ei), 0);
	emit_n(h, 3);
	assert_int_equal(atc_flush(h, 2000), ATC_OK);
	expect_stats(h, "rejected=1 acked=2 fallback=0");
	/* The agent's refusal reaches the caller: code, event, its message. */
	assert_int_equal(atc_last_error(h, &ei), 1);
	assert_int_equal(ei.err, ATC_E_SCHEMA);
	assert_string_equal(ei.code, "unknown_event");
	assert_string_equal(ei.event_id, "tool_call");
	assert_int_equal(ei.refused, 1);
	assert_int_equal(atc_close(h), ATC_OK);
	fake_stop(agent);
	assert_int_equal(fallback_records(NULL, NULL), 0);
}

static void
test_busy_goes_to_fallback(void **state)
{
	struct atc		*h;
	pid_t			 agent;

	(void)state;
	agent = fake_start(FA_BUSY, 0);
	h = open_handle(ATC_F_NO_SPAWN, 100);
	emit_n(h, 2);
	assert_int_equal(atc_flush(h, 2000), ATC_OK);
	expect_stats(h, "rejected=0 acked=1 fallback=1");
	assert_int_equal(atc_close(h), ATC_OK);
	fake_stop(agent);
	assert_int_equal(fallback_records(NULL, NULL), 1);
}

/*
 * An event that went to the fallback while no agent answered is made
 * ready by the next atc_flush() once an agent answers (it came up, or
 * this process spawned it), even when nothing else was emitted since.
 */
static void
test_flush_hands_fallback_to_agent(void **state)
{
	struct atc	*h;
	pid_t		 agent;
	char		 qdir[512];

	(void)state;
	snprintf(qdir, sizeof(qdir), "%s/telemetry/queue", home);
	h = open_handle(ATC_F_NO_SPAWN, 100);
	emit_n(h, 1);			/* no agent: fallback, still ours */
	assert_int_equal(atc_flush(h, 100), ATC_OK);
	assert_int_equal(count_files(qdir, ".partial"), 1);
	agent = fake_start(FA_ACK, 0);
	usleep(1100 * 1000);		/* past the reconnect rate limit */
	assert_int_equal(atc_flush(h, 1000), ATC_OK);
	/* Ready for the agent while the handle is still open. */
	assert_int_equal(count_files(qdir, ".ndjson"), 1);
	assert_int_equal(count_files(qdir, ".partial"), 0);
	assert_int_equal(atc_close(h), ATC_OK);
	fake_stop(agent);
	assert_int_equal(fallback_records(NULL, NULL), 1);
}

/*
 * Events the queue budget deletes to make room for this process's own
 * fallback writes are lost to it: atc_stats.lost counts them.
 */
static void
test_budget_evictions_are_lost(void **state)
{
	struct atc		*h;
	struct atc_stats	 st;
	char			 qdir[512], path[1024];
	int			 i, k, fd;

	(void)state;
	snprintf(qdir, sizeof(qdir), "%s/telemetry", home);
	assert_int_equal(mkdir(qdir, 0700), 0);
	snprintf(qdir, sizeof(qdir), "%s/telemetry/queue", home);
	assert_int_equal(mkdir(qdir, 0700), 0);
	/*
	 * The file cap is full: 50 ready segments of 251 records, too full
	 * to be merged with each other (small ones would be merged, not
	 * evicted: queue.c enforce_caps).
	 */
	for (i = 0; i < 50; i++) {
		snprintf(path, sizeof(path), "%s/20200101-0000%02d-00000000-0000-"
		    "4000-8000-0000000000%02d.ndjson", qdir, i, i);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		assert_true(fd >= 0);
		for (k = 0; k < 251; k++)
			assert_int_equal(write(fd, "{}\n", 3), 3);
		close(fd);
	}
	h = open_handle(ATC_F_NO_SPAWN, 100);
	emit_n(h, 500);		/* a whole fallback segment: it rolls */
	assert_int_equal(atc_flush(h, 100), ATC_OK);
	atc_get_stats(h, &st);
	assert_int_equal(st.fallback, 500);
	assert_int_equal(count_files(qdir, ".ndjson"), 50);
	assert_int_equal(st.lost, 251);	/* the oldest planted segment */
	assert_int_equal(atc_close(h), ATC_OK);
}

static void
test_reconnect(void **state)
{
	struct atc		*h;
	pid_t			 agent;

	(void)state;
	agent = fake_start(FA_ACK, 0);
	h = open_handle(ATC_F_NO_SPAWN, 100);
	emit_n(h, 1);
	assert_int_equal(atc_flush(h, 2000), ATC_OK);
	fake_stop(agent);		/* the agent restarts… */
	agent = fake_start(FA_ACK, 0);
	usleep(1100 * 1000);		/* …past the reconnect rate limit */
	emit_n(h, 2);
	assert_int_equal(atc_flush(h, 2000), ATC_OK);
	expect_stats(h, "reconnects=1 acked=3 fallback=0 lost=0");
	assert_int_equal(atc_close(h), ATC_OK);
	fake_stop(agent);
	assert_int_equal(log_count("A"), 2);
	assert_int_equal(fallback_records(NULL, NULL), 0);
}

static void
test_optout(void **state)
{
	struct atc		*h = NULL;
	struct atc_options	 o;
	const char		*reason = NULL;

	(void)state;
	setenv("ATOMCODE_TELEMETRY", "0", 1);
	memset(&o, 0, sizeof(o));
	assert_int_equal(atc_open(&o, &h), ATC_OK);
	assert_non_null(h);
	assert_false(atc_enabled(h, &reason));
	assert_string_equal(reason, "env:ATOMCODE_TELEMETRY=0");
	assert_int_equal(atc_emit(h, "open_atomcode", NULL), ATC_E_DISABLED);
	assert_int_equal(atc_emit_raw(h, "{}", 2), ATC_E_DISABLED);
	assert_int_equal(atc_set_mode(h, "tui"), ATC_OK);
	assert_int_equal(atc_flush(h, 100), ATC_OK);
	assert_int_equal(atc_close(h), ATC_OK);
	unsetenv("ATOMCODE_TELEMETRY");
	/* Nothing was created: no device_id, socket, lock or queue. */
	assert_int_equal(count_files(home, ""), 0);

	/* --no-telemetry of this invocation. */
	memset(&o, 0, sizeof(o));
	o.no_telemetry = 1;
	assert_int_equal(atc_open(&o, &h), ATC_OK);
	assert_false(atc_enabled(h, &reason));
	assert_string_equal(reason, "cli:--no-telemetry");
	assert_int_equal(atc_close(h), ATC_OK);
	assert_int_equal(count_files(home, ""), 0);
}

static void
test_sudo_creates_nothing(void **state)
{
	struct atc		*h;

	(void)state;
	env_test_hooks.sudo = 1;
	setenv("ATOMCODE_TELEMETRYD", "/nonexistent", 1);
	/* Spawning is allowed, but never under sudo. */
	h = open_handle(0, 100);
	assert_int_equal(atc_emit(h, "open_atomcode", NULL), ATC_E_IO);
	assert_int_equal(atc_flush(h, 100), ATC_OK);
	expect_stats(h, "lost=1 fallback=0 spawns=0");
	assert_int_equal(atc_close(h), ATC_OK);
	assert_int_equal(count_files(home, ""), 0);
}

static void
test_no_agent_fallback(void **state)
{
	struct atc		*h;
	char			 qdir[512];

	(void)state;
	h = open_handle(ATC_F_NO_SPAWN, 100);
	emit_n(h, 3);
	assert_int_equal(atc_emit_raw(h, "{\"op\":\"flush\"}", 14),
	    ATC_E_SCHEMA);
	expect_stats(h, "fallback=3 buffered=0 spawns=0");
	assert_int_equal(atc_close(h), ATC_OK);
	assert_int_equal(fallback_records(NULL, NULL), 3);
	snprintf(qdir, sizeof(qdir), "%s/telemetry/queue", home);
	assert_int_equal(count_files(qdir, ".ndjson"), 1);
	assert_int_equal(count_files(qdir, ".partial"), 0);
	assert_int_equal(count_files(home, "device_id"), 1);
	assert_int_equal(count_files(home, ".sock"), 0);
	assert_int_equal(count_files(home, ".lock"), 0);	/* NO_SPAWN */
}

static int	mark_duration(const char *, size_t, void *);

/*
 * A fallback segment that fills up inside an emit is finished (fsync +
 * rename) at the next flush, never inside the emit; a process that dies
 * before leaves managed partials that recovery promotes, nothing lost.
 */
static void
test_fallback_roll_deferred(void **state)
{
	struct atc		*h;
	struct queue		*q;
	char			 qdir[512], cause[256];
	pid_t			 pid;
	int			 status;
	static int		 seen[3000];
	int			 i;

	(void)state;
	snprintf(qdir, sizeof(qdir), "%s/telemetry/queue", home);
	h = open_handle(ATC_F_NO_AGENT, 100);
	emit_n(h, 1200);	/* two full segments and 200 more */
	assert_int_equal(count_files(qdir, ".ndjson"), 0);
	assert_int_equal(count_files(qdir, ".partial"), 3);
	assert_int_equal(atc_flush(h, 100), ATC_OK);
	assert_int_equal(count_files(qdir, ".ndjson"), 2);
	assert_int_equal(count_files(qdir, ".partial"), 1);	/* active */
	assert_int_equal(atc_close(h), ATC_OK);
	assert_int_equal(count_files(qdir, ".ndjson"), 3);
	assert_int_equal(count_files(qdir, ".partial"), 0);
	assert_int_equal(fallback_records(NULL, NULL), 1200);

	/* A process that dies with deferred segments. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		h = open_handle(ATC_F_NO_AGENT, 100);
		for (i = 0; i < 1100; i++) {
			char p[64];

			snprintf(p, sizeof(p), "{\"name\":\"read\",\"success\":"
			    "true,\"duration_ms\":%d}", 1200 + i);
			if (atc_emit(h, "tool_call", p) != ATC_OK)
				_exit(1);
		}
		_exit(0);	/* no flush, no close */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(count_files(qdir, ".partial"), 3);
	assert_int_equal(queue_open(qdir, 0, &q, cause, sizeof(cause)), 0);
	queue_close(q);
	assert_int_equal(count_files(qdir, ".partial"), 0);
	memset(seen, 0, sizeof(seen));
	assert_int_equal(fallback_records(mark_duration, seen), 2300);
	for (i = 0; i < 2300; i++)
		if (seen[i] != 1)
			fail_msg("event %d stored %d times", i, seen[i]);
}

static int
mark_duration(const char *line, size_t len, void *arg)
{
	json_t	*j;
	int	*seen = arg, d;

	j = json_loadb(line, len, 0, NULL);
	assert_non_null(j);
	d = (int)json_integer_value(json_object_get(j, "duration_ms"));
	assert_true(d >= 0 && d < 3000);
	seen[d]++;
	json_decref(j);
	return 0;
}

/* A burst larger than the ring: nothing lost, nothing stored twice. */
static void
test_burst_bounded(void **state)
{
	struct atc		*h;
	pid_t			 agent;
	static int		 seen[3000];
	char			*ev;
	int			 i, nev;

	(void)state;
	memset(seen, 0, sizeof(seen));
	agent = fake_start(FA_ACK, 0);
	h = open_handle(ATC_F_NO_SPAWN, 100);
	emit_n(h, 3000);
	assert_int_equal(atc_flush(h, 5000), ATC_OK);
	expect_stats(h, "acked+fallback=3000 lost=0");
	assert_int_equal(atc_close(h), ATC_OK);
	fake_stop(agent);
	nev = log_count("E ");
	for (i = 0; i < nev; i++) {
		ev = log_line("E ", i);
		mark_duration(ev, strlen(ev), seen);
		free(ev);
	}
	fallback_records(mark_duration, seen);
	for (i = 0; i < 3000; i++)
		if (seen[i] != 1)
			fail_msg("event %d stored %d times", i, seen[i]);
}

/*
 * An emit is one sendmsg(2): below half a ring of unconfirmed events the
 * shim asks for no ack (the agent acks on its own after every write), so
 * 500 events cost the hello and the one flush of atc_close().
 */
static void
test_no_flush_per_batch(void **state)
{
	struct atc		*h;
	pid_t			 agent;

	(void)state;
	agent = fake_start(FA_ACK, 0);
	h = open_handle(ATC_F_NO_SPAWN, 2000);
	emit_n(h, 500);
	assert_int_equal(atc_close(h), ATC_OK);
	fake_stop(agent);
	assert_int_equal(log_count("E "), 500);
	/* hello + the flush of close */
	assert_int_equal(log_count("C "), 2);
	assert_int_equal(fallback_records(NULL, NULL), 0);
}

/* An agent that stops reading: emit never blocks, nothing is lost. */
static void
test_agent_not_reading(void **state)
{
	struct atc		*h;
	pid_t			 agent;
	static int		 seen[3000];
	int			 i;

	(void)state;
	memset(seen, 0, sizeof(seen));
	agent = fake_start(FA_STALL, 0);
	h = open_handle(ATC_F_NO_SPAWN, 100);
	emit_n(h, 3000);	/* would hang here if a send blocked */
	expect_stats(h, "buffered<=1024 fallback>=1976");	/* 3000 - 1024 */
	assert_int_equal(atc_close(h), ATC_OK);
	fake_stop(agent);
	assert_int_equal(log_count("E "), 0);
	recover_queue();
	assert_int_equal(fallback_records(mark_duration, seen), 3000);
	for (i = 0; i < 3000; i++)
		if (seen[i] != 1)
			fail_msg("event %d stored %d times", i, seen[i]);
}

/* An agent that reads but never confirms: the ring spills, never loses. */
static void
test_ring_full_noack(void **state)
{
	struct atc		*h;
	pid_t			 agent;

	(void)state;
	agent = fake_start(FA_NOACK, 0);
	h = open_handle(ATC_F_NO_SPAWN, 50);
	emit_n(h, 1100);
	expect_stats(h, "buffered<=1024 fallback>=76");	/* 1100 - 1024 */
	assert_int_equal(atc_close(h), ATC_OK);
	fake_stop(agent);
	recover_queue();
	assert_int_equal(fallback_records(NULL, NULL), 1100);
}

static void
test_arguments(void **state)
{
	struct atc		*h;
	struct atc_stats	 st;

	(void)state;
	assert_int_equal(atc_open(NULL, NULL), ATC_E_INVAL);
	assert_int_equal(atc_emit(NULL, "open_atomcode", NULL), ATC_E_INVAL);
	assert_int_equal(atc_close(NULL), ATC_OK);
	assert_int_equal(atc_flush(NULL, 1), ATC_E_INVAL);
	assert_false(atc_enabled(NULL, NULL));
	atc_get_stats(NULL, &st);
	assert_int_equal(st.emitted, 0);

	h = open_handle(ATC_F_NO_AGENT, 100);
	assert_int_equal(atc_emit(h, "", NULL), ATC_E_INVAL);
	assert_int_equal(atc_emit(h, "nope", NULL), ATC_E_SCHEMA);
	assert_int_equal(atc_emit(h, "tool_call", "{\"ts\":1}"), ATC_E_SCHEMA);
	assert_int_equal(atc_emit(h, "tool_call", "{\"name\":"), ATC_E_JSON);
	assert_int_equal(atc_emit(h, "tool_call", "[1]"), ATC_E_JSON);
	assert_int_equal(atc_emit_raw(h, "{", 1), ATC_E_JSON);
	assert_int_equal(atc_emit_raw(h, NULL, 0), ATC_E_INVAL);
	assert_int_equal(atc_set_mode(h, "bogus"), ATC_E_INVAL);
	assert_int_equal(atc_set_mode(h, "ide"), ATC_OK);
	assert_int_equal(atc_set_mode(h, NULL), ATC_OK);
	assert_int_equal(atc_set_session(h, "not-a-uuid"), ATC_E_INVAL);
	assert_int_equal(atc_set_session(h,
	    "0F8FAD5B-D9CB-469F-A165-70867728950E"), ATC_OK);
	assert_int_equal(atc_set_counters(h, 1, (int64_t)UINT32_MAX + 1, 1),
	    ATC_E_INVAL);
	assert_int_equal(atc_set_provider(h, "claude", NULL, "opus"), ATC_OK);
	assert_int_equal(atc_set_account(h, "7"), ATC_OK);
	assert_int_equal(atc_set_surface(h, "code_review"), ATC_OK);
	/* A schema-invalid raw record cannot reach the disk. */
	assert_int_equal(atc_emit_raw(h, "{\"event_id\":\"nope\"}", 19),
	    ATC_E_SCHEMA);
	assert_int_equal(atc_emit(h, "use_command", "{\"type\":\"help\"}"),
	    ATC_OK);
	expect_stats(h, "fallback=1 rejected=3");
	assert_int_equal(atc_close(h), ATC_OK);
	assert_int_equal(fallback_records(NULL, NULL), 1);
	assert_string_equal(atc_strerror(ATC_E_DISABLED),
	    "telemetry is disabled");
	assert_string_equal(atc_strerror((enum atc_err)99), "unknown error");
}

static int
check_session(const char *line, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	assert_non_null(strstr(line,
	    "\"session_id\":\"0f8fad5b-d9cb-469f-a165-70867728950e\""));
	assert_non_null(strstr(line,
	    "\"provider_host\":\"api.anthropic.com\""));
	return 0;
}

static void
test_setters_in_records(void **state)
{
	struct atc	*h;

	(void)state;
	h = open_handle(ATC_F_NO_AGENT, 100);
	assert_int_equal(atc_set_session(h,
	    "0F8FAD5B-D9CB-469F-A165-70867728950E"), ATC_OK);
	assert_int_equal(atc_set_provider(h, "claude", "not a url", "opus"),
	    ATC_OK);
	emit_n(h, 2);
	assert_int_equal(atc_close(h), ATC_OK);
	assert_int_equal(fallback_records(check_session, NULL), 2);
}

struct thread_arg {
	struct atc	*h;
	int		 base;
	int		 errors;
};

static void *
emitter(void *p)
{
	struct thread_arg	*a = p;
	char			 payload[64];
	int			 i;

	for (i = 0; i < PER_THREAD; i++) {
		snprintf(payload, sizeof(payload), "{\"name\":\"t\","
		    "\"success\":true,\"duration_ms\":%d}", a->base + i);
		if (atc_emit(a->h, "tool_call", payload) != ATC_OK)
			a->errors++;
		if (i % 100 == 0)
			atc_set_counters(a->h, a->base, i, -1);
	}
	return NULL;
}

/* One handle, several threads: every event stored exactly once. */
static void
test_threads(void **state)
{
	struct thread_arg	 args[THREADS];
	pthread_t		 t[THREADS];
	struct atc		*h;
	struct atc_stats	 st;
	pid_t			 agent;
	static int		 seen[3000];
	char			*ev;
	int			 i, nev;

	(void)state;
	memset(seen, 0, sizeof(seen));
	agent = fake_start(FA_ACK, 0);
	h = open_handle(ATC_F_NO_SPAWN, 100);
	for (i = 0; i < THREADS; i++) {
		args[i].h = h;
		args[i].base = i * PER_THREAD;
		args[i].errors = 0;
		assert_int_equal(pthread_create(&t[i], NULL, emitter,
		    &args[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(args[i].errors, 0);
	}
	assert_int_equal(atc_flush(h, 5000), ATC_OK);
	atc_get_stats(h, &st);
	assert_int_equal(st.emitted, THREADS * PER_THREAD);
	assert_int_equal(st.acked + st.fallback, THREADS * PER_THREAD);
	assert_int_equal(atc_close(h), ATC_OK);
	fake_stop(agent);
	nev = log_count("E ");
	for (i = 0; i < nev; i++) {
		ev = log_line("E ", i);
		mark_duration(ev, strlen(ev), seen);
		free(ev);
	}
	fallback_records(mark_duration, seen);
	for (i = 0; i < THREADS * PER_THREAD; i++)
		if (seen[i] != 1)
			fail_msg("event %d stored %d times", i, seen[i]);
}

static void
test_spawn_program(void **state)
{
	char	out[4096], want[4096];

	(void)state;
	assert_non_null(realpath("/bin/sh", want));
	setenv("ATOMCODE_TELEMETRYD", "/bin/sh", 1);
	assert_int_equal(spawn_program(out, sizeof(out)), 0);
	assert_string_equal(out, want);
	setenv("ATOMCODE_TELEMETRYD", "sh", 1);		/* a name: $PATH */
	assert_int_equal(spawn_program(out, sizeof(out)), 0);
	assert_true(out[0] == '/');
	setenv("ATOMCODE_TELEMETRYD", "./no/such/agent", 1);
	assert_int_equal(spawn_program(out, sizeof(out)), -1);
	setenv("ATOMCODE_TELEMETRYD", "no-such-agent-xyz", 1);
	assert_int_equal(spawn_program(out, sizeof(out)), -1);
	/* Not executable. */
	setenv("ATOMCODE_TELEMETRYD", "/etc/passwd", 1);
	assert_int_equal(spawn_program(out, sizeof(out)), -1);
	assert_int_equal(spawn_program(out, 4), -1);
	setenv("ATOMCODE_TELEMETRYD", "/bin/false", 1);
}

/* The spawned fake agent (this binary, exec'd by spawn.c). */
static int
spawned_agent(void)
{
	const char	*lk = getenv("ATOMCODE_LOCK_FD");
	const char	*dir = getenv("ATOMCODE_HOME");
	struct stat	 nul, sb;
	char		 path[512], tmp[512], cwd[64], why[128] = "ok";
	int		 fd, i;

	if (lk == NULL || strcmp(lk, "3") != 0)
		snprintf(why, sizeof(why), "ATOMCODE_LOCK_FD=%s", lk ? lk : "");
	else if (fcntl(3, F_GETFD) != 0)
		snprintf(why, sizeof(why), "fd 3 missing or close-on-exec");
	else if (flock(3, LOCK_EX | LOCK_NB) == -1)
		snprintf(why, sizeof(why), "fd 3 is not the held lock");
	else if (getcwd(cwd, sizeof(cwd)) == NULL || strcmp(cwd, "/") != 0)
		snprintf(why, sizeof(why), "cwd is not /");
	else if (getenv("LISTEN_FDS") != NULL)
		snprintf(why, sizeof(why), "LISTEN_FDS inherited");
	else if (getsid(0) == getpid())
		snprintf(why, sizeof(why), "session leader");
	stat("/dev/null", &nul);
	for (i = 0; i <= 2; i++)
		if (fstat(i, &sb) == -1 || sb.st_rdev != nul.st_rdev)
			snprintf(why, sizeof(why), "fd %d is not /dev/null", i);
	for (i = 4; i < 64; i++)
		if (fcntl(i, F_GETFD) != -1)
			snprintf(why, sizeof(why), "fd %d inherited", i);
	/* Write, then rename: the marker appears complete. */
	snprintf(tmp, sizeof(tmp), "%s/tmp.%ld", dir ? dir : "/tmp",
	    (long)getpid());
	snprintf(path, sizeof(path), "%s/spawned.%ld", dir ? dir : "/tmp",
	    (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd != -1) {
		dprintf(fd, "%s\n", why);
		close(fd);
		rename(tmp, path);
	}
	usleep(SPAWNED_LIFE_MS * 1000);
	return 0;
}

/* Files named spawned.<pid> in home: agents this test's shims started. */
static int
count_files_prefix(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir(home)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "spawned.", 8) == 0)
			n++;
	closedir(d);
	return n;
}

/* Wait until n spawn markers exist (bounded). Returns how many there are. */
static int
wait_markers(int n)
{
	uint64_t	t0 = tl_now_ms();
	int		c;

	while ((c = count_files_prefix()) < n && tl_now_ms() - t0 < 5000)
		usleep(20 * 1000);
	return c;
}

static void
kill_spawned(void)
{
	DIR		*d;
	struct dirent	*de;
	long		 pid;

	if ((d = opendir(home)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "spawned.", 8) == 0 &&
		    (pid = strtol(de->d_name + 8, NULL, 10)) > 1)
			kill((pid_t)pid, SIGKILL);
	closedir(d);
}

static char *
marker_text(void)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[600], *s = NULL;
	FILE		*f;
	size_t		 cap = 0;

	if ((d = opendir(home)) == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "spawned.", 8) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", home, de->d_name);
		if ((f = fopen(path, "r")) != NULL) {
			if (getline(&s, &cap, f) == -1) {
				free(s);
				s = NULL;
			}
			fclose(f);
		}
		break;
	}
	closedir(d);
	return s;
}

static void
use_self_as_agent(void)
{
	char	self[512];
	ssize_t	n;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(n > 0);
	self[n] = '\0';
	setenv("ATOMCODE_TELEMETRYD", self, 1);
	setenv("ATC_TEST_FAKE_AGENT", "1", 1);
}

static void
test_spawn_once(void **state)
{
	struct atc		*h;
	char			 lock[512], *m;
	int			 lk;

	(void)state;
	use_self_as_agent();
	/* Lock busy: an agent is starting; no spawn. */
	snprintf(lock, sizeof(lock), "%s/telemetry.lock", home);
	lk = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_true(lk >= 0);
	assert_int_equal(flock(lk, LOCK_EX | LOCK_NB), 0);
	h = open_handle(0, 100);
	emit_n(h, 1);
	expect_stats(h, "spawns=0 fallback=1");
	assert_int_equal(atc_close(h), ATC_OK);
	close(lk);

	/* Lock free: exactly one spawn, and the emit went to fallback. */
	h = open_handle(0, 100);
	emit_n(h, 1);
	expect_stats(h, "spawns=1 fallback=1");
	assert_int_equal(atc_close(h), ATC_OK);
	assert_int_equal(wait_markers(1), 1);
	m = marker_text();
	assert_non_null(m);
	assert_string_equal(m, "ok\n");
	free(m);
	/* The agent holds the lock it was handed. */
	lk = open(lock, O_RDWR | O_CLOEXEC);
	assert_true(lk >= 0);
	assert_int_equal(flock(lk, LOCK_EX | LOCK_NB), -1);
	close(lk);
	kill_spawned();
	unsetenv("ATC_TEST_FAKE_AGENT");
}

static void
test_spawn_race(void **state)
{
	struct atc		*h;
	struct atc_stats	 st;
	pid_t			 pids[RACERS];
	int			 i, status, spawned = 0, pipefd[2];
	char			 go;

	(void)state;
	use_self_as_agent();
	assert_int_equal(pipe(pipefd), 0);
	for (i = 0; i < RACERS; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			close(pipefd[1]);
			if (read(pipefd[0], &go, 1) != 0)
				_exit(9);
			h = NULL;
			if (atc_open(NULL, &h) != ATC_OK)
				_exit(10);
			atc_emit(h, "open_atomcode", NULL);
			atc_get_stats(h, &st);
			atc_close(h);
			_exit(st.spawns == 1 ? 1 : 0);
		}
	}
	close(pipefd[0]);
	close(pipefd[1]);	/* everyone starts at once */
	for (i = 0; i < RACERS; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_true(WEXITSTATUS(status) <= 1);
		spawned += WEXITSTATUS(status);
	}
	assert_int_equal(spawned, 1);
	assert_int_equal(wait_markers(1), 1);
	usleep(200 * 1000);
	assert_int_equal(count_files_prefix(), 1);
	kill_spawned();
	unsetenv("ATC_TEST_FAKE_AGENT");
	/* Nothing lost: every racer's event is in a fallback segment. */
	assert_int_equal(fallback_records(NULL, NULL), RACERS);
}

/* A fallback segment whose fsync fails: flush and close say so. */
static void
test_fallback_sync_error(void **state)
{
	struct atc		*h;
	struct atc_error_info	 le;

	(void)state;
	h = open_handle(ATC_F_NO_AGENT, 100);
	emit_n(h, 600);		/* one full segment, finished at flush */
	fail_sync = 1;
	assert_int_equal(atc_flush(h, 100), ATC_E_IO);
	memset(&le, 0, sizeof(le));
	le.size = sizeof(le);
	assert_int_equal(atc_last_error(h, &le), 1);
	assert_int_equal(le.err, ATC_E_IO);
	assert_string_equal(le.code, "storage");
	assert_non_null(strstr(le.rule, "synced"));
	assert_non_null(strstr(le.rule, strerror(EIO)));
	emit_n(h, 3);
	assert_int_equal(atc_close(h), ATC_E_IO);	/* the active one */
	fail_sync = 0;
	/* Left as managed partials: recovery still promotes them. */
	recover_queue();
	assert_int_equal(fallback_records(NULL, NULL), 603);
}

/*
 * An agent that cannot write (a read-only disk) and a fallback that cannot
 * either: the library says both, not "no agent".
 */
static void
test_agent_storage_error_reason(void **state)
{
	struct atc		*h;
	struct atc_error_info	 le;
	char			 qdir[512];
	pid_t			 agent;
	int			 fd;

	(void)state;
	/* A file where the queue directory should be: no fallback. */
	snprintf(qdir, sizeof(qdir), "%s/telemetry", home);
	assert_int_equal(mkdir(qdir, 0700), 0);
	snprintf(qdir, sizeof(qdir), "%s/telemetry/queue", home);
	fd = open(qdir, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	agent = fake_start(FA_STORAGE, 0);
	h = open_handle(ATC_F_NO_SPAWN, 100);
	emit_n(h, 2);
	assert_int_equal(atc_flush(h, 500), ATC_E_IO);
	expect_stats(h, "lost=2");
	memset(&le, 0, sizeof(le));
	le.size = sizeof(le);
	assert_int_equal(atc_last_error(h, &le), 1);
	assert_int_equal(le.err, ATC_E_IO);
	assert_string_equal(le.code, "storage");
	assert_non_null(strstr(le.rule, "the agent could not store it"));
	assert_non_null(strstr(le.rule, "Read-only file system"));
	assert_non_null(strstr(le.rule, "fallback queue"));
	assert_null(strstr(atc_strerror(ATC_E_IO), "no agent"));
	atc_close(h);
	fake_stop(agent);
}

/* The takeover marker of the connection the fake agent logged. */
static int
takeover_marker(char *target, size_t len)
{
	char		 qdir[512], path[1024], *hello, *nq;
	ssize_t		 n;

	snprintf(qdir, sizeof(qdir), "%s/telemetry/queue", home);
	if ((hello = log_line("C ", 0)) == NULL ||
	    (nq = strstr(hello, "\"nonce\":\"")) == NULL) {
		free(hello);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%.32s.takeover", qdir, nq + 9);
	free(hello);
	if ((n = readlink(path, target, len - 1)) == -1)
		return -1;
	target[n] = '\0';
	return 0;
}

/*
 * Stall duplicates: a close that gives up on a connected agent takes its
 * unconfirmed events over with a marker, so an agent that resumes skips
 * them (the hello carries the nonce that names the marker).
 */
static void
test_takeover_client_wins(void **state)
{
	struct atc	*h;
	char		 target[64];
	pid_t		 agent;

	(void)state;
	agent = fake_start(FA_NOACK, 0);
	h = open_handle(ATC_F_NO_SPAWN, 100);
	emit_n(h, 5);
	assert_int_equal(atc_close(h), ATC_OK);
	fake_stop(agent);
	assert_int_equal(log_count("E "), 5);
	assert_int_equal(takeover_marker(target, sizeof(target)), 0);
	assert_string_equal(target, "client:1-5");
	recover_queue();
	assert_int_equal(fallback_records(NULL, NULL), 5);
}

/* The agent claimed the connection first: the library keeps no copy. */
static void
test_takeover_agent_wins(void **state)
{
	struct atc		*h;
	struct atc_stats	 st;
	char			 target[64], qdir[512];
	pid_t			 agent;

	(void)state;
	snprintf(qdir, sizeof(qdir), "%s/telemetry", home);
	assert_int_equal(mkdir(qdir, 0700), 0);
	snprintf(qdir, sizeof(qdir), "%s/telemetry/queue", home);
	assert_int_equal(mkdir(qdir, 0700), 0);
	agent = fake_start(FA_CLAIM, 0);
	h = open_handle(ATC_F_NO_SPAWN, 100);
	emit_n(h, 5);
	assert_int_equal(atc_flush(h, 100), ATC_OK);
	atc_get_stats(h, &st);
	assert_int_equal(st.acked, 5);		/* the agent keeps them */
	assert_int_equal(st.fallback, 0);
	assert_int_equal(st.lost, 0);
	assert_int_equal(atc_close(h), ATC_OK);
	fake_stop(agent);
	assert_int_equal(takeover_marker(target, sizeof(target)), 0);
	assert_string_equal(target, "agent");
	recover_queue();
	assert_int_equal(fallback_records(NULL, NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_acked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_takeover_client_wins, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_takeover_agent_wins, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fallback_sync_error, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_agent_storage_error_reason,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_golden_e2e, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_noack_close_bound, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_agent_dies, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy_goes_to_fallback,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_hands_fallback_to_agent,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_flush_hands_fallback_to_agent, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_budget_evictions_are_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconnect, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_optout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sudo_creates_nothing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_agent_fallback, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fallback_roll_deferred,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_flush_per_batch, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_burst_bounded, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ring_full_noack, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_agent_not_reading, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_arguments, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_setters_in_records, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spawn_program, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_spawn_once, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_spawn_race, setup,
		    teardown),
	};

	/* Started by the shim's auto-spawn as the "agent". */
	if (getenv("ATC_TEST_FAKE_AGENT") != NULL)
		return spawned_agent();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
