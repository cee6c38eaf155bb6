#!/usr/bin/env python3
"""mkseeds.py — regenerate the seed corpora in tests/fuzz/corpus/<target>/.

Run from the repository root: python3 tests/fuzz/mkseeds.py
Sources: the golden records (tests/compat/*.json, compacted), framed versions
of them and control frames, the config.toml cases (tests/data/config/ and
tests/compat/config.example.toml), telemetryd.conf samples, the queue crash
cases (tests/data/queue/*.partial) and Retry-After values. Deterministic:
running it twice gives the same files. It only writes under tests/fuzz/corpus.
"""
import glob
import json
import os
import shutil
import struct
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")


def compact(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def frame(payload):
    return struct.pack(">I", len(payload)) + payload


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def golden():
    recs = {}
    for p in sorted(glob.glob(os.path.join(ROOT, "tests", "compat", "*.json"))):
        with open(p, encoding="utf-8") as f:
            recs[os.path.basename(p)[:-5]] = json.load(f)
    return recs


CONTROL = [
    b'{"op":"hello","proto":1,"client":"atomcode-telemetry/0.1.0","pid":4242,'
    b'"cwd":"/home/u/p","home":"/home/u"}',
    b'{"op":"flush"}', b'{"op":"status"}', b'{"op":"upload"}',
    b'{"op":"reload"}', b'{"op":"shutdown"}',
]


def scrub_bait(recs):
    """Records whose free text exercises every scrubber rule."""
    out = {}
    p = dict(recs["panic"])
    p["message_head"] = ("called unwrap at /home/alice/proj/src/main.rs:42 "
                         "token=abcdef123456 mail bob@example.com")
    p["location"] = "/home/alice/proj/src/main.rs:42:5"
    p["backtrace_top_5"] = [
        "0: /home/alice/.cargo/registry/src/x.rs",
        "1: C:\\Users\\alice\\proj\\y.rs",
        "2: \\\\server\\share\\z.rs",
        "3: https://user:pw@github.com/a/b?q=1#f",
        "4: Authorization: Bearer sk-abcdefghijklmnopqrstuvwxyz",
    ]
    out["panic_scrub"] = compact(p)
    t = dict(recs["tool_call"])
    t["error_kind"] = "io_error"
    t["error_data"] = ("open /home/alice/secret.txt failed; api_key=\"AKIA"
                       "ABCDEFGHIJKLMNOP\" ghp_0123456789abcdefghijABCDEFGHIJ "
                       "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig "
                       "\u4e2d\u6587 \\n/tmp/a/b")
    out["tool_call_scrub"] = compact(t)
    u = dict(recs["llm_chat"])
    u["unknown_field"] = {"nested": [1, 2.5, None, True]}
    out["llm_chat_unknown"] = compact(u)
    out["llm_chat_pretty"] = json.dumps(recs["llm_chat"], indent=1).encode()
    out["escaped_key"] = compact(recs["open_atomcode"]).replace(
        b'"event_id"', b'"event\\u005fid"')
    return out


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    recs = golden()
    lines = {n: compact(r) for n, r in recs.items()}
    bait = scrub_bait(recs)

    # record: compact golden records and scrubber bait
    for n, b in list(lines.items()) + list(bait.items()):
        put("record", n, b)

    # frame: one frame per record / control op, and whole streams
    for n, b in lines.items():
        put("frame", n, frame(b))
    for i, c in enumerate(CONTROL):
        put("frame", "control%d" % i, frame(c))
    stream = frame(CONTROL[0]) + b"".join(frame(b) for b in lines.values()) \
        + frame(CONTROL[1])
    put("frame", "stream", stream)
    put("frame", "stream_torn", stream[:-3])
    put("frame", "len_zero", b"\0\0\0\0" + frame(CONTROL[1]))
    put("frame", "len_too_big", frame(CONTROL[1]) + b"\0\1\0\1{}")
    put("frame", "bad_utf8", frame(b'{"event_id":"\xc0\xaf"}'))
    put("frame", "not_object", frame(b' \t[1]'))

    # config: the reader's test cases and the upstream example
    for p in sorted(glob.glob(os.path.join(ROOT, "tests", "data", "config", "*"))):
        with open(p, "rb") as f:
            put("config", os.path.basename(p), f.read())
    with open(os.path.join(ROOT, "tests", "compat", "config.example.toml"), "rb") as f:
        put("config", "config.example.toml", f.read())

    # settings: telemetryd.conf (README sample and variants)
    put("settings", "readme.conf", b"""[agent]
idle_exit_s = 600        ; auto-spawned agent exits after this long idle (0 = never)
stall_timeout_s = 10     ; a client with a half-sent frame or unread replies is cut off
log_level = info         ; error|warn|info|debug

[queue]
fsync = roll             ; always|roll|never
roll_interval_ms = 2000  ; a quiet segment is rolled (made uploadable) after this

[upload]
timeout_s = 10
connect_timeout_s = 5
ca_file =                ; extra CA bundle; TLS is always verified
backoff_scale_pct = 100  ; tests shorten the backoff with this
max_retry_after_s = 86400
""")
    put("settings", "tests.conf", b"[queue]\nfsync = always\nroll_interval_ms = 50\n"
        b"[agent]\nstall_timeout_s = 1\nlog_level = debug\n"
        b"[upload]\nbackoff_scale_pct = 1\nca_file = /etc/ssl/certs/ca.pem\n")
    put("settings", "bad_value.conf", b"[queue]\nfsync = sometimes\n")
    put("settings", "unknown_key.conf", b"[agent]\nnope = 1\n")
    put("settings", "out_of_range.conf", b"[upload]\ntimeout_s = 601\n")
    put("settings", "negative.conf", b"[agent]\nidle_exit_s = -1\n")
    put("settings", "no_section.conf", b"fsync = never\n")
    put("settings", "crlf.conf", b"[queue]\r\nfsync = never\r\n")
    put("settings", "empty.conf", b"")

    # queue_line: recovery crash cases, single lines, multi-line segments
    for p in sorted(glob.glob(os.path.join(ROOT, "tests", "data", "queue", "*.partial"))):
        with open(p, "rb") as f:
            put("queue_line", os.path.basename(p), f.read())
    for n in ("llm_chat", "panic", "open_atomcode"):
        put("queue_line", "line_" + n, lines[n] + b"\n")
    put("queue_line", "segment", b"".join(b + b"\n" for b in lines.values()))
    put("queue_line", "minimal", b'{"event_id":"x","ts":1}\n')
    put("queue_line", "ts_big", b'{"event_id":"x","ts":9223372036854775808}\n')
    put("queue_line", "dup_key", b'{"event_id":"x","ts":1,"ts":"a"}\n')
    put("queue_line", "nul_escape", b'{"event_id":"a\\u0000b","ts":1}\n')

    # http: Retry-After values
    for i, v in enumerate([
        "0", "120", " 5 ", "\t7", "86400", "99999999999999999999999", "",
        "-1", "1.5", "5x", "Sun, 06 Nov 1994 08:49:37 GMT",
        "sun, 06 nov 1994 08:49:47 gmt", "Sunday, 06-Nov-94 08:49:39 GMT",
        "Sun Nov  6 08:49:40 1994", "Fri, 31 Dec 9999 23:59:59 GMT",
        "Thu, 29 Feb 2024 00:00:00 UTC", "Wed, 01 Jan 2025 00:00:60 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT junk",
    ]):
        put("http", "retry_after%02d" % i, v.encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
