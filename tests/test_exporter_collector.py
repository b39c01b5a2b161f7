"""The Prometheus collector against real captured roots, without a socket.

Each root's exposition (``generate_latest`` on an explicit registry) is compared with a
golden file under ``tests/golden/``; regenerate them with ``MINFREE_UPDATE_GOLDEN=1`` after
an intended change and review the diff. Values are also checked against the source files
themselves, so a golden file cannot bless a wrong number unnoticed.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from tests.conftest import FIXTURES, REPO

from minfree.outputs.prometheus import (
    SOURCES,
    AnalysisResult,
    FailureLog,
    MinfreeCollector,
    build_registry,
    exposition,
    needed_vmstat_lines,
    needed_zoneinfo_lines,
    read_memory_sample,
)
from minfree.parsers.buddyinfo import parse_buddyinfo
from minfree.parsers.vmstat import parse_vmstat
from minfree.parsers.zoneinfo import parse_zoneinfo
from minfree.sources.root import open_root

GOLDEN = REPO / "tests" / "golden"
ROOTS = FIXTURES / "roots"
CAPTURE = FIXTURES / "proc-captures" / "firecracker-6.18"

#: fixture root -> golden file; chosen to cover a full sosreport, NUMA without buddyinfo, a
#: partial capture with missing files, a 2.6.16 board and the 6.18 test host (promo).
GOLDEN_ROOTS = {
    "hotsos-kubernetes-5.4.0-99": "hotsos-kubernetes-5.4.0-99.prom",
    "pcp-meminfo-root-007-numa2": "pcp-meminfo-root-007-numa2.prom",
    "issabel-el8-partial": "issabel-el8-partial.prom",
    "embedded-arm720t-2.6.16": "embedded-arm720t-2.6.16.prom",
    "firecracker-6.18": "firecracker-6.18.prom",
    "firecracker-6.18-with-failures": "firecracker-6.18-with-failures.prom",
}
#: Real failure logs placed in the 6.18 capture root for the failure metrics: a rate-limited
#: report (+59 suppressed), an ARM order-3 one (+5676 suppressed) and three order-0 reports.
FAILURE_LOGS = {
    "var/log/kern.log": "022.log",
    "var/log/kern.log.1": "028.log",
    "var/log/syslog": "010.log",
}


def firecracker_root(base: Path) -> Path:
    """The 6.18 capture laid out as a root (the capture folder itself is flat)."""
    root = base / "firecracker-6.18"
    (root / "proc").mkdir(parents=True, exist_ok=True)
    for name in ("zoneinfo", "buddyinfo", "vmstat", "meminfo", "pagetypeinfo"):
        shutil.copy(CAPTURE / name, root / "proc" / name)
    (root / "sos_commands" / "kernel").mkdir(parents=True, exist_ok=True)
    shutil.copy(CAPTURE / "sysctl-vm.txt", root / "sos_commands" / "kernel" / "sysctl_-a")
    return root


def firecracker_root_with_failures(base: Path) -> Path:
    root = firecracker_root(base)
    for rel, log in FAILURE_LOGS.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(FIXTURES / "kernel-logs" / "reports" / log, root / rel)
    return root


def root_path(name: str, tmp_path: Path) -> Path:
    if name == "firecracker-6.18":
        return firecracker_root(tmp_path)
    if name == "firecracker-6.18-with-failures":
        return firecracker_root_with_failures(tmp_path)
    return ROOTS / name


def normalise(text: str) -> str:
    """Blank the one value that changes from run to run: the scrape's own duration."""
    return re.sub(r"^(minfree_collector_duration_seconds) \S+$", r"\1 0.0", text, flags=re.M)


#: Families whose values are the doctor's conclusions: they follow the doctor's rules as
#: those evolve, so the golden files leave them out and `test_analysis_is_the_doctors`
#: checks them against `minfree doctor --json` instead.
ANALYSIS_FAMILIES = ("minfree_finding", "minfree_recommended_min_free_kbytes")


def without_analysis(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True)
                   if not any(re.match(rf"(# (HELP|TYPE) )?{name}[ {{]", line) for name in ANALYSIS_FAMILIES))


def scrape(path: Path | str | None, **kwargs) -> str:
    collector = MinfreeCollector(path, follow_kmsg=False, **kwargs)
    try:
        return generate_latest(build_registry(collector)).decode()
    finally:
        collector.close()


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(text: str, metric: str, **labels: str) -> float | None:
    return samples(text).get((metric, frozenset(labels.items())))


# --- golden files -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(GOLDEN_ROOTS))
def test_exposition_matches_golden(name: str, tmp_path: Path) -> None:
    text = without_analysis(normalise(scrape(root_path(name, tmp_path))))
    golden = GOLDEN / GOLDEN_ROOTS[name]
    if os.environ.get("MINFREE_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert golden.exists(), f"missing {golden}; run with MINFREE_UPDATE_GOLDEN=1 and review it"
    assert text == golden.read_text()


# --- values against the source files ---------------------------------------------------------
@pytest.mark.parametrize("name", sorted(GOLDEN_ROOTS))
def test_zone_values_equal_the_files(name: str, tmp_path: Path) -> None:
    path = root_path(name, tmp_path)
    text = scrape(path)
    zoneinfo = parse_zoneinfo((path / "proc" / "zoneinfo").read_text())
    buddy_path = path / "proc" / "buddyinfo"
    buddyinfo = parse_buddyinfo(buddy_path.read_text()) if buddy_path.exists() else None
    exported = 0
    for zone in zoneinfo.zones:
        labels = {"node": str(zone.node), "zone": zone.name}
        got = value(text, "minfree_zone_free_pages", **labels)
        if not zone.populated:
            assert got is None, "empty zones are not exported"
            continue
        exported += 1
        assert got == zone.free_pages
        assert value(text, "minfree_zone_watermark_pages", level="min", **labels) == zone.min_pages
        assert value(text, "minfree_zone_watermark_pages", level="high", **labels) == zone.high_pages
        assert value(text, "minfree_zone_headroom_pages", level="low", **labels) == zone.free_pages - zone.low_pages
        if zone.promo_pages is None:
            assert value(text, "minfree_zone_watermark_pages", level="promo", **labels) is None
        blocks = buddyinfo.free_blocks(zone.node, zone.name) if buddyinfo else None
        if blocks is None:
            assert value(text, "minfree_zone_highest_free_order", **labels) is None
            continue
        for order, count in enumerate(blocks):
            assert value(text, "minfree_zone_free_blocks", order=str(order), **labels) == count
        top = max((o for o, n in enumerate(blocks) if n), default=-1)
        assert value(text, "minfree_zone_highest_free_order", **labels) == top
    assert exported > 0


def test_reclaim_counters_equal_vmstat(tmp_path: Path) -> None:
    path = firecracker_root(tmp_path)
    text = scrape(path)
    vm = parse_vmstat((path / "proc" / "vmstat").read_text())
    assert value(text, "minfree_reclaim_scanned_pages_total", mode="kswapd") == vm.pgscan_kswapd_total
    assert value(text, "minfree_reclaim_scanned_pages_total", mode="direct") == vm.pgscan_direct_total
    assert value(text, "minfree_reclaim_stolen_pages_total", mode="kswapd") == vm.pgsteal_kswapd_total
    assert value(text, "minfree_allocation_stalls_total") == vm.allocstall_total
    assert value(text, "minfree_compaction_stalls_total") == vm.get("compact_stall")
    assert value(text, "minfree_compaction_failures_total") == vm.get("compact_fail")
    assert value(text, "minfree_kswapd_low_wmark_hit_quickly_total") == vm.get("kswapd_low_wmark_hit_quickly")
    # 67584 kB: the 6.18 host's min_free_kbytes, read from sysctl -a in the capture
    assert value(text, "minfree_sysctl", name="vm.min_free_kbytes") == 67584
    assert value(text, "minfree_sysctl", name="vm.watermark_scale_factor") == 10


def test_old_kernel_vmstat_sums_per_zone_counters() -> None:
    # 3.2 kernel: pgscan_kswapd_<zone>, a single allocstall; the totals must be the sums.
    path = ROOTS / "ubuntu-3.2.0-58-generic"
    text = scrape(path)
    raw = dict(line.split() for line in (path / "proc" / "vmstat").read_text().splitlines() if line.strip())
    expected = sum(int(v) for k, v in raw.items() if k.startswith("pgscan_kswapd_"))
    assert value(text, "minfree_reclaim_scanned_pages_total", mode="kswapd") == expected
    assert value(text, "minfree_allocation_stalls_total") == int(raw["allocstall"])


def test_a_tar_bundle_gives_the_same_metrics_as_its_directory(tmp_path: Path) -> None:
    import tarfile

    source = firecracker_root_with_failures(tmp_path / "dir")
    bundle = tmp_path / "host.tar.gz"
    with tarfile.open(bundle, "w:gz") as tar:
        tar.add(source, arcname="sosreport-host")
    assert without_analysis(normalise(scrape(bundle))) == without_analysis(normalise(scrape(source)))


# --- missing and broken sources ------------------------------------------------------------------
def test_missing_files_leave_metrics_out_and_count_errors() -> None:
    # issabel: zoneinfo and vmstat only; no buddyinfo, no proc/sys, no sysctl -a
    text = scrape(ROOTS / "issabel-el8-partial")
    assert value(text, "minfree_zone_free_pages", node="0", zone="Normal") is not None
    assert value(text, "minfree_zone_free_blocks", node="0", zone="Normal", order="0") is None
    assert value(text, "minfree_collector_errors_total", source="buddyinfo") == 1
    assert value(text, "minfree_collector_errors_total", source="sysctl") == 1
    assert value(text, "minfree_collector_errors_total", source="zoneinfo") == 0
    assert value(text, "minfree_collector_errors_total", source="vmstat") == 0
    for source in SOURCES:
        assert value(text, "minfree_collector_errors_total", source=source) is not None


def test_errors_accumulate_across_scrapes(tmp_path: Path) -> None:
    root = tmp_path / "r"
    (root / "proc").mkdir(parents=True)
    (root / "proc" / "zoneinfo").write_text("this is not zoneinfo\n")
    collector = MinfreeCollector(root, follow_kmsg=False)
    registry = build_registry(collector)
    for expected in (1, 2, 3):
        text = generate_latest(registry).decode()
        assert value(text, "minfree_collector_errors_total", source="zoneinfo") == expected
        assert value(text, "minfree_collector_errors_total", source="vmstat") == expected
    assert "minfree_zone_free_pages{" not in text
    assert "zoneinfo" in collector.errors.last_message["zoneinfo"]


def test_each_new_reason_is_logged_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = firecracker_root(tmp_path)
    (root / "proc" / "vmstat").unlink()
    registry = build_registry(MinfreeCollector(root, follow_kmsg=False))
    with caplog.at_level("WARNING", logger="minfree.exporter"):
        for _ in range(3):
            generate_latest(registry)
    vmstat_lines = [r.getMessage() for r in caplog.records if "cannot read vmstat" in r.getMessage()]
    assert vmstat_lines == ["cannot read vmstat: proc/vmstat: absent (its metrics are left out until it can)"]


def test_unreadable_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    # A directory where a file should be cannot be read even by root (EISDIR); as another
    # user a mode-0 file would do the same (EACCES).
    root = firecracker_root(tmp_path)
    (root / "proc" / "buddyinfo").unlink()
    (root / "proc" / "buddyinfo").mkdir()
    text = scrape(root)
    assert value(text, "minfree_collector_errors_total", source="buddyinfo") == 1
    assert value(text, "minfree_zone_free_pages", node="0", zone="DMA32") is not None
    assert value(text, "minfree_zone_free_blocks", node="0", zone="DMA32", order="0") is None


def test_scrape_budget_skips_the_remaining_sources(tmp_path: Path) -> None:
    root = firecracker_root(tmp_path)
    ticks = iter(range(0, 1000, 10))  # every clock read advances 10 s
    sample = read_memory_sample(open_root(root), budget_seconds=5, clock=lambda: next(ticks))
    assert sample.zones, "zoneinfo comes first and is always read"
    assert set(sample.failed) == {"buddyinfo", "vmstat", "sysctl"}
    assert all("budget" in why for why in sample.failed.values())


def test_failures_from_the_root_logs_with_suppressed_callbacks(tmp_path: Path) -> None:
    text = scrape(firecracker_root_with_failures(tmp_path))
    total = sum(v for (name, _), v in samples(text).items()
                if name == "minfree_page_allocation_failures_total")
    # 022.log: 1 report + 59 suppressed; 028.log: 1 + 5676 suppressed; 010.log: 3 reports
    assert total == 1 + 59 + 1 + 5676 + 3
    assert value(text, "minfree_page_allocation_failures_total",
                 order="unknown", context="unknown", gfp="unknown") == 59 + 5676
    assert value(text, "minfree_page_allocation_failures_total",
                 order="0", context="network-receive", gfp="GFP_ATOMIC") == 1
    assert value(text, "minfree_collector_errors_total", source="kernel_log") == 0


def test_root_without_logs_counts_a_kernel_log_error(tmp_path: Path) -> None:
    text = scrape(firecracker_root(tmp_path))
    assert value(text, "minfree_collector_errors_total", source="kernel_log") == 1
    assert "minfree_page_allocation_failures_total" not in text


def test_analysis_failure_is_counted_and_does_not_break_the_scrape(tmp_path: Path) -> None:
    def broken(root):
        raise RuntimeError("boom")

    text = scrape(firecracker_root(tmp_path), analyse_fn=broken)
    assert value(text, "minfree_collector_errors_total", source="analysis") == 1
    assert value(text, "minfree_zone_free_pages", node="0", zone="DMA32") is not None
    assert "minfree_finding{" not in text


@pytest.mark.parametrize("name", sorted(GOLDEN_ROOTS))
def test_analysis_is_the_doctors(name: str, tmp_path: Path) -> None:
    """Findings and reserve equal what `minfree doctor --json` reports for the root."""
    import json
    import subprocess
    import sys

    path = root_path(name, tmp_path)
    doctor = subprocess.run([sys.executable, "-m", "minfree", "doctor", "--json", "--root", str(path)],
                            capture_output=True, text=True, timeout=120)
    document = json.loads(doctor.stdout)
    expected = {(f["key"], f["severity"]) for f in document["findings"]}
    text = scrape(path)
    got = {(dict(labels)["key"], dict(labels)["severity"])
           for (metric, labels), v in samples(text).items() if metric == "minfree_finding" and v == 1}
    assert got == expected
    assert value(text, "minfree_collector_errors_total", source="analysis") == 0
    # the reserve: the doctor's min_free_kbytes recommendation, else today's value
    raised = [r for r in document["recommendations"] if r.get("sysctl") == "vm.min_free_kbytes"]
    current = document["settings"].get("vm.min_free_kbytes")
    current = current.get("value") if isinstance(current, dict) else current
    if raised:
        assert value(text, "minfree_recommended_min_free_kbytes") == int(raised[0]["recommended"])
    elif document["chosen"].get("min_free_kbytes") is not None and current is not None:
        assert value(text, "minfree_recommended_min_free_kbytes") == int(current)


def test_analysis_metrics(tmp_path: Path) -> None:
    result = AnalysisResult(
        findings=(("MIN_FREE_BELOW_KERNEL_DEFAULT", "warning"), ("SWAPPINESS_HIGH", "notice")),
        recommended_min_free_kbytes=1150976,
    )
    text = scrape(firecracker_root(tmp_path), analyse_fn=lambda root: result)
    assert value(text, "minfree_finding", key="MIN_FREE_BELOW_KERNEL_DEFAULT", severity="warning") == 1
    assert value(text, "minfree_finding", key="SWAPPINESS_HIGH", severity="notice") == 1
    assert value(text, "minfree_recommended_min_free_kbytes") == 1150976


# --- registry hygiene and the fast exposition ---------------------------------------------------
def test_collector_never_touches_the_global_registry(tmp_path: Path) -> None:
    before = set(REGISTRY._names_to_collectors)
    scrape(firecracker_root(tmp_path))
    assert set(REGISTRY._names_to_collectors) == before
    assert not any(name.startswith("minfree_") for name in REGISTRY._names_to_collectors)


@pytest.mark.parametrize("name", sorted(GOLDEN_ROOTS))
def test_fast_exposition_is_byte_identical_to_generate_latest(name: str, tmp_path: Path) -> None:
    # two collectors: error counters advance with every scrape of the same one
    path = root_path(name, tmp_path)
    fast = exposition(build_registry(MinfreeCollector(path, follow_kmsg=False)))
    reference = generate_latest(build_registry(MinfreeCollector(path, follow_kmsg=False)))
    assert normalise(fast.decode()) == normalise(reference.decode())


def test_label_values_are_escaped_like_generate_latest(tmp_path: Path) -> None:
    collector = MinfreeCollector(firecracker_root_with_failures(tmp_path), follow_kmsg=False)
    collector.failures.poll()
    collector.failures.counts[("1", 'soft"irq', "GFP\\ATOMIC\nX")] = 2
    registry = build_registry(collector)
    fast = normalise(exposition(registry).decode())
    assert fast == normalise(generate_latest(registry).decode())
    assert 'context="soft\\"irq"' in fast


# --- the parse-only-what-is-needed filters --------------------------------------------------------
def _zoneinfo_files() -> list[Path]:
    files = sorted(ROOTS.glob("*/proc/zoneinfo")) + sorted(CAPTURE.glob("zoneinfo*"))
    files += [p for p in sorted((FIXTURES / "proc-files").rglob("zoneinfo*")) if p.is_file()]
    return files


@pytest.mark.parametrize("path", _zoneinfo_files(), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_zoneinfo_filter_gives_the_same_zones(path: Path) -> None:
    text = path.read_text(errors="replace")
    # every real zoneinfo fixture parses (tests/test_parsers_*): a rejection is a failure here too
    full = parse_zoneinfo(text).to_zones()
    filtered = parse_zoneinfo(needed_zoneinfo_lines(text)).to_zones()
    assert len(filtered) == len(full)
    for a, b in zip(full, filtered, strict=True):
        # fields the exporter does not use and the filter drops on purpose
        assert (a.node, a.name, a.index, a.free_pages, a.min_pages, a.low_pages, a.high_pages,
                a.promo_pages, a.boost_pages, a.managed_pages, a.present_pages,
                a.protection_pages) == (
                b.node, b.name, b.index, b.free_pages, b.min_pages, b.low_pages, b.high_pages,
                b.promo_pages, b.boost_pages, b.managed_pages, b.present_pages,
                b.protection_pages)


@pytest.mark.parametrize("path", [*sorted(ROOTS.glob("*/proc/vmstat")), CAPTURE / "vmstat"],
                         ids=lambda p: str(p.relative_to(FIXTURES)))
def test_vmstat_filter_gives_the_same_totals(path: Path) -> None:
    text = path.read_text()
    full = parse_vmstat(text)
    filtered = parse_vmstat(needed_vmstat_lines(text)) if needed_vmstat_lines(text).strip() else None
    for attribute in ("pgscan_kswapd_total", "pgscan_direct_total", "pgsteal_kswapd_total",
                      "pgsteal_direct_total", "allocstall_total", "compact_stall", "compact_fail",
                      "kswapd_low_wmark_hit_quickly"):
        expected = getattr(full, attribute)
        got = getattr(filtered, attribute) if filtered is not None else None
        assert got == expected, attribute


# --- garbage never escapes -------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(zoneinfo=st.text(max_size=400), buddyinfo=st.text(max_size=200), vmstat=st.text(max_size=200))
def test_garbage_files_never_break_a_scrape(tmp_path_factory, zoneinfo, buddyinfo, vmstat) -> None:
    root = tmp_path_factory.mktemp("garbage")
    (root / "proc").mkdir()
    (root / "proc" / "zoneinfo").write_text(zoneinfo)
    (root / "proc" / "buddyinfo").write_text(buddyinfo)
    (root / "proc" / "vmstat").write_text(vmstat)
    text = scrape(root)
    assert "minfree_collector_errors_total" in text


# --- kernel log following ----------------------------------------------------------------------------
class _FakeReader:
    """Hands out prepared /dev/kmsg-style records in batches, as the device would."""

    def __init__(self, batches: list[list[str]]) -> None:
        self.batches = batches
        self.last_record_seconds: float | None = None

    def read_new(self) -> list[str]:
        return self.batches.pop(0) if self.batches else []

    def close(self) -> None:
        pass


def _kmsg_records(log: Path, start_usec: int = 5_000_000) -> list[str]:
    """A fixture log's messages as KmsgReader returns /dev/kmsg records: dmesg lines."""
    from minfree.parsers.kernel_log_prefix import split_prefix

    records = []
    for seq, line in enumerate(log.read_text(errors="replace").splitlines()):
        usec = start_usec + seq
        records.append(f"[{usec // 1_000_000:5d}.{usec % 1_000_000:06d}] {split_prefix(line).message}")
    return records


def test_failure_split_across_polls_is_counted_once_when_complete() -> None:
    log = FIXTURES / "kernel-logs" / "reports" / "002.log"
    records = _kmsg_records(log)
    clock = [100.0]
    failures = FailureLog(open_root(None), follow_kmsg=True, clock=lambda: clock[0])
    failures._reader = _FakeReader([records[: len(records) // 2], records[len(records) // 2:], []])
    first = failures.poll()
    clock[0] += 0.1
    second = failures.poll()
    clock[0] += 5  # quiet log: the open report is closed after settle_seconds
    third = failures.poll()
    total = first + second + third
    assert total, "the report in 002.log must be found"
    assert sum(failures.counts.values()) == sum(1 + e.suppressed for e in total)
    assert all(e.order != "unknown" for e in total)
    assert failures.last_seen_seconds is not None


def test_unreadable_kmsg_is_counted_and_hides_only_the_failure_metrics() -> None:
    collector = MinfreeCollector(None, follow_kmsg=True, kmsg_path="/nonexistent/kmsg",
                                 analyse_fn=lambda root: AnalysisResult())
    registry = build_registry(collector)
    try:
        for expected in (1, 2):
            text = generate_latest(registry).decode()
            assert value(text, "minfree_collector_errors_total", source="kernel_log") == expected
        assert "minfree_page_allocation_failures_total" not in text
        assert "minfree_zone_free_pages{" in text
        assert "No such file" in collector.errors.last_message["kernel_log"]
    finally:
        collector.close()


def test_no_kmsg_on_the_live_host_exports_no_failure_metrics_and_no_error() -> None:
    collector = MinfreeCollector(None, follow_kmsg=False, analyse_fn=lambda root: AnalysisResult())
    text = generate_latest(build_registry(collector)).decode()
    assert "minfree_page_allocation_failures_total" not in text
    assert value(text, "minfree_collector_errors_total", source="kernel_log") == 0


def test_old_report_read_whole_is_counted_at_once() -> None:
    """Records logged long ago (kernel time stamps) need no second poll to be counted."""
    records = _kmsg_records(FIXTURES / "kernel-logs" / "reports" / "022.log", start_usec=1_000_000)
    reader = _FakeReader([records])
    reader.last_record_seconds = 1.0 + len(records) / 1e6  # seconds after boot
    failures = FailureLog(open_root(None), follow_kmsg=True, clock=lambda: 0.0)
    failures._reader = reader
    events = failures.poll()
    assert [e.suppressed for e in events] == [59]
    assert sum(failures.counts.values()) == 60


def test_kmsg_reader_reads_only_new_records() -> None:
    if not os.access("/dev/kmsg", os.R_OK | os.W_OK):
        pytest.skip("/dev/kmsg not readable and writable here")
    from minfree.outputs.prometheus import KmsgReader

    reader = KmsgReader()
    try:
        reader.read_new()  # the ring buffer so far
        marker = f"minfree-test-marker-{os.getpid()}"
        with open("/dev/kmsg", "w") as kmsg:
            kmsg.write(f"<7>{marker}\n")
        new = reader.read_new()
        assert any(marker in line for line in new)
        assert reader.read_new() == []
        # the kernel's time stamp of the marker: seconds since boot, close to now
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        assert reader.last_record_seconds is not None
        assert abs(uptime - reader.last_record_seconds) < 60
    finally:
        reader.close()
