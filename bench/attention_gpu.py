"""Attention kernels and one A14B transformer block on a GPU, side by side (issue 9: where a forward's time goes).

Sections (``--sections``, default all):

* ``kernels`` -- one self-attention call at M = 3 (37,440 tokens x 40 heads x 128, bf16, diffusers' (B, S, H, D)
  layout): torch SDPA with cuDNN / flash; every execution plan cuDNN offers for the same bf16 graph through
  ``nvidia-cudnn-frontend`` (is the plan torch's heuristic picks the fastest?); the FP8 attention of the ``fast`` and
  ``turbo`` presets (``engine.storymem.fp8_attention``: the cuDNN FP8 kernel alone, and with its quantization), with
  its relative L2 error against cuDNN bf16 on random inputs (logit scales 1 and 3); FlashAttention-4 (``flash-attn-4``)
  where it imports; cudnn-frontend's Sage FP8 kernel (``sage``: quantizer, kernel, the engine's wrapper with 64- and
  128-token tiles, its log-sum-exp convention, its error beside ``fp8``'s, and M = 2 with a key tail).
* ``block`` -- one ``WanTransformerBlock`` at A14B dimensions (random bf16 weights, norms in float32), compiled as the
  engine compiles it: ``exact`` through diffusers' ``_native_cudnn`` and through the engine's ``cudnn`` kernel, ``exact``
  + FP8 self-attention, FlashAttention-4 and Sage FP8 where they import, and ``fast`` (FP8 attention + FP8 linears; ``--torchao``
  adds torchao's FP8 linears); ms per block (a forward runs 40). Per variant: a timeline of 5 back-to-back calls
  under the profiler (wall, kernel sum, GPU idle between kernels, the largest gaps, the kernel table) with the SM
  clock and power over 20 calls, the block replayed from one CUDA graph, and for ``exact`` CFG as one batch of 2.

Results go to ``OUT/attention_gpu.json`` and one JSON line per measurement on stdout.

    python bench/attention_gpu.py --out /tmp/att
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

HEADS, HEAD_DIM, TOKENS = 40, 128, 37_440  # A14B at 832x480x81 with 3 memory latent frames (24 x 30 x 52)


class Recorder:
    def __init__(self, out: Path):
        out.mkdir(parents=True, exist_ok=True)
        self.path, self.records = out / "attention_gpu.json", []

    def add(self, **fields) -> None:
        self.records.append(fields)
        self.path.write_text(json.dumps(self.records, indent=2), encoding="utf-8")
        print(json.dumps(fields), flush=True)


def cuda_ms(fn, warmup: int = 2, iters: int = 5) -> float:
    """Mean milliseconds of ``fn()`` over ``iters`` CUDA-event-timed runs after ``warmup``."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iters):
        fn()
    end.record()
    torch.cuda.synchronize()
    return round(start.elapsed_time(end) / iters, 3)


def rel_l2(a: torch.Tensor, b: torch.Tensor) -> float:
    return round(float((a.float() - b.float()).norm() / b.float().norm()), 5)


def attention_tflops(ms: float, tokens: int = TOKENS) -> float:
    return round(4 * tokens * tokens * HEAD_DIM * HEADS / (ms / 1000) / 1e12, 1)


def kernels(rec: Recorder) -> None:
    from torch.nn.attention import SDPBackend, sdpa_kernel

    from engine.storymem import attention as fa

    g = torch.Generator("cuda").manual_seed(0)
    q, k, v = (torch.randn(1, TOKENS, HEADS, HEAD_DIM, generator=g, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    bhsd = [x.transpose(1, 2).contiguous() for x in (q, k, v)]
    with torch.no_grad():
        reference = None
        for name, backend in (("cudnn", SDPBackend.CUDNN_ATTENTION), ("flash", SDPBackend.FLASH_ATTENTION)):
            with sdpa_kernel(backend):
                ms = cuda_ms(lambda: torch.nn.functional.scaled_dot_product_attention(*bhsd))
                out = torch.nn.functional.scaled_dot_product_attention(*bhsd).transpose(1, 2)
            reference = out if reference is None else reference
            rec.add(section="kernels", kernel=f"torch SDPA {name} (B, H, S, D)", ms=ms, tflops=attention_tflops(ms), rel_l2_vs_cudnn=rel_l2(out, reference))
        why = fa.cuda_support(q.device, "fa4")
        if why:
            rec.add(section="kernels", kernel="FlashAttention-4", skipped=why)
        else:
            try:
                started = time.perf_counter()
                out = fa.fa4_attention(q, k, v)
                torch.cuda.synchronize()
                first = round(time.perf_counter() - started, 1)
                ms = cuda_ms(lambda: fa.fa4_attention(q, k, v))
                rec.add(section="kernels", kernel="FlashAttention-4 (flash-attn-4, (B, S, H, D))", ms=ms, tflops=attention_tflops(ms),
                        rel_l2_vs_cudnn=rel_l2(out, reference), first_call_s=first)  # fmt: skip
            except Exception as err:  # noqa: BLE001 - a kernel that does not run is reported, not fatal
                rec.add(section="kernels", kernel="FlashAttention-4", error=f"{type(err).__name__}: {str(err)[:300]}")
        _sage_rows(rec, q, k, v, reference)
        why = fa.cuda_support(q.device)
        if why:
            rec.add(section="kernels", kernel="cudnn-frontend", skipped=why)
            return
        import cudnn

        rec.add(section="kernels", cudnn_backend=cudnn.backend_version(), cudnn_frontend=getattr(cudnn, "__version__", "?"),
                torch_cudnn=torch.backends.cudnn.version())  # fmt: skip
        _frontend_bf16_plans(rec, q, k, v, reference)
        q8, s_q = fa.quantize(q)
        k8, s_k = fa.quantize(fa.smooth_k(k))
        v8, s_v = fa.quantize(v)
        scale = 1 / math.sqrt(HEAD_DIM)
        ms = cuda_ms(lambda: torch.ops.dailies.cudnn_sdpa_fp8(q8, k8, v8, s_q, s_k, s_v, scale))
        rec.add(section="kernels", kernel="cuDNN sdpa_fp8 (kernel only)", ms=ms, tflops=attention_tflops(ms))
        _fp8_plans(rec, q8, k8, v8, s_q, s_k, s_v, scale)
        ms = cuda_ms(lambda: fa.fp8_attention(q, k, v))
        rec.add(section="kernels", kernel="fp8_attention (eager: smooth K, quantize, kernel, dequantize)", ms=ms)
        compiled = torch.compile(fa.fp8_attention)
        ms = cuda_ms(lambda: compiled(q, k, v), warmup=3)
        for temperature in (1.0, 3.0):
            out = fa.fp8_attention(q * temperature, k, v)
            with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
                exact = torch.nn.functional.scaled_dot_product_attention(*[x.transpose(1, 2) for x in (q * temperature, k, v)]).transpose(1, 2)
            emulated = None
            if temperature == 1.0:  # the CPU emulation of the same arithmetic, on the first 1,024 queries
                o8 = fa.emulate_sdpa_fp8(q8[:, :1024].cpu(), k8.cpu(), v8.cpu(), s_q.cpu(), s_k.cpu(), s_v.cpu(), scale)
                emulated = rel_l2(o8.float() * s_v.cpu(), out[:, :1024].float().cpu())
            rec.add(section="kernels", kernel="fp8_attention", logit_scale=temperature, rel_l2_vs_cudnn_bf16=rel_l2(out, exact),
                    emulation_rel_l2_vs_cuda=emulated, compiled_ms=ms if temperature == 1.0 else None)  # fmt: skip


def _sage_rows(rec: Recorder, q, k, v, reference) -> None:
    """cudnn-frontend's Sage FP8 kernel (``sage``): its quantizer and kernel alone, the engine's wrapper (padding and
    the exact key tail) with 64- and 128-token tiles, the log-sum-exp convention the wrapper relies on, and the error
    against cuDNN bf16 at logit scales 1 and 3, with a channel bias on K, and at M = 2 (a key tail of 40)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    from engine.storymem import attention as fa

    why = fa.cuda_support(q.device, "sage")
    if why:
        rec.add(section="kernels", kernel="Sage FP8 (cudnn-frontend)", skipped=why)
        return
    import cudnn

    scale = 1 / math.sqrt(HEAD_DIM)
    try:
        from cudnn.block_sparse_attention._fp8_quant import _quantize_sage_bhsd

        bhsd = [x.transpose(1, 2).contiguous() for x in (q, k, v)]
        started = time.perf_counter()
        fa.sage_attention(q, k, v)
        torch.cuda.synchronize()
        first = round(time.perf_counter() - started, 1)
        rec.add(section="kernels", kernel="Sage FP8 first call (CuTe DSL compiles)", first_call_s=first, cudnn_frontend=getattr(cudnn, "__version__", "?"))
        ms = cuda_ms(lambda: _quantize_sage_bhsd(*bhsd, v_layout="bhds"))
        rec.add(section="kernels", kernel="Sage FP8 quantizer alone (Q per token, K smoothed per 16, V per channel)", ms=ms)
        for block in (64, 128):
            if TOKENS % block == 0:
                quantized = _quantize_sage_bhsd(*bhsd, v_layout="bhds")
                index = torch.arange(TOKENS // block, dtype=torch.int32, device="cuda").expand(1, HEADS, TOKENS // block, TOKENS // block)
                from cudnn.block_sparse_attention import _interface as bsa

                forward = {64: bsa._bsa_attn_fwd_sm90_fp8_blk64, 128: bsa._bsa_attn_fwd_sm90_fp8_blk128}[block]
                out, lse = forward(*quantized, index, TOKENS // block, scale)
                ms = cuda_ms(lambda: forward(*quantized, index, TOKENS // block, scale))
                rec.add(section="kernels", kernel=f"Sage FP8 blk{block} kernel only", ms=ms, tflops=attention_tflops(ms))
                smoothed = bhsd[1].float() - bhsd[1].float().mean(dim=2, keepdim=True)
                scores = (bhsd[0][:, :, :512].float() @ smoothed.transpose(-1, -2)) * scale  # (1, H, 512, S)
                rec.add(section="kernels", kernel=f"Sage FP8 blk{block} log-sum-exp vs float32 (smoothed frame, 512 queries)",
                        max_abs_diff=round(float((lse[:, :, :512] - torch.logsumexp(scores, dim=-1)).abs().max()), 5))  # fmt: skip
                del quantized, out, lse, scores, smoothed
            ms = cuda_ms(lambda: torch.ops.dailies.sage_sdpa(q, k, v, scale, block))
            out = torch.ops.dailies.sage_sdpa(q, k, v, scale, block)
            rec.add(section="kernels", kernel=f"sage_attention, blk{block} (wrapper: layout, padding, tail, quantizer, kernel)",
                    ms=ms, tflops=attention_tflops(ms), rel_l2_vs_cudnn_bf16=rel_l2(out, reference), tail=TOKENS % block)  # fmt: skip
        g = torch.Generator("cuda").manual_seed(2)
        bias = 3.0 * torch.randn(1, 1, HEADS, HEAD_DIM, generator=g, device="cuda", dtype=torch.bfloat16)
        for label, (qq, kk) in {"logit scale 3": (q * 3, k), "K channel bias 3": (q, k + bias)}.items():
            with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
                exact = torch.nn.functional.scaled_dot_product_attention(*[x.transpose(1, 2) for x in (qq, kk, v)]).transpose(1, 2)
            rec.add(section="kernels", kernel="sage_attention vs fp8_attention", case=label,
                    sage_rel_l2=rel_l2(fa.sage_attention(qq, kk, v), exact), fp8_rel_l2=rel_l2(fa.fp8_attention(qq, kk, v), exact))  # fmt: skip
        tokens2 = TOKENS - 1560  # M = 2: 35,880 = 560 x 64 + 40
        q2, k2, v2 = (x[:, :tokens2] for x in (q, k, v))
        ms = cuda_ms(lambda: fa.sage_attention(q2, k2, v2))
        with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
            exact = torch.nn.functional.scaled_dot_product_attention(*[x.transpose(1, 2) for x in (q2, k2, v2)]).transpose(1, 2)
            ms_exact = cuda_ms(lambda: torch.nn.functional.scaled_dot_product_attention(*[x.transpose(1, 2) for x in (q2, k2, v2)]))
        rec.add(section="kernels", kernel="sage_attention at M = 2 (35,880 tokens: a key tail of 40)", ms=ms,
                tflops=attention_tflops(ms, tokens2), rel_l2_vs_cudnn_bf16=rel_l2(fa.sage_attention(q2, k2, v2), exact),
                cudnn_bf16_ms=ms_exact)  # fmt: skip
    except Exception as err:  # noqa: BLE001 - a kernel that does not run is reported, not fatal
        import traceback

        rec.add(section="kernels", kernel="Sage FP8", error=f"{type(err).__name__}: {str(err)[:300]}", where=traceback.format_exc()[-1500:])


def _frontend_bf16_plans(rec: Recorder, q, k, v, reference) -> None:
    """Every plan cuDNN has for the bf16 graph, each timed."""
    import cudnn

    handle = cudnn.create_handle()
    cudnn.set_stream(handle=handle, stream=torch.cuda.current_stream().cuda_stream)
    bf16, f32 = cudnn.data_type.BFLOAT16, cudnn.data_type.FLOAT
    graph = cudnn.pygraph(io_data_type=bf16, intermediate_data_type=f32, compute_data_type=f32, handle=handle)
    dims, strides = [1, HEADS, TOKENS, HEAD_DIM], [TOKENS * HEADS * HEAD_DIM, HEAD_DIM, HEADS * HEAD_DIM, 1]
    tq, tk, tv = (graph.tensor(name=n, dim=dims, stride=strides, data_type=bf16) for n in "qkv")
    o, _ = graph.sdpa(q=tq, k=tk, v=tv, generate_stats=False, attn_scale=1 / math.sqrt(HEAD_DIM), use_causal_mask=False, name="sdpa")
    o.set_output(True).set_dim(dims).set_stride(strides).set_data_type(bf16)
    graph.validate()
    graph.build_operation_graph()
    graph.create_execution_plans([cudnn.heur_mode.A, cudnn.heur_mode.B, cudnn.heur_mode.FALLBACK])
    graph.check_support()
    graph.build_plans(cudnn.build_plan_policy.ALL)
    out = torch.empty_like(q)
    pack = {tq: q, tk: k, tv: v, o: out}
    for index in range(graph.get_execution_plan_count()):
        try:
            workspace = torch.empty(max(graph.get_workspace_size_plan_at_index(index), 1), dtype=torch.uint8, device="cuda")
            ms = cuda_ms(lambda: graph.execute_plan_at_index(pack, workspace, index, handle=handle))
            rec.add(section="kernels", kernel=f"cudnn-frontend bf16 plan {index}: {graph.get_plan_name_at_index(index)}",
                    ms=ms, tflops=attention_tflops(ms), rel_l2_vs_cudnn=rel_l2(out, reference))  # fmt: skip
        except Exception as err:  # noqa: BLE001 - a plan that does not run is reported, not fatal
            rec.add(section="kernels", kernel=f"cudnn-frontend bf16 plan {index}", error=str(err)[:200])


def _fp8_plans(rec: Recorder, q8, k8, v8, s_q, s_k, s_v, scale) -> None:
    """Every plan cuDNN has for the FP8 graph, each timed (the engine builds heuristics A's first)."""
    from engine.storymem import attention as fa

    import cudnn

    graph, t, _ = fa._GRAPHS.get("fp8", q8, k8.shape[1], scale)
    q, k, v, o, amax_s, amax_o = (t[n] for n in ("q", "k", "v", "o", "amax_s", "amax_o"))
    scalars = t
    handle = fa._GRAPHS.handle(q8.device)
    try:
        graph.build_plans(cudnn.build_plan_policy.ALL)
    except Exception as err:  # noqa: BLE001
        rec.add(section="kernels", kernel="cuDNN sdpa_fp8 plans", error=str(err)[:200])
        return
    out, amax = torch.empty_like(q8), torch.empty(2, 1, 1, 1, 1, device="cuda")
    p = torch.full((1, 1, 1, 1), fa.P_SCALE, device="cuda")
    pack = {q: q8, k: k8, v: v8, o: out, amax_s: amax[0], amax_o: amax[1], scalars["descale_q"]: s_q, scalars["descale_k"]: s_k,
            scalars["descale_v"]: s_v, scalars["descale_s"]: 1 / p, scalars["scale_s"]: p, scalars["scale_o"]: 1 / s_v}  # fmt: skip
    for index in range(graph.get_execution_plan_count()):
        try:
            workspace = torch.empty(max(graph.get_workspace_size_plan_at_index(index), 1), dtype=torch.uint8, device="cuda")
            ms = cuda_ms(lambda: graph.execute_plan_at_index(pack, workspace, index, handle=handle))
            rec.add(section="kernels", kernel=f"cuDNN sdpa_fp8 plan {index}: {graph.get_plan_name_at_index(index)}", ms=ms, tflops=attention_tflops(ms))
        except Exception as err:  # noqa: BLE001
            rec.add(section="kernels", kernel=f"cuDNN sdpa_fp8 plan {index}", error=str(err)[:200])


def block(rec: Recorder, profile: bool, torchao: bool, only: list[str] | None = None, batch2: bool = True) -> None:
    from diffusers.models.transformers.transformer_wan import WanRotaryPosEmbed, WanTransformerBlock

    from engine.storymem.convert import shipped_config
    from engine.storymem import attention as fa
    from engine.storymem.loading import _cast_like_diffusers

    config = shipped_config("transformer_i2v_a14b.json")
    dim = config["num_attention_heads"] * config["attention_head_dim"]

    def new_block():
        torch.manual_seed(0)
        with torch.device("cuda"):
            b = WanTransformerBlock(dim, config["ffn_dim"], config["num_attention_heads"], config["qk_norm"], config["cross_attn_norm"], config["eps"])
        b._keep_in_fp32_modules = ["norm1", "norm2", "norm3", "scale_shift_table"]
        _cast_like_diffusers(b, torch.bfloat16)
        return b.eval().requires_grad_(False)

    g = torch.Generator("cuda").manual_seed(1)
    hidden = torch.randn(1, TOKENS, dim, generator=g, device="cuda", dtype=torch.bfloat16)
    text = torch.randn(1, 512, dim, generator=g, device="cuda", dtype=torch.bfloat16)
    temb = torch.randn(1, 6, dim, generator=g, device="cuda", dtype=torch.float32) * 0.1
    rope = WanRotaryPosEmbed(config["attention_head_dim"], config["patch_size"], config["rope_max_seq_len"]).to("cuda")
    rotary = rope(torch.empty(1, 36, 24, 60, 104, device="cuda"))
    reference = None
    variants = [  # name, self-attention, cross-attention, FP8 linear kernel
        ("exact, diffusers _native_cudnn (torch SDPA)", None, None, None),
        ("exact, engine cudnn (cudnn-frontend bf16)", "cudnn", "cudnn", None),
        ("exact + FP8 self-attention", "fp8", "cudnn", None),
        ("fast: FP8 attention + FP8 linears (scaled_mm)", "fp8", "cudnn", "scaled_mm"),
    ]
    if fa.cuda_support(hidden.device, "fa4") is None:
        variants.insert(2, ("exact, FlashAttention-4 (self and cross)", "fa4", "fa4", None))
    if fa.cuda_support(hidden.device, "sage") is None:
        variants.append(("exact + Sage FP8 self-attention", "sage", "cudnn", None))
        variants.append(("fast: Sage FP8 attention + FP8 linears (scaled_mm)", "sage", "cudnn", "scaled_mm"))
    if torchao:
        variants.append(("fast: FP8 attention + FP8 linears (torchao)", "fp8", "cudnn", "torchao"))
    for name, self_kernel, cross_kernel, fp8_linear in variants:
        if only and not any(word in name for word in only):
            continue
        try:
            reference = _one_block(rec, name, self_kernel, cross_kernel, fp8_linear, new_block, (hidden, text, temb, rotary), reference, profile, batch2)
        except Exception as err:  # noqa: BLE001 - a variant that does not run is reported, not fatal
            rec.add(section="block", variant=name, error=f"{type(err).__name__}: {str(err)[:300]}")
        torch._dynamo.reset()
        torch.cuda.empty_cache()


def _one_block(rec, name, self_kernel, cross_kernel, fp8_linear, new_block, inputs, reference, profile, batch2):
    """One block variant, compiled: its figures; returns the exact reference output (the first variant's)."""
    from engine.storymem.attention import install_attention
    from engine.storymem.fp8 import quantize_linears

    hidden, text, temb, rotary = inputs
    b = new_block()
    b.attn1.processor._attention_backend = b.attn2.processor._attention_backend = "_native_cudnn"
    holder = torch.nn.Module()
    holder.blocks = torch.nn.ModuleList([b])
    if self_kernel:
        install_attention(holder, self_kernel, cross_kernel)
    if fp8_linear:
        quantize_linears(holder, fp8_linear)
    with torch.no_grad():
        eager = cuda_ms(lambda: b(hidden, text, temb, rotary), warmup=1, iters=3)
        started = time.perf_counter()
        compiled = torch.compile(b, fullgraph=fp8_linear != "torchao")
        out = compiled(hidden, text, temb, rotary)
        torch.cuda.synchronize()
        compile_s = round(time.perf_counter() - started, 1)
        ms = cuda_ms(lambda: compiled(hidden, text, temb, rotary), warmup=2, iters=5)
    reference = out if reference is None else reference
    rec.add(section="block", variant=name, eager_ms=eager, compiled_ms=ms, first_call_s=compile_s,
            forward_of_40_blocks_ms=round(40 * ms, 1), rel_l2_vs_exact=rel_l2(out, reference))  # fmt: skip
    if profile:
        _timeline(rec, lambda: compiled(hidden, text, temb, rotary), name)
        _cuda_graph(rec, lambda: compiled(hidden, text, temb, rotary), name, out)
    if batch2 and self_kernel is None:  # CFG as one batch of 2 (cond + uncond) instead of two forwards
        pair = [torch.cat([x, x]) for x in (hidden, text, temb)]
        with torch.no_grad():
            compiled(*pair, rotary)
            ms2 = cuda_ms(lambda: compiled(*pair, rotary), warmup=1, iters=3)
        rec.add(section="block-batch2", variant=name, ms_per_sample=round(ms2 / 2, 3), ms_batch1=ms)
        del pair
    del b, compiled
    return reference


class _Clocks:
    """SM clock (MHz) and power (W) sampled through NVML every 5 ms while the block runs (is a block slower in a
    sustained run than its kernels in a profile because the card lowers its clock?)."""

    def __enter__(self):
        import threading

        self.samples, self._stop = [], threading.Event()
        try:
            import pynvml

            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(torch.cuda.current_device())
        except Exception:  # noqa: BLE001 - no NVML: no clock figures
            self._thread = None
            return self

        def sample():
            while not self._stop.is_set():
                self.samples.append((pynvml.nvmlDeviceGetClockInfo(handle, pynvml.NVML_CLOCK_SM), pynvml.nvmlDeviceGetPowerUsage(handle) / 1000))
                time.sleep(0.005)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def summary(self) -> dict:
        if not self.samples:
            return {"clocks": "NVML not available"}
        mhz = sorted(c for c, _ in self.samples)
        watts = sorted(w for _, w in self.samples)
        return {"sm_mhz_min_median_max": [mhz[0], mhz[len(mhz) // 2], mhz[-1]], "power_w_median_max": [round(watts[len(watts) // 2]), round(watts[-1])], "samples": len(mhz)}


def _timeline(rec: Recorder, fn, name: str, iters: int = 5) -> None:
    """A sustained run of ``iters`` back-to-back calls under the profiler: per call, the wall time (CUDA events), the
    sum of kernel times, the GPU's idle time between kernels (span minus the union of kernel intervals) and the
    largest idle gaps with the kernels around them; and the SM clock and power over 20 unprofiled calls."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    with torch.no_grad():
        fn()
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            start.record()
            for _ in range(iters):
                fn()
            end.record()
            torch.cuda.synchronize()
        with _Clocks() as clocks:
            for _ in range(20):
                fn()
            torch.cuda.synchronize()
    wall = start.elapsed_time(end) / iters
    events = sorted((e.start_ns(), e.start_ns() + e.duration_ns(), e.name()) for e in prof.profiler.kineto_results.events()
                    if e.device_type() == DeviceType.CUDA and e.duration_ns() > 0)  # fmt: skip
    busy, gaps, reach, previous = 0, [], None, None
    for begin, finish, kernel in events:
        if reach is None or begin >= reach:
            if reach is not None:
                gaps.append(((begin - reach) / 1e6, previous[:60], kernel[:60]))
            busy += finish - begin
            reach = finish
        elif finish > reach:
            busy += finish - reach
            reach = finish
        if finish >= reach:
            previous = kernel
    span = (events[-1][1] - events[0][0]) / 1e6 if events else 0.0
    kernel_sum = sum(f - b for b, f, _ in events) / 1e6
    rows = sorted(prof.key_averages(), key=lambda e: e.device_time_total, reverse=True)
    table = [{"kernel": e.key[:90], "ms_per_call": round(e.device_time_total / 1000 / iters, 3), "calls": e.count // iters} for e in rows[:12]]
    rec.add(section="block-timeline", variant=name, wall_ms=round(wall, 3), kernel_ms=round(kernel_sum / iters, 3),
            busy_ms=round(busy / 1e6 / iters, 3), idle_ms=round((span - busy / 1e6) / iters, 3), kernels_per_call=len(events) // iters,
            largest_gaps_ms=[(round(g, 3), a, b) for g, a, b in sorted(gaps, reverse=True)[:6]], top=table, **clocks.summary())  # fmt: skip


def _cuda_graph(rec: Recorder, fn, name: str, reference: torch.Tensor) -> None:
    """The compiled block captured in one CUDA graph and replayed: what launching its kernels costs."""
    try:
        with torch.no_grad():
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                fn()
            torch.cuda.current_stream().wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                out = fn()
            graph.replay()
            torch.cuda.synchronize()
            ms = cuda_ms(graph.replay, warmup=2, iters=5)
        rec.add(section="block-cuda-graph", variant=name, replay_ms=ms, rel_l2_vs_eager_call=rel_l2(out, reference))
        del graph, out
    except Exception as err:  # noqa: BLE001 - a capture that fails is reported, not fatal
        rec.add(section="block-cuda-graph", variant=name, error=f"{type(err).__name__}: {str(err)[:300]}")
    torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--sections", default="kernels,block")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--torchao", action="store_true", help="also the torchao FP8 linears (its compile took 204 s)")
    parser.add_argument("--variants", default=None, help="block variants whose names contain one of these comma-separated words (default: all)")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("bench/attention_gpu.py needs a CUDA GPU")
    rec = Recorder(args.out)
    rec.add(section="meta", device=torch.cuda.get_device_name(), torch=torch.__version__, date=time.strftime("%Y-%m-%d"))
    sections = args.sections.split(",")
    if "kernels" in sections:
        kernels(rec)
    if "block" in sections:
        block(rec, profile=not args.no_profile, torchao=args.torchao, only=args.variants.split(",") if args.variants else None)


if __name__ == "__main__":
    main()
