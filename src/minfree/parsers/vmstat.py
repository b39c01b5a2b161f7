"""Parse ``/proc/vmstat`` (and ``sys/devices/system/node/nodeN/vmstat``): ``name value`` lines.

Every name is kept, known or not; :class:`~minfree.model.vmstat.VmStat` folds the era names.

>>> parse_vmstat("nr_free_pages 5\\ncompact_stall 2").compact_stall
2
"""

from __future__ import annotations

import re

from minfree.errors import ParseError
from minfree.model.vmstat import VmStat
from minfree.parsers._text import is_int, require_text, to_int

_LINE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s+(\S+)", re.ASCII)


def parse_vmstat(text: str, source: str = "/proc/vmstat") -> VmStat:
    """Parse vmstat text; a repeated name or a non-integer value is a ParseError."""
    require_text(text, source=source)
    counters: dict[str, int] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if is_int(line):
            # RHEL 8 4.18 kernels print one node counter without its name (the name table
            # is one entry short): keep the value under a placeholder.
            counters[f"(unnamed {len(counters)})"] = int(line)
            continue
        match = _LINE.fullmatch(line)
        if not match:
            raise ParseError(
                f"expected 'name value', got {line[:60]!r}", source=source, line=lineno
            )
        name = match.group(1)
        if name in counters:
            raise ParseError(f"counter {name} appears twice", source=source, line=lineno)
        counters[name] = to_int(match.group(2), source=source, line=lineno, what=name)
    return VmStat(counters=counters)
