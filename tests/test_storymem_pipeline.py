"""StoryMemPipeline on tiny seeded models (CPU): what the transformer sees for M2V, MI2V and MM2V, the
expert switch, determinism, and exact equality with stock diffusers pipelines when there is no memory."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import WanImageToVideoPipeline, WanPipeline
from diffusers.utils.torch_utils import randn_tensor

from engine.storymem.scheduling import reference_sigmas
from engine.storymem.testing import tiny_pipeline

H, W, F = 48, 64, 9  # latent 6 x 8, 3 latent frames
LAT_H, LAT_W, LAT_F = H // 8, W // 8, (F - 1) // 4 + 1
STEPS = 3


@pytest.fixture(scope="module")
def m2v():
    return tiny_pipeline("m2v")


@pytest.fixture(scope="module")
def t2v():
    return tiny_pipeline("t2v")


def _image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(H, W, 3), dtype=np.uint8)


def _capture(expert):
    """Record the keyword inputs of every forward of ``expert``."""
    calls = []

    def hook(_module, _args, kwargs):
        calls.append({k: (v.clone() if torch.is_tensor(v) else v) for k, v in kwargs.items()})

    return calls, expert.register_forward_pre_hook(hook, with_kwargs=True)


def _run(pipe, **kwargs):
    args = dict(prompt="a girl walks", height=H, width=W, num_frames=F, num_inference_steps=STEPS, output_type="np")
    args.update(kwargs)
    args.setdefault("generator", torch.Generator().manual_seed(7))
    return pipe(**args).frames


def _encode(pipe, video: torch.Tensor) -> torch.Tensor:
    """Normalised VAE latent mean of ``(B, 3, T, H, W)`` pixels."""
    latents = pipe.vae.encode(video).latent_dist.mode()
    mean = torch.tensor(pipe.vae.config.latents_mean).view(1, -1, 1, 1, 1)
    std = torch.tensor(pipe.vae.config.latents_std).view(1, -1, 1, 1, 1)
    return (latents - mean) * (1.0 / std)


def _pixels(images: list[np.ndarray]) -> torch.Tensor:
    return torch.stack([torch.from_numpy(i).permute(2, 0, 1).float().div(255.0) * 2 - 1 for i in images])


@pytest.mark.parametrize("mode", ["m2v", "mi2v", "mm2v"])
def test_transformer_sees_noise_mask_and_condition(m2v, mode):
    memory = [_image(1), _image(2)]
    conditioning = {"m2v": [], "mi2v": [_image(3)], "mm2v": [_image(10 + i) for i in range(5)]}[mode]
    kwargs = {"first_frame": conditioning[0]} if mode == "mi2v" else {"motion_frames": conditioning}
    calls, handle = _capture(m2v.transformer)
    try:
        _run(m2v, memory_images=memory, generator=torch.Generator().manual_seed(3), **kwargs)
    finally:
        handle.remove()
    x = calls[0]["hidden_states"]
    M = len(memory)
    assert x.shape == (1, 36, M + LAT_F, LAT_H, LAT_W)

    # noise over memory AND video latent frames, from the seed
    noise = randn_tensor((1, 16, M + LAT_F, LAT_H, LAT_W), generator=torch.Generator().manual_seed(3))
    assert torch.equal(x[:, :16], noise)

    # mask: 1 on memory frames and on the latent frames holding the conditioning pixel frames
    mask = x[:, 16:20]
    expected_video = {"m2v": [0, 0, 0], "mi2v": [1, 0, 0], "mm2v": [1, 1, 0]}[mode]
    expected = torch.tensor([1.0] * M + expected_video).view(1, 1, -1, 1, 1).expand_as(mask)
    assert torch.equal(mask, expected)

    # memory: each image VAE-encoded on its own as a 1-frame video
    with torch.no_grad():
        for i, image in enumerate(memory):
            alone = _encode(m2v, _pixels([image]).unsqueeze(2))  # (1, 16, 1, h, w)
            torch.testing.assert_close(x[:, 20:, i : i + 1], alone, rtol=1e-5, atol=1e-5)
        # video condition: the conditioning frames, then zero frames, encoded together
        video = torch.zeros(1, 3, F, H, W)
        if conditioning:
            video[0, :, : len(conditioning)] = _pixels(conditioning).transpose(0, 1)
        torch.testing.assert_close(x[:, 20:, M:], _encode(m2v, video), rtol=1e-5, atol=1e-5)


def test_first_frame_really_conditions_mi2v(m2v):
    """The reference's MI2V path re-encodes zeros over the first-frame condition; ours keeps it."""
    conditions = {}
    for name, first in (("m2v", None), ("a", _image(3)), ("b", _image(4))):
        calls, handle = _capture(m2v.transformer)
        try:
            frames = _run(m2v, memory_images=[_image(1)], first_frame=first)
        finally:
            handle.remove()
        conditions[name] = (calls[0]["hidden_states"][:, 20:, 1:], frames)  # video condition, frames
    zero_condition, a, b = conditions["m2v"][0], conditions["a"][0], conditions["b"][0]
    assert not torch.allclose(a[:, :, 0], zero_condition[:, :, 0], atol=1e-3)
    assert not torch.allclose(a[:, :, 0], b[:, :, 0], atol=1e-3)
    assert not np.array_equal(conditions["a"][1], conditions["b"][1])


def test_output_is_the_video_without_memory_frames(m2v):
    frames = _run(m2v, memory_images=[_image(1), _image(2), _image(5)])
    assert frames.shape == (1, F, H, W, 3) and frames.dtype == np.uint8
    latents = _run(m2v, memory_images=[_image(1), _image(2), _image(5)], output_type="latent")
    assert latents.shape == (1, 16, LAT_F, LAT_H, LAT_W)


def test_same_seed_same_frames(m2v):
    first = _run(m2v, memory_images=[_image(1)], generator=torch.Generator().manual_seed(11))
    again = _run(m2v, memory_images=[_image(1)], generator=torch.Generator().manual_seed(11))
    other = _run(m2v, memory_images=[_image(1)], generator=torch.Generator().manual_seed(12))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_experts_switch_at_the_boundary(m2v):
    """High-noise expert while t >= 900, low-noise after; each step runs CFG (two forwards)."""
    high, h1 = _capture(m2v.transformer)
    low, h2 = _capture(m2v.transformer_2)
    try:
        _run(m2v, num_inference_steps=40, memory_images=[_image(1)])
    finally:
        h1.remove(), h2.remove()
    high_t = [int(c["timestep"]) for c in high]
    low_t = [int(c["timestep"]) for c in low]
    assert len(high_t) + len(low_t) == 80
    assert high_t and low_t and min(high_t) >= 900 and max(low_t) < 900
    assert high_t == sorted(high_t, reverse=True) and high_t[0] == 999
    assert [torch.equal(c["encoder_hidden_states"], high[0]["encoder_hidden_states"]) for c in high[::2]] == [True] * (len(high) // 2)
    assert not torch.equal(high[0]["encoder_hidden_states"], high[1]["encoder_hidden_states"])  # cond, then negative


def test_paper_positions_reach_the_rope(m2v):
    calls, handle = _capture(m2v.transformer)
    seen = []
    rope_hook = m2v.transformer.rope.register_forward_hook(lambda mod, a, out: seen.append(mod.frame_positions.clone()))
    try:
        paper = _run(m2v, memory_images=[_image(1), _image(2)], memory_positions="paper")
        released = _run(m2v, memory_images=[_image(1), _image(2)], memory_positions="released")
    finally:
        handle.remove(), rope_hook.remove()
    assert seen[0].tolist() == [-10.0, -5.0, 0.0, 1.0, 2.0]
    assert seen[-1].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert not np.array_equal(paper, released)


def test_zero_condition_is_encoded_once(m2v, monkeypatch):
    """The reference VAE-encodes 81 zero frames every M2V shot; the result only depends on the shape."""
    m2v.clear_caches()
    frames_encoded = []
    encode = m2v.vae.encode
    monkeypatch.setattr(m2v.vae, "encode", lambda x, *a, **k: frames_encoded.append(x.shape) or encode(x, *a, **k))
    _run(m2v, memory_images=[_image(1)])
    _run(m2v, memory_images=[_image(2), _image(3)])
    # memory images one at a time (as 1-frame videos), the 9-frame zero video once
    assert [tuple(s) for s in frames_encoded] == [(1, 3, 1, H, W), (1, 3, F, H, W), (1, 3, 1, H, W), (1, 3, 1, H, W)]


def test_the_video_condition_built_on_the_vae_device_equals_the_cpu_built_one(m2v):
    """The condition video (K frames, then zeros) is built on the VAE's device in its dtype; its latents equal those
    of the same video built in float32 on the CPU first, as the reference does, for K = 1, 2 and 0."""
    cpu = torch.device("cpu")
    g = torch.Generator().manual_seed(5)
    for frames in (1, 2):
        pixels = torch.rand(frames, 3, H, W, generator=g) * 2 - 1  # (K, 3, H, W)
        reference = torch.cat([pixels.transpose(0, 1), torch.zeros(3, F - frames, H, W)], dim=1).unsqueeze(0)
        assert torch.equal(m2v.encode_video_condition(pixels, F, H, W, cpu), m2v._vae_encode(reference, cpu))
    m2v.clear_caches()
    assert torch.equal(m2v.encode_video_condition(None, F, H, W, cpu), m2v._vae_encode(torch.zeros(1, 3, F, H, W), cpu))


def _stock_scheduler(scheduler):
    """Make a stock pipeline's ``set_timesteps(n)`` build the reference sigmas, as ours does."""
    original = type(scheduler).set_timesteps

    def set_timesteps(num_inference_steps=None, device=None, **_kwargs):
        original(scheduler, sigmas=reference_sigmas(num_inference_steps), device=device)

    scheduler.set_timesteps = set_timesteps
    return scheduler


def _pt_to_stock_np(video: torch.Tensor) -> np.ndarray:
    return (video / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 4, 1).numpy()  # diffusers' np postprocessing


def test_no_memory_mi2v_equals_stock_i2v_exactly(m2v):
    """M = 0, released positions: the MI2V shot is diffusers' WanImageToVideoPipeline, bit for bit."""
    stock = WanImageToVideoPipeline(
        tokenizer=m2v.tokenizer, text_encoder=m2v.text_encoder, vae=m2v.vae,
        scheduler=_stock_scheduler(type(m2v.scheduler).from_config(m2v.scheduler.config)),
        transformer=m2v.transformer, transformer_2=m2v.transformer_2, boundary_ratio=0.9,
    )  # fmt: skip
    stock.set_progress_bar_config(disable=True)
    first = _image(3)
    noise = torch.randn(1, 16, LAT_F, LAT_H, LAT_W, generator=torch.Generator().manual_seed(5))
    common = dict(prompt="a girl walks", negative_prompt="blurry", height=H, width=W, num_frames=F,
                  num_inference_steps=4, guidance_scale=3.5, guidance_scale_2=3.5, latents=noise)  # fmt: skip
    import PIL.Image

    expected = stock(image=PIL.Image.fromarray(first), output_type="np", **common).frames
    ours = m2v(first_frame=first, output_type="pt", memory_positions="released", **common).frames
    assert np.array_equal(_pt_to_stock_np(ours), expected)


def test_t2v_equals_stock_wan_pipeline_exactly(t2v):
    stock = WanPipeline(
        tokenizer=t2v.tokenizer, text_encoder=t2v.text_encoder, vae=t2v.vae,
        scheduler=_stock_scheduler(type(t2v.scheduler).from_config(t2v.scheduler.config)),
        transformer=t2v.transformer, transformer_2=t2v.transformer_2, boundary_ratio=0.875,
    )  # fmt: skip
    stock.set_progress_bar_config(disable=True)
    noise = torch.randn(1, 16, LAT_F, LAT_H, LAT_W, generator=torch.Generator().manual_seed(6))
    common = dict(prompt="a dog runs", negative_prompt="static", height=H, width=W, num_frames=F,
                  num_inference_steps=4, guidance_scale=3.5, guidance_scale_2=3.5, latents=noise)  # fmt: skip
    expected = stock(output_type="np", **common).frames
    ours = t2v(output_type="pt", **common).frames
    assert np.array_equal(_pt_to_stock_np(ours), expected)


def test_t2v_draws_noise_from_the_seed(t2v):
    a = _run(t2v, generator=torch.Generator().manual_seed(1))
    b = _run(t2v, generator=torch.Generator().manual_seed(1))
    assert a.shape == (1, F, H, W, 3) and np.array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"num_frames": 10}, "num_frames"),
        ({"height": 50}, "height"),
        ({"memory_positions": "middle"}, "memory_positions"),
        ({"first_frame": _image(1), "motion_frames": [_image(2)] * 5}, "first_frame"),
        ({"output_type": "gif"}, "output_type"),
        ({"prompt": None}, "prompt"),
        ({"num_inference_steps": 0}, "num_inference_steps"),
    ],
)
def test_check_inputs_names_the_argument(m2v, kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        _run(m2v, **kwargs)


def test_t2v_experts_refuse_memory(t2v):
    with pytest.raises(ValueError, match="memory_images"):
        _run(t2v, memory_images=[_image(1)])


# ---------------------------------------------------------------------------- reused encodings, framing, timing


def test_reused_encodings_equal_fresh_ones(m2v):
    """The prompt embeddings and memory latents a later shot reuses are the tensors a fresh encoding gives,
    so a shot renders the same frames with a warm cache as with a cold one."""
    m2v.clear_caches()
    memory = [_image(11), _image(12)]
    cold = _run(m2v, memory_images=memory, first_frame=_image(13))
    calls = []
    encode_prompt, vae_encode = m2v.encode_prompt, m2v._vae_encode
    m2v.encode_prompt = lambda *a, **k: calls.append("prompt") or encode_prompt(*a, **k)
    m2v._vae_encode = lambda video, *a, **k: calls.append(tuple(video.shape)) or vae_encode(video, *a, **k)
    try:
        warm = _run(m2v, memory_images=memory, first_frame=_image(13))
        assert calls == [(1, 3, F, H, W)]  # only the first-frame condition: prompts and memory were reused
        assert np.array_equal(warm, cold)
        cached = m2v.encode_memory(m2v.to_pixels(memory, H, W), torch.device("cpu"))
        m2v.clear_caches()
        fresh = m2v.encode_memory(m2v.to_pixels(memory, H, W), torch.device("cpu"))
        assert torch.equal(cached, fresh)
        assert torch.equal(m2v.prompt_embeddings("a girl walks", torch.device("cpu")), encode_prompt(["a girl walks"], torch.device("cpu")))
    finally:
        del m2v.encode_prompt, m2v._vae_encode


def test_images_of_another_aspect_are_centre_cropped_not_squashed(m2v):
    """A square picture becomes the centre 48x48... of a 64x48 frame? No: the centre 4:3 band of it, resized."""
    square = np.zeros((64, 64, 3), dtype=np.uint8)
    square[:8] = 255  # a white band at the top, outside the centre 4:3 crop (rows 8..56)
    square[-8:] = 255
    pixels = m2v.to_pixels([square], 48, 64)  # (1, 3, 48, 64)
    assert pixels.shape == (1, 3, 48, 64)
    assert float(pixels.max()) == -1.0  # nothing of the bands survives: cropped, not squashed
    squashed = torch.nn.functional.interpolate(torch.from_numpy(square).permute(2, 0, 1)[None].float() / 127.5 - 1, size=(48, 64), mode="bicubic")
    assert float(squashed.max()) > 0.9  # what squashing would have kept
    wide = np.random.default_rng(0).integers(0, 256, size=(48, 96, 3), dtype=np.uint8)
    expected = torch.from_numpy(wide[:, 16:80].copy()).permute(2, 0, 1).float() / 255.0 * 2 - 1
    torch.testing.assert_close(m2v.to_pixels([wide], 48, 64)[0], expected)  # same size after the crop: no resize


def test_stage_timings_cover_the_call(m2v):
    _run(m2v, memory_images=[_image(1)], first_frame=_image(2))
    assert set(m2v.timings) == {"encode_prompt", "encode_memory", "encode_video_condition", "denoise", "decode"}
    assert all(v >= 0 for v in m2v.timings.values()) and m2v.timings["denoise"] > 0
