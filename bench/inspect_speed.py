#!/usr/bin/env python3
"""Wall and CPU time of ``minfree inspect`` and ``minfree --help`` beside ``free -m`` and
``cat /proc/zoneinfo``, measured in the same run on this host.

Each command runs once untimed (warm page cache and .pyc files), then ``--runs`` times; the
median and worst wall time and the median CPU time (user + system of the child) are
reported, with the ratio of wall times to the peers. Targets (issue 3): ``inspect`` under
0.3 s, ``--help`` under 0.15 s of wall time. CPU time is reported too because the machine is
shared: wall time grows with other processes' load, CPU time does not, and on an idle host
the two are close.

    .venv/bin/python bench/inspect_speed.py              # writes bench/results/inspect.md
    .venv/bin/python bench/inspect_speed.py --runs 5 --no-write
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "inspect.md"
TARGETS = {"minfree inspect": 0.3, "minfree --help": 0.15}


def _minfree() -> list[str]:
    script = Path(sys.executable).with_name("minfree")
    return [str(script)] if script.exists() else [sys.executable, "-m", "minfree"]


def commands() -> dict[str, list[str]]:
    out = {
        "minfree inspect": [*_minfree(), "inspect"],
        "minfree inspect --json": [*_minfree(), "inspect", "--json"],
        "minfree --help": [*_minfree(), "--help"],
        "cat /proc/zoneinfo": ["cat", "/proc/zoneinfo"],
    }
    if shutil.which("free"):
        out["free -m"] = ["free", "-m"]
    return out


def time_command(argv: list[str], runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of ``runs`` executions (output discarded) after a warm-up."""
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return walls, cpus


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--no-write", action="store_true", help="do not write the results file")
    args = parser.parse_args()
    if not Path("/proc/zoneinfo").exists():
        print("bench/inspect_speed.py needs a Linux host with /proc", file=sys.stderr)
        return 2

    load_before = os.getloadavg()[0]
    results: dict[str, tuple[float, float, float]] = {}
    for name, argv in commands().items():
        walls, cpus = time_command(argv, args.runs)
        results[name] = (statistics.median(walls), max(walls), statistics.median(cpus))
    load_after = os.getloadavg()[0]

    peers = [p for p in ("free -m", "cat /proc/zoneinfo") if p in results]
    header = "| command | median wall s | worst wall s | median CPU s | target s | "
    lines = [
        "# `minfree inspect` speed",
        "",
        f"Host: {platform.node()} ({platform.release()}, {os.cpu_count()} CPUs), "
        f"Python {platform.python_version()}; {args.runs} timed runs per command after one "
        "warm-up, every command in the same run. Wall time of the whole process; CPU is the "
        f"child's user + system time. 1-minute load average {load_before:.1f} before and "
        f"{load_after:.1f} after (the machine is shared: wall times grow with the load).",
        "",
        header + " | ".join(f"wall x {p}" for p in peers) + " |",
        "|---|---:|---:|---:|---:|" + "---:|" * len(peers),
    ]
    for name, (median, worst, cpu) in results.items():
        target = TARGETS.get(name)
        ratios = " | ".join(f"{median / results[p][0]:.1f}" for p in peers)
        lines.append(
            f"| `{name}` | {median:.3f} | {worst:.3f} | {cpu:.3f} | "
            f"{f'{target:.2f}' if target else '-'} | {ratios} |"
        )
    verdicts = []
    for name, target in TARGETS.items():
        median, _worst, cpu = results[name]
        verdict = "met" if median < target else "**missed** in wall time at this load"
        if median >= target and cpu < target:
            verdict += " (CPU time is within it)"
        verdicts.append(
            f"- `{name}`: median wall {median:.3f} s, CPU {cpu:.3f} s, target {target} s: {verdict}"
        )
    lines += ["", *verdicts, ""]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        tmp = RESULTS.with_suffix(".md.tmp")
        tmp.write_text(text)
        tmp.replace(RESULTS)
        print(f"wrote {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
