"""Run state: the manifest of a run directory, one entry per shot.

``manifest.json`` is the run's source of truth (written atomically after every state change);
the LangGraph checkpoint only records where the graph was.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.critique import CritiqueReport
from schemas.memory import MemorySettings
from schemas.render import SEED_LIMIT, RenderMode, SceneRecord

MANIFEST_VERSION = 1

ShotStatus = Literal["pending", "rendered", "accepted", "failed"]
"""pending: not rendered yet (or invalidated); rendered: files exist, not yet accepted;
accepted: final for this version; failed: the engine raised and retries ran out."""


class ShotOutputs(BaseModel):
    """Files a shot produced, relative to the run directory."""

    model_config = ConfigDict(extra="forbid")

    video: str | None = None
    """``shots/SS-KK.mp4``: the saved shot, repeated conditioning frames dropped."""
    video_sha256: str | None = None
    """Content hash of the video file."""
    frame_count: int | None = None
    """Frames in the saved shot."""
    tail: list[str] = Field(default_factory=list)
    """Lossless PNGs of the shot's last frames (last one last): the next shot's first/motion frames."""
    tail_sha256: list[str] = Field(default_factory=list)
    """Content hashes of ``tail``, in order (empty in manifests written before they were recorded)."""
    keyframes: list[str] = Field(default_factory=list)
    """Ids of the keyframes extracted from this shot and added to the bank."""
    candidates: list[str] = Field(default_factory=list)
    """Paths of extracted keyframe candidates (before deduplication against the bank)."""
    scene: SceneRecord | None = None
    """The world the shot was drawn in, as the engine reported it (the preview does; None otherwise):
    the next shot's ``previous_scene`` and its keyframes' ``scene``."""


class ShotDirectives(BaseModel):
    """Standing changes to how a shot is rendered, set by the critic's verdicts or by edits.

    They persist in the manifest so that a resumed or repeated preparation builds the same request."""

    model_config = ConfigDict(extra="forbid")

    prompt: str | None = Field(default=None, max_length=2000)
    """Replacement prompt (Reprompt); None keeps the script's prompt."""
    inject: list[str] = Field(default_factory=list)
    """Bible characters whose explicit details are written into the prompt (InjectDetails)."""
    memory_drop: list[str] = Field(default_factory=list)
    """Keyframe ids left out of this shot's memory (SwapKeyframes)."""
    memory_add: list[str] = Field(default_factory=list)
    """Keyframe ids added to this shot's memory (SwapKeyframes)."""
    reroll: int = Field(default=0, ge=0)
    """How many times the seed was changed (Rerender); 0 uses the base seed."""


class ShotState(BaseModel):
    """Everything known about one shot of the current version."""

    model_config = ConfigDict(extra="forbid")

    shot_id: str
    """``SS-KK``."""
    index: int = Field(ge=0)
    """Position in the film."""
    status: ShotStatus = "pending"
    """Progress of the shot."""
    attempts: int = Field(default=0, ge=0)
    """Renders made for this shot in this version."""
    seed_base: int | None = None
    """The shot's own seed, fixed when the shot is created (run seed + position); it moves with the
    shot when shots are inserted or reordered, so only a re-roll changes it."""
    seed: int | None = None
    """Seed of the latest render (``seed_base`` moved by re-rolls)."""
    mode: RenderMode | None = None
    """Conditioning mode of the latest render."""
    prompt: str | None = None
    """Prompt of the latest render (script prompt plus injected details)."""
    memory_ids: list[str] = Field(default_factory=list)
    """Memory keyframes the latest render was conditioned on."""
    input_hash: str | None = None
    """Hash of everything that determines the shot's frames; unchanged hash, reusable files."""
    directives: ShotDirectives = Field(default_factory=ShotDirectives)
    """Standing changes from verdicts and edits."""
    verdicts_applied: int = Field(default=0, ge=0)
    """Attempts whose retry verdict has been applied to the directives (keeps retries idempotent)."""
    outputs: ShotOutputs = Field(default_factory=ShotOutputs)
    """Files of the latest render."""
    verdicts: list[CritiqueReport] = Field(default_factory=list)
    """Every critique of this shot, in order."""
    render_seconds: float = 0.0
    """Wall time spent rendering this shot (all attempts)."""
    version: int = Field(default=1, ge=1)
    """Film version whose render produced the shot's current files."""
    engine: str | None = None
    """Engine that rendered the shot's current files (None in manifests written before it was
    recorded: then ``RunSettings.engine``)."""
    error: str | None = None
    """Last engine error, if the shot failed."""


class BackendInfo(BaseModel):
    """Which implementation ran for a role, and how to get a better one."""

    model_config = ConfigDict(extra="forbid")

    name: str
    """Implementation name, e.g. ``preview``, ``storymem``, ``offline``, ``heuristic``, ``openai:gpt-4o``."""
    embedded: bool
    """True for the built-in no-model defaults."""
    detail: str = ""
    """Extra facts (model path, endpoint host, device)."""
    upgrade: str = ""
    """How to get the real backend, when an embedded default ran."""
    settings: dict[str, Any] = Field(default_factory=dict)
    """Every setting the backend ran with (the StoryMem engine: its preset and all it expanded to)."""


class Usage(BaseModel):
    """Token usage of one model call."""

    model_config = ConfigDict(extra="forbid")

    role: str
    """planner, critic, reviser."""
    model: str
    """Model name as sent to the endpoint."""
    prompt_tokens: int = 0
    """Prompt tokens reported by the endpoint."""
    completion_tokens: int = 0
    """Completion tokens reported by the endpoint."""
    shot_id: str | None = None
    """The shot the call was about, if any."""


class RunSettings(BaseModel):
    """Settings fixed at run creation; a resume uses them unchanged."""

    model_config = ConfigDict(extra="forbid")

    seed: int = Field(default=0, ge=0, lt=SEED_LIMIT)
    """Base seed; shot k's first attempt uses seed + k (wrapped below 2**63)."""
    width: int = Field(default=832, ge=16, multiple_of=16)
    """Frame width."""
    height: int = Field(default=480, ge=16, multiple_of=16)
    """Frame height."""
    num_frames: int = Field(default=81, ge=5)
    """Frames generated per shot (4n+1)."""
    fps: int = Field(default=16, ge=1)
    """Frames per second."""
    engine: str = "preview"
    """Engine that runs this run's passes (the latest pass's; see ``ShotState.engine`` per shot)."""
    engine_requested: str | None = None
    """Engine the user asked for when the run was created (``auto``, ``preview``, ``storymem``); None
    in manifests written before it was recorded."""
    continuation: Literal["mi2v", "mm2v"] = "mi2v"
    """How cut=false shots continue the previous one."""
    max_retries: int = Field(default=2, ge=0, le=10)
    """Retries per shot after the first render."""
    max_total_retries: int = Field(default=20, ge=0)
    """Retries across the whole run."""
    memory: MemorySettings = Field(default_factory=MemorySettings)
    """Memory bank settings."""
    negative_prompt: str | None = None
    """Override of the engine's default negative prompt."""


class RunManifest(BaseModel):
    """``manifest.json``."""

    model_config = ConfigDict(extra="forbid")

    manifest_version: int = MANIFEST_VERSION
    """Format version of this file."""
    run_id: str
    """Stable id of the run (also the checkpoint thread id)."""
    created_at: str
    """ISO time of creation."""
    source: str
    """Where the script came from (a file path or ``logline: ...``)."""
    version: int = Field(default=1, ge=1)
    """Film version (1 for the first render; each revision adds one)."""
    thread: str | None = None
    """LangGraph thread of the current version's pass (checkpoints in ``checkpoints.sqlite``)."""
    status: Literal["planned", "rendering", "complete", "failed"] = "planned"
    """Overall progress."""
    settings: RunSettings
    """Settings fixed at creation."""
    backends: dict[str, BackendInfo] = Field(default_factory=dict)
    """Role (planner, engine, critic, embedder, scorer) to implementation."""
    options: dict[str, Any] = Field(default_factory=dict)
    """The backend options the run was started with (never secrets), reused by resume and revise."""
    shots: list[ShotState] = Field(default_factory=list)
    """One entry per shot, in film order."""
    total_retries: int = Field(default=0, ge=0)
    """Retries spent so far across the run."""
    film: str | None = None
    """``film.mp4`` once assembled."""
    film_sha256: str | None = None
    """Content hash of the film."""
    contact_sheet: str | None = None
    """``contact_sheet.png`` once assembled."""
    contact_sheet_sha256: str | None = None
    """Content hash of the contact sheet (None in manifests written before it was recorded)."""
    rerender: list[str] = Field(default_factory=list)
    """Shots this version renders again: the forecast the person confirmed for a revision (empty for a
    first render). Each is rendered once in this version, so what runs is what was announced."""
    usage: list[Usage] = Field(default_factory=list)
    """Token usage per model call."""
    notices: list[str] = Field(default_factory=list)
    """Things the user should know (fallbacks taken, budgets exhausted)."""
    wall_seconds: float = 0.0
    """Wall time spent on this run, across resumes."""
