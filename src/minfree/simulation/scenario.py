"""Scenario files: the workload a simulation replays, in TOML with units in the key names.

A scenario names its actors (application memory, page cache, network receive, TCP accept
bursts) and the reclaim machinery's rates. Every key carries its unit (``_mib_per_s``,
``_ms``, ``_pps``, ``_bytes``); unknown keys are errors, so a typo cannot silently fall
back to a default. The format is documented in ``docs/simulation.md``; the shipped
scenarios are in ``simulation/scenarios/`` and each says where its numbers come from.

    >>> s = parse_scenario('''
    ... [scenario]
    ... name = "tiny"
    ... [page_cache]
    ... read_mib_per_s = 100
    ... working_set_gib = 200
    ... ''', source="inline")
    >>> s.name, s.page_cache.read_mib_per_s, s.network_rx
    ('tiny', 100.0, ())
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

from minfree.errors import ParseError, SourceError, UsageError

#: Bytes a receive buffer needs beyond the MTU: Ethernet header + VLAN tag (18), NET_SKB_PAD
#: headroom (64) and the skb_shared_info tail (320 on x86_64), as __netdev_alloc_skb /
#: build_skb size a linear buffer.
RX_BUFFER_OVERHEAD_BYTES = 18 + 64 + 320


def order_for_mtu(mtu_bytes: int, page_size_bytes: int = 4096) -> int:
    """Buddy order of a linear receive buffer for this MTU (1500 -> 0, 9000 -> 2).

    >>> order_for_mtu(1500), order_for_mtu(4000), order_for_mtu(9000)
    (0, 1, 2)
    """
    pages = -(-(mtu_bytes + RX_BUFFER_OVERHEAD_BYTES) // page_size_bytes)
    order = 0
    while (1 << order) < pages:
        order += 1
    return order


@dataclass(frozen=True)
class AppMemory:
    """Anonymous memory of the application (no swap: never reclaimed)."""

    resident_gib: float = 0.0
    #: alternatively, a share of managed memory (used when resident_gib is 0)
    resident_fraction: float = 0.0
    growth_mib_per_s: float = 0.0


@dataclass(frozen=True)
class PageCache:
    """File reads and writes over a working set; misses allocate order-0 movable pages."""

    read_mib_per_s: float = 0.0
    write_mib_per_s: float = 0.0
    working_set_gib: float = 0.0
    #: start with the cache filling memory down to this many MiB above each zone's high
    #: watermark (steady state); negative: start with an empty cache
    initial_free_above_high_mib: float = 64.0
    #: long-lived unmovable pages (slab, page tables) interleaved with the initial fill, one
    #: per this many cache pages (0 = none): the source of an old, fragmented cache
    initial_pin_every_pages: int = 0
    #: the cache once filled the whole zone and was reclaimed back (a host up for months):
    #: free memory then starts as fragmented as the pins make it
    initial_fill_whole_zone: bool = False
    #: reader threads: a direct-reclaim stall holds back one of them, not all
    readers: int = 4


@dataclass(frozen=True)
class NetworkRx:
    """Receive traffic of one interface: bursts of packets, each a buffer held a while."""

    name: str = "eth0"
    mtu_bytes: int = 1500
    base_pps: float = 0.0
    burst_pps: float = 0.0
    burst_duration_ms: float = 0.0
    burst_interval_ms: float = 1000.0
    #: burst start times vary uniformly by this share of the interval (seeded)
    burst_jitter_fraction: float = 0.5
    lifetime_ms: float = 10.0
    rx_queues: int = 8
    napi_budget: int = 64
    coalesce_us: float = 50.0
    ring_entries: int = 4096
    gfp: str = "GFP_ATOMIC"
    nowarn: bool = False
    #: buffer order; -1 = from the MTU (order_for_mtu)
    order: int = -1
    node: int = 0


@dataclass(frozen=True)
class TcpAccept:
    """Connection storms: each new socket's slab objects come from order-N slab pages."""

    burst_connections: int = 0
    burst_duration_ms: float = 100.0
    burst_interval_ms: float = 2000.0
    burst_jitter_fraction: float = 0.5
    base_connections_per_s: float = 0.0
    objects_per_slab: int = 3
    slab_order: int = 1
    lifetime_ms: float = 5000.0
    gfp: str = "GFP_ATOMIC"
    nowarn: bool = False
    node: int = 0


@dataclass(frozen=True)
class Reclaim:
    """Rates of the reclaim machinery (pages freed per second of work)."""

    #: kswapd's reclaim rate; default measured on the reference host (docs/simulation.md)
    kswapd_mib_per_s: float = 1500.0
    #: a direct reclaimer's rate while it stalls: one 32-page batch per ~1 ms stall
    direct_mib_per_s: float = 125.0
    #: pages per direct reclaim attempt; 0 = as global direct reclaim at DEF_PRIORITY
    #: does it: the LRU size >> 12 (proportional reclaim), at least SWAP_CLUSTER_MAX (32)
    direct_batch_pages: int = 0
    #: model watermark boost (5.0+). The kernel boosts on migratetype fallbacks below
    #: pageblock order: so does the exact engine with [migratetypes] on; without them the
    #: stand-in event is an unmovable (atomic) allocation splitting a block of pageblock
    #: order or more. Off by default: it makes results hinge on free-list detail that only
    #: the exact engine keeps.
    watermark_boost: bool = False


@dataclass(frozen=True)
class Compaction:
    """kcompactd, the background compaction daemon (one per node), for order > 0.

    Off by default so that the shipped results do not depend on it unless a scenario asks.
    When on, kcompactd is woken as ``wakeup_kcompactd()`` is: when kswapd goes to sleep after
    a wake that asked for order > 0, and (``wake_on_high_order_failure``) when an order > 0
    atomic allocation fails. It migrates movable pages (page cache, anonymous growth) from the
    bottom of a zone into free pages near its top, so that free buddies can merge, until a
    free block of the wanted order exists or the zone is not suitable for compaction."""

    enabled: bool = False
    #: how fast the migrate scanner advances: pages examined per second (a free or
    #: unmovable block skipped whole counts as one), migrations included. Illustrative
    #: default: ~100 k pages/s, about 400 MiB/s of 4 KiB page copies and remaps.
    scan_rate_pages_per_s: float = 100000.0
    #: wake kcompactd when an order > 0 atomic allocation fails (the kernel does so from
    #: wakeup_kswapd() for non-blocking callers when the node is balanced for order 0)
    wake_on_high_order_failure: bool = True
    #: vm.extfrag_threshold: for order > 3 a zone whose fragmentation index is in
    #: [0, this] is not compacted (the failure would be for lack of memory)
    extfrag_threshold: int = 500


@dataclass(frozen=True)
class Migratetypes:
    """Mobility grouping in the exact engine: free lists per migratetype, pageblocks that
    change type when an allocation falls back to another type's lists and claims them, and
    the highatomic reserve (4.4+) that atomic order > 0 allocations use and make, given back
    when direct reclaim cannot satisfy a blocking allocation. As mm/page_alloc.c of v6.1
    (the rules of 4.13 to 6.9), without per-CPU lists and ALLOC_NOFRAGMENT.

    Off by default so that the shipped results stay comparable with the fast engine, which
    keeps free-block counts only; docs/simulation.md compares the shipped scenarios with it
    on. With it on, watermark boost (``[reclaim] watermark_boost``) is triggered by real
    fallbacks instead of the stand-in event."""

    enabled: bool = False


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str = ""
    host: str = "64g-1node"
    duration_s: float = 60.0
    tick_ms: float = 1.0
    #: the context written into --emit-log call traces: "network-rx" or "tcp-accept"
    comm: str = "swapper/0"
    sources: tuple[str, ...] = ()
    app: AppMemory = field(default_factory=AppMemory)
    page_cache: PageCache = field(default_factory=PageCache)
    network_rx: tuple[NetworkRx, ...] = ()
    tcp_accept: tuple[TcpAccept, ...] = ()
    reclaim: Reclaim = field(default_factory=Reclaim)
    compaction: Compaction = field(default_factory=Compaction)
    migratetypes: Migratetypes = field(default_factory=Migratetypes)


_SECTIONS = {"app": AppMemory, "page_cache": PageCache, "reclaim": Reclaim,
             "compaction": Compaction, "migratetypes": Migratetypes}
_LISTS = {"network_rx": NetworkRx, "tcp_accept": TcpAccept}


def _build(cls, table: Any, where: str, source: str):
    if not isinstance(table, dict):
        raise ParseError(f"[{where}] must be a table", source=source)
    known = {f.name: f for f in fields(cls)}
    values = {}
    for key, value in table.items():
        if key not in known:
            raise ParseError(f"[{where}] unknown key {key!r} (known: {', '.join(known)})",
                             source=source)
        default = getattr(cls(), key) if cls is not Scenario else None
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ParseError(f"[{where}] {key} must be true or false", source=source)
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ParseError(f"[{where}] {key} must be an integer", source=source)
        elif isinstance(default, float):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ParseError(f"[{where}] {key} must be a number", source=source)
            value = float(value)
            if key != "initial_free_above_high_mib" and value < 0:
                raise ParseError(f"[{where}] {key} must not be negative", source=source)
        elif isinstance(default, str) and not isinstance(value, str):
            raise ParseError(f"[{where}] {key} must be a string", source=source)
        if isinstance(value, int) and not isinstance(value, bool) and value < 0 and key != "order":
            raise ParseError(f"[{where}] {key} must not be negative", source=source)
        values[key] = value
    return cls(**values)


def parse_scenario(text: str, source: str = "scenario") -> Scenario:
    """Parse scenario TOML text (see the module docstring); raises ParseError on bad input."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ParseError(f"not valid TOML: {error}", source=source) from None
    head = data.pop("scenario", None)
    if not isinstance(head, dict) or not isinstance(head.get("name"), str):
        raise ParseError("missing [scenario] table with a name", source=source)
    kwargs: dict[str, Any] = {}
    for key, value in head.items():
        if key == "name" or key == "description" or key == "host" or key == "comm":
            if not isinstance(value, str):
                raise ParseError(f"[scenario] {key} must be a string", source=source)
            kwargs[key] = value
        elif key in ("duration_s", "tick_ms"):
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ParseError(f"[scenario] {key} must be a positive number", source=source)
            kwargs[key] = float(value)
        elif key == "sources":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ParseError("[scenario] sources must be a list of strings", source=source)
            kwargs[key] = tuple(value)
        else:
            raise ParseError(f"[scenario] unknown key {key!r}", source=source)
    for key, value in data.items():
        if key in _SECTIONS:
            kwargs[key] = _build(_SECTIONS[key], value, key, source)
        elif key in _LISTS:
            if not isinstance(value, list):
                raise ParseError(f"use [[{key}]] (an array of tables)", source=source)
            kwargs[key] = tuple(_build(_LISTS[key], item, key, source) for item in value)
        else:
            raise ParseError(f"unknown table [{key}]", source=source)
    scenario = Scenario(**kwargs)
    if scenario.compaction.extfrag_threshold > 1000:
        raise ParseError("[compaction] extfrag_threshold must be 0-1000", source=source)
    if scenario.tick_ms > 100:
        raise ParseError("[scenario] tick_ms must be at most 100", source=source)
    if scenario.duration_s / (scenario.tick_ms / 1000) > 50_000_000:
        raise ParseError("[scenario] duration_s / tick_ms is too many steps", source=source)
    return scenario


def shipped_scenarios() -> list[str]:
    """Names of the scenarios that ship with minfree."""
    folder = resources.files("minfree.simulation") / "scenarios"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_scenario(name_or_path: str) -> Scenario:
    """A shipped scenario by name, or a TOML file by path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise SourceError(f"{name_or_path}: cannot read scenario: {error.strerror}") from None
        except UnicodeDecodeError:
            raise ParseError("not UTF-8 text", source=str(path)) from None
        return parse_scenario(text, source=str(path))
    folder = resources.files("minfree.simulation") / "scenarios"
    candidate = folder / f"{name_or_path}.toml"
    if not candidate.is_file():
        raise UsageError(f"unknown scenario {name_or_path!r}; shipped: "
                         f"{', '.join(shipped_scenarios())} (or give a .toml file)")
    return parse_scenario(candidate.read_text(encoding="utf-8"), source=name_or_path)
