"""The engine's attention kernels: FlashAttention-4 in bf16 (``fa4``, ``exact``'s), cuDNN flash attention in bf16
(``cudnn``) and in FP8 (``fp8``, ``fast``'s and ``turbo``'s), called through ``flash-attn-4`` and
``nvidia-cudnn-frontend`` (the ``gpu`` extra) as torch custom ops, and a Wan attention processor that uses them.

**FlashAttention-4 (``fa4``).** Tri Dao et al.'s CuTe DSL kernels (``flash_attn.cute.flash_attn_func``; on Hopper its
SM90 forward), exact attention in bf16 on diffusers' ``(B, S, H, D)`` layout, for self- and cross-attention. At
37,440 tokens x 40 heads x 128 on an H200 it runs at 667 TFLOP/s against cuDNN's 571 (docs/BENCHMARKS.md).

**bf16 (``cudnn``).** The same cuDNN kernel torch's SDPA picks (``_native_cudnn``; identical outputs, measured in
docs/BENCHMARKS.md), on diffusers' ``(B, S, H, D)`` layout without the transposed copies, with the graph built once
per shape. Exact.

**FP8 (``fp8``).** The "SageAttention-class quantized attention" of issue 9: SageAttention 2 does not install from
PyPI and SageAttention 1.0.6 is slower than cuDNN on Hopper (docs/BENCHMARKS.md), so the kernel is NVIDIA's own FP8
flash attention. Per call, with ``q``, ``k``, ``v`` of shape ``(B, S, H, D)`` in bf16:

1. **Smooth K** (SageAttention, Zhang et al., ICLR 2025, section 4.2): ``k <- k - mean_S(k)`` per head and channel.
   Exact in real arithmetic: it adds ``q . mean(k)`` to every score of a query row, and softmax ignores a constant
   per row. It shrinks ``max|k|`` (trained DiTs carry a large channel bias in K), so K's FP8 grid is finer.
2. **Per-tensor FP8 E4M3:** ``x8 = e4m3(x / s_x)`` with ``s_x = max|x| / 448`` for ``q``, ``k``, ``v``.
3. **Attention on FP8** (cuDNN ``sdpa_fp8``): ``S = (q8 k8^T) s_q s_k / sqrt(D)``; ``P = exp(S - rowmax S)`` stored as
   FP8 with scale 448 (``0 <= P <= 1``); ``O = (P v8) s_v / rowsum P``, stored as FP8 with scale ``1 / s_v``:
   ``|O| <= max|v|`` (a convex combination of V's rows), so O fits. On Hopper cuDNN writes O only in FP8 (a BF16 O
   is Blackwell-only), hence:
4. ``O = float(O8) * s_v`` in the input dtype.

**Sage FP8 (``sage``).** SageAttention's recipe as NVIDIA ships it for Hopper in ``nvidia-cudnn-frontend`` (1.32+;
CuTe DSL kernels of its block-sparse attention, ``cudnn.block_sparse_attention``, run here with every block on):
K smoothed by its mean, Q quantized per token, K per 16 tokens, V per channel to FP8 E4M3, FP8 ``QK^T`` and ``PV``
with float32 accumulation. Finer scales than ``fp8``'s per-tensor ones. Its kernel tiles the sequence in blocks of
:data:`SAGE_BLOCK` tokens, so :func:`sage_blocks` pads the queries with zero rows, runs the kernel over the keys of
the whole blocks and merges the last ``Skv mod SAGE_BLOCK`` keys in exactly (float32) through the two parts'
log-sum-exps (the merge of FlashAttention's split-KV, ``O = (O_1 e^{L_1} + O_2 e^{L_2}) / (e^{L_1} + e^{L_2})``);
every memory size ``M`` works. CUDA (compute capability 9.x) only; elsewhere the engine takes ``fp8``, with a note.
Measured on an H200 at 37,440 tokens (docs/BENCHMARKS.md, fifth round): more accurate than ``fp8`` (relative L2 from
exact attention 0.054 against 0.060 on random inputs) but slower (kernel 41.1 ms against cuDNN FP8's 34.9; 43.8 ms
with its quantizer and this wrapper), so no preset uses it: ``--attention-backend sage`` selects it.

**FP8 Ulysses.** Under diffusers' Ulysses context parallelism (``--gpus`` without CFG, e.g. ``turbo``) the processor
runs ``fp8`` through :func:`ulysses_fp8_attention` instead of diffusers' template: K smoothed by the mean over the
tokens of all ranks and q, k, v quantized with the global per-tensor scales (two small ``all_reduce`` s), then ONE
all-to-all of the packed FP8 q|k|v and one of the FP8 output, against the template's four in bf16: half the bytes,
two calls fewer, and the one-GPU numerics (up to the float32 order of K's mean). The bf16 kernels and ``sage`` stay
on diffusers' template; ring attention is refused (the kernel returns no log-sum-exp).

Steps 1, 2 and 4 are plain torch ops, so under ``torch.compile`` Inductor fuses them with the RoPE before and the
output projection after; step 3 is one custom op (``dailies::cudnn_sdpa_fp8``) that the compiler calls as an opaque
kernel. Off CUDA step 3 is emulated in float32 with the same FP8 roundings (:func:`emulate_sdpa_fp8`), so the tiny
models in tests run the ``fast`` arithmetic on a CPU. Lossy: the deviation from ``exact`` is measured
(tests/test_storymem_deviation.py, docs/BENCHMARKS.md).
"""

from __future__ import annotations

import math
import threading
import warnings

import torch
import torch.distributed._functional_collectives as funcol
from diffusers.models.attention_dispatch import _all_to_all_single, _templated_context_parallel_attention, _wait_tensor
from diffusers.models.transformers.transformer_wan import WanAttnProcessor, _get_qkv_projections

from engine.storymem.fp8 import FP8, FP8_MAX  # e4m3, 448: the same format as the FP8 linear layers

P_SCALE = FP8_MAX
"""Scale of the softmax numerator ``P`` (in ``[0, 1]``) before its FP8 cast: the whole E4M3 range."""

CUDNN_FRONTEND_HINT = "pip install 'nvidia-cudnn-frontend>=1.32,<1.33' (or pip install -e '.[gpu]')"
FA4_HINT = "pip install 'flash-attn-4>=4.0.0b36,<4.1' (or pip install -e '.[gpu]')"
SAGE_HINT = "pip install 'nvidia-cudnn-frontend>=1.32,<1.33' (its Sage FP8 kernels; or pip install -e '.[gpu]')"

SAGE_BLOCK = 64
"""Tokens per tile of the Sage FP8 kernel (``cudnn.block_sparse_attention``'s SM90 ``blk64``; ``blk128`` is the
other one): the kernel needs query and key counts that are multiples of it."""


# ------------------------------------------------------------------------------------------ quantization (steps 1, 2, 4)


def smooth_k(k: torch.Tensor) -> torch.Tensor:
    """``k`` ``(B, S, H, D)`` minus its mean over the tokens ``S`` (per batch, head and channel); same shape and dtype."""
    accumulate = torch.promote_types(k.dtype, torch.float32)
    return k - k.to(accumulate).mean(dim=1, keepdim=True).to(k.dtype)


def quantize(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-tensor FP8: ``x`` (any shape) -> (``e4m3(x / s)`` of the same shape, ``s = max|x| / 448`` as a float32
    ``(1, 1, 1, 1)`` tensor on ``x``'s device). No host sync."""
    x32 = x.float()
    scale = fp8_scale(x32.abs().amax()).reshape(1, 1, 1, 1)
    return to_fp8(x32, scale), scale


def fp8_scale(amax: torch.Tensor) -> torch.Tensor:
    """Per-tensor scales ``s = max|x| / 448`` from float32 ``amax`` (any shape, elementwise; 0 gives a tiny scale,
    never a division by zero)."""
    return amax.clamp(min=1e-12) / FP8_MAX


def to_fp8(x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``e4m3(x / scale)`` (``x`` any shape, ``scale`` broadcastable, float32), saturated at +-448."""
    return (x.float() / scale).clamp(-FP8_MAX, FP8_MAX).to(FP8)


def _check_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    if q.ndim != 4 or k.shape != v.shape or q.shape[0] != k.shape[0] or q.shape[2:] != k.shape[2:]:
        raise ValueError(f"q, k, v must be (B, S, H, D) with equal B, H, D; got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")


def bf16_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float | None = None) -> torch.Tensor:
    """Exact attention with cuDNN's bf16 kernel (:func:`cudnn_sdpa`): ``(B, Sq, H, D)``, ``(B, Skv, H, D)`` x 2 ->
    ``(B, Sq, H, D)``; CUDA only."""
    _check_qkv(q, k, v)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    return cudnn_sdpa(q.contiguous(), k.contiguous(), v.contiguous(), scale)


def fp8_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float | None = None) -> torch.Tensor:
    """FP8 attention (see the module docstring): ``q`` ``(B, Sq, H, D)``, ``k``/``v`` ``(B, Skv, H, D)`` -> ``(B, Sq,
    H, D)`` in ``q``'s dtype. cuDNN on CUDA (compute capability 9.0+, ``nvidia-cudnn-frontend``), float32 emulation
    on other devices. Raises ``RuntimeError`` naming the fix when CUDA lacks the kernel (see :func:`cuda_support`)."""
    _check_qkv(q, k, v)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    q8, s_q = quantize(q)
    k8, s_k = quantize(smooth_k(k))
    v8, s_v = quantize(v)
    if q.device.type == "cuda":
        o8 = cudnn_sdpa_fp8(q8.contiguous(), k8.contiguous(), v8.contiguous(), s_q, s_k, s_v, scale)
    else:
        o8 = emulate_sdpa_fp8(q8, k8, v8, s_q, s_k, s_v, scale)
    return (o8.float() * s_v).to(q.dtype)


def fa4_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float | None = None) -> torch.Tensor:
    """Exact attention with FlashAttention-4 (:func:`fa4_sdpa`, the ``flash-attn-4`` package's CuTe DSL kernels; on
    Hopper its SM90 forward): ``(B, Sq, H, D)``, ``(B, Skv, H, D)`` x 2 -> ``(B, Sq, H, D)``; CUDA only."""
    _check_qkv(q, k, v)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    return fa4_sdpa(q.contiguous(), k.contiguous(), v.contiguous(), scale)


def sage_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float | None = None) -> torch.Tensor:
    """Sage FP8 attention (see the module docstring; :func:`sage_sdpa`): ``q`` ``(B, Sq, H, D)``, ``k``/``v``
    ``(B, Skv, H, D)``, bf16, ``D = 128`` -> ``(B, Sq, H, D)`` bf16; CUDA, compute capability 9.x only."""
    _check_qkv(q, k, v)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    return sage_sdpa(q.contiguous(), k.contiguous(), v.contiguous(), scale, SAGE_BLOCK)


KERNELS = {"cudnn": bf16_attention, "fp8": fp8_attention, "fa4": fa4_attention, "sage": sage_attention}
"""The engine's attention kernels by name (``--attention-backend``); each maps ``(q, k, v, scale=None)`` in diffusers'
``(B, S, H, D)`` layout to the output in the same layout."""


# ------------------------------------------------------------------------------------------ the CPU emulation (step 3)


def emulate_sdpa_fp8(
    q8: torch.Tensor, k8: torch.Tensor, v8: torch.Tensor, s_q: torch.Tensor, s_k: torch.Tensor, s_v: torch.Tensor,
    scale: float, *, chunk: int = 1024,
) -> torch.Tensor:
    """Step 3 in float32 with the FP8 roundings cuDNN makes (``P`` and ``O``): ``(B, S, H, D)`` e4m3 inputs -> ``O8``
    ``(B, Sq, H, D)`` e4m3 (scale ``1 / s_v``). Queries go ``chunk`` at a time to bound memory."""
    q = (q8.float() * s_q).transpose(1, 2)  # (B, H, Sq, D)
    k = (k8.float() * s_k).transpose(1, 2)  # (B, H, Skv, D)
    v = v8.float().transpose(1, 2)  # (B, H, Skv, D), still in FP8 units: O = P v8 s_v, then O / s_v = P v8
    out = []
    for start in range(0, q.shape[2], chunk):
        scores = q[:, :, start : start + chunk] @ k.transpose(-1, -2) * scale  # (B, H, c, Skv)
        p = torch.exp(scores - scores.amax(dim=-1, keepdim=True))
        total = p.sum(dim=-1, keepdim=True)
        p8 = (p * P_SCALE).to(FP8).float() / P_SCALE
        out.append((p8 @ v) / total)  # (B, H, c, D), = O / s_v
    o = torch.cat(out, dim=2).transpose(1, 2)  # (B, Sq, H, D)
    return o.clamp(-FP8_MAX, FP8_MAX).to(FP8)


# ------------------------------------------------------------------------------------------ cuDNN


def cuda_support(device: torch.device | str, kernel: str = "fp8") -> str | None:
    """None when ``kernel`` (``fp8`` or ``cudnn``, cuDNN's FP8 and bf16 kernels, or ``fa4``) can run on ``device``,
    else why not (one line, with the fix)."""
    device = torch.device(device)
    if kernel == "fa4":
        return _fa4_support(device)
    if kernel == "sage":
        return _sage_support(device)
    if device.type != "cuda":
        return f"cuDNN attention runs on CUDA GPUs, not {device.type}"
    major, minor = torch.cuda.get_device_capability(device)
    if kernel == "fp8" and major < 9:
        return f"cuDNN FP8 attention needs compute capability 9.0+ (Hopper); this GPU has {major}.{minor}"
    if major < 8:
        return f"cuDNN flash attention needs compute capability 8.0+; this GPU has {major}.{minor}"
    try:
        import cudnn  # noqa: F401
    except ImportError:
        return f"cuDNN attention needs nvidia-cudnn-frontend: {CUDNN_FRONTEND_HINT}"
    return None


def _fa4_support(device: torch.device) -> str | None:
    if device.type != "cuda":
        return f"FlashAttention-4 runs on CUDA GPUs, not {device.type}"
    major, minor = torch.cuda.get_device_capability(device)
    if major not in (9, 10, 11):
        return f"FlashAttention-4 runs on Hopper and Blackwell (compute capability 9.0, 10.x, 11.x); this GPU has {major}.{minor}"
    try:
        import flash_attn.cute  # noqa: F401
    except Exception as err:  # noqa: BLE001 - a broken CuTe DSL install fails with several exception types
        return f"FlashAttention-4 is not importable ({type(err).__name__}): {FA4_HINT}"
    return None


def _sage_support(device: torch.device) -> str | None:
    if device.type != "cuda":
        return f"Sage FP8 attention runs on CUDA GPUs, not {device.type}"
    major, minor = torch.cuda.get_device_capability(device)
    if major != 9:
        return f"the Sage FP8 kernel of cudnn-frontend used here is Hopper's (compute capability 9.x); this GPU has {major}.{minor}"
    try:
        from cudnn.block_sparse_attention import _interface  # noqa: F401
        from cudnn.block_sparse_attention._fp8_quant import _quantize_sage_bhsd  # noqa: F401
    except Exception as err:  # noqa: BLE001 - a missing or broken CuTe DSL install fails with several exception types
        return f"Sage FP8 attention is not importable ({type(err).__name__}: {str(err).splitlines()[0][:100] if str(err) else ''}): {SAGE_HINT}"
    return None


def head_dim_support(head_dim: int, dtype: torch.dtype, kernel: str) -> str | None:
    """None when ``kernel`` takes heads of ``head_dim`` in ``dtype``, else why not."""
    if kernel == "sage":
        if dtype != torch.bfloat16:
            return f"Sage FP8 attention needs bf16 activations, not {str(dtype).removeprefix('torch.')}"
        return None if head_dim == 128 else f"the Sage FP8 kernel needs a head size of 128, not {head_dim}"
    if kernel in ("cudnn", "fa4") and dtype not in (torch.bfloat16, torch.float16):
        return f"{kernel} attention needs bf16/fp16 activations, not {str(dtype).removeprefix('torch.')}"
    if kernel == "fa4":
        return None if head_dim % 8 == 0 and 8 <= head_dim <= 256 else f"FlashAttention-4 needs a head size that is a multiple of 8 up to 256, not {head_dim}"
    if head_dim % 16 or head_dim > 256:
        return f"cuDNN attention needs a head size that is a multiple of 16 up to 256, not {head_dim}"
    return None


def try_kernel(kernel: str, heads: int, head_dim: int, dtype: torch.dtype, device: torch.device | str) -> str | None:
    """Run ``kernel`` once on zeros ``(1, 128, heads, head_dim)`` on ``device``: None when it works, else why not (one
    line). cuDNN decides per configuration which graphs it supports, so this asks it rather than guessing."""
    why = cuda_support(device, kernel) or head_dim_support(head_dim, dtype, kernel)
    if why:
        return why
    q = torch.zeros(1, 128, heads, head_dim, device=device, dtype=dtype)
    try:
        KERNELS[kernel](q, q, q)
        torch.cuda.synchronize(device)
    except Exception as err:  # noqa: BLE001 - cuDNN's refusals come as several exception types
        library = {"fa4": "FlashAttention-4", "sage": "cudnn-frontend's Sage FP8 kernel"}.get(kernel, "cuDNN")
        return f"{library} refused {kernel} attention for {heads} heads of {head_dim} ({type(err).__name__}: {str(err).splitlines()[0][:120]})"
    return None


class _CudnnGraphs:
    """Built cuDNN SDPA graphs, one per (kernel, shapes, dtype, device, scale); one cuDNN handle per device."""

    def __init__(self):
        self._lock = threading.Lock()
        self._handles: dict[int, int] = {}
        self._graphs: dict[tuple, tuple] = {}

    def handle(self, device: torch.device) -> int:
        import cudnn

        index = device.index if device.index is not None else torch.cuda.current_device()
        with self._lock:
            if index not in self._handles:
                with torch.cuda.device(index):
                    self._handles[index] = cudnn.create_handle()
            return self._handles[index]

    def get(self, kernel: str, q: torch.Tensor, kv_len: int, scale: float):
        key = (kernel, tuple(q.shape), kv_len, q.dtype, q.device.index, scale)
        handle = self.handle(q.device)
        with self._lock:
            if key not in self._graphs:
                self._graphs[key] = _build_graph(kernel, tuple(q.shape), kv_len, q.dtype, scale, handle)
            return self._graphs[key]


def _build_graph(kernel: str, shape, kv_len: int, dtype: torch.dtype, scale: float, handle: int):
    """One cuDNN graph over ``(B, H, S, D)`` views of ``(B, S, H, D)`` memory: ``(graph, tensors, workspace bytes)``."""
    import cudnn

    io = {torch.bfloat16: cudnn.data_type.BFLOAT16, torch.float16: cudnn.data_type.HALF, FP8: cudnn.data_type.FP8_E4M3}[dtype]
    f32 = cudnn.data_type.FLOAT
    graph = cudnn.pygraph(io_data_type=io, intermediate_data_type=f32, compute_data_type=f32, handle=handle)
    b, s, h, d = shape

    def bhsd(length: int) -> dict:
        return dict(dim=[b, h, length, d], stride=[length * h * d, d, h * d, 1], data_type=io)

    t = {"q": graph.tensor(name="q", **bhsd(s)), "k": graph.tensor(name="k", **bhsd(kv_len)), "v": graph.tensor(name="v", **bhsd(kv_len))}
    common = dict(generate_stats=False, attn_scale=scale, use_causal_mask=False)
    if kernel == "fp8":
        scalar = dict(dim=[1, 1, 1, 1], stride=[1, 1, 1, 1], data_type=f32)
        for name in ("descale_q", "descale_k", "descale_v", "descale_s", "scale_s", "scale_o"):
            t[name] = graph.tensor(name=name, **scalar)
        t["o"], _, t["amax_s"], t["amax_o"] = graph.sdpa_fp8(
            q=t["q"], k=t["k"], v=t["v"], descale_q=t["descale_q"], descale_k=t["descale_k"], descale_v=t["descale_v"],
            descale_s=t["descale_s"], scale_s=t["scale_s"], scale_o=t["scale_o"], name="sdpa_fp8", **common,
        )  # fmt: skip
        for amax in (t["amax_s"], t["amax_o"]):
            amax.set_output(True).set_dim([1, 1, 1, 1]).set_stride([1, 1, 1, 1]).set_data_type(f32)
    else:
        t["o"], _ = graph.sdpa(q=t["q"], k=t["k"], v=t["v"], name="sdpa", **common)
    t["o"].set_output(True).set_dim(bhsd(s)["dim"]).set_stride(bhsd(s)["stride"]).set_data_type(io)
    graph.validate()
    graph.build_operation_graph()
    graph.create_execution_plans([cudnn.heur_mode.A, cudnn.heur_mode.FALLBACK])
    graph.check_support()
    graph.build_plans()
    return graph, t, graph.get_workspace_size()


_GRAPHS = _CudnnGraphs()


def _execute(kernel: str, q: torch.Tensor, k: torch.Tensor, scale: float, buffers: dict) -> None:
    import cudnn

    graph, tensors, workspace_size = _GRAPHS.get(kernel, q, k.shape[1], scale)
    handle = _GRAPHS.handle(q.device)
    cudnn.set_stream(handle=handle, stream=torch.cuda.current_stream(q.device).cuda_stream)
    workspace = torch.empty(max(workspace_size, 1), dtype=torch.uint8, device=q.device)
    graph.execute({tensors[name]: buffer for name, buffer in buffers.items()}, workspace, handle=handle)


def _check_cuda(kernel: str, q: torch.Tensor) -> None:
    why = cuda_support(q.device, kernel) or head_dim_support(q.shape[-1], torch.bfloat16 if kernel == "fp8" else q.dtype, kernel)
    if why:
        raise RuntimeError(why)


@torch.library.custom_op("dailies::cudnn_sdpa", mutates_args=())
def cudnn_sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float) -> torch.Tensor:
    """cuDNN flash attention in bf16/fp16: contiguous ``q`` ``(B, Sq, H, D)``, ``k``/``v`` ``(B, Skv, H, D)`` -> ``(B,
    Sq, H, D)``."""
    _check_cuda("cudnn", q)
    out = torch.empty_like(q)
    _execute("cudnn", q, k, scale, {"q": q, "k": k, "v": v, "o": out})
    return out


@cudnn_sdpa.register_fake
def _(q, k, v, scale):
    return torch.empty_like(q)


@torch.library.custom_op("dailies::cudnn_sdpa_fp8", mutates_args=())
def cudnn_sdpa_fp8(
    q8: torch.Tensor, k8: torch.Tensor, v8: torch.Tensor, s_q: torch.Tensor, s_k: torch.Tensor, s_v: torch.Tensor,
    scale: float,
) -> torch.Tensor:
    """Step 3 with cuDNN: contiguous e4m3 ``(B, S, H, D)`` inputs and float32 ``(1, 1, 1, 1)`` scales -> ``O8``
    ``(B, Sq, H, D)`` e4m3 with scale ``1 / s_v``."""
    _check_cuda("fp8", q8)
    out = torch.empty_like(q8)
    amax = torch.empty(2, 1, 1, 1, 1, dtype=torch.float32, device=q8.device)
    p_scale = torch.full((1, 1, 1, 1), P_SCALE, dtype=torch.float32, device=q8.device)
    _execute("fp8", q8, k8, scale, {
        "q": q8, "k": k8, "v": v8, "o": out, "amax_s": amax[0], "amax_o": amax[1], "descale_q": s_q, "descale_k": s_k,
        "descale_v": s_v, "descale_s": 1.0 / p_scale, "scale_s": p_scale, "scale_o": 1.0 / s_v,
    })  # fmt: skip
    return out


@cudnn_sdpa_fp8.register_fake
def _(q8, k8, v8, s_q, s_k, s_v, scale):
    return torch.empty_like(q8)


@torch.library.custom_op("dailies::fa4_sdpa", mutates_args=())
def fa4_sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float) -> torch.Tensor:
    """FlashAttention-4 forward in bf16/fp16 (``flash_attn.cute.flash_attn_func``, no mask): contiguous ``q`` ``(B, Sq,
    H, D)``, ``k``/``v`` ``(B, Skv, H, D)`` -> ``(B, Sq, H, D)``. An opaque op to the compiler (CuTe DSL compiles its
    kernel on the first call of each shape)."""
    why = cuda_support(q.device, "fa4") or head_dim_support(q.shape[-1], q.dtype, "fa4")
    if why:
        raise RuntimeError(why)
    from flash_attn.cute import flash_attn_func

    with warnings.catch_warnings():  # CuTe DSL warns, at each kernel compile, that an internal argument is not a JIT argument
        warnings.filterwarnings("ignore", message="Argument aux_data", category=UserWarning)
        out = flash_attn_func(q, k, v, softmax_scale=scale, causal=False)
    return (out[0] if isinstance(out, tuple) else out).contiguous()


@fa4_sdpa.register_fake
def _(q, k, v, scale):
    return torch.empty_like(q)


# ------------------------------------------------------------------------------------------ Sage FP8 (cudnn-frontend)


def exact_with_lse(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention in float32 with its log-sum-exp: ``q`` ``(B, H, Sq, D)``, ``k``/``v`` ``(B, H, T, D)`` -> (``O``
    ``(B, H, Sq, D)`` float32, ``L = log sum_j exp(scale q.k_j)`` ``(B, H, Sq)`` float32). For a few keys ``T`` (the
    tail of :func:`sage_blocks`): it holds the ``(B, H, Sq, T)`` scores."""
    scores = torch.matmul(q.float(), k.float().transpose(-1, -2)) * scale  # (B, H, Sq, T)
    lse = torch.logsumexp(scores, dim=-1)  # (B, H, Sq)
    return torch.matmul(torch.softmax(scores, dim=-1), v.float()), lse


def merge_attention(o1: torch.Tensor, lse1: torch.Tensor, o2: torch.Tensor, lse2: torch.Tensor) -> torch.Tensor:
    """Attention over two disjoint key sets -> attention over their union, exactly: ``o1``/``o2`` ``(B, H, Sq, D)``
    with log-sum-exps ``lse1``/``lse2`` ``(B, H, Sq)`` (natural log, the same score frame) -> ``(B, H, Sq, D)``
    float32 (FlashAttention's split-KV merge)."""
    top = torch.maximum(lse1, lse2)
    w1, w2 = torch.exp(lse1 - top)[..., None], torch.exp(lse2 - top)[..., None]  # (B, H, Sq, 1)
    return (o1.float() * w1 + o2.float() * w2) / (w1 + w2)


def sage_blocks(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float, block: int, kernel) -> torch.Tensor:
    """Attention of ``q`` ``(B, Sq, H, D)`` over ``k``/``v`` ``(B, Skv, H, D)`` with a kernel that takes only whole
    ``block``-token tiles: ``kernel(q, k, v, scale)`` over ``(B, H, S, D)`` contiguous tensors (``S`` multiples of
    ``block``) returns ``(O (B, H, Sq, D), L (B, H, Sq))``, ``L`` the natural-log log-sum-exp of the scores of K
    smoothed by its mean over the tokens it was given (Sage's frame). Here:

    1. the queries get zero rows up to a multiple of ``block`` (their outputs are dropped);
    2. the kernel attends over the first ``Skv - T`` keys, ``T = Skv mod block``;
    3. the last ``T`` keys, smoothed by the same mean (so their scores are in the kernel's frame), go through
       :func:`exact_with_lse`, and :func:`merge_attention` joins the two parts.

    Returns ``(B, Sq, H, D)`` in ``q``'s dtype. ``ValueError`` when fewer than ``block`` keys are given."""
    b, sq, h, d = q.shape
    skv = k.shape[1]
    main = skv - skv % block
    if main == 0:
        raise ValueError(f"k must have at least {block} tokens for the Sage FP8 kernel, got {skv}")
    padded = q.new_zeros(b, h, -(-sq // block) * block, d)  # (B, H, Sq', D)
    padded[:, :, :sq] = q.transpose(1, 2)
    k_main = k[:, :main].transpose(1, 2).contiguous()  # (B, H, Skv - T, D)
    out, lse = kernel(padded, k_main, v[:, :main].transpose(1, 2).contiguous(), scale)
    out, lse = out[:, :, :sq], lse[:, :, :sq]  # (B, H, Sq, D), (B, H, Sq)
    if main < skv:
        mean = k_main.float().mean(dim=2, keepdim=True)  # (B, H, 1, D): the kernel's smoothing
        tail, tail_lse = exact_with_lse(padded[:, :, :sq], k[:, main:].transpose(1, 2).float() - mean, v[:, main:].transpose(1, 2), scale)
        out = merge_attention(out, lse, tail, tail_lse)
    return out.transpose(1, 2).to(q.dtype).contiguous()  # (B, Sq, H, D)


def _sage_kernel(block: int):
    """The CUDA kernel :func:`sage_blocks` calls: cudnn-frontend's Sage quantizer (Q per token, K smoothed and per 16
    tokens, V per channel, V stored ``(B, H, D, S)``) and its SM90 FP8 block-sparse forward with every key block of
    every query block on (a broadcast index, no memory)."""
    from cudnn.block_sparse_attention import _interface as bsa
    from cudnn.block_sparse_attention._fp8_quant import _quantize_sage_bhsd

    forward = {64: bsa._bsa_attn_fwd_sm90_fp8_blk64, 128: bsa._bsa_attn_fwd_sm90_fp8_blk128}[block]

    def kernel(q, k, v, scale):
        q8, k8, v8, s_q, s_k, s_v = _quantize_sage_bhsd(q, k, v, v_layout="bhds")
        b, h, sq, _ = q.shape
        blocks = k.shape[2] // block
        index = torch.arange(blocks, dtype=torch.int32, device=q.device).expand(b, h, sq // block, blocks)
        return forward(q8, k8, v8, s_q, s_k, s_v, index, blocks, scale)

    return kernel


@torch.library.custom_op("dailies::sage_sdpa", mutates_args=())
def sage_sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float, block: int) -> torch.Tensor:
    """Sage FP8 attention on CUDA (:func:`sage_blocks` around cudnn-frontend's SM90 kernel with ``block``-token
    tiles, 64 or 128): contiguous bf16 ``q`` ``(B, Sq, H, D)``, ``k``/``v`` ``(B, Skv, H, D)``, ``D = 128`` ->
    ``(B, Sq, H, D)``. An opaque op to the compiler (CuTe DSL compiles the kernels on the first call)."""
    why = cuda_support(q.device, "sage") or head_dim_support(q.shape[-1], q.dtype, "sage")
    if why:
        raise RuntimeError(why)
    with warnings.catch_warnings():  # CuTe DSL's compile-time warnings, as for fa4
        warnings.filterwarnings("ignore", category=UserWarning, module=r"cutlass\..*")
        return sage_blocks(q, k, v, scale, block, _sage_kernel(block))


@sage_sdpa.register_fake
def _(q, k, v, scale, block):
    return torch.empty_like(q)


# ------------------------------------------------------------------------------------------ Ulysses in FP8


def ulysses_fp8_quantize(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, group, degree: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Steps 1 and 2 of the module docstring on a sequence split over a Ulysses group of ``degree`` ranks, each
    holding an equal share of the tokens: local ``q`` ``(B, Sq, H, D)``, ``k``/``v`` ``(B, Skv, H, D)`` -> local
    ``(q8, k8, v8)`` e4m3 of the same shapes and ``scales`` float32 ``(3,)`` = ``(s_q, s_k, s_v)``.

    K is smoothed by its mean over the tokens of ALL ranks (an ``all_reduce`` SUM of the local float32 token sums,
    ``B * H * D * 4`` bytes): every key must lose the same vector for softmax to ignore it. The scales come from the
    global ``max|x|`` (one ``all_reduce`` MAX of 3 floats), so they are equal on every rank and to what
    :func:`fp8_attention` computes on the whole sequence; the FP8 values then equal its values up to the float32
    summation order of the mean."""
    accumulate = torch.promote_types(k.dtype, torch.float32)
    total = _wait_tensor(funcol.all_reduce(k.to(accumulate).sum(dim=1, keepdim=True), "sum", group))  # (B, 1, H, D)
    k = k - (total / (k.shape[1] * degree)).to(k.dtype)
    q32, k32, v32 = q.float(), k.float(), v.float()
    amax = torch.stack([x.abs().amax() for x in (q32, k32, v32)])  # (3,)
    scales = fp8_scale(_wait_tensor(funcol.all_reduce(amax, "max", group)))  # (3,)
    return to_fp8(q32, scales[0]), to_fp8(k32, scales[1]), to_fp8(v32, scales[2]), scales


def _heads_to_ranks(x8: torch.Tensor, degree: int) -> torch.Tensor:
    """``(B, S, H, D)`` e4m3 -> ``(N, B * S * H/N * D)`` uint8: row ``n`` holds heads ``[n H/N, (n+1) H/N)``."""
    b, s, h, d = x8.shape
    return x8.view(torch.uint8).reshape(b, s, degree, h // degree, d).permute(2, 0, 1, 3, 4).reshape(degree, -1)


def _tokens_from_ranks(rows: torch.Tensor, batch: int, heads: int, head_dim: int) -> torch.Tensor:
    """``(N, B * S * heads * D)`` uint8, row ``n`` the tokens of rank ``n`` -> ``(B, N * S, heads, D)`` e4m3,
    contiguous (rank 0's tokens first: the sequence order of the split)."""
    n = rows.shape[0]
    x = rows.reshape(n, batch, -1, heads, head_dim).permute(1, 0, 2, 3, 4).reshape(batch, -1, heads, head_dim)
    return x.contiguous().view(FP8)


def ulysses_fp8_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, group, degree: int, scale: float | None = None,
) -> torch.Tensor:
    """:func:`fp8_attention` under Ulysses context parallelism (DeepSpeed-Ulysses, Jacobs et al. 2023) with FP8 on
    the wire: each of the ``degree`` = ``N`` ranks of ``group`` holds an equal share of the tokens, local ``q``
    ``(B, Sq, H, D)``, ``k``/``v`` ``(B, Skv, H, D)`` (``H`` divisible by ``N``) -> local ``(B, Sq, H, D)`` in
    ``q``'s dtype, equal to :func:`fp8_attention` of the whole sequence up to the float32 order of K's mean.

    1. :func:`ulysses_fp8_quantize`: K smoothed by the global mean, q, k, v quantized with the global scales
       (two small ``all_reduce`` s: ``B H D`` + 3 floats).
    2. q8, k8 and v8 packed into ONE uint8 buffer with the rank axis leading and exchanged by ONE
       ``all_to_all_single``: each rank then holds all ``N Sq`` tokens of its ``H / N`` heads. Bytes each rank
       sends: ``(N-1)/N * B (Sq + 2 Skv) H D`` (1 byte a value; diffusers' template sends twice that in bf16, in
       three calls).
    3. cuDNN's FP8 kernel (:func:`cudnn_sdpa_fp8`; :func:`emulate_sdpa_fp8` off CUDA) on ``(B, N Sq, H/N, D)``.
    4. Its FP8 output goes back by a second ``all_to_all_single`` (``(N-1)/N * B Sq H D`` bytes sent) and is
       dequantized with ``s_v`` (step 4 of the module docstring).

    Functional collectives only, no host sync and no data-dependent branch: traceable by ``torch.compile``
    (``fullgraph=True``). Raises ``ValueError`` for bad shapes or ``H`` not divisible by ``degree``."""
    _check_qkv(q, k, v)
    b, sq, h, d = q.shape
    if h % degree:
        raise ValueError(f"Ulysses over {degree} ranks needs a head count divisible by {degree}, got {h}")
    scale = 1.0 / math.sqrt(d) if scale is None else float(scale)
    heads = h // degree
    q8, k8, v8, scales = ulysses_fp8_quantize(q, k, v, group, degree)
    sent = torch.cat([_heads_to_ranks(x, degree) for x in (q8, k8, v8)], dim=1)  # (N, B (Sq + 2 Skv) H/N D) uint8
    received = _all_to_all_single(sent, group)  # (N, ...): row n goes to rank n; row n: rank n's tokens of this rank's heads
    sizes = [q8.numel() // degree, k8.numel() // degree, v8.numel() // degree]
    q8, k8, v8 = (_tokens_from_ranks(part, b, heads, d) for part in received.split(sizes, dim=1))  # (B, N S, H/N, D)
    s_q, s_k, s_v = (s.reshape(1, 1, 1, 1) for s in scales)
    if q.device.type == "cuda":
        o8 = cudnn_sdpa_fp8(q8, k8, v8, s_q, s_k, s_v, scale)
    else:
        o8 = emulate_sdpa_fp8(q8, k8, v8, s_q, s_k, s_v, scale)
    rows = o8.view(torch.uint8).reshape(b, degree, sq, heads, d).permute(1, 0, 2, 3, 4).contiguous()  # (N, B, Sq, H/N, D)
    back = _all_to_all_single(rows, group)  # row n: heads [n H/N, (n+1) H/N) of this rank's tokens
    o8 = back.permute(1, 2, 0, 3, 4).reshape(b, sq, h, d).view(FP8)  # (B, Sq, H, D)
    return (o8.float() * s_v).to(q.dtype)


# ------------------------------------------------------------------------------------------ the Wan attention processor


def _apply_rotary(x: torch.Tensor, freqs_cos: torch.Tensor, freqs_sin: torch.Tensor) -> torch.Tensor:
    """Wan's rotary embedding on ``x`` ``(B, S, H, D)`` (interleaved pairs, as diffusers' ``WanAttnProcessor``)."""
    x1, x2 = x.unflatten(-1, (-1, 2)).unbind(-1)
    cos, sin = freqs_cos[..., 0::2], freqs_sin[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = x1 * cos - x2 * sin
    out[..., 1::2] = x1 * sin + x2 * cos
    return out.type_as(x)


def _cp_forward_op(kernel: str):
    """The per-rank attention of diffusers' templated context parallelism for ``kernel`` (its ``forward_op``
    signature; Ulysses: each rank holds every token of ``H / N`` heads, so the kernel runs unchanged on its heads)."""

    def forward(ctx, query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                enable_gqa=False, return_lse=False, _save_ctx=True, _parallel_config=None):  # fmt: skip
        if return_lse or attn_mask is not None or is_causal or dropout_p:
            raise ValueError(f"{kernel} attention runs with Ulysses context parallelism only (no ring, mask, causal or dropout)")
        return KERNELS[kernel](query, key, value, scale)

    forward.__name__ = forward.__qualname__ = f"_cp_forward_{kernel}"
    return forward


_CP_FORWARD = {kernel: _cp_forward_op(kernel) for kernel in KERNELS}


def _no_backward(*args, **kwargs):
    raise RuntimeError("the engine's attention kernels are for inference only")


class CudnnWanAttnProcessor(WanAttnProcessor):
    """diffusers' ``WanAttnProcessor`` with the engine's kernels: ``self_kernel`` (one of :data:`KERNELS`) for
    self-attention and ``cross_kernel`` (``cudnn``, ``fa4``, or None for the model's diffusers backend) for
    cross-attention over the text. A mask or an image context goes to diffusers' own code. Under context
    parallelism (``enable_parallelism`` sets ``_parallel_config``) self-attention is split: ``fp8`` with Ulysses
    alone by :func:`ulysses_fp8_attention`, everything else by diffusers' template."""

    def __init__(self, self_kernel: str, cross_kernel: str | None):
        super().__init__()
        if self_kernel not in KERNELS or cross_kernel not in (None, "cudnn", "fa4"):
            raise ValueError(f"self_kernel must be one of {sorted(KERNELS)} and cross_kernel cudnn, fa4 or None; got {self_kernel!r}, {cross_kernel!r}")
        self.self_kernel, self.cross_kernel = self_kernel, cross_kernel

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, rotary_emb=None):
        cross = encoder_hidden_states is not None
        kernel = self.cross_kernel if cross else self.self_kernel
        if kernel is None or attention_mask is not None or attn.add_k_proj is not None:
            return super().__call__(attn, hidden_states, encoder_hidden_states, attention_mask, rotary_emb)
        query, key, value = _get_qkv_projections(attn, hidden_states, encoder_hidden_states)  # (B, S, H * D) each
        query, key = attn.norm_q(query), attn.norm_k(key)
        query, key, value = (x.unflatten(2, (attn.heads, -1)) for x in (query, key, value))  # (B, S, H, D)
        if rotary_emb is not None:
            query, key = _apply_rotary(query, *rotary_emb), _apply_rotary(key, *rotary_emb)
        cp = None if self._parallel_config is None else self._parallel_config.context_parallel_config
        if cp is not None and not cross and kernel == "fp8" and cp.ring_degree == 1 and not cp.ulysses_anything:
            out = ulysses_fp8_attention(query, key, value, cp._ulysses_mesh.get_group(), cp.ulysses_degree)
        elif cp is not None and not cross:  # diffusers splits only self-attention (its PR 12909)
            out = _templated_context_parallel_attention(
                query, key, value, None, 0.0, False, None, False, False,
                forward_op=_CP_FORWARD[kernel], backward_op=_no_backward, _parallel_config=self._parallel_config,
            )  # fmt: skip
        else:
            out = KERNELS[kernel](query, key, value)
        out = out.flatten(2, 3).type_as(query)  # (B, S, H * D)
        return attn.to_out[1](attn.to_out[0](out))


def install_attention(transformer, self_kernel: str, cross_kernel: str | None) -> int:
    """Give every block of a diffusers ``WanTransformer3DModel`` a :class:`CudnnWanAttnProcessor` (call before
    ``enable_parallelism``, which hands the processors their parallel config). Returns how many blocks."""
    for block in transformer.blocks:
        for attn in (block.attn1, block.attn2):
            processor = CudnnWanAttnProcessor(self_kernel, cross_kernel)
            processor._attention_backend = attn.processor._attention_backend
            attn.set_processor(processor)
    return len(transformer.blocks)
