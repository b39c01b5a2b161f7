"""``minfree scan`` end to end: JSON schema, exit codes, stdin, compressed files, directories,
bundles, unreadable input and this live host."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import subprocess
import sys
import tarfile

import pytest

from conftest import FIXTURES
from minfree.cli.main import main

REPORTS = FIXTURES / "kernel-logs" / "reports"
NEARMISS = FIXTURES / "kernel-logs" / "nearmiss"


def _json(capsys, argv):
    code = main(["scan", "--json", *argv])
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_json_schema_fields(capsys):
    code, doc = _json(capsys, [str(REPORTS / "050.log"), str(REPORTS / "022.log"), str(REPORTS / "002.log")])
    assert code == 0
    assert doc["schema"] == "minfree.scan/1"
    assert doc["summary"]["failures"] == 5
    first = doc["reports"][0]
    for key in ("source", "line", "process", "pid", "order", "gfp", "kernel", "context", "verdict",
                "suppressed", "meminfo"):
        assert key in first
    assert first["source"].endswith("050.log")
    assert (first["line"], first["process"], first["pid"], first["order"]) == (1, "kswapd0", 156, 0)
    assert first["gfp"]["mask"] == "0xc0c40"
    assert first["gfp"]["printed"] == "GFP_NOFS|__GFP_COMP|__GFP_NOMEMALLOC"
    assert first["gfp"]["decoded"] == "GFP_NOFS|__GFP_COMP|__GFP_NOMEMALLOC"
    assert first["kernel"] == "6.19.0-rc5-00027-g40fd0acc45d0"
    assert first["context"] == "block-filesystem"
    assert first["verdict"] == "reserve-exhausted"
    zone = first["meminfo"]["zones"][2]
    assert {k: zone[k] for k in ("node", "zone", "free_kb", "min_kb", "low_kb", "high_kb")} == {
        "node": 0, "zone": "Normal", "free_kb": 79392, "min_kb": 80308, "low_kb": 93216, "high_kb": 106124}
    buddy = first["meminfo"]["buddy"][0]
    assert (buddy["node"], buddy["zone"], buddy["counts"][:3]) == (0, "DMA", [1, 0, 0])
    swapper = doc["reports"][1]
    assert swapper["suppressed"] == 59
    assert swapper["meminfo"] is None
    assert swapper["gfp"]["mask"] == "0x480020"
    old = doc["reports"][2]
    assert old["gfp"]["mask"] == "0x4020"
    assert old["gfp"]["printed"] is None
    assert old["gfp"]["decoded"] == "GFP_ATOMIC|__GFP_COMP"
    assert [r["kind"] for r in doc["related"]] == ["slub-unable-to-allocate"] * 2
    assert doc["related"][0]["source"].endswith("022.log")
    assert doc["groups"][0]["count"] == 3


def test_check_exit_codes(capsys):
    assert main(["scan", "--check", str(REPORTS / "048.log")]) == 1
    assert main(["scan", "--check", str(NEARMISS / "002.log"), str(NEARMISS / "012.log")]) == 0
    assert main(["scan", str(REPORTS / "048.log")]) == 0  # without --check finding is not an error
    out = capsys.readouterr().out
    assert "No page allocation failures" in out
    assert "allocation-stall" in out


def test_verbose_details(capsys):
    assert main(["scan", "-v", str(REPORTS / "002.log")]) == 0
    out = capsys.readouterr().out
    assert "fragmented" in out
    assert "[e1000e]" in out  # module names are printed literally, not eaten as markup
    assert "network receive" in out


def test_stdin(monkeypatch, capsys):
    data = (REPORTS / "040.log").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    code, doc = _json(capsys, ["-"])
    assert code == 0
    assert doc["reports"][0]["process"] == "ksoftirqd/0"
    assert doc["reports"][0]["source"] == "<stdin>"


def test_compressed_stdin(monkeypatch, capsys):
    data = gzip.compress((REPORTS / "040.log").read_bytes())
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    _code, doc = _json(capsys, ["-"])
    assert doc["summary"]["failures"] == 1


@pytest.mark.parametrize("suffix", [".gz", ".xz", ".bz2"])
def test_compressed_files(tmp_path, capsys, suffix):
    compress = {".gz": gzip.compress, ".xz": lzma.compress, ".bz2": bz2.compress}[suffix]
    path = tmp_path / f"kern.log.1{suffix}"
    path.write_bytes(compress((REPORTS / "002.log").read_bytes()))
    _code, doc = _json(capsys, [str(path)])
    assert doc["summary"]["failures"] == 3
    assert doc["reports"][1]["line"] == 59


def test_truncated_compressed_file_is_a_clean_error(tmp_path, capsys):
    path = tmp_path / "messages.gz"
    data = gzip.compress((REPORTS / "002.log").read_bytes())
    path.write_bytes(data[: len(data) // 2])
    assert main(["scan", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "truncated gzip" in err


def _sosreport(base):
    (base / "sos_commands" / "kernel").mkdir(parents=True)
    (base / "sos_commands" / "logs").mkdir(parents=True)
    (base / "var" / "log").mkdir(parents=True)
    (base / "sos_commands" / "kernel" / "dmesg").write_bytes((REPORTS / "050.log").read_bytes())
    (base / "sos_commands" / "logs" / "journalctl_--no-pager").write_bytes((REPORTS / "040.log").read_bytes())
    (base / "var" / "log" / "messages-20240101.gz").write_bytes(gzip.compress((REPORTS / "024.log").read_bytes()))
    (base / "var" / "log" / "unrelated.log").write_text("page allocation failure: order:0, mode:0x20\n")
    (base / "proc").mkdir()
    (base / "proc" / "meminfo").write_text("MemTotal: 1 kB\n")


def test_sosreport_directory(tmp_path, capsys):
    root = tmp_path / "sosreport-db1-2024"
    _sosreport(root)
    _code, doc = _json(capsys, [str(root)])
    sources = sorted(os.path.relpath(s, root) for s in doc["sources"])
    assert sources == ["sos_commands/kernel/dmesg", "sos_commands/logs/journalctl_--no-pager",
                       "var/log/messages-20240101.gz"]
    assert doc["summary"]["failures"] == 3


def test_bundle_tarball(tmp_path, capsys):
    root = tmp_path / "sosreport-db1-2024"
    _sosreport(root)
    bundle = tmp_path / "sosreport-db1-2024.tar.xz"
    with tarfile.open(bundle, "w:xz") as tar:
        tar.add(root, arcname=root.name)
    _code, doc = _json(capsys, [str(bundle)])
    assert doc["summary"]["failures"] == 3
    assert {r["process"] for r in doc["reports"]} == {"kswapd0", "ksoftirqd/0", "swapper"}


def test_unreadable_inputs_exit_2_with_one_line(tmp_path, capsys):
    missing = tmp_path / "nope.log"
    assert main(["scan", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "no such file" in err
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    assert main(["scan", str(empty_dir)]) == 2
    assert "no kernel log files" in capsys.readouterr().err
    if os.geteuid() != 0:  # root reads everything
        locked = tmp_path / "locked.log"
        locked.write_text("x\n")
        locked.chmod(0)
        assert main(["scan", str(locked)]) == 2
        assert "permission denied" in capsys.readouterr().err


def test_unreadable_as_other_user(tmp_path):
    """Permission errors are one line and exit 2 (run as nobody when we are root)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to an unprivileged user")
    import tempfile
    from pathlib import Path

    public = Path(tempfile.mkdtemp(prefix="minfree-perm-"))
    public.chmod(0o755)
    locked = public / "locked.log"
    locked.write_text("x\n")
    locked.chmod(0o600)
    hidden = tmp_path / "sub" / "x.log"  # tmp_path's parents are private to root
    hidden.parent.mkdir()
    hidden.write_text("x\n")
    code = (
        # import everything first: the interpreter's own files may not be readable by nobody
        "import os, sys, minfree.cli.main, minfree.cli.scan, minfree.analysis.failure_report, "
        "minfree.sources.logs, minfree.sources.root, minfree.parsers.kernel_log, "
        "minfree.outputs.scan_text, minfree.errors, argparse, locale, subprocess, rich.console, "
        "rich.table; "
        "os.setgid(65534); os.setuid(65534); "
        "sys.exit(minfree.cli.main.main(['scan', sys.argv[1]]))"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(locked)], capture_output=True, text=True,
                          check=False, timeout=120)
    try:
        assert proc.returncode == 2
        assert proc.stderr.count("\n") == 1
        assert "permission denied" in proc.stderr
        proc = subprocess.run([sys.executable, "-c", code, str(hidden)], capture_output=True, text=True,
                              check=False, timeout=120)
        assert proc.returncode == 2
        assert "permission denied" in proc.stderr
    finally:
        locked.unlink()
        public.rmdir()


def test_empty_and_binary_files(tmp_path, capsys):
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    binary = tmp_path / "core.bin"
    binary.write_bytes(os.urandom(200_000))
    assert main(["scan", "--check", str(empty), str(binary)]) == 0
    assert "No page allocation failures" in capsys.readouterr().out


def test_live_host_scan_runs():
    """`minfree scan` with no path reads this host's ring buffer and exits 0 or 1."""
    proc = subprocess.run([sys.executable, "-m", "minfree", "scan", "--check"], capture_output=True,
                          text=True, check=False, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr
    assert "/dev/kmsg" in proc.stdout or "dmesg" in proc.stdout


def test_live_host_json_and_all_logs():
    proc = subprocess.run([sys.executable, "-m", "minfree", "scan", "--json", "--all-logs"],
                          capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "minfree.scan/1"
    assert doc["sources"]
