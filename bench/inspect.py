#!/usr/bin/env python3
"""Wall time of ``minfree inspect`` and ``minfree --help`` beside ``free -m`` and
``cat /proc/zoneinfo``, measured in the same run on this host.

Each command runs once untimed (warm page cache and .pyc files), then ``--runs`` times; the
median and the worst wall time of the child process are reported with the ratio to the
peers. Targets (issue 3): ``inspect`` under 0.3 s, ``--help`` under 0.15 s.

    .venv/bin/python bench/inspect.py              # writes bench/results/inspect.md
    .venv/bin/python bench/inspect.py --runs 5 --no-write
"""

from __future__ import annotations

import argparse
import os
import platform
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


def time_command(argv: list[str], runs: int) -> list[float]:
    """Wall seconds of ``runs`` executions (output discarded) after one untimed warm-up."""
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--no-write", action="store_true", help="do not write the results file")
    args = parser.parse_args()
    if not Path("/proc/zoneinfo").exists():
        print("bench/inspect.py needs a Linux host with /proc", file=sys.stderr)
        return 2

    load_before = os.getloadavg()[0]
    results: dict[str, tuple[float, float]] = {}
    for name, argv in commands().items():
        times = time_command(argv, args.runs)
        results[name] = (statistics.median(times), max(times))

    peers = [p for p in ("free -m", "cat /proc/zoneinfo") if p in results]
    lines = [
        "# `minfree inspect` speed",
        "",
        f"Host: {platform.node()} ({platform.release()}, {os.cpu_count()} CPUs), "
        f"Python {platform.python_version()}; {args.runs} timed runs per command after one "
        "warm-up, same run for every command. Wall time of the whole process. "
        f"1-minute load average {load_before:.1f} before and {os.getloadavg()[0]:.1f} after "
        "(the machine is shared; figures grow with the load).",
        "",
        "| command | median s | worst s | target s | " + " | ".join(f"x {p}" for p in peers) + " |",
        "|---|---:|---:|---:|" + "---:|" * len(peers),
    ]
    for name, (median, worst) in results.items():
        target = TARGETS.get(name)
        ratios = " | ".join(f"{median / results[p][0]:.1f}" for p in peers)
        lines.append(
            f"| `{name}` | {median:.3f} | {worst:.3f} | "
            f"{f'{target:.2f}' if target else '-'} | {ratios} |"
        )
    verdicts = []
    for name, target in TARGETS.items():
        median = results[name][0]
        verdicts.append(
            f"- `{name}`: median {median:.3f} s, target {target} s: "
            + ("met" if median < target else "**missed**")
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
