"""A real Prometheus scraping a real ``minfree exporter`` on this host.

Debian's ``prometheus`` is installed by the session fixture when missing; both programs run
on free loopback ports with a temporary storage directory and are killed in ``finally``.
What Prometheus stored must agree with ``/proc/zoneinfo`` read at the same time: watermarks
exactly (re-read until no recalculation happened in between, since this VM grows its
Normal zone lazily and recomputes the watermarks when it does), free pages within the
pages that move between two reads.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import REPO

from minfree.parsers.zoneinfo import parse_zoneinfo

pytestmark = pytest.mark.peer

RULES = REPO / "deploy" / "prometheus" / "minfree-alerts.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "minfree.json"


def _install_prometheus() -> None:
    if shutil.which("prometheus") and shutil.which("promtool"):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("prometheus missing and apt-get not usable (needs root on Debian/Ubuntu)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, env=env, capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "prometheus"], check=True, env=env, capture_output=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args[0]} exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listening on {port}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class PrometheusAPI:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}/api/v1"

    def get(self, path: str, **params: str) -> dict:
        url = f"{self.base}/{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        return self.get("query", query=expr)["result"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[tuple[PrometheusAPI, int]]:
    _install_prometheus()
    work = tmp_path_factory.mktemp("prometheus")
    exporter_port, prometheus_port = free_port(), free_port()
    config = work / "prometheus.yml"
    shutil.copy(RULES, work / RULES.name)
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files:\n  - {RULES.name}\n"
        "scrape_configs:\n  - job_name: minfree\n    scrape_timeout: 1s\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{exporter_port}']\n"
    )
    exporter = subprocess.Popen(
        [sys.executable, "-m", "minfree", "exporter", "--listen", f"127.0.0.1:{exporter_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    prometheus = None
    try:
        wait_for_port(exporter_port, exporter)
        prometheus = subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={work / 'data'}",
             f"--web.listen-address=127.0.0.1:{prometheus_port}", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=work,
        )
        wait_for_port(prometheus_port, prometheus)
        api = PrometheusAPI(prometheus_port)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                # three scrapes: rate() and increase() need two samples in their window
                if api.query('count_over_time(up{job="minfree"}[1m]) >= 3 and up == 1'):
                    break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            raise AssertionError("Prometheus never scraped the exporter")
        yield api, exporter_port
    finally:
        if prometheus is not None:
            stop(prometheus)
        stop(exporter)


def _zoneinfo() -> dict[tuple[str, str], object]:
    info = parse_zoneinfo(Path("/proc/zoneinfo").read_text())
    return {(str(z.node), z.name): z for z in info.zones if z.populated}


def _by_zone(result: list[dict], level: str | None = None) -> dict[tuple[str, str], float]:
    out = {}
    for item in result:
        labels = item["metric"]
        if level is not None and labels.get("level") != level:
            continue
        out[(labels["node"], labels["zone"])] = float(item["value"][1])
    return out


def test_scraped_zones_agree_with_proc_zoneinfo(stack) -> None:
    api, _ = stack
    for _attempt in range(20):
        before = _zoneinfo()
        free = _by_zone(api.query("minfree_zone_free_pages"))
        marks = {level: _by_zone(api.query(f'minfree_zone_watermark_pages{{level="{level}"}}'), level)
                 for level in ("min", "low", "high")}
        after = _zoneinfo()
        stable = all(
            (before[k].min_pages, before[k].low_pages, before[k].high_pages)
            == (after[k].min_pages, after[k].low_pages, after[k].high_pages)
            for k in before
        ) and before.keys() == after.keys()
        if stable and all(marks["min"].get(k) == before[k].min_pages for k in before):
            break
        time.sleep(1.2)  # a watermark recalculation happened in between: take the next scrape
    else:
        pytest.fail("watermarks never stable across a scrape")
    assert set(free) == set(before), "every populated zone is exported, and only those"
    for key, zone in before.items():
        assert marks["min"][key] == zone.min_pages
        assert marks["low"][key] == zone.low_pages
        assert marks["high"][key] == zone.high_pages
        # free pages move between the scrape (<= 1 s ago) and our reads: allow 2% of the
        # zone's managed pages plus per-cpu vmstat drift (threshold x CPUs)
        managed = zone.managed_pages or 0
        drift = (zone.stat_threshold_pages or 125) * (os.cpu_count() or 1)
        tolerance = 0.02 * managed + drift
        low = min(before[key].free_pages, after[key].free_pages) - tolerance
        high = max(before[key].free_pages, after[key].free_pages) + tolerance
        assert low <= free[key] <= high, (key, free[key], before[key].free_pages)


def test_prometheus_loaded_the_alert_rules(stack) -> None:
    api, _ = stack
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        groups = api.get("rules")["groups"]
        rules = [r for g in groups for r in g["rules"]]
        if rules and all(r.get("lastEvaluation", "").startswith("0001") is False for r in rules):
            break
        time.sleep(0.5)
    assert len(rules) == 8
    assert all(r["health"] == "ok" for r in rules), [(r["name"], r.get("lastError")) for r in rules]


def test_dashboard_queries_run_against_real_data(stack) -> None:
    api, _ = stack
    dashboard = json.loads(DASHBOARD.read_text())
    substitutions = {"$instance": ".*", "$node": ".*", "$zone": ".*", "$__rate_interval": "1m"}
    empty_allowed = ("failure", "finding", "recommended", "collector_errors")
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for var, value in substitutions.items():
                expr = expr.replace(var, value)
            result = api.query(expr)  # a syntax error fails inside get()
            if not any(word in expr for word in empty_allowed):
                assert result, f"no data for {panel['title']!r}: {expr}"


def test_doctor_conclusions_arrive_from_the_background_analysis(stack) -> None:
    api, _ = stack
    deadline = time.monotonic() + 60  # the live analysis samples vmstat twice, 3 s apart
    while time.monotonic() < deadline:
        if api.query("minfree_recommended_min_free_kbytes"):
            break
        time.sleep(1)
    recommended = api.query("minfree_recommended_min_free_kbytes")
    assert recommended, "no recommendation after a minute"
    assert float(recommended[0]["value"][1]) > 0
    errors = {r["metric"]["source"]: float(r["value"][1])
              for r in api.query("minfree_collector_errors_total")}
    assert errors["analysis"] == 0


def test_collector_reports_no_errors_on_this_host(stack) -> None:
    api, _ = stack
    errors = {r["metric"]["source"]: float(r["value"][1])
              for r in api.query("minfree_collector_errors_total")}
    for source in ("zoneinfo", "buddyinfo", "vmstat", "sysctl"):
        assert errors.get(source) == 0, errors
    assert api.query('minfree_zone_highest_free_order{zone="Normal"}')
    assert api.query('minfree_sysctl{name="vm.min_free_kbytes"}')[0]["value"][1] == \
        Path("/proc/sys/vm/min_free_kbytes").read_text().strip()


def _install_node_exporter() -> str:
    found = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("node_exporter missing and apt-get not usable (needs root on Debian/Ubuntu)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, env=env, capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "prometheus-node-exporter"], check=True, env=env,
                   capture_output=True)
    found = shutil.which("prometheus-node-exporter")
    assert found
    return found


def test_textfile_is_accepted_by_node_exporters_textfile_collector(tmp_path: Path) -> None:
    """--textfile output read by the real consumer: node_exporter's textfile collector."""
    node_exporter = _install_node_exporter()
    directory = tmp_path / "textfile"
    directory.mkdir()
    result = subprocess.run([sys.executable, "-m", "minfree", "exporter", "--textfile",
                             str(directory / "minfree.prom")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    port = free_port()
    proc = subprocess.Popen(
        [node_exporter, "--collector.disable-defaults", "--collector.textfile",
         f"--collector.textfile.directory={directory}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port, proc)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            body = response.read().decode()
    finally:
        stop(proc)
    assert "node_textfile_scrape_error 0" in body
    assert 'minfree_zone_free_pages{node="0",zone=' in body
    assert 'minfree_zone_watermark_pages{level="min"' in body
    assert "minfree_collector_errors_total" in body
