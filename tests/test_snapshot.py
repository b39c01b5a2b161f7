"""read_snapshot on every fixture root, on a tarball of one, on the live host, on bad input."""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path

import pytest

from conftest import FIXTURES
from minfree.errors import ParseError, SourceError
from minfree.model.host import Missing
from minfree.parsers.zoneinfo import parse_zoneinfo
from minfree.sources.root import open_root
from minfree.sources.snapshot import read_snapshot, read_vmstat, require_zones

ROOTS = sorted(p for p in (FIXTURES / "roots").iterdir() if p.is_dir())


def test_there_are_roots() -> None:
    assert len(ROOTS) >= 19


@pytest.mark.parametrize("root_dir", ROOTS, ids=lambda p: p.name)
def test_every_fixture_root(root_dir: Path) -> None:
    snap = read_snapshot(open_root(root_dir))
    assert not snap.is_live
    assert snap.page_size_bytes == 4096  # every fixture is a 4 KiB-page kernel
    present = {p.relative_to(root_dir).as_posix() for p in root_dir.rglob("*") if p.is_file()}
    missing_paths = {m.path for m in snap.missing}
    for name in ("zoneinfo", "buddyinfo", "pagetypeinfo", "meminfo", "vmstat"):
        rel = f"proc/{name}"
        # each core file is either parsed or recorded as missing, never silently dropped
        assert (rel in present) != (rel in missing_paths), rel
    if "proc/zoneinfo" in present:
        expected = parse_zoneinfo((root_dir / "proc/zoneinfo").read_text())
        assert [(z.node, z.name, z.min_pages) for z in snap.zones] == [
            (z.node, z.name, z.min_pages) for z in expected.zones
        ]
        assert set(snap.numa_nodes) == set(expected.nodes)
        require_zones(snap)
    else:
        assert snap.zones == ()
        with pytest.raises(SourceError, match=r"cannot read proc/zoneinfo \(absent\)"):
            require_zones(snap)
    if "proc/buddyinfo" in present and "proc/zoneinfo" in present:
        assert any(z.free_blocks is not None for z in snap.zones)
    if "proc/sys/vm/min_free_kbytes" in present:
        value = (root_dir / "proc/sys/vm/min_free_kbytes").read_text().strip()
        assert snap.min_free_kbytes == int(value)
    if snap.release is None:
        assert any("kernel release unknown" in n for n in snap.notes)
    if "proc/pagetypeinfo" in present:
        assert snap.pageblock_order in (9, 10)
        assert snap.pageblock_order_source == "pagetypeinfo"


class TestKnownRoots:
    def test_kubernetes_sosreport(self) -> None:
        snap = read_snapshot(open_root(FIXTURES / "roots/hotsos-kubernetes-5.4.0-99"))
        assert str(snap.release) == "5.4.0-99-generic"
        assert snap.release_source == "proc/sys/kernel/osrelease"
        assert snap.thp_enabled == "madvise"
        assert snap.thp_defrag is None
        assert snap.why_missing("sys/kernel/mm/transparent_hugepage/defrag") == "absent"
        assert (snap.min_free_kbytes, snap.watermark_scale_factor) == (67584, 10)
        assert snap.lowmem_reserve_ratio == (256, 256, 32, 0, 0)
        assert snap.sysctl_source == "sos_commands/kernel/sysctl_-a + proc/sys"
        assert snap.sysctl["net.core.somaxconn"]  # only in sysctl -a, kept
        assert snap.page_size_source.startswith("inferred: MemTotal")
        assert snap.pages_per_block == 512
        assert snap.meminfo is not None
        assert snap.meminfo.total_kb == 4026036
        assert snap.vmstat is not None
        assert snap.vmstat.pgscan_kswapd_total == 393281

    def test_openstack_without_proc_meminfo_uses_node_files_and_sysctl_a(self) -> None:
        snap = read_snapshot(open_root(FIXTURES / "roots/hotsos-openstack-compute4-5.4.0-97"))
        assert snap.meminfo is None
        assert snap.why_missing("proc/meminfo") == "absent"
        assert snap.node_meminfo[0].total_kb == 16393164
        assert snap.sysctl_source == "sos_commands/kernel/sysctl_-a"
        assert snap.min_free_kbytes == 67584
        assert snap.release_source == "sos_commands/kernel/uname_-a"
        assert snap.page_size_source.startswith("default")
        assert any("page size not known" in n for n in snap.notes)

    def test_lxd_container_meminfo_is_flagged(self) -> None:
        snap = read_snapshot(open_root(FIXTURES / "roots/hotsos-rabbitmq-lxd-5.4.0-97"))
        assert snap.meminfo is not None
        assert snap.meminfo.total_kb == 1048576
        assert any("virtualised" in n for n in snap.notes)

    def test_two_nodes_and_nul_padded_node_files(self) -> None:
        snap = read_snapshot(open_root(FIXTURES / "roots/pcp-meminfo-root-002-numa2"))
        assert snap.numa_nodes == (0, 1)
        assert snap.node_meminfo[1].total_kb == 67108864
        snap4 = read_snapshot(open_root(FIXTURES / "roots/pcp-meminfo-root-004"))
        assert snap4.node_meminfo[0].total_kb == 4020980

    def test_partial_root(self) -> None:
        snap = read_snapshot(open_root(FIXTURES / "roots/issabel-el8-partial"))
        assert len(snap.zones) == 5
        assert {m.path for m in snap.missing} >= {
            "proc/meminfo",
            "proc/buddyinfo",
            "proc/pagetypeinfo",
            "proc/sys/vm",
        }
        assert snap.sysctl == {}
        assert snap.min_free_kbytes is None

    def test_version_signature_release(self) -> None:
        snap = read_snapshot(open_root(FIXTURES / "roots/ubuntu-5.4.0-170-partial"))
        assert snap.release is not None
        assert snap.release.version == (5, 4, 0)
        assert snap.pageblock_order == 9


def test_release_from_captured_sysctl_a(tmp_path: Path) -> None:
    root_dir = tmp_path / "r"
    (root_dir / "sos_commands/kernel").mkdir(parents=True)
    src = FIXTURES / "roots/hotsos-openstack-compute4-5.4.0-97/sos_commands/kernel/sysctl_-a"
    shutil.copy(src, root_dir / "sos_commands/kernel/sysctl_-a")
    snap = read_snapshot(open_root(root_dir))
    assert (str(snap.release), snap.release_source) == (
        "5.4.0-97-generic",
        "sysctl kernel.osrelease",
    )


def test_tarball_gives_the_same_snapshot(tmp_path: Path) -> None:
    src = FIXTURES / "roots/coreos-rhel8-4.18.0-80.11.2"
    bundle = tmp_path / "sosreport-coreos.tar.xz"
    with tarfile.open(bundle, "w:xz") as tar:
        tar.add(src, arcname="sosreport-coreos")
    from_dir = read_snapshot(open_root(src))
    from_tar = read_snapshot(open_root(bundle))
    assert from_tar.zones == from_dir.zones
    assert from_tar.sysctl == from_dir.sysctl
    assert from_tar.release == from_dir.release
    assert from_tar.missing == from_dir.missing
    assert from_tar.thp_enabled == "always"
    assert from_tar.label == "sosreport-coreos.tar.xz"


def _copy_root(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    for dirpath, _dirs, files in os.walk(dest):
        os.chmod(dirpath, 0o755)
        for name in files:
            os.chmod(os.path.join(dirpath, name), 0o644)
    return dest


def test_garbage_file_is_recorded_or_raised_when_strict(tmp_path: Path) -> None:
    root_dir = _copy_root(FIXTURES / "roots/xilinx-armv7-4.4.0", tmp_path / "r")
    (root_dir / "proc/zoneinfo").write_bytes(
        b"\x00\xff garbage\nNode 0, zone Normal\n pages free x\n"
    )
    (root_dir / "proc/buddyinfo").write_text("Node 0, zone Normal 1 2 3 oops\n")
    snap = read_snapshot(open_root(root_dir))
    assert snap.zones == ()
    reason = snap.why_missing("proc/buddyinfo")
    assert reason is not None
    assert reason.startswith("unparseable: proc/buddyinfo:1:")
    # a NUL ends the text: zoneinfo is empty, reported as such
    assert snap.why_missing("proc/zoneinfo") == "unparseable: proc/zoneinfo: file is empty"
    with pytest.raises(SourceError, match="unparseable"):
        require_zones(snap)
    assert snap.meminfo is not None  # the rest is still read
    with pytest.raises(ParseError, match=r"proc/zoneinfo"):
        read_snapshot(open_root(root_dir), strict=True)


def test_truncated_zoneinfo(tmp_path: Path) -> None:
    root_dir = _copy_root(FIXTURES / "roots/centos-stream9-5.14.0-325", tmp_path / "r")
    text = (root_dir / "proc/zoneinfo").read_text()
    (root_dir / "proc/zoneinfo").write_text(text[: text.index("        low", 3000)])
    snap = read_snapshot(open_root(root_dir))
    reason = snap.why_missing("proc/zoneinfo")
    assert reason is not None
    assert "has no 'low' line (truncated?)" in reason


def test_network_interfaces_and_pmd_pageblock(tmp_path: Path) -> None:
    root = tmp_path / "host"
    net = root / "sys/class/net"
    dev = root / "sys/devices/pci0000:00/0000:00:05.0/net/ens5"
    (dev / "queues/rx-0").mkdir(parents=True)
    (dev / "queues/rx-1").mkdir()
    (dev / "queues/tx-0").mkdir()
    (dev / "mtu").write_text("9001\n")
    (dev / "speed").write_text("25000\n")
    (dev / "operstate").write_text("up\n")
    drivers = root / "sys/bus/pci/drivers/ena"
    drivers.mkdir(parents=True)
    (dev / "device").mkdir()
    os.symlink("../../../../../../bus/pci/drivers/ena", dev / "device/driver")
    net.mkdir(parents=True)
    os.symlink("../../devices/pci0000:00/0000:00:05.0/net/ens5", net / "ens5")
    lo = net / "lo"
    (lo / "queues/rx-0").mkdir(parents=True)
    (lo / "mtu").write_text("65536\n")
    (lo / "speed").write_text("")  # EINVAL on a live host; empty in a capture
    (root / "sos_commands/networking").mkdir(parents=True)
    (root / "sos_commands/networking/ethtool_-g_ens5").write_text(
        "Ring parameters for ens5:\nPre-set maximums:\nRX:\t16384\nTX:\t1024\n"
        "Current hardware settings:\nRX:\t1024\nTX:\t1024\n"
    )
    thp = root / "sys/kernel/mm/transparent_hugepage"
    thp.mkdir(parents=True)
    (thp / "enabled").write_text("always [madvise] never\n")
    (thp / "defrag").write_text("always defer defer+madvise [madvise] never\n")
    (thp / "hpage_pmd_size").write_text("2097152\n")
    snap = read_snapshot(open_root(root))
    ens5, lo_if = snap.interfaces
    assert (ens5.name, ens5.mtu, ens5.speed_mbps, ens5.rx_queues, ens5.tx_queues) == (
        "ens5",
        9001,
        25000,
        2,
        1,
    )
    assert ens5.driver == "ena"
    assert ens5.operstate == "up"
    assert (ens5.rx_ring_current, ens5.rx_ring_max) == (1024, 16384)
    assert (lo_if.mtu, lo_if.speed_mbps, lo_if.driver, lo_if.rx_queues) == (65536, None, None, 1)
    assert lo_if.is_loopback
    assert (snap.thp_enabled, snap.thp_defrag) == ("madvise", "madvise")
    assert (snap.pageblock_order, snap.pageblock_order_source) == (9, "hpage_pmd_size")


@pytest.mark.skipif(not Path("/proc/zoneinfo").exists(), reason="no /proc on this machine")
class TestLiveHost:
    """Oracle: the running kernel's own files, read directly."""

    def test_live_snapshot_matches_proc(self) -> None:
        snap = read_snapshot(open_root(None))
        assert snap.is_live
        assert snap.page_size_bytes == os.sysconf("SC_PAGE_SIZE")
        assert str(snap.release) == os.uname().release
        live_zones = parse_zoneinfo(Path("/proc/zoneinfo").read_text())
        assert [(z.node, z.name) for z in snap.zones] == [
            (z.node, z.name) for z in live_zones.zones
        ]
        for key in ("min_free_kbytes", "watermark_scale_factor", "swappiness"):
            path = Path("/proc/sys/vm") / key
            if path.exists():
                assert snap.sysctl[f"vm.{key}"] == path.read_text().strip()
        enabled = Path("/sys/kernel/mm/transparent_hugepage/enabled")
        if enabled.exists():
            assert f"[{snap.thp_enabled}]" in enabled.read_text()
        names = sorted(os.listdir("/sys/class/net"))
        assert [i.name for i in snap.interfaces] == names
        lo = next(i for i in snap.interfaces if i.name == "lo")
        assert lo.mtu == int(Path("/sys/class/net/lo/mtu").read_text())
        assert Missing("proc/zoneinfo", "absent") not in snap.missing
        if os.geteuid() == 0:
            assert snap.pagetypeinfo is not None
            assert snap.pageblock_order_source == "pagetypeinfo"
        assert "vm.compact_memory" not in snap.sysctl  # write-only: skipped


def test_read_vmstat_samples() -> None:
    root = open_root(FIXTURES / "roots/pcp-meminfo-root-005")
    first, second = read_vmstat(root), read_vmstat(root)
    assert first is not None
    assert first == second
    assert first.pgscan_kswapd_total == 6328636
    empty = open_root(FIXTURES / "roots/ubuntu-5.4.0-170-partial")
    assert read_vmstat(empty) is None
    assert empty.missing == [Missing("proc/vmstat", "absent")]


@pytest.mark.skipif(shutil.which("sysctl") is None, reason="procps sysctl not installed")
@pytest.mark.skipif(not Path("/proc/sys/vm").exists(), reason="no /proc/sys")
def test_live_vm_sysctls_equal_procps_sysctl_a(vm_sysctl_writer: object) -> None:
    """Oracle: procps ``sysctl -a`` on this host; every vm key both have is equal.

    Holds the live-writer lock (writes nothing) so that no other test changes a vm value
    between the two reads.
    """
    import subprocess

    from minfree.parsers.sysctl import parse_sysctl_a

    out = subprocess.run(["sysctl", "-a"], capture_output=True, text=True, check=False).stdout
    procps = parse_sysctl_a(out, source="sysctl -a")
    snap = read_snapshot(open_root(None))
    # vm.nr_* and stat counters can move between the two reads on a busy host
    volatile = {"vm.nr_hugepages", "vm.nr_overcommit_hugepages", "vm.nr_hugepages_mempolicy"}
    keys = sorted(
        k for k in procps.values if k.startswith("vm.") and k in snap.sysctl and k not in volatile
    )
    assert len(keys) >= 30
    mismatches = [
        (k, snap.sysctl[k], procps.values[k]) for k in keys if snap.sysctl[k] != procps.values[k]
    ]
    assert mismatches == []
    # nothing procps lists under vm. is missing from the snapshot
    assert {k for k in procps.values if k.startswith("vm.")} <= set(snap.sysctl)
