#!/usr/bin/env python3
"""Lambda power tuning, offline: each function's warm invocations under the CPU share
Lambda gives a memory size, and what a million requests would cost at each size.

Lambda gives a function CPU in proportion to its memory: 1 769 MB is one vCPU. Here a
cgroup v1 `cpu` controller does the same: a child cgroup per size with
`cpu.cfs_period_us` 100 000 and `cpu.cfs_quota_us` = 100 000 x size / 1 769 (128 MB:
7 236 us of CPU in every 100 ms). The release binary joins its cgroup before it starts
(so its cold start runs under the quota too), and the Runtime API stand-in of
tests/support hands it events one after another, as to one busy Lambda instance.

How faithful: the CPU share is Lambda's, but not the CPU (this x86_64 machine, not
Graviton), and the quota's period is a guess (Lambda does not publish one): back-to-back
invocations spend a period's quota in a burst and then wait for the next period, so
small sizes show that wait in their p99. Durations are round trips through the stand-in
(its own share, about 0.3 ms, is in every figure); Lambda bills each invocation's
duration rounded up to the millisecond. Memory itself is not limited (every function
here peaks under 10 MiB).

Prints per function and size: init, p50 and p99 duration, mean billed milliseconds, and
the cost of a million requests on arm64 (compute + request charge, at the price below);
then per function the size chosen: the cheapest whose p99 meets its target (the size
chosen before is kept while it meets the target and costs within 3% of the cheapest:
costs this flat move by that much between runs). Draws the
same as an SVG (duration and cost against memory size, a line per function).
Usage: bench/power_tuning.py --bin-dir target/release --database-url URL [--svg FILE]
(needs root: it creates cgroups under /sys/fs/cgroup/cpu)
"""

import argparse
import json
import math
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests/support"))
sys.path.insert(0, str(ROOT / "bench"))
from lambda_bench import PASSWORD, SECRET, percentile, user_with_tasks  # noqa: E402
from lambda_runtime import Function, event  # noqa: E402

SIZES_MB = [128, 256, 512, 1024, 1769]
ONE_VCPU_MB = 1769
PERIOD_US = 100_000
CGROUP_ROOT = Path("/sys/fs/cgroup/cpu")
# AWS Lambda on arm64 (Graviton), us-east-1, first pricing tier, as published on
# 2026-12-07: USD per GB-second of duration, and per million requests.
PRICE_GB_SECOND = 0.0000133334
PRICE_MILLION_REQUESTS = 0.20
# The targets a size must meet at p99: what a person waits for.
TASK_P99_MS = 50  # every task route, health and the docs
LOGIN_P99_MS = 400  # a login (bcrypt cost 10: about 70 ms of one vCPU)
# A size chosen before is kept while it meets its target and costs at most this much
# more than the cheapest (two runs of one size differ by about as much).
KEEP_WITHIN = 1.03


def cgroup(size_mb):
    path = CGROUP_ROOT / f"todo-bench-{size_mb}mb"
    path.mkdir(exist_ok=True)
    (path / "cpu.cfs_period_us").write_text(str(PERIOD_US))
    (path / "cpu.cfs_quota_us").write_text(str(round(PERIOD_US * size_mb / ONE_VCPU_MB)))
    return path


def cost_per_million(billed_ms, size_mb):
    return 1e6 * billed_ms / 1000 * size_mb / 1024 * PRICE_GB_SECOND + PRICE_MILLION_REQUESTS


def measure(binary, env, make, n, size_mb):
    """A fresh instance in `size_mb`'s cgroup: its init, then `n` warm invocations."""
    group = cgroup(size_mb)
    f = Function(binary, {**env, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(size_mb)}, cgroup=str(group))
    try:
        f.call(make())  # the first opens the pool's connection
        durations = []
        for _ in range(n):
            ms, response = f.call(make())
            assert response["statusCode"] < 400, response
            durations.append(ms)
    finally:
        f.stop()
    billed = statistics.fmean(math.ceil(ms) for ms in durations)
    return {"init": f.init_ms, "p50": percentile(durations, 50), "p99": percentile(durations, 99),
            "billed": billed, "cost": cost_per_million(billed, size_mb)}


def svg(results, path):
    """Two charts side by side, as Power Tuning draws them: p50 duration and the cost of a
    million requests against memory size, a line per function (log scales)."""
    colours = ["#1b6ac9", "#d9480f", "#2b8a3e", "#862e9c", "#e67700"]
    width, height, pad = 460, 300, 56
    total_width = 2 * width + 290
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_width}" height="{height + 40}" '
             'font-family="sans-serif" font-size="12">',
             f'<rect width="{total_width}" height="{height + 40}" fill="white"/>']

    def chart(x0, keys, title, unit):
        values = [r[key] for rows in results.values() for r in rows.values() for key in keys]
        low, high = math.log10(min(values) * 0.8), math.log10(max(values) * 1.25)
        plot_w, plot_h = width - pad - 10, height - 2 * pad

        def px(i):
            return x0 + pad + plot_w * i / (len(SIZES_MB) - 1)

        def py(v):
            return pad + plot_h * (1 - (math.log10(v) - low) / (high - low))

        parts.append(f'<text x="{x0 + pad}" y="24" font-size="14" font-weight="bold">{title}</text>')
        parts.append(f'<rect x="{x0 + pad}" y="{pad}" width="{plot_w}" height="{plot_h}" '
                     'fill="none" stroke="#999"/>')
        for i, size in enumerate(SIZES_MB):
            parts.append(f'<line x1="{px(i):.1f}" y1="{pad}" x2="{px(i):.1f}" y2="{pad + plot_h}" stroke="#eee"/>')
            parts.append(f'<text x="{px(i):.1f}" y="{pad + plot_h + 16}" text-anchor="middle">{size}</text>')
        parts.append(f'<text x="{x0 + pad + plot_w / 2}" y="{pad + plot_h + 34}" '
                     'text-anchor="middle">memory (MB)</text>')
        mantissas = (1, 2, 5) if high - low < 2.5 else (1,)
        for exponent in range(math.floor(low), math.ceil(high) + 1):
            for mantissa in mantissas:
                v = mantissa * 10 ** exponent
                if low <= math.log10(v) <= high:
                    parts.append(f'<line x1="{x0 + pad}" y1="{py(v):.1f}" x2="{x0 + pad + plot_w}" '
                                 f'y2="{py(v):.1f}" stroke="#eee"/>')
                    parts.append(f'<text x="{x0 + pad - 4}" y="{py(v) + 4:.1f}" text-anchor="end">'
                                 f'{v:g}</text>')
        parts.append(f'<text x="{x0 + 14}" y="{pad + plot_h / 2}" text-anchor="middle" '
                     f'transform="rotate(-90 {x0 + 14} {pad + plot_h / 2})">{unit}</text>')
        for colour, (name, rows) in zip(colours, results.items()):
            for key, dash in zip(keys, ("", ' stroke-dasharray="5 4"')):
                points = " ".join(f"{px(i):.1f},{py(rows[s][key]):.1f}" for i, s in enumerate(SIZES_MB))
                parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" '
                             f'stroke-width="2"{dash}/>')
                for i, s in enumerate(SIZES_MB):
                    parts.append(f'<circle cx="{px(i):.1f}" cy="{py(rows[s][key]):.1f}" r="3" '
                                 f'fill="{colour}"/>')

    chart(0, ("p50", "p99"), "Warm duration: p50 (solid), p99 (dashed)", "milliseconds (log)")
    chart(width, ("cost",), "Cost of a million requests, arm64", "USD (log)")
    for i, (colour, name) in enumerate(zip(colours, results)):
        y = 70 + 22 * i
        parts.append(f'<line x1="{2 * width + 10}" y1="{y}" x2="{2 * width + 34}" y2="{y}" '
                     f'stroke="{colour}" stroke-width="3"/>')
        parts.append(f'<text x="{2 * width + 40}" y="{y + 4}">{name}</text>')
    parts.append("</svg>")
    Path(path).write_text("\n".join(parts) + "\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin-dir", default=str(ROOT / "target/release"))
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--svg", default=str(ROOT / "bench/power-tuning.svg"))
    parser.add_argument("-n", type=int, default=300, help="warm invocations per size (auth: n / 20)")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--choice", default=str(ROOT / "bench/power-tuning.json"),
                        help="where the chosen sizes go (testkit/tests/workspace.rs holds "
                             "template.yaml to them)")
    args = parser.parse_args()
    if not os.access(CGROUP_ROOT, os.W_OK):
        print(f"power tuning needs a writable cgroup v1 cpu controller at {CGROUP_ROOT} (root)")
        return 1
    bins = Path(args.bin_dir)
    env = {"DATABASE_URL": args.database_url, "BETTER_AUTH_SECRET": SECRET, "BCRYPT_COST": "10"}

    name = f"tuning{os.getpid()}"
    bearer, tasks, one = user_with_tasks(bins, env, name)

    # One route per function: what it serves most.
    functions = {
        "auth: POST /api/auth/login": ("auth", lambda: event(
            "POST", "/api/auth/login", {"username": name, "password": PASSWORD}), LOGIN_P99_MS,
            max(args.n // 20, 10)),
        "tasks: GET /api/{user}/tasks": ("tasks", lambda: event("GET", tasks, None, bearer),
                                         TASK_P99_MS, args.n),
        "task: GET /api/{user}/tasks/{id}": ("task", lambda: event("GET", one, None, bearer),
                                             TASK_P99_MS, args.n),
        "complete: PATCH …/complete": ("complete", lambda: event("PATCH", f"{one}/complete", None, bearer),
                                      TASK_P99_MS, args.n),
        "docs: GET /api/health": ("docs", lambda: event("GET", "/api/health"), TASK_P99_MS, args.n),
    }
    results = {}
    for label, (binary, make, _, n) in functions.items():
        results[label] = {}
        for size in SIZES_MB:
            results[label][size] = measure(bins / binary, env, make, n, size)
            print(f"  measured {label} at {size} MB", file=sys.stderr)

    print()
    print(f"Power tuning: warm invocations one after another on one instance, under Lambda's CPU "
          f"share of each memory size (cgroup cpu quota, period {PERIOD_US // 1000} ms); cost "
          f"of a million requests on arm64 at USD {PRICE_GB_SECOND} per GB-s + "
          f"{PRICE_MILLION_REQUESTS} per million requests.")
    print()
    print("| function: route | memory MB | CPU share | init ms | p50 ms | p99 ms | billed ms (mean) | USD per million requests |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, rows in results.items():
        for size, r in rows.items():
            print(f"| {label} | {size} | {size / ONE_VCPU_MB:.3f} | {r['init']:.1f} | {r['p50']:.2f} | "
                  f"{r['p99']:.2f} | {r['billed']:.2f} | {r['cost']:.3f} |")
    print()
    print("| function | p99 target ms | chosen MemorySize | its p99 ms | its USD per million |")
    print("| --- | ---: | ---: | ---: | ---: |")
    chosen = {}
    current = json.loads(Path(args.choice).read_text())["MemorySize"] if Path(args.choice).exists() else {}
    for label, (binary, _, target, _) in functions.items():
        fits = [s for s in SIZES_MB if results[label][s]["p99"] <= target]
        best = min(fits, key=lambda s: (results[label][s]["cost"], s)) if fits else None
        # Costs here differ by a few percent between sizes, and so do two runs of the
        # same size: keep the current choice while it still meets its target and costs
        # within KEEP_WITHIN of the cheapest, so that noise does not move the template.
        kept = current.get(binary)
        if best is not None and kept in fits and \
                results[label][kept]["cost"] <= results[label][best]["cost"] * KEEP_WITHIN:
            best = kept
        chosen[binary] = best
        if best is None:
            print(f"| {binary} | {target} | none meets it | | |")
        else:
            r = results[label][best]
            print(f"| {binary} | {target} | {best} | {r['p99']:.2f} | {r['cost']:.3f} |")
    svg(results, args.svg)
    if all(chosen.values()):
        Path(args.choice).write_text(json.dumps(
            {"MemorySize": chosen, "p99_target_ms": {b: t for b, _, t, _ in functions.values()}},
            indent=1, sort_keys=True) + "\n")
    print(f"\nchart: {os.path.relpath(args.svg, ROOT)}")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "chosen": chosen}, indent=1))
    for group in CGROUP_ROOT.glob("todo-bench-*mb"):
        group.rmdir()
    return 0 if all(chosen.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
