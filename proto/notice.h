/*
 * notice — the first-run telemetry notice upstream AtomCode shows once per
 * user, and its marker file <atomcode_dir>/.telemetry_notice_shown. Shared
 * with upstream: same marker, same text, so a user told by one is not told
 * again by the other.
 */
#ifndef PROTO_NOTICE_H
#define PROTO_NOTICE_H
#include <stddef.h>

#include "paths.h"

/*
 * The exact bytes upstream writes to stderr: its two-line text (which ends
 * with a newline) printed with one more newline.
 */
#define NOTICE_TEXT							\
	"\xe2\x84\xb9 AtomCode collects anonymous usage telemetry to "	\
	"improve the product.\n"					\
	"  Opt out: `atomcode telemetry disable`  |  Details: "		\
	"https://atomgit.com/atomgit_atomcode/atomcode/blob/main/docs/"	\
	"telemetry.md\n\n"

enum notice_take {
	NOTICE_NONE = 0,	/* already shown: print nothing */
	NOTICE_SHOW,		/* marker created now: print the text */
	NOTICE_SHOW_UNMARKED	/* print it; the marker could not be made */
};

/*
 * Decide whether this caller shows the notice; call only when telemetry is
 * enabled. Creates the marker with O_EXCL, so of any number of concurrent
 * callers exactly one gets NOTICE_SHOW. With nocreate (sudo: never create
 * files in the user's directory) it only looks. errno is set for
 * NOTICE_SHOW_UNMARKED.
 */
enum notice_take notice_take(const struct paths *p, int nocreate);

/* 1 if the marker exists (the notice was shown), else 0. Never creates. */
int	notice_shown(const struct paths *p);
#endif
