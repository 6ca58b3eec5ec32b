"""Finding and loading downloaded weights: both layouts, one error listing everything missing, the models
folder from flag / environment / config file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from engine.base import EngineError
from engine.storymem import loading
from engine.storymem.loading import (
    available_variants,
    discover_models,
    load_expert,
    load_text_encoder,
    load_vae,
    resolve_models_dir,
    storymem_available,
)
from engine.storymem.testing import build_tiny_models, tiny_text_encoder, tiny_tokenizer, tiny_transformer, tiny_vae


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {
        "diffusers": build_tiny_models(root / "d", "diffusers", ("mi2v", "mm2v")),
        "original": build_tiny_models(root / "o", "original", ("mi2v",)),
    }


@pytest.mark.parametrize("layout", ["diffusers", "original"])
def test_discover_finds_each_layout(tiny, layout):
    paths = discover_models(tiny[layout], variant="mi2v")
    assert paths.i2v.layout == layout and paths.t2v.layout == layout
    assert paths.i2v.root.name == ("Wan2.2-I2V-A14B-Diffusers" if layout == "diffusers" else "Wan2.2-I2V-A14B")
    assert paths.lora.high.name == "backbone_high_noise.pth" and paths.lora.low.name == "backbone_low_noise.pth"
    assert paths.lora.high.parent.name == "Wan2.2-MI2V-A14B"


def test_variants_found(tiny):
    assert available_variants(tiny["diffusers"]) == ["mi2v", "mm2v"]
    assert available_variants(tiny["original"]) == ["mi2v"]
    assert discover_models(tiny["diffusers"], variant="mm2v").lora.variant == "mm2v"


@pytest.mark.parametrize("layout", ["diffusers", "original"])
def test_loaded_components_equal_the_saved_ones(tiny, layout):
    """Both layouts hold the same seeded weights; loading either gives them back exactly."""
    base = discover_models(tiny[layout]).i2v
    expected = tiny_transformer(36, seed=20261121 + 1).state_dict()
    high = load_expert(base, "high", torch.float32)
    assert set(high.state_dict()) == set(expected)
    assert all(torch.equal(high.state_dict()[k], v) for k, v in expected.items())
    vae = load_vae(base)
    assert all(torch.equal(vae.state_dict()[k], v) for k, v in tiny_vae(seed=20261121 + 3).state_dict().items())
    tokenizer, encoder = load_text_encoder(base, torch.float32)
    reference = tiny_text_encoder(len(tiny_tokenizer()), seed=20261121 + 4)
    ids = tokenizer(["a cat walks"], return_tensors="pt")
    with torch.no_grad():
        assert torch.equal(encoder(**ids).last_hidden_state, reference(**ids).last_hidden_state)


def test_original_layout_keeps_fp32_modules_like_diffusers(tiny):
    base = discover_models(tiny["original"]).i2v
    reference = load_expert(discover_models(tiny["diffusers"]).i2v, "low", torch.bfloat16)
    model = load_expert(base, "low", torch.bfloat16)
    dtypes = {k: v.dtype for k, v in model.state_dict().items()}
    assert dtypes == {k: v.dtype for k, v in reference.state_dict().items()}
    assert dtypes["blocks.0.attn1.to_q.weight"] == torch.bfloat16 and dtypes["blocks.0.scale_shift_table"] == torch.float32


def _copy(tiny, layout, tmp_path) -> Path:
    target = tmp_path / layout
    shutil.copytree(tiny[layout], target)
    return target


def test_one_error_lists_everything_missing_and_how_to_download(tiny, tmp_path):
    models = _copy(tiny, "original", tmp_path)
    (models / "Wan2.2-I2V-A14B" / "Wan2.1_VAE.pth").unlink()
    next((models / "Wan2.2-I2V-A14B" / "low_noise_model").glob("*-00002-of-00002.safetensors")).unlink()
    shutil.rmtree(models / "Wan2.2-T2V-A14B")
    (models / "StoryMem" / "Wan2.2-MI2V-A14B" / "backbone_low_noise.pth").unlink()
    with pytest.raises(EngineError) as err:
        discover_models(models, variant="mi2v")
    message = str(err.value)
    assert "\n" not in message
    assert "Wan2.1_VAE.pth is missing" in message
    assert "diffusion_pytorch_model-00002-of-00002.safetensors is missing" in message
    assert "no Wan2.2-T2V-A14B or Wan2.2-T2V-A14B-Diffusers folder" in message
    assert "backbone_low_noise.pth is missing" in message
    assert f"huggingface-cli download Wan-AI/Wan2.2-I2V-A14B --local-dir {models / 'Wan2.2-I2V-A14B'}" in message
    assert f"huggingface-cli download Wan-AI/Wan2.2-T2V-A14B --local-dir {models / 'Wan2.2-T2V-A14B'}" in message
    assert f"huggingface-cli download Kevin-thu/StoryMem --local-dir {models / 'StoryMem'}" in message


def test_t2v_is_optional(tiny, tmp_path):
    models = _copy(tiny, "diffusers", tmp_path)
    shutil.rmtree(models / "Wan2.2-T2V-A14B-Diffusers")
    assert discover_models(models, need_t2v=False).t2v is None
    with pytest.raises(EngineError, match="Wan-AI/Wan2.2-T2V-A14B"):
        discover_models(models)


def test_mismatched_and_pointer_files_are_reported(tiny, tmp_path):
    models = _copy(tiny, "diffusers", tmp_path)
    config = models / "Wan2.2-I2V-A14B-Diffusers" / "transformer" / "config.json"
    config.write_text(json.dumps(json.loads(config.read_text()) | {"in_channels": 16}))
    (models / "StoryMem" / "Wan2.2-MI2V-A14B" / "backbone_high_noise.pth").write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n"
    )
    with pytest.raises(EngineError) as err:
        discover_models(models)
    assert "in_channels=16, expected 36" in str(err.value)
    assert "backbone_high_noise.pth is a Git LFS pointer" in str(err.value)
    assert "Wan-AI/Wan2.2-I2V-A14B-Diffusers" in str(err.value)


def test_missing_models_folder(tmp_path):
    with pytest.raises(EngineError, match="does not exist; download the weights with: huggingface-cli download"):
        discover_models(tmp_path / "nowhere")


def test_models_dir_from_flag_env_or_config(tmp_path, monkeypatch):
    config = tmp_path / "config.json"
    monkeypatch.delenv(loading.ENV_VAR, raising=False)
    assert resolve_models_dir(None, config_path=config) is None
    config.write_text(json.dumps({"models_dir": "~/weights"}))
    assert resolve_models_dir(None, config_path=config) == Path.home() / "weights"
    monkeypatch.setenv(loading.ENV_VAR, str(tmp_path / "env"))
    assert resolve_models_dir(None, config_path=config) == tmp_path / "env"
    assert resolve_models_dir(str(tmp_path / "flag"), config_path=config) == tmp_path / "flag"
    monkeypatch.delenv(loading.ENV_VAR)
    config.write_text("not json")
    with pytest.raises(EngineError, match="cannot read"):
        resolve_models_dir(None, config_path=config)


def test_default_config_path_follows_xdg(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert loading.default_config_path() == tmp_path / "dailies" / "config.json"


def test_storymem_available_says_why_not(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    ok, reason = storymem_available(None)
    assert not ok and "--models" in reason and loading.ENV_VAR in reason
    ok, reason = storymem_available(tiny["diffusers"])
    assert not ok and reason == "CUDA is not available (the StoryMem engine needs an NVIDIA GPU)"
    ok, reason = storymem_available(tmp_path / "nowhere")
    assert not ok and "does not exist" in reason and "CUDA is not available" in reason
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    ok, reason = storymem_available(tiny["original"])
    assert ok and "Wan2.2-I2V-A14B (original)" in reason
    ok, reason = storymem_available(tiny["original"], variant="mm2v")
    assert not ok and "Wan2.2-MM2V-A14B" in reason


@pytest.mark.parametrize("convert", [("high", "low"), ("low",)])
def test_lora_as_safetensors_is_found_and_loads_the_same(tiny, tmp_path, convert):
    """Some StoryMem downloads hold backbone_*_noise.safetensors instead of the .pth files (issue 8)."""
    from safetensors.torch import save_file

    from engine.storymem.lora import load_lora_file

    models = _copy(tiny, "original", tmp_path)
    folder = models / "StoryMem" / "Wan2.2-MI2V-A14B"
    originals = {w: load_lora_file(folder / f"backbone_{w}_noise.pth") for w in ("high", "low")}
    for which in convert:
        pth = folder / f"backbone_{which}_noise.pth"
        save_file({k: v.contiguous() for k, v in originals[which].items()}, str(pth.with_suffix(".safetensors")))
        pth.unlink()
    paths = discover_models(models, variant="mi2v")
    assert {w: getattr(paths.lora, w).suffix for w in ("high", "low")} == {
        w: ".safetensors" if w in convert else ".pth" for w in ("high", "low")}
    for which in ("high", "low"):
        loaded = load_lora_file(getattr(paths.lora, which))
        assert set(loaded) == set(originals[which])
        assert all(torch.equal(loaded[k], v) for k, v in originals[which].items())
    assert available_variants(models) == ["mi2v"]


def test_lora_in_neither_form_is_reported_with_both_names(tiny, tmp_path):
    models = _copy(tiny, "original", tmp_path)
    (models / "StoryMem" / "Wan2.2-MI2V-A14B" / "backbone_high_noise.pth").unlink()
    with pytest.raises(EngineError) as err:
        discover_models(models, variant="mi2v")
    assert "backbone_high_noise.pth is missing (nor is there a backbone_high_noise.safetensors)" in str(err.value)
