/*
 * vocab — the built-in vocabulary of the privacy firewall: the words a
 * free-text token may be kept as (proto/scrub.c). Built at compile time by
 * scripts/mkvocab.c from the lists in proto/vocab/ into a static open
 * addressing hash table (precomputed hashes, no allocation, no I/O).
 */
#ifndef PROTO_VOCAB_H
#define PROTO_VOCAB_H
#include <stddef.h>
#include <stdint.h>

/* Entry flags. */
#define VOCAB_NAME	0x1	/* also a proper noun (bill/Bill) */
#define VOCAB_HOST	0x2	/* a public host name (may follow <URL:) */
#define VOCAB_NS	0x4	/* root of a public code namespace (std, java) */

#define VOCAB_MAXLEN	63	/* longest entry (bytes) */

/*
 * Slot layout (32 bits): offset into the blob (20), length (6; 0 = empty
 * slot), flags (3), hash tag (3). Generator and lookup share it.
 */
#define VOCAB_OFF(s)	((s) & 0xfffffu)
#define VOCAB_LEN(s)	(((s) >> 20) & 0x3fu)
#define VOCAB_FLAGS(s)	(((s) >> 26) & 0x7u)
#define VOCAB_TAG(s)	((s) >> 29)
#define VOCAB_SLOT(off, len, fl, h) \
	((uint32_t)(off) | (uint32_t)(len) << 20 | (uint32_t)(fl) << 26 | \
	(uint32_t)((h) >> 29) << 29)

/* FNV-1a over the lowercased bytes: the hash of the table. */
#define VOCAB_SEED	2166136261u
static inline uint32_t
vocab_hash_step(uint32_t h, unsigned char c)
{
	return (h ^ c) * 16777619u;
}

/* The generated table (build/gen/vocab_table.c). */
extern const uint32_t	vocab_slots[];
extern const uint32_t	vocab_mask;	/* slots - 1 (a power of two) */
extern const char	vocab_blob[];
extern const uint32_t	vocab_entries;

/*
 * Look s[0..n) up, ASCII case-insensitively. Returns the entry's flags
 * (>= 0) or -1 when it is not in the vocabulary.
 */
int	vocab_lookup(const char *s, size_t n);

/* Same with the lowercase bytes and their hash already computed. */
int	vocab_lookup_lc(const char *lc, size_t n, uint32_t h);
#endif
