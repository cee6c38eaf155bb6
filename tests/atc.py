#!/usr/bin/env python3
"""Tiny protocol client for integration tests (PROTOCOL.md): frames in and out.

Usage as a command:
  atc.py send SOCK JSON...         send frames, then flush; print every reply
  atc.py raw SOCK HEXBYTES         send raw bytes, print replies until EOF/timeout
"""
import json
import os
import socket
import struct
import sys
import time


def connect(path, timeout=2.0):
    """Connect, retrying while the listen backlog is full (EAGAIN)."""
    deadline = time.time() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            if len(path.encode()) >= 108:
                d = os.open(os.path.dirname(path), os.O_PATH | os.O_DIRECTORY)
                try:
                    s.connect("/proc/self/fd/%d/%s" % (d, os.path.basename(path)))
                finally:
                    os.close(d)
            else:
                s.connect(path)
            return s
        except BlockingIOError:
            s.close()
            if time.time() > deadline:
                raise
            time.sleep(0.005)


def frame(payload):
    if isinstance(payload, (dict, list)):
        payload = json.dumps(payload, separators=(",", ":"))
    if isinstance(payload, str):
        payload = payload.encode()
    return struct.pack(">I", len(payload)) + payload


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            return None
        b += c
    return b


def recv_frame(s):
    h = recv_exact(s, 4)
    if h is None:
        return None
    (n,) = struct.unpack(">I", h)
    p = recv_exact(s, n)
    return None if p is None else json.loads(p)


def hello(s, **kw):
    m = {"op": "hello", "proto": 1, "client": "atc.py", "pid": os.getpid()}
    m.update(kw)
    s.sendall(frame(m))


def replies_until(s, op, limit=100000, seq=None):
    """Read frames until one with op (and, if seq is given, "seq" >= seq:
    the agent acks after every write, so a flush's ack may follow earlier
    ones) or EOF. Returns the list read."""
    out = []
    while len(out) < limit:
        try:
            f = recv_frame(s)
        except socket.timeout:
            break
        if f is None:
            break
        out.append(f)
        if f.get("op") == op and (seq is None or f.get("seq", 0) >= seq):
            break
    return out


if __name__ == "__main__":
    cmd, path = sys.argv[1], sys.argv[2]
    s = connect(path)
    if cmd == "send":
        hello(s)
        n = 0
        for a in sys.argv[3:]:
            s.sendall(frame(a))
            n += 0 if a.startswith('{"op":') else 1
        s.sendall(frame({"op": "flush"}))
        for f in replies_until(s, "ack", seq=n):
            print(json.dumps(f, sort_keys=True))
    elif cmd == "raw":
        s.sendall(bytes.fromhex(sys.argv[3]))
        s.settimeout(1.0)
        while True:
            try:
                f = recv_frame(s)
            except (socket.timeout, ConnectionError):
                break
            if f is None:
                print("EOF")
                break
            print(json.dumps(f, sort_keys=True))
