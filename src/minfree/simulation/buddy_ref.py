"""A small pure-Python buddy allocator: the reference the compiled engine is tested against.

Written for clarity, not speed: free lists are Python lists with the head at index 0, the
page maps are dicts. It follows the same rules as :mod:`minfree.simulation.buddy`, which
are those of mm/page_alloc.c (v6.1) without per-CPU lists: a free list per zone, order and
migratetype; the smallest order first, the head of the list, split keeps the low half and
puts the upper halves on the same type's lists; a freed block merges only with free
buddies of the same order and goes to the head of its pageblock type's list; an allocation
that finds nothing of its type falls back to another type (the largest block first, or the
smallest for a movable allocation that may not claim the pageblock) and may claim the
pageblock; an atomic order > 0 allocation tries the highatomic reserve first and then
reserves its block's pageblock. Both must return the same frames for the same operations.

    >>> ref = ReferenceBuddy([8], pageblock_order=2)
    >>> ref.alloc(0, 0), ref.alloc(0, 1), ref.free_blocks(0)
    (0, 2, [1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0])
"""

from __future__ import annotations

NR_ORDERS = 11
MAX_BLOCK_PAGES = 1 << (NR_ORDERS - 1)
UNMOVABLE, MOVABLE, RECLAIMABLE, HIGHATOMIC = 0, 1, 2, 3
NR_TYPES = 4
FALLBACKS = {UNMOVABLE: (RECLAIMABLE, MOVABLE), MOVABLE: (RECLAIMABLE, UNMOVABLE),
             RECLAIMABLE: (UNMOVABLE, MOVABLE)}
ALLOC_HIGHATOMIC_RESERVE = 1


class ReferenceBuddy:
    """Zones laid out like :class:`minfree.simulation.buddy.BuddyArrays` (same frame numbers)."""

    def __init__(self, zone_pages: list[int], pageblock_order: int = 9):
        self.pageblock_order = pageblock_order
        self.zbase: list[int] = []
        self.zsize: list[int] = list(zone_pages)
        cursor = 0
        for pages in zone_pages:
            self.zbase.append(cursor)
            cursor += -(-pages // MAX_BLOCK_PAGES) * MAX_BLOCK_PAGES
        self.lists = [[[[] for _ in range(NR_TYPES)] for _ in range(NR_ORDERS)]
                      for _ in zone_pages]
        self.free_map: dict[int, tuple[int, int]] = {}  # head frame -> (order, list type)
        self.alloc_map: dict[int, tuple[int, int]] = {}  # head frame -> (order, type)
        self.block_type: dict[int, int] = {}  # pageblock -> type; absent: movable
        self.reserved = [0 for _ in zone_pages]
        for z, pages in enumerate(zone_pages):
            base, pfn = self.zbase[z], self.zbase[z]
            while pfn < base + pages:
                order = NR_ORDERS - 1
                while order > 0 and ((pfn - base) % (1 << order) or pfn + (1 << order) > base + pages):
                    order -= 1
                self._add(z, order, MOVABLE, pfn)
                pfn += 1 << order

    # -- lists ---------------------------------------------------------------------------
    def _add(self, z: int, order: int, mt: int, pfn: int) -> None:
        self.lists[z][order][mt].insert(0, pfn)
        self.free_map[pfn] = (order, mt)

    def _remove(self, z: int, pfn: int) -> int:
        order, mt = self.free_map.pop(pfn)
        self.lists[z][order][mt].remove(pfn)
        return order

    def _type_of(self, pfn: int) -> int:
        return self.block_type.get(pfn >> self.pageblock_order, MOVABLE)

    # -- allocation ----------------------------------------------------------------------
    def _smallest(self, z: int, order: int, mt: int) -> int:
        for current in range(order, NR_ORDERS):
            if self.lists[z][current][mt]:
                pfn = self.lists[z][current][mt][0]
                self._remove(z, pfn)
                while current > order:
                    current -= 1
                    self._add(z, current, mt, pfn + (1 << current))
                return pfn
        return -1

    def _move_block(self, z: int, pfn: int, mt: int) -> tuple[int, int]:
        """(free pages moved to ``mt``, allocated movable pages) of ``pfn``'s pageblock."""
        size = 1 << self.pageblock_order
        start = self.zbase[z] + ((pfn - self.zbase[z]) // size) * size
        if start + size > self.zbase[z] + self.zsize[z]:
            return 0, 0
        moved = movable = 0
        cursor = start
        while cursor < start + size:
            if cursor in self.free_map:
                order, current = self.free_map[cursor]
                if current != mt:
                    self._remove(z, cursor)
                    self._add(z, order, mt, cursor)
                moved += 1 << order
                cursor += 1 << order
                continue
            if self.alloc_map.get(cursor, (0, -1))[1] == MOVABLE:
                movable += 1
            cursor += 1
        return moved, movable

    def _fallback(self, z: int, order: int, start_mt: int) -> bool:
        half = self.pageblock_order // 2

        def suitable(current: int) -> int | None:
            return next((mt for mt in FALLBACKS[start_mt] if self.lists[z][current][mt]), None)

        found = None
        for current in range(NR_ORDERS - 1, order - 1, -1):
            found = suitable(current)
            if found is not None:
                break
        if found is None:
            return False
        can_steal = current >= half or start_mt != MOVABLE
        if not can_steal and current > order:  # a movable allocation: the smallest instead
            current = next(c for c in range(order, NR_ORDERS) if suitable(c) is not None)
            found = suitable(current)
            can_steal = current >= half
        pfn = self.lists[z][current][found][0]
        old = self._type_of(pfn)
        whole = False
        if old == HIGHATOMIC:
            pass
        elif current >= self.pageblock_order:
            for block in range(pfn >> self.pageblock_order,
                               ((pfn + (1 << current) - 1) >> self.pageblock_order) + 1):
                self.block_type[block] = start_mt
        elif can_steal:
            moved, movable = self._move_block(z, pfn, start_mt)
            if moved:
                whole = True
                if start_mt == MOVABLE:
                    alike = movable
                elif old == MOVABLE:
                    alike = (1 << self.pageblock_order) - (moved + movable)
                else:
                    alike = 0
                if moved + alike >= 1 << (self.pageblock_order - 1):
                    self.block_type[pfn >> self.pageblock_order] = start_mt
        if not whole:
            self._remove(z, pfn)
            self._add(z, current, start_mt, pfn)
        return True

    def alloc(self, z: int, order: int, mt: int = MOVABLE, flags: int = 0) -> int:
        """Head frame of a newly allocated block, or -1 when nothing can serve it."""
        atomic = bool(flags & ALLOC_HIGHATOMIC_RESERVE) and order > 0
        pfn = self._smallest(z, order, HIGHATOMIC) if atomic else -1
        if pfn < 0:
            pfn = self._smallest(z, order, mt)
        if pfn < 0 and self._fallback(z, order, mt):
            pfn = self._smallest(z, order, mt)
        if pfn < 0:
            return -1
        self.alloc_map[pfn] = (order, mt)
        if atomic:
            limit = self.zsize[z] // 100 + (1 << self.pageblock_order)
            block = pfn >> self.pageblock_order
            if self.reserved[z] < limit and self._type_of(pfn) != HIGHATOMIC:
                self.reserved[z] += 1 << self.pageblock_order
                self.block_type[block] = HIGHATOMIC
                self._move_block(z, pfn, HIGHATOMIC)
        return pfn

    def free(self, z: int, pfn: int, order: int) -> None:
        if self.alloc_map.get(pfn, (-1, -1))[0] != order:
            raise ValueError(f"frame {pfn} is not an allocated block of order {order}")
        del self.alloc_map[pfn]
        mt = self._type_of(pfn)
        base, end = self.zbase[z], self.zbase[z] + self.zsize[z]
        while order < NR_ORDERS - 1:
            buddy = base + ((pfn - base) ^ (1 << order))
            if buddy + (1 << order) > end or self.free_map.get(buddy, (-1,))[0] != order:
                break
            self._remove(z, buddy)
            pfn = min(pfn, buddy)
            order += 1
        self._add(z, order, mt, pfn)

    def unreserve_highatomic(self, z: int, mt: int, force: bool = False) -> int:
        size = 1 << self.pageblock_order
        if self.reserved[z] <= 0 or (not force and self.reserved[z] <= size):
            return 0
        for order in range(NR_ORDERS):
            if not self.lists[z][order][HIGHATOMIC]:
                continue
            pfn = self.lists[z][order][HIGHATOMIC][0]
            if self._type_of(pfn) == HIGHATOMIC:
                self.reserved[z] -= min(size, self.reserved[z])
            self.block_type[pfn >> self.pageblock_order] = mt
            moved, _ = self._move_block(z, pfn, mt)
            if moved:
                return moved
        return 0

    # -- views ---------------------------------------------------------------------------
    def free_blocks(self, z: int) -> list[int]:
        """Free blocks per order, as /proc/buddyinfo prints them."""
        return [sum(len(lst) for lst in by_type) for by_type in self.lists[z]]

    def free_list(self, z: int, order: int, mt: int) -> list[int]:
        return list(self.lists[z][order][mt])

    def free_pages(self, z: int) -> int:
        return sum(sum(len(lst) for lst in by_type) << order
                   for order, by_type in enumerate(self.lists[z]))
