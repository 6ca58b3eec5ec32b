"""The StoryMem engine: renders :class:`~schemas.render.RenderRequest` shots with Wan2.2-A14B + StoryMem.

Built once per run. The umT5 text encoder, tokenizer and VAE are loaded once (from the I2V folder) and
shared by two :class:`~engine.storymem.pipeline.StoryMemPipeline` instances built on first use: the T2V
pipeline (Wan2.2-T2V-A14B experts, for a ``t2v`` first shot) and the M2V pipeline (Wan2.2-I2V-A14B
experts with the StoryMem LoRA fused, for ``m2v``/``mi2v``/``mm2v``). On a GPU the T2V experts are released
before the I2V experts load, unless ``keep_t2v`` says otherwise.

A speed preset (:mod:`engine.storymem.presets`: ``exact``, ``fast``, ``turbo``) decides the sampler, the LoRAs,
the linear layers' arithmetic, the attention backend and compilation; :meth:`StoryMemEngine.settings` records
every setting it expanded to. Several GPUs per shot: :mod:`engine.storymem.parallel` runs one of these engines
per GPU, each given a :class:`~engine.storymem.parallel.ParallelContext`.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

import PIL.Image
import torch

from engine.base import EngineError, ProgressFn, SettingsError
from engine.storymem.loading import (
    BaseModelPaths,
    ModelPaths,
    StepLoraPaths,
    discover_models,
    discover_step_loras,
    load_expert,
    load_text_encoder,
    load_vae,
)
from engine.storymem.limits import ENGINE_ATTENTION, check_request
from engine.storymem.lora import LoraUpdate, convert_step_lora, convert_storymem_lora, load_lora_file, storymem_update
from engine.storymem.offload import OFFLOAD_MODES, MemoryPlan
from engine.storymem.presets import DEFAULT_PRESET, PRESET_NAMES, UNTESTED_COMPOSITION, SamplerSpec, expand
from engine.storymem.rope import MEMORY_POSITIONS, PAPER_MEMORY_STRIDE
from engine.storymem.scheduling import scheduler_for
from schemas.render import RenderRequest

_MODES_NEEDING_VARIANT = {"mi2v": "mi2v", "mm2v": "mm2v"}
DEFAULT_MEMORY_POSITIONS = "paper"
"""The paper's negative RoPE shift: the maintainer confirmed (StoryMem issue #17) that the LoRA was trained with
it and that the first release had missed it (docs/storymem-engine.md)."""


def channels_last_3d(vae) -> int:
    """Store the VAE's ``Conv3d`` weights channels-last (``(O, I, T, H, W)`` in ``O, T, H, W, I`` order), so cuDNN
    runs its NDHWC kernels: measured on an H200 at 832x480x81, encode 1.72 -> 1.56 s and decode 2.79 -> 2.60 s,
    outputs within 3.2e-3 of the contiguous layout's (a different cuDNN algorithm, the same maths;
    docs/BENCHMARKS.md). Returns how many convolutions changed."""
    count = 0
    for module in vae.modules():
        if isinstance(module, torch.nn.Conv3d):
            module.weight.data = module.weight.data.to(memory_format=torch.channels_last_3d)
            count += 1
    return count


class StoryMemEngine:
    """:class:`engine.base.Engine` backed by StoryMem on Wan2.2-A14B.

    ``models_dir`` (or ready ``paths`` from :func:`~engine.storymem.loading.discover_models`) holds the
    weights. ``variant``: which StoryMem LoRA to load (``mi2v`` renders m2v and mi2v shots, ``mm2v`` renders
    m2v and mm2v). ``preset``: ``exact`` (default), ``fast`` or ``turbo`` (:mod:`engine.storymem.presets`);
    ``steps``, ``attention_backend`` and ``compile`` override it. ``memory_positions``: ``paper`` (default) or
    ``released`` (:mod:`engine.storymem.rope`). ``offload``: ``none``, ``model`` or ``group``
    (:mod:`engine.storymem.offload`). ``step_cache``: a First Block Cache threshold (diffusers' cache hook;
    its speed-up depends on trained weights) or None. ``device``/``dtype``: default CUDA + bfloat16 when
    available, else CPU + float32 (tiny test models). ``parallel``: this rank's share of a multi-GPU shot
    (set by :mod:`engine.storymem.parallel`). Raises ``ValueError`` for a bad setting and :class:`EngineError`
    for missing weights, before anything heavy is loaded."""

    name = "storymem"

    def __init__(
        self,
        models_dir: str | os.PathLike | None = None,
        *,
        paths: ModelPaths | None = None,
        variant: str = "mi2v",
        preset: str = DEFAULT_PRESET,
        memory_positions: str = DEFAULT_MEMORY_POSITIONS,
        offload: str = "none",
        steps: int | None = None,
        memory_stride: int = PAPER_MEMORY_STRIDE,
        attention_backend: str | None = None,
        compile: bool | None = None,
        step_cache: float | None = None,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        keep_t2v: bool | None = None,
        keep_both_experts: bool | None = None,
        need_t2v: bool = True,
        parallel=None,
        vae_chunks: tuple[int, int] | None = None,
    ):
        if preset not in PRESET_NAMES:
            raise ValueError(f"preset must be one of {PRESET_NAMES}, got {preset!r}")
        if memory_positions not in MEMORY_POSITIONS:
            raise ValueError(f"memory_positions must be one of {MEMORY_POSITIONS}, got {memory_positions!r}")
        if offload not in OFFLOAD_MODES:
            raise ValueError(f"offload must be one of {OFFLOAD_MODES}, got {offload!r}")
        if compile and offload == "group":
            raise ValueError("compile=True does not combine with offload 'group' (its hooks sit inside the blocks)")
        if step_cache is not None and not step_cache >= 0:
            raise ValueError(f"step_cache must be a threshold >= 0, got {step_cache!r}")
        self.device = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
        if dtype is None:
            dtype = torch.bfloat16 if self.device.type == "cuda" else torch.float32
        self.dtype = dtype
        if step_cache is not None and compile:
            raise ValueError("step_cache does not combine with compile=True (its hooks wrap the blocks)")
        self.vae_chunks = check_vae_chunks(vae_chunks if vae_chunks is not None else default_vae_chunks(self.device, offload))
        self.expanded = expand(
            preset, self.device, steps=steps, attention_backend=attention_backend,
            compile=False if step_cache is not None else compile, offload=offload, dtype=dtype,
        )  # fmt: skip
        if self.expanded.linear == "fp8" and offload != "none":
            raise ValueError(f"--preset {preset} uses FP8 linear layers, which need offload 'none' (got {offload!r})")
        self.paths = self._find_models(models_dir, paths, variant, need_t2v)
        self.variant = variant
        self.preset = preset
        self.memory_positions = memory_positions
        self.memory_stride = memory_stride
        self.step_cache = step_cache
        self.keep_t2v = (self.device.type != "cuda") if keep_t2v is None else keep_t2v
        self.plan = MemoryPlan(offload, self.device, keep_both_experts)
        self.parallel = parallel
        self.lora_scale: float | None = None
        self.step_loras: dict[str, StepLoraPaths] = {}
        self.step_lora_layouts: dict[str, str] = {}
        self.notes: list[str] = list(self.expanded.notes)
        self.last_timings: dict[str, float] = {}
        self._attention: str | None = None
        """What attention the loaded experts run (after any fallback), set by :meth:`_set_attention`."""
        if self.expanded.step_lora:
            self.step_loras = self._find_step_loras(need_t2v)

        self.tokenizer, self.text_encoder, self.vae = self._load_shared()
        self.plan.place_shared(self.text_encoder, self.vae)
        self.vae_layout = "channels_last_3d" if self.device.type == "cuda" else "contiguous"
        if self.vae_layout == "channels_last_3d":
            channels_last_3d(self.vae)
        self._pipelines: dict[str, object] = {}

    # ------------------------------------------------------------------ weights (overridable: bench/engine_gpu.py)

    def _find_models(self, models_dir, paths: ModelPaths | None, variant: str, need_t2v: bool) -> ModelPaths:
        if paths is None:
            if models_dir is None:
                raise ValueError("pass models_dir or paths")
            return discover_models(models_dir, variant=variant, need_t2v=need_t2v)
        if paths.lora.variant != variant:
            raise ValueError(f"paths hold the {paths.lora.variant} LoRA but variant is {variant!r}")
        return paths

    def _find_step_loras(self, need_t2v: bool) -> dict[str, StepLoraPaths]:
        return discover_step_loras(self.paths.models_dir, ("i2v", "t2v") if need_t2v else ("i2v",))

    def _load_shared(self):
        tokenizer, text_encoder = load_text_encoder(self.paths.i2v, self.dtype)
        return tokenizer, text_encoder, load_vae(self.paths.i2v)

    def _updates(self, kind: str, which: str) -> list[LoraUpdate]:
        """The LoRAs fused into one expert: the StoryMem LoRA (M2V), then the step-distill LoRA (turbo)."""
        updates = []
        if kind == "m2v":
            path = getattr(self.paths.lora, which)
            lora = convert_storymem_lora(load_lora_file(path), source=str(path))
            # alpha=None: alpha = r, the released convention (r = alpha = 128 -> scale 128/sqrt(128) = 11.31)
            update = storymem_update(lora, alpha=None, use_rslora=True, source=str(path))
            self.lora_scale = update.scale
            updates.append(update)
        if self.expanded.step_lora:
            step = self.step_loras["i2v" if kind == "m2v" else "t2v"]
            path = getattr(step, which)
            pairs, layout = convert_step_lora(load_lora_file(path), source=str(path))
            self.step_lora_layouts[kind] = layout
            updates.append(LoraUpdate(pairs=pairs, scale=1.0, source=str(path)))
        return updates

    def _build_expert(self, kind: str, which: str, updates: list[LoraUpdate]):
        base: BaseModelPaths = self.paths.i2v if kind == "m2v" else self.paths.t2v
        notes: list[str] = []
        expert = load_expert(base, which, self.dtype, updates, compute_device=self.device, notes=notes)
        self.notes += [n for n in notes if n not in self.notes]
        return expert

    # ------------------------------------------------------------------ models

    def _load_experts(self, kind: str) -> list:
        experts = [self._build_expert(kind, which, self._updates(kind, which)) for which in ("high", "low")]
        self.plan.place_experts(experts)
        e = self.expanded
        for expert in experts:
            if e.linear == "fp8":
                from engine.storymem.fp8 import quantize_linears

                quantize_linears(expert, e.fp8_kernel)
            self._set_attention(expert)
            if self.step_cache is not None:
                from diffusers import FirstBlockCacheConfig

                expert.enable_cache(FirstBlockCacheConfig(threshold=self.step_cache))
        return experts

    def _note(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)

    def _set_attention(self, expert) -> None:
        """Install the preset's attention on ``expert``: a diffusers backend (``_native_cudnn`` where the dtype and
        head size allow, else default SDPA, with a note), and for ``cudnn``/``fp8``/``fa4``/``sage`` the engine's kernel
        (:func:`~engine.storymem.attention.install_attention`) for self-attention (``cudnn``, ``fa4``: cross-attention
        too). A kernel that does not run here is replaced, with a note: ``sage`` by ``fp8``, the others (and ``fp8``)
        by cuDNN SDPA."""
        backend = self.expanded.attention_backend
        kernel = backend if backend in ENGINE_ATTENTION else None
        head_dim = expert.config.attention_head_dim
        if kernel == "sage" and self.device.type != "cuda":
            self._note(f"sage attention runs on CUDA GPUs, not {self.device.type}: fp8 (its float32 emulation) instead")
            kernel = "fp8"
        if kernel in ("cudnn", "fa4") and self.device.type != "cuda":
            self._note(f"{kernel} attention runs on CUDA GPUs, not {self.device.type}: default SDPA instead")
            kernel = None
        if kernel and self.device.type == "cuda":
            from engine.storymem.attention import try_kernel

            why = try_kernel(kernel, expert.config.num_attention_heads, head_dim, self.dtype, self.device)
            if why and kernel == "sage":  # the next quantized kernel before exact attention
                self._note(f"{why}: sage attention passed over, fp8 instead")
                kernel = "fp8"
                why = try_kernel(kernel, expert.config.num_attention_heads, head_dim, self.dtype, self.device)
            if why:
                self._note(f"{why}: {kernel} attention passed over, cuDNN SDPA instead")
                kernel = None
        diffusers_backend = backend
        if backend in ENGINE_ATTENTION:  # what runs beside (or instead of) the engine's kernel; the CPU: default SDPA
            diffusers_backend = "_native_cudnn" if self.device.type == "cuda" else None
        if diffusers_backend == "_native_cudnn" and (self.dtype not in (torch.bfloat16, torch.float16) or head_dim % 8):
            self._note(f"cuDNN attention needs bf16/fp16 and a head size divisible by 8 ({str(self.dtype).removeprefix('torch.')}, "
                       f"{head_dim}): default SDPA instead")  # fmt: skip
            diffusers_backend = None
        if diffusers_backend:
            from diffusers.models.attention_dispatch import _AttentionBackendRegistry

            active = _AttentionBackendRegistry._active_backend
            expert.set_attention_backend(diffusers_backend)
            _AttentionBackendRegistry.set_active_backend(active)  # diffusers also sets it globally: keep it local
        if kernel:
            from engine.storymem.attention import install_attention

            cross = kernel if kernel in ("cudnn", "fa4") else None  # exact kernels take cross-attention too
            install_attention(expert, kernel, cross)
            self._attention = kernel if cross or not diffusers_backend else f"{kernel} (self), {diffusers_backend} (cross)"
        else:
            self._attention = diffusers_backend or "default"

    def sampler(self, kind: str) -> SamplerSpec:
        return self.expanded.m2v if kind == "m2v" else self.expanded.t2v

    def _pipeline(self, kind: str):
        from engine.storymem.pipeline import StoryMemPipeline

        if kind in self._pipelines:
            return self._pipelines[kind]
        if kind == "m2v" and "t2v" in self._pipelines and not self.keep_t2v:
            self.release_t2v()
        if kind == "t2v" and self.paths.t2v is None:
            raise EngineError("a t2v shot needs Wan2.2-T2V-A14B, which was not loaded (need_t2v=False)")
        sampler = self.sampler(kind)
        high, low = self._load_experts(kind)
        pipe = StoryMemPipeline(
            tokenizer=self.tokenizer,
            text_encoder=self.text_encoder,
            vae=self.vae,
            scheduler=scheduler_for(sampler.solver, sampler.shift),
            transformer=high,
            transformer_2=low,
            boundary_ratio=sampler.boundary_ratio,
        )  # installs the positional RoPE: context parallelism must come after it (it splits the `rope` outputs)
        pipe.set_execution_device(self.device)
        pipe.vae_decode_chunk, pipe.vae_encode_chunk = self.vae_chunks
        pipe.cudnn_autotune = self.expanded.cudnn_autotune  # for its VAE calls only
        if self.parallel is not None:
            self.parallel.apply(pipe, cfg=sampler.cfg)
        if self.expanded.compile:
            for expert in pipe.experts:
                # torchao's FP8 tensors did not finish compiling with fullgraph=True (docs/BENCHMARKS.md), and
                # diffusers' context-parallel hooks inside the blocks call inspect.signature, which Dynamo cannot trace
                context_parallel = self.parallel is not None and self.parallel.plan.context > 1
                expert.compile_repeated_blocks(fullgraph=self.expanded.fp8_kernel != "torchao" and not context_parallel)
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

    def render_shot(
        self, request: RenderRequest, progress: ProgressFn | None = None, output_type: str = "np", steps: int | None = None
    ):
        """All ``request.num_frames`` frames ``(F, H, W, 3)`` uint8, including the leading frames that repeat
        the previous shot (MI2V: 1, MM2V: 5). Same request, same frames (on the same device and software).
        ``output_type="latent"`` returns the video latents instead (ranks other than 0 of a multi-GPU shot);
        ``steps`` overrides the sampler's step count for this shot (warm-ups in benchmarks). Seconds per stage:
        :attr:`last_timings`."""
        try:
            self.check_request(request)
        except SettingsError as err:
            raise EngineError(f"shot {request.shot_id}: {err}") from None
        needed = _MODES_NEEDING_VARIANT.get(request.mode)
        if needed and needed != self.variant:
            raise EngineError(
                f"mode {request.mode} needs the StoryMem {needed.upper()} LoRA but this engine loaded "
                f"{self.variant.upper()}; restart with variant {needed} (StoryMem/{'Wan2.2-' + needed.upper() + '-A14B'})"
            )
        kind = "t2v" if request.mode == "t2v" else "m2v"
        pipe = self._pipeline(kind)
        sampler = self.sampler(kind)
        steps = steps or sampler.steps

        def on_step(_pipe, step, _t, _tensors):
            if progress is not None:
                progress(step + 1, steps)
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
                num_inference_steps=steps,
                guidance_scale=sampler.guidance,
                guidance_scale_2=sampler.guidance,
                generator=generator,
                output_type=output_type,
                callback_on_step_end=on_step,
                **conditions,
            )
        except torch.cuda.OutOfMemoryError as err:
            raise EngineError(
                f"out of GPU memory rendering {request.shot_id} at {request.width}x{request.height}x"
                f"{request.num_frames}; use offload 'model' or 'group' ({str(err).splitlines()[0]})"
            ) from None
        finally:
            self.last_timings = dict(pipe.timings)
        return output.frames[0]

    def check_request(self, request: RenderRequest) -> None:
        """:class:`~engine.base.SettingsError` if this engine cannot render ``request`` (its LoRA variant, the
        frame size and length; :func:`engine.storymem.limits.check_request`)."""
        check_request(request, variant=self.variant, steps=self.sampler("m2v").steps)

    # ------------------------------------------------------------------ reporting

    def settings(self) -> dict:
        """The engine's explicit settings, for the run manifest: the preset and everything it expanded to."""
        e = self.expanded
        return {
            "engine": self.name,
            "preset": e.record(),
            "models": self.paths.describe(),
            "variant": self.variant,
            "memory_positions": self.memory_positions,
            "memory_stride": self.memory_stride,
            "offload": self.plan.mode,
            "lora_scale": self.lora_scale,
            "step_lora": {
                kind: {"release": s.release, "high": str(s.high), "low": str(s.low),
                       "layout": self.step_lora_layouts.get("m2v" if kind == "i2v" else "t2v")}
                for kind, s in self.step_loras.items()
            } or None,
            "step_lora_composition": UNTESTED_COMPOSITION if e.step_lora else None,
            "step_cache": None if self.step_cache is None else {"kind": "first-block", "threshold": self.step_cache},
            "attention_backend": self._attention_used(),
            "compile": e.compile,
            "vae_layout": self.vae_layout,
            "vae_chunks": {"decode_latent_frames": self.vae_chunks[0], "encode_frames": self.vae_chunks[1]},
            "cudnn_autotune": e.cudnn_autotune,
            "linear": e.linear,
            "fp8_kernel": e.fp8_kernel,
            "device": str(self.device),
            "dtype": str(self.dtype).removeprefix("torch."),
            "parallel": None if self.parallel is None else self.parallel.record(),
            "notes": list(self.notes),
        }  # fmt: skip

    def _attention_used(self) -> str:
        """What attention ran (after any fallback); before the experts load, what the preset asks for."""
        return self._attention or self.expanded.attention_backend or "default"

    def describe(self) -> str:
        e = self.expanded
        s = e.m2v
        scale = f", rsLoRA scale {self.lora_scale:.2f}" if self.lora_scale else ""
        cfg = f"CFG {s.guidance}" if s.cfg else "no CFG"
        linear = f"FP8 linears ({e.fp8_kernel})" if e.linear == "fp8" else f"{e.linear} linears"
        step = f"; + 4-step distill LoRA ({UNTESTED_COMPOSITION})" if e.step_lora else ""
        gpus = f", {self.parallel.describe()}" if self.parallel is not None else ""
        return (
            f"storymem preset {e.preset} ({s.steps} steps {s.solver} shift {s.shift}, {cfg}, {linear}, attention "
            f"{self._attention_used()}{', compiled' if e.compile else ''}{step}): Wan2.2-A14B + StoryMem "
            f"{self.variant.upper()} LoRA{scale} ({self.paths.describe()}); {self.device} "
            f"{str(self.dtype).removeprefix('torch.')}{gpus}, offload {self.plan.describe()}, memory positions "
            f"{self.memory_positions}"
        )


CUDA_VAE_CHUNKS = (2, 16)
"""Frames per VAE call after frame 0 on a GPU (:mod:`engine.storymem.vae_chunks`): 2 latent frames per decoder call
(8 pixel frames out; 11 calls for an 81-frame shot instead of diffusers' 21) and 16 pixel frames per encoder call
(6 calls instead of 21). Decode of 21 latent frames at 832x480 on an H200 (docs/BENCHMARKS.md, fifth round, with cuDNN
autotuning): 2,596 ms and 8.5 GiB peak one frame per call, 1,902 ms and 11.6 GiB two, 1,894 ms and 18.4 GiB four,
1,902 ms and 38.9 GiB ten: two is as fast as more and costs 3 GiB. The encoder's 16 was not timed alone, nor its
peak memory (the 2-GPU ``turbo`` shot's encode took 0.71 s with it against 0.77 s with 4, on two machines)."""


def default_vae_chunks(device: torch.device, offload: str = "none") -> tuple[int, int]:
    """:data:`CUDA_VAE_CHUNKS` on CUDA with offload ``none``; diffusers' own loops (1 latent frame, 4 pixel frames)
    with offload (chosen when memory is short: the chunks cost GiBs) and off CUDA (where the tests compare against
    diffusers' VAE bit for bit)."""
    return CUDA_VAE_CHUNKS if device.type == "cuda" and offload == "none" else (1, 4)


def check_vae_chunks(chunks) -> tuple[int, int]:
    """``(decode, encode)``: latent frames per decoder call (>= 1) and pixel frames per encoder call (a positive
    multiple of 4). ``ValueError`` naming ``vae_chunks`` otherwise."""
    try:
        decode, encode = (int(c) for c in chunks)
    except (TypeError, ValueError):
        raise ValueError(f"vae_chunks must be two integers (decode latent frames, encode pixel frames), got {chunks!r}") from None
    if decode < 1 or encode < 4 or encode % 4:
        raise ValueError(f"vae_chunks must be (>= 1 latent frames, a positive multiple of 4 pixel frames), got {chunks!r}")
    return decode, encode


def _read_image(path: str | None, what: str) -> PIL.Image.Image:
    try:
        with PIL.Image.open(Path(path)) as image:
            return image.convert("RGB")
    except (OSError, ValueError, TypeError) as err:
        raise EngineError(f"cannot read {what} {path}: {err}") from None

