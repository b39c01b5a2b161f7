"""Collect the sysctl configuration files a boot would read, from a root.

A root is the live host (``/``), a directory laid out like one (a sosreport, a copied
tree), or anything :func:`minfree.sources.root.open_root` accepts. The directories are the
union of what systemd-sysctl and procps ``sysctl --system`` scan::

    /etc/sysctl.d  /run/sysctl.d  /usr/local/lib/sysctl.d  /usr/lib/sysctl.d  /lib/sysctl.d
    /etc/sysctl.conf

Symlinks are resolved *inside the root*, component by component, so an absolute link in a
copied tree (``lib -> /usr/lib``, ``99-sysctl.conf -> /etc/sysctl.conf``) never reads the
machine running minfree. A link to ``/dev/null`` masks a file (systemd semantics). Bundles
that went through something without symlink support (a sosreport unpacked on Windows or
re-packed as a zip, a git checkout with ``core.symlinks=false``) hold a tiny regular file
whose text is the link target (``../sysctl.conf``); no boot tool would accept that text as
a setting, so such a file is read as the link it was, and flagged as a materialised link.

Each file is parsed as it is collected (:attr:`ConfigFile.parsed`), so the resolver in
:mod:`minfree.analysis.sysctl_boot` works on data alone; nothing here interprets precedence.
"""

from __future__ import annotations

import os
import posixpath
import stat
from dataclasses import replace
from pathlib import Path

from minfree.errors import SourceError
from minfree.model.sysctl_conf import SYSCTL_CONF, SYSCTL_DIRS, ConfigFile, SysctlConfigSet
from minfree.parsers.sysctl_conf import parse_sysctl_conf

__all__ = [
    "SYSCTL_CONF",
    "SYSCTL_DIRS",
    "ConfigFile",
    "SysctlConfigSet",
    "collect_sysctl_config",
    "resolve_host_path",
    "resolve_in_root",
    "with_file",
]

_MAX_LINK_HOPS = 40  # ELOOP limit of the kernel's path walk
_MAX_CONF_BYTES = 4 * 1024 * 1024  # a sysctl file larger than this is not a sysctl file


class _FsRoot:
    """Minimal reader for a root that is a real directory (or ``/``).

    Used when :mod:`minfree.sources.root` is not available or the caller passes a path.
    Every path is resolved component by component inside ``base``.
    """

    def __init__(self, base: str | os.PathLike[str]) -> None:
        self.base = Path(base)
        if not self.base.is_dir():
            raise SourceError(f"root {str(base)!r} is not a directory")
        self.label = str(base)
        self.is_live = os.path.realpath(self.base) == "/"

    def host(self, rel: str) -> Path:
        return self.base / rel.lstrip("/")

    def lstat(self, rel: str) -> os.stat_result | None:
        try:
            return os.lstat(self.host(rel))
        except OSError:
            return None

    def readlink(self, rel: str) -> str | None:
        try:
            return os.readlink(self.host(rel))
        except OSError:
            return None

    def listdir(self, rel: str) -> list[str] | None:
        try:
            return sorted(os.listdir(self.host(rel)))
        except OSError:
            return None

    def read_bytes(self, rel: str) -> bytes:
        with open(self.host(rel), "rb") as handle:
            return handle.read(_MAX_CONF_BYTES + 1)


def resolve_in_root(fs: _FsRoot, path: str) -> tuple[str | None, str | None]:
    """Resolve ``path`` (absolute, as on the host) inside the root; (resolved, problem).

    Each component is checked with lstat; links are followed relative to the link's folder
    (absolute targets restart at the root). ``..`` never climbs above the root, exactly
    like a chroot.

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp(); os.makedirs(d + "/etc/sysctl.d"); open(d + "/etc/sysctl.conf", "w").close()
    >>> os.symlink("../sysctl.conf", d + "/etc/sysctl.d/99-sysctl.conf")
    >>> resolve_in_root(_FsRoot(d), "/etc/sysctl.d/99-sysctl.conf")
    ('/etc/sysctl.conf', None)
    """
    pending = [p for p in path.split("/") if p]
    done: list[str] = []
    hops = 0
    while pending:
        part = pending.pop(0)
        if part == ".":
            continue
        if part == "..":
            if done:
                done.pop()
            continue
        current = "/" + "/".join([*done, part])
        info = fs.lstat(current)
        if info is None:
            # missing: report the path as it would be, the caller decides
            return "/" + "/".join([*done, part, *pending]), "does not exist"
        if stat.S_ISLNK(info.st_mode):
            hops += 1
            if hops > _MAX_LINK_HOPS:
                return None, "too many levels of symbolic links"
            target = fs.readlink(current) or ""
            if target.startswith("/"):
                done = []
            pending = [p for p in target.split("/") if p] + pending
            continue
        done.append(part)
    return "/" + "/".join(done), None


def resolve_host_path(root_dir: str | os.PathLike[str], path: str) -> Path:
    """The real path of host path ``path`` under the directory ``root_dir``, with every link
    resolved inside the root (a path that does not exist yet resolves as far as it can).

    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> str(resolve_host_path(d, "/etc/sysctl.conf")) == d + "/etc/sysctl.conf"
    True
    """
    resolved, _problem = resolve_in_root(_FsRoot(root_dir), path)
    return Path(root_dir) / (resolved or path).lstrip("/")


def _decode(data: bytes) -> str:
    # The boot tools read bytes; undecodable bytes must not stop the rest of the analysis.
    return data.decode("utf-8", errors="surrogateescape")


def _looks_like_materialized_link(data: bytes) -> str | None:
    """The link target if ``data`` is a symlink stored as a tiny file (``../sysctl.conf``)."""
    if len(data) > 255 or not data:
        return None
    text = data.decode("utf-8", errors="replace").strip()
    if "\n" in text or "=" in text or " " in text or text.startswith(("#", ";")):
        return None
    if text.startswith(("/", "../", "./")):
        return text
    return None


def _read_config(fs: _FsRoot, path: str, directory: str) -> ConfigFile:
    name = posixpath.basename(path)
    info = fs.lstat(path)
    link_text = fs.readlink(path) if info is not None and stat.S_ISLNK(info.st_mode) else None
    resolved, problem = resolve_in_root(fs, path)
    target = resolved if link_text is not None and resolved != path else None
    if link_text is not None and resolved == "/dev/null":
        return ConfigFile(
            path, directory, name, None, target="/dev/null", link_text=link_text, masked=True
        )
    if problem is not None or resolved is None:
        why = f"link to {link_text!r}: target {problem}" if link_text is not None else problem
        return ConfigFile(
            path, directory, name, None, target=target, link_text=link_text, problem=why
        )
    try:
        data = fs.read_bytes(resolved)
    except IsADirectoryError:
        return ConfigFile(path, directory, name, None, target, link_text, problem="is a directory")
    except OSError as error:
        return ConfigFile(
            path, directory, name, None, target, link_text, problem=error.strerror or str(error)
        )
    if len(data) > _MAX_CONF_BYTES:
        return ConfigFile(
            path,
            directory,
            name,
            None,
            target,
            link_text,
            problem=f"larger than {_MAX_CONF_BYTES} bytes, not read",
        )
    if link_text is None:
        stored = _looks_like_materialized_link(data)
        if stored is not None:
            link_path = stored if stored.startswith("/") else posixpath.join(directory, stored)
            real, link_problem = resolve_in_root(fs, posixpath.normpath(link_path))
            if link_problem is None and real is not None and real != path:
                try:
                    data = fs.read_bytes(real)
                except OSError:
                    pass
                else:
                    return _parsed(ConfigFile(
                        path,
                        directory,
                        name,
                        _decode(data),
                        target=real,
                        link_text=stored,
                        materialized_link=True,
                    ))
    return _parsed(
        ConfigFile(path, directory, name, _decode(data), target=target, link_text=link_text)
    )


def _parsed(config_file: ConfigFile) -> ConfigFile:
    """``config_file`` with its text parsed, problems named after the file actually read."""
    if config_file.text is None:
        return replace(config_file, parsed=None)
    return replace(
        config_file,
        parsed=parse_sysctl_conf(config_file.text, source=config_file.effective_path),
    )


def _init_evidence(fs: _FsRoot) -> tuple[tuple[str, str], ...]:
    """(init, evidence) pairs; the resolver weighs them. Strongest evidence first."""
    found: list[tuple[str, str]] = []
    try:
        comm = fs.read_bytes("/proc/1/comm").decode("utf-8", "replace").strip()
    except OSError:
        comm = ""
    if comm:
        # "init" is sysvinit, upstart, busybox or openrc: their boot scripts run sysctl.
        # Any other PID 1 (a container or microVM agent, tini, dumb-init) applies nothing.
        kind = {"systemd": "systemd", "init": "sysvinit"}.get(comm, "other")
        found.append((kind, f"/proc/1/comm is {comm!r}"))
    if fs.lstat("/run/systemd/system") is not None:
        found.append(("systemd", "/run/systemd/system exists (systemd is running)"))
    init_link = fs.readlink("/sbin/init")
    if init_link is not None:
        kind = "systemd" if "systemd" in init_link else "sysvinit"
        found.append((kind, f"/sbin/init -> {init_link}"))
    for unit in (
        "/usr/lib/systemd/system/systemd-sysctl.service",
        "/lib/systemd/system/systemd-sysctl.service",
    ):
        if resolve_in_root(fs, unit)[1] is None:
            found.append(("systemd", f"{unit} is installed"))
            break
    if fs.lstat("/sos_commands/systemd") is not None:
        found.append(
            ("systemd", "sosreport has sos_commands/systemd (collected from a systemd host)")
        )
    for log in ("/sos_commands/kernel/dmesg", "/var/log/dmesg", "/var/log/kern.log"):
        try:
            head = fs.read_bytes(log)[:_MAX_CONF_BYTES]
        except OSError:
            continue
        if b"systemd[1]: " in head:
            found.append(("systemd", f"{log} has messages from systemd[1] (PID 1 is systemd)"))
            break
    for directory in ("/usr/lib/sysctl.d", "/lib/sysctl.d"):
        names = fs.listdir(directory) or []
        if "50-default.conf" in names:
            try:
                text = fs.read_bytes(f"{directory}/50-default.conf")[:4096]
            except OSError:
                continue
            if b"part of systemd" in text:
                found.append(("systemd", f"{directory}/50-default.conf is shipped by systemd"))
                break
    for script in ("/etc/rc.d/rc.sysinit", "/etc/init.d/procps"):
        if fs.lstat(script) is not None:
            found.append(("sysvinit", f"{script} exists"))
    return tuple(found)


def _as_fs_root(root: object) -> _FsRoot:
    if isinstance(root, _FsRoot):
        return root
    if root is None:
        return _FsRoot("/")
    if isinstance(root, (str, os.PathLike)):
        if os.path.isdir(root):
            return _FsRoot(root)
        from minfree.sources.root import open_root  # a tarball, or a clear SourceError

        root = open_root(root)
    # A directory-backed Root exposes its folder; tarball roots are read through the API.
    base = getattr(root, "base", None)
    if isinstance(base, (str, os.PathLike)) and os.path.isdir(base):
        return _FsRoot(base)
    return _RootAdapter(root)


_KIND_MODE = {"symlink": stat.S_IFLNK, "dir": stat.S_IFDIR, "file": stat.S_IFREG}


class _RootAdapter(_FsRoot):
    """Reads through a :class:`minfree.sources.root.Root` (e.g. a tarball read in place)."""

    def __init__(self, root: object) -> None:
        self.root = root
        self.label = str(getattr(root, "label", root))
        self.is_live = bool(getattr(root, "is_live", False))

    def lstat(self, rel: str) -> os.stat_result | None:
        entry = self.root.lstat(rel.lstrip("/"))  # type: ignore[attr-defined]
        if entry is None:
            return None
        mode = _KIND_MODE.get(entry.kind, stat.S_IFIFO) | 0o644
        return os.stat_result((mode, 0, 0, 1, 0, 0, entry.size, 0, 0, 0))

    def readlink(self, rel: str) -> str | None:
        return self.root.readlink(rel.lstrip("/"))  # type: ignore[attr-defined]

    def listdir(self, rel: str) -> list[str] | None:
        if self.lstat(rel) is None and not self.root.is_dir(rel.lstrip("/")):  # type: ignore[attr-defined]
            return None
        return sorted(self.root.listdir(rel.lstrip("/")))  # type: ignore[attr-defined]

    def read_bytes(self, rel: str) -> bytes:
        data = self.root.read_bytes(rel.lstrip("/"))  # type: ignore[attr-defined]
        if data is None:
            raise FileNotFoundError(rel)
        return data


def collect_sysctl_config(root: object = None) -> SysctlConfigSet:
    """Read every sysctl configuration file under ``root`` (None or "/" = this host).

    Raises :class:`~minfree.errors.SourceError` when the root itself is missing; missing
    directories are normal (recorded in ``missing``) and unreadable files carry a ``problem``.
    """
    fs = _as_fs_root(root)
    files: list[ConfigFile] = []
    missing: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for directory in SYSCTL_DIRS:
        resolved, problem = resolve_in_root(fs, directory)
        if problem is not None or resolved is None:
            missing.append((directory, problem or "unresolvable"))
            continue
        if resolved in seen:
            # merged /usr: /lib -> usr/lib makes /lib/sysctl.d the same folder, whose files
            # are already listed (and would only be shadowed by themselves)
            missing.append((directory, f"same folder as {seen[resolved]}"))
            continue
        seen[resolved] = directory
        names = fs.listdir(resolved)
        if names is None:
            missing.append((directory, "not a readable directory"))
            continue
        for name in names:
            # both tools take only names ending in ".conf" (README.sysctl is skipped)
            if not name.endswith(".conf"):
                continue
            files.append(_read_config(fs, f"{directory}/{name}", directory))
    conf_info = fs.lstat(SYSCTL_CONF)
    sysctl_conf = _read_config(fs, SYSCTL_CONF, "/etc") if conf_info is not None else None
    if sysctl_conf is None:
        missing.append((SYSCTL_CONF, "does not exist"))
    return SysctlConfigSet(
        label=fs.label,
        files=tuple(files),
        sysctl_conf=sysctl_conf,
        init_evidence=_init_evidence(fs),
        missing=tuple(missing),
    )


def with_file(config: SysctlConfigSet, path: str, text: str | None) -> SysctlConfigSet:
    """``config`` as it would be after writing ``text`` to ``path`` (None: delete it).

    Lets ``apply`` resolve its own plan before writing anything. Writing to the target of a
    link (``/etc/sysctl.conf``) updates every file that reads through the link. The new
    text is parsed as collection would parse it.
    """
    directory, name = posixpath.split(path)
    files: list[ConfigFile] = []
    found = False
    for config_file in config.files:
        if config_file.path == path or config_file.effective_path == path:
            found = found or config_file.path == path
            if text is None and config_file.path == path:
                continue
            files.append(_parsed(replace(config_file, text=text, problem=None)) if text is not None
                         else replace(config_file, text=None, problem="deleted", parsed=None))
        else:
            files.append(config_file)
    sysctl_conf = config.sysctl_conf
    if path == SYSCTL_CONF:
        if text is None:
            sysctl_conf = None
        else:
            sysctl_conf = _parsed(replace(sysctl_conf, text=text, problem=None)
                                  if sysctl_conf is not None
                                  else ConfigFile(path, directory, name, text))
        found = True
    if not found and text is not None and directory in config.directories and name.endswith(".conf"):
        files.append(_parsed(ConfigFile(path, directory, name, text)))
        order = {d: i for i, d in enumerate(config.directories)}
        files.sort(key=lambda f: (order.get(f.directory, len(order)), f.name.encode("utf-8", "surrogateescape")))
    return replace(config, files=tuple(files), sysctl_conf=sysctl_conf)
