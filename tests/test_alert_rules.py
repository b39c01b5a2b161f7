"""The shipped Prometheus alert rules, Grafana dashboard and systemd unit.

The rules are checked and unit-tested by Debian's own ``promtool`` (installed by the session
fixture when missing), and a deliberately wrong expectation must make ``promtool test
rules`` fail, so the test cannot pass vacuously. Every metric the rules and the dashboard
use must be one the exporter produces (names taken from the golden exposition).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from tests.conftest import REPO

DEPLOY = REPO / "deploy"
RULES = DEPLOY / "prometheus" / "minfree-alerts.yml"
RULE_TESTS = DEPLOY / "prometheus" / "minfree-alerts.test.yml"
DASHBOARD = DEPLOY / "grafana" / "minfree.json"
UNIT = DEPLOY / "systemd" / "minfree-exporter.service"
GOLDEN = REPO / "tests" / "golden"

#: Metrics the golden files do not hold: the kmsg-only timestamp, and the doctor's
#: conclusions (checked against `minfree doctor --json` in test_exporter_collector.py).
CONDITIONAL_METRICS = {
    "minfree_page_allocation_failure_last_seen_timestamp_seconds",
    "minfree_recommended_min_free_kbytes",
    "minfree_finding",
}


def _install_prometheus() -> None:
    """Debian's prometheus package provides both ``prometheus`` and ``promtool``."""
    if shutil.which("promtool") and shutil.which("prometheus"):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("promtool missing and apt-get not usable (needs root on Debian/Ubuntu)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, env=env, capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "prometheus"], check=True, env=env, capture_output=True)


@pytest.fixture(scope="session")
def promtool() -> str:
    _install_prometheus()
    path = shutil.which("promtool")
    assert path, "apt-get install prometheus did not provide promtool"
    return path


def exported_metric_names() -> set[str]:
    """Metric names in the golden expositions (what the exporter really produces)."""
    names: set[str] = set()
    for path in GOLDEN.glob("*.prom"):
        for line in path.read_text().splitlines():
            if line.startswith("# TYPE "):
                names.add(line.split()[2])
    return names


def metric_names_in(expr: str) -> set[str]:
    return set(re.findall(r"\bminfree_[a-z0-9_]+\b", expr))


# --- promtool ---------------------------------------------------------------------------
@pytest.mark.peer
def test_promtool_check_rules(promtool: str) -> None:
    result = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 8 rules found" in result.stdout


@pytest.mark.peer
def test_promtool_unit_tests_pass(promtool: str) -> None:
    result = subprocess.run(
        [promtool, "test", "rules", RULE_TESTS.name],
        capture_output=True, text=True, cwd=RULE_TESTS.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.peer
def test_promtool_unit_tests_can_fail(promtool: str, tmp_path: Path) -> None:
    """A wrong expectation (severity, or a zone that is not failing) must be caught."""
    shutil.copy(RULES, tmp_path / RULES.name)
    text = RULE_TESTS.read_text()
    broken = text.replace("              severity: critical\n              instance: db1\n"
                          "              job: minfree\n              node: \"0\"\n"
                          "              zone: Normal\n              level: min",
                          "              severity: warning\n              instance: db1\n"
                          "              job: minfree\n              node: \"0\"\n"
                          "              zone: Normal\n              level: min", 1)
    assert broken != text
    (tmp_path / RULE_TESTS.name).write_text(broken)
    result = subprocess.run(
        [promtool, "test", "rules", RULE_TESTS.name], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode != 0
    assert "MinfreeZoneBelowMinWatermark" in result.stdout + result.stderr


@pytest.mark.peer
def test_promtool_rejects_broken_rule(promtool: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(RULES.read_text().replace("< 0", "<<< 0", 1))
    result = subprocess.run([promtool, "check", "rules", str(bad)], capture_output=True, text=True)
    assert result.returncode != 0


# --- the rules themselves -----------------------------------------------------------------
def _rules() -> list[dict]:
    # PyYAML comes with dask (a dependency); promtool has validated the structure already.
    yaml = pytest.importorskip("yaml")
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_every_alert_has_summary_description_and_a_next_step() -> None:
    rules = _rules()
    names = {r["alert"] for r in rules}
    assert {
        "MinfreePageAllocationFailures",
        "MinfreeZoneBelowMinWatermark",
        "MinfreeZoneNoFreeBlockOrder1",
        "MinfreeZoneNoFreeBlockOrder2",
        "MinfreeDirectReclaimActive",
        "MinfreeAllocationStallsRising",
        "MinfreeReserveBelowRecommendation",
    } <= names
    for rule in rules:
        annotations = rule["annotations"]
        assert annotations["summary"].strip(), rule["alert"]
        # "what to do": every description names a minfree command or a concrete action
        assert re.search(r"`(minfree \w+|echo|journalctl)[^`]*`", annotations["description"]), rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]


def test_rules_and_dashboard_use_only_exported_metrics() -> None:
    exported = exported_metric_names()
    # the golden expositions are committed: an empty set would make this check vacuous
    assert exported, "no metric names found in the golden expositions"
    used: set[str] = set()
    for rule in _rules():
        used |= metric_names_in(rule["expr"])
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel.get("targets", []):
            used |= metric_names_in(target["expr"])
    unknown = used - exported - CONDITIONAL_METRICS
    assert not unknown, f"metrics used but never exported: {sorted(unknown)}"
    every_test_series = metric_names_in(RULE_TESTS.read_text())
    assert every_test_series - exported - CONDITIONAL_METRICS == set()


# --- Grafana dashboard ----------------------------------------------------------------------
def test_dashboard_is_valid_and_covers_the_four_views() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    panels = dashboard["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0
        assert grid["x"] + grid["w"] <= 24
        for target in panel.get("targets", []):
            assert target["expr"].count("(") == target["expr"].count(")")
            assert target["datasource"]["uid"] == "${datasource}"
    kinds = {p["type"] for p in panels}
    assert {"timeseries", "heatmap"} <= kinds
    exprs = " ".join(t["expr"] for p in panels for t in p.get("targets", []))
    for metric in ("minfree_zone_free_pages", "minfree_zone_watermark_pages",
                   "minfree_zone_free_blocks", "minfree_reclaim_scanned_pages_total",
                   "minfree_page_allocation_failures_total"):
        assert metric in exprs
    heatmap = next(p for p in panels if p["type"] == "heatmap")
    assert "minfree_zone_free_blocks" in heatmap["targets"][0]["expr"]
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"datasource", "instance", "zone"} <= variables


# --- systemd unit ---------------------------------------------------------------------------
def _unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "[")):
            continue
        key, _, value = line.partition("=")
        settings.setdefault(key, []).append(value)
    return settings


def test_systemd_unit_is_hardened_and_can_still_read_kmsg() -> None:
    s = _unit_settings()
    assert s["NoNewPrivileges"] == ["yes"]
    assert s["ProtectSystem"] == ["strict"]
    assert s["DynamicUser"] == ["yes"]
    assert s["CapabilityBoundingSet"] == ["CAP_SYSLOG"]
    assert s["AmbientCapabilities"] == ["CAP_SYSLOG"]
    assert "/dev/kmsg r" in s["DeviceAllow"]
    assert s["ProtectHome"] == ["yes"]
    assert s["PrivateTmp"] == ["yes"]
    # Settings that would silently break the exporter: ProtectKernelLogs denies /dev/kmsg,
    # PrivateDevices hides it, PrivateUsers drops CAP_SYSLOG in the init namespace,
    # ProcSubset=pid hides /proc/zoneinfo.
    assert s.get("ProtectKernelLogs", ["no"]) == ["no"]
    assert s.get("PrivateDevices", ["no"]) == ["no"]
    assert s.get("PrivateUsers", ["no"]) == ["no"]
    assert s.get("ProcSubset", ["all"]) == ["all"]
    exec_start = s["ExecStart"][0]
    assert "minfree exporter" in exec_start
    assert "127.0.0.1:" in exec_start


def test_systemd_unit_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed")
    unit = tmp_path / UNIT.name
    # verify checks that ExecStart's binary exists; point it at one that does.
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/minfree", shutil.which("true") or "/bin/true"))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Unknown key" not in result.stderr
    assert "Unknown lvalue" not in result.stderr


def test_systemd_unit_exposure_score_is_low(tmp_path: Path) -> None:
    """systemd's own audit of the sandbox: what remains open is what the exporter needs
    (/dev/kmsg with CAP_SYSLOG, a TCP socket, /proc)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed")
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/minfree", shutil.which("true") or "/bin/true"))
    result = subprocess.run([analyze, "security", "--offline=true", str(unit)], capture_output=True, text=True)
    if "--offline" in result.stderr and "unrecognized" in result.stderr:
        pytest.skip("this systemd-analyze has no --offline")
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    assert match, result.stdout[-500:] + result.stderr
    assert float(match.group(1)) <= 2.0, result.stdout
