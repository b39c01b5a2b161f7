"""The page allocator's watermark check (``__zone_watermark_ok``, mm/page_alloc.c), every era.

One implementation serves the scan's verdicts, ``inspect`` and the simulator:
:func:`watermark_ok_core` is written on plain integers and NumPy arrays in the subset of
Python that numba compiles (no objects, exceptions or dicts), so the simulator runs
``numba.njit(watermark_ok_core)`` on the very same function. :func:`zone_watermark_ok` wraps
it for a :class:`~minfree.model.zone.Zone`.

The eras (kernel-facts §3.3, each read in source):

``A`` 2.6.32 .. 2.6.36 and 3.3 .. 4.3 (3.10.4, RHEL7 3.10.0-1160)
    ``free -= (1<<order) - 1``; ALLOC_HIGH halves ``min``, ALLOC_HARDER takes a quarter;
    3.x subtracts free CMA pages (unless ALLOC_CMA) in the first test only; then for every
    order below the request, that order's free pages are removed and ``min`` halves.
``A_OFF_BY_TWO`` 2.6.37 .. 3.2
    as A with ``free -= (1<<order) + 1`` (the same sign slip RHEL6 carries).
``A_RHEL6`` 2.6.32-642.el6
    ``free -= (1<<order) + 1``; for order > 0 the loop restarts from ``mark - WMARK_MIN``
    (reduced again by HIGH/HARDER) and only halves while ``o < pageblock_order/4``.
``B`` 4.4 .. 6.2 (4.4.155, 4.9.229, 4.19, 5.4, 5.10, 5.15, 6.1)
    order-0 test with ``nr_reserved_highatomic`` subtracted unless ALLOC_HARDER/ALLOC_OOM and
    free CMA unless ALLOC_CMA; OOM victims (4.14+) take half instead of a quarter; order > 0
    passes if a free list of order >= the request is non-empty for Unmovable, Movable or
    Reclaimable, for CMA with ALLOC_CMA, for HighAtomic when "harder".
``B_ANY_BLOCK`` 4.10 .. 4.15 (4.14.5 read)
    as B, but "harder" callers pass as soon as any block of order >= the request exists
    (removed by "mm, page_alloc: fix potential false positive in __zone_watermark_ok",
    early 2018; 4.9.229 and 4.19 have the HighAtomic test).
``C`` 6.3 .. 6.11 (6.6.9) and ``C_FREE_HIGHATOMIC`` 6.12+ (6.12, 6.19)
    ALLOC_MIN_RESERVE halves ``min``, and with ALLOC_NON_BLOCK takes another quarter;
    ALLOC_OOM halves; the highatomic pages are subtracted unless any ALLOC_RESERVES flag is
    set (6.12+: only the *free* highatomic pages); HighAtomic lists count for
    ALLOC_HIGHATOMIC or ALLOC_OOM.

From 5.0 ``zone_watermark_fast()`` retries an order-0 check that failed at the boosted MIN
against the unboosted MIN for ``__GFP_ATOMIC`` (5.0 .. 6.2) / ALLOC_MIN_RESERVE (6.3+)
callers: the "boost exception", done here when ``unboosted_mark >= 0``.

Worked check of kernel-facts §3.4 (GFP_ATOMIC, 6.3+, min 14385): it passes order 0 when more
than 5395 pages (7193 - 1798) are free above the protection::

    >>> import numpy as np
    >>> blocks = np.zeros(11, dtype=np.int64); types = np.zeros((11, 6), dtype=np.int64)
    >>> flags = 0x20 | 0x10  # ALLOC_MIN_RESERVE | ALLOC_NON_BLOCK
    >>> watermark_ok_core(int(CheckEra.C), 0, 14385, -1, 14385, 5396, 0, flags,
    ...                   0, 0, 0, blocks, types, 0, 0, 9)[:4]
    (True, 0, 1, 5395)
    >>> watermark_ok_core(int(CheckEra.C), 0, 14385, -1, 14385, 5395, 0, flags,
    ...                   0, 0, 0, blocks, types, 0, 0, 9)[:2]
    (False, 1)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from minfree.kernel.alloc_flags import AllocFlags, WatermarkLevel
from minfree.kernel.release import KernelRelease
from minfree.model.zone import Zone

if TYPE_CHECKING:  # numpy is imported where arrays are built: `inspect` must stay fast
    import numpy as np

#: Column order of the per-migratetype free-block matrix the core reads. The first three
#: are MIGRATE_PCPTYPES in 4.4+ order (Unmovable, Movable, Reclaimable).
MIGRATETYPE_COLUMNS: tuple[str, ...] = (
    "Unmovable",
    "Movable",
    "Reclaimable",
    "HighAtomic",
    "CMA",
    "Isolate",
)
_COL_HIGHATOMIC = 3
_COL_CMA = 4

#: ``failed_by`` codes returned by the core.
PASSED = 0
FAILED_WATERMARK = 1
FAILED_ORDER = 2
_FAILED_BY_NAME = {PASSED: None, FAILED_WATERMARK: "watermark", FAILED_ORDER: "order"}

# ALLOC_* bits as plain ints for the core (numba sees module-level ints as constants).
_ALLOC_NO_WATERMARKS = 0x04
_ALLOC_OOM = 0x08
_ALLOC_HARDER = 0x10  # 6.3+: ALLOC_NON_BLOCK
_ALLOC_HIGH = 0x20  # 6.3+: ALLOC_MIN_RESERVE
_ALLOC_CMA = 0x80
_ALLOC_HIGHATOMIC = 0x200  # 6.3+
_ALLOC_RESERVES = 0x10 | 0x20 | 0x200 | 0x08  # 6.3+ ALLOC_RESERVES


class CheckEra(enum.IntEnum):
    """Which ``__zone_watermark_ok`` a kernel runs (plain ints for the compiled core).

    Values only order the eras from ``B`` on (callers test ``era >= CheckEra.C``);
    ``A_OFF_BY_TWO`` is 0 so that it sorts below every later variant.
    """

    #: 2.6.37 .. 3.2: as A, but ``free -= (1<<order) + 1`` (Mel Gorman's Oct 2010
    #: "mm: page allocator: Adjust the per-cpu counter threshold when memory is low" moved
    #: the subtraction and flipped the sign; fixes were posted Dec 2011/Jan 2012, 3.10.4
    #: has ``- 1``). [R] exact first/last release not verified.
    A_OFF_BY_TWO = 0
    A = 1
    A_RHEL6 = 2
    B = 3
    B_ANY_BLOCK = 4
    C = 5
    C_FREE_HIGHATOMIC = 6


def check_era_for(release: KernelRelease | None) -> CheckEra:
    """The era of a release; unknown releases get current behaviour (6.12+).

    RHEL6 (``.el6``) has its own variant; RHEL7's 3.10.0 is era A; RHEL8's 4.18 is treated
    as B (its ``__zone_watermark_ok`` matches 4.19 in the parts this check models).
    """
    if release is None:
        return CheckEra.C_FREE_HIGHATOMIC
    if release.rhel == 6:
        return CheckEra.A_RHEL6
    if (2, 6, 37) <= release.version < (3, 3, 0):
        return CheckEra.A_OFF_BY_TWO
    if release < (4, 4):
        return CheckEra.A
    if release.rhel == 8:
        return CheckEra.B
    if (4, 10) <= release.version < (4, 16):
        return CheckEra.B_ANY_BLOCK
    if release < (6, 3):
        return CheckEra.B
    if release < (6, 12):
        return CheckEra.C
    return CheckEra.C_FREE_HIGHATOMIC


def watermark_ok_core(
    era: int,
    order: int,
    mark: int,
    unboosted_mark: int,
    zone_min_mark: int,
    free_pages: int,
    lowmem_reserve: int,
    alloc_flags: int,
    highatomic_pages: int,
    free_cma_pages: int,
    unaccepted_pages: int,
    free_blocks: np.ndarray,
    free_by_type: np.ndarray,
    have_blocks: int,
    have_types: int,
    pageblock_order: int,
) -> tuple[bool, int, int, int, int, bool]:
    """``__zone_watermark_ok`` (+ the boost exception of ``zone_watermark_fast``).

    Plain-integer form, compiled unchanged by numba. Arguments (pages unless noted):
    ``mark`` the watermark in use (boost included); ``unboosted_mark`` the same level without
    boost, or -1 when the boost exception does not apply; ``zone_min_mark`` the zone's MIN
    (RHEL6 only); ``free_blocks[o]`` free blocks per order (``have_blocks`` 0 = unknown);
    ``free_by_type[o, c]`` per migratetype in :data:`MIGRATETYPE_COLUMNS` order
    (``have_types`` 0 = unknown: any block counts as Unmovable/Movable/Reclaimable).

    Returns ``(passed, failed_by, spare_pages, effective_min_pages, usable_free_pages,
    order_checked)``: ``spare_pages`` = usable free - (effective min + reserve), positive
    when the order-0 test passes; ``failed_by`` 0 passed, 1 watermark, 2 order.
    """
    passed = False
    failed_by = FAILED_WATERMARK
    spare = 0
    eff_min = 0
    usable = 0
    order_checked = have_blocks != 0
    attempt = 0
    current_mark = mark
    while attempt < 2:
        attempt += 1
        free = free_pages
        min_mark = current_mark
        if era <= 2:  # A_OFF_BY_TWO, A, A_RHEL6
            if era == 2 or era == 0:
                free -= (1 << order) + 1
            else:
                free -= (1 << order) - 1
            if alloc_flags & _ALLOC_HIGH:
                min_mark -= min_mark // 2
            if alloc_flags & _ALLOC_HARDER:
                min_mark -= min_mark // 4
            usable = free
            if era == 1 and not (alloc_flags & _ALLOC_CMA):
                usable = free - free_cma_pages
            eff_min = min_mark
            spare = usable - (min_mark + lowmem_reserve)
            if spare <= 0:
                passed = False
                failed_by = FAILED_WATERMARK
            elif order == 0 or have_blocks == 0:
                passed = True
                failed_by = PASSED
            else:
                passed = True
                failed_by = PASSED
                if era == 2:
                    # "Don't require any high order page under the min wmark"
                    min_mark = current_mark - zone_min_mark
                    if alloc_flags & _ALLOC_HIGH:
                        min_mark -= min_mark // 2
                    if alloc_flags & _ALLOC_HARDER:
                        min_mark -= min_mark // 4
                for o in range(order):
                    if o < free_blocks.shape[0]:
                        free -= free_blocks[o] << o
                    if era != 2 or o < (pageblock_order >> 2):
                        min_mark >>= 1
                    if free <= min_mark:
                        passed = False
                        failed_by = FAILED_ORDER
                        break
        else:  # B, B_ANY_BLOCK, C, C_FREE_HIGHATOMIC
            free -= (1 << order) - 1
            if era >= 5:
                if not (alloc_flags & _ALLOC_RESERVES):
                    free -= highatomic_pages
            else:
                harder_b = (alloc_flags & (_ALLOC_HARDER | _ALLOC_OOM)) != 0
                if not harder_b:
                    free -= highatomic_pages
            if not (alloc_flags & _ALLOC_CMA):
                free -= free_cma_pages
            free -= unaccepted_pages
            if era >= 5:
                if alloc_flags & _ALLOC_HIGH:  # ALLOC_MIN_RESERVE
                    min_mark -= min_mark // 2
                    if alloc_flags & _ALLOC_HARDER:  # ALLOC_NON_BLOCK
                        min_mark -= min_mark // 4
                if alloc_flags & _ALLOC_OOM:
                    min_mark -= min_mark // 2
            else:
                if alloc_flags & _ALLOC_HIGH:
                    min_mark -= min_mark // 2
                if alloc_flags & (_ALLOC_HARDER | _ALLOC_OOM):
                    if alloc_flags & _ALLOC_OOM:
                        min_mark -= min_mark // 2
                    else:
                        min_mark -= min_mark // 4
            usable = free
            eff_min = min_mark
            spare = free - (min_mark + lowmem_reserve)
            if spare <= 0:
                passed = False
                failed_by = FAILED_WATERMARK
            elif order == 0 or have_blocks == 0:
                passed = True
                failed_by = PASSED
            else:
                passed = False
                failed_by = FAILED_ORDER
                if era >= 5:
                    highatomic_ok = (alloc_flags & (_ALLOC_HIGHATOMIC | _ALLOC_OOM)) != 0
                else:
                    highatomic_ok = (alloc_flags & (_ALLOC_HARDER | _ALLOC_OOM)) != 0
                for o in range(order, free_blocks.shape[0]):
                    if free_blocks[o] == 0:
                        continue
                    if era == 4 and (alloc_flags & (_ALLOC_HARDER | _ALLOC_OOM)):
                        passed = True
                        break
                    if have_types == 0:
                        passed = True
                        break
                    if free_by_type[o, 0] > 0 or free_by_type[o, 1] > 0 or free_by_type[o, 2] > 0:
                        passed = True
                        break
                    if (alloc_flags & _ALLOC_CMA) and free_by_type[o, _COL_CMA] > 0:
                        passed = True
                        break
                    if highatomic_ok and free_by_type[o, _COL_HIGHATOMIC] > 0:
                        passed = True
                        break
                if passed:
                    failed_by = PASSED
        # zone_watermark_fast(): order-0 atomic callers retry against the unboosted MIN.
        if passed or order != 0 or unboosted_mark < 0 or unboosted_mark >= mark:
            break
        current_mark = unboosted_mark
    return passed, failed_by, spare, eff_min, usable, order_checked


@dataclass(frozen=True)
class WatermarkResult:
    """The outcome of one watermark check on one zone (pages).

    ``spare_pages`` > 0 means the order-0 test passed by that many pages; ``failed_by`` is
    ``"watermark"`` (too few free pages), ``"order"`` (no suitable free block) or None.
    ``order_checked`` is False when the free lists were unknown and only the order-0 part
    could be evaluated. ``used_unboosted_mark`` tells that the boost exception decided it.
    """

    passed: bool
    spare_pages: int
    effective_min_pages: int
    reserve_pages: int
    usable_free_pages: int
    failed_by: str | None
    mark_pages: int
    order_checked: bool = True
    used_unboosted_mark: bool = False
    no_watermarks: bool = False


class _OrderCounts(list):
    """Free blocks per order as a plain list with the ``shape`` the core reads.

    The Zone-level wrapper checks one zone at a time: building numpy arrays for eleven
    numbers costs more than the check, and importing numpy (~50 ms) would dominate a
    ``scan`` of a few reports. The core runs unchanged on these (plain Python indexing);
    the simulator still hands it numpy arrays when it compiles it with numba.
    """

    @property
    def shape(self) -> tuple[int]:
        return (len(self),)


class _TypeMatrix:
    """``[order, column]`` free blocks per migratetype, without numpy (see _OrderCounts)."""

    __slots__ = ("rows", "shape")

    def __init__(self, orders: int, columns: int) -> None:
        self.rows = [[0] * columns for _ in range(orders)]
        self.shape = (orders, columns)

    def __getitem__(self, key: tuple[int, int]) -> int:
        order, column = key
        return self.rows[order][column]


def _free_matrix(zone: Zone, orders: int) -> tuple[_TypeMatrix, int]:
    types = _TypeMatrix(orders, len(MIGRATETYPE_COLUMNS))
    by_type = zone.free_blocks_by_migratetype
    if not by_type:
        return types, 0
    rows = types.rows
    for column, name in enumerate(MIGRATETYPE_COLUMNS):
        counts = by_type.get(name)
        if counts is None:
            continue
        for o, n in enumerate(counts[:orders]):
            rows[o][column] = n
    # Pre-4.4 "Reserve" lists behave like the PCP types for this test.
    reserve = by_type.get("Reserve")
    if reserve is not None:
        for o, n in enumerate(reserve[:orders]):
            rows[o][0] += n
    return types, 1


def zone_watermark_ok(
    zone: Zone,
    order: int,
    level: WatermarkLevel | int,
    highest_zoneidx: int,
    alloc_flags: AllocFlags | int,
    era: CheckEra,
    *,
    free_pages: int | None = None,
    gfp_atomic: bool | None = None,
    pageblock_order: int = 9,
) -> WatermarkResult:
    """``zone_watermark_fast``/``__zone_watermark_ok`` for a zone as it stands.

    ``level`` picks min/low/high/promo (boost included, as printed); ``highest_zoneidx`` is
    the reserve index (``classzone_idx`` before 5.8, ``gfp_zone(gfp)`` after: ZONE_NORMAL = 2
    on x86_64 for GFP_KERNEL and GFP_ATOMIC). ``free_pages`` overrides ``zone.free_pages``.
    ``gfp_atomic``: for 5.0 .. 6.2 the boost exception needs ``__GFP_ATOMIC``; when not
    given, ALLOC_HARDER stands in for it.
    """
    if order < 0:
        raise ValueError(f"order must be >= 0, got {order}")
    level = WatermarkLevel(int(level))
    flags = int(alloc_flags)
    mark = zone.watermark_pages(level.name.lower())
    if mark is None:
        raise ValueError(f"zone {zone.name} has no {level.name.lower()} watermark")
    reserve = 0
    if 0 <= highest_zoneidx < len(zone.protection_pages):
        reserve = zone.protection_pages[highest_zoneidx]
    free = zone.free_pages if free_pages is None else free_pages
    if flags & _ALLOC_NO_WATERMARKS:
        return WatermarkResult(
            passed=True,
            spare_pages=free,
            effective_min_pages=0,
            reserve_pages=reserve,
            usable_free_pages=free,
            failed_by=None,
            mark_pages=mark,
            order_checked=False,
            no_watermarks=True,
        )
    orders = max(len(zone.free_blocks or ()), order + 1, 11)
    blocks = _OrderCounts([0] * orders)
    have_blocks = 0
    if zone.free_blocks is not None:
        blocks[: len(zone.free_blocks)] = [int(n) for n in zone.free_blocks]
        have_blocks = 1
    types, have_types = _free_matrix(zone, orders)
    if have_types and not have_blocks:
        blocks[:] = [sum(row) for row in types.rows]
        have_blocks = 1

    if era == CheckEra.C_FREE_HIGHATOMIC:
        highatomic = (
            zone.free_highatomic_pages
            if zone.free_highatomic_pages is not None
            else zone.reserved_highatomic_pages
        )
    else:
        highatomic = zone.reserved_highatomic_pages

    unboosted = -1
    if level == WatermarkLevel.MIN and zone.boost_pages > 0 and era >= CheckEra.B:
        if era >= CheckEra.C:
            exempt = bool(flags & _ALLOC_HIGH)
        else:
            exempt = gfp_atomic if gfp_atomic is not None else bool(flags & _ALLOC_HARDER)
        if exempt:
            unboosted = mark - zone.boost_pages

    passed, failed_by, spare, eff_min, usable, order_checked = watermark_ok_core(
        int(era),
        order,
        mark,
        unboosted,
        zone.min_pages,
        free,
        reserve,
        flags,
        highatomic,
        zone.free_cma_pages,
        0,
        blocks,
        types,
        have_blocks,
        have_types,
        pageblock_order,
    )
    used_unboosted = False
    if unboosted >= 0 and order == 0 and passed:
        # Decide whether the boosted test alone would have passed.
        first = watermark_ok_core(
            int(era),
            order,
            mark,
            -1,
            zone.min_pages,
            free,
            reserve,
            flags,
            highatomic,
            zone.free_cma_pages,
            0,
            blocks,
            types,
            have_blocks,
            have_types,
            pageblock_order,
        )
        used_unboosted = not first[0]
    return WatermarkResult(
        passed=bool(passed),
        spare_pages=int(spare),
        effective_min_pages=int(eff_min),
        reserve_pages=int(reserve),
        usable_free_pages=int(usable),
        failed_by=_FAILED_BY_NAME[int(failed_by)],
        mark_pages=int(mark),
        order_checked=bool(order_checked),
        used_unboosted_mark=used_unboosted,
    )


def effective_min_fraction(mark: int, alloc_flags: int, era: CheckEra) -> int:
    """The reduced ``min`` a caller with ``alloc_flags`` is checked against (order 0, no
    subtractions): kernel-facts §3.4's table, e.g. ``m2`` for GFP_ATOMIC in every era.

    Order 0 with unknown free lists never touches the arrays, so none are built (no numpy).
    """
    return int(
        watermark_ok_core(
            int(era), 0, mark, -1, mark, 0, 0, int(alloc_flags), 0, 0, 0, None, None, 0, 0, 9
        )[3]
    )


#: The ALLOC_ flags GFP_ATOMIC gets in the slow path, the same bits in every era
#: (kernel-facts §3.2): ALLOC_HIGH|ALLOC_HARDER up to 6.2 (``__GFP_HIGH`` plus
#: ``__GFP_ATOMIC``/no ``__GFP_WAIT``), ALLOC_MIN_RESERVE|ALLOC_NON_BLOCK from 6.3.
GFP_ATOMIC_ALLOC_FLAGS = int(AllocFlags.HIGH | AllocFlags.HARDER)


def atomic_floor_pages(zone: Zone, era: CheckEra, highest_zoneidx: int) -> int:
    """Free pages an order-0 GFP_ATOMIC allocation needs the zone to exceed to pass.

    That is the reduced min (about 3/8 of the unboosted MIN: ``zone_watermark_fast``'s boost
    exception applies to GFP_ATOMIC at WMARK_MIN from 5.0) plus the protection for
    ``highest_zoneidx`` plus free CMA pages (GFP_ATOMIC is not movable, so no ALLOC_CMA).
    The highatomic reserve is not subtracted for GFP_ATOMIC in any era.

    >>> from minfree.model.zone import Zone
    >>> z = Zone(0, "DMA32", 1, 9000, 14385, 17981, 21577, protection_pages=(0, 0, 512))
    >>> atomic_floor_pages(z, CheckEra.C, 2)
    5907
    """
    boost = int(getattr(zone, "boost_pages", 0) or 0)
    base_min = zone.min_pages - (boost if era >= CheckEra.B else 0)
    reserve = 0
    if 0 <= highest_zoneidx < len(zone.protection_pages):
        reserve = zone.protection_pages[highest_zoneidx]
    # Zone carries free_cma_pages; a raw ZoneInfoZone has it among its counters.
    cma = getattr(zone, "free_cma_pages", None)
    if cma is None:
        cma = getattr(zone, "counters", {}).get("nr_free_cma", 0)
    if era == CheckEra.A_RHEL6:
        cma = 0
    return effective_min_fraction(base_min, GFP_ATOMIC_ALLOC_FLAGS, era) + reserve + cma
