/*
 * cli.c — atomcode-telemetry, the command behind `atomcode telemetry …`:
 * argument parsing and the subcommands. Output formats are DESIGN §9
 * (upstream-compatible); status rendering lives in cli_status.c. Errors go
 * to stderr with a non-zero exit. Only `emit` and `disable` may start an
 * agent; nothing here blocks for longer than its documented bound.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "atomcode/telemetry.h"
#include "cli.h"
#include "config.h"
#include "frame.h"
#include "notice.h"
#include "paths.h"
#include "queue.h"
#include "sock.h"

#define CLI_LINE_MAX	(FRAME_MAX + 2)	/* longest record line for emit --raw */

int	cli_no_telemetry;

static void
cli_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: atomcode-telemetry [--no-telemetry] COMMAND [ARGS]\n"
	    "\n"
	    "  status [--json]            telemetry state, queue, agent\n"
	    "  enable | disable           opt in / out (edits config.toml)\n"
	    "  dump [--last N] [--pretty] print the last N queued records\n"
	    "  clear                      delete queued records\n"
	    "  recover                    recover legacy partial segments\n"
	    "  check                      verify every queued segment\n"
	    "  flush [--wait]             ask the agent to upload now\n"
	    "  emit EVENT_ID [--payload JSON] [--mode M] [--app-version V]"
	    " [--cwd DIR]\n"
	    "  emit --raw                 send records from stdin, one per line\n"
	    "  view [--last N] [-o FILE] [--open | --serve]\n"
	    "                             an HTML page of what is collected\n"
	    "  version\n");
}

/* Open the queue if its directory exists; 0 ok, 1 absent, -1 error. */
int
cli_queue_open(const struct paths *p, int flags, struct queue **q)
{
	struct stat	st;
	char		cause[512];

	if (lstat(p->queue, &st) == -1 && errno == ENOENT)
		return 1;
	if (queue_open(p->queue, flags, q, cause, sizeof cause) == -1) {
		fprintf(stderr, "atomcode-telemetry: %s\n", cause);
		return -1;
	}
	return 0;
}

/*
 * Show the first-run notice on stderr if telemetry is enabled for this
 * invocation and nobody has shown it yet (commands that may send without a
 * library handle: enable, flush).
 */
static void
cli_notice(const struct paths *p)
{
	struct tconfig	cfg;
	struct optout	o;

	if (config_read(p->config, &cfg) == -1)
		return;
	optout_resolve(&cfg, cli_no_telemetry, &o);
	if (o.enabled && notice_take(p, p->sudo) != NOTICE_NONE)
		fputs(NOTICE_TEXT, stderr);
}

/* Read exactly one frame from a blocking socket into out (payload only). */
static int
cli_read_frame(int fd, struct buf *out, int timeout_ms)
{
	unsigned char	 hdr[FRAME_HDR];
	size_t		 want, got = 0;
	ssize_t		 n;
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	int		 phase;

	for (phase = 0; phase < 2; phase++) {
		want = phase == 0 ? FRAME_HDR :
		    ((size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 |
		    (size_t)hdr[2] << 8 | hdr[3]);
		if (phase == 1) {
			if (want == 0 || want > FRAME_MAX)
				return -1;
			out->len = 0;
			if (buf_reserve(out, want) == -1)
				return -1;
		}
		got = 0;
		while (got < want) {
			if (poll(&pfd, 1, timeout_ms) <= 0)
				return -1;
			n = read(fd, phase == 0 ? (char *)hdr + got :
			    out->data + got, want - got);
			if (n <= 0)
				return -1;
			got += (size_t)n;
		}
		if (phase == 1) {
			out->len = want;
			out->data[want] = '\0';
		}
	}
	return 0;
}

/*
 * Send one control request to a running agent and return its reply (caller
 * decrefs). Never spawns. Returns NULL with *running = 0 when no agent
 * answers, or NULL with *running = 1 on a protocol error/timeout.
 */
json_t *
cli_request(const struct paths *p, json_t *req, int timeout_ms, int *running)
{
	struct buf	 out = { 0 }, in = { 0 };
	json_t		*hello, *reply = NULL;
	const char	*op, *rop;
	char		*s, cwd[PATHS_MAX];
	uid_t		 uid;
	int		 fd, i;

	*running = 0;
	if ((fd = sock_connect_blocking(p->sock)) == -1)
		return NULL;
	if (sock_peer_uid(fd, &uid) == -1 || (uid != getuid() && uid != 0)) {
		close(fd);
		return NULL;
	}
	*running = 1;
	if (getcwd(cwd, sizeof cwd) == NULL)
		cwd[0] = '\0';
	hello = json_pack("{s:s, s:i, s:s, s:I}", "op", "hello", "proto",
	    PROTO_VERSION, "client", "atomcode-telemetry-cli/" ATC_VERSION,
	    "pid", (json_int_t)getpid());
	s = json_dumps(hello, JSON_COMPACT);
	frame_encode(&out, s, strlen(s));
	free(s);
	json_decref(hello);
	s = json_dumps(req, JSON_COMPACT);
	frame_encode(&out, s, strlen(s));
	free(s);
	op = json_string_value(json_object_get(req, "op"));
	if (send(fd, out.data, out.len, MSG_NOSIGNAL) != (ssize_t)out.len)
		goto done;
	for (i = 0; i < 16; i++) {
		if (cli_read_frame(fd, &in, timeout_ms) == -1)
			break;
		json_decref(reply);
		if ((reply = json_loadb(in.data, in.len, 0, NULL)) == NULL)
			break;
		rop = json_string_value(json_object_get(reply, "op"));
		if (rop != NULL && op != NULL && (strcmp(rop, op) == 0 ||
		    strcmp(rop, "error") == 0))
			goto done;
	}
	json_decref(reply);
	reply = NULL;
done:
	close(fd);
	buf_free(&out);
	buf_free(&in);
	return reply;
}

/* Print one dumped line, raw or pretty (2-space indent, sorted keys). */
static int
cli_dump_line(const char *line, size_t len, void *arg)
{
	int	 pretty = *(int *)arg;
	json_t	*v;
	char	*s;

	if (!pretty) {
		fwrite(line, 1, len, stdout);
		fputc('\n', stdout);
		return 0;
	}
	if ((v = json_loadb(line, len, 0, NULL)) == NULL) {
		fwrite(line, 1, len, stdout);
		fputc('\n', stdout);
		return 0;
	}
	s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(v);
	if (s != NULL) {
		fputs(s, stdout);
		fputc('\n', stdout);
		free(s);
	}
	return 0;
}

struct dump_count {
	int	pretty;
	int	n;
};

static int
cli_dump_counted(const char *line, size_t len, void *arg)
{
	struct dump_count	*dc = arg;

	dc->n++;
	return cli_dump_line(line, len, &dc->pretty);
}

static int
cmd_dump(const struct paths *p, int argc, char **argv)
{
	struct queue		*q;
	struct dump_count	 dc = { 0, 0 };
	long			 last = 50;
	char			*end;
	int			 i, r;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--pretty") == 0)
			dc.pretty = 1;
		else if (strcmp(argv[i], "--last") == 0 && i + 1 < argc) {
			errno = 0;
			last = strtol(argv[++i], &end, 10);
			if (errno != 0 || *end != '\0' || last < 0 ||
			    last > 100000000) {
				fprintf(stderr, "atomcode-telemetry: --last takes"
				    " a number >= 0\n");
				return 2;
			}
		} else {
			fprintf(stderr, "atomcode-telemetry: dump: unknown"
			    " argument %s\n", argv[i]);
			return 2;
		}
	}
	/* A reader: no recovery, no caps, no repair (nothing is written). */
	if ((r = cli_queue_open(p, QUEUE_O_RDONLY, &q)) == 1) {
		printf("(no queued events)\n");
		return 0;
	}
	if (r == -1)
		return 1;
	if (last > 0 && queue_dump(q, (unsigned)last, cli_dump_counted,
	    &dc) == -1) {
		fprintf(stderr, "atomcode-telemetry: cannot read the queue: %s\n",
		    strerror(errno));
		queue_close(q);
		return 1;
	}
	queue_close(q);
	if (dc.n == 0 && last > 0)
		printf("(no queued events)\n");
	return 0;
}

static int
cmd_clear(const struct paths *p)
{
	struct queue	*q;
	unsigned	 removed = 0, skipped = 0;
	int		 r, saved;

	if ((r = cli_queue_open(p, QUEUE_O_NORECOVER, &q)) == 1) {
		printf("(already empty)\n");
		return 0;
	}
	if (r == -1)
		return 1;
	r = queue_clear(q, &removed, &skipped);
	saved = errno;
	queue_close(q);
	if (r == -1) {
		fprintf(stderr, "atomcode-telemetry: clear: %s\n",
		    strerror(saved));
		return 1;
	}
	if (skipped > 0)
		printf("Queue cleared (%u file(s) removed, %u active file(s)"
		    " skipped).\n", removed, skipped);
	else
		printf("Queue cleared (%u file(s) removed).\n", removed);
	return 0;
}

static int
cmd_recover(const struct paths *p)
{
	struct queue		*q;
	struct queue_recovery	 rec;
	int			 r, saved;

	if ((r = cli_queue_open(p, QUEUE_O_NORECOVER, &q)) == 1) {
		printf("(no legacy telemetry segments)\n");
		return 0;
	}
	if (r == -1)
		return 1;
	memset(&rec, 0, sizeof rec);
	r = queue_recover(q, 1, &rec);
	saved = errno;
	queue_close(q);
	if (r == -1) {
		fprintf(stderr, "atomcode-telemetry: recover: %s\n",
		    strerror(saved));
		return 1;
	}
	printf("Recovered %u legacy telemetry segment(s).\n",
	    rec.legacy_promoted);
	return 0;
}

static void
cli_check_bad(const char *file, unsigned line, const char *why, void *arg)
{
	printf("%s:%u: %s\n", file, line, why);
}

static int
cmd_check(const struct paths *p)
{
	struct stat	st;
	unsigned	nfiles = 0, nbad = 0;

	if (lstat(p->queue, &st) == -1 && errno == ENOENT) {
		printf("(no queue)\n");
		return 0;
	}
	if (queue_check(p->queue, cli_check_bad, NULL, &nfiles, &nbad) == -1) {
		fprintf(stderr, "atomcode-telemetry: check: %s: %s\n", p->queue,
		    strerror(errno));
		return 1;
	}
	printf("%u file(s) checked, %u bad line(s)\n", nfiles, nbad);
	return nbad > 0 ? 1 : 0;
}

/* Tell a running agent to reload config (never spawns). */
static void
cli_reload_agent(const struct paths *p)
{
	json_t	*req, *rep;
	int	 running;

	req = json_pack("{s:s}", "op", "reload");
	rep = cli_request(p, req, 1000, &running);
	json_decref(req);
	json_decref(rep);
}

static int
cmd_enable(const struct paths *p)
{
	char	cause[1024];

	if (config_set_enabled(p->config, 1, cause, sizeof cause) == -1) {
		fprintf(stderr, "%s\n", cause);
		return 1;
	}
	cli_reload_agent(p);
	printf("Telemetry enabled.\n");
	fflush(stdout);
	cli_notice(p);
	return 0;
}

static int
cmd_disable(const struct paths *p)
{
	struct tconfig		 cfg;
	struct optout		 o;
	struct atc_options	 ao;
	struct atc		*h;
	json_t			*req, *rep;
	char			 cause[1024];
	int			 running;

	config_read(p->config, &cfg);
	optout_resolve(&cfg, cli_no_telemetry, &o);
	if (o.enabled) {
		/* Say goodbye first, and give it a bounded chance to go out. */
		memset(&ao, 0, sizeof ao);
		ao.app_version = ATC_VERSION;
		ao.flags = ATC_F_NO_REPO_ORIGIN;
		ao.close_timeout_ms = 500;
		if (atc_open(&ao, &h) == ATC_OK) {
			atc_emit(h, "telemetry_disabled", NULL);
			atc_close(h);
		}
		req = json_pack("{s:s, s:b}", "op", "upload", "wait", 1);
		rep = cli_request(p, req, 2000, &running);
		json_decref(req);
		json_decref(rep);
	}
	if (config_set_enabled(p->config, 0, cause, sizeof cause) == -1) {
		fprintf(stderr, "%s\n", cause);
		return 1;
	}
	cli_reload_agent(p);
	printf("Telemetry disabled. Queued events stay on disk and are not"
	    " uploaded (use `atomcode telemetry clear` to remove them).\n");
	return 0;
}

static int
cmd_flush(const struct paths *p, int argc, char **argv)
{
	json_t		*req, *rep;
	const char	*result, *err;
	int		 wait = argc > 1 && strcmp(argv[1], "--wait") == 0;
	int		 running, rc = 0;

	cli_notice(p);
	req = json_pack("{s:s, s:b}", "op", "upload", "wait", wait);
	rep = cli_request(p, req, wait ? 15000 : 2000, &running);
	json_decref(req);
	if (rep == NULL) {
		fprintf(stderr, "atomcode-telemetry: %s\n", running ?
		    "the agent did not answer" : "the agent is not running");
		return 1;
	}
	result = json_string_value(json_object_get(rep, "result"));
	err = json_string_value(json_object_get(rep, "error"));
	if (result == NULL) {
		fprintf(stderr, "atomcode-telemetry: flush: %s\n",
		    json_string_value(json_object_get(rep, "message")));
		rc = 1;
	} else {
		printf("Upload: %s", result);
		if (json_integer_value(json_object_get(rep, "status")) > 0)
			printf(" (HTTP %lld)", (long long)json_integer_value(
			    json_object_get(rep, "status")));
		if (err != NULL)
			printf(": %s", err);
		printf("\n");
		if (strcmp(result, "ok") != 0 && strcmp(result, "empty") != 0 &&
		    strcmp(result, "started") != 0)
			rc = 1;
	}
	json_decref(rep);
	return rc;
}

static int
cli_emit_report(struct atc *h, enum atc_err e, unsigned long lineno)
{
	if (e == ATC_OK)
		return 0;
	if (lineno > 0)
		fprintf(stderr, "atomcode-telemetry: line %lu: %s\n", lineno,
		    atc_strerror(e));
	else
		fprintf(stderr, "atomcode-telemetry: %s\n", atc_strerror(e));
	return 1;
}

static int
cmd_emit(int argc, char **argv)
{
	struct atc_options	 ao;
	struct atc_stats	 st;
	struct atc		*h;
	const char		*event = NULL, *payload = NULL;
	char			*line = NULL;
	size_t			 cap = 0;
	ssize_t			 n;
	unsigned long		 lineno = 0;
	char			 notice[ATC_NOTICE_MAX];
	int			 i, raw = 0, bad = 0;
	enum atc_err		 e;

	memset(&ao, 0, sizeof ao);
	ao.app_version = ATC_VERSION;
	ao.no_telemetry = cli_no_telemetry;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--raw") == 0)
			raw = 1;
		else if (strcmp(argv[i], "--payload") == 0 && i + 1 < argc)
			payload = argv[++i];
		else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc)
			ao.mode = argv[++i];
		else if (strcmp(argv[i], "--cwd") == 0 && i + 1 < argc)
			ao.cwd = argv[++i];
		else if (strcmp(argv[i], "--app-version") == 0 && i + 1 < argc)
			ao.app_version = argv[++i];
		else if (argv[i][0] != '-' && event == NULL)
			event = argv[i];
		else {
			fprintf(stderr, "atomcode-telemetry: emit: bad argument"
			    " %s\n", argv[i]);
			return 2;
		}
	}
	if (!raw && event == NULL) {
		fprintf(stderr, "atomcode-telemetry: emit: EVENT_ID or --raw"
		    " required\n");
		return 2;
	}
	if ((e = atc_open(&ao, &h)) != ATC_OK)
		return cli_emit_report(NULL, e, 0);
	if (!atc_enabled(h, NULL)) {
		const char *reason;

		atc_enabled(h, &reason);
		fprintf(stderr, "atomcode-telemetry: telemetry is disabled"
		    " (reason: %s); nothing sent\n", reason ? reason : "?");
		atc_close(h);
		return 0;
	}
	if (atc_first_run_notice(h, notice, sizeof notice) != ATC_E_INVAL)
		fputs(notice, stderr);
	if (raw) {
		while ((n = getline(&line, &cap, stdin)) != -1) {
			lineno++;
			while (n > 0 && (line[n - 1] == '\n' ||
			    line[n - 1] == '\r'))
				line[--n] = '\0';
			if (n == 0)
				continue;
			if (n > FRAME_MAX) {
				fprintf(stderr, "atomcode-telemetry: line %lu:"
				    " longer than %d bytes\n", lineno,
				    FRAME_MAX);
				bad = 1;
				continue;
			}
			bad |= cli_emit_report(h, atc_emit_raw(h, line,
			    (size_t)n), lineno);
		}
		free(line);
	} else
		bad |= cli_emit_report(h, atc_emit(h, event, payload), 0);
	atc_flush(h, 1000);
	atc_get_stats(h, &st);
	if (st.rejected > 0) {
		fprintf(stderr, "atomcode-telemetry: %llu event(s) rejected by"
		    " the agent\n", (unsigned long long)st.rejected);
		bad = 1;
	}
	if (st.lost > 0) {
		fprintf(stderr, "atomcode-telemetry: %llu event(s) could not be"
		    " stored\n", (unsigned long long)st.lost);
		bad = 1;
	}
	atc_close(h);
	return bad ? 1 : 0;
}

int
main(int argc, char **argv)
{
	struct paths	  p;
	char		 *args[64];
	int		  i, n = 0;

	/* --no-telemetry is global: accepted before or after the command. */
	for (i = 1; i < argc && n < 63; i++) {
		if (strcmp(argv[i], "--no-telemetry") == 0)
			cli_no_telemetry = 1;
		else
			args[n++] = argv[i];
	}
	args[n] = NULL;
	if (n == 0) {
		cli_usage(stderr);
		return 2;
	}
	if (paths_init(&p) == -1) {
		fprintf(stderr, "atomcode-telemetry: state path too long\n");
		return 1;
	}
	if (strcmp(args[0], "status") == 0)
		return cmd_status(&p, n, args);
	if (strcmp(args[0], "dump") == 0)
		return cmd_dump(&p, n, args);
	if (strcmp(args[0], "clear") == 0)
		return cmd_clear(&p);
	if (strcmp(args[0], "recover") == 0)
		return cmd_recover(&p);
	if (strcmp(args[0], "check") == 0)
		return cmd_check(&p);
	if (strcmp(args[0], "enable") == 0)
		return cmd_enable(&p);
	if (strcmp(args[0], "disable") == 0)
		return cmd_disable(&p);
	if (strcmp(args[0], "flush") == 0)
		return cmd_flush(&p, n, args);
	if (strcmp(args[0], "emit") == 0)
		return cmd_emit(n, args);
	if (strcmp(args[0], "view") == 0)
		return cmd_view(&p, n, args);
	if (strcmp(args[0], "version") == 0 || strcmp(args[0], "--version") == 0) {
		printf("atomcode-telemetry %s\n", ATC_VERSION);
		return 0;
	}
	if (strcmp(args[0], "help") == 0 || strcmp(args[0], "--help") == 0 ||
	    strcmp(args[0], "-h") == 0) {
		cli_usage(stdout);
		return 0;
	}
	fprintf(stderr, "atomcode-telemetry: unknown command \"%s\"\n", args[0]);
	cli_usage(stderr);
	return 2;
}
