"""``minfree apply``: change vm settings safely (plan, confirm, journal, write, verify, persist).

    minfree apply --min-free-kbytes 90112 --dry-run
    minfree apply --min-free-kbytes recommended --watermark-scale-factor 200 --yes
    minfree apply --set vm.swappiness=10 --persist sysctl.conf --fix-conflicts
"""

from __future__ import annotations

import argparse
import sys

from minfree.errors import RefusedError, UsageError

PERSIST_MODES = ("sysctl.d", "sysctl.conf", "none")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--min-free-kbytes", metavar="N|recommended",
                        help="vm.min_free_kbytes in kB, or 'recommended' (minfree recommend's value)")
    parser.add_argument("--watermark-scale-factor", metavar="N", help="vm.watermark_scale_factor")
    parser.add_argument("--swappiness", metavar="N", help="vm.swappiness")
    parser.add_argument("--vfs-cache-pressure", metavar="N", help="vm.vfs_cache_pressure")
    parser.add_argument("--set", metavar="KEY=VALUE", action="append", default=[],
                        help="any key minfree knows (repeatable), e.g. vm.zone_reclaim_mode=0")
    parser.add_argument("--persist", choices=PERSIST_MODES, default="sysctl.d",
                        help="where the value is kept for the next boot (default: a late-sorting "
                             "file in /etc/sysctl.d)")
    parser.add_argument("--fix-conflicts", action="store_true",
                        help="comment out other definitions that would win at boot (backed up in the journal)")
    parser.add_argument("--allow-high", action="store_true",
                        help="allow min_free_kbytes above 5%% of RAM (never above 10%%)")
    parser.add_argument("--root", metavar="PATH", help="a directory laid out like a root (default: this host)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def _requested(args: argparse.Namespace) -> dict[str, str]:
    requested: dict[str, str] = {}
    named = (
        ("vm.min_free_kbytes", args.min_free_kbytes),
        ("vm.watermark_scale_factor", args.watermark_scale_factor),
        ("vm.swappiness", args.swappiness),
        ("vm.vfs_cache_pressure", args.vfs_cache_pressure),
    )
    for key, value in named:
        if value is not None:
            requested[key] = value
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set needs KEY=VALUE, got {item!r}")
        from minfree.kernel.sysctl_catalog import lookup

        spec = lookup(key)
        canonical = spec.key if spec else key.strip()
        if canonical in requested:
            raise UsageError(f"{canonical} given twice")
        requested[canonical] = value.strip()
    return requested


def recommended_min_free_kbytes(root: str | None, allow_high: bool) -> str:
    """``minfree recommend``'s ``min_free_kbytes`` for ``root``, as text.

    Uses the doctor's pipeline (collect the host, evaluate the findings, size the reserve).
    When it recommends no change (today's value is already enough) or cannot size it, this
    is a clear error rather than a silent no-op.
    """
    try:
        from minfree.analysis.findings import evaluate
        from minfree.outputs.doctor_json import diagnose_root
        from minfree.recommend import recommend
    except ImportError as error:  # pragma: no cover - a partial installation
        raise UsageError(
            f"--min-free-kbytes recommended: the recommendation is unavailable ({error}); "
            "run `minfree recommend` and pass its number") from None
    diagnosis = diagnose_root(root)
    result = recommend(diagnosis, evaluate(diagnosis), allow_high=allow_high)
    wanted = next((r for r in result.recommendations if r.sysctl == "vm.min_free_kbytes"), None)
    if wanted is None:
        current = diagnosis.sysctl.get("vm.min_free_kbytes")
        why = (f"today's value ({current} kB) is already at least what the evidence supports"
               if result.chosen_kb is not None else "no rule could size it for this host")
        raise UsageError(f"--min-free-kbytes recommended: nothing to change: {why} "
                         "(see `minfree recommend`)")
    if result.allow_high_needed and not allow_high:
        raise UsageError("--min-free-kbytes recommended: the recommendation is above 5% of RAM; "
                         "add --allow-high to accept it (see `minfree recommend`)")
    return wanted.recommended


def _confirm() -> None:
    if not sys.stdin.isatty():
        raise RefusedError(
            "no terminal to confirm on (rule: apply asks before changing anything; "
            "override: --yes after reviewing the plan with --dry-run)")
    answer = input("Apply these changes? [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise RefusedError("not confirmed: nothing was changed")


def run(args: argparse.Namespace) -> int:
    from minfree.apply.execute import execute
    from minfree.apply.plan import build_plan
    from minfree.outputs.apply_text import render_plan, render_result

    requested = _requested(args)
    recommended = requested.get("vm.min_free_kbytes", "").strip().lower() == "recommended"
    if recommended:
        requested["vm.min_free_kbytes"] = recommended_min_free_kbytes(args.root, args.allow_high)
    command = tuple(sys.argv[1:]) if sys.argv and sys.argv[0].endswith("minfree") else ()
    reason = "requested with `minfree apply " + " ".join(
        f"{k}={v}" for k, v in requested.items()) + "`"
    if recommended:
        reason += " (vm.min_free_kbytes as recommended by `minfree recommend`)"
    plan = build_plan(args.root, requested, persist=args.persist, fix_conflicts=args.fix_conflicts,
                      allow_high=args.allow_high, reason=reason)
    sys.stdout.write(render_plan(plan))
    if args.dry_run:
        sys.stdout.write("Dry run: nothing was changed.\n")
        return 0
    plan.refuse_if_needed()
    if plan.does_nothing:
        sys.stdout.write("Nothing to do: the runtime values and files already match.\n")
        return 0
    if not args.yes:
        _confirm()
    result = execute(plan, command=command or ("apply",))
    sys.stdout.write(render_result(result))
    return 0
