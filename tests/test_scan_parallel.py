"""The scan of a big plain file searched by two processes gives exactly the one-process result.

The second-process search only starts for files of at least ``PARALLEL_MIN_BYTES`` (64 MiB);
these tests lower that threshold and the chunk size so small files take the same path.
"""

from __future__ import annotations

import gzip
import os
import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES
from minfree.parsers import kernel_log
from minfree.parsers.kernel_log import COARSE_TRIGGER_BYTES, parse_kernel_log, scan_chunks
from minfree.sources import logs

LOGS = FIXTURES / "kernel-logs"
_ALL_LOGS = sorted((LOGS / "reports").glob("*.log")) + sorted((LOGS / "nearmiss").glob("*.log"))
_NOISE = [
    b"Mar  1 00:00:01 db1 kernel: [ 1.000000] mlx5_core 0000:3b:00.0: mlx5_alloc_cq:12: allocate CQ ok\n",
    b"Mar  1 00:00:02 db1 kernel: [ 2.000000] TCP: out of memory -- consider tuning tcp_mem\n",
    b"Mar  1 00:00:03 db1 sshd[12]: Accepted publickey for deploy from 10.0.0.1 port 22 ssh2\n",
    b"Mar  1 00:00:04 db1 kernel: [ 4.000000] Linux version 5.15.0-91-generic (buildd@lcy02) #101\n",
    b"Mar  1 00:00:05 db1 kernel: [ 5.000000] warn_alloc: 3 callbacks suppressed\n",
]


def _log(seed: int, copies: int = 2) -> bytes:
    """Noise with every fixture log (reports and near misses) sprinkled through it."""
    rng = random.Random(seed)
    parts = []
    for _ in range(copies):
        for path in _ALL_LOGS:
            parts.extend(rng.choice(_NOISE) for _ in range(rng.randrange(0, 40)))
            parts.append(path.read_bytes())
    return b"".join(parts)


@pytest.fixture
def small_parallel(monkeypatch):
    """Parallel search from the first few KiB on, in 4 KiB chunks; records each search."""
    monkeypatch.setattr(logs, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(kernel_log, "PARALLEL_MIN_BYTES", 1)
    started = []
    original = logs.FileChunks.search_from

    def recording(self, needles, min_bytes):
        result = original(self, needles, min_bytes)
        started.append(result)
        return result

    monkeypatch.setattr(logs.FileChunks, "search_from", recording)
    return started


def _both(path, chunk: int = 4096):
    """(items of the file searched by two processes, items of the same bytes in one)."""
    [source] = logs.discover([str(path)])
    parallel = list(scan_chunks(source.chunks(), "t"))
    data = path.read_bytes()
    single = list(scan_chunks([data[i:i + chunk] for i in range(0, len(data), chunk)], "t"))
    return parallel, single


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_two_process_scan_equals_one_process_scan(tmp_path, small_parallel, seed):
    path = tmp_path / "kern.log"
    path.write_bytes(_log(seed))
    parallel, single = _both(path)
    [started] = small_parallel
    assert started is not None, "the second-process search must have run"
    assert parallel == single
    reports = [i for i in parallel if type(i).__name__ == "FailureReport"]
    whole = parse_kernel_log(path.read_bytes().decode("utf-8", "replace"), "t").reports
    assert [r.first_line for r in reports] == [r.first_line for r in whole]
    assert len(reports) > 60
    assert {e.kind for e in parallel if type(e).__name__ == "RelatedEvent"} >= {
        "oom-killer", "vmalloc-failure", "allocation-stall", "slub-unable-to-allocate"}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.sampled_from(_ALL_LOGS), st.integers(0, 10**6), st.integers(1, 300),
       st.sampled_from([b"\n", b"alloc", b"ut of memory", b"Linux version 6.1.0 #1\n", b"\x00\xff"]))
def test_mutated_logs_two_processes_agree(small_parallel, path, seed, noise_lines, payload):
    rng = random.Random(seed)
    data = bytearray(b"".join(rng.choice(_NOISE) for _ in range(noise_lines)) + path.read_bytes())
    for _ in range(3):
        at = rng.randrange(len(data) + 1)
        data[at:at] = payload
    with tempfile.TemporaryDirectory() as folder:
        log = os.path.join(folder, "kern.log")
        with open(log, "wb") as handle:
            handle.write(bytes(data) * 3)
        parallel, single = _both(Path(log), chunk=4096)
    assert parallel == single


def test_search_from_lists_every_occurrence_once(tmp_path, monkeypatch):
    monkeypatch.setattr(logs, "CHUNK_BYTES", 64)
    rng = random.Random(7)
    pieces = [b"x" * rng.randrange(0, 90) + rng.choice(COARSE_TRIGGER_BYTES) for _ in range(400)]
    data = b"".join(pieces) + b"allocalloc"  # overlapping-looking, at the very end
    path = tmp_path / "plain.log"
    path.write_bytes(data)
    chunks = logs.FileChunks(str(path))
    assert next(chunks)
    (start, stop), result = chunks.search_from(COARSE_TRIGGER_BYTES, 1)
    assert 0 < start < stop == len(data)
    found = result()
    expected = sorted(
        at << 3 | index
        for index, needle in enumerate(COARSE_TRIGGER_BYTES)
        for at in range(start, stop - len(needle) + 1)
        if data.startswith(needle, at)
    )
    assert list(found) == expected
    assert result() is None  # handed out once; the child was waited for
    chunks.close()


def test_no_second_process_for_compressed_small_or_unopened_files(tmp_path, monkeypatch):
    monkeypatch.setattr(logs, "CHUNK_BYTES", 64)
    data = b"".join(_NOISE) * 50
    packed = tmp_path / "kern.log.gz"
    packed.write_bytes(gzip.compress(data))
    plain = tmp_path / "kern.log"
    plain.write_bytes(data)
    unopened = logs.FileChunks(str(plain))
    assert unopened.search_from(COARSE_TRIGGER_BYTES, 1) is None
    compressed = logs.FileChunks(str(packed))
    next(compressed)
    assert compressed.search_from(COARSE_TRIGGER_BYTES, 1) is None
    small = logs.FileChunks(str(plain))
    next(small)
    assert small.search_from(COARSE_TRIGGER_BYTES, len(data) + 1) is None
    started = small.search_from(COARSE_TRIGGER_BYTES, 1)
    assert started is not None
    started[1](cancel=True)


def test_cancelled_search_leaves_no_child(tmp_path, monkeypatch):
    monkeypatch.setattr(logs, "CHUNK_BYTES", 64)
    path = tmp_path / "kern.log"
    path.write_bytes(b"".join(_NOISE) * 2000)
    chunks = logs.FileChunks(str(path))
    next(chunks)
    _range, result = chunks.search_from(COARSE_TRIGGER_BYTES, 1)
    assert result(cancel=True) is None
    with pytest.raises(ChildProcessError):
        os.waitpid(result.pid, os.WNOHANG)  # killed and reaped


def test_a_scan_stopped_early_cancels_the_search(tmp_path, small_parallel):
    path = tmp_path / "kern.log"
    path.write_bytes(_log(5))
    [source] = logs.discover([str(path)])
    items = scan_chunks(source.chunks(), "t")
    next(items)
    items.close()
    [(_range, result)] = small_parallel
    with pytest.raises(ChildProcessError):
        os.waitpid(result.pid, os.WNOHANG)  # killed and reaped


def test_too_many_hits_falls_back_to_searching_in_process(tmp_path, small_parallel, monkeypatch):
    monkeypatch.setattr(logs, "MAX_LISTED_HITS", 10)
    path = tmp_path / "kern.log"
    path.write_bytes(_log(4))
    [source] = logs.discover([str(path)])
    chunks = source.chunks()
    next(chunks)
    (_start, _stop), result = chunks.search_from(COARSE_TRIGGER_BYTES, 1)
    assert result() is None  # the child gave up
    chunks.close()
    parallel, single = _both(path)
    assert small_parallel[-1] is not None
    assert parallel == single


def test_no_fork_while_threads_run(tmp_path, monkeypatch):
    import threading

    monkeypatch.setattr(logs, "CHUNK_BYTES", 64)
    path = tmp_path / "kern.log"
    path.write_bytes(b"".join(_NOISE) * 50)
    chunks = logs.FileChunks(str(path))
    next(chunks)
    release = threading.Event()
    worker = threading.Thread(target=release.wait)
    worker.start()
    try:
        assert chunks.search_from(COARSE_TRIGGER_BYTES, 1) is None
    finally:
        release.set()
        worker.join()
    chunks.close()
