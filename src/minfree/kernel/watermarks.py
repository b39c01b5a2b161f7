"""Per-zone watermarks and ``lowmem_reserve`` exactly as the kernel computes them.

The kernel recomputes every zone's min/low/high (and promo) whenever ``min_free_kbytes``,
``watermark_scale_factor`` or a zone's size changes (``__setup_per_zone_wmarks()`` in
``mm/page_alloc.c``), and every zone's ``lowmem_reserve`` ("protection") row when
``lowmem_reserve_ratio`` or a size changes (``setup_per_zone_lowmem_reserve()``). This module
reproduces both, era by era, with the kernel's integer arithmetic:

=====================  ==============================================================
era                    LOW / HIGH / PROMO (``tmp`` = the zone's share of ``pages_min``)
=====================  ==============================================================
before 4.6             ``MIN + tmp/4`` / ``MIN + tmp/2`` (2.6.16 .. 4.5, RHEL7 3.10)
4.6 .. 6.0             ``MIN + d`` / ``MIN + 2d``, ``d = max(tmp/4, managed*wsf/10000)``
6.1+                   as 4.6 plus ``PROMO = MIN + 3d`` (printed in zoneinfo from 6.12)
=====================  ==============================================================

``MIN`` is ``tmp`` for lowmem zones and ``clamp(size/1024, 32, 128)`` for HighMem zones; from
6.6 ``ZONE_MOVABLE`` is treated like HighMem as well (so an *empty* Movable zone shows
32/32/32/32 on 6.6+ and 0/0/0 before). ``size`` is ``managed`` from 3.8 on and ``present``
before. RHEL6 (and Android's 3.x/4.x common kernels) add ``extra_free_kbytes`` to LOW and
HIGH. Printed values include ``watermark_boost`` on 5.0+ (``min_wmark_pages()`` and friends
add it); a recomputation resets the boost to 0.

Features are detected from the data where the data shows them (a ``promo`` line, an empty
Movable zone's 32, the presence of ``vm.watermark_scale_factor`` or ``vm.extra_free_kbytes``,
a ``managed`` line) and from :class:`~minfree.kernel.release.KernelRelease` otherwise
(:func:`detect_features`).

Example (the reference 6.18 host of kernel-facts §8, snapshot 1)::

    >>> from minfree.model.zone import Zone
    >>> zones = [Zone(0, n, i, 0, 0, 0, 0, managed_pages=m)
    ...          for i, (n, m) in enumerate([("DMA", 3840), ("DMA32", 772917),
    ...                                      ("Normal", 131072), ("Movable", 0), ("Device", 0)])]
    >>> [(w.zone, w.min_pages, w.low_pages, w.high_pages, w.promo_pages)
    ...  for w in compute_watermarks(zones, 67584, 10, features=FEATURES_6_6)][1:4]
    [('DMA32', 14385, 17981, 21577, 25173), ('Normal', 2439, 3048, 3657, 4266), ('Movable', 32, 32, 32, 32)]
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from minfree.kernel.release import KernelRelease

#: ``SWAP_CLUSTER_MAX`` (include/linux/swap.h): the floor of a HighMem zone's MIN.
SWAP_CLUSTER_MAX = 32
#: The ceiling of a HighMem zone's MIN (``__setup_per_zone_wmarks``, every era).
HIGHMEM_MIN_CAP = 128
#: ``watermark_scale_factor`` default (4.6+) and divisor.
DEFAULT_WATERMARK_SCALE_FACTOR = 10
_SCALE_DIVISOR = 10000

#: Zones the kernel counts as "lowmem" can never be HighMem; these names are HighMem.
_HIGHMEM_NAMES = frozenset({"HighMem"})


if TYPE_CHECKING:  # a typing.Protocol costs import time that `inspect` cannot spare
    from typing import Protocol

    class ZoneLike(Protocol):
        """What the formulas read from a zone: :class:`~minfree.model.zone.Zone` and
        :class:`~minfree.model.zoneinfo.ZoneInfoZone` both qualify."""

        node: int
        name: str
        index: int
        present_pages: int | None
        managed_pages: int | None
        protection_pages: tuple[int, ...]


class WatermarkEra(enum.Enum):
    """How LOW/HIGH are derived from MIN (the three rows of the table above)."""

    #: 2.6.x .. 4.5 (and RHEL7 3.10.0): LOW = MIN + tmp/4, HIGH = MIN + tmp/2.
    QUARTER = "min+tmp/4"
    #: 4.6 .. 6.0: ``watermark_scale_factor`` (commit "mm: scale kswapd watermarks in
    #: proportion to memory", v4.6; absent in 4.4.155, present in 4.9.229).
    SCALE_FACTOR = "scale-factor"
    #: 6.1+: as SCALE_FACTOR plus WMARK_PROMO = HIGH + d (memory tiering; absent 5.15,
    #: present 6.1.20 mm/page_alloc.c).
    PROMO = "scale-factor+promo"


class LowmemReserveEra(enum.Enum):
    """``setup_per_zone_lowmem_reserve()`` variants (mm/page_alloc.c)."""

    #: <= 4.18: a ratio < 1 is forced to 1 (2.6.32 .. 4.14.5 read); array has
    #: MAX_NR_ZONES-1 entries.
    FORCE_ONE = "ratio<1 -> 1"
    #: 4.19 .. 5.9: ratio 0 means no reserve (4.19.0, 5.0.1, 5.4 read).
    ZERO_MEANS_NONE = "ratio 0 -> no reserve"
    #: 5.10 .. 6.0: additionally a lower zone with ratio 0 or size 0 gets no reserve and
    #: its pages are left out of the running sum for the zones below it (5.10.7 read).
    SKIP_EMPTY = "skip empty/ratio-0 zones"
    #: 6.1+: plain loop over upper zones; a zone with ratio 0 or size 0 has all reserves
    #: cleared (6.1.20, 6.6.9, 6.12, 6.19 read).
    CLEAR = "clear empty/ratio-0 zones"


@dataclass(frozen=True)
class WatermarkFeatures:
    """The kernel behaviours that change the numbers, with the reason each was chosen."""

    era: WatermarkEra = WatermarkEra.PROMO
    #: 6.6+: ZONE_MOVABLE gets the HighMem clamp and is left out of ``lowmem``
    #: (absent 6.1.20, present 6.6.9).
    movable_like_highmem: bool = True
    #: True: zone size is ``managed`` (3.8+); False: ``present`` (2.6.x, 3.0 .. 3.7).
    uses_managed: bool = True
    lowmem_reserve: LowmemReserveEra = LowmemReserveEra.CLEAR
    #: RHEL6 / Android: ``vm.extra_free_kbytes`` exists and is added to LOW and HIGH.
    extra_free_kbytes: bool = False
    #: 5.0+: printed watermarks include ``watermark_boost`` (mm/page_alloc.c, 5.0.1).
    boost: bool = True
    reasons: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for humans: the era and why."""
        why = "; ".join(self.reasons) if self.reasons else "defaults (current kernels)"
        return f"{self.era.value}, lowmem_reserve {self.lowmem_reserve.value} ({why})"


#: The behaviour of 6.6 and later (this project's reference host runs 6.18).
FEATURES_6_6 = WatermarkFeatures(reasons=("6.6+ behaviour",))


@dataclass(frozen=True)
class PredictedZoneWatermarks:
    """The watermarks the kernel would set for one zone; all in pages.

    ``size_pages`` is the size the formulas used (``managed``, or ``present`` before 3.8).
    ``share_pages`` is the zone's proportional share of ``pages_min`` (``tmp`` in the
    kernel). min/low/high/promo include ``boost_pages`` as /proc/zoneinfo prints them.
    ``promo_pages`` is None before 6.1 (no WMARK_PROMO).
    """

    node: int
    zone: str
    index: int
    size_pages: int
    min_pages: int
    low_pages: int
    high_pages: int
    promo_pages: int | None
    boost_pages: int = 0
    protection_pages: tuple[int, ...] = ()
    share_pages: int = 0

    @property
    def managed_pages(self) -> int:
        """Alias of ``size_pages`` (it is ``managed`` on every kernel since 3.8)."""
        return self.size_pages

    @property
    def key(self) -> tuple[int, str]:
        return (self.node, self.zone)

    def as_dict(self) -> dict[str, Any]:
        """JSON form: ``node``, ``zone``, ``managed``, ``min``, ``low``, ``high``, ``promo``,
        ``boost``, ``protection`` (pages)."""
        return {
            "node": self.node,
            "zone": self.zone,
            "managed": self.size_pages,
            "min": self.min_pages,
            "low": self.low_pages,
            "high": self.high_pages,
            "promo": self.promo_pages,
            "boost": self.boost_pages,
            "protection": list(self.protection_pages),
        }


def _size(zone: ZoneLike, uses_managed: bool) -> int:
    if uses_managed and zone.managed_pages is not None:
        return zone.managed_pages
    if zone.present_pages is not None:
        return zone.present_pages
    return zone.managed_pages or 0


def _is_highmem_like(zone: ZoneLike, features: WatermarkFeatures, node_names: set[str]) -> bool:
    """``is_highmem(zone)`` (plus, 6.6+, ``zone_idx == ZONE_MOVABLE``).

    Before 6.6 ZONE_MOVABLE counts as HighMem only when it is carved out of HighMem
    (``zone_movable_is_highmem()``: 32-bit kernels with CONFIG_HIGHMEM); we take "the node
    has a HighMem zone" as the sign of that configuration.
    """
    if zone.name in _HIGHMEM_NAMES:
        return True
    if zone.name == "Movable":
        return features.movable_like_highmem or "HighMem" in node_names
    return False


def compute_watermarks(
    zones: Sequence[ZoneLike],
    min_free_kbytes: int,
    watermark_scale_factor: int = DEFAULT_WATERMARK_SCALE_FACTOR,
    *,
    page_size_bytes: int = 4096,
    lowmem_reserve_ratio: Sequence[int] | None = None,
    features: WatermarkFeatures | None = None,
    extra_free_kbytes: int = 0,
    boost_pages: Mapping[tuple[int, str], int] | None = None,
    vm_total_pages: int | None = None,
) -> tuple[PredictedZoneWatermarks, ...]:
    """Watermarks and protection rows for every zone, as ``__setup_per_zone_wmarks()`` and
    ``setup_per_zone_lowmem_reserve()`` would set them.

    ``zones`` must be *all* zones of *all* nodes (``lowmem`` is a machine-wide sum), each
    with its ``managed`` (or, before 3.8, ``present``) count. ``lowmem_reserve_ratio`` is the
    sysctl row in zone-index order (None: the kernel defaults). ``boost_pages`` adds a
    current boost per ``(node, zone)`` to the printed values; leave it None to get what the
    kernel shows right after a recomputation (which resets every boost to 0).
    ``extra_free_kbytes`` (RHEL6/Android) is distributed over zones by size /
    ``vm_total_pages`` (default: the sum of all sizes, its boot-time value).
    """
    if min_free_kbytes < 0:
        raise ValueError(f"min_free_kbytes must be >= 0, got {min_free_kbytes}")
    if watermark_scale_factor < 0:
        raise ValueError(f"watermark_scale_factor must be >= 0, got {watermark_scale_factor}")
    features = features or FEATURES_6_6
    shift = page_size_bytes.bit_length() - 1
    if page_size_bytes <= 0 or (1 << shift) != page_size_bytes or shift < 10:
        raise ValueError(f"page size must be a power of two >= 1024, got {page_size_bytes}")
    # pages_min = min_free_kbytes >> (PAGE_SHIFT - 10)
    pages_min = min_free_kbytes >> (shift - 10)
    pages_extra = extra_free_kbytes >> (shift - 10) if features.extra_free_kbytes else 0

    names_by_node: dict[int, set[str]] = {}
    for z in zones:
        names_by_node.setdefault(z.node, set()).add(z.name)
    sizes = [_size(z, features.uses_managed) for z in zones]
    highmem_like = [_is_highmem_like(z, features, names_by_node[z.node]) for z in zones]
    # lowmem_pages: sum over !highmem (6.6+: and !Movable) zones of every node.
    lowmem = sum(s for s, h in zip(sizes, highmem_like, strict=True) if not h)
    total = vm_total_pages if vm_total_pages is not None else sum(sizes)

    protection = compute_lowmem_reserve(zones, lowmem_reserve_ratio, features=features)
    out: list[PredictedZoneWatermarks] = []
    for z, size, high_like in zip(zones, sizes, highmem_like, strict=True):
        # tmp = (u64)pages_min * size / lowmem_pages  (div64_ul / do_div: floor)
        tmp = pages_min * size // lowmem if lowmem > 0 else 0
        base_min = min(max(size // 1024, SWAP_CLUSTER_MAX), HIGHMEM_MIN_CAP) if high_like else tmp
        extra = pages_extra * size // total if (pages_extra and total > 0) else 0
        if features.era is WatermarkEra.QUARTER:
            low = base_min + extra + tmp // 4
            high = base_min + extra + tmp // 2
            promo = None
        else:
            # tmp = max(tmp >> 2, mult_frac(managed, watermark_scale_factor, 10000))
            step = max(tmp // 4, size * watermark_scale_factor // _SCALE_DIVISOR)
            low = base_min + extra + step
            high = low + step
            promo = high + step if features.era is WatermarkEra.PROMO else None
        boost = 0
        if boost_pages is not None and features.boost:
            boost = boost_pages.get((z.node, z.name), 0)
        out.append(
            PredictedZoneWatermarks(
                node=z.node,
                zone=z.name,
                index=z.index,
                size_pages=size,
                min_pages=base_min + boost,
                low_pages=low + boost,
                high_pages=high + boost,
                promo_pages=None if promo is None else promo + boost,
                boost_pages=boost,
                protection_pages=protection[(z.node, z.name)],
                share_pages=tmp,
            )
        )
    return tuple(out)


def default_lowmem_reserve_ratio(
    zone_names: Sequence[str], era: LowmemReserveEra = LowmemReserveEra.CLEAR
) -> tuple[int, ...]:
    """The kernel's default ``sysctl_lowmem_reserve_ratio`` for zones in index order.

    DMA 256, DMA32 256, Normal 32 in every era. HighMem is 32 and Movable 0 (forced to 1)
    before 4.19, where the array has MAX_NR_ZONES-1 entries; from 4.19 HighMem and Movable
    are 0 ("mm/page_alloc.c: don't reserve memory for highmem and movable zones").
    """
    old = era is LowmemReserveEra.FORCE_ONE
    table = {"DMA": 256, "DMA32": 256, "Normal": 32, "HighMem": 32 if old else 0}
    return tuple(table.get(name, 0) for name in zone_names)


def compute_lowmem_reserve(
    zones: Sequence[ZoneLike],
    lowmem_reserve_ratio: Sequence[int] | None = None,
    *,
    features: WatermarkFeatures | None = None,
) -> dict[tuple[int, str], tuple[int, ...]]:
    """``lowmem_reserve[]`` ("protection") of every zone, keyed by ``(node, zone name)``.

    ``lowmem_reserve[i][j]`` = (sum of the sizes of zones i+1..j of the same node) /
    ``ratio[i]`` for j > i, else 0, with each era's treatment of ratio 0 and empty zones
    (:class:`LowmemReserveEra`). Each row has one entry per zone index of the node: the
    length of the zone's printed protection row when known, else up to the highest index.
    """
    features = features or FEATURES_6_6
    era = features.lowmem_reserve
    by_node: dict[int, list[ZoneLike]] = {}
    for z in zones:
        by_node.setdefault(z.node, []).append(z)
    # One name per index for the whole machine (node 1 may lack DMA/DMA32).
    names_by_index: dict[int, str] = {}
    for z in zones:
        names_by_index.setdefault(z.index, z.name)
    width = max([len(z.protection_pages) for z in zones] + [z.index + 1 for z in zones] + [0])
    if lowmem_reserve_ratio is None:
        ratios = default_lowmem_reserve_ratio(
            [names_by_index.get(i, "") for i in range(width)], era
        )
    else:
        ratios = tuple(lowmem_reserve_ratio)
    ratio_of = [ratios[i] if i < len(ratios) else 0 for i in range(width)]

    result: dict[tuple[int, str], tuple[int, ...]] = {}
    for members in by_node.values():
        size_of = [0] * width
        for z in members:
            size_of[z.index] = _size(z, features.uses_managed)
        rows = [[0] * width for _ in range(width)]
        if era is LowmemReserveEra.CLEAR:
            for i in range(width - 1):
                clear = ratio_of[i] <= 0 or size_of[i] == 0
                running = 0
                for j in range(i + 1, width):
                    running += size_of[j]
                    rows[i][j] = 0 if clear else running // ratio_of[i]
        else:
            for j in range(width):
                running = size_of[j]
                idx = j
                while idx:
                    idx -= 1
                    ratio = ratio_of[idx]
                    if era is LowmemReserveEra.FORCE_ONE:
                        ratio = max(ratio, 1)
                    elif era is LowmemReserveEra.SKIP_EMPTY and (ratio < 1 or size_of[idx] == 0):
                        rows[idx][j] = 0
                        continue
                    elif ratio < 1:
                        rows[idx][j] = 0
                        running += size_of[idx]
                        continue
                    rows[idx][j] = running // ratio
                    running += size_of[idx]
        for z in members:
            row_width = len(z.protection_pages) or width
            result[(z.node, z.name)] = tuple(rows[z.index][:row_width]) + (0,) * max(
                0, row_width - width
            )
    return result


def calculate_totalreserve_pages(
    predicted: Iterable[PredictedZoneWatermarks],
) -> int:
    """``calculate_totalreserve_pages()``: the pages ``MemAvailable`` and overcommit treat as
    reserved, sum over zones of ``min(size, max(lowmem_reserve[j >= i]) + HIGH)``.

    HIGH includes the boost (``high_wmark_pages()``). 6.19 spells the maximum with
    ``max()`` (Ye Liu, 2025); the value is the same because the row never decreases.
    2.6.x capped by ``present`` (our ``size_pages`` there).
    """
    total = 0
    for w in predicted:
        row = w.protection_pages[w.index :] if w.index < len(w.protection_pages) else ()
        reserve = max(row, default=0) + w.high_pages
        total += min(w.size_pages, reserve)
    return total


@dataclass(frozen=True)
class ReserveChange:
    """What a watermark change takes from applications, in pages (negative: gives back).

    kswapd, once woken (free < LOW), reclaims until free >= HIGH in every zone it balances,
    so the sum of HIGH is the free memory the kernel keeps from the page cache and anonymous
    memory; ``MemAvailable`` subtracts ``totalreserve_pages`` (HIGH plus protection).
    """

    min_pages: int
    low_pages: int
    high_pages: int
    totalreserve_pages: int
    per_zone_high_pages: Mapping[tuple[int, str], int] = field(default_factory=dict)

    def as_dict(self, page_size_bytes: int = 4096) -> dict[str, Any]:
        kib = page_size_bytes // 1024
        return {
            "min_pages": self.min_pages,
            "low_pages": self.low_pages,
            "high_pages": self.high_pages,
            "totalreserve_pages": self.totalreserve_pages,
            "high_kb": self.high_pages * kib,
            "totalreserve_kb": self.totalreserve_pages * kib,
        }


def memory_taken_from_applications(
    before: Sequence[PredictedZoneWatermarks], after: Sequence[PredictedZoneWatermarks]
) -> ReserveChange:
    """The change in reserved pages between two sets of watermarks (same zones)."""
    before_by_key = {w.key: w for w in before}
    per_zone = {
        w.key: w.high_pages - before_by_key[w.key].high_pages
        for w in after
        if w.key in before_by_key
    }
    return ReserveChange(
        min_pages=sum(w.min_pages for w in after) - sum(w.min_pages for w in before),
        low_pages=sum(w.low_pages for w in after) - sum(w.low_pages for w in before),
        high_pages=sum(w.high_pages for w in after) - sum(w.high_pages for w in before),
        totalreserve_pages=calculate_totalreserve_pages(after)
        - calculate_totalreserve_pages(before),
        per_zone_high_pages=per_zone,
    )


def _sysctl_int(sysctl: Mapping[str, str] | None, key: str) -> int | None:
    if not sysctl or key not in sysctl:
        return None
    try:
        return int(str(sysctl[key]).split()[0])
    except (ValueError, IndexError):
        return None


def parse_ratio_row(text: str | None) -> tuple[int, ...] | None:
    """``"256\\t256\\t32\\t0\\t0"`` (or ``sysctl -a``'s spaces) -> ``(256, 256, 32, 0, 0)``."""
    if text is None:
        return None
    try:
        values = tuple(int(part) for part in str(text).split())
    except ValueError:
        return None
    return values or None


def detect_features(
    zones: Sequence[Any] | None = None,
    *,
    release: KernelRelease | None = None,
    sysctl: Mapping[str, str] | None = None,
) -> WatermarkFeatures:
    """Choose the formulas from what the data shows, falling back to the release.

    Evidence, strongest first:

    - a ``promo`` line in zoneinfo: 6.12+ (so PROMO era, Movable like HighMem);
    - an empty Movable zone printed with min 32 (6.6+) or 0 (before 6.6);
    - ``vm.watermark_scale_factor`` present in a captured sysctl set: 4.6+; absent: before;
    - ``vm.extra_free_kbytes`` present: RHEL6/Android extra term;
    - a ``managed`` line: sizes are ``managed`` (3.8+), else ``present``;
    - the kernel release, when known (before the boost line, which RHEL9's 5.14 backports);
    - a ``boost`` line: 6.1+ upstream (so the 6.1 lowmem_reserve loop and WMARK_PROMO);
    - the number of ``lowmem_reserve_ratio`` entries: one per zone from 4.19;
    - otherwise the kernel release (``KernelRelease``), otherwise current behaviour.
    """
    zones = list(zones or ())
    reasons: list[str] = []
    version = release.version if release is not None else None
    has_sysctl = bool(sysctl) and any(str(k).startswith("vm.") for k in (sysctl or {}))

    promo_printed = any(getattr(z, "promo_pages", None) is not None for z in zones)
    boost_printed = any(getattr(z, "boost_pages", None) is not None for z in zones)
    # model.zone.Zone always carries boost_pages=int; only ZoneInfoZone has None.
    if zones and all(type(z).__name__ == "Zone" for z in zones):
        boost_printed = False

    # uses_managed
    if zones:
        uses_managed = any(getattr(z, "managed_pages", None) is not None for z in zones)
        reasons.append("managed line present" if uses_managed else "no managed line: present")
    else:
        uses_managed = version is None or version >= (3, 8)

    # era
    wsf_known = has_sysctl and "vm.watermark_scale_factor" in (sysctl or {})
    if promo_printed:
        era = WatermarkEra.PROMO
        reasons.append("promo line printed (6.12+)")
    elif has_sysctl and not wsf_known:
        era = WatermarkEra.QUARTER
        reasons.append("no vm.watermark_scale_factor in the sysctls (before 4.6)")
    elif version is not None:
        # Before the boost line: RHEL9's 5.14 prints "boost" too (a backport), so the line
        # alone does not mean 6.1+ (centos-stream9-5.14.0-325 fixture).
        if version >= (6, 1):
            era = WatermarkEra.PROMO
        elif version >= (4, 6) or (release is not None and release.rhel == 8):
            era = WatermarkEra.SCALE_FACTOR
        else:
            era = WatermarkEra.QUARTER
        reasons.append(f"release {release}")
    elif boost_printed:
        era = WatermarkEra.PROMO
        reasons.append("boost line printed (6.1+ upstream; RHEL9 5.14 backports it)")
    elif wsf_known:
        era = WatermarkEra.SCALE_FACTOR
        reasons.append("vm.watermark_scale_factor present (4.6+)")
    else:
        era = WatermarkEra.PROMO
        reasons.append("no version evidence: current kernels assumed")

    # movable_like_highmem
    empty_movable = [z for z in zones if z.name == "Movable" and (_size(z, uses_managed) == 0)]
    if promo_printed:
        movable_like_highmem = True
    elif empty_movable:
        movable_like_highmem = any(getattr(z, "min_pages", 0) > 0 for z in empty_movable)
        shown = max(getattr(z, "min_pages", 0) for z in empty_movable)
        reasons.append(f"empty Movable zone has min {shown}")
    elif version is not None:
        movable_like_highmem = version >= (6, 6)
    else:
        movable_like_highmem = era is WatermarkEra.PROMO

    # lowmem_reserve era
    ratio_row = parse_ratio_row(sysctl.get("vm.lowmem_reserve_ratio")) if sysctl else None
    widths = {len(z.protection_pages) for z in zones if getattr(z, "protection_pages", ())}
    if version is not None:
        if (
            version < (4, 19)
            and release is not None
            and release.rhel == 8
            and ratio_row
            and (widths and len(ratio_row) == max(widths))
        ):
            lowmem = LowmemReserveEra.ZERO_MEANS_NONE  # RHEL8 4.18 carries the 4.19 change
        elif version < (4, 19):
            lowmem = LowmemReserveEra.FORCE_ONE
        elif version < (5, 10):
            lowmem = LowmemReserveEra.ZERO_MEANS_NONE
        elif version < (6, 1):
            lowmem = LowmemReserveEra.SKIP_EMPTY
        else:
            lowmem = LowmemReserveEra.CLEAR
    elif ratio_row and widths and len(ratio_row) < max(widths):
        lowmem = LowmemReserveEra.FORCE_ONE
        reasons.append("lowmem_reserve_ratio has MAX_NR_ZONES-1 entries (before 4.19)")
    elif boost_printed or promo_printed:
        lowmem = LowmemReserveEra.CLEAR
    elif era is WatermarkEra.QUARTER:
        lowmem = LowmemReserveEra.FORCE_ONE
    else:
        lowmem = LowmemReserveEra.CLEAR

    extra_free = has_sysctl and "vm.extra_free_kbytes" in (sysctl or {})
    if extra_free:
        reasons.append("vm.extra_free_kbytes present (RHEL6/Android)")
    boost = (
        boost_printed
        or (has_sysctl and "vm.watermark_boost_factor" in (sysctl or {}))
        or (version is not None and version >= (5, 0))
        or (version is None and not has_sysctl)
    )
    return WatermarkFeatures(
        era=era,
        movable_like_highmem=movable_like_highmem,
        uses_managed=uses_managed,
        lowmem_reserve=lowmem,
        extra_free_kbytes=extra_free,
        boost=boost,
        reasons=tuple(reasons),
    )


@dataclass(frozen=True)
class SysctlInputs:
    """The sysctl values the watermark formulas need, read from a host's sysctl mapping."""

    min_free_kbytes: int | None
    watermark_scale_factor: int | None
    lowmem_reserve_ratio: tuple[int, ...] | None
    extra_free_kbytes: int | None

    @classmethod
    def from_sysctl(cls, sysctl: Mapping[str, str] | None) -> SysctlInputs:
        return cls(
            min_free_kbytes=_sysctl_int(sysctl, "vm.min_free_kbytes"),
            watermark_scale_factor=_sysctl_int(sysctl, "vm.watermark_scale_factor"),
            lowmem_reserve_ratio=parse_ratio_row((sysctl or {}).get("vm.lowmem_reserve_ratio")),
            extra_free_kbytes=_sysctl_int(sysctl, "vm.extra_free_kbytes"),
        )


def predict_host(
    zones: Sequence[ZoneLike],
    sysctl: Mapping[str, str] | None,
    *,
    release: KernelRelease | None = None,
    page_size_bytes: int = 4096,
    min_free_kbytes: int | None = None,
    watermark_scale_factor: int | None = None,
    keep_boost: bool = False,
) -> tuple[PredictedZoneWatermarks, ...]:
    """Watermarks for a host's zones under its own sysctls, or the values given.

    Missing sysctls raise ``ValueError`` naming them (the caller turns it into a message).
    ``keep_boost`` adds each zone's current boost (use it when nothing is being changed, so
    the result equals what /proc/zoneinfo shows now).
    """
    inputs = SysctlInputs.from_sysctl(sysctl)
    features = detect_features(zones, release=release, sysctl=sysctl)
    mfk = min_free_kbytes if min_free_kbytes is not None else inputs.min_free_kbytes
    if mfk is None:
        raise ValueError("vm.min_free_kbytes is not known (no /proc/sys/vm or sysctl -a)")
    wsf = watermark_scale_factor
    if wsf is None:
        wsf = inputs.watermark_scale_factor
    if wsf is None:
        if features.era is not WatermarkEra.QUARTER:
            raise ValueError("vm.watermark_scale_factor is not known")
        wsf = DEFAULT_WATERMARK_SCALE_FACTOR
    boosts = None
    if keep_boost:
        boosts = {(z.node, z.name): int(getattr(z, "boost_pages", 0) or 0) for z in zones}
    return compute_watermarks(
        zones,
        mfk,
        wsf,
        page_size_bytes=page_size_bytes,
        lowmem_reserve_ratio=inputs.lowmem_reserve_ratio,
        features=features,
        extra_free_kbytes=inputs.extra_free_kbytes or 0,
        boost_pages=boosts,
    )


@dataclass(frozen=True)
class WatermarkComparison:
    """Today's watermarks next to the ones the kernel would set for other settings.

    ``current`` is the prediction for the host's own sysctls with today's boost (it equals
    what /proc/zoneinfo shows when the formulas are right); ``proposed`` is the prediction
    for the given values right after the write (boost reset to 0, as the kernel does;
    identical to ``current`` when nothing changes). ``printed`` holds the zone values as
    read, so callers can show today's numbers and check the prediction against them.
    """

    zones: tuple[Any, ...]
    current_min_free_kbytes: int | None
    current_watermark_scale_factor: int | None
    min_free_kbytes: int
    watermark_scale_factor: int
    features: WatermarkFeatures
    current: tuple[PredictedZoneWatermarks, ...]
    proposed: tuple[PredictedZoneWatermarks, ...]
    change: ReserveChange
    page_size_bytes: int = 4096
    assumptions: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return (self.min_free_kbytes, self.watermark_scale_factor) != (
            self.current_min_free_kbytes,
            self.current_watermark_scale_factor,
        )

    @property
    def current_matches_zoneinfo(self) -> bool:
        """Whether today's prediction reproduces every printed min/low/high(/promo)."""
        for z, p in zip(self.zones, self.current, strict=True):
            if (z.min_pages, z.low_pages, z.high_pages) != (p.min_pages, p.low_pages, p.high_pages):
                return False
            if z.promo_pages is not None and z.promo_pages != p.promo_pages:
                return False
        return True


def compare_settings(
    zones: Sequence[ZoneLike],
    sysctl: Mapping[str, str] | None,
    *,
    release: KernelRelease | None = None,
    page_size_bytes: int = 4096,
    min_free_kbytes: int | None = None,
    watermark_scale_factor: int | None = None,
) -> WatermarkComparison:
    """Predict today's watermarks and those for new settings (None: keep the current one).

    A capture without sysctls still gets an answer when ``min_free_kbytes`` is given: the
    change is then measured from the printed values, ``current`` holds those printed values,
    and a missing ``watermark_scale_factor`` is taken as the default 10 (listed in
    ``assumptions``). Without either, ``ValueError`` names what is missing.
    """
    inputs = SysctlInputs.from_sysctl(sysctl)
    features = detect_features(zones, release=release, sysctl=sysctl)
    assumptions: list[str] = []
    if inputs.min_free_kbytes is None and min_free_kbytes is None:
        raise ValueError("vm.min_free_kbytes is not known (no /proc/sys/vm or sysctl -a)")
    current_wsf = inputs.watermark_scale_factor
    if (
        current_wsf is None
        and watermark_scale_factor is None
        and features.era is not WatermarkEra.QUARTER
    ):
        if inputs.min_free_kbytes is not None:
            raise ValueError("vm.watermark_scale_factor is not known")
        assumptions.append("watermark_scale_factor not captured: default 10 assumed")
    effective_current_wsf = (
        current_wsf if current_wsf is not None else DEFAULT_WATERMARK_SCALE_FACTOR
    )
    mfk = inputs.min_free_kbytes if min_free_kbytes is None else min_free_kbytes
    wsf = effective_current_wsf if watermark_scale_factor is None else watermark_scale_factor
    assert mfk is not None
    # The change is measured from what the kernel holds today (the printed values), which
    # differ from our recomputation when the kernel has not recomputed since sizes changed.
    today = tuple(
        PredictedZoneWatermarks(
            node=z.node,
            zone=z.name,
            index=z.index,
            size_pages=_size(z, features.uses_managed),
            min_pages=z.min_pages,
            low_pages=z.low_pages,
            high_pages=z.high_pages,
            promo_pages=z.promo_pages,
            boost_pages=int(getattr(z, "boost_pages", 0) or 0),
            protection_pages=tuple(z.protection_pages),
        )
        for z in zones
    )
    if inputs.min_free_kbytes is not None:
        current = predict_host(
            zones,
            sysctl,
            release=release,
            page_size_bytes=page_size_bytes,
            watermark_scale_factor=effective_current_wsf,
            keep_boost=True,
        )
    else:
        current = today
    unchanged = (mfk, wsf) == (inputs.min_free_kbytes, effective_current_wsf)
    proposed = (
        current
        if unchanged
        else predict_host(
            zones,
            {**(sysctl or {}), "vm.min_free_kbytes": str(mfk)},
            release=release,
            page_size_bytes=page_size_bytes,
            min_free_kbytes=mfk,
            watermark_scale_factor=wsf,
        )
    )
    return WatermarkComparison(
        zones=tuple(zones),
        current_min_free_kbytes=inputs.min_free_kbytes,
        current_watermark_scale_factor=current_wsf,
        min_free_kbytes=mfk,
        watermark_scale_factor=wsf,
        features=features,
        current=current,
        proposed=proposed,
        change=memory_taken_from_applications(current if unchanged else today, proposed),
        page_size_bytes=page_size_bytes,
        assumptions=tuple(assumptions),
    )


def min_share_shortfall_pages(
    zones: Sequence[ZoneLike],
    min_free_kbytes: int,
    *,
    features: WatermarkFeatures | None = None,
    page_size_bytes: int = 4096,
) -> int:
    """How many pages of ``pages_min`` the listed zones' printed MIN values do not account for.

    The kernel splits ``pages_min`` over all lowmem zones of all nodes, so the printed MINs
    (boost removed) of those zones add up to ``pages_min`` less at most one page per zone of
    truncation -- whenever the printed ``min_free_kbytes`` is the one in effect. A larger
    shortfall means zones are missing from the listing (a truncated or partial zoneinfo), or
    that the sysctl and zoneinfo were captured at different moments.
    """
    features = features or FEATURES_6_6
    shift = page_size_bytes.bit_length() - 1
    pages_min = min_free_kbytes >> (shift - 10)
    names_by_node: dict[int, set[str]] = {}
    for z in zones:
        names_by_node.setdefault(z.node, set()).add(z.name)
    printed = 0
    counted = 0
    for z in zones:
        if _is_highmem_like(z, features, names_by_node[z.node]):
            continue
        if _size(z, features.uses_managed) <= 0:
            continue
        boost = int(getattr(z, "boost_pages", 0) or 0)
        printed += int(getattr(z, "min_pages", 0)) - boost
        counted += 1
    return max(0, pages_min - printed - counted)


def implied_min_free_kbytes(
    zones: Sequence[ZoneLike],
    *,
    features: WatermarkFeatures | None = None,
    page_size_bytes: int = 4096,
) -> tuple[int, int] | None:
    """The range of ``min_free_kbytes`` that can have produced the printed MIN watermarks.

    Whatever the zone sizes were when the kernel last computed them, the lowmem zones' MINs
    are shares of ``pages_min`` each rounded down, so ``pages_min`` lies between their sum
    and their sum plus one page per zone (minus one). Useful for captures without sysctls,
    and a check for captures with them. None when no lowmem zone is populated.

    >>> from minfree.model.zone import Zone
    >>> zones = [Zone(0, "DMA", 0, 0, 71, 88, 105, managed_pages=3840),
    ...          Zone(0, "DMA32", 1, 0, 14385, 17981, 21577, managed_pages=772917),
    ...          Zone(0, "Normal", 2, 0, 2439, 3048, 3657, managed_pages=131072)]
    >>> implied_min_free_kbytes(zones)
    (67580, 67591)
    """
    features = features or FEATURES_6_6
    shift = page_size_bytes.bit_length() - 1
    names_by_node: dict[int, set[str]] = {}
    for z in zones:
        names_by_node.setdefault(z.node, set()).add(z.name)
    total = 0
    counted = 0
    for z in zones:
        if _is_highmem_like(z, features, names_by_node[z.node]):
            continue
        if _size(z, features.uses_managed) <= 0:
            continue
        total += int(getattr(z, "min_pages", 0)) - int(getattr(z, "boost_pages", 0) or 0)
        counted += 1
    if counted == 0:
        return None
    low_pages, high_pages = total, total + counted - 1
    unit = shift - 10
    return low_pages << unit, ((high_pages + 1) << unit) - 1
