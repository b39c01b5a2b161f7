"""The watermark check the engines call: the kernel module's own core, compiled with numba.

:func:`minfree.kernel.watermark_check.watermark_ok_core` is written on plain integers so
that this module can compile *that very function object* (``numba.njit(core)``); the
simulator, ``inspect`` and the scan's verdicts therefore share one implementation of
``__zone_watermark_ok`` (and of ``zone_watermark_fast``'s boost exception). The thin
wrapper :func:`zone_ok` only gathers the zone's numbers from the engine's arrays.
"""

from __future__ import annotations

import numba
import numpy as np

from minfree.kernel import watermark_check as _wc

#: The kernel module's function, compiled (the same function object, never a copy).
watermark_ok_compiled = numba.njit(cache=True, _nrt=False)(_wc.watermark_ok_core)

#: Migratetype columns the core reads. An engine hands the check a type matrix per zone,
#: ``types[z]``: rows 0..orders-1 are free blocks per order and type (the exact engine's
#: allocator keeps them, :class:`minfree.simulation.buddy.MigrateState`), and the last row
#: holds the zone's reserved highatomic pages (column 0) and whether the counts are kept
#: (column 1). Where they are not (the fast engine; the exact one without migratetypes)
#: ``have_types=0`` tells the core that any free block counts (kernel-facts §3.3: exact
#: unless all high-order blocks are CMA or HighAtomic, which such a model never has).
N_TYPE_COLUMNS = len(_wc.MIGRATETYPE_COLUMNS)


def empty_type_matrix(zones: int, orders: int) -> np.ndarray:
    """A type matrix per zone with no counts kept (see :data:`N_TYPE_COLUMNS`)."""
    return np.zeros((zones, orders + 1, N_TYPE_COLUMNS), dtype=np.int64)


@numba.njit(cache=True, _nrt=False)
def zone_check(era, free_pages, order, mark, unboosted_mark, zone_min, reserve, alloc_flags,
               nr_free, z, types, pageblock_order):
    """(passed, failed_by, spare_pages) of ``__zone_watermark_ok`` for zone ``z``: no CMA
    and no unaccepted memory in the model; the highatomic reserve and the per-type counts
    from ``types[z]`` where they are kept. ``unboosted_mark`` is -1 unless the boost
    exception applies (order-0 reserve users at MIN)."""
    zone_types = types[z]
    extra = zone_types.shape[0] - 1
    have_types = zone_types[extra, 1]
    highatomic = zone_types[extra, 0] if have_types else 0
    result = watermark_ok_compiled(era, order, mark, unboosted_mark, zone_min, free_pages,
                                   reserve, alloc_flags, highatomic, 0, 0, nr_free[z],
                                   zone_types[:extra], 1, have_types, pageblock_order)
    return result[0], result[1], result[2]


@numba.njit(cache=True, _nrt=False)
def zone_ok(era, free_pages, order, mark, reserve, alloc_flags, nr_free, z, types,
            pageblock_order):
    """Passed or not, for a check with no boost exception."""
    return zone_check(era, free_pages, order, mark, -1, mark, reserve, alloc_flags, nr_free, z,
                      types, pageblock_order)[0]
