"""The critic interface the director calls."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from schemas.critique import CritiqueInput, CritiqueReport
from schemas.render import RenderRequest
from schemas.bible import Bible


class CriticError(RuntimeError):
    """The critic could not judge (endpoint down, unusable answer); the director falls back to
    the heuristic critic and says so."""


@runtime_checkable
class Critic(Protocol):
    name: str
    """Recorded in every report and in the manifest (``heuristic``, ``vlm:<model>``)."""

    def preflight(self, request: RenderRequest, bible: Bible) -> CritiqueReport | None:
        """Judge a request before it is rendered (cheap checks on the prompt); ``None`` if fine."""
        ...

    def critique(self, inp: CritiqueInput) -> CritiqueReport:
        """Judge a rendered shot."""
        ...
