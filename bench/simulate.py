"""Benchmark of ``minfree simulate``: compiled buddy allocator vs the pure-Python reference,
the exact engine on a whole scenario, and a 20-point fast sweep.

    .venv/bin/python bench/simulate.py [--quick] [--write bench/results/simulate.md]

Prints, in one run:
1. the exact engine's allocator: page events per second (allocations plus frees of blocks)
   on the *same* operation sequence replayed by the pure-Python reference
   (``minfree.simulation.buddy_ref``) and by the compiled allocator, and their ratio; plus
   the compiled allocator's rate on a long random churn;
2. the exact engine on aerospike-classic (64 GiB host, 60 simulated seconds): page events
   per second of the whole simulation (actors, watermark checks, kswapd included);
3. the wall time of a 20-point fast sweep of aerospike-classic over 60 simulated seconds of a
   64 GiB host (one seed, one core), after compilation.

Targets: >= 5 M events/s on one core for the exact engine, >= 50x the reference, sweep < 10 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from minfree.simulation.buddy import BuddyArrays, buddy_churn, buddy_run_ops  # noqa: E402
from minfree.simulation.buddy_ref import ReferenceBuddy  # noqa: E402

ZONE_PAGES = 1 << 20  # 4 GiB of 4 KiB pages


def _op_sequence(n_ops: int, seed: int = 1) -> tuple[np.ndarray, float, int]:
    """Random alloc/free operations, generated *by running the reference* (timed)."""
    rng = np.random.default_rng(seed)
    ref = ReferenceBuddy([ZONE_PAGES])
    ops = np.zeros((n_ops, 4), dtype=np.int64)
    held: list[tuple[int, int]] = []
    orders = rng.integers(0, 4, size=n_ops)
    coins = rng.random(n_ops)
    picks = rng.random(n_ops)
    events = 0
    started = time.perf_counter()
    for i in range(n_ops):
        if held and (coins[i] < 0.5 or len(held) >= 50_000):
            k = int(picks[i] * len(held))
            pfn, order = held[k]
            held[k] = held[-1]
            held.pop()
            ref.free(0, pfn, order)
            ops[i] = (1, 0, order, pfn)
            events += 1
        else:
            order = int(orders[i])
            pfn = ref.alloc(0, order)
            ops[i] = (0, 0, order, -1)
            if pfn >= 0:
                held.append((pfn, order))
                events += 1
    return ops, time.perf_counter() - started, events


def bench_allocator(n_ops: int) -> dict[str, float]:
    ops, ref_s, events = _op_sequence(n_ops)
    warm = BuddyArrays.for_zones([ZONE_PAGES])
    buddy_run_ops(*warm.core, warm.zbase, warm.zsize, ops[:10], np.zeros(10, dtype=np.int64))
    arrays = BuddyArrays.for_zones([ZONE_PAGES])
    out = np.zeros(len(ops), dtype=np.int64)
    started = time.perf_counter()
    compiled_events = buddy_run_ops(*arrays.core, arrays.zbase, arrays.zsize, ops, out)
    exact_s = time.perf_counter() - started
    assert compiled_events == events, "compiled allocator diverged from the reference"
    churn_ops = 20_000_000
    arrays = BuddyArrays.for_zones([ZONE_PAGES])
    held = np.zeros(50_000, dtype=np.int64)
    buddy_churn(*arrays.core, arrays.zbase, arrays.zsize, 0, 1000, 3, 7, held)
    arrays = BuddyArrays.for_zones([ZONE_PAGES])
    started = time.perf_counter()
    churn_events = buddy_churn(*arrays.core, arrays.zbase, arrays.zsize, 0, churn_ops, 3, 7, held)
    churn_s = time.perf_counter() - started
    return {
        "ops": n_ops, "events": events, "reference_s": ref_s, "exact_s": exact_s,
        "reference_eps": events / ref_s, "exact_eps": events / exact_s,
        "ratio": (events / exact_s) / (events / ref_s),
        "churn_events": churn_events, "churn_s": churn_s, "churn_eps": churn_events / churn_s,
    }


def bench_exact_scenario(duration_s: float) -> dict[str, float]:
    from minfree.simulation.host import preset_host
    from minfree.simulation.run import simulate
    from minfree.simulation.scenario import load_scenario

    scenario = load_scenario("aerospike-classic")
    host = preset_host(scenario.host)
    simulate(host, scenario, duration_s=0.05, engine="exact")  # compile / load the cache
    started = time.perf_counter()
    run = simulate(host, scenario, duration_s=duration_s, engine="exact")
    wall = time.perf_counter() - started
    return {"duration_s": duration_s, "events": run.page_events, "wall_s": wall,
            "eps": run.page_events / wall, "failures": run.atomic_failures}


def bench_sweep(duration_s: float, points: int) -> dict[str, float]:
    from minfree.simulation.host import preset_host
    from minfree.simulation.run import simulate, sweep, sweep_values
    from minfree.simulation.scenario import load_scenario

    scenario = load_scenario("aerospike-classic")
    host = preset_host(scenario.host)
    started = time.perf_counter()
    simulate(host, scenario, duration_s=0.05, engine="fast")
    compile_s = time.perf_counter() - started
    values = sweep_values(32768, 1153434, points)
    started = time.perf_counter()
    result = sweep(host, scenario, values, seeds=(0,), duration_s=duration_s, engine="fast")
    wall = time.perf_counter() - started
    return {"points": len(values), "duration_s": duration_s, "wall_s": wall,
            "compile_or_cache_load_s": compile_s, "safe": result.safe_min_free_kbytes}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (smoke test)")
    parser.add_argument("--write", metavar="FILE", help="also write the results as Markdown")
    args = parser.parse_args()
    n_ops = 50_000 if args.quick else 300_000
    duration = 5.0 if args.quick else 60.0
    alloc = bench_allocator(n_ops)
    scenario = bench_exact_scenario(10.0 if args.quick else 60.0)
    sweep_result = bench_sweep(duration, 20)
    lines = [
        "# minfree simulate: benchmark",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; one core per measurement. "
        f"Command: `.venv/bin/python bench/simulate.py`.",
        "",
        "| measurement | result | target |",
        "|---|---|---|",
        f"| pure-Python reference buddy allocator, {alloc['ops']:,} random ops "
        f"({alloc['events']:,} page events) | {alloc['reference_eps'] / 1e6:.3f} M events/s | - |",
        f"| compiled (exact engine) allocator, same op sequence | "
        f"{alloc['exact_eps'] / 1e6:.1f} M events/s | >= 5 M events/s |",
        f"| ratio compiled / reference | {alloc['ratio']:.0f}x | >= 50x |",
        f"| compiled allocator, 20 M-op random churn inside numba | "
        f"{alloc['churn_eps'] / 1e6:.1f} M events/s | - |",
        f"| exact engine, aerospike-classic, 64 GiB host, {scenario['duration_s']:g} s simulated "
        f"({scenario['events']:,} page events incl. actors, checks, kswapd) | "
        f"{scenario['wall_s']:.1f} s wall, {scenario['eps'] / 1e6:.1f} M events/s | - |",
        f"| fast engine, 20-point sweep of aerospike-classic, 64 GiB host, "
        f"{sweep_result['duration_s']:g} s simulated each, one seed | "
        f"{sweep_result['wall_s']:.2f} s wall (compilation or cache load before: "
        f"{sweep_result['compile_or_cache_load_s']:.1f} s) | < 10 s |",
        "",
        f"Smallest safe min_free_kbytes found by that sweep: {sweep_result['safe']} kB.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        with open(args.write, "w", encoding="utf-8") as handle:
            handle.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
