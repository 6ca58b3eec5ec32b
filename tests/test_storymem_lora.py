"""The StoryMem LoRA: PEFT WanModel keys onto diffusers modules, fused with the rsLoRA scale."""

from __future__ import annotations

import math

import pytest
import torch

from engine.base import EngineError
from engine.storymem.lora import LoraPair, convert_storymem_lora, fuse_storymem_lora, rslora_scale
from engine.storymem.testing import TINY_TRANSFORMER, tiny_lora, tiny_transformer

DIM = TINY_TRANSFORMER["num_attention_heads"] * TINY_TRANSFORMER["attention_head_dim"]
FFN = TINY_TRANSFORMER["ffn_dim"]
LAYERS = TINY_TRANSFORMER["num_layers"]


def test_released_scale_is_rslora():
    assert rslora_scale(128, 128) == pytest.approx(11.3137, abs=1e-4)
    assert rslora_scale(128, 128) == pytest.approx(128 / math.sqrt(128))


def test_keys_map_onto_diffusers_modules():
    lora = convert_storymem_lora(tiny_lora(LAYERS, DIM, FFN))
    assert len(lora) == LAYERS * 10
    expected = {
        "blocks.0.attn1.to_q", "blocks.0.attn1.to_k", "blocks.0.attn1.to_v", "blocks.0.attn1.to_out.0",
        "blocks.0.attn2.to_q", "blocks.0.attn2.to_k", "blocks.0.attn2.to_v", "blocks.0.attn2.to_out.0",
        "blocks.0.ffn.net.0.proj", "blocks.0.ffn.net.2",
    }  # fmt: skip
    assert expected <= set(lora)
    state = tiny_lora(LAYERS, DIM, FFN)
    assert torch.equal(lora["blocks.1.attn1.to_out.0"].down, state["base_model.model.blocks.1.self_attn.o.lora_A.weight"])
    assert torch.equal(lora["blocks.1.ffn.net.2"].up, state["base_model.model.blocks.1.ffn.2.lora_B.weight"])


def test_fused_weight_is_w_plus_11_31_b_a():
    """Rank 128 = alpha, as released: every target becomes W + 11.31 * B @ A (a scale of 1.0 is the bug)."""
    model = tiny_transformer()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    state = tiny_lora(LAYERS, DIM, FFN, rank=128)
    scale = fuse_storymem_lora(model, convert_storymem_lora(state))
    assert scale == pytest.approx(11.3137, abs=1e-4)
    after = model.state_dict()
    for block in range(LAYERS):
        for wan, ours in (("self_attn.q", "attn1.to_q"), ("cross_attn.o", "attn2.to_out.0"), ("ffn.0", "ffn.net.0.proj")):
            a = state[f"base_model.model.blocks.{block}.{wan}.lora_A.weight"]
            b = state[f"base_model.model.blocks.{block}.{wan}.lora_B.weight"]
            w = before[f"blocks.{block}.{ours}.weight"]
            torch.testing.assert_close(after[f"blocks.{block}.{ours}.weight"], w + 11.3137085 * b @ a, rtol=1e-5, atol=1e-5)
            assert not torch.allclose(after[f"blocks.{block}.{ours}.weight"], w + b @ a, atol=1e-3)
    untouched = [k for k in before if ".to_q." not in k and "to_k" not in k and "to_v" not in k and "to_out" not in k and "ffn" not in k]
    assert all(torch.equal(before[k], after[k]) for k in untouched)


def test_fused_model_equals_peft_with_rslora():
    """Cross-check against PEFT itself (the reference loads the LoRA with PEFT's use_rslora)."""
    from peft import LoraConfig, inject_adapter_in_model, set_peft_model_state_dict

    state = tiny_lora(LAYERS, DIM, FFN, rank=16)
    fused = tiny_transformer()
    fuse_storymem_lora(fused, convert_storymem_lora(state))
    peft_model = tiny_transformer()
    targets = ["attn1.to_q", "attn1.to_k", "attn1.to_v", "attn1.to_out.0", "attn2.to_q", "attn2.to_k", "attn2.to_v",
               "attn2.to_out.0", "ffn.net.0.proj", "ffn.net.2"]  # fmt: skip
    config = LoraConfig(r=16, lora_alpha=16, use_rslora=True, target_modules=targets)
    peft_model = inject_adapter_in_model(config, peft_model)
    peft_state = {}
    for name, pair in convert_storymem_lora(state).items():
        peft_state[f"{name}.lora_A.weight"] = pair.down
        peft_state[f"{name}.lora_B.weight"] = pair.up
    result = set_peft_model_state_dict(peft_model, peft_state)
    assert not result.unexpected_keys
    g = torch.Generator().manual_seed(0)
    x, text = torch.randn(1, 36, 2, 4, 4, generator=g), torch.randn(1, 512, 32, generator=g)
    with torch.no_grad():
        a = fused(x, torch.tensor([700]), text, return_dict=False)[0]
        b = peft_model(x, torch.tensor([700]), text, return_dict=False)[0]
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_incomplete_lora_is_refused():
    state = tiny_lora(LAYERS, DIM, FFN)
    del state["base_model.model.blocks.1.ffn.2.lora_B.weight"]
    with pytest.raises(EngineError, match="lacks lora_A or lora_B for blocks.1.ffn.net.2"):
        convert_storymem_lora(state)


def test_foreign_keys_are_refused():
    state = tiny_lora(LAYERS, DIM, FFN)
    state["base_model.model.patch_embedding.weight"] = torch.zeros(1)
    with pytest.raises(EngineError, match="not StoryMem LoRA weights"):
        convert_storymem_lora(state)


def test_lora_for_another_model_size_is_refused():
    model = tiny_transformer()
    with pytest.raises(EngineError, match="shape mismatch"):
        fuse_storymem_lora(model, convert_storymem_lora(tiny_lora(LAYERS, DIM * 2, FFN)))
    with pytest.raises(EngineError, match="does not fit"):
        fuse_storymem_lora(model, convert_storymem_lora(tiny_lora(LAYERS + 1, DIM, FFN)))


# ---------------------------------------------------------------------------- step-distill LoRAs (turbo)

from engine.storymem.lora import LoraUpdate, convert_step_lora, fuse_into_state_dict, fuse_loras, step_lora_layout  # noqa: E402
from engine.storymem.testing import tiny_step_lora  # noqa: E402

OUT = TINY_TRANSFORMER["out_channels"] * 4


def _expected_delta(state, prefix, down, up):
    a, b = state[f"{prefix}.{down}.weight"], state[f"{prefix}.{up}.weight"]
    return float(state[f"{prefix}.alpha"]) / a.shape[0] * (b @ a)


@pytest.mark.parametrize("layout, down, up", [("lightning", "lora_A", "lora_B"), ("lightx2v", "lora_down", "lora_up")])
def test_both_published_layouts_fuse_to_the_deltas_they_describe(layout, down, up):
    """Through diffusers' converter: W + alpha/r * up @ down on every target, plus diff_b (LightX2V) on the bias
    and the full output-head difference; nothing else changes."""
    state = tiny_step_lora(layout, LAYERS, DIM, FFN, OUT)
    assert step_lora_layout(state) == layout
    pairs, found = convert_step_lora(state, source="tiny")
    assert found == layout
    model = tiny_transformer()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fuse_loras(model, [LoraUpdate(pairs=pairs, scale=1.0, source="tiny")])
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    for block in range(LAYERS):
        for wan, ours in (("self_attn.q", "attn1.to_q"), ("cross_attn.o", "attn2.to_out.0"), ("ffn.2", "ffn.net.2")):
            prefix = f"diffusion_model.blocks.{block}.{wan}"
            w = before[f"blocks.{block}.{ours}.weight"]
            torch.testing.assert_close(after[f"blocks.{block}.{ours}.weight"], w + _expected_delta(state, prefix, down, up))
            if layout == "lightx2v":
                bias = before[f"blocks.{block}.{ours}.bias"] + state[f"{prefix}.diff_b"]
                torch.testing.assert_close(after[f"blocks.{block}.{ours}.bias"], bias)
    expected_changed = LAYERS * 10 * (2 if layout == "lightx2v" else 1) + (2 if layout == "lightx2v" else 0)
    assert len(changed) == expected_changed
    if layout == "lightx2v":
        torch.testing.assert_close(after["proj_out.weight"], before["proj_out.weight"] + state["diffusion_model.head.head.diff"])


@pytest.mark.parametrize("mutate, words", [
    (lambda s: {k.replace("diffusion_model.", "lora_unet_").replace(".", "_", 3): v for k, v in s.items()}, "not a Wan2.2 step-distill LoRA"),
    (lambda s: {k.replace("diffusion_model.", "transformer."): v for k, v in s.items()}, "not a Wan2.2 step-distill LoRA"),
    (lambda s: s | {"diffusion_model.blocks.0.self_attn.q.lora_down.weight": torch.zeros(4, DIM)}, "not a Wan2.2 step-distill LoRA"),
    (lambda s: s | {"diffusion_model.blocks.0.self_attn.q.lora_magnitude_vector": torch.zeros(DIM)}, "not a Wan2.2 step-distill LoRA"),
    (lambda s: tiny_lora(LAYERS, DIM, FFN), "not a Wan2.2 step-distill LoRA"),
    (lambda s: {}, "holds no tensors"),
])  # fmt: skip
def test_unknown_layouts_are_refused_loudly(mutate, words):
    state = mutate(tiny_step_lora("lightning", LAYERS, DIM, FFN, OUT))
    with pytest.raises(EngineError, match=words) as err:
        convert_step_lora(state, source="odd.safetensors")
    assert "\n" not in str(err.value) and "lightx2v/Wan2.2-Lightning" in str(err.value) if state else True


def test_nonzero_differences_the_converter_drops_are_refused():
    state = tiny_step_lora("lightx2v", LAYERS, DIM, FFN, OUT)
    state["diffusion_model.blocks.1.norm3.diff"] = torch.full((DIM,), 0.01)
    with pytest.raises(EngineError, match="does not apply"):
        convert_step_lora(state, source="x")


def test_wan21_image_branch_layers_are_skipped_with_a_note():
    state = tiny_step_lora("lightx2v", LAYERS, DIM, FFN, OUT)
    for block in range(LAYERS):
        for m in ("k_img", "v_img"):
            state[f"diffusion_model.blocks.{block}.cross_attn.{m}.lora_down.weight"] = torch.randn(4, DIM)
            state[f"diffusion_model.blocks.{block}.cross_attn.{m}.lora_up.weight"] = torch.randn(DIM, 4)
    pairs, _ = convert_step_lora(state, source="wan21.safetensors")
    notes = fuse_loras(tiny_transformer(), [LoraUpdate(pairs=pairs, scale=1.0, source="wan21.safetensors")])
    assert notes == ["wan21.safetensors: ignored 4 layers of Wan2.1's image cross-attention (not in Wan2.2)"]


def test_a_step_lora_for_another_model_is_refused():
    pairs, _ = convert_step_lora(tiny_step_lora("lightning", LAYERS, DIM * 2, FFN, OUT), source="big")
    with pytest.raises(EngineError, match="shape mismatch"):
        fuse_loras(tiny_transformer(), [LoraUpdate(pairs=pairs, scale=1.0, source="big")])


# ---------------------------------------------------------------------------- fusion precision


def _kept(fused: torch.Tensor, base: torch.Tensor, delta: torch.Tensor) -> float:
    """The share of ``delta`` that reached the fused bf16 weight: its projection on ``delta``."""
    change = fused.double() - base.double()
    return float((change * delta.double()).sum() / (delta.double() ** 2).sum())


def test_a_1e_3_update_survives_fusion_in_float32():
    """||dW||/||W|| = 1e-3: added to weights already rounded to bf16 about half of it is lost (the old path);
    summed in float32 and rounded once it arrives whole (on average) -- and the weight is exactly round(W + dW)."""
    g = torch.Generator().manual_seed(0)
    w32 = torch.randn(512, 512, generator=g) * 0.02
    a, b = torch.randn(16, 512, generator=g), torch.randn(512, 16, generator=g)
    scale = 1e-3 * float(w32.norm() / (b @ a).norm())
    delta = scale * (b @ a)
    assert float(delta.norm() / w32.norm()) == pytest.approx(1e-3, rel=1e-4)
    update = LoraUpdate(pairs={"blocks.0.attn1.to_q": LoraPair(down=a, up=b)}, scale=scale, source="t")
    base = w32.to(torch.bfloat16)

    old = {"blocks.0.attn1.to_q.weight": base.clone()}  # fused into weights already rounded to bf16
    fuse_into_state_dict(old, [update], num_blocks=1)
    new = {"blocks.0.attn1.to_q.weight": w32.clone()}  # fused as stored, then one cast
    fuse_into_state_dict(new, [update], num_blocks=1, dtype_of=lambda key: torch.bfloat16)

    assert new["blocks.0.attn1.to_q.weight"].dtype == torch.bfloat16
    assert torch.equal(new["blocks.0.attn1.to_q.weight"], (w32 + delta).to(torch.bfloat16))
    kept_old = _kept(old["blocks.0.attn1.to_q.weight"], base, delta)
    kept_new = _kept(new["blocks.0.attn1.to_q.weight"], base, delta)
    assert kept_old < 0.75 and kept_new == pytest.approx(1.0, abs=0.05), (kept_old, kept_new)


def test_the_loader_fuses_before_the_cast(tmp_path):
    """A float32 checkpoint loaded as bf16 with the StoryMem and a step LoRA: each fused weight is
    round_bf16(W + sum of updates), formed in float32."""
    from engine.storymem.loading import discover_models, load_expert
    from engine.storymem.lora import convert_storymem_lora, load_lora_file, storymem_update
    from engine.storymem.testing import build_tiny_models

    models = build_tiny_models(tmp_path / "m", "diffusers", ("mi2v",), with_t2v=False, step_loras="lightning")
    paths = discover_models(models, need_t2v=False)
    memory = storymem_update(convert_storymem_lora(load_lora_file(paths.lora.high)))
    step_file = next((models / "Wan2.2-Lightning").rglob("high_noise_model.safetensors"))
    from safetensors.torch import load_file

    pairs, _ = convert_step_lora(load_file(str(step_file)))
    step = LoraUpdate(pairs=pairs, scale=1.0, source="step")
    fused = load_expert(paths.i2v, "high", torch.bfloat16, [memory, step]).state_dict()
    plain = load_expert(paths.i2v, "high", torch.float32).state_dict()
    name = "blocks.1.attn2.to_v"
    m, s = memory.pairs[name], step.pairs[name]
    exact = plain[f"{name}.weight"] + memory.scale * (m.up @ m.down) + s.up @ s.down
    assert torch.equal(fused[f"{name}.weight"], exact.to(torch.bfloat16))
    assert fused["blocks.0.norm2.weight"].dtype == torch.float32  # diffusers keeps norms in float32


def test_conversion_leaves_the_loaded_tensors_alone():
    """diffusers' converter scales some factors in place; converting twice must give the same LoRA."""
    state = tiny_step_lora("lightning", LAYERS, DIM, FFN, OUT)
    before = {k: v.clone() for k, v in state.items()}
    first, _ = convert_step_lora(state)
    second, _ = convert_step_lora(state)
    assert all(torch.equal(before[k], state[k]) for k in state)
    assert all(torch.equal(first[n].up @ first[n].down, second[n].up @ second[n].down) for n in first)
