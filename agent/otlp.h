/*
 * otlp — one queue segment (NDJSON records) as an OTLP/HTTP logs request
 * in the JSON encoding (ExportLogsServiceRequest: resourceLogs → scopeLogs
 * → logRecords). Pure: no I/O, no global state.
 *
 * Mapping: the envelope's app_version, os and arch become the resource
 * (service.name = "atomcode", service.version, os.type, host.arch; records
 * with different values go to different resourceLogs); event_id is the
 * record's eventName, its body and its "event.name" attribute; ts (ms) is
 * timeUnixNano; every other field is a log attribute with a typed AnyValue
 * (integers as decimal strings, objects as kvlistValue, arrays as
 * arrayValue). A line that is not a JSON object is sent as a record whose
 * body is the line and whose attribute atomcode.unparsed is true.
 */
#ifndef AGENT_OTLP_H
#define AGENT_OTLP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct otlp_counts {
	unsigned	records;	/* logRecords written */
	unsigned	unparsed;	/* of which lines that were not records */
	unsigned	resources;	/* resourceLogs written */
};

/*
 * Append the request for the records in ndjson[0..len) to out (compact
 * JSON). observed_ms is the observedTimeUnixNano of every record (0: none);
 * version is the scope's version. 0, or -1 with errno (ENOMEM; EINVAL when
 * there is no record).
 */
int	otlp_encode(const char *ndjson, size_t len, int64_t observed_ms,
	    const char *version, struct buf *out, struct otlp_counts *c);

/* The OpenTelemetry os.type / host.arch value for a record's os / arch. */
const char *otlp_os_type(const char *os);
const char *otlp_host_arch(const char *arch);
#endif
