"""The atomic-burst model: how much memory every RX ring of every interface takes at once.

When a NIC's interrupt (or NAPI poll) refills its receive rings it allocates from softirq
context, which cannot sleep (GFP_ATOMIC). In the worst case all rings of all queues are
refilled together (a burst after a link flap, a bond failover, an interface coming up):
``queues x ring size x buffer size``. Atomic callers may dip to 3/8 of a zone's min
watermark (ALLOC_HIGH halves it, ALLOC_HARDER takes another quarter: kernel-facts §3.3), so
the 5/8 of min that only they may use must hold the burst: ``min >= 8/5 x burst``.

Ring sizes come from ``ethtool -g`` when the bundle has it; otherwise from the driver's
documented default (the constant named below, read in the driver source). Buffer sizes
follow the skb allocation for the MTU: data + headroom + ``skb_shared_info``, rounded up to
the power of two the page-fragment/kmalloc allocator hands out.

    >>> rx_buffer_bytes(1500), rx_buffer_bytes(9000)
    (2048, 16384)
    >>> burst = rx_burst([NicRing("eth0", "ixgbe", 1500, 8, 512, "ethtool -g")])
    >>> burst.total_bytes // 1024
    8192
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from minfree.analysis.diagnosis import NicInfo

#: Ethernet header + VLAN tag + FCS (bytes).
_ETH_OVERHEAD = 14 + 4 + 4
#: NET_SKB_PAD (64 on x86_64, include/linux/skbuff.h) + NET_IP_ALIGN (2 on most arches).
_SKB_HEADROOM = 64 + 2
#: SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) on x86_64: 320 bytes (5.x-6.x).
_SHARED_INFO = 320
#: Drivers never use less than a half page per buffer (2 KiB "RXBUFFER_2K" in Intel drivers).
_MIN_BUFFER = 2048

#: Default RX ring size per driver, from the driver source (constant named), used only when
#: ``ethtool -g`` was not captured.
DRIVER_DEFAULT_RX_RING: dict[str, tuple[int, str]] = {
    "ixgbe": (512, "drivers/net/ethernet/intel/ixgbe/ixgbe.h IXGBE_DEFAULT_RXD"),
    "ixgbevf": (1024, "drivers/net/ethernet/intel/ixgbevf/ixgbevf.h IXGBEVF_DEFAULT_RXD"),
    "i40e": (512, "drivers/net/ethernet/intel/i40e/i40e.h I40E_DEFAULT_NUM_DESCRIPTORS"),
    "iavf": (512, "drivers/net/ethernet/intel/iavf/iavf.h IAVF_DEFAULT_RXD"),
    "ice": (2048, "drivers/net/ethernet/intel/ice/ice.h ICE_DFLT_NUM_RX_DESC"),
    "igb": (256, "drivers/net/ethernet/intel/igb/igb.h IGB_DEFAULT_RXD"),
    "e1000e": (256, "drivers/net/ethernet/intel/e1000e/e1000.h E1000_DEFAULT_RXD"),
    "e1000": (256, "drivers/net/ethernet/intel/e1000/e1000.h E1000_DEFAULT_RXD"),
    "mlx5_core": (1024, "drivers/net/ethernet/mellanox/mlx5/core/en.h "
                        "MLX5E_PARAMS_DEFAULT_LOG_RQ_SIZE (2^10)"),
    "mlx4_en": (1024, "drivers/net/ethernet/mellanox/mlx4/mlx4_en.h MLX4_EN_DEF_RX_RING_SIZE"),
    "bnxt_en": (511, "drivers/net/ethernet/broadcom/bnxt/bnxt.h BNXT_DEFAULT_RX_RING_SIZE"),
    "ena": (1024, "drivers/net/ethernet/amazon/ena/ena_netdev.h ENA_DEFAULT_RING_SIZE"),
    "virtio_net": (256, "QEMU virtio-net default rx_queue_size (hw/net/virtio-net.c)"),
    "tg3": (200, "drivers/net/ethernet/broadcom/tg3.h TG3_DEF_RX_RING_PENDING"),
}
#: Used when the driver is unknown to the table above; flagged as an assumption.
FALLBACK_RX_RING = 512

#: Drivers of software interfaces: no RX ring of their own (their traffic is counted on the
#: physical ports under them).
VIRTUAL_DRIVERS = frozenset({
    "bonding", "bridge", "veth", "tun", "openvswitch", "dummy", "macvlan", "ipvlan",
    "vxlan", "team", "loopback",
})


@dataclass(frozen=True)
class NicRing:
    """One interface's RX rings as the model counts them."""

    name: str
    driver: str | None
    mtu: int
    queues: int
    ring: int
    ring_source: str

    @property
    def buffer_bytes(self) -> int:
        return rx_buffer_bytes(self.mtu)

    @property
    def bytes(self) -> int:
        return self.queues * self.ring * self.buffer_bytes


@dataclass(frozen=True)
class RxBurst:
    """Every RX ring of every counted interface refilled at once."""

    rings: tuple[NicRing, ...]
    assumptions: tuple[str, ...] = ()

    @property
    def total_bytes(self) -> int:
        return sum(r.bytes for r in self.rings)

    @property
    def total_kb(self) -> int:
        return -(-self.total_bytes // 1024)


def rx_buffer_bytes(mtu: int) -> int:
    """Bytes one RX buffer takes for ``mtu``: frame + headroom + shared info, power of two."""
    need = max(mtu, 68) + _ETH_OVERHEAD + _SKB_HEADROOM + _SHARED_INFO
    size = _MIN_BUFFER
    while size < need:
        size *= 2
    return size


def rings_from_interfaces(nics: Iterable[NicInfo]) -> RxBurst:
    """Physical interfaces -> rings, with the assumptions made for missing numbers."""
    rings: list[NicRing] = []
    assumptions: list[str] = []
    for nic in nics:
        if nic.name == "lo" or (nic.driver or "") in VIRTUAL_DRIVERS:
            continue
        if nic.driver is None and nic.rx_ring is None:
            # No device behind it (veth, docker0...) or not captured: nothing to count.
            continue
        mtu = nic.mtu or 1500
        if nic.mtu is None:
            assumptions.append(f"{nic.name}: MTU unknown, 1500 assumed")
        queues = nic.rx_queues or 1
        if nic.rx_queues is None:
            assumptions.append(f"{nic.name}: RX queue count unknown, 1 assumed")
        if nic.rx_ring is not None:
            ring, source = nic.rx_ring, "ethtool -g"
        elif nic.driver in DRIVER_DEFAULT_RX_RING:
            ring, source = DRIVER_DEFAULT_RX_RING[nic.driver]
        else:
            ring, source = FALLBACK_RX_RING, "assumed (driver default unknown)"
            assumptions.append(f"{nic.name}: ring size unknown for driver "
                               f"{nic.driver or '?'}, {FALLBACK_RX_RING} assumed")
        rings.append(NicRing(nic.name, nic.driver, mtu, queues, ring, source))
    return RxBurst(tuple(rings), tuple(assumptions))


def rx_burst(rings: Iterable[NicRing]) -> RxBurst:
    return RxBurst(tuple(rings))
