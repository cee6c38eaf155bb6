/*
 * cli_export.c — the CLI's side of the OTLP export's directory
 * (telemetry/export-otlp/queue, agent/export.h): `clear` empties it too,
 * so nothing a user deleted goes to the OpenTelemetry receiver either.
 * Never touches a claim (a send in flight) or the agent's tombstones.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* Where the export keeps its links (agent/export.h EXPORT_DIR_NAME). */
#define CLI_EXPORT_QUEUE	"export-otlp/queue"

/* Clear the export queue: 1 when there is none, 0 done, -1 (printed). */
int
cli_export_clear(const struct paths *p, unsigned *removed, unsigned *skipped)
{
	struct queue	*q;
	struct stat	 st;
	char		 dir[PATHS_MAX + 32], cause[512];
	int		 r, saved;

	*removed = *skipped = 0;
	if ((size_t)snprintf(dir, sizeof dir, "%s/%s", p->telemetry,
	    CLI_EXPORT_QUEUE) >= sizeof dir)
		return 1;
	if (lstat(dir, &st) == -1 && errno == ENOENT)
		return 1;
	if (queue_open(dir, QUEUE_O_NORECOVER, &q, cause, sizeof cause) == -1) {
		fprintf(stderr, "atomcode-telemetry: %s\n", cause);
		return -1;
	}
	r = queue_clear(q, removed, skipped);
	saved = errno;
	queue_close(q);
	if (r == -1) {
		fprintf(stderr, "atomcode-telemetry: clear: %s: %s\n", dir,
		    strerror(saved));
		return -1;
	}
	return 0;
}
