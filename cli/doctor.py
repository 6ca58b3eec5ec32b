"""``python main.py doctor RUN [--repair]``: say what is missing or corrupt in a run and what will
re-make it; with ``--repair``, re-make it. A run or revision that stopped part-way (no film for its
current version yet) is a problem too, finished by ``python main.py resume RUN``. Exit 0: nothing
wrong (or all repaired); 1: problems found (the fix is printed: ``--repair``, or ``resume`` for an
unfinished run); 2: damage no repair can undo (one line saying what, and the fix)."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from agents.director.rundir import RunError
from agents.doctor import Report, check_run, repair_run
from cli.progress import RichEvents
from story.words import plural


def _table(report: Report) -> Table:
    table = Table(title=f"Problems in {report.run}", title_justify="left")
    for col in ("file", "state", "what", "re-made by"):
        table.add_column(col, overflow="fold")
    for p in report.problems:
        table.add_row(p.path, p.state, p.what, p.remedy)
    return table


def cmd_doctor(args: argparse.Namespace) -> int:
    console = Console(highlight=False, soft_wrap=True)
    if not args.repair:
        report = check_run(args.run_dir)
        if report.ok and not report.unfinished:
            console.print(f"{args.run_dir}: no problems (every file the manifest names is there, with its hash)")
            return 0
        if not report.ok:
            console.print(_table(report), markup=False)
        if report.unrepairable:
            p = report.unrepairable[0]
            raise RunError(f"{p.path} is {p.state} and {p.remedy}")
        if report.unfinished:
            # resume repairs the damaged files it needs too, then finishes the version.
            console.print(f"{args.run_dir}: unfinished: {report.unfinished}. Finish it with "
                          f"`python main.py resume {args.run_dir}`"
                          + (" (it repairs the files above first)" if not report.ok else ""), markup=False)
            return 1
        shots = report.rerender
        console.print(f"Repair with `python main.py doctor {args.run_dir} --repair`"
                      + (f" (renders {plural(len(shots), 'shot')} {', '.join(shots)} again)" if shots else " (no shot is rendered again)"))
        return 1
    with RichEvents(console, quiet=args.quiet) as events:
        report = repair_run(args.run_dir, events=events)
    for line in report.repaired:
        console.print(f"repaired: {line}", markup=False)
    if report.ok and not report.unfinished:
        console.print(f"{args.run_dir}: no problems left")
        return 0
    if report.ok:
        raise RunError(f"{args.run_dir} is still unfinished ({report.unfinished}); finish it with "
                       f"`python main.py resume {args.run_dir}`")
    console.print(_table(report), markup=False)
    p = (report.unrepairable or report.problems)[0]
    raise RunError(f"{p.path} is {p.state} and {p.remedy}")
