"""The LLM reviser: a chat model turns a request in plain words into typed edits.

The answer is validated by :class:`~schemas.edit.EditList`, then against the film (shots, keyframes
and characters it names must exist); an invalid answer is retried with the error fed back by the
structured client. The request reaches the model as quoted data inside ``<request>`` tags.
"""

from __future__ import annotations

import json

import prompts
from agents.llm import LLMClient, LLMError
from agents.reviser.base import FilmContext, ReviseError
from schemas.edit import EditList


def _shot_refs(context: FilmContext) -> tuple[set[str], int]:
    shots = context.script.shots()
    return {s.id for s in shots}, len(shots)


def check_edits(edits: EditList, context: FilmContext) -> EditList:
    """Every shot, keyframe and character an edit names exists (``ValueError`` naming the first that doesn't)."""
    ids, n = _shot_refs(context)
    names = {c.name.casefold() for c in context.bible.characters}
    keyframes = set(context.keyframes)

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
    return edits


class LLMReviser:
    """``llm:<model>``: requests in plain words, through an OpenAI-compatible endpoint."""

    def __init__(self, client: LLMClient):
        self.client = client
        self.name = f"llm:{client.model}"

    def edits(self, request: str, context: FilmContext) -> EditList:
        script = [
            {"id": s.id, "scene": s.scene_num, "cut": s.cut, "prompt": s.prompt}
            for s in context.script.shots()
        ]
        messages = [
            {"role": "system", "content": prompts.render("revise_system")},
            {"role": "user", "content": prompts.render(
                "revise_user",
                script=json.dumps(script, ensure_ascii=False, indent=1),
                bible=json.dumps(context.bible.model_dump(mode="json")["characters"], ensure_ascii=False, indent=1),
                keyframes=", ".join(context.keyframes) or "none",
                request=json.dumps(request, ensure_ascii=False),
            )},
        ]
        try:
            return self.client.complete_structured(
                messages, EditList, role="reviser", postprocess=lambda e: check_edits(e, context)
            )
        except LLMError as e:
            raise ReviseError(f"the reviser model could not turn the request into edits: {e}") from None
