#!/usr/bin/env python3
"""hostile.py — hostile and well-behaved socket clients for chaos scenario 4
(stdlib only; self-contained so that it also runs from stdin as another uid).

  hostile.py flood SOCK N SECONDS       hold N connections open; reopen the
                                        ones the agent closes, every second
  hostile.py slowloris SOCK N SECONDS   N connections trickle one byte of a
                                        frame every 0.5 s; reconnect when cut
  hostile.py garbage SOCK SECONDS       random bytes, reconnect when closed
  hostile.py oversize SOCK SECONDS      frames with L = 0, 65537, 2^32-1 and a
                                        real 70000-byte payload
  hostile.py foreign SOCK SECONDS       connect/status in a loop (run it as
                                        another uid: it must get no reply)
  hostile.py good SOCK N RECORD_FILE    N round trips of event + flush → ack;
                                        prints latency percentiles
  hostile.py rss PID SOCK SECONDS       sample VmRSS every 50 ms and the
                                        agent's client count every 0.5 s

Every role prints one line of key=value pairs and never runs longer than
its SECONDS (+ a few seconds of socket timeouts).
"""
import json
import os
import random
import resource
import select
import socket
import struct
import sys
import time

FRAME_MAX = 65536


def frame(payload):
    if isinstance(payload, dict):
        payload = json.dumps(payload, separators=(",", ":"))
    if isinstance(payload, str):
        payload = payload.encode()
    return struct.pack(">I", len(payload)) + payload


def connect(path, timeout=2.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def try_connect(path, timeout=2.0):
    try:
        return connect(path, timeout)
    except OSError:
        return None


def closed(s):
    """Whether the peer closed s (non-blocking check; drains input)."""
    saved = s.gettimeout()
    s.settimeout(0.0)  # a socket with a timeout would wait in poll() first
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return True
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True
    finally:
        s.settimeout(saved)


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(max(soft, n), hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return want


def flood(path, n, secs):
    raise_nofile(n + 64)
    end = time.time() + secs
    conns = []
    opened = failed = 0
    for _ in range(n):
        s = try_connect(path)
        if s is None:
            failed += 1
            continue
        opened += 1
        conns.append(s)
    first_closed = None
    reopened = max_open = 0
    while time.time() < end:
        time.sleep(1.0)
        alive = []
        for s in conns:
            if closed(s):
                s.close()
            else:
                alive.append(s)
        if first_closed is None:
            first_closed = len(conns) - len(alive)
        max_open = max(max_open, len(alive))
        conns = alive
        while len(conns) < n and time.time() < end:
            s = try_connect(path)
            if s is None:
                failed += 1
                break
            reopened += 1
            conns.append(s)
    for s in conns:
        s.close()
    print("flood opened=%d reopened=%d connect_failed=%d closed_by_agent_first_second=%s"
          " held_max=%d" % (opened, reopened, failed, first_closed, max_open))


def slowloris(path, n, secs):
    raise_nofile(n + 64)
    end = time.time() + secs
    payload = b'{"event_id":"llm_chat","pad":"' + b"x" * 900 + b'"}'
    msg = struct.pack(">I", len(payload)) + payload
    conns = {}
    cut = conns_made = bytes_sent = 0
    while time.time() < end:
        while len(conns) < n:
            s = try_connect(path)
            if s is None:
                break
            conns[s] = 0
            conns_made += 1
        for s in list(conns):
            off = conns[s]
            try:
                s.send(msg[off:off + 1], socket.MSG_DONTWAIT)
                conns[s] = (off + 1) % (len(msg) - 1)  # never complete it
                bytes_sent += 1
            except OSError:
                cut += 1
                del conns[s]
                s.close()
                continue
            if closed(s):
                cut += 1
                del conns[s]
                s.close()
        time.sleep(0.5)
    for s in conns:
        s.close()
    print("slowloris connections=%d cut_by_agent=%d bytes=%d" %
          (conns_made, cut, bytes_sent))


def garbage(path, secs):
    end = time.time() + secs
    rnd = random.Random(os.getpid())
    conns = sent = closes = 0
    while time.time() < end:
        s = try_connect(path)
        if s is None:
            time.sleep(0.05)
            continue
        conns += 1
        try:
            for _ in range(50):
                b = os.urandom(rnd.randint(1, 4096))
                if rnd.random() < 0.5:  # well framed, random payload
                    b = struct.pack(">I", len(b)) + b
                s.sendall(b)
                sent += len(b)
                if closed(s):
                    closes += 1
                    break
                time.sleep(0.01)
        except OSError:
            closes += 1
        s.close()
    print("garbage connections=%d bytes=%d closed_by_agent=%d" %
          (conns, sent, closes))


def oversize(path, secs):
    end = time.time() + secs
    heads = [struct.pack(">I", 0), struct.pack(">I", FRAME_MAX + 1),
             struct.pack(">I", 0xFFFFFFFF)]
    big = b'{"event_id":"llm_chat","x":"' + b"y" * 70000 + b'"}'
    conns = bad_frame = closes = 0
    i = 0
    while time.time() < end:
        s = try_connect(path)
        if s is None:
            time.sleep(0.05)
            continue
        conns += 1
        try:
            if i % 4 == 3:
                s.sendall(struct.pack(">I", len(big)) + big)
            else:
                s.sendall(heads[i % 4] + b"{}" * 100)
            s.settimeout(2.0)
            data = b""
            while True:
                d = s.recv(65536)
                if not d:
                    closes += 1
                    break
                data += d
            if b"bad_frame" in data:
                bad_frame += 1
        except OSError:
            closes += 1
        s.close()
        i += 1
        time.sleep(0.02)
    print("oversize connections=%d bad_frame_replies=%d closed_by_agent=%d" %
          (conns, bad_frame, closes))


def foreign(path, secs):
    end = time.time() + secs
    tries = replies = refused = 0
    while time.time() < end:
        tries += 1
        try:
            s = connect(path, 1.0)
        except OSError:
            refused += 1
            time.sleep(0.2)
            continue
        try:
            s.sendall(frame('{"op":"status"}'))
            d = s.recv(100)
            if d:
                replies += 1
        except OSError:
            pass
        s.close()
        time.sleep(0.2)
    print("foreign uid=%d tries=%d replies=%d connect_refused=%d" %
          (os.getuid(), tries, replies, refused))


def recv_frame(s, buf):
    """Read one frame (dict); buf is a bytearray of leftover input."""
    while True:
        if len(buf) >= 4:
            (n,) = struct.unpack(">I", bytes(buf[:4]))
            if len(buf) >= 4 + n:
                p = bytes(buf[4:4 + n])
                del buf[:4 + n]
                return json.loads(p)
        d = s.recv(65536)
        if not d:
            return None
        buf += d


def good(path, n, recfile):
    rec = json.dumps(json.load(open(recfile)), separators=(",", ":"))
    lat = []
    reconnects = failures = errors = 0
    s = None
    buf = bytearray()
    deadline = time.time() + 60 + n * 0.5
    i = 0
    while i < n and time.time() < deadline:
        if s is None:
            s = try_connect(path, 5.0)
            if s is None:
                time.sleep(0.05)
                continue
            buf = bytearray()
            s.sendall(frame({"op": "hello", "proto": 1, "client": "chaos-good",
                             "pid": os.getpid()}))
        t0 = time.monotonic()
        try:
            s.sendall(frame(rec) + frame('{"op":"flush"}'))
            while True:
                f = recv_frame(s, buf)
                if f is None:
                    raise ConnectionError("EOF")
                if f.get("op") == "error":
                    errors += 1
                if f.get("op") == "ack":
                    break
        except (OSError, ConnectionError):
            failures += 1
            reconnects += 1
            s.close()
            s = None
            continue
        lat.append((time.monotonic() - t0) * 1000.0)
        i += 1
        time.sleep(0.02)
    lat.sort()

    def pct(p):
        return lat[min(len(lat) - 1, int(len(lat) * p / 100.0))] if lat else -1
    print("good round_trips=%d of=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f "
          "reconnects=%d errors=%d" % (len(lat), n, pct(50), pct(99),
                                       lat[-1] if lat else -1, reconnects,
                                       errors))


def status_clients(path):
    """The agent's "clients" count from a status request, or -1."""
    try:
        s = connect(path, 1.0)
        s.sendall(frame('{"op":"status"}'))
        buf = bytearray()
        while True:
            f = recv_frame(s, buf)
            if f is None:
                return -1
            if f.get("op") == "status":
                s.close()
                return int(f.get("clients", -1))
    except (OSError, ValueError):
        return -1


def rss(pid, path, secs):
    end = time.time() + secs
    first = mx = 0
    samples = 0
    max_clients = -1
    while time.time() < end:
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        v = int(line.split()[1])
                        first = first or v
                        mx = max(mx, v)
                        samples += 1
        except OSError:
            break
        if samples % 10 == 0:
            max_clients = max(max_clients, status_clients(path))
        time.sleep(0.05)
    print("rss first_kb=%d max_kb=%d samples=%d max_clients=%d" %
          (first, mx, samples, max_clients))


def main():
    role, a = sys.argv[1], sys.argv[2:]
    if role == "flood":
        flood(a[0], int(a[1]), float(a[2]))
    elif role == "slowloris":
        slowloris(a[0], int(a[1]), float(a[2]))
    elif role == "garbage":
        garbage(a[0], float(a[1]))
    elif role == "oversize":
        oversize(a[0], float(a[1]))
    elif role == "foreign":
        foreign(a[0], float(a[1]))
    elif role == "good":
        good(a[0], int(a[1]), a[2])
    elif role == "rss":
        rss(int(a[0]), a[1], float(a[2]))
    else:
        sys.exit("hostile.py: unknown role %s" % role)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
