/*
 * bench.c — `make bench`: measures every figure of docs/PERFORMANCE.md in
 * one run: the agent's own table, then the peer table (the agent beside
 * syslog-ng, "peer" below); prints both aligned and writes them as JSON.
 *
 *   bench BUILD_DIR TEMP_DIR OUT_JSON
 *
 * It owns TEMP_DIR (made by tests/bench/run.sh, which removes it): every
 * ATOMCODE_HOME lives below it. It starts every agent, sink and helper
 * process itself and stops each by its PID (SIGTERM, then SIGKILL), talks
 * over Unix sockets and 127.0.0.1 only, and is bounded by a watchdog. It
 * never asserts a timing: it measures and prints, and exits non-zero only
 * when a measurement could not be taken at all. BENCH_QUICK=1 shrinks
 * every count (development only; the table says so).
 */
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "atomcode/telemetry.h"
#include "buf.h"
#include "frame.h"
#include "queue.h"
#include "record.h"
#include "scrub.h"
#include "sink.h"
#include "sock.h"

#define WATCHDOG_S	350	/* the whole run, waiting for quiet included;
				   the brief allows 6 minutes */
#define FLOOR_N		200000	/* timed bare writes per floor */
#define FSYNC_N		200	/* timed append+fdatasync pairs */
#define EMIT_N		100000	/* timed atc_emit calls */
#define EMIT_WARM	2000	/* untimed emits first */
#define EMIT_VARIANTS	16	/* distinct payload texts cycled */
#define EMIT_PACED_N	20000	/* timed emits of the paced run */
#define EMIT_PACED_GAP_NS 20000ULL	/* one emit per 20 µs (50k/s) */
#define LIFE_N		300	/* short-CLI lifetimes (agent up, no agent) */
#define LIFE_HUNG_N	50	/* … with a hung agent (each ~100 ms) */
#define LIFE_WARM	10	/* untimed lifetimes first */
#define LIFE_EMITS	3	/* emits per lifetime */
#define INGEST_CLIENTS	4	/* concurrent pipelining client processes */
#define INGEST_N	100000	/* records per client (fsync roll/never) */
#define INGEST_N_FSYNC	25000	/* records per client, each fsync level */
#define TERM_N		100000	/* records sent just before SIGTERM */
#define E2E_N		40000	/* records delivered end to end (×500) */
#define E2E_CHUNK	500	/* records per producer write */
#define E2E_WINDOW	4000	/* sent but not yet at the sink, at most */
#define IDLE_S		60	/* idle wake-up window (the spec's) */
#define VALID_BATCHES	5	/* timed validator batches (median) */
#define VALID_BATCH_NS	60000000ULL	/* each at least this long */
#define FRAME_VARIANTS	256	/* distinct records in a pipelined buffer */
#define START_MS	5000	/* an agent must answer status within */
#define STOP_MS		5000	/* SIGTERM to exit, else SIGKILL */
#define WAIT_MS		60000	/* any other single wait */
#define RSS_EVERY_US	5000	/* RSS sampling period under load */
#define IO_TIMEOUT_S	10	/* socket send/receive timeout */
#define MAX_KIDS	32	/* processes we started and must stop */
#define MAX_ROWS	64
#define MAX_NOTES	40
#define TS_BASE		1764100000000LL	/* realistic ms timestamps */
#define DEAD_ENDPOINT	"http://127.0.0.1:9/v1/events"	/* refused at once */
#define GOLDEN		"tests/compat/llm_chat.json"

/* One table row. ratio <= 0: none. met: -1 no target, 0 missed, 1 met. */
struct row {
	char	id[8];
	char	name[64];
	double	value;
	char	unit[12];
	double	ratio;
	char	basis[8];
	char	target[24];
	int	met;
	char	note[160];
	int	seq;		/* insertion order (stable sort) */
};

struct agentp {
	pid_t	pid;
	char	home[PATH_MAX / 4];
	char	sock[PATH_MAX / 4 + 32];
	char	queue[PATH_MAX / 4 + 32];
	char	log[PATH_MAX / 4 + 32];
};

/* Records framed back to back: off[i] is where frame i starts. */
struct frames {
	struct buf	 b;
	size_t		*off;
	size_t		 n;
	size_t		 rec_min, rec_max;
};

struct ingest_res {
	uint64_t	sent, persisted, dropped, acked, errors;
	double		wall_s, evps, cpu_us_per_ev, wall_ns_per_ev;
	long		rss_max_kb, hwm_kb;
};

static volatile pid_t	kids[MAX_KIDS];
static volatile int	nkids;
static const char	*build, *top;
static struct row	 rows[MAX_ROWS];
static int		 nrows;
static char		*notes[MAX_NOTES];
static int		 nnotes;
static int		 quick;
static long		 clk_tck;
static char		 golden[1024];	/* compact llm_chat golden */
static size_t		 golden_len;
static double		 floor_sock[3], floor_file[3];	/* p50 p99 p999 */
static double		 floor_paced[3];	/* paced writes, reader asleep */
static json_t		*jconfig;
static json_t		*jbackground;
static json_t		*jbgparts;	/* others' CPUs per part */
static int		 failures;

/* ---- processes ---------------------------------------------------- */

static void
kid_add(pid_t pid)
{
	if (nkids < MAX_KIDS)
		kids[nkids++] = pid;
}

static void
kid_forget(pid_t pid)
{
	int	i;

	for (i = 0; i < nkids; i++)
		if (kids[i] == pid) {
			kids[i] = kids[--nkids];
			return;
		}
}

/* Signal and exit path: SIGKILL everything we started (by PID). */
static void
kids_kill(void)
{
	int	i;

	for (i = 0; i < nkids; i++)
		if (kids[i] > 0)
			kill(kids[i], SIGKILL);
}

static void
on_fatal_signal(int sig)
{
	static const char	msg[] = "bench: interrupted (watchdog or signal);"
	    " stopping every process it started\n";

	kids_kill();
	(void)write(STDERR_FILENO, msg, sizeof msg - 1);
	_exit(sig == SIGALRM ? 3 : 4);
}

/* A forked helper must not act as the driver. */
static void
child_reset(void)
{
	nkids = 0;
	alarm(0);
	signal(SIGALRM, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
}

static pid_t
fork_kid(void)
{
	pid_t	pid;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == 0)
		child_reset();
	else if (pid > 0)
		kid_add(pid);
	return pid;
}

/* Wait at most ms for pid to exit (pidfd); reap it. 0, or -1 still alive. */
static int
wait_exit(pid_t pid, int ms, int *status)
{
	struct pollfd	pfd;
	int		pfdn, st = 0;
	pid_t		w;

	pfdn = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfdn != -1) {
		pfd.fd = pfdn;
		pfd.events = POLLIN;
		while (poll(&pfd, 1, ms) == -1 && errno == EINTR)
			;
		close(pfdn);
		w = waitpid(pid, &st, WNOHANG);
	} else {
		for (w = 0; ms > 0 && (w = waitpid(pid, &st, WNOHANG)) == 0;
		    ms--)
			usleep(1000);
	}
	if (w != pid)
		return -1;
	if (status != NULL)
		*status = st;
	kid_forget(pid);
	return 0;
}

/* SIGTERM, wait, SIGKILL. */
static void
kid_stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	if (wait_exit(pid, STOP_MS, NULL) == -1) {
		kill(pid, SIGKILL);
		(void)wait_exit(pid, STOP_MS, NULL);
	}
}

/* ---- small helpers ------------------------------------------------ */

static uint64_t
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void
sleep_us(unsigned us)
{
	struct timespec	ts = { us / 1000000, (long)(us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void
note_add(const char *fmt, ...)
{
	va_list	ap;
	char	tmp[1024];

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (nnotes < MAX_NOTES && (notes[nnotes] = strdup(tmp)) != NULL)
		nnotes++;
}

static void
warnmsg(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	fprintf(stderr, "bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	failures++;
}

static struct row *
row_add(const char *id, const char *name, double value, const char *unit)
{
	struct row	*r;

	if (nrows >= MAX_ROWS)
		return &rows[MAX_ROWS - 1];
	r = &rows[nrows++];
	memset(r, 0, sizeof *r);
	snprintf(r->id, sizeof r->id, "%s", id);
	snprintf(r->name, sizeof r->name, "%s", name);
	snprintf(r->unit, sizeof r->unit, "%s", unit);
	r->value = value;
	r->met = -1;
	r->seq = nrows;
	return r;
}

static void
row_ratio(struct row *r, double floor, const char *basis)
{
	if (floor > 0 && r->value > 0) {
		r->ratio = r->value / floor;
		snprintf(r->basis, sizeof r->basis, "%s", basis);
	}
}

/* Target "≤ x" (le) or "≥ x". */
static void
row_target(struct row *r, int le, double x, const char *text)
{
	snprintf(r->target, sizeof r->target, "%s", text);
	r->met = le ? r->value <= x : r->value >= x;
}

static void
row_note(struct row *r, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(r->note, sizeof r->note, fmt, ap);
	va_end(ap);
}

/* Table order: row number, then id, then insertion. */
static int
cmp_row(const void *a, const void *b)
{
	const struct row	*x = a, *y = b;
	long			 nx = strtol(x->id, NULL, 10);
	long			 ny = strtol(y->id, NULL, 10);
	int			 c;

	if (nx != ny)
		return nx < ny ? -1 : 1;
	if ((c = strcmp(x->id, y->id)) != 0)
		return c;
	return x->seq - y->seq;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static double
pct(const uint64_t *v, size_t n, double p)
{
	size_t	i;

	if (n == 0)
		return 0;
	i = (size_t)(p * (double)n + 0.999999);
	if (i > 0)
		i--;
	if (i >= n)
		i = n - 1;
	return (double)v[i];
}

static int
write_all(int fd, const void *p, size_t n)
{
	const char	*c = p;
	ssize_t		 w;

	while (n > 0) {
		w = write(fd, c, n);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
mkdir_home(const char *path)
{
	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		return -1;
	return chmod(path, 0700);
}

static int
write_file(const char *path, const char *text)
{
	int	fd, r;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) ==
	    -1)
		return -1;
	r = write_all(fd, text, strlen(text));
	if (close(fd) == -1)
		r = -1;
	return r;
}

/* ---- /proc -------------------------------------------------------- */

/* utime and stime of a process (all threads) in clock ticks: 0 or -1. */
static int
proc_cpu_split(pid_t pid, long long *ut, long long *st)
{
	char			path[64], b[1024], *p;
	unsigned long long	u, s;
	ssize_t			n;
	int			fd;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, b, sizeof b - 1);
	close(fd);
	if (n <= 0)
		return -1;
	b[n] = '\0';
	if ((p = strrchr(b, ')')) == NULL)
		return -1;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu"
	    " %llu", &u, &s) != 2)
		return -1;
	*ut = (long long)u;
	*st = (long long)s;
	return 0;
}

/* utime+stime of a process (all threads) in clock ticks, or -1. */
static long long
proc_cpu_ticks(pid_t pid)
{
	char			path[64], b[1024], *p;
	unsigned long long	ut, st;
	ssize_t			n;
	int			fd;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, b, sizeof b - 1);
	close(fd);
	if (n <= 0)
		return -1;
	b[n] = '\0';
	if ((p = strrchr(b, ')')) == NULL)
		return -1;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu"
	    " %llu", &ut, &st) != 2)
		return -1;
	return (long long)(ut + st);
}

/* A numeric "Key:  value" line of a status file, or -1. */
static long long
status_num(const char *path, const char *key)
{
	char		 line[256], *end;
	size_t		 kl = strlen(key);
	long long	 v = -1;
	FILE		*fp;

	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof line, fp) != NULL)
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			errno = 0;
			v = strtoll(line + kl + 1, &end, 10);
			if (errno != 0 || end == line + kl + 1)
				v = -1;
			break;
		}
	fclose(fp);
	return v;
}

static long
proc_kb(pid_t pid, const char *key)
{
	char	path[64];

	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	return (long)status_num(path, key);
}

/* Voluntary + involuntary context switches of every thread of pid. */
static long long
proc_ctxt(pid_t pid, int *nthreads)
{
	char		 dir[64], path[384];
	struct dirent	*de;
	long long	 sum = 0, v, nv;
	DIR		*d;

	*nthreads = 0;
	snprintf(dir, sizeof dir, "/proc/%ld/task", (long)pid);
	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s/status", dir, de->d_name);
		v = status_num(path, "voluntary_ctxt_switches");
		nv = status_num(path, "nonvoluntary_ctxt_switches");
		if (v >= 0 && nv >= 0) {
			sum += v + nv;
			(*nthreads)++;
		}
	}
	closedir(d);
	return sum;
}

#define SMAPS_NAMES	256	/* distinct mappings summed */
#define SMAPS_SHOW	6	/* largest shown */

struct smap {
	char	name[48];
	long	kb;
};

static int
cmp_smap(const void *a, const void *b)
{
	const struct smap	*x = a, *y = b;

	return (x->kb < y->kb) - (x->kb > y->kb);
}

/* The mappings holding most of pid's RSS, as "name N KiB, …". */
static void
proc_smaps_top(pid_t pid, char *out, size_t outlen)
{
	static struct smap	 v[SMAPS_NAMES];
	char			 path[64], line[1024], cur[48] = "[anon]";
	char			 one[96], *p, *sl;
	size_t			 n = 0, i, len = 0;
	long			 kb;
	FILE			*fp;

	out[0] = '\0';
	snprintf(path, sizeof path, "/proc/%ld/smaps", (long)pid);
	if ((fp = fopen(path, "re")) == NULL)
		return;
	while (fgets(line, sizeof line, fp) != NULL) {
		if (strncmp(line, "Rss:", 4) == 0) {
			kb = strtol(line + 4, NULL, 10);
			for (i = 0; i < n && strcmp(v[i].name, cur) != 0; i++)
				;
			if (i == n && n < SMAPS_NAMES) {
				snprintf(v[n].name, sizeof v[n].name, "%s", cur);
				v[n++].kb = 0;
			}
			if (i < n)
				v[i].kb += kb;
			continue;
		}
		/* A mapping header: "start-end perms offset dev inode [path]". */
		p = line + strspn(line, "0123456789abcdef");
		if (p == line || *p != '-')
			continue;
		line[strcspn(line, "\n")] = '\0';
		for (i = 0, p = line; i < 5 && p != NULL; i++)
			if ((p = strchr(p, ' ')) != NULL)
				p += strspn(p, " ");
		if (p == NULL || *p == '\0')
			snprintf(cur, sizeof cur, "[anon]");
		else {
			sl = strrchr(p, '/');
			snprintf(cur, sizeof cur, "%s", sl != NULL ? sl + 1 : p);
		}
	}
	fclose(fp);
	qsort(v, n, sizeof v[0], cmp_smap);
	for (i = 0; i < n && i < SMAPS_SHOW; i++) {
		snprintf(one, sizeof one, "%s%.47s %ld KiB", i ? ", " : "",
		    v[i].name, v[i].kb);
		if (len + strlen(one) + 1 < outlen) {
			memcpy(out + len, one, strlen(one) + 1);
			len += strlen(one);
		}
	}
}

/* ---- protocol ----------------------------------------------------- */

static int
frame_send(int fd, const char *json)
{
	struct buf	b = { NULL, 0, 0 };
	int		r;

	r = frame_encode(&b, json, strlen(json));
	if (r == 0)
		r = write_all(fd, b.data, b.len);
	buf_free(&b);
	return r;
}

/* Read one reply frame (blocking, SO_RCVTIMEO bounded). NULL on EOF/timeout. */
static json_t *
frame_recv(int fd, struct buf *in)
{
	const unsigned char	*p;
	size_t			 plen, used;
	ssize_t			 n;
	json_t			*o;

	for (;;) {
		switch (frame_decode((unsigned char *)in->data, in->len, &p,
		    &plen, &used)) {
		case FRAME_OK:
			o = json_loadb((const char *)p, plen, 0, NULL);
			buf_consume(in, used);
			return o;
		case FRAME_NEED_MORE:
			break;
		default:
			return NULL;
		}
		if (buf_reserve(in, 65536) == -1)
			return NULL;
		n = read(fd, in->data + in->len, 65536);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		in->len += (size_t)n;
	}
}

static int
connect_agent(const char *sock)
{
	struct timeval	tv = { IO_TIMEOUT_S, 0 };
	int		fd;

	if ((fd = sock_connect_blocking(sock)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	return fd;
}

static int
send_hello(int fd)
{
	char		 b[PATH_MAX + 256];
	const char	*home = getenv("HOME");

	snprintf(b, sizeof b, "{\"op\":\"hello\",\"proto\":%d,\"client\":"
	    "\"atc-bench/1\",\"pid\":%ld,\"cwd\":\"%s\",\"home\":\"%s\"}",
	    PROTO_VERSION, (long)getpid(), top, home != NULL &&
	    strchr(home, '"') == NULL && strchr(home, '\\') == NULL ? home :
	    "/nonexistent");
	return frame_send(fd, b);
}

/*
 * Send {"op":"flush"} and read until an ack covering want (the number of
 * event frames sent): the agent may also send acks nobody asked for.
 * Counts error frames.
 */
static int
flush_ack(int fd, struct buf *in, uint64_t want, uint64_t *seq,
    uint64_t *errors)
{
	json_t		*o;
	const char	*op;

	if (frame_send(fd, "{\"op\":\"flush\"}") == -1)
		return -1;
	while ((o = frame_recv(fd, in)) != NULL) {
		op = json_string_value(json_object_get(o, "op"));
		if (op != NULL && strcmp(op, "error") == 0 && errors != NULL)
			(*errors)++;
		if (op != NULL && strcmp(op, "ack") == 0) {
			*seq = (uint64_t)json_integer_value(json_object_get(o,
			    "seq"));
			if (*seq >= want) {
				json_decref(o);
				return 0;
			}
		}
		json_decref(o);
	}
	return -1;
}

/* One control request; the reply whose op is want (caller frees). */
static json_t *
ctl_call(const char *sock, const char *req, const char *want)
{
	struct buf	 in = { NULL, 0, 0 };
	json_t		*o = NULL;
	const char	*op;
	int		 fd;

	if ((fd = connect_agent(sock)) == -1)
		return NULL;
	if (frame_send(fd, req) == 0)
		while ((o = frame_recv(fd, &in)) != NULL) {
			op = json_string_value(json_object_get(o, "op"));
			if (op != NULL && strcmp(op, want) == 0)
				break;
			json_decref(o);
		}
	close(fd);
	buf_free(&in);
	return o;
}

static json_t *
agent_status(const struct agentp *a)
{
	return ctl_call(a->sock, "{\"op\":\"status\"}", "status");
}

static uint64_t
jget(json_t *o, const char *obj, const char *key)
{
	json_t	*v = obj != NULL ? json_object_get(o, obj) : o;

	return (uint64_t)json_integer_value(json_object_get(v, key));
}

/* ---- agents ------------------------------------------------------- */

/*
 * Start an agent in TEMP/name with telemetryd.conf text conf (NULL: none)
 * and the given endpoint; wait until its status answers with its pid.
 */
static int
agent_start(struct agentp *a, const char *name, const char *conf,
    const char *endpoint)
{
	char		 path[PATH_MAX], exe[PATH_MAX];
	json_t		*st;
	uint64_t	 t0;
	int		 fd;

	memset(a, 0, sizeof *a);
	snprintf(a->home, sizeof a->home, "%s/%s", top, name);
	snprintf(a->sock, sizeof a->sock, "%s/telemetry.sock", a->home);
	snprintf(a->queue, sizeof a->queue, "%s/telemetry/queue", a->home);
	snprintf(a->log, sizeof a->log, "%s/%s.log", top, name);
	snprintf(exe, sizeof exe, "%s/atomcode-telemetryd", build);
	if (mkdir_home(a->home) == -1)
		return -1;
	if (conf != NULL) {
		snprintf(path, sizeof path, "%s/telemetryd.conf", a->home);
		if (write_file(path, conf) == -1)
			return -1;
	}
	if ((a->pid = fork_kid()) == -1)
		return -1;
	if (a->pid == 0) {
		setenv("ATOMCODE_HOME", a->home, 1);
		setenv("ATOMCODE_TELEMETRY_ENDPOINT", endpoint, 1);
		if ((fd = open(a->log, O_WRONLY | O_CREAT | O_TRUNC, 0600)) !=
		    -1) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			close(fd);
		}
		execl(exe, "atomcode-telemetryd", (char *)NULL);
		_exit(127);
	}
	t0 = now_ns();
	while (now_ns() - t0 < (uint64_t)START_MS * 1000000ULL) {
		if (waitpid(a->pid, NULL, WNOHANG) == a->pid) {
			kid_forget(a->pid);
			warnmsg("agent %s exited at start; see %s", name,
			    a->log);
			a->pid = 0;
			return -1;
		}
		if ((st = agent_status(a)) != NULL) {
			if ((pid_t)jget(st, NULL, "pid") == a->pid) {
				json_decref(st);
				return 0;
			}
			json_decref(st);
		}
		sleep_us(10000);
	}
	warnmsg("agent %s did not answer within %d ms", name, START_MS);
	kid_stop(a->pid);
	a->pid = 0;
	return -1;
}

static void
agent_stop(struct agentp *a)
{
	kid_stop(a->pid);
	a->pid = 0;
}

/* ---- records ------------------------------------------------------ */

static int
load_golden(void)
{
	json_error_t	 err;
	json_t		*o;
	char		*s;

	if ((o = json_load_file(GOLDEN, 0, &err)) == NULL) {
		warnmsg("%s: %s", GOLDEN, err.text);
		return -1;
	}
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (s == NULL || strlen(s) >= sizeof golden) {
		free(s);
		return -1;
	}
	golden_len = strlen(s);
	memcpy(golden, s, golden_len + 1);
	free(s);
	return 0;
}

static void
frames_free(struct frames *f)
{
	buf_free(&f->b);
	free(f->off);
	memset(f, 0, sizeof *f);
}

static int
frames_add(struct frames *f, const char *rec, size_t len, size_t cap)
{
	if (f->off == NULL && (f->off = calloc(cap + 1, sizeof *f->off)) ==
	    NULL)
		return -1;
	if (f->n >= cap)
		return -1;
	f->off[f->n] = f->b.len;
	if (frame_encode(&f->b, rec, len) == -1)
		return -1;
	f->n++;
	f->off[f->n] = f->b.len;
	if (f->rec_min == 0 || len < f->rec_min)
		f->rec_min = len;
	if (len > f->rec_max)
		f->rec_max = len;
	return 0;
}

/* FRAME_VARIANTS copies of the golden llm_chat with distinct ts. */
static int
frames_golden(struct frames *f)
{
	json_t		*o;
	char		*s;
	size_t		 i;
	int		 r = 0;

	memset(f, 0, sizeof *f);
	if ((o = json_loadb(golden, golden_len, 0, NULL)) == NULL)
		return -1;
	for (i = 0; i < FRAME_VARIANTS && r == 0; i++) {
		json_object_set_new(o, "ts", json_integer(TS_BASE +
		    (json_int_t)i * 37));
		if ((s = json_dumps(o, JSON_COMPACT)) == NULL)
			r = -1;
		else
			r = frames_add(f, s, strlen(s), FRAME_VARIANTS);
		free(s);
	}
	json_decref(o);
	return r;
}

/* Send n frames of f (cycling) with blocking writes. */
static int
frames_send(int fd, const struct frames *f, uint64_t n)
{
	while (n >= f->n) {
		if (write_all(fd, f->b.data, f->b.len) == -1)
			return -1;
		n -= f->n;
	}
	if (n > 0 && write_all(fd, f->b.data, f->off[n]) == -1)
		return -1;
	return 0;
}

static uint64_t	rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned
pick(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static void
rnd_uuid(char out[37])
{
	uint64_t	a = rnd(), b = rnd();

	snprintf(out, 37, "%08x-%04x-4%03x-%04x-%012llx",
	    (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffff,
	    (unsigned)a & 0xfff, (unsigned)(0x8000 | ((b >> 48) & 0x3fff)),
	    (unsigned long long)(b & 0xffffffffffffULL));
}

/*
 * Realistic, varied llm_chat records for the end-to-end row: a few devices,
 * sessions of a few hundred requests, growing ts, varied providers, models
 * and token counts, and about 8% failed requests with error texts.
 */
struct gen {
	char		dev[4][37], launch[37], session[37];
	const char	*os, *arch, *locale, *app;
	unsigned	turn, round, request, left;
	int64_t		ts;
};

static void
gen_session(struct gen *g)
{
	static const char *const os[] = { "linux", "macos", "windows" };
	static const char *const arch[] = { "x86_64", "aarch64" };
	static const char *const loc[] = { "en-US", "zh-CN", "en-GB" };
	static const char *const app[] = { "4.22.3", "4.23.0", "4.21.9" };

	rnd_uuid(g->launch);
	memcpy(g->session, g->launch, sizeof g->session);
	g->os = os[pick(3)];
	g->arch = arch[pick(2)];
	g->locale = loc[pick(3)];
	g->app = app[pick(3)];
	g->turn = g->round = g->request = 0;
	g->left = 50 + pick(400);
}

static int
gen_record(struct gen *g, struct buf *b)
{
	static const struct { const char *p, *h, *m; } prov[] = {
		{ "openai", "api.openai.com", "gpt-4o" },
		{ "openai", "api.openai.com", "gpt-4.1-mini" },
		{ "anthropic", "api.anthropic.com", "claude-sonnet-4-5" },
		{ "deepseek", "api.deepseek.com", "deepseek-chat" },
		{ "qwen", "dashscope.aliyuncs.com", "qwen3-coder-plus" },
		{ "atomgit", "api-ai.gitcode.com", "glm-4.6" },
	};
	static const char *const modes[] = { "tui", "headless", "ide",
	    "vscode" };
	static const char *const hosts[] = { "gitcode", "github", "atomgit",
	    "none" };
	char		 err[512];
	const char	*kind = NULL;
	unsigned	 p = pick(6), in = 800 + pick(60000), out = pick(4000);
	unsigned	 k;

	if (g->left-- == 0)
		gen_session(g);
	g->ts += 200 + pick(30000);
	g->request++;
	if (pick(4) == 0) {
		g->turn++;
		g->round = 0;
	} else
		g->round++;
	if (pick(100) < 8) {
		switch ((k = pick(5))) {
		case 0:
			kind = "network_error";
			snprintf(err, sizeof err, "{\"message\":\"connection"
			    " reset by peer\"}");
			break;
		case 1:
			kind = "rate_limited";
			snprintf(err, sizeof err, "{\"status\":429,\"message\":"
			    "\"Rate limit reached for %s in organization on"
			    " tokens per min (TPM): Limit 30000, Used %u,"
			    " Requested %u.\"}", prov[p].m, 20000 + pick(9999),
			    in);
			break;
		case 2:
			kind = "stream_timeout";
			snprintf(err, sizeof err, "{\"message\":\"stream timed"
			    " out after %u ms\"}", 30000 + pick(3) * 15000);
			break;
		case 3:
			kind = "server_error";
			snprintf(err, sizeof err, "{\"status\":%u,\"message\":"
			    "\"The server had an error while processing your"
			    " request. Sorry about that!\"}", 500 + pick(4));
			break;
		default:
			kind = "context_overflow";
			snprintf(err, sizeof err, "{\"message\":\"This model's"
			    " maximum context length is 128000 tokens. However,"
			    " your messages resulted in %u tokens.\"}",
			    128001 + pick(50000));
			break;
		}
	}
	if (buf_printf(b, "{\"device_id\":\"%s\",\"launch_id\":\"%s\","
	    "\"session_id\":\"%s\",\"turn\":%u,\"round\":%u,\"request\":%u,"
	    "\"ts\":%" PRId64 ",\"schema_version\":1,\"app_version\":\"%s\","
	    "\"os\":\"%s\",\"arch\":\"%s\",\"locale\":\"%s\",\"provider\":"
	    "\"%s\",\"provider_host\":\"%s\",\"model\":\"%s\",\"repo_origin\":"
	    "{\"host\":\"%s\",\"has_git\":true},\"mode\":\"%s\",\"event_id\":"
	    "\"llm_chat\",\"duration_ms\":%u,\"tool_calls_count\":%u,"
	    "\"input_tokens\":%u,\"output_tokens\":%u,\"cached_tokens\":%u,"
	    "\"had_error\":%s,\"context_window\":%u,\"system_tokens\":%u,"
	    "\"tool_def_tokens\":%u,\"tool_result_tokens\":%u,"
	    "\"message_tokens\":%u,\"messages_count\":%u",
	    g->dev[pick(4)], g->launch, g->session, g->turn, g->round,
	    g->request, g->ts, g->app, g->os, g->arch, g->locale, prov[p].p,
	    prov[p].h, prov[p].m, hosts[pick(4)], modes[pick(4)],
	    kind != NULL ? 30000 : 300 + pick(90000), pick(12),
	    kind != NULL ? 0 : in, kind != NULL ? 0 : out,
	    kind != NULL ? 0 : pick(in), kind != NULL ? "true" : "false",
	    pick(2) ? 128000 : 200000, 300 + pick(3000), 200 + pick(9000),
	    pick(20000), pick(30000), 2 + pick(120)) == -1)
		return -1;
	if (kind != NULL && (buf_printf(b, ",\"error_kind\":\"%s\","
	    "\"error_data\":", kind) == -1 || buf_json_str(b, err,
	    strlen(err)) == -1))
		return -1;
	return buf_putc(b, '}');
}

/* ---- row 1: the raw floor ------------------------------------------- */

static void
timed_writes(int fd, const char *rec, size_t len, uint64_t *lat, size_t n,
    uint64_t gap_ns, double out[3])
{
	uint64_t	t0, t1, next = now_ns();
	size_t		i;

	for (i = 0; i < n; i++) {
		if (gap_ns > 0) {
			next += gap_ns;
			while (now_ns() < next)
				;
		}
		t0 = now_ns();
		if (write(fd, rec, len) != (ssize_t)len) {
			warnmsg("floor write: %s", strerror(errno));
			break;
		}
		t1 = now_ns();
		lat[i] = t1 - t0;
	}
	n = i;
	qsort(lat, n, sizeof *lat, cmp_u64);
	out[0] = pct(lat, n, 0.50);
	out[1] = pct(lat, n, 0.99);
	out[2] = pct(lat, n, 0.999);
}

/* Timed writes to a Unix stream socket drained by another process. */
static int
sock_floor(const char *line, size_t len, uint64_t *lat, size_t n,
    uint64_t gap_ns, double out[3])
{
	char	sink[65536];
	pid_t	pid;
	int	sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		warnmsg("socketpair: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork_kid()) == 0) {
		close(sv[0]);
		while (read(sv[1], sink, sizeof sink) > 0)
			;
		_exit(0);
	}
	close(sv[1]);
	timed_writes(sv[0], line, len, lat, n, gap_ns, out);
	close(sv[0]);
	(void)wait_exit(pid, STOP_MS, NULL);
	return 0;
}

static void
bench_floor(void)
{
	char		 line[1100], path[PATH_MAX];
	uint64_t	*lat, t0, clk;
	double		 fs[3];
	size_t		 len = golden_len + 1, i;
	struct row	*r;
	int		 fd;

	memcpy(line, golden, golden_len);
	line[golden_len] = '\n';
	if ((lat = calloc(FLOOR_N, sizeof *lat)) == NULL)
		return;
	/* The cost of the clock itself, included in every timed call. */
	for (i = 0; i < FLOOR_N / 10; i++) {
		t0 = now_ns();
		lat[i] = now_ns() - t0;
	}
	qsort(lat, FLOOR_N / 10, sizeof *lat, cmp_u64);
	clk = (uint64_t)pct(lat, FLOOR_N / 10, 0.5);

	/*
	 * Back to back, then paced like rows 2e/2f: between paced writes the
	 * reader sleeps in read(2), so each pays the wake-up of another CPU.
	 */
	if (sock_floor(line, len, lat, FLOOR_N, 0, floor_sock) == -1 ||
	    sock_floor(line, len, lat, quick ? EMIT_PACED_N / 10 :
	    EMIT_PACED_N, EMIT_PACED_GAP_NS, floor_paced) == -1) {
		free(lat);
		return;
	}

	snprintf(path, sizeof path, "%s/floor.ndjson", top);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		warnmsg("%s: %s", path, strerror(errno));
		free(lat);
		return;
	}
	timed_writes(fd, line, len, lat, FLOOR_N, 0, floor_file);
	/* The durable variant: append + fdatasync (what fsync=always pays). */
	for (i = 0; i < FSYNC_N; i++) {
		t0 = now_ns();
		if (write(fd, line, len) != (ssize_t)len || fdatasync(fd) ==
		    -1)
			break;
		lat[i] = now_ns() - t0;
	}
	qsort(lat, i, sizeof *lat, cmp_u64);
	fs[0] = pct(lat, i, 0.5);
	fs[1] = pct(lat, i, 0.99);
	close(fd);
	unlink(path);
	free(lat);

	r = row_add("1a", "floor: write(2) → unix stream p50", floor_sock[0],
	    "ns");
	row_note(r, "%zu B record+\\n, reader drains in another process;"
	    " p99 %.0f ns", len, floor_sock[1]);
	r = row_add("1b", "floor: write(2) append to file p50", floor_file[0],
	    "ns");
	row_note(r, "O_APPEND, page cache; p99 %.0f ns", floor_file[1]);
	r = row_add("1d", "floor: paced write(2), reader asleep p99",
	    floor_paced[1], "ns");
	row_note(r, "one write per %llu µs as rows 2e/2f; the reader sleeps in"
	    " read(2) between them, so each write wakes another CPU; p50 %.0f"
	    " ns, p99.9 %.0f ns", (unsigned long long)EMIT_PACED_GAP_NS / 1000,
	    floor_paced[0], floor_paced[2]);
	r = row_add("1c", "floor: append + fdatasync p50", fs[0], "ns");
	row_note(r, "%zu samples; p99 %.0f ns (the disk under fsync=always)",
	    i, fs[1]);
	note_add("Timing: clock_gettime(CLOCK_MONOTONIC) pairs cost %" PRIu64
	    " ns (p50) and are included in every per-call figure, floors"
	    " too.", clk);
}

/* ---- row 10: validator + scrubber --------------------------------- */

static double
valid_ns(const char *rec, size_t len, const struct scrub_ctx *sc,
    struct rec_result *res, size_t *outlen)
{
	struct buf	out = { NULL, 0, 0 };
	uint64_t	per[VALID_BATCHES], t0, t1, k, iters = 1;
	unsigned	b;

	/* Calibrate a batch to at least VALID_BATCH_NS. */
	for (;;) {
		t0 = now_ns();
		for (k = 0; k < iters; k++) {
			out.len = 0;
			if (rec_validate(rec, len, sc, &out, res) != REC_OK)
				goto bad;
		}
		t1 = now_ns();
		if (t1 - t0 >= VALID_BATCH_NS / 4 || iters > (1ULL << 30))
			break;
		iters *= 2;
	}
	iters *= 4;
	for (b = 0; b < VALID_BATCHES; b++) {
		t0 = now_ns();
		for (k = 0; k < iters; k++) {
			out.len = 0;
			rec_validate(rec, len, sc, &out, res);
		}
		t1 = now_ns();
		per[b] = (t1 - t0) * 1000 / iters;	/* ns × 1000 */
	}
	*outlen = out.len;
	buf_free(&out);
	qsort(per, VALID_BATCHES, sizeof *per, cmp_u64);
	return (double)per[VALID_BATCHES / 2] / 1000.0;
bad:
	warnmsg("rec_validate refused the bench record: %s (%s)",
	    rec_code(res->err), res->field);
	buf_free(&out);
	return -1;
}

/*
 * Rows 10c/10d: the privacy firewall's cost. 10c is a typical record: a
 * failed llm_chat with the whole envelope (every structured string checked
 * against its shape) and a 200-character error text; 10d a 4 KiB
 * error_data full of paths and secrets, the worst a caller sends.
 */
static void
bench_firewall(const struct scrub_ctx *sc)
{
	static const char *const bits[] = {
	    "at /home/alice/src/proj/crates/orion-core/src/ledger.rs:42:9 ",
	    "password=hunter2-Zq7 ", "token: ghp_16C7e42F292c6912E7710c838347A"
	    "e178B4a ", "https://user:pw@build-17.corp.example:8443/v1/x?k=y ",
	    "~/work/acme_prod/.env ", "C:\\Users\\Jan Kowalski\\app.exe ",
	    "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z ", "bob@example.com ",
	    "10.20.30.40:5432 ", "/var/lib/acme/secret plans/q3.txt ",
	    "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0\\n-----END "
	    "PRIVATE KEY----- ", "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9."
	    "eyJzdWIiOiIxIn0.sig\\n", "connection refused by the server ",
	};
	struct rec_result	 res;
	struct buf		 rec = { NULL, 0, 0 }, txt = { NULL, 0, 0 };
	struct row		*r;
	size_t			 outlen = 0;
	unsigned		 k, red;
	double			 ns;

	buf_puts(&rec, "{\"device_id\":\"0f8fad5b-d9cb-469f-a165-70867728950e\","
	    "\"launch_id\":\"7c9e6679-7425-40de-944b-e07fc1f90ae7\","
	    "\"account_id\":\"1234567\",\"session_id\":"
	    "\"7c9e6679-7425-40de-944b-e07fc1f90ae7\",\"turn\":3,\"round\":2,"
	    "\"request\":7,\"ts\":1733300000000,\"schema_version\":1,"
	    "\"app_version\":\"4.22.3\",\"os\":\"linux\",\"arch\":\"x86_64\","
	    "\"locale\":\"zh-CN\",\"provider\":\"deepseek\","
	    "\"provider_host\":\"api.deepseek.com\",\"model\":"
	    "\"deepseek-v4-flash\",\"repo_origin\":{\"host\":\"gitcode\","
	    "\"has_git\":true},\"mode\":\"tui\",\"surface\":\"code_review\","
	    "\"event_id\":\"llm_chat\",\"duration_ms\":30000,"
	    "\"tool_calls_count\":0,\"input_tokens\":0,\"output_tokens\":0,"
	    "\"cached_tokens\":0,\"had_error\":true,\"context_window\":128000,"
	    "\"system_tokens\":0,\"tool_def_tokens\":0,\"tool_result_tokens\":0,"
	    "\"message_tokens\":0,\"messages_count\":6,\"error_kind\":"
	    "\"network_error\",\"error_data\":\"error sending request for url "
	    "(https://api.deepseek.com/chat/completions): operation timed out "
	    "after 30s; retrying 3 of 5 (connection reset by peer, os error "
	    "104) while streaming the response to /home/alice/src/proj\"}");
	ns = valid_ns(rec.data, rec.len, sc, &res, &outlen);
	for (red = 0, k = 0; k < SCRUB_NKINDS; k++)
		red += res.redactions[k];
	r = row_add("10c", "firewall: typical record", ns / 1e3, "µs/rec");
	row_ratio(r, floor_file[0] / 1e3, "file");
	row_target(r, 1, 5, "≤ 5 µs");
	row_note(r, "failed llm_chat, whole envelope (7 shaped strings), %zu B"
	    " in, %u placeholders, %zu B out", rec.len, red, outlen - 1);

	for (k = 0; txt.len < 4096; k++)
		buf_puts(&txt, bits[k % (sizeof bits / sizeof bits[0])]);
	txt.len = 4096;
	rec.len = 0;
	buf_printf(&rec, "%.*s,\"error_kind\":\"network_error\","
	    "\"error_data\":", (int)golden_len - 1, golden);
	buf_json_str(&rec, txt.data, txt.len);
	buf_putc(&rec, '}');
	ns = valid_ns(rec.data, rec.len, sc, &res, &outlen);
	for (red = 0, k = 0; k < SCRUB_NKINDS; k++)
		red += res.redactions[k];
	r = row_add("10d", "firewall: 4 KiB error_data of secrets", ns / 1e3,
	    "µs/rec");
	row_ratio(r, floor_file[0] / 1e3, "file");
	row_target(r, 1, 60, "≤ 60 µs");
	row_note(r, "paths, keys, tokens, URLs, e-mails, IPs, PEM; %zu B in,"
	    " %u placeholders, %zu B out (%.0f MB/s)", rec.len, red,
	    outlen - 1, ns > 0 ? (double)rec.len / ns * 1e3 : 0);
	buf_free(&rec);
	buf_free(&txt);
}

static void
bench_validate(void)
{
	struct scrub_ctx	 sc = { "/home/alice", "/home/alice/src/proj" };
	struct rec_result	 res;
	struct buf		 rec = { NULL, 0, 0 }, txt = { NULL, 0, 0 };
	struct row		*r;
	size_t			 outlen = 0;
	unsigned		 k, red;
	double			 ns;

	ns = valid_ns(golden, golden_len, &sc, &res, &outlen);
	r = row_add("10a", "rec_validate: llm_chat golden", ns, "ns/rec");
	row_ratio(r, floor_file[0], "file");
	row_note(r, "%zu B in, %zu B out, rewritten=%d (%.0f MB/s)",
	    golden_len, outlen - 1, res.rewritten,
	    ns > 0 ? (double)golden_len / ns * 1e3 : 0);

	/* A failed request whose error text needs real scrubbing. */
	buf_printf(&txt, "request to https://api.openai.com/v1/chat/"
	    "completions?api_key=sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"
	    " failed: error sending request for url (https://user:pw@"
	    "proxy.corp.example.com:8443/v1/chat/completions): connection"
	    " reset; while reading /home/alice/src/proj/src/main.rs and"
	    " /home/alice/.config/atomcode/config.toml; auth header"
	    " \"Authorization: Bearer ghp_16C7e42F292c6912E7710c838347Ae178B4a\""
	    " rejected; contact alice.smith@example.com; ");
	for (k = 0; txt.len < 1800; k++)
		buf_printf(&txt, "at frame %u /usr/lib/x86_64-linux-gnu/"
		    "libssl.so.3 (openssl_read+0x%x) from /opt/atomcode/lib/"
		    "libhttp_%u.so; ", k, 0x40 + k * 8, k);
	buf_printf(&rec, "%.*s,\"error_kind\":\"network_error\","
	    "\"error_data\":", (int)golden_len - 1, golden);
	buf_json_str(&rec, txt.data, txt.len);
	buf_putc(&rec, '}');
	ns = valid_ns(rec.data, rec.len, &sc, &res, &outlen);
	for (red = 0, k = 0; k < SCRUB_NKINDS; k++)
		red += res.redactions[k];
	r = row_add("10b", "rec_validate: long error_data", ns, "ns/rec");
	row_ratio(r, floor_file[0], "file");
	row_note(r, "%zu B in (%zu B error_data), %u redactions, %zu B out"
	    " (%.0f MB/s)", rec.len, txt.len, red, outlen - 1,
	    ns > 0 ? (double)rec.len / ns * 1e3 : 0);
	bench_firewall(&sc);
	buf_free(&rec);
	buf_free(&txt);
}

/* ---- row 2: emit latency ------------------------------------------ */

static void
opts_init(struct atc_options *o)
{
	memset(o, 0, sizeof *o);
	o->app_version = "4.22.3";
	o->mode = "tui";
	o->provider = "openai";
	o->provider_base_url = "https://api.openai.com/v1";
	o->model = "gpt-4o";
	o->cwd = top;
}

/* The length of the first line of any segment in dir, or 0. */
static size_t
first_line_len(const char *dir)
{
	char		 path[PATH_MAX], b[8192], *nl;
	struct dirent	*de;
	size_t		 len = 0;
	ssize_t		 n;
	DIR		*d;
	int		 fd;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while (len == 0 && (de = readdir(d)) != NULL) {
		if (strstr(de->d_name, ".ndjson") == NULL &&
		    strstr(de->d_name, ".partial") == NULL)
			continue;
		if (strstr(de->d_name, ".owner") != NULL)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		if ((n = read(fd, b, sizeof b - 1)) > 0) {
			b[n] = '\0';
			if ((nl = strchr(b, '\n')) != NULL)
				len = (size_t)(nl - b);
		}
		close(fd);
	}
	closedir(d);
	return len;
}

struct emit_res {
	double			 p[4];	/* p50 p99 p99.9 max, ns */
	double			 sp[3];	/* socket path only: p50 p99 p99.9 */
	double			 fp[3];	/* fallback path only */
	unsigned		 nsock, nfb;
	double			 rate;	/* emits/s inside the timed loop */
	unsigned		 n, errs;
	struct atc_stats	 st;	/* before close */
	enum atc_err		 close;
};

/*
 * n timed emits on a fresh handle after EMIT_WARM untimed ones; gap_ns > 0
 * paces them (busy wait, so no sleep wake-up is measured).
 */
static int
emit_run(unsigned n, uint64_t gap_ns, struct emit_res *er)
{
	struct atc_options	 o;
	struct atc_stats	 st;
	struct atc		*h = NULL;
	char			 pl[EMIT_VARIANTS][512];
	uint64_t		*lat, *ls, *lf, t0, t1, twall, next, fb;
	unsigned		 i;

	memset(er, 0, sizeof *er);
	for (i = 0; i < EMIT_VARIANTS; i++)
		snprintf(pl[i], sizeof pl[i], "{\"duration_ms\":%u,"
		    "\"tool_calls_count\":%u,\"input_tokens\":%u,"
		    "\"output_tokens\":%u,\"cached_tokens\":%u,\"had_error\":"
		    "false,\"context_window\":128000,\"system_tokens\":%u,"
		    "\"tool_def_tokens\":%u,\"tool_result_tokens\":%u,"
		    "\"message_tokens\":%u,\"messages_count\":%u}",
		    1000 + i * 313, i % 5, 900 + i * 1111, 120 + i * 37,
		    i * 64, 400 + i, 300 + i * 3, 100 + i * 50, 100 + i * 7,
		    6 + i);
	lat = calloc(n, sizeof *lat);
	ls = calloc(n, sizeof *ls);
	lf = calloc(n, sizeof *lf);
	opts_init(&o);
	if (lat == NULL || ls == NULL || lf == NULL || atc_open(&o, &h) !=
	    ATC_OK || !atc_enabled(h, NULL)) {
		warnmsg("atc_open failed or telemetry disabled");
		atc_close(h);
		free(lat);
		free(ls);
		free(lf);
		return -1;
	}
	for (i = 0; i < EMIT_WARM; i++)
		atc_emit(h, "llm_chat", pl[i % EMIT_VARIANTS]);
	/* Let the agent catch up with the warm-up before timing. */
	atc_flush(h, 1000);
	atc_get_stats(h, &st);
	fb = st.fallback;
	twall = next = now_ns();
	for (i = 0; i < n; i++) {
		if (gap_ns > 0) {
			next += gap_ns;
			while (now_ns() < next)
				;
		}
		t0 = now_ns();
		if (atc_emit(h, "llm_chat", pl[i % EMIT_VARIANTS]) != ATC_OK)
			er->errs++;
		t1 = now_ns();
		lat[i] = t1 - t0;
		/* Which path did it take? (outside the timed region) */
		atc_get_stats(h, &st);
		if (st.fallback != fb)
			lf[er->nfb++] = t1 - t0;
		else
			ls[er->nsock++] = t1 - t0;
		fb = st.fallback;
	}
	twall = now_ns() - twall;
	atc_get_stats(h, &er->st);
	er->close = atc_close(h);
	qsort(lat, n, sizeof *lat, cmp_u64);
	er->p[0] = pct(lat, n, 0.5);
	er->p[1] = pct(lat, n, 0.99);
	er->p[2] = pct(lat, n, 0.999);
	er->p[3] = (double)lat[n - 1];
	qsort(ls, er->nsock, sizeof *ls, cmp_u64);
	qsort(lf, er->nfb, sizeof *lf, cmp_u64);
	for (i = 0; i < 3; i++) {
		er->sp[i] = pct(ls, er->nsock, i == 0 ? 0.5 : i == 1 ? 0.99 :
		    0.999);
		er->fp[i] = pct(lf, er->nfb, i == 0 ? 0.5 : i == 1 ? 0.99 :
		    0.999);
	}
	er->rate = (double)n / ((double)twall / 1e9);
	er->n = n;
	free(lat);
	free(ls);
	free(lf);
	return 0;
}

static void
bench_emit(struct agentp *a)
{
	struct emit_res	 er, pr;
	struct row	*r;
	unsigned	 n = quick ? EMIT_N / 10 : EMIT_N;
	unsigned	 np = quick ? EMIT_PACED_N / 10 : EMIT_PACED_N;
	size_t		 reclen;

	setenv("ATOMCODE_HOME", a->home, 1);
	if (emit_run(n, 0, &er) == -1)
		return;
	reclen = first_line_len(a->queue);
	r = row_add("2a", "atc_emit latency p50 (agent up)", er.p[0] / 1e3,
	    "µs");
	row_ratio(r, floor_sock[0] / 1e3, "sock");
	row_target(r, 1, 5, "≤ 5 µs");
	row_note(r, "%u back-to-back emits, %zu B records, %.0f k emits/s",
	    n, reclen, er.rate / 1e3);
	r = row_add("2b", "atc_emit latency p99", er.p[1] / 1e3, "µs");
	row_ratio(r, floor_sock[1] / 1e3, "sock");
	row_target(r, 1, 25, "≤ 25 µs");
	r = row_add("2c", "atc_emit latency p99.9", er.p[2] / 1e3, "µs");
	row_ratio(r, floor_sock[2] / 1e3, "sock");
	row_note(r, "max %.0f µs", er.p[3] / 1e3);
	r = row_add("2d", "timed emits that hit the fallback", er.n ? 100.0 *
	    (double)er.nfb / (double)er.n : 0, "%");
	row_note(r, "ring full (1024 unacked): validated + appended to a"
	    " fallback segment in-process; those: p50 %.1f µs, p99 %.1f µs,"
	    " p99.9 %.0f µs", er.fp[0] / 1e3, er.fp[1] / 1e3, er.fp[2] / 1e3);
	r = row_add("2d", "  socket path only: p50", er.sp[0] / 1e3, "µs");
	row_ratio(r, floor_sock[0] / 1e3, "sock");
	row_note(r, "the %u emits that went to the agent: p99 %.1f µs, p99.9"
	    " %.1f µs", er.nsock, er.sp[1] / 1e3, er.sp[2] / 1e3);
	note_add("Row 2: handle stats before close: emitted %" PRIu64
	    ", sent %" PRIu64 ", acked %" PRIu64 ", in ring %" PRIu64
	    ", fallback %" PRIu64 ", reconnects %" PRIu64 ", errors %u;"
	    " atc_close: %s.", er.st.emitted, er.st.sent, er.st.acked,
	    er.st.buffered, er.st.fallback, er.st.reconnects, er.errs,
	    atc_strerror(er.close));

	if (emit_run(np, EMIT_PACED_GAP_NS, &pr) == -1)
		return;
	r = row_add("2e", "atc_emit p50, paced 50k/s", pr.p[0] / 1e3, "µs");
	row_ratio(r, floor_paced[0] / 1e3, "paced");
	row_target(r, 1, 5, "≤ 5 µs");
	row_note(r, "%u emits, one per %llu µs; %u hit the fallback",
	    np, (unsigned long long)EMIT_PACED_GAP_NS / 1000, pr.nfb);
	r = row_add("2f", "atc_emit p99, paced 50k/s", pr.p[1] / 1e3, "µs");
	row_ratio(r, floor_paced[1] / 1e3, "paced");
	row_target(r, 1, 25, "≤ 25 µs");
	row_note(r, "p99.9 %.1f µs, max %.0f µs; socket path only: p50 %.2f,"
	    " p99 %.1f, p99.9 %.1f µs", pr.p[2] / 1e3, pr.p[3] / 1e3,
	    pr.sp[0] / 1e3, pr.sp[1] / 1e3, pr.sp[2] / 1e3);
}

/* ---- row 3: short-CLI lifetimes ----------------------------------- */

struct life_res {
	double		p50, p99, max;		/* whole lifetime, ms */
	double		c50, c99, cmax;		/* atc_close() alone, ms */
	unsigned	n, failed;
};

static void
lifetimes(const char *home, unsigned flags, unsigned n, struct life_res *lr)
{
	struct atc_options	 o;
	struct atc		*h;
	uint64_t		*lat, *cl, t0, tc, t1;
	unsigned		 i, k, okc = 0, bad = 0;

	memset(lr, 0, sizeof *lr);
	lat = calloc(n, sizeof *lat);
	cl = calloc(n, sizeof *cl);
	if (lat == NULL || cl == NULL) {
		free(lat);
		free(cl);
		return;
	}
	setenv("ATOMCODE_HOME", home, 1);
	opts_init(&o);
	o.flags = flags;
	for (i = 0; i < LIFE_WARM + n; i++) {
		t0 = now_ns();
		if (atc_open(&o, &h) != ATC_OK) {
			bad++;
			continue;
		}
		for (k = 0; k < LIFE_EMITS; k++)
			if (atc_emit(h, k == 0 ? "open_atomcode" : "llm_chat",
			    k == 0 ? NULL : "{\"duration_ms\":1234,"
			    "\"tool_calls_count\":2,\"input_tokens\":900,"
			    "\"output_tokens\":120,\"cached_tokens\":768,"
			    "\"had_error\":false,\"context_window\":128000,"
			    "\"system_tokens\":400,\"tool_def_tokens\":300,"
			    "\"tool_result_tokens\":100,\"message_tokens\":100,"
			    "\"messages_count\":6}") != ATC_OK)
				bad++;
		tc = now_ns();
		if (atc_close(h) != ATC_OK)
			bad++;
		t1 = now_ns();
		if (i >= LIFE_WARM) {
			lat[okc] = t1 - t0;
			cl[okc++] = t1 - tc;
		}
	}
	qsort(lat, okc, sizeof *lat, cmp_u64);
	qsort(cl, okc, sizeof *cl, cmp_u64);
	lr->p50 = pct(lat, okc, 0.5) / 1e6;
	lr->p99 = pct(lat, okc, 0.99) / 1e6;
	lr->max = okc > 0 ? (double)lat[okc - 1] / 1e6 : 0;
	lr->c50 = pct(cl, okc, 0.5) / 1e6;
	lr->c99 = pct(cl, okc, 0.99) / 1e6;
	lr->cmax = okc > 0 ? (double)cl[okc - 1] / 1e6 : 0;
	lr->n = okc;
	lr->failed = bad;
	free(lat);
	free(cl);
}

/* A peer that accepts connections and never reads or answers. */
static pid_t
hung_agent(const char *sock)
{
	int	lfd, nfd = 0, fd;
	pid_t	pid;

	if ((lfd = sock_listen(sock, 128)) == -1) {
		warnmsg("hung listener %s: %s", sock, strerror(errno));
		return -1;
	}
	if ((pid = fork_kid()) == 0) {
		struct pollfd	pfd = { lfd, POLLIN, 0 };

		for (;;) {
			if (poll(&pfd, 1, 1000) <= 0)
				continue;
			fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd == -1)
				continue;
			if (nfd < 1024)
				nfd++;		/* held open, never read */
			else
				close(fd);
		}
	}
	close(lfd);
	return pid;
}

static void
life_rows(const char *id, const char *what, const struct life_res *lr,
    double target_p99, const char *target, const char *note)
{
	struct row	*r;
	char		 name[64];

	snprintf(name, sizeof name, "lifetime %s p50", what);
	r = row_add(id, name, lr->p50, "ms");
	row_note(r, "%u runs, %s; max %.2f ms%s", lr->n, note, lr->max,
	    lr->failed ? " — some calls failed" : "");
	snprintf(name, sizeof name, "lifetime %s p99", what);
	r = row_add(id, name, lr->p99, "ms");
	row_note(r, "of which atc_close(): p50 %.2f ms, p99 %.2f ms", lr->c50,
	    lr->c99);
	if (target != NULL)
		row_target(r, 1, target_p99, target);
}

static void
bench_lifetime_up(struct agentp *a)
{
	struct life_res	 lr;
	json_t		*s0, *s1;
	uint64_t	 p0 = 0, p1 = 0;
	unsigned	 n = quick ? LIFE_N / 5 : LIFE_N;

	if ((s0 = agent_status(a)) != NULL)
		p0 = jget(s0, "counters", "persisted");
	lifetimes(a->home, 0, n, &lr);
	if ((s1 = agent_status(a)) != NULL)
		p1 = jget(s1, "counters", "persisted");
	json_decref(s0);
	json_decref(s1);
	life_rows("3a", "(agent up)", &lr, 1, "≤ 1 ms", "fresh handle per run"
	    " in one process");
	note_add("Row 3a: open + 3 emits + close(ack) per run, %u runs +"
	    " %u warm-up; the agent persisted %" PRIu64 " events (expected"
	    " %u).", lr.n, LIFE_WARM, p1 - p0, (lr.n + LIFE_WARM) *
	    LIFE_EMITS);
}

static void
bench_lifetime_down(void)
{
	struct life_res	 lr;
	struct row	*r;
	char		 home[PATH_MAX / 2], sock[PATH_MAX];
	unsigned	 n = quick ? LIFE_N / 5 : LIFE_N;
	unsigned	 nh = quick ? LIFE_HUNG_N / 5 : LIFE_HUNG_N;
	pid_t		 hp;

	/* (b) no agent: the library tries to spawn /bin/false, then falls back. */
	snprintf(home, sizeof home, "%s/noagent", top);
	if (mkdir_home(home) == -1)
		return;
	lifetimes(home, 0, n, &lr);
	life_rows("3b", "(no agent)", &lr, 5, "≤ 5 ms",
	    "ATOMCODE_TELEMETRYD=/bin/false: spawn attempt + fallback");
	/* (b') the same without the spawn attempt: the fallback alone. */
	snprintf(home, sizeof home, "%s/nospawn", top);
	if (mkdir_home(home) == -1)
		return;
	lifetimes(home, ATC_F_NO_SPAWN, n, &lr);
	life_rows("3b'", "(no agent, NO_SPAWN)", &lr, 5, NULL,
	    "ATC_F_NO_SPAWN: fallback segment only");
	/* (c) a hung agent: accepts, never reads or answers. */
	snprintf(home, sizeof home, "%s/hung", top);
	snprintf(sock, sizeof sock, "%s/telemetry.sock", home);
	if (mkdir_home(home) == -1 || (hp = hung_agent(sock)) == -1)
		return;
	lifetimes(home, 0, nh, &lr);
	kid_stop(hp);
	life_rows("3c", "(hung agent)", &lr, 0, NULL,
	    "peer accepts, never reads");
	r = row_add("3c", "  of which atc_close() max", lr.cmax, "ms");
	row_target(r, 1, 100, "≤ 100 ms");
	row_note(r, "close p50 %.1f ms, p99 %.1f ms: waits the 100 ms bound,"
	    " then spills to a fallback segment", lr.c50, lr.c99);
	note_add("Row 3b/3b'/3c: the fallback writes a fresh segment per run"
	    " (queue_append, then fsync + rename on close); the queue caps"
	    " (50 files) evict old ones once full, as on a real machine"
	    " without an agent.");
}

/* ---- rows 4, 6, 9: ingest ----------------------------------------- */

struct child_res {
	uint64_t	acked, errors;
	int		ok;
};

/* A client process: connect, hello, wait for go, pipeline, flush, ack. */
static void __attribute__((noreturn))
ingest_child(const char *sock, const struct frames *f, uint64_t n, int gofd,
    int resfd)
{
	struct child_res	 cr;
	struct buf		 in = { NULL, 0, 0 };
	char			 c = 'r';
	int			 fd;

	memset(&cr, 0, sizeof cr);
	if ((fd = connect_agent(sock)) == -1 || send_hello(fd) == -1) {
		(void)write(resfd, &c, 1);
		(void)write(resfd, &cr, sizeof cr);
		_exit(1);
	}
	if (write(resfd, &c, 1) != 1 || read(gofd, &c, 1) != 1)
		_exit(1);
	if (frames_send(fd, f, n) == 0 &&
	    flush_ack(fd, &in, n, &cr.acked, &cr.errors) == 0)
		cr.ok = 1;
	(void)write(resfd, &cr, sizeof cr);
	close(fd);
	_exit(cr.ok ? 0 : 1);
}

static int
ingest_run(struct agentp *a, const struct frames *f, uint64_t nper,
    struct ingest_res *ir)
{
	struct child_res	 cr;
	json_t			*s0, *s1;
	pid_t			 pids[INGEST_CLIENTS];
	uint64_t		 t0, t1, p0, p1, d0, d1, last_rss = 0;
	long long		 c0, c1;
	long			 rss;
	int			 go[2], res[2], i, alive, ok = 1;
	char			 ch;

	memset(ir, 0, sizeof *ir);
	if ((s0 = agent_status(a)) == NULL)
		return -1;
	p0 = jget(s0, "counters", "persisted");
	d0 = jget(s0, "counters", "dropped");
	json_decref(s0);
	if (pipe(go) == -1 || pipe(res) == -1)
		return -1;
	for (i = 0; i < INGEST_CLIENTS; i++) {
		if ((pids[i] = fork_kid()) == 0) {
			close(go[1]);
			close(res[0]);
			ingest_child(a->sock, f, nper, go[0], res[1]);
		}
	}
	close(go[0]);
	close(res[1]);
	for (i = 0; i < INGEST_CLIENTS; i++)
		if (read(res[0], &ch, 1) != 1)
			ok = 0;
	c0 = proc_cpu_ticks(a->pid);
	t0 = now_ns();
	for (i = 0; i < INGEST_CLIENTS; i++)
		(void)write(go[1], "g", 1);
	close(go[1]);
	for (alive = INGEST_CLIENTS; alive > 0;) {
		for (i = 0; i < INGEST_CLIENTS; i++)
			if (pids[i] > 0 && waitpid(pids[i], NULL, WNOHANG) ==
			    pids[i]) {
				kid_forget(pids[i]);
				pids[i] = 0;
				alive--;
			}
		if (now_ns() - last_rss >= RSS_EVERY_US * 1000ULL) {
			last_rss = now_ns();
			if ((rss = proc_kb(a->pid, "VmRSS")) > ir->rss_max_kb)
				ir->rss_max_kb = rss;
		}
		if (now_ns() - t0 > (uint64_t)WAIT_MS * 1000000ULL) {
			warnmsg("ingest clients did not finish in %d ms",
			    WAIT_MS);
			for (i = 0; i < INGEST_CLIENTS; i++)
				kid_stop(pids[i]);
			ok = 0;
			break;
		}
		if (alive > 0)
			sleep_us(200);
	}
	t1 = now_ns();
	c1 = proc_cpu_ticks(a->pid);
	ir->hwm_kb = proc_kb(a->pid, "VmHWM");
	for (i = 0; i < INGEST_CLIENTS; i++) {
		if (read(res[0], &cr, sizeof cr) != (ssize_t)sizeof cr ||
		    !cr.ok)
			ok = 0;
		ir->acked += cr.acked;
		ir->errors += cr.errors;
	}
	close(res[0]);
	if ((s1 = agent_status(a)) == NULL)
		return -1;
	p1 = jget(s1, "counters", "persisted");
	d1 = jget(s1, "counters", "dropped");
	json_decref(s1);
	ir->sent = nper * INGEST_CLIENTS;
	ir->persisted = p1 - p0;
	ir->dropped = d1 - d0;
	ir->wall_s = (double)(t1 - t0) / 1e9;
	ir->evps = (double)ir->persisted / ir->wall_s;
	ir->wall_ns_per_ev = ir->persisted ? (double)(t1 - t0) /
	    (double)ir->persisted : 0;
	if (c0 >= 0 && c1 >= 0 && ir->persisted > 0)
		ir->cpu_us_per_ev = (double)(c1 - c0) * 1e6 / (double)clk_tck /
		    (double)ir->persisted;
	if (!ok)
		warnmsg("an ingest client failed (acked %" PRIu64 " of %"
		    PRIu64 ")", ir->acked, ir->sent);
	else if (ir->persisted != ir->sent)
		note_add("Ingest on %s: the agent counted %" PRIu64 " persisted"
		    " of %" PRIu64 " acked (%" PRIu64 " refused).", a->home,
		    ir->persisted, ir->sent, ir->errors);
	return ok ? 0 : -1;
}

static const char *
fsync_conf(const char *level)
{
	static char	b[128];

	snprintf(b, sizeof b, "[queue]\nfsync = %s\n", level);
	return b;
}

static void
bench_ingest(const struct frames *f, long idle_rss_kb)
{
	static const char *const lv[] = { "roll", "always", "never" };
	struct ingest_res	 ir, roll;
	struct agentp		 a;
	struct row		*r;
	char			 name[32], id[8];
	uint64_t		 n = quick ? INGEST_N / 10 : INGEST_N;
	uint64_t		 n9 = quick ? INGEST_N_FSYNC / 10 : INGEST_N_FSYNC;
	unsigned		 i;

	/* Row 4 (and 6b): the default fsync = roll, the big burst. */
	if (agent_start(&a, "ingest", NULL, DEAD_ENDPOINT) == 0) {
		if (ingest_run(&a, f, n, &ir) == 0) {
			r = row_add("4a", "ingest, 4 pipelining clients",
			    ir.evps, "ev/s");
			row_target(r, 0, 200000, "≥ 200000");
			row_note(r, "%" PRIu64 " persisted of %" PRIu64
			    " sent (acked %" PRIu64 ", %" PRIu64 " refused)"
			    " in %.2f s; %" PRIu64 " evicted by the caps",
			    ir.persisted, ir.sent, ir.acked, ir.errors,
			    ir.wall_s, ir.dropped);
			r = row_add("4b", "ingest wall per event",
			    ir.wall_ns_per_ev, "ns");
			row_ratio(r, floor_file[0], "file");
			r = row_add("4c", "agent CPU per event",
			    ir.cpu_us_per_ev * 1e3, "ns");
			row_ratio(r, floor_file[0], "file");
			row_note(r, "utime+stime from /proc/<pid>/stat"
			    " (%ld Hz ticks)", clk_tck);
			r = row_add("6b", "agent RSS under load (max)",
			    (double)ir.rss_max_kb / 1024.0, "MiB");
			row_target(r, 1, 16, "≤ 16 MiB");
			row_note(r, "VmRSS sampled every %d ms during row 4;"
			    " VmHWM %.1f MiB", RSS_EVERY_US / 1000,
			    (double)ir.hwm_kb / 1024.0);
		}
		agent_stop(&a);
	}
	if (idle_rss_kb > 0) {
		r = row_add("6a", "agent RSS idle", (double)idle_rss_kb / 1024.0,
		    "MiB");
		row_target(r, 1, 4, "≤ 4 MiB");
		row_note(r, "VmRSS of a fresh agent, empty queue (row 7's)");
	}

	/* Row 9: the three fsync levels, one fresh agent each, same load. */
	memset(&roll, 0, sizeof roll);
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof name, "fsync-%s", lv[i]);
		if (agent_start(&a, name, fsync_conf(lv[i]), DEAD_ENDPOINT) ==
		    -1)
			continue;
		if (ingest_run(&a, f, n9, &ir) == -1) {
			agent_stop(&a);
			continue;
		}
		agent_stop(&a);
		if (i == 0)
			roll = ir;
		snprintf(id, sizeof id, "9%c", 'a' + i);
		snprintf(name, sizeof name, "ingest, fsync = %s", lv[i]);
		r = row_add(id, name, ir.evps, "ev/s");
		row_note(r, "%.0f ns wall, %.0f ns agent CPU per event; %"
		    PRIu64 " evicted", ir.wall_ns_per_ev, ir.cpu_us_per_ev *
		    1e3, ir.dropped);
		if (i > 0 && roll.evps > 0 && ir.evps > 0) {
			r->ratio = roll.evps / ir.evps;
			snprintf(r->basis, sizeof r->basis, "roll");
		}
	}
	note_add("Rows 4/9: %d client processes each connect, send hello,"
	    " then on a common start pipeline N llm_chat frames (%zu–%zu B,"
	    " %d ts variants; N = %" PRIu64 " per client for row 4, %" PRIu64
	    " for each row 9 level) with blocking writes, then flush and wait"
	    " for the ack; events/s = counters.persisted delta / (start → last"
	    " ack). Endpoint is a closed port, so nothing uploads and the caps"
	    " (50 files / 5 MiB ready) evict during the burst.",
	    INGEST_CLIENTS, f->rec_min, f->rec_max, FRAME_VARIANTS, n, n9);
}

/* ---- row 8: SIGTERM with 100k events just sent -------------------- */

/* Lines in every segment file of dir. */
static uint64_t
count_lines(const char *dir)
{
	char		 path[PATH_MAX], b[65536], *p;
	struct dirent	*de;
	uint64_t	 c = 0;
	ssize_t		 n;
	DIR		*d;
	int		 fd;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strstr(de->d_name, ".owner") !=
		    NULL)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		while ((n = read(fd, b, sizeof b)) > 0)
			for (p = b; (p = memchr(p, '\n', (size_t)(b + n - p)))
			    != NULL; p++)
				c++;
		close(fd);
	}
	closedir(d);
	return c;
}

static uint64_t
read_u64_file(const char *path)
{
	char		b[64], *end;
	uint64_t	v;
	ssize_t		n;
	int		fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, b, sizeof b - 1);
	close(fd);
	if (n <= 0)
		return 0;
	b[n] = '\0';
	errno = 0;
	v = strtoull(b, &end, 10);
	return errno != 0 || end == b ? 0 : v;
}

static void
bench_sigterm(const struct frames *f)
{
	struct agentp	 a;
	struct row	*r;
	char		 path[PATH_MAX];
	uint64_t	 n = quick ? TERM_N / 10 : TERM_N, t0, t1, t2, lines;
	uint64_t	 dropped;
	int		 fd, st = 0;

	if (agent_start(&a, "sigterm", NULL, DEAD_ENDPOINT) == -1)
		return;
	if ((fd = connect_agent(a.sock)) == -1 || send_hello(fd) == -1) {
		warnmsg("sigterm: cannot connect");
		agent_stop(&a);
		return;
	}
	t0 = now_ns();
	if (frames_send(fd, f, n) == -1)
		warnmsg("sigterm: send failed");
	t1 = now_ns();
	kill(a.pid, SIGTERM);
	if (wait_exit(a.pid, STOP_MS, &st) == -1) {
		warnmsg("sigterm: agent still alive after %d ms", STOP_MS);
		agent_stop(&a);
		close(fd);
		return;
	}
	t2 = now_ns();
	close(fd);
	lines = count_lines(a.queue);
	snprintf(path, sizeof path, "%s/telemetry/queue-dropped", a.home);
	dropped = read_u64_file(path);
	r = row_add("8", "SIGTERM → exit, 100k just sent", (double)(t2 - t1) /
	    1e6, "ms");
	row_note(r, "send took %.0f ms; on disk after exit %" PRIu64
	    " + evicted %" PRIu64 " = %" PRIu64 " of %" PRIu64 "; exit %d",
	    (double)(t1 - t0) / 1e6, lines, dropped, lines + dropped, n,
	    WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
	note_add("Row 8: SIGTERM is sent the moment the client's last"
	    " write(2) returns (up to a socket buffer of frames is still"
	    " unread); shutdown reads what clients already sent, commits,"
	    " fsyncs, rolls and exits. The agent holds no events in memory"
	    " beyond one loop pass, so everything sent is on disk or counted"
	    " as evicted by the caps.");
}

/* ---- row 5: end to end -------------------------------------------- */

#define DRAIN_SEGMENTS	80	/* segments of 500 records drained in row 5d */
#define DRAIN_BACKLOG	12	/* ready files kept ahead (12 x 365 KB < the 5 MiB cap) */

/*
 * Row 5d: upload only. A producer keeps up to DRAIN_BACKLOG ready segments
 * of varied records in the queue of a running agent (below the 50-file cap)
 * and the agent drains them to the sink; time = agent start → last record
 * at the sink. Nothing is ingested over the socket in this row.
 */
static void
bench_drain(struct sink_stats *ss, int port)
{
	struct agentp		 a;
	struct gen		 g;
	struct buf		 lines = { NULL, 0, 0 };
	struct queue		*q = NULL;
	struct queue_stats	 st;
	struct row		*r;
	char			 ep[128], home[PATH_MAX], qdir[PATH_MAX + 32];
	char			 cause[256];
	uint64_t		 r0, t0, tw, n, written = 0, i, segs;
	long long		 ac0, ac1;
	double			 secs;

	segs = quick ? DRAIN_SEGMENTS / 8 : DRAIN_SEGMENTS;
	n = segs * 500;
	memset(&g, 0, sizeof g);
	for (i = 0; i < 4; i++)
		rnd_uuid(g.dev[i]);
	g.ts = TS_BASE;
	gen_session(&g);
	for (i = 0; i < n; i++) {
		if (gen_record(&g, &lines) == -1 || buf_putc(&lines, '\n') == -1) {
			warnmsg("drain: cannot build records");
			goto out;
		}
	}
	snprintf(home, sizeof home, "%s/drain", top);
	snprintf(qdir, sizeof qdir, "%s/telemetry/queue", home);
	if (mkdir_home(home) == -1 || queue_open(qdir, QUEUE_O_CREATE, &q,
	    cause, sizeof cause) == -1) {
		warnmsg("drain: %s", cause);
		goto out;
	}
	queue_set_fsync(q, QUEUE_FSYNC_NEVER);
	/* Prefill, then start the agent: it uploads what recovery finds. */
	{
		const char	*p = lines.data, *e = lines.data + lines.len;
		const char	*seg_end;
		unsigned	 k;

		for (; written < segs && written < DRAIN_BACKLOG; written++) {
			for (seg_end = p, k = 0; k < 500 && seg_end < e; k++)
				seg_end = (const char *)memchr(seg_end, '\n',
				    (size_t)(e - seg_end)) + 1;
			if (queue_write_ready(q, p, (size_t)(seg_end - p)) == -1) {
				warnmsg("drain: write_ready: %s", strerror(errno));
				goto out;
			}
			p = seg_end;
		}
		snprintf(ep, sizeof ep, "http://127.0.0.1:%d/v1/events", port);
		r0 = __atomic_load_n(&ss->records, __ATOMIC_ACQUIRE);
		t0 = now_ns();
		if (agent_start(&a, "drain", NULL, ep) == -1)
			goto out;
		ac0 = proc_cpu_ticks(a.pid);
		while (written < segs) {
			if (queue_stats(q, &st) == 0 &&
			    st.ready_segments >= DRAIN_BACKLOG) {
				sleep_us(200);
				continue;
			}
			for (seg_end = p, k = 0; k < 500 && seg_end < e; k++)
				seg_end = (const char *)memchr(seg_end, '\n',
				    (size_t)(e - seg_end)) + 1;
			if (queue_write_ready(q, p, (size_t)(seg_end - p)) == -1) {
				warnmsg("drain: write_ready: %s", strerror(errno));
				break;
			}
			p = seg_end;
			written++;
		}
	}
	tw = now_ns();
	while (__atomic_load_n(&ss->records, __ATOMIC_ACQUIRE) - r0 < n &&
	    now_ns() - tw < (uint64_t)WAIT_MS * 1000000ULL)
		sleep_us(200);
	ac1 = proc_cpu_ticks(a.pid);
	agent_stop(&a);
	secs = (double)(__atomic_load_n(&ss->last_ns, __ATOMIC_ACQUIRE) - t0) /
	    1e9;
	i = __atomic_load_n(&ss->records, __ATOMIC_ACQUIRE) - r0;
	r = row_add("5d", "upload only: queue drain to sink", secs > 0 ?
	    (double)i / secs : 0, "ev/s");
	row_target(r, 0, 100000, "≥ 100000");
	row_note(r, "%" PRIu64 " of %" PRIu64 " records in %.2f s from agent"
	    " start; agent CPU %.0f ns/ev (gzip level 1)", i, n, secs,
	    ac0 >= 0 && ac1 >= 0 && i > 0 ? (double)(ac1 - ac0) * 1e9 /
	    (double)clk_tck / (double)i : 0);
out:
	if (q != NULL)
		queue_close(q);
	buf_free(&lines);
}

static void
bench_e2e(void)
{
	struct sink_stats	*ss;
	struct agentp		 a;
	struct frames		 f;
	struct gen		 g;
	struct buf		 rec = { NULL, 0, 0 };
	struct row		*r;
	char			 pf[PATH_MAX], sf[PATH_MAX], exe[PATH_MAX];
	char			 ep[128], conf[128];
	json_t			*s;
	uint64_t		 n = quick ? E2E_N / 10 : E2E_N, i, sent = 0;
	uint64_t		 t0, tw, got = 0, dropped = 0, d0 = 0, t_stat = 0;
	uint64_t		 up_ev = 0, up_seg = 0, up_fail = 0;
	long long		 ac0, ac1, sc0, sc1;
	double			 secs;
	pid_t			 sp;
	int			 fd, port = 0;

	snprintf(pf, sizeof pf, "%s/sink.port", top);
	snprintf(sf, sizeof sf, "%s/sink.stats", top);
	snprintf(exe, sizeof exe, "%s/bench/sink", build);
	if ((sp = fork_kid()) == 0) {
		execl(exe, "sink", pf, sf, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 500 && (port = (int)read_u64_file(pf)) == 0; i++)
		sleep_us(10000);
	if (port == 0 || (fd = open(sf, O_RDONLY | O_CLOEXEC)) == -1) {
		warnmsg("sink did not start");
		kid_stop(sp);
		return;
	}
	ss = mmap(NULL, sizeof *ss, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (ss == MAP_FAILED || __atomic_load_n(&ss->magic, __ATOMIC_ACQUIRE)
	    != SINK_MAGIC) {
		warnmsg("sink stats unavailable");
		kid_stop(sp);
		return;
	}

	/* The records, generated before the clock starts. */
	memset(&f, 0, sizeof f);
	memset(&g, 0, sizeof g);
	for (i = 0; i < 4; i++)
		rnd_uuid(g.dev[i]);
	g.ts = TS_BASE;
	gen_session(&g);
	for (i = 0; i < n; i++) {
		rec.len = 0;
		if (gen_record(&g, &rec) == -1 ||
		    frames_add(&f, rec.data, rec.len, n) == -1) {
			warnmsg("e2e: cannot build records");
			goto out;
		}
	}

	snprintf(ep, sizeof ep, "http://127.0.0.1:%d/v1/events", port);
	snprintf(conf, sizeof conf, "[queue]\nroll_interval_ms = 200\n");
	if (agent_start(&a, "e2e", conf, ep) == -1)
		goto out;
	if ((s = agent_status(&a)) != NULL) {
		d0 = jget(s, "counters", "dropped");
		json_decref(s);
	}
	if ((fd = connect_agent(a.sock)) == -1 || send_hello(fd) == -1) {
		warnmsg("e2e: cannot connect");
		agent_stop(&a);
		goto out;
	}
	ac0 = proc_cpu_ticks(a.pid);
	sc0 = proc_cpu_ticks(sp);
	t0 = now_ns();
	while (sent < n) {
		/* Closed loop: at most E2E_WINDOW records not yet delivered. */
		tw = now_ns();
		while (sent - __atomic_load_n(&ss->records, __ATOMIC_ACQUIRE) >
		    E2E_WINDOW && now_ns() - tw < (uint64_t)WAIT_MS * 1000000ULL)
			sleep_us(100);
		i = sent + E2E_CHUNK <= n ? E2E_CHUNK : n - sent;
		if (write_all(fd, f.b.data + f.off[sent], f.off[sent + i] -
		    f.off[sent]) == -1) {
			warnmsg("e2e: send: %s", strerror(errno));
			break;
		}
		sent += i;
	}
	tw = now_ns();
	while ((got = __atomic_load_n(&ss->records, __ATOMIC_ACQUIRE)) +
	    dropped < n && now_ns() - tw < (uint64_t)WAIT_MS * 1000000ULL) {
		if (now_ns() - t_stat > 250000000ULL) {
			t_stat = now_ns();
			if ((s = agent_status(&a)) != NULL) {
				dropped = jget(s, "counters", "dropped") - d0;
				json_decref(s);
			}
		}
		sleep_us(200);
	}
	ac1 = proc_cpu_ticks(a.pid);
	sc1 = proc_cpu_ticks(sp);
	if ((s = agent_status(&a)) != NULL) {
		dropped = jget(s, "counters", "dropped") - d0;
		up_ev = jget(s, "counters", "uploaded_events");
		up_seg = jget(s, "counters", "uploaded_segments");
		up_fail = jget(s, "counters", "upload_failures");
		json_decref(s);
	}
	close(fd);
	agent_stop(&a);
	secs = (double)(__atomic_load_n(&ss->last_ns, __ATOMIC_ACQUIRE) - t0) /
	    1e9;
	r = row_add("5a", "end to end to local sink", secs > 0 ?
	    (double)got / secs : 0, "ev/s");
	row_note(r, "%" PRIu64 " of %" PRIu64 " delivered in %.2f s, %" PRIu64
	    " POSTs, %" PRIu64 " evicted, %" PRIu64 " upload failures", got,
	    n, secs, ss->requests, dropped, up_fail);
	if (got > 0 && secs > 0) {
		r = row_add("5b", "end to end wall per event", secs * 1e9 /
		    (double)got, "ns");
		row_ratio(r, floor_file[0], "file");
		row_note(r, "agent CPU %.0f ns/ev, sink CPU %.0f ns/ev",
		    ac0 >= 0 && ac1 >= 0 ? (double)(ac1 - ac0) * 1e9 /
		    (double)clk_tck / (double)got : 0,
		    sc0 >= 0 && sc1 >= 0 ? (double)(sc1 - sc0) * 1e9 /
		    (double)clk_tck / (double)got : 0);
	}
	r = row_add("5c", "gzip ratio, varied records", ss->body_bytes ?
	    (double)ss->raw_bytes / (double)ss->body_bytes : 0, "×");
	row_note(r, "%.1f MB raw → %.2f MB gzip (level 1), avg %.0f B/record,"
	    " %.0f records/POST", (double)ss->raw_bytes / 1e6,
	    (double)ss->body_bytes / 1e6, got ? (double)ss->raw_bytes /
	    (double)got : 0, ss->requests ? (double)got /
	    (double)ss->requests : 0);
	note_add("Row 5: one producer pipelines %" PRIu64 " generated llm_chat"
	    " records (%zu–%zu B: 4 devices, sessions of 50–450 requests, 6"
	    " provider/model pairs, random tokens, ~8%% failures with"
	    " error_data) in %d-record writes, keeping at most %d records"
	    " sent but not yet at the sink so the caps never evict; time ="
	    " first write → the sink's last POST. The sink is tests/bench/"
	    "sink.c (evhttp + zlib). Agent reports %" PRIu64 " events in %"
	    PRIu64 " segments uploaded.", n, f.rec_min, f.rec_max, E2E_CHUNK,
	    E2E_WINDOW, up_ev, up_seg);
	bench_drain(ss, port);
out:
	buf_free(&rec);
	frames_free(&f);
	kid_stop(sp);
	munmap(ss, sizeof *ss);
}

/* ---- row 7: idle wake-ups ----------------------------------------- */

static long
bench_idle(void)
{
	struct agentp	 a;
	struct row	*r;
	long long	 c0, c1;
	long		 rss0, rss1, anon, file;
	char		 top6[512];
	int		 idle = quick ? 5 : IDLE_S, nt0, nt1;
	const char	*env;
	char		*end;

	if ((env = getenv("BENCH_IDLE_S")) != NULL) {
		idle = (int)strtol(env, &end, 10);
		if (*end != '\0' || idle < 1 || idle > IDLE_S)
			idle = IDLE_S;
	}
	if (agent_start(&a, "idle", NULL, DEAD_ENDPOINT) == -1)
		return -1;
	sleep_us(500000);	/* let the start-up work settle */
	rss0 = proc_kb(a.pid, "VmRSS");
	anon = proc_kb(a.pid, "RssAnon");
	file = proc_kb(a.pid, "RssFile");
	proc_smaps_top(a.pid, top6, sizeof top6);
	c0 = proc_ctxt(a.pid, &nt0);
	sleep_us((unsigned)idle * 1000000U);
	c1 = proc_ctxt(a.pid, &nt1);
	rss1 = proc_kb(a.pid, "VmRSS");
	agent_stop(&a);
	note_add("Row 6a: idle VmRSS %.1f MiB = RssAnon %.1f MiB (heap, stacks,"
	    " library data) + RssFile %.1f MiB (mapped library and program"
	    " pages, shared with other processes); largest mappings: %s.",
	    (double)rss0 / 1024, (double)anon / 1024, (double)file / 1024,
	    top6);
	r = row_add("7", "idle wake-ups", (double)(c1 - c0) * 60.0 / idle,
	    "/min");
	row_note(r, "%lld ctxt switches in %d s%s, %d thread(s); RSS %.1f →"
	    " %.1f MiB", c1 - c0, idle, idle == IDLE_S ? " (full window)" :
	    " (scaled to 60 s)", nt1, (double)rss0 / 1024, (double)rss1 / 1024);
	return rss0;
}

/* ---- background load ---------------------------------------------- */

#define BG_WINDOW_US	1000000	/* background sample before and after */
#define BG_MAX_PROCS	4096	/* processes looked at */
#define BG_SHOW_PCT	10	/* list other processes above this CPU % */
#define BG_QUIET_CPUS	0.3	/* "quiet": fewer busy CPUs than this */
#define BG_WAIT_MAX_S	120	/* BENCH_WAIT_QUIET is capped (watchdog) */
#define BG_WAIT_DEFAULT_S "60"	/* default BENCH_WAIT_QUIET, seconds */

struct bgproc {
	pid_t		pid, ppid;
	long long	ticks;
	char		comm[20];
};

/* CPU ticks of every process now; returns the count. */
static size_t
bg_scan(struct bgproc *v, size_t max)
{
	struct dirent	*de;
	char		 path[300], b[512], *o, *c;
	size_t		 n = 0;
	ssize_t		 r;
	DIR		*d;
	int		 fd;

	if ((d = opendir("/proc")) == NULL)
		return 0;
	while (n < max && (de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		r = read(fd, b, sizeof b - 1);
		close(fd);
		if (r <= 0)
			continue;
		b[r] = '\0';
		if ((o = strchr(b, '(')) == NULL || (c = strrchr(b, ')')) ==
		    NULL || c < o)
			continue;
		v[n].pid = (pid_t)strtol(de->d_name, NULL, 10);
		v[n].ppid = c[1] == ' ' && c[2] != '\0' && c[3] == ' ' ?
		    (pid_t)strtol(c + 4, NULL, 10) : 0;
		snprintf(v[n].comm, sizeof v[n].comm, "%.*s", (int)(c - o - 1),
		    o + 1);
		v[n].ticks = proc_cpu_ticks(v[n].pid);
		if (v[n].ticks >= 0)
			n++;
	}
	closedir(d);
	return n;
}

/*
 * Other people's CPU over an interval: machine-wide busy time (/proc/stat:
 * user, nice, system, irq, softirq) minus our own (this process, the
 * children it reaped, and the children still running). Short-lived
 * processes of others count too, which a per-process scan would miss.
 */
struct bgmark {
	uint64_t	t;		/* now_ns() */
	double		busy_s;		/* machine-wide busy CPU seconds */
	double		own_s;		/* ours */
};

static double
stat_busy_s(void)
{
	unsigned long long	 v[8];
	FILE			*fp;

	memset(v, 0, sizeof v);
	if ((fp = fopen("/proc/stat", "re")) == NULL)
		return 0;
	if (fscanf(fp, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
	    &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
		memset(v, 0, sizeof v);
	fclose(fp);
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6]) / (double)clk_tck;
}

static void
bg_mark(struct bgmark *m)
{
	struct rusage	ru;
	long long	t;
	int		i;

	m->t = now_ns();
	m->busy_s = stat_busy_s();
	m->own_s = 0;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		m->own_s += (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	if (getrusage(RUSAGE_CHILDREN, &ru) == 0)
		m->own_s += (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	for (i = 0; i < nkids; i++)
		if (kids[i] > 0 && (t = proc_cpu_ticks(kids[i])) > 0)
			m->own_s += (double)t / (double)clk_tck;
}

/* CPUs others kept busy, on average, since m. */
static double
bg_others(const struct bgmark *m)
{
	struct bgmark	e;
	double		wall;

	bg_mark(&e);
	wall = (double)(e.t - m->t) / 1e9;
	if (wall <= 0)
		return 0;
	wall = ((e.busy_s - m->busy_s) - (e.own_s - m->own_s)) / wall;
	return wall > 0 ? wall : 0;
}

/* Per-part accounting: the rows a part added get the others' CPU. */
static struct bgmark	bg_m0;
static int		bg_row0;

static void
bg_part_start(void)
{
	bg_mark(&bg_m0);
	bg_row0 = nrows;
}

static void
bg_part_end(const char *part)
{
	double		 cpus = bg_others(&bg_m0);
	char		 tmp[sizeof rows[0].note];
	int		 r;

	json_object_set_new(jbgparts, part, json_real(cpus));
	if (cpus < BG_QUIET_CPUS)
		return;
	for (r = bg_row0; r < nrows; r++) {
		snprintf(tmp, sizeof tmp, "[others used %.1f CPU] %s", cpus,
		    rows[r].note);
		memcpy(rows[r].note, tmp, sizeof tmp);
	}
}

/* Busy CPUs machine-wide over us microseconds (/proc/stat). */
static double
bg_busy(unsigned us)
{
	unsigned long long	 s[2][8], tot = 0, idle;
	FILE			*fp;
	int			 k, j;

	memset(s, 0, sizeof s);
	for (k = 0; k < 2; k++) {
		if (k == 1)
			sleep_us(us);
		if ((fp = fopen("/proc/stat", "re")) == NULL)
			return -1;
		if (fscanf(fp, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
		    &s[k][0], &s[k][1], &s[k][2], &s[k][3], &s[k][4],
		    &s[k][5], &s[k][6], &s[k][7]) != 8)
			memset(s[k], 0, sizeof s[k]);
		fclose(fp);
	}
	for (j = 0; j < 8; j++)
		tot += s[1][j] - s[0][j];
	idle = (s[1][3] - s[0][3]) + (s[1][4] - s[0][4]);
	return tot > 0 ? (double)(tot - idle) / (double)tot *
	    (double)sysconf(_SC_NPROCESSORS_ONLN) : -1;
}

/* BENCH_WAIT_QUIET=S: wait up to S s for the machine to become quiet. */
static void
bg_wait_quiet(void)
{
	const char	*env = getenv("BENCH_WAIT_QUIET");
	uint64_t	 t0 = now_ns();
	long		 s;
	double		 b = -1;
	char		*end;

	if (env == NULL || *env == '\0')
		env = BG_WAIT_DEFAULT_S;
	s = strtol(env, &end, 10);
	if (*end != '\0' || s <= 0)
		return;
	if (s > BG_WAIT_MAX_S)
		s = BG_WAIT_MAX_S;
	fprintf(stderr, "bench: waiting up to %ld s for < %.1f busy CPUs\n",
	    s, BG_QUIET_CPUS);
	while (now_ns() - t0 < (uint64_t)s * 1000000000ULL &&
	    (b = bg_busy(1000000)) >= BG_QUIET_CPUS)
		;
	if (now_ns() - t0 < 1500000000ULL)
		return;		/* quiet from the start: nothing to say */
	note_add("Waited %.0f s for a quiet machine (BENCH_WAIT_QUIET=%s);"
	    " last sample %.2f busy CPUs.", (double)(now_ns() - t0) / 1e9, env,
	    b);
}

/* Machine-wide busy CPUs (from /proc/stat) over BG_WINDOW_US, and who. */
static void
bg_load(const char *when, json_t *m)
{
	static struct bgproc	 a[BG_MAX_PROCS], b[BG_MAX_PROCS];
	char			 who[512] = "", one[64], la[64] = "";
	size_t			 na, nb, i, k;
	double			 busy, p;
	FILE			*fp;
	json_t			*o;

	na = bg_scan(a, BG_MAX_PROCS);
	busy = bg_busy(BG_WINDOW_US);
	nb = bg_scan(b, BG_MAX_PROCS);
	for (i = 0; i < nb; i++)
		for (k = 0; k < na; k++)
			if (a[k].pid == b[i].pid) {
				p = (double)(b[i].ticks - a[k].ticks) * 100.0 /
				    (double)clk_tck / (BG_WINDOW_US / 1e6);
				if (p >= BG_SHOW_PCT && b[i].pid != getpid()) {
					snprintf(one, sizeof one, "%s%s %.0f%%",
					    who[0] ? ", " : "", b[i].comm, p);
					if (strlen(who) + strlen(one) < sizeof who)
						memcpy(who + strlen(who), one,
						    strlen(one) + 1);
				}
				break;
			}
	if ((fp = fopen("/proc/loadavg", "re")) != NULL) {
		if (fgets(la, sizeof la, fp) == NULL)
			la[0] = '\0';
		la[strcspn(la, " ")] = '\0';
		fclose(fp);
	}
	o = json_pack("{s:f, s:s, s:s}", "busy_cpus", busy, "loadavg_1m", la,
	    "top", who);
	json_object_set_new(m, when, o);
	note_add("Background load %s the run: %.2f of %ld CPUs busy over %d s"
	    " (loadavg %s)%s%s%s.", when, busy, sysconf(_SC_NPROCESSORS_ONLN),
	    BG_WINDOW_US / 1000000, la, who[0] ? "; other processes: " : "",
	    who, busy > 0.3 ? " — other work was running: figures that"
	    " depend on CPU time or scheduling are pessimistic" : "");
}

/* ---- rows 11: the Rust crate (bindings/rust) ---------------------- */

#define RUST_TRACK_N	50000	/* track() calls timed */
#define RUST_LIFE_N	300	/* in-process short CLIs */
#define RUST_PROC_N	50	/* whole short-CLI processes */
#define UPSTREAM_EXIT_MS 500	/* upstream's shutdown(500 ms) at every exit */

/* Run the Rust bench example with args; its one output line into out. */
static int
rust_run(const char *exe, const char *args, char *out, size_t n)
{
	char	 cmd[PATH_MAX + 64];
	FILE	*fp;
	int	 st;

	snprintf(cmd, sizeof cmd, "'%s' %s", exe, args);
	if ((fp = popen(cmd, "r")) == NULL)
		return -1;
	if (fgets(out, (int)n, fp) == NULL)
		out[0] = '\0';
	st = pclose(fp);
	return st == 0 && out[0] != '\0' ? 0 : -1;
}

static void
bench_rust(struct agentp *a)
{
	char		 exe[PATH_MAX], line[256], args[64];
	double		 v[5] = { 0 };
	uint64_t	*lat, t0;
	unsigned	 i, ok = 0, n = quick ? RUST_PROC_N / 5 : RUST_PROC_N;
	struct row	*r;
	pid_t		 pid;
	int		 st;

	snprintf(exe, sizeof exe, "%s/rust/release/examples/bench", build);
	if (access(exe, X_OK) != 0) {
		note_add("Rows 11 (Rust crate): not run, %s is missing (cargo"
		    " not installed?)", exe);
		return;
	}
	setenv("ATOMCODE_HOME", a->home, 1);
	snprintf(args, sizeof args, "track %u", quick ? RUST_TRACK_N / 10 :
	    RUST_TRACK_N);
	if (rust_run(exe, args, line, sizeof line) == -1 ||
	    sscanf(line, "%lf %lf %lf %lf %lf", &v[0], &v[1], &v[2], &v[3],
	    &v[4]) != 5) {
		warnmsg("rust bench track failed");
		return;
	}
	r = row_add("11a", "Rust track() p50 (agent up)", v[0] / 1e3, "µs");
	row_note(r, "Telemetry::track(Event::LlmChat{..}) through the C"
	    " builder, %s calls back to back; compare row 2a", args + 6);
	r = row_add("11b", "Rust track() p99", v[1] / 1e3, "µs");
	row_note(r, "p99.9 %.1f µs; %.0f acked by the agent, %.0f to the"
	    " fallback (the ring was full)", v[2] / 1e3, v[3], v[4]);

	snprintf(args, sizeof args, "life %u", quick ? RUST_LIFE_N / 5 :
	    RUST_LIFE_N);
	if (rust_run(exe, args, line, sizeof line) == -1 ||
	    sscanf(line, "%lf %lf %lf", &v[0], &v[1], &v[2]) != 3) {
		warnmsg("rust bench life failed");
		return;
	}
	r = row_add("11c", "Rust init+3 track+shutdown p50", v[0] / 1e6, "ms");
	row_note(r, "in one process, %s runs; shutdown(500 ms) returns when"
	    " the agent has confirmed", args + 5);
	r = row_add("11d", "Rust init+3 track+shutdown p99", v[1] / 1e6, "ms");
	row_note(r, "max %.2f ms; %.3f %% of upstream's 500 ms exit (row 11g)",
	    v[2] / 1e6, 100 * v[1] / 1e6 / UPSTREAM_EXIT_MS);

	if ((lat = calloc(n, sizeof *lat)) == NULL)
		return;
	for (i = 0; i < n + 3; i++) {
		t0 = now_ns();
		if ((pid = fork_kid()) == -1)
			break;
		if (pid == 0) {
			int fd = open("/dev/null", O_WRONLY);

			if (fd != -1) {
				dup2(fd, STDOUT_FILENO);
				dup2(fd, STDERR_FILENO);
			}
			execl(exe, "bench", "cli", (char *)NULL);
			_exit(127);
		}
		if (wait_exit(pid, 10000, &st) == -1 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0) {
			warnmsg("rust bench cli failed");
			break;
		}
		if (i >= 3)
			lat[ok++] = now_ns() - t0;
	}
	qsort(lat, ok, sizeof *lat, cmp_u64);
	r = row_add("11e", "Rust short CLI process p50", pct(lat, ok, 0.5) /
	    1e6, "ms");
	row_note(r, "fork + exec of a Rust binary doing init, 3 tracks,"
	    " shutdown(500 ms), exit; %u runs", ok);
	r = row_add("11f", "Rust short CLI process p99", pct(lat, ok, 0.99) /
	    1e6, "ms");
	row_note(r, "%.2f %% of upstream's 500 ms exit budget alone (row 11g)",
	    100 * pct(lat, ok, 0.99) / 1e6 / UPSTREAM_EXIT_MS);
	free(lat);
	r = row_add("11g", "upstream: shutdown budget at exit", UPSTREAM_EXIT_MS,
	    "ms");
	row_note(r, "upstream's Telemetry::shutdown(500 ms) at every exit, spent"
	    " uploading the backlog in-process; its configured bound, not"
	    " measured here");
}

/* ---- output ------------------------------------------------------- */

/* Is part in the comma-separated list of env var (unset: everything)? */
static int
in_list(const char *var, const char *part)
{
	const char	*only = getenv(var), *p;
	size_t		 n = strlen(part);

	if (only == NULL || *only == '\0')
		return 1;
	for (p = only; (p = strstr(p, part)) != NULL; p += n)
		if ((p == only || p[-1] == ',') && (p[n] == '\0' ||
		    p[n] == ','))
			return 1;
	return 0;
}

/* BENCH_ONLY=a,b runs only those parts (development and profiling). */
static int
want(const char *part)
{
	return in_list("BENCH_ONLY", part);
}

static void
fmt_num(char *b, size_t n, double v)
{
	double	a = v < 0 ? -v : v;

	if (a >= 1e6)
		snprintf(b, n, "%.0f", v);
	else if (a >= 100)
		snprintf(b, n, "%.0f", v);
	else if (a >= 10)
		snprintf(b, n, "%.1f", v);
	else
		snprintf(b, n, "%.2f", v);
}

/* Width of a UTF-8 string in terminal columns (one per code point). */
static int
cols(const char *s)
{
	int	n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static void
pad(FILE *fp, const char *s, int w, int right)
{
	int	c = cols(s);

	if (right)
		fprintf(fp, "%*s%s", w > c ? w - c : 0, "", s);
	else
		fprintf(fp, "%s%*s", s, w > c ? w - c : 0, "");
}

/* ---- rows 12: a storm of short-lived clients ----------------------- */

#define STORM_PROCS	4	/* client processes, unpaced */
#define STORM_N		5000	/* connections per process */
#define STORM_TS_BASE	7000000000LL	/* ts of event k: base + k */

static pid_t	peer_mover_start(const char *, const char *);

/* Run tests/tools/storm with args; its one output line into out. */
static int
storm_run(const char *args, char *out, size_t n)
{
	char	 cmd[PATH_MAX * 2];
	FILE	*fp;
	int	 st;

	snprintf(cmd, sizeof cmd, "'%s/tests/storm' %s", build, args);
	if ((fp = popen(cmd, "r")) == NULL)
		return -1;
	if (fgets(out, (int)n, fp) == NULL)
		out[0] = '\0';
	st = pclose(fp);
	return out[0] != '\0' && WIFEXITED(st) && WEXITSTATUS(st) <= 1 ? 0 :
	    -1;
}

/*
 * Rows 12: STORM_PROCS processes each do STORM_N times, as fast as they
 * can, connect → hello → one event frame → close, never reading a reply
 * (a shell loop of short commands, a CI matrix); every event carries a
 * unique ts. A mover takes ready segments out of the queue as they appear
 * (so the 50-file / 5 MiB caps never evict); after SIGTERM every event is
 * looked for, by its ts, in the queue and in what was moved: lost and
 * duplicated are counted per event. Latency: connect() to close()
 * returning, in the client.
 */
static void
bench_storm(void)
{
	struct agentp	 a;
	struct row	*r;
	char		 args[PATH_MAX * 2], line[256], moved[PATH_MAX];
	unsigned long	 sent = 0, failed = 0, stored = 0, lost = 0, dup = 0;
	unsigned	 n = quick ? STORM_N / 10 : STORM_N;
	double		 p50 = 0, p99 = 0, mx = 0;
	uint64_t	 t0, t1;
	pid_t		 mpid;

	if (agent_start(&a, "storm", NULL, DEAD_ENDPOINT) == -1)
		return;
	snprintf(moved, sizeof moved, "%s/storm-moved", top);
	if ((mpid = peer_mover_start(a.queue, moved)) == -1) {
		warnmsg("storm: cannot start the mover");
		agent_stop(&a);
		return;
	}
	snprintf(args, sizeof args, "seq '%s' %d %u %lld", a.sock,
	    STORM_PROCS, n, STORM_TS_BASE);
	t0 = now_ns();
	if (storm_run(args, line, sizeof line) == -1 || sscanf(line,
	    "sent %lu failed %lu p50_us %lf p99_us %lf max_us %lf", &sent,
	    &failed, &p50, &p99, &mx) != 5)
		warnmsg("storm: the clients failed: %s", line);
	t1 = now_ns();
	agent_stop(&a);
	kid_stop(mpid);
	snprintf(args, sizeof args, "count %lld %u '%s' '%s'", STORM_TS_BASE,
	    STORM_PROCS * n, a.queue, moved);
	if (storm_run(args, line, sizeof line) == -1 || sscanf(line,
	    "stored %lu lost %lu duplicated %lu", &stored, &lost, &dup) != 3) {
		warnmsg("storm: cannot count: %s", line);
		return;
	}
	r = row_add("12a", "storm: lost of 4 × 5,000 unpaced", (double)lost,
	    "events");
	row_target(r, 1, 0, "0");
	row_note(r, "connect, hello, one event, close, as fast as they go;"
	    " %lu of %u written whole (%lu refused by the kernel), %lu stored,"
	    " %lu duplicated; the clients took %.2f s", sent, STORM_PROCS * n,
	    failed, stored, dup, (double)(t1 - t0) / 1e9);
	r = row_add("12b", "storm: p99 connect → close", p99, "µs");
	row_note(r, "in the client, never waiting for a reply; max %.0f µs",
	    mx);
	r = row_add("12c", "storm: p50 connect → close", p50, "µs");
	row_note(r, "connect() returns once the connection is in the listen"
	    " backlog; the client never waits for the agent");
}

/* ---- peer: syslog-ng beside the agent ------------------------------ */

/*
 * The agent against the peer a user would otherwise pick, syslog-ng
 * (Debian's syslog-ng-core + syslog-ng-mod-http), on the same machine, the
 * same records and the same clients, in one run: each round runs every
 * workload against every target, the order of the targets rotating from
 * round to round, and the table shows the median of the rounds.
 *
 * Records are the 553-byte upstream-format llm_chat (peer_record); each
 * carries a unique id in "request" so that every event is looked for, per
 * id, in the store (queue segments, syslog-ng's file) and at the sink:
 * lost and duplicated are counted per event. Clients send one record per
 * write(2): a frame to the agent (after a hello, as the library does), the
 * same bytes newline-terminated to syslog-ng, frames to the read-and-
 * discard reader (the ingest floor).
 *
 * syslog-ng runs with the config of peer_sng_conf: unix-stream source
 * (flags(no-parse): the line is the message), flow control, the message
 * written unchanged to a file (no fsync), and for the paced workload also
 * through a reliable disk-buffer to an http() destination posting batches
 * to the same sink as the agent's uploads (tests/bench/sink.c).
 */
#define PEER_ROUNDS	3
#define PEER_CLIENTS	4
#define PEER_BURST_N	50000	/* records per client, burst */
#define PEER_PACED_RATE	20000	/* records/s, all clients together */
#define PEER_PACED_S	5
#define PEER_CONN_RATE	2000	/* connections/s, all clients together */
#define PEER_CONN_S	2
#define PEER_STORM_N	2500	/* connections per client, unpaced */
#define PEER_LAT_MAX	4096	/* latency samples per client */
#define PEER_REC_LEN	553
#define PEER_SETTLE_MS	1500	/* store unchanged this long: it is done */
#define PEER_RUN_MS	60000	/* any one run, at most */
#define PEER_WATCHDOG_S	400	/* added to the watchdog when peer runs */
#define PEER_SNG_BATCH	500	/* http() batch-lines, as a segment */
#define PEER_SNG_CONNS	1024	/* max-connections(), the agent's client limit */
#define PEER_READ_CHUNK	(128 * 1024)	/* the discard reader's read(2), as the agent's */

enum peer_target { PT_SNG, PT_OURS, PT_DISCARD, PT_N };
enum peer_mode { PM_BURST, PM_PACED, PM_CONN, PM_STORM, PM_N };

static const char *const peer_tname[PT_N] = { "syslog-ng", "ours",
    "discard" };
static const char *const peer_mname[PM_N] = { "burst", "paced", "conn",
    "storm" };

/* What one client process reports (shared memory). */
struct peer_client {
	uint64_t	t_end_write;	/* its last write(2) returned */
	uint64_t	t_end_ack;	/* the agent acked everything (ours) */
	uint64_t	sent;		/* records written whole */
	uint64_t	refused;	/* connect or write failed: not sent */
	uint32_t	nlat;
	uint32_t	lat[PEER_LAT_MAX];	/* connect → close, ns */
	int		ok;
};

/* What the read-and-discard reader reports (shared memory). */
struct peer_discard {
	uint64_t	bytes;
	uint64_t	t_last;
};

/* One run: one workload against one target in one round. */
struct peer_res {
	int		ok;
	uint64_t	n;		/* records the clients were to send */
	uint64_t	sent, refused;
	double		ingest_evps, e2e_evps, cpu_us, rss_mib;
	double		sys_share;	/* stime / (utime + stime) */
	double		wakeups;	/* context switches per event */
	double		others;		/* CPUs others kept busy meanwhile */
	double		p50_us, p99_us;
	uint64_t	lost, dup;	/* in the store, per id */
	uint64_t	lost_http, dup_http;	/* at the sink, per id */
	uint64_t	evicted;	/* the agent's caps (queue-dropped) */
	double		secs;
};

static struct peer_res	 peer_res[PEER_ROUNDS][PM_N][PT_N];
static int		 peer_ran;
static int		 peer_rounds = PEER_ROUNDS;	/* BENCH_PEER_ROUNDS */
static char		 peer_sng_version[64];

/*
 * The 553-byte llm_chat record of event id, in upstream order, with a
 * fixed width for every number so each record has the same length. Returns
 * the length, or 0.
 */
static size_t
peer_record(char *out, size_t outlen, uint64_t id, unsigned client)
{
	static const char *const dev[PEER_CLIENTS] = {
	    "3f2c9a71-5b8e-4d0a-9c61-2e7f4b8d1a05",
	    "a81d4e26-0c9f-4b37-8e52-7d1c6a9f3b40",
	    "5c07b3e9-2a64-4f18-b9d3-1e8a5c7f2d69",
	    "e4b96a12-7d3c-4e85-a0f7-9b2d6c1e8f33" };
	unsigned	v = (unsigned)(id % 97);
	int		n;

	n = snprintf(out, outlen, "{\"device_id\":\"%s\",\"launch_id\":"
	    "\"%.24s%012x\",\"session_id\":\"%.24s%012x\",\"request\":%"
	    PRIu64 ",\"ts\":%" PRIu64 ",\"schema_version\":1,\"app_version\":"
	    "\"4.22.3\",\"os\":\"linux\",\"arch\":\"x86_64\",\"locale\":"
	    "\"en-US\",\"event_id\":\"llm_chat\",\"duration_ms\":%u,"
	    "\"tool_calls_count\":%u,\"input_tokens\":%u,\"output_tokens\":%u,"
	    "\"cached_tokens\":%u,\"had_error\":false,\"context_window\":128000,"
	    "\"system_tokens\":%u,\"tool_def_tokens\":%u,\"tool_result_tokens\":"
	    "%u,\"message_tokens\":%u,\"messages_count\":%u}",
	    dev[client % PEER_CLIENTS], dev[client % PEER_CLIENTS],
	    0x100000u + client, dev[client % PEER_CLIENTS], 0x200000u + client,
	    (uint64_t)(SINK_ID_BASE + id), (uint64_t)TS_BASE + id, 1000 + v * 91, v % 10,
	    100 + v * 9, 100 + v * 7, 100 + v * 5, 100 + v * 3, 100 + v * 2,
	    100 + v, 100 + v * 4, 1 + v % 9);
	return n > 0 && (size_t)n < outlen ? (size_t)n : 0;
}

static const char *
peer_sock(const char *dir)
{
	static char	b[PATH_MAX];

	snprintf(b, sizeof b, "%s/in.sock", dir);
	return b;
}

/* Pace: sleep until t (absolute CLOCK_MONOTONIC ns). */
static void
peer_sleep_until(uint64_t t)
{
	struct timespec	ts = { (time_t)(t / 1000000000ULL),
	    (long)(t % 1000000000ULL) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	    EINTR)
		;
}

static int
peer_connect(const char *sock)
{
	struct timeval	tv = { IO_TIMEOUT_S, 0 };
	int		fd;

	/* Blocking connect, bounded: a full backlog waits rather than fails. */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	{
		struct sockaddr_un	sun;

		memset(&sun, 0, sizeof sun);
		sun.sun_family = AF_UNIX;
		if (strlen(sock) >= sizeof sun.sun_path) {
			close(fd);
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(sun.sun_path, sock, strlen(sock) + 1);
		if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

/*
 * One client process. Persistent modes (burst, paced): one connection, one
 * write(2) per record; the agent is then asked to flush and its ack awaited
 * (the ack means "in the store"). Per-event modes (conn, storm): a
 * connection per record (connect, hello for the agent, the record, close),
 * timed from connect to close.
 */
static void __attribute__((noreturn))
peer_client(enum peer_mode m, enum peer_target t, const char *sock,
    unsigned k, uint64_t n, uint64_t gap_ns, struct peer_client *pc,
    int gofd, int readyfd)
{
	struct buf	 hello = { NULL, 0, 0 }, in = { NULL, 0, 0 };
	char		 rec[PEER_REC_LEN + 64], fr[PEER_REC_LEN + 64], *home;
	uint64_t	 i, id, t0, t1, go, acked;
	size_t		 len, flen;
	int		 fd = -1;
	char		 c = 'r';

	memset(pc, 0, sizeof *pc);
	home = getenv("HOME");
	/* The hello the library sends, encoded once. */
	if (buf_printf(&hello, "{\"op\":\"hello\",\"proto\":%d,\"client\":"
	    "\"atc-bench/1\",\"pid\":%ld,\"cwd\":\"%s\",\"home\":\"%s\"}",
	    PROTO_VERSION, (long)getpid(), top, home != NULL &&
	    strchr(home, '"') == NULL && strchr(home, '\\') == NULL ? home :
	    "/nonexistent") == -1)
		_exit(1);
	{
		struct buf	tmp = { NULL, 0, 0 };

		if (frame_encode(&tmp, hello.data, hello.len) == -1)
			_exit(1);
		buf_free(&hello);
		hello = tmp;
	}
	if (m == PM_BURST || m == PM_PACED) {
		if ((fd = peer_connect(sock)) == -1 || (t == PT_OURS &&
		    write_all(fd, hello.data, hello.len) == -1)) {
			(void)write(readyfd, "x", 1);
			_exit(1);
		}
	}
	if (write(readyfd, &c, 1) != 1 || read(gofd, &go, sizeof go) !=
	    (ssize_t)sizeof go)
		_exit(1);
	for (i = 0; i < n; i++) {
		id = (uint64_t)k * n + i;
		len = peer_record(rec, sizeof rec, id, k);
		if (t == PT_SNG) {
			memcpy(fr, rec, len);
			fr[len] = '\n';
			flen = len + 1;
		} else {
			fr[0] = (char)(len >> 24);
			fr[1] = (char)(len >> 16);
			fr[2] = (char)(len >> 8);
			fr[3] = (char)len;
			memcpy(fr + 4, rec, len);
			flen = len + 4;
		}
		if (gap_ns > 0)
			peer_sleep_until(go + (i * PEER_CLIENTS + k) * gap_ns);
		if (m == PM_BURST || m == PM_PACED) {
			if (write_all(fd, fr, flen) == -1) {
				pc->refused += n - i;
				break;
			}
			pc->sent++;
			continue;
		}
		t0 = now_ns();
		if ((fd = peer_connect(sock)) == -1) {
			pc->refused++;
			continue;
		}
		if ((t == PT_OURS && write_all(fd, hello.data, hello.len) ==
		    -1) || write_all(fd, fr, flen) == -1)
			pc->refused++;
		else
			pc->sent++;
		close(fd);
		t1 = now_ns();
		fd = -1;
		if (pc->nlat < PEER_LAT_MAX)
			pc->lat[pc->nlat++] = (uint32_t)(t1 - t0);
	}
	pc->t_end_write = now_ns();
	pc->ok = 1;
	if (fd != -1 && t == PT_OURS) {
		acked = 0;
		pc->ok = flush_ack(fd, &in, pc->sent, &acked, NULL) == 0;
		pc->t_end_ack = now_ns();
	}
	if (fd != -1)
		close(fd);
	buf_free(&hello);
	buf_free(&in);
	_exit(0);
}

/* The ingest floor: a process that accepts, reads and discards. */
static pid_t
peer_discard_start(const char *sock, struct peer_discard *pd)
{
	static unsigned char	 b[PEER_READ_CHUNK];
	struct pollfd		 pfd[1 + 64];
	nfds_t			 np = 1, i;
	ssize_t			 r;
	pid_t			 pid;
	int			 lfd, fd;

	if ((lfd = sock_listen(sock, 1024)) == -1) {
		warnmsg("discard: listen %s: %s", sock, strerror(errno));
		return -1;
	}
	if ((pid = fork_kid()) != 0) {
		close(lfd);
		return pid;
	}
	pfd[0].fd = lfd;
	pfd[0].events = POLLIN;
	for (;;) {
		if (poll(pfd, np, -1) == -1)
			continue;
		if ((pfd[0].revents & POLLIN) && np < 1 + 64 &&
		    (fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK |
		    SOCK_CLOEXEC)) != -1) {
			pfd[np].fd = fd;
			pfd[np++].events = POLLIN;
		}
		for (i = 1; i < np; i++) {
			if (pfd[i].revents == 0)
				continue;
			r = read(pfd[i].fd, b, sizeof b);
			if (r > 0) {
				__atomic_add_fetch(&pd->bytes, (uint64_t)r,
				    __ATOMIC_RELAXED);
				__atomic_store_n(&pd->t_last, now_ns(),
				    __ATOMIC_RELEASE);
			} else if (r == 0 || errno != EAGAIN) {
				close(pfd[i].fd);
				pfd[i--] = pfd[--np];
			}
		}
	}
}

/*
 * The agent's caps evict ready segments past 5 MiB when nothing uploads
 * (the endpoint is a closed port here); syslog-ng's file only grows. So
 * that both keep every event, this process takes each ready segment out
 * of the queue as it appears (a rename, like an uploader's claim).
 */
static pid_t
peer_mover_start(const char *qdir, const char *dst)
{
	struct pollfd	 pfd;
	struct dirent	*de;
	char		 from[PATH_MAX], to[PATH_MAX];
	char		 ev[4096] __attribute__((aligned(8)));
	pid_t		 pid;
	DIR		*d;
	int		 ifd;

	if (mkdir(dst, 0700) == -1 && errno != EEXIST)
		return -1;
	if ((pid = fork_kid()) != 0)
		return pid;
	ifd = inotify_init1(IN_CLOEXEC);
	if (ifd != -1)
		inotify_add_watch(ifd, qdir, IN_MOVED_TO);
	pfd.fd = ifd;
	pfd.events = POLLIN;
	for (;;) {
		if (ifd == -1)
			sleep_us(20000);
		else if (poll(&pfd, 1, 50) > 0)
			(void)read(ifd, ev, sizeof ev);
		if ((d = opendir(qdir)) == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			size_t	l = strlen(de->d_name);

			if (l < 7 || strcmp(de->d_name + l - 7, ".ndjson") != 0)
				continue;
			if (snprintf(from, sizeof from, "%s/%s", qdir,
			    de->d_name) < (int)sizeof from && snprintf(to,
			    sizeof to, "%s/%s", dst, de->d_name) < (int)sizeof to)
				(void)rename(from, to);
		}
		closedir(d);
	}
}

/* Count the ids of every line of fd into cnt[0..n); lines without one: *other. */
static void
peer_count_fd(int fd, uint8_t *cnt, uint64_t n, uint64_t *other)
{
	static const char	 key[] = "\"request\":";
	static char		 b[1 << 16];
	size_t			 have = 0, l;
	ssize_t			 r;
	char			*p, *nl, *k, *e;
	uint64_t		 v;

	for (;;) {
		r = read(fd, b + have, sizeof b - have);
		if (r <= 0)
			break;
		have += (size_t)r;
		e = b + have;
		for (p = b; (nl = memchr(p, '\n', (size_t)(e - p))) != NULL;
		    p = nl + 1) {
			k = memmem(p, (size_t)(nl - p), key, sizeof key - 1);
			v = 0;
			if (k != NULL)
				for (k += sizeof key - 1; k < nl && *k >= '0' &&
				    *k <= '9' && v < SINK_ID_BASE * 10; k++)
					v = v * 10 + (uint64_t)(*k - '0');
			if (v >= SINK_ID_BASE && v - SINK_ID_BASE < n) {
				if (cnt[v - SINK_ID_BASE] < 255)
					cnt[v - SINK_ID_BASE]++;
			} else
				(*other)++;
		}
		l = (size_t)(e - p);
		if (l == sizeof b)
			l = 0;		/* a line longer than b: not ours */
		memmove(b, p, l);
		have = l;
	}
}

/* Count the ids in every file of dir except lock markers. */
static void
peer_count_dir(const char *dir, uint8_t *cnt, uint64_t n, uint64_t *other)
{
	char		 path[PATH_MAX];
	struct dirent	*de;
	DIR		*d;
	int		 fd;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strstr(de->d_name, ".owner") !=
		    NULL)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) ==
		    -1)
			continue;
		peer_count_fd(fd, cnt, n, other);
		close(fd);
	}
	closedir(d);
}

static void
peer_tally(const uint8_t *cnt, uint64_t n, uint64_t *lost, uint64_t *dup)
{
	uint64_t	i;

	*lost = *dup = 0;
	for (i = 0; i < n; i++) {
		if (cnt[i] == 0)
			(*lost)++;
		else
			*dup += cnt[i] - 1U;
	}
}

/* syslog-ng's configuration for a run (see the comment at the top). */
static int
peer_sng_conf(const char *dir, int port)
{
	char	path[PATH_MAX], b[4096];
	int	n;

	n = snprintf(b, sizeof b,
	    "@version: 3.38\n"
	    "# atomcode-telemetryd bench peer (tests/bench/bench.c)\n"
	    "options { stats-freq(0); log-msg-size(65536); threaded(yes);\n"
	    "  use-dns(no); use-fqdn(no); log-fifo-size(102400); };\n"
	    "source s_in { unix-stream(\"%s/in.sock\" flags(no-parse)\n"
	    "  max-connections(%d) log-iw-size(%d)); };\n"
	    "destination d_store { file(\"%s/store.log\"\n"
	    "  template(\"${MSG}\\n\")); };\n"
	    "log { source(s_in); destination(d_store); flags(flow-control); };\n",
	    dir, PEER_SNG_CONNS, PEER_SNG_CONNS * 100, dir);
	if (n > 0 && port > 0 && (size_t)n < sizeof b)
		n += snprintf(b + n, sizeof b - (size_t)n,
		    "destination d_http { http(\n"
		    "  url(\"http://127.0.0.1:%d/v1/events\") method(\"POST\")\n"
		    "  headers(\"Content-Type: application/x-ndjson\")\n"
		    "  body(\"${MSG}\") delimiter(\"\\n\") body-suffix(\"\\n\")\n"
		    "  batch-lines(%d) batch-timeout(1000) workers(1) timeout(10)\n"
		    "  disk-buffer(reliable(yes) dir(\"%s\")\n"
		    "    disk-buf-size(134217728) mem-buf-size(1048576))); };\n"
		    "log { source(s_in); destination(d_http); flags(flow-control); };\n",
		    port, PEER_SNG_BATCH, dir);
	if (n <= 0 || (size_t)n >= sizeof b)
		return -1;
	snprintf(path, sizeof path, "%s/syslog-ng.conf", dir);
	return write_file(path, b);
}

static pid_t
peer_sng_start(const char *dir, int port)
{
	char		 conf[PATH_MAX], a1[PATH_MAX + 32], a2[PATH_MAX + 32];
	char		 a3[PATH_MAX + 32], logp[PATH_MAX];
	uint64_t	 t0;
	pid_t		 pid;
	int		 fd;

	if (peer_sng_conf(dir, port) == -1)
		return -1;
	snprintf(conf, sizeof conf, "%s/syslog-ng.conf", dir);
	snprintf(a1, sizeof a1, "--persist-file=%s/syslog-ng.persist", dir);
	snprintf(a2, sizeof a2, "--pidfile=%s/syslog-ng.pid", dir);
	snprintf(a3, sizeof a3, "--control=%s/syslog-ng.ctl", dir);
	snprintf(logp, sizeof logp, "%s/syslog-ng.out", dir);
	if ((pid = fork_kid()) == -1)
		return -1;
	if (pid == 0) {
		if ((fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0600)) !=
		    -1) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			close(fd);
		}
		execlp("syslog-ng", "syslog-ng", "-F", "--no-caps", "-f", conf,
		    a1, a2, a3, (char *)NULL);
		_exit(127);
	}
	for (t0 = now_ns(); now_ns() - t0 < (uint64_t)START_MS * 1000000ULL;
	    sleep_us(10000)) {
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			kid_forget(pid);
			warnmsg("syslog-ng exited at start; see %s", logp);
			return -1;
		}
		if ((fd = peer_connect(peer_sock(dir))) != -1) {
			close(fd);	/* an empty connection: no message */
			return pid;
		}
	}
	warnmsg("syslog-ng did not listen within %d ms; see %s", START_MS, logp);
	kid_stop(pid);
	return -1;
}

/* Start a fresh sink; its stats are mapped at *ss. Port, or -1. */
static int
peer_sink_start(const char *dir, pid_t *pid, struct sink_stats **ss)
{
	char	pf[PATH_MAX], sf[PATH_MAX], exe[PATH_MAX];
	int	i, fd, port = 0;

	snprintf(pf, sizeof pf, "%s/sink.port", dir);
	snprintf(sf, sizeof sf, "%s/sink.stats", dir);
	snprintf(exe, sizeof exe, "%s/bench/sink", build);
	if ((*pid = fork_kid()) == 0) {
		execl(exe, "sink", pf, sf, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 500 && (port = (int)read_u64_file(pf)) == 0; i++)
		sleep_us(10000);
	if (port == 0 || (fd = open(sf, O_RDONLY | O_CLOEXEC)) == -1) {
		warnmsg("peer: sink did not start");
		kid_stop(*pid);
		return -1;
	}
	*ss = mmap(NULL, sizeof **ss, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (*ss == MAP_FAILED || __atomic_load_n(&(*ss)->magic,
	    __ATOMIC_ACQUIRE) != SINK_MAGIC) {
		warnmsg("peer: sink stats unavailable");
		*ss = NULL;
		kid_stop(*pid);
		return -1;
	}
	return port;
}

static off_t
peer_fsize(const char *path)
{
	struct stat	st;

	return stat(path, &st) == 0 ? st.st_size : 0;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t	x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * BENCH_PERF_DIR=dir (development): profile the target of each run with
 * `perf record -g` into dir/<run>.data, from the start to the end of the
 * measurement. Returns perf's pid, or 0.
 */
static pid_t
peer_perf_start(pid_t target, const char *name)
{
	const char	*dir = getenv("BENCH_PERF_DIR");
	char		 out[PATH_MAX], tp[32];
	pid_t		 pid;

	if (dir == NULL || *dir == '\0')
		return 0;
	snprintf(out, sizeof out, "%s/%s.data", dir, name);
	snprintf(tp, sizeof tp, "%ld", (long)target);
	if ((pid = fork_kid()) == 0) {
		execlp("perf", "perf", "record", "-q", "-g", "-e", "cpu-clock",
		    "-F", "10000", "-p", tp, "-o", out, (char *)NULL);
		_exit(127);
	}
	sleep_us(300000);	/* let it attach */
	return pid > 0 ? pid : 0;
}

/* One workload against one target; fills *r. */
static void
peer_run(enum peer_mode m, enum peer_target t, int round, struct peer_res *r)
{
	struct peer_client	*pc = MAP_FAILED;
	struct peer_discard	*pd = MAP_FAILED;
	struct sink_stats	*ss = NULL;
	struct agentp		 a;
	char			 dir[PATH_MAX / 2], path[PATH_MAX], sock[PATH_MAX];
	char			 name[64], ep[128], col[PATH_MAX], top6[512];
	pid_t			 pids[PEER_CLIENTS], dpid = 0, spid = 0;
	pid_t			 mpid = 0, sinkpid = 0;
	uint64_t		 per, gap = 0, go, t_e2e = 0, t_last_change;
	uint64_t		 t_ingest = 0, expect_bytes, other = 0, i;
	uint64_t		 last_seen = 0, seen;
	uint32_t		*lat = NULL;
	uint8_t			*cnt = NULL;
	long long		 u0, s0, u1 = -1, s1 = -1, x0, x1 = -1;
	long			 rss;
	pid_t			 tpid, ppid = 0;
	struct bgmark		 bgm;
	int			 nthr;
	size_t			 nl = 0;
	int			 go_p[2] = { -1, -1 }, rdy[2] = { -1, -1 };
	int			 k, alive, port = 0, done, http;
	unsigned		 j;
	char			 ch;

	memset(r, 0, sizeof *r);
	memset(&a, 0, sizeof a);
	per = m == PM_BURST ? PEER_BURST_N : m == PM_PACED ?
	    (uint64_t)PEER_PACED_RATE * PEER_PACED_S / PEER_CLIENTS :
	    m == PM_CONN ? (uint64_t)PEER_CONN_RATE * PEER_CONN_S /
	    PEER_CLIENTS : PEER_STORM_N;
	if (quick)
		per /= 10;
	if (m == PM_PACED)
		gap = 1000000000ULL / PEER_PACED_RATE;
	else if (m == PM_CONN)
		gap = 1000000000ULL / PEER_CONN_RATE;
	r->n = per * PEER_CLIENTS;
	http = m == PM_PACED && t != PT_DISCARD;
	snprintf(name, sizeof name, "peer-%s-%s-%d", peer_mname[m],
	    peer_tname[t], round);
	snprintf(dir, sizeof dir, "%s/%s", top, name);
	if (mkdir_home(dir) == -1)
		return;
	pc = mmap(NULL, sizeof *pc * PEER_CLIENTS, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pd = mmap(NULL, sizeof *pd, PROT_READ | PROT_WRITE, MAP_SHARED |
	    MAP_ANONYMOUS, -1, 0);
	cnt = calloc(r->n, 1);
	if (pc == MAP_FAILED || pd == MAP_FAILED || cnt == NULL)
		goto out;
	if (http && (port = peer_sink_start(dir, &sinkpid, &ss)) == -1)
		goto out;

	/* The target. */
	switch (t) {
	case PT_OURS:
		snprintf(ep, sizeof ep, "http://127.0.0.1:%d/v1/events", port);
		/* agent_start makes TEMP/name, the agent's ATOMCODE_HOME. */
		if (agent_start(&a, name, NULL, http ? ep : DEAD_ENDPOINT) ==
		    -1)
			goto out;
		snprintf(sock, sizeof sock, "%s", a.sock);
		snprintf(col, sizeof col, "%s/collected", dir);
		if (!http && (mpid = peer_mover_start(a.queue, col)) == -1)
			goto out;
		break;
	case PT_SNG:
		if ((spid = peer_sng_start(dir, http ? port : 0)) == -1)
			goto out;
		snprintf(sock, sizeof sock, "%s", peer_sock(dir));
		break;
	default:
		snprintf(sock, sizeof sock, "%s", peer_sock(dir));
		if ((dpid = peer_discard_start(sock, pd)) == -1)
			goto out;
		break;
	}

	/* The clients: connected and waiting for a common start. */
	if (pipe(go_p) == -1 || pipe(rdy) == -1)
		goto out;
	for (k = 0; k < PEER_CLIENTS; k++) {
		if ((pids[k] = fork_kid()) == 0) {
			close(go_p[1]);
			close(rdy[0]);
			peer_client(m, t, sock, (unsigned)k, per, gap *
			    PEER_CLIENTS / PEER_CLIENTS, &pc[k], go_p[0],
			    rdy[1]);
		}
	}
	close(go_p[0]);
	close(rdy[1]);
	go_p[0] = rdy[1] = -1;
	for (k = 0; k < PEER_CLIENTS; k++)
		if (read(rdy[0], &ch, 1) != 1 || ch != 'r')
			warnmsg("peer %s: a client could not connect", name);
	tpid = a.pid ? a.pid : spid ? spid : dpid;
	ppid = peer_perf_start(tpid, name);
	if (proc_cpu_split(tpid, &u0, &s0) == -1)
		u0 = s0 = -1;
	x0 = proc_ctxt(tpid, &nthr);
	bg_mark(&bgm);
	go = now_ns() + 2000000ULL;
	for (k = 0; k < PEER_CLIENTS; k++)
		(void)write(go_p[1], &go, sizeof go);
	close(go_p[1]);
	go_p[1] = -1;

	/* Wait: clients exit, then the store (or the sink) settles. */
	snprintf(path, sizeof path, "%s/store.log", dir);
	expect_bytes = r->n * (PEER_REC_LEN + (t == PT_SNG ? 1 : 4));
	t_last_change = now_ns();
	for (alive = PEER_CLIENTS, done = 0; !done;) {
		for (k = 0; k < PEER_CLIENTS; k++)
			if (pids[k] > 0 && waitpid(pids[k], NULL, WNOHANG) ==
			    pids[k]) {
				kid_forget(pids[k]);
				pids[k] = 0;
				alive--;
			}
		if ((rss = proc_kb(tpid, "VmRSS")) > 0 && (double)rss / 1024.0 > r->rss_mib)
			r->rss_mib = (double)rss / 1024.0;
		/* Progress: sink ids, store bytes, bytes read. */
		seen = http ? __atomic_load_n(&ss->id_records,
		    __ATOMIC_ACQUIRE) : 0;
		if (t == PT_SNG)
			seen += (uint64_t)peer_fsize(path);
		else if (t == PT_DISCARD)
			seen = __atomic_load_n(&pd->bytes, __ATOMIC_ACQUIRE);
		if (seen != last_seen) {
			last_seen = seen;
			t_last_change = now_ns();
		}
		if (alive == 0) {
			for (k = 0, j = 0; k < PEER_CLIENTS; k++)
				j += pc[k].sent != 0 || pc[k].refused != 0 ?
				    0 : 1;
			if (t == PT_SNG && (uint64_t)peer_fsize(path) >=
			    expect_bytes && (!http || ss->id_records >=
			    r->n))
				done = 1;
			else if (t == PT_DISCARD && pd->bytes >= expect_bytes)
				done = 1;
			else if (t == PT_OURS && (!http || ss->id_records >=
			    r->n) && (m == PM_BURST || m == PM_PACED))
				done = 1;
			else if (now_ns() - t_last_change >
			    (uint64_t)PEER_SETTLE_MS * 1000000ULL)
				done = 2;	/* settled short: loss */
		}
		if (now_ns() > go + (uint64_t)PEER_RUN_MS * 1000000ULL) {
			warnmsg("peer %s: not finished in %d ms", name,
			    PEER_RUN_MS);
			for (k = 0; k < PEER_CLIENTS; k++)
				if (pids[k] > 0)
					kid_stop(pids[k]);
			done = 3;
		}
		if (!done) {
			if (alive > 0)
				sleep_us(500);
			else
				sleep_us(200);
			continue;
		}
		if (proc_cpu_split(tpid, &u1, &s1) == -1)
			u1 = s1 = -1;
		if (ppid > 0)
			kid_stop(ppid);
		ppid = 0;
		x1 = proc_ctxt(tpid, &nthr);
		r->others = bg_others(&bgm);
		t_e2e = t_last_change;
	}

	/* Figures from the clients. */
	r->ok = 1;
	for (k = 0; k < PEER_CLIENTS; k++) {
		if (!pc[k].ok)
			r->ok = 0;
		r->sent += pc[k].sent;
		r->refused += pc[k].refused;
		if (pc[k].t_end_write > t_ingest)
			t_ingest = pc[k].t_end_write;
		if (t == PT_OURS && !http && pc[k].t_end_ack > t_e2e)
			t_e2e = pc[k].t_end_ack;
	}
	if (t == PT_OURS && !http)
		for (k = 0, t_e2e = 0; k < PEER_CLIENTS; k++)
			if (pc[k].t_end_ack > t_e2e)
				t_e2e = pc[k].t_end_ack;
	if (t == PT_DISCARD)
		t_e2e = __atomic_load_n(&pd->t_last, __ATOMIC_ACQUIRE);
	if (t_ingest > go)
		r->ingest_evps = (double)r->sent / ((double)(t_ingest - go) /
		    1e9);
	if (t_e2e > go)
		r->e2e_evps = (double)r->n / ((double)(t_e2e - go) / 1e9);
	r->secs = (double)(t_e2e - go) / 1e9;
	if (u0 >= 0 && u1 >= 0 && r->n > 0) {
		r->cpu_us = (double)(u1 + s1 - u0 - s0) * 1e6 /
		    (double)clk_tck / (double)r->n;
		if (u1 + s1 > u0 + s0)
			r->sys_share = (double)(s1 - s0) / (double)(u1 + s1 -
			    u0 - s0);
	}
	if (x0 >= 0 && x1 >= x0 && r->n > 0)
		r->wakeups = (double)(x1 - x0) / (double)r->n;
	if ((lat = calloc(PEER_CLIENTS * PEER_LAT_MAX, sizeof *lat)) != NULL) {
		for (k = 0; k < PEER_CLIENTS; k++)
			for (j = 0; j < pc[k].nlat; j++)
				lat[nl++] = pc[k].lat[j];
		qsort(lat, nl, sizeof *lat, cmp_u32);
		if (nl > 0) {
			r->p50_us = (double)lat[(nl - 1) / 2] / 1e3;
			r->p99_us = (double)lat[(size_t)((double)nl * 0.99 +
			    0.999999) - 1] / 1e3;
		}
	}

	if (http && a.pid > 0) {
		/* What the agent's resident memory is, after the load. */
		proc_smaps_top(a.pid, top6, sizeof top6);
		note_add("Peer %s: agent VmRSS %.1f MiB (max %.1f) = RssAnon"
		    " %.1f + RssFile %.1f MiB; largest: %s.", name,
		    (double)proc_kb(a.pid, "VmRSS") / 1024, r->rss_mib,
		    (double)proc_kb(a.pid, "RssAnon") / 1024,
		    (double)proc_kb(a.pid, "RssFile") / 1024, top6);
	}

	/* Stop the target (the agent drains what was sent), then look. */
	if (mpid > 0)
		kid_stop(mpid);
	mpid = 0;
	if (a.pid > 0) {
		agent_stop(&a);
		snprintf(path, sizeof path, "%s/telemetry/queue-dropped",
		    a.home);
		r->evicted = read_u64_file(path);
		if (!http) {
			peer_count_dir(a.queue, cnt, r->n, &other);
			peer_count_dir(col, cnt, r->n, &other);
			peer_tally(cnt, r->n, &r->lost, &r->dup);
		}
	}
	if (spid > 0) {
		kid_stop(spid);
		spid = 0;
		snprintf(path, sizeof path, "%s/store.log", dir);
		if ((k = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
			peer_count_fd(k, cnt, r->n, &other);
			close(k);
		}
		peer_tally(cnt, r->n, &r->lost, &r->dup);
	}
	if (t == PT_DISCARD) {
		r->lost = r->n - pd->bytes / (PEER_REC_LEN + 4);
		r->dup = 0;
	}
	if (http && ss != NULL) {
		/* Give the last batch a moment, then count per id. */
		for (i = 0; i < 50 && ss->id_records < r->n; i++)
			sleep_us(20000);
		peer_tally(ss->ids, r->n, &r->lost_http, &r->dup_http);
		if (t == PT_OURS) {
			r->lost = r->lost_http;
			r->dup = r->dup_http;
		}
	}
	if (other > 0)
		note_add("Peer %s: %" PRIu64 " lines without a bench id in the"
		    " store.", name, other);
out:
	if (ppid > 0)
		kid_stop(ppid);
	if (mpid > 0)
		kid_stop(mpid);
	if (a.pid > 0)
		agent_stop(&a);
	if (spid > 0)
		kid_stop(spid);
	if (dpid > 0)
		kid_stop(dpid);
	if (sinkpid > 0)
		kid_stop(sinkpid);
	if (ss != NULL)
		munmap(ss, sizeof *ss);
	for (k = 0; k < 2; k++) {
		if (go_p[k] != -1)
			close(go_p[k]);
		if (rdy[k] != -1)
			close(rdy[k]);
	}
	if (pc != MAP_FAILED)
		munmap(pc, sizeof *pc * PEER_CLIENTS);
	if (pd != MAP_FAILED)
		munmap(pd, sizeof *pd);
	free(cnt);
	free(lat);
}

/* ---- peer: the table ------------------------------------------------ */

#define PEER_MAX_ROWS	16

struct peer_row {
	char	id[8];
	char	label[56];
	char	unit[8];
	double	v[PT_N];
	int	has[PT_N];
	int	count;		/* values are event counts: lost / dup */
	double	dup[PT_N];	/* count rows: duplicates beside lost */
	char	goal[40];
	int	met;		/* -1 no goal, 0 missed, 1 met */
	char	verdict[48];
	char	note[200];
};

static struct peer_row	peer_rows[PEER_MAX_ROWS];
static int		peer_nrows;

/* Median over the rounds that completed; 0 with *ok 0 when none did. */
static double
peer_median(enum peer_mode m, enum peer_target t, size_t off, int *ok)
{
	double	v[PEER_ROUNDS], x;
	int	n = 0, i, j;

	for (i = 0; i < PEER_ROUNDS; i++) {
		if (!peer_res[i][m][t].ok)
			continue;
		memcpy(&x, (const char *)&peer_res[i][m][t] + off, sizeof x);
		for (j = n++; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
	*ok = n > 0;
	if (n == 0)
		return 0;
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static struct peer_row *
peer_row(const char *id, const char *label, const char *unit,
    enum peer_mode m, size_t off, int with_discard)
{
	struct peer_row	*pr;
	int		 t;

	if (peer_nrows >= PEER_MAX_ROWS)
		return &peer_rows[PEER_MAX_ROWS - 1];
	pr = &peer_rows[peer_nrows++];
	memset(pr, 0, sizeof *pr);
	snprintf(pr->id, sizeof pr->id, "%s", id);
	snprintf(pr->label, sizeof pr->label, "%s", label);
	snprintf(pr->unit, sizeof pr->unit, "%s", unit);
	pr->met = -1;
	for (t = 0; t < PT_N; t++)
		if (t != PT_DISCARD || with_discard)
			pr->v[t] = peer_median(m, (enum peer_target)t, off,
			    &pr->has[t]);
	return pr;
}

/* Lost and duplicated events, summed over the rounds. */
static struct peer_row *
peer_row_loss(const char *id, const char *label, enum peer_mode m,
    int http)
{
	struct peer_row		*pr;
	struct peer_res		*r;
	uint64_t		 n[PT_N] = { 0 }, ref[PT_N] = { 0 };
	int			 i, t;

	pr = peer_row(id, label, "events", m, offsetof(struct peer_res,
	    secs), 0);
	pr->count = 1;
	for (t = 0; t < PT_DISCARD; t++) {
		pr->v[t] = pr->dup[t] = 0;
		for (i = 0; i < PEER_ROUNDS; i++) {
			r = &peer_res[i][m][t];
			if (r->n == 0)
				continue;
			pr->has[t] = 1;
			n[t] += r->n;
			ref[t] += r->refused;
			pr->v[t] += (double)(http ? r->lost_http : r->lost);
			pr->dup[t] += (double)(http ? r->dup_http : r->dup);
		}
	}
	snprintf(pr->goal, sizeof pr->goal, "0 lost");
	pr->met = pr->has[PT_OURS] && pr->v[PT_OURS] == 0;
	if (!pr->met && pr->has[PT_OURS])
		snprintf(pr->verdict, sizeof pr->verdict, "MISS: %.1f%% lost",
		    n[PT_OURS] ? 100.0 * pr->v[PT_OURS] / (double)n[PT_OURS] :
		    0);
	snprintf(pr->note, sizeof pr->note, "of %" PRIu64 " sent in all"
	    " rounds (each target); syslog-ng %.2f%% lost, ours %.2f%%;"
	    " refused at connect/write: syslog-ng %" PRIu64 ", ours %" PRIu64,
	    n[PT_OURS], n[PT_SNG] ? 100.0 * pr->v[PT_SNG] / (double)n[PT_SNG] :
	    0, n[PT_OURS] ? 100.0 * pr->v[PT_OURS] / (double)n[PT_OURS] : 0,
	    ref[PT_SNG], ref[PT_OURS]);
	return pr;
}

/* A "≤ x" (le) or "≥ x" goal on ours; verdict says by how much it misses. */
static void
peer_goal(struct peer_row *pr, int le, double x, const char *text)
{
	double	v = pr->v[PT_OURS];

	snprintf(pr->goal, sizeof pr->goal, "%s", text);
	if (!pr->has[PT_OURS] || x <= 0)
		return;
	pr->met = le ? v <= x : v >= x;
	if (!pr->met)
		snprintf(pr->verdict, sizeof pr->verdict, "MISS by %.0f%%",
		    le ? (v / x - 1) * 100 : (1 - v / x) * 100);
}

static void
peer_summary(void)
{
	struct peer_row	*pr;
	char		 lbl[56];
	int		 ok;
	double		 p50;

	snprintf(lbl, sizeof lbl, "burst %d×%dk, a conn/client: ingest",
	    PEER_CLIENTS, (quick ? PEER_BURST_N / 10 : PEER_BURST_N) / 1000);
	pr = peer_row("P1", lbl, "ev/s", PM_BURST,
	    offsetof(struct peer_res, ingest_evps), 1);
	if (pr->has[PT_DISCARD])
		peer_goal(pr, 0, 0.8 * pr->v[PT_DISCARD], "≥ 80% of discard");
	snprintf(pr->note, sizeof pr->note, "start → the last client's last"
	    " write(2) returned; discard = a reader that reads and drops"
	    " (the floor); ours = %.0f%% of it",
	    pr->v[PT_DISCARD] > 0 ? 100 * pr->v[PT_OURS] / pr->v[PT_DISCARD] :
	    0);
	pr = peer_row("P2", "burst: end to end, in the store", "ev/s",
	    PM_BURST, offsetof(struct peer_res, e2e_evps), 1);
	if (pr->has[PT_SNG])
		peer_goal(pr, 0, 1.5 * pr->v[PT_SNG], "≥ 1.5× syslog-ng");
	snprintf(pr->note, sizeof pr->note, "start → every record in the"
	    " store: syslog-ng's file holds all bytes; ours: each client got"
	    " the ack of its last record (written); discard: all bytes read");
	pr = peer_row("P3", "burst: CPU per event", "µs", PM_BURST,
	    offsetof(struct peer_res, cpu_us), 1);
	peer_goal(pr, 1, 2.5, "≤ 2.5 µs");
	snprintf(pr->note, sizeof pr->note, "utime+stime of the daemon (all"
	    " threads), start → end of P2, ÷ records; kernel share: syslog-ng"
	    " %.0f%%, ours %.0f%%; context switches per event: %.2f, %.2f",
	    100 * peer_median(PM_BURST, PT_SNG, offsetof(struct peer_res,
	    sys_share), &ok), 100 * peer_median(PM_BURST, PT_OURS,
	    offsetof(struct peer_res, sys_share), &ok),
	    peer_median(PM_BURST, PT_SNG, offsetof(struct peer_res, wakeups),
	    &ok), peer_median(PM_BURST, PT_OURS, offsetof(struct peer_res,
	    wakeups), &ok));
	pr = peer_row("P4", "burst: RSS (max)", "MiB", PM_BURST,
	    offsetof(struct peer_res, rss_mib), 0);
	snprintf(pr->note, sizeof pr->note, "VmRSS sampled every 0.5 ms (not"
	    " for discard: a fork of the bench, its RSS is the bench's)");
	pr = peer_row_loss("P5", "burst: lost / duplicated", PM_BURST, 0);

	snprintf(lbl, sizeof lbl, "paced %dk/s, store + HTTP: CPU per event",
	    PEER_PACED_RATE / 1000);
	pr = peer_row("P6", lbl, "µs", PM_PACED, offsetof(struct peer_res,
	    cpu_us), 0);
	peer_goal(pr, 1, 10, "≤ 10 µs");
	snprintf(pr->note, sizeof pr->note, "%d clients, %d s; start → the"
	    " sink holds every record; kernel share: syslog-ng %.0f%%, ours"
	    " %.0f%%; context switches per event: %.2f, %.2f",
	    PEER_CLIENTS, PEER_PACED_S, 100 * peer_median(PM_PACED, PT_SNG,
	    offsetof(struct peer_res, sys_share), &ok), 100 *
	    peer_median(PM_PACED, PT_OURS, offsetof(struct peer_res,
	    sys_share), &ok), peer_median(PM_PACED, PT_SNG,
	    offsetof(struct peer_res, wakeups), &ok), peer_median(PM_PACED,
	    PT_OURS, offsetof(struct peer_res, wakeups), &ok));
	pr = peer_row("P7", "paced: RSS (max)", "MiB", PM_PACED,
	    offsetof(struct peer_res, rss_mib), 0);
	peer_goal(pr, 1, 8, "≤ 8 MiB");
	snprintf(pr->note, sizeof pr->note, "VmRSS sampled every 0.5 ms during"
	    " the paced run");
	pr = peer_row_loss("P8", "paced: lost / duplicated at the sink",
	    PM_PACED, 1);

	snprintf(lbl, sizeof lbl, "a conn per event, %dk/s: lost / dup",
	    PEER_CONN_RATE / 1000);
	pr = peer_row_loss("P9", lbl, PM_CONN, 0);
	pr = peer_row("P10", "a conn per event: p99 connect→close", "µs",
	    PM_CONN, offsetof(struct peer_res, p99_us), 0);
	peer_goal(pr, 1, 100, "≤ 100 µs");
	p50 = peer_median(PM_CONN, PT_OURS, offsetof(struct peer_res, p50_us),
	    &ok);
	snprintf(pr->note, sizeof pr->note, "connect, hello (ours), record,"
	    " close, in the client; ours p50 %.1f µs, syslog-ng p50 %.1f µs",
	    p50, peer_median(PM_CONN, PT_SNG, offsetof(struct peer_res,
	    p50_us), &ok));
	pr = peer_row_loss("P11", "a conn per event, unpaced: lost / dup",
	    PM_STORM, 0);
	pr = peer_row("P12", "unpaced: p99 connect→close", "µs", PM_STORM,
	    offsetof(struct peer_res, p99_us), 0);
	snprintf(pr->note, sizeof pr->note, "%d clients × %d connections, as"
	    " fast as they go", PEER_CLIENTS, quick ? PEER_STORM_N / 10 :
	    PEER_STORM_N);
}

static void
peer_cell(char *b, size_t n, const struct peer_row *pr, int t)
{
	char	x[20];

	if (!pr->has[t]) {
		snprintf(b, n, "–");
		return;
	}
	if (pr->count) {
		snprintf(b, n, "%.0f / %.0f", pr->v[t], pr->dup[t]);
		return;
	}
	fmt_num(x, sizeof x, pr->v[t]);
	snprintf(b, n, "%s", x);
}

/* The peer table to fp (NULL: none) and as root.peer (NULL: none). */
static void
peer_output(FILE *fp, json_t *root)
{
	struct peer_row	*pr;
	json_t		*ja, *o;
	char		 c[PT_N][48], ra[32], g[96];
	double		 osum, omax;
	int		 i, m, t, on;

	if (!peer_ran)
		return;
	ja = json_array();
	for (i = 0, omax = osum = 0, on = 0; i < PEER_ROUNDS; i++)
		for (m = 0; m < PM_N; m++)
			for (t = 0; t < PT_N; t++) {
				if (peer_res[i][m][t].n == 0)
					continue;
				osum += peer_res[i][m][t].others;
				on++;
				if (peer_res[i][m][t].others > omax)
					omax = peer_res[i][m][t].others;
			}
	if (root != NULL)
		json_object_set_new(root, "peer_others_cpus", json_pack(
		    "{s:f, s:f}", "mean", on ? osum / on : 0, "max", omax));
	if (fp != NULL) {
		fprintf(fp, "\nPeer: %s beside ours: the same %d B llm_chat"
		    " records, one per write(2), from the same %d client"
		    " processes; %d round(s) interleaved, medians. Other"
		    " processes kept %.2f CPUs busy on average during the"
		    " runs (at most %.2f in one run).\n\n", peer_sng_version,
		    PEER_REC_LEN, PEER_CLIENTS, peer_rounds, on ? osum / on : 0,
		    omax);
		pad(fp, "#", 5, 0);
		pad(fp, "workload", 44, 0);
		pad(fp, "unit", 7, 0);
		pad(fp, "syslog-ng", 14, 1);
		pad(fp, "ours", 14, 1);
		pad(fp, "ours÷sng", 10, 1);
		pad(fp, "discard", 10, 1);
		fprintf(fp, "  ");
		pad(fp, "goal (ours)", 30, 0);
		fprintf(fp, "note\n");
	}
	for (i = 0; i < peer_nrows; i++) {
		pr = &peer_rows[i];
		for (t = 0; t < PT_N; t++)
			peer_cell(c[t], sizeof c[t], pr, t);
		if (!pr->count && pr->has[PT_SNG] && pr->has[PT_OURS] &&
		    pr->v[PT_SNG] > 0) {
			fmt_num(ra, sizeof ra, pr->v[PT_OURS] / pr->v[PT_SNG]);
			strncat(ra, "×", sizeof ra - strlen(ra) - 1);
		} else
			snprintf(ra, sizeof ra, "–");
		if (pr->met == -1)
			snprintf(g, sizeof g, "%s", pr->goal[0] ? pr->goal :
			    "–");
		else
			snprintf(g, sizeof g, "%s %s", pr->goal, pr->met ?
			    "ok" : pr->verdict);
		if (fp != NULL) {
			pad(fp, pr->id, 5, 0);
			pad(fp, pr->label, 44, 0);
			pad(fp, pr->unit, 7, 0);
			pad(fp, c[PT_SNG], 14, 1);
			pad(fp, c[PT_OURS], 14, 1);
			pad(fp, ra, 10, 1);
			pad(fp, c[PT_DISCARD], 10, 1);
			fprintf(fp, "  ");
			pad(fp, g, 30, 0);
			fprintf(fp, "%s\n", pr->note);
		}
		o = json_pack("{s:s, s:s, s:s}", "id", pr->id, "workload",
		    pr->label, "unit", pr->unit);
		for (t = 0; t < PT_N; t++) {
			if (!pr->has[t])
				continue;
			json_object_set_new(o, peer_tname[t],
			    json_real(pr->v[t]));
			if (pr->count) {
				snprintf(g, sizeof g, "%s_dup", peer_tname[t]);
				json_object_set_new(o, g, json_real(pr->dup[t]));
			}
		}
		if (pr->goal[0] != '\0')
			json_object_set_new(o, "goal", json_string(pr->goal));
		if (pr->met >= 0)
			json_object_set_new(o, "goal_met",
			    json_boolean(pr->met));
		json_object_set_new(o, "note", json_string(pr->note));
		json_array_append_new(ja, o);
	}
	if (root != NULL)
		json_object_set_new(root, "peer", ja);
	else
		json_decref(ja);
	if (fp != NULL)
		fprintf(fp, "\nours÷sng: ours / syslog-ng (above 1: ours is"
		    " faster for ev/s, costlier for µs and MiB). lost / dup:"
		    " events missing from / repeated in the store (P8: at the"
		    " sink), looked up by the id each record carries, summed"
		    " over the rounds. syslog-ng's configuration: \"peer\" in"
		    " tests/bench/bench.c.\n");
}

/* Every workload against every target, PEER_ROUNDS times, interleaved. */
static void
bench_peer(void)
{
	FILE		*p;
	int		 round, m, i, t, rounds;
	char		 line[256], *end;
	const char	*env;

	if ((p = popen("syslog-ng --version 2>/dev/null", "r")) == NULL ||
	    fgets(line, sizeof line, p) == NULL) {
		if (p != NULL)
			pclose(p);
		warnmsg("peer: syslog-ng not found (make bench-peer installs"
		    " syslog-ng-core and syslog-ng-mod-http)");
		return;
	}
	pclose(p);
	line[strcspn(line, "\n")] = '\0';
	snprintf(peer_sng_version, sizeof peer_sng_version, "%.63s", line);
	peer_ran = 1;
	if ((env = getenv("BENCH_PEER_ROUNDS")) != NULL) {
		rounds = (int)strtol(env, &end, 10);
		if (*end == '\0' && rounds >= 1 && rounds <= PEER_ROUNDS)
			peer_rounds = rounds;
	}
	for (round = 0; round < peer_rounds; round++)
		for (m = 0; m < PM_N; m++)
			for (i = 0; i < PT_N; i++) {
				/* Rotate which target goes first. */
				t = (i + round) % PT_N;
				if ((t == PT_DISCARD && m != PM_BURST) ||
				    !in_list("BENCH_PEER", peer_mname[m]) ||
				    !in_list("BENCH_PEER_TARGETS",
				    peer_tname[t]))
					continue;
				fprintf(stderr, "bench: peer round %d %s %s\n",
				    round + 1, peer_mname[m], peer_tname[t]);
				peer_run((enum peer_mode)m,
				    (enum peer_target)t, round,
				    &peer_res[round][m][t]);
			}
	peer_summary();
}

static void
machine(json_t *m, char *title, size_t tlen)
{
	struct utsname	 u;
	struct statfs	 sf;
	char		 line[512], model[256] = "unknown", date[64], *p;
	const char	*fs = "other";
	time_t		 t = time(NULL);
	struct tm	 tm;
	FILE		*fp;

	if ((fp = fopen("/proc/cpuinfo", "re")) != NULL) {
		while (fgets(line, sizeof line, fp) != NULL)
			if (strncmp(line, "model name", 10) == 0 &&
			    (p = strchr(line, ':')) != NULL) {
				p += 1 + strspn(p + 1, " \t");
				p[strcspn(p, "\n")] = '\0';
				snprintf(model, sizeof model, "%s", p);
				break;
			}
		fclose(fp);
	}
	if (uname(&u) == -1)
		memset(&u, 0, sizeof u);
	gmtime_r(&t, &tm);
	strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (statfs(top, &sf) == 0) {
		switch ((unsigned long)sf.f_type) {
		case 0xEF53UL:
			fs = "ext4";
			break;
		case 0x01021994UL:
			fs = "tmpfs";
			break;
		case 0x58465342UL:
			fs = "xfs";
			break;
		case 0x9123683EUL:
			fs = "btrfs";
			break;
		case 0x794c7630UL:
			fs = "overlayfs";
			break;
		}
	}
	json_object_set_new(m, "nproc", json_integer(sysconf(
	    _SC_NPROCESSORS_ONLN)));
	json_object_set_new(m, "cpu", json_string(model));
	json_object_set_new(m, "kernel", json_string(u.release));
	json_object_set_new(m, "machine", json_string(u.machine));
	json_object_set_new(m, "date", json_string(date));
	json_object_set_new(m, "tmp_fs", json_string(fs));
	snprintf(title, tlen, "atomcode-telemetryd bench — %ld × %s, Linux %s"
	    " %s, %s, state dir on %s%s%s", sysconf(_SC_NPROCESSORS_ONLN),
	    model, u.release, u.machine, date, fs, quick ? " — QUICK (reduced"
	    " counts, not for comparison)" : "", want("all") ? "" :
	    " — PARTIAL (BENCH_ONLY)");
}

static void
output(const char *jpath)
{
	json_t		*root, *jr, *o, *m, *jn;
	char		 title[1024], v[80], ra[32], idcol[8];
	int		 i, w_name = 6;
	FILE		*fp = stdout;

	qsort(rows, (size_t)nrows, sizeof rows[0], cmp_row);
	root = json_object();
	m = json_object();
	machine(m, title, sizeof title);
	json_object_set_new(root, "machine", m);
	json_object_set_new(root, "config", jconfig);
	json_object_set_new(jbackground, "others_cpus_by_part", jbgparts);
	json_object_set_new(root, "background", jbackground);
	jr = json_array();
	for (i = 0; i < nrows; i++) {
		if (cols(rows[i].name) > w_name)
			w_name = cols(rows[i].name);
		o = json_pack("{s:s, s:s, s:f, s:s}", "id", rows[i].id, "metric",
		    rows[i].name, "value", rows[i].value, "unit", rows[i].unit);
		if (rows[i].ratio > 0) {
			json_object_set_new(o, "ratio", json_real(rows[i].ratio));
			json_object_set_new(o, "ratio_to",
			    json_string(rows[i].basis));
		}
		if (rows[i].target[0] != '\0') {
			json_object_set_new(o, "target",
			    json_string(rows[i].target));
			json_object_set_new(o, "target_met",
			    json_boolean(rows[i].met == 1));
		}
		if (rows[i].note[0] != '\0')
			json_object_set_new(o, "note", json_string(rows[i].note));
		json_array_append_new(jr, o);
	}
	json_object_set_new(root, "rows", jr);
	jn = json_array();
	for (i = 0; i < nnotes; i++)
		json_array_append_new(jn, json_string(notes[i]));
	json_object_set_new(root, "notes", jn);
	json_object_set_new(root, "measurement_failures",
	    json_integer(failures));
	peer_output(NULL, root);
	if (json_dump_file(root, jpath, JSON_INDENT(2)) == -1)
		fprintf(stderr, "bench: cannot write %s\n", jpath);
	json_decref(root);

	fprintf(fp, "\n%s\n\n", title);
	pad(fp, "#", 4, 0);
	pad(fp, "metric", w_name + 2, 0);
	pad(fp, "value", 10, 1);
	fprintf(fp, "  ");
	pad(fp, "unit", 7, 0);
	pad(fp, "×floor", 12, 0);
	pad(fp, "target", 16, 0);
	fprintf(fp, "note\n");
	for (i = 0; i < nrows; i++) {
		snprintf(idcol, sizeof idcol, "%s", rows[i].id);
		pad(fp, idcol, 4, 0);
		pad(fp, rows[i].name, w_name + 2, 0);
		fmt_num(v, sizeof v, rows[i].value);
		pad(fp, v, 10, 1);
		fprintf(fp, "  ");
		pad(fp, rows[i].unit, 7, 0);
		if (rows[i].ratio > 0) {
			fmt_num(ra, sizeof ra, rows[i].ratio);
			snprintf(v, sizeof v, "%s× %s", ra, rows[i].basis);
		} else
			snprintf(v, sizeof v, "–");
		pad(fp, v, 12, 0);
		if (rows[i].target[0] != '\0')
			snprintf(v, sizeof v, "%s %s", rows[i].target,
			    rows[i].met == 1 ? "ok" : "MISS");
		else
			snprintf(v, sizeof v, "–");
		pad(fp, v, 16, 0);
		fprintf(fp, "%s\n", rows[i].note);
	}
	fprintf(fp, "\n×floor: value / the same-percentile floor (sock = row"
	    " 1a, paced = row 1d, file = row 1b; roll = row 9a ÷ value, i.e. how much slower"
	    " than roll). Targets are informative: nothing here fails the"
	    " build.\n");
	for (i = 0; i < nnotes; i++)
		fprintf(fp, "  - %s\n", notes[i]);
	if (failures > 0)
		fprintf(fp, "  - %d measurement(s) could not be taken; see"
		    " stderr.\n", failures);
	peer_output(fp, NULL);
	fprintf(fp, "JSON: %s\n", jpath);
}

int
main(int argc, char **argv)
{
	struct agentp	 a;
	struct frames	 f;
	struct sigaction sa;
	long		 idle_rss = -1;
	uint64_t	 t0 = now_ns();
	const char	*q;

	if (argc != 4) {
		fprintf(stderr, "usage: bench BUILD_DIR TEMP_DIR OUT_JSON\n");
		return 2;
	}
	build = argv[1];
	top = argv[2];
	quick = (q = getenv("BENCH_QUICK")) != NULL && *q != '\0' &&
	    strcmp(q, "0") != 0;
	clk_tck = sysconf(_SC_CLK_TCK);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_fatal_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	alarm(WATCHDOG_S + (want("peer") ? PEER_WATCHDOG_S : 0));

	/* Never auto-spawn; never honour an opt-out of the caller. */
	setenv("ATOMCODE_TELEMETRYD", "/bin/false", 1);
	setenv("ATOMCODE_TELEMETRY_ENDPOINT", DEAD_ENDPOINT, 1);
	unsetenv("ATOMCODE_TELEMETRY");
	unsetenv("DO_NOT_TRACK");
	unsetenv("ATOMCODE_OFFLINE");
	unsetenv("ATOMCODE_LOCK_FD");
	if (load_golden() == -1 || frames_golden(&f) == -1)
		return 1;
	jconfig = json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i,"
	    " s:b}", "floor_n", FLOOR_N, "emit_n", quick ? EMIT_N / 10 : EMIT_N,
	    "lifetime_n", quick ? LIFE_N / 5 : LIFE_N, "lifetime_hung_n",
	    quick ? LIFE_HUNG_N / 5 : LIFE_HUNG_N, "ingest_clients",
	    INGEST_CLIENTS, "ingest_n_per_client", quick ? INGEST_N / 10 :
	    INGEST_N, "ingest_n_fsync", quick ? INGEST_N_FSYNC / 10 :
	    INGEST_N_FSYNC, "sigterm_n", quick ? TERM_N / 10 : TERM_N,
	    "e2e_n", quick ? E2E_N / 10 : E2E_N, "quick", quick);

	jbackground = json_object();
	bg_wait_quiet();
	fprintf(stderr, "bench: background load\n");
	bg_load("before", jbackground);
	jbgparts = json_object();
	if (want("floor")) {
		fprintf(stderr, "bench: floor\n");
		bg_part_start();
		bench_floor();
		bg_part_end("floor");
	}
	if (want("validate")) {
		fprintf(stderr, "bench: validator\n");
		bg_part_start();
		bench_validate();
		bg_part_end("validate");
	}
	if ((want("emit") || want("lifetime")) &&
	    agent_start(&a, "emit", NULL, DEAD_ENDPOINT) == 0) {
		if (want("emit")) {
			fprintf(stderr, "bench: emit latency\n");
			bg_part_start();
			bench_emit(&a);
			bg_part_end("emit");
		}
		if (want("lifetime")) {
			fprintf(stderr, "bench: short lifetimes\n");
			bg_part_start();
			bench_lifetime_up(&a);
			bg_part_end("lifetime_up");
		}
		agent_stop(&a);
	}
	if (want("rust") && agent_start(&a, "rust", NULL, DEAD_ENDPOINT) == 0) {
		fprintf(stderr, "bench: Rust crate\n");
		bg_part_start();
		bench_rust(&a);
		bg_part_end("rust");
		agent_stop(&a);
	}
	if (want("lifetime")) {
		bg_part_start();
		bench_lifetime_down();
		bg_part_end("lifetime_down");
	}
	if (want("idle")) {
		fprintf(stderr, "bench: idle wake-ups (%s s)\n",
		    getenv("BENCH_IDLE_S") ? getenv("BENCH_IDLE_S") : quick ?
		    "5" : "60");
		bg_part_start();
		idle_rss = bench_idle();
		bg_part_end("idle");
	}
	if (want("ingest")) {
		fprintf(stderr, "bench: ingest (fsync roll, always, never)\n");
		bg_part_start();
		bench_ingest(&f, idle_rss);
		bg_part_end("ingest");
	}
	if (want("sigterm")) {
		fprintf(stderr, "bench: SIGTERM\n");
		bg_part_start();
		bench_sigterm(&f);
		bg_part_end("sigterm");
	}
	if (want("e2e")) {
		fprintf(stderr, "bench: end to end\n");
		bg_part_start();
		bench_e2e();
		bg_part_end("e2e");
	}
	if (want("storm")) {
		fprintf(stderr, "bench: client storm\n");
		bg_part_start();
		bench_storm();
		bg_part_end("storm");
	}
	if (want("peer")) {
		fprintf(stderr, "bench: peer (syslog-ng)\n");
		bg_part_start();
		bench_peer();
		bg_part_end("peer");
	}
	frames_free(&f);
	kids_kill();
	bg_load("after", jbackground);
	note_add("Whole bench took %.0f s.", (double)(now_ns() - t0) / 1e9);
	output(argv[3]);
	return failures > 0 ? 1 : 0;
}
