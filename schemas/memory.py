"""The memory bank: keyframes from earlier shots (and reference images) that condition later shots.

Persisted as ``memory/bank.json`` plus one PNG per keyframe; it reloads exactly.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.render import SceneRecord

KeyframeSource = Literal["shot", "reference"]


class Keyframe(BaseModel):
    """One keyframe image kept as memory."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    """``SS-KK-kN`` for the N-th keyframe of shot SS-KK, ``ref-<name>-N`` for reference images."""
    source: KeyframeSource
    """Where it came from: a rendered shot, or a user reference image (MR2V)."""
    shot_id: str | None = None
    """The shot it was extracted from (None for references)."""
    frame_index: int | None = Field(default=None, ge=0)
    """Index of the frame within the saved shot (None for references)."""
    path: str
    """Path relative to the run directory, e.g. ``memory/02-01-k1.png``."""
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    """Content hash of the image file."""
    embedding: list[float] = Field(default_factory=list)
    """L2-normalised embedding from the run's embedder (used for deduplication)."""
    quality: float | None = None
    """Score from the run's quality scorer (higher is better)."""
    characters: list[str] = Field(default_factory=list)
    """Characters cast in the shot it came from (or the reference's character)."""
    pinned: bool = False
    """Pinned keyframes stay in every later shot's memory, whatever the window."""
    dropped: bool = False
    """Dropped keyframes stay on disk for history but never condition a shot."""
    scene: SceneRecord | None = None
    """The world its shot was drawn in, as the engine reported it (None: not reported)."""


class MemorySettings(BaseModel):
    """How the bank is selected and bounded (StoryMem section 3.4)."""

    model_config = ConfigDict(extra="forbid")

    max_size: int = Field(default=10, ge=1, le=64)
    """Most keyframes a shot is conditioned on."""
    sink_size: int = Field(default=3, ge=0, le=64)
    """The first keyframes of the film, kept for the whole film (memory sink)."""
    max_per_shot: int = Field(default=3, ge=1, le=16)
    """Most keyframes extracted per shot (adaptive threshold lowers until this holds)."""
    start_threshold: float = Field(default=0.9, gt=0, le=1)
    """Initial cosine-similarity threshold for a new keyframe within a shot."""
    threshold_step: float = Field(default=0.01, gt=0, le=0.5)
    """How much the threshold is lowered per round."""
    dedupe_threshold: float = Field(default=0.9, gt=0, le=1)
    """A keyframe whose similarity to any bank keyframe exceeds this is not added."""


class MemoryState(BaseModel):
    """The bank as persisted in ``memory/bank.json``."""

    model_config = ConfigDict(extra="forbid")

    settings: MemorySettings = Field(default_factory=MemorySettings)
    """Selection and size settings."""
    embedder: str = ""
    """Name of the embedder whose vectors are stored (vectors of different embedders don't mix)."""
    scorer: str = ""
    """Name of the quality scorer that produced ``quality``."""
    keyframes: list[Keyframe] = Field(default_factory=list)
    """Every keyframe ever kept, in the order it was added (references first)."""
