"""The project's clean errors.

Every error a user can cause (bad input, missing files, bad values, no permission) is raised
as a subclass of :class:`MinfreeError`. The CLI prints ``minfree: <message>`` on one line
and exits with status 2; anything else escaping is a bug.
"""

from __future__ import annotations


class MinfreeError(Exception):
    """An error caused by the input or environment, reported in one line (exit code 2)."""

    exit_code = 2


class ParseError(MinfreeError):
    """Text that cannot be parsed. Names the file and line so the user can look at it."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None):
        self.source = source
        self.line = line
        where = ""
        if source is not None:
            where = f"{source}:{line}: " if line is not None else f"{source}: "
        super().__init__(f"{where}{message}")


class SourceError(MinfreeError):
    """A file, directory or archive that cannot be read (absent, permission, corrupt)."""


class UsageError(MinfreeError):
    """A bad command-line value (negative, non-numeric, out of range, unknown key)."""


class RefusedError(MinfreeError):
    """A change refused by a safety rule; the message names the rule and the override."""
