#!/usr/bin/env python3
"""Draws the cost curves of `cargo bench --bench compare -- 'W14 curve'` as SVG charts.

Reads criterion's results (target/criterion/**/new/benchmark.json and estimates.json) for
every group whose name starts with "W14 curve", writes one chart per group to
docs/benchmarks/<group>.svg (log-log: the parameter against the median time, rowguard and
its hand-written baseline), and prints a Markdown table of the numbers with the ratio.
Standard library only. (scripts/bench_charts.py draws the bar charts of W1, W3 and W5.)

    python3 scripts/bench_curves.py [--criterion target/criterion] [--out docs/benchmarks]
"""

import argparse
import json
import math
import pathlib
import re
import sys
from collections import defaultdict

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]


def load(root):
    """{group: {function: {parameter: median ns}}} for the W14 groups."""
    curves = defaultdict(lambda: defaultdict(dict))
    for bench in root.glob("**/new/benchmark.json"):
        meta = json.loads(bench.read_text())
        group = meta.get("group_id", "")
        if not group.startswith("W14 curve"):
            continue
        estimates = json.loads((bench.parent / "estimates.json").read_text())
        value = meta.get("value_str")
        if value is None:
            continue
        curves[group][meta["function_id"]][int(value)] = estimates["median"]["point_estimate"]
    return curves


def human(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def count(n):
    return f"{n:,}"


def svg(group, series):
    width, height = 640, 400
    left, right, top, bottom = 80, 20, 40, 60
    xs = sorted({x for points in series.values() for x in points})
    ys = [y for points in series.values() for y in points.values()]
    x0, x1 = math.log10(min(xs)), math.log10(max(xs))
    y0, y1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y1 = y0 + 1

    def px(x):
        return left + (math.log10(x) - x0) / (x1 - x0) * (width - left - right)

    def py(y):
        return height - bottom - (math.log10(y) - y0) / (y1 - y0) * (height - top - bottom)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="14">{esc(group)}</text>',
    ]
    for e in range(int(y0), int(y1) + 1):
        y = py(10**e)
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{esc(human(10**e))}</text>')
    for x in xs:
        out.append(f'<line x1="{px(x):.1f}" x2="{px(x):.1f}" y1="{top}" y2="{height - bottom}" stroke="#eee"/>')
        out.append(f'<text x="{px(x):.1f}" y="{height - bottom + 16}" text-anchor="middle">{count(x)}</text>')
    out.append(f'<text x="{width / 2}" y="{height - 18}" text-anchor="middle">{esc(axis(group))} (log scale)</text>')
    out.append(f'<text x="16" y="{height / 2}" text-anchor="middle" transform="rotate(-90 16 {height / 2})">median time per call (log scale)</text>')
    for i, (name, points) in enumerate(sorted(series.items())):
        color = COLORS[i % len(COLORS)]
        path = " ".join(f"{px(x):.1f},{py(points[x]):.1f}" for x in sorted(points))
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}"/>')
        for x in sorted(points):
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(points[x]):.1f}" r="3" fill="{color}"/>')
        out.append(f'<rect x="{left + 10}" y="{top + 8 + 18 * i}" width="12" height="3" fill="{color}"/>')
        out.append(f'<text x="{left + 28}" y="{top + 14 + 18 * i}">{esc(name)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def axis(group):
    name = group.removeprefix("W14 curve ").split("/")[0].split(",")[0]
    return {"roles": "the subject's roles", "conditions": "conditions ORed in the rule",
            "list length": "values in the id list", "table rows": "rows in the table"}.get(name, name)


def esc(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slug(group):
    return re.sub(r"[^a-z0-9]+", "-", group.lower()).strip("-")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--criterion", default="target/criterion",
                        help="criterion's output directory (default: %(default)s)")
    parser.add_argument("--out", default="docs/benchmarks",
                        help="where the charts go, replacing files of the same name "
                             "(default: %(default)s, the committed charts)")
    args = parser.parse_args()
    curves = load(pathlib.Path(args.criterion))
    if not curves:
        sys.exit(f"no W14 results under {args.criterion}: run "
                 "cargo bench --features mysql --bench compare -- 'W14 curve' first")
    out = pathlib.Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        sys.exit(f"cannot write charts to {out}: {e.strerror}")
    for group in sorted(curves):
        series = curves[group]
        path = out / f"{slug(group)}.svg"
        path.write_text(svg(group, series))
        names = sorted(series)
        ours = next((n for n in names if n.startswith("rowguard")), None)
        # The baseline is the hand-written contender (each W14 group has exactly one).
        base = next((n for n in names if n.startswith("hand-written")), None)
        print(f"\n**{group}** ([chart]({path.as_posix()}))\n")
        print(f"| {axis(group)} | " + " | ".join(names) + " | rowguard ÷ baseline |")
        print("|---" * (len(names) + 2) + "|")
        for x in sorted({x for p in series.values() for x in p}):
            cells = [human(series[n][x]) if x in series[n] else "—" for n in names]
            ratio = (f"{series[ours][x] / series[base][x]:.2f}"
                     if ours and base and x in series[ours] and x in series[base] else "—")
            print(f"| {count(x)} | " + " | ".join(cells) + f" | {ratio} |")
    print(f"\nwrote {len(curves)} chart(s) to {out}/", file=sys.stderr)


if __name__ == "__main__":
    main()
