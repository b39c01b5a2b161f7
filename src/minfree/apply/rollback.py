"""Undo one apply exactly: runtime values, then files byte-identical with mode and owner.

For each file the apply touched, the current bytes decide what to do:

- equal to what the apply wrote -> restore the original (or remove a file it created);
- equal to the original -> nothing to do (the apply was interrupted before this file);
- anything else -> someone changed the file after the apply: refuse, naming the file and
  the backup to restore by hand. Nothing is half-undone: all files are checked first.

Mode and owner are restored even when the bytes already match. Rolling back is itself
crash-safe and can simply be run again. Temporary files of a killed write are removed.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from minfree.apply import journal as journal_mod
from minfree.apply.journal import FileRecord, Journal, JournalEntry, sha256
from minfree.apply.runtime import WriteResult, write_value
from minfree.apply.safe_write import (
    ApplyLock,
    FileMeta,
    atomic_write,
    clean_stale_temp_files,
    fsync_dir,
    remove_file,
)
from minfree.errors import RefusedError, UsageError


@dataclass(frozen=True)
class FileAction:
    """What rollback did to one file: ``restored``, ``removed``, ``unchanged``."""

    path: str
    action: str


@dataclass(frozen=True)
class RollbackResult:
    entry: JournalEntry
    runtime: tuple[WriteResult, ...]
    files: tuple[FileAction, ...]


def _real(journal: Journal, record_path: str) -> Path:
    from minfree.apply.execute import real_path

    return real_path(journal.root, record_path)


def _current(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _decide(journal: Journal, entry: JournalEntry, record: FileRecord) -> str:
    path = _real(journal, record.path)
    current = sha256(_current(path))
    if record.existed:
        if current == record.sha256:
            return "unchanged"
        if current == record.new_sha256:
            return "restore"
    else:
        if current is None:
            return "unchanged"
        if current == record.new_sha256:
            return "remove"
    backup = f"{entry.folder}/{record.backup}" if record.backup else "(none: the apply created it)"
    raise RefusedError(
        f"{record.path} was changed after apply {entry.id} (rule: rollback only replaces what the "
        f"apply wrote; override: none, restore it by hand from {backup})"
    )


def undo_entry(journal: Journal, entry: JournalEntry) -> RollbackResult:
    """Restore everything ``entry`` changed (the caller holds the lock)."""
    decisions = [(record, _decide(journal, entry, record)) for record in entry.files]
    runtime: list[WriteResult] = []
    root = journal.root
    if not entry.live:
        # a killed atomic write of a "proc" file in a directory root leaves a temp file
        for folder in {(root / r.path.lstrip("/")).parent for r in entry.runtime}:
            clean_stale_temp_files(folder)
    for record in reversed(entry.runtime):
        key = record.key
        runtime.append(write_value(root, key, record.original, live=entry.live))
    actions: list[FileAction] = []
    for record, decision in decisions:
        path = _real(journal, record.path)
        clean_stale_temp_files(path.parent)
        if decision == "remove":
            remove_file(path)
            actions.append(FileAction(record.path, "removed"))
            continue
        if not record.existed:
            actions.append(FileAction(record.path, "unchanged"))
            continue
        meta = FileMeta(
            record.mode if record.mode is not None else 0o644,
            record.uid if record.uid is not None else os.geteuid(),
            record.gid if record.gid is not None else os.getegid(),
        )
        if decision == "restore":
            data = entry.backup_bytes(record)
            assert data is not None
            atomic_write(path, data, meta)
            actions.append(FileAction(record.path, "restored"))
            continue
        info = path.stat()
        if (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) != (
            meta.mode,
            meta.uid,
            meta.gid,
        ):
            os.chmod(path, meta.mode)
            try:
                os.chown(path, meta.uid, meta.gid)
            except PermissionError:
                if os.geteuid() == 0:
                    raise
        actions.append(FileAction(record.path, "unchanged"))
    for folder in reversed(entry.created_dirs):
        path = root / folder.lstrip("/")
        try:
            os.rmdir(path)
        except FileNotFoundError:
            continue
        except OSError:
            actions.append(FileAction(folder, "kept (not empty)"))
            continue
        fsync_dir(path.parent)
        actions.append(FileAction(folder, "removed"))
    return RollbackResult(entry, tuple(runtime), tuple(actions))


def rollback(root: str | os.PathLike[str] | None, entry_id: str | None = None) -> RollbackResult:
    """Undo the apply ``entry_id`` (None: the newest one not yet rolled back) under ``root``."""
    from minfree.apply.plan import resolve_root
    from minfree.apply.safety import check_root_user

    root_path, live = resolve_root(root)
    refusal = check_root_user(live)
    if refusal:
        raise RefusedError(refusal.text())
    journal = Journal(root_path)
    with ApplyLock(journal.state_dir):
        entry = journal.get(entry_id) if entry_id else journal.last()
        if entry.state == journal_mod.ROLLED_BACK:
            raise UsageError(f"apply {entry.id} was already rolled back")
        if entry.state == journal_mod.FAILED:
            raise UsageError(f"apply {entry.id} failed and was undone at the time")
        later = [
            e
            for e in journal.entries()
            if (e.created, e.id) > (entry.created, entry.id)
            and e.state in (journal_mod.APPLIED, journal_mod.PREPARED)
        ]
        if later:
            raise RefusedError(
                f"apply {entry.id} is followed by {', '.join(e.id for e in later)} (rule: roll back "
                "newest first; override: none, run `minfree rollback --last` until this one)"
            )
        result = undo_entry(journal, entry)
        entry = journal.set_state(entry, journal_mod.ROLLED_BACK)
    return RollbackResult(entry, result.runtime, result.files)
