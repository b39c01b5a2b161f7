"""Read everything the doctor needs from one host or bundle: :func:`collect_host_inputs`.

The one place the doctor's pipeline touches a source: the host snapshot
(:func:`minfree.sources.snapshot.read_snapshot`), the kernel logs
(:func:`minfree.sources.kernel_logs.read_failure_reports`), the sysctl configuration files
(:func:`minfree.sources.sysctl_config.collect_sysctl_config`), a second ``/proc/vmstat``
sample and aerospike.conf. The result, a :class:`~minfree.model.host_inputs.HostInputs`, is
explained by :func:`minfree.analysis.diagnosis.diagnose` without reading anything::

    inputs = collect_host_inputs("tests/fixtures/scenarios/kswapd-behind")
    diagnosis = diagnose(inputs)

A part of the host that cannot be read becomes a ``missing`` entry, never a crash: a partial
bundle still gets a diagnosis, with its blind spots named. Explicit inputs the user named
(``logs``, ``vmstat_second``, ``aerospike_conf``) raise :class:`~minfree.errors.SourceError`
when unreadable, because that is the user's mistake to fix.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from minfree.errors import MinfreeError, SourceError
from minfree.model.host import Missing
from minfree.model.host_inputs import HostInputs

log = logging.getLogger(__name__)

#: Where a bundle keeps a second /proc/vmstat sample, and the uptimes that time it.
SECOND_VMSTAT_PATHS: tuple[str, ...] = ("proc/vmstat.2",)
UPTIME_PATHS: tuple[str, str] = ("proc/uptime", "proc/uptime.2")
#: aerospike.conf locations looked for in a root when --profile aerospike has no path.
AEROSPIKE_CONF_PATHS: tuple[str, ...] = ("etc/aerospike/aerospike.conf",)
#: Folders whose presence shows a bundle captured its sysctl configuration.
SYSCTL_CONFIG_PATHS: tuple[str, ...] = (
    "etc/sysctl.conf", "etc/sysctl.d", "usr/lib/sysctl.d", "lib/sysctl.d", "run/sysctl.d",
    "usr/local/lib/sysctl.d")


def _safely(component: str, missing: list[Missing], fn: Callable[..., Any], *args: Any,
            **kwargs: Any) -> Any:
    """Run one reading step; a failure becomes a ``missing`` entry named ``component``."""
    try:
        return fn(*args, **kwargs)
    except MinfreeError as error:
        missing.append(Missing(component, str(error)))
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError,
            ZeroDivisionError, ArithmeticError, UnicodeError) as error:
        log.debug("%s failed", component, exc_info=True)
        missing.append(Missing(component, f"could not be read ({type(error).__name__}: "
                                          f"{error})"))
    return None


def _uptime_seconds(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return float(text.split()[0])
    except (ValueError, IndexError):
        return None


def _read_user_file(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError as error:
        raise SourceError(f"cannot read {path}: {error.strerror}") from error


def collect_host_inputs(
    root: Any = None,
    *,
    logs: Sequence[str] | None = None,
    interval_s: float | None = None,
    vmstat_second: str | None = None,
    aerospike_conf: str | None = None,
    profile: str = "generic",
    sleep: Callable[[float], None] | None = None,
) -> HostInputs:
    """Read a host (None = this one, a path, or an opened Root) and its logs.

    Logs: ``logs`` when given; otherwise the live host's kernel ring buffer, or the
    bundle's own log files. A second vmstat sample comes from ``vmstat_second`` (a file),
    else a bundle's ``proc/vmstat.2`` (timed by ``proc/uptime`` and ``proc/uptime.2``, or by
    ``interval_s``), else on the live host from sleeping ``interval_s`` seconds (``sleep``
    replaces :func:`time.sleep` in tests) and reading ``/proc/vmstat`` again.
    aerospike.conf: ``aerospike_conf`` (looked for inside a bundle first), else for the
    ``aerospike`` profile :data:`AEROSPIKE_CONF_PATHS` in the root.
    """
    from minfree.sources.root import open_root
    from minfree.sources.snapshot import read_snapshot

    missing: dict[str, list[Missing]] = {}
    opened = root if hasattr(root, "read_text") and hasattr(root, "glob") else open_root(root)
    snapshot = _safely("host snapshot", missing.setdefault("snapshot", []), read_snapshot,
                       opened)
    snapshot_done = time.monotonic()
    label = getattr(opened, "label", None) or ("this host" if opened.is_live else str(root))

    # -- second vmstat sample (only worth reading when the first one exists) ----------------
    first = getattr(snapshot, "vmstat", None)
    has_first = bool(getattr(first, "counters", None))
    second = None
    second_text: str | None = None
    second_source: str | None = None
    measured_interval = interval_s
    if vmstat_second is not None:
        second_text = _read_user_file(vmstat_second)
        second_source = vmstat_second
    elif not opened.is_live:
        for rel in SECOND_VMSTAT_PATHS:
            if opened.exists(rel):
                second_text = opened.read_text(rel)
                second_source = rel
                up1 = _uptime_seconds(opened.read_text(UPTIME_PATHS[0]))
                up2 = _uptime_seconds(opened.read_text(UPTIME_PATHS[1]))
                if up1 is not None and up2 is not None and up2 > up1:
                    measured_interval = up2 - up1
                break
    elif interval_s and interval_s > 0 and has_first:
        from minfree.sources.snapshot import read_vmstat

        (sleep or time.sleep)(interval_s)
        second = read_vmstat(opened)
        # The first sample was read inside the snapshot, just before snapshot_done.
        measured_interval = max(interval_s, time.monotonic() - snapshot_done)
        second_source = "/proc/vmstat (second sample)"
    if second_text is not None and has_first:
        from minfree.parsers.vmstat import parse_vmstat

        second = _safely(str(second_source), missing.setdefault("vmstat_second", []),
                         parse_vmstat, second_text, source=str(second_source))

    # -- logs -----------------------------------------------------------------------------
    from minfree.sources.kernel_logs import read_failure_reports

    log_missing = missing.setdefault("logs", [])
    if logs:
        log_scan = read_failure_reports(list(logs))  # explicit paths: the user's error
    elif opened.is_live:
        log_scan = _safely("kernel ring buffer", log_missing, read_failure_reports, None)
    else:
        log_scan = _safely("bundle logs", log_missing, read_failure_reports, [opened])

    # -- sysctl configuration files (what the next boot applies) --------------------------
    from minfree.sources.sysctl_config import collect_sysctl_config

    sysctl_config = _safely("boot-time sysctl configuration",
                            missing.setdefault("sysctl_config", []), collect_sysctl_config,
                            opened)
    captured = opened.is_live or any(opened.exists(p) for p in SYSCTL_CONFIG_PATHS)

    # -- aerospike.conf -------------------------------------------------------------------
    conf = conf_text = conf_source = None
    if aerospike_conf is not None:
        if not opened.is_live and opened.exists(aerospike_conf.lstrip("/")):
            conf_text = opened.read_text(aerospike_conf.lstrip("/"))
        else:
            conf_text = _read_user_file(aerospike_conf)
        conf_source = aerospike_conf
    elif profile == "aerospike":
        for rel in AEROSPIKE_CONF_PATHS:
            if opened.exists(rel):
                conf_text, conf_source = opened.read_text(rel), rel
                break
        else:
            missing.setdefault("aerospike_conf", []).append(Missing(
                "aerospike.conf", "not found: the default 1 GiB index stage size is assumed "
                "(--aerospike-conf PATH)"))
    if conf_text is not None:
        from minfree.parsers.aerospike_conf import parse_aerospike_conf

        conf = parse_aerospike_conf(conf_text, source=str(conf_source))

    return HostInputs(
        label=label,
        is_live=opened.is_live,
        snapshot=snapshot,
        log_scan=log_scan,
        sysctl_config=sysctl_config,
        sysctl_config_captured=captured,
        vmstat_second=second,
        vmstat_second_source=second_source,
        interval_s=measured_interval,
        aerospike_conf=conf,
        aerospike_conf_source=None if conf_source is None else str(conf_source),
        profile=profile,
        missing={name: tuple(items) for name, items in missing.items() if items},
    )
