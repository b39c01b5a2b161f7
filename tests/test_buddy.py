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
