#!/usr/bin/env python3
"""mkleaks.py — generate tests/data/leak_canaries.tsv, the canary leak corpus.

Run from the repository root: python3 tests/data/mkleaks.py
Deterministic (seeded): running it twice gives the same file.

Every case plants one or more unique canaries (private strings: secrets, user
and project names, paths, hosts, numbers) in a realistic message or field.
tests/privacy_corpus.py sends each case through the agent and through the
library's fallback path and reports `leaks: N of M`: a case leaks when any of
its canaries appears, case-insensitively, anywhere in the stored record.

Columns (TAB-separated; \\t \\n \\r \\\\ escaped in every column):
  category  field  home  cwd  value  canaries (separated by " | ")
field is the record field the value goes into: error_data (tool_call),
message_head, location, thread, backtrace (panic), name (tool_call), type
(use_command), server_name (mcp_connect), invite_code (login_success),
error_kind (tool_call), or an envelope string (account_id, provider,
provider_host, model, surface, turn_id, app_version, locale).
"""
import base64
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(HERE, "leak_canaries.tsv")

R = random.Random(20261204)
VOCAB = set()
for name in os.listdir(os.path.join(ROOT, "proto", "vocab")):
    if name.endswith(".txt"):
        with open(os.path.join(ROOT, "proto", "vocab", name),
                  encoding="utf-8") as f:
            for line in f:
                line = line.strip().lower()
                if line and not line.startswith("#"):
                    VOCAB.add(line)
USED = set()
CASES = []

CONS = "bcdfghjklmnprstvwxz"
VOW = "aeiou"
ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
HEX = "0123456789abcdef"


def uniq(s):
    key = s.lower()
    if key in USED or key in VOCAB:
        return None
    USED.add(key)
    return s


def word(n=3, digits=0):
    """A pronounceable word no list has: a name, a project, a host label."""
    while True:
        w = "".join(R.choice(CONS) + R.choice(VOW) for _ in range(n))
        w = w[:-1] + R.choice("kxzqv")
        if digits:
            w += "".join(R.choice("0123456789") for _ in range(digits))
        if uniq(w):
            return w


def cap(w):
    return w[0].upper() + w[1:]


def rnd(n, alphabet=ALNUM):
    while True:
        s = "".join(R.choice(alphabet) for _ in range(n))
        if uniq(s):
            return s


def digits(n):
    while True:
        s = str(R.randint(1, 9)) + "".join(R.choice("0123456789")
                                           for _ in range(n - 1))
        if uniq(s):
            return s


def add(cat, value, canaries, field="error_data", home="", cwd=""):
    CASES.append((cat, field, home, cwd, value, canaries))


# --- 1. credential token shapes ----------------------------------------
SHAPES = [
    lambda: "sk_live_" + rnd(24), lambda: "rk_live_" + rnd(24),
    lambda: "sk_test_" + rnd(24), lambda: "whsec_" + rnd(32),
    lambda: "hf_" + rnd(34), lambda: "npm_" + rnd(36),
    lambda: "pypi-AgEIcHlwaS5vcmc" + rnd(50),
    lambda: "SG." + rnd(22) + "." + rnd(43),
    lambda: "AC" + rnd(32, HEX), lambda: "SK" + rnd(32, HEX),
    lambda: "gldt-" + rnd(20), lambda: "glrt-" + rnd(20),
    lambda: "glsoat-" + rnd(20), lambda: "glpat-" + rnd(20),
    lambda: "xapp-1-A" + rnd(10, "0123456789ABCDEF") + "-" +
    digits(13) + "-" + rnd(64, HEX),
    lambda: "xoxb-" + digits(12) + "-" + digits(13) + "-" + rnd(24),
    lambda: "GOCSPX-" + rnd(28), lambda: "ya29.a0" + rnd(60),
    lambda: "dop_v1_" + rnd(64, HEX), lambda: "hvs.CAESI" + rnd(24),
    lambda: "ATATT3xFfGF0" + rnd(40),
    lambda: rnd(3) + "8Q~" + rnd(31, ALNUM + "_.-"),
    lambda: rnd(40, ALNUM + "/+"),
    lambda: "AKIA" + rnd(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
    lambda: "ghp_" + rnd(36), lambda: "github_pat_11" + rnd(70),
    lambda: "sk-proj-" + rnd(48), lambda: "sk-ant-api03-" + rnd(80),
    lambda: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOi" + rnd(20) + "." + rnd(43),
    lambda: base64.b64encode(("%s:%s" % (word(3), rnd(12))).encode()
                             ).decode(),
]
TOKEN_MSGS = [
    "Stripe error: Invalid API Key provided: {}",
    "request failed: 401 Unauthorized (token {} revoked)",
    "export TOKEN_VALUE {} && retry",
    "curl -H 'X-Token {}' failed",
    "{}",
    "Traceback: huggingface_hub.errors: invalid token {}",
    "error: remote rejected key {} for this repository",
    "webhook signature check failed with secret {}",
]
for i in range(64):
    tok = SHAPES[i % len(SHAPES)]()
    add("token-shape", R.choice(TOKEN_MSGS).format(tok), [tok])
for kind in ["RSA PRIVATE KEY", "OPENSSH PRIVATE KEY", "EC PRIVATE KEY",
             "PGP PRIVATE KEY BLOCK", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY"]:
    body = [rnd(64, ALNUM + "+/") for _ in range(3)]
    pem = "-----BEGIN %s-----\n%s\n-----END %s-----" % (kind, "\n".join(body),
                                                       kind)
    add("pem", "failed to parse key: " + pem, body)
    esc = pem.replace("\n", "\\n")
    body2 = [rnd(64, ALNUM + "+/") for _ in range(2)]
    esc2 = "-----BEGIN %s-----\\n%s\\n-----END %s-----\\n" % (
        kind, "\\n".join(body2), kind)
    add("pem", '{"type":"service_account","private_key":"%s"}' % esc2, body2)
    add("pem", "key:\n" + pem.split("-----END")[0], body)

# --- 2. credential keys, in any language and position ------------------
KEYS = [
    "SecretAccessKey={}", "AccountKey={}", "sig={}", "Cookie: sid={}",
    "PGPASSWORD={} psql -h db", "MYSQL_PWD={} mysql", "DB_PASS={}",
    "passphrase: {}", "SECRET_KEY_BASE={}", "client_secret={}",
    "x-api-key: {}", "X-Auth-Token: {}", "private_token={}",
    "access_token={}&expires_in=3600", '{{"refresh_token":"{}"}}',
    '{{"password": "{}", "user": "x"}}', "password: {}", "Password={}",
    "<password>{}</password>", "<Password>{}</Password>",
    "<secret>{}</secret>", "--password {}", "--pass={}", "--token {}",
    "-p'{}'", "sshpass -p {} ssh host", "redis-cli -a {} ping",
    "mysql -u root -p{} db", "Authorization: Basic {}",
    "Authorization: token {}", "Authorization: Bearer {}",
    "PROXY_AUTHORIZATION=Bearer {}", "machine api.example.com login x "
    "password {}", "*:*:*:*:{}", "localhost:5432:*:*:{}",
    "\u5bc6\u7801\uff1a{}", "\u5bc6\u7801={}", "\u30d1\u30b9\u30ef\u30fc"
    "\u30c9\uff1d{}", "\ube44\ubc00\ubc88\ud638: {}",
    "\u043f\u0430\u0440\u043e\u043b\u044c: {}", "contrase\u00f1a={}",
    "Passwort: {}", "mot de passe : {}", "wachtwoord={}", "api_key: {}",
    "apiKey: '{}'", "secretKey = \"{}\"", "AWS_SECRET_ACCESS_KEY={}",
    "GITHUB_TOKEN={}", "HF_TOKEN={}", "NPM_TOKEN={}",
]
for i, k in enumerate(KEYS):
    s = rnd(12 + i % 9)
    add("credential-key", "error: " + k.format(s), [s])
    # a secret made of ordinary words is not kept either
    a, b, c = R.sample(["tango", "lemon", "viper", "orbit", "maple", "quartz",
                        "falcon", "harbor", "velvet", "copper", "meadow",
                        "saddle"], 3)
    phrase = "%s %s %s" % (cap(a), b, c)
    if uniq(phrase) and ("{}'" in k or '"{}"' in k or "{}<" in k or
                         k.endswith(": {}") or k.endswith("\uff1a{}")):
        add("credential-key", k.format(phrase), [phrase])
for _ in range(8):
    u, p, h = word(2), rnd(10), word(3)
    add("credential-key", "curl -u %s:%s https://%s.example/" % (u, p, h),
        [u + ":" + p, p])
    add("credential-key", "sqlplus %s/%s@//%s.corp:1521/orcl" % (u, p, h),
        [p, h + ".corp"])

# --- 3. text a word-boundary rule would miss ---------------------------
BOUNDARY = [
    "\x1b[31m{}\x1b[0m", "\x1b[1;33mpassword={}\x1b[0m", "%22{}%22",
    "%22password%22%3A%22{}%22", "-I{}", "-L{}", "@{}", ":_authToken={}",
    "//registry.npmjs.org/:_authToken={}", '{{\\"token\\":\\"{}\\"}}',
    '{{\\"api_key\\":\\"x\\\\n{}\\"}}', "\\u001b[31m{}\\u001b[0m",
    "\\x1b[2K{}", "key%3D{}", "user%40{}", "<{}>", "({})", "[{}]",
    "'{}'", "`{}`", "{}\u3002", "\u300c{}\u300d", "\uff08{}\uff09",
]
for i in range(46):
    s = rnd(10) if i % 2 else word(3, 2)
    add("word-boundary", "failed: " + BOUNDARY[i % len(BOUNDARY)].format(s),
        [s])

# --- 4. paths of every form ---------------------------------------------
for i in range(8):
    u, proj = word(2), word(3)
    home = "/home/" + u if i % 2 == 0 else "/Users/" + cap(u)
    add("path", "panicked at %s/%s/src/main.rs:10:5" % (home, proj),
        [proj, u], "location", home, home + "/" + proj)
    add("path", "open %s/%s/notes.txt: denied" % (home, proj), [proj, u],
        "error_data", home, "/tmp")
    add("path", "cd: %s/Documents/%s: No such file or directory" % (home,
        proj), [proj, u], "error_data", home, "")
FORMS = [
    "~/projects/{}/src/lib.rs", "~{}/notes.txt", "$HOME/{}/x.py",
    "${{HOME}}/{}/run.sh", "%USERPROFILE%\\{}\\app.exe",
    "../../{}/config.json", "./packages/{}/index.js",
    "crates/{}/src/lib.rs:42:9", "src/{}/handler.go:88",
    "/srv/{}/deploy", "/opt/{}/bin/server", "/var/lib/{}/state.db",
    "C:\\Users\\{}\\AppData\\x.txt", "D:\\work\\{}\\main.rs:3:1",
    "\"C:\\Program Files\\{} Corp\\app.exe\"",
    "'C:\\Users\\Jan {}\\My Projects\\x.rs'", "\\\\fileserver\\{}\\builds",
    "file:///home/u/{}/a.txt", "/mnt/data/{}/2024/report.pdf",
    "packages/{}/node_modules/.bin/tsc",
]
for i in range(60):
    s = word(3) if i % 3 else word(2, 2)
    msg = R.choice(["error: cannot open {}", "failed to read {}: "
                    "Permission denied", "No such file or directory: '{}'",
                    "at {}", "{}"])
    add("path", msg.format(FORMS[i % len(FORMS)].format(s)), [s])
for i in range(6):
    proj = word(3)
    add("path", "Failed to spawn MCP server: /srv/tools/%s-mcp" % proj,
        [proj + "-mcp", proj])
    add("path", "thread 'main' panicked at crates/%s/src/lib.rs:7:5" % proj,
        [proj], "message_head")
    add("path", "   3: %s::run\n             at crates/%s/src/run.rs:9:1"
        % (proj, proj), [proj], "backtrace")

# --- 5. git remotes, refs, branches --------------------------------------
for i in range(12):
    org, repo, br = word(2), word(3), word(2, 1)
    add("git", "git@github.com:%s/%s.git: Permission denied (publickey)"
        % (org, repo), [org, repo])
    add("git", "To gitlab.%s.corp:%s/%s.git\n ! [rejected] %s -> %s "
        "(fetch first)" % (word(2), org + "x", repo + "x", br, br),
        [org + "x", repo + "x", br])
    add("git", R.choice(["error: src refspec {} does not match any",
                         "error: pathspec '{}' did not match any file(s)",
                         "Switched to a new branch 'feature/{}'",
                         "fatal: couldn't find remote ref refs/heads/{}",
                         "branch '{}' set up to track 'origin/{}'."]
                        ).format(br + "z", br + "z"), [br + "z"])

# --- 6. addresses, hosts, user names ---------------------------------------
for i in range(14):
    ip4 = "%d.%d.%d.%d" % (R.choice([10, 172, 192, 100]), R.randint(0, 255),
                           R.randint(0, 255), R.randint(1, 254))
    ip6 = "2001:db8:%x:%x::%x" % (R.randint(1, 65535), R.randint(1, 65535),
                                  R.randint(1, 65535))
    host = word(2) + "-" + word(2) + ".corp.internal"
    add("ip-host", "connect ECONNREFUSED %s:5432" % ip4, [ip4])
    add("ip-host", "dial tcp [%s]:443: i/o timeout" % ip6, [ip6])
    add("ip-host", "getaddrinfo ENOTFOUND %s" % host, [host])
    add("ip-host", "request to http://%s:8080/api failed" % host, [host])
for i in range(10):
    u, h = word(2, 1), word(3)
    first, last = cap(word(2)), cap(word(3))
    add("user", "%s@%s:~/work$ make: *** [all] Error 2" % (u, h), [u, h])
    add("user", '[%s@%s ~]$ sudo ls' % (u + "a", h + "a"), [u + "a",
                                                            h + "a"])
    add("user", 'FATAL:  password authentication failed for user "%s"'
        % (u + "b"), [u + "b"])
    add("user", "ERROR 1045 (28000): Access denied for user '%s'@'localhost'"
        % (u + "c"), [u + "c"])
    add("user", 'ERROR:  role "%s" does not exist' % (u + "d"), [u + "d"])
    add("user", "sudo: %s is not in the sudoers file." % (u + "e"),
        [u + "e"])
    add("user", "LDAP bind failed: CN=%s %s,OU=Staff,DC=%s,DC=com"
        % (first, last, h + "x"), [first, last, h + "x"])
    add("user", "access denied for %s\\%s" % (h.upper() + "Y", u + "f"),
        [u + "f", h.upper() + "Y"])
    add("user", 'commit rejected: author "%s %s" <%s.%s@%s.com>'
        % (first + "o", last + "o", first.lower(), last.lower(), h + "z"),
        [first + "o", last + "o", h + "z"])
    add("user", "invite sent to %s%%40%s.io" % (u + "g", h + "g"),
        [u + "g", h + "g"])

# --- 7. envelope and payload strings --------------------------------------
for i in range(5):
    o, s, p = word(2), word(3), rnd(12)
    add("field", "user-%s" % s, [s], "account_id")
    add("field", "https://%s:%s@%s.corp.net/v1" % (o, p, s + "q"),
        [o, p, s + "q"], "provider_host")
    add("field", "%s.internal" % (s + "r"), [s + "r"], "provider_host")
    add("field", "turn-%s" % (s + "s"), [s + "s"], "turn_id")
    add("field", "ft:gpt-4o-2024-08-06:%s::%s" % (o + "t", rnd(8)),
        [o + "t"], "model")
    add("field", "%s/llama-3-8b-instruct" % (o + "u"), [o + "u"], "model")
    add("field", "gpt-4o-%s" % (s + "v"), [s + "v"], "model")
    add("field", "%s-db" % (s + "w"), [s + "w"], "server_name")
    add("field", s + "x", [s + "x"], "server_name")
    add("field", "mcp__%s__query" % (s + "y"), [s + "y"], "name")
    add("field", "%s_deploy" % (s + "z"), [s + "z"], "name")
    add("field", "deploy-%s" % (o + "a"), [o + "a"], "type")
    add("field", o + "b", [o + "b"], "type")
    add("field", "%s_pipeline" % (o + "c"), [o + "c"], "surface")
    add("field", "%s-gateway" % (o + "d"), [o + "d"], "provider")
    add("field", "%s's laptop" % (o + "e"), [o + "e"], "locale")
    add("field", "1.2.3-%s" % (o + "f"), [o + "f"], "app_version")
    add("field", "%s code!" % (o + "g"), [o + "g"], "invite_code")
    add("field", "%s_failed" % (o + "h"), [o + "h"], "error_kind")
    add("field", "%s-worker-%d" % (o + "i", i), [o + "i"], "thread")

# --- 8. prompts, code, rows, numbers ---------------------------------------
for i in range(12):
    a, b, c = word(3), word(2, 1), word(3)
    add("prompt", "Prompt: please refactor the %s module so %s calls %s "
        "instead" % (a, b, c), [a, b, c])
    add("code", "error[E0425]: cannot find value `%s` in this scope\n  |\n"
        "4 |     let total = %s(%s);" % (a + "q", b + "q", c + "q"),
        [a + "q", b + "q", c + "q"])
    add("code", "SyntaxError: Unexpected token in const %s = require('%s')"
        % (a + "r", c + "r"), [a + "r", c + "r"])
    first, last = cap(word(2)), cap(word(3))
    mail = "%s.%s@%s.org" % (first.lower(), last.lower(), word(2))
    add("sql", "ERROR: duplicate key value violates unique constraint\n"
        "DETAIL: Key (email)=(%s) already exists." % mail, [mail])
    add("sql", "Failing row contains (%d, %s, %s, %s)." % (
        R.randint(1, 999), first + "x", last + "x", mail.replace("@", "x@")),
        [first + "x", last + "x", mail.replace("@", "x@")])
    add("sql", "INSERT INTO customers VALUES ('%s', '%s') failed" % (
        first + "y", last + "y"), [first + "y", last + "y"])
for i in range(14):
    g = [digits(4) for _ in range(4)]
    sep = R.choice([" ", "-", ""])
    card = sep.join(g)
    c = [card, "".join(g)] + [g[k] + sep + g[k + 1] for k in range(3)]
    add("number", R.choice(["card declined: {}", "payment for {} failed",
                            "{}"]).format(card), c)
    ssn = "%s-%s-%s" % (digits(3), digits(2), digits(4))
    add("number", "SSN %s rejected" % ssn, [ssn, ssn.replace("-", "")])
    ph = R.choice(["+1 (%s) %s-%s", "(%s) %s-%s", "%s.%s.%s", "+1 %s %s %s"]
                  ) % (digits(3), digits(3), digits(4))
    add("number", "SMS to %s failed" % ph, [ph])
    acct = digits(10)
    add("number", "account %s overdrawn" % acct, [acct])

# --- 9. words joined by zero-width characters, locales ----------------------
for i in range(8):
    a, b = R.sample(["tango", "lemon", "viper", "orbit", "maple", "quartz",
                     "falcon", "harbor", "velvet", "copper"], 2)
    zw = R.choice(["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"])
    add("zero-width", "session for %s%s%s expired" % (a, zw, b), [a + zw + b])
    w = word(2)
    add("field", "%s-%s" % (w, R.choice(["US", "CN", "DE"])), [w], "locale")


def esc(s):
    return (s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r"))


def main():
    with open(OUT, "w", encoding="utf-8") as f:
        f.write("# Canary leak corpus: generated by tests/data/mkleaks.py "
                "(do not edit).\n")
        f.write("# category\tfield\thome\tcwd\tvalue\tcanaries (' | ')\n")
        for c in CASES:
            f.write("\t".join([c[0], c[1], esc(c[2]), esc(c[3]), esc(c[4]),
                               esc(" | ".join(c[5]))]) + "\n")
    cats = {}
    for c in CASES:
        cats[c[0]] = cats.get(c[0], 0) + 1
    print("%d cases: %s" % (len(CASES), ", ".join(
        "%s %d" % kv for kv in sorted(cats.items()))))


if __name__ == "__main__":
    main()
