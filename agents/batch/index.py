"""``DIR/batch.json``: open or create it, reconcile it with the run folders, pick what to run.

All of this runs in the driver (the only writer of the index); nothing here imports Ray. The run
folders are the truth about the films: a film whose manifest says complete (film file present) is
complete, whatever the index says; a film with a run folder that is not complete is resumed; one
without a run folder starts fresh.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
from datetime import datetime, timezone
from pathlib import Path

from pydantic import ValidationError

from agents.batch import BatchError
from agents.batch.inputs import Film
from schemas.batch import BatchIndex, BatchInput, FilmRecord
from story.files import atomic_write_json

INDEX = "batch.json"
LOCK = ".batch.lock"
LOGS = "logs"
UNFINISHED = ("pending", "queued", "running", "interrupted")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class BatchLock:
    """An exclusive lock on DIR for one driver at a time (released by the OS if the driver dies)."""

    def __init__(self, out: Path) -> None:
        self.path = out / LOCK
        self.fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EAGAIN, errno.EACCES):
                raise BatchError(f"{self.path.parent} is in use by another `batch` command; wait for it to "
                                 "finish (or stop it with Ctrl-C) and run this again") from None
            raise
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def check_out_dir(out: Path) -> None:
    """DIR must be a new folder, an empty one, or a batch folder (with ``batch.json``)."""
    if out.exists() and not out.is_dir():
        raise BatchError(f"--out {out} is a file, not a folder; choose a folder path")
    if out.is_dir() and not (out / INDEX).exists():
        if (out / "manifest.json").exists():
            raise BatchError(f"--out {out} is a film's run folder, not a batch; choose another --out")
        if any(not p.name.startswith(".") for p in out.iterdir()):
            raise BatchError(f"--out {out} is a non-empty folder that is not a batch (no {INDEX}); "
                             "choose an empty or new folder")


def load_index(out: Path) -> BatchIndex | None:
    """The index in DIR, None when there is none yet; a damaged one is a one-line error (left as is)."""
    path = out / INDEX
    if not path.exists():
        return None
    try:
        return BatchIndex.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BatchError(f"{path} is corrupt ({type(e).__name__}); nothing was changed — restore it or choose "
                         "another --out (the films' run folders are intact and resumable one by one)") from None
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise BatchError(f"{path} is corrupt ({where}: {first['msg']}); nothing was changed — restore it or "
                         "choose another --out") from None
    except OSError as e:
        raise BatchError(f"cannot read {path} ({e.strerror or e}); check its permissions") from None


def save_index(out: Path, index: BatchIndex) -> None:
    """Write the index atomically (the driver only)."""
    index.updated_at = now()
    atomic_write_json(out / INDEX, index.model_dump(mode="json"))


def describe_input(inp: BatchInput) -> str:
    if inp.kind == "theme":
        return f'--theme "{inp.theme}" --count {inp.count}'
    return str(inp.path)


def same_input(old: BatchInput, new: BatchInput) -> bool:
    if old.kind != new.kind:
        return False
    if old.kind == "theme":
        return (old.theme or "").casefold() == (new.theme or "").casefold() and old.count == new.count
    return old.path == new.path


def merge(out: Path, existing: BatchIndex | None, fresh: BatchIndex, films: list[Film]) -> BatchIndex:
    """The index to run: ``fresh`` for a new batch; for a re-run, the stored one with any films the
    input gained appended (a re-run must name the same input and the same render settings)."""
    if existing is None:
        fresh.films = [FilmRecord(key=f.key, source=f.source, run_dir=f.key) for f in films]
        return fresh
    if not same_input(existing.input, fresh.input):
        raise BatchError(f"{out} holds the batch of {describe_input(existing.input)}, not {describe_input(fresh.input)}; "
                         "re-run that command to continue it, or choose another --out")
    if existing.settings != fresh.settings:
        changed = sorted(k for k in set(existing.settings) | set(fresh.settings)
                         if existing.settings.get(k) != fresh.settings.get(k))
        raise BatchError(f"{out} was started with other render settings ({', '.join(changed)}); re-run with the "
                         "same --size/--frames/--seed/... or choose another --out")
    known = {f.key for f in existing.films}
    for f in films:
        if f.key not in known:
            existing.films.append(FilmRecord(key=f.key, source=f.source, run_dir=f.key))
    existing.options, existing.ray_address = fresh.options, fresh.ray_address
    return existing


def read_manifest(run: Path):
    """The run's manifest, or None (no run folder yet, or one that cannot be read: its worker says why)."""
    from agents.director.rundir import RunDir, RunError

    if not (run / RunDir.MANIFEST).exists():
        return None
    try:
        return RunDir.open(run).manifest
    except RunError:
        return None


def fill_from_manifest(record: FilmRecord, out: Path, manifest=None) -> None:
    """Copy what the batch index shows of a film (backends, times, shots, files) from its manifest."""
    run = out / record.run_dir
    m = manifest if manifest is not None else read_manifest(run)
    if m is None:
        return
    record.backends = {role: info.name for role, info in m.backends.items()}
    record.wall_seconds = round(m.wall_seconds, 3)
    record.shots_total = len(m.shots)
    record.shots_done = sum(s.status == "accepted" for s in m.shots)
    if m.status == "complete" and m.film and (run / m.film).exists():
        record.film = f"{record.run_dir}/{m.film}"
        record.contact_sheet = f"{record.run_dir}/{m.contact_sheet}" if m.contact_sheet else None


def is_complete(out: Path, record: FilmRecord, manifest=None) -> bool:
    run = out / record.run_dir
    m = manifest if manifest is not None else read_manifest(run)
    return bool(m is not None and m.status == "complete" and m.film and (run / m.film).exists())


def reconcile(out: Path, index: BatchIndex) -> list[str]:
    """Bring every record in line with its run folder; returns notes on what changed.

    complete in the folder -> complete; a record left queued/running by a driver that died ->
    interrupted; a complete record whose film is gone -> pending (rendered again)."""
    notes = []
    for rec in index.films:
        m = read_manifest(out / rec.run_dir)
        if is_complete(out, rec, m):
            if rec.status != "complete":
                notes.append(f"{rec.key}: found complete in its run folder")
            rec.status, rec.reason = "complete", None
            fill_from_manifest(rec, out, m)
            continue
        if rec.status == "complete":
            notes.append(f"{rec.key}: recorded complete but its film is missing; rendering it again")
            rec.status, rec.film, rec.contact_sheet = "pending", None, None
        elif rec.status in ("queued", "running"):
            rec.status = "interrupted"
            rec.reason = "the batch stopped while this film was running"
        if m is not None:
            fill_from_manifest(rec, out, m)
    return notes


def to_run(index: BatchIndex, *, retry_failed: bool) -> list[FilmRecord]:
    """Films to hand to workers, in input order: unfinished ones, and failed ones with ``--retry-failed``."""
    wanted = UNFINISHED + (("failed",) if retry_failed else ())
    return [f for f in index.films if f.status in wanted]
