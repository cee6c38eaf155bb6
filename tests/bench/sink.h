/*
 * sink.h — the counters tests/bench/sink.c shares with tests/bench/bench.c
 * through a MAP_SHARED file, so the bench can follow delivery without
 * asking the sink over HTTP (which would compete with the uploads).
 * Every field is written by the sink only, with __atomic stores.
 */
#ifndef BENCH_SINK_H
#define BENCH_SINK_H
#include <stdint.h>

#define SINK_MAGIC	0x61746373696e6b32ULL	/* "atcsink2": file is ready */
/*
 * Per-event accounting: a record whose "request" is SINK_ID_BASE + k with
 * k < SINK_IDS counts in ids[k] (saturating at 255), so the bench can tell
 * lost events from duplicated ones. Other records are only counted.
 */
#define SINK_ID_BASE	1000000000ULL
#define SINK_IDS	(1U << 20)

struct sink_stats {
	uint64_t	magic;		/* SINK_MAGIC once the sink listens */
	uint64_t	requests;	/* POSTs answered 200 */
	uint64_t	records;	/* '\n'-terminated lines received */
	uint64_t	body_bytes;	/* request bytes as sent (gzip) */
	uint64_t	raw_bytes;	/* bytes after inflating */
	uint64_t	first_ns;	/* CLOCK_MONOTONIC of the first POST */
	uint64_t	last_ns;	/* CLOCK_MONOTONIC after the last POST */
	uint64_t	bad;		/* bodies that did not inflate */
	uint64_t	id_records;	/* records that carried a SINK_ID_BASE id */
	uint8_t		ids[SINK_IDS];	/* copies received of each id */
};
#endif
