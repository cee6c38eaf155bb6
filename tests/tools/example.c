/*
 * example.c — a small program using only <atomcode/telemetry.h>, the way an
 * AtomCode process would: open a handle, emit a few events, close. Also a
 * tool for integration tests: it prints the handle's counters as one line.
 *
 * usage: example [-n count] [-N] [-A] [-t close_ms]
 *   -n count    llm_chat events to emit after open_atomcode (default 3)
 *   -N          never auto-spawn the agent (ATC_F_NO_SPAWN)
 *   -A          never use the agent: fallback segments only (ATC_F_NO_AGENT)
 *   -t close_ms bound for atc_close() (default 100)
 * Exit status: 0 when every event was confirmed or stored, 1 otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <atomcode/telemetry.h>

static unsigned long
number(const char *s)
{
	char		*end;
	unsigned long	 v;

	v = strtoul(s, &end, 10);
	if (*s == '\0' || *end != '\0') {
		fprintf(stderr, "example: bad number: %s\n", s);
		exit(2);
	}
	return v;
}

int
main(int argc, char **argv)
{
	struct atc_options	 o;
	struct atc_stats	 st;
	struct atc		*h;
	const char		*reason;
	char			 payload[512];
	enum atc_err		 e;
	unsigned long		 i, n = 3;
	int			 c;

	memset(&o, 0, sizeof(o));
	o.app_version = "0.1.0-example";
	o.mode = "headless";
	while ((c = getopt(argc, argv, "n:NAt:")) != -1) {
		switch (c) {
		case 'n':
			n = number(optarg);
			break;
		case 'N':
			o.flags |= ATC_F_NO_SPAWN;
			break;
		case 'A':
			o.flags |= ATC_F_NO_AGENT;
			break;
		case 't':
			o.close_timeout_ms = (unsigned)number(optarg);
			break;
		default:
			fprintf(stderr, "usage: example [-n count] [-N] [-A] "
			    "[-t close_ms]\n");
			return 2;
		}
	}

	if ((e = atc_open(&o, &h)) != ATC_OK) {
		fprintf(stderr, "example: atc_open: %s\n", atc_strerror(e));
		return 1;
	}
	if (!atc_enabled(h, &reason)) {
		printf("Telemetry: disabled (reason: %s)\n", reason);
		atc_close(h);
		return 0;
	}
	atc_set_provider(h, "openai", "https://api.openai.com/v1", "gpt-4o");
	if ((e = atc_emit(h, "open_atomcode", NULL)) != ATC_OK)
		fprintf(stderr, "example: open_atomcode: %s\n",
		    atc_strerror(e));
	for (i = 0; i < n; i++) {
		atc_set_counters(h, 1, (int64_t)i + 1, (int64_t)i + 1);
		snprintf(payload, sizeof(payload), "{\"duration_ms\":%lu,"
		    "\"tool_calls_count\":0,\"input_tokens\":100,"
		    "\"output_tokens\":20,\"cached_tokens\":0,"
		    "\"had_error\":false,\"context_window\":128000,"
		    "\"system_tokens\":10,\"tool_def_tokens\":10,"
		    "\"tool_result_tokens\":0,\"message_tokens\":80,"
		    "\"messages_count\":2}", 100 + i);
		if ((e = atc_emit(h, "llm_chat", payload)) != ATC_OK)
			fprintf(stderr, "example: llm_chat: %s\n",
			    atc_strerror(e));
	}
	e = atc_flush(h, o.close_timeout_ms ? o.close_timeout_ms : 100);
	atc_get_stats(h, &st);
	printf("emitted=%llu sent=%llu acked=%llu fallback=%llu rejected=%llu "
	    "lost=%llu reconnects=%llu spawns=%llu\n",
	    (unsigned long long)st.emitted, (unsigned long long)st.sent,
	    (unsigned long long)st.acked, (unsigned long long)st.fallback,
	    (unsigned long long)st.rejected, (unsigned long long)st.lost,
	    (unsigned long long)st.reconnects, (unsigned long long)st.spawns);
	if (atc_close(h) != ATC_OK || e != ATC_OK || st.lost > 0)
		return 1;
	return 0;
}
