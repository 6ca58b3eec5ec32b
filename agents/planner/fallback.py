"""A model planner that falls back to the offline planner when it fails, saying so.

Local-first means a film always gets made: when the LLM planner still fails after its own repairs
and retries (the endpoint is down, the context too small, the model's answers never valid), the
offline planner writes the plan instead, and a notice says what failed, what was used instead and
how to make it an error (``--no-fallback``). Input errors (a bad logline or shot count) are never
hidden this way: they are checked before the model is asked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents.planner.base import Planner, PlannerError
from agents.planner.logline import check_shots, clean_logline, clean_style
from schemas.plan import Plan


class FallbackPlanner:
    """``primary`` (the LLM planner), else ``fallback`` (the offline planner). Name: the primary's."""

    def __init__(self, primary: Planner, fallback: Planner) -> None:
        self.primary = primary
        self.fallback = fallback
        self.name = primary.name
        self.client = getattr(primary, "client", None)
        """The primary's model client (its usage goes into the manifest)."""
        self.notices: list[str] = []
        self.fell_back: str | None = None
        """Why the last plan came from the fallback (None: the primary wrote it)."""

    def describe(self) -> str:
        describe = getattr(self.primary, "describe", None)
        return describe() if describe else self.name

    def plan(self, logline: str, *, shots: int | None = None, style: str | None = None,
             draft: str | Path | None = None, events: Any = None) -> Plan:
        clean_logline(logline)  # bad input is an error, never a fallback
        check_shots(shots)
        clean_style(style)
        self.fell_back = None
        try:
            plan = self.primary.plan(logline, shots=shots, style=style, draft=draft, events=events)
        except PlannerError as err:
            self._take_notices()
            self.fell_back = str(err)
            message = (f"planner {self.primary.name} failed ({err}); the {self.fallback.name} planner wrote the "
                       "plan instead (pass --no-fallback to make this an error)")
            self.notices.append(message)
            if events is not None:
                events.notice(message)
            return self.fallback.plan(logline, shots=shots, style=style)
        self._take_notices()
        return plan

    def _take_notices(self) -> None:
        for n in getattr(self.primary, "notices", []):
            if n not in self.notices:
                self.notices.append(n)
