/* buf — a growable byte buffer (used for frames, records and write batches). */
#ifndef PROTO_BUF_H
#define PROTO_BUF_H
#include <stddef.h>

struct buf {
	char	*data;	/* owned; NUL-terminated when len < cap */
	size_t	 len;
	size_t	 cap;
};

/* Ensure room for n more bytes. 0 or -1 (ENOMEM). */
int	buf_reserve(struct buf *b, size_t n);
/* Append n bytes. 0 or -1 (ENOMEM). */
int	buf_add(struct buf *b, const void *p, size_t n);
/* Append a NUL-terminated string. */
int	buf_puts(struct buf *b, const char *s);
/* Append one byte. */
int	buf_putc(struct buf *b, char c);
/* Append printf-formatted text. */
int	buf_printf(struct buf *b, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Remove the first n bytes. */
void	buf_consume(struct buf *b, size_t n);
/* Free the storage; the buffer is empty and reusable afterwards. */
void	buf_free(struct buf *b);
/* Append s as a JSON string literal (quotes and escapes added). */
int	buf_json_str(struct buf *b, const char *s, size_t n);
#endif
