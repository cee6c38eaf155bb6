/*
 * frame.c — frame codec for the agent/shim protocol (PROTOCOL.md §2).
 * Pure functions over byte buffers; must never do I/O or allocate except
 * through the caller's struct buf.
 */
#include <string.h>

#include "frame.h"

/* Decode one frame from the front of buf. */
enum frame_status
frame_decode(const unsigned char *buf, size_t len, const unsigned char **payload,
    size_t *plen, size_t *consumed)
{
	uint32_t	l;

	if (len < FRAME_HDR)
		return FRAME_NEED_MORE;
	l = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
	    (uint32_t)buf[2] << 8 | (uint32_t)buf[3];
	if (l == 0 || l > FRAME_MAX)
		return FRAME_ERR_LEN;
	if (len - FRAME_HDR < l)
		return FRAME_NEED_MORE;
	*payload = buf + FRAME_HDR;
	*plen = l;
	*consumed = FRAME_HDR + (size_t)l;
	return FRAME_OK;
}

/* Append header + payload. */
int
frame_encode(struct buf *out, const void *payload, size_t plen)
{
	unsigned char	hdr[FRAME_HDR];

	if (plen == 0 || plen > FRAME_MAX)
		return -1;
	hdr[0] = (unsigned char)(plen >> 24);
	hdr[1] = (unsigned char)(plen >> 16);
	hdr[2] = (unsigned char)(plen >> 8);
	hdr[3] = (unsigned char)plen;
	if (buf_reserve(out, FRAME_HDR + plen) == -1)
		return -1;
	buf_add(out, hdr, FRAME_HDR);
	buf_add(out, payload, plen);
	return 0;
}

/* Strict UTF-8 validation. */
int
utf8_valid(const unsigned char *p, size_t n)
{
	size_t		i = 0;
	unsigned char	c;

	while (i < n) {
		c = p[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			if (i + 1 >= n || (p[i + 1] & 0xc0) != 0x80)
				return 0;
			i += 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			if (i + 2 >= n || (p[i + 1] & 0xc0) != 0x80 ||
			    (p[i + 2] & 0xc0) != 0x80)
				return 0;
			if (c == 0xe0 && p[i + 1] < 0xa0)
				return 0;	/* overlong */
			if (c == 0xed && p[i + 1] > 0x9f)
				return 0;	/* surrogate */
			i += 3;
		} else if (c >= 0xf0 && c <= 0xf4) {
			if (i + 3 >= n || (p[i + 1] & 0xc0) != 0x80 ||
			    (p[i + 2] & 0xc0) != 0x80 || (p[i + 3] & 0xc0) != 0x80)
				return 0;
			if (c == 0xf0 && p[i + 1] < 0x90)
				return 0;	/* overlong */
			if (c == 0xf4 && p[i + 1] > 0x8f)
				return 0;	/* > U+10FFFF */
			i += 4;
		} else
			return 0;
	}
	return 1;
}

/* Cheap outer checks of a payload. */
const char *
frame_check_payload(const unsigned char *p, size_t n)
{
	size_t	i = 0;

	if (!utf8_valid(p, n))
		return "bad_utf8";
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' ||
	    p[i] == '\n'))
		i++;
	if (i == n || p[i] != '{')
		return "not_object";
	return NULL;
}

/* Control frames begin with exactly {"op": (PROTOCOL.md §3). */
int
frame_is_control(const unsigned char *p, size_t n)
{
	return n >= 6 && memcmp(p, "{\"op\":", 6) == 0;
}

/* The value of the hex digit c, or -1. */
int
frame_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
