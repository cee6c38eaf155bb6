/*
 * emitter.c — a chaos-test client: emits llm_chat events through
 * libatomcode-telemetry (atc_open/atc_emit/atc_flush/atc_close) in a loop,
 * the way a long-lived AtomCode process would, and records the id of every
 * event the library accepted with ATC_OK, so that the test can prove each
 * one was delivered. Test tool only: it never touches anything but the
 * library and its own output file.
 *
 * usage: emitter -i INDEX -o IDFILE [-r RATE] [-f FLUSH_MS] [-d SECONDS]
 *                [-n COUNT] [-b SEQ0] [-S] [-F MS]
 *   -i INDEX     client number 0..9999: session_id 00000000-0000-4000-8000-
 *                <INDEX as 12 digits>, tool_calls_count = INDEX
 *   -o IDFILE    one line per event accepted with ATC_OK: its sequence
 *                number (= the record's duration_ms)
 *   -r RATE      events per second (default 200; 0 = as fast as possible)
 *   -f FLUSH_MS  atc_flush(h, 100) every FLUSH_MS (default 250; 0 = never)
 *   -d SECONDS   stop after this long (default 3600; SIGTERM also stops)
 *   -n COUNT     stop after COUNT events
 *   -b SEQ0      first sequence number (default 1)
 *   -S           allow auto-spawn (default: ATC_F_NO_SPAWN)
 *   -F MS        bound of the last flush (default 2000; 100 is a CLI's)
 * At the end it prints one line: "emitter INDEX: emitted=… ok=… err=…
 * max_emit_us=… p99_emit_us=… slow_emits=… flushes=… flush_errs=…" plus the
 * library counters. Exit status: 0 when atc_close() returned ATC_OK and the
 * library lost nothing, 1 otherwise, 2 on usage errors.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <atomcode/telemetry.h>

#define EMIT_SLOW_US	10000	/* an emit slower than this is "slow" */
#define LAT_BUCKETS	200001	/* emit latency histogram, 1 µs buckets */
#define FLUSH_BOUND_MS	100	/* atc_flush() bound */
#define MAX_INDEX	9999	/* largest client number */
#define FINAL_FLUSH_MS	2000	/* bound of the last flush before close */

static volatile sig_atomic_t	stop;
static uint32_t			lat_hist[LAT_BUCKETS];

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t
now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static unsigned long
number(const char *s)
{
	char		*end;
	unsigned long	 v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0) {
		fprintf(stderr, "emitter: bad number: %s\n", s);
		exit(2);
	}
	return v;
}

/* Sleep until the monotonic time t (µs). */
static void
sleep_until(uint64_t t)
{
	uint64_t	n = now_us();
	struct timespec	ts;

	if (t <= n)
		return;
	ts.tv_sec = (time_t)((t - n) / 1000000);
	ts.tv_nsec = (long)((t - n) % 1000000) * 1000;
	nanosleep(&ts, NULL);
}

/* The p-th percentile (0..100) of the latency histogram, in µs. */
static unsigned long
percentile(unsigned long total, double p)
{
	unsigned long	want, seen = 0, i;

	if (total == 0)
		return 0;
	want = (unsigned long)((double)total * p / 100.0);
	if (want >= total)
		want = total - 1;
	for (i = 0; i < LAT_BUCKETS; i++) {
		seen += lat_hist[i];
		if (seen > want)
			return i;
	}
	return LAT_BUCKETS - 1;
}

int
main(int argc, char **argv)
{
	struct atc_options	 o;
	struct atc_stats	 st;
	struct sigaction	 sa;
	struct atc		*h;
	FILE			*ids = NULL;
	const char		*idpath = NULL;
	char			 sid[40], payload[512];
	unsigned long		 idx = 0, rate = 200, flush_ms = 250;
	unsigned long		 seconds = 3600, count = 0, seq, seq0 = 1;
	unsigned long		 ok = 0, err = 0, slow = 0, n = 0;
	unsigned long		 flushes = 0, flush_errs = 0;
	uint64_t		 t0, t, next_flush, lat, max_lat = 0, deadline;
	enum atc_err		 e, ec;
	int			 c, spawn = 0, have_i = 0;
	unsigned		 final_ms = FINAL_FLUSH_MS;

	while ((c = getopt(argc, argv, "i:o:r:f:d:n:b:SF:")) != -1) {
		switch (c) {
		case 'i':
			idx = number(optarg);
			have_i = 1;
			break;
		case 'o':
			idpath = optarg;
			break;
		case 'r':
			rate = number(optarg);
			break;
		case 'f':
			flush_ms = number(optarg);
			break;
		case 'd':
			seconds = number(optarg);
			break;
		case 'n':
			count = number(optarg);
			break;
		case 'b':
			seq0 = number(optarg);
			break;
		case 'S':
			spawn = 1;
			break;
		case 'F':
			final_ms = (unsigned)number(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (!have_i || idx > MAX_INDEX || idpath == NULL)
		goto usage;
	if ((ids = fopen(idpath, "w")) == NULL) {
		fprintf(stderr, "emitter: %s: %s\n", idpath, strerror(errno));
		return 2;
	}
	/* One line at a time: an emitter killed by a test keeps its ids. */
	setvbuf(ids, NULL, _IOLBF, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	snprintf(sid, sizeof(sid), "00000000-0000-4000-8000-%012lu", idx);
	memset(&o, 0, sizeof(o));
	o.app_version = "0.1.0-chaos";
	o.mode = "headless";
	o.session_id = sid;
	o.flags = ATC_F_NO_REPO_ORIGIN | (spawn ? 0 : ATC_F_NO_SPAWN);
	if ((e = atc_open(&o, &h)) != ATC_OK) {
		fprintf(stderr, "emitter: atc_open: %s\n", atc_strerror(e));
		return 1;
	}
	if (!atc_enabled(h, NULL)) {
		fprintf(stderr, "emitter: telemetry is disabled\n");
		atc_close(h);
		return 1;
	}

	t0 = now_us();
	deadline = t0 + (uint64_t)seconds * 1000000;
	next_flush = t0 + (uint64_t)flush_ms * 1000;
	for (seq = seq0; !stop && (count == 0 || n < count); seq++) {
		if (rate > 0)
			sleep_until(t0 + (uint64_t)n * 1000000 / rate);
		if (stop)
			break;
		snprintf(payload, sizeof(payload), "{\"duration_ms\":%lu,"
		    "\"tool_calls_count\":%lu,\"input_tokens\":100,"
		    "\"output_tokens\":20,\"cached_tokens\":0,"
		    "\"had_error\":false,\"context_window\":128000,"
		    "\"system_tokens\":10,\"tool_def_tokens\":10,"
		    "\"tool_result_tokens\":0,\"message_tokens\":80,"
		    "\"messages_count\":2}", seq, idx);
		t = now_us();
		e = atc_emit(h, "llm_chat", payload);
		lat = now_us() - t;
		n++;
		lat_hist[lat < LAT_BUCKETS ? lat : LAT_BUCKETS - 1]++;
		if (lat > max_lat)
			max_lat = lat;
		if (lat > EMIT_SLOW_US)
			slow++;
		if (e == ATC_OK) {
			ok++;
			fprintf(ids, "%lu\n", seq);
		} else {
			if (err < 5)
				fprintf(stderr, "emitter %lu: seq %lu: %s\n",
				    idx, seq, atc_strerror(e));
			err++;
		}
		t = now_us();
		if (flush_ms > 0 && t >= next_flush) {
			flushes++;
			if (atc_flush(h, FLUSH_BOUND_MS) != ATC_OK)
				flush_errs++;
			next_flush = now_us() + (uint64_t)flush_ms * 1000;
		}
		if (t >= deadline)
			break;
	}
	/* A last bounded flush, so the counters include its outcome. */
	ec = atc_flush(h, final_ms);
	atc_get_stats(h, &st);
	if (atc_close(h) != ATC_OK)
		ec = ATC_E_IO;
	if (fclose(ids) != 0) {
		fprintf(stderr, "emitter: %s: %s\n", idpath, strerror(errno));
		return 1;
	}
	printf("emitter %lu: emitted=%lu ok=%lu err=%lu max_emit_us=%llu "
	    "p99_emit_us=%lu slow_emits=%lu flushes=%lu flush_errs=%lu "
	    "close=%s lib_sent=%llu lib_acked=%llu lib_fallback=%llu "
	    "lib_rejected=%llu lib_lost=%llu lib_reconnects=%llu "
	    "lib_spawns=%llu\n", idx, n, ok, err, (unsigned long long)max_lat,
	    percentile(n, 99.0), slow, flushes, flush_errs,
	    ec == ATC_OK ? "ok" : atc_strerror(ec),
	    (unsigned long long)st.sent, (unsigned long long)st.acked,
	    (unsigned long long)st.fallback, (unsigned long long)st.rejected,
	    (unsigned long long)st.lost, (unsigned long long)st.reconnects,
	    (unsigned long long)st.spawns);
	return ec == ATC_OK && st.lost == 0 ? 0 : 1;
usage:
	fprintf(stderr, "usage: emitter -i INDEX -o IDFILE [-F MS] [-r RATE] "
	    "[-f FLUSH_MS] [-d SECONDS] [-n COUNT] [-b SEQ0] [-S]\n");
	return 2;
}
