#!/usr/bin/env python3
"""Check a page of `atomcode-telemetry view` (the file, or the DOM a browser
dumped after loading it) against what tests/view_fixture.py planted.

    view_check.py PAGE EXPECTED.json LABEL LAST [--no-csp]

LAST is the --last the page was made with (rows of the records table).

Prints "ok - ..." / "not ok - ..." lines (TAP-like, for tests/run.sh).
"""
import json
import re
import sys
from html.parser import HTMLParser

PLACEHOLDER = re.compile(r"^<[A-Za-z:._-]+>$")
TITLE = "AtomCode telemetry on this machine"
# Everything the page is made of; anything else got in through a value.
ALLOWED = {"html", "head", "meta", "title", "style", "body", "header", "main",
           "footer", "section", "h1", "h2", "p", "span", "b", "div", "table",
           "thead", "tbody", "tr", "th", "td", "code", "mark", "details",
           "summary", "svg", "g", "line", "rect", "text", "br"}
VOID = {"meta", "br", "line", "rect"}
URL_ATTRS = {"href", "src", "srcdoc", "action", "formaction", "xlink:href",
             "data", "poster", "background", "ping"}


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent = tag, dict(attrs), parent
        self.kids, self.text = [], []

    def classes(self):
        return (self.attrs.get("class") or "").split()

    def all_text(self):
        out = list(self.text)
        for k in self.kids:
            out.append(k.all_text())
        return "".join(out)

    def walk(self):
        yield self
        for k in self.kids:
            yield from k.walk()


class Tree(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", [], None)
        self.cur = self.root
        self.order = []  # text and children in document order

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.kids.append(n)
        self.cur.text.append("")  # keep order simple: text then kids
        if tag not in VOID:
            self.cur = n

    def handle_startendtag(self, tag, attrs):
        self.cur.kids.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.text.append(data)
        self.order.append(data)


def main():
    page = open(sys.argv[1], encoding="utf-8", errors="strict").read()
    exp = json.load(open(sys.argv[2]))
    label, last = sys.argv[3], int(sys.argv[4])
    no_csp = "--no-csp" in sys.argv[5:]  # the test removed it on purpose
    tail = exp["row_flags"][-last:] if last > 0 else []
    exp["rows"], exp["rows_reduced"] = len(tail), sum(tail)
    t = Tree()
    t.feed(page)
    nodes = list(t.root.walk())[1:]
    fails = []

    def check(desc, cond):
        print(("ok - " if cond else "not ok - ") + label + ": " + desc)
        if not cond:
            fails.append(desc)

    def by_id(i):
        for n in nodes:
            if n.attrs.get("id") == i:
                return n
        return None

    def text_of(i):
        n = by_id(i)
        return n.all_text().strip() if n is not None else None

    tags = {n.tag for n in nodes}
    check("only the page's own elements (got %s)" % sorted(tags - ALLOWED),
          tags <= ALLOWED)
    check("no script element", not any(n.tag == "script" for n in nodes))
    evh = [(n.tag, a) for n in nodes for a in n.attrs if a.startswith("on")]
    check("no event-handler attribute %s" % evh[:3], not evh)
    urls = [(n.tag, a) for n in nodes for a in n.attrs if a in URL_ATTRS]
    check("no URL-carrying attribute %s" % urls[:3], not urls)
    styles = [n for n in nodes if n.tag == "style"]
    check("one style element, in head",
          len(styles) == 1 and styles[0].parent.tag == "head")
    css = styles[0].all_text() if styles else ""
    check("the style loads nothing (no url(), no @import)",
          "url(" not in css and "@import" not in css)
    titles = [n for n in nodes if n.tag == "title" and
              n.parent.tag != "g"]
    check("title untouched (no script ran)",
          len(titles) == 1 and titles[0].all_text() == TITLE)
    check("nothing marked as executed", "PWNED" not in
          "".join(n.attrs.get("id", "") or "" for n in nodes))
    csp = [n for n in nodes if n.tag == "meta" and
           (n.attrs.get("http-equiv") or "").lower() ==
           "content-security-policy"]
    check("CSP forbids scripts", no_csp or len(csp) == 1 and "default-src 'none'" in
          csp[0].attrs.get("content", "") and "script-src" not in
          csp[0].attrs.get("content", ""))
    attrs_vals = [v for n in nodes for v in n.attrs.values() if v]
    check("no planted text inside an attribute",
          not any("PWNED" in v or "javascript:" in v for v in attrs_vals))

    def num(i):
        s = text_of(i)
        return int(s.replace(",", "")) if s and re.fullmatch(r"[\d,]+", s) \
            else None

    check("queued count %s" % num("n-queued"),
          num("n-queued") == exp["queued"])
    check("quarantined count %s" % num("n-quarantined"),
          num("n-quarantined") == exp["quarantined"])
    check("sent count %s" % num("n-sent"),
          num("n-sent") == exp["segments_sent"])
    check("evicted count", (text_of("drop-caps") or "").find(
        "{:,}".format(exp["dropped_caps"])) >= 0)
    check("reduced count %s" % text_of("n-reduced"),
          num("n-reduced") == exp["reduced"])

    table = by_id("records-table")
    rows = [n for n in table.walk() if n.tag == "tr" and
            "rec" in n.classes()] if table is not None else []
    check("records table rows %d == %d" % (len(rows), exp["rows"]),
          len(rows) == exp["rows"])
    red = [r for r in rows if "reduced" in r.classes()]
    check("rows marked reduced %d == %d" % (len(red), exp["rows_reduced"]),
          len(red) == exp["rows_reduced"])
    marks = [n for n in nodes if n.tag == "mark"]
    check("every mark is a placeholder",
          marks and all(PLACEHOLDER.match(m.all_text()) for m in marks))
    for r in red:
        if not any(n.tag == "mark" for n in r.walk()):
            check("a reduced row has a mark", False)
            break

    kinds = by_id("chart-kinds")
    bars = {}
    if kinds is not None:
        for g in kinds.walk():
            if g.tag == "g" and "bar" in g.classes():
                tt = [k for k in g.kids if k.tag == "title"]
                m = re.fullmatch(r"(.*): (\d+) events",
                                 tt[0].all_text() if tt else "", re.S)
                if m:
                    bars[m.group(1)] = int(m.group(2))
    want = dict(sorted(exp["kinds"].items(), key=lambda kv: (-kv[1], kv[0]))
                [:20])
    check("per-kind bars %s" % (bars == want and len(bars) or bars),
          bars == want)
    days = by_id("chart-days")
    dbars = {}
    if days is not None:
        for g in days.walk():
            if g.tag == "g" and "bar" in g.classes():
                tt = [k for k in g.kids if k.tag == "title"]
                m = re.fullmatch(r"(\d{4}-\d\d-\d\d): (\d+) events",
                                 tt[0].all_text() if tt else "")
                if m and int(m.group(2)) > 0:
                    dbars[m.group(1)] = int(m.group(2))
    check("per-day bars %s" % dbars, dbars == exp["days"])

    text = "".join(t.order)
    # Only a table that holds every queued line shows every planted value.
    missing = [p for p in exp["payloads"] if p not in text] \
        if last >= len(exp["row_flags"]) else []
    check("every planted string shown as text (%d missing: %s)" %
          (len(missing), missing[:2]), not missing)
    if exp.get("bad_name"):
        check("hostile file name shown as text", exp["bad_name"] in text)
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
