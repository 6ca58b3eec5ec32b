"""StoryMem engine on a CUDA GPU with the tiny models: every memory mode renders the frames of ``none``,
the swapped-in RoPE and the no-memory pipeline still equal stock diffusers on the GPU. Run on the GPU
machine: ``python -m pytest -m gpu tests/gpu/test_storymem_gpu.py``."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch

pytestmark = pytest.mark.gpu

H, W, F = 48, 64, 9


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    from engine.storymem.testing import build_tiny_models

    return build_tiny_models(tmp_path_factory.mktemp("gpu-models"), "diffusers", ("mi2v",))


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> list[str]:
    folder = tmp_path_factory.mktemp("gpu-images")
    paths = []
    for i in range(3):
        path = folder / f"{i}.png"
        PIL.Image.fromarray(np.random.default_rng(i).integers(0, 256, (H, W, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    return paths


def _request(mode, images, seed=3):
    from schemas.render import MemoryImage, RenderRequest

    memory = [MemoryImage(id=f"k{i}", path=p, sha256=hashlib.sha256(Path(p).read_bytes()).hexdigest()) for i, p in enumerate(images[:2])]
    extra = {} if mode == "t2v" else {"memory": memory}
    if mode == "mi2v":
        extra["first_frame"] = images[2]
    return RenderRequest(shot_id="01-02", prompt="a girl walks", mode=mode, seed=seed, width=W, height=H, num_frames=F, **extra)


@pytest.fixture(scope="module")
def reference_frames(models, images):
    from engine.storymem.engine import StoryMemEngine

    engine = StoryMemEngine(models, variant="mi2v", steps=2, device="cuda", dtype=torch.float32, keep_both_experts=True, compile=False)
    frames = {mode: engine.render_shot(_request(mode, images)) for mode in ("t2v", "mi2v")}
    assert np.array_equal(engine.render_shot(_request("mi2v", images)), frames["mi2v"])
    return frames


@pytest.mark.parametrize("offload, keep_both", [("none", False), ("model", None), ("group", None)])
def test_memory_modes_render_the_same_frames(models, images, reference_frames, offload, keep_both):
    from engine.storymem.engine import StoryMemEngine

    engine = StoryMemEngine(models, variant="mi2v", steps=2, device="cuda", dtype=torch.float32, offload=offload, keep_both_experts=keep_both, compile=False)
    for mode in ("t2v", "mi2v"):
        frames = engine.render_shot(_request(mode, images))
        assert frames.shape == (F, H, W, 3)
        assert np.abs(frames.astype(int) - reference_frames[mode].astype(int)).mean() < 0.5, (offload, mode)


def test_bf16_engine_renders(models, images):
    from engine.storymem.engine import StoryMemEngine

    engine = StoryMemEngine(models, variant="mi2v", steps=2, compile=False)
    assert engine.device.type == "cuda" and engine.dtype == torch.bfloat16
    frames = engine.render_shot(_request("mi2v", images))
    assert frames.shape == (F, H, W, 3) and frames.std() > 0


def test_released_rope_equals_stock_on_gpu():
    from engine.storymem.rope import install_positional_rope, memory_frame_positions
    from engine.storymem.testing import tiny_transformer

    stock = tiny_transformer().cuda()
    ours = copy.deepcopy(stock)
    install_positional_rope(ours)
    ours.rope.set_frame_positions(memory_frame_positions(3, 3, "released"))
    g = torch.Generator("cuda").manual_seed(0)
    x = torch.randn(1, 36, 6, 6, 8, generator=g, device="cuda")
    text = torch.randn(1, 512, 32, generator=g, device="cuda")
    t = torch.tensor([500], device="cuda")
    with torch.no_grad():
        a = stock(x, t, text, return_dict=False)[0]
        b = ours(x, t, text, return_dict=False)[0]
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
