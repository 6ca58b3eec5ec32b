"""Several GPUs per shot: one worker process per GPU, started and stopped by dailies itself (no ``torchrun``).

Each worker (:func:`worker_main`, a plain function over explicit inputs) joins a ``torch.distributed`` process
group (NCCL on CUDA, gloo on the CPU), builds its own engine on its device and renders every shot in lockstep
with the others; the driver (:class:`MultiGpuEngine`, in the calling process, holding no model) sends each
:class:`~schemas.render.RenderRequest` to all of them and returns rank 0's frames. The director sees one
:class:`~engine.base.Engine` and never knows how many GPUs rendered a shot.

How the GPUs share a shot (:class:`ParallelPlan`):

* **CFG-parallel** -- with classifier-free guidance, rank 0 runs the conditional and rank 1 the unconditional
  forward of each step; both gather the two predictions and take the same step
  (:class:`~engine.storymem.pipeline.CfgSplit`). The natural first factor of 2: no communication inside a forward.
* **Context parallel** -- the remaining factor (and all of it without CFG, e.g. ``turbo``) splits the token
  sequence with diffusers' ``ContextParallelConfig`` + ``enable_parallelism`` (Ulysses by default; ring with an
  attention backend that returns the log-sum-exp, e.g. ``_native_cudnn``). The plan of
  ``WanTransformer3DModel._cp_plan`` splits the outputs of the module named ``rope``; the engine's positional
  RoPE (memory at negative times) is installed under that name before ``enable_parallelism``, so it is split
  exactly like the stock one.
* **Patch-parallel VAE decode** -- every rank decodes a band of rows of the video and all gather the bands
  (:mod:`engine.storymem.parallel_vae`), when the latent height splits into the GPU count; else the decode runs
  on rank 0 alone.

An error on any rank ends the shot: the driver stops every worker (a rank waiting in a collective would wait
forever) and raises one :class:`~engine.base.EngineError` naming the rank; the next shot starts new workers,
and an interrupted run resumes like any other.
"""

from __future__ import annotations

import atexit
import importlib
import multiprocessing
import os
import queue
import shutil
import time
import tempfile
import traceback
import weakref
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.base import EngineError, ProgressFn

GPU_COUNTS = (1, 2, 4, 8)
"""``--gpus`` values: a factor 2 for CFG and powers of two for the sequence split (Ulysses must divide the 40
heads of Wan2.2-A14B)."""


@dataclass(frozen=True)
class ParallelPlan:
    """How ``gpus`` ranks share one shot: ``cfg`` (1 or 2) x ``ring`` x ``ulysses`` = ``gpus``."""

    gpus: int
    cfg: int
    ring: int
    ulysses: int

    @property
    def context(self) -> int:
        return self.ring * self.ulysses

    @classmethod
    def choose(cls, gpus: int, *, cfg: bool, heads: int = 40, context_parallel: str = "ulysses") -> "ParallelPlan":
        """CFG-parallel first (when the sampler uses CFG), the rest as context parallelism. Raises ``ValueError``
        when ``gpus`` does not split that way."""
        if gpus not in GPU_COUNTS:
            raise ValueError(f"--gpus must be one of {', '.join(map(str, GPU_COUNTS))}, got {gpus}")
        if context_parallel not in ("ulysses", "ring"):
            raise ValueError(f"context_parallel must be 'ulysses' or 'ring', got {context_parallel!r}")
        cfg_degree = 2 if cfg and gpus >= 2 else 1
        rest = gpus // cfg_degree
        if context_parallel == "ulysses" and heads % rest:
            raise ValueError(f"Ulysses over {rest} GPUs needs a head count divisible by {rest} (the model has {heads})")
        ring, ulysses = (rest, 1) if context_parallel == "ring" else (1, rest)
        return cls(gpus=gpus, cfg=cfg_degree, ring=ring, ulysses=ulysses)

    def describe(self) -> str:
        parts = []
        if self.cfg > 1:
            parts.append("CFG-parallel 2")
        if self.ulysses > 1:
            parts.append(f"Ulysses {self.ulysses}")
        if self.ring > 1:
            parts.append(f"ring {self.ring}")
        return f"{self.gpus} GPU{'s' if self.gpus > 1 else ''} ({' x '.join(parts) or 'no split'})"


class ParallelContext:
    """One rank's share of the plan, made after the process group exists: the CFG split and the context-parallel
    config it applies to a pipeline (:meth:`apply`)."""

    def __init__(self, plan: ParallelPlan, rank: int, device_type: str):
        import torch.distributed as dist

        self.plan, self.rank, self.device_type = plan, rank, device_type
        self.cfg_group, self.cfg_rank, self.cp_mesh = None, 0, None
        if plan.cfg > 1 and plan.context > 1:
            from torch.distributed.device_mesh import init_device_mesh

            mesh = init_device_mesh(device_type, (plan.cfg, plan.ring, plan.ulysses), mesh_dim_names=("cfg", "ring", "ulysses"))
            self.cfg_group, self.cfg_rank = mesh["cfg"].get_group(), mesh.get_local_rank("cfg")
            self.cp_mesh = mesh["ring", "ulysses"]
        elif plan.cfg > 1:
            self.cfg_group, self.cfg_rank = dist.group.WORLD, rank

    def apply(self, pipe, *, cfg: bool) -> None:
        """Give ``pipe`` this rank's CFG split (when its sampler uses CFG) and enable context parallelism on both
        experts. Must run after the pipeline installed its positional RoPE (the ``_cp_plan`` splits ``rope``)."""
        import torch.distributed as dist

        from engine.storymem.pipeline import CfgSplit

        pipe.cfg_split = CfgSplit(self.cfg_group, self.cfg_rank) if (cfg and self.plan.cfg > 1) else None
        pipe.vae_group = dist.group.WORLD if self.plan.gpus > 1 else None  # patch-parallel VAE encode and decode
        if self.plan.context > 1:
            from diffusers import ContextParallelConfig

            for expert in pipe.experts:
                expert.enable_parallelism(
                    config=ContextParallelConfig(ring_degree=self.plan.ring, ulysses_degree=self.plan.ulysses, mesh=self.cp_mesh)
                )

    def follower_output(self, latent_height: int) -> str:
        """What ranks other than 0 ask the pipeline for: the frames (``"pt"``) when every rank shares the VAE decode
        (the latent height splits into the GPU count; :mod:`engine.storymem.parallel_vae`), else the latents."""
        return "pt" if self.plan.gpus > 1 and latent_height % self.plan.gpus == 0 else "latent"

    def check_shape(self, tokens: int) -> None:
        """Context parallelism splits the sequence into equal parts."""
        if self.plan.context > 1 and tokens % self.plan.context:
            raise EngineError(
                f"{tokens} tokens do not split evenly over {self.plan.context} GPUs; choose a --size whose latent "
                f"(width/16 x height/16) has a multiple of {self.plan.context} patches, or fewer --gpus"
            )

    def record(self) -> dict:
        return asdict(self.plan) | {"rank": self.rank}

    def describe(self) -> str:
        return self.plan.describe()


# ---------------------------------------------------------------------------- workers


@dataclass(frozen=True)
class WorkerSpec:
    """What every worker builds: ``builder`` (``"module:function"``) is called as
    ``builder(device=..., parallel=ParallelContext, **kwargs)`` and returns an engine with ``render_shot``,
    ``settings``, ``describe`` and ``last_timings``. ``hook`` (``"module:function"``, tests only) is called as
    ``hook(engine, rank)`` after the build."""

    builder: str
    kwargs: dict[str, Any]
    plan: ParallelPlan
    device_type: str = "cuda"
    threads: int | None = None
    hook: str | None = None
    env: dict[str, str] = field(default_factory=dict)


def _resolve(target: str):
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return f"{type(err).__name__}: {text}" if not isinstance(err, EngineError) else text


def worker_main(rank: int, spec: WorkerSpec, init_file: str, tasks, results) -> None:
    """One rank: join the group, build the engine on this rank's device, render what the driver sends."""
    os.environ.update(spec.env)
    try:
        import torch
        import torch.distributed as dist

        if spec.threads:
            torch.set_num_threads(spec.threads)
        elif spec.plan.gpus > 1:  # the ranks share the host's cores (torch's default: all physical cores per process)
            torch.set_num_threads(max(1, torch.get_num_threads() // spec.plan.gpus))
        if spec.device_type == "cuda":
            device = torch.device("cuda", rank)
            torch.cuda.set_device(device)
            dist.init_process_group("nccl", init_method=f"file://{init_file}", rank=rank, world_size=spec.plan.gpus, device_id=device)
        else:
            device = torch.device("cpu")
            dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=spec.plan.gpus)
        context = ParallelContext(spec.plan, rank, spec.device_type)
        engine = _resolve(spec.builder)(device=device, parallel=context, **spec.kwargs)
        if spec.hook:
            _resolve(spec.hook)(engine, rank)
        results.put(("ready", rank, engine.settings() if rank == 0 else None, engine.describe() if rank == 0 else None))
    except BaseException as err:  # noqa: BLE001 - reported to the driver, which ends every rank
        results.put(("error", rank, _one_line(err), traceback.format_exc()))
        return
    while True:
        message = tasks.get()
        if message[0] == "stop":
            break
        try:
            from schemas.render import RenderRequest

            received = time.monotonic()  # CLOCK_MONOTONIC: one clock for every process of the host
            request = RenderRequest.model_validate_json(message[1])
            context.check_shape(_tokens(request, engine))
            progress = (lambda done, total: results.put(("progress", rank, done, total))) if rank == 0 else None
            output_type = "np" if rank == 0 else context.follower_output(request.height // 8)
            out = engine.render_shot(request, progress, output_type=output_type, steps=message[2])
            rendered = time.monotonic()
            out = _shareable(out) if rank == 0 else None
            clock = {"received": received, "rendered": rendered, "shared": time.monotonic()}
            results.put(("done", rank, out, dict(engine.last_timings), clock))
        except BaseException as err:  # noqa: BLE001
            results.put(("error", rank, _one_line(err), traceback.format_exc()))
            return
    try:
        dist.destroy_process_group()
    except Exception:  # noqa: BLE001 - leaving anyway
        pass


def _shareable(frames):
    """Rank 0's frames ``(F, H, W, 3)`` uint8 as a CPU tensor: torch sends a tensor through a multiprocessing queue in
    shared memory (a file descriptor), where a numpy array is pickled through the pipe (97 MB a shot at 832x480x81:
    0.34-0.54 s against 0.06-0.11 s on a 2-core CPU, bench/frames_transfer_cpu.py, docs/BENCHMARKS.md). Where the
    shared memory cannot hold it (``/dev/shm`` too small, as in a default Docker container) the array goes through
    the pipe as before. The driver takes it back with :func:`_frames`."""
    import numpy as np
    import torch

    if not isinstance(frames, np.ndarray):
        return frames
    tensor = torch.from_numpy(np.ascontiguousarray(frames))
    try:
        tensor.share_memory_()  # here, not in the queue's feeder thread, where a failure would be lost
    except (RuntimeError, OSError):  # a small /dev/shm (Docker's default is 64 MB): the pipe, as before
        return frames
    return tensor


def _frames(payload):
    """The driver's side of :func:`_shareable`: a numpy array again (sharing the tensor's memory)."""
    import torch

    return payload.numpy() if isinstance(payload, torch.Tensor) else payload


def _tokens(request, engine) -> int:
    memory = len(request.memory) if request.mode != "t2v" else 0
    return (memory + (request.num_frames - 1) // 4 + 1) * (request.height // 16) * (request.width // 16)


def storymem_worker_engine(*, device, parallel, **kwargs):
    """The builder the CLI uses: a :class:`~engine.storymem.engine.StoryMemEngine` on this rank's device."""
    from engine.storymem.engine import StoryMemEngine

    return StoryMemEngine(device=device, parallel=parallel, **kwargs)


class MultiGpuEngine:
    """:class:`engine.base.Engine` over one worker process per GPU (see the module docstring). ``spec`` says what
    each worker builds; ``start_timeout`` bounds the model loading (seconds, None: no bound)."""

    name = "storymem"

    def __init__(self, spec: WorkerSpec, *, start_timeout: float | None = None):
        self.spec = spec
        self.start_timeout = start_timeout
        self._procs: list = []
        self._settings: dict = {}
        self._describe = ""
        self.last_timings: dict[str, float] = {}
        self.last_overhead: dict[str, float] = {}
        self._finalizer = None
        self._start()

    # ------------------------------------------------------------------ lifecycle

    def _start(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._tmp = tempfile.mkdtemp(prefix="dailies-gpus-")
        self._tasks = [ctx.Queue() for _ in range(self.spec.plan.gpus)]
        self._results = ctx.Queue()
        init_file = os.path.join(self._tmp, "rendezvous")
        self._procs = [
            ctx.Process(target=worker_main, args=(rank, self.spec, init_file, self._tasks[rank], self._results),
                        name=f"dailies-rank{rank}")
            for rank in range(self.spec.plan.gpus)
        ]  # fmt: skip
        for proc in self._procs:
            proc.start()
        self._finalizer = weakref.finalize(self, _stop_all, list(self._procs), list(self._tasks), self._tmp)
        atexit.register(self._finalizer)
        ready = set()
        waited = 0.0
        while len(ready) < len(self._procs):
            message = self._next(waited_for="start")
            if message is None:
                waited += 0.5
                if self.start_timeout is not None and waited > self.start_timeout:
                    self._abort()
                    raise EngineError(f"the {self.spec.plan.gpus} GPU workers did not start in {self.start_timeout:.0f} s")
                continue
            kind, rank = message[0], message[1]
            if kind == "error":
                self._abort()
                raise EngineError(f"GPU worker {rank} of {self.spec.plan.gpus} could not start: {message[2]}{_save_traceback(rank, message[3])}")
            if kind == "ready":
                ready.add(rank)
                if rank == 0:
                    self._settings, self._describe = message[2], message[3]

    def _next(self, waited_for: str):
        """The next worker message, or None after 0.5 s; a worker that died without a word is an error."""
        try:
            return self._results.get(timeout=0.5)
        except queue.Empty:
            for rank, proc in enumerate(self._procs):
                if not proc.is_alive():
                    return ("error", rank, f"the worker process exited (code {proc.exitcode}) during {waited_for}", "")
            return None

    def _abort(self) -> None:
        """Stop every worker now (one that waits in a collective for a failed peer never returns by itself)."""
        for proc in self._procs:
            if proc.is_alive():
                proc.terminate()
        if self._finalizer is not None:
            self._finalizer()
        self._procs = []

    def close(self) -> None:
        """Ask the workers to finish, then stop any that do not."""
        if self._finalizer is not None:
            self._finalizer()
        self._procs = []

    # ------------------------------------------------------------------ Engine

    def render_shot(self, request, progress: ProgressFn | None = None, steps: int | None = None):
        """Rank 0's frames ``(F, H, W, 3)`` uint8 (every rank renders the shot in lockstep); ``steps`` overrides the
        step count for this shot (benchmark warm-ups)."""
        if not self._procs:
            self._start()  # after an error: fresh workers
        payload = request.model_dump_json()
        sent = time.monotonic()
        for tasks in self._tasks:
            tasks.put(("render", payload, steps))
        done, frames, arrived = set(), None, {}
        while len(done) < len(self._procs):
            message = self._next(waited_for=f"shot {request.shot_id}")
            if message is None:
                continue
            kind, rank = message[0], message[1]
            if kind == "progress" and progress is not None:
                progress(message[2], message[3])
            elif kind == "done":
                done.add(rank)
                arrived[rank] = time.monotonic()
                if rank == 0:
                    frames, self.last_timings, clock = _frames(message[2]), message[3], message[4]
            elif kind == "error":
                self._abort()
                where = _save_traceback(rank, message[3])
                raise EngineError(
                    f"GPU rank {rank} of {self.spec.plan.gpus} failed rendering shot {request.shot_id}: {message[2]}; "
                    f"every worker was stopped (the next shot starts new ones; resume the run to retry){where}"
                )
        self.last_overhead = {  # seconds of the shot outside rank 0's render_shot (bench/engine_gpu.py reports them)
            "dispatch": clock["received"] - sent,  # the request through the queue, up to rank 0
            "render": clock["rendered"] - clock["received"],  # rank 0's render_shot (its stages and around them)
            "share": clock["shared"] - clock["rendered"],  # rank 0's frames into shared memory
            "deliver": arrived[0] - clock["shared"],  # ... through the queue to this process
            "followers": max(arrived.values()) - arrived[0],  # waiting for the other ranks' "done"
        }
        return frames

    def settings(self) -> dict:
        return self._settings

    def describe(self) -> str:
        return self._describe


def _save_traceback(rank: int, text: str) -> str:
    """Write a failed rank's traceback to ``$TMPDIR/dailies-rank<rank>-error.log`` (as ``main.py`` does for its own
    errors); the error message's suffix that names the file, or "" when there is none (a process that died without
    a word) or it cannot be written."""
    if not text:
        return ""
    log = Path(tempfile.gettempdir()) / f"dailies-rank{rank}-error.log"
    try:
        log.write_text(text, encoding="utf-8")
    except OSError:
        return ""
    return f"; the rank's traceback is in {log}"


def _stop_all(procs, tasks, tmp) -> None:
    for q in tasks:
        try:
            q.put(("stop",))
        except (OSError, ValueError):
            pass
    for proc in procs:
        proc.join(timeout=5)
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()
            proc.join(timeout=5)
    shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------- construction


def build_storymem_engine(models_dir, *, gpus: int = 1, context_parallel: str = "ulysses", **settings):
    """The engine for ``--gpus``: a :class:`~engine.storymem.engine.StoryMemEngine` in this process for 1 GPU,
    else a :class:`MultiGpuEngine` of ``gpus`` workers. Raises :class:`EngineError` (not enough GPUs) or
    ``ValueError`` (a GPU count that does not split) before any model loads."""
    from engine.storymem.engine import StoryMemEngine
    from engine.storymem.presets import DEFAULT_PRESET, get_preset

    if gpus == 1:
        return StoryMemEngine(models_dir, **settings)
    import torch

    available = torch.cuda.device_count()
    if available < gpus:
        raise EngineError(f"--gpus {gpus} needs {gpus} CUDA GPUs but {available} are visible; use --gpus {max(1, available)}")
    preset = get_preset(settings.get("preset", DEFAULT_PRESET))
    plan = ParallelPlan.choose(gpus, cfg=preset.m2v.cfg, context_parallel=context_parallel)
    spec = WorkerSpec(builder="engine.storymem.parallel:storymem_worker_engine",
                      kwargs={"models_dir": str(models_dir), **settings}, plan=plan)
    return MultiGpuEngine(spec)
