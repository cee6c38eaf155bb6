#!/usr/bin/env python3
"""proxy.py — a minimal forward proxy for tests (stdlib only).

Supports CONNECT host:port (tunnels bytes both ways) and absolute-URI
requests ("POST http://host:port/path HTTP/1.1", forwarded in origin form
with "Connection: close"). Appends every request line to --log, one per
line, before acting on it. Listens on 127.0.0.1, port 0 by default; the
chosen port is written to --port-file.

Usage: proxy.py --port-file F --log L [--port P]
"""

import argparse
import os
import select
import signal
import socket
import socketserver
import sys
import threading
from urllib.parse import urlsplit

MAX_HEAD = 64 * 1024   # request line + headers
IDLE_S = 30            # a tunnel idle this long is closed

LOG = None
LOG_LOCK = threading.Lock()


def log_line(line):
    with LOG_LOCK:
        LOG.write(line + "\n")
        LOG.flush()


def relay(a, b):
    """Copy bytes both ways until one side closes or IDLE_S passes."""
    socks = [a, b]
    while True:
        r, _, _ = select.select(socks, [], [], IDLE_S)
        if not r:
            return
        for s in r:
            try:
                data = s.recv(65536)
            except OSError:
                return
            if not data:
                return
            other = b if s is a else a
            try:
                other.sendall(data)
            except OSError:
                return


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        c = self.request
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = c.recv(4096)
            if not chunk:
                return
            head += chunk
            if len(head) > MAX_HEAD:
                return
        head, rest = head.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        reqline = lines[0]
        log_line(reqline)
        try:
            method, target, version = reqline.split(" ", 2)
        except ValueError:
            c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return
        if method.upper() == "CONNECT":
            host, _, port = target.rpartition(":")
            try:
                up = socket.create_connection((host.strip("[]"), int(port)),
                                              timeout=10)
            except (OSError, ValueError):
                c.sendall(b"HTTP/1.1 502 Bad Gateway\r\n"
                          b"Content-Length: 0\r\n\r\n")
                return
            c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if rest:
                up.sendall(rest)
            relay(c, up)
            up.close()
            return
        u = urlsplit(target)
        if u.scheme != "http" or not u.hostname:
            c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return
        path = u.path or "/"
        if u.query:
            path += "?" + u.query
        out = ["%s %s %s" % (method, path, version)]
        for h in lines[1:]:
            name = h.split(":", 1)[0].strip().lower()
            if name in ("proxy-connection", "connection", "keep-alive",
                        "proxy-authorization"):
                continue
            out.append(h)
        out.append("Connection: close")
        try:
            up = socket.create_connection((u.hostname, u.port or 80),
                                          timeout=10)
        except OSError:
            c.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        up.sendall(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + rest)
        relay(c, up)
        up.close()


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global LOG
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    LOG = open(args.log, "a", encoding="utf-8")
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
