#!/usr/bin/env python3
"""Boot-time sysctl resolution and apply/rollback latency, with the real tools as peers.

In one run, on the real Ubuntu 20.04 stack of the hotsos-kubernetes fixture root (plus a
few files: shadowing, a mask, a glob, sysctl.conf settings):

* ``collect_sysctl_config`` + ``resolve_boot_sysctl`` in process (both tools resolved, every definition kept);
* ``systemd-analyze cat-config sysctl.d --root`` (the peer that lists systemd's order);
* the real ``systemd-sysctl`` and ``sysctl --system`` run in a private mount namespace
  over a fake ``/proc/sys`` (the peers that compute the values; the kernel is not touched);
* ``minfree apply --yes`` then ``minfree rollback`` on a directory root, on disk (every
  write fsynced) and on tmpfs, as separate processes.

Prints medians and writes bench/results/apply.md. No target beyond "interactive": the
resolver must not be the slow part of `minfree doctor` (it is a few ms).

    .venv/bin/python bench/apply_bench.py [--repeat 20] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "src"))


def _median_ms(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    from minfree.analysis.sysctl_boot import resolve_boot_sysctl
    from minfree.sources.sysctl_config import collect_sysctl_config
    from test_sysctl_boot import _scenario_root

    rows: list[tuple[str, float]] = []
    work = Path(tempfile.mkdtemp(prefix="minfree-bench-"))
    try:
        (work / "scenario").mkdir()
        root = _scenario_root(work / "scenario")
        boot = resolve_boot_sysctl(collect_sysctl_config(root))
        rows.append((f"resolve_boot_sysctl, in process ({len(boot.systemd.files)} files, "
                     f"{len(boot.keys())} keys)", _median_ms(lambda: resolve_boot_sysctl(collect_sysctl_config(root)), args.repeat)))
        python = sys.executable
        env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
        code = ("from minfree.analysis.sysctl_boot import resolve_boot_sysctl; "
                "from minfree.sources.sysctl_config import collect_sysctl_config; "
                f"resolve_boot_sysctl(collect_sysctl_config({str(root)!r}))")
        rows.append(("python -c resolve_boot_sysctl (process)", _median_ms(
            lambda: subprocess.run([python, "-c", code], env=env, check=True), max(3, args.repeat // 4))))
        if shutil.which("systemd-analyze"):
            rows.append(("systemd-analyze cat-config sysctl.d --root (process)", _median_ms(
                lambda: subprocess.run(["systemd-analyze", "cat-config", "sysctl.d", f"--root={root}",
                                        "--no-pager"], capture_output=True, check=True),
                max(3, args.repeat // 4))))
        if os.geteuid() == 0 and shutil.which("unshare"):
            from test_sysctl_boot import _run_boot_tool_on_fake_proc

            for label, argv in (("systemd-sysctl", ["/lib/systemd/systemd-sysctl"]),
                                ("sysctl --system (procps)", ["sysctl", "-e", "-q", "--system"])):
                if not os.path.exists(argv[0]) and shutil.which(argv[0]) is None:
                    continue
                scratch = work / label.split()[0]
                scratch.mkdir()
                rows.append((f"{label} in a namespace over a fake /proc/sys (process)", _median_ms(
                    lambda argv=argv, scratch=scratch: _run_boot_tool_on_fake_proc(root, scratch, argv),
                    max(3, args.repeat // 4))))

        from test_apply_roots import build_root

        for label, base in (("disk", work), ("tmpfs", Path("/dev/shm"))):
            if not base.is_dir():
                continue
            folder = Path(tempfile.mkdtemp(dir=base))
            try:
                template = build_root(folder, name="template")

                def cycle(template: Path = template, folder: Path = folder) -> None:
                    target = folder / "r"
                    if target.exists():
                        shutil.rmtree(target)
                    shutil.copytree(template, target, symlinks=True)
                    subprocess.run([python, "-m", "minfree", "apply", "--root", str(target),
                                    "--min-free-kbytes", "90112", "--yes"], env=env, check=True,
                                   capture_output=True)
                    subprocess.run([python, "-m", "minfree", "rollback", "--root", str(target)],
                                   env=env, check=True, capture_output=True)

                rows.append((f"minfree apply + rollback, 2 processes ({label})",
                             _median_ms(cycle, max(3, args.repeat // 4))))
            finally:
                shutil.rmtree(folder, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {ms:9.1f} ms" for name, ms in rows]
    print("\n".join(lines))
    if not args.no_write:
        text = ["# apply and boot-time resolution: wall times (median)", "",
                f"Host: {os.uname().release}, {os.cpu_count()} CPUs; "
                f"`.venv/bin/python bench/apply_bench.py --repeat {args.repeat}`.", "",
                "| what | median |", "|---|---|"]
        text += [f"| {name} | {ms:.1f} ms |" for name, ms in rows]
        text += ["", "The in-process resolver is what `doctor` pays; the process rows include "
                 "interpreter start (about 115 ms for minfree). The namespace rows include "
                 "building the fake /proc/sys and the bind mounts. Apply on disk is dominated by "
                 "fsync (journal backups, entry, each file, each folder)."]
        (REPO / "bench/results/apply.md").write_text("\n".join(text) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
