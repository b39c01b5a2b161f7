"""Where a new value must be written so that the next boot applies it, and what else wins.

Three modes (``--persist``):

``sysctl.d`` (default)
    A dedicated file in ``/etc/sysctl.d`` whose name sorts after every file that sets one of
    the keys (``99-zz-minfree.conf`` unless something sorts later; see
    :func:`minfree.analysis.sysctl_boot.late_file_name`), with a header saying what wrote it,
    when, why, and how to undo it. A minfree file that already exists under that name is
    edited line by line (other keys and comments kept).
``sysctl.conf``
    The classic procedure: every earlier setting of the key in ``/etc/sysctl.conf`` is
    commented out with a marker (``# [minfree <id>] <original line>``), then the new
    setting is appended under a marker comment.
``none``
    Runtime only; the plan says what the next boot will set instead.

In every mode the planned files are resolved with the boot-time resolver (both
systemd-sysctl and procps ``sysctl --system``) *before* anything is written. A definition
that would still win, or ``/etc/sysctl.conf`` not being read at boot, is reported as a
:class:`Conflict` naming the file and line to change; ``--fix-conflicts`` comments those
lines out (the journal keeps the original bytes). Nothing else is ever edited.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from minfree.analysis.sysctl_boot import (
    PREFERRED_PERSIST_NAME,
    PROCPS,
    SYSCTL_CONF,
    SYSTEMD,
    BootSysctl,
    Definition,
    late_file_name,
    resolve_config,
)
from minfree.kernel.sysctl_catalog import lookup, parse_int_value
from minfree.model.sysctl_conf import SysctlConfigSet
from minfree.parsers.sysctl_conf import parse_sysctl_conf
from minfree.sources.sysctl_config import with_file

HEADER_FIRST_LINE = "# Written by minfree apply"
SYSCTL_D = "/etc/sysctl.d"
MODES = ("sysctl.d", "sysctl.conf", "none")
_MAX_FIX_ROUNDS = 20


def _marker(journal_id: str) -> str:
    return f"[minfree {journal_id}]"


@dataclass(frozen=True)
class FileEdit:
    """One file's planned content. ``before`` None: the file is created."""

    path: str
    before: str | None
    after: str
    reasons: tuple[str, ...]

    @property
    def after_bytes(self) -> bytes:
        return self.after.encode("utf-8", "surrogateescape")

    @property
    def before_bytes(self) -> bytes | None:
        return None if self.before is None else self.before.encode("utf-8", "surrogateescape")

    def diff(self) -> str:
        """Unified diff, ``/dev/null`` for a created file."""
        before = (self.before or "").splitlines(keepends=True)
        after = self.after.splitlines(keepends=True)
        lines = difflib.unified_diff(
            before,
            after,
            fromfile="/dev/null" if self.before is None else f"a{self.path}",
            tofile=f"b{self.path}",
        )
        return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                       for line in lines)


@dataclass(frozen=True)
class Conflict:
    """A reason the new value would not be the boot value under ``tool``.

    ``definition`` is the line that wins instead (None when the cause is that nothing that
    minfree wrote is read, e.g. ``/etc/sysctl.conf`` without the ``99-sysctl.conf`` link).
    ``fixed`` is True when ``--fix-conflicts`` commented the line out in this plan.
    """

    key: str
    tool: str
    wanted: str
    boot_value: str | None
    definition: Definition | None
    advice: str
    fixed: bool = False
    relevant: bool = True


@dataclass(frozen=True)
class PersistPlan:
    """The file edits of one apply and the boot values before and after them."""

    mode: str
    target: str | None
    edits: tuple[FileEdit, ...]
    boot_before: BootSysctl
    boot_after: BootSysctl
    conflicts: tuple[Conflict, ...]
    notes: tuple[str, ...] = ()

    @property
    def unresolved(self) -> tuple[Conflict, ...]:
        """Conflicts that remain after this plan (and matter for this host's boot tool)."""
        return tuple(c for c in self.conflicts if not c.fixed)


def same_value(a: str | None, b: str | None) -> bool:
    """Equal as the kernel sees them: integer words compared as integers, spacing ignored.

    >>> same_value("256\\t256  32", "256 256 32"), same_value("010", "10"), same_value("1", None)
    (True, True, False)
    """
    if a is None or b is None:
        return a is b
    try:
        return [int(x) for x in a.split()] == [int(x) for x in b.split()]
    except ValueError:
        return a.split() == b.split()


def format_value(key: str, value: str) -> str:
    """The canonical text of a value (``0090112`` -> ``90112``; vectors single-spaced)."""
    spec = lookup(key)
    if spec is None:
        return " ".join(value.split())
    return " ".join(str(n) for n in parse_int_value(spec, value))


def _ensure_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def _comment_out(text: str, lines: set[int], journal_id: str) -> str:
    """Prefix the given 1-based lines with the marker comment; everything else unchanged."""
    out = []
    for number, line in enumerate(text.split("\n"), start=1):
        if number in lines:
            line = f"# {_marker(journal_id)} {line}"
        out.append(line)
    return "\n".join(out)


def _own_file_text(values: dict[str, str], journal_id: str, timestamp: str, reason: str) -> str:
    body = "".join(f"{key} = {value}\n" for key, value in values.items())
    return (
        f"{HEADER_FIRST_LINE} on {timestamp} (journal {journal_id}).\n"
        f"# Why: {reason}\n"
        "# The name sorts after every other sysctl file that sets these keys, so\n"
        "# systemd-sysctl and `sysctl --system` apply it last at boot.\n"
        f"# Undo: minfree rollback {journal_id}\n"
        f"{body}"
    )


def _update_own_file(text: str, values: dict[str, str]) -> str:
    """Replace our keys' lines in an existing minfree file; append the missing ones."""
    parsed = parse_sysctl_conf(text)
    lines = text.split("\n")
    done: set[str] = set()
    for assignment in parsed.assignments:
        if assignment.key in values and not assignment.is_glob:
            lines[assignment.line - 1] = f"{assignment.key} = {values[assignment.key]}"
            done.add(assignment.key)
    result = _ensure_newline("\n".join(lines))
    result += "".join(f"{key} = {value}\n" for key, value in values.items() if key not in done)
    return result


def plan_persist(
    config: SysctlConfigSet,
    values: dict[str, str],
    *,
    mode: str,
    fix_conflicts: bool,
    journal_id: str,
    timestamp: str,
    reason: str,
) -> PersistPlan:
    """Plan the file edits for ``values`` (dotted key -> canonical value) in ``mode``.

    ``config`` is a :class:`~minfree.model.sysctl_conf.SysctlConfigSet` from the root.
    Pure: no file is read or written here.
    """
    if mode not in MODES:
        raise ValueError(f"unknown persist mode {mode!r}")
    boot_before = resolve_config(config)
    texts: dict[str, str | None] = {}
    reasons: dict[str, list[str]] = {}
    notes: list[str] = []
    target: str | None = None

    def current_text(path: str) -> str | None:
        if path in texts:
            return texts[path]
        return _config_text(config, path)

    def edit(path: str, text: str, why: str) -> None:
        nonlocal config
        if path not in texts:
            texts[path] = _config_text(config, path)
            reasons[path] = []
        reasons[path].append(why)
        config = with_file(config, path, text)
        texts_after[path] = text

    texts_after: dict[str, str] = {}

    if mode == "sysctl.d" and values:
        own_names = {
            f.name for f in config.files
            if f.directory == SYSCTL_D and (f.text or "").startswith(HEADER_FIRST_LINE)
        }
        others: list[str] = []
        for key in values:
            for stack in boot_before.stacks():
                others.extend(n for n in stack.files_setting(key)
                              if n not in own_names and n != "sysctl.conf")
        name = late_file_name(others, PREFERRED_PERSIST_NAME)
        target = f"{SYSCTL_D}/{name}"
        existing = current_text(target)
        if existing is None:
            edit(target, _own_file_text(values, journal_id, timestamp, reason), "persist: new file")
        elif existing.startswith(HEADER_FIRST_LINE):
            edit(target, _update_own_file(existing, values), "persist: update minfree's own file")
        else:  # pragma: no cover - late_file_name never picks a foreign file's name
            raise ValueError(f"{target} exists and was not written by minfree")
        for own in sorted(own_names - {name}):
            notes.append(f"{SYSCTL_D}/{own} (an earlier minfree file) now sorts before {name} and is overridden")
    elif mode == "sysctl.conf" and values:
        target = SYSCTL_CONF
        text = current_text(SYSCTL_CONF) or ""
        earlier: set[int] = set()
        parsed = parse_sysctl_conf(text, SYSCTL_CONF)
        for assignment in parsed.assignments:
            if assignment.key in values and not assignment.is_glob:
                earlier.add(assignment.line)
        text = _ensure_newline(_comment_out(text, earlier, journal_id))
        if text and not text.endswith("\n\n"):
            text += "\n"
        text += f"# {_marker(journal_id)} set by minfree apply on {timestamp}: {reason}\n"
        text += "".join(f"{key} = {value}\n" for key, value in values.items())
        edit(SYSCTL_CONF, text, "persist: comment out earlier settings, append the new ones"
             if earlier else "persist: append the new settings")

    conflicts: list[Conflict] = []
    if mode != "none":
        for _round in range(_MAX_FIX_ROUNDS):
            boot_after = resolve_config(config)
            found = _conflicts(boot_after, values, mode)
            fixable = [c for c in found if c.definition is not None and c.definition.pattern is None]
            if not fix_conflicts or not fixable:
                conflicts.extend(found)
                break
            by_file: dict[str, set[int]] = {}
            for conflict in fixable:
                assert conflict.definition is not None
                by_file.setdefault(conflict.definition.read_from, set()).add(conflict.definition.line)
                conflicts.append(Conflict(**{**conflict.__dict__, "fixed": True}))
            for path, lines in by_file.items():
                text = current_text(path) or ""
                edit(path, _comment_out(text, lines, journal_id),
                     f"--fix-conflicts: comment out line(s) {', '.join(map(str, sorted(lines)))}")
        else:  # pragma: no cover - a cycle would need an infinite file stack
            conflicts.extend(_conflicts(resolve_config(config), values, mode))
    boot_after = resolve_config(config)
    if mode == "none":
        conflicts = _conflicts(boot_after, values, mode)
    relevant_tool = boot_before.boot_tool
    conflicts = [
        Conflict(**{**c.__dict__, "relevant": relevant_tool in (None, c.tool)}) for c in conflicts
    ]
    edits = tuple(
        FileEdit(path, texts[path], texts_after[path], tuple(reasons[path]))
        for path in texts_after
        if texts_after[path] != texts[path]
    )
    return PersistPlan(mode, target, edits, boot_before, boot_after, tuple(conflicts), tuple(notes))


def _config_text(config: SysctlConfigSet, path: str) -> str | None:
    if path == SYSCTL_CONF:
        conf = config.sysctl_conf
        return None if conf is None else conf.text
    for config_file in config.files:
        if config_file.path == path and not config_file.is_link:
            return config_file.text
        if config_file.effective_path == path and config_file.text is not None:
            return config_file.text
    return None


def _conflicts(boot: BootSysctl, values: dict[str, str], mode: str) -> list[Conflict]:
    found: list[Conflict] = []
    for key, wanted in values.items():
        for stack in boot.stacks():
            resolution = stack.resolve(key)
            if same_value(resolution.value, wanted):
                continue
            winner = resolution.winner
            if winner is None and resolution.excluded is not None:
                excluded = resolution.excluded
                found.append(Conflict(
                    key, stack.tool, wanted, None, excluded,
                    f"`{excluded.raw.strip()}` at {excluded.where} cancels the setting at boot: "
                    "remove that line, or use --fix-conflicts"))
                continue
            if winner is None:
                if mode == "sysctl.conf" and stack.tool == SYSTEMD and not stack.reads_sysctl_conf:
                    advice = ("systemd-sysctl does not read /etc/sysctl.conf here (no 99-sysctl.conf "
                              "link): use --persist sysctl.d, or restore the link with "
                              "`ln -s ../sysctl.conf /etc/sysctl.d/99-sysctl.conf`")
                else:
                    advice = ("no file sets it: the kernel default applies at boot "
                              "(use --persist sysctl.d to keep the new value)")
                found.append(Conflict(key, stack.tool, wanted, None, None, advice))
                continue
            if winner.pattern is not None:
                advice = (f"the glob `{winner.pattern}` at {winner.where} sets it; narrow the glob "
                          "or add an explicit setting by hand (globs are never edited automatically)")
            elif stack.tool == PROCPS and winner.read_from == SYSCTL_CONF:
                advice = (f"`sysctl --system` applies /etc/sysctl.conf last: comment out "
                          f"{winner.where}, or use --fix-conflicts")
            else:
                advice = f"comment out {winner.where}, or use --fix-conflicts"
            found.append(Conflict(key, stack.tool, wanted, winner.value, winner, advice))
    return found


__all__ = [
    "HEADER_FIRST_LINE",
    "MODES",
    "PROCPS",
    "SYSTEMD",
    "Conflict",
    "FileEdit",
    "PersistPlan",
    "format_value",
    "plan_persist",
    "same_value",
]
