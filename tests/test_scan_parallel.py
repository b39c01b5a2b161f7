"""A big plain file surveyed ahead by a second process scans exactly as in one process.

The survey (a forked child that counts each chunk's newlines and lists its coarse hits,
:meth:`minfree.sources.logs.FileChunks.survey_ahead`) only starts for files of at least
``PARALLEL_MIN_BYTES`` (64 MiB); these tests lower that threshold and the chunk size so small
files take the same path, and compare with the scan of the same bytes in one process.
"""

from __future__ import annotations

import gzip
import os
import random
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minfree.parsers import kernel_log
from minfree.parsers.kernel_log import (
    COARSE_TRIGGER_BYTES,
    parse_kernel_log,
    scan_chunks,
    survey_block,
)
from minfree.sources import logs
from noisy_logs import ALL_LOGS, NOISE, noisy_log

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the survey forks; no fork here")

CHUNK = 4096


@pytest.fixture
def small_survey(monkeypatch):
    """Surveys from the first few KiB on, in 4 KiB chunks; records each survey started."""
    monkeypatch.setattr(logs, "CHUNK_BYTES", CHUNK)
    monkeypatch.setattr(kernel_log, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(logs, "_usable_cpus", lambda: 2)
    started: list = []
    original = logs.FileChunks.survey_ahead

    def recording(self, survey, min_bytes):
        result = original(self, survey, min_bytes)
        started.append(result)
        return result

    monkeypatch.setattr(logs.FileChunks, "survey_ahead", recording)
    return started


def _both(path: Path) -> tuple[list, list]:
    """(items of the file scanned with a survey, items of the same bytes in one process)."""
    [source] = logs.discover([str(path)])
    surveyed = list(scan_chunks(source.chunks(), "t"))
    data = path.read_bytes()
    single = list(scan_chunks([data[i:i + CHUNK] for i in range(0, len(data), CHUNK)], "t"))
    return surveyed, single


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_surveyed_scan_equals_one_process_scan(tmp_path, small_survey, seed):
    path = tmp_path / "kern.log"
    path.write_bytes(noisy_log(seed))
    surveyed, single = _both(path)
    [started] = small_survey
    assert started is not None, "the survey must have run"
    assert started.start > 0
    assert started.next_offset > started.start + CHUNK, "the parent took the child's records"
    assert surveyed == single
    reports = [i for i in surveyed if type(i).__name__ == "FailureReport"]
    whole = parse_kernel_log(path.read_bytes().decode("utf-8", "replace"), "t").reports
    assert [r.first_line for r in reports] == [r.first_line for r in whole]
    assert [r.last_line for r in reports] == [r.last_line for r in whole]
    assert len(reports) > 60
    assert {e.kind for e in surveyed if type(e).__name__ == "RelatedEvent"} >= {
        "oom-killer", "vmalloc-failure", "allocation-stall", "slub-unable-to-allocate"}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.sampled_from(ALL_LOGS), st.integers(0, 10**6), st.integers(1, 300),
       st.sampled_from([b"\n", b"alloc", b"of memory", b"Linux version 6.1.0 #1\n", b"\x00\xff"]))
def test_mutated_logs_surveyed_and_single_agree(small_survey, path, seed, noise_lines, payload):
    rng = random.Random(seed)
    data = bytearray(b"".join(rng.choice(NOISE) for _ in range(noise_lines)) + path.read_bytes())
    for _ in range(3):
        at = rng.randrange(len(data) + 1)
        data[at:at] = payload
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "kern.log"
        log.write_bytes(bytes(data) * 3)
        surveyed, single = _both(log)
    assert surveyed == single


@pytest.mark.parametrize("hyperscan", [True, False])
def test_survey_block_lists_every_occurrence_once(monkeypatch, hyperscan):
    if not hyperscan:
        monkeypatch.setattr(kernel_log, "_hyperscan", lambda: None)
    rng = random.Random(7)
    pieces = [b"x\n" * rng.randrange(0, 40) + rng.choice(COARSE_TRIGGER_BYTES) for _ in range(400)]
    data = b"".join(pieces) + b"allocalloc"
    block = len(data) - 7  # the last "alloc" starts in the block and ends after it
    newlines, found = survey_block(data, block)
    expected = sorted(
        at << 3 | index
        for index, needle in enumerate(COARSE_TRIGGER_BYTES)
        for at in range(len(data)) if data.startswith(needle, at) and at < block)
    assert found == expected
    assert newlines == data[:block].count(b"\n")


def test_survey_block_gives_up_listing_past_the_limit(monkeypatch):
    monkeypatch.setattr(kernel_log, "HYPERSCAN_MAX_HITS", 10)
    newlines, found = survey_block(b"alloc\n" * 50, 300)
    assert found is None
    assert newlines == 50


def test_too_many_hits_in_a_chunk_fall_back_to_the_scan_s_own_search(tmp_path, small_survey,
                                                                    monkeypatch):
    monkeypatch.setattr(kernel_log, "HYPERSCAN_MAX_HITS", 3)
    path = tmp_path / "kern.log"
    path.write_bytes(noisy_log(4, copies=1))
    surveyed, single = _both(path)
    assert small_survey[0] is not None
    assert surveyed == single


def test_a_failing_child_leaves_the_work_to_the_parent(tmp_path, small_survey, monkeypatch):
    def broken(data, block):
        raise RuntimeError("child fails")

    path = tmp_path / "kern.log"
    path.write_bytes(noisy_log(5, copies=1))
    [source] = logs.discover([str(path)])
    chunks = source.chunks()
    survey = chunks.survey_ahead(broken, 1)
    assert survey is not None
    assert survey.next() is None  # the child died: no record
    survey.close()
    surveyed, single = _both(path)
    assert surveyed == single


def test_no_survey_for_compressed_small_threaded_or_one_cpu(tmp_path, monkeypatch):
    monkeypatch.setattr(logs, "CHUNK_BYTES", CHUNK)
    monkeypatch.setattr(logs, "_usable_cpus", lambda: 2)
    data = noisy_log(6, copies=1)
    plain = tmp_path / "kern.log"
    plain.write_bytes(data)
    packed = tmp_path / "kern.log.1.gz"
    packed.write_bytes(gzip.compress(data))

    def survey_of(path: Path, min_bytes: int = 1):
        survey = logs.FileChunks(str(path)).survey_ahead(survey_block, min_bytes)
        if survey is not None:
            survey.close()
        return survey

    assert survey_of(plain) is not None
    assert survey_of(packed) is None
    assert survey_of(plain, min_bytes=len(data) + 1) is None
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert survey_of(plain) is None  # forking with threads running is not safe
    finally:
        stop.set()
        thread.join()
    monkeypatch.setattr(logs, "_usable_cpus", lambda: 1)
    assert survey_of(plain) is None


def test_stopping_early_kills_and_reaps_the_child(tmp_path, small_survey):
    path = tmp_path / "kern.log"
    path.write_bytes(noisy_log(7))
    [source] = logs.discover([str(path)])
    scan = scan_chunks(source.chunks(), "t")
    next(scan)
    [survey] = small_survey
    assert survey is not None
    scan.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(survey.pid, os.WNOHANG)  # already reaped


def test_a_file_that_grows_during_the_scan_is_scanned_whole(tmp_path, small_survey):
    path = tmp_path / "kern.log"
    data = noisy_log(8, copies=1)
    path.write_bytes(data)
    [source] = logs.discover([str(path)])
    chunks = source.chunks()
    items = []
    scan = scan_chunks(chunks, "t")
    grown = False
    for item in scan:
        items.append(item)
        if not grown:
            with path.open("ab") as handle:
                handle.write(data)  # appended after the survey measured the size
            grown = True
    whole = path.read_bytes()
    single = list(scan_chunks([whole[i:i + CHUNK] for i in range(0, len(whole), CHUNK)], "t"))
    assert items == single
    assert small_survey[0] is not None
