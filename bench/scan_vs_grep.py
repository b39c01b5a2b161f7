#!/usr/bin/env python3
"""Throughput and memory of ``minfree scan`` against ``grep -c`` on a big realistic log.

Builds a log of syslog-style noise (kernel, systemd, sshd, cron, audit, network lines with
varying numbers) with the real fixture reports of tests/fixtures/kernel-logs/reports
sprinkled through it, then in the same run times ``grep -c 'page allocation failure'`` and
``minfree scan --json`` on it (page cache warm for both: each runs once untimed first),
checks that minfree found every inserted report, and prints both throughputs, their ratio
and minfree's peak memory (max RSS of the child, from ``wait4``).

For context it also times ``grep -c -F`` with the literals minfree's skip path searches for
(what grep does when asked for the same job), prints the CPU time minfree used (user +
system) and which search its skip path used (Hyperscan, or ``bytes.find`` without it), and
times ``minfree scan --json`` on the inserted reports alone (the same log without its noise
lines): the fixed cost of start-up, parsing, analysis and JSON that no search speed removes;
and the same scan in one process (the forked survey of a big file's second part disabled),
whose output must be identical.

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


def build_log(path: Path, size_bytes: int, seed: int = 1,
              reports_only: Path | None = None) -> tuple[int, int]:
    """Write the log; returns (bytes written, failure headers inserted). ``reports_only``:
    also write the inserted reports alone, in the same order, to that file."""
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
    alone = reports_only.open("wb") if reports_only is not None else None
    with path.open("wb") as out:
        while written < size_bytes:
            out.write(block)
            written += len(block)
            report = reports[index % len(reports)]
            out.write(report if report.endswith(b"\n") else report + b"\n")
            if alone is not None:
                alone.write(report if report.endswith(b"\n") else report + b"\n")
            written += len(report) + (0 if report.endswith(b"\n") else 1)
            inserted += headers[index % len(reports)]
            index += 1
    if alone is not None:
        alone.close()
    return written, inserted


def _run(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, int, bytes, float]:
    """Wall time, max RSS (kB) of this child (and its own children), stdout, CPU seconds."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as sink:
        process = subprocess.Popen(argv, stdout=sink, stderr=subprocess.PIPE, env=env)
        _pid, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        stderr = process.stderr.read() if process.stderr else b""
        if process.returncode not in (0, 1):
            raise SystemExit(f"{argv[0]} failed ({process.returncode}): {stderr.decode()[:500]}")
        sink.seek(0)
        return elapsed, usage.ru_maxrss, sink.read(), usage.ru_utime + usage.ru_stime


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
        reports_only = workdir / "reports-only.log"
        size, inserted = build_log(log, args.size_mb << 20, reports_only=reports_only)
        from minfree.parsers.kernel_log import COARSE_TRIGGER_BYTES

        grep_cmd = [grep, "-c", "page allocation failure", str(log)]
        same_cmd = [grep, "-c", "-F"]
        for literal in COARSE_TRIGGER_BYTES:
            same_cmd += ["-e", literal.decode()]
        same_cmd.append(str(log))
        scan_cmd = [sys.executable, "-m", "minfree", "scan", "--json", str(log)]
        fixed_cmd = [sys.executable, "-m", "minfree", "scan", "--json", str(reports_only)]
        single_cmd = [sys.executable, "-c",
                      "import sys; import minfree.parsers.kernel_log as k; "
                      "k.PARALLEL_MIN_BYTES = 1 << 62; from minfree.cli.main import main; "
                      "raise SystemExit(main(sys.argv[1:]))", "scan", "--json", str(log)]
        from minfree.parsers.kernel_log import search_engine

        engine = search_engine()
        # minfree runs with its bytecode cached, as an installed package has it (pip compiles
        # it at install time): a shell that sets PYTHONDONTWRITEBYTECODE would otherwise make
        # every run compile the modules again (about 40 ms). The cache lives in the work
        # directory, not in the source tree, and the untimed runs below fill it.
        minfree_env = dict(os.environ)
        minfree_env.pop("PYTHONDONTWRITEBYTECODE", None)
        minfree_env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
        _run(grep_cmd)  # warm the page cache
        _run(fixed_cmd, minfree_env)  # fill the bytecode cache
        _run(scan_cmd, minfree_env)
        load_before = os.getloadavg()[0]
        grep_times, same_times, scan_times, scan_rss, scan_cpu, fixed_times = [], [], [], [], [], []
        single_times = []
        grep_out = scan_out = b""
        for _ in range(args.repeat):
            elapsed, _rss, grep_out, _cpu = _run(grep_cmd)
            grep_times.append(elapsed)
            elapsed, _rss, _out, _cpu = _run(same_cmd)
            same_times.append(elapsed)
            elapsed, rss, scan_out, cpu = _run(scan_cmd, minfree_env)
            scan_times.append(elapsed)
            scan_rss.append(rss)
            scan_cpu.append(cpu)
            elapsed, _rss, fixed_out, _cpu = _run(fixed_cmd, minfree_env)
            fixed_times.append(elapsed)
            elapsed, _rss, single_out, _cpu = _run(single_cmd, minfree_env)
            single_times.append(elapsed)
            if single_out != scan_out:
                raise SystemExit("the one-process scan differs from the surveyed one")
        load_after = os.getloadavg()[0]
        doc = json.loads(scan_out)
        found = doc["summary"]["failures"]
        fixed_found = json.loads(fixed_out)["summary"]["failures"]
        grep_count = int(grep_out.strip() or 0)
        grep_best, scan_best, same_best = min(grep_times), min(scan_times), min(same_times)
        mib = size / (1 << 20)
        grep_tp, scan_tp, same_tp = mib / grep_best, mib / scan_best, mib / same_best
        best_cpu = scan_cpu[scan_times.index(scan_best)]
        peak_mb = max(scan_rss) / 1024
        ratio = scan_tp / grep_tp
        ok_speed, ok_memory, ok_found = ratio >= 0.5, peak_mb < 100, found == inserted
        lines = [
            f"log: {mib:.0f} MiB, {inserted} failure headers inserted ({len(list(REPORTS.glob('*.log')))} fixture reports in rotation)",
            f"grep -c 'page allocation failure': {grep_best:.2f} s, {grep_tp:.0f} MiB/s (count {grep_count})",
            f"minfree scan --json:              {scan_best:.2f} s, {scan_tp:.0f} MiB/s (reports {found}; "
            f"CPU time {best_cpu:.2f} s; skip-path search: {engine})",
            f"minfree scan --json on the {fixed_found} reports alone ({reports_only.stat().st_size / 1e3:.0f} kB, "
            f"fixed cost): {min(fixed_times):.2f} s",
            f"ratio minfree/grep throughput: {ratio:.2f} (target >= 0.5: {'met' if ok_speed else 'NOT met'})",
            f"for context, grep -c -F with the skip path's {len(COARSE_TRIGGER_BYTES)} literals: "
            f"{same_best:.2f} s, {same_tp:.0f} MiB/s (minfree/that: {scan_tp / same_tp:.2f})",
            f"load average (1 min) before/after: {load_before:.2f}/{load_after:.2f}",
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
                "short literals (`alloc`, `of memory`, `Linux`): with Hyperscan (one "
                "block-mode pass finds all three; the database is compiled once per process) "
                "where the `hyperscan` package is installed, else with one `bytes.find` pass "
                "per literal; both give the same hits (tests/test_scan_engines.py). A hit's "
                "line is checked against the exact triggers before it is decoded (a `TCP: out "
                "of memory` line is dropped there: only OOM kill lines among the `of memory` "
                "ones can start anything), and lines are parsed only from a report header on. "
                "Newlines are counted with numpy only up to the lines it parses and at the end "
                "of each chunk. For a plain file of 64 MiB or more on two CPUs or more, a "
                "forked child surveys the last 80% ahead of the scan: it reads that part "
                "itself (`pread`), counts each chunk's newlines and lists its Hyperscan hits, "
                "and streams both through a pipe; the parent still reads and parses every "
                "chunk, but takes the hits as listed and counts newlines only from a parsed "
                "line to the nearer end of its chunk. The result is the one-process result "
                "(tests/test_scan_parallel.py compares them, including mutated logs, a child "
                "that fails, a file that grows during the scan, and too many hits to list). "
                "Memory stays flat in both processes: a chunk, the report being read, one "
                "chunk's hits; the peak above is the larger of the two (the child is a fork "
                "and shares the parent's pages copy-on-write). CPU time is both processes'.\n\n"
                f"The same scan in one process (the survey disabled): {min(single_times):.2f} s, "
                f"{mib / min(single_times):.0f} MiB/s, ratio to grep "
                f"{(mib / min(single_times)) / grep_tp:.2f}.\n\n"
                "Where the time goes in one process (measured 2026-11-29 on this machine, 1 GiB "
                "bench log): reading the file 0.06-0.13 s, the Hyperscan search 0.16 s (it was "
                "0.30-0.37 s with `alloc`, `ut of memory`, `Linux version`: the long literals "
                "take Hyperscan off its fastest path), counting newlines about 0.1 s (numpy; "
                "`bytes.count` runs at about 2 GiB/s here), numpy's import about 0.05 s, the "
                "coarse hits that are not triggers (about 14,000 driver and TCP lines) about "
                "0.1 s of Python, parsing the reports; plus the fixed cost of the run on the "
                "reports alone (start-up and imports, then the parse, analysis and JSON of the "
                "reports). With the survey the parent keeps the read, the Python per hit, the "
                "parse and the fixed cost; the child is never waited for on this machine. "
                "Tried and rejected: a reading thread that also counts newlines (and, in "
                "earlier attempts, runs the Hyperscan search): no gain over one thread in "
                "alternating runs (0.63-0.77 s against 0.68-0.75 s), as each hand-over of the "
                "GIL between the parsing thread and the reader waits; 1 MiB reads instead of 4 "
                "MiB: within the noise. Cut from the fixed cost earlier: the analysis does not "
                "import numpy, the JSON is rendered compact by the C encoder, and the bench "
                "runs minfree with its bytecode cached, as an installed package has it (this "
                "shell sets PYTHONDONTWRITEBYTECODE, which made every run compile the modules "
                "again, about 40 ms); grep is run as it is. Timings on this shared 2-CPU "
                "machine vary by up to 1.5x between runs with the other work on it (load "
                "average above); the figures are the best of the runs.\n")
        return 0 if ok_found else 1
    finally:
        if args.keep:
            print(f"log kept: {log}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
