#!/usr/bin/env bash
# Cost per item by kind (issue 7): BenchmarkPerItem scrapes synthetic
# instances with 100, 1 000 and 10 000 dispatcher destinations, processes or
# statistics (only that kind's collectors running) and an empty one. For each
# kind this prints the marginal cost per item (the scrape minus the empty
# scrape, divided by the items), bytes and allocations per item, and the
# ratio of the largest to the smallest per-item cost across the range
# (target: within 1.5x). Medians over COUNT runs.
# Usage: scripts/bench-scale.sh [BENCHTIME=1s] [COUNT=3]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
benchtime=${1:-1s}
count=${2:-3}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
go test -run='^$' -bench='BenchmarkPerItem' -benchmem -benchtime="$benchtime" -count="$count" ./collector | tee "$out" | grep -E '^(ok|FAIL|---)' || true
python3 - "$out" <<'PY'
import collections, re, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    m = re.match(r'BenchmarkPerItem/(\w+)/(\S+?)-\d+\s+\d+\s+([\d.]+) ns/op.*?([\d.]+) B/op\s+([\d.]+) allocs/op', line)
    if m:
        runs[(m[1], m[2])].append((float(m[3]), float(m[4]), float(m[5])))
med = {k: tuple(statistics.median(r[i] for r in v) for i in range(3)) for k, v in runs.items()}
kinds = sorted({k for k, _ in med})
print(f"{'kind':12} {'items':>6} {'us/item':>9} {'B/item':>8} {'allocs/item':>11}")
worst = 0.0
for kind in kinds:
    base = med.get((kind, "empty"))
    if base is None:
        sys.exit(f"no empty run for {kind}")
    costs = []
    for n in (100, 1000, 10000):
        r = med.get((kind, f"n={n}"))
        if r is None:
            continue
        t, b, a = ((r[i] - base[i]) / n for i in range(3))
        costs.append(t)
        print(f"{kind:12} {n:>6} {t/1000:>9.2f} {b:>8.0f} {a:>11.2f}")
    if costs:
        ratio = max(costs) / min(costs)
        worst = max(worst, ratio)
        print(f"{kind:12} max/min per-item time across 100..10000: {ratio:.2f}")
print(f"worst ratio: {worst:.2f} (target <= 1.5)")
if len(next(iter(runs.values()))) < 2:
    print("(one run: a smoke test only; measure with the defaults, 1s x 3)")
PY
