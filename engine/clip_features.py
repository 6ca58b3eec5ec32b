"""Keyframe features on real models: CLIP ViT-B/32 embeddings and HPSv3 (or CLIP-IQA) quality scores.

StoryMem (``extract_keyframes.py``) picks keyframes with OpenAI CLIP ViT-B/32 and skips frames whose HPSv3
score is below 3.0. Like the reference, frames are first resized (antialiased bilinear) to Qwen-VL's
``smart_resize`` size for 256 patches of 28 px, then squashed (bilinear) to 224x224 and CLIP-normalised.
Unlike the reference (two single-frame forwards per comparison, HPSv3 reloaded per shot), a shot's frames
go through CLIP in one batched forward and the models load once.

* :class:`ClipEmbedder` -- open_clip ViT-B-32 from a local checkpoint (a file, or a folder in open_clip's
  Hugging Face layout); implements :class:`engine.base.FrameEmbedder`.
* :class:`HPSv3Scorer` -- the paper's scorer, when the ``hpsv3`` package and local weights (the HPSv3
  checkpoint and its Qwen2-VL-7B-Instruct base) are present; threshold 3.0 as the paper.
* :class:`ClipIQAScorer` -- the documented alternative: CLIP-IQA (Wang et al., AAAI 2023), the softmax of
  the frame's CLIP similarity to "Good photo." vs "Bad photo." with the same ViT-B-32, so it needs no other
  weights and reuses the shot's CLIP forward. Its scale is a probability, not HPSv3's; threshold 0.5 ("bad"
  more likely than "good") -- not calibrated against HPSv3.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import zlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from engine.base import EngineError

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
CLIP_SIZE = 224
PATCH = 28
MIN_PIXELS = 48 * PATCH * PATCH
MAX_PIXELS = 256 * PATCH * PATCH
HPSV3_THRESHOLD = 3.0
CLIP_IQA_THRESHOLD = 0.5
CLIP_DOWNLOAD = "huggingface-cli download timm/vit_base_patch32_clip_224.openai --local-dir DIR"
_CHECKPOINT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")


def smart_resize(height: int, width: int, factor: int = PATCH, min_pixels: int = MIN_PIXELS, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """Qwen-VL's frame size rule as the reference applies it: multiples of ``factor``, area within bounds,
    aspect ratio kept. 480x832 -> 336x588."""
    h = max(factor, round(height / factor) * factor)
    w = max(factor, round(width / factor) * factor)
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h = math.floor(height / beta / factor) * factor
        w = math.floor(width / beta / factor) * factor
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h = math.ceil(height * beta / factor) * factor
        w = math.ceil(width * beta / factor) * factor
    return max(h, factor), max(w, factor)


def _check_frames(frames: np.ndarray) -> None:
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 (N, H, W, 3), got {getattr(frames, 'dtype', None)} {getattr(frames, 'shape', None)}")


def reference_resize(frames: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """``(N, H, W, 3)`` uint8 -> ``(N, 3, h, w)`` float in [0, 1] at :func:`smart_resize` size (antialiased
    bilinear, computed on ``device``), as ``extract_keyframes.py`` prepares frames before CLIP and HPSv3."""
    _check_frames(frames)
    x = torch.from_numpy(np.ascontiguousarray(frames)).to(device)  # (N, H, W, 3) uint8
    x = x.permute(0, 3, 1, 2).float().div(255.0)  # (N, 3, H, W)
    size = smart_resize(frames.shape[1], frames.shape[2])
    return F.interpolate(x, size=size, mode="bilinear", antialias=True).clamp(0.0, 1.0)  # (N, 3, h, w)


def _frames_key(frames: np.ndarray) -> tuple:
    return frames.shape, zlib.crc32(memoryview(np.ascontiguousarray(frames)).cast("B"))


class ClipEmbedder:
    """open_clip ViT-B-32 image embeddings from a local checkpoint; one batched forward per shot.

    ``checkpoint``: a state-dict file (``.bin``/``.pt``/``.safetensors``), OpenAI's TorchScript
    ``ViT-B-32.pt`` (the reference's weights), or a folder with ``open_clip_config.json`` and
    ``open_clip_model.safetensors``/``open_clip_pytorch_model.bin`` (e.g. ``timm/vit_base_patch32_clip_224.openai``).
    ``quick_gelu``: None reads it from ``open_clip_config.json`` (False without one; OpenAI's weights need
    True, which the TorchScript file and the ``.openai`` folder provide)."""

    def __init__(self, checkpoint: str | os.PathLike, device: str | torch.device = "cpu", *, quick_gelu: bool | None = None, batch_size: int = 256):
        import open_clip

        file, config = self.check_checkpoint(checkpoint)
        if quick_gelu is None:
            quick_gelu = bool(config.get("model_cfg", {}).get("quick_gelu", False))
        self.device = torch.device(device)
        self.batch_size = batch_size
        try:
            if _is_torchscript(file):
                model = open_clip.load_openai_model(str(file), precision="fp32", device="cpu")
                quick_gelu = True
            else:
                model = open_clip.create_model("ViT-B-32-quickgelu" if quick_gelu else "ViT-B-32", pretrained=str(file))
        except Exception as err:  # torch/open_clip raise many kinds (unpickling, shapes, zip): all mean "not one"
            first = next((line for line in str(err).splitlines() if line.strip()), type(err).__name__)
            raise EngineError(f"{file} is not an open_clip ViT-B-32 checkpoint ({first.strip()[:200]}); get one with: {CLIP_DOWNLOAD}") from None
        self.model = model.to(self.device).eval().requires_grad_(False)
        self.tokenizer = open_clip.get_tokenizer("ViT-B-32")
        self.name = f"open_clip:ViT-B-32{'-quickgelu' if quick_gelu else ''}:{file.name}"
        self._mean = torch.tensor(CLIP_MEAN, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(CLIP_STD, device=self.device).view(1, 3, 1, 1)
        self._last: tuple[tuple, np.ndarray] | None = None

    @classmethod
    def check_checkpoint(cls, checkpoint: str | os.PathLike) -> tuple[Path, dict]:
        """The checkpoint file and its open_clip config (``{}`` for a bare file), without loading it; raises
        :class:`EngineError` when the path is missing or holds no model file (the command line checks
        ``--clip-checkpoint`` with this before a run starts). A file must be a torch zip or TorchScript
        archive, a legacy torch pickle, or a safetensors file."""
        file, config = cls._resolve(Path(checkpoint).expanduser())
        try:
            with file.open("rb") as handle:
                head = handle.read(16)
        except OSError as err:
            raise EngineError(f"CLIP checkpoint {file} cannot be read ({err.strerror}); get one with: {CLIP_DOWNLOAD}") from None
        if not (_is_torch_zip(head, file) or _is_torch_pickle(head, file) or _is_safetensors(head, file)):
            raise EngineError(
                f"{file} is not a model checkpoint (not a torch, TorchScript or safetensors file); "
                f"get an open_clip ViT-B-32 one with: {CLIP_DOWNLOAD}"
            )
        return file, config

    @staticmethod
    def _resolve(path: Path) -> tuple[Path, dict]:
        if path.is_dir():
            config_file = path / "open_clip_config.json"
            try:
                config = json.loads(config_file.read_text(encoding="utf-8")) if config_file.is_file() else {}
            except (json.JSONDecodeError, UnicodeDecodeError, OSError):
                raise EngineError(f"{config_file} is not JSON; get the folder again with: {CLIP_DOWNLOAD}") from None
            if not isinstance(config, dict):
                raise EngineError(f"{config_file} is not a JSON object; get the folder again with: {CLIP_DOWNLOAD}")
            for name in _CHECKPOINT_FILES:
                if (path / name).is_file():
                    return path / name, config
            raise EngineError(f"no {' or '.join(_CHECKPOINT_FILES)} in {path}; get one with: {CLIP_DOWNLOAD}")
        if not path.is_file():
            raise EngineError(f"CLIP ViT-B-32 checkpoint {path} not found; get one with: {CLIP_DOWNLOAD}")
        return path, {}

    def preprocess(self, frames: np.ndarray) -> torch.Tensor:
        """``(N, H, W, 3)`` uint8 -> CLIP input ``(N, 3, 224, 224)`` on the device."""
        x = reference_resize(frames, self.device)  # (N, 3, h, w)
        x = F.interpolate(x, size=(CLIP_SIZE, CLIP_SIZE), mode="bilinear", align_corners=False)  # (N, 3, 224, 224)
        return (x - self._mean) / self._std

    @torch.no_grad()
    def embed(self, frames: np.ndarray) -> np.ndarray:
        """``(N, H, W, 3)`` uint8 -> ``(N, 512)`` float32 unit rows; the last shot's result is reused when the
        same frames come again (e.g. for :class:`ClipIQAScorer`)."""
        key = _frames_key(frames)
        if self._last is not None and self._last[0] == key:
            return self._last[1].copy()
        pixels = self.preprocess(frames)
        features = torch.cat([self.model.encode_image(chunk) for chunk in pixels.split(self.batch_size)])  # (N, 512)
        out = F.normalize(features.float(), dim=-1).cpu().numpy().astype(np.float32)
        self._last = (key, out)
        return out.copy()

    @torch.no_grad()
    def embed_text(self, texts: list[str]) -> np.ndarray:
        """``T`` texts -> ``(T, 512)`` float32 unit rows."""
        tokens = self.tokenizer(texts).to(self.device)
        return F.normalize(self.model.encode_text(tokens).float(), dim=-1).cpu().numpy()

    @property
    def logit_scale(self) -> float:
        return float(self.model.logit_scale.exp())


def _is_safetensors(head: bytes, file: Path) -> bool:
    """A safetensors file: its header's length (8 bytes, little-endian), then that many bytes of JSON."""
    if len(head) < 9 or head[8:9] != b"{":
        return False
    size = int.from_bytes(head[:8], "little")
    if not 0 < size < min(file.stat().st_size, 100_000_000):
        return False
    with file.open("rb") as handle:
        handle.seek(8)
        try:
            return isinstance(json.loads(handle.read(size)), dict)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return False


def _is_torch_zip(head: bytes, file: Path) -> bool:
    """A ``torch.save`` or TorchScript archive: a zip holding a pickle (``data.pkl`` or ``constants.pkl``)."""
    import zipfile

    if not head.startswith(b"PK\x03\x04"):
        return False
    try:
        with zipfile.ZipFile(file) as archive:
            return any(n.endswith(("/data.pkl", "/constants.pkl")) for n in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _is_torch_pickle(head: bytes, file: Path) -> bool:
    """A legacy (pre-zip) ``torch.save`` file: loadable as plain tensors (rare; read in full to be sure)."""
    if head[:1] != b"\x80":
        return False
    try:
        torch.load(file, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 -- any failure means "not a checkpoint"
        return False
    return True


def _is_torchscript(file: Path) -> bool:
    import zipfile

    if not zipfile.is_zipfile(file):
        return False
    with zipfile.ZipFile(file) as archive:
        return any(n.endswith("constants.pkl") or "/code/" in n for n in archive.namelist())


class ClipIQAScorer:
    """CLIP-IQA quality: ``softmax(scale * [cos(f, "Good photo."), cos(f, "Bad photo.")])[0]`` per frame,
    in [0, 1], with the embedder's CLIP (no extra weights, the shot's image features are reused).
    ``threshold`` 0.5: frames CLIP finds more "bad" than "good" are skipped."""

    def __init__(self, embedder: ClipEmbedder, threshold: float = CLIP_IQA_THRESHOLD, prompts: tuple[str, str] = ("Good photo.", "Bad photo.")):
        self.embedder = embedder
        self.threshold = threshold
        self.name = f"clip-iqa:{embedder.name}"
        self._text = embedder.embed_text(list(prompts))  # (2, 512)

    def score(self, frames: np.ndarray) -> np.ndarray:
        logits = self.embedder.logit_scale * self.embedder.embed(frames) @ self._text.T  # (N, 2)
        logits = logits - logits.max(axis=1, keepdims=True)
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        return probs[:, 0].astype(np.float32)


class HPSv3Scorer:
    """HPSv3 (the paper's aesthetic filter) from local weights; needs the ``hpsv3`` package.

    ``checkpoint``: ``HPSv3.safetensors`` (from ``MizzenAI/HPSv3``); ``base_model``: a local
    ``Qwen2-VL-7B-Instruct`` folder (HPSv3's backbone). Frames are resized as the reference does and scored
    with an empty prompt, ``batch_size`` at a time; the score is HPSv3's mean ``mu``; threshold 3.0."""

    name = "hpsv3"

    @staticmethod
    def check(checkpoint: str | os.PathLike, base_model: str | os.PathLike) -> tuple[Path, Path]:
        """The checkpoint file and base-model folder, or :class:`EngineError` when the ``hpsv3`` package or a
        file is missing (without loading anything; the command line checks ``--hpsv3`` with this)."""
        try:
            import hpsv3  # noqa: F401
        except ImportError:
            raise EngineError(
                "HPSv3 is not installed (pip install hpsv3, plus local weights); use ClipIQAScorer or the stats scorer instead"
            ) from None
        checkpoint, base_model = Path(checkpoint).expanduser(), Path(base_model).expanduser()
        missing = [str(checkpoint)] if not checkpoint.is_file() else []
        if not (base_model / "config.json").is_file():
            missing.append(str(base_model / "config.json"))
        if missing:
            raise EngineError(
                f"HPSv3 weights missing: {', '.join(missing)}; get them with: huggingface-cli download MizzenAI/HPSv3 "
                f"--local-dir DIR && huggingface-cli download Qwen/Qwen2-VL-7B-Instruct --local-dir DIR"
            )
        return checkpoint, base_model

    def __init__(self, checkpoint: str | os.PathLike, base_model: str | os.PathLike, device: str = "cuda", *, threshold: float = HPSV3_THRESHOLD, batch_size: int = 8):
        checkpoint, base_model = self.check(checkpoint, base_model)
        import hpsv3

        template = Path(hpsv3.__file__).parent / "config" / "HPSv3_7B.yaml"
        if not template.is_file():
            raise EngineError(f"the installed hpsv3 package has no {template}; reinstall hpsv3")
        text = re.sub(r"(?m)^(\s*model_name_or_path\s*:).*$", lambda m: f"{m.group(1)} {base_model}", template.read_text(encoding="utf-8"))
        self._config = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
        self._config.write(text)
        self._config.close()
        previous = os.environ.get("HF_HUB_OFFLINE")
        os.environ["HF_HUB_OFFLINE"] = "1"  # local weights only, never a download
        try:
            self.inferencer = hpsv3.HPSv3RewardInferencer(config_path=self._config.name, checkpoint_path=str(checkpoint), device=device)
        finally:
            if previous is None:
                os.environ.pop("HF_HUB_OFFLINE", None)
            else:
                os.environ["HF_HUB_OFFLINE"] = previous
        self.threshold = threshold
        self.batch_size = batch_size

    @torch.no_grad()
    def score(self, frames: np.ndarray) -> np.ndarray:
        from PIL import Image

        resized = (reference_resize(frames) * 255).round().byte().permute(0, 2, 3, 1).numpy()  # (N, h, w, 3)
        images = [Image.fromarray(f) for f in resized]
        scores = []
        for start in range(0, len(images), self.batch_size):
            batch = images[start : start + self.batch_size]
            rewards = self.inferencer.reward(image_paths=batch, prompts=[""] * len(batch))
            scores += [float(r[0]) for r in rewards]
        return np.asarray(scores, dtype=np.float32)
