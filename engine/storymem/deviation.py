"""How far a lossy preset (``fast``, ``turbo``) lands from ``exact`` on the same inputs.

Two numbers, both relative L2 distances ``||lossy - exact|| / ||exact||`` (float64 sums):

* **one forward** -- the high-noise M2V expert of each engine on the same random input (noise + condition +
  mask channels, timestep 999, random text embeddings);
* **a short run** -- the final video latents of the same M2V shot request (same noise, prompt, memory) sampled
  with each engine's own sampler for ``steps`` steps (4 by default: ``turbo``'s count).

With random weights these say how much the arithmetic (FP8) or the sampler/LoRA change moves the output, not
how the video looks: that needs trained weights. tests/test_storymem_deviation.py computes them on the tiny
models; bench/engine_gpu.py at Wan2.2-A14B size (docs/BENCHMARKS.md).
"""

from __future__ import annotations

import torch


def relative_l2(value: torch.Tensor, reference: torch.Tensor) -> float:
    """``||value - reference|| / ||reference||`` in float64. Raises ``ValueError`` for different shapes."""
    if value.shape != reference.shape:
        raise ValueError(f"shapes differ: {tuple(value.shape)} vs {tuple(reference.shape)}")
    value, reference = value.detach().double().cpu(), reference.detach().double().cpu()
    return float((value - reference).norm() / reference.norm().clamp_min(1e-30))


def forward_inputs(transformer, latent_frames: int, height: int, width: int, seed: int = 0, text_len: int = 512) -> dict:
    """Random inputs of one forward: ``hidden_states`` ``(1, C, F, h, w)`` (``height``/``width`` in latent
    pixels), ``timestep`` ``(1,)`` = 999, ``encoder_hidden_states`` ``(1, text_len, text_dim)``."""
    config = transformer.config
    device = next(p for p in transformer.parameters()).device
    dtype = transformer.dtype
    g = torch.Generator("cpu").manual_seed(seed)
    hidden = torch.randn(1, config.in_channels, latent_frames, height, width, generator=g)
    text = torch.randn(1, text_len, config.text_dim, generator=g)
    return {
        "hidden_states": hidden.to(device, dtype),
        "timestep": torch.tensor([999], device=device),
        "encoder_hidden_states": text.to(device, dtype),
    }


@torch.no_grad()
def forward_deviation(exact, lossy, inputs: dict) -> float:
    """Relative L2 of ``lossy``'s output from ``exact``'s on the same ``inputs`` (both ``WanTransformer3DModel``)."""
    reference = exact(**inputs, return_dict=False)[0]
    return relative_l2(lossy(**inputs, return_dict=False)[0], reference)


def preset_deviation(exact_engine, lossy_engine, request, *, latent_frames: int | None = None, seed: int = 0) -> dict:
    """Both numbers (see the module docstring) for two :class:`~engine.storymem.engine.StoryMemEngine` built on
    the same weights. ``request`` is an M2V-family shot; each engine samples it with its own settings."""
    exact_latents = exact_engine.render_shot(request, output_type="latent")  # (1, 16, f, h, w)
    lossy_latents = lossy_engine.render_shot(request, output_type="latent")
    a = exact_engine._pipeline("m2v").transformer
    b = lossy_engine._pipeline("m2v").transformer
    frames = latent_frames or ((request.num_frames - 1) // 4 + 1 + len(request.memory))
    inputs = forward_inputs(a, frames, request.height // 8, request.width // 8, seed=seed)
    return {
        "forward_rel_l2": forward_deviation(a, b, inputs),
        "latents_rel_l2": relative_l2(lossy_latents, exact_latents),
        "exact": exact_engine.expanded.preset,
        "lossy": lossy_engine.expanded.preset,
        "steps": {"exact": exact_engine.expanded.m2v.steps, "lossy": lossy_engine.expanded.m2v.steps},
    }
