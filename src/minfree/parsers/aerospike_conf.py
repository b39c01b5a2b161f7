"""aerospike.conf -> the numbers Aerospike's min_free_kbytes check uses.

Aerospike's server checks at startup that ``vm.min_free_kbytes`` is at least its largest
single arena allocation plus 100 MiB (aerospike-server ``cf/src/os.c``
``check_min_free_kbytes``). That allocation is the largest ``index-stage-size`` of a
namespace whose primary index lives in RAM (``index-type`` undefined/``memory`` or
``shmem``; ``flash`` and ``pmem`` indexes do not count), or the largest
``sindex-stage-size`` (``as/src/base/cfg.c``). Both default to 1 GiB
(``as/src/base/namespace.c``), hence the documented 1,150,976 kB.

The format: whitespace-separated ``name value`` lines, ``#`` comments, contexts opened by
``name [arg] {`` and closed by ``}``; sizes with an optional K/M/G/T suffix (powers of 1024).

    >>> conf = parse_aerospike_conf('''
    ... namespace users {
    ...     index-type shmem
    ...     index-stage-size 2G   # big index
    ...     storage-engine memory
    ... }
    ... namespace logs {
    ...     index-type flash {
    ...         mount /mnt/idx
    ...     }
    ...     index-stage-size 4G
    ... }''')
    >>> [(n.name, n.index_type, n.index_stage_size_bytes) for n in conf.namespaces]
    [('users', 'shmem', 2147483648), ('logs', 'flash', 4294967296)]
    >>> conf.max_stage_size_bytes, conf.max_stage_from
    (2147483648, 'namespace users index-stage-size 2G')
"""

from __future__ import annotations

import re

from minfree.errors import ParseError
from minfree.model.aerospike_conf import AerospikeConf, AerospikeNamespace

_SIZE = re.compile(r"^(\d+)([KMGTkmgt]?)$")
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
#: Refuse absurdly large inputs rather than spend time on them (a real file is a few kB).
MAX_CONF_CHARS = 4 * 1024 * 1024


def parse_size(text: str) -> int | None:
    """``4G`` -> 4294967296; None when not a size.

    >>> parse_size("512M"), parse_size("1073741824"), parse_size("big")
    (536870912, 1073741824, None)
    """
    match = _SIZE.match(text.strip())
    if not match:
        return None
    return int(match.group(1)) * _UNITS[match.group(2).upper()]


def parse_aerospike_conf(text: str, source: str = "aerospike.conf") -> AerospikeConf:
    """Parse the namespace contexts of an aerospike.conf text.

    Raises :class:`ParseError` (file and line) for unbalanced braces or a stage size that is
    not a size: guessing would silently give the wrong reserve.
    """
    if len(text) > MAX_CONF_CHARS:
        raise ParseError(f"aerospike.conf larger than {MAX_CONF_CHARS} characters",
                         source=source)
    stack: list[str] = []
    namespaces: list[AerospikeNamespace] = []
    current: dict[str, object] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        tokens = line.split()
        opens = tokens[-1] == "{" or tokens[-1].endswith("{")
        if opens:
            head = " ".join(tokens).rstrip("{").split()
            context = head[0] if head else ""
            if not stack and context == "namespace":
                if len(head) < 2:
                    raise ParseError("namespace without a name", source=source, line=number)
                current = {"name": head[1], "line": number, "index_type": "undefined",
                           "sindex_type": "undefined"}
            elif current is not None and len(stack) == 1 and context in (
                    "index-type", "sindex-type") and len(head) >= 2:
                current[context.replace("-", "_")] = head[1]
            stack.append(context)
            continue
        if tokens[0] == "}":
            if not stack:
                raise ParseError("'}' without an open context", source=source, line=number)
            closed = stack.pop()
            if not stack and closed == "namespace" and current is not None:
                namespaces.append(_namespace(current))
                current = None
            continue
        if current is None or len(stack) != 1:
            continue
        name, value = tokens[0], (tokens[1] if len(tokens) > 1 else "")
        if name in ("index-type", "sindex-type"):
            current[name.replace("-", "_")] = value
        elif name in ("index-stage-size", "sindex-stage-size"):
            size = parse_size(value)
            if size is None:
                raise ParseError(f"{name} {value!r} is not a size", source=source, line=number)
            key = name.replace("-", "_")
            current[key] = size
            current[key + "_text"] = value
    if stack:
        raise ParseError(f"unclosed context {stack[-1]!r} at end of file", source=source)
    return AerospikeConf(tuple(namespaces), source)


def _namespace(values: dict[str, object]) -> AerospikeNamespace:
    def opt_int(key: str) -> int | None:
        value = values.get(key)
        return value if isinstance(value, int) else None

    def opt_str(key: str) -> str | None:
        value = values.get(key)
        return value if isinstance(value, str) else None

    return AerospikeNamespace(
        name=str(values["name"]),
        index_type=str(values.get("index_type", "undefined")),
        index_stage_size_bytes=opt_int("index_stage_size"),
        index_stage_text=opt_str("index_stage_size_text"),
        sindex_type=str(values.get("sindex_type", "undefined")),
        sindex_stage_size_bytes=opt_int("sindex_stage_size"),
        sindex_stage_text=opt_str("sindex_stage_size_text"),
        line=int(values["line"]),  # type: ignore[arg-type]
    )
