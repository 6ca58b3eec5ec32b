"""A plan being written, kept on disk step by step so that a plan cut short resumes.

The LLM planner writes a film in steps (the outline with the bible, then one scene at a time); after
each step the answers so far are saved here, atomically. A planner started again with the same
logline, shot count and style finds them and goes on from the next step, so a crash, a Ctrl-C, a
timeout on scene 3 or a model that failed once costs only the step it was on.

Where: ``RUN_DIR/plan.draft.json`` for ``main.py "LOGLINE"`` (``resume`` continues it) and
``STORY.draft.json`` beside ``main.py plan -o STORY.json``; the file is removed once the plan is
complete. It holds model text only (JSON data, never paths or code).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from story.files import atomic_write_json

DRAFT_VERSION = 1


def draft_path_for(story: str | Path) -> Path:
    """``story.json`` -> ``story.draft.json`` (beside it)."""
    p = Path(story)
    return p.with_name(f"{p.stem}.draft.json")


@dataclass
class PlanDraft:
    """The steps written so far for one (logline, shots, style)."""

    key: dict[str, Any]
    """``{"logline", "shots", "style"}``: a draft for another request is never resumed."""
    outline: dict[str, Any] | None = None
    """The validated outline answer (title, overview, characters, scene outlines)."""
    scenes: list[dict[str, Any]] = field(default_factory=list)
    """The validated answers of the scenes written, in order."""

    def to_json(self) -> dict[str, Any]:
        return {"version": DRAFT_VERSION, "key": self.key, "outline": self.outline, "scenes": self.scenes}


class DraftStore:
    """Load and save a :class:`PlanDraft` at ``path`` (None: keep nothing)."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path is not None else None

    def load(self, key: dict[str, Any]) -> PlanDraft | None:
        """The saved draft for ``key``, or None (no file, another request, or an unreadable file)."""
        if self.path is None or not self.path.is_file():
            return None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("version") != DRAFT_VERSION or data.get("key") != key:
            return None
        scenes = data.get("scenes") if isinstance(data.get("scenes"), list) else []
        outline = data.get("outline") if isinstance(data.get("outline"), dict) else None
        return PlanDraft(key=key, outline=outline, scenes=[s for s in scenes if isinstance(s, dict)] if outline else [])

    def save(self, draft: PlanDraft) -> None:
        if self.path is not None:
            atomic_write_json(self.path, draft.to_json())

    def clear(self) -> None:
        if self.path is not None:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
