"""``minfree report`` without a browser: data, timeline, charts, CLI errors and atomic writes."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import FIXTURES, REPO

SCENARIOS = FIXTURES / "scenarios"


def minfree(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    return subprocess.run([sys.executable, "-m", "minfree", *args], capture_output=True,
                          text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def classic():
    from minfree.outputs.html_report import collect_report_data

    return collect_report_data(str(SCENARIOS / "classic-rhel7-aerospike"))


def test_report_data_holds_the_doctor_document(classic):
    from minfree.outputs.doctor_json import run_doctor

    doc = run_doctor(str(SCENARIOS / "classic-rhel7-aerospike"))
    got = dict(classic["doctor"])
    # minfree_version and label are equal too; compare the whole document
    assert got == doc
    assert classic["current_min_free_kbytes"] == 67584
    assert classic["recommended_min_free_kbytes"] == int(
        doc["recommendations"][0]["recommended"])


def test_recommended_watermarks_come_from_the_kernel_model(classic):
    from minfree.kernel.release import KernelRelease
    from minfree.kernel.watermarks import compare_settings
    from minfree.sources.root import open_root
    from minfree.sources.snapshot import read_snapshot

    snap = read_snapshot(open_root(str(SCENARIOS / "classic-rhel7-aerospike")))
    cmp = compare_settings(snap.zones, snap.sysctl,
                           release=KernelRelease.try_parse(snap.release.text),
                           min_free_kbytes=classic["recommended_min_free_kbytes"])
    by_zone = {(p.node, p.zone): p for p in cmp.proposed}
    assert classic["zones"]
    for z in classic["zones"]:
        p = by_zone[(z["node"], z["zone"])]
        assert z["recommended"]["min_kb"] == p.min_pages * 4
        assert z["recommended"]["high_kb"] == p.high_pages * 4
        # a larger reserve raises every zone's min
        assert z["recommended"]["min_kb"] > z["today"]["min_kb"]
    # the sum of predicted min equals the recommended reserve within rounding per zone
    total_min = sum(z["recommended"]["min_kb"] for z in classic["zones"])
    assert abs(total_min - classic["recommended_min_free_kbytes"]) <= 4 * len(classic["zones"])


def test_fragmentation_and_free_blocks_from_buddyinfo(classic):
    from minfree.kernel.fragmentation import fragmentation_index

    buddy = (SCENARIOS / "classic-rhel7-aerospike/proc/buddyinfo").read_text().split("\n")
    normal = next(line for line in buddy if "Normal" in line).split()[4:]
    zone = next(z for z in classic["zones"] if z["zone"] == "Normal")
    assert zone["free_blocks"] == [int(x) for x in normal]
    assert zone["fragmentation_index"] == [
        fragmentation_index(zone["free_blocks"], k) / 1000 for k in range(len(normal))]


def test_timeline_buckets_by_hour_and_order():
    from minfree.outputs.html_report import timeline

    t0 = dt.datetime(2024, 3, 1, 23, 59)
    tl = timeline([(1, t0, None), (1, t0 + dt.timedelta(minutes=2), None),
                   (3, t0 + dt.timedelta(hours=2), None)],
                  [("oom-killer", t0 + dt.timedelta(minutes=1), None),
                   ("allocation-stall", None, 5.0)])
    assert tl["buckets"] == ["2024-03-01 23:00", "2024-03-02 00:00", "2024-03-02 01:00",
                             "time unknown"]
    assert tl["failures_by_order"] == {1: [1, 1, 0, 0], 3: [0, 0, 1, 0]}
    assert tl["events_by_kind"] == {"oom-killer": [0, 1, 0, 0],
                                    "allocation-stall": [0, 0, 0, 1]}


def test_timeline_uses_uptime_when_the_log_has_no_clock():
    from minfree.outputs.html_report import timeline

    tl = timeline([(0, None, 10.0), (0, None, 7300.0)], [("oom-killer", None, 3700.0)])
    assert tl["axis"].startswith("hours since boot")
    assert tl["buckets"] == ["0-1 h", "1-2 h", "2-3 h"]
    assert tl["failures_by_order"] == {0: [1, 0, 1]}
    assert tl["events_by_kind"] == {"oom-killer": [0, 1, 0]}


events = st.tuples(st.integers(-1, 10),
                   st.one_of(st.none(), st.datetimes(dt.datetime(2020, 1, 1),
                                                     dt.datetime(2020, 1, 10))),
                   st.one_of(st.none(), st.floats(0, 1e6)))


@settings(max_examples=60, deadline=None)
@given(st.lists(events, max_size=30),
       st.lists(st.tuples(st.sampled_from(["oom-killer", "allocation-stall"]),
                          st.none(), st.none()), max_size=5))
def test_timeline_counts_every_item_once(failures, related):
    from minfree.outputs.html_report import timeline

    tl = timeline(failures, related)
    assert sum(sum(v) for v in tl["failures_by_order"].values()) == len(failures)
    assert sum(sum(v) for v in tl["events_by_kind"].values()) == len(related)
    for row in [*tl["failures_by_order"].values(), *tl["events_by_kind"].values()]:
        assert len(row) == len(tl["buckets"])
    # buckets are in time order
    known = [b for b in tl["buckets"] if b != "time unknown"]
    if tl["axis"].startswith("hour (log"):
        assert known == sorted(known)


def test_page_is_self_contained_and_keys_are_present(classic):
    from minfree.outputs.html_report import render_html

    page = render_html(classic)
    assert not re.search(r'(?:src|href)\s*=\s*["\']?(?:https?:|//)', page, re.I)
    assert "default-src 'none'" in page
    assert page.count("<svg ") >= 4
    assert 'data-key="verdict" data-value="failing"' in page
    assert 'data-key="recommended-min-free-kbytes" data-value="201301"' in page
    assert "minfree apply --min-free-kbytes 201301" in page
    # the embedded data round-trips
    embedded = re.search(r'<script type="application/json" id="report-data">(.*?)</script>',
                         page, re.S).group(1)
    assert json.loads(embedded.replace("<\\/", "</"))["doctor"]["verdict"]["status"] == "failing"


def test_charts_use_the_okabe_ito_palette_and_hatches():
    from minfree.outputs.html_charts import OKABE_ITO, order_style, timeline_svg

    svg = timeline_svg(["a", "b"], {0: [1, 2], 1: [0, 3]}, {"oom-killer": [1, 0]},
                       axis_label="hour")
    assert svg.startswith("<svg ")
    assert 'data-chart="timeline"' in svg
    assert OKABE_ITO[1].lower() in svg.lower()
    assert OKABE_ITO[2].lower() in svg.lower()
    assert order_style(0) != order_style(1)
    # eleven orders: every (colour, hatch) pair differs
    assert len({order_style(k) for k in range(11)}) == 11
    assert "<pattern" in svg  # order 1 is hatched


def test_cli_writes_atomically_and_keeps_a_backup(tmp_path):
    target = tmp_path / "r.html"
    target.write_text("old page")
    result = minfree("report", "--root", str(SCENARIOS / "healthy"), "--html", str(target))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "r.html.bak").read_text() == "old page"
    assert target.read_text().startswith("<!DOCTYPE html>")
    assert not [p for p in os.listdir(tmp_path) if "minfree-tmp" in p]


def test_cli_from_json_doctor_and_saved_data(tmp_path):
    doctor = minfree("doctor", "--root", str(SCENARIOS / "classic-rhel7-aerospike"), "--json")
    saved = tmp_path / "doctor.json"
    saved.write_text(doctor.stdout)
    page = tmp_path / "from-doctor.html"
    result = minfree("report", "--from-json", str(saved), "--html", str(page))
    assert result.returncode == 0, result.stderr
    text = page.read_text()
    assert 'data-key="verdict" data-value="failing"' in text
    data = tmp_path / "data.json"
    page2 = tmp_path / "full.html"
    assert minfree("report", "--root", str(SCENARIOS / "classic-rhel7-aerospike"),
                   "--save-data", str(data), "--html", str(page2)).returncode == 0
    page3 = tmp_path / "again.html"
    assert minfree("report", "--from-json", str(data), "--html", str(page3)).returncode == 0
    strip = re.compile(r"generated [^.]*\.")
    assert strip.sub("", page3.read_text()) == strip.sub("", page2.read_text())


@pytest.mark.slow
def test_cli_with_simulation_sweep(tmp_path):
    simulated = minfree("simulate", "--sweep", "16M:512M:4", "--seeds", "2", "--duration", "5",
                        "--json")
    assert simulated.returncode == 0, simulated.stderr
    sweep = json.loads(simulated.stdout)
    sim = tmp_path / "sweep.json"
    sim.write_text(simulated.stdout)
    page = tmp_path / "r.html"
    result = minfree("report", "--root", str(SCENARIOS / "healthy"), "--simulation", str(sim),
                     "--html", str(page))
    assert result.returncode == 0, result.stderr
    text = page.read_text()
    assert 'data-chart="sweep"' in text
    safe = sweep["safe_min_free_kbytes"]
    assert f'data-key="simulated-safe-min-free-kbytes" data-value="{safe}"' in text
    from minfree.outputs.html_report import simulation_summary

    points = simulation_summary(sweep)["points"]
    assert [p[0] for p in points] == sorted({r["min_free_kbytes"] for r in sweep["runs"]})
    for value, worst, _mean, _stalls in points:
        assert worst == max(r["atomic_failures"] for r in sweep["runs"]
                            if r["min_free_kbytes"] == value)


@pytest.mark.parametrize("content", ["", "{not json", "[1, 2]", '{"schema": "other/1"}',
                                     '{"schema": "minfree.doctor/1"}', "\xff\xfe garbage"])
def test_cli_bad_json_is_one_line_exit_2(tmp_path, content):
    bad = tmp_path / "bad.json"
    bad.write_bytes(content.encode("latin-1"))
    target = tmp_path / "r.html"
    result = minfree("report", "--from-json", str(bad), "--html", str(target))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert not target.exists()


@pytest.mark.parametrize("args", [
    ["--root", "/nonexistent/bundle", "--html", "OUT"],
    ["--root", "ROOT", "--html", "/nonexistent-dir/r.html"],
    ["--from-json", "/nonexistent.json", "--html", "OUT"],
    ["--from-json", "X", "--root", "ROOT", "--html", "OUT"],
    ["--root", "ROOT", "--simulation", "/nonexistent.json", "--html", "OUT"],
])
def test_cli_bad_arguments_exit_2(tmp_path, args):
    args = [a.replace("OUT", str(tmp_path / "r.html")).replace(
        "ROOT", str(SCENARIOS / "healthy")) for a in args]
    result = minfree("report", *args)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_report_on_this_host(tmp_path, vm_sysctl_writer):
    """The live host (no --root): the page is written and its settings are this kernel's.

    ``vm_sysctl_writer`` only holds the writers' lock, so no other test changes the value
    between the report and the comparison.
    """
    page = tmp_path / "live.html"
    result = minfree("report", "--interval", "0", "--html", str(page))
    assert result.returncode == 0, result.stderr
    text = page.read_text()
    current = vm_sysctl_writer.read("min_free_kbytes")
    assert f'data-key="current-min-free-kbytes" data-value="{current}"' in text
    assert re.search(r'data-key="verdict" data-value="(healthy|at risk|failing)"', text)
    zones = re.findall(r"data-key='zone-free-kb'", text)
    assert len(zones) >= 1


def test_bad_interval_is_exit_2(tmp_path):
    result = minfree("report", "--interval", "-1", "--html", str(tmp_path / "r.html"))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1


def test_simulation_of_another_host_does_not_draw_this_hosts_values(tmp_path):
    from minfree.outputs.html_report import same_host

    root = SCENARIOS / "healthy"
    assert same_host(str(root), str(root))
    assert same_host(str(root) + "/", str(root))
    assert not same_host("preset 64g-1node", str(root))
    assert not same_host(None, str(root))


@pytest.fixture(scope="module")
def classic_doc():
    from minfree.outputs.doctor_json import run_doctor

    return run_doctor(str(SCENARIOS / "classic-rhel7-aerospike"))


@settings(max_examples=15, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_log_text_cannot_inject_markup(classic_doc, text):
    """Process names, modes and summaries come from logs: they are escaped everywhere."""
    import copy
    from html.parser import HTMLParser

    from minfree.outputs.html_report import render_html, report_data

    doc = copy.deepcopy(classic_doc)
    doc["failures"][0]["process"] = text
    doc["failures"][0]["mode"] = "<script>alert(1)</script>" + text
    doc["findings"][0]["summary"] = "</script><img src=x onerror=alert(1)>" + text
    doc["verdict"]["reason"] = text

    class Tags(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags = []

        def handle_starttag(self, tag, attrs):
            self.tags.append((tag, dict(attrs)))

    parser = Tags()
    parser.feed(render_html(report_data(doc)))
    assert sum(1 for t, _ in parser.tags if t == "script") == 2  # report data + the script
    assert not [t for t, a in parser.tags if t == "img" or "onerror" in a]


@pytest.mark.slow
def test_simulate_runs_the_advisor_on_this_host(tmp_path):
    page = tmp_path / "r.html"
    data = tmp_path / "d.json"
    result = minfree("report", "--root", str(SCENARIOS / "classic-rhel7-aerospike"),
                     "--simulate", "--save-data", str(data), "--html", str(page))
    assert result.returncode == 0, result.stderr
    saved = json.loads(data.read_text())
    safe = saved["simulation"]["safe_min_free_kbytes"]
    assert saved["doctor"]["candidates"]["simulated"] == safe
    text = page.read_text()
    assert f'data-key="simulated-safe-min-free-kbytes" data-value="{safe}"' in text
    assert 'data-chart="sweep"' in text
    assert "not this report's host" not in text  # the simulated host is this one
    assert saved["simulation"]["assumptions"]


def test_simulate_with_a_saved_sweep_is_exit_2(tmp_path):
    result = minfree("report", "--root", str(SCENARIOS / "healthy"), "--simulate",
                     "--simulation", str(tmp_path / "x.json"), "--html", str(tmp_path / "r.html"))
    assert result.returncode == 2


@pytest.fixture(scope="module")
def saved_healthy(tmp_path_factory):
    """Report data saved by the CLI for the healthy scenario (JSON text)."""
    folder = tmp_path_factory.mktemp("saved")
    assert minfree("report", "--root", str(SCENARIOS / "healthy"), "--save-data",
                   str(folder / "d.json"), "--html", str(folder / "r.html")).returncode == 0
    return (folder / "d.json").read_text()


@pytest.mark.parametrize("mutate", [
    lambda d: d["doctor"].update(verdict="failing"),
    lambda d: d.update(zones=[{"label": 3}]),
    lambda d: d.update(timeline={"buckets": 5}),
    lambda d: d["doctor"].update(failures=[{"order": "x"}]),
    lambda d: d.update(reports=[None]),
])
def test_mangled_saved_data_is_a_page_or_one_line(tmp_path, mutate, saved_healthy):
    """Hand-edited data renders what it can or fails in one line; never a traceback."""
    data = tmp_path / "d.json"
    loaded = json.loads(saved_healthy)
    mutate(loaded)
    data.write_text(json.dumps(loaded))
    result = minfree("report", "--from-json", str(data), "--html", str(tmp_path / "r.html"))
    assert result.returncode in (0, 2), result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert (tmp_path / "r.html").exists() == (result.returncode == 0)


def test_timeline_labels_syslog_hours_without_a_year():
    from minfree.outputs.html_report import clock_time, timeline

    syslog = clock_time(None, "Jul 15 03:01:26")
    tl = timeline([(1, syslog, None), (0, dt.datetime(2020, 8, 30, 17, 5), None)], [])
    assert tl["buckets"] == ["Jul 15 03:00", "2020-08-30 17:00"]
    assert tl["failures_by_order"] == {0: [0, 1], 1: [1, 0]}
