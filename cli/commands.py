"""Bodies of the CLI commands: build settings and options from the parsed flags, call the run
operations, print the summary. Domain errors propagate to ``main.py``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Collection
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agents.backends import BackendOptions
from agents.runs import film_from_logline, render_script, resume_run
from cli.progress import RichEvents
from schemas.memory import MemorySettings
from schemas.run import RunManifest, RunSettings
from story.files import slug
from story.words import count as counted


def _console() -> Console:
    return Console(stderr=False, highlight=False, soft_wrap=True)


def memory_settings(args: argparse.Namespace) -> MemorySettings:
    """The memory bank settings from ``--max-memory-size`` (a sink of up to 3 keyframes)."""
    return MemorySettings(max_size=args.max_memory_size, sink_size=max(0, min(3, args.max_memory_size)))


def run_settings(args: argparse.Namespace, memory: MemorySettings | None = None) -> RunSettings:
    """The run settings from the render flags (``cli.validate`` checks them before any command runs)."""
    width, height = args.size or (832, 480)  # no --size: 832x480, or the reference image's aspect
    return RunSettings(
        seed=args.seed, width=width, height=height, num_frames=args.frames, fps=args.fps,
        continuation=args.continuation, max_retries=args.max_retries, memory=memory or memory_settings(args),
    )


def backend_options(args: argparse.Namespace) -> BackendOptions:
    storymem = {"variant": args.continuation, "offload": args.offload, "memory_positions": args.memory_positions,
                "steps": args.steps, "attention_backend": args.attention_backend, "preset": args.preset,
                "gpus": args.gpus, "step_cache": args.step_cache}
    return BackendOptions(
        engine=args.engine or "auto", models_dir=args.models, llm_model=args.llm_model,
        vlm_model=args.vlm_model, base_url=args.base_url, clip_checkpoint=args.clip_checkpoint,
        planner_fallback=not getattr(args, "no_fallback", False),
        hpsv3_checkpoint=args.hpsv3, hpsv3_base=args.hpsv3_base,
        storymem={k: v for k, v in storymem.items() if v is not None},
    )


def _default_out(name: str) -> Path:
    base = Path("runs") / slug(name, fallback="film", letters="any")
    out, n = base, 2
    while out.exists():
        out = base.with_name(f"{base.name}-{n}")
        n += 1
    return out


def summary(console: Console, run_dir: Path, m: RunManifest, shown: Collection[str] = ()) -> None:
    """Where the film is, what ran, and what the user should know: the run's notices, but not those in
    ``shown`` (printed already while it ran), so each notice is printed once."""
    shots = m.shots
    renders = sum(s.attempts for s in shots)
    frames = sum(s.outputs.frame_count or 0 for s in shots)
    console.print()
    if m.status == "complete" and m.film:
        console.print(f"[bold green]Film:[/] {escape(str(run_dir / m.film))}  ({counted(len(shots), 'shot')}, {counted(frames, 'frame')}, "
                      f"{frames / m.settings.fps:.1f} s at {m.settings.fps} fps, {m.settings.width}x{m.settings.height})")
        console.print(f"Contact sheet: {run_dir / (m.contact_sheet or 'contact_sheet.png')}", markup=False)
    else:
        console.print(f"[bold yellow]Run not complete[/] ({m.status}); continue with `python main.py resume {escape(str(run_dir))}`")
    console.print(f"Shots: {sum(s.status == 'accepted' for s in shots)}/{len(shots)} accepted, {counted(renders, 'render')} "
                  f"({counted(m.total_retries, 'critic retry', 'critic retries')}); wall time {m.wall_seconds:.1f} s")
    table = Table(title="Backends", show_lines=False, title_justify="left")
    table.add_column("role")
    table.add_column("ran")
    table.add_column("how to get the real one")
    for role in ("planner", "engine", "critic", "embedder", "scorer", "identity"):
        info = m.backends.get(role)
        if info is None:
            continue
        ran = f"{info.name}" + (" (embedded default)" if info.embedded else "")
        table.add_row(role, ran, info.upgrade if info.embedded else (info.detail or "-"))
    console.print(table)
    for n in dict.fromkeys(m.notices):
        if n not in shown:
            console.print(f"[yellow]note:[/] {escape(n)}", highlight=False)
    usage = m.usage
    if usage:
        console.print(f"Model usage: {counted(len(usage), 'call')}, {sum(u.prompt_tokens for u in usage)} prompt + "
                      f"{counted(sum(u.completion_tokens for u in usage), 'completion token')}")


def cmd_render(args: argparse.Namespace) -> int:
    console = _console()
    out = Path(args.out) if args.out else _default_out(Path(args.script).stem)
    with RichEvents(console, quiet=args.quiet) as events:
        m = render_script(args.script, out, run_settings(args), backend_options(args), bible_path=args.bible,
                          events=events, strict=args.strict, size_from_reference=args.size is None)
    summary(console, out, m, events.shown)
    return 0 if m.status == "complete" else 1


def cmd_film(args: argparse.Namespace) -> int:
    console = _console()
    out = Path(args.out) if args.out else _default_out(args.logline[:40])
    with RichEvents(console, quiet=args.quiet) as events:
        m = film_from_logline(args.logline, out, run_settings(args), backend_options(args),
                              shots=args.shots, style=args.style, events=events)
    summary(console, out, m, events.shown)
    return 0 if m.status == "complete" else 1


def cmd_resume(args: argparse.Namespace) -> int:
    console = _console()
    run_dir = Path(args.run_dir)
    with RichEvents(console, quiet=args.quiet) as events:
        m = resume_run(run_dir, events=events, engine=getattr(args, "engine", None))
    summary(console, run_dir, m, events.shown)
    return 0 if m.status == "complete" else 1


def cmd_plan(args: argparse.Namespace) -> int:
    from agents.backends import BackendOptions, build_planner
    from agents.planner.logline import clean_logline
    from story.io import save_plan

    from agents.director.rundir import RunError
    from agents.planner.draft import draft_path_for
    from story.io import bible_path_for

    console = _console()
    for path in (Path(args.out), bible_path_for(args.out)):
        if path.exists() and not getattr(args, "force", False):
            raise RunError(f"{path} already exists; pass --force to overwrite it, or choose another -o")
    logline = clean_logline(args.logline)
    notices: list[str] = []
    planner, info = build_planner(BackendOptions(llm_model=args.llm_model, base_url=args.base_url,
                                                 planner_fallback=not args.no_fallback), notices)
    with RichEvents(console, quiet=args.quiet) as events:
        for n in notices:
            events.notice(n)
        plan = planner.plan(logline, shots=args.shots, style=args.style, draft=draft_path_for(args.out),
                            events=events)
    bible_path = save_plan(plan, args.out)
    n = len(plan.script.shots())
    console.print(f"[bold green]Plan:[/] {args.out} ({counted(n, 'shot')} in {counted(len(plan.script.scenes), 'scene')}) "
                  f"and {bible_path} ({counted(len(plan.bible.characters), 'character')})")
    ran = "offline, after the model failed" if getattr(planner, "fell_back", None) else info.name
    console.print(f"planner: {ran}" + (f" (embedded default; for a model: {info.upgrade})" if info.embedded else
                                       f" ({info.detail})"))
    console.print(f"render it with: python main.py render {args.out} --out runs/{slug(plan.script.story_name, letters='any')}")
    return 0


def show_proposal(console: Console, p: dict) -> None:
    """The plan of changes: the edits, the script diff and the shots that will be rendered again."""
    console.print(f"[bold]Proposed version {p['version']}[/] ({escape(p['reviser'])}): {escape(p['summary'] or '')}")
    for e in p["edits"]:
        console.print(f"  - {e['op']}: " + ", ".join(f"{k}={v!r}" for k, v in e.items() if k != "op"), highlight=False)
    replaced = p.get("replacements") or []
    if replaced:
        console.print(f"[bold]Replaced[/] ({counted(len(replaced), 'occurrence')}):")
        for r in replaced:
            console.print(f"  {r['where']}: {r['old']!r} -> {r['new']!r}   {r['after']}", highlight=False, markup=False)
    if p["diff"]:
        for line in p["diff"].splitlines():
            style = "green" if line.startswith("+") and not line.startswith("+++") else (
                "red" if line.startswith("-") and not line.startswith("---") else "dim")
            console.print(line, style=style, highlight=False, markup=False)
    rr = p["rerender"]
    console.print(f"[bold]Re-render:[/] {', '.join(rr) if rr else 'nothing'}"
                  f"   [bold]reuse as is:[/] {counted(len(p['reuse']), 'shot')}")
    for n in p.get("notes", []):
        console.print(f"[yellow]note:[/] {escape(n)}", highlight=False)


def _ask(console: Console, question: str) -> bool:
    try:
        return console.input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        return False


def _after_revision(console: Console, run_dir: Path, proposal: dict, approved: bool, m: RunManifest) -> int:
    if not approved:
        console.print("No change made.")
        return 0
    rendered = [s.shot_id for s in m.shots if s.version == m.version]
    console.print(f"[bold green]Version {m.version}:[/] {run_dir / 'film.mp4'} (also {run_dir / f'film_v{m.version}.mp4'}); "
                  f"rendered {', '.join(rendered) or 'nothing'}, reused {counted(len(m.shots) - len(rendered), 'shot')}")
    return 0 if m.status == "complete" else 1


def cmd_revise(args: argparse.Namespace) -> int:
    from agents.runs import revise_run

    console = _console()
    run_dir = Path(args.run_dir)

    def confirm(p: dict) -> bool:
        show_proposal(console, p)
        if args.yes:
            return True
        if sys.stdin.isatty():
            return _ask(console, "Apply these edits?")
        console.print("Not applied: re-run with --yes to apply (or use `python main.py chat`).")
        return False

    with RichEvents(console, quiet=args.quiet) as events:
        proposal, approved, m = revise_run(run_dir, args.request, confirm, events=events,
                                           overrides={"llm_model": args.llm_model, "base_url": args.base_url})
    return _after_revision(console, run_dir, proposal, approved, m)


def cmd_chat(args: argparse.Namespace) -> int:
    from agents.director.edits import EditError
    from agents.reviser.base import ReviseError
    from agents.runs import revise_run, undo_run

    console = _console()
    run_dir = Path(args.run_dir)
    console.print(f"Chatting about {run_dir} (`help`, `history`, `undo`, `quit`).")
    while True:
        try:
            text = console.input("[bold cyan]you>[/] ").strip()
        except (EOFError, KeyboardInterrupt):
            console.print()
            return 0
        if not text:
            continue
        if text.lower() in ("quit", "exit", ":q", "bye"):
            return 0
        if text.lower() == "help":
            from agents.reviser import grammar

            console.print(grammar.USAGE + "\nIn chat also: history (the versions), undo (the previous version is "
                          "current again), quit.", markup=False, highlight=False)
            continue
        if text.lower() == "history":
            cmd_history(argparse.Namespace(run_dir=str(run_dir)))
            continue
        if text.lower() == "undo":
            frm, to = undo_run(run_dir)
            console.print(f"Version {to} is current again (was {frm}); film.mp4 restored.")
            continue
        try:
            with RichEvents(console) as events:
                proposal, approved, m = revise_run(
                    run_dir, text, lambda p: (show_proposal(console, p), _ask(console, "Apply?"))[1], events=events,
                    overrides={"llm_model": args.llm_model, "base_url": args.base_url})
            _after_revision(console, run_dir, proposal, approved, m)
        except (ReviseError, EditError) as e:
            console.print(f"[red]{escape(str(e))}[/]", highlight=False)


def cmd_history(args: argparse.Namespace) -> int:
    from agents.runs import run_history, run_unfinished

    console = _console()
    records, current = run_history(args.run_dir)
    stopped = run_unfinished(args.run_dir)
    table = Table(title=f"Versions of {args.run_dir}", title_justify="left")
    for col in ("version", "what", "request", "rendered", "film", "at"):
        table.add_column(col, no_wrap=col == "version")
    for r in records:
        mark = ""
        if r.version == current and r is [x for x in records if x.version == current][-1]:
            mark = " (current, unfinished)" if stopped else " (current)"
        what = r.action if r.action != "undo" else f"undo v{r.parent} -> v{r.version}"
        film = f"pruned {r.pruned}" if r.pruned else (r.film or "-")
        mark += " (pruned)" if r.pruned else ""
        table.add_row(f"v{r.version}{mark}", what, r.request or "-", ", ".join(r.rerendered) or "-", film, r.at)
    console.print(table, markup=False)
    if stopped:
        console.print(f"Unfinished: {stopped}. Finish it with `python main.py resume {args.run_dir}`.", markup=False)
    return 0


def cmd_undo(args: argparse.Namespace) -> int:
    from agents.runs import undo_run

    frm, to = undo_run(args.run_dir)
    _console().print(f"Version {to} is current again (was {frm}); film.mp4 restored. Nothing was deleted: "
                     f"film_v{frm}.mp4 and its files stay.")
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    from cli.batch import cmd_batch as body

    return body(args)


def cmd_doctor(args: argparse.Namespace) -> int:
    from cli.doctor import cmd_doctor as doctor

    return doctor(args)


def dispatch(args: argparse.Namespace) -> int:
    from cli.evaluate import cmd_eval, cmd_report
    from cli.prune import cmd_prune

    return {"eval": cmd_eval, "report": cmd_report, "prune": cmd_prune, "doctor": cmd_doctor, "render": cmd_render, "film": cmd_film, "resume": cmd_resume, "plan": cmd_plan, "revise": cmd_revise,
            "chat": cmd_chat, "history": cmd_history, "undo": cmd_undo, "batch": cmd_batch}[args.command](args)
