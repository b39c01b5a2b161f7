"""Shared test fixtures.

``FIXTURES`` is the repository's own copy of real data (see tests/fixtures/README.md for
provenance). Tests marked ``live`` compare predictions with this host's running kernel; the
``vm_sysctl_writer`` fixture serialises writers of /proc/sys/vm across processes and
restores every value it changed, whatever happens.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parent.parent
PROC_SYS_VM = Path("/proc/sys/vm")
_LOCK_PATH = Path("/tmp/minfree-live-vm.lock")


def proc_sys_vm_writable() -> tuple[bool, str]:
    """Whether this process may write /proc/sys/vm, and if not, why (for skip reasons)."""
    target = PROC_SYS_VM / "min_free_kbytes"
    if not target.exists():
        return False, "/proc/sys/vm/min_free_kbytes does not exist (not Linux, or /proc not mounted)"
    if os.geteuid() != 0:
        return False, "not root: /proc/sys/vm is writable only by root"
    if not os.access(target, os.W_OK):
        return False, "/proc/sys/vm is mounted read-only (container?)"
    return True, ""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    writable, why = proc_sys_vm_writable()
    if writable:
        return
    skip = pytest.mark.skip(reason=f"live test needs a writable /proc/sys/vm: {why}")
    for item in items:
        if "live" in item.keywords:
            item.add_marker(skip)


class VmSysctlWriter:
    """Writes /proc/sys/vm keys and remembers the originals so they can be restored."""

    def __init__(self) -> None:
        self.originals: dict[str, str] = {}

    def read(self, key: str) -> str:
        return (PROC_SYS_VM / key).read_text().strip()

    def write(self, key: str, value: int | str) -> None:
        if key not in self.originals:
            self.originals[key] = self.read(key)
        (PROC_SYS_VM / key).write_text(f"{value}\n")

    def restore(self) -> None:
        # Restore in reverse order of first change: watermark_scale_factor before
        # min_free_kbytes is irrelevant to the kernel, but reverse order is the safe habit.
        for key, value in reversed(list(self.originals.items())):
            (PROC_SYS_VM / key).write_text(f"{value}\n")


@pytest.fixture
def vm_sysctl_writer() -> Iterator[VmSysctlWriter]:
    """Exclusive access to /proc/sys/vm for one test; originals restored in a finally."""
    with _LOCK_PATH.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        writer = VmSysctlWriter()
        try:
            yield writer
        finally:
            writer.restore()
            fcntl.flock(lock, fcntl.LOCK_UN)
