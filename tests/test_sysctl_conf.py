"""sysctl.conf / sysctl.d syntax, on real files from the fixture roots and on edge cases."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import FIXTURES
from minfree.kernel import sysctl_catalog as catalog
from minfree.parsers.sysctl_conf import parse_sysctl_conf, setting_line_numbers

ROOTS = FIXTURES / "roots"


def test_real_systemd_default_file_globs_exclusions_and_ignore_prefix() -> None:
    text = (ROOTS / "hotsos-kubernetes-5.4.0-99/usr/lib/sysctl.d/50-default.conf").read_text()
    conf = parse_sysctl_conf(text, source="/usr/lib/sysctl.d/50-default.conf")
    by_key = {a.key: a for a in conf.assignments}
    assert by_key["net.ipv4.conf.default.promote_secondaries"].value == "1"
    assert by_key["net.ipv4.conf.*.promote_secondaries"].is_glob
    # "-net.ipv4.ping_group_range = 0 2147483647": ignore-failure, vector value kept as written
    ping = by_key["net.ipv4.ping_group_range"]
    assert ping.ignore_failure
    assert ping.value == "0 2147483647"
    assert ping.line == 25
    # "-net.ipv4.conf.all.promote_secondaries" without '=' is a glob exclusion (systemd)
    assert [e.pattern for e in conf.exclusions] == ["net.ipv4.conf.all.promote_secondaries"]
    assert conf.problems == ()


def test_real_charm_file_key_equals_value_without_spaces() -> None:
    text = (ROOTS / "hotsos-kubernetes-5.4.0-99/etc/sysctl.d/50-kubernetes-charm.conf").read_text()
    conf = parse_sysctl_conf(text)
    assert conf.values()["vm.overcommit_memory"] == "1"
    assert conf.values()["fs.inotify.max_user_watches"] == "1048576"
    assert len(conf.assignments) == 12


def test_every_fixture_sysctl_file_parses_without_problems() -> None:
    files = [p for p in ROOTS.glob("*/etc/sysctl.d/*.conf")] + list(ROOTS.glob("*/etc/sysctl.conf"))
    files += list(ROOTS.glob("*/usr/lib/sysctl.d/*.conf"))
    assert len(files) > 30
    for path in files:
        text = path.read_text()  # 99-sysctl.conf links to ../sysctl.conf: parsed through it
        problems = parse_sysctl_conf(text, str(path)).problems
        if path.name == "50-ceph-osd-charm.conf":
            # real charm file: "kernel.threads-max=2097152 # A comment for testing"
            assert [(p.line, "not a comment" in p.message) for p in problems] == [(3, True)]
            continue
        assert problems == (), path


def test_comments_separators_and_slashes() -> None:
    text = "\n".join(
        [
            "# comment",
            "; also a comment",
            "   ",
            "vm.swappiness=10",
            "vm/min_free_kbytes = 65536",
            "  vm.vfs_cache_pressure   =   50  ",
            "net/ipv4/conf/eth0.100/rp_filter = 2",
            "vm.lowmem_reserve_ratio = 256\t256   32 0 0",
            "vm.swappiness = 20",
        ]
    )
    conf = parse_sysctl_conf(text, "t.conf")
    assert conf.values() == {
        "vm.swappiness": "20",
        "vm.min_free_kbytes": "65536",
        "vm.vfs_cache_pressure": "50",
        "net.ipv4.conf.eth0/100.rp_filter": "2",
        "vm.lowmem_reserve_ratio": "256\t256   32 0 0",
    }
    assert setting_line_numbers(text, "vm.swappiness") == [4, 9]
    assert setting_line_numbers(text, "vm/min_free_kbytes") == [5]


def test_inline_hash_is_part_of_the_value_and_reported() -> None:
    conf = parse_sysctl_conf("vm.swappiness = 10 # keep low\n", "x.conf")
    assert conf.values()["vm.swappiness"] == "10 # keep low"
    assert "not a comment" in conf.problems[0].message
    assert conf.problems[0].line == 1


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("vm.swappiness", "no '='"),
        ("= 10", "invalid key"),
        ("vm swappiness = 10", "invalid key"),
        ("vm.swappiness =", "empty value"),
    ],
)
def test_bad_lines_become_problems_with_line_numbers(line: str, why: str) -> None:
    conf = parse_sysctl_conf(f"# first\n{line}\n", "bad.conf")
    assert conf.problems, line
    assert conf.problems[0].line == 2
    assert why in conf.problems[0].message


def test_crlf_and_binary_garbage_never_raise() -> None:
    conf = parse_sysctl_conf("vm.swappiness = 5\r\n\x00\x01garbage\r\n", "crlf.conf")
    assert conf.values() == {"vm.swappiness": "5"}
    assert len(conf.problems) == 1


@given(st.text(max_size=400))
def test_parser_never_raises_on_any_text(text: str) -> None:
    conf = parse_sysctl_conf(text, "fuzz.conf")
    for assignment in conf.assignments:
        assert "=" not in assignment.key
        assert assignment.line >= 1


# ---- catalog -------------------------------------------------------------------------


def test_catalog_ranges_by_era() -> None:
    wsf = catalog.lookup("vm.watermark_scale_factor")
    assert wsf is not None
    assert catalog.value_range(wsf, (4, 19, 0)) == (1, 1000)
    assert catalog.value_range(wsf, (6, 18, 0)) == (1, 3000)
    # unverified boundary between 5.5 and 5.14: never refuse what the kernel may accept
    assert catalog.value_range(wsf, (5, 10, 0)) == (1, 3000)
    assert catalog.value_range(wsf, None) == (1, 3000)
    swappiness = catalog.lookup("swappiness")
    assert swappiness is not None
    assert swappiness.key == "vm.swappiness"
    assert catalog.value_range(swappiness, (5, 7, 0)) == (0, 100)
    assert catalog.value_range(swappiness, (5, 8, 0)) == (0, 200)
    assert catalog.validate("vm.extfrag_threshold", "1001", (6, 1, 0))
    assert catalog.validate("vm.min_free_kbytes", "-1", None)
    assert catalog.validate("vm.min_free_kbytes", "12x", None)
    assert catalog.validate("vm.min_free_kbytes", "65536", None) is None
    assert catalog.validate("vm.watermark_boost_factor", "0", (4, 19, 0)) is not None  # 5.0+
    assert catalog.validate("vm.lowmem_reserve_ratio", "256 256 32 0 0", None) is None
    assert catalog.default_for(catalog.CATALOG["net.core.somaxconn"], (4, 19, 0)) == "128"
    assert catalog.default_for(catalog.CATALOG["net.core.somaxconn"], (5, 4, 0)) == "4096"


def test_catalog_matches_this_kernels_sysctl_files() -> None:
    """Every catalog key that exists here has the kernel's default where it is a constant."""
    import os
    from pathlib import Path

    release = tuple(int(x) for x in os.uname().release.split("-")[0].split(".")[:3])
    checked = 0
    for key in ("vm.watermark_scale_factor", "vm.extfrag_threshold", "vm.lowmem_reserve_ratio",
                "vm.overcommit_ratio", "vm.max_map_count"):
        path = Path("/proc/sys") / key.replace(".", "/")
        if not path.exists():
            continue
        spec = catalog.CATALOG[key]
        value = path.read_text().split()
        # defaults only where this CI host keeps them (it does not tune these)
        if key == "vm.lowmem_reserve_ratio":
            assert value == (spec.default or "").split()
        else:
            assert catalog.validate(key, value[0], release) is None
        checked += 1
    assert checked >= 3


@pytest.mark.live
def test_catalog_ranges_match_this_kernel(vm_sysctl_writer) -> None:  # type: ignore[no-untyped-def]
    """The kernel accepts the catalog's bound and rejects one past it (EINVAL), for this
    release; values are restored by the fixture. Bounds far above today's value are probed
    only on the reject side, or with values that keep kswapd idle on this mostly-free host.
    """
    import errno

    release = tuple(int(x) for x in os.uname().release.split("-")[0].split(".")[:3])

    def write(key: str, value: str) -> int:
        fd = os.open(f"/proc/sys/vm/{key}", os.O_WRONLY)
        try:
            os.write(fd, f"{value}\n".encode())
            return 0
        except OSError as error:
            return error.errno or -1
        finally:
            os.close(fd)

    cases = {
        "watermark_scale_factor": ("1001", "0"),  # > 1000 accepted (5.15+), 0 rejected
        "swappiness": ("200", "201"),
        "extfrag_threshold": ("1000", "1001"),
        "compaction_proactiveness": ("100", "101"),
        "overcommit_memory": ("2", "3"),
    }
    for key, (accepted, rejected) in cases.items():
        spec = catalog.CATALOG[f"vm.{key}"]
        vm_sysctl_writer.write(key, vm_sysctl_writer.read(key))  # register the original
        low, high = catalog.value_range(spec, release)
        assert write(key, accepted) == 0, key
        assert vm_sysctl_writer.read(key) == accepted
        assert write(key, rejected) == errno.EINVAL, key
        assert vm_sysctl_writer.read(key) == accepted  # a rejected write changes nothing
        assert low <= int(accepted) <= high
        assert not low <= int(rejected) <= high
        vm_sysctl_writer.write(key, vm_sysctl_writer.originals[key])
    # the upper bound of watermark_scale_factor itself: 3001 is rejected
    assert write("watermark_scale_factor", "3001") == errno.EINVAL
    assert write("min_free_kbytes", "-1") == errno.EINVAL
    assert catalog.value_range(catalog.CATALOG["vm.watermark_scale_factor"], release) == (1, 3000)
