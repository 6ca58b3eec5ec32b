"""Tiny random-weight Wan2.2 + StoryMem model folders, written in the same layouts as the real downloads.

:func:`build_tiny_models` writes a models folder that :func:`engine.storymem.loading.discover_models`
accepts and :class:`engine.storymem.engine.StoryMemEngine` runs on the CPU in seconds (e.g. 64x48, 9 frames,
a few steps). The original layout is produced by inverting diffusers' own Wan converters, and every file
is checked to convert back exactly, so the loader is exercised on the real key names. Seeded: the same
call writes the same weights.
"""

from __future__ import annotations

import json
import re
import string
from pathlib import Path
from typing import Iterable

import torch

from engine.storymem.loading import (
    BASE_FOLDERS,
    DIFFUSERS_EXPERTS,
    LORA_FILES,
    LORA_FOLDERS,
    ORIGINAL_EXPERTS,
    ORIGINAL_T5,
    ORIGINAL_TOKENIZER,
    ORIGINAL_VAE,
    STORYMEM_FOLDER,
    quiet_progress,
)

TINY_TRANSFORMER = {
    "patch_size": [1, 2, 2],
    "num_attention_heads": 2,
    "attention_head_dim": 12,
    "in_channels": 36,
    "out_channels": 16,
    "text_dim": 32,
    "freq_dim": 32,
    "ffn_dim": 32,
    "num_layers": 2,
    "cross_attn_norm": True,
    "qk_norm": "rms_norm_across_heads",
    "eps": 1e-6,
    "rope_max_seq_len": 32,
}
"""A 2-layer, 2-head (24-wide) Wan transformer; ``in_channels`` 36 (I2V) or 16 (T2V)."""

TINY_VAE = {
    "base_dim": 4,
    "z_dim": 16,
    "dim_mult": [1, 2, 4, 4],
    "num_res_blocks": 2,
    "attn_scales": [],
    "temperal_downsample": [False, True, True],
}
"""The Wan 2.1 VAE's structure (so the original-format converter applies) at base width 4."""

TINY_UMT5 = {
    "d_model": 32,
    "d_kv": 8,
    "d_ff": 64,
    "num_layers": 2,
    "num_decoder_layers": 2,
    "num_heads": 4,
    "relative_attention_num_buckets": 32,
    "relative_attention_max_distance": 128,
    "feed_forward_proj": "gated-gelu",
    "dense_act_fn": "gelu_new",
    "is_gated_act": True,
    "tie_word_embeddings": False,
}
"""A 2-layer umT5 encoder; ``text_dim`` of the tiny transformer is its ``d_model``."""

TINY_LORA_RANK = 8
SEED = 20261121


# ---------------------------------------------------------------------------- tiny modules


def tiny_tokenizer():
    """A character-level T5 tokenizer (no downloads): pad, eos, unk, lowercase letters, digits, space."""
    from transformers import T5Tokenizer

    symbols = string.ascii_lowercase + string.digits + ".,"
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    vocab += [(c, -1.0) for c in symbols] + [("▁" + c, -1.5) for c in symbols]
    return T5Tokenizer(vocab=vocab, extra_ids=0)


def _seeded(seed: int):
    torch.manual_seed(seed)


def tiny_transformer(in_channels: int = 36, seed: int = SEED):
    """A seeded tiny ``WanTransformer3DModel`` (float32)."""
    from diffusers import WanTransformer3DModel

    with torch.random.fork_rng(devices=[]):
        _seeded(seed)
        model = WanTransformer3DModel(**{**TINY_TRANSFORMER, "in_channels": in_channels})
    return model.eval().requires_grad_(False)


def tiny_vae(seed: int = SEED):
    """A seeded tiny ``AutoencoderKLWan`` (float32)."""
    from diffusers import AutoencoderKLWan

    with torch.random.fork_rng(devices=[]):
        _seeded(seed)
        model = AutoencoderKLWan(**TINY_VAE)
    return model.eval().requires_grad_(False)


def wan21_vae(seed: int = 0):
    """The real Wan 2.1 VAE architecture (the shipped ``vae_wan2_1.json`` config) with seeded random weights,
    float32: what the A14B engine decodes with, for tests that need its exact module layout."""
    from diffusers import AutoencoderKLWan

    from engine.storymem.convert import shipped_config

    config = {k: v for k, v in shipped_config("vae_wan2_1.json").items() if not k.startswith("_")}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return AutoencoderKLWan(**config).eval().requires_grad_(False)


def tiny_text_encoder(vocab_size: int, seed: int = SEED):
    """A seeded tiny ``UMT5EncoderModel`` (float32)."""
    from transformers import UMT5Config, UMT5EncoderModel

    with torch.random.fork_rng(devices=[]):
        _seeded(seed)
        model = UMT5EncoderModel(UMT5Config(vocab_size=vocab_size, **TINY_UMT5))
    return model.eval().requires_grad_(False)


def tiny_lora(num_layers: int, dim: int, ffn_dim: int, rank: int = TINY_LORA_RANK, seed: int = SEED):
    """A seeded StoryMem-style LoRA state dict (PEFT ``WanModel`` keys) for a transformer of the given size."""
    shapes = {"self_attn": (dim, dim), "cross_attn": (dim, dim)}
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for block in range(num_layers):
        targets = [(f"{a}.{p}", shapes[a]) for a in shapes for p in "qkvo"]
        targets += [("ffn.0", (ffn_dim, dim)), ("ffn.2", (dim, ffn_dim))]
        for module, (out_features, in_features) in targets:
            prefix = f"base_model.model.blocks.{block}.{module}"
            state[f"{prefix}.lora_A.weight"] = torch.randn(rank, in_features, generator=generator) * 0.1
            state[f"{prefix}.lora_B.weight"] = torch.randn(out_features, rank, generator=generator) * 0.02
    return state


STEP_LORA_FILES = {
    "lightx2v": ("Wan2.2-Distill-Loras", "wan2.2_{kind}_A14b_{which}_noise_lora_rank64_lightx2v_4step_1022.safetensors"),
    "lightning": ("Wan2.2-Lightning", "Wan2.2-{KIND}-A14B-4steps-lora-rank64-Seko-V1/{which}_noise_model.safetensors"),
}
"""Where :func:`build_tiny_models` writes step-distill LoRAs, as the public releases name them."""


def tiny_step_lora(layout: str, num_layers: int, dim: int, ffn_dim: int, out_dim: int, rank: int = 4, seed: int = SEED):
    """A seeded synthetic Wan2.2 step-distill LoRA in one of the two published key layouts:

    * ``lightning``: ``diffusion_model.blocks.N.<module>.lora_A.weight`` / ``lora_B.weight`` and ``.alpha``;
    * ``lightx2v``: ``diffusion_model.blocks.N.<module>.lora_down.weight`` / ``lora_up.weight``, ``.alpha``,
      bias differences ``.diff_b``, zero norm differences ``.diff`` and the output head as a full ``head.head.diff``
      (+ ``diff_b``), as LightX2V's files carry them."""
    if layout not in STEP_LORA_FILES:
        raise ValueError(f"layout must be one of {sorted(STEP_LORA_FILES)}, got {layout!r}")
    generator = torch.Generator().manual_seed(seed)
    down, up = ("lora_A", "lora_B") if layout == "lightning" else ("lora_down", "lora_up")
    state = {}
    for block in range(num_layers):
        targets = [(f"{a}.{p}", (dim, dim)) for a in ("self_attn", "cross_attn") for p in "qkvo"]
        targets += [("ffn.0", (ffn_dim, dim)), ("ffn.2", (dim, ffn_dim))]
        for module, (out_features, in_features) in targets:
            prefix = f"diffusion_model.blocks.{block}.{module}"
            state[f"{prefix}.{down}.weight"] = torch.randn(rank, in_features, generator=generator) * 0.1
            state[f"{prefix}.{up}.weight"] = torch.randn(out_features, rank, generator=generator) * 0.05
            state[f"{prefix}.alpha"] = torch.tensor(float(rank) / 2)
            if layout == "lightx2v":
                state[f"{prefix}.diff_b"] = torch.randn(out_features, generator=generator) * 0.01
        if layout == "lightx2v":
            state[f"diffusion_model.blocks.{block}.norm3.diff"] = torch.zeros(dim)
            state[f"diffusion_model.blocks.{block}.self_attn.norm_q.diff"] = torch.zeros(dim)
    if layout == "lightx2v":
        state["diffusion_model.head.head.diff"] = torch.randn(out_dim, dim, generator=generator) * 0.01
        state["diffusion_model.head.head.diff_b"] = torch.randn(out_dim, generator=generator) * 0.01
    return state


def write_tiny_step_loras(root: str | Path, layout: str, kinds: Iterable[str] = ("i2v", "t2v"), seed: int = SEED) -> Path:
    """Write a tiny step-distill LoRA per expert for each of ``kinds`` under the models folder ``root``, named as
    the public release of ``layout`` names them."""
    from safetensors.torch import save_file

    root = Path(root)
    folder, pattern = STEP_LORA_FILES[layout]
    dim = TINY_TRANSFORMER["num_attention_heads"] * TINY_TRANSFORMER["attention_head_dim"]
    out_dim = TINY_TRANSFORMER["out_channels"] * 4  # patch (1, 2, 2)
    for k, kind in enumerate(kinds):
        for w, which in enumerate(("high", "low")):
            path = root / folder / pattern.format(kind=kind, KIND=kind.upper(), which=which)
            path.parent.mkdir(parents=True, exist_ok=True)
            state = tiny_step_lora(layout, TINY_TRANSFORMER["num_layers"], dim, TINY_TRANSFORMER["ffn_dim"], out_dim,
                                   seed=seed + 2000 + 10 * k + w)  # fmt: skip
            save_file({key: t.contiguous() for key, t in state.items()}, str(path))
    return root


def tiny_pipeline(kind: str = "m2v", seed: int = SEED):
    """An in-memory :class:`~engine.storymem.pipeline.StoryMemPipeline` on tiny seeded components:
    ``m2v`` (I2V experts, boundary 0.9, shift 4) or ``t2v`` (T2V experts, boundary 0.875, shift 12)."""
    from engine.storymem.pipeline import StoryMemPipeline
    from engine.storymem.scheduling import M2V_SAMPLER, T2V_SAMPLER, make_scheduler

    sampler = M2V_SAMPLER if kind == "m2v" else T2V_SAMPLER
    in_channels = 36 if kind == "m2v" else 16
    tokenizer = tiny_tokenizer()
    return StoryMemPipeline(
        tokenizer=tokenizer,
        text_encoder=tiny_text_encoder(len(tokenizer), seed=seed + 4),
        vae=tiny_vae(seed=seed + 3),
        scheduler=make_scheduler(sampler.shift),
        transformer=tiny_transformer(in_channels, seed=seed + 1),
        transformer_2=tiny_transformer(in_channels, seed=seed + 2),
        boundary_ratio=sampler.boundary_ratio,
    )


# ---------------------------------------------------------------------------- diffusers -> original keys

_TRANSFORMER_RENAMES = [
    ("condition_embedder.time_embedder.linear_1", "time_embedding.0"),
    ("condition_embedder.time_embedder.linear_2", "time_embedding.2"),
    ("condition_embedder.text_embedder.linear_1", "text_embedding.0"),
    ("condition_embedder.text_embedder.linear_2", "text_embedding.2"),
    ("condition_embedder.time_proj", "time_projection.1"),
    ("attn1.", "self_attn."),
    ("attn2.", "cross_attn."),
    (".to_out.0.", ".o."),
    (".to_q.", ".q."),
    (".to_k.", ".k."),
    (".to_v.", ".v."),
    ("ffn.net.0.proj", "ffn.0"),
    ("ffn.net.2", "ffn.2"),
    ("proj_out", "head.head"),
]


def transformer_to_original(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """diffusers ``WanTransformer3DModel`` keys -> Wan ``WanModel`` keys (inverse of diffusers' converter)."""
    out = {}
    for key, tensor in state.items():
        new = key
        for old, orig in _TRANSFORMER_RENAMES:
            new = new.replace(old, orig)
        if new == "scale_shift_table":
            new = "head.modulation"
        new = re.sub(r"^(blocks\.\d+\.)scale_shift_table$", r"\1modulation", new)
        new = re.sub(r"^(blocks\.\d+\.)norm([23])\.", lambda m: f"{m.group(1)}norm{5 - int(m.group(2))}.", new)
        out[new] = tensor
    return out


_RESNET = {"norm1": "residual.0", "conv1": "residual.2", "norm2": "residual.3", "conv2": "residual.6"}


def _resnet_part(part: str) -> str:
    name, _, rest = part.partition(".")
    if name in _RESNET:
        return f"{_RESNET[name]}.{rest}"
    if name == "conv_shortcut":
        return f"shortcut.{rest}"
    return part


def vae_to_original(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """diffusers ``AutoencoderKLWan`` keys -> ``Wan2.1_VAE.pth`` keys (inverse of diffusers' converter, for
    the Wan 2.1 structure: 2 residual blocks per stage, 3 per decoder stage)."""
    fixed = {"quant_conv": "conv1", "post_quant_conv": "conv2"}
    out = {}
    for key, tensor in state.items():
        head, _, rest = key.partition(".")
        if head in fixed:
            out[f"{fixed[head]}.{rest}"] = tensor
            continue
        side, _, rest = key.partition(".")  # encoder / decoder
        part, _, tail = rest.partition(".")
        if part == "conv_in":
            new = f"conv1.{tail}"
        elif part == "norm_out":
            new = f"head.0.{tail}"
        elif part == "conv_out":
            new = f"head.2.{tail}"
        elif part == "mid_block":
            kind, index, inner = tail.split(".", 2)
            new = f"middle.1.{inner}" if kind == "attentions" else f"middle.{2 * int(index)}.{_resnet_part(inner)}"
        elif part == "down_blocks":
            index, inner = tail.split(".", 1)
            new = f"downsamples.{index}.{_resnet_part(inner)}"
        elif part == "up_blocks":
            block, kind, index, inner = tail.split(".", 3)
            if kind == "resnets":
                new = f"upsamples.{4 * int(block) + int(index)}.{_resnet_part(inner)}"
            else:  # upsamplers.0
                new = f"upsamples.{4 * int(block) + 3}.{inner}"
        else:
            raise ValueError(f"unexpected VAE key {key}")
        out[f"{side}.{new}"] = tensor
    return out


def umt5_to_original(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """transformers ``UMT5EncoderModel`` keys -> Wan's T5 encoder keys (inverse of
    :func:`engine.storymem.convert.convert_original_umt5`)."""
    from engine.storymem.convert import _T5_BLOCK_KEYS

    inverse = {hf: wan for wan, hf in _T5_BLOCK_KEYS.items()}
    out = {}
    for key, tensor in state.items():
        if key == "shared.weight":
            out["token_embedding.weight"] = tensor
        elif key == "encoder.final_layer_norm.weight":
            out["norm.weight"] = tensor
        elif m := re.match(r"^encoder\.block\.(\d+)\.(.+)$", key):
            out[f"blocks.{m.group(1)}.{inverse[m.group(2)]}"] = tensor
    return out


def _assert_round_trip(original: dict, expected: dict, convert, what: str) -> None:
    converted = convert(dict(original))
    if set(converted) != set(expected) or any(not torch.equal(converted[k], expected[k]) for k in expected):
        raise AssertionError(f"tiny {what} does not convert back to diffusers keys exactly")


# ---------------------------------------------------------------------------- writing folders


def _write_sharded_safetensors(state: dict[str, torch.Tensor], folder: Path, stem: str, shards: int = 2) -> None:
    from safetensors.torch import save_file

    keys = sorted(state)
    chunks = [keys[i::shards] for i in range(shards)]
    weight_map = {}
    for i, chunk in enumerate(chunks, start=1):
        name = f"{stem}-{i:05d}-of-{shards:05d}.safetensors"
        save_file({k: state[k].contiguous() for k in chunk}, str(folder / name), metadata={"format": "pt"})
        weight_map.update({k: name for k in chunk})
    index = {"metadata": {"total_size": sum(t.numel() * t.element_size() for t in state.values())}, "weight_map": weight_map}
    (folder / f"{stem}.safetensors.index.json").write_text(json.dumps(index, indent=2), encoding="utf-8")


def _write_base_diffusers(root: Path, kind: str, seed: int) -> None:
    from engine.storymem.scheduling import M2V_SAMPLER, T2V_SAMPLER, make_scheduler

    in_channels = 36 if kind == "i2v" else 16
    tokenizer = tiny_tokenizer()
    for which, folder in DIFFUSERS_EXPERTS.items():
        expert = tiny_transformer(in_channels, seed=seed + (1 if which == "high" else 2))
        (root / folder).mkdir(parents=True)
        expert.save_config(root / folder)
        _write_sharded_safetensors(expert.state_dict(), root / folder, "diffusion_pytorch_model")
    with quiet_progress():
        tiny_vae(seed=seed + 3).save_pretrained(root / "vae")
        tiny_text_encoder(len(tokenizer), seed=seed + 4).save_pretrained(root / "text_encoder")
    tokenizer.save_pretrained(root / "tokenizer")
    sampler = M2V_SAMPLER if kind == "i2v" else T2V_SAMPLER
    make_scheduler(sampler.shift).save_pretrained(root / "scheduler")
    index = {
        "_class_name": "WanImageToVideoPipeline" if kind == "i2v" else "WanPipeline",
        "boundary_ratio": sampler.boundary_ratio,
        "expand_timesteps": False,
        "scheduler": ["diffusers", "UniPCMultistepScheduler"],
        "text_encoder": ["transformers", "UMT5EncoderModel"],
        "tokenizer": ["transformers", "T5Tokenizer"],
        "transformer": ["diffusers", "WanTransformer3DModel"],
        "transformer_2": ["diffusers", "WanTransformer3DModel"],
        "vae": ["diffusers", "AutoencoderKLWan"],
    }
    if kind == "i2v":
        index.update(image_encoder=[None, None], image_processor=[None, None])
    (root / "model_index.json").write_text(json.dumps(index, indent=2), encoding="utf-8")


def _write_base_original(root: Path, kind: str, seed: int) -> None:
    from diffusers.loaders.single_file_utils import convert_wan_transformer_to_diffusers, convert_wan_vae_to_diffusers

    from engine.storymem.convert import convert_original_umt5

    in_channels = 36 if kind == "i2v" else 16
    tokenizer = tiny_tokenizer()
    for which, folder in ORIGINAL_EXPERTS.items():
        expert = tiny_transformer(in_channels, seed=seed + (1 if which == "high" else 2))
        state = expert.state_dict()
        original = transformer_to_original(state)
        _assert_round_trip(original, state, convert_wan_transformer_to_diffusers, "transformer")
        (root / folder).mkdir(parents=True)
        config = {
            "_class_name": "WanModel",
            "_diffusers_version": "0.33.0",
            "model_type": kind,
            "patch_size": TINY_TRANSFORMER["patch_size"],
            "text_len": 512,
            "in_dim": in_channels,
            "dim": TINY_TRANSFORMER["num_attention_heads"] * TINY_TRANSFORMER["attention_head_dim"],
            "ffn_dim": TINY_TRANSFORMER["ffn_dim"],
            "freq_dim": TINY_TRANSFORMER["freq_dim"],
            "text_dim": TINY_TRANSFORMER["text_dim"],
            "out_dim": TINY_TRANSFORMER["out_channels"],
            "num_heads": TINY_TRANSFORMER["num_attention_heads"],
            "num_layers": TINY_TRANSFORMER["num_layers"],
            "eps": TINY_TRANSFORMER["eps"],
        }
        (root / folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
        _write_sharded_safetensors(original, root / folder, "diffusion_pytorch_model")
    vae_state = tiny_vae(seed=seed + 3).state_dict()
    vae_original = vae_to_original(vae_state)
    _assert_round_trip(vae_original, vae_state, convert_wan_vae_to_diffusers, "VAE")
    torch.save(vae_original, root / ORIGINAL_VAE)
    t5_state = tiny_text_encoder(len(tokenizer), seed=seed + 4).state_dict()
    t5_original = umt5_to_original(t5_state)
    _assert_round_trip(t5_original, t5_state, convert_original_umt5, "umT5")
    torch.save(t5_original, root / ORIGINAL_T5)
    tokenizer.save_pretrained(root / ORIGINAL_TOKENIZER)


def build_tiny_models(
    root: str | Path,
    layout: str = "diffusers",
    variants: Iterable[str] = ("mi2v",),
    *,
    with_t2v: bool = True,
    seed: int = SEED,
    step_loras: str | None = None,
) -> Path:
    """Write a tiny models folder under ``root`` and return it: ``Wan2.2-I2V-A14B[-Diffusers]/``,
    ``Wan2.2-T2V-A14B[-Diffusers]/`` (when ``with_t2v``) in ``layout`` (``diffusers`` or ``original``),
    ``StoryMem/Wan2.2-{MI2V,MM2V}-A14B/backbone_{high,low}_noise.pth`` for each of ``variants``, and with
    ``step_loras`` (``lightx2v`` or ``lightning``) the 4-step distill LoRAs of ``--preset turbo``."""
    if layout not in ("diffusers", "original"):
        raise ValueError(f"layout must be 'diffusers' or 'original', got {layout!r}")
    root = Path(root)
    writer = _write_base_diffusers if layout == "diffusers" else _write_base_original
    for kind in ("i2v", "t2v") if with_t2v else ("i2v",):
        folder = root / BASE_FOLDERS[kind][layout]
        folder.mkdir(parents=True, exist_ok=False)
        writer(folder, kind, seed + (0 if kind == "i2v" else 100))
    dim = TINY_TRANSFORMER["num_attention_heads"] * TINY_TRANSFORMER["attention_head_dim"]
    for offset, variant in enumerate(variants):
        folder = root / STORYMEM_FOLDER / LORA_FOLDERS[variant]
        folder.mkdir(parents=True, exist_ok=False)
        for which, name in LORA_FILES.items():
            lora_seed = seed + 1000 + 10 * offset + (1 if which == "high" else 2)
            lora = tiny_lora(TINY_TRANSFORMER["num_layers"], dim, TINY_TRANSFORMER["ffn_dim"], seed=lora_seed)
            torch.save(lora, folder / name)
    if step_loras:
        write_tiny_step_loras(root, step_loras, ("i2v", "t2v") if with_t2v else ("i2v",), seed=seed)
    return root
