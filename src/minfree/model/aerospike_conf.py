"""aerospike.conf as the reserve sizing needs it: namespaces with their index stage sizes.

Parsed by :func:`minfree.parsers.aerospike_conf.parse_aerospike_conf` (the format and the
Aerospike sources the rules come from are described there).
"""

from __future__ import annotations

from dataclasses import dataclass

GIB = 1 << 30
#: index-stage-size and sindex-stage-size default (as/src/base/namespace.c).
DEFAULT_STAGE_SIZE_BYTES = GIB
#: Index types whose arenas are in RAM (the check counts them).
IN_MEMORY_INDEX_TYPES = frozenset({"memory", "shmem", "undefined"})


@dataclass(frozen=True)
class AerospikeNamespace:
    """One namespace's index placement and stage sizes (bytes; None = not set: default)."""

    name: str
    index_type: str
    index_stage_size_bytes: int | None
    index_stage_text: str | None
    sindex_type: str
    sindex_stage_size_bytes: int | None
    sindex_stage_text: str | None
    line: int


@dataclass(frozen=True)
class AerospikeConf:
    """The parts of aerospike.conf that size the reserve."""

    namespaces: tuple[AerospikeNamespace, ...]
    source: str

    @property
    def max_stage_size_bytes(self) -> int:
        """The largest in-memory index stage or sindex stage (defaults applied)."""
        return self._max()[0]

    @property
    def max_stage_from(self) -> str:
        """Which setting gave :attr:`max_stage_size_bytes`, for the recommendation's reason."""
        return self._max()[1]

    def _max(self) -> tuple[int, str]:
        best = (0, "")
        for ns in self.namespaces:
            if ns.index_type in IN_MEMORY_INDEX_TYPES:
                size = ns.index_stage_size_bytes or DEFAULT_STAGE_SIZE_BYTES
                text = ns.index_stage_text or "1G (default)"
                if size > best[0]:
                    best = (size, f"namespace {ns.name} index-stage-size {text}")
            if ns.sindex_type in IN_MEMORY_INDEX_TYPES:
                size = ns.sindex_stage_size_bytes or DEFAULT_STAGE_SIZE_BYTES
                text = ns.sindex_stage_text or "1G (default)"
                if size > best[0]:
                    best = (size, f"namespace {ns.name} sindex-stage-size {text}")
        if best[0] == 0:
            return DEFAULT_STAGE_SIZE_BYTES, "no in-memory index configured: default 1G"
        return best
