/*
 * test_record.c — the record validator (proto/record.c): every golden
 * record validates and comes out as its compact form, each rejection
 * reason, dropped fields, canonical output, truncation, UTF-8, escapes,
 * scrubbing of free text, the recovery check, and hostile input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>

#include <cmocka.h>
#include <jansson.h>

#include "frame.h"
#include "record.h"

#define GOLDEN_MIN	18	/* golden records in tests/compat */

#define NIL	"00000000-0000-0000-0000-000000000000"
#define UUID1	"0f8fad5b-d9cb-469f-a165-70867728950e"
/* A complete envelope (without event_id), compact. */
#define ENV	"\"device_id\":\"" NIL "\",\"launch_id\":\"" UUID1 "\"," \
    "\"session_id\":\"" UUID1 "\",\"ts\":1700000000000," \
    "\"schema_version\":1,\"app_version\":\"4.22.3\",\"os\":\"linux\"," \
    "\"arch\":\"x86_64\",\"locale\":\"en-US\""
#define TOOL	"\"event_id\":\"tool_call\",\"name\":\"bash\"," \
    "\"success\":true,\"duration_ms\":5"
#define LLM	"\"event_id\":\"llm_chat\",\"duration_ms\":1," \
    "\"tool_calls_count\":0," \
    "\"input_tokens\":1,\"output_tokens\":1,\"cached_tokens\":0," \
    "\"had_error\":false,\"context_window\":1,\"system_tokens\":0," \
    "\"tool_def_tokens\":0,\"tool_result_tokens\":0," \
    "\"message_tokens\":1,\"messages_count\":1"
#define PANIC	"\"event_id\":\"panic\",\"location\":\"<CWD>/<PATH>:1\"," \
    "\"thread\":\"main\",\"backtrace_top_5\":[]"

/* Validate s; returns the error; *out gets the output (caller frees). */
static enum rec_err
validate(const char *s, size_t n, const struct scrub_ctx *sc, char **out,
    struct rec_result *res)
{
	struct buf	 b = { 0 };
	enum rec_err	 e;

	e = rec_validate(s, n, sc, &b, res);
	assert_int_equal(e, res->err);
	if (e != REC_OK)
		assert_int_equal(b.len, 0);
	else {
		assert_true(b.len > 0 && b.data[b.len - 1] == '\n');
		assert_true(utf8_valid((unsigned char *)b.data, b.len));
		assert_true(rec_line_ok(b.data, b.len - 1));
	}
	if (out != NULL)
		*out = b.data != NULL ? b.data : strdup("");
	else
		buf_free(&b);
	return e;
}

/* Validate a compact valid record and expect it unchanged. */
static void
expect_same(const char *s)
{
	struct rec_result	 res;
	char			*out;

	if (validate(s, strlen(s), NULL, &out, &res) != REC_OK)
		fail_msg("rejected (%s, field %s): %s", rec_code(res.err),
		    res.field, s);
	assert_int_equal(strlen(out), strlen(s) + 1);
	assert_memory_equal(out, s, strlen(s));
	assert_int_equal(res.rewritten, 0);
	free(out);
}

/* Validate and expect exactly want + "\n". */
static void
expect_out(const char *s, const struct scrub_ctx *sc, const char *want)
{
	struct rec_result	 res;
	char			*out;

	if (validate(s, strlen(s), sc, &out, &res) != REC_OK)
		fail_msg("rejected (%s, field %s): %s", rec_code(res.err),
		    res.field, s);
	if (strlen(out) != strlen(want) + 1 ||
	    memcmp(out, want, strlen(want)) != 0)
		fail_msg("got  %swant %s", out, want);
	assert_int_equal(res.rewritten, 1);
	free(out);
}

static char *
read_file(const char *path, size_t *len)
{
	FILE	*f;
	char	*b;
	long	 n;

	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	b = malloc((size_t)n);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return b;
}

/*
 * Every golden record (pretty, sorted keys) validates; the output is its
 * compact form as jansson prints it, or, for the few whose values the
 * firewall reduces, the compact form of tests/compat/expected/<name>; that
 * output passes through again byte for byte, also with a scrub context.
 */
static void
test_goldens(void **state)
{
	struct scrub_ctx	 sc = { "/Users/dev", "/tmp/work" };
	struct rec_result	 res;
	struct dirent		*de;
	const char		*top = getenv("TOP");
	char			 dir[4096], path[4096 + 512], *in, *out,
	    *compact;
	DIR			*d;
	FILE			*f;
	json_t			*v;
	size_t			 n, l;
	unsigned		 k, sum;
	int			 count = 0, reduced = 0, exp;

	snprintf(dir, sizeof dir, "%s/tests/compat", top != NULL &&
	    *top != '\0' ? top : ".");
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		l = strlen(de->d_name);
		if (l < 6 || strcmp(de->d_name + l - 5, ".json") != 0)
			continue;
		snprintf(path, sizeof path, "%s/expected/%s", dir,
		    de->d_name);
		if ((f = fopen(path, "r")) != NULL)
			fclose(f);
		exp = f != NULL;
		if (!exp)
			snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		in = read_file(path, &n);
		v = json_loadb(in, n, 0, NULL);
		assert_non_null(v);
		compact = json_dumps(v, JSON_COMPACT);
		assert_non_null(compact);
		json_decref(v);
		free(in);
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		in = read_file(path, &n);

		if (validate(in, n, &sc, &out, &res) != REC_OK)
			fail_msg("%s: %s (field %s)", de->d_name,
			    rec_code(res.err), res.field);
		if (strlen(out) != strlen(compact) + 1 ||
		    memcmp(out, compact, strlen(compact)) != 0)
			fail_msg("%s:\n got  %s want %s", de->d_name, out,
			    compact);
		assert_int_equal(res.ndropped, 0);
		for (k = 0, sum = 0; k < SCRUB_NKINDS; k++)
			sum += res.redactions[k];
		assert_int_equal(sum > 0, exp);	/* reduced iff expected */
		reduced += exp;
		assert_true(res.event_id[0] != '\0');
		assert_true(rec_known_event(res.event_id,
		    strlen(res.event_id)));
		free(out);

		if (validate(compact, strlen(compact), &sc, &out, &res) !=
		    REC_OK)
			fail_msg("%s compact: %s", de->d_name,
			    rec_code(res.err));
		assert_int_equal(res.rewritten, 0);
		assert_int_equal(strlen(out), strlen(compact) + 1);
		assert_memory_equal(out, compact, strlen(compact));
		free(out);
		free(compact);
		free(in);
		count++;
	}
	closedir(d);
	assert_true(count >= GOLDEN_MIN);
	assert_int_equal(reduced, 4);
}

/* Records that are valid as they stand (compact: passed through). */
static void
test_accept(void **state)
{
	static const char *const ok[] = {
		"{" ENV "," TOOL "}",
		"{" TOOL "," ENV "}",
		"{" ENV "," LLM "}",
		"{" ENV "," LLM ",\"error_kind\":\"rate_limited\","
		    "\"error_data\":\"429\"}",
		"{" ENV "," TOOL ",\"error_kind\":\"denied_by_user\"}",
		"{" ENV "," PANIC ",\"message_head\":\"boom\"}",
		"{" ENV ",\"event_id\":\"open_atomcode\","
		    "\"dangerously_skip_permissions\":false}",
		"{" ENV ",\"event_id\":\"use_command\",\"type\":\"session\"}",
		"{" ENV ",\"event_id\":\"mcp_connect\",\"server_name\":\"github\","
		    "\"transport\":\"streamable_http\",\"success\":false,"
		    "\"error_kind\":\"timeout\"}",
		"{" ENV ",\"event_id\":\"install_completed\","
		    "\"invite_code\":\"ABCD1234\","
		    "\"install_uuid\":\"" UUID1 "\"}",
		"{" ENV ",\"event_id\":\"take_codingplan\",\"type\":\"fail\","
		    "\"error_kind\":\"auth_expired\"}",
		"{" ENV ",\"event_id\":\"telemetry_disabled\",\"turn\":1,"
		    "\"round\":4294967295,\"request\":9223372036854775807,"
		    "\"turn_id\":\"" UUID1 "\",\"account_id\":\"42\","
		    "\"mode\":\"channel\","
		    "\"repo_origin\":{\"has_git\":false,\"host\":\"none\"}}",
		"{" ENV ",\"event_id\":\"codingplan_official_build_required\"}",
		"{" ENV ",\"event_id\":\"login_success\"}",
		/* escapes that need no rewrite are kept as sent */
		"{" ENV ",\"event_id\":\"tool_call\","
		    "\"name\":\"ba\\u0073h\",\"error_data\":\"\\\"x\\\"\","
		    "\"success\":true,\"duration_ms\":0}",
		"{" ENV ",\"event_id\":\"tool\\u005fcall\",\"name\":\"ls\","
		    "\"success\":true,\"duration_ms\":0,"
		    "\"mode\":\"t\\u0075i\"}",
		"{" ENV "," PANIC ",\"message_head\":"
		    "\"\\ud83d\\ude00 \\u2192 \\u3002\"}",
		"{" ENV "," PANIC ",\"message_head\":"
		    "\"·→😀 tab\\tnew\\n\"}",
	};
	size_t			 i;

	for (i = 0; i < sizeof ok / sizeof ok[0]; i++)
		expect_same(ok[i]);
}

/* One row per rejection reason (and its boundaries). */
static void
test_reject(void **state)
{
	static const struct {
		const char	*in;
		enum rec_err	 err;
		const char	*field;	/* NULL: do not check */
	} cases[] = {
		{ "", REC_E_JSON, "" },
		{ "   ", REC_E_JSON, "" },
		{ "{", REC_E_JSON, "" },
		{ "{\"a\":1,}", REC_E_JSON, "" },
		{ "{\"a\" 1}", REC_E_JSON, "" },
		{ "{\"a\":01}", REC_E_JSON, "" },
		{ "{\"a\":1.}", REC_E_JSON, "" },
		{ "{\"a\":-}", REC_E_JSON, "" },
		{ "{\"a\":tru}", REC_E_JSON, "" },
		{ "{\"a\":\"x}", REC_E_JSON, "" },
		{ "{\"a\":\"\\x\"}", REC_E_JSON, "" },
		{ "{\"a\":\"\\u12\"}", REC_E_JSON, "" },
		{ "{\"a\":\"\\ud800\"}", REC_E_JSON, "" },
		{ "{\"a\":\"\\udc00\\ud800\"}", REC_E_JSON, "" },
		{ "{\"a\":\"\\ud800\\u0041\"}", REC_E_JSON, "" },
		{ "{\"a\\u0000\":1}", REC_E_JSON, "" },
		{ "{\"a\":{\"b\\u0000\":1}}", REC_E_JSON, "" },
		{ "{\"a\":\"\\u0000\"}", REC_E_NO_EVENT_ID, "" },
		{ "{" ENV "," TOOL ",\"x\":\"\\u0000\"}", REC_OK, NULL },
		{ "{" ENV ",\"event_id\":\"tool_call\",\"name\":\"a\\u0000\","
		    "\"success\":true,\"duration_ms\":5}", REC_E_VALUE,
		    "name" },
		{ "{" ENV "," PANIC ",\"message_head\":\"\\u0000\"}",
		    REC_E_VALUE, "message_head" },
		{ "{" ENV ",\"event_id\":\"panic\",\"location\":\"l\","
		    "\"thread\":\"t\",\"message_head\":\"m\","
		    "\"backtrace_top_5\":[\"a\",\"\\u0000\"]}", REC_E_VALUE,
		    "backtrace_top_5" },
		{ "{\"a\":\"tab\there\"}", REC_E_JSON, "" },
		{ "{\"a\":[1,]}", REC_E_JSON, "" },
		{ "{\"a\":{\"b\"}}", REC_E_JSON, "" },
		{ "{\"a\":[}", REC_E_JSON, "" },
		{ "{\"a\":1} x", REC_E_JSON, "" },
		{ "{\"a\":1}{}", REC_E_JSON, "" },
		{ "[1,2]", REC_E_NOT_OBJECT, "" },
		{ " \"x\" ", REC_E_NOT_OBJECT, "" },
		{ "null", REC_E_NOT_OBJECT, "" },
		{ "42", REC_E_NOT_OBJECT, "" },
		{ "[1,", REC_E_JSON, "" },
		{ "{}", REC_E_NO_EVENT_ID, "" },
		{ "{" ENV "}", REC_E_NO_EVENT_ID, "" },
		{ "{" ENV ",\"event_id\":7}", REC_E_NO_EVENT_ID, "" },
		{ "{" ENV ",\"event_id\":null}", REC_E_NO_EVENT_ID, "" },
		{ "{" ENV ",\"event_id\":\"nope\"}", REC_E_UNKNOWN_EVENT,
		    "event_id" },
		{ "{" ENV ",\"event_id\":\"Tool_call\"}", REC_E_UNKNOWN_EVENT,
		    "event_id" },
		{ "{\"event_id\":\"telemetry_disabled\"}", REC_E_MISSING,
		    "device_id" },
		{ "{" ENV ",\"event_id\":\"tool_call\",\"success\":true,"
		    "\"duration_ms\":1}", REC_E_MISSING, "name" },
		{ "{" ENV ",\"event_id\":\"install_completed\","
		    "\"invite_code\":\"X\"}", REC_E_MISSING, "install_uuid" },
		{ "{" ENV ",\"event_id\":\"panic\",\"location\":\"x\","
		    "\"thread\":\"t\",\"message_head\":\"m\"}", REC_E_MISSING,
		    "backtrace_top_5" },
		{ "{" ENV ",\"event_id\":\"llm_chat\"}", REC_E_MISSING,
		    "duration_ms" },
		{ "{" ENV "," TOOL ",\"device_id\":\"x\"}", REC_E_DUPLICATE,
		    "device_id" },
		{ "{" ENV "," TOOL ",\"zz\":1,\"zz\":2}", REC_E_DUPLICATE,
		    "zz" },
		{ "{" ENV "," TOOL ",\"n\\u0061me\":\"x\"}", REC_E_DUPLICATE,
		    NULL },
		{ "{" ENV ",\"event_id\":\"tool_call\",\"name\":\"bash\","
		    "\"success\":true,\"duration_ms\":5,"
		    "\"install_uuid\":\"x\"}", REC_OK, NULL },
		{ "{\"ts\":1," ENV "," TOOL "}", REC_E_DUPLICATE, "ts" },
		{ "{" TOOL ",\"device_id\":"
		    "\"0F8FAD5B-D9CB-469F-A165-70867728950E\","
		    "\"launch_id\":\"" UUID1 "\","
		    "\"session_id\":\"" UUID1 "\","
		    "\"ts\":0,\"schema_version\":1,\"app_version\":\"1\","
		    "\"os\":\"linux\",\"arch\":\"x86_64\",\"locale\":\"C\"}",
		    REC_E_VALUE, "device_id" },
		{ "{" TOOL ",\"device_id\":"
		    "\"0f8fad5b-d9cb-469f-a165-70867728950\","
		    "\"launch_id\":\"" UUID1 "\",\"session_id\":\"" UUID1 "\","
		    "\"ts\":0,\"schema_version\":1,\"app_version\":\"1\","
		    "\"os\":\"linux\",\"arch\":\"x86_64\",\"locale\":\"C\"}",
		    REC_E_VALUE, "device_id" },
		{ "{" TOOL ",\"device_id\":"
		    "\"0f8fad5bxd9cb-469f-a165-70867728950e\","
		    "\"launch_id\":\"" UUID1 "\",\"session_id\":\"" UUID1 "\","
		    "\"ts\":0,\"schema_version\":1,\"app_version\":\"1\","
		    "\"os\":\"linux\",\"arch\":\"x86_64\",\"locale\":\"C\"}",
		    REC_E_VALUE, "device_id" },
		{ "{" TOOL ",\"device_id\":"
		    "\"0f8fad5b-d9cb-469f-a165-70867728950g\","
		    "\"launch_id\":\"" UUID1 "\",\"session_id\":\"" UUID1 "\","
		    "\"ts\":0,\"schema_version\":1,\"app_version\":\"1\","
		    "\"os\":\"linux\",\"arch\":\"x86_64\",\"locale\":\"C\"}",
		    REC_E_VALUE, "device_id" },
		{ "{" TOOL ",\"device_id\":7,"
		    "\"launch_id\":\"" UUID1 "\",\"session_id\":\"" UUID1 "\","
		    "\"ts\":0,\"schema_version\":1,\"app_version\":\"1\","
		    "\"os\":\"linux\",\"arch\":\"x86_64\",\"locale\":\"C\"}",
		    REC_E_TYPE, "device_id" },
	};
	struct rec_result	 res;
	struct buf		 out = { 0 };
	size_t			 i;
	enum rec_err		 e;

	assert_int_equal(buf_puts(&out, "keep"), 0);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		e = rec_validate(cases[i].in, strlen(cases[i].in), NULL, &out,
		    &res);
		if (e != cases[i].err)
			fail_msg("case %zu: %s, want %s (field %s)", i,
			    rec_code(e), rec_code(cases[i].err), res.field);
		if (e != REC_OK) {
			assert_int_equal(out.len, 4);
			assert_string_equal(out.data, "keep");
		} else {
			out.len = 4;
			out.data[4] = '\0';
		}
		if (cases[i].field != NULL)
			assert_string_equal(res.field, cases[i].field);
	}
	buf_free(&out);
}

/* Field checks: each row replaces one field of a valid record. */
static void
test_field_values(void **state)
{
	static const struct {
		const char	*ev;	/* event part, without the field */
		const char	*field;	/* "name":value */
		enum rec_err	 err;
		const char	*name;	/* expected res.field on error */
	} cases[] = {
		{ TOOL, "\"turn\":9223372036854775807", REC_OK, NULL },
		{ TOOL, "\"turn\":9223372036854775808", REC_E_VALUE, "turn" },
		{ TOOL, "\"turn\":18446744073709551615", REC_E_VALUE, "turn" },
		{ TOOL, "\"turn\":18446744073709551616", REC_E_VALUE, "turn" },
		{ TOOL, "\"turn\":99999999999999999999999", REC_E_VALUE,
		    "turn" },
		{ TOOL, "\"turn\":-1", REC_E_VALUE, "turn" },
		{ TOOL, "\"turn\":1.0", REC_E_TYPE, "turn" },
		{ TOOL, "\"turn\":1e2", REC_E_TYPE, "turn" },
		{ TOOL, "\"turn\":\"1\"", REC_E_TYPE, "turn" },
		{ TOOL, "\"turn\":null", REC_E_TYPE, "turn" },
		{ TOOL, "\"round\":4294967295", REC_OK, NULL },
		{ TOOL, "\"round\":4294967296", REC_E_VALUE, "round" },
		{ TOOL, "\"request\":0", REC_OK, NULL },
		{ TOOL, "\"request\":-0", REC_E_VALUE, "request" },
		{ TOOL, "\"turn_id\":5", REC_E_TYPE, "turn_id" },
		{ TOOL, "\"account_id\":42", REC_E_TYPE, "account_id" },
		{ TOOL, "\"mode\":\"cli\"", REC_E_VALUE, "mode" },
		{ TOOL, "\"mode\":\"atomcode_desktop\"", REC_OK, NULL },
		{ TOOL, "\"surface\":null", REC_E_TYPE, "surface" },
		{ TOOL, "\"provider_host\":[]", REC_E_TYPE, "provider_host" },
		{ TOOL, "\"model\":\"gpt-4o\"", REC_OK, NULL },
		{ TOOL, "\"repo_origin\":{\"host\":\"github\"}", REC_E_MISSING,
		    "repo_origin" },
		{ TOOL, "\"repo_origin\":{\"has_git\":true}", REC_E_MISSING,
		    "repo_origin" },
		{ TOOL,
		    "\"repo_origin\":{\"host\":\"bitbucket\",\"has_git\":true}",
		    REC_E_VALUE, "repo_origin" },
		{ TOOL, "\"repo_origin\":{\"host\":\"github\",\"has_git\":1}",
		    REC_E_TYPE, "repo_origin" },
		{ TOOL, "\"repo_origin\":{\"host\":1,\"has_git\":true}",
		    REC_E_TYPE, "repo_origin" },
		{ TOOL, "\"repo_origin\":{\"host\":\"github\",\"has_git\":true,"
		    "\"url\":\"x\"}", REC_E_VALUE, "repo_origin" },
		{ TOOL,
		    "\"repo_origin\":{\"host\":\"github\",\"host\":\"none\","
		    "\"has_git\":true}", REC_E_DUPLICATE, "repo_origin" },
		{ TOOL, "\"repo_origin\":\"github\"", REC_E_TYPE,
		    "repo_origin" },
		{ TOOL,
		    "\"repo_origin\":{\"h\\u006fst\":\"gitlab\","
		    "\"has_git\":true}",
		    REC_OK, NULL },
		{ TOOL, "\"error_kind\":\"Bad-Kind\"", REC_E_VALUE,
		    "error_kind" },
		{ TOOL, "\"error_kind\":\"\"", REC_E_VALUE, "error_kind" },
		{ TOOL,
		    "\"error_kind\":\"a234567890123456789012345678901234567890"
		    "123456789012345678901234\"", REC_OK, NULL },
		{ TOOL,
		    "\"error_kind\":\"a234567890123456789012345678901234567890"
		    "1234567890123456789012345\"", REC_E_TOO_LONG,
		    "error_kind" },
		{ TOOL, "\"error_kind\":5", REC_E_TYPE, "error_kind" },
		{ TOOL, "\"error_data\":{\"a\":1}", REC_E_TYPE, "error_data" },
		{ LLM, "\"error_kind\":\"denied_by_user\"", REC_E_VALUE,
		    "error_kind" },
		{ LLM, "\"error_kind\":\"context_overflow\"", REC_OK, NULL },
		{ LLM, "\"had_error\":0", REC_E_DUPLICATE, "had_error" },
		{ "\"event_id\":\"mcp_connect\",\"server_name\":\"s\","
		    "\"success\":true", "\"transport\":\"tcp\"", REC_E_VALUE,
		    "transport" },
		{ "\"event_id\":\"mcp_connect\",\"server_name\":\"s\","
		    "\"success\":\"yes\"", "\"transport\":\"sse\"", REC_E_TYPE,
		    "success" },
		{ "\"event_id\":\"take_codingplan\"", "\"type\":\"maybe\"",
		    REC_E_VALUE, "type" },
		{ "\"event_id\":\"use_command\"", "\"type\":\"maybe\"", REC_OK,
		    NULL },
		{ "\"event_id\":\"use_command\"", "\"type\":true", REC_E_TYPE,
		    "type" },
		{ "\"event_id\":\"open_atomcode\"",
		    "\"dangerously_skip_permissions\":\"true\"", REC_E_TYPE,
		    "dangerously_skip_permissions" },
		{ "\"event_id\":\"login_success\"", "\"install_uuid\":\"nope\"",
		    REC_E_VALUE, "install_uuid" },
		{ PANIC, "\"message_head\":7", REC_E_TYPE, "message_head" },
		{ "\"event_id\":\"panic\",\"location\":\"x\",\"thread\":\"t\","
		    "\"message_head\":\"m\"",
		    "\"backtrace_top_5\":[\"1\",\"2\","
		    "\"3\",\"4\",\"5\"]", REC_OK, NULL },
		{ "\"event_id\":\"panic\",\"location\":\"x\",\"thread\":\"t\","
		    "\"message_head\":\"m\"",
		    "\"backtrace_top_5\":[\"1\",\"2\","
		    "\"3\",\"4\",\"5\",\"6\"]", REC_E_TOO_LONG,
		    "backtrace_top_5" },
		{ "\"event_id\":\"panic\",\"location\":\"x\",\"thread\":\"t\","
		    "\"message_head\":\"m\"", "\"backtrace_top_5\":[\"1\",2]",
		    REC_E_TYPE, "backtrace_top_5" },
		{ "\"event_id\":\"panic\",\"location\":\"x\",\"thread\":\"t\","
		    "\"message_head\":\"m\"", "\"backtrace_top_5\":\"1\"",
		    REC_E_TYPE, "backtrace_top_5" },
	};
	struct rec_result	 res;
	char			 in[4096], *out;
	size_t			 i;
	enum rec_err		 e;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(in, sizeof in, "{%s,%s,%s}", ENV, cases[i].ev,
		    cases[i].field);
		e = validate(in, strlen(in), NULL, &out, &res);
		if (e != cases[i].err)
			fail_msg("case %zu: %s, want %s (field %s): %s", i,
			    rec_code(e), rec_code(cases[i].err), res.field, in);
		if (cases[i].name != NULL)
			assert_string_equal(res.field, cases[i].name);
		free(out);
	}
}

/* Envelope values: ts range, schema_version, enums, string bounds. */
static void
test_envelope_values(void **state)
{
	static const struct {
		const char	*ts, *schema, *os, *arch, *ver;
		enum rec_err	 err;
		const char	*name;
	} cases[] = {
		{ "0", "1", "\"macos\"", "\"aarch64\"", "\"0.0.0\"", REC_OK,
		    NULL },
		{ "9223372036854775807", "1", "\"windows\"", "\"other\"",
		    "\"\"", REC_OK, NULL },
		{ "-9223372036854775808", "1", "\"other\"", "\"x86_64\"",
		    "\"1\"", REC_OK, NULL },
		{ "9223372036854775808", "1", "\"linux\"", "\"x86_64\"",
		    "\"1\"", REC_E_VALUE, "ts" },
		{ "-9223372036854775809", "1", "\"linux\"", "\"x86_64\"",
		    "\"1\"", REC_E_VALUE, "ts" },
		{ "1.5", "1", "\"linux\"", "\"x86_64\"", "\"1\"", REC_E_TYPE,
		    "ts" },
		{ "1E3", "1", "\"linux\"", "\"x86_64\"", "\"1\"", REC_E_TYPE,
		    "ts" },
		{ "\"0\"", "1", "\"linux\"", "\"x86_64\"", "\"1\"", REC_E_TYPE,
		    "ts" },
		{ "0", "2", "\"linux\"", "\"x86_64\"", "\"1\"", REC_E_VALUE,
		    "schema_version" },
		{ "0", "0", "\"linux\"", "\"x86_64\"", "\"1\"", REC_E_VALUE,
		    "schema_version" },
		{ "0", "\"1\"", "\"linux\"", "\"x86_64\"", "\"1\"", REC_E_TYPE,
		    "schema_version" },
		{ "0", "1", "\"Linux\"", "\"x86_64\"", "\"1\"", REC_E_VALUE,
		    "os" },
		{ "0", "1", "\"plan9\"", "\"x86_64\"", "\"1\"", REC_E_VALUE,
		    "os" },
		{ "0", "1", "\"linux\"", "\"arm64\"", "\"1\"", REC_E_VALUE,
		    "arch" },
		{ "0", "1", "\"linux\"", "null", "\"1\"", REC_E_TYPE, "arch" },
		{ "0", "1", "\"linux\"", "\"x86_64\"", "1", REC_E_TYPE,
		    "app_version" },
	};
	struct rec_result	 res;
	char			 in[4096], *out;
	size_t			 i;
	enum rec_err		 e;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(in, sizeof in, "{\"device_id\":\"" NIL "\","
		    "\"launch_id\":\"" NIL "\",\"session_id\":\"" NIL "\","
		    "\"ts\":%s,\"schema_version\":%s,\"app_version\":%s,"
		    "\"os\":%s,\"arch\":%s,\"locale\":\"en-US\"," TOOL "}",
		    cases[i].ts, cases[i].schema, cases[i].ver, cases[i].os,
		    cases[i].arch);
		e = validate(in, strlen(in), NULL, &out, &res);
		if (e != cases[i].err)
			fail_msg("case %zu: %s, want %s: %s", i, rec_code(e),
			    rec_code(cases[i].err), in);
		if (cases[i].name != NULL)
			assert_string_equal(res.field, cases[i].name);
		free(out);
	}
}

/*
 * Bounded strings: 256 bytes pass (and, being outside the field's shape,
 * are stored as "<custom>"), 257 are too long.
 */
static void
test_string_bounds(void **state)
{
	static const char *const fields[] = { "name", "app_version", "locale",
	    "account_id", "model", "provider", "surface", "turn_id",
	    "provider_host" };
	static const char *const dflt[] = { "bash", "1.0.0", "en-US" };
	struct rec_result	 res;
	const char		*val[3];
	char			 v[300], in[4096], extra[400], want[64], *out;
	size_t			 i, len, k;

	for (i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		for (len = 256; len <= 257; len++) {
			memset(v, 'a', len);
			v[len] = '\0';
			for (k = 0; k < 3; k++)
				val[k] = i == k ? v : dflt[k];
			snprintf(extra, sizeof extra, "\"%s\":\"%s\"",
			    fields[i],
			    v);
			snprintf(in, sizeof in, "{\"device_id\":\"" NIL "\","
			    "\"launch_id\":\"" NIL "\",\"session_id\":\"" NIL
			    "\",\"ts\":0,\"schema_version\":1,\"os\":\"linux\","
			    "\"arch\":\"x86_64\",\"app_version\":\"%s\","
			    "\"locale\":\"%s\",\"event_id\":\"tool_call\","
			    "\"name\":\"%s\",\"success\":true,\"duration_ms\":1"
			    "%s%s}", val[1], val[2], val[0], i < 3 ? "" : ",",
			    i < 3 ? "" : extra);
			if (len == 256) {
				assert_int_equal(validate(in, strlen(in), NULL,
				    &out, &res), REC_OK);
				assert_int_equal(res.rewritten, 1);
				snprintf(want, sizeof want,
				    "\"%s\":\"<custom>\"", fields[i]);
				assert_non_null(strstr(out, want));
				assert_int_equal(res.redactions[SCRUB_CUSTOM],
				    1);
			} else {
				assert_int_equal(validate(in, strlen(in), NULL,
				    &out, &res), REC_E_TOO_LONG);
				assert_string_equal(res.field, fields[i]);
			}
			free(out);
		}
	}
}

/* Unknown fields (and known ones the event does not have) are dropped. */
static void
test_dropped(void **state)
{
	struct rec_result	 res;
	struct buf		 in = { 0 };
	char			*out;
	int			 i;

	expect_out("{" ENV ",\"foo\":1," TOOL ",\"bar\":{\"x\":[1, 2]},"
	    "\"message_head\":\"m\"}", NULL, "{" ENV "," TOOL "}");
	assert_int_equal(validate("{\"foo\":1," ENV "," TOOL
	    ",\"bar\":{\"x\":[1,2]},\"message_head\":\"m\"}",
	    strlen("{\"foo\":1," ENV "," TOOL
	    ",\"bar\":{\"x\":[1,2]},\"message_head\":\"m\"}"), NULL, &out,
	    &res), REC_OK);
	assert_string_equal(out, "{" ENV "," TOOL "}\n");
	assert_int_equal(res.rewritten, 1);
	assert_int_equal(res.ndropped, 3);
	assert_int_equal(res.dropped_len[0], 3);
	assert_memory_equal(res.dropped[0], "foo", 3);
	assert_memory_equal(res.dropped[1], "bar", 3);
	assert_int_equal(res.dropped_len[2], 12);
	assert_memory_equal(res.dropped[2], "message_head", 12);
	free(out);

	/* more than REC_MAX_DROPPED: all counted, the first ones named */
	assert_int_equal(buf_puts(&in, "{" ENV "," TOOL), 0);
	for (i = 0; i < 20; i++)
		assert_int_equal(buf_printf(&in, ",\"x%02d\":%d", i, i), 0);
	assert_int_equal(buf_puts(&in, "}"), 0);
	assert_int_equal(validate(in.data, in.len, NULL, &out, &res), REC_OK);
	assert_string_equal(out, "{" ENV "," TOOL "}\n");
	assert_int_equal(res.ndropped, 20);
	assert_int_equal(res.dropped_len[REC_MAX_DROPPED - 1], 3);
	assert_memory_equal(res.dropped[REC_MAX_DROPPED - 1], "x07", 3);
	free(out);
	buf_free(&in);

	/* every field unknown but event_id: nothing but the event is left */
	assert_int_equal(validate("{\"event_id\":\"x\"}", 16, NULL, &out,
	    &res), REC_E_UNKNOWN_EVENT);
	assert_string_equal(res.event_id, "x");
	free(out);
}

/* Too many fields: 64 are fine, 65 are not. */
static void
test_too_many(void **state)
{
	struct rec_result	 res;
	struct buf		 in = { 0 };
	char			*out;
	int			 i, nbase = 9 + 4;	/* ENV + TOOL fields */

	assert_int_equal(buf_puts(&in, "{" ENV "," TOOL), 0);
	for (i = nbase; i < REC_MAX_FIELDS; i++)
		assert_int_equal(buf_printf(&in, ",\"u%d\":0", i), 0);
	assert_int_equal(buf_puts(&in, "}"), 0);
	assert_int_equal(validate(in.data, in.len, NULL, &out, &res), REC_OK);
	assert_int_equal(res.ndropped, REC_MAX_FIELDS - nbase);
	free(out);
	in.len--;
	assert_int_equal(buf_puts(&in, ",\"one_more\":0}"), 0);
	assert_int_equal(validate(in.data, in.len, NULL, &out, &res),
	    REC_E_TOO_MANY);
	free(out);
	buf_free(&in);
}

/* Whitespace anywhere outside strings gives the compact record. */
static void
test_canonical(void **state)
{
	expect_out(" \n{ " ENV " ,\t" TOOL "\r\n}\n", NULL,
	    "{" ENV "," TOOL "}");
	expect_out("{" ENV ",\"event_id\":\"telemetry_disabled\","
	    "\"repo_origin\" : { \"host\" : \"github\" ,\n "
	    "\"has_git\" : true } }",
	    NULL, "{" ENV ",\"event_id\":\"telemetry_disabled\","
	    "\"repo_origin\":{\"host\":\"github\",\"has_git\":true}}");
	expect_out("{" ENV ",\"event_id\":\"panic\",\"location\":\"l\","
	    "\"thread\":\"t\",\"message_head\":\"a b\",\"backtrace_top_5\":[ "
	    "\"x y\" ,\n \"z\" ]}", NULL, "{" ENV ",\"event_id\":\"panic\","
	    "\"location\":\"l\",\"thread\":\"t\",\"message_head\":\"a b\","
	    "\"backtrace_top_5\":[\"x y\",\"z\"]}");
	/* an escaped key is written with its plain name */
	expect_out("{" ENV ",\"event_\\u0069d\":\"tool_call\",\"name\":\"ls\","
	    "\"success\":true,\"duration_ms\":0}", NULL, "{" ENV ","
	    "\"event_id\":\"tool_call\",\"name\":\"ls\",\"success\":true,"
	    "\"duration_ms\":0}");
}

/* message_head: 200 scalar values kept, never half a character. */
static void
test_truncate_head(void **state)
{
	static const char *const ch[] = { "a", "·", "→", "😀" };
	struct rec_result	 res;
	struct buf		 in = { 0 }, want = { 0 }, head = { 0 };
	char			*out;
	size_t			 k;
	int			 i;

	for (k = 0; k < sizeof ch / sizeof ch[0]; k++) {
		/* exactly 200: unchanged */
		head.len = 0;
		for (i = 0; i < 200; i++)
			assert_int_equal(buf_puts(&head,
			    ch[(k + (size_t)i) % 4]), 0);
		in.len = 0;
		assert_int_equal(buf_printf(&in, "{" ENV "," PANIC
		    ",\"message_head\":\"%s\"}", head.data), 0);
		expect_same(in.data);
		/* 201 and more: cut to 200 */
		for (i = 200; i < 260; i++)
			assert_int_equal(buf_puts(&head,
			    ch[(k + (size_t)i) % 4]), 0);
		in.len = 0;
		assert_int_equal(buf_printf(&in, "{" ENV "," PANIC
		    ",\"message_head\":\"%s\"}", head.data), 0);
		want.len = 0;
		assert_int_equal(buf_puts(&want, "{" ENV "," PANIC
		    ",\"message_head\":\""), 0);
		for (i = 0; i < 200; i++)
			assert_int_equal(buf_puts(&want,
			    ch[(k + (size_t)i) % 4]), 0);
		assert_int_equal(buf_puts(&want, "\"}"), 0);
		expect_out(in.data, NULL, want.data);
	}
	/* escapes count as the characters they stand for */
	in.len = 0;
	assert_int_equal(buf_puts(&in,
	    "{" ENV "," PANIC ",\"message_head\":\""),
	    0);
	for (i = 0; i < 201; i++)
		assert_int_equal(buf_puts(&in, "\\ud83d\\ude00"), 0);
	assert_int_equal(buf_puts(&in, "\"}"), 0);
	assert_int_equal(validate(in.data, in.len, NULL, &out, &res), REC_OK);
	assert_int_equal(res.rewritten, 1);
	assert_non_null(strstr(out, "\"message_head\":\"😀"));
	assert_int_equal(strlen(out), strlen("{" ENV "," PANIC
	    ",\"message_head\":\"\"}\n") + 200 * 4);
	free(out);
	buf_free(&in);
	buf_free(&want);
	buf_free(&head);
}

/*
 * error_data: cut at 4096 bytes on a character boundary and between two
 * tokens, so that the cut record is a fixed point.
 */
static void
test_truncate_data(void **state)
{
	struct rec_result	 res;
	struct buf		 in = { 0 };
	char			*out, *p, *q, *again;
	int			 i;

	assert_int_equal(buf_puts(&in, "{" ENV "," TOOL ",\"error_data\":\"x"),
	    0);
	for (i = 0; i < 3000; i++)
		assert_int_equal(buf_puts(&in, "→"), 0);	/* 3 bytes */
	assert_int_equal(buf_puts(&in, "\"}"), 0);
	assert_int_equal(validate(in.data, in.len, NULL, &out, &res), REC_OK);
	assert_int_equal(res.rewritten, 1);
	p = strstr(out, "\"error_data\":\"");
	assert_non_null(p);
	p += 14;
	q = strchr(p, '"');
	assert_non_null(q);
	/* 1 + 3k <= 4096 → 1 + 3 * 1365 = 4096 */
	assert_int_equal(q - p, 4096);
	free(out);

	in.len = 0;
	assert_int_equal(buf_puts(&in, "{" ENV "," TOOL ",\"error_data\":\"at"),
	    0);
	for (i = 0; i < 3000; i++)
		assert_int_equal(buf_puts(&in, "→"), 0);
	assert_int_equal(buf_puts(&in, "\"}"), 0);
	assert_int_equal(validate(in.data, in.len, NULL, &out, &res), REC_OK);
	p = strstr(out, "\"error_data\":\"") + 14;
	q = strchr(p, '"');
	assert_int_equal(q - p, 4094);	/* 2 + 3 * 1364 */
	free(out);

	/* words and placeholders are never cut in half */
	in.len = 0;
	assert_int_equal(buf_puts(&in, "{" ENV "," TOOL ",\"error_data\":\""),
	    0);
	for (i = 0; i < 700; i++)
		assert_int_equal(buf_puts(&in, "connection ab12cd "), 0);
	assert_int_equal(buf_puts(&in, "\"}"), 0);
	assert_int_equal(validate(in.data, in.len, NULL, &out, &res), REC_OK);
	p = strstr(out, "\"error_data\":\"") + 14;
	q = strchr(p, '"');
	assert_true(q - p <= 4096 && q - p > 4000);
	assert_true(q[-1] == ' ' || memcmp(q - 4, "<ID>", 4) == 0 ||
	    memcmp(q - 10, "connection", 10) == 0);
	assert_int_equal(validate(out, strlen(out) - 1, NULL, &again, &res),
	    REC_OK);
	assert_int_equal(res.rewritten, 0);
	assert_string_equal(again, out);
	free(again);
	free(out);
	buf_free(&in);
}

/* Invalid UTF-8 anywhere is refused. */
static void
test_bad_utf8(void **state)
{
	static const char *const bad[] = {
		"\xc3\x28", "\xa0\xa1", "\xe2\x28\xa1", "\xe2\x82\x28",
		"\xf0\x28\x8c\xbc", "\xc0\xaf", "\xe0\x80\xaf",
		"\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff", "\xc3",
		"\xf0\x9f\x98",
	};
	struct rec_result	 res;
	char			 in[4096], *out;
	size_t			 i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(in, sizeof in,
		    "{" ENV "," TOOL ",\"error_data\":\"a%sb\"}",
		    bad[i]);
		assert_int_equal(validate(in, strlen(in), NULL, &out, &res),
		    REC_E_UTF8);
		free(out);
		snprintf(in, sizeof in, "{" ENV "," TOOL ",\"k%s\":1}", bad[i]);
		assert_int_equal(validate(in, strlen(in), NULL, &out, &res),
		    REC_E_UTF8);
		free(out);
		snprintf(in, sizeof in, "%s{" ENV "," TOOL "}", bad[i]);
		assert_int_equal(validate(in, strlen(in), NULL, &out, &res),
		    REC_E_UTF8);
		free(out);
	}
}

/* Free text is reduced; escapes are decoded first and re-encoded after. */
static void
test_scrubbing(void **state)
{
	struct scrub_ctx	 sc = { "/home/u", "/work/p" };
	struct rec_result	 res;
	const char		*in;
	char			*out;

	expect_out("{" ENV ",\"event_id\":\"panic\","
	    "\"location\":\"/home/u/p/src/main.rs:10:5\",\"thread\":\"main\","
	    "\"message_head\":\"open /work/p/a.txt: denied\","
	    "\"backtrace_top_5\":[\"   0: x\",\"      at /rustc/abc/library/"
	    "std/src/rt.rs:1:2\"],"
	    "\"error_data\":\"{\\\"k\\\":\\\"/etc/x/y\\\"}\"}",
	    &sc, "{" ENV ",\"event_id\":\"panic\","
	    "\"location\":\"<HOME>/<PATH>:10:5\",\"thread\":\"main\","
	    "\"message_head\":\"open <CWD>/<PATH>: denied\","
	    "\"backtrace_top_5\":[\"   0: x\",\"      at <PATH>:1:2\"],"
	    "\"error_data\":\"{\\\"k\\\":\\\"<PATH>\\\"}\"}");
	/* without a context, the other rules still apply */
	in = "{" ENV "," TOOL ",\"error_data\":\"at \\/home\\/u\\/x\\/y.rs\\n"
	    "mail bob@example.com key sk-abcdefghijklmnopqrstuv\","
	    "\"model\":\"/models/llama/7b.gguf\"}";
	assert_int_equal(validate(in, strlen(in), NULL, &out, &res), REC_OK);
	assert_string_equal(out, "{" ENV "," TOOL ",\"error_data\":\"at <PATH>\\n"
	    "mail <EMAIL> key <SECRET>\",\"model\":\"<custom>\"}\n");
	assert_int_equal(res.redactions[SCRUB_PATH], 1);
	assert_int_equal(res.redactions[SCRUB_EMAIL], 1);
	assert_int_equal(res.redactions[SCRUB_SECRET], 1);
	assert_int_equal(res.redactions[SCRUB_CUSTOM], 1);
	assert_int_equal(res.redactions[SCRUB_HOME], 0);
	assert_int_equal(res.rewritten, 1);
	free(out);
	/* a stored record passes through: placeholders are kept */
	expect_same("{" ENV ",\"event_id\":\"panic\","
	    "\"location\":\"<HOME>/<PATH>:10:5\",\"thread\":\"main\","
	    "\"message_head\":\"m\",\"backtrace_top_5\":[],"
	    "\"error_data\":\"{\\\"message\\\":\\\"Failed to spawn MCP server: "
	    "<CWD>/<PATH> <URL:github.com> <SECRET>\\\"}\"}");
	/* a failed record reports no redactions */
	in = "{" ENV "," TOOL ",\"error_data\":\"/a/b/c\",\"turn\":-1}";
	assert_int_equal(validate(in, strlen(in), &sc, &out, &res),
	    REC_E_VALUE);
	assert_int_equal(res.redactions[SCRUB_PATH], 0);
	free(out);
}

/*
 * Structured strings have a shape: a value outside it is stored as
 * "<custom>" (error_kind: "other"; provider_host: its public host).
 */
static void
test_shapes(void **state)
{
	static const struct {
		const char	*field, *event, *value, *stored;
	} cases[] = {
		/* field, event payload, value, stored (NULL: as given) */
		{ "name", "tool_call", "bash", NULL },
		{ "name", "tool_call", "edit_file", NULL },
		{ "name", "tool_call", "mcp__github__create_issue", NULL },
		{ "name", "tool_call", "mcp__acme-db__query", "<custom>" },
		{ "name", "tool_call", "deploy_orion_prod", "<custom>" },
		{ "name", "tool_call", "Bash", "<custom>" },
		{ "type", "use_command", "session", NULL },
		{ "type", "use_command", "compact", NULL },
		{ "type", "use_command", "nope", "<custom>" },
		{ "type", "use_command", "deploy-orion", "<custom>" },
		{ "server_name", "mcp_connect", "filesystem", NULL },
		{ "server_name", "mcp_connect", "github", NULL },
		{ "server_name", "mcp_connect", "acme-internal-db", "<custom>" },
		{ "server_name", "mcp_connect", "t", "<custom>" },
		{ "model", "tool_call", "gpt-4o", NULL },
		{ "model", "tool_call", "claude-3-5-sonnet-20241022", NULL },
		{ "model", "tool_call", "deepseek-v4-flash", NULL },
		{ "model", "tool_call", "qwen2.5-coder:32b-instruct", NULL },
		{ "model", "tool_call", "meta-llama/Llama-3.1-8B-Instruct",
		    NULL },
		{ "model", "tool_call", "ft:gpt-4o-2024-08-06:acme-corp::9xYz",
		    "<custom>" },
		{ "model", "tool_call", "gpt-4o-orion-ledger", "<custom>" },
		{ "model", "tool_call", "acme/llama-3-8b", "<custom>" },
		{ "provider", "tool_call", "openai", NULL },
		{ "provider", "tool_call", "acme-gateway", "<custom>" },
		{ "provider_host", "tool_call", "api.openai.com", NULL },
		{ "provider_host", "tool_call",
		    "https://user:hunter2@api.openai.com:443/v1",
		    "api.openai.com" },
		{ "provider_host", "tool_call", "llm.corp.example", "<custom>" },
		{ "provider_host", "tool_call", "admin:pw@10.0.0.7:8080",
		    "<custom>" },
		{ "surface", "tool_call", "code_review", NULL },
		{ "surface", "tool_call", "orion_pipeline", "<custom>" },
		{ "account_id", "tool_call", "42", NULL },
		{ "account_id", "tool_call", "alice@example.com", "<custom>" },
		{ "turn_id", "tool_call", UUID1, NULL },
		{ "turn_id", "tool_call", "turn-for-alice", "<custom>" },
		{ "app_version", "tool_call", "4.22.3", NULL },
		{ "app_version", "tool_call", "1.0.0-beta.2", NULL },
		{ "app_version", "tool_call", "4.22.3-acme", "<custom>" },
		{ "locale", "tool_call", "zh-CN", NULL },
		{ "locale", "tool_call", "C", NULL },
		{ "locale", "tool_call", "", NULL },
		{ "locale", "tool_call", "alice's laptop", "<custom>" },
		{ "locale", "tool_call", "zqx", "<custom>" },
		{ "locale", "tool_call", "en-US.UTF-8@acme", "<custom>" },
		{ "locale", "tool_call", "zh-Hans-CN", NULL },
		{ "locale", "tool_call", "sr-RS@latin", NULL },
		{ "locale", "tool_call", "es-419", NULL },
		{ "invite_code", "login_success", "ABC12345", NULL },
		{ "invite_code", "login_success", "my code!", "<custom>" },
		{ "error_kind", "tool_call", "denied_by_user", NULL },
		{ "error_kind", "tool_call", "orion_ledger_failed", "other" },
		{ "name", "tool_call", "<custom>", NULL },
	};
	struct rec_result	 res;
	char			 in[2048], want[2048], *out;
	const char		*base;
	size_t			 i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (strcmp(cases[i].event, "tool_call") == 0)
			base = strcmp(cases[i].field, "name") == 0 ?
			    "\"event_id\":\"tool_call\",\"success\":true,"
			    "\"duration_ms\":5" : TOOL;
		else if (strcmp(cases[i].event, "use_command") == 0)
			base = "\"event_id\":\"use_command\"";
		else if (strcmp(cases[i].event, "mcp_connect") == 0)
			base = "\"event_id\":\"mcp_connect\","
			    "\"transport\":\"stdio\",\"success\":false";
		else
			base = "\"event_id\":\"login_success\"";
		if (strcmp(cases[i].field, "app_version") == 0 ||
		    strcmp(cases[i].field, "locale") == 0) {
			snprintf(in, sizeof in, "{\"device_id\":\"" NIL "\","
			    "\"launch_id\":\"" NIL "\",\"session_id\":\"" NIL
			    "\",\"ts\":0,\"schema_version\":1,\"os\":\"linux\","
			    "\"arch\":\"x86_64\",\"%s\":\"%s\",\"%s\":\"%s\","
			    "%s}", strcmp(cases[i].field, "locale") == 0 ?
			    "app_version" : "locale",
			    strcmp(cases[i].field, "locale") == 0 ? "1.0.0" :
			    "en-US", cases[i].field, cases[i].value, base);
			snprintf(want, sizeof want, "\"%s\":\"%s\"",
			    cases[i].field, cases[i].stored ? cases[i].stored :
			    cases[i].value);
		} else {
			snprintf(in, sizeof in, "{" ENV ",%s,\"%s\":\"%s\"}",
			    base, cases[i].field, cases[i].value);
			snprintf(want, sizeof want, "\"%s\":\"%s\"",
			    cases[i].field, cases[i].stored ? cases[i].stored :
			    cases[i].value);
		}
		if (validate(in, strlen(in), NULL, &out, &res) != REC_OK)
			fail_msg("case %zu: %s (%s)", i, rec_code(res.err),
			    res.field);
		if (strstr(out, want) == NULL)
			fail_msg("case %zu: want %s in %s", i, want, out);
		assert_int_equal(res.rewritten, cases[i].stored != NULL);
		free(out);
	}
}

/* Append k nested arrays around mid. */
static void
nest(struct buf *b, int k, const char *mid)
{
	int	 i;

	for (i = 0; i < k; i++)
		assert_int_equal(buf_putc(b, '['), 0);
	assert_int_equal(buf_puts(b, mid), 0);
	for (i = 0; i < k; i++)
		assert_int_equal(buf_putc(b, ']'), 0);
}

/* Queue recovery's check (proto/queue.c line_check), with jansson. */
static int
jansson_line_ok(const char *line, size_t len)
{
	json_t	*j, *v;
	int	 ok;

	if ((j = json_loadb(line, len, JSON_ALLOW_NUL, NULL)) == NULL)
		return 0;
	ok = json_is_object(j) &&
	    (v = json_object_get(j, "event_id")) != NULL &&
	    json_is_string(v) && (v = json_object_get(j, "ts")) != NULL &&
	    json_is_integer(v);
	json_decref(j);
	return ok;
}

/* Garbage, deep nesting and huge numbers: answers, never crashes. */
static void
test_hostile(void **state)
{
	struct rec_result	 res;
	struct buf		 in = { 0 };
	char			*out;
	int			 i;

	/* nesting inside a dropped field: fine up to the depth limit */
	assert_int_equal(buf_puts(&in, "{" ENV "," TOOL ",\"deep\":"), 0);
	for (i = 0; i < 100; i++)
		assert_int_equal(buf_puts(&in, i % 2 ? "{\"k\":" : "["), 0);
	assert_int_equal(buf_putc(&in, '0'), 0);
	for (i = 99; i >= 0; i--)
		assert_int_equal(buf_puts(&in, i % 2 ? "}" : "]"), 0);
	assert_int_equal(buf_puts(&in, "}"), 0);
	assert_int_equal(validate(in.data, in.len, NULL, &out, &res), REC_OK);
	assert_int_equal(res.ndropped, 1);
	free(out);
	/* jansson's limit: no value deeper than 2048 levels (record = 1) */
	for (i = 2045; i <= 2048; i++) {
		in.len = 0;
		assert_int_equal(buf_puts(&in, "{" ENV "," TOOL ",\"deep\":"),
		    0);
		nest(&in, i, "");
		assert_int_equal(buf_putc(&in, '}'), 0);
		assert_int_equal(validate(in.data, in.len, NULL, &out, &res),
		    i <= 2047 ? REC_OK : REC_E_JSON);
		free(out);
		assert_int_equal(rec_line_ok(in.data, in.len), i <= 2047);
		in.len = 0;
		assert_int_equal(buf_puts(&in, "{" ENV "," TOOL ",\"deep\":"),
		    0);
		nest(&in, i, "1");
		assert_int_equal(buf_putc(&in, '}'), 0);
		assert_int_equal(validate(in.data, in.len, NULL, &out, &res),
		    i <= 2046 ? REC_OK : REC_E_JSON);
		free(out);
	}
	/* 100000 levels: refused, no stack overflow */
	in.len = 0;
	assert_int_equal(buf_puts(&in, "{\"deep\":"), 0);
	for (i = 0; i < 100000; i++)
		assert_int_equal(buf_putc(&in, '['), 0);
	for (i = 0; i < 100000; i++)
		assert_int_equal(buf_putc(&in, ']'), 0);
	assert_int_equal(buf_putc(&in, '}'), 0);
	assert_int_equal(validate(in.data, in.len, NULL, &out, &res),
	    REC_E_JSON);
	free(out);
	in.len = 0;
	for (i = 0; i < 100000; i++)
		assert_int_equal(buf_putc(&in, '['), 0);
	assert_int_equal(validate(in.data, in.len, NULL, &out, &res),
	    REC_E_JSON);
	free(out);
	/* huge numbers */
	in.len = 0;
	assert_int_equal(buf_puts(&in, "{" ENV "," TOOL ",\"big\":1e999999,"
	    "\"neg\":-0.0e-0,\"turn\":"), 0);
	for (i = 0; i < 5000; i++)
		assert_int_equal(buf_putc(&in, '9'), 0);
	assert_int_equal(buf_puts(&in, "}"), 0);
	assert_int_equal(validate(in.data, in.len, NULL, &out, &res),
	    REC_E_VALUE);
	assert_string_equal(res.field, "turn");
	free(out);
	/* numbers jansson cannot load are dropped with their field */
	in.len = 0;
	assert_int_equal(buf_puts(&in, "{" ENV "," TOOL ",\"big\":1e999999,"
	    "\"huge\":-99999999999999999999}"), 0);
	assert_int_equal(validate(in.data, in.len, NULL, &out, &res), REC_OK);
	assert_string_equal(out, "{" ENV "," TOOL "}\n");
	free(out);
	assert_false(rec_line_ok(in.data, in.len));
	buf_free(&in);
}

/* Random mutations of a valid record: no crash; accepted output is sound. */
static void
test_mutations(void **state)
{
	static const char	 base[] = "{" ENV "," PANIC ",\"message_head\":"
	    "\"a\\u00e9 /x/y/z\",\"error_data\":\"k=\\\"v\\\" \","
	    "\"x\":[{},[]]}";
	static const char	 alpha[] = "{}[]:,\"\\ u0123456789abcdef"
	    "nrtl-+.eE"
	    "\x80\xc3\xa9\xe4\xb8\xad";
	struct scrub_ctx	 sc = { "/x", "/y" };
	struct rec_result	 res;
	struct buf		 out = { 0 };
	uint32_t		 seed = 7;
	char			 b[sizeof base + 8], *copy;
	size_t			 n, pos;
	int			 iter, k, ok = 0;

	for (iter = 0; iter < 50000; iter++) {
		memcpy(b, base, sizeof base);
		n = sizeof base - 1;
		for (k = 0; k < 1 + iter % 4 && n > 0; k++) {
			seed = seed * 1103515245 + 12345;
			pos = (seed >> 8) % n;
			seed = seed * 1103515245 + 12345;
			switch ((seed >> 8) % 3) {
			case 0:
				b[pos] = alpha[(seed >> 12) %
				    (sizeof alpha - 1)];
				break;
			case 1:
				memmove(b + pos, b + pos + 1, n - pos - 1);
				n--;
				break;
			default:
				n = pos + 1;	/* truncate */
				break;
			}
		}
		/* exact size, so that ASan sees any overread */
		copy = malloc(n ? n : 1);
		assert_non_null(copy);
		memcpy(copy, b, n);
		out.len = 0;
		if (rec_validate(copy, n, &sc, &out, &res) == REC_OK) {
			ok++;
			assert_true(utf8_valid((unsigned char *)out.data,
			    out.len));
			assert_true(rec_line_ok(out.data, out.len - 1));
			assert_true(jansson_line_ok(out.data, out.len - 1));
			/* the canonical output is a fixed point */
			{
				struct buf	 again = { 0 };
				struct rec_result res2;

				assert_int_equal(rec_validate(out.data,
				    out.len - 1, &sc, &again, &res2), REC_OK);
				assert_int_equal(res2.rewritten, 0);
				assert_int_equal(again.len, out.len);
				assert_memory_equal(again.data, out.data,
				    out.len);
				buf_free(&again);
			}
		}
		free(copy);
	}
	assert_true(ok > 0);
	buf_free(&out);
}

#define LINE	"{\"ts\":1,\"event_id\":\"x\",\"a\":"
static void
test_line_ok(void **state)
{
	static const struct {
		const char	*line;
		int		 ok;
	} cases[] = {
		{ "{\"event_id\":\"x\",\"ts\":0}", 1 },
		{ "{\"ts\":-9223372036854775808,\"event_id\":\"\"}", 1 },
		{ "{\"ts\":9223372036854775807,\"event_id\":\"x\",\"a\":[1]}",
		    1 },
		{ "{\"ts\":9223372036854775808,\"event_id\":\"x\"}", 0 },
		{ "{\"ts\":1.0,\"event_id\":\"x\"}", 0 },
		{ "{\"ts\":\"1\",\"event_id\":\"x\"}", 0 },
		{ "{\"event_id\":\"x\"}", 0 },
		{ "{\"ts\":1}", 0 },
		{ "{\"ts\":1,\"event_id\":1}", 0 },
		{ "{\"ts\":1,\"event_id\":\"x\"", 0 },
		{ "[{\"ts\":1,\"event_id\":\"x\"}]", 0 },
		{ "", 0 },
		{ "{\"ts\":1,\"event_id\":\"\xff\"}", 0 },
		/* as jansson: the last duplicate wins */
		{ "{\"ts\":1,\"event_id\":\"x\",\"ts\":\"s\"}", 0 },
		{ "{\"ts\":\"s\",\"event_id\":\"x\",\"t\\u0073\":1}", 1 },
		{ "{\"ts\":1,\"event_id\":\"x\",\"event_id\":2}", 0 },
		/* any number jansson cannot hold fails the line */
		{ LINE "18446744073709551615}", 0 },
		{ LINE "-9223372036854775809}", 0 },
		{ LINE "[1e309]}", 0 },
		{ LINE "1e308}", 1 },
		{ LINE "1e-400}", 1 },
		{ LINE "1.7976931348623157e308}", 1 },
		{ LINE "1.7976931348623158e308}", 1 },	/* rounds down */
		{ LINE "1.7976931348623159e308}", 0 },
		{ LINE "0.00017976931348623159e312}", 0 },
		{ LINE "-0.0e99999999999999999999}", 1 },
		/* \u0000: fine in values (JSON_ALLOW_NUL), not in keys */
		{ "{\"ts\":1,\"event_id\":\"x\\u0000\"}", 1 },
		{ "{\"ts\":1,\"event_id\":\"x\",\"\\u0000\":1}", 0 },
	};
	size_t	 i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (rec_line_ok(cases[i].line, strlen(cases[i].line)) !=
		    cases[i].ok)
			fail_msg("case %zu: %s", i, cases[i].line);
		/* the table itself agrees with queue recovery */
		assert_int_equal(jansson_line_ok(cases[i].line,
		    strlen(cases[i].line)), cases[i].ok);
	}
}

/*
 * rec_line_ok agrees with queue recovery on many lines: mutations of a
 * stored line with the numbers, escapes and nesting that differ most.
 */
static void
test_line_agrees(void **state)
{
	static const char	 base[] = "{\"ts\":12,"
	    "\"event_id\":\"a\\u00e9\","
	    "\"n\":[-0.5e3,9223372036854775807,{\"k\":\"\\u0000\"}],"
	    "\"ts\":-9223372036854775808}";
	static const char	 alpha[] = "{}[]:,\"\\ u0123456789abcdef"
	    "nrtl-+.eE\x80\xc3\xa9";
	uint32_t		 seed = 99;
	char			 b[sizeof base + 8], *copy;
	size_t			 n, pos;
	int			 iter, k, agree = 0;

	for (iter = 0; iter < 100000; iter++) {
		memcpy(b, base, sizeof base);
		n = sizeof base - 1;
		for (k = 0; k < 1 + iter % 3 && n > 0; k++) {
			seed = seed * 1103515245 + 12345;
			pos = (seed >> 8) % n;
			seed = seed * 1103515245 + 12345;
			if ((seed >> 8) % 2)
				b[pos] = alpha[(seed >> 12) %
				    (sizeof alpha - 1)];
			else {
				memmove(b + pos, b + pos + 1, n - pos - 1);
				n--;
			}
		}
		copy = malloc(n ? n : 1);
		assert_non_null(copy);
		memcpy(copy, b, n);
		if (rec_line_ok(copy, n) != jansson_line_ok(copy, n))
			fail_msg("disagree (jansson %d): %.*s",
			    jansson_line_ok(copy, n), (int)n, copy);
		agree += rec_line_ok(copy, n);
		free(copy);
	}
	assert_true(agree > 0);
}

static void
test_names(void **state)
{
	static const char *const events[] = { "open_atomcode", "llm_chat",
	    "tool_call", "use_command", "mcp_connect", "login_success",
	    "install_completed", "take_codingplan", "panic",
	    "telemetry_disabled", "codingplan_official_build_required" };
	size_t	 i;

	for (i = 0; i < sizeof events / sizeof events[0]; i++)
		assert_true(rec_known_event(events[i], strlen(events[i])));
	assert_false(rec_known_event("panic", 4));
	assert_false(rec_known_event("panics", 6));
	assert_false(rec_known_event("", 0));
	assert_string_equal(rec_code(REC_E_JSON), "bad_json");
	assert_string_equal(rec_code(REC_E_UTF8), "bad_utf8");
	assert_string_equal(rec_code(REC_E_NOT_OBJECT), "not_object");
	assert_string_equal(rec_code(REC_E_NO_EVENT_ID), "missing_event_id");
	assert_string_equal(rec_code(REC_E_UNKNOWN_EVENT), "unknown_event");
	assert_string_equal(rec_code(REC_E_MISSING), "missing_field");
	assert_string_equal(rec_code(REC_E_TYPE), "bad_type");
	assert_string_equal(rec_code(REC_E_VALUE), "bad_value");
	assert_string_equal(rec_code(REC_E_TOO_LONG), "too_long");
	assert_string_equal(rec_code(REC_E_DUPLICATE), "duplicate_field");
	assert_string_equal(rec_code(REC_E_TOO_MANY), "too_many_fields");
	assert_string_equal(rec_code(REC_E_NOMEM), "internal");
	assert_string_equal(rec_code(REC_NERR), "internal");
}

/* res may be NULL; the output buffer is appended to. */
static void
test_null_result(void **state)
{
	static const char	 in[] = "{" ENV "," TOOL "}";
	struct buf		 out = { 0 };

	assert_int_equal(buf_puts(&out, "a\n"), 0);
	assert_int_equal(rec_validate(in, sizeof in - 1, NULL, &out, NULL),
	    REC_OK);
	assert_int_equal(out.len, 2 + sizeof in);
	assert_memory_equal(out.data + 2, in, sizeof in - 1);
	assert_int_equal(rec_validate("x", 1, NULL, &out, NULL), REC_E_JSON);
	assert_int_equal(out.len, 2 + sizeof in);
	buf_free(&out);
}

/*
 * Every field of the schema is recognised by its name (the lookup is made
 * from the field list, not kept beside it): an envelope field with a value
 * of the wrong type is refused naming that field, where an unknown name
 * would be dropped; every event finds each of its payload fields by name.
 * Near misses stay unknown.
 */
static void
test_every_field_known(void **state)
{
	static const char	*const near[] = { "d", "ts2", "Ts", "device_idx",
	    "evnt_id", "turn_i", "backtrace_top_6", "", "t" };
	struct rec_result	 res;
	struct rec_field	 f;
	char			 rec[2048], quoted[80];
	unsigned		 ev, k, n = 0;
	size_t			 i;

	(void)state;
	for (k = 0; rec_envelope_field(k, &f); k++, n++) {
		if (strcmp(f.name, "event_id") == 0)
			continue;	/* a wrong type: missing_event_id */
		/* Known twice (one in ENV) is a duplicate, once a bad type. */
		snprintf(quoted, sizeof quoted, "\"%s\"", f.name);
		snprintf(rec, sizeof rec, "{\"%s\":[]," TOOL "," ENV "}",
		    f.name);
		assert_int_equal(validate(rec, strlen(rec), NULL, NULL, &res),
		    strstr(ENV, quoted) != NULL ? REC_E_DUPLICATE : REC_E_TYPE);
		assert_string_equal(res.field, f.name);
	}
	for (ev = 0; ev < rec_event_count(); ev++)
		for (k = 0; rec_event_field(ev, k, &f); k++, n++)
			assert_int_equal(rec_event_find(ev, f.name,
			    strlen(f.name), &f), 1);
	assert_true(n > 40);
	for (i = 0; i < sizeof near / sizeof near[0]; i++) {
		snprintf(rec, sizeof rec, "{" ENV "," TOOL ",\"%s\":1}", near[i]);
		assert_int_equal(validate(rec, strlen(rec), NULL, NULL, &res),
		    REC_OK);
		assert_int_equal(res.ndropped, 1);
		for (ev = 0; ev < rec_event_count(); ev++)
			assert_int_equal(rec_event_find(ev, near[i],
			    strlen(near[i]), &f), 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_field_known),
		cmocka_unit_test(test_goldens),
		cmocka_unit_test(test_accept),
		cmocka_unit_test(test_reject),
		cmocka_unit_test(test_field_values),
		cmocka_unit_test(test_envelope_values),
		cmocka_unit_test(test_string_bounds),
		cmocka_unit_test(test_dropped),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_canonical),
		cmocka_unit_test(test_truncate_head),
		cmocka_unit_test(test_truncate_data),
		cmocka_unit_test(test_bad_utf8),
		cmocka_unit_test(test_scrubbing),
		cmocka_unit_test(test_shapes),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_line_ok),
		cmocka_unit_test(test_line_agrees),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_null_result),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
