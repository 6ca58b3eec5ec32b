"""Body of ``main.py batch``: check the input and flags, show the films (and a theme's proposals),
start or join Ray, run the batch with a live view, print the summary.

Order (so a bad input never costs a Ray start and nothing is written before the checks pass):
flags -> INPUT or the theme's proposals -> DIR and its ``batch.json`` -> Ray (and whether a node can
run one film) -> ``batch.json`` written -> films. Domain errors propagate to ``main.py`` (one line,
exit 2); Ctrl-C stops the films cleanly and exits 130.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from agents.batch import BatchError
from agents.batch.progress import describe
from schemas.batch import BatchIndex, BatchInput, FilmRecord
from story.words import count as counted

DONE_STYLE = {"complete": "green", "failed": "red", "interrupted": "yellow", "running": "cyan", "queued": "dim",
              "pending": "dim"}


# ---------------------------------------------------------------------------- checks and inputs


def check_flags(args: argparse.Namespace) -> None:
    if not args.out:
        raise BatchError("batch needs --out DIR: the folder that will hold the films' run folders and batch.json")
    if args.input and args.theme is not None:
        raise BatchError("give INPUT or --theme, not both")
    if not args.input and args.theme is None:
        raise BatchError('give INPUT (a loglines file or a folder of scripts) or --theme "..." --count N')
    if args.count is not None and args.theme is None:
        raise BatchError("--count goes with --theme (with INPUT, every line or script is a film)")
    if args.max_parallel is not None and args.max_parallel < 1:
        raise BatchError(f"--max-parallel {args.max_parallel}: give at least 1 (or leave it out: as resources allow)")
    if args.shots is not None:
        from agents.planner.logline import check_shots

        check_shots(args.shots)


def default_gpus(engine: str, models_dir: str | None, cluster_gpus: float, per_shot: int | None = None) -> int:
    """GPUs each film holds: ``--gpus`` (GPUs per shot, default 1) for the StoryMem engine (``auto``
    selects it when a weights folder is set and the cluster has GPUs), 0 for preview films."""
    storymem = engine == "storymem"
    if engine == "auto" and cluster_gpus > 0:
        from engine.storymem.loading import resolve_models_dir

        storymem = resolve_models_dir(models_dir) is not None
    return (per_shot or 1) if storymem else 0


def ray_timeout(address: str | None) -> float:
    """Seconds to wait for Ray: joining (DAILIES_RAY_JOIN_TIMEOUT_S, default 60) or starting a local
    cluster (DAILIES_RAY_START_TIMEOUT_S, default 300, for slow shared machines)."""
    name, default = ("DAILIES_RAY_JOIN_TIMEOUT_S", 60.0) if address else ("DAILIES_RAY_START_TIMEOUT_S", 300.0)
    try:
        return max(1.0, float(os.environ.get(name, default)))
    except ValueError:
        raise BatchError(f"{name}={os.environ[name]!r} is not a number of seconds") from None


def theme_films(args: argparse.Namespace, out: Path, console: Console):
    """The theme's proposals (kept from an earlier run of the same command, else proposed now), shown."""
    from agents.batch.index import describe_input, load_index, same_input
    from agents.batch.inputs import films_from_loglines
    from agents.planner.proposals import build_proposer, check_count, clean_theme

    theme, count = clean_theme(args.theme), check_count(args.count)
    stored = load_index(out) if (out / "batch.json").exists() else None
    si = stored.input if stored else None
    asked = BatchInput(kind="theme", theme=theme, count=count)
    if si and not same_input(si, asked):  # before asking a model for proposals that could not be used
        raise BatchError(f"{out} holds the batch of {describe_input(si)}, not {describe_input(asked)}; re-run that "
                         "command to continue it, or choose another --out")
    if si and si.proposals:
        loglines, proposer, where = si.proposals, si.proposer, f"kept in {out / 'batch.json'}"
    else:
        p = build_proposer(args.llm_model, args.base_url)
        loglines, proposer, where = p.propose(theme, count), p.name, f"proposed by the {p.name} planner"
    console.print(f"[bold]{counted(len(loglines), 'logline')} on[/] {theme!r} ({where}):", highlight=False)
    for n, line in enumerate(loglines, start=1):
        console.print(f"  {n}. {line}", highlight=False, markup=False)
    films = films_from_loglines(list(enumerate(loglines, start=1)))
    return BatchInput(kind="theme", theme=theme, count=count, proposals=loglines, proposer=proposer), films


def input_films(args: argparse.Namespace):
    from agents.batch.inputs import read_input

    kind, films = read_input(args.input)
    return BatchInput(kind=kind, path=str(Path(args.input).resolve())), films


# ---------------------------------------------------------------------------- progress view


def counts(index: BatchIndex) -> dict[str, int]:
    c = {s: 0 for s in ("complete", "running", "queued", "failed", "interrupted", "pending")}
    for f in index.films:
        c[f.status] += 1
    return c


def headline(index: BatchIndex) -> str:
    """``films: 1 done / 2 running / 0 failed / 3 to go (of 6)``."""
    c = counts(index)
    to_go = c["queued"] + c["pending"] + c["interrupted"]
    return (f"films: {c['complete']} done / {c['running']} running / {c['failed']} failed / {to_go} to go "
            f"(of {len(index.films)})")


def progress_lines(index: BatchIndex, progress: dict[str, dict]) -> list[str]:
    """The headline, then one line per running film with its current shot."""
    lines = [headline(index)]
    for f in index.films:
        if f.status == "running":
            lines.append(f"  {f.key}: {describe(progress.get(f.key))}")
    return lines


class BatchView:
    """:class:`agents.batch.driver.BatchEvents` for the terminal: a live panel (headline and the
    current shot of each running film) on a terminal; on anything else (a log, a pipe) one line per
    change of a film's status or current shot."""

    def __init__(self, console: Console, quiet: bool = False) -> None:
        self.console, self.quiet = console, quiet
        self.live_mode = console.is_terminal and not quiet
        self.live: Live | None = None
        self._shown: dict[str, str] = {}

    def __enter__(self) -> "BatchView":
        return self

    def __exit__(self, *exc) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def _render(self, index: BatchIndex, progress: dict[str, dict]) -> Group:
        lines = progress_lines(index, progress)
        return Group(Text(lines[0], style="bold"), *(Text(line) for line in lines[1:]))

    def film_update(self, record: FilmRecord) -> None:
        if self.quiet or record.status in ("queued", "pending"):
            return
        tail = ""
        if record.status == "complete":
            tail = f" in {record.task_seconds:.1f} s ({counted(record.shots_total, 'shot')})"
        elif record.reason:
            tail = f": {record.reason}"
        self.console.print(Text.assemble((f"{record.key}: ", "bold"), (record.status, DONE_STYLE[record.status]), tail))

    def tick(self, index: BatchIndex, progress: dict[str, dict]) -> None:
        if self.quiet:
            return
        if self.live_mode:
            if self.live is None:
                self.live = Live(self._render(index, progress), console=self.console, transient=True,
                                 refresh_per_second=4)
                self.live.start()
            else:
                self.live.update(self._render(index, progress))
            return
        for f in index.films:
            if f.status != "running":
                self._shown.pop(f.key, None)
                continue
            p = progress.get(f.key) or {}
            line = describe(p)
            if p.get("shot") and self._shown.get(f.key) != p.get("shot"):
                self._shown[f.key] = p["shot"]
                self.console.print(f"[{headline(index)}] {f.key}: {line}", highlight=False, markup=False)

    def notice(self, message: str) -> None:
        self.console.print(f"[yellow]note:[/] {escape(message)}", highlight=False)


# ---------------------------------------------------------------------------- summary


def summary(console: Console, out: Path, index: BatchIndex, *, interrupted: bool, wall_s: float) -> None:
    table = Table(title=f"Batch {out} ({wall_s:.1f} s)", title_justify="left")
    for col in ("film", "status", "shots", "wall", "film file / reason"):
        table.add_column(col, overflow="fold")
    for f in index.films:
        shots = f"{f.shots_done}/{f.shots_total}" if f.shots_total else "-"
        what = str(out / f.film) if f.status == "complete" and f.film else (f.reason or "-")
        if f.log:
            what += f" (traceback: {out / f.log})"
        table.add_row(f.key, Text(f.status, style=DONE_STYLE[f.status]), shots,
                      f"{f.wall_seconds:.1f} s" if f.wall_seconds else "-", Text(what))
    console.print()
    console.print(table)
    console.print(headline(index))
    engines = sorted({f.backends.get("engine", "") for f in index.films if f.backends} - {""})
    if engines:
        roles = ("planner", "engine", "critic")
        used = {r: sorted({f.backends[r] for f in index.films if r in f.backends}) for r in roles}
        console.print("Backends: " + "; ".join(f"{r} {', '.join(v)}" for r, v in used.items() if v)
                      + "  (each film's `main.py render` summary and manifest say how to get the real ones)")
    c = counts(index)
    if interrupted:
        console.print("[yellow]Interrupted[/]: run the same command again to resume the unfinished films.")
    elif c["failed"]:
        console.print(f"[red]{counted(c['failed'], 'film')} failed[/]: fix the cause, then run the same command with "
                      "--retry-failed (the other films are not touched).")
    console.print(f"Index: {out / 'batch.json'}")


def publish_index(out: Path) -> Path | None:
    """The batch's HTML index (``DIR/index.html``), built from its run folders by ``report.batch``: the
    single call site for it (called once the batch stops). Derived data: a failure is one note on stderr
    and None, never a failed batch."""
    from report.batch import write_index

    try:
        return write_index(out)
    except Exception as e:  # the page can be rebuilt any time with `main.py report DIR`
        print(f"note: index.html not updated ({type(e).__name__}: {e}); rebuild it with `python main.py report {out}`",
              file=sys.stderr)
        return None


# ---------------------------------------------------------------------------- the command


def cmd_batch(args: argparse.Namespace) -> int:
    from agents.batch import driver
    from agents.batch.index import BatchLock, check_out_dir, load_index, merge, now, reconcile, save_index, to_run
    from agents.runs import _options_record
    from cli.commands import _console, backend_options, run_settings

    console = _console()
    check_flags(args)
    address = args.ray_address or os.environ.get("RAY_ADDRESS") or None
    out = Path(args.out)
    settings = run_settings(args).model_dump(mode="json")
    opts = backend_options(args)
    try:
        check_out_dir(out)
        lock = BatchLock(out)
        if out.is_dir():
            lock.acquire()
        started = False
        try:
            inp, films = theme_films(args, out, console) if args.theme is not None else input_films(args)
            stamp = now()
            fresh = BatchIndex(created_at=stamp, updated_at=stamp, input=inp, settings=settings,
                               options=_options_record(opts), ray_address=address)
            index = merge(out, load_index(out), fresh, films)
            notes = reconcile(out, index) if out.is_dir() else []
            todo = to_run(index, retry_failed=args.retry_failed)
            t0 = time.perf_counter()
            finished, where = True, "nothing to render (Ray not started)"
            if todo:
                started = driver.connect(address, timeout_s=ray_timeout(address))
                import ray

                gpus = default_gpus(opts.engine, opts.models_dir, ray.cluster_resources().get("GPU", 0),
                                    per_shot=args.gpus)
                cluster = driver.cluster_resources(gpus)
                index.gpus = gpus
                where = (f"{'Ray cluster ' + address if address else 'a local Ray cluster'}: "
                         f"{counted(float(cluster.cpus), 'CPU')}, {counted(float(cluster.gpus), 'GPU')}, {counted(gpus, 'GPU')} per film")
            out.mkdir(parents=True, exist_ok=True)
            if lock.fd is None:
                lock.acquire()
            for note in notes:
                console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
            save_index(out, index)
            c = counts(index)
            skipped = c["failed"] - sum(f.status == "failed" for f in todo)
            console.print(f"[bold]Batch[/] {out}: {counted(len(index.films), 'film')} — {c['complete']} complete, {len(todo)} to "
                          f"render" + (f", {skipped} failed (not retried: add --retry-failed)" if skipped else "")
                          + f"; {where}", highlight=False)
            if todo:
                job = driver.BatchRun(out=out, settings=settings, options=dataclasses.asdict(opts), gpus=index.gpus,
                                      max_parallel=args.max_parallel, shots=args.shots, style=args.style)
                with BatchView(console, quiet=args.quiet) as view:
                    finished = driver.run_batch(index, todo, job, view)
            summary(console, out, index, interrupted=not finished, wall_s=time.perf_counter() - t0)
            page = publish_index(out)
            if page is not None:
                console.print(f"Page: {page}")
        finally:
            if started:
                driver.shutdown()
            lock.release()
    except KeyboardInterrupt:
        console.print("interrupted; run the same command again to resume")
        return 130
    if not finished:
        return 130
    return 0 if all(f.status == "complete" for f in index.films) else 1
