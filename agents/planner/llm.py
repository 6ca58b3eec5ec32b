"""The LLM planner: a chat model writes the film in small steps, through the structured client.

Steps, each one request validated by a pydantic model (invalid answers are repaired where no model
is needed, else retried with the error fed back, by
:meth:`agents.llm.LLMClient.complete_structured`):

1. the outline (:class:`OutlineDraft`): title, overview, the characters (the bible: appearance,
   attire, age) and one line per scene (place, time of day, what happens);
2. one request per scene (:class:`SceneDraft`): its shots, each with its prompt, the names of the
   characters in it and its ``cut`` flag; the request carries the outline and the previous shot.

Small steps keep every request small: with a 135M model in a 2,048-token context each takes a few
hundred tokens of prompt and answer, where one whole-script request took 2,843 tokens of prompt
alone. The shot and scene counts are fixed by the planner (:func:`scene_layout`) and sent as
``minItems``/``maxItems``, and the character names as an enum, so a server with schema-constrained
decoding cannot get them wrong. After each step the answers are saved (:mod:`agents.planner.draft`),
so a plan cut short resumes from the scenes already written.

After the model, deterministic rules make the script (:func:`assemble`): scenes numbered 1..n,
every scene opens with a cut, each shot's cast names bible characters (a character the prompt
mentions is added; an unknown name is dropped with a notice), every prompt carries the explicit
details of every character in it and the place and time of day of its scene.

The logline reaches the model only as a quoted JSON string between ``<logline>`` tags, after
:func:`~agents.planner.logline.clean_logline`; the prompts tell the model it is story material,
never an instruction. The planner returns a :class:`~schemas.plan.Plan` (text), never paths.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

import prompts
from agents.llm import LLMClient, LLMError
from agents.llm.structured import prompt_schema
from agents.planner.base import PlannerError
from agents.planner.draft import DraftStore, PlanDraft
from agents.planner.logline import check_shots, clean_logline, clean_style
from schemas.bible import Bible, Character
from schemas.plan import Plan
from schemas.script import MAX_PROMPT_CHARS, Scene, StoryScript, make_shot_id
from story.details import inject_details, is_mentioned

MAX_CHARACTERS = 4
DEFAULT_SHOTS = 9
DEFAULT_STYLE = "cinematic realism"
SHOT_PROMPT_CHARS = 360
"""Longest shot prompt the model writes; the characters' details are added after it."""
TIMES_OF_DAY = ("dawn", "morning", "midday", "afternoon", "sunset", "dusk", "night")

COMPACT_CONTEXT = 4096
"""A context window this small (or a model this small behind it) gets the compact limits."""
COMPACT_LIMITS = {"story_name": 60, "story_overview": 240, "name": 30, "appearance": 100, "attire": 60,
                  "age": 20, "place": 50, "summary": 120, "prompt": 240}
"""maxLength per field sent to the server for a small context: a small model writes up to the limit."""
COMPACT_CHARACTERS = 3

TimeOfDay = Literal["dawn", "morning", "midday", "afternoon", "sunset", "dusk", "night"]


class CharacterDraft(BaseModel):
    """One character as the model writes it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=40, description="Unique name used in prompts")
    appearance: str = Field(min_length=1, max_length=160, description="Kind of being, build, colours")
    attire: str = Field(default="", max_length=100, description="Clothing and accessories; empty for none")
    age: str = Field(default="", max_length=30, description="Apparent age")


class SceneOutline(BaseModel):
    """One scene of the outline."""

    model_config = ConfigDict(extra="forbid")

    place: str = Field(min_length=1, max_length=80)
    time_of_day: TimeOfDay
    summary: str = Field(min_length=1, max_length=200)


class OutlineDraft(BaseModel):
    """The model's answer to the outline request (the scene count is fixed per request)."""

    model_config = ConfigDict(extra="forbid")

    story_name: str = Field(min_length=1, max_length=80)
    story_overview: str = Field(min_length=1, max_length=400)
    characters: list[CharacterDraft] = Field(default_factory=list, max_length=MAX_CHARACTERS)
    scenes: list[SceneOutline] = Field(min_length=1, max_length=5)


class ShotDraft(BaseModel):
    """One 5-second shot as the model writes it."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=10, max_length=SHOT_PROMPT_CHARS, description="1-2 sentences")
    characters: list[str] = Field(default_factory=list, max_length=MAX_CHARACTERS,
                                  description="Bible names of the characters in the shot")
    cut: bool = Field(default=True, description="false: continue from the previous shot's last frame")


class SceneDraft(BaseModel):
    """The model's answer to one scene request (the shot count is fixed per request)."""

    model_config = ConfigDict(extra="forbid")

    shots: list[ShotDraft] = Field(min_length=1, max_length=12)


def scene_layout(total: int) -> list[int]:
    """Shots per scene for ``total`` shots: 3 scenes up to 9 shots, 4 up to 14, else 5; earlier
    scenes take the extra shot (``scene_layout(10) == [3, 3, 2, 2]``)."""
    n = 3 if total <= 9 else 4 if total <= 14 else 5
    n = min(n, total)
    return [total // n + (1 if i < total % n else 0) for i in range(n)]


def outline_model(n_scenes: int) -> type[OutlineDraft]:
    """:class:`OutlineDraft` with exactly ``n_scenes`` scenes."""
    return create_model(  # type: ignore[call-overload]
        "OutlineDraft", __base__=OutlineDraft,
        scenes=(list[SceneOutline], Field(min_length=n_scenes, max_length=n_scenes)),
    )


def scene_model(n_shots: int) -> type[SceneDraft]:
    """:class:`SceneDraft` with exactly ``n_shots`` shots."""
    return create_model(  # type: ignore[call-overload]
        "SceneDraft", __base__=SceneDraft,
        shots=(list[ShotDraft], Field(min_length=n_shots, max_length=n_shots)),
    )


def compact(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with the shorter limits of :data:`COMPACT_LIMITS` (and at most
    :data:`COMPACT_CHARACTERS` characters), for a small context window; validation keeps the full ones."""
    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, prop in (node.get("properties") or {}).items():
                if isinstance(prop, dict) and key in COMPACT_LIMITS and "maxLength" in prop:
                    prop["maxLength"] = min(prop["maxLength"], COMPACT_LIMITS[key])
                if key == "characters" and isinstance(prop, dict) and prop.get("type") == "array" \
                        and "$ref" in str(prop.get("items")):
                    prop["maxItems"] = min(prop.get("maxItems", COMPACT_CHARACTERS), COMPACT_CHARACTERS)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


def scene_schema(model: type[SceneDraft], names: list[str], *, small: bool = False) -> dict[str, Any]:
    """``model``'s JSON schema with the shot's character names limited to the bible's ``names``
    (and the compact limits when ``small``)."""
    schema = prompt_schema(model)
    if small:
        compact(schema)
    shot = schema["$defs"]["ShotDraft"]["properties"]["characters"]
    if names:
        shot["items"] = {"type": "string", "enum": list(names)}
        shot["maxItems"] = min(len(names), MAX_CHARACTERS)
    else:
        shot["maxItems"] = 0
    return schema


def quote_logline(logline: str) -> str:
    """The logline as a JSON string with ``<``/``>`` escaped, so it can't close its tag."""
    return json.dumps(logline, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")


def draft_to_bible(draft: OutlineDraft, style: str, notes: list[str] | None = None) -> Bible:
    """The bible from the outline's characters, with the film's style as each one's style; a
    repeated name is dropped (noted in ``notes``)."""
    characters: list[Character] = []
    seen: set[str] = set()
    for c in draft.characters:
        key = c.name.strip().casefold()
        if key in seen:
            if notes is not None:
                notes.append(f"the outline named {c.name!r} twice; kept the first")
            continue
        seen.add(key)
        name = c.name.strip()
        bare = name.split(" ", 1)[1] if name.lower().startswith(("the ", "a ", "an ")) and " " in name else ""
        appearance, attire, age = c.appearance.strip(), c.attire.strip(), c.age.strip()
        if attire.casefold() in (name.casefold(), bare.casefold(), appearance.casefold()):
            attire = ""  # a small model's echo of the name is no clothing
        if age.isdigit():
            age = f"{age} years old"
        characters.append(Character(name=name, appearance=appearance, attire=attire, age=age, style=style[:300],
                                    aliases=[bare] if bare else []))
    return Bible(characters=characters)


def _where(scene: SceneOutline) -> str:
    return f"{scene.place.strip().rstrip('.')}, {scene.time_of_day}"


def assemble(outline: OutlineDraft, scenes: list[SceneDraft], bible: Bible,
             notes: list[str] | None = None) -> Plan:
    """The plan from the outline and the scene answers, with the deterministic rules of the module
    docstring. Raises ``ValueError`` only for what no rule can fix."""
    by_name: dict[str, Character] = {}
    for c in bible.characters:
        for word in c.mentions():
            by_name.setdefault(word.casefold(), c)
    out: list[Scene] = []
    cast: dict[str, list[str]] = {}
    for s_idx, (scene, plan_scene) in enumerate(zip(scenes, outline.scenes), start=1):
        texts: list[str] = []
        cuts: list[bool] = []
        for k, shot in enumerate(scene.shots, start=1):
            names: list[Character] = []
            for name in shot.characters:
                c = by_name.get(name.strip().casefold())
                if c is None:
                    if notes is not None:
                        notes.append(f"shot {make_shot_id(s_idx, k)}: dropped {name!r}, who is not in the bible")
                elif c not in names:
                    names.append(c)
            for c in bible.characters:  # named in the prompt but left out of the cast
                if c not in names and is_mentioned(shot.prompt, c):
                    names.append(c)
            text = shot.prompt.strip()
            if plan_scene.time_of_day not in text.casefold() or plan_scene.place.strip().casefold() not in text.casefold():
                text = f"{text.rstrip('.')}. {_where(plan_scene)[:1].upper()}{_where(plan_scene)[1:]}."
            text = inject_details(text, names, cast=names)
            if len(text) > MAX_PROMPT_CHARS:
                raise ValueError(f"shot {make_shot_id(s_idx, k)}: with the character details the prompt has "
                                 f"{len(text)} characters, more than {MAX_PROMPT_CHARS}; shorten the appearances")
            texts.append(text)
            cuts.append(True if k == 1 else shot.cut)  # every scene opens with a cut
            cast[make_shot_id(s_idx, k)] = [c.name for c in names]
        out.append(Scene(scene_num=s_idx, video_prompts=texts, cut=cuts))
    script = StoryScript(story_name=outline.story_name.strip(), story_overview=outline.story_overview.strip(),
                         scenes=out)
    return Plan(script=script, bible=Bible(characters=bible.characters, cast=cast))


class LLMPlanner:
    """Plans with a chat model on an OpenAI-compatible endpoint. Name ``llm:<model>``."""

    def __init__(self, client: LLMClient, style: str | None = None) -> None:
        self.client = client
        self.style = clean_style(style)
        self.name = f"llm:{client.model}"
        self.notices: list[str] = []
        """What the user should know about the last plan (resumed, repaired, dropped names...)."""

    def describe(self) -> str:
        return f"{self.name} via {self.client.describe()}"

    def _notice(self, message: str, events: Any) -> None:
        if message not in self.notices:
            self.notices.append(message)
            if events is not None:
                events.notice(message)

    def plan(self, logline: str, *, shots: int | None = None, style: str | None = None,
             draft: str | Path | None = None, events: Any = None) -> Plan:
        """The outline and bible, then one scene at a time (see the module docstring).

        ``draft``: where the steps written so far are kept (and resumed from); ``events``: an
        :class:`~agents.director.runtime.Events` that hears notices and, while an answer streams
        in, ``llm_progress``. Raises :class:`PlannerError` (one line) when the model fails."""
        logline = clean_logline(logline)
        total = check_shots(shots) or DEFAULT_SHOTS
        style = clean_style(style) or self.style or DEFAULT_STYLE
        layout = scene_layout(total)
        store = DraftStore(draft)
        key = {"logline": logline, "shots": total, "style": style}
        state = store.load(key)
        if state is not None:
            self._notice(f"planner: resuming the plan kept in {store.path}: the outline and {len(state.scenes)} of "
                         f"{len(layout)} scenes were already written", events)
        else:
            state = PlanDraft(key=key)
        progress = getattr(events, "llm_progress", None)
        previous_hook = self.client.on_progress
        if progress is not None:
            self.client.on_progress = progress
        seen = len(self.client.notices)
        notes: list[str] = []
        step = "the outline"
        try:
            n_ctx = self.client.context_window()
            small = n_ctx is not None and n_ctx <= COMPACT_CONTEXT
            Outline = outline_model(len(layout))
            system = {"role": "system", "content": prompts.render("planner_system")}
            quoted = quote_logline(logline)
            if state.outline is None:
                outline = self.client.complete_structured(
                    [system, {"role": "user", "content": prompts.render(
                        "planner_outline", logline=quoted, style=style, n_scenes=len(layout),
                        max_characters=COMPACT_CHARACTERS if small else MAX_CHARACTERS)}],
                    Outline, role="planner", label="planner: outline and characters",
                    max_tokens=160 + 90 * MAX_CHARACTERS + 90 * len(layout),
                    json_schema=compact(prompt_schema(Outline)) if small else None,
                    postprocess=lambda d: (draft_to_bible(d, style), d)[1],
                )
                state.outline = outline.model_dump(mode="json")
                store.save(state)
            outline = Outline.model_validate(state.outline)
            bible = draft_to_bible(outline, style, notes)
            names = [c.name for c in bible.characters]
            scenes = [scene_model(layout[i]).model_validate(s) for i, s in enumerate(state.scenes)]
            for i in range(len(scenes), len(layout)):
                step = f"scene {i + 1} of {len(layout)}"
                Model = scene_model(layout[i])
                messages = [system, {"role": "user", "content": self._scene_prompt(
                    quoted, outline, bible, i, layout[i], scenes)}]
                scene = self.client.complete_structured(
                    messages, Model, role="planner", label=f"planner: {step}",
                    max_tokens=80 + 150 * layout[i], json_schema=scene_schema(Model, names, small=small),
                )
                scenes.append(scene)
                state.scenes.append(scene.model_dump(mode="json"))
                store.save(state)
            plan = assemble(outline, scenes, bible, notes)
        except LLMError as err:
            kept = (f"; the steps written so far are kept in {store.path}: the same command resumes from them"
                    if store.path is not None and state.outline is not None else "")
            raise PlannerError(f"LLM planner failed at {step}: {err}{kept}") from err
        except ValueError as err:  # a rule no repair could meet
            raise PlannerError(f"LLM planner failed: {' '.join(str(err).split())[:300]}") from err
        finally:
            self.client.on_progress = previous_hook
            for n in self.client.notices[seen:] + notes:
                self._notice(n, events)
        store.clear()
        return plan

    def _scene_prompt(self, quoted: str, outline: OutlineDraft, bible: Bible, i: int, n_shots: int,
                      written: list[SceneDraft]) -> str:
        scene_list = "\n".join(f"{k + 1}. {_where(s)}: {s.summary.strip()}" for k, s in enumerate(outline.scenes))
        characters = "\n".join(f"- {c.name}: {c.appearance}" + (f", wearing {c.attire}" if c.attire else "")
                               for c in bible.characters) or "(none: the story is told through places and events)"
        previous = ""
        if written and written[-1].shots:
            previous = f"The previous shot: {written[-1].shots[-1].prompt.strip()}\n"
        here = outline.scenes[i]
        return prompts.render(
            "planner_scene", logline=quoted, story_name=outline.story_name.strip(),
            overview=outline.story_overview.strip(), scene_list=scene_list, characters=characters,
            scene_num=i + 1, place=here.place.strip(), time_of_day=here.time_of_day,
            summary=here.summary.strip(), previous=previous, n_shots=n_shots,
        )
