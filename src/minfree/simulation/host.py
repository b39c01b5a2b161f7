"""The simulated machine: its zones (managed pages per node and zone), kernel release and NICs.

A host comes from a preset (``64g-1node``, ``256g-2node``) or from a snapshot of a real host
or bundle (:func:`host_from_snapshot`). Only the *shape* is taken from a real host (managed
pages, zone indices, release, interfaces); free memory, watermarks and free lists are
produced by the simulation from the chosen reserve.

Preset zone sizes are those of typical x86_64 servers: DMA 3840 managed pages, DMA32 about
3 GiB (the 32-bit window minus the PCI hole), the rest in Normal, a few hundred MiB of the
node's memory reserved by firmware and the kernel.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from minfree.errors import UsageError
from minfree.kernel.min_free import thp_mode
from minfree.model.zone import Zone


@dataclass(frozen=True)
class SimZone:
    """One zone as the simulator sees it: where it sits and how many pages the buddy owns."""

    node: int
    name: str
    index: int
    managed_pages: int


@dataclass(frozen=True)
class SimInterface:
    """A network interface: the MTU decides the receive buffer order."""

    name: str
    mtu_bytes: int
    speed_mbps: int | None = None
    rx_queues: int | None = None


@dataclass(frozen=True)
class SimHost:
    """The machine a scenario runs on."""

    label: str
    zones: tuple[SimZone, ...]
    release: str = "5.15.0"
    page_size_bytes: int = 4096
    thp_enabled: str = "never"
    interfaces: tuple[SimInterface, ...] = ()
    #: the value the host runs with now (None: the kernel default is used)
    current_min_free_kbytes: int | None = None
    watermark_scale_factor: int = 10
    watermark_boost_factor: int = 15000
    lowmem_reserve_ratio: tuple[int, ...] = (256, 256, 32, 0, 0)
    pageblock_order: int = 9
    cpus: int = 32
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def nodes(self) -> tuple[int, ...]:
        return tuple(sorted({z.node for z in self.zones}))

    @property
    def managed_pages(self) -> int:
        return sum(z.managed_pages for z in self.zones)

    @property
    def managed_bytes(self) -> int:
        return self.managed_pages * self.page_size_bytes

    def as_model_zones(self) -> tuple[Zone, ...]:
        """:class:`Zone` values (all free, watermarks unset) for the kernel formulas."""
        return tuple(
            Zone(node=z.node, name=z.name, index=z.index, free_pages=z.managed_pages,
                 min_pages=0, low_pages=0, high_pages=0, managed_pages=z.managed_pages,
                 present_pages=z.managed_pages, spanned_pages=z.managed_pages)
            for z in self.zones
        )


def _node(node: int, total_gib: int, low: bool) -> list[SimZone]:
    """Zones of one node of ``total_gib`` GiB; ``low`` = the node that holds DMA/DMA32."""
    total = total_gib * 262144
    reserved = 65536 + total // 256  # firmware, kernel image, struct page array
    if low:
        dma, dma32 = 3840, 765_000
        normal = total - 1_048_576 - reserved
        return [SimZone(node, "DMA", 0, dma), SimZone(node, "DMA32", 1, dma32),
                SimZone(node, "Normal", 2, normal), SimZone(node, "Movable", 3, 0)]
    return [SimZone(node, "DMA", 0, 0), SimZone(node, "DMA32", 1, 0),
            SimZone(node, "Normal", 2, total - reserved), SimZone(node, "Movable", 3, 0)]


PRESETS: dict[str, SimHost] = {
    "64g-1node": SimHost(
        label="preset 64g-1node",
        zones=tuple(_node(0, 64, True)),
        interfaces=(SimInterface("bond0", 1500, 20000, 16),),
        cpus=32,
        notes=("64 GiB, one NUMA node, bonded 2x10 GbE, THP off (database vendor guidance)",),
    ),
    "256g-2node": SimHost(
        label="preset 256g-2node",
        zones=tuple(_node(0, 128, True) + _node(1, 128, False)),
        interfaces=(SimInterface("bond0", 1500, 50000, 32),),
        cpus=64,
        notes=("256 GiB, two NUMA nodes of 128 GiB, bonded 2x25 GbE, THP off",),
    ),
}


def preset_host(name: str) -> SimHost:
    try:
        return PRESETS[name]
    except KeyError:
        raise UsageError(
            f"unknown host preset {name!r}; known: {', '.join(sorted(PRESETS))}, "
            "'live', or a path to a directory or bundle") from None


def host_from_snapshot(snapshot, label: str = "snapshot") -> SimHost:
    """Shape of a real host (``minfree.model.host.HostSnapshot``) for the simulator.

    Uses each zone's managed pages (what the buddy allocator owns; present/spanned include
    holes and memmap), the release, THP mode, page size, interfaces and the vm sysctls."""
    zones = []
    for zone in snapshot.zones:
        managed = zone.managed_pages if zone.managed_pages is not None else zone.present_pages
        zones.append(SimZone(zone.node, zone.name, zone.index, int(managed or 0)))
    if not any(z.managed_pages for z in zones):
        raise UsageError(f"{label}: no zone with managed pages (is /proc/zoneinfo missing?)")
    interfaces = []
    for nic in getattr(snapshot, "interfaces", ()) or ():
        mtu = getattr(nic, "mtu", None) or getattr(nic, "mtu_bytes", None)
        if mtu:
            interfaces.append(SimInterface(nic.name, int(mtu), getattr(nic, "speed_mbps", None),
                                           getattr(nic, "rx_queues", None)))
    notes: tuple[str, ...] = ()
    if getattr(snapshot, "release", None):
        release = snapshot.release.text
    else:
        release = "5.15.0"
        notes = ("kernel release unknown: 5.15 behaviour assumed",)
    return SimHost(
        label=label,
        zones=tuple(zones),
        release=release,
        page_size_bytes=int(getattr(snapshot, "page_size_bytes", 4096) or 4096),
        thp_enabled=thp_mode(getattr(snapshot, "thp_enabled", None)) or "never",
        interfaces=tuple(interfaces),
        current_min_free_kbytes=snapshot.min_free_kbytes,
        watermark_scale_factor=snapshot.watermark_scale_factor or 10,
        watermark_boost_factor=(15000 if snapshot.watermark_boost_factor is None
                                else snapshot.watermark_boost_factor),
        lowmem_reserve_ratio=snapshot.lowmem_reserve_ratio or (256, 256, 32, 0, 0),
        pageblock_order=int(getattr(snapshot, "pageblock_order", None) or 9),
        notes=notes,
    )
