"""Log sources: compression by magic, directories and sosreports, roots, /dev/kmsg, journal."""

from __future__ import annotations

import bz2
import contextlib
import gzip
import lzma
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import FIXTURES
from minfree.analysis.failure_report import explain_scan
from minfree.errors import SourceError
from minfree.sources import logs
from minfree.sources.kernel_logs import read_failure_reports

REPORTS = FIXTURES / "kernel-logs" / "reports"


def scan(inputs=None, *, all_logs=False):
    """A whole scan: read the logs (sources), then explain the reports (analysis)."""
    return explain_scan(read_failure_reports(inputs, all_logs=all_logs))


def _join(log_input) -> bytes:
    return b"".join(log_input.chunks())


@pytest.mark.parametrize("compress", [gzip.compress, lzma.compress, bz2.compress, lambda b: b])
def test_decompression_by_magic_not_name(tmp_path, compress):
    data = (REPORTS / "050.log").read_bytes()
    path = tmp_path / "strangely-named.txt"
    path.write_bytes(compress(data))
    [source] = logs.discover([str(path)])
    assert _join(source) == data


def test_concatenated_gzip_members_and_small_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(logs, "CHUNK_BYTES", 7)
    path = tmp_path / "kern.log.gz"
    path.write_bytes(gzip.compress(b"one\n") + gzip.compress(b"two\n"))
    assert _join(logs.file_input(str(path))) == b"one\ntwo\n"


def test_compression_bomb_is_read_in_bounded_pieces():
    payload = lzma.compress(b"\0" * (64 << 20))
    pieces = list(logs.decompressed(iter([payload]), "bomb"))
    assert sum(map(len, pieces)) == 64 << 20
    assert max(map(len, pieces)) <= logs.CHUNK_BYTES


@pytest.mark.parametrize(("data", "message"), [
    (gzip.compress(b"x" * 1000)[:-12], "truncated gzip"),
    (lzma.compress(b"x" * 1000)[:30], "xz"),
    (b"BZh9" + b"\x00" * 60, "bzip2"),
    (gzip.compress(b"abc\n") + b"garbage", "garbage"),
])
def test_corrupt_compressed_data_is_a_source_error(tmp_path, data, message):
    path = tmp_path / "bad"
    path.write_bytes(data)
    with pytest.raises(SourceError, match=message):
        _join(logs.file_input(str(path)))


def test_directory_discovery_patterns(tmp_path):
    varlog = tmp_path / "var" / "log"
    varlog.mkdir(parents=True)
    for name in ("kern.log", "kern.log.1", "syslog.2.gz", "messages", "dmesg.0", "auth.log", "dpkg.log"):
        (varlog / name).write_bytes(gzip.compress(b"x\n") if name.endswith(".gz") else b"x\n")
    found = sorted(os.path.relpath(i.label, tmp_path) for i in logs.discover([str(tmp_path)]))
    assert found == ["var/log/dmesg.0", "var/log/kern.log", "var/log/kern.log.1", "var/log/messages",
                     "var/log/syslog.2.gz"]
    # A copy of /var/log itself works too.
    found = sorted(os.path.basename(i.label) for i in logs.discover([str(varlog)]))
    assert found == ["dmesg.0", "kern.log", "kern.log.1", "messages", "syslog.2.gz"]


def test_folder_of_saved_logs_falls_back_to_dot_log_files(tmp_path):
    (tmp_path / "incident-node3.log").write_bytes((REPORTS / "048.log").read_bytes())
    result = scan([str(tmp_path)])
    assert result.failures == 1


def test_scan_logs_accepts_a_root(tmp_path):
    from minfree.sources.root import open_root

    (tmp_path / "sos_commands" / "kernel").mkdir(parents=True)
    (tmp_path / "sos_commands" / "kernel" / "dmesg").write_bytes((REPORTS / "054.log").read_bytes())
    result = scan([open_root(tmp_path)])
    assert result.failures == 1
    assert result.reports[0].report.source.endswith("sos_commands/kernel/dmesg")


def test_scan_logs_accepts_log_inputs():
    data = (REPORTS / "022.log").read_bytes()
    source = logs.LogInput(label="custom", kind="file", open=lambda: iter([data]))
    result = scan([source])
    assert result.failures == 1
    assert result.reports[0].report.source == "custom"


def test_kmsg_records_become_dmesg_lines():
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    records = [b"6,1,1000,-;hello\n", b"4,2,5123456789,-;x: page allocation failure: order:0, mode:0x20\n"
               b" SUBSYSTEM=net\n DEVICE=n2\n"]
    # A pipe delivers what was written in one read each here (small writes are atomic).
    chunks = []
    for record in records:
        os.write(write_fd, record)
        chunks.extend(logs._kmsg_records(read_fd))
    os.close(write_fd)
    os.close(read_fd)
    text = b"".join(chunks)
    assert text == b"[    0.001000] hello\n[ 5123.456789] x: page allocation failure: order:0, mode:0x20\n"


def test_live_ring_buffer_is_read_without_blocking():
    if not os.access("/dev/kmsg", os.R_OK):
        with pytest.raises(SourceError, match="cannot read this host's kernel ring buffer"):
            logs.host_kernel_log()
        return
    data = _join(logs.host_kernel_log())
    assert data.startswith(b"[")
    assert b"Linux version" in data or data.count(b"\n") > 10


def test_unreadable_ring_buffer_explains_why(monkeypatch):
    def denied(*_args, **_kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(logs.os, "open", denied)
    monkeypatch.setattr(logs.shutil, "which", lambda _name: None)
    monkeypatch.setattr(logs, "_dmesg_restrict", lambda: "1")
    with pytest.raises(SourceError) as info:
        logs.host_kernel_log()
    message = str(info.value)
    assert "kernel.dmesg_restrict=1" in message
    assert "root" in message
    assert "\n" not in message


def test_dmesg_command_fallback(monkeypatch, tmp_path):
    fake = tmp_path / "dmesg"
    fake.write_text("#!/bin/sh\ncat " + str(REPORTS / "048.log") + "\n")
    fake.chmod(0o755)
    real_open = os.open

    def no_kmsg(path, *args, **kwargs):
        if path == "/dev/kmsg":
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(logs.os, "open", no_kmsg)
    monkeypatch.setattr(logs.shutil, "which", lambda name: str(fake) if name == "dmesg" else None)
    source = logs.host_kernel_log()
    assert source.kind == "dmesg"
    result = scan([source])
    assert result.failures == 1


def test_all_logs_host_inputs_and_dedup():
    inputs, notes = logs.host_inputs(all_logs=True)
    kinds = {i.kind for i in inputs}
    assert kinds & {"kmsg", "dmesg", "journal", "file"}
    for note in notes:
        assert "\n" not in note
    result = scan(None, all_logs=True)
    assert len(result.sources) == len(inputs)


def test_bad_file_found_in_a_directory_is_a_note_not_a_failure(tmp_path):
    varlog = tmp_path / "var" / "log"
    varlog.mkdir(parents=True)
    (varlog / "kern.log").write_bytes((REPORTS / "048.log").read_bytes())
    good = gzip.compress((REPORTS / "050.log").read_bytes())
    (varlog / "kern.log.2.gz").write_bytes(good[: len(good) // 2])  # cut short
    result = scan([str(tmp_path)])
    assert result.failures >= 1
    assert any("truncated gzip" in note for note in result.notes)
    # Named explicitly, the same file is the user's error.
    with pytest.raises(SourceError, match="truncated gzip"):
        scan([str(varlog / "kern.log.2.gz")])


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=3000), st.sampled_from([b"", b"\x1f\x8b", b"\xfd7zXZ\x00", b"BZh9"]))
def test_decompression_of_garbage_raises_only_source_error(data, magic):
    with contextlib.suppress(SourceError):
        b"".join(logs.decompressed(iter([magic + data]), "g"))


def test_bundle_check_without_importing_root_agrees_with_root(tmp_path):
    """discover() skips importing sources.root for names without ``.t``: every bundle
    suffix root knows must start with ``.t`` for that to be exact."""
    import tarfile

    from minfree.sources import root

    assert root._TAR_SUFFIXES
    assert all(s.startswith(".t") for s in root._TAR_SUFFIXES)
    for name in ("kern.log", "kern.log.1.gz", "x.tar.gz", "X.TGZ", "messages.txz", "a.tar",
                 "notes.txt", "dmesg"):
        assert logs._may_be_bundle(name) == root.is_bundle_path(name), name
    member = tmp_path / "var" / "log"
    member.mkdir(parents=True)
    (member / "kern.log").write_bytes((REPORTS / "002.log").read_bytes())
    bundle = tmp_path / "host.tar.gz"
    with tarfile.open(bundle, "w:gz") as tar:
        tar.add(tmp_path / "var", arcname="host/var")
    [found] = logs.discover([str(bundle)])
    assert found.label.endswith("var/log/kern.log")
    assert b"page allocation failure" in _join(found)
