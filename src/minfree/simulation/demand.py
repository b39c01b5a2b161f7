"""One sub-step's demand, shared by both engines.

How many pages the application grows by, how many page-cache misses the readers cause (the
cache's hit ratio is what it holds over the working set; direct-reclaim stalls owed by the
readers hold them back), and how many of each actor's events fall in this sub-step. The
engines differ only in how they then serve that demand (page frames or block counts).
"""

from __future__ import annotations

import numba

#: No numba reference counting: these helpers allocate nothing, and with it every array
#: they are handed costs an atomic incref/decref pair per call (see simulation/buddy.py).
_NJIT = {"cache": True, "nogil": True, "_nrt": False}


@numba.njit(**_NJIT)
def substep_demand(t, s, substeps, sub_dt, app_growth, cache_reads, cache_pages,
                   working_set_pages, cache_readers, a_counts, remaining, growth_acc,
                   cache_backlog, cache_debt, miss_acc):
    """Returns (n_growth, n_cache, growth_acc, cache_backlog, cache_debt, miss_acc) and fills
    ``remaining[a]`` with actor ``a``'s events in sub-step ``s`` of tick ``t``.

    Fractions carry over in the accumulators so rates below one page per sub-step still
    add up over a tick.
    """
    growth_acc += app_growth[t] / substeps
    n_growth = int(growth_acc)
    growth_acc -= n_growth
    cached_total = 0
    for z in range(cache_pages.shape[0]):
        cached_total += cache_pages[z]
    hit = 0.0
    if working_set_pages > 0:
        hit = min(1.0, cached_total / working_set_pages)
    cache_backlog += cache_reads[t] / substeps
    # direct-reclaim stalls hold readers back: cache_readers threads share the time
    avail = sub_dt * cache_readers
    if cache_debt >= avail:
        cache_debt -= avail
        do_reads = 0.0
    else:
        do_reads = cache_backlog * (1.0 - cache_debt / avail)
        cache_debt = 0.0
    cache_backlog -= do_reads
    miss_acc += do_reads * (1.0 - hit)
    n_cache = int(miss_acc)
    miss_acc -= n_cache
    for a in range(a_counts.shape[0]):
        c = a_counts[a, t]
        remaining[a] = (c * (s + 1)) // substeps - (c * s) // substeps
    return n_growth, n_cache, growth_acc, cache_backlog, cache_debt, miss_acc
