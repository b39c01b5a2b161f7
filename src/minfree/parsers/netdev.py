"""Network interface details that are text formats: ``ethtool -g`` ring sizes.

The sysfs attributes (``mtu``, ``speed``) are single integers read by the snapshot; this
module parses the one multi-line format, ``ethtool -g IFACE`` as sosreport saves it under
``sos_commands/networking/ethtool_-g_IFACE``::

    Ring parameters for eth0:
    Pre-set maximums:
    RX:             4096
    RX Mini:        n/a
    RX Jumbo:       0
    TX:             4096
    Current hardware settings:
    RX:             512
    ...

>>> r = parse_ethtool_ring("Ring parameters for eth0:\\nPre-set maximums:\\nRX:\\t4096\\n"
...                        "TX:\\t4096\\nCurrent hardware settings:\\nRX:\\t512\\nTX:\\t1024\\n")
>>> (r.interface, r.rx_max, r.rx_current, r.tx_current)
('eth0', 4096, 512, 1024)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from minfree.errors import ParseError
from minfree.parsers._text import is_int, require_text

_HEADER = re.compile(r"Ring parameters for (\S+?):?", re.ASCII)
_FIELD = re.compile(r"([A-Za-z][A-Za-z0-9 ]*?):\s*(\S*)", re.ASCII)


@dataclass(frozen=True)
class EthtoolRing:
    """Ring sizes; ``maximums``/``current`` keep every printed row (``RX Jumbo``, ``TCP data
    split`` ...) with None for ``n/a``."""

    interface: str | None
    maximums: Mapping[str, int | None] = field(default_factory=dict)
    current: Mapping[str, int | None] = field(default_factory=dict)

    @property
    def rx_max(self) -> int | None:
        return self.maximums.get("RX")

    @property
    def tx_max(self) -> int | None:
        return self.maximums.get("TX")

    @property
    def rx_current(self) -> int | None:
        return self.current.get("RX")

    @property
    def tx_current(self) -> int | None:
        return self.current.get("TX")


def parse_ethtool_ring(text: str, source: str = "ethtool -g") -> EthtoolRing:
    """Parse ``ethtool -g`` output. Unknown rows are kept; non-numeric values become None."""
    require_text(text, source=source)
    interface: str | None = None
    section: dict[str, int | None] | None = None
    maximums: dict[str, int | None] = {}
    current: dict[str, int | None] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if m := _HEADER.fullmatch(line):
            interface = m.group(1)
            continue
        if line.lower().startswith("pre-set maximums"):
            section = maximums
            continue
        if line.lower().startswith("current hardware settings"):
            section = current
            continue
        m = _FIELD.fullmatch(line)
        if m and section is not None:
            value = m.group(2)
            section[m.group(1)] = int(value) if is_int(value) else None
            continue
        raise ParseError(f"unrecognised line {line[:60]!r}", source=source, line=lineno)
    if not maximums and not current:
        raise ParseError("no ring parameters found", source=source)
    return EthtoolRing(interface=interface, maximums=maximums, current=current)
