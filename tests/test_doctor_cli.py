"""`minfree doctor` and `minfree recommend` as commands: golden output, this host, bad input.

Golden files live in tests/golden/doctor-*; regenerate them after a deliberate change with
``MINFREE_UPDATE_GOLDEN=1 pytest tests/test_doctor_cli.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest

from conftest import FIXTURES, REPO
from minfree import __version__
from minfree.cli.main import main

GOLDEN = REPO / "tests" / "golden"
SCENARIOS = FIXTURES / "scenarios"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def normalise(text: str) -> str:
    """Paths and the version differ between checkouts; nothing else may."""
    return text.replace(str(REPO), "<repo>").replace(f'"{__version__}"', '"<version>"')


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    text = normalise(text)
    if os.environ.get("MINFREE_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"missing golden file {path} (set MINFREE_UPDATE_GOLDEN=1)"
    assert text == path.read_text()


@pytest.mark.parametrize("scenario", ["classic-rhel7-aerospike", "kswapd-behind"])
def test_golden_text_and_json(capsys: pytest.CaptureFixture[str], scenario: str,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    # The text wraps at 100 columns, so the root's path must have the same length in every
    # checkout: a symlink in a directory whose name has a fixed length (mkdtemp's suffix).
    with tempfile.TemporaryDirectory(prefix="minfree-golden-", dir="/tmp") as tmp:
        root = os.path.join(tmp, scenario)
        os.symlink(SCENARIOS / scenario, root)

        def stable(text: str) -> str:
            return text.replace(tmp, "<root>")

        code, out, err = run_cli(capsys, "doctor", "--root", root)
        assert code == 0, err
        check_golden(f"doctor-{scenario}.txt", stable(out))
        code, out, err = run_cli(capsys, "doctor", "--root", root, "--json")
        assert code == 0, err
        doc = json.loads(out)
        assert doc["schema"] == "minfree.doctor/1"
        check_golden(f"doctor-{scenario}.json", stable(out))


def test_doctor_text_order(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "doctor", "--root", str(SCENARIOS / "classic-rhel7-aerospike"))
    assert code == 0
    first = out.splitlines()[0]
    assert first.strip().startswith("FAILING")
    positions = [out.index(h) for h in ("Page allocation failures", "Memory", "Findings",
                                        "Recommendations", "minfree apply")]
    assert positions == sorted(positions)


def test_doctor_check_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run_cli(capsys, "doctor", "--root", str(SCENARIOS / "healthy"), "--check")
    assert code == 0
    code, _, _ = run_cli(capsys, "doctor", "--root", str(SCENARIOS / "kswapd-behind"), "--check")
    assert code == 1


@pytest.mark.parametrize(("scenario", "mode"), [("classic-rhel7-aerospike", "w:gz"),
                                              ("boot-override", "w:xz")])
def test_doctor_on_a_tarball_bundle(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                    scenario: str, mode: str) -> None:
    """A bundle read in place gives the same findings as the unpacked directory."""
    bundle = tmp_path / f"sosreport-host.tar.{mode[2:]}"
    with tarfile.open(bundle, mode) as tar:
        tar.add(SCENARIOS / scenario, arcname="sosreport-host")
    code, out, err = run_cli(capsys, "doctor", "--root", str(bundle), "--json")
    assert code == 0, err
    from_tar = json.loads(out)
    code, out, err = run_cli(capsys, "doctor", "--root", str(SCENARIOS / scenario), "--json")
    from_dir = json.loads(out)
    assert from_tar["verdict"] == from_dir["verdict"]
    assert [f["params"] for f in from_tar["findings"]] == [f["params"] for f in from_dir["findings"]]
    assert from_tar["recommendations"] == from_dir["recommendations"]


def test_vmstat_second_hook(capsys: pytest.CaptureFixture[str]) -> None:
    root = SCENARIOS / "kswapd-behind"
    code, out, err = run_cli(capsys, "doctor", "--root", str(SCENARIOS / "classic-rhel7-aerospike"),
                             "--vmstat-second", str(root / "proc" / "vmstat.2"),
                             "--interval", "10", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert "KSWAPD_FALLING_BEHIND" in {f["key"] for f in doc["findings"]}


def test_aerospike_conf_sizes_the_rule(capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    conf = tmp_path / "aerospike.conf"
    conf.write_text("namespace users {\n  index-type shmem\n  index-stage-size 2G\n}\n"
                    "namespace big {\n  index-type flash {\n    mount /mnt/i\n  }\n"
                    "  index-stage-size 8G\n}\n")
    code, out, err = run_cli(capsys, "recommend", "--root", str(SCENARIOS / "healthy"),
                             "--profile", "aerospike", "--aerospike-conf", str(conf), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["candidates"]["aerospike"] == 2 * 1024 * 1024 + 102_400
    r = next(r for r in doc["recommendations"] if r["sysctl"] == "vm.min_free_kbytes")
    assert r["recommended"] == str(int(24_684_092 * 0.05))  # capped at 5% of 24 GiB
    code, out, err = run_cli(capsys, "recommend", "--root", str(SCENARIOS / "healthy"),
                             "--profile", "aerospike", "--aerospike-conf", str(conf), "--json",
                             "--allow-high")
    doc = json.loads(out)
    r = next(r for r in doc["recommendations"] if r["sysctl"] == "vm.min_free_kbytes")
    assert r["recommended"] == str(2 * 1024 * 1024 + 102_400)  # 8.9%: allowed up to 10%
    assert doc["apply_command"].endswith("--allow-high")


def test_recommend_text_lists_every_rule(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "recommend", "--root", str(SCENARIOS / "classic-rhel7-aerospike"))
    assert code == 0
    for rule in ("kernel_default", "thp", "atomic_burst", "aerospike", "oracle",
                 "failure_deficit"):
        assert rule in out
    assert "Chosen: at least" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["doctor", "--root", "/nonexistent/minfree-root"], "no such file"),
    (["doctor", "--interval", "-1"], "--interval"),
    (["recommend", "--root", "{scenario}", "--aerospike-conf", "/nonexistent/as.conf"],
     "cannot read"),
    (["doctor", "--root", "{scenario}", "--logs", "/nonexistent/kern.log"], "kern.log"),
])
def test_bad_input_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str],
                                          message: str) -> None:
    argv = [a.replace("{scenario}", str(SCENARIOS / "healthy")) for a in argv]
    code, _out, err = run_cli(capsys, *argv)
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert message in err


def test_garbage_aerospike_conf_and_bundle(capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    conf = tmp_path / "aerospike.conf"
    conf.write_text("namespace x {\n index-stage-size lots\n}\n")
    code, _, err = run_cli(capsys, "doctor", "--root", str(SCENARIOS / "healthy"),
                           "--aerospike-conf", str(conf))
    assert code == 2
    assert "aerospike.conf" in err
    bogus = tmp_path / "bundle.tar.gz"
    bogus.write_bytes(b"\x1f\x8b not really gzip")
    code, _, err = run_cli(capsys, "doctor", "--root", str(bogus))
    assert code == 2
    assert len(err.strip().splitlines()) == 1


def test_partial_bundle_lists_what_is_missing(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "doctor", "--root",
                             str(FIXTURES / "roots" / "issabel-el8-partial"), "--json")
    assert code == 0, err
    doc = json.loads(out)
    missing = {m["what"] for m in doc["missing"]}
    assert "proc/meminfo" in missing
    assert "reclaim rates" in missing or "proc/buddyinfo" in missing


def test_doctor_on_this_host() -> None:
    """The README's first command: it must run and exit 0 on the machine the tests run on."""
    proc = subprocess.run([sys.executable, "-m", "minfree", "doctor", "--interval", "0.3"],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[0] in ("HEALTHY", "AT", "FAILING")
    proc = subprocess.run([sys.executable, "-m", "minfree", "doctor", "--interval", "0", "--json"],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["verdict"]["status"] in ("healthy", "at risk", "failing")
    assert doc["memory"]["zones"], "this host has /proc/zoneinfo"


@pytest.mark.parametrize("root", sorted(p.name for p in (FIXTURES / "roots").iterdir()
                                        if p.is_dir()))
def test_every_fixture_root_gets_a_diagnosis(root: str) -> None:
    """Old kernels, containers, partial captures, 32-bit highmem: never a crash."""
    from minfree.outputs.doctor_json import run_doctor
    from minfree.outputs.doctor_text import render_doctor_text, render_recommend_text

    doc = run_doctor(str(FIXTURES / "roots" / root))
    assert doc["verdict"]["status"] in ("healthy", "at risk", "failing")
    json.dumps(doc)
    assert render_doctor_text(doc).startswith(" ")
    assert "min_free_kbytes for" in render_recommend_text(doc)


@pytest.mark.slow
def test_simulate_adds_the_simulated_candidate(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "recommend", "--simulate", "--json", "--root",
                             str(SCENARIOS / "classic-rhel7-aerospike"))
    assert code == 0, err
    doc = json.loads(out)
    detail = next(c for c in doc["candidate_details"] if c["rule"] == "simulated")
    assert doc["candidates"]["simulated"] == detail["kb"]
    assert detail["inputs"]["assumptions"], "the simulator lists what it assumed"
    if detail["kb"] is not None:
        assert detail["supported"]
        assert doc["chosen"]["min_free_kbytes"] >= min(detail["kb"], doc["chosen"]["cap_kb"])
