"""What ``eval`` measures on a run (written as ``RUN/eval.json`` and by ``--json``).

Definitions (StoryMem section 4, after HoloCine's protocol; docs/eval.md):

* ``aesthetic``: LAION aesthetic score / 10 (VBench's scale) of CLIP ViT-L/14 features, mean over frames
  sampled from each shot; the film's is the mean over all sampled frames.
* ``prompt_following_global``: ViCLIP cosine of the whole film (8 frames spread over it) and the story overview.
* ``prompt_following_shot``: mean over shots of the ViCLIP cosine of the shot and its prompt.
* ``cross_shot_all``: mean ViCLIP cosine of the videos of every pair of shots.
* ``cross_shot_top10``: the same mean over the 10 pairs whose prompts' text features are most similar.
* identity: per character, distances between its faces across shots (dlib, same person below 0.6).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ScorerInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: str
    """aesthetic, video-text, prompt features, identity."""
    name: str
    comparable: bool
    """True only for the paper's models."""
    detail: str = ""
    upgrade: str = ""


class ShotScores(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shot_id: str
    prompt: str
    """The script's prompt (what prompt following is measured against)."""
    aesthetic: float | None = None
    prompt_following: float | None = None
    """None when the video judge has no text tower (fallback)."""
    frames: int = 0
    """Frames in the shot's video."""
    identity: dict[str, float] = Field(default_factory=dict)
    """Per character seen in the shot, its best face's distance to the character's anchor."""
    faces: int | None = None
    """Confident faces found in the shot's keyframes (None: identity not measured)."""
    video_sha256: str | None = None
    """Content hash of the shot video these scores measured (None in evals made before it was recorded):
    a shot whose video has another hash now was re-rendered since, and these scores are not its."""


class CharacterIdentity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    anchor: str = ""
    """``reference``, ``first appearance in SS-KK``, or empty (never seen alone with one face)."""
    cast_in: list[str] = Field(default_factory=list)
    seen_in: list[str] = Field(default_factory=list)
    mean_distance: float | None = None
    """Mean distance between the character's faces of every pair of shots it was seen in."""
    same_person_rate: float | None = None
    """Share of those pairs closer than the same-person threshold (identity consistency, 0..1)."""
    max_anchor_distance: float | None = None
    worst_shot: str | None = None


class FilmScores(BaseModel):
    model_config = ConfigDict(extra="forbid")

    aesthetic: float | None = None
    prompt_following_global: float | None = None
    prompt_following_shot: float | None = None
    cross_shot_all: float | None = None
    cross_shot_top10: float | None = None
    top10_pairs: list[list[str]] = Field(default_factory=list)
    """The shot pairs the top-10 mean is over, most related prompts first."""
    identity: float | None = None
    """Mean over characters seen in two or more shots of their same-person rate."""


class RunEval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run: str
    story_name: str
    version: int
    engine: str
    evaluated_at: str
    comparable: bool
    """True when every ST-Bench number comes from the paper's models."""
    scorers: list[ScorerInfo]
    film: FilmScores
    shots: list[ShotScores]
    characters: list[CharacterIdentity] = Field(default_factory=list)
    frames_per_shot: int = 8
    notes: list[str] = Field(default_factory=list)
    shots_total: int | None = None
    """Shots in the run when it was evaluated (``shots`` holds the ones with a video); None in evals made
    before it was recorded."""
    film_sha256: str | None = None
    """Content hash of the assembled film when it was evaluated (None: no film yet, or an older eval).
    What an eval measured is ``shots`` (ids and ``video_sha256``); ``agents.eval.coverage`` compares it
    with the run as it is now."""
