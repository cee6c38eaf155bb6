#!/usr/bin/env python3
"""Fill an ATOMCODE_HOME with a queue for `atomcode-telemetry view` tests.

    view_fixture.py hostile HOME   plants hostile text in every field
    view_fixture.py demo HOME      a realistic week (README screenshot)

Writes the files straight into HOME/telemetry (as an upstream writer could,
bypassing the firewall) and prints, as JSON, what the page must show: the
counts, the planted strings, and the records table's expectations for the
last LAST records. Run with TZ=UTC (days are local days).
"""
import json
import os
import re
import sys
import uuid

PLACEHOLDER = re.compile(r"<[A-Za-z:._-]+>")

# Each would change the title (or more) if it ever ran as markup.
PAYLOADS = [
    "<script>document.title='PWNED'</script>",
    "\"><script>document.title='PWNED'</script>",
    "'><img src=x onerror=\"document.title='PWNED'\">",
    "</style><script>document.title='PWNED'</script>",
    "]]><script>document.title='PWNED'</script>",
    "<![CDATA[<script>document.title='PWNED'</script>]]>",
    "javascript:document.title='PWNED'",
    "<svg onload=\"document.title='PWNED'\"></svg>",
    "</textarea></title><iframe srcdoc=\"<script>parent.document.title="
    "'PWNED'</script>\"></iframe>",
    "<!-- </td></tr></table></section> -->",
    "&lt;script&gt;&amp;",
    "<a href=\"javascript:document.title='PWNED'\">click</a>",
    "<details open ontoggle=\"document.title='PWNED'\">",
    "<style>body{display:none}</style>",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<base href=\"javascript:/\"><form action=\"javascript:alert(1)\">",
    "</svg></g><script>document.title='PWNED'</script>",
]

DAY = 86400 * 1000
BASE = 1795824000000  # 2026-11-28 00:00:00 UTC


def envelope(event, ts):
    return {
        "device_id": "3f2c9a1e-6b7d-4c1a-9e55-0d7b2f8a4c10",
        "launch_id": "b1e4d2c3-5a6f-4b7e-8c9d-0a1b2c3d4e5f",
        "session_id": "7c6b5a49-3827-4165-9f0e-d1c2b3a49586",
        "turn": 3, "round": 1, "ts": ts, "schema_version": 1,
        "app_version": "0.9.4", "os": "linux", "arch": "x86_64",
        "locale": "en-US", "mode": "tui", "event_id": event,
    }


def line(rec):
    return json.dumps(rec, separators=(",", ":"), ensure_ascii=False)


def stem(day_ms, n):
    import time
    t = time.gmtime(day_ms / 1000)
    return "%04d%02d%02d-%02d%02d%02d-%s" % (
        t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, n,
        uuid.UUID(int=n + 1))


def strings(v):
    if isinstance(v, str):
        yield v
    elif isinstance(v, list):
        for e in v:
            yield from strings(e)
    elif isinstance(v, dict):
        for e in v.values():
            yield from strings(e)


def hostile():
    queued, invalid = [], []
    for i, p in enumerate(PAYLOADS):
        r = envelope("tool_call", BASE + (i % 3) * DAY + i * 1000)
        r.update({"name": p, "success": False, "duration_ms": i,
                  "error_kind": "io", "error_data": p + " at <PATH>",
                  "model": p, "provider": p,
                  "repo_origin": {"host": p, "has_git": True},
                  "backtrace_top_5": [p, "<HOME>/x " + p], p: p})
        if i % 4 == 0:
            r["event_id"] = p          # a hostile kind: chart label too
        if i % 5 == 0:
            r["error_data"] = "\u0001\u202e" + p + "<custom>"
        queued.append(("ready", line(r)))
    r = envelope("llm_chat", "<script>document.title='PWNED'</script>")
    queued.append(("ready", line(r)))  # no usable time stamp
    bad = b"\xff\xfe<script>document.title='PWNED'</script>\x01{"
    queued.append(("ready", bad))
    for i, ph in enumerate(["<SECRET>", "<secret:aws>", "<REDACTED>"]):
        r = envelope("mcp_connect", BASE + 2 * DAY + 3600000 + i)
        r.update({"server_name": "srv " + ph, "transport": "stdio",
                  "success": True})
        queued.append(("sending", line(r)))
    for i in range(2):
        r = envelope("open_atomcode", BASE + DAY + 7200000 + i)
        queued.append(("active", line(r)))
    r = envelope("panic", BASE)
    invalid = ["garbage that is not JSON", line(r)]
    return queued, invalid


def demo():
    import random
    import time
    rnd = random.Random(7)
    now = int(time.time() * 1000)
    start = now - 9 * DAY
    kinds = [("llm_chat", 40), ("tool_call", 30), ("use_command", 8),
             ("mcp_connect", 4), ("open_atomcode", 5), ("panic", 1),
             ("login_success", 1), ("take_codingplan", 1)]
    names = [k for k, _ in kinds]
    weights = [w for _, w in kinds]
    queued = []
    n = 0
    for d in range(10):
        for _ in range(rnd.randint(8, 40)):
            ev = rnd.choices(names, weights)[0]
            ts = start + d * DAY + rnd.randint(0, DAY - 1)
            if ts > now:
                ts = now - rnd.randint(0, 3600000)
            r = envelope(ev, ts)
            if ev == "llm_chat":
                r.update({"duration_ms": rnd.randint(300, 9000),
                          "tool_calls_count": rnd.randint(0, 4),
                          "input_tokens": rnd.randint(800, 9000),
                          "output_tokens": rnd.randint(50, 900),
                          "cached_tokens": 512, "had_error": False,
                          "provider": "openai", "model": "gpt-4.1"})
            elif ev == "tool_call":
                ok = rnd.random() > 0.2
                r.update({"name": rnd.choice(["read_file", "bash",
                                              "edit_file", "grep"]),
                          "success": ok,
                          "duration_ms": rnd.randint(3, 900)})
                if not ok:
                    r.update({"error_kind": "io", "error_data":
                              "cannot open <HOME>/src/<PATH>: permission "
                              "denied"})
            elif ev == "use_command":
                r.update({"type": rnd.choice(["model", "clear", "help"]),
                          "success": True})
            elif ev == "mcp_connect":
                r.update({"server_name": "github", "transport": "stdio",
                          "success": False, "error_kind": "auth",
                          "error_data": "401 for token <REDACTED>"})
            elif ev == "panic":
                r.update({"location": "src/tui/render.rs:88:14",
                          "message_head": "index out of bounds in "
                          "<CWD>/notes.md", "thread": "main",
                          "backtrace_top_5": ["render::draw",
                                              "tui::frame"]})
            queued.append((ts, r))
            n += 1
    queued.sort(key=lambda x: x[0])
    out = [("ready", line(r)) for _, r in queued[:-6]]
    out += [("active", line(r)) for _, r in queued[-6:]]
    invalid = ["{\"event_id\":\"llm_chat\",\"ts\":" + str(start) + ",",
               line(envelope("tool_call", start))]
    return out, invalid


def main():
    mode, home = sys.argv[1], sys.argv[2]
    tel = os.path.join(home, "telemetry")
    qd = os.path.join(tel, "queue")
    os.makedirs(qd, mode=0o700, exist_ok=True)
    os.chmod(tel, 0o700)
    queued, invalid = hostile() if mode == "hostile" else demo()

    def put(name, lines):
        with open(os.path.join(qd, name), "wb") as f:
            for ln in lines:
                f.write(ln if isinstance(ln, bytes) else ln.encode())
                f.write(b"\n")

    by = {"ready": [], "sending": [], "active": []}
    for st, ln in queued:
        by[st].append(ln)
    s0 = stem(BASE, 1)
    put(s0 + ".ndjson", by["ready"])
    if by["sending"]:
        put(stem(BASE + 2 * DAY, 2) + ".ndjson.sending-4242-" +
            str(uuid.UUID(int=99)), by["sending"])
    if by["active"]:
        a = stem(BASE + 3 * DAY, 3) + ".partial"
        put(a, by["active"])
        open(os.path.join(qd, a + ".owner"), "w").close()
    bad_name = (stem(BASE - DAY, 4) + "<img src=x onerror=document.title="
                "'PWNED'>.invalid") if mode == "hostile" else \
        stem(BASE - DAY, 4) + ".invalid"
    put(bad_name, invalid)

    if mode == "hostile":
        p = PAYLOADS[0]
        health = {"events_tracked": p, "segments_posted": 7,
                  "bytes_sent": 123456, "last_post_unix_ms": BASE,
                  "last_post_iso": p, p: p}
        ustate = {"next_attempt_unix_ms": BASE + 9 * DAY, "reason": p,
                  "attempt": 3, "last_status": 503, "saved_unix_ms": BASE}
        dropped = 5
    else:
        import time
        now = int(time.time() * 1000)
        health = {"events_tracked": 1893, "events_dropped_mpsc": 0,
                  "events_dropped_disk": 12, "segments_posted": 41,
                  "bytes_sent": 1187342, "last_post_unix_ms": now - 4200000}
        ustate = {"next_attempt_unix_ms": now + 95000, "reason": "backoff",
                  "attempt": 2, "last_status": 503, "saved_unix_ms": now}
        dropped = 12
    with open(os.path.join(tel, "health.json"), "w") as f:
        json.dump(health, f)
    with open(os.path.join(tel, "upload-state.json"), "w") as f:
        json.dump(ustate, f)
    with open(os.path.join(tel, "queue-dropped"), "w") as f:
        f.write("%d\n" % dropped)

    # What the page must show. Queue order = name order = the order above.
    order = by["ready"] + by["sending"] + by["active"]
    kinds, days, reduced, marks = {}, {}, 0, {}
    rows = []
    for ln in order:
        try:
            r = json.loads(ln)
            ev = r.get("event_id") if isinstance(r, dict) else None
        except (ValueError, UnicodeDecodeError):
            r, ev = None, None
        if not isinstance(ev, str):
            rows.append(False)
            continue
        kinds[ev] = kinds.get(ev, 0) + 1
        ts = r.get("ts")
        if isinstance(ts, int) and not isinstance(ts, bool) and ts > 0:
            import time
            d = time.strftime("%Y-%m-%d", time.localtime(ts // 1000))
            days[d] = days.get(d, 0) + 1
        found = [m for s in strings(r) for m in PLACEHOLDER.findall(s)]
        for m in found:
            marks[m] = marks.get(m, 0) + 1
        reduced += bool(found)
        rows.append(bool(found))
    exp = {
        "queued": len(order), "quarantined": len(invalid),
        "quarantined_files": 1, "kinds": kinds, "days": days,
        "reduced": reduced, "placeholders": marks,
        "row_flags": rows,
        "dropped_caps": dropped, "segments_sent": health["segments_posted"],
        "payloads": PAYLOADS if mode == "hostile" else [],
        "bad_name": bad_name,
    }
    print(json.dumps(exp))


if __name__ == "__main__":
    main()
