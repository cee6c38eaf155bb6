/*
 * scrub — the privacy scrubber for free-text values (DESIGN §4, issue 7).
 * Pure: no I/O, no globals. Input and output are UTF-8.
 */
#ifndef PROTO_SCRUB_H
#define PROTO_SCRUB_H
#include <stddef.h>

#include "buf.h"

enum scrub_kind {
	SCRUB_HOME = 0,	/* the user's home directory → <HOME> */
	SCRUB_CWD,	/* the client's working directory → <CWD> */
	SCRUB_PATH,	/* other absolute path → its file name */
	SCRUB_URL,	/* URL → scheme://host */
	SCRUB_EMAIL,	/* e-mail address → <EMAIL> */
	SCRUB_SECRET,	/* credentials and token shapes → <REDACTED> */
	SCRUB_NKINDS
};

/* Names for status output: "home", "cwd", "path", "url", "email", "secret". */
extern const char *const scrub_kind_names[SCRUB_NKINDS];

/* What to replace. Strings are borrowed; NULL or "" disables that rule. */
struct scrub_ctx {
	const char	*home;
	const char	*cwd;
};

/*
 * Scrub in[0..len) (UTF-8) and append the result to out (raw UTF-8, not JSON
 * escaped). counts[kind] is incremented once per replacement (may be NULL).
 * Returns the number of replacements made, or -1 on ENOMEM.
 */
int	scrub_text(const char *in, size_t len, const struct scrub_ctx *ctx,
	    struct buf *out, unsigned counts[SCRUB_NKINDS]);
#endif
