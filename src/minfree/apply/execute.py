"""Carry out an :class:`~minfree.apply.plan.ApplyPlan`: journal first, then runtime, then files.

Order and why:

1. take the lock (one writer at a time) and re-check that every file is still as planned
   (someone may have edited it between the plan and the confirmation);
2. write the journal entry with every original runtime value and the original bytes, mode
   and owner of every file (write-ahead: from here on, a crash can be rolled back);
3. runtime values (read back each one);
4. file edits, each atomic (:func:`~minfree.apply.safe_write.atomic_write`);
5. mark the entry ``applied``; then verify (zoneinfo against the model, re-read after a
   moment) and report.

Any error in 3-4 undoes what was done (the same code as ``minfree rollback``) and marks
the entry ``failed``; the error is then raised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from minfree.apply import journal as journal_mod
from minfree.apply.journal import FileRecord, Journal, JournalEntry, RuntimeRecord, sha256
from minfree.apply.plan import WATERMARK_KEYS, ApplyPlan
from minfree.apply.runtime import (
    WriteResult,
    ZoneCheck,
    check_zoneinfo,
    read_value,
    settle_check,
    who_changes,
    write_value,
)
from minfree.apply.safe_write import (
    ApplyLock,
    atomic_write,
    clean_stale_temp_files,
    crash_point,
    makedirs_durable,
)
from minfree.errors import MinfreeError, RefusedError
from minfree.sources.sysctl_config import resolve_host_path


@dataclass(frozen=True)
class ApplyResult:
    """What happened: the journal entry, read-backs, checks and warnings."""

    entry: JournalEntry
    writes: tuple[WriteResult, ...]
    zone_mismatches: tuple[ZoneCheck, ...] = ()
    zones_compared: int = 0
    changed_later: dict[str, str | None] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


def real_path(root: Path, host_path: str) -> Path:
    """Where a host path lives under the root, links resolved inside the root."""
    return resolve_host_path(root, host_path)


def _current_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def execute(plan: ApplyPlan, *, command: tuple[str, ...] = (), settle_seconds: float | None = None
            ) -> ApplyResult:
    """Apply ``plan`` (already confirmed). Raises :class:`RefusedError` if it breaks a rule."""
    plan.refuse_if_needed()
    root = plan.root
    journal = Journal(root)
    with ApplyLock(journal.state_dir):
        originals: dict[str, bytes | None] = {}
        records: list[FileRecord] = []
        for edit in plan.persist.edits:
            path = real_path(root, edit.path)
            clean_stale_temp_files(path.parent)
            current = _current_bytes(path)
            if current != edit.before_bytes:
                raise RefusedError(
                    f"{edit.path} changed since the plan was made (rule: files must be as planned; "
                    "override: run minfree apply again to re-plan)")
            meta = path.stat() if current is not None else None
            originals[edit.path] = current
            records.append(FileRecord(
                path=edit.path, existed=current is not None, reason="; ".join(edit.reasons),
                new_sha256=sha256(edit.after_bytes),
                mode=meta.st_mode & 0o7777 if meta else None,
                uid=meta.st_uid if meta else None, gid=meta.st_gid if meta else None,
            ))
        missing_dirs: list[str] = []
        for edit in plan.persist.edits:
            folder = real_path(root, edit.path).parent
            chain = []
            while not folder.exists() and folder != root:
                chain.append("/" + str(folder.relative_to(root)))
                folder = folder.parent
            missing_dirs.extend(d for d in reversed(chain) if d not in missing_dirs)
        runtime_changes = [c for c in plan.changes if c.changes_runtime and c.current is not None]
        # The original is what the kernel holds now, under the lock (it may have moved since
        # the plan was made: khugepaged, tuned, another admin); that is what rollback restores.
        originals_now = {c.key: read_value(root, c.key) for c in runtime_changes}
        for key, value in originals_now.items():
            if value is None:
                raise RefusedError(f"{key} can no longer be read under {root} (rule: runtime "
                                   "values must be readable to be restored; override: none)")
        entry = JournalEntry(
            id=plan.id, created=journal_mod.now_text(), root=str(root), live=plan.live,
            command=command, state=journal_mod.PREPARED, persist=plan.persist.mode,
            runtime=tuple(RuntimeRecord(c.key, c.proc_path, originals_now[c.key] or "", c.new)
                          for c in runtime_changes),
            files=tuple(records),
            notes=(plan.reason,),
            created_dirs=tuple(missing_dirs),
        )
        entry = journal.record(entry, originals)
        writes: list[WriteResult] = []
        try:
            for change in runtime_changes:
                result = write_value(root, change.key, change.new, live=plan.live)
                writes.append(result)
                if not result.ok:
                    raise MinfreeError(
                        f"{change.key}: wrote {change.new} but it reads back as {result.read_back}")
            crash_point("runtime done")
            for folder in missing_dirs:
                makedirs_durable(root / folder.lstrip("/"), 0o755)
            for edit in plan.persist.edits:
                atomic_write(real_path(root, edit.path), edit.after_bytes)
            crash_point("files done")
        except (MinfreeError, OSError) as error:
            from minfree.apply.rollback import undo_entry

            undo_entry(journal, entry)
            journal.set_state(entry, journal_mod.FAILED, note=f"undone after error: {error}")
            raise
        entry = journal.set_state(entry, journal_mod.APPLIED)
        crash_point("entry applied")

    warnings: list[str] = []
    mismatches: list[ZoneCheck] = []
    compared = 0
    values = {c.key: c.new for c in runtime_changes}
    if plan.live and any(k in values for k in WATERMARK_KEYS):
        sysctl = dict(plan.facts.sysctl)
        mismatches, compared = check_zoneinfo(
            root, values, release=plan.facts.release,
            page_size_bytes=plan.facts.page_size_bytes, sysctl=sysctl)
    seconds = settle_seconds if settle_seconds is not None else (2.0 if plan.live else 0.0)
    changed = settle_check(root, values, seconds) if values else {}
    for key, found in changed.items():
        warnings.append(f"{key} changed to {found} within {seconds:g} s of the write: "
                        f"{who_changes(root, key, plan.facts.thp_enabled)}")
    return ApplyResult(entry, tuple(writes), tuple(mismatches), compared, changed, tuple(warnings))
