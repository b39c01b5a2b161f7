"""A buddy allocator over every page frame, compiled with numba (the ``exact`` engine's core).

The layout mirrors ``mm/page_alloc.c`` closely enough that fragmentation *emerges* from the
workload instead of being assumed:

* each zone is a run of page frames whose first frame is aligned to the largest block
  (``1 << (NR_ORDERS - 1)`` pages), so a block's buddy is ``pfn ^ (1 << order)`` relative to
  the zone base, exactly as ``__find_buddy_pfn`` computes it;
* one doubly linked free list per (zone, order, migratetype) and a migratetype per
  pageblock; ``__rmqueue_smallest`` takes the head of the smallest non-empty list of the
  allocation's type at or above the requested order and ``expand`` puts the upper halves
  back on that type's lists, one block per order on the way down;
* when the type's lists are empty, ``__rmqueue_fallback`` takes a block of another type and
  may claim its pageblock; atomic order > 0 allocations use and make highatomic reserves
  (``reserve_highatomic_pageblock``), which ``unreserve_highatomic_pageblock`` gives back
  (mm/page_alloc.c, v6.1);
* ``__free_one_page`` merges a freed block with its buddy for as long as the buddy is a
  free block of the same order (never with an allocated one), then adds the result to the
  head of the list of the freed block's pageblock type.

An engine that does not model migratetypes allocates everything as movable: then no other
list is ever used and the allocator is the single-list one it was before types existed.
Departures, kept on purpose: no per-CPU page lists, and a freed block always goes to the
head of its list (the kernel sometimes puts it at the tail when the next-higher buddy is
free). These are documented in ``docs/simulation.md``.

State is numpy arrays plus a :data:`MigrateState` namedtuple of arrays (numba caches
functions on arrays; it cannot cache jitclasses). Frame numbers are global across zones;
``free_order[pfn]`` is the order of the free block whose head is ``pfn`` and -1 otherwise;
``alloc_order[pfn]`` likewise for allocated blocks, so the page map can be checked against
the free lists.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass

import numba
import numpy as np

from minfree.kernel.watermark_check import MIGRATETYPE_COLUMNS

#: Orders 0..10, as x86_64 and arm64-4K kernels have (NR_PAGE_ORDERS = MAX_ORDER = 11).
NR_ORDERS = 11
MAX_BLOCK_PAGES = 1 << (NR_ORDERS - 1)

_NJIT = {"cache": True, "nogil": True}
#: The allocator proper allocates nothing, so it is compiled without numba's reference
#: counting (``_nrt=False``): with it, every array an inlined alloc or free touches got an
#: atomic incref/decref pair per call - about a dozen per page event, more than half the
#: cost of an event (bench/results/simulate.md). ``buddy_alloc`` and ``buddy_free`` are
#: inlined into their callers at numba's IR level, which must therefore be compiled
#: without it too (the exact engine's loop is: its arrays are allocated before it runs);
#: called instead, each call passes every array as pointer, shape and strides (about 120
#: values), which halves the allocator's rate. The rare paths (fallback to another type,
#: highatomic reserve) stay calls.
_NJIT_CORE = {"cache": True, "nogil": True, "_nrt": False}
#: The list primitives and the hot paths of alloc and free are inlined at numba's IR level.
_NJIT_INLINE = {**_NJIT_CORE, "inline": "always"}


#: Migratetypes, in mm/page_alloc.c's order: the columns of the watermark check's type
#: matrix (:data:`minfree.kernel.watermark_check.MIGRATETYPE_COLUMNS`), so that a zone's
#: counts are that matrix as they are kept. The model never has CMA or Isolate blocks.
MIGRATE_UNMOVABLE = MIGRATETYPE_COLUMNS.index("Unmovable")
MIGRATE_MOVABLE = MIGRATETYPE_COLUMNS.index("Movable")
MIGRATE_RECLAIMABLE = MIGRATETYPE_COLUMNS.index("Reclaimable")
MIGRATE_HIGHATOMIC = MIGRATETYPE_COLUMNS.index("HighAtomic")
NR_MIGRATETYPES = 4  # the types with free lists here
TYPE_COLUMNS = len(MIGRATETYPE_COLUMNS)
#: ``fallbacks[]`` of mm/page_alloc.c (4.4 to 6.9): the other lists an allocation of each
#: pcp type may take from, in order.
FALLBACKS = ((MIGRATE_RECLAIMABLE, MIGRATE_MOVABLE),
             (MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE),
             (MIGRATE_UNMOVABLE, MIGRATE_MOVABLE))
#: ``buddy_alloc`` flag: ALLOC_HARDER/ALLOC_HIGHATOMIC (an atomic order > 0 allocation):
#: try the highatomic lists first, and reserve the block's pageblock after a success.
ALLOC_HIGHATOMIC_RESERVE = 1

#: Row of the type matrix (per zone) that holds, in its first two columns, the zone's
#: ``nr_reserved_highatomic`` pages and whether the per-type counts are kept (1) or not (0:
#: the watermark check then counts any free block, as before migratetypes were modelled).
TYPES_EXTRA_ROW = NR_ORDERS


@numba.njit(**_NJIT_INLINE)
def _list_add(nxt, prv, heads, z, order, mt, pfn):
    head = heads[z, order, mt]
    nxt[pfn] = head
    prv[pfn] = -1
    if head >= 0:
        prv[head] = pfn
    heads[z, order, mt] = pfn


@numba.njit(**_NJIT_INLINE)
def _list_del(nxt, prv, heads, z, order, mt, pfn):
    n = nxt[pfn]
    p = prv[pfn]
    if p >= 0:
        nxt[p] = n
    else:
        heads[z, order, mt] = n
    if n >= 0:
        prv[n] = p
    nxt[pfn] = -1  # kept tidy: free_list() and the invariant checks walk these
    prv[pfn] = -1


@numba.njit(**_NJIT_INLINE)
def _add_free(free_order, nxt, prv, heads, nr_free, mts, z, order, mt, pfn):
    _list_add(nxt, prv, heads, z, order, mt, pfn)
    free_order[pfn] = order
    mts.free_mt[pfn] = mt
    nr_free[z, order] += 1
    mts.types[z, order, mt] += 1


@numba.njit(**_NJIT_INLINE)
def _del_free(free_order, nxt, prv, heads, nr_free, mts, z, order, pfn):
    mt = mts.free_mt[pfn]
    _list_del(nxt, prv, heads, z, order, mt, pfn)
    free_order[pfn] = -1
    mts.free_mt[pfn] = -1
    nr_free[z, order] -= 1
    mts.types[z, order, mt] -= 1


@numba.njit(**_NJIT_INLINE)
def _rmqueue_smallest(free_order, nxt, prv, heads, nr_free, mts, z, order, mt):
    """``__rmqueue_smallest``: the head of the smallest non-empty ``mt`` list at or above
    ``order``; ``expand()`` puts the upper halves back on ``mt`` lists."""
    current = order
    while heads[z, current, mt] < 0:
        current += 1
        if current == NR_ORDERS:
            return -1
    pfn = heads[z, current, mt]
    _del_free(free_order, nxt, prv, heads, nr_free, mts, z, current, pfn)
    while current > order:
        current -= 1
        _add_free(free_order, nxt, prv, heads, nr_free, mts, z, current, mt,
                  pfn + (1 << current))
    return pfn


@numba.njit(**_NJIT_INLINE)
def _move_freepages_block(free_order, alloc_order, nxt, prv, heads, nr_free, mts, z, base, end,
                          pfn, mt):
    """``move_freepages_block``: every free block of ``pfn``'s pageblock onto ``mt`` lists.
    Returns (free pages moved, allocated movable pages seen: the ``num_movable`` count)."""
    pageblock_order = mts.params[0]
    start = base + (((pfn - base) >> pageblock_order) << pageblock_order)
    stop = start + (1 << pageblock_order)
    if stop > end:
        return 0, 0  # "Do not cross zone boundaries": a pageblock cut by the zone's end
    moved = 0
    movable = 0
    cursor = start
    while cursor < stop:
        order = free_order[cursor]
        if order >= 0:
            if mts.free_mt[cursor] != mt:
                _del_free(free_order, nxt, prv, heads, nr_free, mts, z, order, cursor)
                _add_free(free_order, nxt, prv, heads, nr_free, mts, z, order, mt, cursor)
            moved += 1 << order
            cursor += 1 << order
            continue
        if alloc_order[cursor] >= 0 and mts.alloc_mt[cursor] == MIGRATE_MOVABLE:
            movable += 1  # a page on the LRU (the model's movable pages are order 0)
        cursor += 1
    return moved, movable


@numba.njit(**_NJIT_INLINE)
def _set_pageblock_range(mts, pfn, order, mt):
    pageblock_order = mts.params[0]
    first = pfn >> pageblock_order
    last = (pfn + (1 << order) - 1) >> pageblock_order
    for block in range(first, last + 1):
        mts.pb_mt[block] = mt


@numba.njit(**_NJIT_INLINE)
def _suitable_fallback(heads, nr_free, z, order, start_mt):
    """``find_suitable_fallback`` (its ``only_stealable`` false): the first type of
    ``fallbacks[start_mt]`` with a free block of exactly ``order``; -1 if none."""
    if nr_free[z, order] > 0:
        for k in range(2):
            fallback = FALLBACKS[start_mt][k]
            if heads[z, order, fallback] >= 0:
                return fallback
    return -1


@numba.njit(**_NJIT_INLINE)
def _can_steal_fallback(order, start_mt, pageblock_order):
    """``can_steal_fallback``: the whole pageblock may be claimed (all but small movable
    requests)."""
    return order >= pageblock_order // 2 or start_mt != MIGRATE_MOVABLE


@numba.njit(**_NJIT_INLINE)
def _rmqueue_fallback(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, mts, zbase,
                      zsize, z, order, start_mt):
    """``__rmqueue_fallback`` with ``find_suitable_fallback``, ``can_steal_fallback`` and
    ``steal_suitable_fallback`` (mm/page_alloc.c, v6.1): take the largest free block of a
    fallback type (the smallest, for a movable allocation that may not steal the whole
    pageblock), claim its pageblock when enough of it is free or alike, and move it to
    ``start_mt``'s lists. False when no other type has a block of ``order`` or more."""
    pageblock_order = mts.params[0]
    # the largest free block of a fallback type
    found_order = NR_ORDERS - 1
    found_mt = -1
    while found_order >= order:
        found_mt = _suitable_fallback(heads, nr_free, z, found_order, start_mt)
        if found_mt >= 0:
            break
        found_order -= 1
    if found_mt < 0:
        return False
    can_steal = _can_steal_fallback(found_order, start_mt, pageblock_order)
    if not can_steal and start_mt == MIGRATE_MOVABLE and found_order > order:
        # find_smallest: the smallest block of a fallback type instead of the largest
        found_order = order
        found_mt = _suitable_fallback(heads, nr_free, z, found_order, start_mt)
        while found_mt < 0:
            found_order += 1
            found_mt = _suitable_fallback(heads, nr_free, z, found_order, start_mt)
        can_steal = _can_steal_fallback(found_order, start_mt, pageblock_order)
    pfn = heads[z, found_order, found_mt]
    base = zbase[z]
    end = base + zsize[z]
    old_block_type = mts.pb_mt[pfn >> pageblock_order]
    whole = False
    if old_block_type == MIGRATE_HIGHATOMIC:
        pass  # single page
    elif found_order >= pageblock_order:
        _set_pageblock_range(mts, pfn, found_order, start_mt)
    else:
        mts.note[0] = 1  # boost_watermark(): a fallback below pageblock order
        if can_steal:
            moved, movable = _move_freepages_block(free_order, alloc_order, nxt, prv, heads,
                                                   nr_free, mts, z, base, end, pfn, start_mt)
            if moved > 0:
                whole = True
                if start_mt == MIGRATE_MOVABLE:
                    alike = movable
                elif old_block_type == MIGRATE_MOVABLE:
                    alike = (1 << pageblock_order) - (moved + movable)
                else:
                    alike = 0
                if moved + alike >= (1 << (pageblock_order - 1)):
                    mts.pb_mt[pfn >> pageblock_order] = start_mt
    if not whole:
        _del_free(free_order, nxt, prv, heads, nr_free, mts, z, found_order, pfn)
        _add_free(free_order, nxt, prv, heads, nr_free, mts, z, found_order, start_mt, pfn)
    mts.note[1] += 1
    return True


@numba.njit(**_NJIT_INLINE)
def _reserve_highatomic(free_order, alloc_order, nxt, prv, heads, nr_free, mts, zbase, zsize,
                        z, pfn):
    """``reserve_highatomic_pageblock``: make ``pfn``'s pageblock a highatomic reserve, up to
    1 % of the zone plus one pageblock."""
    pageblock_order = mts.params[0]
    limit = zsize[z] // 100 + (1 << pageblock_order)
    reserved = mts.types[z, TYPES_EXTRA_ROW, 0]
    if reserved >= limit:
        return
    block = pfn >> pageblock_order
    if mts.pb_mt[block] == MIGRATE_HIGHATOMIC:
        return
    mts.types[z, TYPES_EXTRA_ROW, 0] = reserved + (1 << pageblock_order)
    mts.pb_mt[block] = MIGRATE_HIGHATOMIC
    _move_freepages_block(free_order, alloc_order, nxt, prv, heads, nr_free, mts, z, zbase[z],
                          zbase[z] + zsize[z], pfn, MIGRATE_HIGHATOMIC)


#: ``note`` layout: the last allocation fell back below pageblock order; fallbacks so far;
#: operations logged; log capacity (rows); then the log, :data:`LOG_COLUMNS` per row.
NOTE_LOGGED = 2
NOTE_CAPACITY = 3
NOTE_HEADER = 4
LOG_COLUMNS = 6


@numba.njit(**_NJIT_INLINE)
def log_operation(mts, kind, z, order, pfn, mt, flags):
    """Append one operation, in ``buddy_run_ops``'s row format, when a log was asked for.

    The exact engine logs its calls (``exact._alloc`` and friends), not the allocator: the
    benchmark replays the log through the allocator and must not time the logging."""
    n = mts.note[NOTE_LOGGED]
    if n < mts.note[NOTE_CAPACITY]:
        row = NOTE_HEADER + n * LOG_COLUMNS
        mts.note[row] = kind
        mts.note[row + 1] = z
        mts.note[row + 2] = order
        mts.note[row + 3] = pfn
        mts.note[row + 4] = mt
        mts.note[row + 5] = flags
        mts.note[NOTE_LOGGED] = n + 1


@numba.njit(**_NJIT_CORE)
def _alloc_slow(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, mts, zbase, zsize, z,
                order, mt):
    """The fallback to other types and the retry (called, not inlined: it is rare)."""
    # Without migratetypes (the type matrix's counts unused) every block is movable, so no
    # other type has a list to fall back to: the search is skipped, not changed.
    if (mts.types[z, TYPES_EXTRA_ROW, 1] != 0 and zfree[z] >= (1 << order)
            and _rmqueue_fallback(free_order, alloc_order, nxt, prv, heads, nr_free, zfree,
                                  mts, zbase, zsize, z, order, mt)):
        return _rmqueue_smallest(free_order, nxt, prv, heads, nr_free, mts,
                                 z, order, mt)
    return -1


@numba.njit(**_NJIT_CORE)
def _reserve_highatomic_called(free_order, alloc_order, nxt, prv, heads, nr_free, mts, zbase,
                               zsize, z, pfn):
    _reserve_highatomic(free_order, alloc_order, nxt, prv, heads, nr_free, mts, zbase, zsize,
                        z, pfn)


@numba.njit(**_NJIT_INLINE)
def buddy_alloc(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, mts, zbase, zsize, z,
                order, mt, flags):
    """Allocate a block of ``order`` and migratetype ``mt`` from zone ``z``; return its head
    frame or -1.

    As ``rmqueue`` + ``__rmqueue``: an atomic order > 0 caller
    (:data:`ALLOC_HIGHATOMIC_RESERVE`) tries the highatomic lists first; then ``mt``'s own
    lists; then the fallback types (which may claim a pageblock). After a success such a
    caller reserves the pageblock (``get_page_from_freelist``). ``mts.note[0]`` is set to 1
    when the allocation fell back below pageblock order (the kernel boosts the watermarks
    then); a caller that wants to know clears it first (one store less per allocation for
    the others). No watermark check here: the caller decides, as ``get_page_from_freelist`` does
    before ``rmqueue``."""
    pfn = -1
    if (flags & ALLOC_HIGHATOMIC_RESERVE) and order > 0:
        pfn = _rmqueue_smallest(free_order, nxt, prv, heads, nr_free, mts, z,
                                order, MIGRATE_HIGHATOMIC)
    if pfn < 0:
        pfn = _rmqueue_smallest(free_order, nxt, prv, heads, nr_free, mts, z,
                                order, mt)
    if pfn < 0:
        pfn = _alloc_slow(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, mts, zbase,
                          zsize, z, order, mt)
    if pfn < 0:
        return -1
    alloc_order[pfn] = order
    mts.alloc_mt[pfn] = mt
    zfree[z] -= 1 << order
    if (flags & ALLOC_HIGHATOMIC_RESERVE) and order > 0:
        _reserve_highatomic_called(free_order, alloc_order, nxt, prv, heads, nr_free, mts, zbase,
                                   zsize, z, pfn)
    return pfn


@numba.njit(**_NJIT_INLINE)
def buddy_free(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, mts, zbase, zsize, z,
               pfn, order):
    """Free the block ``pfn`` of ``order`` in zone ``z``, merging with free buddies only
    (``__free_one_page``); the result goes on the list of the freed block's pageblock type."""
    mt = mts.pb_mt[pfn >> mts.params[0]]
    alloc_order[pfn] = -1
    mts.alloc_mt[pfn] = -1
    zfree[z] += 1 << order
    base = zbase[z]
    end = base + zsize[z]
    while order < NR_ORDERS - 1:
        buddy = base + ((pfn - base) ^ (1 << order))
        if buddy + (1 << order) > end or free_order[buddy] != order:
            break
        _del_free(free_order, nxt, prv, heads, nr_free, mts, z, order, buddy)
        if buddy < pfn:
            pfn = buddy
        order += 1
    _add_free(free_order, nxt, prv, heads, nr_free, mts, z, order, mt, pfn)


@numba.njit(**_NJIT_CORE)
def buddy_unreserve_highatomic(free_order, alloc_order, nxt, prv, heads, nr_free, mts, zbase,
                               zsize, z, mt, force):
    """``unreserve_highatomic_pageblock`` for one zone: give the pageblock of the first free
    highatomic block (lowest order first) back to ``mt``; keeps one pageblock unless
    ``force``. Returns the free pages moved (0: nothing to give back)."""
    pageblock_order = mts.params[0]
    reserved = mts.types[z, TYPES_EXTRA_ROW, 0]
    if reserved <= 0 or (not force and reserved <= (1 << pageblock_order)):
        return 0
    for order in range(NR_ORDERS):
        pfn = heads[z, order, MIGRATE_HIGHATOMIC]
        if pfn < 0:
            continue
        block = pfn >> pageblock_order
        if mts.pb_mt[block] == MIGRATE_HIGHATOMIC:
            reserved = mts.types[z, TYPES_EXTRA_ROW, 0]
            mts.types[z, TYPES_EXTRA_ROW, 0] = reserved - min(1 << pageblock_order, reserved)
        mts.pb_mt[block] = mt
        moved, _movable = _move_freepages_block(free_order, alloc_order, nxt, prv, heads,
                                                nr_free, mts, z, zbase[z], zbase[z] + zsize[z],
                                                pfn, mt)
        if moved > 0:
            return moved
    return 0


@numba.njit(**_NJIT_CORE)
def buddy_init_zone(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, mts, zbase, zsize,
                    z):
    """Put every frame of zone ``z`` on the free lists as the largest aligned blocks, in
    movable pageblocks (as ``memmap_init`` marks them at boot)."""
    base = zbase[z]
    end = base + zsize[z]
    pfn = base
    while pfn < end:
        order = NR_ORDERS - 1
        while order > 0 and (((pfn - base) & ((1 << order) - 1)) != 0 or pfn + (1 << order) > end):
            order -= 1
        _add_free(free_order, nxt, prv, heads, nr_free, mts, z, order, MIGRATE_MOVABLE, pfn)
        zfree[z] += 1 << order
        pfn += 1 << order


@numba.njit(**_NJIT_CORE)
def buddy_run_ops(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, mts, zbase, zsize,
                  ops, out):
    """Apply a batch of operations (for tests and the benchmark).

    ``ops[i] = (kind, zone, order, pfn, migratetype, flags)``: kind 0 allocates (result frame
    or -1 into ``out[i]``), kind 1 frees ``pfn`` of ``order``, kind 2 gives a highatomic
    pageblock back to ``migratetype`` (forced when ``flags``; pages moved into ``out[i]``).
    These are the rows the allocator logs. Returns the number of operations that changed
    the allocator (allocations that found a block plus frees)."""
    events = 0
    for i in range(ops.shape[0]):
        kind = ops[i, 0]
        z = ops[i, 1]
        order = ops[i, 2]
        if kind == 0:
            got = buddy_alloc(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, mts,
                              zbase, zsize, z, order, ops[i, 4], ops[i, 5])
            out[i] = got
            if got >= 0:
                events += 1
        elif kind == 1:
            buddy_free(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, mts, zbase,
                       zsize, z, ops[i, 3], order)
            out[i] = ops[i, 3]
            events += 1
        else:
            out[i] = buddy_unreserve_highatomic(free_order, alloc_order, nxt, prv, heads,
                                                nr_free, mts, zbase, zsize, z, ops[i, 4],
                                                ops[i, 5] != 0)
    return events


@numba.njit(**_NJIT_CORE)
def buddy_churn(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, mts, zbase, zsize, z,
                n_ops, max_order, seed, held, held_order):
    """Random allocate/free churn of movable blocks inside numba (benchmark of page events
    per second). Keeps up to ``held.shape[0]`` blocks (their orders in ``held_order``);
    returns the number of events."""
    np.random.seed(seed)
    n_held = 0
    events = 0
    for _ in range(n_ops):
        if n_held > 0 and (n_held == held.shape[0] or np.random.random() < 0.5):
            k = np.random.randint(0, n_held)
            buddy_free(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, mts, zbase,
                       zsize, z, held[k], held_order[k])
            n_held -= 1
            held[k] = held[n_held]
            held_order[k] = held_order[n_held]
            events += 1
        else:
            order = np.random.randint(0, max_order + 1)
            got = buddy_alloc(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, mts,
                              zbase, zsize, z, order, MIGRATE_MOVABLE, 0)
            if got >= 0:
                held[n_held] = got
                held_order[n_held] = order
                n_held += 1
                events += 1
    return events


#: A page frame's allocator state: list links, the order and type of the free block it
#: heads, the order and type of the allocated block it heads (-1: none).
PAGE_RECORD = np.dtype([("nxt", np.int32), ("prv", np.int32), ("free_order", np.int8),
                        ("alloc_order", np.int8), ("free_mt", np.int8), ("alloc_mt", np.int8)])

#: The allocator's migratetype state, one argument of the compiled functions (numba passes
#: a namedtuple of arrays as it passes the arrays).
MigrateState = namedtuple("MigrateState", ["free_mt", "alloc_mt", "pb_mt", "types", "params",
                                           "note"])
MigrateState.__doc__ = """``free_mt[pfn]``: the list the free block at ``pfn`` is on (-1 if
none); ``alloc_mt[pfn]``: the migratetype block ``pfn`` was allocated as (-1 if none);
``pb_mt[pfn >> pageblock_order]``: each pageblock's migratetype; ``types[z, order, mt]``: free
blocks per zone, order and type in the watermark check's column order, whose row
:data:`TYPES_EXTRA_ROW` holds the zone's reserved highatomic pages (column 0) and whether
the counts are to be used (column 1); ``params``: ``[pageblock_order]``; ``note``: what the
last allocation did and an optional log of operations (:data:`NOTE_HEADER`)."""


@dataclass
class BuddyArrays:
    """The numpy arrays of one exact allocator (all zones of a host)."""

    free_order: np.ndarray
    alloc_order: np.ndarray
    nxt: np.ndarray
    prv: np.ndarray
    heads: np.ndarray
    nr_free: np.ndarray
    zfree: np.ndarray
    mts: MigrateState
    zbase: np.ndarray
    zsize: np.ndarray

    @classmethod
    def for_zones(cls, zone_pages: list[int] | tuple[int, ...], pageblock_order: int = 9,
                  types_used: bool = True, log_capacity: int = 0) -> BuddyArrays:
        """Lay the zones out one after another, each aligned to the largest block, all free.

        ``types_used`` False tells the watermark check to ignore the per-type counts (the
        engine runs without migratetypes: every block is movable). ``log_capacity``: log up
        to that many operations after the initial layout (:meth:`logged_operations`)."""
        if not 0 < pageblock_order <= NR_ORDERS - 1:
            raise ValueError(f"pageblock order {pageblock_order} outside 1..{NR_ORDERS - 1}")
        nz = len(zone_pages)
        zbase = np.zeros(max(nz, 1), dtype=np.int64)
        zsize = np.zeros(max(nz, 1), dtype=np.int64)
        cursor = 0
        for i, pages in enumerate(zone_pages):
            if pages < 0:
                raise ValueError(f"zone {i}: negative size {pages}")
            zbase[i] = cursor
            zsize[i] = pages
            cursor += -(-pages // MAX_BLOCK_PAGES) * MAX_BLOCK_PAGES
        total = max(cursor, 1)
        types = np.zeros((max(nz, 1), NR_ORDERS + 1, TYPE_COLUMNS), dtype=np.int64)
        types[:, TYPES_EXTRA_ROW, 1] = 1 if types_used else 0
        # One record per page frame: a free or an alloc touches a frame's list links, orders
        # and types together, and with one record they share a cache line (separate arrays
        # took up to six misses per frame on a zone bigger than the caches; about 1.3x on
        # the exact engine's operations, bench/results/simulate.md). The fields are handed
        # to the compiled functions as strided views.
        pages = np.zeros(total, dtype=PAGE_RECORD)
        for name in PAGE_RECORD.names:
            pages[name] = -1
        mts = MigrateState(
            free_mt=pages["free_mt"],
            alloc_mt=pages["alloc_mt"],
            pb_mt=np.full((total >> pageblock_order) + 1, MIGRATE_MOVABLE, dtype=np.int8),
            types=types,
            params=np.array([pageblock_order], dtype=np.int64),
            note=np.zeros(NOTE_HEADER, dtype=np.int64),
        )
        arrays = cls(
            free_order=pages["free_order"],
            alloc_order=pages["alloc_order"],
            nxt=pages["nxt"],
            prv=pages["prv"],
            heads=np.full((max(nz, 1), NR_ORDERS, NR_MIGRATETYPES), -1, dtype=np.int32),
            nr_free=np.zeros((max(nz, 1), NR_ORDERS), dtype=np.int64),
            zfree=np.zeros(max(nz, 1), dtype=np.int64),
            mts=mts,
            zbase=zbase,
            zsize=zsize,
        )
        for i in range(nz):
            buddy_init_zone(*arrays.core, arrays.zbase, arrays.zsize, i)
        if log_capacity > 0:
            note = np.zeros(NOTE_HEADER + LOG_COLUMNS * log_capacity, dtype=np.int64)
            note[NOTE_CAPACITY] = log_capacity
            arrays.mts = mts._replace(note=note)
        return arrays

    def logged_operations(self) -> np.ndarray:
        """The operations logged so far, one ``buddy_run_ops`` row each (allocations carry
        the frame they got, -1 for none)."""
        n = int(self.mts.note[NOTE_LOGGED])
        return self.mts.note[NOTE_HEADER:NOTE_HEADER + LOG_COLUMNS * n].reshape(n, LOG_COLUMNS)

    @property
    def core(self) -> tuple:
        """The state that alloc/free mutate, in the order the jitted functions take it."""
        return (self.free_order, self.alloc_order, self.nxt, self.prv, self.heads, self.nr_free,
                self.zfree, self.mts)

    @property
    def pageblock_order(self) -> int:
        return int(self.mts.params[0])

    def alloc(self, zone: int, order: int, migratetype: int = MIGRATE_MOVABLE,
              flags: int = 0) -> int:
        return int(buddy_alloc(*self.core, self.zbase, self.zsize, zone, order, migratetype,
                               flags))

    def free(self, zone: int, pfn: int, order: int) -> None:
        if self.alloc_order[pfn] != order:
            raise ValueError(f"frame {pfn} is not an allocated block of order {order}")
        buddy_free(*self.core, self.zbase, self.zsize, zone, pfn, order)

    def unreserve_highatomic(self, zone: int, migratetype: int, force: bool = False) -> int:
        return int(buddy_unreserve_highatomic(
            self.free_order, self.alloc_order, self.nxt, self.prv, self.heads, self.nr_free,
            self.mts, self.zbase, self.zsize, zone, migratetype, force))

    def free_list(self, zone: int, order: int, migratetype: int | None = None) -> list[int]:
        """Frames on one free list, head first (all types' lists in type order if None)."""
        if migratetype is None:
            return [pfn for mt in range(NR_MIGRATETYPES) for pfn in self.free_list(zone, order, mt)]
        out = []
        pfn = int(self.heads[zone, order, migratetype])
        while pfn >= 0:
            out.append(pfn)
            pfn = int(self.nxt[pfn])
        return out

    def free_pages(self, zone: int) -> int:
        return int(self.zfree[zone])

    def reserved_highatomic(self, zone: int) -> int:
        return int(self.mts.types[zone, TYPES_EXTRA_ROW, 0])


def check_invariants(arrays: BuddyArrays, zone: int) -> None:
    """Raise AssertionError if the allocator state of ``zone`` is inconsistent.

    Checks: free + allocated = zone pages (conservation); every free list entry is marked
    free with that order in the page map and vice versa; counts match; no block overlaps
    another; no two free buddies of the same order stay unmerged."""
    base = int(arrays.zbase[zone])
    size = int(arrays.zsize[zone])
    end = base + size
    covered = np.zeros(size, dtype=np.int8)
    free_pages = 0
    mts = arrays.mts
    for order in range(NR_ORDERS):
        listed = arrays.free_list(zone, order)
        assert len(listed) == arrays.nr_free[zone, order], (zone, order)
        for mt in range(NR_MIGRATETYPES):
            on_list = arrays.free_list(zone, order, mt)
            assert len(on_list) == mts.types[zone, order, mt], (zone, order, mt)
            assert all(mts.free_mt[pfn] == mt for pfn in on_list), (zone, order, mt)
        for pfn in listed:
            assert arrays.free_order[pfn] == order, (pfn, order)
            assert (pfn - base) % (1 << order) == 0
            assert pfn + (1 << order) <= end
            covered[pfn - base: pfn - base + (1 << order)] += 1
            free_pages += 1 << order
            if order < NR_ORDERS - 1:
                buddy = base + ((pfn - base) ^ (1 << order))
                assert not (buddy + (1 << order) <= end and arrays.free_order[buddy] == order), (
                    f"free buddies {pfn} and {buddy} of order {order} not merged")
    marked = np.nonzero(arrays.free_order[base:end] >= 0)[0]
    assert len(marked) == sum(int(arrays.nr_free[zone, o]) for o in range(NR_ORDERS))
    alloc_pages = 0
    for rel in np.nonzero(arrays.alloc_order[base:end] >= 0)[0]:
        order = int(arrays.alloc_order[base + rel])
        covered[rel: rel + (1 << order)] += 1
        alloc_pages += 1 << order
    assert free_pages == arrays.zfree[zone]
    highatomic_blocks = np.count_nonzero(
        mts.pb_mt[base >> arrays.pageblock_order:-(-end >> arrays.pageblock_order)]
        == MIGRATE_HIGHATOMIC)
    # The kernel's count can exceed its highatomic pageblocks (a merged block above pageblock
    # order that spans one is claimed whole by a fallback), never fall short of them.
    assert arrays.reserved_highatomic(zone) >= highatomic_blocks << arrays.pageblock_order, (
        "highatomic pageblocks beyond the reserve's count")
    assert free_pages + alloc_pages == size, "pages not conserved"
    assert covered.max(initial=1) == 1, "overlapping blocks"
    assert covered.min(initial=1) == 1, "frames neither free nor allocated"
