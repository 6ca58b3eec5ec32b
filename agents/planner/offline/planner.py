"""The :class:`OfflinePlanner`: reads the logline, invents the bible, writes the script."""

from __future__ import annotations

import hashlib
import random

from agents.planner.base import PlannerError
from agents.planner.logline import check_shots, clean_logline, clean_style
from agents.planner.offline.bible import _character
from agents.planner.offline.reading import read_logline
from agents.planner.offline.writing import _Writer
from schemas.bible import Bible
from schemas.plan import Plan

DEFAULT_SHOTS = 10


class OfflinePlanner:
    """The embedded default planner: deterministic, no model. Name ``offline``."""

    name = "offline"

    def __init__(self, style: str | None = None, *, default_shots: int = DEFAULT_SHOTS) -> None:
        self.style = clean_style(style)
        self.default_shots = check_shots(default_shots) or DEFAULT_SHOTS

    def plan(self, logline: str, *, shots: int | None = None, style: str | None = None,
             draft: object = None, events: object = None) -> Plan:
        """Bible first, then the script, for ``logline`` (see the module docstring). It writes in one
        step, in milliseconds, so ``draft`` and ``events`` are accepted and not needed."""
        logline = clean_logline(logline)
        total = check_shots(shots) or self.default_shots
        style = clean_style(style) or self.style
        premise = read_logline(logline)
        seed_int = int.from_bytes(hashlib.sha256(f"{logline}|{total}|{style}".encode()).digest()[:8], "big")
        rng = random.Random(seed_int)
        taken: set[str] = set()
        worn: set[str] = set()
        characters = [_character(s, rng, taken, worn, style or "cinematic realism") for s in premise.seeds]
        writer = _Writer(premise, characters, premise.seeds, style, rng)
        script, cast = writer.write(total)
        try:
            return Plan(script=script, bible=Bible(characters=characters, cast=cast))
        except ValueError as err:  # a bug, not a user error: still one line
            raise PlannerError(f"offline planner produced an invalid plan ({' '.join(str(err).split())[:300]})") from err
