"""One host's memory state at one moment, as read from a root: :class:`HostSnapshot`.

Built by :func:`minfree.sources.snapshot.read_snapshot`; everything the analyses need about a
host (zones with their watermarks and free lists, counters, sysctls, THP mode, NUMA nodes,
network interfaces), plus what could not be read (:attr:`HostSnapshot.missing`) and how
uncertain values were obtained (:attr:`HostSnapshot.notes`), so that every report can say
what it could not check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from minfree.model.buddyinfo import BuddyInfo
from minfree.model.meminfo import MemInfo
from minfree.model.pagetypeinfo import PageTypeInfo
from minfree.model.vmstat import VmStat
from minfree.model.zone import Zone
from minfree.model.zoneinfo import ZoneInfo

if TYPE_CHECKING:  # model stays free of runtime imports from other layers
    from minfree.model.release import KernelRelease


@dataclass(frozen=True)
class Missing:
    """A file a reader wanted but could not use, and why.

    ``reason`` is ``"absent"``, ``"permission"``, ``"unparseable: <message>"`` or a short
    description (``"is a directory"``, ``"not a regular file (fifo)"``, ``"read error: ..."``).
    """

    path: str
    reason: str


@dataclass(frozen=True)
class NetInterface:
    """A network interface from ``/sys/class/net`` (sizing input for RX buffer bursts).

    ``speed_mbps`` is None when the link is down or virtual (the kernel returns EINVAL or
    -1). Ring sizes come from a sosreport's ``ethtool -g`` output when it is there.
    """

    name: str
    mtu: int | None = None
    speed_mbps: int | None = None
    rx_queues: int | None = None
    tx_queues: int | None = None
    driver: str | None = None
    operstate: str | None = None
    rx_ring_current: int | None = None
    rx_ring_max: int | None = None
    tx_ring_current: int | None = None
    tx_ring_max: int | None = None

    @property
    def is_loopback(self) -> bool:
        return self.name == "lo"


@dataclass(frozen=True)
class HostSnapshot:
    """Everything read from one root. Units are in the names; None means unknown.

    ``sysctl`` maps dotted keys (``vm.min_free_kbytes``) to normalised runtime values (blank
    runs collapsed to one space). ``zones`` merges zoneinfo with buddyinfo/pagetypeinfo;
    ``zoneinfo`` is the full parse. ``page_size_source`` / ``pageblock_order_source`` /
    ``release_source`` say where each value came from ("os.sysconf", "pagetypeinfo",
    "default: ...").
    """

    label: str
    is_live: bool
    page_size_bytes: int
    page_size_source: str
    release: KernelRelease | None = None
    release_source: str | None = None
    meminfo: MemInfo | None = None
    node_meminfo: Mapping[int, MemInfo] = field(default_factory=dict)
    zoneinfo: ZoneInfo | None = None
    zones: tuple[Zone, ...] = ()
    buddyinfo: BuddyInfo | None = None
    pagetypeinfo: PageTypeInfo | None = None
    vmstat: VmStat | None = None
    sysctl: Mapping[str, str] = field(default_factory=dict)
    sysctl_source: str | None = None
    thp_enabled: str | None = None
    thp_defrag: str | None = None
    numa_nodes: tuple[int, ...] = ()
    interfaces: tuple[NetInterface, ...] = ()
    pageblock_order: int | None = None
    pageblock_order_source: str | None = None
    missing: tuple[Missing, ...] = ()
    notes: tuple[str, ...] = ()

    def sysctl_int(self, key: str) -> int | None:
        """A single-integer sysctl (``vm.min_free_kbytes``), or None when absent/not one int."""
        value = self.sysctl.get(key)
        if value is None:
            return None
        try:
            return int(value.strip())
        except ValueError:
            return None

    def sysctl_ints(self, key: str) -> tuple[int, ...] | None:
        """A vector sysctl (``vm.lowmem_reserve_ratio``) as integers, or None."""
        value = self.sysctl.get(key)
        if value is None:
            return None
        try:
            return tuple(int(v) for v in value.split())
        except ValueError:
            return None

    @property
    def min_free_kbytes(self) -> int | None:
        return self.sysctl_int("vm.min_free_kbytes")

    @property
    def watermark_scale_factor(self) -> int | None:
        """None before 4.6 (the knob did not exist) or when not captured."""
        return self.sysctl_int("vm.watermark_scale_factor")

    @property
    def watermark_boost_factor(self) -> int | None:
        return self.sysctl_int("vm.watermark_boost_factor")

    @property
    def lowmem_reserve_ratio(self) -> tuple[int, ...] | None:
        return self.sysctl_ints("vm.lowmem_reserve_ratio")

    @property
    def pages_per_block(self) -> int | None:
        return None if self.pageblock_order is None else 1 << self.pageblock_order

    @property
    def page_size_kb(self) -> int:
        return self.page_size_bytes // 1024

    def why_missing(self, path: str) -> str | None:
        """The recorded reason a path could not be used, or None if it was not missing."""
        for item in self.missing:
            if item.path == path:
                return item.reason
        return None
