"""The worker: render one film of a batch in its run folder, and say how it went.

:func:`run_film` is a plain function over explicit inputs (a :class:`FilmJob` and an events sink);
the driver runs it as a Ray task, tests call it directly. It starts the film with the same
operations as ``main.py render`` / ``main.py "LOGLINE"`` (:mod:`agents.runs`) when the run folder
has no manifest yet, and resumes it (``main.py resume``) when it has one, so a film interrupted in
any way continues where it stopped and a finished one is never rendered again. It never raises for
a film's own problems: every error becomes the outcome's one-line reason (an unexpected one also
carries its traceback, which the driver writes to ``DIR/logs/<key>.txt``).
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import socket
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

MAX_REASON_CHARS = 400


@dataclass(frozen=True)
class FilmJob:
    """Everything a worker needs for one film (all plain data, so it pickles to any node)."""

    key: str
    run_dir: str
    """Absolute path of the film's run folder (DIR/<key>)."""
    source: dict
    """:class:`~schemas.batch.FilmSource` as a dict."""
    settings: dict
    """:class:`~schemas.run.RunSettings` as a dict (used for a fresh start only)."""
    options: dict
    """:class:`~agents.backends.BackendOptions` fields (a fresh start; a resume uses the run's own)."""
    shots: int | None = None
    style: str | None = None
    lock_wait_s: float = 60.0
    """How long to wait for a run lock still held by a worker of a batch that was killed."""


@dataclass
class FilmOutcome:
    key: str
    status: Literal["complete", "failed", "interrupted"]
    reason: str | None = None
    seconds: float = 0.0
    """Wall time of this task."""
    action: Literal["start", "resume"] = "start"
    worker: dict[str, Any] = field(default_factory=dict)
    """host, pid, code (the folder dailies was imported from)."""
    traceback: str | None = None


def worker_info() -> dict[str, Any]:
    import agents

    return {"host": socket.gethostname(), "pid": os.getpid(), "code": str(Path(agents.__file__).resolve().parent.parent)}


_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def one_line(text: object) -> str:
    """``text`` on one line, terminal escapes and control characters removed, at most 400 characters
    (reasons are printed to terminals and may quote script or model text)."""
    text = _ANSI.sub("", str(text))
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    text = " ".join(text.split())
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"


def _domain_errors() -> tuple[type[BaseException], ...]:
    """Errors whose message is already the one line a user needs (as in ``main.py``)."""
    from agents.backends import BackendError
    from agents.critic.base import CriticError
    from agents.director.edits import EditError
    from agents.director.rundir import RunError
    from agents.planner.base import PlannerError
    from engine.base import EngineError
    from story.io import ScriptError

    errors: list[type[BaseException]] = [BackendError, CriticError, RunError, PlannerError, EngineError,
                                         ScriptError, EditError]
    try:
        from agents.llm import LLMError

        errors.append(LLMError)
    except ImportError:
        pass
    return tuple(errors)


def wait_for_unlock(run_dir: Path, timeout_s: float, poll_s: float = 0.2) -> bool:
    """Wait until nobody holds ``run_dir``'s lock (a killed batch's worker may still be exiting);
    False if it is still held after ``timeout_s`` (the resume then reports the run in use)."""
    path = run_dir / ".lock"
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return True
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                return True
        finally:
            os.close(fd)
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll_s)


def run_film(job: FilmJob, events=None) -> FilmOutcome:
    """Start or resume the film in ``job.run_dir``; the outcome says complete, failed (with the
    reason) or interrupted (KeyboardInterrupt, e.g. the driver's Ctrl-C through ``ray.cancel``)."""
    from agents.director.runtime import NullEvents

    t0 = time.perf_counter()
    events = events if events is not None else NullEvents()
    info = worker_info()
    if hasattr(events, "started"):
        events.started(info["host"], info["pid"])
    root = Path(job.run_dir)
    action: Literal["start", "resume"] = "resume" if (root / "manifest.json").exists() else "start"
    out = FilmOutcome(key=job.key, status="failed", action=action, worker=info)
    try:
        from agents.backends import BackendOptions
        from agents.runs import film_from_logline, render_script, resume_run
        from schemas.run import RunSettings

        if action == "resume":
            wait_for_unlock(root, job.lock_wait_s)
            m = resume_run(root, events=events)
        elif job.source["kind"] == "script":
            m = render_script(job.source["script"], root, RunSettings.model_validate(job.settings),
                              BackendOptions(**job.options), bible_path=job.source.get("bible"), events=events)
        else:
            m = film_from_logline(job.source["logline"], root, RunSettings.model_validate(job.settings),
                                  BackendOptions(**job.options), shots=job.shots, style=job.style, events=events)
        if m.status == "complete":
            out.status = "complete"
        else:
            out.reason = f"the run ended {m.status}; see {root / 'manifest.json'}"
    except KeyboardInterrupt:
        out.status, out.reason = "interrupted", "stopped by Ctrl-C; run the same command again to resume"
    except _domain_errors() as e:
        out.reason = one_line(e)
    except OSError as e:
        where = f" ({e.filename})" if getattr(e, "filename", None) else ""
        out.reason = one_line(f"{e.strerror or e}{where}")
    except Exception as e:  # a bug: one line here, the traceback for the log
        out.reason = one_line(f"internal error: {type(e).__name__}: {e}")
        out.traceback = traceback.format_exc()
    out.seconds = time.perf_counter() - t0
    return out
