"""Read kernel logs into page allocation failure reports, each report counted once.

:func:`read_failure_reports` is the reading half of a scan: it finds the log inputs
(:mod:`minfree.sources.logs`), streams each through the kernel log parser
(:func:`minfree.parsers.kernel_log.scan_chunks`) and returns a
:class:`~minfree.model.report.LogScan`. Explaining the reports (context, verdict, advice,
groups) is :func:`minfree.analysis.failure_report.explain_scan`, a pure function of that
value, so ``scan``, ``doctor``, the exporter and the HTML report compose the two::

    from minfree.analysis.failure_report import explain_scan
    from minfree.sources.kernel_logs import read_failure_reports

    result = explain_scan(read_failure_reports(["/var/log/kern.log"]))

The de-duplication across sources lives here because it needs only the parsed report
(process, pid, CPU, order, mode, trace, Mem-Info free counts, uptime), never a verdict.

    >>> import tempfile, pathlib
    >>> log = pathlib.Path(tempfile.mkdtemp()) / "kern.log"
    >>> _ = log.write_text("[  5.000000] asd: page allocation failure: order:1, mode:0x20\\n")
    >>> scan = read_failure_reports([str(log)])
    >>> [(r.process, r.order, r.gfp_mask_text) for r in scan.reports], scan.duplicates_dropped
    ([('asd', 1, '0x20')], 0)
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from minfree.errors import SourceError
from minfree.model.report import FailureReport, LogScan, RelatedEvent


def report_signature(report: FailureReport) -> tuple[Any, ...]:
    """What makes two copies of one report (e.g. in /dev/kmsg and kern.log) the same."""
    zones = tuple((z.node, z.zone, z.free_kb) for z in report.meminfo.zones) if report.meminfo else ()
    return (report.process, report.pid, report.cpu, report.order, report.gfp_mask,
            tuple(f.function for f in report.trace[:24]), zones,
            round(report.uptime_seconds, 3) if report.uptime_seconds is not None else None)


def _signature_loose(signature: tuple[Any, ...]) -> tuple[Any, ...]:
    # kern.log written by rsyslog may lack the uptime that /dev/kmsg has.
    return signature[:-1]


def log_inputs(inputs: Iterable[Any] | None = None, *,
               all_logs: bool = False) -> tuple[list[Any], list[str]]:
    """The :class:`~minfree.sources.logs.LogInput` values to read, and notes on what is absent.

    ``inputs`` as for :func:`read_failure_reports`.
    """
    from minfree.sources import logs

    sources: list[Any] = []
    notes: list[str] = []
    paths: list[str] = []
    for item in inputs or ():
        if isinstance(item, logs.LogInput):
            sources.append(item)
        elif isinstance(item, (str, os.PathLike)):
            paths.append(os.fspath(item))
        elif hasattr(item, "glob") and hasattr(item, "open_binary"):
            found = logs.root_inputs(item)
            if not found:
                notes.append(f"{getattr(item, 'label', item)}: no kernel log files found")
            sources.extend(found)
        else:
            raise TypeError(f"cannot scan {item!r}")
    sources.extend(logs.discover(paths))
    if not inputs or all_logs:
        host, host_notes = logs.host_inputs(all_logs)
        sources.extend(host)
        notes.extend(host_notes)
    return sources, notes


def read_failure_reports(inputs: Iterable[Any] | None = None, *,
                         all_logs: bool = False) -> LogScan:
    """Read kernel logs and return every page allocation failure report, once each.

    ``inputs``: paths (``str``/``PathLike``; ``"-"`` is stdin; directories and bundles are
    searched), :class:`~minfree.sources.logs.LogInput` values or
    :class:`~minfree.sources.root.Root` values. None (or empty) means this host's ring
    buffer; ``all_logs`` adds the host's log files and ``journalctl -k``. The same report
    seen in several sources is kept once (``duplicates_dropped`` counts the others).
    Raises :class:`~minfree.errors.SourceError` for unreadable required inputs; an optional
    one (a host log file) becomes a note, with the reports read before the error kept.
    """
    from minfree.parsers.kernel_log import scan_chunks

    sources, notes = log_inputs(inputs, all_logs=all_logs)
    reports: list[FailureReport] = []
    related: list[RelatedEvent] = []
    # loose signature -> uptimes of reports from earlier sources not matched yet
    earlier: dict[tuple, list[float | None]] = {}
    dropped = 0
    labels = []
    for source in sources:
        labels.append(source.label)
        mine: dict[tuple, list[float | None]] = {}
        try:
            found = _read_source(scan_chunks, source)
        except SourceError as error:
            if getattr(source, "required", True):
                raise
            notes.append(str(error))
            found = getattr(error, "partial", [])
        for item in found:
            if not isinstance(item, FailureReport):
                related.append(item)
                continue
            signature = report_signature(item)
            loose, uptime = _signature_loose(signature), signature[-1]
            candidates = earlier.get(loose, [])
            match = next((k for k, other in enumerate(candidates)
                          if other is None or uptime is None or other == uptime), None)
            if match is not None:
                candidates.pop(match)
                dropped += 1
                continue
            mine.setdefault(loose, []).append(uptime)
            reports.append(item)
        for loose, uptimes in mine.items():
            earlier.setdefault(loose, []).extend(uptimes)
    if len(sources) > 1:
        related = _dedupe_related(related)
    return LogScan(reports=tuple(reports), related=tuple(related), sources=tuple(labels),
                   notes=tuple(notes), duplicates_dropped=dropped)


def _read_source(scan_chunks, source) -> list[FailureReport | RelatedEvent]:
    """All items of one source; on a read error the items found so far ride on the error."""
    items: list[FailureReport | RelatedEvent] = []
    try:
        for item in scan_chunks(source.chunks(), source.label):
            items.append(item)
    except SourceError as error:
        error.partial = items  # type: ignore[attr-defined]
        raise
    return items


def _dedupe_related(events: list[RelatedEvent]) -> list[RelatedEvent]:
    """One copy of each related event: the first source to show it keeps all its copies."""
    kept: list[RelatedEvent] = []
    by_source: dict[tuple, set[str]] = {}
    for event in events:
        key = (event.kind, event.text)
        owners = by_source.setdefault(key, set())
        if owners and event.source not in owners:
            continue
        owners.add(event.source)
        kept.append(event)
    return kept
