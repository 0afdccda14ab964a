#!/usr/bin/env python3
"""Draws SVG bar charts (median, log scale) from criterion's output in target/criterion.

    python3 scripts/bench_charts.py [target/criterion] [docs/benchmarks]
    python3 scripts/bench_charts.py --markdown [target/criterion]   # median table, all groups
    python3 scripts/bench_charts.py --ratios [target/criterion]     # median and ratio to baseline

One chart per benchmark group whose name starts with W1, W3 or W5 (and the guard read
groups), one bar per contender and parameter. Standard library only.
"""
import json
import math
import os
import re
import sys
from xml.sax.saxutils import escape

PREFIXES = ("W1 ", "W3 ", "W5 ", "guard/read ")
COLORS = {"rowguard": "#2b7bba", "cedar": "#d95f02", "casbin": "#7570b3", "RLS": "#e7298a", "hand": "#66a61e"}


def color(name):
    for key, value in COLORS.items():
        if key in name:
            return value
    return "#888888"


def fmt(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def collect(root):
    groups = {}
    for dirpath, _, files in os.walk(root):
        if os.path.basename(dirpath) != "new" or "benchmark.json" not in files:
            continue
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            meta = json.load(f)
        with open(os.path.join(dirpath, "estimates.json")) as f:
            median = json.load(f)["median"]["point_estimate"]
        label = meta["function_id"] or ""
        if meta.get("value_str"):
            label = f"{label} [{meta['value_str']}]"
        groups.setdefault(meta["group_id"], []).append((label, median))
    return groups


# Each contender's baseline, measured in the same run and the same group (same parameter).
# The ratio is contender / baseline: below 1 means faster than the baseline.
BASELINES = {
    "rowguard read": "hand-written diesel",
    "hand-written diesel, boxed": "hand-written diesel",
    "RLS as deployed (BEGIN; SET LOCAL; query; COMMIT)": "hand-written diesel",
    "RLS bare (setting per session)": "hand-written diesel",
    "W6 pool checkout + rowguard read": "W6 pool checkout + hand-written",
    "rowguard update": "plain diesel update",
    "boxed diesel query": "static diesel query",
    "rowguard read (cached rule)": "static diesel query",
    "cedar-policy prebuilt request": "rowguard can",
    "cedar-policy request per call": "rowguard can",
    "casbin enforce": "rowguard can",
}
# Where a group names its hand-written baseline differently.
ALIASES = {"hand-written diesel": ["hand-written diesel (eq_any)"]}


def ratios(groups):
    lines = ["| group | benchmark | median | ratio | baseline |", "|---|---|---|---|---|"]
    for group, bars in sorted(groups.items()):
        by_label = dict(bars)
        for label, value in sorted(bars, key=order):
            name, _, param = label.partition(" [")
            param = f" [{param}" if param else ""
            base = None
            if name == "threads":  # W4: per-hit time against one thread
                base = "threads [1]"
            elif name in BASELINES:
                for candidate in [BASELINES[name]] + ALIASES.get(BASELINES[name], []):
                    if candidate + param in by_label:
                        base = candidate + param
                        break
            if base and base in by_label and base != label:
                ratio = f"{value / by_label[base]:.2f}"
                against = base.partition(" [")[0]
            else:
                ratio, against = "", ""
            lines.append(f"| {group} | {label} | {fmt(value)} | {ratio} | {against} |")
    return "\n".join(lines)


def order(bar):
    """By case (its parameter; [1100] after [10]), then contender: the contenders of one case
    stand side by side."""
    label = bar[0]
    name, _, param = label.partition(" [")
    number = re.fullmatch(r"(\d+)\]", param)
    return (int(number.group(1)) if number else 0, param, name)


def markdown(groups):
    lines = ["| group | benchmark | median |", "|---|---|---|"]
    for group, bars in sorted(groups.items()):
        for label, value in sorted(bars, key=order):
            lines.append(f"| {group} | {label} | {fmt(value)} |")
    return "\n".join(lines)


def chart(group, bars):
    bars = sorted(bars, key=order)
    width, bar_h, left = 900, 22, 360
    height = 50 + len(bars) * (bar_h + 6)
    top = max(b[1] for b in bars)
    low = min(b[1] for b in bars)
    lo, hi = math.log10(max(low / 2, 1e-3)), math.log10(top * 1.2)
    scale = lambda v: (math.log10(v) - lo) / (hi - lo) * (width - left - 120)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
           f'<text x="10" y="20" font-size="14" font-weight="bold">{escape(group)} (median, log scale)</text>']
    for i, (label, value) in enumerate(bars):
        y = 40 + i * (bar_h + 6)
        w = max(scale(value), 2)
        out.append(f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{escape(label)}</text>')
        out.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{color(label)}"/>')
        out.append(f'<text x="{left + w + 6:.1f}" y="{y + 15}">{escape(fmt(value))}</text>')
    out.append("</svg>")
    return "\n".join(out)


def main():
    if len(sys.argv) > 1 and sys.argv[1] in ("--markdown", "--ratios"):
        groups = collect(sys.argv[2] if len(sys.argv) > 2 else "target/criterion")
        print((markdown if sys.argv[1] == "--markdown" else ratios)(groups))
        return
    root = sys.argv[1] if len(sys.argv) > 1 else "target/criterion"
    dest = sys.argv[2] if len(sys.argv) > 2 else "docs/benchmarks"
    os.makedirs(dest, exist_ok=True)
    written = 0
    for group, bars in sorted(collect(root).items()):
        if not group.startswith(PREFIXES):
            continue
        name = re.sub(r"[^A-Za-z0-9]+", "-", group).strip("-").lower() + ".svg"
        with open(os.path.join(dest, name), "w") as f:
            f.write(chart(group, bars))
        print(f"{dest}/{name}: {len(bars)} bars")
        written += 1
    if not written:
        sys.exit(f"no benchmark groups starting with {PREFIXES} under {root}: run cargo bench first")


if __name__ == "__main__":
    main()
