"""Where a host's files come from: the live host, a directory, or a tarball read in place.

Every reader in minfree goes through a :class:`Root`, so the same code inspects this machine
(``/``), a directory laid out like a root or a sosreport (``proc/...``, ``sys/...``,
``sos_commands/...``, ``etc/...``) and a ``.tar.gz``/``.tgz``/``.tar.xz``/``.tar.bz2``/
``.tar`` bundle, which is read without unpacking to disk (a single top-level directory such
as ``sosreport-host-2024/`` is stripped).

Paths are always relative to the root (``"proc/zoneinfo"``; a leading ``/`` is ignored).
Symlinks inside a bundle are resolved *within* it (sosreport's ``uname`` -> ``sos_commands/
kernel/uname_-a``; ``etc/sysctl.d/99-sysctl.conf`` -> ``../sysctl.conf``): an absolute
target means the bundle's own root, never the machine running minfree.

A file that cannot be read is not an exception: ``read_text`` returns None and the reason is
appended to :attr:`Root.missing`, so every analysis can say what it could not check.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> (d / "proc").mkdir(); _ = (d / "proc" / "meminfo").write_text("MemTotal: 1 kB\\n")
>>> root = open_root(d)
>>> root.read_text("/proc/meminfo"), root.read_text("proc/vmstat")
('MemTotal: 1 kB\\n', None)
>>> root.missing
[Missing(path='proc/vmstat', reason='absent')]
"""

from __future__ import annotations

import errno
import fnmatch
import io
import os
import stat
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from minfree.errors import SourceError
from minfree.model.host import Missing

if TYPE_CHECKING:  # tarfile is imported only when a bundle is opened (startup time)
    import tarfile

#: Reasons recorded in :class:`Missing`.
ABSENT = "absent"
PERMISSION = "permission"

_TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2", ".tar")
#: Regular members up to this size are kept in memory during the one pass over a bundle.
_TAR_CACHE_MEMBER_BYTES = 4 << 20
#: Budget for cached members outside the memory-state paths below; the rest of a big
#: bundle is read on demand.
_TAR_CACHE_TOTAL_BYTES = 64 << 20
#: Members under these root-relative prefixes are what minfree reads (proc/sys files,
#: sysctl configuration, sosreport command output); they are small and always cached.
_TAR_PRIORITY_PREFIXES = (
    "proc/",
    "sys/",
    "etc/",
    "usr/lib/sysctl.d/",
    "lib/sysctl.d/",
    "run/sysctl.d/",
    "sos_commands/kernel/",
    "sos_commands/memory/",
    "sos_commands/networking/",
)
_TAR_PRIORITY_BYTES = 256 << 20
_MAX_SYMLINK_HOPS = 40
#: Largest file :meth:`Root.read_bytes` returns by default; bigger ones are recorded as
#: missing ("too large") instead of exhausting memory (stream them with ``open_binary``).
DEFAULT_MAX_READ_BYTES = 256 << 20


class FileTooLarge(OSError):
    """Raised internally when a file exceeds the read limit."""


@dataclass(frozen=True)
class EntryStat:
    """What :meth:`Root.lstat` knows about a path (a subset of ``os.stat_result``)."""

    kind: str  # "file", "dir", "symlink", "other"
    size: int
    mode: int


def _normalise(rel: str | os.PathLike[str]) -> str:
    """Root-relative POSIX path without ``.``/``..`` escaping the root ("" is the root)."""
    text = os.fspath(rel).replace("\\", "/")
    parts: list[str] = []
    for part in text.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)


class Root(ABC):
    """A source of host files. Subclasses: :class:`DirectoryRoot`, :class:`TarRoot`."""

    #: True only for the running host (``/``): page size and similar come from the OS.
    is_live: bool = False
    #: Human-readable name for messages ("live host", a path, an archive name).
    label: str = ""

    def __init__(self) -> None:
        self.missing: list[Missing] = []
        self._missing_seen: set[tuple[str, str]] = set()

    # -- the primitives a subclass provides -------------------------------------------
    @abstractmethod
    def _read(self, rel: str, max_bytes: int) -> bytes:
        """Bytes of a root-relative path; raises OSError (errno tells why) on failure and
        :class:`FileTooLarge` beyond ``max_bytes``."""

    @abstractmethod
    def _lstat_raw(self, rel: str) -> EntryStat | None:
        """What ``rel`` is, for a path whose parent directories are already resolved."""

    @abstractmethod
    def _readlink_raw(self, rel: str) -> str | None:
        """Link text of ``rel`` (parents already resolved), or None if not a symlink."""

    @abstractmethod
    def listdir(self, rel: str) -> list[str]:
        """Sorted names in a directory ([] when absent or not a directory)."""

    @abstractmethod
    def open_binary(self, rel: str) -> BinaryIO | None:
        """A binary stream (for big logs), or None (reason recorded in ``missing``)."""

    # -- shared behaviour ----------------------------------------------------------------
    def _resolve_parent(self, rel: str) -> str | None:
        """``rel`` with its parent directories resolved (the last component untouched)."""
        path = _normalise(rel)
        if self.is_live or "/" not in path:
            return path
        parent, _, name = path.rpartition("/")
        resolved = self.resolve(parent)
        if resolved is None:
            return None
        return f"{resolved}/{name}" if resolved else name

    def lstat(self, rel: str | os.PathLike[str]) -> EntryStat | None:
        """What the path itself is (a final symlink is not followed), or None if absent."""
        path = self._resolve_parent(os.fspath(rel))
        return None if path is None else self._lstat_raw(path)

    def readlink(self, rel: str | os.PathLike[str]) -> str | None:
        """Target text of a symlink as stored, or None when ``rel`` is not a symlink."""
        path = self._resolve_parent(os.fspath(rel))
        return None if path is None else self._readlink_raw(path)

    def record_missing(self, rel: str, reason: str) -> None:
        """Add to :attr:`missing` once per (path, reason)."""
        key = (rel, reason)
        if key not in self._missing_seen:
            self._missing_seen.add(key)
            self.missing.append(Missing(rel, reason))

    def read_bytes(
        self,
        rel: str | os.PathLike[str],
        *,
        quiet: bool = False,
        max_bytes: int = DEFAULT_MAX_READ_BYTES,
    ) -> bytes | None:
        """File content, or None when it cannot be read.

        The reason goes to :attr:`missing` unless ``quiet`` (for optional files whose
        absence says nothing, e.g. ``speed`` of a virtual interface). Only regular files
        are read (a fifo or device in a bundle would block or never end), and none larger
        than ``max_bytes``.
        """
        path = _normalise(rel)
        try:
            return self._read(path, max_bytes)
        except OSError as exc:
            if not quiet:
                self.record_missing(path, _reason(exc))
            return None

    def read_text(
        self,
        rel: str | os.PathLike[str],
        *,
        quiet: bool = False,
        max_bytes: int = DEFAULT_MAX_READ_BYTES,
    ) -> str | None:
        """File content as text, or None (reason recorded).

        Stops at the first NUL byte: some captured sysfs files are padded with NULs to the
        page size (pcp's meminfo-root-004). Invalid UTF-8 is replaced, not fatal.
        """
        data = self.read_bytes(rel, quiet=quiet, max_bytes=max_bytes)
        if data is None:
            return None
        nul = data.find(b"\0")
        if nul >= 0:
            data = data[:nul]
        return data.decode("utf-8", errors="replace")

    def exists(self, rel: str | os.PathLike[str]) -> bool:
        """True when the path exists (following symlinks within the root)."""
        return self._stat_following(_normalise(rel)) is not None

    def is_dir(self, rel: str | os.PathLike[str]) -> bool:
        """True for a directory (following symlinks within the root)."""
        st = self._stat_following(_normalise(rel))
        return st is not None and st.kind == "dir"

    def is_file(self, rel: str | os.PathLike[str]) -> bool:
        """True for a regular file (following symlinks within the root)."""
        st = self._stat_following(_normalise(rel))
        return st is not None and st.kind == "file"

    def glob(self, pattern: str) -> list[str]:
        """Root-relative paths matching a glob; ``*`` never crosses ``/``. Sorted."""
        parts = [p for p in _normalise(pattern).split("/") if p]
        found: list[str] = [""]
        for part in parts:
            nxt: list[str] = []
            for base in found:
                if not any(ch in part for ch in "*?["):
                    candidate = f"{base}/{part}" if base else part
                    if self.lstat(candidate) is not None:
                        nxt.append(candidate)
                    continue
                for name in self.listdir(base):
                    if fnmatch.fnmatchcase(name, part) and not (
                        name.startswith(".") and not part.startswith(".")
                    ):
                        nxt.append(f"{base}/{name}" if base else name)
            found = nxt
        return sorted(found)

    def _stat_following(self, rel: str) -> EntryStat | None:
        resolved = self.resolve(rel)
        return None if resolved is None else self._lstat_raw(resolved)

    def resolve(self, rel: str | os.PathLike[str]) -> str | None:
        """The path with every symlink resolved inside the root; None when it leads nowhere.

        ``..`` and absolute link targets are clamped at the root, like a chroot.
        """
        pending = [p for p in _normalise(rel).split("/") if p]
        done: list[str] = []
        hops = 0
        while pending:
            part = pending.pop(0)
            candidate = "/".join([*done, part])
            st = self._lstat_raw(candidate)
            if st is None:
                return None
            if st.kind == "symlink":
                hops += 1
                target = self._readlink_raw(candidate)
                if target is None or hops > _MAX_SYMLINK_HOPS:
                    return None
                if target.startswith("/"):
                    done = []
                pending = [p for p in target.split("/") if p] + pending
                # Apply "." and ".." from the link target relative to its directory.
                while pending and pending[0] in (".", ".."):
                    if pending.pop(0) == ".." and done:
                        done.pop()
                continue
            done.append(part)
            # ".." inside the remaining path after a real component.
            while pending and pending[0] in (".", ".."):
                if pending.pop(0) == ".." and done:
                    done.pop()
        return "/".join(done)


def _kind_name(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


def _reason(exc: OSError) -> str:
    """Plain reason for a failed read."""
    if isinstance(exc, FileNotFoundError | NotADirectoryError):
        return ABSENT
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM):
        return PERMISSION
    if isinstance(exc, IsADirectoryError):
        return "is a directory"
    if isinstance(exc, FileTooLarge):
        return str(exc)
    if exc.errno is None and exc.args:
        return str(exc.args[0])
    return f"read error: {exc.strerror or exc}"


class DirectoryRoot(Root):
    """The live host (``/``) or a directory laid out like one (a sosreport, a capture)."""

    def __init__(self, base: str | os.PathLike[str], *, live: bool = False) -> None:
        super().__init__()
        self.base = os.path.abspath(os.fspath(base))
        self.is_live = live
        self.label = "live host" if live else self.base

    def _os_path(self, rel: str) -> str:
        return os.path.join(self.base, rel) if rel else self.base

    def _os_path_resolved(self, rel: str) -> str:
        """OS path of ``rel``; inside a bundle directory, symlinks are resolved in it."""
        if self.is_live:
            return self._os_path(rel)
        resolved = self.resolve(rel)
        if resolved is None:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", rel)
        return self._os_path(resolved)

    def _read(self, rel: str, max_bytes: int) -> bytes:
        path = self._os_path_resolved(rel)
        # O_NONBLOCK: opening a fifo must not wait for a writer; it is refused just below.
        flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
        fd = os.open(path, flags)
        try:
            mode = os.fstat(fd).st_mode
            if stat.S_ISDIR(mode):
                raise IsADirectoryError(errno.EISDIR, "Is a directory", path)
            if not stat.S_ISREG(mode):
                raise OSError(f"not a regular file ({_kind_name(mode)})")
            # os.read until EOF: /proc and /sys report size 0.
            chunks = []
            total = 0
            while True:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    break
                total += len(chunk)
                if total > max_bytes:
                    raise FileTooLarge(f"too large (more than {max_bytes} bytes)")
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def _lstat_raw(self, rel: str) -> EntryStat | None:
        try:
            st = os.lstat(self._os_path(rel))
        except OSError:
            return None
        if stat.S_ISLNK(st.st_mode):
            kind = "symlink"
        elif stat.S_ISDIR(st.st_mode):
            kind = "dir"
        elif stat.S_ISREG(st.st_mode):
            kind = "file"
        else:
            kind = "other"
        return EntryStat(kind=kind, size=st.st_size, mode=st.st_mode)

    def _readlink_raw(self, rel: str) -> str | None:
        try:
            return os.readlink(self._os_path(rel))
        except OSError:
            return None

    def exists(self, rel: str | os.PathLike[str]) -> bool:
        if self.is_live:
            return os.path.exists(self._os_path(_normalise(rel)))
        return super().exists(rel)

    def is_dir(self, rel: str | os.PathLike[str]) -> bool:
        if self.is_live:
            return os.path.isdir(self._os_path(_normalise(rel)))
        return super().is_dir(rel)

    def is_file(self, rel: str | os.PathLike[str]) -> bool:
        if self.is_live:
            return os.path.isfile(self._os_path(_normalise(rel)))
        return super().is_file(rel)

    def listdir(self, rel: str) -> list[str]:
        try:
            return sorted(os.listdir(self._os_path_resolved(_normalise(rel))))
        except OSError:
            return []

    def open_binary(self, rel: str) -> BinaryIO | None:
        path = _normalise(rel)
        try:
            return open(self._os_path_resolved(path), "rb")
        except OSError as exc:
            self.record_missing(path, _reason(exc))
            return None

    def __repr__(self) -> str:
        return f"DirectoryRoot({self.base!r}, live={self.is_live})"


@dataclass
class _TarEntry:
    kind: str  # "file", "dir", "symlink", "other"
    member: tarfile.TarInfo | None
    data: bytes | None = None
    link: str | None = None
    what: str = ""


class TarRoot(Root):
    """A bundle (tar, optionally gzip/xz/bz2 compressed) read in place, never unpacked.

    One streaming pass indexes every member and keeps small regular files in memory, so
    reading ``proc/*`` files does not decompress the archive again; larger members (long
    logs) are read on demand.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.path = os.path.abspath(os.fspath(path))
        self.label = os.path.basename(self.path)
        self._entries: dict[str, _TarEntry] = {"": _TarEntry("dir", None)}
        self._children: dict[str, set[str]] = {"": set()}
        self._prefix = ""
        self._index()

    def _index(self) -> None:
        import tarfile

        _refuse_unsupported_compression(self.path)
        try:
            raw: list[tuple[tarfile.TarInfo, bytes | None]] = []
            budget = _TAR_CACHE_TOTAL_BYTES
            priority_budget = _TAR_PRIORITY_BYTES
            with tarfile.open(self.path, mode="r|*") as tar:
                for member in tar:
                    data = None
                    if member.isreg() and member.size <= _TAR_CACHE_MEMBER_BYTES:
                        # The top directory is not known yet: try with and without it.
                        name = _normalise(member.name)
                        inner = name.split("/", 1)[1] if "/" in name else name
                        priority = name.startswith(_TAR_PRIORITY_PREFIXES) or inner.startswith(
                            _TAR_PRIORITY_PREFIXES
                        )
                        room = priority_budget if priority else budget
                        if member.size <= room:
                            handle = tar.extractfile(member)
                            data = handle.read() if handle is not None else None
                            if data is not None:
                                if priority:
                                    priority_budget -= len(data)
                                else:
                                    budget -= len(data)
                    raw.append((member, data))
        except FileNotFoundError as exc:
            raise SourceError(f"{self.path}: no such file") from exc
        except PermissionError as exc:
            raise SourceError(f"{self.path}: permission denied") from exc
        except IsADirectoryError as exc:
            raise SourceError(f"{self.path}: is a directory") from exc
        except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
            raise SourceError(f"{self.path}: not a readable tar archive ({exc})") from exc
        except Exception as exc:  # zlib.error, lzma.LZMAError: corrupt compressed data
            raise SourceError(
                f"{self.path}: corrupt archive ({type(exc).__name__}: {exc})"
            ) from exc
        if not raw:
            raise SourceError(f"{self.path}: empty archive")
        names = [_normalise(m.name) for m, _ in raw]
        tops = {n.split("/", 1)[0] for n in names if n}
        if len(tops) == 1:
            top = next(iter(tops))
            # Strip a single top-level directory (sosreport-host-date/...), not a lone file.
            if any(n.startswith(top + "/") for n in names):
                self._prefix = top
        for (member, data), name in zip(raw, names, strict=True):
            rel = self._strip(name)
            if rel is None or rel == "":
                continue
            if member.isreg():
                entry = _TarEntry("file", member, data=data)
            elif member.isdir():
                entry = _TarEntry("dir", member)
            elif member.issym():
                entry = _TarEntry("symlink", member, link=member.linkname)
            elif member.islnk():
                # Hard link: the target is another member's name (with the same prefix).
                target = self._strip(_normalise(member.linkname))
                entry = _TarEntry("symlink", member, link="/" + (target or ""))
            else:
                what = (
                    "character device"
                    if member.ischr()
                    else "block device"
                    if member.isblk()
                    else "fifo"
                    if member.isfifo()
                    else "special member"
                )
                entry = _TarEntry("other", member, what=what)
            self._add(rel, entry)

    def _strip(self, name: str) -> str | None:
        if not self._prefix:
            return name
        if name == self._prefix:
            return ""
        if name.startswith(self._prefix + "/"):
            return name[len(self._prefix) + 1 :]
        return None

    def _add(self, rel: str, entry: _TarEntry) -> None:
        # Later members win, as when tar extracts; parents are created implicitly.
        existing = self._entries.get(rel)
        if existing is not None and existing.kind == "dir" and entry.kind == "dir":
            return
        self._entries[rel] = entry
        parent, _, name = rel.rpartition("/")
        while True:
            self._children.setdefault(parent, set()).add(name)
            if parent in self._entries:
                break
            self._entries[parent] = _TarEntry("dir", None)
            parent, _, name = parent.rpartition("/")
        if entry.kind == "dir":
            self._children.setdefault(rel, set())

    def _entry(self, rel: str) -> _TarEntry | None:
        resolved = self.resolve(rel)
        return None if resolved is None else self._entries.get(resolved)

    def _read(self, rel: str, max_bytes: int) -> bytes:
        entry = self._entry(rel)
        if entry is None:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", rel)
        if entry.kind == "dir":
            raise IsADirectoryError(errno.EISDIR, "Is a directory", rel)
        if entry.kind != "file":
            raise OSError(f"not a regular file ({entry.what})")
        size = (
            len(entry.data)
            if entry.data is not None
            else (entry.member.size if entry.member else 0)
        )
        if size > max_bytes:
            raise FileTooLarge(f"too large (more than {max_bytes} bytes)")
        if entry.data is not None:
            return entry.data
        with self._open_member(entry) as handle:
            return handle.read()

    def _open_member(self, entry: _TarEntry) -> BinaryIO:
        """Stream one large member from a fresh pass (forward reads only: cheap to seek)."""
        import tarfile

        assert entry.member is not None
        try:
            tar = tarfile.open(self.path, mode="r:*")  # noqa: SIM115 - closed by _ClosingReader
            # The TarInfo from the indexing pass knows its offset: no second full scan.
            handle = tar.extractfile(entry.member)
        except (tarfile.TarError, OSError, EOFError, KeyError) as exc:
            raise OSError(f"archive read failed: {exc}") from exc
        if handle is None:
            tar.close()
            raise OSError("archive member cannot be read")
        return _ClosingReader(handle, tar)

    def _lstat_raw(self, rel: str) -> EntryStat | None:
        entry = self._entries.get(rel)
        if entry is None:
            return None
        member = entry.member
        size = len(entry.data) if entry.data is not None else (member.size if member else 0)
        mode = member.mode if member else 0o755
        kind_bits = {"file": stat.S_IFREG, "dir": stat.S_IFDIR, "symlink": stat.S_IFLNK}
        return EntryStat(kind=entry.kind, size=size, mode=mode | kind_bits.get(entry.kind, 0))

    def _readlink_raw(self, rel: str) -> str | None:
        entry = self._entries.get(rel)
        return entry.link if entry is not None and entry.kind == "symlink" else None

    def listdir(self, rel: str) -> list[str]:
        resolved = self.resolve(rel)
        if resolved is None:
            return []
        return sorted(self._children.get(resolved, ()))

    def open_binary(self, rel: str) -> BinaryIO | None:
        path = _normalise(rel)
        entry = self._entry(path)
        try:
            if entry is None:
                raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
            if entry.kind != "file":
                raise OSError(
                    "is a directory"
                    if entry.kind == "dir"
                    else f"not a regular file ({entry.what})"
                )
            if entry.data is not None:
                return io.BytesIO(entry.data)
            return self._open_member(entry)
        except OSError as exc:
            self.record_missing(path, _reason(exc))
            return None

    def members(self) -> Iterator[str]:
        """Every root-relative path in the bundle (files, dirs, links), sorted."""
        return iter(sorted(k for k in self._entries if k))

    def __repr__(self) -> str:
        return f"TarRoot({self.path!r})"


#: Magic numbers of compressions Python's tarfile cannot read, with the way out.
_UNSUPPORTED_MAGIC = {
    b"\x28\xb5\x2f\xfd": "zstd-compressed (unpack it with 'tar --zstd -xf' and pass the directory)",
    b"PK\x03\x04": "a zip archive, not a tar bundle (unzip it and pass the directory)",
}


def _refuse_unsupported_compression(path: str) -> None:
    """A clear SourceError for a bundle tarfile would only call 'not a tar archive'."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError:
        return  # the tarfile open reports it with the usual wording
    for magic, what in _UNSUPPORTED_MAGIC.items():
        if head.startswith(magic):
            raise SourceError(f"{path}: {what}")


class _ClosingReader(io.RawIOBase):
    """A member stream that closes its tarfile when closed."""

    def __init__(self, handle: BinaryIO, tar: tarfile.TarFile) -> None:
        super().__init__()
        self._handle = handle
        self._tar = tar

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._handle.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        return self._handle.read(size)

    def close(self) -> None:
        if not self.closed:
            self._handle.close()
            self._tar.close()
        super().close()


def is_bundle_path(path: str | os.PathLike[str]) -> bool:
    """True when the file name looks like a tar bundle minfree can read in place."""
    name = os.fspath(path).lower()
    return name.endswith(_TAR_SUFFIXES)


_ROOT_MARKERS = ("proc", "sys", "etc", "sos_commands", "var")


def _descend_single_dir(path: str) -> str:
    """A directory holding nothing but one unpacked bundle (``x/sosreport-host/``) means it.

    Mirrors the tarball rule (a single top-level directory is stripped), so unpacking a
    bundle and pointing at the extraction directory gives the same answer.
    """
    try:
        names = [n for n in os.listdir(path) if not n.startswith(".")]
    except OSError:
        return path
    if len(names) != 1 or names[0] in _ROOT_MARKERS:
        return path
    inner = os.path.join(path, names[0])
    if os.path.isdir(inner) and any(os.path.exists(os.path.join(inner, m)) for m in _ROOT_MARKERS):
        return inner
    return path


def open_root(path: str | os.PathLike[str] | None = None) -> Root:
    """Open a root: None or ``"/"`` is the live host; a directory; or a tar bundle.

    Raises :class:`~minfree.errors.SourceError` for a path that does not exist, cannot be
    read, or is a file that is not a readable tar archive.
    """
    if path is None or os.fspath(path) in ("/", ""):
        return DirectoryRoot("/", live=True)
    text = os.fspath(path)
    if os.path.isdir(text):
        if not os.access(text, os.R_OK | os.X_OK):
            raise SourceError(f"{text}: permission denied")
        if os.path.realpath(text) == "/":
            return DirectoryRoot("/", live=True)
        return DirectoryRoot(_descend_single_dir(text))
    if not os.path.exists(text):
        raise SourceError(f"{text}: no such file or directory")
    if os.path.isfile(text):
        return TarRoot(text)
    raise SourceError(f"{text}: neither a directory nor a tar bundle")


__all__ = [
    "ABSENT",
    "PERMISSION",
    "DirectoryRoot",
    "EntryStat",
    "Missing",
    "Root",
    "TarRoot",
    "is_bundle_path",
    "open_root",
]
