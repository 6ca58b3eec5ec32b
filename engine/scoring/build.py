"""Build the judges once per process from local files, or the documented CPU fallbacks.

The paper's models are found under one folder (``--eval-models DIR``, else ``$DAILIES_EVAL_MODELS``),
laid out like the engine's weights folder::

    DIR/clip-vit-l-14/    open_clip folder (open_clip_config.json + open_clip_model.safetensors), or DIR/ViT-L-14.pt
    DIR/aesthetic/sa_0_4_vit_l_14_linear.pth   (or the improved MLP, sac+logos+ava1-l14-linearMSE.pth)
    DIR/viclip/ViClip-InternVid-10M-FLT.pth

Single files can be given instead (``clip``, ``aesthetic_head``, ``viclip``). When a folder or a file was
asked for and something is missing, one :class:`ScoringError` lists everything to download. When nothing
was asked for, the stats fallbacks run and a notice says so: their numbers are not comparable with the
paper's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from engine.scoring.base import JudgeInfo, Judges, ScoringError

ENV_VAR = "DAILIES_EVAL_MODELS"
CLIP_CANDIDATES = ("clip-vit-l-14", "ViT-L-14.pt", "clip/ViT-L-14.pt", "clip")
HEAD_CANDIDATES = ("aesthetic/sa_0_4_vit_l_14_linear.pth", "sa_0_4_vit_l_14_linear.pth",
                   "aesthetic/sac+logos+ava1-l14-linearMSE.pth", "sac+logos+ava1-l14-linearMSE.pth")
VICLIP_CANDIDATES = ("viclip/ViClip-InternVid-10M-FLT.pth", "ViClip-InternVid-10M-FLT.pth", "viclip")
FALLBACK_NOTICE = ("ST-Bench scorers: CPU fallback (stats-quality for aesthetics, stats-embedder video features, "
                   "TF-IDF prompt features; no prompt following). These numbers are NOT comparable with the "
                   "StoryMem paper's. For the paper's scorers: {how}")


@dataclass
class EvalModels:
    """Where the paper's judges are (all optional)."""

    models_dir: str | None = None
    clip: str | None = None
    aesthetic_head: str | None = None
    viclip: str | None = None
    device: str | None = None
    faces: bool = True
    """Build the dlib face judge when dlib and its models are installed."""


def downloads(folder: str = "DIR") -> str:
    from engine.scoring.aesthetic import CLIP_L14_DOWNLOAD, HEAD_DOWNLOAD
    from engine.scoring.viclip import VICLIP_DOWNLOAD

    return "; ".join(s.replace("DIR", folder) for s in (CLIP_L14_DOWNLOAD, HEAD_DOWNLOAD, VICLIP_DOWNLOAD)) + \
        f"; then pass --eval-models {folder} (or set {ENV_VAR})"


def _find(base: Path | None, explicit: str | None, candidates: tuple[str, ...]) -> Path | None:
    if explicit:
        return Path(explicit).expanduser()
    if base is None:
        return None
    for c in candidates:
        if (base / c).exists():
            return base / c
    return None


def build_judges(opts: EvalModels | None = None) -> Judges:
    """The judges: paper models when configured (all of them, or a :class:`ScoringError` listing what is
    missing), else the fallbacks; the face judge when dlib is installed."""
    from engine.scoring.fallback import StatsAesthetic, StatsVideo, TfidfText
    from engine.scoring.faces import DlibFaces, INSTALL, faces_available

    opts = opts or EvalModels()
    folder = opts.models_dir or os.environ.get(ENV_VAR) or None
    base = Path(folder).expanduser() if folder else None
    asked = bool(base or opts.clip or opts.aesthetic_head or opts.viclip)
    info: list[JudgeInfo] = []
    notices: list[str] = []
    if asked:
        if base is not None and not base.is_dir():
            raise ScoringError(f"--eval-models {base} is not a folder; download into it: {downloads(str(base))}")
        clip = _find(base, opts.clip, CLIP_CANDIDATES)
        head = _find(base, opts.aesthetic_head, HEAD_CANDIDATES)
        viclip = _find(base, opts.viclip, VICLIP_CANDIDATES)
        missing = [what for what, p in (("CLIP ViT-L/14", clip), ("LAION aesthetic head", head), ("ViCLIP", viclip))
                   if p is None or not p.exists()]
        if missing:
            where = str(base) if base else "DIR"
            raise ScoringError(f"ST-Bench scorers missing: {', '.join(missing)}; download: {downloads(where)}")
        from engine.scoring.aesthetic import LaionAesthetic
        from engine.scoring.viclip import ViCLIPScorer

        device = opts.device or _default_device()
        aesthetic = LaionAesthetic(clip, head, device=device)
        video = ViCLIPScorer(viclip, device=device)
        text = video
        info += [JudgeInfo("aesthetic", aesthetic.name, True, f"{head} on {clip} ({device})"),
                 JudgeInfo("video-text", video.name, True, f"{viclip} ({device})"),
                 JudgeInfo("prompt features", video.name + " text tower", True)]
    else:
        how = downloads()
        aesthetic, video, text = StatsAesthetic(), StatsVideo(), TfidfText()
        info += [JudgeInfo("aesthetic", aesthetic.name, False, "stands in for CLIP ViT-L/14 + LAION head", how),
                 JudgeInfo("video-text", video.name, False, "stands in for ViCLIP; no text tower", how),
                 JudgeInfo("prompt features", text.name, False, "ranks shot pairs for top-10 consistency", how)]
        notices.append(FALLBACK_NOTICE.format(how=how))
    faces = None
    if opts.faces:
        ok, why = faces_available()
        if ok:
            faces = DlibFaces()
            info.append(JudgeInfo("identity", faces.name, True, "dlib HOG detector + 5 landmarks + ResNet (face_recognition_models)"))
        else:
            info.append(JudgeInfo("identity", "none", False, why, INSTALL))
            notices.append(f"character identity not measured: {why}")
    return Judges(aesthetic=aesthetic, video=video, text=text, faces=faces, info=info, notices=notices)


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
