"""Kernel log text -> page allocation failure reports and related events.

Pure: this module never opens a file. :class:`KernelLogParser` takes one line at a time
(``feed``) and hands back finished :class:`~minfree.model.report.FailureReport` and
:class:`~minfree.model.report.RelatedEvent` values (``drain``); :func:`scan_chunks` drives
it over a stream of byte chunks and skips, without decoding, every stretch of the log that
cannot start a report (one Hyperscan pass per chunk, or a few ``bytes.find`` calls where
Hyperscan is not installed; see :data:`TRIGGERS`), which is
what keeps a scan of a multi-gigabyte log close to ``grep`` speed with flat memory.

Every header era of kernel-facts §5.1 is read, wherever the log prefix came from (see
:mod:`minfree.parsers.kernel_log_prefix`), including headers wrapped over two or three lines
by mail clients and the ``cpuset=`` line of 4.10-4.19 kernels:

    >>> log = '''[ 71.088242] dd: page allocation failure: order:0, mode:0x1080020(GFP_ATOMIC), nodemask=(null)
    ... [ 71.098654] dd cpuset=/ mems_allowed=0-1
    ... [ 71.104460] CPU: 0 PID: 6016 Comm: dd Tainted: G           O     4.15.0-rc1 #1'''
    >>> [r] = parse_kernel_log(log, source="x").reports
    >>> (r.process, r.order, r.gfp_mask_text, r.gfp_names_printed, r.cpuset, r.kernel_release)
    ('dd', 0, '0x1080020', 'GFP_ATOMIC', '/', '4.15.0-rc1')
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from minfree.model.report import FailureReport, RelatedEvent, TraceFrame
from minfree.parsers.kernel_log_prefix import Prefixed, expand_escapes, split_prefix
from minfree.parsers.report_meminfo import MemInfoBuilder

#: Substrings at least one of which is in every line that can start something the parser
#: cares about (a report header, a related event, a suppressed count, a release line).
#: While no report is open, any line without one of them is ignored; :func:`scan_chunks`
#: relies on this to skip such lines without decoding them.
TRIGGERS: tuple[str, ...] = (
    "allocation fail",  # page allocation failure, vmalloc: allocation failure, N-order allocation failed
    "allocation stalls",
    "Unable to allocate",  # SLUB
    "warn_alloc",  # "warn_alloc: N callbacks suppressed", "warn_alloc_failed: ..."
    "Linux version",
    "oom-killer",
    " of memory",  # "Out of memory: Kill(ed) process", "Memory cgroup out of memory", "... no killable"
)
TRIGGER_BYTES: tuple[bytes, ...] = tuple(t.encode() for t in TRIGGERS)
#: Fewer, shorter substrings that together cover every trigger: each chunk is searched for
#: these only (one Hyperscan pass, or one ``bytes.find`` pass each), and a hit is checked
#: against :data:`TRIGGER_BYTES` before its line is decoded. ``alloc`` covers the four
#: ``alloc`` triggers; ``of memory`` and ``Linux`` cover the other two that matter while no
#: report is open. They are short on purpose: Hyperscan searches this set at about twice the
#: speed of ``alloc``, ``ut of memory``, ``Linux version`` (bench/results/scan.md), and a
#: coarse hit that is not a trigger costs only a look at its line.
COARSE_TRIGGER_BYTES: tuple[bytes, ...] = (b"alloc", b"of memory", b"Linux")
#: ``invoked oom-killer`` lines are not searched for in the whole log (one pass less): when
#: a failure header or an ``Out of memory: Kill`` line is found, the stretch just skipped
#: (at most this many bytes back) is searched for the last one and it is parsed first.
OOM_LOOKBACK_BYTES = 1 << 20
_OOM_KILL_BYTES = re.compile(rb"[Oo]ut of memory(?::| and no killable)")
_OF_MEMORY = b" of memory"
#: The triggers but `` of memory``: a line holding one of them is parsed whenever it is found.
_STRONG_TRIGGER_BYTES: tuple[bytes, ...] = tuple(t for t in TRIGGER_BYTES if t != _OF_MEMORY)


def _idle_line_matters(line: bytes) -> bool:
    """Whether an idle parser would act on ``line`` (the skip path's exact filter).

    Any trigger but `` of memory`` may start something. A line whose only trigger is
    `` of memory`` starts something only when it is an OOM kill line (``_OOM_KILL``): a
    busy host logs ``TCP: out of memory -- consider tuning tcp_mem`` by the thousand, and
    handing each to the parser would cost its prefix split and the newline count before it.
    """
    for trigger in _STRONG_TRIGGER_BYTES:
        if trigger in line:
            return True
    return _OF_MEMORY in line and _OOM_KILL_BYTES.search(line) is not None

#: Longest line handed to the parser; kernel lines are under 1 kB, anything longer is
#: garbage or binary, and cutting it keeps memory flat.
MAX_LINE_CHARS = 16384
#: Unrecognised lines tolerated inside a report (interleaved messages, registers we do not
#: know) before the report is considered over.
MAX_GAP_LINES = 6
#: A report longer than this is cut (a sane report is under 300 lines).
MAX_REPORT_LINES = 5000

_HEADER_PHRASE = "page allocation failure"
_ORDER = re.compile(r"order[:=]\s?(\d{1,3})\b", re.ASCII)
# Every pattern here is linear in the line length (no nested or overlapping quantifiers):
# a hostile line must not cost seconds of backtracking.
_MODE = re.compile(r"mode:\s?(0x[0-9a-fA-F]{1,16})(?:\(([^()\n]{0,512})\))?", re.ASCII)
_GFP = re.compile(r"gfp(?:_mask)?=\s?(0x[0-9a-fA-F]{1,16})(?:\(([^()\n]{0,512})\))?", re.ASCII)
_NODE_LIST = r"\d[\d\-]*(?:,\d[\d\-]*)*"
_NODEMASK = re.compile(rf"nodemask=(\(null\)|{_NODE_LIST})", re.ASCII)
_CPUSET = re.compile(r"cpuset=([^,\s]*)", re.ASCII)
_MEMS = re.compile(rf"mems_allowed=({_NODE_LIST})", re.ASCII)
_HEADER_CONT = re.compile(r"^\s*,?\s*(?:order:|mode:|nodemask=|cpuset=|mems_allowed=)", re.ASCII)
_CPUSET_LINE = re.compile(r"^(.*?) ?cpuset=(\S*) mems_allowed=([\d,\-]+)\s*$", re.ASCII)
_CPU_LINE = re.compile(
    r"^CPU: (\d+) (?:UID: \d+ )?PID: (\d+) Comm: (.*?) (Not tainted|Tainted:)()\s*(.*)$",
    re.ASCII)
_PID_LINE = re.compile(r"^Pid: (\d+), comm: (.*?) (Not tainted|Tainted:)()\s*(.*)$", re.ASCII)
_RELEASE_TOKEN = re.compile(r"(?:^|\s)(\d+\.\d+(?:\.\d+)?[\w.+~\-]*)(?=\s|$)", re.ASCII)
_LINUX_VERSION = re.compile(r"Linux version (\d+\.\d+\S*)", re.ASCII)
_SUPPRESSED = re.compile(r"(\S{1,64}): (\d{1,12}) callbacks suppressed", re.ASCII)
_SUPPRESSED_FUNCS = ("warn_alloc", "warn_alloc_failed")

_CONTEXT_MARK = re.compile(r"<(/?)(IRQ|NMI|EOI|TASK|SOFTIRQ|EOE)>", re.ASCII)
_FRAME = re.compile(
    r"(?:\[<?[0-9a-fA-F]{4,16}>?\]\s*)*(\?\s+)?([A-Za-z_.$][\w.$]*)\+(0x[0-9a-fA-F]+(?:/0x[0-9a-fA-F]+)?)"
    r"(?:\s+\[([\w.\-]+)\])?(\s+\(unreliable\))?",
    re.ASCII)
_ARM_FRAME = re.compile(
    r"^(?:\[<[0-9a-fA-F]+>\]\s*)?\(([A-Za-z_.$][\w.$]*)(?:\+(0x[0-9a-fA-F]+/0x[0-9a-fA-F]+))?"
    r"(?: \[([\w.\-]+)\])?\)",
    re.ASCII)
_OLD_X86_FRAME = re.compile(r"<[0-9a-f]{8,16}>\{([A-Za-z_.$][\w.$]*)\+(\d+)\}", re.ASCII)
_REGISTER_LINE = re.compile(
    r"^(?:RIP|RSP|RAX|RBX|RCX|RDX|RSI|RDI|RBP|R\d\d?|FS|GS|CS|DS|ES|CR\d|DR\d|EIP|EAX|EBX|ECX|EDX|ESI|EDI|EBP|ESP|"
    r"Code|PC is at|LR is at|pc|lr|sp|psr|pstate|x\d+|r\d+|Flags|Control|Table|DAC|ORIG_RAX|NIP|MSR|"
    r"CFAR|IRQMASK|GPR\d\d|epc|ra|Status|Cause|BadVA|PrId|Modules linked in|Exception stack)\b",
    re.ASCII)
_HEXISH = re.compile(r"^[>\s]*[0-9a-fA-F]{2,}(?:[\s:<>()]+[0-9a-fA-F]{2,})*[\s:<>()]*$", re.ASCII)
_BODY_MISC = re.compile(
    r"^(?:Call [Tt]race:|Backtrace:|Stack:|Workqueue:|Hardware name:|Function entered at|"
    r"Tainted: \[|\(\.\.\.snipped\.\.\.\)|\[\.\.\.\]|\.{3,}|---\[ end|Sched_clock|"
    r"warn_alloc_show_mem: \d+ callbacks suppressed|show_mem: \d+ callbacks suppressed|"
    r"Mem-[Ii]nfo)",
    re.ASCII)
_OOM_INVOKED = re.compile(r"^(.*?) invoked oom-killer", re.ASCII)
_OOM_VICTIM = re.compile(r"(?:Kill|Killed) process (\d+) \(([^)]*)\)", re.ASCII)
# "Out of memory: Kill process", "Memory cgroup out of memory: Killed process", "Out of memory
# and no killable processes"; not "TCP: out of memory -- consider tuning tcp_mem".
_OOM_KILL = re.compile(r"[Oo]ut of memory(?::| and no killable)", re.ASCII)
_VMALLOC = re.compile(r"^(?:(.*?): )?vmalloc(?:: allocation failure| error:)", re.ASCII)
_STALL = re.compile(r"^(.*?): page allocation stalls for (\d+)ms", re.ASCII)
_LEGACY = re.compile(r"__alloc_pages: (\d+)-order allocation failed", re.ASCII)


@dataclass(frozen=True)
class ParsedLog:
    """Everything found in one text: reports and related events, in log order."""

    reports: tuple[FailureReport, ...]
    related: tuple[RelatedEvent, ...]


def _first_release(text: str) -> str | None:
    match = _RELEASE_TOKEN.search(text)
    return match.group(1) if match else None


class _ReportBuilder:
    """Scratch state of the report being read (mutable; becomes a frozen FailureReport)."""

    def __init__(self, source: str, line_no: int, header: str, prefix: Prefixed) -> None:
        self.source = source
        self.first_line = line_no
        self.last_line = line_no
        self.header = header
        self.header_lines = 1
        self.prefix = prefix
        self.pid: int | None = prefix.tag_pid
        self.cpu: int | None = prefix.tag_cpu
        self.tag_comm = prefix.tag_comm
        self.release: str | None = None
        self.release_from: str | None = None
        self.taint: str | None = None
        self.hardware: str | None = None
        self.cpuset_line: tuple[str, str] | None = None
        self.frames: list[TraceFrame] = []
        self.context: str | None = None
        self.meminfo = MemInfoBuilder()
        self.gap = 0
        self.lines = 1
        self.since_header = 0
        self.cpu_line_pending: str | None = None
        self.hardware_pending = False
        self.hardware_wrapped_hint = False
        self.wrapped = False
        self.process: str | None = None
        self.comm_from_cpu_line: str | None = None
        self.suppressed: int | None = None
        self.during_oom = False
        self.after_vmalloc = False
        self._parse_header()

    # header -----------------------------------------------------------------------------
    def _parse_header(self) -> None:
        text = self.header
        at = text.find(_HEADER_PHRASE)
        before = text[:at].strip() if at >= 0 else ""
        if before.endswith(":"):
            before = before[:-1].rstrip()
        self.process = before or None
        after = text[at + len(_HEADER_PHRASE):] if at >= 0 else text
        match = _ORDER.search(after)
        self.order = int(match.group(1)) if match else None
        match = _MODE.search(after)
        self.mask_text = match.group(1).lower() if match else None
        self.names = match.group(2) if match else None
        match = _NODEMASK.search(after)
        self.nodemask = match.group(1) if match else None
        match = _CPUSET.search(after)
        self.cpuset = match.group(1) if match else None
        match = _MEMS.search(after)
        self.mems = match.group(1) if match else None

    def header_wants_more(self) -> bool:
        if self.header_lines >= 3 and self.mask_text is not None:
            return False
        if self.mask_text is None or self.order is None:
            return True
        return self.header.rstrip().endswith(",")

    # body -------------------------------------------------------------------------------
    def feed(self, line_no: int, prefix: Prefixed) -> bool:
        """Take one body line; False when the report is over (the line is not consumed)."""
        message = prefix.message
        text = message.strip()
        self.since_header += 1
        if self.lines >= MAX_REPORT_LINES:
            return False
        # A line without the prefix its report's lines carry was wrapped by a mail client.
        self.wrapped = self.prefix.had_prefix and not prefix.had_prefix
        recognised = self._classify(text, message)
        if recognised:
            self.last_line = line_no
            self.lines += 1
            self.gap = 0
            return True
        if self.meminfo.finished and text:
            return False
        self.gap += 1
        return self.gap <= MAX_GAP_LINES

    def _classify(self, text: str, message: str) -> bool:
        if not text:
            return False
        # A header wrapped over two or three lines (mail clients, interleaved CPUs).
        if (_HEADER_CONT.match(text)
                and (self.header_wants_more() or (self.since_header <= 4 and self.mask_text is None))
                and (self.header_lines < 3 or self.mask_text is None)):
            self.header = f"{self.header.rstrip()} {text}"
            self.header_lines += 1
            self._parse_header()
            return True
        if self.cpu_line_pending is not None:
            pending = self.cpu_line_pending
            self.cpu_line_pending = None
            if _first_release(text) and not _CPU_LINE.match(text):
                del pending  # its taint letters were taken already
                self._cpu_rest(text)
                return True
        if self.hardware_pending:
            self.hardware_pending = False
            if (self.wrapped or self.hardware_wrapped_hint) and not self._looks_structured(text):
                self.hardware = f"{self.hardware} {text}".strip()
                return True
        first = text[0]
        if first == "C" and text.startswith("CPU:"):
            match = _CPU_LINE.match(text)
            if match:
                if self.cpu is None or self.comm_from_cpu_line is None:
                    self.cpu = int(match.group(1))
                    self.pid = int(match.group(2))
                    self.comm_from_cpu_line = match.group(3)
                    self._taint_and_release(match.group(4), match.group(5), match.group(6))
                return True
        if first == "P" and text.startswith("Pid:"):
            match = _PID_LINE.match(text)
            if match:
                if self.comm_from_cpu_line is None:
                    self.pid = int(match.group(1))
                    self.comm_from_cpu_line = match.group(2)
                    self._taint_and_release(match.group(3), match.group(4), match.group(5))
                return True
        if first == "H" and text.startswith("Hardware name:"):
            if self.hardware is None:
                self.hardware = text[len("Hardware name:"):].strip()
                self.hardware_pending = True
                self.hardware_wrapped_hint = message.endswith(" ") or len(text) >= 70
            return True
        if "cpuset=" in text and "mems_allowed=" in text and "nodemask" not in text:
            match = _CPUSET_LINE.match(text)
            if match:
                if self.cpuset is None:
                    self.cpuset = match.group(2)
                    self.mems = match.group(3)
                return True
        if self.meminfo.feed(text):
            return True
        if self._frames(text):
            return True
        if _BODY_MISC.match(text) or _REGISTER_LINE.match(text):
            return True
        if message[:1] == "\t" and (" at " in text or "(inlined by)" in text):
            return True  # decode_stacktrace.sh source lines
        if _HEXISH.match(text):
            return True
        return bool(_PID_LINE_RELAXED(text))

    def _looks_structured(self, text: str) -> bool:
        return bool(text.startswith(("Call", "CPU", "Pid:", "Workqueue", "Stack", "Backtrace"))
                    or _FRAME.search(text) or _HEXISH.match(text))

    def _taint_and_release(self, tainted: str, _unused: str | None, rest: str) -> None:
        match = _RELEASE_TOKEN.search(rest)
        flags_text = rest[: match.start()] if match else rest
        if tainted.startswith("Tainted"):
            # Taint letters as printed, one blank between groups ("G           O" -> "G O");
            # RHEL's "---------------" support marks are dropped.
            self.taint = " ".join(t for t in flags_text.split() if t.isalpha()) or None
        else:
            self.taint = None
        if match:
            self.release = match.group(1)
            self.release_from = "cpu-line"
        else:
            self.cpu_line_pending = rest

    def _cpu_rest(self, rest: str) -> None:
        flags = []
        for token in rest.split():
            if _RELEASE_TOKEN.match(" " + token) and token[0].isdigit():
                self.release = token
                self.release_from = "cpu-line"
                break
            if token.isalpha() and token.isupper():
                flags.append(token)
        if flags:
            self.taint = " ".join(filter(None, [self.taint, *flags]))

    def _frames(self, text: str) -> bool:
        found = False
        if "<" in text:
            for mark in _CONTEXT_MARK.finditer(text):
                found = True
                closing, name = mark.group(1), mark.group(2)
                if name in ("IRQ", "NMI", "SOFTIRQ") and not closing:
                    self.context = name
                elif name in ("EOI", "EOE") or (closing and name in ("IRQ", "NMI", "SOFTIRQ")):
                    self.context = "TASK"
                elif name == "TASK":
                    self.context = None if closing else "TASK"
            if "{" in text:
                for match in _OLD_X86_FRAME.finditer(text):
                    self.frames.append(TraceFrame(match.group(1), match.group(2), None, False, self.context))
                    found = True
                if found:
                    return True
        if text[:1] == "(" or (text[:2] == "[<" and ") from [" in text):
            match = _ARM_FRAME.match(text if text[:1] == "(" else text[text.find("(", 2):])
            if match:
                self.frames.append(TraceFrame(match.group(1), match.group(2), match.group(3), False,
                                              self.context))
                return True
        if "+0x" in text and not _REGISTER_LINE.match(text):
            stripped = _CONTEXT_MARK.sub("", text).strip() if found else text
            match = _FRAME.match(stripped)
            if match:
                self.frames.append(TraceFrame(
                    function=match.group(2),
                    offset=match.group(3),
                    module=match.group(4),
                    unreliable=bool(match.group(1) or match.group(5)),
                    context=self.context,
                ))
                return True
        return found

    def build(self, default_release: str | None) -> FailureReport:
        release, release_from = self.release, self.release_from
        if release is None and default_release is not None:
            release, release_from = default_release, "linux-version-line"
        process = self.process
        if process is None:
            process = self.comm_from_cpu_line
        if process is None and self.tag_comm and self.tag_comm.strip():
            process = None  # the tag names the printing task, which is not always the failing one
        mask = int(self.mask_text, 16) if self.mask_text else None
        return FailureReport(
            source=self.source,
            first_line=self.first_line,
            last_line=self.last_line,
            process=process,
            order=self.order,
            gfp_mask=mask,
            gfp_mask_text=self.mask_text,
            gfp_names_printed=self.names,
            timestamp_text=self.prefix.timestamp_text,
            timestamp=self.prefix.timestamp,
            uptime_seconds=self.prefix.uptime_seconds,
            pid=self.pid,
            cpu=self.cpu,
            kernel_release=release,
            kernel_release_from=release_from,
            taint=self.taint,
            hardware=self.hardware,
            nodemask=self.nodemask,
            cpuset=self.cpuset,
            mems_allowed=self.mems,
            trace=tuple(self.frames),
            suppressed=self.suppressed,
            meminfo=self.meminfo.build(),
            during_oom=self.during_oom,
            after_vmalloc_failure=self.after_vmalloc,
            header_text=self.header.strip(),
            header_lines=self.header_lines,
        )


def _PID_LINE_RELAXED(text: str) -> bool:
    """Lines of a report that carry no data but belong to it (old kernels' stack lines)."""
    return text.startswith(("[<", "<ffff", "Exception stack", "Hardware name", "Stack:"))


class KernelLogParser:
    """Incremental parser: ``feed`` lines (with their 1-based numbers), then ``finish``.

    ``idle`` is true while no report is open; in that state a line without any of
    :data:`TRIGGERS` is ignored, so a caller may skip such lines entirely.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self._report: _ReportBuilder | None = None
        self._ready: list[FailureReport | RelatedEvent] = []
        self._release: str | None = None
        self._suppressed: tuple[int, int] | None = None  # (line, count)
        self._vmalloc_line: int | None = None
        self._oom: dict | None = None

    @property
    def idle(self) -> bool:
        return self._report is None

    # public -----------------------------------------------------------------------------
    def feed(self, line_no: int, line: str) -> None:
        """Take one raw log line (without its newline)."""
        if len(line) > MAX_LINE_CHARS:
            line = line[:MAX_LINE_CHARS]
        if "#01" in line:
            parts = expand_escapes(line)
            self._feed_one(line_no, split_prefix(parts[0]))
            for part in parts[1:]:
                self._feed_one(line_no, Prefixed(message=part))
            return
        if self._report is None and not any(t in line for t in TRIGGERS):
            return
        self._feed_one(line_no, split_prefix(line.rstrip("\r")))

    def drain(self) -> list[FailureReport | RelatedEvent]:
        """Items finished so far, in log order; they are handed out once."""
        ready, self._ready = self._ready, []
        return ready

    def finish(self) -> list[FailureReport | RelatedEvent]:
        """End of input: close what is open and return the remaining items."""
        self._close_report()
        self._flush_oom()
        return self.drain()

    # internals --------------------------------------------------------------------------
    def _feed_one(self, line_no: int, prefix: Prefixed) -> None:
        message = prefix.message
        if any(t in message for t in TRIGGERS) and self._trigger(line_no, prefix):
            return
        if self._report is not None and not self._report.feed(line_no, prefix):
            self._close_report()

    def _trigger(self, line_no: int, prefix: Prefixed) -> bool:
        """Handle a line holding a trigger; False when it is an ordinary body line."""
        message = prefix.message
        text = message.strip()
        if _HEADER_PHRASE in text:
            self._start_report(line_no, text, prefix)
            return True
        if "callbacks suppressed" in text:
            match = _SUPPRESSED.search(text)
            if match and match.group(1) in _SUPPRESSED_FUNCS:
                self._close_report()
                self._suppressed = (line_no, int(match.group(2)))
                return True
            return False
        if "Linux version" in text:
            match = _LINUX_VERSION.search(text)
            if match:
                self._close_report()
                self._release = match.group(1)
                return True
            return False
        kind = None
        extra: dict = {}
        if "vmalloc" in text and _VMALLOC.match(text):
            kind = "vmalloc-failure"
            self._vmalloc_line = line_no
        elif "allocation stalls" in text:
            match = _STALL.match(text)
            if match:
                kind = "allocation-stall"
                extra["process"] = match.group(1) or None
                extra["detail"] = f"{match.group(2)}ms"
        elif "Unable to allocate" in text and "SLUB" in text:
            kind = "slub-unable-to-allocate"
        elif "allocation failed" in text and _LEGACY.search(text):
            kind = "legacy-alloc-pages-failure"
            extra["order"] = int(_LEGACY.search(text).group(1))  # type: ignore[union-attr]
        elif "oom-killer" in text or _OOM_KILL.search(text):
            self._close_report()
            self._oom_line(line_no, text, prefix)
            return True
        if kind is None:
            return False
        self._close_report()
        if kind == "vmalloc-failure":
            match = _VMALLOC.match(text)
            extra["process"] = match.group(1) if match and match.group(1) else None
        self._ready.append(self._event(kind, line_no, text, prefix, **extra))
        return True

    def _event(self, kind: str, line_no: int, text: str, prefix: Prefixed, **extra) -> RelatedEvent:
        mode = _MODE.search(text) or _GFP.search(text)
        order = extra.pop("order", None)
        if order is None:
            match = _ORDER.search(text)
            order = int(match.group(1)) if match else None
        return RelatedEvent(
            kind=kind,
            source=self.source,
            line=line_no,
            text=text[:500],
            order=order,
            gfp_mask=int(mode.group(1), 16) if mode else None,
            gfp_mask_text=mode.group(1).lower() if mode else None,
            gfp_names_printed=mode.group(2) if mode else None,
            timestamp_text=prefix.timestamp_text,
            timestamp=prefix.timestamp,
            uptime_seconds=prefix.uptime_seconds,
            **extra,
        )

    def _oom_line(self, line_no: int, text: str, prefix: Prefixed) -> None:
        """``invoked oom-killer`` opens an OOM event; the ``Out of memory: Kill...`` line
        (which names the victim) completes it. Either alone is an event too."""
        invoked = _OOM_INVOKED.match(text) if "oom-killer" in text else None
        if invoked:
            self._flush_oom()
            event = self._event("oom-killer", line_no, text, prefix, process=invoked.group(1) or None)
            self._oom = {"event": event}
            return
        if self._oom is None:
            detail = "memcg" if "cgroup" in text else None
            self._oom = {"event": self._event("oom-killer", line_no, text, prefix, detail=detail)}
        elif "cgroup" in text:
            from dataclasses import replace

            self._oom["event"] = replace(self._oom["event"], detail="memcg")
        victim = _OOM_VICTIM.search(text)
        if victim:
            self._oom["victim"] = victim.group(2)
        self._flush_oom()

    def _flush_oom(self) -> None:
        if self._oom is None:
            return
        event: RelatedEvent = self._oom["event"]
        victim = self._oom.get("victim")
        if victim:
            from dataclasses import replace

            event = replace(event, victim=victim)
        self._ready.append(event)
        self._oom = None

    def _start_report(self, line_no: int, text: str, prefix: Prefixed) -> None:
        self._close_report()
        report = _ReportBuilder(self.source, line_no, text, prefix)
        if self._suppressed is not None and 0 < line_no - self._suppressed[0] <= 3:
            report.suppressed = self._suppressed[1]
        self._suppressed = None
        if self._vmalloc_line is not None and 0 < line_no - self._vmalloc_line <= 2:
            report.after_vmalloc = True
        report.during_oom = self._oom is not None
        self._report = report

    def _close_report(self) -> None:
        if self._report is not None:
            self._ready.append(self._report.build(self._release))
            self._report = None


def parse_kernel_log(text: str, source: str = "<text>") -> ParsedLog:
    """Parse a whole text (convenience for tests and small inputs)."""
    parser = KernelLogParser(source)
    items: list[FailureReport | RelatedEvent] = []
    # Lines end at "\n" only, as for the kernel and the byte scanner (str.splitlines would
    # also split at vertical tabs, form feeds and Unicode separators).
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, 1):
        parser.feed(number, line)
        items.extend(parser.drain())
    items.extend(parser.finish())
    return _split(items)


def _split(items: Iterable[FailureReport | RelatedEvent]) -> ParsedLog:
    reports = tuple(i for i in items if isinstance(i, FailureReport))
    related = tuple(i for i in items if isinstance(i, RelatedEvent))
    return ParsedLog(reports, related)


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


_COUNT_BLOCK = 1 << 20  # numpy compares in 1 MiB blocks: about 4x faster than bytes.count
_SMALL_COUNT = 1 << 16  # below this a numpy call costs more than it saves


def _count_newlines(buf, start: int, end: int) -> int:
    """Newlines in ``buf[start:end]`` (``buf``: bytes, bytearray or mmap)."""
    if end - start < _SMALL_COUNT and isinstance(buf, (bytes, bytearray)):
        return buf.count(b"\n", start, end)
    import numpy as np

    view = np.frombuffer(buf, dtype=np.uint8, count=end - start, offset=start)
    total = 0
    for block in range(0, end - start, _COUNT_BLOCK):
        total += int(np.count_nonzero(view[block:block + _COUNT_BLOCK] == 10))
    return total


#: A plain file at least this big has its second part surveyed ahead by a child process
#: (:meth:`minfree.sources.logs.FileChunks.survey_ahead`, on two CPUs or more).
PARALLEL_MIN_BYTES = 64 << 20

#: Bytes searched per Hyperscan call; the hits of one window are held as a sorted list.
HYPERSCAN_WINDOW_BYTES = 4 << 20
#: A window with more coarse hits than this (a file full of ``alloc``) is not listed: the
#: rest of that buffer is searched with ``bytes.find``, which skips a whole line per hit, so
#: memory and time stay bounded.
HYPERSCAN_MAX_HITS = 1 << 14

_hyperscan_database = None  # None: not tried yet; False: unavailable; else the Database
_hyperscan_thread = threading.local()  # one scratch space per thread (not shareable)


def _hyperscan():
    """``(database, scratch, ScanTerminated)`` for :data:`COARSE_TRIGGER_BYTES`, or None.

    Hyperscan finds all three literals in one pass at several GB/s (``bytes.find`` needs
    a pass per literal). The database is compiled once per process, at the first scan, so
    commands that never scan do not import it; a scratch space is made per thread because
    Hyperscan's scratch may not be used by two scans at once. None when the package is not
    installed or cannot work on this CPU: the scan then uses ``bytes.find``.
    """
    global _hyperscan_database
    if _hyperscan_database is None:
        try:
            import hyperscan

            database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            database.compile(expressions=list(COARSE_TRIGGER_BYTES),
                             ids=list(range(len(COARSE_TRIGGER_BYTES))), flags=0, literal=True)
        except Exception:  # ImportError, or a library or CPU that cannot run it
            _hyperscan_database = False
        else:
            _hyperscan_database = database
    if _hyperscan_database is False:
        return None
    state = getattr(_hyperscan_thread, "state", None)
    if state is None or state[0] is not _hyperscan_database:
        import hyperscan

        state = (_hyperscan_database, hyperscan.Scratch(_hyperscan_database),
                 hyperscan.ScanTerminated)
        _hyperscan_thread.state = state
    return state


def search_engine() -> str:
    """The skip path's search in this process: ``"hyperscan"`` or ``"bytes.find"``."""
    return "hyperscan" if _hyperscan() is not None else "bytes.find"


class _HitWindows:
    """Coarse hits of one buffer from Hyperscan, one window of the buffer at a time.

    :meth:`next_hit` gives what ``min(buf.find(t, pos) for t in COARSE_TRIGGER_BYTES)``
    would (the first coarse literal starting at ``pos`` or later and ending within the
    buffer), from a sorted list of the hits of the window holding ``pos``. A window is
    searched together with the few bytes after it, so a literal that straddles two windows
    is found whole, in the window where it starts.
    """

    __slots__ = ("buf", "end", "engine", "hits", "start", "stop")

    def __init__(self, buf, engine) -> None:
        self.buf = buf
        self.end = len(buf)
        self.engine = engine
        self.start = self.stop = 0
        self.hits: list[int] = []

    def next_hit(self, pos: int) -> int | None:
        """Offset of the next hit at or after ``pos``; -1 if none; None if too many."""
        while pos < self.end:
            if not self.start <= pos < self.stop and not self._fill(pos):
                return None
            hits = self.hits
            index = bisect_left(hits, pos)
            if index < len(hits):
                return hits[index]
            pos = self.stop
        return -1

    def _fill(self, pos: int) -> bool:
        database, scratch, terminated = self.engine
        stop = min(pos + HYPERSCAN_WINDOW_BYTES, self.end)
        data_stop = min(stop + _COARSE_LONGEST - 1, self.end)
        hits: list[int] = []
        lengths = _COARSE_LENGTHS
        limit = HYPERSCAN_MAX_HITS

        def on_match(index: int, _from: int, to: int, _flags: int, _context: object) -> bool:
            start = pos + to - lengths[index]
            if start < stop:  # one that starts later is listed by the next window
                hits.append(start)
            return len(hits) > limit  # True ends the scan

        try:
            with memoryview(self.buf) as whole, whole[pos:data_stop] as part:
                database.scan(part, match_event_handler=on_match, scratch=scratch)
        except terminated:
            return False
        hits.sort()
        self.start, self.stop, self.hits = pos, stop, hits
        return True


_COARSE_LENGTHS: tuple[int, ...] = tuple(len(t) for t in COARSE_TRIGGER_BYTES)
_COARSE_LONGEST = max(_COARSE_LENGTHS)


def survey_block(data: bytes, block: int) -> tuple[int, list[int] | None]:
    """The newlines of ``data[:block]`` and the coarse hits that start there.

    Hits are sorted ``offset << 3 | index of the literal`` values (a literal may run into
    the bytes after ``block``, which ``data`` holds for that); None instead of the list when
    there are more than :data:`HYPERSCAN_MAX_HITS`. This is the work a second process does
    ahead of the scan (:meth:`minfree.sources.logs.FileChunks.survey_ahead`); the scan
    then takes the hits as they are, so its result is the same either way.
    """
    newlines = _count_newlines(data, 0, block)
    engine = _hyperscan()
    found: list[int] = []
    limit = HYPERSCAN_MAX_HITS
    if engine is not None:
        database, scratch, terminated = engine
        lengths = _COARSE_LENGTHS

        def on_match(index: int, _from: int, to: int, _flags: int, _context: object) -> bool:
            start = to - lengths[index]
            if start < block:
                found.append(start << 3 | index)
            return len(found) > limit

        try:
            database.scan(data, match_event_handler=on_match, scratch=scratch)
        except terminated:
            return newlines, None
    else:
        for index, literal in enumerate(COARSE_TRIGGER_BYTES):
            at = data.find(literal)
            while 0 <= at < block:
                found.append(at << 3 | index)
                if len(found) > limit:
                    return newlines, None
                at = data.find(literal, at + 1)
    found.sort()
    return newlines, found


class _ListedHits:
    """:class:`_HitWindows`'s ``next_hit`` over hits found beforehand (:func:`survey_block`)."""

    __slots__ = ("end", "starts", "stops")

    def __init__(self, values: list[int], end: int) -> None:
        lengths = _COARSE_LENGTHS
        self.end = end
        self.starts = [value >> 3 for value in values]
        self.stops = [(value >> 3) + lengths[value & 7] for value in values]

    def next_hit(self, pos: int) -> int:
        starts = self.starts
        index = bisect_left(starts, pos)
        if index < len(starts) and self.stops[index] <= self.end:
            return starts[index]
        # one that runs past the end belongs to the next buffer (the carried line); hits
        # start in order, so nothing later ends within this buffer either
        return -1


class _ChunkScanner:
    """State of :func:`scan_chunks` between chunks (see there).

    Newlines are counted lazily: ``line_no`` is the number of the line at ``counted_pos``
    (an offset in the current buffer), and is brought forward (:meth:`_sync`) only when a
    line is fed to the parser or the buffer is done, so a coarse hit that is not a trigger
    (``alloc`` in a driver message) costs two short ``find`` calls and no counting.
    """

    def __init__(self, parser: KernelLogParser) -> None:
        self.parser = parser
        self.line_no = 1  # number of the line at counted_pos
        self.counted_pos = 0
        #: number of the line at the end of the buffer being processed, when the buffer's
        #: newlines were counted beforehand (by a survey); else None
        self.end_line: int | None = None
        self.skip_rest = False  # inside an over-long line that was already fed (cut)
        self.keep = max(len(t) for t in TRIGGER_BYTES)
        self.pos = 0
        self.engine = _hyperscan()

    def _sync(self, buf, pos: int) -> None:
        if pos > self.counted_pos:
            end = len(buf)
            if self.end_line is not None and end - pos < pos - self.counted_pos:
                # nearer the end: count back from the buffer's known last line
                self.line_no = self.end_line - _count_newlines(buf, pos, end)
            else:
                self.line_no += _count_newlines(buf, self.counted_pos, pos)
        self.counted_pos = pos

    def _feed(self, buf, pos: int, stop: int) -> None:
        """Feed the line ``buf[pos:stop]`` (``pos`` is a line start, already synced)."""
        self.parser.feed(self.line_no, _decode(buf[pos:stop]))

    def _oom_lookback(self, buf, unfed_from: int, start: int) -> None:
        """Feed the last ``invoked oom-killer`` line of the skipped stretch before ``start``."""
        found = buf.rfind(b"oom-killer", max(unfed_from, start - OOM_LOOKBACK_BYTES), start)
        if found < 0:
            return
        line_start = buf.rfind(b"\n", unfed_from, found) + 1
        line_start = max(line_start, unfed_from)
        line_end = buf.find(b"\n", found, start)
        if line_end < 0:
            return
        self._sync(buf, line_start)
        self._feed(buf, line_start, min(line_end, line_start + MAX_LINE_CHARS))

    def process(self, buf, pos: int, final: bool = False,
                survey: tuple[int, list[int] | None] | None = None
                ) -> Iterator[FailureReport | RelatedEvent]:
        """Consume complete lines of ``buf`` from ``pos``; sets ``self.pos`` to the unconsumed
        tail. ``survey``: ``buf``'s newlines in ``buf[pos:]`` and its coarse hits (None:
        too many to list), found beforehand by :func:`survey_block`."""
        parser = self.parser
        end = len(buf)
        limit = MAX_LINE_CHARS
        self.counted_pos = pos
        self.end_line = None if survey is None else self.line_no + survey[0]
        if self.skip_rest:
            newline = buf.find(b"\n", pos)
            if newline < 0:
                self.pos = end
                return
            self.skip_rest = False
            self.line_no += 1
            pos = self.counted_pos = newline + 1
        if survey is not None and survey[1] is not None:
            windows: _HitWindows | _ListedHits | None = _ListedHits(survey[1], end)
        elif self.engine is not None:
            windows = _HitWindows(buf, self.engine)
        else:
            windows = None
        coarse = COARSE_TRIGGER_BYTES
        hits = [-2] * len(coarse)
        unfed_from = pos  # lines in [unfed_from, pos) were skipped, not parsed
        while pos < end:
            if parser.idle:
                hit = windows.next_hit(pos) if windows is not None else None
                if hit is None:  # no Hyperscan, or too many hits for it to list
                    windows = None
                    hit = -1
                    for index, trigger in enumerate(coarse):
                        found = hits[index]
                        if found == -2 or 0 <= found < pos:
                            found = buf.find(trigger, pos)
                            hits[index] = found
                        if found >= 0 and (hit < 0 or found < hit):
                            hit = found
                if hit < 0:
                    last_newline = buf.rfind(b"\n", pos)
                    if last_newline >= 0:
                        pos = last_newline + 1
                    if end - pos > limit and not final:
                        # An over-long unfinished line with no trigger so far: keep only
                        # enough of its tail to catch a trigger split by the chunk border.
                        pos = end - self.keep
                    break
                pos = buf.rfind(b"\n", pos, hit) + 1 or pos
                newline = buf.find(b"\n", hit)
                stop = newline if newline >= 0 else end
                line = buf[pos:stop] if stop - pos <= limit else buf[pos:pos + limit]
                if not _idle_line_matters(line):
                    if stop - pos > limit:
                        pass  # an over-long line: cut and parsed below, like the parser does
                    elif newline < 0:
                        if final:
                            pos = end
                        break  # a partial line: decide when the rest is here
                    else:
                        pos = newline + 1
                        continue
                elif newline >= 0 and (b"page allocation failure" in line
                                       or _OOM_KILL_BYTES.search(line)):
                    self._oom_lookback(buf, unfed_from, pos)
                    yield from parser.drain()
            newline = buf.find(b"\n", pos)
            if newline < 0:
                if end - pos <= limit and not final:
                    break  # wait for the rest of the line
                self._sync(buf, pos)
                self._feed(buf, pos, pos + limit)
                yield from parser.drain()
                if not final:
                    self.skip_rest = True
                pos = end
                break
            self._sync(buf, pos)
            self._feed(buf, pos, min(newline, pos + limit))
            yield from parser.drain()
            self.line_no += 1
            pos = self.counted_pos = newline + 1
            unfed_from = pos
        self._sync(buf, pos)
        self.pos = pos


def scan_buffer(buffer, source: str) -> Iterator[FailureReport | RelatedEvent]:
    """Like :func:`scan_chunks` over one buffer (``bytes`` or an ``mmap`` of a whole file).

    A memory map needs no copies at all: the skip path searches the mapping itself.
    """
    parser = KernelLogParser(source)
    scanner = _ChunkScanner(parser)
    if len(buffer):
        yield from scanner.process(buffer, 0, final=True)
    yield from parser.finish()


def scan_chunks(chunks: Iterable[bytes], source: str) -> Iterator[FailureReport | RelatedEvent]:
    """Drive a :class:`KernelLogParser` over byte chunks, skipping lines without triggers.

    While no report is open, each chunk is searched for the :data:`COARSE_TRIGGER_BYTES`
    (with Hyperscan, all three in one pass, where it is installed; else with ``bytes.find``,
    one pass each; both give the same hits), and only the lines holding one of the
    :data:`TRIGGERS` are decoded and parsed. Line numbers stay exact (newlines are counted,
    with numpy for long stretches, only up to lines that are parsed and at the end of each
    chunk). Lines longer than :data:`MAX_LINE_CHARS` are cut, so a 10 MB line or a binary
    file without newlines costs no more memory than a chunk or two.

    When ``chunks`` can have its later part surveyed ahead (``survey_ahead``, which
    :class:`minfree.sources.logs.FileChunks` has for a plain file of at least
    :data:`PARALLEL_MIN_BYTES` on two CPUs or more), a second process runs
    :func:`survey_block` on those chunks while this one works through the first part; their
    chunks then take the listed hits instead of a search, and their newlines are counted
    only from a parsed line to the nearer end. The result is the same either way.

        >>> items = list(scan_chunks([b"noise\\nswapper: page allocation fai",
        ...                           b"lure. order:1, mode:0x20\\n"], "x"))
        >>> items[0].first_line, items[0].order
        (2, 1)
    """
    parser = KernelLogParser(source)
    scanner = _ChunkScanner(parser)
    carry = b""
    survey_ahead = getattr(chunks, "survey_ahead", None)
    ahead = None
    offset = 0  # stream offset of the next chunk
    try:
        for chunk in chunks:
            if not chunk:
                continue
            if offset == 0 and callable(survey_ahead):
                ahead = survey_ahead(survey_block, PARALLEL_MIN_BYTES)
            surveyed = None
            if ahead is not None and offset >= ahead.start:
                if offset == ahead.next_offset and offset + len(chunk) <= ahead.stop:
                    surveyed = ahead.next()
                if surveyed is None:  # over, failed, or the file changed under us
                    ahead.close()
                    ahead = None
            offset += len(chunk)
            start = 0
            if carry:
                newline = chunk.find(b"\n")
                if newline < 0:
                    buf = carry + chunk
                    yield from scanner.process(buf, 0)
                    carry = buf[scanner.pos:]
                    continue
                yield from scanner.process(carry + chunk[:newline + 1], 0)
                carry = b""
                start = newline + 1
            if surveyed is not None and start:
                surveyed = (surveyed[0] - 1, surveyed[1])  # the newline that ended the carry
            yield from scanner.process(chunk, start, survey=surveyed)
            carry = chunk[scanner.pos:]
        if carry:
            yield from scanner.process(carry, 0, final=True)
    finally:
        if ahead is not None:
            ahead.close()
    yield from parser.finish()
