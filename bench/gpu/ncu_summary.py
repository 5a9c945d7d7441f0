#!/usr/bin/env python3
"""bench/gpu/ncu_summary.py: per-kernel totals from `ncu --csv --page raw --metrics
gpu__time_duration.sum` output (bench/gpu/check.sh's profile phase), largest first.

    python3 bench/gpu/ncu_summary.py NCU.csv STEPS
"""
import csv
import sys
from collections import defaultdict


def main():
    path, steps = sys.argv[1], int(sys.argv[2])
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(f) if r and not r[0].startswith("==")]
    # The profiled program's own output shares the file: the table starts at ncu's header row.
    start = next((i for i, r in enumerate(rows) if "Kernel Name" in r and "gpu__time_duration.sum" in r), None)
    if start is None:
        sys.exit(f"ncu_summary.py: no row naming 'Kernel Name' and 'gpu__time_duration.sum' in {path}")
    rows = rows[start:]
    header = rows[0]
    name_col = header.index("Kernel Name")
    time_col = header.index("gpu__time_duration.sum")
    unit = rows[1][time_col] if len(rows) > 1 else ""
    scale = {"nsecond": 1e-6, "usecond": 1e-3, "msecond": 1.0, "ns": 1e-6, "us": 1e-3, "ms": 1.0}.get(unit, None)
    totals, counts = defaultdict(float), defaultdict(int)
    for r in rows[1:]:
        try:
            value = float(r[time_col].replace(",", ""))
        except (ValueError, IndexError):
            continue
        name = r[name_col]
        totals[name] += value * (scale if scale is not None else 1e-6)
        counts[name] += 1
    whole = sum(totals.values())
    print(f"# {path}: {sum(counts.values())} kernels, {whole / steps:.3f} ms of kernel time per step "
          f"(time unit in the file: {unit or 'unknown, read as ns'})")
    print(f"{'ms/step':>9} {'share':>6} {'calls/step':>10}  kernel")
    for name, t in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"{t / steps:9.3f} {100 * t / whole:5.1f}% {counts[name] / steps:10.1f}  {name[:160]}")


if __name__ == "__main__":
    main()
