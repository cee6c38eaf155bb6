#!/usr/bin/env python3
"""The privacy firewall's corpora (README "Privacy firewall").

tests/data/leak_corpus.tsv, exact stored values:
  privacy_corpus.py agent SOCK        send one tool_call per case over the protocol
                                      (hello carries the case's home and cwd)
  privacy_corpus.py fallback CLI      run `CLI emit --raw` per (home, cwd) group with
                                      HOME=<home> and --cwd <cwd>, no agent
  privacy_corpus.py verify DUMPFILE   compare stored error_data with the expected
                                      column; print one line per mismatch and a summary
Cases whose expected value exceeds the error_data bound (4096 bytes) or that are not
valid UTF-8 are skipped (the scrubber unit test covers them directly).

tests/data/leak_canaries.tsv (made by tests/data/mkleaks.py), canaries:
  privacy_corpus.py leaks-agent SOCK, leaks-fallback CLI   as above, one record per
                                      case with the value in the case's field
  privacy_corpus.py leaks-verify DUMPFILE   "leaks: N of M": a case leaks when one of
                                      its canaries is anywhere in its stored record
                                      (case-insensitive); every case must be stored

tests/data/benign_corpus.txt, real error messages holding nothing private:
  privacy_corpus.py benign SCRUB_LINES      "benign: kept K of T words (P %)" through
                                      proto/scrub.c; exit 1 below 90 %; with
                                      --pairs N also print N before/after pairs
"""
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "data", "leak_corpus.tsv")
CANARIES = os.path.join(HERE, "data", "leak_canaries.tsv")
BENIGN = os.path.join(HERE, "data", "benign_corpus.txt")
COMPAT = os.path.join(HERE, "compat")
GOLDEN = os.path.join(COMPAT, "tool_call.json")
ERROR_DATA_MAX = 4096
BENIGN_MIN = 90.0
# The golden record each field of a canary case goes into.
FIELD_EVENT = {
    "error_data": "tool_call", "error_kind": "tool_call", "name": "tool_call",
    "message_head": "panic", "location": "panic", "thread": "panic",
    "backtrace": "panic", "type": "use_command", "server_name": "mcp_connect",
    "invite_code": "login_success",
}


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


def canary_cases():
    res = []
    with open(CANARIES, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            cat, field, home, cwd, value, can = line.split("\t")
            res.append({"id": len(res) + 1, "cat": cat, "field": field,
                        "home": unescape(home), "cwd": unescape(cwd),
                        "value": unescape(value),
                        "canaries": unescape(can).split(" | ")})
    return res


def canary_record(c):
    ev = FIELD_EVENT.get(c["field"], "open_atomcode_full_envelope")
    r = json.load(open(os.path.join(COMPAT, ev + ".json")))
    r["ts"] = c["id"]
    if c["field"] == "backtrace":
        r["backtrace_top_5"] = [c["value"]]
    else:
        r[c["field"]] = c["value"]
    return json.dumps(r, separators=(",", ":"), ensure_ascii=False)


def canary_groups():
    g = {}
    for c in canary_cases():
        g.setdefault((c["home"], c["cwd"]), []).append(c)
    return g


def send_agent(sock, groups, record):
    sys.path.insert(0, HERE)
    import atc
    for (home, cwd), cs in groups.items():
        s = atc.connect(sock)
        kw = {}
        if home:
            kw["home"] = home
        if cwd:
            kw["cwd"] = cwd
        atc.hello(s, **kw)
        for c in cs:
            s.sendall(atc.frame(record(c)))
        s.sendall(atc.frame({"op": "flush"}))
        errs = [f for f in atc.replies_until(s, "ack", seq=len(cs))
                if f.get("op") == "error"]
        for e in errs:
            print("agent rejected:", e)
        s.close()


def send_fallback(cli, groups, record):
    for (home, cwd), cs in groups.items():
        env = dict(os.environ)
        env["HOME"] = home or "/nonexistent-home-for-test"
        args = [cli, "emit", "--raw"]
        if cwd:
            args += ["--cwd", cwd]
        data = "".join(record(c) + "\n" for c in cs)
        p = subprocess.run(args, input=data.encode(), env=env,
                           capture_output=True)
        if p.returncode != 0:
            print("emit failed:", p.stderr.decode()[:200])


def leaks_verify(dump):
    cases = {c["id"]: c for c in canary_cases()}
    got = {}
    for line in open(dump, encoding="utf-8"):
        line = line.strip()
        if line.startswith("{"):
            got[json.loads(line)["ts"]] = line
    leaked, missing, cats = 0, 0, {}
    for i, c in cases.items():
        cats.setdefault(c["cat"], [0, 0])[1] += 1
        rec = got.get(i)
        if rec is None:
            missing += 1
            print("case %d (%s, %s): not stored" % (i, c["cat"], c["field"]))
            continue
        low = rec.lower()
        hit = [k for k in c["canaries"] if k.lower() in low]
        if hit:
            leaked += 1
            cats[c["cat"]][0] += 1
            print("case %d (%s, %s): leaked %r\n  value  %r\n  stored %s"
                  % (i, c["cat"], c["field"], hit, c["value"][:200],
                     rec[:400]))
    print("by category: " + ", ".join("%s %d/%d" % (k, v[0], v[1])
                                      for k, v in sorted(cats.items())))
    print("leaks: %d of %d (%d not stored)" % (leaked, len(cases), missing))
    sys.exit(1 if leaked or missing or not cases else 0)


PLACEHOLDER = re.compile(r"<(HOME|CWD|PATH|URL|EMAIL|IP|SECRET|ID|WORD|NUM|"
                         r"custom)>")
URL_HOST = re.compile(r"<URL:([a-z0-9.-]+)>")
WORD = re.compile(r"\w+")


def words(text):
    return WORD.findall(text.replace("\\n", " ").replace("\\t", " "))


def benign(tool, npairs):
    lines = [l.rstrip("\n") for l in open(BENIGN, encoding="utf-8")
             if l.strip() and not l.startswith("#")]
    p = subprocess.run([tool], input="\n".join(lines) + "\n",
                       capture_output=True, text=True)
    out = p.stdout.split("\n")
    total = kept = 0
    changed = []
    for inp, o in zip(lines, out):
        # the host a <URL:host> keeps counts as kept words
        a = words(inp)
        b = words(PLACEHOLDER.sub(" ", URL_HOST.sub(r" \1 ", o)))
        total += len(a)
        kept += len(b)
        if o != inp:
            changed.append((inp, o))
    share = 100.0 * kept / total if total else 0.0
    for inp, o in changed[:npairs]:
        print("  before: %s\n  after:  %s" % (inp, o))
    print("benign: %d messages, %d changed; kept %d of %d words (%.1f %%)"
          % (len(lines), len(changed), kept, total, share))
    sys.exit(0 if len(lines) >= 300 and share >= BENIGN_MIN else 1)


def main():
    mode = sys.argv[1]
    if mode == "leaks-agent":
        send_agent(sys.argv[2], canary_groups(), canary_record)
        return
    if mode == "leaks-fallback":
        send_fallback(sys.argv[2], canary_groups(), canary_record)
        return
    if mode == "leaks-verify":
        leaks_verify(sys.argv[2])
    if mode == "benign":
        benign(sys.argv[2], int(sys.argv[4]) if len(sys.argv) > 4 and
               sys.argv[3] == "--pairs" else 0)
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
