"""JSON for ``minfree simulate --json``.

Top level: ``scenario``, ``engine``, ``host``, ``runs[]`` and, for a sweep,
``safe_min_free_kbytes`` (null when no swept value was safe) with ``margin_kbytes``. Each run
has ``min_free_kbytes``, ``seed``, ``atomic_failures``, ``failures_by_order`` (order as a
string key), ``first_failure_s`` (null when none), ``direct_reclaim_stalls``,
``stall_seconds`` and ``lowest_free_pages`` per zone, plus the other figures of the text
report. Pages are pages of ``page_size_bytes``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from minfree.simulation.run import RunResult, SweepResult


def run_dict(run: RunResult) -> dict[str, Any]:
    return {
        "min_free_kbytes": run.min_free_kbytes,
        "watermark_scale_factor": run.watermark_scale_factor,
        "seed": run.seed,
        "duration_s": run.duration_s,
        "atomic_failures": run.atomic_failures,
        "atomic_failures_nowarn": run.atomic_failures_nowarn,
        "atomic_successes": run.atomic_successes,
        "failures_by_order": {str(k): v for k, v in sorted(run.failures_by_order.items())},
        "failures_by_zone": dict(run.failures_by_zone),
        "failures_by_source": dict(run.failures_by_actor),
        "failures_for_want_of_order": run.failures_order_caused,
        "first_failure_s": run.first_failure_s,
        "direct_reclaim_stalls": run.direct_reclaim_stalls,
        "stall_seconds": round(run.stall_seconds, 6),
        "first_stall_s": run.first_stall_s,
        "blocking_failures": run.blocking_failures,
        "kswapd_busy_s": round(run.kswapd_busy_s, 6),
        "kswapd_wakes": run.kswapd_wakes,
        "kswapd_reclaimed_pages": run.kswapd_reclaimed_pages,
        "direct_reclaimed_pages": run.direct_reclaimed_pages,
        "boost_events": run.boost_events,
        "compaction": {
            "enabled": run.compaction_enabled, "wakes": run.compaction_wakes,
            "pages_migrated": run.compaction_pages_migrated,
            "scanned_pages": run.compaction_scanned_pages,
            "successes": run.compaction_successes, "failures": run.compaction_failures,
            "skipped": run.compaction_skipped,
        },
        "lowest_free_pages": {z.name: z.lowest_free_pages for z in run.zones},
        "zones": [
            {"zone": z.name, "managed_pages": z.managed_pages, "min_pages": z.min_pages,
             "low_pages": z.low_pages, "high_pages": z.high_pages,
             "protection_pages": list(z.protection_pages),
             "lowest_free_pages": z.lowest_free_pages}
            for z in run.zones
        ],
        "reserve_high_pages": run.reserve_high_pages,
        "reserve_min_pages": run.reserve_min_pages,
        "page_events": run.page_events,
        "trace_digest": run.trace_digest(),
        "wall_seconds": round(run.wall_seconds, 4),
    }


def runs_json(runs: Sequence[RunResult], default_min_free_kbytes: int | None = None) -> str:
    first = runs[0]
    doc = {
        "scenario": first.scenario,
        "engine": first.engine,
        "host": first.host,
        "kernel": first.release,
        "page_size_bytes": first.page_size_bytes,
        "default_min_free_kbytes": default_min_free_kbytes,
        "runs": [run_dict(r) for r in runs],
    }
    return json.dumps(doc, indent=2)


def sweep_json(result: SweepResult) -> str:
    first = result.runs[0]
    doc = {
        "scenario": result.scenario,
        "engine": result.engine,
        "host": result.host,
        "kernel": first.release,
        "page_size_bytes": first.page_size_bytes,
        "default_min_free_kbytes": result.default_min_free_kbytes,
        "seeds": list(result.seeds),
        "runs": [run_dict(r) for r in result.runs],
        "safe_min_free_kbytes": result.safe_min_free_kbytes,
        "margin_kbytes": result.margin_kbytes,
        "wall_seconds": round(result.wall_seconds, 3),
    }
    return json.dumps(doc, indent=2)
