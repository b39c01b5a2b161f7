"""``/proc/vmstat`` counters, with the names of every era folded into one vocabulary.

Reclaim counters were renamed twice (kernel-facts §6.3): 2.6.32 had ``pgsteal_<zone>`` plus
``kswapd_steal``; 3.x-4.7 had ``pgsteal_{kswapd,direct}_<zone>`` and
``pgscan_{kswapd,direct}_<zone>`` and a single ``allocstall``; 4.8/4.9+ count reclaim per
node (``pgscan_kswapd``, ``pgsteal_direct`` ...) and stalls per zone (``allocstall_<zone>``).
The ``*_total`` properties return the host-wide figure whatever the era, and None when the
kernel does not have the counter at all (never 0 for "unknown").

>>> from minfree.parsers.vmstat import parse_vmstat
>>> old = parse_vmstat("allocstall 7\\npgscan_kswapd_dma 1\\npgscan_kswapd_normal 10\\n")
>>> new = parse_vmstat("allocstall_dma32 2\\nallocstall_normal 5\\npgscan_kswapd 11\\n")
>>> (old.allocstall_total, old.pgscan_kswapd_total), (new.allocstall_total, new.pgscan_kswapd_total)
((7, 11), (7, 11))
>>> new.compact_stall is None
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

#: Zone suffixes of per-zone vmstat counters (``zone_names`` in lowercase, ``high`` for
#: HighMem; ``mm/vmstat.c`` TEXTS_FOR_ZONES).
ZONE_SUFFIXES: tuple[str, ...] = ("dma", "dma32", "normal", "high", "movable", "device")


@dataclass(frozen=True)
class VmStat:
    """All counters by kernel name; see the module docstring for the era-neutral totals."""

    counters: Mapping[str, int] = field(default_factory=dict)

    def get(self, name: str) -> int | None:
        """One counter by its exact kernel name, or None when the kernel lacks it."""
        return self.counters.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self.counters

    def per_zone(self, prefix: str) -> dict[str, int]:
        """``{zone suffix: value}`` for counters named ``<prefix>_<zone>``."""
        out: dict[str, int] = {}
        for suffix in ZONE_SUFFIXES:
            value = self.counters.get(f"{prefix}_{suffix}")
            if value is not None:
                out[suffix] = value
        return out

    def _node_or_zone_sum(self, name: str) -> int | None:
        """``name`` itself (per-node era) or the sum of ``name_<zone>`` (older era)."""
        if name in self.counters:
            return self.counters[name]
        zones = self.per_zone(name)
        return sum(zones.values()) if zones else None

    @property
    def allocstall_total(self) -> int | None:
        """Direct-reclaim entries: ``allocstall`` (<= 4.7) or the sum of ``allocstall_<zone>``."""
        return self._node_or_zone_sum("allocstall")

    @property
    def pgscan_kswapd_total(self) -> int | None:
        return self._node_or_zone_sum("pgscan_kswapd")

    @property
    def pgscan_direct_total(self) -> int | None:
        return self._node_or_zone_sum("pgscan_direct")

    @property
    def pgsteal_kswapd_total(self) -> int | None:
        """Pages kswapd reclaimed; 2.6.32's ``kswapd_steal`` where that is all there is."""
        value = self._node_or_zone_sum("pgsteal_kswapd")
        if value is None:
            value = self.counters.get("kswapd_steal")
        return value

    @property
    def pgsteal_direct_total(self) -> int | None:
        """Pages reclaimed in direct reclaim; on 2.6.32, sum(pgsteal_<zone>) - kswapd_steal."""
        value = self._node_or_zone_sum("pgsteal_direct")
        if value is None:
            steal = self.per_zone("pgsteal")
            if steal and "kswapd_steal" in self.counters:
                value = max(0, sum(steal.values()) - self.counters["kswapd_steal"])
        return value

    @property
    def workingset_refault_total(self) -> int | None:
        """``workingset_refault`` (3.15-5.8) or ``_anon`` + ``_file`` (5.9+)."""
        if "workingset_refault" in self.counters:
            return self.counters["workingset_refault"]
        parts = [self.counters.get(f"workingset_refault_{k}") for k in ("anon", "file")]
        known = [p for p in parts if p is not None]
        return sum(known) if known else None

    # Plain counters, named so callers do not spell kernel names (None when absent).
    @property
    def compact_stall(self) -> int | None:
        return self.counters.get("compact_stall")

    @property
    def compact_fail(self) -> int | None:
        return self.counters.get("compact_fail")

    @property
    def compact_success(self) -> int | None:
        return self.counters.get("compact_success")

    @property
    def kswapd_low_wmark_hit_quickly(self) -> int | None:
        return self.counters.get("kswapd_low_wmark_hit_quickly")

    @property
    def kswapd_high_wmark_hit_quickly(self) -> int | None:
        return self.counters.get("kswapd_high_wmark_hit_quickly")

    @property
    def pageoutrun(self) -> int | None:
        return self.counters.get("pageoutrun")

    @property
    def drop_pagecache(self) -> int | None:
        return self.counters.get("drop_pagecache")

    @property
    def drop_slab(self) -> int | None:
        return self.counters.get("drop_slab")

    @property
    def oom_kill(self) -> int | None:
        return self.counters.get("oom_kill")

    @property
    def nr_free_pages(self) -> int | None:
        return self.counters.get("nr_free_pages")

    @property
    def pgscan_direct_throttle(self) -> int | None:
        return self.counters.get("pgscan_direct_throttle")

    @property
    def thp_fault_fallback(self) -> int | None:
        return self.counters.get("thp_fault_fallback")

    #: Names of the era-neutral figures :meth:`rates` reports.
    RATE_NAMES: tuple[str, ...] = (
        "pgscan_kswapd_total",
        "pgscan_direct_total",
        "pgsteal_kswapd_total",
        "pgsteal_direct_total",
        "allocstall_total",
        "compact_stall",
        "compact_fail",
        "compact_success",
        "kswapd_low_wmark_hit_quickly",
        "kswapd_high_wmark_hit_quickly",
        "drop_pagecache",
        "drop_slab",
        "oom_kill",
    )

    def delta(self, earlier: VmStat) -> dict[str, int]:
        """Counter increases since ``earlier`` for every name both samples have.

        A counter that went backwards (reboot, wrap) is left out rather than reported negative.
        """
        out: dict[str, int] = {}
        for name, value in self.counters.items():
            before = earlier.counters.get(name)
            if before is not None and value >= before:
                out[name] = value - before
        return out

    def rates(self, earlier: VmStat, seconds: float) -> dict[str, float | None]:
        """Per-second rates of :attr:`RATE_NAMES` between two samples (None when unknown)."""
        if seconds <= 0:
            raise ValueError("seconds must be positive")
        out: dict[str, float | None] = {}
        for name in self.RATE_NAMES:
            now, before = getattr(self, name), getattr(earlier, name)
            out[name] = (
                None if now is None or before is None or now < before else (now - before) / seconds
            )
        return out
