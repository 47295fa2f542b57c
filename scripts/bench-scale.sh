#!/usr/bin/env bash
# Cost per item by kind (BENCHMARKS.md, "Other benchmarks"): BenchmarkPerItem scrapes synthetic
# instances with 100, 1 000 and 10 000 dispatcher destinations, processes or
# statistics (only that kind's collectors running) and an empty one. For each
# kind this prints the marginal cost per item (the scrape minus the empty
# scrape, divided by the items), bytes and allocations per item, and the
# ratio of the largest to the smallest per-item cost across the range
# (the cost per item should not grow with the instance). Medians over ROUNDS rounds.
#
# Each measurement runs in a process of its own, and a round measures every
# size of every kind in turn: a size measured after a larger one in the same
# process pays for the heap that one left (the runtime returns it to the
# system during the measurement), which made the 1 000-process figure 2x the
# isolated one; and the empty scrape it is subtracted from is measured
# minutes, not seconds, away.
# Usage: scripts/bench-scale.sh [BENCHTIME=1s] [ROUNDS=5]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
benchtime=${1:-1s}
rounds=${2:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/collector.test" ./collector
for _ in $(seq 1 "$rounds"); do
  for kind in destination process statistic; do
    for size in empty n=100 n=1000 n=10000; do
      # Run from the package directory, as go test does (test data paths).
      (cd collector && "$tmp/collector.test" -test.run='^$' -test.bench="^BenchmarkPerItem/$kind/$size\$" \
        -test.benchtime="$benchtime" -test.count=1 -test.benchmem) >>"$tmp/out" ||
        { cat "$tmp/out"; exit 1; }
    done
  done
done
python3 - "$tmp/out" "$rounds" <<'PY'
import collections, re, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    m = re.match(r'BenchmarkPerItem/(\w+)/(\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op.*?([\d.]+) B/op\s+([\d.]+) allocs/op', line)
    if m:
        runs[(m[1], m[2])].append((float(m[3]), float(m[4]), float(m[5])))
if len(runs) != 12:
    sys.exit(f"expected 12 benchmarks, parsed {len(runs)}")
if int(sys.argv[2]) < 2:
    # One short round (the test suite's): its differences of noisy
    # timings can be negative, and its ratio means nothing.
    print(f"smoke test: the {len(runs)} benchmarks ran; one round's figures are noise and are not printed"
          " (measure with the defaults, 1s x 5 rounds)")
    sys.exit(0)
med = {k: tuple(statistics.median(r[i] for r in v) for i in range(3)) for k, v in runs.items()}
kinds = sorted({k for k, _ in med})
print(f"{'kind':12} {'items':>6} {'us/item':>9} {'B/item':>8} {'allocs/item':>11}")
worst = 0.0
for kind in kinds:
    base = med[(kind, "empty")]
    costs = []
    for n in (100, 1000, 10000):
        r = med[(kind, f"n={n}")]
        t, b, a = ((r[i] - base[i]) / n for i in range(3))
        costs.append(t)
        print(f"{kind:12} {n:>6} {t/1000:>9.2f} {b:>8.0f} {a:>11.2f}")
    ratio = max(costs) / min(costs)
    worst = max(worst, ratio)
    print(f"{kind:12} max/min per-item time across 100..10000: {ratio:.2f}")
print(f"worst ratio: {worst:.2f} (target <= 1.5: {'met' if worst <= 1.5 else 'NOT met'})")
PY
