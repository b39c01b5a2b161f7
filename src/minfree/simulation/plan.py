"""Turn a host, a scenario and a reserve into the arrays both engines run on.

Everything random is drawn here, from the seed, before an engine starts: packet arrivals,
connection storms, file reads. Both engines therefore replay the *same* workload trace for
the same seed and differ only in how they keep free memory (every frame vs counts per
order). The kernel facts come from :mod:`minfree.kernel`: watermarks and protection rows
from :func:`minfree.kernel.watermarks.compute_watermarks`, the default reserve from
:mod:`minfree.kernel.min_free`, the ALLOC flags of each actor's GFP mode from
:func:`minfree.kernel.gfp.decode_gfp` for the host's release.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numba
import numpy as np

from minfree.errors import UsageError
from minfree.kernel.release import KernelRelease
from minfree.simulation import kernel_bridge
from minfree.simulation.buddy import ALLOC_HIGHATOMIC_RESERVE, MIGRATE_MOVABLE
from minfree.simulation.host import SimHost
from minfree.simulation.scenario import Scenario, order_for_mtu

NR_ORDERS = 11
#: Sub-steps per tick: actors and kswapd interleave at this granularity.
SUBSTEPS = 4
#: One sample of the time series every this many ticks (10 ms at the default 1 ms tick).
SAMPLE_TICKS = 10
#: Reports the kernel would print per rate-limit window (DEFAULT_RATELIMIT_BURST) ...
REPORT_BURST = 10
#: ... and the window (DEFAULT_RATELIMIT_INTERVAL, 5 s).
REPORT_WINDOW_S = 5.0

ACTOR_NET = 0
ACTOR_ACCEPT = 1


@dataclass
class ActorPlan:
    """One atomic allocator (a NIC's receive refill or a socket slab) and its trace."""

    kind: int
    name: str
    order: int
    lifetime_ticks: int
    node: int
    gfp_mask: int
    gfp_names: str
    alloc_flags: int
    can_sleep: bool
    nowarn: bool
    #: allocations per tick
    counts: np.ndarray
    dropped_packets: int = 0
    #: zone_watermark_fast()'s boost exception applies (order-0 __GFP_ATOMIC callers in
    #: 5.0 .. 6.2, ALLOC_MIN_RESERVE callers from 6.3)
    boost_exempt: bool = False
    #: gfp_migratetype() of the mask (buddy.MIGRATE_*), used when migratetypes are modelled
    migratetype: int = 0
    #: the allocation may use and makes highatomic reserves (buddy.ALLOC_HIGHATOMIC_RESERVE)
    highatomic: bool = False


@dataclass
class Plan:
    """All inputs of one run, as numpy arrays where an engine reads them."""

    host: SimHost
    scenario: Scenario
    seed: int
    min_free_kbytes: int
    watermark_scale_factor: int
    ticks: int
    tick_s: float
    zone_names: list[str]
    zone_node: np.ndarray
    zone_idx: np.ndarray
    zone_managed: np.ndarray
    wm_min: np.ndarray
    wm_low: np.ndarray
    wm_high: np.ndarray
    protection: np.ndarray
    max_boost: np.ndarray
    zonelist: np.ndarray
    node_count: int
    classzone_idx: int
    check_era: int
    boost_era: bool
    fast_flags: int
    cache_flags: int
    actors: list[ActorPlan]
    cache_reads: np.ndarray
    app_growth: np.ndarray
    app_pages_per_node: np.ndarray
    working_set_pages: int
    initial_free_above_high: np.ndarray
    initial_pin_every: int
    initial_fill_all: bool
    kswapd_pages_per_tick: float
    direct_pages_per_s: float
    direct_batch: int
    cache_readers: int
    pageblock_pages: int
    release: str
    notes: list[str] = field(default_factory=list)
    #: kcompactd (scenario [compaction]): on/off, migrate-scanner steps per sub-step, wake
    #: on order > 0 atomic failures, vm.extfrag_threshold
    compact_enabled: bool = False
    compact_scan_per_substep: float = 0.0
    compact_wake_on_failure: bool = False
    extfrag_threshold: int = 500
    #: before 4.9 compaction_suitable() asked LOW + compact_gap for every order and applied
    #: the fragmentation index to every order (3.10); from 4.9 MIN for orders <= 3 and the
    #: index only above PAGE_ALLOC_COSTLY_ORDER. Unknown release: the current rule.
    compact_legacy: bool = False
    #: scenario [migratetypes]: free lists per migratetype, pageblock stealing and the
    #: highatomic reserve in the exact engine (the fast engine ignores it)
    migratetypes: bool = False

    @property
    def zone_count(self) -> int:
        return len(self.zone_names)

    def actor_arrays(self) -> dict[str, np.ndarray]:
        n = len(self.actors)
        counts = np.zeros((max(n, 1), self.ticks), dtype=np.int32)
        for i, actor in enumerate(self.actors):
            counts[i] = actor.counts
        return {
            "counts": counts,
            "order": np.array([a.order for a in self.actors] or [0], dtype=np.int64),
            "lifetime": np.array([a.lifetime_ticks for a in self.actors] or [1], dtype=np.int64),
            "node": np.array([a.node for a in self.actors] or [0], dtype=np.int64),
            "flags": np.array([a.alloc_flags for a in self.actors] or [0], dtype=np.int64),
            "capacity": np.array([_held_capacity(a) for a in self.actors] or [1], dtype=np.int64),
            # without migratetypes every block is movable and nothing is reserved
            "migratetype": np.array([a.migratetype if self.migratetypes else MIGRATE_MOVABLE
                                     for a in self.actors] or [MIGRATE_MOVABLE], dtype=np.int64),
            "highatomic": np.array([ALLOC_HIGHATOMIC_RESERVE if self.migratetypes
                                    and a.highatomic else 0 for a in self.actors] or [0],
                                   dtype=np.int64),
        }


def _held_capacity(actor: ActorPlan) -> int:
    """Most blocks an actor can hold at once: the largest sum of counts over a lifetime."""
    if len(actor.counts) == 0:
        return 1
    window = max(actor.lifetime_ticks, 1)
    cumulative = np.concatenate([[0], np.cumsum(actor.counts, dtype=np.int64)])
    lagged = np.concatenate([np.zeros(window, dtype=np.int64), cumulative[:-window]]) if (
        window < len(cumulative)) else np.zeros_like(cumulative)
    return int((cumulative - lagged[: len(cumulative)]).max()) + 2


def _bursty_rate(rng: np.random.Generator, ticks: int, tick_s: float, base_per_s: float,
                 burst_per_s: float, burst_ms: float, interval_ms: float,
                 jitter: float) -> np.ndarray:
    """Expected events per tick: a base rate plus bursts at jittered intervals."""
    rate = np.full(ticks, base_per_s * tick_s, dtype=np.float64)
    if burst_per_s <= 0 or burst_ms <= 0 or interval_ms <= 0:
        return rate
    tick_ms = tick_s * 1000.0
    start = interval_ms * 0.5
    horizon = ticks * tick_ms
    while start < horizon:
        shifted = start + (rng.random() - 0.5) * jitter * interval_ms
        first = max(int(shifted / tick_ms), 0)
        last = min(math.ceil((shifted + burst_ms) / tick_ms), ticks)
        if last > first:
            rate[first:last] = burst_per_s * tick_s
        start += interval_ms
    return rate


@numba.njit(cache=True)
def _napi(arrivals: np.ndarray, capacity_per_tick: int, ring: int) -> tuple[np.ndarray, int]:
    """Packets processed (and buffers refilled) per tick under a NAPI budget and a ring.

    Packets beyond the ring are dropped by the NIC; beyond the budget they wait a tick."""
    processed = np.zeros_like(arrivals)
    backlog = 0
    dropped = 0
    for t in range(len(arrivals)):
        backlog += arrivals[t]
        if backlog > ring:
            dropped += backlog - ring
            backlog = ring
        done = min(backlog, capacity_per_tick)
        processed[t] = done
        backlog -= done
    return processed, dropped


def default_min_free_kbytes(host: SimHost) -> int:
    """The reserve the kernel of ``host`` picks by itself (sqrt rule, THP rule)."""
    return kernel_bridge.default_min_free_kbytes(host)


def build_plan(host: SimHost, scenario: Scenario, *, min_free_kbytes: int | None = None,
               watermark_scale_factor: int | None = None, duration_s: float | None = None,
               seed: int = 0, app_growth_pages_per_tick: np.ndarray | None = None,
               initial_free_pages: Mapping[str, int] | None = None) -> Plan:
    """Everything an engine needs for one run (see the module docstring).

    Two overrides serve replaying a measured workload (the live validation):
    ``app_growth_pages_per_tick`` replaces the constant growth rate by a trace, and
    ``initial_free_pages`` ("Node 0 Normal" -> pages) sets each zone's free pages at the
    start instead of "HIGH plus the scenario's headroom"."""
    duration = scenario.duration_s if duration_s is None else duration_s
    if duration <= 0:
        raise UsageError("duration must be positive")
    tick_s = scenario.tick_ms / 1000.0
    ticks = max(round(duration / tick_s), 1)
    mfk = default_min_free_kbytes(host) if min_free_kbytes is None else int(min_free_kbytes)
    if mfk < 0:
        raise UsageError("min_free_kbytes must not be negative")
    wsf = host.watermark_scale_factor if watermark_scale_factor is None else int(
        watermark_scale_factor)
    if not 1 <= wsf <= 3000:
        raise UsageError("watermark_scale_factor must be within 1..3000")
    release = KernelRelease.try_parse(host.release)
    if scenario.migratetypes.enabled and release is not None and release < (4, 4):
        raise UsageError(f"[migratetypes] models 4.4+ kernels (the highatomic reserve); "
                         f"{host.label} runs {host.release}")
    predicted = kernel_bridge.watermarks_for(host, mfk, wsf)
    populated = [i for i, z in enumerate(host.zones) if z.managed_pages > 0]
    if not populated:
        raise UsageError(f"{host.label}: no populated zone")
    zone_names = [f"Node {host.zones[i].node} {host.zones[i].name}" for i in populated]
    zone_node = np.array([host.zones[i].node for i in populated], dtype=np.int64)
    zone_idx = np.array([host.zones[i].index for i in populated], dtype=np.int64)
    zone_managed = np.array([host.zones[i].managed_pages for i in populated], dtype=np.int64)
    wm_min = np.array([predicted[i].min_pages for i in populated], dtype=np.int64)
    wm_low = np.array([predicted[i].low_pages for i in populated], dtype=np.int64)
    wm_high = np.array([predicted[i].high_pages for i in populated], dtype=np.int64)
    width = max(len(predicted[i].protection_pages) for i in populated)
    width = max(width, int(zone_idx.max()) + 1)
    protection = np.zeros((len(populated), width), dtype=np.int64)
    for row, i in enumerate(populated):
        prot = predicted[i].protection_pages
        protection[row, : len(prot)] = prot
    # Watermark boost (5.0+): max_boost = max(pageblock, high * factor / 10000), none if
    # the zone is smaller than 4 pageblocks or the factor is 0 (boost_watermark()).
    pageblock = 1 << host.pageblock_order
    boost_era = release is None or release >= (5, 0)
    boost_on = boost_era and scenario.reclaim.watermark_boost and host.watermark_boost_factor > 0
    max_boost = np.zeros(len(populated), dtype=np.int64)
    if boost_on:
        for row in range(len(populated)):
            if 4 * pageblock <= zone_managed[row]:
                mb = wm_high[row] * host.watermark_boost_factor // 10000
                max_boost[row] = max(pageblock, mb) if mb > 0 else 0

    nodes = sorted(set(zone_node.tolist()))
    node_count = max(nodes) + 1
    # Zonelists (node order, the x86_64 default since 4.14): own node's zones from the
    # highest index down, then the other nodes' by distance (two nodes: just the other).
    zonelist = np.full((node_count, len(populated)), -1, dtype=np.int64)
    for node in range(node_count):
        order_nodes = [node] + [n for n in nodes if n != node]
        entries = []
        for n in order_nodes:
            members = [r for r in range(len(populated)) if zone_node[r] == n]
            entries += sorted(members, key=lambda r: -zone_idx[r])
        zonelist[node, : len(entries)] = entries
    normal_idx = [int(zone_idx[r]) for r in range(len(populated))
                  if host.zones[populated[r]].name == "Normal"]
    classzone_idx = max(normal_idx) if normal_idx else int(zone_idx.max())

    rng = np.random.default_rng(seed)
    pages_per_mib = (1 << 20) // host.page_size_bytes
    actors: list[ActorPlan] = []
    atomic_decode = {}

    def decode(gfp: str) -> tuple[int, str, int, bool]:
        if gfp not in atomic_decode:
            atomic_decode[gfp] = kernel_bridge.gfp_alloc_flags(gfp, host.release)
        return atomic_decode[gfp]

    def exempt(gfp: str) -> bool:
        return kernel_bridge.boost_exempt(gfp, host.release)

    for nic in scenario.network_rx:
        order = nic.order if nic.order >= 0 else order_for_mtu(nic.mtu_bytes, host.page_size_bytes)
        rate = _bursty_rate(rng, ticks, tick_s, nic.base_pps, nic.burst_pps,
                            nic.burst_duration_ms, nic.burst_interval_ms, nic.burst_jitter_fraction)
        arrivals = rng.poisson(rate).astype(np.int32)
        polls = max(scenario.tick_ms * 1000.0 / max(nic.coalesce_us, 1.0), 1.0)
        capacity = int(nic.napi_budget * nic.rx_queues * polls)
        processed, dropped = _napi(arrivals, capacity, nic.ring_entries * nic.rx_queues)
        mask, names, flags, can_sleep = decode(nic.gfp)
        actors.append(ActorPlan(ACTOR_NET, nic.name, order,
                                max(round(nic.lifetime_ms / scenario.tick_ms), 1),
                                _node_of(nic.node, nodes), mask, names, flags, can_sleep,
                                nic.nowarn, processed.astype(np.int32), dropped,
                                exempt(nic.gfp),
                                kernel_bridge.gfp_migratetype(nic.gfp, host.release),
                                kernel_bridge.highatomic_reserve(flags, order, host.release)))
    for i, storm in enumerate(scenario.tcp_accept):
        rate = _bursty_rate(rng, ticks, tick_s, storm.base_connections_per_s,
                            storm.burst_connections / max(storm.burst_duration_ms / 1000.0, 1e-6),
                            storm.burst_duration_ms, storm.burst_interval_ms,
                            storm.burst_jitter_fraction)
        connections = rng.poisson(rate)
        # a new slab page every objects_per_slab sockets
        cumulative = np.cumsum(connections) // max(storm.objects_per_slab, 1)
        slabs = np.diff(np.concatenate([[0], cumulative])).astype(np.int32)
        mask, names, flags, can_sleep = decode(storm.gfp)
        actors.append(ActorPlan(ACTOR_ACCEPT, f"tcp-accept{i}", storm.slab_order,
                                max(round(storm.lifetime_ms / scenario.tick_ms), 1),
                                _node_of(storm.node, nodes), mask, names, flags, can_sleep,
                                storm.nowarn, slabs, 0, exempt(storm.gfp),
                                kernel_bridge.gfp_migratetype(storm.gfp, host.release),
                                kernel_bridge.highatomic_reserve(flags, storm.slab_order,
                                                                 host.release)))

    cache = scenario.page_cache
    read_rate = (cache.read_mib_per_s + cache.write_mib_per_s) * pages_per_mib * tick_s
    cache_reads = rng.poisson(np.full(ticks, read_rate)).astype(np.int32) if read_rate > 0 else (
        np.zeros(ticks, dtype=np.int32))
    growth_rate = scenario.app.growth_mib_per_s * pages_per_mib * tick_s
    app_growth = rng.poisson(np.full(ticks, growth_rate)).astype(np.int32) if growth_rate > 0 else (
        np.zeros(ticks, dtype=np.int32))
    if app_growth_pages_per_tick is not None:
        trace = np.asarray(app_growth_pages_per_tick, dtype=np.int32)[:ticks]
        app_growth = np.zeros(ticks, dtype=np.int32)
        app_growth[: len(trace)] = trace
    app_pages = int(scenario.app.resident_gib * 1024 * pages_per_mib)
    if app_pages == 0 and scenario.app.resident_fraction > 0:
        app_pages = int(host.managed_pages * scenario.app.resident_fraction)
    per_node = np.zeros(node_count, dtype=np.int64)
    for n in nodes:
        per_node[n] = app_pages // len(nodes)
    if app_pages > host.managed_pages * 0.97:
        raise UsageError(f"scenario {scenario.name}: application memory ({app_pages} pages) does "
                         f"not fit the host ({host.managed_pages} managed pages)")
    above = np.full(len(populated), -1, dtype=np.int64)
    if cache.initial_free_above_high_mib >= 0:
        # split the requested headroom over zones by size
        total_above = cache.initial_free_above_high_mib * pages_per_mib
        above = (zone_managed * total_above // max(int(zone_managed.sum()), 1)).astype(np.int64)
    if initial_free_pages is not None:
        for row, name in enumerate(zone_names):
            if name in initial_free_pages:
                # the engines fill the cache down to HIGH + headroom + protection
                above[row] = (int(initial_free_pages[name]) - wm_high[row]
                              - protection[row, classzone_idx])
        above[0] = max(above[0], 0)  # index 0 >= 0 tells the engines to fill at all
    _, _, cache_flags, _ = decode("GFP_HIGHUSER_MOVABLE")
    fast_flags = kernel_bridge.fast_path_flags()
    return Plan(
        host=host, scenario=scenario, seed=seed, min_free_kbytes=mfk,
        watermark_scale_factor=wsf, ticks=ticks, tick_s=tick_s, zone_names=zone_names,
        zone_node=zone_node, zone_idx=zone_idx, zone_managed=zone_managed, wm_min=wm_min,
        wm_low=wm_low, wm_high=wm_high, protection=protection, max_boost=max_boost,
        zonelist=zonelist, node_count=node_count, classzone_idx=classzone_idx,
        check_era=kernel_bridge.check_era_code(host.release), boost_era=boost_era,
        fast_flags=fast_flags, cache_flags=cache_flags, actors=actors, cache_reads=cache_reads,
        app_growth=app_growth, app_pages_per_node=per_node,
        working_set_pages=int(cache.working_set_gib * 1024 * pages_per_mib),
        initial_free_above_high=above, initial_pin_every=cache.initial_pin_every_pages,
        initial_fill_all=cache.initial_fill_whole_zone,
        kswapd_pages_per_tick=scenario.reclaim.kswapd_mib_per_s * pages_per_mib * tick_s,
        direct_pages_per_s=scenario.reclaim.direct_mib_per_s * pages_per_mib,
        direct_batch=max(scenario.reclaim.direct_batch_pages, 0), cache_readers=max(cache.readers, 1),
        pageblock_pages=pageblock, release=host.release,
        compact_enabled=scenario.compaction.enabled,
        compact_scan_per_substep=scenario.compaction.scan_rate_pages_per_s * tick_s / SUBSTEPS,
        compact_wake_on_failure=scenario.compaction.wake_on_high_order_failure,
        extfrag_threshold=scenario.compaction.extfrag_threshold,
        compact_legacy=release is not None and release < (4, 9),
        migratetypes=scenario.migratetypes.enabled,
    )


def _node_of(node: int, nodes: list[int]) -> int:
    return node if node in nodes else nodes[0]
