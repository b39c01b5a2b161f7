"""Run a plan on an engine and collect the results; sweep a range of reserves over seeds.

:func:`simulate` is the entry point for one run, :func:`sweep` for many; both return frozen
results that the outputs render (text, JSON, plots, kernel-format logs). The smallest safe
reserve of a sweep is the smallest swept ``min_free_kbytes`` at which *every* seed had
zero atomic failures, provided every larger swept value was safe too (a value that is
safe only by luck between two unsafe ones is not reported as the answer).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from minfree.errors import UsageError
from minfree.simulation import plan as plan_mod
from minfree.simulation.buddy import NR_ORDERS, BuddyArrays
from minfree.simulation.checks import N_TYPE_COLUMNS
from minfree.simulation.compaction import LEGACY_FLAG, pin_free_share
from minfree.simulation.host import SimHost
from minfree.simulation.scenario import Scenario

ENGINES = ("exact", "fast")


@dataclass(frozen=True)
class FailureSnapshot:
    """The state at one atomic failure the kernel would have reported (not rate-limited)."""

    time_s: float
    actor: str
    order: int
    gfp_mask: int
    gfp_names: str
    suppressed_before: int
    #: why the preferred zone refused: "watermark" or "order" (the kernel check's answer)
    failed_by: str
    zone_free_pages: tuple[int, ...]
    zone_boost_pages: tuple[int, ...]
    zone_cache_pages: tuple[int, ...]
    zone_anon_pages: tuple[int, ...]
    zone_held_pages: tuple[int, ...]
    zone_free_blocks: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class ZoneSummary:
    name: str
    node: int
    zone: str
    managed_pages: int
    min_pages: int
    low_pages: int
    high_pages: int
    protection_pages: tuple[int, ...]
    lowest_free_pages: int


@dataclass(frozen=True)
class RunResult:
    """One simulated run: what failed, when, what stalled, how low memory went."""

    scenario: str
    engine: str
    host: str
    release: str
    seed: int
    min_free_kbytes: int
    watermark_scale_factor: int
    duration_s: float
    tick_s: float
    atomic_failures: int
    atomic_failures_nowarn: int
    atomic_successes: int
    failures_by_order: dict[int, int]
    failures_by_zone: dict[str, int]
    failures_by_actor: dict[str, int]
    failures_order_caused: int
    first_failure_s: float | None
    direct_reclaim_stalls: int
    stall_seconds: float
    first_stall_s: float | None
    blocking_failures: int
    kswapd_busy_s: float
    kswapd_wakes: int
    kswapd_reclaimed_pages: int
    direct_reclaimed_pages: int
    boost_events: int
    page_events: int
    zones: tuple[ZoneSummary, ...]
    reserve_min_pages: int
    reserve_high_pages: int
    page_size_bytes: int
    packets_dropped_by_nic: int
    wall_seconds: float
    sample_s: float
    samples_free: np.ndarray = field(repr=False)
    samples_kswapd: np.ndarray = field(repr=False)
    samples_boost: np.ndarray = field(repr=False)
    samples_failures: np.ndarray = field(repr=False)
    snapshots: tuple[FailureSnapshot, ...] = field(repr=False, default=())
    actors: tuple[tuple[str, int, str, int], ...] = ()
    #: kcompactd (scenario [compaction]; all 0 when off): wakes, pages migrated (exact) or
    #: moved by the count-level stand-in (fast), migrate-scanner steps, and per-zone
    #: outcomes: a block of the wanted order made, scanners met without one, not suitable
    compaction_enabled: bool = False
    compaction_wakes: int = 0
    compaction_pages_migrated: int = 0
    compaction_scanned_pages: int = 0
    compaction_successes: int = 0
    compaction_failures: int = 0
    compaction_skipped: int = 0

    @property
    def lowest_free_pages(self) -> dict[str, int]:
        return {z.name: z.lowest_free_pages for z in self.zones}

    def trace_digest(self) -> str:
        """A short fingerprint of the whole time series (same seed -> same digest)."""
        import hashlib

        h = hashlib.sha256()
        for arr in (self.samples_free, self.samples_kswapd, self.samples_boost,
                    self.samples_failures):
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()[:16]


def _outputs(plan: plan_mod.Plan) -> dict[str, np.ndarray]:
    nz = plan.zone_count
    n_samples = plan.ticks // plan_mod.SAMPLE_TICKS + 1
    report_window_ticks = max(int(plan_mod.REPORT_WINDOW_S / plan.tick_s), 1)
    n_snaps = plan_mod.REPORT_BURST * (plan.ticks // report_window_ticks + 1)
    n_snaps = min(n_snaps, 2000)
    from minfree.simulation.exact import N_STATS

    stats = np.zeros(N_STATS, dtype=np.int64)
    stats[2] = -1
    stats[16] = -1
    return {
        "stats": stats,
        "fail_by_order": np.zeros(NR_ORDERS, dtype=np.int64),
        "fail_by_zone": np.zeros(nz, dtype=np.int64),
        "fail_by_actor": np.zeros(max(len(plan.actors), 1), dtype=np.int64),
        "lowest_free": np.zeros(nz, dtype=np.int64),
        "samples_free": np.zeros((n_samples, nz), dtype=np.int64),
        "samples_kswapd": np.zeros((n_samples, plan.node_count), dtype=np.int8),
        "samples_boost": np.zeros((n_samples, nz), dtype=np.int64),
        "samples_fail": np.zeros(n_samples, dtype=np.int64),
        "snap_tick": np.zeros(n_snaps, dtype=np.int64),
        "snap_actor": np.zeros(n_snaps, dtype=np.int64),
        "snap_zfree": np.zeros((n_snaps, nz), dtype=np.int64),
        "snap_nrfree": np.zeros((n_snaps, nz, NR_ORDERS), dtype=np.int64),
        "snap_boost": np.zeros((n_snaps, nz), dtype=np.int64),
        "snap_cache": np.zeros((n_snaps, nz), dtype=np.int64),
        "snap_anon": np.zeros((n_snaps, nz), dtype=np.int64),
        "snap_held": np.zeros((n_snaps, nz), dtype=np.int64),
        "snap_suppressed": np.zeros(n_snaps, dtype=np.int64),
        "snap_cause": np.zeros(n_snaps, dtype=np.int64),
    }


def _common_args(plan: plan_mod.Plan) -> tuple:
    actors = plan.actor_arrays()
    nowarn = np.array([a.nowarn for a in plan.actors] or [False], dtype=np.bool_)
    exempt = np.array([a.boost_exempt for a in plan.actors] or [False], dtype=np.bool_)
    report_window_ticks = max(int(plan_mod.REPORT_WINDOW_S / plan.tick_s), 1)
    return (
        plan.zone_node, plan.zone_idx, plan.wm_min, plan.wm_low, plan.wm_high, plan.protection,
        plan.max_boost, plan.zonelist, plan.classzone_idx, plan.check_era, plan.boost_era,
        plan.fast_flags, plan.cache_flags, plan.pageblock_pages, N_TYPE_COLUMNS,
        actors["counts"] if plan.actors else np.zeros((0, plan.ticks), dtype=np.int32),
        actors["order"], actors["lifetime"], actors["node"], actors["flags"], nowarn, exempt,
        actors["capacity"], actors["migratetype"], actors["highatomic"], plan.migratetypes,
        plan.cache_reads, plan.app_growth, plan.working_set_pages,
        plan.cache_readers, plan.kswapd_pages_per_tick, plan.direct_pages_per_s,
        plan.direct_batch, plan.tick_s, plan_mod.SUBSTEPS, plan_mod.SAMPLE_TICKS,
        plan_mod.REPORT_BURST, report_window_ticks, plan.app_pages_per_node,
        plan.initial_free_above_high, plan.initial_pin_every, plan.initial_fill_all,
        plan.compact_enabled, plan.compact_scan_per_substep, plan.compact_wake_on_failure,
        plan.extfrag_threshold + (LEGACY_FLAG if plan.compact_legacy else 0),
        np.array([pin_free_share(plan.initial_pin_every, o) for o in range(NR_ORDERS)]),
    )


def exact_arrays(plan: plan_mod.Plan, log_capacity: int = 0) -> BuddyArrays:
    """The exact engine's allocator for a plan: its zones, all free, in its pageblocks;
    ``log_capacity`` > 0 logs that many of its operations (the benchmark replays them)."""
    return BuddyArrays.for_zones([int(x) for x in plan.zone_managed],
                                 pageblock_order=plan.pageblock_pages.bit_length() - 1,
                                 types_used=plan.migratetypes, log_capacity=log_capacity)


def run_plan(plan: plan_mod.Plan, engine: str = "exact") -> RunResult:
    """Run one plan on ``engine`` (``exact`` or ``fast``)."""
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}; use exact or fast")
    out = _outputs(plan)
    started = time.perf_counter()
    if engine == "exact":
        from minfree.simulation.exact import run_exact

        arrays = exact_arrays(plan)
        n_snaps = run_exact(*arrays.core, arrays.zbase, arrays.zsize, *_common_args(plan),
                            *out.values())
    else:
        from minfree.simulation.fast import pin_pattern, run_fast

        chunk_pages, chunk_blocks = pin_pattern(plan.initial_pin_every)
        n_snaps = run_fast(
            plan.zone_managed.copy(), *_common_args(plan), *out.values(), chunk_pages, chunk_blocks
        )
    wall = time.perf_counter() - started
    return _result(plan, engine, out, int(n_snaps), wall)


def _result(plan: plan_mod.Plan, engine: str, out: dict[str, np.ndarray], n_snaps: int,
            wall: float) -> RunResult:
    stats = out["stats"]
    tick_s = plan.tick_s
    zones = tuple(
        ZoneSummary(
            name=plan.zone_names[z], node=int(plan.zone_node[z]),
            zone=plan.zone_names[z].split()[-1], managed_pages=int(plan.zone_managed[z]),
            min_pages=int(plan.wm_min[z]), low_pages=int(plan.wm_low[z]),
            high_pages=int(plan.wm_high[z]),
            protection_pages=tuple(int(x) for x in plan.protection[z]),
            lowest_free_pages=int(out["lowest_free"][z]))
        for z in range(plan.zone_count))
    snaps = []
    for k in range(n_snaps):
        actor = plan.actors[int(out["snap_actor"][k])]
        snaps.append(FailureSnapshot(
            time_s=float(out["snap_tick"][k]) * tick_s, actor=actor.name, order=actor.order,
            gfp_mask=actor.gfp_mask, gfp_names=actor.gfp_names,
            suppressed_before=int(out["snap_suppressed"][k]),
            failed_by="order" if int(out["snap_cause"][k]) == 2 else "watermark",
            zone_free_pages=tuple(int(x) for x in out["snap_zfree"][k]),
            zone_boost_pages=tuple(int(x) for x in out["snap_boost"][k]),
            zone_cache_pages=tuple(int(x) for x in out["snap_cache"][k]),
            zone_anon_pages=tuple(int(x) for x in out["snap_anon"][k]),
            zone_held_pages=tuple(int(x) for x in out["snap_held"][k]),
            zone_free_blocks=tuple(tuple(int(x) for x in row) for row in out["snap_nrfree"][k]),
        ))
    first = int(stats[2])
    first_stall = int(stats[16])
    by_order = {o: int(c) for o, c in enumerate(out["fail_by_order"]) if c}
    by_zone = {plan.zone_names[z]: int(c) for z, c in enumerate(out["fail_by_zone"]) if c}
    by_actor = {plan.actors[a].name: int(c) for a, c in enumerate(out["fail_by_actor"])
                if c and a < len(plan.actors)}
    stall_s = float(stats[4]) / plan.direct_pages_per_s if plan.direct_pages_per_s > 0 else 0.0
    return RunResult(
        scenario=plan.scenario.name, engine=engine, host=plan.host.label, release=plan.release,
        seed=plan.seed, min_free_kbytes=plan.min_free_kbytes,
        watermark_scale_factor=plan.watermark_scale_factor,
        duration_s=plan.ticks * tick_s, tick_s=tick_s,
        atomic_failures=int(stats[0]), atomic_failures_nowarn=int(stats[1]),
        atomic_successes=int(stats[10]), failures_by_order=by_order,
        failures_by_zone=by_zone, failures_by_actor=by_actor,
        failures_order_caused=int(stats[12]),
        first_failure_s=None if first < 0 else first * tick_s,
        direct_reclaim_stalls=int(stats[3]), stall_seconds=stall_s,
        first_stall_s=None if first_stall < 0 else first_stall * tick_s,
        blocking_failures=int(stats[5]),
        kswapd_busy_s=float(stats[7]) * tick_s / plan_mod.SUBSTEPS,
        kswapd_wakes=int(stats[8]), kswapd_reclaimed_pages=int(stats[6]),
        direct_reclaimed_pages=int(stats[14]),
        boost_events=int(stats[9]), page_events=int(stats[13]), zones=zones,
        reserve_min_pages=int(plan.wm_min.sum()), reserve_high_pages=int(plan.wm_high.sum()),
        page_size_bytes=plan.host.page_size_bytes,
        packets_dropped_by_nic=sum(a.dropped_packets for a in plan.actors),
        wall_seconds=wall, sample_s=plan_mod.SAMPLE_TICKS * tick_s,
        samples_free=out["samples_free"], samples_kswapd=out["samples_kswapd"],
        samples_boost=out["samples_boost"], samples_failures=out["samples_fail"],
        snapshots=tuple(snaps),
        actors=tuple((a.name, a.order, a.gfp_names, a.gfp_mask) for a in plan.actors),
        compaction_enabled=plan.compact_enabled, compaction_wakes=int(stats[17]),
        compaction_pages_migrated=int(stats[18]), compaction_successes=int(stats[19]),
        compaction_failures=int(stats[20]), compaction_skipped=int(stats[21]),
        compaction_scanned_pages=int(stats[22]),
    )


def simulate(host: SimHost, scenario: Scenario, *, min_free_kbytes: int | None = None,
             watermark_scale_factor: int | None = None, duration_s: float | None = None,
             seed: int = 0, engine: str = "exact", **overrides) -> RunResult:
    """One run. ``min_free_kbytes=None`` uses the host kernel's own default. ``overrides``
    go to :func:`~minfree.simulation.plan.build_plan` (measured traces)."""
    plan = plan_mod.build_plan(host, scenario, min_free_kbytes=min_free_kbytes,
                               watermark_scale_factor=watermark_scale_factor,
                               duration_s=duration_s, seed=seed, **overrides)
    return run_plan(plan, engine)


@dataclass(frozen=True)
class SweepPoint:
    min_free_kbytes: int
    runs: tuple[RunResult, ...]

    @property
    def max_failures(self) -> int:
        return max(r.atomic_failures for r in self.runs)

    @property
    def mean_failures(self) -> float:
        return sum(r.atomic_failures for r in self.runs) / len(self.runs)

    @property
    def mean_stalls(self) -> float:
        return sum(r.direct_reclaim_stalls for r in self.runs) / len(self.runs)

    @property
    def mean_stall_seconds(self) -> float:
        return sum(r.stall_seconds for r in self.runs) / len(self.runs)

    @property
    def safe(self) -> bool:
        return self.max_failures == 0


@dataclass(frozen=True)
class SweepResult:
    scenario: str
    engine: str
    host: str
    seeds: tuple[int, ...]
    points: tuple[SweepPoint, ...]
    default_min_free_kbytes: int
    wall_seconds: float

    @property
    def safe_min_free_kbytes(self) -> int | None:
        """Smallest swept value from which every larger swept value is safe in every seed."""
        answer = None
        for point in reversed(self.points):
            if not point.safe:
                break
            answer = point.min_free_kbytes
        return answer

    @property
    def margin_kbytes(self) -> int | None:
        """Distance from the safe value down to the largest unsafe swept value."""
        safe = self.safe_min_free_kbytes
        if safe is None:
            return None
        unsafe = [p.min_free_kbytes for p in self.points if p.min_free_kbytes < safe]
        return safe - max(unsafe) if unsafe else None

    @property
    def runs(self) -> list[RunResult]:
        return [r for p in self.points for r in p.runs]


def parse_sweep(text: str) -> tuple[int, int, int]:
    """``FROM:TO[:STEPS]`` in kB (``K``/``M``/``G`` suffixes allowed) -> (from, to, steps)."""
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise UsageError(f"--sweep wants FROM:TO[:STEPS], got {text!r}")
    try:
        low, high = _kb(parts[0]), _kb(parts[1])
        steps = int(parts[2]) if len(parts) == 3 else 10
    except ValueError:
        raise UsageError(f"--sweep wants numbers in kB (or with K/M/G), got {text!r}") from None
    if low < 0 or high < low:
        raise UsageError(f"--sweep: need 0 <= FROM <= TO, got {text!r}")
    if not 1 <= steps <= 200:
        raise UsageError("--sweep: STEPS must be within 1..200")
    return low, high, steps


def _kb(text: str) -> int:
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    scale = {"K": 1, "M": 1024, "G": 1024 * 1024}.get(text[-1:])
    if scale is not None:
        return int(float(text[:-1]) * scale)
    return int(text)


def sweep_values(low: int, high: int, steps: int) -> list[int]:
    if steps == 1 or low == high:
        return [low]
    return sorted({round(low + (high - low) * i / (steps - 1)) for i in range(steps)})


def _one(args: tuple) -> RunResult:
    host, scenario, mfk, wsf, duration, seed, engine = args
    return simulate(host, scenario, min_free_kbytes=mfk, watermark_scale_factor=wsf,
                    duration_s=duration, seed=seed, engine=engine)


def sweep(host: SimHost, scenario: Scenario, values: Sequence[int], *, seeds: Sequence[int] = (0,),
          watermark_scale_factor: int | None = None, duration_s: float | None = None,
          engine: str = "fast", workers: int = 1) -> SweepResult:
    """Run every (value, seed) pair; ``workers`` > 1 uses processes (one per core)."""
    started = time.perf_counter()
    jobs = [(host, scenario, v, watermark_scale_factor, duration_s, s, engine)
            for v in values for s in seeds]
    if workers > 1 and len(jobs) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_one, jobs))
    else:
        results = [_one(job) for job in jobs]
    points = []
    for i, value in enumerate(values):
        chunk = results[i * len(seeds): (i + 1) * len(seeds)]
        points.append(SweepPoint(value, tuple(chunk)))
    return SweepResult(
        scenario=scenario.name, engine=engine, host=host.label, seeds=tuple(seeds),
        points=tuple(points), default_min_free_kbytes=plan_mod.default_min_free_kbytes(host),
        wall_seconds=time.perf_counter() - started)
