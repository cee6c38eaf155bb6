/*
 * storm — a storm of short-lived clients against the agent, and the count
 * of what reached the queue.
 *
 *   storm seq SOCK PROCS N BASE      PROCS processes, each N times as fast
 *                                    as it can: connect, hello + one event
 *                                    frame, close (never reads a reply)
 *   storm conc SOCK PROCS N BASE     PROCS processes each open N
 *                                    connections; once all PROCS×N are
 *                                    connected, each sends hello + one
 *                                    event on each and closes it
 *   storm count BASE TOTAL PATH...   count the records whose ts is in
 *                                    [BASE, BASE+TOTAL) in every segment of
 *                                    each queue directory PATH and in each
 *                                    tests/collector.py log PATH
 *
 * Event k carries ts = BASE + k, so every event is unique. `seq`/`conc`
 * print one line "sent S failed F p50_us A p99_us B max_us C" (connect to
 * close of each connection; failed = a connect or write the kernel
 * refused, which the client would know about); exit 1 if any failed.
 * `count` prints "stored S lost L duplicated D" and exits 1 unless every
 * event of the range is there exactly once. Test tool: writes nothing but
 * to the socket it is given.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#define MAX_TOTAL	1000000		/* events per run, all processes */
#define MAX_PROCS	64
#define CONNECT_TRY_S	30		/* give up on a full backlog after this */

static const char hello[] =
    "{\"op\":\"hello\",\"proto\":1,\"client\":\"storm\",\"pid\":1}";
static const char event_fmt[] =
    "{\"app_version\":\"0.0.0\",\"arch\":\"x86_64\",\"device_id\":"
    "\"00000000-0000-0000-0000-000000000000\",\"event_id\":\"open_atomcode\","
    "\"launch_id\":\"00000000-0000-0000-0000-000000000000\",\"locale\":"
    "\"en-US\",\"os\":\"linux\",\"schema_version\":1,\"session_id\":"
    "\"00000000-0000-0000-0000-000000000000\",\"ts\":%" PRId64 "}";

/* Per-connection results shared by the children (MAP_SHARED). */
struct shared {
	uint64_t	sent, failed;
	double		lat_us[];	/* one per event, -1 if failed */
};

static uint64_t
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Blocking connect; retry EAGAIN (a full backlog) for CONNECT_TRY_S. */
static int
storm_connect(const char *path)
{
	struct sockaddr_un	sun;
	uint64_t		t0 = now_ns();
	int			fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	for (;;) {
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
			return -1;
		if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0)
			return fd;
		close(fd);
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		if (now_ns() - t0 > (uint64_t)CONNECT_TRY_S * 1000000000u)
			return -1;
		usleep(1000);
	}
}

/* hello + event k as two frames in buf; returns the length. */
static size_t
storm_frames(unsigned char *buf, size_t cap, int64_t ts)
{
	char	ev[512];
	size_t	hl = sizeof hello - 1, el;
	int	n;

	n = snprintf(ev, sizeof ev, event_fmt, ts);
	el = (size_t)n;
	if (8 + hl + el > cap)
		return 0;
	buf[0] = buf[1] = 0;
	buf[2] = (unsigned char)(hl >> 8);
	buf[3] = (unsigned char)hl;
	memcpy(buf + 4, hello, hl);
	buf[4 + hl] = buf[5 + hl] = 0;
	buf[6 + hl] = (unsigned char)(el >> 8);
	buf[7 + hl] = (unsigned char)el;
	memcpy(buf + 8 + hl, ev, el);
	return 8 + hl + el;
}

static int
write_all(int fd, const unsigned char *p, size_t n)
{
	ssize_t	w;

	while (n > 0) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One child of `seq`: n times connect, send, close. */
static void
child_seq(const char *path, struct shared *sh, unsigned idx, unsigned n,
    int64_t base)
{
	unsigned char	buf[1024];
	uint64_t	t0;
	unsigned	i, k;
	size_t		len;
	int		fd;

	for (i = 0; i < n; i++) {
		k = idx * n + i;
		len = storm_frames(buf, sizeof buf, base + k);
		t0 = now_ns();
		sh->lat_us[k] = -1;
		if ((fd = storm_connect(path)) == -1) {
			__atomic_add_fetch(&sh->failed, 1, __ATOMIC_RELAXED);
			continue;
		}
		if (write_all(fd, buf, len) == -1) {
			__atomic_add_fetch(&sh->failed, 1, __ATOMIC_RELAXED);
			close(fd);
			continue;
		}
		close(fd);
		sh->lat_us[k] = (double)(now_ns() - t0) / 1e3;
		__atomic_add_fetch(&sh->sent, 1, __ATOMIC_RELAXED);
	}
}

/* One child of `conc`: connect n, wait for the go byte, send and close. */
static void
child_conc(const char *path, struct shared *sh, unsigned idx, unsigned n,
    int64_t base, int ready_w, int go_r)
{
	unsigned char	 buf[1024];
	uint64_t	*t0;
	unsigned	 i, k;
	size_t		 len;
	int		*fds;
	char		 c = 'r';

	fds = calloc(n, sizeof *fds);
	t0 = calloc(n, sizeof *t0);
	if (fds == NULL || t0 == NULL)
		_exit(1);
	for (i = 0; i < n; i++) {
		t0[i] = now_ns();
		fds[i] = storm_connect(path);
	}
	if (write(ready_w, &c, 1) != 1 || read(go_r, &c, 1) != 1)
		_exit(1);
	for (i = 0; i < n; i++) {
		k = idx * n + i;
		sh->lat_us[k] = -1;
		len = storm_frames(buf, sizeof buf, base + k);
		if (fds[i] == -1 || write_all(fds[i], buf, len) == -1) {
			__atomic_add_fetch(&sh->failed, 1, __ATOMIC_RELAXED);
			if (fds[i] != -1)
				close(fds[i]);
			continue;
		}
		close(fds[i]);
		sh->lat_us[k] = (double)(now_ns() - t0[i]) / 1e3;
		__atomic_add_fetch(&sh->sent, 1, __ATOMIC_RELAXED);
	}
	free(fds);
	free(t0);
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int
storm_send(int conc, const char *path, unsigned procs, unsigned n,
    int64_t base)
{
	struct shared	*sh;
	size_t		 total = (size_t)procs * n, sz, i, m = 0;
	double		*v;
	int		 ready[2], go[2], st, bad = 0;
	unsigned	 p;
	pid_t		 pid[MAX_PROCS];
	char		 c;

	sz = sizeof *sh + total * sizeof(double);
	sh = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	if (sh == MAP_FAILED || pipe(ready) == -1 || pipe(go) == -1) {
		perror("storm");
		return 2;
	}
	for (p = 0; p < procs; p++) {
		if ((pid[p] = fork()) == -1) {
			perror("fork");
			return 2;
		}
		if (pid[p] == 0) {
			if (conc)
				child_conc(path, sh, p, n, base, ready[1],
				    go[0]);
			else
				child_seq(path, sh, p, n, base);
			_exit(0);
		}
	}
	if (conc) {
		for (p = 0; p < procs; p++)
			if (read(ready[0], &c, 1) != 1)
				bad = 1;
		for (p = 0; p < procs; p++)
			if (write(go[1], "g", 1) != 1)
				bad = 1;
	}
	for (p = 0; p < procs; p++)
		if (waitpid(pid[p], &st, 0) == -1 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			bad = 1;
	if ((v = calloc(total + 1, sizeof *v)) == NULL)
		return 2;
	for (i = 0; i < total; i++)
		if (sh->lat_us[i] >= 0)
			v[m++] = sh->lat_us[i];
	qsort(v, m, sizeof *v, cmp_double);
	printf("sent %" PRIu64 " failed %" PRIu64 " p50_us %.0f p99_us %.0f"
	    " max_us %.0f\n", sh->sent, sh->failed, m ? v[m / 2] : 0.0,
	    m ? v[(m * 99) / 100 < m ? (m * 99) / 100 : m - 1] : 0.0,
	    m ? v[m - 1] : 0.0);
	free(v);
	bad |= sh->failed > 0;
	munmap(sh, sz);
	return bad ? 1 : 0;
}

/* Count one record (a JSON object) if its ts is in range. */
static void
count_record(json_t *o, unsigned char *seen, int64_t base, size_t total)
{
	json_int_t	ts;

	ts = json_integer_value(json_object_get(o, "ts"));
	if (ts < base || (uint64_t)(ts - base) >= total)
		return;
	if (seen[ts - base] < 255)
		seen[ts - base]++;
}

/*
 * Count the records of one segment file (one record per line) or of a
 * collector log (tests/collector.py: one request per line, its records in
 * "records").
 */
static void
count_file(const char *path, int is_log, unsigned char *seen, int64_t base,
    size_t total)
{
	char	*line = NULL;
	size_t	 cap = 0, i;
	ssize_t	 n;
	json_t	*o, *r;
	FILE	*fp;

	if ((fp = fopen(path, "re")) == NULL)
		return;
	while ((n = getline(&line, &cap, fp)) > 0) {
		if ((o = json_loadb(line, (size_t)n, 0, NULL)) == NULL)
			continue;
		if (!is_log)
			count_record(o, seen, base, total);
		else if ((r = json_object_get(o, "records")) != NULL)
			for (i = 0; i < json_array_size(r); i++)
				count_record(json_array_get(r, i), seen, base,
				    total);
		json_decref(o);
	}
	fclose(fp);
	free(line);
}

/*
 * Count the records whose ts is in [base, base+total) in every segment of
 * a queue directory, and in collector logs (any other path).
 */
static int
storm_count(char **paths, int npaths, int64_t base, size_t total)
{
	unsigned char	*seen;
	DIR		*d;
	struct dirent	*de;
	char		 path[4096];
	size_t		 i, stored = 0, lost = 0, dup = 0;
	int		 k;

	if ((seen = calloc(total, 1)) == NULL)
		return 2;
	for (k = 0; k < npaths; k++) {
		if ((d = opendir(paths[k])) == NULL) {
			count_file(paths[k], 1, seen, base, total);
			continue;
		}
		while ((de = readdir(d)) != NULL) {
			if (strstr(de->d_name, ".ndjson") == NULL &&
			    (strstr(de->d_name, ".partial") == NULL ||
			    strstr(de->d_name, ".owner") != NULL))
				continue;
			snprintf(path, sizeof path, "%s/%s", paths[k],
			    de->d_name);
			count_file(path, 0, seen, base, total);
		}
		closedir(d);
	}
	for (i = 0; i < total; i++) {
		if (seen[i] == 0)
			lost++;
		else {
			stored++;
			dup += seen[i] - 1u;
		}
	}
	printf("stored %zu lost %zu duplicated %zu\n", stored, lost, dup);
	free(seen);
	return lost == 0 && dup == 0 ? 0 : 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: storm seq|conc SOCK PROCS N BASE\n"
	    "       storm count BASE TOTAL QUEUE_DIR|COLLECTOR_LOG...\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	unsigned long	procs, n;
	long long	base;

	if (argc >= 5 && strcmp(argv[1], "count") == 0) {
		base = strtoll(argv[2], NULL, 10);
		n = strtoul(argv[3], NULL, 10);
		if (n == 0 || n > MAX_TOTAL)
			usage();
		return storm_count(argv + 4, argc - 4, base, n);
	}
	if (argc != 6 || (strcmp(argv[1], "seq") != 0 &&
	    strcmp(argv[1], "conc") != 0))
		usage();
	procs = strtoul(argv[3], NULL, 10);
	n = strtoul(argv[4], NULL, 10);
	base = strtoll(argv[5], NULL, 10);
	if (procs == 0 || procs > MAX_PROCS || n == 0 ||
	    procs * n > MAX_TOTAL)
		usage();
	return storm_send(strcmp(argv[1], "conc") == 0, argv[2],
	    (unsigned)procs, (unsigned)n, base);
}
