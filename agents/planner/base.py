"""The planner interface."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from schemas.plan import Plan


class PlannerError(RuntimeError):
    """Planning failed (bad logline, endpoint error, invalid output after retries); one-line message."""


@runtime_checkable
class Planner(Protocol):
    name: str
    """Recorded in the manifest and printed (``offline``, ``llm:<model>``)."""

    def plan(self, logline: str, *, shots: int | None = None, style: str | None = None,
             draft: str | Path | None = None, events: Any = None) -> Plan:
        """Write the bible, then the script, for ``logline``; every shot prompt carries the explicit
        details of the characters in it.

        ``draft``: where a planner that works in steps keeps them, so that a plan cut short resumes
        (see :mod:`agents.planner.draft`); ``events``: an
        :class:`~agents.director.runtime.Events` for notices and progress. Both optional."""
        ...
