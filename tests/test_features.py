"""The embedded CPU embedder and quality scorer (engine/features.py)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from engine.base import FrameEmbedder, QualityScorer
from engine.features import StatsEmbedder, StatsQualityScorer


def scene(seed: int, w: int = 416, h: int = 240) -> np.ndarray:
    """A synthetic 'place': a two-tone backdrop and random shapes in a seeded palette. (h, w, 3)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(30, 226, (2, 3))
    img = Image.new("RGB", (w, h), tuple(int(v) for v in base[0]))
    d = ImageDraw.Draw(img)
    d.rectangle([0, int(h * rng.uniform(0.45, 0.7)), w, h], fill=tuple(int(v) for v in base[1]))
    for _ in range(25):
        c = tuple(int(v) for v in np.clip(base[rng.integers(0, 2)] + rng.integers(-90, 90, 3), 0, 255))
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        s = rng.uniform(0.03, 0.15) * w
        (d.ellipse if rng.random() < 0.5 else d.rectangle)([x - s, y - s * 0.7, x + s, y + s * 0.7], fill=c)
    arr = np.asarray(img, np.float32) + rng.normal(0, 4, (h, w, 3))
    return np.clip(arr, 0, 255).astype(np.uint8)


def pan(image: np.ndarray, n: int, w: int, h: int, step: int) -> np.ndarray:
    """``n`` crops of ``w x h`` moving right by ``step`` pixels per frame. (n, h, w, 3)."""
    return np.stack([image[:h, i * step: i * step + w] for i in range(n)])


def test_protocols():
    assert isinstance(StatsEmbedder(), FrameEmbedder)
    assert isinstance(StatsQualityScorer(), QualityScorer)
    assert StatsEmbedder().name == "stats-v1" and StatsQualityScorer().name == "stats-quality-v1"


def test_embedding_shape_norm_determinism_and_batch_independence():
    frames = np.stack([scene(1), scene(2), scene(3)])
    emb = StatsEmbedder()
    e = emb.embed(frames)
    assert e.shape == (3, emb.dim) and e.dtype == np.float32
    assert np.allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(e, emb.embed(frames))
    assert np.allclose(e[1], emb.embed(frames[1:2])[0], atol=1e-6)


def test_similarity_behaves_like_a_semantic_embedding():
    emb = StatsEmbedder()
    big = scene(7, 520, 240)
    shot = pan(big, 11, 416, 240, 10)  # camera pans 100 px (a quarter of the width) over the shot
    noisy = np.clip(shot[0].astype(int) + np.random.default_rng(0).integers(-2, 3, shot[0].shape), 0, 255).astype(np.uint8)
    others = np.stack([scene(s) for s in (11, 12, 13, 14)])
    e = emb.embed(np.concatenate([shot, noisy[None], others]))
    s = e @ e.T
    assert s[0, 11] > 0.99  # near-identical frame
    assert s[0, :11].min() > 0.9  # same shot with camera motion
    assert s[0, 12:].max() < 0.8  # other places and palettes
    assert s[12:, 12:][~np.eye(4, dtype=bool)].max() < 0.8


def test_embedding_does_not_depend_on_frame_size():
    emb = StatsEmbedder()
    img = scene(5, 832, 480)
    small = np.asarray(Image.fromarray(img).resize((208, 120), Image.Resampling.BILINEAR))
    a, b = emb.embed(img[None])[0], emb.embed(small[None])[0]
    assert float(a @ b) > 0.97
    assert emb.embed(np.zeros((1, 3, 3, 3), np.uint8)).shape == (1, emb.dim)  # tiny frames work too


def test_quality_rejects_blurred_black_white_blown_and_flat_frames():
    q = StatsQualityScorer()
    good = [scene(s, 832, 480) for s in (21, 22, 23)]
    blurred = [np.asarray(Image.fromarray(g).filter(ImageFilter.GaussianBlur(5))) for g in good]
    black = np.zeros_like(good[0])
    white = np.full_like(good[0], 255)
    flat = np.full_like(good[0], 118)
    blown = np.clip(good[0].astype(int) * 3 + 60, 0, 255).astype(np.uint8)
    dark = (good[1] * 0.12).astype(np.uint8)
    scores = q.score(np.stack(good + blurred + [black, white, flat, blown, dark]))
    assert scores.dtype == np.float32 and scores.shape == (11,)
    assert (scores[:3] >= q.threshold).all(), scores[:3]
    assert (scores[3:] < q.threshold).all(), scores[3:]
    assert ((0.0 <= scores) & (scores <= 10.0)).all()


def test_quality_measurements_for_the_critic():
    q = StatsQualityScorer()
    good = scene(31, 832, 480)
    soft = np.asarray(Image.fromarray(good).filter(ImageFilter.GaussianBlur(3)))
    m = q.measure(np.stack([good, soft, np.zeros_like(good), np.full_like(good, 255)]))
    assert set(m) == {"sharpness", "laplacian_var", "mean_luma", "dark_clip", "bright_clip", "contrast"}
    assert all(v.shape == (4,) and v.dtype == np.float32 for v in m.values())
    assert m["sharpness"][0] > 5 * m["sharpness"][1] and m["laplacian_var"][0] > 5 * m["laplacian_var"][1]
    assert m["mean_luma"][2] == 0.0 and m["dark_clip"][2] == 1.0
    assert m["mean_luma"][3] == 1.0 and m["bright_clip"][3] == 1.0
    assert m["contrast"][2] == 0.0 and m["contrast"][0] > 0.1
    f = q.factors(m)
    assert set(f) == {"sharp", "exposure", "clip", "contrast"}
    assert np.allclose(q.score(np.stack([good]))[0], 10 * f["sharp"][0] * f["exposure"][0] * f["clip"][0] * f["contrast"][0])
