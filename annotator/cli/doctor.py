"""``annotator doctor``: find what interrupted work left behind, and repair it with ``--fix``.

Each check is a function ``check(args) -> list[Finding]`` in ``CHECKS``; a new kind of
problem (runs a killed process left ``running``, say) is one more function there.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from annotator.cli.common import print_json


@dataclass
class Finding:
    """One thing to repair: what it is, where, and what ``--fix`` (or the next export to
    the same target) does with it; ``fixed`` says whether this run did it."""

    check: str
    path: str
    problem: str
    action: str
    fixed: bool = False


def register(sub: Any) -> None:
    p = sub.add_parser("doctor", help="list (and with --fix repair) what killed exports "
                                      "left behind")
    p.add_argument("paths", nargs="*", default=["."], metavar="PATH",
                   help="export targets (--out values) or folders holding them; each is "
                        "checked beside itself and, for a folder, inside (default: .)")
    p.add_argument("--fix", action="store_true",
                   help="repair: restore an export an interrupted publish moved aside and "
                        "remove the leftovers of processes that are no longer running")
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    p.set_defaults(func=cmd_doctor)


def _human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"  # pragma: no cover


def check_export_leftovers(args: argparse.Namespace) -> list[Finding]:
    """Hidden ``.NAME.partial-PID`` / ``.NAME.old-PID`` copies beside export targets."""
    from annotator.publish import find_leftovers, recover

    seen: dict[Path, Any] = {}
    for raw in args.paths:
        path = Path(raw).absolute()
        found = find_leftovers(path.parent, path.name)
        if path.is_dir():
            found += find_leftovers(path)
        for lo in found:
            seen.setdefault(lo.path, lo)
    findings = []
    targets = sorted({lo.target for lo in seen.values()})
    for target in targets:
        mine = [lo for lo in seen.values() if lo.target == target]
        what = {lo.path: (f"{'set-aside' if lo.kind == 'old' else 'staged'} copy of an "
                          f"export to {target} by process {lo.pid} "
                          f"({_human_size(lo.size())})", lo.action) for lo in mine}
        done = {lo.path: action for lo, action in recover(target)} if args.fix else {}
        for lo in mine:
            problem, action = what[lo.path]
            findings.append(Finding("export-leftover", str(lo.path), problem,
                                    done.get(lo.path, action), fixed=lo.path in done))
    return findings


CHECKS: list[Callable[[argparse.Namespace], list[Finding]]] = [check_export_leftovers]


def cmd_doctor(args: argparse.Namespace) -> int:
    findings = [f for check in CHECKS for f in check(args)]
    if args.json:
        print_json({"findings": [asdict(f) for f in findings]})
        return 0
    if not findings:
        print("nothing to repair")
        return 0
    for f in findings:
        pending = not f.fixed and not f.action.startswith("kept")
        print(f"{f.path}: {f.problem}; {'to be ' if pending else ''}{f.action}")
    pending = [f for f in findings if not f.fixed and not f.action.startswith("kept")]
    if pending:
        print(f"{len(pending)} to repair: run `annotator doctor --fix` (or export to the "
              "same target again)")
    return 0
