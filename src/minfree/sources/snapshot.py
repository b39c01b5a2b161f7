"""Assemble a :class:`~minfree.model.host.HostSnapshot` from a :class:`Root`.

Each file is read once, through the root, and handed to its parser; nothing here spawns a
process (``inspect`` must finish in well under 0.3 s on a live host). Files that are absent,
unreadable or unparseable are recorded in ``missing`` and the snapshot is built from what
is left; a command that cannot do without something calls a helper such as
:func:`require_zones`, which raises one clear :class:`~minfree.errors.SourceError`.

Where a value must be inferred for a bundle (page size, pageblock order, kernel release) the
snapshot says how in ``notes`` and the ``*_source`` fields.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import TypeVar

from minfree.errors import ParseError, SourceError
from minfree.kernel.release import KernelRelease
from minfree.model.buddyinfo import BuddyInfo
from minfree.model.host import HostSnapshot, Missing, NetInterface
from minfree.model.meminfo import MemInfo
from minfree.model.pagetypeinfo import PageTypeInfo
from minfree.model.vmstat import VmStat
from minfree.model.zoneinfo import ZoneInfo
from minfree.parsers.buddyinfo import parse_buddyinfo
from minfree.parsers.meminfo import parse_meminfo
from minfree.parsers.pagetypeinfo import parse_pagetypeinfo
from minfree.parsers.sysctl import normalise_sysctl_value, parse_sysctl_a, sysctl_key_from_path
from minfree.parsers.vmstat import parse_vmstat
from minfree.parsers.zoneinfo import parse_zoneinfo
from minfree.sources.root import Root

T = TypeVar("T")

#: Page sizes Linux uses (x86 4 KiB; arm64/ppc64 16/64 KiB).
_PAGE_SIZES = (4096, 16384, 65536)
DEFAULT_PAGE_SIZE = 4096
#: No /proc or sysctl file minfree parses comes near this (zoneinfo of a 16-node,
#: 1024-CPU host is a few MiB); anything bigger is garbage and is recorded, not read.
MAX_PROC_FILE_BYTES = 64 << 20

#: Beyond /proc/sys/vm, the runtime sysctls read on a live host (reading all of /proc/sys
#: would cost thousands of opens); a bundle's captured /proc/sys is read in full.
LIVE_EXTRA_SYSCTLS: tuple[str, ...] = (
    "kernel/osrelease",
    "kernel/numa_balancing",
    "net/core/netdev_max_backlog",
    "net/core/netdev_budget",
    "net/core/netdev_budget_usecs",
    "net/core/rmem_default",
    "net/core/rmem_max",
    "net/core/wmem_default",
    "net/core/wmem_max",
    "net/ipv4/tcp_mem",
    "net/ipv4/tcp_rmem",
    "net/ipv4/tcp_wmem",
    "net/ipv4/udp_mem",
)
#: Write-only or action files under /proc/sys/vm: reading them says nothing about the host.
_WRITE_ONLY_SYSCTLS = {"vm.compact_memory", "vm.stat_refresh", "vm.drop_caches"}
_NODE_DIR = re.compile(r"node([0-9]+)", re.ASCII)
_THP_DIRS = ("sys/kernel/mm/transparent_hugepage", "sys/kernel/mm/redhat_transparent_hugepage")


class _Reader:
    """Reads and parses files of one root, recording failures instead of raising."""

    def __init__(self, root: Root, strict: bool) -> None:
        self.root = root
        self.strict = strict
        self.notes: list[str] = []

    def parse(self, rel: str, parser: Callable[[str, str], T], *, quiet: bool = False) -> T | None:
        text = self.root.read_text(rel, quiet=quiet, max_bytes=MAX_PROC_FILE_BYTES)
        if text is None:
            return None
        try:
            return parser(text, rel)
        except ParseError as exc:
            if self.strict:
                raise
            self.root.record_missing(rel, f"unparseable: {exc}")
            return None


def read_snapshot(root: Root, *, strict: bool = False) -> HostSnapshot:
    """Read a host's memory state from ``root``.

    ``strict=True`` re-raises the first :class:`ParseError` (for tests and ``--strict``);
    by default a bad file is recorded in ``missing`` as ``unparseable: <message>``.
    """
    r = _Reader(root, strict)
    notes = r.notes

    zoneinfo: ZoneInfo | None = r.parse("proc/zoneinfo", parse_zoneinfo)
    buddyinfo: BuddyInfo | None = r.parse("proc/buddyinfo", parse_buddyinfo)
    pagetypeinfo: PageTypeInfo | None = r.parse("proc/pagetypeinfo", parse_pagetypeinfo)
    meminfo: MemInfo | None = r.parse("proc/meminfo", parse_meminfo)
    vmstat: VmStat | None = r.parse("proc/vmstat", parse_vmstat)
    zones = zoneinfo.to_zones(buddyinfo, pagetypeinfo) if zoneinfo is not None else ()

    numa_nodes = _numa_nodes(root, zoneinfo)
    node_meminfo: dict[int, MemInfo] = {}
    if not root.is_live or len(numa_nodes) > 1:
        # One file per node; on a single-node live host /proc/meminfo says the same.
        for node in numa_nodes:
            info = r.parse(f"sys/devices/system/node/node{node}/meminfo", parse_meminfo, quiet=True)
            if info is not None:
                node_meminfo[node] = info

    sysctl, sysctl_source = _read_sysctl(r)
    release, release_source = _read_release(r, sysctl)
    page_size, page_size_source = _page_size(root, meminfo, zoneinfo, vmstat, notes)
    thp_enabled, thp_defrag, hpage_pmd_size = _read_thp(r)
    pageblock_order, pageblock_source = _pageblock_order(pagetypeinfo, hpage_pmd_size, page_size)
    if pageblock_order is None:
        notes.append("pageblock order unknown: no pagetypeinfo and no THP hpage_pmd_size")
    interfaces = _read_interfaces(r)
    _check_meminfo_view(meminfo, zoneinfo, page_size, notes)

    return HostSnapshot(
        label=root.label,
        is_live=root.is_live,
        page_size_bytes=page_size,
        page_size_source=page_size_source,
        release=release,
        release_source=release_source,
        meminfo=meminfo,
        node_meminfo=node_meminfo,
        zoneinfo=zoneinfo,
        zones=zones,
        buddyinfo=buddyinfo,
        pagetypeinfo=pagetypeinfo,
        vmstat=vmstat,
        sysctl=sysctl,
        sysctl_source=sysctl_source,
        thp_enabled=thp_enabled,
        thp_defrag=thp_defrag,
        numa_nodes=numa_nodes,
        interfaces=interfaces,
        pageblock_order=pageblock_order,
        pageblock_order_source=pageblock_source,
        missing=tuple(root.missing),
        notes=tuple(notes),
    )


def read_vmstat(root: Root, *, strict: bool = False) -> VmStat | None:
    """One more ``/proc/vmstat`` sample (for rates over ``--interval``), or None.

    A failure is recorded in ``root.missing`` like any other read.

    >>> import pathlib, tempfile
    >>> from minfree.sources.root import open_root
    >>> d = pathlib.Path(tempfile.mkdtemp()); (d / "proc").mkdir()
    >>> _ = (d / "proc" / "vmstat").write_text("allocstall_normal 3\\npgscan_kswapd 9\\n")
    >>> sample = read_vmstat(open_root(d))
    >>> sample.allocstall_total, sample.pgscan_kswapd_total
    (3, 9)
    """
    return _Reader(root, strict).parse("proc/vmstat", parse_vmstat)


def require_zones(snapshot: HostSnapshot) -> None:
    """Raise SourceError (one clear line) when the snapshot has no zoneinfo to compute on."""
    if snapshot.zoneinfo is not None and snapshot.zones:
        return
    reason = snapshot.why_missing("proc/zoneinfo") or "not read"
    raise SourceError(f"{snapshot.label}: cannot read proc/zoneinfo ({reason})")


# -- pieces ---------------------------------------------------------------------------------


def _numa_nodes(root: Root, zoneinfo: ZoneInfo | None) -> tuple[int, ...]:
    """Node ids from sys/devices/system/node/node*, else the nodes zoneinfo lists."""
    nodes = sorted(
        int(m.group(1))
        for name in root.listdir("sys/devices/system/node")
        if (m := _NODE_DIR.fullmatch(name))
    )
    if nodes:
        return tuple(nodes)
    return zoneinfo.nodes if zoneinfo is not None else ()


def _read_sysctl(r: _Reader) -> tuple[dict[str, str], str | None]:
    """Runtime sysctls: sosreport ``sysctl -a`` overlaid with captured /proc/sys files."""
    root = r.root
    values: dict[str, str] = {}
    sources: list[str] = []
    if not root.is_live:
        for rel in ("sos_commands/kernel/sysctl_-a", "sysctl_-a", "sysctl-a.out"):
            if root.exists(rel):
                out = r.parse(rel, parse_sysctl_a)
                if out is not None:
                    values.update(out.values)
                    sources.append(rel)
                break
    if root.is_live:
        paths = root.glob("proc/sys/vm/*")
        paths += [f"proc/sys/{p}" for p in LIVE_EXTRA_SYSCTLS]
    else:
        paths = _walk_files(root, "proc/sys")
    read_any = False
    for rel in paths:
        key = sysctl_key_from_path(rel)
        if key in _WRITE_ONLY_SYSCTLS:
            continue
        text = root.read_text(rel, quiet=True)
        if text is None:
            continue
        value = normalise_sysctl_value(text)
        if value == "" and key in values:
            continue  # a 0-byte capture of a file the sysctl output did have
        values[key] = value
        read_any = True
    if read_any:
        sources.append("proc/sys")
    if not values:
        root.record_missing("proc/sys/vm", "absent")
        if not root.is_live:
            root.record_missing("sos_commands/kernel/sysctl_-a", "absent")
    return values, " + ".join(sources) if sources else None


def _walk_files(root: Root, top: str, limit: int = 20000) -> list[str]:
    """Every file below ``top`` in a bundle (iterative; bounded against huge trees)."""
    out: list[str] = []
    stack = [top]
    while stack and len(out) < limit:
        current = stack.pop()
        for name in root.listdir(current):
            rel = f"{current}/{name}"
            if root.is_dir(rel):
                stack.append(rel)
            else:
                out.append(rel)
    return sorted(out)


def _read_release(r: _Reader, sysctl: dict[str, str]) -> tuple[KernelRelease | None, str | None]:
    """KernelRelease from the live kernel, osrelease, uname -a, /proc/version, a captured
    ``sysctl -a`` (``kernel.osrelease``), or Ubuntu's version_signature, in that order."""
    from minfree.parsers.osrelease import (
        release_from_osrelease,
        release_from_proc_version,
        release_from_uname_a,
        release_from_version_signature,
    )

    root = r.root
    if root.is_live:
        return KernelRelease.try_parse(os.uname().release), "uname"
    candidates: tuple[tuple[str, Callable[[str, str], str] | None], ...] = (
        ("proc/sys/kernel/osrelease", release_from_osrelease),
        ("sos_commands/kernel/uname_-a", release_from_uname_a),
        ("uname", release_from_uname_a),
        ("proc/version", release_from_proc_version),
        ("sysctl kernel.osrelease", None),  # a captured sysctl -a carries it exactly
        ("proc/version_signature", release_from_version_signature),
    )
    for rel, parser in candidates:
        if parser is None:
            release = KernelRelease.try_parse(sysctl.get("kernel.osrelease"))
        elif root.exists(rel):
            release = KernelRelease.try_parse(r.parse(rel, parser))
        else:
            continue
        if release is None:
            continue
        if rel == "proc/version_signature":
            r.notes.append("kernel release taken from Ubuntu's version_signature (package version)")
        return release, rel
    root.record_missing("proc/sys/kernel/osrelease", "absent")
    r.notes.append("kernel release unknown: no osrelease, uname or version file")
    return None, None


def _page_size(
    root: Root,
    meminfo: MemInfo | None,
    zoneinfo: ZoneInfo | None,
    vmstat: VmStat | None,
    notes: list[str],
) -> tuple[int, str]:
    """The live kernel's page size, or one inferred from a bundle's own numbers.

    MemTotal is ``totalram_pages`` (the sum of zone ``managed``) times the page size, and
    MemFree is ``nr_free_pages`` times it; a ratio within 3 % of a real page size is taken.
    Containers (lxcfs) virtualise meminfo, so a failed inference falls back to 4096.
    """
    if root.is_live:
        return os.sysconf("SC_PAGE_SIZE"), "os.sysconf"
    # (how, bytes, pages, tolerance): totals are exact at any instant; free counts move
    # between the reads of two files, so they get a wider (still unambiguous) tolerance.
    checks: list[tuple[str, int, int, float]] = []
    if meminfo is not None and zoneinfo is not None and zoneinfo.has_managed:
        managed = sum(z.managed_pages or 0 for z in zoneinfo.zones)
        if meminfo.total_kb and managed:
            checks.append(
                ("MemTotal / zoneinfo managed pages", meminfo.total_kb * 1024, managed, 0.03)
            )
    if meminfo is not None and vmstat is not None:
        free_pages = vmstat.nr_free_pages
        if meminfo.free_kb and free_pages:
            checks.append(
                ("MemFree / vmstat nr_free_pages", meminfo.free_kb * 1024, free_pages, 0.12)
            )
    for how, total_bytes, pages, tolerance in checks:
        ratio = total_bytes / pages
        for size in _PAGE_SIZES:
            if abs(ratio - size) <= tolerance * size:
                return size, f"inferred: {how}"
    notes.append(f"page size not known from the bundle; assuming {DEFAULT_PAGE_SIZE} bytes")
    return DEFAULT_PAGE_SIZE, f"default: {DEFAULT_PAGE_SIZE} (not inferable)"


def _read_thp(r: _Reader) -> tuple[str | None, str | None, int | None]:
    """THP ``enabled``/``defrag`` choices and ``hpage_pmd_size`` (bytes), when present."""
    from minfree.parsers.thp import parse_thp_setting

    root = r.root
    base = next((d for d in _THP_DIRS if root.exists(d)), _THP_DIRS[0])
    enabled = r.parse(f"{base}/enabled", parse_thp_setting)
    defrag = r.parse(f"{base}/defrag", parse_thp_setting)
    pmd_text = root.read_text(f"{base}/hpage_pmd_size", quiet=True)
    pmd_size = int(pmd_text.strip()) if pmd_text and pmd_text.strip().isdigit() else None
    return (
        enabled.selected if enabled is not None else None,
        defrag.selected if defrag is not None else None,
        pmd_size,
    )


def _pageblock_order(
    pagetypeinfo: PageTypeInfo | None, hpage_pmd_size: int | None, page_size: int
) -> tuple[int | None, str | None]:
    """pagetypeinfo's ``Page block order``; else THP's PMD order (pageblock_order equals
    HPAGE_PMD_ORDER on THP kernels, include/linux/pageblock-flags.h)."""
    if pagetypeinfo is not None and pagetypeinfo.pageblock_order is not None:
        return pagetypeinfo.pageblock_order, "pagetypeinfo"
    if hpage_pmd_size and hpage_pmd_size % page_size == 0:
        pages = hpage_pmd_size // page_size
        if pages & (pages - 1) == 0:
            return pages.bit_length() - 1, "hpage_pmd_size"
    return None, None


def _read_int(root: Root, rel: str) -> int | None:
    text = root.read_text(rel, quiet=True)
    if text is None:
        return None
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        return None


def _read_interfaces(r: _Reader) -> tuple[NetInterface, ...]:
    """Interfaces from sys/class/net; ring sizes from a sosreport's ``ethtool -g``."""
    from minfree.parsers.netdev import parse_ethtool_ring

    root = r.root
    out: list[NetInterface] = []
    for name in root.listdir("sys/class/net"):
        base = f"sys/class/net/{name}"
        if not root.is_dir(base):
            continue
        queues = root.listdir(f"{base}/queues")
        speed = _read_int(root, f"{base}/speed")
        driver_link = root.readlink(f"{base}/device/driver")
        operstate = root.read_text(f"{base}/operstate", quiet=True)
        ring = None
        ethtool = f"sos_commands/networking/ethtool_-g_{name}"
        if not root.is_live and root.exists(ethtool):
            ring = r.parse(ethtool, parse_ethtool_ring)
        out.append(
            NetInterface(
                name=name,
                mtu=_read_int(root, f"{base}/mtu"),
                speed_mbps=speed if speed is not None and speed > 0 else None,
                rx_queues=sum(1 for q in queues if q.startswith("rx-")) if queues else None,
                tx_queues=sum(1 for q in queues if q.startswith("tx-")) if queues else None,
                driver=driver_link.rstrip("/").rsplit("/", 1)[-1] if driver_link else None,
                operstate=operstate.strip() if operstate else None,
                rx_ring_current=ring.rx_current if ring else None,
                rx_ring_max=ring.rx_max if ring else None,
                tx_ring_current=ring.tx_current if ring else None,
                tx_ring_max=ring.tx_max if ring else None,
            )
        )
    if not out and not root.is_live:
        # sosreports keep interface data under sos_commands/networking, not sys/class/net.
        for rel in root.glob("sos_commands/networking/ethtool_-g_*"):
            ring = r.parse(rel, parse_ethtool_ring)
            if ring is None:
                continue
            out.append(
                NetInterface(
                    name=rel.rsplit("ethtool_-g_", 1)[1],
                    rx_ring_current=ring.rx_current,
                    rx_ring_max=ring.rx_max,
                    tx_ring_current=ring.tx_current,
                    tx_ring_max=ring.tx_max,
                )
            )
    return tuple(out)


def _check_meminfo_view(
    meminfo: MemInfo | None, zoneinfo: ZoneInfo | None, page_size: int, notes: list[str]
) -> None:
    """Warn when meminfo and zoneinfo describe different machines (lxcfs in a container)."""
    if meminfo is None or zoneinfo is None or not zoneinfo.has_managed or not meminfo.total_kb:
        return
    managed_kb = sum(z.managed_pages or 0 for z in zoneinfo.zones) * page_size // 1024
    if managed_kb and abs(meminfo.total_kb - managed_kb) > 0.10 * managed_kb:
        notes.append(
            f"meminfo MemTotal ({meminfo.total_kb} kB) differs from the zones' managed total "
            f"({managed_kb} kB) by more than 10%: meminfo is probably a container's virtualised "
            "view (lxcfs) or memory is still being initialised; zone figures are the host's"
        )


__all__ = ["LIVE_EXTRA_SYSCTLS", "Missing", "read_snapshot", "read_vmstat", "require_zones"]
