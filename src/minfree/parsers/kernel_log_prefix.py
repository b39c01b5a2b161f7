"""Strip the log prefixes that wrap a kernel message, whatever wrote the log.

A kernel line reaches a file through dmesg, syslog, the journal, a serial console, an
Android logcat or a mail client, and each adds its own prefix. :func:`split_prefix` peels
them off in the order they are stacked, keeps the time stamp as printed and turns it into a
number or a datetime when the format allows:

    >>> p = split_prefix("Jun 13 04:36:30 ip-172-19-13-114 kernel: [  44.478214] ip: page")
    >>> (p.message, p.timestamp_text, p.uptime_seconds, p.host)
    ('ip: page', 'Jun 13 04:36:30 [  44.478214]', 44.478214, 'ip-172-19-13-114')
    >>> split_prefix("<4>[ 6207.637280]  [3:  Binder:9343_3:22875] Call trace:").message
    'Call trace:'
    >>> split_prefix("[   14.017417][    T1] swapper/0: page").caller
    'T1'

Lines written by rsyslog with control characters escaped carry ``#012`` for newlines;
:func:`expand_escapes` turns one such line into the lines the kernel printed.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass

_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}

# /dev/kmsg record: "6,339,5140900,-;message" (priority, sequence, usec, flags).
_KMSG = re.compile(r"^(\d{1,3}),(\d+),(\d+),[^;]{0,8};", re.ASCII)
# Unisoc/Android console: "04166 < 4> " (hex line number, loglevel).
_UNISOC = re.compile(r"^[0-9A-Fa-f]{4,6} <\s?\d> ", re.ASCII)
# Console loglevel "<4>".
_LOGLEVEL = re.compile(r"^<\d{1,3}>", re.ASCII)
# Syslog / journal: "Jun 13 04:36:30[.123456] [host] kernel[: ]" or an ISO date first.
_SYSLOG = re.compile(
    r"^(?P<ts>(?:[A-Z][a-z]{2} [ \d]?\d \d\d:\d\d:\d\d(?:\.\d+)?)"
    r"|(?:\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?))"
    r"(?: (?P<host>\S+))?? (?P<tag>kernel(?:\[\d+\])?):(?: |$)",
    re.ASCII,
)
# Timestamp-less syslog copy: "    kernel: ..." (date and host stripped by a web page).
_BARE_KERNEL_TAG = re.compile(r"^\s*kernel: ?", re.ASCII)
# journalctl -o short-monotonic: "[  104.032925] host kernel: ".
_MONO_HOST = re.compile(r"^\S+ kernel(?:\[\d+\])?: ?", re.ASCII)
# dmesg: "[  123.456789]"
_UPTIME = re.compile(r"^\[\s*(\d{1,10})\.(\d{1,9})\]", re.ASCII)
# dmesg -T: "[Mon Apr 20 15:08:07 2020]" (also localised day/month names: any text + time + year)
_CTIME = re.compile(r"^\[(?P<text>[^\]\n]{0,40}?(\d\d):(\d\d):(\d\d) (\d{4}))\]", re.ASCII)
_CTIME_EN = re.compile(r"^[A-Z][a-z]{2} ([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4})$", re.ASCII)
# dmesg --time-format=iso: "2020-08-30T17:16:09,123456+02:00"
_ISO = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[.,]\d+)?(?:[+-]\d\d:?\d\d|Z)?) ", re.ASCII)
# printk caller id "[    T1]" / "[  C3]".
_CALLER = re.compile(r"^\[\s*([TC]\d+)\]", re.ASCII)
# Unisoc wall clock "[03-19 10:05:52.172]".
_WALL = re.compile(r"^ ?\[\d\d-\d\d \d\d:\d\d:\d\d\.\d+\]", re.ASCII)
# Android tag "[3:  Binder:9343_3:22875]" (cpu, comm, pid); comm may contain ':' and spaces.
_ANDROID = re.compile(r"^\s{0,2}\[\s*(\d{1,4}):\s*(.{1,40}?):(\d{1,9})\]", re.ASCII)


@dataclass(frozen=True, slots=True)
class Prefixed:
    """A kernel message with its prefixes taken apart.

    ``message`` keeps the message's own leading spaces after the one separator space, since
    indentation distinguishes continuation lines.
    """

    message: str
    timestamp_text: str | None = None
    uptime_seconds: float | None = None
    timestamp: _dt.datetime | None = None
    host: str | None = None
    caller: str | None = None
    tag_cpu: int | None = None
    tag_comm: str | None = None
    tag_pid: int | None = None
    had_prefix: bool = False


def expand_escapes(line: str) -> list[str]:
    """Split a syslog line with rsyslog ``#012`` (newline) escapes into its lines.

    The first part keeps the syslog prefix; the following parts have none (as the kernel
    printed them, they were continuation lines). ``#011`` (tab) becomes a tab.
    """
    if "#0" not in line:
        return [line]
    parts = line.split("#012")
    return [p.replace("#011", "\t") for p in parts]


def _parse_iso(text: str) -> _dt.datetime | None:
    text = text.replace(",", ".").replace(" ", "T", 1)
    if len(text) >= 5 and text[-5] in "+-" and text[-3] != ":" and text[-4:].isdigit():
        text = text[:-2] + ":" + text[-2:]
    try:
        return _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _parse_ctime(text: str) -> _dt.datetime | None:
    match = _CTIME_EN.match(text.strip())
    if not match:
        return None
    month = _MONTHS.get(match.group(1))
    if month is None:
        return None
    try:
        return _dt.datetime(int(match.group(6)), month, int(match.group(2)),
                            int(match.group(3)), int(match.group(4)), int(match.group(5)))
    except ValueError:
        return None


def split_prefix(line: str) -> Prefixed:
    """Peel the prefixes off one line (see the module docstring for the formats)."""
    text = line
    ts_text: str | None = None
    uptime: float | None = None
    when: _dt.datetime | None = None
    host: str | None = None
    caller: str | None = None
    tag_cpu: int | None = None
    tag_comm: str | None = None
    tag_pid: int | None = None
    had = False

    if text[:1] in (" ", "\t"):
        # An indented copy (web page, mail quote): drop the indent only when a known
        # prefix follows, since indentation also marks continuation lines.
        candidate = text.lstrip(" \t")
        if (candidate[:1] in ("[", "<") and (_UPTIME.match(candidate) or _CTIME.match(candidate)
                                           or _LOGLEVEL.match(candidate))) \
                or (candidate[:1].isalnum() and _SYSLOG.match(candidate)):
            text = candidate
    if text[:1].isdigit():
        match = _KMSG.match(text)
        if match:
            usec = int(match.group(3))
            ts_text = f"[{usec // 1_000_000:5d}.{usec % 1_000_000:06d}]"
            uptime = usec / 1e6
            text = text[match.end():]
            had = True
        else:
            match = _UNISOC.match(text)
            if match:
                text = text[match.end():].lstrip(" ")
                had = True
    if text[:1] == "<":
        match = _LOGLEVEL.match(text)
        if match:
            text = text[match.end():]
            had = True
    first = text[:1]
    if first.isalpha() or first.isdigit():
        match = _SYSLOG.match(text)
        if match:
            ts_text = match.group("ts")
            host = match.group("host")
            if ts_text[:1].isdigit():
                when = _parse_iso(ts_text)
            text = text[match.end():]
            had = True
        elif first.isdigit():
            match = _ISO.match(text)
            if match:
                ts_text = match.group(1)
                when = _parse_iso(ts_text)
                text = text[match.end():]
                had = True
    elif first == " " and text.lstrip(" ")[:7] == "kernel:":
        match = _BARE_KERNEL_TAG.match(text)
        if match:
            text = text[match.end():]
            had = True
    elif first == "k" and text.startswith("kernel:"):
        text = text[7:].lstrip(" ") if text[7:8] == " " else text[7:]
        had = True
    # A bracketed uptime or ctime may follow a syslog prefix (kern.log with printk times).
    if text[:1] == "[":
        match = _UPTIME.match(text)
        if match:
            uptime_text = text[: match.end()]
            if ts_text is None or not had:
                ts_text = uptime_text
            elif uptime is None:
                ts_text = f"{ts_text} {uptime_text}"
            uptime = float(f"{match.group(1)}.{match.group(2)}")
            text = text[match.end():]
            had = True
            mono = _MONO_HOST.match(text.lstrip(" ")) if " kernel" in text[:80] else None
            if mono:
                host = text.lstrip(" ")[: mono.end()].split(" ", 1)[0]
                text = text.lstrip(" ")[mono.end():]
        else:
            match = _CTIME.match(text)
            if match:
                ts_text = text[: match.end()]
                when = _parse_ctime(match.group("text"))
                text = text[match.end():]
                had = True
        if text[:1] == "[":
            match = _CALLER.match(text)
            if match:
                caller = match.group(1)
                text = text[match.end():]
    if text[:2] in (" [", "[0", "[1"):
        match = _WALL.match(text)
        if match:
            text = text[match.end():]
    if had and text[:1] == " ":
        text = text[1:]
    if "[" in text[:3]:
        match = _ANDROID.match(text)
        if match:
            tag_cpu = int(match.group(1))
            tag_comm = match.group(2).strip()
            tag_pid = int(match.group(3))
            text = text[match.end():]
            if text[:1] == " ":
                text = text[1:]
            had = True
    return Prefixed(
        message=text,
        timestamp_text=ts_text,
        uptime_seconds=uptime,
        timestamp=when,
        host=host,
        caller=caller,
        tag_cpu=tag_cpu,
        tag_comm=tag_comm,
        tag_pid=tag_pid,
        had_prefix=had,
    )
