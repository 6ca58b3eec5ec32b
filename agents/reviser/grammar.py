"""The offline reviser: a small command grammar, no model.

One command per line (or separated by ``;``). A shot is its id (``02-01``) or its position (``3``).

    shot 3: <new prompt>                       edit a shot's prompt
    replace "red coat" with "blue coat"        in every prompt and the bible
    replace "dusk" with "dawn" in 2, 02-03     only in those shots
    insert after 3: <prompt>                   new shot (``insert before 1: ...``; add
    insert after 3 continuing: <prompt>          ``continuing`` for cut=false)
    delete 4          move 5 after 2           move 5 before 1
    cut 4             continue 4               (set the cut flag true / false)
    character Mia: attire = a blue raincoat    (fields: name, appearance, attire, age, style)
    reroll 5          pin keyframe 02-01-k1    unpin keyframe 02-01-k1    drop keyframe 02-01-k1
    reference Mia: path/to/image.png           a reference image as memory
"""

from __future__ import annotations

import re

from pydantic import ValidationError

from agents.reviser.base import FilmContext, ReviseError
from schemas.edit import (
    AddReference,
    DeleteShot,
    DropKeyframe,
    EditCharacter,
    EditList,
    EditPrompt,
    InsertShot,
    MoveShot,
    PinKeyframe,
    ReplaceText,
    Reroll,
    SetCut,
    UnpinKeyframe,
)

SHOT = r"(?:shot\s+)?(\d{2,}-\d{2,}|\d{1,4})"
QUOTED = r"[\"“”'‘’]"

HELP = (
    'try e.g. `shot 3: <new prompt>`, `replace "red coat" with "blue coat"`, `reroll 5`, '
    '`insert after 3: <prompt>`, `delete 4`, `move 5 after 2`, `continue 4`, '
    '`character Mia: attire = a blue coat`, `drop keyframe 02-01-k1` (or configure --llm-model '
    "for requests in plain words)"
)

_RULES: list[tuple[re.Pattern[str], callable]] = []


def rule(pattern: str):
    def deco(fn):
        _RULES.append((re.compile(pattern, re.I | re.S), fn))
        return fn
    return deco


@rule(rf"^{SHOT}\s*:\s*(?P<text>.+)$")
def _prompt(m):
    return EditPrompt(shot=m.group(1), prompt=m.group("text").strip())


@rule(rf"^replace\s+{QUOTED}(?P<old>.+?){QUOTED}\s+(?:with|by)\s+{QUOTED}(?P<new>.*?){QUOTED}"
      rf"(?:\s+in\s+(?:shots?\s+)?(?P<shots>[\d\-,\s]+))?$")
def _replace(m):
    shots = re.findall(r"\d{2,}-\d{2,}|\d{1,4}", m.group("shots")) if m.group("shots") else None
    return ReplaceText(old=m.group("old"), new=m.group("new"), shots=shots)


@rule(rf"^insert\s+(?P<where>before|after)\s+{SHOT}(?P<cont>\s+continuing)?\s*:\s*(?P<text>.+)$")
def _insert(m):
    return InsertShot(anchor=m.group(2), where=m.group("where").lower(), prompt=m.group("text").strip(),
                      cut=not m.group("cont"))


@rule(rf"^(?:delete|remove)\s+{SHOT}$")
def _delete(m):
    return DeleteShot(shot=m.group(1))


@rule(rf"^move\s+{SHOT}\s+(?P<where>before|after)\s+{SHOT}$")
def _move(m):
    return MoveShot(shot=m.group(1), where=m.group("where").lower(), anchor=m.group(3))


@rule(rf"^(?P<verb>cut|continue)\s+{SHOT}$")
def _cut(m):
    return SetCut(shot=m.group(2), cut=m.group("verb").lower() == "cut")


@rule(r"^character\s+(?P<name>[^:]+?)\s*:\s*(?P<field>name|appearance|attire|age|style)\s*=\s*(?P<value>.+)$")
def _character(m):
    return EditCharacter(name=m.group("name").strip(), field=m.group("field").lower(), value=m.group("value").strip())


@rule(rf"^(?:reroll|re-roll|rerender|re-render)\s+{SHOT}$")
def _reroll(m):
    return Reroll(shot=m.group(1))


@rule(r"^(?P<verb>pin|unpin|drop)\s+keyframe\s+(?P<id>[A-Za-z0-9][A-Za-z0-9_.-]*)$")
def _keyframe(m):
    cls = {"pin": PinKeyframe, "unpin": UnpinKeyframe, "drop": DropKeyframe}[m.group("verb").lower()]
    return cls(keyframe=m.group("id"))


@rule(r"^reference\s+(?P<name>[^:]+?)\s*:\s*(?P<path>.+)$")
def _reference(m):
    return AddReference(character=m.group("name").strip(), image=m.group("path").strip())


class GrammarReviser:
    """Embedded default reviser (``grammar``): parses the documented commands, nothing else."""

    name = "grammar"

    def edits(self, request: str, context: FilmContext | None = None) -> EditList:
        commands = [c.strip() for c in re.split(r"[;\n]", request) if c.strip()]
        if not commands:
            raise ReviseError(f"the request is empty; {HELP}")
        edits = []
        for command in commands:
            for pattern, build in _RULES:
                m = pattern.match(command)
                if m:
                    try:
                        edits.append(build(m))
                    except ValidationError as e:
                        raise ReviseError(f"`{command}`: {e.errors()[0]['msg']}") from None
                    break
            else:
                raise ReviseError(f"cannot turn `{command[:80]}` into an edit; {HELP}")
        return EditList(edits=edits, summary=f"{len(edits)} edit(s) from the command grammar")
