#!/usr/bin/env python3
"""otlp_receiver.py — an OTLP/HTTP logs receiver for tests (stdlib only).

Listens on 127.0.0.1 (--port, 0 = any; the port is written to --port-file)
and accepts POST /v1/logs in the OTLP JSON encoding. Every request body is
checked against the OTLP protobuf messages it must be (field names in
lowerCamelCase, types as the proto3 JSON mapping and the OTLP rules say:
64-bit integers as decimal strings, enums as integers, one AnyValue field,
trace/span ids as hex), strictly: an unknown field is an error here, so the
test catches a misspelt name. A request with errors is answered 400.

One JSON line per request goes to --log (before the answer is sent):

  {"seq", "status": <int> | "hang" | "drop", "headers": {...},
   "errors": [...], "records": [...], "resources": [...]}

where records are the log records turned back into AtomCode records
(eventName → event_id, timeUnixNano → ts in ms, resource → app_version, os,
arch, attributes → fields), so a test compares them with what it emitted.

Answers: 200 with an empty ExportLogsServiceResponse by default; change
them with POST /_control {"mode": {"status": 503, "retry_after": "1",
"seconds": 3}} or {"mode": "drop"|"hang"|"normal"}, {"script": [...]} (as
tests/collector.py), {"reject": N} (a partialSuccess rejecting N records),
{"release": true}, {"reset": true}. GET /_stats: {"requests", "records"}
(records of 2xx answers).
"""

import argparse
import gzip
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 64 * 1024 * 1024
HANG_MAX_S = 600

# The messages of opentelemetry/proto/collector/logs/v1 (ExportLogsService
# Request) and what they use, field by field: (type, repeated).
MSG = {
    "ExportLogsServiceRequest": {"resourceLogs": ("ResourceLogs", True)},
    "ResourceLogs": {"resource": ("Resource", False),
                     "scopeLogs": ("ScopeLogs", True),
                     "schemaUrl": ("string", False)},
    "Resource": {"attributes": ("KeyValue", True),
                 "droppedAttributesCount": ("uint32", False),
                 "entityRefs": ("EntityRef", True)},
    "EntityRef": {"schemaUrl": ("string", False), "type": ("string", False),
                  "idKeys": ("string", True),
                  "descriptionKeys": ("string", True)},
    "ScopeLogs": {"scope": ("InstrumentationScope", False),
                  "logRecords": ("LogRecord", True),
                  "schemaUrl": ("string", False)},
    "InstrumentationScope": {"name": ("string", False),
                             "version": ("string", False),
                             "attributes": ("KeyValue", True),
                             "droppedAttributesCount": ("uint32", False)},
    "LogRecord": {"timeUnixNano": ("fixed64", False),
                  "observedTimeUnixNano": ("fixed64", False),
                  "severityNumber": ("SeverityNumber", False),
                  "severityText": ("string", False),
                  "body": ("AnyValue", False),
                  "attributes": ("KeyValue", True),
                  "droppedAttributesCount": ("uint32", False),
                  "flags": ("fixed32", False),
                  "traceId": ("hexbytes", False),
                  "spanId": ("hexbytes", False),
                  "eventName": ("string", False)},
    "KeyValue": {"key": ("string", False), "value": ("AnyValue", False)},
    "ArrayValue": {"values": ("AnyValue", True)},
    "KeyValueList": {"values": ("KeyValue", True)},
}
ANY = {"stringValue": "string", "boolValue": "bool", "intValue": "int64",
       "doubleValue": "double", "arrayValue": "ArrayValue",
       "kvlistValue": "KeyValueList", "bytesValue": "bytes"}
DECIMAL = re.compile(r"^-?(0|[1-9][0-9]*)$")


def check_scalar(t, v, path, errs):
    ok = True
    if t == "string":
        ok = isinstance(v, str)
    elif t == "bool":
        ok = isinstance(v, bool)
    elif t in ("int64", "fixed64"):
        # We send them as decimal strings (OTLP JSON: 64-bit as strings).
        ok = isinstance(v, str) and DECIMAL.match(v) is not None
        if ok and t == "fixed64" and v.startswith("-"):
            ok = False
    elif t in ("uint32", "fixed32"):
        ok = isinstance(v, int) and not isinstance(v, bool) and v >= 0
    elif t == "SeverityNumber":
        ok = isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 24
    elif t == "double":
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
    elif t == "hexbytes":
        ok = isinstance(v, str) and re.match(r"^([0-9a-fA-F]{2})*$", v)
    elif t == "bytes":
        ok = isinstance(v, str)
    else:
        ok = False
    if not ok:
        errs.append("%s: %r is not a %s" % (path, v, t))


def check(t, v, path, errs):
    if t == "AnyValue":
        if not isinstance(v, dict):
            errs.append("%s: AnyValue is not an object" % path)
            return
        if len(v) > 1:
            errs.append("%s: AnyValue with %d fields" % (path, len(v)))
        for k, x in v.items():
            if k not in ANY:
                errs.append("%s: unknown AnyValue field %r" % (path, k))
            else:
                check(ANY[k], x, path + "." + k, errs)
        return
    if t not in MSG:
        check_scalar(t, v, path, errs)
        return
    if not isinstance(v, dict):
        errs.append("%s: %s is not an object" % (path, t))
        return
    for k, x in v.items():
        if k not in MSG[t]:
            errs.append("%s: unknown field %r of %s" % (path, k, t))
            continue
        ft, rep = MSG[t][k]
        if rep:
            if not isinstance(x, list):
                errs.append("%s.%s: not a list" % (path, k))
                continue
            for i, e in enumerate(x):
                check(ft, e, "%s.%s[%d]" % (path, k, i), errs)
        else:
            check(ft, x, path + "." + k, errs)


def any_value(v):
    if "stringValue" in v:
        return v["stringValue"]
    if "boolValue" in v:
        return v["boolValue"]
    if "intValue" in v:
        return int(v["intValue"])
    if "doubleValue" in v:
        return v["doubleValue"]
    if "arrayValue" in v:
        return [any_value(e) for e in v["arrayValue"].get("values", [])]
    if "kvlistValue" in v:
        return {kv["key"]: any_value(kv.get("value", {}))
                for kv in v["kvlistValue"].get("values", [])}
    return None


OS_BACK = {"darwin": "macos"}
ARCH_BACK = {"amd64": "x86_64", "arm64": "aarch64"}


def flatten(req, errs):
    """The AtomCode records in a request (and the resources seen)."""
    records, resources = [], []
    for i, rl in enumerate(req.get("resourceLogs", [])):
        res = {kv["key"]: any_value(kv.get("value", {}))
               for kv in rl.get("resource", {}).get("attributes", [])}
        resources.append(res)
        if res.get("service.name") != "atomcode":
            errs.append("resourceLogs[%d]: service.name is %r" %
                        (i, res.get("service.name")))
        env = {}
        if "service.version" in res:
            env["app_version"] = res["service.version"]
        if "os.type" in res:
            env["os"] = OS_BACK.get(res["os.type"], res["os.type"])
        if "host.arch" in res:
            env["arch"] = ARCH_BACK.get(res["host.arch"], res["host.arch"])
        for sl in rl.get("scopeLogs", []):
            for lr in sl.get("logRecords", []):
                attrs = {kv["key"]: any_value(kv.get("value", {}))
                         for kv in lr.get("attributes", [])}
                if attrs.get("atomcode.unparsed"):
                    records.append({"_unparsed":
                                    any_value(lr.get("body", {}))})
                    continue
                rec = dict(env)
                ev = lr.get("eventName")
                rec["event_id"] = ev
                if any_value(lr.get("body", {})) != ev or \
                        attrs.pop("event.name", None) != ev:
                    errs.append("record %r: body/event.name differ from "
                                "eventName" % ev)
                if "timeUnixNano" in lr:
                    ns = int(lr["timeUnixNano"])
                    if ns % 1000000:
                        errs.append("record %r: timeUnixNano not whole ms"
                                    % ev)
                    rec["ts"] = ns // 1000000
                rec.update(attrs)
                records.append(rec)
    return records, resources


class State:
    def __init__(self, log_path):
        self.lock = threading.Lock()
        self.log = open(log_path, "a", encoding="utf-8")
        self.release = threading.Event()
        self.seq = 0
        self.records = 0
        self.reset()

    def reset(self):
        self.script = []
        self.mode = {"action": "respond", "status": 200}
        self.mode_until = None
        self.reject = 0

    def next_answer(self):
        with self.lock:
            self.seq += 1
            if self.script:
                step = self.script[0]
                step["count"] = step.get("count", 1) - 1
                if step["count"] <= 0:
                    self.script.pop(0)
                return self.seq, dict(step)
            if self.mode_until is not None and time.time() >= self.mode_until:
                self.mode = {"action": "respond", "status": 200}
                self.mode_until = None
            return self.seq, dict(self.mode)

    def control(self, cmd):
        with self.lock:
            if cmd.get("reset"):
                self.reset()
            if "script" in cmd:
                self.script = [dict(s) for s in cmd["script"]]
            if "mode" in cmd:
                m = cmd["mode"]
                if isinstance(m, str):
                    m = {"normal": {"action": "respond", "status": 200},
                         "hang": {"action": "hang"},
                         "drop": {"action": "drop"}}[m]
                self.mode = dict(m)
                self.mode.setdefault("action", "respond")
                self.mode.setdefault("status", 200)
                secs = self.mode.pop("seconds", None)
                self.mode_until = time.time() + secs if secs else None
            if "reject" in cmd:
                self.reject = int(cmd["reject"])
            if cmd.get("release"):
                self.release.set()
                self.release = threading.Event()


STATE = None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "otlp-receiver/1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def do_GET(self):
        if self.path == "/_stats":
            with STATE.lock:
                out = {"requests": STATE.seq, "records": STATE.records}
            self.reply(200, json.dumps(out).encode())
        else:
            self.reply(404, b"{}")

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > MAX_BODY:
            self.reply(413, b"{}")
            return
        body = self.rfile.read(n)
        if self.path == "/_control":
            STATE.control(json.loads(body or b"{}"))
            self.reply(200, b"{}")
            return
        errs, records, resources = [], [], []
        hdrs = {k.lower(): v for k, v in self.headers.items()}
        if self.path != "/v1/logs":
            errs.append("path %s is not /v1/logs" % self.path)
        if hdrs.get("content-type") != "application/json":
            errs.append("content-type %r" % hdrs.get("content-type"))
        try:
            if hdrs.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            else:
                errs.append("not gzip-encoded")
            req = json.loads(body.decode("utf-8"))
            check("ExportLogsServiceRequest", req, "request", errs)
            if not errs:
                records, resources = flatten(req, errs)
        except (OSError, EOFError, zlib.error, ValueError,
                UnicodeDecodeError) as e:
            errs.append("body: %s" % e)
        seq, ans = STATE.next_answer()
        action = ans.get("action", "respond")
        status = 400 if errs else ans.get("status", 200)
        if action == "respond" and 200 <= status < 300:
            with STATE.lock:
                STATE.records += len(records)
        entry = {"seq": seq, "status": status if action == "respond" else
                 action, "headers": hdrs, "errors": errs,
                 "records": records, "resources": resources,
                 "time": time.time()}
        with STATE.lock:
            STATE.log.write(json.dumps(entry, sort_keys=True) + "\n")
            STATE.log.flush()
        if action == "hang":
            STATE.release.wait(HANG_MAX_S)
            self.reply(200, b"{}")
            return
        if action == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        headers = {}
        if ans.get("retry_after") is not None:
            headers["Retry-After"] = str(ans["retry_after"])
        if errs:
            out = {"code": 3, "message": "; ".join(errs)[:2000]}
        elif status < 300 and STATE.reject:
            out = {"partialSuccess": {"rejectedLogRecords":
                                      str(STATE.reject),
                                      "errorMessage": "test rejection"}}
        else:
            out = {}
        self.reply(status, json.dumps(out).encode(), headers)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, socket.timeout)):
            return
        super().handle_error(request, client_address)


def main():
    global STATE
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    STATE = State(args.log)
    srv = Server(("127.0.0.1", args.port), Handler)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    try:
        srv.serve_forever(poll_interval=0.2)
    except (KeyboardInterrupt, SystemExit):
        pass


if __name__ == "__main__":
    main()
