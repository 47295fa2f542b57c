#!/usr/bin/env bash
# Checks the mixin: rule syntax, alert and recording-rule unit tests, the
# dashboard JSON (up to date with its generator), and that every metric the
# rules and the dashboard use is one the exporter produces against the real
# Kamailio (e2e/testdata/*/families.golden), a recording rule, or "up"; and
# that the input series of the tests on uac, DMQ, keepalive and module memory
# are series the e2e tests scraped (testdata/*.prom, saved by e2e -update).
set -euo pipefail
dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$dir"
promtool check rules alerts.yml rules.yml
promtool test rules tests.yml
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp dashboards/kamailio.json "$tmp/committed.json"
python3 dashboards/generate.py
if ! cmp -s dashboards/kamailio.json "$tmp/committed.json"; then
  cp "$tmp/committed.json" dashboards/kamailio.json
  echo "dashboards/kamailio.json is not what generate.py produces: run python3 mixin/dashboards/generate.py" >&2
  exit 1
fi
python3 - "$dir"/../e2e/testdata/*/families.golden <<'PY'
import json, re, sys
if len(sys.argv) < 2:
    sys.exit("no e2e/testdata/<release>/families.golden")
# A metric of some releases only (6.1's DMQ fail_count) may be used.
known = set.union(*({line.split()[0] for line in open(f) if line.strip()} for f in sys.argv[1:]))
exprs = []
for f in ("alerts.yml", "rules.yml"):
    exprs += re.findall(r"^\s+expr: (.*(?:\n\s{10,}.*)*)", open(f).read(), re.M)
records = set(re.findall(r"record: (\S+)", open("rules.yml").read()))
d = json.load(open("dashboards/kamailio.json"))
exprs += [t["expr"] for p in d["panels"] for t in p["targets"]]
bad = set()
for e in exprs:
    e = re.sub(r'"[^"]*"', '""', e)  # drop label values
    for name in re.findall(r"\b(kamailio[a-z0-9_:]*|up)\b(?!\s*\()", e):
        if name not in known and name not in records and name != "up":
            bad.add(name)
if bad:
    sys.exit("unknown metrics in the mixin: " + ", ".join(sorted(bad)))
print(f"mixin: {len(exprs)} expressions use only exported metrics")
PY
python3 - testdata/*.prom <<'PY'
import re, sys
def key(name, labels):
    pairs = re.findall(r'(\w+)="([^"]*)"', labels)
    # The loopback addresses depend on the KAMAILIO_ADDR of the e2e run that saved them.
    return name + "{" + ",".join(sorted(f'{k}="{re.sub(r"127[.][0-9.]+", "127.x", v)}"' for k, v in pairs if k not in ("instance", "job"))) + "}"
scraped = set()
for f in sys.argv[1:]:
    for line in open(f):
        m = re.match(r"(kamailio_\w+)\{(.*)\} \S+$", line)
        if m:
            scraped.add(key(m[1], m[2]))
n, missing = 0, []
for m in re.finditer(r"series: '((kamailio_(?:uac|dmq|keepalive|module)_\w+)\{(.*?)\})'", open("tests.yml").read()):
    n += 1
    if key(m[2], m[3]) not in scraped:
        missing.append(m[1])
if missing or n == 0:
    sys.exit("tests.yml input series not scraped by the e2e tests (mixin/testdata/*.prom): " + ", ".join(missing))
print(f"mixin: the {n} input series of the uac, DMQ, keepalive and module memory tests were scraped by the e2e tests")
PY
echo "mixin OK"
