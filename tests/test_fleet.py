"""``minfree fleet``: discovery, error rows, summary, outputs, and generated fleets on Dask."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import FIXTURES, REPO

SCENARIOS = FIXTURES / "scenarios"
VENV_BIN = Path(sys.executable).parent


def minfree(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    return subprocess.run([sys.executable, "-m", "minfree", *args], capture_output=True,
                          text=True, env=env, timeout=timeout)


def make_fleet(out: Path, count: int, seed: int = 1) -> dict:
    result = subprocess.run([sys.executable, str(REPO / "tools" / "make_fleet.py"), str(out),
                             "--count", str(count), "--seed", str(seed)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads((out / "manifest.json").read_text())


def check_against_manifest(doc: dict, manifest: dict) -> None:
    """Every host's row and the summary agree with what the generator planted."""
    rows = {r["host"]: r for r in doc["hosts"]}
    assert len(doc["hosts"]) == len(manifest["bundles"]) == len(rows)
    for bundle in manifest["bundles"]:
        row = rows[bundle["host"]]
        expect = bundle["expect"]
        assert bool(row["error"]) == expect["error"], (bundle, row)
        assert os.path.realpath(row["path"]) == os.path.realpath(bundle["path"])
        if expect["error"]:
            assert row["verdict"] is None
            continue
        assert row["min_free_kbytes"] == expect["min_free_kbytes"], bundle["host"]
        assert row["failures"]["total"] == expect["failures_total"], bundle["host"]
        assert row["failures"]["by_order"] == expect["failures_by_order"], bundle["host"]
        assert (row["verdict"] == "failing") == expect["verdict_failing"], (bundle, row)
        if expect["verdict_failing"]:
            assert "PAGE_ALLOCATION_FAILURES" in row["findings"]
    s, m = doc["summary"], manifest["summary"]
    assert s["hosts"] == m["hosts"]
    assert s["errors"] == m["errors"]
    assert s["error_hosts"] == m["error_hosts"]
    assert s["failing"] == m["failing"]
    assert s["failures_by_order"] == m["failures_by_order"]
    assert s["failures_total"] == m["failures_total"]
    assert s["failing"] + s["at_risk"] + s["healthy"] + s["errors"] == s["hosts"]
    for key, majority in m["majority"].items():
        assert s["settings"][key]["majority"] == majority, key
        deviants = sorted(d["host"] for d in s["settings"][key]["deviants"])
        assert deviants == m["deviants"].get(key, []), key
    planted = sorted({h for hosts in m["deviants"].values() for h in hosts})
    assert s["hosts_with_differing_settings"] == planted


# -- a generated fleet of 1,000 bundles -------------------------------------------------------

@pytest.fixture(scope="module")
def big_fleet(tmp_path_factory):
    out = tmp_path_factory.mktemp("fleet") / "bundles"
    return out, make_fleet(out, 1000, seed=7)


@pytest.mark.slow
def test_thousand_bundles_on_two_local_workers_match_the_manifest(big_fleet, tmp_path):
    out, manifest = big_fleet
    assert manifest["summary"]["failing"] > 100  # the generator planted plenty
    assert manifest["summary"]["errors"] >= 4
    assert len({b["template"] for b in manifest["bundles"]}) >= 10  # varied hosts
    assert {b["layout"] for b in manifest["bundles"]} >= {"folder", "tar.gz", "sosreport"}
    page = tmp_path / "fleet.html"
    result = minfree("fleet", str(out), "--workers", "2", "--json", "--html", str(page))
    assert result.returncode == 0, result.stderr[-3000:]
    doc = json.loads(result.stdout)
    assert doc["schema"] == "minfree.fleet/1"
    check_against_manifest(doc, manifest)
    html = page.read_text()
    assert f'data-key="fleet-failing" data-value="{manifest["summary"]["failing"]}"' in html
    assert html.count("<tr data-host=") == 1000


# -- a real distributed run ---------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.peer
def test_dask_scheduler_and_two_workers_give_the_local_result(tmp_path):
    out = tmp_path / "bundles"
    manifest = make_fleet(out, 120, seed=3)
    dask = shutil.which("dask", path=str(VENV_BIN)) or str(VENV_BIN / "dask")
    assert os.path.exists(dask), "the venv has no dask command"
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    logs = tmp_path / "logs"
    logs.mkdir()
    started: list[subprocess.Popen] = []
    try:
        started.append(subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            stdout=subprocess.DEVNULL, stderr=(logs / "scheduler.log").open("w"), env=env))
        for n in range(2):
            started.append(subprocess.Popen(
                [dask, "worker", address, "--nworkers", "1", "--nthreads", "1",
                 "--no-dashboard", "--name", f"w{n}", "--local-directory", str(tmp_path)],
                stdout=subprocess.DEVNULL, stderr=(logs / f"worker{n}.log").open("w"),
                env=env))
        from dask.distributed import Client

        deadline = time.monotonic() + 120
        client = None
        while client is None:
            try:
                client = Client(address, timeout=5)
            except OSError:
                assert time.monotonic() < deadline, (logs / "scheduler.log").read_text()
                time.sleep(0.5)
        try:
            client.wait_for_workers(2, timeout=120)
            remote = minfree("fleet", str(out), "--scheduler", address, "--json")
            assert remote.returncode == 0, remote.stderr[-3000:]

            def prefixes(dask_scheduler=None):
                return {name: dict(p.all_durations) for name, p in
                        dask_scheduler.task_prefixes.items()}

            ran = client.run_on_scheduler(prefixes)
            assert "doctor_rows" in ran  # the work went through this scheduler
            assert sum(ran["doctor_rows"].values()) > 0
            workers = client.scheduler_info()["workers"]
            assert len(workers) == 2
        finally:
            client.close()
        local = minfree("fleet", str(out), "--workers", "0", "--json")
        assert local.returncode == 0, local.stderr[-3000:]
        remote_doc, local_doc = json.loads(remote.stdout), json.loads(local.stdout)
        assert remote_doc["hosts"] == local_doc["hosts"]
        assert remote_doc["summary"] == local_doc["summary"]
        check_against_manifest(remote_doc, manifest)
    finally:
        for process in reversed(started):
            process.terminate()
        for process in reversed(started):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


# -- unreadable bundles -------------------------------------------------------------------------

def test_unreadable_bundles_are_rows_with_errors(tmp_path):
    fleet = tmp_path / "fleet"
    fleet.mkdir()
    shutil.copytree(SCENARIOS / "classic-rhel7-aerospike", fleet / "good",
                    ignore=shutil.ignore_patterns("SCENARIO.md"))
    (fleet / "garbage.tar.gz").write_bytes(os.urandom(2048))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(SCENARIOS / "healthy", arcname="cut")
    (fleet / "cut.tar.gz").write_bytes(buffer.getvalue()[:1500])
    (fleet / "empty").mkdir()
    (fleet / "notes.txt").write_text("not a bundle, skipped inside a folder")
    loose = tmp_path / "loose.txt"
    loose.write_text("x")
    result = minfree("fleet", str(fleet), str(tmp_path / "missing"), str(loose), "--workers",
                     "0", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    rows = {r["host"]: r for r in doc["hosts"]}
    assert set(rows) == {"good", "garbage", "cut", "empty", "missing", "loose.txt"}
    assert rows["good"]["error"] is None
    assert rows["good"]["verdict"] == "failing"
    for name in ("garbage", "cut", "empty", "missing", "loose.txt"):
        assert rows[name]["error"], name
        assert rows[name]["verdict"] is None
        assert "\n" not in rows[name]["error"]
    assert doc["summary"]["errors"] == 5
    assert doc["summary"]["failing"] == 1


def test_text_and_csv_outputs(tmp_path):
    result = minfree("fleet", str(SCENARIOS / "healthy"), str(SCENARIOS / "reserve-too-high"),
                     str(SCENARIOS / "classic-rhel7-aerospike"), "--workers", "0", "--csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["host"] for r in rows] == ["healthy", "reserve-too-high",
                                         "classic-rhel7-aerospike"]
    doctor = json.loads(minfree("doctor", "--root", str(SCENARIOS / "classic-rhel7-aerospike"),
                                "--json").stdout)
    classic = rows[2]
    assert classic["verdict"] == doctor["verdict"]["status"]
    assert classic["min_free_kbytes"] == doctor["settings"]["vm.min_free_kbytes"]
    assert classic["recommended_min_free_kbytes"] == doctor["recommendations"][0]["recommended"]
    assert classic["failures_total"] == str(sum(g["count"] for g in doctor["failures"]))
    text = minfree("fleet", str(SCENARIOS / "healthy"), str(SCENARIOS / "classic-rhel7-aerospike"),
                   "--workers", "0")
    assert text.returncode == 0
    assert "Fleet: 2 hosts: 1 failing, 0 at risk, 1 healthy, 0 unreadable" in text.stdout


def test_fleet_rows_equal_the_doctor_document():
    from minfree.fleet.worker import doctor_row, row_from_document
    from minfree.outputs.doctor_json import run_doctor

    for name in ("classic-rhel7-aerospike", "fragmented-high-order", "reserve-too-high"):
        path = str(SCENARIOS / name)
        row = doctor_row(path, name)
        assert row == row_from_document(path, name, run_doctor(path, interval_s=None))


def test_sosreport_hostname_and_tarball_discovery(tmp_path):
    from minfree.fleet.discover import discover_bundles
    from minfree.fleet.worker import doctor_row

    sos = tmp_path / "sosreport-db7-2024-05-01"
    shutil.copytree(SCENARIOS / "healthy", sos)
    (sos / "hostname").write_text("db7.example.net\n")
    tarball = tmp_path / "web3.tgz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(SCENARIOS / "reserve-too-high", arcname="web3")
    found = discover_bundles([str(tmp_path)])
    assert [(b.name, b.error) for b in found] == [("sosreport-db7-2024-05-01", None),
                                                   ("web3", None)]
    assert discover_bundles([str(sos)]) == [found[0]]  # a root itself is one bundle
    assert doctor_row(str(sos), found[0].name)["host"] == "db7.example.net"
    row = doctor_row(str(tarball), "web3")
    assert row["error"] is None
    assert row["min_free_kbytes"] == 2457600


@pytest.mark.parametrize("args", [
    ["--workers", "-1"],
    ["--workers", "0", "--scheduler", "tcp://127.0.0.1:8786"],
    ["--scheduler", "127.0.0.1:8786"],
    ["--batch-size", "0"],
    ["--json", "--csv"],
    ["--html", "/nonexistent-dir/f.html"],
])
def test_bad_arguments_exit_2(args):
    result = minfree("fleet", str(SCENARIOS / "healthy"), *args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_unreachable_scheduler_is_one_line_exit_2():
    result = minfree("fleet", str(SCENARIOS / "healthy"), "--scheduler",
                     f"tcp://127.0.0.1:{_free_port()}", timeout=120)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "scheduler" in result.stderr


# -- the summary --------------------------------------------------------------------------------

row_strategy = st.fixed_dictionaries({
    "host": st.text("abcdefgh", min_size=1, max_size=6),
    "verdict": st.sampled_from(["healthy", "at risk", "failing"]),
    "error": st.one_of(st.none(), st.just("broken")),
    "min_free_kbytes": st.one_of(st.none(), st.integers(1, 10**7)),
    "target_min_free_kbytes": st.one_of(st.none(), st.integers(1, 10**7)),
    "recommended_min_free_kbytes": st.one_of(st.none(), st.integers(1, 10**7)),
    "failures": st.fixed_dictionaries({"total": st.integers(0, 5),
                                       "by_order": st.dictionaries(
                                           st.sampled_from(["0", "1", "3", "9"]),
                                           st.integers(1, 5), max_size=2)}),
    "settings": st.fixed_dictionaries({"vm.swappiness": st.sampled_from(["60", "1", None]),
                                       "thp_enabled": st.sampled_from(["madvise", "always"])}),
})


@settings(max_examples=80, deadline=None)
@given(st.lists(row_strategy, max_size=40))
def test_summary_invariants(rows):
    from minfree.analysis.fleet_summary import summarize

    s = summarize(rows)
    assert s["hosts"] == len(rows)
    assert s["failing"] + s["at_risk"] + s["healthy"] + s["errors"] == len(rows)
    spread = s["reserve_to_target_ratio"]
    if spread["hosts"]:
        assert spread["min"] <= spread["p10"] <= spread["median"] <= spread["p90"] <= spread["max"]
    for key, info in s["settings"].items():
        known = [r for r in rows if not r["error"] and r["settings"].get(key) is not None]
        assert info["hosts_known"] == len(known)
        assert info["hosts_with_majority"] == max(
            sum(1 for r in known if r["settings"][key] == v) for v in info["values"])
        assert len(info["deviants"]) == info["hosts_known"] - info["hosts_with_majority"]
    assert s["below_target"] == sum(
        1 for r in rows if not r["error"] and r["min_free_kbytes"] is not None
        and r["target_min_free_kbytes"] and r["min_free_kbytes"] < r["target_min_free_kbytes"])


def test_progress_bar_on_request_and_quiet_on_pipes():
    paths = [str(SCENARIOS / "healthy"), str(SCENARIOS / "classic-rhel7-aerospike")]
    shown = minfree("fleet", *paths, "--workers", "0", "--progress", "always", "--json")
    assert shown.returncode == 0
    assert "doctor" in shown.stderr
    assert "2/2" in shown.stderr
    json.loads(shown.stdout)  # the bar never mixes into stdout
    quiet = minfree("fleet", *paths, "--workers", "0", "--json")
    assert quiet.stderr == ""


def test_folder_per_host_with_proc_captures_and_loose_logs(tmp_path):
    """One folder per host: /proc captures in proc/ and the kernel log next to them."""
    host = tmp_path / "fleet" / "cache7"
    (host / "proc").mkdir(parents=True)
    for name in ("meminfo", "zoneinfo", "buddyinfo", "vmstat"):
        shutil.copy(SCENARIOS / "healthy" / "proc" / name, host / "proc" / name)
    (host / "proc/sys/vm").mkdir(parents=True)
    (host / "proc/sys/vm/min_free_kbytes").write_text("45056\n")
    shutil.copy(FIXTURES / "kernel-logs/reports/056.log", host / "kern.log")  # 5 x order 3
    result = minfree("fleet", str(tmp_path / "fleet"), "--workers", "0", "--json")
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)["hosts"]
    assert row["host"] == "cache7"
    assert row["min_free_kbytes"] == 45056
    assert row["failures"] == {"total": 5, "by_order": {"3": 5}}
    assert row["verdict"] == "failing"
