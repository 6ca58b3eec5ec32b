"""What a critic sees and what it decides.

A decision is a typed union, never free text: the director pattern-matches on ``action``.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from schemas.bible import Character

Reason = Annotated[str, Field(min_length=1, max_length=1000)]


class Accept(BaseModel):
    """The shot is good enough: keep it and move on."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["accept"] = "accept"
    """Discriminator."""
    reason: Reason = "no problems found"
    """Why the shot is accepted."""


class Reprompt(BaseModel):
    """Render again with a rewritten prompt."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["reprompt"] = "reprompt"
    """Discriminator."""
    prompt: str = Field(min_length=1, max_length=2000)
    """The full replacement prompt for this shot."""
    reason: Reason
    """What was wrong with the shot that the new prompt fixes."""


class InjectDetails(BaseModel):
    """Render again with the named characters' bible details written into the prompt."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["inject_details"] = "inject_details"
    """Discriminator."""
    characters: list[str] = Field(min_length=1, max_length=32)
    """Bible names of the characters whose explicit details the prompt lacks."""
    reason: Reason
    """What was wrong (e.g. the wrong look attached to a character)."""


class SwapKeyframes(BaseModel):
    """Render again with a different set of memory keyframes for this shot."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["swap_keyframes"] = "swap_keyframes"
    """Discriminator."""
    drop: list[str] = Field(default_factory=list, max_length=64)
    """Keyframe ids to leave out of this shot's memory."""
    add: list[str] = Field(default_factory=list, max_length=64)
    """Keyframe ids from the bank's history to put into this shot's memory."""
    reason: Reason
    """Why the memory misled the shot."""


class Rerender(BaseModel):
    """Render again, same request, new seed."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["rerender"] = "rerender"
    """Discriminator."""
    reason: Reason
    """What was wrong with this sample (blur, exposure, broken continuity...)."""


Verdict = Annotated[
    Union[Accept, Reprompt, InjectDetails, SwapKeyframes, Rerender],
    Field(discriminator="action"),
]
"""A critic's decision about one shot."""

Severity = Literal["info", "minor", "major"]


class Finding(BaseModel):
    """One observed problem (or notable fact) about a shot."""

    model_config = ConfigDict(extra="forbid")

    check: str = Field(min_length=1, max_length=64)
    """Machine name of the check, e.g. ``continuity``, ``blur``, ``exposure``, ``duplicate_memory``."""
    severity: Severity
    """How much it matters; a ``major`` finding warrants a retry."""
    message: str = Field(min_length=1, max_length=1000)
    """Human-readable explanation with the measured value."""
    value: float | None = None
    """The measured value behind the finding, where there is one."""


class IdentityEvidence(BaseModel):
    """How far one cast character's face in the shot is from that character's earlier faces (dlib 128-d
    descriptors; the director measures it with ``engine.scoring.identity``, the critic decides on it)."""

    model_config = ConfigDict(extra="forbid")

    character: str
    """Bible name of the character."""
    status: Literal["match", "far", "no_face", "no_anchor"]
    """``match``/``far``: the character's best face in the shot's keyframes is within / beyond ``threshold``
    of its anchor; ``no_face``: the keyframes show no face given to it; ``no_anchor``: no earlier face to
    compare with (no reference image and no earlier confident appearance)."""
    distance: float | None = None
    """Distance of the shot's best face of the character to its anchor (None without one)."""
    threshold: float = 0.6
    """Same-person boundary (dlib's)."""
    anchor: str = ""
    """Where the anchor came from: ``reference`` or ``first appearance in SS-KK``."""
    keyframe: str | None = None
    """The shot's keyframe candidate the face was found in."""
    best_keyframes: list[str] = Field(default_factory=list, max_length=8)
    """Bank keyframes of earlier shots whose face of the character is closest to the anchor, best first."""
    in_memory: list[str] = Field(default_factory=list, max_length=64)
    """Of ``best_keyframes``, those already in the shot's memory."""


class CritiqueInput(BaseModel):
    """Everything a critic may look at for one shot (paths, not pixels)."""

    model_config = ConfigDict(extra="forbid")

    shot_id: str
    """The shot under review."""
    prompt: str
    """The prompt the shot was rendered from."""
    cut: bool
    """False when the shot must continue the previous shot's last frame."""
    characters: list[Character] = Field(default_factory=list)
    """Bible entries of the characters cast in the shot."""
    bible: list[Character] = Field(default_factory=list)
    """Every bible character (to catch a named character missing its details)."""
    video: str | None = None
    """Path of the saved shot video."""
    sample_frames: list[str] = Field(default_factory=list)
    """Paths of a few frames of the saved shot, in time order (first and last included)."""
    keyframes: list[str] = Field(default_factory=list)
    """Paths of the keyframes extracted from the shot."""
    keyframe_memory_similarity: list[float] = Field(default_factory=list)
    """Per extracted keyframe, its highest cosine similarity to the memory the shot saw."""
    keyframe_memory_match: list[str | None] = Field(default_factory=list)
    """Per extracted keyframe, the id of the memory keyframe it is most similar to."""
    memory: list[str] = Field(default_factory=list)
    """Paths of the memory keyframes the shot was conditioned on."""
    memory_ids: list[str] = Field(default_factory=list)
    """Ids of those memory keyframes, same order."""
    previous_last_frame: str | None = None
    """For cut=false shots: path of the previous shot's last frame."""
    attempt: int = Field(default=1, ge=1)
    """1 for the first render of the shot, 2 for the first retry..."""
    identity: list[IdentityEvidence] = Field(default_factory=list)
    """Per cast character, its face against its earlier faces (empty: not measured, see ``identity_note``)."""
    identity_note: str = ""
    """Why identity was not measured (no face judge installed, no cast), when it was not."""


class CritiqueReport(BaseModel):
    """A critic's findings and decision for one attempt of one shot."""

    model_config = ConfigDict(extra="forbid")

    critic: str
    """Which critic produced it (``heuristic``, ``vlm:<model>``)."""
    attempt: int = Field(ge=1)
    """The attempt it judged."""
    stage: Literal["preflight", "shot"] = "shot"
    """``preflight``: judged the request before rendering; ``shot``: judged the rendered shot."""
    findings: list[Finding] = Field(default_factory=list)
    """What was observed."""
    verdict: Verdict
    """What to do next."""
