"""``/proc/buddyinfo``: free blocks per order for each zone (blocks, not pages)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BuddyZone:
    """One ``Node N, zone NAME c0 c1 ...`` line: ``free_blocks[k]`` blocks of 2**k pages."""

    node: int
    name: str
    free_blocks: tuple[int, ...]

    @property
    def free_pages(self) -> int:
        """Pages held in the free lists (sum of ``count << order``)."""
        return sum(n << k for k, n in enumerate(self.free_blocks))


@dataclass(frozen=True)
class BuddyInfo:
    """A parsed ``/proc/buddyinfo`` (only populated zones are printed by the kernel).

    >>> from minfree.parsers.buddyinfo import parse_buddyinfo
    >>> b = parse_buddyinfo("Node 0, zone   Normal    4    2    1\\n")
    >>> b.free_blocks(0, "Normal"), b.zones[0].free_pages
    ((4, 2, 1), 12)
    """

    zones: tuple[BuddyZone, ...]

    @property
    def orders(self) -> int:
        """Number of order columns (NR_PAGE_ORDERS: 11 on x86_64 with 4 KiB pages)."""
        return max((len(z.free_blocks) for z in self.zones), default=0)

    def free_blocks(self, node: int, name: str) -> tuple[int, ...] | None:
        """Free blocks per order of one zone, or None when the zone is not listed."""
        for z in self.zones:
            if z.node == node and z.name == name:
                return z.free_blocks
        return None
