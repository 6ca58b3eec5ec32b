"""The ST-Bench metrics as pure functions of features (StoryMem section 4, HoloCine's protocol).

All inputs are L2-normalised rows, so a dot product is a cosine similarity.
"""

from __future__ import annotations

import itertools

import numpy as np

TOP_PAIRS = 10


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosines of two ``(N, D)`` unit arrays -> ``(N,)``."""
    return np.einsum("nd,nd->n", np.asarray(a, np.float64), np.asarray(b, np.float64))


def shot_pairs(n: int) -> list[tuple[int, int]]:
    """Every pair ``(i, j)``, ``i < j``, of ``n`` shots."""
    return list(itertools.combinations(range(n), 2))


def cross_shot_all(video: np.ndarray) -> float | None:
    """Mean cosine of the videos of every pair of shots; ``video`` ``(S, D)``. None with fewer than 2 shots."""
    pairs = shot_pairs(len(video))
    if not pairs:
        return None
    v = np.asarray(video, np.float64)
    return float(np.mean([v[i] @ v[j] for i, j in pairs]))


def top_pairs(text: np.ndarray, k: int = TOP_PAIRS) -> list[tuple[int, int]]:
    """The ``k`` shot pairs whose prompt features ``text`` ``(S, D)`` are most similar, most similar first
    (ties: earlier pair first). All pairs when there are fewer than ``k``."""
    t = np.asarray(text, np.float64)
    pairs = shot_pairs(len(t))
    ranked = sorted(range(len(pairs)), key=lambda p: (-(t[pairs[p][0]] @ t[pairs[p][1]]), p))
    return [pairs[p] for p in ranked[:k]]


def cross_shot_top(video: np.ndarray, text: np.ndarray, k: int = TOP_PAIRS) -> tuple[float | None, list[tuple[int, int]]]:
    """Top-k consistency: the mean video cosine over :func:`top_pairs` of the prompts, and those pairs."""
    if len(video) != len(text):
        raise ValueError(f"{len(video)} videos but {len(text)} prompts")
    pairs = top_pairs(text, k)
    if not pairs:
        return None, []
    v = np.asarray(video, np.float64)
    return float(np.mean([v[i] @ v[j] for i, j in pairs])), pairs


def prompt_following(video: np.ndarray, text: np.ndarray) -> np.ndarray:
    """Per shot, the cosine of its video and its prompt: ``(S, D)``, ``(S, D)`` -> ``(S,)``."""
    return cosine_rows(video, text)
