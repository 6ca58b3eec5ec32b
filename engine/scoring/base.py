"""The one small interface every frame judge implements, and the container that holds them.

Frames are ``numpy`` uint8 ``(N, H, W, 3)`` RGB everywhere; a video is one such array.

* :class:`AestheticModel` -- per-frame aesthetic score on VBench's scale (LAION score / 10, 0..1).
* :class:`VideoTextModel` -- one unit vector per video and per text, in one space (ViCLIP); a model
  without text (the stats fallback) says so with ``has_text = False``.
* :class:`FaceModel` -- faces of one image with 128-d descriptors (dlib).

Every judge has a ``name`` (recorded in results) and ``comparable``: True only for the paper's models
(CLIP ViT-L/14 + LAION head, ViCLIP); fallback numbers are never comparable with published ones.
The critic and ``eval`` get their judges from :func:`engine.scoring.build.build_judges`, so a metric
and a verdict always measure the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from engine.scoring.faces import Face


class ScoringError(RuntimeError):
    """A judge cannot be built or used (missing weights or packages); the message says what to get."""


@runtime_checkable
class AestheticModel(Protocol):
    name: str
    comparable: bool

    def score(self, frames: np.ndarray) -> np.ndarray:
        """``(N, H, W, 3)`` uint8 -> ``(N,)`` float32 in about 0..1 (higher is better)."""
        ...


@runtime_checkable
class VideoTextModel(Protocol):
    name: str
    comparable: bool
    has_text: bool

    def embed_videos(self, videos: list[np.ndarray]) -> np.ndarray:
        """``V`` videos, each ``(F, H, W, 3)`` uint8 -> ``(V, D)`` float32 unit rows."""
        ...

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """``T`` texts -> ``(T, D)`` float32 unit rows in the videos' space (``has_text`` only)."""
        ...


@runtime_checkable
class TextModel(Protocol):
    name: str

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """``T`` texts -> ``(T, D)`` float32 unit rows (used to rank prompt pairs by similarity)."""
        ...


@runtime_checkable
class FaceModel(Protocol):
    name: str

    def faces(self, image: np.ndarray) -> list["Face"]:
        """``(H, W, 3)`` uint8 -> confident faces, largest first."""
        ...


@dataclass
class JudgeInfo:
    """What ran in one role: for the output's "scorers" table and ``--json``."""

    role: str
    name: str
    comparable: bool
    detail: str = ""
    upgrade: str = ""


@dataclass
class Judges:
    """The frame judges of one process, loaded once. ``faces`` is None where dlib is not installed."""

    aesthetic: AestheticModel
    video: VideoTextModel
    text: TextModel
    """Prompt text features for the top-10 pair choice: the video model's text tower when it has one."""
    faces: FaceModel | None = None
    info: list[JudgeInfo] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    @property
    def comparable(self) -> bool:
        """True when every ST-Bench number comes from the paper's models."""
        return bool(self.aesthetic.comparable and self.video.comparable)
