/*
 * fuzz_settings — libFuzzer target for the agent's telemetryd.conf reader
 * (agent/settings.c, inih). The input is written to one scratch file per
 * process (reused) and loaded over the defaults. A refused file must leave
 * the settings exactly as they were and say why; an accepted one must hold
 * only values inside the documented ranges. settings_print must cope with
 * the result. Must never touch files outside its scratch directory.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz_common.h"
#include "log.h"
#include "settings.h"

static char	 conf_path[FUZZ_PATH_MAX];
static FILE	*devnull;

/* Scratch path and a sink for settings_print, once per process. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_path(conf_path, sizeof conf_path, fuzz_scratch_dir("settings"),
	    "telemetryd.conf");
	devnull = fopen("/dev/null", "we");
	FUZZ_CHECK(devnull != NULL, "/dev/null: %s", strerror(errno));
	return 0;
}

/* One input: the bytes of a telemetryd.conf. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct settings	s, before;
	char		cause[512];
	int		r;

	fuzz_write_file(conf_path, data, size);
	settings_defaults(&s);
	memcpy(&before, &s, sizeof before);
	cause[0] = '\0';
	r = settings_load(conf_path, &s, cause, sizeof cause);
	FUZZ_CHECK(r == 0 || r == -1, "settings_load returned %d", r);
	if (r == -1) {
		FUZZ_CHECK(cause[0] != '\0', "refused without a cause");
		FUZZ_CHECK(memcmp(&s, &before, sizeof s) == 0,
		    "a refused file changed the settings (%s)", cause);
		return 0;
	}
	FUZZ_CHECK(s.fsync == QUEUE_FSYNC_ROLL ||
	    s.fsync == QUEUE_FSYNC_ALWAYS || s.fsync == QUEUE_FSYNC_NEVER,
	    "fsync %d", (int)s.fsync);
	FUZZ_CHECK(s.roll_interval_ms >= 10 && s.roll_interval_ms <= 3600000,
	    "roll_interval_ms %u", s.roll_interval_ms);
	FUZZ_CHECK(s.idle_exit_s <= 7 * 86400, "idle_exit_s %u", s.idle_exit_s);
	FUZZ_CHECK(s.stall_timeout_s >= 1 && s.stall_timeout_s <= 3600,
	    "stall_timeout_s %u", s.stall_timeout_s);
	FUZZ_CHECK(s.upload_timeout_s >= 1 && s.upload_timeout_s <= 600,
	    "timeout_s %u", s.upload_timeout_s);
	FUZZ_CHECK(s.upload_connect_timeout_s >= 1 &&
	    s.upload_connect_timeout_s <= 600, "connect_timeout_s %u",
	    s.upload_connect_timeout_s);
	FUZZ_CHECK(s.backoff_scale_pct >= 1 && s.backoff_scale_pct <= 1000,
	    "backoff_scale_pct %u", s.backoff_scale_pct);
	FUZZ_CHECK(s.max_retry_after_s >= 1 && s.max_retry_after_s <= 86400,
	    "max_retry_after_s %u", s.max_retry_after_s);
	FUZZ_CHECK(s.log_level >= LOG_LVL_ERROR && s.log_level <= LOG_LVL_DEBUG,
	    "log_level %d", s.log_level);
	FUZZ_CHECK(memchr(s.ca_file, '\0', sizeof s.ca_file) != NULL,
	    "ca_file unterminated");
	settings_print(&s, devnull);
	return 0;
}
