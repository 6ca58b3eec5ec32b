"""The LLM reviser: a chat model turns a request in plain words into typed edits.

The request goes to the model with the film in a compact form that fits the model's context
window: one line per shot (id, scene, cut, prompt with the characters' injected details folded
back to their names, shortened to the room left), the characters' names and looks, the keyframe
ids. The JSON schema sent for schema-constrained decoding is :class:`~schemas.edit.EditList`'s,
narrowed to this film: shot references are an enum of its shot ids, character names an enum of its
bible names, keyframe ids an enum of its keyframes (the keyframe operations are left out when there
are none, and ``add_reference`` unless the request names an image file), so a small model cannot
name a shot that does not exist.

The answer is validated by :class:`~schemas.edit.EditList`, then against the film (shots,
keyframes and characters it names must exist); what cannot be repaired is retried with the error
fed back by the structured client. A reviser that still fails raises :class:`ReviseError`, which
explains and changes nothing. The request reaches the model as quoted data inside ``<request>``
tags.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import prompts
from agents.llm import LLMClient, LLMConfig, LLMError
from agents.llm.budget import CHARS_PER_TOKEN, estimate_text_tokens
from agents.llm.structured import prompt_schema
from agents.reviser.base import FilmContext, ReviseError
from schemas.edit import EditList

ANSWER_TOKENS = 700
"""Room kept for the answer (a few edits, each at most one rewritten prompt)."""
MIN_PROMPT_CHARS = 60
"""A shot's prompt is never shortened below this in the film summary."""
_IMAGE = re.compile(r"\S+\.(?:png|jpe?g|webp|bmp)\b", re.IGNORECASE)


def _shot_refs(context: FilmContext) -> tuple[set[str], int]:
    shots = context.script.shots()
    return {s.id for s in shots}, len(shots)


def _film_text(context: FilmContext, refs: list[str] | None) -> str:
    """The prompts (and first-frame prompts) of shots ``refs`` (ids or 1-based numbers; None: every shot and the
    bible's descriptions), case-folded, for checking that a replacement's phrase is there."""
    shots = context.script.shots()
    chosen = shots if refs is None else [s for i, s in enumerate(shots, 1) if s.id in refs or str(i) in refs]
    parts = [s.prompt for s in chosen] + [s.first_frame_prompt or "" for s in chosen]
    if refs is None:
        parts += [getattr(c, f) or "" for c in context.bible.characters for f in ("appearance", "attire", "age", "style")]
    return "\n".join(parts).casefold()


def check_edits(edits: EditList, context: FilmContext) -> EditList:
    """Every shot, keyframe and character an edit names exists, and every phrase a ``replace_text`` edit replaces is
    in the text it targets (or in what an earlier edit of the list writes) -- ``ValueError`` naming the first that
    doesn't, which the structured client feeds back to the model for another answer."""
    ids, n = _shot_refs(context)
    names = {c.name.casefold() for c in context.bible.characters}
    keyframes = set(context.keyframes)
    written: list[str] = []  # text earlier edits of this list add, which a later replacement may target

    def shot_ok(ref: str) -> None:
        if ref not in ids and not (ref.isdigit() and 1 <= int(ref) <= n):
            raise ValueError(f"shot {ref!r} does not exist; shots are {', '.join(sorted(ids))}")

    for e in edits.edits:
        for attr in ("shot", "anchor"):
            if hasattr(e, attr):
                shot_ok(getattr(e, attr))
        for ref in getattr(e, "shots", None) or []:
            shot_ok(ref)
        if hasattr(e, "keyframe") and e.keyframe not in keyframes:
            raise ValueError(f"keyframe {e.keyframe!r} does not exist; keyframes are {', '.join(sorted(keyframes)) or 'none'}")
        for attr in ("name", "character"):
            value = getattr(e, attr, None)
            if value is not None and e.op in ("edit_character", "add_reference") and value.casefold() not in names:
                raise ValueError(f"character {value!r} is not in the bible")
        if e.op == "replace_text":
            phrase = e.old.casefold()
            if phrase not in _film_text(context, e.shots) and not any(phrase in w for w in written):
                where = f"shots {', '.join(e.shots)}" if e.shots else "any prompt or the bible"
                raise ValueError(f'replace_text: "{e.old}" is not in {where}; quote a phrase the script contains')
        written += [str(v).casefold() for k, v in e.model_dump().items() if isinstance(v, str) and k != "op"]
    return edits


def edit_schema(context: FilmContext, request: str) -> dict[str, Any]:
    """:class:`EditList`'s JSON schema narrowed to this film (see the module docstring)."""
    schema = copy.deepcopy(prompt_schema(EditList))
    defs = schema["$defs"]
    ids = [s.id for s in context.script.shots()]
    names = [c.name for c in context.bible.characters]
    shot_enum = {"type": "string", "enum": ids}
    dropped: set[str] = set()
    for name, node in defs.items():
        props = node.get("properties", {})
        for key in ("shot", "anchor"):
            if key in props:
                props[key] = dict(shot_enum)
        if "shots" in props:
            props["shots"] = {"anyOf": [{"type": "array", "items": dict(shot_enum), "maxItems": len(ids)},
                                        {"type": "null"}], "default": None}
        if "keyframe" in props:
            if context.keyframes:
                props["keyframe"] = {"type": "string", "enum": list(context.keyframes)}
            else:
                dropped.add(name)
        for key in ("character",) + (("name",) if name == "EditCharacter" else ()):
            if key in props:
                if names:
                    props[key] = {"type": "string", "enum": names}
                else:
                    dropped.add(name)
        if name == "AddReference" and not _IMAGE.search(request):
            dropped.add(name)
    items = schema["properties"]["edits"]["items"]
    branches = items.get("oneOf") or items.get("anyOf") or []
    keep = [b for b in branches if b.get("$ref", "").rsplit("/", 1)[-1] not in dropped]
    items.pop("discriminator", None)
    items.pop("oneOf", None)
    items["anyOf"] = keep
    schema["properties"]["edits"]["maxItems"] = min(16, max(4, len(ids)))
    return schema


def _fold_details(prompt: str, context: FilmContext) -> str:
    """The prompt with each character's injected ``Name (details)`` folded back to ``Name``."""
    for c in context.bible.characters:
        prompt = prompt.replace(c.details(), c.name)
    return prompt


def film_summary(context: FilmContext, max_chars: int | None) -> str:
    """One line per shot (``02-01 scene 2, cut: PROMPT``), every prompt shortened evenly so the whole
    summary stays within ``max_chars`` (None: no limit)."""
    shots = context.script.shots()
    heads = [f"{s.id} scene {s.scene_num}, {'cut' if s.cut else 'continues'}: " for s in shots]
    bodies = [" ".join(_fold_details(s.prompt, context).split()) for s in shots]
    if max_chars is not None and shots:
        room = max(MIN_PROMPT_CHARS, (max_chars - sum(len(h) + 1 for h in heads)) // len(shots))
        bodies = [b if len(b) <= room else b[: room - 3].rsplit(" ", 1)[0] + "..." for b in bodies]
    return "\n".join(h + b for h, b in zip(heads, bodies))


class LLMReviser:
    """``llm:<model>``: requests in plain words, through an OpenAI-compatible endpoint."""

    def __init__(self, client: LLMClient, *, events: Any = None, notices: list[str] | None = None):
        self.client = client
        self.name = f"llm:{client.model}"
        self.events = events
        self.notices: list[str] = list(notices or [])
        """What the user should know (model found by discovery, answers repaired...), one line each."""

    @classmethod
    def connect(cls, config: LLMConfig, *, events: Any = None, notices: list[str] | None = None) -> "LLMReviser":
        """A reviser on a new client for ``config``; progress goes to ``events.llm_progress``."""
        client = LLMClient(config, on_progress=getattr(events, "llm_progress", None))
        for n in notices or []:
            if events is not None:
                events.notice(n)
        return cls(client, events=events, notices=notices)

    def messages(self, request: str, context: FilmContext) -> list[dict[str, str]]:
        """The chat messages for ``request``, fitted to the model's context window."""
        system = prompts.render("revise_system")
        bible = "\n".join(f"- {c.name}: {c.appearance}" + (f", wearing {c.attire}" if c.attire else "")
                          for c in context.bible.characters) or "(no characters)"
        keyframes = ", ".join(context.keyframes) or "none"
        quoted = json.dumps(request, ensure_ascii=False)
        budget = self.client.prompt_budget(ANSWER_TOKENS)
        max_chars = None
        if budget is not None:
            fixed = prompts.render("revise_user", script="", bible=bible, keyframes=keyframes, request=quoted)
            left = budget - estimate_text_tokens(system) - estimate_text_tokens(fixed) - 24
            max_chars = int(max(left, 0) * CHARS_PER_TOKEN)
        script = film_summary(context, max_chars)
        return [
            {"role": "system", "content": system},
            {"role": "user", "content": prompts.render("revise_user", script=script, bible=bible,
                                                       keyframes=keyframes, request=quoted)},
        ]

    def edits(self, request: str, context: FilmContext) -> EditList:
        seen = len(self.client.notices)
        try:
            return self.client.complete_structured(
                self.messages(request, context), EditList, role="reviser", label="reviser: edits",
                max_tokens=ANSWER_TOKENS, json_schema=edit_schema(context, request),
                postprocess=lambda e: check_edits(e, context),
            )
        except LLMError as e:
            raise ReviseError(
                f"the reviser model could not turn the request into edits ({e}); nothing was changed: rephrase "
                "the request, or use the command grammar (`help` in chat), e.g. "
                "`replace \"night\" with \"rainy night\"`"
            ) from None
        finally:
            for n in self.client.notices[seen:]:
                if n not in self.notices:
                    self.notices.append(n)
                    if self.events is not None:
                        self.events.notice(n)
