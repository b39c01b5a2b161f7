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
)
from minfree.errors import SourceError
from minfree.model.sysctl_conf import SysctlConfigSet
from minfree.sources.sysctl_config import collect_sysctl_config, resolve_in_root, with_file
from test_apply_roots import build_root


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_real_ubuntu_stack_as_stored_in_the_repository() -> None:
    """The fixture keeps 99-sysctl.conf as the relative symlink Ubuntu ships."""
    config = collect_sysctl_config(FIXTURES / "roots/hotsos-kubernetes-5.4.0-99")
    link = next(f for f in config.files if f.name == "99-sysctl.conf")
    assert (link.link_text, link.target, link.materialized_link) == (
        "../sysctl.conf", "/etc/sysctl.conf", False)
    boot = resolve_boot_sysctl(config)
    assert boot.init == "systemd"  # systemd[1] lines in sos_commands/kernel/dmesg
    assert boot.boot_tool == SYSTEMD
    assert boot.sysctl_conf_links == ("/etc/sysctl.d/99-sysctl.conf",)
    assert boot.sysctl_conf_read_at_boot is True


def test_link_materialised_as_a_file_is_still_followed(tmp_path: Path) -> None:
    """A bundle unpacked without symlink support (a zip, Windows, git core.symlinks=false)
    holds the link as a tiny file whose text is the target: read as the link it was."""
    root = build_root(tmp_path, proc=False)
    link = root / "etc/sysctl.d/99-sysctl.conf"
    link.unlink()
    link.write_text("../sysctl.conf")
    config = collect_sysctl_config(root)
    found = next(f for f in config.files if f.name == "99-sysctl.conf")
    assert (found.target, found.materialized_link) == ("/etc/sysctl.conf", True)
    assert found.text == (root / "etc/sysctl.conf").read_text()
    boot = resolve_boot_sysctl(config)
    assert boot.sysctl_conf_links == ("/etc/sysctl.d/99-sysctl.conf",)
    assert boot.problems == resolve_boot_sysctl(collect_sysctl_config(
        build_root(tmp_path, proc=False, name="with-link"))).problems
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
    boot = resolve_boot_sysctl(collect_sysctl_config(root))
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
    boot = resolve_boot_sysctl(collect_sysctl_config(root))
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
    boot = resolve_boot_sysctl(collect_sysctl_config(root))
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
    boot = resolve_boot_sysctl(collect_sysctl_config(root))
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
    boot = resolve_boot_sysctl(collect_sysctl_config(root))
    assert boot.systemd.value("vm.min_free_kbytes") == "45056"
    assert boot.procps.value("vm.min_free_kbytes") == "90112"
    assert boot.tools_disagree("vm.min_free_kbytes")
    # procps reads sysctl.conf twice (through the link, then last)
    assert [d.read_from for d in boot.procps.resolve("vm.min_free_kbytes").definitions] == [
        "/etc/sysctl.conf", "/etc/sysctl.d/99-zz-tuning.conf", "/etc/sysctl.conf"]
    assert boot.late_file_name(["vm.min_free_kbytes"]) == "99-zz-tuning_zz-minfree.conf"
    # letters sort after digits: "tuning.conf" beats every "99-" file
    _write(root, "etc/sysctl.d/tuning.conf", "vm.min_free_kbytes = 22528\n")
    boot = resolve_boot_sysctl(collect_sysctl_config(root))
    assert boot.systemd.value("vm.min_free_kbytes") == "22528"
    assert boot.late_file_name(["vm.min_free_kbytes"]) == "tuning_zz-minfree.conf"


def test_globs_exclusions_and_explicit_settings(tmp_path: Path) -> None:
    root = build_root(tmp_path, proc=False)
    boot = resolve_boot_sysctl(collect_sysctl_config(root))
    # 50-default.conf: "net.ipv4.conf.*.promote_secondaries = 1" and "-net.ipv4.conf.all.promote_secondaries"
    assert boot.systemd.value("net.ipv4.conf.eth0.promote_secondaries") == "1"
    assert boot.systemd.value("net.ipv4.conf.all.promote_secondaries") is None
    # an explicit setting beats a later glob under both tools (the real ones agree, below)
    _write(root, "etc/sysctl.d/10-first.conf", "vm.swappiness = 5\n")
    _write(root, "etc/sysctl.d/90-glob.conf", "vm.swap* = 50\nvm.dirty_rat* = 7\n")
    boot = resolve_boot_sysctl(collect_sysctl_config(root))
    assert boot.systemd.value("vm.swappiness") == boot.procps.value("vm.swappiness") == "5"
    resolution = boot.procps.resolve("vm.dirty_ratio")
    assert resolution.winner is not None
    assert resolution.winner.pattern == "vm.dirty_rat*"
    assert resolution.value == "7"


def test_init_detection_from_the_root(tmp_path: Path) -> None:
    root = build_root(tmp_path, "issabel-el8-partial", proc=False)
    boot = resolve_boot_sysctl(collect_sysctl_config(root))
    assert boot.init == "unknown"
    assert boot.boot_tool is None
    # both tools agree that sysctl.conf is not read by systemd without a link, but procps reads it
    assert boot.sysctl_conf_read_at_boot is None
    (root / "sbin").mkdir()
    os.symlink("../lib/systemd/systemd", root / "sbin/init")
    boot = resolve_boot_sysctl(collect_sysctl_config(root))
    assert boot.init == "systemd"
    assert boot.sysctl_conf_read_at_boot is False
    (root / "sbin/init").unlink()
    os.makedirs(root / "etc/rc.d")
    (root / "etc/rc.d/rc.sysinit").write_text("#!/bin/sh\n")
    boot = resolve_boot_sysctl(collect_sysctl_config(root))
    assert boot.init == "sysvinit"
    assert boot.boot_tool == PROCPS
    assert boot.sysctl_conf_read_at_boot is True


def test_this_host_resolves_without_error() -> None:
    boot = resolve_boot_sysctl(collect_sysctl_config("/"))
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
    boot = resolve_boot_sysctl(collect_sysctl_config(root))
    assert any(path.endswith("80-dangling.conf") and "does not exist" in why
               for path, why in boot.file_problems)
    assert boot.systemd.value("kernel.pid_max") == "4194304"


def test_missing_root_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError):
        resolve_boot_sysctl(collect_sysctl_config(tmp_path / "absent"))


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
    # the planned text is parsed as collection parses it, under the path actually read
    link = next(f for f in planned.files if f.name == "99-sysctl.conf")
    assert link.parsed is not None
    assert link.parsed.values() == {"vm.swappiness": "3"}
    assert link.parsed.source == "/etc/sysctl.conf"
    deleted = with_file(config, "/etc/sysctl.d/99-sysctl.conf", None)
    assert all(f.name != "99-sysctl.conf" for f in deleted.files)


def test_collection_parses_every_file_it_reads(tmp_path: Path) -> None:
    root = build_root(tmp_path, proc=False)
    (root / "etc/sysctl.d/70-broken.conf").write_text("vm.swappiness = 7\nnot a setting\n")
    config = collect_sysctl_config(root)
    assert isinstance(config, SysctlConfigSet)
    for config_file in (*config.files, config.sysctl_conf):
        assert config_file is not None
        assert (config_file.parsed is None) == (config_file.text is None), config_file.path
    broken = next(f for f in config.files if f.name == "70-broken.conf")
    assert broken.parsed is not None
    assert broken.parsed.values() == {"vm.swappiness": "7"}
    assert [p.line for p in broken.parsed.problems] == [2]
    # the resolver reports the problem from the parsed data, without reading the file again
    (root / "etc/sysctl.d/70-broken.conf").unlink()
    boot = resolve_boot_sysctl(config)
    assert any(p.source.endswith("70-broken.conf") and p.line == 2 for p in boot.problems)
    assert boot.systemd.value("vm.swappiness") == "7"


def test_resolving_a_root_directly_is_refused_with_the_way_to_collect_it(tmp_path: Path) -> None:
    """The earlier signature resolve_boot_sysctl(root) is gone: analysis reads no source."""
    root = build_root(tmp_path, proc=False)
    for not_collected in (root, str(root), None):
        with pytest.raises(TypeError, match="collect_sysctl_config"):
            resolve_boot_sysctl(not_collected)
    assert resolve_boot_sysctl(collect_sysctl_config(root)).systemd.files


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
    boot = resolve_boot_sysctl(collect_sysctl_config(bundle))
    assert boot.sysctl_conf_links == ("/etc/sysctl.d/99-sysctl.conf",)
    assert boot.systemd.value("vm.overcommit_memory") == "1"
    from minfree.sources.root import open_root

    assert resolve_boot_sysctl(collect_sysctl_config(open_root(bundle))).systemd.value("kernel.pid_max") == "4194304"


# ---- against the real tools: systemd-analyze cat-config and procps sysctl --system -------

import shutil  # noqa: E402
import subprocess  # noqa: E402

from minfree.apply.persist import same_value  # noqa: E402


def _scenario_root(tmp_path: Path, *, link: bool = True) -> Path:
    """The real Ubuntu stack plus every precedence case at once."""
    root = build_root(tmp_path, proc=False)
    _write(root, "run/sysctl.d/50-default.conf", "vm.swappiness = 7\n")  # shadows /usr/lib
    _write(root, "usr/lib/sysctl.d/50-pid-max.conf", "kernel.pid_max = 1\n")  # shadowed by nothing: wins
    _write(root, "etc/sysctl.d/60-db.conf",
           "vm.min_free_kbytes = 65536\nvm.dirty_ratio = 15\nvm.dirty_background_ratio = 5\n")
    _write(root, "etc/sysctl.d/99-zz-late.conf", "vm.dirty_ratio = 12\nvm.dirty_background_r* = 9\n")
    _write(root, "usr/lib/sysctl.d/60-db.conf", "vm.min_free_kbytes = 1\n")  # shadowed by /etc
    os.symlink("/dev/null", root / "etc/sysctl.d/protect-links.conf")  # masks /usr/lib's
    _write(root, "etc/sysctl.d/40-glob.conf",  # a glob, an exclusion, an explicit setting
           "net.ipv4.conf.*.promote_secondaries = 1\n-net.ipv4.conf.all.promote_secondaries\n"
           "net.ipv4.conf.lo.promote_secondaries = 0\n")
    with (root / "etc/sysctl.conf").open("a") as handle:
        handle.write("vm.min_free_kbytes = 90112\nvm.dirty_ratio = 18\n")
    if not link:
        (root / "etc/sysctl.d/99-sysctl.conf").unlink()
    return root


@pytest.mark.parametrize("link", [True, False])
def test_systemd_order_matches_systemd_analyze(tmp_path: Path, link: bool) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    root = _scenario_root(tmp_path, link=link)
    done = subprocess.run(["systemd-analyze", "cat-config", "sysctl.d", f"--root={root}", "--no-pager"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"systemd-analyze cat-config failed: {done.stderr.strip()}")
    prefix = f"# {root}"
    shown = [line[len(prefix):] for line in done.stdout.splitlines() if line.startswith(prefix + "/")]
    boot = resolve_boot_sysctl(collect_sysctl_config(root))
    masked = {"/etc/sysctl.d/protect-links.conf"}
    assert [p for p in shown if p not in masked] == list(boot.systemd.files)
    assert ("/etc/sysctl.d/99-sysctl.conf" in shown) is link
    assert boot.systemd.value("vm.dirty_ratio") == "12"


#: keys the scenario's glob matches (the fake /proc/sys has these interfaces)
GLOB_KEYS = tuple(f"net.ipv4.conf.{dev}.promote_secondaries" for dev in ("all", "default", "eth0", "lo"))


def _run_boot_tool_on_fake_proc(root: Path, tmp_path: Path, argv: list[str],
                                extra_keys: tuple[str, ...] = GLOB_KEYS) -> tuple[str, dict[str, str]]:
    """Run a real boot tool in a private mount namespace where the sysctl folders are the
    root's and ``/proc/sys`` is a plain folder of empty files: the tool "writes" there, and
    the kernel's values are never touched (procps 4.0.2 runs ``--system`` as soon as it
    parses it, so ``sysctl --system --dry-run`` writes for real: a dry-run flag is no
    guard). Returns (output, key -> value written).
    """
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare (mount namespace)")
    for host in ("/etc/sysctl.d", "/usr/lib/sysctl.d", "/etc/sysctl.conf", "/usr/local/lib", "/run"):
        if not os.path.exists(host):
            pytest.skip(f"{host} does not exist on this host (bind target)")
    if not os.path.islink("/lib"):
        pytest.skip("/lib is not a link to /usr/lib here")
    boot = resolve_boot_sysctl(collect_sysctl_config(root))
    fake = tmp_path / "fake-proc-sys"
    if fake.exists():
        shutil.rmtree(fake)
    keys = set(boot.systemd.keys()) | set(boot.procps.keys()) | set(extra_keys)
    for key in keys:
        path = fake / key.replace(".", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    marker = fake / "minfree-fake-proc-sys"
    marker.write_text("")
    guarded = {k: (Path("/proc/sys") / k.replace(".", "/")) for k in keys}
    host_before = {k: p.read_text() for k, p in guarded.items() if p.is_file()}
    script = (
        "set -e; mount --make-rprivate /; "
        f"mount --bind {fake} /proc/sys; test -e /proc/sys/minfree-fake-proc-sys; "
        f"mount --bind {root}/etc/sysctl.d /etc/sysctl.d; "
        f"mount --bind {root}/usr/lib/sysctl.d /usr/lib/sysctl.d; "
        "mount -t tmpfs none /run; mkdir -p /run/sysctl.d; "
        f"if [ -d {root}/run/sysctl.d ]; then cp -a {root}/run/sysctl.d/. /run/sysctl.d/; fi; "
        "mount -t tmpfs none /usr/local/lib; mkdir -p /usr/local/lib/sysctl.d; "
        f"if [ -d {root}/usr/local/lib/sysctl.d ]; then "
        f"cp -a {root}/usr/local/lib/sysctl.d/. /usr/local/lib/sysctl.d/; fi; "
        f"mount --bind {root}/etc/sysctl.conf /etc/sysctl.conf; "
        'exec "$@"'
    )
    done = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", *argv],
                          capture_output=True, text=True)
    host_after = {k: p.read_text() for k, p in guarded.items() if p.is_file()}
    assert host_after == host_before, "the kernel's values changed: the fake /proc/sys leaked"
    if not marker.exists() or ("Applying" not in done.stdout + done.stderr and done.returncode == 127):
        pytest.skip(f"could not run {argv[0]} in a mount namespace: {done.stderr.strip()[:200]}")
    written = {k: " ".join((fake / k.replace(".", "/")).read_text().split()) for k in keys}
    return done.stdout + done.stderr, {k: v for k, v in written.items() if v}


@pytest.mark.parametrize("link", [True, False])
def test_procps_order_and_values_match_real_sysctl_system(tmp_path: Path, link: bool) -> None:
    if shutil.which("sysctl") is None:
        pytest.skip("procps sysctl is not installed")
    root = _scenario_root(tmp_path, link=link)
    output, written = _run_boot_tool_on_fake_proc(root, tmp_path, ["sysctl", "-e", "--system"])
    files = [line[len("* Applying "):-len(" ...")] for line in output.splitlines()
             if line.startswith("* Applying ")]
    boot = resolve_boot_sysctl(collect_sysctl_config(root))
    assert [f for f in files if f != "/etc/sysctl.d/protect-links.conf"] == list(boot.procps.files)
    assert written["vm.min_free_kbytes"] == "90112"  # sysctl.conf last, with or without the link
    assert written["vm.dirty_ratio"] == "18"
    assert written["vm.dirty_background_ratio"] == "5"  # explicit beats the later glob
    for key in set(boot.procps.keys()) | set(written) | set(GLOB_KEYS):
        assert same_value(boot.procps.value(key), written.get(key)), key


@pytest.mark.parametrize("link", [True, False])
def test_systemd_values_match_real_systemd_sysctl(tmp_path: Path, link: bool) -> None:
    binary = next((p for p in ("/lib/systemd/systemd-sysctl", "/usr/lib/systemd/systemd-sysctl")
                   if os.path.exists(p)), None)
    if binary is None:
        pytest.skip("systemd-sysctl is not installed")
    root = _scenario_root(tmp_path, link=link)
    _output, written = _run_boot_tool_on_fake_proc(root, tmp_path, [binary])
    boot = resolve_boot_sysctl(collect_sysctl_config(root))
    assert written["vm.dirty_ratio"] == "12"  # 99-zz-late.conf sorts after 99-sysctl.conf
    assert written["vm.dirty_background_ratio"] == "5"  # systemd: explicit beats any glob
    assert written.get("vm.min_free_kbytes") == ("90112" if link else "65536")
    for key in set(boot.systemd.keys()) | set(written) | set(GLOB_KEYS):
        assert same_value(boot.systemd.value(key), written.get(key)), key
    # the glob sets eth0 and default, the exclusion keeps "all" out, lo's explicit 0 wins
    assert [written.get(k) for k in GLOB_KEYS] == [None, "1", "1", "0"]


# ---- random stacks against both real tools (property test) ------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_KEYS = ("vm.swappiness", "vm.dirty_ratio", "vm.dirty_background_ratio", "vm.min_free_kbytes")
_LINES = st.one_of(
    st.tuples(st.sampled_from(_KEYS), st.integers(0, 99)).map(lambda kv: f"{kv[0]} = {kv[1]}"),
    st.sampled_from(["vm.dirty_* = 33", "vm.*_ratio = 44", "-vm.dirty_ratio", "# comment",
                     "-vm.swappiness = 55", "vm/min_free_kbytes=77", "-vm.dirty_b*",
                     "-vm.swappiness"]),
)
_FILE = st.tuples(
    st.sampled_from(["etc/sysctl.d", "run/sysctl.d", "usr/local/lib/sysctl.d", "usr/lib/sysctl.d"]),
    st.sampled_from(["10-a", "50-b", "99-sysctl", "99-zz", "Zeta", "zz"]),
    st.lists(_LINES, max_size=4),
    st.booleans(),  # mask with /dev/null (only meaningful in /etc)
)


@pytest.mark.slow
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.lists(_FILE, max_size=7), conf=st.lists(_LINES, max_size=3), link=st.booleans())
def test_random_stacks_match_both_real_tools(tmp_path_factory: pytest.TempPathFactory,
                                             files: list, conf: list, link: bool) -> None:  # type: ignore[type-arg]
    if os.geteuid() != 0 or shutil.which("sysctl") is None or shutil.which("unshare") is None:
        pytest.skip("needs root, unshare and procps sysctl")
    binary = next((p for p in ("/lib/systemd/systemd-sysctl", "/usr/lib/systemd/systemd-sysctl")
                   if os.path.exists(p)), None)
    if binary is None:
        pytest.skip("systemd-sysctl is not installed")
    tmp = tmp_path_factory.mktemp("stack")
    root = tmp / "root"
    for folder in ("etc/sysctl.d", "run/sysctl.d", "usr/local/lib/sysctl.d", "usr/lib/sysctl.d"):
        (root / folder).mkdir(parents=True)
    (root / "etc/sysctl.conf").write_text("".join(f"{line}\n" for line in conf))
    if link:
        os.symlink("../sysctl.conf", root / "etc/sysctl.d/99-sysctl.conf")
    for folder, stem, lines, mask in files:
        path = root / folder / f"{stem}.conf"
        if path.exists() or path.is_symlink():
            continue
        if mask and folder == "etc/sysctl.d":
            os.symlink("/dev/null", path)
        else:
            path.write_text("".join(f"{line}\n" for line in lines))
    boot = resolve_boot_sysctl(collect_sysctl_config(root))
    for tool, argv in (("systemd", [binary]), ("procps", ["sysctl", "-e", "-q", "--system"])):
        _out, written = _run_boot_tool_on_fake_proc(root, tmp / tool, argv, extra_keys=_KEYS)
        stack = boot.systemd if tool == "systemd" else boot.procps
        for key in _KEYS:
            assert same_value(stack.value(key), written.get(key)), (tool, key, stack.resolve(key))


@pytest.mark.parametrize(
    ("comm", "init", "tool"),
    [("systemd", "systemd", SYSTEMD), ("init", "sysvinit", PROCPS), ("process_api", "other", None)],
)
def test_pid_1_decides_the_init(tmp_path: Path, comm: str, init: str, tool: str | None) -> None:
    root = build_root(tmp_path, proc=False)  # its dmesg-free copy still ships systemd's files
    _write(root, "proc/1/comm", f"{comm}\n")
    boot = resolve_boot_sysctl(collect_sysctl_config(root))
    assert (boot.init, boot.boot_tool) == (init, tool)
    assert boot.init_reason == f"/proc/1/comm is {comm!r}"


def test_huge_and_binary_files_are_problems_not_crashes(tmp_path: Path) -> None:
    root = build_root(tmp_path, proc=False)
    (root / "etc/sysctl.d/70-huge.conf").write_bytes(b"vm.swappiness = 1\n" * 300_000)  # 5.4 MB
    (root / "etc/sysctl.d/71-binary.conf").write_bytes(bytes(range(256)) * 4)
    (root / "etc/sysctl.d/72-dir.conf").mkdir()
    boot = resolve_boot_sysctl(collect_sysctl_config(root))
    problems = dict(boot.file_problems)
    assert "not read" in problems["/etc/sysctl.d/70-huge.conf"]
    assert problems["/etc/sysctl.d/72-dir.conf"] == "is a directory"
    assert any(p.source == "/etc/sysctl.d/71-binary.conf" for p in boot.problems)
    assert boot.systemd.value("vm.swappiness") is None
    assert boot.systemd.value("kernel.pid_max") == "4194304"
