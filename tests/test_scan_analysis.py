"""Context, verdict, advice, grouping and de-duplication of scanned failure reports."""

from __future__ import annotations

import dataclasses

import pytest

from conftest import FIXTURES
from minfree.analysis.failure_report import (
    analyze_report,
    classify_context,
    explain_scan,
    zone_indices,
    zones_from_meminfo,
)
from minfree.kernel.gfp import decode_gfp
from minfree.parsers.kernel_log import parse_kernel_log
from minfree.sources.kernel_logs import read_failure_reports

REPORTS = FIXTURES / "kernel-logs" / "reports"


def scan(inputs=None, *, all_logs=False):
    """A whole scan: read the logs (sources), then explain the reports (analysis)."""
    return explain_scan(read_failure_reports(inputs, all_logs=all_logs))


def _reports(name: str):
    return parse_kernel_log((REPORTS / name).read_text(encoding="utf-8", errors="replace"), name).reports


def test_decoder_reproduces_every_printed_mode_from_hex_and_release():
    checked = 0
    for path in sorted(REPORTS.glob("*.log")):
        for report in _reports(path.name):
            if report.gfp_names_printed is not None and report.kernel_release:
                decoding = decode_gfp(report.gfp_mask, report.kernel_release)
                assert decoding.names == report.gfp_names_printed, path.name
                checked += 1
    assert checked >= 12


@pytest.mark.parametrize(("name", "kind", "where"), [
    ("039.log", "tcp-accept", "process"),  # Aerospike: asd, sk_clone via accept()
    ("024.log", "tcp-accept", "interrupt"),  # same path from the softirq of the idle task
    ("002.log", "network-receive", "interrupt"),
    ("038.log", "network-receive", "interrupt"),  # IRQ section wins over the syscall below it
    ("040.log", "network-receive", "interrupt"),
    ("018.log", "dma-coherent", "process"),
    ("054.log", "dma-coherent", "process"),  # "swapper/0" with PID 1: init at boot, not idle
    ("042.log", "syscall", "process"),
    ("050.log", "block-filesystem", "process"),
    ("036.log", "slab-refill", "process"),
])
def test_context_from_trace(name, kind, where):
    report = _reports(name)[-1]
    context = classify_context(report)
    assert (context.kind, context.where) == (kind, where)


def test_context_without_trace():
    report = _reports("056.log")[1]  # irssi, header only
    context = classify_context(report)
    assert context.kind == "unknown"
    assert context.interrupt is None


def test_zones_from_meminfo_in_pages_with_indices():
    report = _reports("050.log")[0]
    indices = zone_indices(report.meminfo)
    assert indices == {"DMA": 0, "DMA32": 1, "Normal": 2, "Movable": 3, "Device": 4}
    normal = next(z for z in zones_from_meminfo(report.meminfo) if z.name == "Normal")
    assert (normal.index, normal.free_pages, normal.min_pages, normal.boost_pages) == (2, 19848, 20077, 7168)
    assert normal.free_blocks[0] == 1024
    assert normal.reserved_highatomic_pages == 512
    assert normal.free_blocks_by_migratetype["HighAtomic"][0] == 1024
    android = _reports("026.log")[0]
    assert zone_indices(android.meminfo) == {"Normal": 0, "Movable": 1}


def test_verdict_reserve_exhausted_with_numbers():
    analysed = analyze_report(_reports("050.log")[0])
    verdict = analysed.verdict
    assert verdict.kind == "reserve-exhausted"
    assert not verdict.inferred
    normal = next(z for z in verdict.zones if z.zone == "Normal")
    assert normal.failed_by == "watermark"
    assert not normal.passed
    # GFP_NOFS gets no discount: it must clear the full min (boost included) = 80308 kB
    assert normal.effective_min_pages * 4 == 80308
    assert "79392 kB free" in verdict.reason
    assert "vm.min_free_kbytes" in analysed.advice


def test_verdict_fragmented_for_order_one_rx():
    analysed = analyze_report(_reports("002.log")[0])
    assert analysed.verdict.kind == "fragmented"
    normal = next(z for z in analysed.verdict.zones if z.zone == "Normal")
    assert normal.failed_by == "order"
    assert "order-1" in analysed.advice


def test_verdict_constrained_by_nodemask():
    report = _reports("004.log")[0]  # two nodes; node 1 Normal has 184796 kB free
    # Make node 0 the only allowed node and empty its free lists: only node 1 has room.
    zones = tuple(dataclasses.replace(z, free_kb=0) if z.node == 0 else z for z in report.meminfo.zones)
    meminfo = dataclasses.replace(report.meminfo, zones=zones)
    constrained = dataclasses.replace(report, meminfo=meminfo, nodemask="0", order=0)
    analysed = analyze_report(constrained)
    assert analysed.verdict.kind == "constrained"
    assert "node(s) 1" in analysed.verdict.reason
    assert "cpuset or nodemask" in analysed.advice


def test_advice_for_dma_zone_and_tcp_accept():
    dma = analyze_report(_reports("054.log")[0])
    assert dma.verdict.kind == "reserve-exhausted"
    assert "less than the 4096 kB block" in dma.verdict.reason
    assert "coherent_pool=" in dma.advice
    asd = analyze_report(_reports("039.log")[1])
    assert "socket's slab" in asd.advice
    assert "MTU" not in asd.advice


def test_verdict_unknown_without_meminfo_says_so():
    analysed = analyze_report(_reports("039.log")[1])
    assert analysed.verdict.kind == "unknown"
    assert analysed.verdict.inferred
    assert "no Mem-Info" in analysed.verdict.reason
    assert "inferred from order and mode" in analysed.verdict.reason
    order0 = analyze_report(_reports("048.log")[0]).verdict
    assert "reserve was most likely exhausted" in order0.reason


def test_highatomic_only_free_lists_are_pointed_out():
    analysed = analyze_report(_reports("026.log")[0])
    assert analysed.verdict.kind == "unknown"
    assert "HighAtomic or CMA" in analysed.verdict.reason


def test_scan_groups_and_counts(tmp_path):
    result = scan([str(REPORTS / "002.log"), str(REPORTS / "056.log"), str(REPORTS / "022.log")])
    assert result.failures == 3 + 5 + 1
    assert result.suppressed == 59
    top = result.groups[0]
    assert (top.process, top.count, top.verdict) == ("swapper", 3, "fragmented")
    assert top.first_seen == "Jul 15 03:01:26"
    assert top.last_seen == "Jul 15 03:01:29"
    assert result.related_counts == {"slub-unable-to-allocate": 2}


def test_same_report_in_two_sources_counted_once(tmp_path):
    kmsg_like = tmp_path / "dmesg.txt"
    syslog_like = tmp_path / "kern.log"
    text = (REPORTS / "050.log").read_text()
    kmsg_like.write_text(text)
    # rsyslog copy: date, host and "kernel:" in front, no uptime stamp
    lines = [line.split("] ", 1)[1] if line.startswith("[") else line for line in text.splitlines()]
    syslog_like.write_text("".join(f"Mar  1 10:00:00 host kernel: {line}\n" for line in lines))
    result = scan([str(kmsg_like), str(syslog_like)])
    assert result.failures == 1
    assert result.duplicates_dropped == 1
    # Two different reports in one source are both kept.
    both = scan([str(REPORTS / "002.log")])
    assert both.failures == 3
