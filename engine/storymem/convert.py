"""Original Wan-format checkpoints -> diffusers/transformers modules: configs and state-dict keys.

The original repositories (``Wan-AI/Wan2.2-I2V-A14B``, ``Wan-AI/Wan2.2-T2V-A14B``) hold each expert as a
``WanModel`` (``high_noise_model/``, ``low_noise_model/``: ``config.json`` + safetensors shards), the VAE as
``Wan2.1_VAE.pth`` and the umT5-XXL encoder as ``models_t5_umt5-xxl-enc-bf16.pth`` (Wan's own T5 module
names). Transformer and VAE keys go through diffusers' own single-file converters; the umT5 keys are mapped
here onto transformers' ``UMT5EncoderModel``. Configs the original files do not carry are read off the
tensors' shapes, so the same code loads the real A14B weights and the tiny test models.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

import torch

StateDict = dict[str, torch.Tensor]


def shipped_config(name: str) -> dict[str, Any]:
    """A model config shipped in ``engine/storymem/configs/`` (e.g. ``umt5_xxl.json``)."""
    text = resources.files("engine.storymem").joinpath("configs").joinpath(name).read_text(encoding="utf-8")
    return json.loads(text)


# ---------------------------------------------------------------------------- transformer


def transformer_config_from_original(config: dict[str, Any]) -> dict[str, Any]:
    """A ``WanModel`` ``config.json`` (``dim``, ``num_heads``, ``in_dim``, ...) -> ``WanTransformer3DModel`` kwargs."""
    missing = [k for k in ("dim", "num_heads", "num_layers", "ffn_dim", "in_dim", "out_dim") if k not in config]
    if missing:
        raise ValueError(f"WanModel config lacks {', '.join(missing)}")
    if config["dim"] % config["num_heads"]:
        raise ValueError(f"WanModel dim {config['dim']} is not a multiple of num_heads {config['num_heads']}")
    return {
        "patch_size": list(config.get("patch_size", [1, 2, 2])),
        "num_attention_heads": config["num_heads"],
        "attention_head_dim": config["dim"] // config["num_heads"],
        "in_channels": config["in_dim"],
        "out_channels": config["out_dim"],
        "text_dim": config.get("text_dim", 4096),
        "freq_dim": config.get("freq_dim", 256),
        "ffn_dim": config["ffn_dim"],
        "num_layers": config["num_layers"],
        "cross_attn_norm": config.get("cross_attn_norm", True),
        "qk_norm": "rms_norm_across_heads" if config.get("qk_norm", True) else None,
        "eps": config.get("eps", 1e-6),
        "image_dim": None,
        "added_kv_proj_dim": None,
        "rope_max_seq_len": 1024,
        "pos_embed_seq_len": None,
    }


def convert_original_transformer(state_dict: StateDict) -> StateDict:
    """``WanModel`` keys -> ``WanTransformer3DModel`` keys (diffusers' converter; the input is consumed)."""
    from diffusers.loaders.single_file_utils import convert_wan_transformer_to_diffusers

    return convert_wan_transformer_to_diffusers(state_dict)


# ---------------------------------------------------------------------------- VAE

_VAE_STAGE_STARTS = (0, 3, 6, 9)  # encoder.downsamples index of each stage's first residual block
_VAE_RESAMPLES = (2, 5, 8)  # encoder.downsamples index of each stage's downsampler


def vae_config_from_original(state_dict: StateDict) -> dict[str, Any]:
    """The ``AutoencoderKLWan`` config of a ``Wan2.1_VAE.pth`` state dict, read off its shapes (Wan 2.1's
    structure: 4 stages of 2 residual blocks; base width, width multipliers, latent size and temporal
    downsampling are read). Raises ``ValueError`` when the file is not a Wan 2.1 VAE."""
    try:
        base_dim = state_dict["encoder.conv1.weight"].shape[0]
        z_dim = state_dict["conv1.weight"].shape[0] // 2
        widths = [state_dict[f"encoder.downsamples.{i}.residual.6.weight"].shape[0] for i in _VAE_STAGE_STARTS]
    except KeyError as err:
        raise ValueError(f"not a Wan 2.1 VAE state dict (no {err.args[0]})") from None
    if any(w % base_dim for w in widths):
        raise ValueError(f"not a Wan 2.1 VAE state dict (stage widths {widths} vs base {base_dim})")
    config = shipped_config("vae_wan2_1.json")
    config.pop("_class_name", None)
    config.update(
        base_dim=base_dim,
        z_dim=z_dim,
        dim_mult=[w // base_dim for w in widths],
        temperal_downsample=[f"encoder.downsamples.{i}.time_conv.weight" in state_dict for i in _VAE_RESAMPLES],
    )
    return config


def convert_original_vae(state_dict: StateDict) -> StateDict:
    """``Wan2.1_VAE.pth`` keys -> ``AutoencoderKLWan`` keys (diffusers' converter)."""
    from diffusers.loaders.single_file_utils import convert_wan_vae_to_diffusers

    return convert_wan_vae_to_diffusers(state_dict)


# ---------------------------------------------------------------------------- umT5

_T5_BLOCK_KEYS = {
    "norm1.weight": "layer.0.layer_norm.weight",
    "attn.q.weight": "layer.0.SelfAttention.q.weight",
    "attn.k.weight": "layer.0.SelfAttention.k.weight",
    "attn.v.weight": "layer.0.SelfAttention.v.weight",
    "attn.o.weight": "layer.0.SelfAttention.o.weight",
    "pos_embedding.embedding.weight": "layer.0.SelfAttention.relative_attention_bias.weight",
    "norm2.weight": "layer.1.layer_norm.weight",
    "ffn.gate.0.weight": "layer.1.DenseReluDense.wi_0.weight",  # gelu(gate(x)) ...
    "ffn.fc1.weight": "layer.1.DenseReluDense.wi_1.weight",  # ... * fc1(x)
    "ffn.fc2.weight": "layer.1.DenseReluDense.wo.weight",
}
_T5_BLOCK = re.compile(r"^blocks\.(\d+)\.(.+)$")


def umt5_config_from_original(state_dict: StateDict) -> dict[str, Any]:
    """The ``UMT5Config`` of Wan's T5 encoder state dict: umT5-XXL's settings with the sizes read off the tensors."""
    try:
        vocab_size, d_model = state_dict["token_embedding.weight"].shape
        num_buckets, num_heads = state_dict["blocks.0.pos_embedding.embedding.weight"].shape
        d_ff = state_dict["blocks.0.ffn.fc1.weight"].shape[0]
        inner = state_dict["blocks.0.attn.q.weight"].shape[0]
    except KeyError as err:
        raise ValueError(f"not a Wan umT5 encoder state dict (no {err.args[0]})") from None
    num_layers = 1 + max(int(m.group(1)) for k in state_dict if (m := _T5_BLOCK.match(k)))
    config = shipped_config("umt5_xxl.json")
    config.update(
        vocab_size=vocab_size,
        d_model=d_model,
        d_kv=inner // num_heads,
        d_ff=d_ff,
        num_layers=num_layers,
        num_decoder_layers=num_layers,
        num_heads=num_heads,
        relative_attention_num_buckets=num_buckets,
    )
    return config


def convert_original_umt5(state_dict: StateDict) -> StateDict:
    """Wan's T5 encoder keys (``models_t5_umt5-xxl-enc-bf16.pth``) -> ``UMT5EncoderModel`` keys.
    Raises ``ValueError`` naming any key it does not know."""
    out: StateDict = {}
    unknown = []
    for key, tensor in state_dict.items():
        if key == "token_embedding.weight":
            out["shared.weight"] = tensor
            out["encoder.embed_tokens.weight"] = tensor
        elif key == "norm.weight":
            out["encoder.final_layer_norm.weight"] = tensor
        elif (m := _T5_BLOCK.match(key)) and m.group(2) in _T5_BLOCK_KEYS:
            out[f"encoder.block.{m.group(1)}.{_T5_BLOCK_KEYS[m.group(2)]}"] = tensor
        else:
            unknown.append(key)
    if unknown:
        raise ValueError(f"unexpected keys in the umT5 checkpoint: {', '.join(sorted(unknown)[:5])}")
    return out
