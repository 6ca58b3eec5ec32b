"""ViCLIP (InternVid, Wang et al. 2023): the video-text model the StoryMem paper (after HoloCine) measures
prompt following and cross-shot consistency with. Model code of our own, written to load the released
checkpoint ``ViClip-InternVid-10M-FLT.pth`` unchanged.

Released layout (InternVideo ``Data/InternVid/viclip``): ``torch.load(file)["model"]`` is a state dict with

* ``vision_encoder.*``: a CLIP ViT-L/14 whose patch embedding is a ``Conv3d(3, 1024, (1, 14, 14))``
  without bias (``conv1.weight`` ``(1024, 3, 1, 14, 14)``), ``class_embedding`` ``(1024,)``,
  ``positional_embedding`` ``(257, 1024)`` (spatial), ``temporal_positional_embedding`` ``(1, 8, 1024)``,
  ``ln_pre``, 24 ``transformer.resblocks.N`` (``attn.in_proj_weight/bias``, ``attn.out_proj``, ``ln_1``,
  ``mlp.c_fc``, ``mlp.c_proj``, ``ln_2``; QuickGELU), ``ln_post``, ``proj`` ``(1024, 768)``. Each frame's
  patches get the spatial and their frame's temporal embedding; one class token attends to all frames'
  patches; the output is ``ln_post(cls) @ proj``.
* ``text_encoder.*``: a CLIP text transformer with a 32-token context (``positional_embedding`` ``(32, 768)``,
  ``token_embedding`` ``(49408, 768)``, 12 causal blocks of width 768 and 12 heads, ``ln_final``,
  ``text_projection`` ``(768, 768)``); the feature is the end-of-text token's. Texts are tokenised with CLIP's
  BPE (open_clip's bundled copy of ``bpe_simple_vocab_16e6``) and cut at 32 tokens, end token kept.
* ``temp``: the contrastive temperature (unused for similarities).

Video input as the released ``frames2tensor``: 8 frames, every ``len // 8``-th from the first, resized
(bilinear, no crop) to 224x224, normalised with ImageNet's mean and std. Features are L2-normalised, and
similarities are cosines.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.scoring.base import ScoringError
from engine.scoring.frames import sample_indices, to_tensor

VICLIP_DOWNLOAD = ("ViCLIP: huggingface-cli download OpenGVLab/VBench_Used_Models ViClip-InternVid-10M-FLT.pth "
                   "--local-dir DIR/viclip")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ViCLIPConfig:
    """Sizes of the model; the defaults are the released ViCLIP-L/14 (InternVid-10M-FLT)."""

    image_size: int = 224
    patch_size: int = 14
    vision_width: int = 1024
    vision_layers: int = 24
    vision_heads: int = 16
    num_frames: int = 8
    embed_dim: int = 768
    context_length: int = 32
    vocab_size: int = 49408
    text_width: int = 768
    text_layers: int = 12
    text_heads: int = 12


class QuickGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class Attention(nn.Module):
    """Multi-head self-attention with ``nn.MultiheadAttention``'s parameter names (``in_proj_weight``
    ``(3D, D)``, ``in_proj_bias``, ``out_proj``), computed with ``scaled_dot_product_attention``."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * width))
        self.out_proj = nn.Linear(width, width)
        nn.init.xavier_uniform_(self.in_proj_weight)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, n, d = x.shape  # (B, N, D)
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)  # each (B, N, D)
        q, k, v = (t.view(b, n, self.heads, d // self.heads).transpose(1, 2) for t in (q, k, v))  # (B, H, N, d)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, H, N, d)
        return self.out_proj(out.transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    """Pre-norm residual block: ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))`` (QuickGELU MLP x4)."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = Attention(width, heads)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(width, 4 * width))
        self.mlp.add_module("gelu", QuickGELU())
        self.mlp.add_module("c_proj", nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), mask)
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int):
        super().__init__()
        self.resblocks = nn.ModuleList(Block(width, heads) for _ in range(layers))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        for block in self.resblocks:
            x = block(x, mask)
        return x


class VisionEncoder(nn.Module):
    def __init__(self, c: ViCLIPConfig):
        super().__init__()
        w, grid = c.vision_width, c.image_size // c.patch_size
        self.conv1 = nn.Conv3d(3, w, (1, c.patch_size, c.patch_size), (1, c.patch_size, c.patch_size), bias=False)
        self.class_embedding = nn.Parameter(w ** -0.5 * torch.randn(w))
        self.positional_embedding = nn.Parameter(w ** -0.5 * torch.randn(grid * grid + 1, w))
        self.temporal_positional_embedding = nn.Parameter(torch.zeros(1, c.num_frames, w))
        self.ln_pre = nn.LayerNorm(w)
        self.transformer = Transformer(w, c.vision_layers, c.vision_heads)
        self.ln_post = nn.LayerNorm(w)
        self.proj = nn.Parameter(w ** -0.5 * torch.randn(w, c.embed_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, T, S, S)`` normalised frames -> ``(B, E)`` video features (not normalised)."""
        x = self.conv1(x)  # (B, D, T, g, g)
        b, d, t = x.shape[:3]
        x = x.flatten(3).permute(0, 2, 3, 1)  # (B, T, g*g, D)
        x = x + self.positional_embedding[1:].to(x.dtype)  # spatial
        temporal = self.temporal_positional_embedding  # (1, F, D)
        temporal = temporal.mean(1, keepdim=True) if t == 1 else temporal[:, :t]
        x = x + temporal.unsqueeze(2).to(x.dtype)  # (B, T, g*g, D)
        cls = (self.class_embedding + self.positional_embedding[0]).to(x.dtype).expand(b, 1, d)  # (B, 1, D)
        x = torch.cat([cls, x.reshape(b, -1, d)], dim=1)  # (B, 1 + T*g*g, D)
        x = self.transformer(self.ln_pre(x))
        return self.ln_post(x[:, 0]) @ self.proj  # (B, E)


class TextEncoder(nn.Module):
    def __init__(self, c: ViCLIPConfig):
        super().__init__()
        self.token_embedding = nn.Embedding(c.vocab_size, c.text_width)
        self.positional_embedding = nn.Parameter(0.01 * torch.randn(c.context_length, c.text_width))
        self.transformer = Transformer(c.text_width, c.text_layers, c.text_heads)
        self.ln_final = nn.LayerNorm(c.text_width)
        self.text_projection = nn.Parameter(c.text_width ** -0.5 * torch.randn(c.text_width, c.embed_dim))
        self.register_buffer("mask", torch.full((c.context_length, c.context_length), float("-inf")).triu(1),
                             persistent=False)  # causal, additive

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` token ids -> ``(B, E)`` text features (not normalised): the end token's output."""
        x = self.token_embedding(tokens) + self.positional_embedding  # (B, L, D)
        x = self.ln_final(self.transformer(x, self.mask.to(x.dtype)))
        return x[torch.arange(x.shape[0]), tokens.argmax(dim=-1)] @ self.text_projection  # (B, E)


class ViCLIP(nn.Module):
    """The two towers plus ``temp``, with the released state-dict names."""

    def __init__(self, config: ViCLIPConfig = ViCLIPConfig()):
        super().__init__()
        self.config = config
        self.vision_encoder = VisionEncoder(config)
        self.text_encoder = TextEncoder(config)
        self.temp = nn.Parameter(torch.tensor(1 / 100.0))


def _read_state_dict(file: Path) -> dict:
    if file.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(file))
    try:
        obj = torch.load(file, map_location="cpu", weights_only=True)
    except Exception:
        # The released .pth may pickle more than tensors; the user pointed at this file (as the reference
        # loads it, with full unpickling).
        obj = torch.load(file, map_location="cpu", weights_only=False)
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        obj = obj["model"]
    if not isinstance(obj, dict):
        raise ScoringError(f"{file} holds no ViCLIP state dict")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def load_viclip(path: str | os.PathLike, config: ViCLIPConfig | None = None) -> ViCLIP:
    """ViCLIP from a local checkpoint (``.pth`` as released, or a ``.safetensors`` state dict); a folder is
    searched for ``ViClip-InternVid-10M-FLT.pth``. Strict: every weight must be present and fit."""
    p = Path(path).expanduser()
    if p.is_dir():
        found = sorted(p.glob("ViClip*.pth")) + sorted(p.glob("*.safetensors"))
        if not found:
            raise ScoringError(f"no ViClip-InternVid-10M-FLT.pth in {p}; get {VICLIP_DOWNLOAD}")
        p = found[0]
    if not p.is_file():
        raise ScoringError(f"ViCLIP checkpoint {p} not found; get {VICLIP_DOWNLOAD}")
    try:
        sd = _read_state_dict(p)
    except ScoringError:
        raise
    except Exception as err:
        raise ScoringError(f"{p} is not a readable ViCLIP checkpoint ({type(err).__name__}: {str(err)[:120]}); get {VICLIP_DOWNLOAD}") from None
    model = ViCLIP(config or ViCLIPConfig())
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as err:
        raise ScoringError(f"{p} does not fit ViCLIP-L/14 ({str(err).splitlines()[1].strip()[:160] if len(str(err).splitlines()) > 1 else str(err)[:160]}); "
                           f"get {VICLIP_DOWNLOAD}") from None
    return model.eval()


class ViCLIPScorer:
    """Video and text features from ViCLIP (implements ``VideoTextModel``). Raises :class:`ScoringError`."""

    comparable = True
    has_text = True

    def __init__(self, checkpoint: str | os.PathLike, *, device: str = "cpu", config: ViCLIPConfig | None = None):
        from open_clip.tokenizer import SimpleTokenizer

        self.model = load_viclip(checkpoint, config).to(device)
        self.config = self.model.config
        self.device = torch.device(device)
        self.tokenizer = SimpleTokenizer(context_length=self.config.context_length)
        self.name = f"viclip-l14:{Path(checkpoint).name}" if config is None else f"viclip:{Path(checkpoint).name}:{asdict(self.config)}"
        self._mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)

    def preprocess(self, video: np.ndarray) -> torch.Tensor:
        """``(F, H, W, 3)`` uint8 -> ``(1, 3, T, S, S)`` as ``frames2tensor``."""
        c = self.config
        x = to_tensor(video[sample_indices(len(video), c.num_frames)], self.device)  # (T, 3, H, W)
        x = F.interpolate(x, size=(c.image_size, c.image_size), mode="bilinear", align_corners=False)
        x = (x - self._mean) / self._std
        return x.permute(1, 0, 2, 3).unsqueeze(0)  # (1, 3, T, S, S)

    @torch.no_grad()
    def embed_videos(self, videos: list[np.ndarray]) -> np.ndarray:
        feats = [self.model.vision_encoder(self.preprocess(v)) for v in videos]  # each (1, E)
        return F.normalize(torch.cat(feats).float(), dim=-1).cpu().numpy()  # (V, E)

    @torch.no_grad()
    def embed_texts(self, texts: list[str]) -> np.ndarray:
        tokens = self.tokenizer(list(texts)).to(self.device)  # (T, L)
        return F.normalize(self.model.text_encoder(tokens).float(), dim=-1).cpu().numpy()  # (T, E)
