"""The LLM planner: a chat model writes the bible, then the script, through the structured client.

Two calls, each validated by a pydantic model with invalid answers retried with the error fed back
(by :meth:`agents.llm.LLMClient.complete_structured`):

1. the bible (:class:`BibleDraft`): characters with appearance, attire, age and style;
2. the script (:class:`ScriptDraft`), given the bible: scenes of shots, each with its prompt, its
   ``cut`` flag and the names of the characters in it (a per-shot object, so the ST-Bench lists can
   never have different lengths).

After the model, deterministic rules are enforced on the script (:func:`draft_to_plan`): the first
shot is a cut, scenes are numbered 1..n, each shot's cast names bible characters (a character the
prompt mentions is added to the cast), and every prompt carries the explicit details of every
character in it (injected at the first mention where the model left them out). What can't be fixed
deterministically (wrong shot count, unknown character, prompt too long) is fed back to the model.

The logline reaches the model only as a quoted JSON string between ``<logline>`` tags, after
:func:`~agents.planner.logline.clean_logline`; the prompts tell the model it is story material,
never an instruction. The planner returns a :class:`~schemas.plan.Plan` (text), never paths.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field

import prompts
from agents.llm import LLMClient, LLMError
from agents.planner.base import PlannerError
from agents.planner.logline import check_shots, clean_logline, clean_style
from schemas.bible import Bible, Character
from schemas.plan import Plan
from schemas.script import MAX_PROMPT_CHARS, Scene, StoryScript, make_shot_id
from story.details import inject_details, is_mentioned

MAX_CHARACTERS = 6
DEFAULT_MIN_SHOTS = 8
DEFAULT_MAX_SHOTS = 12
DEFAULT_STYLE = "cinematic realism"


class CharacterDraft(BaseModel):
    """One character as the model writes it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=40, description="Unique name used in prompts")
    appearance: str = Field(min_length=1, max_length=220, description="Species/build, face, hair, features")
    attire: str = Field(max_length=200, description="Clothing and accessories; empty for none")
    age: str = Field(max_length=40, description="Apparent age")
    style: str = Field(max_length=120, description="Manner and rendering style")


class BibleDraft(BaseModel):
    """The model's answer to the bible request."""

    model_config = ConfigDict(extra="forbid")

    characters: list[CharacterDraft] = Field(max_length=MAX_CHARACTERS)


class ShotDraft(BaseModel):
    """One 5-second shot as the model writes it."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=10, max_length=MAX_PROMPT_CHARS, description="1-4 sentences")
    cut: bool = Field(description="true: hard cut; false: continue from the previous shot's last frame")
    characters: list[str] = Field(max_length=MAX_CHARACTERS, description="Bible names of the characters in the shot")


class SceneDraft(BaseModel):
    """One scene as the model writes it."""

    model_config = ConfigDict(extra="forbid")

    scene_num: int = Field(description="1, 2, 3... in order")
    shots: list[ShotDraft] = Field(min_length=1, max_length=12)


class ScriptDraft(BaseModel):
    """The model's answer to the script request."""

    model_config = ConfigDict(extra="forbid")

    story_name: str = Field(min_length=1, max_length=120)
    story_overview: str = Field(min_length=1, max_length=2000)
    scenes: list[SceneDraft] = Field(min_length=1, max_length=8)


def quote_logline(logline: str) -> str:
    """The logline as a JSON string with ``<``/``>`` escaped, so it can't close its tag."""
    return json.dumps(logline, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")


def draft_to_bible(draft: BibleDraft, style: str) -> Bible:
    """The bible, with the film's style added to each character's style when missing."""
    characters = []
    for c in draft.characters:
        manner = c.style.strip()
        if style.casefold() not in manner.casefold():
            manner = f"{manner}, {style}" if manner else style
        characters.append(
            Character(name=c.name, appearance=c.appearance, attire=c.attire, age=c.age, style=manner[:300])
        )
    return Bible(characters=characters)  # duplicate names raise, and are fed back


def draft_to_plan(draft: ScriptDraft, bible: Bible, *, shots: int | None) -> Plan:
    """The plan from a script draft, with the deterministic rules applied (see the module docstring).

    Raises ``ValueError`` for what only the model can fix; its message says what and how.
    """
    total = sum(len(s.shots) for s in draft.scenes)
    if shots is not None and total != shots:
        raise ValueError(f"the script has {total} shots; it must have exactly {shots} (add or remove shots)")
    if shots is None and not DEFAULT_MIN_SHOTS <= total <= DEFAULT_MAX_SHOTS:
        raise ValueError(
            f"the script has {total} shots; it must have {DEFAULT_MIN_SHOTS} to {DEFAULT_MAX_SHOTS}"
        )
    by_name = {}
    for c in bible.characters:
        for word in c.mentions():
            by_name.setdefault(word.casefold(), c)
    problems: list[str] = []
    scenes: list[Scene] = []
    cast: dict[str, list[str]] = {}
    for s_idx, scene in enumerate(draft.scenes, start=1):
        prompts_: list[str] = []
        cuts: list[bool] = []
        for k, shot in enumerate(scene.shots, start=1):
            shot_id = make_shot_id(s_idx, k)
            names: list[Character] = []
            for name in shot.characters:
                c = by_name.get(name.strip().casefold())
                if c is None:
                    known = ", ".join(ch.name for ch in bible.characters) or "none"
                    problems.append(
                        f"scene {s_idx} shot {k}: character {name!r} is not in the bible (use only: {known})"
                    )
                elif c not in names:
                    names.append(c)
            for c in bible.characters:  # named in the prompt but left out of the cast
                if c not in names and is_mentioned(shot.prompt, c):
                    names.append(c)
            prompt = inject_details(shot.prompt.strip(), names, cast=names)
            if len(prompt) > MAX_PROMPT_CHARS:
                problems.append(
                    f"scene {s_idx} shot {k}: with the character details the prompt has {len(prompt)} "
                    f"characters, more than {MAX_PROMPT_CHARS}; shorten the rest of the prompt"
                )
            prompts_.append(prompt)
            cuts.append(shot.cut)
            cast[shot_id] = [c.name for c in names]
        scenes.append(Scene(scene_num=s_idx, video_prompts=prompts_, cut=cuts))
    if problems:
        raise ValueError("; ".join(problems[:12]))
    scenes[0].cut[0] = True  # the first shot of a film is always a cut
    script = StoryScript(story_name=draft.story_name.strip(), story_overview=draft.story_overview.strip(),
                         scenes=scenes)
    return Plan(script=script, bible=Bible(characters=bible.characters, cast=cast))


class LLMPlanner:
    """Plans with a chat model on an OpenAI-compatible endpoint. Name ``llm:<model>``."""

    def __init__(self, client: LLMClient, style: str | None = None) -> None:
        self.client = client
        self.style = clean_style(style)
        self.name = f"llm:{client.model}"

    def describe(self) -> str:
        return f"{self.name} via {self.client.describe()}"

    def plan(self, logline: str, *, shots: int | None = None, style: str | None = None) -> Plan:
        """Bible first, then the script; :class:`PlannerError` (one line) if either fails."""
        logline = clean_logline(logline)
        shots = check_shots(shots)
        style = clean_style(style) or self.style or DEFAULT_STYLE
        quoted = quote_logline(logline)
        system = {"role": "system", "content": prompts.render("planner_system")}
        try:
            bible = self.client.complete_structured(
                [system, {"role": "user", "content": prompts.render(
                    "planner_bible", logline=quoted, style=style, max_characters=MAX_CHARACTERS)}],
                BibleDraft,
                role="planner",
                postprocess=lambda d: draft_to_bible(d, style),
            )
            rule = (f"exactly {shots} shots" if shots is not None
                    else f"{DEFAULT_MIN_SHOTS} to {DEFAULT_MAX_SHOTS} shots")
            return self.client.complete_structured(
                [system, {"role": "user", "content": prompts.render(
                    "planner_script", logline=quoted, style=style, shots_rule=rule,
                    characters=_characters_block(bible))}],
                ScriptDraft,
                role="planner",
                postprocess=lambda d: draft_to_plan(d, bible, shots=shots),
            )
        except LLMError as err:
            raise PlannerError(f"LLM planner failed: {err}") from err


def _characters_block(bible: Bible) -> str:
    if not bible.characters:
        return "(no characters: the story is told through places and events)"
    return "\n".join(f"- {c.name}: {c.details()}" for c in bible.characters)

