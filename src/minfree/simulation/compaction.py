"""kcompactd for both engines: when a zone may be compacted, and what compacting does.

The kernel (``mm/compaction.c``) compacts a zone with two scanners: the *migrate* scanner
walks up from the zone's start isolating movable pages, the *free* scanner walks down from
its end isolating free pages, and each movable page is copied into a free page near the top
and its old frame freed. Freed frames merge with free buddies, so the bottom of the zone
turns into large free blocks. It stops when a free block of the wanted order exists
(``__compact_finished``: COMPACT_SUCCESS) or the scanners meet (COMPACT_COMPLETE).

Before a zone is compacted ``kcompactd_do_work`` skips it when the allocation would already
succeed (``zone_watermark_ok(zone, order, min_wmark_pages(zone), ...)``) and when
``compaction_suitable()`` says no:

* order-0 watermark check at ``min`` (``low`` for costly orders, > 3) plus ``compact_gap(order)
  = 2 << order`` pages: compaction needs free pages to migrate into (mm/compaction.c,
  ``__compaction_suitable``; from 4.9, "mm, compaction: require only min watermarks for
  non-costly orders"; older kernels used ``low`` for every order, and so does the model for releases before
  4.9). Both
  checks are the shared compiled core (:mod:`minfree.simulation.checks`), never a copy;
* for order > PAGE_ALLOC_COSTLY_ORDER (3), the zone's fragmentation index
  (:func:`minfree.kernel.fragmentation.fragmentation_index_core`, compiled as is) in
  ``[0, vm.extfrag_threshold]`` means the failure is for lack of memory, not
  fragmentation, and compaction is skipped (kernel-facts §7; orders <= 3 always compact).
  3.10 applied the index to every order; the model does so for releases before 4.9 (the
  series that changed the watermark rule; the exact release of this change is not
  verified here).

Exact engine (:func:`compact_zone`): real migration in the page map. Movable pages are the
ones the engine marks in ``mov`` (page cache pages, with their LRU slot so the LRU follows
the page, and anonymous growth pages); pins, network buffers and slab pages never move, and
the application's resident memory (allocated at the start in large blocks) is skipped as one
block, as the kernel's scanner skips compound pages. Departures: pageblock types are not
consulted (no skip hints, no async/sync modes, migration targets become movable pages
wherever they are); the free scanner takes free blocks below the
wanted order only (the kernel's ``suitable_migration_target`` refuses free blocks of the
wanted order or more) and its own scanning is not charged to the rate; isolated free pages
not used are given back at the end of each sub-step's work.

Fast engine (:func:`compact_counts`): a count-level approximation. Sweeping ``n`` pages of
a zone frees every aligned group of ``2**order`` pages that holds no unmovable page; with
long-lived pins every ``p + 1`` pages that is a fixed share of the groups
(:func:`pin_free_share`), so one order-``order`` block costs ``2**order / share`` pages of
scanning and is formed from free pages of lower orders (lowest first), which conserves free
pages. Held network buffers and slab pages are not counted as unmovable there.
"""

from __future__ import annotations

import numba
import numpy as np

from minfree.kernel.fragmentation import PAGE_ALLOC_COSTLY_ORDER, fragmentation_index_core
from minfree.simulation.buddy import MIGRATE_MOVABLE, NR_ORDERS, _del_free, buddy_free
from minfree.simulation.checks import zone_ok

#: No numba reference counting: these helpers allocate nothing, and with it every array
#: they are handed costs an atomic incref/decref pair per call (see simulation/buddy.py).
_NJIT = {"cache": True, "nogil": True, "_nrt": False}
#: The kernel module's fragmentation index, compiled (the same function object, never a
#: copy), as ``checks`` compiles the watermark check's core.
fragmentation_index_compiled = numba.njit(**_NJIT)(fragmentation_index_core)

#: outcome codes of one zone's compaction step
RUN_CONTINUE = 0   # budget used up, more to do
RUN_SUCCESS = 1    # a free block of the wanted order exists
RUN_COMPLETE = 2   # the scanners met without success
RUN_SKIPPED = 3    # not suitable (watermark or fragmentation index) or not needed

# counters in the engines' ``stats`` array (shared with exact.py / fast.py)
ST_COMPACT_WAKES = 17
ST_COMPACT_MIGRATED = 18
ST_COMPACT_SUCCESS = 19
ST_COMPACT_FAIL = 20
ST_COMPACT_SKIPPED = 21
ST_COMPACT_SCANNED = 22

#: added to ``extfrag_threshold`` (0-1000) by the plan for pre-4.9 releases, so that the
#: engines' signatures stay as they are: LOW + compact_gap and the fragmentation index for
#: every order
LEGACY_FLAG = 1 << 20

#: ``mov`` values: not movable / movable without a back-reference (anonymous growth);
#: >= 0 is an index into the back-reference array (the flattened LRU ring)
NOT_MOVABLE = -1
MOVABLE_ANON = -2


@numba.njit(**_NJIT)
def _has_block(heads, z, order):
    for o in range(order, NR_ORDERS):
        for mt in range(heads.shape[2]):
            if heads[z, o, mt] >= 0:
                return True
    return False


@numba.njit(**_NJIT)
def zone_needs_compaction(era, zfree, nr_free, z, order, wm_min, wm_low, reserve,
                          extfrag_threshold, types, pageblock_order):
    """(compact?, reason): reason 0 = go ahead, 1 = the allocation would already succeed at
    min, 2 = ``compaction_suitable`` watermark, 3 = fragmentation index says lack of memory.
    ``extfrag_threshold`` plus :data:`LEGACY_FLAG` asks for the pre-4.9 rules."""
    legacy = extfrag_threshold >= LEGACY_FLAG
    if legacy:
        extfrag_threshold -= LEGACY_FLAG
    if zone_ok(era, zfree[z], order, wm_min[z], 0, 0, nr_free, z, types, pageblock_order):
        return False, 1
    mark = wm_low[z] if (legacy or order > PAGE_ALLOC_COSTLY_ORDER) else wm_min[z]
    mark += 2 << order  # compact_gap()
    if not zone_ok(era, zfree[z], 0, mark, reserve, 0, nr_free, z, types, pageblock_order):
        return False, 2
    if legacy or order > PAGE_ALLOC_COSTLY_ORDER:
        index = fragmentation_index_compiled(nr_free[z], order)
        if 0 <= index <= extfrag_threshold:
            return False, 3
    return True, 0


@numba.njit(**_NJIT)
def kcompactd_wake(node, order, kc_awake, kc_order, era, zfree, nr_free, zone_node, zone_idx,
                   classzone, wm_min, wm_low, protection, extfrag_threshold, types,
                   pageblock_order, stats):
    """wakeup_kcompactd(): raise the wanted order; wake only if some zone of the node up to
    the classzone is suitable for compaction (kcompactd_node_suitable)."""
    if order <= 0:
        return
    if kc_awake[node] and order <= kc_order[node]:
        return
    for z in range(zfree.shape[0]):
        if zone_node[z] != node or zone_idx[z] > classzone:
            continue
        ok, _reason = zone_needs_compaction(era, zfree, nr_free, z, order, wm_min, wm_low,
                                            protection[z, classzone], extfrag_threshold, types,
                                            pageblock_order)
        if ok:
            if kc_awake[node] == 0:
                stats[ST_COMPACT_WAKES] += 1
            kc_awake[node] = 1
            kc_order[node] = max(kc_order[node], order)
            return


@numba.njit(**_NJIT)
def _isolate_block(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, mts, z, pfn,
                   targets, n_t):
    """Take the free block at ``pfn`` off its list as order-0 migration targets (they will
    hold movable pages)."""
    order = free_order[pfn]
    _del_free(free_order, nxt, prv, heads, nr_free, mts, z, order, pfn)
    zfree[z] -= 1 << order
    # highest frame last: the stack hands out targets from the top of the zone down
    for k in range(1 << order):
        alloc_order[pfn + k] = 0
        mts.alloc_mt[pfn + k] = MIGRATE_MOVABLE
        targets[n_t] = pfn + k
        n_t += 1
    return n_t


@numba.njit(**_NJIT)
def compact_zone(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, mts, zbase, zsize, z,
                 order, budget, mov, back_ref, cursors, pageblock_pages, targets):
    """Run the two scanners of zone ``z`` for up to ``budget`` migrate-scanner steps.

    ``cursors[z, 0]`` is the migrate scanner's next frame, ``cursors[z, 1]`` the free
    scanner's exclusive upper bound (both kept between calls, as the kernel keeps
    ``compact_cached_*_pfn``; reset after the scanners meet). ``targets`` is scratch space
    of at least ``1 << (NR_ORDERS - 1)`` + ``pageblock_pages`` frames. Returns (outcome,
    steps, pages migrated)."""
    base = zbase[z]
    end = base + zsize[z]
    if cursors[z, 1] <= 0 or cursors[z, 1] > end or cursors[z, 0] < base:
        cursors[z, 0] = base
        cursors[z, 1] = end
    steps = 0
    migrated = 0
    n_t = 0
    outcome = RUN_CONTINUE
    while steps < budget:
        if _has_block(heads, z, order):
            outcome = RUN_SUCCESS
            break
        p = cursors[z, 0]
        if p >= cursors[z, 1]:
            outcome = RUN_COMPLETE
            break
        steps += 1
        fo = free_order[p]
        if fo >= 0:
            cursors[z, 0] = p + (1 << fo)
            continue
        ao = alloc_order[p]
        if ao < 0:
            cursors[z, 0] = p + 1  # inside a block that formed around the cursor
            continue
        if ao > 0 or mov[p] == NOT_MOVABLE:
            cursors[z, 0] = p + (1 << ao)
            continue
        # a movable order-0 page: find a free page above the migrate scanner
        while n_t == 0:
            top = cursors[z, 1]
            start = base + ((top - 1 - base) // pageblock_pages) * pageblock_pages
            if start <= p:
                break  # the scanners meet in this pageblock
            q = start
            while q < top:
                fq = free_order[q]
                if fq >= 0:
                    if fq < order:
                        n_t = _isolate_block(free_order, alloc_order, nxt, prv, heads,
                                             nr_free, zfree, mts, z, q, targets, n_t)
                    q += 1 << fq
                elif alloc_order[q] >= 0:
                    q += 1 << alloc_order[q]
                else:
                    q += 1
            cursors[z, 1] = start
        if n_t == 0:
            outcome = RUN_COMPLETE
            break
        n_t -= 1
        tgt = targets[n_t]
        slot = mov[p]
        mov[tgt] = slot
        if slot >= 0:
            back_ref[slot] = tgt
        mov[p] = NOT_MOVABLE
        # the old frame goes back to the buddy allocator and merges with free buddies
        buddy_free(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, mts, zbase, zsize,
                   z, p, 0)
        cursors[z, 0] = p + 1
        migrated += 1
    # release_freepages(): isolated targets not used go back (and merge)
    while n_t > 0:
        n_t -= 1
        buddy_free(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, mts, zbase, zsize,
                   z, targets[n_t], 0)
    if outcome == RUN_COMPLETE:
        cursors[z, 0] = base
        cursors[z, 1] = end
    return outcome, steps, migrated


@numba.njit(**_NJIT)
def compact_counts(nr_free, zfree, z, order, budget, share):
    """The fast engine's approximation of ``budget`` migrate-scanner steps in zone ``z``:
    returns (outcome, steps used, pages moved). One block of ``order`` costs
    ``2**order / share`` steps and takes ``2**order`` free pages from lower orders."""
    if share <= 0.0:
        return RUN_COMPLETE, 0, 0
    cost = (1 << order) / share
    steps = 0
    moved = 0
    while True:
        if _has_block_counts(nr_free, z, order):
            return RUN_SUCCESS, steps, moved
        low = 0
        for o in range(order):
            low += nr_free[z, o] << o
        if low < (1 << order):
            return RUN_COMPLETE, steps, moved
        if steps + cost > budget:
            return RUN_CONTINUE, steps, moved
        steps += int(cost + 0.5)
        # take 2**order free pages from the lowest orders; split one block for the rest
        need = 1 << order
        for o in range(order):
            take = min(nr_free[z, o], need >> o)
            nr_free[z, o] -= take
            need -= take << o
        if need > 0:
            for o in range(order):
                if nr_free[z, o] > 0 and (1 << o) > need:
                    nr_free[z, o] -= 1
                    left = (1 << o) - need
                    b = 0
                    while left > 0:
                        if left & 1:
                            nr_free[z, b] += 1
                        left >>= 1
                        b += 1
                    need = 0
                    break
        nr_free[z, order] += 1
        # pages moved: the movable share of the swept groups went to free pages elsewhere
        moved += int(cost) - (1 << order)
        if moved < 0:
            moved = 0


@numba.njit(**_NJIT)
def _has_block_counts(nr_free, z, order):
    for o in range(order, NR_ORDERS):  # noqa: SIM110 - a loop compiles; any(genexpr) does not
        if nr_free[z, o] > 0:
            return True
    return False


def pin_free_share(pin_every: int, order: int) -> float:
    """Share of aligned ``2**order``-page groups with no pinned page, when one page in every
    ``pin_every + 1`` is pinned (the initial fill's pattern); 1.0 without pins.

    >>> pin_free_share(0, 2), pin_free_share(4, 2), pin_free_share(4, 3)
    (1.0, 0.2, 0.0)
    """
    if pin_every <= 0:
        return 1.0
    period = pin_every + 1
    size = 1 << order
    span = period * size
    pinned = np.zeros(span, dtype=bool)
    pinned[pin_every::period] = True
    groups = pinned.reshape(-1, size)
    return float((~groups.any(axis=1)).sum()) / groups.shape[0]
