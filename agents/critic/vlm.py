"""The vision critic: a VLM on an OpenAI-compatible endpoint looks at a rendered shot and decides.

What it sends (one chat request per critique, images as downscaled JPEG data URLs):
- the shot's extracted keyframes (at most ``max_keyframes``) and its first and last sample frames;
- for a cut=false shot, the previous shot's last frame (the shot must start on it);
- ONE contact sheet of the memory keyframes the shot was conditioned on, each labelled with its id;
- the prompt, the cast characters' bible details, every bible name, the memory ids, the cut flag.

What it gets back: a :class:`VLMReview` (findings + the typed verdict union), validated by pydantic
and then against the shot (:meth:`VLMCritic.check`): a SwapKeyframes may only drop ids of the shot's
memory (and may not add ids: the critic is shown no others), an InjectDetails may only name bible
characters, a Reprompt gets the cast's explicit details injected. An answer that breaks these
rules is fed back to the model with the error (the client's validation retries).

Failure: any endpoint or output failure left after the client's retries, or an unreadable image,
raises :class:`~agents.critic.base.CriticError` (one line); the director then goes on with the
heuristic critic and says so.

Preflight: no model call. The VLM judges pixels; before rendering it applies the same prompt check
as the heuristic critic (a cast character named without its explicit details → InjectDetails), so
the check still runs when the VLM critic is the run's critic.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

import prompts
from agents.critic.identity import identity_check
from agents.critic.preflight import details_preflight
from agents.critic.base import CriticError
from agents.llm import LLMClient, LLMError
from agents.llm.errors import one_line
from agents.llm.images import contact_sheet, image_data_url, image_part, text_part
from schemas.bible import Bible, Character
from schemas.critique import (
    CritiqueInput,
    CritiqueReport,
    Finding,
    InjectDetails,
    Reprompt,
    SwapKeyframes,
    Verdict,
)
from schemas.render import RenderRequest
from schemas.script import MAX_PROMPT_CHARS
from story.details import inject_details


class VLMReview(BaseModel):
    """The model's answer: what it saw, and what to do."""

    model_config = ConfigDict(extra="forbid")

    findings: list[Finding] = Field(default_factory=list, max_length=12)
    """Observations, most important first."""
    verdict: Verdict
    """The decision."""


class VLMCritic:
    """Critic backed by a vision-language model. Name ``vlm:<model>``."""

    def __init__(
        self,
        client: LLMClient,
        *,
        image_side: int = 512,
        sheet_cell: int = 224,
        max_keyframes: int = 4,
        detail: str | None = None,
    ) -> None:
        self.client = client
        self.name = f"vlm:{client.model}"
        self.image_side = image_side
        self.sheet_cell = sheet_cell
        self.max_keyframes = max_keyframes
        self.detail = detail
        """OpenAI's image ``detail`` (``low`` is cheapest); None sends none (local servers)."""

    def describe(self) -> str:
        return f"{self.name} via {self.client.describe()}"

    # -- before rendering ---------------------------------------------------------------------
    def preflight(self, request: RenderRequest, bible: Bible) -> CritiqueReport | None:
        """The explicit-details prompt check (no model call); ``None`` when the prompt is fine."""
        return details_preflight(self.name, request, bible)

    def critique(self, inp: CritiqueInput) -> CritiqueReport:
        """Judge the rendered shot; :class:`CriticError` if the VLM can't."""
        messages = self.build_messages(inp)
        try:
            report = self.client.complete_structured(
                messages, VLMReview, role="critic", shot_id=inp.shot_id,
                postprocess=lambda review: self.check(review, inp),
            )
        except LLMError as err:
            raise CriticError(f"VLM critic {self.name} failed on shot {inp.shot_id}: {err}") from err
        # The measured face identity check applies whatever the model saw (it overrides only an accept).
        findings, verdict = identity_check(inp)
        if verdict is not None and report.verdict.action == "accept":
            return report.model_copy(update={"findings": [*report.findings, *findings][:12], "verdict": verdict})
        return report

    def check(self, review: VLMReview, inp: CritiqueInput) -> CritiqueReport:
        """The report, once the verdict is checked against the shot (``ValueError`` if it can't be)."""
        verdict = review.verdict
        if isinstance(verdict, SwapKeyframes):
            unknown = [k for k in verdict.drop if k not in inp.memory_ids]
            if unknown:
                raise ValueError(
                    f"swap_keyframes drops {', '.join(map(repr, unknown))}, which are not memory keyframes of "
                    f"this shot; use only ids from the contact sheet: {', '.join(inp.memory_ids) or 'none'}"
                )
            if verdict.add:
                raise ValueError(
                    "swap_keyframes must leave 'add' empty (you were shown only this shot's memory); "
                    "list in 'drop' the keyframes to leave out"
                )
            if not verdict.drop:
                raise ValueError("swap_keyframes must drop at least one keyframe id; otherwise choose rerender")
        elif isinstance(verdict, InjectDetails):
            by_name = {w.casefold(): c.name for c in inp.bible for w in c.mentions()}
            unknown = [n for n in verdict.characters if n.strip().casefold() not in by_name]
            if unknown:
                raise ValueError(
                    f"inject_details names {', '.join(map(repr, unknown))}, not in the bible; "
                    f"name only bible characters: {', '.join(c.name for c in inp.bible) or 'none'}"
                )
            names = list(dict.fromkeys(by_name[n.strip().casefold()] for n in verdict.characters))
            verdict = InjectDetails(characters=names, reason=verdict.reason)
        elif isinstance(verdict, Reprompt):
            prompt = inject_details(verdict.prompt, list(inp.bible), cast=list(inp.characters))
            if len(prompt) > MAX_PROMPT_CHARS:
                raise ValueError(
                    f"the reprompt, with the characters' explicit details, has {len(prompt)} characters; "
                    f"keep it under {MAX_PROMPT_CHARS}"
                )
            verdict = Reprompt(prompt=prompt, reason=verdict.reason)
        return CritiqueReport(
            critic=self.name, attempt=inp.attempt, stage="shot", findings=review.findings, verdict=verdict,
        )

    # -- the request ---------------------------------------------------------------------------
    def build_messages(self, inp: CritiqueInput) -> list[dict[str, Any]]:
        """System and user messages for ``inp``: text, then each image after its label."""
        labelled = self._images(inp)
        parts: list[dict[str, Any]] = [text_part(prompts.render(
            "critic_user",
            shot_id=inp.shot_id,
            attempt=inp.attempt,
            cut_rule=(
                "cut=true: the shot opens with a hard cut." if inp.cut else
                "cut=false: the shot must continue smoothly from the previous shot's last frame."
            ),
            prompt=inp.prompt,
            characters=_characters(inp.characters),
            bible_names=", ".join(c.name for c in inp.bible) or "(none)",
            memory_ids=", ".join(inp.memory_ids) or "(the memory bank is empty: first shot)",
            image_list="\n".join(f"{k}. {label}" for k, (label, _) in enumerate(labelled, start=1)),
        ))]
        for k, (label, url) in enumerate(labelled, start=1):
            parts.append(text_part(f"Image {k}: {label}"))
            parts.append(image_part(url, detail=self.detail))
        return [
            {"role": "system", "content": prompts.render("critic_system")},
            {"role": "user", "content": parts},
        ]

    def _images(self, inp: CritiqueInput) -> list[tuple[str, str]]:
        """(label, data URL) of every image sent, in order."""
        out: list[tuple[str, str]] = []
        try:
            if not inp.cut and inp.previous_last_frame:
                out.append(("last frame of the previous shot (this shot must start on it)",
                            self._url(inp.previous_last_frame)))
            if inp.sample_frames:
                out.append(("first frame of this shot", self._url(inp.sample_frames[0])))
            for k, path in enumerate(inp.keyframes[: self.max_keyframes], start=1):
                out.append((f"keyframe {k} of this shot", self._url(path)))
            if len(inp.sample_frames) > 1:
                out.append(("last frame of this shot", self._url(inp.sample_frames[-1])))
            if inp.memory:
                labels = inp.memory_ids if len(inp.memory_ids) == len(inp.memory) else [
                    os.path.splitext(os.path.basename(p))[0] for p in inp.memory]
                sheet = contact_sheet(inp.memory, labels, cell=self.sheet_cell)
                out.append((f"contact sheet of the {len(inp.memory)} memory keyframes the shot was "
                            f"conditioned on, labelled with their ids", self._url(sheet, side=1024)))
        except (OSError, ValueError) as err:
            raise CriticError(f"VLM critic {self.name} could not read an image of shot {inp.shot_id}: "
                              f"{one_line(str(err), 200)}") from err
        if not out:
            raise CriticError(f"VLM critic {self.name}: shot {inp.shot_id} has no frames to look at")
        return out

    def _url(self, src: Any, side: int | None = None) -> str:
        return image_data_url(src, max_side=side or self.image_side)


def _characters(chars: list[Character]) -> str:
    if not chars:
        return "(none: no bible character is cast in this shot)"
    return "\n".join(f"- {c.details()}" for c in chars)
