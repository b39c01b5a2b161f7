"""The HTML report in a real browser: Debian's chromium, headless, with no network.

The page is loaded from a file URL inside a network namespace with no interfaces
(``unshare -n``; where that is not allowed, chromium's own proxy/resolver switches send
every request nowhere). Checks: chromium logs no console message for the page (errors,
CSP violations from an attempted fetch, script exceptions), the inline script ran, the
screenshot is not blank, and the key numbers in the rendered DOM equal those of
``minfree doctor --json`` for the same input.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
from tests.conftest import FIXTURES, REPO

pytestmark = pytest.mark.peer

SCENARIOS = FIXTURES / "scenarios"
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-logging=stderr", "--v=0", "--hide-scrollbars",
)
NO_NETWORK_FLAGS = ("--proxy-server=127.0.0.1:9", '--host-resolver-rules=MAP * ~NOTFOUND')


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of Debian's chromium, installed with apt-get when the machine lacks it."""
    found = shutil.which("chromium")
    if found is None:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update"], check=True, env=env, capture_output=True,
                       timeout=900)
        subprocess.run(["apt-get", "install", "-y", "chromium"], check=True, env=env,
                       capture_output=True, timeout=1800)
        found = shutil.which("chromium")
    assert found, "chromium did not install"
    return found


def _offline_prefix() -> list[str]:
    """``unshare -n`` when this process may create a network namespace, else nothing."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True).returncode == 0:
        return [unshare, "-n"]
    return []


def run_chromium(chromium: str, page: Path, *extra: str) -> subprocess.CompletedProcess:
    profile = tempfile.mkdtemp(prefix="minfree-chromium-")
    try:
        command = [*_offline_prefix(), chromium, *CHROMIUM_FLAGS, *NO_NETWORK_FLAGS,
                   f"--user-data-dir={profile}", *extra, page.resolve().as_uri()]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def page_console_messages(stderr: str, page: Path) -> list[str]:
    """Console lines chromium logged for this page (console.*, exceptions, CSP blocks)."""
    uri = page.resolve().as_uri()
    return [line for line in stderr.splitlines() if "CONSOLE" in line and uri in line]


class DataKeys(HTMLParser):
    """Collects elements with ``data-key`` (their attributes and text) from a DOM dump."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[dict[str, str]] = []
        self.root_attrs: dict[str, str] = {}
        self.svgs = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.root_attrs = a
        if tag == "svg" and "data-chart" in a:
            self.svgs += 1
        if "data-key" in a:
            self.items.append(a)

    def values(self, key: str) -> list[dict[str, str]]:
        return [a for a in self.items if a["data-key"] == key]

    def value(self, key: str) -> str:
        found = self.values(key)
        assert len(found) == 1, f"{key}: {len(found)} elements"
        return found[0]["data-value"]


def minfree(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    return subprocess.run([sys.executable, "-m", "minfree", *args], capture_output=True,
                          text=True, env=env, timeout=300)


def distinct_colours(png: Path) -> int:
    import matplotlib.image as mpimg
    import numpy as np

    pixels = mpimg.imread(str(png))
    flat = (pixels[..., :3] * 255).astype("uint8").reshape(-1, 3)
    return len(np.unique(flat, axis=0))


CASES = [
    ("classic-rhel7-aerospike", []),
    ("fragmented-high-order", []),
    ("classic-rhel7-aerospike",
     [str(FIXTURES / "kernel-logs/reports/002.log"), str(FIXTURES / "kernel-logs/nearmiss/002.log")]),
]


@pytest.mark.parametrize(("scenario", "logs"), CASES, ids=["classic", "fragmented", "logs"])
def test_report_in_chromium_matches_doctor(chromium, tmp_path, scenario, logs):
    root = SCENARIOS / scenario
    page = tmp_path / "report.html"
    log_args = ["--logs", *logs] if logs else []
    made = minfree("report", "--root", str(root), *log_args, "--html", str(page))
    assert made.returncode == 0, made.stderr
    doctor = minfree("doctor", "--root", str(root), *log_args, "--json")
    assert doctor.returncode == 0, doctor.stderr
    doc = json.loads(doctor.stdout)

    source = page.read_text()
    # Nothing refers to another origin: every src/href is in-page.
    assert not re.findall(r'(?:src|href)\s*=\s*["\']?(?:https?:|//|file:)', source, re.I)

    dom_run = run_chromium(chromium, page, "--dump-dom")
    assert dom_run.returncode == 0, dom_run.stderr[-2000:]
    assert page_console_messages(dom_run.stderr, page) == []
    keys = DataKeys()
    keys.feed(dom_run.stdout)
    assert keys.root_attrs.get("data-script") == "ran"  # the inline script executed
    assert keys.svgs >= 4  # timeline, zones, heatmap, fragmentation

    assert keys.value("verdict") == doc["verdict"]["status"]
    assert keys.value("current-min-free-kbytes") == doc["settings"]["vm.min_free_kbytes"]
    recs = {r["sysctl"]: r for r in doc["recommendations"]}
    expected_rec = recs["vm.min_free_kbytes"]["recommended"] if "vm.min_free_kbytes" in recs \
        else ""
    assert keys.value("recommended-min-free-kbytes") == expected_rec
    assert keys.value("chosen-min-free-kbytes") == str(doc["chosen"]["min_free_kbytes"])
    assert int(keys.value("failures-total")) == sum(g["count"] for g in doc["failures"])
    counts = keys.values("failure-count")
    assert [(int(a["data-order"]), a["data-process"], int(a["data-value"])) for a in counts] == [
        (g["order"], g["process"], g["count"]) for g in doc["failures"]]
    zones = {(a["data-node"], a["data-zone"]): int(a["data-value"])
             for a in keys.values("zone-free-kb")}
    assert zones == {(str(z["node"]), z["zone"]): z["free_kb"] for z in doc["memory"]["zones"]}
    mins = {(a["data-node"], a["data-zone"]): int(a["data-value"])
            for a in keys.values("zone-min-kb")}
    assert mins == {(str(z["node"]), z["zone"]): z["min_kb"] for z in doc["memory"]["zones"]}
    if doc["apply_command"]:
        assert doc["apply_command"] in dom_run.stdout
    for f in doc["findings"]:
        assert f'data-finding="{f["key"]}"' in dom_run.stdout

    shot = tmp_path / "report.png"
    shot_run = run_chromium(chromium, page, f"--screenshot={shot}", "--window-size=1200,2400")
    assert shot.exists(), shot_run.stderr[-2000:]
    assert page_console_messages(shot_run.stderr, page) == []
    assert distinct_colours(shot) > 200  # charts and text, not a blank page


def test_console_check_catches_errors_and_blocked_fetches(chromium, tmp_path):
    """The console check can fail: a script error and a blocked remote image are both seen."""
    from minfree.outputs.html_report import render_html, report_data

    doc = json.loads(minfree("doctor", "--root", str(SCENARIOS / "healthy"), "--json").stdout)
    page = tmp_path / "broken.html"
    html = render_html(report_data(doc))
    html = html.replace("</main>", '</main><img src="http://192.0.2.1/x.png">'
                        "<script>console.error('broken on purpose'); nothing();</script>")
    page.write_text(html)
    result = run_chromium(chromium, page, "--dump-dom")
    messages = page_console_messages(result.stderr, page)
    joined = "\n".join(messages)
    assert "broken on purpose" in joined
    assert "nothing is not defined" in joined
    assert "192.0.2.1" in joined  # the CSP blocked the fetch and said so


def test_blank_page_has_few_colours(chromium, tmp_path):
    """The screenshot check can fail: an empty page has almost no distinct colours."""
    page = tmp_path / "blank.html"
    page.write_text("<!DOCTYPE html><html><body></body></html>")
    shot = tmp_path / "blank.png"
    run_chromium(chromium, page, f"--screenshot={shot}", "--window-size=800,600")
    assert distinct_colours(shot) <= 2


def test_fleet_page_in_chromium(chromium, tmp_path):
    """The fleet page also loads offline without console messages and shows the counts."""
    page = tmp_path / "fleet.html"
    result = minfree("fleet", str(SCENARIOS / "healthy"), str(SCENARIOS / "reserve-too-high"),
                     str(SCENARIOS / "classic-rhel7-aerospike"), str(tmp_path / "missing"),
                     "--workers", "0", "--json", "--html", str(page))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)["summary"]
    run = run_chromium(chromium, page, "--dump-dom")
    assert page_console_messages(run.stderr, page) == []
    keys = DataKeys()
    keys.feed(run.stdout)
    for key in ("failing", "at_risk", "healthy", "errors", "below_target"):
        assert int(keys.value("fleet-" + key.replace("_", "-"))) == summary[key]
    assert keys.svgs == 1
