"""The StoryMem engine: renders :class:`~schemas.render.RenderRequest` shots with Wan2.2-A14B + StoryMem.

Built once per run. The umT5 text encoder, tokenizer and VAE are loaded once (from the I2V folder) and
shared by two :class:`~engine.storymem.pipeline.StoryMemPipeline` instances built on first use: the T2V
pipeline (Wan2.2-T2V-A14B experts, for a ``t2v`` first shot) and the M2V pipeline (Wan2.2-I2V-A14B
experts with the StoryMem LoRA fused, for ``m2v``/``mi2v``/``mm2v``). On a GPU the T2V experts are released
before the I2V experts load, unless ``keep_t2v`` says otherwise.
"""

from __future__ import annotations

import gc
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np
import PIL.Image
import torch

from engine.base import EngineError, ProgressFn, SettingsError
from engine.storymem.loading import (
    BaseModelPaths,
    ModelPaths,
    discover_models,
    load_expert,
    load_text_encoder,
    load_vae,
)
from engine.storymem.limits import check_request
from engine.storymem.lora import convert_storymem_lora, fuse_storymem_lora, load_lora_file
from engine.storymem.offload import OFFLOAD_MODES, MemoryPlan
from engine.storymem.rope import MEMORY_POSITIONS, PAPER_MEMORY_STRIDE
from engine.storymem.scheduling import M2V_SAMPLER, T2V_SAMPLER, SamplerSettings, make_scheduler
from schemas.render import RenderRequest

class StoryMemEngine:
    """:class:`engine.base.Engine` backed by StoryMem on Wan2.2-A14B.

    ``models_dir`` (or ready ``paths`` from :func:`~engine.storymem.loading.discover_models`) holds the
    weights. ``variant``: which StoryMem LoRA to load (``mi2v`` renders m2v and mi2v shots, ``mm2v`` renders
    m2v and mm2v). ``memory_positions``: ``released`` or ``paper`` (see :mod:`engine.storymem.rope`).
    ``offload``: ``none``, ``model`` or ``group`` (see :mod:`engine.storymem.offload`). ``steps``,
    ``guidance``, ``shift``: the M2V sampler (40, 3.5, 4.0 as the reference); the T2V first shot uses the
    same steps and guidance with ``t2v_shift`` (12.0) and ``t2v_boundary`` (0.875) as StoryMem's pipeline
    does. ``attention_backend``: a diffusers backend name (e.g. ``_native_cudnn``) or None for the default.
    ``compile``: ``torch.compile`` the transformer blocks (regional compilation). ``device``/``dtype``:
    default CUDA + bfloat16 when available, else CPU + float32 (tiny test models)."""

    name = "storymem"

    def __init__(
        self,
        models_dir: str | os.PathLike | None = None,
        *,
        paths: ModelPaths | None = None,
        variant: str = "mi2v",
        memory_positions: str = "released",
        offload: str = "none",
        steps: int = M2V_SAMPLER.steps,
        guidance: float = M2V_SAMPLER.guidance,
        shift: float = M2V_SAMPLER.shift,
        boundary: float = M2V_SAMPLER.boundary_ratio,
        t2v_shift: float = T2V_SAMPLER.shift,
        t2v_boundary: float = T2V_SAMPLER.boundary_ratio,
        memory_stride: int = PAPER_MEMORY_STRIDE,
        attention_backend: str | None = None,
        compile: bool | None = None,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        keep_t2v: bool | None = None,
        keep_both_experts: bool | None = None,
        need_t2v: bool = True,
    ):
        if memory_positions not in MEMORY_POSITIONS:
            raise ValueError(f"memory_positions must be one of {MEMORY_POSITIONS}, got {memory_positions!r}")
        if offload not in OFFLOAD_MODES:
            raise ValueError(f"offload must be one of {OFFLOAD_MODES}, got {offload!r}")
        if compile and offload == "group":
            raise ValueError("compile=True does not combine with offload 'group' (its hooks sit inside the blocks)")
        if paths is None:
            if models_dir is None:
                raise ValueError("pass models_dir or paths")
            paths = discover_models(models_dir, variant=variant, need_t2v=need_t2v)
        elif paths.lora.variant != variant:
            raise ValueError(f"paths hold the {paths.lora.variant} LoRA but variant is {variant!r}")
        self.paths = paths
        self.variant = variant
        self.memory_positions = memory_positions
        self.memory_stride = memory_stride
        self.m2v_sampler = SamplerSettings(steps=steps, shift=shift, guidance=guidance, guidance_2=guidance, boundary_ratio=boundary)
        self.t2v_sampler = SamplerSettings(
            steps=steps, shift=t2v_shift, guidance=guidance, guidance_2=guidance, boundary_ratio=t2v_boundary
        )
        self.device = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
        if dtype is None:
            dtype = torch.bfloat16 if self.device.type == "cuda" else torch.float32
        self.dtype = dtype
        self.attention_backend = attention_backend
        self.compile = (self.device.type == "cuda" and offload == "none") if compile is None else compile
        self.keep_t2v = (self.device.type != "cuda") if keep_t2v is None else keep_t2v
        self.plan = MemoryPlan(offload, self.device, keep_both_experts)
        self.lora_scale: float | None = None

        self.tokenizer, self.text_encoder = load_text_encoder(paths.i2v, dtype)
        self.vae = load_vae(paths.i2v)
        self.plan.place_shared(self.text_encoder, self.vae)
        self._pipelines: dict[str, object] = {}

    # ------------------------------------------------------------------ models

    def _load_experts(self, base: BaseModelPaths, with_lora: bool) -> list:
        experts = []
        for which, lora_path in (("high", self.paths.lora.high), ("low", self.paths.lora.low)):
            expert = load_expert(base, which, self.dtype)
            if with_lora:
                lora = convert_storymem_lora(load_lora_file(lora_path), source=str(lora_path))
                # alpha=None: alpha = r, the released convention (r = alpha = 128 -> scale 128/sqrt(128) = 11.31)
                self.lora_scale = fuse_storymem_lora(
                    expert, lora, alpha=None, use_rslora=True, compute_device=self.device, source=str(lora_path)
                )
            if self.attention_backend:
                expert.set_attention_backend(self.attention_backend)
            experts.append(expert)
        self.plan.place_experts(experts)
        if self.compile:
            for expert in experts:
                expert.compile_repeated_blocks(fullgraph=True)
        return experts

    def _pipeline(self, kind: str):
        from engine.storymem.pipeline import StoryMemPipeline

        if kind in self._pipelines:
            return self._pipelines[kind]
        if kind == "m2v" and "t2v" in self._pipelines and not self.keep_t2v:
            self.release_t2v()
        if kind == "t2v" and self.paths.t2v is None:
            raise EngineError("a t2v shot needs Wan2.2-T2V-A14B, which was not loaded (need_t2v=False)")
        base = self.paths.i2v if kind == "m2v" else self.paths.t2v
        sampler = self.m2v_sampler if kind == "m2v" else self.t2v_sampler
        high, low = self._load_experts(base, with_lora=(kind == "m2v"))
        pipe = StoryMemPipeline(
            tokenizer=self.tokenizer,
            text_encoder=self.text_encoder,
            vae=self.vae,
            scheduler=make_scheduler(sampler.shift),
            transformer=high,
            transformer_2=low,
            boundary_ratio=sampler.boundary_ratio,
        )
        pipe.set_execution_device(self.device)
        self._pipelines[kind] = pipe
        return pipe

    def release_t2v(self) -> None:
        """Drop the T2V experts (they are reloaded if another t2v shot comes)."""
        pipe = self._pipelines.pop("t2v", None)
        if pipe is None:
            return
        self.plan.release_experts(pipe.experts)
        del pipe
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    # ------------------------------------------------------------------ rendering

    def render_shot(self, request: RenderRequest, progress: ProgressFn | None = None) -> np.ndarray:
        """All ``request.num_frames`` frames ``(F, H, W, 3)`` uint8, including the leading frames that repeat
        the previous shot (MI2V: 1, MM2V: 5). Same request, same frames (on the same device and software)."""
        try:
            self.check_request(request)
        except SettingsError as err:
            raise EngineError(f"shot {request.shot_id}: {err}") from None
        kind = "t2v" if request.mode == "t2v" else "m2v"
        pipe = self._pipeline(kind)
        sampler = self.t2v_sampler if kind == "t2v" else self.m2v_sampler

        def on_step(_pipe, step, _t, _tensors):
            if progress is not None:
                progress(step + 1, sampler.steps)
            return {}

        conditions = {}
        if kind == "m2v":
            conditions = {
                "memory_images": [_read_image(m.path, f"memory image {m.id}") for m in request.memory],
                "first_frame": _read_image(request.first_frame, "first frame") if request.first_frame else None,
                "motion_frames": [_read_image(p, "motion frame") for p in request.motion_frames],
                "memory_positions": self.memory_positions,
                "memory_stride": self.memory_stride,
            }
        generator = torch.Generator("cpu").manual_seed(request.seed)
        try:
            output = pipe(
                prompt=request.prompt,
                negative_prompt=request.negative_prompt,
                height=request.height,
                width=request.width,
                num_frames=request.num_frames,
                num_inference_steps=sampler.steps,
                guidance_scale=sampler.guidance,
                guidance_scale_2=sampler.guidance_2,
                generator=generator,
                output_type="np",
                callback_on_step_end=on_step,
                **conditions,
            )
        except torch.cuda.OutOfMemoryError as err:
            raise EngineError(
                f"out of GPU memory rendering {request.shot_id} at {request.width}x{request.height}x"
                f"{request.num_frames}; use offload 'model' or 'group' ({str(err).splitlines()[0]})"
            ) from None
        return output.frames[0]

    def check_request(self, request: RenderRequest) -> None:
        """:class:`~engine.base.SettingsError` if this engine cannot render ``request`` (its LoRA variant, the
        frame size and length; :func:`engine.storymem.limits.check_request`)."""
        check_request(request, variant=self.variant, steps=self.m2v_sampler.steps)

    # ------------------------------------------------------------------ reporting

    def settings(self) -> dict:
        """The engine's explicit settings, for the run manifest."""
        return {
            "engine": self.name,
            "models": self.paths.describe(),
            "variant": self.variant,
            "memory_positions": self.memory_positions,
            "memory_stride": self.memory_stride,
            "offload": self.plan.mode,
            "m2v_sampler": asdict(self.m2v_sampler) | {"solver": "unipc-flow"},
            "t2v_sampler": asdict(self.t2v_sampler) | {"solver": "unipc-flow"},
            "lora_scale": self.lora_scale,
            "attention_backend": self.attention_backend or "default",
            "compile": self.compile,
            "device": str(self.device),
            "dtype": str(self.dtype).removeprefix("torch."),
        }

    def describe(self) -> str:
        scale = f", rsLoRA scale {self.lora_scale:.2f}" if self.lora_scale else ""
        s = self.m2v_sampler
        return (
            f"storymem: Wan2.2-A14B + StoryMem {self.variant.upper()} LoRA{scale} ({self.paths.describe()}); "
            f"{self.device} {str(self.dtype).removeprefix('torch.')}, offload {self.plan.describe()}, "
            f"memory positions {self.memory_positions}, {s.steps} steps shift {s.shift} guidance {s.guidance}"
        )


def _read_image(path: str | None, what: str) -> PIL.Image.Image:
    try:
        with PIL.Image.open(Path(path)) as image:
            return image.convert("RGB")
    except (OSError, ValueError, TypeError) as err:
        raise EngineError(f"cannot read {what} {path}: {err}") from None
