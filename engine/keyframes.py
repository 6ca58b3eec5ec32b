"""StoryMem's semantic keyframe selection (paper section 3.4).

Per shot: the first frame whose quality passes is a keyframe; a later frame becomes one when its
cosine similarity to the *last* keyframe is below a threshold and its quality passes. The threshold
starts at ``settings.start_threshold`` and is lowered by ``settings.threshold_step`` until at most
``settings.max_per_shot`` keyframes remain.

Unlike the reference (which re-runs CLIP on each frame pair in every round), embeddings and quality
are computed once per shot in one batched call each; the rounds only compare precomputed vectors.
The threshold of round ``k`` is ``start - k * step`` (not a running subtraction), so rounding never
drifts. The reference also skips frame 1 by starting its scan at frame 2; we scan every frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.base import FrameEmbedder, QualityScorer
from schemas.memory import MemorySettings


def _select_at(sims: np.ndarray, ok: np.ndarray, threshold: float) -> list[int]:
    """One round: keyframe indices at one threshold. ``sims`` is the ``(N, N)`` cosine matrix."""
    first = int(np.argmax(ok))
    keys = [first]
    for i in range(first + 1, len(ok)):
        if ok[i] and sims[keys[-1], i] < threshold:
            keys.append(i)
    return keys


def select_keyframes(embeddings: np.ndarray, quality: np.ndarray, threshold: float,
                     settings: MemorySettings) -> list[int]:
    """Indices of the shot's keyframes, ascending.

    ``embeddings`` ``(N, D)`` unit rows, ``quality`` ``(N,)``; frames with ``quality < threshold``
    (the scorer's threshold) are never keyframes. Returns ``[]`` when no frame passes.
    The similarity threshold starts at ``settings.start_threshold`` and drops by
    ``settings.threshold_step`` per round until at most ``settings.max_per_shot`` are left (below
    -1 only the first good frame can remain, so the loop always ends)."""
    emb = np.asarray(embeddings, dtype=np.float64)  # (N, D)
    q = np.asarray(quality, dtype=np.float64).reshape(-1)  # (N,)
    if emb.ndim != 2 or emb.shape[0] != q.shape[0]:
        raise ValueError(f"embeddings {emb.shape} and quality {q.shape} must describe the same N frames")
    ok = q >= threshold  # (N,)
    if not ok.any():
        return []
    sims = emb @ emb.T  # (N, N)
    k = 0
    while True:
        sim_threshold = settings.start_threshold - k * settings.threshold_step
        keys = _select_at(sims, ok, sim_threshold)
        if len(keys) <= settings.max_per_shot or sim_threshold < -1.0:
            return keys
        k += 1


@dataclass(frozen=True)
class KeyframeCandidates:
    """A shot's keyframes as selected, before the bank's dedupe."""

    indices: list[int]
    """Frame indices within the frames passed to :func:`extract_candidates`."""
    embeddings: np.ndarray
    """``(K, D)`` float32 unit rows of those frames."""
    quality: np.ndarray
    """``(K,)`` float32 quality scores of those frames."""
    embedder: str
    """Name of the embedder (the bank refuses vectors of another embedder)."""
    scorer: str
    """Name of the quality scorer."""


def extract_candidates(frames: np.ndarray, embedder: FrameEmbedder, scorer: QualityScorer,
                       settings: MemorySettings) -> KeyframeCandidates:
    """Embed and score all ``frames`` ``(N, H, W, 3)`` once, then :func:`select_keyframes`."""
    if frames.ndim != 4 or frames.shape[0] < 1:
        raise ValueError(f"frames must be (N, H, W, 3) with N >= 1, got {frames.shape}")
    emb = np.asarray(embedder.embed(frames), dtype=np.float32)  # (N, D)
    qual = np.asarray(scorer.score(frames), dtype=np.float32)  # (N,)
    if emb.shape[0] != frames.shape[0] or qual.shape != (frames.shape[0],):
        raise ValueError(
            f"embedder {embedder.name!r} / scorer {scorer.name!r} returned {emb.shape} / {qual.shape} "
            f"for {frames.shape[0]} frames: they must return one row / one score per frame"
        )
    idx = select_keyframes(emb, qual, scorer.threshold, settings)
    return KeyframeCandidates(idx, emb[idx], qual[idx], embedder.name, scorer.name)
