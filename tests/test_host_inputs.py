"""The doctor's pipeline in two halves: reading (sources.host_inputs) and diagnosing (analysis).

``collect_host_inputs`` is the only half that touches files; ``diagnose`` is a pure function
of what it read, so the same inputs always give the same diagnosis, with no file opened.
"""

from __future__ import annotations

import builtins
import io
import os
import pathlib

import pytest

from conftest import FIXTURES
from minfree.analysis.diagnosis import diagnose
from minfree.model.host import Missing
from minfree.model.host_inputs import HostInputs
from minfree.outputs.doctor_json import diagnose_root
from minfree.sources.host_inputs import collect_host_inputs

SCENARIOS = FIXTURES / "scenarios"


def test_collect_reads_every_input_of_a_bundle() -> None:
    inputs = collect_host_inputs(str(SCENARIOS / "kswapd-behind"))
    assert not inputs.is_live
    assert inputs.snapshot is not None
    assert inputs.snapshot.zones
    assert inputs.log_scan is not None
    assert inputs.log_scan.sources
    assert inputs.sysctl_config is not None
    assert inputs.sysctl_config_captured
    # proc/vmstat.2, timed by proc/uptime and proc/uptime.2
    assert inputs.vmstat_second is not None
    assert inputs.vmstat_second_source == "proc/vmstat.2"
    up1 = float((SCENARIOS / "kswapd-behind/proc/uptime").read_text().split()[0])
    up2 = float((SCENARIOS / "kswapd-behind/proc/uptime.2").read_text().split()[0])
    assert inputs.interval_s == pytest.approx(up2 - up1)
    assert inputs.aerospike_conf is None
    assert inputs.missing_for("aerospike_conf") == ()


def test_aerospike_profile_without_a_conf_is_a_named_blind_spot() -> None:
    inputs = collect_host_inputs(str(SCENARIOS / "healthy"), profile="aerospike")
    assert [m.path for m in inputs.missing_for("aerospike_conf")] == ["aerospike.conf"]
    d = diagnose(inputs)
    assert d.profile == "aerospike"
    assert d.aerospike is None
    assert d.missing[-1].what == "aerospike.conf"


def test_diagnose_opens_no_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every read happens in collect_host_inputs: diagnose works with files made unreadable."""
    for name in ("classic-rhel7-aerospike", "kswapd-behind", "boot-override"):
        inputs = collect_host_inputs(str(SCENARIOS / name))
        expected = diagnose(inputs)

        def refuse(*args: object, **kwargs: object) -> None:
            raise AssertionError(f"diagnose opened a file: {args[:1]}")

        with monkeypatch.context() as patch:
            patch.setattr(builtins, "open", refuse)
            patch.setattr(io, "open", refuse)
            patch.setattr(os, "open", refuse)
            patch.setattr(os, "scandir", refuse)
            patch.setattr(os, "listdir", refuse)
            patch.setattr(pathlib.Path, "open", refuse)
            patch.setattr(pathlib.Path, "read_text", refuse)
            patch.setattr(pathlib.Path, "read_bytes", refuse)
            again = diagnose(inputs)
        assert again == expected
        assert again == diagnose_root(str(SCENARIOS / name))


def test_diagnosis_keeps_the_explained_scan() -> None:
    d = diagnose_root(str(SCENARIOS / "classic-rhel7-aerospike"))
    assert d.scan is not None
    assert d.scan.failures > 0
    assert sum(g.count for g in d.failures) == d.scan.failures
    assert {g.process for g in d.failures} == {a.report.process for a in d.scan.reports}


def test_hand_made_inputs_list_their_blind_spots_in_the_doctor_order() -> None:
    """No snapshot, no logs, no sysctl configuration: each reason where the doctor puts it."""
    inputs = HostInputs(
        label="nothing", is_live=False, snapshot=None, sysctl_config_captured=False,
        missing={
            "aerospike_conf": (Missing("aerospike.conf", "not found"),),
            "logs": (Missing("bundle logs", "unreadable"),),
            "snapshot": (Missing("host snapshot", "no proc"),),
        },
    )
    d = diagnose(inputs)
    assert d.label == "nothing"
    assert d.zones == ()
    assert d.scan is None
    assert d.failures == ()
    assert [m.what for m in d.missing] == [
        "host snapshot", "reclaim rates", "bundle logs", "boot-time sysctl", "zones",
        "aerospike.conf"]
