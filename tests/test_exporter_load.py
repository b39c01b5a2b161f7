"""Load: 50 concurrent scrapers for 20 seconds against ``minfree exporter`` on this host.

Every scrape must succeed with a complete exposition, and the exporter's resident memory
must stay flat: what it holds between scrapes is bounded (the kmsg position, counters, the
last analysis), so RSS after the warm-up and at the end may differ only by allocator noise.
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import threading
import time

import pytest

SCRAPERS = 50
DURATION_SECONDS = 20.0
WARMUP_SECONDS = 6.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.slow
def test_fifty_concurrent_scrapers_for_twenty_seconds() -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "minfree", "exporter", "--listen", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stop = threading.Event()
    errors: list[str] = []
    counts = [0] * SCRAPERS
    lock = threading.Lock()

    def scraper(index: int) -> None:
        conn = None
        while not stop.is_set():
            try:
                # half the scrapers keep their connection alive, half reconnect every time
                if conn is None or index % 2:
                    if conn is not None:
                        conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
                conn.request("GET", "/metrics")
                response = conn.getresponse()
                body = response.read()
                if response.status != 200 or not body.rstrip().endswith(b"minfree_collector_duration_seconds "
                                                                           + body.rstrip().rsplit(b" ", 1)[-1]):
                    with lock:
                        errors.append(f"status {response.status}, {len(body)} bytes")
                elif b"minfree_zone_free_pages{" not in body:
                    with lock:
                        errors.append("incomplete exposition")
                counts[index] += 1
            except (OSError, http.client.HTTPException) as error:
                with lock:
                    errors.append(f"{type(error).__name__}: {error}")
                conn = None
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=scraper, args=(i,), daemon=True) for i in range(SCRAPERS)]
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline
                time.sleep(0.05)
        started = time.monotonic()
        for thread in threads:
            thread.start()
        # The baseline is the largest RSS of the warm-up's second half, not one reading at its
        # end: under 50 connections the server's thread count (and the stacks and arenas it
        # touches) ramps up for a few seconds, more slowly when the machine is busy.
        warmup = []
        while time.monotonic() - started < WARMUP_SECONDS:
            time.sleep(0.5)
            if time.monotonic() - started >= WARMUP_SECONDS / 2:
                warmup.append(rss_kib(proc.pid))
        rss_after_warmup = max(warmup)
        samples = []
        while time.monotonic() - started < DURATION_SECONDS:
            time.sleep(1)
            samples.append(rss_kib(proc.pid))
        stop.set()
        for thread in threads:
            thread.join(timeout=20)
        rss_end = rss_kib(proc.pid)
        assert proc.poll() is None, "the exporter died under load"
    finally:
        stop.set()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert errors == [], errors[:5]
    assert min(counts) > 0, "every scraper got answers"
    total = sum(counts)
    assert total > SCRAPERS * 10
    # flat: growth after warm-up within 8 MiB or 15 %, whichever is larger
    allowed = max(8 * 1024, rss_after_warmup * 0.15)
    assert max(samples) - rss_after_warmup <= allowed, (rss_after_warmup, samples)
    assert rss_end - rss_after_warmup <= allowed
