"""Reserve sizing: ``min_free_kbytes`` candidates side by side, the choice, and the other knobs.

Pure: reads a :class:`~minfree.analysis.diagnosis.Diagnosis` and its findings, returns data.
The knobs are split as the kernel intends (Documentation/admin-guide/sysctl/vm.rst; commit
795ae7a0de6b): ``min_free_kbytes`` is the emergency reserve for callers that cannot wait
(atomic), ``watermark_scale_factor`` is kswapd's head start when it falls behind, and
``watermark_boost_factor``/compaction/THP defrag address fragmentation.

``min_free_kbytes`` candidates (kB), each with its formula and inputs:

- ``kernel_default``: the square-root rule for this host (kernel.min_free);
- ``thp``: khugepaged's recommendation (it raises the value itself while THP is on);
- ``atomic_burst``: every RX ring refilled at once, times 8/5 (see :mod:`.nic`);
- ``aerospike``: largest in-memory (s)index stage size + 100 MiB (default 1,150,976);
- ``oracle``: max(0.5% of RAM, 1 GiB per NUMA node on multi-node hosts), for comparison;
- ``failure_deficit``: today's value scaled so the failing zone's min grows by 8/5 of the
  deficit seen at failure time;
- ``simulated``: the simulator's smallest safe reserve, when ``--simulate`` ran.

The choice is the largest candidate the evidence supports, as "at least", capped at 5% of
RAM (10% with ``allow_high``) and below the value whose high watermarks would exceed
today's available memory.

    >>> from minfree.analysis.diagnosis import Diagnosis
    >>> d = Diagnosis(label="t", release="6.1.0", sysctl={"vm.min_free_kbytes": "67584"},
    ...               kernel_default_min_free_kb=45000, profile="aerospike")
    >>> r = recommend(d, ())
    >>> r.candidate("aerospike").kb, r.chosen_kb
    (1150976, 1150976)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from minfree.analysis.diagnosis import Diagnosis, FailureGroup, ceil_div
from minfree.analysis.findings import Finding, aerospike_min_free_kb
from minfree.recommend.nic import rings_from_interfaces

#: Caps on the reserve as a share of RAM (vendors: 5-10% "OOMs the machine instantly").
DEFAULT_CAP_FRACTION = 0.05
HIGH_CAP_FRACTION = 0.10
#: Atomic callers may go down to 3/8 of min, so 5/8 of min is theirs: min >= 8/5 x need.
ATOMIC_SHARE_NUM, ATOMIC_SHARE_DEN = 5, 8
#: Oracle: 0.5% of RAM, or 1 GiB per node on NUMA hosts (oled memstate / drgn-tools).
ORACLE_RAM_FRACTION = 0.005
ORACLE_PER_NODE_KB = 1_048_576
#: How long kswapd needs to start giving pages back once woken at the low watermark. The
#: wakeup itself is fast; reclaim then proceeds in SWAP_CLUSTER_MAX batches while the
#: allocators keep going. 0.5 s is deliberately conservative; ``--simulate`` replaces the
#: guess with the simulator's measured reaction.
KSWAPD_REACTION_S = 0.5
#: The kernel's default watermark_boost_factor (vm.rst), restored when boosting is off and
#: fragmentation is the problem.
DEFAULT_BOOST_FACTOR = 15000

#: `minfree apply` options for the settings it names; others go through ``--set KEY=VALUE``.
APPLY_OPTIONS: dict[str, str] = {
    "vm.min_free_kbytes": "--min-free-kbytes",
    "vm.watermark_scale_factor": "--watermark-scale-factor",
    "vm.swappiness": "--swappiness",
    "vm.vfs_cache_pressure": "--vfs-cache-pressure",
}

RULE_ORDER: tuple[str, ...] = (
    "kernel_default",
    "thp",
    "atomic_burst",
    "aerospike",
    "oracle",
    "failure_deficit",
    "simulated",
)


@dataclass(frozen=True)
class Candidate:
    """One sizing rule's answer for ``min_free_kbytes`` (``kb`` None: could not compute)."""

    rule: str
    kb: int | None
    formula: str
    inputs: Mapping[str, Any] = field(default_factory=dict)
    #: whether this host's evidence makes the rule apply (the choice takes the max of these)
    supported: bool = False
    why: str = ""
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recommendation:
    """One setting to change: the value, whether it is a floor or exact, and why."""

    sysctl: str
    current: str | None
    recommended: str
    kind: str  # "at-least" or "exactly"
    reasons: tuple[str, ...]
    sources: tuple[str, ...] = ()
    #: False for settings outside sysctl (THP defrag): shown, not passed to `minfree apply`
    applicable: bool = True


@dataclass(frozen=True)
class CostBenefit:
    """What the recommended watermark settings cost and buy, from predicted watermarks (kB).

    Both sides are predictions with the same formulas (no boost), so they compare.
    """

    min_free_kb: int
    high_sum_now_kb: int | None
    high_sum_new_kb: int | None
    min_sum_now_kb: int | None
    min_sum_new_kb: int | None
    predicted_by: str
    low_sum_now_kb: int | None = None
    low_sum_new_kb: int | None = None
    watermark_scale_factor: int | None = None

    @property
    def kswapd_head_start_gain_kb(self) -> int | None:
        """Growth of the low-min gap: how much earlier kswapd starts before min is reached."""
        if None in (
            self.low_sum_now_kb,
            self.low_sum_new_kb,
            self.min_sum_now_kb,
            self.min_sum_new_kb,
        ):
            return None
        return (self.low_sum_new_kb - self.min_sum_new_kb) - (  # type: ignore[operator]
            self.low_sum_now_kb - self.min_sum_now_kb
        )  # type: ignore[operator]

    @property
    def cost_kb(self) -> int | None:
        """Memory taken from applications: growth of the sum of high watermarks."""
        if self.high_sum_now_kb is None or self.high_sum_new_kb is None:
            return None
        return self.high_sum_new_kb - self.high_sum_now_kb

    @property
    def atomic_reserve_gain_kb(self) -> int | None:
        """Growth of the part of min that only atomic callers may use (5/8 of min)."""
        if self.min_sum_now_kb is None or self.min_sum_new_kb is None:
            return None
        return (self.min_sum_new_kb - self.min_sum_now_kb) * ATOMIC_SHARE_NUM // (ATOMIC_SHARE_DEN)


@dataclass(frozen=True)
class RecommendationSet:
    """Everything ``minfree recommend`` shows: candidates, the choice, the changes."""

    candidates: tuple[Candidate, ...]
    chosen_kb: int | None
    chosen_rule: str | None
    cap_kb: int | None
    capped_by: str | None
    recommendations: tuple[Recommendation, ...]
    cost: CostBenefit | None = None
    notes: tuple[str, ...] = ()
    #: the chosen value is above 5% of RAM (only with --allow-high): apply needs it too
    allow_high_needed: bool = False

    def candidate(self, rule: str) -> Candidate | None:
        return next((c for c in self.candidates if c.rule == rule), None)

    def apply_command(self) -> str | None:
        """The exact ``minfree apply`` command for the applicable recommendations.

        >>> RecommendationSet((), 1, "x", None, None, (
        ...     Recommendation("vm.min_free_kbytes", "1", "2", "at-least", ()),
        ...     Recommendation("vm.zone_reclaim_mode", "1", "0", "exactly", ()))).apply_command()
        'minfree apply --min-free-kbytes 2 --set vm.zone_reclaim_mode=0'
        """
        parts: list[str] = []
        for r in self.recommendations:
            if not r.applicable:
                continue
            option = APPLY_OPTIONS.get(r.sysctl)
            parts.append(
                f"{option} {r.recommended}" if option else f"--set {r.sysctl}={r.recommended}"
            )
        if not parts:
            return None
        if self.allow_high_needed:
            parts.append("--allow-high")
        return "minfree apply " + " ".join(parts)


# ---------------------------------------------------------------------------------------
# Watermark prediction (kernel.watermarks), used for the cap and for cost/benefit.
# ---------------------------------------------------------------------------------------

WatermarkPredictor = Callable[..., "tuple[int, int, int] | None"]


def make_predictor(d: Diagnosis) -> WatermarkPredictor | None:
    """``predict(min_free_kb, wsf=None)`` -> (sum of min, sum of low, sum of high) in kB.

    From kernel.watermarks (the one implementation of ``__setup_per_zone_wmarks``).

    None when the zones are unknown or the kernel model is not available.
    """
    zones = d.zones
    if not zones:
        return None
    try:
        from minfree.kernel import watermarks
        from minfree.kernel.release import KernelRelease
    except ImportError:
        return None
    release = KernelRelease.try_parse(d.release)
    sysctl = dict(d.sysctl)

    def predict(min_free_kb: int, wsf: int | None = None) -> tuple[int, int, int] | None:
        try:
            predicted = watermarks.predict_host(
                zones,
                sysctl,
                release=release,
                page_size_bytes=d.page_size_bytes,
                min_free_kbytes=min_free_kb,
                watermark_scale_factor=wsf,
            )
        except ValueError:  # a sysctl the formulas need is unknown for this host
            return None
        mins = sum(p.min_pages for p in predicted)
        lows = sum(p.low_pages for p in predicted)
        highs = sum(p.high_pages for p in predicted)
        return d.pages_to_kb(mins), d.pages_to_kb(lows), d.pages_to_kb(highs)

    return predict


# ---------------------------------------------------------------------------------------
# Candidates
# ---------------------------------------------------------------------------------------


def _has_atomic_trouble(d: Diagnosis, findings: Sequence[Finding]) -> bool:
    keys = {f.key for f in findings}
    return bool(
        any(g.atomic and g.order <= 3 for g in d.failures)
        or keys & {"ATOMIC_RESERVE_EXHAUSTED", "CACHE_CROWDS_FREE_MEMORY"}
    )


def candidate_kernel_default(d: Diagnosis) -> Candidate:
    return Candidate(
        "kernel_default",
        d.kernel_default_min_free_kb,
        d.kernel_default_formula or "4 x sqrt(lowmem kB), clamped to [128, 65536 or 262144]",
        {"lowmem_kb": sum(d.pages_to_kb(z.managed_pages or 0) for z in d.lowmem_zones())},
        supported=d.kernel_default_min_free_kb is not None,
        why="the kernel's own floor for this memory size",
        sources=("mm/page_alloc.c calculate_min_free_kbytes()",),
    )


def candidate_thp(d: Diagnosis) -> Candidate:
    active = bool(d.thp_active)
    return Candidate(
        "thp",
        d.thp_recommended_min_free_kb,
        d.thp_formula or "11 x pageblock pages x populated zones, at most 5% of lowmem",
        {"thp_enabled": d.thp_enabled},
        supported=active and d.thp_recommended_min_free_kb is not None,
        why=(
            "khugepaged sets this itself while THP is enabled"
            if active
            else "THP is off: khugepaged does not raise the value"
        ),
        sources=("mm/khugepaged.c set_recommended_min_free_kbytes()",),
    )


def candidate_atomic_burst(d: Diagnosis, findings: Sequence[Finding]) -> Candidate:
    burst = rings_from_interfaces(d.interfaces)
    formula = "8/5 x sum over interfaces(RX queues x ring size x buffer bytes for the MTU)"
    if not burst.rings:
        return Candidate(
            "atomic_burst",
            None,
            formula,
            {"interfaces": 0},
            why="no physical interface known",
            sources=("recommend/nic.py",),
        )
    kb = ceil_div(burst.total_kb * ATOMIC_SHARE_DEN, ATOMIC_SHARE_NUM)
    inputs = {
        "interfaces": [
            {
                "name": r.name,
                "driver": r.driver,
                "mtu": r.mtu,
                "queues": r.queues,
                "ring": r.ring,
                "ring_source": r.ring_source,
                "buffer_bytes": r.buffer_bytes,
            }
            for r in burst.rings
        ],
        "burst_kb": burst.total_kb,
        "assumptions": list(burst.assumptions),
    }
    supported = _has_atomic_trouble(d, findings) or aerospike_evidence(d) is not None
    return Candidate(
        "atomic_burst",
        kb,
        formula,
        inputs,
        supported=supported,
        why=(
            "atomic allocations are failing or at risk on this host"
            if supported
            else "no sign of atomic trouble: shown for reference"
        ),
        sources=tuple(sorted({r.ring_source for r in burst.rings})),
    )


def aerospike_evidence(d: Diagnosis) -> str | None:
    """Why this host counts as an Aerospike host, or None.

    The profile says so, an aerospike.conf was read, or the failing process is ``asd``
    (the Aerospike daemon: the KB's own ``asd: page allocation failure``).
    """
    if d.profile == "aerospike":
        return "profile aerospike"
    if d.aerospike is not None:
        return f"aerospike.conf read ({d.aerospike.source})"
    if any(g.process == "asd" for g in d.failures):
        return "the failing process is asd (Aerospike)"
    return None


def candidate_aerospike(d: Diagnosis) -> Candidate:
    kb = aerospike_min_free_kb(d)
    if d.aerospike is not None:
        inputs: dict[str, Any] = {
            "max_stage_size_bytes": d.aerospike.max_stage_size_bytes,
            "from": d.aerospike.from_setting,
            "config": d.aerospike.source,
        }
    else:
        inputs = {"max_stage_size_bytes": 1 << 30, "from": "default index-stage-size 1G"}
    evidence = aerospike_evidence(d)
    return Candidate(
        "aerospike",
        kb,
        "largest in-memory index/sindex stage size + 100 MiB",
        inputs,
        supported=evidence is not None,
        why=(
            f"Aerospike checks this at startup ({evidence})"
            if evidence
            else "not an Aerospike host (use --profile aerospike)"
        ),
        sources=("aerospike-server as/src/base/cfg.c", "cf/src/os.c"),
    )


def candidate_oracle(d: Diagnosis) -> Candidate:
    total = d.total_ram_kb
    if total is None:
        return Candidate(
            "oracle", None, "max(0.5% of RAM, 1 GiB x NUMA nodes if > 1)", why="RAM size unknown"
        )
    per_node = ORACLE_PER_NODE_KB * d.numa_nodes if d.numa_nodes > 1 else 0
    kb = max(int(total * ORACLE_RAM_FRACTION), per_node)
    return Candidate(
        "oracle",
        kb,
        "max(0.5% of RAM, 1 GiB x NUMA nodes if > 1)",
        {"ram_kb": total, "numa_nodes": d.numa_nodes},
        supported=False,
        why="vendor guidance (Oracle Linux), for comparison",
        sources=("oracle/drgn-tools memstate",),
    )


def _zone_deficit_kb(zone: Any, order: int) -> int | None:
    if zone.deficit_kb is not None:
        return zone.deficit_kb
    if zone.failed_by != "watermark" or zone.effective_min_kb is None:
        return None
    # 4 kB pages assumed when the scan gave no deficit of its own.
    return zone.effective_min_kb + 4 * (1 << order) - zone.free_kb


def failure_deficit_kb(group: FailureGroup) -> int | None:
    """The deficit of a failure group: the scan's, else the easiest zone's shortfall.

    The allocation would have succeeded had *any* allowed zone passed, so the zone that was
    closest to passing is the one to size for.
    """
    if group.deficit_kb is not None:
        return group.deficit_kb
    deficits = [x for x in (_zone_deficit_kb(z, group.order) for z in group.zones) if x is not None]
    return min(deficits) if deficits else None


def candidate_failure_deficit(d: Diagnosis) -> Candidate:
    formula = "today's value x (zone min + 8/5 x deficit) / zone min, worst failure"
    current = d.sysctl_int("vm.min_free_kbytes")
    best: tuple[int, dict[str, Any], tuple[str, ...]] | None = None
    for group in d.failures:
        if current is None or not group.under_reduced_min:
            continue
        scored = [
            (x, z)
            for z in group.zones
            if z.failed_by == "watermark" and z.min_kb > 0
            for x in (_zone_deficit_kb(z, group.order),)
            if x is not None and x > 0
        ]
        if not scored:
            continue
        deficit, zone = min(scored, key=lambda item: item[0])
        grown = zone.min_kb + ceil_div(deficit * ATOMIC_SHARE_DEN, ATOMIC_SHARE_NUM)
        kb = ceil_div(current * grown, zone.min_kb)
        inputs = {
            "current_kb": current,
            "zone": zone.name,
            "zone_min_kb": zone.min_kb,
            "deficit_kb": deficit,
            "process": group.process,
            "order": group.order,
        }
        if best is None or kb > best[0]:
            best = (kb, inputs, group.sources[:3])
    if best is None:
        return Candidate(
            "failure_deficit",
            None,
            formula,
            why="no failure report with a zone under its reduced min",
        )
    return Candidate(
        "failure_deficit",
        best[0],
        formula,
        best[1],
        supported=True,
        why="what the failure reports show was missing",
        sources=best[2],
    )


def candidate_simulated(d: Diagnosis) -> Candidate | None:
    if d.simulated_safe_min_free_kb is None and d.simulated_detail is None:
        return None
    return Candidate(
        "simulated",
        d.simulated_safe_min_free_kb,
        "smallest value with no atomic failure in every simulated seed",
        {"detail": d.simulated_detail, **dict(d.simulated_inputs)},
        supported=d.simulated_safe_min_free_kb is not None,
        why=d.simulated_detail or "simulation of this host",
        sources=("minfree.simulation",),
    )


def candidates(d: Diagnosis, findings: Sequence[Finding]) -> tuple[Candidate, ...]:
    out = [
        candidate_kernel_default(d),
        candidate_thp(d),
        candidate_atomic_burst(d, findings),
        candidate_aerospike(d),
        candidate_oracle(d),
        candidate_failure_deficit(d),
    ]
    simulated = candidate_simulated(d)
    if simulated is not None:
        out.append(simulated)
    return tuple(out)


# ---------------------------------------------------------------------------------------
# The choice and the recommendations
# ---------------------------------------------------------------------------------------


def _largest_within(predict: WatermarkPredictor, low: int, high: int, limit_kb: int) -> int:
    """Largest value in [low, high] whose predicted high sum stays <= limit (bisection;
    watermarks grow monotonically with min_free_kbytes)."""
    best = low
    while low <= high:
        mid = (low + high) // 2
        predicted = predict(mid)
        if predicted is not None and predicted[2] <= limit_kb:
            best, low = mid, mid + 1
        else:
            high = mid - 1
    return best


def _reasons_for(chosen: Candidate, supported: Sequence[Candidate]) -> list[str]:
    reasons = [f"largest supported candidate: {chosen.rule} = {chosen.kb} kB ({chosen.why})"]
    for other in supported:
        if other.rule != chosen.rule and other.kb is not None:
            reasons.append(f"also supported: {other.rule} = {other.kb} kB")
    return reasons


def recommend(
    d: Diagnosis,
    findings: Sequence[Finding],
    *,
    allow_high: bool = False,
) -> RecommendationSet:
    """Candidates, the chosen ``min_free_kbytes`` and every recommended change, with reasons."""
    cands = candidates(d, findings)
    keys = {f.key for f in findings}
    current = d.sysctl_int("vm.min_free_kbytes")
    supported = [c for c in cands if c.supported and c.kb is not None]
    recs: list[Recommendation] = []
    notes: list[str] = []
    chosen: Candidate | None = max(supported, key=lambda c: c.kb or 0) if supported else None
    chosen_kb = chosen.kb if chosen else None
    total = d.total_ram_kb
    cap_fraction = HIGH_CAP_FRACTION if allow_high else DEFAULT_CAP_FRACTION
    cap_kb = int(total * cap_fraction) if total else None
    capped_by: str | None = None
    predict = make_predictor(d)
    if chosen_kb is not None and cap_kb is not None and chosen_kb > cap_kb:
        chosen_kb, capped_by = cap_kb, f"{cap_fraction:.0%} of RAM"
    available = d.memory.available_kb if d.memory else None
    if chosen_kb is not None and predict is not None and available is not None:
        predicted = predict(chosen_kb)
        if predicted is not None and predicted[2] > available:
            floor = min(current or 128, chosen_kb)
            chosen_kb = _largest_within(predict, floor, chosen_kb, available)
            capped_by = "today's available memory (MemAvailable)"
    elif chosen_kb is not None and available is None:
        notes.append("MemAvailable unknown: the available-memory cap was not checked")

    cost = None
    if chosen is not None and chosen_kb is not None and current is not None:
        reasons = _reasons_for(chosen, supported)
        if capped_by:
            reasons.append(
                f"capped at {chosen_kb} kB by {capped_by}"
                + (
                    ""
                    if allow_high or "RAM" not in capped_by
                    else "; --allow-high permits up to 10%"
                )
            )
        sources = tuple(s for c in supported for s in c.sources)
        if chosen_kb > current:
            recs.append(
                Recommendation(
                    "vm.min_free_kbytes",
                    str(current),
                    str(chosen_kb),
                    "at-least",
                    tuple(reasons),
                    sources,
                )
            )
        elif "MIN_FREE_TOO_HIGH" in keys and chosen_kb < current:
            reasons.insert(0, f"today's {current} kB is above what any supported rule asks")
            recs.append(
                Recommendation(
                    "vm.min_free_kbytes",
                    str(current),
                    str(chosen_kb),
                    "exactly",
                    tuple(reasons),
                    sources,
                )
            )
    recs.extend(_watermark_scale_factor(d, keys))
    recs.extend(_fragmentation_knobs(d, keys))
    recs.extend(_profile_settings(d, findings))
    cost = _cost(d, recs, predict, current)
    return RecommendationSet(
        candidates=cands,
        chosen_kb=chosen_kb,
        chosen_rule=chosen.rule if chosen else None,
        cap_kb=cap_kb,
        capped_by=capped_by,
        recommendations=tuple(recs),
        cost=cost,
        notes=tuple(notes),
        allow_high_needed=bool(
            allow_high
            and total
            and chosen_kb is not None
            and chosen_kb > total * DEFAULT_CAP_FRACTION
        ),
    )


def recommended_min_free_kb(d: Diagnosis, *, allow_high: bool = False) -> int | None:
    """The ``vm.min_free_kbytes`` to hold a host to, as ``apply ... recommended`` reads it.

    The changed value when one is recommended, else today's value (nothing to change), None
    when nothing is known. ``d`` is a diagnosis (read a root with
    :func:`minfree.outputs.doctor_json.diagnose_root`).
    """
    from minfree.analysis.findings import evaluate

    result = recommend(d, evaluate(d), allow_high=allow_high)
    for r in result.recommendations:
        if r.sysctl == "vm.min_free_kbytes":
            return int(r.recommended)
    if result.chosen_kb is None:
        return None
    return d.sysctl_int("vm.min_free_kbytes")


def _cost(
    d: Diagnosis,
    recs: Sequence[Recommendation],
    predict: WatermarkPredictor | None,
    current: int | None,
) -> CostBenefit | None:
    """Predicted watermarks before and after the recommended min_free/wsf changes."""
    if predict is None or current is None:
        return None
    by_key = {r.sysctl: r for r in recs}
    if "vm.min_free_kbytes" not in by_key and "vm.watermark_scale_factor" not in by_key:
        return None
    new_mfk = (
        int(by_key["vm.min_free_kbytes"].recommended)
        if ("vm.min_free_kbytes" in by_key)
        else current
    )
    new_wsf = (
        int(by_key["vm.watermark_scale_factor"].recommended)
        if ("vm.watermark_scale_factor" in by_key)
        else None
    )
    now = predict(current)
    new = predict(new_mfk, new_wsf)
    if now is None or new is None:
        return None
    return CostBenefit(
        new_mfk,
        now[2],
        new[2],
        now[0],
        new[0],
        "kernel.watermarks",
        low_sum_now_kb=now[1],
        low_sum_new_kb=new[1],
        watermark_scale_factor=new_wsf,
    )


def watermark_scale_factor_range(d: Diagnosis) -> tuple[int, int]:
    """The kernel's accepted range for this release (1..1000 before 5.15, 1..3000 after)."""
    if d.watermark_scale_factor_max is not None:
        return 1, d.watermark_scale_factor_max
    try:
        from minfree.kernel import sysctl_catalog
        from minfree.kernel.release import KernelRelease

        spec = sysctl_catalog.lookup("vm.watermark_scale_factor")
        if spec is not None:
            return sysctl_catalog.value_range(spec, KernelRelease.try_parse(d.release))
    except ImportError:
        pass
    return 1, 1000


def _watermark_scale_factor(d: Diagnosis, keys: set[str]) -> list[Recommendation]:
    if "KSWAPD_FALLING_BEHIND" not in keys or d.reclaim is None:
        return []
    current = d.sysctl_int("vm.watermark_scale_factor")
    managed = sum(z.managed_pages or 0 for z in d.lowmem_zones())
    if current is None or managed <= 0:
        return []
    rate = d.reclaim.rate_per_s(d.reclaim.pgalloc)  # pages per second
    gap_pages = rate * KSWAPD_REACTION_S
    needed = ceil_div(int(gap_pages * 10000), managed)
    reasons = [
        f"allocation rate {d.pages_to_kb(int(rate))} kB/s over {d.reclaim.interval_s:g} s "
        f"(pgalloc in {d.reclaim.source})",
        f"low-min gap must cover {KSWAPD_REACTION_S:g} s of it: "
        f"{d.pages_to_kb(int(gap_pages))} kB over {d.pages_to_kb(managed)} kB of zones",
    ]
    if needed <= current:
        needed = current * 2
        reasons.append(
            "the average rate fits today's gap, yet direct reclaim happened: "
            "bursts exceed the average, so the gap is doubled"
        )
    lo, hi = watermark_scale_factor_range(d)
    value = max(lo, min(hi, needed))
    if value <= current:
        return []
    if value == hi:
        reasons.append(f"limited to the kernel's maximum {hi}")
    return [
        Recommendation(
            "vm.watermark_scale_factor",
            str(current),
            str(value),
            "at-least",
            tuple(reasons),
            ("Documentation/admin-guide/sysctl/vm.rst", "commit 795ae7a0de6b"),
        )
    ]


def _fragmentation_knobs(d: Diagnosis, keys: set[str]) -> list[Recommendation]:
    if "HIGH_ORDER_FRAGMENTATION" not in keys:
        return []
    recs: list[Recommendation] = []
    boost = d.sysctl_int("vm.watermark_boost_factor")
    if boost == 0:
        recs.append(
            Recommendation(
                "vm.watermark_boost_factor",
                "0",
                str(DEFAULT_BOOST_FACTOR),
                "exactly",
                (
                    "boosting is off: after a fragmentation event kswapd does not reclaim and "
                    "compact ahead of demand",
                    "15000 is the kernel default",
                ),
                ("Documentation/admin-guide/sysctl/vm.rst", "mm/page_alloc.c boost_watermark()"),
            )
        )
    proactive = d.sysctl_int("vm.compaction_proactiveness")
    if proactive is not None and proactive < 20:
        recs.append(
            Recommendation(
                "vm.compaction_proactiveness",
                str(proactive),
                "20",
                "at-least",
                ("proactive compaction keeps high-order blocks available; 20 is the default",),
                ("mm/compaction.c",),
            )
        )
    threshold = d.sysctl_int("vm.extfrag_threshold")
    if threshold is not None and threshold > 500:
        recs.append(
            Recommendation(
                "vm.extfrag_threshold",
                str(threshold),
                "500",
                "exactly",
                ("a high threshold makes the kernel reclaim instead of compacting",),
                ("Documentation/admin-guide/sysctl/vm.rst",),
            )
        )
    if d.thp_defrag == "always":
        recs.append(
            _thp_defrag_rec(
                d, "direct compaction on every THP fault stalls allocations and churns pageblocks"
            )
        )
    return recs


def _thp_defrag_rec(d: Diagnosis, reason: str) -> Recommendation:
    return Recommendation(
        "transparent_hugepage.defrag",
        d.thp_defrag,
        "madvise",
        "exactly",
        (reason,),
        ("Documentation/admin-guide/mm/transhuge.rst",),
        applicable=False,
    )


def _profile_settings(d: Diagnosis, findings: Sequence[Finding]) -> list[Recommendation]:
    recs: list[Recommendation] = []
    seen: set[str] = set()
    for f in findings:
        if f.key == "AEROSPIKE_BEST_PRACTICE":
            check = f.params["check"]
            if check == "min_free_kbytes" or check in seen:
                continue
            seen.add(check)
            rule = "Aerospike best practice (cf_os_best_practices_checks)"
            if check in ("swappiness", "zone_reclaim_mode"):
                recs.append(
                    Recommendation(
                        f"vm.{check}",
                        str(f.params["current"]),
                        "0",
                        "exactly",
                        (rule,),
                        (f.params["rule_source"],),
                    )
                )
            elif check == "max_map_count":
                recs.append(
                    Recommendation(
                        "vm.max_map_count",
                        str(f.params["current"]),
                        "262144",
                        "at-least",
                        (rule,),
                        (f.params["rule_source"],),
                    )
                )
            elif check == "somaxconn":
                recs.append(
                    Recommendation(
                        "net.core.somaxconn",
                        str(f.params["current"]),
                        "4096",
                        "at-least",
                        (rule,),
                        (f.params["rule_source"],),
                    )
                )
            elif check == "thp_defrag" and d.thp_defrag != "always":
                recs.append(_thp_defrag_rec(d, rule))
            elif check == "thp_enabled":
                recs.append(
                    Recommendation(
                        "transparent_hugepage.enabled",
                        d.thp_enabled,
                        "madvise",
                        "exactly",
                        (rule,),
                        (f.params["rule_source"],),
                        applicable=False,
                    )
                )
        elif f.key == "ZONE_RECLAIM_ENABLED" and "zone_reclaim_mode" not in seen:
            seen.add("zone_reclaim_mode")
            recs.append(
                Recommendation(
                    "vm.zone_reclaim_mode",
                    str(f.params["zone_reclaim_mode"]),
                    "0",
                    "exactly",
                    (
                        "zone reclaim drops page cache on the local node instead of using free "
                        "memory on the others",
                    ),
                    ("Documentation/admin-guide/sysctl/vm.rst",),
                )
            )
        elif f.key == "VFS_CACHE_PRESSURE" and f.params["problem"] == "zero":
            recs.append(
                Recommendation(
                    "vm.vfs_cache_pressure",
                    "0",
                    "100",
                    "exactly",
                    ("0 never reclaims dentries and inodes: can end in OOM",),
                    ("Documentation/admin-guide/sysctl/vm.rst",),
                )
            )
    return recs
