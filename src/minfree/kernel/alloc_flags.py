"""The page allocator's internal ``ALLOC_*`` flags (``mm/internal.h``).

The bit values are the same in every era (kernel-facts §3.2); what changes is which GFP
masks produce which flags (:mod:`minfree.kernel.gfp`) and how the watermark check uses them
(:mod:`minfree.kernel.watermark_check`). Names follow the kernel; the 6.3+ renames
(ALLOC_HIGH -> ALLOC_MIN_RESERVE, ALLOC_HARDER -> ALLOC_NON_BLOCK, Mel Gorman's
"mm/page_alloc: rename ALLOC_HIGH to ALLOC_MIN_RESERVE", in v6.3) share the old bits.
"""

from __future__ import annotations

import enum


class AllocFlags(enum.IntFlag):
    """``ALLOC_*`` bits. ``WMARK_MIN`` is 0, so the watermark level is kept apart."""

    NO_WATERMARKS = 0x04
    OOM = 0x08  # 4.14+
    HARDER = 0x10  # <= 6.2 name
    HIGH = 0x20  # <= 6.2 name
    CPUSET = 0x40
    CMA = 0x80
    NOFRAGMENT = 0x100  # 5.0+
    HIGHATOMIC = 0x200  # 6.3+ (KSWAPD used 0x200 in 5.4: never compare KSWAPD by value)
    TRYLOCK = 0x400  # 6.19
    KSWAPD = 0x800  # 5.15+ value

    # 6.3+ names of the same bits
    NON_BLOCK = 0x10
    MIN_RESERVE = 0x20

    @property
    def names(self) -> str:
        """Kernel-style ``A|B`` rendering (first name per bit)."""
        return "|".join(member.name for member in type(self) if member in self and member.name)


class WatermarkLevel(enum.IntEnum):
    """``ALLOC_WMARK_MIN/LOW/HIGH`` (values 0, 1, 2) plus PROMO (6.1+ ``WMARK_PROMO``)."""

    MIN = 0
    LOW = 1
    HIGH = 2
    PROMO = 3
