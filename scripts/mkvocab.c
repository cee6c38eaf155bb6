/*
 * mkvocab.c — build tool: turns the word lists of proto/vocab/ into the
 * static hash table of proto/vocab.h (a C file the build compiles).
 *
 *   mkvocab OUT.c [-w|-t|-n|-h|-s LIST]...
 *
 *   -w LIST  words (proto/vocab/en.txt)
 *   -t LIST  our own words (errno names, tool and runtime words): never
 *            treated as names, even when -n lists them
 *   -n LIST  words that are also proper nouns (flag VOCAB_NAME)
 *   -h LIST  public host names (VOCAB_HOST; also words)
 *   -s LIST  roots of public code namespaces (VOCAB_NS; also words)
 *
 * A list has one entry per line; blank lines and lines starting with '#'
 * are ignored; entries are lowercased and must be printable ASCII without
 * spaces, at most VOCAB_MAXLEN bytes. The output depends only on the lists
 * (sorted, deduplicated): the same lists give the same bytes. A build tool:
 * it prints errors and exits, which the library never does.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vocab.h"

#define F_TECH	0x100	/* from -t: clears VOCAB_NAME */
#define F_NAMEM	0x200	/* marked by -n */

struct ent {
	char		*w;
	unsigned	 fl;
	uint32_t	 off;
};

static struct ent	*ents;
static size_t		 nents, capents;

static void
die(const char *msg, const char *arg)
{
	fprintf(stderr, "mkvocab: %s%s%s\n", msg, arg ? ": " : "",
	    arg ? arg : "");
	exit(1);
}

static void
add(const char *w, size_t n, unsigned fl, const char *file, unsigned line)
{
	size_t	 i;

	if (n > VOCAB_MAXLEN) {
		fprintf(stderr, "mkvocab: %s:%u: entry longer than %d bytes\n",
		    file, line, VOCAB_MAXLEN);
		exit(1);
	}
	for (i = 0; i < n; i++) {
		if (w[i] <= ' ' || w[i] >= 0x7f) {
			fprintf(stderr, "mkvocab: %s:%u: not printable ASCII"
			    " without spaces\n", file, line);
			exit(1);
		}
	}
	if (nents == capents) {
		capents = capents ? capents * 2 : 65536;
		if ((ents = realloc(ents, capents * sizeof *ents)) == NULL)
			die("out of memory", NULL);
	}
	if ((ents[nents].w = malloc(n + 1)) == NULL)
		die("out of memory", NULL);
	for (i = 0; i < n; i++)
		ents[nents].w[i] = (char)tolower((unsigned char)w[i]);
	ents[nents].w[n] = '\0';
	ents[nents].fl = fl;
	nents++;
}

static void
load(const char *file, unsigned fl)
{
	FILE		*f;
	char		 line[512];
	size_t		 n;
	unsigned	 ln = 0;
	char		*p;

	if ((f = fopen(file, "r")) == NULL)
		die("cannot open", file);
	while (fgets(line, sizeof line, f) != NULL) {
		ln++;
		n = strlen(line);
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' ||
		    line[n - 1] == ' ' || line[n - 1] == '\t'))
			line[--n] = '\0';
		p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		add(p, strlen(p), fl, file, ln);
	}
	if (ferror(f))
		die("read error", file);
	fclose(f);
}

static int
cmp(const void *a, const void *b)
{
	return strcmp(((const struct ent *)a)->w, ((const struct ent *)b)->w);
}

static uint32_t
hash(const char *w)
{
	uint32_t	 h = VOCAB_SEED;

	while (*w)
		h = vocab_hash_step(h, (unsigned char)*w++);
	return h;
}

int
main(int argc, char **argv)
{
	FILE		*out;
	uint32_t	*slots, mask, h, i, off = 0;
	size_t		 k, m, n, nslots, col;
	unsigned	 fl;
	const char	*c;
	int		 a;

	if (argc < 2)
		die("usage: mkvocab OUT.c [-w|-t|-n|-h|-s LIST]...", NULL);
	for (a = 2; a < argc; a += 2) {
		if (a + 1 >= argc || argv[a][0] != '-' || argv[a][2] != '\0')
			die("bad arguments near", argv[a]);
		switch (argv[a][1]) {
		case 'w': fl = 0; break;
		case 't': fl = F_TECH; break;
		case 'n': fl = F_NAMEM; break;
		case 'h': fl = VOCAB_HOST | F_TECH; break;
		case 's': fl = VOCAB_NS | F_TECH; break;
		default: die("unknown option", argv[a]);
		}
		load(argv[a + 1], fl);
	}
	if (nents == 0)
		die("no entries", NULL);
	qsort(ents, nents, sizeof *ents, cmp);
	for (k = 0, m = 0; k < nents; k++) {	/* merge duplicates */
		if (m > 0 && strcmp(ents[m - 1].w, ents[k].w) == 0) {
			ents[m - 1].fl |= ents[k].fl;
			free(ents[k].w);
			continue;
		}
		ents[m++] = ents[k];
	}
	nents = m;
	/*
	 * Blob: sorted entries; one that is a prefix of the next shares its
	 * bytes ("connect" inside "connected").
	 */
	for (k = nents; k-- > 0; ) {
		n = strlen(ents[k].w);
		if (k + 1 < nents && strncmp(ents[k].w, ents[k + 1].w, n) == 0)
			ents[k].off = UINT32_MAX;	/* shares the next */
	}
	for (k = 0; k < nents; k++) {
		if (ents[k].off == UINT32_MAX)
			continue;
		ents[k].off = off;
		off += (uint32_t)strlen(ents[k].w);
	}
	for (k = nents; k-- > 0; ) {
		if (ents[k].off == UINT32_MAX)
			ents[k].off = ents[k + 1].off;
	}
	if (off > 0xfffffu)
		die("blob larger than 1 MiB", NULL);
	for (nslots = 1024; nslots < nents * 2; nslots *= 2)
		;
	mask = (uint32_t)nslots - 1;
	if ((slots = calloc(nslots, sizeof *slots)) == NULL)
		die("out of memory", NULL);
	for (k = 0; k < nents; k++) {
		fl = ents[k].fl;
		if ((fl & F_NAMEM) && !(fl & F_TECH))
			fl |= VOCAB_NAME;
		fl &= VOCAB_NAME | VOCAB_HOST | VOCAB_NS;
		h = hash(ents[k].w);
		for (i = h & mask; slots[i] != 0; i = (i + 1) & mask)
			;
		slots[i] = VOCAB_SLOT(ents[k].off, strlen(ents[k].w), fl, h);
	}

	if ((out = fopen(argv[1], "w")) == NULL)
		die("cannot create", argv[1]);
	fprintf(out, "/* Generated by scripts/mkvocab.c from proto/vocab/:"
	    " do not edit. */\n#include <stdint.h>\n\n#include \"vocab.h\"\n\n"
	    "const uint32_t vocab_entries = %zu;\n"
	    "const uint32_t vocab_mask = 0x%xu;\n"
	    "const uint32_t vocab_slots[%zu] = {\n", nents, mask, nslots);
	for (k = 0; k < nslots; k++)
		fprintf(out, "%s0x%08x,%s", k % 6 == 0 ? "\t" : " ", slots[k],
		    k % 6 == 5 || k + 1 == nslots ? "\n" : "");
	fprintf(out, "};\n\nconst char vocab_blob[] =\n");
	col = 0;
	for (k = 0; k < nents; k++) {
		if (k + 1 < nents && ents[k + 1].off == ents[k].off)
			continue;	/* a prefix: the chain's last writes it */
		for (c = ents[k].w; *c != '\0'; c++) {
			if (col == 0)
				fputs("    \"", out);
			if (*c == '"' || *c == '\\' || *c == '?')
				fputc('\\', out);
			fputc(*c, out);
			if (++col == 64) {
				fputs("\"\n", out);
				col = 0;
			}
		}
	}
	fprintf(out, "%s;\n", col ? "\"" : "    \"\"");
	if (fclose(out) != 0)
		die("write error", argv[1]);
	return 0;
}
