"""Several GPUs per shot on CUDA with the tiny models: frames equal the one-GPU frames within bf16 tolerance
for CFG-parallel (exact) and Ulysses (turbo, memory at the paper's negative positions through the engine's
RoPE split by the ``_cp_plan``), with and without compilation, and a failing rank ends the shot cleanly over
NCCL. Needs 2 GPUs (4 for the CFG x Ulysses case). ``python -m pytest -m gpu tests/gpu``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.gpu.test_storymem_presets_gpu import F, H, W, gpu_tiny_models, shot_request

pytestmark = pytest.mark.gpu


def _need(gpus: int) -> None:
    if torch.cuda.device_count() < gpus:
        pytest.skip(f"needs {gpus} GPUs, {torch.cuda.device_count()} visible")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return gpu_tiny_models(tmp_path_factory.mktemp("gpu-parallel-models"))


def _multi(models, gpus, preset, compile, hook=None, env=None):
    from engine.storymem.parallel import MultiGpuEngine, ParallelPlan, WorkerSpec
    from engine.storymem.presets import get_preset

    plan = ParallelPlan.choose(gpus, cfg=get_preset(preset).m2v.cfg)
    kwargs = {"models_dir": str(models), "preset": preset, "compile": compile}
    if preset != "turbo":
        kwargs["steps"] = 3
    spec = WorkerSpec(builder="engine.storymem.parallel:storymem_worker_engine", kwargs=kwargs, plan=plan, hook=hook, env=env or {})
    return MultiGpuEngine(spec)


@pytest.mark.parametrize("gpus, preset, compile", [
    (2, "exact", False), (2, "turbo", False), (2, "turbo", True), (4, "exact", False), (4, "turbo", False),
])  # fmt: skip
def test_frames_equal_one_gpu_within_bf16_tolerance(models, tmp_path, gpus, preset, compile):
    from engine.storymem.engine import StoryMemEngine

    _need(gpus)
    one = StoryMemEngine(models, preset=preset, steps=None if preset == "turbo" else 3, compile=compile, device="cuda:0")
    requests = [shot_request(tmp_path, "t2v"), shot_request(tmp_path, "mi2v")]
    expected = [one.render_shot(r) for r in requests]
    del one
    torch.cuda.empty_cache()
    multi = _multi(models, gpus, preset, compile)
    try:
        assert multi.settings()["parallel"]["gpus"] == gpus
        for request, reference in zip(requests, expected):
            frames = multi.render_shot(request)
            assert frames.shape == (F, H, W, 3)
            diff = np.abs(frames.astype(int) - reference.astype(int))
            assert diff.mean() < 1.0 and np.percentile(diff, 99) <= 8, (request.mode, diff.mean(), diff.max())
    finally:
        multi.close()


def test_a_failing_rank_ends_the_shot_over_nccl(models, tmp_path):
    from engine.base import EngineError

    _need(2)
    multi = _multi(models, 2, "exact", False, hook="tests.test_storymem_parallel:fail_on_second_shot",
                   env={"VAE_SPLIT_LOG": str(tmp_path / "splits")})  # the hook logs each rank's VAE splits there
    try:
        multi.render_shot(shot_request(tmp_path))
        procs = list(multi._procs)
        with pytest.raises(EngineError, match="GPU rank 1 of 2 failed rendering shot 01-02"):
            multi.render_shot(shot_request(tmp_path))
        assert all(not p.is_alive() for p in procs)
    finally:
        multi.close()
