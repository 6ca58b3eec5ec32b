"""FP8 Ulysses (``engine.storymem.attention.ulysses_fp8_attention``) on the CPU with two real ranks over gloo: the
split attention equals the one-process ``fp8_attention`` (same global scales, K smoothed by the global mean), the
Wan processor takes that path under diffusers' Ulysses (two uint8 all-to-alls a block instead of four in the
activations' dtype) and its model output equals the one-process output, and it compiles with
``fullgraph=True``. The CUDA path (cuDNN's kernel, NCCL) runs in tests/gpu/test_storymem_parallel_gpu.py.

One module fixture spawns the two ranks once and runs every scenario; the tests read what each rank saved.

Bound on the split-vs-whole differences: both runs quantize the same q and v with the same scales (the global
``max|x|`` is exact), so q8 and v8 are bit-equal. K's smoothing mean is a float32 sum in another order: it moves
``s_k`` by a few float32 ulps (and could move a smoothed key across a rounding boundary, changing one k8 element by
one E4M3 step). Scores then move by ~1e-7 relative, which flips the FP8 rounding of a P element (one step, at most
``p / 8``) or of an O element (at most ``|O| / 8``) only where it sat on a boundary. So an output element differs
by at most ``(max|v| + |O|) / 8`` (a P step weighs at most ``max|v|``, the row sum of P being >= 1), and only a
few do: the tests allow that on at most 0.1% of the elements, and check that with the ranks' own scales the whole
sequence's emulation gives the split output bit for bit.
"""

from __future__ import annotations

import math
import os

import pytest
import torch

from engine.storymem import attention as fa

B, S, H, D = 2, 96, 4, 16  # the whole sequence; each rank holds S / 2 tokens


def _inputs(dtype: torch.dtype):
    """Seeded ``(B, S, H, D)`` q, k, v; K with a channel bias (per head and channel, as trained DiTs carry)."""
    g = torch.Generator().manual_seed(7)
    q, k, v = (torch.randn(B, S, H, D, generator=g) for _ in range(3))
    bias = 4 * torch.randn(1, 1, H, D, generator=g)
    return q.to(dtype), (k + bias).to(dtype), (v * 3).to(dtype)


def _share(x: torch.Tensor, rank: int) -> torch.Tensor:
    half = x.shape[1] // 2
    return x[:, rank * half : (rank + 1) * half]


def _rank_main(rank: int, init_file: str, out_dir: str) -> None:
    """One rank: the function on its half (float32 and bf16), the tiny Wan model under diffusers' Ulysses, and a
    compiled self-attention. Saves its results to ``out_dir/<rank>.pt``."""
    import torch.distributed as dist
    import torch.distributed._functional_collectives as funcol
    from diffusers import ContextParallelConfig
    from torch.distributed.device_mesh import init_device_mesh

    from engine.storymem import testing
    from engine.storymem.deviation import forward_inputs

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    group, saved = dist.group.WORLD, {}
    try:
        for name, dtype in (("f32", torch.float32), ("bf16", torch.bfloat16)):
            q, k, v = (_share(x, rank) for x in _inputs(dtype))
            saved[f"{name}_out"] = fa.ulysses_fp8_attention(q, k, v, group, 2)
            saved[f"{name}_q8"], saved[f"{name}_k8"], saved[f"{name}_v8"], saved[f"{name}_scales"] = fa.ulysses_fp8_quantize(q, k, v, group, 2)

        # the processor end to end: a tiny Wan model (2 heads, 36 tokens) with fp8 self-attention, Ulysses 2
        model = testing.tiny_transformer()
        fa.install_attention(model, "fp8", None)
        inputs = forward_inputs(model, 3, 6, 8, seed=1, text_len=16)
        with torch.no_grad():
            saved["model_one_process"] = model(**inputs, return_dict=False)[0]
            freqs = model.rope(inputs["hidden_states"])  # (1, 36, 1, 12) x 2, the whole sequence's
        torch.accelerator.device_count = lambda: 1  # diffusers picks a device as rank % device_count (0 on a CPU)
        mesh = init_device_mesh("cpu", (1, 2), mesh_dim_names=("ring", "ulysses"))
        model.enable_parallelism(config=ContextParallelConfig(ulysses_degree=2, mesh=mesh))
        calls = {"ulysses_fp8": 0, "template": 0, "all_to_all": []}
        real_fn, real_template, real_a2a = fa.ulysses_fp8_attention, fa._templated_context_parallel_attention, funcol.all_to_all_single

        def counted_fn(*args, **kwargs):
            calls["ulysses_fp8"] += 1
            return real_fn(*args, **kwargs)

        def counted_template(*args, **kwargs):
            calls["template"] += 1
            return real_template(*args, **kwargs)

        def counted_a2a(x, *args, **kwargs):
            calls["all_to_all"].append((str(x.dtype).removeprefix("torch."), x.numel()))
            return real_a2a(x, *args, **kwargs)

        fa.ulysses_fp8_attention, fa._templated_context_parallel_attention, funcol.all_to_all_single = counted_fn, counted_template, counted_a2a
        try:
            with torch.no_grad():
                saved["model_ulysses"] = model(**inputs, return_dict=False)[0]
        finally:
            fa.ulysses_fp8_attention, fa._templated_context_parallel_attention, funcol.all_to_all_single = real_fn, real_template, real_a2a
        saved["calls"] = calls
        saved["blocks"] = len(model.blocks)
        # the template path of before (bf16/float32 all-to-alls, scales per rank's heads), for the report
        for block in model.blocks:
            block.attn1.processor.self_kernel = "fp8_template"
        fa.KERNELS["fp8_template"], fa._CP_FORWARD["fp8_template"] = fa.fp8_attention, fa._CP_FORWARD["fp8"]
        with torch.no_grad():
            saved["model_template"] = model(**inputs, return_dict=False)[0]

        # fullgraph compile of a block's self-attention with the Ulysses config, i.e. the processor and
        # ulysses_fp8_attention (Dynamo traces the mesh's group and the functional collectives; Inductor on the CPU)
        for block in model.blocks:
            block.attn1.processor.self_kernel = "fp8"
        x = torch.randn(1, 18, 24, generator=torch.Generator().manual_seed(rank))  # (B, S / 2, H * D)
        rotary = tuple(f[:, rank * 18 : (rank + 1) * 18] for f in freqs)
        attn = model.blocks[1].attn1
        with torch.no_grad():
            saved["attn_eager"] = attn(x, rotary_emb=rotary)
            saved["attn_compiled"] = torch.compile(attn, fullgraph=True)(x, rotary_emb=rotary)
    finally:
        dist.destroy_process_group()
    torch.save(saved, os.path.join(out_dir, f"{rank}.pt"))


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    import torch.multiprocessing as mp

    out = tmp_path_factory.mktemp("ulysses-fp8")
    mp.spawn(_rank_main, args=(str(out / "init"), str(out)), nprocs=2, join=True)
    return [torch.load(out / f"{rank}.pt", weights_only=False) for rank in (0, 1)]


def _within_fp8_rounding(out: torch.Tensor, ref: torch.Tensor, max_v: float) -> dict:
    """How far ``out`` is from ``ref`` (both ``(B, S, H, D)``) and whether that is at most a flipped FP8 rounding
    of P and of O (``(max|v| + |ref|) / 8`` an element; the module docstring) on at most 0.1% of the elements."""
    diff = (out.double() - ref.double()).abs()
    differing = int((diff > 0).sum())
    bound = (max_v + ref.double().abs()) / 8 * (1 + 1e-6)
    return {"max_abs": float(diff.max()), "differing": differing, "ok": bool((diff <= bound).all()) and differing <= diff.numel() // 1000}


@pytest.mark.slow  # the ranks fixture: two spawned processes and one CPU compile, ~35 s
@pytest.mark.parametrize("name, dtype", [("f32", torch.float32), ("bf16", torch.bfloat16)])
def test_split_attention_equals_one_process_fp8_attention(ranks, name, dtype):
    q, k, v = _inputs(dtype)
    out = torch.cat([r[f"{name}_out"] for r in ranks], dim=1)  # (B, S, H, D): rank 0's tokens first
    assert out.shape == (B, S, H, D) and out.dtype == dtype
    reference = fa.fp8_attention(q, k, v)
    check = _within_fp8_rounding(out, reference, float(v.float().abs().max()))
    print(f"{name}: max |split - one process| = {check['max_abs']:.3g}, {check['differing']} of {out.numel()} elements differ")
    assert check["ok"], check
    # the whole sequence's kernel on the ranks' FP8 values and scales (K's mean in their order) gives the split
    # output exactly: the all-to-alls and the layouts lose nothing
    q8, k8, v8 = (torch.cat([r[f"{name}_{x}"] for r in ranks], dim=1) for x in ("q8", "k8", "v8"))
    s_q, s_k, s_v = (x.reshape(1, 1, 1, 1) for x in ranks[0][f"{name}_scales"])
    whole = fa.emulate_sdpa_fp8(q8, k8, v8, s_q, s_k, s_v, 1 / math.sqrt(D))
    assert torch.equal((whole.float() * s_v).to(dtype), out)
    exact = torch.nn.functional.scaled_dot_product_attention(*(x.float().transpose(1, 2) for x in (q, k, v))).transpose(1, 2)
    assert 1e-3 < float((out.float() - exact).norm() / exact.norm()) < 0.1  # FP8: near exact attention, not equal


@pytest.mark.slow  # the ranks fixture: two spawned processes and one CPU compile, ~35 s
@pytest.mark.parametrize("name, dtype", [("f32", torch.float32), ("bf16", torch.bfloat16)])
def test_scales_and_fp8_values_are_the_one_process_ones(ranks, name, dtype):
    q, k, v = _inputs(dtype)
    (q8, s_q), (k8, s_k), (v8, s_v) = fa.quantize(q), fa.quantize(fa.smooth_k(k)), fa.quantize(v)
    expected = torch.cat([s_q, s_k, s_v]).flatten()
    for r in ranks:  # the same scales on both ranks, equal to the one-process ones
        assert r[f"{name}_scales"].shape == (3,)
        assert torch.equal(r[f"{name}_scales"][[0, 2]], expected[[0, 2]])  # max|q|, max|v|: exact
        assert math.isclose(float(r[f"{name}_scales"][1]), float(s_k), rel_tol=1e-6)  # K's mean: float32 order
    for mine, whole in (("q8", q8), ("v8", v8)):
        assert torch.equal(torch.cat([r[f"{name}_{mine}"] for r in ranks], dim=1).view(torch.uint8), whole.view(torch.uint8))
    split_k8 = torch.cat([r[f"{name}_k8"] for r in ranks], dim=1).float()
    differ = split_k8 != k8.float()  # in FP8 units; smoothing by a rank's own mean would move most of them
    print(f"{name}: k8 elements that differ from one process: {int(differ.sum())} of {split_k8.numel()}")
    assert int(differ.sum()) <= split_k8.numel() // 1000
    assert bool(((split_k8 - k8.float()).abs() <= k8.float().abs() / 8 + 2.0**-9).all())  # one E4M3 step at most


@pytest.mark.slow
def test_the_processor_takes_the_fp8_ulysses_path_and_equals_one_process(ranks):
    """Under diffusers' Ulysses the fp8 processor runs ulysses_fp8_attention: two all-to-alls of uint8 per block
    (the template would run four in float32), and the model output equals the one-process output."""
    blocks = ranks[0]["blocks"]
    for r in ranks:
        calls = r["calls"]
        assert calls["ulysses_fp8"] == blocks and calls["template"] == 0
        assert len(calls["all_to_all"]) == 2 * blocks and {dtype for dtype, _ in calls["all_to_all"]} == {"uint8"}
        assert [n for _, n in calls["all_to_all"][:2]] == [3 * 18 * 2 * 12, 18 * 2 * 12]  # q|k|v of 18 tokens, then O
    one, split, template = ranks[0]["model_one_process"], ranks[0]["model_ulysses"], ranks[0]["model_template"]
    assert torch.equal(ranks[1]["model_ulysses"], split)  # every rank ends with the whole output
    deviation = float((split.double() - one.double()).norm() / one.double().norm())
    template_deviation = float((template.double() - one.double()).norm() / one.double().norm())
    print(f"model: max |ulysses - one process| = {float((split - one).abs().max()):.3g} (relative L2 {deviation:.3g}); "
          f"diffusers' template: relative L2 {template_deviation:.3g}")  # fmt: skip
    assert deviation < 1e-5


@pytest.mark.slow
def test_the_processor_path_compiles_with_fullgraph_on_the_cpu(ranks):
    """A block's self-attention with the Ulysses config compiles as one graph (fullgraph=True raises at a graph
    break), the mesh's group and the collectives included, and computes what it computes in eager mode."""
    for r in ranks:
        diff = float((r["attn_compiled"] - r["attn_eager"]).abs().max())
        print(f"compiled: max |compiled - eager| = {diff:.3g}")
        assert diff <= 1e-5 * float(r["attn_eager"].abs().max())  # Inductor may fuse the float32 arithmetic


def test_refusals():
    q, k, v = _inputs(torch.float32)
    with pytest.raises(ValueError, match="head count divisible by 3"):
        fa.ulysses_fp8_attention(q, k, v, None, 3)
    with pytest.raises(ValueError, match="q, k, v must be"):
        fa.ulysses_fp8_attention(q, k[:, :, :2], v, None, 2)


@pytest.mark.parametrize("kernel, ring, ulysses, anything, expected", [
    ("fp8", 1, 2, False, "ulysses_fp8"),  # ours
    ("fp8", 2, 1, False, "template"),  # ring: diffusers' template, whose forward op refuses it (no log-sum-exp)
    ("fp8", 2, 2, False, "template"),
    ("fp8", 1, 2, True, "template"),  # uneven splits: diffusers' Ulysses-anything
    ("cudnn", 1, 2, False, "template"),  # bf16 kernels stay on the template
    ("fa4", 1, 2, False, "template"),
])  # fmt: skip
def test_which_self_attention_runs_under_context_parallelism(monkeypatch, kernel, ring, ulysses, anything, expected):
    """The processor's routing, without processes: stand-ins record which path a self-attention call took."""
    from types import SimpleNamespace

    from engine.storymem import testing

    model = testing.tiny_transformer()
    fa.install_attention(model, kernel, None)
    mesh = SimpleNamespace(get_group=lambda: "the ulysses group")
    cp = SimpleNamespace(ring_degree=ring, ulysses_degree=ulysses, ulysses_anything=anything, _ulysses_mesh=mesh)
    attn = model.blocks[0].attn1
    attn.processor._parallel_config = SimpleNamespace(context_parallel_config=cp)
    calls = []
    monkeypatch.setattr(fa, "ulysses_fp8_attention", lambda q, k, v, group, degree: calls.append(("ulysses_fp8", group, degree)) or q)
    monkeypatch.setattr(fa, "_templated_context_parallel_attention", lambda q, *args, **kwargs: calls.append(("template",)) or q)
    freqs = model.rope(torch.zeros(1, 36, 1, 4, 4))
    attn(torch.randn(1, 4, 24), rotary_emb=freqs)
    assert calls == ([("ulysses_fp8", "the ulysses group", 2)] if expected == "ulysses_fp8" else [("template",)])
