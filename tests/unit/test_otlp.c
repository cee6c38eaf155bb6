/*
 * test_otlp — one queue segment as an OTLP logs request (agent/otlp.c) and
 * the export's setting checks (agent/export.c): the JSON shape and types
 * (64-bit integers as strings, enums as integers, typed AnyValues), the
 * resource grouping, lines that are not records, escaping, time stamps,
 * severities; endpoints and header lists, good and bad.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "buf.h"
#include "export.h"
#include "otlp.h"

#define REC_LLM	"{\"app_version\":\"1.2.3\",\"arch\":\"x86_64\",\"os\":\"linux\"," \
	"\"event_id\":\"llm_chat\",\"ts\":1795824000123,\"input_tokens\":900," \
	"\"had_error\":false,\"device_id\":\"3f2c9a1e-6b7d-4c1a-9e55-0d7b2f8a4c10\"}"

/* Encode text; the request parsed back (caller decrefs). */
static json_t *
encode(const char *text, struct otlp_counts *c)
{
	struct buf	 out = { NULL, 0, 0 };
	json_error_t	 e;
	json_t		*o;

	assert_int_equal(otlp_encode(text, strlen(text), 1795824001000,
	    "9.9.9", &out, c), 0);
	o = json_loadb(out.data, out.len, 0, &e);
	if (o == NULL)
		fail_msg("not JSON: %s: %.*s", e.text, (int)out.len, out.data);
	buf_free(&out);
	return o;
}

/* The value of attribute key in a KeyValue array, or NULL. */
static json_t *
attr(json_t *kvs, const char *key)
{
	size_t	 i;
	json_t	*kv;

	json_array_foreach(kvs, i, kv) {
		if (strcmp(json_string_value(json_object_get(kv, "key")), key) ==
		    0)
			return json_object_get(kv, "value");
	}
	return NULL;
}

static json_t *
first_record(json_t *req)
{
	return json_array_get(json_object_get(json_array_get(json_object_get(
	    json_array_get(json_object_get(req, "resourceLogs"), 0),
	    "scopeLogs"), 0), "logRecords"), 0);
}

static void
test_shape(void **state)
{
	struct otlp_counts	 c;
	json_t			*req, *rl, *res, *sl, *lr, *a;

	(void)state;
	req = encode(REC_LLM "\n", &c);
	assert_int_equal(c.records, 1);
	assert_int_equal(c.resources, 1);
	assert_int_equal(json_object_size(req), 1);
	rl = json_array_get(json_object_get(req, "resourceLogs"), 0);
	res = json_object_get(json_object_get(rl, "resource"), "attributes");
	assert_string_equal(json_string_value(json_object_get(attr(res,
	    "service.name"), "stringValue")), "atomcode");
	assert_string_equal(json_string_value(json_object_get(attr(res,
	    "service.version"), "stringValue")), "1.2.3");
	assert_string_equal(json_string_value(json_object_get(attr(res,
	    "os.type"), "stringValue")), "linux");
	assert_string_equal(json_string_value(json_object_get(attr(res,
	    "host.arch"), "stringValue")), "amd64");
	sl = json_array_get(json_object_get(rl, "scopeLogs"), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    sl, "scope"), "name")), "atomcode-telemetryd");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    sl, "scope"), "version")), "9.9.9");
	lr = first_record(req);
	/* fixed64 as a decimal string, enum as an integer. */
	assert_true(json_is_string(json_object_get(lr, "timeUnixNano")));
	assert_string_equal(json_string_value(json_object_get(lr,
	    "timeUnixNano")), "1795824000123000000");
	assert_string_equal(json_string_value(json_object_get(lr,
	    "observedTimeUnixNano")), "1795824001000000000");
	assert_true(json_is_integer(json_object_get(lr, "severityNumber")));
	assert_int_equal(json_integer_value(json_object_get(lr,
	    "severityNumber")), 9);
	assert_string_equal(json_string_value(json_object_get(lr,
	    "eventName")), "llm_chat");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    lr, "body"), "stringValue")), "llm_chat");
	a = json_object_get(lr, "attributes");
	assert_string_equal(json_string_value(json_object_get(attr(a,
	    "event.name"), "stringValue")), "llm_chat");
	/* int64 as a string; bool as a bool; envelope in the resource only. */
	assert_string_equal(json_string_value(json_object_get(attr(a,
	    "input_tokens"), "intValue")), "900");
	assert_true(json_is_false(json_object_get(attr(a, "had_error"),
	    "boolValue")));
	assert_non_null(attr(a, "device_id"));
	assert_null(attr(a, "ts"));
	assert_null(attr(a, "event_id"));
	assert_null(attr(a, "app_version"));
	assert_null(attr(a, "os"));
	assert_null(attr(a, "arch"));
	json_decref(req);
}

static void
test_types(void **state)
{
	struct otlp_counts	 c;
	json_t			*req, *a, *v, *vals;

	(void)state;
	req = encode("{\"event_id\":\"panic\",\"ts\":1,\"repo_origin\":"
	    "{\"host\":\"github\",\"has_git\":true},\"backtrace_top_5\":[\"a\","
	    "\"b\"],\"ratio\":0.5,\"nothing\":null,\"big\":9223372036854775807,"
	    "\"neg\":-3}\n", &c);
	a = json_object_get(first_record(req), "attributes");
	v = json_object_get(attr(a, "repo_origin"), "kvlistValue");
	vals = json_object_get(v, "values");
	assert_int_equal(json_array_size(vals), 2);
	assert_string_equal(json_string_value(json_object_get(attr(vals,
	    "host"), "stringValue")), "github");
	assert_true(json_is_true(json_object_get(attr(vals, "has_git"),
	    "boolValue")));
	vals = json_object_get(json_object_get(attr(a, "backtrace_top_5"),
	    "arrayValue"), "values");
	assert_int_equal(json_array_size(vals), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    vals, 1), "stringValue")), "b");
	assert_true(json_is_real(json_object_get(attr(a, "ratio"),
	    "doubleValue")));
	assert_int_equal(json_object_size(attr(a, "nothing")), 0);
	assert_string_equal(json_string_value(json_object_get(attr(a, "big"),
	    "intValue")), "9223372036854775807");
	assert_string_equal(json_string_value(json_object_get(attr(a, "neg"),
	    "intValue")), "-3");
	/* A panic is FATAL; no resource values: only service.name. */
	assert_int_equal(json_integer_value(json_object_get(first_record(req),
	    "severityNumber")), 21);
	assert_int_equal(json_array_size(json_object_get(json_object_get(
	    json_array_get(json_object_get(req, "resourceLogs"), 0),
	    "resource"), "attributes")), 1);
	json_decref(req);
}

static void
test_grouping(void **state)
{
	struct otlp_counts	 c;
	json_t			*req, *rls;
	const char		*text =
	    "{\"event_id\":\"a\",\"ts\":1,\"app_version\":\"1\",\"os\":\"macos\"}\n"
	    "{\"event_id\":\"b\",\"ts\":2,\"app_version\":\"2\",\"os\":\"macos\"}\n"
	    "\n"
	    "{\"event_id\":\"c\",\"ts\":3,\"app_version\":\"1\",\"os\":\"macos\"}\r\n";

	(void)state;
	req = encode(text, &c);
	assert_int_equal(c.records, 3);
	assert_int_equal(c.resources, 2);
	rls = json_object_get(req, "resourceLogs");
	assert_int_equal(json_array_size(rls), 2);
	/* First-seen order; "c" joins the first group. */
	assert_int_equal(json_array_size(json_object_get(json_array_get(
	    json_object_get(json_array_get(rls, 0), "scopeLogs"), 0),
	    "logRecords")), 2);
	assert_string_equal(json_string_value(json_object_get(attr(
	    json_object_get(json_object_get(json_array_get(rls, 0),
	    "resource"), "attributes"), "os.type"), "stringValue")), "darwin");
	json_decref(req);
}

static void
test_unparsed_and_escaping(void **state)
{
	struct otlp_counts	 c;
	json_t			*req, *lr, *a;
	const char		*body;
	const char		 text[] = "not json \xff\xfe </script> \"q\"\n"
	    "[1,2]\n"
	    "{\"event_id\":\"tool_call\",\"ts\":5,\"name\":\"</script>\\u0001"
	    "\\\"<PATH>\",\"error_kind\":\"io\"}\n";

	(void)state;
	req = encode(text, &c);
	assert_int_equal(c.records, 3);
	assert_int_equal(c.unparsed, 2);
	lr = first_record(req);
	body = json_string_value(json_object_get(json_object_get(lr, "body"),
	    "stringValue"));
	assert_non_null(body);
	assert_non_null(strstr(body, "\xef\xbf\xbd\xef\xbf\xbd </script>"));
	assert_true(json_is_true(json_object_get(attr(json_object_get(lr,
	    "attributes"), "atomcode.unparsed"), "boolValue")));
	assert_null(json_object_get(lr, "timeUnixNano"));
	lr = json_array_get(json_object_get(json_array_get(json_object_get(
	    json_array_get(json_object_get(req, "resourceLogs"), 0),
	    "scopeLogs"), 0), "logRecords"), 2);
	a = json_object_get(lr, "attributes");
	assert_string_equal(json_string_value(json_object_get(attr(a, "name"),
	    "stringValue")), "</script>\x01\"<PATH>");
	assert_int_equal(json_integer_value(json_object_get(lr,
	    "severityNumber")), 17);
	json_decref(req);
}

static void
test_times(void **state)
{
	struct otlp_counts	 c;
	json_t			*req;
	struct buf		 out = { NULL, 0, 0 };
	const char		*bad[] = {
		"{\"event_id\":\"x\"}\n",
		"{\"event_id\":\"x\",\"ts\":-5}\n",
		"{\"event_id\":\"x\",\"ts\":0}\n",
		"{\"event_id\":\"x\",\"ts\":\"soon\"}\n",
		"{\"event_id\":\"x\",\"ts\":9223372036854775807}\n",
	};
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		req = encode(bad[i], &c);
		assert_null(json_object_get(first_record(req),
		    "timeUnixNano"));
		json_decref(req);
	}
	/* Nothing to send. */
	assert_int_equal(otlp_encode("\n\n", 2, 0, "v", &out, &c), -1);
	assert_int_equal(otlp_encode("", 0, 0, "v", &out, &c), -1);
	assert_int_equal(out.len, 0);
	/* observed 0: left out. */
	assert_int_equal(otlp_encode(REC_LLM, strlen(REC_LLM), 0, "v", &out,
	    &c), 0);
	assert_null(strstr(out.data, "observedTimeUnixNano"));
	buf_free(&out);
}

static void
test_mapping(void **state)
{
	(void)state;
	assert_string_equal(otlp_os_type("macos"), "darwin");
	assert_string_equal(otlp_os_type("linux"), "linux");
	assert_string_equal(otlp_os_type("windows"), "windows");
	assert_string_equal(otlp_host_arch("x86_64"), "amd64");
	assert_string_equal(otlp_host_arch("aarch64"), "arm64");
	assert_string_equal(otlp_host_arch("other"), "other");
}

static void
test_endpoints(void **state)
{
	static const char *const good[] = {
		"https://collector:4318/v1/logs", "HTTPS://c.example/v1/logs",
		"http://127.0.0.1:4318/v1/logs", "http://localhost/v1/logs",
		"http://[::1]:4318/v1/logs", "http://127.9.9.9/x",
		"https://user:pw@c.example:4318/v1/logs",
	};
	static const char *const bad[] = {
		"", "ftp://c/v1/logs", "collector:4318", "http://c.example/v1/logs",
		"http://10.0.0.1:4318/v1/logs", "http:///v1/logs", "https://",
		"https://c/v1/logs x", "https://c/\r\nX: 1", "http://127.0.0.1.evil/",
		"http://localhost.evil.example/", "file:///etc/passwd",
	};
	char	err[256];
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof good / sizeof good[0]; i++)
		if (export_check_endpoint(good[i], 0, err, sizeof err) != 0)
			fail_msg("refused %s: %s", good[i], err);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (export_check_endpoint(bad[i], 0, err, sizeof err) != -1)
			fail_msg("accepted %s", bad[i]);
	assert_int_equal(export_check_endpoint("http://c.example/v1/logs", 1,
	    err, sizeof err), 0);
}

static void
test_headers(void **state)
{
	static const char *const good[] = {
		"", "Authorization=Bearer%20abc", "a=1,b=2", " a = 1 , b=x%2Cy ",
		"x-scope-orgid=tenant-1,api-key=", ",,a=b,",
	};
	static const char *const bad[] = {
		"noequals", "=value", "bad name=1", "a=b%0d%0aX-Evil: 1",
		"a=b%00", "content-type=text/plain", "Host=evil", "a\x01=b",
		"Content-Encoding=identity", "a=\x7f",
	};
	char	err[256];
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof good / sizeof good[0]; i++)
		if (export_check_headers(good[i], err, sizeof err) != 0)
			fail_msg("refused \"%s\": %s", good[i], err);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (export_check_headers(bad[i], err, sizeof err) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shape),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_grouping),
		cmocka_unit_test(test_unparsed_and_escaping),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_mapping),
		cmocka_unit_test(test_endpoints),
		cmocka_unit_test(test_headers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
