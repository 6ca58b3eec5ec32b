"""Finding and loading the weights users downloaded: Wan2.2 base models in either layout, the StoryMem LoRA.

A models folder ``DIR`` holds (the StoryMem README's layout, ``./models``)::

    DIR/Wan2.2-I2V-A14B/            original layout: high_noise_model/ low_noise_model/ Wan2.1_VAE.pth
                                    models_t5_umt5-xxl-enc-bf16.pth google/umt5-xxl/
    DIR/Wan2.2-I2V-A14B-Diffusers/  or the diffusers layout: model_index.json transformer/ transformer_2/
                                    vae/ text_encoder/ tokenizer/
    DIR/Wan2.2-T2V-A14B[-Diffusers]/  the same for text-to-video (the first shot)
    DIR/StoryMem/Wan2.2-MI2V-A14B/  backbone_high_noise.pth backbone_low_noise.pth (or Wan2.2-MM2V-A14B/;
                                    either file may be .safetensors instead)

The folder comes from ``--models DIR``, else ``$DAILIES_MODELS``, else ``models_dir`` in
``~/.config/dailies/config.json`` (:func:`resolve_models_dir`). Nothing is ever fetched: a missing or
mismatched file is reported in one :class:`~engine.base.EngineError` with the commands that download it.
This module imports torch, diffusers and transformers only inside the functions that load weights.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from engine.base import EngineError

if TYPE_CHECKING:
    import torch

Kind = Literal["i2v", "t2v"]
Layout = Literal["diffusers", "original"]
Variant = Literal["mi2v", "mm2v"]
VARIANTS: tuple[str, ...] = ("mi2v", "mm2v")

ENV_VAR = "DAILIES_MODELS"
CONFIG_KEY = "models_dir"

BASE_FOLDERS: dict[Kind, dict[Layout, str]] = {
    "i2v": {"diffusers": "Wan2.2-I2V-A14B-Diffusers", "original": "Wan2.2-I2V-A14B"},
    "t2v": {"diffusers": "Wan2.2-T2V-A14B-Diffusers", "original": "Wan2.2-T2V-A14B"},
}
"""Folder names under the models folder; each is also the Hugging Face repository name under ``Wan-AI/``."""
EXPECTED_IN_CHANNELS: dict[Kind, int] = {"i2v": 36, "t2v": 16}
STORYMEM_REPO = "Kevin-thu/StoryMem"
STORYMEM_FOLDER = "StoryMem"
LORA_FOLDERS: dict[str, str] = {"mi2v": "Wan2.2-MI2V-A14B", "mm2v": "Wan2.2-MM2V-A14B"}
LORA_FILES = {"high": "backbone_high_noise.pth", "low": "backbone_low_noise.pth"}
"""The StoryMem release's LoRA file per expert."""
LORA_SUFFIXES = (".pth", ".safetensors")
"""Either form of each LoRA file is accepted (some downloads hold ``backbone_*_noise.safetensors``)."""
ORIGINAL_VAE = "Wan2.1_VAE.pth"
ORIGINAL_T5 = "models_t5_umt5-xxl-enc-bf16.pth"
ORIGINAL_TOKENIZER = "google/umt5-xxl"
ORIGINAL_EXPERTS = {"high": "high_noise_model", "low": "low_noise_model"}
DIFFUSERS_EXPERTS = {"high": "transformer", "low": "transformer_2"}
_LFS_POINTER = b"version https://git-lfs"


def default_config_path() -> Path:
    """``$XDG_CONFIG_HOME/dailies/config.json`` (default ``~/.config/dailies/config.json``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "dailies" / "config.json"


def resolve_models_dir(cli_value: str | os.PathLike | None, *, config_path: Path | None = None) -> Path | None:
    """The models folder: the command-line value, else ``$DAILIES_MODELS``, else ``models_dir`` in the config
    file (:func:`default_config_path`), else None. ``~`` is expanded; the folder is not checked here."""
    if cli_value:
        return Path(cli_value).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    path = config_path or default_config_path()
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get(CONFIG_KEY)
    except (json.JSONDecodeError, AttributeError, OSError) as err:
        raise EngineError(f"cannot read {path}: {err}; it must be a JSON object like {{\"{CONFIG_KEY}\": \"/path\"}}")
    return Path(value).expanduser() if value else None


# ---------------------------------------------------------------------------- what was found


@dataclass(frozen=True)
class BaseModelPaths:
    """One downloaded Wan2.2-A14B repository (I2V or T2V) in one layout."""

    kind: Kind
    layout: Layout
    root: Path

    def expert_dir(self, which: Literal["high", "low"]) -> Path:
        """The folder of the high-noise (``transformer``) or low-noise (``transformer_2``) expert."""
        names = DIFFUSERS_EXPERTS if self.layout == "diffusers" else ORIGINAL_EXPERTS
        return self.root / names[which]

    @property
    def vae(self) -> Path:
        return self.root / "vae" if self.layout == "diffusers" else self.root / ORIGINAL_VAE

    @property
    def text_encoder(self) -> Path:
        return self.root / "text_encoder" if self.layout == "diffusers" else self.root / ORIGINAL_T5

    @property
    def tokenizer(self) -> Path:
        return self.root / "tokenizer" if self.layout == "diffusers" else self.root / ORIGINAL_TOKENIZER


@dataclass(frozen=True)
class LoraPaths:
    """One StoryMem LoRA variant: a file per expert."""

    variant: str
    high: Path
    low: Path


@dataclass(frozen=True)
class ModelPaths:
    """Everything the StoryMem engine loads, as found under ``models_dir``."""

    models_dir: Path
    i2v: BaseModelPaths
    t2v: BaseModelPaths | None
    lora: LoraPaths

    def describe(self) -> str:
        t2v = f", T2V {self.t2v.root.name} ({self.t2v.layout})" if self.t2v else ""
        return (
            f"I2V {self.i2v.root.name} ({self.i2v.layout}){t2v}, LoRA StoryMem/{LORA_FOLDERS[self.lora.variant]} "
            f"in {self.models_dir}"
        )


# ---------------------------------------------------------------------------- checks


def _file_problem(path: Path) -> str | None:
    """Why ``path`` is not a usable downloaded file, or None."""
    if not path.is_file():
        return f"{path} is missing"
    if path.stat().st_size < 200:
        with path.open("rb") as handle:
            head = handle.read(64)
        if head.startswith(_LFS_POINTER):
            return f"{path} is a Git LFS pointer, not the file"
        if path.suffix in {".safetensors", ".pth", ".bin"}:
            return f"{path} is truncated ({path.stat().st_size} bytes)"
    return None


def _weights_problems(folder: Path, stem: str) -> list[str]:
    """Problems with ``<stem>.safetensors`` or a sharded ``<stem>.safetensors.index.json`` in ``folder``."""
    single, index = folder / f"{stem}.safetensors", folder / f"{stem}.safetensors.index.json"
    if single.is_file():
        return [p] if (p := _file_problem(single)) else []
    if not index.is_file():
        return [f"{folder} has no {stem}.safetensors or {index.name}"]
    try:
        shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
    except (json.JSONDecodeError, KeyError, OSError):
        return [f"{index} is not a safetensors index"]
    return [p for shard in shards if (p := _file_problem(folder / shard))]


def _config_problem(config_path: Path, key: str, expected: int, what: str) -> str | None:
    try:
        value = json.loads(config_path.read_text(encoding="utf-8")).get(key)
    except (json.JSONDecodeError, OSError, AttributeError):
        return f"{config_path} is not a JSON config"
    if value != expected:
        return f"{config_path} has {key}={value}, expected {expected} ({what})"
    return None


def _tokenizer_problems(folder: Path) -> list[str]:
    if not folder.is_dir():
        return [f"{folder} is missing"]
    if not (folder / "tokenizer.json").is_file() and not (folder / "spiece.model").is_file():
        return [f"{folder} has neither tokenizer.json nor spiece.model"]
    return []


def base_model_problems(base: BaseModelPaths) -> list[str]:
    """Every missing or mismatched file of one base-model folder (empty when complete)."""
    problems: list[str] = []
    what = f"Wan2.2-{base.kind.upper()}-A14B needs in_channels {EXPECTED_IN_CHANNELS[base.kind]}"
    for which in ("high", "low"):
        folder = base.expert_dir(which)
        config = folder / "config.json"
        if not config.is_file():
            problems.append(f"{config} is missing")
            continue
        key = "in_channels" if base.layout == "diffusers" else "in_dim"
        if problem := _config_problem(config, key, EXPECTED_IN_CHANNELS[base.kind], what):
            problems.append(problem)
        problems += _weights_problems(folder, "diffusion_pytorch_model")
    if base.layout == "diffusers":
        if problem := _file_problem(base.root / "model_index.json"):
            problems.append(problem)
        for folder, stem in ((base.vae, "diffusion_pytorch_model"), (base.text_encoder, "model")):
            if problem := _file_problem(folder / "config.json"):
                problems.append(problem)
            else:
                problems += _weights_problems(folder, stem)
    else:
        problems += [p for f in (base.vae, base.text_encoder) if (p := _file_problem(f))]
    problems += _tokenizer_problems(base.tokenizer)
    return problems


def _download_command(repo: str, target: Path) -> str:
    return f"huggingface-cli download {repo} --local-dir {target}"


def _find_base(models_dir: Path, kind: Kind) -> tuple[BaseModelPaths | None, list[str], str]:
    """The first complete layout of ``kind`` (diffusers first), else its problems and the download command."""
    problems: list[str] = []
    present = []
    for layout in ("diffusers", "original"):
        root = models_dir / BASE_FOLDERS[kind][layout]
        if root.is_dir():
            base = BaseModelPaths(kind=kind, layout=layout, root=root)
            found = base_model_problems(base)
            if not found:
                return base, [], ""
            problems += found
            present.append(layout)
    layout = present[0] if present else "original"
    folder = BASE_FOLDERS[kind][layout]
    if not present:
        problems.append(f"no {BASE_FOLDERS[kind]['original']} or {BASE_FOLDERS[kind]['diffusers']} folder")
    return None, problems, _download_command(f"Wan-AI/{folder}", models_dir / folder)


def _find_lora(models_dir: Path, variant: str) -> tuple[LoraPaths | None, list[str]]:
    """Each expert's LoRA file as ``.pth`` (the release) or ``.safetensors``, the first usable one; else the
    problems (a present but broken file is named, a missing one as the release's ``.pth`` name)."""
    folder = models_dir / STORYMEM_FOLDER / LORA_FOLDERS[variant]
    paths: dict[str, Path] = {}
    problems: list[str] = []
    for which, name in LORA_FILES.items():
        candidates = [folder / (Path(name).stem + suffix) for suffix in LORA_SUFFIXES]
        usable = [c for c in candidates if _file_problem(c) is None]
        if usable:
            paths[which] = usable[0]
            continue
        present = [c for c in candidates if c.exists()]
        if present:
            problems += [_file_problem(c) for c in present]
        else:
            problems.append(f"{candidates[0]} is missing (nor is there a {candidates[1].name})")
    if problems:
        return None, problems
    return LoraPaths(variant=variant, high=paths["high"], low=paths["low"]), []


def discover_models(models_dir: str | os.PathLike, *, variant: str = "mi2v", need_t2v: bool = True) -> ModelPaths:
    """Find the I2V base model, the T2V base model (when ``need_t2v``) and the StoryMem LoRA ``variant``
    (``mi2v`` or ``mm2v``) under ``models_dir``, either layout per base model. Raises :class:`EngineError`
    with one line listing every missing or mismatched file and the commands that download them."""
    if variant not in VARIANTS:
        raise EngineError(f"unknown StoryMem variant {variant!r}; use one of {', '.join(VARIANTS)}")
    models_dir = Path(models_dir).expanduser()
    if not models_dir.is_dir():
        commands = [
            _download_command(f"Wan-AI/{BASE_FOLDERS[k]['original']}", models_dir / BASE_FOLDERS[k]["original"])
            for k in (("t2v", "i2v") if need_t2v else ("i2v",))
        ] + [_download_command(STORYMEM_REPO, models_dir / STORYMEM_FOLDER)]
        raise EngineError(f"models folder {models_dir} does not exist; download the weights with: {' && '.join(commands)}")
    problems: list[str] = []
    commands: list[str] = []
    kinds: tuple[Kind, ...] = ("i2v", "t2v") if need_t2v else ("i2v",)
    found: dict[str, BaseModelPaths | None] = {}
    for kind in kinds:
        base, base_problems, command = _find_base(models_dir, kind)
        found[kind] = base
        problems += base_problems
        if command:
            commands.append(command)
    lora, lora_problems = _find_lora(models_dir, variant)
    if lora_problems:
        problems += lora_problems
        commands.append(_download_command(STORYMEM_REPO, models_dir / STORYMEM_FOLDER))
    if problems:
        raise EngineError(
            f"StoryMem weights incomplete in {models_dir}: {'; '.join(problems)}. "
            f"Download with: {' && '.join(commands)}"
        )
    return ModelPaths(models_dir=models_dir, i2v=found["i2v"], t2v=found.get("t2v"), lora=lora)


STEP_LORA_FOLDERS = {"lightx2v": "Wan2.2-Distill-Loras", "lightning": "Wan2.2-Lightning"}
"""Where the step-distill LoRAs of ``--preset turbo`` go under the models folder (each the Hugging Face
repository ``lightx2v/<folder>``, downloaded whole or file by file)."""


@dataclass(frozen=True)
class StepLoraPaths:
    """The 4-step distill LoRA of one base model (``i2v`` or ``t2v``): a file per expert."""

    kind: Kind
    high: Path
    low: Path
    release: str
    """``lightx2v`` (lightx2v/Wan2.2-Distill-Loras) or ``lightning`` (lightx2v/Wan2.2-Lightning)."""


def _step_lora_candidates(models_dir: Path, kind: Kind) -> list[StepLoraPaths]:
    found = []
    distill = models_dir / STEP_LORA_FOLDERS["lightx2v"]
    if distill.is_dir():
        files = sorted(f for f in distill.glob("*.safetensors") if kind in f.name.lower())
        high = [f for f in files if "high_noise" in f.name.lower()]
        low = [f for f in files if "low_noise" in f.name.lower()]
        if high and low:
            found.append(StepLoraPaths(kind=kind, high=high[-1], low=low[-1], release="lightx2v"))
    lightning = models_dir / STEP_LORA_FOLDERS["lightning"]
    if lightning.is_dir():
        for folder in sorted(lightning.glob(f"Wan2.2-{kind.upper()}-A14B-4steps*"), reverse=True):
            high, low = folder / "high_noise_model.safetensors", folder / "low_noise_model.safetensors"
            if high.is_file() and low.is_file():
                found.append(StepLoraPaths(kind=kind, high=high, low=low, release="lightning"))
                break
    return found


def discover_step_loras(models_dir: str | os.PathLike, kinds: tuple[str, ...] = ("i2v", "t2v")) -> dict[str, StepLoraPaths]:
    """The 4-step distill LoRAs for each of ``kinds`` under ``models_dir``: ``Wan2.2-Distill-Loras/`` (files
    named ``*{i2v,t2v}*{high,low}_noise*.safetensors``) first, else ``Wan2.2-Lightning/Wan2.2-{I2V,T2V}-A14B-
    4steps*/{high,low}_noise_model.safetensors``. Raises :class:`EngineError` naming what is missing and the
    download command."""
    models_dir = Path(models_dir).expanduser()
    out, missing = {}, []
    for kind in kinds:
        candidates = _step_lora_candidates(models_dir, kind)
        if candidates:
            out[kind] = candidates[0]
        else:
            missing.append(kind)
    if missing:
        problems = []
        for kind in missing:
            for path in (models_dir / STEP_LORA_FOLDERS["lightx2v"], models_dir / STEP_LORA_FOLDERS["lightning"]):
                problems.append(f"{kind.upper()} high/low-noise files in {path} are missing")
        command = _download_command("lightx2v/Wan2.2-Distill-Loras", models_dir / STEP_LORA_FOLDERS["lightx2v"])
        raise EngineError(
            f"--preset turbo needs the Wan2.2-A14B 4-step distill LoRA for {' and '.join(k.upper() for k in missing)} "
            f"({'; '.join(problems)}). Download with: {command} (or lightx2v/Wan2.2-Lightning into "
            f"{models_dir / STEP_LORA_FOLDERS['lightning']})"
        )
    return out


def available_variants(models_dir: str | os.PathLike) -> list[str]:
    """The StoryMem LoRA variants whose two files are present under ``models_dir``."""
    return [v for v in VARIANTS if _find_lora(Path(models_dir).expanduser(), v)[0] is not None]


def storymem_available(models_dir: str | os.PathLike | None, *, variant: str | None = None) -> tuple[bool, str]:
    """Whether the StoryMem engine can run: the weights are complete (``variant``, or any variant) and CUDA
    is available. The string is a one-line reason when not, else a one-line summary of what was found."""
    if models_dir is None:
        return False, (
            f"no StoryMem models folder set (pass --models DIR, set {ENV_VAR}, or set \"{CONFIG_KEY}\" in "
            f"{default_config_path()})"
        )
    reasons = []
    paths = None
    for candidate in [variant] if variant else (available_variants(models_dir) or ["mi2v"]):
        try:
            paths = discover_models(models_dir, variant=candidate)
            break
        except EngineError as err:
            reasons.append(str(err))
    if paths is None:
        reasons = reasons[:1]
    import torch

    if not torch.cuda.is_available():
        reasons.append("CUDA is not available (the StoryMem engine needs an NVIDIA GPU)")
    if reasons:
        return False, "; ".join(reasons)
    return True, f"StoryMem weights found: {paths.describe()}"


# ---------------------------------------------------------------------------- loading


@contextmanager
def quiet_progress():
    """Turn off diffusers' and transformers' progress bars while loading or saving (library code must
    not print), restoring their previous state afterwards."""
    import diffusers.utils.logging as diffusers_logging
    import transformers.utils.logging as transformers_logging

    states = [(m, m.is_progress_bar_enabled()) for m in (diffusers_logging, transformers_logging)]
    for module, _ in states:
        module.disable_progress_bar()
    try:
        yield
    finally:
        for module, enabled in states:
            if enabled:
                module.enable_progress_bar()


def _safetensors_files(folder: Path, stem: str) -> list[Path]:
    """``<stem>.safetensors``, or the shards its ``.safetensors.index.json`` lists."""
    single = folder / f"{stem}.safetensors"
    if single.is_file():
        return [single]
    index = json.loads((folder / f"{stem}.safetensors.index.json").read_text(encoding="utf-8"))
    return [folder / shard for shard in sorted(set(index["weight_map"].values()))]


def _read_safetensors(folder: Path, stem: str) -> dict[str, "torch.Tensor"]:
    from safetensors.torch import load_file

    single = folder / f"{stem}.safetensors"
    if single.is_file():
        return load_file(str(single), device="cpu")
    index = json.loads((folder / f"{stem}.safetensors.index.json").read_text(encoding="utf-8"))
    state: dict = {}
    for shard in sorted(set(index["weight_map"].values())):
        state.update(load_file(str(folder / shard), device="cpu"))
    return state


def _cast_like_diffusers(model, dtype: "torch.dtype") -> None:
    """Cast to ``dtype`` except the modules diffusers keeps in float32 (``_keep_in_fp32_modules``), as
    ``from_pretrained(torch_dtype=...)`` does."""
    import torch

    keep = getattr(model, "_keep_in_fp32_modules", None) or []
    for name, param in model.named_parameters():
        target = torch.float32 if any(k in name.split(".") for k in keep) else dtype
        param.data = param.data.to(target)


def _load_into(model_cls, config: dict, state_dict: dict, source: Path):
    """Build ``model_cls(**config)`` (or ``model_cls.from_config(config)`` for a diffusers config) without
    allocating, then take the tensors of ``state_dict``."""
    from accelerate import init_empty_weights

    with init_empty_weights():
        model = model_cls.from_config(config) if "_class_name" in config else model_cls(**config)
    expected, given = set(model.state_dict()), set(state_dict)
    if expected != given:
        missing, extra = sorted(expected - given), sorted(given - expected)
        raise EngineError(
            f"{source} does not match {model_cls.__name__}: missing {missing[:3]}, unexpected {extra[:3]}; "
            "re-download it"
        )
    model.load_state_dict(state_dict, strict=True, assign=True)
    return model.eval().requires_grad_(False)


def _keeps_fp32(model_cls, key: str) -> bool:
    keep = getattr(model_cls, "_keep_in_fp32_modules", None) or []
    return any(k in key.split(".") for k in keep)


def load_expert(
    base: BaseModelPaths,
    which: Literal["high", "low"],
    dtype: "torch.dtype",
    loras: "list | tuple" = (),
    *,
    compute_device: "torch.device | str | None" = None,
    notes: list[str] | None = None,
):
    """One expert as a ``WanTransformer3DModel`` on the CPU in ``dtype`` (norms/time embedder in float32, as
    diffusers loads them), with ``loras`` (:class:`~engine.storymem.lora.LoraUpdate`) fused into the weights as
    stored, in float32, before the one cast to ``dtype`` (adding a small update to weights already rounded to
    bf16 loses much of it). ``compute_device`` forms the LoRA products (default CPU). Notes about the fusion
    (e.g. skipped layers) are appended to ``notes``."""
    import torch
    from diffusers import WanTransformer3DModel
    from safetensors import safe_open
    from safetensors.torch import load_file

    from engine.storymem.convert import convert_original_transformer, transformer_config_from_original
    from engine.storymem.lora import fuse_into_state_dict

    folder = base.expert_dir(which)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    convert = (lambda sd: sd) if base.layout == "diffusers" else convert_original_transformer
    if base.layout != "diffusers":
        config = transformer_config_from_original(config)
    files = _safetensors_files(folder, "diffusion_pytorch_model")
    shapes = None
    if loras:  # every layer's shape first (no data read), so each shard is fused and cast on its own
        meta = {}
        for file in files:
            with safe_open(str(file), framework="pt") as handle:
                meta.update({k: torch.empty(handle.get_slice(k).get_shape(), device="meta") for k in handle.keys()})
        meta = convert(meta)
        shapes = {k[: -len(".weight")]: tuple(v.shape) for k, v in meta.items() if k.endswith(".weight") and v.dim() == 2}
        layers = 1 + max(int(k.split(".")[1]) for k in meta if k.startswith("blocks."))
    state: dict = {}
    found: list[str] = []
    for file in files:  # one shard at a time: host memory holds the cast model plus one shard as stored
        shard = convert(load_file(str(file), device="cpu"))
        target = {k: (torch.float32 if _keeps_fp32(WanTransformer3DModel, k) else dtype) for k in shard}
        if loras:
            for note in fuse_into_state_dict(shard, list(loras), num_blocks=layers, dtype_of=target.__getitem__,
                                             compute_device=compute_device, shapes=shapes):  # fmt: skip
                if note not in found:
                    found.append(note)
        for key, tensor in shard.items():
            state[key] = tensor.to(target[key]) if tensor.is_floating_point() and tensor.dtype != target[key] else tensor
        del shard
    if notes is not None:
        notes.extend(found)
    return _load_into(WanTransformer3DModel, config, state, folder)


def load_vae(base: BaseModelPaths, dtype: "torch.dtype | None" = None):
    """The Wan 2.1 VAE as an ``AutoencoderKLWan`` on the CPU (float32 unless ``dtype``)."""
    import torch
    from diffusers import AutoencoderKLWan

    from engine.storymem.convert import convert_original_vae, vae_config_from_original

    dtype = dtype or torch.float32
    if base.layout == "diffusers":
        with quiet_progress():
            return AutoencoderKLWan.from_pretrained(base.vae, torch_dtype=dtype, local_files_only=True).eval()
    state = torch.load(base.vae, map_location="cpu", mmap=True, weights_only=True)
    try:
        config = vae_config_from_original(state)
    except ValueError as err:
        raise EngineError(f"{base.vae}: {err}; re-download it") from None
    model = _load_into(AutoencoderKLWan, config, convert_original_vae(state), base.vae)
    return model.to(dtype)


def load_text_encoder(base: BaseModelPaths, dtype: "torch.dtype"):
    """``(tokenizer, UMT5EncoderModel)`` on the CPU, the encoder in ``dtype``."""
    import torch
    from transformers import AutoTokenizer, UMT5Config, UMT5EncoderModel

    from engine.storymem.convert import convert_original_umt5, umt5_config_from_original

    tokenizer = AutoTokenizer.from_pretrained(base.tokenizer, local_files_only=True)
    if base.layout == "diffusers":
        with quiet_progress():
            encoder = UMT5EncoderModel.from_pretrained(base.text_encoder, dtype=dtype, local_files_only=True)
        return tokenizer, encoder.eval().requires_grad_(False)
    state = torch.load(base.text_encoder, map_location="cpu", mmap=True, weights_only=True)
    try:
        config = umt5_config_from_original(state)
        state = convert_original_umt5(state)
    except ValueError as err:
        raise EngineError(f"{base.text_encoder}: {err}; re-download it") from None
    config.pop("architectures", None)
    encoder = _load_into(UMT5EncoderModel, {"config": UMT5Config(**config)}, state, base.text_encoder)
    encoder.tie_weights()
    return tokenizer, encoder.to(dtype)
