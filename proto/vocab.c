/*
 * vocab.c — lookups in the built-in vocabulary (proto/vocab.h): one hash of
 * the lowercased token and a linear probe of the static table generated
 * from proto/vocab/ by scripts/mkvocab.c.
 *
 * Must never: allocate, do I/O, or read outside s[0..n).
 */
#include <string.h>

#include "vocab.h"

/* Look up lowercase lc[0..n) whose hash is h. Flags or -1. */
int
vocab_lookup_lc(const char *lc, size_t n, uint32_t h)
{
	uint32_t	 i, s;

	if (n == 0 || n > VOCAB_MAXLEN)
		return -1;
	for (i = h & vocab_mask; (s = vocab_slots[i]) != 0;
	    i = (i + 1) & vocab_mask) {
		if (VOCAB_LEN(s) == n && VOCAB_TAG(s) == h >> 29 &&
		    memcmp(vocab_blob + VOCAB_OFF(s), lc, n) == 0)
			return (int)VOCAB_FLAGS(s);
	}
	return -1;
}

/* Look s[0..n) up, ASCII case-insensitively. */
int
vocab_lookup(const char *s, size_t n)
{
	char		 lc[VOCAB_MAXLEN];
	uint32_t	 h = VOCAB_SEED;
	size_t		 i;
	unsigned char	 c;

	if (n == 0 || n > VOCAB_MAXLEN)
		return -1;
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		lc[i] = (char)c;
		h = vocab_hash_step(h, c);
	}
	return vocab_lookup_lc(lc, n, h);
}
