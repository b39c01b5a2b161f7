"""The exact engine's buddy allocator against its invariants and the pure-Python reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minfree.simulation.buddy import (
    ALLOC_HIGHATOMIC_RESERVE,
    MIGRATE_HIGHATOMIC,
    MIGRATE_MOVABLE,
    MIGRATE_RECLAIMABLE,
    MIGRATE_UNMOVABLE,
    NR_MIGRATETYPES,
    NR_ORDERS,
    BuddyArrays,
    buddy_run_ops,
    check_invariants,
)
from minfree.simulation.buddy_ref import ReferenceBuddy

# An operation: (allocate?, zone selector, order, which held block to free, migratetype,
# highatomic flag). Migratetype 1 (movable) everywhere gives the single-type allocator.
_OPS = st.lists(
    st.tuples(st.booleans(), st.integers(0, 1), st.integers(0, 5), st.integers(0, 10_000),
              st.sampled_from([MIGRATE_MOVABLE]), st.just(0)),
    min_size=1,
    max_size=300,
)
_TYPED_OPS = st.lists(
    st.tuples(st.booleans(), st.integers(0, 1), st.integers(0, 5), st.integers(0, 10_000),
              st.sampled_from([MIGRATE_UNMOVABLE, MIGRATE_MOVABLE, MIGRATE_RECLAIMABLE]),
              st.sampled_from([0, ALLOC_HIGHATOMIC_RESERVE])),
    min_size=1,
    max_size=400,
)
_SIZES = st.tuples(st.integers(1, 5000), st.integers(1, 3000))


def _apply(ops, sizes, pageblock_order=9, unreserve_every=0):
    """Run the same operations on both allocators; return them for inspection."""
    exact = BuddyArrays.for_zones(list(sizes), pageblock_order=pageblock_order)
    ref = ReferenceBuddy(list(sizes), pageblock_order=pageblock_order)
    held: list[tuple[int, int, int]] = []
    for step, (is_alloc, zone, order, pick, mt, flags) in enumerate(ops):
        if is_alloc or not held:
            got_exact = exact.alloc(zone, order, mt, flags)
            got_ref = ref.alloc(zone, order, mt, flags)
            assert got_exact == got_ref
            if got_exact >= 0:
                held.append((zone, got_exact, order))
        else:
            zone_h, pfn, order_h = held.pop(pick % len(held))
            exact.free(zone_h, pfn, order_h)
            ref.free(zone_h, pfn, order_h)
        if unreserve_every and step % unreserve_every == unreserve_every - 1:
            force = bool(step % 2)
            assert exact.unreserve_highatomic(zone, mt, force) == ref.unreserve_highatomic(
                zone, mt, force)
    return exact, ref, held


def _same_state(exact, ref, sizes, held):
    for zone in range(2):
        check_invariants(exact, zone)
        assert list(exact.nr_free[zone]) == ref.free_blocks(zone)
        for order in range(NR_ORDERS):
            for mt in range(NR_MIGRATETYPES):
                assert exact.free_list(zone, order, mt) == ref.free_list(zone, order, mt)
        assert exact.reserved_highatomic(zone) == ref.reserved[zone]
        held_pages = sum(1 << o for z, _, o in held if z == zone)
        assert exact.free_pages(zone) + held_pages == sizes[zone]
    blocks = exact.mts.pb_mt
    for block in range(len(blocks)):
        assert blocks[block] == ref.block_type.get(block, MIGRATE_MOVABLE), block


@settings(max_examples=60, deadline=None)
@given(ops=_OPS, sizes=_SIZES)
def test_exact_matches_reference_and_keeps_invariants(ops, sizes):
    exact, ref, held = _apply(ops, sizes)
    _same_state(exact, ref, sizes, held)


@settings(max_examples=250, deadline=None)
@given(ops=_TYPED_OPS, sizes=_SIZES, pageblock_order=st.integers(2, 9),
       unreserve_every=st.sampled_from([0, 7, 23]))
def test_migratetypes_match_the_reference_and_keep_invariants(ops, sizes, pageblock_order,
                                                              unreserve_every):
    """Fallbacks, pageblock claims and the highatomic reserve and its release give the same
    frames, lists and pageblock types in both allocators (small pageblocks so that claims,
    reserves and the 1 % limit happen within a few hundred operations)."""
    exact, ref, held = _apply(ops, sizes, pageblock_order, unreserve_every)
    _same_state(exact, ref, sizes, held)


@settings(max_examples=30, deadline=None)
@given(ops=_OPS, sizes=_SIZES)
def test_freeing_everything_restores_the_initial_free_lists(ops, sizes):
    exact, _, held = _apply(ops, sizes)
    for zone, pfn, order in held:
        exact.free(zone, pfn, order)
    fresh = BuddyArrays.for_zones(list(sizes))
    assert np.array_equal(exact.nr_free, fresh.nr_free)
    for zone in range(2):
        check_invariants(exact, zone)


def test_batch_ops_in_numba_equal_reference():
    rng = np.random.default_rng(7)
    sizes = [4096, 1500]
    ref = ReferenceBuddy(sizes, pageblock_order=4)
    exact = BuddyArrays.for_zones(sizes, pageblock_order=4)
    # Build a valid op list from the reference run, then replay it compiled.
    ops, held = [], []
    for _ in range(5000):
        if held and rng.random() < 0.5:
            zone, pfn, order = held.pop(int(rng.integers(len(held))))
            ref.free(zone, pfn, order)
            ops.append((1, zone, order, pfn, 0, 0))
        else:
            zone, order = int(rng.integers(2)), int(rng.integers(0, 4))
            mt = int(rng.integers(0, 3))
            flags = ALLOC_HIGHATOMIC_RESERVE if mt == MIGRATE_UNMOVABLE else 0
            pfn = ref.alloc(zone, order, mt, flags)
            ops.append((0, zone, order, -1, mt, flags))
            if pfn >= 0:
                held.append((zone, pfn, order))
    out = np.zeros(len(ops), dtype=np.int64)
    buddy_run_ops(*exact.core, exact.zbase, exact.zsize, np.array(ops, dtype=np.int64), out)
    for zone in range(2):
        assert list(exact.nr_free[zone]) == ref.free_blocks(zone)
        assert exact.reserved_highatomic(zone) == ref.reserved[zone]
        check_invariants(exact, zone)
    assert exact.mts.note[1] > 0, "some allocations fell back to another type"


def test_split_and_merge_by_hand():
    arrays = BuddyArrays.for_zones([16])
    assert list(arrays.nr_free[0][:5]) == [0, 0, 0, 0, 1]
    first = arrays.alloc(0, 0)
    assert first == 0
    # 16 = 1 + 1 + 2 + 4 + 8: expand() left one free block at each lower order.
    assert list(arrays.nr_free[0][:5]) == [1, 1, 1, 1, 0]
    second = arrays.alloc(0, 0)
    assert second == 1
    arrays.free(0, first, 0)
    # frame 0's buddy (1) is allocated: no merge
    assert arrays.nr_free[0][0] == 1
    arrays.free(0, second, 0)
    assert list(arrays.nr_free[0][:5]) == [0, 0, 0, 0, 1]
    check_invariants(arrays, 0)


def test_double_free_is_refused():
    arrays = BuddyArrays.for_zones([64])
    pfn = arrays.alloc(0, 2)
    arrays.free(0, pfn, 2)
    with pytest.raises(ValueError):
        arrays.free(0, pfn, 2)


def test_zone_not_multiple_of_block_has_no_buddy_outside():
    arrays = BuddyArrays.for_zones([1027])
    assert arrays.free_pages(0) == 1027
    blocks = [arrays.alloc(0, 0) for _ in range(1027)]
    assert arrays.alloc(0, 0) == -1
    for pfn in blocks:
        arrays.free(0, pfn, 0)
    check_invariants(arrays, 0)
    assert list(arrays.nr_free[0][:2]) == [1, 1]
    assert arrays.nr_free[0][10] == 1


# -- compaction: real migration in the page map ----------------------------------------------

def _fragment(size, pin_every, seed):
    """Fill a zone with order-0 pages, pin one in ``pin_every + 1``, free a random half of the
    rest: movable pages (with back-references) scattered between free holes and pins."""
    from minfree.simulation.compaction import NOT_MOVABLE

    arrays = BuddyArrays.for_zones([size])
    rng = np.random.default_rng(seed)
    pages = []
    while True:
        pfn = arrays.alloc(0, 0)
        if pfn < 0:
            break
        pages.append(pfn)
    mov = np.full(arrays.free_order.shape[0], NOT_MOVABLE, dtype=np.int64)
    back_ref = np.full(size, -1, dtype=np.int64)
    n_ref = 0
    for i, pfn in enumerate(pages):
        if pin_every and i % (pin_every + 1) == pin_every:
            continue  # pinned: never moves
        if rng.random() < 0.5:
            arrays.free(0, pfn, 0)
        else:
            mov[pfn] = n_ref
            back_ref[n_ref] = pfn
            n_ref += 1
    return arrays, mov, back_ref[:n_ref].copy()


@settings(max_examples=40, deadline=None)
@given(size=st.integers(64, 6000), pin_every=st.integers(0, 7), order=st.integers(1, 6),
       budget=st.integers(1, 8000), seed=st.integers(0, 1000), calls=st.integers(1, 4))
def test_compaction_keeps_the_invariants_and_moves_every_page_with_its_owner(
        size, pin_every, order, budget, seed, calls):
    from minfree.simulation.compaction import RUN_SUCCESS, compact_zone

    arrays, mov, back_ref = _fragment(size, pin_every, seed)
    movable_before = int((mov >= 0).sum())
    free_before = arrays.free_pages(0)
    cursors = np.zeros((1, 2), dtype=np.int64)
    targets = np.zeros(1024, dtype=np.int64)
    outcome = -1
    for _ in range(calls):
        outcome, steps, migrated = compact_zone(*arrays.core, arrays.zbase, arrays.zsize, 0,
                                                order, budget, mov, back_ref, cursors, 512,
                                                targets)
        assert 0 <= steps <= budget
        assert 0 <= migrated <= steps
        # free lists == page map, no free buddies unmerged, pages conserved
        check_invariants(arrays, 0)
        assert arrays.free_pages(0) == free_before
        # every movable page still exists, once, as an allocated order-0 frame its owner
        # points at
        assert int((mov >= 0).sum()) == movable_before
        for ref, pfn in enumerate(back_ref):
            assert mov[pfn] == ref
            assert arrays.alloc_order[pfn] == 0
    if outcome == RUN_SUCCESS:
        assert arrays.nr_free[0, order:].sum() > 0


def test_compaction_merges_what_reclaim_could_not():
    """Alternate movable and free pages: no free block above order 0 until the movable
    pages are migrated to the top of the zone, after which the bottom merges."""
    from minfree.simulation.compaction import NOT_MOVABLE, RUN_SUCCESS, compact_zone

    arrays = BuddyArrays.for_zones([4096])
    pages = [arrays.alloc(0, 0) for _ in range(4096)]
    mov = np.full(arrays.free_order.shape[0], NOT_MOVABLE, dtype=np.int64)
    back_ref = np.zeros(2048, dtype=np.int64)
    for i, pfn in enumerate(pages):
        if i % 2:
            arrays.free(0, pfn, 0)
        else:
            mov[pfn] = i // 2
            back_ref[i // 2] = pfn
    assert list(arrays.nr_free[0][:2]) == [2048, 0]
    outcome, _, migrated = compact_zone(
        *arrays.core, arrays.zbase, arrays.zsize, 0, 3, 100_000, mov, back_ref,
        np.zeros((1, 2), dtype=np.int64), 512, np.zeros(1024, dtype=np.int64))
    assert outcome == RUN_SUCCESS
    assert migrated == 4
    assert arrays.nr_free[0, 3] == 1
    check_invariants(arrays, 0)


# -- migratetypes by hand (mm/page_alloc.c v6.1 rules) ---------------------------------------

def test_unmovable_allocation_claims_a_whole_free_pageblock_range():
    arrays = BuddyArrays.for_zones([4096], pageblock_order=9)  # 4 order-10 blocks, movable
    pfn = arrays.alloc(0, 0, MIGRATE_UNMOVABLE)
    # the largest movable block (order 10 >= pageblock order) changes owner: both pageblocks
    assert [int(arrays.mts.pb_mt[(pfn >> 9) ^ k]) for k in (0, 1)] == [MIGRATE_UNMOVABLE] * 2
    assert arrays.mts.note[0] == 0, "no watermark boost for a fallback of pageblock order"
    # its other halves are unmovable free blocks now, and serve the next unmovable request
    assert arrays.alloc(0, 0, MIGRATE_UNMOVABLE) == pfn + 1
    assert arrays.mts.note[1] == 1, "one fallback only"
    check_invariants(arrays, 0)


def test_fallback_below_pageblock_order_boosts_and_claims_a_mostly_free_block():
    arrays = BuddyArrays.for_zones([1024], pageblock_order=4)  # 64 pageblocks of 16 pages
    movable = [arrays.alloc(0, 0) for _ in range(1024)]
    # free one pageblock's pages but its first: 15 free pages, 1 movable in it
    for pfn in movable[1:16]:
        arrays.free(0, pfn, 0)
    assert arrays.nr_free[0, :4].tolist() == [1, 1, 1, 1]
    got = arrays.alloc(0, 0, MIGRATE_RECLAIMABLE)
    assert got >= 0
    assert arrays.mts.note[0] == 1, "a fallback below pageblock order boosts the watermarks"
    # free 15 + alike (16 - 15 - 1 movable = 0) >= 8: the pageblock is claimed
    assert arrays.mts.pb_mt[got >> 4] == MIGRATE_RECLAIMABLE
    check_invariants(arrays, 0)


def test_movable_fallback_that_cannot_claim_takes_the_smallest_block():
    arrays = BuddyArrays.for_zones([1024], pageblock_order=4)
    # one unmovable pageblock with a free order-0 and a free order-2 block
    pages = [arrays.alloc(0, 0, MIGRATE_UNMOVABLE) for _ in range(16)]
    assert {int(arrays.mts.pb_mt[p >> 4]) for p in pages} == {MIGRATE_UNMOVABLE}
    while arrays.alloc(0, 0) >= 0:  # the movable rest of the zone, all of it
        pass
    arrays.free(0, pages[0], 0)
    for pfn in pages[4:8]:
        arrays.free(0, pfn, 0)
    assert arrays.nr_free[0, :3].tolist() == [1, 0, 1]
    # order 0 movable: can_steal_fallback() is false below pageblock_order / 2 = 2, so the
    # smallest unmovable block is split, not the largest
    assert arrays.alloc(0, 0, MIGRATE_MOVABLE) == pages[0]
    assert arrays.mts.pb_mt[pages[0] >> 4] == MIGRATE_UNMOVABLE  # not claimed
    check_invariants(arrays, 0)


def test_highatomic_reserve_is_made_used_limited_and_given_back():
    arrays = BuddyArrays.for_zones([8192], pageblock_order=5)  # limit 81 + 32 pages: 4 blocks
    first = arrays.alloc(0, 1, MIGRATE_UNMOVABLE, ALLOC_HIGHATOMIC_RESERVE)
    assert arrays.reserved_highatomic(0) == 32
    assert arrays.mts.pb_mt[first >> 5] == MIGRATE_HIGHATOMIC
    # the next atomic order-1 allocation is served from the reserve's free lists
    second = arrays.alloc(0, 1, MIGRATE_UNMOVABLE, ALLOC_HIGHATOMIC_RESERVE)
    assert second >> 5 == first >> 5
    # an allocation without the flag never takes from highatomic lists
    assert arrays.heads[0, :, MIGRATE_HIGHATOMIC].max() >= 0
    movable = arrays.alloc(0, 1, MIGRATE_MOVABLE)
    assert arrays.mts.pb_mt[movable >> 5] != MIGRATE_HIGHATOMIC
    # a reserve grows by a pageblock whenever an atomic allocation lands outside it, while
    # it is under 1 % of the zone plus a pageblock (81 + 32 pages): 32, 64, 96, then 128
    held = [first, second]
    for _ in range(200):
        pfn = arrays.alloc(0, 1, MIGRATE_UNMOVABLE, ALLOC_HIGHATOMIC_RESERVE)
        assert pfn >= 0
        held.append(pfn)
    assert arrays.reserved_highatomic(0) == 128
    assert int((arrays.mts.pb_mt == MIGRATE_HIGHATOMIC).sum()) == 4
    check_invariants(arrays, 0)
    # nothing to give back while the reserve's pages are all in use
    assert arrays.unreserve_highatomic(0, MIGRATE_MOVABLE) == 0
    # free one reserved pageblock's pages (its buddy pageblock stays in use, so they merge
    # to a free pageblock and no further): that pageblock is given back
    blocks = sorted({pfn >> 5 for pfn in held if arrays.mts.pb_mt[pfn >> 5] == MIGRATE_HIGHATOMIC})
    block = next(b for b in blocks if (arrays.free_order[(b ^ 1) * 32:(b ^ 1) * 32 + 32] < 0).all())
    for pfn in [p for p in held if p >> 5 == block]:
        arrays.free(0, pfn, 1)
    assert arrays.nr_free[0, 5] >= 1
    assert arrays.unreserve_highatomic(0, MIGRATE_MOVABLE) == 32
    assert arrays.reserved_highatomic(0) == 96
    assert arrays.mts.pb_mt[block] == MIGRATE_MOVABLE
    check_invariants(arrays, 0)
    # the last pageblock is kept unless forced
    arrays.mts.types[0, NR_ORDERS, 0] = 32  # as if only one were left
    assert arrays.unreserve_highatomic(0, MIGRATE_MOVABLE) == 0
