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

#: Migratetype columns the core reads; the model has no migratetypes, so the matrix is
#: empty and ``have_types=0`` tells the core that any free block counts (kernel-facts §3.3:
#: exact unless all high-order blocks are CMA or HighAtomic, which the model never has).
N_TYPE_COLUMNS = len(_wc.MIGRATETYPE_COLUMNS)


def empty_type_matrix(orders: int) -> np.ndarray:
    return np.zeros((orders, N_TYPE_COLUMNS), dtype=np.int64)


@numba.njit(cache=True, _nrt=False)
def zone_check(era, free_pages, order, mark, unboosted_mark, zone_min, reserve, alloc_flags,
               nr_free, z, types, pageblock_order):
    """(passed, failed_by, spare_pages) of ``__zone_watermark_ok`` for zone ``z``: no CMA,
    no highatomic reserve, no unaccepted memory in the model. ``unboosted_mark`` is -1 unless
    the boost exception applies (order-0 reserve users at MIN)."""
    result = watermark_ok_compiled(era, order, mark, unboosted_mark, zone_min, free_pages,
                                   reserve, alloc_flags, 0, 0, 0, nr_free[z], types, 1, 0,
                                   pageblock_order)
    return result[0], result[1], result[2]


@numba.njit(cache=True, _nrt=False)
def zone_ok(era, free_pages, order, mark, reserve, alloc_flags, nr_free, z, types,
            pageblock_order):
    """Passed or not, for a check with no boost exception."""
    return zone_check(era, free_pages, order, mark, -1, mark, reserve, alloc_flags, nr_free, z,
                      types, pageblock_order)[0]
