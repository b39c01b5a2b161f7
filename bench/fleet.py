#!/usr/bin/env python3
"""Bundles per second: the doctor over a generated fleet, sequentially and on 2 local workers.

    python bench/fleet.py [--bundles 600] [--rounds 3] [--out bench/results/fleet.md]

One run measures both, alternating rounds so that load from elsewhere hits both alike:

- sequential: :func:`minfree.fleet.run.run_sequential` in this process;
- Dask: :func:`minfree.fleet.run.run_dask` on a ``LocalCluster`` of 2 single-threaded worker
  processes (started once; its start-up time is reported separately).

Both are warmed first (imports, first parse) on a few bundles outside the timing. The fleet
comes from ``tools/make_fleet.py`` (real fixtures, a third with planted failure logs). The
end-to-end CLI (``minfree fleet --workers 0`` and ``--workers 2``, cold processes, cluster
start-up included) is timed once each as well. Target: Dask rate >= 1.7 x sequential.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Python puts this script's folder first on sys.path, where bench/inspect.py would shadow the
# standard library's inspect module (dask imports it).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import importlib.util  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
TARGET = 1.7


def load_generator():
    spec = importlib.util.spec_from_file_location("make_fleet", REPO / "tools" / "make_fleet.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def burn(n: int) -> int:
    """Pure-Python CPU work with no I/O: the control for how parallel the machine is now."""
    total = 0
    for i in range(n):
        total += i * i
    return total


def machine_parallelism(rounds: int = 3, n: int = 2_000_000) -> float:
    """Speed-up of 2 processes over 1 on pure CPU work, right now (median of rounds)."""
    from multiprocessing import get_context

    ratios = []
    with get_context("spawn").Pool(2) as pool:
        pool.map(burn, [10, 10])
        for _ in range(rounds):
            t0 = time.perf_counter()
            burn(n)
            burn(n)
            one = time.perf_counter() - t0
            t0 = time.perf_counter()
            pool.map(burn, [n, n])
            ratios.append(one / (time.perf_counter() - t0))
    return statistics.median(ratios)


def workers_cpu_seconds(client) -> float:
    """User + system CPU seconds used so far by every worker process of ``client``."""
    return sum(client.run(lambda: sum(os.times()[:2])).values())


def cli_seconds(args: list[str]) -> float:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "minfree", "fleet", *args, "--json"],
                            capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(result.stderr)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundles", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "fleet.md"))
    args = parser.parse_args()

    from dask.distributed import Client

    from minfree.fleet.discover import discover_bundles
    from minfree.fleet.run import local_cluster, run_dask, run_sequential

    load_start = os.getloadavg()
    control_start = machine_parallelism()
    with tempfile.TemporaryDirectory(prefix="minfree-bench-fleet-") as tmp:
        folder = Path(tmp) / "fleet"
        t0 = time.perf_counter()
        load_generator().build(folder, args.bundles + 40, seed=11)
        generated = time.perf_counter() - t0
        bundles = discover_bundles([str(folder)])
        warm, timed = bundles[:40], bundles[40:]

        t0 = time.perf_counter()
        cluster = local_cluster(2)
        client = Client(cluster)
        startup = time.perf_counter() - t0
        try:
            run_sequential(warm)
            run_dask(warm, client=client, batch_size=1)  # every worker imports and parses
            seq_rates, dask_rates = [], []
            seq_cpu, worker_cpu, client_cpu = [], [], []
            reference = None
            for _ in range(args.rounds):
                t0, c0 = time.perf_counter(), time.process_time()
                rows_seq = run_sequential(timed)
                seq_rates.append(len(timed) / (time.perf_counter() - t0))
                seq_cpu.append(time.process_time() - c0)
                w0, c0 = workers_cpu_seconds(client), time.process_time()
                t0 = time.perf_counter()
                rows_dask = run_dask(timed, client=client)
                dask_rates.append(len(timed) / (time.perf_counter() - t0))
                client_cpu.append(time.process_time() - c0)
                worker_cpu.append(workers_cpu_seconds(client) - w0)
                if rows_seq != rows_dask:
                    raise SystemExit("sequential and Dask rows differ")
                reference = rows_seq
        finally:
            client.close()
            cluster.close()
        cli_seq = cli_seconds([str(folder), "--workers", "0"])
        cli_dask = cli_seconds([str(folder), "--workers", "2"])
    load_end = os.getloadavg()
    control_end = machine_parallelism()

    seq, dsk = statistics.median(seq_rates), statistics.median(dask_rates)
    ratio = dsk / seq
    best = max(d / q for d, q in zip(dask_rates, seq_rates, strict=True))
    per100 = 100 / len(timed)
    errors = sum(1 for r in reference or () if r["error"])
    lines = [
        "# minfree fleet: bundles per second",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by `bench/fleet.py` on "
        f"{os.cpu_count()} CPUs (load average {load_start[0]:.1f} at start, "
        f"{load_end[0]:.1f} at end: other work shared the machine).",
        "",
        f"Fleet: {len(timed)} timed bundles from `tools/make_fleet.py` (real fixtures, folders, "
        f"tarballs and sosreport folders; {errors} unreadable), generated in {generated:.1f} s. "
        f"{args.rounds} alternating rounds, median shown; both warmed first.",
        "",
        "| mode | bundles/s (median) | rounds |",
        "|---|---:|---|",
        f"| sequential, in-process | {seq:.1f} | {', '.join(f'{r:.1f}' for r in seq_rates)} |",
        f"| Dask LocalCluster, 2 worker processes | {dsk:.1f} | "
        f"{', '.join(f'{r:.1f}' for r in dask_rates)} |",
        "",
        f"**Speed-up: {ratio:.2f}x** (median rates; best round {best:.2f}x; target >= "
        f"{TARGET}x): {'met' if ratio >= TARGET else 'NOT met'}.",
        "",
        "Control: 2 processes of pure-Python CPU work ran "
        f"{control_start:.2f}x (before) and {control_end:.2f}x (after) as fast as one "
        "process did the same work: the parallelism the machine offered during this run.",
        "",
        "CPU seconds per 100 bundles (median): sequential "
        f"{statistics.median(seq_cpu) * per100:.2f}; Dask workers "
        f"{statistics.median(worker_cpu) * per100:.2f} plus "
        f"{statistics.median(client_cpu) * per100:.2f} in the client and scheduler. When the "
        "workers use no more CPU per bundle than the sequential run, a speed-up below 2x "
        "means the two cores were not free (see the load average), not that work was added.",
        "",
        f"Cluster start-up (2 processes): {startup:.1f} s, paid once per `minfree fleet` run.",
        f"End to end, cold CLI processes over {len(bundles)} bundles: `--workers 0` "
        f"{cli_seq:.1f} s, `--workers 2` {cli_dask:.1f} s (start-up and worker imports "
        "included, so small fleets gain less).",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
