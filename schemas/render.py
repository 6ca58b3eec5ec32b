"""What the director asks an engine to render: one shot, fully specified.

The request holds paths and ids, never pixels, so it can be hashed, logged and checkpointed.
Engines read the images it points at.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from schemas.bible import Character
from schemas.script import ShotId

RenderMode = Literal["t2v", "m2v", "mi2v", "mm2v"]
"""t2v: text only (first shot). m2v: memory-conditioned. mi2v: memory + the previous shot's last
frame as first frame. mm2v: memory + the previous shot's last 5 frames as motion frames."""

MOTION_FRAMES = 5
"""Number of motion frames MM2V continues from (StoryMem: the previous shot's last 5 frames)."""

SEED_LIMIT = 2**63
"""Seeds are below this (a signed 64-bit integer, what torch generators and NumPy take)."""
MAX_REQUEST_PROMPT = 4000
"""Longest final prompt (the script's at most 2,000 characters plus injected character details)."""

REPEATED_FRAMES: dict[str, int] = {"mi2v": 1, "mm2v": MOTION_FRAMES}
"""Per mode, the leading frames of a shot that repeat the previous shot (dropped from the saved shot)."""

WAN_NEGATIVE_PROMPT = (
    "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，"
    "JPEG压缩残留，丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，"
    "手指融合，静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走"
)
"""Wan's default negative prompt (the reference sampler's), used unless a run overrides it."""


class SceneRecord(BaseModel):
    """The world an engine drew a shot in, as the engine reports it after the render (an engine that
    draws worlds from words, the preview, reports one; StoryMem's world lives in its pixels and it
    reports none). The director hands it back as data: a continuation's ``previous_scene`` and each
    memory keyframe's ``scene``, so the engine redraws the same world without reading it from the
    images. Part of the input hash of the shots it is given to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    engine: str = Field(min_length=1, max_length=64)
    """Engine name and version that wrote it, e.g. ``preview:5``; another engine ignores it."""
    place: str = Field(max_length=32)
    """The setting drawn (a key of ``engine.preview.scene.PLACES`` or ``stage``)."""
    framing: Literal["wide", "medium", "close"]
    """Shot size of the world (a continuation keeps it)."""
    time: str = Field(max_length=32)
    """Time of day whose light was drawn (a key of ``engine.preview.palette.TIME_PALETTES``)."""
    flags: list[str] = Field(default_factory=list, max_length=16)
    """What else shaped the world: ``rain``, ``snow``, ``fog``, ``neon``, ``space_view``."""
    world_seed: int = Field(ge=0, lt=2**32)
    """Seed of the world's details (clouds, buildings, shelves of books)."""
    palette: dict[str, tuple[int, int, int]] = Field(default_factory=dict)
    """Scene colours by role (``sky_top``, ``ground_near``, ``wall``...), RGB 0-255."""
    camera_end: tuple[float, float, float] = (0.0, 0.0, 1.0)
    """Where the camera stopped: view centre offset from the world centre as fractions of the frame
    width and height, and the view scale (1 = the frame's own size)."""


class MemoryImage(BaseModel):
    """One keyframe of the memory bank as the engine sees it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=64)
    """Keyframe id, e.g. ``02-01-k1`` or ``ref-mia-0``."""
    path: str
    """Absolute path of the image file (PNG/JPEG, RGB)."""
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    """Content hash of the image file, part of the shot's input hash."""
    characters: list[str] = Field(default_factory=list)
    """Characters visible in the shot the keyframe came from (or the reference's character)."""
    scene: SceneRecord | None = None
    """The world the keyframe's shot was drawn in, as its engine reported it (None: not reported,
    or a reference image)."""


class RenderRequest(BaseModel):
    """Everything needed to render one shot deterministically."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    shot_id: ShotId
    """The shot being rendered."""
    prompt: str = Field(min_length=1, max_length=MAX_REQUEST_PROMPT)
    """The final prompt (script prompt plus any injected character details)."""
    negative_prompt: str = WAN_NEGATIVE_PROMPT
    """Negative prompt for classifier-free guidance."""
    mode: RenderMode
    """How the shot is conditioned (see :data:`RenderMode`)."""
    memory: list[MemoryImage] = Field(default_factory=list, max_length=64)
    """Memory keyframes, oldest first (sink first, then the sliding window)."""
    first_frame: str | None = None
    """MI2V: path of the previous shot's last frame (PNG); the shot starts exactly on it."""
    motion_frames: list[str] = Field(default_factory=list)
    """MM2V: paths of the previous shot's last 5 frames, oldest first."""
    seed: int = Field(ge=0, lt=SEED_LIMIT)
    """Seed of the shot's noise; same request, same frames."""
    width: int = Field(default=832, ge=16, le=4096, multiple_of=16)
    """Frame width in pixels."""
    height: int = Field(default=480, ge=16, le=4096, multiple_of=16)
    """Frame height in pixels."""
    num_frames: int = Field(default=81, ge=5, le=1025)
    """Frames to generate, including any repeated conditioning frames; 4n+1 for Wan."""
    fps: int = Field(default=16, ge=1, le=120)
    """Playback rate of the shot."""
    characters: list[Character] = Field(default_factory=list)
    """Bible entries of the characters in the shot (the preview engine draws them)."""
    previous_scene: SceneRecord | None = None
    """MI2V/MM2V: the world the previous shot was drawn in, as its engine reported it (None when it
    reported none); a drawing engine continues that place, framing and camera."""

    @field_validator("num_frames")
    @classmethod
    def _frames_fit_the_mode(cls, num_frames: int, info: ValidationInfo) -> int:
        if (num_frames - 1) % 4 != 0:
            raise ValueError(f"num_frames must be 4n+1 (Wan's VAE stride), got {num_frames}")
        repeated = REPEATED_FRAMES.get(info.data.get("mode"), 0)
        if num_frames <= repeated:
            raise ValueError(
                f"mode {info.data['mode']} repeats the previous shot's last {repeated} frames, so num_frames must be "
                f"at least {repeated + 4} (4n+1) to leave new frames; got {num_frames}"
            )
        return num_frames

    @model_validator(mode="after")
    def _mode_matches_conditions(self) -> "RenderRequest":
        if self.mode == "mi2v" and not self.first_frame:
            raise ValueError("mode mi2v needs first_frame (the previous shot's last frame)")
        if self.mode != "mi2v" and self.first_frame:
            raise ValueError(f"first_frame is only used by mode mi2v, not {self.mode}")
        if self.mode == "mm2v" and len(self.motion_frames) != MOTION_FRAMES:
            raise ValueError(f"mode mm2v needs {MOTION_FRAMES} motion_frames, got {len(self.motion_frames)}")
        if self.mode != "mm2v" and self.motion_frames:
            raise ValueError(f"motion_frames are only used by mode mm2v, not {self.mode}")
        if self.mode not in ("mi2v", "mm2v") and self.previous_scene is not None:
            raise ValueError(f"previous_scene is only used by continuations (mi2v, mm2v), not {self.mode}")
        if self.mode == "t2v" and self.memory:
            raise ValueError("mode t2v takes no memory; use m2v to condition on memory")
        return self

    @property
    def repeated_frames(self) -> int:
        """Leading frames that repeat the previous shot and are dropped from the saved shot."""
        return REPEATED_FRAMES.get(self.mode, 0)
