#!/usr/bin/env python3
"""collector.py — a fake telemetry collector for tests (stdlib only).

Listens on 127.0.0.1 (port 0 by default: the chosen port is written to
--port-file), decodes gzip bodies and appends one JSON line per request to
--log:

  {"seq", "method", "path", "headers": {lower-case name: value},
   "records": [...], "raw": "<decoded body>", "body_bytes", "client_port",
   "status": <int> | "hang" | "drop", "time"}

The log line is written BEFORE the answer is sent, so a client that saw the
answer can read its line. Lines that are not JSON objects are kept in
records as {"_invalid": "<line>"}.

Answers are 200 by default. Change them through POST /_control with a JSON
object (several keys may be combined):

  {"script": [{"status": 500, "count": 3}, {"status": 429, "retry_after": "1"},
              {"action": "hang"}, {"action": "drop"}, {"status": 200,
               "sleep": 2}]}
      answers for the next requests, in order (count defaults to 1);
      "retry_after" is sent verbatim (seconds or an HTTP-date), "sleep"
      delays the answer, "action" is "respond" (default), "hang" (never
      answer until the server stops or "release") or "drop" (close the
      connection without an answer).
  {"mode": {"status": 503, "retry_after": "2", "action": "respond",
            "sleep": 0, "seconds": 5}}
      the answer when the script is empty, for "seconds" (or for ever
      without it); {"mode": "normal"|"hang"|"drop"} are short forms.
  {"max_records": N}   answer 413 to any body with more than N records
                       (null: no limit); checked before script and mode.
  {"release": true}    let hanging requests finish (answered 200).
  {"reset": true}      back to defaults (script, mode, max_records).

GET /_stats returns {"requests": n, "records": n}. Control requests are not
logged. --tls-cert/--tls-key serve HTTPS (the control endpoint too).

Usage: collector.py --port-file F --log L [--port P] [--tls-cert C
       --tls-key K] [--script JSON]
"""

import argparse
import email.utils
import gzip
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 64 * 1024 * 1024  # refuse bigger request bodies outright
HANG_MAX_S = 3600            # a hang ends at the latest after this


class State:
    """Shared, lock-protected behaviour and log of the collector."""

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
        self.max_records = None

    def next_answer(self, nrecords):
        """The answer for the next request (a dict); consumes the script."""
        with self.lock:
            self.seq += 1
            if self.max_records is not None and nrecords > self.max_records:
                return self.seq, {"action": "respond", "status": 413}
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

    def write_log(self, entry):
        with self.lock:
            self.log.write(json.dumps(entry, sort_keys=True) + "\n")
            self.log.flush()

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
            if "max_records" in cmd:
                self.max_records = cmd["max_records"]
            if cmd.get("release"):
                self.release.set()
                self.release = threading.Event()


STATE = None
TLS_CTX = None
REASONS = {200: "OK", 202: "Accepted", 204: "No Content",
           400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
           413: "Payload Too Large", 429: "Too Many Requests",
           500: "Internal Server Error", 503: "Service Unavailable"}


def decode_body(body, encoding):
    """Return (text, records) of a possibly gzip-encoded NDJSON body."""
    if encoding and encoding.lower() == "gzip":
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError, zlib.error) as e:
            return None, [{"_invalid_gzip": str(e)}]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None, [{"_invalid_utf8": True}]
    records = []
    for line in text.split("\n"):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            if not isinstance(rec, dict):
                rec = {"_invalid": line}
        except ValueError:
            rec = {"_invalid": line}
        records.append(rec)
    return text, records


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive: connection reuse is visible
    server_version = "collector/1"

    def setup(self):
        if TLS_CTX is not None:
            self.request.settimeout(10)
            self.request = TLS_CTX.wrap_socket(self.request, server_side=True)
            self.request.settimeout(None)
        super().setup()

    def log_message(self, fmt, *args):  # quiet
        pass

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > MAX_BODY:
            raise ValueError("bad Content-Length")
        body = b""
        while len(body) < n:
            chunk = self.rfile.read(n - len(body))
            if not chunk:
                break
            body += chunk
        return body

    def reply(self, status, body=b"", headers=None):
        self.send_response(status, REASONS.get(status))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and status != 204:
            self.wfile.write(body)

    def do_GET(self):
        if self.path == "/_stats":
            with STATE.lock:
                out = {"requests": STATE.seq, "records": STATE.records}
            self.reply(200, json.dumps(out).encode(),
                       {"Content-Type": "application/json"})
        else:
            self.reply(404)

    def do_POST(self):
        try:
            body = self.read_body()
        except ValueError:
            self.reply(400)
            return
        if self.path == "/_control":
            try:
                STATE.control(json.loads(body or b"{}"))
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                self.reply(400, str(e).encode())
                return
            self.reply(200, b"{}", {"Content-Type": "application/json"})
            return
        text, records = decode_body(body,
                                    self.headers.get("Content-Encoding"))
        seq, ans = STATE.next_answer(len(records))
        action = ans.get("action", "respond")
        status = ans.get("status", 200)
        entry = {
            "seq": seq, "method": self.command, "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "records": records, "raw": text, "body_bytes": len(body),
            "client_port": self.client_address[1],
            "status": status if action == "respond" else action,
            "time": time.time(),
        }
        if action == "respond" and 200 <= status < 300:
            with STATE.lock:
                STATE.records += len(records)
        STATE.write_log(entry)
        if ans.get("sleep"):
            time.sleep(float(ans["sleep"]))
        if action == "hang":
            STATE.release.wait(HANG_MAX_S)
            self.reply(200)
            return
        if action == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        headers = {}
        ra = ans.get("retry_after")
        if ra is not None:
            if isinstance(ra, dict) and "date_in" in ra:
                ra = email.utils.formatdate(time.time() + ra["date_in"],
                                            usegmt=True)
            headers["Retry-After"] = str(ra)
        self.reply(status, b'{"ok":true}' if status < 300 else b"{}",
                   headers)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # TLS handshake failures and resets are expected in tests.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ssl.SSLError, ConnectionError, socket.timeout)):
            return
        super().handle_error(request, client_address)


def main():
    global STATE, TLS_CTX
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--script", help="initial /_control JSON")
    args = ap.parse_args()

    STATE = State(args.log)
    if args.script:
        STATE.control(json.loads(args.script))
    if args.tls_cert:
        TLS_CTX = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        TLS_CTX.load_cert_chain(args.tls_cert, args.tls_key)
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
