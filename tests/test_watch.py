"""``minfree watch``: plain lines on a pipe, the rich view on a terminal, clean Ctrl-C."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.conftest import FIXTURES

from minfree.model.zone import Zone
from minfree.outputs.prometheus import FailureEvent, MemorySample, reclaim_totals
from minfree.outputs.watch_view import plain_line, reclaim_rates, render
from minfree.parsers.vmstat import parse_vmstat

MINFREE = [sys.executable, "-m", "minfree"]
ROOT = FIXTURES / "roots" / "hotsos-kubernetes-5.4.0-99"


def run_watch(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*MINFREE, "watch", *args], capture_output=True, text=True, timeout=timeout)


# --- the command on a pipe -----------------------------------------------------------------------
def test_watch_prints_five_updates_and_exits() -> None:
    started = time.monotonic()
    result = run_watch("0.2", "5")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 5
    assert elapsed >= 0.8, "four intervals of 0.2 s separate five updates"
    for line in lines:
        assert re.match(r"\d\d:\d\d:\d\d ", line)
        assert "/Normal free=" in line or "/DMA32 free=" in line
        assert "failures +" in line
    assert "rates n/a" in lines[0]
    for line in lines[1:]:
        assert "scan_direct=" in line
        assert "allocstall=" in line


def test_watch_values_are_this_hosts_watermarks() -> None:
    from minfree.parsers.zoneinfo import parse_zoneinfo

    result = run_watch("0.1", "1")
    info = parse_zoneinfo(Path("/proc/zoneinfo").read_text())
    dma32 = info.zone(0, "DMA32") or info.zone(0, "Normal")
    assert dma32 is not None
    match = re.search(rf"0/{dma32.name} free=\d+ min=(\d+) low=(\d+) high=(\d+)", result.stdout)
    assert match, result.stdout
    assert int(match.group(1)) == dma32.min_pages


def test_watch_on_a_captured_root() -> None:
    result = run_watch("0.1", "2", "--root", str(ROOT))
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    # hotsos kubernetes host: zoneinfo Normal free 5146, min 4130 (see the fixture)
    assert "0/Normal free=5146 min=4130" in lines[0]
    # a captured root does not change: every rate is 0
    assert re.search(r"scan_kswapd=0/s", lines[1])


@pytest.mark.parametrize("args", [["0"], ["-1"], ["abc"], ["nan"], ["1", "0"], ["1", "x"], ["1", "-3"],
                                  ["0.1", "1", "--root", "/no/such/dir"]])
def test_watch_bad_arguments_exit_2(args: list[str]) -> None:
    result = run_watch(*args)
    assert result.returncode == 2
    assert result.stderr.startswith("minfree: ")
    assert "Traceback" not in result.stderr


def test_ctrl_c_on_a_pipe_exits_cleanly() -> None:
    proc = subprocess.Popen([*MINFREE, "watch", "0.2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        first = proc.stdout.readline()
        assert "free=" in first
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code in (0, 130)
    assert "Traceback" not in proc.stderr.read()


# --- the live view on a terminal -----------------------------------------------------------------
def _read_pty(fd: int, until: float) -> bytes:
    out = b""
    while time.monotonic() < until:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    return out


def test_live_view_on_a_terminal_and_ctrl_c() -> None:
    pid, fd = pty.fork()
    if pid == 0:  # child: a terminal of 100x30
        os.environ["COLUMNS"], os.environ["LINES"] = "100", "30"
        os.execv(sys.executable, [*MINFREE, "watch", "0.2"])
    try:
        output = _read_pty(fd, time.monotonic() + 3)
        os.kill(pid, signal.SIGINT)
        output += _read_pty(fd, time.monotonic() + 3)
        _, status = os.waitpid(pid, 0)
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output.decode(errors="replace"))
    assert "minfree watch: live host" in text
    assert "free blocks" in text
    assert "o10" in text
    assert "reclaim/s" in text
    assert "stalls/s" in text
    assert "Page allocation failures: +0" in text
    assert "Traceback" not in text
    assert os.WIFEXITED(status)
    assert os.WEXITSTATUS(status) in (0, 130)


# --- the view as a function ------------------------------------------------------------------------
def _zone(free: int, blocks: tuple[int, ...] = (5, 3, 0, 1)) -> Zone:
    return Zone(node=0, name="Normal", index=2, free_pages=free, min_pages=700, low_pages=875,
                high_pages=1050, managed_pages=131072, free_blocks=blocks)


def _sample(at: float, free: int, vmstat_text: str, blocks: tuple[int, ...] = (5, 3, 0, 1)) -> MemorySample:
    vmstat = parse_vmstat(vmstat_text)
    return MemorySample(at, zones=(_zone(free, blocks),), reclaim=reclaim_totals(vmstat), vmstat=vmstat)


def test_rates_per_second_and_counter_resets() -> None:
    a = _sample(10.0, 1000, "pgscan_direct 100\nallocstall_normal 5\n")
    b = _sample(12.0, 900, "pgscan_direct 300\nallocstall_normal 3\n")
    rates = reclaim_rates(a, b)
    assert rates is not None
    assert rates.rate("pgscan_direct") == 100.0
    assert rates.rate("allocstall") is None, "a counter going backwards is no rate"
    assert rates.rate("compact_stall") is None, "unknown stays unknown"
    assert reclaim_rates(None, b) is None
    assert reclaim_rates(b, b) is None


def test_plain_line_shows_new_failures_and_zone_under_min() -> None:
    event = FailureEvent(order="1", context="network-receive", gfp="GFP_ATOMIC", process="asd",
                         verdict="reserve-exhausted", suppressed=4)
    line = plain_line(MemorySample(0.0, zones=(_zone(650),)), None, [event], clock_text="t")
    assert "headroom=-50" in line
    assert "failures +5: asd order:1 GFP_ATOMIC context=network-receive verdict=reserve-exhausted (+4 suppressed)" in line


def test_render_fits_80_columns_and_marks_trouble() -> None:
    from rich.console import Console

    prev = _sample(0.0, 650, "pgscan_direct 0\n")
    cur = _sample(1.0, 650, "pgscan_direct 50\n", (0, 0, 0, 0))
    event = FailureEvent(order="1", context="network-receive", gfp="GFP_ATOMIC", process="asd",
                         verdict="fragmented")
    console = Console(record=True, width=80, color_system=None)
    console.print(render(cur, prev, [event], title="t", new_failure_count=1))
    text = console.export_text()
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "-50" in text
    assert "direct scanned 50" in text
    assert "asd order:1 GFP_ATOMIC context=network-receive verdict=fragmented" in text
    assert "Page allocation failures: +1" in text
