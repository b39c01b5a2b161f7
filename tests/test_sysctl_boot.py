"""Boot-time sysctl precedence: systemd-sysctl vs procps ``sysctl --system``.

Roots are built from the real fixture stacks (Ubuntu 20.04 kubernetes node, RHEL CoreOS 8)
plus the files each case needs.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import FIXTURES
from minfree.analysis.sysctl_boot import (
    PROCPS,
    SYSTEMD,
    late_file_name,
    resolve_boot_sysctl,
    resolve_config,
    with_file,
)
from minfree.errors import SourceError
from minfree.sources.sysctl_config import collect_sysctl_config, resolve_in_root
from test_apply_roots import build_root


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_real_ubuntu_stack_as_stored_in_the_repository() -> None:
    """The fixture stores the 99-sysctl.conf link as a 14-byte file: still followed."""
    boot = resolve_boot_sysctl(FIXTURES / "roots/hotsos-kubernetes-5.4.0-99")
    assert boot.init == "systemd"  # systemd[1] lines in sos_commands/kernel/dmesg
    assert boot.boot_tool == SYSTEMD
    assert boot.sysctl_conf_links == ("/etc/sysctl.d/99-sysctl.conf",)
    assert boot.sysctl_conf_read_at_boot is True
    winner = boot.systemd.winner("vm.overcommit_memory")
    assert winner is not None
    assert (winner.file, winner.line, winner.value) == ("/etc/sysctl.d/50-kubernetes-charm.conf", 12, "1")
    assert boot.systemd.value("kernel.pid_max") == "4194304"
    # fs.protected_regular: /usr/lib/sysctl.d/50-default.conf says 1, protect-links.conf 2
    resolution = boot.systemd.resolve("fs.protected_regular")
    assert resolution.value == "2"
    assert resolution.winner is not None
    assert resolution.winner.file.endswith("protect-links.conf")
    assert [d.file for d in resolution.overridden] == ["/usr/lib/sysctl.d/50-default.conf"]
    # README.sysctl is not a *.conf file: never read
    assert not any(f.endswith("README.sysctl") for f in boot.systemd.files)


def test_later_file_wins_and_every_overridden_definition_is_listed(tmp_path: Path) -> None:
    root = build_root(tmp_path, proc=False)
    _write(root, "etc/sysctl.d/60-db.conf", "vm.min_free_kbytes = 65536\n")
    _write(root, "usr/lib/sysctl.d/70-vendor.conf", "# vendor\nvm.min_free_kbytes = 131072\n")
    _write(root, "etc/sysctl.d/10-early.conf", "vm.min_free_kbytes = 1024\nvm.min_free_kbytes = 2048\n")
    boot = resolve_boot_sysctl(root)
    resolution = boot.systemd.resolve("vm.min_free_kbytes")
    assert resolution.value == "131072"
    assert resolution.winner is not None
    assert resolution.winner.where == "/usr/lib/sysctl.d/70-vendor.conf:2"
    assert [d.where for d in resolution.overridden] == [
        "/etc/sysctl.d/10-early.conf:1",
        "/etc/sysctl.d/10-early.conf:2",
        "/etc/sysctl.d/60-db.conf:1",
    ]
    assert boot.procps.value("vm.min_free_kbytes") == "131072"


def test_same_name_in_etc_shadows_usr_lib_and_run(tmp_path: Path) -> None:
    root = build_root(tmp_path, proc=False)
    _write(root, "usr/lib/sysctl.d/50-pid-max.conf", "kernel.pid_max = 4194304\nvm.swappiness = 1\n")
    _write(root, "run/sysctl.d/50-pid-max.conf", "kernel.pid_max = 1\n")
    _write(root, "etc/sysctl.d/50-pid-max.conf", "kernel.pid_max = 65536\n")
    boot = resolve_boot_sysctl(root)
    for stack in boot.stacks():
        assert stack.value("kernel.pid_max") == "65536"
        assert stack.value("vm.swappiness") is None  # the shadowed /usr/lib file is never read
        assert {(s.path, s.shadowed_by) for s in stack.shadowed} >= {
            ("/run/sysctl.d/50-pid-max.conf", "/etc/sysctl.d/50-pid-max.conf"),
            ("/usr/lib/sysctl.d/50-pid-max.conf", "/etc/sysctl.d/50-pid-max.conf"),
        }


def test_run_shadows_usr_lib_and_dev_null_masks(tmp_path: Path) -> None:
    root = build_root(tmp_path, proc=False)
    _write(root, "run/sysctl.d/50-default.conf", "vm.swappiness = 7\n")
    os.symlink("/dev/null", root / "etc/sysctl.d/protect-links.conf")
    boot = resolve_boot_sysctl(root)
    assert boot.systemd.value("vm.swappiness") == "7"
    assert boot.systemd.value("net.core.default_qdisc") is None  # /usr/lib 50-default shadowed
    # the masked name removes /usr/lib/sysctl.d/protect-links.conf: protected_regular is unset
    assert boot.systemd.value("fs.protected_regular") is None
    assert "/etc/sysctl.d/protect-links.conf" not in boot.systemd.files


@pytest.mark.parametrize("link", [True, False])
def test_sysctl_conf_with_and_without_the_99_link(tmp_path: Path, link: bool) -> None:
    root = build_root(tmp_path, proc=False)
    with (root / "etc/sysctl.conf").open("a") as handle:
        handle.write("vm.swappiness = 10\n")
    _write(root, "etc/sysctl.d/60-app.conf", "vm.swappiness = 30\n")
    if not link:
        (root / "etc/sysctl.d/99-sysctl.conf").unlink()  # Debian 13
    boot = resolve_boot_sysctl(root)
    conf_line = len((root / "etc/sysctl.conf").read_text().splitlines())
    if link:
        assert boot.sysctl_conf_read_at_boot is True
        winner = boot.systemd.winner("vm.swappiness")
        assert winner is not None
        assert winner.where == f"/etc/sysctl.conf:{conf_line} (via /etc/sysctl.d/99-sysctl.conf)"
    else:
        assert boot.sysctl_conf_read_at_boot is False
        assert boot.systemd.value("vm.swappiness") == "30"
        assert boot.sysctl_conf_links == ()
    # procps reads sysctl.conf last either way
    assert boot.procps.reads_sysctl_conf
    assert boot.procps.value("vm.swappiness") == "10"


def test_procps_and_systemd_disagree_when_a_file_sorts_after_99_sysctl(tmp_path: Path) -> None:
    root = build_root(tmp_path, proc=False)
    with (root / "etc/sysctl.conf").open("a") as handle:
        handle.write("vm.min_free_kbytes = 90112\n")
    _write(root, "etc/sysctl.d/99-zz-tuning.conf", "vm.min_free_kbytes = 45056\n")
    boot = resolve_boot_sysctl(root)
    assert boot.systemd.value("vm.min_free_kbytes") == "45056"
    assert boot.procps.value("vm.min_free_kbytes") == "90112"
    assert boot.tools_disagree("vm.min_free_kbytes")
    # procps reads sysctl.conf twice (through the link, then last)
    assert [d.read_from for d in boot.procps.resolve("vm.min_free_kbytes").definitions] == [
        "/etc/sysctl.conf", "/etc/sysctl.d/99-zz-tuning.conf", "/etc/sysctl.conf"]
    assert boot.late_file_name(["vm.min_free_kbytes"]) == "99-zz-tuning_zz-minfree.conf"
    # letters sort after digits: "tuning.conf" beats every "99-" file
    _write(root, "etc/sysctl.d/tuning.conf", "vm.min_free_kbytes = 22528\n")
    boot = resolve_boot_sysctl(root)
    assert boot.systemd.value("vm.min_free_kbytes") == "22528"
    assert boot.late_file_name(["vm.min_free_kbytes"]) == "tuning_zz-minfree.conf"


def test_globs_exclusions_and_explicit_settings(tmp_path: Path) -> None:
    root = build_root(tmp_path, proc=False)
    boot = resolve_boot_sysctl(root)
    # 50-default.conf: "net.ipv4.conf.*.promote_secondaries = 1" and "-net.ipv4.conf.all.promote_secondaries"
    assert boot.systemd.value("net.ipv4.conf.eth0.promote_secondaries") == "1"
    assert boot.systemd.value("net.ipv4.conf.all.promote_secondaries") is None
    # an explicit setting beats a later glob under systemd, not under procps
    _write(root, "etc/sysctl.d/10-first.conf", "vm.swappiness = 5\n")
    _write(root, "etc/sysctl.d/90-glob.conf", "vm.swap* = 50\n")
    boot = resolve_boot_sysctl(root)
    assert boot.systemd.value("vm.swappiness") == "5"
    assert boot.procps.value("vm.swappiness") == "50"


def test_init_detection_from_the_root(tmp_path: Path) -> None:
    root = build_root(tmp_path, "issabel-el8-partial", proc=False)
    boot = resolve_boot_sysctl(root)
    assert boot.init == "unknown"
    assert boot.boot_tool is None
    # both tools agree that sysctl.conf is not read by systemd without a link, but procps reads it
    assert boot.sysctl_conf_read_at_boot is None
    (root / "sbin").mkdir()
    os.symlink("../lib/systemd/systemd", root / "sbin/init")
    boot = resolve_boot_sysctl(root)
    assert boot.init == "systemd"
    assert boot.sysctl_conf_read_at_boot is False
    (root / "sbin/init").unlink()
    os.makedirs(root / "etc/rc.d")
    (root / "etc/rc.d/rc.sysinit").write_text("#!/bin/sh\n")
    boot = resolve_boot_sysctl(root)
    assert boot.init == "sysvinit"
    assert boot.boot_tool == PROCPS
    assert boot.sysctl_conf_read_at_boot is True


def test_this_host_resolves_without_error() -> None:
    boot = resolve_boot_sysctl("/")
    assert boot.init in ("systemd", "other", "sysvinit", "unknown")
    if os.path.islink("/etc/sysctl.d/99-sysctl.conf"):
        assert "/etc/sysctl.d/99-sysctl.conf" in boot.systemd.files


def test_absolute_links_stay_inside_the_root(tmp_path: Path) -> None:
    root = build_root(tmp_path, proc=False)
    (root / "etc/sysctl.d/99-sysctl.conf").unlink()
    os.symlink("/etc/sysctl.conf", root / "etc/sysctl.d/99-sysctl.conf")
    # /lib -> /usr/lib as on merged-usr systems: must not list the host's /usr/lib
    os.symlink("/usr/lib", root / "lib")
    config = collect_sysctl_config(root)
    link = next(f for f in config.files if f.name == "99-sysctl.conf")
    assert link.target == "/etc/sysctl.conf"
    assert link.text == (root / "etc/sysctl.conf").read_text()
    assert ("/lib/sysctl.d", "same folder as /usr/lib/sysctl.d") in config.missing
    assert resolve_in_root(config_root := _fs(root), "/../../etc/passwd")[0] == "/etc/passwd"
    assert config_root.base == root


def _fs(root: Path):  # type: ignore[no-untyped-def]
    from minfree.sources.sysctl_config import _FsRoot

    return _FsRoot(root)


def test_dangling_link_and_unreadable_file_are_reported_not_fatal(tmp_path: Path) -> None:
    root = build_root(tmp_path, proc=False)
    os.symlink("../nowhere.conf", root / "etc/sysctl.d/80-dangling.conf")
    boot = resolve_boot_sysctl(root)
    assert any(path.endswith("80-dangling.conf") and "does not exist" in why
               for path, why in boot.file_problems)
    assert boot.systemd.value("kernel.pid_max") == "4194304"


def test_missing_root_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError):
        resolve_boot_sysctl(tmp_path / "absent")


def test_with_file_resolves_a_planned_change_without_writing(tmp_path: Path) -> None:
    root = build_root(tmp_path, proc=False)
    config = collect_sysctl_config(root)
    planned = with_file(config, "/etc/sysctl.d/99-zz-minfree.conf", "vm.min_free_kbytes = 90112\n")
    boot = resolve_config(planned)
    assert boot.systemd.value("vm.min_free_kbytes") == "90112"
    assert not (root / "etc/sysctl.d/99-zz-minfree.conf").exists()
    # editing sysctl.conf reaches the link that reads it
    planned = with_file(config, "/etc/sysctl.conf", "vm.swappiness = 3\n")
    assert resolve_config(planned).systemd.value("vm.swappiness") == "3"


def test_late_file_name_byte_order() -> None:
    assert late_file_name([]) == "99-zz-minfree.conf"
    assert late_file_name(["99-zz-minfree.conf"]) == "99-zz-minfree_zz-minfree.conf"
    # strcmp order: digits < upper case < '_' < lower case
    assert late_file_name(["Zeta.conf"]) == "Zeta_zz-minfree.conf"
    assert late_file_name(["50-x.conf", "99-sysctl.conf"]) == "99-zz-minfree.conf"


def test_tarball_bundle_read_in_place(tmp_path: Path) -> None:
    import tarfile

    root = build_root(tmp_path, proc=False)
    bundle = tmp_path / "sosreport-host.tar.gz"
    with tarfile.open(bundle, "w:gz") as tar:
        tar.add(root, arcname="sosreport-host")
    boot = resolve_boot_sysctl(bundle)
    assert boot.sysctl_conf_links == ("/etc/sysctl.d/99-sysctl.conf",)
    assert boot.systemd.value("vm.overcommit_memory") == "1"
    from minfree.sources.root import open_root

    assert resolve_boot_sysctl(open_root(bundle)).systemd.value("kernel.pid_max") == "4194304"
