"""The reviser interface."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from schemas.bible import Bible
from schemas.edit import EditList
from schemas.script import StoryScript


class ReviseError(RuntimeError):
    """A request could not be turned into edits (nothing was changed); one-line message with a hint."""


def check_request(request: str) -> str:
    """The request, or :class:`ReviseError` when it says nothing (any reviser needs words to work on)."""
    if not isinstance(request, str) or not request.strip():
        raise ReviseError("the request is empty: say what to change, e.g. `shot 3: <new prompt>` or, with "
                          "--llm-model, plain words (`python main.py chat RUN` then `help` lists the commands)")
    return request


@dataclass
class FilmContext:
    """What a reviser may look at: the current script, bible and memory keyframe ids."""

    script: StoryScript
    bible: Bible
    keyframes: list[str] = field(default_factory=list)


@runtime_checkable
class Reviser(Protocol):
    name: str
    """Recorded in the version history (``grammar``, ``llm:<model>``)."""

    def edits(self, request: str, context: FilmContext) -> EditList:
        """Edits for ``request``; raises :class:`ReviseError` when it cannot."""
        ...
