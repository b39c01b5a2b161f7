"""The safety rules of ``minfree apply``: each refusal names its rule and its override.

| rule | what | override |
|---|---|---|
| ``kernel-range`` | a value the kernel rejects for this key and release (:mod:`minfree.kernel.sysctl_catalog`) | none |
| ``min-free-above-5pct`` | ``min_free_kbytes`` above 5% of RAM (vendor guidance, landscape §15) | ``--allow-high`` (up to 10%) |
| ``min-free-above-10pct`` | above 10% of RAM: never | none |
| ``high-watermarks-exceed-available`` | the new HIGH watermarks add up to more than today's MemAvailable: kswapd would reclaim at once, or the OOM killer would run | none (choose a smaller value) |
| ``memory-size-unknown`` | no meminfo and no zoneinfo: the two rules above cannot be checked | none |
| ``root-required`` | a live host and not root | run as root |
| ``read-only-proc-sys`` | ``/proc/sys`` is mounted read-only or not writable (container) | none: set it on the host |
| ``read-only-etc`` | the folder minfree must persist to is read-only | ``--persist none`` |
| ``journal-not-writable`` | ``/var/lib/minfree`` cannot be written, so nothing could be undone | none |

Warnings do not stop an apply: a value below the kernel's own default, a
``min_free_kbytes`` below khugepaged's recommendation while THP is on (khugepaged raises it
back), a low ``watermark_scale_factor``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

FIVE_PERCENT = 0.05
TEN_PERCENT = 0.10


@dataclass(frozen=True)
class Refusal:
    """A rule the plan breaks; ``override`` is the option that lifts it, or None."""

    rule: str
    message: str
    override: str | None = None

    def text(self) -> str:
        fix = f"override: {self.override}" if self.override else "no override"
        return f"refused by rule {self.rule}: {self.message} ({fix})"


@dataclass(frozen=True)
class Caution:
    """A warning shown with the plan; it does not stop the apply."""

    rule: str
    message: str


def check_min_free(
    new_kb: int,
    *,
    mem_total_kb: int | None,
    allow_high: bool,
) -> Refusal | None:
    """The 5% / 10% rule for ``min_free_kbytes``.

    >>> check_min_free(900_000, mem_total_kb=16_000_000, allow_high=False).rule
    'min-free-above-5pct'
    >>> check_min_free(900_000, mem_total_kb=16_000_000, allow_high=True) is None
    True
    >>> check_min_free(1_700_000, mem_total_kb=16_000_000, allow_high=True).rule
    'min-free-above-10pct'
    """
    if mem_total_kb is None or mem_total_kb <= 0:
        return Refusal(
            "memory-size-unknown",
            "the root has neither /proc/meminfo nor /proc/zoneinfo, so the size of RAM is unknown "
            "and the 5% rule cannot be checked",
        )
    five, ten = int(mem_total_kb * FIVE_PERCENT), int(mem_total_kb * TEN_PERCENT)
    if new_kb > ten:
        return Refusal(
            "min-free-above-10pct",
            f"vm.min_free_kbytes {new_kb} kB is above 10% of RAM ({ten} kB of {mem_total_kb} kB); "
            "minfree never sets more",
        )
    if new_kb > five and not allow_high:
        return Refusal(
            "min-free-above-5pct",
            f"vm.min_free_kbytes {new_kb} kB is above 5% of RAM ({five} kB of {mem_total_kb} kB): "
            "that much memory is kept free and taken from applications",
            "--allow-high (allows up to 10% of RAM)",
        )
    return None


def check_high_watermarks(new_high_total_kb: int, mem_available_kb: int | None) -> Refusal | None:
    """New HIGH watermarks (all zones) must fit in today's MemAvailable."""
    if mem_available_kb is None:
        return None
    if new_high_total_kb > mem_available_kb:
        return Refusal(
            "high-watermarks-exceed-available",
            f"the new high watermarks add up to {new_high_total_kb} kB, more than today's "
            f"MemAvailable ({mem_available_kb} kB): kswapd would start reclaiming at once and "
            "allocations could fail or wake the OOM killer; choose a smaller value",
        )
    return None


def _read_only_mount(path: Path) -> bool:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return bool(os.statvfs(probe).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def writable(path: Path) -> tuple[bool, str]:
    """Whether ``path`` (a file, or the folder it would be created in) can be written.

    Checks the mount flag (``ST_RDONLY``: a read-only bind mount, a container's /proc/sys),
    then the permission bits (which root bypasses, so they matter for unprivileged roots).
    """
    if _read_only_mount(path):
        return False, f"{path} is on a read-only mount"
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not os.access(probe, os.W_OK):
        return False, f"{probe} is not writable by this user"
    if probe.is_dir() and probe != path and not os.access(probe, os.X_OK):
        return False, f"{probe} is not searchable"
    return True, ""


def check_proc_writable(paths: list[Path], *, live: bool) -> Refusal | None:
    for path in paths:
        ok, why = writable(path)
        if not ok:
            where = "set it on the host, or remount /proc/sys read-write" if live else ""
            return Refusal(
                "read-only-proc-sys",
                f"cannot write runtime values: {why}" + (f"; {where}" if where else ""),
            )
    return None


def check_persist_writable(paths: list[Path]) -> Refusal | None:
    for path in paths:
        ok, why = writable(path)
        if not ok:
            return Refusal(
                "read-only-etc",
                f"cannot persist: {why}",
                "--persist none (runtime change only, lost at reboot)",
            )
    return None


def check_journal_writable(path: Path) -> Refusal | None:
    ok, why = writable(path)
    if not ok:
        return Refusal(
            "journal-not-writable",
            f"the journal cannot be written ({why}), so the change could not be rolled back",
        )
    return None


def check_root_user(live: bool) -> Refusal | None:
    if live and os.geteuid() != 0:
        return Refusal(
            "root-required",
            "changing /proc/sys/vm and /etc on this host needs root",
            "run as root (e.g. with sudo)",
        )
    return None
