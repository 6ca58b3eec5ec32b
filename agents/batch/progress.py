"""Shot progress of the films being rendered: worker-side events and the board that collects them.

A worker renders its film with :class:`ReportingEvents` (the director's
:class:`~agents.director.runtime.Events`), which turns each callback into a small dict and hands it
to ``send``; the driver makes ``send`` a fire-and-forget call to a :class:`ProgressBoard` living in
a Ray actor, and polls the board's :meth:`~ProgressBoard.snapshot`. Both are plain classes, so they
are tested without Ray. Progress is best effort: a failed ``send`` never fails a film.
"""

from __future__ import annotations

import time
from typing import Any, Callable

Send = Callable[[str, dict], Any]


class ReportingEvents:
    """Director events of film ``key`` sent as dicts; frame progress at most every ``interval`` s."""

    def __init__(self, key: str, send: Send, *, interval: float = 0.5, clock: Callable[[], float] = time.monotonic):
        self.key, self._send, self.interval, self.clock = key, send, interval, clock
        self._last = float("-inf")

    def _emit(self, event: dict) -> None:
        try:
            self._send(self.key, event)
        except Exception:  # progress is best effort
            pass

    def started(self, host: str, pid: int) -> None:
        self._emit({"event": "started", "host": host, "pid": pid})

    def run_started(self, n_shots: int, done: int) -> None:
        self._emit({"event": "run", "shots": n_shots, "done": done})

    def shot_started(self, shot_id: str, index: int, attempt: int, mode: str) -> None:
        self._last = float("-inf")
        self._emit({"event": "shot", "shot": shot_id, "index": index, "attempt": attempt, "mode": str(mode)})

    def render_progress(self, done: int, total: int) -> None:
        t = self.clock()
        if done >= total or t - self._last >= self.interval:
            self._last = t
            self._emit({"event": "frames", "done": done, "total": total})

    def shot_finished(self, shot_id: str, index: int, status: str) -> None:
        self._emit({"event": "shot_done", "shot": shot_id, "index": index, "status": status})

    def notice(self, message: str) -> None:
        self._emit({"event": "notice", "message": message})


def _blank() -> dict:
    return {"started": False, "shots_total": 0, "shots_done": 0, "shot": None, "attempt": 0, "mode": None,
            "frames_done": 0, "frames_total": 0, "notices": [], "host": None, "pid": None}


class ProgressBoard:
    """The latest progress of each film, from the events its worker sent."""

    def __init__(self) -> None:
        self.films: dict[str, dict] = {}

    def report(self, key: str, event: dict) -> None:
        f = self.films.setdefault(key, _blank())
        kind = event.get("event")
        if kind == "started":
            self.films[key] = f = _blank()
            f.update(started=True, host=event.get("host"), pid=event.get("pid"))
        elif kind == "run":
            f.update(started=True, shots_total=int(event["shots"]), shots_done=int(event["done"]))
        elif kind == "shot":
            f.update(started=True, shot=event["shot"], attempt=int(event["attempt"]), mode=event["mode"],
                     frames_done=0, frames_total=0)
        elif kind == "frames":
            f.update(frames_done=int(event["done"]), frames_total=int(event["total"]))
        elif kind == "shot_done":
            f["shots_done"] = max(f["shots_done"], int(event["index"]) + 1)
        elif kind == "notice":
            if event["message"] not in f["notices"]:
                f["notices"].append(str(event["message"]))

    def forget(self, key: str) -> None:
        self.films.pop(key, None)

    def snapshot(self) -> dict[str, dict]:
        return {k: dict(v, notices=list(v["notices"])) for k, v in self.films.items()}


def describe(progress: dict | None) -> str:
    """One line for a running film: ``shot 02-01 mi2v (attempt 2), 3/10 shots, frames 40/81``."""
    if not progress or not progress.get("started"):
        return "waiting for a worker"
    if not progress.get("shot"):
        return "planning" if not progress.get("shots_total") else f"{progress['shots_done']}/{progress['shots_total']} shots"
    text = f"shot {progress['shot']} {progress['mode'] or ''}".rstrip()
    if progress.get("attempt", 1) > 1:
        text += f" (attempt {progress['attempt']})"
    if progress.get("shots_total"):
        text += f", {progress['shots_done']}/{progress['shots_total']} shots"
    if progress.get("frames_total"):
        text += f", frames {progress['frames_done']}/{progress['frames_total']}"
    return text
