/*
 * cli.c — atomcode-telemetry, the command behind `atomcode telemetry …`:
 * argument parsing and the subcommands. Output follows upstream AtomCode's
 * (README "CLI"); status rendering lives in cli_status.c. Errors go
 * to stderr with a non-zero exit. Only `emit` and `disable` may start an
 * agent; nothing here blocks for longer than its documented bound.
 */
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
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
#include "envelope.h"
#include "frame.h"
#include "notice.h"
#include "paths.h"
#include "port.h"
#include "queue.h"
#include "scrub.h"
#include "sock.h"

#define CLI_LINE_MAX	(FRAME_MAX + 2)	/* longest record line for emit --raw */
#define CLI_EMIT_BOUND_MS 100		/* emit waits this long for the agent
					   (the library's close bound) */

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
	    "  dump [--last N] --explain  which fields the firewall reduced, to"
	    " what\n"
	    "  clear                      delete queued records\n"
	    "  recover                    recover legacy partial segments\n"
	    "  check                      verify every queued segment\n"
	    "  flush [--wait]             ask the agent to upload now\n"
	    "  emit EVENT_ID [--payload JSON] [--mode M] [--app-version V]"
	    " [--cwd DIR]\n"
	    "  emit --raw                 send records from stdin, one per line\n"
	    "  view [--last N] [-o FILE] [--open | --serve]\n"
	    "                             an HTML page of what is collected\n"
	    "  version | --version | -V  print the version\n"
	    "  help | --help | -h         this text\n");
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

	if (config_resolve(p->config, cli_no_telemetry, &cfg, &o) == -1)
		return;
	if (o.enabled && notice_take(p, p->sudo) != NOTICE_NONE)
		fputs(NOTICE_TEXT, stderr);
}

/* The pid of a live agent (it holds its lifetime lock), else 0. */
long
cli_agent_lock_pid(const struct paths *p)
{
	char	buf[32];
	ssize_t	n;
	long	pid = 0;
	int	fd;

	if ((fd = open(p->lock, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) == -1 && errno == EWOULDBLOCK &&
	    (n = pread(fd, buf, sizeof buf - 1, 0)) > 0) {
		buf[n] = '\0';
		pid = strtol(buf, NULL, 10);
	}
	close(fd);	/* releases a shared lock we may have taken */
	return pid > 0 ? pid : 0;
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
	if (send(fd, out.data, out.len, PORT_MSG_NOSIGNAL) != (ssize_t)out.len)
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
	int		pretty;
	int		explain;
	int		n;
	int		reduced;	/* records with a placeholder */
	unsigned	kinds[SCRUB_NKINDS];
};

/* Count the placeholders of each kind in the string v into c. */
static unsigned
cli_explain_str(json_t *v, unsigned c[SCRUB_NKINDS])
{
	const char	*s = json_string_value(v);
	size_t		 n = json_string_length(v), i, l;
	unsigned	 total = 0;
	int		 k;

	for (i = 0; s != NULL && i < n; i++) {
		if (s[i] == '<' && (k = scrub_placeholder_at(s + i, n - i,
		    &l)) >= 0) {
			c[k]++;
			total++;
			i += l - 1;
		}
	}
	return total;
}

/*
 * One line per record for `dump --explain`: the fields the firewall
 * reduced and to which placeholder kinds, read off the stored values (the
 * placeholders are self-describing).
 */
static int
cli_explain_line(const char *line, size_t len, struct dump_count *dc)
{
	json_t		*r, *v, *e;
	const char	*key;
	unsigned	 c[SCRUB_NKINDS];
	size_t		 i;
	int		 k, nf = 0;

	if ((r = json_loadb(line, len, 0, NULL)) == NULL) {
		printf("#%d (not JSON)\n", dc->n);
		return 0;
	}
	printf("#%d %s ts=%lld:", dc->n, json_string_value(json_object_get(r,
	    "event_id")) ? json_string_value(json_object_get(r,
	    "event_id")) : "?", (long long)json_integer_value(json_object_get(
	    r, "ts")));
	json_object_foreach(r, key, v) {
		memset(c, 0, sizeof c);
		if (json_is_string(v) && cli_explain_str(v, c) == 0)
			continue;
		if (json_is_array(v)) {
			unsigned t = 0;

			json_array_foreach(v, i, e) {
				if (json_is_string(e))
					t += cli_explain_str(e, c);
			}
			if (t == 0)
				continue;
		} else if (!json_is_string(v))
			continue;
		printf("%s %s", nf++ ? ";" : "", key);
		for (k = 0; k < SCRUB_NKINDS; k++) {
			if (c[k] > 0)
				printf(" %s %u", scrub_kind_names[k], c[k]);
			dc->kinds[k] += c[k];
		}
	}
	printf("%s\n", nf ? "" : " nothing reduced");
	dc->reduced += nf > 0;
	json_decref(r);
	return 0;
}

static int
cli_dump_counted(const char *line, size_t len, void *arg)
{
	struct dump_count	*dc = arg;

	dc->n++;
	if (dc->explain)
		return cli_explain_line(line, len, dc);
	return cli_dump_line(line, len, &dc->pretty);
}

static int
cmd_dump(const struct paths *p, int argc, char **argv)
{
	struct queue		*q;
	struct dump_count	 dc;
	long			 last = 50;
	char			*end;
	int			 i, r, k;

	memset(&dc, 0, sizeof dc);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--pretty") == 0)
			dc.pretty = 1;
		else if (strcmp(argv[i], "--explain") == 0)
			dc.explain = 1;
		else if (strcmp(argv[i], "--last") == 0) {
			if (i + 1 == argc) {
				fprintf(stderr, "atomcode-telemetry: dump: --last"
				    " needs a value: the number of records"
				    " (0..100000000)\n");
				return 2;
			}
			errno = 0;
			last = strtol(argv[++i], &end, 10);
			if (errno != 0 || *end != '\0' || argv[i][0] == '\0' ||
			    last < 0 || last > 100000000) {
				fprintf(stderr, "atomcode-telemetry: dump: --last"
				    " takes a number of records (0..100000000),"
				    " not \"%s\"\n", argv[i]);
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
		fprintf(stderr, "(no queued events)\n");
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
	/* stdout carries records only: NDJSON pipes stay clean. */
	if (dc.n == 0 && last > 0)
		fprintf(stderr, "(no queued events)\n");
	else if (dc.explain) {
		printf("explain: %d record(s), %d reduced", dc.n, dc.reduced);
		for (k = 0, i = 0; k < SCRUB_NKINDS; k++) {
			if (dc.kinds[k] > 0)
				printf("%s %s %u", i++ ? "," : ";",
				    scrub_kind_names[k], dc.kinds[k]);
		}
		printf("\n");
	}
	return 0;
}

/* A queue operation returned r: close q, say why it failed. r. */
static int
cli_queue_done(struct queue *q, int r, const char *what)
{
	int	saved = errno;

	queue_close(q);
	if (r == -1)
		fprintf(stderr, "atomcode-telemetry: %s: %s\n", what,
		    strerror(saved));
	return r;
}

static int
cmd_clear(const struct paths *p)
{
	struct queue	*q;
	unsigned	 removed = 0, skipped = 0;
	int		 r, running;
	json_t		*req;

	/*
	 * A running agent may hold events back in its active segment (while
	 * uploads cannot proceed): have it make them ready, so they go too.
	 */
	req = json_pack("{s:s}", "op", "roll");
	json_decref(cli_request(p, req, 2000, &running));
	json_decref(req);
	if ((r = cli_queue_open(p, QUEUE_O_NORECOVER, &q)) == 1) {
		printf("(already empty)\n");
		return 0;
	}
	if (r == -1)
		return 1;
	if (cli_queue_done(q, queue_clear(q, &removed, &skipped), "clear") ==
	    -1)
		return 1;
	if (skipped > 0)
		printf("Queue cleared (%u file(s) removed, %u active file(s)"
		    " skipped).\n", removed, skipped);
	else
		printf("Queue cleared (%u file(s) removed).\n", removed);
	if ((r = cli_export_clear(p, &removed, &skipped)) == 0)
		printf("OTLP export queue cleared (%u file(s) removed, %u being"
		    " sent).\n", removed, skipped);
	return r == -1 ? 1 : 0;
}

static int
cmd_recover(const struct paths *p)
{
	struct queue		*q;
	struct queue_recovery	 rec;
	int			 r;

	if ((r = cli_queue_open(p, QUEUE_O_NORECOVER, &q)) == 1) {
		printf("(no legacy telemetry segments)\n");
		return 0;
	}
	if (r == -1)
		return 1;
	memset(&rec, 0, sizeof rec);
	if (cli_queue_done(q, queue_recover(q, 1, &rec), "recover") == -1)
		return 1;
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

/* Events in ready and unfinished segments (0 when there is no queue). */
static uint64_t
cli_queued_events(const struct paths *p)
{
	struct queue		*q;
	struct queue_stats	 st;
	uint64_t		 n = 0;

	if (cli_queue_open(p, QUEUE_O_NORECOVER, &q) != 0)
		return 0;
	if (queue_stats(q, &st) == 0)
		n = st.ready_events;
	queue_close(q);
	return n;
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
	uint64_t		 n;
	int			 running;

	(void)config_resolve(p->config, cli_no_telemetry, &cfg, &o);
	/*
	 * Upstream queues the event, then writes the file: a disable that
	 * cannot succeed would queue telemetry_disabled at every retry
	 * while telemetry stays on. Check first, queue nothing on failure.
	 */
	if (config_can_set_enabled(p->config, 0, cause, sizeof cause) == -1) {
		fprintf(stderr, "%s\n", cause);
		return 1;
	}
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
	printf("Telemetry disabled.\n");
	if ((n = cli_queued_events(p)) > 0)
		printf("%llu queued event(s) stay on disk, unsent, until"
		    " `atomcode telemetry clear` deletes them or a later"
		    " `atomcode telemetry enable` sends them.\n",
		    (unsigned long long)n);
	else
		printf("Events queued from now on stay on disk, unsent, until"
		    " `atomcode telemetry clear` deletes them or a later"
		    " `atomcode telemetry enable` sends them.\n");
	return 0;
}

static int
cmd_flush(const struct paths *p, int argc, char **argv)
{
	json_t		*req, *rep;
	const char	*result, *err;
	struct tconfig	 cfg;
	struct optout	 o;
	int		 wait = argc > 1 && strcmp(argv[1], "--wait") == 0;
	int		 running, rc = 0;

	if (argc > 2 || (argc > 1 && !wait)) {
		fprintf(stderr, "atomcode-telemetry: flush: unknown argument"
		    " %s\n", argv[wait ? 2 : 1]);
		return 2;
	}
	/* An opt-out that applies here also keeps this shell from uploading. */
	(void)config_resolve(p->config, cli_no_telemetry, &cfg, &o);
	if (!o.enabled) {
		fprintf(stderr, "atomcode-telemetry: telemetry is disabled"
		    " (reason: %s); not asking the agent to upload\n",
		    o.reason);
		return 0;
	}
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
		cli_http_outcome(json_integer_value(json_object_get(rep,
		    "status")), err);
		printf("\n");
		if (strcmp(result, "ok") != 0 && strcmp(result, "empty") != 0 &&
		    strcmp(result, "started") != 0)
			rc = 1;
	}
	json_decref(rep);
	return rc;
}

/*
 * One sentence about why an event was refused, from the library's last
 * error (the agent's refusal code, the field and its rule) when it has
 * one, else from the error code.
 */
static void
cli_refusal(struct atc *h, enum atc_err e, char *out, size_t outlen)
{
	struct atc_error_info	info;
	size_t			n;

	memset(&info, 0, sizeof info);
	info.size = sizeof info;
	if (h == NULL || !atc_last_error(h, &info) || info.err == ATC_OK) {
		snprintf(out, outlen, "%s", atc_strerror(e));
		return;
	}
	n = (size_t)snprintf(out, outlen, "%s%s%s", info.event_id[0] ?
	    info.event_id : "record", info.event_id[0] ? " refused: " :
	    " refused: ", info.code[0] ? info.code : atc_strerror(info.err));
	if (n < outlen && info.field[0] != '\0')
		n += (size_t)snprintf(out + n, outlen - n, ": field \"%s\"",
		    info.field);
	if (n < outlen && info.rule[0] != '\0')
		(void)snprintf(out + n, outlen - n, "%s %s",
		    info.field[0] ? "" : ":", info.rule);
}

/*
 * Why events could not be stored (ATC_E_IO): the library's reason (the
 * agent's storage error, the fallback's errno) when it has one.
 */
static const char *
cli_storage_why(struct atc *h, struct atc_error_info *le, const char *queue)
{
	memset(le, 0, sizeof *le);
	le->size = sizeof *le;
	if (h != NULL && atc_last_error(h, le) && le->err == ATC_E_IO &&
	    le->rule[0] != '\0')
		return le->rule;
	snprintf(le->rule, sizeof le->rule, "no agent took them and the "
	    "fallback queue %.180s could not be written", queue);
	return le->rule;
}

static int
cli_emit_report(const struct paths *p, struct atc *h, enum atc_err e,
    unsigned long lineno)
{
	struct atc_error_info	le;
	char			why[PATHS_MAX + 512];

	if (e == ATC_OK)
		return 0;
	if (e == ATC_E_IO)
		snprintf(why, sizeof why, "the event could not be stored: %s",
		    cli_storage_why(h, &le, p->queue));
	else
		cli_refusal(h, e, why, sizeof why);
	if (lineno > 0)
		fprintf(stderr, "atomcode-telemetry: line %lu: %s\n", lineno,
		    why);
	else
		fprintf(stderr, "atomcode-telemetry: %s\n", why);
	return 1;
}

static int
cmd_emit(const struct paths *p, int argc, char **argv)
{
	struct atc_options	 ao;
	struct atc_stats	 st;
	struct atc		*h;
	const char		*event = NULL, *payload = NULL;
	char			*line = NULL, why[512];
	size_t			 cap = 0;
	ssize_t			 n;
	unsigned long		 lineno = 0;
	uint64_t		 refused;
	char			 notice[ATC_NOTICE_MAX], modes[256];
	struct atc_error_info	 le;
	int			 i, raw = 0, bad = 0;
	enum atc_err		 e, fe;

	memset(&ao, 0, sizeof ao);
	ao.size = sizeof ao;
	ao.app_version = ATC_VERSION;
	ao.no_telemetry = cli_no_telemetry;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--raw") == 0)
			raw = 1;
		else if ((strcmp(argv[i], "--payload") == 0 ||
		    strcmp(argv[i], "--mode") == 0 ||
		    strcmp(argv[i], "--cwd") == 0 ||
		    strcmp(argv[i], "--app-version") == 0) && i + 1 == argc) {
			fprintf(stderr, "atomcode-telemetry: emit: %s needs a"
			    " value\n", argv[i]);
			return 2;
		} else if (strcmp(argv[i], "--payload") == 0)
			payload = argv[++i];
		else if (strcmp(argv[i], "--mode") == 0)
			ao.mode = argv[++i];
		else if (strcmp(argv[i], "--cwd") == 0)
			ao.cwd = argv[++i];
		else if (strcmp(argv[i], "--app-version") == 0)
			ao.app_version = argv[++i];
		else if (argv[i][0] != '-' && event == NULL)
			event = argv[i];
		else {
			fprintf(stderr, "atomcode-telemetry: emit: unknown"
			    " argument %s\n", argv[i]);
			return 2;
		}
	}
	if (!raw && event == NULL) {
		fprintf(stderr, "atomcode-telemetry: emit: EVENT_ID or --raw"
		    " required\n");
		return 2;
	}
	if (raw && (event != NULL || payload != NULL)) {
		fprintf(stderr, "atomcode-telemetry: emit: --raw reads complete"
		    " records from stdin; it takes no %s\n", event != NULL ?
		    "EVENT_ID" : "--payload");
		return 2;
	}
	if (ao.mode != NULL && *ao.mode != '\0' && !env_mode_valid(ao.mode)) {
		modes[0] = '\0';
		for (i = 0; env_mode_name((size_t)i) != NULL; i++)
			snprintf(modes + strlen(modes), sizeof modes -
			    strlen(modes), "%s%s", i ? ", " : "",
			    env_mode_name((size_t)i));
		fprintf(stderr, "atomcode-telemetry: emit: --mode \"%s\" is not"
		    " a mode: use one of %s\n", ao.mode, modes);
		return 2;
	}
	if (payload != NULL && strlen(payload) > FRAME_MAX) {
		fprintf(stderr, "atomcode-telemetry: emit: the payload is %zu"
		    " bytes; a whole record is at most %d bytes\n",
		    strlen(payload), FRAME_MAX);
		return 2;
	}
	if ((e = atc_open(&ao, &h)) != ATC_OK)
		return cli_emit_report(p, NULL, e, 0);
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
				    " %zd bytes; a record is at most %d\n",
				    lineno, n, FRAME_MAX);
				bad = 1;
				continue;
			}
			bad |= cli_emit_report(p, h, atc_emit_raw(h, line,
			    (size_t)n), lineno);
		}
		free(line);
	} else
		bad |= cli_emit_report(p, h, atc_emit(h, event, payload), 0);
	atc_get_stats(h, &st);
	refused = st.rejected;
	/*
	 * The library's own close bound: a stalled agent costs this long,
	 * then the events go to the fallback segment (no fsync wait).
	 */
	fe = atc_flush(h, CLI_EMIT_BOUND_MS);
	/* Refusals the agent sent back: the last one says why. */
	atc_get_stats(h, &st);
	if (st.rejected > refused) {
		cli_refusal(h, ATC_E_SCHEMA, why, sizeof why);
		fprintf(stderr, "atomcode-telemetry: %s\n", why);
		if (st.rejected > refused + 1)
			fprintf(stderr, "atomcode-telemetry: %llu event(s) were"
			    " refused in all\n", (unsigned long long)st.rejected);
		bad = 1;
	}
	if (st.lost > 0) {
		fprintf(stderr, "atomcode-telemetry: %llu event(s) could not be"
		    " stored: %s\n", (unsigned long long)st.lost,
		    cli_storage_why(h, &le, p->queue));
		bad = 1;
	} else if (fe == ATC_E_IO) {
		fprintf(stderr, "atomcode-telemetry: %s\n",
		    cli_storage_why(h, &le, p->queue));
		bad = 1;
	}
	if (atc_close(h) == ATC_E_IO && !bad) {
		fprintf(stderr, "atomcode-telemetry: the fallback segment could"
		    " not be synced to disk\n");
		bad = 1;
	}
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
	/* These take no argument: refuse any, before doing anything. */
	if ((strcmp(args[0], "clear") == 0 || strcmp(args[0], "recover") == 0 ||
	    strcmp(args[0], "check") == 0 || strcmp(args[0], "enable") == 0 ||
	    strcmp(args[0], "disable") == 0 || strcmp(args[0], "version") == 0)
	    && n > 1) {
		fprintf(stderr, "atomcode-telemetry: %s: unknown argument %s\n",
		    args[0], args[1]);
		return 2;
	}
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
		return cmd_emit(&p, n, args);
	if (strcmp(args[0], "view") == 0)
		return cmd_view(&p, n, args);
	if (strcmp(args[0], "version") == 0 || strcmp(args[0], "--version") == 0 ||
	    strcmp(args[0], "-V") == 0) {
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
