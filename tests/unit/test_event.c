/*
 * test_event.c — the public API added in API 2 (client/event.c and the
 * matching parts of client/shim.c): the size-prefixed options (an old-sized
 * struct placed against a guard page), atc_last_error() for every refusal
 * the library makes itself, the typed builder for all eleven events, scopes,
 * atc_track_durable(), and the agreement of the builder with the validator
 * (whatever the builder accepts the validator accepts, and both refuse the
 * same values with the same code).
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <dirent.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "atomcode/telemetry.h"
#include "buf.h"
#include "envelope.h"
#include "record.h"
#include "testlib.h"

#define NIL	"00000000-0000-0000-0000-000000000000"
#define UUID1	"0f8fad5b-d9cb-469f-a165-70867728950e"

static char	home[256];

static int
setup(void **state)
{
	(void)state;
	if (tl_tmpdir(home, sizeof(home), "eventtest") == -1)
		return -1;
	setenv("ATOMCODE_HOME", home, 1);
	setenv("ATOMCODE_TELEMETRYD", "/bin/false", 1);
	tl_clear_env();
	memset(&env_test_hooks, 0, sizeof(env_test_hooks));
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	memset(&env_test_hooks, 0, sizeof(env_test_hooks));
	return tl_rm_rf(home);
}

/* A fallback-only handle (no agent, no spawn, no repo lookup). */
static struct atc *
open_fb(void)
{
	struct atc_options	 o = ATC_OPTIONS_INIT;
	struct atc		*h = NULL;

	o.app_version = "4.22.3";
	o.flags = ATC_F_NO_AGENT | ATC_F_NO_SPAWN | ATC_F_NO_REPO_ORIGIN;
	assert_int_equal(atc_open(&o, &h), ATC_OK);
	assert_true(atc_enabled(h, NULL));
	return h;
}

/* Every record in ready segments, in file name order, as one array. */
static json_t *
ready_records(int *partials)
{
	struct dirent	**de;
	char		 dir[300], path[600], *line = NULL;
	size_t		 cap = 0;
	json_t		*all = json_array(), *j;
	FILE		*f;
	int		 i, n;

	*partials = 0;
	snprintf(dir, sizeof(dir), "%s/telemetry/queue", home);
	if ((n = scandir(dir, &de, NULL, alphasort)) < 0)
		return all;
	for (i = 0; i < n; i++) {
		if (strstr(de[i]->d_name, ".partial") != NULL &&
		    strstr(de[i]->d_name, ".owner") == NULL)
			(*partials)++;
		if (strstr(de[i]->d_name, ".ndjson") == NULL ||
		    strchr(strstr(de[i]->d_name, ".ndjson"), '-') != NULL) {
			free(de[i]);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, de[i]->d_name);
		if ((f = fopen(path, "r")) != NULL) {
			while (getline(&line, &cap, f) > 0)
				if ((j = json_loads(line, 0, NULL)) != NULL)
					json_array_append_new(all, j);
			fclose(f);
		}
		free(de[i]);
	}
	free(de);
	free(line);
	return all;
}

static void
expect_error(struct atc *h, enum atc_err err, const char *code,
    const char *field, const char *rule_part)
{
	struct atc_error_info	ei = { .size = sizeof(ei) };

	assert_int_equal(atc_last_error(h, &ei), 1);
	assert_int_equal(ei.err, err);
	assert_string_equal(ei.code, code);
	if (field != NULL)
		assert_string_equal(ei.field, field);
	if (rule_part != NULL && strstr(ei.rule, rule_part) == NULL)
		fail_msg("rule \"%s\" lacks \"%s\"", ei.rule, rule_part);
}

/* An options struct of the API 2 size, ending at a page nobody may read. */
static void
test_options_old_size(void **state)
{
	struct atc_options	 full = ATC_OPTIONS_INIT, *o;
	struct atc		*h = NULL;
	long			 pg = sysconf(_SC_PAGESIZE);
	char			*mem;
	json_t			*recs;
	int			 parts;

	(void)state;
	mem = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(mem != MAP_FAILED);
	assert_int_equal(mprotect(mem + pg, (size_t)pg, PROT_NONE), 0);
	assert_true(ATC_OPTIONS_SIZE_2 < sizeof(struct atc_options));
	o = (struct atc_options *)(void *)(mem + pg - ATC_OPTIONS_SIZE_2);
	memset(o, 0, ATC_OPTIONS_SIZE_2);
	o->size = ATC_OPTIONS_SIZE_2;
	o->app_version = "1.0.0";
	o->mode = "ide";
	o->flags = ATC_F_NO_AGENT | ATC_F_NO_SPAWN | ATC_F_NO_REPO_ORIGIN;
	/* Reading a byte past size would fault here. */
	assert_int_equal(atc_open(o, &h), ATC_OK);
	assert_int_equal(atc_emit(h, "open_atomcode", NULL), ATC_OK);
	assert_int_equal(atc_close(h), ATC_OK);
	recs = ready_records(&parts);
	assert_int_equal(json_array_size(recs), 1);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(recs, 0), "mode")), "ide");
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(recs, 0), "app_version")), "1.0.0");
	json_decref(recs);

	/* size 0 is the API 2 layout, too. */
	o->size = 0;
	assert_int_equal(atc_open(o, &h), ATC_OK);
	assert_int_equal(atc_close(h), ATC_OK);
	/* Smaller than any layout: refused, *out NULL. */
	o->size = sizeof(size_t);
	h = (struct atc *)o;
	assert_int_equal(atc_open(o, &h), ATC_E_INVAL);
	assert_null(h);
	munmap(mem, (size_t)pg * 2);

	/* A newer caller's bigger struct: the known part is used. */
	mem = calloc(1, sizeof(full) + 64);
	memcpy(mem, &full, sizeof(full));
	o = (struct atc_options *)(void *)mem;
	o->size = sizeof(full) + 64;
	o->flags = ATC_F_NO_AGENT | ATC_F_NO_SPAWN | ATC_F_NO_REPO_ORIGIN;
	memset(mem + sizeof(full), 0xa5, 64);
	assert_int_equal(atc_open(o, &h), ATC_OK);
	assert_int_equal(atc_close(h), ATC_OK);
	free(mem);
}

/* Counters into an older, shorter struct: nothing written past its size. */
static void
test_stats_old_size(void **state)
{
	struct atc_stats	*st, full;
	struct atc		*h;
	long			 pg = sysconf(_SC_PAGESIZE);
	size_t			 old = offsetof(struct atc_stats, spawns);
	char			*mem;

	(void)state;
	mem = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(mem != MAP_FAILED);
	assert_int_equal(mprotect(mem + pg, (size_t)pg, PROT_NONE), 0);
	st = (struct atc_stats *)(void *)(mem + pg - old);
	h = open_fb();
	assert_int_equal(atc_emit(h, "open_atomcode", NULL), ATC_OK);
	atc_get_stats_size(h, st, old);	/* would fault past old */
	assert_int_equal(st->emitted, 1);
	assert_int_equal(st->fallback, 1);
	atc_get_stats(h, &full);	/* the macro: sizeof(full) */
	assert_int_equal(full.emitted, 1);
	(atc_get_stats)(h, &full);	/* the API 2.0 function */
	assert_int_equal(full.fallback, 1);
	atc_get_stats_size(NULL, st, old);
	assert_int_equal(st->emitted, 0);
	assert_int_equal(atc_close(h), ATC_OK);
	munmap(mem, (size_t)pg * 2);
}

/* Every refusal the library makes itself is explained. */
static void
test_last_error_local(void **state)
{
	struct atc		*h;
	struct atc_error_info	 ei = { .size = sizeof(ei) }, small;
	static const char	 bad_llm[] = "{\"device_id\":\"" NIL "\","
	    "\"launch_id\":\"" NIL "\",\"session_id\":\"" NIL "\",\"ts\":1,"
	    "\"schema_version\":1,\"app_version\":\"1\",\"os\":\"linux\","
	    "\"arch\":\"x86_64\",\"locale\":\"en-US\",\"event_id\":"
	    "\"llm_chat\"}";

	(void)state;
	h = open_fb();
	assert_int_equal(atc_last_error(h, &ei), 0);
	assert_int_equal(ei.err, ATC_OK);

	assert_int_equal(atc_emit(h, "nope", NULL), ATC_E_SCHEMA);
	expect_error(h, ATC_E_SCHEMA, "unknown_event", "event_id",
	    "codingplan_official_build_required");
	assert_int_equal(atc_emit(h, "tool_call", "{\"ts\":5}"),
	    ATC_E_SCHEMA);
	expect_error(h, ATC_E_SCHEMA, "duplicate_field", "ts",
	    "envelope field");
	assert_int_equal(atc_emit(h, "tool_call", "{\"name\":"), ATC_E_JSON);
	expect_error(h, ATC_E_JSON, "bad_json", "", NULL);
	assert_int_equal(atc_emit_raw(h, "[1]", 3), ATC_E_JSON);
	expect_error(h, ATC_E_JSON, "bad_json", "", NULL);
	assert_int_equal(atc_emit_raw(h, "{\"op\":\"flush\"}", 14),
	    ATC_E_SCHEMA);
	expect_error(h, ATC_E_SCHEMA, "control_frame", "op", NULL);
	/* The fallback validator's verdict, with the schema's rule. */
	assert_int_equal(atc_emit_raw(h, bad_llm, strlen(bad_llm)),
	    ATC_E_SCHEMA);
	expect_error(h, ATC_E_SCHEMA, "missing_field", "duration_ms",
	    "required by llm_chat: an integer from 0 to 4294967295");
	assert_int_equal(atc_last_error(h, &ei), 1);
	assert_string_equal(ei.event_id, "llm_chat");
	assert_int_equal(ei.refused, 6);

	/* A caller's older, shorter struct gets only its bytes. */
	memset(&small, 0x5a, sizeof(small));
	small.size = offsetof(struct atc_error_info, field);
	assert_int_equal(atc_last_error(h, &small), 1);
	assert_string_equal(small.code, "missing_field");
	assert_int_equal((unsigned char)small.field[0], 0x5a);
	assert_int_equal(atc_close(h), ATC_OK);
	assert_int_equal(atc_last_error(NULL, &ei), 0);
}

/* A setter that refuses: the builder says why. */
static void
expect_ev_error(struct atc_event *ev, enum atc_err got, const char *code,
    const char *field, const char *rule_part)
{
	struct atc_error_info	ei = { .size = sizeof(ei) };

	assert_int_equal(got, ATC_E_SCHEMA);
	assert_int_equal(atc_last_error_event(ev, &ei), 1);
	assert_string_equal(ei.code, code);
	assert_string_equal(ei.field, field);
	if (rule_part != NULL && strstr(ei.rule, rule_part) == NULL)
		fail_msg("rule \"%s\" lacks \"%s\"", ei.rule, rule_part);
}

static void
test_builder_refusals(void **state)
{
	struct atc_event	*ev = NULL;
	struct atc		*h;
	const char		*six[] = { "a", "b", "c", "d", "e", "f" };
	char			 big[300];

	(void)state;
	assert_int_equal(atc_event_new("nope", &ev), ATC_E_SCHEMA);
	assert_null(ev);
	assert_int_equal(atc_event_new(ATC_EV_TOOL_CALL, &ev), ATC_OK);
	expect_ev_error(ev, atc_event_str(ev, "nmae", "x"), "unknown_field",
	    "nmae", "tool_call has the fields:");
	expect_ev_error(ev, atc_event_str(ev, ATC_FIELD_SUCCESS, "yes"),
	    "bad_type", "success", "true or false");
	expect_ev_error(ev, atc_event_uint(ev, ATC_FIELD_NAME, 1),
	    "bad_type", "name", NULL);
	expect_ev_error(ev, atc_event_str(ev, ATC_FIELD_ERROR_KIND,
	    "Denied"), "bad_value", "error_kind", "identifier");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	expect_ev_error(ev, atc_event_str(ev, ATC_FIELD_NAME, big),
	    "too_long", "name", "at most 256 bytes");
	expect_ev_error(ev, atc_event_str(ev, ATC_FIELD_NAME, "\xff"),
	    "bad_utf8", "name", NULL);
	assert_int_equal(atc_event_reset(ev, ATC_EV_LLM_CHAT), ATC_OK);
	expect_ev_error(ev, atc_event_uint(ev, ATC_FIELD_DURATION_MS,
	    UINT64_C(1) << 32), "bad_value", "duration_ms", "4294967295");
	expect_ev_error(ev, atc_event_str(ev, ATC_FIELD_ERROR_KIND, "oops"),
	    "bad_value", "error_kind", "one of: network_error, auth_error");
	assert_int_equal(atc_event_reset(ev, ATC_EV_PANIC), ATC_OK);
	expect_ev_error(ev, atc_event_strv(ev, ATC_FIELD_BACKTRACE_TOP_5, six,
	    6), "too_long", "backtrace_top_5", "at most 5 strings");
	assert_int_equal(atc_event_reset(ev, ATC_EV_INSTALL_COMPLETED),
	    ATC_OK);
	expect_ev_error(ev, atc_event_str(ev, ATC_FIELD_INSTALL_UUID,
	    "not-a-uuid"), "bad_value", "install_uuid", "UUID");

	/* A missing required field is refused by atc_track. */
	h = open_fb();
	assert_int_equal(atc_event_reset(ev, ATC_EV_TOOL_CALL), ATC_OK);
	assert_int_equal(atc_event_str(ev, ATC_FIELD_NAME, "bash"), ATC_OK);
	assert_int_equal(atc_track(h, ev, NULL), ATC_E_SCHEMA);
	expect_error(h, ATC_E_SCHEMA, "missing_field", "duration_ms",
	    "required by tool_call");
	assert_int_equal(atc_close(h), ATC_OK);
	atc_event_free(ev);
	atc_event_free(NULL);
}

/* One typed event of each kind, through the fallback, as the validator sees. */
static void
test_builder_all_events(void **state)
{
	struct atc_event	*ev;
	struct atc		*h;
	json_t			*recs, *r;
	const char		*bt[] = { "   0: main", "  at src/a.rs:1:2" };
	int			 parts;
	unsigned		 i;

	(void)state;
	h = open_fb();
	assert_int_equal(atc_event_new(ATC_EV_OPEN_ATOMCODE, &ev), ATC_OK);
	assert_int_equal(atc_event_bool(ev, ATC_FIELD_DANGEROUSLY_SKIP_PERMISSIONS, 1), ATC_OK);
	assert_int_equal(atc_track(h, ev, NULL), ATC_OK);

	assert_int_equal(atc_event_reset(ev, ATC_EV_LLM_CHAT), ATC_OK);
	{
		const char *u[] = { ATC_FIELD_DURATION_MS,
		    ATC_FIELD_TOOL_CALLS_COUNT, ATC_FIELD_INPUT_TOKENS,
		    ATC_FIELD_OUTPUT_TOKENS, ATC_FIELD_CACHED_TOKENS,
		    ATC_FIELD_CONTEXT_WINDOW, ATC_FIELD_SYSTEM_TOKENS,
		    ATC_FIELD_TOOL_DEF_TOKENS, ATC_FIELD_TOOL_RESULT_TOKENS,
		    ATC_FIELD_MESSAGE_TOKENS, ATC_FIELD_MESSAGES_COUNT };
		for (i = 0; i < sizeof(u) / sizeof(u[0]); i++)
			assert_int_equal(atc_event_uint(ev, u[i], i), ATC_OK);
	}
	assert_int_equal(atc_event_bool(ev, ATC_FIELD_HAD_ERROR, 1), ATC_OK);
	assert_int_equal(atc_event_str(ev, ATC_FIELD_ERROR_KIND,
	    "rate_limited"), ATC_OK);
	assert_int_equal(atc_track(h, ev, NULL), ATC_OK);

	assert_int_equal(atc_event_reset(ev, ATC_EV_TOOL_CALL), ATC_OK);
	assert_int_equal(atc_event_str(ev, ATC_FIELD_NAME, "first"), ATC_OK);
	assert_int_equal(atc_event_str(ev, ATC_FIELD_NAME, "bash"), ATC_OK);
	assert_int_equal(atc_event_bool(ev, ATC_FIELD_SUCCESS, 0), ATC_OK);
	assert_int_equal(atc_event_uint(ev, ATC_FIELD_DURATION_MS, 12), ATC_OK);
	assert_int_equal(atc_event_str(ev, ATC_FIELD_ERROR_KIND,
	    "denied_by_user"), ATC_OK);
	assert_int_equal(atc_track(h, ev, NULL), ATC_OK);

	assert_int_equal(atc_event_reset(ev, ATC_EV_USE_COMMAND), ATC_OK);
	assert_int_equal(atc_event_str(ev, ATC_FIELD_TYPE, "compact"), ATC_OK);
	assert_int_equal(atc_track(h, ev, NULL), ATC_OK);

	assert_int_equal(atc_event_reset(ev, ATC_EV_MCP_CONNECT), ATC_OK);
	assert_int_equal(atc_event_str(ev, ATC_FIELD_SERVER_NAME, "fs"), ATC_OK);
	assert_int_equal(atc_event_str(ev, ATC_FIELD_TRANSPORT,
	    "streamable_http"), ATC_OK);
	assert_int_equal(atc_event_bool(ev, ATC_FIELD_SUCCESS, 1), ATC_OK);
	assert_int_equal(atc_track(h, ev, NULL), ATC_OK);

	assert_int_equal(atc_event_reset(ev, ATC_EV_LOGIN_SUCCESS), ATC_OK);
	assert_int_equal(atc_track(h, ev, NULL), ATC_OK);

	assert_int_equal(atc_event_reset(ev, ATC_EV_INSTALL_COMPLETED), ATC_OK);
	assert_int_equal(atc_event_str(ev, ATC_FIELD_INVITE_CODE, "ABC12345"),
	    ATC_OK);
	assert_int_equal(atc_event_str(ev, ATC_FIELD_INSTALL_UUID,
	    "0F8FAD5B-D9CB-469F-A165-70867728950E"), ATC_OK);
	assert_int_equal(atc_track(h, ev, NULL), ATC_OK);

	assert_int_equal(atc_event_reset(ev, ATC_EV_TAKE_CODINGPLAN), ATC_OK);
	assert_int_equal(atc_event_str(ev, ATC_FIELD_TYPE, "fail"), ATC_OK);
	assert_int_equal(atc_event_str(ev, ATC_FIELD_ERROR_KIND, "auth_error"),
	    ATC_OK);
	assert_int_equal(atc_track(h, ev, NULL), ATC_OK);

	assert_int_equal(atc_event_reset(ev, ATC_EV_PANIC), ATC_OK);
	assert_int_equal(atc_event_str(ev, ATC_FIELD_LOCATION, "src/a.rs:1"),
	    ATC_OK);
	assert_int_equal(atc_event_str(ev, ATC_FIELD_MESSAGE_HEAD,
	    "boom \"quoted\"\n"), ATC_OK);
	assert_int_equal(atc_event_str(ev, ATC_FIELD_THREAD, "main"), ATC_OK);
	assert_int_equal(atc_event_strv(ev, ATC_FIELD_BACKTRACE_TOP_5, bt, 2),
	    ATC_OK);
	assert_int_equal(atc_track(h, ev, NULL), ATC_OK);

	assert_int_equal(atc_event_reset(ev, ATC_EV_TELEMETRY_DISABLED), ATC_OK);
	assert_int_equal(atc_track(h, ev, NULL), ATC_OK);
	assert_int_equal(atc_event_reset(ev,
	    ATC_EV_CODINGPLAN_OFFICIAL_BUILD_REQUIRED), ATC_OK);
	assert_int_equal(atc_track(h, ev, NULL), ATC_OK);
	atc_event_free(ev);
	assert_int_equal(atc_close(h), ATC_OK);

	recs = ready_records(&parts);
	assert_int_equal(json_array_size(recs), ATC_EVENT_COUNT);
	for (i = 0; i < ATC_EVENT_COUNT; i++)
		assert_string_equal(json_string_value(json_object_get(
		    json_array_get(recs, i), "event_id")), rec_event_name(i));
	r = json_array_get(recs, 0);
	assert_true(json_is_true(json_object_get(r,
	    "dangerously_skip_permissions")));
	r = json_array_get(recs, 1);
	assert_int_equal(json_integer_value(json_object_get(r,
	    "messages_count")), 10);
	assert_string_equal(json_string_value(json_object_get(r,
	    "error_kind")), "rate_limited");
	r = json_array_get(recs, 2);
	assert_string_equal(json_string_value(json_object_get(r, "name")),
	    "bash");
	assert_true(json_is_false(json_object_get(r, "success")));
	r = json_array_get(recs, 3);
	assert_null(json_object_get(r, "success"));	/* not set: omitted */
	r = json_array_get(recs, 6);
	assert_string_equal(json_string_value(json_object_get(r,
	    "install_uuid")), UUID1);
	r = json_array_get(recs, 8);
	assert_string_equal(json_string_value(json_object_get(r,
	    "message_head")), "boom \"quoted\"\n");
	assert_int_equal(json_array_size(json_object_get(r,
	    "backtrace_top_5")), 2);
	assert_int_equal(json_object_size(json_array_get(recs, 9)), 10);
	json_decref(recs);
}

/* A scope overrides the handle's envelope for one event only. */
static void
test_scope(void **state)
{
	struct atc_event	*ev;
	struct atc		*h;
	struct atc_scope	 sc = ATC_SCOPE_INIT, bad = ATC_SCOPE_INIT;
	json_t			*recs, *r;
	int			 parts;

	(void)state;
	h = open_fb();
	assert_int_equal(atc_set_mode(h, "tui"), ATC_OK);
	assert_int_equal(atc_event_new(ATC_EV_OPEN_ATOMCODE, &ev), ATC_OK);
	sc.mode = "vscode";
	sc.session_id = UUID1;
	sc.provider = "openai";
	sc.provider_host = "api.openai.com";
	sc.model = "gpt-4o";
	sc.surface = "code_review";
	sc.repo_host = "gitcode";
	sc.repo_has_git = 1;
	sc.turn = 3;
	sc.round = 2;
	sc.request = 7;
	assert_int_equal(atc_track(h, ev, &sc), ATC_OK);
	assert_int_equal(atc_track(h, ev, NULL), ATC_OK);
	bad.mode = "emacs";
	assert_int_equal(atc_track(h, ev, &bad), ATC_E_INVAL);
	bad.mode = NULL;
	bad.session_id = "nope";
	assert_int_equal(atc_track(h, ev, &bad), ATC_E_INVAL);
	bad.session_id = NULL;
	bad.repo_host = "bitbucket";
	assert_int_equal(atc_track(h, ev, &bad), ATC_E_INVAL);
	atc_event_free(ev);
	assert_int_equal(atc_close(h), ATC_OK);

	recs = ready_records(&parts);
	assert_int_equal(json_array_size(recs), 2);
	r = json_array_get(recs, 0);
	assert_string_equal(json_string_value(json_object_get(r, "mode")),
	    "vscode");
	assert_string_equal(json_string_value(json_object_get(r,
	    "session_id")), UUID1);
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(r, "repo_origin"), "host")), "gitcode");
	assert_int_equal(json_integer_value(json_object_get(r, "request")), 7);
	assert_string_equal(json_string_value(json_object_get(r, "surface")),
	    "code_review");
	r = json_array_get(recs, 1);
	assert_string_equal(json_string_value(json_object_get(r, "mode")),
	    "tui");
	assert_null(json_object_get(r, "turn"));
	assert_null(json_object_get(r, "repo_origin"));
	assert_string_not_equal(json_string_value(json_object_get(r,
	    "session_id")), UUID1);
	json_decref(recs);
}

/* A durable event is in a ready segment when the call returns. */
static void
test_durable(void **state)
{
	struct atc_event	*ev;
	struct atc		*h;
	json_t			*recs;
	int			 parts;

	(void)state;
	h = open_fb();
	assert_int_equal(atc_event_new(ATC_EV_LOGIN_SUCCESS, &ev), ATC_OK);
	assert_int_equal(atc_event_str(ev, ATC_FIELD_INVITE_CODE, "ABC12345"),
	    ATC_OK);
	assert_int_equal(atc_track_durable(h, ev, NULL), ATC_OK);
	recs = ready_records(&parts);	/* before close */
	assert_int_equal(json_array_size(recs), 1);
	assert_int_equal(parts, 0);
	json_decref(recs);
	atc_event_free(ev);
	assert_int_equal(atc_close(h), ATC_OK);
	/* Disabled: nothing done. */
	setenv("ATOMCODE_TELEMETRY", "0", 1);
	{
		struct atc_options	o = ATC_OPTIONS_INIT;

		assert_int_equal(atc_open(&o, &h), ATC_OK);
		assert_int_equal(atc_event_new(ATC_EV_TELEMETRY_DISABLED, &ev),
		    ATC_OK);
		assert_int_equal(atc_track_durable(h, ev, NULL),
		    ATC_E_DISABLED);
		assert_int_equal(atc_track(h, ev, NULL), ATC_E_DISABLED);
		atc_event_free(ev);
		assert_int_equal(atc_close(h), ATC_OK);
	}
	unsetenv("ATOMCODE_TELEMETRY");
}

/* A valid value of field f (kind default), as JSON text. */
static const char *
good_value(const struct rec_field *f)
{
	static char	v[96];

	switch (f->kind) {
	case REC_K_UUID:
		return "\"" UUID1 "\"";
	case REC_K_U32:
	case REC_K_U64:
		return "1";
	case REC_K_BOOL:
		return "true";
	case REC_K_ENUM:
		snprintf(v, sizeof(v), "\"%s\"", f->enumv[0]);
		return v;
	case REC_K_IDENT:
		return "\"other\"";
	case REC_K_STRARR:
		return "[]";
	default:
		return "\"x\"";
	}
}

/* The validator's verdict on event ev with field `field` set to json. */
static const char *
validator_code(unsigned ev, const char *field, const char *json)
{
	struct rec_field	 f;
	struct rec_result	 res;
	struct buf		 rec = { NULL, 0, 0 }, out = { NULL, 0, 0 };
	unsigned		 k;
	const char		*code;

	buf_printf(&rec, "{\"device_id\":\"%s\",\"launch_id\":\"%s\","
	    "\"session_id\":\"%s\",\"ts\":1,\"schema_version\":1,"
	    "\"app_version\":\"1\",\"os\":\"linux\",\"arch\":\"x86_64\","
	    "\"locale\":\"en-US\",\"event_id\":\"%s\"", NIL, NIL, NIL,
	    rec_event_name(ev));
	for (k = 0; rec_event_field(ev, k, &f); k++) {
		if (strcmp(f.name, field) == 0)
			buf_printf(&rec, ",\"%s\":%s", f.name, json);
		else if (f.required)
			buf_printf(&rec, ",\"%s\":%s", f.name, good_value(&f));
	}
	buf_putc(&rec, '}');
	memset(&res, 0, sizeof(res));
	code = rec_code(rec_validate(rec.data, rec.len, NULL, &out, &res));
	buf_free(&rec);
	buf_free(&out);
	return code;
}

/*
 * For every field of every event, candidate values through the builder and
 * through the validator: the same verdict, the same refusal code.
 */
static void
test_builder_agrees_with_validator(void **state)
{
	static const char *const strs[] = { "", "x", "other", "Other",
	    "rate_limited", "not_found", "stdio", "success", "fail",
	    UUID1, "0F8FAD5B-D9CB-469F-A165-70867728950E", NIL "0",
	    "a b", "line\nbreak", "\xc3\xa9t\xc3\xa9", "\xff\xfe", NULL };
	static const uint64_t ints[] = { 0, 1, UINT32_MAX,
	    (uint64_t)UINT32_MAX + 1, (uint64_t)INT64_MAX,
	    (uint64_t)INT64_MAX + 1 };
	struct atc_event	*ev = NULL;
	struct atc_error_info	 ei = { .size = sizeof(ei) };
	struct rec_field	 f;
	struct buf		 json = { NULL, 0, 0 };
	char			 longs[3][5000];
	const char		*vals[20], *want;
	unsigned		 e, k, i, nv, checked = 0;
	enum atc_err		 r;

	(void)state;
	memset(longs, 'a', sizeof(longs));
	longs[0][64] = longs[1][256] = longs[2][4999] = '\0';
	longs[0][65] = longs[1][257] = 'b';
	for (nv = 0; strs[nv] != NULL; nv++)
		vals[nv] = strs[nv];
	vals[nv++] = longs[0];
	vals[nv++] = longs[1];
	vals[nv++] = longs[2];
	for (e = 0; e < rec_event_count(); e++) {
		assert_int_equal(atc_event_new(rec_event_name(e), &ev),
		    ATC_OK);
		for (k = 0; rec_event_field(e, k, &f); k++) {
			for (i = 0; i < nv + 6 + 2; i++) {
				assert_int_equal(atc_event_reset(ev,
				    rec_event_name(e)), ATC_OK);
				json.len = 0;
				if (i < nv) {
					r = atc_event_str(ev, f.name, vals[i]);
					buf_json_str(&json, vals[i],
					    strlen(vals[i]));
				} else if (i < nv + 6) {
					r = atc_event_uint(ev, f.name,
					    ints[i - nv]);
					buf_printf(&json, "%llu",
					    (unsigned long long)ints[i - nv]);
				} else {
					r = atc_event_bool(ev, f.name,
					    i == nv + 6);
					buf_puts(&json, i == nv + 6 ? "true" :
					    "false");
				}
				if (f.kind == REC_K_UUID)	/* the builder
							   lower-cases */
					for (char *c = json.data; *c; c++)
						if (*c >= 'A' && *c <= 'F')
							*c = (char)(*c - 'A' +
							    'a');
				want = validator_code(e, f.name, json.data);
				if (r == ATC_OK) {
					if (strcmp(want, "ok") != 0)
						fail_msg("%s.%s=%s: builder ok, "
						    "validator %s",
						    rec_event_name(e), f.name,
						    json.data, want);
					checked++;
					continue;
				}
				assert_int_equal(r, ATC_E_SCHEMA);
				assert_int_equal(atc_last_error_event(ev,
				    &ei), 1);
				if (strcmp(want, ei.code) != 0)
					fail_msg("%s.%s=%s: builder %s, "
					    "validator %s", rec_event_name(e),
					    f.name, json.data, ei.code, want);
				checked++;
			}
		}
		atc_event_free(ev);
	}
	buf_free(&json);
	assert_true(checked > 500);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_options_old_size, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stats_old_size, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_last_error_local, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_builder_refusals, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_builder_all_events, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_scope, setup, teardown),
		cmocka_unit_test_setup_teardown(test_durable, setup,
		    teardown),
		cmocka_unit_test(test_builder_agrees_with_validator),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
