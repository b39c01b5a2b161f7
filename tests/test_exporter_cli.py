"""``minfree exporter`` as a program: arguments, the HTTP surface and the textfile.

Every server started here is a real ``minfree exporter`` process on a free loopback port,
killed in a ``finally``.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.conftest import FIXTURES

from minfree.cli.exporter import parse_listen
from minfree.errors import UsageError
from minfree.outputs.prometheus import write_textfile

ROOT = FIXTURES / "roots" / "hotsos-kubernetes-5.4.0-99"
MINFREE = [sys.executable, "-m", "minfree"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_minfree(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*MINFREE, *args], capture_output=True, text=True, timeout=timeout)


def wait_for_port(port: int, proc: subprocess.Popen, host: str = "127.0.0.1", timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"exporter exited early: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("exporter did not start listening")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def exporter() -> Iterator[tuple[int, subprocess.Popen]]:
    port = free_port()
    proc = subprocess.Popen(
        [*MINFREE, "exporter", "--listen", f"127.0.0.1:{port}", "--root", str(ROOT)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_for_port(port, proc)
        yield port, proc
    finally:
        stop(proc)


def request(port: int, method: str, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


# --- --listen -----------------------------------------------------------------------------------
def test_parse_listen_good_values() -> None:
    assert parse_listen("127.0.0.1:9945") == ("127.0.0.1", 9945)
    assert parse_listen("[::1]:9945") == ("::1", 9945)
    assert parse_listen("0.0.0.0:1") == ("0.0.0.0", 1)
    assert parse_listen("localhost:0") == ("localhost", 0)


@pytest.mark.parametrize("bad", ["", "9945", ":9945", "127.0.0.1", "127.0.0.1:", "127.0.0.1:http",
                                 "127.0.0.1:65536", "127.0.0.1:-1", "::1:9945", "[::1]9945",
                                 "[nothost]:80", "127.0.0.1:99999999999999999999"])
def test_parse_listen_rejects(bad: str) -> None:
    with pytest.raises(UsageError):
        parse_listen(bad)


@pytest.mark.parametrize("bad", ["nonsense", "127.0.0.1:70000", "[::1]:x", "no-such-host.invalid:9945",
                                 "192.0.2.1:9945"])
def test_bad_listen_exits_2_with_one_line(bad: str) -> None:
    result = run_minfree("exporter", "--listen", bad, "--root", str(ROOT))
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("minfree: ")
    assert "Traceback" not in result.stderr


def test_port_in_use_exits_2() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = run_minfree("exporter", "--listen", f"127.0.0.1:{port}", "--root", str(ROOT))
    assert result.returncode == 2
    assert "cannot bind" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [["--scrape-timeout", "0"], ["--scrape-timeout", "abc"],
                                  ["--scrape-timeout", "nan"], ["--scrape-timeout", "1e9"],
                                  ["--analysis-interval", "1"], ["--analysis-interval", "nan"],
                                  ["--root", "/no/such/root"]])
def test_other_bad_arguments_exit_2(args: list[str]) -> None:
    result = run_minfree("exporter", "--textfile", "/tmp/x.prom", *args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


# --- HTTP surface ---------------------------------------------------------------------------------
def test_serves_metrics_only_on_get_metrics(exporter) -> None:
    port, _ = exporter
    status, headers, body = request(port, "GET", "/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    families = {f.name for f in text_string_to_metric_families(body.decode())}
    assert {"minfree_zone_free_pages", "minfree_zone_watermark_pages",
            "minfree_collector_errors"} <= families
    for path in ("/", "/metricsx", "/metrics/", "/../etc/passwd", "/favicon.ico"):
        assert request(port, "GET", path)[0] == 404, path
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "BREW"):
        status, headers, _ = request(port, method, "/metrics")
        assert status == 405, method
        assert headers.get("Allow") == "GET"


def test_query_string_and_gzip(exporter) -> None:
    port, _ = exporter
    import gzip

    status, headers, body = request(port, "GET", "/metrics?x=1", {"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers.get("Content-Encoding") == "gzip"
    assert b"minfree_zone_free_pages" in gzip.decompress(body)


def test_garbage_request_does_not_kill_the_server(exporter) -> None:
    port, proc = exporter
    for junk in (b"\x00\xff\xfe garbage\r\n\r\n", b"GET\r\n\r\n", b"GET /metrics HTTP/9.9\r\n\r\n",
                 b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(junk)
            s.shutdown(socket.SHUT_WR)
            with contextlib.suppress(OSError):
                s.recv(65536)
    assert proc.poll() is None
    assert request(port, "GET", "/metrics")[0] == 200


def test_binds_loopback_by_default() -> None:
    # Default --listen is 127.0.0.1:9945; if the port is taken, the error names it.
    proc = subprocess.Popen([*MINFREE, "exporter", "--root", str(ROOT)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        line = ""
        while time.monotonic() < deadline and proc.poll() is None:
            line = proc.stderr.readline()
            if line:
                break
        if proc.poll() is not None:
            assert "127.0.0.1:9945" in (line + proc.stderr.read())
            pytest.skip("port 9945 is in use here")
        assert "http://127.0.0.1:9945/metrics" in line
        out = subprocess.run(["ss", "-ltnH", "sport = :9945"], capture_output=True, text=True)
        if out.returncode == 0:
            assert "127.0.0.1:9945" in out.stdout
            assert "0.0.0.0:9945" not in out.stdout
    finally:
        stop(proc)


def test_sigterm_exits_0(exporter) -> None:
    _port, proc = exporter
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert "Traceback" not in proc.stderr.read()


def test_ctrl_c_exits_130_without_traceback(exporter) -> None:
    _port, proc = exporter
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 130
    assert "Traceback" not in proc.stderr.read()


def test_http_mode_writes_nothing(tmp_path: Path) -> None:
    """Run with the working directory in an empty folder: it must stay empty."""
    port = free_port()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src")}
    proc = subprocess.Popen([*MINFREE, "exporter", "--listen", f"127.0.0.1:{port}", "--root", str(ROOT)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env)
    try:
        wait_for_port(port, proc)
        for _ in range(5):
            assert request(port, "GET", "/metrics")[0] == 200
    finally:
        stop(proc)
    assert list(tmp_path.iterdir()) == []


# --- --textfile --------------------------------------------------------------------------------------
def test_textfile_writes_the_metrics_and_exits(tmp_path: Path) -> None:
    target = tmp_path / "minfree.prom"
    result = run_minfree("exporter", "--textfile", str(target), "--root", str(ROOT))
    assert result.returncode == 0, result.stderr
    text = target.read_text()
    assert "minfree_zone_free_pages{" in text
    assert [p.name for p in tmp_path.iterdir()] == ["minfree.prom"]
    # a second run keeps the previous file as a backup the textfile collector ignores
    assert run_minfree("exporter", "--textfile", str(target), "--root", str(ROOT)).returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["minfree.prom", "minfree.prom.bak"]
    assert (tmp_path / "minfree.prom.bak").read_text() == text


@pytest.mark.parametrize("where", ["missing-dir/x.prom", "."])
def test_textfile_bad_path_exits_2(tmp_path: Path, where: str) -> None:
    result = run_minfree("exporter", "--textfile", str(tmp_path / where), "--root", str(ROOT))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("target", ["/proc/minfree-test.prom", "/sys/minfree-test.prom"])
def test_textfile_unwritable_place_exits_2(target: str) -> None:
    # /proc and /sys refuse new files even to root
    result = run_minfree("exporter", "--textfile", target, "--root", str(ROOT))
    assert result.returncode == 2
    assert "cannot write" in result.stderr
    assert "Traceback" not in result.stderr


def test_textfile_write_is_atomic_for_a_concurrent_reader(tmp_path: Path) -> None:
    """A reader polling the file while it is rewritten sees only whole versions."""
    target = tmp_path / "m.prom"
    versions = [(f"# version {i}\n" + "x 1\n" * 20000 + "# end\n").encode() for i in range(30)]
    write_textfile(target, versions[0])
    seen: set[bytes] = set()
    torn: list[int] = []
    stop_reading = threading.Event()

    def reader() -> None:
        while not stop_reading.is_set():
            data = target.read_bytes()
            if not (data.startswith(b"# version ") and data.endswith(b"# end\n")):
                torn.append(len(data))
            seen.add(data[:14])

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for data in versions[1:]:
            write_textfile(target, data)
    finally:
        stop_reading.set()
        thread.join()
    assert torn == []
    assert target.read_bytes() == versions[-1]
    assert len(seen) > 1, "the reader must have seen several versions"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.prom", "m.prom.bak"]


def test_textfile_failure_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the final rename fails (full disk, EIO), the old file stays and no temp is left."""
    target = tmp_path / "m.prom"
    write_textfile(target, b"old 1\n")
    real_replace = os.replace

    def failing_replace(src, dst):
        if str(dst) == str(target):
            raise OSError(5, "Input/output error")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(Exception, match=r"cannot (write|replace)"):
        write_textfile(target, b"new 2\n")
    assert target.read_bytes() == b"old 1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.prom", "m.prom.bak"]


def test_help_is_fast_and_does_not_import_prometheus_client() -> None:
    code = ("import sys; from minfree.cli.main import main; main(['exporter', '--help'])"
            " if False else None; import minfree.cli.exporter;"
            " print('prometheus_client' in sys.modules, 'rich' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.split() == ["False", "False"]
    assert re.search(r"usage: minfree exporter", run_minfree("exporter", "--help").stdout)


def _errors_after_textfile_run(tmp_path: Path, capabilities: str) -> dict[str, float]:
    """Run `exporter --textfile` with exactly ``capabilities`` (setpriv) and read its errors."""
    target = tmp_path / f"caps-{capabilities or 'none'}.prom"
    caps = f"-all,+{capabilities}" if capabilities else "-all"
    command = ["setpriv", f"--inh-caps={caps}", f"--ambient-caps={caps}", f"--bounding-set={caps}",
               "--securebits=+noroot,+noroot_locked", "--no-new-privs",
               *MINFREE, "exporter", "--textfile", str(target)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert result.returncode == 0, result.stderr
    errors = {}
    for family in text_string_to_metric_families(target.read_text()):
        if family.name == "minfree_collector_errors":
            errors = {s.labels["source"]: s.value for s in family.samples}
    return errors


def test_cap_syslog_is_the_only_privilege_needed(tmp_path: Path) -> None:
    """The systemd unit's claim: with no capability but CAP_SYSLOG every source is read.

    Capabilities are dropped with setpriv (uid stays 0 but without any capability, as the
    interpreter lives under /root here). Under kernel.dmesg_restrict=1 the run without any
    capability must fail to read /dev/kmsg, which shows the check is real.
    """
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to drop capabilities")
    with_syslog = _errors_after_textfile_run(tmp_path, "syslog")
    assert with_syslog, "no error counters in the textfile"
    assert all(v == 0 for v in with_syslog.values()), with_syslog
    if Path("/proc/sys/kernel/dmesg_restrict").read_text().strip() == "1":
        without = _errors_after_textfile_run(tmp_path, "")
        assert without["kernel_log"] == 1
        assert all(v == 0 for k, v in without.items() if k != "kernel_log"), without
