"""Everything the doctor knows about one host, gathered once: the input of the findings rules.

A :class:`Diagnosis` is assembled from the host snapshot (``/proc`` or a bundle), the scan of
the kernel logs, the boot-time sysctl resolution and, when there is one, a second
``/proc/vmstat`` sample. The findings rules (:mod:`minfree.analysis.findings`) and the
sizing rules (:mod:`minfree.recommend`) read only this structure, so they can be tested on
hand-checked values and on real fixtures alike. Whatever could not be read is listed in
``missing`` (a path or a check, and why) instead of raising: a partial bundle still gets a
diagnosis, with its blind spots named.

Assembly (:func:`assemble_diagnosis`) is the only part that touches the other layers'
objects; it adapts them into the small frozen types below so that a change in another
module's model breaks one adapter, not every rule.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from minfree.model.zone import Zone

log = logging.getLogger(__name__)

#: sysctl keys whose runtime value the doctor compares with what boot would apply.
WATCHED_SYSCTLS: tuple[str, ...] = (
    "vm.min_free_kbytes",
    "vm.watermark_scale_factor",
    "vm.watermark_boost_factor",
    "vm.swappiness",
    "vm.vfs_cache_pressure",
    "vm.zone_reclaim_mode",
    "vm.extfrag_threshold",
    "vm.max_map_count",
    "net.core.somaxconn",
)

#: Zone names that count as "lowmem" for min_free_kbytes (kernel: !is_highmem; Movable is
#: excluded from 6.6, and an empty Movable/Device zone holds no free memory anyway).
LOWMEM_ZONE_NAMES = frozenset({"DMA", "DMA32", "Normal"})


@dataclass(frozen=True)
class MissingItem:
    """Something the doctor could not check, and why (shown in text, ``missing[]`` in JSON)."""

    what: str
    reason: str


@dataclass(frozen=True)
class MemoryPicture:
    """Host-wide memory in kB, from ``/proc/meminfo`` (None = not reported by this kernel)."""

    total_kb: int | None
    free_kb: int | None
    available_kb: int | None
    #: file-backed LRU pages (Active(file) + Inactive(file)); falls back to Cached.
    file_cache_kb: int | None
    slab_reclaimable_kb: int | None = None
    swap_total_kb: int | None = None
    source: str = "proc/meminfo"

    @property
    def reclaimable_kb(self) -> int | None:
        """Page cache plus reclaimable slab: what reclaim can give back without swapping."""
        if self.file_cache_kb is None:
            return None
        return self.file_cache_kb + (self.slab_reclaimable_kb or 0)


@dataclass(frozen=True)
class NicInfo:
    """One network interface, as far as the RX-burst model needs it."""

    name: str
    driver: str | None = None
    mtu: int | None = None
    rx_queues: int | None = None
    #: ``ethtool -g`` current RX ring size, when captured
    rx_ring: int | None = None


@dataclass(frozen=True)
class FailureZoneState:
    """A zone as printed in a failure report's Mem-Info block (kB), with the check's result."""

    name: str
    free_kb: int
    min_kb: int
    low_kb: int | None = None
    high_kb: int | None = None
    #: the reduced (effective) min the failing allocation was held to, in kB, when known
    effective_min_kb: int | None = None
    #: ``watermark`` (free under the reduced min), ``order`` (no block big enough) or None
    failed_by: str | None = None
    highest_free_order: int | None = None
    file_cache_kb: int | None = None


@dataclass(frozen=True)
class FailureGroup:
    """Failure reports with the same process, order, mode and context, counted together.

    ``count`` includes the ``callbacks suppressed`` lines attributed to the group (the kernel
    rate-limits the reports, so the real number is higher than the headers seen).
    """

    process: str
    order: int
    mode: str
    context: str
    count: int
    suppressed: int = 0
    first_seen: str | None = None
    last_seen: str | None = None
    #: the scan's verdict for the group (e.g. ``atomic reserve exhausted``), worded upstream
    verdict: str | None = None
    #: True when the mask cannot sleep (GFP_ATOMIC and friends); None when not decoded
    atomic: bool | None = None
    #: Mem-Info zones at failure time (first report of the group that printed them)
    zones: tuple[FailureZoneState, ...] = ()
    #: how far free memory was below what the allocation needed, kB (worst zone)
    deficit_kb: int | None = None
    sources: tuple[str, ...] = ()

    @property
    def under_reduced_min(self) -> bool | None:
        """Whether a zone at failure time was under the reduced min the caller was held to."""
        if not self.zones:
            return None
        return any(z.failed_by == "watermark" for z in self.zones)

    @property
    def no_block_of_order(self) -> bool | None:
        """Whether the failure happened with enough free memory but no block of the order."""
        if not self.zones:
            return None
        return any(z.failed_by == "order" for z in self.zones)


@dataclass(frozen=True)
class ReclaimDelta:
    """Reclaim activity between two ``/proc/vmstat`` samples ``interval_s`` seconds apart.

    Counters are summed over zones where the kernel splits them (``allocstall_normal``...).
    """

    interval_s: float
    allocstall: int
    pgscan_direct: int
    kswapd_low_wmark_hit_quickly: int
    pgalloc: int
    compact_stall: int = 0
    pgscan_kswapd: int = 0
    source: str = "proc/vmstat"

    def rate_per_s(self, counter: int) -> float:
        return counter / self.interval_s if self.interval_s > 0 else 0.0


@dataclass(frozen=True)
class BootDefinition:
    """Where a sysctl key is set in the boot configuration (file and line)."""

    path: str
    line: int | None
    value: str


@dataclass(frozen=True)
class BootValue:
    """The value one key gets at boot, under systemd-sysctl and under procps ``--system``."""

    key: str
    systemd_value: str | None
    procps_value: str | None
    #: the definition that wins under systemd-sysctl, then every one it overrides
    systemd_winner: BootDefinition | None = None
    overridden: tuple[BootDefinition, ...] = ()
    procps_winner: BootDefinition | None = None


@dataclass(frozen=True)
class BootView:
    """The boot-time sysctl picture the doctor needs (adapted from ``sysctl_boot``)."""

    values: Mapping[str, BootValue]
    #: whether systemd-sysctl reads /etc/sysctl.conf (through a 99-sysctl.conf link)
    sysctl_conf_read_at_boot: bool | None
    #: keys that /etc/sysctl.conf sets, with their lines
    sysctl_conf_definitions: tuple[tuple[str, BootDefinition], ...] = ()
    uses_systemd: bool | None = None


@dataclass(frozen=True)
class AerospikeSizing:
    """What the Aerospike rule needs from aerospike.conf (see parsers.aerospike_conf)."""

    max_stage_size_bytes: int
    source: str
    #: (namespace, setting, bytes) that gave the largest stage
    from_setting: str | None = None


@dataclass(frozen=True)
class Diagnosis:
    """One host's state for the rules: memory, zones, settings, failures and blind spots."""

    label: str
    release: str | None
    page_size_bytes: int = 4096
    memory: MemoryPicture | None = None
    zones: tuple[Zone, ...] = ()
    sysctl: Mapping[str, str] = field(default_factory=dict)
    #: where the sysctl values were read (proc/sys or sos_commands/kernel/sysctl_-a)
    sysctl_source: str = "proc/sys"
    thp_enabled: str | None = None
    thp_defrag: str | None = None
    numa_nodes: int = 1
    interfaces: tuple[NicInfo, ...] = ()
    failures: tuple[FailureGroup, ...] = ()
    #: suppressed-callback lines the scan could not attribute to a group
    unattributed_suppressed: int = 0
    reclaim: ReclaimDelta | None = None
    vmstat: Mapping[str, int] = field(default_factory=dict)
    boot: BootView | None = None
    kernel_default_min_free_kb: int | None = None
    kernel_default_formula: str | None = None
    thp_recommended_min_free_kb: int | None = None
    thp_formula: str | None = None
    profile: str = "generic"
    aerospike: AerospikeSizing | None = None
    #: kswapd-reaction sizing input: the --interval the user asked for (seconds)
    interval_s: float | None = None
    #: the simulator's safe reserve (kB) when --simulate ran, with its description
    simulated_safe_min_free_kb: int | None = None
    simulated_detail: str | None = None
    #: the kernel's watermark_scale_factor upper bound for this release (1000 or 3000)
    watermark_scale_factor_max: int | None = None
    missing: tuple[MissingItem, ...] = ()

    # ---- convenience accessors used by findings and recommend -------------------------

    def sysctl_int(self, key: str) -> int | None:
        """A sysctl as an integer, or None when absent or not a single integer."""
        value = self.sysctl.get(key)
        if value is None:
            return None
        try:
            return int(str(value).split()[0])
        except (ValueError, IndexError):
            return None

    @property
    def populated_zones(self) -> tuple[Zone, ...]:
        return tuple(z for z in self.zones if z.populated)

    def lowmem_zones(self) -> tuple[Zone, ...]:
        return tuple(z for z in self.populated_zones if z.name in LOWMEM_ZONE_NAMES)

    def pages_to_kb(self, pages: int) -> int:
        return pages * self.page_size_bytes // 1024

    @property
    def total_ram_kb(self) -> int | None:
        """RAM for percentage rules: MemTotal, else the managed pages of all zones."""
        if self.memory is not None and self.memory.total_kb:
            return self.memory.total_kb
        managed = [z.managed_pages for z in self.zones if z.managed_pages is not None]
        if managed:
            return self.pages_to_kb(sum(managed))
        return None

    @property
    def high_watermark_sum_kb(self) -> int | None:
        if not self.zones:
            return None
        return self.pages_to_kb(sum(z.high_pages for z in self.populated_zones))

    @property
    def thp_active(self) -> bool | None:
        """Whether khugepaged's reserve applies (THP enabled ``always`` or ``madvise``)."""
        if self.thp_enabled is None:
            return None
        return self.thp_enabled in ("always", "madvise")


# ---------------------------------------------------------------------------------------
# Assembly: adapters from the other layers' objects into the types above.
# ---------------------------------------------------------------------------------------

_SELECTED = "[]"


def selected_choice(text: str | None) -> str | None:
    """The bracketed choice of a sysfs multiple-choice file: ``always [madvise] never``.

    >>> selected_choice("always defer defer+madvise [madvise] never")
    'madvise'
    >>> selected_choice("never") is None
    False
    """
    if text is None:
        return None
    text = text.strip()
    if "[" in text and "]" in text:
        return text[text.index("[") + 1 : text.index("]")].strip()
    return text or None


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    """First attribute (or mapping key) present among ``names``: tolerates model renames."""
    if obj is None:
        return default
    for name in names:
        if isinstance(obj, Mapping) and name in obj:
            return obj[name]
        if hasattr(obj, name):
            value = getattr(obj, name)
            if value is not None:
                return value
    return default


def memory_from_meminfo(meminfo: Any, source: str = "proc/meminfo") -> MemoryPicture | None:
    """Adapt a parsed meminfo (object with ``*_kb`` fields or a mapping of raw names)."""
    if meminfo is None:
        return None
    fields: Mapping[str, Any] | None = _get(meminfo, "fields", "values", "raw")
    if isinstance(meminfo, Mapping):
        fields = meminfo

    def pick(attr: str, raw: str) -> int | None:
        value = _get(meminfo, attr)
        if value is None and fields is not None:
            value = fields.get(raw)
        try:
            return None if value is None else int(value)
        except (TypeError, ValueError):
            return None

    active_file = pick("active_file_kb", "Active(file)")
    inactive_file = pick("inactive_file_kb", "Inactive(file)")
    if active_file is not None and inactive_file is not None:
        file_cache: int | None = active_file + inactive_file
    else:
        file_cache = pick("cached_kb", "Cached")
    return MemoryPicture(
        total_kb=pick("mem_total_kb", "MemTotal"),
        free_kb=pick("mem_free_kb", "MemFree"),
        available_kb=pick("mem_available_kb", "MemAvailable"),
        file_cache_kb=file_cache,
        slab_reclaimable_kb=pick("s_reclaimable_kb", "SReclaimable")
        if _get(meminfo, "s_reclaimable_kb") is not None
        else pick("sreclaimable_kb", "SReclaimable"),
        swap_total_kb=pick("swap_total_kb", "SwapTotal"),
        source=source,
    )


def vmstat_counters(vmstat: Any) -> dict[str, int]:
    """A parsed vmstat as a plain name -> int mapping."""
    if vmstat is None:
        return {}
    if isinstance(vmstat, Mapping):
        raw = vmstat
    else:
        raw = _get(vmstat, "counters", "values", "fields", default={})
    out: dict[str, int] = {}
    for key, value in dict(raw).items():
        try:
            out[str(key)] = int(value)
        except (TypeError, ValueError):
            continue
    return out


def _sum_prefixed(counters: Mapping[str, int], name: str) -> int:
    """A counter that old kernels keep global and newer ones split by zone (allocstall_*)."""
    if name in counters:
        return counters[name]
    prefix = name + "_"
    return sum(v for k, v in counters.items() if k.startswith(prefix))


def reclaim_delta(
    first: Mapping[str, int], second: Mapping[str, int], interval_s: float, source: str
) -> ReclaimDelta:
    """Reclaim counters' increase between two vmstat samples.

    A counter that went down (the host rebooted between samples, or the samples were
    swapped) is counted as 0 rather than negative.

    >>> d = reclaim_delta({"allocstall_normal": 1, "pgalloc_normal": 10},
    ...                   {"allocstall_normal": 4, "pgalloc_normal": 110}, 2.0, "x")
    >>> (d.allocstall, d.pgalloc, d.rate_per_s(d.pgalloc))
    (3, 100, 50.0)
    """

    def delta(name: str) -> int:
        return max(0, _sum_prefixed(second, name) - _sum_prefixed(first, name))

    return ReclaimDelta(
        interval_s=interval_s,
        allocstall=delta("allocstall"),
        pgscan_direct=delta("pgscan_direct"),
        kswapd_low_wmark_hit_quickly=delta("kswapd_low_wmark_hit_quickly"),
        pgalloc=delta("pgalloc"),
        compact_stall=delta("compact_stall"),
        pgscan_kswapd=delta("pgscan_kswapd"),
        source=source,
    )


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def isqrt_floor(value: int) -> int:
    return math.isqrt(max(0, value))


def merge_missing(*groups: Iterable[Any]) -> tuple[MissingItem, ...]:
    """Normalise Missing objects from other layers (path/reason) and de-duplicate."""
    seen: dict[tuple[str, str], MissingItem] = {}
    for group in groups:
        for item in group:
            if isinstance(item, MissingItem):
                entry = item
            else:
                what = str(_get(item, "what", "path", "name", default=item))
                reason = str(_get(item, "reason", "why", default="not available"))
                entry = MissingItem(what, reason)
            seen.setdefault((entry.what, entry.reason), entry)
    return tuple(seen.values())


def sorted_zones(zones: Sequence[Zone]) -> tuple[Zone, ...]:
    return tuple(sorted(zones, key=lambda z: (z.node, z.index)))
