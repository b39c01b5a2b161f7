"""One memory zone as the page allocator sees it: the shared currency of minfree.

Both ``/proc/zoneinfo`` (pages) and a failure report's Mem-Info block (kB, converted to
pages with the page size the report's buddy lines reveal) become :class:`Zone` values, and
the kernel model (:mod:`minfree.kernel`) computes on them. Units are in the field names.

Example::

    >>> z = Zone(node=0, name="Normal", index=2, free_pages=1000, min_pages=700,
    ...          low_pages=875, high_pages=1050, managed_pages=131072)
    >>> z.headroom_pages("min")
    300
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

#: Zone names in kernel index order for the usual configurations. The real index of a zone
#: is its position in the node's list in /proc/zoneinfo (which prints empty zones too);
#: this table is only a fallback for sources that omit empty zones (failure reports).
ZONE_ORDER_X86_64: tuple[str, ...] = ("DMA", "DMA32", "Normal", "Movable", "Device")
ZONE_ORDER_32BIT: tuple[str, ...] = ("DMA", "Normal", "HighMem", "Movable", "Device")


@dataclass(frozen=True)
class Zone:
    """A zone's free memory, watermarks and free lists, all in pages.

    ``min_pages``/``low_pages``/``high_pages``/``promo_pages`` are as the kernel prints them,
    i.e. including ``boost_pages`` on 5.0+ kernels. ``protection_pages`` is the
    ``lowmem_reserve`` row (one entry per zone index of the node). ``free_blocks`` holds the
    buddy counts per order (blocks, not pages), when known; ``free_blocks_by_migratetype``
    maps a migratetype name ("Unmovable", "Movable", "Reclaimable", "HighAtomic", "CMA",
    "Isolate", "Reserve") to counts per order, when /proc/pagetypeinfo (or letters in a
    report's buddy line) tell us. ``None`` means unknown, never zero.
    """

    node: int
    name: str
    index: int
    free_pages: int
    min_pages: int
    low_pages: int
    high_pages: int
    promo_pages: int | None = None
    boost_pages: int = 0
    spanned_pages: int | None = None
    present_pages: int | None = None
    managed_pages: int | None = None
    cma_pages: int | None = None
    protection_pages: tuple[int, ...] = ()
    free_blocks: tuple[int, ...] | None = None
    free_blocks_by_migratetype: Mapping[str, tuple[int, ...]] | None = None
    #: orders whose free list was capped by the kernel (``>100000`` in pagetypeinfo)
    capped_orders: frozenset[int] = field(default_factory=frozenset)
    reserved_highatomic_pages: int = 0
    free_highatomic_pages: int | None = None
    free_cma_pages: int = 0
    #: per-cpu vmstat drift bound: ``vm stats threshold`` (per CPU), when printed
    stat_threshold_pages: int | None = None

    @property
    def key(self) -> tuple[int, str]:
        """(node, zone name): unique within one host."""
        return (self.node, self.name)

    @property
    def populated(self) -> bool:
        """A zone with managed pages (kernel: ``populated_zone`` uses present; we use managed
        when known because an empty-managed zone can hold no free pages)."""
        if self.managed_pages is not None:
            return self.managed_pages > 0
        return (self.present_pages or 0) > 0 or self.free_pages > 0

    def watermark_pages(self, level: str) -> int | None:
        """The watermark named ``min``, ``low``, ``high`` or ``promo`` (boost included)."""
        return {
            "min": self.min_pages,
            "low": self.low_pages,
            "high": self.high_pages,
            "promo": self.promo_pages,
        }[level]

    def headroom_pages(self, level: str) -> int | None:
        """Free pages above the named watermark (negative: below it)."""
        mark = self.watermark_pages(level)
        return None if mark is None else self.free_pages - mark

    def highest_free_order(self) -> int | None:
        """Highest order with at least one free block; -1 if there are none; None if unknown."""
        if self.free_blocks is None:
            return None
        for order in range(len(self.free_blocks) - 1, -1, -1):
            if self.free_blocks[order] > 0:
                return order
        return -1
