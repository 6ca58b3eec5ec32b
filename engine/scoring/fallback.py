"""CPU fallbacks for the ST-Bench judges: no weights, not comparable with the paper.

* :class:`StatsAesthetic` -- :class:`engine.features.StatsQualityScorer` (sharpness, exposure, clipping,
  contrast on 0..10) divided by 10: a technical-quality stand-in for the LAION aesthetic score.
* :class:`StatsVideo` -- the mean of :class:`engine.features.StatsEmbedder` vectors (CIELAB colour
  histograms, colour layout, edge orientations) of the video's sampled frames, renormalised; it has no
  text tower, so prompt following cannot be measured with it.
* :class:`TfidfText` -- TF-IDF bag-of-words vectors of prompts (lower-cased words of 2+ letters, English
  stop words out, IDF over the texts of one call), used only to rank shot pairs for top-10 consistency.

docs/eval.md says what each stands in for.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np

from engine.features import StatsEmbedder, StatsQualityScorer
from engine.scoring.frames import sample_indices

_STOP = frozenset(
    "a an the and or of to in on at by for with from as is are was were be been it its this that these those "
    "he she they his her their them him we you i into onto over under up down out off then than so very".split()
)


class StatsAesthetic:
    name = "stats-quality-v1/10"
    comparable = False

    def __init__(self) -> None:
        self._q = StatsQualityScorer()

    def score(self, frames: np.ndarray) -> np.ndarray:
        return (self._q.score(frames) / 10.0).astype(np.float32)  # (N,)


class StatsVideo:
    name = "stats-v1 (8-frame mean)"
    comparable = False
    has_text = False

    def __init__(self, num_frames: int = 8) -> None:
        self._e = StatsEmbedder()
        self.num_frames = num_frames

    def embed_videos(self, videos: list[np.ndarray]) -> np.ndarray:
        out = []
        for v in videos:
            e = self._e.embed(v[sample_indices(len(v), self.num_frames)]).mean(axis=0)  # (D,)
            out.append(e / max(float(np.linalg.norm(e)), 1e-12))
        return np.stack(out).astype(np.float32)  # (V, D)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError("the stats embedder has no text tower; prompt following needs ViCLIP")


def words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z][a-z']+", text.lower()) if w not in _STOP]


class TfidfText:
    name = "tfidf-v1"

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        docs = [Counter(words(t)) for t in texts]
        vocab = sorted({w for d in docs for w in d})
        index = {w: i for i, w in enumerate(vocab)}
        df = Counter(w for d in docs for w in d)
        n = len(texts)
        out = np.zeros((n, max(1, len(vocab))), np.float32)  # (T, V)
        for r, d in enumerate(docs):
            for w, c in d.items():
                out[r, index[w]] = (1.0 + math.log(c)) * math.log((1 + n) / (1 + df[w]) + 1.0)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)
