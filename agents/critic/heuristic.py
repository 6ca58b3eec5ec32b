"""The embedded critic: measurable checks, no model.

Checks, each with a threshold stated below:
- continuity: a cut=false shot must start where the previous shot ended (mean absolute difference
  of the saved first frame and the previous last frame, on a 0-1 scale, at most ``max_boundary_mad``);
- blur: sharpness of the sampled frames (the stats quality scorer's tile Laplacian measure);
- exposure: mean luma and the fraction of clipped (near-black / near-white) pixels (same measurements);
- memory copy: a hard-cut shot whose every keyframe is a near copy of one memory keyframe;
- duplicates: keyframes that duplicate the bank are reported (the bank drops them anyway);
- explicit details: a bible character named in the prompt without its appearance/attire
  (StoryMem's remedy for multi-character confusion) -> InjectDetails;
- identity: a cast character's face far from its earlier faces (``agents/critic/identity.py``,
  threshold 0.6 on dlib's face descriptor) -> SwapKeyframes / InjectDetails / Rerender.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from agents.critic.identity import identity_check
from agents.critic.preflight import details_preflight
from engine.features import StatsQualityScorer
from schemas.bible import Bible
from schemas.critique import (
    Accept,
    CritiqueInput,
    CritiqueReport,
    Finding,
    InjectDetails,
    Rerender,
    SwapKeyframes,
)
from schemas.render import RenderRequest
from story.details import missing_details

_ANALYSIS_WIDTH = 208  # continuity is compared at this width (aspect kept): fast and stable


@dataclass(frozen=True)
class HeuristicThresholds:
    """Thresholds of the heuristic critic (documented in the module docstring)."""

    max_boundary_mad: float = 0.10
    """Largest mean |first - previous last| (0-1 scale) a continuation may have."""
    min_sharpness: float = 0.002
    """Smallest sharpness (StatsQualityScorer's tile Laplacian variance, luma 0-1) of the sharpest sample;
    a Gaussian blur of sigma 3 px brings crisp 832-px frames from ~0.03 to ~0.002."""
    min_mean_luma: float = 0.06
    """Darkest acceptable mean luma (0-1) of the sampled frames, on average."""
    max_mean_luma: float = 0.94
    """Brightest acceptable mean luma (0-1)."""
    max_clipped: float = 0.60
    """Largest fraction of pixels at pure black or pure white."""
    copy_similarity: float = 0.985
    """A keyframe this similar to a memory keyframe is a copy of it."""
    duplicate_similarity: float = 0.9
    """A keyframe this similar to the bank is a duplicate (StoryMem's dedupe threshold)."""


def _load(path: str, width: int | None = None) -> np.ndarray:
    img = Image.open(path).convert("RGB")
    if width:
        img = img.resize((width, max(1, round(img.height * width / img.width))), Image.BILINEAR)
    return np.asarray(img)  # (H, W, 3) uint8


class HeuristicCritic:
    """Embedded default critic (named ``heuristic`` in every report)."""

    name = "heuristic"

    def __init__(self, thresholds: HeuristicThresholds | None = None):
        self.t = thresholds or HeuristicThresholds()
        self._scorer = StatsQualityScorer()  # its measurements, not its score: the same numbers keyframes use

    # -- before rendering ------------------------------------------------------------------
    def preflight(self, request: RenderRequest, bible: Bible) -> CritiqueReport | None:
        """Catch a prompt that names a bible character without its explicit details."""
        return details_preflight(self.name, request, bible)

    # -- after rendering -------------------------------------------------------------------
    def critique(self, inp: CritiqueInput) -> CritiqueReport:
        findings: list[Finding] = []
        frames = [_load(p) for p in inp.sample_frames]  # each (H, W, 3) uint8

        # Explicit character details (prompt-level; normally fixed in preflight already).
        missing = missing_details(inp.prompt, list(inp.bible))
        if missing:
            findings.append(Finding(
                check="explicit_details", severity="major",
                message=f"prompt names {', '.join(c.name for c in missing)} without their bible details",
            ))

        # Continuity at a cut=false boundary.
        continuity_broken = False
        if not inp.cut and inp.previous_last_frame and frames:
            prev = _load(inp.previous_last_frame, _ANALYSIS_WIDTH).astype(np.float32)
            first = _load(inp.sample_frames[0], _ANALYSIS_WIDTH).astype(np.float32)
            if prev.shape != first.shape:
                prev = np.asarray(Image.fromarray(prev.astype(np.uint8)).resize(first.shape[1::-1]), dtype=np.float32)
            mad = float(np.abs(prev - first).mean() / 255.0)
            continuity_broken = mad > self.t.max_boundary_mad
            findings.append(Finding(
                check="continuity", severity="major" if continuity_broken else "info",
                message=f"first frame differs from the previous shot's last frame by {mad:.3f} "
                        f"(limit {self.t.max_boundary_mad:.3f})", value=mad,
            ))

        # Blur and exposure over the sampled frames.
        technical = False
        if frames and len({f.shape for f in frames}) == 1:
            m = self._scorer.measure(np.stack(frames))  # each (N,)
            sharp = float(m["sharpness"].max())
            if sharp < self.t.min_sharpness:
                technical = True
                findings.append(Finding(
                    check="blur", severity="major",
                    message=f"sharpest sampled frame has sharpness {sharp:.5f} (< {self.t.min_sharpness})",
                    value=sharp,
                ))
            mean_luma = float(m["mean_luma"].mean())
            clipped = float((m["dark_clip"] + m["bright_clip"]).mean())
            if mean_luma < self.t.min_mean_luma or clipped > self.t.max_clipped and mean_luma < 0.5:
                technical = True
                findings.append(Finding(check="exposure", severity="major",
                                        message=f"underexposed: mean luma {mean_luma:.3f}, clipped {clipped:.2f}",
                                        value=mean_luma))
            elif mean_luma > self.t.max_mean_luma or clipped > self.t.max_clipped:
                technical = True
                findings.append(Finding(check="exposure", severity="major",
                                        message=f"overexposed: mean luma {mean_luma:.3f}, clipped {clipped:.2f}",
                                        value=mean_luma))

        # Keyframes against the memory the shot saw.
        sims = inp.keyframe_memory_similarity
        dup = [i for i, s in enumerate(sims) if s > self.t.duplicate_similarity]
        if dup:
            findings.append(Finding(
                check="duplicate_memory", severity="info",
                message=f"{len(dup)} of {len(sims)} keyframes duplicate the memory bank (similarity > "
                        f"{self.t.duplicate_similarity}); they are not added to the bank",
                value=max(sims),
            ))
        copied: list[str] = []
        if inp.cut and sims and all(s > self.t.copy_similarity for s in sims):
            copied = sorted({m for m in inp.keyframe_memory_match if m})
            findings.append(Finding(
                check="memory_copy", severity="major",
                message=f"every keyframe is a near copy of memory ({', '.join(copied)}; similarity "
                        f"{min(sims):.3f}): the shot repeats an earlier one", value=min(sims),
            ))

        identity_findings, identity_verdict = identity_check(inp)
        findings += identity_findings

        # Decide: fix the prompt first, then the memory, then identity, then resample.
        if missing:
            names = [c.name for c in missing]
            verdict = InjectDetails(characters=names, reason=f"{', '.join(names)} named without bible details")
        elif copied:
            verdict = SwapKeyframes(drop=copied, reason="the shot copied these memory keyframes")
        elif identity_verdict is not None:
            verdict = identity_verdict
        elif continuity_broken or technical:
            bad = [f.check for f in findings if f.severity == "major"]
            verdict = Rerender(reason=f"{', '.join(bad)} check failed; resample with a new seed")
        else:
            verdict = Accept(reason="continuity, sharpness, exposure, memory and identity checks passed")
        return CritiqueReport(critic=self.name, attempt=inp.attempt, stage="shot", findings=findings, verdict=verdict)
