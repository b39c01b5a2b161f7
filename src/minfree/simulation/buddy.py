"""A buddy allocator over every page frame, compiled with numba (the ``exact`` engine's core).

The layout mirrors ``mm/page_alloc.c`` closely enough that fragmentation *emerges* from the
workload instead of being assumed:

* each zone is a run of page frames whose first frame is aligned to the largest block
  (``1 << (NR_ORDERS - 1)`` pages), so a block's buddy is ``pfn ^ (1 << order)`` relative to
  the zone base, exactly as ``__find_buddy_pfn`` computes it;
* one doubly linked free list per (zone, order); ``__rmqueue_smallest`` takes the head of the
  smallest non-empty list at or above the requested order and ``expand`` puts the upper
  halves back, one block per order on the way down;
* ``__free_one_page`` merges a freed block with its buddy for as long as the buddy is a
  free block of the same order (never with an allocated one), then adds the result to the
  head of its list.

Departures, kept on purpose: no migratetypes (one free list per order, so no mobility
grouping and no stealing), no per-CPU page lists, and a freed block always goes to the head
of its list (the kernel sometimes puts it at the tail when the next-higher buddy is free).
These are documented in ``docs/simulation.md``.

State is a tuple of numpy arrays (numba caches functions on arrays; it cannot cache
jitclasses). Frame numbers are global across zones; ``free_order[pfn]`` is the order of the
free block whose head is ``pfn`` and -1 otherwise; ``alloc_order[pfn]`` likewise for
allocated blocks, so the page map can be checked against the free lists.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

#: Orders 0..10, as x86_64 and arm64-4K kernels have (NR_PAGE_ORDERS = MAX_ORDER = 11).
NR_ORDERS = 11
MAX_BLOCK_PAGES = 1 << (NR_ORDERS - 1)

_NJIT = {"cache": True, "nogil": True}
#: The allocator proper allocates nothing, so it is compiled without numba's reference
#: counting (``_nrt=False``). With it, every array an inlined alloc or free touches got an
#: atomic incref/decref pair per call - about a dozen per page event, more than half the
#: cost of an event (26 M events/s with them, 51-57 M/s without, bench/results/simulate.md).
#: ``buddy_alloc`` and ``buddy_free`` are therefore *called*, not inlined, from the engines
#: (whose loops allocate arrays and so keep reference counting): a call into a function
#: compiled without it passes the arrays as they are.
_NJIT_CORE = {"cache": True, "nogil": True, "_nrt": False}
#: The list primitives are inlined into alloc and free at numba's IR level.
_NJIT_INLINE = {**_NJIT_CORE, "inline": "always"}


@numba.njit(**_NJIT_INLINE)
def _list_add(nxt, prv, heads, z, order, pfn):
    head = heads[z, order]
    nxt[pfn] = head
    prv[pfn] = -1
    if head >= 0:
        prv[head] = pfn
    heads[z, order] = pfn


@numba.njit(**_NJIT_INLINE)
def _list_del(nxt, prv, heads, z, order, pfn):
    n = nxt[pfn]
    p = prv[pfn]
    if p >= 0:
        nxt[p] = n
    else:
        heads[z, order] = n
    if n >= 0:
        prv[n] = p
    nxt[pfn] = -1  # kept tidy: free_list() and the invariant checks walk these
    prv[pfn] = -1


@numba.njit(**_NJIT_CORE)
def buddy_alloc(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, z, order):
    """Allocate a block of ``order`` from zone ``z``; return its head frame or -1.

    No watermark check here: the caller decides (as ``get_page_from_freelist`` does before
    ``rmqueue``)."""
    current = order
    while current < NR_ORDERS and heads[z, current] < 0:
        current += 1
    if current >= NR_ORDERS:
        return -1
    pfn = heads[z, current]
    _list_del(nxt, prv, heads, z, current, pfn)
    free_order[pfn] = -1
    nr_free[z, current] -= 1
    # expand(): keep the low half, put the high half back, one order at a time.
    while current > order:
        current -= 1
        upper = pfn + (1 << current)
        _list_add(nxt, prv, heads, z, current, upper)
        free_order[upper] = current
        nr_free[z, current] += 1
    alloc_order[pfn] = order
    zfree[z] -= 1 << order
    return pfn


@numba.njit(**_NJIT_CORE)
def buddy_free(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, zbase, zsize, z, pfn,
               order):
    """Free the block ``pfn`` of ``order`` in zone ``z``, merging with free buddies only."""
    alloc_order[pfn] = -1
    zfree[z] += 1 << order
    base = zbase[z]
    end = base + zsize[z]
    while order < NR_ORDERS - 1:
        buddy = base + ((pfn - base) ^ (1 << order))
        if buddy + (1 << order) > end or free_order[buddy] != order:
            break
        _list_del(nxt, prv, heads, z, order, buddy)
        free_order[buddy] = -1
        nr_free[z, order] -= 1
        if buddy < pfn:
            pfn = buddy
        order += 1
    _list_add(nxt, prv, heads, z, order, pfn)
    free_order[pfn] = order
    nr_free[z, order] += 1


@numba.njit(**_NJIT)
def buddy_init_zone(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, zbase, zsize, z):
    """Put every frame of zone ``z`` on the free lists as the largest aligned blocks."""
    base = zbase[z]
    end = base + zsize[z]
    pfn = base
    while pfn < end:
        order = NR_ORDERS - 1
        while order > 0 and (((pfn - base) & ((1 << order) - 1)) != 0 or pfn + (1 << order) > end):
            order -= 1
        _list_add(nxt, prv, heads, z, order, pfn)
        free_order[pfn] = order
        nr_free[z, order] += 1
        zfree[z] += 1 << order
        pfn += 1 << order


@numba.njit(**_NJIT_CORE)
def buddy_run_ops(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, zbase, zsize, ops,
                  out):
    """Apply a batch of operations (for tests and the benchmark).

    ``ops[i] = (kind, zone, order, pfn)``: kind 0 allocates (result frame or -1 into
    ``out[i]``), kind 1 frees ``pfn`` of ``order``. Returns the number of operations that
    changed the allocator (allocations that found a block plus frees)."""
    events = 0
    for i in range(ops.shape[0]):
        kind = ops[i, 0]
        z = ops[i, 1]
        order = ops[i, 2]
        if kind == 0:
            got = buddy_alloc(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, z, order)
            out[i] = got
            if got >= 0:
                events += 1
        else:
            buddy_free(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, zbase, zsize, z,
                       ops[i, 3], order)
            out[i] = ops[i, 3]
            events += 1
    return events


@numba.njit(**_NJIT)
def buddy_churn(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, zbase, zsize, z,
                n_ops, max_order, seed, held):
    """Random allocate/free churn inside numba (benchmark of page events per second).

    Keeps up to ``held.shape[0]`` blocks; returns the number of events performed."""
    np.random.seed(seed)
    n_held = 0
    held_order = np.zeros(held.shape[0], dtype=np.int8)
    events = 0
    for _ in range(n_ops):
        if n_held > 0 and (n_held == held.shape[0] or np.random.random() < 0.5):
            k = np.random.randint(0, n_held)
            buddy_free(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, zbase, zsize, z,
                       held[k], held_order[k])
            n_held -= 1
            held[k] = held[n_held]
            held_order[k] = held_order[n_held]
            events += 1
        else:
            order = np.random.randint(0, max_order + 1)
            got = buddy_alloc(free_order, alloc_order, nxt, prv, heads, nr_free, zfree, z, order)
            if got >= 0:
                held[n_held] = got
                held_order[n_held] = order
                n_held += 1
                events += 1
    return events


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
    zbase: np.ndarray
    zsize: np.ndarray

    @classmethod
    def for_zones(cls, zone_pages: list[int] | tuple[int, ...]) -> BuddyArrays:
        """Lay the zones out one after another, each aligned to the largest block, all free."""
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
        arrays = cls(
            free_order=np.full(total, -1, dtype=np.int8),
            alloc_order=np.full(total, -1, dtype=np.int8),
            nxt=np.full(total, -1, dtype=np.int32),
            prv=np.full(total, -1, dtype=np.int32),
            heads=np.full((max(nz, 1), NR_ORDERS), -1, dtype=np.int32),
            nr_free=np.zeros((max(nz, 1), NR_ORDERS), dtype=np.int64),
            zfree=np.zeros(max(nz, 1), dtype=np.int64),
            zbase=zbase,
            zsize=zsize,
        )
        for i in range(nz):
            buddy_init_zone(*arrays.core, arrays.zbase, arrays.zsize, i)
        return arrays

    @property
    def core(self) -> tuple[np.ndarray, ...]:
        """The arrays that alloc/free mutate, in the order the jitted functions take them."""
        return (self.free_order, self.alloc_order, self.nxt, self.prv, self.heads, self.nr_free,
                self.zfree)

    def alloc(self, zone: int, order: int) -> int:
        return int(buddy_alloc(*self.core, zone, order))

    def free(self, zone: int, pfn: int, order: int) -> None:
        if self.alloc_order[pfn] != order:
            raise ValueError(f"frame {pfn} is not an allocated block of order {order}")
        buddy_free(*self.core, self.zbase, self.zsize, zone, pfn, order)

    def free_list(self, zone: int, order: int) -> list[int]:
        """Frames on one free list, head first."""
        out = []
        pfn = int(self.heads[zone, order])
        while pfn >= 0:
            out.append(pfn)
            pfn = int(self.nxt[pfn])
        return out

    def free_pages(self, zone: int) -> int:
        return int(self.zfree[zone])


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
    for order in range(NR_ORDERS):
        listed = arrays.free_list(zone, order)
        assert len(listed) == arrays.nr_free[zone, order], (zone, order)
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
    assert free_pages + alloc_pages == size, "pages not conserved"
    assert covered.max(initial=1) == 1, "overlapping blocks"
    assert covered.min(initial=1) == 1, "frames neither free nor allocated"
