#!/usr/bin/env python3
"""verify.py — delivery accounting for chaos scenarios (stdlib only).

  verify.py LOG IDFILE...
  verify.py QUEUE_DIR IDFILE...

LOG is tests/collector.py's request log (only requests answered 2xx count);
a QUEUE_DIR instead counts the records of its .ndjson, .partial and claimed
files (not following symlinks). Each IDFILE is an emitter's list of
sequence numbers accepted with ATC_OK, named ...ids.<INDEX> (the emitter's
-i). A record belongs to emitter INDEX when its session_id is
00000000-0000-4000-8000-<INDEX as 12 digits>; its id is duration_ms.

Prints one line of key=value pairs:
  accepted   ids the emitters were told ATC_OK for
  delivered  distinct accepted ids the collector received
  lost       accepted ids never received
  dups       extra copies of accepted ids (sum of count - 1)
  dup_rate_pct  100 * dups / accepted
  resend_dups   of dups, copies that came in a request whose Idempotency-Key
                an earlier 2xx request already had (the agent re-sent a whole
                segment); the rest were stored twice before upload
  identical_dups of dups, copies byte-for-byte equal (as sorted JSON) to
                the first copy: a collector could drop them by content
  unexpected records of our sessions that no emitter accepted
  foreign    other records (not from an emitter)
  invalid    lines the collector could not parse as a JSON object
Exit status 1 if anything was lost.
"""
import collections
import json
import os
import re
import sys

SID = re.compile(r"^00000000-0000-4000-8000-(\d{12})$")


def requests(src):
    """Yield (status, idempotency key, records) per request or file."""
    if os.path.isdir(src):
        for name in sorted(os.listdir(src)):
            path = os.path.join(src, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            if not (name.endswith(".ndjson") or name.endswith(".partial")
                    or ".ndjson.sending-" in name):
                continue
            recs = []
            with open(path, "rb") as f:
                for line in f:
                    try:
                        r = json.loads(line)
                        recs.append(r if isinstance(r, dict) else
                                    {"_invalid": True})
                    except ValueError:
                        if line.strip():
                            recs.append({"_invalid": True})
            yield 200, None, recs
        return
    with open(src) as f:
        for line in f:
            req = json.loads(line)
            yield (req.get("status"),
                   req.get("headers", {}).get("idempotency-key"),
                   req.get("records", []))


def main():
    log, idfiles = sys.argv[1], sys.argv[2:]
    want = set()
    for path in idfiles:
        m = re.search(r"ids\.(\d+)$", path)
        if not m:
            sys.exit("verify.py: id file must end in ids.<N>: %s" % path)
        idx = int(m.group(1))
        with open(path) as f:
            for line in f:
                if line.strip():
                    want.add((idx, int(line)))
    got = collections.Counter()
    seen_keys = set()
    resend = identical = 0
    first = {}
    unexpected = foreign = invalid = 0
    for st, key, records in requests(log):
        if not isinstance(st, int) or not 200 <= st < 300:
            continue
        again = key is not None and key in seen_keys
        if key is not None:
            seen_keys.add(key)
        for r in records:
            if any(k.startswith("_invalid") for k in r):
                invalid += 1
                continue
            m = SID.match(str(r.get("session_id", "")))
            if not m or r.get("event_id") != "llm_chat":
                foreign += 1
                continue
            k = (int(m.group(1)), r.get("duration_ms"))
            if k not in want:
                unexpected += 1
                continue
            got[k] += 1
            canon = json.dumps(r, sort_keys=True)
            if k in first:
                if first[k] == canon:
                    identical += 1
            else:
                first[k] = canon
            if again:
                resend += 1
    delivered = sum(1 for k in want if got[k] > 0)
    lost = len(want) - delivered
    dups = sum(c - 1 for c in got.values() if c > 1)
    rate = 100.0 * dups / len(want) if want else 0.0
    print("accepted=%d delivered=%d lost=%d dups=%d dup_rate_pct=%.4f "
          "resend_dups=%d identical_dups=%d unexpected=%d foreign=%d "
          "invalid=%d" % (len(want), delivered, lost, dups, rate, resend,
                          identical, unexpected, foreign, invalid))
    if lost:
        missing = sorted(k for k in want if got[k] == 0)
        print("first missing (client, id): %s" % missing[:10],
              file=sys.stderr)
    sys.exit(1 if lost else 0)


if __name__ == "__main__":
    main()
