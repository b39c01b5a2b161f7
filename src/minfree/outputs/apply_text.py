"""Plain-text rendering of apply plans, results, rollbacks and the journal. Decides nothing.

The plan reads top to bottom as the apply will act: the changes (current -> new), the
zones' watermarks after them, the memory taken from applications, the file edits as a
unified diff, and what each boot tool will apply afterwards; refusals and warnings last,
next to the confirmation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from minfree.analysis.sysctl_boot import BootSysctl
    from minfree.apply.execute import ApplyResult
    from minfree.apply.journal import JournalEntry
    from minfree.apply.plan import ApplyPlan
    from minfree.apply.rollback import RollbackResult


def _kb(kb: int | None) -> str:
    if kb is None:
        return "unknown"
    sign = "-" if kb < 0 else ""
    kb = abs(kb)
    if kb >= 1024 * 1024:
        return f"{sign}{kb} kB ({kb / 1024 / 1024:.2f} GiB)"
    if kb >= 1024:
        return f"{sign}{kb} kB ({kb / 1024:.1f} MiB)"
    return f"{sign}{kb} kB"


def render_plan(plan: ApplyPlan) -> str:
    """The whole plan as text (what ``--dry-run`` prints)."""
    lines: list[str] = []
    facts = plan.facts
    where = "this host" if plan.live else str(plan.root)
    release = f", kernel {facts.release}" if facts.release else ""
    lines.append(f"Plan {plan.id} for {where}{release}")
    lines.append("")
    lines.append("Changes:")
    for change in plan.changes:
        if change.current is not None:
            current = change.current
        elif change.captured is not None:
            current = f"{change.captured} (captured)"
        else:
            current = "(no runtime value)"
        same = "" if change.changes_runtime else "  (already set; files only)"
        default = f"  [kernel default {change.default}]" if change.default is not None else ""
        lines.append(f"  {change.key}: {current} -> {change.new} {change.unit}{default}{same}")
    if plan.zones:
        page_kb = facts.page_size_bytes // 1024
        lines.append("")
        lines.append(f"Per-zone watermarks, pages of {page_kb} kB (min/low/high), today -> after:")
        for z in plan.zones:
            free = f", free {z.free_pages}" if z.free_pages is not None else ""
            lines.append(
                f"  node {z.node} {z.zone:<8} managed {z.managed_pages}{free}: "
                f"{z.now[0]}/{z.now[1]}/{z.now[2]} -> {z.after[0]}/{z.after[1]}/{z.after[2]}"
            )
        lines.append("")
        lines.append(
            f"Memory taken from applications: {_kb(plan.taken_kb)} more kept free by kswapd "
            f"(sum of high watermarks {_kb(plan.new_high_total_kb)} after); "
            f"MemAvailable falls by about {_kb(plan.totalreserve_delta_kb)}."
        )
        if facts.mem_available_kb is not None:
            lines.append(f"Today: MemTotal {_kb(facts.mem_total_kb)}, MemAvailable {_kb(facts.mem_available_kb)}.")
    lines.append("")
    persist = plan.persist
    if persist.mode == "none":
        lines.append("Persist: none (runtime only).")
    elif persist.edits:
        lines.append(f"Persist ({persist.mode}): file edits")
        for edit in persist.edits:
            lines.append(f"  {edit.path}: {'; '.join(edit.reasons)}")
        journal = ("/" if plan.live else f"{plan.root}/") + f"var/lib/minfree/journal/{plan.id}/"
        lines.append(f"  original bytes, mode and owner are kept in {journal} first "
                     f"(`minfree rollback {plan.id}` restores them)")
        lines.append("")
        for edit in persist.edits:
            lines.append(edit.diff().rstrip("\n"))
    else:
        lines.append(f"Persist ({persist.mode}): the files already say this; no edit.")
    for note in persist.notes:
        lines.append(f"  note: {note}")
    lines.append("")
    lines.extend(render_boot_summary(persist.boot_after, [c.key for c in plan.changes]))
    for conflict in persist.conflicts:
        state = "fixed by --fix-conflicts" if conflict.fixed else (
            "WILL NOT SURVIVE A REBOOT" if conflict.relevant else "only if someone runs it")
        lines.append(
            f"  conflict [{conflict.tool}] {conflict.key}: boot gives {conflict.boot_value or 'no value'} "
            f"instead of {conflict.wanted} ({state}): {conflict.advice}"
        )
    if facts.notes or plan.cautions or plan.refusals:
        lines.append("")
    for note in facts.notes:
        lines.append(f"note: {note}")
    for caution in plan.cautions:
        lines.append(f"warning ({caution.rule}): {caution.message}")
    for refusal in plan.refusals:
        lines.append(refusal.text())
    return "\n".join(lines) + "\n"


def render_boot_summary(boot: BootSysctl, keys: list[str]) -> list[str]:
    """Which value each key gets at boot under both tools, and from where."""
    tool = boot.boot_tool or "unknown (both shown)"
    if boot.init == "other":
        tool = "none known: no sysctl file may be read at boot here (both shown)"
    conf = boot.sysctl_conf_read_at_boot
    conf_text = {True: "read", False: "NOT read", None: "read only under procps"}[conf]
    if not boot.sysctl_conf_exists:
        conf_text = "absent"
    why = f" ({boot.init_reason})" if boot.init_reason else ""
    lines = [f"At boot (init: {boot.init}{why}; boot tool: {tool}; /etc/sysctl.conf {conf_text}):"]
    for key in keys:
        for stack in boot.stacks():
            winner = stack.winner(key)
            where = winner.where if winner else "no file: kernel default"
            value = winner.value if winner else "-"
            lines.append(f"  {stack.tool:<14} {key} = {value}  ({where})")
    return lines


def render_result(result: ApplyResult) -> str:
    lines = [f"Applied {result.entry.id}."]
    for write in result.writes:
        lines.append(f"  {write.key} = {write.read_back} (read back)")
    if result.zones_compared:
        if result.zone_mismatches:
            for m in result.zone_mismatches:
                lines.append(f"  zone {m.node} {m.zone}: /proc/zoneinfo shows {m.actual}, "
                             f"the model predicted {m.predicted}")
        else:
            lines.append(f"  /proc/zoneinfo matches the predicted watermarks ({result.zones_compared} zones)")
    for warning in result.warnings:
        lines.append(f"warning: {warning}")
    lines.append(f"Undo with: minfree rollback {result.entry.id}")
    return "\n".join(lines) + "\n"


def render_rollback(result: RollbackResult) -> str:
    lines = [f"Rolled back {result.entry.id}."]
    for write in result.runtime:
        lines.append(f"  {write.key} = {write.read_back}")
    for action in result.files:
        lines.append(f"  {action.path}: {action.action}")
    return "\n".join(lines) + "\n"


def render_history(entries: list[JournalEntry], problems: list[str]) -> str:
    if not entries:
        text = "No applies recorded.\n"
    else:
        rows = []
        for entry in entries:
            changes = ", ".join(f"{r.key} {r.original}->{r.new}" for r in entry.runtime) or "files only"
            files = ", ".join(f.path for f in entry.files)
            rows.append(f"{entry.id}  {entry.created}  {entry.state:<11} {changes}"
                        + (f"  [{files}]" if files else ""))
        text = "\n".join(rows) + "\n"
    for problem in problems:
        text += f"note: {problem}\n"
    return text
