"""The batch index, ``DIR/batch.json``: one record per film of a ``main.py batch`` run.

Only the batch driver writes it (atomically, after every change of a film's status); the workers
return their outcome to the driver and never touch it. Each film's own run folder (``DIR/<key>/``,
the same folder ``main.py render`` makes) stays the source of truth for the film itself: when the
index and a run folder disagree (a driver killed between a film finishing and the index being
written), the run folder wins.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

BATCH_VERSION = 1

FilmStatus = Literal["pending", "queued", "running", "complete", "failed", "interrupted"]
"""pending: not started by this batch yet; queued: handed to Ray, waiting for a worker; running: a
worker is on it; complete: the film is assembled; failed: the worker raised (the reason says what),
retried only with ``--retry-failed``; interrupted: stopped by Ctrl-C (or found unfinished), resumed
by the next run of the same command."""

InputKind = Literal["loglines", "scripts", "theme"]


class FilmSource(BaseModel):
    """Where a film comes from: one logline, or one ST-Bench script (with its bible, if any)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["logline", "script"]
    logline: str | None = None
    """The logline as written in the input (checked by the planner in the worker)."""
    script: str | None = None
    """Absolute path of the ST-Bench script."""
    bible: str | None = None
    """Absolute path of its bible (``NAME.bible.json`` beside it), None to infer one."""
    line: int | None = None
    """Line of the loglines file, or position in the theme's proposals (1-based)."""


class WorkerInfo(BaseModel):
    """Which process rendered the film's latest attempt, and which code it imported."""

    model_config = ConfigDict(extra="forbid")

    host: str
    pid: int
    code: str
    """Folder the worker imported dailies from (must be the driver's checkout)."""


class FilmRecord(BaseModel):
    """One film of the batch."""

    model_config = ConfigDict(extra="forbid")

    key: str
    """Stable id of the film in this batch; also its run folder's name under DIR."""
    source: FilmSource
    run_dir: str
    """The film's run folder, relative to DIR (``<key>``)."""
    status: FilmStatus = "pending"
    reason: str | None = None
    """One line: why the film failed or stopped."""
    backends: dict[str, str] = Field(default_factory=dict)
    """Role to implementation name (``engine: preview``...), from the film's manifest."""
    wall_seconds: float = 0.0
    """The film's own wall time across all its attempts (from its manifest)."""
    task_seconds: float = 0.0
    """Wall time of this batch's Ray tasks for the film, all attempts."""
    attempts: int = Field(default=0, ge=0)
    """Ray tasks started for this film."""
    shots_done: int = Field(default=0, ge=0)
    shots_total: int = Field(default=0, ge=0)
    film: str | None = None
    """``<key>/film.mp4`` (relative to DIR) once complete."""
    contact_sheet: str | None = None
    log: str | None = None
    """``logs/<key>.txt`` (relative to DIR): the traceback of an unexpected error."""
    worker: WorkerInfo | None = None
    started_at: str | None = None
    finished_at: str | None = None


class BatchInput(BaseModel):
    """What the batch was made from; a re-run must name the same input."""

    model_config = ConfigDict(extra="forbid")

    kind: InputKind
    path: str | None = None
    """Absolute path of the loglines file or the scripts folder."""
    theme: str | None = None
    count: int | None = None
    proposals: list[str] = Field(default_factory=list)
    """The loglines the planner proposed for the theme (kept, so a re-run renders the same films)."""
    proposer: str | None = None
    """Which planner proposed them (``offline``, ``llm:<model>``)."""


class BatchIndex(BaseModel):
    """``DIR/batch.json``."""

    model_config = ConfigDict(extra="forbid")

    batch_version: int = BATCH_VERSION
    created_at: str
    updated_at: str
    input: BatchInput
    settings: dict[str, Any]
    """The :class:`~schemas.run.RunSettings` every film was started with."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Backend options (no secrets: endpoint URLs without credentials)."""
    gpus: int = Field(default=0, ge=0)
    """GPUs each film's Ray task asks for."""
    ray_address: str | None = None
    """The cluster joined (None: a local cluster started by the command)."""
    films: list[FilmRecord] = Field(default_factory=list)
    """In input order."""

    def film(self, key: str) -> FilmRecord:
        for f in self.films:
            if f.key == key:
                return f
        raise KeyError(key)
