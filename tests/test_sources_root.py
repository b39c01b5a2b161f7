"""Root: live host, directory, tarball read in place; missing files and their reasons."""

from __future__ import annotations

import errno
import io
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from conftest import FIXTURES
from minfree.errors import SourceError
from minfree.sources import root as root_module
from minfree.sources.root import DirectoryRoot, Missing, TarRoot, open_root

KUBE = FIXTURES / "roots/hotsos-kubernetes-5.4.0-99"
PCP4 = FIXTURES / "roots/pcp-meminfo-root-004"


def _tar(src: Path, dest: Path, mode: str = "w:gz", arcname: str | None = None) -> Path:
    with tarfile.open(dest, mode) as tar:
        tar.add(src, arcname=arcname if arcname is not None else src.name)
    return dest


#: The symlinks sosreport creates in this tree, kept as relative symlinks in the repository.
KUBE_SYMLINKS = {
    "uname": "sos_commands/kernel/uname_-a",
    "free": "sos_commands/memory/free",
    "etc/sysctl.d/99-sysctl.conf": "../sysctl.conf",
}


def test_fixture_keeps_the_sosreport_symlinks() -> None:
    """A checkout without symlink support would turn these into files holding the target."""
    for rel, target in KUBE_SYMLINKS.items():
        assert (KUBE / rel).is_symlink(), rel
        assert os.readlink(KUBE / rel) == target


@pytest.fixture(scope="module")
def kube_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("kube") / "sosreport-kube"
    shutil.copytree(KUBE, dest, symlinks=True)
    for dirpath, _dirs, _files in os.walk(dest):
        os.chmod(dirpath, 0o755)  # the fixtures are read-only; some tests add files
    return dest


@pytest.fixture(scope="module")
def kube_tgz(kube_dir: Path) -> Path:
    return _tar(kube_dir, kube_dir.parent / "sosreport-kube.tar.gz")


def _check_kube_root(root: root_module.Root) -> None:
    """The same answers whatever the container of the kubernetes sosreport fixture."""
    zoneinfo = root.read_text("proc/zoneinfo")
    assert zoneinfo is not None
    assert zoneinfo == (KUBE / "proc/zoneinfo").read_text()
    assert root.read_bytes("/proc/buddyinfo") == (KUBE / "proc/buddyinfo").read_bytes()
    # top-level `uname` is a relative symlink into sos_commands
    assert root.read_text("uname") == (KUBE / "sos_commands/kernel/uname_-a").read_text()
    assert root.resolve("uname") == "sos_commands/kernel/uname_-a"
    # etc/sysctl.d/99-sysctl.conf -> ../sysctl.conf
    assert root.read_text("etc/sysctl.d/99-sysctl.conf") == (KUBE / "etc/sysctl.conf").read_text()
    assert root.readlink("etc/sysctl.d/99-sysctl.conf") == "../sysctl.conf"
    st = root.lstat("etc/sysctl.d/99-sysctl.conf")
    assert st is not None
    assert st.kind == "symlink"
    vm = root.glob("proc/sys/vm/*")
    assert len(vm) == 48
    assert "proc/sys/vm/min_free_kbytes" in vm
    assert root.listdir("sys/kernel/mm/transparent_hugepage") == ["enabled"]
    assert root.exists("proc/meminfo")
    assert root.is_dir("proc")
    assert root.is_file("proc/vmstat")
    assert not root.exists("proc/pagetypeinfo-nope")
    assert root.missing == []
    assert root.read_text("sys/kernel/mm/transparent_hugepage/defrag") is None
    assert root.missing == [Missing("sys/kernel/mm/transparent_hugepage/defrag", "absent")]
    stream = root.open_binary("var/log/kern.log")
    assert stream is not None
    with stream:
        assert stream.read() == (KUBE / "var/log/kern.log").read_bytes()
    assert root.glob("etc/sysctl.d/*.conf")[0].startswith("etc/sysctl.d/")


def test_directory_root(kube_dir: Path) -> None:
    root = open_root(kube_dir)
    assert isinstance(root, DirectoryRoot)
    assert not root.is_live
    assert root.label == str(kube_dir)
    _check_kube_root(root)
    _check_kube_root(open_root(KUBE))  # the read-only fixture itself, links and all


def test_tarball_root_gz_single_top_dir_stripped(kube_tgz: Path) -> None:
    root = open_root(kube_tgz)
    assert isinstance(root, TarRoot)
    assert root.label == "sosreport-kube.tar.gz"
    _check_kube_root(root)


@pytest.mark.parametrize(
    ("mode", "suffix"), [("w:xz", ".tar.xz"), ("w", ".tar"), ("w:bz2", ".tar.bz2")]
)
def test_tarball_other_compressions(tmp_path: Path, kube_dir: Path, mode: str, suffix: str) -> None:
    _check_kube_root(open_root(_tar(kube_dir, tmp_path / f"b{suffix}", mode)))


def test_tarball_without_top_dir(tmp_path: Path) -> None:
    bundle = tmp_path / "flat.tgz"
    with tarfile.open(bundle, "w:gz") as tar:
        for name in ("proc", "sys"):
            tar.add(PCP4 / name, arcname=name)
    root = open_root(bundle)
    assert root.read_text("proc/zoneinfo") == (PCP4 / "proc/zoneinfo").read_text()


def test_large_member_read_on_demand(
    tmp_path: Path, kube_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(root_module, "_TAR_CACHE_MEMBER_BYTES", 1024)
    root = open_root(_tar(kube_dir, tmp_path / "b.tgz"))
    assert root.read_bytes("var/log/kern.log") == (KUBE / "var/log/kern.log").read_bytes()
    stream = root.open_binary("var/log/kern.log")
    assert stream is not None
    with stream:
        assert stream.read(100) == (KUBE / "var/log/kern.log").read_bytes()[:100]


def test_nul_padded_sysfs_file_stops_at_first_nul() -> None:
    raw = (PCP4 / "sys/devices/system/node/node0/meminfo").read_bytes()
    assert len(raw) == 4096
    assert raw.endswith(b"\0")
    text = open_root(PCP4).read_text("sys/devices/system/node/node0/meminfo")
    assert text is not None
    assert "\0" not in text
    assert text == raw[: raw.index(b"\0")].decode()
    assert text.rstrip().endswith("HugePages_Surp:      0")


def test_symlinks_resolve_inside_the_root(tmp_path: Path) -> None:
    base = tmp_path / "bundle"
    (base / "etc").mkdir(parents=True)
    (base / "etc/real.conf").write_text("vm.swappiness = 1\n")
    (tmp_path / "outside").write_text("host file\n")
    # absolute target: the bundle's /etc, never this machine's
    os.symlink("/etc/real.conf", base / "etc/abs.conf")
    # escaping with ../.. is clamped at the bundle root
    os.symlink("../../../../etc/real.conf", base / "etc/up.conf")
    os.symlink("/outside", base / "etc/gone.conf")
    os.symlink("loop2", base / "etc/loop1")
    os.symlink("loop1", base / "etc/loop2")
    for root in (open_root(base), open_root(_tar(base, tmp_path / "b.tgz"))):
        assert root.read_text("etc/abs.conf") == "vm.swappiness = 1\n"
        assert root.read_text("etc/up.conf") == "vm.swappiness = 1\n"
        assert root.read_text("etc/gone.conf") is None
        assert root.read_text("etc/loop1") is None
        assert Missing("etc/gone.conf", "absent") in root.missing
        assert Missing("etc/loop1", "absent") in root.missing


def test_permission_reason_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    """os.open refusing (as for a 0400 /proc/pagetypeinfo read by a user) is 'permission'.

    Monkeypatched because the tests run as root, which bypasses file modes.
    """
    real_open = os.open

    def refusing_open(path: str, flags: int, *args: object, **kwargs: object) -> int:
        if str(path).endswith("pagetypeinfo"):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", refusing_open)
    root = open_root(KUBE)
    assert root.read_text("proc/pagetypeinfo") is None
    assert root.read_text("proc/zoneinfo") is not None
    assert root.missing == [Missing("proc/pagetypeinfo", "permission")]


def test_chmod_000_file(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("running as root: file modes do not stop reads (covered by monkeypatch test)")
    path = tmp_path / "proc/zoneinfo"
    path.parent.mkdir()
    path.write_text("x")
    path.chmod(0)
    root = open_root(tmp_path)
    assert root.read_text("proc/zoneinfo") is None
    assert root.missing == [Missing("proc/zoneinfo", "permission")]


def test_unreadable_tar_member_types(tmp_path: Path) -> None:
    bundle = tmp_path / "odd.tar"
    with tarfile.open(bundle, "w") as tar:
        for name, kind in (("proc/fifo", tarfile.FIFOTYPE), ("dev/null", tarfile.CHRTYPE)):
            info = tarfile.TarInfo(name)
            info.type = kind
            tar.addfile(info)
        data = b"MemTotal: 1 kB\n"
        info = tarfile.TarInfo("proc/meminfo")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    root = open_root(bundle)
    assert root.read_text("proc/meminfo") == "MemTotal: 1 kB\n"
    assert root.read_text("proc/fifo") is None
    assert root.read_text("dev/null") is None
    assert root.open_binary("proc/fifo") is None
    assert root.missing == [
        Missing("proc/fifo", "not a regular file (fifo)"),
        Missing("dev/null", "not a regular file (character device)"),
    ]


def test_hard_link_member(tmp_path: Path) -> None:
    bundle = tmp_path / "hl.tar"
    data = b"4.18.0\n"
    with tarfile.open(bundle, "w") as tar:
        info = tarfile.TarInfo("sos/proc/sys/kernel/osrelease")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("sos/uname")
        link.type = tarfile.LNKTYPE
        link.linkname = "sos/proc/sys/kernel/osrelease"
        tar.addfile(link)
    root = open_root(bundle)
    assert root.read_text("uname") == "4.18.0\n"


@pytest.mark.parametrize(
    "content",
    [b"this is not a tarball at all\n" * 40, b"\x1f\x8b\x08\x00garbage-gzip" * 10, b""],
    ids=["text", "bad-gzip", "empty"],
)
def test_garbage_tarball_is_source_error(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(content)
    with pytest.raises(SourceError, match=r"bad\.tar\.gz"):
        open_root(bad)


def test_truncated_tarball_is_source_error(tmp_path: Path, kube_tgz: Path) -> None:
    cut = tmp_path / "cut.tar.gz"
    data = kube_tgz.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError, match=r"cut\.tar\.gz"):
        open_root(cut)


def test_nonexistent_path() -> None:
    with pytest.raises(SourceError, match="no such file"):
        open_root("/nonexistent/minfree-bundle.tgz")


@pytest.mark.parametrize("arg", [None, "/"])
def test_live_host(arg: str | None) -> None:
    root = open_root(arg)
    assert root.is_live
    assert root.label == "live host"
    if not Path("/proc/meminfo").exists():
        pytest.skip("no /proc on this machine")
    text = root.read_text("proc/meminfo")
    assert text is not None
    assert text.startswith("MemTotal:")
    assert "proc/sys/vm/min_free_kbytes" in root.glob("proc/sys/vm/*")
    # a write-only file: reading gives an error, recorded rather than raised
    if Path("/proc/sys/vm/compact_memory").exists():
        assert root.read_text("proc/sys/vm/compact_memory") in (None, "")


def test_path_escape_is_clamped() -> None:
    root = open_root(KUBE)
    assert root.read_text("../../../../etc/sysctl.conf") == (KUBE / "etc/sysctl.conf").read_text()


def test_directory_holding_one_unpacked_bundle(kube_tgz: Path, tmp_path: Path) -> None:
    with tarfile.open(kube_tgz) as tar:
        tar.extractall(tmp_path / "unpacked", filter="tar")
    root = open_root(tmp_path / "unpacked")
    assert root.label == str(tmp_path / "unpacked" / "sosreport-kube")
    _check_kube_root(root)


def test_fifo_in_directory_root_is_refused_without_blocking(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    os.mkfifo(tmp_path / "proc/meminfo")
    root = open_root(tmp_path)
    assert root.read_text("proc/meminfo") is None  # would block forever if opened blocking
    assert root.missing == [Missing("proc/meminfo", "not a regular file (fifo)")]


def test_too_large_file_is_recorded(tmp_path: Path, kube_tgz: Path) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/zoneinfo").write_bytes(b"x" * 5000)
    root = open_root(tmp_path)
    assert root.read_bytes("proc/zoneinfo", max_bytes=4096) is None
    assert root.missing == [Missing("proc/zoneinfo", "too large (more than 4096 bytes)")]
    assert root.read_bytes("proc/zoneinfo", max_bytes=5000) == b"x" * 5000
    bundle = open_root(kube_tgz)
    assert bundle.read_text("var/log/kern.log", max_bytes=1000) is None
    assert bundle.missing == [Missing("var/log/kern.log", "too large (more than 1000 bytes)")]


@pytest.mark.parametrize(
    ("head", "words"),
    [(b"\x28\xb5\x2f\xfd" + b"\0" * 64, "zstd"), (b"PK\x03\x04" + b"\0" * 64, "zip archive")],
)
def test_unsupported_bundle_formats_named(tmp_path: Path, head: bytes, words: str) -> None:
    bad = tmp_path / "sosreport.tar.zst"
    bad.write_bytes(head)
    with pytest.raises(SourceError, match=words):
        open_root(bad)
