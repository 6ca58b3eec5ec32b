"""The story script: exactly the ST-Bench format, plus shot ids.

An ST-Bench script is ``{story_name, story_overview, scenes: [{scene_num, video_prompts,
first_frame_prompt?, cut}]}`` with one 5-second shot per video prompt. ``cut`` is one bool per
shot (true = hard cut, false = continue from the previous shot's last frame). The older form with
one ``cut`` bool per scene is accepted and normalised: the bool applies to the scene's first shot
and every later shot of that scene is a cut (a continuation must be designed, never assumed).

Everything dailies adds (character bible, cast per shot, run state) lives beside the script in
other files, never inside it, so a script always dumps back to a valid ST-Bench file.
"""

from __future__ import annotations

import re
from typing import Annotated, Iterator

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

MAX_PROMPT_CHARS = 2000
MAX_SCENE_NUM = 9999
"""Largest scene number: shot ids (``SS-KK``), keyframe ids (``SS-KK-vN-kN``, at most 64 characters) and the
file names made from them stay short."""

ShotId = Annotated[str, StringConstraints(pattern=r"^\d{2,}-\d{2,}$")]
"""A shot's id ``SS-KK``: scene number and 1-based shot index within the scene, zero-padded."""

_SHOT_ID_RE = re.compile(r"^(\d{2,})-(\d{2,})$")


def make_shot_id(scene_num: int, shot_index: int) -> str:
    """``make_shot_id(2, 1) == "02-01"`` (shot_index is 1-based)."""
    return f"{scene_num:02d}-{shot_index:02d}"


def parse_shot_id(shot_id: str) -> tuple[int, int]:
    """Inverse of :func:`make_shot_id`; raises ``ValueError`` on a malformed id."""
    m = _SHOT_ID_RE.match(shot_id)
    if not m:
        raise ValueError(f"malformed shot id {shot_id!r}: expected SS-KK, e.g. 02-01")
    return int(m.group(1)), int(m.group(2))


def _entries(n: int) -> str:
    return f"{n} entry" if n == 1 else f"{n} entries"


def _check_prompt(value: str) -> str:
    if not value.strip():
        raise ValueError("prompt is empty (rule: prompts are non-empty)")
    if len(value) > MAX_PROMPT_CHARS:
        raise ValueError(
            f"prompt has {len(value)} characters (rule: at most {MAX_PROMPT_CHARS} characters)"
        )
    return value


class Scene(BaseModel):
    """One scene of an ST-Bench script: a list of shots sharing a place and time."""

    model_config = ConfigDict(extra="forbid")

    scene_num: int = Field(ge=0, le=MAX_SCENE_NUM)
    """Sequential index of the scene; strictly increasing through the script; 0 to :data:`MAX_SCENE_NUM`."""

    video_prompts: list[str] = Field(min_length=1)
    """One text-to-video prompt per 5-second shot, 1-4 sentences, at most 2,000 characters."""

    first_frame_prompt: list[str] | None = None
    """Optional keyframe prompts for keyframe-first baselines; same length as ``video_prompts``."""

    cut: list[bool]
    """Per shot: true = hard cut, false = continue from the previous shot's last frame."""

    @model_validator(mode="before")
    @classmethod
    def _normalise_scene_cut(cls, data: object) -> object:
        # Older ST-Bench form: one `cut` bool per scene. It applies to the scene's first shot;
        # the scene's later shots are hard cuts.
        if isinstance(data, dict) and isinstance(data.get("cut"), bool):
            prompts = data.get("video_prompts")
            n = len(prompts) if isinstance(prompts, list) else 1
            data = {**data, "cut": [data["cut"]] + [True] * max(n - 1, 0)}
        return data

    @field_validator("video_prompts", "first_frame_prompt")
    @classmethod
    def _prompts_valid(cls, prompts: list[str] | None) -> list[str] | None:
        if prompts is None:
            return prompts
        problems = []
        for k, p in enumerate(prompts):
            try:
                _check_prompt(p)
            except ValueError as e:
                problems.append(f"shot {k + 1}: {e}")
        if problems:
            raise ValueError("; ".join(problems))
        return prompts

    @model_validator(mode="after")
    def _lengths_equal(self) -> "Scene":
        n = len(self.video_prompts)
        problems = []
        if len(self.cut) != n:
            problems.append(
                f"cut has {_entries(len(self.cut))} but video_prompts has {n} "
                "(rule: list lengths are equal)"
            )
        if self.first_frame_prompt is not None and len(self.first_frame_prompt) != n:
            problems.append(
                f"first_frame_prompt has {_entries(len(self.first_frame_prompt))} but video_prompts "
                f"has {n} (rule: list lengths are equal)"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self


class Shot(BaseModel):
    """A flattened view of one shot of a script (derived, never serialised into the script)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: ShotId
    """``SS-KK``: scene number and 1-based index within the scene."""
    index: int = Field(ge=0)
    """0-based position of the shot in the whole film."""
    scene_num: int
    """The scene this shot belongs to."""
    prompt: str
    """The script's video prompt for the shot."""
    first_frame_prompt: str | None = None
    """The script's optional first-frame prompt."""
    cut: bool
    """True for a hard cut; false to continue from the previous shot's last frame."""


class StoryScript(BaseModel):
    """An ST-Bench story script, field for field."""

    model_config = ConfigDict(extra="forbid")

    story_name: str = Field(min_length=1, max_length=300)
    """Title of the story."""
    story_overview: str = Field(min_length=1, max_length=5000)
    """A concise summary of the whole story."""
    scenes: list[Scene] = Field(min_length=1)
    """Scenes in order; the film is their shots in order."""

    @model_validator(mode="after")
    def _story_rules(self) -> "StoryScript":
        problems = []
        if not self.scenes[0].cut[0]:
            problems.append(
                f"scene {self.scenes[0].scene_num}, shot 1: cut is false "
                "(rule: the first shot is a cut)"
            )
        for prev, cur in zip(self.scenes, self.scenes[1:]):
            if cur.scene_num <= prev.scene_num:
                problems.append(
                    f"scene {cur.scene_num}: follows scene {prev.scene_num} "
                    "(rule: scene numbers increase)"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def shots(self) -> list[Shot]:
        """All shots in film order with their ids."""
        return list(self.iter_shots())

    def iter_shots(self) -> Iterator[Shot]:
        index = 0
        for scene in self.scenes:
            for k, prompt in enumerate(scene.video_prompts):
                ffp = scene.first_frame_prompt[k] if scene.first_frame_prompt else None
                yield Shot(
                    id=make_shot_id(scene.scene_num, k + 1),
                    index=index,
                    scene_num=scene.scene_num,
                    prompt=prompt,
                    first_frame_prompt=ffp,
                    cut=scene.cut[k],
                )
                index += 1

    def to_json_dict(self) -> dict:
        """The ST-Bench JSON form (optional fields left out when absent)."""
        return self.model_dump(mode="json", exclude_none=True)
