"""sysctl.conf / sysctl.d syntax: text -> assignments with their line numbers.

Both readers of these files at boot, systemd-sysctl (``src/sysctl/sysctl.c``) and procps
``sysctl --system`` (``src/sysctl.c``), use the same line grammar, which this module follows:

- Leading and trailing white space is stripped; empty lines and lines whose first
  character is ``#`` or ``;`` are comments. A ``#`` *after* a value is **not** a comment:
  both tools pass ``10 # note`` to the kernel as the value, which the kernel rejects for an
  integer key. We keep the value as the tools do and report the line.
- ``key = value`` or ``key=value``: split at the first ``=``, both sides stripped.
- Keys use ``.`` or ``/`` as separator; when the first separator is ``/``, slashes and dots
  swap roles (``net/ipv4/conf/eth0.100/rp_filter``), see
  :func:`minfree.kernel.sysctl_catalog.normalize_key`.
- ``-key = value``: a failure to write the key is ignored (no error at boot).
- Keys may be globs (``net.ipv4.conf.*.rp_filter = 2``, systemd 240+, procps 4.0+); a bare
  ``-pattern`` line without ``=`` excludes matching keys from globs (systemd 249+).
- Any other line is ignored by both tools with a warning; we record it as a problem.

The parser never raises on content: garbage becomes :class:`ConfProblem` entries so that a
doctor run on a broken host still reports everything else. The result types live in
:mod:`minfree.model.sysctl_conf` (re-exported here).

    >>> conf = parse_sysctl_conf("# tuning\\nvm.min_free_kbytes = 65536\\n-vm/swappiness=10\\n",
    ...                          source="/etc/sysctl.d/60-db.conf")
    >>> [(a.key, a.value, a.line, a.ignore_failure) for a in conf.assignments]
    [('vm.min_free_kbytes', '65536', 2, False), ('vm.swappiness', '10', 3, True)]
"""

from __future__ import annotations

import re

from minfree.kernel.sysctl_catalog import normalize_key
from minfree.model.sysctl_conf import ConfProblem, SysctlAssignment, SysctlConf, SysctlExclusion

__all__ = [
    "ConfProblem",
    "SysctlAssignment",
    "SysctlConf",
    "SysctlExclusion",
    "is_glob",
    "parse_sysctl_conf",
    "setting_line_numbers",
]

_GLOB_CHARS = re.compile(r"[*?\[]")
# A key is dotted/slashed words; sysctl names contain letters, digits, '_', '-', and
# (interface names) '.', '/', ':', '@', '+'. Anything with whitespace is not a key.
_KEY_OK = re.compile(r"^[^\s=]+$")
_INLINE_COMMENT = re.compile(r"\s[#;]")


def is_glob(key: str) -> bool:
    """Whether a key is a pattern (``*``, ``?`` or ``[``), as systemd's ``string_is_glob``."""
    return bool(_GLOB_CHARS.search(key))


def parse_sysctl_conf(text: str, source: str = "<sysctl.conf>") -> SysctlConf:
    """Parse one file's text. Never raises on content; see the module docstring."""
    assignments: list[SysctlAssignment] = []
    exclusions: list[SysctlExclusion] = []
    problems: list[ConfProblem] = []
    # splitlines() would also split on \x0b, \x0c, \x1c..., which the C tools do not.
    for number, raw_line in enumerate(text.split("\n"), start=1):
        raw = raw_line.rstrip("\r")
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if "\x00" in line:
            problems.append(ConfProblem(source, number, "NUL byte in line (binary file?), ignored", raw))
            continue
        ignore_failure = False
        body = line
        if body.startswith("-"):
            ignore_failure = True
            body = body[1:].lstrip()
        if "=" not in body:
            if ignore_failure and body and _KEY_OK.match(body):
                pattern = normalize_key(body)
                exclusions.append(SysctlExclusion(pattern, number, source, is_glob(pattern)))
            else:
                problems.append(
                    ConfProblem(source, number, "not an assignment (no '='), ignored at boot", raw)
                )
            continue
        raw_key, value = (part.strip() for part in body.split("=", 1))
        if not raw_key or not _KEY_OK.match(raw_key):
            problems.append(ConfProblem(source, number, f"invalid key {raw_key!r}, ignored", raw))
            continue
        key = normalize_key(raw_key)
        if _INLINE_COMMENT.search(value):
            problems.append(
                ConfProblem(
                    source,
                    number,
                    "a '#' or ';' after the value is not a comment: systemd-sysctl and procps write "
                    "it to the kernel with the value (integer keys then depend on how the kernel "
                    "treats trailing text); put comments on their own line",
                    raw,
                )
            )
        if value == "":
            problems.append(ConfProblem(source, number, "empty value", raw))
        assignments.append(
            SysctlAssignment(
                key=key,
                value=value,
                line=number,
                source=source,
                raw=raw,
                raw_key=raw_key,
                ignore_failure=ignore_failure,
                is_glob=is_glob(key),
            )
        )
    return SysctlConf(source, tuple(assignments), tuple(exclusions), tuple(problems))


def setting_line_numbers(text: str, key: str) -> list[int]:
    """Line numbers (1-based) of every exact assignment of ``key`` in ``text``.

    Used by ``apply`` to comment out earlier settings of a key it is about to set.
    """
    return [a.line for a in parse_sysctl_conf(text).lines_setting(normalize_key(key))]
