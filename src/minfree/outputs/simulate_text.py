"""Plain-text rendering of ``minfree simulate`` results (one run, several seeds, a sweep).

Everything shown was computed by :mod:`minfree.simulation`; this module only lays it out.
Pages are shown with their size in MiB so an operator can compare with ``free -m``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from minfree.simulation.run import RunResult, SweepResult


def _mib(pages: int, page_size_bytes: int) -> str:
    return f"{pages * page_size_bytes / 1048576:.1f} MiB"


def _orders(by_order: dict[int, int]) -> str:
    return ", ".join(f"order {o}: {n}" for o, n in sorted(by_order.items())) or "none"


def render_run(run: RunResult, default_min_free_kbytes: int | None = None) -> str:
    """One run as a short report."""
    ps = run.page_size_bytes
    which = ""
    if default_min_free_kbytes is not None and run.min_free_kbytes == default_min_free_kbytes:
        which = " (the kernel's default for this host)"
    lines = [
        f"scenario {run.scenario} on {run.host} (kernel {run.release}), {run.engine} engine, "
        f"seed {run.seed}, {run.duration_s:g} s simulated in {run.wall_seconds:.2f} s",
        f"reserve: min_free_kbytes {run.min_free_kbytes}{which}, "
        f"watermark_scale_factor {run.watermark_scale_factor}",
        "",
        f"  {'zone':<16}{'managed':>10}{'min':>9}{'low':>9}{'high':>9}{'lowest free':>13}  reached",
    ]
    for z in run.zones:
        lowest = z.lowest_free_pages
        if lowest < z.min_pages:
            reached = "below min"
        elif lowest < z.low_pages:
            reached = "below low"
        elif lowest < z.high_pages:
            reached = "below high"
        else:
            reached = "stayed above high"
        lines.append(f"  {z.name:<16}{z.managed_pages:>10}{z.min_pages:>9}{z.low_pages:>9}"
                     f"{z.high_pages:>9}{lowest:>13}  {reached}")
    lines.append("  (pages)")
    lines.append("")
    if run.atomic_failures:
        first = f"{run.first_failure_s:.3f} s" if run.first_failure_s is not None else "-"
        lines.append(f"atomic allocation failures: {run.atomic_failures} "
                     f"({_orders(run.failures_by_order)}), first at {first}")
        if run.failures_by_actor:
            lines.append("  by source: " + ", ".join(
                f"{name} {count}" for name, count in run.failures_by_actor.items()))
        if run.failures_by_zone:
            lines.append("  by preferred zone: " + ", ".join(
                f"{name} {count}" for name, count in run.failures_by_zone.items()))
        if run.failures_order_caused:
            lines.append(f"  {run.failures_order_caused} of them for want of a free block of "
                         "the order (the watermark alone would have passed)")
        if run.atomic_failures_nowarn:
            lines.append(f"  {run.atomic_failures_nowarn} with __GFP_NOWARN (silent in the log)")
    else:
        lines.append(f"atomic allocation failures: none ({run.atomic_successes} atomic "
                     "allocations succeeded)")
    lines.append(f"direct reclaim stalls: {run.direct_reclaim_stalls} "
                 f"({run.stall_seconds:.3f} s stalled in total)")
    if run.blocking_failures:
        lines.append(f"blocking allocations that reclaim could not satisfy: {run.blocking_failures}")
    lines.append(f"kswapd: busy {run.kswapd_busy_s:.2f} s, woken {run.kswapd_wakes} times, "
                 f"reclaimed {_mib(run.kswapd_reclaimed_pages, ps)}; "
                 f"watermark boosts: {run.boost_events}")
    if run.compaction_enabled:
        moved = "migrated" if run.engine == "exact" else "moved (count-level stand-in)"
        lines.append(f"kcompactd: woken {run.compaction_wakes} times, "
                     f"{run.compaction_pages_migrated} pages {moved}, "
                     f"{run.compaction_scanned_pages} pages scanned; zones compacted to a "
                     f"block of the wanted order: {run.compaction_successes}, scanners met "
                     f"without one: {run.compaction_failures}, not suitable: "
                     f"{run.compaction_skipped}")
    lines.append(f"held back by the reserve: {_mib(run.reserve_high_pages, ps)} "
                 f"(sum of high watermarks; min {_mib(run.reserve_min_pages, ps)})")
    if run.packets_dropped_by_nic:
        lines.append(f"packets dropped by the NIC ring (before any allocation): "
                     f"{run.packets_dropped_by_nic}")
    return "\n".join(lines)


def render_runs(runs: Sequence[RunResult], default_min_free_kbytes: int | None = None) -> str:
    return "\n\n".join(render_run(r, default_min_free_kbytes) for r in runs)


def render_sweep(result: SweepResult) -> str:
    """A table of the swept values and the smallest safe reserve."""
    lines = [
        f"scenario {result.scenario} on {result.host}, {result.engine} engine, "
        f"seeds {', '.join(str(s) for s in result.seeds)}; "
        f"{len(result.points)} values in {result.wall_seconds:.1f} s",
        f"kernel default min_free_kbytes for this host: {result.default_min_free_kbytes}",
        "",
        f"  {'min_free_kbytes':>16}{'MiB':>9}{'failures max':>14}{'mean':>10}"
        f"{'stalls':>9}{'stall s':>9}  verdict",
    ]
    for p in result.points:
        verdict = "safe" if p.safe else "failures"
        lines.append(f"  {p.min_free_kbytes:>16}{p.min_free_kbytes / 1024:>9.0f}"
                     f"{p.max_failures:>14}{p.mean_failures:>10.1f}{p.mean_stalls:>9.1f}"
                     f"{p.mean_stall_seconds:>9.3f}  {verdict}")
    lines.append("")
    safe = result.safe_min_free_kbytes
    if safe is None:
        lines.append("no swept value was safe in every seed: sweep higher")
    else:
        margin = result.margin_kbytes
        tail = (f"; the next value down failed, so the answer is within {margin} kB"
                if margin is not None else "; every swept value was safe: sweep lower")
        lines.append(f"smallest safe min_free_kbytes: {safe} kB ({safe / 1024:.0f} MiB), zero "
                     f"atomic failures in every seed{tail}")
    return "\n".join(lines)
