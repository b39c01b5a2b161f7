"""The skip path's two searches (Hyperscan, and ``bytes.find`` without it) give one result.

Hyperscan lists the coarse hits of a window of the buffer; these tests shrink the window to
a few dozen bytes so literals straddle window borders (and chunk borders) all the time.
"""

from __future__ import annotations

import mmap
import random
import sys
import threading
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minfree.parsers import kernel_log
from minfree.parsers.kernel_log import (
    COARSE_TRIGGER_BYTES,
    parse_kernel_log,
    scan_buffer,
    scan_chunks,
)
from noisy_logs import ALL_LOGS, NOISE, noisy_log

pytest.importorskip("hyperscan")



def _scan(data: bytes, chunk: int, *, hyperscan: bool, window: int = 4 << 20):
    with mock.patch.object(kernel_log, "HYPERSCAN_WINDOW_BYTES", window):
        if hyperscan:
            assert kernel_log._hyperscan() is not None
            return list(scan_chunks([data[i:i + chunk] for i in range(0, len(data), chunk)], "t"))
        with mock.patch.object(kernel_log, "_hyperscan", return_value=None):
            return list(scan_chunks([data[i:i + chunk] for i in range(0, len(data), chunk)], "t"))


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("window", [37, 4096])
def test_hyperscan_scan_equals_find_scan(seed, window):
    data = noisy_log(seed)
    fast = _scan(data, 4096, hyperscan=True, window=window)
    plain = _scan(data, 4096, hyperscan=False)
    assert fast == plain
    reports = [i for i in fast if type(i).__name__ == "FailureReport"]
    whole = parse_kernel_log(data.decode("utf-8", "replace"), "t").reports
    assert [r.first_line for r in reports] == [r.first_line for r in whole]
    assert len(reports) > 60
    assert {e.kind for e in fast if type(e).__name__ == "RelatedEvent"} >= {
        "oom-killer", "vmalloc-failure", "allocation-stall", "slub-unable-to-allocate"}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(ALL_LOGS), st.integers(0, 10**6), st.integers(1, 300),
       st.sampled_from([b"\n", b"alloc", b"ut of memory", b"Linux version 6.1.0 #1\n", b"\x00\xff"]),
       st.integers(1, 9000), st.integers(14, 5000))
def test_mutated_logs_both_searches_agree(path, seed, noise_lines, payload, chunk, window):
    rng = random.Random(seed)
    data = bytearray(b"".join(rng.choice(NOISE) for _ in range(noise_lines)) + path.read_bytes())
    for _ in range(3):
        at = rng.randrange(len(data) + 1)
        data[at:at] = payload
    data = bytes(data) * 2
    assert _scan(data, chunk, hyperscan=True, window=window) == _scan(data, chunk, hyperscan=False)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.sampled_from([*COARSE_TRIGGER_BYTES, b"\n", b"allo"])),
                max_size=60),
       st.integers(13, 200))
def test_next_hit_is_the_first_find(pieces, window):
    """Every position gives what the smallest ``bytes.find`` over the literals gives."""
    data = b"".join(b"x" * gap + piece for gap, piece in pieces)
    engine = kernel_log._hyperscan()
    with mock.patch.object(kernel_log, "HYPERSCAN_WINDOW_BYTES", window):
        windows = kernel_log._HitWindows(data, engine)
        for pos in range(len(data) + 1):
            found = [data.find(t, pos) for t in COARSE_TRIGGER_BYTES]
            expected = min((f for f in found if f >= 0), default=-1)
            assert windows.next_hit(pos) == expected


def test_too_many_hits_fall_back_to_find(monkeypatch):
    monkeypatch.setattr(kernel_log, "HYPERSCAN_MAX_HITS", 3)
    data = noisy_log(4, copies=1)
    windows = kernel_log._HitWindows(data, kernel_log._hyperscan())
    assert windows.next_hit(0) is None  # the log has far more than 3 hits
    assert _scan(data, 65536, hyperscan=True) == _scan(data, 65536, hyperscan=False)
    dense = b"alloc" * 200_000 + b"\n" + ALL_LOGS[0].read_bytes()
    assert _scan(dense, 1 << 20, hyperscan=True) == _scan(dense, 1 << 20, hyperscan=False)


def test_without_hyperscan_the_find_search_is_used(monkeypatch):
    monkeypatch.setattr(kernel_log, "_hyperscan_database", None)
    monkeypatch.setitem(sys.modules, "hyperscan", None)  # import hyperscan raises ImportError
    assert kernel_log._hyperscan() is None
    assert kernel_log.search_engine() == "bytes.find"
    scanner = kernel_log._ChunkScanner(kernel_log.KernelLogParser("t"))
    assert scanner.engine is None
    data = noisy_log(5, copies=1)
    items = list(scan_chunks([data], "t"))
    monkeypatch.setattr(kernel_log, "_hyperscan_database", None)
    monkeypatch.delitem(sys.modules, "hyperscan")
    assert kernel_log.search_engine() == "hyperscan"
    assert items == list(scan_chunks([data], "t"))


def test_threads_scan_at_once_with_their_own_scratch():
    data = noisy_log(6, copies=1)
    expected = list(scan_chunks([data], "t"))
    results: list = [None] * 4
    start = threading.Barrier(4)

    def work(slot: int) -> None:
        start.wait()
        results[slot] = [list(scan_chunks([data[i:i + 2048] for i in range(0, len(data), 2048)], "t"))
                         for _ in range(3)]

    threads = [threading.Thread(target=work, args=(slot,)) for slot in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(runs == [expected] * 3 for runs in results)


def test_memory_map_scan_equals_chunked_scan(tmp_path):
    data = noisy_log(7, copies=1)
    path = tmp_path / "kern.log"
    path.write_bytes(data)
    with (path.open("rb") as handle,
          mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped,
          mock.patch.object(kernel_log, "HYPERSCAN_WINDOW_BYTES", 1000)):
        mapped_items = list(scan_buffer(mapped, "t"))
    assert mapped_items == _scan(data, 4096, hyperscan=False)


def _idle_state(parser) -> tuple:
    return (parser.idle, parser._release, parser._suppressed, parser._vmalloc_line,
            parser._oom, len(parser._ready))


def test_lines_the_skip_path_drops_change_nothing_in_an_idle_parser():
    """``_idle_line_matters`` is exact: every trigger-holding line of every fixture log and
    of the noise that it rejects leaves an idle parser as it was (no item, no state)."""
    lines = {line for path in ALL_LOGS for line in path.read_bytes().splitlines()}
    lines.update(n.rstrip(b"\n") for n in NOISE)
    lines.update([b"kernel: TCP: out of memory -- consider tuning tcp_mem",
                  b"kernel: Out of memory: Killed process 42 (java) total-vm:1kB",
                  b"kernel: Memory cgroup out of memory: Killed process 7 (asd)",
                  b"kernel: Out of memory and no killable processes...",
                  b"kernel: ixgbe: rx ring out of memory, dropping",
                  b"kernel: Linux version 6.1.0-13-amd64 (debian-kernel@lists.debian.org)",
                  b"kernel: Linux agpgart interface v0.103"])
    dropped = kept = 0
    for line in sorted(lines):
        if not any(t in line for t in kernel_log.TRIGGER_BYTES):
            continue
        if kernel_log._idle_line_matters(line):
            kept += 1
            continue
        dropped += 1
        parser = kernel_log.KernelLogParser("t")
        before = _idle_state(parser)
        parser.feed(1, line.decode("utf-8", "replace"))
        assert _idle_state(parser) == before, line
    assert dropped >= 3, dropped
    assert kept >= 50, kept
