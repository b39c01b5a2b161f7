"""Kernel log parser: every prefix format, header era and mangling, and garbage resistance."""

from __future__ import annotations

import dataclasses
import random
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES
from minfree.parsers import kernel_log
from minfree.parsers.kernel_log import MAX_LINE_CHARS, parse_kernel_log, scan_chunks
from minfree.parsers.kernel_log_prefix import split_prefix

REPORTS = FIXTURES / "kernel-logs" / "reports"
NEARMISS = FIXTURES / "kernel-logs" / "nearmiss"
HEADER_56 = "swapper/3: page allocation failure: order:0, mode:0xa20(GFP_ATOMIC), nodemask=(null),cpuset=/,mems_allowed=0"


def _one(text: str):
    parsed = parse_kernel_log(text, "t")
    assert len(parsed.reports) == 1, parsed
    return parsed.reports[0]


def _scan(data: bytes, chunk: int = 1 << 20, engine: str = "default"):
    """Stream ``data`` in chunks; ``engine`` "bytes.find" turns Hyperscan off, "hyperscan"
    requires it (with small search windows, so literals straddle their borders)."""
    chunks = [data[i:i + chunk] for i in range(0, len(data), chunk)] or [b""]
    if engine == "bytes.find":
        with mock.patch.object(kernel_log, "_hyperscan", return_value=None):
            return list(scan_chunks(chunks, "t"))
    if engine == "hyperscan":
        if kernel_log._hyperscan() is None:
            pytest.skip("hyperscan is not installed")
        with mock.patch.object(kernel_log, "HYPERSCAN_WINDOW_BYTES", 97):
            return list(scan_chunks(chunks, "t"))
    return list(scan_chunks(chunks, "t"))


ENGINES = ("hyperscan", "bytes.find")


@pytest.mark.parametrize(("line", "ts", "uptime", "host"), [
    (f"[ 5123.456789] {HEADER_56}", "[ 5123.456789]", 5123.456789, None),
    (f"[Mon Apr 20 15:08:07 2020] {HEADER_56}", "[Mon Apr 20 15:08:07 2020]", None, None),
    (f"Jun 13 04:36:30 db1 kernel: {HEADER_56}", "Jun 13 04:36:30", None, "db1"),
    (f"May 18 14:56:06 kernel: {HEADER_56}", "May 18 14:56:06", None, None),
    (f"Jun 13 04:36:30.123456 db1 kernel: {HEADER_56}", "Jun 13 04:36:30.123456", None, "db1"),
    (f"2024-03-01T10:00:00.123456+00:00 db1 kernel: {HEADER_56}", "2024-03-01T10:00:00.123456+00:00", None, "db1"),
    (f"2020-08-30T17:16:09+0200 db1 kernel: {HEADER_56}", "2020-08-30T17:16:09+0200", None, "db1"),
    (f"[  104.032925] db1 kernel: {HEADER_56}", "[  104.032925]", 104.032925, "db1"),
    (f"Nov  7 00:15:59 pi kernel: [264587.158522] {HEADER_56}", "Nov  7 00:15:59 [264587.158522]", 264587.158522, "pi"),
    (f"6,1234,5123456789,-;{HEADER_56}", "[ 5123.456789]", 5123.456789, None),
    (f"<4>[ 6207.637280]  [3:  Binder:9343_3:22875] {HEADER_56}", "[ 6207.637280]", 6207.63728, None),
    (f"[4: binder:569_5:27109] {HEADER_56}", None, None, None),
    (f"[   14.017417][    T1] {HEADER_56}", "[   14.017417]", 14.017417, None),
    (f"04166 < 4> [   36.172486] [03-19 10:05:52.172] {HEADER_56}", "[   36.172486]", 36.172486, None),
    (f"    kernel: {HEADER_56}", None, None, None),
    (f" {HEADER_56}", None, None, None),
    (HEADER_56, None, None, None),
])
def test_every_prefix_format(line, ts, uptime, host):
    report = _one(line)
    assert report.process == "swapper/3"
    assert (report.order, report.gfp_mask, report.gfp_names_printed) == (0, 0xA20, "GFP_ATOMIC")
    assert report.timestamp_text == ts
    assert report.uptime_seconds == (pytest.approx(uptime) if uptime is not None else None)
    assert split_prefix(line).host == host


def test_datetimes_where_the_format_has_them():
    assert _one(f"[Mon Apr 20 15:08:07 2020] {HEADER_56}").timestamp.isoformat() == "2020-04-20T15:08:07"
    iso = _one(f"2024-03-01T10:00:00.5+00:00 db1 kernel: {HEADER_56}").timestamp
    assert iso.isoformat() == "2024-03-01T10:00:00.500000+00:00"
    assert _one(f"Jun 13 04:36:30 db1 kernel: {HEADER_56}").timestamp is None  # no year printed


@pytest.mark.parametrize(("header", "process", "order", "mask", "names", "nodemask", "cpuset", "mems"), [
    ("txg_sync: page allocation failure. order:0, mode:0x20", "txg_sync", 0, 0x20, None, None, None, None),
    ("swapper/21: page allocation failure: order:0, mode:0x20", "swapper/21", 0, 0x20, None, None, None, None),
    ("java: page allocation failure: order:0, mode:0x2084120(GFP_ATOMIC|__GFP_COLD|__GFP_COMP)", "java", 0,
     0x2084120, "GFP_ATOMIC|__GFP_COLD|__GFP_COMP", None, None, None),
    ("RenderThread: page allocation failure: order:0, mode:0x14210d2(GFP_HIGHUSER|__GFP_NORETRY|__GFP_RECLAIMABLE), nodemask=(null)",
     "RenderThread", 0, 0x14210D2, "GFP_HIGHUSER|__GFP_NORETRY|__GFP_RECLAIMABLE", "(null)", None, None),
    ("pool-udisksd: page allocation failure: order:5, mode:0x40dc0(GFP_KERNEL|__GFP_COMP|__GFP_ZERO), nodemask=(null),cpuset=/,mems_allowed=0",
     "pool-udisksd", 5, 0x40DC0, "GFP_KERNEL|__GFP_COMP|__GFP_ZERO", "(null)", "/", "0"),
    ("AwsEventLoop 4: page allocation failure: order:0, mode:0x820(GFP_ATOMIC), nodemask=0-1,cpuset=/docker/ab,mems_allowed=0-1",
     "AwsEventLoop 4", 0, 0x820, "GFP_ATOMIC", "0-1", "/docker/ab", "0-1"),
    ("page allocation failure: order:2, mode:0x0()", None, 2, 0, "", None, None, None),
])
def test_header_eras(header, process, order, mask, names, nodemask, cpuset, mems):
    report = _one(f"[ 1.000000] {header}")
    assert (report.process, report.order, report.gfp_mask, report.gfp_names_printed) == (process, order, mask, names)
    assert (report.nodemask, report.cpuset, report.mems_allowed) == (nodemask, cpuset, mems)
    assert report.gfp_mask_text == f"{mask:#x}" if mask else "0x0"


def test_cpuset_on_its_own_line_and_cpu_line():
    report = _one((REPORTS / "030.log").read_text())
    assert (report.cpuset, report.mems_allowed) == ("/", "0")
    assert (report.pid, report.cpu, report.taint, report.kernel_release) == (668, 3, "G O", "4.14.78-bpi-r2-main")
    assert report.hardware == "Mediatek Cortex-A7 (Device Tree)"


def test_old_pid_line_gives_release_and_comm():
    report = _one((REPORTS / "040.log").read_text())
    assert (report.pid, report.kernel_release, report.taint) == (4, "2.6.32-358.el6.x86_64", "P")


def test_linux_version_line_gives_release_when_cpu_line_lacks_it():
    text = "[    0.000000] Linux version 5.4.0-42-generic (buildd@lgw01) (gcc 9.3.0)\n" + (REPORTS / "056.log").read_text()
    reports = parse_kernel_log(text, "t").reports
    assert {r.kernel_release for r in reports} == {"5.4.0-42-generic"}
    assert {r.kernel_release_from for r in reports} == {"linux-version-line"}


def test_suppressed_count_attaches_to_next_header():
    report = _one((REPORTS / "022.log").read_text())
    assert report.suppressed == 59
    assert _one((REPORTS / "028.log").read_text()).suppressed == 5676


def test_trace_frames_context_modules_and_unreliable():
    report = _one((REPORTS / "002.log").read_text().split("\n\n\n")[0])
    first = report.trace[0]
    assert (first.function, first.offset, first.unreliable, first.context) == (
        "__alloc_pages_internal", "0x3df/0x3ff", True, "IRQ")
    e1000 = next(f for f in report.trace if f.function == "e1000_alloc_rx_buffers")
    assert e1000.module == "e1000e"
    assert report.trace[-1].context == "TASK"  # after <EOI>
    modern = _one((REPORTS / "042.log").read_text())
    assert modern.trace[0].function == "dump_stack_lvl"
    assert modern.trace[0].context == "TASK"
    arm = _one((REPORTS / "016.log").read_text())
    assert [f.function for f in arm.trace[:3]] == ["unwind_backtrace", "show_stack", "warn_alloc_failed"]
    assert any(f.module == "rtl_usb" for f in arm.trace)
    old = _one((REPORTS / "004.log").read_text())
    assert [f.function for f in old.trace[:3]] == ["__alloc_pages", "cache_grow", "cache_alloc_refill"]
    ppc_like = _one("x: page allocation failure: order:0, mode:0x820(GFP_ATOMIC)\n"
                    "[c000000007eeb370] [c00000000079cce0] dump_stack+0xc4/0x114 (unreliable)\n")
    assert ppc_like.trace[0].unreliable


def test_full_meminfo_block():
    report = _one((REPORTS / "050.log").read_text())
    m = report.meminfo
    assert m.global_counters["free"] == 36223
    assert m.global_counters["kernel_misc_reclaimable"] == 0
    assert m.nodes[0]["anon_thp"] == "8534016kB"
    normal = next(z for z in m.zones if z.zone == "Normal")
    assert (normal.node, normal.free_kb, normal.boost_kb, normal.min_kb, normal.low_kb, normal.high_kb) == (
        0, 79392, 28672, 80308, 93216, 106124)
    assert (normal.reserved_highatomic_kb, normal.free_highatomic_kb) == (2048, 32)
    assert normal.managed_kb == 9346788
    assert normal.lowmem_reserve_pages == (0, 0, 0, 0, 0)
    buddy = m.buddy_for(0, "Normal")
    assert buddy.counts == (1024, 534, 409, 1301, 154, 39, 14, 1, 2, 1, 0)
    assert buddy.migratetypes[0] == "UMEH"
    assert buddy.total_kb == 79584
    assert [h.size_kb for h in m.hugepages] == [1048576, 2048]
    assert (m.pagecache_pages, m.swap_cache_pages, m.free_swap_kb, m.total_swap_kb) == (299766, 0, 8387580, 8387580)
    assert (m.ram_pages, m.highmem_pages, m.reserved_pages, m.hwpoisoned_pages) == (4022646, 0, 949254, 0)
    assert m.page_size_kb == 4
    assert report.last_line == len((REPORTS / "050.log").read_text().splitlines())


def test_mail_wrapped_meminfo_and_header():
    report = _one((REPORTS / "004.log").read_text())
    assert report.header_lines == 2
    assert report.gfp_mask == 0x20
    assert report.order == 1
    zone = next(z for z in report.meminfo.zones if z.node == 0 and z.zone == "DMA32")
    assert (zone.free_kb, zone.min_kb, zone.low_kb, zone.high_kb, zone.present_kb) == (116428, 4552, 5688, 6828, 3989664)
    assert report.meminfo.buddy_for(1, "Normal").counts[0] == 45755
    assert report.meminfo.buddy_for(1, "DMA").empty


def test_three_line_header_and_wrapped_cpu_line():
    report = _one((REPORTS / "058.log").read_text())
    assert report.header_lines == 3
    assert (report.process, report.cpuset, report.mems_allowed) == ("CPU 0/KVM", "emulator", "1")
    assert report.kernel_release == "5.8.5-arch1-1"
    assert report.taint == "P OE"
    assert report.hardware == ("To Be Filled By O.E.M. To Be Filled By O.E.M./X399 Phantom Gaming 6, "
                               "BIOS P1.10 11/15/2018")


def test_underscore_for_star_and_rsyslog_escapes():
    line = ("Jun 13 04:36:30 db1 kernel: swapper: page allocation failure. order:1, mode:0x20"
            "#012Mem-Info:#012Normal free:6380kB min:6112kB low:7640kB high:9168kB present:4395520kB"
            "#012lowmem_reserve[]: 0 0 0 0#012Normal: 1310_4kB 99_8kB 6_16kB 0_32kB = 6256kB")
    report = _one(line)
    assert report.meminfo.zones[0].min_kb == 6112
    assert report.meminfo.buddy[0].counts == (1310, 99, 6, 0)
    journal = _one("Jul 15 03:01:26 backup kernel: active_anon:1 inactive_anon:2 isolated_anon:0\n"
                   "Jul 15 03:01:26 backup kernel: swapper: page allocation failure. order:1, mode:0x20\n"
                   "Jul 15 03:01:26 backup kernel: Mem-Info:\n"
                   "Jul 15 03:01:26 backup kernel: active_anon:1 inactive_anon:2 isolated_anon:0#012 free:5 free_pcp:1")
    assert journal.meminfo.global_counters["free"] == 5


def test_indented_copies():
    text = "\n".join("    " + line for line in (REPORTS / "048.log").read_text().splitlines())
    report = _one(text)
    assert report.process == "ksoftirqd/0"
    assert report.kernel_release == "4.3.3-coreos-r2"


def test_related_events_are_not_failures():
    text = "\n".join([
        "[1.0] __alloc_pages: 0-order allocation failed (gfp=0x1d2/0)",
        "[2.0] vmalloc: allocation failure: 4096 bytes",
        "[3.0] kworker/0:1: vmalloc error: size 8192, vm_struct allocation failed, mode:0xcc0(GFP_KERNEL), nodemask=(null)",
        "[4.0] SLUB: Unable to allocate memory on node -1, gfp=0xa20(GFP_ATOMIC)",
        "[5.0] bash: page allocation stalls for 10015ms, order:0, mode:0x24201ca(GFP_HIGHUSER_MOVABLE|__GFP_COLD)",
        "[6.0] java invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=0",
        "[6.1] Out of memory: Killed process 42 (java) total-vm:1kB",
    ])
    parsed = parse_kernel_log(text, "t")
    assert parsed.reports == ()
    assert [e.kind for e in parsed.related] == [
        "legacy-alloc-pages-failure", "vmalloc-failure", "vmalloc-failure", "slub-unable-to-allocate",
        "allocation-stall", "oom-killer"]
    legacy, _v1, vm2, slub, _stall, oom = parsed.related
    assert legacy.order == 0
    assert (vm2.process, vm2.gfp_mask_text) == ("kworker/0:1", "0xcc0")
    assert slub.gfp_mask == 0xA20
    assert (oom.process, oom.victim, oom.order, oom.gfp_mask_text) == ("java", "java", 0, "0x100cca")


def test_failure_inside_oom_report_still_counts():
    text = "\n".join([
        "[1.0] java invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=0",
        "[1.1] CPU: 0 PID: 5 Comm: java Not tainted 5.10.0 #1",
        "[1.2] swapper/0: page allocation failure: order:0, mode:0xa20(GFP_ATOMIC), nodemask=(null)",
        "[1.3] CPU: 0 PID: 0 Comm: swapper/0 Not tainted 5.10.0 #1",
        "[1.4] Out of memory: Killed process 5 (java) total-vm:1kB",
    ])
    parsed = parse_kernel_log(text, "t")
    assert len(parsed.reports) == 1
    assert parsed.reports[0].during_oom
    assert [e.kind for e in parsed.related] == ["oom-killer"]
    # The byte scanner does not search for "oom-killer" itself: it looks back for it from
    # the header and from the "Out of memory" line, and must find the same.
    noise = b"".join(b"[0.5] eth0: link up %d\n" % i for i in range(2000))
    items = _scan(noise + text.encode() + b"\n" + noise, chunk=4096)
    reports = [i for i in items if type(i).__name__ == "FailureReport"]
    related = [i for i in items if type(i).__name__ == "RelatedEvent"]
    assert len(reports) == 1
    assert reports[0].during_oom
    assert reports[0].first_line == 2000 + 3
    assert [(e.kind, e.process, e.victim, e.line) for e in related] == [("oom-killer", "java", "java", 2001)]


def test_report_ends_at_unrelated_lines_and_keeps_line_range():
    text = (REPORTS / "056.log").read_text()
    reports = parse_kernel_log(text, "t").reports
    assert [(r.first_line, r.last_line) for r in reports] == [(i, i) for i in range(1, 6)]
    nm = parse_kernel_log((NEARMISS / "006.log").read_text(), "t")
    assert nm.reports == ()
    assert nm.related[0].line == 11


def test_empty_and_blank_inputs():
    assert parse_kernel_log("", "t").reports == ()
    assert _scan(b"") == []
    assert _scan(b"\n\n\n") == []


def test_truncated_report_mid_line():
    data = (REPORTS / "050.log").read_bytes()
    for cut in (90, len(data) // 3, len(data) - 7):
        items = _scan(data[:cut], chunk=997)
        assert len([i for i in items if type(i).__name__ == "FailureReport"]) == 1


def test_ten_megabyte_line_and_binary_noise():
    big = b"x" * (10 << 20)
    tail = b"z: page allocation failure: order:3, mode:0x20\n"
    data = (b"start\n" + big + b"\n" + (REPORTS / "048.log").read_bytes() + big + b"\n" + tail
            + big + b"page allocation failure beyond the line limit is not read")
    items = _scan(data, chunk=1 << 20)
    reports = [i for i in items if type(i).__name__ == "FailureReport"]
    assert len(reports) == 2
    assert reports[1].order == 3
    assert reports[1].first_line == 3 + len((REPORTS / "048.log").read_bytes().splitlines()) + 1
    assert reports[0].first_line == 3
    assert reports[0].process == "ksoftirqd/0"
    rng = random.Random(7)
    binary = bytes(rng.getrandbits(8) for _ in range(300_000))
    assert [i for i in _scan(binary, chunk=4096) if type(i).__name__ == "FailureReport"] == []
    huge_header = b"p: page allocation failure: order:0, mode:0x20 " + b"y" * (3 * MAX_LINE_CHARS) + b"\n"
    [only] = _scan(huge_header, chunk=1000)
    assert only.gfp_mask == 0x20


def test_line_numbers_exact_after_skipping():
    noise = b"".join(b"Mar  1 00:00:%02d host sshd[1]: Accepted key\n" % (i % 60) for i in range(5000))
    data = noise + (REPORTS / "022.log").read_bytes()
    for chunk in (64, 4096, 1 << 20):
        items = _scan(data, chunk=chunk)
        [report] = [i for i in items if type(i).__name__ == "FailureReport"]
        assert report.first_line == 5000 + 10
        assert [e.line for e in items if type(e).__name__ == "RelatedEvent"] == [5003, 5007]


_PAYLOAD = st.one_of(
    st.binary(max_size=12),
    st.text(alphabet="abc:0x[]()<>|,= \n\t*_0123456789", max_size=12).map(str.encode),
    st.sampled_from([b"page allocation failure", b"Mem-Info:", b"Call Trace:", b"<IRQ>",
                     b"lowmem_reserve[]: 0 0", b"Normal: 1*4kB = 4kB", b"#012", b"mode:0x20"]),
)
_ALL_LOGS = sorted(REPORTS.glob("*.log")) + sorted(NEARMISS.glob("*.log"))


@pytest.mark.parametrize("engine", ENGINES)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000), st.integers(min_value=1, max_value=600))
def test_arbitrary_bytes_never_raise(engine, data, chunk):
    items = _scan(data, chunk=chunk, engine=engine)
    for item in items:
        assert item.source == "t"
    parse_kernel_log(data.decode("utf-8", "replace"), "t")


@pytest.mark.parametrize("engine", ENGINES)
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_ALL_LOGS), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 4),
                                                        _PAYLOAD), max_size=12),
       st.integers(min_value=1, max_value=5000))
def test_mutated_real_logs_never_raise_and_streaming_agrees(engine, path, edits, chunk):
    data = bytearray(path.read_bytes())
    for position, action, payload in edits:
        at = position % (len(data) + 1)
        if action == 0:
            data[at:at] = payload  # insert
        elif action == 1:
            del data[at:at + len(payload) + 1]  # delete
        elif action == 2:
            data[at:at + len(payload)] = payload  # overwrite
        elif action == 3:
            data[at:at] = b"\n"  # split a line
        else:
            data = data[:at]  # truncate
    data = bytes(data)
    streamed = [i for i in _scan(data, chunk=chunk, engine=engine) if type(i).__name__ == "FailureReport"]
    whole = parse_kernel_log(data.decode("utf-8", "replace"), "t").reports
    # Decoding line by line and whole-text may differ only where bytes are not UTF-8
    # (a multi-byte sequence broken by a chunk border is decoded per line either way).
    if b"\r" not in data and all(b < 0x80 for b in data):
        # during_oom needs the "invoked oom-killer" line, which the byte scanner only finds
        # by looking back within the chunk it is reading (4 MiB in use, tiny here).
        def masked(reports):
            return [dataclasses.replace(r, during_oom=False) for r in reports]

        assert masked(streamed) == masked(whole)
