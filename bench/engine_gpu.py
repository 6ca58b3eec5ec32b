"""GPU benchmark of the StoryMem engine at Wan2.2-A14B dimensions, with random bf16 weights.

Sections (``--sections``, in this order by default):

* ``forward`` -- ms per DiT forward at 832x480x81 for M memory latent frames (``--memory-frames``,
  default 0,3,10): stock diffusers ``WanTransformer3DModel`` (its own RoPE, default attention backend)
  and this engine's transformer (the same weights with the positional RoPE swapped in, ``--backend``),
  each timed in the same process; a shot (40 steps, CFG as two forwards) costs 80 of them.
* ``reference`` -- the released StoryMem ``WanModel`` (``--reference-code``: a checkout of
  Kevin-thu/StoryMem; flash-attn is replaced by torch SDPA), bf16 weights under bf16 autocast as
  ``generate.py --convert_model_dtype`` runs it.
* ``compile`` -- this engine's transformer with ``compile_repeated_blocks(fullgraph=True)``.
* ``shot`` -- one full MI2V shot through :class:`~engine.storymem.pipeline.StoryMemPipeline` (umT5-XXL,
  Wan VAE, both experts, ``--steps`` steps, M=3), end to end with a per-stage breakdown.
* ``modes`` -- peak GPU memory of each memory mode (none with both experts resident, none with one
  expert resident and swapped at the boundary, model CPU offload, group offload) for a 2-step shot at
  M=10 (both experts run), with seconds per step.
* ``keyframes`` -- keyframe extraction for one 81-frame shot: open_clip ViT-B-32 (random weights, one
  batched forward) + CLIP-IQA + the selection of ``engine.keyframes``.
* ``presets`` -- each of ``--presets`` through the real engine code (:class:`RandomStoryMemEngine`: the
  engine with random A14B weights and random LoRAs in place of the downloads): setup, a warm-up (compiles),
  one DiT forward at M=3, then one full MI2V shot (M=3, ``--shot-steps`` or the preset's steps) with its
  stages; the forward output and the shot's final latents go to ``OUT/dev-<preset>.pt`` for the deviation
  report (``python bench/engine_gpu.py --compare OUT``).
* ``multigpu`` -- the same shot through worker processes (:class:`~engine.storymem.parallel.MultiGpuEngine`)
  on ``--gpus`` GPUs, for each of ``--presets``: setup, warm-up, then the timed shot.
* ``vae`` -- VAE encode of a first frame + 80 zero frames and decode of 21 latent frames: eager, channels-last
  3D, cuDNN autotuning; the largest difference from eager.
* ``stepcache`` -- the overhead of diffusers' First Block Cache on one forward (threshold 0: every block runs,
  so with random weights only the hooks' cost is measured).
* ``attention`` -- one self-attention call at 37,440 tokens x 40 heads x 128 per kernel (cuDNN, flash,
  efficient SDPA; SageAttention when importable).

Results go to ``OUT/engine_gpu.json`` (rewritten after every measurement, so a cut-off run keeps what it
measured) and one line per measurement on stdout. ``--tiny`` runs every section on the CPU with the tiny
test models (a smoke test of this script, not a benchmark).

    python bench/engine_gpu.py --out /tmp/bench --sections forward,reference --reference-code ~/StoryMem
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.util
import json
import platform
import sys
import time
import types
from datetime import date
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from engine.storymem.convert import shipped_config  # noqa: E402
from engine.storymem.loading import _cast_like_diffusers  # noqa: E402
from engine.storymem.rope import PositionalRotaryEmbed, memory_frame_positions  # noqa: E402

GIB = 2**30
SECTIONS = ("forward", "reference", "compile", "shot", "modes", "keyframes", "presets", "multigpu", "vae", "stepcache", "attention")


# ---------------------------------------------------------------------------- setup


class Dims:
    """Model configs and shot size: A14B at 832x480x81, or the tiny test models at 64x48x9."""

    def __init__(self, tiny: bool):
        from engine.storymem import testing

        self.tiny = tiny
        if tiny:
            self.transformer = dict(testing.TINY_TRANSFORMER)
            self.umt5 = dict(shipped_config("umt5_xxl.json"), **testing.TINY_UMT5)
            self.vae = dict(testing.TINY_VAE)
            self.width, self.height, self.frames = 64, 48, 9
        else:
            self.transformer = {k: v for k, v in shipped_config("transformer_i2v_a14b.json").items() if not k.startswith("_")}
            self.umt5 = shipped_config("umt5_xxl.json")
            self.vae = {k: v for k, v in shipped_config("vae_wan2_1.json").items() if not k.startswith("_")}
            self.width, self.height, self.frames = 832, 480, 81
        self.umt5.pop("architectures", None)
        self.latent_frames = (self.frames - 1) // 4 + 1
        self.latent_h, self.latent_w = self.height // 8, self.width // 8
        self.dim = self.transformer["num_attention_heads"] * self.transformer["attention_head_dim"]

    def tokens(self, memory: int) -> int:
        return (memory + self.latent_frames) * (self.latent_h // 2) * (self.latent_w // 2)

    def dit_flops(self, memory: int, text_len: int = 512) -> float:
        """Matmul FLOPs of one DiT forward (2 per multiply-add): projections, FFN, attention."""
        t, d, f, layers = self.tokens(memory), self.dim, self.transformer["ffn_dim"], self.transformer["num_layers"]
        per_layer = 2 * t * (4 * d * d + 2 * d * d + 2 * d * f) + 2 * text_len * 2 * d * d  # self qkvo, cross q o, ffn; cross k v
        per_layer += 4 * t * t * d + 4 * t * text_len * d  # self- and cross-attention scores and values
        return layers * per_layer


@contextlib.contextmanager
def default_dtype(dtype: torch.dtype):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def random_transformer(dims: Dims, device: torch.device, dtype: torch.dtype, in_channels: int = 36):
    """A random-weight ``WanTransformer3DModel`` initialised directly on ``device`` in ``dtype`` (norms and
    time embedder in float32, as diffusers loads them)."""
    from diffusers import WanTransformer3DModel

    with torch.device(device), default_dtype(dtype):
        model = WanTransformer3DModel(**{**dims.transformer, "in_channels": in_channels})
    _cast_like_diffusers(model, dtype)
    return model.eval().requires_grad_(False)


def random_text_encoder(dims: Dims, device: torch.device, dtype: torch.dtype):
    from transformers import UMT5Config, UMT5EncoderModel

    with torch.device(device), default_dtype(dtype):
        model = UMT5EncoderModel(UMT5Config(**dims.umt5))
    return model.eval().requires_grad_(False)


def peak_gib(device: torch.device) -> float | None:
    """Peak GPU memory allocated since the last reset, GiB (None off CUDA)."""
    return round(torch.cuda.max_memory_allocated(device) / GIB, 2) if device.type == "cuda" else None


def random_vae(dims: Dims, device: torch.device):
    from diffusers import AutoencoderKLWan

    with torch.device(device):
        model = AutoencoderKLWan(**dims.vae)
    return model.eval().requires_grad_(False)


# ---------------------------------------------------------------------------- measuring


class Recorder:
    """Collects results, rewrites the JSON after each record, prints one line per record."""

    def __init__(self, out: Path, meta: dict):
        self.path = out / "engine_gpu.json"
        out.mkdir(parents=True, exist_ok=True)
        self.data = {"meta": meta, "results": []}
        self._write()

    def add(self, section: str, **fields) -> None:
        record = {"section": section, **fields}
        self.data["results"].append(record)
        self._write()
        print(json.dumps(record), flush=True)

    def _write(self) -> None:
        self.path.write_text(json.dumps(self.data, indent=2), encoding="utf-8")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device, warmup: int, iters: int) -> dict:
    """Mean/min milliseconds of ``fn()`` over ``iters`` runs after ``warmup``, and the peak GiB allocated."""
    for _ in range(warmup):
        fn()
    sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append((time.perf_counter() - start) * 1000)
    peak = torch.cuda.max_memory_allocated(device) / GIB if device.type == "cuda" else None
    return {"ms_mean": round(float(np.mean(times)), 1), "ms_min": round(float(np.min(times)), 1), "ms_all": [round(t, 1) for t in times], "peak_gib": None if peak is None else round(peak, 2)}


def free(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


# ---------------------------------------------------------------------------- the engine on random weights


class _RandomPaths:
    """Stands in for the downloaded weights' paths in :class:`RandomStoryMemEngine`."""

    models_dir = Path("random")
    t2v = None

    class lora:  # noqa: N801 - attribute bag
        variant = "mi2v"

    @staticmethod
    def describe() -> str:
        return "random Wan2.2-A14B weights and random LoRAs (benchmark)"


def random_lora(dims: Dims, rank: int, scale: float, relative: float, device, seed: int, dtype=torch.bfloat16) -> dict:
    """Random LoRA pairs for every block's ten target layers with ||scale * B @ A|| / ||W|| about ``relative``
    (W initialised as diffusers does: uniform(+-1/sqrt(in)), so ||W|| = sqrt(out / 3))."""
    from engine.storymem.lora import _MODULES, LoraPair

    d, f = dims.dim, dims.transformer["ffn_dim"]
    shapes = {m: (d, d) for m in _MODULES.values()} | {"ffn.net.0.proj": (f, d), "ffn.net.2": (d, f)}
    g = torch.Generator(device).manual_seed(seed)
    sigma_b = relative / (scale * (3 * rank) ** 0.5)
    pairs = {}
    for block in range(dims.transformer["num_layers"]):
        for module, (out_features, in_features) in shapes.items():
            down = torch.randn(rank, in_features, generator=g, device=device, dtype=dtype) / in_features**0.5
            up = torch.randn(out_features, rank, generator=g, device=device, dtype=dtype) * sigma_b
            pairs[f"blocks.{block}.{module}"] = LoraPair(down=down, up=up)
    return pairs


def _random_engine_class():
    from engine.storymem.engine import StoryMemEngine
    from engine.storymem.loading import StepLoraPaths
    from engine.storymem.lora import LoraUpdate, fuse_loras, rslora_scale

    class RandomStoryMemEngine(StoryMemEngine):
        """The StoryMem engine with random A14B weights (seeded: every instance on any GPU has the same
        weights), a random StoryMem LoRA (rank 128, rsLoRA 11.31, ||dW||/||W|| ~ 1e-3) and for ``turbo`` a random
        step-distill LoRA (rank 64, ~1e-2): every preset setting (FP8, attention, compile, LoRA fusion,
        multi-GPU) runs the production code."""

        def __init__(self, dims: Dims, **kwargs):
            self.dims = dims
            kwargs.setdefault("keep_both_experts", True)  # built on the GPU: the free-memory check would see them twice
            super().__init__(paths=_RandomPaths(), need_t2v=False, **kwargs)

        def _find_models(self, models_dir, paths, variant, need_t2v):
            return paths

        def _find_step_loras(self, need_t2v):
            return {"i2v": StepLoraPaths(kind="i2v", high=Path("random"), low=Path("random"), release="random")}

        def _load_shared(self):
            from engine.storymem.testing import tiny_tokenizer

            torch.manual_seed(7)
            return tiny_tokenizer(), random_text_encoder(self.dims, self.device, self.dtype), random_vae(self.dims, self.device)

        def _updates(self, kind, which):
            seed = 100 if which == "high" else 200
            scale = rslora_scale(128, 128)
            self.lora_scale = scale
            updates = [LoraUpdate(pairs=random_lora(self.dims, 128, scale, 1e-3, self.device, seed), scale=scale, source="random StoryMem LoRA", complete=True)]
            if self.expanded.step_lora:
                self.step_lora_layouts[kind] = "random pairs (converter not timed)"
                updates.append(LoraUpdate(pairs=random_lora(self.dims, 64, 1.0, 1e-2, self.device, seed + 1), scale=1.0, source="random step LoRA"))
            return updates

        def _build_expert(self, kind, which, updates):
            torch.manual_seed(1 if which == "high" else 2)
            model = random_transformer(self.dims, self.device, self.dtype)
            fuse_loras(model, updates)
            return model

    return RandomStoryMemEngine


def random_worker_engine(*, device, parallel, **kwargs):
    """Builder for :class:`~engine.storymem.parallel.WorkerSpec`: a random-weight engine on this rank's GPU
    (``cudnn_benchmark``: cuDNN autotunes the VAE's convolution algorithms per shape, whatever the preset)."""
    benchmark = kwargs.pop("cudnn_benchmark", False)
    profile = kwargs.pop("profile", None)
    engine = _random_engine_class()(Dims(tiny=kwargs.pop("tiny", False)), device=device, parallel=parallel, **kwargs)
    if benchmark:  # whatever the preset says (fast and turbo autotune anyway): the pipeline's VAE calls autotune
        engine._pipeline("m2v").cudnn_autotune = True
    if profile:
        _profile_third_shot(engine, Path(profile), rank=parallel.rank if parallel is not None else 0)
    return engine


def _profile_third_shot(engine, folder: Path, rank: int) -> None:
    """Run the engine's third shot (after the warm-up and the timed one) under the torch profiler (CPU and CUDA
    activity) and write ``folder/trace-rank<r>.json.gz`` for ``bench/profile_trace.py``."""
    render, calls = engine.render_shot, []

    def profiled(*args, **kwargs):
        calls.append(1)
        if len(calls) != 3:
            return render(*args, **kwargs)
        import gzip
        import shutil

        from torch.profiler import ProfilerActivity, profile

        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
        with profile(activities=activities) as prof:
            out = render(*args, **kwargs)
        folder.mkdir(parents=True, exist_ok=True)
        raw = folder / f"trace-rank{rank}.json"
        prof.export_chrome_trace(str(raw))
        with open(raw, "rb") as src, gzip.open(f"{raw}.gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
        raw.unlink()
        return out

    engine.render_shot = profiled


def _shot_request(dims: Dims, folder: Path, memory: int = 3, seed: int = 0):
    """An MI2V request with ``memory`` random memory images and a random first frame, written as PNGs."""
    import hashlib

    import PIL.Image

    from schemas.render import MemoryImage, RenderRequest

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(memory + 1):
        path = folder / f"image-{seed}-{i}.png"
        PIL.Image.fromarray(rng.integers(0, 256, size=(dims.height, dims.width, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    images = [MemoryImage(id=f"k{i}", path=p, sha256=hashlib.sha256(Path(p).read_bytes()).hexdigest()) for i, p in enumerate(paths[:-1])]
    prompts = ["a girl in a red coat walks through a snowy market, camera tracking",
               "the girl stops at a lantern stall and smiles at the old vendor, close-up"]  # fmt: skip
    prompt = prompts[seed % 2] if seed < 2 else f"{prompts[seed % 2]}, take {seed}"  # a prompt of its own per seed
    return RenderRequest(shot_id="01-02", prompt=prompt,
                         mode="mi2v", seed=0, width=dims.width, height=dims.height, num_frames=dims.frames,
                         memory=images, first_frame=paths[-1])  # fmt: skip


def _vae_chunks(spec: str | None) -> tuple[int, int] | None:
    """``--vae-chunks 4,16`` -> (4, 16); None: the engine's default."""
    return tuple(int(x) for x in spec.split(",")) if spec else None


def _setting_for(spec: str | None, preset: str) -> str | None:
    """``exact=20,fast=40`` -> this preset's value (None: the preset's own)."""
    for item in (spec or "").split(","):
        name, _, value = item.partition("=")
        if name == preset and value:
            return value
    return None


def _steps_for(spec: str | None, preset: str) -> int | None:
    value = _setting_for(spec, preset)
    return None if value is None else int(value)


class EngineSections:
    """The sections that run the engine itself (mixed into :class:`Bench`)."""

    def presets(self) -> None:
        from engine.storymem.deviation import forward_inputs

        a, d = self.args, self.dims
        self.drop_expert()
        # the profiled third shot gets its own prompt and images: a repeat of the timed one would find its prompt
        # embeddings and memory latents in the pipeline's caches and profile no encode_prompt/encode_memory work
        warm, request, profiled = (_shot_request(d, Path(a.artifacts) / "images", seed=seed) for seed in (0, 1, 2))
        for preset in a.presets.split(","):
            steps = _steps_for(a.shot_steps, preset)
            start = time.perf_counter()
            engine = _random_engine_class()(d, preset=preset, steps=steps, device=self.device, dtype=self.dtype,
                                            attention_backend=_setting_for(a.attention, preset), vae_chunks=_vae_chunks(a.vae_chunks))  # fmt: skip
            pipe = engine._pipeline("m2v")
            sync(self.device)
            setup = time.perf_counter() - start
            start = time.perf_counter()
            engine.render_shot(warm, steps=None if engine.expanded.m2v.solver != "unipc" else 2)  # warm-up: compiles
            warmup = time.perf_counter() - start
            inputs = forward_inputs(pipe.transformer, 3 + d.latent_frames, d.latent_h, d.latent_w, seed=0)
            with torch.no_grad():
                forward = timed(lambda: pipe.transformer(**inputs, return_dict=False), self.device, 1, a.iters)
                output = pipe.transformer(**inputs, return_dict=False)[0].detach().to("cpu", torch.bfloat16)
            self._forward_record(f"storymem engine preset {preset}", 3, forward, settings=engine.expanded.record())
            captured = {}
            decode = pipe.decode

            def keep(latents, output_type, _decode=decode):
                captured["latents"] = latents.detach().to("cpu", torch.bfloat16)
                return _decode(latents, output_type)

            pipe.decode = keep  # the timed shot has its own prompt and memory images; the negative prompt is reused
            if self.device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(self.device)
            start = time.perf_counter()
            frames = engine.render_shot(request)
            sync(self.device)
            total = time.perf_counter() - start
            del pipe.decode
            peak = torch.cuda.max_memory_allocated(self.device) / GIB if self.device.type == "cuda" else None
            self.rec.add(
                "presets", preset=preset, mode="mi2v", memory_frames=3, steps=engine.expanded.m2v.steps,
                setup_s=round(setup, 1), warmup_s=round(warmup, 1), total_s=round(total, 1),
                stages_s={k: round(v, 2) for k, v in engine.last_timings.items()},
                s_per_step=round(engine.last_timings["denoise"] / engine.expanded.m2v.steps, 2),
                peak_allocated_gib=None if peak is None else round(peak, 2), frames=list(frames.shape),
                settings=engine.settings(),
            )  # fmt: skip
            torch.save({"forward": output, "latents": captured["latents"], "preset": preset,
                        "steps": engine.expanded.m2v.steps}, Path(a.artifacts) / f"dev-{preset}.pt")  # fmt: skip
            del engine, pipe, frames, output, inputs, captured
            torch._dynamo.reset()  # compiled code keeps the experts alive otherwise (run one preset per process to keep caches)
            free(self.device)

    def multigpu(self) -> None:
        from engine.storymem.parallel import MultiGpuEngine, ParallelPlan, WorkerSpec
        from engine.storymem.presets import get_preset

        a, d = self.args, self.dims
        self.drop_expert()
        # the profiled third shot gets its own prompt and images: a repeat of the timed one would find its prompt
        # embeddings and memory latents in the pipeline's caches and profile no encode_prompt/encode_memory work
        warm, request, profiled = (_shot_request(d, Path(a.artifacts) / "images", seed=seed) for seed in (0, 1, 2))
        for preset in a.presets.split(","):
            steps = _steps_for(a.shot_steps, preset)
            plan = ParallelPlan.choose(a.gpus, cfg=get_preset(preset).m2v.cfg)
            kwargs = {"preset": preset, "steps": steps, "tiny": a.tiny, "attention_backend": _setting_for(a.attention, preset),
                      "cudnn_benchmark": a.cudnn_benchmark, "vae_chunks": _vae_chunks(a.vae_chunks)}  # fmt: skip
            if a.profile:
                kwargs["profile"] = str(Path(a.profile) / f"{preset}-{a.gpus}gpu")
            if preset in (a.compile_off or "").split(","):
                kwargs["compile"] = False
            if a.tiny:
                kwargs["dtype"] = torch.float32
            spec = WorkerSpec(builder="bench.engine_gpu:random_worker_engine", kwargs=kwargs, plan=plan,
                              device_type=self.device.type, threads=1 if a.tiny else None)  # fmt: skip
            start = time.perf_counter()
            engine = MultiGpuEngine(spec)
            setup = time.perf_counter() - start
            try:
                start = time.perf_counter()
                warm_steps = None if get_preset(preset).m2v.solver != "unipc" else 2
                engine.render_shot(warm, steps=warm_steps)
                warmup = time.perf_counter() - start
                start = time.perf_counter()
                frames = engine.render_shot(request)
                total = time.perf_counter() - start
                s = engine.settings()
                self.rec.add(
                    "multigpu", preset=preset, gpus=a.gpus, plan=plan.describe(), steps=s["preset"]["m2v"]["steps"],
                    setup_s=round(setup, 1), warmup_s=round(warmup, 1), total_s=round(total, 1),
                    stages_s={k: round(v, 2) for k, v in engine.last_timings.items()},
                    s_per_step=round(engine.last_timings["denoise"] / s["preset"]["m2v"]["steps"], 2),
                    overhead_s={k: round(v, 3) for k, v in engine.last_overhead.items()},
                    frames=list(frames.shape), compile=s["compile"], linear=s["linear"], cudnn_benchmark=a.cudnn_benchmark,
                )  # fmt: skip
                np.save(Path(a.artifacts) / f"frames-{preset}-{a.gpus}gpu.npy", frames[::20])
                if a.profile:  # a third shot under the profiler on every rank (random_worker_engine)
                    start = time.perf_counter()
                    engine.render_shot(profiled)
                    self.rec.add("multigpu-profiled", preset=preset, gpus=a.gpus, total_s=round(time.perf_counter() - start, 1),
                                 stages_s={k: round(v, 2) for k, v in engine.last_timings.items()},
                                 traces=str(Path(a.profile) / f"{preset}-{a.gpus}gpu"))  # fmt: skip
            finally:
                engine.close()

    def vae(self) -> None:
        d = self.dims
        self.drop_expert()
        vae = random_vae(d, self.device)
        g = torch.Generator("cpu").manual_seed(0)
        video = torch.zeros(1, 3, d.frames, d.height, d.width)
        video[:, :, 0] = torch.rand(1, 3, d.height, d.width, generator=g) * 2 - 1
        video = video.to(self.device)
        latents = torch.randn(1, 16, d.latent_frames, d.latent_h, d.latent_w, generator=g).to(self.device)
        results = {}
        for mode in ("eager", "channels_last_3d", "cudnn_benchmark"):
            if mode == "channels_last_3d":
                from engine.storymem.engine import channels_last_3d

                channels_last_3d(vae)
            if mode == "cudnn_benchmark":
                torch.backends.cudnn.benchmark = True
            with torch.no_grad():
                enc = timed(lambda: vae.encode(video).latent_dist.mode(), self.device, 1, self.args.iters)
                dec = timed(lambda: vae.decode(latents, return_dict=False)[0], self.device, 1, self.args.iters)
                out = (vae.encode(video).latent_dist.mode().float().cpu(), vae.decode(latents, return_dict=False)[0].float().cpu())
            results[mode] = out
            diff = [float((o - r).abs().max()) for o, r in zip(out, results["eager"])]
            self.rec.add("vae", mode=mode, encode_81_frames=enc, decode_21_latent_frames=dec,
                         max_abs_diff_vs_eager={"encode": diff[0], "decode": diff[1]})  # fmt: skip
        self._vae_chunks(vae, video, latents)
        torch.backends.cudnn.benchmark = False
        del vae
        free(self.device)

    def _vae_chunks(self, vae, video, latents) -> None:
        """Frames per VAE call (engine/storymem/vae_chunks.py), channels-last with cuDNN autotuning as the fast and
        turbo presets run it: time, peak memory of the call, largest difference from diffusers' own loop."""
        from engine.storymem import vae_chunks

        base = None
        for chunk in (1, 2, 4, 10, 20):
            if chunk > max(1, self.dims.latent_frames - 1):
                continue
            with torch.no_grad():
                dec = timed(lambda: vae_chunks.decode(vae, latents, chunk), self.device, 1, self.args.iters)
                if self.device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(self.device)
                out = vae_chunks.decode(vae, latents, chunk).float().cpu()
            base = out if base is None else base
            self.rec.add("vae-chunks", direction="decode", latent_frames_per_call=chunk, decode_21_latent_frames=dec, peak_gib=peak_gib(self.device),
                         max_abs_diff_vs_diffusers_loop=float((out - base).abs().max()))  # fmt: skip
        base = None
        for chunk in (4, 8, 16, 40, 80):
            if chunk > max(4, self.dims.frames - 1):
                continue
            with torch.no_grad():
                enc = timed(lambda: vae_chunks.encode(vae, video, chunk).mode(), self.device, 1, self.args.iters)
                if self.device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(self.device)
                out = vae_chunks.encode(vae, video, chunk).mode().float().cpu()
            base = out if base is None else base
            self.rec.add("vae-chunks", direction="encode", frames_per_call=chunk, encode_81_frames=enc, peak_gib=peak_gib(self.device),
                         max_abs_diff_vs_diffusers_loop=float((out - base).abs().max()))  # fmt: skip

    def stepcache(self) -> None:
        from diffusers import FirstBlockCacheConfig

        model = self.expert()
        model.rope = PositionalRotaryEmbed.like(model.rope)
        model.rope.set_frame_positions(memory_frame_positions(3, self.dims.latent_frames, "paper"))
        model.set_attention_backend(self.args.backend.split(",")[0])
        x, t, text = self.inputs(3)
        xs, turn = [x, x * 1.01], [0]  # alternate: with equal inputs the cache would (rightly) skip the blocks

        def call():
            turn[0] += 1
            with model.cache_context("cond"):
                return model(xs[turn[0] % 2], t, text, return_dict=False)[0]

        with torch.no_grad():
            plain = timed(call, self.device, 1, self.args.iters)
            turn[0] = 0
            reference = call().float().cpu()
            model.enable_cache(FirstBlockCacheConfig(threshold=0.0))
            cached = timed(call, self.device, 1, self.args.iters)
            turn[0] = 0
            same = torch.equal(call().float().cpu(), reference)
            model.disable_cache()
        self.rec.add("stepcache", what="First Block Cache, threshold 0 (every block computed), eager, M=3",
                     plain=plain, cached=cached, overhead_ms=round(cached["ms_mean"] - plain["ms_mean"], 1),
                     output_identical=same)  # fmt: skip

    def attention(self) -> None:
        from torch.nn.attention import SDPBackend, sdpa_kernel

        self.drop_expert()
        heads, head_dim = self.dims.transformer["num_attention_heads"], self.dims.transformer["attention_head_dim"]
        tokens = self.dims.tokens(3)
        g = torch.Generator(self.device).manual_seed(0)
        q, k, v = (torch.randn(1, heads, tokens, head_dim, generator=g, device=self.device, dtype=self.dtype) for _ in range(3))
        kernels = {"cudnn": SDPBackend.CUDNN_ATTENTION, "flash": SDPBackend.FLASH_ATTENTION, "efficient": SDPBackend.EFFICIENT_ATTENTION}
        reference = None
        for name, backend in kernels.items():
            with sdpa_kernel(backend), torch.no_grad():
                result = timed(lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v), self.device, 1, 3)
                out = torch.nn.functional.scaled_dot_product_attention(q, k, v).float()
            reference = out if reference is None else reference
            self.rec.add("attention", kernel=f"SDPA {name}", tokens=tokens, **result,
                         rel_l2_vs_cudnn=round(float((out - reference).norm() / reference.norm()), 5))  # fmt: skip
        try:
            from sageattention import sageattn
        except Exception as err:  # noqa: BLE001 - optional
            self.rec.add("attention", kernel="sageattention", skipped=f"not importable: {err!r}")
            return
        with torch.no_grad():
            result = timed(lambda: sageattn(q, k, v, tensor_layout="HND"), self.device, 1, 3)
            out = sageattn(q, k, v, tensor_layout="HND").float()
        self.rec.add("attention", kernel="sageattention " + getattr(__import__("sageattention"), "__version__", "?"),
                     tokens=tokens, **result, rel_l2_vs_cudnn=round(float((out - reference).norm() / reference.norm()), 5))  # fmt: skip


def compare(folder: Path) -> dict:
    """The deviation report from the ``dev-<preset>.pt`` files of ``presets`` runs (CPU): relative L2 of each
    lossy preset's forward output and final latents from exact's."""
    from engine.storymem.deviation import relative_l2

    report = {}
    for path in sorted(folder.rglob("frames-*-1gpu.npy")):
        one = np.load(path).astype(np.int16)
        for other in sorted(folder.rglob(path.name.replace("-1gpu", "-*gpu"))):
            if other != path:
                diff = np.abs(np.load(other).astype(np.int16) - one)
                report[f"{other.stem} vs {path.stem}"] = {"mean_abs_diff": round(float(diff.mean()), 4),
                                                          "max_abs_diff": int(diff.max()), "frames_compared": len(one)}
    runs = {p.stem.removeprefix("dev-"): torch.load(p) for p in sorted(folder.rglob("dev-*.pt"))}
    if "exact" not in runs:
        return report
    exact = runs.pop("exact")
    for preset, run in runs.items():
        report[preset] = {
            "forward_rel_l2": round(relative_l2(run["forward"], exact["forward"]), 5),
            "latents_rel_l2": round(relative_l2(run["latents"], exact["latents"]), 5),
            "steps": {"exact": exact["steps"], preset: run["steps"]},
        }
    return report


# ---------------------------------------------------------------------------- sections


class Bench(EngineSections):
    def __init__(self, args):
        self.args = args
        self.device = torch.device("cpu" if args.tiny else "cuda")
        self.dtype = torch.float32 if args.tiny else torch.bfloat16
        self.dims = Dims(args.tiny)
        meta = {
            "date": str(date.today()),
            "command": " ".join([Path(sys.executable).name] + sys.argv),
            "device": torch.cuda.get_device_name(0) if self.device.type == "cuda" else platform.processor() or "cpu",
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "diffusers": __import__("diffusers").__version__,
            "transformers": __import__("transformers").__version__,
            "dtype": str(self.dtype).removeprefix("torch."),
            "shape": f"{self.dims.width}x{self.dims.height}x{self.dims.frames}",
            "tiny": args.tiny,
        }
        self.rec = Recorder(Path(args.out), meta)
        self._expert = None

    def memory_frames(self) -> list[int]:
        return [int(m) for m in self.args.memory_frames.split(",")]

    def expert(self):
        if self._expert is None:
            start = time.perf_counter()
            self._expert = random_transformer(self.dims, self.device, self.dtype)
            sync(self.device)
            self.rec.add("setup", what="random A14B expert on the device" if not self.args.tiny else "tiny expert", seconds=round(time.perf_counter() - start, 1))
        return self._expert

    def drop_expert(self) -> None:
        self._expert = None
        free(self.device)

    def inputs(self, memory: int, channels: int = 36) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        g = torch.Generator(self.device).manual_seed(0)
        d = self.dims
        x = torch.randn(1, channels, memory + d.latent_frames, d.latent_h, d.latent_w, generator=g, device=self.device, dtype=self.dtype)
        text = torch.randn(1, 512, d.transformer["text_dim"], generator=g, device=self.device, dtype=self.dtype)
        return x, torch.tensor([999], device=self.device), text

    def _forward_record(self, impl: str, memory: int, result: dict, **extra) -> None:
        tflops = self.dims.dit_flops(memory) / (result["ms_mean"] / 1000) / 1e12
        self.rec.add(
            "forward", impl=impl, memory_frames=memory, tokens=self.dims.tokens(memory), **result,
            model_tflops=round(tflops, 1), shot_s_80_forwards=round(80 * result["ms_mean"] / 1000, 1), **extra,
        )  # fmt: skip

    # -- forward: stock diffusers vs this engine's transformer

    def forward(self) -> None:
        model = self.expert()
        stock_rope = model.rope
        ours_rope = PositionalRotaryEmbed.like(stock_rope)
        a = self.args
        for memory in self.memory_frames():
            x, t, text = self.inputs(memory)
            call = lambda: model(x, t, text, return_dict=False)  # noqa: E731
            with torch.no_grad():
                model.rope = stock_rope
                model.set_attention_backend("native")
                self._forward_record("diffusers stock (native SDPA)", memory, timed(call, self.device, a.warmup, a.iters))
                model.rope = ours_rope
                ours_rope.set_frame_positions(memory_frame_positions(memory, self.dims.latent_frames, "released"))
                for backend in a.backend.split(","):
                    model.set_attention_backend(backend)
                    self._forward_record(f"storymem engine ({backend})", memory, timed(call, self.device, a.warmup, a.iters), positions="released")
                # the paper's negative positions cost the same: one check at this M
                ours_rope.set_frame_positions(memory_frame_positions(memory, self.dims.latent_frames, "paper"))
                if memory == self.memory_frames()[-1]:
                    self._forward_record(f"storymem engine ({a.backend.split(',')[-1]})", memory, timed(call, self.device, 0, 1), positions="paper")
            del x, text
        model.rope = stock_rope
        model.set_attention_backend("native")

    # -- the released StoryMem WanModel

    def reference(self) -> None:
        if not self.args.reference_code:
            self.rec.add("reference", skipped="no --reference-code given")
            return
        self.drop_expert()
        WanModel = load_reference_wanmodel(Path(self.args.reference_code))
        t = self.dims.transformer
        start = time.perf_counter()
        with torch.device(self.device), default_dtype(self.dtype):
            model = WanModel(
                model_type="i2v", patch_size=tuple(t["patch_size"]), text_len=512, in_dim=36, dim=self.dims.dim,
                ffn_dim=t["ffn_dim"], freq_dim=t["freq_dim"], text_dim=t["text_dim"], out_dim=16,
                num_heads=t["num_attention_heads"], num_layers=t["num_layers"], qk_norm=True, cross_attn_norm=True, eps=t["eps"],
            )  # fmt: skip
        model = model.eval().requires_grad_(False)
        sync(self.device)
        self.rec.add("setup", what="random reference WanModel on the device", seconds=round(time.perf_counter() - start, 1))
        for memory in self.memory_frames():
            x, ts, text = self.inputs(memory)
            latent, y = x[0, :16], x[0, 16:]
            seq_len = self.dims.tokens(memory)
            context = [text[0, :120]]  # the reference pads the prompt's tokens to 512 inside the model

            def call():
                with torch.amp.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
                    return model([latent], t=ts, context=context, seq_len=seq_len, y=[y])

            with torch.no_grad():
                self._forward_record("StoryMem released WanModel (torch SDPA)", memory, timed(call, self.device, self.args.warmup, self.args.iters))
        del model
        free(self.device)

    # -- regional compilation

    def compile(self) -> None:
        """Each ``--backend`` with regional compilation, on a fresh expert each; remembers the fastest at the
        largest M for the ``shot`` section."""
        best = None
        for backend in self.args.backend.split(","):
            model = self.expert()
            rope = PositionalRotaryEmbed.like(model.rope)
            model.rope = rope
            model.set_attention_backend(backend)
            model.compile_repeated_blocks(fullgraph=True)
            for memory in self.memory_frames():
                x, t, text = self.inputs(memory)
                rope.set_frame_positions(memory_frame_positions(memory, self.dims.latent_frames, "released"))
                call = lambda: model(x, t, text, return_dict=False)  # noqa: E731
                with torch.no_grad():
                    start = time.perf_counter()
                    call()
                    sync(self.device)
                    first = time.perf_counter() - start
                    result = timed(call, self.device, 0, self.args.iters)
                self._forward_record(f"storymem engine ({backend} + compile_repeated_blocks)", memory, result, first_call_s=round(first, 1))
            if best is None or result["ms_mean"] < best[1]:
                best = (backend, result["ms_mean"])
            self.drop_expert()  # a compiled expert is not reused
            torch._dynamo.reset()
        self.best_backend = best[0]
        self.rec.add("compile", fastest_backend=best[0], at_memory_frames=self.memory_frames()[-1])

    # -- one full shot

    def _pipeline(self):
        from engine.storymem.pipeline import StoryMemPipeline
        from engine.storymem.scheduling import make_scheduler
        from engine.storymem.testing import tiny_tokenizer

        self.drop_expert()
        start = time.perf_counter()
        experts = [random_transformer(self.dims, self.device, self.dtype) for _ in range(2)]
        backend = getattr(self, "best_backend", None) or self.args.backend.split(",")[-1]
        compiled = self.args.shot_compile and "shot" in self.args.sections.split(",")
        for expert in experts:
            expert.set_attention_backend(backend)
            if compiled:
                expert.compile_repeated_blocks(fullgraph=True)
        pipe = StoryMemPipeline(
            tokenizer=tiny_tokenizer(),  # the real umT5 tokenizer is a download; token ids only index the embedding
            text_encoder=random_text_encoder(self.dims, self.device, self.dtype),
            vae=random_vae(self.dims, self.device),
            scheduler=make_scheduler(4.0),
            transformer=experts[0],
            transformer_2=experts[1],
            boundary_ratio=0.9,
        )
        pipe.set_execution_device(self.device)
        sync(self.device)
        self.rec.add("setup", what="random pipeline (umT5-XXL, VAE, 2 experts) on the device", seconds=round(time.perf_counter() - start, 1), attention_backend=backend, compiled=compiled)
        return pipe

    def _images(self, count: int, seed: int) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        return [rng.integers(0, 256, size=(self.dims.height, self.dims.width, 3), dtype=np.uint8) for _ in range(count)]

    def _run_shot(self, pipe, memory: int, steps: int) -> dict:
        """One MI2V shot; seconds per stage (stages timed by wrapping the pipeline's methods)."""
        stages: dict[str, float] = {}
        stage_peaks: dict[str, float] = {}
        stage_reserved: dict[str, float] = {}
        cuda = self.device.type == "cuda"
        originals = {}
        for name in ("encode_prompt", "encode_memory", "encode_video_condition", "denoise", "decode"):
            original = getattr(pipe, name)
            originals[name] = original

            def wrapped(*a, _name=name, _fn=original, **k):
                sync(self.device)
                if cuda:
                    torch.cuda.reset_peak_memory_stats(self.device)
                start = time.perf_counter()
                out = _fn(*a, **k)
                sync(self.device)
                stages[_name] = stages.get(_name, 0.0) + time.perf_counter() - start
                if cuda:
                    peak = torch.cuda.max_memory_allocated(self.device) / GIB
                    stage_peaks[_name] = round(max(stage_peaks.get(_name, 0.0), peak), 2)
                    held = torch.cuda.max_memory_reserved(self.device) / GIB
                    stage_reserved[_name] = round(max(stage_reserved.get(_name, 0.0), held), 2)
                return out

            setattr(pipe, name, wrapped)
        try:
            baseline = torch.cuda.memory_allocated(self.device) / GIB if cuda else None
            if cuda:
                torch.cuda.reset_peak_memory_stats(self.device)
            start = time.perf_counter()
            frames = pipe(
                prompt="a girl in a red coat walks through a snowy market, camera tracking", negative_prompt=None,
                memory_images=self._images(memory, 1), first_frame=self._images(1, 2)[0],
                height=self.dims.height, width=self.dims.width, num_frames=self.dims.frames,
                num_inference_steps=steps, generator=torch.Generator().manual_seed(0), output_type="np",
            ).frames  # fmt: skip
            sync(self.device)
            total = time.perf_counter() - start
        finally:
            for name in originals:
                delattr(pipe, name)
        peak = max(stage_peaks.values()) if cuda else None  # every stage resets the counter: the max of their peaks
        reserved = max(stage_reserved.values()) if cuda else None
        return {
            "total_s": round(total, 1), "steps": steps, "s_per_step": round(stages["denoise"] / steps, 2),
            "stages_s": {k: round(v, 2) for k, v in stages.items()},
            "peak_allocated_gib": None if peak is None else round(peak, 2),
            "stage_peak_allocated_gib": stage_peaks, "baseline_allocated_gib": None if baseline is None else round(baseline, 2),
            "peak_reserved_gib": None if reserved is None else round(reserved, 2),
            "frames": list(frames.shape),
        }  # fmt: skip

    def shot(self) -> None:
        pipe = self._pipeline()
        result = self._run_shot(pipe, memory=3, steps=self.args.steps)
        self.rec.add("shot", mode="mi2v", memory_frames=3, offload="none (both experts resident)", **result)
        self._pipe = pipe

    # -- memory modes

    def modes(self) -> None:
        from engine.storymem.offload import MemoryPlan

        pipe = getattr(self, "_pipe", None) or self._pipeline()
        experts = pipe.experts
        memory, steps = 10, self.args.mode_steps
        if self.device.type != "cuda":
            result = self._run_shot(pipe, memory=memory, steps=steps)
            self.rec.add("modes", offload="none", memory_frames=memory, **result)
            return
        wanted = self.args.modes.split(",")
        if "none" in wanted:
            result = self._run_shot(pipe, memory=memory, steps=steps)
            self.rec.add("modes", offload="none (both experts resident)", memory_frames=memory, **result)
        if "swap" in wanted:
            plan = MemoryPlan("none", self.device, keep_both_experts=False)
            start = time.perf_counter()
            plan.place_experts(experts)
            free(self.device)
            setup = time.perf_counter() - start
            result = self._run_shot(pipe, memory=memory, steps=steps)
            self.rec.add("modes", offload="none (one expert resident, swapped at the boundary)", memory_frames=memory, setup_s=round(setup, 1), swaps=plan.swapper.swaps, **result)
            plan.release_experts(experts)
        if "model" in wanted:
            plan = MemoryPlan("model", self.device)
            start = time.perf_counter()
            plan.place_shared(pipe.text_encoder, pipe.vae)
            plan.place_experts(experts)
            free(self.device)
            setup = time.perf_counter() - start
            result = self._run_shot(pipe, memory=memory, steps=steps)
            self.rec.add("modes", offload="model (CPU offload, one model on the GPU at a time)", memory_frames=memory, setup_s=round(setup, 1), swaps=plan.swapper.swaps, **result)
            plan.release_experts(experts)
            plan.swapper.remove(pipe.text_encoder)
        if "group" in wanted:
            plan = MemoryPlan("group", self.device)
            start = time.perf_counter()
            plan.place_shared(pipe.text_encoder, pipe.vae)
            plan.place_experts(experts)
            free(self.device)
            setup = time.perf_counter() - start
            result = self._run_shot(pipe, memory=memory, steps=steps)
            self.rec.add("modes", offload="group (block level, CUDA streams)", memory_frames=memory, setup_s=round(setup, 1), **result)

    # -- keyframe extraction

    def keyframes(self) -> None:
        import open_clip

        from engine.clip_features import ClipEmbedder, ClipIQAScorer
        from engine.keyframes import extract_candidates
        from schemas.memory import MemorySettings

        path = Path(self.args.out) / "clip-random-vit-b-32.bin"
        torch.manual_seed(0)
        torch.save(open_clip.create_model("ViT-B-32", pretrained=None).state_dict(), path)
        embedder = ClipEmbedder(path, device=self.device)
        scorer = ClipIQAScorer(embedder)
        rng = np.random.default_rng(0)
        shots = [rng.integers(0, 256, size=(self.dims.frames, self.dims.height, self.dims.width, 3), dtype=np.uint8) for _ in range(self.args.iters + 1)]
        settings = MemorySettings()
        extract_candidates(shots[0], embedder, scorer, settings)  # warm-up
        times = []
        for frames in shots[1:]:
            sync(self.device)
            start = time.perf_counter()
            extract_candidates(frames, embedder, scorer, settings)
            sync(self.device)
            times.append((time.perf_counter() - start) * 1000)
        self.rec.add(
            "keyframes", what=f"extract_candidates on {self.dims.frames} frames: ClipEmbedder (one batched forward) + ClipIQAScorer + selection",
            ms_mean=round(float(np.mean(times)), 1), ms_all=[round(t, 1) for t in times],
        )  # fmt: skip
        path.unlink()


# ---------------------------------------------------------------------------- the reference model


def _sdpa_flash_attention(q, k, v, q_lens=None, k_lens=None, dropout_p=0.0, softmax_scale=None, q_scale=None,
                          causal=False, window_size=(-1, -1), deterministic=False, dtype=torch.bfloat16, version=None):  # fmt: skip
    """Stand-in for the reference's flash-attn call (flash-attn is not installed): the same math with torch
    SDPA on ``[B, L, heads, head_dim]`` tensors in ``dtype``, masking keys past ``k_lens``."""
    out_dtype = q.dtype
    if q_scale is not None:
        q = q * q_scale
    mask = None
    if k_lens is not None and bool((k_lens < k.shape[1]).any()):
        mask = (torch.arange(k.shape[1], device=q.device)[None, :] < k_lens.to(q.device)[:, None])[:, None, None, :]
    out = torch.nn.functional.scaled_dot_product_attention(
        q.transpose(1, 2).to(dtype), k.transpose(1, 2).to(dtype), v.transpose(1, 2).to(dtype),
        attn_mask=mask, is_causal=causal, scale=softmax_scale,
    )  # fmt: skip
    return out.transpose(1, 2).to(out_dtype)


def load_reference_wanmodel(checkout: Path):
    """``WanModel`` from a StoryMem checkout's ``wan/modules/model.py``, with its flash-attn import served by
    :func:`_sdpa_flash_attention` (nothing else of the checkout is imported)."""
    source = checkout / "wan" / "modules" / "model.py"
    if not source.is_file():
        raise SystemExit(f"--reference-code: {source} not found (clone https://github.com/Kevin-thu/StoryMem)")
    package = types.ModuleType("storymem_reference")
    package.__path__ = []
    attention = types.ModuleType("storymem_reference.attention")
    attention.flash_attention = _sdpa_flash_attention
    sys.modules["storymem_reference"] = package
    sys.modules["storymem_reference.attention"] = attention
    spec = importlib.util.spec_from_file_location("storymem_reference.model", source)
    module = importlib.util.module_from_spec(spec)
    sys.modules["storymem_reference.model"] = module
    spec.loader.exec_module(module)
    return module.WanModel


# ---------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="folder for engine_gpu.json")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}")
    parser.add_argument("--memory-frames", default="0,3,10", help="memory latent frames M for the forward timings")
    parser.add_argument("--backend", default="_native_cudnn", help="attention backend(s) of this engine's transformer, comma-separated")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--iters", type=int, default=2)
    parser.add_argument("--steps", type=int, default=40, help="denoising steps of the full shot")
    parser.add_argument("--mode-steps", type=int, default=2, help="denoising steps per memory-mode run (2: one per expert)")
    parser.add_argument("--shot-compile", type=int, default=1, help="compile the experts' blocks for the shot section (1/0)")
    parser.add_argument("--modes", default="none,swap,model,group", help="memory modes to measure, in this order")
    parser.add_argument("--reference-code", default=None, help="a checkout of Kevin-thu/StoryMem for the reference section")
    parser.add_argument("--presets", default="exact,fast,turbo", help="presets for the presets/multigpu sections")
    parser.add_argument("--shot-steps", default=None, help="steps per preset for the timed shots, e.g. exact=20 (default: the preset's)")
    parser.add_argument("--gpus", type=int, default=1, help="GPUs per shot for the multigpu section")
    parser.add_argument("--attention", default=None, help="attention backend per preset for the presets/multigpu sections, e.g. exact=fa4")
    parser.add_argument("--vae-chunks", default=None, help="presets/multigpu sections: frames per VAE call, decode latent frames,encode pixel frames (default: the engine's)")
    parser.add_argument("--cudnn-benchmark", action="store_true", help="multigpu section: cuDNN autotunes the VAE's convolutions per shape whatever the preset (fast and turbo do anyway)")
    parser.add_argument("--profile", metavar="FOLDER", help="multigpu section: a third shot under the torch profiler on every rank; traces in FOLDER (bench/profile_trace.py reads them)")
    parser.add_argument("--compile-off", default=None, help="presets to run without compilation in the multigpu section")
    parser.add_argument("--artifacts", default=None, help="folder for images, dev-*.pt and frames-*.npy (default: --out)")
    parser.add_argument("--compare", metavar="FOLDER", help="print the deviation report of the dev-*.pt files and the "
                        "1-GPU vs N-GPU frame differences of the frames-*.npy files under FOLDER, and exit")
    parser.add_argument("--tiny", action="store_true", help="CPU smoke run with the tiny test models")
    args = parser.parse_args(argv)
    args.artifacts = args.artifacts or args.out
    Path(args.artifacts).mkdir(parents=True, exist_ok=True)
    if args.compare:
        print(json.dumps(compare(Path(args.compare)), indent=2))
        return
    if args.tiny:
        args.backend = "native"
    elif not torch.cuda.is_available():
        raise SystemExit("no CUDA device; use --tiny for a CPU smoke run")
    unknown = set(args.sections.split(",")) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown sections {sorted(unknown)}; choose from {SECTIONS}")
    bench = Bench(args)
    for section in args.sections.split(","):
        getattr(bench, section)()


if __name__ == "__main__":
    main()
