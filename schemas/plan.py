"""A planner's output: an ST-Bench script plus the bible beside it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, model_validator

from schemas.bible import Bible
from schemas.script import StoryScript


class Plan(BaseModel):
    """What a planner returns and ``main.py plan`` writes (``story.json`` + ``story.bible.json``)."""

    model_config = ConfigDict(extra="forbid")

    script: StoryScript
    """The story script in the ST-Bench format."""
    bible: Bible
    """Characters and the cast of each shot."""

    @model_validator(mode="after")
    def _cast_matches_shots(self) -> "Plan":
        ids = {s.id for s in self.script.iter_shots()}
        unknown = sorted(set(self.bible.cast) - ids)
        if unknown:
            raise ValueError(f"bible.cast names shots that are not in the script: {', '.join(unknown)}")
        return self
