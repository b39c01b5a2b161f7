"""Everything read from one host (or bundle) for the doctor, before any conclusion.

:class:`HostInputs` is what :func:`minfree.sources.host_inputs.collect_host_inputs` reads
and :func:`minfree.analysis.diagnosis.diagnose` explains: the reading (files, ring buffer,
a second ``/proc/vmstat`` sample after a wait) happens once, in the sources layer, and the
analysis is a pure function of this value, testable on hand-made inputs.

What could not be read is kept per input (:data:`INPUT_NAMES`), so that the diagnosis can
list its blind spots in the order the doctor has always shown them (snapshot, vmstat,
logs, sysctl configuration, aerospike.conf) between its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from minfree.model.aerospike_conf import AerospikeConf
from minfree.model.host import HostSnapshot, Missing
from minfree.model.report import LogScan
from minfree.model.sysctl_conf import SysctlConfigSet
from minfree.model.vmstat import VmStat

#: The inputs whose read failures are recorded separately in :attr:`HostInputs.missing`.
INPUT_NAMES: tuple[str, ...] = ("snapshot", "vmstat_second", "logs", "sysctl_config",
                                "aerospike_conf")


@dataclass(frozen=True)
class HostInputs:
    """One host's raw evidence: snapshot, logs, boot configuration, samples, settings files.

    ``snapshot`` is None when the host snapshot could not be read at all (the reason is in
    ``missing["snapshot"]``). ``log_scan`` is None when the logs could not be read.
    ``vmstat_second`` is a second ``/proc/vmstat`` sample taken ``interval_s`` seconds
    after the snapshot's (``interval_s`` is also the requested interval when there is no
    second sample, None when neither is known); ``vmstat_second_source`` names where it
    came from. ``sysctl_config_captured`` is False for a bundle that holds no sysctl
    configuration at all (what the next boot applies is then unknown).
    ``aerospike_conf`` is the parsed aerospike.conf (from ``aerospike_conf_source``) when
    one was given or, for the ``aerospike`` profile, found in the root.
    """

    label: str
    is_live: bool
    snapshot: HostSnapshot | None
    log_scan: LogScan | None = None
    sysctl_config: SysctlConfigSet | None = None
    sysctl_config_captured: bool = True
    vmstat_second: VmStat | None = None
    vmstat_second_source: str | None = None
    interval_s: float | None = None
    aerospike_conf: AerospikeConf | None = None
    aerospike_conf_source: str | None = None
    profile: str = "generic"
    #: input name (one of :data:`INPUT_NAMES`) -> what could not be read, and why
    missing: Mapping[str, tuple[Missing, ...]] = field(default_factory=dict)

    def missing_for(self, name: str) -> tuple[Missing, ...]:
        """What could not be read for one input (empty when it was read)."""
        return tuple(self.missing.get(name, ()))
