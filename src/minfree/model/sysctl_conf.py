"""sysctl configuration as data: parsed files and the set of files a boot reads.

:func:`minfree.parsers.sysctl_conf.parse_sysctl_conf` turns one file's text into a
:class:`SysctlConf`; :func:`minfree.sources.sysctl_config.collect_sysctl_config` finds the
files under a root and returns a :class:`SysctlConfigSet` whose :class:`ConfigFile` entries
carry their parsed content; :mod:`minfree.analysis.sysctl_boot` resolves precedence over
that set without reading or parsing anything, so ``apply`` can resolve a configuration it
has only planned.

Keys in :class:`SysctlAssignment` are normalised to dots by the parser.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Scan order shared by systemd (CONF_PATHS("sysctl.d"), /lib only on split-usr builds) and
#: procps (PreloadSystem's dirs[]). The first directory holding a basename wins.
SYSCTL_DIRS: tuple[str, ...] = (
    "/etc/sysctl.d",
    "/run/sysctl.d",
    "/usr/local/lib/sysctl.d",
    "/usr/lib/sysctl.d",
    "/lib/sysctl.d",
)
SYSCTL_CONF = "/etc/sysctl.conf"


@dataclass(frozen=True)
class SysctlAssignment:
    """One ``key = value`` line.

    ``key`` is normalised to dots; ``raw_key`` is as written (without the ``-`` prefix).
    ``value`` is exactly what the boot tools would write (stripped, inner spacing kept).
    """

    key: str
    value: str
    line: int
    source: str
    raw: str
    raw_key: str
    ignore_failure: bool = False
    is_glob: bool = False


@dataclass(frozen=True)
class SysctlExclusion:
    """A bare ``-pattern`` line: keys matching ``pattern`` are not set by globs (systemd).

    ``is_glob`` says whether ``pattern`` is a pattern (both tools ignore those: only a key
    can be excluded) or a plain key.
    """

    pattern: str
    line: int
    source: str
    is_glob: bool = False


@dataclass(frozen=True)
class ConfProblem:
    """A line both tools skip or mis-handle, with the reason in plain words."""

    source: str
    line: int
    message: str
    raw: str


@dataclass(frozen=True)
class SysctlConf:
    """A parsed sysctl configuration file."""

    source: str
    assignments: tuple[SysctlAssignment, ...]
    exclusions: tuple[SysctlExclusion, ...] = ()
    problems: tuple[ConfProblem, ...] = ()

    def values(self) -> dict[str, str]:
        """Key -> value as this file alone would leave it (last line wins within a file)."""
        result: dict[str, str] = {}
        for assignment in self.assignments:
            result[assignment.key] = assignment.value
        return result

    def lines_setting(self, key: str) -> tuple[SysctlAssignment, ...]:
        """Every exact (non-glob) assignment of ``key`` in this file, in line order.

        ``key`` must be dotted (``vm.swappiness``), as the parser stores keys; a slashed
        key is normalised by :func:`minfree.parsers.sysctl_conf.setting_line_numbers`.
        """
        return tuple(a for a in self.assignments if a.key == key and not a.is_glob)


@dataclass(frozen=True)
class ConfigFile:
    """One configuration file as found under the root (paths shown as on the host).

    ``text`` is the content that a boot tool would read (after following links), or None
    with ``problem`` saying why; ``parsed`` is that text parsed (None exactly when ``text``
    is None). ``target`` is the resolved path when ``path`` is a link.
    """

    path: str
    directory: str
    name: str
    text: str | None
    target: str | None = None
    link_text: str | None = None
    materialized_link: bool = False
    masked: bool = False
    problem: str | None = None
    parsed: SysctlConf | None = None

    @property
    def is_link(self) -> bool:
        return self.link_text is not None

    @property
    def effective_path(self) -> str:
        """The file whose bytes are read: the link target, or the file itself."""
        return self.target or self.path


@dataclass(frozen=True)
class SysctlConfigSet:
    """Everything the boot-time sysctl resolver needs from one root."""

    label: str
    files: tuple[ConfigFile, ...]
    sysctl_conf: ConfigFile | None
    init_evidence: tuple[tuple[str, str], ...] = ()
    missing: tuple[tuple[str, str], ...] = ()
    directories: tuple[str, ...] = SYSCTL_DIRS
