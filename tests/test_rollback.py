"""``minfree rollback`` and ``history``: byte-identical restores with mode and owner."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from minfree.apply.execute import execute
from minfree.apply.journal import Journal
from minfree.apply.plan import build_plan
from minfree.apply.rollback import rollback
from minfree.cli.main import main
from minfree.errors import MinfreeError, RefusedError, UsageError
from test_apply_roots import build_root, tree_state

MFK = "vm.min_free_kbytes"
JOURNAL = "var/lib/minfree"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return build_root(tmp_path)


def _without_journal(state: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in state.items() if not k.startswith("var")}


def test_rollback_restores_bytes_mode_owner_and_removes_created_files(root: Path) -> None:
    conf = root / "etc/sysctl.conf"
    with conf.open("a") as handle:
        handle.write("vm.min_free_kbytes = 45056\n")
    os.chmod(conf, 0o640)
    if os.geteuid() == 0:
        os.chown(conf, 1234, 2345)
    before = tree_state(root)
    plan = build_plan(root, {MFK: "90112", "vm.watermark_scale_factor": "30"}, fix_conflicts=True)
    execute(plan)
    # the edited file kept its mode and owner; a new file was created
    info = conf.stat()
    assert (info.st_mode & 0o777) == 0o640
    if os.geteuid() == 0:
        assert (info.st_uid, info.st_gid) == (1234, 2345)
    assert (root / "etc/sysctl.d/99-zz-minfree.conf").exists()
    assert (root / "proc/sys/vm/watermark_scale_factor").read_text() == "30\n"
    result = rollback(root)
    assert {a.path: a.action for a in result.files} == {
        "/etc/sysctl.conf": "restored", "/etc/sysctl.d/99-zz-minfree.conf": "removed"}
    assert _without_journal(tree_state(root)) == _without_journal(before)
    entry = Journal(root).get(plan.id)
    assert entry.state == "rolled-back"


def test_journal_records_originals_before_writing(root: Path) -> None:
    plan = build_plan(root, {MFK: "90112"}, persist="sysctl.conf")
    original = (root / "etc/sysctl.conf").read_bytes()
    execute(plan, command=("apply", "--min-free-kbytes", "90112"))
    folder = root / JOURNAL / "journal" / plan.id
    data = json.loads((folder / "entry.json").read_text())
    assert data["format"] == 1
    assert data["state"] == "applied"
    assert data["runtime"] == [{"key": MFK, "path": "/proc/sys/vm/min_free_kbytes",
                                "original": "67584", "new": "90112"}]
    [record] = data["files"]
    assert record["path"] == "/etc/sysctl.conf"
    assert record["existed"] is True
    assert (folder / record["backup"]).read_bytes() == original
    assert record["mode"] == 0o644
    assert data["command"] == ["apply", "--min-free-kbytes", "90112"]


def test_cli_history_and_rollback_by_id(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = tree_state(root)
    assert main(["apply", "--root", str(root), "--min-free-kbytes", "90112", "--yes"]) == 0
    assert main(["apply", "--root", str(root), "--swappiness", "10", "--yes"]) == 0
    capsys.readouterr()
    assert main(["history", "--root", str(root)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert all(" applied " in line for line in out)
    first_id, second_id = (line.split()[0] for line in out)
    assert "vm.min_free_kbytes 67584->90112" in out[0]
    # newest first: the older one is refused while the newer is applied
    assert main(["rollback", first_id, "--root", str(root)]) == 2
    assert "roll back newest first" in capsys.readouterr().err
    assert main(["rollback", "--last", "--root", str(root)]) == 0
    assert main(["rollback", first_id[:-2], "--root", str(root)]) == 0  # unique prefix
    assert _without_journal(tree_state(root)) == _without_journal(before)
    assert main(["rollback", "--root", str(root)]) == 2
    assert "already undone" in capsys.readouterr().err
    assert main(["history", "--root", str(root)]) == 0
    assert capsys.readouterr().out.count("rolled-back") == 2
    assert second_id != first_id


def test_rollback_refuses_when_the_file_changed_after_apply(root: Path) -> None:
    plan = build_plan(root, {MFK: "90112"})
    execute(plan)
    target = root / "etc/sysctl.d/99-zz-minfree.conf"
    target.write_text(target.read_text() + "vm.swappiness = 1\n")
    state = tree_state(root)
    with pytest.raises(RefusedError, match="changed after apply"):
        rollback(root)
    assert tree_state(root) == state  # nothing half-undone (runtime included)


def test_an_unreadable_key_is_refused_before_anything_is_written(root: Path) -> None:
    swappiness = root / "proc/sys/vm/swappiness"
    swappiness.unlink()
    swappiness.mkdir()
    (swappiness / "x").write_text("")
    plan_root_state = tree_state(root)
    with pytest.raises(UsageError, match="does not exist on this kernel"):
        build_plan(root, {MFK: "90112", "vm.swappiness": "10"})
    assert tree_state(root) == plan_root_state


def test_write_failure_after_journal_rolls_back_and_marks_failed(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = tree_state(root)
    plan = build_plan(root, {MFK: "90112", "vm.swappiness": "10"}, persist="sysctl.conf")
    import minfree.apply.execute as execute_mod

    real = execute_mod.write_value
    calls = []

    def failing(root_: Path, key: str, value: str, *, live: bool):  # type: ignore[no-untyped-def]
        calls.append(key)
        if key == "vm.swappiness":
            raise MinfreeError("simulated EINVAL from the kernel")
        return real(root_, key, value, live=live)

    monkeypatch.setattr(execute_mod, "write_value", failing)
    with pytest.raises(MinfreeError, match="simulated"):
        execute(plan)
    assert calls == [MFK, "vm.swappiness"]
    assert _without_journal(tree_state(root)) == _without_journal(before)
    entry = Journal(root).get(plan.id)
    assert entry.state == "failed"
    assert "undone after error" in entry.notes[-1]
    with pytest.raises(UsageError):
        rollback(root)


def test_rollback_without_journal_is_a_clear_error(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rollback", "--root", str(root)]) == 2
    assert "no apply recorded" in capsys.readouterr().err
    assert main(["rollback", "nope", "--root", str(root)]) == 2
    assert main(["history", "--root", str(root)]) == 0
    assert "No applies recorded." in capsys.readouterr().out


def test_missing_sysctl_d_folder_is_created_and_removed_by_rollback(tmp_path: Path) -> None:
    root = build_root(tmp_path, "issabel-el8-partial")  # a real RHEL8 etc/ with no sysctl.d
    before = tree_state(root)
    assert not (root / "etc/sysctl.d").exists()
    plan = build_plan(root, {MFK: "90112"})
    execute(plan)
    assert (root / "etc/sysctl.d/99-zz-minfree.conf").exists()
    assert Journal(root).get(plan.id).created_dirs == ("/etc/sysctl.d",)
    result = rollback(root)
    assert ("/etc/sysctl.d", "removed") in {(a.path, a.action) for a in result.files}
    assert _without_journal(tree_state(root)) == _without_journal(before)


def test_the_journal_keeps_the_value_found_at_apply_time_not_at_plan_time(root: Path) -> None:
    plan = build_plan(root, {MFK: "90112"}, persist="none")
    (root / "proc/sys/vm/min_free_kbytes").write_text("70000\n")  # khugepaged moved it meanwhile
    execute(plan)
    assert Journal(root).get(plan.id).runtime[0].original == "70000"
    rollback(root)
    assert (root / "proc/sys/vm/min_free_kbytes").read_text() == "70000\n"


def test_a_second_writer_is_refused_while_the_lock_is_held(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from minfree.apply.safe_write import ApplyLock

    before = tree_state(root)
    with ApplyLock(root / JOURNAL):
        assert main(["apply", "--root", str(root), "--min-free-kbytes", "90112", "--yes"]) == 2
        assert "another minfree apply or rollback holds" in capsys.readouterr().err
        assert main(["rollback", "--root", str(root)]) == 2
    assert _without_journal(tree_state(root)) == _without_journal(before)
    assert not (root / JOURNAL / "journal").exists()  # nothing was even journalled


def test_a_corrupt_journal_entry_is_reported_not_fatal(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = build_plan(root, {MFK: "90112"}, persist="none")
    execute(plan)
    bad = root / JOURNAL / "journal" / "20200101T000000Z-000000"
    bad.mkdir()
    (bad / "entry.json").write_text("{not json")
    (root / JOURNAL / "journal" / "20200101T000001Z-000001.partial").mkdir()
    assert main(["history", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert plan.id in out
    assert "unreadable entry" in out
    assert "interrupted before anything was changed" in out
    assert main(["rollback", "--root", str(root)]) == 0  # the good entry still rolls back
