"""A small pure-Python buddy allocator: the reference the compiled engine is tested against.

Written for clarity, not speed: free lists are Python lists with the head at index 0, the
page map is a dict. It follows the same rules as :mod:`minfree.simulation.buddy` (smallest
order first, head of the list, split keeps the low half, merge only with a free buddy of
the same order, freed block to the head), so both must return the same frames for the same
operation sequence.

    >>> ref = ReferenceBuddy([8])
    >>> ref.alloc(0, 0), ref.alloc(0, 1), ref.free_blocks(0)
    (0, 2, [1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
"""

from __future__ import annotations

NR_ORDERS = 11
MAX_BLOCK_PAGES = 1 << (NR_ORDERS - 1)


class ReferenceBuddy:
    """Zones laid out like :class:`minfree.simulation.buddy.BuddyArrays` (same frame numbers)."""

    def __init__(self, zone_pages: list[int]):
        self.zbase: list[int] = []
        self.zsize: list[int] = list(zone_pages)
        cursor = 0
        for pages in zone_pages:
            self.zbase.append(cursor)
            cursor += -(-pages // MAX_BLOCK_PAGES) * MAX_BLOCK_PAGES
        self.lists: list[list[list[int]]] = [[[] for _ in range(NR_ORDERS)] for _ in zone_pages]
        self.free_map: dict[int, int] = {}
        self.alloc_map: dict[int, int] = {}
        for z, pages in enumerate(zone_pages):
            base, pfn = self.zbase[z], self.zbase[z]
            while pfn < base + pages:
                order = NR_ORDERS - 1
                while order > 0 and ((pfn - base) % (1 << order) or pfn + (1 << order) > base + pages):
                    order -= 1
                self._add(z, order, pfn)
                pfn += 1 << order

    def _add(self, z: int, order: int, pfn: int) -> None:
        self.lists[z][order].insert(0, pfn)
        self.free_map[pfn] = order

    def _remove(self, z: int, order: int, pfn: int) -> None:
        self.lists[z][order].remove(pfn)
        del self.free_map[pfn]

    def alloc(self, z: int, order: int) -> int:
        """Head frame of a newly allocated block, or -1 when no block of order >= ``order``."""
        for current in range(order, NR_ORDERS):
            if self.lists[z][current]:
                break
        else:
            return -1
        pfn = self.lists[z][current][0]
        self._remove(z, current, pfn)
        while current > order:
            current -= 1
            self._add(z, current, pfn + (1 << current))
        self.alloc_map[pfn] = order
        return pfn

    def free(self, z: int, pfn: int, order: int) -> None:
        if self.alloc_map.get(pfn) != order:
            raise ValueError(f"frame {pfn} is not an allocated block of order {order}")
        del self.alloc_map[pfn]
        base, end = self.zbase[z], self.zbase[z] + self.zsize[z]
        while order < NR_ORDERS - 1:
            buddy = base + ((pfn - base) ^ (1 << order))
            if buddy + (1 << order) > end or self.free_map.get(buddy) != order:
                break
            self._remove(z, order, buddy)
            pfn = min(pfn, buddy)
            order += 1
        self._add(z, order, pfn)

    def free_blocks(self, z: int) -> list[int]:
        """Free blocks per order, as /proc/buddyinfo prints them."""
        return [len(lst) for lst in self.lists[z]]

    def free_pages(self, z: int) -> int:
        return sum(len(lst) << order for order, lst in enumerate(self.lists[z]))
