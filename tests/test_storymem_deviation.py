"""Deviation of each lossy preset from ``exact`` on the same inputs (tiny models, CPU): relative L2 of one
forward's output and of the final latents of a short run. The GPU benchmark reports the same at full size."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch

from engine.storymem.deviation import forward_deviation, forward_inputs, preset_deviation, relative_l2
from engine.storymem.engine import StoryMemEngine
from engine.storymem.testing import build_tiny_models, tiny_transformer
from schemas.render import MemoryImage, RenderRequest

H, W, F = 48, 64, 9


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("deviation")
    models = build_tiny_models(root / "m", "diffusers", ("mi2v",), with_t2v=False, step_loras="lightx2v")
    paths = []
    for i in range(3):
        path = root / f"{i}.png"
        PIL.Image.fromarray(np.random.default_rng(40 + i).integers(0, 256, (H, W, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    memory = [MemoryImage(id=f"k{i}", path=p, sha256=hashlib.sha256(Path(p).read_bytes()).hexdigest()) for i, p in enumerate(paths[:2])]
    request = RenderRequest(shot_id="01-02", prompt="a girl walks", mode="mi2v", seed=5, width=W, height=H,
                            num_frames=F, memory=memory, first_frame=paths[2])  # fmt: skip
    engines = {name: StoryMemEngine(models, preset=name, steps=4 if name != "turbo" else None, need_t2v=False)
               for name in ("exact", "fast", "turbo")}  # fmt: skip
    return engines, request


def test_relative_l2():
    a = torch.tensor([3.0, 4.0])
    assert relative_l2(a, a) == 0.0
    assert relative_l2(torch.tensor([3.0, 4.5]), a) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="shapes differ"):
        relative_l2(a, torch.zeros(3))


def test_exact_against_itself_is_zero(setup):
    engines, request = setup
    report = preset_deviation(engines["exact"], engines["exact"], request)
    assert report["forward_rel_l2"] == 0.0 and report["latents_rel_l2"] == 0.0


def test_fast_deviates_by_its_fp8_rounding_only(setup):
    """FP8 (e4m3, 3 mantissa bits) in the linear layers (row-wise scales) and in self-attention (per-tensor scales,
    emulated on the CPU): a few percent per forward, small after 4 steps."""
    engines, request = setup
    report = preset_deviation(engines["exact"], engines["fast"], request)
    assert engines["fast"].settings()["attention_backend"] == "fp8" and engines["exact"].settings()["attention_backend"] == "default"
    assert 1e-3 < report["forward_rel_l2"] < 0.1, report
    assert 1e-4 < report["latents_rel_l2"] < 0.2, report
    assert report["steps"] == {"exact": 4, "lossy": 4}


def test_turbo_deviates_by_design(setup):
    """A different sampler (4 Euler steps, no CFG) and a step-distill LoRA: with random weights the distance says
    how far the output moves, not whether it looks right."""
    engines, request = setup
    report = preset_deviation(engines["exact"], engines["turbo"], request)
    assert report["forward_rel_l2"] > report_floor(engines) and report["latents_rel_l2"] > 0.01, report
    assert np.isfinite(report["forward_rel_l2"]) and np.isfinite(report["latents_rel_l2"])


def report_floor(engines) -> float:
    """The step LoRA changes the weights: one forward of turbo is further from exact than fast's."""
    a = engines["exact"]._pipeline("m2v").transformer
    inputs = forward_inputs(a, 5, H // 8, W // 8)
    return forward_deviation(a, engines["fast"]._pipeline("m2v").transformer, inputs)


def test_forward_inputs_shapes():
    model = tiny_transformer()
    inputs = forward_inputs(model, 3, 6, 8)
    assert inputs["hidden_states"].shape == (1, 36, 3, 6, 8) and inputs["encoder_hidden_states"].shape == (1, 512, 32)
