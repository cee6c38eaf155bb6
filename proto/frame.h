/*
 * frame — the wire framing of proto/PROTOCOL.md: a 4-byte big-endian length
 * L (1 <= L <= FRAME_MAX) followed by L bytes of one UTF-8 JSON object.
 * No I/O here: both agent and shim feed bytes in and take frames out.
 */
#ifndef PROTO_FRAME_H
#define PROTO_FRAME_H
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define PROTO_VERSION	1	/* bump when the contract changes */
#define FRAME_HDR	4
#define FRAME_MAX	65536	/* largest payload a peer may send */

enum frame_status {
	FRAME_OK = 0,		/* one frame decoded */
	FRAME_NEED_MORE = 1,	/* incomplete: wait for more bytes */
	FRAME_ERR_LEN = -1,	/* length 0 or > FRAME_MAX: close the stream */
};

/*
 * Decode one frame at the start of buf[0..len). On FRAME_OK, *payload points
 * into buf (borrowed), *plen is its length and *consumed the bytes to drop.
 */
enum frame_status frame_decode(const unsigned char *buf, size_t len,
    const unsigned char **payload, size_t *plen, size_t *consumed);

/* Append a frame carrying payload[0..plen) to out. -1 if plen is out of range. */
int	frame_encode(struct buf *out, const void *payload, size_t plen);

/*
 * Check a payload's outer shape without building a tree: valid UTF-8 and
 * the first non-blank byte is '{'. Returns NULL or a stable error code
 * ("bad_utf8", "not_object").
 */
const char *frame_check_payload(const unsigned char *p, size_t n);

/* True if the payload is a control frame: it starts with the bytes {"op": */
int	frame_is_control(const unsigned char *p, size_t n);

/* Validate UTF-8 (RFC 3629: no overlongs, surrogates, > U+10FFFF). 1 if valid. */
int	utf8_valid(const unsigned char *p, size_t n);
/* The value of the hex digit c (0..15), or -1 (for JSON and TOML escapes). */
int	frame_hexval(int c);
/*
 * The multibyte UTF-8 sequence at p[0..n): its length (2-4) and its code
 * point in *cp, or 0 when it is not one (ASCII, overlong, a surrogate,
 * past U+10FFFF, cut short). Inline: the scrubber calls it per character.
 */
static inline size_t
utf8_decode(const unsigned char *p, size_t n, unsigned *cp)
{
	unsigned	 c = p[0], v, min;
	size_t		 l, k;

	if (c >= 0xc2 && c <= 0xdf) {
		l = 2;
		v = c & 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		l = 3;
		v = c & 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		l = 4;
		v = c & 0x07;
		min = 0x10000;
	} else
		return 0;
	if (n < l)
		return 0;
	for (k = 1; k < l; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (p[k] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return l;
}
#endif
