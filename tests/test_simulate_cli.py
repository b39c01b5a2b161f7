"""``minfree simulate`` end to end: options, JSON shape, plots, emitted logs, bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import FIXTURES, REPO
from minfree.cli.main import main


def _json(capsys, *argv: str) -> dict:
    assert main(["simulate", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_one_run_json_has_the_documented_fields(capsys):
    doc = _json(capsys, "--engine", "fast", "--duration", "4")
    assert doc["scenario"] == "aerospike-classic"
    assert doc["engine"] == "fast"
    run = doc["runs"][0]
    for key in ("min_free_kbytes", "seed", "atomic_failures", "failures_by_order",
                "first_failure_s", "direct_reclaim_stalls", "stall_seconds",
                "lowest_free_pages"):
        assert key in run
    # without --min-free-kbytes the run uses the host kernel's default
    assert run["min_free_kbytes"] == doc["default_min_free_kbytes"]
    assert run["atomic_failures"] > 0
    assert set(run["failures_by_order"]) <= {"0", "1"}
    assert "Node 0 Normal" in run["lowest_free_pages"]


def test_sweep_json_names_the_smallest_safe_value(capsys):
    doc = _json(capsys, "--sweep", "32M:512M:5", "--seeds", "2", "--duration", "8")
    assert doc["engine"] == "fast"
    assert len(doc["runs"]) == 10
    safe = doc["safe_min_free_kbytes"]
    assert safe is not None
    for run in doc["runs"]:
        if run["min_free_kbytes"] >= safe:
            assert run["atomic_failures"] == 0
    assert any(r["atomic_failures"] > 0 for r in doc["runs"] if r["min_free_kbytes"] < safe)


def test_sweep_with_nothing_safe_says_null(capsys):
    doc = _json(capsys, "--sweep", "1000:4000:2", "--duration", "3", "--seeds", "1")
    assert doc["safe_min_free_kbytes"] is None


def test_text_output_and_plots_and_emitted_log(tmp_path, capsys):
    png = tmp_path / "run.png"
    log = tmp_path / "kern.log"
    assert main(["simulate", "--engine", "fast", "--duration", "6", "--plot", str(png),
                 "--emit-log", str(log)]) == 0
    out = capsys.readouterr().out
    assert "atomic allocation failures:" in out
    assert "kernel's default" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = log.read_text()
    assert "asd: page allocation failure: order:0, mode:0xa20(GFP_ATOMIC)" in text
    assert "Mem-Info:" in text
    html = tmp_path / "sweep.html"
    assert main(["simulate", "--sweep", "64M:256M:3", "--seeds", "1", "--duration", "3",
                 "--plot", str(html)]) == 0
    page = html.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "<svg" in page
    assert "<script" not in page  # self-contained, no external resources
    assert "http://" not in page.split("<svg", 1)[0]


def test_exact_engine_run_on_a_bundle_host(capsys):
    host = str(FIXTURES / "roots" / "pcp-meminfo-root-002-numa2")
    doc = _json(capsys, "--host", host, "--scenario", "healthy", "--duration", "1",
                "--min-free-kbytes", "90112")
    run = doc["runs"][0]
    assert doc["engine"] == "exact"
    assert run["min_free_kbytes"] == 90112
    assert {"Node 0 Normal", "Node 1 Normal"} <= set(run["lowest_free_pages"])


def test_live_host_zones(tmp_path, capsys):
    scenario = tmp_path / "small.toml"
    scenario.write_text('[scenario]\nname = "small"\nduration_s = 1\n[app]\n'
                        'resident_fraction = 0.3\n[page_cache]\nread_mib_per_s = 50\n'
                        'working_set_gib = 100\n')
    doc = _json(capsys, "--host", "live", "--scenario", str(scenario), "--engine", "fast")
    assert doc["runs"][0]["lowest_free_pages"]


def test_scenario_too_big_for_the_host_is_a_clean_error(capsys):
    host = str(FIXTURES / "roots" / "hotsos-kubernetes-5.4.0-99")
    assert main(["simulate", "--host", host, "--scenario", "aerospike-classic"]) == 2
    assert "does not fit" in capsys.readouterr().err


def test_scenario_file(tmp_path, capsys):
    scenario = tmp_path / "mine.toml"
    scenario.write_text('[scenario]\nname = "mine"\nduration_s = 1\n'
                        '[page_cache]\nread_mib_per_s = 50\nworking_set_gib = 100\n')
    doc = _json(capsys, "--scenario", str(scenario), "--engine", "fast")
    assert doc["scenario"] == "mine"
    assert doc["runs"][0]["atomic_failures"] == 0


@pytest.mark.parametrize("argv", [
    ["--min-free-kbytes", "-5"],
    ["--min-free-kbytes", "lots"],
    ["--sweep", "garbage"],
    ["--sweep", "5M:1M"],
    ["--min-free-kbytes", "1000", "--sweep", "1:2"],
    ["--scenario", "no-such-scenario"],
    ["--host", "/nonexistent/bundle.tar.gz"],
    ["--host", "no-such-preset"],
    ["--duration", "0"],
    ["--duration", "-1"],
    ["--seeds", "0"],
    ["--watermark-scale-factor", "0"],
    ["--engine", "slow"],
    ["--plot", "/tmp/x.gif"],
    ["--plot", "/nonexistent-dir/x.png"],
    ["--emit-log", "/nonexistent-dir/kern.log"],
])
def test_bad_input_is_one_line_and_exit_2(argv):
    proc = subprocess.run([sys.executable, "-m", "minfree", "simulate", *argv],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") <= 12  # argparse usage or one minfree: line


def test_garbage_scenario_file_is_exit_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[scenario]\nname = 'x'\n[[network_rx]]\nmtu_bytes = 'big'\n")
    proc = subprocess.run([sys.executable, "-m", "minfree", "simulate", "--scenario", str(bad)],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("minfree: ")
    assert "mtu_bytes" in proc.stderr


def test_exact_sweep_runs_in_worker_processes(capsys):
    doc = _json(capsys, "--sweep", "64M:128M:2", "--engine", "exact", "--duration", "1",
                "--seeds", "1")
    assert doc["engine"] == "exact"
    assert [r["min_free_kbytes"] for r in doc["runs"]] == [65536, 131072]
    assert doc["runs"][0]["atomic_failures"] >= doc["runs"][1]["atomic_failures"]
