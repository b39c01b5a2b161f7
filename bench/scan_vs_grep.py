#!/usr/bin/env python3
"""Throughput and memory of ``minfree scan`` against ``grep -c`` on a big realistic log.

Builds a log of syslog-style noise (kernel, systemd, sshd, cron, audit, network lines with
varying numbers) with the real fixture reports of tests/fixtures/kernel-logs/reports
sprinkled through it, then in the same run times ``grep -c 'page allocation failure'`` and
``minfree scan --json`` on it (page cache warm for both: each runs once untimed first),
checks that minfree found every inserted report, and prints both throughputs, their ratio
and minfree's peak memory (max RSS of the child, from ``wait4``).

Targets (issue 2): at least half of grep's throughput, under 100 MB peak memory.

    .venv/bin/python bench/scan_vs_grep.py            # 1 GiB, writes bench/results/scan.md
    .venv/bin/python bench/scan_vs_grep.py --size-mb 64 --no-write
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REPORTS = REPO / "tests" / "fixtures" / "kernel-logs" / "reports"
RESULTS = REPO / "bench" / "results" / "scan.md"

_NOISE = (
    "{ts} {host} kernel: [{up}] TCP: request_sock_TCP: Possible SYN flooding on port {port}. Sending cookies.",
    "{ts} {host} kernel: [{up}] nf_conntrack: nf_conntrack: table full, dropping packet",
    "{ts} {host} kernel: [{up}] IPv6: ADDRCONF(NETDEV_CHANGE): eth{n}: link becomes ready",
    "{ts} {host} kernel: [{up}] ixgbe 0000:0{n}:00.0 eth{n}: NIC Link is Up 10 Gbps, Flow Control: RX/TX",
    "{ts} {host} kernel: [{up}] EXT4-fs (nvme0n1p{n}): mounted filesystem with ordered data mode. Opts: (null)",
    "{ts} {host} kernel: [{up}] audit: type=1400 audit({up}:{pid}): apparmor=\"DENIED\" operation=\"open\" profile=\"snap.lxd\" pid={pid} comm=\"asd\"",
    "{ts} {host} kernel: [{up}] device veth{pid} entered promiscuous mode",
    "{ts} {host} kernel: [{up}] docker0: port {n}(veth{pid}) entered forwarding state",
    "{ts} {host} systemd[1]: Started Session {pid} of user aerospike.",
    "{ts} {host} systemd[1]: session-{pid}.scope: Succeeded.",
    "{ts} {host} sshd[{pid}]: Accepted publickey for deploy from 10.{n}.{port}.{n} port {port} ssh2",
    "{ts} {host} sshd[{pid}]: pam_unix(sshd:session): session opened for user deploy by (uid=0)",
    "{ts} {host} CRON[{pid}]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
    "{ts} {host} asd[{pid}]: INFO (info): (ticker.c:{port}) {{test}} memory-usage: total-bytes {pid}{port} index-bytes 0",
    "{ts} {host} kafka[{pid}]: [2024-03-01 10:00:{sec},123] INFO [Log partition=orders-{n}] Rolled new log segment",
    "{ts} {host} rsyslogd: action 'action-{n}-builtin:omfwd' resumed (module 'builtin:omfwd')",
    "{ts} {host} kernel: [{up}] perf: interrupt took too long ({pid} > {port}), lowering kernel.perf_event_max_sample_rate",
    "{ts} {host} asd[{pid}]: WARNING (hb): (hb.c:{port}) node will be removed from succession list",
    "{ts} {host} kafka[{pid}]: [2024-03-01 10:00:{sec},456] INFO Segment ordering will fill {n} slots",
)
#: Lines that are frequent on a busy host but rare per line; one in RARE_EVERY lines.
_RARE = (
    "{ts} {host} kernel: [{up}] net_ratelimit: {n} callbacks suppressed",
    "{ts} {host} kernel: [{up}] TCP: out of memory -- consider tuning tcp_mem",
    "{ts} {host} kernel: [{up}] mlx5_core 0000:3b:00.0: mlx5_alloc_cq:{port}: allocate CQ buffer ok",
)
RARE_EVERY = 500


def build_log(path: Path, size_bytes: int, seed: int = 1) -> tuple[int, int]:
    """Write the log; returns (bytes written, failure headers inserted)."""
    rng = random.Random(seed)
    reports = [p.read_bytes() for p in sorted(REPORTS.glob("*.log"))]
    headers = [r.count(b"page allocation failure") for r in reports]
    months = ("Jan", "Feb", "Mar")
    lines = []
    for i in range(60000):
        template = _RARE[i % len(_RARE)] if i % RARE_EVERY == 0 else _NOISE[rng.randrange(len(_NOISE))]
        lines.append(template.format(
            ts=f"{months[i % 3]} {1 + i % 28:2d} {i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}",
            host=f"db{i % 7}", up=f"{100000 + i * 0.37:12.6f}", port=rng.randrange(1, 65535),
            n=rng.randrange(0, 9), pid=rng.randrange(100, 4_000_000), sec=f"{i % 60:02d}"))
    block = ("\n".join(lines) + "\n").encode()
    written = 0
    inserted = 0
    index = 0
    with path.open("wb") as out:
        while written < size_bytes:
            out.write(block)
            written += len(block)
            report = reports[index % len(reports)]
            out.write(report if report.endswith(b"\n") else report + b"\n")
            written += len(report) + (0 if report.endswith(b"\n") else 1)
            inserted += headers[index % len(reports)]
            index += 1
    return written, inserted


def _run(argv: list[str]) -> tuple[float, int, bytes]:
    """Wall time, max RSS (kB) of this child alone, stdout."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as sink:
        process = subprocess.Popen(argv, stdout=sink, stderr=subprocess.PIPE)
        _pid, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        stderr = process.stderr.read() if process.stderr else b""
        if process.returncode not in (0, 1):
            raise SystemExit(f"{argv[0]} failed ({process.returncode}): {stderr.decode()[:500]}")
        sink.seek(0)
        return elapsed, usage.ru_maxrss, sink.read()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1024, help="log size in MiB (default 1024)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each (best is kept)")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/results/scan.md")
    parser.add_argument("--keep", action="store_true", help="keep the generated log")
    args = parser.parse_args()
    grep = shutil.which("grep")
    if grep is None:
        raise SystemExit("grep not found")
    workdir = Path(tempfile.mkdtemp(prefix="minfree-bench-"))
    log = workdir / "kern.log"
    try:
        size, inserted = build_log(log, args.size_mb << 20)
        grep_cmd = [grep, "-c", "page allocation failure", str(log)]
        scan_cmd = [sys.executable, "-m", "minfree", "scan", "--json", str(log)]
        _run(grep_cmd)  # warm the page cache
        grep_times, scan_times, scan_rss = [], [], []
        grep_out = scan_out = b""
        for _ in range(args.repeat):
            elapsed, _rss, grep_out = _run(grep_cmd)
            grep_times.append(elapsed)
            elapsed, rss, scan_out = _run(scan_cmd)
            scan_times.append(elapsed)
            scan_rss.append(rss)
        doc = json.loads(scan_out)
        found = doc["summary"]["failures"]
        grep_count = int(grep_out.strip() or 0)
        grep_best, scan_best = min(grep_times), min(scan_times)
        mib = size / (1 << 20)
        grep_tp, scan_tp = mib / grep_best, mib / scan_best
        peak_mb = max(scan_rss) / 1024
        ratio = scan_tp / grep_tp
        ok_speed, ok_memory, ok_found = ratio >= 0.5, peak_mb < 100, found == inserted
        lines = [
            f"log: {mib:.0f} MiB, {inserted} failure headers inserted ({len(list(REPORTS.glob('*.log')))} fixture reports in rotation)",
            f"grep -c 'page allocation failure': {grep_best:.2f} s, {grep_tp:.0f} MiB/s (count {grep_count})",
            f"minfree scan --json:              {scan_best:.2f} s, {scan_tp:.0f} MiB/s (reports {found})",
            f"ratio minfree/grep throughput: {ratio:.2f} (target >= 0.5: {'met' if ok_speed else 'NOT met'})",
            f"minfree peak memory (max RSS): {peak_mb:.1f} MB (target < 100 MB: {'met' if ok_memory else 'NOT met'})",
            f"every inserted report found: {'yes' if ok_found else 'NO'}",
        ]
        print("\n".join(lines))
        if not args.no_write:
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            cpu = platform.processor() or platform.machine()
            RESULTS.write_text(
                "# scan vs grep\n\n"
                "`bench/scan_vs_grep.py` (best of "
                f"{args.repeat} runs each, page cache warm, same run; machine: {platform.node()}, "
                f"{os.cpu_count()} CPUs, {cpu}, kernel {platform.release()}, Python {platform.python_version()}).\n\n"
                "```\n" + "\n".join(lines) + "\n```\n\n"
                "How: while no report is open the scanner searches each 4 MiB chunk for three "
                "substrings (`alloc`, ` of memory`, `Linux version`) with `bytes.find`, checks a "
                "hit's line against the exact triggers before decoding it, and parses every line "
                "only once a report header is found; newlines are counted with numpy in "
                "256 KiB blocks so line numbers stay exact. Memory stays flat: one chunk, the "
                "report being read, and the results.\n\n"
                "Why the speed target is not met: `grep -c` searches one literal; the scan must "
                "find failure headers, suppressed counts, OOM-killer reports, SLUB/vmalloc "
                "messages and `Linux version` lines, which takes three literals at the least. "
                "CPython's `bytes.find` runs at about 1.3-2 GB/s per literal on this machine "
                "(CPU-bound, measured: windowing the search into L2-sized blocks does not help), "
                "so three passes plus the newline count cap the scan near 500-700 MB/s before "
                "any parsing, against grep's 1.5-2.7 GB/s. A compiled byte loop (numba) was "
                "measured at 240-470 MB/s, slower than the three `find` passes. Reaching half "
                "of grep would need a SIMD multi-pattern matcher (Hyperscan, Aho-Corasick in C) "
                "or giving up related events in the skip path.\n")
        return 0 if ok_found else 1
    finally:
        if args.keep:
            print(f"log kept: {log}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
