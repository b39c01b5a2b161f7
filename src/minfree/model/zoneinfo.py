"""The full content of ``/proc/zoneinfo`` (pages), and its merge into :class:`Zone` values.

``/proc/zoneinfo`` changed in almost every era (see kernel-facts §6.1): a ``per-node stats``
block appeared in 4.8/4.9, ``managed`` in 3.10, ``boost`` in 6.1, ``cma`` in 5.15, ``promo``
in 6.12, ``high_min``/``high_max`` in the pagesets in 6.7+; 2.6.x kernels printed
``active``/``inactive``/``scanned (a: i:)``. :class:`ZoneInfo` keeps all of it: named fields
for what minfree computes with, ``counters`` for the per-zone vmstat items and ``extra``
for any other line, so nothing a future kernel prints is lost.

:meth:`ZoneInfo.to_zones` merges buddyinfo and pagetypeinfo (same host, same moment, ideally)
into the shared :class:`~minfree.model.zone.Zone` values the kernel model computes on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from minfree.model.buddyinfo import BuddyInfo
from minfree.model.pagetypeinfo import PageTypeInfo
from minfree.model.zone import Zone


@dataclass(frozen=True)
class PageSet:
    """One CPU's per-cpu page list (``pcp``) of a zone, as printed under ``pagesets``.

    ``pcp`` is the list number on 2.6.x kernels that printed two lists per CPU (hot/cold);
    ``high_min``/``high_max`` exist from 6.7 on; ``stat_threshold`` is the
    ``vm stats threshold`` line that follows the CPU (per-cpu vmstat drift bound).
    """

    cpu: int
    count: int | None = None
    high: int | None = None
    batch: int | None = None
    high_min: int | None = None
    high_max: int | None = None
    pcp: int | None = None
    stat_threshold: int | None = None


@dataclass(frozen=True)
class ZoneInfoZone:
    """One ``Node N, zone NAME`` block of ``/proc/zoneinfo``; all counts in pages.

    ``index`` is the zone's index in its node (``zone_idx``): its position in the node's
    list when the kernel prints every zone (4.12+), otherwise inferred from the zone order
    seen across the whole file (old kernels skip empty zones). ``boost_pages``,
    ``promo_pages``, ``managed_pages``, ``cma_pages`` are None when the kernel did not print
    them (older eras), never 0 by default. ``line`` is the 1-based line of the header.
    """

    node: int
    name: str
    index: int
    free_pages: int
    min_pages: int
    low_pages: int
    high_pages: int
    promo_pages: int | None = None
    boost_pages: int | None = None
    spanned_pages: int | None = None
    present_pages: int | None = None
    managed_pages: int | None = None
    cma_pages: int | None = None
    protection_pages: tuple[int, ...] = ()
    #: per-zone vmstat items (``nr_free_pages``, ``nr_zone_active_file``, ``numa_hit`` ...)
    counters: Mapping[str, int] = field(default_factory=dict)
    pagesets: tuple[PageSet, ...] = ()
    start_pfn: int | None = None
    #: every other line, raw value text (``all_unreclaimable``, ``scanned``, ``active`` ...)
    extra: Mapping[str, str] = field(default_factory=dict)
    line: int = 0

    @property
    def stat_threshold_pages(self) -> int | None:
        """The ``vm stats threshold`` (largest printed; all CPUs normally share one value)."""
        values = [p.stat_threshold for p in self.pagesets if p.stat_threshold is not None]
        return max(values) if values else None

    @property
    def populated(self) -> bool:
        """Managed pages > 0 when printed (3.10+), else present pages > 0."""
        if self.managed_pages is not None:
            return self.managed_pages > 0
        return (self.present_pages or 0) > 0


@dataclass(frozen=True)
class ZoneInfo:
    """A parsed ``/proc/zoneinfo``: zones in file order plus each node's ``per-node stats``.

    >>> from minfree.parsers.zoneinfo import parse_zoneinfo
    >>> zi = parse_zoneinfo("Node 0, zone   Normal\\n  pages free 10\\n  min 1\\n  low 2\\n"
    ...                     "  high 3\\n  protection: (0, 0)\\n")
    >>> zi.zone(0, "Normal").high_pages, zi.has_boost
    (3, False)
    """

    zones: tuple[ZoneInfoZone, ...]
    node_stats: Mapping[int, Mapping[str, int]] = field(default_factory=dict)
    source: str = "zoneinfo"

    @property
    def nodes(self) -> tuple[int, ...]:
        """NUMA node ids that have at least one zone, ascending."""
        return tuple(sorted({z.node for z in self.zones}))

    def zone(self, node: int, name: str) -> ZoneInfoZone | None:
        """The zone named ``name`` on ``node``, or None."""
        for z in self.zones:
            if z.node == node and z.name == name:
                return z
        return None

    # Feature detection from the data itself (preferred over version checks).
    @property
    def has_boost(self) -> bool:
        """The kernel prints ``boost`` (6.1+)."""
        return any(z.boost_pages is not None for z in self.zones)

    @property
    def has_promo(self) -> bool:
        """The kernel prints ``promo`` (6.12+)."""
        return any(z.promo_pages is not None for z in self.zones)

    @property
    def has_managed(self) -> bool:
        """The kernel prints ``managed`` (3.10+)."""
        return any(z.managed_pages is not None for z in self.zones)

    @property
    def has_per_node_stats(self) -> bool:
        """A ``per-node stats`` block is present (4.8/4.9+: node-based LRU)."""
        return bool(self.node_stats)

    @property
    def prints_empty_zones(self) -> bool:
        """Empty zones are listed (4.12+), so list position equals the zone index."""
        return any(not z.populated for z in self.zones)

    def to_zones(
        self,
        buddyinfo: BuddyInfo | None = None,
        pagetypeinfo: PageTypeInfo | None = None,
    ) -> tuple[Zone, ...]:
        """Shared :class:`Zone` values: zoneinfo watermarks plus free lists from the others.

        Free blocks per order come from buddyinfo (exact); without it, from pagetypeinfo's
        per-migratetype rows summed, unless a row was capped at ``>100000`` (then unknown,
        ``None``, because the sum would be a lower bound only). ``capped_orders`` lists the
        orders with a capped row. ``reserved_highatomic_pages`` is the HighAtomic pageblock
        count times pages per block (the kernel reserves whole pageblocks,
        ``reserve_highatomic_pageblock()`` in mm/page_alloc.c).
        """
        out: list[Zone] = []
        for z in self.zones:
            key = (z.node, z.name)
            free_blocks: tuple[int, ...] | None = None
            by_type: Mapping[str, tuple[int, ...]] | None = None
            capped: frozenset[int] = frozenset()
            reserved_highatomic = 0
            free_highatomic: int | None = None
            if buddyinfo is not None:
                free_blocks = buddyinfo.free_blocks(z.node, z.name)
            if pagetypeinfo is not None:
                by_type = pagetypeinfo.free_blocks_by_type.get(key)
                capped = pagetypeinfo.capped_orders.get(key, frozenset())
                if by_type is not None:
                    if free_blocks is None and not capped:
                        free_blocks = pagetypeinfo.total_free_blocks(z.node, z.name)
                    if "HighAtomic" in by_type:
                        free_highatomic = sum(n << k for k, n in enumerate(by_type["HighAtomic"]))
                blocks = pagetypeinfo.block_counts.get(key)
                if blocks is not None and pagetypeinfo.pages_per_block:
                    reserved_highatomic = blocks.get("HighAtomic", 0) * pagetypeinfo.pages_per_block
            out.append(
                Zone(
                    node=z.node,
                    name=z.name,
                    index=z.index,
                    free_pages=z.free_pages,
                    min_pages=z.min_pages,
                    low_pages=z.low_pages,
                    high_pages=z.high_pages,
                    promo_pages=z.promo_pages,
                    boost_pages=z.boost_pages or 0,
                    spanned_pages=z.spanned_pages,
                    present_pages=z.present_pages,
                    managed_pages=z.managed_pages,
                    cma_pages=z.cma_pages,
                    protection_pages=z.protection_pages,
                    free_blocks=free_blocks,
                    free_blocks_by_migratetype=by_type,
                    capped_orders=capped,
                    reserved_highatomic_pages=reserved_highatomic,
                    free_highatomic_pages=free_highatomic,
                    free_cma_pages=z.counters.get("nr_free_cma", 0),
                    stat_threshold_pages=z.stat_threshold_pages,
                )
            )
        return tuple(out)
