"""The exact engine's buddy allocator against its invariants and the pure-Python reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minfree.simulation.buddy import NR_ORDERS, BuddyArrays, buddy_run_ops, check_invariants
from minfree.simulation.buddy_ref import ReferenceBuddy

# An operation: (allocate?, zone selector, order, which held block to free).
_OPS = st.lists(
    st.tuples(st.booleans(), st.integers(0, 1), st.integers(0, 5), st.integers(0, 10_000)),
    min_size=1,
    max_size=300,
)
_SIZES = st.tuples(st.integers(1, 5000), st.integers(1, 3000))


def _apply(ops, sizes):
    """Run the same operations on both allocators; return them for inspection."""
    exact = BuddyArrays.for_zones(list(sizes))
    ref = ReferenceBuddy(list(sizes))
    held: list[tuple[int, int, int]] = []
    for is_alloc, zone, order, pick in ops:
        if is_alloc or not held:
            got_exact = exact.alloc(zone, order)
            got_ref = ref.alloc(zone, order)
            assert got_exact == got_ref
            if got_exact >= 0:
                held.append((zone, got_exact, order))
        else:
            zone_h, pfn, order_h = held.pop(pick % len(held))
            exact.free(zone_h, pfn, order_h)
            ref.free(zone_h, pfn, order_h)
    return exact, ref, held


@settings(max_examples=60, deadline=None)
@given(ops=_OPS, sizes=_SIZES)
def test_exact_matches_reference_and_keeps_invariants(ops, sizes):
    exact, ref, held = _apply(ops, sizes)
    for zone in range(2):
        check_invariants(exact, zone)
        assert list(exact.nr_free[zone]) == ref.free_blocks(zone)
        for order in range(NR_ORDERS):
            assert exact.free_list(zone, order) == ref.lists[zone][order]
        held_pages = sum(1 << o for z, _, o in held if z == zone)
        assert exact.free_pages(zone) + held_pages == sizes[zone]


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
    ref = ReferenceBuddy(sizes)
    exact = BuddyArrays.for_zones(sizes)
    # Build a valid op list from the reference run, then replay it compiled.
    ops, held = [], []
    for _ in range(5000):
        if held and rng.random() < 0.5:
            zone, pfn, order = held.pop(int(rng.integers(len(held))))
            ref.free(zone, pfn, order)
            ops.append((1, zone, order, pfn))
        else:
            zone, order = int(rng.integers(2)), int(rng.integers(0, 4))
            pfn = ref.alloc(zone, order)
            ops.append((0, zone, order, -1))
            if pfn >= 0:
                held.append((zone, pfn, order))
    out = np.zeros(len(ops), dtype=np.int64)
    buddy_run_ops(*exact.core, exact.zbase, exact.zsize, np.array(ops, dtype=np.int64), out)
    for zone in range(2):
        assert list(exact.nr_free[zone]) == ref.free_blocks(zone)
        check_invariants(exact, zone)


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
