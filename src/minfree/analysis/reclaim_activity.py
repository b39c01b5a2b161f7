"""Reclaim and compaction activity between two ``/proc/vmstat`` samples.

``inspect --interval N`` reads vmstat twice and asks: is kswapd keeping up (pages scanned and
stolen per second, and how much of what it scans it reclaims), are tasks stalling in direct
reclaim (``allocstall``, direct scan/steal), is compaction stalling or failing, does kswapd
wake up only to find the low watermark met again at once (``kswapd_low_wmark_hit_quickly``:
the low-high gap is too small for the load), and did someone drop the page cache.

Counter names differ by era; :class:`~minfree.model.vmstat.VmStat` folds them, and a counter
this kernel lacks is reported as unavailable (never as 0).

>>> from minfree.parsers.vmstat import parse_vmstat
>>> a = parse_vmstat("pgscan_kswapd 1000\\npgsteal_kswapd 900\\nallocstall_normal 1\\n")
>>> b = parse_vmstat("pgscan_kswapd 3000\\npgsteal_kswapd 2500\\nallocstall_normal 5\\n")
>>> act = reclaim_activity(a, b, 2.0)
>>> act.rate("pgscan_kswapd"), act.rate("allocstall"), act.kswapd_efficiency
(1000.0, 2.0, 0.8)
>>> "compact_stall" in act.unavailable
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from minfree.model.vmstat import VmStat

#: (name shown, VmStat property, what it means), in display order.
ACTIVITY_COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("pgscan_kswapd", "pgscan_kswapd_total", "pages scanned by kswapd"),
    ("pgsteal_kswapd", "pgsteal_kswapd_total", "pages reclaimed by kswapd"),
    ("pgscan_direct", "pgscan_direct_total", "pages scanned in direct reclaim"),
    ("pgsteal_direct", "pgsteal_direct_total", "pages reclaimed in direct reclaim"),
    ("allocstall", "allocstall_total", "allocations that stalled in direct reclaim"),
    ("pgscan_direct_throttle", "pgscan_direct_throttle", "direct reclaimers throttled"),
    ("compact_stall", "compact_stall", "allocations that stalled in direct compaction"),
    ("compact_fail", "compact_fail", "direct compactions that failed"),
    ("compact_success", "compact_success", "direct compactions that succeeded"),
    (
        "kswapd_low_wmark_hit_quickly",
        "kswapd_low_wmark_hit_quickly",
        "kswapd woke and found the low watermark met at once",
    ),
    (
        "kswapd_high_wmark_hit_quickly",
        "kswapd_high_wmark_hit_quickly",
        "kswapd found the high watermark met at once",
    ),
    ("pageoutrun", "pageoutrun", "kswapd balancing runs"),
    ("drop_pagecache", "drop_pagecache", "writes of 1 or 3 to drop_caches"),
    ("drop_slab", "drop_slab", "writes of 2 or 3 to drop_caches"),
    ("oom_kill", "oom_kill", "OOM kills"),
    ("workingset_refault", "workingset_refault_total", "refaults of recently evicted pages"),
)


@dataclass(frozen=True)
class ReclaimActivity:
    """Counter increases and per-second rates over one interval.

    ``deltas`` and ``rates`` hold only the counters both samples have; ``unavailable``
    names the others (kernel lacks them); ``reset`` names counters that went backwards
    (reboot or wrap between the samples), which are left out.
    """

    seconds: float
    deltas: Mapping[str, int] = field(default_factory=dict)
    rates: Mapping[str, float] = field(default_factory=dict)
    unavailable: tuple[str, ...] = ()
    reset: tuple[str, ...] = ()

    def rate(self, name: str) -> float | None:
        return self.rates.get(name)

    def _ratio(self, steal: str, scan: str) -> float | None:
        scanned = self.deltas.get(scan)
        stolen = self.deltas.get(steal)
        if not scanned or stolen is None:
            return None
        return round(stolen / scanned, 3)

    @property
    def kswapd_efficiency(self) -> float | None:
        """Share of kswapd-scanned pages it reclaimed (None when it scanned nothing)."""
        return self._ratio("pgsteal_kswapd", "pgscan_kswapd")

    @property
    def direct_efficiency(self) -> float | None:
        return self._ratio("pgsteal_direct", "pgscan_direct")

    @property
    def direct_reclaim_seen(self) -> bool:
        return bool(self.deltas.get("allocstall") or self.deltas.get("pgscan_direct"))

    @property
    def compaction_failures_seen(self) -> bool:
        return bool(self.deltas.get("compact_fail"))

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 3),
            "counters": {
                name: {
                    "delta": self.deltas[name],
                    "per_second": round(self.rates[name], 3),
                    "meaning": meaning,
                }
                for name, _attr, meaning in ACTIVITY_COUNTERS
                if name in self.deltas
            },
            "kswapd_efficiency": self.kswapd_efficiency,
            "direct_efficiency": self.direct_efficiency,
            "unavailable": list(self.unavailable),
            "reset": list(self.reset),
        }


def reclaim_activity(earlier: VmStat, later: VmStat, seconds: float) -> ReclaimActivity:
    """Compare two samples taken ``seconds`` apart (``seconds`` must be positive)."""
    if seconds <= 0:
        raise ValueError(f"interval must be positive, got {seconds}")
    deltas: dict[str, int] = {}
    rates: dict[str, float] = {}
    unavailable: list[str] = []
    reset: list[str] = []
    for name, attr, _meaning in ACTIVITY_COUNTERS:
        before = getattr(earlier, attr)
        after = getattr(later, attr)
        if before is None or after is None:
            unavailable.append(name)
            continue
        if after < before:
            reset.append(name)
            continue
        deltas[name] = after - before
        rates[name] = (after - before) / seconds
    return ReclaimActivity(
        seconds=seconds,
        deltas=deltas,
        rates=rates,
        unavailable=tuple(unavailable),
        reset=tuple(reset),
    )
