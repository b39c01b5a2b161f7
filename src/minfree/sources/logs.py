"""Where kernel log bytes come from: files, compressed files, stdin, directories, bundles,
and this host's ring buffer, log files and journal.

Every input becomes a :class:`LogInput`: a label (what reports will name as their source)
and a function that yields the bytes in chunks of about :data:`CHUNK_BYTES`, so a scan
reads a multi-gigabyte log with flat memory. Compression is recognised by its magic bytes
(gzip, xz, bzip2), whatever the file is called, including on stdin.

A directory (or a ``.tar.gz``/``.tar.xz`` bundle, opened through
:func:`minfree.sources.root.open_root`) is searched for :data:`LOG_PATTERNS`, which covers a
root-like tree (``var/log/...``), a copy of ``/var/log`` itself and a sosreport.

    >>> import gzip, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "kern.log.1.gz").write_bytes(gzip.compress(b"a\\nb\\n"))
    >>> [i.label.endswith("kern.log.1.gz") for i in discover([str(d)])]
    [True]
    >>> b"".join(discover([str(d)])[0].chunks())
    b'a\\nb\\n'
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from minfree.errors import SourceError

#: Read size; large reads let the scanner skip noise with few ``bytes.find`` calls.
CHUNK_BYTES = 4 << 20

#: Kernel log files searched for in a directory or bundle (relative globs).
LOG_PATTERNS: tuple[str, ...] = (
    "var/log/kern.log*",
    "var/log/messages*",
    "var/log/syslog*",
    "var/log/dmesg*",
    "sos_commands/kernel/dmesg*",
    "sos_commands/logs/journalctl*",
    # a copy of /var/log itself
    "kern.log*",
    "messages*",
    "syslog*",
    "dmesg*",
)
#: Host log files added by ``--all-logs`` (absolute globs).
HOST_LOG_GLOBS: tuple[str, ...] = (
    "/var/log/kern.log*",
    "/var/log/messages*",
    "/var/log/syslog*",
    "/var/log/dmesg*",
)

_GZIP_MAGIC = b"\x1f\x8b"
_XZ_MAGIC = b"\xfd7zXZ\x00"
_BZ2_MAGIC = b"BZh"


@dataclass(frozen=True)
class LogInput:
    """One stream of kernel log text.

    ``kind`` is ``"file"``, ``"stdin"``, ``"kmsg"``, ``"dmesg"``, ``"journal"`` or
    ``"bundle"``. ``chunks()`` may raise :class:`~minfree.errors.SourceError` (unreadable,
    corrupt compressed data).
    """

    label: str
    kind: str
    open: Callable[[], Iterator[bytes]] = field(repr=False, compare=False)
    #: the file on disk, when the input is one
    path: str | None = None
    #: named by the user (an error is fatal) rather than found in a directory or on the host
    #: (an error becomes a note and the scan goes on)
    required: bool = True

    def chunks(self) -> Iterator[bytes]:
        return self.open()


# -- decompression ---------------------------------------------------------------------------
def _decompressor(head: bytes):
    # The codecs are imported when needed: most logs are plain, and start-up counts.
    if head.startswith(_GZIP_MAGIC):
        import zlib

        return "gzip", zlib.decompressobj(wbits=31)
    if head.startswith(_XZ_MAGIC):
        import lzma

        return "xz", lzma.LZMADecompressor()
    if head.startswith(_BZ2_MAGIC) and len(head) >= 4 and head[3:4].isdigit():
        import bz2

        return "bzip2", bz2.BZ2Decompressor()
    return None, None


def _drain(engine, data: bytes) -> Iterator[bytes]:
    """Decompress ``data`` in pieces of at most CHUNK_BYTES (a bomb stays small in memory)."""
    out = engine.decompress(data, CHUNK_BYTES)
    if out:
        yield out
    if hasattr(engine, "unconsumed_tail"):  # zlib
        while engine.unconsumed_tail and not engine.eof:
            out = engine.decompress(engine.unconsumed_tail, CHUNK_BYTES)
            if out:
                yield out
    else:  # lzma, bz2
        while not engine.eof and not engine.needs_input:
            out = engine.decompress(b"", CHUNK_BYTES)
            if not out:
                break
            yield out


def decompressed(raw: Iterator[bytes], label: str) -> Iterator[bytes]:
    """Yield the bytes of ``raw`` chunks, decompressed when they start with a known magic.

    Concatenated members (``cat a.gz b.gz``) are followed. Truncated or corrupt data raises
    :class:`SourceError` naming ``label``.
    """
    iterator = iter(raw)
    head = b""
    for chunk in iterator:
        head += chunk
        if len(head) >= 8:
            break
    if not head:
        return
    kind, engine = _decompressor(head)
    if engine is None:
        yield head
        yield from iterator
        return
    import lzma
    import zlib

    data: bytes | None = head
    try:
        while data is not None:
            while data:
                if engine.eof:
                    if not data.strip(b"\x00"):
                        break
                    kind, engine = _decompressor(data)
                    if engine is None:
                        raise SourceError(f"{label}: garbage after the compressed data")
                yield from _drain(engine, data)
                data = engine.unused_data if engine.eof else b""
            data = next(iterator, None)
        if not engine.eof:
            raise SourceError(f"{label}: truncated {kind} data (file cut short?)")
    except (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError) as error:
        raise SourceError(f"{label}: corrupt {kind} data ({error})") from None


def _read_handle(handle: BinaryIO, label: str) -> Iterator[bytes]:
    try:
        while True:
            chunk = handle.read(CHUNK_BYTES)
            if not chunk:
                return
            yield chunk
    except OSError as error:
        raise SourceError(f"{label}: read error: {error.strerror or error}") from None


def _open_file(path: str) -> BinaryIO:
    try:
        return open(path, "rb")  # closed by the caller
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file or directory") from None
    except PermissionError:
        raise SourceError(f"{path}: permission denied") from None
    except IsADirectoryError:
        raise SourceError(f"{path}: is a directory") from None
    except OSError as error:
        raise SourceError(f"{path}: cannot open: {error.strerror or error}") from None


class FileChunks:
    """The chunks of one file (decompressed when it is compressed), as an iterator.

    The file is opened at the first ``next``, so errors surface where the scan reads.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._chunks: Iterator[bytes] | None = None

    def __iter__(self) -> FileChunks:
        return self

    def __next__(self) -> bytes:
        if self._chunks is None:
            self._chunks = self._generate()
        return next(self._chunks)

    def _generate(self) -> Iterator[bytes]:
        handle = _open_file(self.path)
        try:
            with contextlib.suppress(OSError, AttributeError):
                if stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                    # read ahead more
                    os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
            yield from decompressed(_read_handle(handle, self.path), self.path)
        finally:
            handle.close()

    def close(self) -> None:
        if self._chunks is not None:
            self._chunks.close()  # type: ignore[attr-defined]

    def survey_ahead(self, survey: Callable[[bytes, int], tuple[int, list[int] | None]],
                     min_bytes: int) -> ChunkSurvey | None:
        """Start surveying the second part of this file in a child process (see
        :class:`ChunkSurvey`); None when it is not worth it or not possible.

        Not done for: a file under ``min_bytes``, a compressed file, one usable CPU, a
        system other than Linux (``fork`` without ``exec`` is relied on only there), or a
        process with threads running (forking one is not safe).
        """
        if (not sys.platform.startswith("linux") or _usable_cpus() < 2
                or threading.active_count() > 1):
            return None
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            return None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size < min_bytes:
                return None
            if _decompressor(os.pread(fd, 8, 0))[1] is not None:
                return None
            size = info.st_size
            start = int(size * (1 - SURVEY_SHARE)) // CHUNK_BYTES * CHUNK_BYTES
            if start <= 0:
                return None
            return ChunkSurvey(fd, start, size, survey)
        except OSError:
            return None
        finally:
            os.close(fd)  # the child has its own copy


#: Share of a big plain file that the child of :meth:`FileChunks.survey_ahead` surveys.
SURVEY_SHARE = 0.8
#: Longest needle a survey looks for, minus one: each block is read with this many bytes of
#: the next, so a needle that straddles two blocks is found whole in the first.
SURVEY_OVERLAP = 63


class ChunkSurvey:
    """What a forked child computed ahead for each chunk of a plain file from ``start`` on.

    The child reads the file itself (``pread``; the parent keeps reading its chunks as
    usual), runs ``survey(data, block)`` on each :data:`CHUNK_BYTES` block (``data`` holds
    the block and up to :data:`SURVEY_OVERLAP` bytes after it) and streams the results
    through a pipe: a count and a list of integers per block (for the kernel log scanner:
    the block's newlines and its coarse hits, see
    :func:`minfree.parsers.kernel_log.survey_block`). The parent takes them in order with
    :meth:`next`; on two CPUs the child's reading, searching and counting run while the
    parent works through the first part. Memory in the child: one block.
    """

    def __init__(self, fd: int, start: int, stop: int,
                 survey: Callable[[bytes, int], tuple[int, list[int] | None]]) -> None:
        self.start = start
        self.stop = stop
        self.next_offset = start
        read_fd, write_fd = os.pipe()
        child_fd = os.dup(fd)
        try:
            pid = os.fork()
        except OSError:
            os.close(read_fd)
            os.close(write_fd)
            os.close(child_fd)
            raise
        if pid == 0:  # the child: survey, write, leave without any cleanup
            code = 1
            try:
                os.close(read_fd)
                _survey_child(child_fd, write_fd, start, stop, survey)
                code = 0
            finally:
                os._exit(code)
        os.close(write_fd)
        os.close(child_fd)
        self.pid = pid
        self._fd: int | None = read_fd

    def next(self) -> tuple[int, list[int] | None] | None:
        """The record of the block at :attr:`next_offset` (blocking until the child wrote
        it); None when the survey is over or the child failed (the caller then does the
        work itself and should :meth:`close`)."""
        if self._fd is None or self.next_offset >= self.stop:
            return None
        from array import array

        head = _read_exactly(self._fd, 16)
        if head is None:
            self.close()
            return None
        count, listed = array("q", head)
        values = None
        if listed >= 0:
            body = _read_exactly(self._fd, 8 * listed)
            if body is None:
                self.close()
                return None
            values = array("q", body).tolist()
        self.next_offset += CHUNK_BYTES
        return count, values

    def close(self) -> None:
        """Stop the child (if it still runs) and reap it."""
        if self._fd is None:
            return
        import signal

        os.close(self._fd)
        self._fd = None
        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.waitpid(self.pid, 0)


def _survey_child(fd: int, out: int, start: int, stop: int,
                  survey: Callable[[bytes, int], tuple[int, list[int] | None]]) -> None:
    from array import array

    position = start
    while position < stop:
        block = min(CHUNK_BYTES, stop - position)
        data = os.pread(fd, block + SURVEY_OVERLAP, position)
        if len(data) < block:  # the file shrank: stop here, the parent reads what is left
            return
        data = data[:stop - position]
        count, values = survey(data, block)
        record = array("q", (count, -1 if values is None else len(values)))
        if values is not None:
            record.extend(values)
        view = memoryview(record.tobytes())
        while view:
            view = view[os.write(out, view):]
        position += block


def _read_exactly(fd: int, size: int) -> bytes | None:
    pieces = []
    while size:
        try:
            piece = os.read(fd, size)
        except OSError:
            return None
        if not piece:
            return None
        pieces.append(piece)
        size -= len(piece)
    return b"".join(pieces)


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _file_chunks(path: str) -> FileChunks:
    return FileChunks(path)


def _stdin_chunks() -> Iterator[bytes]:
    stream = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else sys.stdin
    yield from decompressed(_read_handle(stream, "<stdin>"), "<stdin>")


def file_input(path: str) -> LogInput:
    """A plain or compressed file; checked for readability now so errors come early."""
    try:
        os.stat(path)
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file or directory") from None
    except PermissionError:
        raise SourceError(f"{path}: permission denied (a parent directory cannot be searched)") from None
    except OSError as error:
        raise SourceError(f"{path}: {error.strerror or error}") from None
    if not os.access(path, os.R_OK):
        raise SourceError(f"{path}: permission denied")
    return LogInput(label=path, kind="file", open=lambda: _file_chunks(path), path=path)


def stdin_input() -> LogInput:
    return LogInput(label="<stdin>", kind="stdin", open=_stdin_chunks)


# -- directories and bundles -----------------------------------------------------------------
def root_inputs(root, base_label: str | None = None) -> list[LogInput]:
    """Log files of a :class:`~minfree.sources.root.Root` (directory, sosreport, bundle)."""
    label_base = base_label if base_label is not None else str(getattr(root, "label", root))
    found: list[str] = []
    for pattern in LOG_PATTERNS:
        try:
            matches = root.glob(pattern)
        except OSError:
            continue
        for rel in matches:
            if rel not in found and root.is_file(rel):
                found.append(rel)
    if not found:
        # A folder of saved logs with other names (incident.log, node3.log.gz).
        found = [rel for rel in root.glob("*.log*") if root.is_file(rel)]
    inputs = []
    for rel in found:
        label = os.path.join(label_base, rel)

        def opener(rel: str = rel, label: str = label) -> Iterator[bytes]:
            handle = root.open_binary(rel)
            if handle is None:
                raise SourceError(f"{label}: cannot be read")
            try:
                yield from decompressed(_read_handle(handle, label), label)
            finally:
                handle.close()

        inputs.append(LogInput(label=label, kind="file", open=opener, required=False))
    return inputs


def directory_inputs(path: str) -> list[LogInput]:
    """Log files under a directory or inside a tar bundle (see :data:`LOG_PATTERNS`)."""
    from minfree.sources.root import open_root

    root = open_root(path)
    inputs = root_inputs(root, path.rstrip("/") or "/")
    if not inputs:
        raise SourceError(
            f"{path}: no kernel log files found (looked for var/log/kern.log*, messages*, syslog*, "
            "dmesg*, sos_commands/kernel/dmesg*, sos_commands/logs/journalctl*)"
        )
    return inputs


def _may_be_bundle(path: str) -> bool:
    """:func:`minfree.sources.root.is_bundle_path`, without importing that module (and the
    host model behind it, a noticeable share of a small scan's start-up) for the usual log
    file names: every bundle suffix it knows starts with ``.t`` (tests check it)."""
    if ".t" not in os.path.basename(path).lower():
        return False
    from minfree.sources.root import is_bundle_path

    return is_bundle_path(path)


def discover(paths: Sequence[str]) -> list[LogInput]:
    """Inputs for command-line paths: files, ``-`` (stdin), directories and bundles."""
    inputs: list[LogInput] = []
    for path in paths:
        if path == "-":
            inputs.append(stdin_input())
        elif os.path.isdir(path) or (_may_be_bundle(path) and os.path.isfile(path)):
            inputs.extend(directory_inputs(path))
        else:
            inputs.append(file_input(path))
    return inputs


# -- the live host ---------------------------------------------------------------------------
def _dmesg_restrict() -> str | None:
    try:
        with open("/proc/sys/kernel/dmesg_restrict") as handle:
            return handle.read().strip()
    except OSError:
        return None


def _kmsg_records(fd: int) -> Iterator[bytes]:
    """Records of /dev/kmsg read without blocking until EAGAIN, as bare dmesg lines."""
    batch: list[bytes] = []
    size = 0
    while True:
        try:
            record = os.read(fd, 16384)
        except BlockingIOError:
            break
        except OSError as error:
            if error.errno == errno.EPIPE:
                continue  # the record we were at was overwritten; the next read goes on
            if error.errno == errno.EINVAL:
                break
            raise SourceError(f"/dev/kmsg: read error: {error.strerror}") from None
        if not record:
            break
        head, sep, rest = record.partition(b";")
        if not sep:
            continue
        fields = head.split(b",")
        try:
            usec = int(fields[2])
        except (IndexError, ValueError):
            usec = 0
        message = rest.split(b"\n", 1)[0]  # continuation lines (" KEY=value") are metadata
        line = b"[%5d.%06d] %s\n" % (usec // 1_000_000, usec % 1_000_000, message)
        batch.append(line)
        size += len(line)
        if size >= CHUNK_BYTES:
            yield b"".join(batch)
            batch, size = [], 0
    if batch:
        yield b"".join(batch)


def _kmsg_chunks() -> Iterator[bytes]:
    fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    try:
        yield from _kmsg_records(fd)
    finally:
        os.close(fd)


def _command_chunks(argv: list[str], label: str) -> Iterator[bytes]:
    import subprocess

    try:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as error:
        raise SourceError(f"{label}: cannot run {argv[0]}: {error.strerror or error}") from None
    assert process.stdout is not None
    try:
        yield from _read_handle(process.stdout, label)
    finally:
        process.stdout.close()
        err = process.stderr.read().decode(errors="replace").strip() if process.stderr else ""
        code = process.wait()
        if process.stderr:
            process.stderr.close()
    if code != 0:
        first = err.splitlines()[0] if err else f"exit status {code}"
        raise SourceError(f"{label}: {first}")


def _unreadable_ring_buffer_message(why: str) -> str:
    restrict = _dmesg_restrict()
    hint = "run as root (or with CAP_SYSLOG)"
    if restrict == "1":
        hint = "kernel.dmesg_restrict=1 allows only root/CAP_SYSLOG: " + hint
    return f"cannot read this host's kernel ring buffer ({why}); {hint}, or pass log files"


def host_kernel_log() -> LogInput:
    """This host's ring buffer: /dev/kmsg (non-blocking), else the ``dmesg`` command.

    Raises :class:`SourceError` with the reason (``kernel.dmesg_restrict``, not root) when
    neither can be read.
    """
    try:
        fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    except PermissionError:
        why = "/dev/kmsg: permission denied"
    except OSError as error:
        why = f"/dev/kmsg: {error.strerror or error}"
    else:
        os.close(fd)
        return LogInput(label="/dev/kmsg", kind="kmsg", open=_kmsg_chunks)
    import subprocess

    dmesg = shutil.which("dmesg")
    if dmesg is None:
        raise SourceError(_unreadable_ring_buffer_message(why + "; no dmesg command"))
    probe = subprocess.run([dmesg], capture_output=True, check=False)
    if probe.returncode != 0:
        err = probe.stderr.decode(errors="replace").strip().splitlines()
        raise SourceError(
            _unreadable_ring_buffer_message(why + (f"; dmesg: {err[0]}" if err else ""))
        )
    return LogInput(label="dmesg", kind="dmesg", open=lambda: _command_chunks([dmesg], "dmesg"))


def host_log_files() -> list[LogInput]:
    """This host's readable kernel log files (``/var/log/kern.log*`` and friends)."""
    import glob

    inputs = []
    seen: set[str] = set()
    for pattern in HOST_LOG_GLOBS:
        for path in sorted(glob.glob(pattern)):
            real = os.path.realpath(path)
            if real in seen or not os.path.isfile(path) or not os.access(path, os.R_OK):
                continue
            seen.add(real)
            inputs.append(LogInput(label=path, kind="file", open=lambda p=path: _file_chunks(p),
                                   path=path, required=False))
    return inputs


def journal_input() -> LogInput | None:
    """``journalctl -k`` of this host (monotonic time stamps), or None without journalctl."""
    journalctl = shutil.which("journalctl")
    if journalctl is None:
        return None
    argv = [journalctl, "-k", "-o", "short-monotonic", "--no-pager", "-q"]
    return LogInput(
        label="journalctl -k", kind="journal", open=lambda: _command_chunks(argv, "journalctl -k"),
        required=False,
    )


def host_inputs(all_logs: bool) -> tuple[list[LogInput], list[str]]:
    """The live host's inputs and notes about what could not be used.

    Without ``all_logs`` the ring buffer must be readable (else :class:`SourceError`); with
    it, any one readable source is enough and the others become notes.
    """
    inputs: list[LogInput] = []
    notes: list[str] = []
    try:
        inputs.append(host_kernel_log())
    except SourceError as error:
        if not all_logs:
            raise
        notes.append(str(error))
    if all_logs:
        inputs.extend(host_log_files())
        journal = journal_input()
        if journal is None:
            notes.append("journalctl not found: the journal was not read")
        else:
            inputs.append(journal)
        if not inputs:
            raise SourceError("no readable kernel log on this host: " + "; ".join(notes))
    return inputs, notes
