"""Choose and build the backends a run uses, and say which ran and how to get the real ones.

Every role has an embedded default that needs no GPU, weights or endpoint (preview engine, offline
planner, heuristic critic, statistics embedder/scorer) and a real backend that is used when it is
configured. The choice, and the reason for it, is recorded in the manifest and printed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agents.critic.heuristic import HeuristicCritic
from agents.director.runtime import Backends
from schemas.run import BackendInfo

UPGRADE = {
    "engine": "download the Wan2.2 + StoryMem weights (docs/storymem-engine.md), then "
              "`--engine storymem --models DIR` on a CUDA GPU",
    "planner": "set OPENAI_BASE_URL to a local llama.cpp/vLLM/Ollama server (its model is found by itself), "
               "or OPENAI_API_KEY and `--llm-model NAME` (docs/models.md)",
    "critic": "set `--vlm-model NAME` with an OpenAI-compatible vision model (docs/models.md)",
    "embedder": "`--clip-checkpoint PATH` to an open_clip ViT-B-32 checkpoint (docs/memory.md)",
    "scorer": "`--hpsv3 CHECKPOINT --hpsv3-base DIR` with the hpsv3 package, or `--clip-checkpoint` for "
              "CLIP-IQA (docs/memory.md)",
}


class BackendError(RuntimeError):
    """A requested backend cannot be used; the message says why and what to do."""


@dataclass
class BackendOptions:
    """What the user asked for (from flags, environment and config)."""

    engine: str = "preview"
    """``preview``, ``storymem`` or ``auto`` (storymem when weights and CUDA are there)."""
    models_dir: str | None = None
    """Folder with the Wan2.2 and StoryMem downloads."""
    llm_model: str | None = None
    """Planner model on an OpenAI-compatible endpoint (None: offline planner)."""
    vlm_model: str | None = None
    """Critic model on an OpenAI-compatible endpoint (None: heuristic critic)."""
    base_url: str | None = None
    """Endpoint; default from OPENAI_BASE_URL, else OpenAI."""
    planner_fallback: bool = True
    """A model planner that fails falls back to the offline planner with a notice (False: an error)."""
    clip_checkpoint: str | None = None
    """open_clip ViT-B-32 checkpoint for keyframe embedding (None: statistics embedder)."""
    hpsv3_checkpoint: str | None = None
    """HPSv3 checkpoint for the keyframe quality filter (needs the hpsv3 package and ``hpsv3_base``)."""
    hpsv3_base: str | None = None
    """Local folder of HPSv3's base model (Qwen2-VL-7B-Instruct)."""
    storymem: dict = field(default_factory=dict)
    """Extra StoryMem engine settings (variant, preset, gpus, memory_positions, offload, steps...)."""

    def __post_init__(self) -> None:
        # A blank model name (``--vlm-model " "``, an empty variable) names no model: the embedded default runs.
        for name in ("llm_model", "vlm_model"):
            value = getattr(self, name)
            setattr(self, name, value.strip() or None if isinstance(value, str) else value)


def _engine(opts: BackendOptions, notices: list[str]):
    choice = opts.engine
    if choice in ("auto", "storymem"):
        from engine.storymem.loading import resolve_models_dir, storymem_available

        models = resolve_models_dir(opts.models_dir)
        ok, why = storymem_available(models, variant=opts.storymem.get("variant"))
        if ok:
            from engine.storymem.parallel import build_storymem_engine

            try:
                eng = build_storymem_engine(models, **opts.storymem)  # one GPU in-process, or one worker per GPU
            except ValueError as err:  # a setting the engine refuses (cli/validate.py checks these first)
                raise BackendError(f"--engine storymem cannot run with these settings: {err}") from None
            info = BackendInfo(name="storymem", embedded=False, detail=eng.describe(), settings=eng.settings())
            return eng, info, f"storymem:{eng.describe()}"
        if choice == "storymem":
            raise BackendError(f"--engine storymem cannot run: {why}")
        notices.append(f"engine: using the preview engine because {why}")
    elif choice != "preview":
        raise BackendError(f"unknown engine {choice!r}; use preview, storymem or auto")
    from engine.preview import PreviewEngine

    eng = PreviewEngine()
    info = BackendInfo(name="preview", embedded=True, detail=eng.describe(), upgrade=UPGRADE["engine"])
    return eng, info, eng.fingerprint()


def _keyframe_models(opts: BackendOptions):
    """Embedder and quality scorer: CLIP ViT-B-32 + HPSv3 (or CLIP-IQA) when configured, else the
    statistics fallbacks. Loaded once per run."""
    device = "cpu"
    if opts.clip_checkpoint or opts.hpsv3_checkpoint:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    if opts.clip_checkpoint:
        from engine.clip_features import ClipEmbedder, ClipIQAScorer

        embedder = ClipEmbedder(opts.clip_checkpoint, device=device)
        emb_info = BackendInfo(name=embedder.name, embedded=False, detail=str(opts.clip_checkpoint))
    else:
        from engine.features import StatsEmbedder

        embedder = StatsEmbedder()
        emb_info = BackendInfo(name=embedder.name, embedded=True, upgrade=UPGRADE["embedder"])
    if opts.hpsv3_checkpoint:
        from engine.clip_features import HPSv3Scorer

        if not opts.hpsv3_base:
            raise BackendError("--hpsv3 needs --hpsv3-base, the local folder of HPSv3's base model (Qwen2-VL-7B-Instruct)")
        scorer = HPSv3Scorer(opts.hpsv3_checkpoint, opts.hpsv3_base, device=device)
        scorer_info = BackendInfo(name=scorer.name, embedded=False, detail=str(opts.hpsv3_checkpoint))
    elif opts.clip_checkpoint:
        scorer = ClipIQAScorer(embedder)
        scorer_info = BackendInfo(name=scorer.name, embedded=False,
                                  detail="CLIP-IQA on the keyframe CLIP (HPSv3 alternative)", upgrade=UPGRADE["scorer"])
    else:
        from engine.features import StatsQualityScorer

        scorer = StatsQualityScorer()
        scorer_info = BackendInfo(name=scorer.name, embedded=True, upgrade=UPGRADE["scorer"])
    return embedder, emb_info, scorer, scorer_info


def _identity():
    """The critic's face identity judge (dlib, from PyPI packages; models load on first use), or None."""
    from engine.scoring.faces import INSTALL, DlibFaces, faces_available
    from engine.scoring.identity import IdentityScorer

    import os

    if os.environ.get("DAILIES_NO_IDENTITY") == "1":
        return None, BackendInfo(name="none", embedded=True, detail="turned off by DAILIES_NO_IDENTITY=1",
                                 upgrade="unset DAILIES_NO_IDENTITY")
    ok, why = faces_available()
    if not ok:
        return None, BackendInfo(name="none", embedded=True, detail=why, upgrade=INSTALL)
    scorer = IdentityScorer(DlibFaces())
    return scorer, BackendInfo(name=scorer.name, embedded=False,
                               detail=f"face identity check, same person below {scorer.threshold} (face_recognition_models)")


def build_planner(opts: BackendOptions, notices: list[str] | None = None):
    """The LLM planner when a model is named or a base URL serves one (discovered, with a notice
    added to ``notices``), wrapped to fall back to the offline planner unless
    ``planner_fallback`` is off; else the embedded offline planner."""
    from agents.llm import LLMClient, llm_config
    from agents.planner.offline import OfflinePlanner

    config, found = llm_config(opts.llm_model, opts.base_url, role="llm")
    if config is not None:
        from agents.planner.fallback import FallbackPlanner
        from agents.planner.llm import LLMPlanner

        if notices is not None:
            notices.extend(found)
        client = LLMClient(config)
        planner = LLMPlanner(client)
        info = BackendInfo(name=planner.name, embedded=False, detail=client.describe())
        if opts.planner_fallback:
            return FallbackPlanner(planner, OfflinePlanner()), info
        return planner, info
    planner = OfflinePlanner()
    return planner, BackendInfo(name=planner.name, embedded=True, upgrade=UPGRADE["planner"])


def build_backends(opts: BackendOptions, *, need_planner: bool = False) -> tuple[Backends, list[str]]:
    """Build every backend; returns them and the notices to print (fallbacks taken)."""
    notices: list[str] = []
    engine, engine_info, fingerprint = _engine(opts, notices)

    embedder, emb_info, scorer, scorer_info = _keyframe_models(opts)

    heuristic = HeuristicCritic()
    critic = heuristic
    critic_info = BackendInfo(name="heuristic", embedded=True, upgrade=UPGRADE["critic"])
    if opts.vlm_model:
        from agents.critic.vlm import VLMCritic
        from agents.llm import LLMClient, LLMConfig

        client = LLMClient(LLMConfig.from_env(model=opts.vlm_model, base_url=opts.base_url, role="vlm"))
        critic = VLMCritic(client)
        critic_info = BackendInfo(name=critic.name, embedded=False, detail=client.describe())

    planner, planner_info = build_planner(opts, notices) if need_planner else (None, None)
    identity, identity_info = _identity()

    info = {"engine": engine_info, "critic": critic_info, "embedder": emb_info, "scorer": scorer_info,
            "identity": identity_info}
    if planner_info:
        info["planner"] = planner_info
    return Backends(
        engine=engine, critic=critic, fallback_critic=heuristic, embedder=embedder, scorer=scorer,
        planner=planner, info=info, engine_fingerprint=fingerprint, identity=identity,
    ), notices
