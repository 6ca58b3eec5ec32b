"""``python main.py eval`` and ``python main.py report``: flags, tables, JSON.

    python main.py eval RUN|BATCH_DIR [...] [--json FILE] [--eval-models DIR]
    python main.py eval --st-bench ST_BENCH_DIR RUNS_DIR [--json FILE]
    python main.py report RUN_OR_BATCH_DIR

Domain errors (EvalError, ScoringError, RunError) propagate to ``main.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

METRICS = (
    ("aesthetic", "aesthetic quality"),
    ("prompt_following_global", "prompt following, global"),
    ("prompt_following_shot", "prompt following, single-shot"),
    ("cross_shot_all", "cross-shot consistency, all pairs"),
    ("cross_shot_top10", "cross-shot consistency, top-10 pairs"),
    ("identity", "character identity (same-person rate)"),
)


def _frames(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--frames-per-shot {text!r} is not a whole number, e.g. 8") from None
    if not 1 <= n <= 256:
        raise argparse.ArgumentTypeError(f"--frames-per-shot {n}: must be 1 to 256 (default 8)")
    return n


def add_parsers(sub) -> None:
    """Register ``eval`` and ``report`` on ``main.py``'s subparsers."""
    ev = sub.add_parser("eval", help="ST-Bench metrics (aesthetic, prompt following, consistency, identity) of runs",
                        description="Score one or more runs with the StoryMem paper's ST-Bench metrics and print them "
                                    "side by side. Without --eval-models a CPU fallback runs whose numbers are not "
                                    "comparable with the paper's (docs/eval.md).")
    ev.add_argument("runs", nargs="*", metavar="RUN",
                    help="run folders to score, or batch folders (every finished film under them; their "
                         "index.html is rebuilt)")
    ev.add_argument("--st-bench", nargs=2, metavar=("ST_BENCH_DIR", "RUNS_DIR"),
                    help="score every ST-Bench script's film found under RUNS_DIR (a batch folder)")
    ev.add_argument("--json", metavar="FILE", help="also write the results as JSON (- for stdout)")
    ev.add_argument("--eval-models", metavar="DIR", help="folder with CLIP ViT-L/14, the LAION head and ViCLIP "
                                                         "(or DAILIES_EVAL_MODELS); see docs/eval.md")
    ev.add_argument("--clip-l14", metavar="PATH", help="CLIP ViT-L/14 weights (file or open_clip folder)")
    ev.add_argument("--aesthetic-head", metavar="PATH", help="LAION aesthetic head (sa_0_4_vit_l_14_linear.pth)")
    ev.add_argument("--viclip", metavar="PATH", help="ViCLIP checkpoint (ViClip-InternVid-10M-FLT.pth)")
    ev.add_argument("--frames-per-shot", type=_frames, default=8, help="frames sampled per shot for aesthetics (default 8)")
    ev.add_argument("--no-identity", action="store_true", help="skip the face identity scorer")
    ev.add_argument("--no-write", action="store_true", help="do not store RUN/eval.json nor refresh RUN/report.html")
    rp = sub.add_parser("report", help="(re)build RUN/report.html, or DIR/index.html for a batch folder")
    rp.add_argument("folder", metavar="RUN_OR_BATCH_DIR")


def _console():
    from rich.console import Console

    width = max(110, int(os.environ.get("COLUMNS", "0") or 0))
    return Console(highlight=False, soft_wrap=False, width=width)


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def _judges(args: argparse.Namespace):
    from engine.scoring.build import EvalModels, build_judges

    return build_judges(EvalModels(models_dir=args.eval_models, clip=args.clip_l14, aesthetic_head=args.aesthetic_head,
                                   viclip=args.viclip, faces=not args.no_identity))


def _identity(judges):
    from engine.scoring.identity import IdentityScorer

    return IdentityScorer(judges.faces) if judges.faces is not None else None


def print_scorers(console, judges) -> None:
    from rich.table import Table

    t = Table(title="Scorers", title_justify="left")
    for col in ("role", "ran", "paper's model", "detail"):
        t.add_column(col, overflow="fold")
    for i in judges.info:
        t.add_row(i.role, i.name, "yes" if i.comparable else "no (fallback)", i.detail)
    console.print(t)
    for n in judges.notices:
        console.print(f"note: {n}", markup=False)


def print_run(console, r) -> None:
    from rich.markup import escape
    from rich.table import Table

    chars = [c.name for c in r.characters]
    t = Table(title=f"{escape(r.run)} - {escape(r.story_name)} (v{r.version}, engine {r.engine})", title_justify="left")
    for col in ("shot", "aesthetic", "prompt following", "faces", *[f"id: {escape(c)}" for c in chars]):
        t.add_column(col, overflow="fold")
    for s in r.shots:
        t.add_row(s.shot_id, _fmt(s.aesthetic), _fmt(s.prompt_following), "-" if s.faces is None else str(s.faces),
                  *[_fmt(s.identity.get(c)) for c in chars])
    f = r.film
    t.add_section()
    t.add_row("film", _fmt(f.aesthetic), f"{_fmt(f.prompt_following_shot)} (global {_fmt(f.prompt_following_global)})",
              "", *["" for _ in chars])
    console.print(t)
    console.print(f"cross-shot consistency: all pairs {_fmt(f.cross_shot_all)}, top-10 pairs {_fmt(f.cross_shot_top10)}; "
                  f"character identity {_fmt(f.identity)}", markup=False)
    if r.characters:
        c = Table(title="Characters (face distance; same person below 0.6)", title_justify="left")
        for col in ("character", "anchor", "cast in", "seen in", "mean distance", "same-person rate", "worst shot"):
            c.add_column(col, overflow="fold")
        for ch in r.characters:
            c.add_row(escape(ch.name), escape(ch.anchor or "none"), str(len(ch.cast_in)), str(len(ch.seen_in)),
                      _fmt(ch.mean_distance), _fmt(ch.same_person_rate),
                      f"{ch.worst_shot} ({_fmt(ch.max_anchor_distance)})" if ch.worst_shot else "-")
        console.print(c)
    for n in r.notes:
        console.print(f"note: {n}", markup=False)


def _labels(results) -> list[str]:
    names = [Path(r.run).name for r in results]
    return [n if names.count(n) == 1 else r.run for n, r in zip(names, results)]


def print_side_by_side(console, results, labels: list[str] | None = None, title: str = "Side by side") -> None:
    from rich.markup import escape
    from rich.table import Table

    labels = labels or _labels(results)
    t = Table(title=title, title_justify="left")
    t.add_column("metric")
    for lab in labels:
        t.add_column(escape(lab), overflow="fold")
    for key, name in METRICS:
        t.add_row(name, *[_fmt(getattr(r.film, key)) for r in results])
    t.add_row("shots", *[str(len(r.shots)) for r in results])
    t.add_row("engine, version", *[f"{r.engine}, v{r.version}" for r in results])
    console.print(t)


def _dump(path: str, payload: dict) -> None:
    text = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
    if path == "-":
        sys.stdout.write(text)
        return
    from story.files import atomic_write_bytes

    atomic_write_bytes(Path(path), text.encode("utf-8"))


def _store(result, args) -> None:
    if args.no_write:
        return
    from agents.eval.film import write_eval
    from report import refresh_report

    try:
        write_eval(result)
    except OSError as e:
        print(f"note: could not store {result.run}/eval.json ({e.strerror or e})", file=sys.stderr)
        return
    refresh_report(result.run)


def _targets(folders: list[str]) -> tuple[list[str], list[tuple[Path, list[Path], list[str]]]]:
    """The RUN arguments sorted into runs and batch folders ``(folder, finished runs, notes on the others)``.

    Every folder is checked before any scoring starts: a run that cannot be opened, a folder that is
    neither a run nor a batch, and a batch without a finished film are one-line domain errors."""
    from agents.director.rundir import RunDir
    from agents.eval.batch import finished_runs, folder_kind
    from agents.eval.film import EvalError

    runs, batches = [], []
    for r in folders:
        folder = Path(r).expanduser()
        if folder.is_dir() and folder_kind(folder) == "batch":
            done, skipped = finished_runs(folder)
            if not done:
                why = f": {'; '.join(skipped[:3])}{' ...' if len(skipped) > 3 else ''}" if skipped else " (no run folder yet)"
                raise EvalError(f"no finished film under {folder} to score{why}; finish the films first (run the "
                                "same `python main.py batch` command again, or `python main.py resume RUN`)")
            batches.append((folder, done, skipped))
        else:
            RunDir.open(r)
            runs.append(r)
    return runs, batches


def cmd_eval(args: argparse.Namespace) -> int:
    """Score runs and batch folders (every finished film under them; their index.html is rebuilt)."""
    from agents.eval.film import EvalError, evaluate_run
    from report.batch import write_index

    if args.st_bench and args.runs:
        raise EvalError("give either RUN folders or --st-bench ST_BENCH_DIR RUNS_DIR, not both")
    if not args.st_bench and not args.runs:
        raise EvalError("nothing to score: give one or more RUN folders, or --st-bench ST_BENCH_DIR RUNS_DIR")
    if args.json and args.json != "-":
        parent = Path(args.json).expanduser().resolve().parent
        if not parent.is_dir():
            raise EvalError(f"--json {args.json}: folder {parent} does not exist; choose an existing folder")
    if args.st_bench:
        return _st_bench(args)
    runs, batches = _targets(args.runs)
    console = _console() if args.json != "-" else _console_to_stderr()
    judges = _judges(args)
    identity = _identity(judges)
    results = []
    for r in runs:
        res = evaluate_run(r, judges, frames_per_shot=args.frames_per_shot, identity=identity)
        _store(res, args)
        results.append(res)
    scored = []  # per batch: (folder, [(label, result)], notes)
    for folder, done, skipped in batches:
        films = []
        for r in done:
            try:
                res = evaluate_run(r, judges, frames_per_shot=args.frames_per_shot, identity=identity)
            except EvalError as e:
                skipped.append(f"{r.relative_to(folder).as_posix()} ({e})")
                continue
            _store(res, args)
            films.append((r.relative_to(folder).as_posix(), res))
        scored.append((folder, films, skipped))
    print_scorers(console, judges)
    for res in results:
        print_run(console, res)
    if len(results) > 1:
        print_side_by_side(console, results)
    means = {}
    for folder, films, skipped in scored:
        means[str(folder)] = print_films(console, f"Batch {folder}: {len(films)} film(s)", films)
        for note in skipped:
            console.print(f"note: not scored: {note}", markup=False)
        if not args.no_write:
            console.print(f"Batch index: {write_index(folder)}", markup=False)
    if not judges.comparable:
        console.print("These numbers come from fallback scorers and are NOT comparable with the StoryMem paper's.",
                      markup=False)
    if args.json:
        every = results + [res for _, films, _ in scored for _, res in films]
        _dump(args.json, {"comparable": judges.comparable,
                          "scorers": [r.model_dump(mode="json") for r in every[0].scorers] if every else [],
                          "notices": judges.notices, "runs": [r.model_dump(mode="json") for r in results],
                          "batches": {str(folder): {"mean": means[str(folder)], "missing": skipped,
                                                    "runs": {name: r.model_dump(mode="json") for name, r in films}}
                                      for folder, films, skipped in scored}})
    return 0


def print_films(console, title: str, films) -> dict:
    """One row per ``(name, RunEval)`` of ``films`` with the film-level metrics, then their mean; returns
    the means (metric key -> value, None when no film has it)."""
    from rich.markup import escape
    from rich.table import Table

    t = Table(title=escape(title), title_justify="left")
    t.add_column("film")
    for _, label in METRICS:
        t.add_column(label, overflow="fold")
    for name, r in films:
        t.add_row(escape(name), *[_fmt(getattr(r.film, k)) for k, _ in METRICS])
    means = {k: _mean([getattr(r.film, k) for _, r in films]) for k, _ in METRICS}
    t.add_section()
    t.add_row("mean", *[_fmt(means[k]) for k, _ in METRICS])
    console.print(t)
    return means


def _console_to_stderr():
    from rich.console import Console

    return Console(stderr=True, highlight=False, width=110)


def _st_bench(args: argparse.Namespace) -> int:
    from agents.eval.film import EvalError, evaluate_run
    from agents.eval.stbench import match_runs
    from report.batch import write_index

    bench, runs_dir = (Path(p).expanduser() for p in args.st_bench)
    matched, missing = match_runs(bench, runs_dir)
    if not matched:
        raise EvalError(f"no run under {runs_dir} renders a script of {bench}; render them first "
                        f"(e.g. python main.py render {bench}/NAME.json --out {runs_dir}/NAME)")
    console = _console() if args.json != "-" else _console_to_stderr()
    judges = _judges(args)
    identity = _identity(judges)
    results = []
    for name, run in matched:
        try:
            res = evaluate_run(run, judges, frames_per_shot=args.frames_per_shot, identity=identity)
        except EvalError as e:
            missing.append(f"{name} ({e})")
            continue
        _store(res, args)
        results.append((name, res))
    print_scorers(console, judges)
    means = print_films(console, f"ST-Bench: {len(results)} film(s) from {runs_dir}", results)
    for m in missing:
        console.print(f"note: not scored: {m}", markup=False)
    if not judges.comparable:
        console.print("These numbers come from fallback scorers and are NOT comparable with the StoryMem paper's.",
                      markup=False)
    if not args.no_write:
        index = write_index(runs_dir)
        console.print(f"Batch index: {index}", markup=False)
    if args.json:
        _dump(args.json, {"comparable": judges.comparable, "notices": judges.notices,
                          "scorers": [r.model_dump(mode="json") for r in results[0][1].scorers] if results else [],
                          "mean": means, "missing": missing,
                          "runs": {name: r.model_dump(mode="json") for name, r in results}})
    return 0


def _mean(xs):
    vals = [x for x in xs if x is not None]
    return round(sum(vals) / len(vals), 4) if vals else None


def cmd_report(args: argparse.Namespace) -> int:
    """Rebuild ``RUN/report.html`` or a batch folder's ``index.html``; any other folder is refused
    (``RunError``) before anything is written."""
    from agents.eval.batch import folder_kind
    from report import write_report
    from report.batch import write_index

    folder = Path(args.folder).expanduser()
    out = write_report(folder) if folder_kind(folder) == "run" else write_index(folder)
    print(out)
    return 0
