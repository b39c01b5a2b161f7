"""The kernel's own choice of ``vm.min_free_kbytes``: the square-root default, the rule that a
user-written value is preferred, and the transparent-hugepage (khugepaged) recommendation.

Three sources can set ``min_free_kbytes`` on a running kernel (kernel-facts §1):

1. **The square-root rule** (``init_per_zone_wmark_min()`` <= 6.0,
   ``calculate_min_free_kbytes()`` 6.1+, mm/page_alloc.c): ``int_sqrt(lowmem_kbytes * 16)``
   clamped to [128, CAP], where ``lowmem_kbytes`` is ``nr_free_buffer_pages()`` in kB and CAP
   is 65536 up to 5.6 and 262144 from 5.7 (Joel Savitz, "mm/page_alloc: increase default
   min_free_kbytes bound"; also in RHEL7 3.10.0-1160).
2. **A user value** (4.4+ and RHEL7: ``user_min_free_kbytes``): a later recalculation (memory
   hotplug, deferred init) keeps it unless the new default is larger.
3. **The THP recommendation** (``set_recommended_min_free_kbytes()``, mm/khugepaged.c 4.8+,
   mm/huge_memory.c before): while THP is ``always`` or ``madvise``,
   ``11 * pageblock_nr_pages * nr_zones`` pages, at most 5% of ``nr_free_buffer_pages()``;
   it only ever raises the value. ``nr_zones`` counts populated zones, from 4.19 only those
   at or below ZONE_NORMAL (Movable excluded; absent 4.14.5, present 4.19.0).

On this project's 6.18 reference host, 3 populated zones (DMA, DMA32, Normal) x 11 x 512
pages x 4 kB = **67584 kB**, which is the running value::

    >>> from minfree.model.zone import Zone
    >>> zones = [Zone(0, "DMA", 0, 0, 0, 0, 81, present_pages=3998, managed_pages=3840),
    ...          Zone(0, "DMA32", 1, 0, 0, 0, 16741, present_pages=782336, managed_pages=772918),
    ...          Zone(0, "Normal", 2, 0, 0, 0, 8516, present_pages=5505024, managed_pages=393216),
    ...          Zone(0, "Movable", 3, 0, 32, 32, 32, present_pages=0, managed_pages=0)]
    >>> thp_recommended_min_free_kbytes(zones)
    67584
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from minfree.kernel.release import KernelRelease

#: ``min_free_kbytes`` floor of the square-root rule (every era).
MIN_FREE_FLOOR_KB = 128
#: Cap up to 5.6 (2.6.32, 3.10.4, 4.4, 4.9, 4.14, 4.19, 5.4.286 read).
MIN_FREE_CAP_OLD_KB = 65536
#: Cap from 5.7 (5.10.7+ read) and in RHEL7 3.10.0-1160.
MIN_FREE_CAP_NEW_KB = 262144
#: ``MIGRATE_PCPTYPES`` (Unmovable, Movable, Reclaimable) in every version.
MIGRATE_PCPTYPES = 3
#: Zones a GFP_USER allocation may use (``gfp_zone(GFP_USER) == ZONE_NORMAL``).
LOWMEM_ZONE_NAMES = frozenset({"DMA", "DMA32", "Normal"})


def min_free_cap_kbytes(release: KernelRelease | None) -> tuple[int, str]:
    """The square-root rule's upper bound for a release, and why.

    RHEL7 (3.10.0-1160) carries the 5.7 raise; RHEL8 4.18 is assumed to as well (the patch
    came from Red Hat) but was not checked in source. Unknown release: current kernels.
    """
    if release is None:
        return MIN_FREE_CAP_NEW_KB, "release unknown: current kernels (262144, 5.7+)"
    if release.rhel in (7, 8):
        return MIN_FREE_CAP_NEW_KB, f"RHEL{release.rhel} backport of the 5.7 raise"
    if release >= (5, 7):
        return MIN_FREE_CAP_NEW_KB, "5.7+: cap raised to 262144"
    return MIN_FREE_CAP_OLD_KB, "before 5.7: cap 65536"


def _size(zone: Any) -> int:
    managed = getattr(zone, "managed_pages", None)
    if managed is not None:
        return int(managed)
    return int(getattr(zone, "present_pages", None) or 0)


def nr_free_buffer_pages(
    zones: Sequence[Any], *, at_boot: bool = False, lowmem_managed_pages: int | None = None
) -> int:
    """``nr_free_buffer_pages()``: sum over zones <= ZONE_NORMAL of all nodes of
    ``max(0, managed - high_wmark_pages)``.

    ``high_wmark_pages()`` includes the boost on 5.0+ (the printed ``high`` does too).
    ``at_boot``: watermarks are still 0 when the kernel first evaluates the rule.
    2.6.x used ``present`` (taken when no ``managed`` is known).
    ``lowmem_managed_pages`` replaces the zones' managed total where the zone list
    under-reports it: on a kernel that initialises memory lazily (this project's Firecracker
    6.18 host) the count the rule uses is MemTotal, while zoneinfo shows only the part
    initialised so far.
    """
    total = 0
    highs = 0
    for z in zones:
        if z.name not in LOWMEM_ZONE_NAMES:
            continue
        high = 0 if at_boot else int(getattr(z, "high_pages", 0) or 0)
        total += max(0, _size(z) - high)
        highs += high
    if lowmem_managed_pages is not None:
        return max(0, lowmem_managed_pages - highs)
    return total


@dataclass(frozen=True)
class MinFreeDefault:
    """The square-root rule worked out: ``kbytes`` is what the kernel would set."""

    kbytes: int
    unclamped_kbytes: int
    cap_kbytes: int
    lowmem_kbytes: int
    cap_reason: str
    at_boot: bool

    @property
    def capped(self) -> bool:
        return self.unclamped_kbytes > self.cap_kbytes


def default_min_free_detail(
    zones: Sequence[Any],
    *,
    page_size_bytes: int = 4096,
    release: KernelRelease | None = None,
    at_boot: bool = True,
    lowmem_managed_pages: int | None = None,
) -> MinFreeDefault:
    """The square-root default with its inputs (see :func:`default_min_free_kbytes`)."""
    free_buffer = nr_free_buffer_pages(
        zones, at_boot=at_boot, lowmem_managed_pages=lowmem_managed_pages
    )
    lowmem_kbytes = free_buffer * (page_size_bytes // 1024)
    raw = math.isqrt(lowmem_kbytes * 16)  # int_sqrt(lowmem_kbytes * 16)
    cap, why = min_free_cap_kbytes(release)
    return MinFreeDefault(
        kbytes=min(max(raw, MIN_FREE_FLOOR_KB), cap),
        unclamped_kbytes=raw,
        cap_kbytes=cap,
        lowmem_kbytes=lowmem_kbytes,
        cap_reason=why,
        at_boot=at_boot,
    )


def default_min_free_kbytes(
    zones: Sequence[Any],
    *,
    page_size_bytes: int = 4096,
    release: KernelRelease | None = None,
    at_boot: bool = True,
) -> int:
    """The kernel's square-root default for these zones, in kB.

    ``at_boot=True`` (default) gives the value of a fresh boot with today's zone sizes
    (watermarks still 0); ``False`` gives what a runtime recalculation (memory hotplug,
    deferred init) computes, subtracting today's HIGH watermarks.

    >>> from minfree.model.zone import Zone
    >>> default_min_free_kbytes([Zone(0, "Normal", 0, 0, 0, 0, 0, managed_pages=262144)])
    4096
    """
    return default_min_free_detail(
        zones, page_size_bytes=page_size_bytes, release=release, at_boot=at_boot
    ).kbytes


def after_recalculation_kbytes(
    new_default_kbytes: int,
    current_kbytes: int,
    *,
    user_set: bool,
    release: KernelRelease | None = None,
) -> int:
    """What a runtime recalculation leaves: a user value is kept unless the new default is
    larger (4.4+, RHEL7); upstream before 4.4 (3.10.4 read) had no guard and overwrote it."""
    guarded = release is None or release >= (4, 4) or release.rhel == 7
    if user_set and guarded and new_default_kbytes <= current_kbytes:
        return current_kbytes
    return new_default_kbytes


def thp_mode(text: str | None) -> str | None:
    """``always [madvise] never`` -> ``madvise``; a bare word is returned as is."""
    if text is None:
        return None
    text = text.strip()
    if "[" in text and "]" in text:
        return text[text.index("[") + 1 : text.index("]")].strip() or None
    return text or None


def thp_active(enabled: str | None, pmd_enabled: str | None = None) -> bool:
    """Whether khugepaged runs, so the THP recommendation applies.

    ``enabled`` is ``/sys/kernel/mm/transparent_hugepage/enabled``; ``pmd_enabled`` the
    6.12+ ``hugepages-<PMD size>kB/enabled`` (``inherit`` follows ``enabled``).
    """
    mode = thp_mode(enabled)
    pmd = thp_mode(pmd_enabled)
    if pmd is not None and pmd != "inherit":
        return pmd in ("always", "madvise")
    return mode in ("always", "madvise")


def pageblock_order_for_page_size(page_size_bytes: int) -> int:
    """``pageblock_order`` = HPAGE_PMD_ORDER: a PMD maps ``page_size / 8`` pages
    (9 for 4 KiB, 11 for 16 KiB, 13 for 64 KiB pages). Prefer pagetypeinfo's value."""
    return (page_size_bytes // 8).bit_length() - 1


@dataclass(frozen=True)
class ThpRecommendation:
    """``set_recommended_min_free_kbytes()`` worked out."""

    kbytes: int
    pages: int
    uncapped_pages: int
    cap_pages: int
    nr_zones: int
    pageblock_pages: int

    @property
    def capped(self) -> bool:
        return self.uncapped_pages > self.cap_pages


def thp_recommendation_detail(
    zones: Sequence[Any],
    *,
    page_size_bytes: int = 4096,
    pageblock_order: int | None = None,
    release: KernelRelease | None = None,
) -> ThpRecommendation:
    """The THP recommendation with its inputs (see :func:`thp_recommended_min_free_kbytes`)."""
    order = (
        pageblock_order
        if pageblock_order is not None
        else (pageblock_order_for_page_size(page_size_bytes))
    )
    block = 1 << order
    movable_excluded = release is None or release >= (4, 19) or release.rhel == 8
    nr_zones = 0
    for z in zones:
        present = getattr(z, "present_pages", None)
        populated = (present if present is not None else _size(z)) > 0  # populated_zone()
        if not populated:
            continue
        if movable_excluded and z.name not in LOWMEM_ZONE_NAMES:
            continue
        nr_zones += 1
    # "Make sure at least 2 free pageblocks" + MIGRATE_PCPTYPES^2 blocks for fallbacks.
    recommended = block * nr_zones * 2 + block * nr_zones * MIGRATE_PCPTYPES * MIGRATE_PCPTYPES
    cap = nr_free_buffer_pages(zones) // 20  # never more than 5% of lowmem
    pages = min(recommended, cap)
    return ThpRecommendation(
        kbytes=pages * (page_size_bytes // 1024),
        pages=pages,
        uncapped_pages=recommended,
        cap_pages=cap,
        nr_zones=nr_zones,
        pageblock_pages=block,
    )


def thp_recommended_min_free_kbytes(
    zones: Sequence[Any],
    *,
    page_size_bytes: int = 4096,
    pageblock_order: int | None = None,
    release: KernelRelease | None = None,
) -> int:
    """khugepaged's recommendation in kB (whether or not THP is on; see :func:`thp_active`).

    ``zones`` are all zones with ``present``/``managed`` and current ``high`` (the 5% cap uses
    ``nr_free_buffer_pages()`` at the time khugepaged runs).
    """
    return thp_recommendation_detail(
        zones, page_size_bytes=page_size_bytes, pageblock_order=pageblock_order, release=release
    ).kbytes


@dataclass(frozen=True)
class ExpectedMinFree:
    """The value the kernel itself would hold, and which rule decided it."""

    kbytes: int
    rule: str  # "sqrt default", "user value", "THP recommendation"
    default: MinFreeDefault
    thp: ThpRecommendation
    thp_active: bool


def expected_min_free_kbytes(
    zones: Sequence[Any],
    *,
    thp_enabled: str | None,
    thp_pmd_enabled: str | None = None,
    user_value_kbytes: int | None = None,
    page_size_bytes: int = 4096,
    pageblock_order: int | None = None,
    release: KernelRelease | None = None,
    at_boot: bool = True,
) -> ExpectedMinFree:
    """``min_free_kbytes`` as the kernel would leave it: the sqrt default (or a preferred
    user value), raised to the THP recommendation while khugepaged runs.

    The THP raise applies even above a user value ("raising min_free_kbytes from %d to %lu
    to help transparent hugepage allocations", 4.4+).
    """
    default = default_min_free_detail(
        zones, page_size_bytes=page_size_bytes, release=release, at_boot=at_boot
    )
    thp = thp_recommendation_detail(
        zones, page_size_bytes=page_size_bytes, pageblock_order=pageblock_order, release=release
    )
    active = thp_active(thp_enabled, thp_pmd_enabled)
    value, rule = default.kbytes, "sqrt default"
    if user_value_kbytes is not None:
        value = after_recalculation_kbytes(
            default.kbytes, user_value_kbytes, user_set=True, release=release
        )
        if value == user_value_kbytes:
            rule = "user value"
    if active and thp.kbytes > value:
        value, rule = thp.kbytes, "THP recommendation"
    return ExpectedMinFree(kbytes=value, rule=rule, default=default, thp=thp, thp_active=active)
