"""``minfree apply`` on temporary roots built from real fixtures: plans, diffs, persistence,
conflicts, refusals and bad input (exit code 2, nothing changed)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from minfree.analysis.sysctl_boot import PROCPS, SYSTEMD, resolve_boot_sysctl
from minfree.apply.execute import execute
from minfree.apply.plan import build_plan
from minfree.cli.main import main
from minfree.outputs.apply_text import render_plan
from minfree.sources.sysctl_config import collect_sysctl_config
from test_apply_roots import build_root, tree_state

MFK = "vm.min_free_kbytes"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return build_root(tmp_path)


def _append(path: Path, text: str) -> None:
    with path.open("a") as handle:
        handle.write(text)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ---- plans and diffs ---------------------------------------------------------------------


def test_plan_shows_changes_watermarks_cost_and_diff(root: Path) -> None:
    plan = build_plan(root, {MFK: "90112", "vm.watermark_scale_factor": "50"})
    assert plan.allowed
    [mfk, wsf] = plan.changes
    assert (mfk.current, mfk.new) == ("67584", "90112")
    assert (wsf.current, wsf.new) == ("10", "50")
    normal = next(z for z in plan.zones if z.zone == "Normal")
    # today's values are the fixture's printed ones; after = kernel model on the same zones
    assert normal.now == (6808, 8510, 10212)
    assert normal.after[0] > normal.now[0]
    assert normal.after[2] > normal.now[2]
    assert plan.taken_kb is not None
    assert plan.taken_kb > 0
    text = render_plan(plan)
    assert "vm.min_free_kbytes: 67584 -> 90112 kB" in text
    assert "node 0 Normal" in text
    assert "+++ b/etc/sysctl.d/99-zz-minfree.conf" in text
    assert "+vm.min_free_kbytes = 90112" in text
    assert "Memory taken from applications" in text


def test_dry_run_changes_nothing(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = tree_state(root)
    code, out, _ = _run(capsys, "apply", "--root", str(root), "--min-free-kbytes", "90112", "--dry-run")
    assert code == 0
    assert "Dry run: nothing was changed." in out
    assert tree_state(root) == before


def test_values_are_canonicalised(root: Path) -> None:
    plan = build_plan(root, {"vm/min_free_kbytes": "0090112"})
    assert plan.changes[0].key == MFK
    assert plan.changes[0].new == "90112"


# ---- persistence -------------------------------------------------------------------------


def test_persist_sysctl_d_writes_a_late_file_with_header(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "apply", "--root", str(root), "--min-free-kbytes", "90112", "--yes")
    assert code == 0, out
    target = root / "etc/sysctl.d/99-zz-minfree.conf"
    text = target.read_text()
    assert text.startswith("# Written by minfree apply on ")
    assert "Undo: minfree rollback " in text
    assert text.endswith("vm.min_free_kbytes = 90112\n")
    assert oct(target.stat().st_mode & 0o777) == "0o644"
    assert (root / "proc/sys/vm/min_free_kbytes").read_text() == "90112\n"
    boot = resolve_boot_sysctl(collect_sysctl_config(root))
    for stack in boot.stacks():
        winner = stack.winner(MFK)
        assert winner is not None
        assert (winner.file, winner.value) == ("/etc/sysctl.d/99-zz-minfree.conf", "90112")
    # a second apply edits minfree's own file in place, keeping other lines
    code, _, _ = _run(capsys, "apply", "--root", str(root), "--min-free-kbytes", "100000",
                      "--swappiness", "10", "--yes")
    assert code == 0
    text2 = target.read_text()
    assert text2.startswith(text.splitlines()[0])  # header of the first apply kept
    assert "vm.min_free_kbytes = 100000\n" in text2
    assert text2.endswith("vm.swappiness = 10\n")
    assert "90112" not in text2.split("# Undo")[1]


def test_persist_sysctl_d_name_sorts_after_a_letter_named_file(root: Path) -> None:
    (root / "etc/sysctl.d/zz-tuning.conf").write_text("vm.min_free_kbytes = 22528\n")
    plan = build_plan(root, {MFK: "90112"})
    assert plan.persist.target == "/etc/sysctl.d/zz-tuning_zz-minfree.conf"
    assert plan.persist.boot_after.systemd.value(MFK) == "90112"
    assert not plan.persist.unresolved


def test_persist_sysctl_conf_comments_out_earlier_settings(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = root / "etc/sysctl.conf"
    _append(conf, "vm.min_free_kbytes = 45056\nvm.swappiness=30\nvm.min_free_kbytes=50000\n")
    original_lines = conf.read_text().splitlines()
    code, out, _ = _run(capsys, "apply", "--root", str(root), "--min-free-kbytes", "90112",
                        "--persist", "sysctl.conf", "--yes")
    assert code == 0
    lines = conf.read_text().splitlines()
    # every earlier setting commented out with the marker, nothing else changed, then appended
    marked = [line for line in lines if line.startswith("# [minfree ")]
    assert [m.split("] ", 1)[1] for m in marked if "set by" not in m] == [
        "vm.min_free_kbytes = 45056", "vm.min_free_kbytes=50000"]
    assert "vm.swappiness=30" in lines
    assert lines[: len(original_lines) - 3] == original_lines[:-3]
    assert lines[-1] == "vm.min_free_kbytes = 90112"
    assert "-vm.min_free_kbytes = 45056" in out
    assert "+# [minfree " in out
    assert resolve_boot_sysctl(collect_sysctl_config(root)).systemd.value(MFK) == "90112"


def test_persist_sysctl_conf_without_the_link_is_reported(root: Path) -> None:
    (root / "etc/sysctl.d/99-sysctl.conf").unlink()  # Debian 13
    plan = build_plan(root, {MFK: "90112"}, persist="sysctl.conf")
    [conflict] = [c for c in plan.persist.conflicts if c.tool == SYSTEMD]
    assert conflict.relevant
    assert conflict.definition is None
    assert "does not read /etc/sysctl.conf" in conflict.advice
    assert "WILL NOT SURVIVE A REBOOT" in render_plan(plan)


def test_persist_none_reports_what_boot_sets_instead(root: Path) -> None:
    _append(root / "etc/sysctl.conf", "vm.min_free_kbytes = 45056\n")
    plan = build_plan(root, {MFK: "90112"}, persist="none")
    assert plan.persist.edits == ()
    assert {c.boot_value for c in plan.persist.conflicts} == {"45056"}


# ---- conflicts ---------------------------------------------------------------------------


def test_sysctl_conf_wins_under_procps_and_fix_conflicts_comments_it_out(root: Path) -> None:
    conf = root / "etc/sysctl.conf"
    _append(conf, "vm.min_free_kbytes = 45056\n")
    line = len(conf.read_text().splitlines())
    plan = build_plan(root, {MFK: "90112"})
    [conflict] = plan.persist.conflicts
    assert conflict.tool == PROCPS
    assert conflict.boot_value == "45056"
    assert conflict.definition is not None
    assert conflict.definition.where == f"/etc/sysctl.conf:{line}"
    assert not conflict.relevant  # this root boots with systemd; procps only if run by hand
    fixed = build_plan(root, {MFK: "90112"}, fix_conflicts=True)
    assert [c.fixed for c in fixed.persist.conflicts] == [True]
    assert sorted(e.path for e in fixed.persist.edits) == [
        "/etc/sysctl.conf", "/etc/sysctl.d/99-zz-minfree.conf"]
    execute(fixed)
    assert conf.read_text().splitlines()[line - 1].startswith(f"# [minfree {fixed.id}] vm.min_free_kbytes")
    boot = resolve_boot_sysctl(collect_sysctl_config(root))
    assert boot.procps.value(MFK) == boot.systemd.value(MFK) == "90112"


def test_later_file_beats_sysctl_conf_under_systemd_and_is_fixed(root: Path) -> None:
    (root / "etc/sysctl.d/99-zz-tuning.conf").write_text("# site tuning\nvm.min_free_kbytes = 22528\n")
    plan = build_plan(root, {MFK: "90112"}, persist="sysctl.conf")
    systemd = [c for c in plan.persist.conflicts if c.tool == SYSTEMD]
    assert systemd
    assert systemd[0].definition is not None
    assert systemd[0].definition.where == "/etc/sysctl.d/99-zz-tuning.conf:2"
    assert "--fix-conflicts" in systemd[0].advice
    fixed = build_plan(root, {MFK: "90112"}, persist="sysctl.conf", fix_conflicts=True)
    assert not fixed.persist.unresolved
    execute(fixed)
    assert (root / "etc/sysctl.d/99-zz-tuning.conf").read_text() == (
        f"# site tuning\n# [minfree {fixed.id}] vm.min_free_kbytes = 22528\n")


def test_a_glob_is_never_edited(root: Path) -> None:
    (root / "etc/sysctl.d/99-zz-glob.conf").write_text("vm.min_free_* = 1024\n")
    plan = build_plan(root, {MFK: "90112"}, persist="none", fix_conflicts=True)
    assert plan.persist.edits == ()
    assert any("glob" in c.advice for c in plan.persist.conflicts)


# ---- safety refusals (each names its rule and override) ----------------------------------


def _refused(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    before = tree_state(root)
    code, _out, err = _run(capsys, "apply", "--root", str(root), "--yes", *args)
    assert code == 2, err
    assert tree_state(root) == before
    assert err.startswith("minfree: ")
    assert err.count("\n") == 1
    return err


def test_refuses_above_5_percent_and_allow_high_lifts_to_10(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _refused(root, capsys, "--min-free-kbytes", "1300000")  # MemTotal 24684092 kB
    assert "min-free-above-5pct" in err
    assert "override: --allow-high" in err
    err = _refused(root, capsys, "--min-free-kbytes", "2500000", "--allow-high")
    assert "min-free-above-10pct" in err
    assert "no override" in err
    code, _, _ = _run(capsys, "apply", "--root", str(root), "--yes", "--allow-high",
                      "--min-free-kbytes", "1300000", "--persist", "none")
    assert code == 0


def test_refuses_high_watermarks_above_mem_available(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    meminfo = root / "proc/meminfo"
    lines = [("MemAvailable:     100000 kB" if line.startswith("MemAvailable:") else line)
             for line in meminfo.read_text().splitlines()]
    meminfo.write_text("\n".join(lines) + "\n")
    err = _refused(root, capsys, "--min-free-kbytes", "90112")
    assert "high-watermarks-exceed-available" in err
    assert "100000 kB" in err


def test_below_kernel_default_is_a_warning_only(root: Path) -> None:
    plan = build_plan(root, {MFK: "1024"}, persist="none")
    assert plan.allowed
    assert [c.rule for c in plan.cautions] == ["below-kernel-default"]
    # with THP on, khugepaged's recommendation (67584 kB on this 3-zone host) is named too
    thp = root / "sys/kernel/mm/transparent_hugepage/enabled"
    thp.parent.mkdir(parents=True)
    thp.write_text("always [madvise] never\n")
    plan = build_plan(root, {MFK: "45056"}, persist="none")
    [caution] = plan.cautions
    assert caution.rule == "below-thp-recommendation"
    assert "67584 kB" in caution.message


def test_kernel_range_by_release(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _refused(root, capsys, "--watermark-scale-factor", "5000")
    assert "kernel-range" in err
    assert "between 1 and 3000" in err
    (root / "proc/sys/kernel/osrelease").write_text("5.4.0-99-generic\n")
    err = _refused(root, capsys, "--swappiness", "150")
    assert "between 0 and 100 on kernel 5.4.0" in err
    (root / "proc/sys/kernel/osrelease").write_text("6.1.0\n")
    assert build_plan(root, {"vm.swappiness": "150"}).allowed


def test_not_root_on_a_live_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    plan = build_plan("/", {"vm.swappiness": "60"}, persist="none")
    [refusal] = [r for r in plan.refusals if r.rule == "root-required"]
    assert "override: run as root" in refusal.text()


def test_interactive_confirmation_is_refused_without_a_terminal(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = tree_state(root)
    code, out, err = _run(capsys, "apply", "--root", str(root), "--min-free-kbytes", "90112")
    assert code == 2
    assert "no terminal to confirm on" in err
    assert "--yes" in err
    assert "Plan " in out  # the plan was shown first
    assert tree_state(root) == before


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[None]:
    if os.geteuid() != 0:
        pytest.skip("a read-only bind mount needs root")
    done = subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"mount --bind failed: {done.stderr.decode().strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], check=True, capture_output=True)
        yield
    finally:
        subprocess.run(["umount", str(path)], check=True, capture_output=True)


def test_read_only_etc_is_refused_with_persist_none_as_override(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with _read_only(root / "etc"):
        err = _refused(root, capsys, "--min-free-kbytes", "90112")
        assert "read-only-etc" in err
        assert "override: --persist none" in err
        code, _, _ = _run(capsys, "apply", "--root", str(root), "--yes", "--min-free-kbytes",
                          "90112", "--persist", "none")
        assert code == 0


def test_read_only_proc_sys_is_refused(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with _read_only(root / "proc/sys"):
        err = _refused(root, capsys, "--min-free-kbytes", "90112")
        assert "read-only-proc-sys" in err


# ---- bad input: exit 2, one line, nothing changed -----------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--min-free-kbytes", "-5"), "must be between 0 and 2147483647"),
        (("--min-free-kbytes", "abc"), "not an integer"),
        (("--min-free-kbytes", "12.5"), "not an integer"),
        (("--min-free-kbytes", "99999999999999999"), "between 0 and 2147483647"),
        (("--swappiness", ""), "empty value"),
        (("--set", "vm.nope=1"), "unknown key 'vm.nope'"),
        (("--set", "novalue"), "--set needs KEY=VALUE"),
        (("--set", "vm.drop_caches=3"), "drop-caches"),
        (("--set", "vm.swappiness=10", "--swappiness", "20"), "given twice"),
        ((), "nothing to apply"),
    ],
)
def test_bad_values(root: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], expected: str) -> None:
    err = _refused(root, capsys, *args)
    assert expected in err


def test_missing_root_and_bundle_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "apply", "--root", str(tmp_path / "absent"), "--min-free-kbytes", "1", "--yes")
    assert code == 2
    assert "no such directory" in err
    bundle = tmp_path / "x.tar.gz"
    bundle.write_bytes(b"")
    code, _, err = _run(capsys, "apply", "--root", str(bundle), "--min-free-kbytes", "1", "--yes")
    assert code == 2
    assert "needs a directory root" in err


def test_recommended_when_nothing_needs_changing_is_a_clear_error(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = tree_state(root)
    code, _out, err = _run(capsys, "apply", "--root", str(root), "--min-free-kbytes", "recommended", "--dry-run")
    assert code == 2
    assert "recommended: nothing to change" in err
    assert tree_state(root) == before


def test_recommended_uses_minfree_recommend(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The classic RHEL7 scenario (a sosreport: values from sysctl -a, no runtime)."""
    import shutil

    from conftest import FIXTURES
    from minfree.analysis.findings import evaluate
    from minfree.outputs.doctor_json import diagnose_root
    from minfree.recommend import recommend

    root = tmp_path / "classic"
    shutil.copytree(FIXTURES / "scenarios/classic-rhel7-aerospike", root, symlinks=True)
    for dirpath, _dirs, _files in os.walk(root):
        os.chmod(dirpath, 0o755)
    diagnosis = diagnose_root(str(root))
    expected = next(r.recommended for r in recommend(diagnosis, evaluate(diagnosis)).recommendations
                    if r.sysctl == MFK)
    code, out, _ = _run(capsys, "apply", "--root", str(root), "--min-free-kbytes", "recommended", "--dry-run")
    assert code == 0
    assert f"vm.min_free_kbytes: 67584 (captured) -> {expected} kB" in out
    assert "as recommended by `minfree recommend`" in out
    assert "warning (no-runtime)" in out


def test_a_later_exclusion_line_is_a_conflict_and_can_be_fixed(root: Path) -> None:
    (root / "etc/sysctl.d/zz-ops.conf").write_text("-vm.min_free_kbytes\n")
    plan = build_plan(root, {MFK: "90112"}, persist="sysctl.conf")
    [conflict] = [c for c in plan.persist.conflicts if c.tool == SYSTEMD]
    assert conflict.definition is not None
    assert conflict.definition.where == "/etc/sysctl.d/zz-ops.conf:1"
    assert "cancels the setting" in conflict.advice
    # sysctl.d mode simply sorts after it
    assert build_plan(root, {MFK: "90112"}).persist.target == "/etc/sysctl.d/zz-ops_zz-minfree.conf"
    fixed = build_plan(root, {MFK: "90112"}, persist="sysctl.conf", fix_conflicts=True)
    assert not fixed.persist.unresolved
    execute(fixed)
    assert resolve_boot_sysctl(collect_sysctl_config(root)).systemd.value(MFK) == "90112"


def test_applying_the_same_value_twice_does_nothing_the_second_time(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "apply", "--root", str(root), "--min-free-kbytes", "90112", "--yes")[0] == 0
    state = tree_state(root)
    code, out, _ = _run(capsys, "apply", "--root", str(root), "--min-free-kbytes", "90112", "--yes")
    assert code == 0
    assert "(already set; files only)" in out
    assert "Nothing to do" in out
    assert tree_state(root) == state  # no new journal entry either


@pytest.mark.parametrize(("main_conf", "expected"), [
    ("daemon = 1\nreapply_sysctl = 1\n", "the persisted value wins"),
    ("reapply_sysctl = 0\n", "tuned's profile value wins"),
])
def test_an_active_tuned_profile_is_named(root: Path, main_conf: str, expected: str) -> None:
    (root / "etc/tuned").mkdir()
    (root / "etc/tuned/active_profile").write_text("throughput-performance\n")
    (root / "etc/tuned/tuned-main.conf").write_text(main_conf)
    plan = build_plan(root, {MFK: "90112"})
    [caution] = [c for c in plan.cautions if c.rule == "tuned-active"]
    assert "'throughput-performance'" in caution.message
    assert expected in caution.message
