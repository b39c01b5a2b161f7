"""The apply journal: what each apply changed, recorded *before* it changes anything.

Layout under the root (``/`` on a live host)::

    var/lib/minfree/
      lock                              flock held by a running apply/rollback
      journal/<id>/entry.json           the record (format below)
      journal/<id>/files/<n>            original bytes of the n-th file touched

``<id>`` is ``YYYYmmddTHHMMSSZ-<6 hex>`` (UTC): sortable and unique. An entry folder is
built as ``<id>.partial`` and renamed into place once every backup and ``entry.json`` are
fsynced, so a crash while journalling leaves either no entry (and nothing changed yet) or a
complete one. Only then are runtime values and files touched (write-ahead), and the entry's
``state`` moves ``prepared`` -> ``applied`` (or ``failed``) -> ``rolled-back``.

``entry.json`` (``format`` 1)::

    {"format": 1, "id": "...", "created": "2026-11-29T01:02:03.456789Z", "root": "/",
     "live": true, "command": ["apply", "--min-free-kbytes", "90112"],
     "state": "applied", "persist": "sysctl.d",
     "runtime": [{"key": "vm.min_free_kbytes", "path": "/proc/sys/vm/min_free_kbytes",
                  "original": "67584", "new": "90112"}],
     "files": [{"path": "/etc/sysctl.d/99-zz-minfree.conf", "existed": false,
                "backup": null, "mode": null, "uid": null, "gid": null, "sha256": null,
                "new_sha256": "...", "reason": "persist"}],
     "created_dirs": [], "notes": ["..."], "updated": "..."}

tuned keeps originals in a state file written *after* its writes (a crash in between loses
them) and only for runtime values; this journal is written first and covers files too.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from minfree.apply.safe_write import (
    atomic_write,
    crash_point,
    fsync_dir,
    makedirs_durable,
)
from minfree.errors import SourceError, UsageError

FORMAT = 1
STATE_DIR = "var/lib/minfree"
JOURNAL_DIR = f"{STATE_DIR}/journal"

PREPARED = "prepared"
APPLIED = "applied"
FAILED = "failed"
ROLLED_BACK = "rolled-back"


def sha256(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class RuntimeRecord:
    """One runtime value: its original and what the apply writes."""

    key: str
    path: str
    original: str
    new: str


@dataclass(frozen=True)
class FileRecord:
    """One file the apply touches. ``existed`` False: the apply creates it (rollback removes)."""

    path: str
    existed: bool
    reason: str
    new_sha256: str | None
    backup: str | None = None
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class JournalEntry:
    """A parsed ``entry.json`` plus the folder it lives in."""

    id: str
    created: str
    root: str
    live: bool
    command: tuple[str, ...]
    state: str
    persist: str
    runtime: tuple[RuntimeRecord, ...] = ()
    files: tuple[FileRecord, ...] = ()
    notes: tuple[str, ...] = ()
    updated: str | None = None
    #: folders the apply creates (e.g. /etc/sysctl.d on a minimal host); removed on rollback
    created_dirs: tuple[str, ...] = ()
    folder: Path | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("folder")
        data["format"] = FORMAT
        data["command"] = list(self.command)
        data["created_dirs"] = list(self.created_dirs)
        return data

    @classmethod
    def from_json(cls, data: dict[str, object], folder: Path) -> JournalEntry:
        if data.get("format") != FORMAT:
            raise ValueError(f"unknown journal format {data.get('format')!r}")
        return cls(
            id=str(data["id"]),
            created=str(data["created"]),
            root=str(data["root"]),
            live=bool(data["live"]),
            command=tuple(str(x) for x in data.get("command", [])),  # type: ignore[union-attr]
            state=str(data["state"]),
            persist=str(data.get("persist", "none")),
            runtime=tuple(RuntimeRecord(**r) for r in data.get("runtime", [])),  # type: ignore[arg-type, union-attr]
            files=tuple(FileRecord(**f) for f in data.get("files", [])),  # type: ignore[arg-type, union-attr]
            notes=tuple(str(n) for n in data.get("notes", [])),  # type: ignore[union-attr]
            updated=data.get("updated"),  # type: ignore[arg-type]
            created_dirs=tuple(str(d) for d in data.get("created_dirs", [])),  # type: ignore[union-attr]
            folder=folder,
        )

    def backup_bytes(self, record: FileRecord) -> bytes | None:
        """Original bytes of ``record`` (None for a file the apply created)."""
        if record.backup is None or self.folder is None:
            return None
        try:
            return (self.folder / record.backup).read_bytes()
        except OSError as error:
            raise SourceError(f"journal backup {self.folder / record.backup} unreadable: {error.strerror}") from None


def _now() -> str:
    """UTC time with microseconds: entries made within one second still sort in order."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_text() -> str:
    return _now()


def new_id() -> str:
    """A sortable unique id: UTC time plus 6 random hex digits."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


class Journal:
    """The journal of one root (a real directory; ``/`` on a live host)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.state_dir = self.root / STATE_DIR
        self.folder = self.root / JOURNAL_DIR

    def host_path(self, path: str) -> Path:
        """The real path of a host path (``/etc/x`` -> ``<root>/etc/x``)."""
        return self.root / path.lstrip("/")

    def record(
        self,
        entry: JournalEntry,
        originals: dict[str, bytes | None],
    ) -> JournalEntry:
        """Write ``entry`` and the original bytes of its files; returns it with ``folder`` set.

        ``originals`` maps each :class:`FileRecord` path to its current bytes (None: absent).
        The entry appears atomically (built in ``<id>.partial``, renamed when complete).
        """
        makedirs_durable(self.folder, 0o700)
        partial = self.folder / f"{entry.id}.partial"
        final = self.folder / entry.id
        try:
            os.mkdir(partial, 0o700)
            os.mkdir(partial / "files", 0o700)
        except OSError as error:
            raise SourceError(f"cannot create journal entry {partial}: {error.strerror}") from None
        files = []
        for number, record in enumerate(entry.files):
            data = originals.get(record.path)
            if data is not None:
                name = f"files/{number}"
                atomic_write(partial / name, data)
                record = replace(record, backup=name, sha256=sha256(data))
            files.append(record)
        fsync_dir(partial / "files")
        entry = replace(entry, files=tuple(files), folder=final)
        atomic_write(partial / "entry.json", _dump(entry))
        crash_point("journal entry written")
        os.rename(partial, final)
        fsync_dir(self.folder)
        crash_point("journal entry published")
        return entry

    def set_state(self, entry: JournalEntry, state: str, note: str | None = None) -> JournalEntry:
        """Move ``entry`` to ``state`` (atomic rewrite of entry.json)."""
        notes = (*entry.notes, note) if note else entry.notes
        entry = replace(entry, state=state, notes=notes, updated=_now())
        assert entry.folder is not None
        atomic_write(entry.folder / "entry.json", _dump(entry))
        return entry

    def entries(self) -> list[JournalEntry]:
        """Every complete entry, oldest first (unreadable ones are skipped, see ``problems``)."""
        return self._scan()[0]

    def problems(self) -> list[str]:
        """Entries that could not be read, and leftovers of an interrupted journal write."""
        return self._scan()[1]

    def _scan(self) -> tuple[list[JournalEntry], list[str]]:
        found: list[JournalEntry] = []
        problems: list[str] = []
        try:
            names = sorted(os.listdir(self.folder))
        except FileNotFoundError:
            return [], []
        except OSError as error:
            raise SourceError(f"cannot read journal {self.folder}: {error.strerror}") from None
        for name in names:
            folder = self.folder / name
            if name.endswith(".partial"):
                problems.append(f"{folder}: interrupted before anything was changed (ignored)")
                continue
            try:
                data = json.loads((folder / "entry.json").read_text())
                found.append(JournalEntry.from_json(data, folder))
            except (OSError, ValueError, KeyError, TypeError) as error:
                problems.append(f"{folder}: unreadable entry ({error})")
        found.sort(key=lambda e: (e.created, e.id))
        return found, problems

    def get(self, entry_id: str) -> JournalEntry:
        """The entry with this id (a unique prefix is enough)."""
        matches = [e for e in self.entries() if e.id == entry_id or e.id.startswith(entry_id)]
        if not matches:
            raise UsageError(f"no journal entry {entry_id!r} under {self.folder}")
        if len(matches) > 1 and not any(e.id == entry_id for e in matches):
            raise UsageError(f"journal id prefix {entry_id!r} is ambiguous: {', '.join(e.id for e in matches)}")
        return next((e for e in matches if e.id == entry_id), matches[0])

    def last(self, *, include_rolled_back: bool = False) -> JournalEntry:
        """The newest entry not yet undone (rolled back, or undone when it failed)."""
        done = () if include_rolled_back else (ROLLED_BACK, FAILED)
        candidates = [e for e in self.entries() if e.state not in done]
        if not candidates:
            what = "every apply recorded there is already undone" if self.entries() else "no apply recorded"
            raise UsageError(f"nothing to roll back under {self.folder}: {what}")
        return candidates[-1]


def _dump(entry: JournalEntry) -> bytes:
    return (json.dumps(entry.to_json(), indent=2, sort_keys=True) + "\n").encode()
