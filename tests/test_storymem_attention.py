"""The engine's attention kernels on a CPU: the FP8 scheme (K smoothing, per-tensor quantization, the emulated cuDNN
roundings), the Wan processor that installs it, and the refusals. The cuDNN kernels themselves run in
tests/gpu/test_storymem_presets_gpu.py."""

from __future__ import annotations

import math

import pytest
import torch

from engine.storymem import attention as fa


def sdpa(q, k, v):
    """Exact attention on (B, S, H, D) tensors."""
    return torch.nn.functional.scaled_dot_product_attention(*(x.transpose(1, 2) for x in (q, k, v))).transpose(1, 2)


def rel(a, b) -> float:
    return float((a.double() - b.double()).norm() / b.double().norm())


def qkv(seed: int = 0, s: int = 300, h: int = 4, d: int = 32, k_bias: float = 0.0):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(1, s, h, d, generator=g) for _ in range(3))
    return q, k + k_bias, v


def test_smoothing_k_leaves_attention_unchanged():
    """Softmax ignores a constant per query row: subtracting K's token mean is exact (float64)."""
    q, k, v = (x.double() for x in qkv(k_bias=5.0))
    smoothed = fa.smooth_k(k)
    assert torch.allclose(smoothed.mean(dim=1), torch.zeros_like(smoothed.mean(dim=1)), atol=1e-12)
    assert torch.allclose(sdpa(q, smoothed, v), sdpa(q, k, v), atol=1e-12)


def test_quantize_is_per_tensor_e4m3_with_its_scale():
    x = torch.randn(2, 50, 3, 8) * 7
    x8, scale = fa.quantize(x)
    assert x8.dtype == torch.float8_e4m3fn and x8.shape == x.shape and scale.shape == (1, 1, 1, 1)
    assert math.isclose(float(scale), float(x.abs().max()) / 448, rel_tol=1e-6)
    assert float(x8.float().abs().max()) == 448.0  # the largest element lands on E4M3's largest value
    assert rel(x8.float() * scale, x) < 0.04  # 3 mantissa bits
    zero8, zero_scale = fa.quantize(torch.zeros(4, 4))
    assert torch.isfinite(zero_scale).all() and not zero8.float().any()  # no division by zero


def test_fp8_attention_is_close_to_exact_but_not_equal():
    q, k, v = qkv(k_bias=3.0)
    out = fa.fp8_attention(q, k, v)
    assert out.shape == q.shape and out.dtype == q.dtype
    assert 1e-3 < rel(out, sdpa(q, k, v)) < 0.1


def test_smoothing_k_lowers_the_fp8_error_when_k_has_a_channel_bias():
    q, k, v = qkv(k_bias=3.0)
    exact = sdpa(q, k, v)
    q8, s_q = fa.quantize(q)
    v8, s_v = fa.quantize(v)
    errors = {}
    for name, keys in (("plain", k), ("smoothed", fa.smooth_k(k))):
        k8, s_k = fa.quantize(keys)
        errors[name] = rel(fa.emulate_sdpa_fp8(q8, k8, v8, s_q, s_k, s_v, 1 / math.sqrt(32)).float() * s_v, exact)
    assert errors["smoothed"] < errors["plain"]


def test_the_emulation_rounds_only_p_and_o_when_inputs_are_on_the_fp8_grid():
    """With Q, K, V already FP8 values, the emulation differs from exact attention only by P's and O's casts; its
    query chunking does not change the result."""
    q, k, v = qkv(seed=1, s=200)
    q8, s_q = fa.quantize(q)
    k8, s_k = fa.quantize(k)
    v8, s_v = fa.quantize(v)
    exact = sdpa(q8.float() * s_q, k8.float() * s_k, v8.float() * s_v)
    o8 = fa.emulate_sdpa_fp8(q8, k8, v8, s_q, s_k, s_v, 1 / math.sqrt(32))
    assert o8.dtype == torch.float8_e4m3fn
    assert 1e-4 < rel(o8.float() * s_v, exact) < 0.05
    chunked = fa.emulate_sdpa_fp8(q8, k8, v8, s_q, s_k, s_v, 1 / math.sqrt(32), chunk=7)
    assert torch.equal(chunked.float(), o8.float())


def test_bad_shapes_are_refused():
    q, k, v = qkv()
    with pytest.raises(ValueError, match="q, k, v must be"):
        fa.fp8_attention(q, k[:, :, :2], v)
    with pytest.raises(ValueError, match="q, k, v must be"):
        fa.fp8_attention(q[0], k, v)


def test_the_cudnn_ops_refuse_a_cpu_with_the_reason():
    q, k, v = qkv()
    with pytest.raises(RuntimeError, match="runs on CUDA GPUs"):
        fa.cudnn_sdpa(q.bfloat16(), k.bfloat16(), v.bfloat16(), 0.1)
    q8, s = fa.quantize(q)
    with pytest.raises(RuntimeError, match="runs on CUDA GPUs"):
        fa.cudnn_sdpa_fp8(q8, q8, q8, s, s, s, 0.1)
    assert "runs on CUDA GPUs" in fa.try_kernel("fp8", 4, 32, torch.bfloat16, "cpu")


def test_the_flashattention4_op_refuses_a_cpu_with_the_reason():
    q, k, v = qkv()
    with pytest.raises(RuntimeError, match="FlashAttention-4 runs on CUDA GPUs"):
        fa.fa4_sdpa(q.bfloat16(), k.bfloat16(), v.bfloat16(), 0.1)
    assert "FlashAttention-4 runs on CUDA GPUs" in fa.try_kernel("fa4", 4, 32, torch.bfloat16, "cpu")
    assert "FlashAttention-4 runs on CUDA GPUs" in fa.cuda_support("cpu", "fa4")
    with pytest.raises(ValueError, match="Ulysses context parallelism only"):
        fa._CP_FORWARD["fa4"](None, q, k, v, return_lse=True)


def _without_package(monkeypatch, package: str) -> None:
    """Make every import of ``package`` (and its submodules) fail, as on a machine without it."""
    import builtins

    real_import = builtins.__import__

    def missing(name, *args, **kwargs):
        if name.startswith(package):
            raise ImportError(f"No module named {package!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", missing)


def test_flashattention4_without_its_package_says_how_to_install_it(monkeypatch):
    """On a Hopper GPU without ``flash-attn-4`` the reason names the package (the engine then falls back)."""
    _without_package(monkeypatch, "flash_attn")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (9, 0))
    why = fa._fa4_support(torch.device("cuda", 0))
    assert "flash-attn-4" in why and "pip install" in why
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))
    assert "this GPU has 8.0" in fa._fa4_support(torch.device("cuda", 0))


def test_head_sizes_and_dtypes_the_kernels_take():
    assert fa.head_dim_support(128, torch.bfloat16, "fp8") is None
    assert fa.head_dim_support(128, torch.bfloat16, "cudnn") is None
    assert fa.head_dim_support(128, torch.bfloat16, "fa4") is None
    assert "multiple of 16" in fa.head_dim_support(12, torch.bfloat16, "fp8")
    assert "multiple of 8" in fa.head_dim_support(12, torch.bfloat16, "fa4")
    assert "bf16/fp16" in fa.head_dim_support(128, torch.float32, "cudnn")
    assert "bf16/fp16" in fa.head_dim_support(128, torch.float32, "fa4")


def test_context_parallel_forward_refuses_ring_attention():
    """Ring attention needs the log-sum-exp, which the FP8 kernel does not return: only Ulysses splits it."""
    q, k, v = qkv()
    with pytest.raises(ValueError, match="Ulysses context parallelism only"):
        fa._CP_FORWARD["fp8"](None, q, k, v, return_lse=True)
    assert torch.equal(fa._CP_FORWARD["fp8"](None, q, k, v), fa.fp8_attention(q, k, v))


def _tiny_wan():
    from engine.storymem import testing

    return testing.tiny_transformer()


def test_the_processor_puts_fp8_on_self_attention_only():
    """Installed on a tiny Wan model: self-attention becomes FP8 (the output moves a little), cross-attention over
    the text keeps diffusers' code (with FP8 only there, the output would not move at all)."""
    from engine.storymem.deviation import forward_inputs

    model = _tiny_wan()
    inputs = forward_inputs(model, 3, 6, 8, seed=0, text_len=16)
    with torch.no_grad():
        exact = model(**inputs, return_dict=False)[0]
        assert fa.install_attention(model, "fp8", None) == len(model.blocks)
        processors = {type(b.attn1.processor).__name__ for b in model.blocks} | {type(b.attn2.processor).__name__ for b in model.blocks}
        assert processors == {"CudnnWanAttnProcessor"}
        lossy = model(**inputs, return_dict=False)[0]
        compiled = torch.compile(model, fullgraph=True)(**inputs, return_dict=False)[0]
    assert 1e-4 < rel(lossy, exact) < 0.1
    assert rel(compiled, lossy) < 1e-4  # traceable as one graph

    calls = []
    real = fa.KERNELS["fp8"]
    fa.KERNELS["fp8"] = lambda q, k, v, scale=None: calls.append(k.shape[1]) or real(q, k, v, scale)
    try:
        with torch.no_grad():
            model(**inputs, return_dict=False)
    finally:
        fa.KERNELS["fp8"] = real
    tokens = inputs["hidden_states"].shape[2] * (inputs["hidden_states"].shape[3] // 2) * (inputs["hidden_states"].shape[4] // 2)
    assert calls == [tokens] * len(model.blocks)  # every call is self-attention over the video tokens, none over text


def test_processor_arguments_are_checked():
    with pytest.raises(ValueError, match="self_kernel must be one of"):
        fa.CudnnWanAttnProcessor("flash", None)
    with pytest.raises(ValueError, match="cross_kernel"):
        fa.CudnnWanAttnProcessor("fp8", "fp8")
    assert fa.CudnnWanAttnProcessor("fa4", "fa4").cross_kernel == "fa4"


# ------------------------------------------------------------------------------------------ sage: the wrapper around the kernel


def _bhsd_sdpa_with_lse(q, k, v, scale):
    """Exact attention over (B, H, S, D) in float64 with its natural-log log-sum-exp."""
    scores = (q.double() @ k.double().transpose(-1, -2)) * scale
    return torch.softmax(scores, dim=-1) @ v.double(), torch.logsumexp(scores, dim=-1)


def _kernel_like_cudnn(block, calls):
    """A stand-in with the contract of cudnn-frontend's Sage kernel (tests run without a GPU): whole ``block``-token
    tiles only, K smoothed by its mean over the keys given, the log-sum-exp in that smoothed frame."""

    def kernel(q, k, v, scale):
        assert q.shape[2] % block == 0 and k.shape[2] % block == 0 and q.is_contiguous() and k.is_contiguous()
        calls.append((q.shape[2], k.shape[2]))
        smoothed = k.double() - k.double().mean(dim=2, keepdim=True)
        out, lse = _bhsd_sdpa_with_lse(q, smoothed, v, scale)
        return out.to(q.dtype), lse.float()

    return kernel


@pytest.mark.parametrize("s", [64, 128, 150, 200])
def test_sage_blocks_pads_queries_and_merges_the_key_tail_exactly(s):
    """Any token count: queries padded to whole tiles, the keys past the last whole tile merged in through the
    log-sum-exps, in the kernel's smoothed frame (K with a large channel bias, as trained DiTs carry)."""
    q, k, v = (x.double() for x in qkv(seed=3, s=s, k_bias=4.0))
    calls = []
    out = fa.sage_blocks(q, k, v, 0.3, 64, _kernel_like_cudnn(64, calls))
    expected = sdpa(q * 0.3 * math.sqrt(q.shape[-1]), k, v)  # SDPA's scale is 1/sqrt(D)
    assert out.shape == q.shape and out.dtype == q.dtype
    assert rel(out, expected) < 1e-6
    assert calls == [(-(-s // 64) * 64, s - s % 64)]


def test_sage_blocks_with_cross_lengths_and_too_few_keys():
    q = torch.randn(2, 70, 3, 16, dtype=torch.float64)
    k, v = torch.randn(2, 130, 3, 16, dtype=torch.float64), torch.randn(2, 130, 3, 16, dtype=torch.float64)
    out = fa.sage_blocks(q, k, v, 0.25, 64, _kernel_like_cudnn(64, []))
    assert rel(out, sdpa(q * 0.25 * 4, k, v)) < 1e-6
    with pytest.raises(ValueError, match="at least 64 tokens"):
        fa.sage_blocks(q, k[:, :40], v[:, :40], 0.25, 64, _kernel_like_cudnn(64, []))


def test_merge_attention_is_attention_over_the_union():
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(1, 2, 9, 8, generator=g, dtype=torch.float64) for _ in range(3))
    k = k * 3
    whole, _ = _bhsd_sdpa_with_lse(q, k, v, 0.5)
    o1, l1 = _bhsd_sdpa_with_lse(q, k[:, :, :5], v[:, :, :5], 0.5)
    o2, l2 = fa.exact_with_lse(q, k[:, :, 5:], v[:, :, 5:], 0.5)
    assert torch.allclose(fa.merge_attention(o1, l1, o2, l2).double(), whole, atol=1e-6)


def test_sage_refuses_a_cpu_and_other_head_sizes_with_the_reason():
    q, k, v = qkv(d=128, s=128)
    with pytest.raises(RuntimeError, match="Sage FP8 attention runs on CUDA GPUs"):
        fa.sage_sdpa(q.bfloat16(), k.bfloat16(), v.bfloat16(), 0.1, 64)
    assert "Sage FP8 attention runs on CUDA GPUs" in fa.try_kernel("sage", 4, 128, torch.bfloat16, "cpu")
    assert fa.head_dim_support(128, torch.bfloat16, "sage") is None
    assert "head size of 128" in fa.head_dim_support(64, torch.bfloat16, "sage")
    assert "needs bf16" in fa.head_dim_support(128, torch.float16, "sage")
    with pytest.raises(ValueError, match="Ulysses context parallelism only"):
        fa._CP_FORWARD["sage"](None, q, k, v, return_lse=True)


def test_sage_without_cudnn_frontend_or_on_another_gpu_says_why(monkeypatch):
    _without_package(monkeypatch, "cudnn")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (9, 0))
    why = fa._sage_support(torch.device("cuda", 0))
    assert "nvidia-cudnn-frontend>=1.32" in why and "pip install" in why
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (10, 0))
    assert "this GPU has 10.0" in fa._sage_support(torch.device("cuda", 0))
