"""Interfaces every engine-side component implements.

Frames are ``numpy.ndarray`` of dtype uint8 and shape ``(F, H, W, 3)`` (RGB) everywhere.
"""

from __future__ import annotations

from typing import Callable, Protocol, runtime_checkable

import numpy as np

from schemas.render import RenderRequest

ProgressFn = Callable[[int, int], None]
"""``progress(done, total)``: called as a render advances (denoising steps or drawn frames)."""


class EngineError(RuntimeError):
    """A backend could not render (missing weights, out of memory, bad input); the message says
    what is wrong and how to fix it, in one line."""


class SettingsError(ValueError):
    """A render setting a stage cannot handle, found before anything is rendered.

    ``argument`` names what is wrong as the stage calls it (a :class:`RenderRequest` field such as
    ``num_frames``, or an engine option such as ``steps``); the command line maps it to its flag
    (``cli/validate.py``). The message says the allowed values and why, in one line."""

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(message)
        self.argument = argument


@runtime_checkable
class Engine(Protocol):
    """Renders one shot from a :class:`RenderRequest`."""

    name: str
    """Short name recorded in the manifest (``preview``, ``storymem``)."""

    def render_shot(self, request: RenderRequest, progress: ProgressFn | None = None) -> np.ndarray:
        """Return all generated frames ``(request.num_frames, H, W, 3)`` uint8, including the
        leading frames that repeat the previous shot (MI2V: 1, MM2V: 5); the caller drops them.
        Same request, same frames."""
        ...

    def describe(self) -> str:
        """One line for the run summary (model paths, device, precision)."""
        ...


@runtime_checkable
class FrameEmbedder(Protocol):
    """Maps frames to L2-normalised vectors whose cosine similarity tracks semantic similarity."""

    name: str
    """Recorded in the bank; vectors of different embedders are never compared."""

    def embed(self, frames: np.ndarray) -> np.ndarray:
        """``(N, H, W, 3)`` uint8 -> ``(N, D)`` float32, each row of unit norm. One batched call
        per shot, not one per frame."""
        ...


@runtime_checkable
class QualityScorer(Protocol):
    """Scores frames for aesthetic/technical quality; frames below ``threshold`` are skipped."""

    name: str
    """Recorded in the bank."""
    threshold: float
    """Frames scoring below this are never keyframes."""

    def score(self, frames: np.ndarray) -> np.ndarray:
        """``(N, H, W, 3)`` uint8 -> ``(N,)`` float32, higher is better."""
        ...
