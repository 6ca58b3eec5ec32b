"""The embedded critic: measurable checks, no model.

Checks, each with a threshold stated below:
- continuity: a cut=false shot must start where the previous shot ended (mean absolute difference
  of the saved first frame and the previous last frame, on a 0-1 scale, at most ``max_boundary_mad``);
- blur: sharpness (variance of a Laplacian on grey levels, 0-255 scale) of the sampled frames;
- exposure: mean luma and the fraction of clipped (near-black / near-white) pixels;
- memory copy: a hard-cut shot whose every keyframe is a near copy of one memory keyframe;
- duplicates: keyframes that duplicate the bank are reported (the bank drops them anyway);
- explicit details: a bible character named in the prompt without its appearance/attire
  (StoryMem's remedy for multi-character confusion) -> InjectDetails.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from agents.critic.preflight import details_preflight
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

_ANALYSIS_WIDTH = 208  # frames are analysed at this width (aspect kept): fast and stable


@dataclass(frozen=True)
class HeuristicThresholds:
    """Thresholds of the heuristic critic (documented in the module docstring)."""

    max_boundary_mad: float = 0.10
    """Largest mean |first - previous last| (0-1 scale) a continuation may have."""
    min_sharpness: float = 20.0
    """Smallest Laplacian variance (grey 0-255) of the sharpest sampled frame."""
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


def _load_grey(path: str) -> np.ndarray:
    img = Image.open(path).convert("RGB")
    h = max(1, round(img.height * _ANALYSIS_WIDTH / img.width))
    arr = np.asarray(img.resize((_ANALYSIS_WIDTH, h), Image.BILINEAR), dtype=np.float32)  # (H, W, 3)
    return arr


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)  # (H, W)


def sharpness(rgb: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of the grey image (0-255 scale)."""
    g = _luma(rgb)
    lap = -4 * g[1:-1, 1:-1] + g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:]
    return float(lap.var())


def exposure(rgb: np.ndarray) -> tuple[float, float]:
    """(mean luma 0-1, fraction of clipped pixels)."""
    g = _luma(rgb) / 255.0
    clipped = float(((g < 0.02) | (g > 0.98)).mean())
    return float(g.mean()), clipped


class HeuristicCritic:
    """Embedded default critic (named ``heuristic`` in every report)."""

    name = "heuristic"

    def __init__(self, thresholds: HeuristicThresholds | None = None):
        self.t = thresholds or HeuristicThresholds()

    # -- before rendering ------------------------------------------------------------------
    def preflight(self, request: RenderRequest, bible: Bible) -> CritiqueReport | None:
        """Catch a prompt that names a bible character without its explicit details."""
        return details_preflight(self.name, request, bible)

    # -- after rendering -------------------------------------------------------------------
    def critique(self, inp: CritiqueInput) -> CritiqueReport:
        findings: list[Finding] = []
        frames = [_load_grey(p) for p in inp.sample_frames]

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
            prev = _load_grey(inp.previous_last_frame)
            first = frames[0]
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
        if frames:
            sharp = max(sharpness(f) for f in frames)
            if sharp < self.t.min_sharpness:
                technical = True
                findings.append(Finding(
                    check="blur", severity="major",
                    message=f"sharpest sampled frame has Laplacian variance {sharp:.1f} (< {self.t.min_sharpness})",
                    value=sharp,
                ))
            lumas, clips = zip(*(exposure(f) for f in frames))
            mean_luma, clipped = float(np.mean(lumas)), float(np.mean(clips))
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

        # Decide: fix the prompt first, then the memory, then resample.
        if missing:
            names = [c.name for c in missing]
            verdict = InjectDetails(characters=names, reason=f"{', '.join(names)} named without bible details")
        elif copied:
            verdict = SwapKeyframes(drop=copied, reason="the shot copied these memory keyframes")
        elif continuity_broken or technical:
            bad = [f.check for f in findings if f.severity == "major"]
            verdict = Rerender(reason=f"{', '.join(bad)} check failed; resample with a new seed")
        else:
            verdict = Accept(reason="continuity, sharpness, exposure and memory checks passed")
        return CritiqueReport(critic=self.name, attempt=inp.attempt, stage="shot", findings=findings, verdict=verdict)
