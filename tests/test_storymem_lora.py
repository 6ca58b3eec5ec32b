"""The StoryMem LoRA: PEFT WanModel keys onto diffusers modules, fused with the rsLoRA scale."""

from __future__ import annotations

import math

import pytest
import torch

from engine.base import EngineError
from engine.storymem.lora import convert_storymem_lora, fuse_storymem_lora, rslora_scale
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
