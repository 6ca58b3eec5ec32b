"""Speed presets of the StoryMem engine: one table of data, read by the engine, expanded per device.

| preset | steps | CFG | sampler | LoRAs | linear layers | attention |
|---|---|---|---|---|---|---|
| ``exact`` | 40 | 3.5 | UniPC flow, shift 4 (the reference) | StoryMem | bf16 | FlashAttention-4, else cuDNN flash attention (torch SDPA) |
| ``fast`` | 40 | 3.5 | the same | StoryMem | FP8 (dynamic row-wise scales) | cuDNN FP8 flash attention (self-attention) |
| ``turbo`` | 4 | none | Euler on the distilled timesteps, shift 5 | StoryMem + 4-step distill LoRA per expert | FP8 | the same |

``exact`` is the reference's maths in bf16. ``fast`` changes the arithmetic of the linear layers and of
self-attention to FP8 (lossy: the deviation from ``exact`` is measured, see docs/BENCHMARKS.md). ``turbo`` adds a
step-distilled LoRA per expert (the public Wan2.2-A14B 4-step "Lightning" / LightX2V releases, sampled as LightX2V
does: timesteps 1000/750/500/250 shifted by 5, Euler, no CFG, the high-noise expert for the first two). The
StoryMem memory LoRA composed with a step-distill LoRA is **untested by the StoryMem authors**.

Attention: ``exact`` uses FlashAttention-4 (``fa4``: the ``flash-attn-4`` package of the ``gpu`` extra, its SM90
forward on Hopper, for self- and cross-attention; 43.0 vs 50.3 ms per call at 37,440 tokens on an H200, and a
3,287 vs 3,620 ms forward, docs/BENCHMARKS.md), and where it does not run (not installed, a GPU other than Hopper
or Blackwell) diffusers' ``_native_cudnn`` (torch's cuDNN SDPA; the same kernel called directly through
``nvidia-cudnn-frontend``, ``--attention-backend cudnn``, measured no faster), with a note. Both are exact attention
in bf16: they differ only in rounding order. ``fp8`` (:mod:`engine.storymem.attention`) is cuDNN's FP8 flash
attention with SageAttention's K smoothing for self-attention (emulated in float32 on a CPU); cross-attention over
the 512 text tokens stays bf16. Quantized attention from PyPI (SageAttention 1.0.6) was slower than cuDNN on an
H200 (66 vs 49 ms per call at 37,440 tokens); SageAttention 2 does not install from PyPI and FlashAttention-4's FP8
path is Blackwell-only; NVIDIA's Sage FP8 kernel for Hopper (``sage``, cudnn-frontend 1.32) is more accurate but
slower than cuDNN's FP8 (41.1 vs 34.9 ms per call), so it is selectable, not a default. Where
``nvidia-cudnn-frontend`` is missing, ``fp8`` falls back to ``_native_cudnn`` and says so. ``fast`` and ``turbo``
let cuDNN autotune its convolutions (the VAE's; :attr:`Preset.cudnn_autotune`), ``exact`` keeps its fixed heuristics
so that the same request gives the same frames.

:func:`expand` turns a preset into every setting it stands for on a device (e.g. FP8 needs compute capability
8.9+: on an older GPU ``fast`` expands to bf16 linears and says so); the manifest records the result.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Literal

from typing import TYPE_CHECKING

from engine.storymem.limits import ENGINE_ATTENTION
from engine.storymem.scheduling import DISTILL_TIMESTEPS

if TYPE_CHECKING:
    import torch

PresetName = Literal["exact", "fast", "turbo"]
PRESET_NAMES: tuple[str, ...] = ("exact", "fast", "turbo")
DEFAULT_PRESET = "exact"

UNTESTED_COMPOSITION = (
    "the StoryMem memory LoRA composed with a step-distill LoRA is untested by the StoryMem authors"
)

DISTILL_SHIFT = 5.0
"""Flow shift of the 4-step LoRAs' sampler (LightX2V's ``sample_shift``)."""


@dataclass(frozen=True)
class SamplerSpec:
    """How one base model (T2V or I2V/M2V) is sampled."""

    steps: int
    guidance: float
    """CFG scale for both experts; <= 1 means no CFG (one forward per step)."""
    shift: float
    boundary_ratio: float
    """The high-noise expert runs while t >= boundary_ratio * 1000."""
    solver: Literal["unipc", "euler-distill"] = "unipc"
    """``unipc``: the reference's UniPC flow solver over ``linspace(0.999, 0)``; ``euler-distill``: Euler over the
    distilled timesteps :data:`DISTILL_TIMESTEPS` (``steps`` must be 4)."""

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.solver == "euler-distill" and self.steps != len(DISTILL_TIMESTEPS):
            raise ValueError(
                f"the 4-step distilled sampler runs exactly {len(DISTILL_TIMESTEPS)} steps, not {self.steps}; "
                "use --preset exact or fast for other step counts"
            )
        if self.shift <= 0:
            raise ValueError(f"shift must be > 0, got {self.shift}")
        if not 0.0 <= self.boundary_ratio <= 1.0:
            raise ValueError(f"boundary_ratio must be in [0, 1], got {self.boundary_ratio}")

    @property
    def cfg(self) -> bool:
        return self.guidance > 1.0


@dataclass(frozen=True)
class Preset:
    """One row of the table."""

    name: str
    summary: str
    m2v: SamplerSpec
    t2v: SamplerSpec
    linear: Literal["bf16", "fp8"]
    attention: tuple[str, ...]
    """Attention in order of preference on CUDA: the engine's kernels (``cudnn``, ``fp8``, ``fa4``, ``sage``) or a diffusers backend.
    On a CPU, ``fp8`` is emulated and anything else is diffusers' default SDPA."""
    step_lora: bool
    """Compose a step-distill LoRA per expert (with the StoryMem LoRA for M2V)."""
    compile: bool = True
    """Regional ``torch.compile`` of the transformer blocks on CUDA (with offload ``none``)."""
    cudnn_autotune: bool = False
    """cuDNN times its convolution algorithms per shape and keeps the fastest (``torch.backends.cudnn.benchmark``, set
    for the pipeline's VAE calls only). In a ``turbo`` shot on an H200 it took the encode from 1.55 to 1.15 s and the
    decode from 2.69 to 2.02 s (docs/BENCHMARKS.md, fifth round; a single-process VAE benchmark on another machine
    showed no change, cause not found). The choice is by timing, so two processes may pick different algorithms and
    their frames differ by rounding: ``exact`` keeps cuDNN's fixed heuristics, so the same request gives the same
    frames on the same machine and software."""
    lossy: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)


_REFERENCE_M2V = SamplerSpec(steps=40, guidance=3.5, shift=4.0, boundary_ratio=0.9)
_REFERENCE_T2V = SamplerSpec(steps=40, guidance=3.5, shift=12.0, boundary_ratio=0.875)
_DISTILL_M2V = SamplerSpec(steps=4, guidance=1.0, shift=DISTILL_SHIFT, boundary_ratio=0.9, solver="euler-distill")
_DISTILL_T2V = SamplerSpec(steps=4, guidance=1.0, shift=DISTILL_SHIFT, boundary_ratio=0.875, solver="euler-distill")

PRESETS: dict[str, Preset] = {
    "exact": Preset(
        name="exact",
        summary="the reference's maths in bf16: 40 steps, CFG 3.5, UniPC shift 4, fastest exact attention",
        m2v=_REFERENCE_M2V,
        t2v=_REFERENCE_T2V,
        linear="bf16",
        attention=("fa4", "_native_cudnn"),
        step_lora=False,
    ),
    "fast": Preset(
        name="fast",
        summary="exact + FP8 linear layers (dynamic row-wise scales) and FP8 self-attention (cuDNN); lossy, deviation measured",
        m2v=_REFERENCE_M2V,
        t2v=_REFERENCE_T2V,
        linear="fp8",
        attention=("fp8", "_native_cudnn"),
        step_lora=False,
        cudnn_autotune=True,
        lossy=True,
    ),
    "turbo": Preset(
        name="turbo",
        summary=(
            "fast + a 4-step distill LoRA per expert composed with the StoryMem LoRA: 4 steps, no CFG "
            f"({UNTESTED_COMPOSITION})"
        ),
        m2v=_DISTILL_M2V,
        t2v=_DISTILL_T2V,
        linear="fp8",
        attention=("fp8", "_native_cudnn"),
        step_lora=True,
        cudnn_autotune=True,
        lossy=True,
        notes=(UNTESTED_COMPOSITION,),
    ),
}


def preset_help() -> str:
    """One line per preset for ``--help``."""
    return "; ".join(f"{p.name}: {p.summary}" for p in PRESETS.values())


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {', '.join(PRESET_NAMES)}, got {name!r}")
    return PRESETS[name]


@dataclass(frozen=True)
class ExpandedPreset:
    """Every setting a preset stands for on one device, after overrides (what the manifest records)."""

    preset: str
    m2v: SamplerSpec
    t2v: SamplerSpec
    linear: str
    """``bf16``/``float32`` (no quantization) or ``fp8`` (see :mod:`engine.storymem.fp8`)."""
    fp8_kernel: str | None
    """``scaled_mm`` (torch's own ``_scaled_mm`` with row-wise scales, on CUDA with compute capability >= 8.9 and on
    the CPU) or ``torchao`` (the same scheme through torchao), None without FP8."""
    attention_backend: str | None
    """``cudnn``/``fp8``/``fa4``/``sage`` (:mod:`engine.storymem.attention`), a diffusers backend name, or None
    (default SDPA)."""
    compile: bool
    step_lora: bool
    cudnn_autotune: bool
    """The preset's :attr:`Preset.cudnn_autotune` on CUDA; False elsewhere."""
    overrides: tuple[str, ...]
    notes: tuple[str, ...]

    def record(self) -> dict:
        rec = asdict(self)
        for kind in ("m2v", "t2v"):
            rec[kind] = asdict(getattr(self, kind)) | {"cfg": getattr(self, kind).cfg}
        rec["overrides"] = list(self.overrides)
        rec["notes"] = list(self.notes)
        return rec


def _fp8_kernel(device: "torch.device") -> tuple[str | None, str]:
    """Which FP8 implementation runs on ``device``, or None and why not."""
    import torch

    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        if (major, minor) < (8, 9):
            return None, f"FP8 needs compute capability 8.9+ (this GPU has {major}.{minor}): linear layers stay bf16"
        return "scaled_mm", ""
    if device.type == "cpu":
        return "scaled_mm", ""
    return None, f"FP8 is not available on {device.type}: linear layers stay unquantized"


def _attention(preset: Preset, device: "torch.device") -> tuple[str | None, list[str]]:
    """The first of ``preset.attention`` that runs on ``device``, and a note for each one passed over."""
    if device.type != "cuda":
        return ("fp8" if "fp8" in preset.attention else None), []
    from engine.storymem.attention import cuda_support

    notes = []
    for name in preset.attention:
        why = cuda_support(device, name) if name in ENGINE_ATTENTION else None
        if why is None:
            return name, notes
        notes.append(f"{why}: {name} attention passed over")
    return None, notes


def expand(
    name: str,
    device: "torch.device | str",
    *,
    steps: int | None = None,
    attention_backend: str | None = None,
    compile: bool | None = None,
    offload: str = "none",
    dtype: "torch.dtype | None" = None,
) -> ExpandedPreset:
    """The settings preset ``name`` expands to on ``device``, with the user's overrides (``steps``,
    ``attention_backend``, ``compile``). Raises ``ValueError`` naming a setting that does not fit the preset."""
    import torch

    dtype = dtype or torch.bfloat16
    preset = get_preset(name)
    device = torch.device(device)
    overrides, notes = [], list(preset.notes)
    m2v, t2v = preset.m2v, preset.t2v
    if steps is not None and steps != m2v.steps:
        m2v, t2v = replace(m2v, steps=steps), replace(t2v, steps=steps)  # validated by SamplerSpec
        overrides.append(f"steps={steps}")
    linear = "fp8" if preset.linear == "fp8" else str(dtype).removeprefix("torch.")
    kernel = None
    if preset.linear == "fp8":
        kernel, why = _fp8_kernel(device)
        if kernel is None:
            linear = str(dtype).removeprefix("torch.")
            notes.append(why)
    backend = attention_backend
    if backend is not None:
        overrides.append(f"attention_backend={backend}")
    else:
        backend, why = _attention(preset, device)
        notes += why
    use_compile = preset.compile and device.type == "cuda" and offload == "none"
    if compile is not None and compile != use_compile:
        overrides.append(f"compile={compile}")
        use_compile = compile
    return ExpandedPreset(
        preset=preset.name, m2v=m2v, t2v=t2v, linear=linear, fp8_kernel=kernel, attention_backend=backend,
        compile=use_compile, step_lora=preset.step_lora, cudnn_autotune=preset.cudnn_autotune and device.type == "cuda",
        overrides=tuple(overrides), notes=tuple(notes),
    )  # fmt: skip
