"""Refuse, before any work starts, every flag value and every flag + script combination that a later
stage (engine, memory bank, encoder, model loader, endpoint) cannot handle.

``main.py`` calls :func:`validate` on the parsed flags before it runs a command. Nothing is created or
written here (no run folder, no file), so a refusal leaves the disk as it was. A refusal is one line,
exit 2, naming the flag, what is allowed and why, e.g.::

    error: --frames 5: mode mm2v repeats the previous shot's last 5 frames, so num_frames must be at least 9 ...

No limit is copied here: every check asks the stage that owns it.

* Run settings and render requests: the pydantic contracts ``RunSettings``, ``MemorySettings`` and
  ``RenderRequest``. The settings are built from the flags as the command builds them
  (``cli.commands.run_settings``), and one probe request per mode a shot of the run can take (t2v, m2v
  with a full memory, the continuation mode) is built with the director's own ``build_request``.
* The StoryMem engine: ``engine.storymem.limits`` (the checks its pipeline and ``render_shot`` run).
* The planner: ``agents.planner.logline`` (logline, ``--shots``, ``--style``).
* Scripts and bibles: ``agents.runs.read_story`` (the loader ``render`` uses), reference images, and each
  shot's prompt with its characters' details against the request's prompt limit.
* Keyframe models: ``ClipEmbedder.check_checkpoint``, ``HPSv3Scorer.check``.
* Prerequisites: ffmpeg with libx264 and FreeType fonts (``engine.video.check_tools``), StoryMem weights and
  CUDA (``engine.storymem.loading.storymem_available``), model endpoints accepting connections
  (``agents.llm.config.check_reachable``), a writable output folder, free disk space and memory.

Adding a check
--------------
* A flag whose values a stage checks with a function: one line in :data:`FLAGS`, e.g.
  ``Flag("--gpus", "gpus", check_gpus)``. The function takes the value and raises ``ValueError`` (or a
  domain error) saying what is allowed; a flag left out (``None``) is not checked, and a subcommand
  without the flag skips it.
* A value that goes into ``RunSettings``, ``RenderRequest`` or an engine option is checked already by
  building those; add its field name to :data:`FIELD_FLAGS` (``"gpus": ("--gpus", "GPUs per shot")``) so
  the refusal names the flag.
* A check that needs several flags, the script or the run folder: a function ``(Context) -> None`` in
  :data:`COMBINED`.
* A new subcommand that creates runs from render flags (e.g. ``batch``): add it to :data:`CREATING` (and
  :data:`RENDERING`); one that renders an existing run: :data:`STORED`.
"""

from __future__ import annotations

import argparse
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import annotated_types as at
from pydantic import BaseModel, ValidationError

RENDERING = ("render", "film", "resume", "revise", "chat", "batch")
"""Commands that render shots (and so need the tools, the engine and the run settings)."""
CREATING = ("render", "film", "batch")
"""Commands that create a run folder from flags."""
STORED = ("resume", "revise", "chat")
"""Commands that render with the settings stored in an existing run."""


class UsageError(ValueError):
    """A flag (or flag + script combination) a later stage cannot handle: ``flag``, ``value`` and why."""

    def __init__(self, flag: str, value: object, reason: str, *, message: str | None = None) -> None:
        self.flag, self.value, self.reason = flag, value, reason
        shown = f" {value}" if value is not None and value != "" else ""
        super().__init__(message or f"{flag}{shown}: {reason}")


@dataclass(frozen=True)
class Flag:
    """A flag checked on its own: ``check(value)`` raises with the reason when the value is refused."""

    flag: str
    """As typed, e.g. ``--steps``."""
    dest: str
    """Attribute on the parsed namespace."""
    check: Callable[[Any], Any]
    """The owning stage's check; ``ValueError`` becomes a :class:`UsageError`, a domain error passes as is."""


FIELD_FLAGS: dict[str, tuple[str, str]] = {
    "seed": ("--seed", "the base seed: shot k draws its noise from seed + k"),
    "width": ("--size", "frame width in pixels"),
    "height": ("--size", "frame height in pixels"),
    "num_frames": ("--frames", "frames per shot"),
    "fps": ("--fps", "frames per second"),
    "max_retries": ("--max-retries", "critic retries per shot"),
    "max_size": ("--max-memory-size", "memory keyframes a shot is conditioned on"),
    "sink_size": ("--max-memory-size", "memory keyframes a shot is conditioned on"),
    "memory": ("--max-memory-size", "memory keyframes a shot is conditioned on"),
    "continuation": ("--continuation", "how cut=false shots continue"),
    "mode": ("--continuation", "how cut=false shots continue"),
    "variant": ("--continuation", "the StoryMem LoRA variant (one per continuation mode)"),
    "steps": ("--steps", "denoising steps"),
    "attention_backend": ("--attention-backend", "the attention kernel (fa4, cudnn, fp8, sage or a diffusers backend)"),
}
"""Field or argument name (as ``RunSettings``, ``MemorySettings``, ``RenderRequest`` or an engine check
calls it) -> (the flag that sets it, what it is)."""


# ---------------------------------------------------------------------------------------------- helpers


def _shown(flag: str, ctx: "Context") -> object:
    """The value of ``flag`` as the user gave it (or as the run stored it)."""
    args, s = ctx.args, ctx.settings
    if flag == "--size":
        size = getattr(args, "size", None) or ((s.width, s.height) if s else None)
        return f"{size[0]}x{size[1]}" if size else None
    dest = flag.lstrip("-").replace("-", "_")
    if hasattr(args, dest) and getattr(args, dest) is not None:
        return getattr(args, dest)
    stored = {"--seed": s.seed, "--frames": s.num_frames, "--fps": s.fps, "--max-retries": s.max_retries,
              "--max-memory-size": s.memory.max_size, "--continuation": s.continuation} if s is not None else {}
    if flag in stored:
        return stored[flag]
    return ctx.options.storymem.get(dest) if ctx.options is not None else None


def _contracts() -> list[type[BaseModel]]:
    from schemas.memory import MemorySettings
    from schemas.render import RenderRequest
    from schemas.run import RunSettings

    return [RunSettings, MemorySettings, RenderRequest]


def field_range(models: list[type[BaseModel]], name: str) -> tuple[str, list[str]]:
    """The values field ``name`` accepts in every one of ``models`` that has it, in words (``an integer
    from 1 to 64``), from their constraints; and the ``Model.field`` names the limits come from."""
    lo = hi = step = None
    owners = []
    for model in models:
        info = model.model_fields.get(name)
        if info is None:
            continue
        owners.append(f"{model.__name__}.{name}")
        for m in info.metadata:
            low = m.ge if isinstance(m, at.Ge) else m.gt + 1 if isinstance(m, at.Gt) else \
                m.min_length if isinstance(m, at.MinLen) else None
            high = m.le if isinstance(m, at.Le) else m.lt - 1 if isinstance(m, at.Lt) else \
                m.max_length if isinstance(m, at.MaxLen) else None
            if low is not None:
                lo = low if lo is None else max(lo, low)
            if high is not None:
                hi = high if hi is None else min(hi, high)
            if isinstance(m, at.MultipleOf):
                step = m.multiple_of
    words = f"a multiple of {step}" if step else "an integer"
    if lo is not None and hi is not None:
        words = f"{words} from {lo} to {hi}"
    elif lo is not None:
        words = f"{words} of at least {lo}"
    elif hi is not None:
        words = f"{words} of at most {hi}"
    return words, owners


def _raise_validation(err: ValidationError, model: type[BaseModel], ctx: "Context", what: str) -> None:
    """The first error of ``model``'s validation as a :class:`UsageError` naming the flag."""
    e = err.errors()[0]
    name = str(e["loc"][0]) if e["loc"] else ""
    flag, meaning = FIELD_FLAGS.get(name, (f"--{name.replace('_', '-')}" if name else what, name))
    words, owners = field_range([model] + [m for m in _contracts() if m is not model], name)
    if e["type"] == "value_error":
        reason, owners = e["msg"].removeprefix("Value error, "), [f"{model.__name__}.{name}"]
    elif name:
        reason = f"{name} must be {words}"
    else:
        reason, owners = e["msg"], [model.__name__]
    ctx.refuse(flag, f"{reason} ({meaning}; {'the limit of' if len(owners) == 1 else 'the limits of'} "
                     f"{' and '.join(owners)})")


def _settings_error(err: Exception, ctx: "Context") -> None:
    from engine.base import SettingsError

    argument = err.argument if isinstance(err, SettingsError) else ""
    flag, meaning = FIELD_FLAGS.get(argument, ("--engine", "the engine"))
    ctx.refuse(flag, f"{err} ({meaning}; the StoryMem engine's limit)")


# ---------------------------------------------------------------------------------------------- context


@dataclass
class Context:
    """What the checks share: the flags, and what is built from them (settings, options, script)."""

    args: argparse.Namespace
    command: str
    settings: Any = None
    """``RunSettings`` of the run (from the flags, or stored in the run for resume/revise/chat)."""
    options: Any = None
    """``BackendOptions`` (from the flags, or stored)."""
    run_dir: Path | None = None
    """The existing run (resume/revise/chat)."""
    story: Any = None
    """``agents.runs.Story`` for render."""
    engines: list[str] = field(default_factory=list)
    """The engines that may render this run (``auto`` may fall back to ``preview``)."""

    def refuse(self, flag: str, reason: str) -> None:
        value = _shown(flag, self)
        if self.run_dir is not None and self.command in STORED:
            raise UsageError(f"{self.run_dir} was created with {flag}", value,
                             f"{reason}; this version cannot render it: start a new run with another value")
        raise UsageError(flag, value, reason)


# ---------------------------------------------------------------------------------------------- single flags


def _models_folder(value: str) -> None:
    if not Path(value).expanduser().is_dir():
        raise ValueError("no such folder; --models is the folder holding the Wan2.2 and StoryMem downloads "
                         "(docs/storymem-engine.md)")


def _base_url(value: str) -> None:
    from agents.llm.config import LLMConfig

    LLMConfig(model="any", base_url=value)  # ConfigError when it is not an http(s) URL


def _clip(value: str) -> None:
    from engine.clip_features import ClipEmbedder

    ClipEmbedder.check_checkpoint(value)


def _steps(value: int) -> None:
    from engine.storymem.limits import check_steps

    check_steps(value)


def _attention(value: str) -> None:
    from engine.storymem.limits import check_attention_backend

    check_attention_backend(value)


def _request(value: str) -> None:
    from agents.reviser.base import check_request

    check_request(value)


def _planner(name: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        from agents.planner import logline

        return getattr(logline, name)(value)

    return check


FLAGS: list[Flag] = [
    Flag("logline", "logline", _planner("clean_logline")),
    Flag("--shots", "shots", _planner("check_shots")),
    Flag("--style", "style", _planner("clean_style")),
    Flag("request", "request", _request),
    Flag("--models", "models", _models_folder),
    Flag("--base-url", "base_url", _base_url),
    Flag("--clip-checkpoint", "clip_checkpoint", _clip),
    Flag("--steps", "steps", _steps),
    Flag("--attention-backend", "attention_backend", _attention),
]
"""Flags checked on their own (see the module docstring: one line per flag)."""


def _check_flags(ctx: Context) -> None:
    for f in FLAGS:
        value = getattr(ctx.args, f.dest, None)
        if value is None:
            continue
        try:
            f.check(value)
        except (ValueError, RuntimeError) as err:  # the stages' ValueError and domain errors (all one line)
            text = str(err)
            if text.startswith(f.flag) or not f.flag.startswith("-"):  # already names it (or a positional)
                raise UsageError(f.flag, value, text, message=text) from None
            raise UsageError(f.flag, value, text) from None


# ---------------------------------------------------------------------------------------------- combined checks


def _load_stored(ctx: Context) -> None:
    """resume/revise/chat: the settings and options the run was created with."""
    if ctx.command not in STORED:
        return
    from agents.director.rundir import RunDir
    from agents.runs import _stored_options as stored_options

    run = RunDir.open(ctx.args.run_dir)  # a missing or corrupt run is its own one-line error
    ctx.run_dir = run.root
    ctx.settings = run.manifest.settings
    ctx.options = stored_options(run.manifest, {k: getattr(ctx.args, k, None) for k in ("llm_model", "base_url")})


def _flag_settings(ctx: Context) -> None:
    """render/film: ``RunSettings`` and ``BackendOptions`` from the flags, as the command builds them."""
    if ctx.command not in CREATING:
        return
    from cli.commands import backend_options, memory_settings, run_settings
    from schemas.memory import MemorySettings
    from schemas.run import RunSettings

    try:
        memory = memory_settings(ctx.args)
    except ValidationError as err:
        _raise_validation(err, MemorySettings, ctx, "--max-memory-size")
    try:
        ctx.settings = run_settings(ctx.args, memory)
    except ValidationError as err:
        _raise_validation(err, RunSettings, ctx, "settings")
    ctx.options = backend_options(ctx.args)


def _hpsv3(ctx: Context) -> None:
    opts = ctx.options
    if opts is None or not opts.hpsv3_checkpoint:
        return
    if not opts.hpsv3_base:
        ctx.refuse("--hpsv3", "needs --hpsv3-base, the local folder of HPSv3's base model (Qwen2-VL-7B-Instruct)")
    from engine.clip_features import HPSv3Scorer

    HPSv3Scorer.check(opts.hpsv3_checkpoint, opts.hpsv3_base)


def _engines(ctx: Context) -> None:
    """Which engines may render the run; ``--engine storymem`` needs its weights and CUDA now."""
    if ctx.command not in RENDERING or ctx.options is None:
        return
    choice = ctx.options.engine
    if choice not in ("storymem", "auto"):
        ctx.engines = ["preview"]
        return
    from engine.storymem.loading import resolve_models_dir, storymem_available

    models = resolve_models_dir(ctx.options.models_dir)
    ok = models is not None and storymem_available(models, variant=ctx.settings.continuation)[0]
    remote = ctx.command == "batch" and bool(getattr(ctx.args, "ray_address", None) or os.environ.get("RAY_ADDRESS"))
    if remote:  # the films render on the cluster's machines, not this one; their workers check the weights
        ctx.engines = [choice] if choice == "storymem" else ["storymem", "preview"]
        return
    if choice == "storymem" and not ok and ctx.command in CREATING:
        ctx.refuse("--engine", f"storymem cannot run: {storymem_available(models, variant=ctx.settings.continuation)[1]}")
    # auto falls back to the preview engine; a stored storymem run without its weights is refused by resume itself.
    ctx.engines = (["storymem"] if ok else []) + (["preview"] if choice == "auto" else [])


def probe_requests(settings) -> list:
    """One request per mode a shot of a run with ``settings`` can take, built as the director builds them:
    the first shot (t2v), a shot with a full memory (m2v) and a continuation (``settings.continuation``),
    the latter two with the largest seed a shot can have."""
    from agents.director.requests import build_request
    from schemas.render import MOTION_FRAMES, SEED_LIMIT, MemoryImage
    from schemas.script import Shot

    shot = Shot(id="01-02", index=1, scene_num=1, prompt="probe", cut=False)
    memory = [MemoryImage(id=f"probe-{i}", path=f"/probe/{i}.png", sha256="0" * 64)
              for i in range(settings.memory.max_size)]
    tail = [f"/probe/tail-{i}.png" for i in range(MOTION_FRAMES)]
    out = []
    for mode, mem, seed in (("t2v", [], settings.seed), ("m2v", memory, SEED_LIMIT - 1),
                            (settings.continuation, memory, SEED_LIMIT - 1)):
        out.append(build_request(shot=shot, prompt="probe", mode=mode, memory=mem, tail=tail, seed=seed,
                                 settings=settings, characters=[], negative_prompt=settings.negative_prompt))
    return out


def _requests(ctx: Context) -> None:
    """Every request the run can make must pass the contract and every engine that may render it."""
    if ctx.command not in RENDERING or ctx.settings is None:
        return
    from engine.base import SettingsError
    from schemas.render import RenderRequest

    try:
        probes = probe_requests(ctx.settings)
    except ValidationError as err:
        _raise_validation(err, RenderRequest, ctx, "settings")
    if "storymem" in ctx.engines:
        from engine.storymem.limits import check_request
        from engine.storymem.scheduling import M2V_SAMPLER

        steps = ctx.options.storymem.get("steps") or M2V_SAMPLER.steps
        for probe in probes:
            try:
                check_request(probe, variant=ctx.settings.continuation, steps=steps)
            except SettingsError as err:
                _settings_error(err, ctx)


def _story(ctx: Context) -> None:
    """render: the script and bible load (JSON5 and unknown keys unless --strict), the reference images
    are readable images, and every shot's prompt with its characters' details fits a request."""
    if ctx.command != "render":
        return
    from agents.runs import read_story
    from schemas.render import MAX_REQUEST_PROMPT
    from story.details import inject_details, is_mentioned
    from story.io import ScriptError

    story = read_story(ctx.args.script, ctx.args.bible, strict=getattr(ctx.args, "strict", False))
    ctx.story = story
    problems = story.reference_problems()
    if problems:
        raise ScriptError("bible", problems)
    chars = story.bible.characters
    for shot in story.script.iter_shots():
        cast = story.bible.in_shot(shot.id)
        named = [c for c in chars if is_mentioned(shot.prompt, c)]
        wanted = named + [c for c in cast if c not in named]
        full = inject_details(shot.prompt, wanted, cast=cast)
        if len(full) > MAX_REQUEST_PROMPT:
            raise ScriptError(Path(ctx.args.script).name, [
                f"scene {shot.scene_num}, shot {shot.id.split('-')[1].lstrip('0') or '0'}: the prompt with the explicit "
                f"details of {', '.join(c.name for c in wanted)} has {len(full)} characters, more than the "
                f"{MAX_REQUEST_PROMPT} a render request takes (rule: every shot prompt carries its characters' details); "
                "shorten the prompt or the bible's appearance/attire"])


def _tools(ctx: Context) -> None:
    if ctx.command not in RENDERING:
        return
    from engine.video import check_tools

    try:
        check_tools()
    except ValueError as err:
        raise UsageError("ffmpeg", None, f"{err} (needed to write every shot)") from None


def _endpoints(ctx: Context) -> None:
    """Every model endpoint the command will call accepts connections now (not after the first shot)."""
    from agents.llm.config import LLMConfig, check_reachable
    from agents.llm.errors import EndpointUnreachable

    opts = ctx.options
    llm_model = getattr(ctx.args, "llm_model", None) if opts is None else opts.llm_model
    base_url = getattr(ctx.args, "base_url", None) if opts is None else opts.base_url
    roles: list[tuple[str, str | None, str]] = []
    if ctx.command in ("film", "plan", "revise", "chat"):
        roles.append(("llm", llm_model, "--llm-model"))
    if ctx.command in RENDERING and opts is not None:
        roles.append(("vlm", opts.vlm_model, "--vlm-model"))
    for role, model, flag in roles:
        config = LLMConfig.from_env(model=model, base_url=base_url, role=role)
        if config is not None:
            try:
                check_reachable(config)
            except EndpointUnreachable as err:
                raise UsageError(flag, config.model, str(err)) from None


def _nearest_existing(path: Path) -> Path:
    p = path.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def run_footprint(settings, n_shots: int) -> int:
    """Bytes a run's files may take: per shot, its lossless PNGs at raw size (the 5 tail frames, keyframe
    candidates and keyframes, the critic's samples) and the shot and its share of the film at 1/20 of the
    raw frames. An upper bound in practice: 8 preview shots at 832x480x81 took 17 MB, this says 212 MB."""
    from agents.director.nodes import SAMPLE_POINTS
    from schemas.render import MOTION_FRAMES

    frame = settings.width * settings.height * 3
    pngs = (MOTION_FRAMES + 2 * settings.memory.max_per_shot + len(SAMPLE_POINTS)) * frame
    video = settings.num_frames * frame // 20
    return n_shots * (pngs + 2 * video)


def _output(ctx: Context) -> None:
    """The output folder can be written, and its disk holds the run's files; memory holds a shot's frames."""
    if ctx.command not in CREATING and ctx.command != "plan":
        return
    out = getattr(ctx.args, "out", None)
    if ctx.command == "plan":
        target = Path(out)
        if target.is_dir():
            ctx.refuse("--out", "is a folder; plan writes a story file (e.g. story.json) and its bible beside it")
        folder = target.parent
    else:
        folder = Path(out) if out is not None else Path("runs") / "new"  # the default: runs/<story name>
        if folder.exists() and not folder.is_dir():
            ctx.refuse("--out", "is a file, not a folder; choose a folder path")
    base = _nearest_existing(folder)
    if not base.is_dir():
        ctx.refuse("--out", f"cannot write under {base}, which is a file; choose a writable folder")
    if not os.access(base, os.W_OK | os.X_OK):
        ctx.refuse("--out", f"cannot write in {base}; choose a writable folder")
    if ctx.settings is None:
        return
    n_shots = len(ctx.story.script.shots()) if ctx.story is not None else 24
    need = run_footprint(ctx.settings, n_shots)
    free = shutil.disk_usage(base).free
    if free < need:
        ctx.refuse("--out", f"{base} has {free / 1e9:.2f} GB free, less than the {need / 1e9:.2f} GB {n_shots} shots at "
                   f"{ctx.settings.width}x{ctx.settings.height}x{ctx.settings.num_frames} may take; free space or "
                   "choose another folder")


def _available_memory() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _memory(ctx: Context) -> None:
    """One shot's frames must fit in memory twice (the rendered frames and the encoder's copy)."""
    if ctx.command not in RENDERING or ctx.settings is None:
        return
    s = ctx.settings
    need = 2 * s.num_frames * s.width * s.height * 3
    avail = _available_memory()
    if avail is not None and need > avail:
        ctx.refuse("--size", f"a shot of {s.num_frames} frames at {s.width}x{s.height} needs at least "
                   f"{need / 1e9:.1f} GB of memory and {avail / 1e9:.1f} GB is available; use a smaller --size or --frames")


COMBINED: list[Callable[[Context], None]] = [
    _load_stored, _flag_settings, _hpsv3, _engines, _requests, _story, _tools, _endpoints, _output, _memory,
]
"""Checks over several flags, the script or the run, in order (cheap ones first, endpoints and disk last)."""


def validate(args: argparse.Namespace) -> Context:
    """Check the parsed flags of any subcommand; raises :class:`UsageError` (or a domain error, one line)
    before anything is created. Returns what was built (settings, options, story)."""
    ctx = Context(args=args, command=args.command)
    _check_flags(ctx)
    for check in COMBINED:
        check(ctx)
    return ctx
