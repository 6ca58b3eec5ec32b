"""Speed presets as data: the table, what each expands to per device, overrides, and where it is recorded
(engine settings, the run manifest, --help)."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch

from engine.storymem import presets
from engine.storymem.presets import PRESETS, UNTESTED_COMPOSITION, expand

REPO = Path(__file__).resolve().parent.parent


def test_the_table():
    exact, fast, turbo = PRESETS["exact"], PRESETS["fast"], PRESETS["turbo"]
    assert (exact.m2v.steps, exact.m2v.guidance, exact.m2v.shift, exact.m2v.solver) == (40, 3.5, 4.0, "unipc")
    assert (exact.t2v.shift, exact.t2v.boundary_ratio) == (12.0, 0.875)
    assert exact.linear == "bf16" and not exact.step_lora and not exact.lossy
    assert fast.m2v == exact.m2v and fast.linear == "fp8" and fast.lossy
    assert (turbo.m2v.steps, turbo.m2v.cfg, turbo.m2v.shift, turbo.m2v.solver) == (4, False, 5.0, "euler-distill")
    assert turbo.step_lora and turbo.linear == "fp8" and UNTESTED_COMPOSITION in turbo.notes
    assert exact.attention == ("fa4", "_native_cudnn") and fast.attention[0] == turbo.attention[0] == "fp8"
    assert all(p.attention[-1] == "_native_cudnn" for p in PRESETS.values())  # where nvidia-cudnn-frontend is missing
    assert not exact.cudnn_autotune and fast.cudnn_autotune and turbo.cudnn_autotune  # exact: the same frames every run


def test_cudnn_autotuning_is_recorded_and_only_on_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (9, 0))
    assert expand("turbo", "cuda").record()["cudnn_autotune"] is True
    assert expand("fast", "cuda").cudnn_autotune and not expand("exact", "cuda").cudnn_autotune
    assert expand("turbo", "cpu").record()["cudnn_autotune"] is False


def test_expand_on_cpu_records_everything():
    e = expand("turbo", "cpu")
    rec = e.record()
    assert rec["preset"] == "turbo" and rec["linear"] == "fp8" and rec["fp8_kernel"] == "scaled_mm"
    assert rec["m2v"] == {"steps": 4, "guidance": 1.0, "shift": 5.0, "boundary_ratio": 0.9, "solver": "euler-distill", "cfg": False}
    assert rec["attention_backend"] == "fp8" and rec["compile"] is False and rec["step_lora"] is True  # emulated on a CPU
    assert expand("exact", "cpu").attention_backend is None
    assert rec["notes"] == [UNTESTED_COMPOSITION] and rec["overrides"] == []
    assert expand("exact", "cpu", dtype=torch.float32).linear == "float32"


def test_fp8_falls_back_on_a_gpu_without_it(monkeypatch):
    """An Ampere card (8.0) has no FP8: fast keeps bf16 linears and bf16 attention and says why; an H200 (9.0) gets
    torch's row-wise _scaled_mm. Without nvidia-cudnn-frontend, attention falls back to diffusers' cuDNN SDPA."""
    import builtins

    real_import = builtins.__import__

    def no_cudnn(name, *args, **kwargs):
        if name == "cudnn":
            raise ImportError("No module named 'cudnn'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_cudnn)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))
    e = expand("fast", "cuda")
    assert e.linear == "bfloat16" and e.fp8_kernel is None and any("8.9" in n for n in e.notes)
    assert e.attention_backend == "_native_cudnn" and e.compile
    assert any("compute capability 9.0+" in n and "fp8 attention passed over" in n for n in e.notes)

    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (9, 0))
    assert expand("fast", "cuda").fp8_kernel == "scaled_mm"
    monkeypatch.setattr(builtins, "__import__", real_import)
    monkeypatch.setitem(sys.modules, "cudnn", object())  # installed: the engine's kernels are chosen
    assert expand("fast", "cuda").attention_backend == "fp8"
    assert expand("fast", "cuda", offload="model").compile is False


def test_exact_takes_flashattention4_where_it_runs_and_says_why_not_elsewhere(monkeypatch):
    """exact prefers FlashAttention-4 on Hopper when flash-attn-4 imports; without it, or on an Ampere card, it falls
    back to diffusers' cuDNN SDPA with the reason in the notes."""
    import builtins

    real_import = builtins.__import__
    missing = {"flash_attn"}

    def maybe_missing(name, *args, **kwargs):
        if name.split(".")[0] in missing:
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", maybe_missing)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (9, 0))
    e = expand("exact", "cuda")
    assert e.attention_backend == "_native_cudnn" and any("flash-attn-4" in n and "fa4 attention passed over" in n for n in e.notes)
    missing.clear()
    fake = types.ModuleType("flash_attn.cute")
    monkeypatch.setitem(sys.modules, "flash_attn", types.ModuleType("flash_attn"))
    monkeypatch.setitem(sys.modules, "flash_attn.cute", fake)
    e = expand("exact", "cuda")
    assert e.attention_backend == "fa4" and not any("fa4" in n for n in e.notes)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))
    e = expand("exact", "cuda")
    assert e.attention_backend == "_native_cudnn" and any("this GPU has 8.0" in n for n in e.notes)
    assert expand("exact", "cpu").attention_backend is None


def test_overrides_are_recorded_and_checked():
    e = expand("exact", "cpu", steps=8, attention_backend="native", compile=True)
    assert e.m2v.steps == 8 and e.t2v.steps == 8 and e.compile
    assert e.overrides == ("steps=8", "attention_backend=native", "compile=True")
    with pytest.raises(ValueError, match="exactly 4 steps"):
        expand("turbo", "cpu", steps=8)
    with pytest.raises(ValueError, match="preset must be one of"):
        expand("warp", "cpu")


def test_help_lists_the_presets_and_the_untested_composition():
    r = subprocess.run([sys.executable, "main.py", "render", "--help"], cwd=REPO, capture_output=True, text=True, timeout=120)
    text = " ".join(r.stdout.split())
    assert r.returncode == 0
    for name in ("exact:", "fast:", "turbo:", "--gpus", "--step-cache"):
        assert name in text
    assert "untested by the StoryMem authors" in text
    assert presets.DEFAULT_PRESET == "exact" and "default exact" in text


@pytest.mark.parametrize("flags, words", [
    (["--preset", "warp"], "invalid choice"),
    (["--gpus", "3"], "--gpus 3"),
    (["--gpus", "two"], "--gpus 'two'"),
    (["--step-cache", "-1"], "--step-cache -1"),
])  # fmt: skip
def test_bad_engine_flags_are_one_line_errors(tmp_path, flags, words):
    r = subprocess.run([sys.executable, str(REPO / "main.py"), "render", "x.json", "--out", str(tmp_path / "r"), *flags],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 2 and words in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "r").exists()


def test_the_backend_record_carries_every_expanded_setting(tmp_path, monkeypatch):
    """What the run manifest stores for the engine (backends.engine): the preset, all it expanded to, the
    step LoRAs used and the untested-composition note; the summary line names the preset."""
    from agents.backends import BackendOptions, build_backends
    from engine.storymem import loading
    from engine.storymem.testing import build_tiny_models

    models = build_tiny_models(tmp_path / "m", "diffusers", ("mi2v",), step_loras="lightning")
    monkeypatch.setattr(loading, "storymem_available", lambda models_dir, variant=None: (True, "found"))
    opts = BackendOptions(engine="storymem", models_dir=str(models), storymem={"device": "cpu", "preset": "turbo"})
    backends, _ = build_backends(opts)
    info = backends.info["engine"]
    assert info.name == "storymem" and "preset turbo" in info.detail and "untested by the StoryMem authors" in info.detail
    s = info.settings
    assert s["preset"]["preset"] == "turbo" and s["preset"]["m2v"]["solver"] == "euler-distill"
    assert s["preset"]["linear"] == "fp8" and s["step_lora"]["i2v"]["release"] == "lightning"
    assert s["step_lora_composition"] == UNTESTED_COMPOSITION and s["memory_positions"] == "paper"
    assert backends.engine_fingerprint.startswith("storymem:storymem preset turbo")
