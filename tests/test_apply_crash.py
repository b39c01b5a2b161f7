"""Crash safety: ``minfree apply`` killed with SIGKILL at >= 200 points, then ``rollback``.

Each run copies a template root (real fixture sysctl stack + Firecracker /proc capture), forks
a child that runs the real CLI entry point (``minfree.cli.main.main``), and kills it either at
checkpoint N (``MINFREE_TEST_KILL_AT_STEP``, the kill comes from inside, between two steps)
or after a random delay (the kill comes from outside, at any instruction). Afterwards:

- every file is whole: its bytes are the original ones or exactly the planned new ones
  (the journal's ``new_sha256``), never a mix, and no leftover ends in ``.conf``;
- every runtime value is the old or the new one;
- ``rollback`` restores the original tree byte for byte (mode and owner included), or there
  is no journal entry and nothing was changed.

A few runs go through a real ``python -m minfree`` subprocess to show the hook works there.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from minfree.apply import safe_write
from minfree.apply.journal import Journal
from minfree.apply.rollback import rollback
from minfree.cli.main import main
from minfree.errors import UsageError
from test_apply_roots import build_root, tree_state

pytestmark = pytest.mark.slow

SCENARIOS = {
    # creates /etc/sysctl.d/99-zz-minfree.conf, comments out a line of /etc/sysctl.conf
    "sysctl.d": ["--min-free-kbytes", "90112", "--watermark-scale-factor", "40",
                 "--fix-conflicts", "--yes"],
    # edits /etc/sysctl.conf and comments out a later-sorting sysctl.d file's line
    "sysctl.conf": ["--min-free-kbytes", "90112", "--swappiness", "10", "--persist",
                    "sysctl.conf", "--fix-conflicts", "--yes"],
}
RUNTIME_NEW = {"sysctl.d": {"min_free_kbytes": "90112", "watermark_scale_factor": "40"},
               "sysctl.conf": {"min_free_kbytes": "90112", "swappiness": "10"}}


def _template(tmp_path: Path) -> Path:
    root = build_root(tmp_path, name="template")
    with (root / "etc/sysctl.conf").open("a") as handle:
        handle.write("vm.min_free_kbytes = 45056\n")
    (root / "etc/sysctl.d/99-zz-tuning.conf").write_text("vm.min_free_kbytes = 22528\n")
    os.chmod(root / "etc/sysctl.conf", 0o640)
    return root


def _fresh(template: Path, target: Path) -> Path:
    shutil.copytree(template, target, symlinks=True)
    return target


def _fork_apply(root: Path, scenario: str, *, kill_step: int | None, delay: float | None) -> int:
    argv = ["apply", "--root", str(root), *SCENARIOS[scenario]]
    pid = os.fork()
    if pid == 0:  # child: the real CLI, output discarded
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            safe_write._step = 0
            if kill_step is not None:
                os.environ["MINFREE_TEST_KILL_AT_STEP"] = str(kill_step)
            code = main(argv)
        except BaseException:
            code = 99
        os._exit(code)
    if delay is not None:
        time.sleep(delay)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    return status


def _sha(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def _check_whole_then_rollback(template: Path, root: Path, scenario: str) -> str:
    """Assert the crash invariants; returns what the rollback found ("none", "rolled-back")."""
    original = tree_state(template)
    journal = Journal(root)
    entries = journal.entries()
    assert len(entries) <= 1
    for _dirpath, _dirs, files in os.walk(root / "etc"):
        for name in files:
            assert not (".minfree-tmp-" in name and name.endswith(".conf")), name
    planned = {r.path: r for r in entries[0].files} if entries else {}
    for rel in ("etc/sysctl.conf", "etc/sysctl.d/99-zz-tuning.conf", "etc/sysctl.d/99-zz-minfree.conf"):
        now = _sha(root / rel)
        old = _sha(template / rel)
        record = planned.get("/" + rel)
        allowed = {old} | ({record.new_sha256} if record else set())
        assert now in allowed, f"{rel} is neither old nor new"
    for key, new in RUNTIME_NEW[scenario].items():
        value = (root / "proc/sys/vm" / key).read_text()
        old = (template / "proc/sys/vm" / key).read_text()
        assert value in (old, f"{new}\n"), f"{key} torn: {value!r}"
    try:
        rollback(root)
        outcome = "rolled-back"
    except UsageError:
        outcome = "none"  # killed before the journal entry was published: nothing changed
    after = {k: v for k, v in tree_state(root).items() if not k.startswith("var")}
    before = {k: v for k, v in original.items() if not k.startswith("var")}
    assert after == before
    return outcome


def _steps(template: Path, tmp_path: Path, scenario: str) -> int:
    root = _fresh(template, tmp_path / f"count-{scenario}")
    status = _fork_apply(root, scenario, kill_step=10_000, delay=None)
    assert os.WIFEXITED(status)
    assert os.WEXITSTATUS(status) == 0
    # count in-process on another copy (the child cannot report its counter)
    root2 = _fresh(template, tmp_path / f"count2-{scenario}")
    safe_write._step = 0
    devnull = open(os.devnull, "w")  # noqa: SIM115 - closed below
    stdout = sys.stdout
    sys.stdout = devnull
    try:
        assert main(["apply", "--root", str(root2), *SCENARIOS[scenario]]) == 0
    finally:
        sys.stdout = stdout
        devnull.close()
    return safe_write.steps_taken()


@pytest.fixture
def fast_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder on tmpfs when there is one: fsync is free there, so 240 applies take seconds.

    Kill-safety does not depend on the disk (a killed process's completed writes are in the
    page cache either way); the fsyncs themselves are exercised by the other tests on disk.
    """
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(prefix="minfree-crash-", dir=shm))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _apply_seconds(template: Path, tmp_path: Path, scenario: str) -> float:
    """The shortest of three complete forked applies (what a random kill must land within)."""
    times: list[float] = []
    for attempt in range(3):
        root = _fresh(template, tmp_path / f"timing-{scenario}-{attempt}")
        start = time.perf_counter()
        status = _fork_apply(root, scenario, kill_step=None, delay=None)
        times.append(time.perf_counter() - start)
        assert os.WIFEXITED(status)
        assert os.WEXITSTATUS(status) == 0
        shutil.rmtree(root)
    return min(times)


def test_sigkill_at_every_step_and_at_random_moments(fast_dir: Path) -> None:
    tmp_path = fast_dir
    template = _template(tmp_path)
    rng = random.Random(20261129)
    runs = 0
    outcomes: dict[str, int] = {}
    killed = 0
    for scenario in SCENARIOS:
        steps = _steps(template, tmp_path, scenario)
        assert steps >= 30, steps
        # every checkpoint, from inside
        for step in range(1, steps + 1):
            root = _fresh(template, tmp_path / f"{scenario}-step-{step}")
            status = _fork_apply(root, scenario, kill_step=step, delay=None)
            assert os.WIFSIGNALED(status), step
            assert os.WTERMSIG(status) == signal.SIGKILL, step
            killed += 1
            outcome = _check_whole_then_rollback(template, root, scenario)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            shutil.rmtree(root)
            runs += 1
    # random moments, from outside: the delay spans the whole apply, measured here (a fixed
    # bound would miss a faster apply and kill nothing)
    duration = {scenario: _apply_seconds(template, tmp_path, scenario) for scenario in SCENARIOS}
    # A random delay can land after a (fast) apply finished and kill nothing, so run until at
    # least 200 runs killed a process (every checkpoint kill above counts), within a bound.
    while (runs < 240 or killed < 200) and runs < 600:
        scenario = rng.choice(list(SCENARIOS))
        root = _fresh(template, tmp_path / f"random-{runs}")
        delay = rng.uniform(0.0, 0.9 * duration[scenario])
        status = _fork_apply(root, scenario, kill_step=None, delay=delay)
        killed += os.WIFSIGNALED(status)
        outcome = _check_whole_then_rollback(template, root, scenario)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        shutil.rmtree(root)
        runs += 1
    assert runs >= 200
    assert killed >= 200
    # both sides of the journal boundary were hit
    assert outcomes.get("none", 0) > 0
    assert outcomes.get("rolled-back", 0) > 0


def test_kill_hook_in_a_real_subprocess(tmp_path: Path) -> None:
    template = _template(tmp_path)
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parent.parent / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    for step in (3, 25):
        root = _fresh(template, tmp_path / f"sub-{step}")
        env["MINFREE_TEST_KILL_AT_STEP"] = str(step)
        done = subprocess.run([sys.executable, "-m", "minfree", "apply", "--root", str(root),
                               *SCENARIOS["sysctl.conf"]], env=env, capture_output=True)
        assert done.returncode == -signal.SIGKILL, done.stderr
        _check_whole_then_rollback(template, root, "sysctl.conf")
    # without the variable the same command completes: the hook changes nothing else
    env.pop("MINFREE_TEST_KILL_AT_STEP")
    root = _fresh(template, tmp_path / "sub-full")
    done = subprocess.run([sys.executable, "-m", "minfree", "apply", "--root", str(root),
                           *SCENARIOS["sysctl.conf"]], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Applied " in done.stdout


def _fork_rollback(root: Path, kill_step: int) -> int:
    pid = os.fork()
    if pid == 0:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            safe_write._step = 0
            os.environ["MINFREE_TEST_KILL_AT_STEP"] = str(kill_step)
            code = main(["rollback", "--root", str(root)])
        except BaseException:
            code = 99
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return status


def _quiet_apply(root: Path, scenario: str) -> None:
    devnull = open(os.devnull, "w")  # noqa: SIM115 - closed below
    stdout, sys.stdout = sys.stdout, devnull
    try:
        assert main(["apply", "--root", str(root), *SCENARIOS[scenario]]) == 0
    finally:
        sys.stdout = stdout
        devnull.close()


def test_sigkill_during_rollback_then_rollback_again(fast_dir: Path) -> None:
    template = _template(fast_dir)
    original = {k: v for k, v in tree_state(template).items() if not k.startswith("var")}
    counted = _fresh(template, fast_dir / "count")
    _quiet_apply(counted, "sysctl.d")
    safe_write._step = 0
    rollback(counted)
    steps = safe_write.steps_taken()
    assert steps >= 15
    for step in range(1, steps + 1):
        root = _fresh(template, fast_dir / f"rb-{step}")
        _quiet_apply(root, "sysctl.d")
        entry = Journal(root).entries()[0]
        status = _fork_rollback(root, step)
        assert os.WIFSIGNALED(status), step
        for record in entry.files:  # each file: the apply's version or the original
            now = _sha(root / record.path.lstrip("/"))
            assert now in {record.sha256, record.new_sha256}, (step, record.path)
        # run again after the crash; UsageError: killed after the entry was marked rolled
        # back, so nothing is left to do
        with contextlib.suppress(UsageError):
            rollback(root)
        after = {k: v for k, v in tree_state(root).items() if not k.startswith("var")}
        assert after == original, step
        shutil.rmtree(root)
