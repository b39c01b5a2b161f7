"""Which value each sysctl key gets at boot, and from which file and line.

Two programs apply sysctl files at boot, with different rules (sources: systemd
``src/sysctl/sysctl.c`` and sysctl.d(5); procps-ng ``src/sysctl.c`` ``PreloadSystem``):

**systemd-sysctl** (any systemd host)
  1. Scan ``/etc/sysctl.d``, ``/run/sysctl.d``, ``/usr/local/lib/sysctl.d``,
     ``/usr/lib/sysctl.d`` (and ``/lib/sysctl.d`` on split-usr builds), ``*.conf`` only.
  2. A basename found in an earlier folder shadows the same basename in later ones
     (``/etc`` > ``/run`` > ``/usr/local/lib`` > ``/usr/lib`` > ``/lib``); a link to
     ``/dev/null`` masks the name.
  3. Sort the survivors by basename (byte order, folder ignored) and apply in that order:
     for a key set in several files the lexically **latest file wins**; within a file the
     last line wins.
  4. ``/etc/sysctl.conf`` is **not read** (since v207) unless a file links to it — the
     distributions' ``/etc/sysctl.d/99-sysctl.conf -> ../sysctl.conf``, absent on Debian 13.
     It then counts at position ``99-sysctl.conf``: ``99-z*.conf`` or any name starting with
     a letter sorts later and beats it.
  5. Glob keys (``net.ipv4.conf.*.rp_filter``) set every matching key *that no file sets
     explicitly*. A bare ``-key`` line keeps globs off the key and cancels its earlier
     settings (a later line may set it again); a bare ``-glob`` line does nothing. Entries
     are kept per key text in an ordered map: repeating a glob with the same value keeps
     its place, a new value moves it last.

**procps ``sysctl --system``** (sysvinit hosts, and what admins run by hand)
  Steps 1-3 as above, then ``/etc/sysctl.conf`` is applied **last** when it is a regular
  file, so it beats every sysctl.d file (and is read twice when the 99-sysctl.conf link
  exists). Globs (procps 4.0+): an explicit setting beats a glob in any position, a bare
  ``-key`` keeps globs off the key (but does not undo lines already applied), ``-glob``
  does nothing; globs apply in file order.

Both models are checked in the tests against the real programs (systemd-sysctl 252 and
procps-ng 4.0.2, run in a mount namespace over a fake ``/proc/sys``), including a property
test on random stacks of files, globs and exclusions.

The resolver is pure: it takes a :class:`~minfree.model.sysctl_conf.SysctlConfigSet`
(:func:`minfree.sources.sysctl_config.collect_sysctl_config` reads and parses one from a
root) and never reads or parses a file, so ``minfree apply`` can resolve the configuration
it is *about to* write (:func:`minfree.sources.sysctl_config.with_file`).

Example (the ``hotsos-kubernetes-5.4.0-99`` fixture: Ubuntu 20.04, systemd)::

    config = collect_sysctl_config("tests/fixtures/roots/hotsos-kubernetes-5.4.0-99")
    boot = resolve_boot_sysctl(config)
    boot.systemd.winner("vm.overcommit_memory").file  # '/etc/sysctl.d/50-kubernetes-charm.conf'
    boot.sysctl_conf_read_at_boot                      # True (through 99-sysctl.conf)
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from minfree.kernel.sysctl_catalog import normalize_key
from minfree.model.sysctl_conf import (
    SYSCTL_CONF,
    ConfigFile,
    ConfProblem,
    SysctlAssignment,
    SysctlConfigSet,
)

SYSTEMD = "systemd-sysctl"
PROCPS = "procps"
#: The name minfree persists to when nothing sorts later (see :func:`late_file_name`).
PREFERRED_PERSIST_NAME = "99-zz-minfree.conf"


def _sort_key(name: str) -> bytes:
    # both tools compare basenames with strcmp(): byte order, not locale order
    return name.encode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class Definition:
    """One line that sets a key, where the boot tool finds it.

    ``file`` is the path the tool opened (``/etc/sysctl.d/99-sysctl.conf``); ``read_from``
    is where the bytes live when that is a link (``/etc/sysctl.conf``). ``position`` is the
    file's index in the tool's application order. ``pattern`` is set when a glob line
    matched the key.
    """

    key: str
    value: str
    file: str
    line: int
    position: int
    read_from: str
    ignore_failure: bool = False
    pattern: str | None = None
    raw: str = ""
    #: a bare ``-key`` line: it cancels earlier settings of the key and keeps globs off it
    exclusion: bool = False

    @property
    def where(self) -> str:
        """``file:line``, naming the link target too when there is one."""
        if self.read_from != self.file:
            return f"{self.read_from}:{self.line} (via {self.file})"
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class KeyResolution:
    """The definition that wins for one key under one tool, and those it overrides."""

    key: str
    winner: Definition | None
    overridden: tuple[Definition, ...] = ()
    #: the ``-key`` line that leaves the key unset, when that is what wins
    excluded: Definition | None = None

    @property
    def value(self) -> str | None:
        return self.winner.value if self.winner else None

    @property
    def definitions(self) -> tuple[Definition, ...]:
        """All definitions, application order (the winner, or the exclusion, last)."""
        last = self.winner or self.excluded
        return (*self.overridden, last) if last else self.overridden


@dataclass(frozen=True)
class ShadowedFile:
    """A file never read because a same-named file in an earlier folder wins."""

    path: str
    shadowed_by: str


@dataclass(frozen=True)
class BootStack:
    """What one boot tool applies: files in order and every key's resolution."""

    tool: str
    files: tuple[str, ...]
    shadowed: tuple[ShadowedFile, ...]
    reads_sysctl_conf: bool
    _exact: Mapping[str, tuple[Definition, ...]] = field(repr=False, default_factory=dict)
    _globs: tuple[Definition, ...] = field(repr=False, default=())
    #: bare ``-glob`` lines: no-ops for both tools (an exclusion must name a key)
    _glob_exclusions: tuple[Definition, ...] = field(repr=False, default=())

    def keys(self) -> tuple[str, ...]:
        """Every key set or excluded explicitly (globs expand only in :meth:`resolve`)."""
        return tuple(sorted(self._exact))

    def resolve(self, key: str) -> KeyResolution:
        """Winner and overridden definitions of ``key`` (dotted or slashed)."""
        key = normalize_key(key)
        exact = self._exact.get(key, ())
        globs = tuple(
            replace(d, key=key)
            for d in self._effective_globs()
            if fnmatch.fnmatchcase(key, d.pattern or "")
        )
        # Both tools (systemd sysctl.c; procps-ng 4.0.2; both checked in the tests): an
        # explicit setting anywhere beats every glob, whatever the order. A bare "-key" line
        # keeps globs off the key under both; under systemd it is also an entry of its own
        # that cancels earlier settings of the key (until a later line sets it again), while
        # procps has already written those earlier lines when it reaches it.
        if self.tool == PROCPS:
            assignments = tuple(d for d in exact if not d.exclusion)
            # a "-glob" line excludes nothing (procps 4.0.2, as systemd): only keys can be
            excluded = any(d.exclusion for d in exact)
            if assignments:
                earlier = tuple(sorted((*globs, *assignments[:-1]), key=_order))
                return KeyResolution(key, assignments[-1], earlier)
            if globs and not excluded:
                return KeyResolution(key, globs[-1], globs[:-1])
            exclusion = next((d for d in exact if d.exclusion), None)
            return KeyResolution(key, None, globs, excluded=exclusion)
        if exact:
            last = exact[-1]
            earlier = tuple(sorted((*globs, *exact[:-1]), key=_order))
            if last.exclusion:
                return KeyResolution(key, None, earlier, excluded=last)
            return KeyResolution(key, last, earlier)
        if globs:
            return KeyResolution(key, globs[-1], globs[:-1])
        return KeyResolution(key, None)

    def _effective_globs(self) -> tuple[Definition, ...]:
        """Glob lines in the order the tool applies them.

        systemd keeps one entry per pattern text in an ordered map: a later line with the
        *same* value leaves the entry where it was, a different value (or a bare
        ``-pattern``, which is never applied) moves it to the end. procps applies them in
        file order.
        """
        if self.tool == PROCPS:
            return self._globs
        entries: dict[str, Definition] = {}
        for d in sorted((*self._globs, *self._glob_exclusions), key=_order):
            pattern = d.pattern or ""
            previous = entries.get(pattern)
            if previous is not None and previous.exclusion == d.exclusion and previous.value == d.value:
                continue
            entries.pop(pattern, None)
            entries[pattern] = d
        return tuple(d for d in entries.values() if not d.exclusion)

    def winner(self, key: str) -> Definition | None:
        return self.resolve(key).winner

    def value(self, key: str) -> str | None:
        """The value this tool leaves in ``key`` at boot (None: not set by any file)."""
        return self.resolve(key).value

    def files_setting(self, key: str) -> tuple[str, ...]:
        """Basenames of every file that sets ``key`` (explicitly or by a glob)."""
        return tuple(dict.fromkeys(os.path.basename(d.file) for d in self.resolve(key).definitions))


def _order(definition: Definition) -> tuple[int, int]:
    return (definition.position, definition.line)


@dataclass(frozen=True)
class BootSysctl:
    """The boot-time picture for one root: both tools, the init system, sysctl.conf's fate."""

    systemd: BootStack
    procps: BootStack
    init: str
    init_evidence: tuple[tuple[str, str], ...]
    sysctl_conf_exists: bool
    sysctl_conf_links: tuple[str, ...]
    problems: tuple[ConfProblem, ...]
    file_problems: tuple[tuple[str, str], ...]
    label: str = ""

    @property
    def boot_tool(self) -> str | None:
        """The tool that applies sysctl files at boot here, when the init system is known.

        ``init`` is ``systemd``, ``sysvinit`` (PID 1 named ``init``: sysvinit, upstart,
        busybox, openrc, whose scripts run ``sysctl``), ``other`` (any other PID 1, e.g. a
        container or microVM agent: no tool is known to read the files) or ``unknown``.
        """
        if self.init == "systemd":
            return SYSTEMD
        if self.init == "sysvinit":
            return PROCPS
        return None

    @property
    def init_reason(self) -> str | None:
        """The evidence the init system was decided on."""
        for kind, why in self.init_evidence:
            if kind == self.init:
                return why
        return None

    @property
    def stack(self) -> BootStack:
        """The boot tool's stack; systemd's when unknown (the common case on servers)."""
        return self.procps if self.boot_tool == PROCPS else self.systemd

    @property
    def sysctl_conf_read_at_boot(self) -> bool | None:
        """Whether ``/etc/sysctl.conf`` is applied at boot (None: depends on an unknown init).

        Under systemd only through a surviving link (``99-sysctl.conf``); under procps
        whenever the file exists.
        """
        by_systemd = self.systemd.reads_sysctl_conf
        by_procps = self.procps.reads_sysctl_conf
        if self.boot_tool == SYSTEMD:
            return by_systemd
        if self.boot_tool == PROCPS:
            return by_procps
        return by_systemd if by_systemd == by_procps else None

    def stacks(self) -> tuple[BootStack, ...]:
        return (self.systemd, self.procps)

    def boot_value(self, key: str) -> str | None:
        """Value at boot under the detected tool (systemd's when the init is unknown)."""
        return self.stack.value(key)

    def tools_disagree(self, key: str) -> bool:
        """True when systemd-sysctl and ``sysctl --system`` leave different values."""
        return self.systemd.value(key) != self.procps.value(key)

    def keys(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.systemd.keys()) | set(self.procps.keys())))

    def late_file_name(self, keys: Iterable[str], preferred: str = PREFERRED_PERSIST_NAME) -> str:
        """A ``*.conf`` basename that sorts after every file setting any of ``keys``.

        :func:`late_file_name` with this root's definitions.
        """
        names: list[str] = []
        for key in keys:
            names.extend(self.systemd.files_setting(key))
            names.extend(n for n in self.procps.files_setting(key) if n != "sysctl.conf")
        return late_file_name(names, preferred)


def late_file_name(existing: Iterable[str], preferred: str = PREFERRED_PERSIST_NAME) -> str:
    """``preferred`` if it sorts after every name in ``existing``, else a name that does.

    Byte order puts ``_`` after ``.``, so ``<latest stem>_zz-minfree.conf`` always sorts
    after ``<latest stem>.conf``.

    >>> late_file_name(["50-default.conf", "99-sysctl.conf"])
    '99-zz-minfree.conf'
    >>> late_file_name(["zz-tuning.conf", "99-sysctl.conf"])
    'zz-tuning_zz-minfree.conf'
    """
    latest = max(existing, key=_sort_key, default=None)
    if latest is None or _sort_key(preferred) > _sort_key(latest):
        return preferred
    stem = latest[: -len(".conf")] if latest.endswith(".conf") else latest
    return f"{stem}_zz-minfree.conf"


def _init_from_evidence(evidence: tuple[tuple[str, str], ...]) -> str:
    # /proc/1/comm and /run/systemd/system describe the running init: trust them first.
    for kind, why in evidence:
        if why.startswith("/proc/1/comm") or why.startswith("/run/systemd/system"):
            return kind
    kinds = {kind for kind, _ in evidence}
    if "systemd" in kinds:
        return "systemd"
    if "sysvinit" in kinds:
        return "sysvinit"
    return "unknown"


def _build_stack(
    tool: str, config: SysctlConfigSet
) -> tuple[BootStack, list[ConfProblem]]:
    chosen: dict[str, ConfigFile] = {}
    shadowed: list[ShadowedFile] = []
    for config_file in config.files:
        if config_file.name in chosen:
            shadowed.append(ShadowedFile(config_file.path, chosen[config_file.name].path))
            continue
        chosen[config_file.name] = config_file
    ordered = sorted(chosen.values(), key=lambda f: _sort_key(f.name))
    conf = config.sysctl_conf
    if tool == PROCPS and conf is not None and conf.text is not None:
        # PreloadSystem: stat("/etc/sysctl.conf") and S_ISREG -> apply it last
        ordered.append(conf)
    exact: dict[str, list[Definition]] = {}
    globs: list[Definition] = []
    glob_exclusions: list[Definition] = []
    problems: list[ConfProblem] = []
    reads_conf = False
    applied: list[str] = []
    for position, config_file in enumerate(ordered):
        if config_file.masked or config_file.text is None:
            continue
        applied.append(config_file.path)
        if config_file.effective_path == SYSCTL_CONF:
            reads_conf = True
        parsed = config_file.parsed
        if parsed is None:  # pragma: no cover - collection parses every file it read
            raise ValueError(f"{config_file.path}: collected without its parsed content")
        problems.extend(parsed.problems)
        entries: list[Definition] = [_definition(a, config_file, position) for a in parsed.assignments]
        entries.extend(
            Definition(key=e.pattern, value="", file=config_file.path, line=e.line,
                       position=position, read_from=config_file.effective_path,
                       pattern=e.pattern if e.is_glob else None,
                       raw=f"-{e.pattern}", exclusion=True)
            for e in parsed.exclusions
        )
        for definition in sorted(entries, key=_order):
            if definition.exclusion and definition.pattern is not None:
                glob_exclusions.append(definition)
            elif definition.pattern is not None:
                globs.append(definition)
            else:
                exact.setdefault(definition.key, []).append(definition)
    stack = BootStack(
        tool=tool,
        files=tuple(applied),
        shadowed=tuple(shadowed),
        reads_sysctl_conf=reads_conf,
        _exact={key: tuple(defs) for key, defs in exact.items()},
        _globs=tuple(globs),
        _glob_exclusions=tuple(glob_exclusions),
    )
    return stack, problems


def _definition(assignment: SysctlAssignment, config_file: ConfigFile, position: int) -> Definition:
    return Definition(
        key=assignment.key,
        value=assignment.value,
        file=config_file.path,
        line=assignment.line,
        position=position,
        read_from=config_file.effective_path,
        ignore_failure=assignment.ignore_failure,
        pattern=assignment.key if assignment.is_glob else None,
        raw=assignment.raw,
    )


def resolve_config(config: SysctlConfigSet) -> BootSysctl:
    """Resolve a collected configuration (pure; see the module docstring for the rules)."""
    systemd, problems = _build_stack(SYSTEMD, config)
    procps, problems_procps = _build_stack(PROCPS, config)
    seen = {(p.source, p.line, p.message) for p in problems}
    problems.extend(p for p in problems_procps if (p.source, p.line, p.message) not in seen)
    links = tuple(
        f.path for f in config.files
        if f.effective_path == SYSCTL_CONF and f.path != SYSCTL_CONF and f.path in systemd.files
    )
    file_problems = tuple(
        (f.path, f.problem) for f in (*config.files, config.sysctl_conf) if f is not None and f.problem
    )
    return BootSysctl(
        systemd=systemd,
        procps=procps,
        init=_init_from_evidence(config.init_evidence),
        init_evidence=config.init_evidence,
        sysctl_conf_exists=config.sysctl_conf is not None and config.sysctl_conf.text is not None,
        sysctl_conf_links=links,
        problems=tuple(problems),
        file_problems=file_problems,
        label=config.label,
    )


def resolve_boot_sysctl(config: SysctlConfigSet) -> BootSysctl:
    """Resolve the boot-time sysctl values of a collected configuration.

    ``config`` comes from :func:`minfree.sources.sysctl_config.collect_sysctl_config`
    (or :func:`~minfree.sources.sysctl_config.with_file` for a planned change); this is
    :func:`resolve_config` under its public name. Analysis does not read sources: a root
    (the earlier signature) is refused with a :class:`TypeError` that says how to collect it.
    """
    if not isinstance(config, SysctlConfigSet):
        raise TypeError(
            f"resolve_boot_sysctl() takes a SysctlConfigSet, not {type(config).__name__}: "
            "pass minfree.sources.sysctl_config.collect_sysctl_config(root)")
    return resolve_config(config)
