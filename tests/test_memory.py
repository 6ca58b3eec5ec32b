"""Keyframe selection (engine/keyframes.py) and the memory bank (engine/memory.py)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image, ImageFilter

from engine.features import StatsEmbedder, StatsQualityScorer
from engine.keyframes import KeyframeCandidates, extract_candidates, select_keyframes
from engine.memory import MemoryBank, select_memory
from engine.video import load_image, save_png
from schemas.memory import Keyframe, MemorySettings
from story.files import sha256_file
from tests.test_features import pan, scene

SETTINGS = MemorySettings()


def circle(angles_deg: list[float], per_scene: int) -> np.ndarray:
    """Unit 2-D vectors at the given angles, ``per_scene`` frames each: cos = cos(angle difference)."""
    rows = [[math.cos(math.radians(a)), math.sin(math.radians(a))] for a in angles_deg for _ in range(per_scene)]
    return np.asarray(rows, np.float32)


# -- select_keyframes ------------------------------------------------------------------------

def test_one_keyframe_per_scene_change():
    emb = circle([0, 60, 120], 4)  # neighbours at cos 0.5
    assert select_keyframes(emb, np.ones(12), 0.5, SETTINGS) == [0, 4, 8]


def test_adaptive_threshold_reduces_to_max_per_shot():
    # Neighbouring scenes at 30 degrees (cos 0.866): at 0.90..0.87 all four scenes are keyframes;
    # at 0.86 scene B is too close to A, C is not (cos 0.5), D is too close to C -> [0, 8].
    emb = circle([0, 30, 60, 90], 4)
    assert select_keyframes(emb, np.ones(16), 0.5, SETTINGS) == [0, 8]
    loose = SETTINGS.model_copy(update={"max_per_shot": 4})
    assert select_keyframes(emb, np.ones(16), 0.5, loose) == [0, 4, 8, 12]
    # Many distinct scenes always end at most max_per_shot.
    many = circle([i * 37.0 for i in range(12)], 3)
    keys = select_keyframes(many, np.ones(36), 0.5, SETTINGS)
    assert 1 <= len(keys) <= 3 and keys[0] == 0 and keys == sorted(keys)


def test_quality_gates_keyframes():
    emb = circle([0, 60, 120], 4)
    q = np.ones(12)
    q[0] = q[4] = q[5] = 0.0  # first frame and the start of scene B are bad
    assert select_keyframes(emb, q, 0.5, SETTINGS) == [1, 6, 8]
    assert select_keyframes(emb, np.zeros(12), 0.5, SETTINGS) == []
    assert select_keyframes(emb[:1], np.ones(1), 0.5, SETTINGS) == [0]
    assert select_keyframes(emb[:1], np.zeros(1), 0.5, SETTINGS) == []


def test_frame_one_can_be_a_keyframe():
    emb = circle([0, 90, 90, 90], 1)  # the reference scan starts at frame 2; we do not
    assert select_keyframes(emb, np.ones(4), 0.5, SETTINGS) == [0, 1]


def test_select_keyframes_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match="same N"):
        select_keyframes(np.ones((4, 2), np.float32), np.ones(3), 0.5, SETTINGS)


def three_scene_shot() -> np.ndarray:
    """30 frames: three places, 10 frames each with a camera pan; (30, 240, 416, 3)."""
    parts = [pan(scene(s, 516, 240), 10, 416, 240, 8) for s in (41, 42, 43)]
    return np.concatenate(parts)


def test_extract_candidates_on_known_scene_changes():
    frames = three_scene_shot()
    frames[10] = np.asarray(Image.fromarray(frames[10]).filter(ImageFilter.GaussianBlur(6)))  # B starts blurred
    frames[11] = 0  # and then black
    cands = extract_candidates(frames, StatsEmbedder(), StatsQualityScorer(), SETTINGS)
    assert cands.indices == [0, 12, 20]
    assert cands.embeddings.shape == (3, StatsEmbedder().dim) and cands.quality.shape == (3,)
    assert (cands.quality >= StatsQualityScorer().threshold).all()
    assert (cands.embedder, cands.scorer) == ("stats-v1", "stats-quality-v1")
    again = extract_candidates(frames, StatsEmbedder(), StatsQualityScorer(), SETTINGS)
    assert again.indices == cands.indices and np.array_equal(again.embeddings, cands.embeddings)


def test_extract_candidates_adapts_on_five_scenes_and_skips_bad_shots():
    parts = [pan(scene(s, 436, 240), 6, 416, 240, 4) for s in (51, 52, 53, 54, 55)]
    frames = np.concatenate(parts)  # (30, 240, 416, 3)
    cands = extract_candidates(frames, StatsEmbedder(), StatsQualityScorer(), SETTINGS)
    assert 1 <= len(cands.indices) <= 3 and cands.indices[0] == 0
    black = np.zeros((5, 48, 64, 3), np.uint8)
    assert extract_candidates(black, StatsEmbedder(), StatsQualityScorer(), SETTINGS).indices == []


# -- select_memory ---------------------------------------------------------------------------

def kf(i: int, **kw) -> Keyframe:
    return Keyframe(id=f"k{i}", source="shot", shot_id=f"01-{i + 1:02d}", frame_index=0,
                    path=f"memory/k{i}.png", sha256="0" * 64, **kw)


def ids(kfs: list[Keyframe]) -> list[str]:
    return [k.id for k in kfs]


def test_sink_and_window():
    hist = [kf(i) for i in range(15)]
    assert ids(select_memory(hist, SETTINGS)) == ["k0", "k1", "k2"] + [f"k{i}" for i in range(8, 15)]
    assert ids(select_memory(hist[:6], SETTINGS)) == [f"k{i}" for i in range(6)]
    assert select_memory([], SETTINGS) == []
    no_sink = SETTINGS.model_copy(update={"sink_size": 0, "max_size": 4})
    assert ids(select_memory(hist, no_sink)) == ["k11", "k12", "k13", "k14"]


def test_dropped_and_pinned():
    hist = [kf(i, dropped=(i == 1), pinned=(i == 5)) for i in range(15)]
    # Sink = first three live (k0, k2, k3); pin k5; window fills the rest with the most recent.
    assert ids(select_memory(hist, SETTINGS)) == ["k0", "k2", "k3", "k5"] + [f"k{i}" for i in range(9, 15)]
    # A pinned keyframe that is dropped does not count.
    hist = [kf(i, dropped=(i == 5), pinned=(i == 5)) for i in range(15)]
    assert "k5" not in ids(select_memory(hist, SETTINGS))


def test_pins_win_over_sink_and_window_and_most_recent_pins_are_kept():
    small = SETTINGS.model_copy(update={"max_size": 3, "sink_size": 2})
    hist = [kf(i, pinned=i in (1, 4, 7, 9)) for i in range(12)]
    assert ids(select_memory(hist, small)) == ["k4", "k7", "k9"]
    hist = [kf(i, pinned=(i == 9)) for i in range(12)]
    assert ids(select_memory(hist, small)) == ["k0", "k1", "k9"]


# -- MemoryBank ------------------------------------------------------------------------------

EMB, SCORER = StatsEmbedder(), StatsQualityScorer()


def unit_near(v: np.ndarray, cos: float, seed: int) -> np.ndarray:
    """A unit vector at cosine ``cos`` to unit ``v``."""
    r = np.random.default_rng(seed).standard_normal(v.shape).astype(np.float64)
    r -= (r @ v) * v
    r /= np.linalg.norm(r)
    return (cos * v + math.sqrt(1 - cos * cos) * r).astype(np.float32)


@pytest.fixture
def bank(tmp_path) -> MemoryBank:
    save_png(scene(61, 64, 48), tmp_path / "mia.png")
    b = MemoryBank.create(tmp_path / "run", SETTINGS, EMB.name, SCORER.name)
    b.add_reference("Mia", tmp_path / "mia.png", EMB, SCORER)
    return b


def cands(vectors: list[np.ndarray], indices: list[int]) -> KeyframeCandidates:
    return KeyframeCandidates(indices, np.stack(vectors), np.full(len(vectors), 7.0, np.float32), EMB.name, SCORER.name)


def test_reference_is_copied_into_memory(bank, tmp_path):
    ref = bank.keyframes[0]
    assert (ref.id, ref.source, ref.characters, ref.path) == ("ref-mia-0", "reference", ["Mia"], "memory/ref-mia-0.png")
    assert np.array_equal(load_image(bank.run_dir / ref.path), load_image(tmp_path / "mia.png"))
    assert ref.sha256 == sha256_file(bank.run_dir / ref.path)
    assert len(ref.embedding) == EMB.dim and ref.quality is not None
    # Same image again: the same keyframe; another image: ref-mia-1, still before shot keyframes.
    assert bank.add_reference("Mia", tmp_path / "mia.png", EMB, SCORER) == ref
    frames = np.stack([scene(70 + i, 64, 48) for i in range(3)])
    bank.admit("01-01", frames, cands([unit_near(np.asarray(ref.embedding), 0.2, 1)], [0]), ["Mia"])
    save_png(scene(62, 64, 48), tmp_path / "mia2.png")
    second = bank.add_reference("Mia", tmp_path / "mia2.png", EMB, SCORER)
    assert second.id == "ref-mia-1" and ids(bank.keyframes) == ["ref-mia-0", "ref-mia-1", "01-01-k1"]


def test_admit_dedupes_at_threshold(bank):
    ref = np.asarray(bank.keyframes[0].embedding, np.float32)
    frames = np.stack([scene(80 + i, 64, 48) for i in range(6)])
    a = unit_near(ref, 0.3, 2)
    dup_of_ref = unit_near(ref, 0.95, 3)  # > 0.9: skipped
    b = unit_near(a, 0.85, 4)  # < 0.9 to a (and far from ref): kept
    dup_of_a = unit_near(a, 0.93, 5)  # admitted just before it: skipped
    added = bank.admit("01-01", frames, cands([a, dup_of_ref, b, dup_of_a], [0, 2, 3, 5]), ["Mia", "Tom"])
    assert ids(added) == ["01-01-k1", "01-01-k2"]
    assert [k.frame_index for k in added] == [0, 3]
    for k, i in zip(added, (0, 3)):
        assert k.path == f"memory/{k.id}.png" and k.characters == ["Mia", "Tom"] and k.source == "shot"
        assert np.array_equal(load_image(bank.run_dir / k.path), frames[i])
        assert k.sha256 == sha256_file(bank.run_dir / k.path)
    # Against the bank after it: a later shot's near-copy of 01-01-k2 is skipped, a new view is kept.
    later = bank.admit("01-02", frames, cands([unit_near(b, 0.91, 6), unit_near(b, 0.5, 7)], [1, 4]), ["Mia"])
    assert ids(later) == ["01-02-k1"] and later[0].frame_index == 4
    # A dropped keyframe no longer blocks its duplicates.
    bank.drop("01-01-k2")
    again = bank.admit("01-03", frames, cands([unit_near(b, 0.91, 8)], [2]), [])
    assert ids(again) == ["01-03-k1"]


def test_save_load_exact_roundtrip(bank):
    frames = np.stack([scene(90 + i, 64, 48) for i in range(3)])
    ref = np.asarray(bank.keyframes[0].embedding, np.float32)
    bank.admit("01-01", frames, cands([unit_near(ref, 0.1, 9), unit_near(ref, -0.2, 10)], [0, 2]), ["Mia"])
    bank.pin("01-01-k2")
    loaded = MemoryBank.load(bank.run_dir)
    assert loaded.state == bank.state
    assert loaded.state.model_dump_json() == bank.state.model_dump_json()
    # The stored vectors still dedupe after reload.
    vec = np.asarray(loaded.get("01-01-k1").embedding, np.float32)
    assert loaded.admit("01-02", frames, cands([vec], [1]), []) == []


def test_corrupt_missing_or_invalid_bank_is_a_clear_error(bank, tmp_path):
    path = bank.run_dir / "memory" / "bank.json"
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(ValueError, match=r"memory bank .*bank\.json is corrupt"):
        MemoryBank.load(bank.run_dir)
    data = json.loads(text)
    data["keyframes"][0]["path"] = "../../etc/passwd"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"bank\.json is invalid: keyframe ref-mia-0: path .* leaves the run"):
        MemoryBank.load(bank.run_dir)
    data["keyframes"][0]["sha256"] = "nothex"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"bank\.json is invalid at keyframes\.0\.sha256"):
        MemoryBank.load(bank.run_dir)
    with pytest.raises(ValueError, match=r"bank\.json is missing"):
        MemoryBank.load(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="already exists"):
        MemoryBank.create(bank.run_dir, SETTINGS, EMB.name, SCORER.name)


def test_remove_shot_and_readmit(bank):
    frames = np.stack([scene(100 + i, 64, 48) for i in range(3)])
    ref = np.asarray(bank.keyframes[0].embedding, np.float32)
    added = bank.admit("01-01", frames, cands([unit_near(ref, 0.1, 11), unit_near(ref, 0.0, 12)], [0, 1]), [])
    removed = bank.remove_shot("01-01")
    assert ids(removed) == ids(added) and ids(bank.keyframes) == ["ref-mia-0"]
    assert not any((bank.run_dir / k.path).exists() for k in added)
    assert MemoryBank.load(bank.run_dir).state == bank.state
    # Admitting a shot twice replaces its keyframes instead of deduplicating against itself.
    v = unit_near(ref, 0.1, 13)
    bank.admit("01-01", frames, cands([v], [2]), [])
    assert ids(bank.admit("01-01", frames, cands([v], [2]), [])) == ["01-01-k1"]
    assert ids(bank.keyframes) == ["ref-mia-0", "01-01-k1"]


def test_history_in_film_order_and_for_shot(bank):
    frames = np.stack([scene(110 + i, 64, 48) for i in range(2)])
    ref = np.asarray(bank.keyframes[0].embedding, np.float32)
    vecs = [unit_near(ref, 0.0, 20 + i) for i in range(4)]
    for sid, v in zip(("01-01", "01-02", "02-01"), vecs):
        bank.admit(sid, frames, cands([v], [0]), [])
    bank.admit("01-01", frames, cands([vecs[3]], [1]), [])  # 01-01 re-rendered last
    assert ids(bank.history_before(["01-01", "01-02"])) == ["ref-mia-0", "01-01-k1", "01-02-k1"]
    assert ids(bank.history_before(["01-01", "01-02", "02-01"])) == ["ref-mia-0", "01-01-k1", "01-02-k1", "02-01-k1"]
    assert ids(bank.history_before([])) == ["ref-mia-0"]
    small = SETTINGS.model_copy(update={"max_size": 2, "sink_size": 1})
    bank.state.settings = small
    assert ids(bank.for_shot(["01-01", "01-02", "02-01"])) == ["ref-mia-0", "02-01-k1"]


def test_pin_unpin_drop_restore_and_unknown_ids(bank):
    assert bank.pin("ref-mia-0").pinned and MemoryBank.load(bank.run_dir).get("ref-mia-0").pinned
    assert not bank.unpin("ref-mia-0").pinned
    assert bank.drop("ref-mia-0").dropped and bank.for_shot([]) == []
    assert not bank.restore("ref-mia-0").dropped
    for op in (bank.pin, bank.unpin, bank.drop, bank.get):
        with pytest.raises(KeyError, match="no keyframe 'nope' in the memory bank"):
            op("nope")


def test_as_memory_images(bank):
    frames = np.stack([scene(120 + i, 64, 48) for i in range(2)])
    ref = np.asarray(bank.keyframes[0].embedding, np.float32)
    bank.admit("01-01", frames, cands([unit_near(ref, 0.0, 30)], [1]), ["Mia", "Tom"])
    imgs = bank.as_memory_images(bank.for_shot(["01-01"]))
    assert [m.id for m in imgs] == ["ref-mia-0", "01-01-k1"]
    assert imgs[1].characters == ["Mia", "Tom"] and imgs[0].characters == ["Mia"]
    for m, k in zip(imgs, bank.keyframes):
        assert m.path == str((bank.run_dir / k.path).resolve()) and m.sha256 == sha256_file(m.path)
    save_png(np.zeros((48, 64, 3), np.uint8), bank.run_dir / "memory" / "01-01-k1.png")
    with pytest.raises(ValueError, match="changed since keyframe 01-01-k1 was stored"):
        bank.as_memory_images(bank.keyframes)


def test_backend_mismatch_is_refused(bank):
    frames = np.zeros((1, 48, 64, 3), np.uint8)
    other = KeyframeCandidates([0], np.ones((1, 4), np.float32), np.ones(1, np.float32), "clip-vit-b-32", SCORER.name)
    with pytest.raises(ValueError, match="vectors of different embedders never mix"):
        bank.admit("01-01", frames, other, [])
    with pytest.raises(ValueError, match="malformed shot id"):
        bank.admit("shot1", frames, cands([np.ones(EMB.dim, np.float32)], [0]), [])


def test_later_film_versions_keep_earlier_keyframe_files(bank):
    frames = np.stack([scene(130 + i, 64, 48) for i in range(2)])
    ref = np.asarray(bank.keyframes[0].embedding, np.float32)
    v1 = bank.admit_images("01-01", frames[:1], [0], unit_near(ref, 0.0, 40)[None], np.ones(1), ["Mia"])
    assert ids(v1) == ["01-01-k1"]
    # A revision (version 2) re-renders the shot: new ids, and version 1's file stays on disk.
    v2 = bank.admit_images("01-01", frames[1:], [1], unit_near(ref, 0.0, 41)[None], np.ones(1), ["Mia"], version=2)
    assert ids(v2) == ["01-01-v2-k1"] and ids(bank.keyframes) == ["ref-mia-0", "01-01-v2-k1"]
    assert (bank.run_dir / "memory" / "01-01-k1.png").exists()
    # Re-taking version 2 replaces its own file; keep_files leaves files for the caller to manage.
    bank.admit_images("01-01", frames[:1], [0], unit_near(ref, 0.0, 42)[None], np.ones(1), ["Mia"], version=2)
    assert np.array_equal(load_image(bank.run_dir / "memory" / "01-01-v2-k1.png"), frames[0])
    gone = bank.remove_shot("01-01", keep_files=True)
    assert ids(gone) == ["01-01-v2-k1"] and (bank.run_dir / gone[0].path).exists()
