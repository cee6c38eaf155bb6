/*
 * scrub — the privacy firewall for free-text values: an allowlist
 * tokenizer. Only tokens safe by construction are kept (words of the
 * built-in vocabulary, punctuation, small numbers, public hosts and code
 * namespaces); every other token becomes a typed placeholder. Pure: no I/O,
 * no globals, no allocation per token. Input and output are UTF-8.
 */
#ifndef PROTO_SCRUB_H
#define PROTO_SCRUB_H
#include <stddef.h>

#include "buf.h"

/* Placeholder kinds; the placeholders are self-describing ("<PATH>"). */
enum scrub_kind {
	SCRUB_HOME = 0,	/* the user's home directory → <HOME> */
	SCRUB_CWD,	/* the client's working directory → <CWD> */
	SCRUB_PATH,	/* any other path, or what follows <HOME>/<CWD> */
	SCRUB_URL,	/* URL → <URL:host> (public host) or <URL> */
	SCRUB_EMAIL,	/* e-mail address → <EMAIL> */
	SCRUB_IP,	/* IPv4/IPv6 address → <IP> */
	SCRUB_SECRET,	/* credentials, keys, tokens → <SECRET> */
	SCRUB_ID,	/* identifiers, hosts, user names → <ID> */
	SCRUB_WORD,	/* a word outside the vocabulary → <WORD> */
	SCRUB_NUM,	/* long numbers (cards, phones, dates) → <NUM> */
	SCRUB_CUSTOM,	/* structured value outside its shape → <custom> */
	SCRUB_NKINDS
};

/* Names for status output: "home", "cwd", "path", "url", ... "custom". */
extern const char *const scrub_kind_names[SCRUB_NKINDS];
/* The placeholder of each kind ("<HOME>" ... "<custom>"). */
extern const char *const scrub_placeholders[SCRUB_NKINDS];

/* What to replace. Strings are borrowed; NULL or "" disables that rule. */
struct scrub_ctx {
	const char	*home;
	const char	*cwd;
};

/*
 * Reduce in[0..len) (UTF-8; invalid bytes are never copied) and append the
 * result to out (raw UTF-8, not JSON escaped). counts[kind] is incremented
 * by the number of placeholders of that kind the result holds beyond those
 * already in the input (may be NULL). The result is a fixed point:
 * reducing it again gives the same bytes. Returns the number of
 * placeholders added, or -1 on ENOMEM.
 */
int	scrub_text(const char *in, size_t len, const struct scrub_ctx *ctx,
	    struct buf *out, unsigned counts[SCRUB_NKINDS]);

/*
 * The longest prefix of the reduced text p[0..n) of at most max bytes that
 * ends between two tokens (never inside a word, a compound or a
 * placeholder), so that a cut text is still a fixed point.
 */
size_t	scrub_cut(const char *p, size_t n, size_t max);

/*
 * Kind of the placeholder at p[0..n) ("<PATH>", "<URL:host>", "<custom>"),
 * its length in *len; -1 if none starts there. For dump --explain.
 */
int	scrub_placeholder_at(const char *p, size_t n, size_t *len);
#endif
