"""``/proc/pagetypeinfo``: free blocks per order and migratetype, and pageblock counts.

Kernels from 5.4.286 and 6.x cap each free count at 100000 and print ``>100000``
(``pagetypeinfo_showfree_print`` stops walking long lists to avoid holding the zone lock);
such a count is stored as 100000 and its order listed in ``capped_orders``: a lower bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

#: The cap the kernel applies when counting free blocks (mm/vmstat.c).
PAGETYPEINFO_FREE_COUNT_CAP = 100000


@dataclass(frozen=True)
class PageTypeInfo:
    """A parsed ``/proc/pagetypeinfo``; keys are ``(node, zone name)``.

    ``free_blocks_by_type[(node, zone)][migratetype]`` gives blocks per order;
    ``block_counts[(node, zone)][migratetype]`` the number of pageblocks of that type;
    ``mixed_block_counts`` the ``Number of mixed blocks`` section (CONFIG_PAGE_OWNER), if any.
    Migratetype names are kept exactly as printed (``Unmovable``, ``Movable``,
    ``Reclaimable``, ``HighAtomic``, ``CMA``, ``Isolate``, ``Reserve`` on 3.x).

    >>> from minfree.parsers.pagetypeinfo import parse_pagetypeinfo
    >>> p = parse_pagetypeinfo("Page block order: 9\\nPages per block:  512\\n\\n"
    ...     "Free pages count per migrate type at order       0      1\\n"
    ...     "Node    0, zone   Normal, type      Movable     10 >100000\\n")
    >>> p.capped_orders[(0, "Normal")], p.total_free_blocks(0, "Normal")
    (frozenset({1}), (10, 100000))
    """

    pageblock_order: int | None
    pages_per_block: int | None
    free_blocks_by_type: Mapping[tuple[int, str], Mapping[str, tuple[int, ...]]] = field(
        default_factory=dict
    )
    capped_orders: Mapping[tuple[int, str], frozenset[int]] = field(default_factory=dict)
    block_counts: Mapping[tuple[int, str], Mapping[str, int]] = field(default_factory=dict)
    mixed_block_counts: Mapping[tuple[int, str], Mapping[str, int]] = field(default_factory=dict)

    @property
    def zones(self) -> tuple[tuple[int, str], ...]:
        """``(node, zone)`` keys in file order."""
        keys = list(self.free_blocks_by_type)
        keys += [k for k in self.block_counts if k not in self.free_blocks_by_type]
        return tuple(keys)

    @property
    def any_capped(self) -> bool:
        """True when some count was printed as ``>100000`` (a lower bound)."""
        return any(self.capped_orders.values())

    def total_free_blocks(self, node: int, name: str) -> tuple[int, ...] | None:
        """Free blocks per order summed over migratetypes (a lower bound where capped)."""
        rows = self.free_blocks_by_type.get((node, name))
        if not rows:
            return None
        width = max(len(r) for r in rows.values())
        return tuple(sum(r[k] for r in rows.values() if k < len(r)) for k in range(width))
