"""The ``exact`` engine: every page frame in a real buddy allocator, the actors and kswapd.

One run is a single compiled loop over ticks (1 ms by default), each split into
:data:`~minfree.simulation.plan.SUBSTEPS` sub-steps in which, in this order:

1. blocks whose lifetime ended are freed (network buffers consumed by the application,
   sockets closed); a freed block merges only with free buddies;
2. every actor's work of the sub-step is done in :data:`ROUNDS` equal shares, blocking
   allocations (anonymous growth, page cache misses) first in even rounds and atomic ones
   (receive buffers, accept slabs) first in odd rounds. Every allocation goes the kernel's
   way: the fast path checks each zone of the zonelist against LOW with no discount; on
   failure kswapd is woken (unless its node is balanced) and the slow path checks MIN with
   the ALLOC flags the actor's GFP mode gets in this era (the boost exception for order-0
   ALLOC_MIN_RESERVE/__GFP_ATOMIC callers included). A blocking allocation that still fails
   reclaims a batch of the oldest cache pages (LRU >> 12 by default, as proportional reclaim
   at DEF_PRIORITY) and retries, up to 16 times - a stall, timed at the direct reclaim rate;
   an atomic one fails;
3. kswapd of each awake node reclaims the oldest cache pages at its finite rate, in passes
   of max(HIGH + boost, 32) pages per eligible zone (``kswapd_shrink_node``), and between
   passes stops if the node is balanced (any eligible zone over HIGH plus boost for order
   0, as ``pgdat_balanced``); then it sleeps and the boost is cleared.

The page cache is one FIFO per node (least recently *inserted* first: exact LRU for a
streaming read over a working set larger than RAM, which is what the scenarios model).
"""

from __future__ import annotations

import inspect

import numba
import numpy as np

from minfree.simulation.buddy import (
    MIGRATE_MOVABLE,
    NR_ORDERS,
    buddy_alloc,
    buddy_free,
    buddy_unreserve_highatomic,
    log_operation,
)
from minfree.simulation.checks import zone_check, zone_ok
from minfree.simulation.compaction import (
    MOVABLE_ANON,
    NOT_MOVABLE,
    RUN_COMPLETE,
    RUN_CONTINUE,
    RUN_SUCCESS,
    ST_COMPACT_FAIL,
    ST_COMPACT_MIGRATED,
    ST_COMPACT_SCANNED,
    ST_COMPACT_SKIPPED,
    ST_COMPACT_SUCCESS,
    compact_zone,
    kcompactd_wake,
    zone_needs_compaction,
)
from minfree.simulation.demand import substep_demand
from minfree.simulation.kswapd import node_balanced as _node_balanced
from minfree.simulation.kswapd import sleep_or_start_pass

_NJIT = {"cache": True, "nogil": True}
#: No numba reference counting: these helpers allocate nothing, and with it every array
#: they are handed costs an atomic incref/decref pair per call (see simulation/buddy.py).
_NJIT_CORE = {**_NJIT, "_nrt": False}
#: Rounds per sub-step: each actor's work of a sub-step is split into this many equal
#: shares, done blocking-first then actor by actor (the fast engine uses the same order).
ROUNDS = 4


# The engine's calls into the allocator, logged when the allocator's state asks for a log
# (``BuddyArrays.for_zones(log_capacity=...)``; the benchmark replays the engine's own
# operations from it).
_NJIT_INLINE = {**_NJIT_CORE, "inline": "always"}


@numba.njit(**_NJIT_INLINE)
def _alloc(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, mts, zbase, zsize, z, order,
           mt, flags):
    mts.note[0] = 0  # the allocator sets it on a fallback that boosts the watermarks
    pfn = buddy_alloc(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, mts, zbase,
                      zsize, z, order, mt, flags)
    log_operation(mts, 0, z, order, pfn, mt, flags)
    return pfn


@numba.njit(**_NJIT_INLINE)
def _free(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, mts, zbase, zsize, z, pfn,
          order):
    log_operation(mts, 1, z, order, pfn, 0, 0)
    buddy_free(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, mts, zbase, zsize, z,
               pfn, order)


@numba.njit(**_NJIT_INLINE)
def _alloc_blocking_order0(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, mts, zbase,
                           zsize, zonelist, node, zone_idx, classzone, era, marks, boost,
                           protection, flags, types, pageblock_order):
    """One pass of ``get_page_from_freelist`` for a movable order-0 page: the first zone of
    the zonelist (up to the classzone) whose check at ``marks`` + boost passes and has a
    page. Returns (frame, zone), (-1, -1) when none."""
    for kk in range(zonelist.shape[1]):
        z = zonelist[node, kk]
        if z < 0:
            break
        if zone_idx[z] > classzone:
            continue
        if zone_ok(era, zfree[z], 0, marks[z] + boost[z], protection[z, classzone], flags,
                   nr_free, z, types, pageblock_order):
            got = _alloc(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, mts, zbase,
                         zsize, z, 0, MIGRATE_MOVABLE, 0)
            if got >= 0:
                return got, z
    return -1, -1


@numba.njit(**_NJIT_INLINE)
def _unreserve(free_order, alloc_order, nxt, prv, heads, nr_free, mts, zbase, zsize, z, mt,
               force):
    log_operation(mts, 2, z, 0, 0, mt, 1 if force else 0)
    return buddy_unreserve_highatomic(free_order, alloc_order, nxt, prv, heads, nr_free, mts,
                                      zbase, zsize, z, mt, force)

# counters in the ``stats`` array
ST_FAIL = 0
ST_FAIL_NOWARN = 1
ST_FIRST_FAIL_TICK = 2
ST_STALLS = 3
ST_STALL_PAGES = 4
ST_BLOCKING_FAIL = 5
ST_KSWAPD_RECLAIMED = 6
ST_KSWAPD_BUSY_SUBSTEPS = 7
ST_KSWAPD_WAKES = 8
ST_BOOST_EVENTS = 9
ST_ATOMIC_OK = 10
ST_CACHE_ALLOCS = 11
ST_FAIL_ORDER_CAUSE = 12
ST_EVENTS = 13
ST_DIRECT_RECLAIMED = 14
ST_CACHE_BACKLOG = 15
ST_FIRST_STALL_TICK = 16
#: 17-22: kcompactd's counters (simulation/compaction.py)
ST_HIGHATOMIC_UNRESERVED = 23
#: allocator operations done by the initial fill (where a logged trace's run begins)
ST_TRACE_START = 24
N_STATS = 25


@numba.njit(**_NJIT_CORE)
def _kcompactd_work(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, mts, zbase, zsize,
                    kc_awake, kc_order, kc_budget, kc_done, add, era, zone_node, zone_idx,
                    classzone, wm_min, wm_low, protection, extfrag_threshold, types,
                    pageblock_order, mov, lru_flat, cursors, pageblock_pages, targets, stats):
    """kcompactd's share of work after a round: zones from the lowest index up
    (kcompactd_do_work), each until a block of the wanted order exists, the scanners meet,
    or it is not suitable; then it sleeps."""
    nz = zfree.shape[0]
    n_nodes = kc_awake.shape[0]
    for node in range(n_nodes):
        if kc_awake[node] == 0:
            continue
        kc_budget[node] += add
        all_done = True
        for z in range(nz):
            if zone_node[z] != node or zone_idx[z] > classzone or kc_done[z]:
                continue
            ok, reason = zone_needs_compaction(
                era, zfree, nr_free, z, kc_order[node], wm_min, wm_low,
                protection[z, classzone], extfrag_threshold, types, pageblock_order)
            if not ok:
                kc_done[z] = 1
                if reason >= 2:
                    stats[ST_COMPACT_SKIPPED] += 1
                continue
            budget = int(kc_budget[node])
            outcome, steps, moved = compact_zone(
                free_order, alloc_order, nxt, prv, heads, nr_free, zfree, mts, zbase, zsize,
                z, kc_order[node], budget, mov, lru_flat, cursors, pageblock_pages,
                targets)
            kc_budget[node] -= steps
            stats[ST_COMPACT_SCANNED] += steps
            stats[ST_COMPACT_MIGRATED] += moved
            stats[ST_EVENTS] += 2 * moved
            if outcome == RUN_CONTINUE:
                all_done = False
                break
            kc_done[z] = 1
            if outcome == RUN_SUCCESS:
                stats[ST_COMPACT_SUCCESS] += 1
            elif outcome == RUN_COMPLETE:
                stats[ST_COMPACT_FAIL] += 1
        if all_done:
            kc_awake[node] = 0
            kc_order[node] = 0
            kc_budget[node] = 0.0
            for z in range(nz):
                if zone_node[z] == node:
                    kc_done[z] = 0


@numba.njit(**_NJIT_CORE)
def _smallest_order(heads, z, order, mt):
    current = order
    while current < NR_ORDERS and heads[z, current, mt] < 0:
        current += 1
    return current


@numba.njit(**_NJIT_CORE)
def _run_exact_core(
    # allocator
    free_order, alloc_order, nxt, prv, heads, nr_free, zfree, mts, zbase, zsize,
    # zones and kernel
    zone_node, zone_idx, wm_min, wm_low, wm_high, protection, max_boost, zonelist, classzone,
    era, boost_era, fast_flags, cache_flags, pageblock_pages, n_type_columns,
    # actors
    a_counts, a_order, a_lifetime, a_node, a_flags, a_nowarn, a_exempt, a_capacity,
    a_migratetype, a_highatomic, migratetypes,
    cache_reads, app_growth, working_set_pages, cache_readers,
    kswapd_per_tick, direct_per_s, direct_batch, tick_s, substeps, sample_ticks,
    report_burst, report_window_ticks,
    # initial state
    app_pages_per_node, initial_above_high, initial_pin_every, initial_fill_all,
    compact_enabled, compact_scan_per_sub, compact_wake_on_fail, extfrag_threshold,
    compact_share,
    # outputs
    stats, fail_by_order, fail_by_zone, fail_by_actor, lowest_free, samples_free,
    samples_kswapd, samples_boost, samples_fail, snap_tick, snap_actor, snap_zfree, snap_nrfree,
    snap_boost, snap_cache, snap_anon, snap_held, snap_suppressed, snap_cause,
    # working arrays (allocated by run_exact: this function allocates nothing)
    boost, window_boost, cache_pages, anon_pages, held_pages, pinned_pages, lru_pfn, lru_zone,
    lru_head, lru_len, lru_flat, mov, kc_awake, kc_order, kc_budget, kc_done, ks_order,
    cursors, targets, q_pfn, q_zone, q_exp, q_head, q_len, kswapd_awake, kswapd_budget,
    kswapd_pass, kept, tmp_pfn, window_min, remaining, quota,
):
    nz = zfree.shape[0]
    n_nodes = zonelist.shape[0]
    n_actors = a_counts.shape[0]
    ticks = a_counts.shape[1]
    lru_stride = lru_pfn.shape[1]
    max_cap = q_pfn.shape[1]
    for z in range(nz):
        lowest_free[z] = zfree[z]

    # ---- initial state: application memory (largest blocks), then the page cache filled
    # down to HIGH + headroom per zone, with optional long-lived pins interleaved.
    for node in range(n_nodes):
        left = app_pages_per_node[node]
        for k in range(zonelist.shape[1]):
            z = zonelist[node, k]
            if z < 0 or zone_node[z] != node:
                continue
            order = NR_ORDERS - 1
            while left > 0 and order >= 0:
                if (1 << order) > left:
                    order -= 1
                    continue
                pfn = _alloc(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, mts,
                                  zbase, zsize, z, order, MIGRATE_MOVABLE, 0)
                if pfn < 0:
                    order -= 1
                    continue
                anon_pages[z] += 1 << order
                left -= 1 << order
    if initial_above_high[0] >= 0:
        for z in range(nz):
            base = zbase[z]
            target = wm_high[z] + initial_above_high[z] + protection[z, classzone]
            since_pin = 0
            fill_to = 0 if initial_fill_all else target
            n = 0
            while zfree[z] > fill_to:
                pfn = _alloc(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, mts,
                                  zbase, zsize, z, 0, MIGRATE_MOVABLE, 0)
                if pfn < 0:
                    break
                if initial_pin_every > 0 and since_pin >= initial_pin_every:
                    pinned_pages[z] += 1
                    since_pin = 0
                    continue
                since_pin += 1
                tmp_pfn[base + n] = pfn
                n += 1
            # a host up for months: the whole zone was cache once, reclaimed back to target
            while initial_fill_all and zfree[z] < target and n > 0:
                n -= 1
                _free(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, mts, zbase,
                           zsize, z, tmp_pfn[base + n], 0)
            kept[z] = n
            cache_pages[z] += n
        # the LRU holds the zones' pages interleaved in proportion, as a cache filled over
        # time would (zone by zone would make kswapd reclaim one zone first)
        total = 0
        for z in range(nz):
            total += kept[z]
        rounds = max(1, total // 1024)
        for r in range(rounds):
            for z in range(nz):
                node = zone_node[z]
                for k in range((kept[z] * r) // rounds, (kept[z] * (r + 1)) // rounds):
                    slot = (lru_head[node] + lru_len[node]) % lru_pfn.shape[1]
                    lru_pfn[node, slot] = tmp_pfn[zbase[z] + k]
                    if compact_enabled:
                        mov[tmp_pfn[zbase[z] + k]] = node * lru_stride + slot
                    lru_zone[node, slot] = z
                    lru_len[node] += 1
    for z in range(nz):
        lowest_free[z] = zfree[z]
    stats[ST_TRACE_START] = mts.note[2]

    sub_dt = tick_s / substeps
    cache_debt = 0.0
    cache_backlog = 0.0
    miss_acc = 0.0
    growth_acc = 0.0
    cur_window = -1
    in_window = 0
    suppressed = 0
    n_snaps = 0
    for z in range(nz):
        window_min[z] = zfree[z]
    sample_idx = 0
    sample_fail = 0
    blocking_seq = 0
    pageblock_order = 0
    while (1 << pageblock_order) < pageblock_pages:
        pageblock_order += 1
    # the allocator's per-zone type matrices (per-type counts used only with migratetypes)
    types = mts.types
    per_sub = kswapd_per_tick / substeps

    for t in range(ticks):
        for s in range(substeps):
            # 1. lifetimes that ended
            for a in range(n_actors):
                while q_len[a] > 0 and q_exp[a, q_head[a]] <= t:
                    h = q_head[a]
                    z = q_zone[a, h]
                    _free(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, mts, zbase,
                               zsize, z, q_pfn[a, h], a_order[a])
                    held_pages[z] -= 1 << a_order[a]
                    q_head[a] = (h + 1) % max_cap
                    q_len[a] -= 1
                    stats[ST_EVENTS] += 1
            # work for this sub-step
            (n_growth, n_cache, growth_acc, cache_backlog, cache_debt,
             miss_acc) = substep_demand(t, s, substeps, sub_dt, app_growth, cache_reads,
                                        cache_pages, working_set_pages, cache_readers,
                                        a_counts, remaining, growth_acc, cache_backlog,
                                        cache_debt, miss_acc)
            growth_total = n_growth
            cache_total = n_cache
            for r in range(ROUNDS):
                # this round's share of every actor's work
                n_growth = (growth_total * (r + 1)) // ROUNDS - (growth_total * r) // ROUNDS
                n_cache = (cache_total * (r + 1)) // ROUNDS - (cache_total * r) // ROUNDS
                n_blocking = n_growth + n_cache
                for a in range(n_actors):
                    c = remaining[a]
                    quota[a] = (c * (r + 1)) // ROUNDS - (c * r) // ROUNDS
                # rounds alternate who goes first: even rounds blocking, odd rounds atomic
                for part in range(2):
                    if part == (r & 1):
                        # blocking allocations (app growth first, then cache misses)
                        while n_blocking > 0:
                            is_cache = n_blocking <= n_cache
                            n_blocking -= 1
                            if is_cache:
                                n_cache -= 1
                            blocking_seq += 1
                            node = blocking_seq % n_nodes
                            got = -1
                            gz = -1
                            stalled = False
                            drained = False
                            for attempt in range(17):
                                # fast path: LOW, no discount
                                got, gz = _alloc_blocking_order0(
                                    free_order, alloc_order, nxt, prv, heads, nr_free, zfree,
                                    mts, zbase, zsize, zonelist, node, zone_idx, classzone, era,
                                    wm_low, boost, protection, fast_flags, types,
                                    pageblock_order)
                                if got >= 0:
                                    break
                                # slow path: wake kswapd, MIN with the mode's flags
                                for kk in range(zonelist.shape[1]):
                                    z = zonelist[node, kk]
                                    if z < 0:
                                        break
                                    nd = zone_node[z]
                                    if kswapd_awake[nd] == 0 and not _node_balanced(
                                            nd, era, zfree, boost, wm_high, protection, zone_node,
                                            zone_idx, classzone, nr_free, types, pageblock_order):
                                        kswapd_awake[nd] = 1
                                        stats[ST_KSWAPD_WAKES] += 1
                                got, gz = _alloc_blocking_order0(
                                    free_order, alloc_order, nxt, prv, heads, nr_free, zfree,
                                    mts, zbase, zsize, zonelist, node, zone_idx, classzone, era,
                                    wm_min, boost, protection, cache_flags, types,
                                    pageblock_order)
                                if got >= 0 or attempt == 16:
                                    break
                                if migratetypes and stalled and not drained:
                                    # __alloc_pages_direct_reclaim(): reclaim did not make the
                                    # retry succeed, so give one highatomic pageblock back
                                    # (unreserve_highatomic_pageblock, keeping one per zone)
                                    # and retry before reclaiming again
                                    drained = True
                                    for kk in range(zonelist.shape[1]):
                                        z = zonelist[node, kk]
                                        if z < 0:
                                            break
                                        if zone_idx[z] > classzone:
                                            continue
                                        if _unreserve(
                                                free_order, alloc_order, nxt, prv, heads, nr_free,
                                                mts, zbase, zsize, z, MIGRATE_MOVABLE, False) > 0:
                                            stats[ST_HIGHATOMIC_UNRESERVED] += 1
                                            break
                                    continue
                                # direct reclaim: one batch from this node's LRU
                                if not stalled:
                                    stalled = True
                                    stats[ST_STALLS] += 1
                                    if stats[ST_FIRST_STALL_TICK] < 0:
                                        stats[ST_FIRST_STALL_TICK] = t
                                freed = 0
                                # global direct reclaim at DEF_PRIORITY scans each LRU list
                                # proportionally, lru_size >> 12, without stopping at
                                # SWAP_CLUSTER_MAX (mm/vmscan.c shrink_lruvec,
                                # proportional_reclaim); 0 = that rule
                                batch = direct_batch
                                if batch <= 0:
                                    batch = max(32, lru_len[node] >> 12)
                                while freed < batch and lru_len[node] > 0:
                                    h = lru_head[node]
                                    z = lru_zone[node, h]
                                    if compact_enabled:
                                        mov[lru_pfn[node, h]] = NOT_MOVABLE
                                    _free(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, mts,
                                               zbase, zsize, z, lru_pfn[node, h], 0)
                                    cache_pages[z] -= 1
                                    lru_head[node] = (h + 1) % lru_pfn.shape[1]
                                    lru_len[node] -= 1
                                    freed += 1
                                stats[ST_STALL_PAGES] += freed
                                stats[ST_DIRECT_RECLAIMED] += freed
                                stats[ST_EVENTS] += freed
                                if is_cache and direct_per_s > 0:
                                    cache_debt += freed / direct_per_s
                                if freed == 0:
                                    break
                            if got < 0:
                                stats[ST_BLOCKING_FAIL] += 1
                                continue
                            if (migratetypes and mts.note[0] == 1 and boost_era
                                    and max_boost[gz] > 0):
                                # a movable allocation fell back to another type's pageblock
                                boost[gz] = min(boost[gz] + pageblock_pages, max_boost[gz])
                                if boost[gz] > window_boost[gz]:
                                    window_boost[gz] = boost[gz]
                                stats[ST_BOOST_EVENTS] += 1
                                kswapd_awake[zone_node[gz]] = 1
                            stats[ST_EVENTS] += 1
                            if is_cache:
                                stats[ST_CACHE_ALLOCS] += 1
                                nd = zone_node[gz]
                                slot = (lru_head[nd] + lru_len[nd]) % lru_pfn.shape[1]
                                lru_pfn[nd, slot] = got
                                if compact_enabled:
                                    mov[got] = nd * lru_stride + slot
                                lru_zone[nd, slot] = gz
                                lru_len[nd] += 1
                                cache_pages[gz] += 1
                            else:
                                anon_pages[gz] += 1
                                if compact_enabled:
                                    mov[got] = MOVABLE_ANON
                    else:
                        # atomic allocations, this round's share of each actor
                        for a in range(n_actors):
                            order = a_order[a]
                            node = a_node[a]
                            while quota[a] > 0:
                                quota[a] -= 1
                                got = -1
                                gz = -1
                                for kk in range(zonelist.shape[1]):
                                    z = zonelist[node, kk]
                                    if z < 0:
                                        break
                                    if zone_idx[z] > classzone:
                                        continue
                                    if zone_ok(era, zfree[z], order, wm_low[z] + boost[z],
                                               protection[z, classzone], fast_flags, nr_free, z, types, pageblock_order):
                                        src = _smallest_order(heads, z, order, MIGRATE_MOVABLE)
                                        got = _alloc(free_order, alloc_order, nxt, prv, heads,
                                                     nr_free, zfree, mts, zbase, zsize, z, order,
                                                     a_migratetype[a], a_highatomic[a])
                                        if got >= 0:
                                            gz = z
                                            if migratetypes:
                                                fell_back = mts.note[0] == 1
                                            else:
                                                fell_back = (src < NR_ORDERS and src > order
                                                             and src >= pageblock_order)
                                            if boost_era and max_boost[z] > 0 and fell_back:
                                                boost[z] = min(boost[z] + pageblock_pages, max_boost[z])
                                                if boost[z] > window_boost[z]:
                                                    window_boost[z] = boost[z]
                                                stats[ST_BOOST_EVENTS] += 1
                                                kswapd_awake[zone_node[z]] = 1
                                            break
                                if got < 0:
                                    for kk in range(zonelist.shape[1]):
                                        z = zonelist[node, kk]
                                        if z < 0:
                                            break
                                        nd = zone_node[z]
                                        # wakeup_kswapd() raises pgdat->kswapd_order
                                        if order > ks_order[nd]:
                                            ks_order[nd] = order
                                        if kswapd_awake[nd] == 0 and not _node_balanced(
                                                nd, era, zfree, boost, wm_high, protection, zone_node,
                                                zone_idx, classzone, nr_free, types, pageblock_order):
                                            kswapd_awake[nd] = 1
                                            stats[ST_KSWAPD_WAKES] += 1
                                    for kk in range(zonelist.shape[1]):
                                        z = zonelist[node, kk]
                                        if z < 0:
                                            break
                                        if zone_idx[z] > classzone:
                                            continue
                                        unboosted = -1
                                        if order == 0 and boost[z] > 0 and a_exempt[a]:
                                            unboosted = wm_min[z]
                                        ok = zone_check(era, zfree[z], order, wm_min[z] + boost[z],
                                                        unboosted, wm_min[z] + boost[z],
                                                        protection[z, classzone], a_flags[a], nr_free, z,
                                                        types, pageblock_order)[0]
                                        if ok:
                                            src = _smallest_order(heads, z, order, MIGRATE_MOVABLE)
                                            got = _alloc(free_order, alloc_order, nxt, prv,
                                                         heads, nr_free, zfree, mts, zbase,
                                                         zsize, z, order, a_migratetype[a],
                                                         a_highatomic[a])
                                            if got >= 0:
                                                gz = z
                                                if migratetypes:
                                                    fell_back = mts.note[0] == 1
                                                else:
                                                    fell_back = (src < NR_ORDERS and src > order
                                                                 and src >= pageblock_order)
                                                if boost_era and max_boost[z] > 0 and fell_back:
                                                    boost[z] = min(boost[z] + pageblock_pages,
                                                                   max_boost[z])
                                                    if boost[z] > window_boost[z]:
                                                        window_boost[z] = boost[z]
                                                    stats[ST_BOOST_EVENTS] += 1
                                                break
                                if got >= 0:
                                    stats[ST_ATOMIC_OK] += 1
                                    stats[ST_EVENTS] += 1
                                    held_pages[gz] += 1 << order
                                    tail = (q_head[a] + q_len[a]) % max_cap
                                    q_pfn[a, tail] = got
                                    q_zone[a, tail] = gz
                                    q_exp[a, tail] = t + a_lifetime[a]
                                    q_len[a] += 1
                                    continue
                                # ---- an atomic allocation failure
                                pref = zonelist[node, 0]
                                for kk in range(zonelist.shape[1]):
                                    z = zonelist[node, kk]
                                    if z >= 0 and zone_idx[z] <= classzone:
                                        pref = z
                                        break
                                stats[ST_FAIL] += 1
                                if compact_enabled and compact_wake_on_fail and order > 0:
                                    kcompactd_wake(zone_node[pref], order, kc_awake, kc_order, era,
                                                   zfree, nr_free, zone_node, zone_idx, classzone,
                                                   wm_min, wm_low, protection, extfrag_threshold,
                                                   types, pageblock_order, stats)
                                sample_fail += 1
                                if a_nowarn[a]:
                                    stats[ST_FAIL_NOWARN] += 1
                                if stats[ST_FIRST_FAIL_TICK] < 0:
                                    stats[ST_FIRST_FAIL_TICK] = t
                                fail_by_order[order] += 1
                                fail_by_zone[pref] += 1
                                fail_by_actor[a] += 1
                                cause = zone_check(
                                    era, zfree[pref], order, wm_min[pref] + boost[pref], -1,
                                    wm_min[pref] + boost[pref], protection[pref, classzone],
                                    a_flags[a], nr_free, pref, types, pageblock_order)[1]
                                if cause == 2:
                                    stats[ST_FAIL_ORDER_CAUSE] += 1
                                if not a_nowarn[a]:
                                    window = t // report_window_ticks
                                    if window != cur_window:
                                        cur_window = window
                                        in_window = 0
                                    if in_window < report_burst and n_snaps < snap_tick.shape[0]:
                                        in_window += 1
                                        snap_tick[n_snaps] = t
                                        snap_actor[n_snaps] = a
                                        snap_suppressed[n_snaps] = suppressed
                                        snap_cause[n_snaps] = cause
                                        suppressed = 0
                                        for z in range(nz):
                                            snap_zfree[n_snaps, z] = zfree[z]
                                            snap_boost[n_snaps, z] = boost[z]
                                            snap_cache[n_snaps, z] = cache_pages[z]
                                            snap_anon[n_snaps, z] = anon_pages[z] + pinned_pages[z]
                                            snap_held[n_snaps, z] = held_pages[z]
                                            for o in range(NR_ORDERS):
                                                snap_nrfree[n_snaps, z, o] = nr_free[z, o]
                                        n_snaps += 1
                                    else:
                                        suppressed += 1
                if compact_enabled:
                    _kcompactd_work(free_order, alloc_order, nxt, prv, heads, nr_free, zfree,
                                    mts, zbase, zsize, kc_awake, kc_order, kc_budget, kc_done,
                                    compact_scan_per_sub / ROUNDS, era, zone_node, zone_idx,
                                    classzone, wm_min, wm_low, protection, extfrag_threshold,
                                    types, pageblock_order, mov, lru_flat, cursors,
                                    pageblock_pages, targets, stats)
                for z in range(nz):
                    if zfree[z] < lowest_free[z]:
                        lowest_free[z] = zfree[z]
                    if zfree[z] < window_min[z]:
                        window_min[z] = zfree[z]
            # 4. kswapd
            for node in range(n_nodes):
                if kswapd_awake[node] == 0:
                    continue
                kswapd_budget[node] += per_sub
                worked = False
                while kswapd_budget[node] >= 1.0:
                    if kswapd_pass[node] <= 0 and sleep_or_start_pass(
                            node, era, zfree, boost, wm_min, wm_low, wm_high, protection, zone_node,
                            zone_idx, classzone, nr_free, types, pageblock_order, kswapd_awake,
                            kswapd_budget, kswapd_pass, ks_order, compact_enabled, kc_awake, kc_order,
                            extfrag_threshold, stats):
                        break
                    if lru_len[node] == 0:
                        kswapd_budget[node] = 0.0
                        kswapd_pass[node] = 0
                        break
                    batch = min(32, int(kswapd_budget[node]), kswapd_pass[node])
                    done = 0
                    while done < batch and lru_len[node] > 0:
                        h = lru_head[node]
                        z = lru_zone[node, h]
                        if compact_enabled:
                            mov[lru_pfn[node, h]] = NOT_MOVABLE
                        _free(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, mts,
                                   zbase, zsize, z, lru_pfn[node, h], 0)
                        cache_pages[z] -= 1
                        lru_head[node] = (h + 1) % lru_pfn.shape[1]
                        lru_len[node] -= 1
                        done += 1
                    kswapd_budget[node] -= done
                    kswapd_pass[node] -= done
                    stats[ST_KSWAPD_RECLAIMED] += done
                    stats[ST_EVENTS] += done
                    worked = True
                if worked:
                    stats[ST_KSWAPD_BUSY_SUBSTEPS] += 1
        # samples
        if (t + 1) % sample_ticks == 0 and sample_idx < samples_free.shape[0]:
            for z in range(nz):
                samples_free[sample_idx, z] = window_min[z]
                samples_boost[sample_idx, z] = max(window_boost[z], boost[z])
                window_boost[z] = 0
                window_min[z] = zfree[z]
            for node in range(n_nodes):
                samples_kswapd[sample_idx, node] = kswapd_awake[node]
            samples_fail[sample_idx] = sample_fail
            sample_fail = 0
            sample_idx += 1
    stats[ST_CACHE_BACKLOG] = int(cache_backlog)
    return n_snaps


#: The compiled loop's parameters in order; the last ones are the working arrays that
#: :func:`run_exact` makes, the others are what its callers pass.
_CORE_PARAMETERS = tuple(inspect.signature(_run_exact_core.py_func).parameters)
_WORKING_ARRAYS = 32
assert _CORE_PARAMETERS[-_WORKING_ARRAYS] == "boost", "the working arrays start at boost"


def run_exact(*args):
    """One exact run; returns the number of failure snapshots written. The arguments are
    :func:`_run_exact_core`'s but the working arrays, positionally (see ``run.run_plan``).

    The working arrays are allocated here, in Python, and the compiled loop
    (:func:`_run_exact_core`) allocates nothing: so it is compiled without numba's
    reference counting and the allocator's alloc and free are inlined into it, instead of
    costing an atomic incref/decref per array per call (see simulation/buddy.py)."""
    expected = len(_CORE_PARAMETERS) - _WORKING_ARRAYS
    if len(args) != expected:
        raise TypeError(f"run_exact takes {expected} arguments, got {len(args)}")
    named = dict(zip(_CORE_PARAMETERS, args, strict=False))  # the working arrays come last
    free_order, zfree, zsize = named["free_order"], named["zfree"], named["zsize"]
    zonelist, a_counts, a_capacity = named["zonelist"], named["a_counts"], named["a_capacity"]
    compact_enabled, pageblock_pages = named["compact_enabled"], named["pageblock_pages"]
    initial_above_high = named["initial_above_high"]
    nz = zfree.shape[0]
    n_nodes = zonelist.shape[0]
    n_actors = a_counts.shape[0]
    lru_cap = int(zsize[:nz].sum())
    lru_pfn = np.zeros((n_nodes, lru_cap + 1), dtype=np.int32)
    max_cap = max(1, int(a_capacity.max()) if n_actors else 1)
    frames = free_order.shape[0]
    work = (
        np.zeros(nz, dtype=np.int64),  # boost
        np.zeros(nz, dtype=np.int64),  # window_boost: largest boost within a sample window
        np.zeros(nz, dtype=np.int64),  # cache_pages
        np.zeros(nz, dtype=np.int64),  # anon_pages
        np.zeros(nz, dtype=np.int64),  # held_pages
        np.zeros(nz, dtype=np.int64),  # pinned_pages
        # LRU rings, one per node
        lru_pfn,
        np.zeros((n_nodes, lru_cap + 1), dtype=np.int8),  # lru_zone
        np.zeros(n_nodes, dtype=np.int64),  # lru_head
        np.zeros(n_nodes, dtype=np.int64),  # lru_len
        # compaction: which frames hold movable pages (and their LRU slot, flattened, so the
        # LRU follows a migrated page); kcompactd's state per node; scanners' cursors per zone
        lru_pfn.reshape(-1),  # lru_flat
        np.full(frames if compact_enabled else 1, NOT_MOVABLE, dtype=np.int64),  # mov
        np.zeros(n_nodes, dtype=np.int64),  # kc_awake
        np.zeros(n_nodes, dtype=np.int64),  # kc_order
        np.zeros(n_nodes, dtype=np.float64),  # kc_budget
        np.zeros(nz, dtype=np.int64),  # kc_done
        np.zeros(n_nodes, dtype=np.int64),  # ks_order
        np.zeros((nz, 2), dtype=np.int64),  # cursors
        np.zeros(max(1 << (NR_ORDERS - 1), int(pageblock_pages)), dtype=np.int64),  # targets
        # per-actor FIFO of held blocks
        np.zeros((n_actors, max_cap), dtype=np.int32),  # q_pfn
        np.zeros((n_actors, max_cap), dtype=np.int8),  # q_zone
        np.zeros((n_actors, max_cap), dtype=np.int32),  # q_exp
        np.zeros(n_actors, dtype=np.int64),  # q_head
        np.zeros(n_actors, dtype=np.int64),  # q_len
        np.zeros(n_nodes, dtype=np.int64),  # kswapd_awake
        np.zeros(n_nodes, dtype=np.float64),  # kswapd_budget
        np.zeros(n_nodes, dtype=np.int64),  # kswapd_pass
        np.zeros(nz, dtype=np.int64),  # kept: cache pages of the initial fill per zone
        # the initial fill's frames (only when the cache is filled at the start)
        np.empty(frames if initial_above_high[0] >= 0 else 1, dtype=np.int32),  # tmp_pfn
        np.empty(nz, dtype=np.int64),  # window_min
        np.zeros(max(n_actors, 1), dtype=np.int64),  # remaining
        np.zeros(max(n_actors, 1), dtype=np.int64),  # quota
    )
    assert len(work) == _WORKING_ARRAYS
    return _run_exact_core(*args, *work)


