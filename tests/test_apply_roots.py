"""Builders of temporary roots from the real fixture roots, shared by the apply tests.

A root gets a real sysctl stack (``etc/sysctl.conf``, ``etc/sysctl.d``, ``usr/lib/sysctl.d``
from a fixture root, symlinks such as ``99-sysctl.conf -> ../sysctl.conf`` copied as
symlinks), real ``proc/zoneinfo`` and ``proc/meminfo`` from the
Firecracker 6.18 capture, and a writable ``proc/sys/vm`` holding that capture's values.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from conftest import FIXTURES

ROOTS = FIXTURES / "roots"
FIRECRACKER = FIXTURES / "proc-captures" / "firecracker-6.18"


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_symlink():
        os.symlink(os.readlink(src), dst)
        return
    dst.write_bytes(src.read_bytes())
    os.chmod(dst, 0o644)  # the fixtures are read-only; the roots built here are written to


def build_root(
    tmp_path: Path,
    fixture: str = "hotsos-kubernetes-5.4.0-99",
    *,
    proc: bool = True,
    name: str = "root",
) -> Path:
    """A writable root under ``tmp_path/name`` (see the module docstring)."""
    root = tmp_path / name
    root.mkdir()
    source = ROOTS / fixture
    for rel in ("etc/sysctl.conf",):
        if (source / rel).exists():
            _copy(source / rel, root / rel)
    for folder in ("etc/sysctl.d", "usr/lib/sysctl.d", "run/sysctl.d"):
        if (source / folder).is_dir():
            for item in sorted((source / folder).iterdir()):
                _copy(item, root / folder / item.name)
            os.chmod(root / folder, 0o755)
    if proc:
        (root / "proc/sys/vm").mkdir(parents=True)
        for name_ in ("zoneinfo", "meminfo", "buddyinfo", "vmstat"):
            shutil.copyfile(FIRECRACKER / name_, root / "proc" / name_)
        (root / "proc/sys/kernel").mkdir(parents=True)
        (root / "proc/sys/kernel/osrelease").write_text(
            (FIRECRACKER / "kernel-release").read_text().strip() + "\n"
        )
        for line in (FIRECRACKER / "sysctl-vm.txt").read_text().splitlines():
            key, _, value = line.partition(" = ")
            if key.startswith("vm.") and "drop_caches" not in key:
                (root / "proc/sys/vm" / key[3:]).write_text(value.strip() + "\n")
    return root


def tree_state(root: Path) -> dict[str, tuple[str, int, int, int, bytes | str]]:
    """Every path under ``root`` -> (kind, mode, uid, gid, bytes or link text)."""
    state: dict[str, tuple[str, int, int, int, bytes | str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            info = path.lstat()
            rel = str(path.relative_to(root))
            if stat.S_ISLNK(info.st_mode):
                state[rel] = ("link", 0, info.st_uid, info.st_gid, os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                state[rel] = ("dir", stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid, b"")
            else:
                state[rel] = ("file", stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid,
                              path.read_bytes())
    return state


def test_build_root_keeps_the_sysctl_conf_symlink(tmp_path: Path) -> None:
    root = build_root(tmp_path)
    link = root / "etc/sysctl.d/99-sysctl.conf"
    assert link.is_symlink()
    assert os.readlink(link) == "../sysctl.conf"
    assert (root / "usr/lib/sysctl.d/50-default.conf").read_text().startswith("#  This file is part of systemd")
    assert (root / "proc/sys/vm/min_free_kbytes").read_text() == "67584\n"
    assert "Node 0, zone   Normal" in (root / "proc/zoneinfo").read_text()


def test_tree_state_sees_content_mode_and_links(tmp_path: Path) -> None:
    root = build_root(tmp_path, proc=False)
    before = tree_state(root)
    os.chmod(root / "etc/sysctl.conf", 0o600)
    assert tree_state(root) != before
    os.chmod(root / "etc/sysctl.conf", 0o644)
    assert tree_state(root) == before
