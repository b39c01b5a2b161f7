"""Live: apply min_free_kbytes and watermark_scale_factor on this machine for real, check
/proc/zoneinfo against the kernel model, roll back, check the originals are back.

``--persist none``: this machine's /etc is never touched. The journal goes to
/var/lib/minfree (removed afterwards if the test created it). The ``vm_sysctl_writer``
fixture restores the original values in a ``finally`` whatever happens.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from minfree.apply.execute import execute
from minfree.apply.plan import build_plan
from minfree.apply.rollback import rollback
from minfree.kernel.watermarks import compute_watermarks, detect_features
from minfree.parsers.zoneinfo import parse_zoneinfo

STATE = Path("/var/lib/minfree")


@pytest.mark.live
def test_apply_then_rollback_on_this_host(vm_sysctl_writer) -> None:  # type: ignore[no-untyped-def]
    keys = ("min_free_kbytes", "watermark_scale_factor")
    originals = {key: vm_sysctl_writer.read(key) for key in keys}
    for key, value in originals.items():
        vm_sysctl_writer.write(key, value)  # registers the original for the finally-restore
    state_existed = STATE.exists()
    new_mfk = int(originals["min_free_kbytes"]) + 22528
    new_wsf = 30 if originals["watermark_scale_factor"] != "30" else 40
    plan = build_plan("/", {"vm.min_free_kbytes": str(new_mfk),
                            "vm.watermark_scale_factor": str(new_wsf)}, persist="none")
    assert plan.live
    assert plan.persist.edits == ()
    plan.refuse_if_needed()
    try:
        result = execute(plan, command=("apply", "live-test"), settle_seconds=0.5)
        assert [w.read_back for w in result.writes] == [str(new_mfk), str(new_wsf)]
        # the apply's own check compared every zone and found no difference
        assert result.zones_compared >= 3
        assert result.zone_mismatches == ()
        # and an independent check from /proc/zoneinfo with the kernel model
        zoneinfo = parse_zoneinfo(Path("/proc/zoneinfo").read_text())
        features = detect_features(zoneinfo.zones, release=plan.facts.release,
                                   sysctl={"vm.watermark_scale_factor": str(new_wsf)})
        boosts = {(z.node, z.name): z.boost_pages or 0 for z in zoneinfo.zones}
        predicted = compute_watermarks(zoneinfo.zones, new_mfk, new_wsf, features=features,
                                       boost_pages=boosts)
        for zone, want in zip(zoneinfo.zones, predicted, strict=True):
            assert (zone.min_pages, zone.low_pages, zone.high_pages) == (
                want.min_pages, want.low_pages, want.high_pages), zone.name
        assert Path("/proc/sys/vm/min_free_kbytes").read_text().strip() == str(new_mfk)

        undone = rollback("/", plan.id)
        assert [w.read_back for w in undone.runtime] == [
            originals["watermark_scale_factor"], originals["min_free_kbytes"]]
        for key, value in originals.items():
            assert vm_sysctl_writer.read(key) == value
    finally:
        entry = STATE / "journal" / plan.id
        if entry.exists():
            shutil.rmtree(entry)
        if not state_existed and STATE.exists():
            shutil.rmtree(STATE)


@pytest.mark.live
def test_cli_apply_and_rollback_on_this_host(vm_sysctl_writer, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    """The same through the command line (``--persist none --yes``), with its 2 s re-read."""
    from minfree.apply.journal import Journal
    from minfree.cli.main import main

    keys = ("min_free_kbytes", "watermark_scale_factor")
    originals = {key: vm_sysctl_writer.read(key) for key in keys}
    for key, value in originals.items():
        vm_sysctl_writer.write(key, value)
    state_existed = STATE.exists()
    new_mfk = int(originals["min_free_kbytes"]) + 11264
    entry_id = None
    try:
        code = main(["apply", "--min-free-kbytes", str(new_mfk), "--watermark-scale-factor", "25",
                     "--persist", "none", "--yes"])
        out = capsys.readouterr().out
        assert code == 0, out
        assert "Persist: none (runtime only)." in out
        assert "/proc/zoneinfo matches the predicted watermarks" in out
        assert vm_sysctl_writer.read("min_free_kbytes") == str(new_mfk)
        entry_id = Journal("/").last().id
        assert main(["rollback", entry_id]) == 0
        for key, value in originals.items():
            assert vm_sysctl_writer.read(key) == value
    finally:
        if entry_id and (STATE / "journal" / entry_id).exists():
            shutil.rmtree(STATE / "journal" / entry_id)
        if not state_existed and STATE.exists():
            shutil.rmtree(STATE)
