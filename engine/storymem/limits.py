"""What the StoryMem engine can render, checked without loading a weight.

The pipeline's ``check_inputs`` and the engine's ``render_shot`` check every call with these functions,
and the command line checks the flags with the same functions before a run folder exists
(``cli/validate.py``), so a value the engine would refuse mid-run is refused at the start instead.

Wan2.2-A14B's VAE downsamples 8x in space and 4x in time and its transformer patches 2x2 pixels of
latents (``configs/vae_wan2_1.json``, ``configs/transformer_*_a14b.json``): frame sizes are multiples of 16
and shots are 4n+1 frames long. MI2V repeats 1 frame of the previous shot and MM2V 5, which must leave
frames to generate. Errors are :class:`~engine.base.SettingsError` naming the argument.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.base import SettingsError
from schemas.render import RenderRequest

_CONFIGS = Path(__file__).parent / "configs"
VARIANTS: tuple[str, ...] = ("mi2v", "mm2v")
"""The StoryMem LoRA variants; each renders ``m2v`` shots and the continuation mode of its name."""


def _factors() -> tuple[int, int]:
    vae = json.loads((_CONFIGS / "vae_wan2_1.json").read_text(encoding="utf-8"))
    dit = json.loads((_CONFIGS / "transformer_i2v_a14b.json").read_text(encoding="utf-8"))
    spatial = 2 ** (len(vae["dim_mult"]) - 1) * dit["patch_size"][1]  # VAE 8x, then 2x2 patches
    temporal = 2 ** sum(vae["temperal_downsample"])  # 4
    return spatial, temporal


SPATIAL_MULTIPLE, TEMPORAL_STRIDE = _factors()
"""16 and 4 for Wan2.2-A14B: frame sizes are multiples of 16 pixels, shots are 4n+1 frames."""


def check_shape(
    height: int, width: int, num_frames: int, num_conditioning: int = 0, *,
    spatial: int = SPATIAL_MULTIPLE, temporal: int = TEMPORAL_STRIDE,
) -> None:
    """Frame size and length the VAE and transformer take: ``height``/``width`` multiples of ``spatial``,
    ``num_frames`` = ``temporal`` * n + 1, more than the ``num_conditioning`` repeated frames (MI2V 1, MM2V 5)."""
    if height % spatial or width % spatial:
        raise SettingsError(
            "height" if height % spatial else "width",
            f"`height` and `width` must be multiples of {spatial}, got {height}x{width}",
        )
    if num_frames < 1 or (num_frames - 1) % temporal:
        raise SettingsError("num_frames", f"`num_frames` must be {temporal}n+1, got {num_frames}")
    if num_conditioning >= num_frames:
        raise SettingsError(
            "num_frames", f"{num_conditioning} conditioning frames leave nothing to generate in {num_frames} frames"
        )


def check_steps(steps: int) -> None:
    """Denoising steps the sampler takes (:class:`~engine.storymem.scheduling.SamplerSettings`)."""
    from engine.storymem.scheduling import SamplerSettings

    try:
        SamplerSettings(steps=steps)
    except ValueError as err:
        raise SettingsError("steps", str(err)) from None


def check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise SettingsError("variant", f"unknown StoryMem variant {variant!r}; use one of {', '.join(VARIANTS)}")


ENGINE_ATTENTION = ("cudnn", "fp8", "fa4", "sage")
"""The engine's own attention kernels (:mod:`engine.storymem.attention`), accepted beside diffusers' backends."""


def check_attention_backend(name: str | None) -> None:
    """``cudnn``/``fp8``/``fa4``/``sage`` (the engine's kernels; whether this machine runs them is checked when the engine loads, and
    a missing kernel falls back with a note) or a diffusers attention backend name
    (``diffusers.models.attention_dispatch.AttentionBackendName``) whose package is installed (the requirement
    check diffusers runs when the backend is set on a model)."""
    if not name or name in ENGINE_ATTENTION:
        return
    from diffusers.models import attention_dispatch
    from diffusers.models.attention_dispatch import AttentionBackendName

    known = [b.value for b in AttentionBackendName]
    if name not in known:
        raise SettingsError(
            "attention_backend", f"unknown attention backend {name!r}; use {', '.join(ENGINE_ATTENTION)} or a diffusers backend: {', '.join(known)}"
        )
    requirements = getattr(attention_dispatch, "_check_attention_backend_requirements", None)  # what diffusers runs
    if requirements is not None:
        try:
            requirements(AttentionBackendName(name))
        except RuntimeError as err:
            raise SettingsError("attention_backend", f"{err} (or use the default: leave --attention-backend out)") from None


def check_request(request: RenderRequest, *, variant: str, steps: int) -> None:
    """Everything about ``request`` an engine loaded with the ``variant`` LoRA and ``steps`` sampler steps
    would refuse: the continuation mode needs its own LoRA, and the shape (see :func:`check_shape`)."""
    check_variant(variant)
    check_steps(steps)
    needed = request.mode if request.mode in VARIANTS else None
    if needed and needed != variant:
        raise SettingsError(
            "mode",
            f"mode {request.mode} needs the StoryMem {needed.upper()} LoRA but this engine loaded "
            f"{variant.upper()}; restart with variant {needed} (StoryMem/Wan2.2-{needed.upper()}-A14B)",
        )
    check_shape(request.height, request.width, request.num_frames, request.repeated_frames)
