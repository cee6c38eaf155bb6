#!/usr/bin/env python3
"""Run tests/data/leak_corpus.tsv through the agent or the fallback path.

  privacy_corpus.py agent SOCK        send one tool_call per case over the protocol
                                      (hello carries the case's home and cwd)
  privacy_corpus.py fallback CLI      run `CLI emit --raw` per (home, cwd) group with
                                      HOME=<home> and --cwd <cwd>, no agent
  privacy_corpus.py verify DUMPFILE   compare stored error_data with the expected
                                      column; print one line per mismatch and a summary

Cases whose expected value exceeds the error_data bound (4096 bytes) or that are not
valid UTF-8 are skipped (the scrubber unit test covers them directly).
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "data", "leak_corpus.tsv")
GOLDEN = os.path.join(HERE, "compat", "tool_call.json")
ERROR_DATA_MAX = 4096


def unescape(s):
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            n = s[i + 1]
            out.append({"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}[n])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def cases():
    res = []
    with open(CORPUS, "rb") as f:
        for raw in f:
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                continue
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) != 4:
                continue
            home, cwd, inp, exp = (unescape(c) for c in cols)
            if not inp or len(exp.encode()) > ERROR_DATA_MAX or len(inp.encode()) > 60000:
                continue
            res.append((len(res) + 1, home, cwd, inp, exp))
    return res


def record(idx, inp):
    r = json.load(open(GOLDEN))
    r["duration_ms"] = idx
    r["success"] = False
    r["error_data"] = inp
    return json.dumps(r, separators=(",", ":"), ensure_ascii=False)


def groups():
    g = {}
    for c in cases():
        g.setdefault((c[1], c[2]), []).append(c)
    return g


def main():
    mode = sys.argv[1]
    if mode == "agent":
        sys.path.insert(0, HERE)
        import atc
        for (home, cwd), cs in groups().items():
            s = atc.connect(sys.argv[2])
            kw = {}
            if home:
                kw["home"] = home
            if cwd:
                kw["cwd"] = cwd
            atc.hello(s, **kw)
            for c in cs:
                s.sendall(atc.frame(record(c[0], c[3])))
            s.sendall(atc.frame({"op": "flush"}))
            errs = [f for f in atc.replies_until(s, "ack", seq=len(cs))
                    if f.get("op") == "error"]
            for e in errs:
                print("agent rejected:", e)
            s.close()
    elif mode == "fallback":
        for (home, cwd), cs in groups().items():
            env = dict(os.environ)
            env["HOME"] = home or "/nonexistent-home-for-test"
            args = [sys.argv[2], "emit", "--raw"]
            if cwd:
                args += ["--cwd", cwd]
            data = "".join(record(c[0], c[3]) + "\n" for c in cs)
            p = subprocess.run(args, input=data.encode(), env=env, capture_output=True)
            if p.returncode != 0:
                print("emit failed:", p.stderr.decode()[:200])
    elif mode == "verify":
        want = {c[0]: c for c in cases()}
        got = {}
        for line in open(sys.argv[2], encoding="utf-8"):
            line = line.strip()
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            got[r["duration_ms"]] = r.get("error_data")
        bad = 0
        for idx, c in want.items():
            if got.get(idx) != c[4]:
                bad += 1
                print("case %d: home=%r cwd=%r\n  input    %r\n  expected %r\n  stored   %r"
                      % (idx, c[1], c[2], c[3][:200], c[4][:200], (got.get(idx) or "")[:200]))
        print("corpus: %d cases, %d stored exactly as expected, %d wrong"
              % (len(want), len(want) - bad, bad))
        sys.exit(1 if bad or not want else 0)


if __name__ == "__main__":
    main()
