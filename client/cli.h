/* cli.h — shared between the CLI's files (not part of the library). */
#ifndef CLIENT_CLI_H
#define CLIENT_CLI_H

#include <jansson.h>

#include "paths.h"
#include "queue.h"

extern int	cli_no_telemetry;

/* Open the queue if its directory exists: 0 ok, 1 absent, -1 error (printed). */
int	cli_queue_open(const struct paths *p, int flags, struct queue **q);
/* One control request to a running agent; never spawns. Caller decrefs. */
json_t	*cli_request(const struct paths *p, json_t *req, int timeout_ms,
	    int *running);
/* The pid of a live agent (it holds its lifetime lock), else 0. */
long	cli_agent_lock_pid(const struct paths *p);
/* Print " (HTTP n)", " (HTTP n: err)" or " (err)" for an upload outcome. */
void	cli_http_outcome(long long status, const char *err);
/* Empty the OTLP export's queue (cli_export.c): 1 none, 0 done, -1 error. */
int	cli_export_clear(const struct paths *p, unsigned *removed,
	    unsigned *skipped);
/* `status [--json]`. */
int	cmd_status(const struct paths *p, int argc, char **argv);
/* `view [--last N] [--output FILE] [--open] [--serve]` (cli_view.c). */
int	cmd_view(const struct paths *p, int argc, char **argv);
#endif
