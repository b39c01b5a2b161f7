"""Build the plan of one ``minfree apply``: changes, watermarks after, cost, file edits, checks.

Nothing here writes. The plan is complete before anything is touched, so ``--dry-run``
shows exactly what a real run would do, and a refusal leaves the host as it was:

1. each requested key is validated (known key, integer value, kernel range for the root's
   release) and its current runtime value read from ``<root>/proc/sys``;
2. the per-zone watermarks today (``/proc/zoneinfo``) and after the change (the kernel model,
   :func:`minfree.kernel.watermarks.predict_host`), and what the change takes from
   applications (the rise of the HIGH watermarks: kswapd keeps that much free);
3. the file edits (:mod:`minfree.apply.persist`) and the boot values they lead to under
   systemd-sysctl and procps;
4. the safety rules (:mod:`minfree.apply.safety`).

    plan = build_plan("/", {"vm.min_free_kbytes": "90112"}, persist="sysctl.d")
    print(render_plan(plan))        # minfree.outputs.apply_text
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from minfree.apply import safety
from minfree.apply.journal import STATE_DIR, new_id
from minfree.apply.persist import PersistPlan, format_value, plan_persist, same_value
from minfree.errors import ParseError, RefusedError, SourceError, UsageError
from minfree.kernel import sysctl_catalog as catalog
from minfree.kernel.release import KernelRelease

#: Keys that move the watermarks (the plan shows zones for these).
WATERMARK_KEYS = ("vm.min_free_kbytes", "vm.watermark_scale_factor", "vm.lowmem_reserve_ratio")


@dataclass(frozen=True)
class Change:
    """One runtime change. ``current`` is None when the root has no runtime value."""

    key: str
    current: str | None
    new: str
    proc_path: str
    unit: str
    default: str | None = None
    #: the value in a captured ``sysctl -a`` when the root has no runtime (a sosreport)
    captured: str | None = None

    @property
    def changes_runtime(self) -> bool:
        return self.current is None or not same_value(self.current, self.new)


@dataclass(frozen=True)
class ZoneWatermarks:
    """One zone's watermarks (pages) today and after the change."""

    node: int
    zone: str
    managed_pages: int
    free_pages: int | None
    now: tuple[int, int, int]
    after: tuple[int, int, int]


@dataclass(frozen=True)
class HostFacts:
    """What the plan read from the root (memory sizes in kB, zones from zoneinfo)."""

    root: Path
    live: bool
    release: KernelRelease | None
    page_size_bytes: int
    mem_total_kb: int | None
    mem_available_kb: int | None
    zones: tuple[object, ...] = ()
    sysctl: Mapping[str, str] = field(default_factory=dict)
    thp_enabled: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApplyPlan:
    """Everything ``apply`` will do, and everything that stops it."""

    id: str
    timestamp: str
    facts: HostFacts
    changes: tuple[Change, ...]
    persist: PersistPlan
    zones: tuple[ZoneWatermarks, ...]
    taken_kb: int | None
    totalreserve_delta_kb: int | None
    new_high_total_kb: int | None
    refusals: tuple[safety.Refusal, ...]
    cautions: tuple[safety.Caution, ...]
    reason: str

    @property
    def root(self) -> Path:
        return self.facts.root

    @property
    def live(self) -> bool:
        return self.facts.live

    @property
    def allowed(self) -> bool:
        return not self.refusals

    def refuse_if_needed(self) -> None:
        """Raise :class:`RefusedError` with every broken rule (one line each)."""
        if self.refusals:
            raise RefusedError("; ".join(r.text() for r in self.refusals))

    @property
    def does_nothing(self) -> bool:
        return not any(c.changes_runtime for c in self.changes) and not self.persist.edits


def _read(root: Path, rel: str) -> str | None:
    try:
        return (root / rel).read_text(errors="replace")
    except OSError:
        return None


def _release(root: Path, live: bool) -> KernelRelease | None:
    if live:
        return KernelRelease.try_parse(os.uname().release)
    text = _read(root, "proc/sys/kernel/osrelease")
    if text:
        return KernelRelease.try_parse(text.strip())
    uname = _read(root, "sos_commands/kernel/uname_-a")
    if uname and len(uname.split()) > 2:
        return KernelRelease.try_parse(uname.split()[2])
    return None


def read_facts(root: Path, live: bool) -> HostFacts:
    """Memory, zones, vm sysctls, THP mode and release of a root (missing parts are noted)."""
    from minfree.parsers.meminfo import parse_meminfo
    from minfree.parsers.zoneinfo import parse_zoneinfo

    notes: list[str] = []
    mem_total = mem_available = None
    text = _read(root, "proc/meminfo")
    if text is not None:
        try:
            meminfo = parse_meminfo(text, source=str(root / "proc/meminfo"))
            mem_total, mem_available = meminfo.total_kb, meminfo.available_kb
        except ParseError as error:
            notes.append(f"proc/meminfo unreadable: {error}")
    else:
        notes.append("no proc/meminfo: RAM size taken from zoneinfo, MemAvailable unknown")
    zones: tuple[object, ...] = ()
    text = _read(root, "proc/zoneinfo")
    if text is not None:
        try:
            zones = tuple(parse_zoneinfo(text, source=str(root / "proc/zoneinfo")).zones)
        except ParseError as error:
            notes.append(f"proc/zoneinfo unreadable: {error}")
    else:
        notes.append("no proc/zoneinfo: watermarks after the change cannot be shown")
    page_size = os.sysconf("SC_PAGE_SIZE") if live else 4096
    if mem_total is None and zones:
        managed = sum(int(getattr(z, "managed_pages", 0) or 0) for z in zones)
        mem_total = managed * page_size // 1024 or None
    sysctl: dict[str, str] = {}
    vm = root / "proc/sys/vm"
    captured = _read(root, "sos_commands/kernel/sysctl_-a")
    if not vm.is_dir() and captured:
        from minfree.parsers.sysctl import parse_sysctl_a

        try:
            sysctl.update(parse_sysctl_a(captured).values)
            notes.append("current values from sos_commands/kernel/sysctl_-a (a capture: no runtime here)")
        except ParseError as error:
            notes.append(f"sos_commands/kernel/sysctl_-a unreadable: {error}")
    if vm.is_dir():
        for entry in sorted(os.listdir(vm)):
            if entry in ("drop_caches", "compact_memory", "stat_refresh"):
                continue  # write-only triggers: reading them is pointless or an action
            value = _read(root, f"proc/sys/vm/{entry}")
            if value is not None:
                sysctl[f"vm.{entry}"] = " ".join(value.split())
    thp = _read(root, "sys/kernel/mm/transparent_hugepage/enabled")
    thp_mode = None
    if thp and "[" in thp:
        thp_mode = thp.split("[", 1)[1].split("]", 1)[0]
    return HostFacts(root, live, _release(root, live), page_size, mem_total, mem_available,
                     zones, sysctl, thp_mode, tuple(notes))


def _proc_value(root: Path, spec: catalog.SysctlSpec) -> str | None:
    text = _read(root, spec.proc_path)
    return None if text is None else " ".join(text.split())


def normalize_request(
    requested: Mapping[str, str], release: KernelRelease | None
) -> tuple[dict[str, str], list[safety.Refusal]]:
    """Validated, canonical values (dotted key -> text) and kernel-range refusals.

    Unknown keys, write-only keys and non-integer values raise :class:`UsageError`.
    """
    values: dict[str, str] = {}
    refusals: list[safety.Refusal] = []
    for raw_key, raw_value in requested.items():
        spec = catalog.lookup(raw_key)
        if spec is None:
            known = ", ".join(k for k, s in catalog.CATALOG.items() if s.persistable)
            raise UsageError(f"unknown key {raw_key!r}: minfree sets only {known}")
        if not spec.persistable:
            raise UsageError(f"{spec.key} is an action, not a setting: use `minfree drop-caches`")
        text = str(raw_value).strip()
        try:
            numbers = catalog.parse_int_value(spec, text)
        except ValueError as error:
            raise UsageError(f"{spec.key}={text!r}: {error}") from None
        problem = catalog.validate(spec.key, text, release)
        if problem is None and any(n < 0 for n in numbers):
            problem = f"{spec.key} cannot be negative (was {text})"
        if problem is not None:
            refusals.append(safety.Refusal("kernel-range", problem))
            continue
        if spec.key in values:
            raise UsageError(f"{spec.key} given twice")
        values[spec.key] = format_value(spec.key, text)
    if not values and not refusals:
        raise UsageError("nothing to apply: give --min-free-kbytes, --watermark-scale-factor, "
                         "--swappiness, --vfs-cache-pressure or --set KEY=VALUE")
    return values, refusals


def _watermarks(facts: HostFacts, new_values: Mapping[str, str]) -> tuple[
    tuple[ZoneWatermarks, ...], int | None, int | None, int | None, list[safety.Caution]
]:
    """Zones now and after, kB taken from applications, totalreserve change, new HIGH total."""
    from minfree.kernel.watermarks import memory_taken_from_applications, predict_host

    cautions: list[safety.Caution] = []
    if not facts.zones or not any(k in new_values for k in WATERMARK_KEYS):
        return (), None, None, None, cautions
    sysctl_after = dict(facts.sysctl)
    sysctl_after.update(new_values)
    try:
        before = predict_host(facts.zones, facts.sysctl, release=facts.release,  # type: ignore[arg-type]
                              page_size_bytes=facts.page_size_bytes)
        after = predict_host(facts.zones, sysctl_after, release=facts.release,  # type: ignore[arg-type]
                             page_size_bytes=facts.page_size_bytes)
    except ValueError as error:
        cautions.append(safety.Caution("watermarks-unknown", f"cannot predict watermarks: {error}"))
        return (), None, None, None, cautions
    kib = facts.page_size_bytes // 1024
    by_key = {(getattr(z, "node", 0), getattr(z, "name", "")): z for z in facts.zones}
    zones = []
    for now, new in zip(before, after, strict=True):
        zone = by_key.get(new.key)
        printed = (
            (int(zone.min_pages), int(zone.low_pages), int(zone.high_pages))  # type: ignore[attr-defined]
            if zone is not None else (now.min_pages, now.low_pages, now.high_pages)
        )
        zones.append(ZoneWatermarks(
            new.node, new.zone, new.size_pages,
            getattr(zone, "free_pages", None),
            printed, (new.min_pages, new.low_pages, new.high_pages),
        ))
    change = memory_taken_from_applications(before, after)
    new_high = sum(w.high_pages for w in after) * kib
    return tuple(zones), change.high_pages * kib, change.totalreserve_pages * kib, new_high, cautions


def _tuned_caution(root: Path, persist: str) -> safety.Caution | None:
    """tuned rewrites sysctls when it (re)starts; say what that means for this change."""
    profile = _read(root, "etc/tuned/active_profile")
    if profile is None or not profile.strip():
        return None
    main_conf = _read(root, "etc/tuned/tuned-main.conf") or ""
    reapply = True
    for line in main_conf.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "reapply_sysctl":
            reapply = value.strip() not in ("0", "false", "no", "off")
    if persist == "none":
        keeps = "the runtime value lasts until tuned restarts or the host reboots"
    elif reapply:
        keeps = ("tuned re-applies /etc/sysctl.d and /etc/sysctl.conf after its profile "
                 "(reapply_sysctl = 1), so the persisted value wins")
    else:
        keeps = ("reapply_sysctl = 0 in tuned-main.conf: tuned's profile value wins whenever "
                 "tuned starts; set the value in the profile instead")
    return safety.Caution(
        "tuned-active",
        f"tuned profile {profile.strip()!r} is active: it writes its sysctls when it (re)starts; {keeps}")


def _cautions(facts: HostFacts, changes: list[Change]) -> list[safety.Caution]:
    found: list[safety.Caution] = []
    for change in changes:
        spec = catalog.lookup(change.key)
        if spec is None:
            continue
        if change.key == "vm.min_free_kbytes" and facts.zones:
            from minfree.kernel.min_free import (
                default_min_free_kbytes,
                thp_active,
                thp_recommended_min_free_kbytes,
            )

            new = int(change.new)
            default = default_min_free_kbytes(facts.zones, page_size_bytes=facts.page_size_bytes,
                                              release=facts.release)
            if new < default:
                found.append(safety.Caution(
                    "below-kernel-default",
                    f"vm.min_free_kbytes {new} kB is below the kernel's own default for this "
                    f"host ({default} kB, 4*sqrt(lowmem kB)): atomic allocations get less reserve "
                    "than an untuned kernel gives them"))
            if thp_active(facts.thp_enabled):
                recommended = thp_recommended_min_free_kbytes(
                    facts.zones, page_size_bytes=facts.page_size_bytes, release=facts.release)
                if new < recommended:
                    found.append(safety.Caution(
                        "below-thp-recommendation",
                        f"THP is {facts.thp_enabled!r}: khugepaged raises vm.min_free_kbytes to "
                        f"{recommended} kB whenever it (re)starts, so {new} kB may not last"))
        elif spec.default is not None and spec.kind == "int" and change.key in (
            "vm.watermark_scale_factor", "vm.vfs_cache_pressure"
        ):
            default = catalog.default_for(spec, facts.release)
            if default is not None and int(change.new) < int(default):
                found.append(safety.Caution(
                    "below-kernel-default",
                    f"{change.key} {change.new} is below the kernel default {default}"))
    return found


def build_plan(
    root: str | os.PathLike[str] | None,
    requested: Mapping[str, str],
    *,
    persist: str = "sysctl.d",
    fix_conflicts: bool = False,
    allow_high: bool = False,
    reason: str | None = None,
    journal_id: str | None = None,
) -> ApplyPlan:
    """The plan for ``requested`` (key -> value text) on ``root`` (None or "/" = this host).

    Raises :class:`SourceError` for a missing or unusable root and :class:`UsageError` for a
    bad key or value; safety refusals are returned in the plan (``refuse_if_needed``), so a
    dry run can show them next to the plan.
    """
    root_path, live = resolve_root(root)
    facts = read_facts(root_path, live)
    values, refusals = normalize_request(requested, facts.release)
    proc_vm = root_path / "proc/sys/vm"
    has_runtime = proc_vm.is_dir()
    changes: list[Change] = []
    cautions: list[safety.Caution] = []
    for key, value in values.items():
        spec = catalog.CATALOG[key]
        current = _proc_value(root_path, spec) if has_runtime else None
        if has_runtime and current is None:
            raise UsageError(f"{key} does not exist on this kernel ({root_path / spec.proc_path} is absent)")
        changes.append(Change(key, current, value, "/" + spec.proc_path, spec.unit,
                              catalog.default_for(spec, facts.release),
                              captured=None if has_runtime else facts.sysctl.get(key)))
    if not has_runtime:
        if persist == "none":
            raise UsageError(f"{root_path} has no proc/sys/vm and --persist none: nothing to change")
        cautions.append(safety.Caution("no-runtime", f"{root_path} has no proc/sys/vm (an offline "
                                       "image?): only the files are changed"))

    zones, taken_kb, reserve_kb, new_high_kb, more = _watermarks(facts, values)
    cautions.extend(more)
    cautions.extend(_cautions(facts, changes))
    tuned = _tuned_caution(root_path, persist)
    if tuned:
        cautions.append(tuned)

    if "vm.min_free_kbytes" in values:
        refusal = safety.check_min_free(int(values["vm.min_free_kbytes"]),
                                        mem_total_kb=facts.mem_total_kb, allow_high=allow_high)
        if refusal:
            refusals.append(refusal)
    if new_high_kb is not None:
        refusal = safety.check_high_watermarks(new_high_kb, facts.mem_available_kb)
        if refusal:
            refusals.append(refusal)
    refusal = safety.check_root_user(live)
    if refusal:
        refusals.append(refusal)
    if has_runtime:
        refusal = safety.check_proc_writable(
            [root_path / c.proc_path.lstrip("/") for c in changes if c.changes_runtime], live=live)
        if refusal:
            refusals.append(refusal)
    refusal = safety.check_journal_writable(root_path / STATE_DIR)
    if refusal:
        refusals.append(refusal)

    from minfree.sources.sysctl_config import collect_sysctl_config

    timestamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    journal_id = journal_id or new_id()
    why = reason or "requested with minfree apply"
    config = collect_sysctl_config(root_path)
    persist_plan = plan_persist(config, values, mode=persist, fix_conflicts=fix_conflicts,
                                journal_id=journal_id, timestamp=timestamp, reason=why)
    if persist_plan.edits:
        refusal = safety.check_persist_writable([root_path / e.path.lstrip("/") for e in persist_plan.edits])
        if refusal:
            refusals.append(refusal)
    return ApplyPlan(
        id=journal_id,
        timestamp=timestamp,
        facts=facts,
        changes=tuple(changes),
        persist=persist_plan,
        zones=zones,
        taken_kb=taken_kb,
        totalreserve_delta_kb=reserve_kb,
        new_high_total_kb=new_high_kb,
        refusals=tuple(refusals),
        cautions=tuple(cautions),
        reason=why,
    )


def resolve_root(root: str | os.PathLike[str] | None) -> tuple[Path, bool]:
    """(directory, live) for a writable root; bundles and missing paths are errors."""
    if root is None or os.fspath(root) in ("", "/"):
        return Path("/"), True
    path = Path(os.fspath(root))
    if not path.exists():
        raise SourceError(f"{path}: no such directory")
    if not path.is_dir():
        raise UsageError(f"{path}: apply needs a directory root (a bundle is read-only)")
    if os.path.realpath(path) == "/":
        return Path("/"), True
    return path, False
