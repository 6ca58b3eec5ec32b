"""Reclaim disk space: remove the files only old versions of a film use (``main.py prune``).

Kept, always: the current version, the version ``undo`` returns to, and the ``keep`` versions that
were most recently current; every file one of them needs (``film_vN.mp4``, shot videos and tail
frames, memory keyframes, reference images) stays, whichever version made it. Removed: the other
versions' films, shots, tail frames, keyframes and rejected attempts. Their small records stay:
``versions/history.json`` lists every version (pruned ones with the time they were pruned) and
``versions/vN/*.json`` still say what each version was (script, bible, manifest, bank).

Safe to kill at any instruction. A prune is decided by one atomic write, ``history.json`` with the
pruned versions' records marked; only then are files deleted, one atomic unlink at a time (each
pruned version's film first). The files to delete are a pure function of the marks and of the JSON
snapshots, which are never deleted, so at every instant:

* the current version, the undo target and every unmarked version are whole (no file one of them
  needs is ever in the set);
* a marked version is refused by ``undo`` (:func:`agents.runs.undo_run` reads the marks), and
  ``history`` shows it as pruned, whatever of its files are left;
* running ``prune`` again finishes an interrupted prune (and counts the bytes it frees then).

The run's lock is held throughout (see :func:`agents.runs._open_for_change`), so no revision,
resume or other prune runs at the same time.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from agents.director import versions
from agents.director.rundir import RunDir, RunError
from schemas.edit import VersionRecord
from story.files import atomic_write_bytes

REJECTED = re.compile(r"^(?P<shot>\d{2,}-\d{2,})(?:\.v(?P<version>\d+))?\.a\d+\.mp4$")
"""``shots/rejected/SS-KK[.vN].aK.mp4``: attempt K of a shot that version N (1 when untagged) rejected."""


@dataclass
class PruneReport:
    """What a prune did."""

    pruned: list[int] = field(default_factory=list)
    """Versions this call marked as pruned."""
    earlier: list[int] = field(default_factory=list)
    """Versions an earlier prune marked (files of theirs no kept version needs any more go now:
    what an interrupted prune left, or what a version pruned since then was still using)."""
    kept: list[int] = field(default_factory=list)
    """Versions whose files all stay, most recently current first."""
    undo_target: int | None = None
    """The version ``undo`` returns to (kept, unless an earlier prune removed it)."""
    files: list[str] = field(default_factory=list)
    """Run-relative paths removed."""
    bytes_freed: int = 0
    """Sum of the removed files' sizes, in bytes."""


def undo_target(records: list[VersionRecord], current: int) -> int | None:
    """The version ``undo`` makes current again: the parent of the revision that made ``current``."""
    record = next((r for r in reversed(records) if r.version == current and r.action == "revise"), None)
    return record.parent if record else None


def pruned_versions(records: list[VersionRecord]) -> set[int]:
    return {r.version for r in records if r.pruned}


def _load(path: Path, *, required: bool) -> dict:
    """A snapshot JSON file; a missing one is empty, an unreadable one is fatal when ``required``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        if required:
            raise RunError(f"{path} is unreadable ({type(e).__name__}); prune cannot tell which files that version "
                           "needs, so nothing was removed — restore the file or remove the version's folder") from None
        return {}


def _files_of(version: int, manifest: dict, bank: dict, bible: dict) -> set[str]:
    """Run-relative files a version needs: its film, shot videos and tails, keyframes, references."""
    files = {versions.film_path(version)}
    for st in manifest.get("shots") or []:
        out = (st or {}).get("outputs") or {}
        if out.get("video"):
            files.add(out["video"])
        files.update(out.get("tail") or [])
    files.update(k["path"] for k in bank.get("keyframes") or [] if isinstance(k, dict) and k.get("path"))
    for c in bible.get("characters") or []:
        files.update((c or {}).get("reference_images") or [])
    return files


def version_files(run: RunDir, version: int, *, required: bool) -> set[str]:
    """Files ``version`` needs, read from its snapshot ``versions/vN/`` (and from the live files
    when it is the current version)."""
    folder = run.root / versions.VERSIONS / f"v{version}"
    files = _files_of(version, *(_load(folder / n, required=required) for n in ("manifest.json", "bank.json", "bible.json")))
    if version == run.manifest.version:
        files |= _files_of(version, *(_load(run.root / n, required=True)
                                      for n in (RunDir.MANIFEST, "memory/bank.json", RunDir.BIBLE)))
    return files


def _rejected(run: RunDir) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    folder = run.root / "shots" / "rejected"
    if folder.is_dir():
        for p in sorted(folder.iterdir()):
            m = REJECTED.match(p.name)
            if m and p.is_file():
                out.setdefault(int(m.group("version") or 1), []).append(f"shots/rejected/{p.name}")
    return out


def _inside(run: RunDir, rel: str) -> Path | None:
    try:
        return run.path(rel)
    except (RunError, ValueError):
        return None


def prune(run: RunDir, keep: int = 1) -> PruneReport:
    """Remove the files only old versions use (the run must be open under its lock, finished).

    ``keep`` (>= 1): how many of the most recently current versions stay whole; the version ``undo``
    returns to stays too. Raises :class:`RunError` for an unfinished run or a bad ``keep``."""
    if keep < 1:
        raise RunError(f"--keep {keep}: keep at least 1 version (the current one)")
    m = run.manifest
    if m.status != "complete":
        raise RunError(f"{run.root} is not finished ({m.status}); run `python main.py resume {run.root}` before pruning")
    records = versions.history(run)
    current = m.version
    recency = sorted({r.version for r in records} | {current},
                     key=lambda v: max([i for i, r in enumerate(records) if r.version == v], default=len(records)),
                     reverse=True)
    target = undo_target(records, current)
    protect = {current, *recency[:keep]} | ({target} if target is not None else set())
    marked = pruned_versions(records) - {current}  # marks are for good (the current one is never pruned)
    new = sorted(set(recency) - protect - marked)
    gone = marked | set(new)
    report = PruneReport(pruned=new, earlier=sorted(marked), kept=[v for v in recency if v not in gone],
                         undo_target=target)

    # Everything the kept versions need, read before anything changes (an unreadable snapshot stops here).
    needed: set[Path] = set()
    for v in recency:
        if v not in gone:
            needed |= {p for p in (_inside(run, rel) for rel in version_files(run, v, required=True)) if p}

    # The commit point: one atomic write marks the versions; everything after it can be redone.
    if new:
        at = versions.now()
        records = [r.model_copy(update={"pruned": at}) if r.version in new else r for r in records]
        atomic_write_bytes(run.root / versions.HISTORY, versions._records.dump_json(records, indent=2) + b"\n")

    rejected = _rejected(run)
    candidates: list[str] = [versions.film_path(v) for v in sorted(gone)]  # films first: no bare restore then
    for v in sorted(gone):
        candidates += sorted(version_files(run, v, required=False)) + rejected.get(v, [])
    folders: set[Path] = set()
    for rel in dict.fromkeys(candidates):
        path = _inside(run, rel)
        if path is None or path in needed:
            continue
        folders.add(path.parent)
        try:
            size = os.lstat(path).st_size
            os.unlink(path)
        except (FileNotFoundError, IsADirectoryError):
            continue
        report.files.append(rel)
        report.bytes_freed += size
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        if folder != run.root and folder.name.endswith(".tail"):
            try:
                folder.rmdir()  # only when empty (and a second prune removes what a killed one left)
            except OSError:
                pass
    return report


def prune_run(run_dir: str | Path, keep: int = 1) -> PruneReport:
    """``main.py prune RUN [--keep N]``: open the run under its lock, finish any interrupted
    change, prune."""
    from agents.runs import _open_for_change

    if keep < 1:
        raise RunError(f"--keep {keep}: keep at least 1 version (the current one)")
    run = _open_for_change(run_dir)
    try:
        return prune(run, keep)
    finally:
        run.unlock()
