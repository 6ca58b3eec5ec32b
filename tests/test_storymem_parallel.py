"""Several GPUs per shot, tested on the CPU: the plan (CFG-parallel first, then the sequence split), and the
CFG-parallel split (and the patch-parallel VAE encodes and decode) with real worker processes over gloo on the tiny
models -- the frames equal the one-process frames, progress arrives, and an error on any rank ends the shot with one message and no
leftover processes. (The 2-GPU NCCL tests are in tests/gpu/test_storymem_parallel_gpu.py.)"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch

from engine.base import EngineError
from engine.storymem.parallel import MultiGpuEngine, ParallelPlan, WorkerSpec, build_storymem_engine

H, W, F = 48, 64, 9


@pytest.mark.parametrize("gpus, cfg, expected", [
    (1, True, (1, 1, 1)), (2, True, (2, 1, 1)), (4, True, (2, 1, 2)), (8, True, (2, 1, 4)),
    (2, False, (1, 1, 2)), (4, False, (1, 1, 4)), (8, False, (1, 1, 8)),
])  # fmt: skip
def test_plan_takes_cfg_first_then_ulysses(gpus, cfg, expected):
    plan = ParallelPlan.choose(gpus, cfg=cfg)
    assert (plan.cfg, plan.ring, plan.ulysses) == expected and plan.cfg * plan.context == gpus


def test_plan_refusals():
    with pytest.raises(ValueError, match="--gpus must be one of"):
        ParallelPlan.choose(3, cfg=True)
    with pytest.raises(ValueError, match="head count divisible by 8"):
        ParallelPlan.choose(8, cfg=False, heads=12)
    assert ParallelPlan.choose(4, cfg=False, context_parallel="ring").ring == 4
    assert ParallelPlan.choose(4, cfg=True).describe() == "4 GPUs (CFG-parallel 2 x Ulysses 2)"


def test_more_gpus_than_visible_is_refused_before_loading(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(EngineError, match="--gpus 2 needs 2 CUDA GPUs but 1 are visible"):
        build_storymem_engine(tmp_path / "nothing-here", gpus=2)


def fail_on_second_shot(engine, rank):
    """Worker hook for the test below: rank 1 raises on its second shot, after rank 0 has entered the shot.
    oneDNN is off on every rank (as for the reference): it picks its conv kernel by the input's shape, so the
    patch-parallel VAE encodes' and decode's row bands would otherwise sum in another order than the whole
    frame. Each rank appends a line per patch-parallel VAE call to the file ``VAE_SPLIT_LOG`` names."""
    import os

    import engine.storymem.parallel_vae as parallel_vae

    torch.backends.mkldnn.enabled = False
    log = os.environ["VAE_SPLIT_LOG"]
    for name in ("patch_parallel_encode", "patch_parallel_decode"):
        original_split = getattr(parallel_vae, name)

        def logged(vae, pixels_or_latents, group=None, chunk=None, name=name, original_split=original_split):
            with open(log, "a") as f:
                f.write(f"{rank} {name} {tuple(pixels_or_latents.shape)}\n")
            return original_split(vae, pixels_or_latents, group, **({} if chunk is None else {"chunk": chunk}))

        setattr(parallel_vae, name, logged)
    if rank != 1:
        return
    original, calls = engine.render_shot, []

    def render_shot(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("injected failure on rank 1")
        return original(*args, **kwargs)

    engine.render_shot = render_shot


@pytest.fixture(scope="module")
def shot(tmp_path_factory):
    from engine.storymem.testing import build_tiny_models
    from schemas.render import MemoryImage, RenderRequest

    root = tmp_path_factory.mktemp("parallel")
    models = build_tiny_models(root / "m", "diffusers", ("mi2v",), with_t2v=False)
    paths = []
    for i in range(3):
        path = root / f"{i}.png"
        PIL.Image.fromarray(np.random.default_rng(i).integers(0, 256, (H, W, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    memory = [MemoryImage(id=f"k{i}", path=p, sha256=hashlib.sha256(Path(p).read_bytes()).hexdigest()) for i, p in enumerate(paths[:2])]
    request = RenderRequest(shot_id="01-02", prompt="a girl walks", mode="mi2v", seed=3, width=W, height=H,
                            num_frames=F, memory=memory, first_frame=paths[2])  # fmt: skip
    return models, request


@pytest.mark.slow
def test_cfg_parallel_over_gloo_equals_one_process_and_errors_end_the_shot(shot, tmp_path):
    from engine.storymem.engine import StoryMemEngine

    models, request = shot
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the workers run one thread each: the same float32 sums in the same order
    try:
        with torch.backends.mkldnn.flags(enabled=False):
            reference = StoryMemEngine(models, steps=2, need_t2v=False).render_shot(request)
    finally:
        torch.set_num_threads(threads)
    spec = WorkerSpec(
        builder="engine.storymem.parallel:storymem_worker_engine",
        kwargs={"models_dir": str(models), "steps": 2, "need_t2v": False},
        plan=ParallelPlan.choose(2, cfg=True), device_type="cpu", threads=1,
        hook="tests.test_storymem_parallel:fail_on_second_shot", env={"VAE_SPLIT_LOG": str(tmp_path / "splits")},
    )  # fmt: skip
    engine = MultiGpuEngine(spec)
    try:
        assert engine.settings()["parallel"] == {"gpus": 2, "cfg": 2, "ring": 1, "ulysses": 1, "rank": 0}
        assert "CFG-parallel 2" in engine.describe()
        steps = []
        frames = engine.render_shot(request, progress=lambda done, total: steps.append((done, total)))
        assert np.array_equal(frames, reference)  # CFG split + row-band VAE encodes and decode over two processes: bit for bit
        assert isinstance(frames, np.ndarray) and frames.dtype == np.uint8 and frames.flags.writeable  # sent as a shared tensor
        # both ranks encoded the 2 memory images and the MI2V video condition, and decoded, in row bands
        lines = sorted((tmp_path / "splits").read_text().splitlines())
        for rank in (0, 1):
            assert lines.count(f"{rank} patch_parallel_encode (1, 3, 1, {H}, {W})") == 2
            assert lines.count(f"{rank} patch_parallel_encode (1, 3, {F}, {H}, {W})") == 1
            assert lines.count(f"{rank} patch_parallel_decode (1, 16, 3, {H // 8}, {W // 8})") == 1
        assert len(lines) == 8
        assert steps == [(1, 2), (2, 2)] and engine.last_timings["denoise"] > 0
        overhead = engine.last_overhead  # the shot's time outside rank 0's render, on one host clock
        assert set(overhead) == {"dispatch", "render", "share", "deliver", "followers"}
        assert all(v >= 0 for v in overhead.values()) and overhead["render"] >= sum(engine.last_timings.values())
        procs = list(engine._procs)
        with pytest.raises(EngineError) as err:
            engine.render_shot(request)  # rank 1 fails while rank 0 waits for it in the video condition's encode
        message = str(err.value)
        assert "\n" not in message and "GPU rank 1 of 2 failed rendering shot 01-02" in message
        assert "injected failure on rank 1" in message and "resume" in message
        log = Path(message.rsplit("the rank's traceback is in ", 1)[1])  # the whole traceback, for whoever debugs it
        assert "Traceback (most recent call last)" in log.read_text() and "injected failure on rank 1" in log.read_text()
        assert all(not p.is_alive() for p in procs)  # rank 0 was stopped, not left waiting
    finally:
        engine.close()


def test_frames_go_through_shared_memory_or_the_pipe_when_it_is_full(monkeypatch):
    """Rank 0's frames become a shared-memory tensor; where /dev/shm cannot hold them (Docker's 64 MB default) the
    numpy array is sent as before, and the driver gets an array either way."""
    from engine.storymem import parallel

    frames = np.arange(2 * 4 * 6 * 3, dtype=np.uint8).reshape(2, 4, 6, 3)
    shared = parallel._shareable(frames)
    assert isinstance(shared, torch.Tensor) and shared.is_shared()
    assert np.array_equal(parallel._frames(shared), frames)

    def full(self):
        raise RuntimeError("unable to write to file </torch_1_2>: No space left on device (28)")

    monkeypatch.setattr(torch.Tensor, "share_memory_", full)
    fallback = parallel._shareable(frames)
    assert isinstance(fallback, np.ndarray) and np.array_equal(parallel._frames(fallback), frames)
    assert parallel._shareable(None) is None  # ranks other than 0 send nothing


class _ThreadsEngine:
    """A stand-in engine that reports the torch threads of its worker process."""

    last_timings: dict = {}

    def __init__(self):
        self.threads = torch.get_num_threads()

    def settings(self):
        return {"threads": self.threads}

    def describe(self):
        return "threads"


def threads_engine(*, device, parallel):
    return _ThreadsEngine()


def test_the_ranks_share_the_host_cores():
    """Each of N workers takes 1/N of torch's default threads (as torchrun does with OMP_NUM_THREADS): two processes
    with every core each made the CPU side of a 2-GPU shot (pixels, hashes) several times slower."""
    import subprocess
    import sys

    fresh = int(subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
                               capture_output=True, text=True, check=True).stdout)  # fmt: skip
    spec = WorkerSpec(builder="tests.test_storymem_parallel:threads_engine", kwargs={}, plan=ParallelPlan.choose(2, cfg=True),
                      device_type="cpu")  # fmt: skip
    engine = MultiGpuEngine(spec)
    try:
        assert engine.settings() == {"threads": max(1, fresh // 2)} and (fresh == 1 or fresh // 2 < fresh)
    finally:
        engine.close()
