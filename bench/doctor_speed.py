#!/usr/bin/env python3
"""Wall time of ``minfree doctor`` (a command people run by hand on a troubled host).

In one run, for every scenario root under tests/fixtures/scenarios and for this host
(``--interval 0``: no wait for a second vmstat sample), times as separate processes:

* ``python -c 'import minfree'`` (interpreter start, the floor every command pays);
* ``cat`` of the same /proc-like files the doctor reads (the peer: reading the data by hand);
* ``minfree doctor --json``.

Prints median wall times over ``--repeat`` runs and writes bench/results/doctor.md.
Target: under 2 s for any scenario and for this host (doctor is interactive).

    .venv/bin/python bench/doctor_speed.py [--repeat 5] [--no-write]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = REPO / "tests" / "fixtures" / "scenarios"
PROC_FILES = ("proc/meminfo", "proc/zoneinfo", "proc/buddyinfo", "proc/pagetypeinfo",
              "proc/vmstat")


def timed(argv: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    py = sys.executable
    floor = timed([py, "-c", "import minfree"], args.repeat)
    rows = []
    targets = [(p.name, str(p)) for p in sorted(SCENARIOS.iterdir())
               if p.is_dir() and not p.name.startswith("_")]
    targets.append(("this host (live)", None))
    for name, root in targets:
        base = Path(root) if root else Path("/")
        files = [str(base / f) for f in PROC_FILES if (base / f).exists()]
        peer = timed(["cat", *files], args.repeat) if files else float("nan")
        argv = [py, "-m", "minfree", "doctor", "--json", "--interval", "0"]
        if root:
            argv += ["--root", root]
        doctor = timed(argv, args.repeat)
        rows.append((name, peer, doctor))
    lines = [
        "# minfree doctor: wall time",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; median of {args.repeat} runs; "
        f"`python -c 'import minfree'` = {floor * 1000:.0f} ms.",
        "",
        "| root | cat of the /proc files (peer) | minfree doctor --json | doctor minus interpreter start |",
        "|---|---|---|---|",
    ]
    for name, peer, doctor in rows:
        lines.append(f"| {name} | {peer * 1000:.1f} ms | {doctor * 1000:.0f} ms | "
                     f"{(doctor - floor) * 1000:.0f} ms |")
    worst = max(d for _, _, d in rows)
    lines += ["", f"Worst: {worst * 1000:.0f} ms (target: under 2000 ms) -> "
              f"{'met' if worst < 2.0 else 'NOT met'}.", ""]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        out = REPO / "bench" / "results" / "doctor.md"
        out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
