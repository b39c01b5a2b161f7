"""The ``fast`` engine: free-block counts per order instead of page frames, for sweeps.

It replays the same workload trace as :mod:`minfree.simulation.exact` (same plan, same seed)
with the same kernel decisions (the compiled ``watermark_ok_core``, zonelist fallback, LOW
fast path, MIN slow path with the era's ALLOC flags, the boost exception, kswapd until
balanced, direct reclaim in batches), but allocates in bulk:

* **allocation** of ``n`` blocks of one order is exact in counts: the buddy allocator's
  split of the smallest available block depends only on the counts per order, and the
  watermark check is linear in free pages, so the number of allocations that would pass
  one after another follows from the check's ``spare_pages`` (order > 0 on the pre-4.4
  eras, whose check also reads lower-order counts, goes one block at a time);
* **freeing** is where it departs: without frame numbers it cannot know whether a block's
  buddy is free. Reclaimed cache pages come back merged as consecutive pages merge: the
  pages of the order-10 chunk being reclaimed as the binary decomposition of their count,
  or, with long-lived pins, the block mix the pin spacing leaves (computed once) as soon as
  a pattern chunk is back (pages waiting sit on the order-0 list); blocks freed at the end of a
  lifetime (network buffers, slab pages) go back at their own order without merging.

The interleaving of actors (rounds per sub-step) and kswapd's passes are the exact
engine's, so where block availability does not decide, both engines give the same numbers.

``docs/simulation.md`` gives the measured agreement with ``exact`` on every shipped scenario.
"""

from __future__ import annotations

import numba
import numpy as np

from minfree.simulation.checks import zone_check
from minfree.simulation.compaction import (
    RUN_CONTINUE,
    RUN_SUCCESS,
    ST_COMPACT_FAIL,
    ST_COMPACT_MIGRATED,
    ST_COMPACT_SCANNED,
    ST_COMPACT_SKIPPED,
    ST_COMPACT_SUCCESS,
    compact_counts,
    kcompactd_wake,
    zone_needs_compaction,
)
from minfree.simulation.demand import substep_demand
from minfree.simulation.kswapd import node_balanced as _node_balanced
from minfree.simulation.kswapd import sleep_or_start_pass

NR_ORDERS = 11
ROUNDS = 4
_NJIT = {"cache": True, "nogil": True}
#: No numba reference counting: these helpers allocate nothing, and with it every array
#: they are handed costs an atomic incref/decref pair per call (see simulation/buddy.py).
_NJIT_CORE = {**_NJIT, "_nrt": False}


@numba.njit(**_NJIT_CORE)
def alloc_blocks(nr_free, zfree, z, order, n):
    """Allocate up to ``n`` blocks of ``order`` from zone ``z`` by counts, exactly as
    repeated ``__rmqueue_smallest`` would leave the counts; returns (allocated, largest
    order split, or -1 when no block was split)."""
    done = 0
    largest = -1
    j = order
    while j < NR_ORDERS and done < n:
        if nr_free[z, j] > 0:
            per_block = 1 << (j - order)
            need = n - done
            blocks = min(nr_free[z, j], (need + per_block - 1) // per_block)
            units = blocks * per_block
            take = min(units, need)
            nr_free[z, j] -= blocks
            left = units - take
            # what is left of the last split block: expand() leaves one block per set bit
            b = 0
            while left > 0:
                if left & 1:
                    nr_free[z, order + b] += 1
                left >>= 1
                b += 1
            done += take
            if j > order and j > largest:
                largest = j
        j += 1
    zfree[z] -= done << order
    return done, largest


@numba.njit(**_NJIT_CORE)
def _take(
    era,
    nr_free,
    zfree,
    z,
    order,
    n,
    mark,
    unboosted,
    zone_min,
    reserve,
    flags,
    types,
    pageblock_order,
    one_by_one,
):
    """Allocations from zone ``z`` that pass the watermark check one after another;
    returns (allocated, largest order split)."""
    done = 0
    largest = -1
    while done < n:
        passed, _failed_by, spare = zone_check(
            era,
            zfree[z],
            order,
            mark,
            unboosted,
            zone_min,
            reserve,
            flags,
            nr_free,
            z,
            types,
            pageblock_order,
        )
        if not passed:
            break
        # the order-0 test's spare shrinks by one block per allocation
        k = (spare + (1 << order) - 1) >> order
        if k < 1 or one_by_one:
            k = 1
        k = min(k, n - done)
        got, src = alloc_blocks(nr_free, zfree, z, order, k)
        if src > largest:
            largest = src
        done += got
        if got < k:
            break
    return done, largest


@numba.njit(**_NJIT_CORE)
def _return_cache_pages(nr_free, zfree, acc, z, pages, chunk_pages, chunk_blocks):
    """Reclaimed cache pages go back to zone ``z``.

    Pages reclaimed one after another from the LRU were allocated one after another, so
    they merge as they come back. Without pins, the pages of the chunk being reclaimed are
    kept as the binary decomposition of their count (what consecutive aligned pages merge
    into) until a whole order-10 block is back; with pins, they wait on the order-0 list
    until a whole pattern chunk is back, which then becomes the pattern's blocks. Parked
    blocks may have been allocated meanwhile; the parked count shrinks accordingly."""
    zfree[z] += pages
    if chunk_pages == (1 << (NR_ORDERS - 1)):
        # take the parked blocks back out (those still there), then re-add the new count
        parked = acc[z]
        b = 0
        while parked >> b:
            if (parked >> b) & 1:
                if nr_free[z, b] > 0:
                    nr_free[z, b] -= 1
                else:
                    acc[z] -= 1 << b  # allocated meanwhile: no longer parked
            b += 1
        acc[z] += pages
        while acc[z] >= chunk_pages:
            acc[z] -= chunk_pages
            nr_free[z, NR_ORDERS - 1] += 1
        b = 0
        while acc[z] >> b:
            if (acc[z] >> b) & 1:
                nr_free[z, b] += 1
            b += 1
        return
    nr_free[z, 0] += pages
    # pages parked on the order-0 list may have been allocated meanwhile
    if acc[z] > nr_free[z, 0] - pages:
        acc[z] = nr_free[z, 0] - pages
    acc[z] += pages
    while acc[z] >= chunk_pages and nr_free[z, 0] >= chunk_pages:
        acc[z] -= chunk_pages
        nr_free[z, 0] -= chunk_pages
        for o in range(NR_ORDERS):
            nr_free[z, o] += chunk_blocks[o]


@numba.njit(**_NJIT_CORE)
def _reclaim(
    node,
    want,
    lru_zone,
    lru_pages,
    lru_head,
    lru_len,
    nr_free,
    zfree,
    acc,
    cache_pages,
    chunk_pages,
    chunk_blocks,
):
    """Free up to ``want`` of the oldest cache pages of ``node``; returns pages freed."""
    cap = lru_zone.shape[1]
    freed = 0
    while freed < want and lru_len[node] > 0:
        h = lru_head[node]
        z = lru_zone[node, h]
        take = min(want - freed, lru_pages[node, h])
        lru_pages[node, h] -= take
        cache_pages[z] -= take
        _return_cache_pages(nr_free, zfree, acc, z, take, chunk_pages, chunk_blocks)
        freed += take
        if lru_pages[node, h] == 0:
            lru_head[node] = (h + 1) % cap
            lru_len[node] -= 1
    return freed


@numba.njit(**_NJIT_CORE)
def _lru_push(node, z, pages, lru_zone, lru_pages, lru_head, lru_len):
    cap = lru_zone.shape[1]
    if lru_len[node] > 0:
        last = (lru_head[node] + lru_len[node] - 1) % cap
        if lru_zone[node, last] == z:
            lru_pages[node, last] += pages
            return
    if lru_len[node] >= cap:
        # full ring: fold into the newest run of any zone (keeps pages, loses zone order)
        last = (lru_head[node] + lru_len[node] - 1) % cap
        lru_pages[node, last] += pages
        return
    slot = (lru_head[node] + lru_len[node]) % cap
    lru_zone[node, slot] = z
    lru_pages[node, slot] = pages
    lru_len[node] += 1


@numba.njit(**_NJIT_CORE)
def _kcompactd_work(nr_free, zfree, kc_awake, kc_order, kc_budget, kc_done, add, era,
                    zone_node, zone_idx, classzone, wm_min, wm_low, protection,
                    extfrag_threshold, types, pageblock_order, compact_share, stats):
    """kcompactd's share of work after a round, zone by zone as in the exact engine, with
    the count-level stand-in for the scanners (compaction.compact_counts)."""
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
            outcome, steps, moved = compact_counts(
                nr_free, zfree, z, kc_order[node], kc_budget[node],
                compact_share[kc_order[node]])
            kc_budget[node] -= steps
            stats[ST_COMPACT_SCANNED] += steps
            stats[ST_COMPACT_MIGRATED] += moved
            stats[13] += 2 * moved
            if outcome == RUN_CONTINUE:
                all_done = False
                break
            kc_done[z] = 1
            if outcome == RUN_SUCCESS:
                stats[ST_COMPACT_SUCCESS] += 1
            else:
                stats[ST_COMPACT_FAIL] += 1
        if all_done:
            kc_awake[node] = 0
            kc_order[node] = 0
            kc_budget[node] = 0.0
            for z in range(nz):
                if zone_node[z] == node:
                    kc_done[z] = 0


@numba.njit(**_NJIT)
def run_fast(
    zone_pages,
    zone_node,
    zone_idx,
    wm_min,
    wm_low,
    wm_high,
    protection,
    max_boost,
    zonelist,
    classzone,
    era,
    boost_era,
    fast_flags,
    cache_flags,
    pageblock_pages,
    n_type_columns,
    a_counts,
    a_order,
    a_lifetime,
    a_node,
    a_flags,
    a_nowarn,
    a_exempt,
    a_capacity,
    # the exact engine's migratetype inputs: free-block counts have no migratetypes
    a_migratetype,
    a_highatomic,
    migratetypes,
    cache_reads,
    app_growth,
    working_set_pages,
    cache_readers,
    kswapd_per_tick,
    direct_per_s,
    direct_batch,
    tick_s,
    substeps,
    sample_ticks,
    report_burst,
    report_window_ticks,
    app_pages_per_node,
    initial_above_high,
    initial_pin_every,
    initial_fill_all,
    compact_enabled,
    compact_scan_per_sub,
    compact_wake_on_fail,
    extfrag_threshold,
    compact_share,
    stats,
    fail_by_order,
    fail_by_zone,
    fail_by_actor,
    lowest_free,
    samples_free,
    samples_kswapd,
    samples_boost,
    samples_fail,
    snap_tick,
    snap_actor,
    snap_zfree,
    snap_nrfree,
    snap_boost,
    snap_cache,
    snap_anon,
    snap_held,
    snap_suppressed,
    snap_cause,
    chunk_pages,
    chunk_blocks,
):
    nz = zone_pages.shape[0]
    n_nodes = zonelist.shape[0]
    n_actors = a_counts.shape[0]
    ticks = a_counts.shape[1]
    nr_free = np.zeros((nz, NR_ORDERS), dtype=np.int64)
    zfree = np.zeros(nz, dtype=np.int64)
    for z in range(nz):
        # the initial carve of buddy_init_zone: largest aligned blocks
        n = zone_pages[z]
        nr_free[z, NR_ORDERS - 1] = n >> (NR_ORDERS - 1)
        rest = n & ((1 << (NR_ORDERS - 1)) - 1)
        for o in range(NR_ORDERS - 2, -1, -1):
            if rest & (1 << o):
                nr_free[z, o] += 1
        zfree[z] = n
    acc = np.zeros(nz, dtype=np.int64)
    boost = np.zeros(nz, dtype=np.int64)
    # largest boost within the current sample window (boosts are often shorter than it)
    window_boost = np.zeros(nz, dtype=np.int64)
    cache_pages = np.zeros(nz, dtype=np.int64)
    anon_pages = np.zeros(nz, dtype=np.int64)
    held_pages = np.zeros(nz, dtype=np.int64)
    pinned_pages = np.zeros(nz, dtype=np.int64)
    lru_cap = ticks * substeps * ROUNDS * 2 + 4 * nz + 16
    for z in range(nz):
        lru_cap += (zone_pages[z] // 1024 + 1) * nz
    lru_zone = np.zeros((n_nodes, lru_cap), dtype=np.int8)
    lru_pages = np.zeros((n_nodes, lru_cap), dtype=np.int64)
    lru_head = np.zeros(n_nodes, dtype=np.int64)
    lru_len = np.zeros(n_nodes, dtype=np.int64)
    # held blocks: per actor a ring of (expiry tick, zone, count)
    q_cap = ticks * substeps * ROUNDS * nz + 16
    q_zone = np.zeros((max(n_actors, 1), q_cap), dtype=np.int8)
    q_cnt = np.zeros((max(n_actors, 1), q_cap), dtype=np.int64)
    q_exp = np.zeros((max(n_actors, 1), q_cap), dtype=np.int32)
    q_head = np.zeros(max(n_actors, 1), dtype=np.int64)
    q_len = np.zeros(max(n_actors, 1), dtype=np.int64)
    kswapd_awake = np.zeros(n_nodes, dtype=np.int64)
    kswapd_budget = np.zeros(n_nodes, dtype=np.float64)
    kswapd_pass = np.zeros(n_nodes, dtype=np.int64)
    # kcompactd per node (see compaction.py: a count-level stand-in in this engine)
    kc_awake = np.zeros(n_nodes, dtype=np.int64)
    kc_order = np.zeros(n_nodes, dtype=np.int64)
    kc_budget = np.zeros(n_nodes, dtype=np.float64)
    kc_done = np.zeros(nz, dtype=np.int64)
    ks_order = np.zeros(n_nodes, dtype=np.int64)
    pageblock_order = 0
    while (1 << pageblock_order) < pageblock_pages:
        pageblock_order += 1
    # per-zone type matrices with no counts kept: the fast engine has no migratetypes
    types = np.zeros((nz, NR_ORDERS + 1, n_type_columns), dtype=np.int64)
    one_by_one_high = era <= 2  # pre-4.4 checks read lower-order counts for order > 0

    # ---- initial state, as in the exact engine
    for node in range(n_nodes):
        left = app_pages_per_node[node]
        for k in range(zonelist.shape[1]):
            z = zonelist[node, k]
            if z < 0 or zone_node[z] != node:
                continue
            for order in range(NR_ORDERS - 1, -1, -1):
                if left <= 0:
                    break
                want = left >> order
                if want <= 0:
                    continue
                got, _ = alloc_blocks(nr_free, zfree, z, order, want)
                anon_pages[z] += got << order
                left -= got << order
    if initial_above_high[0] >= 0:
        kept = np.zeros(nz, dtype=np.int64)
        for z in range(nz):
            target = wm_high[z] + initial_above_high[z] + protection[z, classzone]
            want = zfree[z] if initial_fill_all else zfree[z] - target
            if want <= 0:
                continue
            got, _ = alloc_blocks(nr_free, zfree, z, 0, want)
            pins = 0
            if initial_pin_every > 0:
                pins = got // (initial_pin_every + 1)
            pinned_pages[z] += pins
            cached = got - pins
            if initial_fill_all and zfree[z] < target:
                back = min(target - zfree[z], cached)
                cached -= back
                _return_cache_pages(nr_free, zfree, acc, z, back, chunk_pages, chunk_blocks)
            cache_pages[z] += cached
            kept[z] = cached
        total = 0
        for z in range(nz):
            total += kept[z]
        rounds = max(1, total // 1024)
        for r in range(rounds):
            for z in range(nz):
                share = (kept[z] * (r + 1)) // rounds - (kept[z] * r) // rounds
                if share > 0:
                    _lru_push(zone_node[z], z, share, lru_zone, lru_pages, lru_head, lru_len)
    for z in range(nz):
        lowest_free[z] = zfree[z]

    sub_dt = tick_s / substeps
    cache_debt = 0.0
    cache_backlog = 0.0
    miss_acc = 0.0
    growth_acc = 0.0
    cur_window = -1
    in_window = 0
    suppressed = 0
    n_snaps = 0
    window_min = zfree.copy()
    sample_idx = 0
    sample_fail = 0
    per_sub = kswapd_per_tick / substeps
    remaining = np.zeros(max(n_actors, 1), dtype=np.int64)
    blocking_node = 0

    for t in range(ticks):
        for s in range(substeps):
            for a in range(n_actors):
                while q_len[a] > 0 and q_exp[a, q_head[a]] <= t:
                    h = q_head[a]
                    z = q_zone[a, h]
                    nr_free[z, a_order[a]] += q_cnt[a, h]
                    zfree[z] += q_cnt[a, h] << a_order[a]
                    held_pages[z] -= q_cnt[a, h] << a_order[a]
                    stats[13] += q_cnt[a, h]
                    q_head[a] = (h + 1) % q_cap
                    q_len[a] -= 1
            (n_growth, n_cache, growth_acc, cache_backlog, cache_debt,
             miss_acc) = substep_demand(t, s, substeps, sub_dt, app_growth, cache_reads,
                                        cache_pages, working_set_pages, cache_readers,
                                        a_counts, remaining, growth_acc, cache_backlog,
                                        cache_debt, miss_acc)
            for r in range(ROUNDS):
                # rounds alternate who goes first: even rounds blocking, odd rounds atomic
                for part in range(2):
                    if part == (r & 1):
                        # ---- blocking: app growth then cache misses, this round's share
                        for kind in range(2):
                            total = n_growth if kind == 0 else n_cache
                            n = (total * (r + 1)) // ROUNDS - (total * r) // ROUNDS
                            while n > 0:
                                blocking_node = (blocking_node + 1) % n_nodes
                                node = blocking_node
                                # spread over nodes like the exact engine's alternation
                                share = n if n_nodes == 1 else max(n // n_nodes, 1)
                                want = share
                                n -= share
                                got_total = 0
                                # the allocation at the head of the queue: its reclaim batches so far
                                batches = 0
                                stalled_cur = False
                                while want > 0:
                                    progress = 0
                                    for kk in range(zonelist.shape[1]):
                                        z = zonelist[node, kk]
                                        if z < 0:
                                            break
                                        if zone_idx[z] > classzone or want == 0:
                                            continue
                                        got, _ = _take(
                                            era,
                                            nr_free,
                                            zfree,
                                            z,
                                            0,
                                            want,
                                            wm_low[z] + boost[z],
                                            -1,
                                            wm_low[z] + boost[z],
                                            protection[z, classzone],
                                            fast_flags,
                                            types,
                                            pageblock_order,
                                            False,
                                        )
                                        if got > 0:
                                            want -= got
                                            progress += got
                                            if kind == 1:
                                                cache_pages[z] += got
                                                _lru_push(
                                                    zone_node[z],
                                                    z,
                                                    got,
                                                    lru_zone,
                                                    lru_pages,
                                                    lru_head,
                                                    lru_len,
                                                )
                                            else:
                                                anon_pages[z] += got
                                    if want > 0:
                                        for kk in range(zonelist.shape[1]):
                                            z = zonelist[node, kk]
                                            if z < 0:
                                                break
                                            nd = zone_node[z]
                                            if kswapd_awake[nd] == 0 and not _node_balanced(
                                                nd,
                                                era,
                                                zfree,
                                                boost,
                                                wm_high,
                                                protection,
                                                zone_node,
                                                zone_idx,
                                                classzone,
                                                nr_free,
                                                types,
                                                pageblock_order,
                                            ):
                                                kswapd_awake[nd] = 1
                                                stats[8] += 1
                                        for kk in range(zonelist.shape[1]):
                                            z = zonelist[node, kk]
                                            if z < 0:
                                                break
                                            if zone_idx[z] > classzone or want == 0:
                                                continue
                                            got, _ = _take(
                                                era,
                                                nr_free,
                                                zfree,
                                                z,
                                                0,
                                                want,
                                                wm_min[z] + boost[z],
                                                -1,
                                                wm_min[z] + boost[z],
                                                protection[z, classzone],
                                                cache_flags,
                                                types,
                                                pageblock_order,
                                                False,
                                            )
                                            if got > 0:
                                                want -= got
                                                progress += got
                                                if kind == 1:
                                                    cache_pages[z] += got
                                                    _lru_push(
                                                        zone_node[z],
                                                        z,
                                                        got,
                                                        lru_zone,
                                                        lru_pages,
                                                        lru_head,
                                                        lru_len,
                                                    )
                                                else:
                                                    anon_pages[z] += got
                                    got_total += progress
                                    if progress > 0:
                                        batches = 0
                                        stalled_cur = False
                                    if want == 0:
                                        break
                                    if batches == 16:
                                        # this allocation gave up after 16 reclaim rounds
                                        stats[5] += 1
                                        want -= 1
                                        batches = 0
                                        stalled_cur = False
                                        continue
                                    if not stalled_cur:
                                        stats[3] += 1
                                        stalled_cur = True
                                        if stats[16] < 0:
                                            stats[16] = t
                                    batch = direct_batch
                                    if batch <= 0:
                                        node_cache = 0
                                        for zz in range(nz):
                                            if zone_node[zz] == node:
                                                node_cache += cache_pages[zz]
                                        batch = max(32, node_cache >> 12)
                                    freed = _reclaim(
                                        node,
                                        batch,
                                        lru_zone,
                                        lru_pages,
                                        lru_head,
                                        lru_len,
                                        nr_free,
                                        zfree,
                                        acc,
                                        cache_pages,
                                        chunk_pages,
                                        chunk_blocks,
                                    )
                                    batches += 1
                                    stats[4] += freed
                                    stats[14] += freed
                                    stats[13] += freed
                                    if kind == 1 and direct_per_s > 0:
                                        cache_debt += freed / direct_per_s
                                    if freed == 0:
                                        stats[5] += want
                                        break
                                stats[13] += got_total
                                if kind == 1:
                                    stats[11] += got_total
                    else:
                        # ---- atomic actors, this round's share
                        for a in range(n_actors):
                            c = remaining[a]
                            n = (c * (r + 1)) // ROUNDS - (c * r) // ROUNDS
                            if n <= 0:
                                continue
                            order = a_order[a]
                            node = a_node[a]
                            one = one_by_one_high and order > 0
                            for phase in range(2):
                                if n == 0:
                                    break
                                if phase == 1:
                                    for kk in range(zonelist.shape[1]):
                                        z = zonelist[node, kk]
                                        if z < 0:
                                            break
                                        nd = zone_node[z]
                                        # wakeup_kswapd() raises pgdat->kswapd_order
                                        if order > ks_order[nd]:
                                            ks_order[nd] = order
                                        if kswapd_awake[nd] == 0 and not _node_balanced(
                                            nd,
                                            era,
                                            zfree,
                                            boost,
                                            wm_high,
                                            protection,
                                            zone_node,
                                            zone_idx,
                                            classzone,
                                            nr_free,
                                            types,
                                            pageblock_order,
                                        ):
                                            kswapd_awake[nd] = 1
                                            stats[8] += 1
                                for kk in range(zonelist.shape[1]):
                                    z = zonelist[node, kk]
                                    if z < 0:
                                        break
                                    if zone_idx[z] > classzone or n == 0:
                                        continue
                                    if phase == 0:
                                        mark = wm_low[z] + boost[z]
                                        got, src = _take(
                                            era,
                                            nr_free,
                                            zfree,
                                            z,
                                            order,
                                            n,
                                            mark,
                                            -1,
                                            mark,
                                            protection[z, classzone],
                                            fast_flags,
                                            types,
                                            pageblock_order,
                                            one,
                                        )
                                    else:
                                        mark = wm_min[z] + boost[z]
                                        unboosted = -1
                                        if order == 0 and boost[z] > 0 and a_exempt[a]:
                                            unboosted = wm_min[z]
                                        got, src = _take(
                                            era,
                                            nr_free,
                                            zfree,
                                            z,
                                            order,
                                            n,
                                            mark,
                                            unboosted,
                                            mark,
                                            protection[z, classzone],
                                            a_flags[a],
                                            types,
                                            pageblock_order,
                                            one,
                                        )
                                    if got > 0:
                                        n -= got
                                        stats[10] += got
                                        stats[13] += got
                                        held_pages[z] += got << order
                                        tail = (q_head[a] + q_len[a]) % q_cap
                                        q_zone[a, tail] = z
                                        q_cnt[a, tail] = got
                                        q_exp[a, tail] = t + a_lifetime[a]
                                        q_len[a] += 1
                                        if (
                                            boost_era
                                            and max_boost[z] > 0
                                            and src >= pageblock_order
                                            and src > order
                                        ):
                                            boost[z] = min(boost[z] + pageblock_pages, max_boost[z])
                                            if boost[z] > window_boost[z]:
                                                window_boost[z] = boost[z]
                                            stats[9] += 1
                                            if phase == 0:
                                                kswapd_awake[zone_node[z]] = 1
                            if n > 0:
                                # ---- n atomic failures
                                pref = zonelist[node, 0]
                                for kk in range(zonelist.shape[1]):
                                    z = zonelist[node, kk]
                                    if z >= 0 and zone_idx[z] <= classzone:
                                        pref = z
                                        break
                                stats[0] += n
                                sample_fail += n
                                if compact_enabled and compact_wake_on_fail and order > 0:
                                    kcompactd_wake(zone_node[pref], order, kc_awake, kc_order, era,
                                                   zfree, nr_free, zone_node, zone_idx, classzone,
                                                   wm_min, wm_low, protection, extfrag_threshold,
                                                   types, pageblock_order, stats)
                                if a_nowarn[a]:
                                    stats[1] += n
                                if stats[2] < 0:
                                    stats[2] = t
                                fail_by_order[order] += n
                                fail_by_zone[pref] += n
                                fail_by_actor[a] += n
                                cause = zone_check(
                                    era, zfree[pref], order, wm_min[pref] + boost[pref], -1,
                                    wm_min[pref] + boost[pref], protection[pref, classzone],
                                    a_flags[a], nr_free, pref, types, pageblock_order)[1]
                                if cause == 2:
                                    stats[12] += n
                                if not a_nowarn[a]:
                                    window = t // report_window_ticks
                                    if window != cur_window:
                                        cur_window = window
                                        in_window = 0
                                    left = n
                                    while left > 0:
                                        if in_window >= report_burst or n_snaps >= snap_tick.shape[0]:
                                            # the rest of this window is rate-limited away
                                            suppressed += left
                                            break
                                        left -= 1
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
                if compact_enabled:
                    _kcompactd_work(nr_free, zfree, kc_awake, kc_order, kc_budget, kc_done,
                                    compact_scan_per_sub / ROUNDS, era, zone_node, zone_idx,
                                    classzone, wm_min, wm_low, protection, extfrag_threshold,
                                    types, pageblock_order, compact_share, stats)
                for z in range(nz):
                    if zfree[z] < lowest_free[z]:
                        lowest_free[z] = zfree[z]
                    if zfree[z] < window_min[z]:
                        window_min[z] = zfree[z]
            # ---- kswapd
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
                    batch = min(int(kswapd_budget[node]), kswapd_pass[node])
                    done = _reclaim(
                        node,
                        batch,
                        lru_zone,
                        lru_pages,
                        lru_head,
                        lru_len,
                        nr_free,
                        zfree,
                        acc,
                        cache_pages,
                        chunk_pages,
                        chunk_blocks,
                    )
                    kswapd_budget[node] -= done
                    kswapd_pass[node] -= done
                    stats[6] += done
                    stats[13] += done
                    worked = True
                    if done == 0:
                        break
                if worked:
                    stats[7] += 1
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
    stats[15] = int(cache_backlog)
    return n_snaps


def pin_pattern(pin_every: int, orders: int = NR_ORDERS) -> tuple[int, np.ndarray]:
    """Free blocks left when every ``pin_every + 1``-th page stays allocated and all the
    others are free: (free pages per pattern chunk, blocks per order in that chunk).

    Without pins a chunk is one order-10 block. With pins the chunk is the shortest span
    after which the block layout repeats: a multiple of the period and of the largest block
    a run of ``pin_every`` free pages can hold, so that blocks form as soon as the exact
    engine's would; the blocks are the buddy decomposition of each free run.

    >>> pin_pattern(0)[0], pin_pattern(0)[1].tolist()[-1]
    (1024, 1)
    >>> pages, blocks = pin_pattern(3)        # pattern: 3 free, 1 pinned
    >>> pages, blocks[:3].tolist()
    (12, [4, 4, 0])
    >>> pin_pattern(4)[0], pin_pattern(4)[1][:3].tolist()   # 4 free, 1 pinned: 1 in 4 aligned
    (32, [8, 8, 2])
    """
    top = 1 << (orders - 1)
    blocks = np.zeros(orders, dtype=np.int64)
    if pin_every <= 0:
        blocks[orders - 1] = 1
        return top, blocks
    period = pin_every + 1
    largest = 1
    while largest * 2 <= pin_every:
        largest *= 2
    span = period * largest * 2
    pfn = 0
    free_pages = 0
    while pfn < span:
        if pfn % period == pin_every:
            pfn += 1
            continue
        run_end = (pfn // period) * period + pin_every
        order = orders - 1
        while order > 0 and (pfn % (1 << order) != 0 or pfn + (1 << order) > run_end):
            order -= 1
        blocks[order] += 1
        free_pages += 1 << order
        pfn += 1 << order
    return free_pages, blocks
