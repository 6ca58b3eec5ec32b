"""StoryMemEngine on tiny model folders (CPU): RenderRequest -> frames for every mode, determinism,
both layouts, variant checks."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch

from engine.base import Engine, EngineError
from engine.storymem.engine import StoryMemEngine
from engine.storymem.testing import build_tiny_models
from schemas.render import MemoryImage, RenderRequest

H, W, F = 48, 64, 9


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("engine-models")
    return {
        "diffusers": build_tiny_models(root / "d", "diffusers", ("mi2v", "mm2v")),
        "original": build_tiny_models(root / "o", "original", ("mi2v",)),
    }


@pytest.fixture(scope="module")
def engine(models) -> StoryMemEngine:
    return StoryMemEngine(models["diffusers"], variant="mi2v", steps=2)


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> list[str]:
    folder = tmp_path_factory.mktemp("images")
    paths = []
    for i in range(6):
        pixels = np.random.default_rng(i).integers(0, 256, size=(H, W, 3), dtype=np.uint8)
        path = folder / f"frame{i}.png"
        PIL.Image.fromarray(pixels).save(path)
        paths.append(str(path))
    return paths


def _memory(paths: list[str]) -> list[MemoryImage]:
    return [
        MemoryImage(id=f"k{i}", path=p, sha256=hashlib.sha256(Path(p).read_bytes()).hexdigest())
        for i, p in enumerate(paths)
    ]


def _request(mode: str, images: list[str], seed: int = 3, **kwargs) -> RenderRequest:
    fields = dict(shot_id="01-02", prompt="a girl in a red coat walks", mode=mode, seed=seed, width=W, height=H, num_frames=F)
    if mode != "t2v":
        fields["memory"] = _memory(images[:2])
    if mode == "mi2v":
        fields["first_frame"] = images[2]
    if mode == "mm2v":
        fields["motion_frames"] = images[1:6]
    return RenderRequest(**(fields | kwargs))


def test_engine_implements_the_protocol(engine):
    assert isinstance(engine, Engine) and engine.name == "storymem"
    line = engine.describe()
    assert "\n" not in line and "MI2V" in line and "memory positions paper" in line and "preset exact" in line
    settings = engine.settings()
    assert settings["variant"] == "mi2v" and settings["preset"]["m2v"]["shift"] == 4.0
    assert settings["preset"]["t2v"]["boundary_ratio"] == 0.875 and settings["preset"]["overrides"] == ["steps=2"]
    assert settings["memory_positions"] == "paper" and settings["step_lora"] is None


@pytest.mark.parametrize("mode", ["t2v", "m2v", "mi2v"])
def test_render_modes(engine, images, mode):
    steps = []
    frames = engine.render_shot(_request(mode, images), progress=lambda done, total: steps.append((done, total)))
    assert frames.shape == (F, H, W, 3) and frames.dtype == np.uint8
    assert steps == [(1, 2), (2, 2)]
    assert frames.std() > 0


def test_lora_is_fused_with_rslora_scale(engine, images):
    engine.render_shot(_request("m2v", images))
    assert engine.lora_scale == pytest.approx(8 / np.sqrt(8))  # tiny LoRA: r = alpha = 8


def test_same_request_same_frames(engine, images):
    request = _request("mi2v", images, seed=9)
    assert np.array_equal(engine.render_shot(request), engine.render_shot(request))
    assert not np.array_equal(engine.render_shot(request), engine.render_shot(_request("mi2v", images, seed=10)))


def test_both_layouts_render_the_same_frames(models, engine, images):
    original = StoryMemEngine(models["original"], variant="mi2v", steps=2)
    for mode in ("t2v", "mi2v"):
        request = _request(mode, images)
        assert np.array_equal(original.render_shot(request), engine.render_shot(request))


def test_mm2v_needs_the_mm2v_lora(engine, models, images):
    with pytest.raises(EngineError, match="needs the StoryMem MM2V LoRA") as err:
        engine.render_shot(_request("mm2v", images))
    assert "\n" not in str(err.value)
    mm2v = StoryMemEngine(models["diffusers"], variant="mm2v", steps=2, need_t2v=False)
    frames = mm2v.render_shot(_request("mm2v", images))
    assert frames.shape == (F, H, W, 3)
    with pytest.raises(EngineError, match="needs the StoryMem MI2V LoRA"):
        mm2v.render_shot(_request("mi2v", images))
    with pytest.raises(EngineError, match="Wan2.2-T2V-A14B"):
        mm2v.render_shot(_request("t2v", images))


def test_paper_positions_are_the_default_and_change_memory_shots_only(models, engine, images):
    """The paper's negative RoPE shift is the default (StoryMem issue #17); ``released`` stays selectable."""
    assert engine.memory_positions == "paper"
    released = StoryMemEngine(models["diffusers"], variant="mi2v", steps=2, memory_positions="released")
    assert not np.array_equal(released.render_shot(_request("m2v", images)), engine.render_shot(_request("m2v", images)))
    assert np.array_equal(released.render_shot(_request("t2v", images)), engine.render_shot(_request("t2v", images)))


def test_t2v_experts_are_released_when_asked(models, images):
    engine = StoryMemEngine(models["diffusers"], variant="mi2v", steps=1, keep_t2v=False)
    first = engine.render_shot(_request("t2v", images))
    engine.render_shot(_request("m2v", images))
    assert "t2v" not in engine._pipelines and "m2v" in engine._pipelines
    assert np.array_equal(engine.render_shot(_request("t2v", images)), first)  # reloaded on demand


def test_unreadable_memory_image_is_one_line_error(engine, images, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    request = _request("m2v", images, memory=_memory([images[0]]) + [MemoryImage(id="bad", path=str(broken), sha256="0" * 64)])
    with pytest.raises(EngineError, match="cannot read memory image bad"):
        engine.render_shot(request)


def test_bad_settings_are_refused(models):
    with pytest.raises(ValueError, match="memory_positions"):
        StoryMemEngine(models["diffusers"], memory_positions="negative")
    with pytest.raises(ValueError, match="offload"):
        StoryMemEngine(models["diffusers"], offload="disk")
    with pytest.raises(ValueError, match="CUDA"):
        StoryMemEngine(models["diffusers"], offload="group", device="cpu")


# ---------------------------------------------------------------------------- presets


@pytest.fixture(scope="module")
def turbo_models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("turbo-models")
    return {
        "lightx2v": build_tiny_models(root / "x", "diffusers", ("mi2v",), step_loras="lightx2v"),
        "lightning": build_tiny_models(root / "l", "original", ("mi2v",), step_loras="lightning"),
    }


@pytest.mark.parametrize("layout", ["lightx2v", "lightning"])
def test_turbo_composes_the_step_lora_per_expert(turbo_models, images, layout):
    engine = StoryMemEngine(turbo_models[layout], variant="mi2v", preset="turbo")
    steps = []
    frames = engine.render_shot(_request("mi2v", images), progress=lambda d, t: steps.append(d))
    assert frames.shape == (F, H, W, 3) and steps == [1, 2, 3, 4]
    assert engine.render_shot(_request("t2v", images)).shape == (F, H, W, 3)
    s = engine.settings()
    assert s["preset"]["preset"] == "turbo" and s["preset"]["m2v"]["cfg"] is False
    assert s["step_lora"]["i2v"]["layout"] == layout and s["step_lora"]["t2v"]["layout"] == layout
    assert s["step_lora"]["i2v"]["release"] == layout and "i2v" in Path(s["step_lora"]["i2v"]["high"]).as_posix().lower()
    assert "untested by the StoryMem authors" in s["step_lora_composition"] and "untested" in engine.describe()
    assert s["linear"] == "fp8" and s["fp8_kernel"] == "scaled_mm"


def test_turbo_without_step_loras_names_the_download(models):
    with pytest.raises(EngineError, match="lightx2v/Wan2.2-Distill-Loras") as err:
        StoryMemEngine(models["diffusers"], variant="mi2v", preset="turbo")
    assert "\n" not in str(err.value) and "4-step distill LoRA for I2V and T2V" in str(err.value)


def test_fast_uses_fp8_linears_in_the_blocks(models, images):
    from engine.storymem.fp8 import Float8RowwiseLinear

    engine = StoryMemEngine(models["diffusers"], variant="mi2v", preset="fast", steps=2, need_t2v=False)
    frames = engine.render_shot(_request("m2v", images))
    expert = engine._pipeline("m2v").transformer
    assert isinstance(expert.blocks[0].attn1.to_q, Float8RowwiseLinear)
    assert isinstance(expert.proj_out, torch.nn.Linear) and not isinstance(expert.proj_out, Float8RowwiseLinear)
    assert frames.shape == (F, H, W, 3) and set(engine.last_timings) == {
        "encode_prompt", "encode_memory", "encode_video_condition", "denoise", "decode"}
    with pytest.raises(ValueError, match="offload 'none'"):
        StoryMemEngine(models["diffusers"], preset="fast", offload="model", device="cpu")


def test_step_cache_at_threshold_zero_changes_nothing(models, engine, images):
    """diffusers' First Block Cache with threshold 0 computes every block: the frames are the uncached ones
    (so the cache's overhead can be measured alone with random weights)."""
    cached = StoryMemEngine(models["diffusers"], variant="mi2v", steps=2, step_cache=0.0)
    assert np.array_equal(cached.render_shot(_request("mi2v", images)), engine.render_shot(_request("mi2v", images)))
    assert cached.settings()["step_cache"] == {"kind": "first-block", "threshold": 0.0}
    with pytest.raises(ValueError, match="step_cache"):
        StoryMemEngine(models["diffusers"], step_cache=-1.0)


def test_channels_last_vae_decodes_what_the_contiguous_one_does():
    """The CUDA engine stores the VAE's Conv3d weights channels-last (a layout change for cuDNN, not new maths): the
    tiny VAE encodes and decodes the same within float32 rounding."""
    from engine.storymem import testing
    from engine.storymem.engine import channels_last_3d

    vae = testing.tiny_vae()
    g = torch.Generator().manual_seed(0)
    video = torch.rand(1, 3, 5, 32, 32, generator=g) * 2 - 1
    with torch.no_grad():
        before = vae.encode(video).latent_dist.mode()
        decoded = vae.decode(before, return_dict=False)[0]
        changed = channels_last_3d(vae)
        after = vae.encode(video).latent_dist.mode()
        redecoded = vae.decode(before, return_dict=False)[0]
    convs = [m for m in vae.modules() if isinstance(m, torch.nn.Conv3d)]
    assert changed == len(convs) > 0 and all(m.weight.is_contiguous(memory_format=torch.channels_last_3d) for m in convs)
    assert torch.allclose(after, before, atol=1e-5) and torch.allclose(redecoded, decoded, atol=1e-5)


def test_vae_chunks_are_checked_recorded_and_reach_the_pipeline(models, images):
    """Frames per VAE call: diffusers' loops by default on a CPU, larger chunks when asked (the same frames within
    float rounding, tests/test_storymem_vae_chunks.py), bad values refused naming the setting."""
    from engine.storymem.engine import CUDA_VAE_CHUNKS, check_vae_chunks, default_vae_chunks

    assert default_vae_chunks(torch.device("cpu")) == (1, 4) and default_vae_chunks(torch.device("cuda")) == CUDA_VAE_CHUNKS
    for bad in [(0, 4), (1, 6), (1, 0), "4,16", (1,)]:
        with pytest.raises(ValueError, match="vae_chunks"):
            check_vae_chunks(bad)
    plain = StoryMemEngine(models["diffusers"], variant="mi2v", steps=2)
    chunked = StoryMemEngine(models["diffusers"], variant="mi2v", steps=2, vae_chunks=(2, 8))
    assert plain.settings()["vae_chunks"] == {"decode_latent_frames": 1, "encode_frames": 4}
    assert chunked.settings()["vae_chunks"] == {"decode_latent_frames": 2, "encode_frames": 8}
    a, b = plain.render_shot(_request("mi2v", images)), chunked.render_shot(_request("mi2v", images))
    pipe = chunked._pipeline("m2v")
    assert (pipe.vae_decode_chunk, pipe.vae_encode_chunk) == (2, 8)
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1  # uint8 frames: rounding at most


def test_cudnn_autotuning_is_set_for_the_vae_calls_only_and_restored(models, images):
    """The preset's autotuning reaches the pipeline, holds during its VAE encodes and decode, and leaves the
    process-wide flag as it was (so another engine in the process keeps its own)."""
    from engine.storymem.engine import default_vae_chunks

    engine = StoryMemEngine(models["diffusers"], variant="mi2v", steps=2)
    pipe = engine._pipeline("m2v")
    assert pipe.cudnn_autotune is False  # a CPU: the preset's autotuning is CUDA-only
    pipe.cudnn_autotune, seen = True, []
    hooks = [m.register_forward_pre_hook(lambda *_: seen.append(torch.backends.cudnn.benchmark)) for m in (pipe.vae.encoder, pipe.vae.decoder)]
    before = torch.backends.cudnn.benchmark
    try:
        engine.render_shot(_request("mi2v", images))
    finally:
        for hook in hooks:
            hook.remove()
    assert seen and all(seen) and torch.backends.cudnn.benchmark == before
    assert default_vae_chunks(torch.device("cuda"), "model") == default_vae_chunks(torch.device("cuda"), "group") == (1, 4)


def test_sage_attention_asked_for_on_a_cpu_runs_the_fp8_emulation_with_a_note(models, images):
    """``--attention-backend sage`` names a Hopper kernel: on a CPU the engine runs the nearest arithmetic it has, the
    FP8 emulation, for self-attention, and says so."""
    engine = StoryMemEngine(models["diffusers"], variant="mi2v", steps=2, attention_backend="sage")
    assert engine.render_shot(_request("mi2v", images)).shape == (F, H, W, 3)
    s = engine.settings()
    assert s["attention_backend"] == "fp8" and any("sage attention runs on CUDA GPUs" in n and "fp8" in n for n in s["notes"])
    processors = {type(b.attn1.processor).__name__ for e in engine._pipeline("m2v").experts for b in e.blocks}
    assert processors == {"CudnnWanAttnProcessor"}


@pytest.mark.parametrize("kernel", ["cudnn", "fa4"])
def test_cuda_attention_asked_for_on_a_cpu_falls_back_with_a_note(models, images, kernel):
    """``--attention-backend cudnn`` or ``fa4`` names a CUDA kernel: on a CPU the engine says so and runs default SDPA."""
    engine = StoryMemEngine(models["diffusers"], variant="mi2v", steps=2, attention_backend=kernel)
    assert engine.render_shot(_request("mi2v", images)).shape == (F, H, W, 3)
    s = engine.settings()
    assert s["attention_backend"] == "default" and any(f"{kernel} attention runs on CUDA GPUs" in n for n in s["notes"])
    assert s["preset"]["overrides"] == ["steps=2", f"attention_backend={kernel}"]
