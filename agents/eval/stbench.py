"""Find the films of an ST-Bench batch: which run folder under RUNS_DIR renders which script of the bench."""

from __future__ import annotations

import json
from pathlib import Path


def run_folders(root: Path, depth: int = 2) -> list[Path]:
    """Run folders (holding ``manifest.json``) at most ``depth`` levels under ``root``, sorted. The search
    does not enter runs, nor the remains of a run without its manifest (whose ``versions/vN/`` hold
    manifest copies that are no films)."""
    found: list[Path] = []
    level = [root]
    for _ in range(depth):
        nxt = []
        for d in level:
            try:
                children = sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))
            except OSError:
                continue
            for c in children:
                if (c / "manifest.json").is_file():
                    found.append(c)
                elif not _run_remains(c):  # a run without its manifest: its versions/vN are no films
                    nxt.append(c)
        level = nxt
    return sorted(found)


def _run_remains(folder: Path) -> bool:
    """Whether ``folder`` is (what is left of) a run: its plan or version snapshots without a manifest."""
    return (folder / "script.json").is_file() or (folder / "versions").is_dir()


def _story_name(path: Path) -> str | None:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("story_name")
    except (OSError, ValueError, AttributeError):
        return None


def match_runs(bench: Path, runs_dir: Path) -> tuple[list[tuple[str, Path]], list[str]]:
    """``(script name, run folder)`` for each bench script with a run, and the names without one.

    A run matches a script when its manifest's ``source`` is that script's file name, or its folder is
    named after the script, or its ``script.json`` has the script's ``story_name``."""
    from agents.eval.film import EvalError

    if not bench.is_dir():
        raise EvalError(f"--st-bench {bench} is not a folder; pass the ST-Bench scripts folder (e.g. ../shared/st-bench)")
    if not runs_dir.is_dir():
        raise EvalError(f"--st-bench RUNS_DIR {runs_dir} is not a folder; pass the folder holding the run folders")
    scripts = sorted(p for p in bench.glob("*.json") if not p.name.endswith(".bible.json"))
    if not scripts:
        raise EvalError(f"no ST-Bench scripts (*.json) in {bench}")
    runs = run_folders(runs_dir)
    info = []
    for r in runs:
        try:
            source = json.loads((r / "manifest.json").read_text(encoding="utf-8")).get("source", "")
        except (OSError, ValueError, AttributeError):
            source = ""
        info.append((r, Path(str(source)).stem, _story_name(r / "script.json")))
    matched, missing = [], []
    for s in scripts:
        name = _story_name(s)
        hit = next((r for r, src, _ in info if src == s.stem), None) \
            or next((r for r, _, _ in info if r.name == s.stem), None) \
            or next((r for r, _, story in info if name and story == name), None)
        if hit is None:
            missing.append(s.stem)
        else:
            matched.append((s.stem, hit))
    return matched, missing
