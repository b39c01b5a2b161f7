"""External fragmentation as the kernel measures it (``mm/vmstat.c``, identical 3.10 .. 6.19).

From a zone's free blocks per order (``/proc/buddyinfo``) ``fill_contig_page_info()`` gets,
for a requested order ``o``: the number of free blocks, the free pages, and the number of
free blocks of order >= ``o`` counted in units of ``o`` ("suitable" blocks). From those:

- the **unusable free space index** (``/sys/kernel/debug/extfrag/unusable_index``): the share
  of free memory, in thousandths, that cannot serve an order-``o`` request (0 = none
  fragmented; 1000 = all of it, also when nothing is free);
- the **fragmentation index** (``extfrag_index``, ``fragmentation_index()`` used by
  compaction): -1000 when the request would succeed; otherwise towards 0 the failure is for
  lack of memory, towards 1000 for fragmentation. Compaction skips a zone when
  ``0 <= index <= vm.extfrag_threshold`` (default 500).

Values are integers in thousandths, as the kernel computes them; :func:`format_index` prints
them the way debugfs does.

>>> blocks = (100, 50, 0, 0, 0, 0, 0, 0, 0, 0, 0)   # 200 free pages, nothing above order 1
>>> unusable_free_index(blocks, 2), fragmentation_index(blocks, 2)
(1000, 660)
>>> format_index(fragmentation_index(blocks, 1), width=2)
'-1.000'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: Compaction's default ``vm.extfrag_threshold``.
DEFAULT_EXTFRAG_THRESHOLD = 500
#: ``PAGE_ALLOC_COSTLY_ORDER``: from 4.x the extfrag test applies only above it.
PAGE_ALLOC_COSTLY_ORDER = 3


@dataclass(frozen=True)
class ContigPageInfo:
    """``struct contig_page_info`` for one order."""

    free_pages: int
    free_blocks_total: int
    free_blocks_suitable: int


def contig_page_info(free_blocks: Sequence[int], order: int) -> ContigPageInfo:
    """``fill_contig_page_info()``: totals over all orders, suitable blocks for ``order``."""
    if order < 0:
        raise ValueError(f"order must be >= 0, got {order}")
    free_pages = 0
    total = 0
    suitable = 0
    for k, blocks in enumerate(free_blocks):
        blocks = int(blocks)
        total += blocks
        free_pages += blocks << k
        if k >= order:
            suitable += blocks << (k - order)
    return ContigPageInfo(free_pages, total, suitable)


def unusable_free_index(free_blocks: Sequence[int], order: int) -> int:
    """Unusable free space index for ``order`` in thousandths (``unusable_free_index()``)."""
    info = contig_page_info(free_blocks, order)
    if info.free_pages == 0:
        return 1000  # no free memory: all of it is unusable
    return (info.free_pages - (info.free_blocks_suitable << order)) * 1000 // info.free_pages


def fragmentation_index(free_blocks: Sequence[int], order: int) -> int:
    """Fragmentation index for ``order`` in thousandths (``__fragmentation_index()``).

    Besides -1000 ("would succeed") the formula itself can go below 0 when a few blocks hold
    nearly ``requested`` pages each (one order-0 block, order 1: -500); the kernel prints
    such values as they are, and compaction then treats the zone as suitable.
    """
    if order < 0:
        raise ValueError(f"order must be >= 0, got {order}")
    return fragmentation_index_core([int(blocks) for blocks in free_blocks], order)


def fragmentation_index_core(free_blocks, order: int) -> int:
    """:func:`fragmentation_index` on plain integers (``fill_contig_page_info`` inlined).

    Written so that numba compiles *this function object* for the simulator's compaction
    (``minfree.simulation.compaction``), as it does the watermark check's core: one
    implementation of the kernel's formula. ``free_blocks`` is any indexable sequence of
    block counts per order (a list here, a numpy row there).
    """
    requested = 1 << order
    free_pages = 0
    total = 0
    suitable = 0
    for k in range(len(free_blocks)):
        blocks = free_blocks[k]
        total += blocks
        free_pages += blocks << k
        if k >= order:
            suitable += blocks << (k - order)
    if total == 0:
        return 0
    if suitable:
        return -1000  # the request would succeed
    return 1000 - (1000 + free_pages * 1000 // requested) // total


def extfrag_for_order(free_blocks: Sequence[int], order: int) -> int:
    """Percentage of free memory unusable for ``order`` (6.x ``extfrag_for_order()``, used by
    proactive compaction); 0 when nothing is free."""
    info = contig_page_info(free_blocks, order)
    if info.free_pages == 0:
        return 0
    return (info.free_pages - (info.free_blocks_suitable << order)) * 100 // info.free_pages


def format_index(value: int, width: int = 1) -> str:
    """Print like debugfs: ``%d.%03d`` (unusable) or ``%2d.%03d`` (extfrag, ``width=2``).

    C truncates towards zero, so -1000 prints ``-1.000``.
    """
    whole = int(value / 1000)
    frac = abs(value) - abs(whole) * 1000
    return f"{whole:{width}d}.{frac:03d}"


def highest_free_order(free_blocks: Sequence[int]) -> int:
    """Highest order with at least one free block; -1 when nothing is free."""
    for order in range(len(free_blocks) - 1, -1, -1):
        if free_blocks[order] > 0:
            return order
    return -1


def free_pages_at_or_above(free_blocks: Sequence[int], order: int) -> int:
    """Free pages held in blocks of order >= ``order``."""
    return sum(int(n) << k for k, n in enumerate(free_blocks) if k >= order)


def compaction_suitable_by_index(
    free_blocks: Sequence[int], order: int, extfrag_threshold: int = DEFAULT_EXTFRAG_THRESHOLD
) -> bool:
    """False when compaction would skip the zone as "not suitable" for ``order``: the index
    says the failure is for lack of memory (``0 <= index <= extfrag_threshold``). 4.x+
    applies this only for ``order > PAGE_ALLOC_COSTLY_ORDER``."""
    if order <= PAGE_ALLOC_COSTLY_ORDER:
        return True
    index = fragmentation_index(free_blocks, order)
    return not (0 <= index <= extfrag_threshold)


@dataclass(frozen=True)
class ZoneFragmentation:
    """Every index of one zone, one entry per order (thousandths)."""

    free_blocks: tuple[int, ...]
    free_pages: int
    unusable_index: tuple[int, ...]
    fragmentation_index: tuple[int, ...]
    highest_free_order: int
    free_pages_at_or_above: tuple[int, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "free_blocks": list(self.free_blocks),
            "free_pages": self.free_pages,
            "unusable_index": [v / 1000 for v in self.unusable_index],
            "fragmentation_index": [v / 1000 for v in self.fragmentation_index],
            "highest_free_order": self.highest_free_order,
            "free_pages_at_or_above": list(self.free_pages_at_or_above),
        }


def zone_fragmentation(free_blocks: Sequence[int]) -> ZoneFragmentation:
    """All indices for a zone's free lists (what debugfs ``extfrag/*`` prints, per order)."""
    blocks = tuple(int(b) for b in free_blocks)
    orders = range(len(blocks))
    return ZoneFragmentation(
        free_blocks=blocks,
        free_pages=sum(n << k for k, n in enumerate(blocks)),
        unusable_index=tuple(unusable_free_index(blocks, o) for o in orders),
        fragmentation_index=tuple(fragmentation_index(blocks, o) for o in orders),
        highest_free_order=highest_free_order(blocks),
        free_pages_at_or_above=tuple(free_pages_at_or_above(blocks, o) for o in orders),
    )
