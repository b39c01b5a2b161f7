"""kswapd's decisions shared by both engines (``mm/vmscan.c``).

The ``exact`` and ``fast`` engines differ in how pages are reclaimed and freed (page frames
against free-block counts) but not in when kswapd sleeps or how much one pass of
``balance_pgdat`` asks for; that part lives here once, compiled with numba like the engines.
"""

from __future__ import annotations

import numba

from minfree.simulation.checks import zone_ok
from minfree.simulation.compaction import kcompactd_wake

#: No numba reference counting: these helpers allocate nothing, and with it every array
#: they are handed costs an atomic incref/decref pair per call (see simulation/buddy.py).
_NJIT = {"cache": True, "nogil": True, "_nrt": False}


@numba.njit(**_NJIT)
def node_balanced(node, era, zfree, boost, wm_high, protection, zone_node, zone_idx, classzone,
                  nr_free, types, pageblock_order):
    """pgdat_balanced(): any zone of the node up to the classzone passes order 0 at HIGH."""
    for z in range(zfree.shape[0]):
        if zone_node[z] != node or zone_idx[z] > classzone:
            continue
        if zone_ok(era, zfree[z], 0, wm_high[z] + boost[z], protection[z, classzone], 0, nr_free,
                   z, types, pageblock_order):
            return True
    return False


@numba.njit(**_NJIT)
def sleep_or_start_pass(node, era, zfree, boost, wm_min, wm_low, wm_high, protection, zone_node,
                        zone_idx, classzone, nr_free, types, pageblock_order, kswapd_awake,
                        kswapd_budget, kswapd_pass, ks_order, compact_enabled, kc_awake,
                        kc_order, extfrag_threshold, stats):
    """Between two passes of balance_pgdat: sleep if the node is balanced, else start a pass.

    Returns True when kswapd went to sleep. Going to sleep clears the node's watermark boost
    and, after a high-order request, wakes kcompactd (``kswapd_try_to_sleep()`` ->
    ``wakeup_kcompactd()``). A new pass asks for max(HIGH, 32) pages of every eligible zone
    (``kswapd_shrink_node()``, 4.8+).
    """
    if node_balanced(node, era, zfree, boost, wm_high, protection, zone_node, zone_idx,
                     classzone, nr_free, types, pageblock_order):
        kswapd_awake[node] = 0
        kswapd_budget[node] = 0.0
        for z in range(zfree.shape[0]):
            if zone_node[z] == node:
                boost[z] = 0
        if compact_enabled and ks_order[node] > 0:
            kcompactd_wake(node, ks_order[node], kc_awake, kc_order, era, zfree, nr_free,
                           zone_node, zone_idx, classzone, wm_min, wm_low, protection,
                           extfrag_threshold, types, pageblock_order, stats)
        ks_order[node] = 0
        return True
    for z in range(zfree.shape[0]):
        if zone_node[z] == node and zone_idx[z] <= classzone:
            kswapd_pass[node] += max(wm_high[z] + boost[z], 32)
    return False
