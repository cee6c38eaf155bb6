/*
 * buf.c — growable byte buffers. Owns nothing but its own storage; never
 * does I/O.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* Ensure room for n more bytes (plus a NUL). */
int
buf_reserve(struct buf *b, size_t n)
{
	size_t	 want, cap;
	char	*p;

	if (n > ((size_t)-1) / 2 - b->len - 1) {
		errno = ENOMEM;
		return -1;
	}
	want = b->len + n + 1;
	if (want <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < want)
		cap *= 2;
	if ((p = realloc(b->data, cap)) == NULL)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

/* Append n bytes. */
int
buf_add(struct buf *b, const void *p, size_t n)
{
	/* room already there (the common case): no call to buf_reserve */
	if ((b->cap == 0 || n >= b->cap - b->len) && buf_reserve(b, n) == -1)
		return -1;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

/* Append a C string. */
int
buf_puts(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

/* Append one byte. */
int
buf_putc(struct buf *b, char c)
{
	if (b->cap > 0 && b->len + 1 < b->cap) {
		b->data[b->len++] = c;
		b->data[b->len] = '\0';
		return 0;
	}
	return buf_add(b, &c, 1);
}

/* Append formatted text. */
int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, (size_t)n) == -1)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

/* Drop the first n bytes. */
void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
	} else {
		memmove(b->data, b->data + n, b->len - n);
		b->len -= n;
	}
	if (b->data != NULL)
		b->data[b->len] = '\0';
}

/* Release storage. */
void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* Append a JSON string literal; bytes >= 0x80 are copied (caller ensures UTF-8). */
int
buf_json_str(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t		 i, run;
	unsigned char	 c;
	char		 esc[6];

	if (buf_reserve(b, n + 2) == -1 || buf_putc(b, '"') == -1)
		return -1;
	for (i = 0; i < n; i++) {
		/* bytes that need no escape go in one piece */
		for (run = i; run < n && (unsigned char)s[run] >= 0x20 &&
		    s[run] != '"' && s[run] != '\\'; run++)
			;
		if (run > i) {
			if (buf_add(b, s + i, run - i) == -1)
				return -1;
			if ((i = run) == n)
				break;
		}
		c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			if (buf_add(b, esc, 2) == -1)
				return -1;
		} else if (c < 0x20) {
			switch (c) {
			case '\n': if (buf_add(b, "\\n", 2) == -1) return -1; break;
			case '\r': if (buf_add(b, "\\r", 2) == -1) return -1; break;
			case '\t': if (buf_add(b, "\\t", 2) == -1) return -1; break;
			case '\b': if (buf_add(b, "\\b", 2) == -1) return -1; break;
			case '\f': if (buf_add(b, "\\f", 2) == -1) return -1; break;
			default:
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[c >> 4];
				esc[5] = hex[c & 15];
				if (buf_add(b, esc, 6) == -1)
					return -1;
			}
		}
	}
	return buf_putc(b, '"');
}
