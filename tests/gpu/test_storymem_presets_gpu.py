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
    for mode in ("t2v", "mi2v"):
        frames = engine.render_shot(shot_request(tmp_path, mode))
        assert frames.shape == (F, H, W, 3) and frames.std() > 0
    settings = engine.settings()  # after the experts are loaded: what ran
    if preset == "exact":  # FlashAttention-4, or torch's cuDNN SDPA with a note where flash-attn-4 cannot run
        passed_over = [n for n in settings["notes"] if "fa4 attention passed over" in n]
        assert settings["attention_backend"] == ("_native_cudnn" if passed_over else "fa4"), settings["notes"]
    else:  # FP8 attention, or cuDNN's refusal of these tiny heads said in the notes
        refused = [n for n in settings["notes"] if "fp8 attention passed over" in n]
        assert settings["attention_backend"] == ("_native_cudnn" if refused else "fp8 (self), _native_cudnn (cross)"), settings["notes"]
    assert settings["fp8_kernel"] == (None if preset == "exact" else "scaled_mm")
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


def test_cudnn_fp8_attention_matches_its_emulation_and_stays_near_bf16():
    """The cuDNN FP8 kernel at Wan's head size (40 heads of 128) against the float32 emulation of the same roundings
    and against exact bf16 attention (random inputs: a diffuse softmax, the hardest case for FP8 scores)."""
    from engine.storymem import attention as fa

    g = torch.Generator("cuda").manual_seed(0)
    q, k, v = (torch.randn(1, 2048, 40, 128, generator=g, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    assert fa.try_kernel("fp8", 40, 128, torch.bfloat16, "cuda") is None
    out = fa.fp8_attention(q, k, v).float()
    exact = torch.nn.functional.scaled_dot_product_attention(*(x.transpose(1, 2) for x in (q, k, v))).transpose(1, 2).float()
    q8, s_q = fa.quantize(q)
    k8, s_k = fa.quantize(fa.smooth_k(k))
    v8, s_v = fa.quantize(v)
    emulated = fa.emulate_sdpa_fp8(q8.cpu(), k8.cpu(), v8.cpu(), s_q.cpu(), s_k.cpu(), s_v.cpu(), 128**-0.5).float() * s_v.cpu()
    rel = lambda a, b: float((a - b).norm() / b.norm())  # noqa: E731
    assert rel(out.cpu(), emulated) < 0.06  # the same scheme; cuDNN's own rounding order differs
    assert 1e-3 < rel(out, exact) < 0.1  # lossy, and bounded
    bf16 = fa.bf16_attention(q, k, v).float()
    assert rel(bf16, exact) < 2e-3  # the engine's cudnn kernel is exact attention


def test_flashattention4_is_exact_attention_and_compiles_in_the_processor():
    """FlashAttention-4 (``flash-attn-4``) at Wan's head size, as exact as cuDNN's bf16 kernel, also inside a
    compiled tiny Wan model through the engine's processor (self- and cross-attention)."""
    from engine.storymem import attention as fa
    from engine.storymem import testing
    from engine.storymem.deviation import forward_inputs

    why = fa.try_kernel("fa4", 40, 128, torch.bfloat16, "cuda")
    if why:
        pytest.skip(why)
    g = torch.Generator("cuda").manual_seed(0)
    q, k, v = (torch.randn(1, 2048, 40, 128, generator=g, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    kv = [torch.randn(1, 512, 40, 128, generator=g, device="cuda", dtype=torch.bfloat16) for _ in range(2)]
    rel = lambda a, b: float((a.float() - b.float()).norm() / b.float().norm())  # noqa: E731
    for keys, values in ((k, v), tuple(kv)):
        exact = torch.nn.functional.scaled_dot_product_attention(*(x.transpose(1, 2).float() for x in (q, keys, values))).transpose(1, 2)
        assert rel(fa.fa4_attention(q, keys, values), exact) < 5e-3
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(testing.TINY_TRANSFORMER, "attention_head_dim", 16)
        model = testing.tiny_transformer().to("cuda", torch.bfloat16)
    inputs = forward_inputs(model, 3, 6, 8, seed=0, text_len=16)  # on the model's device, in its dtype
    with torch.no_grad():
        reference = model(**inputs, return_dict=False)[0]
        fa.install_attention(model, "fa4", "fa4")
        compiled = torch.compile(model, fullgraph=True)(**inputs, return_dict=False)[0]
    assert rel(compiled, reference) < 2e-2  # bf16 end to end: only the kernels' rounding differs


@pytest.mark.parametrize("tokens", [2048, 2000])
def test_sage_fp8_attention_stays_near_exact_for_any_token_count_and_compiles_in_the_processor(tokens):
    """cudnn-frontend's Sage FP8 kernel (Hopper) through the engine's wrapper: whole tiles (2048 tokens) and a key tail
    merged in exactly (2000 = 31 x 64 + 16), K with a channel bias (what smoothing is for), near float32 attention
    and nearer than the per-tensor ``fp8`` kernel; its log-sum-exp convention is what the merge assumes (else the
    2000-token case would be far off). Then inside a compiled tiny Wan with 128-wide heads."""
    from engine.storymem import attention as fa
    from engine.storymem import testing
    from engine.storymem.deviation import forward_inputs

    why = fa.try_kernel("sage", 40, 128, torch.bfloat16, "cuda")
    if why:
        pytest.skip(why)
    g = torch.Generator("cuda").manual_seed(0)
    q, k, v = (torch.randn(1, tokens, 8, 128, generator=g, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    k = k + 3.0 * torch.randn(1, 1, 8, 128, generator=g, device="cuda", dtype=torch.bfloat16)
    rel = lambda a, b: float((a.float() - b.float()).norm() / b.float().norm())  # noqa: E731
    exact = torch.nn.functional.scaled_dot_product_attention(*(x.transpose(1, 2).float() for x in (q, k, v))).transpose(1, 2)
    sage = fa.sage_attention(q, k, v)
    assert sage.shape == q.shape and sage.dtype == torch.bfloat16
    assert 1e-4 < rel(sage, exact) < 0.08, rel(sage, exact)  # measured 0.053 for both counts: the tail merge adds nothing
    assert rel(sage, exact) < rel(fa.fp8_attention(q, k, v), exact)
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(testing.TINY_TRANSFORMER, "attention_head_dim", 128)
        model = testing.tiny_transformer().to("cuda", torch.bfloat16)
    inputs = forward_inputs(model, 3, 16, 18, seed=0, text_len=16)  # 3 latent frames x 8 x 9 patches = 216 tokens (a tail of 24)
    with torch.no_grad():
        reference = model(**inputs, return_dict=False)[0]
        fa.install_attention(model, "sage", None)
        compiled = torch.compile(model, fullgraph=True)(**inputs, return_dict=False)[0]
    assert 1e-4 < rel(compiled, reference) < 0.08
