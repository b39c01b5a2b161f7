"""The simulator's smallest safe reserve for a diagnosed host (``--simulate``).

Shared by ``doctor --simulate``, ``recommend --simulate`` and ``report --simulate`` so the
three run the same simulation and show the same ``simulated`` candidate. It lives in
outputs because only the CLI and outputs may import :mod:`minfree.simulation`
(docs/architecture.md); it decides nothing: the advisor
(:func:`minfree.simulation.advisor.simulate_safe_reserve`) sizes the reserve and the
recommender weighs its answer like any other candidate.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from minfree.analysis.diagnosis import Diagnosis, MissingItem
from minfree.errors import MinfreeError


@dataclass(frozen=True)
class SimulatedReserve:
    """A diagnosis with the simulator's answer on it, and the advisor's full result.

    ``result`` (a :class:`minfree.simulation.advisor.SafeReserveResult`, whose ``sweep`` the
    report plots) is None when the host could not be simulated; ``error`` then says why,
    and the diagnosis lists it under ``missing``.
    """

    diagnosis: Diagnosis
    result: Any = None
    error: str | None = None


def with_simulation(diagnosis: Diagnosis, snapshot: Any) -> SimulatedReserve:
    """Run the simulation advisor for ``snapshot`` (the host the diagnosis was made from).

    The advisor builds a scenario from the host's zones, memory use, interfaces and the
    failures the doctor found (order, context, count with the rate-limited reports), then
    sweeps min_free_kbytes with the fast engine; its answer becomes the diagnosis'
    ``simulated`` candidate, with every assumption it had to make.
    """
    from minfree.simulation.advisor import FailureObservation, simulate_safe_reserve

    error = None
    if snapshot is None:
        error = "no host snapshot to simulate"
    else:
        observations = [FailureObservation(g.order, g.count + g.suppressed, g.context)
                        for g in diagnosis.failures if g.order >= 0]
        try:
            result = simulate_safe_reserve(snapshot, observations)
        except (MinfreeError, ValueError, ArithmeticError) as failure:
            # A host the simulator cannot model (no zones, odd layout): say so, keep the rest
            # of the diagnosis (the advisor raises UsageError for a bundle without zoneinfo).
            error = str(failure)
    if error is not None:
        return SimulatedReserve(dataclasses.replace(diagnosis, missing=(
            *diagnosis.missing,
            MissingItem("simulation", f"this host could not be simulated ({error})"))),
            error=error)
    safe = result.safe_min_free_kbytes
    summary = (f"fast-engine sweep, {len(result.sweep.seeds)} seeds: "
               + (f"no atomic failure from {safe} kB" if safe is not None
                  else "atomic failures at every value swept"))
    simulated = dataclasses.replace(
        diagnosis,
        simulated_safe_min_free_kb=safe,
        simulated_detail=summary,
        simulated_inputs={"margin_kb": result.margin_kbytes,
                          "swept_kb": [p.min_free_kbytes for p in result.sweep.points],
                          "assumptions": list(result.assumptions)},
    )
    return SimulatedReserve(simulated, result=result)
