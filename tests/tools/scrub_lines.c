/*
 * scrub_lines.c — test tool: run proto/scrub.c over lines of text.
 *
 *   scrub_lines [--home DIR] [--cwd DIR] <in >out
 *
 * Each input line is one text in the escaping of the tests/data TSV files (\t \n
 * \r \\); each output line is its reduced form, escaped the same way. Used
 * by tests/privacy_corpus.py (benign corpus) and to inspect the firewall.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "scrub.h"

static void
unescape(const char *s, size_t n, struct buf *b)
{
	size_t	 i;
	char	 c;

	for (i = 0; i < n; i++) {
		c = s[i];
		if (c == '\\' && i + 1 < n) {
			switch (s[++i]) {
			case 't': c = '\t'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			default: c = s[i]; break;
			}
		}
		buf_putc(b, c);
	}
}

static void
escape(const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		switch (s[i]) {
		case '\t': fputs("\\t", stdout); break;
		case '\n': fputs("\\n", stdout); break;
		case '\r': fputs("\\r", stdout); break;
		case '\\': fputs("\\\\", stdout); break;
		default: putchar(s[i]);
		}
	}
	putchar('\n');
}

int
main(int argc, char **argv)
{
	struct scrub_ctx	 ctx = { NULL, NULL };
	struct buf		 in = { 0 }, out = { 0 };
	char			*line = NULL;
	size_t			 cap = 0;
	ssize_t			 n;
	int			 i;

	for (i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--home") == 0)
			ctx.home = argv[i + 1];
		else if (strcmp(argv[i], "--cwd") == 0)
			ctx.cwd = argv[i + 1];
		else {
			fprintf(stderr, "usage: scrub_lines [--home D]"
			    " [--cwd D]\n");
			return 2;
		}
	}
	while ((n = getline(&line, &cap, stdin)) > 0) {
		if (line[n - 1] == '\n')
			n--;
		in.len = 0;
		unescape(line, (size_t)n, &in);
		out.len = 0;
		if (scrub_text(in.data ? in.data : "", in.len, &ctx, &out,
		    NULL) == -1) {
			fprintf(stderr, "scrub_lines: out of memory\n");
			return 1;
		}
		escape(out.data ? out.data : "", out.len);
	}
	free(line);
	buf_free(&in);
	buf_free(&out);
	return 0;
}
