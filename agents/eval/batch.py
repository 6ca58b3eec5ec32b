"""Folders of films: tell a run from a batch folder, list a batch's finished films, and find the scripts
folder its films render (what ``eval --st-bench`` needs).

A batch folder is a folder holding ``batch.json`` (made by ``main.py batch``) or run folders (at most two
levels down, as :func:`agents.eval.stbench.run_folders` finds them). ``eval`` and ``report`` accept a run or a
batch folder and refuse anything else before writing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from agents.eval.stbench import run_folders

BATCH_FILE = "batch.json"
_RUN_FILES = ("script.json", "bible.json", "shots", "memory", "film.mp4", "versions")


def folder_kind(folder: Path) -> Literal["run", "batch"]:
    """``run`` when ``folder`` holds ``manifest.json`` (readable or not: opening it says what is wrong),
    ``batch`` when it holds ``batch.json`` or run folders. Anything else is a one-line
    :class:`~agents.director.rundir.RunError` naming what the folder is and what to pass instead."""
    from agents.director.rundir import RunDir, RunError

    if not folder.is_dir():
        raise RunError(f"{folder} is not a folder; pass a run folder or a batch folder (the --out of `render` or `batch`)")
    if (folder / RunDir.MANIFEST).exists():
        return "run"
    if (folder / BATCH_FILE).exists():
        return "batch"
    if RunDir.leftovers(folder) == "staging":
        RunDir.open(folder)  # raises: an interrupted creation, and how to finish it
    names = [p.name for p in folder.iterdir() if not p.name.startswith(".")]
    if any(n in _RUN_FILES for n in names):  # before looking for runs: versions/vN/ hold manifest copies
        raise RunError(f"{folder} holds run files but no {RunDir.MANIFEST}, so it is not a readable run; restore "
                       f"{RunDir.MANIFEST} from a backup, or render the film again into a new --out (nothing was written)")
    if run_folders(folder):
        return "batch"
    if not names:
        raise RunError(f"{folder} is empty, neither a run nor a batch folder; pass the --out folder of a `render` "
                       "or a `batch` (nothing was written)")
    raise RunError(f"{folder} is neither a run (no {RunDir.MANIFEST}) nor a batch folder (no {BATCH_FILE}, no run "
                   "folders under it); pass the --out folder of a `render` or a `batch` (nothing was written)")


def finished_runs(folder: Path) -> tuple[list[Path], list[str]]:
    """The run folders under the batch ``folder`` whose film is finished (manifest status ``complete``), sorted,
    and one line for each other run folder: why it is left out and how to finish it."""
    from agents.director.rundir import RunDir, RunError

    done: list[Path] = []
    skipped: list[str] = []
    for r in run_folders(folder):
        rel = r.relative_to(folder).as_posix()
        try:
            m = RunDir.open(r).manifest
        except RunError as e:
            skipped.append(f"{rel} ({e})")
            continue
        if m.status == "complete":
            done.append(r)
            continue
        shots = sum(1 for st in m.shots if st.outputs.video)
        skipped.append(f"{rel} ({m.status}, {shots} of {len(m.shots)} shots rendered; finish it with "
                       f"`python main.py resume {r}`)")
    return done, skipped


def _read(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def scripts_folder(folder: Path) -> tuple[bool, Path | None]:
    """Whether the films under the batch ``folder`` render story scripts (ST-Bench format), and the folder
    holding those scripts when it is known: ``batch.json``'s input for a ``batch SCRIPTS_DIR``, else the one
    existing folder the runs' script files came from. ``(False, None)`` for films made from loglines or a mix."""
    index = _read(folder / BATCH_FILE)
    if isinstance(index, dict) and isinstance(index.get("input"), dict):
        inp = index["input"]
        if inp.get("kind") != "scripts":
            return False, None
        path = Path(str(inp.get("path") or ""))
        return True, path if inp.get("path") and path.is_dir() else None
    sources = []
    for r in run_folders(folder):
        m = _read(r / "manifest.json")
        sources.append(str(m.get("source") or "") if isinstance(m, dict) else "")
    if not sources or not all(s.endswith(".json") and not s.startswith("logline:") for s in sources):
        return False, None
    parents = {Path(s).parent for s in sources}
    only = parents.pop() if len(parents) == 1 else None
    return True, only if only is not None and only.is_absolute() and only.is_dir() else None
