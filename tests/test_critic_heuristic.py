"""The embedded heuristic critic on crafted frames: each check fires when it should, and only then."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from agents.critic.heuristic import HeuristicCritic
from schemas import Bible, Character, CritiqueInput, RenderRequest

rng = np.random.default_rng(0)


def scene(seed: int = 0, w: int = 320, h: int = 192) -> np.ndarray:
    """A textured, well exposed test frame."""
    r = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    img[:] = r.uniform(60, 190, size=3)
    for _ in range(25):
        x, y = r.integers(0, w - 40), r.integers(0, h - 40)
        img[y:y + r.integers(8, 40), x:x + r.integers(8, 40)] = r.uniform(0, 255, size=3)
    img += r.normal(0, 6, img.shape)
    return img.clip(0, 255).astype(np.uint8)


def save(tmp: Path, name: str, arr: np.ndarray) -> str:
    p = tmp / f"{name}.png"
    Image.fromarray(arr).save(p)
    return str(p)


def inp(tmp: Path, frames: list[np.ndarray], **kw) -> CritiqueInput:
    paths = [save(tmp, f"f{i}", f) for i, f in enumerate(frames)]
    return CritiqueInput(shot_id="01-02", prompt=kw.pop("prompt", "A quiet harbour. Wide shot."),
                         cut=kw.pop("cut", True), sample_frames=paths, **kw)


def test_good_shot_is_accepted(tmp_path):
    r = HeuristicCritic().critique(inp(tmp_path, [scene(1), scene(2), scene(3)]))
    assert r.verdict.action == "accept"
    assert not [f for f in r.findings if f.severity == "major"]


def test_broken_continuity_is_rerendered_and_smooth_one_accepted(tmp_path):
    prev = scene(10)
    prev_path = save(tmp_path, "prev", prev)
    c = HeuristicCritic()
    broken = c.critique(inp(tmp_path, [scene(11), scene(12)], cut=False, previous_last_frame=prev_path))
    assert broken.verdict.action == "rerender"
    assert any(f.check == "continuity" and f.severity == "major" for f in broken.findings)
    nudged = np.clip(prev.astype(int) + 3, 0, 255).astype(np.uint8)
    ok = c.critique(inp(tmp_path, [nudged, scene(12)], cut=False, previous_last_frame=prev_path))
    assert ok.verdict.action == "accept"
    # A hard cut is never judged on continuity.
    cut = c.critique(inp(tmp_path, [scene(11), scene(12)], cut=True, previous_last_frame=prev_path))
    assert all(f.check != "continuity" for f in cut.findings)


def test_blur_is_caught(tmp_path):
    blurred = [np.asarray(Image.fromarray(scene(i)).filter(ImageFilter.GaussianBlur(8))) for i in range(3)]
    r = HeuristicCritic().critique(inp(tmp_path, blurred))
    assert r.verdict.action == "rerender"
    assert any(f.check == "blur" for f in r.findings)


def test_under_and_over_exposure(tmp_path):
    dark = [(scene(i) * 0.05).astype(np.uint8) for i in range(3)]
    bright = [np.clip(scene(i).astype(int) + 230, 0, 255).astype(np.uint8) for i in range(3)]
    c = HeuristicCritic()
    d, b = c.critique(inp(tmp_path, dark)), c.critique(inp(tmp_path, bright))
    assert d.verdict.action == b.verdict.action == "rerender"
    assert any(f.check == "exposure" and "under" in f.message for f in d.findings)
    assert any(f.check == "exposure" and "over" in f.message for f in b.findings)


def test_memory_copy_swaps_keyframes_and_duplicates_are_reported(tmp_path):
    c = HeuristicCritic()
    frames = [scene(1), scene(2)]
    copy = c.critique(inp(tmp_path, frames, keyframe_memory_similarity=[0.995, 0.99],
                          keyframe_memory_match=["01-01-k1", "01-01-k1"], memory_ids=["01-01-k1"]))
    assert copy.verdict.action == "swap_keyframes" and copy.verdict.drop == ["01-01-k1"]
    dup = c.critique(inp(tmp_path, frames, keyframe_memory_similarity=[0.95, 0.5],
                         keyframe_memory_match=["01-01-k1", "01-01-k2"], memory_ids=["01-01-k1", "01-01-k2"]))
    assert dup.verdict.action == "accept"
    assert any(f.check == "duplicate_memory" for f in dup.findings)
    # A continuation resembling memory is expected, not a copy.
    cont = c.critique(inp(tmp_path, frames, cut=False, keyframe_memory_similarity=[0.995, 0.995],
                          keyframe_memory_match=["01-01-k1", "01-01-k1"], memory_ids=["01-01-k1"]))
    assert cont.verdict.action != "swap_keyframes"


def test_named_character_without_details(tmp_path):
    mia = Character(name="Mia", appearance="a girl with a black bob", attire="a green raincoat")
    bible = Bible(characters=[mia], cast={"01-02": ["Mia"]})
    c = HeuristicCritic()
    r = c.critique(inp(tmp_path, [scene(1)], prompt="Mia runs. Wide shot.", bible=[mia], characters=[mia]))
    assert r.verdict.action == "inject_details" and r.verdict.characters == ["Mia"]
    req = RenderRequest(shot_id="01-02", prompt="Mia runs. Wide shot.", mode="t2v", seed=0)
    pre = c.preflight(req, bible)
    assert pre is not None and pre.stage == "preflight" and pre.verdict.action == "inject_details"
    ok = RenderRequest(shot_id="01-02", prompt=f"{mia.details()} runs.", mode="t2v", seed=0)
    assert c.preflight(ok, bible) is None
