"""``doctor --simulate`` / ``recommend --simulate``: a simulated safe reserve for a real host.

:func:`simulate_safe_reserve` builds a scenario from what is known about the host - its
zones, memory use, network interfaces and MTU, and the orders, contexts and rate of the
allocation failures found in its logs - then sweeps ``min_free_kbytes`` with the fast
engine over several seeds and returns the smallest value with no atomic failure in any
seed. Every number that had to be assumed is listed in ``assumptions`` so the caller can
show them next to the answer.

    >>> from minfree.simulation.advisor import FailureObservation
    >>> FailureObservation(order=1, count=12, context="tcp-accept").order
    1
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from minfree.simulation.host import SimHost, host_from_snapshot
from minfree.simulation.run import SweepResult, sweep, sweep_values
from minfree.simulation.scenario import (
    AppMemory,
    NetworkRx,
    PageCache,
    Scenario,
    TcpAccept,
    order_for_mtu,
)

#: Ethernet framing per packet on the wire (preamble, header, FCS, inter-frame gap).
_WIRE_OVERHEAD_BYTES = 38


@dataclass(frozen=True)
class FailureObservation:
    """Failures of one order and context seen in the logs (``per_hour`` when known)."""

    order: int
    count: int
    context: str = "network-receive"
    per_hour: float | None = None


@dataclass(frozen=True)
class SafeReserveResult:
    """The simulated answer and how it was reached."""

    safe_min_free_kbytes: int | None
    margin_kbytes: int | None
    default_min_free_kbytes: int
    current_min_free_kbytes: int | None
    scenario: Scenario
    sweep: SweepResult
    assumptions: tuple[str, ...] = field(default_factory=tuple)

    @property
    def current_is_safe(self) -> bool | None:
        """Whether the host's present value is at or above the simulated safe value."""
        if self.safe_min_free_kbytes is None or self.current_min_free_kbytes is None:
            return None
        return self.current_min_free_kbytes >= self.safe_min_free_kbytes

    def as_dict(self) -> dict[str, Any]:
        return {
            "safe_min_free_kbytes": self.safe_min_free_kbytes,
            "margin_kbytes": self.margin_kbytes,
            "default_min_free_kbytes": self.default_min_free_kbytes,
            "current_min_free_kbytes": self.current_min_free_kbytes,
            "current_is_safe": self.current_is_safe,
            "scenario": self.scenario.name,
            "engine": self.sweep.engine,
            "seeds": list(self.sweep.seeds),
            "swept_kbytes": [p.min_free_kbytes for p in self.sweep.points],
            "max_failures": [p.max_failures for p in self.sweep.points],
            "assumptions": list(self.assumptions),
        }


def observations_from_scan(scan: Any) -> list[FailureObservation]:
    """Failure orders and contexts from a ``minfree.analysis.failure_report.ScanResult``
    (or anything with ``reports`` whose items have ``report.order`` and ``context.kind``)."""
    counts: Counter[tuple[int, str]] = Counter()
    for analysed in getattr(scan, "reports", ()) or ():
        order = getattr(analysed.report, "order", None)
        if order is None:
            continue
        counts[(int(order), analysed.context.kind)] += 1 + int(analysed.report.suppressed or 0)
    return [FailureObservation(order, n, ctx) for (order, ctx), n in sorted(counts.items())]


def _observations(summary: Any) -> list[FailureObservation]:
    if summary is None:
        return []
    if isinstance(summary, Mapping):
        return [FailureObservation(int(k), int(v)) for k, v in summary.items()]
    if hasattr(summary, "reports"):
        return observations_from_scan(summary)
    items = list(summary)
    return [x for x in items if isinstance(x, FailureObservation)]


def build_scenario(host: SimHost, snapshot: Any, observations: Iterable[FailureObservation],
                   *, duration_s: float = 30.0) -> tuple[Scenario, list[str]]:
    """A scenario for this host; returns it with the list of assumptions made."""
    notes: list[str] = []
    observations = list(observations)
    page_mib = host.page_size_bytes / 1048576
    meminfo = getattr(snapshot, "meminfo", None)
    anon_kb = None
    if meminfo is not None and hasattr(meminfo, "get_kb"):
        anon_kb = meminfo.get_kb("AnonPages")
    managed_gib = host.managed_pages * page_mib / 1024
    if anon_kb:
        resident_gib = min(anon_kb / 1048576, managed_gib * 0.85)
        notes.append(f"application memory: {resident_gib:.1f} GiB anonymous (from meminfo)")
    else:
        resident_gib = managed_gib * 0.5
        notes.append("application memory: half of RAM (meminfo has no AnonPages)")
    cache = PageCache(read_mib_per_s=200.0, working_set_gib=max(managed_gib * 4, 1.0),
                      initial_free_above_high_mib=32.0)
    notes.append("page cache: 200 MiB/s of reads over a working set 4x RAM (assumed)")

    by_context: dict[str, list[FailureObservation]] = {}
    for obs in observations:
        by_context.setdefault(obs.context, []).append(obs)
    rx: list[NetworkRx] = []
    nics = [n for n in host.interfaces if n.name != "lo" and not n.name.startswith(("veth", "docker"))]
    if not nics:
        nics = []
        notes.append("network: no interface known; a 10 GbE link with MTU 1500 is assumed")
        from minfree.simulation.host import SimInterface

        nics = [SimInterface("eth0", 1500, 10000, 8)]
    rx_orders = [o.order for o in by_context.get("network-receive", [])]
    for nic in nics:
        speed = nic.speed_mbps or 10000
        line_pps = speed * 1e6 / 8 / (nic.mtu_bytes + _WIRE_OVERHEAD_BYTES)
        order = order_for_mtu(nic.mtu_bytes, host.page_size_bytes)
        if rx_orders:
            order = max(order, max(rx_orders))
        rx.append(NetworkRx(
            name=nic.name, mtu_bytes=nic.mtu_bytes, base_pps=0.1 * line_pps,
            burst_pps=0.8 * line_pps, burst_duration_ms=50, burst_interval_ms=500,
            lifetime_ms=20, rx_queues=nic.rx_queues or 8, order=order))
        notes.append(f"{nic.name}: {speed} Mb/s, MTU {nic.mtu_bytes}: bursts at 80% of line rate "
                     f"({0.8 * line_pps:,.0f} packets/s) for 50 ms every 500 ms, order-{order} "
                     "buffers held 20 ms")
    accept: list[TcpAccept] = []
    accept_obs = by_context.get("tcp-accept", [])
    if accept_obs or any(o.order == 1 and o.context not in ("network-receive",)
                         for o in observations):
        order = max([o.order for o in accept_obs] or [1])
        accept.append(TcpAccept(burst_connections=5000, burst_duration_ms=100,
                                burst_interval_ms=2000, slab_order=order, lifetime_ms=5000))
        notes.append(f"order-{order} failures on accept: 5000-connection storms every 2 s "
                     "(assumed)")
    for obs in observations:
        if obs.context not in ("network-receive", "tcp-accept"):
            notes.append(f"{obs.count} order-{obs.order} failure(s) in context {obs.context} "
                         "are not modelled")
    scenario = Scenario(
        name=f"host-{host.label}",
        description="built from the host's zones, interfaces and observed failures",
        host=host.label, duration_s=duration_s, comm="swapper/0",
        sources=("minfree.simulation.advisor",), app=AppMemory(resident_gib=resident_gib),
        page_cache=cache, network_rx=tuple(rx), tcp_accept=tuple(accept))
    return scenario, notes


def simulate_safe_reserve(snapshot: Any, failures_summary: Any = None, *, seeds: int = 3,
                          steps: int = 12, duration_s: float = 30.0,
                          max_min_free_kbytes: int | None = None) -> SafeReserveResult:
    """Sweep ``min_free_kbytes`` for a scenario built from ``snapshot`` (a
    ``minfree.model.host.HostSnapshot``) and ``failures_summary`` (a scan result, a mapping
    order -> count, or :class:`FailureObservation` values). Uses the fast engine."""
    from minfree.simulation.plan import default_min_free_kbytes

    host = host_from_snapshot(snapshot, label=getattr(snapshot, "label", "host"))
    scenario, notes = build_scenario(host, snapshot, _observations(failures_summary),
                                     duration_s=duration_s)
    default = default_min_free_kbytes(host)
    total_kb = host.managed_bytes // 1024
    top = max_min_free_kbytes or max(min(int(total_kb * 0.05), 4 << 20), default * 4)
    low = max(default // 2, 1024)
    values = sweep_values(low, top, steps) if top > low else [low]
    # geometric spacing resolves small reserves as finely as large ones
    if top > low and steps > 2:
        ratio = (top / low) ** (1 / (steps - 1))
        values = sorted({int(low * ratio**i) for i in range(steps)} | {default})
    result = sweep(host, scenario, values, seeds=tuple(range(seeds)), duration_s=duration_s,
                   engine="fast")
    notes.append(f"swept {len(values)} values from {values[0]} to {values[-1]} kB, {seeds} seeds, "
                 f"{duration_s:g} s each, fast engine")
    current = host.current_min_free_kbytes
    return SafeReserveResult(
        safe_min_free_kbytes=result.safe_min_free_kbytes,
        margin_kbytes=result.margin_kbytes,
        default_min_free_kbytes=default,
        current_min_free_kbytes=current,
        scenario=scenario, sweep=result, assumptions=tuple(notes))

