"""``--simulate`` in doctor, recommend and report: one shared step (outputs.simulated_reserve)."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from conftest import FIXTURES
from minfree.analysis.diagnosis import diagnose
from minfree.outputs.simulated_reserve import with_simulation
from minfree.sources.host_inputs import collect_host_inputs

SCENARIOS = FIXTURES / "scenarios"


def test_no_snapshot_is_a_named_blind_spot_not_a_crash() -> None:
    d = diagnose(collect_host_inputs(str(SCENARIOS / "healthy")))
    simulated = with_simulation(d, None)
    assert simulated.result is None
    assert simulated.error == "no host snapshot to simulate"
    assert simulated.diagnosis.simulated_safe_min_free_kb is None
    assert simulated.diagnosis.missing[-1].what == "simulation"
    assert simulated.diagnosis.missing[:-1] == d.missing


def test_a_host_without_zones_cannot_be_simulated(tmp_path) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "meminfo").write_text("MemTotal: 1024 kB\nMemFree: 512 kB\n")
    inputs = collect_host_inputs(str(tmp_path))
    simulated = with_simulation(diagnose(inputs), inputs.snapshot)
    assert simulated.result is None
    assert "could not be simulated" in simulated.diagnosis.missing[-1].reason


@pytest.mark.slow
def test_doctor_and_report_simulate_the_same_way(tmp_path) -> None:
    from minfree.cli.main import main
    from minfree.outputs.html_report import collect_report_data

    root = str(SCENARIOS / "classic-rhel7-aerospike")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["doctor", "--simulate", "--json", "--root", root]) == 0
    doctor = json.loads(out.getvalue())
    report = collect_report_data(root, simulate=True)

    def simulated(doc):
        return next(c for c in doc["candidate_details"] if c["rule"] == "simulated")

    assert simulated(report["doctor"]) == simulated(doctor)
    assert simulated(doctor)["inputs"]["assumptions"]
    assert report["simulation"]["safe_min_free_kbytes"] == doctor["candidates"]["simulated"]
