"""The LAION aesthetic predictor as VBench's ``aesthetic_quality`` uses it: CLIP ViT-L/14 image features,
L2-normalised, through the LAION head; the score divided by 10 (VBench's scale, 0..1), averaged over frames.

* CLIP: open_clip's ``ViT-L-14`` built from its model config (open_clip's bundled config, or the
  ``model_cfg`` of an ``open_clip_config.json`` beside the weights), then loaded from a local file:
  OpenAI's TorchScript ``ViT-L-14.pt`` (what VBench loads), a state-dict file (``.bin``/``.pt``/
  ``.safetensors``), or a folder in open_clip's Hugging Face layout (``open_clip_config.json`` +
  ``open_clip_model.safetensors``/``open_clip_pytorch_model.bin``, e.g. ``timm/vit_large_patch14_clip_224.openai``).
* Head: ``sa_0_4_vit_l_14_linear.pth`` (VBench's: one ``Linear(768, 1)``, keys ``weight``/``bias``) or
  the improved predictor's MLP ``sac+logos+ava1-l14-linearMSE.pth`` (keys ``layers.{0,2,4,6,7}.*``: linear
  layers with dropout between them and no activation, as released).
* Frames: CLIP's preprocessing (bicubic resize of the shorter side to 224, centre crop, CLIP mean/std).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.scoring.base import ScoringError
from engine.scoring.frames import resize_center_crop, to_tensor

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
CLIP_L14_DOWNLOAD = ("CLIP ViT-L/14: huggingface-cli download timm/vit_large_patch14_clip_224.openai --local-dir "
                     "DIR/clip-vit-l-14 (or OpenAI's ViT-L-14.pt)")
HEAD_DOWNLOAD = ("LAION aesthetic head: sa_0_4_vit_l_14_linear.pth from github.com/LAION-AI/aesthetic-predictor "
                 "into DIR/aesthetic/")
_WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")


def _is_torchscript(file: Path) -> bool:
    import zipfile

    if not zipfile.is_zipfile(file):
        return False
    with zipfile.ZipFile(file) as archive:
        return any(n.endswith("constants.pkl") or "/code/" in n for n in archive.namelist())


def resolve_clip(path: str | os.PathLike) -> tuple[Path, dict | None]:
    """The weights file and the model config beside it (None: open_clip's ``ViT-L-14``)."""
    p = Path(path).expanduser()
    if p.is_dir():
        cfg_file = p / "open_clip_config.json"
        cfg = json.loads(cfg_file.read_text(encoding="utf-8")) if cfg_file.is_file() else {}
        for name in _WEIGHT_FILES:
            if (p / name).is_file():
                return p / name, cfg.get("model_cfg")
        raise ScoringError(f"no {' or '.join(_WEIGHT_FILES)} in {p}; get {CLIP_L14_DOWNLOAD}")
    if not p.is_file():
        raise ScoringError(f"CLIP ViT-L/14 weights {p} not found; get {CLIP_L14_DOWNLOAD}")
    return p, None


def load_clip(path: str | os.PathLike, model_cfg: dict | None = None) -> tuple[nn.Module, str]:
    """open_clip ``CLIP`` from local weights; returns the model (eval, fp32, CPU) and a description."""
    import open_clip

    file, found_cfg = resolve_clip(path)
    cfg = model_cfg or found_cfg
    try:
        if cfg is None and _is_torchscript(file):
            return open_clip.load_openai_model(str(file), precision="fp32", device="cpu").eval(), f"ViT-L-14 (OpenAI) {file.name}"
        cfg = dict(cfg or open_clip.get_model_config("ViT-L-14"))
        quick_gelu = bool(cfg.pop("quick_gelu", False)) or "openai" in str(file).lower()
        cfg = {k: v for k, v in cfg.items() if k in ("embed_dim", "vision_cfg", "text_cfg", "init_logit_bias")}
        model = open_clip.model.CLIP(**cfg, quick_gelu=quick_gelu)
        open_clip.load_checkpoint(model, str(file), strict=True)
    except (RuntimeError, KeyError, ValueError, OSError, AssertionError) as err:
        raise ScoringError(f"{file} is not a CLIP ViT-L/14 checkpoint for this config ({(str(err).splitlines() or [type(err).__name__])[0][:160]}); "
                           f"get {CLIP_L14_DOWNLOAD}") from None
    return model.eval(), f"ViT-L-14{'-quickgelu' if quick_gelu else ''} {file.name}"


def load_head(path: str | os.PathLike) -> nn.Module:
    """The LAION head (linear or MLP, read from the keys of the state dict)."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise ScoringError(f"LAION aesthetic head {p} not found; get {HEAD_DOWNLOAD}")
    try:
        sd = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle/zip errors of a damaged file
        raise ScoringError(f"{p} is not a readable LAION aesthetic head ({type(err).__name__}: {str(err)[:120]}); get {HEAD_DOWNLOAD}") from None
    if isinstance(sd, dict) and "state_dict" in sd:
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise ScoringError(f"{p} holds no state dict; get {HEAD_DOWNLOAD}")
    if set(sd) == {"weight", "bias"}:
        head = nn.Linear(sd["weight"].shape[1], sd["weight"].shape[0])
        head.load_state_dict(sd)
        return head.eval()
    idx = sorted({int(m.group(1)) for k in sd if (m := re.fullmatch(r"layers\.(\d+)\.weight", k))})
    if not idx:
        raise ScoringError(f"{p}: unknown head layout (keys {sorted(sd)[:4]}); expected weight/bias or layers.N.*; get {HEAD_DOWNLOAD}")
    layers: list[nn.Module] = []
    for i in idx:
        while len(layers) < i:
            layers.append(nn.Dropout(0.0))  # the released MLP's dropouts (identity at inference)
        w = sd[f"layers.{i}.weight"]
        layers.append(nn.Linear(w.shape[1], w.shape[0]))
    head = _Mlp(layers)
    try:
        head.load_state_dict(sd)
    except RuntimeError as err:
        raise ScoringError(f"{p}: head weights do not fit ({str(err).splitlines()[0][:120]})") from None
    return head.eval()


class _Mlp(nn.Module):
    """The improved aesthetic predictor's ``layers`` Sequential (state-dict keys ``layers.N.*``)."""

    def __init__(self, layers: list[nn.Module]):
        super().__init__()
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class LaionAesthetic:
    """VBench's aesthetic quality per frame: ``head(normalize(CLIP_L14.encode_image(x))) / 10``.

    ``clip``/``head``: local files (see the module docstring). ``model_cfg``: an open_clip model config
    dict overriding the one found (tests build tiny models with it). Raises :class:`ScoringError`."""

    comparable = True

    def __init__(self, clip: str | os.PathLike, head: str | os.PathLike, *, device: str = "cpu",
                 model_cfg: dict | None = None, batch_size: int = 32):
        self.model, desc = load_clip(clip, model_cfg)
        self.head = load_head(head)
        self.device = torch.device(device)
        self.model.to(self.device)
        self.head.to(self.device)
        visual = self.model.visual
        size = getattr(visual, "image_size", 224)
        self.image_size = int(size[0] if isinstance(size, (tuple, list)) else size)
        self.batch_size = batch_size
        self.name = f"laion-aesthetic:{Path(head).name} on open_clip:{desc}"
        self._mean = torch.tensor(CLIP_MEAN, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(CLIP_STD, device=self.device).view(1, 3, 1, 1)

    def preprocess(self, frames: np.ndarray) -> torch.Tensor:
        """``(N, H, W, 3)`` uint8 -> ``(N, 3, S, S)`` normalised CLIP input."""
        x = resize_center_crop(to_tensor(frames, self.device), self.image_size)
        return (x - self._mean) / self._std

    @torch.no_grad()
    def features(self, frames: np.ndarray) -> torch.Tensor:
        """``(N, H, W, 3)`` -> ``(N, D)`` unit CLIP image features."""
        x = self.preprocess(frames)
        feats = torch.cat([self.model.encode_image(c) for c in x.split(self.batch_size)])  # (N, D)
        return F.normalize(feats.float(), dim=-1)

    @torch.no_grad()
    def score(self, frames: np.ndarray) -> np.ndarray:
        out = self.head(self.features(frames)).squeeze(-1) / 10.0  # (N,)
        return out.float().cpu().numpy().astype(np.float32)
