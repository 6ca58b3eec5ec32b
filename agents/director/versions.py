"""Versions of a film: snapshots, the history log, and changes that span several files.

```
RUN/film.mp4                  the current version, always
RUN/film_vN.mp4               every assembled version, kept
RUN/versions/vN/              script.json bible.json manifest.json bank.json contact_sheet.png of version N
RUN/versions/history.json     what made each version (render, revise + request + edits, undo)
RUN/versions/txn/<name>/      a change of several files staged before it is applied
```

Several files change together when a revision is committed or a version restored; a kill -9 at
any instruction must leave either the old files or the new ones, and never a run no command can open:

1. ``stage``: every new file is written, flushed and fsynced as a blob in ``versions/txn/<name>.staged``,
   then ``targets.json`` (the list of run-relative targets), then the folder itself is fsynced.
2. ``commit``: renaming ``<name>.staged`` to ``<name>.ready`` is the commit point (the parent folder is
   fsynced after it).
3. ``apply``: each blob is copied beside its target and renamed over it (idempotent: applying twice
   gives the same files, so a crash half-way is finished by applying again).
4. clean up: ``<name>.ready`` is renamed to ``<name>.done`` (one rename: "fully applied"), then removed.

:func:`recover` (run under the run's lock by every command that changes a run) forgets ``.staged``
folders (the change never happened), applies ``.ready`` ones again, and removes ``.done`` ones. A
``.ready`` folder whose ``targets.json`` or blobs are partly gone can only be a fully applied one whose
removal was interrupted (what the earlier protocol left behind): it is removed, not applied.
Nothing is ever deleted: older versions' shots, keyframes and films stay where they are.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

from pydantic import TypeAdapter

from agents import trace
from agents.director.rundir import RunDir, RunError
from report import refresh_report
from schemas.edit import VersionRecord
from story.files import atomic_replace, atomic_write_bytes, temp_path_for

VERSIONS = "versions"
HISTORY = f"{VERSIONS}/history.json"
TXN = f"{VERSIONS}/txn"
SNAPSHOT_FILES = {"script.json": RunDir.SCRIPT, "bible.json": RunDir.BIBLE, "manifest.json": RunDir.MANIFEST,
                  "bank.json": "memory/bank.json", "contact_sheet.png": RunDir.CONTACT_SHEET}
"""What ``versions/vN/`` keeps of version N (its film is ``film_vN.mp4``); ``restore`` puts them back."""

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


def finish(run: RunDir) -> None:
    """The bookkeeping of a complete version, idempotent (the assemble node calls it, and ``resume``
    of a complete run finishes it when a kill came between the film and the bookkeeping): the version
    kept (``film_vN.mp4`` + ``versions/vN/``) and its history record saying what it rendered."""
    m = run.manifest
    if m.status != "complete":
        return
    kept = run.root / film_path(m.version)
    film = run.root / RunDir.FILM
    if not has_snapshot(run, m.version) or not kept.exists() or (
            film.exists() and kept.stat().st_size != film.stat().st_size):
        snapshot(run)
    rendered = [st.shot_id for st in m.shots if st.version == m.version]
    records = history(run)
    if not any(r.version == m.version for r in records):
        append_history(run, VersionRecord(version=m.version, action="render", at=now()))
        records = history(run)
    mine = next((r for r in reversed(records) if r.version == m.version and r.action != "undo"), None)
    if mine is not None and (mine.rerendered != rendered or mine.film != film_path(m.version)):
        update_history(run, m.version, rerendered=rendered, film=film_path(m.version))


def has_snapshot(run: RunDir, version: int) -> bool:
    return (run.root / VERSIONS / f"v{version}" / "manifest.json").exists()


# -- multi-file transactions --------------------------------------------------------------------
def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durable(path: Path, content: bytes | Path) -> None:
    """Write a blob completely and fsync it (it is the only copy of the new file until applied)."""
    with open(path, "wb") as f:
        if isinstance(content, (bytes, bytearray)):
            f.write(content)
        else:
            with open(content, "rb") as src:
                shutil.copyfileobj(src, f, 1 << 20)
        f.flush()
        os.fsync(f.fileno())


def stage(run: RunDir, name: str, files: dict[str, bytes | Path]) -> Path:
    """Stage ``files`` (run-relative target -> bytes or a source file) as transaction ``name``:
    complete and on disk before :func:`commit` can make it count."""
    base = run.root / TXN
    staged = base / f"{name}.staged"
    trace.event(f"txn stage {name}")
    shutil.rmtree(staged, ignore_errors=True)
    (staged / "files").mkdir(parents=True)
    targets = []
    for i, (rel, content) in enumerate(files.items()):
        run.path(rel)  # refuses targets outside the run
        _write_durable(staged / "files" / str(i), content)
        targets.append(rel)
    _write_durable(staged / "targets.json", json.dumps(targets).encode("utf-8"))
    _fsync_path(staged / "files")
    _fsync_path(staged)
    return staged


def commit(run: RunDir, staged: Path) -> None:
    """The commit point (one rename), then apply."""
    ready = staged.with_name(staged.name.removesuffix(".staged") + ".ready")
    trace.event(f"txn commit {ready.name}")
    os.replace(staged, ready)
    _fsync_path(ready.parent)
    _apply(run, ready)


def _complete(ready: Path) -> list[str] | None:
    """The targets of a committed transaction, or None when its folder is partly removed."""
    try:
        targets = json.loads((ready / "targets.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(targets, list) or not all((ready / "files" / str(i)).is_file() for i in range(len(targets))):
        return None
    return targets


def _apply(run: RunDir, ready: Path) -> None:
    targets = _complete(ready)
    trace.event(f"txn apply {ready.name}")
    if targets is not None:
        for i, rel in enumerate(targets):
            dst = run.path(rel)
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = temp_path_for(dst)
            shutil.copyfile(ready / "files" / str(i), tmp)
            atomic_replace(tmp, dst)
    done = ready.with_name(ready.name.removesuffix(".ready") + ".done")
    trace.event(f"txn done {ready.name}")
    shutil.rmtree(done, ignore_errors=True)
    os.replace(ready, done)
    _fsync_path(done.parent)
    shutil.rmtree(done)


def recover(run: RunDir) -> list[str]:
    """Finish transactions that passed their commit point; forget ones that did not (see the
    module docstring). Call it under the run's lock."""
    base = run.root / TXN
    done = []
    if base.is_dir():
        for p in sorted(base.iterdir()):
            if p.name.endswith(".ready"):
                _apply(run, p)
                done.append(p.name.removesuffix(".ready"))
            elif p.name.endswith((".staged", ".done")):
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
