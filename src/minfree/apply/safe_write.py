"""Crash-safe file writes: a file is always wholly old or wholly new.

The procedure for every write (``atomic_write``):

1. create a temporary file *in the same folder* (same filesystem, so the rename is atomic),
   named ``.<name>.minfree-tmp-<pid>-<random>``: it never ends in ``.conf``, so neither
   systemd-sysctl nor ``sysctl --system`` would read a leftover after a crash;
2. write, flush, ``fsync``; set the mode and owner of the file it replaces (or the ones
   asked for);
3. ``rename()`` over the target (atomic on POSIX: readers see old or new, never a mix);
4. ``fsync`` the folder, so the rename itself survives a power cut.

A lock file (:class:`ApplyLock`, ``flock``) stops two applies or rollbacks at once; the
kernel drops the lock when the holder dies, even by SIGKILL, so a crash never leaves a stale
lock behind.

``crash_point()`` is a test hook: when ``MINFREE_TEST_KILL_AT_STEP=N`` is set in the
environment, the N-th checkpoint reached kills the process with SIGKILL. Without the variable
it only increments a counter (no I/O, no behaviour change). The crash test uses it to kill
``minfree apply`` between every pair of steps.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import signal
import stat
from dataclasses import dataclass
from pathlib import Path

from minfree.errors import RefusedError, SourceError

_KILL_ENV = "MINFREE_TEST_KILL_AT_STEP"
_TMP_MARK = ".minfree-tmp-"
_step = 0


def crash_point(label: str) -> None:
    """Count one step; SIGKILL ourselves at step ``$MINFREE_TEST_KILL_AT_STEP`` (tests only)."""
    global _step
    _step += 1
    target = os.environ.get(_KILL_ENV)
    if target is not None and target.isdigit() and int(target) == _step:
        os.kill(os.getpid(), signal.SIGKILL)


def steps_taken() -> int:
    """How many checkpoints this process has passed (the crash test sizes its range with it)."""
    return _step


@dataclass(frozen=True)
class FileMeta:
    """Mode (permission bits), owner and group of a file."""

    mode: int
    uid: int
    gid: int

    @classmethod
    def of(cls, path: str | os.PathLike[str]) -> FileMeta:
        info = os.stat(path)
        return cls(stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """Make a rename or unlink in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _apply_meta(fd: int, meta: FileMeta) -> None:
    os.fchmod(fd, meta.mode)
    try:
        os.fchown(fd, meta.uid, meta.gid)
    except PermissionError:
        # Only root may give a file away. Safety checks refuse a live apply without root, so
        # this happens only on a directory root owned by the (unprivileged) caller.
        if os.geteuid() == 0:
            raise


def atomic_write(path: str | os.PathLike[str], data: bytes, meta: FileMeta | None = None) -> None:
    """Replace ``path`` with ``data`` atomically, keeping its mode and owner.

    ``meta`` is used for a new file (default 0644, owned by us) or to force a mode/owner
    (rollback restores the recorded ones). Raises :class:`SourceError` on I/O failure with
    the path and reason; the target is then untouched.
    """
    target = Path(path)
    folder = target.parent
    if meta is None:
        try:
            meta = FileMeta.of(target)
        except FileNotFoundError:
            meta = FileMeta(0o644, os.geteuid(), os.getegid())
    tmp = folder / f".{target.name}{_TMP_MARK}{os.getpid()}-{secrets.token_hex(4)}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except OSError as error:
        raise SourceError(f"cannot write in {folder}: {error.strerror}") from None
    try:
        crash_point(f"tmp created {tmp}")
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        crash_point(f"tmp written {tmp}")
        os.fsync(fd)
        _apply_meta(fd, meta)
        os.fsync(fd)
        crash_point(f"tmp synced {tmp}")
    except OSError as error:
        os.close(fd)
        _unlink_quietly(tmp)
        raise SourceError(f"cannot write {tmp}: {error.strerror}") from None
    except BaseException:
        os.close(fd)
        _unlink_quietly(tmp)
        raise
    os.close(fd)
    try:
        os.replace(tmp, target)
    except OSError as error:
        _unlink_quietly(tmp)
        raise SourceError(f"cannot replace {target}: {error.strerror}") from None
    crash_point(f"renamed {target}")
    fsync_dir(folder)
    crash_point(f"dir synced {folder}")


def remove_file(path: str | os.PathLike[str]) -> bool:
    """Unlink ``path`` durably; False when it was already gone."""
    target = Path(path)
    try:
        os.unlink(target)
    except FileNotFoundError:
        return False
    crash_point(f"unlinked {target}")
    fsync_dir(target.parent)
    return True


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def stale_temp_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Temporary files left by a killed write in ``folder`` (safe to delete: never renamed)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return [Path(folder) / n for n in sorted(names) if _TMP_MARK in n and n.startswith(".")]


def clean_stale_temp_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete temporary files of killed writes whose process is gone; returns what was removed."""
    removed = []
    for path in stale_temp_files(folder):
        pid_text = path.name.rsplit(_TMP_MARK, 1)[1].split("-", 1)[0]
        if pid_text.isdigit() and _pid_alive(int(pid_text)):
            continue
        _unlink_quietly(path)
        removed.append(path)
    return removed


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def makedirs_durable(folder: Path, mode: int = 0o755) -> None:
    """``mkdir -p`` that fsyncs each parent it changed."""
    missing = []
    current = folder
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, mode)
        except FileExistsError:
            continue
        except OSError as error:
            raise SourceError(f"cannot create {directory}: {error.strerror}") from None
        fsync_dir(directory.parent)


class ApplyLock:
    """Exclusive ``flock`` on ``<state>/lock``; refuses (does not wait) when held."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "lock"
        self._fd: int | None = None

    def __enter__(self) -> ApplyLock:
        makedirs_durable(self.path.parent, 0o700)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as error:
            raise SourceError(f"cannot open lock {self.path}: {error.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            os.close(fd)
            if error.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                raise RefusedError(
                    f"another minfree apply or rollback holds {self.path} "
                    "(rule: one writer at a time; override: wait for it to finish)"
                ) from None
            raise SourceError(f"cannot lock {self.path}: {error.strerror}") from None
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
