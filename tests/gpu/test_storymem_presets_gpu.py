"""Every preset renders a short shot on CUDA with the tiny models, and the CPU's FP8 path (torch._scaled_mm)
computes what torchao computes. Run on the GPU machine: ``python -m pytest -m gpu tests/gpu``.

The tiny transformer here has 16-wide heads (32-wide layers): FP8 matrix products need sizes that are
multiples of 16."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch

pytestmark = pytest.mark.gpu

H, W, F = 48, 64, 9


def gpu_tiny_models(root: Path, step_loras: str = "lightx2v") -> Path:
    """Tiny models with 16-wide heads (FP8-friendly sizes), both LoRAs."""
    from engine.storymem import testing

    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(testing.TINY_TRANSFORMER, "attention_head_dim", 16)
        return testing.build_tiny_models(root, "diffusers", ("mi2v",), step_loras=step_loras)


def shot_request(folder: Path, mode: str = "mi2v", seed: int = 3):
    from schemas.render import MemoryImage, RenderRequest

    paths = []
    for i in range(3):
        path = folder / f"{i}.png"
        if not path.exists():
            PIL.Image.fromarray(np.random.default_rng(i).integers(0, 256, (H, W, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    memory = [MemoryImage(id=f"k{i}", path=p, sha256=hashlib.sha256(Path(p).read_bytes()).hexdigest()) for i, p in enumerate(paths[:2])]
    extra = {} if mode == "t2v" else {"memory": memory}
    if mode == "mi2v":
        extra["first_frame"] = paths[2]
    return RenderRequest(shot_id="01-02", prompt="a girl walks", mode=mode, seed=seed, width=W, height=H, num_frames=F, **extra)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    return gpu_tiny_models(tmp_path_factory.mktemp("gpu-preset-models"))


@pytest.mark.parametrize("preset", ["exact", "fast", "turbo"])
def test_each_preset_renders_a_short_shot_on_cuda(models, tmp_path, preset):
    from engine.storymem.engine import StoryMemEngine

    engine = StoryMemEngine(models, preset=preset, steps=None if preset == "turbo" else 2, compile=False)
    assert engine.device.type == "cuda" and engine.dtype == torch.bfloat16
    settings = engine.settings()
    assert settings["attention_backend"] == ("_native_cudnn" if preset == "exact" else "fp8 (self), _native_cudnn (cross)")
    assert settings["fp8_kernel"] == (None if preset == "exact" else "scaled_mm")
    for mode in ("t2v", "mi2v"):
        frames = engine.render_shot(shot_request(tmp_path, mode))
        assert frames.shape == (F, H, W, 3) and frames.std() > 0
    assert engine.last_timings["denoise"] > 0


def test_compiled_turbo_renders(models, tmp_path):
    """The preset as a user gets it: compiled blocks (fullgraph, with the FP8 linears and attention)."""
    from engine.storymem.engine import StoryMemEngine

    engine = StoryMemEngine(models, preset="turbo")
    assert engine.expanded.compile
    assert engine.render_shot(shot_request(tmp_path)).shape == (F, H, W, 3)


def test_cpu_fp8_path_matches_torchao_within_fp8_error():
    """The same row-wise scheme; torchao also accumulates the FP8 product in Hopper's fast (reduced-precision)
    mode, so the two differ by about as much as each differs from bf16 (seen: 1.6 %), not bit for bit."""
    from torchao.quantization import Float8DynamicActivationFloat8WeightConfig, PerRow, quantize_

    from engine.storymem.fp8 import Float8RowwiseLinear

    torch.manual_seed(0)
    linear = torch.nn.Linear(256, 512).cuda().to(torch.bfloat16)
    x = torch.randn(4, 100, 256, device="cuda", dtype=torch.bfloat16)
    with torch.no_grad():
        reference = linear(x).float()
        ours = Float8RowwiseLinear(linear)(x).float()
        quantize_(linear, Float8DynamicActivationFloat8WeightConfig(granularity=PerRow()))
        theirs = linear(x).float()
    rel = lambda a, b: float((a - b).norm() / b.norm())  # noqa: E731
    assert 1e-3 < rel(theirs, reference) < 0.08 and 1e-3 < rel(ours, reference) < 0.08, (rel(theirs, reference), rel(ours, reference))
    assert rel(ours, theirs) < 1.5 * max(rel(theirs, reference), rel(ours, reference)), rel(ours, theirs)
