"""Versions of a film: snapshots, the history log, and changes that span several files.

```
RUN/film.mp4                  the current version, always
RUN/film_vN.mp4               every assembled version, kept
RUN/versions/vN/              script.json bible.json manifest.json bank.json of version N
RUN/versions/history.json     what made each version (render, revise + request + edits, undo)
RUN/versions/txn/<name>/      a change of several files staged before it is applied
```

Several files change together when a revision is committed or a version restored. They are first
staged in ``versions/txn/<name>.staged``; renaming that folder to ``<name>.ready`` is the commit
point; the files are then copied into place and the folder removed. A crash before the rename
changes nothing; a crash after it is finished by :func:`recover` the next time the run is opened.
Nothing is ever deleted: older versions' shots, keyframes and films stay where they are.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

from pydantic import TypeAdapter

from agents.director.rundir import RunDir, RunError
from report import refresh_report
from schemas.edit import VersionRecord
from story.files import (
    atomic_replace,
    atomic_write_bytes,
    atomic_write_json,
    temp_path_for,
)

VERSIONS = "versions"
HISTORY = f"{VERSIONS}/history.json"
TXN = f"{VERSIONS}/txn"
SNAPSHOT_FILES = {"script.json": RunDir.SCRIPT, "bible.json": RunDir.BIBLE, "manifest.json": RunDir.MANIFEST,
                  "bank.json": "memory/bank.json"}

_records = TypeAdapter(list[VersionRecord])


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# -- history ------------------------------------------------------------------------------------
def history(run: RunDir) -> list[VersionRecord]:
    path = run.root / HISTORY
    if not path.exists():
        return []
    try:
        return _records.validate_json(path.read_bytes())
    except ValueError as e:
        raise RunError(f"{path} is corrupt ({str(e).splitlines()[0][:80]}); restore it or remove it") from None


def append_history(run: RunDir, record: VersionRecord) -> None:
    records = history(run)
    atomic_write_bytes(run.root / HISTORY, _records.dump_json(records + [record], indent=2) + b"\n")


def update_history(run: RunDir, version: int, **changes) -> None:
    records = history(run)
    for i in range(len(records) - 1, -1, -1):
        if records[i].version == version and records[i].action != "undo":
            records[i] = records[i].model_copy(update=changes)
            break
    atomic_write_bytes(run.root / HISTORY, _records.dump_json(records, indent=2) + b"\n")


def next_version(run: RunDir) -> int:
    return max([r.version for r in history(run)] + [run.manifest.version]) + 1


# -- snapshots ----------------------------------------------------------------------------------
def film_path(version: int) -> str:
    return f"film_v{version}.mp4"


def snapshot(run: RunDir) -> None:
    """Keep the current version: its film as ``film_vN.mp4`` and its state in ``versions/vN/``."""
    v = run.manifest.version
    film = run.root / RunDir.FILM
    kept = run.root / film_path(v)
    if film.exists():
        tmp = temp_path_for(kept)
        shutil.copyfile(film, tmp)
        atomic_replace(tmp, kept)
    folder = run.root / VERSIONS / f"v{v}"
    for name, rel in SNAPSHOT_FILES.items():
        src = run.root / rel
        if src.exists():
            atomic_write_bytes(folder / name, src.read_bytes())


def snapshot_manifest(run: RunDir) -> None:
    """Refresh the kept manifest of the current version (after the last bookkeeping write)."""
    atomic_write_bytes(run.root / VERSIONS / f"v{run.manifest.version}" / "manifest.json",
                       (run.root / RunDir.MANIFEST).read_bytes())


def has_snapshot(run: RunDir, version: int) -> bool:
    return (run.root / VERSIONS / f"v{version}" / "manifest.json").exists()


# -- multi-file transactions --------------------------------------------------------------------
def stage(run: RunDir, name: str, files: dict[str, bytes | Path]) -> Path:
    """Stage ``files`` (run-relative target -> bytes or a source file) as transaction ``name``."""
    base = run.root / TXN
    staged = base / f"{name}.staged"
    shutil.rmtree(staged, ignore_errors=True)
    (staged / "files").mkdir(parents=True)
    targets = []
    for i, (rel, content) in enumerate(files.items()):
        run.path(rel)  # refuses targets outside the run
        blob = staged / "files" / str(i)
        if isinstance(content, (bytes, bytearray)):
            blob.write_bytes(content)
        else:
            shutil.copyfile(content, blob)
        targets.append(rel)
    atomic_write_json(staged / "targets.json", targets)
    return staged


def commit(run: RunDir, staged: Path) -> None:
    """The commit point (one rename), then apply."""
    ready = staged.with_name(staged.name.removesuffix(".staged") + ".ready")
    os.replace(staged, ready)
    _apply(run, ready)


def _apply(run: RunDir, ready: Path) -> None:
    targets = json.loads((ready / "targets.json").read_text())
    for i, rel in enumerate(targets):
        dst = run.path(rel)
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_path_for(dst)
        shutil.copyfile(ready / "files" / str(i), tmp)
        atomic_replace(tmp, dst)
    shutil.rmtree(ready)


def recover(run: RunDir) -> list[str]:
    """Finish transactions that passed their commit point; forget ones that did not."""
    base = run.root / TXN
    done = []
    if base.is_dir():
        for p in sorted(base.iterdir()):
            if p.name.endswith(".ready"):
                _apply(run, p)
                done.append(p.name.removesuffix(".ready"))
            elif p.name.endswith(".staged"):
                shutil.rmtree(p, ignore_errors=True)
    if done:
        run.reload()
    return done


def restore(run: RunDir, version: int, history: list[VersionRecord] | None = None) -> None:
    """Make ``version`` current again: its script, bible, manifest, bank and film, byte for byte
    (and write ``history`` in the same transaction, when given)."""
    folder = run.root / VERSIONS / f"v{version}"
    film = run.root / film_path(version)
    if not has_snapshot(run, version) or not film.exists():
        raise RunError(f"version {version} of {run.root} is not kept (no {folder} or {film.name}); nothing changed")
    files: dict[str, bytes | Path] = {rel: folder / name for name, rel in SNAPSHOT_FILES.items() if (folder / name).exists()}
    files[RunDir.FILM] = film
    if history is not None:
        files[HISTORY] = _records.dump_json(history, indent=2) + b"\n"
    commit(run, stage(run, f"restore-v{version}", files))
    run.reload()
    refresh_report(run.root)  # the page follows the current version; never raises
