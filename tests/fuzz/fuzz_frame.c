/*
 * fuzz_frame — libFuzzer target for the frame codec (proto/frame.c): the
 * input is a byte stream as a peer would send it. Frames are decoded in a
 * loop, each payload goes through frame_check_payload, frame_is_control
 * and utf8_valid (compared with an independent reference decoder), is
 * re-encoded and must give back the same bytes; the same stream fed in
 * small chunks through a struct buf (as the agent reads a socket) must
 * give the same frames. Must never write files or keep state between runs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "frame.h"
#include "fuzz_common.h"

/* Frames in the largest input (-max_len 65540): one per 5 bytes at most. */
#define MAX_FRAMES	(65540 / (FRAME_HDR + 1) + 1)

struct span {
	size_t	off;	/* payload offset in the stream */
	size_t	len;
};

static struct span	spans[MAX_FRAMES];

/* RFC 3629 decoder written independently of frame.c: 1 if valid. */
static int
ref_utf8(const unsigned char *p, size_t n)
{
	size_t		 i = 0, k, need;
	uint32_t	 cp, min;

	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0) {
			need = 1;
			cp = p[i] & 0x1f;
			min = 0x80;
		} else if ((p[i] & 0xf0) == 0xe0) {
			need = 2;
			cp = p[i] & 0x0f;
			min = 0x800;
		} else if ((p[i] & 0xf8) == 0xf0) {
			need = 3;
			cp = p[i] & 0x07;
			min = 0x10000;
		} else
			return 0;
		if (n - i - 1 < need)
			return 0;
		for (k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

static uint32_t
hdr_len(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Properties of one decoded payload (a private exact-size copy, so ASan
 * sees any read past its end). */
static void
check_payload(const uint8_t *payload, size_t plen, const uint8_t *frame)
{
	unsigned char	*c;
	const char	*why;
	struct buf	 b = { NULL, 0, 0 };
	size_t		 i;
	int		 valid;

	c = malloc(plen);
	FUZZ_CHECK(c != NULL, "out of memory");
	memcpy(c, payload, plen);

	valid = utf8_valid(c, plen);
	FUZZ_CHECK(valid == ref_utf8(c, plen), "utf8_valid says %d on %zu "
	    "bytes, reference disagrees", valid, plen);
	why = frame_check_payload(c, plen);
	if (!valid)
		FUZZ_CHECK(why != NULL && strcmp(why, "bad_utf8") == 0,
		    "invalid UTF-8 not reported as bad_utf8: %s",
		    why ? why : "NULL");
	else {
		for (i = 0; i < plen && (c[i] == ' ' || c[i] == '\t' ||
		    c[i] == '\r' || c[i] == '\n'); i++)
			;
		if (i < plen && c[i] == '{')
			FUZZ_CHECK(why == NULL, "object refused: %s", why);
		else
			FUZZ_CHECK(why != NULL &&
			    strcmp(why, "not_object") == 0,
			    "non-object not reported as not_object: %s",
			    why ? why : "NULL");
	}
	FUZZ_CHECK(frame_is_control(c, plen) == (plen >= 6 &&
	    memcmp(c, "{\"op\":", 6) == 0), "frame_is_control wrong");

	/* Re-encoding gives back the very bytes of the frame. */
	FUZZ_CHECK(frame_encode(&b, c, plen) == 0, "encode refused %zu", plen);
	FUZZ_CHECK(b.len == FRAME_HDR + plen &&
	    memcmp(b.data, frame, b.len) == 0, "re-encoded frame differs");
	buf_free(&b);
	free(c);
}

/* Decode the whole stream at once; returns the number of frames. */
static size_t
decode_all(const uint8_t *data, size_t size)
{
	const unsigned char	*payload;
	size_t			 off = 0, plen, consumed, n = 0, left;
	enum frame_status	 st;
	uint32_t		 l;

	while (off < size) {
		left = size - off;
		st = frame_decode(data + off, left, &payload, &plen,
		    &consumed);
		if (st == FRAME_NEED_MORE) {
			FUZZ_CHECK(left < FRAME_HDR || (l = hdr_len(data + off),
			    l >= 1 && l <= FRAME_MAX && l > left - FRAME_HDR),
			    "NEED_MORE with a complete frame at %zu", off);
			break;
		}
		if (st == FRAME_ERR_LEN) {
			FUZZ_CHECK(left >= FRAME_HDR && (l = hdr_len(data +
			    off), l == 0 || l > FRAME_MAX),
			    "ERR_LEN for a valid length at %zu", off);
			break;
		}
		FUZZ_CHECK(st == FRAME_OK, "unknown status %d", (int)st);
		l = hdr_len(data + off);
		FUZZ_CHECK(payload == data + off + FRAME_HDR && plen == l &&
		    consumed == FRAME_HDR + plen && consumed <= left,
		    "frame at %zu: plen %zu consumed %zu header %u", off, plen,
		    consumed, l);
		/* One byte short is always NEED_MORE. */
		FUZZ_CHECK(frame_decode(data + off, consumed - 1, &payload,
		    &plen, &consumed) == FRAME_NEED_MORE, "truncated frame "
		    "decoded at %zu", off);
		plen = l;
		consumed = FRAME_HDR + plen;
		check_payload(data + off + FRAME_HDR, plen, data + off);
		FUZZ_CHECK(n < MAX_FRAMES, "too many frames");
		spans[n].off = off + FRAME_HDR;
		spans[n].len = plen;
		n++;
		off += consumed;
	}
	return n;
}

/*
 * Feed the stream in chunks of 1, 2, 3, 5, 8... bytes into a struct buf,
 * decoding after each chunk and consuming what was decoded, as the agent
 * does with a socket. The frames must be those of decode_all.
 */
static void
decode_stream(const uint8_t *data, size_t size, size_t nframes)
{
	static const size_t	 chunks[] = { 1, 2, 3, 5, 8, 13, 21, 34, 55,
	    89, 144, 233, 377, 610, 987, 1597, 4181 };
	const unsigned char	*payload;
	struct buf		 b = { NULL, 0, 0 };
	size_t			 off = 0, plen, consumed, n = 0, c, ci = 0;
	enum frame_status	 st = FRAME_NEED_MORE;

	while (off < size && st != FRAME_ERR_LEN) {
		c = chunks[ci++ % (sizeof chunks / sizeof chunks[0])];
		if (c > size - off)
			c = size - off;
		FUZZ_CHECK(buf_add(&b, data + off, c) == 0, "out of memory");
		off += c;
		for (;;) {
			st = frame_decode((const unsigned char *)b.data, b.len,
			    &payload, &plen, &consumed);
			if (st != FRAME_OK)
				break;
			FUZZ_CHECK(n < nframes && plen == spans[n].len &&
			    memcmp(payload, data + spans[n].off, plen) == 0,
			    "streamed frame %zu differs", n);
			n++;
			buf_consume(&b, consumed);
		}
	}
	FUZZ_CHECK(n == nframes, "streamed %zu frames, whole stream %zu", n,
	    nframes);
	buf_free(&b);
}

/* One input: a byte stream from a peer. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf	b = { NULL, 0, 0 };
	size_t		n;

	n = decode_all(data, size);
	decode_stream(data, size, n);
	/* Lengths out of range are refused without reading the payload. */
	FUZZ_CHECK(frame_encode(&b, data, 0) == -1 && b.len == 0,
	    "empty frame encoded");
	FUZZ_CHECK(frame_encode(&b, data, (size_t)FRAME_MAX + 1 + size) ==
	    -1 && b.len == 0, "oversized frame encoded");
	buf_free(&b);
	return 0;
}
