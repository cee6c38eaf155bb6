/* test_frame.c — the frame codec (proto/frame.c): lengths, truncation, payload checks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frame.h"

static void
hdr(unsigned char *b, uint32_t l)
{
	b[0] = (unsigned char)(l >> 24);
	b[1] = (unsigned char)(l >> 16);
	b[2] = (unsigned char)(l >> 8);
	b[3] = (unsigned char)l;
}

static void
test_roundtrip(void **state)
{
	struct buf		 b = { 0 };
	const unsigned char	*p;
	size_t			 plen, used;

	assert_int_equal(frame_encode(&b, "{\"op\":\"status\"}", 15), 0);
	assert_int_equal(b.len, 19);
	assert_memory_equal(b.data, "\0\0\0\x0f{\"op\":\"status\"}", 19);
	assert_int_equal(frame_decode((unsigned char *)b.data, b.len, &p, &plen,
	    &used), FRAME_OK);
	assert_int_equal(plen, 15);
	assert_int_equal(used, 19);
	assert_memory_equal(p, "{\"op\":\"status\"}", 15);
	buf_free(&b);
}

/*
 * The length is big-endian on every host (the codec shifts; a memcpy of a
 * host integer would give 02 01 00 00 on x86 and arm64): encode 258 and
 * 65536, and a little-endian header must not decode as 258.
 */
static void
test_byte_order(void **state)
{
	static const unsigned char	le258[] = { 0x02, 0x01, 0x00, 0x00 };
	struct buf			 b = { 0 };
	char				*big;
	const unsigned char		*p;
	size_t				 plen, used;

	assert_non_null(big = malloc(FRAME_MAX));
	memset(big, ' ', FRAME_MAX);
	assert_int_equal(frame_encode(&b, big, 258), 0);
	assert_memory_equal(b.data, "\x00\x00\x01\x02", 4);
	assert_int_equal(frame_decode((unsigned char *)b.data, b.len, &p, &plen,
	    &used), FRAME_OK);
	assert_int_equal(plen, 258);
	b.len = 0;
	assert_int_equal(frame_encode(&b, big, FRAME_MAX), 0);
	assert_memory_equal(b.data, "\x00\x01\x00\x00", 4);
	assert_int_equal(frame_decode((unsigned char *)b.data, b.len, &p, &plen,
	    &used), FRAME_OK);
	assert_int_equal(plen, FRAME_MAX);
	/* 0x02010000 is far past FRAME_MAX: a closed stream, not 258 bytes */
	memcpy(b.data, le258, 4);
	assert_int_equal(frame_decode((unsigned char *)b.data, b.len, &p, &plen,
	    &used), FRAME_ERR_LEN);
	buf_free(&b);
	free(big);
}

/* Every length from 0 to FRAME_MAX+1 at the boundaries. */
static void
test_lengths(void **state)
{
	static const struct {
		uint32_t		len;
		enum frame_status	want;
	} cases[] = {
		{ 0, FRAME_ERR_LEN },
		{ 1, FRAME_OK },
		{ FRAME_MAX, FRAME_OK },
		{ FRAME_MAX + 1, FRAME_ERR_LEN },
		{ 0x7fffffff, FRAME_ERR_LEN },
		{ 0xffffffff, FRAME_ERR_LEN },
	};
	unsigned char		*b;
	const unsigned char	*p;
	size_t			 plen, used, i;

	b = calloc(1, FRAME_MAX + 8);
	assert_non_null(b);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		hdr(b, cases[i].len);
		assert_int_equal(frame_decode(b, FRAME_MAX + 8, &p, &plen, &used),
		    cases[i].want);
		if (cases[i].want == FRAME_OK) {
			assert_int_equal(plen, cases[i].len);
			assert_int_equal(used, cases[i].len + FRAME_HDR);
		}
	}
	free(b);
}

/* A truncated frame needs more bytes at every cut point. */
static void
test_truncated(void **state)
{
	struct buf		 b = { 0 };
	const unsigned char	*p;
	size_t			 plen, used, cut;

	frame_encode(&b, "{\"a\":1}", 7);
	for (cut = 0; cut < b.len; cut++)
		assert_int_equal(frame_decode((unsigned char *)b.data, cut, &p,
		    &plen, &used), FRAME_NEED_MORE);
	assert_int_equal(frame_decode((unsigned char *)b.data, b.len, &p, &plen,
	    &used), FRAME_OK);
	buf_free(&b);
}

/* Two frames back to back decode in order. */
static void
test_two_frames(void **state)
{
	struct buf		 b = { 0 };
	const unsigned char	*p;
	size_t			 plen, used;

	frame_encode(&b, "{}", 2);
	frame_encode(&b, "{\"x\":2}", 7);
	assert_int_equal(frame_decode((unsigned char *)b.data, b.len, &p, &plen,
	    &used), FRAME_OK);
	assert_int_equal(plen, 2);
	assert_int_equal(frame_decode((unsigned char *)b.data + used,
	    b.len - used, &p, &plen, &used), FRAME_OK);
	assert_memory_equal(p, "{\"x\":2}", 7);
	buf_free(&b);
}

static void
test_encode_bounds(void **state)
{
	struct buf	 b = { 0 };
	char		*big = calloc(1, FRAME_MAX + 1);

	assert_non_null(big);
	assert_int_equal(frame_encode(&b, "", 0), -1);
	assert_int_equal(frame_encode(&b, big, FRAME_MAX + 1), -1);
	assert_int_equal(frame_encode(&b, big, FRAME_MAX), 0);
	assert_int_equal(b.len, FRAME_MAX + FRAME_HDR);
	free(big);
	buf_free(&b);
}

static void
test_payload_checks(void **state)
{
	static const struct {
		const char	*in;
		size_t		 len;
		const char	*want;
	} cases[] = {
		{ "{}", 2, NULL },
		{ "  \n{\"a\":1}", 10, NULL },
		{ "[]", 2, "not_object" },
		{ "\"str\"", 5, "not_object" },
		{ "42", 2, "not_object" },
		{ "   ", 3, "not_object" },
		{ "null", 4, "not_object" },
		{ "{\"a\":\"\xff\"}", 9, "bad_utf8" },
		{ "{\"a\":\"\xc0\xaf\"}", 10, "bad_utf8" },	/* overlong */
		{ "{\"a\":\"\xed\xa0\x80\"}", 11, "bad_utf8" },	/* surrogate */
		{ "{\"a\":\"\xf4\x90\x80\x80\"}", 12, "bad_utf8" }, /* > 10FFFF */
		{ "{\"a\":\"\xe4\xb8\"}", 10, "bad_utf8" },	/* truncated */
		{ "{\"a\":\"\xe4\xb8\xad\"}", 11, NULL },	/* 中 */
		{ "{\"a\":\"\xf0\x9f\x98\x80\"}", 12, NULL },	/* emoji */
	};
	size_t	i;
	const char *got;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		got = frame_check_payload((const unsigned char *)cases[i].in,
		    cases[i].len);
		if (cases[i].want == NULL)
			assert_null(got);
		else
			assert_string_equal(got, cases[i].want);
	}
}

static void
test_control_prefix(void **state)
{
	assert_true(frame_is_control((const unsigned char *)"{\"op\":\"x\"}", 10));
	assert_false(frame_is_control((const unsigned char *)"{ \"op\":1}", 9));
	assert_false(frame_is_control((const unsigned char *)"{\"event_id\":1}",
	    14));
	assert_false(frame_is_control((const unsigned char *)"{\"op\"", 5));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_byte_order),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_two_frames),
		cmocka_unit_test(test_encode_bounds),
		cmocka_unit_test(test_payload_checks),
		cmocka_unit_test(test_control_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
