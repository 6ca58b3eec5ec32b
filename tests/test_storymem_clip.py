"""Keyframe features on real model code: open_clip ViT-B-32 from a local checkpoint (random weights here),
one batched forward per shot; CLIP-IQA; HPSv3 behind its import check."""

from __future__ import annotations

import sys
import types

import numpy as np
import open_clip
import pytest
import torch

from engine.base import EngineError, FrameEmbedder, QualityScorer
from engine.clip_features import ClipEmbedder, ClipIQAScorer, HPSv3Scorer, reference_resize, smart_resize


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32", pretrained=None)
    path = tmp_path_factory.mktemp("clip") / "vit-b-32.bin"
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def embedder(checkpoint):
    return ClipEmbedder(checkpoint)


def _frames(n=9, seed=0, h=48, w=80):
    return np.random.default_rng(seed).integers(0, 256, size=(n, h, w, 3), dtype=np.uint8)


def test_smart_resize_as_the_reference():
    assert smart_resize(480, 832) == (336, 588)
    assert smart_resize(48, 80) == (168, 252)  # small frames are scaled up to the minimum area


def test_loads_the_checkpoint_and_names_it(embedder, checkpoint):
    assert isinstance(embedder, FrameEmbedder)
    assert embedder.name == "open_clip:ViT-B-32:vit-b-32.bin"
    saved = torch.load(checkpoint)
    assert all(torch.equal(embedder.model.state_dict()[k], v) for k, v in saved.items())


def test_one_batched_forward_per_shot_of_the_reference_preprocessing(embedder):
    frames = _frames(3, seed=4)
    calls = []
    handle = embedder.model.visual.register_forward_pre_hook(lambda mod, args: calls.append(args[0].shape[0]))
    try:
        vectors = embedder.embed(frames)
    finally:
        handle.remove()
    assert calls == [3]
    assert vectors.shape == (3, 512) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    # what CLIP saw: the reference's resize, then a bilinear squash to 224 and CLIP's normalisation
    x = reference_resize(frames)
    x = torch.nn.functional.interpolate(x, size=(224, 224), mode="bilinear", align_corners=False)
    mean = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
    std = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)
    torch.testing.assert_close(embedder.preprocess(frames), (x - mean) / std)


def test_clip_iqa_reuses_the_shot_forward(embedder):
    scorer = ClipIQAScorer(embedder)
    assert isinstance(scorer, QualityScorer) and scorer.threshold == 0.5 and scorer.name.startswith("clip-iqa:")
    frames = _frames(3, seed=7)
    embedder.embed(frames)
    calls = []
    handle = embedder.model.visual.register_forward_pre_hook(lambda mod, args: calls.append(1))
    try:
        scores = scorer.score(frames)
    finally:
        handle.remove()
    assert calls == []
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))
    logits = embedder.logit_scale * embedder.embed(frames) @ scorer._text.T
    expected = np.exp(logits[:, 0]) / np.exp(logits).sum(axis=1)
    np.testing.assert_allclose(scores, expected, rtol=1e-4)


def test_open_clip_folder_layout(tmp_path, checkpoint):
    folder = tmp_path / "vit_base_patch32_clip_224.openai"
    folder.mkdir()
    (folder / "open_clip_pytorch_model.bin").symlink_to(checkpoint)
    (folder / "open_clip_config.json").write_text('{"model_cfg": {"quick_gelu": true}}')
    file, config = ClipEmbedder._resolve(folder)
    assert file == folder / "open_clip_pytorch_model.bin" and config["model_cfg"]["quick_gelu"] is True


def test_missing_checkpoint_says_how_to_get_one(tmp_path):
    with pytest.raises(EngineError, match="huggingface-cli download timm/vit_base_patch32_clip_224.openai"):
        ClipEmbedder(tmp_path / "nothing.bin")
    bad = tmp_path / "bad.bin"
    torch.save({"foo": torch.zeros(1)}, bad)
    with pytest.raises(EngineError, match="not an open_clip ViT-B-32 checkpoint"):
        ClipEmbedder(bad)


def test_hpsv3_without_the_package_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "hpsv3", None)
    with pytest.raises(EngineError, match="HPSv3 is not installed"):
        HPSv3Scorer(tmp_path / "HPSv3.safetensors", tmp_path / "Qwen2-VL-7B-Instruct")


def _fake_hpsv3(tmp_path, calls):
    """A stand-in ``hpsv3`` package (the real one needs a 7B model) to check our wiring around it."""
    package = tmp_path / "hpsv3"
    (package / "config").mkdir(parents=True)
    (package / "config" / "HPSv3_7B.yaml").write_text("model_name_or_path: Qwen/Qwen2-VL-7B-Instruct\nrm_head_type: ranknet\n")
    module = types.ModuleType("hpsv3")
    module.__file__ = str(package / "__init__.py")

    class Inferencer:
        def __init__(self, config_path, checkpoint_path, device):
            import os

            calls.append(("init", open(config_path).read(), checkpoint_path, device, os.environ.get("HF_HUB_OFFLINE")))

        def reward(self, image_paths, prompts):
            calls.append(("reward", len(image_paths), prompts, image_paths[0].size))
            return [torch.tensor([float(np.asarray(im).mean()) / 25.5, 1.0]) for im in image_paths]

    module.HPSv3RewardInferencer = Inferencer
    return module


def test_hpsv3_wiring(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setitem(sys.modules, "hpsv3", _fake_hpsv3(tmp_path, calls))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    weights = tmp_path / "HPSv3.safetensors"
    weights.write_bytes(b"x" * 300)
    base = tmp_path / "Qwen2-VL-7B-Instruct"
    with pytest.raises(EngineError, match="HPSv3 weights missing"):
        HPSv3Scorer(weights, base)
    base.mkdir()
    (base / "config.json").write_text("{}")
    scorer = HPSv3Scorer(weights, base, device="cpu", batch_size=4)
    assert isinstance(scorer, QualityScorer) and scorer.threshold == 3.0
    _, config, checkpoint, device, offline = calls[0]
    assert f"model_name_or_path: {base}" in config and checkpoint == str(weights) and offline == "1"
    frames = _frames(6, seed=1)
    scores = scorer.score(frames)
    assert [c[1] for c in calls[1:]] == [4, 2] and calls[1][2] == [""] * 4
    assert calls[1][3] == (252, 168)  # frames resized as the reference does before HPSv3
    assert scores.shape == (6,) and scores.dtype == np.float32
    assert "HF_HUB_OFFLINE" not in __import__("os").environ
